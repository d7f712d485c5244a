//! Each case renders a hand-built `Decoded` and compares it with the line
//! `tracing_subscriber::fmt` 0.3.23 printed for the same event (tracing
//! 0.1.44, tracing-log 0.2.0), copied here verbatim: text from the default
//! format with ANSI off, JSON from `.json()` with file, line number, thread
//! names, thread ids, current span and span list on. Both timers printed
//! `2026-12-06T18:00:00.123456Z`; the events came from `src/main.rs` of a crate
//! named `fmtprobe`, on the thread `main` (`ThreadId(1)`) unless a case says
//! otherwise. Where logring prints something else on purpose, the case says
//! what and why.

use proptest::prelude::*;

use super::*;
use crate::ring::event::{At, FieldNames, Meta, MetaKind, ThreadInfo};
use Value as V;

/// 2026-12-06T18:00:00.123456789Z: fmt prints six digits, truncated.
const TIME_NS: u64 = 1_796_580_000_123_456_789;
const PID: u32 = 4242;

fn meta<'a>(name: &'a str, target: &'a str, line: Option<u32>) -> Meta<'a> {
    Meta {
        level: Level::Info,
        kind: MetaKind::Event,
        name,
        target,
        module_path: Some(target),
        file: line.map(|_| "src/main.rs"),
        line,
        field_names: FieldNames::Slice(&[]),
        format: None,
    }
}

/// An INFO event of `fmtprobe` at `src/main.rs:line`, on thread `main`.
fn event<'a>(line: u32, fields: Vec<(&'a str, Value<'a>)>) -> Decoded<'a> {
    Decoded {
        kind: Kind::Event,
        level: Level::Info,
        time_ns: TIME_NS,
        pid: PID,
        thread: Some(ThreadInfo {
            number: 1,
            name: Some("main"),
        }),
        meta: meta("event", "fmtprobe", Some(line)),
        spans: Vec::new(),
        fields,
        args: Vec::new(),
        message: None,
        truncated: false,
    }
}

fn span<'a>(name: &'a str, fields: Vec<(&'a str, Value<'a>)>) -> SpanView<'a> {
    SpanView {
        meta: meta(name, "fmtprobe", Some(1)),
        fields,
    }
}

fn in_spans<'a>(mut ev: Decoded<'a>, spans: Vec<SpanView<'a>>) -> Decoded<'a> {
    ev.spans = spans;
    ev
}

fn render_text(ev: &Decoded<'_>) -> String {
    let mut out = String::new();
    super::event(&mut out, Format::Text, ev);
    out
}

fn render_json(ev: &Decoded<'_>) -> String {
    let mut out = String::new();
    super::event(&mut out, Format::Json, ev);
    out
}

/// `text_line` and `json_line` are fmt's lines without their newline; the
/// JSON line is fmt's, to which logring adds `pid` as the last key.
#[track_caller]
fn assert_renders(ev: &Decoded<'_>, text_line: &str, json_line: &str) {
    assert_eq!(render_text(ev), format!("{text_line}\n"), "text");
    let json_line = json_line.strip_suffix('}').expect("a JSON object");
    assert_eq!(
        render_json(ev),
        format!("{json_line},\"pid\":{PID}}}\n"),
        "json"
    );
}

#[test]
fn integers() {
    let ev = event(
        57,
        vec![
            ("message", V::Debug("ints")),
            ("a", V::I64(-5)),
            ("b", V::U64(7)),
            ("c", V::I64(i64::MIN)),
            ("d", V::U64(u64::MAX)),
        ],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: ints a=-5 b=7 c=-9223372036854775808 d=18446744073709551615"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"ints","a":-5,"b":7,"c":-9223372036854775808,"d":18446744073709551615},"target":"fmtprobe","filename":"src/main.rs","line_number":57,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn floats() {
    let ev = event(
        58,
        vec![
            ("message", V::Debug("floats")),
            ("one", V::F64(1.0)),
            ("big", V::F64(1e300)),
            ("nan", V::F64(f64::NAN)),
            ("inf", V::F64(f64::INFINITY)),
            ("ninf", V::F64(f64::NEG_INFINITY)),
            ("tenth", V::F64(0.1)),
            ("nzero", V::F64(-0.0)),
            ("small", V::F64(1e-7)),
            ("e17", V::F64(123456789012345680.0)),
            ("f32v", V::F64(f64::from(1.5f32))),
        ],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: floats one=1.0 big=1e300 nan=NaN inf=inf ninf=-inf tenth=0.1 nzero=-0.0 small=1e-7 e17=1.2345678901234568e17 f32v=1.5"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"floats","one":1.0,"big":1e+300,"nan":null,"inf":null,"ninf":null,"tenth":0.1,"nzero":-0.0,"small":1e-7,"e17":1.2345678901234568e+17,"f32v":1.5},"target":"fmtprobe","filename":"src/main.rs","line_number":58,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn bools() {
    let ev = event(
        59,
        vec![
            ("message", V::Debug("bools")),
            ("t", V::Bool(true)),
            ("f", V::Bool(false)),
        ],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: bools t=true f=false"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"bools","t":true,"f":false},"target":"fmtprobe","filename":"src/main.rs","line_number":59,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn strings_are_debug_quoted_in_text_and_escaped_by_serde_json() {
    let ev = event(
        60,
        vec![
            ("message", V::Debug("strs")),
            ("plain", V::Str("plain")),
            ("quotes", V::Str("say \"hi\"")),
            ("nl", V::Str("line1\nline2")),
            ("tab", V::Str("a\tb")),
            ("bs", V::Str("back\\slash")),
            ("uni", V::Str("é ✓ 日本 🦀")),
            ("esc", V::Str("\u{1b}[31mred")),
            ("del", V::Str("\u{7f}")),
            ("c1", V::Str("\u{85}")),
            ("nul", V::Str("\0")),
            ("zw", V::Str("\u{200b}")),
        ],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: strs plain="plain" quotes="say \"hi\"" nl="line1\nline2" tab="a\tb" bs="back\\slash" uni="é ✓ 日本 🦀" esc="\u{1b}[31mred" del="\u{7f}" c1="\u{85}" nul="\0" zw="\u{200b}""#,
        "{\"timestamp\":\"2026-12-06T18:00:00.123456Z\",\"level\":\"INFO\",\"fields\":{\"message\":\"strs\",\"plain\":\"plain\",\"quotes\":\"say \\\"hi\\\"\",\"nl\":\"line1\\nline2\",\"tab\":\"a\\tb\",\"bs\":\"back\\\\slash\",\"uni\":\"é ✓ 日本 🦀\",\"esc\":\"\\u001b[31mred\",\"del\":\"\u{7f}\",\"c1\":\"\u{85}\",\"nul\":\"\\u0000\",\"zw\":\"\u{200b}\"},\"target\":\"fmtprobe\",\"filename\":\"src/main.rs\",\"line_number\":60,\"threadName\":\"main\",\"threadId\":\"ThreadId(1)\"}",
    );
}

#[test]
fn message_text_is_bare_with_ansi_escaped_and_newlines_kept_on_the_line() {
    let ev = event(
        61,
        vec![(
            "message",
            V::Debug("msg \"q\" \n nl \t tab \\ é \u{1b}[31m \u{7f} \u{85} \u{200b} \0"),
        )],
    );
    // fmt prints the message's newline raw, splitting the record over two
    // lines; logring writes `\n`. The rest is fmt's: ESC, DEL and C1 escaped,
    // the tab and NUL raw.
    assert_renders(
        &ev,
        "2026-12-06T18:00:00.123456Z  INFO fmtprobe: msg \"q\" \\n nl \t tab \\ é \\x1b[31m \\x7f \\u{85} \u{200b} \u{0}",
        "{\"timestamp\":\"2026-12-06T18:00:00.123456Z\",\"level\":\"INFO\",\"fields\":{\"message\":\"msg \\\"q\\\" \\n nl \\t tab \\\\ é \\u001b[31m \u{7f} \u{85} \u{200b} \\u0000\"},\"target\":\"fmtprobe\",\"filename\":\"src/main.rs\",\"line_number\":61,\"threadName\":\"main\",\"threadId\":\"ThreadId(1)\"}",
    );
}

#[test]
fn debug_and_display_values_print_their_text() {
    let ev = event(
        62,
        vec![
            ("message", V::Debug("debugs")),
            ("v", V::Debug("[1, 2]")),
            ("o", V::Debug("Some(\"x\")")),
            ("p", V::Debug("Point { x: 1, y: \"y\\n\" }")),
            ("s", V::Debug("\"dbgstr\"")),
            ("disp", V::Debug("display \"str\"")),
            ("dispnum", V::Debug("5")),
        ],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: debugs v=[1, 2] o=Some("x") p=Point { x: 1, y: "y\n" } s="dbgstr" disp=display "str" dispnum=5"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"debugs","v":"[1, 2]","o":"Some(\"x\")","p":"Point { x: 1, y: \"y\\n\" }","s":"\"dbgstr\"","disp":"display \"str\"","dispnum":"5"},"target":"fmtprobe","filename":"src/main.rs","line_number":62,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn display_text_with_a_newline_stays_on_one_line() {
    let ev = event(
        96,
        vec![
            ("message", V::Debug("disp")),
            ("d", V::Debug("a\nb\u{1b}c")),
            ("dd", V::Debug("\"a\\nb\"")),
        ],
    );
    // fmt: "... disp d=a<newline>b<ESC>c dd=\"a\\nb\"": the raw newline
    // becomes `\n`; ESC outside a message stays raw, as in fmt.
    assert_renders(
        &ev,
        "2026-12-06T18:00:00.123456Z  INFO fmtprobe: disp d=a\\nb\u{1b}c dd=\"a\\nb\"",
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"disp","d":"a\nb\u001bc","dd":"\"a\\nb\""},"target":"fmtprobe","filename":"src/main.rs","line_number":96,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn errors_print_their_display() {
    let ev = event(
        64,
        vec![
            ("message", V::Debug("errs")),
            ("err", V::Error("inner cause")),
        ],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: errs err=inner cause"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"errs","err":"inner cause"},"target":"fmtprobe","filename":"src/main.rs","line_number":64,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn errors_with_sources_print_their_display_alone() {
    let ev = event(
        63,
        vec![
            ("message", V::Debug("errs")),
            ("err", V::Error("outer \"failed\"")),
        ],
    );
    // fmt's text adds ` err.sources=[inner cause]`; the record carries the
    // error's Display only. fmt's JSON has no sources either.
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: errs err=outer "failed""#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"errs","err":"outer \"failed\""},"target":"fmtprobe","filename":"src/main.rs","line_number":63,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn wide_integers_are_strings_in_json() {
    let ev = event(
        65,
        vec![
            ("message", V::Debug("wide")),
            ("i", V::I128(-(1i128 << 100))),
            ("u", V::U128(u128::MAX)),
            ("small", V::I128(5)),
        ],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: wide i=-1267650600228229401496703205376 u=340282366920938463463374607431768211455 small=5"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"wide","i":"-1267650600228229401496703205376","u":"340282366920938463463374607431768211455","small":"5"},"target":"fmtprobe","filename":"src/main.rs","line_number":65,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn bytes_are_hex_lists() {
    let ev = event(
        66,
        vec![
            ("message", V::Debug("bytes")),
            ("data", V::Bytes(b"ab\x00\xff")),
            ("empty", V::Bytes(b"")),
        ],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: bytes data=[61 62 00 ff] empty=[]"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"bytes","data":"[61 62 00 ff]","empty":"[]"},"target":"fmtprobe","filename":"src/main.rs","line_number":66,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn message_alone() {
    assert_renders(
        &event(67, vec![("message", V::Debug("hello"))]),
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: hello"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"hello"},"target":"fmtprobe","filename":"src/main.rs","line_number":67,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
    assert_renders(
        &event(68, vec![("message", V::Debug("filled 3 of 10"))]),
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: filled 3 of 10"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"filled 3 of 10"},"target":"fmtprobe","filename":"src/main.rs","line_number":68,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn message_given_as_a_field() {
    assert_renders(
        &event(69, vec![("message", V::Str("as field"))]),
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: as field"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"as field"},"target":"fmtprobe","filename":"src/main.rs","line_number":69,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
    assert_renders(
        &event(70, vec![("message", V::I64(5))]),
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: 5"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":5},"target":"fmtprobe","filename":"src/main.rs","line_number":70,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn message_comes_first() {
    // `info!(a = 1, b = "x", "msg")`: the encoder may write the message last.
    let ev = event(
        71,
        vec![
            ("a", V::I64(1)),
            ("b", V::Str("x")),
            ("message", V::Debug("msg")),
        ],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: msg a=1 b="x""#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"msg","a":1,"b":"x"},"target":"fmtprobe","filename":"src/main.rs","line_number":71,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn empty_message_keeps_its_separator() {
    let ev = event(72, vec![("message", V::Debug("")), ("a", V::I64(1))]);
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe:  a=1"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"","a":1},"target":"fmtprobe","filename":"src/main.rs","line_number":72,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn no_message() {
    let ev = event(73, vec![("a", V::I64(1)), ("b", V::Str("x"))]);
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: a=1 b="x""#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"a":1,"b":"x"},"target":"fmtprobe","filename":"src/main.rs","line_number":73,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn no_field_at_all_keeps_the_space_after_the_target() {
    assert_renders(
        &event(74, Vec::new()),
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: "#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{},"target":"fmtprobe","filename":"src/main.rs","line_number":74,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn raw_identifiers() {
    // tracing 0.1.44's macros strip `r#` before the name reaches anyone.
    let ev = event(
        75,
        vec![
            ("message", V::Debug("raw")),
            ("type", V::Str("t")),
            ("mod", V::I64(5)),
        ],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: raw type="t" mod=5"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"raw","type":"t","mod":5},"target":"fmtprobe","filename":"src/main.rs","line_number":75,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
    // A name that still has it (older tracing, a hand-made callsite): fmt's
    // text drops it, tracing-serde keeps it.
    let ev = event(
        76,
        vec![("message", V::Debug("raw")), ("r#type", V::Debug("\"t\""))],
    );
    assert_eq!(
        render_text(&ev),
        "2026-12-06T18:00:00.123456Z  INFO fmtprobe: raw type=\"t\"\n"
    );
    assert!(render_json(&ev).contains(r#""fields":{"message":"raw","r#type":"\"t\""}"#));
}

#[test]
fn log_fields_are_skipped_in_text_and_kept_in_json() {
    let ev = event(
        77,
        vec![
            ("message", V::Debug("logfields")),
            ("log.target", V::Str("x")),
            ("log.line", V::I64(5)),
            ("other", V::I64(1)),
        ],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: logfields other=1"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"logfields","log.target":"x","log.line":5,"other":1},"target":"fmtprobe","filename":"src/main.rs","line_number":77,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn dotted_names() {
    let ev = event(
        78,
        vec![("message", V::Debug("dotted")), ("a.b.c", V::I64(1))],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: dotted a.b.c=1"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"dotted","a.b.c":1},"target":"fmtprobe","filename":"src/main.rs","line_number":78,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn explicit_target() {
    let mut ev = event(79, vec![("message", V::Debug("tgt"))]);
    ev.meta.target = "my::target";
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO my::target: tgt"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"tgt"},"target":"my::target","filename":"src/main.rs","line_number":79,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn levels_are_padded_in_text_only() {
    let cases = [
        (
            Level::Trace,
            "t",
            "2026-12-06T18:00:00.123456Z TRACE fmtprobe: t",
            "TRACE",
        ),
        (
            Level::Debug,
            "d",
            "2026-12-06T18:00:00.123456Z DEBUG fmtprobe: d",
            "DEBUG",
        ),
        (
            Level::Info,
            "i",
            "2026-12-06T18:00:00.123456Z  INFO fmtprobe: i",
            "INFO",
        ),
        (
            Level::Warn,
            "w",
            "2026-12-06T18:00:00.123456Z  WARN fmtprobe: w",
            "WARN",
        ),
        (
            Level::Error,
            "e",
            "2026-12-06T18:00:00.123456Z ERROR fmtprobe: e",
            "ERROR",
        ),
    ];
    for (level, message, text_line, name) in cases {
        let mut ev = event(80, vec![("message", V::Debug(message))]);
        ev.level = level;
        let json_line = format!(
            r#"{{"timestamp":"2026-12-06T18:00:00.123456Z","level":"{name}","fields":{{"message":"{message}"}},"target":"fmtprobe","filename":"src/main.rs","line_number":80,"threadName":"main","threadId":"ThreadId(1)"}}"#
        );
        assert_renders(&ev, text_line, &json_line);
    }
}

#[test]
fn span_without_fields() {
    let ev = in_spans(
        event(81, vec![("message", V::Debug("in span"))]),
        vec![span("plain_span", Vec::new())],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO plain_span: fmtprobe: in span"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"in span"},"target":"fmtprobe","filename":"src/main.rs","line_number":81,"span":{"name":"plain_span"},"spans":[{"name":"plain_span"}],"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn span_with_fields() {
    let ev = in_spans(
        event(82, vec![("message", V::Debug("in span")), ("k", V::I64(2))]),
        vec![span(
            "fs",
            vec![
                ("a", V::I64(1)),
                ("b", V::Str("x\"y")),
                ("c", V::F64(1.5)),
                ("d", V::Bool(true)),
                ("e", V::Debug("[1]")),
            ],
        )],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO fs{a=1 b="x\"y" c=1.5 d=true e=[1]}: fmtprobe: in span k=2"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"in span","k":2},"target":"fmtprobe","filename":"src/main.rs","line_number":82,"span":{"a":1,"b":"x\"y","c":1.5,"d":true,"e":"[1]","name":"fs"},"spans":[{"a":1,"b":"x\"y","c":1.5,"d":true,"e":"[1]","name":"fs"}],"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn nested_spans() {
    let ev = in_spans(
        event(83, vec![("message", V::Debug("nested"))]),
        vec![
            span("outer", vec![("a", V::I64(1))]),
            span("mid", Vec::new()),
            span("inner", vec![("b", V::I64(2))]),
        ],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO outer{a=1}:mid:inner{b=2}: fmtprobe: nested"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"nested"},"target":"fmtprobe","filename":"src/main.rs","line_number":83,"span":{"b":2,"name":"inner"},"spans":[{"a":1,"name":"outer"},{"name":"mid"},{"b":2,"name":"inner"}],"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn span_fields_recorded_later() {
    // `info_span!("late", a = 1, l = Empty)` then `record("l", 5)`.
    let ev = in_spans(
        event(84, vec![("message", V::Debug("recorded"))]),
        vec![span("late", vec![("a", V::I64(1)), ("l", V::I64(5))])],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO late{a=1 l=5}: fmtprobe: recorded"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"recorded"},"target":"fmtprobe","filename":"src/main.rs","line_number":84,"span":{"a":1,"l":5,"name":"late"},"spans":[{"a":1,"l":5,"name":"late"}],"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
    // `info_span!("late", l = Empty, m = Empty)`, `record("m", "x")`, `record("l", 5)`.
    let ev = in_spans(
        event(85, vec![("message", V::Debug("recorded"))]),
        vec![span("late", vec![("m", V::Str("x")), ("l", V::I64(5))])],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO late{m="x" l=5}: fmtprobe: recorded"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"recorded"},"target":"fmtprobe","filename":"src/main.rs","line_number":85,"span":{"l":5,"m":"x","name":"late"},"spans":[{"l":5,"m":"x","name":"late"}],"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
    // Recorded twice: text shows both, JSON the last.
    let ev = in_spans(
        event(86, vec![("message", V::Debug("recorded"))]),
        vec![span("late", vec![("l", V::I64(5)), ("l", V::I64(6))])],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO late{l=5 l=6}: fmtprobe: recorded"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"recorded"},"target":"fmtprobe","filename":"src/main.rs","line_number":86,"span":{"l":6,"name":"late"},"spans":[{"l":6,"name":"late"}],"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn span_fields_are_sorted_in_json_and_event_fields_are_not() {
    let ev = in_spans(
        event(
            87,
            vec![
                ("message", V::Debug("evt order")),
                ("z", V::I64(1)),
                ("a", V::I64(2)),
            ],
        ),
        vec![span(
            "ord",
            vec![("z", V::I64(1)), ("a", V::I64(2)), ("m", V::Str("s"))],
        )],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO ord{z=1 a=2 m="s"}: fmtprobe: evt order z=1 a=2"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"evt order","z":1,"a":2},"target":"fmtprobe","filename":"src/main.rs","line_number":87,"span":{"a":2,"m":"s","z":1,"name":"ord"},"spans":[{"a":2,"m":"s","z":1,"name":"ord"}],"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn span_field_called_name_is_a_duplicate_key() {
    let ev = in_spans(
        event(88, vec![("message", V::Debug("name clash"))]),
        vec![span("nm", vec![("name", V::Str("mine"))])],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO nm{name="mine"}: fmtprobe: name clash"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"name clash"},"target":"fmtprobe","filename":"src/main.rs","line_number":88,"span":{"name":"mine","name":"nm"},"spans":[{"name":"mine","name":"nm"}],"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn span_raw_identifiers() {
    // `info_span!("rt", r#type = "t", r#x = ?1)`: names already stripped.
    let ev = in_spans(
        event(89, vec![("message", V::Debug("raw in span"))]),
        vec![span(
            "rt",
            vec![("type", V::Str("t")), ("x", V::Debug("1"))],
        )],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO rt{type="t" x=1}: fmtprobe: raw in span"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"raw in span"},"target":"fmtprobe","filename":"src/main.rs","line_number":89,"span":{"type":"t","x":"1","name":"rt"},"spans":[{"type":"t","x":"1","name":"rt"}],"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
    // Names that still carry `r#` or start with `log.`: fmt's JSON visitor
    // strips and skips them only for values it records through Debug.
    let ev = in_spans(
        event(89, vec![("message", V::Debug("raw in span"))]),
        vec![span(
            "rt",
            vec![
                ("r#a", V::Str("s")),
                ("r#b", V::Debug("d")),
                ("log.c", V::Str("kept")),
                ("log.d", V::Debug("skipped")),
                ("r#e", V::U128(1)),
            ],
        )],
    );
    assert_eq!(
        render_text(&ev),
        "2026-12-06T18:00:00.123456Z  INFO rt{a=\"s\" b=d e=1}: fmtprobe: raw in span\n"
    );
    assert!(
        render_json(&ev)
            .contains(r#""span":{"b":"d","e":"1","log.c":"kept","r#a":"s","name":"rt"}"#)
    );
}

#[test]
fn span_message_is_bare() {
    let ev = in_spans(
        event(90, vec![("message", V::Debug("msg in span"))]),
        vec![span("sm", vec![("message", V::Str("hi"))])],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO sm{hi}: fmtprobe: msg in span"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"msg in span"},"target":"fmtprobe","filename":"src/main.rs","line_number":90,"span":{"message":"hi","name":"sm"},"spans":[{"message":"hi","name":"sm"}],"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn span_message_with_a_newline_stays_on_one_line() {
    let ev = in_spans(
        event(97, vec![("message", V::Debug("in"))]),
        vec![span(
            "sn",
            vec![("message", V::Str("x\ny")), ("s", V::Str("p\nq"))],
        )],
    );
    // fmt: "sn{x<newline>y s=\"p\\nq\"}".
    assert_renders(
        &ev,
        "2026-12-06T18:00:00.123456Z  INFO sn{x\\ny s=\"p\\nq\"}: fmtprobe: in",
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"in"},"target":"fmtprobe","filename":"src/main.rs","line_number":97,"span":{"message":"x\ny","s":"p\nq","name":"sn"},"spans":[{"message":"x\ny","s":"p\nq","name":"sn"}],"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn span_bytes_are_arrays_in_json() {
    let ev = in_spans(
        event(91, vec![("message", V::Debug("sx"))]),
        vec![span(
            "sx",
            vec![
                ("w", V::U128(1 << 70)),
                ("b", V::Bytes(b"ab")),
                ("f", V::F64(1.0)),
                ("n", V::F64(f64::NAN)),
            ],
        )],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO sx{w=1180591620717411303424 b=[61 62] f=1.0 n=NaN}: fmtprobe: sx"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"sx"},"target":"fmtprobe","filename":"src/main.rs","line_number":91,"span":{"b":[97,98],"f":1.0,"n":null,"w":"1180591620717411303424","name":"sx"},"spans":[{"b":[97,98],"f":1.0,"n":null,"w":"1180591620717411303424","name":"sx"}],"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn span_error() {
    let ev = in_spans(
        event(92, vec![("message", V::Debug("se"))]),
        vec![span("se", vec![("err", V::Error("outer \"failed\""))])],
    );
    // fmt's text: `se{err=outer "failed" err.sources=[inner cause]}`.
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO se{err=outer "failed"}: fmtprobe: se"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"se"},"target":"fmtprobe","filename":"src/main.rs","line_number":92,"span":{"err":"outer \"failed\"","name":"se"},"spans":[{"err":"outer \"failed\"","name":"se"}],"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn span_whose_fields_print_nothing_has_no_braces() {
    let ev = in_spans(
        event(93, vec![("message", V::Debug("no braces"))]),
        vec![span("quiet", vec![("log.target", V::Str("x"))])],
    );
    assert_eq!(
        render_text(&ev),
        "2026-12-06T18:00:00.123456Z  INFO quiet: fmtprobe: no braces\n"
    );
}

/// An event from the `log` crate as tracing-log hands it to fmt.
fn from_log<'a>(level: Level, target: &'a str, message: &'a str, line: u32) -> Decoded<'a> {
    let mut ev = event(
        line,
        vec![
            ("message", V::Debug(message)),
            ("log.target", V::Str(target)),
            ("log.module_path", V::Str("fmtprobe")),
            ("log.file", V::Str("src/main.rs")),
            ("log.line", V::U64(u64::from(line))),
        ],
    );
    ev.level = level;
    ev.meta.target = target;
    ev
}

#[test]
fn events_from_log() {
    assert_renders(
        &from_log(Level::Info, "fmtprobe", "from log 1", 94),
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: from log 1"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"from log 1","log.target":"fmtprobe","log.module_path":"fmtprobe","log.file":"src/main.rs","log.line":94},"target":"fmtprobe","filename":"src/main.rs","line_number":94,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
    assert_renders(
        &from_log(Level::Warn, "custom::tgt", "warned", 94),
        r#"2026-12-06T18:00:00.123456Z  WARN custom::tgt: warned"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"WARN","fields":{"message":"warned","log.target":"custom::tgt","log.module_path":"fmtprobe","log.file":"src/main.rs","log.line":94},"target":"custom::tgt","filename":"src/main.rs","line_number":94,"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
    let ev = in_spans(
        from_log(Level::Error, "fmtprobe", "log in span", 95),
        vec![span("ls", vec![("a", V::I64(1))])],
    );
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z ERROR ls{a=1}: fmtprobe: log in span"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"ERROR","fields":{"message":"log in span","log.target":"fmtprobe","log.module_path":"fmtprobe","log.file":"src/main.rs","log.line":95},"target":"fmtprobe","filename":"src/main.rs","line_number":95,"span":{"a":1,"name":"ls"},"spans":[{"a":1,"name":"ls"}],"threadName":"main","threadId":"ThreadId(1)"}"#,
    );
}

#[test]
fn threads() {
    let mut ev = event(98, vec![("message", V::Debug("unnamed"))]);
    ev.thread = Some(ThreadInfo {
        number: 2,
        name: None,
    });
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: unnamed"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"unnamed"},"target":"fmtprobe","filename":"src/main.rs","line_number":98,"threadId":"ThreadId(2)"}"#,
    );
    let mut ev = event(99, vec![("message", V::Debug("named"))]);
    ev.thread = Some(ThreadInfo {
        number: 3,
        name: Some("worker-1"),
    });
    assert_renders(
        &ev,
        r#"2026-12-06T18:00:00.123456Z  INFO fmtprobe: named"#,
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"named"},"target":"fmtprobe","filename":"src/main.rs","line_number":99,"threadName":"worker-1","threadId":"ThreadId(3)"}"#,
    );
    // Unknown thread, file and line: the keys are left out.
    let mut ev = event(1, vec![("message", V::Debug("where"))]);
    ev.thread = None;
    ev.meta.file = None;
    ev.meta.line = None;
    assert_eq!(
        render_json(&ev),
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"INFO","fields":{"message":"where"},"target":"fmtprobe","pid":4242}"#
            .to_owned()
            + "\n"
    );
}

#[test]
fn timestamps_are_truncated_to_microseconds() {
    let at = |time_ns| {
        let mut ev = event(1, Vec::new());
        ev.time_ns = time_ns;
        render_text(&ev)
    };
    assert!(at(0).starts_with("1970-01-01T00:00:00.000000Z  INFO"));
    assert!(at(1_796_580_000_999_999_999).starts_with("2026-12-06T18:00:00.999999Z "));
    assert!(at(951_782_400_000_001_000).starts_with("2000-02-29T00:00:00.000001Z "));
    assert!(at(u64::MAX).starts_with("2554-07-21T23:34:33.709551Z "));
}

#[test]
fn dropped_record() {
    let mut ev = event(1, vec![("ignored", V::I64(1))]);
    ev.kind = Kind::Dropped { count: 17 };
    ev.spans = vec![span("ignored", Vec::new())];
    assert_eq!(
        render_text(&ev),
        "2026-12-06T18:00:00.123456Z  WARN logring: 17 events dropped dropped=17\n"
    );
    assert_eq!(
        render_json(&ev),
        r#"{"timestamp":"2026-12-06T18:00:00.123456Z","level":"WARN","fields":{"message":"17 events dropped","dropped":17},"target":"logring","threadName":"main","threadId":"ThreadId(1)","pid":4242}"#
            .to_owned()
            + "\n"
    );
}

#[test]
fn truncated_event() {
    let mut ev = event(5, vec![("message", V::Debug("cut")), ("a", V::I64(1))]);
    ev.truncated = true;
    assert_eq!(
        render_text(&ev),
        "2026-12-06T18:00:00.123456Z  INFO fmtprobe: cut a=1 logring.truncated=true\n"
    );
    assert!(
        render_json(&ev)
            .contains(r#""fields":{"message":"cut","a":1,"logring.truncated":true},"target""#)
    );
}

#[test]
fn undecodable_record() {
    let error = DecodeError::UnknownVersion { tag: 0xFFFF_FF02 };
    let mut out = String::new();
    undecodable(
        &mut out,
        Format::Text,
        0xFFFF_FF02,
        &[0x01, 0xab, 0x0a],
        &error,
    );
    assert_eq!(
        out,
        "<unknown time>  WARN logring: undecodable event record \
         (an event of an unknown encoding (tag 0xffffff02)), 3 bytes: 01ab0a\n"
    );
    out.clear();
    undecodable(
        &mut out,
        Format::Json,
        0xFFFF_FF02,
        &[0x01, 0xab, 0x0a],
        &error,
    );
    assert_eq!(
        out,
        "{\"level\":\"WARN\",\"fields\":{\"message\":\"undecodable event record \
         (an event of an unknown encoding (tag 0xffffff02)), 3 bytes\",\
         \"tag\":\"0xffffff02\",\"raw\":\"01ab0a\"},\"target\":\"logring\"}\n"
    );
}

// === properties ===

#[derive(Clone, Debug)]
enum OwnedValue {
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Str(String),
    Debug(String),
    Bytes(Vec<u8>),
    I128(i128),
    U128(u128),
    Error(String),
}

impl OwnedValue {
    fn view(&self) -> Value<'_> {
        match self {
            Self::I64(v) => V::I64(*v),
            Self::U64(v) => V::U64(*v),
            Self::F64(v) => V::F64(*v),
            Self::Bool(v) => V::Bool(*v),
            Self::Str(v) => V::Str(v),
            Self::Debug(v) => V::Debug(v),
            Self::Bytes(v) => V::Bytes(v),
            Self::I128(v) => V::I128(*v),
            Self::U128(v) => V::U128(*v),
            Self::Error(v) => V::Error(v),
        }
    }
}

type OwnedFields = Vec<(String, OwnedValue)>;

#[derive(Clone, Debug)]
struct OwnedEvent {
    dropped: Option<u64>,
    level: Level,
    time_ns: u64,
    pid: u32,
    thread: Option<(u64, Option<String>)>,
    target: String,
    file: Option<String>,
    line: Option<u32>,
    spans: Vec<(String, OwnedFields)>,
    fields: OwnedFields,
    truncated: bool,
}

impl OwnedEvent {
    fn fields(fields: &OwnedFields) -> Vec<(&str, Value<'_>)> {
        fields
            .iter()
            .map(|(name, value)| (name.as_str(), value.view()))
            .collect()
    }

    fn view(&self) -> Decoded<'_> {
        let meta = |name, target| Meta {
            level: Level::Info,
            kind: MetaKind::Event,
            name,
            target,
            module_path: None,
            file: self.file.as_deref(),
            line: self.line,
            field_names: FieldNames::Slice(&[]),
            format: None,
        };
        Decoded {
            kind: match self.dropped {
                Some(count) => Kind::Dropped { count },
                None => Kind::Event,
            },
            level: self.level,
            time_ns: self.time_ns,
            pid: self.pid,
            thread: self.thread.as_ref().map(|(number, name)| ThreadInfo {
                number: *number,
                name: name.as_deref(),
            }),
            meta: meta("event", &self.target),
            spans: self
                .spans
                .iter()
                .map(|(name, fields)| SpanView {
                    meta: meta(name, &self.target),
                    fields: Self::fields(fields),
                })
                .collect(),
            fields: Self::fields(&self.fields),
            args: Vec::new(),
            message: None,
            truncated: self.truncated,
        }
    }
}

/// Text that is hard to print: line breaks, quotes, escapes, controls.
fn nasty_text() -> impl Strategy<Value = String> {
    let c = prop_oneof![
        3 => any::<char>(),
        1 => prop::sample::select(vec!['\n', '\r', '"', '\\', '\u{1b}', '\u{7f}', '\u{85}', '\0', '{', '}', '=', ' ']),
    ];
    prop::collection::vec(c, 0..12).prop_map(String::from_iter)
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => prop::sample::select(vec!["message", "name", "log.target", "r#type", "a", "a.b"])
            .prop_map(str::to_owned),
        2 => nasty_text(),
    ]
}

fn value() -> impl Strategy<Value = OwnedValue> {
    prop_oneof![
        any::<i64>().prop_map(OwnedValue::I64),
        any::<u64>().prop_map(OwnedValue::U64),
        prop_oneof![
            any::<f64>(),
            prop::sample::select(vec![
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                -0.0,
                1e300
            ])
        ]
        .prop_map(OwnedValue::F64),
        any::<bool>().prop_map(OwnedValue::Bool),
        nasty_text().prop_map(OwnedValue::Str),
        nasty_text().prop_map(OwnedValue::Debug),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(OwnedValue::Bytes),
        any::<i128>().prop_map(OwnedValue::I128),
        any::<u128>().prop_map(OwnedValue::U128),
        nasty_text().prop_map(OwnedValue::Error),
    ]
}

fn fields() -> impl Strategy<Value = OwnedFields> {
    prop::collection::vec((name(), value()), 0..6)
}

fn owned_event() -> impl Strategy<Value = OwnedEvent> {
    let level = prop::sample::select(vec![
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
    ]);
    let thread = prop::option::of((any::<u64>(), prop::option::of(nasty_text())));
    let place = (
        nasty_text(),
        prop::option::of(nasty_text()),
        prop::option::of(any::<u32>()),
    );
    let spans = prop::collection::vec((nasty_text(), fields()), 0..4);
    (
        prop::option::weighted(0.1, any::<u64>()),
        level,
        any::<u64>(),
        any::<u32>(),
        thread,
        place,
        spans,
        fields(),
        any::<bool>(),
    )
        .prop_map(
            |(
                dropped,
                level,
                time_ns,
                pid,
                thread,
                (target, file, line),
                spans,
                fields,
                truncated,
            )| {
                OwnedEvent {
                    dropped,
                    level,
                    time_ns,
                    pid,
                    thread,
                    target,
                    file,
                    line,
                    spans,
                    fields,
                    truncated,
                }
            },
        )
}

#[track_caller]
fn assert_one_line(out: &str) {
    assert!(out.ends_with('\n'), "{out:?}");
    assert_eq!(out.matches('\n').count(), 1, "{out:?}");
    assert!(!out.contains('\r'), "{out:?}");
}

proptest! {
    #[test]
    fn any_event_renders_as_one_line(owned in owned_event()) {
        let ev = owned.view();
        assert_one_line(&render_text(&ev));
        let line = render_json(&ev);
        assert_one_line(&line);
        let parsed: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        let object = parsed.as_object().expect("an object");
        prop_assert_eq!(object["pid"].as_u64(), Some(u64::from(owned.pid)));
        prop_assert!(object["fields"].is_object());
        prop_assert!(object["level"].is_string());
        prop_assert!(object["timestamp"].is_string());
        prop_assert_eq!(object.contains_key("spans"), owned.dropped.is_none() && !owned.spans.is_empty());
    }

    #[test]
    fn any_undecodable_record_renders_as_one_line(
        tag in any::<u32>(),
        payload in prop::collection::vec(any::<u8>(), 0..64),
        id in any::<u32>(),
        malformed in any::<bool>(),
    ) {
        let error = if malformed {
            DecodeError::Invalid { at: At { entry: None, offset: 3 }, what: "span item" }
        } else {
            DecodeError::MissingEntry { id, what: "callsite" }
        };
        let mut out = String::new();
        undecodable(&mut out, Format::Text, tag, &payload, &error);
        assert_one_line(&out);
        out.clear();
        undecodable(&mut out, Format::Json, tag, &payload, &error);
        assert_one_line(&out);
        let parsed: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        let raw = parsed["fields"]["raw"].as_str().expect("raw");
        prop_assert_eq!(raw.len(), payload.len() * 2);
    }
}

proptest! {
    /// The timestamp is humantime's RFC 3339 with microseconds, for any
    /// time a record can carry.
    #[test]
    fn timestamps_match_humantime(time_ns in any::<u64>()) {
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(time_ns);
        let mut out = String::new();
        push_timestamp(&mut out, time_ns);
        prop_assert_eq!(out, humantime::format_rfc3339_micros(time).to_string());
    }

    /// Integers print as `Display` does.
    #[test]
    fn integers_match_display(value in any::<i64>(), unsigned in any::<u64>()) {
        let mut out = String::new();
        push_i64(&mut out, value);
        out.push(' ');
        push_u64(&mut out, unsigned);
        prop_assert_eq!(out, format!("{value} {unsigned}"));
    }

    /// Escaping finds what the character-wise rule finds, whatever the text.
    #[test]
    fn escapes_match_the_rule(text in "(\\PC|[\n\r\x1b\x07\x08\x0c\x7f\u{80}-\u{a0}\u{c2}])*", ansi in any::<bool>()) {
        let mut out = String::new();
        push_text(&mut out, &text, ansi);
        let mut want = String::new();
        for c in text.chars() {
            match c {
                '\n' => want.push_str("\\n"),
                '\r' => want.push_str("\\r"),
                '\u{80}'..='\u{9f}' if ansi => want.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
                '\x1b' | '\x07' | '\x08' | '\x0c' | '\x7f' if ansi => {
                    want.push_str(&format!("\\x{:02x}", u32::from(c)));
                }
                c => want.push(c),
            }
        }
        prop_assert_eq!(out, want);
    }
}

#[test]
fn timestamp_edges() {
    for time_ns in [
        0,
        1,
        951_782_400_000_000_000,
        4_107_542_400_000_000_000,
        u64::MAX,
    ] {
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(time_ns);
        let mut out = String::new();
        push_timestamp(&mut out, time_ns);
        assert_eq!(out, humantime::format_rfc3339_micros(time).to_string());
    }
}

/// Values the short path takes, next to values it must leave to `Debug`.
fn f64_cases() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        (any::<i64>(), 0u32..=12).prop_map(|(n, k)| n as f64 / f64::from(1u32 << k)),
        (any::<i32>(), 0u32..=12).prop_map(|(n, k)| f64::from(n) / f64::from(1u32 << k)),
        (-(1i64 << 40)..(1i64 << 40), 0u32..=10).prop_map(|(n, k)| n as f64 / f64::from(1u32 << k)),
        (0u32..2000).prop_map(|n| f64::from(n) / 10_000.0),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    /// Floats print as their `Debug`, through the short path or not.
    #[test]
    fn floats_match_debug(value in f64_cases()) {
        let mut out = String::new();
        text_value(&mut out, &Value::F64(value));
        prop_assert_eq!(out, format!("{value:?}"));
    }
}

#[test]
fn short_floats() {
    for value in [
        101.25,
        -101.25,
        1.0,
        0.5,
        1e-4,
        0.0001220703125,
        999_999_999_999_999.0,
        1e15,
        1e14 + 0.5,
        1e14 + 0.25,
        123_456_789_012.345,
        0.0009765625,
        3.0517578125e-5,
        4096.0009765625,
    ] {
        let mut out = String::new();
        text_value(&mut out, &Value::F64(value));
        assert_eq!(out, format!("{value:?}"));
    }
}
