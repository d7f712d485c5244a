//! The async senders' methods, the same for SPSC and MPSC but for the blocking
//! sender they wrap.

/// The sending methods of an async sender wrapping the blocking sender
/// `channel::$kind::Sender` in `self.inner`, with its `Waiting` in
/// `self.waiting`.
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
            let pos = std::future::poll_fn(|cx| self.poll_reserve(cx, len)).await?;
            Ok(SendClaim::new(
                self.inner.producer.ring(),
                pos,
                len,
                &self.inner.link,
            ))
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
            self.inner.try_claim(len)
        }

        /// Sends a copy of `payload` as one record if there is room now,
        /// without waiting (as the blocking sender's `try_send`).
        ///
        /// # Errors
        ///
        /// As [`try_claim`](Self::try_claim).
        #[inline]
        pub fn try_send(&mut self, payload: &[u8]) -> Result<(), SendError> {
            self.inner.try_send(payload)
        }

        /// `true` if the receiver is gone (every send then fails). On a ring
        /// file: `true` if no consumer is attached right now (a system call);
        /// sends go on all the same, and their records wait for the next one.
        pub fn is_disconnected(&self) -> bool {
            self.inner.is_disconnected()
        }

        /// The budget [`claim`](Self::claim) and [`send`](Self::send) look
        /// again for before they park
        /// (spin rounds only; [`SpinPolicy::ASYNC`] by default: see
        /// the [module docs](super)).
        pub fn spin_policy(&self) -> SpinPolicy {
            self.inner.spin_policy()
        }

        /// Sets the budget [`claim`](Self::claim) and [`send`](Self::send)
        /// look again for before they park.
        pub fn set_spin_policy(&mut self, policy: SpinPolicy) {
            self.inner.set_spin_policy(super::spins(policy));
        }

        /// The blocking sender of the same ring. Its spin policy is the
        /// blocking default ([`SpinPolicy::SENDER`]).
        pub fn into_blocking(self) -> channel::$kind::Sender {
            let Self { mut inner, waiting } = self;
            drop(waiting);
            inner.set_spin_policy(SpinPolicy::SENDER);
            inner
        }

        crate::queue::ring_observers!(inner.link.ring);

        /// Reserves space for `len` bytes, or why not; on `Pending`, the task
        /// is woken when space may have been released.
        #[inline]
        fn poll_reserve(
            &mut self,
            cx: &mut std::task::Context<'_>,
            len: usize,
        ) -> std::task::Poll<Result<u64, AsyncSendError>> {
            match self.try_reserve(len) {
                Some(done) => std::task::Poll::Ready(done),
                None => self.poll_reserve_slow(cx, len),
            }
        }

        /// `poll_reserve` once the ring was found full: looks again for the
        /// spin budget, then parks.
        #[inline(never)]
        fn poll_reserve_slow(
            &mut self,
            cx: &mut std::task::Context<'_>,
            len: usize,
        ) -> std::task::Poll<Result<u64, AsyncSendError>> {
            use std::task::Poll;
            let mut backoff = self.inner.policy.backoff();
            while backoff.snooze() {
                if let Some(done) = self.try_reserve(len) {
                    return Poll::Ready(done);
                }
            }
            // Register, announce, barrier, re-check: see the module docs.
            let ordered = self.waiting.announce(cx);
            if let Some(done) = self.try_reserve(len) {
                return Poll::Ready(done);
            }
            let limit = (!ordered).then(|| crate::wait::unordered_nap(self.waiting.naps()));
            self.waiting.park(cx, limit);
            Poll::Pending
        }

        /// One attempt: the reserved position, or the error to report, or
        /// `None` if the ring is full (not counted as a rejection: the
        /// sender waits).
        #[inline]
        fn try_reserve(&mut self, len: usize) -> Option<Result<u64, AsyncSendError>> {
            if self.inner.link.receiver_gone() {
                return Some(Err(AsyncSendError::Disconnected));
            }
            match self.inner.producer.reserve(len) {
                Ok(pos) => {
                    self.waiting.found();
                    Some(Ok(pos))
                }
                Err(crate::queue::ClaimError::Full) => None,
                Err(crate::queue::ClaimError::TooLarge { len, max }) => {
                    Some(Err(AsyncSendError::TooLarge { len, max }))
                }
                Err(crate::queue::ClaimError::Corrupt(corrupt)) => {
                    Some(Err(AsyncSendError::Corrupt(corrupt)))
                }
            }
        }
    };
}
pub(super) use async_sender_methods;
