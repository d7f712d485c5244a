//! Crash recovery: what the queue does so that an end that dies, or leaks a
//! claim, never wedges the ring.
//!
//! - A consumer that attaches after another ([`Consumer::attach`]) finishes
//!   the release its predecessor may have died in the middle of.
//! - A consumer skips what a dead producer left at its head: a claim (its
//!   size is in its word from the moment it is made) or, in an MPSC ring
//!   file, a reservation never marked `Claimed` (its size is in the
//!   producer's reservation entry). Whether the producer is dead is the
//!   [`Peers`](super::peers::Peers)' answer (ring files), or the caller's
//!   promise ([`Consumer::skip_abandoned`], once every sender is gone).
//! - An SPSC producer that takes a dead one's place ([`take_over`]) turns
//!   what its predecessor left past `tail` into padding.
//!
//! The consumer's `consumed` mark in the header ties these together: the
//! consumer stores it (Relaxed) before it zeroes what it covers, and
//! publishes it with the Release store (or compare-and-swap) that clears a
//! record word. A successor that finds a word cleared, with an Acquire load,
//! also finds the mark that covers it.
//!
//! None of this is on the per-record path: the consumer comes here only at a
//! word that is not committed, and only if it has `Peers` to ask.

use super::consumer::Consumer;
use super::peers::Peers;
use crate::ring::Ring;
use crate::ring::layout::{WORD, Word, span_of};
use crate::sync::{Ordering, fence};

impl Consumer {
    /// The consumer of a ring that may have had one before (a ring file),
    /// resuming at the shared `head`, asking `peers` (if any) whether the
    /// producers it waits at live. The caller holds the ring's consumer
    /// lock, so any earlier consumer is gone; if it died between zeroing
    /// what it consumed and publishing `head`, the release is finished here.
    /// Records it read but did not release are delivered again.
    pub(crate) fn attach(ring: Ring, peers: Option<Box<dyn Peers>>, retain: u64) -> Self {
        let header = ring.header();
        // Acquire: pairs with the Release store of head by a previous consumer
        // of this ring (`release`), so its zeroing is visible before we reuse
        // positions past it.
        let mut head = header.head.0.load(Ordering::Acquire);
        // Relaxed: only consumers write it, and the previous one is gone
        // (its stores reach us through the lock hand-over, or the thread that
        // moved the ring here).
        let consumed = header.consumed.0.load(Ordering::Relaxed);
        let pending = consumed.wrapping_sub(head);
        if pending != 0 && pending <= ring.capacity() && pending % WORD == 0 && head % WORD == 0 {
            // `[head, consumed)` was delivered and released by the previous
            // consumer, and is partly zeroed: zero all of it (it may wrap).
            // SAFETY: `pending <= capacity`; the range holds only consumed
            // records, and no producer writes below the unpublished head.
            unsafe { ring.zero_wrapping(head, pending) };
            head = consumed;
            // Release: as in `release`.
            header.head.0.store(head, Ordering::Release);
        }
        let next = if retain != 0 {
            resume_after_retained(&ring, head)
        } else {
            head
        };
        Self::resume(ring, head, next, retain, peers)
    }

    /// Skips the reservation at `head` (an empty word) if `peers` says its
    /// producer died before marking it; `patient` as for
    /// [`Peers::dead_reservation_end`]. Returns whether it did.
    #[cold]
    #[inline(never)]
    pub(super) fn skip_dead_reservation(&mut self, pos: u64, patient: bool) -> bool {
        let Some(peers) = self.peers.as_mut() else {
            return false;
        };
        let end = peers.dead_reservation_end(&self.ring, pos, patient);
        end.is_some_and(|end| self.skip_reservation(pos, end))
    }

    /// Skips the claim `raw` that `owner` made at `head` if `peers` says it
    /// is abandoned. Returns whether it did.
    #[cold]
    #[inline(never)]
    pub(super) fn skip_dead_claim(&mut self, pos: u64, raw: u64, len: u64, owner: u32) -> bool {
        let Some(peers) = self.peers.as_mut() else {
            return false;
        };
        peers.claim_abandoned(&self.ring, pos, owner) && self.skip_claim(pos, raw, len)
    }

    /// Skips what an abandoned producer left at `head`, counting it in the
    /// ring's `skipped_claims`; returns whether it did. That is a claim (its
    /// size is in its word from the moment it is made, so the consumer knows
    /// where the next record starts without its producer), or a ring file
    /// reservation its producer never marked `Claimed` (see
    /// `Peers::dead_reservation_end`).
    ///
    /// # Safety
    ///
    /// No producer will ever write to the ring's reserved space again (every
    /// producer is gone, or leaked its claims), so none is in the middle of
    /// marking a reservation. A producer that later takes over a dead SPSC
    /// producer's place may race to turn the claim into padding; the
    /// compare-and-swap in `skip_claim` settles that race.
    pub(crate) unsafe fn skip_abandoned(&mut self) -> bool {
        if self.corruption.is_some() {
            return false;
        }
        let pos = self.head;
        // Acquire: as in `next`; the claim's writes happen-before our zeroing.
        let raw = self.ring.word(pos).load(Ordering::Acquire);
        let skipped = match Word::decode(raw) {
            Word::Claimed { len, .. } => self.skip_claim(pos, raw, len),
            Word::Empty => self.skip_dead_reservation(pos, false),
            _ => false,
        };
        self.release();
        skipped
    }

    /// Skips `[pos, end)` (`pos` = `head`), a reservation whose producer died
    /// before marking it, counting it with the skipped claims. `false` if the
    /// word at `pos` is no longer empty.
    #[cold]
    fn skip_reservation(&mut self, pos: u64, end: u64) -> bool {
        // Acquire: as in `next`.
        if self.ring.word(pos).load(Ordering::Acquire) != 0 {
            return false;
        }
        let span = end.wrapping_sub(pos);
        // The range may run past the end of the data area (its wrap padding
        // was never written). Nothing was written in it but, perhaps, stale
        // words.
        if self.retain != 0 {
            let first = span.min(self.ring.capacity() - self.ring.index(pos));
            // A retaining consumer leaves what it consumed in place, walkable
            // by its words: the reservation becomes padding (a piece to the
            // end of the data area, and the rest from its start), consumed
            // as padding is. Release, the second piece first: whoever loads
            // the first piece with Acquire also finds the second.
            if span > first {
                self.ring
                    .word(pos.wrapping_add(first))
                    .store(Word::padding(span - first), Ordering::Release);
            }
            self.ring
                .word(pos)
                .store(Word::padding(first), Ordering::Release);
            self.consume(pos, first);
            if span > first {
                self.consume(pos.wrapping_add(first), span - first);
            }
        } else {
            // Relaxed, then a Release fence: as in `consume`, stored before
            // the zeroing it covers.
            self.ring.header().consumed.0.store(end, Ordering::Relaxed);
            fence(Ordering::Release);
            // SAFETY: the caller checked `span <= capacity`; the
            // reservation's producer is dead and nobody else writes below the
            // unpublished head.
            unsafe { self.ring.zero_wrapping(pos, span) };
            self.head = end;
        }
        // Relaxed: a statistic.
        self.ring
            .header()
            .skipped_claims
            .0
            .fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Skips the abandoned claim `raw` at `pos` (= `head`), counting it.
    /// `false` if its length is out of bounds (the ring is then poisoned) or
    /// the word changed meanwhile (a new producer padded it: read it again).
    #[cold]
    fn skip_claim(&mut self, pos: u64, raw: u64, len: u64) -> bool {
        let room = self.ring.capacity() - self.ring.index(pos);
        if len > self.ring.max_record_len() || span_of(len) > room {
            self.poison(pos, raw, "claimed length out of bounds");
            return false;
        }
        if self.retain != 0 {
            // A retaining consumer leaves what it consumed in place, walkable
            // by its words: the claim becomes padding, as a taking-over SPSC
            // producer would make it, and is consumed as padding is. Nothing
            // is cleared, so `take_over` needs no mark to tell it apart.
            // AcqRel: Acquire as below; Release as for a producer's padding.
            // Failure: the word changed (a producer padded it): read it again.
            if self
                .ring
                .word(pos)
                .compare_exchange(
                    raw,
                    Word::padding(span_of(len)),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_err()
            {
                return false;
            }
            self.consume(pos, span_of(len));
            // Relaxed: a statistic.
            self.ring
                .header()
                .skipped_claims
                .0
                .fetch_add(1, Ordering::Relaxed);
            return true;
        }
        // Announce the skip before making it, so that a producer taking over
        // that sees the claim gone also sees how far we got (`take_over`). If
        // the swap below fails, the claim became padding, which we consume
        // next; the mark is then merely early.
        // Relaxed: published by the Release half of the swap below.
        self.ring
            .header()
            .consumed
            .0
            .store(pos.wrapping_add(span_of(len)), Ordering::Relaxed);
        // AcqRel: Acquire pairs with the Release store of the claim (or of the
        // padding a taking-over producer put in its place), so what was
        // written before it happens-before our zeroing; Release publishes the
        // mark above with the cleared word, to `take_over`'s Acquire load of
        // it. A CAS, not a store: a restarted SPSC producer may be padding the
        // same claim.
        if self
            .ring
            .word(pos)
            .compare_exchange(raw, 0, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        self.consume(pos, span_of(len));
        // Relaxed: a statistic.
        self.ring
            .header()
            .skipped_claims
            .0
            .fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Whether the consumer is stopped where a producer has begun a record
    /// it has not finished: at a claim, or (ring files) at an empty word
    /// below `tail`, inside a reservation not yet marked `Claimed`. Either
    /// producer may die there, and a dead process wakes nobody: a receiver
    /// that sleeps here must bound its sleep (`Receiver::nap_limit`).
    pub(crate) fn waiting_on_producer(&self) -> bool {
        // Relaxed: a hint for how long to sleep; nothing is read on it.
        let raw = self.ring.word(self.head).load(Ordering::Relaxed);
        match Word::decode(raw) {
            Word::Claimed { .. } => true,
            Word::Empty => {
                self.peers
                    .as_ref()
                    .is_some_and(|peers| peers.may_hold_reservations())
                    && {
                        // Relaxed: as above. A reservation made after this
                        // load holds up nothing committed until a later
                        // producer commits past it, and that commit wakes the
                        // receiver, which then finds the reservation here.
                        let tail = self.ring.header().tail.0.load(Ordering::Relaxed);
                        tail != self.head
                    }
            }
            _ => false,
        }
    }

    /// Makes the next look at an unfinished record ask at once whether its
    /// producer lives, once the consumer's patience there is spent: for a
    /// receiver that has slept, whose looks are too few for the looks
    /// counted between two readings of the clock.
    pub(crate) fn hurry(&mut self) {
        if let Some(peers) = self.peers.as_mut() {
            peers.hurry();
        }
    }
}

/// Where a new SPSC producer starts: the shared `tail`, past anything an
/// earlier producer that died mid-reservation published beyond it.
///
/// Where a retaining consumer that attaches resumes: after the records its
/// predecessor delivered and left in place, `[from, delivered)`, walked
/// from `from` (the published head) by their words. A `delivered` mark the
/// walk does not land on exactly (a damaged header) is not trusted: the
/// consumer resumes at `from`, delivering those records again rather than
/// skipping any.
fn resume_after_retained(ring: &Ring, from: u64) -> u64 {
    // Relaxed: the predecessor is gone; its stores reach us through the lock
    // hand-over.
    let delivered = ring.header().events.0.delivered.load(Ordering::Relaxed);
    let ahead = delivered.wrapping_sub(from);
    if ahead > ring.capacity() || ahead % WORD != 0 {
        return from;
    }
    let mut pos = from;
    while pos != delivered {
        // Acquire: as the consumer's loads of record words.
        let raw = ring.word(pos).load(Ordering::Acquire);
        let room = ring.capacity() - ring.index(pos);
        let span = match Word::decode(raw) {
            Word::Committed { len, .. } if len <= ring.max_record_len() => span_of(len),
            Word::Padding { span } => span,
            _ => return from,
        };
        if span == 0 || span % WORD != 0 || span > room || span > delivered.wrapping_sub(pos) {
            return from;
        }
        pos = pos.wrapping_add(span);
    }
    delivered
}

/// `reserve` writes, in order: the clean next word, the wrap padding at the
/// old tail, the `Claimed` word, then the new tail. A producer killed before
/// the last store leaves at most a padding word and a claim past `tail`.
///
/// The consumer may be consuming those words meanwhile, and zeroes what it
/// consumes, so a walk that finds a cleared word cannot tell "nothing here"
/// from "consumed": it goes by the consumer's `consumed` mark, which the
/// consumer stores before it clears a word (and publishes with the clearing
/// store). The walk starts at the later of `tail` and the mark, and is
/// repeated until the mark stands still across it. A dead claim is turned
/// into padding with a compare-and-swap, which either wins or finds that the
/// consumer skipped the claim first; either way the next record starts after
/// it, and its next word was cleaned before the claim was published.
pub(super) fn take_over(ring: &Ring) -> u64 {
    let header = ring.header();
    let capacity = ring.capacity();
    // Acquire: pairs with the Release store of tail by the previous producer
    // (`reserve`, or this function), whose stores reach this one after its
    // death or drop (through the lock hand-over for a ring file).
    let tail = header.tail.0.load(Ordering::Acquire);
    loop {
        // Relaxed: where to start, nothing more. A stale mark starts the walk
        // early, at words the consumer has cleared since; the check below
        // then finds the mark moved and walks again.
        let mark = header.consumed.0.load(Ordering::Relaxed);
        let ahead = mark.wrapping_sub(tail);
        let mut pos = if ahead != 0 && ahead <= capacity {
            mark
        } else {
            tail
        };
        for _ in 0..2 {
            // Acquire: pairs with the consumer's Release store of head.
            let head = header.head.0.load(Ordering::Acquire);
            if pos.wrapping_sub(head) >= capacity {
                // A full ring: the word at `pos` is the consumer's, not free
                // space (a dead claim there is skipped by the consumer).
                break;
            }
            let room = capacity - ring.index(pos);
            // Acquire: pairs with the Release stores of `reserve` (the claim
            // and its padding), and with the consumer's Release stores (or
            // compare-and-swaps) that clear words, which it makes after
            // storing the mark that covers them.
            let raw = ring.word(pos).load(Ordering::Acquire);
            match Word::decode(raw) {
                Word::Padding { span } if span != 0 && span % WORD == 0 && span <= room => {
                    pos = pos.wrapping_add(span);
                }
                Word::Claimed { len, .. } if span_of(len) <= room => {
                    let span = span_of(len);
                    // Release: the consumer's Acquire load of the padding sees
                    // the clean word after it. Failure: the consumer skipped
                    // the claim first.
                    let _ = ring.word(pos).compare_exchange(
                        raw,
                        Word::padding(span),
                        Ordering::Release,
                        Ordering::Relaxed,
                    );
                    pos = pos.wrapping_add(span);
                    break;
                }
                _ => break,
            }
        }
        // The mark moves only when the consumer consumes (or skips) a word.
        // Relaxed: this load follows the Acquire loads of the walk, so if the
        // walk found a word the consumer cleared, it finds (at least) the mark
        // the consumer stored before clearing it. Unchanged across the walk,
        // then, every cleared word the walk stopped at was cleared before the
        // walk began, hence is behind the mark.
        if header.consumed.0.load(Ordering::Relaxed) == mark {
            // Release: as in `reserve`.
            header.tail.0.store(pos, Ordering::Release);
            return pos;
        }
    }
}
