//! How `logring tail` prints a record: text, hex or JSON, one record at a
//! time into a buffer that is then written whole.

use std::fmt::Write as _;

use base64::Engine as _;

/// Output formats of `logring tail`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Format {
    /// One line per record; invalid UTF-8 and control characters escaped.
    Text,
    /// A header line per record, then a `hexdump -C`-style dump.
    Hex,
    /// One JSON object per line.
    Json,
}

/// A record as tail prints it.
pub struct Record<'a> {
    /// 1 for the first record this tail prints.
    pub seq: u64,
    pub position: u64,
    pub tag: u32,
    pub payload: &'a [u8],
}

/// Appends `record` to `out` in `format`, ending with a newline.
pub fn record(out: &mut String, format: Format, record: &Record<'_>) {
    match format {
        Format::Text => text(out, record.payload),
        Format::Hex => hex(out, record),
        Format::Json => json(out, record),
    }
}

/// The payload on one line: valid UTF-8 as it is but for control
/// characters other than tab (`\n`, `\r`, `\x1b`, `\u{85}`), and each byte
/// of invalid UTF-8 as `\xNN`.
fn text(out: &mut String, payload: &[u8]) {
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

/// A header line, then sixteen bytes a line as `hexdump -C` shows them.
fn hex(out: &mut String, record: &Record<'_>) {
    let len = record.payload.len();
    let _ = writeln!(
        out,
        "record {}: position {}, {len} byte{}, tag {}",
        record.seq,
        record.position,
        if len == 1 { "" } else { "s" },
        record.tag
    );
    for (line, bytes) in record.payload.chunks(16).enumerate() {
        let _ = write!(out, "{:08x}  ", line * 16);
        for i in 0..16 {
            match bytes.get(i) {
                Some(byte) => {
                    let _ = write!(out, "{byte:02x} ");
                }
                None => out.push_str("   "),
            }
            if i == 7 {
                out.push(' ');
            }
        }
        out.push_str(" |");
        out.extend(bytes.iter().map(|&byte| {
            if byte.is_ascii_graphic() || byte == b' ' {
                byte as char
            } else {
                '.'
            }
        }));
        out.push_str("|\n");
    }
}

/// The JSON object of one record.
#[derive(serde::Serialize)]
struct Json<'a> {
    seq: u64,
    position: u64,
    length: usize,
    tag: u32,
    encoding: &'static str,
    payload: std::borrow::Cow<'a, str>,
}

fn json(out: &mut String, record: &Record<'_>) {
    let (encoding, payload) = match std::str::from_utf8(record.payload) {
        Ok(text) => ("utf8", text.into()),
        Err(_) => (
            "base64",
            base64::engine::general_purpose::STANDARD
                .encode(record.payload)
                .into(),
        ),
    };
    let object = Json {
        seq: record.seq,
        position: record.position,
        length: record.payload.len(),
        tag: record.tag,
        encoding,
        payload,
    };
    // Serialising integers and strings into a string cannot fail.
    out.push_str(&serde_json::to_string(&object).expect("a JSON record"));
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formatted(format: Format, payload: &[u8]) -> String {
        let mut out = String::new();
        let record = Record {
            seq: 3,
            position: 4096,
            tag: 7,
            payload,
        };
        super::record(&mut out, format, &record);
        out
    }

    #[test]
    fn text_is_one_line_with_escapes() {
        assert_eq!(
            formatted(Format::Text, b"order 42 filled"),
            "order 42 filled\n"
        );
        assert_eq!(
            formatted(Format::Text, b"a\nb\r\tc\x1b[0m\xff\xfe\xc3\xa9"),
            "a\\nb\\r\tc\\x1b[0m\\xff\\xfe\u{e9}\n"
        );
        assert_eq!(formatted(Format::Text, "x\u{85}".as_bytes()), "x\\u{85}\n");
        assert_eq!(
            formatted(Format::Text, "\u{a9} \u{e9}".as_bytes()),
            "\u{a9} \u{e9}\n"
        );
        assert_eq!(formatted(Format::Text, b""), "\n");
    }

    #[test]
    fn hex_dumps_sixteen_bytes_a_line() {
        assert_eq!(
            formatted(Format::Hex, b"order 42 filled\n0"),
            "record 3: position 4096, 17 bytes, tag 7\n\
             00000000  6f 72 64 65 72 20 34 32  20 66 69 6c 6c 65 64 0a  |order 42 filled.|\n\
             00000010  30                                                |0|\n"
        );
        assert_eq!(
            formatted(Format::Hex, b""),
            "record 3: position 4096, 0 bytes, tag 7\n"
        );
    }

    #[test]
    fn json_carries_utf8_or_base64() {
        assert_eq!(
            formatted(Format::Json, b"say \"hi\""),
            "{\"seq\":3,\"position\":4096,\"length\":8,\"tag\":7,\"encoding\":\"utf8\",\
             \"payload\":\"say \\\"hi\\\"\"}\n"
        );
        assert_eq!(
            formatted(Format::Json, b"\xff\x00"),
            "{\"seq\":3,\"position\":4096,\"length\":2,\"tag\":7,\"encoding\":\"base64\",\
             \"payload\":\"/wA=\"}\n"
        );
    }
}
