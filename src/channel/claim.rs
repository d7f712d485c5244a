//! A sender's claim: a queue claim that wakes the receiver when it ends.

use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};

use super::Link;
use crate::error::ReservedTag;
use crate::queue::WriteClaim;
use crate::ring::Ring;

/// Space claimed by a channel sender: write the payload in place, then
/// [`commit`](SendClaim::commit) it.
///
/// The same claim as a queue's [`WriteClaim`] (it dereferences to `&mut [u8]`
/// of exactly the claimed length, whose bytes start out unspecified), except
/// that committing or aborting it also wakes the receiver if it is asleep.
/// Dropping it without committing aborts it. Like a `WriteClaim`, it
/// implements [`std::io::Write`] and [`std::fmt::Write`] (see
/// [`WriteClaim`] for how they append and what `commit` then publishes).
#[must_use = "a claim that is dropped without commit() is aborted"]
pub struct SendClaim<'a> {
    // Field order matters: `claim` is dropped (aborted) before `wake` runs, so
    // the receiver is woken after the abort is visible.
    claim: WriteClaim<'a>,
    wake: WakeOnDrop<'a>,
}

/// Wakes the receiver when dropped, after the claim beside it has ended.
struct WakeOnDrop<'a>(&'a Link);

impl Drop for WakeOnDrop<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.notify();
    }
}

impl<'a> SendClaim<'a> {
    /// Makes the claim on `[pos, pos + span)`, which `ring`'s producer has
    /// just reserved for it.
    #[inline]
    pub(crate) fn new(ring: &'a Ring, pos: u64, len: usize, link: &'a Link) -> Self {
        Self {
            claim: WriteClaim::new(ring, pos, len as u64),
            wake: WakeOnDrop(link),
        }
    }

    /// Publishes the record and wakes the receiver if it may be asleep.
    #[inline]
    pub fn commit(self) {
        let Self { claim, wake } = self;
        claim.commit();
        drop(wake);
    }

    /// Gives the space back: the receiver skips it. Same as dropping the claim.
    #[inline]
    pub fn abort(self) {
        drop(self);
    }

    /// Shortens the record to `len` bytes (see [`WriteClaim::truncate`]).
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        self.claim.truncate(len);
    }

    /// Sets the record's tag (see [`WriteClaim::set_tag`]).
    ///
    /// # Errors
    ///
    /// [`ReservedTag`] for a tag of [`ReservedTag::RANGE`]
    /// (`0xffffff00..=0xffffffff`), which logring keeps for its own records
    /// (log events); the tag is then left as it was.
    #[inline]
    pub fn set_tag(&mut self, tag: u32) -> Result<(), ReservedTag> {
        self.claim.set_tag(tag)
    }

    /// Sets the record's tag, reserved ones included: for the crate's own
    /// records (an event encoder's `EVENT_TAG_V1`).
    #[allow(dead_code)] // used by the event front-ends
    #[inline]
    pub(crate) fn set_tag_unchecked(&mut self, tag: u32) {
        self.claim.set_tag_unchecked(tag);
    }

    /// The record's tag.
    #[inline]
    pub fn tag(&self) -> u32 {
        self.claim.tag()
    }

    /// Free-running position of the record in the ring.
    #[inline]
    pub fn position(&self) -> u64 {
        self.claim.position()
    }
}

impl Deref for SendClaim<'_> {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        &self.claim
    }
}

impl DerefMut for SendClaim<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.claim
    }
}

impl fmt::Debug for SendClaim<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SendClaim").field(&self.claim).finish()
    }
}

impl io::Write for SendClaim<'_> {
    /// As [`WriteClaim`]'s: all of `buf`, or nothing and `WriteZero`.
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.claim.write(buf)
    }

    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Write for SendClaim<'_> {
    /// As [`WriteClaim`]'s: all of `s`, or nothing and `fmt::Error`.
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.claim.write_str(s)
    }
}
