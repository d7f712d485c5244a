//! Ring files for the tests: unique paths that clean up after themselves,
//! where things are in a file's header (see `ring::layout`), and how the
//! tests that need a damaged file write to it behind the library's back.

// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A unique path for a test's file (or directory), removed when dropped.
pub struct TempPath(PathBuf);

impl TempPath {
    /// A fresh path under the system's temporary directory.
    pub fn new(name: &str) -> Self {
        Self::under(&std::env::temp_dir(), name)
    }

    /// A fresh path on `/dev/shm` (memory, where rings between processes
    /// usually live), or under the temporary directory where there is none.
    pub fn in_memory(name: &str) -> Self {
        let shm = Path::new("/dev/shm");
        if shm.is_dir() {
            Self::under(shm, name)
        } else {
            Self::new(name)
        }
    }

    /// A fresh path under `dir`.
    pub fn under(dir: &Path, name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(
            "logring-test-{}-{n}-{name}.ring",
            std::process::id()
        ));
        let _ = fs::remove_file(&path);
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The path as a command-line argument.
    pub fn arg(&self) -> &str {
        self.0.to_str().expect("test paths are UTF-8")
    }
}

impl AsRef<Path> for TempPath {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if self.0.is_dir() {
            let _ = fs::remove_dir(&self.0);
        } else {
            let _ = fs::remove_file(&self.0);
        }
    }
}

/// Bytes before the data area.
pub const HEADER: u64 = 4096;
pub const MAGIC_AT: u64 = 0;
pub const MAJOR_AT: u64 = 8;
pub const MINOR_AT: u64 = 10;
pub const MODE_AT: u64 = 12;
pub const CAPACITY_AT: u64 = 16;
pub const MAX_LEN_AT: u64 = 24;
pub const DATA_OFFSET_AT: u64 = 32;
pub const INITIALISED_AT: u64 = 64;
pub const TAIL_AT: u64 = 128;
pub const HEAD_AT: u64 = 256;
pub const CONSUMED_AT: u64 = 896;

/// Writes `bytes` at `offset` of the file at `path`.
pub fn patch(path: impl AsRef<Path>, offset: u64, bytes: &[u8]) {
    let file = OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(bytes, offset).unwrap();
}

pub fn patch_u16(path: impl AsRef<Path>, offset: u64, value: u16) {
    patch(path, offset, &value.to_le_bytes());
}

pub fn patch_u32(path: impl AsRef<Path>, offset: u64, value: u32) {
    patch(path, offset, &value.to_le_bytes());
}

pub fn patch_u64(path: impl AsRef<Path>, offset: u64, value: u64) {
    patch(path, offset, &value.to_le_bytes());
}

/// Cuts or extends the file at `path` to `len` bytes.
pub fn set_len(path: impl AsRef<Path>, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}
