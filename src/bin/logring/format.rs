//! How `logring tail` prints a record: text or JSON lines (event records
//! decoded, plain records as they are: the library's
//! [`Decoder`](logring::events::Decoder), which the in-process event writer
//! also uses), or a hex dump of the raw bytes, one record at a time into a
//! buffer that is then written whole. A spy's marker of the bytes it lost
//! when it was lapped prints here too.

use std::fmt::Write as _;

use logring::channel::Receiver;
use logring::events::{self, Decoder};
use logring::file::{Lap, RingSpy};

/// Output formats of `logring tail`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Format {
    /// One line per record: events decoded as `tracing_subscriber::fmt`
    /// prints them; other records as text, invalid UTF-8 and control
    /// characters escaped.
    Text,
    /// A header line per record, then a `hexdump -C`-style dump of its raw
    /// bytes (events not decoded).
    Hex,
    /// One JSON object per line: events as `tracing_subscriber::fmt().json()`
    /// prints them, plus `pid`; other records with their position, tag and
    /// payload.
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

/// Prints records in one format.
pub struct Printer {
    format: Format,
    /// `None` for the hex dump, which decodes nothing.
    decoder: Option<Decoder>,
}

impl Printer {
    /// A printer of the records `receiver` receives, in `format`.
    pub fn new(receiver: &Receiver, format: Format) -> Self {
        Self::decoding(format, |decoded| Decoder::new(receiver, decoded))
    }

    /// A printer of the records `spy` reads, in `format`. It never prints
    /// a notice of dropped events: taking the drop count is the consumer's.
    pub fn for_spy(spy: &RingSpy, format: Format) -> Self {
        Self::decoding(format, |decoded| Decoder::for_spy(spy, decoded))
    }

    /// A printer in `format`, with a decoder from `decoder` if the format
    /// decodes events.
    fn decoding(format: Format, decoder: impl FnOnce(events::Format) -> Decoder) -> Self {
        let decoded = match format {
            Format::Text => Some(events::Format::Text),
            Format::Json => Some(events::Format::Json),
            Format::Hex => None,
        };
        Self {
            format,
            decoder: decoded.map(decoder),
        }
    }

    /// Appends the notice of dropped events no event reported (see
    /// [`Decoder::drop_notice`]); `false` if there is none (or the format
    /// decodes nothing).
    pub fn drop_notice(&self, out: &mut String) -> bool {
        self.decoder
            .as_ref()
            .is_some_and(|decoder| decoder.drop_notice(out))
    }

    /// Appends `record` to `out`, ending with a newline.
    pub fn record(&self, out: &mut String, record: &Record<'_>) {
        match &self.decoder {
            Some(decoder) => {
                decoder.line(out, record.seq, record.position, record.tag, record.payload)
            }
            None => hex(out, record),
        }
    }

    /// Appends the marker of a spy's `lap` to `out`, ending with a newline:
    /// the bytes `[from, to)` were consumed before the spy read them.
    pub fn lap(&self, out: &mut String, lap: &Lap) {
        let (lost, from, to) = (lap.lost_bytes(), lap.from, lap.to);
        let _ = match self.format {
            Format::Json => writeln!(
                out,
                "{{\"lapped\":true,\"lost_bytes\":{lost},\"from\":{from},\"to\":{to}}}"
            ),
            Format::Text | Format::Hex => writeln!(
                out,
                "logring: lapped: {lost} bytes lost (positions {from}..{to})"
            ),
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn formatted(format: Format, payload: &[u8]) -> String {
        let (_tx, rx) = logring::channel::mpsc::new(4096).unwrap();
        let mut out = String::new();
        let record = Record {
            seq: 3,
            position: 4096,
            tag: 7,
            payload,
        };
        Printer::new(&rx, format).record(&mut out, &record);
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

    #[test]
    fn a_lap_is_one_marker_line() {
        let (_tx, rx) = logring::channel::mpsc::new(4096).unwrap();
        let lap = Lap {
            from: 4096,
            to: 12288,
        };
        let marker = |format| {
            let mut out = String::new();
            Printer::new(&rx, format).lap(&mut out, &lap);
            out
        };
        let text = "logring: lapped: 8192 bytes lost (positions 4096..12288)\n";
        assert_eq!(marker(Format::Text), text);
        assert_eq!(marker(Format::Hex), text);
        assert_eq!(
            marker(Format::Json),
            "{\"lapped\":true,\"lost_bytes\":8192,\"from\":4096,\"to\":12288}\n"
        );
    }
}
