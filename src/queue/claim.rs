//! The producer's claim on a range of the ring: write in place, then commit.

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

use crate::ring::Ring;
use crate::ring::layout::{Word, span_of};
use crate::sync::Ordering;

/// Space claimed in the ring for one record: write the payload in place, then
/// [`commit`](WriteClaim::commit) it.
///
/// Dereferences to `&mut [u8]` of exactly the claimed length. Its bytes start
/// out unspecified (whatever the ring held before): write every byte you
/// commit. Dropping a claim without committing aborts it: the consumer skips
/// the space.
///
/// A claim borrows its producer, so it cannot outlive it:
///
/// ```compile_fail
/// let (mut producer, _consumer) = logring::queue::spsc::new(1024).unwrap();
/// let claim = producer.try_claim(8).unwrap();
/// drop(producer);
/// claim.commit();
/// ```
#[must_use = "a claim that is dropped without commit() is aborted"]
pub struct WriteClaim<'a> {
    ring: &'a Ring,
    /// Position of the record word. Invariant: `[pos, pos + span)` lies inside
    /// the data area without wrapping, and this claim is its only writer.
    pos: u64,
    /// Payload length that commit will publish (`<=` the claimed length).
    len: u64,
    /// Bytes reserved: `span_of(claimed length)`.
    span: u64,
    tag: u32,
}

impl<'a> WriteClaim<'a> {
    /// The claim on `[pos, pos + span_of(len))`, which the caller reserved
    /// for it alone and marked `Claimed` (the producers' `reserve`).
    #[inline]
    pub(crate) fn new(ring: &'a Ring, pos: u64, len: u64) -> Self {
        Self {
            ring,
            pos,
            len,
            span: span_of(len),
            tag: 0,
        }
    }

    /// Publishes the record to the consumer.
    #[inline]
    pub fn commit(self) {
        let this = ManuallyDrop::new(self);
        let span = span_of(this.len);
        if span < this.span {
            // The shrunk-off remainder (a whole number of words, inside this
            // claim) becomes padding, published by the Release store below.
            // SAFETY: the word lies inside this claim, which this claim alone
            // accesses until that store; a plain write, like the payload
            // writes that may have covered it.
            unsafe {
                this.ring
                    .write_word(this.pos.wrapping_add(span), Word::padding(this.span - span))
            };
        }
        // Release: pairs with the consumer's Acquire load of this word, making
        // every payload write (and the padding above) visible before the record.
        this.ring
            .word(this.pos)
            .store(Word::committed(this.len, this.tag), Ordering::Release);
    }

    /// Gives the space back: the consumer skips it. Same as dropping the claim.
    #[inline]
    pub fn abort(self) {
        drop(self);
    }

    /// Shortens the record to `len` bytes, keeping the first `len` bytes
    /// written. Has no effect if `len` is not below the current length. The
    /// bytes given up are skipped by the consumer (they stay reserved until it
    /// passes them).
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        if (len as u64) < self.len {
            self.len = len as u64;
        }
    }

    /// Sets the record's tag, a `u32` the consumer reads with
    /// [`ReadClaim::tag`](crate::queue::ReadClaim::tag) (e.g. a record kind).
    /// Defaults to 0.
    #[inline]
    pub fn set_tag(&mut self, tag: u32) {
        self.tag = tag;
    }

    /// The record's tag.
    #[inline]
    pub fn tag(&self) -> u32 {
        self.tag
    }

    /// Free-running position of the record in the ring.
    #[inline]
    pub fn position(&self) -> u64 {
        self.pos
    }
}

impl Deref for WriteClaim<'_> {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.ring.track_payload(self.pos, self.len, false);
        // SAFETY: `[pos + 8, pos + 8 + len)` lies inside the data area (type
        // invariant) and only this claim accesses it until commit or abort; the
        // bytes are initialised (the region starts zeroed and is only ever
        // written with initialised bytes).
        unsafe { std::slice::from_raw_parts(self.ring.payload_ptr(self.pos), self.len as usize) }
    }
}

impl DerefMut for WriteClaim<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        self.ring.track_payload(self.pos, self.len, true);
        // SAFETY: as in `deref`; `&mut self` makes this the only live slice.
        unsafe {
            std::slice::from_raw_parts_mut(self.ring.payload_ptr(self.pos), self.len as usize)
        }
    }
}

impl Drop for WriteClaim<'_> {
    fn drop(&mut self) {
        // Release: pairs with the consumer's Acquire load of this word, so the
        // payload we may have written is finished before the consumer zeroes it
        // (MPSC) or releases it to the next writer.
        self.ring
            .word(self.pos)
            .store(Word::padding(self.span), Ordering::Release);
    }
}

impl fmt::Debug for WriteClaim<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteClaim")
            .field("position", &self.pos)
            .field("len", &self.len)
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}
