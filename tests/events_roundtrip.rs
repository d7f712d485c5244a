//! Round trips of arbitrary values: events whose fields, message and span
//! fields take arbitrary values (any i64, u64 and finite f64, both bools,
//! strings of any characters: quotes, backslashes, control characters,
//! non-ASCII text, the empty string) go through logring's tracing layer, a
//! ring and an [`events::Writer`](logring::events::Writer) in JSON; the
//! parsed lines hold exactly the values logged.
//!
//! Floats compare exactly: the output must print enough digits to parse
//! back to the same `f64` (and `serde_json` parses them exactly here, with
//! its `float_roundtrip` feature).

#![cfg(not(miri))]

mod events_support;

use events_support::{json_lines, take_timestamp, through_layer};
use logring::events::Format;
use proptest::prelude::*;
use serde_json::Value;

/// One event's values.
#[derive(Clone, Debug)]
struct Values {
    i: i64,
    u: u64,
    f: f64,
    b: bool,
    s: String,
    message: String,
    /// `None`: the event is logged outside any span.
    span: Option<(u64, String)>,
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        // Anything at all.
        proptest::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
        // What JSON escapes, densely.
        proptest::collection::vec(
            prop_oneof![
                Just('"'),
                Just('\\'),
                Just('/'),
                Just('\n'),
                Just('\t'),
                Just('\u{0}'),
                Just('\u{1f}'),
                Just('\u{7f}'),
                Just('é'),
                Just('✓'),
                Just('\u{1F600}'),
                Just('a'),
            ],
            0..24
        )
        .prop_map(String::from_iter),
    ]
}

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        Just(0.0),
        Just(-0.0),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        Just(0.1),
    ]
}

fn values() -> impl Strategy<Value = Values> {
    (
        any::<i64>(),
        any::<u64>(),
        finite_f64(),
        any::<bool>(),
        text(),
        text(),
        proptest::option::of((any::<u64>(), text())),
    )
        .prop_map(|(i, u, f, b, s, message, span)| Values {
            i,
            u,
            f,
            b,
            s,
            message,
            span,
        })
}

fn log(values: &Values) {
    let event = || {
        tracing::info!(
            i = values.i,
            u = values.u,
            f = values.f,
            b = values.b,
            s = values.s.as_str(),
            "{}",
            values.message
        );
    };
    match &values.span {
        Some((id, name)) => {
            tracing::info_span!("span", id = *id, name_field = name.as_str()).in_scope(event)
        }
        None => event(),
    }
}

/// Checks one decoded line against the values logged; a message for
/// proptest if it differs.
fn check(line: &str, object: &mut Value, values: &Values) -> Result<(), TestCaseError> {
    take_timestamp(object);
    let fields = &object["fields"];
    prop_assert_eq!(&fields["i"], &Value::from(values.i), "i in {}", line);
    prop_assert_eq!(&fields["u"], &Value::from(values.u), "u in {}", line);
    prop_assert_eq!(fields["f"].as_f64(), Some(values.f), "f in {}", line);
    prop_assert_eq!(&fields["b"], &Value::from(values.b), "b in {}", line);
    prop_assert_eq!(
        &fields["s"],
        &Value::from(values.s.as_str()),
        "s in {}",
        line
    );
    prop_assert_eq!(
        &fields["message"],
        &Value::from(values.message.as_str()),
        "message in {}",
        line
    );
    prop_assert_eq!(&object["level"], "INFO", "level in {}", line);
    prop_assert_eq!(&object["target"], "events_roundtrip", "target in {}", line);
    match &values.span {
        Some((id, name)) => {
            let span = &object["span"];
            prop_assert_eq!(&span["name"], "span", "span in {}", line);
            prop_assert_eq!(&span["id"], &Value::from(*id), "span id in {}", line);
            prop_assert_eq!(
                &span["name_field"],
                &Value::from(name.as_str()),
                "span field in {}",
                line
            );
            prop_assert_eq!(
                &object["spans"],
                &Value::Array(vec![span.clone()]),
                "span list in {}",
                line
            );
        }
        None => {
            prop_assert!(object.get("span").is_none(), "a span in {}", line);
            prop_assert!(object.get("spans").is_none(), "a span list in {}", line);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn json_holds_the_values_logged(events in proptest::collection::vec(values(), 1..8)) {
        let ((), lines) = through_layer(1 << 20, Format::Json, || {
            for values in &events {
                log(values);
            }
        });
        prop_assert_eq!(lines.len(), events.len(), "lines: {:?}", lines);
        for ((line, mut object), values) in lines.iter().zip(json_lines(&lines)).zip(&events) {
            check(line, &mut object, values)?;
        }
    }
}
