//! Decoded events printed as `tracing_subscriber::fmt` (0.3) prints them, one
//! line per record: its default format without colours ([`text`]) and its
//! JSON format with file, line number, thread name and id, the current span
//! and the span list ([`json`]). `logring tail`, the in-process writer and the
//! tests all print through here.
//!
//! # Text
//!
//! `{timestamp} {level:>5} {span}{{fields}}:{span}: {target}: {fields}`: the
//! timestamp is RFC 3339 UTC with exactly six fractional digits, truncated;
//! spans are root first, each with its fields in braces only when they print
//! something, and the space after the last span's `:` only when there are
//! spans; `target: ` is always followed by its space, even with no field. The
//! fields are separated by one space: `message` first and bare (a string is
//! printed with `Display`, its ANSI control characters escaped as fmt does),
//! every other `name=` followed by the value's `Debug` (strings quoted and
//! escaped, bytes as `[61 62 ff]`, `?`/`%` values and errors as their text).
//! A leading `r#` is dropped from names; names starting with `log.` (the
//! record's metadata as `tracing-log` passes it on) are skipped.
//!
//! # JSON
//!
//! `timestamp`, `level`, `fields`, `target`, `filename`, `line_number`, `span`
//! (the leaf), `spans` (root first), `threadName` (only for a named thread),
//! `threadId` (`"ThreadId(N)"`), then `pid`, which fmt does not have. Event
//! fields keep their order (message first) and their names as they are;
//! integers, floats (through `serde_json`, so a non-finite float is `null`)
//! and bools keep their type; 128-bit integers, bytes (`"[61 62]"`), `?`/`%`
//! values and errors become strings. A span is an object of its fields sorted
//! by name, the last recording of a name winning, then its `name`; there
//! bytes are arrays of numbers, and `r#` is dropped and `log.` names skipped
//! only for the values fmt records through `Debug` (text, errors, 128-bit
//! integers), as fmt's JSON visitor does.
//!
//! # Where logring differs
//!
//! A record is always one line: a raw `\n` or `\r` that fmt would print as is
//! (in a message, a `?`/`%` value, an error, a name) is written as `\n` or
//! `\r`. Errors are rendered by their `Display` alone (fmt's text adds
//! `name.sources=[...]`, which the record does not carry). The count of
//! dropped events prints as a `WARN` event from target `logring` with the
//! message `N events dropped` and the field `dropped=N`; an event cut to fit
//! the ring ends with the field `logring.truncated=true`. A record that does
//! not decode prints as one marker line with its bytes in hex
//! ([`undecodable`]).

use std::fmt::Write as _;
use std::io;
use std::time::{Duration, UNIX_EPOCH};

use super::Format;
use crate::events::Level;
use crate::ring::event::{DecodeError, Decoded, Kind, SpanView, Value};

/// The target of the records logring writes itself.
const OWN_TARGET: &str = "logring";

/// The field that follows the fields of an event cut to fit the ring.
const TRUNCATED_FIELD: &str = "logring.truncated";

/// What fmt prints where it has no timestamp.
const UNKNOWN_TIME: &str = "<unknown time>";

/// Appends `ev` as one line in `format`, newline included.
pub(crate) fn event(out: &mut String, format: Format, ev: &Decoded<'_>) {
    match format {
        Format::Text => text(out, ev),
        Format::Json => json(out, ev),
    }
}

/// Appends `ev` as one line of fmt's default format, newline included.
pub(crate) fn text(out: &mut String, ev: &Decoded<'_>) {
    push_timestamp(out, ev.time_ns);
    out.push(' ');
    match ev.kind {
        Kind::Event => {
            out.push_str(padded_level(ev.level));
            out.push(' ');
            for span in &ev.spans {
                text_span(out, span);
            }
            if !ev.spans.is_empty() {
                out.push(' ');
            }
            push_text(out, ev.meta.target, false);
            out.push_str(": ");
            let mut fields = TextFields::new(out);
            for (name, value) in message_first(&ev.fields) {
                fields.push(name, value);
            }
            if ev.truncated {
                fields.push(TRUNCATED_FIELD, &Value::Bool(true));
            }
        }
        Kind::Dropped { count } => {
            let level = padded_level(Level::Warn);
            let _ = write!(
                out,
                "{level} {OWN_TARGET}: {count} events dropped dropped={count}"
            );
        }
    }
    out.push('\n');
}

/// Appends `ev` as one line of fmt's JSON format plus `pid`, newline included.
pub(crate) fn json(out: &mut String, ev: &Decoded<'_>) {
    out.push_str("{\"timestamp\":\"");
    push_timestamp(out, ev.time_ns);
    out.push_str("\",\"level\":\"");
    match ev.kind {
        Kind::Event => {
            out.push_str(level_name(ev.level));
            out.push_str("\",\"fields\":{");
            let mut fields = JsonObject::new();
            for (name, value) in message_first(&ev.fields) {
                fields.key(out, name);
                json_event_value(out, value);
            }
            if ev.truncated {
                fields.key(out, TRUNCATED_FIELD);
                out.push_str("true");
            }
            out.push_str("},\"target\":");
            push_json_str(out, ev.meta.target);
            if let Some(file) = ev.meta.file {
                out.push_str(",\"filename\":");
                push_json_str(out, file);
            }
            if let Some(line) = ev.meta.line {
                let _ = write!(out, ",\"line_number\":{line}");
            }
            if let Some(leaf) = ev.spans.last() {
                out.push_str(",\"span\":");
                json_span(out, leaf);
                out.push_str(",\"spans\":[");
                for (i, span) in ev.spans.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_span(out, span);
                }
                out.push(']');
            }
        }
        Kind::Dropped { count } => {
            let level = level_name(Level::Warn);
            let _ = write!(
                out,
                "{level}\",\"fields\":{{\"message\":\"{count} events dropped\",\"dropped\":{count}}},\
                 \"target\":\"{OWN_TARGET}\""
            );
        }
    }
    if let Some(thread) = &ev.thread {
        if let Some(name) = thread.name {
            out.push_str(",\"threadName\":");
            push_json_str(out, name);
        }
        let _ = write!(out, ",\"threadId\":\"ThreadId({})\"", thread.number);
    }
    // 0: a notice a reader wrote for drops no event reported; no process
    // is known.
    if ev.pid != 0 {
        let _ = write!(out, ",\"pid\":{}", ev.pid);
    }
    out.push_str("}\n");
}

/// Appends the marker line for a record that does not decode, newline
/// included: a `WARN` event from target `logring` whose message names the
/// reason and the record's length, with the record's bytes in hex (in the
/// message for text; in a `raw` field, beside the `tag`, for JSON). There is
/// no timestamp to print: text has fmt's `<unknown time>`, JSON no
/// `timestamp`.
pub(crate) fn undecodable(
    out: &mut String,
    format: Format,
    tag: u32,
    payload: &[u8],
    error: &DecodeError,
) {
    let message = format!(
        "undecodable event record ({error}), {} bytes",
        payload.len()
    );
    match format {
        Format::Text => {
            let level = padded_level(Level::Warn);
            let _ = write!(out, "{UNKNOWN_TIME} {level} {OWN_TARGET}: ");
            push_text(out, &message, true);
            out.push_str(": ");
            push_hex(out, payload);
        }
        Format::Json => {
            let level = level_name(Level::Warn);
            let _ = write!(out, "{{\"level\":\"{level}\",\"fields\":{{\"message\":");
            push_json_str(out, &message);
            let _ = write!(out, ",\"tag\":\"{tag:#010x}\",\"raw\":\"");
            push_hex(out, payload);
            let _ = write!(out, "\"}},\"target\":\"{OWN_TARGET}\"}}");
        }
    }
    out.push('\n');
}

/// The level as fmt's text prints it: right-aligned in five columns.
fn padded_level(level: Level) -> &'static str {
    match level {
        Level::Trace => "TRACE",
        Level::Debug => "DEBUG",
        Level::Info => " INFO",
        Level::Warn => " WARN",
        Level::Error => "ERROR",
    }
}

/// The level as fmt's JSON prints it.
fn level_name(level: Level) -> &'static str {
    padded_level(level).trim_start()
}

/// `2026-12-06T18:00:00.123456Z`: fmt's `SystemTime` timer, whose six digits
/// are truncated, not rounded; humantime's are too.
fn push_timestamp(out: &mut String, time_ns: u64) {
    let time = UNIX_EPOCH + Duration::from_nanos(time_ns);
    // humantime refuses years past 9999 before writing anything; a u64 of
    // nanoseconds ends in 2554.
    if write!(out, "{}", humantime::format_rfc3339_micros(time)).is_err() {
        out.push_str(UNKNOWN_TIME);
    }
}

/// The fields in their order, except that the first `message` comes first
/// (where fmt's macros put it).
fn message_first<'f, 'a>(
    fields: &'f [(&'a str, Value<'a>)],
) -> impl Iterator<Item = (&'a str, &'f Value<'a>)> {
    let message = fields.iter().position(|(name, _)| *name == "message");
    let first = message.map(|at| &fields[at]);
    let rest = fields
        .iter()
        .enumerate()
        .filter(move |(i, _)| Some(*i) != message)
        .map(|(_, field)| field);
    first
        .into_iter()
        .chain(rest)
        .map(|(name, value)| (*name, value))
}

/// One span of the text line: `name{fields}:`, without the braces when its
/// fields print nothing.
fn text_span(out: &mut String, span: &SpanView<'_>) {
    push_text(out, span.meta.name, false);
    let brace = out.len();
    out.push('{');
    let start = out.len();
    let mut fields = TextFields::new(out);
    for (name, value) in &span.fields {
        fields.push(name, value);
    }
    if out.len() == start {
        out.truncate(brace);
    } else {
        out.push('}');
    }
    out.push(':');
}

/// fmt's `DefaultVisitor`: fields separated by one space.
struct TextFields<'o> {
    out: &'o mut String,
    first: bool,
}

impl<'o> TextFields<'o> {
    fn new(out: &'o mut String) -> Self {
        Self { out, first: true }
    }

    fn push(&mut self, name: &str, value: &Value<'_>) {
        if name.starts_with("log.") {
            return;
        }
        if !self.first {
            self.out.push(' ');
        }
        self.first = false;
        if name == "message" {
            text_message(self.out, value);
        } else {
            push_text(self.out, name.strip_prefix("r#").unwrap_or(name), false);
            self.out.push('=');
            text_value(self.out, value);
        }
    }
}

/// A message: text bare, with fmt's ANSI escaping; anything else as a value.
fn text_message(out: &mut String, value: &Value<'_>) {
    match *value {
        Value::Str(text) | Value::Debug(text) | Value::Error(text) => push_text(out, text, true),
        _ => text_value(out, value),
    }
}

/// A value as fmt's text prints it: its `Debug`.
fn text_value(out: &mut String, value: &Value<'_>) {
    let _ = match *value {
        Value::I64(v) => write!(out, "{v}"),
        Value::U64(v) => write!(out, "{v}"),
        Value::I128(v) => write!(out, "{v}"),
        Value::U128(v) => write!(out, "{v}"),
        Value::F64(v) => write!(out, "{v:?}"),
        Value::Bool(v) => write!(out, "{v}"),
        // Debug-quoting escapes every control character: one line already.
        Value::Str(v) => write!(out, "{v:?}"),
        Value::Debug(text) | Value::Error(text) => {
            push_text(out, text, false);
            Ok(())
        }
        Value::Bytes(bytes) => {
            push_hex_list(out, bytes);
            Ok(())
        }
    };
}

/// Appends `text` with `\n` and `\r` escaped (one record, one line) and, with
/// `ansi`, the characters fmt escapes in messages against terminal injection:
/// ESC, BEL, BS, FF and DEL as `\x1b`, and U+0080..=U+009F as `\u{85}`.
fn push_text(out: &mut String, text: &str, ansi: bool) {
    let escaped = |c: char| {
        matches!(c, '\n' | '\r')
            || (ansi
                && matches!(
                    c,
                    '\x1b' | '\x07' | '\x08' | '\x0c' | '\x7f' | '\u{80}'..='\u{9f}'
                ))
    };
    let Some(at) = text.find(escaped) else {
        out.push_str(text);
        return;
    };
    out.push_str(&text[..at]);
    for c in text[at..].chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{80}'..='\u{9f}' if ansi => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c if ansi && escaped(c) => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// Bytes as tracing-core's `HexBytes` prints them: `[61 62 ff]`.
fn push_hex_list(out: &mut String, bytes: &[u8]) {
    out.push('[');
    for (i, byte) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{byte:02x}");
    }
    out.push(']');
}

/// Bytes as one run of lowercase hex digits.
fn push_hex(out: &mut String, bytes: &[u8]) {
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
}

/// The separators of one JSON object's entries.
struct JsonObject {
    first: bool,
}

impl JsonObject {
    fn new() -> Self {
        Self { first: true }
    }

    /// Appends `,` unless this is the first entry, then `"key":`.
    fn key(&mut self, out: &mut String, key: &str) {
        if !self.first {
            out.push(',');
        }
        self.first = false;
        push_json_str(out, key);
        out.push(':');
    }
}

/// An event field's value as tracing-serde writes it.
fn json_event_value(out: &mut String, value: &Value<'_>) {
    match *value {
        Value::Bytes(bytes) => {
            out.push('"');
            push_hex_list(out, bytes);
            out.push('"');
        }
        _ => json_value(out, value),
    }
}

/// A span field's value as fmt's `JsonVisitor` writes it.
fn json_span_value(out: &mut String, value: &Value<'_>) {
    match *value {
        Value::Bytes(bytes) => {
            out.push('[');
            for (i, byte) in bytes.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{byte}");
            }
            out.push(']');
        }
        _ => json_value(out, value),
    }
}

/// The values both JSON visitors write alike.
fn json_value(out: &mut String, value: &Value<'_>) {
    let _ = match *value {
        Value::I64(v) => write!(out, "{v}"),
        Value::U64(v) => write!(out, "{v}"),
        Value::I128(v) => write!(out, "\"{v}\""),
        Value::U128(v) => write!(out, "\"{v}\""),
        Value::F64(v) => {
            // serde_json's own digits; `null` for NaN and the infinities.
            let _ = serde_json::to_writer(StringWriter(out), &v);
            Ok(())
        }
        Value::Bool(v) => write!(out, "{v}"),
        Value::Str(text) | Value::Debug(text) | Value::Error(text) => {
            push_json_str(out, text);
            Ok(())
        }
        Value::Bytes(bytes) => {
            push_hex_list(out, bytes);
            Ok(())
        }
    };
}

/// Whether fmt's `JsonVisitor` records this value through `record_debug`,
/// the only path where it drops `r#` and skips `log.` names.
fn recorded_as_debug(value: &Value<'_>) -> bool {
    matches!(
        value,
        Value::Debug(_) | Value::Error(_) | Value::I128(_) | Value::U128(_)
    )
}

/// A span as fmt's JSON prints it: its fields sorted by name (fmt keeps them
/// in a `BTreeMap`, where a later recording of a name replaces the earlier),
/// then `name`.
fn json_span(out: &mut String, span: &SpanView<'_>) {
    let mut fields: Vec<(&str, &Value<'_>)> = span
        .fields
        .iter()
        .filter_map(|(name, value)| {
            if !recorded_as_debug(value) {
                Some((*name, value))
            } else if name.starts_with("log.") {
                None
            } else {
                Some((name.strip_prefix("r#").unwrap_or(name), value))
            }
        })
        .collect();
    // Stable: the recordings of one name stay in order, the last one last.
    fields.sort_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    let mut object = JsonObject::new();
    for (i, (name, value)) in fields.iter().enumerate() {
        if fields.get(i + 1).is_some_and(|next| next.0 == *name) {
            continue;
        }
        object.key(out, name);
        json_span_value(out, value);
    }
    object.key(out, "name");
    push_json_str(out, span.meta.name);
    out.push('}');
}

/// A JSON string with serde_json's escaping (as fmt's).
fn push_json_str(out: &mut String, text: &str) {
    // Writing a `str` fails only if the writer does, and the writer fails
    // only on bytes that are not UTF-8, which serde_json never splits.
    let _ = serde_json::to_writer(StringWriter(out), text);
}

/// serde_json's output appended to a `String`: serde_json writes its escapes
/// and the unescaped runs between them separately, each whole UTF-8.
struct StringWriter<'o>(&'o mut String);

impl io::Write for StringWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text =
            std::str::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        self.0.push_str(text);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
