//! The region of a loom model: the same header, with every record word a loom
//! atomic and every payload word watched by a loom cell, so that the model
//! checker sees each access the protocol makes.
//!
//! Real regions keep record words and payload bytes in the same memory; the
//! model keeps them side by side (words, cells, bytes at the same index), which
//! preserves every ordering the protocol relies on: the consumer zeroes both,
//! and producers write both only inside their own claims.

use std::cell::UnsafeCell as StdCell;

use loom::cell::UnsafeCell;

use crate::ring::layout::{Header, LayoutFields, WORD};
use crate::sync::{AtomicU64, Ordering};

pub(crate) struct ModelRegion {
    pub(crate) header: Header,
    words: Box<[AtomicU64]>,
    cells: Box<[UnsafeCell<()>]>,
    bytes: StdCell<Box<[u8]>>,
}

// SAFETY: `bytes` is only touched inside claims the protocol gives to one thread
// at a time, and each such access is announced to loom through `cells`, which
// fails the model if two of them are not ordered.
unsafe impl Sync for ModelRegion {}
// SAFETY: as for `Sync`; the region owns plain data.
unsafe impl Send for ModelRegion {}

impl ModelRegion {
    pub(crate) fn new(layout: LayoutFields, capacity: u64) -> Self {
        let words = (capacity / WORD) as usize;
        Self {
            header: Header::new(layout),
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
            cells: (0..words).map(|_| UnsafeCell::new(())).collect(),
            bytes: StdCell::new(vec![0; capacity as usize].into_boxed_slice()),
        }
    }

    pub(crate) fn word(&self, index: u64) -> &AtomicU64 {
        &self.words[(index / WORD) as usize]
    }

    pub(crate) fn byte_ptr(&self, index: u64) -> *mut u8 {
        // SAFETY: only a pointer is formed here; accesses through it are announced
        // to loom via `track`.
        unsafe { (*self.bytes.get()).as_mut_ptr().add(index as usize) }
    }

    /// Tells loom that `[index, index + len)` is read (or written, if `write`).
    pub(crate) fn track(&self, index: u64, len: u64, write: bool) {
        let first = index / WORD;
        let last = (index + len).div_ceil(WORD);
        for cell in &self.cells[first as usize..last as usize] {
            if write {
                cell.with_mut(|_| ());
            } else {
                cell.with(|_| ());
            }
        }
    }

    /// The consumer's zeroing of a consumed span: words and bytes.
    pub(crate) fn zero(&self, index: u64, span: u64) {
        for i in (index..index + span).step_by(WORD as usize) {
            self.word(i).store(0, Ordering::Relaxed);
        }
        self.track(index, span, true);
        // SAFETY: `track` just announced exclusive access to these bytes.
        unsafe { std::ptr::write_bytes(self.byte_ptr(index), 0, span as usize) };
    }
}
