//! Lock-free byte ring queues with a claim/commit API.
//!
//! [`spsc`] and [`mpsc`] differ only in how a producer reserves space; the
//! claims they hand out ([`WriteClaim`]) and the one [`Consumer`] that reads
//! both are shared. Nothing here blocks, allocates or makes a system call.
//!
//! # The claim/commit protocol
//!
//! All shared state lives in the ring's region (see `ring::layout`): `tail`,
//! `head`, and one 8-byte *record word* at the start of every record. A record
//! word is read and written only with atomic operations; payload bytes are
//! plain memory owned by exactly one side at a time. Positions are free-running
//! `u64` byte counts, so `tail - head` is the number of bytes in use.
//!
//! **Reserve.** A producer computes the record's span (`align8(8 + len)`) and,
//! if the record would cross the end of the data area, a padding span that fills
//! the rest of it. It checks `tail - head + need <= capacity` against a cached
//! `head`, re-reading the shared `head` (Acquire) only when the cached one says
//! "full". The Acquire pairs with the consumer's Release store of `head`:
//! everything the consumer did below `head` (its reads, and the zeroing
//! described under **Release**) happens-before the producer reuses those
//! bytes. SPSC then stores the
//! new `tail`; MPSC moves `tail` with a CAS, retrying on conflict, so every
//! producer owns a disjoint range. A producer reports `Full` only after a fresh
//! `head` *and* an unchanged `tail` both say so: a stale `tail` is retried, never
//! reported as full. In MPSC the `tail` may have been moved by another producer,
//! which found room under a `head` this one has not seen yet: the CAS is a
//! Release, and before refusing a claim a producer takes an Acquire fence and
//! reads `head` once more, so a `head` older than the `tail` is retried too
//! (and is never taken for a damaged ring, more than a capacity behind).
//!
//! **Claim.** The producer writes the padding word (Release, like a commit: the
//! consumer zeroes the padding after reading it), then the record word
//! `Claimed(len)` (Release: a consumer that skips the claim of a producer
//! that died zeroes it after what the producer wrote before). From that
//! moment the claimed size is visible, so a consumer can tell where the next
//! record starts even if this producer never returns. An SPSC producer also
//! zeroes the word just past its claim (see **Release**). These steps, and
//! the length check before them, are the same for both producers
//! (`producer.rs`); only the reservation differs.
//!
//! **Write.** The producer fills the payload through the claim's `&mut [u8]`.
//! No other thread touches those bytes: producers own disjoint ranges, and the
//! consumer stops at the first word that is not committed.
//!
//! **Commit.** One Release store turns the record word into `Committed(len, tag)`.
//! It publishes the payload: the consumer's Acquire load of the word makes every
//! payload write visible. If the claim was shrunk, the remainder is first made a
//! padding record (Relaxed, published by the same Release). **Abort** (explicit,
//! or dropping an uncommitted claim) stores `Padding(span)` with Release instead.
//! Commits may land in any order; the consumer still delivers in position order.
//!
//! **Read.** The consumer loads the word at its `head` with Acquire. `Empty` or
//! `Claimed` means "nothing yet": it stops there (it never reads past a record
//! that is not committed). `Padding` is skipped. `Committed` is bounds-checked
//! (length at most the maximum, span inside the data area) and handed out as a
//! `&[u8]` in place. A word no writer produces poisons the consumer with
//! [`CorruptRing`] instead of being followed.
//!
//! **Release.** The consumer zeroes what it consumed, then stores the new
//! `head` with Release. Zeroing keeps the invariant the protocol rests on: *the
//! word where the next record will start reads `Empty` until a producer claims
//! it*, whatever payload bytes stood there in the previous lap. A batch read
//! zeroes each record as it goes (while its lines are in cache) and publishes
//! `head` once.
//!
//! - **MPSC**: the consumer zeroes every byte of every record and padding span,
//!   so all free space is zero. (A producer cannot clean the word past its own
//!   claim: another producer may already have claimed there.)
//! - **SPSC**: the consumer zeroes only the record words it passes, and the
//!   producer, at each claim, zeroes the word just past it when that word is free
//!   space (published by the claim's commit or abort). If it is not free, the
//!   claim ends exactly one lap past the cached `head`, a position the consumer
//!   published: that word is a record word of the lap being consumed, which the
//!   consumer zeroes when it passes it. Payload bytes are never written twice,
//!   so the lines the consumer reads are not pulled back into its cache to be
//!   zeroed; this keeps the per-record read path close to a plain copy.
//!   The consumer's part is not optional: when a claim wraps, the padding word
//!   is published before the `Claimed` word at index 0, so a consumer that
//!   follows the padding may read index 0 first. Index 0 starts a record in
//!   every lap, so the consumer zeroed it a lap earlier and it reads `Empty`;
//!   without that, it would still hold the previous lap's record word.
//!
//! # What the queue asks of the layers above
//!
//! The queue never blocks, allocates on its hot paths, or makes a system
//! call. Two things it cannot know are asked through traits (`peers.rs`),
//! chosen once when the consumer is built: whether the producer of a claim
//! the consumer waits at is dead (`Peers`, answered by the `file` layer
//! from the kernel's locks), and whom to tell that space was released
//! (`ReleaseHook`, the channel layer's wake of waiting senders). A queue
//! consumer of a heap ring has neither: at a word that is not committed,
//! and after a release, it pays one predictable branch. What the consumer
//! does when a producer is dead is in `recovery.rs`, with the takeover of a
//! dead SPSC producer's place.

mod claim;
pub(crate) mod consumer;
mod error;
pub mod mpsc;
pub(crate) mod peers;
mod producer;
mod recovery;
pub mod spsc;

pub use claim::WriteClaim;
pub use consumer::{Consumer, ReadClaim, Record};
pub use error::{ClaimError, TryRecvError};

use crate::error::CorruptRing;
use crate::ring::Ring;
use crate::sync::Ordering;

// The handles' thread-safety promises, checked at compile time: every end can
// move to another thread, and an MPSC producer is shared by reference or
// cloned, one per thread, as std's and crossbeam's senders are.
const _: () = {
    const fn send<T: Send>() {}
    const fn sync<T: Sync>() {}
    const fn clone<T: Clone>() {}
    send::<spsc::Producer>();
    send::<mpsc::Producer>();
    sync::<mpsc::Producer>();
    send::<Consumer>();
    clone::<mpsc::Producer>();
};

/// A handle's own cache lines: a zero-sized field of this type aligns the
/// handle, and rounds its size, to crossbeam's `CachePadded` (128 bytes on
/// x86-64 and AArch64, whose prefetchers fetch lines in pairs), so that the
/// fields a handle writes for every record never share a line with another
/// handle's, which another thread may be writing. Two ends of one queue side
/// by side (on a stack, in a struct) would otherwise pass a line back and
/// forth on every hand-off: when the consumer shrank from 240 to 152 bytes,
/// the round trip of `benches/queue.rs`'s `pingpong`, whose four ends sit
/// side by side on one stack, took a fifth longer.
type OwnLines = crossbeam_utils::CachePadded<()>;

/// `true` if `need` more bytes fit when `used` bytes are in use.
///
/// `used` comes from positions in shared memory: if it exceeds the capacity
/// (a corrupt or stale `head`), nothing fits; the producers then tell the
/// two apart with a fresh `head`.
#[inline]
fn fits(used: u64, need: u64, capacity: u64) -> bool {
    used <= capacity - need
}

/// The error for a `head` that leaves more than a capacity between it and
/// `tail` (either way round): a damaged ring file, since the consumer never
/// passes the tail and producers never lap the head. Every claim would be
/// refused as `Full` for ever; it is reported as corruption instead.
#[cold]
fn impossible_positions(tail: u64, head: u64) -> ClaimError {
    ClaimError::Corrupt(CorruptRing {
        position: tail,
        word: head,
        reason: "the consumer's head is more than a capacity away from the tail",
    })
}

/// Padding needed before a record of `span` bytes claimed at `tail`, so that
/// the record does not cross the end of the data area.
#[inline]
fn wrap_padding(ring: &Ring, tail: u64, span: u64) -> u64 {
    let room = ring.capacity() - ring.index(tail);
    if span <= room { 0 } else { room }
}

/// Bytes in use (claimed, committed, or read but not yet released).
pub(crate) fn len_bytes(ring: &Ring) -> usize {
    let header = ring.header();
    // Relaxed: an observation, not a synchronisation. The two loads may see
    // the positions out of step, hence the saturating difference and clamp.
    let head = header.head.0.load(Ordering::Relaxed);
    let tail = header.tail.0.load(Ordering::Relaxed);
    tail.saturating_sub(head).min(ring.capacity()) as usize
}

/// Counts `error` in the ring's header if it is a `Full` rejection, and
/// returns it.
#[cold]
pub(crate) fn count_full(ring: &Ring, error: ClaimError) -> ClaimError {
    if error == ClaimError::Full {
        // Relaxed: a statistic; nothing is ordered by it.
        ring.header()
            .full_rejections
            .0
            .fetch_add(1, Ordering::Relaxed);
    }
    error
}

/// Accessors shared by every handle type.
macro_rules! ring_observers {
    () => {
        crate::queue::ring_observers!(ring);
    };
    ($($ring:ident).+) => {
        /// The ring this end is of: the crate's front-ends reach its
        /// dictionary through it.
        #[allow(dead_code)] // used by the event front-ends
        #[inline]
        pub(crate) fn ring(&self) -> &crate::ring::Ring {
            &self.$($ring).+
        }

        /// Data area size in bytes (the requested capacity rounded up to a power
        /// of two).
        #[inline]
        pub fn capacity(&self) -> usize {
            self.$($ring).+.capacity() as usize
        }

        /// Largest payload a single record can carry: `capacity / 2 - 8` (at
        /// most 1 GiB - 16). Every length up to it can be claimed on an empty
        /// ring, wherever the ring's positions stand.
        #[inline]
        pub fn max_record_len(&self) -> usize {
            self.$($ring).+.max_record_len() as usize
        }

        /// Bytes in use: claimed, committed, or read and not yet released.
        /// A snapshot; it may be stale by the time it returns.
        pub fn len_bytes(&self) -> usize {
            crate::queue::len_bytes(&self.$($ring).+)
        }

        /// `true` if no bytes are in use (see [`len_bytes`](Self::len_bytes)).
        pub fn is_empty(&self) -> bool {
            self.len_bytes() == 0
        }

        /// Claims refused with `Full` over the ring's life, by any producer.
        pub fn full_rejections(&self) -> u64 {
            // Relaxed: a statistic.
            self.$($ring).+
                .header()
                .full_rejections
                .0
                .load(crate::sync::Ordering::Relaxed)
        }
    };
}
pub(crate) use ring_observers;

#[cfg(all(test, loom))]
mod loom;
#[cfg(all(test, not(loom)))]
mod tests;
