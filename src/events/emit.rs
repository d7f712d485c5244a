//! The hot path every front end shares: find the callsite's dictionary id,
//! claim, encode in place, commit.
//!
//! An [`Emitter`] owns one MPSC channel sender and what the front end keeps
//! beside it: the full-ring policy and the count of its own drops. The
//! callsite tables (key → dictionary id and a size hint) are the front ends'.
//! Drops not yet reported are counted in the ring's header, shared by every
//! front end writing into the ring.
//!
//! The calling thread allocates nothing, takes no lock and makes no system
//! call on this path once its callsite and its thread are registered (both
//! happen once: a dictionary entry each).

// The callsite table serves the `tracing` and `log` front ends; the
// macros keep their callsites' ids in statics of their own.
#![cfg_attr(not(any(feature = "tracing", feature = "log")), allow(dead_code))]

use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::channel::{SendClaim, SendError, mpsc};
use crate::events::{FullPolicy, Level};
use crate::ring::event::{self, CallsiteRef, Encoder, EventHeader, Meta, ThreadInfo, ThreadRef};

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
    /// The size of the last event this callsite wrote: what the next one
    /// claims, rounded up to a word (which takes no more of the ring, and
    /// leaves room for a number with a digit more).
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
    fn lookup(&self, key: Key) -> Found<'_> {
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
    fn register(&self, key: Key, make: impl FnOnce() -> Option<u32>) -> Found<'_> {
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

/// The calling thread's dictionary entry in one emitter's ring: the
/// emitter's serial number (0: an empty cache line), the entry's id (0: the
/// dictionary had no room) and the thread's number.
#[derive(Clone, Copy)]
struct ThreadCache {
    emitter: u64,
    id: u32,
    number: u64,
}

impl ThreadCache {
    const EMPTY: Self = Self {
        emitter: 0,
        id: 0,
        number: 0,
    };

    fn thread(self) -> ThreadRef {
        match self.id {
            0 => ThreadRef::Inline(self.number),
            id => ThreadRef::Entry(id),
        }
    }
}

/// Emitters a thread remembers its entry for, besides the one it used last:
/// a thread that logs through more of them in turn registers itself again (a
/// dictionary entry each time) when it comes back to one it forgot.
const OLDER_THREADS: usize = 3;

thread_local! {
    /// The entry the thread used last: looked at first, one word compared.
    static NEWEST: Cell<ThreadCache> = const { Cell::new(ThreadCache::EMPTY) };
    /// The entries it used before, newest first.
    static OLDER: Cell<[ThreadCache; OLDER_THREADS]> =
        const { Cell::new([ThreadCache::EMPTY; OLDER_THREADS]) };
}

thread_local! {
    /// Where the thread encodes an event larger than its first claim: kept
    /// for the next one, so that only an event larger than any before on
    /// the thread allocates (at most the ring's largest record).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Keeps `len` as the size the callsite's next event claims: the last size,
/// not the largest, so that one large event does not make every later one
/// claim (and so take from the ring) as much.
#[inline]
fn remember_size(hint: &AtomicU32, len: usize) {
    // Relaxed: a size hint, nothing is published through it. A record is
    // never 4 GiB (it fits a ring).
    let len = len as u32;
    if len != hint.load(Ordering::Relaxed) {
        hint.store(len, Ordering::Relaxed);
    }
}

/// Serial numbers of emitters, from 1: what names an emitter (and so its
/// ring's dictionary) in the thread cache. Not an address, which a later
/// ring could reuse.
static SERIAL: AtomicU64 = AtomicU64::new(1);

/// The number std prints in the current thread's `ThreadId(N)`.
fn thread_number() -> u64 {
    /// A writer into a fixed buffer: `Debug` of a `ThreadId` without a
    /// `String`.
    struct Buf([u8; 40], usize);
    impl fmt::Write for Buf {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.1 + s.len();
            self.0
                .get_mut(self.1..end)
                .ok_or(fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }
    let mut buf = Buf([0; 40], 0);
    let _ = fmt::write(&mut buf, format_args!("{:?}", std::thread::current().id()));
    buf.0[..buf.1]
        .iter()
        .filter(|b| b.is_ascii_digit())
        .fold(0u64, |n, &b| {
            n.wrapping_mul(10).wrapping_add(u64::from(b - b'0'))
        })
}

/// The hot path of a front end over one MPSC channel sender.
pub(crate) struct Emitter {
    sender: mpsc::Sender,
    policy: FullPolicy,
    /// Every event dropped, over this emitter's life.
    dropped_total: AtomicU64,
    max_len: usize,
    pid: u32,
    /// This emitter's name in the thread cache.
    serial: u64,
}

impl Emitter {
    pub(crate) fn new(sender: mpsc::Sender) -> Self {
        let max_len = sender.max_record_len();
        Self {
            sender,
            policy: FullPolicy::Drop,
            dropped_total: AtomicU64::new(0),
            max_len,
            pid: std::process::id(),
            // Relaxed: a unique number is all that is asked of it.
            serial: SERIAL.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The ring's count of dropped events no notice reported yet: shared
    /// by every front end writing into the ring, in any process.
    #[inline]
    fn unreported(&self) -> &AtomicU64 {
        &self.sender.ring().header().events.0.unreported_drops
    }

    pub(crate) fn set_policy(&mut self, policy: FullPolicy) {
        self.policy = policy;
    }

    /// Counts `count` events dropped before they reached this emitter (the
    /// macros' calls before their sender was set): the next event's notice
    /// reports them.
    #[cfg(feature = "macros")]
    pub(crate) fn add_drops(&self, count: u64) {
        // Relaxed: counters; a drop notice takes the count with a swap.
        self.unreported().fetch_add(count, Ordering::Relaxed);
        self.dropped_total.fetch_add(count, Ordering::Relaxed);
    }

    /// Events dropped over this emitter's life (ring full, or no receiver).
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped_total.load(Ordering::Relaxed)
    }

    /// Registers a callsite's metadata in the ring's dictionary: its id, or
    /// `None` if the dictionary has no room (events then carry it inline).
    pub(crate) fn register(&self, meta: &Meta<'_>) -> Option<u32> {
        let len = event::callsite_entry_len(meta);
        self.sender.ring().dictionary().register(len, |buf| {
            // The entry was sized by `callsite_entry_len`: it fits.
            let _ = event::encode_callsite_entry(meta, buf);
        })
    }

    /// The calling thread as events refer to it: its dictionary entry,
    /// registered on its first event into this ring, or its number inline
    /// if the dictionary has no room.
    #[inline]
    fn thread(&self) -> ThreadRef {
        let newest = NEWEST.with(Cell::get);
        if newest.emitter == self.serial {
            return newest.thread();
        }
        self.other_thread_entry()
    }

    /// The thread's entry for this emitter when it last used another: from
    /// the older entries (swapped to the front), or registered.
    #[cold]
    fn other_thread_entry(&self) -> ThreadRef {
        let mut older = OLDER.with(Cell::get);
        let newest = NEWEST.with(Cell::get);
        let line = match older.iter().position(|line| line.emitter == self.serial) {
            Some(at) => {
                let line = older[at];
                older[at] = newest;
                line
            }
            None => {
                let line = self.register_thread();
                // The oldest is forgotten.
                older.rotate_right(1);
                older[0] = newest;
                line
            }
        };
        OLDER.with(|cell| cell.set(older));
        NEWEST.with(|cell| cell.set(line));
        line.thread()
    }

    /// Registers the calling thread in this emitter's dictionary.
    fn register_thread(&self) -> ThreadCache {
        let number = thread_number();
        let current = std::thread::current();
        let info = ThreadInfo {
            number,
            name: current.name(),
        };
        let id = self
            .sender
            .ring()
            .dictionary()
            .register(event::thread_entry_len(&info), |buf| {
                // Sized by `thread_entry_len`: it fits.
                let _ = event::encode_thread_entry(self.pid, &info, buf);
            })
            .unwrap_or(0);
        ThreadCache {
            emitter: self.serial,
            id,
            number,
        }
    }

    fn claim(&self, len: usize) -> Result<SendClaim<'_>, SendError> {
        match self.policy {
            FullPolicy::Drop => self.sender.try_claim(len),
            FullPolicy::Spin => self.sender.claim(len),
        }
    }

    #[cold]
    fn count_drop(&self) {
        // Relaxed: counters; a drop notice takes the count with a swap.
        self.unreported().fetch_add(1, Ordering::Relaxed);
        self.dropped_total.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes one event: `body` encodes its spans and fields (it may be
    /// called again, into a larger claim, if the first was too small).
    ///
    /// If events were dropped since the last notice, the notice ("N events
    /// dropped") goes first, and only together with this event: a notice
    /// that fits where the event does not waits for the next event, so a
    /// full ring does not fill with notices of one drop each.
    #[inline]
    pub(crate) fn emit(&self, level: Level, site: Site<'_>, body: impl Fn(&mut Encoder<'_>)) {
        let time_ns = crate::events::clock::now_ns();
        let thread = self.thread();
        // Relaxed: a hint; `DropNotice::claim` takes the count with a swap.
        let mut notice = if self.unreported().load(Ordering::Relaxed) != 0 {
            DropNotice::claim(self, time_ns, thread)
        } else {
            None
        };
        let (callsite, hint) = match site {
            Site::Known(id, hint) => (CallsiteRef::Entry(id), Some(hint)),
            Site::Inline(meta) => (CallsiteRef::Inline(meta), None),
        };
        let header = EventHeader {
            level,
            time_ns,
            pid: self.pid,
            callsite,
            thread,
        };
        // Relaxed: a size hint, nothing is published through it.
        let mut last = hint.map_or(0, |hint| hint.load(Ordering::Relaxed) as usize);
        // Rounded up to a word: the same span in the ring, so an event of
        // the same size (or up to 7 bytes larger) needs no padding after it.
        let mut want = if last == 0 {
            FIRST_CLAIM
        } else {
            last.next_multiple_of(8)
        }
        .min(self.max_len);
        loop {
            let mut claim = match self.claim(want) {
                Ok(claim) => claim,
                // The size of the callsite's last event, perhaps a large
                // one, does not fit: try the size of a first event.
                Err(SendError::Full) if last != 0 && want > FIRST_CLAIM => {
                    last = 0;
                    want = FIRST_CLAIM;
                    continue;
                }
                Err(_) => {
                    self.drop_event(notice);
                    return;
                }
            };
            let mut enc = Encoder::new(&mut claim);
            enc.event(&header);
            body(&mut enc);
            let Ok(len) = enc.finish() else {
                // Larger than the claim: encoded again off the ring, then
                // claimed at its size. (Claims made larger and larger
                // would each keep their space until the reader passes it:
                // an event of a quarter of the ring could never fit.)
                claim.abort();
                self.emit_large(&header, notice, hint, body);
                return;
            };
            if let Some(notice) = notice.take() {
                notice.claim.commit();
            }
            claim.truncate(len);
            claim.set_tag_unchecked(event::EVENT_TAG_V1);
            claim.commit();
            if let Some(hint) = hint {
                remember_size(hint, len);
            }
            return;
        }
    }

    /// Writes an event larger than its first claim: encodes it into the
    /// thread's scratch buffer (grown to the event's size, at most the
    /// ring's largest record: beyond it the event keeps the spans and fields
    /// that fit, marked truncated), then claims exactly its size and copies
    /// it in.
    #[cold]
    #[inline(never)]
    fn emit_large(
        &self,
        header: &EventHeader<'_>,
        notice: Option<DropNotice<'_>>,
        hint: Option<&AtomicU32>,
        body: impl Fn(&mut Encoder<'_>),
    ) {
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => self.emit_via(&mut scratch, header, notice, hint, body),
            // A value's formatting that logs, inside this one's: a buffer
            // of its own.
            Err(_) => self.emit_via(&mut Vec::new(), header, notice, hint, body),
        });
    }

    fn emit_via(
        &self,
        scratch: &mut Vec<u8>,
        header: &EventHeader<'_>,
        notice: Option<DropNotice<'_>>,
        hint: Option<&AtomicU32>,
        body: impl Fn(&mut Encoder<'_>),
    ) {
        let mut size = scratch.len().max(4 * FIRST_CLAIM).min(self.max_len);
        let len = loop {
            if scratch.len() < size {
                scratch.resize(size, 0);
            }
            let mut enc = Encoder::new(&mut scratch[..size]);
            enc.event(header);
            body(&mut enc);
            match enc.finish() {
                Ok(len) => break len,
                // At least the write that did not fit, and at least twice
                // as much: a text field's length is not known until it is
                // written.
                Err(_) if size < self.max_len => {
                    size = enc.needed().max(size.saturating_mul(2)).min(self.max_len);
                }
                // The ring's largest record: keep the whole items that fit,
                // marked truncated.
                Err(_) => match enc.truncate_to_fields() {
                    Some(len) => break len,
                    None => {
                        // Not even the header and the metadata fit.
                        self.drop_event(notice);
                        return;
                    }
                },
            }
        };
        let mut claim = match self.claim(len) {
            Ok(claim) => claim,
            Err(_) => {
                self.drop_event(notice);
                return;
            }
        };
        claim.copy_from_slice(&scratch[..len]);
        if let Some(notice) = notice {
            notice.claim.commit();
        }
        claim.set_tag_unchecked(event::EVENT_TAG_V1);
        claim.commit();
        if let Some(hint) = hint {
            remember_size(hint, len);
        }
    }

    /// Writes an event of a registered callsite whose size is known before
    /// it is claimed (a format callsite's, every argument of a fixed or
    /// known size): the header, then `len` bytes that `body` writes, exactly
    /// claimed. `false` if it must go the way of [`emit`](Self::emit)
    /// instead (nothing written or counted): the thread has no dictionary
    /// entry, or the event does not fit a record.
    #[cfg(feature = "macros")]
    #[inline(always)]
    pub(crate) fn emit_sized(
        &self,
        level: Level,
        callsite: u32,
        len: usize,
        body: impl FnOnce(&mut [u8]),
    ) -> bool {
        let total = event::HEADER_LEN.saturating_add(len);
        if total > self.max_len {
            return false;
        }
        let ThreadRef::Entry(thread) = self.thread() else {
            return false;
        };
        let time_ns = crate::events::clock::now_ns();
        // Relaxed: a hint; `DropNotice::claim` takes the count with a swap.
        let mut notice = if self.unreported().load(Ordering::Relaxed) != 0 {
            DropNotice::claim(self, time_ns, ThreadRef::Entry(thread))
        } else {
            None
        };
        let mut claim = match self.claim(total) {
            Ok(claim) => claim,
            Err(_) => {
                self.drop_event(notice);
                return true;
            }
        };
        // A claim holds the bytes asked for: `total`, header included.
        if let Some((header, args)) = claim.split_first_chunk_mut::<{ event::HEADER_LEN }>() {
            event::put_entry_header(header, level, callsite, time_ns, thread, self.pid);
            body(args);
        }
        if let Some(notice) = notice.take() {
            notice.claim.commit();
        }
        claim.set_tag_unchecked(event::EVENT_TAG_V1);
        claim.commit();
        true
    }

    /// Counts a dropped event, and gives back the count of the notice that
    /// was to go before it.
    #[cold]
    fn drop_event(&self, notice: Option<DropNotice<'_>>) {
        if let Some(notice) = notice {
            let count = notice.count;
            notice.claim.abort();
            self.unreported().fetch_add(count, Ordering::Relaxed);
        }
        self.count_drop();
    }
}

/// A drop notice written and claimed, not yet committed: it is committed
/// just before the event that follows it, or aborted (and its count given
/// back) if that event is dropped as well.
struct DropNotice<'a> {
    claim: SendClaim<'a>,
    count: u64,
}

impl<'a> DropNotice<'a> {
    /// Takes the count of events dropped so far and claims their notice;
    /// `None` (the count given back) if there is no room for it.
    #[cold]
    fn claim(emitter: &'a Emitter, time_ns: u64, thread: ThreadRef) -> Option<Self> {
        // Relaxed: a counter; nothing else is published through it.
        let count = emitter.unreported().swap(0, Ordering::Relaxed);
        if count == 0 {
            return None;
        }
        let give_back = || {
            emitter.unreported().fetch_add(count, Ordering::Relaxed);
        };
        let Ok(mut claim) = emitter.claim(event::dropped_len(thread)) else {
            give_back();
            return None;
        };
        match event::encode_dropped(&mut claim, time_ns, emitter.pid, thread, count) {
            Ok(written) => {
                claim.truncate(written);
                claim.set_tag_unchecked(event::EVENT_TAG_V1);
                Some(Self { claim, count })
            }
            Err(_) => {
                // Sized by `dropped_len`, so it fits; keep the count all
                // the same.
                claim.abort();
                give_back();
                None
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

#[cfg(any(feature = "tracing", feature = "log"))]
/// The constructor and the full-ring methods of a front end (a struct with
/// the fields `emitter: Emitter` and `callsites: Callsites`): `$events`
/// names what it writes ("Events", "Records"), `$front` what it is.
macro_rules! front_end_methods {
    ($events:literal, $front:literal) => {
        #[doc = concat!("A ", $front, " writing into `sender`'s ring. ", $events, " that find")]
        /// the ring full are dropped and counted (see
        /// [`with_full_policy`](Self::with_full_policy)).
        pub fn new(sender: crate::channel::mpsc::Sender) -> Self {
            Self {
                emitter: crate::events::emit::Emitter::new(sender),
                callsites: crate::events::emit::Callsites::new(),
            }
        }

        /// What to do when the ring is full: [`FullPolicy::Drop`] (the
        /// default) or [`FullPolicy::Spin`].
        ///
        /// [`FullPolicy::Drop`]: crate::events::FullPolicy::Drop
        /// [`FullPolicy::Spin`]: crate::events::FullPolicy::Spin
        #[must_use]
        pub fn with_full_policy(mut self, policy: crate::events::FullPolicy) -> Self {
            self.emitter.set_policy(policy);
            self
        }

        #[doc = concat!($events, " this ", $front, " dropped (ring full, or its receiver gone).")]
        pub fn dropped(&self) -> u64 {
            self.emitter.dropped()
        }
    };
}
#[cfg(any(feature = "tracing", feature = "log"))]
pub(crate) use front_end_methods;
