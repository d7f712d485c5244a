//! `logring write`, run as the real binary in child processes (see
//! `cli_support`): a writer stopped by a signal leaves every record it
//! committed and says how many; a writer that waits for room says why, and
//! only when no consumer is attached; `--on-full`, `--raw`, `--tag` (which
//! refuses logring's reserved tags) and too long lines do what the help says; a second writer is refused on an
//! SPSC ring; a damaged ring is reported, not waited on.

#![cfg(all(target_os = "linux", feature = "cli"))]

mod cli_support;
mod ringfile;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use cli_support::{
    PATIENCE, Proc, assert_numbered, create_ring, feed, field, number_of, numbered, numbered_input,
    one_at_a_time, run, run_with, spawn_writer, stat_json, stat_until,
};
use ringfile::{HEAD_AT, TempPath, patch_u64};

// ---------------------------------------------------------------------------
// Writers stopped, waiting, or refused a record, and what they write.

/// A `write` stopped by `signal` in the middle of its input leaves every
/// record it committed, in order, and none torn; the record it was copying
/// is skipped; and (SPSC) the next writer takes its place.
fn a_stopped_writer_leaves_what_it_committed(signal: libc::c_int) {
    let _turn = one_at_a_time();
    let ring = create_ring("stopped-writer", "4MiB", "spsc");
    let (mut writer, mut stdin) = spawn_writer(&ring);
    // Slowly enough that it is stopped long before the end of its input.
    let feeder = thread::spawn(move || -> std::io::Result<()> {
        for batch in 0..500 {
            let first = batch * 100 + 1;
            stdin.write_all(&numbered_input(first..=first + 99))?;
            thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    });
    stat_until(&ring, "records", |stat| field(stat, "tail") > 32 << 10);
    writer.signal(signal);
    let status = writer.wait();
    // Killed, or ended as the signal would have after its summary.
    assert_eq!(status.signal(), Some(signal), "{status}");
    // Its input ends in a broken pipe.
    let _ = feeder.join().unwrap();

    let printed = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    assert!(printed.len() > 100, "{} records", printed.len());
    let last = number_of(printed.last().unwrap());
    assert_numbered(&printed, 1..=last, "the stopped writer's records");
    if signal != libc::SIGKILL {
        let err = writer.stderr_text();
        assert_eq!(committed(&err), printed.len() as u64, "{err}");
    }

    run_with(&["write", ring.arg()], b"after\n").ok();
    let ran = run(&["tail", ring.arg(), "--no-follow"]).ok();
    assert_eq!(ran.out(), "after\n", "{}", ran.describe());
}

#[test]
fn a_sigkilled_writer_leaves_every_record_it_committed() {
    a_stopped_writer_leaves_what_it_committed(libc::SIGKILL);
}

#[test]
fn an_interrupted_writer_leaves_every_record_it_committed() {
    a_stopped_writer_leaves_what_it_committed(libc::SIGINT);
}

#[test]
fn a_terminated_writer_leaves_every_record_it_committed() {
    a_stopped_writer_leaves_what_it_committed(libc::SIGTERM);
}

/// The count in the summary line a stopped `write` ends with: `... committed
/// N of M records ...; stopped by a signal`.
fn committed(stderr: &str) -> u64 {
    let summary = stderr
        .lines()
        .last()
        .filter(|line| line.starts_with("logring: ") && line.ends_with("stopped by a signal"))
        .unwrap_or_else(|| panic!("no summary at the end of stderr: {stderr:?}"));
    summary
        .split("committed ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the summary does not say what was committed: {summary:?}"))
}

/// Waits until `proc`'s stderr has `lines` lines; returns them.
fn stderr_lines(proc: &Proc, lines: usize) -> Vec<String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = proc.stderr_text();
        if text.matches('\n').count() >= lines {
            return text.lines().map(str::to_owned).collect();
        }
        assert!(
            Instant::now() < deadline,
            "{}: {lines} lines on stderr not seen within {PATIENCE:?}: {text:?}",
            proc.what
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// Checks that `line` says the ring is full, that no consumer is attached,
/// and what can be done.
#[track_caller]
fn assert_no_consumer_notice(line: &str, ring: &TempPath) {
    for says in [
        "logring: ",
        ring.arg(),
        "full",
        "no consumer is attached",
        &format!("logring tail {}", ring.arg()),
        "--on-full drop",
        "--on-full fail",
    ] {
        assert!(line.contains(says), "does not say {says:?}: {line:?}");
    }
}

#[test]
fn a_writer_waiting_with_no_consumer_says_so_once_and_its_summary_on_ctrl_c() {
    let ring = create_ring("no-consumer", "4KiB", "spsc");
    let lines = hundred_long_lines();
    let (mut writer, stdin) = spawn_writer(&ring);
    let feeder = feed(stdin, (lines.join("\n") + "\n").into_bytes());
    let notice = stderr_lines(&writer, 1);
    assert_eq!(notice.len(), 1, "{notice:?}");
    assert_no_consumer_notice(&notice[0], &ring);

    // A consumer comes, takes 5 records and goes: the writer fills the
    // room they left, waits again, and says so again, once.
    let taken = run(&["tail", ring.arg(), "--count", "5"]).ok().lines();
    assert_eq!(taken, lines[..5]);
    let notices = stderr_lines(&writer, 2);
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert_no_consumer_notice(&notices[1], &ring);

    writer.signal(libc::SIGINT);
    let status = writer.wait();
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status}");
    let _ = feeder.join().unwrap();
    let err = writer.stderr_text();
    assert_eq!(
        err.lines().count(),
        3,
        "two notices and the summary: {err:?}"
    );
    let committed = committed(&err) as usize;
    let kept = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    assert_eq!(5 + kept.len(), committed, "{err}");
    assert_eq!(kept, lines[5..committed], "the records committed");
}

#[test]
fn a_writer_waiting_on_a_stalled_consumer_says_nothing() {
    let ring = create_ring("stalled-consumer", "4KiB", "spsc");
    // A tail whose output nobody reads yet: once the pipe is full it stops
    // releasing records, and stays attached.
    let mut tail = Proc::logring(&["tail", ring.arg()], Stdio::null(), Stdio::piped());
    stat_until(&ring, "the tail attached", |stat| {
        stat["consumer_pid"].is_u64()
    });
    // 1,000 lines of 100 bytes: more than the pipe and the ring hold.
    let lines: Vec<String> = (1..=1000).map(|n| format!("{:<99}", numbered(n))).collect();
    let (mut writer, stdin) = spawn_writer(&ring);
    let feeder = feed(stdin, (lines.join("\n") + "\n").into_bytes());
    stat_until(&ring, "the ring full", |stat| {
        field(stat, "full_rejections") > 0
    });
    // Well past the wait after which a writer looks for a consumer: the
    // writer says nothing, since one is attached.
    thread::sleep(Duration::from_millis(2500));
    assert_eq!(writer.stderr_text(), "", "writer's stderr");

    let printed: Vec<String> = {
        let mut output = tail.lines();
        (0..lines.len()).map(|_| output.expect()).collect()
    };
    assert_eq!(printed, lines);
    feeder.join().unwrap().expect("feeding the writer");
    writer.expect_exit(0);
    let err = writer.stderr_text();
    assert!(
        err.lines().count() == 1 && err.contains("committed 1000 of 1000 records"),
        "{err:?}"
    );
    tail.signal(libc::SIGINT);
    tail.expect_exit(0);
}

#[test]
fn a_writer_interrupted_while_its_input_is_idle_says_what_it_committed() {
    let ring = create_ring("idle-input", "4KiB", "spsc");
    let (mut writer, mut stdin) = spawn_writer(&ring);
    stdin.write_all(b"one\ntwo\nthree\nfour").unwrap();
    stdin.flush().unwrap();
    stat_until(&ring, "three records", |stat| field(stat, "tail") == 3 * 16);
    // Its input stays open and silent; a signal must not wait for more.
    writer.signal(libc::SIGINT);
    let status = writer.wait();
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status}");
    let err = writer.stderr_text();
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert_eq!(committed(&err), 3, "{err:?}");
    // The line without its newline was never finished: not written.
    let kept = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    assert_eq!(kept, ["one", "two", "three"]);
    drop(stdin);
}

/// 100 numbered lines padded to 100 bytes: more than a 4 KiB ring holds.
fn hundred_long_lines() -> Vec<String> {
    (1..=100).map(|n| format!("{:<100}", numbered(n))).collect()
}

#[test]
fn on_full_fail_stops_at_the_first_record_that_does_not_fit() {
    let ring = create_ring("full-fail", "4KiB", "spsc");
    let lines = hundred_long_lines();
    let ran = run_with(
        &["write", ring.arg(), "--on-full", "fail"],
        (lines.join("\n") + "\n").as_bytes(),
    );
    assert_eq!(ran.status.code(), Some(1), "{}", ran.describe());
    assert!(ran.stdout.is_empty(), "{}", ran.describe());
    assert!(
        ran.err().starts_with("logring: ") && ran.err().contains("full"),
        "does not say the ring is full: {}",
        ran.describe()
    );
    let kept = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    assert!(
        !kept.is_empty() && kept.len() < lines.len(),
        "{} records",
        kept.len()
    );
    assert_eq!(
        kept,
        lines[..kept.len()],
        "the records before the full ring"
    );
}

#[test]
fn on_full_drop_goes_on_and_counts_the_drops() {
    let ring = create_ring("full-drop", "4KiB", "spsc");
    let lines = hundred_long_lines();
    let ran = run_with(
        &["write", ring.arg(), "--on-full", "drop"],
        (lines.join("\n") + "\n").as_bytes(),
    )
    .ok();
    let stat = stat_json(&ring);
    let kept = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    // With no consumer, everything after the ring filled was dropped.
    assert!(!kept.is_empty() && kept.len() < lines.len(), "{kept:?}");
    assert_eq!(kept, lines[..kept.len()], "the records kept");
    let dropped = lines.len() - kept.len();
    let err = ran.err();
    assert!(
        err.contains("drop")
            && err
                .split(|c: char| !c.is_ascii_digit())
                .any(|word| word == dropped.to_string()),
        "stderr does not report {dropped} drops: {}",
        ran.describe()
    );
    assert!(
        field(&stat, "full_rejections") >= dropped as u64,
        "{dropped} dropped: {stat}"
    );
}

#[test]
fn a_line_longer_than_the_largest_record_stops_write_naming_it() {
    let ring = create_ring("too-long", "4KiB", "spsc");
    // The largest record of a 4 KiB ring is 2040 bytes.
    let longest = "m".repeat(2040);
    let input = format!("first\n{longest}\n{}\nfourth\n", "z".repeat(2041));
    let ran = run_with(&["write", ring.arg()], input.as_bytes());
    assert_eq!(ran.status.code(), Some(1), "{}", ran.describe());
    assert!(ran.stdout.is_empty(), "{}", ran.describe());
    assert!(
        ran.err().starts_with("logring: ") && ran.err().contains("line 3"),
        "does not name line 3: {}",
        ran.describe()
    );
    let kept = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    assert_eq!(kept, ["first", longest.as_str()]);
}

/// A writer whose ring file's `head` is damaged while it writes (more than a
/// capacity behind or ahead of the tail: positions no ring can have) stops
/// at the first record that meets them and reports the corruption, instead
/// of waiting for room that cannot come.
#[test]
fn a_writer_facing_impossible_positions_reports_the_corruption() {
    const IMPOSSIBLE: &str = "the consumer's head is more than a capacity away from the tail";
    for (mode, ahead) in [
        ("spsc", false),
        ("spsc", true),
        ("mpsc", false),
        ("mpsc", true),
    ] {
        let what = format!("{mode}, head ahead: {ahead}");
        let ring = create_ring("impossible-write", "4KiB", mode);
        let (mut writer, mut stdin) = spawn_writer(&ring);
        stdin.write_all(b"first\n").unwrap();
        stat_until(&ring, "the writer", |stat| {
            field(stat, "producers") == 1 && field(stat, "tail") > 0
        });
        // "first" took a record word and 5 bytes, rounded up to 8. The writer
        // looks at the head within a lap from there: the damage stays more
        // than a capacity away from any tail it reaches by then. (A head
        // ahead by less is a consumer past the tail, which an MPSC producer
        // catches up with.)
        let tail: u64 = 16;
        let head = if ahead {
            tail + 3 * 4096
        } else {
            tail.wrapping_sub(4096 + 64)
        };
        patch_u64(&ring, HEAD_AT, head);
        // More than the ring holds, so the writer must look at the head.
        let feeding = feed(stdin, (hundred_long_lines().join("\n") + "\n").into_bytes());
        writer.expect_exit(1);
        // The writer may have left before reading all of its input.
        let _ = feeding.join().unwrap();
        let err = writer.stderr_text();
        for says in [
            format!("logring: ring file {}: record ", ring.arg()),
            " was refused: corrupt ring at position ".to_owned(),
            format!(": {IMPOSSIBLE} (found {head:#018x})"),
        ] {
            assert!(
                err.contains(&says),
                "{what}: stderr does not say {says:?}: {err:?}"
            );
        }
    }
}

/// Records of the ring as (payload bytes, tag), through `tail --format json
/// --no-follow`.
fn json_records(ring: &TempPath) -> Vec<Vec<u8>> {
    run(&["tail", ring.arg(), "--no-follow", "--format", "json"])
        .ok()
        .json_lines()
        .iter()
        .map(|object| {
            let payload = object["payload"].as_str().unwrap();
            let bytes = match object["encoding"].as_str() {
                Some("utf8") => payload.as_bytes().to_vec(),
                Some("base64") => BASE64.decode(payload).unwrap(),
                _ => panic!("unknown encoding: {object}"),
            };
            assert_eq!(field(object, "length"), bytes.len() as u64, "{object}");
            bytes
        })
        .collect()
}

#[test]
fn raw_chunks_carry_binary_bytes_exactly() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let bytes: Vec<u8> = (0..1000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    for (chunk, sizes) in [("100", vec![100; 10]), ("256", vec![256, 256, 256, 232])] {
        let ring = create_ring("raw", "64KiB", "mpsc");
        run_with(
            &["write", ring.arg(), "--raw", "--chunk-size", chunk],
            &bytes,
        )
        .ok();
        let records = json_records(&ring);
        let lengths: Vec<usize> = records.iter().map(Vec::len).collect();
        assert_eq!(lengths, sizes, "--chunk-size {chunk}");
        assert!(
            records.concat() == bytes,
            "--chunk-size {chunk}: other bytes"
        );
    }
}

#[test]
fn an_empty_line_is_an_empty_record_and_a_last_line_needs_no_newline() {
    let ring = create_ring("empty-line", "4KiB", "spsc");
    run_with(&["write", ring.arg()], b"a\n\nb").ok();
    assert_eq!(json_records(&ring), [&b"a"[..], b"", b"b"]);
}

#[test]
fn tag_labels_every_record() {
    let ring = create_ring("tag", "4KiB", "spsc");
    run_with(&["write", ring.arg(), "--tag", "7"], b"x\ny\n").ok();
    run_with(&["write", ring.arg()], b"z\n").ok();
    assert_eq!(tags(&ring), [7, 7, 0]);
}

/// The tag of every record in `ring`, as `logring tail --format json`
/// prints them.
fn tags(ring: &TempPath) -> Vec<u64> {
    run(&["tail", ring.arg(), "--no-follow", "--format", "json"])
        .ok()
        .json_lines()
        .iter()
        .map(|object| field(object, "tag"))
        .collect()
}

/// The tags from 0xffffff00 up are logring's own (log events): `--tag`
/// refuses them as a bad argument, before it attaches or reads anything.
#[test]
fn tag_refuses_the_reserved_tags() {
    let ring = create_ring("reserved-tag", "4KiB", "spsc");
    for (tag, hex) in [("4294967040", "0xffffff00"), ("4294967295", "0xffffffff")] {
        let ran = run_with(&["write", ring.arg(), "--tag", tag], b"x\n");
        ran.usage_error();
        assert!(
            ran.err().contains(&format!(
                "tag {hex} is reserved for logring's own records (0xffffff00..=0xffffffff)"
            )),
            "{}",
            ran.describe()
        );
    }
    // The largest tag of one's own is taken.
    run_with(&["write", ring.arg(), "--tag", "4294967039"], b"x\n").ok();
    assert_eq!(tags(&ring), [0xffff_feff]);
}

// ---------------------------------------------------------------------------
// A second writer.

#[test]
fn a_second_writer_is_refused_on_spsc_and_admitted_on_mpsc() {
    let ring = create_ring("second-writer", "64KiB", "spsc");
    let (mut writer, mut stdin) = spawn_writer(&ring);
    stdin.write_all(b"first\n").unwrap();
    stat_until(&ring, "the first writer", |stat| {
        field(stat, "producers") == 1 && field(stat, "tail") > 0
    });
    run_with(&["write", ring.arg()], b"second\n").fails(
        1,
        &[&format!(
            "ring file {}: another producer is attached to this SPSC ring",
            ring.arg()
        )],
    );
    drop(stdin);
    writer.expect_exit(0);
    assert_eq!(
        run(&["tail", ring.arg(), "--no-follow"]).ok().out(),
        "first\n"
    );

    let ring = create_ring("two-writers", "64KiB", "mpsc");
    let (mut writer, mut stdin) = spawn_writer(&ring);
    stdin.write_all(b"first\n").unwrap();
    stat_until(&ring, "the first writer", |stat| {
        field(stat, "producers") == 1 && field(stat, "tail") > 0
    });
    run_with(&["write", ring.arg()], b"second\n").ok();
    drop(stdin);
    writer.expect_exit(0);
    assert_eq!(
        run(&["tail", ring.arg(), "--no-follow"]).ok().out(),
        "first\nsecond\n"
    );
}
