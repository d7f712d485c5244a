//! The receiver as a `futures_core::Stream`, of owned copies.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};

use super::Receiver;

/// The records of a [`Receiver`] as a [`Stream`] of owned copies, for
/// combinators (`map`, `filter`, `forward`, …): each item is the record's
/// payload copied into a new `Vec<u8>`, and the record is released at once.
///
/// That copy (and allocation) per record is what the in-place
/// [`Receiver::recv`] avoids, and the record's tag is not carried; use
/// `recv` or [`recv_batch`](Receiver::recv_batch) where that matters. The
/// stream ends where `recv` would report `RecvError`.
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
    type Item = Vec<u8>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Vec<u8>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match this.receiver.poll_recv(cx) {
            Poll::Ready(Ok(record)) => Poll::Ready(Some(record.to_vec())),
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
