//! A ring in a memory-mapped file: for producers and a consumer in different
//! processes.

use std::fs::File;
use std::io;
use std::ptr::NonNull;

use memmap2::{MmapOptions, MmapRaw};

/// A shared, writable mapping of a whole ring file.
///
/// `MmapRaw` hands out a pointer, never a `&mut [u8]`: other processes write
/// these bytes at any time, so no Rust reference may claim them; every access
/// goes through the ring's atomics and claims, as for a heap ring.
pub(crate) struct FileRegion {
    map: MmapRaw,
}

impl FileRegion {
    /// Maps the first `len` bytes of `file`, shared and writable.
    pub(crate) fn map(file: &File, len: usize) -> io::Result<Self> {
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
