//! Reading a ring without consuming it: the validated copy of a spy.
//!
//! A spy reads committed records in position order as the consumer does,
//! but it takes nothing: it writes no byte of the ring, so the producers and
//! the consumer do not know it exists and never wait for it. The price is
//! that the space it reads may be consumed, zeroed and reused by a producer
//! while it reads. Agrona's broadcast receiver shows the way out: note the
//! position, copy, then check that what was copied could not have changed
//! meanwhile. Here the check is the consumer's `consumed` mark.
//!
//! # The copy
//!
//! To read the record at `pos`, the spy
//!
//! 1. makes sure `pos < tail` (an Acquire load of `tail` when its cached
//!    copy says `pos` is at the front). Below `tail`, the word at `pos` is
//!    this lap's: the producer that reserved the space saw, through `head`,
//!    the consumer zero the lap before it (MPSC), or marked the record
//!    word before storing `tail` (SPSC). At `tail` itself it may still be
//!    the previous lap's record, unconsumed, in a full ring;
//! 2. loads the record word, then the payload, word by word, every load an
//!    atomic (Relaxed, then one Acquire fence: a read-only mapping promises
//!    only loads of at most eight bytes), into its own buffer;
//! 3. takes an Acquire fence and loads `consumed`. If `consumed <= pos`, the
//!    copy is exactly what was committed at `pos`; otherwise it is thrown
//!    away, the spy was *lapped*, and it goes on at `consumed`, the oldest
//!    record still in the ring (a record boundary: the consumer's marks are
//!    the ends of the records it consumed), counting the bytes it lost.
//!
//! A look copies a batch this way (the records from the spy's position up
//! to the front, or a few hundred of them) and makes one check for the
//! lot: `consumed <= start`, where `start` is the batch's first position.
//! Each record of the batch lies at or after `start`, so each passes the
//! check above; and every word the spy stepped by (a record's length, a
//! padding span) was read before the check too, so a length read from
//! space already reused never moves the spy off the records' boundaries.
//! A batch that fails is thrown away whole; the spy goes on at the mark.
//! The one load of `consumed` per batch matters: the consumer writes that
//! line for every record it takes, and every spy's load of it takes the
//! line away from the consumer.
//!
//! # Why `consumed <= pos` proves the copy
//!
//! Two kinds of writer change the bytes of a record once it is committed:
//!
//! - **The consumer zeroes it** (the whole span in MPSC, the record word in
//!   SPSC). It stores `consumed` past the record first, then takes a Release
//!   fence, then zeroes. If any load of the spy's copy read a zero the
//!   consumer wrote, that fence synchronises with the spy's Acquire fence
//!   after the copy, so the spy's load of `consumed` sees the new mark (or a
//!   later one), which is past `pos`.
//! - **A producer reuses it**, a lap later. It may write there only after an
//!   Acquire load of `head` that saw the consumer release the record, which
//!   the consumer did after storing `consumed` past it. On the targets the
//!   crate runs on, an Acquire load orders every later store of its thread
//!   for all observers (x86-64 is TSO; AArch64 is multi-copy atomic, and
//!   its acquire loads are ordered before later stores), so a spy that
//!   read a byte the producer wrote, then took its Acquire fence, sees the
//!   mark past `pos`. The language's model promises less: there a store
//!   after an Acquire load is ordered for a third thread only after a
//!   Release fence. The loom model gives its producer that fence, standing
//!   for the hardware's order; the queue's producers take none, which keeps
//!   their claim path as it was.
//!
//! So a copy that validates read nothing written after the record's commit,
//! and everything written before it: the record word the spy loaded was
//! the commit (an Acquire, by its fence), which publishes the payload.
//!
//! A spy lives in its own mapping of a ring file, so its atomic loads never
//! meet the producers' plain payload writes inside one allocation of one
//! process; across mappings, what orders them is the hardware's model, for
//! which the fences above are what is needed (on x86-64 they compile to no
//! instruction). The loom model below runs the argument with every access
//! an atomic.

use crate::error::CorruptRing;
use crate::ring::layout::{Header, WORD, Word, span_of};
use crate::sync::{AtomicU64, Ordering, fence};

/// Memory a spy reads: a ring's header and data area, loads only.
pub(crate) trait SpyView {
    /// The ring's header (validated).
    fn header(&self) -> &Header;
    /// The word at free-running position `pos` (a multiple of eight), in the
    /// data area: its index is `pos` masked by the capacity.
    fn word(&self, pos: u64) -> &AtomicU64;
    /// Data area size in bytes (a power of two).
    fn capacity(&self) -> u64;
    /// Largest payload a record may have.
    fn max_record_len(&self) -> u64;
}

/// The spy's bytes `[from, to)` were consumed before it read them: it goes on
/// at `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lap {
    /// Where the spy was.
    pub from: u64,
    /// Where it goes on: the oldest record still in the ring, when it looked.
    pub to: u64,
}

impl Lap {
    /// Bytes the spy did not see (records and padding alike).
    pub fn lost_bytes(&self) -> u64 {
        self.to.wrapping_sub(self.from)
    }
}

/// A record a look copied: its position and tag, and where its payload
/// lies in the look's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Copied {
    pub(crate) pos: u64,
    pub(crate) tag: u32,
    /// The payload is `buf[start..start + len]`.
    pub(crate) start: usize,
    pub(crate) len: usize,
}

/// What one look found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Look {
    /// Records, in position order, copied and checked: the look's `copied`
    /// holds at least one.
    Records,
    /// Lapped: the spy now stands at `lap.to`.
    Lapped(Lap),
    /// Nothing committed at the spy's position yet. `pending` says what is
    /// there, for a caller that may step over a dead producer's claim.
    Empty,
    /// A word no writer produces, at a position the consumer had not
    /// passed. Sticky.
    Corrupt(CorruptRing),
}

/// Why a look stopped copying.
enum Stop {
    /// It copied as much as it was asked to.
    Enough,
    /// At the producers' tail.
    Front,
    /// At a word not committed yet (`Empty` or `Claimed`).
    Waiting(u64),
    /// At a word no writer produces.
    Bad(u64, &'static str),
}

/// What stands at the spy's position while it finds nothing, below the
/// producers' `tail`: something a producer began and has not finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pending {
    /// At the front: nothing reserved past the spy.
    None,
    /// A claim of `len` payload bytes by `owner` (the record word `raw`).
    Claim { raw: u64, len: u64, owner: u32 },
    /// Reserved (below `tail`) but not yet marked: an MPSC producer between
    /// its reservation and its mark.
    Reservation { tail: u64 },
}

/// A spy's place in a ring, and what it has seen.
#[derive(Debug)]
pub(crate) struct Cursor {
    /// Next position to read: a record boundary.
    pos: u64,
    /// A `tail` loaded earlier (never ahead of the shared one).
    tail: u64,
    /// What stood at `pos` when the last look found nothing.
    pending: Pending,
    corruption: Option<CorruptRing>,
    laps: u64,
    lost: u64,
}

/// Whether free-running `a` is before `b` (positions are never 2^63 apart).
#[inline]
fn before(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

/// A load of `word` with Acquire meaning, made of what a read-only mapping
/// allows: a Relaxed load, then an Acquire fence.
#[inline]
fn load_acquire(word: &AtomicU64) -> u64 {
    let value = word.load(Ordering::Relaxed);
    fence(Ordering::Acquire);
    value
}

impl Cursor {
    /// A spy at `pos`, a record boundary at or before the ring's `tail`:
    /// the consumer's `consumed` mark (the oldest record still in the ring)
    /// or `tail` itself.
    pub(crate) fn new(pos: u64) -> Self {
        Self {
            pos,
            tail: pos,
            pending: Pending::None,
            corruption: None,
            laps: 0,
            lost: 0,
        }
    }

    /// The position the spy reads next.
    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    /// Times lapped.
    pub(crate) fn laps(&self) -> u64 {
        self.laps
    }

    /// Bytes lost to laps.
    pub(crate) fn lost_bytes(&self) -> u64 {
        self.lost
    }

    /// What the last [`Look::Empty`] found at the spy's position.
    pub(crate) fn pending(&self) -> Pending {
        self.pending
    }

    /// Copies the committed records from the spy's position into `buf`
    /// (their places in `copied`), at most `max_records` of them and, past
    /// the first, no more once `buf` holds `max_bytes`; stepping over
    /// padding. Then checks them all at once: one load of the consumer's
    /// mark for the lot (see the module docs). A batch the consumer reached
    /// before that check is thrown away whole, since a word read from
    /// reused space may have led the copy off the records' boundaries: the
    /// spy goes on at the mark, and the records past it are read again.
    pub(crate) fn look<V: SpyView>(
        &mut self,
        view: &V,
        buf: &mut Vec<u8>,
        copied: &mut Vec<Copied>,
        max_records: usize,
        max_bytes: usize,
    ) -> Look {
        buf.clear();
        copied.clear();
        if let Some(corrupt) = self.corruption {
            return Look::Corrupt(corrupt);
        }
        self.pending = Pending::None;
        let start = self.pos;
        let mut pos = start;
        let stop = loop {
            if copied.len() >= max_records || (!copied.is_empty() && buf.len() >= max_bytes) {
                break Stop::Enough;
            }
            if !before(pos, self.tail) {
                self.tail = load_acquire(&view.header().tail.0);
                if !before(pos, self.tail) {
                    break Stop::Front;
                }
            }
            let raw = load_acquire(view.word(pos));
            let room = view.capacity() - (pos & (view.capacity() - 1));
            match Word::decode(raw) {
                Word::Committed { len, tag } => {
                    if len > view.max_record_len() || span_of(len) > room {
                        break Stop::Bad(raw, "record length out of bounds");
                    }
                    copied.push(Copied {
                        pos,
                        tag,
                        start: buf.len(),
                        len: len as usize,
                    });
                    copy(view, pos, len, buf);
                    pos = pos.wrapping_add(span_of(len));
                }
                Word::Padding { span } => {
                    if span == 0 || span % WORD != 0 || span > room {
                        break Stop::Bad(raw, "padding span out of bounds");
                    }
                    pos = pos.wrapping_add(span);
                }
                Word::Empty | Word::Claimed { .. } => break Stop::Waiting(raw),
                Word::Invalid => break Stop::Bad(raw, "unknown record state"),
            }
        };
        // Every word read since `start` was this lap's if the consumer had
        // not reached `start` when they were all read.
        if let Some(lap) = self.lapped(view, start) {
            buf.clear();
            copied.clear();
            return lap;
        }
        self.pos = pos;
        if !copied.is_empty() {
            // A word that stopped the batch is looked at again next time.
            return Look::Records;
        }
        match stop {
            Stop::Enough | Stop::Front => Look::Empty,
            Stop::Waiting(raw) => {
                self.pending = match Word::decode(raw) {
                    Word::Claimed { len, owner } => Pending::Claim { raw, len, owner },
                    _ => Pending::Reservation { tail: self.tail },
                };
                Look::Empty
            }
            Stop::Bad(raw, reason) => {
                let corrupt = CorruptRing {
                    position: pos,
                    word: raw,
                    reason,
                };
                self.corruption = Some(corrupt);
                Look::Corrupt(corrupt)
            }
        }
    }

    /// Steps over what stands at the spy's position, which the caller
    /// found abandoned (its producer is dead), to `end`: the end of the
    /// dead claim, or of the dead reservation. `false` if the ring moved
    /// meanwhile (the word changed, or the spy was passed) or `end` is not
    /// where such a thing can end: look again.
    pub(crate) fn step_over<V: SpyView>(&mut self, view: &V, end: u64) -> bool {
        let pos = self.pos;
        let span = end.wrapping_sub(pos);
        let room = view.capacity() - (pos & (view.capacity() - 1));
        let expected = match self.pending {
            // A claim never wraps: it ends where its length says.
            Pending::Claim { raw, len, .. } if span == span_of(len) && span <= room => raw,
            // A reservation may hold wrap padding and a record after it.
            Pending::Reservation { .. } if span != 0 && span % WORD == 0 => {
                if span > view.capacity() {
                    return false;
                }
                0
            }
            _ => return false,
        };
        // The word is still what was found abandoned, and it was this lap's
        // (checked as any word the spy steps by).
        if load_acquire(view.word(pos)) != expected || self.passed(view, pos).is_some() {
            return false;
        }
        self.pending = Pending::None;
        self.pos = end;
        true
    }

    /// The consumer's `consumed` mark, if it is past `pos` (see the module
    /// docs: loaded after an Acquire fence that follows the copy).
    fn passed<V: SpyView>(&self, view: &V, pos: u64) -> Option<u64> {
        fence(Ordering::Acquire);
        // Relaxed: ordered after every load of the copy by the fence above;
        // see "Why `consumed <= pos` proves the copy".
        let consumed = view.header().consumed.0.load(Ordering::Relaxed);
        before(pos, consumed).then_some(consumed)
    }

    /// If the consumer passed `pos`, records the lap and moves the spy to
    /// the oldest record still in the ring.
    fn lapped<V: SpyView>(&mut self, view: &V, pos: u64) -> Option<Look> {
        let consumed = self.passed(view, pos)?;
        // The mark comes from shared memory: a record boundary in a sound
        // ring. One that is not is corruption, not a place to go on from.
        // (One ahead of `tail` is not checked here: the `tail` this thread
        // loads next may be older than the mark. The spy only reads below a
        // `tail` it loaded, so it waits there until the producers pass it.)
        if consumed % WORD != 0 {
            let corrupt = CorruptRing {
                position: pos,
                word: consumed,
                reason: "consumed mark not on a record boundary",
            };
            self.corruption = Some(corrupt);
            return Some(Look::Corrupt(corrupt));
        }
        let lap = Lap {
            from: pos,
            to: consumed,
        };
        self.pos = consumed;
        self.laps += 1;
        self.lost = self.lost.wrapping_add(lap.lost_bytes());
        Some(Look::Lapped(lap))
    }
}

/// Appends the payload of the record at `pos` (`len` bytes, inside the
/// data area) to `buf`, a word at a time, each word an atomic load.
fn copy<V: SpyView>(view: &V, pos: u64, len: u64, buf: &mut Vec<u8>) {
    let end = buf.len() + len as usize;
    let words = len.div_ceil(WORD);
    buf.reserve(words as usize * WORD as usize);
    for k in 0..words {
        // Relaxed: checked after the copy (`lapped`); the record word's
        // Acquire load made the committed payload visible.
        let word = view.word(pos + WORD * (k + 1)).load(Ordering::Relaxed);
        buf.extend_from_slice(&word.to_ne_bytes());
    }
    buf.truncate(end);
}

#[cfg(all(test, loom))]
mod loom_model {
    //! The validated copy, racing a consumer's release and a producer's
    //! reuse of the same space. The producer and the consumer here follow
    //! the orderings of the queue's (`queue::producer`, `queue::consumer`),
    //! with every payload access an atomic word, as the module docs argue.

    use super::*;
    use crate::ring::layout::{LayoutFields, Mode};
    use loom::sync::Arc;
    use loom::thread;

    /// 32 bytes: two records of one payload word.
    const CAPACITY: u64 = 32;
    const SPAN: u64 = 16;
    /// One more record than a lap holds: the last reuses the first's space.
    const RECORDS: u64 = 3;

    struct Mem {
        header: Header,
        words: Vec<AtomicU64>,
    }

    impl SpyView for Mem {
        fn header(&self) -> &Header {
            &self.header
        }
        fn word(&self, pos: u64) -> &AtomicU64 {
            &self.words[((pos % CAPACITY) / WORD) as usize]
        }
        fn capacity(&self) -> u64 {
            CAPACITY
        }
        fn max_record_len(&self) -> u64 {
            CAPACITY / 2 - WORD
        }
    }

    /// Record `seq`'s payload: says which record it is.
    fn payload(seq: u64) -> u64 {
        0x5EED_0000_0000_0000 | seq * 0x0101
    }

    fn producer(mem: &Mem) {
        let mut head = 0;
        for seq in 0..RECORDS {
            let pos = seq * SPAN;
            while pos + SPAN - head > CAPACITY {
                // Acquire: as the producers' load of `head`; the Release
                // fence stands for the hardware's order of that load before
                // the stores that follow (see "Why `consumed <= pos` proves
                // the copy").
                head = mem.header.head.0.load(Ordering::Acquire);
                fence(Ordering::Release);
                thread::yield_now();
            }
            mem.word(pos).store(Word::claimed(8, 1), Ordering::Release);
            mem.header.tail.0.store(pos + SPAN, Ordering::Release);
            mem.word(pos + WORD).store(payload(seq), Ordering::Relaxed);
            mem.word(pos)
                .store(Word::committed(8, seq as u32), Ordering::Release);
        }
    }

    fn consumer(mem: &Mem) {
        let mut head = 0;
        // Consumes the first record: enough for the producer to reuse its
        // space, and little enough to keep the model small.
        while head < SPAN {
            let raw = mem.word(head).load(Ordering::Acquire);
            if Word::as_committed(raw).is_none() {
                thread::yield_now();
                continue;
            }
            // As `Consumer::consume` with marks, in MPSC: the mark, a
            // Release fence, the zeroing; then `release`.
            mem.header.consumed.0.store(head + SPAN, Ordering::Relaxed);
            fence(Ordering::Release);
            mem.word(head).store(0, Ordering::Relaxed);
            mem.word(head + WORD).store(0, Ordering::Relaxed);
            head += SPAN;
            mem.header.head.0.store(head, Ordering::Release);
        }
    }

    #[test]
    fn a_validated_copy_is_what_was_committed() {
        let mut builder = loom::model::Builder::new();
        builder.max_branches = 100_000;
        if builder.preemption_bound.is_none() {
            builder.preemption_bound = Some(2);
        }
        builder.check(|| {
            let layout = LayoutFields::new(Mode::Mpsc, CAPACITY, CAPACITY / 2 - WORD, 0, 0);
            let mem = Arc::new(Mem {
                header: Header::new(layout),
                words: (0..CAPACITY / WORD).map(|_| AtomicU64::new(0)).collect(),
            });
            let threads = [
                thread::spawn({
                    let mem = Arc::clone(&mem);
                    move || producer(&mem)
                }),
                thread::spawn({
                    let mem = Arc::clone(&mem);
                    move || consumer(&mem)
                }),
            ];
            let mut cursor = Cursor::new(0);
            let (mut buf, mut copied) = (Vec::new(), Vec::new());
            let mut expect = 0;
            for _ in 0..2 {
                // Batches of up to two records: one check covers both.
                match cursor.look(&*mem, &mut buf, &mut copied, 2, 64) {
                    Look::Records => {
                        for record in &copied {
                            let seq = u64::from(record.tag);
                            let pos = record.pos;
                            assert_eq!(pos, seq * SPAN, "record {seq} at its own position");
                            assert!(pos >= expect, "in position order");
                            let bytes = &buf[record.start..record.start + record.len];
                            assert_eq!(bytes, payload(seq).to_ne_bytes(), "record {seq} whole");
                            expect = pos + SPAN;
                        }
                    }
                    Look::Lapped(lap) => {
                        assert_eq!(lap.from, expect);
                        assert!(lap.to > lap.from && lap.to % SPAN == 0);
                        expect = lap.to;
                    }
                    Look::Empty => thread::yield_now(),
                    Look::Corrupt(corrupt) => panic!("{corrupt}"),
                }
                assert_eq!(cursor.position(), expect);
            }
            for thread in threads {
                thread.join().unwrap();
            }
        });
    }
}
