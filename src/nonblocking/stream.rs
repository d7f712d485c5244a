//! The receiver as a `futures_core::Stream`, of owned copies.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};

use super::{Receiver, RecvError};
use crate::error::CorruptRing;

/// The records of a [`Receiver`] as a [`Stream`] of owned copies, for
/// combinators (`map`, `filter`, `try_collect`, `forward`, …): each item is
/// `Ok` with the record's payload copied into a new `Vec<u8>`, and the
/// record is released at once.
///
/// The stream ends (`None`) where `recv` would report
/// [`RecvError::Disconnected`]. A corrupt ring is an item of its own,
/// `Err(`[`CorruptRing`]`)`, naming the position, after the records before
/// it; the stream ends after it. Being an item, it cannot be taken for the
/// end of the stream: a `while let Some(Ok(..))` loop must look at what
/// stopped it, and `TryStreamExt` combinators (`try_next`, `try_collect`,
/// `try_for_each`) return it as their error.
///
/// That copy (and allocation) per record is what the in-place
/// [`Receiver::recv`] avoids, and the record's tag is not carried; use
/// `recv` or [`recv_batch`](Receiver::recv_batch) where that matters.
pub struct RecordStream {
    receiver: Receiver,
    done: bool,
}

impl RecordStream {
    pub(super) fn new(receiver: Receiver) -> Self {
        Self {
            receiver,
            done: false,
        }
    }

    /// The receiver back, to read in place again.
    pub fn into_inner(self) -> Receiver {
        self.receiver
    }
}

impl Stream for RecordStream {
    type Item = Result<Vec<u8>, CorruptRing>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match this.receiver.poll_recv(cx) {
            Poll::Ready(Ok(record)) => Poll::Ready(Some(Ok(record.to_vec()))),
            Poll::Ready(Err(RecvError::Corrupt(corrupt))) => {
                this.done = true;
                Poll::Ready(Some(Err(corrupt)))
            }
            Poll::Ready(Err(_)) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl FusedStream for RecordStream {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl fmt::Debug for RecordStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordStream")
            .field("receiver", &self.receiver)
            .field("done", &self.done)
            .finish()
    }
}
