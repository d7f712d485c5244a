//! What the log events' tests (`tests/events_*.rs`, and the `logring tail`
//! tests of events) share: an output buffer that the test keeps while a
//! decoding thread writes into it, the tracing layer over a heap ring with an
//! [`events::Writer`] draining it, plain records sent beside the events, and
//! the checks of a decoded line's shape.

// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use logring::channel::{self, Receiver, SendError};
use logring::events::{self, Format};
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

/// An `io::Write` whose bytes the test reads back after the writer that
/// owned a clone of it is gone.
#[derive(Clone, Default)]
pub struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8(bytes.clone()).expect("the decoded output is UTF-8")
    }

    /// Everything written so far, line by line (without the newlines).
    pub fn lines(&self) -> Vec<String> {
        let text = self.text();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "the output does not end with a newline: {text:?}"
        );
        text.lines().map(str::to_owned).collect()
    }
}

impl io::Write for SharedBuf {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A heap ring of `capacity` bytes, its sender and its receiver.
pub fn heap_ring(capacity: usize) -> (channel::mpsc::Sender, Receiver) {
    channel::mpsc::new(capacity).expect("a heap ring")
}

/// Decodes what `receiver`'s ring holds, and what is committed to it until
/// the returned writer is dropped, into `out` in `format`, on the writer's
/// thread. Dropping the writer writes everything committed before the drop,
/// then flushes and joins.
pub fn spawn_writer(receiver: Receiver, out: &SharedBuf, format: Format) -> impl Sized {
    events::Writer::spawn(receiver, out.clone(), format).expect("the writer thread starts")
}

/// Runs `body` with logring's tracing layer over a heap ring of `capacity`
/// bytes as this thread's subscriber (a registry with the layer), a writer
/// thread decoding in `format`; returns what `body` returned and the decoded
/// lines, once every event `body` logged is written.
pub fn through_layer<R>(
    capacity: usize,
    format: Format,
    body: impl FnOnce() -> R,
) -> (R, Vec<String>) {
    let (sender, receiver) = heap_ring(capacity);
    let out = SharedBuf::new();
    let writer = spawn_writer(receiver, &out, format);
    let subscriber = tracing_subscriber::registry().with(logring::tracing::Layer::new(sender));
    let result = tracing::subscriber::with_default(subscriber, body);
    drop(writer);
    (result, out.lines())
}

/// A dispatcher of logring's tracing layer over `sender` (a registry with
/// the layer), which the threads of a test share: each logs through it with
/// `tracing::dispatcher::with_default`. Events that find the ring full are
/// dropped and counted (the layer's default policy).
pub fn layer_dispatch(sender: channel::mpsc::Sender) -> tracing::Dispatch {
    tracing::Dispatch::new(
        tracing_subscriber::registry().with(logring::tracing::Layer::new(sender)),
    )
}

/// Sends `payload` as a plain record (tag 0), retrying while the ring is
/// full; panics if the receiver is gone.
pub fn send_plain(sender: &channel::mpsc::Sender, payload: &[u8]) {
    loop {
        match sender.send(payload) {
            Ok(()) => return,
            Err(SendError::Full) => std::thread::yield_now(),
            Err(error) => panic!("cannot send a plain record: {error}"),
        }
    }
}

/// Each line parsed as one JSON object.
#[track_caller]
pub fn json_lines(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("not JSON ({error}): {line:?}"));
            assert!(value.is_object(), "not a JSON object: {line}");
            value
        })
        .collect()
}

/// Panics unless `stamp` is an RFC 3339 UTC time with at least
/// microseconds: `2026-12-06T18:00:00.123456Z`.
#[track_caller]
pub fn check_timestamp(stamp: &str) {
    // Up to the fraction of a second: `0` stands for any digit.
    const DATE_TIME: &[u8] = b"0000-00-00T00:00:00.";
    let bytes = stamp.as_bytes();
    let fraction = stamp
        .get(20..stamp.len().saturating_sub(1))
        .unwrap_or_default();
    let shaped = bytes.len() >= 27
        && DATE_TIME.iter().zip(bytes).all(|(&want, &got)| match want {
            b'0' => got.is_ascii_digit(),
            _ => got == want,
        })
        && fraction.len() >= 6
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && stamp.ends_with('Z');
    assert!(
        shaped,
        "not an RFC 3339 UTC time with microseconds: {stamp:?}"
    );
}

/// A text line after its timestamp (which is checked), starting at the
/// space before the level: `" INFO target: message"` or `"  WARN ..."`
/// with the level's padding kept.
#[track_caller]
pub fn after_timestamp(line: &str) -> &str {
    let (stamp, rest) = line
        .split_once(' ')
        .unwrap_or_else(|| panic!("no timestamp in {line:?}"));
    check_timestamp(stamp);
    rest
}

/// The `timestamp` of a JSON line, checked and taken out of it.
#[track_caller]
pub fn take_timestamp(object: &mut Value) {
    let map = object.as_object_mut().expect("a JSON object");
    match map.remove("timestamp") {
        Some(Value::String(stamp)) => check_timestamp(&stamp),
        other => panic!("no string timestamp ({other:?}) in {object}"),
    }
}

/// `fields.NAME` of a decoded JSON event.
#[track_caller]
pub fn field<'a>(object: &'a Value, name: &str) -> &'a Value {
    object
        .get("fields")
        .and_then(|fields| fields.get(name))
        .unwrap_or_else(|| panic!("no field {name:?} in {object}"))
}

/// `fields.NAME` of a decoded JSON event, a `u64`.
#[track_caller]
pub fn u64_field(object: &Value, name: &str) -> u64 {
    field(object, name)
        .as_u64()
        .unwrap_or_else(|| panic!("field {name:?} is not a u64 in {object}"))
}

/// The top-level string `key` of a decoded JSON event.
#[track_caller]
pub fn str_key<'a>(object: &'a Value, key: &str) -> &'a str {
    object
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string {key:?} in {object}"))
}

/// Whether `object` is logring's record of dropped events: a WARN event from
/// target `logring` with the count in field `dropped`. Returns the count.
#[track_caller]
pub fn dropped_count(object: &Value) -> Option<u64> {
    if object.get("target").and_then(Value::as_str) != Some("logring") {
        return None;
    }
    assert_eq!(
        str_key(object, "level"),
        "WARN",
        "a drop record's level: {object}"
    );
    let count = u64_field(object, "dropped");
    assert_eq!(
        field(object, "message").as_str(),
        Some(format!("{count} events dropped").as_str()),
        "a drop record's message: {object}"
    );
    Some(count)
}
