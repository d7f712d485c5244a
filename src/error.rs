//! Errors: one type per operation, each saying what the caller can do next.

use std::fmt;

/// Building a ring failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The capacity is below the smallest ring this crate builds.
    CapacityTooSmall {
        /// The capacity asked for, in bytes.
        requested: usize,
        /// The smallest capacity accepted, in bytes.
        min: usize,
    },
    /// The capacity, rounded up to a power of two, is above the largest ring
    /// this crate builds (or does not fit in a `usize` at all).
    CapacityTooLarge {
        /// The capacity asked for, in bytes.
        requested: usize,
        /// The largest capacity accepted, in bytes.
        max: usize,
    },
    /// The allocator could not provide the ring's memory.
    OutOfMemory {
        /// Bytes asked of the allocator (header and data area).
        bytes: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::CapacityTooSmall { requested, min } => {
                write!(
                    f,
                    "ring capacity {requested} bytes is below the minimum of {min} bytes"
                )
            }
            Error::CapacityTooLarge { requested, max } => {
                write!(
                    f,
                    "ring capacity {requested} bytes is above the maximum of {max} bytes"
                )
            }
            Error::OutOfMemory { bytes } => {
                write!(f, "could not allocate {bytes} bytes for the ring")
            }
        }
    }
}

impl std::error::Error for Error {}

/// A producer's claim was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimError {
    /// Not enough free space right now; the consumer will make room. Retry later
    /// or drop the record (the ring counts the rejection either way).
    Full,
    /// The record can never fit in this ring, however empty: `len` is above
    /// `max`, the ring's maximum record length. Retrying cannot succeed.
    TooLarge {
        /// The payload length asked for.
        len: usize,
        /// The ring's maximum payload length.
        max: usize,
    },
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ClaimError::Full => f.write_str("ring is full"),
            ClaimError::TooLarge { len, max } => write!(
                f,
                "record of {len} bytes exceeds the ring's maximum record length of {max} bytes"
            ),
        }
    }
}

impl std::error::Error for ClaimError {}

/// The consumer found a record word that no producer writes: the ring's memory
/// was corrupted (by a foreign writer, a truncated file, or a bug). The
/// consumer stops at that position and delivers nothing past it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CorruptRing {
    /// Free-running position of the bad record word.
    pub position: u64,
    /// The raw record word found there.
    pub word: u64,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for CorruptRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "corrupt ring: record word {:#018x} at position {}: {}",
            self.word, self.position, self.reason
        )
    }
}

impl std::error::Error for CorruptRing {}
