//! What was logged through logring's macros before a crash survives it: a
//! child process logs numbered events with `logring::info!` into a ring file
//! (MPSC) and reports on a pipe, after each call returns, the number it just
//! logged; then it dies: killed with `SIGKILL` at a random moment while it
//! logs, or it panics, or it aborts. Afterwards `logring tail --no-follow
//! --format json` prints every event the child reported, in order, with no
//! gap: events `0..=L` where `L` is the last number reported, and at most
//! the one event after it (logged, not yet reported, when the kill came).
//! Each event has an argument of the slow path, formatted into the claim:
//! a kill may land inside that formatting, leaving a record nobody commits;
//! the tail steps over it.
//!
//! The child is this test binary run again (see `process`); its events are
//! decoded by the `logring` command, which shares nothing with it but the
//! file: the callsites' format strings come from the ring's dictionary.

#![cfg(all(target_os = "linux", not(miri)))]

mod cli_support;
mod common;
mod events_support;
#[macro_use]
mod process;
mod ringfile;

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use events_support::{field, json_lines, str_key, u64_field};
use logring::file::{Mode, Options, RingFile};
use process::Proc;
use ringfile::TempPath;
use serde_json::json;

/// Large enough for every event a child logs: none is dropped, so every gap
/// would be the crash's.
const RING: usize = 4 << 20;
/// Events a child killed at a random moment logs at most (then it waits to
/// be killed): far more than it logs before the latest kill.
const KILLED_LIMIT: u64 = 20_000;
/// Events a child logs before it panics or aborts.
const CRASH_AFTER: u64 = 500;
/// The kill comes up to this long after the child's first event.
const MAX_DELAY: Duration = Duration::from_millis(30);
/// Children killed at random moments.
const KILLS: u64 = 6;

/// How the child ends.
const BY_KILL: u64 = 0;
const BY_PANIC: u64 = 1;
const BY_ABORT: u64 = 2;

#[test]
fn child() {
    let Some((role, ring)) = process::child() else {
        return;
    };
    match role.name.as_str() {
        "log" => log_numbered(&ring, role.arg(0), role.arg(1)),
        other => panic!("unknown role {other}"),
    }
}

/// A type of the macros' slow path: formatted into the record.
struct Side(u64);

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(if self.0 % 2 == 0 { "buy" } else { "sell" })
    }
}

/// The message of event `n`, as `format!` writes it.
fn message(n: u64) -> String {
    let px = n as f64 / 4.0;
    format!("event {n} at {px:.2} by {:?} ({:>5})", "ann", Side(n))
}

/// Logs events `0..limit` through the macros, reporting each after it
/// returns; then ends as `how` says.
fn log_numbered(ring: &RingFile, how: u64, limit: u64) {
    let sender = ring.mpsc_sender().expect("a sender");
    logring::events::set_global(sender).expect("the child's only set_global");
    for n in 0..limit {
        let px = n as f64 / 4.0;
        logring::info!(target: "crash", "event {n} at {px:.2} by {:?} ({:>5})", "ann", Side(n));
        report!("committed {n}");
    }
    match how {
        BY_PANIC => panic!("the planned panic after event {}", limit - 1),
        BY_ABORT => std::process::abort(),
        _ => process::wait_for_stdin_eof(),
    }
}

/// A new MPSC ring file for one child.
fn ring(name: &str) -> TempPath {
    let path = TempPath::in_memory(name);
    let ring = RingFile::create(path.path(), Options::new(RING).mode(Mode::Mpsc))
        .unwrap_or_else(|error| panic!("cannot create the ring file: {error}"));
    drop(ring);
    path
}

/// Reads the child's reports until it has closed its stdout (it is dead or
/// dying); returns the last number it reported as committed.
fn last_committed(child: &mut Proc) -> Option<u64> {
    let mut last = None;
    while let Some(line) = child.line() {
        match line.word.as_str() {
            "committed" => last = Some(line.nums[0]),
            _ => child.fail(&format!("reported {line:?}")),
        }
    }
    last
}

/// Runs `logring tail --no-follow --format json` on `path` and checks that
/// it prints events `0..=last` of child `pid`, or `0..=last + 1` if `one_more`,
/// in order; returns how many it printed.
fn check_tail(path: &TempPath, pid: u32, last: u64, one_more: bool) -> u64 {
    let ran = cli_support::run(&["tail", path.arg(), "--no-follow", "--format", "json"]).ok();
    let objects = json_lines(&ran.lines());
    for (n, object) in (0u64..).zip(&objects) {
        assert_eq!(u64_field(object, "n"), n, "line {n}: {object}");
        let px = n as f64 / 4.0;
        assert_eq!(
            object["fields"],
            json!({
                "message": message(n),
                "arg0": "ann",
                // The slow path's field is its text: with its spec.
                "arg1": format!("{:>5}", Side(n)),
                "n": n,
                "px": px,
            }),
            "line {n}"
        );
        assert_eq!(str_key(object, "level"), "INFO", "line {n}: {object}");
        assert_eq!(str_key(object, "target"), "crash", "line {n}: {object}");
        assert!(
            str_key(object, "filename").ends_with("macros_crash.rs"),
            "line {n}: {object}"
        );
        assert_eq!(object["pid"], pid, "line {n}: {object}");
        assert!(object.get("span").is_none(), "line {n}: {object}");
    }
    let printed = objects.len() as u64;
    let most = if one_more { last + 2 } else { last + 1 };
    assert!(
        (last + 1..=most).contains(&printed),
        "the child reported events 0..={last} committed; the tail printed {printed} \
         events; stderr: {}",
        ran.err()
    );
    if let Some(object) = objects.last() {
        assert_eq!(field(object, "n"), printed - 1);
    }
    printed
}

#[test]
fn events_committed_before_a_sigkill_are_all_decoded() {
    let _turn = process::one_at_a_time();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    println!("seed {seed}");
    for trial in 0..KILLS {
        let path = ring("killed");
        let mut child = Proc::spawn("log", path.path(), &[BY_KILL, KILLED_LIMIT]);
        let first = child.expect("committed")[0];
        let delay = common::mix(seed ^ trial) % MAX_DELAY.as_micros() as u64;
        thread::sleep(Duration::from_micros(delay));
        child.kill();
        let last = last_committed(&mut child).unwrap_or(first);
        let printed = check_tail(&path, child.pid(), last, true);
        println!("trial {trial}: killed after {delay} µs, {printed} events survive");
    }
}

/// Runs a child on a new ring file `name` that logs [`CRASH_AFTER`] events
/// then ends as `how` says; checks its reports and, with `check_end`, how it
/// ended; then that `logring tail` decodes every event it committed.
fn crash_and_tail(name: &str, how: u64, check_end: impl FnOnce(ExitStatus)) {
    let _turn = process::one_at_a_time();
    let path = ring(name);
    let mut child = Proc::spawn("log", path.path(), &[how, CRASH_AFTER]);
    let last = last_committed(&mut child);
    assert_eq!(last, Some(CRASH_AFTER - 1), "the child's reports");
    check_end(child.reap());
    check_tail(&path, child.pid(), CRASH_AFTER - 1, false);
}

#[test]
fn events_committed_before_a_panic_are_all_decoded() {
    crash_and_tail("panicked", BY_PANIC, |status| {
        // The test harness exits with 101 when its test panicked.
        assert_eq!(status.code(), Some(101), "the child ended with {status}");
    });
}

#[test]
fn events_committed_before_an_abort_are_all_decoded() {
    crash_and_tail("aborted", BY_ABORT, |status| {
        assert_eq!(
            status.signal(),
            Some(6),
            "the child ended with {status}, not SIGABRT"
        );
    });
}
