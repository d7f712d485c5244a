//! The queue's errors: one type per operation, each saying what the caller
//! can do next.

use std::fmt;

use crate::error::CorruptRing;

/// A producer's [`try_claim`](super::spsc::Producer::try_claim) or
/// [`try_send`](super::spsc::Producer::try_send) was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimError {
    /// Not enough free space right now; the consumer will make room. Retry
    /// later or drop the record (the ring counts the rejection either way,
    /// in `full_rejections`).
    Full,
    /// The record can never fit in this ring, however empty: `len` is above
    /// `max`, the ring's maximum record length. Retrying cannot succeed.
    TooLarge {
        /// The payload length asked for.
        len: usize,
        /// The ring's maximum payload length.
        max: usize,
    },
    /// The ring's shared positions are impossible (a damaged ring file):
    /// no claim can be placed safely. Retrying cannot succeed.
    Corrupt(CorruptRing),
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ClaimError::Full => f.write_str("ring is full"),
            ClaimError::TooLarge { len, max } => write!(
                f,
                "record of {len} bytes exceeds the ring's maximum record length of {max} bytes"
            ),
            ClaimError::Corrupt(corrupt) => corrupt.fmt(f),
        }
    }
}

impl std::error::Error for ClaimError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClaimError::Corrupt(corrupt) => Some(corrupt),
            _ => None,
        }
    }
}

/// The consumer's [`try_recv`](super::Consumer::try_recv) (or
/// [`try_recv_batch`](super::Consumer::try_recv_batch)) found no record.
///
/// A record is never dropped by accident: `try_recv` and the
/// [`ReadClaim`](super::ReadClaim) it returns are `#[must_use]`, so
/// ignoring either is a warning (an error here):
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// let (mut producer, mut consumer) = logring::queue::spsc::new(1024).unwrap();
/// producer.try_send(b"kept").unwrap();
/// consumer.try_recv().unwrap(); // would release the record unread
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryRecvError {
    /// No committed record is ready now. (The queue does not track its
    /// ends: the channels add `Disconnected`.)
    Empty,
    /// The consumer found a record word no producer writes: every record
    /// before it was delivered, none after it can be, and every later
    /// receive reports the same (see
    /// [`Consumer::corruption`](super::Consumer::corruption)).
    Corrupt(CorruptRing),
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receiving on an empty queue"),
            TryRecvError::Corrupt(corrupt) => corrupt.fmt(f),
        }
    }
}

impl std::error::Error for TryRecvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TryRecvError::Corrupt(corrupt) => Some(corrupt),
            TryRecvError::Empty => None,
        }
    }
}

impl From<CorruptRing> for TryRecvError {
    fn from(corrupt: CorruptRing) -> Self {
        TryRecvError::Corrupt(corrupt)
    }
}
