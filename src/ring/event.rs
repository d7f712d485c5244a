//! Event records: the decoder's output types.
//!
//! Only the types the renderers read are here: what `decode` returns for one
//! event record, borrowing the record and the dictionary. The wire layout, the
//! encoder and the decoder live beside them.

// The renderers and their tests are the only readers so far; `logring tail`
// and the in-process writer read them too.
#![cfg_attr(not(test), allow(dead_code))]

use std::fmt;

/// The level of an event, as `tracing` and `log` name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very verbose detail.
    Trace = 1,
    /// Detail for debugging.
    Debug = 2,
    /// Normal operation.
    Info = 3,
    /// Something unexpected that the program handled.
    Warn = 4,
    /// A failure.
    Error = 5,
}

/// What a record is: an event, or the count of events that found no room.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kind {
    Event,
    Dropped { count: u64 },
}

/// The thread that wrote an event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ThreadInfo<'a> {
    /// The number in std's `ThreadId(N)`.
    pub number: u64,
    /// `None` when the thread has no name.
    pub name: Option<&'a str>,
}

/// What never changes per callsite.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Meta<'a> {
    pub name: &'a str,
    pub target: &'a str,
    pub module_path: Option<&'a str>,
    pub file: Option<&'a str>,
    pub line: Option<u32>,
    pub field_names: Vec<&'a str>,
}

/// One span of an event's chain: its callsite and the values of its fields.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SpanView<'a> {
    pub meta: Meta<'a>,
    pub fields: Vec<(&'a str, Value<'a>)>,
}

/// One decoded event record.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Decoded<'a> {
    pub kind: Kind,
    pub level: Level,
    pub time_ns: u64,
    pub pid: u32,
    pub thread: Option<ThreadInfo<'a>>,
    pub meta: Meta<'a>,
    /// Root first.
    pub spans: Vec<SpanView<'a>>,
    pub fields: Vec<(&'a str, Value<'a>)>,
    pub truncated: bool,
}

/// A field's value, as the encoder wrote it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Value<'a> {
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Str(&'a str),
    /// The value formatted with `{:?}` (or `{}` for `%value` and a message's
    /// `fmt::Arguments`).
    Debug(&'a str),
    Bytes(&'a [u8]),
    I128(i128),
    U128(u128),
    /// An error's `Display`.
    Error(&'a str),
}

/// Why a record does not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// A reserved tag of an encoding this build does not know.
    UnknownVersion { tag: u32 },
    /// A dictionary entry the record refers to is missing.
    MissingEntry { id: u32 },
    /// The bytes do not follow the layout; names the part that does not.
    Malformed { what: &'static str },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownVersion { tag } => {
                write!(f, "an event of an unknown encoding, tag {tag:#x}")
            }
            Self::MissingEntry { id } => write!(f, "dictionary entry {id} is missing"),
            Self::Malformed { what } => write!(f, "malformed {what}"),
        }
    }
}
