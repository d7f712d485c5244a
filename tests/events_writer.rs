//! The event writer thread over heap channels: what was committed before
//! the guard is finished or dropped is written, even while senders are
//! alive and still sending, and a claim in flight holds it up only a
//! bounded time; an output that fails or panics ends it without a hang;
//! plain and event records come out side by side, in text and in JSON.

#![cfg(feature = "events")]

mod events_support;

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use events_support::{UNKNOWN_EVENT_TAG, send_event, send_plain, send_tagged};
use logring::channel::mpsc;
use logring::events::{Format, Writer};
use serde_json::Value;

/// How long a finish may take before the test reports a hang.
const PATIENCE: Duration = Duration::from_secs(20);

/// An output the test reads back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).expect("the output is UTF-8");
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "a partial line: {text:?}"
        );
        text.lines().map(str::to_owned).collect()
    }
}

/// Runs `finish` on the guard, failing the test if it takes longer than
/// [`PATIENCE`]; returns its result and how long it took.
fn finish_within(guard: Writer) -> (io::Result<()>, Duration) {
    let (done, result) = std::sync::mpsc::channel();
    let start = Instant::now();
    thread::spawn(move || {
        let _ = done.send(guard.finish());
    });
    let result = result
        .recv_timeout(PATIENCE)
        .expect("finish hung: it never returned");
    (result, start.elapsed())
}

/// The numbers in `t{thread} {n}` and `event t{thread} {n}` lines.
fn numbers(line: &str, prefix: &str) -> Option<(usize, u64)> {
    let at = line.find(prefix)? + prefix.len();
    let mut words = line[at..].split(|c: char| !c.is_ascii_digit());
    let thread = words.next()?.parse().ok()?;
    let n = words.next()?.parse().ok()?;
    Some((thread, n))
}

/// Threads send plain records and events, then keep their senders alive
/// while the guard is dropped: every record is written, each thread's in
/// order.
#[test]
fn nothing_committed_before_the_drop_is_lost_while_senders_live() {
    const THREADS: usize = 3;
    const RECORDS: u64 = 4000;
    let (sender, receiver) = mpsc::new(64 * 1024).unwrap();
    let out = Shared::default();
    let guard = Writer::spawn(receiver, out.clone(), Format::Text).unwrap();
    let sent = Arc::new(Barrier::new(THREADS + 1));
    let dropped = Arc::new(Barrier::new(THREADS + 1));
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let sender = sender.clone();
            let (sent, dropped) = (Arc::clone(&sent), Arc::clone(&dropped));
            thread::spawn(move || {
                for n in 0..RECORDS {
                    if n % 10 == 0 {
                        send_event(&sender, "orders", &format!("event t{t} {n}"), &[("n", n)]);
                    } else {
                        send_plain(&sender, format!("t{t} {n}").as_bytes());
                    }
                }
                sent.wait();
                // Alive until the guard is gone.
                dropped.wait();
                drop(sender);
            })
        })
        .collect();
    sent.wait();
    let (result, _) = finish_within(guard);
    result.unwrap();
    dropped.wait();
    for sender in senders {
        sender.join().unwrap();
    }
    drop(sender);

    let lines = out.lines();
    let mut next = [0u64; THREADS];
    for line in &lines {
        let (t, n) = numbers(line, "event t")
            .or_else(|| numbers(line, "t"))
            .unwrap_or_else(|| panic!("an unexpected line: {line:?}"));
        assert_eq!(n, next[t], "thread {t}'s records out of order at {line:?}");
        if n % 10 == 0 {
            assert!(line.contains("INFO"), "{line:?}");
            assert!(line.contains("orders"), "{line:?}");
        } else {
            assert_eq!(line, &format!("t{t} {n}"));
        }
        next[t] += 1;
    }
    assert_eq!(next, [RECORDS; THREADS], "records lost");
}

/// A sender that never stops does not keep `finish` from returning, and
/// what the finishing thread sent before it is all written.
#[test]
fn finish_returns_while_a_sender_keeps_sending() {
    let (sender, receiver) = mpsc::new(16 * 1024).unwrap();
    let out = Shared::default();
    let guard = Writer::spawn(receiver, out.clone(), Format::Text).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let noise = {
        let (sender, stop) = (sender.clone(), Arc::clone(&stop));
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                // Full or not: it only keeps the ring busy.
                let _ = sender.send(b"noise");
            }
        })
    };
    for i in 0..2000 {
        send_plain(&sender, format!("mine {i}").as_bytes());
    }
    let (result, _) = finish_within(guard);
    stop.store(true, Ordering::Relaxed);
    noise.join().unwrap();
    result.unwrap();
    let mine: Vec<String> = out
        .lines()
        .into_iter()
        .filter(|line| line != "noise")
        .collect();
    let expected: Vec<String> = (0..2000).map(|i| format!("mine {i}")).collect();
    assert_eq!(mine, expected);
}

/// A claim still open at the call holds the drain up for a while: committed
/// meanwhile, it is written with the records behind it.
#[test]
fn a_claim_committed_during_the_drain_is_written() {
    let (sender, receiver) = mpsc::new(4096).unwrap();
    let out = Shared::default();
    let guard = Writer::spawn(receiver, out.clone(), Format::Text).unwrap();
    let holder = sender.clone();
    let (claimed_tx, claimed) = std::sync::mpsc::channel();
    let committer = thread::spawn(move || {
        let mut claim = holder.claim(4).unwrap();
        claim.copy_from_slice(b"held");
        claimed_tx.send(()).unwrap();
        thread::sleep(Duration::from_millis(50));
        claim.commit();
    });
    claimed.recv().unwrap();
    send_plain(&sender, b"behind");
    let (result, _) = finish_within(guard);
    result.unwrap();
    committer.join().unwrap();
    assert_eq!(out.lines(), ["held", "behind"]);
}

/// A claim never committed holds the drain up only a bounded time; the
/// records behind it stay unwritten.
#[test]
fn a_claim_left_open_delays_finish_a_bounded_time() {
    let (sender, receiver) = mpsc::new(4096).unwrap();
    let out = Shared::default();
    let guard = Writer::spawn(receiver, out.clone(), Format::Text).unwrap();
    send_plain(&sender, b"before");
    let claim = sender.claim(4).unwrap();
    send_plain(&sender, b"behind");
    let (result, took) = finish_within(guard);
    result.unwrap();
    assert!(took >= Duration::from_millis(100), "did not wait: {took:?}");
    assert_eq!(out.lines(), ["before"]);
    drop(claim);
}

/// Once every sender is gone and everything is written, the thread ends
/// by itself; `finish` then only joins it.
#[test]
fn the_writer_ends_when_every_sender_is_gone() {
    let (sender, receiver) = mpsc::new(4096).unwrap();
    let out = Shared::default();
    let guard = Writer::spawn(receiver, out.clone(), Format::Text).unwrap();
    send_plain(&sender, b"last words");
    drop(sender);
    let start = Instant::now();
    while out.lines().is_empty() {
        assert!(start.elapsed() < PATIENCE, "never written");
        thread::sleep(Duration::from_millis(1));
    }
    let (result, _) = finish_within(guard);
    result.unwrap();
    assert_eq!(out.lines(), ["last words"]);
}

/// An output that fails after a while, at writing or at flushing.
struct Failing {
    room: usize,
    fail_flush: bool,
}

impl Write for Failing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.room == 0 {
            return Err(io::Error::other("the disk is on fire"));
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.fail_flush {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "the pipe broke"))
        } else {
            Ok(())
        }
    }
}

/// `finish` returns the output's first error, at once, whether the thread
/// met it while senders were still sending or not.
#[test]
fn a_failing_output_ends_the_writer_with_its_error() {
    for (room, fail_flush, says) in [
        (100, false, "the disk is on fire"),
        (usize::MAX, true, "the pipe broke"),
    ] {
        let (sender, receiver) = mpsc::new(4096).unwrap();
        let guard = Writer::spawn(receiver, Failing { room, fail_flush }, Format::Json).unwrap();
        for i in 0..1000 {
            // The receiver goes away with the thread: sends fail then.
            if sender.send(format!("record {i}").as_bytes()).is_err() {
                break;
            }
        }
        let (result, _) = finish_within(guard);
        let error = result.expect_err("the output failed");
        assert!(error.to_string().contains(says), "{error}");
        // Dropping a guard whose thread failed does not hang either.
        let (alive, receiver) = mpsc::new(4096).unwrap();
        let guard = Writer::spawn(receiver, Failing { room, fail_flush }, Format::Text).unwrap();
        let _ = alive.send(b"x");
        drop(guard);
    }
}

/// An output that panics.
struct Panicking;

impl Write for Panicking {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        panic!("the output exploded");
    }

    fn flush(&mut self) -> io::Result<()> {
        panic!("the output exploded");
    }
}

/// A panic in the output ends the thread; `finish` reports it, and dropping
/// the guard neither hangs nor panics.
#[test]
fn a_panicking_output_does_not_hang_the_guard() {
    let (sender, receiver) = mpsc::new(4096).unwrap();
    let guard = Writer::spawn(receiver, Panicking, Format::Text).unwrap();
    let _ = sender.send(b"boom");
    let (result, _) = finish_within(guard);
    let error = result.expect_err("the output panicked");
    assert!(error.to_string().contains("the output exploded"), "{error}");

    let (sender, receiver) = mpsc::new(4096).unwrap();
    let guard = Writer::spawn(receiver, Panicking, Format::Json).unwrap();
    let _ = sender.send(b"boom");
    let (done, dropped) = std::sync::mpsc::channel();
    thread::spawn(move || {
        drop(guard);
        let _ = done.send(());
    });
    dropped
        .recv_timeout(PATIENCE)
        .expect("dropping the guard hung");
}

/// Sends the mixed records the format tests print: a plain line, an event,
/// invalid UTF-8, and a record of an event encoding this build does not
/// know.
fn send_mixed(sender: &mpsc::Sender) {
    send_plain(sender, b"hello");
    send_event(sender, "orders", "filled 3 of 5", &[("order_id", 42)]);
    send_plain(sender, b"\xff\xfe");
    send_tagged(sender, UNKNOWN_EVENT_TAG, b"\x01\x02\x03");
}

#[test]
fn plain_and_event_records_mixed_as_text() {
    let (sender, receiver) = mpsc::new(4096).unwrap();
    let out = Shared::default();
    let guard = Writer::spawn(receiver, out.clone(), Format::Text).unwrap();
    send_mixed(&sender);
    guard.finish().unwrap();
    let lines = out.lines();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert_eq!(lines[0], "hello");
    let event = &lines[1];
    for part in ["INFO", "orders", "filled 3 of 5", "order_id=42"] {
        assert!(event.contains(part), "{part:?} missing from {event:?}");
    }
    assert_eq!(lines[2], "\\xff\\xfe");
    assert!(lines[3].contains("undecodable"), "{:?}", lines[3]);
}

#[test]
fn plain_and_event_records_mixed_as_json() {
    let (sender, receiver) = mpsc::new(4096).unwrap();
    let out = Shared::default();
    let guard = Writer::spawn(receiver, out.clone(), Format::Json).unwrap();
    send_mixed(&sender);
    guard.finish().unwrap();
    let lines: Vec<Value> = out
        .lines()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line:?}")))
        .collect();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[0]["tag"], 0);
    assert_eq!(lines[0]["encoding"], "utf8");
    assert_eq!(lines[0]["payload"], "hello");
    let event = &lines[1];
    assert_eq!(event["level"], "INFO", "{event}");
    assert_eq!(event["target"], "orders", "{event}");
    assert_eq!(event["fields"]["message"], "filled 3 of 5", "{event}");
    assert_eq!(event["fields"]["order_id"], 42, "{event}");
    assert_eq!(event["pid"], std::process::id(), "{event}");
    assert!(event["timestamp"].is_string(), "{event}");
    assert_eq!(lines[2]["seq"], 3);
    assert_eq!(lines[2]["encoding"], "base64");
    assert_eq!(lines[2]["payload"], "//4=");
    assert_eq!(lines[3]["level"], "WARN", "{}", lines[3]);
    assert_eq!(lines[3]["target"], "logring", "{}", lines[3]);
}
