//! Helpers shared by the benchmarks: the settings every bench reads, thread
//! placement, CPU accounting from `/proc`, spreads of repeated measurements,
//! the cells and tables of the reports, and the machine's name. The channel
//! benches' records, runs and scenarios are in the submodules, and so are a
//! clock for timing one short region at a time and the method that times
//! what a sending end pays per record.

// Each bench crate includes this module and uses only part of it.
#![allow(dead_code)]

pub mod clock;
pub mod cost;
pub mod records;
pub mod runs;
pub mod scenarios;

use std::hint::spin_loop;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::thread;

use core_affinity::CoreId;

/// A run is flagged when other processes used more than this share of the
/// machine's CPU time (all cores) while it ran.
pub const FOREIGN_CPU_LIMIT: f64 = 0.05;

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// The settings every bench has: mode, filters, and the environment's
/// `LOGRING_BENCH_PAIRS`, `_RUN_MS`, `_RING` and `_BATCH`. A bench's own
/// `Config` holds one and adds its own settings.
pub struct BaseConfig {
    /// Correctness only: one tiny run per contender, no timing figures.
    pub smoke: bool,
    /// Scenario filters from the command line (every argument not starting
    /// with `-`); a scenario runs if its key contains one, or if there are none.
    pub filters: Vec<String>,
    /// Measured pairs per scenario (`LOGRING_BENCH_PAIRS`, 15).
    pub pairs: usize,
    /// Target length of a measured run (`LOGRING_BENCH_RUN_MS`, 500 ms).
    pub run_secs: f64,
    /// Ring bytes (`LOGRING_BENCH_RING`, 256 KiB).
    pub ring: usize,
    /// `try_recv_batch`/`recv_batch` limit in records (`LOGRING_BENCH_BATCH`, 64).
    pub batch: usize,
    /// Cores this process may run on; placement slots map onto them in turn.
    pub cores: Vec<CoreId>,
}

impl BaseConfig {
    /// Reads the command line (smoke mode unless `--bench` is given) and the
    /// environment. `ring_why`, if any, is the bench's reason for the ring's
    /// 4096-byte floor, added to the message when the ring is smaller.
    pub fn from_env(ring_why: Option<&str>) -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let smoke = !args.iter().any(|arg| arg == "--bench");
        let filters = args
            .into_iter()
            .filter(|arg| !arg.starts_with('-'))
            .collect();
        let ring: usize = env_or("LOGRING_BENCH_RING", 256 * 1024);
        assert!(
            ring >= 4096,
            "LOGRING_BENCH_RING must be at least 4096 bytes{}",
            ring_why.map_or(String::new(), |why| format!(" ({why})"))
        );
        let batch: usize = env_or("LOGRING_BENCH_BATCH", 64);
        assert!(batch > 0, "LOGRING_BENCH_BATCH must be positive");
        Self {
            smoke,
            filters,
            pairs: env_or::<usize>("LOGRING_BENCH_PAIRS", 15).max(1),
            run_secs: env_or::<f64>("LOGRING_BENCH_RUN_MS", 500.0) / 1000.0,
            ring,
            batch,
            cores: core_affinity::get_core_ids().unwrap_or_default(),
        }
    }

    /// Whether the scenario keyed `key` was asked for.
    pub fn wants(&self, key: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| key.contains(f.as_str()))
    }

    /// The core that placement slot `slot` runs on, if pinning is possible.
    pub fn core_of(&self, slot: usize) -> Option<CoreId> {
        (self.cores.len() >= 2).then(|| self.cores[slot % self.cores.len()])
    }

    /// Pins the calling thread to the core of placement slot `slot`.
    pub fn pin(&self, slot: usize) {
        if let Some(core) = self.core_of(slot) {
            core_affinity::set_for_current(core);
        }
    }

    /// Prints the report header's lines on thread placement and on which runs
    /// are flagged.
    pub fn print_placement_and_flagging(&self) {
        if self.core_of(0).is_some() {
            println!(
                "- threads pinned with core_affinity: producers from core {}, consumer on core {}",
                self.core_of(0).map_or(0, |c| c.id),
                self.core_of(1).map_or(0, |c| c.id)
            );
        } else {
            println!("- threads not pinned (fewer than 2 usable cores)");
        }
        println!(
            "- runs during which other processes used over {:.0}% of all cores are flagged",
            FOREIGN_CPU_LIMIT * 100.0
        );
    }

    /// What a polling thread does when its queue has nothing for it: see
    /// [`idle`].
    #[inline]
    pub fn idle(&self) {
        idle(self.smoke);
    }
}

/// Lets a bench's `Config`, which holds the common settings in a field
/// `base` beside its own, read them as its own (`cfg.ring`, `cfg.pin(..)`).
/// (Benches with no settings of their own leave it unused.)
#[allow(unused_macros)]
macro_rules! deref_to_base {
    ($config:ty) => {
        impl std::ops::Deref for $config {
            type Target = crate::common::BaseConfig;

            fn deref(&self) -> &crate::common::BaseConfig {
                &self.base
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use deref_to_base;

/// What a polling thread does when its queue has nothing for it: spin while
/// measuring; yield in smoke mode (`yield_now`), which must finish fast on
/// any machine.
#[inline]
pub fn idle(yield_now: bool) {
    if yield_now {
        thread::yield_now();
    } else {
        spin_loop();
    }
}

/// Which placement slot (see [`BaseConfig::core_of`]) each thread is pinned
/// to.
pub struct Placement {
    /// Each producer's slot.
    pub producers: &'static [usize],
    /// The consumer's slot.
    pub consumer: usize,
}

/// One producer and one consumer, each on its own core.
pub static SPSC: Placement = Placement {
    producers: &[0],
    consumer: 1,
};
/// With two cores the producers share core 0 and the consumer has core 1 to
/// itself (with three or more, every thread has its own core).
pub static MPSC: Placement = Placement {
    producers: &[0, 2],
    consumer: 1,
};

// ---------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------

/// Runs the reference (if `reference`), contender 0, the reference,
/// contender 1, ..., the reference, `cfg.pairs` times; in smoke mode each
/// contender once, with the reference only first. `go(None)` runs the
/// reference, `go(Some(c))` contender `c` of `contenders`. Returns the
/// reference's runs and each contender's: when measuring, contender `c`'s run
/// `i` sits between reference runs `i * k + c` and `i * k + c + 1` (`k`
/// contenders), as [`around`] pairs them.
pub fn alternate<R>(
    cfg: &BaseConfig,
    reference: bool,
    contenders: usize,
    mut go: impl FnMut(Option<usize>) -> R,
) -> (Vec<R>, Vec<Vec<R>>) {
    let pairs = if cfg.smoke { 1 } else { cfg.pairs };
    let mut refs: Vec<R> = Vec::new();
    if reference {
        refs.push(go(None));
    }
    let mut runs: Vec<Vec<R>> = (0..contenders).map(|_| Vec::new()).collect();
    for _ in 0..pairs {
        for (c, own) in runs.iter_mut().enumerate() {
            own.push(go(Some(c)));
            if reference && !cfg.smoke {
                refs.push(go(None));
            }
        }
    }
    (refs, runs)
}

/// `score` of each contender's run `i` with the reference runs on either
/// side of it, as [`alternate`] ran them, pair by pair.
pub fn around<R, T>(refs: &[R], runs: &[Vec<R>], score: impl Fn(&R, (&R, &R)) -> T) -> Vec<Vec<T>> {
    let k = runs.len();
    runs.iter()
        .enumerate()
        .map(|(c, own)| {
            own.iter()
                .enumerate()
                .map(|(i, run)| score(run, (&refs[i * k + c], &refs[i * k + c + 1])))
                .collect()
        })
        .collect()
}

/// `at(run)` over the mean of `at` of the reference runs around it, and
/// whether none of the three was flagged.
pub fn ratio_to<R: RunStats>(
    run: &R,
    (before, after): (&R, &R),
    at: impl Fn(&R) -> f64,
) -> (f64, bool) {
    let clean = !(run.flagged() || before.flagged() || after.flagged());
    (at(run) * 2.0 / (at(before) + at(after)), clean)
}

/// What the shared report helpers need of a bench's `Run`.
pub trait RunStats {
    /// Messages (or round trips) the run delivered.
    fn msgs(&self) -> u64;

    /// The run's timed length in seconds.
    fn secs(&self) -> f64;

    /// Share of the machine's CPU time used by other processes during the
    /// run; `None` where `/proc` cannot tell (or in smoke mode).
    fn foreign_cpu(&self) -> Option<f64>;

    /// Whether other processes used more than [`FOREIGN_CPU_LIMIT`].
    fn flagged(&self) -> bool {
        self.foreign_cpu()
            .is_some_and(|share| share > FOREIGN_CPU_LIMIT)
    }

    /// Messages per second.
    fn rate(&self) -> f64 {
        self.msgs() as f64 / self.secs()
    }
}

/// Implements [`RunStats`] for a bench's `Run` from its `msgs` (or the
/// field named after the type), `secs` and `foreign_cpu` fields.
macro_rules! impl_run_stats {
    ($run:ty) => {
        $crate::common::impl_run_stats!($run, msgs);
    };
    ($run:ty, $msgs:ident) => {
        impl $crate::common::RunStats for $run {
            fn msgs(&self) -> u64 {
                self.$msgs
            }

            fn secs(&self) -> f64 {
                self.secs
            }

            fn foreign_cpu(&self) -> Option<f64> {
                self.foreign_cpu
            }
        }
    };
}
pub(crate) use impl_run_stats;

/// One way of running a scenario: a name for the tables and a function from
/// a message count to a run.
pub struct Contender<'a, R> {
    /// How the tables name it.
    pub name: &'static str,
    /// Runs it with the given number of messages.
    pub run: Box<dyn Fn(u64) -> R + 'a>,
}

impl<'a, R> Contender<'a, R> {
    /// Boxes `run` under `name`.
    pub fn new(name: &'static str, run: impl Fn(u64) -> R + 'a) -> Self {
        Self {
            name,
            run: Box::new(run),
        }
    }
}

/// The run in progress, for a watchdog's or a failed check's report.
static CURRENT: Mutex<String> = Mutex::new(String::new());

/// Names the run in progress.
pub fn set_current(label: String) {
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = label;
}

/// The run in progress, as last named by [`set_current`].
pub fn current() -> String {
    CURRENT.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The calling thread's voluntary context switches so far.
pub fn voluntary_switches() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))?
        .trim()
        .parse()
        .ok()
}

// ---------------------------------------------------------------------------
// The machine, the environment and spreads of measurements
// ---------------------------------------------------------------------------

/// Clock ticks: all cores busy, all cores total, this process, and its
/// children that it has waited for.
#[derive(Clone, Copy)]
pub struct CpuTimes {
    busy: u64,
    total: u64,
    ours: u64,
    children: u64,
}

impl CpuTimes {
    /// `None` in smoke mode (runs too short for tick accounting) or without
    /// `/proc`.
    pub fn sample(smoke: bool) -> Option<Self> {
        if smoke {
            return None;
        }
        Self::read()
    }

    /// All cores' busy and total ticks and this process's ticks, now.
    pub fn read() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        // cpu user nice system idle iowait irq softirq steal ...
        let fields: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        let at = |k: usize| fields.get(k).copied().unwrap_or(0);
        let idle = at(3) + at(4);
        let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
        let own = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the parenthesised command: state is field 3, utime 14, stime 15.
        let after_comm: Vec<&str> = own.rsplit_once(')')?.1.split_whitespace().collect();
        // cutime and cstime, fields 16 and 17, count waited-for children.
        let tick = |k: usize| after_comm.get(k)?.parse::<u64>().ok();
        Some(Self {
            busy,
            total: busy + idle,
            ours: tick(11)? + tick(12)?,
            children: tick(13)? + tick(14)?,
        })
    }

    /// Share of all cores' time since `self` that was busy outside this
    /// process (steal included: another guest had our core).
    pub fn foreign_share(self) -> Option<f64> {
        self.share_besides(false)
    }

    /// As [`foreign_share`](Self::foreign_share), counting the children this
    /// process waited for meanwhile (the commands a bench runs) as its own.
    pub fn foreign_share_besides_children(self) -> Option<f64> {
        self.share_besides(true)
    }

    fn share_besides(self, children: bool) -> Option<f64> {
        let now = Self::read()?;
        let total = now.total.checked_sub(self.total)?;
        let mut ours = now.ours - self.ours;
        if children {
            ours += now.children - self.children;
        }
        let foreign = (now.busy - self.busy).saturating_sub(ours);
        (total > 0).then(|| foreign as f64 / total as f64)
    }
}

/// The environment variable `name` parsed as a `T`, or `default` if unset;
/// panics on a value that does not parse, rather than measure the wrong thing.
pub fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a valid value")),
        Err(_) => default,
    }
}

/// Where ring files go by default: `/dev/shm` if it exists (memory, as
/// rings between processes usually are), else the temporary directory.
pub fn ring_dir() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// The report's title (`## {title}`) and its line on the machine: the CPU,
/// the cores the bench may use, the kernel.
pub fn print_title_and_machine(title: &str, cfg: &BaseConfig) {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".into(), |k| k.trim().to_string());
    println!("## {title}");
    println!();
    println!(
        "- machine: {} ({} usable cores), Linux {kernel}",
        cpu_model(),
        cfg.cores.len()
    );
}

/// The CPU's model name from `/proc/cpuinfo`, for the report's header.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .and_then(|rest| rest.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Median and range of repeated measurements.
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// The spread of `values` (at least one).
    pub fn of(values: impl Iterator<Item = f64>) -> Self {
        let mut v: Vec<f64> = values.collect();
        assert!(!v.is_empty());
        v.sort_by(f64::total_cmp);
        let mid = v.len() / 2;
        let median = if v.len() % 2 == 1 {
            v[mid]
        } else {
            (v[mid - 1] + v[mid]) / 2.0
        };
        Self {
            median,
            min: v[0],
            max: v[v.len() - 1],
        }
    }

    /// `median (min-max)` with `digits` decimals, `unit` after the median.
    pub fn show(&self, digits: usize, unit: &str) -> String {
        format!(
            "{:.digits$}{unit} ({:.digits$}-{:.digits$})",
            self.median, self.min, self.max
        )
    }
}

// ---------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------

/// Prints a markdown table: `rows[0]` is the heading; the first column is
/// left-aligned, the others right-aligned. Widths count bytes, so a column
/// whose widest cell has a `µ` is a space wider than it needs (never
/// misaligned).
pub fn print_table(rows: &[Vec<String>]) {
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|row| row[c].len())
                .max()
                .unwrap_or(0)
                .max(3)
        })
        .collect();
    let line = |row: &[String]| {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, &w))| {
                if c == 0 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        println!("| {} |", cells.join(" | "));
    };
    line(&rows[0]);
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(c, &w)| {
            if c == 0 {
                format!(":{}", "-".repeat(w - 1))
            } else {
                format!("{}:", "-".repeat(w - 1))
            }
        })
        .collect();
    println!("| {} |", rule.join(" | "));
    for row in &rows[1..] {
        line(row);
    }
}

/// Median over runs of a per-message count, or `-` where not counted.
pub fn per_msg<R: RunStats>(runs: &[R], count: fn(&R) -> Option<u64>) -> String {
    if runs.iter().any(|r| count(r).is_none()) {
        return "-".into();
    }
    let median = Spread::of(
        runs.iter()
            .map(|r| count(r).unwrap_or(0) as f64 / r.msgs() as f64),
    )
    .median;
    // Rare events (a sleep per million messages) still show.
    if median == 0.0 || median >= 0.001 {
        format!("{median:.3}")
    } else {
        format!("{median:.1e}")
    }
}

/// `flagged/runs`, and the largest share other processes took in any run
/// where known.
pub fn flagged(runs: &[impl RunStats]) -> String {
    let mut text = format!(
        "{}/{}",
        runs.iter().filter(|r| r.flagged()).count(),
        runs.len()
    );
    if let Some(worst) = runs.iter().filter_map(|r| r.foreign_cpu()).reduce(f64::max) {
        text += &format!(" ({:.0}%)", worst * 100.0);
    }
    text
}

/// The command that reproduces a run of bench `bench`: the settings in the
/// environment (`LOGRING_BENCH_*`), then the cargo invocation with the
/// filters.
#[allow(dead_code)] // not every bench prints it
pub fn command(bench: &str, cfg: &BaseConfig) -> String {
    let mut settings: Vec<String> = std::env::vars()
        .filter(|(name, _)| name.starts_with("LOGRING_BENCH_"))
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    settings.sort();
    let mut text = settings.join(" ");
    if !text.is_empty() {
        text.push(' ');
    }
    text += &format!("cargo bench --bench {bench}");
    if !cfg.filters.is_empty() {
        text += &format!(" -- {}", cfg.filters.join(" "));
    }
    text
}
