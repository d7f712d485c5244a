//! Single-producer, single-consumer byte ring queue.
//!
//! ```
//! use logring::queue::spsc;
//!
//! let (mut producer, mut consumer) = spsc::new(64 * 1024)?;
//!
//! let mut claim = producer.try_claim(5)?;
//! claim.copy_from_slice(b"hello");
//! claim.commit();
//! producer.try_write(b"world")?;
//!
//! assert_eq!(&*consumer.try_read().unwrap(), b"hello");
//! assert_eq!(&*consumer.try_read().unwrap(), b"world");
//! assert!(consumer.try_read().is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

pub use super::{Consumer, ReadClaim, Record, WriteClaim};
use super::{count_full, fits, wrap_padding};
use crate::error::{ClaimError, Error};
use crate::ring::Ring;
use crate::ring::layout::{Mode, WORD, Word, span_of};
use crate::sync::Ordering;

/// Creates an SPSC queue of at least `capacity` bytes (rounded up to a power
/// of two; at least 64).
///
/// # Errors
///
/// [`Error::CapacityTooSmall`], [`Error::CapacityTooLarge`] or
/// [`Error::OutOfMemory`].
pub fn new(capacity: usize) -> Result<(Producer, Consumer), Error> {
    let ring = Ring::new_heap(Mode::Spsc, capacity)?;
    Ok((Producer::new(ring.share()), Consumer::new(ring)))
}

/// The writing end of an SPSC queue.
pub struct Producer {
    ring: Ring,
    /// Next free position; the shared `tail` mirrors it. Only this producer
    /// writes it.
    tail: u64,
    /// A `head` read earlier (never ahead of the shared one).
    cached_head: u64,
}

impl Producer {
    /// The producer of an SPSC ring, resuming at the ring's shared `tail`.
    pub(crate) fn new(ring: Ring) -> Self {
        let header = ring.header();
        // Relaxed: only this producer writes tail.
        let tail = header.tail.0.load(Ordering::Relaxed);
        // Acquire: the cached head decides what may be overwritten without a
        // re-read, so it pairs with the consumer's Release store like any other.
        let cached_head = header.head.0.load(Ordering::Acquire);
        Self {
            ring,
            tail,
            cached_head,
        }
    }

    /// Claims space for a record of `len` payload bytes.
    ///
    /// # Errors
    ///
    /// [`ClaimError::TooLarge`] at once if `len > max_record_len()`;
    /// [`ClaimError::Full`] if the consumer has not yet released enough space.
    #[inline]
    pub fn try_claim(&mut self, len: usize) -> Result<WriteClaim<'_>, ClaimError> {
        match self.reserve(len) {
            Ok(pos) => Ok(WriteClaim::new(&self.ring, pos, len as u64)),
            Err(error) => Err(count_full(&self.ring, error)),
        }
    }

    /// Reserves space for a record of `len` payload bytes and returns its
    /// position; the caller must make it a claim at once with
    /// `WriteClaim::new`. Counts nothing: a `Full` here may be retried.
    #[inline]
    pub(crate) fn reserve(&mut self, len: usize) -> Result<u64, ClaimError> {
        let max = self.ring.max_record_len();
        if len as u64 > max {
            return Err(ClaimError::TooLarge {
                len,
                max: max as usize,
            });
        }
        let span = span_of(len as u64);
        let tail = self.tail;
        let capacity = self.ring.capacity();
        let padding = wrap_padding(&self.ring, tail, span);
        let need = padding + span;
        if !fits(tail.wrapping_sub(self.cached_head), need, capacity) {
            // Acquire: pairs with the consumer's Release store of head, so its
            // reads and zeroing below head happen-before we write there.
            self.cached_head = self.ring.header().head.0.load(Ordering::Acquire);
            if !fits(tail.wrapping_sub(self.cached_head), need, capacity) {
                return Err(ClaimError::Full);
            }
        }
        if padding != 0 {
            // Release: like a commit, so that the consumer's zeroing of this
            // padding, after its Acquire load, is ordered after our store.
            self.ring
                .word(tail)
                .store(Word::padding(padding), Ordering::Release);
        }
        let pos = tail + padding;
        self.tail = pos + span;
        if fits(tail.wrapping_sub(self.cached_head), need + WORD, capacity) {
            // The consumer zeroes only record words, so keep the word where the
            // next record will start clean. It is free space now; if it is not
            // (this claim ends exactly a lap past the cached head), it is a
            // record word of the lap being consumed, which the consumer zeroes.
            // SAFETY: the word is free space, which only this producer touches
            // until its commit or abort (Release) publishes it; the consumer
            // reaches it only after reading that commit or abort.
            unsafe { self.ring.write_word(self.tail, 0) };
        }
        // Relaxed: records are found through their words, not through tail;
        // tail only tells observers how much is in use.
        self.ring
            .header()
            .tail
            .0
            .store(self.tail, Ordering::Relaxed);
        Ok(pos)
    }

    /// The ring this producer writes.
    pub(crate) fn ring(&self) -> &Ring {
        &self.ring
    }

    /// Claims, copies `payload` in and commits: one record.
    ///
    /// # Errors
    ///
    /// As [`try_claim`](Self::try_claim).
    #[inline]
    pub fn try_write(&mut self, payload: &[u8]) -> Result<(), ClaimError> {
        let mut claim = self.try_claim(payload.len())?;
        claim.copy_from_slice(payload);
        claim.commit();
        Ok(())
    }

    super::ring_observers!();
}

impl fmt::Debug for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("spsc::Producer")
            .field("capacity", &self.capacity())
            .field("tail", &self.tail)
            .finish_non_exhaustive()
    }
}
