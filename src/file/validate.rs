//! What a ring file must be before anything attaches to it: a regular file
//! of a length that can be mapped, whose header is a whole ring of this
//! format, and that stays as long as its ring.
//!
//! `RingFile::open` and `RingObserver::open` run these checks in this order
//! (open, length, map, header); every failure is a [`FileError`] naming the
//! file and saying what was wrong with it.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::{FileError, FileErrorKind, Mode};
use crate::ring::layout::{
    HEADER_LEN, Header, INIT_MARK, LayoutFields, MAGIC, MAX_CAPACITY, MIN_CAPACITY, VERSION_MAJOR,
    WORD,
};
use crate::ring::params;
use crate::sync::Ordering;

/// The length the header of `file` asks for, for an error message only.
fn header_layout_len(file: &File) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    let mut bytes = [0; size_of::<LayoutFields>()];
    file.read_exact_at(&mut bytes, 0).ok()?;
    let layout: LayoutFields = bytemuck::pod_read_unaligned(&bytes);
    (HEADER_LEN as u64).checked_add(u64::from_le(layout.capacity))
}

/// Opens the file at `path`: read-write for attaching ends (`write`), or
/// read-only for an observer.
pub(super) fn open_file(path: &Path, write: bool) -> Result<File, FileError> {
    OpenOptions::new()
        .read(true)
        .write(write)
        // Opening a FIFO to read waits for a writer, for ever: don't. (The
        // flag changes nothing for a regular file, which is checked next.)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|source| match source.raw_os_error() {
            // A directory cannot be opened for writing: say what it is.
            Some(libc::EISDIR) => FileError::new(path, FileErrorKind::NotAFile),
            _ => FileError::new(
                path,
                FileErrorKind::Io {
                    action: "open",
                    source,
                },
            ),
        })
}

/// Checks what the file system says of the ring file `file` (a regular
/// file; with `write`, one somebody may write; of a length that can be
/// mapped and holds a header) and returns its length.
pub(super) fn checked_len(path: &Path, file: &File, write: bool) -> Result<u64, FileError> {
    let fail = |kind| FileError::new(path, kind);
    let metadata = file.metadata().map_err(FileError::io(path, "inspect"))?;
    if !metadata.file_type().is_file() {
        return Err(fail(FileErrorKind::NotAFile));
    }
    let permissions = metadata.permissions().mode() & 0o7777;
    if write && permissions & 0o222 == 0 {
        return Err(fail(FileErrorKind::ReadOnly { mode: permissions }));
    }
    let len = metadata.len();
    if len == 0 {
        return Err(fail(FileErrorKind::Empty));
    }
    if len < HEADER_LEN as u64 {
        return Err(fail(FileErrorKind::TooShort {
            len,
            min: HEADER_LEN as u64,
        }));
    }
    // The length must be header + capacity; anything longer than the
    // largest ring is refused before it is mapped.
    if len > HEADER_LEN as u64 + MAX_CAPACITY {
        return Err(fail(FileErrorKind::LengthMismatch {
            expected: header_layout_len(file).unwrap_or(0),
            actual: len,
        }));
    }
    Ok(len)
}

/// The format version in `header`, `(major, minor)`.
pub(super) fn format_version(header: &Header) -> (u16, u16) {
    // SAFETY: a valid, aligned reference to plain old data inside a mapping
    // that outlives it; the header's layout fields are written once, before
    // the ring was marked initialised. A volatile read only loads, as a
    // read-only mapping requires.
    let fields: LayoutFields = unsafe { std::ptr::read_volatile(&header.meta.0.layout) };
    (
        u16::from_le(fields.version_major),
        u16::from_le(fields.version_minor),
    )
}

/// Checks that `file`, the ring file of a ring of `capacity` bytes, is
/// still as long as the ring (nobody truncated or extended it).
pub(super) fn check_file_len(path: &Path, file: &File, capacity: u64) -> Result<(), FileError> {
    let actual = file
        .metadata()
        .map_err(FileError::io(path, "inspect"))?
        .len();
    let expected = HEADER_LEN as u64 + capacity;
    if actual == expected {
        Ok(())
    } else {
        Err(FileError::new(
            path,
            FileErrorKind::LengthMismatch { expected, actual },
        ))
    }
}

/// Checks the header of a mapped file of `len` bytes; returns its mode,
/// capacity and maximum record length. Only loads from the header (the
/// mapping may be read-only): other processes may write it, so the plain
/// fields are read with volatile copies, the atomics atomically.
pub(super) fn check_header(header: &Header, len: u64) -> Result<(Mode, u64, u64), FileErrorKind> {
    // Acquire: pairs with the creator's Release store of the marker, so the
    // layout read after it is the one written before it.
    let initialised = header.meta.0.initialised.load(Ordering::Acquire);
    // SAFETY: a valid, aligned pointer to plain old data inside the mapping.
    let fields: LayoutFields = unsafe { std::ptr::read_volatile(&header.meta.0.layout) };
    let major = u16::from_le(fields.version_major);
    let minor = u16::from_le(fields.version_minor);
    if fields.magic != MAGIC {
        // A file still being created reads as zero: say so rather than
        // "not a logring file".
        if initialised != INIT_MARK && bytemuck::bytes_of(&fields).iter().all(|&b| b == 0) {
            return Err(FileErrorKind::Uninitialised);
        }
        return Err(FileErrorKind::BadMagic {
            found: fields.magic,
        });
    }
    if major != VERSION_MAJOR {
        return Err(FileErrorKind::UnsupportedVersion {
            major,
            minor,
            supported: VERSION_MAJOR,
        });
    }
    if initialised != INIT_MARK {
        return Err(FileErrorKind::Uninitialised);
    }
    let bad = |reason| Err(FileErrorKind::BadLayout { reason });
    let mode = match u32::from_le(fields.mode) {
        1 => Mode::Spsc,
        2 => Mode::Mpsc,
        _ => return bad("unknown producer mode"),
    };
    let capacity = u64::from_le(fields.capacity);
    if !capacity.is_power_of_two() {
        return bad("capacity is not a power of two");
    }
    if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity) {
        return bad("capacity is out of range");
    }
    let (_, max_record_len) = params(capacity as usize).map_err(|_| FileErrorKind::BadLayout {
        reason: "capacity is out of range",
    })?;
    if u64::from_le(fields.max_record_len) != max_record_len {
        return bad("maximum record length does not match the capacity");
    }
    if u64::from_le(fields.data_offset) != HEADER_LEN as u64 {
        return bad("data offset is not the header length");
    }
    let expected = HEADER_LEN as u64 + capacity;
    if len != expected {
        return Err(FileErrorKind::LengthMismatch {
            expected,
            actual: len,
        });
    }
    // The positions move while ends are attached: a check that fails may
    // have read them out of step, so it must fail three times running.
    let mut positions = (0, 0, 0);
    for _ in 0..3 {
        // Relaxed: a sanity check of positions that the ends re-read anyway.
        // Tail before head: a head read later is never further behind it.
        let tail = header.tail.0.load(Ordering::Relaxed);
        let consumed = header.consumed.0.load(Ordering::Relaxed);
        let head = header.head.0.load(Ordering::Relaxed);
        let aligned = (head | tail | consumed) % WORD == 0;
        if aligned && tail.wrapping_sub(head) <= capacity && consumed.wrapping_sub(head) <= capacity
        {
            return Ok((mode, capacity, max_record_len));
        }
        positions = (head, tail, consumed);
        std::thread::yield_now();
    }
    let (head, tail, consumed) = positions;
    Err(FileErrorKind::BadPositions {
        head,
        tail,
        consumed,
    })
}
