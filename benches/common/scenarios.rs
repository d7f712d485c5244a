//! The channel benches' scenarios: throughput, with every contender run
//! alternated with a reference and reported as ratios to it; wake-up
//! latency, with contenders alternated in rounds and reported as quantiles;
//! and sender cost, per record quantiles with every contender run alternated
//! with a reference's.

use hdrhistogram::Histogram;

use super::clock::Clock;
use super::cost::{self, BURST, CostRun, PAUSE, SETTLE, SMOKE_BURSTS};
use super::records::RECORD_SPAN;
use super::runs::{Run, SMOKE_MSGS, WAKE_WARMUP, WakeConfig, latency_histogram};
use super::{
    BaseConfig, Placement, RunStats, SPSC, Spread, alternate, around, flagged, per_msg,
    print_table, ratio_to, set_current,
};

/// One channel (or queue) under test in a scenario.
pub type Contender<'a> = super::Contender<'a, Run>;

/// The contenders' names, for the smoke test's line.
fn names<R>(contenders: &[super::Contender<'_, R>]) -> String {
    contenders
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A column of counts per message in a report table.
pub struct Column {
    /// Its heading.
    pub heading: &'static str,
    /// What it counts in a run, if the run counted it.
    pub count: fn(&Run) -> Option<u64>,
}

/// Sends refused as full (after the sender's own spin budget, for logring's
/// channel).
pub const RETRIES: Column = Column {
    heading: "retries/msg",
    count: |r| r.retries,
};
/// A polling consumer's polls that found nothing.
pub const POLLS: Column = Column {
    heading: "polls/msg",
    count: |r| r.polls,
};
/// The receiving thread's voluntary context switches.
pub const RX_SLEEPS: Column = Column {
    heading: "rx sleeps/msg",
    count: |r| r.sleeps,
};
/// An async receiver's polls that returned `Pending`.
pub const RX_PENDING: Column = Column {
    heading: "rx pending/msg",
    count: |r| r.rx_pending,
};
/// Async senders' polls that returned `Pending`.
pub const TX_PENDING: Column = Column {
    heading: "tx pending/msg",
    count: |r| r.tx_pending,
};
/// The async runtime's worker threads' parks.
pub const WORKER_PARKS: Column = Column {
    heading: "worker parks/msg",
    count: |r| r.worker_parks,
};

/// Where a scenario's threads run, for the report.
pub fn describe_placement(cfg: &BaseConfig, placement: &Placement) -> String {
    if cfg.core_of(0).is_none() {
        return "threads not pinned (fewer than 2 usable cores)".into();
    }
    let core = |slot| cfg.core_of(slot).map_or(0, |c| c.id);
    let several = placement.producers.len() > 1;
    let mut parts: Vec<String> = placement
        .producers
        .iter()
        .enumerate()
        .map(|(k, &slot)| {
            let name = if several {
                format!("producer {}", (b'A' + k as u8) as char)
            } else {
                "producer".into()
            };
            format!("{name} on core {}", core(slot))
        })
        .collect();
    parts.push(format!("consumer on core {}", core(placement.consumer)));
    let threads = placement.producers.len() + 1;
    let mut text = format!("pinned: {}", parts.join(", "));
    if threads > cfg.cores.len() {
        text = format!(
            "{threads} busy threads on {} cores (producers share a core); {text}",
            cfg.cores.len()
        );
    }
    text
}

// ---------------------------------------------------------------------------
// Throughput
// ---------------------------------------------------------------------------

/// A throughput scenario: a reference and the contenders alternated with it.
pub struct Throughput<'a> {
    /// The scenario's name, which filters match.
    pub key: &'static str,
    /// The report's heading after the key.
    pub title: String,
    /// Where the threaded runs' threads are pinned.
    pub placement: &'static Placement,
    /// More lines for the report, after the placement.
    pub notes: Vec<String>,
    /// Short name of the reference in ratio headings.
    pub versus: &'static str,
    /// Headline target for the headliners: ratio at least this.
    pub target: Option<f64>,
    /// Contenders whose name starts with this get a headline.
    pub headliners: &'static str,
    /// Counts per message shown besides the rates.
    pub columns: &'static [Column],
    /// The contender every other is divided by.
    pub reference: Contender<'a>,
    /// The contenders.
    pub contenders: Vec<Contender<'a>>,
}

/// A contender's ratio to the reference in each pair, and whether none of
/// the pair's three runs was flagged.
pub type Ratios = Vec<(f64, bool)>;

impl Throughput<'_> {
    /// One run of `contender` with `n` messages, named for the watchdog.
    fn go(&self, contender: &Contender, n: u64) -> Run {
        set_current(format!("{} / {} ({n} messages)", self.key, contender.name));
        (contender.run)(n)
    }

    /// Messages for a run of `contender` that takes about `cfg.run_secs`.
    fn size(&self, contender: &Contender, cfg: &BaseConfig) -> u64 {
        let floor = (cfg.run_secs / 5.0).max(0.02);
        let mut n = 1u64 << 14;
        let mut run = self.go(contender, n);
        while run.secs < floor && n < 1 << 34 {
            let scale = (floor * 1.5 / run.secs.max(1e-6)).clamp(2.0, 16.0);
            n = (n as f64 * scale) as u64;
            run = self.go(contender, n);
        }
        let rate = Spread::of(
            [
                run.rate(),
                self.go(contender, n).rate(),
                self.go(contender, n).rate(),
            ]
            .into_iter(),
        )
        .median;
        ((rate * cfg.run_secs) as u64).max(SMOKE_MSGS)
    }

    /// `(reference runs, each contender's runs, messages per run of each:
    /// reference first)`. Contender `c`'s run `i` sits between reference runs
    /// `i * k + c` and `i * k + c + 1` (`k` contenders).
    pub fn measure(&self, cfg: &BaseConfig) -> (Vec<Run>, Vec<Vec<Run>>, Vec<u64>) {
        let sizes = if cfg.smoke {
            vec![SMOKE_MSGS; self.contenders.len() + 1]
        } else {
            std::iter::once(&self.reference)
                .chain(&self.contenders)
                .map(|contender| self.size(contender, cfg))
                .collect()
        };
        let (refs, runs) = alternate(cfg, true, self.contenders.len(), |c| match c {
            None => self.go(&self.reference, sizes[0]),
            Some(c) => self.go(&self.contenders[c], sizes[c + 1]),
        });
        (refs, runs, sizes)
    }

    /// Each contender's [`Ratios`]: its run's msgs/s over the mean of the
    /// reference runs on either side, pair by pair.
    pub fn ratios(&self, refs: &[Run], runs: &[Vec<Run>]) -> Vec<Ratios> {
        around(refs, runs, |run, around| ratio_to(run, around, Run::rate))
    }

    /// Prints the scenario's table and the headliners' ratios.
    pub fn report(&self, cfg: &BaseConfig, refs: &[Run], runs: &[Vec<Run>], sizes: &[u64]) {
        let pairs = runs[0].len();
        println!();
        println!("### {}: {}", self.key, self.title);
        println!();
        println!("- {}", describe_placement(cfg, self.placement));
        for note in &self.notes {
            println!("- {note}");
        }
        println!(
            "- {pairs} pairs: each contender run sits between two runs of {} (the reference); \
             messages per run sized for ~{} ms each",
            self.reference.name,
            (cfg.run_secs * 1000.0).round(),
        );
        println!();
        let ratio_heading = format!("/ {} median (min-max)", self.versus);
        let mut heading = vec![
            "contender".to_string(),
            "Mmsg/s median (min-max)".into(),
            ratio_heading,
            "msgs/run".into(),
        ];
        heading.extend(self.columns.iter().map(|column| column.heading.to_string()));
        heading.push("flagged (max other)".into());
        let mut table = vec![heading];
        let row = |name: String, own: &[Run], ratio: String, size: u64| {
            let mut cells = vec![
                name,
                Spread::of(own.iter().map(|r| r.rate() / 1e6)).show(2, ""),
                ratio,
                size.to_string(),
            ];
            cells.extend(self.columns.iter().map(|column| per_msg(own, column.count)));
            cells.push(flagged(own));
            cells
        };
        table.push(row(
            format!("{} (reference)", self.reference.name),
            refs,
            "1".into(),
            sizes[0],
        ));
        let ratios = self.ratios(refs, runs);
        for (c, contender) in self.contenders.iter().enumerate() {
            let spread = Spread::of(ratios[c].iter().map(|&(r, _)| r)).show(3, "x");
            table.push(row(contender.name.into(), &runs[c], spread, sizes[c + 1]));
        }
        print_table(&table);
        println!();
        for (contender, these) in self.contenders.iter().zip(&ratios) {
            if !contender.name.starts_with(self.headliners) {
                continue;
            }
            println!(
                "{}",
                headline(
                    &format!("{} / {}", contender.name, self.versus),
                    self.versus,
                    these,
                    self.target
                )
            );
        }
    }

    /// The smoke test's one line: what ran, all checked.
    pub fn smoke_report(&self, runs: &[Vec<Run>]) {
        let total = 1 + runs.iter().map(Vec::len).sum::<usize>();
        println!(
            "{}: {total} runs of {SMOKE_MSGS} messages, every record checked ({}; {})",
            self.key,
            self.reference.name,
            names(&self.contenders)
        );
    }
}

/// `- headline: {what} = median (min-max) over N pairs (above 1 = faster
/// than {versus})`, with the clean pairs' spread if some were flagged, and
/// the verdict against `target`.
pub fn headline(what: &str, versus: &str, ratios: &[(f64, bool)], target: Option<f64>) -> String {
    let all = Spread::of(ratios.iter().map(|&(r, _)| r));
    let mut line = format!(
        "- headline: {what} = {}",
        over_pairs(ratios, &format!("above 1 = faster than {versus}"))
    );
    if let Some(target) = target {
        let verdict = if all.median >= target {
            "met"
        } else {
            "NOT met"
        };
        line += &format!("; target >= {target:.2}x: {verdict}");
    }
    line
}

/// `median (min-max) over N pairs ({reading})`, with the clean pairs' spread
/// if some were flagged.
pub fn over_pairs(ratios: &[(f64, bool)], reading: &str) -> String {
    let all = Spread::of(ratios.iter().map(|&(r, _)| r));
    let mut text = format!(
        "{} over {} pairs ({reading})",
        all.show(3, "x"),
        ratios.len()
    );
    let clean: Vec<f64> = ratios.iter().filter(|c| c.1).map(|c| c.0).collect();
    if clean.is_empty() {
        text += "; every pair flagged";
    } else if clean.len() < ratios.len() {
        let spread = Spread::of(clean.iter().copied());
        text += &format!("; {} clean pairs: {}", clean.len(), spread.show(3, "x"));
    }
    text
}

// ---------------------------------------------------------------------------
// Wake-up latency
// ---------------------------------------------------------------------------

/// A quantile of the wake-up tables.
pub struct Quantile {
    /// Its name in headings (`p99`).
    pub label: &'static str,
    /// The quantile, in 0..=1.
    pub q: f64,
    /// Whether its cell shows the range over rounds beside the median.
    pub range: bool,
}

/// A wake-up scenario: contenders alternated in rounds.
pub struct Wakeup<'a> {
    /// The scenario's name, which filters match.
    pub key: &'static str,
    /// The report's heading after the key.
    pub title: &'static str,
    /// More lines for the report, after the method.
    pub notes: Vec<String>,
    /// The quantiles shown, each a median over rounds and pooled.
    pub quantiles: &'static [Quantile],
    /// Counts per message shown besides the latencies.
    pub columns: &'static [Column],
    /// logring's p99 target in µs, if any: contenders whose name starts with
    /// `logring` get a headline against it.
    pub target_us: Option<f64>,
    /// The contenders, run with a number of recorded messages.
    pub contenders: Vec<Contender<'a>>,
}

impl Wakeup<'_> {
    /// `runs[c][r]`: contender `c` in round `r`; rounds run every contender
    /// in turn.
    pub fn measure(&self, wake: &WakeConfig) -> Vec<Vec<Run>> {
        let mut runs: Vec<Vec<Run>> = self.contenders.iter().map(|_| Vec::new()).collect();
        for round in 0..wake.rounds {
            for (c, contender) in self.contenders.iter().enumerate() {
                set_current(format!("{} / {} (round {round})", self.key, contender.name));
                runs[c].push((contender.run)(wake.samples));
            }
        }
        runs
    }

    /// Prints the scenario's table and the headliners' p99 against the
    /// target.
    pub fn report(
        &self,
        cfg: &BaseConfig,
        placement: &Placement,
        wake: &WakeConfig,
        runs: &[Vec<Run>],
    ) {
        println!();
        println!("### {}: {}", self.key, self.title);
        println!();
        println!("- {}", describe_placement(cfg, placement));
        println!(
            "- {} rounds x {} messages per contender (after {WAKE_WARMUP} unrecorded); the \
             producer sleeps {} µs before each send; latency = receiver's clock when recv \
             returns - producer's clock before send",
            wake.rounds,
            wake.samples,
            wake.gap.as_micros()
        );
        for note in &self.notes {
            println!("- {note}");
        }
        println!();
        let labels: Vec<&str> = self.quantiles.iter().map(|q| q.label).collect();
        let mut heading = vec!["contender".to_string()];
        heading.extend(self.quantiles.iter().map(|q| {
            if q.range {
                format!("{} µs median (min-max)", q.label)
            } else {
                format!("{} µs median", q.label)
            }
        }));
        heading.push("max µs".into());
        heading.push(format!("all samples {} µs", labels.join("/")));
        heading.extend(self.columns.iter().map(|column| column.heading.to_string()));
        heading.push("flagged (max other)".into());
        let mut table = vec![heading];
        let mut headlines = Vec::new();
        for (contender, own) in self.contenders.iter().zip(runs) {
            let mut pooled = latency_histogram();
            for hist in own.iter().filter_map(|r| r.latency.as_ref()) {
                pooled.add(hist).expect("histograms of the same bounds");
            }
            let mut cells = vec![contender.name.to_string()];
            cells.extend(self.quantiles.iter().map(|q| {
                let at = quantile_spread(own, q.q);
                if q.range {
                    at.show(1, "")
                } else {
                    format!("{:.1}", at.median)
                }
            }));
            cells.push(format!("{:.1}", pooled.max() as f64 / 1000.0));
            cells.push(pooled_quantiles(&pooled, self.quantiles));
            cells.extend(self.columns.iter().map(|column| per_msg(own, column.count)));
            cells.push(flagged(own));
            table.push(cells);
            let Some(target) = self.target_us else {
                continue;
            };
            if contender.name.starts_with("logring") {
                let p99 = quantile_spread(own, 0.99);
                let verdict = if p99.median < target {
                    "met"
                } else {
                    "NOT met"
                };
                headlines.push(format!(
                    "- headline: {}: p99 {:.1} µs (median over rounds); target p99 < \
                     {target:.0} µs: {verdict}",
                    contender.name, p99.median
                ));
            }
        }
        print_table(&table);
        println!();
        for line in headlines {
            println!("{line}");
        }
    }

    /// The smoke test's one line: what ran, all checked.
    pub fn smoke_report(&self, wake: &WakeConfig, runs: &[Vec<Run>]) {
        let total: usize = runs.iter().map(Vec::len).sum();
        println!(
            "{}: {total} runs of {} messages, every record checked ({})",
            self.key,
            wake.samples + WAKE_WARMUP,
            names(&self.contenders)
        );
    }
}

/// Quantile `q` of a wake-up run's latencies, in µs.
pub fn quantile_us(run: &Run, q: f64) -> f64 {
    run.latency
        .as_ref()
        .map_or(f64::NAN, |h| h.value_at_quantile(q) as f64 / 1000.0)
}

/// Quantile `q` of each of a contender's wake-up runs, in µs: median and
/// range over the rounds.
pub fn quantile_spread(own: &[Run], q: f64) -> Spread {
    Spread::of(own.iter().map(|r| quantile_us(r, q)))
}

/// The pooled samples' `quantiles`, in µs, joined with `/`.
fn pooled_quantiles(pooled: &Histogram<u64>, quantiles: &[Quantile]) -> String {
    quantiles
        .iter()
        .map(|q| format!("{:.1}", pooled.value_at_quantile(q.q) as f64 / 1000.0))
        .collect::<Vec<_>>()
        .join("/")
}

// ---------------------------------------------------------------------------
// Sender cost
// ---------------------------------------------------------------------------

/// One contender of a cost scenario: a name and a function from a number of
/// bursts to a run.
pub type CostContender<'a> = super::Contender<'a, CostRun>;

/// A cost scenario: what a sending end pays per record (the method of
/// [`super::cost`]), every contender run alternated with a reference's and
/// its quantiles given as ratios to the reference's.
pub struct Cost<'a> {
    /// The scenario's name, which filters match.
    pub key: &'static str,
    /// The report's heading after the key.
    pub title: String,
    /// More lines for the report, after the method.
    pub notes: Vec<String>,
    /// What each record's timed region does, for the report.
    pub timed: &'static str,
    /// The quantiles shown.
    pub quantiles: &'static [CostQuantile],
    /// Contenders whose name starts with this get headlines.
    pub headliners: &'static str,
    /// The clock the runs time with.
    pub clock: &'a Clock,
    /// The contender every other is divided by.
    pub reference: CostContender<'a>,
    /// The contenders.
    pub contenders: Vec<CostContender<'a>>,
}

/// A quantile of the cost tables.
pub struct CostQuantile {
    /// Its name in headings (`p99`).
    pub label: &'static str,
    /// The quantile, in 0..=1.
    pub q: f64,
    /// Whether it is also given as ratios to the reference's, with a
    /// headline for each headliner.
    pub compared: bool,
}

/// A cost scenario's runs: contender `c`'s run `i` sits between reference
/// runs `i * k + c` and `i * k + c + 1` (`k` contenders).
pub struct CostRuns {
    /// The reference's runs.
    pub refs: Vec<CostRun>,
    /// Each contender's runs.
    pub runs: Vec<Vec<CostRun>>,
    /// Bursts per run.
    pub bursts: u64,
}

impl Cost<'_> {
    /// One run of `contender` with `bursts` bursts, named for the watchdog.
    fn go(&self, contender: &CostContender, bursts: u64) -> CostRun {
        set_current(format!(
            "{} / {} ({bursts} bursts)",
            self.key, contender.name
        ));
        (contender.run)(bursts)
    }

    /// A warm-up run of every contender (when measuring), then reference,
    /// contender 1, reference, contender 2, ..., reference, `cfg.pairs`
    /// times (once, without the references between, in smoke mode).
    pub fn measure(&self, cfg: &BaseConfig) -> CostRuns {
        let bursts = cost::bursts(cfg);
        if !cfg.smoke {
            self.go(&self.reference, SMOKE_BURSTS);
            for contender in &self.contenders {
                self.go(contender, SMOKE_BURSTS);
            }
        }
        let (refs, runs) = alternate(cfg, true, self.contenders.len(), |c| match c {
            None => self.go(&self.reference, bursts),
            Some(c) => self.go(&self.contenders[c], bursts),
        });
        CostRuns { refs, runs, bursts }
    }

    /// Each contender's ratios of quantile `q` per record to the
    /// reference's, pair by pair.
    fn ratios(&self, got: &CostRuns, q: f64) -> Vec<Ratios> {
        around(&got.refs, &got.runs, |run, around| {
            cost::ratio_around(self.clock, run, around, q)
        })
    }

    /// Prints the scenario's table and the headliners' ratios.
    pub fn report(&self, cfg: &BaseConfig, got: &CostRuns) {
        let name = self.reference.name;
        let lap = cfg.ring / RECORD_SPAN;
        println!();
        println!("### {}: {}", self.key, self.title);
        println!();
        println!("- {}", describe_placement(cfg, &SPSC));
        println!(
            "- {} pairs: each contender run sits between two runs of {name} (the reference), \
             after a warm-up run of each; {} bursts of {BURST} records per run, a {} ms busy \
             pause after each; each run first sends {lap} records untimed (a lap of the {} KiB \
             ring), then pauses {} ms",
            got.runs[0].len(),
            got.bursts,
            PAUSE.as_millis(),
            cfg.ring / 1024,
            SETTLE.as_millis()
        );
        println!(
            "- each record's {} timed alone: {}",
            self.timed,
            self.clock.describe()
        );
        println!(
            "- quantiles per record: median over runs of each run's quantile; pooled: quantiles \
             of all runs' samples together; / {name}: each run's quantile over the mean of the \
             two {name} runs around it, median (min-max) over pairs; timer pair alone: {BURST} \
             empty timed regions after each burst, every run"
        );
        for note in &self.notes {
            println!("- {note}");
        }
        println!();
        let compared: Vec<&CostQuantile> = self.quantiles.iter().filter(|q| q.compared).collect();
        let mut heading = vec!["contender".to_string()];
        heading.extend(self.quantiles.iter().map(|q| format!("{} ns", q.label)));
        heading.push(format!(
            "pooled {} ns",
            self.quantiles
                .iter()
                .map(|q| q.label)
                .collect::<Vec<_>>()
                .join("/")
        ));
        heading.extend(compared.iter().map(|q| format!("{} / {name}", q.label)));
        heading.extend(
            [
                "full retries/record",
                "rx sleeps/record",
                "flagged (max other)",
            ]
            .map(String::from),
        );
        let qs: Vec<f64> = self.quantiles.iter().map(|q| q.q).collect();
        let ratios: Vec<Vec<Ratios>> = compared.iter().map(|q| self.ratios(got, q.q)).collect();
        let row = |name: String, own: &[CostRun], ratios: Vec<String>| {
            let mut cells = vec![name];
            cells.extend(cost::quantile_cells(
                self.clock,
                &own.iter().collect::<Vec<_>>(),
                |r| &r.cost,
                &qs,
            ));
            cells.extend(ratios);
            cells.push(per_msg(own, |r| Some(r.full_retries)));
            cells.push(per_msg(own, |r| r.rx_sleeps));
            cells.push(flagged(own));
            cells
        };
        let mut table = vec![heading];
        table.push(row(
            format!("{name} (reference)"),
            &got.refs,
            compared.iter().map(|_| "1".to_string()).collect(),
        ));
        for (c, contender) in self.contenders.iter().enumerate() {
            let cells = ratios
                .iter()
                .map(|of_q| Spread::of(of_q[c].iter().map(|&(r, _)| r)).show(3, "x"))
                .collect();
            table.push(row(contender.name.into(), &got.runs[c], cells));
        }
        let every: Vec<&CostRun> = got.refs.iter().chain(got.runs.iter().flatten()).collect();
        let mut timer = vec!["timer pair alone".to_string()];
        timer.extend(cost::quantile_cells(self.clock, &every, |r| &r.timer, &qs));
        timer.resize(table[0].len(), "-".into());
        table.push(timer);
        print_table(&table);
        println!();
        for (c, contender) in self.contenders.iter().enumerate() {
            if !contender.name.starts_with(self.headliners) {
                continue;
            }
            for (q, of_q) in compared.iter().zip(&ratios) {
                println!(
                    "- headline: {} {} / {name} {} = {}",
                    contender.name,
                    q.label,
                    q.label,
                    over_pairs(&of_q[c], &format!("below 1 = cheaper than {name}"))
                );
            }
        }
    }

    /// The smoke test's one line: what ran, all checked.
    pub fn smoke_report(&self, cfg: &BaseConfig, got: &CostRuns) {
        let total = got.refs.len() + got.runs.iter().map(Vec::len).sum::<usize>();
        println!(
            "{}: {total} runs of {} bursts of {BURST} records (after a lap of {} untimed), \
             every record checked ({}; {})",
            self.key,
            got.bursts,
            cfg.ring / RECORD_SPAN,
            self.reference.name,
            names(&self.contenders)
        );
    }
}
