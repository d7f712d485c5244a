//! The async ends' own error: a send that waits for room cannot find the
//! ring full. Their other operations share the channels' errors.

use std::fmt;

use crate::channel::SendError;
use crate::error::CorruptRing;

/// An async sender's awaited [`claim`](super::spsc::Sender::claim) or
/// [`send`](super::spsc::Sender::send) failed. It waits while the ring is
/// full, so unlike [`SendError`] it has no `Full`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AsyncSendError {
    /// The record can never fit: `len` is above `max`, the ring's maximum
    /// record length. Returned at once; retrying cannot succeed.
    TooLarge {
        /// The payload length asked for.
        len: usize,
        /// The ring's maximum payload length.
        max: usize,
    },
    /// The receiver is gone, before or while the sender waited: nothing sent
    /// now would ever be read. (Never on a ring file, whose records wait for
    /// the next consumer.)
    Disconnected,
    /// The ring's shared positions are impossible (a damaged ring file): no
    /// claim can be placed safely. Retrying cannot succeed.
    Corrupt(CorruptRing),
}

impl fmt::Display for AsyncSendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AsyncSendError::TooLarge { len, max } => SendError::TooLarge { len, max }.fmt(f),
            AsyncSendError::Disconnected => SendError::Disconnected.fmt(f),
            AsyncSendError::Corrupt(corrupt) => corrupt.fmt(f),
        }
    }
}

impl std::error::Error for AsyncSendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AsyncSendError::Corrupt(corrupt) => Some(corrupt),
            _ => None,
        }
    }
}

impl From<AsyncSendError> for SendError {
    fn from(error: AsyncSendError) -> Self {
        match error {
            AsyncSendError::TooLarge { len, max } => SendError::TooLarge { len, max },
            AsyncSendError::Disconnected => SendError::Disconnected,
            AsyncSendError::Corrupt(corrupt) => SendError::Corrupt(corrupt),
        }
    }
}
