//! The callsites of logring's macros across restarts and upgrades: every
//! process that reads a ring decodes its events, whoever registered their
//! callsites (format strings and all) and whenever.
//!
//! Two logger processes write into one ring file through the macros, one
//! after the other: the first, "build 1", logs from callsites A and B and
//! exits; the second, a "new build" (the same test binary with another
//! switch in its environment), logs from B and from C, a callsite build 1
//! never used, with other argument types and a target of its own. Each
//! registers its callsites anew, beside the first one's entries. Checked:
//!
//! - a tailer started after both loggers decodes all their events;
//! - a tailer that follows the first logger decodes its events, and tailers
//!   restarted in the middle of the second logger's events (one killed
//!   after the first half, the next started for the rest) decode theirs;
//! - a ring without a dictionary (`Options::dictionary_len(0)`: always
//!   full) decodes the same, from metadata carried inline in each event.
//!
//! Each event is checked whole: level, message, target, file, every field,
//! and the pid of the process that logged it.

#![cfg(all(target_os = "linux", not(miri)))]

mod cli_support;
mod events_support;
#[macro_use]
mod process;
mod ringfile;

use std::fmt;
use std::process::Stdio;

use events_support::{json_lines, str_key};
use logring::file::{Mode, Options, RingFile};
use ringfile::TempPath;
use serde_json::{Value, json};

/// Events each logger logs from each of its two callsites.
const COUNT: u64 = 10;
/// Where the paused logger stops until its parent lets it go on.
const HALF: u64 = COUNT / 2;
const RING: usize = 1 << 20;

#[test]
fn child() {
    let Some(role) = process::role() else {
        return;
    };
    match role.name.as_str() {
        "logger" => logger(&role.path, role.arg(0), role.arg(1)),
        other => panic!("unknown role {other}"),
    }
}

/// Logs `COUNT` rounds as build `build` says, stopping before round
/// `pause_at` (if below `COUNT`) until its stdin is closed.
fn logger(path: &std::path::Path, build: u64, pause_at: u64) {
    let ring = RingFile::open(path).unwrap_or_else(|error| panic!("{error}"));
    let sender = ring.mpsc_sender().expect("a sender");
    logring::events::set_global(sender).expect("the logger's only set_global");
    for i in 0..COUNT {
        if i == pause_at {
            report!("paused");
            process::wait_for_stdin_eof();
        }
        if build == 1 {
            site_a(i);
            site_b(build, i);
        } else {
            site_b(build, i);
            site_c(i);
        }
    }
}

/// Callsite A: build 1 only.
fn site_a(i: u64) {
    logring::info!("A {i}: {:>4}", i * 3);
}

/// Callsite B: both builds.
fn site_b(build: u64, i: u64) {
    let b = format!("bee {i}");
    logring::warn!("B {i} {b:?} build {build}");
}

/// A type of the macros' slow path.
struct Side(u64);

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0 % 2 == 0 { "buy" } else { "sell" })
    }
}

/// Callsite C: build 2 only.
fn site_c(i: u64) {
    logring::error!(
        target: "fills",
        "C {} {:.1} {flag} {} {:?}",
        i,
        i as f64 + 0.5,
        Side(i),
        'c',
        flag = i % 2 == 0
    );
}

/// One event expected in the output.
#[derive(Clone, Copy, Debug)]
struct Expected {
    build: u64,
    site: char,
    i: u64,
    pid: u32,
}

/// Build `build`'s events of rounds `rounds`, logged by process `pid`.
fn expected(build: u64, rounds: std::ops::Range<u64>, pid: u32) -> Vec<Expected> {
    let sites = if build == 1 { ['A', 'B'] } else { ['B', 'C'] };
    rounds
        .flat_map(|i| {
            sites.map(|site| Expected {
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
fn check(object: &Value, expected: Expected) {
    let Expected {
        build,
        site,
        i,
        pid,
    } = expected;
    let what = format!("{site}{i} of build {build}: {object}");
    let (level, target, fields) = match site {
        'A' => (
            "INFO",
            "macros_restart",
            json!({"message": format!("A {i}: {:>4}", i * 3), "arg0": i * 3, "i": i}),
        ),
        'B' => (
            "WARN",
            "macros_restart",
            json!({
                "message": format!("B {i} \"bee {i}\" build {build}"),
                "i": i,
                "b": format!("bee {i}"),
                "build": build,
            }),
        ),
        _ => {
            let flag = i % 2 == 0;
            let side = Side(i).to_string();
            (
                "ERROR",
                "fills",
                json!({
                    "message": format!("C {i} {:.1} {flag} {side} 'c'", i as f64 + 0.5),
                    "arg0": i,
                    "arg1": i as f64 + 0.5,
                    "arg2": side,
                    "arg3": "c",
                    "flag": flag,
                }),
            )
        }
    };
    assert_eq!(object["fields"], fields, "fields of {what}");
    assert_eq!(str_key(object, "level"), level, "level of {what}");
    assert_eq!(str_key(object, "target"), target, "target of {what}");
    assert!(
        str_key(object, "filename").ends_with("macros_restart.rs"),
        "file of {what}"
    );
    assert!(object["line_number"].as_u64().is_some(), "line of {what}");
    assert_eq!(object["pid"], pid, "pid of {what}");
    assert!(object.get("span").is_none(), "a span in {what}");
}

#[track_caller]
fn check_all(lines: &[String], expected: &[Expected], what: &str) {
    let objects = json_lines(lines);
    assert_eq!(
        objects.len(),
        expected.len(),
        "{what}: events decoded: {lines:#?}"
    );
    for (object, &expected) in objects.iter().zip(expected) {
        check(object, expected);
    }
}

/// A new MPSC ring file with `options`' dictionary.
fn ring(name: &str, options: Options) -> TempPath {
    let path = TempPath::in_memory(name);
    let ring = RingFile::create(path.path(), options.mode(Mode::Mpsc))
        .unwrap_or_else(|error| panic!("cannot create the ring file: {error}"));
    drop(ring);
    path
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
fn both_then_tail(name: &str, options: Options) {
    let _turn = process::one_at_a_time();
    let path = ring(name, options);
    let first = run_logger(&path, 1);
    let second = run_logger(&path, 2);
    let mut all = expected(1, 0..COUNT, first);
    all.extend(expected(2, 0..COUNT, second));
    check_all(
        &tail_rest(&path),
        &all,
        "a tailer started after both loggers",
    );
}

#[test]
fn a_tailer_started_after_both_loggers_decodes_everything() {
    both_then_tail("after-both", Options::new(RING));
}

#[test]
fn a_ring_without_a_dictionary_decodes_from_inline_metadata() {
    both_then_tail("no-dictionary", Options::new(RING).dictionary_len(0));
}

#[test]
fn following_and_restarted_tailers_decode_every_build() {
    let _turn = process::one_at_a_time();
    let path = ring("restarted", Options::new(RING));

    // A tailer that follows build 1 from before its first event.
    let mut tailer = follow(&path);
    let first = run_logger(&path, 1);
    let lines = read_then_kill(&mut tailer, 2 * COUNT as usize, None);
    check_all(&lines, &expected(1, 0..COUNT, first), "the first tailer");

    // Build 2 logs half its rounds, then waits.
    let mut logger = process::Proc::spawn("logger", path.path(), &[2, HALF]);
    logger.expect("paused");
    let second = logger.pid();

    // A new tailer, started between the two halves, decodes the first
    // (and may print again the last line of the one killed before it).
    let mut tailer = follow(&path);
    let last = lines.last().cloned();
    let lines = read_then_kill(&mut tailer, 2 * HALF as usize, last.as_deref());
    check_all(&lines, &expected(2, 0..HALF, second), "the second tailer");

    // The second half, decoded by a third tailer started after it.
    logger.finish();
    let last = lines.last().cloned();
    check_all(
        &without_repeat(last.as_deref(), tail_rest(&path)),
        &expected(2, HALF..COUNT, second),
        "the third tailer",
    );
}
