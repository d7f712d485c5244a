//! The `logring` command beside the plain files and pipes it stands in for,
//! in the same run: lines per second through `logring write`, `logring tail`
//! and the two together, against `cat` doing the same I/O with no ring.
//!
//! ```text
//! cargo bench --features cli --bench cli                 # every scenario
//! cargo bench --features cli --bench cli -- stream       # scenarios whose key matches
//! LOGRING_BENCH_LINES=2000000 LOGRING_BENCH_PAIRS=15 cargo bench --features cli --bench cli
//! ```
//!
//! Each scenario alternates runs of the reference and of `logring` (ref,
//! ours, ref, ..., ref), and each of our runs is compared with the mean of
//! the reference runs on either side; the report gives the median of those
//! ratios over the pairs. `cat` moves the bytes in large blocks; `logring`
//! commits one record per line and writes each record it prints with a
//! system call of its own (so that nothing is released before it is
//! printed), so the ratios are the price of records and of that guarantee.
//!
//! Scenarios (`LOGRING_BENCH_LINES` lines of 20-80 bytes, a file on
//! `/dev/shm`):
//! - `write`: `logring write RING < lines` into an empty ring large enough
//!   for all of them, beside `cat < lines > log` (appending to a log file).
//! - `drain`: `logring tail RING --no-follow > /dev/null` over a ring holding
//!   every line, beside `cat log > /dev/null`.
//! - `stream`: `cat lines | logring write RING` and `logring tail RING
//!   --count N > /dev/null` at the same time through a 1 MiB ring, beside
//!   `cat lines | cat > /dev/null`.
//!
//! Without `--bench` (as `cargo test --benches` runs it) every scenario runs
//! once on a few lines and only checks that every line got through.

mod common;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use common::{BaseConfig, CpuTimes, Spread, cpu_model, env_or, print_table, ring_dir};
use logring::file::{Mode, Options, RingFile};

const LOGRING: &str = env!("CARGO_BIN_EXE_logring");

/// A run is flagged when other processes used more than this share of the
/// machine's CPU time while it ran (this bench and its children excluded).
const FOREIGN_LIMIT: f64 = 0.05;

struct Config {
    base: BaseConfig,
    /// Lines per run (`LOGRING_BENCH_LINES`, 2,000,000).
    lines: u64,
}

/// Files of one bench run, removed at the end.
struct Files {
    dir: PathBuf,
    /// The input: numbered lines.
    lines: PathBuf,
    /// `lines` as a finished log file, for `drain`'s reference.
    log: PathBuf,
    /// The ring file (or the reference's output file) of the current run.
    scratch: PathBuf,
    bytes: u64,
    /// Bytes the lines take in a ring (each record's word, its line less
    /// the newline, and fill to 8 bytes).
    spans: u64,
}

impl Files {
    fn new(lines: u64) -> Self {
        let dir = ring_dir();
        let name =
            |what: &str| dir.join(format!("logring-bench-cli-{}-{what}", std::process::id()));
        let mut files = Self {
            lines: name("lines.txt"),
            log: name("log.txt"),
            scratch: name("scratch"),
            dir: dir.clone(),
            bytes: 0,
            spans: 0,
        };
        let mut out = BufWriter::new(File::create(&files.lines).expect("create the input"));
        let (mut bytes, mut spans) = (0, 0);
        for n in 0..lines {
            // 20 to 80 bytes, like a short log line.
            let pad = (n.wrapping_mul(2_654_435_761) % 61) as usize;
            let line = format!("{n:012} order filled {}\n", "x".repeat(pad));
            bytes += line.len() as u64;
            spans += (8 + line.len() as u64 - 1).next_multiple_of(8);
            out.write_all(line.as_bytes()).expect("write the input");
        }
        out.flush().expect("write the input");
        std::fs::copy(&files.lines, &files.log).expect("copy the input");
        (files.bytes, files.spans) = (bytes, spans);
        files
    }

    /// A new ring file at `scratch` (anything there is removed first).
    fn ring(&self, capacity: usize) -> RingFile {
        let _ = std::fs::remove_file(&self.scratch);
        RingFile::create(&self.scratch, Options::new(capacity).mode(Mode::Spsc))
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// `cat lines`, started, with the read end of its output.
    fn cat_lines(&self) -> (Child, Stdio) {
        let mut source = cat(&[&self.lines])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start cat");
        let pipe = source.stdout.take().expect("a pipe");
        (source, Stdio::from(pipe))
    }

    /// `logring write RING < lines`.
    fn write_all(&self) {
        run(
            logring(&["write", path(&self.scratch)]),
            open(&self.lines),
            Stdio::null(),
            "logring write",
        );
    }

    /// A ring with room for every line and no consumer (with wrap padding
    /// to spare).
    fn roomy_ring(&self) -> RingFile {
        self.ring((self.spans as usize * 2).next_power_of_two())
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        for path in [&self.lines, &self.log, &self.scratch] {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `cat FILES` (standard input if none).
fn cat(files: &[&Path]) -> Command {
    let mut command = Command::new("cat");
    command.args(files);
    command
}

fn logring(args: &[&str]) -> Command {
    let mut command = Command::new(LOGRING);
    command.args(args);
    command
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// Waits for `child`; panics unless it exits with status 0.
fn finish(mut child: Child, what: &str) {
    let status = child.wait().expect("wait for a child");
    assert!(status.success(), "{what} ended with {status}");
}

/// Runs `command` with the given stdin and stdout files.
fn run(mut command: Command, stdin: Stdio, stdout: Stdio, what: &str) {
    let child = command
        .stdin(stdin)
        .stdout(stdout)
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {what}: {error}"));
    finish(child, what);
}

fn open(path: &Path) -> Stdio {
    Stdio::from(File::open(path).expect("open an input"))
}

fn create(path: &Path) -> Stdio {
    Stdio::from(File::create(path).expect("create an output"))
}

/// One scenario: a reference and `logring`, each a closure that prepares its
/// run (untimed) and returns the timed part.
struct Scenario<'a> {
    key: &'static str,
    what: &'static str,
    reference: &'static str,
    ours: &'static str,
    prepare_reference: Prepare<'a>,
    prepare_ours: Prepare<'a>,
}

/// Prepares a run (untimed) and returns the run itself.
type Prepare<'a> = Box<dyn Fn() -> Box<dyn FnOnce() + 'a> + 'a>;

/// One timed run.
struct Timed {
    secs: f64,
    /// Share of the machine's CPU used by other processes meanwhile.
    foreign: Option<f64>,
}

impl Timed {
    fn flagged(&self) -> bool {
        self.foreign.is_some_and(|share| share > FOREIGN_LIMIT)
    }
}

fn time(prepare: &Prepare<'_>) -> Timed {
    let run = prepare();
    let before = CpuTimes::read();
    let start = Instant::now();
    run();
    let secs = start.elapsed().as_secs_f64();
    Timed {
        secs,
        foreign: before.and_then(CpuTimes::foreign_share_besides_children),
    }
}

fn scenarios<'a>(cfg: &'a Config, files: &'a Files) -> Vec<Scenario<'a>> {
    let n = cfg.lines;
    vec![
        Scenario {
            key: "write",
            what: "lines committed from a file",
            reference: "cat < lines > log",
            ours: "logring write",
            prepare_reference: Box::new(move || {
                Box::new(move || {
                    run(cat(&[]), open(&files.lines), create(&files.scratch), "cat");
                })
            }),
            prepare_ours: Box::new(move || {
                drop(files.roomy_ring());
                Box::new(move || {
                    files.write_all();
                    let ring = RingFile::open(&files.scratch).unwrap();
                    assert_eq!(ring.full_rejections(), 0, "the ring was too small");
                    assert_eq!(ring.tail(), files.spans, "not every line was committed");
                })
            }),
        },
        Scenario {
            key: "drain",
            what: "lines printed from a full ring",
            reference: "cat log > /dev/null",
            ours: "logring tail --no-follow",
            prepare_reference: Box::new(move || {
                Box::new(move || {
                    run(cat(&[&files.log]), Stdio::null(), Stdio::null(), "cat");
                })
            }),
            prepare_ours: Box::new(move || {
                drop(files.roomy_ring());
                files.write_all();
                Box::new(move || {
                    run(
                        logring(&["tail", path(&files.scratch), "--no-follow"]),
                        Stdio::null(),
                        Stdio::null(),
                        "logring tail",
                    );
                    let ring = RingFile::open(&files.scratch).unwrap();
                    assert!(ring.is_empty(), "tail left lines in the ring");
                })
            }),
        },
        Scenario {
            key: "stream",
            what: "lines from a writer to a reader, at once",
            reference: "cat lines | cat > /dev/null",
            ours: "cat | logring write, logring tail",
            prepare_reference: Box::new(move || {
                Box::new(move || {
                    let (source, pipe) = files.cat_lines();
                    run(cat(&[]), pipe, Stdio::null(), "cat");
                    finish(source, "cat");
                })
            }),
            prepare_ours: Box::new(move || {
                drop(files.ring(1 << 20));
                Box::new(move || {
                    let count = n.to_string();
                    let tail = logring(&["tail", path(&files.scratch), "--count", &count])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .spawn()
                        .expect("start logring tail");
                    let (source, pipe) = files.cat_lines();
                    // Its report of waits for room goes nowhere: waiting is
                    // what a writer ahead of its reader does.
                    let mut write = logring(&["write", path(&files.scratch)]);
                    write.stderr(Stdio::null());
                    run(write, pipe, Stdio::null(), "logring write");
                    finish(source, "cat");
                    finish(tail, "logring tail");
                    let ring = RingFile::open(&files.scratch).unwrap();
                    assert!(ring.is_empty(), "tail left lines in the ring");
                })
            }),
        },
    ]
}

/// The runs of one scenario: `reference[i]` and `reference[i + 1]` are on
/// either side of `ours[i]`.
struct Measured {
    reference: Vec<Timed>,
    ours: Vec<Timed>,
}

fn measure(scenario: &Scenario<'_>, pairs: usize) -> Measured {
    let mut reference = vec![time(&scenario.prepare_reference)];
    let mut ours = Vec::new();
    for _ in 0..pairs {
        ours.push(time(&scenario.prepare_ours));
        reference.push(time(&scenario.prepare_reference));
    }
    Measured { reference, ours }
}

fn report(cfg: &Config, scenario: &Scenario<'_>, measured: &Measured) {
    let lines = cfg.lines as f64;
    let rate = |runs: &[Timed]| Spread::of(runs.iter().map(|r| lines / r.secs / 1e6));
    let ratios = Spread::of(measured.ours.iter().enumerate().map(|(i, ours)| {
        let around = (measured.reference[i].secs + measured.reference[i + 1].secs) / 2.0;
        around / ours.secs
    }));
    let flagged = |runs: &[Timed]| runs.iter().filter(|r| r.flagged()).count();
    println!();
    println!("## {}: {}", scenario.key, scenario.what);
    println!();
    print_table(&[
        vec![
            "command".into(),
            "M lines/s, median (min-max)".into(),
            "flagged".into(),
        ],
        vec![
            cell(scenario.reference),
            rate(&measured.reference).show(2, ""),
            format!(
                "{}/{}",
                flagged(&measured.reference),
                measured.reference.len()
            ),
        ],
        vec![
            cell(scenario.ours),
            rate(&measured.ours).show(2, ""),
            format!("{}/{}", flagged(&measured.ours), measured.ours.len()),
        ],
    ]);
    println!();
    println!(
        "logring / reference, median of {} pair ratios: {}",
        measured.ours.len(),
        ratios.show(2, "x")
    );
}

/// A command as a table cell: in code quotes, its pipes escaped.
fn cell(command: &str) -> String {
    format!("`{}`", command.replace('|', "\\|"))
}

fn main() {
    if !cfg!(target_os = "linux") {
        println!("cli bench: ring files need Linux; nothing to run");
        return;
    }
    let base = BaseConfig::from_env(None);
    let lines = if base.smoke {
        2_000
    } else {
        env_or("LOGRING_BENCH_LINES", 2_000_000u64).max(1)
    };
    let cfg = Config { base, lines };
    let files = Files::new(cfg.lines);
    let scenarios = scenarios(&cfg, &files);
    let chosen: Vec<&Scenario<'_>> = scenarios.iter().filter(|s| cfg.base.wants(s.key)).collect();
    if chosen.is_empty() {
        eprintln!(
            "no scenario matches {:?}; scenarios: write, drain, stream",
            cfg.base.filters
        );
        std::process::exit(2);
    }
    if cfg.base.smoke {
        println!("cli bench smoke test (run `cargo bench --features cli --bench cli` to measure)");
        for scenario in chosen {
            measure(scenario, 1);
            println!("{}: ok", scenario.key);
        }
        return;
    }
    println!("# logring command bench");
    println!();
    println!(
        "{}; {} lines ({:.1} MB) per run, {} pairs per scenario; input and rings in {}",
        cpu_model(),
        cfg.lines,
        files.bytes as f64 / 1e6,
        cfg.base.pairs,
        files.dir.display()
    );
    let began = Instant::now();
    for scenario in chosen {
        let measured = measure(scenario, cfg.base.pairs);
        report(&cfg, scenario, &measured);
    }
    println!();
    println!("(took {:.1} s)", began.elapsed().as_secs_f64());
}
