//! The event writer thread over heap channels: what was committed before
//! the guard is finished or dropped is written, even while senders are
//! alive and still sending, and a claim in flight holds it up only a
//! bounded time; an output that fails or panics ends it without a hang;
//! plain and event records come out side by side, in text and in JSON.
//!
//! The events are logged through `logring::tracing::Layer`, as an
//! application logs them; plain records are sent beside them on the same
//! ring. (Records that do not decode need a tag only the crate can set:
//! their tests are the writer's unit tests.)

#![cfg(feature = "tracing")]

mod events_support;

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use events_support::{SharedBuf, heap_ring, json_lines, layer_dispatch, send_plain};
use logring::channel::mpsc;
use logring::events::{Format, Writer};

/// How long a finish may take before the test reports a hang.
const PATIENCE: Duration = Duration::from_secs(20);

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

/// The writer thread over `receiver`, writing into `out` in `format`.
fn spawn(receiver: logring::channel::Receiver, out: &SharedBuf, format: Format) -> Writer {
    Writer::spawn(receiver, out.clone(), format).expect("the writer thread starts")
}

/// The numbers in `t{thread} {n}` and `event t{thread} {n}` lines.
fn numbers(line: &str, prefix: &str) -> Option<(usize, u64)> {
    let at = line.find(prefix)? + prefix.len();
    let mut words = line[at..].split(|c: char| !c.is_ascii_digit());
    let thread = words.next()?.parse().ok()?;
    let n = words.next()?.parse().ok()?;
    Some((thread, n))
}

/// Threads log events and send plain records, then keep their senders (the
/// layer's, and their own) alive while the guard is dropped: every record
/// is written, each thread's in order.
#[test]
fn nothing_committed_before_the_drop_is_lost_while_senders_live() {
    const THREADS: usize = 3;
    const RECORDS: u64 = 4000;
    // Room for every record, so that no event finds the ring full (the
    // layer would drop it): what is checked is the drain at the drop.
    let (sender, receiver) = heap_ring(1 << 20);
    let out = SharedBuf::new();
    let guard = spawn(receiver, &out, Format::Text);
    let dispatch = layer_dispatch(sender.clone());
    let sent = Arc::new(Barrier::new(THREADS + 1));
    let dropped = Arc::new(Barrier::new(THREADS + 1));
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let (sender, dispatch) = (sender.clone(), dispatch.clone());
            let (sent, dropped) = (Arc::clone(&sent), Arc::clone(&dropped));
            thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for n in 0..RECORDS {
                        if n % 10 == 0 {
                            tracing::info!(target: "orders", n, "event t{} {}", t, n);
                        } else {
                            send_plain(&sender, format!("t{t} {n}").as_bytes());
                        }
                    }
                });
                sent.wait();
                // Alive until the guard is gone.
                dropped.wait();
                drop((sender, dispatch));
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
    drop((sender, dispatch));

    let lines = out.lines();
    let mut next = [0u64; THREADS];
    for line in &lines {
        assert!(
            !line.contains("events dropped"),
            "an event dropped: {line:?}"
        );
        let (t, n) = numbers(line, "event t")
            .or_else(|| numbers(line, "t"))
            .unwrap_or_else(|| panic!("an unexpected line: {line:?}"));
        assert_eq!(n, next[t], "thread {t}'s records out of order at {line:?}");
        if n % 10 == 0 {
            for part in [" INFO ", " orders: ", &format!(" n={n}")] {
                assert!(line.contains(part), "{part:?} missing from {line:?}");
            }
        } else {
            assert_eq!(line, &format!("t{t} {n}"));
        }
        next[t] += 1;
    }
    assert_eq!(next, [RECORDS; THREADS], "records lost");
}

/// A thread that never stops logging does not keep `finish` from
/// returning, and what the finishing thread sent before it is all written.
#[test]
fn finish_returns_while_a_sender_keeps_sending() {
    let (sender, receiver) = heap_ring(16 * 1024);
    let out = SharedBuf::new();
    let guard = spawn(receiver, &out, Format::Text);
    let stop = Arc::new(AtomicBool::new(false));
    let noise = {
        let (dispatch, stop) = (layer_dispatch(sender.clone()), Arc::clone(&stop));
        thread::spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                while !stop.load(Ordering::Relaxed) {
                    // Full or not (then dropped and counted): it only keeps
                    // the ring busy.
                    tracing::info!(target: "noise", "noise");
                }
            });
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
        .filter(|line| line.starts_with("mine "))
        .collect();
    let expected: Vec<String> = (0..2000).map(|i| format!("mine {i}")).collect();
    assert_eq!(mine, expected);
}

/// A claim still open at the call holds the drain up for a while: committed
/// meanwhile, it is written with the event logged behind it.
#[test]
fn a_claim_committed_during_the_drain_is_written() {
    let (sender, receiver) = heap_ring(4096);
    let out = SharedBuf::new();
    let guard = spawn(receiver, &out, Format::Text);
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
    let dispatch = layer_dispatch(sender);
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(target: "orders", "behind");
    });
    let (result, _) = finish_within(guard);
    result.unwrap();
    committer.join().unwrap();
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert_eq!(lines[0], "held");
    assert!(lines[1].ends_with(" INFO orders: behind"), "{lines:#?}");
}

/// A claim never committed holds the drain up only a bounded time; the
/// records behind it stay unwritten.
#[test]
fn a_claim_left_open_delays_finish_a_bounded_time() {
    let (sender, receiver) = heap_ring(4096);
    let out = SharedBuf::new();
    let guard = spawn(receiver, &out, Format::Text);
    let dispatch = layer_dispatch(sender.clone());
    let claim = tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(target: "orders", "before");
        let claim = sender.claim(4).unwrap();
        tracing::info!(target: "orders", "behind");
        claim
    });
    let (result, took) = finish_within(guard);
    result.unwrap();
    assert!(took >= Duration::from_millis(100), "did not wait: {took:?}");
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].ends_with(" INFO orders: before"), "{lines:#?}");
    drop(claim);
}

/// Once every sender is gone (the layer's is its only one) and everything
/// is written, the thread ends by itself; `finish` then only joins it.
#[test]
fn the_writer_ends_when_every_sender_is_gone() {
    let (sender, receiver) = heap_ring(4096);
    let out = SharedBuf::new();
    let guard = spawn(receiver, &out, Format::Text);
    let dispatch = layer_dispatch(sender);
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(target: "orders", "last words");
    });
    drop(dispatch);
    let start = Instant::now();
    while out.lines().is_empty() {
        assert!(start.elapsed() < PATIENCE, "never written");
        thread::sleep(Duration::from_millis(1));
    }
    let (result, _) = finish_within(guard);
    result.unwrap();
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].ends_with(" INFO orders: last words"), "{lines:#?}");
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
/// met it while events were still being logged or not.
#[test]
fn a_failing_output_ends_the_writer_with_its_error() {
    for (room, fail_flush, says) in [
        (100, false, "the disk is on fire"),
        (usize::MAX, true, "the pipe broke"),
    ] {
        let (sender, receiver) = mpsc::new(4096).unwrap();
        let guard = Writer::spawn(receiver, Failing { room, fail_flush }, Format::Json).unwrap();
        let dispatch = layer_dispatch(sender);
        tracing::dispatcher::with_default(&dispatch, || {
            for i in 0..1000u64 {
                // Once the thread is gone with the receiver, the layer
                // drops and counts the events.
                tracing::info!(target: "orders", i, "record {}", i);
            }
        });
        let (result, _) = finish_within(guard);
        let error = result.expect_err("the output failed");
        assert!(error.to_string().contains(says), "{error}");
        // Dropping a guard whose thread failed does not hang either.
        let (alive, receiver) = mpsc::new(4096).unwrap();
        let guard = Writer::spawn(receiver, Failing { room, fail_flush }, Format::Text).unwrap();
        let dispatch = layer_dispatch(alive.clone());
        tracing::dispatcher::with_default(&dispatch, || tracing::info!("x"));
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
    let dispatch = layer_dispatch(sender);
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("boom"));
    let (result, _) = finish_within(guard);
    let error = result.expect_err("the output panicked");
    assert!(error.to_string().contains("the output exploded"), "{error}");

    let (sender, receiver) = mpsc::new(4096).unwrap();
    let guard = Writer::spawn(receiver, Panicking, Format::Json).unwrap();
    let dispatch = layer_dispatch(sender.clone());
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("boom"));
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

/// Writes the mixed records the format tests print, through a writer in
/// `format`: a plain line, an event from the layer, and invalid UTF-8.
fn mixed(format: Format) -> Vec<String> {
    let (sender, receiver) = heap_ring(4096);
    let out = SharedBuf::new();
    let guard = spawn(receiver, &out, format);
    let dispatch = layer_dispatch(sender.clone());
    send_plain(&sender, b"hello");
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(target: "orders", order_id = 42u64, "filled {} of {}", 3, 5);
    });
    send_plain(&sender, b"\xff\xfe");
    guard.finish().unwrap();
    out.lines()
}

#[test]
fn plain_and_event_records_mixed_as_text() {
    let lines = mixed(Format::Text);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert_eq!(lines[0], "hello");
    let event = events_support::after_timestamp(&lines[1]);
    assert_eq!(event, " INFO orders: filled 3 of 5 order_id=42");
    assert_eq!(lines[2], "\\xff\\xfe");
}

#[test]
fn plain_and_event_records_mixed_as_json() {
    let lines = json_lines(&mixed(Format::Json));
    assert_eq!(lines.len(), 3, "{lines:#?}");
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
    assert_eq!(event["filename"], file!(), "{event}");
    assert!(event["line_number"].is_u64(), "{event}");
    events_support::check_timestamp(event["timestamp"].as_str().expect("a timestamp"));
    // The event counts among the records: the next plain one is the third.
    assert_eq!(lines[2]["seq"], 3);
    assert_eq!(lines[2]["encoding"], "base64");
    assert_eq!(lines[2]["payload"], "//4=");
}
