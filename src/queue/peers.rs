//! What an end knows of the ring's other ends, beyond the ring's memory.
//!
//! A heap ring's ends all live in this process: a producer needs no name in
//! its claims, and the channel layer counts live ends in the header. A ring
//! file's ends may live in other processes and die without a word: there a
//! producer names itself in every claim (its slot and generation), and the
//! consumer asks the operating system whether that producer still lives
//! before it skips a claim (see the `file` module).
//!
//! # The seam
//!
//! The queue layer never blocks and never makes a system call, yet its
//! consumer must sometimes ask about producers it cannot see, and tell
//! senders who wait for space that it released some. Both questions are
//! answered by the layers above, through two traits the consumer holds as
//! trait objects, chosen once when the consumer is built:
//!
//! - [`Peers`]: is the producer of the claim (or the reservation) at the
//!   head dead? Implemented by the file layer (`file::Watch`), which asks
//!   the kernel's locks and reads the clock. A heap ring has none: its
//!   claims are abandoned only once every sender is gone, which the channel
//!   layer knows, and it then says so itself (`Consumer::skip_abandoned`).
//! - [`ReleaseHook`]: space was released. Implemented by the channel layer
//!   (`channel::SpaceSignal`), which wakes senders asleep on the header's
//!   `space_waiter` word or their tasks.
//!
//! A consumer without them (`None`, every queue consumer of a heap ring)
//! pays one predictable branch where it would ask: at a word that is not
//! committed, and after publishing `head`.

use std::sync::Arc;

use crate::ring::Ring;
use crate::sync::{Ordering, compiler_fence};

/// A producer's name in the claims it makes, and what keeps it valid.
#[derive(Clone)]
pub(crate) struct Owner {
    /// The owner field of its `Claimed` words: 0 on a heap ring.
    id: u32,
    /// Its producer slot plus one (0 on a heap ring), decoded from `id`.
    slot: u32,
    /// Its slot's generation, decoded from `id`.
    generation: u32,
    /// Keeps the producer's liveness lock (ring files) for as long as any
    /// handle of this producer, or a clone of it, is alive.
    _keep: Option<Arc<dyn Send + Sync>>,
}

impl Owner {
    /// A producer of a heap ring.
    pub(crate) const LOCAL: Owner = Owner {
        id: 0,
        slot: 0,
        generation: 0,
        _keep: None,
    };

    /// A producer known as `id`, alive while `keep` is.
    #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
    pub(crate) fn new(id: u32, keep: Arc<dyn Send + Sync>) -> Self {
        let (slot, generation) = crate::ring::layout::Word::owner_slot(id)
            .map_or((0, 0), |(slot, generation)| (slot as u32 + 1, generation));
        Self {
            id,
            slot,
            generation,
            _keep: Some(keep),
        }
    }

    /// The owner field of this producer's claims.
    #[inline]
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// Records, before an MPSC producer's compare-and-swap on `tail`, that
    /// it reserves `need` bytes from `tail` (ring files; nothing on a heap
    /// ring). See "Reservations" in `ring::layout`.
    #[inline]
    pub(crate) fn announce(&self, ring: &Ring, tail: u64, need: u64) {
        if self.slot == 0 {
            return;
        }
        let entry = ring.header().reservation(self.slot as usize - 1);
        // Relaxed: read only by a consumer that found this producer dead,
        // after the kernel dropped its lock (which orders everything it
        // stored). The compiler fence keeps both stores before the CAS that
        // follows, in program order, which is what a process killed between
        // them needs.
        entry.pos.store(tail, Ordering::Relaxed);
        entry
            .need_generation
            .store(need | u64::from(self.generation) << 32, Ordering::Relaxed);
        compiler_fence(Ordering::Release);
    }
}

/// What a consumer asks about the producers of its ring, at a word that is
/// not committed: whether whoever began a record there can still finish it.
///
/// Every answer may be `false` (or `None`) while there is any doubt: a slow
/// producer's claim must never be skipped. The implementation may block
/// briefly, make system calls and read the clock (it runs only where the
/// consumer found nothing to read); the queue never does.
pub(crate) trait Peers: Send + Sync {
    /// Where a reservation at `pos` (the consumer's head) that was never
    /// marked `Claimed` ends, if its producer is known dead; `patient`
    /// waits a while at `pos` first (a live producer marks its reservation
    /// within instructions). `None` while there is any doubt.
    fn dead_reservation_end(&mut self, ring: &Ring, pos: u64, patient: bool) -> Option<u64>;

    /// Whether producers of this ring may leave reservations that no word
    /// shows (MPSC ring files: see `dead_reservation_end`).
    fn may_hold_reservations(&self) -> bool;

    /// Makes the next patient look at an unfinished record look at the
    /// clock, rather than wait for its turn among the looks counted
    /// between two readings (a receiver that slept makes few looks).
    fn hurry(&mut self);

    /// Whether the claim `owner` made at `pos` (the consumer's head) will
    /// never be committed. `false` while there is any doubt.
    fn claim_abandoned(&mut self, ring: &Ring, pos: u64, owner: u32) -> bool;
}

/// Whom a consumer tells that it published a new `head`: senders that may
/// wait for space.
pub(crate) trait ReleaseHook: Send + Sync {
    /// Called after every store of a new `head` (with Release), on the
    /// consumer's thread; `ring` is the consumer's ring.
    fn released(&self, ring: &Ring);
}
