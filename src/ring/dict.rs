//! The callsite dictionary: an append-only table after a ring's data area
//! (format 1.1; the layout is drawn in `layout`), where log front-ends write
//! once what never changes per callsite, for events to refer to by id.
//!
//! It lives in the ring's own memory, so every process that can read the
//! ring can read it, at any time: a tailer started after the logger, or
//! restarted after the entries' events were consumed. Entries are never
//! removed or changed, so an id stays valid for the ring's life, and a
//! restarted or upgraded producer registers its own entries beside those of
//! its predecessors (ids are offsets: they never collide).
//!
//! # The protocol
//!
//! Registering, like claiming a record, reserves space and then publishes
//! it with one Release store:
//!
//! 1. `next.fetch_add(span)` reserves `[off, off + span)` for this
//!    registrant alone (`span` is the entry's word, payload and fill). If
//!    the reservation ends past the dictionary, the dictionary is full: the
//!    space is never used, and `next` stays past the end, so every later
//!    registration fails at once (it loads `next` first).
//! 2. The registrant writes the payload, a word at a time with atomic
//!    (Relaxed) stores.
//! 3. It stores the entry's word, `committed | len`, with Release.
//!
//! A reader given an id loads the word at `id * 8` (Relaxed, then an
//! Acquire fence: the pair of step 3's Release, and all a read-only mapping
//! allows) and, only if the word says committed, copies the payload out
//! with atomic (Relaxed) loads. Every access to the dictionary's bytes is
//! atomic: an id from a damaged record may point inside an entry another
//! thread is writing, and that must be a wrong answer, never a data race
//! (which a plain slice of the payload would be). An entry
//! whose registrant died before step 3 stays empty for ever; no event
//! refers to it, since a registrant uses an id only once it is committed.
//!
//! Everything a reader finds is untrusted (another process, a damaged
//! file): ids, words and lengths are checked against the dictionary's
//! bounds before any byte is read, and a bad one is `None`.

// Outside the tests, ring files (`stat`) and the event front-ends use it.
#![cfg_attr(
    not(all(feature = "mmap", target_os = "linux", not(loom))),
    allow(dead_code)
)]

#[cfg(not(loom))]
use std::marker::PhantomData;
#[cfg(not(loom))]
use std::ptr::NonNull;

use super::layout::{COMMITTED, DICT_ENTRIES, LEN_MASK, WORD, span_of};
use crate::sync::{AtomicU64, Ordering, fence};

/// A ring's dictionary, borrowed from the ring (or the read-only mapping of
/// an observer) that holds it.
#[derive(Clone, Copy)]
pub(crate) struct Dictionary<'a> {
    #[cfg(not(loom))]
    base: NonNull<u8>,
    #[cfg(not(loom))]
    _memory: PhantomData<&'a AtomicU64>,
    #[cfg(loom)]
    model: &'a crate::region::ModelDict,
    /// Bytes of the dictionary: 0 (none), or at least `DICT_ENTRIES + 8`
    /// and a multiple of 8.
    len: u64,
    /// Whether entries may be registered (`false` for a read-only mapping,
    /// which only loads).
    writable: bool,
}

// SAFETY: a dictionary is a view of memory its owner keeps alive for 'a;
// every access to it is an atomic, or payload bytes that one registrant
// writes before publishing them and that are immutable afterwards.
unsafe impl Send for Dictionary<'_> {}
// SAFETY: as for `Send`.
unsafe impl Sync for Dictionary<'_> {}

impl<'a> Dictionary<'a> {
    /// The dictionary of `len` bytes at `base`. A length too short to hold
    /// one entry is no dictionary (always full, every id missing).
    ///
    /// # Safety
    ///
    /// `base` is 8-aligned and points to `len` bytes (a multiple of 8) that
    /// stay mapped and readable for `'a`, and writable if `writable`, laid
    /// out as a dictionary (any bytes are: everything read is checked).
    /// Only atomics and the protocol above access them.
    #[cfg(not(loom))]
    pub(crate) unsafe fn from_raw(base: NonNull<u8>, len: u64, writable: bool) -> Self {
        debug_assert_eq!(base.as_ptr() as usize % WORD as usize, 0);
        debug_assert_eq!(len % WORD, 0);
        Self {
            base,
            _memory: PhantomData,
            len: if len >= DICT_ENTRIES + WORD { len } else { 0 },
            writable,
        }
    }

    /// The dictionary of a loom model's region.
    #[cfg(loom)]
    pub(crate) fn model(model: &'a crate::region::ModelDict) -> Self {
        let len = model.len();
        Self {
            model,
            len: if len >= DICT_ENTRIES + WORD { len } else { 0 },
            writable: true,
        }
    }

    /// Sets `next` of a new dictionary to the first entry. Called by the
    /// ring's creator before it publishes the header.
    #[cfg(not(loom))]
    pub(crate) fn initialise(&self) {
        if self.len != 0 && self.writable {
            // Relaxed: published by the Release store of the header's
            // initialised marker, which follows.
            self.word(0).store(DICT_ENTRIES, Ordering::Relaxed);
        }
    }

    /// The dictionary's size in bytes (0: the ring has none).
    #[cfg_attr(not(test), allow(dead_code))] // the event front-ends use it
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Bytes in use: the offset of the next free entry (its first 64 bytes
    /// are the dictionary's own), at most [`len`](Self::len). A snapshot.
    pub(crate) fn used(&self) -> u64 {
        if self.len == 0 {
            return 0;
        }
        // Relaxed: a statistic; nothing is read on it.
        self.word(0).load(Ordering::Relaxed).min(self.len)
    }

    /// Registers an entry of `len` payload bytes, written by `fill` (which
    /// gets them as found: zero in a new ring), and returns its id once it
    /// is committed; `None` if the dictionary is full (or there is none, or
    /// it is mapped read-only). Never blocks; lock-free.
    ///
    /// If `fill` panics, the entry stays empty for ever (its space is lost,
    /// and no id refers to it).
    #[cfg_attr(not(test), allow(dead_code))] // the event front-ends use it
    pub(crate) fn register(&self, len: usize, fill: impl FnOnce(&mut [u8])) -> Option<u32> {
        if !self.writable || self.len == 0 || len as u64 > LEN_MASK {
            return None;
        }
        let len = len as u64;
        let span = span_of(len);
        // An entry that could never fit takes nothing from those that can.
        if span > self.len - DICT_ENTRIES {
            return None;
        }
        let next = self.word(0);
        // Relaxed: a look before reserving, so that a full dictionary's
        // `next` stops growing; the fetch_add below decides.
        if next.load(Ordering::Relaxed) >= self.len {
            return None;
        }
        // Relaxed: the reservation gives this registrant the range alone;
        // what it writes there is published by the Release store below.
        let off = next.fetch_add(span, Ordering::Relaxed);
        // A `next` that no registrant leaves (below the entries, unaligned,
        // or so large it wraps) is damage: register nothing.
        let end = off.checked_add(span)?;
        if off < DICT_ENTRIES || off % WORD != 0 || end > self.len {
            return None;
        }
        // The payload is staged, then stored a word at a time with atomic
        // stores: a reader handed a wrong id (a damaged record) may load
        // words inside this entry while it is written, and every access to
        // the dictionary's bytes is atomic, so that is never a data race.
        // Registering is once per callsite or thread: the staging buffer's
        // allocation is not on an event's path.
        let mut staged = vec![0u8; (span - WORD) as usize];
        fill(&mut staged[..len as usize]);
        for (i, chunk) in staged.chunks_exact(WORD as usize).enumerate() {
            let mut word = [0u8; WORD as usize];
            word.copy_from_slice(chunk);
            // Relaxed: published by the Release store of the entry's word
            // below. `off + 8 + span - 8 = end <= len`: inside.
            self.word(off + WORD + i as u64 * WORD)
                .store(u64::from_le_bytes(word), Ordering::Relaxed);
        }
        // Release: pairs with the Acquire fence after a reader's load of
        // this word in `entry`, which then sees the payload.
        self.word(off).store(COMMITTED | len, Ordering::Release);
        // `off < len <= 1 GiB` by the dictionary's bounds (checked when the
        // ring was validated), so the id fits; a larger heap dictionary
        // would be a bug, never wrap silently.
        u32::try_from(off / WORD).ok()
    }

    /// A copy of the payload of the committed entry `id`; `None` if there is
    /// no such entry (an id out of range, an entry not committed, a word or
    /// length that no registrant writes).
    ///
    /// A copy, read with atomic loads, not a slice of the dictionary: an id
    /// read from a damaged record may point inside an entry another thread
    /// is writing (with atomic stores), where a plain read would race.
    /// Readers copy each entry once (the decoder keeps what it parsed).
    #[cfg_attr(not(test), allow(dead_code))] // the event front-ends use it
    pub(crate) fn entry(&self, id: u32) -> Option<Vec<u8>> {
        let off = u64::from(id) * WORD;
        // `off` and `len` are multiples of 8: `off < len` keeps the word
        // inside.
        if off < DICT_ENTRIES || off >= self.len {
            return None;
        }
        // Relaxed, then the Acquire fence: the pair of the registrant's
        // Release store of the word (a read-only mapping promises Relaxed
        // loads only).
        let raw = self.word(off).load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        // Committed, with the high half zero, as registrants write it.
        if raw & !LEN_MASK != COMMITTED {
            return None;
        }
        let len = raw & LEN_MASK;
        if len > self.len - off - WORD {
            return None;
        }
        // `self.len - off - 8` is a multiple of 8 at least `len`, so the
        // payload's last word is inside too.
        let mut payload = Vec::with_capacity(len as usize);
        let mut at = off + WORD;
        while (payload.len() as u64) < len {
            // Relaxed: ordered after the entry's word by the fence above.
            let word = self.word(at).load(Ordering::Relaxed).to_le_bytes();
            let take = (len - payload.len() as u64).min(WORD) as usize;
            payload.extend_from_slice(&word[..take]);
            at += WORD;
        }
        Some(payload)
    }

    /// [`entry`](Self::entry), with the offset of the payload in the
    /// dictionary, so that a fuzz target checks where it lies.
    #[cfg(all(fuzzing, not(loom)))]
    pub(crate) fn fuzz_entry(&self, id: u32) -> Option<(u64, Vec<u8>)> {
        let payload = self.entry(id)?;
        Some((u64::from(id) * WORD + WORD, payload))
    }

    /// The word at `off` (8-aligned, `off + 8 <= len`).
    #[inline]
    fn word(&self, off: u64) -> &'a AtomicU64 {
        debug_assert!(off % WORD == 0 && off + WORD <= self.len);
        #[cfg(not(loom))]
        // SAFETY: inside the dictionary and 8-aligned (the caller's bounds
        // and `from_raw`'s promise), alive for 'a; any bytes are a valid
        // `AtomicU64`, and every concurrent access to the word is atomic.
        return unsafe { self.base.add(off as usize).cast::<AtomicU64>().as_ref() };
        #[cfg(loom)]
        return self.model.word(off);
    }
}

impl std::fmt::Debug for Dictionary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dictionary")
            .field("len", &self.len)
            .field("used", &self.used())
            .field("writable", &self.writable)
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Barrier;

    use super::*;
    use crate::ring::Ring;
    use crate::ring::layout::{Mode, default_dict_len};

    /// A heap ring whose dictionary holds `len` bytes.
    fn ring(len: u64) -> Ring {
        Ring::new_heap_with_dictionary(Mode::Mpsc, 1024, len).unwrap()
    }

    /// Stores `value` at dictionary offset `off` of `ring`, as a damaged
    /// file or a foreign writer could.
    fn poke(ring: &Ring, off: u64, value: u64) {
        ring.dictionary().word(off).store(value, Ordering::Relaxed);
    }

    #[test]
    fn entries_round_trip() {
        let ring = ring(4096);
        let dict = ring.dictionary();
        assert_eq!(dict.len(), 4096);
        assert_eq!(dict.used(), DICT_ENTRIES);
        let a = dict.register(5, |b| b.copy_from_slice(b"hello")).unwrap();
        let b = dict.register(0, |_| {}).unwrap();
        let c = dict
            .register(9, |b| b.copy_from_slice(b"123456789"))
            .unwrap();
        assert_eq!(a, (DICT_ENTRIES / 8) as u32, "the first entry's id");
        assert_eq!(b, a + 2, "the first entry spans 16 bytes");
        assert_eq!(c, b + 1);
        assert_eq!(dict.entry(a).as_deref(), Some(&b"hello"[..]));
        assert_eq!(dict.entry(b).as_deref(), Some(&b""[..]));
        assert_eq!(dict.entry(c).as_deref(), Some(&b"123456789"[..]));
        assert_eq!(dict.used(), DICT_ENTRIES + 16 + 8 + 24);
        // Another handle of the same ring sees them.
        assert_eq!(
            ring.share().dictionary().entry(c).as_deref(),
            Some(&b"123456789"[..])
        );
    }

    #[test]
    fn heap_rings_get_the_default_dictionary() {
        let small = Ring::new_heap(Mode::Spsc, 1024).unwrap();
        assert_eq!(small.dictionary().len(), 0);
        assert_eq!(small.dictionary().register(1, |_| {}), None);
        assert_eq!(small.dictionary().used(), 0);
        let large = Ring::new_heap(Mode::Spsc, 1 << 20).unwrap();
        assert_eq!(large.dictionary().len(), default_dict_len(1 << 20));
        assert_eq!(large.dictionary().len(), 256 * 1024);
        assert!(large.dictionary().register(1, |b| b[0] = 7).is_some());
    }

    #[test]
    fn a_full_dictionary_registers_nothing_and_keeps_its_entries() {
        let ring = ring(128);
        let dict = ring.dictionary();
        // 64 bytes of entries: three of 8 bytes (16 each), then one of 16
        // (24) does not fit, and nothing fits after it.
        let ids: Vec<u32> = (0..3)
            .map(|i| dict.register(8, |b| b.fill(i)).unwrap())
            .collect();
        assert_eq!(dict.register(16, |_| panic!("no room")), None);
        assert_eq!(dict.register(0, |_| panic!("no room")), None);
        assert_eq!(dict.used(), 128);
        for (i, id) in ids.into_iter().enumerate() {
            assert_eq!(dict.entry(id).as_deref(), Some(&[i as u8; 8][..]));
        }
        // An entry larger than the whole dictionary, or than a word says.
        let ring = self::ring(4096);
        assert_eq!(ring.dictionary().register(4096, |_| {}), None);
        assert_eq!(
            ring.dictionary().register(LEN_MASK as usize + 1, |_| {}),
            None
        );
        assert!(ring.dictionary().register(8, |_| {}).is_some());
    }

    #[test]
    fn ids_out_of_range_are_none() {
        let ring = ring(4096);
        let dict = ring.dictionary();
        let id = dict.register(3, |b| b.copy_from_slice(b"abc")).unwrap();
        for bad in [0, 1, 7, id + 1, id + 2, 4096 / 8, 4096 / 8 + 1, u32::MAX] {
            assert_eq!(dict.entry(bad), None, "id {bad}");
        }
        assert_eq!(dict.entry(id).as_deref(), Some(&b"abc"[..]));
        // A ring without a dictionary has no entries.
        let none = Ring::new_heap(Mode::Spsc, 64).unwrap();
        for id in [0, 8, u32::MAX] {
            assert_eq!(none.dictionary().entry(id), None);
        }
    }

    #[test]
    fn corrupt_words_are_none() {
        let ring = ring(256);
        let dict = ring.dictionary();
        // Claimed, padding and invalid states; high bits set; a length
        // past the end (from the last word, and from the first entry).
        let cases = [
            (200, (0b01 << 30) | 8),
            (200, (0b11 << 30) | 8),
            (200, 1 << 32 | COMMITTED | 8),
            (200, 8),
            (248, COMMITTED | 1),
            (248, COMMITTED),
            (64, COMMITTED | (256 - 64 - 8 + 1)),
            (64, COMMITTED | LEN_MASK),
        ];
        for (off, word) in cases {
            poke(&ring, off, word);
            let found = dict.entry((off / 8) as u32);
            match (off, word) {
                // A zero-length committed entry in the last word is whole.
                (248, w) if w == COMMITTED => assert_eq!(found.as_deref(), Some(&[][..])),
                _ => assert_eq!(found, None, "word {word:#x} at {off}"),
            }
            poke(&ring, off, 0);
        }
        // The longest entry that fits is read whole.
        poke(&ring, 64, COMMITTED | (256 - 64 - 8));
        assert_eq!(dict.entry(8).map(|entry| entry.len()), Some(256 - 64 - 8));
    }

    #[test]
    fn a_damaged_next_registers_nothing() {
        for next in [0, 8, 63, 65, u64::MAX - 7, u64::MAX] {
            let ring = ring(4096);
            poke(&ring, 0, next);
            assert_eq!(
                ring.dictionary().register(8, |_| panic!("must not write")),
                None,
                "next {next:#x}"
            );
            assert_eq!(ring.dictionary().entry(0), None);
        }
    }

    #[test]
    fn a_read_only_view_registers_nothing() {
        let ring = ring(4096);
        let id = ring.dictionary().register(2, |b| b.fill(9)).unwrap();
        // SAFETY: the same memory `ring.dictionary()` views, alive while
        // `ring` is.
        let view = unsafe { Dictionary::from_raw(ring.dictionary().base, 4096, false) };
        assert_eq!(view.register(1, |_| panic!("read-only")), None);
        assert_eq!(view.entry(id).as_deref(), Some(&[9, 9][..]));
        assert_eq!(view.used(), ring.dictionary().used());
    }

    /// Threads registering at once get disjoint entries, each whole, and
    /// a reader running beside them sees each entry whole or not at all.
    #[test]
    fn concurrent_registrations_are_disjoint_and_whole() {
        const THREADS: usize = 4;
        let per_thread = if cfg!(miri) { 8 } else { 200 };
        let ring = ring(64 * 1024);
        let start = Barrier::new(THREADS + 1);
        let ids: Vec<Vec<(u32, Vec<u8>)>> = std::thread::scope(|scope| {
            let writers: Vec<_> = (0..THREADS)
                .map(|t| {
                    let (ring, start) = (&ring, &start);
                    scope.spawn(move || {
                        start.wait();
                        (0..per_thread)
                            .map(|i| {
                                let bytes: Vec<u8> =
                                    (0..(i % 23)).map(|k| (t * 64 + k) as u8).collect();
                                let id = ring
                                    .dictionary()
                                    .register(bytes.len(), |b| b.copy_from_slice(&bytes))
                                    .unwrap();
                                (id, bytes)
                            })
                            .collect()
                    })
                })
                .collect();
            let reader = {
                let (ring, start) = (&ring, &start);
                scope.spawn(move || {
                    start.wait();
                    for _ in 0..per_thread * 4 {
                        for id in 8..(64 * 1024 / 8) as u32 {
                            if let Some(entry) = ring.dictionary().entry(id) {
                                let first = entry.first().copied().unwrap_or(0);
                                for (k, &byte) in entry.iter().enumerate() {
                                    assert_eq!(byte, first.wrapping_add(k as u8));
                                }
                            }
                        }
                    }
                })
            };
            reader.join().unwrap();
            writers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let mut seen = std::collections::HashSet::new();
        for (id, bytes) in ids.into_iter().flatten() {
            assert!(seen.insert(id), "id {id} given twice");
            assert_eq!(ring.dictionary().entry(id).as_deref(), Some(&bytes[..]));
        }
    }
}

#[cfg(all(test, loom))]
mod loom_model {
    //! A loom model of registration and lookup. Run with:
    //!
    //! ```text
    //! RUSTFLAGS="--cfg loom" cargo test --release --lib
    //! ```

    use loom::sync::Arc;
    use loom::thread;

    use crate::ring::Ring;
    use crate::ring::layout::Mode;

    /// Two registrants race for a dictionary with room for two entries of
    /// 8 bytes while a reader looks both ids up: the registrants get the
    /// two entries (one each), the reader sees each one whole or not at
    /// all, and a third registration finds the dictionary full.
    #[test]
    fn two_registrants_and_a_reader() {
        let mut builder = loom::model::Builder::new();
        if builder.preemption_bound.is_none() {
            builder.preemption_bound = Some(3);
        }
        builder.check(|| {
            // 64 bytes of the dictionary's own, then two entries of 16.
            let ring = Arc::new(Ring::new_heap_with_dictionary(Mode::Mpsc, 64, 96).unwrap());
            let registrants: Vec<_> = [1u8, 2]
                .into_iter()
                .map(|who| {
                    let ring = Arc::clone(&ring);
                    thread::spawn(move || {
                        ring.dictionary()
                            .register(8, |bytes| bytes.fill(who))
                            .expect("room for both")
                    })
                })
                .collect();
            let reader = {
                let ring = Arc::clone(&ring);
                thread::spawn(move || {
                    for id in [8, 10] {
                        if let Some(entry) = ring.dictionary().entry(id) {
                            assert!(entry == [1; 8] || entry == [2; 8], "{entry:?}");
                        }
                    }
                })
            };
            let ids: Vec<u32> = registrants.into_iter().map(|r| r.join().unwrap()).collect();
            reader.join().unwrap();
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, [8, 10]);
            assert_eq!(
                ring.dictionary().entry(ids[0]).as_deref(),
                Some(&[1; 8][..])
            );
            assert_eq!(
                ring.dictionary().entry(ids[1]).as_deref(),
                Some(&[2; 8][..])
            );
            assert_eq!(ring.dictionary().register(0, |_| {}), None);
        });
    }
}
