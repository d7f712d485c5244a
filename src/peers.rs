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

/// A producer's name in the claims it makes, and what keeps it valid.
#[derive(Clone, Default)]
pub(crate) struct Owner {
    /// The owner field of its `Claimed` words: 0 on a heap ring.
    id: u32,
    /// Keeps the producer's liveness lock (ring files) for as long as any
    /// handle of this producer, or a clone of it, is alive.
    _keep: Option<Arc<dyn Send + Sync>>,
}

impl Owner {
    /// A producer of a heap ring.
    pub(crate) const LOCAL: Owner = Owner { id: 0, _keep: None };

    /// A producer known as `id`, alive while `keep` is.
    #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
    pub(crate) fn new(id: u32, keep: Arc<dyn Send + Sync>) -> Self {
        Self {
            id,
            _keep: Some(keep),
        }
    }

    /// The owner field of this producer's claims.
    #[inline]
    pub(crate) fn id(&self) -> u32 {
        self.id
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
