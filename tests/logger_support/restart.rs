//! Loggers restarted and upgraded, tailers restarted: two logger processes
//! write into one ring file, one after the other. The first, "build 1",
//! logs rounds of events from callsites A and B and exits; the second, a
//! "new build" (the same test binary with another switch in its
//! environment), logs from B and C. Tailers started after both loggers, or
//! following the ring and killed and restarted in the middle of the second
//! logger's events, must decode every event once, in order.

use std::ops::Range;
use std::path::Path;
use std::process::Stdio;

use logring::channel::mpsc;
use logring::file::{Options, RingFile};
use serde_json::Value;

use super::ring;
use crate::cli_support;
use crate::events_support::{json_lines, str_key};
use crate::process;
use crate::ringfile::TempPath;

/// Events each logger logs from each of its two callsites.
pub const COUNT: u64 = 10;
/// Where the paused logger stops until its parent lets it go on.
pub const HALF: u64 = COUNT / 2;
pub const RING: usize = 1 << 20;

/// How a test file's loggers log, and what their events decode to.
pub trait Logger {
    /// The test file, which holds the callsites: every event's `filename`
    /// ends with it.
    const FILE: &'static str;

    /// What keeps logging set up while the logger logs.
    type Guard;

    /// Sets up this process's logging into `sender`, for a logger of build
    /// `build`.
    fn start(sender: mpsc::Sender, build: u64) -> Self::Guard;

    /// Callsite A, build 1 only: logs round `i`'s event.
    fn a(i: u64);

    /// Callsite B, both builds: logs round `i`'s event of build `build`.
    fn b(build: u64, i: u64);

    /// Callsite C, build 2 only: logs round `i`'s event.
    fn c(i: u64);

    /// What `expected` decodes to.
    fn decoded(expected: Expected) -> Decoded;
}

/// The callsites build `build` logs from, in the order it logs from them in
/// each round.
pub fn sites(build: u64) -> [char; 2] {
    if build == 1 { ['A', 'B'] } else { ['B', 'C'] }
}

/// One event expected in the output.
#[derive(Clone, Copy, Debug)]
pub struct Expected {
    pub build: u64,
    pub site: char,
    pub i: u64,
    pub pid: u32,
}

/// What an event decodes to, beside its file, line and pid (which every
/// event has).
pub struct Decoded {
    pub level: &'static str,
    pub target: &'static str,
    /// Every field, `message` included.
    pub fields: Value,
    /// The span it was logged in, if any.
    pub span: Option<Value>,
}

/// The body of the test every child runs (see `process`): in a child, a
/// logger as its parent asked; in a normal test run, nothing.
pub fn child<L: Logger>() {
    let Some(role) = process::role() else {
        return;
    };
    match role.name.as_str() {
        "logger" => logger::<L>(&role.path, role.arg(0), role.arg(1)),
        other => panic!("unknown role {other}"),
    }
}

/// Logs `COUNT` rounds as build `build` says, stopping before round
/// `pause_at` (if below `COUNT`) until its stdin is closed.
fn logger<L: Logger>(path: &Path, build: u64, pause_at: u64) {
    let ring = RingFile::open(path).unwrap_or_else(|error| panic!("{error}"));
    let sender = ring.mpsc_sender().expect("a sender");
    let _guard = L::start(sender, build);
    for i in 0..COUNT {
        if i == pause_at {
            report!("paused");
            process::wait_for_stdin_eof();
        }
        for site in sites(build) {
            match site {
                'A' => L::a(i),
                'B' => L::b(build, i),
                _ => L::c(i),
            }
        }
    }
}

/// Build `build`'s events of rounds `rounds`, logged by process `pid`.
fn expected(build: u64, rounds: Range<u64>, pid: u32) -> Vec<Expected> {
    rounds
        .flat_map(|i| {
            sites(build).map(|site| Expected {
                build,
                site,
                i,
                pid,
            })
        })
        .collect()
}

/// Checks one decoded event against what was logged.
#[track_caller]
fn check<L: Logger>(object: &Value, expected: Expected) {
    let Expected {
        build,
        site,
        i,
        pid,
    } = expected;
    let what = format!("{site}{i} of build {build}: {object}");
    let Decoded {
        level,
        target,
        fields,
        span,
    } = L::decoded(expected);
    assert_eq!(object["fields"], fields, "fields of {what}");
    assert_eq!(str_key(object, "level"), level, "level of {what}");
    assert_eq!(str_key(object, "target"), target, "target of {what}");
    assert!(
        str_key(object, "filename").ends_with(L::FILE),
        "file of {what}"
    );
    assert!(object["line_number"].as_u64().is_some(), "line of {what}");
    assert_eq!(object["pid"], pid, "pid of {what}");
    match span {
        Some(span) => {
            assert_eq!(object["span"], span, "span of {what}");
            assert_eq!(object["spans"], Value::Array(vec![span]), "spans of {what}");
        }
        None => assert!(object.get("span").is_none(), "a span in {what}"),
    }
}

#[track_caller]
fn check_all<L: Logger>(lines: &[String], expected: &[Expected], what: &str) {
    let objects = json_lines(lines);
    assert_eq!(
        objects.len(),
        expected.len(),
        "{what}: events decoded: {lines:#?}"
    );
    for (object, &expected) in objects.iter().zip(expected) {
        check::<L>(object, expected);
    }
}

/// Runs logger `build` to its end; returns its pid.
fn run_logger(path: &TempPath, build: u64) -> u32 {
    let mut logger = process::Proc::spawn("logger", path.path(), &[build, COUNT]);
    logger.finish();
    logger.pid()
}

/// `logring tail --no-follow --format json`'s lines.
fn tail_rest(path: &TempPath) -> Vec<String> {
    cli_support::run(&["tail", path.arg(), "--no-follow", "--format", "json"])
        .ok()
        .lines()
}

/// `logring tail --format json` following the ring.
fn follow(path: &TempPath) -> cli_support::Proc {
    cli_support::Proc::logring(
        &["tail", path.arg(), "--format", "json"],
        Stdio::null(),
        Stdio::piped(),
    )
}

/// Reads `n` lines from a following tailer, then kills it; returns those
/// and any it printed before it died. For a tailer that follows one killed
/// while its last line was `last`, a first line repeating it is left out,
/// and not counted (see [`without_repeat`]).
fn read_then_kill(tailer: &mut cli_support::Proc, n: usize, last: Option<&str>) -> Vec<String> {
    let mut lines = tailer.lines();
    let mut read: Vec<String> = Vec::with_capacity(n);
    while read.len() < n {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the tailer stopped after {} lines", read.len()));
        if read.is_empty() && last.is_some() && Some(line.as_str()) == last {
            continue;
        }
        read.push(line);
    }
    tailer.signal(libc::SIGKILL);
    // What it wrote before it died is still in the pipe.
    read.extend(lines.rest());
    tailer.wait();
    read
}

/// `lines` without a first line that repeats `last`: after a SIGKILL, the
/// next tailer may print again the line its predecessor printed last (it
/// was printed, but not yet released: delivery is at least once).
fn without_repeat(last: Option<&str>, mut lines: Vec<String>) -> Vec<String> {
    if last.is_some() && lines.first().map(String::as_str) == last {
        lines.remove(0);
    }
    lines
}

/// Both loggers, then one tailer for everything: `options` makes the ring.
pub fn both_then_tail<L: Logger>(name: &str, options: Options) {
    let _turn = process::one_at_a_time();
    let path = ring(name, options);
    let first = run_logger(&path, 1);
    let second = run_logger(&path, 2);
    let mut all = expected(1, 0..COUNT, first);
    all.extend(expected(2, 0..COUNT, second));
    check_all::<L>(
        &tail_rest(&path),
        &all,
        "a tailer started after both loggers",
    );
}

/// A tailer follows build 1 from before its first event; build 2 logs half
/// its rounds and waits; a second tailer, started between the two halves,
/// decodes the first; a third, started after the second half, decodes it.
/// The tailers before the third are killed with `SIGKILL`.
pub fn following_and_restarted<L: Logger>() {
    let _turn = process::one_at_a_time();
    let path = ring("restarted", Options::new(RING));

    // A tailer that follows build 1 from before its first event.
    let mut tailer = follow(&path);
    let first = run_logger(&path, 1);
    let lines = read_then_kill(&mut tailer, 2 * COUNT as usize, None);
    check_all::<L>(&lines, &expected(1, 0..COUNT, first), "the first tailer");

    // Build 2 logs half its rounds, then waits.
    let mut logger = process::Proc::spawn("logger", path.path(), &[2, HALF]);
    logger.expect("paused");
    let second = logger.pid();

    // A new tailer, started between the two halves, decodes the first
    // (and may print again the last line of the one killed before it).
    let mut tailer = follow(&path);
    let last = lines.last().cloned();
    let lines = read_then_kill(&mut tailer, 2 * HALF as usize, last.as_deref());
    check_all::<L>(&lines, &expected(2, 0..HALF, second), "the second tailer");

    // The second half, decoded by a third tailer started after it.
    logger.finish();
    let last = lines.last().cloned();
    check_all::<L>(
        &without_repeat(last.as_deref(), tail_rest(&path)),
        &expected(2, HALF..COUNT, second),
        "the third tailer",
    );
}
