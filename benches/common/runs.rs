//! One run of a channel bench: what it measured, the watchdog that guards
//! it, the two ends of a contender as threads drive them (with logring's
//! blocking channel ends among them), and the threaded throughput, wake-up
//! and sender-cost runs.

use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use logring::channel::{SendError, SpinPolicy, TryRecvError};

use super::clock::Clock;
use super::cost::{BURST, CostRun, HotSender, send_bursts};
use super::records::{LEN, MAX_PRODUCERS, Msg, RECORD_SPAN, Tally, message, share};
use super::{BaseConfig, CpuTimes, Placement, SPSC, current, env_or, voluntary_switches};

/// A run whose consumer receives nothing for this long is hung: the process
/// reports what it was running and aborts.
pub const STALL: Duration = Duration::from_secs(30);

/// Messages per throughput run in smoke mode (and the least per measured run).
pub const SMOKE_MSGS: u64 = 4000;

/// Messages at the start of each wake-up run that are not recorded.
pub const WAKE_WARMUP: u64 = 20;

/// The wake-up scenario's settings.
pub struct WakeConfig {
    /// Recorded messages per wake-up run (`LOGRING_BENCH_WAKE_SAMPLES`).
    pub samples: u64,
    /// Wake-up rounds (`LOGRING_BENCH_WAKE_ROUNDS`).
    pub rounds: usize,
    /// The producer's idle before each wake-up message
    /// (`LOGRING_BENCH_WAKE_GAP_US`).
    pub gap: Duration,
}

impl WakeConfig {
    /// From the environment (defaults 2000 samples, 5 rounds, 500 µs); fixed
    /// and tiny in smoke mode.
    pub fn from_env(smoke: bool) -> Self {
        let (samples, rounds, gap_us) = if smoke {
            (50, 1, 100)
        } else {
            (
                env_or::<u64>("LOGRING_BENCH_WAKE_SAMPLES", 2000).max(1),
                env_or::<usize>("LOGRING_BENCH_WAKE_ROUNDS", 5).max(1),
                env_or::<u64>("LOGRING_BENCH_WAKE_GAP_US", 500),
            )
        };
        Self {
            samples,
            rounds,
            gap: Duration::from_micros(gap_us),
        }
    }
}

// ---------------------------------------------------------------------------
// What a run measured
// ---------------------------------------------------------------------------

/// One run's figures. Counts a contender cannot give are `None` (`-` in the
/// tables).
pub struct Run {
    /// Messages the run delivered.
    pub msgs: u64,
    /// The run's timed length in seconds.
    pub secs: f64,
    /// Sends refused as full, if the contender can count them.
    pub retries: Option<u64>,
    /// Polls that found nothing, for polling receivers.
    pub polls: Option<u64>,
    /// The receiving thread's voluntary context switches, where `/proc`
    /// tells (threaded receivers).
    pub sleeps: Option<u64>,
    /// Polls of an async receiving end that returned `Pending`: its task
    /// parked (async receivers).
    pub rx_pending: Option<u64>,
    /// Polls of async sending ends that returned `Pending`: they waited for
    /// space (async senders).
    pub tx_pending: Option<u64>,
    /// Times the async runtime's worker threads parked: went idle, to sleep
    /// until woken (runs on an async runtime).
    pub worker_parks: Option<u64>,
    /// Wake-up latencies in ns (wake-up runs only).
    pub latency: Option<Histogram<u64>>,
    /// Share of the machine's CPU time used by other processes during the
    /// run; `None` where `/proc/stat` cannot tell (or in smoke mode).
    pub foreign_cpu: Option<f64>,
}

// `flagged` and `rate` come with `RunStats`.
super::impl_run_stats!(Run);

impl Run {
    /// A run of `msgs` messages in `secs`, with no counts.
    pub fn new(msgs: u64, secs: f64, foreign_cpu: Option<f64>) -> Self {
        Self {
            msgs,
            secs,
            retries: None,
            polls: None,
            sleeps: None,
            rx_pending: None,
            tx_pending: None,
            worker_parks: None,
            latency: None,
            foreign_cpu,
        }
    }
}

/// An empty histogram for wake-up latencies in ns (1 ns to 60 s, 3 digits).
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap()
}

/// Watches a run's progress (records received) until `done` disconnects;
/// reports and aborts the process if nothing arrives for [`STALL`].
pub fn watchdog(progress: &AtomicU64, n: u64, done: &std::sync::mpsc::Receiver<()>) {
    let (mut seen, mut since) = (0, Instant::now());
    loop {
        match done.recv_timeout(Duration::from_millis(250)) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let now = progress.load(Ordering::Relaxed);
        if now != seen {
            (seen, since) = (now, Instant::now());
        } else if since.elapsed() > STALL {
            eprintln!(
                "HANG: {}: no record received for {} s; {now} of {n} received",
                current(),
                STALL.as_secs()
            );
            std::process::abort();
        }
    }
}

/// Panics, naming the run in progress, unless `tally` holds exactly `n`
/// messages from `producers` producers (see [`Tally::verify`]).
pub fn check(tally: &Tally, n: u64, producers: usize, check_sum: bool) {
    if let Err(error) = tally.verify(n, producers, check_sum) {
        panic!("{}: {error}", current());
    }
}

// ---------------------------------------------------------------------------
// The two ends of each contender, as threads drive them
// ---------------------------------------------------------------------------

/// A sending end, driven by a thread.
pub trait Tx: Send {
    /// Whether `put` counts refusals (`false`: the send waits inside).
    const COUNTS_RETRIES: bool;

    /// Sends `msg`, waiting as the contender's API does; returns how many
    /// attempts were refused as full.
    fn put(&mut self, msg: &Msg, cfg: &BaseConfig) -> u64;
}

/// A sending end as a hot path drives it: one attempt, never waiting.
pub trait TryTx: Send {
    /// Claims room for `msg`, copies it in and commits it (and does what
    /// else the contender's send path asks for); `false`, having sent
    /// nothing, if the ring has no room now.
    fn try_put(&mut self, msg: &Msg) -> bool;
}

/// What a receiving end's `take` did.
pub enum Got {
    /// It handed one or more records over.
    Records,
    /// Nothing was ready (polling receivers only).
    Empty,
    /// Every sender is gone and everything was received.
    Closed,
}

/// A receiving end, driven by a thread.
pub trait Rx: Send {
    /// Whether `take` polls (`Empty` when nothing is ready) rather than waits.
    const POLLS: bool;

    /// Hands one or more records to `f`, in order.
    fn take(&mut self, f: impl FnMut(&[u8])) -> Got;
}

/// logring's channel senders: `claim` (which spins for its budget), copy,
/// commit; a `Full` is counted and the claim retried.
macro_rules! logring_channel_tx {
    ($($sender:ty),* $(,)?) => {$(
        impl Tx for $sender {
            const COUNTS_RETRIES: bool = true;

            #[inline]
            fn put(&mut self, msg: &Msg, _: &BaseConfig) -> u64 {
                let mut retries = 0;
                loop {
                    match self.claim(LEN) {
                        Ok(mut claim) => {
                            claim.copy_from_slice(msg);
                            claim.commit();
                            return retries;
                        }
                        Err(SendError::Full) => retries += 1,
                        Err(error) => panic!("logring channel send failed: {error}"),
                    }
                }
            }
        }
    )*};
}

logring_channel_tx!(
    logring::channel::spsc::Sender,
    logring::channel::mpsc::Sender
);

/// logring's channel senders on a hot path: `try_claim`, copy, commit.
macro_rules! logring_channel_try_tx {
    ($($sender:ty),* $(,)?) => {$(
        impl TryTx for $sender {
            #[inline]
            fn try_put(&mut self, msg: &Msg) -> bool {
                match self.try_claim(LEN) {
                    Ok(mut claim) => {
                        claim.copy_from_slice(msg);
                        claim.commit();
                        true
                    }
                    Err(SendError::Full) => false,
                    Err(error) => panic!("logring channel send failed: {error}"),
                }
            }
        }
    )*};
}

logring_channel_try_tx!(
    logring::channel::spsc::Sender,
    logring::channel::mpsc::Sender
);

/// logring's channel receiver, with `recv_batch` (`BATCH`) or one `recv` per
/// record.
pub struct ChannelRx<const BATCH: bool> {
    rx: logring::channel::Receiver,
    limit: usize,
}

impl<const BATCH: bool> ChannelRx<BATCH> {
    /// Wraps `rx`; batches are `cfg.batch` records at most.
    pub fn new(rx: logring::channel::Receiver, cfg: &BaseConfig) -> Self {
        Self {
            rx,
            limit: cfg.batch,
        }
    }

    /// The same receiver with spin policy `policy`.
    pub fn with_policy(mut self, policy: SpinPolicy) -> Self {
        self.rx.set_spin_policy(policy);
        self
    }

    /// The same receiver polling every `interval` once its spin budget is
    /// spent (`None`: sleeping until a sender wakes it).
    pub fn with_poll_interval(mut self, interval: Option<Duration>) -> Self {
        self.rx.set_poll_interval(interval);
        self
    }
}

impl<const BATCH: bool> Rx for ChannelRx<BATCH> {
    const POLLS: bool = false;

    #[inline]
    fn take(&mut self, mut f: impl FnMut(&[u8])) -> Got {
        if BATCH {
            match self.rx.recv_batch(self.limit, |record| f(&record)) {
                Ok(_) => Got::Records,
                Err(_) => Got::Closed,
            }
        } else {
            match self.rx.recv() {
                Ok(record) => {
                    f(&record);
                    Got::Records
                }
                Err(_) => Got::Closed,
            }
        }
    }
}

/// logring's channel receiver polling with `try_recv_batch`, never
/// sleeping: the thread that drives it spins on `spin_loop` after an empty
/// poll (a core given over to the receiver).
pub struct ChannelSpinRx {
    rx: logring::channel::Receiver,
    limit: usize,
}

impl ChannelSpinRx {
    /// Wraps `rx`; batches are `cfg.batch` records at most.
    pub fn new(rx: logring::channel::Receiver, cfg: &BaseConfig) -> Self {
        Self {
            rx,
            limit: cfg.batch,
        }
    }
}

impl Rx for ChannelSpinRx {
    const POLLS: bool = true;

    #[inline]
    fn take(&mut self, mut f: impl FnMut(&[u8])) -> Got {
        match self.rx.try_recv_batch(self.limit, |record| f(&record)) {
            Ok(_) => Got::Records,
            Err(TryRecvError::Empty) => Got::Empty,
            Err(TryRecvError::Disconnected) => Got::Closed,
            Err(error) => panic!("{error}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Threaded runs
// ---------------------------------------------------------------------------

/// What a receiving thread of [`receive`] got.
pub struct Received {
    /// The records, checked.
    pub tally: Tally,
    /// Seconds from the common start to the last record.
    pub secs: f64,
    /// Polls that found nothing (polling receivers).
    pub polls: u64,
    /// The thread's voluntary context switches from the start (or from
    /// record `count_from` on), where `/proc` tells.
    pub sleeps: Option<u64>,
}

/// A receiving thread: pins itself to placement slot `slot`, waits at
/// `start`, then takes records from `rx` until `n` have arrived (or every
/// sender is gone), storing the count in `progress` for the watchdog.
/// After an empty poll it idles ([`BaseConfig::idle`]). Its sleeps are
/// counted from the start if `count_from` is 0, else from the moment it has
/// received `count_from` records.
pub fn receive<R: Rx>(
    mut rx: R,
    cfg: &BaseConfig,
    slot: usize,
    start: &Barrier,
    progress: &AtomicU64,
    (n, count_from): (u64, u64),
) -> Received {
    cfg.pin(slot);
    let mut tally = Tally::new();
    start.wait();
    let mut switches = if count_from == 0 {
        voluntary_switches()
    } else {
        None
    };
    let began = Instant::now();
    let mut polls = 0u64;
    while tally.msgs < n {
        match rx.take(|record| {
            tally.add(record);
        }) {
            Got::Records => {
                progress.store(tally.msgs, Ordering::Relaxed);
                if switches.is_none() && count_from > 0 && tally.msgs >= count_from {
                    switches = voluntary_switches();
                }
            }
            Got::Empty => {
                polls += 1;
                cfg.idle();
            }
            Got::Closed => break,
        }
    }
    let secs = began.elapsed().as_secs_f64();
    let sleeps = voluntary_switches()
        .zip(switches)
        .map(|(after, before)| after - before);
    Received {
        tally,
        secs,
        polls,
        sleeps,
    }
}

/// Producers send `n` messages between them (producer `k` its own sequence
/// `0..share(n, P, k)`), then drop their senders; the consumer receives them
/// all. Timed on the consumer from the common start to the last record.
pub fn throughput<T: Tx, R: Rx>(
    senders: Vec<T>,
    rx: R,
    cfg: &BaseConfig,
    placement: &Placement,
    n: u64,
) -> Run {
    let producers = senders.len();
    assert!(producers <= MAX_PRODUCERS);
    let start = Barrier::new(producers + 1);
    let progress = AtomicU64::new(0);
    let cpu = CpuTimes::sample(cfg.smoke);
    let (tally, secs, polls, sleeps, retries) = thread::scope(|s| {
        let (start, progress) = (&start, &progress);
        let (done, watched) = std::sync::mpsc::channel::<()>();
        s.spawn(move || watchdog(progress, n, &watched));
        let handles: Vec<_> = senders
            .into_iter()
            .enumerate()
            .map(|(k, mut tx)| {
                let slot = placement.producers[k];
                s.spawn(move || {
                    cfg.pin(slot);
                    start.wait();
                    let mut retries = 0u64;
                    for seq in 0..share(n, producers, k) {
                        retries += tx.put(&message(k, seq, 0), cfg);
                    }
                    retries
                })
            })
            .collect();
        let receiver =
            s.spawn(move || receive(rx, cfg, placement.consumer, start, progress, (n, 0)));
        let retries: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        let got = receiver.join().unwrap();
        drop(done);
        (got.tally, got.secs, got.polls, got.sleeps, retries)
    });
    let foreign_cpu = cpu.and_then(CpuTimes::foreign_share);
    check(&tally, n, producers, true);
    Run {
        retries: T::COUNTS_RETRIES.then_some(retries),
        polls: R::POLLS.then_some(polls),
        sleeps,
        ..Run::new(n, secs, foreign_cpu)
    }
}

/// The producer idles `gap` before each of `samples` messages (plus a
/// warm-up), stamps it with the time since a base `Instant` and sends it;
/// the receiver, asleep by then, records the time from the stamp to the
/// moment `recv` hands it the record.
pub fn wakeup<T: Tx, R: Rx>(tx: T, rx: R, cfg: &BaseConfig, gap: Duration, samples: u64) -> Run {
    let n = WAKE_WARMUP + samples;
    let start = Barrier::new(2);
    let progress = AtomicU64::new(0);
    let base = Instant::now();
    let cpu = CpuTimes::sample(cfg.smoke);
    let (tally, hist, secs, sleeps) = thread::scope(|s| {
        let (start, progress) = (&start, &progress);
        let (done, watched) = std::sync::mpsc::channel::<()>();
        s.spawn(move || watchdog(progress, n, &watched));
        let producer = s.spawn(move || {
            let mut tx = tx;
            cfg.pin(SPSC.producers[0]);
            start.wait();
            for seq in 0..n {
                thread::sleep(gap);
                let stamp = base.elapsed().as_nanos() as u64;
                tx.put(&message(0, seq, stamp), cfg);
            }
        });
        let receiver = s.spawn(move || {
            let mut rx = rx;
            cfg.pin(SPSC.consumer);
            let mut tally = Tally::new();
            let mut hist = latency_histogram();
            start.wait();
            let began = Instant::now();
            let switches = voluntary_switches();
            while tally.msgs < n {
                let got = rx.take(|record| {
                    let now = base.elapsed().as_nanos() as u64;
                    let stamp = tally.add(record);
                    if tally.msgs > WAKE_WARMUP {
                        hist.saturating_record(now.saturating_sub(stamp));
                    }
                });
                match got {
                    Got::Records => progress.store(tally.msgs, Ordering::Relaxed),
                    Got::Empty => cfg.idle(),
                    Got::Closed => break,
                }
            }
            let sleeps = voluntary_switches()
                .zip(switches)
                .map(|(after, before)| after - before);
            (tally, hist, began.elapsed().as_secs_f64(), sleeps)
        });
        producer.join().unwrap();
        let result = receiver.join().unwrap();
        drop(done);
        result
    });
    let foreign_cpu = cpu.and_then(CpuTimes::foreign_share);
    check(&tally, n, 1, false);
    Run {
        sleeps,
        latency: Some(hist),
        ..Run::new(n, secs, foreign_cpu)
    }
}

/// The sending side of a sender-cost run: `tx` sends record `i` as
/// `message(0, i, 0)`, and leaves the ring to the receiving thread.
struct Hot<'a, T> {
    tx: T,
    cfg: &'a BaseConfig,
}

impl<T: TryTx> HotSender for Hot<'_, T> {
    type Record = Msg;

    #[inline]
    fn record(&mut self, i: u64) -> Msg {
        message(0, i, 0)
    }

    #[inline]
    fn try_send(&mut self, msg: &Msg) -> bool {
        self.tx.try_put(msg)
    }

    #[inline]
    fn make_room(&mut self) {
        self.cfg.idle();
    }
}

/// One sender-cost run (the method of [`super::cost`]): the sender sends a
/// lap of the ring untimed, then `bursts` bursts of [`BURST`] records, each
/// record's `try_put` timed alone, while a receiving thread drains the
/// channel; every record is checked. The receiver's sleeps are counted from
/// the end of the lap (the pause after it included).
pub fn sender_cost<T: TryTx, R: Rx>(
    tx: T,
    rx: R,
    cfg: &BaseConfig,
    clock: &Clock,
    bursts: u64,
) -> CostRun {
    let lap = (cfg.ring / RECORD_SPAN) as u64;
    let n = lap + bursts * BURST as u64;
    let start = Barrier::new(2);
    let progress = AtomicU64::new(0);
    let cpu = CpuTimes::sample(cfg.smoke);
    let began = Instant::now();
    let (got, timings) = thread::scope(|s| {
        let (start, progress) = (&start, &progress);
        let (done, watched) = std::sync::mpsc::channel::<()>();
        s.spawn(move || watchdog(progress, n, &watched));
        let receiver = s.spawn(move || receive(rx, cfg, SPSC.consumer, start, progress, (n, lap)));
        let sender = s.spawn(move || {
            cfg.pin(SPSC.producers[0]);
            start.wait();
            send_bursts(&mut Hot { tx, cfg }, clock, cfg, lap, bursts)
        });
        let timings = sender.join().unwrap();
        let got = receiver.join().unwrap();
        drop(done);
        (got, timings)
    });
    let secs = began.elapsed().as_secs_f64();
    let foreign_cpu = cpu.and_then(CpuTimes::foreign_share);
    check(&got.tally, n, 1, true);
    CostRun {
        rx_sleeps: got.sleeps,
        ..CostRun::new(timings, secs, foreign_cpu)
    }
}
