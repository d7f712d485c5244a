//! Round trips of arbitrary events through the encoder and the decoder, the
//! truncation rule, and the decoder's totality on arbitrary bytes.

use std::collections::HashMap;
use std::fmt;

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

/// A dictionary in a map, as the ring's dictionary hands out entries.
#[derive(Default)]
struct Dict {
    entries: HashMap<u32, Vec<u8>>,
    next: u32,
}

impl Dict {
    fn register(&mut self, len: usize, fill: impl FnOnce(&mut [u8]) -> usize) -> u32 {
        let mut entry = vec![0u8; len];
        assert_eq!(fill(&mut entry), len, "an entry fills what it was sized");
        // Ids as the ring's dictionary gives them: offsets / 8, never 0.
        self.next += 8 + len.div_ceil(8) as u32;
        self.entries.insert(self.next, entry);
        self.next
    }
}

struct MapLookup<'a>(&'a HashMap<u32, Vec<u8>>);

impl<'a> Lookup<'a> for MapLookup<'a> {
    fn entry(&self, id: u32) -> Option<&'a [u8]> {
        self.0.get(&id).map(Vec::as_slice)
    }
}

// ---------------------------------------------------------------------------
// The model: an event as a front end sees it
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct MetaM {
    level: Level,
    kind: MetaKind,
    name: String,
    target: String,
    module_path: Option<String>,
    file: Option<String>,
    line: Option<u32>,
    names: Vec<String>,
    /// Hand the names over as a `NameList` rather than a slice.
    as_list: bool,
}

/// Field names held as `String`s, read through `NameList`.
struct Names<'a>(&'a [String]);

impl NameList for Names<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn name(&self, index: usize) -> &str {
        &self.0[index]
    }
}

impl MetaM {
    /// The encoder's view, borrowing `slice` or `list` for the names.
    fn with<R>(&self, f: impl FnOnce(&Meta<'_>) -> R) -> R {
        let slice: Vec<&str> = self.names.iter().map(String::as_str).collect();
        let list = Names(&self.names);
        let meta = Meta {
            level: self.level,
            kind: self.kind,
            name: &self.name,
            target: &self.target,
            module_path: self.module_path.as_deref(),
            file: self.file.as_deref(),
            line: self.line,
            field_names: if self.as_list {
                FieldNames::List(&list)
            } else {
                FieldNames::Slice(&slice)
            },
            format: None,
        };
        f(&meta)
    }

    fn check(&self, meta: &Meta<'_>) {
        assert_eq!(meta.level, self.level);
        assert_eq!(meta.kind, self.kind);
        assert_eq!(meta.name, self.name);
        assert_eq!(meta.target, self.target);
        assert_eq!(meta.module_path, self.module_path.as_deref());
        assert_eq!(meta.file, self.file.as_deref());
        assert_eq!(meta.line, self.line);
        assert_eq!(meta.field_names.len(), self.names.len());
        assert!(
            meta.field_names
                .iter()
                .eq(self.names.iter().map(String::as_str))
        );
    }
}

#[derive(Clone, Debug)]
enum NameM {
    Index(u16),
    Inline(String),
}

#[derive(Clone, Debug)]
enum ValueM {
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Str(String),
    /// Written with `debug`: decodes as the string's `{:?}`.
    Debug(String),
    Display(String),
    Args(String),
    Bytes(Vec<u8>),
    I128(i128),
    U128(u128),
    Error(String),
    I8(i8),
    I16(i16),
    I32(i32),
    F32(f32),
    Char(char),
}

#[derive(Debug)]
struct TestError(String);

impl fmt::Display for TestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TestError {}

#[derive(Clone, Debug)]
struct FieldM {
    name: NameM,
    value: ValueM,
}

impl FieldM {
    fn write(&self, sink: &mut impl FieldSink) {
        let name = match &self.name {
            NameM::Index(index) => FieldName::Index(*index),
            NameM::Inline(name) => FieldName::Name(name),
        };
        self.write_as(sink, name);
    }

    fn check(&self, meta: &MetaM, (name, value): &(&str, Value<'_>)) {
        let expected_name = match &self.name {
            NameM::Index(index) => meta.names[usize::from(*index)].as_str(),
            NameM::Inline(name) => name,
        };
        assert_eq!(*name, expected_name);
        let expected = match &self.value {
            ValueM::Debug(v) => return assert_eq!(*value, Value::Debug(&format!("{v:?}"))),
            ValueM::Args(v) => return assert_eq!(*value, Value::Debug(&format!("<{v}>"))),
            ValueM::I64(v) => Value::I64(*v),
            ValueM::U64(v) => Value::U64(*v),
            ValueM::F64(v) => Value::F64(*v),
            ValueM::Bool(v) => Value::Bool(*v),
            ValueM::Str(v) => Value::Str(v),
            ValueM::Display(v) => Value::Debug(v),
            ValueM::Bytes(v) => Value::Bytes(v),
            ValueM::I128(v) => Value::I128(*v),
            ValueM::U128(v) => Value::U128(*v),
            ValueM::Error(v) => Value::Error(v),
            ValueM::I8(v) => Value::I8(*v),
            ValueM::I16(v) => Value::I16(*v),
            ValueM::I32(v) => Value::I32(*v),
            ValueM::F32(v) => Value::F32(*v),
            ValueM::Char(v) => Value::Char(*v),
        };
        assert_eq!(*value, expected);
    }
}

#[derive(Clone, Debug)]
struct SpanM {
    meta: MetaM,
    in_dict: bool,
    fields: Vec<FieldM>,
}

#[derive(Clone, Debug)]
enum ThreadM {
    Unknown,
    Entry { number: u64, name: Option<String> },
    Inline(u64),
}

#[derive(Clone, Debug)]
struct EventM {
    level: Level,
    time_ns: u64,
    pid: u32,
    thread: ThreadM,
    meta: MetaM,
    in_dict: bool,
    spans: Vec<SpanM>,
    fields: Vec<FieldM>,
}

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,10}"
}

fn some_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("\\PC{1,10}")
}

fn level() -> impl Strategy<Value = Level> {
    proptest::sample::select(Level::ALL.to_vec())
}

fn meta(kind: MetaKind) -> impl Strategy<Value = MetaM> {
    (
        level(),
        text(),
        text(),
        some_text(),
        some_text(),
        proptest::option::of(1u32..),
        vec(text(), 0..6),
        any::<bool>(),
    )
        .prop_map(
            move |(level, name, target, module_path, file, line, names, as_list)| MetaM {
                level,
                kind,
                name,
                target,
                module_path,
                file,
                line,
                names,
                as_list,
            },
        )
}

fn value() -> impl Strategy<Value = ValueM> {
    prop_oneof![
        any::<i64>().prop_map(ValueM::I64),
        any::<u64>().prop_map(ValueM::U64),
        any::<f64>().prop_map(ValueM::F64),
        any::<bool>().prop_map(ValueM::Bool),
        text().prop_map(ValueM::Str),
        text().prop_map(ValueM::Debug),
        text().prop_map(ValueM::Display),
        text().prop_map(ValueM::Args),
        vec(any::<u8>(), 0..12).prop_map(ValueM::Bytes),
        any::<i128>().prop_map(ValueM::I128),
        any::<u128>().prop_map(ValueM::U128),
        text().prop_map(ValueM::Error),
        any::<i8>().prop_map(ValueM::I8),
        any::<i16>().prop_map(ValueM::I16),
        any::<i32>().prop_map(ValueM::I32),
        any::<f32>().prop_map(ValueM::F32),
        any::<char>().prop_map(ValueM::Char),
    ]
}

/// Fields naming `names` by index where they can.
fn fields(names: usize) -> impl Strategy<Value = Vec<FieldM>> {
    vec(
        (proptest::option::of(0..names.max(1)), text(), value()),
        0..6,
    )
    .prop_map(move |fields| {
        fields
            .into_iter()
            .map(|(index, name, value)| FieldM {
                name: match index {
                    Some(index) if names > 0 => NameM::Index(index as u16),
                    _ => NameM::Inline(name),
                },
                value,
            })
            .collect()
    })
}

fn span() -> impl Strategy<Value = SpanM> {
    (meta(MetaKind::Span), any::<bool>()).prop_flat_map(|(meta, in_dict)| {
        let names = meta.names.len();
        fields(names).prop_map(move |fields| SpanM {
            meta: meta.clone(),
            in_dict,
            fields,
        })
    })
}

fn thread() -> impl Strategy<Value = ThreadM> {
    prop_oneof![
        Just(ThreadM::Unknown),
        (any::<u64>(), some_text()).prop_map(|(number, name)| ThreadM::Entry { number, name }),
        any::<u64>().prop_map(ThreadM::Inline),
    ]
}

fn event() -> impl Strategy<Value = EventM> {
    (
        (level(), any::<u64>(), any::<u32>(), thread()),
        meta(MetaKind::Event),
        any::<bool>(),
        vec(span(), 0..=8),
    )
        .prop_flat_map(|((level, time_ns, pid, thread), meta, in_dict, spans)| {
            let names = meta.names.len();
            fields(names).prop_map(move |fields| EventM {
                level,
                time_ns,
                pid,
                thread: thread.clone(),
                meta: meta.clone(),
                in_dict,
                spans: spans.clone(),
                fields,
            })
        })
}

// ---------------------------------------------------------------------------
// Encoding the model, and checking what decodes
// ---------------------------------------------------------------------------

fn register_callsite(dict: &mut Dict, meta: &MetaM) -> u32 {
    meta.with(|meta| {
        dict.register(callsite_entry_len(meta), |out| {
            encode_callsite_entry(meta, out).unwrap()
        })
    })
}

/// Dictionary ids of the event's entries (0 where inline).
struct Ids {
    callsite: u32,
    thread: ThreadRef,
    spans: Vec<u32>,
}

fn register(dict: &mut Dict, event: &EventM) -> Ids {
    let callsite = if event.in_dict {
        register_callsite(dict, &event.meta)
    } else {
        0
    };
    let thread = match &event.thread {
        ThreadM::Unknown => ThreadRef::Unknown,
        ThreadM::Inline(number) => ThreadRef::Inline(*number),
        ThreadM::Entry { number, name } => {
            let info = ThreadInfo {
                number: *number,
                name: name.as_deref(),
            };
            ThreadRef::Entry(dict.register(thread_entry_len(&info), |out| {
                encode_thread_entry(event.pid, &info, out).unwrap()
            }))
        }
    };
    let spans = event
        .spans
        .iter()
        .map(|span| {
            if span.in_dict {
                register_callsite(dict, &span.meta)
            } else {
                0
            }
        })
        .collect();
    Ids {
        callsite,
        thread,
        spans,
    }
}

/// What an encoding into a buffer gave.
struct Encoded {
    result: Result<usize, Overflow>,
    /// After an overflow, `truncate_to_fields`.
    truncated: Option<usize>,
    /// `Encoder::len` after the header and after each span and field.
    boundaries: Vec<usize>,
    /// Where the event's own fields start, when everything before fits.
    fields_start: usize,
}

fn encode(event: &EventM, ids: &Ids, buf: &mut [u8]) -> Encoded {
    let mut encoder = Encoder::new(buf);
    let mut boundaries = Vec::new();
    event.meta.with(|meta| {
        encoder.event(&EventHeader {
            level: event.level,
            time_ns: event.time_ns,
            pid: event.pid,
            callsite: if event.in_dict {
                CallsiteRef::Entry(ids.callsite)
            } else {
                CallsiteRef::Inline(meta)
            },
            thread: ids.thread,
        })
    });
    boundaries.push(encoder.len());
    for (span, &id) in event.spans.iter().zip(&ids.spans) {
        let mut fields = EncodeBuf::new();
        for field in &span.fields {
            field.write(&mut fields);
        }
        assert!(!fields.truncated());
        span.meta.with(|meta| {
            let callsite = if span.in_dict {
                CallsiteRef::Entry(id)
            } else {
                CallsiteRef::Inline(meta)
            };
            encoder.span(callsite, fields.as_bytes());
        });
        boundaries.push(encoder.len());
    }
    let fields_start = encoder.len();
    for field in &event.fields {
        field.write(&mut encoder);
        boundaries.push(encoder.len());
    }
    let result = encoder.finish();
    let truncated = result
        .is_err()
        .then(|| encoder.truncate_to_fields())
        .flatten();
    Encoded {
        result,
        truncated,
        boundaries,
        fields_start,
    }
}

/// Checks `decoded` against the model, of which `spans` spans and `fields`
/// fields are expected.
fn check(event: &EventM, decoded: &Decoded<'_>, spans: usize, fields: usize, truncated: bool) {
    assert_eq!(decoded.kind, Kind::Event);
    assert_eq!(decoded.level, event.level);
    assert_eq!(decoded.time_ns, event.time_ns);
    assert_eq!(decoded.pid, event.pid);
    let thread = match &event.thread {
        ThreadM::Unknown => None,
        ThreadM::Inline(number) => Some(ThreadInfo {
            number: *number,
            name: None,
        }),
        ThreadM::Entry { number, name } => Some(ThreadInfo {
            number: *number,
            name: name.as_deref(),
        }),
    };
    assert_eq!(decoded.thread, thread);
    event.meta.check(&decoded.meta);
    assert_eq!(decoded.spans.len(), spans);
    for (model, span) in event.spans.iter().zip(&decoded.spans) {
        model.meta.check(&span.meta);
        assert_eq!(span.fields.len(), model.fields.len());
        for (field, decoded) in model.fields.iter().zip(&span.fields) {
            field.check(&model.meta, decoded);
        }
    }
    assert_eq!(decoded.fields.len(), fields);
    for (field, decoded) in event.fields.iter().zip(&decoded.fields) {
        field.check(&event.meta, decoded);
    }
    assert_eq!(decoded.truncated, truncated);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        if cfg!(miri) { 8 } else { 512 }
    ))]

    /// Encoded into exactly its size, an event decodes to what was written;
    /// into fewer bytes, it keeps the longest whole prefix (header, spans,
    /// fields), marked truncated.
    #[test]
    fn events_round_trip(event in event(), cut in any::<prop::sample::Index>()) {
        let mut dict = Dict::default();
        let ids = register(&mut dict, &event);
        let lookup = MapLookup(&dict.entries);

        let mut big = vec![0u8; 1 << 16];
        let full = encode(&event, &ids, &mut big);
        let len = full.result.expect("fits 64 KiB");
        let mut exact = vec![0u8; len];
        let encoded = encode(&event, &ids, &mut exact);
        prop_assert_eq!(encoded.result, Ok(len));
        prop_assert_eq!(&exact[..], &big[..len]);

        let decoded = decode(EVENT_TAG_V1, &exact, &lookup).unwrap();
        check(&event, &decoded, event.spans.len(), event.fields.len(), false);

        // The event's fields written into a growing buffer are the same bytes.
        let mut fields = EncodeBuf::new();
        for field in &event.fields {
            field.write(&mut fields);
        }
        prop_assert_eq!(fields.as_bytes(), &exact[full.fields_start..]);

        // Too small by 1..=len bytes.
        let small_len = cut.index(len);
        let mut small = vec![0u8; small_len];
        let encoded = encode(&event, &ids, &mut small);
        prop_assert_eq!(encoded.result, Err(Overflow));
        // The longest whole prefix: every boundary up to the first item
        // that did not fit.
        let kept = full.boundaries.iter().take_while(|&&end| end <= small_len).count();
        match encoded.truncated {
            None => prop_assert_eq!(kept, 0, "the header fit"),
            Some(prefix) => {
                prop_assert!(kept > 0);
                prop_assert_eq!(prefix, full.boundaries[kept - 1]);
                let spans = (kept - 1).min(event.spans.len());
                let fields = (kept - 1).saturating_sub(event.spans.len());
                let decoded = decode(EVENT_TAG_V1, &small[..prefix], &lookup).unwrap();
                check(&event, &decoded, spans, fields, true);
                // Nothing else differs from the whole record's bytes.
                let mut expected = big[..prefix].to_vec();
                expected[OFF_FLAGS] |= FLAG_TRUNCATED;
                expected[OFF_SPANS] = spans as u8;
                prop_assert_eq!(&small[..prefix], &expected[..]);
            }
        }

        // An inline re-encoding of what decoded decodes the same.
        let mut again = vec![0u8; reencoded_len(&decoded)];
        let again_len = reencode(&decoded, &mut again).unwrap();
        let redecoded = decode(EVENT_TAG_V1, &again[..again_len], &NoDictionary).unwrap();
        prop_assert_eq!(same_inline(&redecoded), same_inline(&decoded));
    }

    /// A dropped record decodes to its count, as a WARN event from `logring`.
    #[test]
    fn dropped_records_round_trip(
        count in any::<u64>(),
        time_ns in any::<u64>(),
        pid in any::<u32>(),
        thread in prop_oneof![
            Just(ThreadRef::Unknown),
            any::<u64>().prop_map(ThreadRef::Inline),
        ],
    ) {
        let len = dropped_len(thread);
        let mut buf = vec![0u8; len];
        prop_assert_eq!(encode_dropped(&mut buf, time_ns, pid, thread, count), Ok(len));
        prop_assert_eq!(
            encode_dropped(&mut buf[..len - 1], time_ns, pid, thread, count),
            Err(Overflow)
        );
        let decoded = decode(EVENT_TAG_V1, &buf, &NoDictionary).unwrap();
        prop_assert_eq!(decoded.kind, Kind::Dropped { count });
        prop_assert_eq!(decoded.level, Level::Warn);
        prop_assert_eq!(decoded.time_ns, time_ns);
        prop_assert_eq!(decoded.pid, pid);
        let number = match thread {
            ThreadRef::Inline(number) => Some(number),
            _ => None,
        };
        prop_assert_eq!(decoded.thread.map(|t| t.number), number);
        prop_assert_eq!(decoded.meta.target, "logring");
        prop_assert_eq!(decoded.fields, vec![("dropped", Value::U64(count))]);
        prop_assert!(decoded.spans.is_empty());
    }

    /// Arbitrary bytes, under any tag and with any dictionary, decode or give
    /// an error that displays, never a panic; what decodes re-encodes.
    #[test]
    fn arbitrary_bytes_never_panic(
        tag in prop_oneof![Just(EVENT_TAG_V1), any::<u32>()],
        payload in vec(any::<u8>(), 0..200),
        entries in vec((1u32..8, vec(any::<u8>(), 0..64)), 0..6),
    ) {
        let entries: HashMap<u32, Vec<u8>> = entries.into_iter().collect();
        decode_anything(tag, &payload, &entries);
    }

    /// Valid records and entries with a few bytes changed or cut: the same.
    #[test]
    fn damaged_records_never_panic(
        event in event(),
        damage in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        entry_damage in vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<u8>()), 0..3),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut dict = Dict::default();
        let ids = register(&mut dict, &event);
        let mut buf = vec![0u8; 1 << 16];
        let len = encode(&event, &ids, &mut buf).result.unwrap();
        let mut record = buf[..len].to_vec();
        for (at, byte) in damage {
            let at = at.index(record.len());
            record[at] = byte;
        }
        record.truncate(record.len() - cut.index(record.len() / 4 + 1));
        let mut ids: Vec<u32> = dict.entries.keys().copied().collect();
        ids.sort_unstable();
        for (entry, at, byte) in entry_damage {
            if ids.is_empty() {
                break;
            }
            let bytes = dict.entries.get_mut(&ids[entry.index(ids.len())]).unwrap();
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        decode_anything(EVENT_TAG_V1, &record, &dict.entries);
    }
}

fn decode_anything(tag: u32, payload: &[u8], entries: &HashMap<u32, Vec<u8>>) {
    match decode(tag, payload, &MapLookup(entries)) {
        Ok(decoded) => {
            let _ = format!("{decoded:?}");
            let mut again = vec![0u8; reencoded_len(&decoded)];
            let len = reencode(&decoded, &mut again).unwrap();
            let redecoded = decode(EVENT_TAG_V1, &again[..len], &NoDictionary).unwrap();
            assert_eq!(same_inline(&redecoded), same_inline(&decoded));
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
}

// ---------------------------------------------------------------------------
// Errors, by name
// ---------------------------------------------------------------------------

/// A small event: inline callsite with one field name, one indexed field.
fn small_event(thread: ThreadRef, callsite: CallsiteRef<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    let mut encoder = Encoder::new(&mut buf);
    encoder.event(&EventHeader {
        level: Level::Info,
        time_ns: 1,
        pid: 2,
        callsite,
        thread,
    });
    encoder.u64(FieldName::Index(0), 7);
    let len = encoder.finish().unwrap();
    buf.truncate(len);
    buf
}

const ONE_NAME: Meta<'static> = Meta {
    level: Level::Info,
    kind: MetaKind::Event,
    name: "event",
    target: "app",
    module_path: Some("app::m"),
    file: Some("m.rs"),
    line: Some(3),
    field_names: FieldNames::Slice(&["n"]),
    format: None,
};

fn error_of(tag: u32, payload: &[u8]) -> String {
    decode(tag, payload, &NoDictionary).unwrap_err().to_string()
}

#[test]
fn errors_name_what_is_wrong() {
    let record = small_event(ThreadRef::Unknown, CallsiteRef::Inline(&ONE_NAME));
    assert_eq!(
        decode(EVENT_TAG_V1, &record, &NoDictionary).unwrap().fields,
        vec![("n", Value::U64(7))]
    );

    assert_eq!(
        error_of(7, &record),
        "tag 0x00000007 does not mark an event record"
    );
    assert_eq!(
        error_of(0xFFFF_FF02, &record),
        "an event of an unknown encoding (tag 0xffffff02)"
    );
    assert_eq!(
        error_of(EVENT_TAG_V1, &record[..10]),
        "truncated at byte 8 of the record: the header needs 8 bytes, 2 left"
    );
    let mut bad = record.clone();
    bad[0] = 9;
    assert_eq!(error_of(EVENT_TAG_V1, &bad), "unknown event kind 9");
    let mut bad = record.clone();
    bad[OFF_FLAGS] |= 0x80;
    assert_eq!(
        error_of(EVENT_TAG_V1, &bad),
        "unknown flags 0x81 at byte 2 of the record"
    );
    // The callsite's name ("event") starts after the Meta block's 8 bytes
    // and its length.
    let mut bad = record.clone();
    bad[HEADER_LEN + 10] = 0xFF;
    assert_eq!(
        error_of(EVENT_TAG_V1, &bad),
        "bad UTF-8 in the callsite name at byte 32 of the record"
    );
    let field = record.len() - 11;
    let mut bad = record.clone();
    bad[field] = 42;
    assert_eq!(
        error_of(EVENT_TAG_V1, &bad),
        format!("unknown field type 42 at byte {field} of the record")
    );
    let mut bad = record.clone();
    bad[field + 1] = 1;
    assert_eq!(
        error_of(EVENT_TAG_V1, &bad),
        format!(
            "field name index 1 at byte {} of the record, but the callsite has 1 field names",
            field + 1
        )
    );
    let mut long = record.clone();
    long.push(4);
    assert!(error_of(EVENT_TAG_V1, &long).starts_with("truncated at byte"));

    let record = small_event(ThreadRef::Entry(40), CallsiteRef::Entry(16));
    assert_eq!(
        error_of(EVENT_TAG_V1, &record),
        "missing dictionary entry 16 (the event's callsite)"
    );
    let mut entries = HashMap::new();
    let mut entry = vec![0u8; callsite_entry_len(&ONE_NAME)];
    encode_callsite_entry(&ONE_NAME, &mut entry).unwrap();
    entries.insert(16, entry.clone());
    let error = decode(EVENT_TAG_V1, &record, &MapLookup(&entries)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "missing dictionary entry 40 (the event's thread)"
    );
    entries.insert(40, entry.clone());
    let error = decode(EVENT_TAG_V1, &record, &MapLookup(&entries)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "dictionary entry 40 is of kind 1, not a thread"
    );
    entry.push(0);
    entries.insert(16, entry);
    let error = decode(EVENT_TAG_V1, &record, &MapLookup(&entries)).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "1 trailing bytes after the callsite at byte {} of dictionary entry 16",
            callsite_entry_len(&ONE_NAME)
        )
    );
}

#[test]
fn dropped_records_take_no_spans_or_fields() {
    let mut buf = vec![0u8; dropped_len(ThreadRef::Unknown) + 1];
    let len = encode_dropped(&mut buf, 1, 2, ThreadRef::Unknown, 3).unwrap();
    assert_eq!(
        error_of(EVENT_TAG_V1, &buf),
        format!("1 trailing bytes after the dropped count at byte {len} of the record")
    );
    buf[OFF_SPANS] = 1;
    assert_eq!(
        error_of(EVENT_TAG_V1, &buf[..len]),
        "a dropped record with metadata or spans at byte 2 of the record"
    );
}

#[test]
fn text_is_formatted_in_place_and_cut_whole() {
    // Room for the header and one text field of 5 bytes, not 6.
    let mut buf = vec![0u8; HEADER_LEN + 3 + 4 + 5];
    let mut encoder = Encoder::new(&mut buf);
    encoder.event(&EventHeader {
        level: Level::Error,
        time_ns: 0,
        pid: 0,
        callsite: CallsiteRef::Entry(8),
        thread: ThreadRef::Unknown,
    });
    encoder.args(FieldName::Index(0), format_args!("{}{}", "ab", 123));
    assert_eq!(encoder.finish(), Ok(buf.len()));

    let mut encoder = Encoder::new(&mut buf);
    encoder.event(&EventHeader {
        level: Level::Error,
        time_ns: 0,
        pid: 0,
        callsite: CallsiteRef::Entry(8),
        thread: ThreadRef::Unknown,
    });
    encoder.args(FieldName::Index(0), format_args!("{}{}", "ab", 1234));
    // Later fields are dropped too, even one that would fit.
    encoder.bool(FieldName::Index(0), true);
    assert_eq!(encoder.finish(), Err(Overflow));
    assert_eq!(encoder.truncate_to_fields(), Some(HEADER_LEN));
}

#[test]
fn long_names_are_cut_at_a_character_boundary() {
    let long = "é".repeat(40_000);
    let names = [long.as_str()];
    let meta = Meta {
        name: &long,
        field_names: FieldNames::Slice(&names),
        format: None,
        ..ONE_NAME
    };
    let mut entry = vec![0u8; callsite_entry_len(&meta)];
    assert_eq!(encode_callsite_entry(&meta, &mut entry), Ok(entry.len()));
    let mut entries = HashMap::new();
    entries.insert(8, entry);
    let mut buf = vec![0u8; 1 << 18];
    let mut encoder = Encoder::new(&mut buf);
    encoder.event(&EventHeader {
        level: Level::Info,
        time_ns: 0,
        pid: 0,
        callsite: CallsiteRef::Entry(8),
        thread: ThreadRef::Unknown,
    });
    encoder.str(FieldName::Name(&long), &long);
    let len = encoder.finish().unwrap();
    let decoded = decode(EVENT_TAG_V1, &buf[..len], &MapLookup(&entries)).unwrap();
    let cut = &long[..65_534];
    assert_eq!(decoded.meta.name, cut);
    assert!(decoded.meta.field_names.iter().eq([cut]));
    assert_eq!(decoded.fields, vec![(cut, Value::Str(&long))]);
}

#[test]
fn spans_past_the_limit_are_left_out_and_marked() {
    let mut buf = vec![0u8; 1 << 14];
    let mut encoder = Encoder::new(&mut buf);
    encoder.event(&EventHeader {
        level: Level::Info,
        time_ns: 0,
        pid: 0,
        callsite: CallsiteRef::Inline(&ONE_NAME),
        thread: ThreadRef::Unknown,
    });
    let span = Meta {
        kind: MetaKind::Span,
        ..ONE_NAME
    };
    let mut fields = EncodeBuf::new();
    fields.u64(FieldName::Index(0), 1);
    let mut entries = HashMap::new();
    let mut entry = vec![0u8; callsite_entry_len(&span)];
    encode_callsite_entry(&span, &mut entry).unwrap();
    entries.insert(8, entry);
    for _ in 0..MAX_SPANS + 3 {
        encoder.span(CallsiteRef::Entry(8), fields.as_bytes());
    }
    let len = encoder.finish().unwrap();
    let decoded = decode(EVENT_TAG_V1, &buf[..len], &MapLookup(&entries)).unwrap();
    assert_eq!(decoded.spans.len(), MAX_SPANS);
    assert!(decoded.truncated);
    assert_eq!(decoded.spans[0].fields, vec![("n", Value::U64(1))]);
}

// ---------------------------------------------------------------------------
// The fuzz target's seeds
// ---------------------------------------------------------------------------

/// The `event_decode` fuzz target's input for a record and the dictionary
/// entries of ids 1, 2, ...
fn fuzz_input(selector: u8, record: &[u8], entries: &[&[u8]]) -> Vec<u8> {
    let mut input = vec![selector];
    for chunk in [record].into_iter().chain(entries.iter().copied()) {
        input.extend_from_slice(&(chunk.len() as u16).to_le_bytes());
        input.extend_from_slice(chunk);
    }
    input
}

/// Every field type, by index and by name.
fn every_field(sink: &mut impl FieldSink) {
    sink.args(FieldName::Index(0), format_args!("filled {} of {}", 3, 5));
    sink.u64(FieldName::Index(1), 42);
    sink.f64(FieldName::Name("px"), 101.25);
    sink.i64(FieldName::Name("delta"), -7);
    sink.bool(FieldName::Name("ok"), true);
    sink.str(FieldName::Name("venue"), "XNAS");
    sink.debug(FieldName::Name("side"), &Some("buy"));
    sink.bytes(FieldName::Name("raw"), &[0, 1, 0xFF]);
    sink.i128(FieldName::Name("big"), -1 << 100);
    sink.u128(FieldName::Name("ubig"), 1 << 100);
    sink.error(FieldName::Name("error"), &TestError("timed out".into()));
}

/// Writes the `event_decode` fuzz target's seeds into
/// `fuzz/corpus/event_decode/`:
/// `cargo test --features events --lib write_event_decode_seeds -- --ignored`.
#[test]
#[ignore = "writes the fuzz seeds"]
fn write_event_decode_seeds() {
    let event_meta = Meta {
        field_names: FieldNames::Slice(&["message", "order_id"]),
        format: None,
        ..ONE_NAME
    };
    let span_meta = Meta {
        kind: MetaKind::Span,
        name: "request",
        field_names: FieldNames::Slice(&["id"]),
        format: None,
        ..ONE_NAME
    };
    let mut callsite = vec![0u8; callsite_entry_len(&event_meta)];
    encode_callsite_entry(&event_meta, &mut callsite).unwrap();
    let thread_info = ThreadInfo {
        number: 3,
        name: Some("main"),
    };
    let mut thread = vec![0u8; thread_entry_len(&thread_info)];
    encode_thread_entry(9, &thread_info, &mut thread).unwrap();
    let mut span_entry = vec![0u8; callsite_entry_len(&span_meta)];
    encode_callsite_entry(&span_meta, &mut span_entry).unwrap();
    let mut span_fields = EncodeBuf::new();
    span_fields.u64(FieldName::Index(0), 17);
    span_fields.str(FieldName::Name("path"), "/orders");

    let record = |callsite: CallsiteRef<'_>, thread: ThreadRef, span: CallsiteRef<'_>, len| {
        let mut buf = vec![0u8; len];
        let mut encoder = Encoder::new(&mut buf);
        encoder.event(&EventHeader {
            level: Level::Info,
            time_ns: 1_765_044_000_123_456_789,
            pid: 9,
            callsite,
            thread,
        });
        encoder.span(span, span_fields.as_bytes());
        every_field(&mut encoder);
        let len = match encoder.finish() {
            Ok(len) => len,
            Err(Overflow) => encoder.truncate_to_fields().unwrap(),
        };
        buf.truncate(len);
        buf
    };
    let inline = record(
        CallsiteRef::Inline(&event_meta),
        ThreadRef::Inline(3),
        CallsiteRef::Inline(&span_meta),
        4096,
    );
    let in_dict = record(
        CallsiteRef::Entry(1),
        ThreadRef::Entry(2),
        CallsiteRef::Entry(3),
        4096,
    );
    let truncated = record(
        CallsiteRef::Entry(1),
        ThreadRef::Entry(2),
        CallsiteRef::Entry(3),
        in_dict.len() - 20,
    );
    let mut dropped = vec![0u8; dropped_len(ThreadRef::Entry(2))];
    encode_dropped(&mut dropped, 1, 9, ThreadRef::Entry(2), 12).unwrap();

    let entries: [&[u8]; 3] = [&callsite, &thread, &span_entry];
    let seeds = [
        ("seed-inline", fuzz_input(0, &inline, &[])),
        ("seed-dictionary", fuzz_input(0, &in_dict, &entries)),
        ("seed-truncated", fuzz_input(0, &truncated, &entries)),
        ("seed-dropped", fuzz_input(0, &dropped, &entries)),
        ("seed-unknown-version", fuzz_input(0xF2, &inline, &[])),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/event_decode");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, input) in seeds {
        std::fs::write(dir.join(name), input).unwrap();
    }
    // What the seeds hold decodes (but for the unknown version).
    let lookup: HashMap<u32, Vec<u8>> = (1..).zip(entries.map(<[u8]>::to_vec)).collect();
    for record in [&inline, &in_dict, &truncated, &dropped] {
        decode(EVENT_TAG_V1, record, &MapLookup(&lookup)).unwrap();
    }
}

// ---------------------------------------------------------------------------
// Format callsites (logring's macros)
// ---------------------------------------------------------------------------

/// A format callsite's event: its metadata, its slots, the visible ones
/// first.
#[derive(Clone, Debug)]
struct FormatEventM {
    meta: MetaM,
    template: String,
    slots: Vec<ValueM>,
    in_dict: bool,
    time_ns: u64,
}

/// Slot values a macro call writes (text stands for a fallback argument).
fn slot_value() -> impl Strategy<Value = ValueM> {
    prop_oneof![
        any::<i8>().prop_map(ValueM::I8),
        any::<i16>().prop_map(ValueM::I16),
        any::<i32>().prop_map(ValueM::I32),
        any::<i64>().prop_map(ValueM::I64),
        any::<i128>().prop_map(ValueM::I128),
        any::<u64>().prop_map(ValueM::U64),
        any::<u128>().prop_map(ValueM::U128),
        any::<f32>().prop_map(ValueM::F32),
        any::<f64>().prop_map(ValueM::F64),
        any::<bool>().prop_map(ValueM::Bool),
        any::<char>().prop_map(ValueM::Char),
        text().prop_map(ValueM::Str),
        vec(any::<u8>(), 0..12).prop_map(ValueM::Bytes),
        text().prop_map(ValueM::Display),
    ]
}

fn format_event() -> impl Strategy<Value = FormatEventM> {
    (
        meta(MetaKind::Format),
        vec(slot_value(), 0..8),
        0usize..3,
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|(mut meta, slots, hidden, in_dict, time_ns)| {
            // One name per visible slot.
            let visible = slots.len().saturating_sub(hidden);
            meta.names = (0..visible).map(|i| format!("arg{i}")).collect();
            let template = (0..slots.len()).map(|i| format!("<{{{i}}}>")).collect();
            FormatEventM {
                meta,
                template,
                slots,
                in_dict,
                time_ns,
            }
        })
}

impl FormatEventM {
    fn with<R>(&self, f: impl FnOnce(&Meta<'_>) -> R) -> R {
        self.meta.with(|meta| {
            f(&Meta {
                format: Some(FormatMeta {
                    slots: self.slots.len() as u16,
                    template: &self.template,
                }),
                ..*meta
            })
        })
    }

    /// Encodes the event as the macros' general path does (through the
    /// encoder), into a buffer of exactly its size.
    fn encode(&self, dict: &mut Dict) -> Vec<u8> {
        let callsite = self.in_dict.then(|| {
            self.with(|meta| {
                dict.register(callsite_entry_len(meta), |out| {
                    encode_callsite_entry(meta, out).unwrap()
                })
            })
        });
        let mut buf = vec![0u8; 1 << 16];
        let len = self.with(|meta| {
            let mut encoder = Encoder::new(&mut buf);
            encoder.event(&EventHeader {
                level: meta.level,
                time_ns: self.time_ns,
                pid: 7,
                callsite: match callsite {
                    Some(id) => CallsiteRef::Entry(id),
                    None => CallsiteRef::Inline(meta),
                },
                thread: ThreadRef::Unknown,
            });
            for slot in &self.slots {
                FieldM {
                    name: NameM::Index(0),
                    value: slot.clone(),
                }
                .write_slot(&mut encoder);
            }
            encoder.finish().unwrap()
        });
        buf.truncate(len);
        buf
    }

    fn check(&self, decoded: &Decoded<'_>) {
        assert_eq!(decoded.kind, Kind::Event);
        assert_eq!(decoded.time_ns, self.time_ns);
        self.meta.check(&decoded.meta);
        assert_eq!(
            decoded.meta.format,
            Some(FormatMeta {
                slots: self.slots.len() as u16,
                template: &self.template
            })
        );
        assert_eq!(decoded.args.len(), self.slots.len());
        assert_eq!(decoded.fields.len(), self.meta.names.len());
        for (i, (slot, value)) in self.slots.iter().zip(&decoded.args).enumerate() {
            FieldM {
                name: NameM::Inline(String::new()),
                value: slot.clone(),
            }
            .check(&self.meta, &("", *value));
            if let Some(field) = decoded.fields.get(i) {
                assert_eq!(field, &(self.meta.names[i].as_str(), *value));
            }
        }
        assert!(decoded.message.is_some());
        assert!(decoded.spans.is_empty());
        assert!(!decoded.truncated);
    }
}

impl FieldM {
    /// Writes the value as a format callsite's argument: no name.
    fn write_slot(&self, sink: &mut impl FieldSink) {
        self.write_as(sink, FieldName::Slot);
    }

    fn write_as(&self, sink: &mut impl FieldSink, name: FieldName<'_>) {
        match &self.value {
            ValueM::I64(v) => sink.i64(name, *v),
            ValueM::U64(v) => sink.u64(name, *v),
            ValueM::F64(v) => sink.f64(name, *v),
            ValueM::Bool(v) => sink.bool(name, *v),
            ValueM::Str(v) => sink.str(name, v),
            ValueM::Debug(v) => sink.debug(name, v),
            ValueM::Display(v) => sink.display(name, v),
            ValueM::Args(v) => sink.args(name, format_args!("<{v}>")),
            ValueM::Bytes(v) => sink.bytes(name, v),
            ValueM::I128(v) => sink.i128(name, *v),
            ValueM::U128(v) => sink.u128(name, *v),
            ValueM::Error(v) => sink.error(name, &TestError(v.clone())),
            ValueM::I8(v) => sink.i8(name, *v),
            ValueM::I16(v) => sink.i16(name, *v),
            ValueM::I32(v) => sink.i32(name, *v),
            ValueM::F32(v) => sink.f32(name, *v),
            ValueM::Char(v) => sink.char(name, *v),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        if cfg!(miri) { 8 } else { 256 }
    ))]

    /// A format callsite's event decodes to its slots, the visible ones as
    /// named fields, with a message; cut anywhere, it decodes to an error
    /// (its slots are counted), never a panic; its re-encoding decodes the
    /// same.
    #[test]
    fn format_events_round_trip(event in format_event(), cut in any::<prop::sample::Index>()) {
        let mut dict = Dict::default();
        let record = event.encode(&mut dict);
        let decoded = decode(EVENT_TAG_V1, &record, &MapLookup(&dict.entries)).unwrap();
        event.check(&decoded);

        // The fast path's header and arguments give the same bytes, when
        // the callsite is an entry and every argument has a fixed size.
        if event.in_dict && event.slots.iter().all(|slot| !matches!(slot, ValueM::Display(_))) {
            let mut fast = vec![0u8; record.len()];
            let (header, mut args) = fast.split_first_chunk_mut::<HEADER_LEN>().unwrap();
            let callsite = u32::from_le_bytes(record[OFF_CALLSITE..OFF_CALLSITE + 4].try_into().unwrap());
            put_entry_header(header, event.meta.level, callsite, event.time_ns, 0, 7);
            for slot in &event.slots {
                let len = match slot {
                    ValueM::I8(v) => { put_arg(args, TYPE_I8, v.to_le_bytes()); 2 }
                    ValueM::I16(v) => { put_arg(args, TYPE_I16, v.to_le_bytes()); 3 }
                    ValueM::I32(v) => { put_arg(args, TYPE_I32, v.to_le_bytes()); 5 }
                    ValueM::I64(v) => { put_arg(args, TYPE_I64, v.to_le_bytes()); 9 }
                    ValueM::I128(v) => { put_arg(args, TYPE_I128, v.to_le_bytes()); 17 }
                    ValueM::U64(v) => { put_arg(args, TYPE_U64, v.to_le_bytes()); 9 }
                    ValueM::U128(v) => { put_arg(args, TYPE_U128, v.to_le_bytes()); 17 }
                    ValueM::F32(v) => { put_arg(args, TYPE_F32, v.to_le_bytes()); 5 }
                    ValueM::F64(v) => { put_arg(args, TYPE_F64, v.to_le_bytes()); 9 }
                    ValueM::Bool(v) => { put_arg(args, TYPE_BOOL, [u8::from(*v)]); 2 }
                    ValueM::Char(v) => { put_arg(args, TYPE_CHAR, u32::from(*v).to_le_bytes()); 5 }
                    ValueM::Str(v) => { put_arg_blob(args, TYPE_STR, v.as_bytes()); 5 + v.len() }
                    ValueM::Bytes(v) => { put_arg_blob(args, TYPE_BYTES, v); 5 + v.len() }
                    _ => unreachable!("only slot values"),
                };
                args = &mut args[len..];
            }
            prop_assert!(args.is_empty());
            prop_assert_eq!(&fast, &record);
        }

        // Cut short: an error naming the missing arguments, or (cut at an
        // argument's end) still an error, since every slot must be there.
        let cut = cut.index(record.len());
        if cut < record.len() {
            prop_assert!(decode(EVENT_TAG_V1, &record[..cut], &MapLookup(&dict.entries)).is_err());
        }

        // Inline, the same event again.
        let mut buf = vec![0u8; reencoded_len(&decoded)];
        let len = reencode(&decoded, &mut buf).unwrap();
        let again = decode(EVENT_TAG_V1, &buf[..len], &NoDictionary).unwrap();
        prop_assert_eq!(same_inline(&decoded), same_inline(&again));
    }
}

#[test]
fn format_callsites_need_a_slot_per_name() {
    let mut meta = MetaM {
        level: Level::Info,
        kind: MetaKind::Format,
        name: "event".into(),
        target: "t".into(),
        module_path: None,
        file: None,
        line: None,
        names: vec!["a".into(), "b".into()],
        as_list: false,
    };
    let event = FormatEventM {
        meta: meta.clone(),
        template: "{0}".into(),
        slots: vec![ValueM::U64(1)],
        in_dict: false,
        time_ns: 1,
    };
    let record = event.encode(&mut Dict::default());
    let error = decode(EVENT_TAG_V1, &record, &NoDictionary).unwrap_err();
    assert!(
        error.to_string().contains("fewer slots than field names"),
        "{error}"
    );

    // More slots than the record carries: named, not a panic.
    meta.names.truncate(1);
    let mut event = FormatEventM { meta, ..event };
    event.slots.push(ValueM::U64(2));
    let mut record = event.encode(&mut Dict::default());
    record.truncate(record.len() - 9);
    let error = decode(EVENT_TAG_V1, &record, &NoDictionary).unwrap_err();
    assert!(error.to_string().contains("arguments"), "{error}");
}
