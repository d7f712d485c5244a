//! The ring's wire format: where every byte lives, and nothing else.
//!
//! A ring is one contiguous region: a 4 KiB header, a power-of-two data area,
//! and the callsite dictionary (format 1.1; see the `dict` module). All integers are little-endian and fixed-width, so 32- and 64-bit
//! processes (on little-endian hosts) read the same bytes the same way.
//!
//! ```text
//! offset  size  header (HEADER_LEN = 4096 bytes, 128-byte lines)
//! ------  ----  -------------------------------------------------------------
//!      0     8  magic             b"LOGRING\0"
//!      8     2  version_major     refuses a different major
//!     10     2  version_minor     additive changes only
//!     12     4  mode              1 = SPSC, 2 = MPSC
//!     16     8  capacity          data area bytes, a power of two
//!     24     8  max_record_len    largest payload a claim may ask for
//!     32     8  data_offset       where the data area starts (= HEADER_LEN)
//!     40     8  dict_len          dictionary bytes after the data area
//!                                 (1.1): 0 or a multiple of 4096, at most
//!                                 1 GiB; a 1.0 ring has 0 (no dictionary)
//!     48     8  retain            bytes of consumed records the consumer
//!                                 leaves in place for spies (1.2): a
//!                                 multiple of 16, at most capacity / 2;
//!                                 0 in older rings
//!     56     8  reserved          zero
//!     64     4  initialised       INIT_MARK, written last (Release)
//!    128     8  tail              line 1: next free position (producers)
//!    256     8  head              line 2: next unread position (consumer)
//!    384     8  full_rejections   line 3: claims refused as Full
//!    512     8  skipped_claims    line 4: dead claims the consumer skipped
//!    640     4  waiter            line 5: the receiver's futex word
//!                                 (0 = awake, 1 = may be asleep, 2 = an
//!                                 async task of this process waits:
//!                                 heap rings only)
//!    768     8  senders           line 6: live channel senders (in-process)
//!    776     4  receivers         live channel receivers (in-process, 0 or 1)
//!    896     8  consumed          line 7: end of what the consumer has
//!                                 consumed (zeroed or zeroing); >= head
//!   1024   512  generations       lines 8..12: one u32 per producer slot
//!                                 (ring files; see "Owners" below)
//!   1536  2048  reservations      lines 12..28: each producer slot's latest
//!                                 reservation (ring files, MPSC)
//!   3584     4  space_waiter      line 28: the senders' futex word, for
//!                                 space (values as for `waiter`)
//!   3712     4  consumer_pid      line 29: process id of the consumer
//!                                 that attached last (ring files; 0 if
//!                                 none, or it detached cleanly)
//!   3840     4  light_barriers    line 30: 1 once any process whose
//!                                 publishers use the light barrier made
//!                                 an end (see the `wait` module); never
//!                                 cleared
//!   3968     8  unreported_drops  line 31: log events dropped (a full
//!                                 ring) that no drop notice reported yet;
//!                                 front ends add, a notice takes them
//!                                 with a swap (see the `events` module)
//!   3976     8  delivered         (1.2) end of the records a retaining
//!                                 consumer delivered (`retain` > 0):
//!                                 where its successor resumes; >= consumed
//!   3984   112  reserved          zero
//!
//! data area (capacity bytes, from HEADER_LEN); positions are free-running u64 byte offsets,
//! the index of position p is p & (capacity - 1). Records are 8-aligned:
//!
//!   +----------------- record word (u64, one atomic load) ----------------+
//!   | bits 63..32: tag (committed) or owner (claimed)                      |
//!   | bits 31..30: state  00 empty | 01 claimed | 10 committed | 11 padding|
//!   | bits 29..0 : payload length (claimed, committed) or span (padding)   |
//!   +----------------------------------------------------------------------+
//!   | payload: length bytes, then fill up to the next multiple of 8        |
//!   +----------------------------------------------------------------------+
//!
//! dictionary (dict_len bytes, from HEADER_LEN + capacity; format 1.1):
//!
//!      0     8  next              offset of the next free entry (starts at
//!                                 DICT_ENTRIES); may run past dict_len (full)
//!      8    56  reserved          zero
//!     64    ..  entries, 8-aligned: a u64 word (bits 31..30: 00 empty,
//!               10 committed; bits 29..0: payload length; bits 63..32
//!               zero), the payload, zero fill to the next multiple of 8.
//!               An entry's id is its offset / 8.
//! ```
//!
//! Tags: a committed record's tag is the producer's, except the range
//! [`RESERVED_TAGS`], which only the crate's own records carry (the claims'
//! `set_tag` refuses it): [`EVENT_TAG_V1`] marks a log event of encoding
//! version 1, and any other reserved tag an event of an encoding this build
//! does not know.
//!
//! Owners: the high half of a `Claimed` word names the claim's producer.
//! Heap rings write 0 ("this process"). Ring files give each attached
//! producer a slot (SPSC: slot 0 only; MPSC: any of `SLOTS`) and write
//! `owner = generation << 16 | (slot + 1)`, where the generation is the
//! slot's entry in `generations` at the time of the claim (a new producer
//! in a slot increments it). The liveness of a slot is an OS lock, not a
//! field: see the `file` module.
//!
//! Reservations: before each compare-and-swap on `tail`, an MPSC ring file
//! producer writes the position it reserves from and the bytes it reserves
//! (with its generation) to its slot's entry, so that a consumer can step
//! over a reservation whose producer died before marking it `Claimed`.
//! Slot `k` uses line `12 + k % 16`, entry `k / 16`: the first sixteen
//! producers each write a line of their own.
//!
//! A record's *span* is `align8(8 + length)`; padding records give their span
//! directly. A record never wraps: when one does not fit before the end of the
//! data area, the producer fills the rest with padding and starts at index 0.
//! The word where the next record will start is kept zero until a producer
//! claims it (the consumer zeroes what it consumes; see the `queue` module for
//! who zeroes what in each mode), so an all-zero word means "nothing here yet".
//!
//! # Who may hold a `&Header`
//!
//! The header is memory that other processes write while this one looks at
//! it, and that may be half-written when it is first mapped (a ring file
//! created in place, or a damaged one). A shared reference promises that
//! the bytes behind it do not change, except inside an `UnsafeCell` (as an
//! atomic's are), so:
//!
//! - Every field of [`Header`] is an atomic, the layout and the reserved
//!   words included: no plain data sits behind a `&Header`, and whatever
//!   another process stores, the reference stays valid. A later minor
//!   version may give the reserved words a meaning, as atomics.
//! - The layout is stored once, by the ring's creator, with Relaxed stores
//!   before the initialised marker's Release store; readers load the marker,
//!   fence (Acquire), then load the layout ([`Meta::initialised`],
//!   [`Meta::layout`]). An observer's loads are Relaxed, aligned and at
//!   most eight bytes, which a read-only mapping allows (its Acquire is a
//!   Relaxed load and a fence).
//! - Validation reads a header it does not trust yet through a raw pointer
//!   to line 0 ([`Header::meta`]); only a header whose marker and layout
//!   passed is viewed as a `&Header`.
//! - After validation the layout is copied into the handle (`Ring` keeps the
//!   capacity, mode and maximum record length; a ring file's handles keep the
//!   version) and never read again: a process that rewrites the layout of a
//!   ring others have attached changes nothing for them.

use std::ptr::NonNull;

use bytemuck::{Pod, Zeroable};

use crate::sync::{AtomicU32, AtomicU64, Ordering, fence};

/// First eight bytes of every ring.
pub(crate) const MAGIC: [u8; 8] = *b"LOGRING\0";
/// Format major version: a reader refuses any other.
pub(crate) const VERSION_MAJOR: u16 = 1;
/// Format minor version: additions that older readers may ignore.
/// 1.1: the dictionary after the data area (`dict_len`), and the reserved
/// tags. 1.2: retention (`retain`, `delivered`); a ring that retains has a
/// smaller maximum record length, which older readers refuse as a layout
/// they do not know, rather than consume it without retaining.
pub(crate) const VERSION_MINOR: u16 = 2;
/// Value of `initialised` once the header is complete.
pub(crate) const INIT_MARK: u32 = 0x4C52_494E;
/// Bytes before the data area.
pub(crate) const HEADER_LEN: usize = 4096;
/// The bits of a slot's generation that an owner field keeps.
pub(crate) const GENERATION_MASK: u32 = 0xffff;
/// Producer slots of a ring file (MPSC; SPSC uses slot 0 only).
pub(crate) const SLOTS: usize = 128;
/// Lines of reservation entries, and entries per line.
const RESERVATION_LINES: usize = 16;
const RESERVATIONS_PER_LINE: usize = SLOTS / RESERVATION_LINES;
/// Spacing of the hot header words, so no two share a cache line (or its
/// adjacent-line prefetch pair).
pub(crate) const LINE: usize = 128;

/// Size of a record word.
pub(crate) const WORD: u64 = 8;
/// Smallest data area accepted.
pub(crate) const MIN_CAPACITY: u64 = 64;
/// Largest data area accepted (1 TiB on 64-bit, 1 GiB on 32-bit targets).
pub(crate) const MAX_CAPACITY: u64 = if usize::BITS >= 64 { 1 << 40 } else { 1 << 30 };
/// Tags only the crate's own records carry: a user's record never does.
pub(crate) const RESERVED_TAGS: std::ops::RangeInclusive<u32> = 0xFFFF_FF00..=0xFFFF_FFFF;
/// The tag of a log event record of encoding version 1.
#[allow(dead_code)] // the event encoder and decoder use it
pub(crate) const EVENT_TAG_V1: u32 = 0xFFFF_FF01;

/// The dictionary's length is a multiple of this (a page).
pub(crate) const DICT_ALIGN: u64 = 4096;
/// The largest dictionary accepted.
#[cfg_attr(
    not(all(feature = "mmap", target_os = "linux", not(loom))),
    allow(dead_code)
)]
pub(crate) const MAX_DICT_LEN: u64 = 1 << 30;
/// The largest dictionary a ring gets by default.
pub(crate) const DEFAULT_DICT_MAX: u64 = 256 * 1024;
/// Where the dictionary's entries start (after its `next` word and reserved
/// bytes).
pub(crate) const DICT_ENTRIES: u64 = 64;

/// The dictionary length a ring of `capacity` bytes gets unless told
/// otherwise: a quarter of the capacity, at most `DEFAULT_DICT_MAX`, rounded
/// down to `DICT_ALIGN` (so none below 16 KiB).
pub(crate) const fn default_dict_len(capacity: u64) -> u64 {
    let quarter = capacity / 4;
    let len = if quarter < DEFAULT_DICT_MAX {
        quarter
    } else {
        DEFAULT_DICT_MAX
    };
    len / DICT_ALIGN * DICT_ALIGN
}

/// The largest payload length the 30-bit length field can carry, leaving the
/// span (header and alignment included) representable as well.
pub(crate) const RECORD_LEN_LIMIT: u64 = (1 << 30) - 16;

const LEN_BITS: u32 = 30;
pub(crate) const LEN_MASK: u64 = (1 << LEN_BITS) - 1;
const STATE_SHIFT: u32 = LEN_BITS;
const STATE_MASK: u64 = 0b11 << STATE_SHIFT;
const CLAIMED: u64 = 0b01 << STATE_SHIFT;
pub(crate) const COMMITTED: u64 = 0b10 << STATE_SHIFT;
const PADDING: u64 = 0b11 << STATE_SHIFT;
const HIGH_SHIFT: u32 = 32;

/// How many producers a ring admits; part of the layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Mode {
    /// One producer at a time owns `tail`.
    Spsc = 1,
    /// Producers reserve space with a CAS on `tail`.
    Mpsc = 2,
}

/// The layout part of the header as plain values, in wire byte order: what
/// [`Meta`] holds word by word (written once, before the marker).
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub(crate) struct LayoutFields {
    pub magic: [u8; 8],
    pub version_major: u16,
    pub version_minor: u16,
    pub mode: u32,
    pub capacity: u64,
    pub max_record_len: u64,
    pub data_offset: u64,
    /// Dictionary bytes after the data area (1.1; zero in a 1.0 ring).
    pub dict_len: u64,
    /// Bytes of consumed records left in place for spies (1.2; zero in
    /// older rings).
    pub retain: u64,
    pub reserved: [u8; 8],
}

impl LayoutFields {
    /// The fields of a new ring, in wire (little-endian) byte order.
    pub(crate) fn new(
        mode: Mode,
        capacity: u64,
        max_record_len: u64,
        dict_len: u64,
        retain: u64,
    ) -> Self {
        Self {
            magic: MAGIC,
            version_major: VERSION_MAJOR.to_le(),
            version_minor: VERSION_MINOR.to_le(),
            mode: (mode as u32).to_le(),
            capacity: capacity.to_le(),
            max_record_len: max_record_len.to_le(),
            data_offset: (HEADER_LEN as u64).to_le(),
            dict_len: dict_len.to_le(),
            retain: retain.to_le(),
            reserved: [0; 8],
        }
    }
}

/// Words of [`LayoutFields`].
const LAYOUT_WORDS: usize = size_of::<LayoutFields>() / WORD as usize;

/// One 128-byte line of the header.
#[repr(C, align(128))]
pub(crate) struct Line<T>(pub T);

/// Line 0: the layout and the initialised marker.
#[repr(C)]
pub(crate) struct Meta {
    /// The [`LayoutFields`], word by word: stored once by the ring's creator
    /// before the marker, loaded after it (see "Who may hold a `&Header`").
    layout: [AtomicU64; LAYOUT_WORDS],
    /// `INIT_MARK` once the rest of the header is written; stored last with
    /// Release so that a reader that sees it also sees the layout.
    pub initialised: AtomicU32,
}

impl Meta {
    /// Stores the layout of a new ring. The caller stores the marker next.
    #[cfg_attr(loom, allow(dead_code))] // loom models build their header whole
    pub(crate) fn store_layout(&self, fields: LayoutFields) {
        let words: [u64; LAYOUT_WORDS] = bytemuck::cast(fields);
        for (word, value) in self.layout.iter().zip(words) {
            // Relaxed: published by the Release store of the marker.
            word.store(value, Ordering::Relaxed);
        }
    }

    /// The initialised marker. The loads made after it (the layout's) see
    /// what the creator stored before the marker, if it reads `INIT_MARK`.
    #[cfg_attr(
        not(all(feature = "mmap", target_os = "linux", not(loom))),
        allow(dead_code)
    )]
    pub(crate) fn initialised(&self) -> u32 {
        // Relaxed, then an Acquire fence: the pair of the creator's Release
        // store of the marker. Not an Acquire load, because an observer's
        // mapping is read-only, where only Relaxed loads are promised to
        // work.
        let mark = self.initialised.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        mark
    }

    /// The layout, as far as it is written: whole if [`initialised`]
    /// (called first) read `INIT_MARK`; otherwise each word may still read
    /// zero.
    ///
    /// [`initialised`]: Self::initialised
    #[cfg_attr(
        not(all(feature = "mmap", target_os = "linux", not(loom))),
        allow(dead_code)
    )]
    pub(crate) fn layout(&self) -> LayoutFields {
        // Relaxed: ordered after the marker by the fence in `initialised`.
        bytemuck::cast(
            self.layout
                .each_ref()
                .map(|word| word.load(Ordering::Relaxed)),
        )
    }
}

/// The whole header, viewed in place over the region's first `HEADER_LEN` bytes.
///
/// Every field is an atomic integer (see "Who may hold a `&Header`"), so
/// any bytes, all-zero ones included, are a valid `Header`.
#[repr(C)]
pub(crate) struct Header {
    pub meta: Line<Meta>,
    /// Next free position. SPSC: written by the producer only. MPSC: reserved
    /// with a CAS by the producers.
    pub tail: Line<AtomicU64>,
    /// Next unread position; written by the consumer after it zeroed what it
    /// consumed below it (see the `queue` module for what each mode zeroes).
    pub head: Line<AtomicU64>,
    /// Claims refused because the ring was full.
    pub full_rejections: Line<AtomicU64>,
    /// Claims of dead producers the consumer skipped.
    pub skipped_claims: Line<AtomicU64>,
    /// The word a sleeping receiver waits on (a futex on Linux): `AWAKE`, or
    /// `MAY_SLEEP` from the moment a receiver announces it is going to sleep
    /// until it wakes (see the `wait` module for the handshake).
    pub waiter: Line<AtomicU32>,
    /// Which channel ends are alive.
    pub ends: Line<Ends>,
    /// The end of what the consumer has consumed: stored before it zeroes
    /// a record, so that a consumer that dies between zeroing and
    /// publishing `head` leaves a range the next one can finish releasing
    /// (`[head, consumed)`: delivered, possibly part-zeroed). Written by the
    /// consumer only; producers never read it.
    pub consumed: Line<AtomicU64>,
    /// Ring files: the generation of each producer slot (see "Owners").
    pub generations: Line<[AtomicU32; SLOTS]>,
    /// Ring files (MPSC): each slot's latest reservation (see
    /// "Reservations"); use [`Header::reservation`].
    reservations: [Line<[Reservation; RESERVATIONS_PER_LINE]>; RESERVATION_LINES],
    /// The word senders that wait for space sleep on (async senders; their
    /// notifier threads on ring files): `AWAKE`, or not from the moment one
    /// announces it waits until a release wakes them all. Loaded by the
    /// consumer after each release.
    pub space_waiter: Line<AtomicU32>,
    /// Ring files: the process id of the consumer that attached last, stored
    /// once it holds the consumer lock and cleared before it lets go (a
    /// crashed consumer leaves its id behind). Information for people
    /// only: liveness is the lock, never this field.
    pub consumer_pid: Line<AtomicU32>,
    /// `LIGHT_BARRIERS` once a process whose publishers rely on sleepers'
    /// `membarrier` (a compiler fence in place of a hardware one) has made
    /// an end of this ring; set with a `SeqCst` read-modify-write, never
    /// cleared. A sleeper that cannot issue `membarrier` bounds its sleeps
    /// while it is set (see `wait::Barrier`).
    pub light_barriers: Line<AtomicU32>,
    /// Log-event bookkeeping, then words a later minor version may use.
    pub events: Line<EventWords>,
}

/// Line 31 of the header.
#[repr(C)]
pub(crate) struct EventWords {
    /// Log events the front ends dropped because the ring was full, not yet
    /// reported by a drop notice. A front end adds each drop; the next
    /// event that finds room takes the count with a swap and writes its
    /// notice first, and a consumer that finds the ring empty may take it
    /// and print the notice itself, so the log shows every gap even when
    /// no event follows.
    pub unreported_drops: AtomicU64,
    /// (1.2) The end of the records a retaining consumer delivered: stored
    /// (Relaxed) as it delivers each, read by the consumer that attaches
    /// after it, which resumes there. Between `consumed` and it lie records
    /// delivered but left in place for spies. Written by the consumer only.
    pub delivered: AtomicU64,
    /// Zero; words a later minor version may give a meaning.
    pub reserved: [AtomicU64; LINE / WORD as usize - 2],
}

/// A producer slot's latest reservation: written by its producer before each
/// compare-and-swap on `tail`, read by the consumer only when it finds a
/// reservation that was never marked `Claimed`.
#[repr(C)]
pub(crate) struct Reservation {
    /// The position the producer reserves from (the `tail` it expects).
    pub pos: AtomicU64,
    /// Bytes reserved (wrap padding included) in the low 32 bits, the
    /// producer's generation in the high 32; 0 before the first.
    pub need_generation: AtomicU64,
}

impl Header {
    /// Line 0 of the header at `header`, reached without a reference to the
    /// whole header: all that validation reads before it trusts the header.
    ///
    /// # Safety
    ///
    /// `header` points to the readable, 128-aligned start of a header that
    /// stays mapped for `'a`.
    #[cfg_attr(
        not(all(feature = "mmap", target_os = "linux", not(loom))),
        allow(dead_code)
    )]
    pub(crate) unsafe fn meta<'a>(header: NonNull<Header>) -> &'a Meta {
        // SAFETY: in bounds and aligned (the caller's promise); `Meta` holds
        // atomics only, so any bytes are a valid `Meta`, and a reference to
        // it promises nothing that another process's stores could break.
        unsafe { &(*header.as_ptr()).meta.0 }
    }

    /// The reservation entry of producer slot `slot` (< `SLOTS`).
    #[inline]
    pub(crate) fn reservation(&self, slot: usize) -> &Reservation {
        &self.reservations[slot % RESERVATION_LINES].0[slot / RESERVATION_LINES]
    }
}

/// `Header::waiter`: no receiver is asleep or about to sleep.
pub(crate) const AWAKE: u32 = 0;
/// `Header::waiter`: a receiver announced that it is going to sleep.
pub(crate) const MAY_SLEEP: u32 = 1;
/// `Header::waiter`: an async task of the ring's own process announced that
/// it waits; its waker, not a futex, must be woken. Only heap rings, which
/// no other process sees, hold it.
pub(crate) const TASK_WAITS: u32 = 2;

/// `Header::light_barriers`: a process whose publishers use the light
/// barrier has made an end of the ring.
pub(crate) const LIGHT_BARRIERS: u32 = 1;

/// Line 6: the channel ends of this process that are alive. Written on
/// creation, clone and drop of a channel end only; a plain queue leaves both
/// at zero.
#[repr(C)]
pub(crate) struct Ends {
    /// Live `Sender`s. The receiver reports `Disconnected` once this is zero
    /// and it has drained the ring.
    pub senders: AtomicU64,
    /// Live `Receiver`s (0 or 1). Senders report `Disconnected` once zero.
    pub receivers: AtomicU32,
}

#[cfg(not(loom))]
const _: () = {
    assert!(size_of::<Header>() == HEADER_LEN);
    assert!(size_of::<LayoutFields>() == 64);
    assert!(std::mem::offset_of!(LayoutFields, dict_len) == 40);
    assert!(std::mem::offset_of!(LayoutFields, retain) == 48);
    assert!(std::mem::offset_of!(EventWords, delivered) == 8);
    assert!(default_dict_len(16 * 1024 - 8) == 0);
    assert!(default_dict_len(16 * 1024) == 4096);
    assert!(default_dict_len(1 << 30) == DEFAULT_DICT_MAX);
    assert!(std::mem::offset_of!(Header, tail) == LINE);
    assert!(std::mem::offset_of!(Header, head) == 2 * LINE);
    assert!(std::mem::offset_of!(Header, full_rejections) == 3 * LINE);
    assert!(std::mem::offset_of!(Header, skipped_claims) == 4 * LINE);
    assert!(std::mem::offset_of!(Header, waiter) == 5 * LINE);
    assert!(std::mem::offset_of!(Header, ends) == 6 * LINE);
    assert!(std::mem::offset_of!(Header, consumed) == 7 * LINE);
    assert!(std::mem::offset_of!(Header, generations) == 8 * LINE);
    assert!(std::mem::offset_of!(Header, reservations) == 12 * LINE);
    assert!(std::mem::offset_of!(Header, space_waiter) == 28 * LINE);
    assert!(std::mem::offset_of!(Header, consumer_pid) == 29 * LINE);
    assert!(std::mem::offset_of!(Header, light_barriers) == 30 * LINE);
    assert!(std::mem::offset_of!(Header, events) == 31 * LINE);
    assert!(size_of::<Reservation>() * RESERVATIONS_PER_LINE == LINE);
    assert!(std::mem::offset_of!(Ends, receivers) == 8);
    assert!(std::mem::offset_of!(Meta, initialised) == 64);
};

impl Header {
    /// A fresh, initialised header (the loom model's region builds it this way;
    /// real regions write it in place).
    #[cfg(loom)]
    pub(crate) fn new(layout: LayoutFields) -> Self {
        Self {
            meta: Line(Meta {
                layout: bytemuck::cast::<_, [u64; LAYOUT_WORDS]>(layout).map(AtomicU64::new),
                initialised: AtomicU32::new(INIT_MARK),
            }),
            tail: Line(AtomicU64::new(0)),
            head: Line(AtomicU64::new(0)),
            full_rejections: Line(AtomicU64::new(0)),
            skipped_claims: Line(AtomicU64::new(0)),
            waiter: Line(AtomicU32::new(AWAKE)),
            ends: Line(Ends {
                senders: AtomicU64::new(0),
                receivers: AtomicU32::new(0),
            }),
            consumed: Line(AtomicU64::new(0)),
            generations: Line(std::array::from_fn(|_| AtomicU32::new(0))),
            reservations: std::array::from_fn(|_| {
                Line(std::array::from_fn(|_| Reservation {
                    pos: AtomicU64::new(0),
                    need_generation: AtomicU64::new(0),
                }))
            }),
            space_waiter: Line(AtomicU32::new(AWAKE)),
            consumer_pid: Line(AtomicU32::new(0)),
            light_barriers: Line(AtomicU32::new(0)),
            events: Line(EventWords {
                unreported_drops: AtomicU64::new(0),
                delivered: AtomicU64::new(0),
                reserved: std::array::from_fn(|_| AtomicU64::new(0)),
            }),
        }
    }
}

/// Bytes a record of payload `len` occupies: its word, the payload, and zero
/// fill to the next multiple of eight.
#[inline]
pub(crate) const fn span_of(len: u64) -> u64 {
    (WORD + len + (WORD - 1)) & !(WORD - 1)
}

/// A decoded record word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Word {
    /// Nothing written here yet.
    Empty,
    /// A producer holds this claim of `len` payload bytes.
    Claimed { len: u64, owner: u32 },
    /// A complete record of `len` payload bytes.
    Committed { len: u64, tag: u32 },
    /// Skip `span` bytes (wrap fill, an aborted claim, or a shrunk remainder).
    Padding { span: u64 },
    /// A bit pattern no writer produces.
    Invalid,
}

impl Word {
    #[inline]
    pub(crate) const fn claimed(len: u64, owner: u32) -> u64 {
        CLAIMED | len | ((owner as u64) << HIGH_SHIFT)
    }

    #[inline]
    pub(crate) const fn committed(len: u64, tag: u32) -> u64 {
        COMMITTED | len | ((tag as u64) << HIGH_SHIFT)
    }

    #[inline]
    pub(crate) const fn padding(span: u64) -> u64 {
        PADDING | span
    }

    /// The owner field of a ring file producer's claims.
    #[cfg_attr(
        not(all(feature = "mmap", target_os = "linux", not(loom))),
        allow(dead_code)
    )]
    #[inline]
    pub(crate) const fn owner(slot: usize, generation: u32) -> u32 {
        ((generation & GENERATION_MASK) << 16) | (slot as u32 + 1)
    }

    /// The slot and generation an owner field names; `None` for 0 (a heap
    /// ring's producer) or a slot out of range.
    #[cfg_attr(
        not(all(feature = "mmap", target_os = "linux", not(loom))),
        allow(dead_code)
    )]
    #[inline]
    pub(crate) const fn owner_slot(owner: u32) -> Option<(usize, u32)> {
        let slot = (owner & 0xffff) as usize;
        if slot == 0 || slot > SLOTS {
            None
        } else {
            Some((slot - 1, owner >> 16))
        }
    }

    /// `(len, tag)` of a committed record word, `None` for any other: the
    /// consumer's common case, one mask and compare ahead of [`decode`].
    ///
    /// [`decode`]: Self::decode
    #[inline(always)]
    pub(crate) const fn as_committed(raw: u64) -> Option<(u64, u32)> {
        if raw & STATE_MASK == COMMITTED {
            Some((raw & LEN_MASK, (raw >> HIGH_SHIFT) as u32))
        } else {
            None
        }
    }

    #[inline]
    pub(crate) const fn decode(raw: u64) -> Self {
        let len = raw & LEN_MASK;
        let high = (raw >> HIGH_SHIFT) as u32;
        match raw & STATE_MASK {
            COMMITTED => Word::Committed { len, tag: high },
            CLAIMED => Word::Claimed { len, owner: high },
            PADDING if high == 0 => Word::Padding { span: len },
            0 if raw == 0 => Word::Empty,
            _ => Word::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_rounds_up_to_words() {
        assert_eq!(span_of(0), 8);
        assert_eq!(span_of(1), 16);
        assert_eq!(span_of(8), 16);
        assert_eq!(span_of(9), 24);
        assert_eq!(span_of(RECORD_LEN_LIMIT), (1 << 30) - 8);
        assert!(
            span_of(RECORD_LEN_LIMIT) <= LEN_MASK,
            "spans fit the length field"
        );
    }

    #[test]
    fn words_round_trip() {
        let max = RECORD_LEN_LIMIT;
        for (raw, word) in [
            (0, Word::Empty),
            (Word::claimed(0, 0), Word::Claimed { len: 0, owner: 0 }),
            (Word::claimed(max, 7), Word::Claimed { len: max, owner: 7 }),
            (Word::committed(0, 0), Word::Committed { len: 0, tag: 0 }),
            (
                Word::committed(max, u32::MAX),
                Word::Committed {
                    len: max,
                    tag: u32::MAX,
                },
            ),
            (Word::padding(8), Word::Padding { span: 8 }),
        ] {
            assert_eq!(Word::decode(raw), word, "{raw:#x}");
            let committed = match word {
                Word::Committed { len, tag } => Some((len, tag)),
                _ => None,
            };
            assert_eq!(Word::as_committed(raw), committed, "{raw:#x}");
        }
    }

    #[test]
    fn foreign_bit_patterns_are_invalid() {
        assert_eq!(Word::decode(1), Word::Invalid, "length without a state");
        assert_eq!(
            Word::decode(1 << 40),
            Word::Invalid,
            "high bits without a state"
        );
        assert_eq!(Word::decode(Word::padding(8) | 1 << 40), Word::Invalid);
    }

    #[test]
    fn zero_length_records_are_not_empty_words() {
        assert_ne!(Word::committed(0, 0), 0);
        assert_ne!(Word::claimed(0, 0), 0);
    }
}
