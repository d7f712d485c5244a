//! What the SPSC and MPSC producers share: their hold on the ring and their
//! name in claims ([`Core`]), and every step of a claim that does not depend
//! on how space is reserved: the length check, the marking of reserved space
//! (padding, then `Claimed`), the claim handed out, and the copy of a
//! `&[u8]`. Each producer adds only its reservation (`reserve` in `spsc` and
//! `mpsc`), between the length check and the marking.
//!
//! Everything here is `#[inline(always)]`: these are a few instructions each,
//! on the claim path of both producers.

use super::peers::Owner;
use super::{ClaimError, WriteClaim, count_full};
use crate::ring::Ring;
use crate::ring::layout::{Word, span_of};
use crate::sync::Ordering;

/// A producer's ring and its name in the claims it makes.
pub(super) struct Core {
    pub(super) ring: Ring,
    pub(super) owner: Owner,
}

impl Core {
    /// The core of a new producer of `ring`, with the shared `head` for the
    /// producer to cache.
    pub(super) fn new(ring: Ring, owner: Owner) -> (Self, u64) {
        // Acquire: the cached head decides what may be overwritten without a
        // re-read, so it pairs with the consumer's Release store of head like
        // any other load of it.
        let head = ring.header().head.0.load(Ordering::Acquire);
        (Self { ring, owner }, head)
    }

    /// Another core of the same producer (a clone of an MPSC producer).
    pub(super) fn share(&self) -> Self {
        Self {
            ring: self.ring.share(),
            owner: self.owner.clone(),
        }
    }

    /// The span of a record of `len` payload bytes: `TooLarge` at once if
    /// `len` is above the ring's maximum, whatever the ring holds.
    #[inline(always)]
    pub(super) fn span(&self, len: usize) -> Result<u64, ClaimError> {
        let max = self.ring.max_record_len();
        if len as u64 > max {
            return Err(ClaimError::TooLarge {
                len,
                max: max as usize,
            });
        }
        Ok(span_of(len as u64))
    }

    /// Marks the space this producer reserved from `tail`: `padding` bytes
    /// of wrap padding (if any), then the record of `len` payload bytes as
    /// `Claimed` by this producer. Returns the record's position.
    #[inline(always)]
    pub(super) fn mark(&self, tail: u64, padding: u64, len: usize) -> u64 {
        if padding != 0 {
            // Release: like a commit, so that the consumer's zeroing of this
            // padding, after its Acquire load of the word, is ordered after
            // our store.
            self.ring
                .word(tail)
                .store(Word::padding(padding), Ordering::Release);
        }
        let pos = tail.wrapping_add(padding);
        // Release: pairs with the Acquire load (or compare-and-swap) of a
        // consumer that skips this claim because its producer died, so what
        // this producer wrote before it (the padding above; in SPSC, the next
        // word cleaned in `reserve`) happens-before the consumer's zeroing.
        // What it writes after is ordered by its death instead (the kernel's
        // lock hand-over for a ring file; the channel's count of senders on
        // a heap ring).
        self.ring.word(pos).store(
            Word::claimed(len as u64, self.owner.id()),
            Ordering::Release,
        );
        pos
    }

    /// The claim on the record `reserve` marked at `reserved`, or its error,
    /// counted in the ring's header if it is `Full`.
    #[inline(always)]
    pub(super) fn claim(
        &self,
        reserved: Result<u64, ClaimError>,
        len: usize,
    ) -> Result<WriteClaim<'_>, ClaimError> {
        match reserved {
            Ok(pos) => Ok(WriteClaim::new(&self.ring, pos, len as u64)),
            Err(error) => Err(count_full(&self.ring, error)),
        }
    }
}

/// A producer's `try_send`: claims (`claim`, the producer's `try_claim` of
/// `payload.len()` bytes), copies `payload` in and commits.
#[inline(always)]
pub(super) fn send(
    claim: Result<WriteClaim<'_>, ClaimError>,
    payload: &[u8],
) -> Result<(), ClaimError> {
    let mut claim = claim?;
    claim.copy_from_slice(payload);
    claim.commit();
    Ok(())
}
