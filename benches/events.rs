//! What logging an event costs the thread that logs it: logring's `tracing`
//! layer, `log` logger and own macros beside the loggers their users would
//! otherwise pick, each in a process of its own.
//!
//! The event, on the `tracing` path:
//! `tracing::info!(order_id = 42u64, px = 101.25, "filled {} of {}", qty, total)`;
//! on the `log` path: `log::info!("filled {} of {}", qty, total)`, with the
//! same `qty` and `total` (`qty` runs through 1..=100, `total` is 100); on
//! the macros' path: `info!("order {} filled at {}", id, px)` through each
//! contender's own `info!` (`id` a `u64` counting the events, `px` an `f64`
//! running through 101.25, 101.5, 101.75, 102).
//!
//! Contenders of the `tracing` and `log` scenarios:
//!
//! - `logring-tracing`: `logring::tracing::Layer::new(sender)` in a
//!   `tracing_subscriber::registry()` (no filter: every level is
//!   enabled), over a `channel::mpsc` sender; `logring-log`:
//!   `logring::log::Logger::new(sender)`, initialised at `Info`. The receiver
//!   goes to `events::Writer::spawn(receiver, file, Format::Text)`, a file
//!   in a temporary directory: its thread decodes every record into a line
//!   of `tracing_subscriber::fmt`'s default format and writes it, as the
//!   peers' worker threads format and write theirs (it polls every 100 µs,
//!   so no event pays for a wake-up). The bench needs the crate's features
//!   `tracing` and `log`.
//! - `fmt`: `tracing_subscriber::fmt()` (default format, ANSI colours off as
//!   for a file) writing to `tracing_appender::non_blocking` with its
//!   defaults (lossy, 128,000 lines buffered), over
//!   `tracing_appender::rolling::never`: a file in a temporary directory,
//!   the appender crate's own file writer. A file rather than `io::sink`
//!   because the calling thread's cost is the same either way (the line is
//!   formatted and sent before the writer sees it) while the worker thread's
//!   writes, which compete with the calling thread for the machine and
//!   decide when lines are dropped, are real only with a file.
//! - `ftlog`: `ftlog::builder()` with its defaults (a bounded channel of
//!   100,000 messages that discards when full) and its advice for speed:
//!   the `tsc` clock feature and UTC timestamps; a `FileAppender` in a
//!   temporary directory.
//! - `fast_log`: `fast_log::init(Config::new().file(..).chan_len(Some(100000)))`,
//!   as its README's "performance optimization" section recommends (a
//!   bounded channel: a full channel blocks the caller); a file in a
//!   temporary directory.
//!
//! Contenders of the macros' scenarios (`macro-cost`, `macro-throughput`),
//! the loggers that defer formatting to another thread, each through its own
//! `info!` with the same format string and arguments:
//!
//! - `logring-macro` (built with the crate's feature `macros`; without it
//!   the scenarios run the others alone, with no ratios):
//!   `logring::events::set_global(sender)` over a `channel::mpsc` sender,
//!   the maximum level `Info`, and `logring::info!`; the receiver decoded by
//!   `events::Writer` into a file, as for the other logring contenders.
//! - `bare-claim`: the floor, what the macro's event is with nothing
//!   around it: a `channel::mpsc` sender's `try_claim(42)`, a copy of the
//!   42 bytes a macro event of these arguments carries (the 24-byte event
//!   header, then a type byte and 8 bytes for each argument), prepared once,
//!   with the TSC read for its timestamp (x86_64; the wall clock elsewhere)
//!   and the two arguments patched in, then `commit`; a full ring drops the
//!   record and counts it. Its receiver is drained by a thread that
//!   releases the records unread, polling as `events::Writer` does (every
//!   100 µs); what reached "the log" is the records it released.
//! - `tracing-layer`: `tracing::info!("order {} filled at {}", id, px)`
//!   through the `logring-tracing` contender's layer and writer.
//! - `inqjet`: `InqJetBuilder` with what its README recommends for the
//!   lowest latency: its own `inqjet::info!` (which bypasses `log`; the
//!   `log` bridge, a default feature, is left out), `with_timeout(None)`
//!   (its archiver thread busy-spins, never parks: a whole core, where
//!   logring's writer polls), `BackpressureMode::Drop` (a full ring drops
//!   the event, uncounted), a ring of `LOGRING_BENCH_RING` bytes (the README
//!   recommends 256 KiB to 1 MiB for bursts), no colours, and a
//!   `BufWriter` over a file in a temporary directory (as its own benches
//!   do). `build()` sets a process-wide logger for good (a second `build()`
//!   fails); dropping its guard drains the ring, flushes the file and joins
//!   the archiver.
//! - `quicklog`: `init!()` and `with_flush!(FileFlusher::new(path))` (its
//!   README's `with_flush_into_file!` names a path `quicklog_flush` does
//!   not export in 0.1.3), a file in a temporary directory, and
//!   `quicklog::info!`, which copies the arguments into a boxed closure (an
//!   allocation per event) queued on a single-producer queue of 1,000,000
//!   entries; a full queue drops the event, uncounted. quicklog has no
//!   thread of its own: `flush!()` formats and writes one line (opening the
//!   file for each: its `FileFlusher`), and its documentation's example
//!   calls it in a loop on a thread of the application's, which this bench
//!   does (the logger's core, spinning while idle). Its state is process-
//!   wide `static mut`s, set up once and never torn down, and its queue
//!   (`QUICKLOG_MAX_LOGGER_CAPACITY` entries, fixed when it is built) is a
//!   static of 24 MB; both threads reach the logger through
//!   `quicklog::logger()`, a `&'static mut`, as its example has them do
//!   (each uses its own end of the queue).
//!
//! Every contender logs the same `INFO` event through the same macro, and
//! every filter lets it through: `log`'s maximum level is `Info` for the
//! three `log` loggers; `fmt` filters at `INFO`, logring's registry not at
//! all (`tracing`'s maximum level stays `TRACE`; both enable the event);
//! logring's macros are set to `Info`, inqjet is built at `Info`, and
//! quicklog's level is a compile-time constant that enables every level.
//!
//! `tracing` and `log` each take one global subscriber or logger per
//! process, so every run is a child process: the bench runs its own binary
//! again with `LOGRING_BENCH_EVENTS_CHILD` naming the contender, the
//! scenario and the run's size, and reads the run's figures (histograms of
//! clock ticks, counts) from the child's standard output. In the child the
//! main thread pins itself to core 1 before it installs the logger, so the
//! logger's threads (which inherit that core: the peers' workers, logring's
//! `events::Writer` thread, quicklog's flushing thread, the bare claim's
//! draining one) run on core 1; the thread that logs, named `hot-path`,
//! runs on core 0.
//!
//! Scenarios (name them as filters to run a subset; a filter matches every
//! key that contains it):
//!
//! - `tracing-cost`, `log-cost`, `macro-cost`: per-event cost on the
//!   calling thread, the method of the channel bench's `sender-cost`
//!   (`common::cost`): an untimed lap of `LOGRING_BENCH_EVENTS_LAP` events
//!   and a 10 ms pause, then bursts of 20 events, each event timed alone
//!   with the TSC (x86_64; `Instant` elsewhere), a busy pause of about 2 ms
//!   after each burst, for about `LOGRING_BENCH_RUN_MS` of pauses per run.
//!   Reported as p50 / p99 / p99.9 per event.
//! - `tracing-throughput`, `log-throughput`, `macro-throughput`:
//!   `LOGRING_BENCH_EVENTS` events logged back to back on one thread.
//!   Reported as events per second on the calling thread (events logged
//!   over its loop alone), and until drained (events written, lost ones
//!   left out, over the time until the logger's flush returned with every
//!   line in the file: for logring, `events::Writer::finish`).
//!
//! Method: after a warm-up run of each contender, runs alternate logring,
//! peer 1, logring, peer 2, ..., logring, `LOGRING_BENCH_PAIRS` times; each
//! peer run's quantile (or rate) is divided by the mean of the two logring
//! runs around it, and the median of those ratios over the pairs is
//! reported with its range ("x logring": a peer's cost as a multiple of
//! logring's; above 1, logring is cheaper). logring is the scenario's
//! logring contender: its layer, its logger or its macros; the other
//! logring contenders of the macros' scenarios (the bare claim and the
//! layer) are peers there. Without logring's front-ends the peers
//! alternate among themselves and no ratio is given. Runs during
//! which other processes used the CPU are flagged. `lost/event` counts
//! events that never reached the log: events logged less the lines holding
//! the event's message found in the file after the final flush, for every
//! contender alike. In brackets, the events the logger itself counted as
//! dropped: `tracing_appender`'s error counter; for logring, the sum of the
//! counts its drop records (`N events dropped`, which are not events) print
//! in the file (those after the last event that found room are reported by
//! the writer when it finishes); the bare claim counts the claims it found
//! the ring full for; `ftlog`, `fast_log`, `inqjet` and `quicklog` count
//! none.
//!
//! `cargo bench --bench events [-- FILTER...]` measures. Without `--bench`
//! (as under `cargo test --benches`) every contender runs once per scenario
//! with a few bursts or a few thousand events, and each checks that every
//! event logged reached its log (less what the logger reports dropped), as
//! a smoke test.
//!
//! Environment: `LOGRING_BENCH_PAIRS` (default 15), `LOGRING_BENCH_RUN_MS`
//! (500: bursts per cost run, one per 2 ms), `LOGRING_BENCH_RING` (logring's
//! ring bytes, and inqjet's, 262144), `LOGRING_BENCH_EVENTS` (events per
//! throughput run, 200000), `LOGRING_BENCH_EVENTS_LAP` (untimed events
//! before the bursts, 1000).

// The `macros` feature comes with the macros themselves: until the crate
// declares it, the contender it gates is compiled out and its name is one
// the cfg check does not know.
#![allow(unexpected_cfgs)]

mod common;

use std::io::{BufRead, BufReader, BufWriter};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use logring::channel::RecvTimeoutError;

use common::clock::Clock;
use common::cost::{self, BURST, CostRun, HotSender, PAUSE, SETTLE, SMOKE_BURSTS, Timings};
use common::{BaseConfig, CpuTimes, RunStats, Spread, env_or, flagged, print_table, set_current};

/// Names the contender, scenario and size of a child's run; unset in the
/// parent.
const CHILD_VAR: &str = "LOGRING_BENCH_EVENTS_CHILD";
/// The parent's clock, in nanoseconds per tick, for its children.
const TICK_VAR: &str = "LOGRING_BENCH_EVENTS_NS_PER_TICK";
/// What starts each line of a child's figures on its standard output.
const OUT: &str = "events-bench";
/// The name of the thread that logs (some loggers print or copy it).
const HOT_THREAD: &str = "hot-path";
/// The placement slot of the thread that logs.
const HOT_SLOT: usize = 0;
/// The placement slot of the child's main thread, and so of the threads the
/// logger starts (logring's: the `events::Writer` thread).
const LOGGER_SLOT: usize = 1;
/// The message every event's line holds, for counting lines in the files.
const NEEDLE: &str = "filled ";
/// Events per throughput run in smoke mode.
const SMOKE_EVENTS: u64 = 2000;
/// Untimed events before the bursts in smoke mode.
const SMOKE_LAP: u64 = 100;

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// The common settings and the events bench's own.
struct Config {
    base: BaseConfig,
    /// Events per throughput run (`LOGRING_BENCH_EVENTS`, 200000).
    events: u64,
    /// Untimed events before the bursts (`LOGRING_BENCH_EVENTS_LAP`, 1000).
    lap: u64,
}

common::deref_to_base!(Config);

impl Config {
    fn from_env() -> Self {
        let base = BaseConfig::from_env(None);
        let (events, lap) = if base.smoke {
            (SMOKE_EVENTS, SMOKE_LAP)
        } else {
            (
                env_or("LOGRING_BENCH_EVENTS", 200_000u64).max(1),
                env_or("LOGRING_BENCH_EVENTS_LAP", 1000u64),
            )
        };
        Self { base, events, lap }
    }
}

// ---------------------------------------------------------------------------
// The events
// ---------------------------------------------------------------------------

/// The front-end a scenario serves: which event its contenders log.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Front {
    Tracing,
    Log,
    /// Macros that defer formatting: logring's and its peers'.
    Macro,
}

impl Front {
    fn label(self) -> &'static str {
        match self {
            Front::Tracing => "tracing",
            Front::Log => "log",
            Front::Macro => "macro",
        }
    }

    /// The event as the report shows it.
    fn event(self) -> &'static str {
        match self {
            Front::Tracing => {
                r#"tracing::info!(order_id = 42u64, px = 101.25, "filled {} of {}", qty, total)"#
            }
            Front::Log => r#"log::info!("filled {} of {}", qty, total)"#,
            Front::Macro => r#"info!("order {} filled at {}", id, px)"#,
        }
    }
}

/// An event as the thread that logs makes it: its arguments for event `i`
/// (made before the timed region opens), and the call that logs them.
trait Event {
    type Args: Copy;

    fn args(i: u64) -> Self::Args;

    fn log(args: Self::Args);
}

/// The `tracing` scenarios' event; its values are made in the timed region.
struct TracingFields;

impl Event for TracingFields {
    type Args = u64;

    #[inline(always)]
    fn args(i: u64) -> u64 {
        i
    }

    #[inline(always)]
    fn log(i: u64) {
        let (qty, total) = values(i);
        tracing::info!(order_id = 42u64, px = 101.25, "filled {} of {}", qty, total);
    }
}

/// The `log` scenarios' event; its values are made in the timed region.
struct LogArgs;

impl Event for LogArgs {
    type Args = u64;

    #[inline(always)]
    fn args(i: u64) -> u64 {
        i
    }

    #[inline(always)]
    fn log(i: u64) {
        let (qty, total) = values(i);
        log::info!("filled {} of {}", qty, total);
    }
}

/// The `tracing` and `log` events' values for event `i`.
#[inline(always)]
fn values(i: u64) -> (u64, u64) {
    (i % 100 + 1, 100)
}

/// The macros' event's arguments for event `i`: the order id counts the
/// events, the price runs through four values (exact in binary).
#[inline(always)]
fn order(i: u64) -> (u64, f64) {
    (i, 101.25 + (i % 4) as f64 * 0.25)
}

/// Declares an [`Event`] of the macros' scenarios: `$name` logs `(id, px)`
/// through `$log`.
macro_rules! order_event {
    ($(#[$attr:meta])* $name:ident, |$id:ident, $px:ident| $log:expr) => {
        $(#[$attr])*
        struct $name;

        $(#[$attr])*
        impl Event for $name {
            type Args = (u64, f64);

            #[inline(always)]
            fn args(i: u64) -> (u64, f64) {
                order(i)
            }

            #[inline(always)]
            fn log(($id, $px): (u64, f64)) {
                $log
            }
        }
    };
}

order_event!(
    /// logring's macro.
    #[cfg(feature = "macros")]
    LogringMacro,
    |id, px| logring::info!("order {} filled at {}", id, px)
);
order_event!(
    /// The floor: a claim, a copy of the macro's bytes, a commit.
    BareClaimEvent,
    |id, px| bare_claim(id, px)
);
order_event!(
    /// `tracing`'s macro, through logring's layer.
    TracingOrder,
    |id, px| tracing::info!("order {} filled at {}", id, px)
);
order_event!(
    /// inqjet's own macro.
    InqjetOrder,
    |id, px| inqjet::info!("order {} filled at {}", id, px)
);
order_event!(
    /// quicklog's own macro.
    QuicklogOrder,
    |id, px| quicklog::info!("order {} filled at {}", id, px)
);

/// The thread that logs, as [`cost::send_bursts`] drives it: every "send"
/// is one event, which always succeeds (a logger that is full drops or
/// blocks inside).
struct Hot<'a, E> {
    cfg: &'a BaseConfig,
    event: PhantomData<E>,
}

impl<E: Event> HotSender for Hot<'_, E> {
    type Record = E::Args;

    #[inline]
    fn record(&mut self, i: u64) -> E::Args {
        E::args(i)
    }

    #[inline]
    fn try_send(&mut self, &args: &E::Args) -> bool {
        E::log(args);
        true
    }

    #[inline]
    fn make_room(&mut self) {
        self.cfg.idle();
    }
}

// ---------------------------------------------------------------------------
// The contenders, as a child process installs them
// ---------------------------------------------------------------------------

/// A logger installed as the process's global one.
trait Installed {
    /// Waits until everything logged has been written to the file, and says
    /// how it went.
    fn finish(self: Box<Self>) -> Outcome;
}

/// What became of a run's events.
struct Outcome {
    /// Events that reached the log: lines in the file holding the message.
    written: u64,
    /// Events the logger reports it dropped, where it counts them.
    dropped: Option<u64>,
    /// When everything had been written.
    drained: Instant,
}

/// One logger under test.
struct Contender {
    /// What filters and the child's variable name it by.
    key: &'static str,
    /// How the tables name it.
    name: &'static str,
    /// The scenarios it runs in.
    front: Front,
    /// Installs it as the global logger, writing into the directory given.
    install: fn(&Path, &Config) -> Box<dyn Installed>,
    /// What the thread that logs runs: [`hot_run`] with its event.
    hot: fn(&Config, &Clock, Mode, u64) -> HotRun,
}

impl Contender {
    /// Whether it is the logring contender its scenarios' ratios refer to
    /// (its key starts with `logring`; the bare claim and the layer in the
    /// macros' scenarios are peers there).
    fn is_logring(&self) -> bool {
        self.key.starts_with("logring")
    }
}

/// Every contender: logring's first, then the peers.
fn contenders() -> Vec<Contender> {
    vec![
        Contender {
            key: "logring-tracing",
            name: "logring tracing::Layer",
            front: Front::Tracing,
            install: install_layer,
            hot: hot_run::<TracingFields>,
        },
        Contender {
            key: "logring-log",
            name: "logring log::Logger",
            front: Front::Log,
            install: install_logger,
            hot: hot_run::<LogArgs>,
        },
        #[cfg(feature = "macros")]
        Contender {
            key: "logring-macro",
            name: "logring::info!",
            front: Front::Macro,
            install: install_macros,
            hot: hot_run::<LogringMacro>,
        },
        Contender {
            key: "fmt",
            name: "tracing_subscriber::fmt + tracing_appender::non_blocking",
            front: Front::Tracing,
            install: install_fmt,
            hot: hot_run::<TracingFields>,
        },
        Contender {
            key: "ftlog",
            name: "ftlog",
            front: Front::Log,
            install: install_ftlog,
            hot: hot_run::<LogArgs>,
        },
        Contender {
            key: "fast_log",
            name: "fast_log",
            front: Front::Log,
            install: install_fast_log,
            hot: hot_run::<LogArgs>,
        },
        Contender {
            key: "bare-claim",
            name: "bare try_claim + copy + commit",
            front: Front::Macro,
            install: install_bare_claim,
            hot: hot_run::<BareClaimEvent>,
        },
        Contender {
            key: "tracing-layer",
            name: "tracing::info! + logring tracing::Layer",
            front: Front::Macro,
            install: install_layer,
            hot: hot_run::<TracingOrder>,
        },
        Contender {
            key: "inqjet",
            name: "inqjet::info!",
            front: Front::Macro,
            install: install_inqjet,
            hot: hot_run::<InqjetOrder>,
        },
        Contender {
            key: "quicklog",
            name: "quicklog::info!",
            front: Front::Macro,
            install: install_quicklog,
            hot: hot_run::<QuicklogOrder>,
        },
    ]
}

/// Lines of `path` that hold an event's message.
fn lines_logged(path: &Path) -> u64 {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    event_lines(&text)
}

/// Lines of `text` that hold an event's message (not drop records, not
/// marker lines of records that did not decode, which print their bytes in
/// hex).
fn event_lines(text: &str) -> u64 {
    text.lines().filter(|line| line.contains(NEEDLE)).count() as u64
}

/// `tracing_subscriber::fmt` over `tracing_appender::non_blocking`.
struct Fmt {
    guard: tracing_appender::non_blocking::WorkerGuard,
    errors: tracing_appender::non_blocking::ErrorCounter,
    path: PathBuf,
}

fn install_fmt(dir: &Path, _: &Config) -> Box<dyn Installed> {
    let file = tracing_appender::rolling::never(dir, "fmt.log");
    let (writer, guard) = tracing_appender::non_blocking(file);
    let errors = writer.error_counter();
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .init();
    Box::new(Fmt {
        guard,
        errors,
        path: dir.join("fmt.log"),
    })
}

impl Installed for Fmt {
    fn finish(self: Box<Self>) -> Outcome {
        // Dropping the guard has the worker write every line it was sent,
        // then waits for it (for a second at most).
        drop(self.guard);
        let drained = Instant::now();
        Outcome {
            written: lines_logged(&self.path),
            dropped: Some(self.errors.dropped_lines() as u64),
            drained,
        }
    }
}

/// A logger whose guard, dropped, flushes its file and waits for it:
/// `ftlog` with a `FileAppender` (the guard flushes the logger and waits for
/// it), inqjet (the guard stops the archiver, which drains the ring and
/// flushes the file, and joins it).
struct Guarded<G> {
    guard: G,
    path: PathBuf,
}

impl<G> Installed for Guarded<G> {
    fn finish(self: Box<Self>) -> Outcome {
        drop(self.guard);
        let drained = Instant::now();
        Outcome {
            written: lines_logged(&self.path),
            dropped: None,
            drained,
        }
    }
}

fn install_ftlog(dir: &Path, _: &Config) -> Box<dyn Installed> {
    let path = dir.join("ftlog.log");
    let guard = ftlog::builder()
        .max_log_level(ftlog::LevelFilter::Info)
        .utc()
        .root(ftlog::appender::FileAppender::new(&path))
        .try_init()
        .expect("ftlog");
    Box::new(Guarded { guard, path })
}

/// `fast_log` writing to a file.
struct FastLog {
    path: PathBuf,
}

fn install_fast_log(dir: &Path, _: &Config) -> Box<dyn Installed> {
    let path = dir.join("fast_log.log");
    fast_log::init(
        fast_log::Config::new()
            .file(path.to_str().expect("a temporary directory named in UTF-8"))
            .chan_len(Some(100_000))
            .level(log::LevelFilter::Info),
    )
    .expect("fast_log");
    Box::new(FastLog { path })
}

impl Installed for FastLog {
    fn finish(self: Box<Self>) -> Outcome {
        // fast_log's `flush` waits until the file has every line.
        log::logger().flush();
        let drained = Instant::now();
        Outcome {
            written: lines_logged(&self.path),
            dropped: None,
            drained,
        }
    }
}

/// inqjet, set up for its lowest latency, writing to a file.
fn install_inqjet(dir: &Path, cfg: &Config) -> Box<dyn Installed> {
    let path = dir.join("inqjet.log");
    let file = std::fs::File::create(&path)
        .unwrap_or_else(|error| panic!("creating {}: {error}", path.display()));
    let guard = inqjet::InqJetBuilder::default()
        .with_writer(BufWriter::new(file))
        .with_log_level(inqjet::LevelFilter::Info)
        .with_buffer_size(cfg.ring)
        .with_timeout(None)
        .with_backpressure(inqjet::BackpressureMode::Drop)
        .with_color_mode(inqjet::ColorMode::Never)
        .build()
        .expect("inqjet");
    Box::new(Guarded { guard, path })
}

/// quicklog writing to a file, and the thread that flushes it.
struct Quicklog {
    flusher: thread::JoinHandle<()>,
    stop: Arc<AtomicBool>,
    path: PathBuf,
}

fn install_quicklog(dir: &Path, cfg: &Config) -> Box<dyn Installed> {
    let path = dir.join("quicklog.log");
    quicklog::init!();
    // `FileFlusher` keeps a `&'static str`: one path per process.
    let leaked: &'static str = Box::leak(
        path.to_str()
            .expect("a temporary directory named in UTF-8")
            .into(),
    );
    quicklog::with_flush!(quicklog_flush::file_flusher::FileFlusher::new(leaked));
    let stop = Arc::new(AtomicBool::new(false));
    let flusher = {
        let (stop, smoke) = (Arc::clone(&stop), cfg.smoke);
        thread::Builder::new()
            .name("quicklog-flush".into())
            .spawn(move || {
                loop {
                    // Acquire: pairs with the Release store in `finish`,
                    // made after the thread that logs was joined: once it
                    // reads true, every event is in the queue.
                    let stopping = stop.load(Ordering::Acquire);
                    while quicklog::try_flush!().is_ok() {}
                    if stopping {
                        break;
                    }
                    common::idle(smoke);
                }
            })
            .expect("quicklog's flushing thread")
    };
    Box::new(Quicklog {
        flusher,
        stop,
        path,
    })
}

impl Installed for Quicklog {
    fn finish(self: Box<Self>) -> Outcome {
        // Release: pairs with the flushing thread's Acquire load.
        self.stop.store(true, Ordering::Release);
        self.flusher
            .join()
            .expect("quicklog's flushing thread panicked");
        let drained = Instant::now();
        Outcome {
            written: lines_logged(&self.path),
            dropped: None,
            drained,
        }
    }
}

/// logring's `tracing` layer: `tracing_subscriber::registry()` with
/// `logring::tracing::Layer::new(sender)`, its receiver decoded and written
/// by `events::Writer`.
fn install_layer(dir: &Path, cfg: &Config) -> Box<dyn Installed> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let (tx, rx) = logring::channel::mpsc::new(cfg.ring).expect("channel");
    let writer = LogringWriter::spawn(rx, dir);
    tracing_subscriber::registry()
        .with(logring::tracing::Layer::new(tx))
        .init();
    Box::new(writer)
}

/// logring's `log` logger: `logring::log::Logger::new(sender)`, its
/// receiver decoded and written by `events::Writer`.
fn install_logger(dir: &Path, cfg: &Config) -> Box<dyn Installed> {
    let (tx, rx) = logring::channel::mpsc::new(cfg.ring).expect("channel");
    let writer = LogringWriter::spawn(rx, dir);
    logring::log::Logger::new(tx)
        .init(log::LevelFilter::Info)
        .expect("logring logger");
    Box::new(writer)
}

/// logring's macros: `events::set_global(sender)` at level `Info`, the
/// receiver decoded and written by `events::Writer`.
#[cfg(feature = "macros")]
fn install_macros(dir: &Path, cfg: &Config) -> Box<dyn Installed> {
    let (tx, rx) = logring::channel::mpsc::new(cfg.ring).expect("channel");
    let writer = LogringWriter::spawn(rx, dir);
    logring::events::set_global(tx).expect("logring's global sender");
    logring::events::set_max_level(logring::events::Level::Info);
    Box::new(writer)
}

/// `events::Writer` decoding the ring into a text file, as the peers'
/// worker threads format their lines into theirs.
struct LogringWriter {
    guard: logring::events::Writer,
    path: PathBuf,
}

impl LogringWriter {
    /// Started from the child's main thread, so its thread shares the
    /// logger's core, as the peers' workers do.
    fn spawn(rx: logring::channel::Receiver, dir: &Path) -> Self {
        let path = dir.join("logring.log");
        let file = std::fs::File::create(&path)
            .unwrap_or_else(|error| panic!("creating {}: {error}", path.display()));
        let guard = logring::events::Writer::spawn(rx, file, logring::events::Format::Text)
            .expect("logring's event writer");
        Self { guard, path }
    }
}

impl Installed for LogringWriter {
    fn finish(self: Box<Self>) -> Outcome {
        // Writes every event committed before the call (the global
        // subscriber or logger keeps its sender alive), flushes the file and
        // joins the writer's thread.
        self.guard.finish().expect("logring's event writer");
        let drained = Instant::now();
        let text = std::fs::read_to_string(&self.path)
            .unwrap_or_else(|error| panic!("reading {}: {error}", self.path.display()));
        Outcome {
            written: event_lines(&text),
            dropped: Some(dropped_in(&text)),
            drained,
        }
    }
}

/// What a drop record prints between the target and the count's field.
const DROPPED: &str = " events dropped dropped=";

/// The events logring's drop records in `text` report: each prints as
/// `... WARN logring: N events dropped dropped=N` (written before the next
/// event that found room, or by the writer once it found the ring empty).
fn dropped_in(text: &str) -> u64 {
    text.lines()
        .filter_map(|line| {
            let (_, count) = line.split_once(DROPPED)?;
            Some(count.trim().parse::<u64>().expect("a drop record's count"))
        })
        .sum()
}

// ---------------------------------------------------------------------------
// The bare claim: the floor of the macros' scenarios
// ---------------------------------------------------------------------------

/// Bytes of the record a macro event of `(u64, f64)` is: the 24-byte event
/// header, then each argument's type byte and 8 bytes.
const BARE_LEN: usize = 24 + 9 + 9;
/// Where the event header's timestamp sits.
const BARE_TIME: usize = 8;
/// Where the order id's and the price's bytes sit (after their type bytes).
const BARE_ID: usize = 25;
const BARE_PX: usize = 34;
/// How long the draining thread sleeps between looks at an idle ring, as
/// `events::Writer` does.
const BARE_POLL: Duration = Duration::from_micros(100);

/// The bare claim's sender and what it copies.
struct Bare {
    tx: logring::channel::mpsc::Sender,
    /// The record but for its timestamp and arguments: an `INFO` event of
    /// callsite 1 and thread 1, and the arguments' type bytes (u64, f64).
    template: [u8; BARE_LEN],
    /// Claims that found the ring full: their events were dropped.
    dropped: AtomicU64,
}

/// The bare claim's sender, set when the contender is installed (a global,
/// as the macros' sender is).
static BARE: OnceLock<Bare> = OnceLock::new();

/// The timestamp a macro event carries: the TSC (x86_64), or the wall clock
/// in nanoseconds elsewhere.
#[inline(always)]
fn event_time() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: every x86_64 CPU has the time-stamp counter; reading it
        // touches no memory.
        unsafe { std::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64)
    }
}

/// What a macro event costs with nothing around it: claim, copy the record
/// with its timestamp and arguments patched in, commit (a full ring drops
/// the record and counts it, as the macros do).
#[inline(always)]
fn bare_claim(id: u64, px: f64) {
    let Some(bare) = BARE.get() else {
        return;
    };
    let mut record = bare.template;
    record[BARE_TIME..BARE_TIME + 8].copy_from_slice(&event_time().to_le_bytes());
    record[BARE_ID..BARE_ID + 8].copy_from_slice(&id.to_le_bytes());
    record[BARE_PX..BARE_PX + 8].copy_from_slice(&px.to_bits().to_le_bytes());
    match bare.tx.try_claim(BARE_LEN) {
        Ok(mut claim) => {
            claim.copy_from_slice(&record);
            claim.commit();
        }
        // Relaxed: read after the thread that logs was joined.
        Err(_) => _ = bare.dropped.fetch_add(1, Ordering::Relaxed),
    }
}

/// The record but for its timestamp and arguments (see the layout in the
/// crate's `ring::event` module).
fn bare_template() -> [u8; BARE_LEN] {
    let mut record = [0u8; BARE_LEN];
    record[0] = 1; // kind: an event
    record[1] = 3; // level: INFO
    // flags 0 (callsite and thread in the dictionary), no spans
    record[4..8].copy_from_slice(&1u32.to_le_bytes()); // callsite id
    record[16..20].copy_from_slice(&1u32.to_le_bytes()); // thread id
    record[20..24].copy_from_slice(&std::process::id().to_le_bytes());
    record[BARE_ID - 1] = 2; // u64
    record[BARE_PX - 1] = 3; // f64
    record
}

/// The bare claim's draining thread: it releases records unread.
struct BareDrain {
    drain: thread::JoinHandle<u64>,
    stop: Arc<AtomicBool>,
}

fn install_bare_claim(_: &Path, cfg: &Config) -> Box<dyn Installed> {
    let (tx, mut rx) = logring::channel::mpsc::new(cfg.ring).expect("channel");
    rx.set_poll_interval(Some(BARE_POLL));
    let stop = Arc::new(AtomicBool::new(false));
    let drain = {
        let (stop, batch) = (Arc::clone(&stop), cfg.batch);
        thread::Builder::new()
            .name("bare-drain".into())
            .spawn(move || {
                let mut released = 0u64;
                loop {
                    // Acquire: pairs with the Release store in `finish`,
                    // made after the thread that logs was joined: once it
                    // reads true, every record is committed.
                    let stopping = stop.load(Ordering::Acquire);
                    match rx.recv_batch_timeout(batch, BARE_POLL, |_| released += 1) {
                        Ok(_) => {}
                        Err(RecvTimeoutError::Timeout) if stopping => return released,
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(error) => panic!("the bare claim's receiver: {error}"),
                    }
                }
            })
            .expect("the bare claim's draining thread")
    };
    let bare = Bare {
        tx,
        template: bare_template(),
        dropped: AtomicU64::new(0),
    };
    if BARE.set(bare).is_err() {
        panic!("the bare claim installed twice");
    }
    Box::new(BareDrain { drain, stop })
}

impl Installed for BareDrain {
    fn finish(self: Box<Self>) -> Outcome {
        // Release: pairs with the draining thread's Acquire load.
        self.stop.store(true, Ordering::Release);
        let released = self
            .drain
            .join()
            .expect("the bare claim's draining thread panicked");
        let drained = Instant::now();
        let bare = BARE.get().expect("the bare claim installed");
        Outcome {
            written: released,
            // Relaxed: the thread that counted was joined.
            dropped: Some(bare.dropped.load(Ordering::Relaxed)),
            drained,
        }
    }
}

// ---------------------------------------------------------------------------
// A child process: one run of one contender
// ---------------------------------------------------------------------------

/// What a child measures.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Bursts of timed events: the count is the number of bursts.
    Cost,
    /// Events back to back: the count is the number of events.
    Throughput,
}

impl Mode {
    fn key(self) -> &'static str {
        match self {
            Mode::Cost => "cost",
            Mode::Throughput => "throughput",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "cost" => Mode::Cost,
            "throughput" => Mode::Throughput,
            _ => panic!("{CHILD_VAR}: unknown mode {text:?}"),
        }
    }
}

/// What the thread that logs measured.
struct HotRun {
    /// Events logged, untimed lap included.
    sent: u64,
    /// The timed bursts (cost runs).
    timings: Option<Timings>,
    /// When it began logging.
    began: Instant,
    /// Seconds it took, from its first event to its last.
    secs: f64,
}

/// Runs one contender as `spec` (`KEY MODE COUNT`) says, prints its figures
/// and exits.
fn child(spec: &str) -> ! {
    let cfg = Config::from_env();
    let mut words = spec.split_whitespace();
    let (Some(key), Some(mode), Some(count)) = (words.next(), words.next(), words.next()) else {
        panic!("{CHILD_VAR}={spec:?}: expected KEY MODE COUNT");
    };
    let mode = Mode::parse(mode);
    let count: u64 = count.parse().expect("a count");
    let contender = contenders()
        .into_iter()
        .find(|c| c.key == key)
        .unwrap_or_else(|| panic!("{CHILD_VAR}: unknown contender {key:?}"));
    let ns_per_tick: f64 = env_or(TICK_VAR, 1.0);
    let clock = Clock::with_ns_per_tick(ns_per_tick);
    let dir = std::env::temp_dir().join(format!("logring-events-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    // The logger's threads start from this thread and inherit its core.
    cfg.pin(LOGGER_SLOT);
    let installed = (contender.install)(&dir, &cfg);
    let run = thread::scope(|s| {
        thread::Builder::new()
            .name(HOT_THREAD.into())
            .spawn_scoped(s, || {
                cfg.pin(HOT_SLOT);
                (contender.hot)(&cfg, &clock, mode, count)
            })
            .expect("the hot-path thread")
            .join()
            .expect("the hot-path thread panicked")
    });
    let outcome = installed.finish();
    let drained_secs = outcome
        .drained
        .saturating_duration_since(run.began)
        .as_secs_f64();
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(OUT);
        out.push(' ');
        out.push_str(&text);
        out.push('\n');
    };
    line(format!("sent {}", run.sent));
    line(format!("written {}", outcome.written));
    if let Some(dropped) = outcome.dropped {
        line(format!("dropped {dropped}"));
    }
    line(format!("secs {}", run.secs));
    line(format!("drained {drained_secs}"));
    if let Some(timings) = &run.timings {
        for (name, hist) in [("cost", &timings.cost), ("timer", &timings.timer)] {
            for value in hist.iter_recorded() {
                line(format!(
                    "{name} {} {}",
                    value.value_iterated_to(),
                    value.count_at_value()
                ));
            }
        }
    }
    print!("{out}");
    let _ = std::fs::remove_dir_all(&dir);
    std::process::exit(0);
}

/// The thread that logs: bursts of timed events after an untimed lap
/// (`Mode::Cost`, `count` bursts), or `count` events back to back.
fn hot_run<E: Event>(cfg: &Config, clock: &Clock, mode: Mode, count: u64) -> HotRun {
    let lap = cfg.lap;
    let began = Instant::now();
    match mode {
        Mode::Cost => {
            let mut hot = Hot::<E> {
                cfg,
                event: PhantomData,
            };
            let timings = cost::send_bursts(&mut hot, clock, cfg, lap, count);
            HotRun {
                sent: lap + count * BURST as u64,
                timings: Some(timings),
                began,
                secs: began.elapsed().as_secs_f64(),
            }
        }
        Mode::Throughput => {
            (0..count).for_each(|i| E::log(E::args(i)));
            HotRun {
                sent: count,
                timings: None,
                began,
                secs: began.elapsed().as_secs_f64(),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The parent: runs in child processes, read back
// ---------------------------------------------------------------------------

/// One run, as a child reported it.
struct EventRun {
    /// Events logged.
    sent: u64,
    /// Events that reached the log.
    written: u64,
    /// Events the logger reports dropped, where it counts them.
    dropped: Option<u64>,
    /// The calling thread's time, from its first event to its last.
    secs: f64,
    /// From the first event until everything was written.
    drained_secs: f64,
    /// Per-event cost (cost runs), as [`cost`]'s reports take it.
    cost: Option<CostRun>,
    foreign_cpu: Option<f64>,
}

common::impl_run_stats!(EventRun, sent);

impl EventRun {
    /// Events that never reached the log.
    fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.written)
    }

    /// Events written per second until everything was written: events a
    /// logger dropped do not count, so dropping never reads as speed.
    fn drained_rate(&self) -> f64 {
        self.written as f64 / self.drained_secs
    }

    fn cost(&self) -> &CostRun {
        self.cost.as_ref().expect("a cost run")
    }
}

/// Runs `contender` in a child process, as `mode` with `count`.
fn run_child(
    cfg: &Config,
    clock: &Clock,
    contender: &Contender,
    mode: Mode,
    count: u64,
) -> EventRun {
    set_current(format!(
        "{}-{} / {} ({count})",
        contender.front.label(),
        mode.key(),
        contender.name
    ));
    let cpu = CpuTimes::sample(cfg.smoke);
    let output = Command::new(std::env::current_exe().expect("the bench's own binary"))
        .args(std::env::args_os().skip(1))
        .env(
            CHILD_VAR,
            format!("{} {} {count}", contender.key, mode.key()),
        )
        .env(TICK_VAR, clock.ns_per_tick().to_string())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("running the bench's own binary");
    let foreign_cpu = cpu.and_then(CpuTimes::foreign_share_besides_children);
    assert!(
        output.status.success(),
        "{}: the child failed ({})",
        common::current(),
        output.status
    );
    let (mut sent, mut written, mut dropped) = (None, None, None);
    let (mut secs, mut drained_secs) = (None, None);
    let (mut costs, mut timer) = (cost::tick_histogram(), cost::tick_histogram());
    for text in BufReader::new(&output.stdout[..]).lines() {
        let text = text.expect("the child's output");
        let Some(rest) = text.strip_prefix(OUT) else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        let int = |k: usize| -> u64 { words[k].parse().expect("a count") };
        match words[0] {
            "sent" => sent = Some(int(1)),
            "written" => written = Some(int(1)),
            "dropped" => dropped = Some(int(1)),
            "secs" => secs = Some(words[1].parse::<f64>().expect("seconds")),
            "drained" => drained_secs = Some(words[1].parse::<f64>().expect("seconds")),
            "cost" => costs.saturating_record_n(int(1), int(2)),
            "timer" => timer.saturating_record_n(int(1), int(2)),
            other => panic!("the child printed {other:?}"),
        }
    }
    fn missing<T>() -> T {
        panic!("{}: the child's figures are incomplete", common::current())
    }
    let secs = secs.unwrap_or_else(missing);
    let run = EventRun {
        sent: sent.unwrap_or_else(missing),
        written: written.unwrap_or_else(missing),
        dropped,
        secs,
        drained_secs: drained_secs.unwrap_or_else(missing),
        cost: (mode == Mode::Cost).then(|| {
            CostRun::new(
                Timings {
                    cost: costs,
                    timer,
                    full_retries: 0,
                },
                secs,
                foreign_cpu,
            )
        }),
        foreign_cpu,
    };
    // Nothing may vanish without a count: lost events are either reported
    // dropped by the logger or (for loggers that count nothing) visible in
    // the lost column; in smoke mode, where the loggers are never pushed,
    // nothing may be lost at all but what the logger counted.
    let counted = run.dropped.unwrap_or(0);
    if cfg.smoke {
        assert_eq!(
            run.lost(),
            counted,
            "{}: {} events logged, {} reached the log, {counted} counted as dropped",
            common::current(),
            run.sent,
            run.written
        );
    }
    run
}

/// A scenario: one front-end, one mode.
struct Scenario {
    front: Front,
    mode: Mode,
}

impl Scenario {
    fn key(&self) -> String {
        format!("{}-{}", self.front.label(), self.mode.key())
    }
}

/// A scenario's runs: with logring, peer `c`'s run `i` sits between
/// logring's runs `i * k + c` and `i * k + c + 1` (`k` peers).
struct Runs {
    /// logring's runs (none without its front-ends).
    refs: Vec<EventRun>,
    /// Each peer's runs.
    peers: Vec<Vec<EventRun>>,
    /// The count each run was given.
    count: u64,
}

/// Runs a scenario: a warm-up run of each contender (when measuring), then
/// logring, peer 1, logring, peer 2, ..., logring, `cfg.pairs` times (each
/// contender once in smoke mode).
fn measure(
    cfg: &Config,
    clock: &Clock,
    scenario: &Scenario,
    reference: Option<&Contender>,
    peers: &[&Contender],
) -> Runs {
    let (count, warm) = match scenario.mode {
        Mode::Cost => (cost::bursts(cfg), SMOKE_BURSTS),
        Mode::Throughput => (cfg.events, SMOKE_EVENTS),
    };
    let go = |c: &Contender, n: u64| run_child(cfg, clock, c, scenario.mode, n);
    if !cfg.smoke {
        for c in reference.into_iter().chain(peers.iter().copied()) {
            go(c, warm);
        }
    }
    let (refs, runs) = common::alternate(cfg, reference.is_some(), peers.len(), |c| match c {
        Some(c) => go(peers[c], count),
        None => go(
            reference.expect("a reference run only with a reference"),
            count,
        ),
    });
    Runs {
        refs,
        peers: runs,
        count,
    }
}

/// The cost tables' quantiles.
const QUANTILES: &[(&str, f64)] = &[("p50", 0.50), ("p99", 0.99), ("p99.9", 0.999)];

/// Each peer's ratios to logring of `at` (a quantile or a rate), pair by
/// pair, with whether none of the pair's three runs was flagged.
fn ratios(got: &Runs, at: impl Fn(&EventRun) -> f64) -> Vec<Vec<(f64, bool)>> {
    common::around(&got.refs, &got.peers, |run, around| {
        common::ratio_to(run, around, &at)
    })
}

/// Lost events per event over a contender's runs, and how many the logger
/// itself counted.
fn lost_cell(runs: &[EventRun]) -> String {
    let sent: u64 = runs.iter().map(|r| r.sent).sum();
    let lost: u64 = runs.iter().map(EventRun::lost).sum();
    let share = lost as f64 / sent as f64;
    let mut text = if share == 0.0 || share >= 0.001 {
        format!("{share:.3}")
    } else {
        format!("{share:.1e}")
    };
    if runs.iter().all(|r| r.dropped.is_some()) {
        let counted: u64 = runs.iter().filter_map(|r| r.dropped).sum();
        text += &format!(" ({counted} counted)");
    }
    text
}

/// The targets for a peer at a quantile: how many times logring's cost the
/// peer's must be, at least. The layer and the logger (issue 16): a tenth
/// of `fmt`'s p50 and p99.9, below `ftlog`'s and `fast_log`'s. The macros
/// (issue 17): a p50 within 1.5 times the bare claim's, and against the
/// fastest of `inqjet` and `quicklog` (which is to say against each) a
/// fifth of its p50 and a lower p99.9.
fn target(peer: &Contender, label: &str) -> Option<f64> {
    match (peer.key, label) {
        ("fmt", "p50" | "p99.9") => Some(10.0),
        ("ftlog" | "fast_log", "p50" | "p99.9") => Some(1.0),
        ("bare-claim", "p50") => Some(1.0 / 1.5),
        ("inqjet" | "quicklog", "p50") => Some(5.0),
        ("inqjet" | "quicklog", "p99.9") => Some(1.0),
        _ => None,
    }
}

fn report_cost(
    cfg: &Config,
    clock: &Clock,
    scenario: &Scenario,
    reference: Option<&Contender>,
    peers: &[&Contender],
    got: &Runs,
) {
    print_scenario_head(
        cfg,
        scenario,
        "per-event cost on the calling thread",
        reference,
        got,
    );
    println!(
        "- each run: {} events untimed, a {} ms pause, then {} bursts of {BURST} events, \
         each event timed alone ({}), a {} ms busy pause after each burst",
        cfg.lap,
        SETTLE.as_millis(),
        got.count,
        clock.describe(),
        PAUSE.as_millis()
    );
    println!(
        "- quantiles per event: median over runs of each run's quantile; pooled: quantiles of \
         all runs' samples together; x logring: each peer run's quantile over the mean of the \
         two logring runs around it, median (min-max) over pairs; timer pair alone: {BURST} \
         empty timed regions after each burst, every run"
    );
    println!();
    let qs: Vec<f64> = QUANTILES.iter().map(|&(_, q)| q).collect();
    let labels: Vec<&str> = QUANTILES.iter().map(|&(label, _)| label).collect();
    let mut heading = vec!["contender".to_string()];
    heading.extend(labels.iter().map(|l| format!("{l} ns")));
    heading.push(format!("pooled {} ns", labels.join("/")));
    if reference.is_some() {
        heading.extend(labels.iter().map(|l| format!("{l} x logring")));
    }
    heading.extend(["lost/event", "flagged (max other)"].map(String::from));
    let row = |name: &str, own: &[EventRun], ratio_cells: Vec<String>| {
        let costs: Vec<&CostRun> = own.iter().map(EventRun::cost).collect();
        let mut cells = vec![name.to_string()];
        cells.extend(cost::quantile_cells(clock, &costs, |r| &r.cost, &qs));
        cells.extend(ratio_cells);
        cells.push(lost_cell(own));
        cells.push(flagged(own));
        cells
    };
    let per_q: Vec<Vec<Vec<(f64, bool)>>> = if reference.is_some() {
        qs.iter()
            .map(|&q| {
                ratios(got, |run| {
                    cost::quantile_ns(clock, run.cost(), |r| &r.cost, q)
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut table = vec![heading];
    if let Some(r) = reference {
        table.push(row(
            r.name,
            &got.refs,
            labels.iter().map(|_| "1".into()).collect(),
        ));
    }
    for (c, peer) in peers.iter().enumerate() {
        let cells = per_q
            .iter()
            .map(|of_q| Spread::of(of_q[c].iter().map(|&(r, _)| r)).show(2, "x"))
            .collect();
        table.push(row(peer.name, &got.peers[c], cells));
    }
    let every: Vec<&CostRun> = got
        .refs
        .iter()
        .chain(got.peers.iter().flatten())
        .map(EventRun::cost)
        .collect();
    let mut timer = vec!["timer pair alone".to_string()];
    timer.extend(cost::quantile_cells(clock, &every, |r| &r.timer, &qs));
    timer.resize(table[0].len(), "-".into());
    table.push(timer);
    print_table(&table);
    println!();
    if reference.is_none() {
        return;
    }
    for (c, peer) in peers.iter().enumerate() {
        for (&label, of_q) in labels.iter().zip(&per_q) {
            let Some(goal) = target(peer, label) else {
                continue;
            };
            let spread = Spread::of(of_q[c].iter().map(|&(r, _)| r));
            let verdict = if spread.median >= goal {
                "met"
            } else {
                "NOT met"
            };
            println!(
                "- headline: {} {label} / logring {label} = {} over {} pairs (above 1 = logring \
                 cheaper); target at least {goal}x: {verdict}",
                peer.name,
                spread.show(2, "x"),
                of_q[c].len()
            );
        }
    }
}

fn report_throughput(
    cfg: &Config,
    scenario: &Scenario,
    reference: Option<&Contender>,
    peers: &[&Contender],
    got: &Runs,
) {
    print_scenario_head(
        cfg,
        scenario,
        "events per second on one thread",
        reference,
        got,
    );
    println!(
        "- each run: {} events back to back; calling thread: events logged over its loop \
         alone; drained: events written (lost ones left out) over the time from the first \
         event until the logger's flush returned with every line in the file (logring: \
         events::Writer::finish); x logring: each peer run's rate \
         over the mean of the two logring runs around it, median (min-max) over pairs",
        got.count
    );
    println!();
    let mut heading = vec![
        "contender".to_string(),
        "calling thread Mevents/s".into(),
        "drained Mevents/s".into(),
    ];
    if reference.is_some() {
        heading.push("calling thread x logring".into());
    }
    heading.extend(["lost/event", "flagged (max other)"].map(String::from));
    let row = |name: &str, own: &[EventRun], ratio_cell: Option<String>| {
        let mut cells = vec![name.to_string()];
        cells.push(Spread::of(own.iter().map(|r| r.rate() / 1e6)).show(2, ""));
        cells.push(Spread::of(own.iter().map(|r| r.drained_rate() / 1e6)).show(2, ""));
        cells.extend(ratio_cell);
        cells.push(lost_cell(own));
        cells.push(flagged(own));
        cells
    };
    let of_rate = if reference.is_some() {
        ratios(got, EventRun::rate)
    } else {
        Vec::new()
    };
    let mut table = vec![heading];
    if let Some(r) = reference {
        table.push(row(r.name, &got.refs, Some("1".into())));
    }
    for (c, peer) in peers.iter().enumerate() {
        let cell = (!of_rate.is_empty())
            .then(|| Spread::of(of_rate[c].iter().map(|&(r, _)| r)).show(2, "x"));
        table.push(row(peer.name, &got.peers[c], cell));
    }
    print_table(&table);
}

/// A scenario's heading (its key, `what` it measures, its event) and the
/// lines on how its runs were placed and alternated.
fn print_scenario_head(
    cfg: &Config,
    scenario: &Scenario,
    what: &str,
    reference: Option<&Contender>,
    got: &Runs,
) {
    println!();
    println!(
        "### {}: {what}, `{}`",
        scenario.key(),
        scenario.front.event()
    );
    println!();
    print_method(cfg, reference, got);
}

/// The report's lines on how runs were placed and alternated.
fn print_method(cfg: &Config, reference: Option<&Contender>, got: &Runs) {
    let runs = got.peers.first().map_or(0, Vec::len);
    match reference {
        Some(_) => println!(
            "- {runs} pairs: each peer run sits between two logring runs, after a warm-up run \
             of each contender; one child process per run"
        ),
        None => println!(
            "- no logring contender: peers only, {runs} runs each, alternated, one child \
             process per run"
        ),
    }
    if cfg.core_of(0).is_some() {
        println!(
            "- the thread that logs pinned to core {}; the logger's threads (logring's: the \
             events::Writer thread, polling every 100 µs, ring {} KiB, writing text lines to a \
             file) to core {}",
            cfg.core_of(HOT_SLOT).map_or(0, |c| c.id),
            cfg.ring / 1024,
            cfg.core_of(LOGGER_SLOT).map_or(0, |c| c.id)
        );
    } else {
        println!("- threads not pinned (fewer than 2 usable cores)");
    }
}

fn print_header(cfg: &Config) {
    common::print_title_and_machine(
        "events bench: logring's tracing layer, log logger and macros vs tracing_appender, ftlog, fast_log, inqjet, quicklog",
        cfg,
    );
    println!(
        "- {} pairs; cost runs ~{} ms of bursts; throughput runs {} events",
        cfg.pairs,
        (cfg.run_secs * 1000.0).round(),
        cfg.events
    );
    println!(
        "- logring: tracing_subscriber::registry().with(logring::tracing::Layer::new(sender)) and logring::log::Logger::new(sender) over channel::mpsc ({} KiB), the receiver given to events::Writer::spawn(receiver, a file in a temporary directory, Format::Text) (drops when full, counted in drop records)",
        cfg.ring / 1024
    );
    println!(
        "- fmt: tracing_subscriber::fmt() (default format, no ANSI colours) over tracing_appender::non_blocking's defaults (lossy, 128000 lines) over tracing_appender::rolling::never in a temporary directory"
    );
    println!(
        "- ftlog: builder() defaults (bounded(100000, false): discards when full), utc(), the tsc feature, FileAppender in a temporary directory"
    );
    println!(
        "- fast_log: Config::new().file(..).chan_len(Some(100000)) (blocks when full), a file in a temporary directory"
    );
    if cfg!(feature = "macros") {
        println!(
            "- logring macros: logring::events::set_global(sender) over channel::mpsc ({} KiB), set_max_level(Info), logring::info!, the receiver given to events::Writer as above",
            cfg.ring / 1024
        );
    } else {
        println!(
            "- logring macros: not built (the crate's feature `macros` is off): the macro scenarios run the others alone"
        );
    }
    println!(
        "- bare claim: channel::mpsc ({} KiB) try_claim({BARE_LEN}), a copy of the macro event's bytes with the TSC and the arguments patched in, commit (drops when full, counted); a thread drains the receiver, polling every 100 µs, releasing records unread",
        cfg.ring / 1024
    );
    println!(
        "- tracing layer in the macro scenarios: tracing::info!(\"order {{}} filled at {{}}\", id, px) through logring's layer and writer as above"
    );
    println!(
        "- inqjet: InqJetBuilder with_buffer_size({}), with_timeout(None) (the archiver busy-spins), BackpressureMode::Drop (drops when full, uncounted), ColorMode::Never, a BufWriter over a file in a temporary directory; inqjet::info!",
        cfg.ring
    );
    println!(
        "- quicklog: init!(), with_flush!(FileFlusher) to a file in a temporary directory, quicklog::info! (a boxed closure per event on a queue of 1000000, drops when full, uncounted); flush!() in a loop on a thread of the bench's, spinning while idle"
    );
    println!(
        "- runs during which other processes used over {:.0}% of all cores are flagged",
        common::FOREIGN_CPU_LIMIT * 100.0
    );
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_VAR) {
        child(&spec);
    }
    let cfg = Config::from_env();
    let clock = cost::calibrate(&cfg);
    let all = contenders();
    let scenarios = [
        Scenario {
            front: Front::Tracing,
            mode: Mode::Cost,
        },
        Scenario {
            front: Front::Log,
            mode: Mode::Cost,
        },
        Scenario {
            front: Front::Macro,
            mode: Mode::Cost,
        },
        Scenario {
            front: Front::Tracing,
            mode: Mode::Throughput,
        },
        Scenario {
            front: Front::Log,
            mode: Mode::Throughput,
        },
        Scenario {
            front: Front::Macro,
            mode: Mode::Throughput,
        },
    ];
    let chosen: Vec<&Scenario> = scenarios.iter().filter(|s| cfg.wants(&s.key())).collect();
    if chosen.is_empty() {
        eprintln!(
            "no scenario matches {:?}; scenarios: {}",
            cfg.filters,
            scenarios
                .iter()
                .map(Scenario::key)
                .collect::<Vec<_>>()
                .join(", ")
        );
        std::process::exit(2);
    }
    if cfg.smoke {
        println!("events bench smoke test (run `cargo bench --bench events` to measure)");
    } else {
        print_header(&cfg);
    }
    let began = Instant::now();
    for scenario in chosen {
        let of_front: Vec<&Contender> = all.iter().filter(|c| c.front == scenario.front).collect();
        let reference = of_front.iter().copied().find(|c| c.is_logring());
        let peers: Vec<&Contender> = of_front.into_iter().filter(|c| !c.is_logring()).collect();
        let got = measure(&cfg, &clock, scenario, reference, &peers);
        if cfg.smoke {
            let names: Vec<&str> = reference.iter().chain(&peers).map(|c| c.name).collect();
            println!(
                "{}: {} runs, every event logged reached its log or was counted dropped ({})",
                scenario.key(),
                got.refs.len() + got.peers.iter().map(Vec::len).sum::<usize>(),
                names.join("; "),
            );
            continue;
        }
        match scenario.mode {
            Mode::Cost => report_cost(&cfg, &clock, scenario, reference, &peers, &got),
            Mode::Throughput => report_throughput(&cfg, scenario, reference, &peers, &got),
        }
    }
    println!();
    println!("(took {:.1} s)", began.elapsed().as_secs_f64());
}
