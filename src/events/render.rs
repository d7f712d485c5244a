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
            for (name, value) in message_first(ev) {
                fields.push(name, &value);
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
            for (name, value) in message_first(ev) {
                fields.key(out, name);
                json_event_value(out, &value);
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
/// are truncated, not rounded; humantime's are too, and this prints what
/// humantime's `format_rfc3339_micros` does, without its formatting
/// machinery. A u64 of nanoseconds ends in 2554: the year has four digits.
fn push_timestamp(out: &mut String, time_ns: u64) {
    let secs = time_ns / 1_000_000_000;
    let micros = (time_ns % 1_000_000_000) / 1_000;
    let days = secs / 86_400;
    let day_secs = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut buf = *b"0000-00-00T00:00:00.000000Z";
    put_digits(&mut buf[0..4], u64::from(year));
    put_digits(&mut buf[5..7], u64::from(month));
    put_digits(&mut buf[8..10], u64::from(day));
    put_digits(&mut buf[11..13], day_secs / 3600);
    put_digits(&mut buf[14..16], day_secs / 60 % 60);
    put_digits(&mut buf[17..19], day_secs % 60);
    put_digits(&mut buf[20..26], micros);
    push_ascii(out, &buf);
}

/// ASCII `bytes` (digits), without checking them as UTF-8 text.
fn push_ascii(out: &mut String, bytes: &[u8]) {
    // Digits and separators are ASCII: the check never fails.
    out.push_str(std::str::from_utf8(bytes).unwrap_or_default());
}

/// `value`'s last `out.len()` decimal digits, zero-padded, into `out`.
fn put_digits(out: &mut [u8], mut value: u64) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// The proleptic Gregorian date (year, month 1..=12, day 1..=31) of the
/// `days`-th day since 1970-01-01 (Howard Hinnant's `civil_from_days`, for
/// days on or after the epoch).
fn civil_from_days(days: u64) -> (u32, u32, u32) {
    // Days since 0000-03-01, the start of a 400-year era.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    // A u64 of nanoseconds since 1970 ends in 2554.
    (year as u32, month as u32, day as u32)
}

/// An integer's decimal digits, without `fmt`'s machinery.
fn push_u64(out: &mut String, mut value: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    push_ascii(out, &buf[at..]);
}

/// `value` as its `Debug` prints it, for the common values whose digits need
/// no search: a multiple of 2^-10 of at most 15 significant digits, from
/// 1e-4 to below 1e15. `false` (nothing written) for any other value.
///
/// Such a value is exactly a decimal of at most 15 significant digits, and
/// no other decimal of at most 15 digits rounds to the same `f64` (any 15
/// digits round-trip through an `f64`): those digits are the shortest that
/// do, which `Debug` prints, in positional notation in that range.
fn push_short_f64(out: &mut String, value: f64) -> bool {
    const SCALE: f64 = 1024.0;
    let magnitude = value.abs();
    if !(1e-4..1e15).contains(&magnitude) {
        return false;
    }
    // Exact: a power of two only moves the exponent (no overflow here).
    let scaled = magnitude * SCALE;
    if scaled.fract() != 0.0 {
        return false;
    }
    // Below 1e15 * 1024 < 2^64: exact.
    let scaled = scaled as u64;
    let int = scaled >> 10;
    // The fraction in ten decimal digits: (n / 2^10) = (n * 5^10) / 10^10.
    let mut frac = (scaled & 1023) * 9_765_625;
    let mut frac_digits = 10;
    while frac_digits > 1 && frac % 10 == 0 {
        frac /= 10;
        frac_digits -= 1;
    }
    let int_digits = if int == 0 { 0 } else { int.ilog10() + 1 };
    // Significant digits: without the fraction's leading zeros when there
    // is no integer part.
    let significant = if int == 0 {
        frac.ilog10() + 1
    } else {
        int_digits + if frac == 0 { 0 } else { frac_digits }
    };
    if significant > 15 {
        return false;
    }
    if value < 0.0 {
        out.push('-');
    }
    push_u64(out, int);
    out.push('.');
    let mut digits = [b'0'; 10];
    put_digits(&mut digits[..frac_digits as usize], frac);
    push_ascii(out, &digits[..frac_digits as usize]);
    true
}

fn push_i64(out: &mut String, value: i64) {
    if value < 0 {
        out.push('-');
    }
    push_u64(out, value.unsigned_abs());
}

/// The fields in their order, except that the message comes first (where
/// fmt's macros put it): the one a format callsite's template gave, or
/// else the first field named `message`.
fn message_first<'f>(ev: &'f Decoded<'_>) -> impl Iterator<Item = (&'f str, Value<'f>)> {
    let fields = &ev.fields;
    let formatted = ev
        .message
        .as_deref()
        .map(|message| ("message", Value::Debug(message)));
    let message = match formatted {
        Some(_) => None,
        None => fields.iter().position(|(name, _)| *name == "message"),
    };
    let first = formatted.or_else(|| message.map(|at| fields[at]));
    let rest = fields
        .iter()
        .enumerate()
        .filter(move |(i, _)| Some(*i) != message)
        .map(|(_, field)| *field);
    first.into_iter().chain(rest)
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

/// An `i8`, `i16` or `i32` value, widened (0 for any other).
fn narrow_int(value: &Value<'_>) -> i64 {
    match *value {
        Value::I8(v) => v.into(),
        Value::I16(v) => v.into(),
        Value::I32(v) => v.into(),
        _ => 0,
    }
}

/// A value as fmt's text prints it: its `Debug`.
fn text_value(out: &mut String, value: &Value<'_>) {
    let _ = match *value {
        Value::I64(v) => {
            push_i64(out, v);
            Ok(())
        }
        Value::I8(_) | Value::I16(_) | Value::I32(_) => {
            push_i64(out, narrow_int(value));
            Ok(())
        }
        Value::U64(v) => {
            push_u64(out, v);
            Ok(())
        }
        Value::F32(v) => write!(out, "{v:?}"),
        // Debug-quoting, as a str: escapes every control character.
        Value::Char(v) => write!(out, "{v:?}"),
        Value::I128(v) => write!(out, "{v}"),
        Value::U128(v) => write!(out, "{v}"),
        Value::F64(v) => {
            if !push_short_f64(out, v) {
                let _ = write!(out, "{v:?}");
            }
            Ok(())
        }
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
    // Most text needs no escape: look for the bytes that may start one
    // (U+0080..=U+009F are 0xc2 0x80..=0xc2 0x9f) before looking closer.
    let bytes = text.as_bytes();
    let suspect = if ansi {
        bytes
            .iter()
            .position(|&b| matches!(b, b'\n' | b'\r' | 0x1b | 0x07 | 0x08 | 0x0c | 0x7f | 0xc2))
    } else {
        bytes.iter().position(|&b| matches!(b, b'\n' | b'\r'))
    };
    let Some(from) = suspect else {
        out.push_str(text);
        return;
    };
    // `from` starts a character: every byte matched above is ASCII or a
    // lead byte.
    let Some(at) = text[from..].find(escaped).map(|at| from + at) else {
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
        Value::I64(v) => {
            push_i64(out, v);
            Ok(())
        }
        Value::I8(_) | Value::I16(_) | Value::I32(_) => {
            push_i64(out, narrow_int(value));
            Ok(())
        }
        Value::U64(v) => {
            push_u64(out, v);
            Ok(())
        }
        Value::F32(v) => {
            // serde_json's own digits (an f32's shortest); `null` for NaN and
            // the infinities.
            let _ = serde_json::to_writer(StringWriter(out), &v);
            Ok(())
        }
        Value::Char(v) => {
            let mut buf = [0; 4];
            push_json_str(out, v.encode_utf8(&mut buf));
            Ok(())
        }
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
