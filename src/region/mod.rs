//! Regions: whose bytes a ring lives in.
//!
//! The queue algorithms never allocate or map memory; they are handed a region
//! and find every piece of shared state inside it. A heap ring and a file ring
//! differ only in the `Region` implementation that owns the bytes.

#[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
mod file;
#[cfg(not(loom))]
mod heap;
#[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
pub(crate) use file::{FileRegion, ReadOnlyFileRegion};
#[cfg(not(loom))]
pub(crate) use heap::HeapRegion;

#[cfg(not(loom))]
use std::ptr::NonNull;

/// Memory that holds exactly one ring: the header, the data area, then the
/// dictionary.
///
/// # Safety
///
/// An implementor promises, for as long as the value is alive:
/// - `base()` points to `len()` bytes that are readable and writable through
///   shared references from any thread (every concurrent access goes through an
///   atomic or is ordered by the ring protocol);
/// - `base()` is aligned to 128 bytes (a header line) and never moves;
/// - `len()` is the header length plus the ring's capacity plus its
///   dictionary's length, and fits in `isize`.
#[cfg(not(loom))]
pub(crate) unsafe trait Region: Send + Sync + 'static {
    /// First byte of the header.
    fn base(&self) -> NonNull<u8>;
    /// Bytes from `base()` that belong to the ring.
    fn len(&self) -> usize;
}

#[cfg(loom)]
mod model;
#[cfg(loom)]
pub(crate) use model::{ModelDict, ModelRegion};
