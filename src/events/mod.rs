//! Log events: what the `tracing` and `log` front ends write into a ring, and
//! how any reader decodes it.
//!
//! An event is an ordinary ring record, marked as an event by a tag of the
//! range logring reserves for itself; its payload is a compact binary
//! encoding (laid out in the crate's `ring::event` module) that refers to a
//! dictionary kept with the ring for what never changes per callsite.
//! Plain records (anything else) pass through as they are.
//!
//! Two readers decode them, through one module: the [`Writer`] thread, in
//! the process that logs, and `logring tail`, in any other ([`Decoder`] is
//! what both use).

use std::fmt;
use std::str::FromStr;

#[cfg(any(feature = "tracing", feature = "log"))]
pub(crate) mod emit;

mod decoder;
// A stub of the macros' runtime, to be replaced by the real one.
#[cfg(feature = "macros")]
pub(crate) mod macros_stub;
mod plain;
pub(crate) mod render;
mod writer;

pub use decoder::{Decoder, Format};
pub use writer::Writer;

/// What a front end does with an event that finds the ring full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FullPolicy {
    /// Try once: drop the event and count it (the default). The next event
    /// that finds room writes "N events dropped" first (or, if none comes,
    /// the reader prints it once it finds the ring empty: see
    /// [`Decoder::drop_notice`]). The calling thread never waits.
    #[default]
    Drop,
    /// Retry a full ring for the sender's spin budget
    /// ([`SpinPolicy`](crate::channel::SpinPolicy)), then drop and count.
    /// Never sleeps.
    Spin,
}

/// `true` if a record's tag marks it as one of logring's event records
/// (of any encoding version): decode it with [`Writer`] or `logring tail`.
pub fn is_event(tag: u32) -> bool {
    tag >= crate::ring::event::RESERVED_TAG_FIRST
}

#[cfg(fuzzing)]
#[doc(hidden)]
pub use crate::ring::event::fuzz_decode;

/// The severity of an event, from the least to the most severe.
///
/// The order is by severity (`Trace < Error`), as the names' order reads;
/// note that `tracing` orders its levels by verbosity, the other way round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very verbose detail.
    Trace = 1,
    /// Information useful while debugging.
    Debug = 2,
    /// What the program does, in normal operation.
    Info = 3,
    /// Something unexpected that the program handled.
    Warn = 4,
    /// Something failed.
    Error = 5,
}

impl Level {
    /// Every level, from the least to the most severe.
    pub const ALL: [Level; 5] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
    ];

    /// The level's name in capitals, as the text and JSON outputs print it:
    /// `"TRACE"`, `"DEBUG"`, `"INFO"`, `"WARN"` or `"ERROR"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

impl fmt::Display for Level {
    /// The name in capitals; padding and alignment (`{:>5}`) apply.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A string that names no [`Level`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseLevelError {
    _private: (),
}

impl fmt::Display for ParseLevelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a level: expected one of trace, debug, info, warn, error")
    }
}

impl std::error::Error for ParseLevelError {}

impl FromStr for Level {
    type Err = ParseLevelError;

    /// A level's name in any case (`"info"`, `"INFO"`, `"Info"`).
    fn from_str(s: &str) -> Result<Level, ParseLevelError> {
        Level::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(s))
            .ok_or(ParseLevelError { _private: () })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_in_any_case() {
        for level in Level::ALL {
            assert_eq!(level.to_string(), level.as_str());
            assert_eq!(level.as_str().parse::<Level>(), Ok(level));
            assert_eq!(level.as_str().to_lowercase().parse::<Level>(), Ok(level));
        }
        assert_eq!("Warn".parse::<Level>(), Ok(Level::Warn));
        assert!("warning".parse::<Level>().is_err());
        assert!("".parse::<Level>().is_err());
        assert_eq!(format!("{:>5}|", Level::Info), " INFO|");
    }

    #[test]
    fn levels_order_by_severity() {
        assert!(Level::Trace < Level::Debug);
        assert!(Level::Warn < Level::Error);
    }
}
