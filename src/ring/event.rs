// STAND-IN: the whole file. The event record codec (its layout drawing, the
// encoder and the real decoder) replaces it; this holds only the decoder's
// names as the wire plan gives them, and a small decoder of version-1
// records, so that the event writer and `logring tail` can be built and
// tested against them.

//! The event record payload, version 1 (stand-in decoder).

#![allow(dead_code)]

use std::fmt;
use std::ops::RangeInclusive;

use crate::events::Level;

/// STAND-IN: lives in `ring::layout` once the reserved tags are in the ring
/// format.
pub(crate) const RESERVED_TAGS: RangeInclusive<u32> = 0xFFFF_FF00..=0xFFFF_FFFF;

/// An event record of encoding version 1.
pub(crate) const EVENT_TAG_V1: u32 = 0xFFFF_FF01;

const META_INLINE: u8 = 1;
const THREAD_INLINE: u8 = 2;
const TRUNCATED: u8 = 4;

/// Where the decoder finds dictionary entries by id.
pub(crate) trait Lookup<'a> {
    fn entry(&self, id: u32) -> Option<&'a [u8]>;
}

pub(crate) enum Kind {
    Event,
    Dropped { count: u64 },
}

pub(crate) struct ThreadInfo<'a> {
    pub number: u64,
    pub name: Option<&'a str>,
}

#[derive(Default)]
pub(crate) struct Meta<'a> {
    pub name: &'a str,
    pub target: &'a str,
    pub module_path: Option<&'a str>,
    pub file: Option<&'a str>,
    pub line: Option<u32>,
    pub field_names: Vec<&'a str>,
}

pub(crate) struct SpanView<'a> {
    pub meta: Meta<'a>,
    pub fields: Vec<(&'a str, Value<'a>)>,
}

pub(crate) struct Decoded<'a> {
    pub kind: Kind,
    pub level: Level,
    pub time_ns: u64,
    pub pid: u32,
    pub thread: Option<ThreadInfo<'a>>,
    pub meta: Meta<'a>,
    pub spans: Vec<SpanView<'a>>,
    pub fields: Vec<(&'a str, Value<'a>)>,
    pub truncated: bool,
}

#[derive(Clone, Copy)]
pub(crate) enum Value<'a> {
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Str(&'a str),
    Debug(&'a str),
    Bytes(&'a [u8]),
    I128(i128),
    U128(u128),
    Error(&'a str),
}

/// Why a record does not decode.
#[derive(Debug)]
pub(crate) enum DecodeError {
    UnknownVersion(u32),
    Truncated(usize),
    Malformed(&'static str),
    MissingEntry(u32),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::UnknownVersion(tag) => {
                write!(f, "an event of an unknown encoding (tag {tag:#010x})")
            }
            DecodeError::Truncated(at) => write!(f, "truncated at byte {at}"),
            DecodeError::Malformed(what) => write!(f, "malformed {what}"),
            DecodeError::MissingEntry(id) => write!(f, "missing dictionary entry {id}"),
        }
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(DecodeError::Truncated(self.at))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn text(&mut self, len: usize) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.take(len)?).map_err(|_| DecodeError::Malformed("UTF-8"))
    }

    fn str16(&mut self) -> Result<&'a str, DecodeError> {
        let len = self.u16()?;
        self.text(len.into())
    }

    fn str32(&mut self) -> Result<&'a str, DecodeError> {
        let len = self.u32()?;
        self.text(len as usize)
    }

    fn rest(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn meta(&mut self) -> Result<Meta<'a>, DecodeError> {
        let _level = self.u8()?;
        let _kind = self.u8()?;
        let nfields = self.u16()?;
        let line = self.u32()?;
        let name = self.str16()?;
        let target = self.str16()?;
        let module_path = Some(self.str16()?).filter(|s| !s.is_empty());
        let file = Some(self.str16()?).filter(|s| !s.is_empty());
        let mut field_names = Vec::new();
        for _ in 0..nfields {
            field_names.push(self.str16()?);
        }
        Ok(Meta {
            name,
            target,
            module_path,
            file,
            line: (line != 0).then_some(line),
            field_names,
        })
    }

    fn fields(&mut self, names: &[&'a str]) -> Result<Vec<(&'a str, Value<'a>)>, DecodeError> {
        let mut fields = Vec::new();
        while self.rest() > 0 {
            let kind = self.u8()?;
            let name = match self.u16()? {
                0xFFFF => self.str16()?,
                index => *names
                    .get(usize::from(index))
                    .ok_or(DecodeError::Malformed("field name index"))?,
            };
            let value = match kind {
                1 => Value::I64(self.u64()? as i64),
                2 => Value::U64(self.u64()?),
                3 => Value::F64(f64::from_bits(self.u64()?)),
                4 => Value::Bool(self.u8()? != 0),
                5 => Value::Str(self.str32()?),
                6 => Value::Debug(self.str32()?),
                7 => {
                    let len = self.u32()?;
                    Value::Bytes(self.take(len as usize)?)
                }
                8 => Value::I128(i128::from_le_bytes(self.array()?)),
                9 => Value::U128(u128::from_le_bytes(self.array()?)),
                10 => Value::Error(self.str32()?),
                _ => return Err(DecodeError::Malformed("field type")),
            };
            fields.push((name, value));
        }
        Ok(fields)
    }
}

fn level(byte: u8) -> Result<Level, DecodeError> {
    Ok(match byte {
        1 => Level::Trace,
        2 => Level::Debug,
        3 => Level::Info,
        4 => Level::Warn,
        5 => Level::Error,
        _ => return Err(DecodeError::Malformed("level")),
    })
}

fn callsite<'a>(id: u32, dict: &dyn Lookup<'a>) -> Result<Meta<'a>, DecodeError> {
    let entry = dict.entry(id).ok_or(DecodeError::MissingEntry(id))?;
    let mut cursor = Cursor {
        bytes: entry,
        at: 0,
    };
    if cursor.u8()? != 1 {
        return Err(DecodeError::Malformed("callsite entry"));
    }
    cursor.meta()
}

/// Decodes the event record `payload` of tag `tag`.
pub(crate) fn decode<'a>(
    tag: u32,
    payload: &'a [u8],
    dict: &dyn Lookup<'a>,
) -> Result<Decoded<'a>, DecodeError> {
    if tag != EVENT_TAG_V1 {
        return Err(DecodeError::UnknownVersion(tag));
    }
    let mut cursor = Cursor {
        bytes: payload,
        at: 0,
    };
    let kind = cursor.u8()?;
    let level = level(cursor.u8()?)?;
    let flags = cursor.u8()?;
    let spans = cursor.u8()?;
    let callsite_id = cursor.u32()?;
    let time_ns = cursor.u64()?;
    let thread_id = cursor.u32()?;
    let pid = cursor.u32()?;
    let meta = if flags & META_INLINE != 0 {
        cursor.meta()?
    } else {
        callsite(callsite_id, dict)?
    };
    let thread = if flags & THREAD_INLINE != 0 {
        Some(ThreadInfo {
            number: cursor.u64()?,
            name: None,
        })
    } else if thread_id != 0 {
        let entry = dict
            .entry(thread_id)
            .ok_or(DecodeError::MissingEntry(thread_id))?;
        let mut entry = Cursor {
            bytes: entry,
            at: 0,
        };
        if entry.u8()? != 2 {
            return Err(DecodeError::Malformed("thread entry"));
        }
        let _pid = entry.u32()?;
        let number = entry.u64()?;
        let name = Some(entry.str16()?).filter(|s| !s.is_empty());
        Some(ThreadInfo { number, name })
    } else {
        None
    };
    let mut span_views = Vec::new();
    for _ in 0..spans {
        let span_flags = cursor.u8()?;
        let id = cursor.u32()?;
        let meta = if span_flags & META_INLINE != 0 {
            cursor.meta()?
        } else {
            callsite(id, dict)?
        };
        let len = cursor.u32()?;
        let mut fields = Cursor {
            bytes: cursor.take(len as usize)?,
            at: 0,
        };
        let fields = fields.fields(&meta.field_names)?;
        span_views.push(SpanView { meta, fields });
    }
    let (kind, fields) = match kind {
        1 => {
            let names = meta.field_names.clone();
            (Kind::Event, cursor.fields(&names)?)
        }
        2 => {
            let count = cursor.u64()?;
            if cursor.rest() != 0 {
                return Err(DecodeError::Malformed("dropped record"));
            }
            (Kind::Dropped { count }, Vec::new())
        }
        _ => return Err(DecodeError::Malformed("record kind")),
    };
    Ok(Decoded {
        kind,
        level,
        time_ns,
        pid,
        thread,
        meta,
        spans: span_views,
        fields,
        truncated: flags & TRUNCATED != 0,
    })
}
