//! `logring stat`, run as the real binary in child processes (see
//! `cli_support`): what it says of a fresh ring and of a live one, in text
//! and JSON, `--watch` until its output closes or the ring is truncated, and
//! that looking needs read permission only.

#![cfg(all(target_os = "linux", feature = "cli"))]

mod cli_support;
mod ringfile;

use std::fs::{self, Permissions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};

use cli_support::{
    NOBODY, NobodysLogring, Proc, assert_numbered, create_ring, field, is_root, numbered_input,
    run, run_as_nobody, run_with, spawn_writer, stat_json, stat_until,
};
use ringfile::{HEADER, set_len};
use serde_json::Value;

/// `stat`'s text output as (label, value) pairs: a label, two or more
/// spaces, the value.
fn stat_fields(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|line| {
            let (label, value) = line
                .split_once("  ")
                .unwrap_or_else(|| panic!("not a `label  value` line: {line:?}"));
            (label.to_owned(), value.trim_start().to_owned())
        })
        .collect()
}

#[test]
fn stat_describes_a_fresh_ring() {
    let ring = create_ring("stat", "64KiB", "mpsc");
    let ran = run(&["stat", ring.arg()]).ok();
    let expected: Vec<(String, String)> = [
        ("ring file", ring.arg()),
        ("format", "1.2"),
        ("mode", "MPSC"),
        ("capacity", "65536 bytes (64.0 KiB)"),
        ("max record", "32760 bytes"),
        ("head", "0"),
        ("tail", "0"),
        ("used", "0 bytes (0.0%)"),
        ("consumer", "none"),
        ("producers", "0"),
        ("full rejections", "0"),
        ("skipped claims", "0"),
        ("dictionary", "64 of 16384 bytes used (16.0 KiB, 0.4%)"),
    ]
    .iter()
    .map(|&(label, value)| (label.to_owned(), value.to_owned()))
    .collect();
    assert_eq!(stat_fields(&ran.out()), expected, "{}", ran.describe());

    let ring = create_ring("stat-spsc", "4KiB", "spsc");
    let stat = stat_json(&ring);
    let expected = serde_json::json!({
        "path": ring.arg(),
        "format": "1.2",
        "mode": "spsc",
        "capacity": 4096,
        "max_record_len": 2040,
        "head": 0,
        "tail": 0,
        "used_bytes": 0,
        "fill_percent": 0.0,
        "consumer_attached": false,
        "consumer_pid": null,
        "producers": 0,
        "full_rejections": 0,
        "skipped_claims": 0,
        "dictionary_len": 0,
        "dictionary_used": 0,
    });
    assert_eq!(stat, expected);
}

#[test]
fn stat_follows_a_live_ring() {
    let ring = create_ring("stat-live", "1MiB", "mpsc");
    let (mut writer, mut stdin) = spawn_writer(&ring);
    stdin.write_all(&numbered_input(1..=10)).unwrap();
    let before = stat_until(&ring, "a producer and records", |stat| {
        field(stat, "producers") == 1 && field(stat, "tail") > 0
    });
    assert_eq!(
        field(&before, "used_bytes"),
        field(&before, "tail"),
        "{before}"
    );
    stdin.write_all(&numbered_input(11..=20)).unwrap();
    let after = stat_until(&ring, "more records", |stat| {
        field(stat, "tail") > field(&before, "tail")
    });
    assert!(
        field(&after, "used_bytes") > field(&before, "used_bytes"),
        "{before} then {after}"
    );
    assert!(after["fill_percent"].as_f64().unwrap() > 0.0, "{after}");
    assert_eq!(after["consumer_attached"], false, "{after}");

    let mut tail = Proc::logring(&["tail", ring.arg()], Stdio::null(), Stdio::piped());
    let mut lines = tail.lines();
    let printed: Vec<String> = (0..20).map(|_| lines.expect()).collect();
    assert_numbered(&printed, 1..=20, "tail");
    let pid = u64::from(tail.pid());
    let attached = stat_until(&ring, "the consumer, all read", |stat| {
        stat["consumer_pid"].as_u64() == Some(pid) && field(stat, "head") == field(stat, "tail")
    });
    assert_eq!(attached["consumer_attached"], true, "{attached}");
    assert!(field(&attached, "head") > 0, "{attached}");
    assert_eq!(field(&attached, "used_bytes"), 0, "{attached}");
    let text = run(&["stat", ring.arg()]).ok().out();
    let fields = stat_fields(&text);
    assert!(
        fields.contains(&("consumer".into(), format!("pid {pid}"))),
        "{text}"
    );
    assert!(fields.contains(&("producers".into(), "1".into())), "{text}");

    drop(stdin);
    writer.expect_exit(0);
    let gone = stat_until(&ring, "no producer", |stat| field(stat, "producers") == 0);
    assert_eq!(gone["consumer_pid"].as_u64(), Some(pid), "{gone}");

    tail.signal(libc::SIGINT);
    assert_eq!(lines.rest(), Vec::<String>::new(), "nothing more to print");
    tail.expect_exit(0);
    let stat = stat_json(&ring);
    assert_eq!(stat["consumer_attached"], false, "{stat}");
    assert_eq!(stat["consumer_pid"], Value::Null, "{stat}");
}

#[test]
fn stat_watch_prints_one_json_object_a_line_until_its_output_closes() {
    let ring = create_ring("watch", "64KiB", "spsc");
    let mut watch = Proc::logring(
        &[
            "stat",
            ring.arg(),
            "--watch",
            "--json",
            "--interval",
            "200ms",
        ],
        Stdio::null(),
        Stdio::piped(),
    );
    let mut lines = watch.lines_up_to(3);
    for _ in 0..3 {
        let line = lines.expect();
        let stat: Value = serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {line:?}"));
        assert_eq!(stat["path"], ring.arg(), "{stat}");
        assert_eq!(field(&stat, "capacity"), 65536, "{stat}");
    }
    // The reader has closed its end of the pipe after three lines.
    assert_eq!(lines.next(), None);
    watch.expect_exit(0);
}

#[test]
fn stat_needs_read_permission_only() {
    if !is_root() {
        eprintln!("note: not root, so `logring` cannot be run as another user: skipped");
        return;
    }
    let logring = NobodysLogring::new();
    let ring = create_ring("stat-read-only", "4KiB", "spsc");
    run_with(&["write", ring.arg()], b"one\ntwo\n").ok();
    let expected = stat_json(&ring);
    // World-readable, and readable by the group that nobody is in.
    for (mode, group) in [(0o444, 0), (0o640, NOBODY)] {
        fs::set_permissions(ring.path(), Permissions::from_mode(mode)).unwrap();
        std::os::unix::fs::chown(ring.path(), Some(0), Some(group)).unwrap();
        for watch in [false, true] {
            let mut args = vec!["stat", ring.arg(), "--json"];
            if watch {
                args.extend(["--watch", "--interval", "10ms"]);
            }
            let mut command = Command::new(logring.path());
            command
                .args(&args)
                .uid(NOBODY)
                .gid(NOBODY)
                .stdin(Stdio::null())
                .stdout(Stdio::piped());
            let mut proc = Proc::start(command, format!("`logring {}` as nobody", args.join(" ")));
            let mut lines = proc.lines_up_to(2);
            for _ in 0..if watch { 2 } else { 1 } {
                let line = lines.expect();
                let stat: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|error| panic!("not JSON ({error}): {line:?}"));
                assert_eq!(stat, expected, "mode {mode:04o}");
            }
            assert_eq!(lines.next(), None);
            proc.expect_exit(0);
        }
        run_as_nobody(&logring, &["stat", ring.arg()]).ok();
        // Attaching is another matter.
        run_as_nobody(&logring, &["tail", ring.arg()]).fails(1, &[ring.arg(), "Permission denied"]);
    }
    // Not readable: a clear error.
    fs::set_permissions(ring.path(), Permissions::from_mode(0o600)).unwrap();
    run_as_nobody(&logring, &["stat", ring.arg()]).fails(
        1,
        &[&format!(
            "could not open ring file {}: Permission denied",
            ring.arg()
        )],
    );
    assert_eq!(stat_json(&ring), expected, "the ring changed");
}

#[test]
fn stat_watch_stops_with_an_error_when_the_ring_is_truncated() {
    // To nothing (the header's page gone too), and to a header and a bit.
    for len in [0, HEADER + 8] {
        let ring = create_ring("watch-truncated", "4KiB", "spsc");
        let mut watch = Proc::logring(
            &[
                "stat",
                ring.arg(),
                "--watch",
                "--json",
                "--interval",
                "20ms",
            ],
            Stdio::null(),
            Stdio::piped(),
        );
        let mut lines = watch.lines();
        lines.expect();
        set_len(&ring, len);
        // Whatever it printed before it noticed, it stops with status 1 and
        // says why: never killed by SIGBUS.
        let status = watch.wait();
        assert_eq!(
            (status.code(), status.signal()),
            (Some(1), None),
            "stat --watch ended with {status}; its stderr: {:?}",
            watch.stderr_text()
        );
        assert_eq!(
            watch.stderr_text(),
            format!(
                "logring: ring file {}: {len} bytes long, but its header says 8192 \
                 (truncated or extended by another program?)\n",
                ring.arg()
            )
        );
        while let Some(line) = lines.next() {
            serde_json::from_str::<Value>(&line)
                .unwrap_or_else(|error| panic!("not JSON ({error}): {line:?}"));
        }
    }
}
