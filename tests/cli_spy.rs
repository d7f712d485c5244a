//! `logring tail --spy`, run as the real binary in child processes (see
//! `cli_support`): a spy prints records without consuming them, so a
//! consuming `tail` after it still gets every one; it starts at the oldest
//! record or at the end; it needs read permission only; when lapped, it
//! prints a marker whose numbers add up and goes on with records that were
//! written; it decodes events as `tail` does. A spy ends as `tail` ends
//! (`| head`, `--count`, `--timeout`, `--no-follow`, Ctrl-C), and `--from`
//! without `--spy` is a usage error.

#![cfg(all(target_os = "linux", feature = "cli"))]

mod cli_support;
#[cfg(feature = "tracing")]
mod events_support;
#[cfg(feature = "tracing")]
#[macro_use]
mod process;
mod ringfile;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use cli_support::{
    NobodysLogring, Proc, assert_numbered, create_ring, field, is_root, number_of, numbered,
    numbered_input, one_at_a_time, run, run_as_nobody, run_with, spawn_writer, stat_json,
    stat_until,
};
use ringfile::TempPath;
use serde_json::Value;

/// A new ring of `capacity` holding the numbered lines `1..=lines`, with no
/// consumer attached.
fn numbered_ring(name: &str, capacity: &str, lines: u64) -> TempPath {
    let ring = create_ring(name, capacity, "mpsc");
    run_with(&["write", ring.arg()], &numbered_input(1..=lines)).ok();
    ring
}

/// Sends SIGSTOP to `proc` and waits until it is stopped (the signal is
/// delivered asynchronously).
fn sigstop(proc: &Proc) {
    proc.signal(libc::SIGSTOP);
    let stat = format!("/proc/{}/stat", proc.pid());
    let deadline = Instant::now() + cli_support::PATIENCE;
    loop {
        let text = std::fs::read_to_string(&stat).unwrap_or_default();
        // `pid (comm) STATE ...`: the state follows the last parenthesis.
        let state = text
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next());
        if state == Some('T') {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} did not stop: {text:?}",
            proc.what
        );
        thread::sleep(Duration::from_millis(1));
    }
}

// ---------------------------------------------------------------------------
// 1. Looking is not taking.

/// The story: `tail --spy | head -n 5` on a ring of 1,000 records
/// prints five and exits quietly, and the consumer that comes next still
/// gets all 1,000.
#[test]
fn spy_into_head_takes_nothing_from_the_next_consumer() {
    const LINES: u64 = 1_000;
    let ring = numbered_ring("story", "256KiB", LINES);

    let mut spy = Proc::logring(
        &["tail", "--spy", ring.arg()],
        Stdio::null(),
        Stdio::piped(),
    );
    let mut head = Command::new("head");
    head.args(["-n", "5"])
        .stdin(Stdio::from(spy.take_stdout()))
        .stdout(Stdio::piped());
    let mut head = Proc::start(head, "`head -n 5`".to_string());
    assert_numbered(&head.lines().rest(), 1..=5, "head");
    head.expect_exit(0);
    // Whether it was writing or idle when head left, it notices.
    spy.expect_exit(0);
    assert_eq!(spy.stderr_text(), "", "the spy's stderr");

    let ran = run(&["tail", ring.arg(), "--no-follow"]).ok();
    assert_numbered(&ran.lines(), 1..=LINES, "the consumer after the spy");
    assert_eq!(ran.err(), "", "{}", ran.describe());
}

/// `--spy --no-follow`, in every format, prints what a consuming `tail`
/// prints for the same ring, as often as it is asked.
#[test]
fn spy_no_follow_prints_what_tail_prints_and_leaves_it() {
    const LINES: u64 = 300;
    for format in ["text", "json", "hex"] {
        let ring = numbered_ring(&format!("twice-{format}"), "64KiB", LINES);
        let spy = || {
            let ran = run(&[
                "tail",
                "--spy",
                ring.arg(),
                "--no-follow",
                "--format",
                format,
            ])
            .ok();
            assert_eq!(ran.err(), "", "{}", ran.describe());
            ran.out()
        };
        let first = spy();
        let second = spy();
        assert!(first == second, "{format}: two spies in a row differ");
        let tail = run(&["tail", ring.arg(), "--no-follow", "--format", format]).ok();
        assert!(
            first == tail.out(),
            "{format}: the spy printed\n{first}\ntail printed\n{}",
            tail.out()
        );
        if format == "text" {
            assert_numbered(&tail.lines(), 1..=LINES, "text");
        }
        // Consumed now: a spy from the oldest record finds nothing.
        let after = run(&[
            "tail",
            "--spy",
            ring.arg(),
            "--no-follow",
            "--format",
            format,
        ])
        .ok();
        assert_eq!(after.out(), "", "{format}: a spy after the consumer");
    }
}

#[test]
fn spy_count_and_timeout_end_it_as_they_end_tail() {
    let ring = numbered_ring("count", "64KiB", 10);
    let ran = run(&["tail", "--spy", ring.arg(), "--count", "3"]).ok();
    assert_numbered(&ran.lines(), 1..=3, "--spy --count 3");
    let ran = run(&["tail", "--spy", ring.arg(), "--timeout", "300ms"]).ok();
    assert_numbered(&ran.lines(), 1..=10, "--spy --timeout 300ms");
    let empty = create_ring("timeout-empty", "64KiB", "spsc");
    let ran = run(&["tail", "--spy", empty.arg(), "--timeout", "300ms"]).ok();
    assert_eq!(ran.out(), "", "{}", ran.describe());
    // All ten are still there for the consumer.
    let ran = run(&["tail", ring.arg(), "--no-follow"]).ok();
    assert_numbered(&ran.lines(), 1..=10, "the consumer after the spies");
}

#[test]
fn sigint_stops_a_following_spy_quietly() {
    let ring = numbered_ring("sigint", "64KiB", 3);
    let mut spy = Proc::logring(
        &["tail", "--spy", ring.arg()],
        Stdio::null(),
        Stdio::piped(),
    );
    let mut lines = spy.lines();
    let printed: Vec<String> = (0..3).map(|_| lines.expect()).collect();
    assert_numbered(&printed, 1..=3, "the spy");
    spy.signal(libc::SIGINT);
    assert_eq!(lines.rest(), Vec::<String>::new(), "after the signal");
    spy.expect_exit(0);
    assert_eq!(spy.stderr_text(), "", "the spy's stderr");
}

// ---------------------------------------------------------------------------
// 2. Where a spy starts.

#[test]
fn from_now_no_follow_prints_nothing_of_what_was_there() {
    let ring = numbered_ring("now-no-follow", "64KiB", 100);
    let ran = run(&["tail", "--spy", "--from", "now", ring.arg(), "--no-follow"]).ok();
    assert_eq!(ran.out(), "", "{}", ran.describe());
    let ran = run(&[
        "tail",
        "--spy",
        "--from",
        "oldest",
        ring.arg(),
        "--no-follow",
    ])
    .ok();
    assert_numbered(&ran.lines(), 1..=100, "--from oldest");
}

/// Beside an attached consumer, a spy started `--from now` prints only
/// records written after it started, one after the other, and the consumer
/// misses none. (The consumer is stopped while the spy reads: a consumer
/// zeroes what it consumes, so one that keeps up with the writer would lap
/// a spy as often as it is faster, and the markers would fall where the
/// scheduler puts them.)
#[test]
fn from_now_beside_a_consumer_prints_only_what_comes_next() {
    const BEFORE: u64 = 5;
    const SPIED: usize = 10;
    let _turn = one_at_a_time();
    let ring = create_ring("now-live", "4MiB", "mpsc");
    let mut consumer = Proc::logring(&["tail", ring.arg()], Stdio::null(), Stdio::piped());
    let mut consumed = consumer.lines();
    let pid = u64::from(consumer.pid());
    stat_until(&ring, "the consumer", |stat| {
        stat["consumer_pid"].as_u64() == Some(pid)
    });
    let (mut writer, mut stdin) = spawn_writer(&ring);
    stdin.write_all(&numbered_input(1..=BEFORE)).unwrap();
    stdin.flush().unwrap();
    let mut got: Vec<String> = (0..BEFORE).map(|_| consumed.expect()).collect();
    assert_numbered(&got, 1..=BEFORE, "the consumer, before the spy");
    sigstop(&consumer);

    let count = SPIED.to_string();
    let mut spy = Proc::logring(
        &[
            "tail",
            "--spy",
            "--from",
            "now",
            ring.arg(),
            "--count",
            &count,
        ],
        Stdio::null(),
        Stdio::piped(),
    );
    let mut spied = spy.lines();
    // Records keep coming until the spy has printed its ten.
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut fed = BEFORE;
            // Relaxed: the flag carries no data. At most 3 MB, which the
            // ring holds with its consumer stopped.
            while !stop.load(Ordering::Relaxed) && fed < 40_000 {
                for n in fed + 1..=fed + 10 {
                    writeln!(stdin, "{}", numbered(n)).unwrap();
                }
                stdin.flush().unwrap();
                fed += 10;
                thread::sleep(Duration::from_millis(1));
            }
            fed
        })
    };
    let printed: Vec<String> = (0..SPIED).map(|_| spied.expect()).collect();
    spy.expect_exit(0);
    // Relaxed: as above.
    stop.store(true, Ordering::Relaxed);
    let fed = feeder.join().unwrap();
    writer.expect_exit(0);
    assert_eq!(spy.stderr_text(), "", "the spy's stderr");
    let first = number_of(&printed[0]);
    assert!(
        first > BEFORE,
        "the spy printed record {first}, written before it started"
    );
    assert_numbered(
        &printed,
        first..=first + SPIED as u64 - 1,
        "the spy, from now",
    );

    // The consumer got every record, the spied ones included.
    consumer.signal(libc::SIGCONT);
    while got.len() < fed as usize {
        got.push(consumed.expect());
    }
    consumer.signal(libc::SIGINT);
    got.extend(consumed.rest());
    consumer.expect_exit(0);
    assert_numbered(&got, 1..=fed, "the consumer beside the spy");
}

// ---------------------------------------------------------------------------
// 3. Read permission is enough.

#[test]
fn a_read_only_ring_can_be_spied() {
    use std::os::unix::fs::PermissionsExt;
    let ring = numbered_ring("read-only", "64KiB", 100);
    let mode = |bits| std::fs::set_permissions(ring.path(), std::fs::Permissions::from_mode(bits));
    mode(0o444).unwrap();
    let ran = run(&["tail", "--spy", ring.arg(), "--no-follow"]).ok();
    assert_numbered(&ran.lines(), 1..=100, "the spy of a 0444 ring");
    if is_root() {
        // Root may open anything for writing: look as a user who may not.
        let logring = NobodysLogring::new();
        let ran = run_as_nobody(&logring, &["tail", "--spy", ring.arg(), "--no-follow"]).ok();
        assert_numbered(&ran.lines(), 1..=100, "nobody's spy of a 0444 ring");
        assert_eq!(ran.err(), "", "{}", ran.describe());
    }
    // Nothing was taken, nothing attached.
    let stat = stat_json(&ring);
    assert_eq!(stat["consumer_attached"], false, "{stat}");
    assert_eq!(field(&stat, "head"), 0, "{stat}");
    mode(0o644).unwrap();
    let ran = run(&["tail", ring.arg(), "--no-follow"]).ok();
    assert_numbered(&ran.lines(), 1..=100, "the consumer after the spies");
}

// ---------------------------------------------------------------------------
// 4. Lapped.

/// What a spy printed: records (numbered lines, with their positions in
/// JSON) and lap markers.
#[derive(Debug)]
enum Seen {
    Record {
        n: u64,
        /// The record's position and length (JSON only).
        at: Option<(u64, u64)>,
    },
    Lapped {
        lost: u64,
        from: u64,
        to: u64,
    },
}

/// Parses one line a spy printed in `format` (text or json).
fn seen(format: &str, line: &str) -> Seen {
    if format == "json" {
        let object: Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line:?}"));
        if object.get("lapped").is_some() {
            let keys: Vec<&String> = object.as_object().unwrap().keys().collect();
            assert_eq!(keys.len(), 4, "{line}");
            assert_eq!(object["lapped"], true, "{line}");
            return Seen::Lapped {
                lost: field(&object, "lost_bytes"),
                from: field(&object, "from"),
                to: field(&object, "to"),
            };
        }
        let payload = object["payload"].as_str().expect("a text payload");
        let n = number_of(payload);
        assert_eq!(payload, numbered(n), "a record never written: {line}");
        let length = field(&object, "length");
        assert_eq!(length, payload.len() as u64, "{line}");
        return Seen::Record {
            n,
            at: Some((field(&object, "position"), length)),
        };
    }
    if let Some(rest) = line.strip_prefix("logring: lapped: ") {
        let parsed = rest
            .split_once(" bytes lost (positions ")
            .and_then(|(lost, rest)| {
                let (from, to) = rest.strip_suffix(')')?.split_once("..")?;
                Some((lost.parse().ok()?, from.parse().ok()?, to.parse().ok()?))
            });
        let (lost, from, to) = parsed.unwrap_or_else(|| panic!("not a lap marker: {line:?}"));
        return Seen::Lapped { lost, from, to };
    }
    let n = number_of(line);
    assert_eq!(line, numbered(n), "a record never written");
    Seen::Record { n, at: None }
}

/// A spy on a 4 KiB ring prints records 1..=20 and is stopped (SIGSTOP);
/// 180 more records go through the ring to a consumer, many times its
/// capacity; then the spy goes on (SIGCONT) and 10 more are written. It
/// prints 1..=20, one marker whose numbers add up, then records that were
/// written, in order, ending with the last: those after the marker lie at
/// or after its end, those before it end at or before its start.
fn lapped_spy_says_what_it_lost(format: &str) {
    const SEEN: u64 = 20;
    const CYCLED: u64 = 200;
    const LAST: u64 = 210;
    let _turn = one_at_a_time();
    let ring = numbered_ring(&format!("lapped-{format}"), "4KiB", SEEN);
    let spied_up_to = field(&stat_json(&ring), "tail");

    let mut spy = Proc::logring(
        &["tail", "--spy", ring.arg(), "--format", format],
        Stdio::null(),
        Stdio::piped(),
    );
    let mut lines = spy.lines();
    let mut printed: Vec<String> = (0..SEEN).map(|_| lines.expect()).collect();
    sigstop(&spy);

    let mut consumer = Proc::logring(
        &["tail", ring.arg(), "--count", &CYCLED.to_string()],
        Stdio::null(),
        Stdio::piped(),
    );
    let mut consumed = consumer.lines();
    run_with(&["write", ring.arg()], &numbered_input(SEEN + 1..=CYCLED)).ok();
    let got: Vec<String> = (0..CYCLED).map(|_| consumed.expect()).collect();
    consumer.expect_exit(0);
    assert_numbered(&got, 1..=CYCLED, "the consumer");
    let stat = stat_json(&ring);
    let consumed_up_to = field(&stat, "head");
    assert_eq!(consumed_up_to, field(&stat, "tail"), "{stat}");
    assert!(consumed_up_to - spied_up_to > 4096, "{stat}");

    spy.signal(libc::SIGCONT);
    run_with(&["write", ring.arg()], &numbered_input(CYCLED + 1..=LAST)).ok();
    loop {
        let line = lines.expect();
        let last = line.contains(&numbered(LAST));
        printed.push(line);
        if last {
            break;
        }
    }
    spy.signal(libc::SIGINT);
    printed.extend(lines.rest());
    spy.expect_exit(0);
    assert_eq!(spy.stderr_text(), "", "the spy's stderr");

    let seen: Vec<Seen> = printed.iter().map(|line| seen(format, line)).collect();
    let describe = || printed.join("\n");
    let laps: Vec<usize> = (0..seen.len())
        .filter(|&i| matches!(seen[i], Seen::Lapped { .. }))
        .collect();
    assert_eq!(laps.len(), 1, "one lap marker:\n{}", describe());
    let marker = laps[0];
    let Seen::Lapped { lost, from, to } = seen[marker] else {
        unreachable!()
    };
    assert_eq!(lost, to - from, "the marker's numbers:\n{}", describe());
    // It lost its place right after record 20, and no more than was
    // consumed.
    assert_eq!(from, spied_up_to, "where it was lapped:\n{}", describe());
    assert!(to <= consumed_up_to, "where it went on:\n{}", describe());
    assert_eq!(
        marker as u64,
        SEEN,
        "records before the marker:\n{}",
        describe()
    );
    let numbers: Vec<u64> = seen
        .iter()
        .filter_map(|seen| match seen {
            Seen::Record { n, .. } => Some(*n),
            Seen::Lapped { .. } => None,
        })
        .collect();
    let after = &numbers[SEEN as usize..];
    let first = after[0];
    assert!(
        first > SEEN,
        "record {first} again after the marker:\n{}",
        describe()
    );
    let expected: Vec<u64> = (first..=LAST).collect();
    assert_eq!(after, expected, "records after the marker");
    for (i, seen) in seen.iter().enumerate() {
        if let Seen::Record {
            at: Some((position, length)),
            ..
        } = *seen
        {
            if i < marker {
                assert!(position + length <= from, "record {i} ends after the lap");
            } else {
                assert!(position >= to, "record {i} starts before the lap's end");
            }
        }
    }
}

#[test]
fn a_lapped_spy_says_what_it_lost_in_text() {
    lapped_spy_says_what_it_lost("text");
}

#[test]
fn a_lapped_spy_says_what_it_lost_in_json() {
    lapped_spy_says_what_it_lost("json");
}

// ---------------------------------------------------------------------------
// 5. Errors and help.

#[test]
fn from_without_spy_is_a_usage_error() {
    let ring = numbered_ring("from-no-spy", "64KiB", 3);
    run(&["tail", ring.arg(), "--from", "now"]).fails(2, &["--from", "--spy"]);
    run(&["tail", ring.arg(), "--from", "oldest", "--no-follow"]).fails(2, &["--from", "--spy"]);
    run(&["tail", "--spy", ring.arg(), "--from", "yesterday"]).usage_error();
    // Nothing was consumed meanwhile.
    let ran = run(&["tail", ring.arg(), "--no-follow"]).ok();
    assert_numbered(&ran.lines(), 1..=3, "the ring after the refusals");
}

#[test]
fn a_missing_ring_is_an_error_naming_it() {
    let ring = TempPath::in_memory("missing");
    run(&["tail", "--spy", ring.arg()]).fails(1, &[ring.arg()]);
    run(&["tail", "--spy", ring.arg(), "--from", "now", "--no-follow"]).fails(1, &[ring.arg()]);
}

#[test]
fn help_explains_the_spy() {
    let help = run(&["tail", "--help"]).ok().out();
    for part in [
        "--spy",
        "without consuming",
        "--from <WHERE>",
        "oldest",
        "now",
    ] {
        assert!(help.contains(part), "{part:?} missing from:\n{help}");
    }
}

// ---------------------------------------------------------------------------
// 6. Events.

/// Events (and every fifth record plain) this many, from the child.
#[cfg(feature = "tracing")]
const EVENTS: u64 = 100;

/// The spy decodes a child's events as `tail` does: the same lines, in
/// text and in JSON. (Each format on its own copy of the ring, since the
/// `tail` it is compared with consumes.)
#[cfg(feature = "tracing")]
#[test]
fn a_spy_decodes_events_as_tail_does() {
    let ring = create_ring("events", "64KiB", "mpsc");
    let mut child = process::Proc::spawn("events", ring.path(), &[EVENTS]);
    child.expect("sent");
    child.finish();
    let copy = TempPath::in_memory("events-copy");
    std::fs::copy(ring.path(), copy.path()).unwrap();

    for (ring, format) in [(&ring, "text"), (&copy, "json")] {
        let spy = run(&[
            "tail",
            "--spy",
            ring.arg(),
            "--no-follow",
            "--format",
            format,
        ])
        .ok();
        let tail = run(&["tail", ring.arg(), "--no-follow", "--format", format]).ok();
        assert_eq!(spy.lines().len() as u64, EVENTS, "{}", spy.describe());
        assert_eq!(spy.lines(), tail.lines(), "{format}: the spy, then tail");
        let events = spy
            .lines()
            .iter()
            .filter(|line| line.contains("filled"))
            .count() as u64;
        assert_eq!(events, EVENTS - EVENTS / 5, "{format}: {}", spy.describe());
    }
}

// The child: logs events into the ring named by its path, with plain
// records between them.

#[cfg(feature = "tracing")]
#[test]
fn child() {
    let Some(role) = process::role() else {
        return;
    };
    match role.name.as_str() {
        "events" => {
            use tracing_subscriber::layer::SubscriberExt;
            use tracing_subscriber::util::SubscriberInitExt;
            let ring = logring::file::RingFile::open(&role.path).unwrap();
            let sender = ring.mpsc_sender().unwrap();
            tracing_subscriber::registry()
                .with(logring::tracing::Layer::new(sender.clone()))
                .init();
            for n in 0..role.arg(0) {
                if n % 5 == 4 {
                    events_support::send_plain(&sender, format!("plain {n}").as_bytes());
                } else {
                    tracing::info!(target: "orders", order_id = n, qty = 3u64, "filled {}", n);
                }
            }
            report!("sent");
        }
        other => panic!("unknown role {other}"),
    }
}
