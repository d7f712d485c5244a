//! Plain records (not events) as `logring tail` has always printed them,
//! in text and in JSON: written once, for the tail and the [`Writer`]
//! thread alike.
//!
//! [`Writer`]: super::Writer

use std::fmt::Write as _;

use base64::Engine as _;

/// The payload on one line: valid UTF-8 as it is but for control
/// characters other than tab (`\n`, `\r`, `\x1b`, `\u{85}`), and each byte
/// of invalid UTF-8 as `\xNN`.
pub(crate) fn text(out: &mut String, payload: &[u8]) {
    for chunk in payload.utf8_chunks() {
        let valid = chunk.valid();
        // Most log lines need no escape: copy them whole. 0xc2 leads the
        // C1 controls (and some printable characters, which the slow path
        // keeps as they are).
        if !valid
            .bytes()
            .any(|b| (b < 0x20 && b != b'\t') || b == 0x7f || b == 0xc2)
        {
            out.push_str(valid);
        } else {
            escape(out, valid);
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out.push('\n');
}

/// `valid` with its control characters other than tab escaped.
fn escape(out: &mut String, valid: &str) {
    for c in valid.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push('\t'),
            c if c.is_control() && c.is_ascii() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// The JSON object of one plain record on a line: its number among the
/// records printed (`seq`, from 1), its position in the ring, length and
/// tag, and the payload as UTF-8 text or, if it is not, in base64.
pub(crate) fn json(out: &mut String, seq: u64, position: u64, tag: u32, payload: &[u8]) {
    let _ = write!(
        out,
        "{{\"seq\":{seq},\"position\":{position},\"length\":{},\"tag\":{tag},",
        payload.len()
    );
    match std::str::from_utf8(payload) {
        Ok(text) => {
            out.push_str("\"encoding\":\"utf8\",\"payload\":");
            // Serialising a string into a string cannot fail.
            out.push_str(&serde_json::to_string(text).expect("a JSON string"));
        }
        Err(_) => {
            out.push_str("\"encoding\":\"base64\",\"payload\":\"");
            base64::engine::general_purpose::STANDARD.encode_string(payload, out);
            out.push('"');
        }
    }
    out.push_str("}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(payload: &[u8]) -> String {
        let mut out = String::new();
        text(&mut out, payload);
        out
    }

    fn json_of(payload: &[u8]) -> String {
        let mut out = String::new();
        json(&mut out, 3, 4096, 7, payload);
        out
    }

    #[test]
    fn text_is_one_line_with_escapes() {
        assert_eq!(text_of(b"order 42 filled"), "order 42 filled\n");
        assert_eq!(
            text_of(b"a\nb\r\tc\x1b[0m\xff\xfe\xc3\xa9"),
            "a\\nb\\r\tc\\x1b[0m\\xff\\xfe\u{e9}\n"
        );
        assert_eq!(text_of("x\u{85}".as_bytes()), "x\\u{85}\n");
        assert_eq!(text_of("\u{a9} \u{e9}".as_bytes()), "\u{a9} \u{e9}\n");
        assert_eq!(text_of(b""), "\n");
    }

    #[test]
    fn json_carries_utf8_or_base64() {
        assert_eq!(
            json_of(b"say \"hi\""),
            "{\"seq\":3,\"position\":4096,\"length\":8,\"tag\":7,\"encoding\":\"utf8\",\
             \"payload\":\"say \\\"hi\\\"\"}\n"
        );
        assert_eq!(
            json_of(b"\xff\x00"),
            "{\"seq\":3,\"position\":4096,\"length\":2,\"tag\":7,\"encoding\":\"base64\",\
             \"payload\":\"/wA=\"}\n"
        );
        assert_eq!(
            json_of(b"\x00\x08\x0c\x7f\\\xc3\xa9"),
            "{\"seq\":3,\"position\":4096,\"length\":7,\"tag\":7,\"encoding\":\"utf8\",\
             \"payload\":\"\\u0000\\b\\f\x7f\\\\\u{e9}\"}\n"
        );
    }

    #[test]
    fn json_lines_parse() {
        for payload in [&b"plain"[..], b"\xff\xfe", b"{\"a\":1}\n", b""] {
            let line = json_of(payload);
            let value: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
            assert_eq!(value["length"], payload.len());
        }
    }
}
