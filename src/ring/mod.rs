//! A view of one ring: its header, data area and dictionary, with
//! bounds-checked access.
//!
//! Every queue handle owns a `Ring`: the region (kept alive by an `Arc`) and the
//! layout parameters read from the header once. No shared state lives here;
//! positions, counters, records and dictionary entries are all inside the
//! region.

pub(crate) mod dict;
// The encoder's users are the `tracing` and `log` front ends, behind their
// own features; a build with `events` alone only decodes.
#[cfg(feature = "events")]
#[allow(dead_code)]
pub(crate) mod event;
pub(crate) mod layout;
// Spies read ring files (and a loom model); elsewhere nothing uses them.
#[cfg_attr(
    not(all(feature = "mmap", target_os = "linux", not(loom))),
    allow(dead_code)
)]
pub(crate) mod spy;

use std::sync::Arc;

use crate::error::Error;
use crate::sync::AtomicU64;
use dict::Dictionary;
use layout::{Header, LayoutFields, MAX_CAPACITY, MIN_CAPACITY, Mode, RECORD_LEN_LIMIT, WORD};

#[cfg(not(loom))]
use crate::region::{HeapRegion, Region};
#[cfg(not(loom))]
use layout::HEADER_LEN;
#[cfg(not(loom))]
use std::ptr::NonNull;

/// Capacity and maximum record length of a ring asked to hold `requested` bytes.
///
/// The capacity is rounded up to a power of two. The maximum record length is
/// `capacity / 2 - 8`: the largest record that still fits on an empty ring
/// when its claim lands just short of the end of the data area and must be
/// preceded by padding (`padding < span`, `padding + span <= capacity`).
///
/// The dictionary after the data area is sized apart: by default
/// [`layout::default_dict_len`] of the capacity.
pub(crate) fn params(requested: usize) -> Result<(u64, u64), Error> {
    let too_large = Error::CapacityTooLarge {
        requested,
        max: MAX_CAPACITY as usize,
    };
    if (requested as u64) < MIN_CAPACITY {
        return Err(Error::CapacityTooSmall {
            requested,
            min: MIN_CAPACITY as usize,
        });
    }
    let capacity = requested
        .checked_next_power_of_two()
        .ok_or(too_large.clone())? as u64;
    if capacity > MAX_CAPACITY {
        return Err(too_large);
    }
    let max_record_len = (capacity / 2 - WORD).min(RECORD_LEN_LIMIT);
    Ok((capacity, max_record_len))
}

/// The largest retention a ring of `capacity` bytes may have: half of it.
#[cfg_attr(
    not(all(feature = "mmap", target_os = "linux", not(loom))),
    allow(dead_code)
)]
pub(crate) const fn max_retain(capacity: u64) -> u64 {
    capacity / 2
}

/// `retain` bytes asked for, rounded up to a multiple of 16; `None` above
/// [`max_retain`] of `capacity`.
#[cfg_attr(
    not(all(feature = "mmap", target_os = "linux", not(loom))),
    allow(dead_code)
)]
pub(crate) fn retain_for(capacity: u64, retain: u64) -> Option<u64> {
    let rounded = retain.checked_add(15)? & !15;
    (rounded <= max_retain(capacity)).then_some(rounded)
}

/// The maximum record length of a ring of `capacity` bytes (from
/// [`params`]) that retains `retain` bytes (from [`retain_for`]): the
/// largest record that still fits when the consumer has taken everything
/// and keeps `retain` bytes of it, wrap padding included (as `params`
/// argues, with `capacity - retain` bytes of room).
#[cfg_attr(
    not(all(feature = "mmap", target_os = "linux", not(loom))),
    allow(dead_code)
)]
pub(crate) fn max_record_len_retaining(capacity: u64, retain: u64) -> u64 {
    ((capacity - retain) / 2 - WORD).min(RECORD_LEN_LIMIT)
}

/// Writes the header of a new ring into `region`: its layout and the
/// dictionary's first free offset, then the initialised marker (Release, so
/// that whoever sees the marker sees the rest; file rings are attached by
/// other processes).
///
/// # Safety
///
/// `region` is zeroed, holds `HEADER_LEN + capacity + dict_len` bytes
/// (`dict_len` a multiple of eight), and nobody else writes it until this
/// returns (others may read it: every store is atomic, the marker last).
#[cfg(not(loom))]
pub(crate) unsafe fn initialise(
    region: &dyn Region,
    mode: Mode,
    capacity: u64,
    max_record_len: u64,
    dict_len: u64,
    retain: u64,
) {
    assert!(region.len() as u64 >= HEADER_LEN as u64 + capacity + dict_len);
    // SAFETY: the region is at least HEADER_LEN bytes, 128-aligned and alive
    // while borrowed; any bytes are a valid `Header` (atomics only).
    let header = unsafe { region.base().cast::<Header>().as_ref() };
    header.meta.0.store_layout(LayoutFields::new(
        mode,
        capacity,
        max_record_len,
        dict_len,
        retain,
    ));
    // SAFETY: the dictionary is the region's last `dict_len` bytes (in
    // bounds by the assertion above), 8-aligned (the region is 128-aligned,
    // and HEADER_LEN and the capacity are multiples of 64), writable, and
    // alive while borrowed.
    let dictionary = unsafe {
        Dictionary::from_raw(
            region.base().add(HEADER_LEN + capacity as usize),
            dict_len,
            true,
        )
    };
    dictionary.initialise();
    // Release: a reader that sees the marker also sees the layout.
    header
        .meta
        .0
        .initialised
        .store(layout::INIT_MARK, crate::sync::Ordering::Release);
}

/// A handle's view of a ring.
pub(crate) struct Ring {
    #[cfg(not(loom))]
    header: NonNull<Header>,
    #[cfg(not(loom))]
    data: NonNull<u8>,
    /// The dictionary's first byte (just past the data area).
    #[cfg(not(loom))]
    dict: NonNull<u8>,
    #[cfg(not(loom))]
    _region: Arc<dyn Region>,
    #[cfg(loom)]
    region: Arc<crate::region::ModelRegion>,
    mask: u64,
    capacity: u64,
    max_record_len: u64,
    /// Dictionary bytes (0: none).
    dict_len: u64,
    mode: Mode,
}

// SAFETY: `Ring` is a pointer pair into a region that its `Arc` keeps alive; the
// region is `Send + Sync` and all shared access goes through atomics or the
// claim protocol, so handing a view to another thread is sound.
unsafe impl Send for Ring {}
// SAFETY: as for `Send`: `&Ring` gives only atomic or protocol-owned access.
unsafe impl Sync for Ring {}

impl Ring {
    /// A new, initialised ring on the heap, with the default dictionary
    /// for its capacity.
    pub(crate) fn new_heap(mode: Mode, requested: usize) -> Result<Self, Error> {
        let (capacity, _) = params(requested)?;
        Self::new_heap_with_dictionary(mode, requested, layout::default_dict_len(capacity))
    }

    /// A new, initialised ring on the heap with a dictionary of `dict_len`
    /// bytes (a multiple of eight).
    #[cfg(not(loom))]
    pub(crate) fn new_heap_with_dictionary(
        mode: Mode,
        requested: usize,
        dict_len: u64,
    ) -> Result<Self, Error> {
        assert_eq!(dict_len % WORD, 0, "the dictionary is whole words");
        let (capacity, max_record_len) = params(requested)?;
        let len = (HEADER_LEN as u64 + capacity)
            .checked_add(dict_len)
            .and_then(|len| usize::try_from(len).ok())
            .ok_or(Error::OutOfMemory { bytes: usize::MAX })?;
        let region = HeapRegion::zeroed(len)?;
        // SAFETY: the region is new, zeroed, holds the whole ring, and nobody
        // else sees it yet.
        unsafe { initialise(&region, mode, capacity, max_record_len, dict_len, 0) };
        Ok(Self::view(
            Arc::new(region),
            mode,
            capacity,
            max_record_len,
            dict_len,
        ))
    }

    /// A view of the initialised ring in `region`, whose header holds these
    /// layout parameters (checked by the caller).
    #[cfg(not(loom))]
    pub(crate) fn view(
        region: Arc<dyn Region>,
        mode: Mode,
        capacity: u64,
        max_record_len: u64,
        dict_len: u64,
    ) -> Self {
        assert!(
            region.len() as u64 >= HEADER_LEN as u64 + capacity + dict_len,
            "the region holds the whole ring"
        );
        let header = region.base().cast::<Header>();
        // SAFETY: HEADER_LEN < region length, so the data area starts in bounds.
        let data = unsafe { region.base().add(HEADER_LEN) };
        // SAFETY: HEADER_LEN + capacity <= region length (asserted above): in
        // bounds, or one past the end when there is no dictionary.
        let dict = unsafe { data.add(capacity as usize) };
        Self {
            header,
            data,
            dict,
            _region: region,
            mask: capacity - 1,
            capacity,
            max_record_len,
            dict_len,
            mode,
        }
    }

    /// A new ring for a loom model.
    #[cfg(loom)]
    pub(crate) fn new_heap_with_dictionary(
        mode: Mode,
        requested: usize,
        dict_len: u64,
    ) -> Result<Self, Error> {
        let (capacity, max_record_len) = params(requested)?;
        let region = crate::region::ModelRegion::new(
            LayoutFields::new(mode, capacity, max_record_len, dict_len, 0),
            capacity,
            dict_len,
        );
        Ok(Self {
            region: Arc::new(region),
            mask: capacity - 1,
            capacity,
            max_record_len,
            dict_len,
            mode,
        })
    }

    /// Another view of the same ring, for another handle.
    pub(crate) fn share(&self) -> Self {
        Self {
            #[cfg(not(loom))]
            header: self.header,
            #[cfg(not(loom))]
            data: self.data,
            #[cfg(not(loom))]
            dict: self.dict,
            #[cfg(not(loom))]
            _region: Arc::clone(&self._region),
            #[cfg(loom)]
            region: Arc::clone(&self.region),
            mask: self.mask,
            capacity: self.capacity,
            max_record_len: self.max_record_len,
            dict_len: self.dict_len,
            mode: self.mode,
        }
    }

    #[inline]
    pub(crate) fn header(&self) -> &Header {
        #[cfg(not(loom))]
        // SAFETY: the header pointer is valid and initialised for as long as the
        // region lives, and `_region` keeps it alive as long as `self`.
        return unsafe { self.header.as_ref() };
        #[cfg(loom)]
        return &self.region.header;
    }

    /// Data area size in bytes (a power of two).
    #[inline]
    pub(crate) fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Largest payload length a claim may ask for.
    #[inline]
    pub(crate) fn max_record_len(&self) -> u64 {
        self.max_record_len
    }

    /// The ring's callsite dictionary (empty, and always full, in a ring
    /// without one).
    #[cfg_attr(
        not(all(feature = "mmap", target_os = "linux", not(loom))),
        allow(dead_code)
    )]
    #[inline]
    pub(crate) fn dictionary(&self) -> Dictionary<'_> {
        #[cfg(not(loom))]
        // SAFETY: `dict` is the first of `dict_len` bytes of the region
        // (`view` checked the region's length), 8-aligned (the region is
        // 128-aligned, HEADER_LEN and the capacity multiples of 64),
        // writable (a ring's region is), and alive while `self` is borrowed.
        return unsafe { Dictionary::from_raw(self.dict, self.dict_len, true) };
        #[cfg(loom)]
        return Dictionary::model(&self.region.dict);
    }

    /// How producers reserve space in this ring.
    #[inline]
    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }

    /// Index into the data area of a free-running position.
    #[inline]
    pub(crate) fn index(&self, pos: u64) -> u64 {
        pos & self.mask
    }

    /// The record word at `pos`.
    ///
    /// `pos` must be a multiple of eight (every record boundary is); the index is
    /// masked, so the word is always inside the data area.
    #[inline]
    pub(crate) fn word(&self, pos: u64) -> &AtomicU64 {
        debug_assert_eq!(pos % WORD, 0, "record words are 8-aligned");
        let index = self.index(pos) & !(WORD - 1);
        #[cfg(not(loom))]
        // SAFETY: `index + 8 <= capacity` (masked, 8-aligned) so the word is inside
        // the data area; the data area is 8-aligned (region base is 128-aligned
        // and HEADER_LEN is a multiple of 128); and every byte pattern is a valid
        // `AtomicU64`. Concurrent non-atomic access to this word is excluded by the
        // protocol (see `queue`).
        return unsafe { self.data.add(index as usize).cast::<AtomicU64>().as_ref() };
        #[cfg(loom)]
        return self.region.word(index);
    }

    /// Pointer to the payload of the record whose word is at `pos`.
    ///
    /// Callers keep `8 + len` within the data area from `pos` (records never
    /// wrap) and own those bytes under the claim protocol before touching them.
    #[inline]
    pub(crate) fn payload_ptr(&self, pos: u64) -> *mut u8 {
        let index = self.index(pos) + WORD;
        debug_assert!(index <= self.capacity);
        #[cfg(not(loom))]
        // SAFETY: `index <= capacity`, so the pointer is within (or one past) the
        // data area; forming it reads nothing.
        return unsafe { self.data.as_ptr().add(index as usize) };
        #[cfg(loom)]
        return self.region.byte_ptr(index);
    }

    /// Zeroes the `span` bytes of consumed records starting at `pos`.
    ///
    /// # Safety
    ///
    /// The caller is the consumer, `pos` is 8-aligned, `[pos, pos + span)` does
    /// not wrap past the end of the data area, and every record in it was
    /// committed or padded (so no producer touches these bytes until the consumer
    /// publishes a `head` past them).
    #[inline]
    pub(crate) unsafe fn zero(&self, pos: u64, span: u64) {
        let index = self.index(pos);
        debug_assert!(index + span <= self.capacity);
        #[cfg(not(loom))]
        // SAFETY: in bounds by the caller's no-wrap promise; exclusively owned by
        // the consumer until it publishes head, by the caller's protocol promise.
        unsafe {
            std::ptr::write_bytes(self.data.as_ptr().add(index as usize), 0, span as usize)
        };
        #[cfg(loom)]
        self.region.zero(index, span);
    }

    /// Zeroes the `len` bytes of consumed records starting at `pos`, a range
    /// that may run past the end of the data area and on from its start.
    ///
    /// # Safety
    ///
    /// As for [`zero`](Self::zero), except that the range may wrap: `len`
    /// is at most the capacity.
    #[inline]
    pub(crate) unsafe fn zero_wrapping(&self, pos: u64, len: u64) {
        debug_assert!(len <= self.capacity);
        let first = len.min(self.capacity - self.index(pos));
        // SAFETY: `[pos, pos + first)` stops at the end of the data area and
        // the rest starts at its beginning, so neither piece wraps; the
        // caller's promise covers the bytes of both.
        unsafe {
            self.zero(pos, first);
            self.zero(pos.wrapping_add(first), len - first);
        }
    }

    /// Writes `value` to the word at `pos` (8-aligned) with a plain store.
    ///
    /// Plain, not atomic: the word may hold payload bytes written through a
    /// claim, and the caller publishes it with a later Release store anyway.
    ///
    /// # Safety
    ///
    /// The caller owns the word under the claim protocol: no other thread
    /// accesses it until the caller publishes it with a Release store.
    #[inline]
    pub(crate) unsafe fn write_word(&self, pos: u64, value: u64) {
        #[cfg(not(loom))]
        // SAFETY: the word is inside the data area (as in `word`) and owned by the
        // caller (this function's contract).
        unsafe {
            self.data
                .add(self.index(pos) as usize & !(WORD as usize - 1))
                .cast::<u64>()
                .as_ptr()
                .write(value)
        };
        #[cfg(loom)]
        self.region.write_word(self.index(pos), value);
    }

    /// Announces an access to payload bytes to the loom model checker; nothing
    /// outside `cfg(loom)`.
    #[inline(always)]
    pub(crate) fn track_payload(&self, _pos: u64, _len: u64, _write: bool) {
        #[cfg(loom)]
        self.region.track(self.index(_pos) + WORD, _len, _write);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_rounded_to_a_power_of_two() {
        assert_eq!(params(64), Ok((64, 24)));
        assert_eq!(params(65), Ok((128, 56)));
        assert_eq!(params(64 * 1024), Ok((64 * 1024, 32 * 1024 - 8)));
    }

    #[test]
    fn bad_capacities_are_errors() {
        assert!(matches!(params(0), Err(Error::CapacityTooSmall { .. })));
        assert!(matches!(params(63), Err(Error::CapacityTooSmall { .. })));
        assert!(matches!(
            params(usize::MAX),
            Err(Error::CapacityTooLarge { .. })
        ));
        assert!(matches!(
            params(usize::MAX / 2 + 2),
            Err(Error::CapacityTooLarge { .. })
        ));
        assert!(matches!(
            params(MAX_CAPACITY as usize + 1),
            Err(Error::CapacityTooLarge { .. })
        ));
        assert!(params(MAX_CAPACITY as usize).is_ok());
    }

    #[test]
    fn max_record_len_is_capped_by_the_length_field() {
        let (_, max) = params(MAX_CAPACITY as usize).unwrap();
        assert_eq!(max, RECORD_LEN_LIMIT);
    }

    #[test]
    fn a_new_ring_has_a_valid_header() {
        let ring = Ring::new_heap(Mode::Mpsc, 1000).unwrap();
        let meta = &ring.header().meta.0;
        assert_eq!(meta.initialised(), layout::INIT_MARK);
        let fields = meta.layout();
        assert_eq!(fields.magic, layout::MAGIC);
        assert_eq!(u16::from_le(fields.version_major), layout::VERSION_MAJOR);
        assert_eq!(u32::from_le(fields.mode), Mode::Mpsc as u32);
        assert_eq!(u64::from_le(fields.capacity), 1024);
        assert_eq!(u64::from_le(fields.max_record_len), 504);
        assert_eq!(u64::from_le(fields.data_offset), HEADER_LEN as u64);
    }
}
