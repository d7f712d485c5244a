//! The region of a loom model: the same header, with every record word a loom
//! atomic and every payload word watched by a loom cell, so that the model
//! checker sees each access the protocol makes.
//!
//! Real regions keep record words and payload bytes in the same memory; the
//! model keeps them side by side (words, cells, bytes at the same index), which
//! preserves every ordering the protocol relies on: zeroing reaches words and
//! bytes alike, and producers write both only inside their own claims.

use std::cell::UnsafeCell;

use crate::ring::layout::{DICT_ENTRIES, Header, LayoutFields, WORD};
use crate::sync::{AtomicU64, Ordering};

/// What a payload leaves in a record word: a pattern no writer of record
/// words produces, so a consumer that finds it reports corruption.
const STALE: u64 = u64::MAX;

pub(crate) struct ModelRegion {
    pub(crate) header: Header,
    words: Box<[AtomicU64]>,
    cells: Box<[loom::cell::UnsafeCell<()>]>,
    /// The payload bytes, each in its own cell so that a pointer formed for one
    /// claim never asserts exclusive access to another claim's bytes.
    bytes: Box<[UnsafeCell<u8>]>,
    /// The dictionary after the data area (only the tests look at it).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) dict: ModelDict,
}

// SAFETY: `bytes` is only touched inside claims the protocol gives to one thread
// at a time, and each such access is announced to loom through `cells`, which
// fails the model if two of them are not ordered.
unsafe impl Sync for ModelRegion {}

impl ModelRegion {
    pub(crate) fn new(layout: LayoutFields, capacity: u64, dict_len: u64) -> Self {
        let words = (capacity / WORD) as usize;
        Self {
            dict: ModelDict::new(dict_len),
            header: Header::new(layout),
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
            cells: (0..words)
                .map(|_| loom::cell::UnsafeCell::new(()))
                .collect(),
            bytes: (0..capacity).map(|_| UnsafeCell::new(0)).collect(),
        }
    }

    pub(crate) fn word(&self, index: u64) -> &AtomicU64 {
        &self.words[(index / WORD) as usize]
    }

    /// Pointer to the byte at `index` (`index <= capacity`), valid for the rest
    /// of the data area.
    pub(crate) fn byte_ptr(&self, index: u64) -> *mut u8 {
        assert!(index as usize <= self.bytes.len());
        // SAFETY: `index` is at most the slice length (checked above), so the
        // pointer stays inside the slice or one past it; forming it reads
        // nothing, and accesses through it are announced to loom via `track`.
        let cell = unsafe { self.bytes.as_ptr().add(index as usize) };
        UnsafeCell::raw_get(cell)
    }

    /// Tells loom that `[index, index + len)` is read (or written, if `write`).
    ///
    /// A payload write also leaves `STALE` in the record words it covers: in a
    /// real ring payload bytes and record words share memory, so whatever a
    /// payload leaves behind is what a later lap finds where a record word
    /// falls, unless somebody zeroed it.
    pub(crate) fn track(&self, index: u64, len: u64, write: bool) {
        self.announce(index, len, write);
        if write {
            for i in (index / WORD)..(index + len).div_ceil(WORD) {
                self.words[i as usize].store(STALE, Ordering::Relaxed);
            }
        }
    }

    /// Announces an access to the words covering `[index, index + len)` to loom.
    fn announce(&self, index: u64, len: u64, write: bool) {
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

    /// A producer's plain write to a word it owns: checked like the
    /// consumer's zeroing (see `zero`).
    pub(crate) fn write_word(&self, index: u64, value: u64) {
        let word = self.word(index);
        // SAFETY: the caller owns the word under the claim protocol; loom checks
        // that every earlier store to it happens-before this point.
        if unsafe { word.unsync_load() } != value {
            word.store(value, Ordering::Relaxed);
        }
    }

    /// The consumer's zeroing of a consumed span: words and bytes.
    ///
    /// Real zeroing is a plain write over record words too. Each word is first
    /// read with `unsync_load`, which fails the model unless every store to the
    /// word happens-before this point, and any later store fails it unless this
    /// point happens-before that store; only non-zero words are then stored to,
    /// which keeps the schedules to explore few.
    pub(crate) fn zero(&self, index: u64, span: u64) {
        for i in (index..index + span).step_by(WORD as usize) {
            let word = self.word(i);
            // SAFETY: the protocol gives the consumer these words alone (every
            // producer store to them happens-before, no producer store until
            // head is published); loom checks exactly that and fails otherwise.
            if unsafe { word.unsync_load() } != 0 {
                word.store(0, Ordering::Relaxed);
            }
        }
        self.announce(index, span, true);
        // SAFETY: `track` just announced exclusive access to these bytes, which
        // lie inside the data area (`index + span <= capacity`).
        unsafe { std::ptr::write_bytes(self.byte_ptr(index), 0, span as usize) };
    }
}

/// The dictionary of a loom model's ring: every word a loom atomic (the
/// dictionary's bytes, payloads included, are only ever accessed as atomic
/// words).
pub(crate) struct ModelDict {
    words: Box<[AtomicU64]>,
}

#[cfg_attr(not(test), allow(dead_code))] // only the tests use it
impl ModelDict {
    /// A new dictionary of `len` bytes (a multiple of 8), as the ring's
    /// creator leaves it: `next` at the first entry.
    fn new(len: u64) -> Self {
        let words = (len / WORD) as usize;
        let dict = Self {
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
        };
        if let Some(next) = dict.words.first() {
            next.store(DICT_ENTRIES, Ordering::Relaxed);
        }
        dict
    }

    pub(crate) fn len(&self) -> u64 {
        self.words.len() as u64 * WORD
    }

    pub(crate) fn word(&self, off: u64) -> &AtomicU64 {
        &self.words[(off / WORD) as usize]
    }
}
