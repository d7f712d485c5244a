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
use crate::queue::peers::Peers;
use crate::ring::Ring;
use crate::ring::layout::{GENERATION_MASK, Header, SLOTS, WORD, Word};
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

    /// How many producer slots are held by live producers (clones of one
    /// producer share a slot). A slot the kernel cannot be asked about
    /// counts as held.
    pub(crate) fn producer_slots_held(&self, slots: usize) -> usize {
        (0..slots as u64)
            .filter(|&slot| lock::is_locked(&self.probe, PRODUCER_LOCKS + slot, 1).unwrap_or(true))
            .count()
    }

    /// Whether any producer holds a slot. An error asking counts as "yes".
    /// After a "no", the caller's reads of the ring see every commit of the
    /// producers that let go.
    pub(crate) fn producers_attached(&self) -> bool {
        // No fence: a producer lets go of its slot after its last commit,
        // and the kernel's lock orders the two ("Lock release orders
        // memory" in the module docs).
        lock::is_locked(&self.probe, PRODUCER_LOCKS, SLOTS as u64).unwrap_or(true)
    }

    /// Whether the producer in `slot` is the one of `generation` (as an
    /// owner field keeps it) and alive. An error asking counts as alive.
    fn slot_alive(&self, header: &Header, slot: usize, generation: u32) -> bool {
        // Acquire: pairs with the increment of a producer that took the slot
        // over, which it made before its first claim and after it took the
        // slot's lock: the producer before it is gone, and what that one
        // stored is visible to us as well ("Lock release orders memory" in
        // the module docs).
        let current = header.generations.0[slot].load(Ordering::Acquire);
        if current & GENERATION_MASK != generation {
            // The slot has had a new producer since: it was let go of, so the
            // producer of `generation` is gone.
            return false;
        }
        // What the consumer reads after this question of a producer found
        // dead (the word of its claim, or at its reservation) is what that
        // producer stored last ("Lock release orders memory" in the module
        // docs).
        lock::is_locked(&self.probe, PRODUCER_LOCKS + slot as u64, 1).unwrap_or(true)
    }

    /// Where the reservation covering `pos`, never marked `Claimed`, ends,
    /// if every producer whose latest reservation covers `pos` is dead and
    /// they agree on its end. `tail` was read before the question, so a
    /// producer that attaches meanwhile reserves past it. `None` while any
    /// of them lives (it may be the one between its CAS and its mark), or if
    /// no entry explains the gap (its producer's slot was reused since).
    pub(crate) fn dead_reservation_end(
        &self,
        header: &Header,
        capacity: u64,
        pos: u64,
        tail: u64,
    ) -> Option<u64> {
        let mut end = None;
        for slot in 0..SLOTS {
            let entry = header.reservation(slot);
            // Relaxed: entries are stored Relaxed (no Release to pair with).
            // Read before the question below, an entry may be older than its
            // producer's last one; that only makes us wait, or is caught by
            // the caller's re-check of the word at `pos` after the question,
            // which sees everything a dead producer stored ("Lock release
            // orders memory" in the module docs). A live producer's entry
            // only ever makes us wait.
            let need_generation = entry.need_generation.load(Ordering::Relaxed);
            let need = need_generation & 0xffff_ffff;
            let from = entry.pos.load(Ordering::Relaxed);
            if need == 0 || pos.wrapping_sub(from) >= need {
                continue;
            }
            if (from | need) % WORD != 0 || need > capacity {
                // No producer writes such an entry: a corrupt header. Never
                // move the consumer by it.
                return None;
            }
            if self.slot_alive(header, slot, (need_generation >> 32) as u32) {
                return None;
            }
            let candidate = from.wrapping_add(need);
            let past_tail = candidate.wrapping_sub(tail) as i64 > 0;
            if past_tail || candidate.wrapping_sub(pos) > capacity {
                return None;
            }
            match end {
                None => end = Some(candidate),
                Some(seen) if seen == candidate => {}
                Some(_) => return None,
            }
        }
        end
    }

    /// Whether the producer named `owner` in a claim may still commit it:
    /// its slot still has the generation the claim was made in, and the
    /// slot's lock is held. A claim that names no slot was made by no
    /// producer of this ring: nobody will commit it.
    pub(crate) fn owner_alive(&self, header: &Header, owner: u32) -> bool {
        let Some((slot, generation)) = Word::owner_slot(owner) else {
            return false;
        };
        self.slot_alive(header, slot, generation)
    }
}

/// What the channel ends of a ring file ask about the others: the OS's locks.
impl crate::channel::Attachment for Liveness {
    fn consumer_attached(&self) -> bool {
        Liveness::consumer_attached(self)
    }

    fn producers_attached(&self) -> bool {
        Liveness::producers_attached(self)
    }
}

/// Whether the latest reservation of producer slot `slot`, whose producer is
/// gone (the caller holds the slot's lock), may still be a gap the consumer
/// has not stepped over: never marked `Claimed` (its first word is empty,
/// or the word after its wrap padding is) and not yet passed by the
/// consumer. A new MPSC producer must not take such a slot: its first
/// reservation would overwrite the entry that explains the gap, and the
/// consumer would wait at the gap for ever. A doubt answers "yes", which
/// costs the new producer a slot further on.
pub(crate) fn reservation_unfinished(ring: &Ring, slot: usize) -> bool {
    let entry = ring.header().reservation(slot);
    // Relaxed: entries are stored Relaxed (no Release to pair with). The
    // previous holder is gone, and the lock the caller took makes its entry
    // and words final for these reads ("Lock release orders memory" in the
    // module docs).
    let need = entry.need_generation.load(Ordering::Relaxed) & 0xffff_ffff;
    let from = entry.pos.load(Ordering::Relaxed);
    if need == 0 || (from | need) % WORD != 0 || need > ring.capacity() {
        return false; // never reserved, or an entry no producer writes
    }
    // Acquire: a head past the reservation means the consumer zeroed it.
    let head = ring.header().head.0.load(Ordering::Acquire);
    let ahead = from.wrapping_add(need).wrapping_sub(head);
    if ahead == 0 || ahead > ring.capacity() {
        return false; // the consumer is past it
    }
    // Acquire: as every load of a record word, pairing with the Release
    // writes that mark, commit or skip it; a dead producer's own marks are
    // visible anyway (the lock, as above).
    let first = ring.word(from).load(Ordering::Acquire);
    match Word::decode(first) {
        Word::Empty => true,
        Word::Padding { span } if span < need => {
            ring.word(from.wrapping_add(span)).load(Ordering::Acquire) == 0
        }
        _ => false,
    }
}

/// The consumer's watch over the claims it waits at.
pub(crate) struct Watch {
    liveness: std::sync::Arc<Liveness>,
    /// The consumer's lock (held while this lives; taken out in `drop`).
    lock: Option<File>,
    /// The ring, whose header names the consumer's process while it lives.
    ring: Ring,
    /// The claim position the consumer has been waiting at, and since when
    /// (or since its last ask).
    waiting: Option<(u64, Instant)>,
    /// Empty looks since the consumer last looked at the clock: an idle
    /// consumer asks the clock only every `EMPTY_LOOKS` looks.
    empty_looks: u32,
}

/// How many looks at an empty word the consumer makes per look at the clock.
const EMPTY_LOOKS: u32 = 64;

impl Watch {
    /// The watch of a consumer that has just taken the consumer `lock`:
    /// names this process in the header for whoever asks who holds it.
    pub(crate) fn new(liveness: std::sync::Arc<Liveness>, lock: File, ring: Ring) -> Self {
        // Relaxed: information for people (`RingFile::consumer_pid`), read
        // only while the lock shows a consumer attached; nothing is ordered
        // by it.
        ring.header()
            .consumer_pid
            .0
            .store(std::process::id(), Ordering::Relaxed);
        Self {
            liveness,
            lock: Some(lock),
            ring,
            waiting: None,
            empty_looks: 0,
        }
    }

    /// Whether the consumer has waited at `pos` for `CLAIM_PATIENCE` (since
    /// it arrived, or since it last asked): then it is time to ask.
    fn patience_spent(&mut self, pos: u64) -> bool {
        let now = Instant::now();
        match self.waiting {
            Some((at, since)) if at == pos && now.duration_since(since) >= CLAIM_PATIENCE => {
                self.waiting = Some((pos, now));
                true
            }
            Some((at, _)) if at == pos => false,
            _ => {
                self.waiting = Some((pos, now));
                false
            }
        }
    }
}

/// The consumer's questions about its ring file's producers, answered from
/// their locks and the clock (the queue asks through this seam, and makes no
/// system call itself).
impl Peers for Watch {
    /// Whether the ring's producers reserve space before they mark it (MPSC):
    /// then an empty word below `tail` may be a dead producer's reservation.
    fn may_hold_reservations(&self) -> bool {
        self.ring.mode() == crate::ring::layout::Mode::Mpsc
    }

    /// Lets the next patient look at an empty word look at the clock. A
    /// consumer that polls counts `EMPTY_LOOKS` looks per reading of the
    /// clock; a receiver that wakes from a nap makes one or two looks per
    /// nap, and would take `EMPTY_LOOKS` naps to get round to asking
    /// whether a dead producer left the gap it waits at.
    fn hurry(&mut self) {
        self.empty_looks = EMPTY_LOOKS - 1;
    }

    /// Where the reservation at `pos` (an empty word below `tail`) ends, if
    /// its producer died before marking it `Claimed` (MPSC rings only: an
    /// SPSC producer marks its claim before it moves `tail`). With
    /// `patient`, asks only after `CLAIM_PATIENCE` at `pos`, and looks at the
    /// clock only every `EMPTY_LOOKS` empty looks.
    fn dead_reservation_end(&mut self, ring: &Ring, pos: u64, patient: bool) -> Option<u64> {
        if ring.mode() != crate::ring::layout::Mode::Mpsc {
            return None;
        }
        if patient {
            self.empty_looks = self.empty_looks.wrapping_add(1);
            if self.empty_looks % EMPTY_LOOKS != 0 {
                return None;
            }
        }
        // Relaxed: a bound for the question below, read before it.
        let tail = ring.header().tail.0.load(Ordering::Relaxed);
        let reserved = tail.wrapping_sub(pos);
        if reserved == 0 || reserved > ring.capacity() {
            return None; // nothing reserved at `pos`: an empty ring
        }
        if patient && !self.patience_spent(pos) {
            return None;
        }
        self.liveness
            .dead_reservation_end(ring.header(), ring.capacity(), pos, tail)
    }

    /// Whether the claim `owner` made at `pos` is abandoned: asks the OS
    /// once the consumer has waited at it for `CLAIM_PATIENCE`, and again
    /// each `CLAIM_PATIENCE` after that.
    fn claim_abandoned(&mut self, ring: &Ring, pos: u64, owner: u32) -> bool {
        self.patience_spent(pos) && !self.liveness.owner_alive(ring.header(), owner)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // Relaxed: as in `new`. Cleared while the lock is still held, so a
        // successor (which stores its own id only once it has the lock) is
        // never wiped out.
        self.ring
            .header()
            .consumer_pid
            .0
            .store(0, Ordering::Relaxed);
        drop(self.lock.take());
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
            barrier: Barrier::for_ring(ring.header()),
            ring,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Closing the description releases the lock; only then wake.
        drop(self.lock.take());
        wait::notify(&self.ring.header().waiter.0, self.barrier, None);
    }
}
