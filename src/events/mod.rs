//! Log events: what the `tracing` and `log` front ends write into a ring,
//! and how any reader decodes it.
//!
//! An event is an ordinary ring record, marked as an event by a tag of the
//! range logring reserves for itself; its payload is a compact binary
//! encoding that refers to a dictionary kept with the ring for what never
//! changes per callsite. Plain records (anything else) pass through as
//! they are.
//!
//! Two readers decode them, through one module: the [`Writer`] thread, in
//! the process that logs, and `logring tail`, in any other
//! ([`Decoder`] is what both use).

mod decoder;
mod plain;
pub(crate) mod render;
mod writer;

pub use decoder::{Decoder, Format};
pub use writer::Writer;

// STAND-IN: the codec's `Level` (with its `as_str`, `FromStr` and
// conversions) replaces this.
/// The severity of an event, from the least to the most severe.
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
    /// The level's name in capitals.
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
