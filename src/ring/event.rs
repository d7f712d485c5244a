//! Event records: the payload of a record tagged [`EVENT_TAG_V1`], and the
//! dictionary entries it refers to. Encoding version 1; all integers are
//! little-endian, and nothing is aligned.
//!
//! ```text
//! event record payload
//! off  size  field
//! ---  ----  ----------------------------------------------------------------
//!   0     1  kind      1 = event, 2 = dropped ("N events dropped")
//!   1     1  level     1 TRACE, 2 DEBUG, 3 INFO, 4 WARN, 5 ERROR
//!   2     1  flags     bit 0 META_INLINE: no callsite id; a Meta block follows
//!                      bit 1 THREAD_INLINE: no thread entry; a u64 thread
//!                            number follows (after the Meta block)
//!                      bit 2 TRUNCATED: fields were cut to fit the record
//!   3     1  spans     number of Span items that follow
//!   4     4  callsite  dictionary id of a Callsite entry (0 when META_INLINE)
//!   8     8  time      nanoseconds since the Unix epoch (wall clock, UTC)
//!  16     4  thread    dictionary id of a Thread entry (0 when THREAD_INLINE
//!                      or unknown)
//!  20     4  pid       process id of the writer
//!  24    ..  [Meta block, if META_INLINE] [u64 thread number, if THREAD_INLINE]
//!            spans x Span item (root first)
//!            fields up to the end of the record
//!            (kind 2: no spans, no Meta block, exactly one u64: the count)
//!
//! Span item
//!   u8 flags (bit 0 META_INLINE) | u32 callsite id (0 if inline)
//!   | [Meta block] | u32 fields_len | fields_len bytes of fields
//!
//! Field
//!   u8 type | u16 name | value
//!   name: index into the callsite's field names; 0xFFFF = the name follows
//!         inline as a str (u16 len + UTF-8)
//!   type  value
//!      1  i64   8 bytes
//!      2  u64   8 bytes
//!      3  f64   8 bytes (IEEE 754 bits)
//!      4  bool  1 byte, 0 or 1
//!      5  str   u32 len + UTF-8
//!      6  text  u32 len + UTF-8: a value formatted with {:?} or {}, or a
//!               message's fmt::Arguments
//!      7  bytes u32 len + bytes
//!      8  i128  16 bytes
//!      9  u128  16 bytes
//!     10  error u32 len + UTF-8: the error's Display
//!     11  char  4 bytes: a Unicode scalar value
//!     12  f32   4 bytes (IEEE 754 bits)
//!     13  i8    1 byte
//!     14  i16   2 bytes
//!     15  i32   4 bytes
//!
//! Meta block (also the body of a Callsite dictionary entry)
//!   u8 level | u8 kind (1 event, 2 span, 3 format) | u16 nfields
//!   | u32 line (0 = unknown)
//!   | str name | str target | str module_path | str file | nfields x str
//!   [kind 3: u16 slots (>= nfields) | u32 len + UTF-8 template]
//!   str = u16 len + UTF-8 (len 0 = absent, for module_path and file)
//!
//! Format callsites (logring's own macros: `logring::info!` and its kin)
//!   The template is the call's format string with every placeholder naming
//!   its slot (`{0}`, `{1:>8.2}`, widths and precisions as `N$`). An event of
//!   a format callsite has no spans, and instead of fields it carries exactly
//!   `slots` arguments, each `u8 type | value` (no name: its position is its
//!   slot), up to the end of the record (fewer if TRUNCATED). Slot i < nfields
//!   is the field named by the callsite's i-th name; the others are hidden,
//!   read only by the template. The decoder formats the message from the
//!   template and the slots. Text (6) holds an argument of a type the record
//!   does not carry in binary, already formatted with its placeholder's spec.
//!
//! Dictionary entry payload
//!   u8 entry kind | body
//!   1 Callsite: a Meta block
//!   2 Thread:   u32 pid | u64 thread number | str name (len 0 = unnamed)
//! ```
//!
//! Text values are written in place: the encoder writes the field's head and
//! a placeholder length, formats the value straight into the record, then
//! back-patches the length. Strings longer than their length field allows
//! (names over 65,535 bytes) are cut at a character boundary.
//!
//! Decoding is total: every length is checked against what remains, and bad
//! UTF-8, an unknown kind, level, flag or field type, a missing dictionary
//! entry or trailing bytes give a [`DecodeError`] naming what and where,
//! never a panic. What the decoder allocates is bounded by the bytes it
//! reads (the record and the entries it refers to), never by a count read
//! from them.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::events::Level;

/// The tags of logring's own records, and the one of an event record of
/// encoding version 1: part of the ring's format.
pub(crate) use crate::ring::layout::{EVENT_TAG_V1, RESERVED_TAGS};
/// The first tag of the range logring reserves for its own records.
pub(crate) const RESERVED_TAG_FIRST: u32 = *RESERVED_TAGS.start();

/// Bytes of the fixed header of an event record.
pub(crate) const HEADER_LEN: usize = 24;
const OFF_KIND: usize = 0;
const OFF_LEVEL: usize = 1;
const OFF_FLAGS: usize = 2;
const OFF_SPANS: usize = 3;
const OFF_CALLSITE: usize = 4;
const OFF_TIME: usize = 8;
const OFF_THREAD: usize = 16;
const OFF_PID: usize = 20;

/// Record kinds.
const KIND_EVENT: u8 = 1;
const KIND_DROPPED: u8 = 2;

/// Record flags.
const FLAG_META_INLINE: u8 = 1 << 0;
const FLAG_THREAD_INLINE: u8 = 1 << 1;
const FLAG_TRUNCATED: u8 = 1 << 2;
const FLAGS_KNOWN: u8 = FLAG_META_INLINE | FLAG_THREAD_INLINE | FLAG_TRUNCATED;
/// Span item flags.
const SPAN_META_INLINE: u8 = 1 << 0;
/// Most span items one record holds (the count is a byte).
pub(crate) const MAX_SPANS: usize = u8::MAX as usize;

/// The field name that means "the name follows inline".
const NAME_INLINE: u16 = 0xFFFF;
/// Field types.
pub(crate) const TYPE_I64: u8 = 1;
pub(crate) const TYPE_U64: u8 = 2;
pub(crate) const TYPE_F64: u8 = 3;
pub(crate) const TYPE_BOOL: u8 = 4;
pub(crate) const TYPE_STR: u8 = 5;
const TYPE_TEXT: u8 = 6;
pub(crate) const TYPE_BYTES: u8 = 7;
pub(crate) const TYPE_I128: u8 = 8;
pub(crate) const TYPE_U128: u8 = 9;
const TYPE_ERROR: u8 = 10;
pub(crate) const TYPE_CHAR: u8 = 11;
pub(crate) const TYPE_F32: u8 = 12;
pub(crate) const TYPE_I8: u8 = 13;
pub(crate) const TYPE_I16: u8 = 14;
pub(crate) const TYPE_I32: u8 = 15;

/// Bytes of a Meta block before its strings.
const META_FIXED_LEN: usize = 8;
/// Dictionary entry kinds.
const ENTRY_CALLSITE: u8 = 1;
const ENTRY_THREAD: u8 = 2;

/// The longest string a `str` (u16 length) holds, and the most field names
/// a Meta block lists.
const STR16_MAX: usize = u16::MAX as usize;

/// Bytes of a dropped record: header, thread number if inline, count.
pub(crate) const fn dropped_len(thread: ThreadRef) -> usize {
    HEADER_LEN
        + match thread {
            ThreadRef::Inline(_) => 8,
            _ => 0,
        }
        + 8
}

/// Nanoseconds since the Unix epoch, from the wall clock (a vDSO read on
/// Linux, no system call); 0 for a clock before 1970.
#[inline]
pub(crate) fn now_ns() -> u64 {
    // libc's `clock_gettime` (the vDSO), without the u128 arithmetic of
    // `Duration::as_nanos`: this is on every event's path.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            since
                .as_secs()
                .wrapping_mul(1_000_000_000)
                .wrapping_add(u64::from(since.subsec_nanos()))
        })
}

pub(crate) fn level_from_wire(byte: u8) -> Option<Level> {
    Level::ALL.get(usize::from(byte).wrapping_sub(1)).copied()
}

/// The longest prefix of `s` that fits a u16 length, cut at a character
/// boundary.
#[inline]
fn clip16(s: &str) -> &str {
    if s.len() <= STR16_MAX {
        return s;
    }
    let mut end = STR16_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

// ---------------------------------------------------------------------------
// Metadata
// ---------------------------------------------------------------------------

/// Whether a callsite is an event's or a span's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MetaKind {
    Event = 1,
    Span = 2,
    /// A call of logring's own macros: an event whose message is formatted
    /// by the reader (see [`FormatMeta`]).
    Format = 3,
}

/// What a format callsite adds to its metadata: its template and how many
/// slots its events carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FormatMeta<'a> {
    /// Every slot, the hidden ones (beyond the field names) included.
    pub slots: u16,
    /// The format string, each placeholder naming its slot.
    pub template: &'a str,
}

/// What never changes per callsite: written once into the dictionary (or
/// inline when the dictionary is full), and what the decoder returns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Meta<'a> {
    pub level: Level,
    pub kind: MetaKind,
    pub name: &'a str,
    pub target: &'a str,
    /// `Some("")` is written as absent.
    pub module_path: Option<&'a str>,
    /// `Some("")` is written as absent.
    pub file: Option<&'a str>,
    /// `Some(0)` is written as unknown.
    pub line: Option<u32>,
    /// The names a field's index refers to (at most 65,535 are written).
    pub field_names: FieldNames<'a>,
    /// `Some` exactly for [`MetaKind::Format`].
    pub format: Option<FormatMeta<'a>>,
}

/// A list of field names that can be read by index, for front ends whose
/// names are not a slice (a `tracing` field set). Each call must return the
/// same names: the encoder reads them twice (to size, then to write).
pub(crate) trait NameList {
    fn len(&self) -> usize;
    /// The name at `index < self.len()`.
    fn name(&self, index: usize) -> &str;
}

/// A callsite's field names.
#[derive(Clone, Copy)]
pub(crate) enum FieldNames<'a> {
    Slice(&'a [&'a str]),
    List(&'a dyn NameList),
    /// As decoded: `count` strs, already checked, in their wire form.
    Wire {
        count: u16,
        bytes: &'a [u8],
    },
}

impl<'a> FieldNames<'a> {
    /// How many names are written (the list's length, at most 65,535).
    pub(crate) fn len(&self) -> usize {
        match *self {
            FieldNames::Slice(names) => names.len(),
            FieldNames::List(list) => list.len(),
            FieldNames::Wire { count, .. } => usize::from(count),
        }
        .min(STR16_MAX)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        let names = *self;
        let mut wire = match names {
            FieldNames::Wire { bytes, .. } => bytes,
            _ => &[],
        };
        (0..self.len()).map(move |index| match names {
            FieldNames::Slice(names) => names[index],
            FieldNames::List(list) => list.name(index),
            FieldNames::Wire { .. } => {
                // Checked when decoded: each name is a whole, valid str.
                let (name, rest) = split_str16(wire).unwrap_or(("", &[]));
                wire = rest;
                name
            }
        })
    }
}

impl fmt::Debug for FieldNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for FieldNames<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// A `str` at the start of `bytes`, and the bytes after it.
fn split_str16(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let (len, rest) = bytes.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_le_bytes(*len));
    let (text, rest) = rest.split_at_checked(len)?;
    Some((std::str::from_utf8(text).ok()?, rest))
}

/// Bytes of `meta`'s Meta block.
pub(crate) fn meta_len(meta: &Meta<'_>) -> usize {
    let strs = [
        meta.name,
        meta.target,
        meta.module_path.unwrap_or(""),
        meta.file.unwrap_or(""),
    ];
    META_FIXED_LEN
        + strs.iter().map(|s| 2 + clip16(s).len()).sum::<usize>()
        + meta
            .field_names
            .iter()
            .map(|s| 2 + clip16(s).len())
            .sum::<usize>()
        + meta
            .format
            .map_or(0, |format| 2 + 4 + format.template.len())
}

/// A thread, as an event names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ThreadInfo<'a> {
    /// The number in std's `ThreadId(N)`.
    pub number: u64,
    /// `None` if unnamed (or, for an inline thread, not written).
    pub name: Option<&'a str>,
}

/// Bytes of a Callsite dictionary entry for `meta`.
pub(crate) fn callsite_entry_len(meta: &Meta<'_>) -> usize {
    1 + meta_len(meta)
}

/// Writes a Callsite dictionary entry for `meta` at the start of `out`
/// (which [`callsite_entry_len`] sizes), returning the bytes written.
pub(crate) fn encode_callsite_entry(meta: &Meta<'_>, out: &mut [u8]) -> Result<usize, Overflow> {
    let mut cursor = Cursor { buf: out, pos: 0 };
    cursor.put(&[ENTRY_CALLSITE])?;
    cursor.meta(meta)?;
    Ok(cursor.pos)
}

/// Bytes of a Thread dictionary entry for `thread`.
pub(crate) fn thread_entry_len(thread: &ThreadInfo<'_>) -> usize {
    1 + 4 + 8 + 2 + clip16(thread.name.unwrap_or("")).len()
}

/// Writes a Thread dictionary entry for `thread` of process `pid` at the
/// start of `out` (which [`thread_entry_len`] sizes), returning the bytes
/// written.
pub(crate) fn encode_thread_entry(
    pid: u32,
    thread: &ThreadInfo<'_>,
    out: &mut [u8],
) -> Result<usize, Overflow> {
    let mut cursor = Cursor { buf: out, pos: 0 };
    cursor.put(&[ENTRY_THREAD])?;
    cursor.put(&pid.to_le_bytes())?;
    cursor.put(&thread.number.to_le_bytes())?;
    cursor.str16(thread.name.unwrap_or(""))?;
    Ok(cursor.pos)
}

/// The record (or entry) did not fit the bytes given to the encoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Overflow;

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the event does not fit the bytes claimed for it")
    }
}

impl std::error::Error for Overflow {}

/// Checked writes at a position, for the parts written once per record or
/// entry (header, Meta blocks, span items).
struct Cursor<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl Cursor<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        let end = self.pos.checked_add(bytes.len()).ok_or(Overflow)?;
        self.buf
            .get_mut(self.pos..end)
            .ok_or(Overflow)?
            .copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    fn str16(&mut self, s: &str) -> Result<(), Overflow> {
        let s = clip16(s);
        // Cannot truncate: clip16 keeps at most u16::MAX bytes.
        self.put(&(s.len() as u16).to_le_bytes())?;
        self.put(s.as_bytes())
    }

    fn meta(&mut self, meta: &Meta<'_>) -> Result<(), Overflow> {
        let nfields = meta.field_names.len();
        self.put(&[meta.level as u8, meta.kind as u8])?;
        // Cannot truncate: FieldNames::len is at most u16::MAX.
        self.put(&(nfields as u16).to_le_bytes())?;
        self.put(&meta.line.unwrap_or(0).to_le_bytes())?;
        self.str16(meta.name)?;
        self.str16(meta.target)?;
        self.str16(meta.module_path.unwrap_or(""))?;
        self.str16(meta.file.unwrap_or(""))?;
        for name in meta.field_names.iter() {
            self.str16(name)?;
        }
        if let Some(format) = meta.format {
            let len = u32::try_from(format.template.len()).map_err(|_| Overflow)?;
            self.put(&format.slots.to_le_bytes())?;
            self.put(&len.to_le_bytes())?;
            self.put(format.template.as_bytes())?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------

/// Where an event's (or a span's) metadata is: a dictionary entry, or inline.
#[derive(Clone, Copy, Debug)]
pub(crate) enum CallsiteRef<'m> {
    /// A Callsite entry of the ring's dictionary (an id, never 0).
    Entry(u32),
    /// The dictionary had no room: the Meta block goes into the record.
    Inline(&'m Meta<'m>),
}

/// Which thread wrote an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ThreadRef {
    /// Not recorded.
    Unknown,
    /// A Thread entry of the ring's dictionary (an id, never 0).
    Entry(u32),
    /// The dictionary had no room: the thread's number goes into the record.
    Inline(u64),
}

/// The fixed part of an event record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EventHeader<'m> {
    pub level: Level,
    /// Nanoseconds since the Unix epoch ([`now_ns`]).
    pub time_ns: u64,
    pub pid: u32,
    pub callsite: CallsiteRef<'m>,
    pub thread: ThreadRef,
}

/// A field's name: an index into the callsite's field names, or the name
/// itself (names over 65,535 bytes are cut).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldName<'n> {
    /// An index below the callsite's field count (and below 0xFFFF).
    Index(u16),
    Name(&'n str),
    /// An argument of a format callsite's event: no name, its position is
    /// its slot.
    Slot,
}

/// Where typed fields are encoded: an event record being written in place
/// ([`Encoder`]), or a span's fields kept until its events copy them
/// ([`EncodeBuf`]).
///
/// Fields are written whole or not at all: once one does not fit, the sink
/// is *overflowed*, keeps what it held before that field, and ignores every
/// later write.
pub(crate) trait FieldSink {
    /// The next `n` bytes of the field being written, or `None` (overflow:
    /// the field is dropped).
    fn room(&mut self, n: usize) -> Option<&mut [u8]>;
    /// The position of the next byte.
    fn position(&self) -> usize;
    /// Overwrites the four bytes at `at` (already written) with `value`.
    fn patch_u32(&mut self, at: usize, value: u32);
    /// The field written since the last one is whole.
    fn end_field(&mut self);
    /// Whether a field did not fit.
    fn overflowed(&self) -> bool;

    #[inline]
    fn i8(&mut self, name: FieldName<'_>, value: i8) {
        put_fixed(self, TYPE_I8, name, value.to_le_bytes());
    }
    #[inline]
    fn i16(&mut self, name: FieldName<'_>, value: i16) {
        put_fixed(self, TYPE_I16, name, value.to_le_bytes());
    }
    #[inline]
    fn i32(&mut self, name: FieldName<'_>, value: i32) {
        put_fixed(self, TYPE_I32, name, value.to_le_bytes());
    }
    #[inline]
    fn f32(&mut self, name: FieldName<'_>, value: f32) {
        put_fixed(self, TYPE_F32, name, value.to_le_bytes());
    }
    #[inline]
    fn char(&mut self, name: FieldName<'_>, value: char) {
        put_fixed(self, TYPE_CHAR, name, u32::from(value).to_le_bytes());
    }
    #[inline]
    fn u64(&mut self, name: FieldName<'_>, value: u64) {
        put_fixed(self, TYPE_U64, name, value.to_le_bytes());
    }
    #[inline]
    fn i64(&mut self, name: FieldName<'_>, value: i64) {
        put_fixed(self, TYPE_I64, name, value.to_le_bytes());
    }
    #[inline]
    fn f64(&mut self, name: FieldName<'_>, value: f64) {
        put_fixed(self, TYPE_F64, name, value.to_le_bytes());
    }
    #[inline]
    fn bool(&mut self, name: FieldName<'_>, value: bool) {
        put_fixed(self, TYPE_BOOL, name, [u8::from(value)]);
    }
    #[inline]
    fn i128(&mut self, name: FieldName<'_>, value: i128) {
        put_fixed(self, TYPE_I128, name, value.to_le_bytes());
    }
    #[inline]
    fn u128(&mut self, name: FieldName<'_>, value: u128) {
        put_fixed(self, TYPE_U128, name, value.to_le_bytes());
    }
    /// A string value (rendered quoted, as `tracing` renders `&str`).
    #[inline]
    fn str(&mut self, name: FieldName<'_>, value: &str) {
        put_blob(self, TYPE_STR, name, value.as_bytes());
    }
    #[inline]
    fn bytes(&mut self, name: FieldName<'_>, value: &[u8]) {
        put_blob(self, TYPE_BYTES, name, value);
    }
    /// A value formatted with `{:?}`, straight into the sink.
    #[inline]
    fn debug(&mut self, name: FieldName<'_>, value: &dyn fmt::Debug) {
        put_text(self, TYPE_TEXT, name, format_args!("{value:?}"));
    }
    /// A value formatted with `{}`, straight into the sink.
    #[inline]
    fn display(&mut self, name: FieldName<'_>, value: &dyn fmt::Display) {
        put_text(self, TYPE_TEXT, name, format_args!("{value}"));
    }
    /// A message (or any text) formatted straight into the sink.
    #[inline]
    fn args(&mut self, name: FieldName<'_>, args: fmt::Arguments<'_>) {
        put_text(self, TYPE_TEXT, name, args);
    }
    /// An error, by its `Display`.
    #[inline]
    fn error(&mut self, name: FieldName<'_>, error: &(dyn std::error::Error + 'static)) {
        put_text(self, TYPE_ERROR, name, format_args!("{error}"));
    }
}

/// Room for a field's type and name and `value_len` bytes after them; the
/// returned slice is the value's.
#[inline]
fn put_head<'s, S: FieldSink + ?Sized>(
    sink: &'s mut S,
    ty: u8,
    name: FieldName<'_>,
    value_len: usize,
) -> Option<&'s mut [u8]> {
    match name {
        FieldName::Index(index) => {
            debug_assert!(index != NAME_INLINE, "field index 0xFFFF means inline");
            let dst = sink.room(3usize.checked_add(value_len)?)?;
            let (head, value) = dst.split_at_mut(3);
            head[0] = ty;
            head[1..3].copy_from_slice(&index.to_le_bytes());
            Some(value)
        }
        FieldName::Slot => {
            let dst = sink.room(1usize.checked_add(value_len)?)?;
            let (head, value) = dst.split_at_mut(1);
            head[0] = ty;
            Some(value)
        }
        FieldName::Name(name) => {
            let name = clip16(name);
            let dst = sink.room((5 + name.len()).checked_add(value_len)?)?;
            let (head, value) = dst.split_at_mut(5 + name.len());
            head[0] = ty;
            head[1..3].copy_from_slice(&NAME_INLINE.to_le_bytes());
            // Cannot truncate: clip16 keeps at most u16::MAX bytes.
            head[3..5].copy_from_slice(&(name.len() as u16).to_le_bytes());
            head[5..].copy_from_slice(name.as_bytes());
            Some(value)
        }
    }
}

#[inline]
fn put_fixed<S: FieldSink + ?Sized, const N: usize>(
    sink: &mut S,
    ty: u8,
    name: FieldName<'_>,
    value: [u8; N],
) {
    if let Some(dst) = put_head(sink, ty, name, N) {
        dst.copy_from_slice(&value);
        sink.end_field();
    }
}

#[inline]
fn put_blob<S: FieldSink + ?Sized>(sink: &mut S, ty: u8, name: FieldName<'_>, value: &[u8]) {
    let Ok(len) = u32::try_from(value.len()) else {
        // Larger than any record: it cannot fit.
        let _ = sink.room(usize::MAX);
        return;
    };
    if let Some(dst) = put_head(sink, ty, name, 4 + value.len()) {
        let (len_bytes, bytes) = dst.split_at_mut(4);
        len_bytes.copy_from_slice(&len.to_le_bytes());
        bytes.copy_from_slice(value);
        sink.end_field();
    }
}

/// Formats `args` in place after a placeholder length, then back-patches it.
#[inline]
fn put_text<S: FieldSink + ?Sized>(
    sink: &mut S,
    ty: u8,
    name: FieldName<'_>,
    args: fmt::Arguments<'_>,
) {
    if put_head(sink, ty, name, 4).is_none() {
        return;
    }
    let start = sink.position();
    // A formatting error is either an overflow (the sink dropped the field)
    // or the value's own implementation failing: then what it wrote stays.
    let _ = Text(&mut *sink).write_fmt(args);
    if sink.overflowed() {
        return;
    }
    let len = sink.position() - start;
    match u32::try_from(len) {
        Ok(len) => {
            sink.patch_u32(start - 4, len);
            sink.end_field();
        }
        Err(_) => {
            let _ = sink.room(usize::MAX);
        }
    }
}

/// `fmt::Write` into a sink's current field.
struct Text<'s, S: ?Sized>(&'s mut S);

impl<S: FieldSink + ?Sized> fmt::Write for Text<'_, S> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        match self.0.room(s.len()) {
            Some(dst) => {
                dst.copy_from_slice(s.as_bytes());
                Ok(())
            }
            None => Err(fmt::Error),
        }
    }
}

/// Writes one event record into the bytes claimed for it:
/// [`event`](Self::event) (the header), then [`span`](Self::span) for each
/// entered span (root first), then the fields through [`FieldSink`], then
/// [`finish`](Self::finish).
///
/// Nothing allocates, formats into a buffer, or panics: a write that does not
/// fit marks the encoder overflowed, and the record ends with the last whole
/// item ([`truncate_to_fields`](Self::truncate_to_fields)).
pub(crate) struct Encoder<'b> {
    buf: &'b mut [u8],
    /// End of what is written (`<= buf.len()`).
    pos: usize,
    /// End of the last whole item: header, span or field (`<= pos`).
    whole: usize,
    /// The header is written.
    started: bool,
    overflowed: bool,
    /// Once overflowed: the end of the write that did not fit (a lower
    /// bound of the record's size, for a larger claim to aim at).
    needed: usize,
}

/// Writes the fixed header of an event (kind 1, no spans).
#[inline(always)]
fn fixed_header(
    dst: &mut [u8; HEADER_LEN],
    level: Level,
    flags: u8,
    callsite: u32,
    time_ns: u64,
    thread: u32,
    pid: u32,
) {
    dst[OFF_KIND] = KIND_EVENT;
    dst[OFF_LEVEL] = level as u8;
    dst[OFF_FLAGS] = flags;
    dst[OFF_SPANS] = 0;
    dst[OFF_CALLSITE..OFF_CALLSITE + 4].copy_from_slice(&callsite.to_le_bytes());
    dst[OFF_TIME..OFF_TIME + 8].copy_from_slice(&time_ns.to_le_bytes());
    dst[OFF_THREAD..OFF_THREAD + 4].copy_from_slice(&thread.to_le_bytes());
    dst[OFF_PID..OFF_PID + 4].copy_from_slice(&pid.to_le_bytes());
}

/// Writes the header of an event whose callsite and thread are dictionary
/// entries (no inline metadata, no spans) at the start of `dst`, for an
/// event whose size is known before it is claimed: the arguments of a
/// format callsite ([`put_arg`]) follow it.
#[inline(always)]
pub(crate) fn put_entry_header(
    dst: &mut [u8; HEADER_LEN],
    level: Level,
    callsite: u32,
    time_ns: u64,
    thread: u32,
    pid: u32,
) {
    fixed_header(dst, level, 0, callsite, time_ns, thread, pid);
}

/// Writes an argument of a format callsite's event: `ty` (one of the value
/// types) and its fixed-size value, at the start of `dst` (which holds
/// exactly `1 + N` bytes).
#[inline(always)]
pub(crate) fn put_arg<const N: usize>(dst: &mut [u8], ty: u8, value: [u8; N]) {
    if let Some((head, rest)) = dst.split_first_mut() {
        *head = ty;
        if let Some(dst) = rest.get_mut(..N) {
            dst.copy_from_slice(&value);
        }
    }
}

/// Writes an argument of a format callsite's event of type str or bytes:
/// `ty`, the u32 length, the bytes, at the start of `dst` (which holds
/// exactly `5 + bytes.len()` bytes).
#[inline(always)]
pub(crate) fn put_arg_blob(dst: &mut [u8], ty: u8, bytes: &[u8]) {
    // A claim never holds 4 GiB: the caller sized `dst` from `bytes`.
    put_arg(dst, ty, (bytes.len() as u32).to_le_bytes());
    if let Some(dst) = dst.get_mut(5..5 + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

impl<'b> Encoder<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Encoder {
            buf,
            pos: 0,
            whole: 0,
            started: false,
            overflowed: false,
            needed: 0,
        }
    }

    /// Writes the header of an event (kind 1) and its inline metadata.
    pub(crate) fn event(&mut self, header: &EventHeader<'_>) {
        debug_assert!(!self.started, "one header per record");
        let (flags, callsite) = match header.callsite {
            CallsiteRef::Entry(id) => (0, id),
            CallsiteRef::Inline(_) => (FLAG_META_INLINE, 0),
        };
        let (flags, thread) = match header.thread {
            ThreadRef::Unknown => (flags, 0),
            ThreadRef::Entry(id) => (flags, id),
            ThreadRef::Inline(_) => (flags | FLAG_THREAD_INLINE, 0),
        };
        let mut fixed = [0u8; HEADER_LEN];
        fixed_header(
            &mut fixed,
            header.level,
            flags,
            callsite,
            header.time_ns,
            thread,
            header.pid,
        );

        let mut cursor = Cursor {
            buf: &mut *self.buf,
            pos: 0,
        };
        let written = cursor.put(&fixed).and_then(|()| {
            if let CallsiteRef::Inline(meta) = header.callsite {
                cursor.meta(meta)?;
            }
            if let ThreadRef::Inline(number) = header.thread {
                cursor.put(&number.to_le_bytes())?;
            }
            Ok(cursor.pos)
        });
        match written {
            Ok(end) => {
                self.pos = end;
                self.whole = end;
                self.started = true;
            }
            Err(Overflow) => self.overflowed = true,
        }
    }

    /// Appends a span item: its metadata and its fields (as an
    /// [`EncodeBuf`] holds them). Spans go after the header and before any
    /// field; past [`MAX_SPANS`] they are left out and the record marked
    /// truncated.
    pub(crate) fn span(&mut self, callsite: CallsiteRef<'_>, fields: &[u8]) {
        if self.overflowed || !self.started {
            return;
        }
        debug_assert_eq!(self.pos, self.whole, "spans go before the fields");
        if usize::from(self.buf[OFF_SPANS]) == MAX_SPANS {
            self.buf[OFF_FLAGS] |= FLAG_TRUNCATED;
            return;
        }
        let Ok(fields_len) = u32::try_from(fields.len()) else {
            self.overflow();
            return;
        };
        let mut cursor = Cursor {
            buf: &mut *self.buf,
            pos: self.pos,
        };
        let written = match callsite {
            CallsiteRef::Entry(id) => cursor
                .put(&[0])
                .and_then(|()| cursor.put(&id.to_le_bytes())),
            CallsiteRef::Inline(meta) => cursor
                .put(&[SPAN_META_INLINE, 0, 0, 0, 0])
                .and_then(|()| cursor.meta(meta)),
        }
        .and_then(|()| cursor.put(&fields_len.to_le_bytes()))
        .and_then(|()| cursor.put(fields))
        .map(|()| cursor.pos);
        match written {
            Ok(end) => {
                self.buf[OFF_SPANS] += 1;
                self.pos = end;
                self.whole = end;
            }
            Err(Overflow) => self.overflow(),
        }
    }

    fn overflow(&mut self) {
        self.overflowed = true;
        self.pos = self.whole;
    }

    /// Bytes written so far (whole items only, once overflowed).
    pub(crate) fn len(&self) -> usize {
        self.pos
    }

    /// Once overflowed: at least how many bytes the record needs (the end of
    /// the field write that did not fit; fields after it are not counted).
    /// 0 before an overflow, or if the header did not fit.
    pub(crate) fn needed(&self) -> usize {
        self.needed
    }

    /// The record's length, or `Overflow` if anything did not fit (or no
    /// header was written).
    pub(crate) fn finish(&self) -> Result<usize, Overflow> {
        if self.overflowed || !self.started {
            Err(Overflow)
        } else {
            Ok(self.pos)
        }
    }

    /// After an overflow: marks the record truncated and returns the length
    /// of its whole prefix (header, the spans and fields that fit), or
    /// `None` if not even the header fit.
    pub(crate) fn truncate_to_fields(&mut self) -> Option<usize> {
        if !self.started {
            return None;
        }
        self.buf[OFF_FLAGS] |= FLAG_TRUNCATED;
        self.pos = self.whole;
        Some(self.whole)
    }
}

impl FieldSink for Encoder<'_> {
    #[inline]
    fn room(&mut self, n: usize) -> Option<&mut [u8]> {
        if self.overflowed {
            return None;
        }
        match self.pos.checked_add(n) {
            Some(end) if end <= self.buf.len() && self.started => {
                let start = self.pos;
                self.pos = end;
                Some(&mut self.buf[start..end])
            }
            _ => {
                self.needed = self.pos.saturating_add(n);
                self.overflow();
                None
            }
        }
    }

    #[inline]
    fn position(&self) -> usize {
        self.pos
    }

    #[inline]
    fn patch_u32(&mut self, at: usize, value: u32) {
        if let Some(dst) = self.buf.get_mut(at..at + 4) {
            dst.copy_from_slice(&value.to_le_bytes());
        }
    }

    #[inline]
    fn end_field(&mut self) {
        if !self.overflowed {
            self.whole = self.pos;
        }
    }

    #[inline]
    fn overflowed(&self) -> bool {
        self.overflowed
    }
}

/// Writes a dropped record ("`count` events dropped") at the start of
/// `out`, returning its length ([`dropped_len`]).
pub(crate) fn encode_dropped(
    out: &mut [u8],
    time_ns: u64,
    pid: u32,
    thread: ThreadRef,
    count: u64,
) -> Result<usize, Overflow> {
    let (flags, id) = match thread {
        ThreadRef::Unknown => (0, 0),
        ThreadRef::Entry(id) => (0, id),
        ThreadRef::Inline(_) => (FLAG_THREAD_INLINE, 0),
    };
    let mut fixed = [0u8; HEADER_LEN];
    fixed[OFF_KIND] = KIND_DROPPED;
    fixed[OFF_LEVEL] = Level::Warn as u8;
    fixed[OFF_FLAGS] = flags;
    fixed[OFF_TIME..OFF_TIME + 8].copy_from_slice(&time_ns.to_le_bytes());
    fixed[OFF_THREAD..OFF_THREAD + 4].copy_from_slice(&id.to_le_bytes());
    fixed[OFF_PID..OFF_PID + 4].copy_from_slice(&pid.to_le_bytes());
    let mut cursor = Cursor { buf: out, pos: 0 };
    cursor.put(&fixed)?;
    if let ThreadRef::Inline(number) = thread {
        cursor.put(&number.to_le_bytes())?;
    }
    cursor.put(&count.to_le_bytes())?;
    Ok(cursor.pos)
}

/// Fields encoded into a growing buffer: a span's, recorded when the span is
/// created (and appended to when it records more), copied into each of its
/// events by [`Encoder::span`]. Holds at most `u32::MAX` bytes; past that a
/// field is dropped as an encoder drops one that does not fit.
#[derive(Clone, Debug, Default)]
pub(crate) struct EncodeBuf {
    bytes: Vec<u8>,
    /// End of the last whole field.
    whole: usize,
    overflowed: bool,
}

impl EncodeBuf {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The whole fields written, in their wire form.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.whole]
    }

    /// Whether a field was dropped (the buffer reached `u32::MAX` bytes).
    pub(crate) fn truncated(&self) -> bool {
        self.overflowed
    }
}

impl FieldSink for EncodeBuf {
    fn room(&mut self, n: usize) -> Option<&mut [u8]> {
        if self.overflowed {
            return None;
        }
        let start = self.bytes.len();
        match start.checked_add(n) {
            Some(end) if end <= u32::MAX as usize => {
                self.bytes.resize(end, 0);
                Some(&mut self.bytes[start..])
            }
            _ => {
                self.overflowed = true;
                self.bytes.truncate(self.whole);
                None
            }
        }
    }

    fn position(&self) -> usize {
        self.bytes.len()
    }

    fn patch_u32(&mut self, at: usize, value: u32) {
        if let Some(dst) = self.bytes.get_mut(at..at + 4) {
            dst.copy_from_slice(&value.to_le_bytes());
        }
    }

    fn end_field(&mut self) {
        if !self.overflowed {
            self.whole = self.bytes.len();
        }
    }

    fn overflowed(&self) -> bool {
        self.overflowed
    }
}

// ---------------------------------------------------------------------------
// Decoder
// ---------------------------------------------------------------------------

/// Where the decoder reads dictionary entries (the ring's dictionary, or a
/// map in tests). Entries are untrusted bytes like the record.
pub(crate) trait Lookup<'a> {
    /// The payload of the committed entry `id`, if there is one.
    fn entry(&self, id: u32) -> Option<&'a [u8]>;
}

/// One entry copied out of a ring's dictionary (which hands out copies:
/// see `Dictionary::entry`), as a lookup that knows that entry alone.
pub(crate) struct OneEntry<'a> {
    pub id: u32,
    pub payload: Option<&'a [u8]>,
}

impl<'a> Lookup<'a> for OneEntry<'a> {
    fn entry(&self, id: u32) -> Option<&'a [u8]> {
        if id == self.id { self.payload } else { None }
    }
}

/// A lookup that finds nothing: for rings without a dictionary.
pub(crate) struct NoDictionary;

impl<'a> Lookup<'a> for NoDictionary {
    fn entry(&self, _id: u32) -> Option<&'a [u8]> {
        None
    }
}

/// What a record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Event,
    /// "`count` events dropped" (the count is also the field `dropped`).
    Dropped {
        count: u64,
    },
}

/// A field's value, borrowing the record.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Value<'a> {
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Str(&'a str),
    /// Pre-formatted text: a `{:?}` or `{}` value, or a message.
    Debug(&'a str),
    Bytes(&'a [u8]),
    I128(i128),
    U128(u128),
    /// An error's `Display`.
    Error(&'a str),
    I8(i8),
    I16(i16),
    I32(i32),
    F32(f32),
    Char(char),
}

impl PartialEq for Value<'_> {
    /// Floats compare by their bits, so that a NaN equals itself.
    fn eq(&self, other: &Self) -> bool {
        match (*self, *other) {
            (Value::F64(a), Value::F64(b)) => a.to_bits() == b.to_bits(),
            (Value::F32(a), Value::F32(b)) => a.to_bits() == b.to_bits(),
            (Value::I8(a), Value::I8(b)) => a == b,
            (Value::I16(a), Value::I16(b)) => a == b,
            (Value::I32(a), Value::I32(b)) => a == b,
            (Value::Char(a), Value::Char(b)) => a == b,
            (Value::I64(a), Value::I64(b)) => a == b,
            (Value::U64(a), Value::U64(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Debug(a), Value::Debug(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::I128(a), Value::I128(b)) => a == b,
            (Value::U128(a), Value::U128(b)) => a == b,
            (Value::Error(a), Value::Error(b)) => a == b,
            _ => false,
        }
    }
}

/// An entered span, as an event carries it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SpanView<'a> {
    pub meta: Meta<'a>,
    pub fields: Vec<(&'a str, Value<'a>)>,
}

/// A decoded event record; borrows the record and the dictionary.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Decoded<'a> {
    pub kind: Kind,
    pub level: Level,
    pub time_ns: u64,
    pub pid: u32,
    /// `None` if the writer did not record its thread.
    pub thread: Option<ThreadInfo<'a>>,
    /// The event's callsite (for a dropped record: target `logring`, name
    /// `dropped`).
    pub meta: Meta<'a>,
    /// Root first.
    pub spans: Vec<SpanView<'a>>,
    pub fields: Vec<(&'a str, Value<'a>)>,
    /// A format callsite's event: every slot (the hidden ones too), and the
    /// message formatted from them (see [`FormatMeta`]). Empty and `None`
    /// for other events.
    pub args: Vec<Value<'a>>,
    pub message: Option<String>,
    /// Fields (or spans) were cut to fit the record.
    pub truncated: bool,
}

/// The callsite a dropped record decodes with.
const DROPPED_META: Meta<'static> = Meta {
    level: Level::Warn,
    kind: MetaKind::Event,
    name: "dropped",
    target: "logring",
    module_path: None,
    file: None,
    line: None,
    field_names: FieldNames::Slice(&["dropped"]),
    format: None,
};

/// The notice of `count` dropped events that a reader prints itself, when
/// it takes the ring's count of unreported drops (no event followed them to
/// carry a notice): no process or thread is known (`pid` 0).
pub(crate) fn drop_notice(time_ns: u64, count: u64) -> Decoded<'static> {
    Decoded {
        kind: Kind::Dropped { count },
        level: Level::Warn,
        time_ns,
        pid: 0,
        thread: None,
        meta: DROPPED_META,
        spans: Vec::new(),
        fields: vec![("dropped", Value::U64(count))],
        args: Vec::new(),
        message: None,
        truncated: false,
    }
}

/// Where a decoding error is: a byte of the record, or of a dictionary
/// entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct At {
    /// The dictionary entry, or `None` for the record.
    pub entry: Option<u32>,
    pub offset: usize,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.entry {
            None => write!(f, "byte {} of the record", self.offset),
            Some(id) => write!(f, "byte {} of dictionary entry {id}", self.offset),
        }
    }
}

/// Why a record does not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// The tag is not one of logring's reserved tags.
    NotAnEvent {
        tag: u32,
    },
    /// A reserved tag of an encoding this build does not know.
    UnknownVersion {
        tag: u32,
    },
    /// `what` needs `need` bytes at `at`, and `left` remain.
    Truncated {
        at: At,
        what: &'static str,
        need: usize,
        left: usize,
    },
    BadUtf8 {
        at: At,
        what: &'static str,
    },
    UnknownKind {
        kind: u8,
    },
    UnknownLevel {
        at: At,
        level: u8,
    },
    UnknownFlags {
        at: At,
        flags: u8,
    },
    UnknownMetaKind {
        at: At,
        kind: u8,
    },
    UnknownFieldType {
        at: At,
        ty: u8,
    },
    BadBool {
        at: At,
        value: u8,
    },
    /// A field's name index is not below its callsite's field count.
    FieldIndex {
        at: At,
        index: u16,
        names: usize,
    },
    /// The dictionary has no committed entry `id` (for `what`).
    MissingEntry {
        id: u32,
        what: &'static str,
    },
    /// Entry `id` is not of the kind `what` needs.
    WrongEntry {
        id: u32,
        what: &'static str,
        kind: u8,
    },
    /// Bytes after the end of `what`.
    Trailing {
        at: At,
        what: &'static str,
        len: usize,
    },
    /// Something the format rules out (`what`).
    Invalid {
        at: At,
        what: &'static str,
    },
    /// A char field that is not a Unicode scalar value.
    BadChar {
        at: At,
        value: u32,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::NotAnEvent { tag } => {
                write!(f, "tag {tag:#010x} does not mark an event record")
            }
            DecodeError::UnknownVersion { tag } => {
                write!(f, "an event of an unknown encoding (tag {tag:#010x})")
            }
            DecodeError::Truncated {
                at,
                what,
                need,
                left,
            } => write!(
                f,
                "truncated at {at}: {what} needs {need} bytes, {left} left"
            ),
            DecodeError::BadUtf8 { at, what } => write!(f, "bad UTF-8 in {what} at {at}"),
            DecodeError::UnknownKind { kind } => write!(f, "unknown event kind {kind}"),
            DecodeError::UnknownLevel { at, level } => write!(f, "unknown level {level} at {at}"),
            DecodeError::UnknownFlags { at, flags } => {
                write!(f, "unknown flags {flags:#04x} at {at}")
            }
            DecodeError::UnknownMetaKind { at, kind } => {
                write!(f, "unknown callsite kind {kind} at {at}")
            }
            DecodeError::UnknownFieldType { at, ty } => {
                write!(f, "unknown field type {ty} at {at}")
            }
            DecodeError::BadBool { at, value } => {
                write!(f, "bool field of value {value} (not 0 or 1) at {at}")
            }
            DecodeError::FieldIndex { at, index, names } => write!(
                f,
                "field name index {index} at {at}, but the callsite has {names} field names"
            ),
            DecodeError::MissingEntry { id, what } => {
                write!(f, "missing dictionary entry {id} ({what})")
            }
            DecodeError::WrongEntry { id, what, kind } => {
                write!(f, "dictionary entry {id} is of kind {kind}, not {what}")
            }
            DecodeError::Trailing { at, what, len } => {
                write!(f, "{len} trailing bytes after {what} at {at}")
            }
            DecodeError::Invalid { at, what } => write!(f, "{what} at {at}"),
            DecodeError::BadChar { at, value } => {
                write!(
                    f,
                    "char field of value {value:#x} (not a Unicode scalar value) at {at}"
                )
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Bounds-checked reads of untrusted bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Offset of `bytes` in what errors name (the record, or an entry).
    base: usize,
    entry: Option<u32>,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], entry: Option<u32>) -> Self {
        Reader {
            bytes,
            pos: 0,
            base: 0,
            entry,
        }
    }

    fn at(&self) -> At {
        At {
            entry: self.entry,
            offset: self.base + self.pos,
        }
    }

    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let left = self.left();
        if n > left {
            return Err(DecodeError::Truncated {
                at: self.at(),
                what,
                need: n,
                left,
            });
        }
        let bytes = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        self.array(what).map(u16::from_le_bytes)
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        self.array(what).map(u32::from_le_bytes)
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        self.array(what).map(u64::from_le_bytes)
    }

    fn utf8(&self, bytes: &'a [u8], at: At, what: &'static str) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(bytes).map_err(|_| DecodeError::BadUtf8 { at, what })
    }

    /// A u16-length str.
    fn str16(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let at = self.at();
        let len = self.u16(what)?;
        let bytes = self.take(usize::from(len), what)?;
        self.utf8(bytes, at, what)
    }

    /// A u32-length str.
    fn str32(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let at = self.at();
        let bytes = self.blob32(what)?;
        self.utf8(bytes, at, what)
    }

    fn blob32(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.u32(what)?;
        // A u32 always fits a usize on the targets the ring supports (>= 32 bits).
        self.take(len as usize, what)
    }

    /// The next `len` bytes, as a reader of their own.
    fn sub(&mut self, len: usize, what: &'static str) -> Result<Reader<'a>, DecodeError> {
        let base = self.base + self.pos;
        let bytes = self.take(len, what)?;
        Ok(Reader {
            bytes,
            pos: 0,
            base,
            entry: self.entry,
        })
    }

    fn end(&self, what: &'static str) -> Result<(), DecodeError> {
        match self.left() {
            0 => Ok(()),
            len => Err(DecodeError::Trailing {
                at: self.at(),
                what,
                len,
            }),
        }
    }

    fn level(&mut self) -> Result<Level, DecodeError> {
        let at = self.at();
        let level = self.u8("the level")?;
        level_from_wire(level).ok_or(DecodeError::UnknownLevel { at, level })
    }

    fn meta(&mut self) -> Result<Meta<'a>, DecodeError> {
        let level = self.level()?;
        let at = self.at();
        let kind = match self.u8("the callsite kind")? {
            1 => MetaKind::Event,
            2 => MetaKind::Span,
            3 => MetaKind::Format,
            kind => return Err(DecodeError::UnknownMetaKind { at, kind }),
        };
        let count = self.u16("the field count")?;
        let line = self.u32("the line")?;
        let name = self.str16("the callsite name")?;
        let target = self.str16("the target")?;
        let module_path = self.str16("the module path")?;
        let file = self.str16("the file name")?;
        let names_start = self.pos;
        for _ in 0..count {
            self.str16("a field name")?;
        }
        let names_end = self.pos;
        let format = match kind {
            MetaKind::Format => {
                let at = self.at();
                let slots = self.u16("the slot count")?;
                if slots < count {
                    return Err(DecodeError::Invalid {
                        at,
                        what: "a format callsite with fewer slots than field names",
                    });
                }
                let template = self.str32("the template")?;
                Some(FormatMeta { slots, template })
            }
            _ => None,
        };
        Ok(Meta {
            level,
            kind,
            name,
            target,
            module_path: (!module_path.is_empty()).then_some(module_path),
            file: (!file.is_empty()).then_some(file),
            line: (line != 0).then_some(line),
            field_names: FieldNames::Wire {
                count,
                bytes: &self.bytes[names_start..names_end],
            },
            format,
        })
    }
}

/// Decodes the record `payload` of tag `tag`, reading the dictionary entries
/// it refers to from `dict`.
pub(crate) fn decode<'a>(
    tag: u32,
    payload: &'a [u8],
    dict: &dyn Lookup<'a>,
) -> Result<Decoded<'a>, DecodeError> {
    decode_with(tag, payload, &DictEntries(dict), &mut Spare::default()).map_err(
        |fail| match fail {
            Fail::Error(error) => error,
            // `DictEntries` parses every entry it is asked for: it never misses.
            Fail::Miss(miss) => miss.missing(),
        },
    )
}

/// Decodes the record `payload` of tag `tag` with the dictionary entries
/// parsed in `cache`, into the buffers of `spare` (give the result back with
/// [`Spare::recycle`]). An entry the cache does not hold yet is a
/// [`Fail::Miss`]: [`DecodeCache::fill`] it, then decode again. What comes
/// out, and every error, is what [`decode`] gives with the cache's
/// dictionary.
pub(crate) fn decode_cached<'a>(
    tag: u32,
    payload: &'a [u8],
    cache: &'a DecodeCache,
    spare: &mut Spare,
) -> Result<Decoded<'a>, Fail> {
    decode_with(tag, payload, &Cached(cache), spare)
}

/// Why [`decode_cached`] gave no event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Fail {
    /// The record does not decode.
    Error(DecodeError),
    /// The record refers to a dictionary entry the cache has not parsed.
    Miss(Miss),
}

impl From<DecodeError> for Fail {
    fn from(error: DecodeError) -> Self {
        Fail::Error(error)
    }
}

/// A dictionary entry a record refers to and a cache does not hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Miss {
    Callsite { id: u32, what: &'static str },
    Thread { id: u32 },
}

impl Miss {
    /// The dictionary id the record refers to.
    pub(crate) fn id(&self) -> u32 {
        match *self {
            Miss::Callsite { id, .. } | Miss::Thread { id } => id,
        }
    }

    /// The error of a lookup that finds no entry.
    fn missing(self) -> DecodeError {
        match self {
            Miss::Callsite { id, what } => DecodeError::MissingEntry { id, what },
            Miss::Thread { id } => DecodeError::MissingEntry {
                id,
                what: "the event's thread",
            },
        }
    }
}

/// Where the decoder finds the callsites and threads a record refers to.
trait Entries<'a> {
    fn callsite(&self, id: u32, what: &'static str) -> Result<(Meta<'a>, Names<'a>), Fail>;
    fn thread(&self, id: u32) -> Result<ThreadInfo<'a>, Fail>;
}

/// Entries parsed from the dictionary at each use.
struct DictEntries<'d, 'a>(&'d dyn Lookup<'a>);

impl<'a> Entries<'a> for DictEntries<'_, 'a> {
    fn callsite(&self, id: u32, what: &'static str) -> Result<(Meta<'a>, Names<'a>), Fail> {
        let meta = callsite_entry(self.0, id, what)?;
        Ok((meta, Names::Wire(meta.field_names)))
    }

    fn thread(&self, id: u32) -> Result<ThreadInfo<'a>, Fail> {
        Ok(thread_entry(self.0, id)?)
    }
}

/// A callsite's field names, as `decode_fields` reads them by index.
#[derive(Clone, Copy)]
enum Names<'a> {
    /// In their wire form: split when an index first needs one.
    Wire(FieldNames<'a>),
    /// Split and checked already.
    Parsed(&'a [Box<str>]),
}

/// A Callsite entry, parsed once and kept.
struct CachedCallsite {
    level: Level,
    kind: MetaKind,
    name: Box<str>,
    target: Box<str>,
    module_path: Option<Box<str>>,
    file: Option<Box<str>>,
    line: Option<u32>,
    /// The field names in their wire form (checked), as `Meta` carries them.
    names_count: u16,
    names_wire: Box<[u8]>,
    /// The same names, split.
    names: Box<[Box<str>]>,
    format: Option<(u16, Box<str>)>,
}

impl CachedCallsite {
    fn new(meta: &Meta<'_>) -> Self {
        let (names_count, names_wire) = match meta.field_names {
            FieldNames::Wire { count, bytes } => (count, Box::from(bytes)),
            // Decoded metas are always in their wire form.
            _ => (0, Box::default()),
        };
        CachedCallsite {
            level: meta.level,
            kind: meta.kind,
            name: meta.name.into(),
            target: meta.target.into(),
            module_path: meta.module_path.map(Box::from),
            file: meta.file.map(Box::from),
            line: meta.line,
            names_count,
            names_wire,
            names: meta.field_names.iter().map(Box::from).collect(),
            format: meta
                .format
                .map(|format| (format.slots, Box::from(format.template))),
        }
    }

    fn meta(&self) -> Meta<'_> {
        Meta {
            level: self.level,
            kind: self.kind,
            name: &self.name,
            target: &self.target,
            module_path: self.module_path.as_deref(),
            file: self.file.as_deref(),
            line: self.line,
            field_names: FieldNames::Wire {
                count: self.names_count,
                bytes: &self.names_wire,
            },
            format: self.format.as_ref().map(|(slots, template)| FormatMeta {
                slots: *slots,
                template,
            }),
        }
    }
}

/// The dictionary entries a reader's records referred to, parsed once each:
/// committed entries never change, so an id means the same entry for the
/// ring's life. Holds only entries that parsed, so at most one per entry of
/// the dictionary, in about twice its bytes.
#[derive(Default)]
pub(crate) struct DecodeCache {
    callsites: HashMap<u32, CachedCallsite>,
    threads: HashMap<u32, (u64, Option<Box<str>>)>,
}

impl DecodeCache {
    /// Parses the entry `miss` names from `dict` and keeps it; the error
    /// [`decode`] gives for the entry if it does not parse (or is missing).
    pub(crate) fn fill<'d>(
        &mut self,
        miss: Miss,
        dict: &dyn Lookup<'d>,
    ) -> Result<(), DecodeError> {
        match miss {
            Miss::Callsite { id, what } => {
                let meta = callsite_entry(dict, id, what)?;
                self.callsites.insert(id, CachedCallsite::new(&meta));
            }
            Miss::Thread { id } => {
                let thread = thread_entry(dict, id)?;
                self.threads
                    .insert(id, (thread.number, thread.name.map(Box::from)));
            }
        }
        Ok(())
    }
}

/// The entries of a cache, borrowed for the records decoded with them.
struct Cached<'a>(&'a DecodeCache);

impl<'a> Entries<'a> for Cached<'a> {
    fn callsite(&self, id: u32, what: &'static str) -> Result<(Meta<'a>, Names<'a>), Fail> {
        let cached = self
            .0
            .callsites
            .get(&id)
            .ok_or(Fail::Miss(Miss::Callsite { id, what }))?;
        Ok((cached.meta(), Names::Parsed(&cached.names)))
    }

    fn thread(&self, id: u32) -> Result<ThreadInfo<'a>, Fail> {
        let (number, name) = self
            .0
            .threads
            .get(&id)
            .ok_or(Fail::Miss(Miss::Thread { id }))?;
        Ok(ThreadInfo {
            number: *number,
            name: name.as_deref(),
        })
    }
}

/// Emptied buffers of decoded events, kept to decode the next ones into:
/// in steady state, decoding allocates nothing.
#[derive(Default)]
pub(crate) struct Spare {
    fields: Vec<(&'static str, Value<'static>)>,
    /// Kept as room for spans of the same size and alignment: a
    /// `SpanView` is not `Send` (its metadata may borrow a front end's names).
    spans: Vec<SpanRoom>,
    span_fields: Vec<Vec<(&'static str, Value<'static>)>>,
    args: Vec<Value<'static>>,
    message: String,
}

/// Room for one `SpanView`: words of its size (its alignment is a word's).
type SpanRoom = [usize; size_of::<SpanView<'static>>() / size_of::<usize>()];

impl Spare {
    /// Keeps the buffers of `decoded` for the next record.
    pub(crate) fn recycle(&mut self, decoded: Decoded<'_>) {
        let Decoded {
            mut spans,
            fields,
            args,
            message,
            ..
        } = decoded;
        self.fields = emptied(fields);
        self.args = emptied(args);
        if let Some(mut message) = message {
            message.clear();
            self.message = message;
        }
        for span in spans.drain(..) {
            if self.span_fields.len() < MAX_SPANS {
                self.span_fields.push(emptied(span.fields));
            }
        }
        self.spans = emptied(spans);
    }

    fn fields<'a>(&mut self) -> Vec<(&'a str, Value<'a>)> {
        emptied(std::mem::take(&mut self.fields))
    }

    fn args<'a>(&mut self) -> Vec<Value<'a>> {
        emptied(std::mem::take(&mut self.args))
    }

    fn message(&mut self) -> String {
        std::mem::take(&mut self.message)
    }

    fn span_fields<'a>(&mut self) -> Vec<(&'a str, Value<'a>)> {
        self.span_fields.pop().map(emptied).unwrap_or_default()
    }

    fn spans<'a>(&mut self) -> Vec<SpanView<'a>> {
        emptied(std::mem::take(&mut self.spans))
    }
}

/// `vec` emptied, as a vector of another type of the same size and
/// alignment (the same type for other lifetimes): std collects a vector's
/// `into_iter` in place, keeping its allocation.
fn emptied<T, U>(mut vec: Vec<T>) -> Vec<U> {
    vec.clear();
    vec.into_iter().filter_map(|_| None).collect()
}

fn decode_with<'a>(
    tag: u32,
    payload: &'a [u8],
    entries: &dyn Entries<'a>,
    spare: &mut Spare,
) -> Result<Decoded<'a>, Fail> {
    if tag < RESERVED_TAG_FIRST {
        return Err(DecodeError::NotAnEvent { tag }.into());
    }
    if tag != EVENT_TAG_V1 {
        return Err(DecodeError::UnknownVersion { tag }.into());
    }
    let mut r = Reader::new(payload, None);
    let kind = r.u8("the header")?;
    let level = r.level()?;
    let flags_at = r.at();
    let flags = r.u8("the header")?;
    let spans = r.u8("the header")?;
    let callsite = r.u32("the header")?;
    let time_ns = r.u64("the header")?;
    let thread_id = r.u32("the header")?;
    let pid = r.u32("the header")?;
    if flags & !FLAGS_KNOWN != 0 {
        return Err(DecodeError::UnknownFlags {
            at: flags_at,
            flags,
        }
        .into());
    }

    let (meta, meta_names) = match kind {
        KIND_EVENT if flags & FLAG_META_INLINE != 0 => {
            let meta = r.meta()?;
            (meta, Names::Wire(meta.field_names))
        }
        KIND_EVENT => entries.callsite(callsite, "the event's callsite")?,
        KIND_DROPPED => {
            if flags & FLAG_META_INLINE != 0 || spans != 0 {
                return Err(DecodeError::Invalid {
                    at: flags_at,
                    what: "a dropped record with metadata or spans",
                }
                .into());
            }
            (DROPPED_META, Names::Parsed(&[]))
        }
        kind => return Err(DecodeError::UnknownKind { kind }.into()),
    };
    let thread = if flags & FLAG_THREAD_INLINE != 0 {
        Some(ThreadInfo {
            number: r.u64("the thread number")?,
            name: None,
        })
    } else if thread_id != 0 {
        Some(entries.thread(thread_id)?)
    } else {
        None
    };

    if let KIND_DROPPED = kind {
        let count = r.u64("the dropped count")?;
        r.end("the dropped count")?;
        let mut fields = spare.fields();
        fields.push(("dropped", Value::U64(count)));
        return Ok(Decoded {
            kind: Kind::Dropped { count },
            level,
            time_ns,
            pid,
            thread,
            meta,
            spans: Vec::new(),
            fields,
            args: Vec::new(),
            message: None,
            truncated: flags & FLAG_TRUNCATED != 0,
        });
    }

    if let Some(format) = meta.format {
        if spans != 0 {
            return Err(DecodeError::Invalid {
                at: flags_at,
                what: "a format callsite's event with spans",
            }
            .into());
        }
        let truncated = flags & FLAG_TRUNCATED != 0;
        let mut args = spare.args();
        while r.left() > 0 {
            if args.len() == usize::from(format.slots) {
                return Err(DecodeError::Trailing {
                    at: r.at(),
                    what: "the event's arguments",
                    len: r.left(),
                }
                .into());
            }
            let at = r.at();
            let ty = r.u8("an argument type")?;
            args.push(decode_value(&mut r, ty, at)?);
        }
        if args.len() < usize::from(format.slots) && !truncated {
            return Err(DecodeError::Truncated {
                at: r.at(),
                what: "the event's arguments",
                need: usize::from(format.slots) - args.len(),
                left: 0,
            }
            .into());
        }
        let mut fields = spare.fields();
        match meta_names {
            Names::Parsed(parsed) => {
                fields.extend(parsed.iter().map(|name| &**name).zip(args.iter().copied()));
            }
            Names::Wire(wire) => fields.extend(wire.iter().zip(args.iter().copied())),
        }
        let mut message = spare.message();
        format_message(
            format.template,
            &args,
            usize::from(format.slots),
            &mut message,
        );
        return Ok(Decoded {
            kind: Kind::Event,
            level,
            time_ns,
            pid,
            thread,
            meta,
            spans: Vec::new(),
            fields,
            args,
            message: Some(message),
            truncated,
        });
    }

    // Scratch space for names in their wire form; allocates only for them.
    let mut names = Vec::new();
    let mut span_views = spare.spans();
    for _ in 0..spans {
        let at = r.at();
        let span_flags = r.u8("a span item")?;
        let id = r.u32("a span item")?;
        let (span_meta, span_names) = match span_flags {
            0 => entries.callsite(id, "a span's callsite")?,
            SPAN_META_INLINE => {
                let meta = r.meta()?;
                (meta, Names::Wire(meta.field_names))
            }
            flags => return Err(DecodeError::UnknownFlags { at, flags }.into()),
        };
        let len = r.u32("a span's fields")?;
        let mut fields_reader = r.sub(len as usize, "a span's fields")?;
        let mut fields = spare.span_fields();
        decode_fields(&mut fields_reader, span_names, &mut names, &mut fields)?;
        span_views.push(SpanView {
            meta: span_meta,
            fields,
        });
    }
    let mut fields = spare.fields();
    decode_fields(&mut r, meta_names, &mut names, &mut fields)?;
    Ok(Decoded {
        kind: Kind::Event,
        level,
        time_ns,
        pid,
        thread,
        meta,
        spans: span_views,
        fields,
        args: Vec::new(),
        message: None,
        truncated: flags & FLAG_TRUNCATED != 0,
    })
}

/// Formats a format callsite's message from its template and the slots the
/// record carried into `out`. A template that does not fit its slots (a
/// corrupt entry, or slots cut off by truncation) still gives a message:
/// as much as rendered, then what went wrong; the values stay in the fields.
/// `slots` counts every slot of the callsite; those past the ones the
/// record carried (it was truncated) render as nothing.
fn format_message(template: &str, args: &[Value<'_>], slots: usize, out: &mut String) {
    use crate::events::template::{self, Arg};
    let total = slots;
    let carried = args.iter().map(|value| {
        Some(match *value {
            Value::I8(v) => Arg::I8(v),
            Value::I16(v) => Arg::I16(v),
            Value::I32(v) => Arg::I32(v),
            Value::I64(v) => Arg::I64(v),
            Value::I128(v) => Arg::I128(v),
            Value::U64(v) => Arg::U64(v),
            Value::U128(v) => Arg::U128(v),
            Value::F32(v) => Arg::F32(v),
            Value::F64(v) => Arg::F64(v),
            Value::Bool(v) => Arg::Bool(v),
            Value::Char(v) => Arg::Char(v),
            Value::Str(v) => Arg::Str(v),
            Value::Bytes(v) => Arg::Bytes(v),
            Value::Debug(v) | Value::Error(v) => Arg::Text(v),
        })
    });
    let slots = carried.chain(std::iter::repeat(None)).take(total);
    // On the stack for the calls of most format strings; at most 65,535
    // slots otherwise: a bounded scratch list.
    const ON_STACK: usize = 16;
    let result = if total <= ON_STACK {
        let mut on_stack = [None; ON_STACK];
        for (slot, arg) in on_stack.iter_mut().zip(slots) {
            *slot = arg;
        }
        template::render(template, &on_stack[..total], out)
    } else {
        template::render(template, &slots.collect::<Vec<_>>(), out)
    };
    if let Err(error) = result {
        let _ = write!(out, " [logring: {error}]");
    }
}

fn callsite_entry<'a>(
    dict: &dyn Lookup<'a>,
    id: u32,
    what: &'static str,
) -> Result<Meta<'a>, DecodeError> {
    let bytes = dict
        .entry(id)
        .ok_or(DecodeError::MissingEntry { id, what })?;
    let mut r = Reader::new(bytes, Some(id));
    match r.u8("the entry kind")? {
        ENTRY_CALLSITE => {}
        kind => {
            return Err(DecodeError::WrongEntry {
                id,
                what: "a callsite",
                kind,
            });
        }
    }
    let meta = r.meta()?;
    r.end("the callsite")?;
    Ok(meta)
}

fn thread_entry<'a>(dict: &dyn Lookup<'a>, id: u32) -> Result<ThreadInfo<'a>, DecodeError> {
    let bytes = dict.entry(id).ok_or(DecodeError::MissingEntry {
        id,
        what: "the event's thread",
    })?;
    let mut r = Reader::new(bytes, Some(id));
    match r.u8("the entry kind")? {
        ENTRY_THREAD => {}
        kind => {
            return Err(DecodeError::WrongEntry {
                id,
                what: "a thread",
                kind,
            });
        }
    }
    // The writer's pid: the record's own is the one that counts (a forked
    // child may refer to its parent's entries).
    r.u32("the thread's pid")?;
    let number = r.u64("the thread number")?;
    let name = r.str16("the thread name")?;
    r.end("the thread")?;
    Ok(ThreadInfo {
        number,
        name: (!name.is_empty()).then_some(name),
    })
}

/// Decodes fields up to the end of `r`, naming them from `names`. `scratch`
/// is space for names in their wire form, split when an index needs one.
fn decode_fields<'a>(
    r: &mut Reader<'a>,
    names: Names<'a>,
    scratch: &mut Vec<&'a str>,
    out: &mut Vec<(&'a str, Value<'a>)>,
) -> Result<(), DecodeError> {
    let mut split = false;
    while r.left() > 0 {
        let at = r.at();
        let ty = r.u8("a field type")?;
        let name_at = r.at();
        let name = match r.u16("a field name")? {
            NAME_INLINE => r.str16("a field name")?,
            index => {
                let found = match names {
                    Names::Parsed(parsed) => parsed
                        .get(usize::from(index))
                        .map(|name| &**name)
                        .ok_or(parsed.len()),
                    Names::Wire(wire) => {
                        if !split {
                            scratch.clear();
                            // Bounded by the Meta block's own bytes (2 or
                            // more each).
                            scratch.extend(wire.iter());
                            split = true;
                        }
                        scratch
                            .get(usize::from(index))
                            .copied()
                            .ok_or(scratch.len())
                    }
                };
                found.map_err(|names| DecodeError::FieldIndex {
                    at: name_at,
                    index,
                    names,
                })?
            }
        };
        let value = decode_value(r, ty, at)?;
        out.push((name, value));
    }
    Ok(())
}

/// Decodes a value of type `ty` (read at `at`).
fn decode_value<'a>(r: &mut Reader<'a>, ty: u8, at: At) -> Result<Value<'a>, DecodeError> {
    Ok(match ty {
        TYPE_I64 => Value::I64(i64::from_le_bytes(r.array("an i64 value")?)),
        TYPE_U64 => Value::U64(u64::from_le_bytes(r.array("a u64 value")?)),
        TYPE_F64 => Value::F64(f64::from_le_bytes(r.array("an f64 value")?)),
        TYPE_BOOL => {
            let value_at = r.at();
            match r.u8("a bool value")? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                value => {
                    return Err(DecodeError::BadBool {
                        at: value_at,
                        value,
                    });
                }
            }
        }
        TYPE_STR => Value::Str(r.str32("a str value")?),
        TYPE_TEXT => Value::Debug(r.str32("a text value")?),
        TYPE_BYTES => Value::Bytes(r.blob32("a bytes value")?),
        TYPE_I128 => Value::I128(i128::from_le_bytes(r.array("an i128 value")?)),
        TYPE_U128 => Value::U128(u128::from_le_bytes(r.array("a u128 value")?)),
        TYPE_ERROR => Value::Error(r.str32("an error value")?),
        TYPE_CHAR => {
            let value_at = r.at();
            let value = r.u32("a char value")?;
            Value::Char(char::from_u32(value).ok_or(DecodeError::BadChar {
                at: value_at,
                value,
            })?)
        }
        TYPE_F32 => Value::F32(f32::from_le_bytes(r.array("an f32 value")?)),
        TYPE_I8 => Value::I8(i8::from_le_bytes(r.array("an i8 value")?)),
        TYPE_I16 => Value::I16(i16::from_le_bytes(r.array("an i16 value")?)),
        TYPE_I32 => Value::I32(i32::from_le_bytes(r.array("an i32 value")?)),
        ty => return Err(DecodeError::UnknownFieldType { at, ty }),
    })
}

/// Decodes `payload` with the dictionary `entries`, formats what comes out
/// (the decoded event with `{:?}`, or the error with `{}`), and checks that
/// an event that decodes encodes again (inline) to one that decodes the same.
/// For the fuzz targets.
#[cfg(fuzzing)]
pub fn fuzz_decode(tag: u32, payload: &[u8], entries: &[(u32, &[u8])]) -> String {
    struct Entries<'e, 'a>(&'e [(u32, &'a [u8])]);
    impl<'a> Lookup<'a> for Entries<'_, 'a> {
        fn entry(&self, id: u32) -> Option<&'a [u8]> {
            self.0.iter().find(|(key, _)| *key == id).map(|(_, e)| *e)
        }
    }
    match decode(tag, payload, &Entries(entries)) {
        Ok(decoded) => {
            let mut buf = vec![0u8; reencoded_len(&decoded)];
            let len = reencode(&decoded, &mut buf).expect("sized by reencoded_len");
            let again = decode(EVENT_TAG_V1, &buf[..len], &NoDictionary).expect("reencoded");
            assert_eq!(same_inline(&decoded), same_inline(&again));
            format!("{decoded:?}")
        }
        Err(error) => error.to_string(),
    }
}

/// A decoded event with its thread name dropped (an inline thread has
/// none), for comparing an event with its inline re-encoding.
#[cfg(any(test, fuzzing))]
fn same_inline<'a>(decoded: &Decoded<'a>) -> Decoded<'a> {
    let mut decoded = decoded.clone();
    if let Some(thread) = &mut decoded.thread {
        thread.name = None;
    }
    decoded
}

/// Bytes of `decoded` encoded again by [`reencode`].
#[cfg(any(test, fuzzing))]
fn reencoded_len(decoded: &Decoded<'_>) -> usize {
    let field_len = |(name, value): &(&str, Value<'_>)| {
        5 + name.len()
            + match value {
                Value::Bool(_) | Value::I8(_) => 1,
                Value::I16(_) => 2,
                Value::I32(_) | Value::F32(_) | Value::Char(_) => 4,
                Value::I64(_) | Value::U64(_) | Value::F64(_) => 8,
                Value::I128(_) | Value::U128(_) => 16,
                Value::Str(s) | Value::Debug(s) | Value::Error(s) => 4 + s.len(),
                Value::Bytes(b) => 4 + b.len(),
            }
    };
    HEADER_LEN
        + meta_len(&decoded.meta)
        + 8
        + 8
        + decoded
            .spans
            .iter()
            .map(|s| 9 + meta_len(&s.meta) + s.fields.iter().map(field_len).sum::<usize>())
            .sum::<usize>()
        + decoded.fields.iter().map(field_len).sum::<usize>()
        + decoded
            .args
            .iter()
            .map(|v| field_len(&("", *v)))
            .sum::<usize>()
}

/// Encodes `decoded` again, every callsite, thread and field name inline.
#[cfg(any(test, fuzzing))]
fn reencode(decoded: &Decoded<'_>, buf: &mut [u8]) -> Result<usize, Overflow> {
    fn fields<S: FieldSink>(sink: &mut S, fields: &[(&str, Value<'_>)]) {
        for &(name, value) in fields {
            value_into(sink, FieldName::Name(name), value);
        }
    }
    fn value_into<S: FieldSink>(sink: &mut S, name: FieldName<'_>, value: Value<'_>) {
        {
            match value {
                Value::I64(v) => sink.i64(name, v),
                Value::U64(v) => sink.u64(name, v),
                Value::F64(v) => sink.f64(name, v),
                Value::Bool(v) => sink.bool(name, v),
                Value::Str(v) => sink.str(name, v),
                Value::Debug(v) => sink.args(name, format_args!("{v}")),
                Value::Bytes(v) => sink.bytes(name, v),
                Value::I128(v) => sink.i128(name, v),
                Value::U128(v) => sink.u128(name, v),
                Value::Error(v) => put_text(sink, TYPE_ERROR, name, format_args!("{v}")),
                Value::I8(v) => sink.i8(name, v),
                Value::I16(v) => sink.i16(name, v),
                Value::I32(v) => sink.i32(name, v),
                Value::F32(v) => sink.f32(name, v),
                Value::Char(v) => sink.char(name, v),
            }
        }
    }
    let thread = match decoded.thread {
        Some(thread) => ThreadRef::Inline(thread.number),
        None => ThreadRef::Unknown,
    };
    if let Kind::Dropped { count } = decoded.kind {
        let len = encode_dropped(buf, decoded.time_ns, decoded.pid, thread, count)?;
        if decoded.truncated {
            buf[OFF_FLAGS] |= FLAG_TRUNCATED;
        }
        buf[OFF_LEVEL] = decoded.level as u8;
        return Ok(len);
    }
    let mut encoder = Encoder::new(buf);
    encoder.event(&EventHeader {
        level: decoded.level,
        time_ns: decoded.time_ns,
        pid: decoded.pid,
        callsite: CallsiteRef::Inline(&decoded.meta),
        thread,
    });
    for span in &decoded.spans {
        let mut span_fields = EncodeBuf::new();
        fields(&mut span_fields, &span.fields);
        encoder.span(CallsiteRef::Inline(&span.meta), span_fields.as_bytes());
    }
    if decoded.meta.format.is_some() {
        for &value in &decoded.args {
            value_into(&mut encoder, FieldName::Slot, value);
        }
    } else {
        fields(&mut encoder, &decoded.fields);
    }
    let len = encoder.finish()?;
    if decoded.truncated {
        encoder.truncate_to_fields();
    }
    Ok(len)
}

#[cfg(test)]
mod tests;
