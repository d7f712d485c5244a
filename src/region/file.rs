//! A ring in a memory-mapped file: for producers and a consumer in different
//! processes.

use std::fs::File;
use std::io;
use std::ptr::NonNull;

use memmap2::{MmapOptions, MmapRaw};

use crate::ring::layout::{HEADER_LEN, Header};

/// A shared, writable mapping of a whole ring file.
///
/// `MmapRaw` hands out a pointer, never a `&mut [u8]`: other processes write
/// these bytes at any time, so no Rust reference may claim them; every access
/// goes through the ring's atomics and claims, as for a heap ring.
pub(crate) struct FileRegion {
    map: MmapRaw,
}

impl FileRegion {
    /// Maps the first `len` bytes of `file`, shared and writable. `len` is
    /// at least a header's length.
    pub(crate) fn map(file: &File, len: usize) -> io::Result<Self> {
        assert!(len >= HEADER_LEN, "a ring file holds at least a header");
        let map = MmapOptions::new().len(len).map_raw(file)?;
        Ok(Self { map })
    }

    /// Writes the mapping back to the file and waits for the device.
    pub(crate) fn flush(&self) -> io::Result<()> {
        self.map.flush()
    }
}

// SAFETY: a mapping is not tied to the thread that made it; unmapping it
// from another thread is fine.
unsafe impl Send for FileRegion {}
// SAFETY: `&FileRegion` only hands out the base pointer; every access through
// it follows the ring protocol (atomics, or bytes owned by one claim at a
// time), as for the heap region.
unsafe impl Sync for FileRegion {}

// SAFETY: the mapping is `len` bytes, readable and writable, at a page-aligned
// (so 128-aligned) address that stays fixed until it is unmapped on drop; every
// `Ring` view holds an `Arc` to this region. `len` came from a file length the
// caller checked to be the header plus a capacity of at most `MAX_CAPACITY`.
unsafe impl super::Region for FileRegion {
    fn base(&self) -> NonNull<u8> {
        NonNull::new(self.map.as_mut_ptr()).expect("a mapping is never at address 0")
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// A shared, read-only mapping of a whole ring file: what an observer
/// (which needs only read permission) sees of a ring. The pages are mapped
/// without write access, so nothing done through it can change the file.
///
/// Like [`FileRegion`], it hands out a pointer, never a `&[u8]`: the ends
/// attached in other processes change these bytes at any time. Reads go
/// through the header's atomics (Relaxed loads only: those of at most 8
/// bytes are allowed on read-only memory; an Acquire is a fence after one).
pub(crate) struct ReadOnlyFileRegion {
    map: MmapRaw,
}

impl ReadOnlyFileRegion {
    /// Maps the first `len` bytes of `file` (open for reading), shared and
    /// read-only. `len` is at least a header's length.
    pub(crate) fn map(file: &File, len: usize) -> io::Result<Self> {
        assert!(len >= HEADER_LEN, "a ring file holds at least a header");
        let map = MmapOptions::new().len(len).map_raw_read_only(file)?;
        Ok(Self { map })
    }

    /// The first byte of the mapping: the ring's header. At least
    /// `HEADER_LEN` bytes, page-aligned, mapped while `self` lives.
    pub(crate) fn base(&self) -> NonNull<u8> {
        NonNull::new(self.map.as_ptr().cast_mut()).expect("a mapping is never at address 0")
    }

    /// The ring's header, at the start of the mapping, for a ring whose
    /// header passed validation (see "Who may hold a `&Header`" in
    /// `ring::layout`). Only loads may be made through it: the pages are
    /// not writable.
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: at least HEADER_LEN bytes (checked in `map`), page-aligned,
        // alive as long as `&self`, and any bytes are a valid `Header`
        // (atomics only). A shared reference asserts nothing about
        // writability; the crate only ever loads through it (the
        // observers), which read-only memory allows.
        unsafe { self.base().cast::<Header>().as_ref() }
    }
}

// SAFETY: as for `FileRegion`: a mapping is not tied to a thread.
unsafe impl Send for ReadOnlyFileRegion {}
// SAFETY: `&ReadOnlyFileRegion` gives loads only (the header's atomics),
// which any thread may make at once.
unsafe impl Sync for ReadOnlyFileRegion {}
