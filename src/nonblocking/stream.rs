//! The receiver as a `futures_core::Stream`, of owned copies.

use std::fmt;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};

use super::{Receiver, RecvError};
use crate::error::CorruptRing;

/// The records of a [`Receiver`] as a [`Stream`] of owned copies, for
/// combinators (`map`, `filter`, `try_collect`, `forward`, …): each item is
/// `Ok` with a [`RecordBuf`] (the payload copied into a new `Vec<u8>`, with
/// the record's tag and position), and the record is released at once.
///
/// The stream ends (`None`) where `recv` would report
/// [`RecvError::Disconnected`]. A corrupt ring is an item of its own,
/// `Err(`[`CorruptRing`]`)`, naming the position, after the records before
/// it; the stream ends after it. Being an item, it cannot be taken for the
/// end of the stream: a `while let Some(Ok(..))` loop must look at what
/// stopped it, and `TryStreamExt` combinators (`try_next`, `try_collect`,
/// `try_for_each`) return it as their error.
///
/// # Cost
///
/// Each item costs an allocation and a copy of the payload, which the
/// in-place [`Receiver::recv`] avoids: a `Vec` per record, its size the
/// payload's, freed when the item is dropped (reuse it with
/// [`RecordBuf::into_vec`]). Beside that copy the stream does exactly what
/// `recv().await` does (the same look, the same park). On a hot stream,
/// prefer `recv` or [`recv_batch`](Receiver::recv_batch), which read in place.
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
    type Item = Result<RecordBuf, CorruptRing>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match this.receiver.poll_recv(cx) {
            Poll::Ready(Ok(record)) => Poll::Ready(Some(Ok(RecordBuf {
                bytes: record.to_vec(),
                tag: record.tag(),
                position: record.position(),
            }))),
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

/// An owned copy of a record, as a [`RecordStream`] yields it: the payload,
/// the tag the producer set, and the record's position in the ring.
///
/// Dereferences to the payload's `&[u8]`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RecordBuf {
    bytes: Vec<u8>,
    tag: u32,
    position: u64,
}

impl RecordBuf {
    /// The record's tag (0 unless the producer set one).
    #[inline]
    pub fn tag(&self) -> u32 {
        self.tag
    }

    /// Free-running position the record had in the ring.
    #[inline]
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The payload, without copying.
    #[inline]
    pub fn into_vec(self) -> Vec<u8> {
        self.bytes
    }
}

impl Deref for RecordBuf {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl AsRef<[u8]> for RecordBuf {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl From<RecordBuf> for Vec<u8> {
    #[inline]
    fn from(record: RecordBuf) -> Self {
        record.bytes
    }
}

impl fmt::Debug for RecordBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordBuf")
            .field("position", &self.position)
            .field("len", &self.bytes.len())
            .field("tag", &self.tag)
            .finish()
    }
}
