//! The async receiving end, shared by the SPSC and MPSC channels.

use std::fmt;
use std::future::poll_fn;
use std::task::{Context, Poll};
use std::time::Duration;

use super::{Awaited, RecordStream, RecvError, SpinPolicy, TryRecvError, Waiting, Word, spins};
use crate::channel;
use crate::channel::receiver::Stop;
use crate::error::CorruptRing;
use crate::queue::consumer::Found;
use crate::queue::{ReadClaim, Record};

/// The async receiving end of a channel (SPSC or MPSC).
///
/// The async form of [`channel::Receiver`], over the same ring: records are
/// read in place, in order, and each [`ReadClaim`] releases its space when
/// dropped. Make one with [`spsc::new`](super::spsc::new),
/// [`mpsc::new`](super::mpsc::new), or from a blocking receiver (`From`,
/// [`channel::Receiver::into_async`]), which is how a ring file's receiver
/// becomes async.
pub struct Receiver {
    inner: channel::Receiver,
    waiting: Waiting,
}

impl Receiver {
    /// Waits for the next record.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe. If it is used as the event in a
    /// `tokio::select!` statement and some other branch completes first, it is
    /// guaranteed that no record was received: the next call returns the
    /// record this one would have returned. A record is consumed only when
    /// the returned [`ReadClaim`] is dropped.
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`] once every sender is gone and every record
    /// they committed has been received (on a ring file: once no producer
    /// is attached and everything is received, unless the receiver
    /// [follows](Self::set_follow)).
    ///
    /// [`RecvError::Corrupt`] once the ring is found corrupt: every record
    /// before the bad word was delivered, none after it can be, and every
    /// later receive reports the same (see [`corruption`](Self::corruption)).
    /// A task waiting when the bad word appears gets it when woken (by a
    /// commit after it), as it would get a record.
    #[must_use = "dropping a ReadClaim releases the record at once"]
    pub async fn recv(&mut self) -> Result<ReadClaim<'_>, RecvError> {
        let found = poll_fn(|cx| self.poll_found(cx)).await;
        match found {
            Ok(next) => Ok(self.inner.consumer.claim(next)),
            Err(stop) => Err(stop.recv_error()),
        }
    }

    /// Polls for the next record: the poll-based form of
    /// [`recv`](Self::recv), for hand-written futures and streams. On
    /// `Pending`, the waker of `cx` is woken when a record may be ready (the
    /// last waker polled with is the one woken). Errors as for `recv`.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<ReadClaim<'_>, RecvError>> {
        match self.poll_found(cx) {
            Poll::Ready(Ok(next)) => Poll::Ready(Ok(self.inner.consumer.claim(next))),
            Poll::Ready(Err(stop)) => Poll::Ready(Err(stop.recv_error())),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The next record if one is ready, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if none is ready;
    /// [`TryRecvError::Disconnected`] and [`TryRecvError::Corrupt`] as for
    /// [`recv`](Self::recv).
    #[must_use = "dropping a ReadClaim releases the record at once"]
    #[inline]
    pub fn try_recv(&mut self) -> Result<ReadClaim<'_>, TryRecvError> {
        self.inner.try_recv()
    }

    /// Waits for at least one record, then reads up to `limit` of those
    /// ready, calling `f` on each in order, and releases them together with
    /// one update of the shared head (see
    /// [`Consumer::try_recv_batch`](crate::queue::Consumer::try_recv_batch)). Returns
    /// how many were read; `limit == 0` returns `Ok(0)` at once. A batch
    /// ends before a corrupt record word; the next call reports it.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: it reads nothing until it completes, and
    /// the batch is read in the poll that completes it.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    pub async fn recv_batch<F>(&mut self, limit: usize, f: F) -> Result<usize, RecvError>
    where
        F: FnMut(Record<'_>),
    {
        if limit == 0 {
            return Ok(0);
        }
        match poll_fn(|cx| self.poll_found(cx)).await {
            Ok(_) => Ok(self.inner.consumer.read_batch(limit, f)),
            Err(stop) => Err(stop.recv_error()),
        }
    }

    /// Reads up to `limit` records that are ready now, without waiting (see
    /// [`recv_batch`](Self::recv_batch)).
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Self::try_recv).
    pub fn try_recv_batch<F>(&mut self, limit: usize, f: F) -> Result<usize, TryRecvError>
    where
        F: FnMut(Record<'_>),
    {
        self.inner.try_recv_batch(limit, f)
    }

    /// A [`Stream`](futures_core::Stream) of the records, as owned copies
    /// (see [`RecordStream`]).
    pub fn into_stream(self) -> RecordStream {
        RecordStream::new(self)
    }

    /// The blocking receiver of the same ring. Its spin policy is the
    /// blocking default ([`SpinPolicy::RECEIVER`]).
    pub fn into_blocking(self) -> channel::Receiver {
        let Self { mut inner, waiting } = self;
        drop(waiting);
        inner.set_spin_policy(SpinPolicy::RECEIVER);
        inner
    }

    /// `true` if every sender is gone. Records they committed may still be
    /// waiting to be received. On a ring file: `true` if no producer is
    /// attached right now (a system call); one may attach later.
    pub fn is_disconnected(&self) -> bool {
        self.inner.is_disconnected()
    }

    /// Whether this receiver waits for senders to (re)appear instead of
    /// reporting `Disconnected` (see [`set_follow`](Self::set_follow)).
    pub fn follows(&self) -> bool {
        self.inner.follows()
    }

    /// Makes this receiver wait for senders to (re)appear, as `tail -f` does
    /// (see [`channel::Receiver::set_follow`]).
    pub fn set_follow(&mut self, follow: bool) {
        self.inner.set_follow(follow);
    }

    /// The budget the receiver looks again for before it parks (spin
    /// rounds only; [`SpinPolicy::ASYNC`] by default: see the
    /// [module docs](super)).
    pub fn spin_policy(&self) -> SpinPolicy {
        self.inner.spin_policy()
    }

    /// Sets the budget the receiver looks again for before it parks.
    pub fn set_spin_policy(&mut self, policy: SpinPolicy) {
        self.inner.set_spin_policy(spins(policy));
    }

    /// The corruption that stopped this receiver, if any: what every receive
    /// reports as `Corrupt` once it is found.
    pub fn corruption(&self) -> Option<CorruptRing> {
        self.inner.corruption()
    }

    /// Claims skipped because no sender could ever commit them, over the
    /// ring's life.
    pub fn skipped_claims(&self) -> u64 {
        self.inner.skipped_claims()
    }

    crate::queue::ring_observers!(inner.link.ring);

    /// The next record found, or why there is none; on `Pending`, the task
    /// is woken when there may be one.
    #[inline]
    fn poll_found(&mut self, cx: &mut Context<'_>) -> Poll<Result<Found, Stop>> {
        match self.inner.try_next() {
            Err(Stop::NotYet) => self.poll_found_slow(cx),
            found_or_gone => {
                self.waiting.found();
                Poll::Ready(found_or_gone)
            }
        }
    }

    /// `poll_found` once nothing was ready: looks again for the spin
    /// budget, then parks (the handshake of `wait::wait`).
    #[inline(never)]
    fn poll_found_slow(&mut self, cx: &mut Context<'_>) -> Poll<Result<Found, Stop>> {
        let policy = self.inner.policy;
        self.waiting.poll_wait(cx, policy, &mut self.inner)
    }
}

/// Records, as what an async receiver waits for.
impl Awaited for &mut channel::Receiver {
    type Found = Result<Found, Stop>;

    #[inline]
    fn look(&mut self) -> Option<Self::Found> {
        channel::Receiver::look(self)
    }

    fn nap_limit(&mut self, ordered: bool, naps: u32) -> Option<Duration> {
        channel::Receiver::nap_limit(self, ordered, naps)
    }
}

impl From<channel::Receiver> for Receiver {
    /// The async receiver of the same ring. It spins briefly
    /// before it parks ([`SpinPolicy::ASYNC`]).
    fn from(mut inner: channel::Receiver) -> Self {
        inner.set_spin_policy(SpinPolicy::ASYNC);
        let waiting = Waiting::new(&inner.link, Word::Receiver);
        Self { inner, waiting }
    }
}

impl From<Receiver> for channel::Receiver {
    fn from(receiver: Receiver) -> Self {
        receiver.into_blocking()
    }
}

impl channel::Receiver {
    /// The async receiver of the same ring (feature `async`): see
    /// [`nonblocking::Receiver`](Receiver).
    pub fn into_async(self) -> Receiver {
        Receiver::from(self)
    }
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("nonblocking::Receiver")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}
