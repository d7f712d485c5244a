//! A full ring: events that find no room are dropped and counted, never
//! waited for, and the next event that finds room first writes the record
//! "K events dropped" (a WARN event from target `logring` with the count as
//! field `dropped`), so the decoded log shows the gap where it is and how
//! large it is; kept plus dropped is every event logged. With
//! [`FullPolicy::Spin`] and a budget long enough for a draining reader to
//! catch up, nothing is lost.
//!
//! The rings are ring files: their header tells when the writer has drained
//! them, so the test knows the next event finds room.

#![cfg(all(target_os = "linux", not(miri)))]

mod events_support;
mod ringfile;

use std::thread;
use std::time::{Duration, Instant};

use events_support::{
    SharedBuf, after_timestamp, dropped_count, json_lines, spawn_writer, str_key, u64_field,
};
use logring::channel::SpinPolicy;
use logring::events::{Format, FullPolicy};
use logring::file::{Mode, Options, RingFile};
use ringfile::TempPath;
use tracing_subscriber::layer::SubscriberExt;

/// A small ring: a few hundred events fill it. Large enough for a
/// dictionary (rings below 16 KiB have none by default), so events refer to
/// their callsite by id, as they usually do.
const SMALL: usize = 16 * 1024;
/// Events logged into the small ring with nobody reading: many times what
/// it holds.
const OVERFLOW: u64 = 5_000;
/// How long the writer may take to drain a ring before the test reports a
/// hang.
const PATIENCE: Duration = Duration::from_secs(30);

/// One numbered event, the same callsite every time.
fn numbered(n: u64) {
    tracing::info!(n, pad = "some text to make the event larger", "event {}", n);
}

/// The event logged once the ring was drained.
fn after() {
    tracing::info!(after = true, "the ring has room again");
}

fn small_ring(name: &str) -> (TempPath, RingFile) {
    let path = TempPath::in_memory(name);
    let ring = RingFile::create(path.path(), Options::new(SMALL).mode(Mode::Mpsc))
        .unwrap_or_else(|error| panic!("cannot create the ring file: {error}"));
    (path, ring)
}

/// Waits until the ring's consumer has released everything committed.
fn wait_drained(ring: &RingFile) {
    let deadline = Instant::now() + PATIENCE;
    while !ring.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the writer did not drain the ring within {PATIENCE:?}"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

/// Logs [`OVERFLOW`] numbered events into a small ring nobody reads, then
/// starts a writer in `format`, waits until it has drained the ring, logs
/// one more event ([`after`]) and returns the decoded lines.
fn overflow_then_drain(name: &str, format: Format) -> Vec<String> {
    let (_path, ring) = small_ring(name);
    let sender = ring.mpsc_sender().expect("a sender");
    let subscriber = tracing_subscriber::registry().with(logring::tracing::Layer::new(sender));
    let out = SharedBuf::new();
    tracing::subscriber::with_default(subscriber, || {
        let started = Instant::now();
        for n in 0..OVERFLOW {
            numbered(n);
        }
        // Dropping never waits; this is only a loose bound against an
        // event that blocks on the full ring.
        assert!(
            started.elapsed() < PATIENCE,
            "{OVERFLOW} events into a full ring took {:?}",
            started.elapsed()
        );
        let writer = spawn_writer(ring.receiver().expect("a receiver"), &out, format);
        wait_drained(&ring);
        after();
        drop(writer);
    });
    out.lines()
}

#[test]
fn dropped_events_are_counted_in_a_record_before_the_next_event() {
    let lines = overflow_then_drain("drops-json", Format::Json);
    let objects = json_lines(&lines);
    let (last, stream) = objects.split_last().expect("no output at all");
    // Walk the stream: each event is the one after the last event kept and
    // the events the drop records since then counted, so every gap is
    // declared where it is and no event is counted twice.
    let mut next = 0;
    let mut kept = 0;
    let mut dropped = 0;
    let mut last_was_drop = false;
    for (i, object) in stream.iter().enumerate() {
        if let Some(count) = dropped_count(object) {
            assert!(count > 0, "line {i}: a drop record of 0 events");
            assert!(!last_was_drop, "line {i}: two drop records in a row");
            // The notice is written either by the thread of the event that
            // found room (with its pid), or by the writer, which found the
            // ring empty with drops no event had reported (no pid).
            if let Some(pid) = object.get("pid") {
                assert_eq!(*pid, std::process::id(), "line {i}: {object}");
            }
            next += count;
            dropped += count;
            last_was_drop = true;
        } else {
            assert_eq!(str_key(object, "level"), "INFO", "line {i}: {object}");
            assert_eq!(u64_field(object, "n"), next, "line {i}: {object}");
            next += 1;
            kept += 1;
            last_was_drop = false;
        }
    }
    assert!(kept > 0, "no event was kept: {:?}", lines.first());
    assert!(
        kept < OVERFLOW,
        "all {OVERFLOW} events fit in a ring of {SMALL} bytes"
    );
    assert!(
        last_was_drop,
        "the event after the gap is not preceded by a drop record; the last lines: {:?}",
        &lines[lines.len().saturating_sub(3)..]
    );
    assert_eq!(
        kept + dropped,
        OVERFLOW,
        "kept {kept} + dropped {dropped} is not every event logged"
    );
    assert_eq!(
        field_bool(last, "after"),
        Some(true),
        "the event after the gap: {last}"
    );
    assert_eq!(
        last["fields"]["message"], "the ring has room again",
        "the event after the gap: {last}"
    );
}

fn field_bool(object: &serde_json::Value, name: &str) -> Option<bool> {
    object.get("fields")?.get(name)?.as_bool()
}

#[test]
fn the_drop_record_reads_as_a_warning_from_logring_in_text() {
    let lines = overflow_then_drain("drops-text", Format::Text);
    let (last, stream) = lines.split_last().expect("no output at all");
    let mut next = 0;
    let mut records = 0;
    for (i, line) in stream.iter().enumerate() {
        let rest = after_timestamp(line);
        if let Some(text) = rest.strip_prefix(" WARN logring: ") {
            let count: u64 = text
                .split_once(" events dropped")
                .and_then(|(count, _)| count.parse().ok())
                .unwrap_or_else(|| panic!("line {i}: not a drop record: {line:?}"));
            assert_eq!(
                text,
                format!("{count} events dropped dropped={count}"),
                "line {i}"
            );
            next += count;
            records += 1;
        } else {
            let expected = format!(
                " INFO events_drops: event {next} n={next} pad=\"some text to make the event larger\""
            );
            assert_eq!(rest, expected, "line {i}");
            next += 1;
        }
    }
    assert!(records > 0, "no drop record among {} lines", lines.len());
    assert_eq!(next, OVERFLOW, "events kept and counted as dropped");
    assert!(
        after_timestamp(&stream[stream.len() - 1]).starts_with(" WARN logring: "),
        "the line before the event after the gap is not the drop record"
    );
    assert_eq!(
        after_timestamp(last),
        " INFO events_drops: the ring has room again after=true"
    );
}

#[test]
fn spinning_with_a_draining_reader_loses_nothing() {
    const EVENTS: u64 = 50_000;
    let (_path, ring) = small_ring("spin");
    let mut sender = ring.mpsc_sender().expect("a sender");
    // A budget far longer than the writer ever needs to free room: yields
    // let it run on a busy machine.
    sender.set_spin_policy(SpinPolicy::new(32, 1_000_000));
    let layer = logring::tracing::Layer::new(sender).with_full_policy(FullPolicy::Spin);
    let out = SharedBuf::new();
    let writer = spawn_writer(ring.receiver().expect("a receiver"), &out, Format::Json);
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for n in 0..EVENTS {
            numbered(n);
        }
    });
    drop(writer);
    let lines = out.lines();
    let objects = json_lines(&lines);
    for (n, object) in objects.iter().enumerate() {
        assert_eq!(
            dropped_count(object),
            None,
            "events were dropped before event {n}"
        );
        assert_eq!(u64_field(object, "n"), n as u64, "event {n}: {object}");
    }
    assert_eq!(objects.len() as u64, EVENTS, "events decoded");
}

/// Drops that no later event follows are reported all the same: the writer
/// finds the ring empty with drops unreported, and prints their notice.
#[test]
fn drops_no_event_follows_are_reported_by_the_reader() {
    let (_path, ring) = small_ring("drops-at-the-end");
    let sender = ring.mpsc_sender().expect("a sender");
    let subscriber = tracing_subscriber::registry().with(logring::tracing::Layer::new(sender));
    let out = SharedBuf::new();
    tracing::subscriber::with_default(subscriber, || {
        for n in 0..OVERFLOW {
            numbered(n);
        }
    });
    let writer = spawn_writer(ring.receiver().expect("a receiver"), &out, Format::Json);
    wait_drained(&ring);
    drop(writer);
    let lines = out.lines();
    let objects = json_lines(&lines);
    let (last, events) = objects.split_last().expect("no output at all");
    assert_eq!(
        dropped_count(last),
        Some(OVERFLOW - events.len() as u64),
        "the last line is not the notice of the events dropped at the end: {last}"
    );
    assert!(
        last.get("pid").is_none(),
        "a reader's notice names no process: {last}"
    );
    for (n, object) in events.iter().enumerate() {
        assert_eq!(u64_field(object, "n"), n as u64, "line {n}: {object}");
    }
}

/// One event of a callsite, then another: what the first one needed.
fn sized(note: &str) {
    tracing::info!(note, "sized");
}

/// A callsite's claims follow the size of its last event, not its largest:
/// after one large event, small ones from the same callsite take little of
/// the ring, and many of them still fit where one large one did.
#[test]
fn one_large_event_does_not_make_later_ones_claim_as_much() {
    const SMALL_EVENTS: usize = 50;
    let (_path, ring) = small_ring("large-then-small");
    let sender = ring.mpsc_sender().expect("a sender");
    let subscriber = tracing_subscriber::registry().with(logring::tracing::Layer::new(sender));
    let large = "x".repeat(6000);
    tracing::subscriber::with_default(subscriber, || {
        sized(&large);
        for _ in 0..SMALL_EVENTS {
            sized("small");
        }
    });
    let out = SharedBuf::new();
    let writer = spawn_writer(ring.receiver().expect("a receiver"), &out, Format::Json);
    wait_drained(&ring);
    drop(writer);
    let lines = out.lines();
    let objects = json_lines(&lines);
    let small = objects
        .iter()
        .filter(|object| object["fields"]["note"] == "small")
        .count();
    assert_eq!(
        small,
        SMALL_EVENTS,
        "of {SMALL_EVENTS} small events after a large one in a ring of {SMALL} bytes, \
         {small} were kept: {:?}",
        lines.last()
    );
}

/// An event larger than the ring's largest record is not dropped: it keeps
/// its message and the fields that fit, and decodes marked truncated.
#[test]
fn an_event_larger_than_any_record_is_truncated_visibly() {
    let (_path, ring) = small_ring("too-large");
    let sender = ring.mpsc_sender().expect("a sender");
    let largest = sender.max_record_len();
    let subscriber = tracing_subscriber::registry().with(logring::tracing::Layer::new(sender));
    let huge = "y".repeat(2 * largest);
    tracing::subscriber::with_default(subscriber, || {
        tracing::warn!(id = 7u64, huge = huge.as_str(), "a {} event", "large");
    });
    let out = SharedBuf::new();
    let writer = spawn_writer(ring.receiver().expect("a receiver"), &out, Format::Json);
    wait_drained(&ring);
    drop(writer);
    let lines = out.lines();
    let objects = json_lines(&lines);
    assert_eq!(objects.len(), 1, "{lines:?}");
    let fields = &objects[0]["fields"];
    assert_eq!(fields["message"], "a large event", "{}", lines[0]);
    assert_eq!(fields["id"], 7, "{}", lines[0]);
    assert!(fields.get("huge").is_none(), "{}", lines[0]);
    assert_eq!(fields["logring.truncated"], true, "{}", lines[0]);
}
