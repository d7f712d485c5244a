//! A ring in memory from the global allocator: for producers and a consumer in
//! one process.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

use crate::error::Error;
use crate::ring::layout::LINE;

/// Zeroed, 128-byte aligned heap memory, freed on drop.
pub(crate) struct HeapRegion {
    base: NonNull<u8>,
    layout: Layout,
}

impl HeapRegion {
    /// Allocates `len` zeroed bytes.
    pub(crate) fn zeroed(len: usize) -> Result<Self, Error> {
        let layout =
            Layout::from_size_align(len, LINE).map_err(|_| Error::OutOfMemory { bytes: len })?;
        assert!(layout.size() > 0, "a ring is never empty");
        // SAFETY: the layout has a non-zero size (a ring has at least a header).
        let base = unsafe { alloc::alloc_zeroed(layout) };
        let base = NonNull::new(base).ok_or(Error::OutOfMemory { bytes: len })?;
        Ok(Self { base, layout })
    }
}

impl Drop for HeapRegion {
    fn drop(&mut self) {
        // SAFETY: `base` came from `alloc_zeroed(self.layout)` and is freed once,
        // here; every `Ring` view holds an `Arc` to this region, so none is left.
        unsafe { alloc::dealloc(self.base.as_ptr(), self.layout) };
    }
}

// SAFETY: the region is plain bytes owned by this value; which thread frees them
// does not matter.
unsafe impl Send for HeapRegion {}
// SAFETY: `&HeapRegion` only hands out the base pointer; every access through it
// follows the ring protocol (atomics, or bytes owned by one claim at a time).
unsafe impl Sync for HeapRegion {}

// SAFETY: `base` is valid for `layout.size()` bytes until drop, aligned to
// `LINE` by the layout, and never moves; `Layout` guarantees the size fits isize.
unsafe impl super::Region for HeapRegion {
    fn base(&self) -> NonNull<u8> {
        self.base
    }

    fn len(&self) -> usize {
        self.layout.size()
    }
}
