//! Multi-producer, single-consumer byte ring queue.
//!
//! Share the [`Producer`] between threads, or clone it for each producing
//! thread. Producers reserve space
//! with a compare-and-swap on the shared tail, then fill and commit their own
//! ranges in parallel; the consumer delivers in position order.
//!
//! ```
//! use logring::queue::mpsc;
//!
//! let (producer, mut consumer) = mpsc::new(64 * 1024)?;
//! // Threads share the producer by reference (or each take a clone).
//! std::thread::scope(|scope| {
//!     for id in 0..4u8 {
//!         let producer = &producer;
//!         scope.spawn(move || producer.try_send(&[id; 3]).unwrap());
//!     }
//! });
//! let read = consumer.try_recv_batch(usize::MAX, |record| assert_eq!(record.len(), 3))?;
//! assert_eq!(read, 4);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use super::{ClaimError, count_full, fits, impossible_positions, wrap_padding};
pub use super::{Consumer, ReadClaim, Record, WriteClaim};
use crate::error::Error;
use crate::peers::Owner;
use crate::ring::Ring;
use crate::ring::layout::{Mode, Word, span_of};
use crate::sync::{AtomicU64, Ordering};

/// Creates an MPSC queue of at least `capacity` bytes (rounded up to a power
/// of two; at least 64).
///
/// # Errors
///
/// [`Error::CapacityTooSmall`], [`Error::CapacityTooLarge`] or
/// [`Error::OutOfMemory`].
pub fn new(capacity: usize) -> Result<(Producer, Consumer), Error> {
    let ring = Ring::new_heap(Mode::Mpsc, capacity)?;
    Ok((
        Producer::new(ring.share(), Owner::LOCAL),
        Consumer::new(ring),
    ))
}

/// A writing end of an MPSC queue: share it between threads by reference
/// (it is `Sync`), or `Clone` it for each producing thread.
///
/// Each clone keeps its own cached view of the consumer's position, so
/// threads with their own clones never write a shared line to claim; threads
/// that share one producer share that cache too.
pub struct Producer {
    ring: Ring,
    /// A `head` read earlier through this producer (never ahead of the
    /// shared one, which only grows), by any thread sharing it. Stored with
    /// Release after the Acquire load of `head` and loaded with Acquire, so
    /// a thread that claims on the strength of another thread's read still
    /// happens-after the consumer's release of that space. On x86 both are
    /// plain moves: the same code as the `Cell` this once was.
    cached_head: AtomicU64,
    /// Who this producer (and its clones) is in its claims.
    owner: Owner,
}

impl Clone for Producer {
    fn clone(&self) -> Self {
        Self {
            ring: self.ring.share(),
            // Acquire: see the field; the clone's first claim may rely on it.
            cached_head: AtomicU64::new(self.cached_head.load(Ordering::Acquire)),
            owner: self.owner.clone(),
        }
    }
}

impl Producer {
    /// A producer of an MPSC ring.
    pub(crate) fn new(ring: Ring, owner: Owner) -> Self {
        // Acquire: the cached head decides what may be overwritten without a
        // re-read, so it pairs with the consumer's Release store like any other.
        let head = ring.header().head.0.load(Ordering::Acquire);
        Self {
            ring,
            cached_head: AtomicU64::new(head),
            owner,
        }
    }

    /// Claims space for a record of `len` payload bytes.
    ///
    /// A producer may hold several claims at once; each is committed (or
    /// aborted) independently.
    ///
    /// # Errors
    ///
    /// [`ClaimError::TooLarge`] at once if `len > max_record_len()`;
    /// [`ClaimError::Full`] if the consumer has not yet released enough space;
    /// [`ClaimError::Corrupt`] if the shared positions are impossible (a
    /// damaged ring file). A stale view of the shared positions is retried,
    /// never reported as `Full`.
    #[must_use = "a claim that is dropped without commit() is aborted"]
    #[inline]
    pub fn try_claim(&self, len: usize) -> Result<WriteClaim<'_>, ClaimError> {
        match self.reserve(len) {
            Ok(pos) => Ok(WriteClaim::new(&self.ring, pos, len as u64)),
            Err(error) => Err(count_full(&self.ring, error)),
        }
    }

    /// Reserves space for a record of `len` payload bytes, marks it
    /// `Claimed`, and returns its position; the caller must make it a claim
    /// at once with `WriteClaim::new`. Counts nothing: a `Full` here may be
    /// retried.
    #[inline]
    pub(crate) fn reserve(&self, len: usize) -> Result<u64, ClaimError> {
        let max = self.ring.max_record_len();
        if len as u64 > max {
            return Err(ClaimError::TooLarge {
                len,
                max: max as usize,
            });
        }
        let span = span_of(len as u64);
        let capacity = self.ring.capacity();
        let header = self.ring.header();
        // Relaxed: tail only arbitrates between producers (the CAS below); what
        // a producer writes is ordered by head (Acquire) and its commit (Release).
        let mut tail = header.tail.0.load(Ordering::Relaxed);
        let padding = loop {
            let padding = wrap_padding(&self.ring, tail, span);
            let need = padding + span;
            // Acquire: pairs with the Release store below, made (perhaps by
            // another thread sharing this producer) after an Acquire load of
            // `head`: the consumer's release of the space happens-before our
            // writes to it.
            if !fits(
                tail.wrapping_sub(self.cached_head.load(Ordering::Acquire)),
                need,
                capacity,
            ) {
                // Acquire: pairs with the consumer's Release store of head, so
                // its reads and zeroing below head happen-before we write there.
                let head = header.head.0.load(Ordering::Acquire);
                // Release: pairs with the Acquire load above (see the field).
                // A thread sharing this producer may store an older head over
                // it; that costs one more re-read, never a wrong claim: every
                // value stored was the shared head once, and head only grows.
                self.cached_head.store(head, Ordering::Release);
                if !fits(tail.wrapping_sub(head), need, capacity) {
                    // Full only if tail has not moved: a tail read before the
                    // head it is compared with may be stale. (A tail read after
                    // that head is at least head, so this cannot spin forever.)
                    let now = header.tail.0.load(Ordering::Relaxed);
                    if now != tail {
                        tail = now;
                        continue;
                    }
                    let behind = head.wrapping_sub(tail);
                    if behind != 0 && behind <= capacity {
                        // The consumer is past an unchanged tail, which no
                        // producer does (each reserves before it writes): a
                        // damaged ring file. Every claim would be refused for
                        // ever; move the tail up to the head instead.
                        // Relaxed: as for the CAS below.
                        let _ = header.tail.0.compare_exchange(
                            tail,
                            head,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        );
                        tail = header.tail.0.load(Ordering::Relaxed);
                        continue;
                    }
                    if tail.wrapping_sub(head) > capacity {
                        return Err(impossible_positions(tail, head));
                    }
                    return Err(ClaimError::Full);
                }
            }
            self.owner.announce(&self.ring, tail, need);
            // Relaxed: the CAS only makes the reserved ranges disjoint.
            match header.tail.0.compare_exchange_weak(
                tail,
                tail.wrapping_add(need),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break padding,
                Err(now) => tail = now,
            }
        };
        if padding != 0 {
            // Release: like a commit, so that the consumer's zeroing of this
            // padding, after its Acquire load, is ordered after our store.
            self.ring
                .word(tail)
                .store(Word::padding(padding), Ordering::Release);
        }
        let pos = tail.wrapping_add(padding);
        // Release: a consumer that skips this claim if its producer dies
        // zeroes it after everything the producer wrote (MPSC zeroes spans).
        self.ring.word(pos).store(
            Word::claimed(len as u64, self.owner.id()),
            Ordering::Release,
        );
        Ok(pos)
    }

    /// Sends `payload` as one record: claims, copies it in and commits,
    /// trying once.
    ///
    /// # Errors
    ///
    /// As [`try_claim`](Self::try_claim).
    #[inline]
    pub fn try_send(&self, payload: &[u8]) -> Result<(), ClaimError> {
        let mut claim = self.try_claim(payload.len())?;
        claim.copy_from_slice(payload);
        claim.commit();
        Ok(())
    }

    super::ring_observers!();
}

impl fmt::Debug for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::Producer")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}
