//! The async sending core, written once for SPSC and MPSC: a blocking
//! sender's core ([`Sending`]) and the waiting for space.
//! The public async sender types wrap an [`AsyncSending`] and forward to it.

use std::task::{Context, Poll};
use std::time::Duration;

use super::{AsyncSendError, Awaited, SendClaim, SendError, SpinPolicy, Waiting, Word};
use crate::channel::sender::{Reserve, Sending};
use crate::queue::ClaimError;
use crate::wait;

/// An async sender of either kind: the blocking sender's core over the
/// queue producer `P`, and its wait for space on the header's
/// `space_waiter` word.
pub(super) struct AsyncSending<P> {
    pub(super) inner: Sending<P>,
    waiting: Waiting,
}

impl<P> AsyncSending<P> {
    /// The async form of a blocking sender: it spins briefly before it
    /// parks ([`SpinPolicy::ASYNC`]).
    pub(super) fn new(mut inner: Sending<P>) -> Self {
        inner.policy = SpinPolicy::ASYNC;
        let waiting = Waiting::new(&inner.link, Word::Space);
        Self { inner, waiting }
    }

    /// The blocking form, with the blocking default budget
    /// ([`SpinPolicy::SENDER`]).
    pub(super) fn into_blocking(self) -> Sending<P> {
        let Self { mut inner, waiting } = self;
        drop(waiting);
        inner.policy = SpinPolicy::SENDER;
        inner
    }

    /// Sets the budget this sender looks again for before it parks: the
    /// policy's spin rounds only (a yield would block the executor's
    /// thread).
    pub(super) fn set_spin_policy(&mut self, policy: SpinPolicy) {
        self.inner.policy = super::spins(policy);
    }
}

impl<P: Clone> Clone for AsyncSending<P> {
    /// Another sender of the same ring, for another task, with this one's
    /// spin policy.
    fn clone(&self) -> Self {
        let inner = self.inner.clone();
        let waiting = Waiting::new(&inner.link, Word::Space);
        Self { inner, waiting }
    }
}

impl<P: Reserve> AsyncSending<P> {
    /// The claim on the space `poll_reserve` reserved at `pos`.
    #[inline]
    pub(super) fn claim_at(&self, pos: u64, len: usize) -> SendClaim<'_> {
        SendClaim::new(&self.inner.link.ring, pos, len, &self.inner.link)
    }

    /// Claims space for `len` bytes if there is room now (the blocking
    /// sender's `try_claim`).
    #[inline]
    pub(super) fn try_claim(&mut self, len: usize) -> Result<SendClaim<'_>, SendError> {
        let inner = &mut self.inner;
        inner.link.claim(&mut inner.producer, SpinPolicy::NONE, len)
    }

    /// Sends a copy of `payload` if there is room now (the blocking sender's
    /// `try_send`).
    #[inline]
    pub(super) fn try_send(&mut self, payload: &[u8]) -> Result<(), SendError> {
        let inner = &mut self.inner;
        inner
            .link
            .send(&mut inner.producer, SpinPolicy::NONE, payload)
    }

    /// Reserves space for `len` bytes, or why not; on `Pending`, the task
    /// is woken when space may have been released.
    #[inline]
    pub(super) fn poll_reserve(
        &mut self,
        cx: &mut Context<'_>,
        len: usize,
    ) -> Poll<Result<u64, AsyncSendError>> {
        let mut space = Space {
            sending: &mut self.inner,
            len,
        };
        match space.look() {
            Some(done) => {
                self.waiting.found();
                Poll::Ready(done)
            }
            None => self.poll_reserve_slow(cx, len),
        }
    }

    /// `poll_reserve` once the ring was found full: looks again for the
    /// spin budget, then parks (the handshake of `wait::wait`).
    #[inline(never)]
    fn poll_reserve_slow(
        &mut self,
        cx: &mut Context<'_>,
        len: usize,
    ) -> Poll<Result<u64, AsyncSendError>> {
        let policy = self.inner.policy;
        let space = Space {
            sending: &mut self.inner,
            len,
        };
        self.waiting.poll_wait(cx, policy, space)
    }
}

/// Space for a record of `len` bytes, as what an async sender waits for.
struct Space<'s, P> {
    sending: &'s mut Sending<P>,
    len: usize,
}

impl<P: Reserve> Awaited for Space<'_, P> {
    /// The reserved position, or the error to report.
    type Found = Result<u64, AsyncSendError>;

    /// One attempt; `None` if the ring is full (not counted as a rejection:
    /// the sender waits).
    #[inline]
    fn look(&mut self) -> Option<Self::Found> {
        if self.sending.link.receiver_gone() {
            return Some(Err(AsyncSendError::Disconnected));
        }
        match self.sending.producer.reserve(self.len) {
            Ok(pos) => Some(Ok(pos)),
            Err(ClaimError::Full) => None,
            Err(ClaimError::TooLarge { len, max }) => {
                Some(Err(AsyncSendError::TooLarge { len, max }))
            }
            Err(ClaimError::Corrupt(corrupt)) => Some(Err(AsyncSendError::Corrupt(corrupt))),
        }
    }

    /// Releases of space always wake the senders' word: on a heap ring a
    /// sender bounds its park only when the barrier did not hold. On a ring
    /// file the consumer is another process, which may be killed between
    /// taking the wake-up and making it (`wait::wake_slow`): nobody would
    /// wake the sender then, so it looks again after each nap.
    fn nap_limit(&mut self, ordered: bool, naps: u32) -> Option<Duration> {
        if !ordered {
            Some(wait::unordered_nap(naps))
        } else if self.sending.link.is_file() {
            Some(wait::DYING_WAKER_NAP)
        } else {
            None
        }
    }
}

/// The public methods of an async sender wrapping an [`AsyncSending`] in
/// `self.sending`, whose blocking form is `channel::$kind::Sender`,
/// forwarded to it.
macro_rules! async_sender_methods {
    ($kind:ident) => {
        /// Claims space for a record of `len` payload bytes, waiting while
        /// the ring is full: the task is woken when the consumer releases
        /// space. Write the payload in place (or with `write!`), then commit
        /// the claim (or drop it to abort); committing wakes the receiver.
        ///
        /// # Cancel safety
        ///
        /// This method is cancel safe: it claims space only in the poll that
        /// completes it, so a future dropped before completion has claimed
        /// nothing.
        ///
        /// # Errors
        ///
        /// [`AsyncSendError::TooLarge`] at once if `len > max_record_len()`;
        /// [`AsyncSendError::Disconnected`] at once, or while waiting, when
        /// the receiver is gone (never on a ring file);
        /// [`AsyncSendError::Corrupt`] if the ring's positions are impossible.
        #[must_use = "a claim that is dropped without commit() is aborted"]
        pub async fn claim(&mut self, len: usize) -> Result<SendClaim<'_>, AsyncSendError> {
            let pos = std::future::poll_fn(|cx| self.sending.poll_reserve(cx, len)).await?;
            Ok(self.sending.claim_at(pos, len))
        }

        /// Sends a copy of `payload` as one record, waiting while the ring is
        /// full: [`claim`](Self::claim), copy, commit.
        ///
        /// # Cancel safety
        ///
        /// This method is cancel safe: if it is dropped before it completes,
        /// nothing was sent.
        ///
        /// # Errors
        ///
        /// As [`claim`](Self::claim).
        pub async fn send(&mut self, payload: &[u8]) -> Result<(), AsyncSendError> {
            let mut claim = self.claim(payload.len()).await?;
            claim.copy_from_slice(payload);
            claim.commit();
            Ok(())
        }

        /// Claims space for a record of `len` payload bytes if there is room
        /// now, without waiting (as the blocking sender's `try_claim`).
        ///
        /// # Errors
        ///
        /// [`SendError::Full`] at once if there is no room (counted in
        /// [`full_rejections`](Self::full_rejections)); otherwise as
        /// [`claim`](Self::claim).
        #[must_use = "a claim that is dropped without commit() is aborted"]
        #[inline]
        pub fn try_claim(&mut self, len: usize) -> Result<SendClaim<'_>, SendError> {
            self.sending.try_claim(len)
        }

        /// Sends a copy of `payload` as one record if there is room now,
        /// without waiting (as the blocking sender's `try_send`).
        ///
        /// # Errors
        ///
        /// As [`try_claim`](Self::try_claim).
        #[inline]
        pub fn try_send(&mut self, payload: &[u8]) -> Result<(), SendError> {
            self.sending.try_send(payload)
        }

        /// `true` if the receiver is gone (every send then fails). On a ring
        /// file: `true` if no consumer is attached right now (a system call);
        /// sends go on all the same, and their records wait for the next one.
        pub fn is_disconnected(&self) -> bool {
            self.sending.inner.link.receiver_absent()
        }

        /// The budget [`claim`](Self::claim) and [`send`](Self::send) look
        /// again for before they park
        /// (spin rounds only; [`SpinPolicy::ASYNC`] by default: see
        /// the [module docs](super)).
        pub fn spin_policy(&self) -> SpinPolicy {
            self.sending.inner.policy
        }

        /// Sets the budget [`claim`](Self::claim) and [`send`](Self::send)
        /// look again for before they park.
        pub fn set_spin_policy(&mut self, policy: SpinPolicy) {
            self.sending.set_spin_policy(policy);
        }

        /// The blocking sender of the same ring. Its spin policy is the
        /// blocking default ([`SpinPolicy::SENDER`]).
        pub fn into_blocking(self) -> channel::$kind::Sender {
            channel::$kind::Sender {
                sending: self.sending.into_blocking(),
            }
        }

        crate::queue::ring_observers!(sending.inner.link.ring);
    };
}
pub(super) use async_sender_methods;
