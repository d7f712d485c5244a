//! The sending core, written once for the SPSC and MPSC senders (and the
//! async senders over them): what differs between the two is how their
//! queue producer reserves space ([`Reserve`]); the public sender types
//! wrap a [`Sending`] and forward to it.

use std::fmt;

use super::{Link, SendClaim, SendError, SpinPolicy};
use crate::queue::{self, ClaimError, count_full};

/// How a sender's queue producer reserves space for a record: the one step
/// of a send that differs between SPSC and MPSC.
///
/// Implemented for the handles a claim is made through: an SPSC producer
/// reserves through `&mut` (one claim at a time), an MPSC producer through
/// `&` as well (claims from any number of threads at once).
pub(crate) trait Reserve {
    /// Reserves space for a record of `len` payload bytes, marks it
    /// `Claimed`, and returns its position (see the producers' `reserve`);
    /// a `Full` here may be retried and is not counted.
    fn reserve(&mut self, len: usize) -> Result<u64, ClaimError>;
}

impl Reserve for queue::spsc::Producer {
    #[inline]
    fn reserve(&mut self, len: usize) -> Result<u64, ClaimError> {
        queue::spsc::Producer::reserve(self, len)
    }
}

impl Reserve for queue::mpsc::Producer {
    #[inline]
    fn reserve(&mut self, len: usize) -> Result<u64, ClaimError> {
        queue::mpsc::Producer::reserve(self, len)
    }
}

impl Reserve for &queue::mpsc::Producer {
    #[inline]
    fn reserve(&mut self, len: usize) -> Result<u64, ClaimError> {
        queue::mpsc::Producer::reserve(self, len)
    }
}

impl<R: Reserve + ?Sized> Reserve for &mut R {
    #[inline]
    fn reserve(&mut self, len: usize) -> Result<u64, ClaimError> {
        R::reserve(self, len)
    }
}

/// A channel sender of either kind: its queue producer `P`, its link to the
/// receiver, and its spin budget. Counted as a live sender of a heap ring
/// from when it is made until it is dropped.
pub(crate) struct Sending<P> {
    pub(crate) producer: P,
    pub(crate) link: Link,
    pub(crate) policy: SpinPolicy,
}

impl<P> Sending<P> {
    /// The sender over `producer`, counted in `link`'s ring by whoever made
    /// the link (a new heap channel's one sender) or not counted at all (a
    /// ring file's), with the senders' default budget.
    pub(crate) fn new(producer: P, link: Link) -> Self {
        Self {
            producer,
            link,
            policy: SpinPolicy::SENDER,
        }
    }

    /// The `Debug` of a public sender type named `name`.
    pub(crate) fn debug(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("capacity", &self.link.ring.capacity())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<P: Clone> Clone for Sending<P> {
    /// Another sender of the same ring (an MPSC producer's clone), with this
    /// one's budget.
    fn clone(&self) -> Self {
        self.link.add_sender();
        Self {
            producer: self.producer.clone(),
            link: self.link.share(),
            policy: self.policy,
        }
    }
}

impl<P> Drop for Sending<P> {
    fn drop(&mut self) {
        self.link.drop_sender();
    }
}

impl Link {
    /// Claims space for `len` bytes through `producer`, retrying a full ring
    /// for `policy`: the body of every sender's `claim` and `try_claim`.
    #[inline]
    pub(crate) fn claim(
        &self,
        mut producer: impl Reserve,
        policy: SpinPolicy,
        len: usize,
    ) -> Result<SendClaim<'_>, SendError> {
        let pos = self.reserve(policy, || producer.reserve(len))?;
        Ok(SendClaim::new(&self.ring, pos, len, self))
    }

    /// Sends a copy of `payload` through `producer`: claim (as
    /// [`claim`](Self::claim)), copy, commit.
    #[inline]
    pub(crate) fn send(
        &self,
        producer: impl Reserve,
        policy: SpinPolicy,
        payload: &[u8],
    ) -> Result<(), SendError> {
        let mut claim = self.claim(producer, policy, payload.len())?;
        claim.copy_from_slice(payload);
        claim.commit();
        Ok(())
    }

    /// The sender's wait for space: retries `reserve` under `policy` and
    /// returns the reserved position. A `Full` that outlasts the budget is
    /// counted once in the ring's header.
    #[inline]
    fn reserve(
        &self,
        policy: SpinPolicy,
        mut reserve: impl FnMut() -> Result<u64, ClaimError>,
    ) -> Result<u64, SendError> {
        if self.receiver_gone() {
            return Err(SendError::Disconnected);
        }
        let mut backoff = policy.backoff();
        loop {
            match reserve() {
                Ok(pos) => return Ok(pos),
                Err(ClaimError::Full) => {}
                Err(error) => return Err(error.into()),
            }
            if !backoff.snooze() {
                return Err(count_full(&self.ring, ClaimError::Full).into());
            }
            if self.receiver_gone() {
                return Err(SendError::Disconnected);
            }
        }
    }
}

/// The public sending methods of a blocking sender wrapping a [`Sending`] in
/// `self.sending`, forwarded to it: the same for both senders but for the
/// receiver type (`&mut self` for SPSC, `&self` for MPSC), which is also how
/// the producer is lent to the claim.
macro_rules! sender_methods {
    ($($mut:ident)?) => {
    /// Claims space for a record of `len` payload bytes, retrying a full ring
    /// for this sender's spin budget. Never sleeps. Write the payload in
    /// place (or with `write!`), then commit the claim.
    ///
    /// # Errors
    ///
    /// [`SendError::TooLarge`] at once if `len > max_record_len()`;
    /// [`SendError::Full`] if the ring stayed full for the whole budget;
    /// [`SendError::Disconnected`] if the receiver is gone;
    /// [`SendError::Corrupt`] if the ring's positions are impossible (a
    /// damaged ring file).
    #[must_use = "a claim that is dropped without commit() is aborted"]
    #[inline]
    pub fn claim(&$($mut)? self, len: usize) -> Result<SendClaim<'_>, SendError> {
        let sending = &$($mut)? self.sending;
        sending.link.claim(&$($mut)? sending.producer, sending.policy, len)
    }

    /// Claims space for a record of `len` payload bytes, trying once.
    ///
    /// # Errors
    ///
    /// As [`claim`](Self::claim), with [`SendError::Full`] at once.
    #[must_use = "a claim that is dropped without commit() is aborted"]
    #[inline]
    pub fn try_claim(&$($mut)? self, len: usize) -> Result<SendClaim<'_>, SendError> {
        let sending = &$($mut)? self.sending;
        sending.link.claim(&$($mut)? sending.producer, SpinPolicy::NONE, len)
    }

    /// Sends a copy of `payload` as one record: [`claim`](Self::claim)
    /// (retrying a full ring for the spin budget), copy, commit.
    ///
    /// # Errors
    ///
    /// As [`claim`](Self::claim).
    #[inline]
    pub fn send(&$($mut)? self, payload: &[u8]) -> Result<(), SendError> {
        let sending = &$($mut)? self.sending;
        sending.link.send(&$($mut)? sending.producer, sending.policy, payload)
    }

    /// Sends a copy of `payload` as one record, trying once: never spins.
    ///
    /// # Errors
    ///
    /// As [`try_claim`](Self::try_claim).
    #[inline]
    pub fn try_send(&$($mut)? self, payload: &[u8]) -> Result<(), SendError> {
        let sending = &$($mut)? self.sending;
        sending.link.send(&$($mut)? sending.producer, SpinPolicy::NONE, payload)
    }

    /// `true` if the receiver is gone (every send then fails). On a ring
    /// file: `true` if no consumer is attached right now (a system call);
    /// sends go on all the same, and their records wait for the next one.
    pub fn is_disconnected(&self) -> bool {
        self.sending.link.receiver_absent()
    }

    /// The budget [`claim`](Self::claim) and [`send`](Self::send) retry a
    /// full ring for.
    pub fn spin_policy(&self) -> SpinPolicy {
        self.sending.policy
    }

        crate::queue::ring_observers!(sending.link.ring);
    };
}
pub(super) use sender_methods;
