// STAND-IN: the whole file. The renderers (the exact shapes of
// `tracing_subscriber::fmt`'s text and JSON output) replace it; these print
// the same keys in a rough form, so that the event writer and `logring
// tail` can be built and tested against the names.

//! Decoded events as text and JSON lines (stand-in).

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value as Json, json};

use super::Format;
use crate::ring::event::{DecodeError, Decoded, Kind, Value};

fn timestamp(ns: u64) -> String {
    let time = SystemTime::UNIX_EPOCH + Duration::from_nanos(ns);
    humantime::format_rfc3339_micros(time).to_string()
}

fn value_json(value: &Value<'_>) -> Json {
    match *value {
        Value::I64(v) => json!(v),
        Value::U64(v) => json!(v),
        Value::F64(v) => json!(v),
        Value::Bool(v) => json!(v),
        Value::Str(v) | Value::Debug(v) | Value::Error(v) => json!(v),
        Value::Bytes(v) => json!(format!("{v:?}")),
        Value::I128(v) => json!(v.to_string()),
        Value::U128(v) => json!(v.to_string()),
    }
}

fn value_text(out: &mut String, value: &Value<'_>) {
    let _ = match *value {
        Value::I64(v) => write!(out, "{v}"),
        Value::U64(v) => write!(out, "{v}"),
        Value::F64(v) => write!(out, "{v}"),
        Value::Bool(v) => write!(out, "{v}"),
        Value::Str(v) => write!(out, "{v:?}"),
        Value::Debug(v) | Value::Error(v) => write!(out, "{v}"),
        Value::Bytes(v) => write!(out, "{v:?}"),
        Value::I128(v) => write!(out, "{v}"),
        Value::U128(v) => write!(out, "{v}"),
    };
}

/// `ev` as one text line.
pub(crate) fn text(out: &mut String, ev: &Decoded<'_>) {
    let _ = write!(out, "{} {:>5} ", timestamp(ev.time_ns), ev.level.as_str());
    for span in &ev.spans {
        out.push_str(span.meta.name);
        out.push(':');
    }
    if !ev.spans.is_empty() {
        out.push(' ');
    }
    let target = match ev.kind {
        Kind::Event => ev.meta.target,
        Kind::Dropped { .. } => "logring",
    };
    let _ = write!(out, "{target}:");
    if let Kind::Dropped { count } = ev.kind {
        let _ = write!(out, " {count} events dropped dropped={count}");
    }
    for (name, value) in &ev.fields {
        out.push(' ');
        if *name != "message" {
            let _ = write!(out, "{name}=");
        }
        value_text(out, value);
    }
    if ev.truncated {
        out.push_str(" logring.truncated=true");
    }
    out.push('\n');
}

/// `ev` as one JSON object on a line.
pub(crate) fn json(out: &mut String, ev: &Decoded<'_>) {
    let mut fields = Map::new();
    let mut target = ev.meta.target;
    if let Kind::Dropped { count } = ev.kind {
        target = "logring";
        fields.insert("message".into(), json!(format!("{count} events dropped")));
        fields.insert("dropped".into(), json!(count));
    }
    for (name, value) in &ev.fields {
        fields.insert((*name).into(), value_json(value));
    }
    if ev.truncated {
        fields.insert("logring.truncated".into(), json!(true));
    }
    let mut object = Map::new();
    object.insert("timestamp".into(), json!(timestamp(ev.time_ns)));
    object.insert("level".into(), json!(ev.level.as_str()));
    object.insert("fields".into(), Json::Object(fields));
    object.insert("target".into(), json!(target));
    if let Some(file) = ev.meta.file {
        object.insert("filename".into(), json!(file));
    }
    if let Some(line) = ev.meta.line {
        object.insert("line_number".into(), json!(line));
    }
    if let Some(thread) = &ev.thread {
        if let Some(name) = thread.name {
            object.insert("threadName".into(), json!(name));
        }
        object.insert(
            "threadId".into(),
            json!(format!("ThreadId({})", thread.number)),
        );
    }
    object.insert("pid".into(), json!(ev.pid));
    out.push_str(&Json::Object(object).to_string());
    out.push('\n');
}

/// The marker line for an event record that does not decode.
pub(crate) fn undecodable(
    out: &mut String,
    format: Format,
    tag: u32,
    payload: &[u8],
    error: &DecodeError,
) {
    let hex: String = payload.iter().map(|b| format!("{b:02x}")).collect();
    match format {
        Format::Text => {
            let _ = writeln!(
                out,
                "logring: undecodable event record ({error}), tag {tag:#010x}, {} bytes: {hex}",
                payload.len()
            );
        }
        Format::Json => {
            let object = json!({
                "level": "WARN",
                "target": "logring",
                "fields": {
                    "message": format!("undecodable event record ({error})"),
                    "raw": hex,
                },
            });
            out.push_str(&object.to_string());
            out.push('\n');
        }
    }
}
