//! The channels' errors: one type per operation, each saying what the
//! caller can do next (the model is crossbeam-channel's `err.rs`).

use std::fmt;

use crate::error::CorruptRing;
use crate::queue::{self, ClaimError};

/// A channel sender's [`claim`](super::spsc::Sender::claim),
/// [`send`](super::spsc::Sender::send) or their `try_` forms failed (and
/// the `try_` forms of the async senders).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The ring stayed full for the sender's whole spin budget (`claim`,
    /// `send`), or was full (`try_claim`, `try_send`). Nothing was taken;
    /// retry later or drop the record. Counted once per failed call in the
    /// ring's `full_rejections`.
    Full,
    /// The record can never fit: `len` is above `max`, the ring's maximum
    /// record length. Returned at once; retrying cannot succeed.
    TooLarge {
        /// The payload length asked for.
        len: usize,
        /// The ring's maximum payload length.
        max: usize,
    },
    /// The receiver is gone: nothing sent now would ever be read. (Never on
    /// a ring file, whose records wait for the next consumer.)
    Disconnected,
    /// The ring's shared positions are impossible (a damaged ring file): no
    /// claim can be placed safely. Retrying cannot succeed.
    Corrupt(CorruptRing),
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
            SendError::Corrupt(corrupt) => corrupt.fmt(f),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SendError::Corrupt(corrupt) => Some(corrupt),
            _ => None,
        }
    }
}

impl From<ClaimError> for SendError {
    fn from(error: ClaimError) -> Self {
        match error {
            ClaimError::Full => SendError::Full,
            ClaimError::TooLarge { len, max } => SendError::TooLarge { len, max },
            ClaimError::Corrupt(corrupt) => SendError::Corrupt(corrupt),
        }
    }
}

/// A blocking [`recv`](super::Receiver::recv) (or `recv_batch`,
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

impl std::error::Error for RecvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecvError::Corrupt(corrupt) => Some(corrupt),
            _ => None,
        }
    }
}

impl From<CorruptRing> for RecvError {
    fn from(corrupt: CorruptRing) -> Self {
        RecvError::Corrupt(corrupt)
    }
}

/// What every receive error says for [`RecvError::Disconnected`] and its
/// counterparts.
const DISCONNECTED: &str = "receiving on an empty and disconnected channel";

/// [`try_recv`](super::Receiver::try_recv) (or `try_recv_batch`)
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

impl std::error::Error for TryRecvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TryRecvError::Corrupt(corrupt) => Some(corrupt),
            _ => None,
        }
    }
}

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

/// [`recv_timeout`](super::Receiver::recv_timeout) (or
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

impl std::error::Error for RecvTimeoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecvTimeoutError::Corrupt(corrupt) => Some(corrupt),
            _ => None,
        }
    }
}

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

impl From<queue::TryRecvError> for TryRecvError {
    fn from(error: queue::TryRecvError) -> Self {
        match error {
            queue::TryRecvError::Corrupt(corrupt) => TryRecvError::Corrupt(corrupt),
            _ => TryRecvError::Empty,
        }
    }
}
