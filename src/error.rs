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

/// A channel [`send`](crate::channel::spsc::Sender::send) (or `try_send`,
/// `send_bytes`) failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The ring stayed full for the whole spin budget (`send`), or was full
    /// (`try_send`). Nothing was taken; retry later or drop the record. Counted
    /// once per failed call in the ring's `full_rejections`.
    Full,
    /// The record can never fit: `len` is above `max`, the ring's maximum
    /// record length. Returned at once; retrying cannot succeed.
    TooLarge {
        /// The payload length asked for.
        len: usize,
        /// The ring's maximum payload length.
        max: usize,
    },
    /// The receiver is gone: nothing sent now would ever be read.
    Disconnected,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SendError::Full => f.write_str("sending on a full channel"),
            SendError::TooLarge { len, max } => write!(
                f,
                "record of {len} bytes exceeds the channel's maximum record length of {max} bytes"
            ),
            SendError::Disconnected => f.write_str("sending on a disconnected channel"),
        }
    }
}

impl std::error::Error for SendError {}

impl From<ClaimError> for SendError {
    fn from(error: ClaimError) -> Self {
        match error {
            ClaimError::Full => SendError::Full,
            ClaimError::TooLarge { len, max } => SendError::TooLarge { len, max },
        }
    }
}

/// A blocking [`recv`](crate::channel::Receiver::recv) (or `recv_batch`,
/// or the async `recv`) failed: the channel ended, or its ring is corrupt.
///
/// The two call for different actions, so they are told apart: the end of
/// the stream is the normal way out of a receive loop, while corruption
/// means records were lost at [`CorruptRing::position`] and nothing past
/// it can be received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecvError {
    /// Every sender is gone and every record they committed has been
    /// received.
    Disconnected,
    /// The receiver found a record word no producer writes: the records
    /// before it were delivered, none after it can be. Every later receive
    /// reports the same.
    Corrupt(CorruptRing),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Disconnected => f.write_str(DISCONNECTED),
            RecvError::Corrupt(corrupt) => corrupt.fmt(f),
        }
    }
}

impl std::error::Error for RecvError {}

impl From<CorruptRing> for RecvError {
    fn from(corrupt: CorruptRing) -> Self {
        RecvError::Corrupt(corrupt)
    }
}

/// What every receive error says for [`RecvError::Disconnected`] and its
/// counterparts.
const DISCONNECTED: &str = "receiving on an empty and disconnected channel";

/// [`try_recv`](crate::channel::Receiver::try_recv) (or `try_recv_batch`)
/// found no record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryRecvError {
    /// No record is ready now, and senders are still connected.
    Empty,
    /// Every sender is gone and every record they committed has been received.
    Disconnected,
    /// The ring is corrupt at the position given: as
    /// [`RecvError::Corrupt`].
    Corrupt(CorruptRing),
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receiving on an empty channel"),
            TryRecvError::Disconnected => f.write_str(DISCONNECTED),
            TryRecvError::Corrupt(corrupt) => corrupt.fmt(f),
        }
    }
}

impl std::error::Error for TryRecvError {}

impl From<RecvError> for TryRecvError {
    fn from(error: RecvError) -> Self {
        match error {
            RecvError::Disconnected => TryRecvError::Disconnected,
            RecvError::Corrupt(corrupt) => TryRecvError::Corrupt(corrupt),
        }
    }
}

impl From<CorruptRing> for TryRecvError {
    fn from(corrupt: CorruptRing) -> Self {
        TryRecvError::Corrupt(corrupt)
    }
}

/// [`recv_timeout`](crate::channel::Receiver::recv_timeout) (or
/// `recv_deadline`, `recv_batch_timeout`) found no record in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecvTimeoutError {
    /// The deadline passed with no record ready; senders are still connected.
    Timeout,
    /// Every sender is gone and every record they committed has been received.
    Disconnected,
    /// The ring is corrupt at the position given: as
    /// [`RecvError::Corrupt`].
    Corrupt(CorruptRing),
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("timed out waiting on a channel"),
            RecvTimeoutError::Disconnected => f.write_str(DISCONNECTED),
            RecvTimeoutError::Corrupt(corrupt) => corrupt.fmt(f),
        }
    }
}

impl std::error::Error for RecvTimeoutError {}

impl From<RecvError> for RecvTimeoutError {
    fn from(error: RecvError) -> Self {
        match error {
            RecvError::Disconnected => RecvTimeoutError::Disconnected,
            RecvError::Corrupt(corrupt) => RecvTimeoutError::Corrupt(corrupt),
        }
    }
}

impl From<CorruptRing> for RecvTimeoutError {
    fn from(corrupt: CorruptRing) -> Self {
        RecvTimeoutError::Corrupt(corrupt)
    }
}
