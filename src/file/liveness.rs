//! Which ends of a ring file are alive, from the operating system's locks.
//!
//! Every end that must be known alive holds a write lock on one byte of the
//! file, through an open file description of its own (see `lock.rs`): the
//! consumer on byte [`CONSUMER_LOCK`], the producer in slot `k` on byte
//! `PRODUCER_LOCKS + k`. The kernel drops a lock when its holder closes it
//! or dies, so "locked" means "alive" with no counter for a crashed process
//! to leave behind. The locked bytes are names only: the ring never reads
//! or writes them under the lock.

use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::lock;
use crate::ring::Ring;
use crate::ring::layout::{SLOTS, Word};
use crate::sync::Ordering;
use crate::wait::{self, Barrier};

/// Byte locked by the attached consumer.
pub(crate) const CONSUMER_LOCK: u64 = 0;
/// First of the bytes locked by producers: slot `k` locks `PRODUCER_LOCKS + k`.
pub(crate) const PRODUCER_LOCKS: u64 = 1;

/// How long the consumer waits at one claim before it asks whether the
/// claim's producer is alive, and then between asks. Short enough to move
/// on well within 100 ms of a producer's death; long enough that a live
/// producer's claim costs a system call at most every few milliseconds.
pub(crate) const CLAIM_PATIENCE: Duration = Duration::from_millis(5);

/// What every end of one ring file shares: a description of the file that
/// holds no lock, to ask about the others' locks with.
pub(crate) struct Liveness {
    probe: File,
    path: PathBuf,
}

impl Liveness {
    pub(crate) fn new(probe: File, path: PathBuf) -> Self {
        Self { probe, path }
    }

    pub(crate) fn probe(&self) -> &File {
        &self.probe
    }

    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Whether a consumer holds the ring. An error asking counts as "yes":
    /// doubt never makes an end act as if the other were gone.
    pub(crate) fn consumer_attached(&self) -> bool {
        lock::is_locked(&self.probe, CONSUMER_LOCK, 1).unwrap_or(true)
    }

    /// Whether any producer holds a slot. An error asking counts as "yes".
    pub(crate) fn producers_attached(&self) -> bool {
        let attached = lock::is_locked(&self.probe, PRODUCER_LOCKS, SLOTS as u64).unwrap_or(true);
        // Acquire: a producer that let go of its slot did so after its last
        // commit; the caller's reads of the ring that follow must see those
        // commits (the kernel's lock hand-over orders the memory; this keeps
        // the compiler and CPU from hoisting our reads above the question).
        crate::sync::fence(Ordering::Acquire);
        attached
    }

    /// Whether the producer named `owner` in a claim may still commit it:
    /// its slot still has the generation the claim was made in, and the
    /// slot's lock is held. A claim that names no slot was made by no
    /// producer of this ring: nobody will commit it.
    fn owner_alive(&self, ring: &Ring, owner: u32) -> bool {
        let Some((slot, generation)) = Word::owner_slot(owner) else {
            return false;
        };
        // Acquire: pairs with the increment of a producer that took the slot
        // over, which it made before its first claim.
        let current = ring.header().generations.0[slot].load(Ordering::Acquire);
        if current & 0xffff != generation {
            // The slot has had a new producer since: it was let go of, so the
            // claim's producer is gone.
            return false;
        }
        let alive = lock::is_locked(&self.probe, PRODUCER_LOCKS + slot as u64, 1).unwrap_or(true);
        crate::sync::fence(Ordering::Acquire);
        alive
    }
}

/// The consumer's watch over the claims it waits at.
pub(crate) struct Watch {
    liveness: std::sync::Arc<Liveness>,
    /// The consumer's lock (held while this lives).
    _lock: File,
    /// The claim position the consumer has been waiting at, and since when
    /// (or since its last ask).
    waiting: Option<(u64, Instant)>,
}

impl Watch {
    pub(crate) fn new(liveness: std::sync::Arc<Liveness>, lock: File) -> Self {
        Self {
            liveness,
            _lock: lock,
            waiting: None,
        }
    }

    /// Whether the claim `owner` made at `pos` is abandoned: asks the OS
    /// once the consumer has waited at it for `CLAIM_PATIENCE`, and again
    /// each `CLAIM_PATIENCE` after that.
    pub(crate) fn claim_abandoned(&mut self, ring: &Ring, pos: u64, owner: u32) -> bool {
        let now = Instant::now();
        match self.waiting {
            Some((at, since)) if at == pos && now.duration_since(since) >= CLAIM_PATIENCE => {
                self.waiting = Some((pos, now));
                !self.liveness.owner_alive(ring, owner)
            }
            Some((at, _)) if at == pos => false,
            _ => {
                self.waiting = Some((pos, now));
                false
            }
        }
    }
}

/// A producer's slot: its lock, held while any handle of the producer lives.
/// Letting go wakes the receiver, which may be waiting to see every producer
/// gone.
pub(crate) struct Slot {
    lock: Option<File>,
    ring: Ring,
    barrier: Barrier,
}

impl Slot {
    pub(crate) fn new(lock: File, ring: Ring) -> Self {
        Self {
            lock: Some(lock),
            ring,
            barrier: Barrier::get(),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Closing the description releases the lock; only then wake.
        drop(self.lock.take());
        wait::notify(&self.ring.header().waiter.0, self.barrier);
    }
}
