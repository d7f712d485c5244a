//! Loggers that crash: a child logs numbered events `0, 1, ...` into a ring
//! file and reports on a pipe, after each event returns, the number it just
//! logged; then it is killed with `SIGKILL` at a random moment while it logs,
//! or it panics, or it aborts. Afterwards `logring tail --no-follow --format
//! json` must print every event the child reported, in order, with no gap:
//! events `0..=L` where `L` is the last number reported, and at most the one
//! event after it (logged, not yet reported, when the kill came).

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use logring::channel::mpsc;
use logring::file::{Options, RingFile};
use serde_json::Value;

use super::ring;
use crate::cli_support;
use crate::common;
use crate::events_support::{json_lines, str_key, u64_field};
use crate::process::{self, Proc};
use crate::ringfile::TempPath;

/// Large enough for every event a child logs: none is dropped, so every gap
/// would be the crash's.
pub const RING: usize = 4 << 20;
/// Events a child killed at a random moment logs at most (then it waits to
/// be killed): far more than it logs before the latest kill.
pub const KILLED_LIMIT: u64 = 20_000;
/// Events a child logs before it panics or aborts.
pub const CRASH_AFTER: u64 = 500;
/// The kill comes up to this long after the child's first event.
pub const MAX_DELAY: Duration = Duration::from_millis(30);
/// Children killed at random moments.
pub const KILLS: u64 = 6;

/// How the child ends.
pub const BY_KILL: u64 = 0;
pub const BY_PANIC: u64 = 1;
pub const BY_ABORT: u64 = 2;

/// How a test file's children log, and what their events decode to.
pub trait Logger {
    /// What keeps logging set up while the child logs.
    type Guard;

    /// Sets up this process's logging into `sender`, for a child that will
    /// end as `how` says.
    fn start(sender: mpsc::Sender, how: u64) -> Self::Guard;

    /// Logs event `n`.
    fn log(n: u64);

    /// Checks what is particular to the test file in event `n` as the tail
    /// decoded it, `object`; its number (field `n`), level (`INFO`) and pid
    /// are checked already.
    fn check(n: u64, object: &Value);
}

/// The body of the test every child runs (see `process`): in a child, logs
/// numbered events as its parent asked; in a normal test run, nothing.
pub fn child<L: Logger>() {
    let Some((role, ring)) = process::child() else {
        return;
    };
    match role.name.as_str() {
        "log" => log_numbered::<L>(&ring, role.arg(0), role.arg(1)),
        other => panic!("unknown role {other}"),
    }
}

/// Logs events `0..limit` as `L` does, reporting each after it returns;
/// then ends as `how` says.
fn log_numbered<L: Logger>(ring: &RingFile, how: u64, limit: u64) {
    let sender = ring.mpsc_sender().expect("a sender");
    let _guard = L::start(sender, how);
    for n in 0..limit {
        L::log(n);
        report!("committed {n}");
    }
    match how {
        BY_PANIC => panic!("the planned panic after event {}", limit - 1),
        BY_ABORT => std::process::abort(),
        _ => process::wait_for_stdin_eof(),
    }
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
/// in order, each also as [`Logger::check`] says; returns how many it printed.
fn check_tail<L: Logger>(path: &TempPath, pid: u32, last: u64, one_more: bool) -> u64 {
    let ran = cli_support::run(&["tail", path.arg(), "--no-follow", "--format", "json"]).ok();
    let objects = json_lines(&ran.lines());
    for (n, object) in (0u64..).zip(&objects) {
        assert_eq!(u64_field(object, "n"), n, "line {n}: {object}");
        assert_eq!(str_key(object, "level"), "INFO", "line {n}: {object}");
        assert_eq!(object["pid"], pid, "line {n}: {object}");
        L::check(n, object);
    }
    let printed = objects.len() as u64;
    let most = if one_more { last + 2 } else { last + 1 };
    assert!(
        (last + 1..=most).contains(&printed),
        "the child reported events 0..={last} committed; the tail printed {printed} \
         events; stderr: {}",
        ran.err()
    );
    printed
}

/// Kills [`KILLS`] children, each at a random moment up to [`MAX_DELAY`]
/// after its first event, and checks after each that `logring tail` decodes
/// every event it committed.
pub fn sigkill<L: Logger>() {
    let _turn = process::one_at_a_time();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    println!("seed {seed}");
    for trial in 0..KILLS {
        let path = ring("killed", Options::new(RING));
        let mut child = Proc::spawn("log", path.path(), &[BY_KILL, KILLED_LIMIT]);
        let first = child.expect("committed")[0];
        let delay = common::mix(seed ^ trial) % MAX_DELAY.as_micros() as u64;
        thread::sleep(Duration::from_micros(delay));
        child.kill();
        let last = last_committed(&mut child).unwrap_or(first);
        let printed = check_tail::<L>(&path, child.pid(), last, true);
        println!("trial {trial}: killed after {delay} µs, {printed} events survive");
    }
}

/// A child that panics after [`CRASH_AFTER`] events, checked as
/// [`crash_and_tail`] says.
pub fn panic<L: Logger>() {
    crash_and_tail::<L>("panicked", BY_PANIC, |status| {
        // The test harness exits with 101 when its test panicked.
        assert_eq!(status.code(), Some(101), "the child ended with {status}");
    });
}

/// A child that aborts after [`CRASH_AFTER`] events, checked as
/// [`crash_and_tail`] says.
pub fn abort<L: Logger>() {
    crash_and_tail::<L>("aborted", BY_ABORT, |status| {
        assert_eq!(
            status.signal(),
            Some(6),
            "the child ended with {status}, not SIGABRT"
        );
    });
}

/// Runs a child on a new ring file `name` that logs [`CRASH_AFTER`] events
/// then ends as `how` says; checks its reports and, with `check_end`, how it
/// ended; then that `logring tail` decodes every event it committed.
fn crash_and_tail<L: Logger>(name: &str, how: u64, check_end: impl FnOnce(ExitStatus)) {
    let _turn = process::one_at_a_time();
    let path = ring(name, Options::new(RING));
    let mut child = Proc::spawn("log", path.path(), &[how, CRASH_AFTER]);
    let last = last_committed(&mut child);
    assert_eq!(last, Some(CRASH_AFTER - 1), "the child's reports");
    check_end(child.reap());
    check_tail::<L>(&path, child.pid(), CRASH_AFTER - 1, false);
}
