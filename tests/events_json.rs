//! The decoded output has the shapes `tracing_subscriber::fmt` prints, so
//! that pipelines that parse its output keep working: the same events go
//! through `tracing_subscriber::fmt` into a buffer, and through logring's
//! layer, a ring and an [`events::Writer`](logring::events::Writer); the
//! lines are compared one by one.
//!
//! - JSON: `fmt().json()` with file names, line numbers, thread names and
//!   ids, the current span and the span list. Both lines are parsed; every
//!   key and value must be the same but `timestamp` (both checked for their
//!   shape) and `pid`, which only logring's has (checked to be ours).
//! - Text: the default format without ANSI colours; the lines must be the
//!   same after the timestamp.
//!
//! The events cover fields of every type `tracing` records (i64, u64, f64
//! with a NaN, bool, str with quotes and non-ASCII text, `?` debug, `%`
//! display, bytes, i128, u128, an error), the message with and without
//! arguments, events without a message, levels from TRACE to ERROR, an
//! explicit target, nested spans with fields, a span field recorded after
//! the span's creation, a span without fields, and events outside any span.

#![cfg(not(miri))]

mod events_support;

use std::fmt;

use events_support::{SharedBuf, after_timestamp, json_lines, take_timestamp, through_layer};
use logring::events::Format;
use serde_json::Value;
use tracing::field;

/// An error without a source, as a field value.
#[derive(Debug)]
struct Refused;

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("order refused: price out of band")
    }
}

impl std::error::Error for Refused {}

/// A value recorded with `?`.
#[derive(Debug)]
#[allow(dead_code)] // Read through `Debug` only.
struct Order {
    id: u64,
    side: &'static str,
}

/// Every event of the comparison; called once per subscriber, so both see
/// the same callsites (the same file, lines and field names).
fn log_everything() {
    tracing::info!("outside any span");
    tracing::info!(
        i = -42i64,
        u = 42u64,
        f = 101.25,
        whole = 3.0,
        nan = f64::NAN,
        yes = true,
        no = false,
        s = "quotes \" and \\ backslash, é ✓",
        empty = "",
        order = ?Order { id: 7, side: "buy" },
        shown = %"displayed, not quoted",
        raw = &b"\x00\x01ab\xff"[..],
        big = i128::MIN,
        huge = u128::MAX,
        error = &Refused as &(dyn std::error::Error + 'static),
        "every type, and a message with {} argument{}",
        1,
        ""
    );
    tracing::warn!(only = 1u64);
    tracing::error!(target: "custom::target", code = 500u64, "explicit target");
    tracing::trace!(depth = 0u64, "a trace event");
    tracing::debug!("a debug event with no fields");

    let outer = tracing::info_span!("outer", request = 7u64, user = "ada");
    let _outer = outer.enter();
    tracing::info!(step = 1u64, "inside outer");
    {
        let inner = tracing::debug_span!("inner", ratio = 0.5, late = field::Empty);
        let _inner = inner.enter();
        tracing::info!(step = 2u64, "inside inner, before the record");
        inner.record("late", "recorded");
        tracing::warn!(step = 3u64, "inside inner, after the record");
        {
            let bare = tracing::info_span!("bare");
            let _bare = bare.enter();
            tracing::error!(step = 4u64, "three spans deep");
        }
    }
    tracing::info!(step = 5u64, "back in outer");
    let later = tracing::info_span!("later", filled = field::Empty);
    later.record("filled", 3u64);
    later.in_scope(|| tracing::info!("a span whose only field was recorded later"));
}

/// The events through `tracing_subscriber::fmt` with JSON output.
fn reference_json() -> Vec<String> {
    let out = SharedBuf::new();
    let buffer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_file(true)
        .with_line_number(true)
        .with_thread_names(true)
        .with_thread_ids(true)
        .with_current_span(true)
        .with_span_list(true)
        .with_writer(move || buffer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, log_everything);
    out.lines()
}

/// The events through `tracing_subscriber::fmt`'s default text format.
fn reference_text() -> Vec<String> {
    let out = SharedBuf::new();
    let buffer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || buffer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, log_everything);
    out.lines()
}

/// The events through logring's layer, decoded by its writer in `format`.
fn ours(format: Format) -> Vec<String> {
    through_layer(1 << 20, format, log_everything).1
}

/// Our lines in `format` and `reference`'s, checked to be as many.
fn side_by_side(format: Format, reference: fn() -> Vec<String>) -> (Vec<String>, Vec<String>) {
    let theirs = reference();
    let ours = ours(format);
    assert_eq!(
        ours.len(),
        theirs.len(),
        "lines: ours {ours:#?}\ntheirs {theirs:#?}"
    );
    (ours, theirs)
}

#[test]
fn json_lines_match_tracing_subscribers_json() {
    let (ours, theirs) = side_by_side(Format::Json, reference_json);
    for (i, (mut our, mut their)) in json_lines(&ours)
        .into_iter()
        .zip(json_lines(&theirs))
        .enumerate()
    {
        take_timestamp(&mut their);
        take_timestamp(&mut our);
        let pid = our
            .as_object_mut()
            .expect("an object")
            .remove("pid")
            .unwrap_or_else(|| panic!("line {i}: no pid in {}", ours[i]));
        assert_eq!(pid, std::process::id(), "line {i}: pid");
        if our != their {
            panic!(
                "line {i} differs:\n ours:   {}\n theirs: {}\n{}",
                ours[i],
                theirs[i],
                differences(&our, &their, "")
            );
        }
    }
}

#[test]
fn text_lines_match_tracing_subscribers_default_format() {
    let (ours, theirs) = side_by_side(Format::Text, reference_text);
    for (i, (our, their)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(
            after_timestamp(our),
            after_timestamp(their),
            "line {i} after the timestamp (ours first)"
        );
    }
}

/// The keys whose values differ between two JSON values, one per line, for
/// a failure's message.
fn differences(ours: &Value, theirs: &Value, at: &str) -> String {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .map(|key| {
                    let path = format!("{at}.{key}");
                    match (a.get(key), b.get(key)) {
                        (Some(x), Some(y)) => differences(x, y, &path),
                        (x, y) => format!("  {path}: ours {x:?}, theirs {y:?}\n"),
                    }
                })
                .collect()
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .map(|(i, (x, y))| differences(x, y, &format!("{at}[{i}]")))
            .collect(),
        (x, y) if x == y => String::new(),
        (x, y) => format!("  {at}: ours {x}, theirs {y}\n"),
    }
}
