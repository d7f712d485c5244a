//! What both fuzz targets share: a scratch file per process, and payloads
//! whose bytes say which record they belong to.

// Each target uses only part of this module.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The ring file this process fuzzes with: on `/dev/shm` (memory, so a run
/// costs no disk I/O) where there is one, else in the temporary directory;
/// named after the target and the process, so that parallel jobs never
/// share one. Reused by every run of the process; [`Scratch`] removes it
/// after each.
pub fn scratch_path(target: &str) -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("logring-fuzz-{target}-{}", std::process::id()))
    })
}

/// Removes the scratch file when dropped (at the end of a run, or when a
/// run returns early). A run that crashes leaves it behind, named with the
/// crashed process's id.
pub struct Scratch(pub &'static Path);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_file(self.0);
    }
}

/// The integration tests' keyed payloads (`mix`, `fill`, `check`): a torn,
/// shifted or misdelivered record shows in its bytes.
#[path = "../../../tests/common/mod.rs"]
mod keyed;
pub use keyed::fill;

/// The payload of `len` bytes of the record keyed `key`.
pub fn payload(key: u64, len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    fill(key, &mut bytes);
    bytes
}

/// Bytes a record of payload `len` occupies in a ring: its 8-byte word, the
/// payload, and fill to the next multiple of 8.
pub fn span_of(len: u64) -> u64 {
    (8 + len).next_multiple_of(8)
}
