//! The hot path every front end shares: find the callsite's dictionary id,
//! claim, encode in place, commit.
//!
//! An [`Emitter`] owns one MPSC channel sender and what the front end keeps
//! beside it: the callsite table (metadata pointer → dictionary id and a size
//! hint), the count of events dropped since the last drop record, and the
//! full-ring policy. The calling thread allocates nothing, takes no lock and
//! makes no system call on this path once its callsite and its thread are
//! registered (both happen once: a dictionary entry each).

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;

use crate::channel::{SendClaim, SendError, mpsc};
use crate::events::{FullPolicy, Level};
use crate::ring::event::{self, Encoder, EventHeader, Kind, Meta, ThreadEntry};

/// Bytes claimed for a callsite's first event, before its size is known.
const FIRST_CLAIM: usize = 256;

/// Slots of a callsite table: callsites beyond it carry their metadata
/// inline (slower, never lost).
const SLOTS: usize = 4096;
/// Slots looked at before a lookup gives up.
const PROBES: usize = 16;

/// What an event refers to for its metadata.
#[derive(Clone, Copy)]
pub(crate) enum Site<'a> {
    /// A registered callsite: its dictionary id and its slot's size hint.
    Known(u32, &'a AtomicU32),
    /// Metadata written into the event itself (no dictionary room, or a
    /// callsite not worth a slot).
    Inline(&'a Meta<'a>),
}

/// What names a callsite in a [`Callsites`] table: an address (never 0)
/// and, for front ends whose callsites are not one static each, two more
/// words that must match as well.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Key {
    pub a: usize,
    pub b: u64,
    pub c: usize,
}

/// What a lookup found.
#[derive(Clone, Copy)]
pub(crate) enum Found<'a> {
    /// The callsite's dictionary id and its size hint.
    Id(u32, &'a AtomicU32),
    /// The callsite is known, but the dictionary had no room for it (or
    /// its registration is still under way): carry the metadata inline.
    Inline,
    /// Not seen yet: register it.
    Missing,
}

/// `Slot::id` of a callsite the dictionary had no room for.
const NO_ROOM: u32 = u32::MAX;

/// One slot of a [`Callsites`] table.
#[derive(Default)]
struct Slot {
    /// `Key::a` of the callsite; 0 while free. Taken with a CAS.
    a: AtomicUsize,
    /// `Key::b` and `Key::c`, stored by the taker before `id`.
    b: AtomicU64,
    c: AtomicUsize,
    /// Its dictionary id once registered ([`NO_ROOM`] if there was none); 0
    /// until then.
    id: AtomicU32,
    /// The largest event this callsite wrote, rounded up to 8: what the
    /// next one claims first.
    hint: AtomicU32,
}

/// Callsite keys to dictionary ids: a fixed open-addressing table, filled
/// once per callsite and read without locks afterwards.
pub(crate) struct Callsites {
    slots: Box<[Slot]>,
}

impl Callsites {
    pub(crate) fn new() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| Slot::default()).collect(),
        }
    }

    fn probe(&self, key: Key) -> impl Iterator<Item = &Slot> {
        // Fibonacci hashing of the words: an address's low bits are
        // alignment.
        let mixed = (key.a as u64) ^ key.b.rotate_left(29) ^ (key.c as u64).rotate_left(47);
        let start = (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize % SLOTS;
        (0..PROBES).map(move |step| &self.slots[(start + step) % SLOTS])
    }

    /// `slot`'s id, if it is registered under `key`.
    #[inline]
    fn id_for(slot: &Slot, key: Key) -> Option<u32> {
        // Acquire: pairs with the Release store of the id, after the other
        // key words and the dictionary entry were written.
        let id = slot.id.load(Ordering::Acquire);
        // Relaxed: stored before the id's Release store.
        (id != 0
            && slot.b.load(Ordering::Relaxed) == key.b
            && slot.c.load(Ordering::Relaxed) == key.c)
            .then_some(id)
    }

    /// What the table knows of `key`.
    #[inline]
    pub(crate) fn lookup(&self, key: Key) -> Found<'_> {
        for slot in self.probe(key) {
            // Relaxed: the address only names the slot; the id is read
            // with Acquire.
            match slot.a.load(Ordering::Relaxed) {
                0 => return Found::Missing,
                a if a == key.a => match Self::id_for(slot, key) {
                    Some(NO_ROOM) => return Found::Inline,
                    Some(id) => return Found::Id(id, &slot.hint),
                    // Another callsite at the same address, or one being
                    // registered: look on.
                    None => {}
                },
                _ => {}
            }
        }
        Found::Inline
    }

    /// Registers `key`, with `make` registering its dictionary entry (called
    /// at most once, by the thread that takes the slot). `Found::Inline` if
    /// the table or the dictionary has no room, or another thread is
    /// registering the same callsite right now.
    #[cold]
    pub(crate) fn register(&self, key: Key, make: impl FnOnce() -> Option<u32>) -> Found<'_> {
        for slot in self.probe(key) {
            match slot
                .a
                .compare_exchange(0, key.a, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    // Relaxed: published by the Release store of the id.
                    slot.b.store(key.b, Ordering::Relaxed);
                    slot.c.store(key.c, Ordering::Relaxed);
                    let id = make().unwrap_or(NO_ROOM);
                    // Release: pairs with the Acquire load in `id_for`.
                    slot.id.store(id, Ordering::Release);
                    return match id {
                        NO_ROOM => Found::Inline,
                        id => Found::Id(id, &slot.hint),
                    };
                }
                Err(a) if a == key.a => match Self::id_for(slot, key) {
                    Some(NO_ROOM) => return Found::Inline,
                    Some(id) => return Found::Id(id, &slot.hint),
                    None if slot.id.load(Ordering::Acquire) == 0 => return Found::Inline,
                    None => {}
                },
                Err(_) => {}
            }
        }
        Found::Inline
    }

    /// `lookup`, then `register` if the callsite is new.
    #[inline]
    pub(crate) fn find(&self, key: Key, make: impl FnOnce() -> Option<u32>) -> Found<'_> {
        match self.lookup(key) {
            Found::Missing => self.register(key, make),
            found => found,
        }
    }
}

/// The calling thread's dictionary entry, per ring: the ring's identity and
/// the entry's id (0: none yet, or no room), and the thread's number.
#[derive(Clone, Copy)]
struct ThreadCache {
    ring: usize,
    id: u32,
    number: u64,
}

thread_local! {
    static THREAD: Cell<ThreadCache> = const {
        Cell::new(ThreadCache { ring: 0, id: 0, number: 0 })
    };
}

/// The number std prints in the current thread's `ThreadId(N)`.
fn thread_number() -> u64 {
    /// A writer into a fixed buffer: `Debug` of a `ThreadId` without a
    /// `String`.
    struct Buf([u8; 40], usize);
    impl fmt::Write for Buf {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.1 + s.len();
            self.0.get_mut(self.1..end).ok_or(fmt::Error)?.copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }
    let mut buf = Buf([0; 40], 0);
    let _ = fmt::write(&mut buf, format_args!("{:?}", std::thread::current().id()));
    buf.0[..buf.1]
        .iter()
        .filter(|b| b.is_ascii_digit())
        .fold(0u64, |n, &b| n.wrapping_mul(10).wrapping_add(u64::from(b - b'0')))
}

/// The hot path of a front end over one MPSC channel sender.
pub(crate) struct Emitter {
    sender: mpsc::Sender,
    policy: FullPolicy,
    /// Events dropped since the last drop record was written.
    pending_drops: CachePadded<AtomicU64>,
    /// Every event dropped, over this emitter's life.
    dropped_total: AtomicU64,
    max_len: usize,
    pid: u32,
}

impl Emitter {
    pub(crate) fn new(sender: mpsc::Sender) -> Self {
        let max_len = sender.max_record_len();
        Self {
            sender,
            policy: FullPolicy::Drop,
            pending_drops: CachePadded::new(AtomicU64::new(0)),
            dropped_total: AtomicU64::new(0),
            max_len,
            pid: std::process::id(),
        }
    }

    pub(crate) fn set_policy(&mut self, policy: FullPolicy) {
        self.policy = policy;
    }

    /// Events dropped over this emitter's life (ring full, or no receiver).
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped_total.load(Ordering::Relaxed)
    }

    /// A key that names this emitter's ring in the thread cache.
    fn ring_key(&self) -> usize {
        self.sender.ring().base_addr()
    }

    /// Registers a callsite's metadata in the ring's dictionary: its id, or
    /// `None` if the dictionary has no room (events then carry it inline).
    pub(crate) fn register(&self, meta: &Meta<'_>) -> Option<u32> {
        let len = event::callsite_entry_len(meta)?;
        self.sender
            .ring()
            .dictionary()
            .register(len, |buf| event::encode_callsite_entry(meta, buf))
    }

    /// The calling thread's entry: `(id, number)`, registered on its first
    /// event into this ring (id 0 if the dictionary has no room).
    #[inline]
    fn thread(&self) -> (u32, u64) {
        let ring = self.ring_key();
        let cached = THREAD.with(Cell::get);
        if cached.ring == ring {
            return (cached.id, cached.number);
        }
        self.register_thread(ring)
    }

    #[cold]
    fn register_thread(&self, ring: usize) -> (u32, u64) {
        let number = thread_number();
        let current = std::thread::current();
        let entry = ThreadEntry {
            pid: self.pid,
            number,
            name: current.name().unwrap_or(""),
        };
        let id = self
            .sender
            .ring()
            .dictionary()
            .register(event::thread_entry_len(&entry), |buf| {
                event::encode_thread_entry(&entry, buf)
            })
            .unwrap_or(0);
        THREAD.with(|cell| cell.set(ThreadCache { ring, id, number }));
        (id, number)
    }

    fn claim(&self, len: usize) -> Result<SendClaim<'_>, SendError> {
        match self.policy {
            FullPolicy::Drop => self.sender.try_claim(len),
            FullPolicy::Spin => self.sender.claim(len),
        }
    }

    #[cold]
    fn count_drop(&self) {
        // Relaxed: counters; the drop record reads them with a swap.
        self.pending_drops.fetch_add(1, Ordering::Relaxed);
        self.dropped_total.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes one event: `body` encodes its spans and fields (it may be
    /// called again, into a larger claim, if the first was too small).
    #[inline]
    pub(crate) fn emit(
        &self,
        level: Level,
        site: Site<'_>,
        spans: u8,
        body: impl Fn(&mut Encoder<'_>),
    ) {
        let time = crate::events::now_ns();
        let (thread, number) = self.thread();
        // Relaxed: a hint; the swap in `write_drops` takes the count.
        if self.pending_drops.load(Ordering::Relaxed) != 0 {
            self.write_drops(time, thread, number);
        }
        let header = EventHeader {
            kind: Kind::Event,
            level,
            time_ns: time,
            pid: self.pid,
            thread,
            thread_number: number,
            spans,
        };
        let hint = match site {
            Site::Known(_, hint) => hint.load(Ordering::Relaxed) as usize,
            Site::Inline(_) => 0,
        };
        let mut want = if hint == 0 { FIRST_CLAIM } else { hint }.min(self.max_len);
        loop {
            let Ok(mut claim) = self.claim(want) else {
                self.count_drop();
                return;
            };
            let mut enc = Encoder::new(&mut claim);
            match site {
                Site::Known(id, _) => enc.header(&header, event::Callsite::Id(id)),
                Site::Inline(meta) => enc.header(&header, event::Callsite::Inline(meta)),
            }
            body(&mut enc);
            let len = match enc.finish() {
                Ok(len) => len,
                Err(_) if want < self.max_len => {
                    claim.abort();
                    want = want.saturating_mul(4).min(self.max_len);
                    continue;
                }
                Err(overflow) => overflow.truncated_len(),
            };
            claim.truncate(len);
            claim.set_event_tag();
            claim.commit();
            if let Site::Known(_, hint) = site {
                let span = len.next_multiple_of(8) as u32;
                // Relaxed: a size hint, nothing is published through it.
                if span > hint.load(Ordering::Relaxed) {
                    hint.fetch_max(span, Ordering::Relaxed);
                }
            }
            return;
        }
    }

    /// Writes the record "N events dropped" before the event that found
    /// room; puts the count back if there is no room for it either.
    #[cold]
    fn write_drops(&self, time: u64, thread: u32, number: u64) {
        let count = self.pending_drops.swap(0, Ordering::Relaxed);
        if count == 0 {
            return;
        }
        let header = EventHeader {
            kind: Kind::Dropped,
            level: Level::Warn,
            time_ns: time,
            pid: self.pid,
            thread,
            thread_number: number,
            spans: 0,
        };
        let len = event::dropped_len(&header);
        match self.claim(len) {
            Ok(mut claim) => {
                let written = event::encode_dropped(&header, count, &mut claim);
                claim.truncate(written);
                claim.set_event_tag();
                claim.commit();
            }
            Err(_) => {
                self.pending_drops.fetch_add(count, Ordering::Relaxed);
            }
        }
    }
}

impl fmt::Debug for Emitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emitter")
            .field("policy", &self.policy)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}
