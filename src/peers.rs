//! What an end knows of the ring's other ends, beyond the ring's memory.
//!
//! A heap ring's ends all live in this process: a producer needs no name in
//! its claims, and the channel layer counts live ends in the header. A ring
//! file's ends may live in other processes and die without a word: there a
//! producer names itself in every claim (its slot and generation), and the
//! consumer asks the operating system whether that producer still lives
//! before it skips a claim (see the `file` module).

use std::sync::Arc;

use crate::ring::Ring;
use crate::sync::Ordering;

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
        std::sync::atomic::compiler_fence(Ordering::Release);
    }
}

/// The consumer's view of the producers.
pub(crate) enum Peers {
    /// A heap ring: a claim is abandoned only once every sender is gone,
    /// which the channel layer knows (`Receiver::drain`).
    Local,
    /// A ring file: a claim is abandoned once its owner is known dead.
    #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
    File(crate::file::Watch),
}

impl Peers {
    /// Where a reservation at `pos` (the consumer's head) that was never
    /// marked `Claimed` ends, if its producer is known dead; `patient`
    /// waits a while at `pos` first (a live producer marks its reservation
    /// within instructions). `None` while there is any doubt.
    #[inline]
    pub(crate) fn dead_reservation_end(
        &mut self,
        _ring: &Ring,
        _pos: u64,
        _patient: bool,
    ) -> Option<u64> {
        match self {
            Peers::Local => None,
            #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
            Peers::File(watch) => watch.dead_reservation_end(_ring, _pos, _patient),
        }
    }

    /// Whether producers of this ring may leave reservations that no word
    /// shows (MPSC ring files: see `dead_reservation_end`).
    #[inline]
    pub(crate) fn may_hold_reservations(&self) -> bool {
        match self {
            Peers::Local => false,
            #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
            Peers::File(watch) => watch.may_hold_reservations(),
        }
    }

    /// Makes the next patient look at an unfinished record look at the
    /// clock, rather than wait for its turn among the looks counted
    /// between two readings (see `Watch::hurry`).
    #[inline]
    pub(crate) fn hurry(&mut self) {
        match self {
            Peers::Local => {}
            #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
            Peers::File(watch) => watch.hurry(),
        }
    }

    /// Whether the claim `owner` made at `pos` (the consumer's head) will
    /// never be committed. `false` while there is any doubt: a slow producer's
    /// claim is never skipped.
    #[inline]
    pub(crate) fn claim_abandoned(&mut self, _ring: &Ring, _pos: u64, _owner: u32) -> bool {
        match self {
            Peers::Local => false,
            #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
            Peers::File(watch) => watch.claim_abandoned(_ring, _pos, _owner),
        }
    }
}
