//! The one consumer, shared by the SPSC and MPSC queues: records are found by
//! their words, whoever wrote them.

use std::fmt;
use std::ops::Deref;

use crate::error::CorruptRing;
use crate::peers::Peers;
use crate::ring::Ring;
use crate::ring::layout::{Mode, WORD, Word, span_of};
use crate::sync::Ordering;
use crate::wait::{self, Barrier, Tasks};
use std::sync::Arc;
use std::sync::atomic::compiler_fence;

/// The reading end of a queue (SPSC or MPSC).
///
/// Reads records in place, in position order, and releases their space.
pub struct Consumer {
    ring: Ring,
    /// Next position to examine. Invariant: a record boundary with
    /// `released <= head`; everything in `[released, head)` belongs to a
    /// delivered record or to padding and has already been zeroed as its mode
    /// requires (see `consume`).
    head: u64,
    /// The `head` last published to the ring.
    released: u64,
    /// Set once a corrupt record word is found; nothing is read after it.
    corruption: Option<CorruptRing>,
    /// The other ends of the ring, for telling a dead producer's claim from
    /// a slow one (ring files only).
    peers: Peers,
    /// Whether to keep the header's `consumed` mark for a successor that may
    /// take over after a crash (a consumer that `attach`ed, as to a ring
    /// file). A new heap ring's consumer dies with its ring, and skips the
    /// store on its read path.
    marks: bool,
    /// Whom to tell that space was released: set where senders may wait for
    /// space (a channel's receiver with async ends possible, any consumer of
    /// a ring file); `None` leaves the release path as it is.
    space: Option<SpaceSignal>,
}

/// How a consumer wakes senders waiting for space after a release.
pub(crate) struct SpaceSignal {
    pub(crate) barrier: Barrier,
    /// The heap ring's tasks; `None` on a ring file, whose waiting senders
    /// have notifier threads asleep on the word.
    pub(crate) tasks: Option<Arc<Tasks>>,
}

/// A committed record, borrowed in place: see [`Consumer::try_read`].
/// Dropping it releases the record's space to the producers.
#[must_use = "dropping a ReadClaim releases the record at once"]
pub struct ReadClaim<'a> {
    consumer: &'a mut Consumer,
    /// Invariant: `[pos, pos + span_of(len))` is a committed record inside the
    /// data area, at `consumer.head`.
    pos: u64,
    len: u64,
    tag: u32,
}

/// A committed record seen during [`Consumer::read_batch`].
#[derive(Clone, Copy)]
pub struct Record<'a> {
    bytes: &'a [u8],
    tag: u32,
    position: u64,
}

/// A committed record found at `head`: `(position, len, tag)`.
pub(crate) type Found = (u64, u64, u32);
/// The next committed record, if one is ready.
type Next = Option<Found>;

impl Consumer {
    /// The consumer of a new heap ring: it has no predecessor and no
    /// successor, so it keeps no `consumed` mark.
    pub(crate) fn new(ring: Ring) -> Self {
        let mut consumer = Self::attach(ring, Peers::Local);
        consumer.marks = false;
        consumer
    }

    /// The consumer of a ring that may have had one before (a ring file),
    /// resuming at the shared `head`. The caller holds the ring's consumer
    /// lock, so any earlier consumer is gone; if it died between zeroing
    /// what it consumed and publishing `head`, the release is finished here.
    /// Records it read but did not release are delivered again.
    pub(crate) fn attach(ring: Ring, peers: Peers) -> Self {
        let header = ring.header();
        // Acquire: pairs with the Release store of a previous consumer of this
        // ring, so its zeroing is visible before we reuse positions past it.
        let mut head = header.head.0.load(Ordering::Acquire);
        // Relaxed: only consumers write it, and the previous one is gone
        // (its stores reach us through the lock hand-over, or the thread that
        // moved the ring here).
        let consumed = header.consumed.0.load(Ordering::Relaxed);
        let pending = consumed.wrapping_sub(head);
        if pending != 0 && pending <= ring.capacity() && pending % WORD == 0 && head % WORD == 0 {
            // `[head, consumed)` was delivered and released by the previous
            // consumer, and is partly zeroed: zero all of it (it may wrap).
            let first = pending.min(ring.capacity() - ring.index(head));
            // SAFETY: both pieces lie inside the data area (`first` stops at
            // its end, `pending <= capacity`), hold only consumed records, and
            // no producer writes below the unpublished head.
            unsafe {
                ring.zero(head, first);
                ring.zero(head.wrapping_add(first), pending - first);
            }
            head = consumed;
            // Release: as in `release`.
            header.head.0.store(head, Ordering::Release);
        }
        Self {
            ring,
            head,
            released: head,
            corruption: None,
            marks: true,
            peers,
            space: None,
        }
    }

    /// Makes every release wake the senders that wait for space (one
    /// barrier and one load of the header's `space_waiter` word per
    /// release while none waits).
    pub(crate) fn signal_space(&mut self, signal: SpaceSignal) {
        self.space = Some(signal);
    }

    /// The next committed record, or `None` if there is none yet (or the ring is
    /// corrupt: see [`corruption`](Self::corruption)).
    ///
    /// The record stays in the ring until the returned claim is dropped.
    #[inline]
    pub fn try_read(&mut self) -> Option<ReadClaim<'_>> {
        let next = self.next_or_release();
        next.map(|record| self.claim(record))
    }

    /// Like [`try_read`](Self::try_read), but reports a corrupt record word as
    /// an error instead of `None`.
    #[inline]
    pub fn try_read_checked(&mut self) -> Result<Option<ReadClaim<'_>>, CorruptRing> {
        match (self.next_or_release(), self.corruption) {
            (None, Some(corrupt)) => Err(corrupt),
            (next, _) => Ok(next.map(|record| self.claim(record))),
        }
    }

    /// Reads up to `limit` records, calling `f` on each in order, then releases
    /// them all with a single update of the shared head. Returns how many records
    /// were read.
    ///
    /// If `f` panics, the records it returned from are released and the one it
    /// panicked on is delivered again by the next read.
    pub fn read_batch<F>(&mut self, limit: usize, mut f: F) -> usize
    where
        F: FnMut(Record<'_>),
    {
        /// Releases what was read, even if `f` unwinds.
        struct ReleaseOnDrop<'c>(&'c mut Consumer);
        impl Drop for ReleaseOnDrop<'_> {
            fn drop(&mut self) {
                self.0.release();
            }
        }

        let guard = ReleaseOnDrop(self);
        let mut count = 0;
        while count < limit {
            let Some((pos, len, tag)) = guard.0.next() else {
                break;
            };
            f(Record {
                bytes: guard.0.payload(pos, len),
                tag,
                position: pos,
            });
            guard.0.consume(pos, span_of(len));
            count += 1;
        }
        count
    }

    /// The corruption that stopped this consumer, if any. A corrupt ring
    /// delivers nothing past the bad record word.
    pub fn corruption(&self) -> Option<CorruptRing> {
        self.corruption
    }

    /// Dead producers' claims skipped by the consumer over the ring's life.
    pub fn skipped_claims(&self) -> u64 {
        // Relaxed: a statistic.
        self.ring.header().skipped_claims.0.load(Ordering::Relaxed)
    }

    super::ring_observers!();

    /// Finds the committed record at or after `head`, skipping padding. Leaves
    /// `head` at that record (or at the first word that is not ready). `None`
    /// if nothing is ready, or if the ring is corrupt (then `corruption` says
    /// where).
    #[inline]
    fn next(&mut self) -> Next {
        if self.corruption.is_some() {
            return None;
        }
        loop {
            let pos = self.head;
            // Acquire: pairs with the producer's Release store of a committed or
            // padding word, so the payload is visible before we read it and the
            // producer's writes happen-before our zeroing.
            let raw = self.ring.word(pos).load(Ordering::Acquire);
            let room = self.ring.capacity() - self.ring.index(pos);
            match Word::decode(raw) {
                Word::Committed { len, tag } => {
                    if len > self.ring.max_record_len() || span_of(len) > room {
                        self.poison(pos, raw, "record length out of bounds");
                        return None;
                    }
                    return Some((pos, len, tag));
                }
                Word::Padding { span } => {
                    if span == 0 || span % WORD != 0 || span > room {
                        self.poison(pos, raw, "padding span out of bounds");
                        return None;
                    }
                    self.consume(pos, span);
                }
                Word::Empty => {
                    let end = self.peers.dead_reservation_end(&self.ring, pos, true);
                    if !end.is_some_and(|end| self.skip_reservation(pos, end)) {
                        return None;
                    }
                }
                Word::Claimed { len, owner } => {
                    if !self.peers.claim_abandoned(&self.ring, pos, owner) {
                        return None;
                    }
                    if !self.skip_claim(pos, raw, len) {
                        return None;
                    }
                }
                Word::Invalid => {
                    self.poison(pos, raw, "unknown record state");
                    return None;
                }
            }
        }
    }

    /// `next`, publishing what was consumed when nothing more is ready (so
    /// skipped padding is not held back from the producers).
    #[inline]
    pub(crate) fn next_or_release(&mut self) -> Next {
        let next = self.next();
        if next.is_none() {
            self.release();
        }
        next
    }

    /// Skips what an abandoned producer left at `head`, counting it in the
    /// ring's `skipped_claims`; returns whether it did. That is a claim (its
    /// size is in its word from the moment it is made, so the consumer knows
    /// where the next record starts without its producer), or a ring file
    /// reservation its producer never marked `Claimed` (see
    /// `dead_reservation_end`).
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
            Word::Empty => self
                .peers
                .dead_reservation_end(&self.ring, pos, false)
                .is_some_and(|end| self.skip_reservation(pos, end)),
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
        // Relaxed: as in `consume`, stored before the zeroing it covers.
        self.ring.header().consumed.0.store(end, Ordering::Relaxed);
        compiler_fence(Ordering::Release);
        // The range may run past the end of the data area (its wrap padding
        // was never written). Nothing was written in it but, perhaps, stale
        // words; zero it all.
        let first = span.min(self.ring.capacity() - self.ring.index(pos));
        // SAFETY: both pieces lie inside the data area (`first` stops at its
        // end; the caller checked `span <= capacity`); the reservation's
        // producer is dead and nobody else writes below the unpublished head.
        unsafe {
            self.ring.zero(pos, first);
            self.ring.zero(pos.wrapping_add(first), span - first);
        }
        self.head = end;
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
        // Announce the skip before making it, so that a producer taking over
        // that sees the claim gone also sees how far we got (`take_over` in
        // `spsc`). If the swap below fails, the claim became padding, which we
        // consume next; the mark is then merely early.
        self.ring
            .header()
            .consumed
            .0
            .store(pos.wrapping_add(span_of(len)), Ordering::Relaxed);
        // AcqRel: Acquire makes the dead producer's writes (and those of a
        // producer that padded the claim first) happen-before our zeroing;
        // Release publishes the mark above with the cleared word. A CAS, not a
        // store: a restarted SPSC producer may be padding the same claim.
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
                self.peers.may_hold_reservations() && {
                    // Relaxed: as above. A reservation made after this load
                    // holds up nothing committed until a later producer commits
                    // past it, and that commit wakes the receiver, which then
                    // finds the reservation here.
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
        self.peers.hurry();
    }

    /// The read claim on a record `next` found.
    #[inline]
    pub(crate) fn claim(&mut self, (pos, len, tag): Found) -> ReadClaim<'_> {
        ReadClaim {
            consumer: self,
            pos,
            len,
            tag,
        }
    }

    #[cold]
    fn poison(&mut self, position: u64, word: u64, reason: &'static str) {
        self.corruption = Some(CorruptRing {
            position,
            word,
            reason,
        });
    }

    /// The payload of the committed record at `pos`.
    #[inline]
    fn payload(&self, pos: u64, len: u64) -> &[u8] {
        self.ring.track_payload(pos, len, false);
        // SAFETY: `next` checked that the record lies inside the data area and is
        // committed; the Acquire load of its word made the payload visible, and no
        // producer writes these bytes until we publish a head past them, which
        // needs `&mut self` while this borrow of `self` is alive.
        unsafe { std::slice::from_raw_parts(self.ring.payload_ptr(pos), len as usize) }
    }

    /// Zeroes the record or padding at `head` (its whole span in MPSC, its
    /// record word in SPSC) while its lines are still in this core's cache,
    /// and moves past it. Producers do not see the space until the next
    /// `release`.
    #[inline]
    fn consume(&mut self, pos: u64, span: u64) {
        debug_assert_eq!(pos, self.head);
        if self.marks {
            // Relaxed: read only by a consumer (or SPSC producer) that takes
            // over after a crash (see `attach`, and `take_over` in `spsc`).
            // The compiler fence keeps it before the zeroing it covers in
            // program order, which is all a process killed mid-way needs:
            // what it executed reaches memory.
            self.ring
                .header()
                .consumed
                .0
                .store(pos.wrapping_add(span), Ordering::Relaxed);
            compiler_fence(Ordering::Release);
        }
        // MPSC zeroes the whole span; SPSC only the record word, because its
        // producer keeps the next record word clean itself (module docs).
        if self.ring.mode() == Mode::Mpsc {
            // SAFETY: `next` (or `skip_claim`) checked that
            // `[pos, pos + span)` lies inside the data area and holds a committed
            // record, padding, or a claim no producer will write again; no
            // producer touches it until a head past it is published, and it was
            // delivered (or is padding), so nobody reads it any more.
            unsafe { self.ring.zero(pos, span) };
        } else {
            // Release: a producer taking over after a crash that finds the word
            // cleared also finds the `consumed` mark above (`take_over` in
            // `spsc`). The producer proper learns of it through `head`.
            self.ring.word(pos).store(0, Ordering::Release);
        }
        self.head = pos.wrapping_add(span);
    }

    /// Publishes `head`, giving everything consumed since the last release
    /// back to the producers.
    #[inline]
    fn release(&mut self) {
        if self.released != self.head {
            // Release: pairs with the producers' Acquire load of head; the
            // zeroes written by `consume` are visible before they reuse this
            // space.
            self.ring
                .header()
                .head
                .0
                .store(self.head, Ordering::Release);
            self.released = self.head;
            if let Some(space) = &self.space {
                wait::notify_space(
                    &self.ring.header().space_waiter.0,
                    space.barrier,
                    space.tasks.as_deref(),
                );
            }
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        // Hand back padding skipped since the last release, so that a
        // consumer that attaches next starts from a published head.
        self.release();
    }
}

impl fmt::Debug for Consumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.capacity())
            .field("head", &self.head)
            .field("corruption", &self.corruption)
            .finish_non_exhaustive()
    }
}

impl ReadClaim<'_> {
    /// The record's tag (0 unless the producer set one).
    #[inline]
    pub fn tag(&self) -> u32 {
        self.tag
    }

    /// Free-running position of the record in the ring.
    #[inline]
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Releases the record's space (the same as dropping the claim).
    #[inline]
    pub fn release(self) {}

    /// Leaves the record in the ring, unreleased: the next read returns it
    /// again, and so does the first read of a consumer that attaches after
    /// this one is dropped (ring files). For a reader that could not finish
    /// with the record, such as a tailer whose output just closed.
    #[inline]
    pub fn unread(self) {
        // Nothing was consumed yet: `head` stays at this record, whose word
        // is still committed. Skipping the drop skips the release; the claim
        // holds nothing else.
        std::mem::forget(self);
    }
}

impl Deref for ReadClaim<'_> {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.consumer.payload(self.pos, self.len)
    }
}

impl Drop for ReadClaim<'_> {
    #[inline]
    fn drop(&mut self) {
        self.consumer.consume(self.pos, span_of(self.len));
        self.consumer.release();
    }
}

impl fmt::Debug for ReadClaim<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadClaim")
            .field("position", &self.pos)
            .field("len", &self.len)
            .field("tag", &self.tag)
            .finish()
    }
}

impl Record<'_> {
    /// The record's tag (0 unless the producer set one).
    #[inline]
    pub fn tag(&self) -> u32 {
        self.tag
    }

    /// Free-running position of the record in the ring.
    #[inline]
    pub fn position(&self) -> u64 {
        self.position
    }
}

impl Deref for Record<'_> {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.bytes
    }
}

impl fmt::Debug for Record<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("position", &self.position)
            .field("len", &self.bytes.len())
            .field("tag", &self.tag)
            .finish()
    }
}
