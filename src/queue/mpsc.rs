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

use super::peers::Owner;
use super::producer::{self, Core};
use super::{ClaimError, OwnLines, fits, impossible_positions, wrap_padding};
pub use super::{Consumer, ReadClaim, Record, WriteClaim};
use crate::error::Error;
use crate::ring::Ring;
use crate::ring::layout::Mode;
use crate::sync::{AtomicU64, Ordering, fence};

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
    core: Core,
    /// A `head` read earlier through this producer (never ahead of the
    /// shared one, which only grows), by any thread sharing it. Stored with
    /// Release after the Acquire load of `head` and loaded with Acquire, so
    /// a thread that claims on the strength of another thread's read still
    /// happens-after the consumer's release of that space. On x86 both are
    /// plain moves: the same code as the `Cell` this once was.
    cached_head: AtomicU64,
    /// Keeps `cached_head` off other handles' lines (clones, perhaps on
    /// other threads, each have their own).
    _lines: OwnLines,
}

impl Clone for Producer {
    fn clone(&self) -> Self {
        Self {
            core: self.core.share(),
            // Acquire: see the field; the clone's first claim may rely on it.
            cached_head: AtomicU64::new(self.cached_head.load(Ordering::Acquire)),
            _lines: OwnLines::new(()),
        }
    }
}

impl Producer {
    /// A producer of an MPSC ring.
    pub(crate) fn new(ring: Ring, owner: Owner) -> Self {
        let (core, head) = Core::new(ring, owner);
        Self {
            core,
            cached_head: AtomicU64::new(head),
            _lines: OwnLines::new(()),
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
    #[inline(always)]
    pub fn try_claim(&self, len: usize) -> Result<WriteClaim<'_>, ClaimError> {
        self.core.claim(self.reserve(len), len)
    }

    /// Sends `payload` as one record: claims, copies it in and commits,
    /// trying once.
    ///
    /// # Errors
    ///
    /// As [`try_claim`](Self::try_claim).
    #[inline]
    pub fn try_send(&self, payload: &[u8]) -> Result<(), ClaimError> {
        producer::send(self.try_claim(payload.len()), payload)
    }

    /// Reserves space for a record of `len` payload bytes, marks it
    /// `Claimed`, and returns its position; the caller must make it a claim
    /// at once with `WriteClaim::new`. Counts nothing: a `Full` here may be
    /// retried.
    #[inline]
    pub(crate) fn reserve(&self, len: usize) -> Result<u64, ClaimError> {
        let span = self.core.span(len)?;
        let ring = &self.core.ring;
        let capacity = ring.capacity();
        let header = ring.header();
        // Relaxed: tail arbitrates between producers (the CAS below), and what
        // a producer writes is ordered by head (Acquire) and its commit
        // (Release); before a claim is refused, a fence orders it (below).
        let mut tail = header.tail.0.load(Ordering::Relaxed);
        let padding = loop {
            let padding = wrap_padding(ring, tail, span);
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
                        // Release: as for the CAS below.
                        let _ = header.tail.0.compare_exchange(
                            tail,
                            head,
                            Ordering::Release,
                            Ordering::Relaxed,
                        );
                        tail = header.tail.0.load(Ordering::Relaxed);
                        continue;
                    }
                    // Nor if head has: nothing ordered our load of tail before
                    // the load of head, so that head may be older than the one
                    // the producer that moved tail here found room under (and
                    // then even more than a capacity behind tail).
                    // Acquire: pairs with the Release of the compare-and-swap
                    // that stored `tail` (below), so the head loaded next is at
                    // least that producer's.
                    fence(Ordering::Acquire);
                    // Acquire: as above.
                    let fresh = header.head.0.load(Ordering::Acquire);
                    if fresh != head {
                        // Release: as above.
                        self.cached_head.store(fresh, Ordering::Release);
                        continue;
                    }
                    if tail.wrapping_sub(head) > capacity {
                        return Err(impossible_positions(tail, head));
                    }
                    return Err(ClaimError::Full);
                }
            }
            self.core.owner.announce(ring, tail, need);
            // Release: pairs with the Acquire fence of a producer that finds
            // no room at the tail stored here (above): the head under which we
            // found room happens-before its last look at head. (Free on x86,
            // where every compare-and-swap is a full barrier.) Otherwise the
            // CAS only makes the reserved ranges disjoint; what a producer
            // writes is ordered by head (Acquire) and its commit (Release).
            match header.tail.0.compare_exchange_weak(
                tail,
                tail.wrapping_add(need),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break padding,
                Err(now) => tail = now,
            }
        };
        Ok(self.core.mark(tail, padding, len))
    }

    super::ring_observers!(core.ring);
}

impl fmt::Debug for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::Producer")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}
