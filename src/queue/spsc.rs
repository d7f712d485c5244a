//! Single-producer, single-consumer byte ring queue.
//!
//! ```
//! use logring::queue::{TryRecvError, spsc};
//!
//! let (mut producer, mut consumer) = spsc::new(64 * 1024)?;
//!
//! let mut claim = producer.try_claim(5)?;
//! claim.copy_from_slice(b"hello");
//! claim.commit();
//! producer.try_send(b"world")?;
//!
//! assert_eq!(&*consumer.try_recv()?, b"hello");
//! assert_eq!(&*consumer.try_recv()?, b"world");
//! assert_eq!(consumer.try_recv().unwrap_err(), TryRecvError::Empty);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use super::peers::Owner;
use super::producer::{self, Core};
use super::{ClaimError, OwnLines, fits, impossible_positions, recovery, wrap_padding};
pub use super::{Consumer, ReadClaim, Record, WriteClaim};
use crate::error::Error;
use crate::ring::Ring;
use crate::ring::layout::{Mode, WORD};
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
    Ok((
        Producer::new(ring.share(), Owner::LOCAL),
        Consumer::new(ring),
    ))
}

/// The writing end of an SPSC queue.
pub struct Producer {
    core: Core,
    /// Next free position; the shared `tail` mirrors it. Only this producer
    /// writes it.
    tail: u64,
    /// A `head` read earlier (never ahead of the shared one).
    cached_head: u64,
    /// Keeps `tail` and `cached_head`, written for every claim, off other
    /// handles' lines.
    _lines: OwnLines,
}

impl Producer {
    /// The producer of an SPSC ring, resuming at the ring's shared `tail`.
    ///
    /// The caller guarantees that no other producer of the ring is alive. If
    /// an earlier one died part-way through a claim (a ring file), what it
    /// left past `tail` is made skippable first: see `recovery::take_over`.
    pub(crate) fn new(ring: Ring, owner: Owner) -> Self {
        let tail = recovery::take_over(&ring);
        let (core, cached_head) = Core::new(ring, owner);
        Self {
            core,
            tail,
            cached_head,
            _lines: OwnLines::new(()),
        }
    }

    /// Claims space for a record of `len` payload bytes.
    ///
    /// # Errors
    ///
    /// [`ClaimError::TooLarge`] at once if `len > max_record_len()`;
    /// [`ClaimError::Full`] if the consumer has not yet released enough space;
    /// [`ClaimError::Corrupt`] if the shared positions are impossible (a
    /// damaged ring file).
    #[must_use = "a claim that is dropped without commit() is aborted"]
    #[inline(always)]
    pub fn try_claim(&mut self, len: usize) -> Result<WriteClaim<'_>, ClaimError> {
        let reserved = self.reserve(len);
        self.core.claim(reserved, len)
    }

    /// Sends `payload` as one record: claims, copies it in and commits,
    /// trying once.
    ///
    /// # Errors
    ///
    /// As [`try_claim`](Self::try_claim).
    #[inline]
    pub fn try_send(&mut self, payload: &[u8]) -> Result<(), ClaimError> {
        producer::send(self.try_claim(payload.len()), payload)
    }

    /// Reserves space for a record of `len` payload bytes, marks it
    /// `Claimed`, and returns its position; the caller must make it a claim
    /// at once with `WriteClaim::new`. Counts nothing: a `Full` here may be
    /// retried.
    #[inline]
    pub(crate) fn reserve(&mut self, len: usize) -> Result<u64, ClaimError> {
        let span = self.core.span(len)?;
        let ring = &self.core.ring;
        let tail = self.tail;
        let capacity = ring.capacity();
        let padding = wrap_padding(ring, tail, span);
        let need = padding + span;
        if !fits(tail.wrapping_sub(self.cached_head), need, capacity) {
            // Acquire: pairs with the consumer's Release store of head, so its
            // reads and zeroing below head happen-before we write there.
            self.cached_head = ring.header().head.0.load(Ordering::Acquire);
            let used = tail.wrapping_sub(self.cached_head);
            if !fits(used, need, capacity) {
                // This producer owns `tail`, so the head read is the only
                // position that can be impossible.
                if used > capacity {
                    return Err(impossible_positions(tail, self.cached_head));
                }
                return Err(ClaimError::Full);
            }
        }
        self.tail = tail.wrapping_add(need);
        if fits(tail.wrapping_sub(self.cached_head), need + WORD, capacity) {
            // The consumer zeroes only record words, so keep the word where the
            // next record will start clean. It is free space now; if it is not
            // (this claim ends exactly a lap past the cached head), it is a
            // record word of the lap being consumed, which the consumer zeroes.
            // SAFETY: the word is free space, which only this producer touches
            // until the Release stores of `mark` publish it; the consumer
            // reaches it only after reading one of them.
            unsafe { ring.write_word(self.tail, 0) };
        }
        let pos = self.core.mark(tail, padding, len);
        // Release: pairs with the Acquire load of tail by the producer that
        // comes next (`take_over`), and keeps the stores above before this one
        // even for the compiler, so that a producer that dies before it leaves
        // everything it began past `tail`, where the next producer looks for
        // it. Records are found through their words, not through `tail`.
        ring.header().tail.0.store(self.tail, Ordering::Release);
        Ok(pos)
    }

    super::ring_observers!(core.ring);
}

impl fmt::Debug for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("spsc::Producer")
            .field("capacity", &self.capacity())
            .field("tail", &self.tail)
            .finish_non_exhaustive()
    }
}
