//! What a hot path pays per record at a sending end: the method the queue
//! bench's `producer-cost` and the channel bench's `sender-cost` share.
//!
//! A run first sends one ring's worth of records untimed (every line of the
//! ring touched, both ends warm) and pauses [`SETTLE`]; then it sends bursts
//! of [`BURST`] records, each record's send (claim, copy, commit, and what
//! else the contender's send path does) timed alone with a [`Clock`], each
//! burst followed by as many empty timed regions (the timer pair alone) and
//! a busy pause of [`PAUSE`] from the burst's end, so the core stays awake.
//! Stamps are kept during a burst and recorded after it, so nothing but the
//! timer runs between two records.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::clock::Clock;
use super::{BaseConfig, Spread};

/// Records per burst.
pub const BURST: usize = 20;
/// The sender's busy pause after each burst.
pub const PAUSE: Duration = Duration::from_millis(2);
/// The sender's busy pause after its untimed lap, for a reader to drain the
/// ring before the first burst.
pub const SETTLE: Duration = Duration::from_millis(10);
/// Bursts per run in smoke mode, and per warm-up run when measuring.
pub const SMOKE_BURSTS: u64 = 5;
/// How long the clock is counted against `Instant` at start (a tenth of it
/// in smoke mode).
pub const CALIBRATION: Duration = Duration::from_millis(100);

/// The clock, counted against `Instant` for [`CALIBRATION`] (a tenth of it
/// in smoke mode). Once per process, before any run.
pub fn calibrate(cfg: &BaseConfig) -> Clock {
    Clock::calibrate(if cfg.smoke {
        CALIBRATION / 10
    } else {
        CALIBRATION
    })
}

/// Bursts per run: about `LOGRING_BENCH_RUN_MS` of pauses; [`SMOKE_BURSTS`]
/// in smoke mode.
pub fn bursts(cfg: &BaseConfig) -> u64 {
    if cfg.smoke {
        SMOKE_BURSTS
    } else {
        ((cfg.run_secs / PAUSE.as_secs_f64()).round() as u64).max(1)
    }
}

/// An empty histogram of clock ticks.
pub fn tick_histogram() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 1 << 40, 3).unwrap()
}

/// A sending end as [`send_bursts`] drives it.
pub trait HotSender {
    /// What one send takes, made before its timed region opens.
    type Record;

    /// Record `i` of the run (untimed).
    fn record(&mut self, i: u64) -> Self::Record;

    /// Sends `record` with one attempt; `false` if the ring had no room.
    /// This is what is timed.
    fn try_send(&mut self, record: &Self::Record) -> bool;

    /// Called after a refused attempt (in the timed region when it happens
    /// there) and in every pause: drains the ring if the sender is its own
    /// reader, else waits a moment without touching the ring.
    fn make_room(&mut self);
}

/// A run's timings.
pub struct Timings {
    /// Each timed record's send, in clock ticks.
    pub cost: Histogram<u64>,
    /// As many empty timed regions, in clock ticks.
    pub timer: Histogram<u64>,
    /// Timed sends refused as full (each retried, its time counted).
    pub full_retries: u64,
}

/// The sending side of a run (see the module's doc): records `0..lap`
/// untimed, then `bursts` bursts of [`BURST`] timed ones.
pub fn send_bursts<S: HotSender>(
    tx: &mut S,
    clock: &Clock,
    cfg: &BaseConfig,
    lap: u64,
    bursts: u64,
) -> Timings {
    for i in 0..lap {
        let record = tx.record(i);
        while !tx.try_send(&record) {
            tx.make_room();
        }
    }
    tx.make_room();
    clock.wait_until(clock.now() + clock.ticks(SETTLE), cfg);
    let pause = clock.ticks(PAUSE);
    let (mut cost, mut timer) = (tick_histogram(), tick_histogram());
    let mut full_retries = 0u64;
    let mut spans = [0u64; BURST];
    let mut i = lap;
    for _ in 0..bursts {
        for span in &mut spans {
            let record = tx.record(i);
            let opened = clock.open();
            while !tx.try_send(&record) {
                full_retries += 1;
                tx.make_room();
            }
            *span = clock.close().saturating_sub(opened);
            i += 1;
        }
        let until = clock.now() + pause;
        for &span in &spans {
            cost.saturating_record(span);
        }
        for span in &mut spans {
            let opened = clock.open();
            *span = clock.close().saturating_sub(opened);
        }
        for &span in &spans {
            timer.saturating_record(span);
        }
        tx.make_room();
        clock.wait_until(until, cfg);
    }
    tx.make_room();
    Timings {
        cost,
        timer,
        full_retries,
    }
}

/// One run's figures.
pub struct CostRun {
    /// Timed records.
    pub msgs: u64,
    /// The whole run's length, untimed lap included.
    pub secs: f64,
    /// Each timed record's send, in clock ticks.
    pub cost: Histogram<u64>,
    /// As many empty timed regions, in clock ticks.
    pub timer: Histogram<u64>,
    /// Timed sends refused as full (each retried, its time counted).
    pub full_retries: u64,
    /// The reading thread's voluntary context switches (it went to sleep),
    /// where the bench counts them.
    pub rx_sleeps: Option<u64>,
    /// Share of the machine's CPU time used by other processes during the
    /// run; `None` where `/proc/stat` cannot tell (or in smoke mode).
    pub foreign_cpu: Option<f64>,
}

super::impl_run_stats!(CostRun);

impl CostRun {
    /// A run of `timings.cost.len()` timed records that took `secs`.
    pub fn new(timings: Timings, secs: f64, foreign_cpu: Option<f64>) -> Self {
        Self {
            msgs: timings.cost.len(),
            secs,
            cost: timings.cost,
            timer: timings.timer,
            full_retries: timings.full_retries,
            rx_sleeps: None,
            foreign_cpu,
        }
    }
}

/// Quantile `q` of one run's `pick` histogram, in ns.
pub fn quantile_ns(
    clock: &Clock,
    run: &CostRun,
    pick: fn(&CostRun) -> &Histogram<u64>,
    q: f64,
) -> f64 {
    clock.ns(pick(run).value_at_quantile(q))
}

/// Median over `runs` of each run's quantile `q` of `pick`, in ns.
pub fn median_ns(
    clock: &Clock,
    runs: &[&CostRun],
    pick: fn(&CostRun) -> &Histogram<u64>,
    q: f64,
) -> f64 {
    Spread::of(runs.iter().map(|run| quantile_ns(clock, run, pick, q))).median
}

/// A cell per quantile of `quantiles` (the median over `runs` of each run's
/// quantile, in ns), then one cell with the pooled samples' quantiles
/// joined with `/`.
pub fn quantile_cells(
    clock: &Clock,
    runs: &[&CostRun],
    pick: fn(&CostRun) -> &Histogram<u64>,
    quantiles: &[f64],
) -> Vec<String> {
    let mut cells: Vec<String> = quantiles
        .iter()
        .map(|&q| format!("{:.0}", median_ns(clock, runs, pick, q)))
        .collect();
    let mut pooled = tick_histogram();
    for run in runs {
        pooled
            .add(pick(run))
            .expect("histograms of the same bounds");
    }
    cells.push(
        quantiles
            .iter()
            .map(|&q| format!("{:.0}", clock.ns(pooled.value_at_quantile(q))))
            .collect::<Vec<_>>()
            .join("/"),
    );
    cells
}

/// `run`'s quantile `q` per record over the mean of the runs `before` and
/// `after` it, and whether none of the three was flagged.
pub fn ratio_around(
    clock: &Clock,
    run: &CostRun,
    (before, after): (&CostRun, &CostRun),
    q: f64,
) -> (f64, bool) {
    super::ratio_to(run, (before, after), |run| {
        quantile_ns(clock, run, |r| &r.cost, q)
    })
}
