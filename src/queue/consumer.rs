//! The one consumer, shared by the SPSC and MPSC queues: records are found by
//! their words, whoever wrote them. This is the per-record path (look,
//! deliver, zero, release); what the consumer does about ends that died is in
//! `recovery`, and who is told of released space is the [`ReleaseHook`]'s
//! business.

use std::fmt;
use std::ops::Deref;

use super::peers::{Peers, ReleaseHook};
use super::{OwnLines, TryRecvError};
use crate::error::CorruptRing;
use crate::ring::Ring;
use crate::ring::layout::{Mode, WORD, Word, span_of};
use crate::sync::{Ordering, fence};

/// The reading end of a queue (SPSC or MPSC).
///
/// Reads records in place, in position order, and releases their space.
pub struct Consumer {
    pub(super) ring: Ring,
    /// Next position to examine. Invariant: a record boundary with
    /// `released <= head`; everything in `[released, head)` belongs to a
    /// delivered record or to padding and has already been zeroed as its mode
    /// requires (see `consume`).
    pub(super) head: u64,
    /// The `head` last published to the ring.
    released: u64,
    /// Set once a corrupt record word is found; nothing is read after it.
    pub(super) corruption: Option<CorruptRing>,
    /// Whether to keep the header's `consumed` mark for a successor that may
    /// take over after a crash (a consumer that `attach`ed, as to a ring
    /// file). A new heap ring's consumer dies with its ring, and skips the
    /// store on its read path.
    marks: bool,
    /// Whom to ask whether the producer of a claim (or a reservation) the
    /// consumer waits at is dead (ring files); `None` on a heap ring, whose
    /// claims are skipped only on the caller's word (`skip_abandoned`).
    pub(super) peers: Option<Box<dyn Peers>>,
    /// Whom to tell that space was released: set where senders may wait for
    /// space (a channel's receiver with async ends possible, any consumer of
    /// a ring file); `None` leaves the release path as it is.
    on_release: Option<Box<dyn ReleaseHook>>,
    /// Bytes of consumed records to leave in place for spies (a ring file
    /// created with a retention; 0 otherwise). When not 0, `consume` zeroes
    /// nothing and `[released, head)` holds delivered records, intact;
    /// `release` zeroes and publishes the oldest of them, keeping the last
    /// `retain` bytes (see `release_retained`).
    pub(super) retain: u64,
    /// Keeps `head` and `released`, written for every record, off other
    /// handles' lines.
    _lines: OwnLines,
}

/// A committed record, borrowed in place: see [`Consumer::try_recv`].
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

/// A committed record seen during a batch read
/// ([`Consumer::try_recv_batch`], or a channel receiver's `recv_batch`).
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
    /// successor, so it keeps no `consumed` mark, and asks no one about its
    /// producers.
    pub(crate) fn new(ring: Ring) -> Self {
        let mut consumer = Self::attach(ring, None, 0);
        consumer.marks = false;
        consumer
    }

    /// The consumer at `head` (see `attach`), keeping the `consumed` mark.
    /// `released` is the published head, below which everything is zeroed;
    /// `[released, head)` holds records delivered and left in place for
    /// spies (`retain` > 0) or nothing.
    pub(super) fn resume(
        ring: Ring,
        released: u64,
        head: u64,
        retain: u64,
        peers: Option<Box<dyn Peers>>,
    ) -> Self {
        Self {
            ring,
            head,
            released,
            corruption: None,
            marks: true,
            peers,
            on_release: None,
            retain,
            _lines: OwnLines::new(()),
        }
    }

    /// Makes every release (every store of a new `head`) call `hook`, to
    /// wake the senders that wait for space. Set once, as the consumer is
    /// built: by the channel's receiver, or a ring file's `consumer`.
    pub(crate) fn set_release_hook(&mut self, hook: Box<dyn ReleaseHook>) {
        self.on_release = Some(hook);
    }

    /// The next committed record, if one is ready, without waiting.
    ///
    /// The record stays in the ring until the returned claim is dropped (or
    /// [released](ReadClaim::release)).
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if no committed record is ready;
    /// [`TryRecvError::Corrupt`] once a record word no producer writes is
    /// found: every record before it was delivered, none after it can be,
    /// and every later call reports the same.
    #[must_use = "dropping a ReadClaim releases the record at once"]
    #[inline]
    pub fn try_recv(&mut self) -> Result<ReadClaim<'_>, TryRecvError> {
        match self.next_or_release() {
            Some(record) => Ok(self.claim(record)),
            None => Err(self.stop()),
        }
    }

    /// Reads up to `limit` records that are ready now, calling `f` on each
    /// in order, then releases them all with a single update of the shared
    /// head. Returns how many records were read (`Ok(0)` only for
    /// `limit == 0`). A batch ends before a corrupt record word; the next
    /// call reports it.
    ///
    /// If `f` panics, the records it returned from are released and the one
    /// it panicked on is delivered again by the next read.
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Self::try_recv), when no record was read.
    pub fn try_recv_batch<F>(&mut self, limit: usize, f: F) -> Result<usize, TryRecvError>
    where
        F: FnMut(Record<'_>),
    {
        match self.read_batch(limit, f) {
            0 if limit != 0 => Err(self.stop()),
            count => Ok(count),
        }
    }

    /// Why the last look found no record: nothing ready, or corruption.
    #[cold]
    fn stop(&self) -> TryRecvError {
        match self.corruption {
            Some(corrupt) => TryRecvError::Corrupt(corrupt),
            None => TryRecvError::Empty,
        }
    }

    /// Reads up to `limit` records, calling `f` on each in order, then releases
    /// them all with a single update of the shared head. Returns how many records
    /// were read (see `try_recv_batch`).
    pub(crate) fn read_batch<F>(&mut self, limit: usize, mut f: F) -> usize
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
    ///
    /// A committed record at `head` is found here, inline, in a few
    /// instructions; everything else (padding, a word not ready, a dead
    /// producer's claim, corruption) is `look`'s.
    #[inline(always)]
    fn next(&mut self) -> Next {
        if self.corruption.is_some() {
            return None;
        }
        let pos = self.head;
        // Acquire: pairs with the producer's Release store of a committed or
        // padding word, so the payload is visible before we read it and the
        // producer's writes happen-before our zeroing.
        let raw = self.ring.word(pos).load(Ordering::Acquire);
        if let Some((len, tag)) = Word::as_committed(raw) {
            if self.fits_in_place(pos, len) {
                return Some((pos, len, tag));
            }
        }
        self.look(pos, raw)
    }

    /// Whether a committed record of `len` bytes at `pos` is one a producer
    /// could have written: at most the maximum length, inside the data area.
    #[inline(always)]
    fn fits_in_place(&self, pos: u64, len: u64) -> bool {
        len <= self.ring.max_record_len()
            && span_of(len) <= self.ring.capacity() - self.ring.index(pos)
    }

    /// `next`'s way past the word `raw` it loaded at `pos` (= `head`), when
    /// that is not a committed record in bounds.
    #[inline(never)]
    fn look(&mut self, mut pos: u64, mut raw: u64) -> Next {
        loop {
            match Word::decode(raw) {
                Word::Committed { len, tag } => {
                    if !self.fits_in_place(pos, len) {
                        self.poison(pos, raw, "record length out of bounds");
                        return None;
                    }
                    return Some((pos, len, tag));
                }
                Word::Padding { span } => {
                    let room = self.ring.capacity() - self.ring.index(pos);
                    if span == 0 || span % WORD != 0 || span > room {
                        self.poison(pos, raw, "padding span out of bounds");
                        return None;
                    }
                    self.consume(pos, span);
                }
                // Nothing (yet), or a claim not yet committed: wait, unless
                // there are peers to ask and they say its producer died
                // (`recovery`). A heap ring's consumer stops here at once.
                Word::Empty => {
                    if self.peers.is_none() || !self.skip_dead_reservation(pos, true) {
                        return None;
                    }
                }
                Word::Claimed { len, owner } => {
                    if self.peers.is_none() || !self.skip_dead_claim(pos, raw, len, owner) {
                        return None;
                    }
                }
                Word::Invalid => {
                    self.poison(pos, raw, "unknown record state");
                    return None;
                }
            }
            pos = self.head;
            // Acquire: as in `next`.
            raw = self.ring.word(pos).load(Ordering::Acquire);
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
    pub(super) fn poison(&mut self, position: u64, word: u64, reason: &'static str) {
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
    pub(super) fn consume(&mut self, pos: u64, span: u64) {
        debug_assert_eq!(pos, self.head);
        if self.marks {
            if self.retain != 0 {
                // Left in place for spies: only the mark of what was
                // delivered moves. Relaxed: read by the consumer that
                // attaches next, after the lock hand-over.
                self.ring
                    .header()
                    .events
                    .0
                    .delivered
                    .store(pos.wrapping_add(span), Ordering::Relaxed);
                self.head = pos.wrapping_add(span);
                return;
            }
            // Relaxed: read after a crash, by the next consumer (`attach`,
            // after the lock hand-over) and by an SPSC producer taking over
            // (`take_over`), to which the Release store clearing the word
            // below publishes it; and by spies, which load it after copying
            // a record to learn whether the consumer reached it meanwhile.
            self.ring
                .header()
                .consumed
                .0
                .store(pos.wrapping_add(span), Ordering::Relaxed);
            // Release: orders the mark before the zeroing below, for a spy
            // whose copy reads a zero written here (it synchronises with the
            // Acquire fence after the copy; see `ring::spy`), and for a
            // process killed mid-way. No instruction on x86-64.
            fence(Ordering::Release);
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
            // Release: pairs with the Acquire load of the word in `take_over`:
            // a producer taking over after a crash that finds the word cleared
            // also finds the `consumed` mark above. The producer proper learns
            // of the clearing through `head`.
            self.ring.word(pos).store(0, Ordering::Release);
        }
        self.head = pos.wrapping_add(span);
    }

    /// Publishes `head`, giving everything consumed since the last release
    /// back to the producers.
    #[inline]
    pub(super) fn release(&mut self) {
        if self.released != self.head {
            if self.retain != 0 {
                self.release_retained();
            } else {
                self.publish(self.head);
            }
        }
    }

    /// Publishes `head = end`, everything below it zeroed, and tells the
    /// release hook.
    #[inline]
    fn publish(&mut self, end: u64) {
        // Release: pairs with the producers' Acquire load of head; the zeroes
        // written by `consume` (or `release_retained`) are visible before
        // they reuse this space.
        self.ring.header().head.0.store(end, Ordering::Release);
        self.released = end;
        if let Some(hook) = &self.on_release {
            hook.released(&self.ring);
        }
    }
}

impl Consumer {
    /// Releases the oldest records delivered and left in place, keeping at
    /// most `retain` bytes of the newest: their words are intact (nobody
    /// writes below the unpublished head), so they are walked from
    /// `released`; the `consumed` mark is stored past them, a Release fence
    /// orders it before the zeroing (for spies, as in `consume`), then they
    /// are zeroed whole and `head` is published.
    #[inline(never)]
    fn release_retained(&mut self) {
        let capacity = self.ring.capacity();
        let mut end = self.released;
        while self.head.wrapping_sub(end) > self.retain {
            // Relaxed: this consumer's own delivered records, unchanged since
            // it read them with Acquire.
            let raw = self.ring.word(end).load(Ordering::Relaxed);
            let room = capacity - self.ring.index(end);
            let span = match Word::decode(raw) {
                Word::Committed { len, .. } => span_of(len),
                Word::Padding { span } => span,
                // Only records and padding were delivered; a word that is
                // neither ends the walk (a foreign writer), and what lies
                // past it stays held.
                _ => break,
            };
            if span == 0 || span > room {
                break;
            }
            end = end.wrapping_add(span);
        }
        let len = end.wrapping_sub(self.released);
        if len == 0 {
            return;
        }
        let header = self.ring.header();
        // Relaxed, then a Release fence: as in `consume`.
        header.consumed.0.store(end, Ordering::Relaxed);
        fence(Ordering::Release);
        // SAFETY: `len <= head - released <= capacity`; the range holds
        // records this consumer delivered, and no producer writes below the
        // unpublished head.
        unsafe { self.ring.zero_wrapping(self.released, len) };
        self.publish(end);
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
