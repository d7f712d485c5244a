//! `logring tail`, run as the real binary in child processes (see
//! `cli_support`): records go through pipes and ring files between separate
//! processes, tails are stopped by SIGKILL, SIGINT and closed pipes and
//! leave what they did not print, every output format says what the
//! records hold, and `--count`, `--timeout` and `--no-follow` end a tail
//! where they say. A corrupt record and a second consumer are reported.

#![cfg(all(target_os = "linux", feature = "cli"))]

mod cli_support;
mod ringfile;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use cli_support::{
    PATIENCE, Proc, assert_numbered, create_ring, feed, field, number_of, numbered, numbered_input,
    one_at_a_time, run, run_with, spawn_writer, stat_json, stat_until,
};
use ringfile::{HEADER, TempPath, patch_u64};

// ---------------------------------------------------------------------------
// 1. Round trips through pipes, with a tail killed in the middle.

/// 100,000 lines go from a writer's stdin through a small ring to two tails
/// in turn, the first killed with SIGKILL in the middle: together they print
/// every line once, in order, except that the record the first was printing
/// when it died may be printed again by the second.
fn round_trip_through_a_sigkilled_tail(mode: &str) {
    const LINES: u64 = 100_000;
    let _turn = one_at_a_time();
    let ring = create_ring("sigkill", "64KiB", mode);

    let (mut writer, stdin) = spawn_writer(&ring);
    let feeder = feed(stdin, numbered_input(1..=LINES));

    let mut first = Proc::logring(&["tail", ring.arg()], Stdio::null(), Stdio::piped());
    let mut lines = first.lines();
    let mut printed_first: Vec<String> = (0..40_000).map(|_| lines.expect()).collect();
    first.signal(libc::SIGKILL);
    // What it wrote before it died is still in the pipe.
    printed_first.extend(lines.rest());
    let status = first.wait();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "first tail: {status}");

    let mut second = Proc::logring(&["tail", ring.arg()], Stdio::null(), Stdio::piped());
    let mut lines = second.lines();
    let last = numbered(LINES);
    let mut printed_second = Vec::new();
    loop {
        let line = lines.expect();
        let done = line == last;
        printed_second.push(line);
        if done {
            break;
        }
    }
    second.signal(libc::SIGINT);
    printed_second.extend(lines.rest());
    second.expect_exit(0);
    assert_eq!(second.stderr_text(), "", "second tail's stderr");

    feeder.join().unwrap().expect("feeding the writer");
    writer.expect_exit(0);

    let seam_repeated = matches!(
        (printed_first.last(), printed_second.first()),
        (Some(a), Some(b)) if a == b
    );
    let mut all = printed_first;
    let seam = all.len();
    all.extend(printed_second.into_iter().skip(usize::from(seam_repeated)));
    assert_numbered(
        &all,
        1..=LINES,
        &format!("{mode}: both tails (first printed {seam}, seam repeated: {seam_repeated})"),
    );
}

#[test]
fn spsc_round_trip_of_100000_lines_survives_a_sigkilled_tail() {
    round_trip_through_a_sigkilled_tail("spsc");
}

#[test]
fn mpsc_round_trip_of_100000_lines_survives_a_sigkilled_tail() {
    round_trip_through_a_sigkilled_tail("mpsc");
}

// ---------------------------------------------------------------------------
// 2. SIGINT.

#[test]
fn sigint_mid_stream_loses_and_repeats_nothing() {
    const LINES: u64 = 20_000;
    let _turn = one_at_a_time();
    let ring = create_ring("sigint", "4MiB", "spsc");
    run_with(&["write", ring.arg()], &numbered_input(1..=LINES)).ok();

    let mut tail = Proc::logring(&["tail", ring.arg()], Stdio::null(), Stdio::piped());
    let mut lines = tail.lines();
    let mut printed: Vec<String> = (0..5_000).map(|_| lines.expect()).collect();
    tail.signal(libc::SIGINT);
    printed.extend(lines.rest());
    tail.expect_exit(0);
    assert_eq!(tail.stderr_text(), "", "tail's stderr");
    let first = printed.len();

    printed.extend(run(&["tail", ring.arg(), "--no-follow"]).ok().lines());
    assert_numbered(
        &printed,
        1..=LINES,
        &format!("the interrupted tail ({first} lines) and the next"),
    );
}

// ---------------------------------------------------------------------------
// 3. A closed output.

/// Starts `logring tail PATH` piped into `head -n N`; returns (tail, head).
fn tail_into_head(ring: &TempPath, n: usize) -> (Proc, Proc) {
    let mut tail = Proc::logring(&["tail", ring.arg()], Stdio::null(), Stdio::piped());
    let mut head = Command::new("head");
    head.arg("-n")
        .arg(n.to_string())
        .stdin(Stdio::from(tail.take_stdout()))
        .stdout(Stdio::piped());
    let head = Proc::start(head, format!("`head -n {n}`"));
    (tail, head)
}

#[test]
fn tail_into_head_stops_quietly_and_keeps_what_it_did_not_print() {
    // Records larger than a pipe holds a dozen of, so that `tail` is still
    // printing when `head` leaves.
    let ring = create_ring("head", "1MiB", "spsc");
    let big = |n: u64| format!("line {n:06} {}", "y".repeat(5000));
    let input: String = (1..=100).map(|n| big(n) + "\n").collect();
    run_with(&["write", ring.arg()], input.as_bytes()).ok();

    let (mut tail, mut head) = tail_into_head(&ring, 5);
    let printed = head.lines().rest();
    head.expect_exit(0);
    tail.expect_exit(0);
    assert_eq!(
        tail.stderr_text(),
        "",
        "tail's stderr (no broken pipe noise)"
    );
    let expected: Vec<String> = (1..=5).map(big).collect();
    assert_eq!(printed, expected, "what head printed");

    let rest = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    assert!(
        !rest.is_empty(),
        "tail released all 100 records, but a pipe cannot hold them"
    );
    let first = number_of(&rest[0]);
    assert!(first > 5, "record {first} again after head printed 1..=5");
    let expected: Vec<String> = (first..=100).map(big).collect();
    assert!(
        rest == expected,
        "the next tail printed {} records from {first}, not {first}..=100",
        rest.len()
    );
}

#[test]
fn an_idle_tail_notices_its_closed_output() {
    let ring = create_ring("idle-head", "64KiB", "spsc");
    run_with(&["write", ring.arg()], &numbered_input(1..=5)).ok();

    // `head` leaves after the fifth line; no record ever comes after it.
    let (mut tail, mut head) = tail_into_head(&ring, 5);
    assert_numbered(&head.lines().rest(), 1..=5, "head");
    head.expect_exit(0);
    tail.expect_exit_within(0, Duration::from_secs(10));
    assert_eq!(tail.stderr_text(), "", "tail's stderr");

    // All five were printed, so all five were released.
    let rest = run(&["tail", ring.arg(), "--no-follow"]).ok();
    assert_eq!(rest.out(), "", "left in the ring");
}

#[test]
fn a_tail_with_a_closed_output_releases_nothing_it_did_not_print() {
    const LINES: u64 = 50;
    let ring = create_ring("closed", "64KiB", "spsc");
    let mut tail = Proc::logring(&["tail", ring.arg()], Stdio::null(), Stdio::piped());
    drop(tail.take_stdout());
    // Let it attach first (or notice the closed pipe and leave).
    let pid = u64::from(tail.pid());
    let deadline = Instant::now() + PATIENCE;
    while stat_json(&ring)["consumer_pid"].as_u64() != Some(pid) {
        if tail.child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "tail never attached");
        thread::sleep(Duration::from_millis(10));
    }
    run_with(&["write", ring.arg()], &numbered_input(1..=LINES)).ok();
    tail.expect_exit(0);
    assert_eq!(tail.stderr_text(), "", "tail's stderr");

    let rest = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    assert_numbered(&rest, 1..=LINES, "the next tail");
}

#[test]
fn a_tail_whose_first_write_fails_leaves_that_record() {
    const LINES: u64 = 20;
    let ring = create_ring("epipe", "64KiB", "spsc");
    run_with(&["write", ring.arg()], &numbered_input(1..=LINES)).ok();
    // A pipe whose reader is gone before the tail starts: its first write,
    // of record 1, fails with EPIPE.
    let mut ends = [0; 2];
    // SAFETY: `ends` has room for the two descriptors pipe(2) writes.
    assert_eq!(unsafe { libc::pipe(ends.as_mut_ptr()) }, 0, "pipe(2)");
    // SAFETY: pipe(2) just opened both descriptors, and nothing else owns them.
    let (reader, writer) = unsafe {
        use std::os::fd::{FromRawFd, OwnedFd};
        (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1]))
    };
    drop(reader);
    let mut tail = Proc::logring(&["tail", ring.arg()], Stdio::null(), Stdio::from(writer));
    tail.expect_exit(0);
    assert_eq!(tail.stderr_text(), "", "tail's stderr");

    let rest = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    assert_numbered(&rest, 1..=LINES, "the next tail");
}

// ---------------------------------------------------------------------------
// 4. Output formats.

/// The records of the format tests: (payload, tag). All but the last are
/// written as lines; the last, holding a newline, with `--raw`.
fn format_records() -> Vec<(Vec<u8>, u64)> {
    let lines: [&[u8]; 9] = [
        b"plain text",
        b"x",
        b"bad \xff\xfe utf-8",
        b"tab\there",
        b"esc \x1b[31mred\x1b[0m",
        b"nul \x00 del \x7f",
        "h\u{e9}llo \u{2713}".as_bytes(),
        b"the quick brown fox jumps over the lazy dog",
        b"",
    ];
    let mut records: Vec<(Vec<u8>, u64)> = lines.iter().map(|line| (line.to_vec(), 0)).collect();
    records.push((b"cr\r nl\n end".to_vec(), 7));
    records
}

/// A new ring holding the records of [`format_records`].
fn format_ring(name: &str) -> TempPath {
    let ring = create_ring(name, "64KiB", "spsc");
    let records = format_records();
    let (raw, lines) = records.split_last().unwrap();
    let mut input = Vec::new();
    for (line, _) in lines {
        input.extend_from_slice(line);
        input.push(b'\n');
    }
    run_with(&["write", ring.arg()], &input).ok();
    let chunk = raw.0.len().to_string();
    let tag = raw.1.to_string();
    run_with(
        &[
            "write",
            ring.arg(),
            "--raw",
            "--chunk-size",
            &chunk,
            "--tag",
            &tag,
        ],
        &raw.0,
    )
    .ok();
    ring
}

#[test]
fn text_format_escapes_invalid_utf8_and_control_characters() {
    let ring = format_ring("text");
    let ran = run(&["tail", ring.arg(), "--no-follow", "--format", "text"]).ok();
    let expected = "plain text\n\
                    x\n\
                    bad \\xff\\xfe utf-8\n\
                    tab\there\n\
                    esc \\x1b[31mred\\x1b[0m\n\
                    nul \\x00 del \\x7f\n\
                    h\u{e9}llo \u{2713}\n\
                    the quick brown fox jumps over the lazy dog\n\
                    \n\
                    cr\\r nl\\n end\n";
    assert_eq!(ran.out(), expected, "{}", ran.describe());
    assert_eq!(ran.err(), "");
    // The default format is text.
    let ring = format_ring("default");
    assert_eq!(
        run(&["tail", ring.arg(), "--no-follow"]).ok().out(),
        expected
    );
}

#[test]
fn json_format_describes_every_record() {
    let ring = format_ring("json");
    let ran = run(&["tail", ring.arg(), "--no-follow", "--format", "json"]).ok();
    let records = format_records();
    let objects = ran.json_lines();
    assert_eq!(objects.len(), records.len(), "{}", ran.describe());
    let mut last_position = None;
    for (i, (object, (payload, tag))) in objects.iter().zip(&records).enumerate() {
        let keys: Vec<&str> = object
            .as_object()
            .unwrap_or_else(|| panic!("not an object: {object}"))
            .keys()
            .map(String::as_str)
            .collect();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["encoding", "length", "payload", "position", "seq", "tag"],
            "{object}"
        );
        assert_eq!(field(object, "seq"), i as u64 + 1, "{object}");
        let position = field(object, "position");
        assert!(
            last_position.is_none_or(|last| position > last),
            "positions do not increase: {object} after {last_position:?}"
        );
        last_position = Some(position);
        assert_eq!(field(object, "length"), payload.len() as u64, "{object}");
        assert_eq!(field(object, "tag"), *tag, "{object}");
        let text = object["payload"].as_str().expect("a string payload");
        match std::str::from_utf8(payload) {
            Ok(utf8) => {
                assert_eq!(object["encoding"], "utf8", "{object}");
                assert_eq!(text, utf8, "{object}");
            }
            Err(_) => {
                assert_eq!(object["encoding"], "base64", "{object}");
                assert_eq!(BASE64.decode(text).unwrap(), *payload, "{object}");
            }
        }
    }
}

/// The ASCII column of `hexdump -C` for `bytes`.
fn printable(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect()
}

/// Checks a `hexdump -C`-style dump of `payload`: lines `OFFSET  HEX
/// |ASCII|`, 16 bytes a line, optionally closed by a line holding only the
/// length.
fn check_hexdump(dump: &[String], payload: &[u8], what: &str) {
    let mut bytes = Vec::new();
    let mut closed = false;
    for line in dump {
        assert!(!closed, "{what}: a line after the closing offset: {line:?}");
        let (offset, rest) = line.split_once("  ").unwrap_or((line, ""));
        assert!(
            offset.len() == 8 && offset.bytes().all(|b| b.is_ascii_hexdigit()),
            "{what}: no offset: {line:?}"
        );
        let offset = u64::from_str_radix(offset, 16).unwrap();
        if rest.trim().is_empty() {
            assert_eq!(offset, payload.len() as u64, "{what}: closing offset");
            closed = true;
            continue;
        }
        assert_eq!(offset, bytes.len() as u64, "{what}: offset of {line:?}");
        let (hex, ascii) = rest
            .split_once('|')
            .unwrap_or_else(|| panic!("{what}: no ASCII column: {line:?}"));
        let ascii = ascii
            .strip_suffix('|')
            .unwrap_or_else(|| panic!("{what}: ASCII column not closed: {line:?}"));
        let line_bytes: Vec<u8> = hex
            .split_whitespace()
            .map(|byte| {
                assert_eq!(byte.len(), 2, "{what}: {line:?}");
                u8::from_str_radix(byte, 16)
                    .unwrap_or_else(|_| panic!("{what}: not a hex byte {byte:?}: {line:?}"))
            })
            .collect();
        assert!(
            (1..=16).contains(&line_bytes.len()),
            "{what}: {} bytes on {line:?}",
            line_bytes.len()
        );
        assert_eq!(ascii, printable(&line_bytes), "{what}: ASCII of {line:?}");
        bytes.extend(line_bytes);
    }
    assert_eq!(bytes, payload, "{what}: the dumped bytes");
}

#[test]
fn hex_format_dumps_every_record_under_a_header_line() {
    // Identical rings hold their records at identical positions.
    let json_ring = format_ring("hex-positions");
    let positions: Vec<u64> = run(&["tail", json_ring.arg(), "--no-follow", "--format", "json"])
        .ok()
        .json_lines()
        .iter()
        .map(|object| field(object, "position"))
        .collect();
    let ring = format_ring("hex");
    let ran = run(&["tail", ring.arg(), "--no-follow", "--format", "hex"]).ok();
    let lines: Vec<String> = ran
        .lines()
        .into_iter()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let records = format_records();
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("record "))
        .collect();
    assert_eq!(starts.len(), records.len(), "{}", ran.describe());
    assert_eq!(starts[0], 0, "{}", ran.describe());
    for (i, (payload, tag)) in records.iter().enumerate() {
        let header = format!(
            "record {}: position {}, {} bytes, tag {tag}",
            i + 1,
            positions[i],
            payload.len()
        );
        // The docs say `LEN bytes`; "1 byte" is taken as the same.
        let singular = header.replace(", 1 bytes,", ", 1 byte,");
        assert!(
            lines[starts[i]] == header || lines[starts[i]] == singular,
            "{:?} is not {header:?}",
            lines[starts[i]]
        );
        let end = starts.get(i + 1).copied().unwrap_or(lines.len());
        check_hexdump(&lines[starts[i] + 1..end], payload, &header);
    }
}

// ---------------------------------------------------------------------------
// 5. When tail stops.

#[test]
fn count_prints_exactly_n_and_leaves_the_rest() {
    let ring = create_ring("count", "64KiB", "spsc");
    run_with(&["write", ring.arg()], &numbered_input(1..=10)).ok();
    let ran = run(&["tail", ring.arg(), "--count", "3"]).ok();
    assert_numbered(&ran.lines(), 1..=3, "tail --count 3");
    let ran = run(&["tail", ring.arg(), "--no-follow"]).ok();
    assert_numbered(&ran.lines(), 4..=10, "the next tail");
}

#[test]
fn timeout_ends_an_idle_tail() {
    let ring = create_ring("timeout", "64KiB", "spsc");
    let ran = run(&["tail", ring.arg(), "--timeout", "300ms"]).ok();
    assert_eq!(ran.out(), "", "an empty ring");
    run_with(&["write", ring.arg()], &numbered_input(1..=2)).ok();
    let ran = run(&["tail", ring.arg(), "--timeout", "300ms"]).ok();
    assert_numbered(&ran.lines(), 1..=2, "tail --timeout 300ms");
}

#[test]
fn no_follow_on_an_empty_ring_prints_nothing() {
    let ring = create_ring("empty", "64KiB", "mpsc");
    let ran = run(&["tail", ring.arg(), "--no-follow"]).ok();
    assert_eq!(ran.out(), "", "{}", ran.describe());
    assert_eq!(ran.err(), "", "{}", ran.describe());
}

#[test]
fn no_follow_ends_while_a_writer_is_attached_and_writing() {
    let _turn = one_at_a_time();
    let ring = create_ring("live-no-follow", "4MiB", "spsc");
    // Where the ring's tail is after three lines.
    let reference = create_ring("reference", "4MiB", "spsc");
    run_with(&["write", reference.arg()], b"a\nb\nc\n").ok();
    let three = field(&stat_json(&reference), "tail");

    let (mut writer, mut stdin) = spawn_writer(&ring);
    stdin.write_all(b"a\nb\nc\n").unwrap();
    stat_until(&ring, "three records", |stat| field(stat, "tail") == three);
    let ran = run(&["tail", ring.arg(), "--no-follow"]).ok();
    assert_eq!(ran.out(), "a\nb\nc\n", "{}", ran.describe());

    // Now with records arriving all the time.
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut fed = 0;
            while fed < 30_000 && !stop.load(Ordering::Relaxed) {
                for n in fed + 1..=fed + 10 {
                    writeln!(stdin, "{}", numbered(n)).unwrap();
                }
                fed += 10;
                thread::sleep(Duration::from_millis(1));
            }
            fed
        })
    };
    stat_until(&ring, "streamed records", |stat| {
        field(stat, "tail") > three
    });
    let ran = run(&["tail", ring.arg(), "--no-follow"]).ok();
    let printed = ran.lines();
    assert!(!printed.is_empty(), "{}", ran.describe());
    let last = number_of(printed.last().unwrap());
    assert_numbered(&printed, 1..=last, "tail --no-follow during the stream");

    stop.store(true, Ordering::Relaxed);
    let fed = feeder.join().unwrap();
    writer.expect_exit(0);
    let rest = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    assert_numbered(&rest, last + 1..=fed, "the rest of the stream");
}

// ---------------------------------------------------------------------------
// 6. A corrupt record, and a second tail.

#[test]
fn a_corrupt_record_stops_tail_after_the_records_before_it() {
    let ring = create_ring("corrupt-record", "4KiB", "spsc");
    run_with(&["write", ring.arg()], &numbered_input(1..=3)).ok();
    // Record 2 starts after record 1's word and payload, rounded up to 8.
    let second = (8 + numbered(1).len() as u64).next_multiple_of(8);
    patch_u64(&ring, HEADER + second, u64::MAX);
    // The first tail prints record 1 and stops at record 2; the next one
    // starts and stops there.
    for (args, printed) in [
        (vec!["tail", ring.arg()], vec![numbered(1)]),
        (vec!["tail", ring.arg(), "--no-follow"], vec![]),
    ] {
        let ran = run(&args);
        assert_eq!(ran.status.code(), Some(1), "{}", ran.describe());
        assert_eq!(ran.lines(), printed, "before the corruption");
        assert_eq!(
            ran.err(),
            format!(
                "logring: ring file {}: corrupt ring at position {second}: unknown record \
                 state (found 0xffffffffffffffff); the records before it were printed\n",
                ring.arg()
            ),
            "{}",
            ran.describe()
        );
    }
}

#[test]
fn a_second_tail_is_refused_naming_the_first() {
    let ring = create_ring("second-tail", "64KiB", "mpsc");
    let mut first = Proc::logring(&["tail", ring.arg()], Stdio::null(), Stdio::piped());
    let mut lines = first.lines();
    let pid = first.pid();
    stat_until(&ring, "the first tail", |stat| {
        stat["consumer_pid"].as_u64() == Some(u64::from(pid))
    });
    run(&["tail", ring.arg()]).fails(
        1,
        &[
            &format!("ring file {}", ring.arg()),
            &format!("another consumer (pid {pid}) holds this ring"),
        ],
    );
    run(&["tail", ring.arg(), "--no-follow"]).fails(1, &[&format!("(pid {pid})")]);

    // The first goes on working.
    run_with(&["write", ring.arg()], &numbered_input(1..=3)).ok();
    let printed: Vec<String> = (0..3).map(|_| lines.expect()).collect();
    assert_numbered(&printed, 1..=3, "the first tail");
    first.signal(libc::SIGINT);
    first.expect_exit(0);
}
