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
use std::ptr::NonNull;

use super::{FileError, FileErrorKind, Mode};
use crate::ring::layout::{
    DICT_ALIGN, HEADER_LEN, Header, INIT_MARK, LayoutFields, MAGIC, MAX_CAPACITY, MAX_DICT_LEN,
    MIN_CAPACITY, VERSION_MAJOR, VERSION_MINOR, WORD,
};
use crate::ring::{max_record_len_retaining, max_retain, params};
use crate::sync::Ordering;

/// The length the header of `file` asks for, for an error message only.
fn header_layout_len(file: &File) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    let mut bytes = [0; size_of::<LayoutFields>()];
    file.read_exact_at(&mut bytes, 0).ok()?;
    let layout: LayoutFields = bytemuck::pod_read_unaligned(&bytes);
    (HEADER_LEN as u64)
        .checked_add(u64::from_le(layout.capacity))?
        .checked_add(u64::from_le(layout.dict_len))
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
    // The length must be header + capacity + dictionary; anything longer
    // than the largest ring is refused before it is mapped.
    if len > HEADER_LEN as u64 + MAX_CAPACITY + MAX_DICT_LEN {
        return Err(fail(FileErrorKind::LengthMismatch {
            expected: header_layout_len(file).unwrap_or(0),
            actual: len,
        }));
    }
    Ok(len)
}

/// Checks that `file`, the ring file of a ring whose data area and
/// dictionary hold `ring_len` bytes, is still as long as the ring (nobody
/// truncated or extended it).
pub(super) fn check_file_len(path: &Path, file: &File, ring_len: u64) -> Result<(), FileError> {
    let actual = file
        .metadata()
        .map_err(FileError::io(path, "inspect"))?
        .len();
    let expected = HEADER_LEN as u64 + ring_len;
    if actual == expected {
        Ok(())
    } else {
        Err(FileError::new(
            path,
            FileErrorKind::LengthMismatch { expected, actual },
        ))
    }
}

/// What a valid header says of its ring: copied into the handle once and
/// never read from the header again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Layout {
    pub mode: Mode,
    /// Data area bytes, a power of two.
    pub capacity: u64,
    pub max_record_len: u64,
    /// Dictionary bytes after the data area: 0 (none, as in every 1.0
    /// ring) or a multiple of `DICT_ALIGN`, at most `MAX_DICT_LEN`.
    pub dict_len: u64,
    /// Bytes of consumed records left in place for spies (1.2): a
    /// multiple of 16, at most half the capacity.
    pub retain: u64,
    /// The format version, `(major, minor)`; the major is `VERSION_MAJOR`.
    pub version: (u16, u16),
}

impl Layout {
    /// The layout of a ring this build creates.
    pub(super) fn new(
        mode: Mode,
        capacity: u64,
        max_record_len: u64,
        dict_len: u64,
        retain: u64,
    ) -> Self {
        Self {
            mode,
            capacity,
            max_record_len,
            dict_len,
            retain,
            version: (VERSION_MAJOR, VERSION_MINOR),
        }
    }
}

/// Checks the header at `header`, the start of a mapped file of `len`
/// bytes, and returns what it says of the ring.
///
/// The marker and the layout are read through the raw pointer, and the
/// rest of the header (the positions) through a reference only once they
/// have passed (see "Who may hold a `&Header`" in `ring::layout`). Only
/// Relaxed loads, and fences: the mapping may be read-only.
///
/// # Safety
///
/// `header` is the start of a readable mapping of `len` bytes, `len` at
/// least `HEADER_LEN`, that stays mapped during the call.
pub(super) unsafe fn check_header(
    header: NonNull<Header>,
    len: u64,
) -> Result<Layout, FileErrorKind> {
    // SAFETY: the caller's promise; a mapping is page-aligned.
    let meta = unsafe { Header::meta(header) };
    // The marker first: the layout loaded after it is whole if it is set.
    let initialised = meta.initialised();
    let fields = meta.layout();
    let major = u16::from_le(fields.version_major);
    let minor = u16::from_le(fields.version_minor);
    if initialised != INIT_MARK && may_be_unfinished(&fields) {
        // Still being created (or never finished): say so rather than
        // "not a logring file" or "format 0".
        return Err(FileErrorKind::Uninitialised);
    }
    if fields.magic != MAGIC {
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
    // 1.1 and 1.0 left these bytes zero: no retention.
    let retain = u64::from_le(fields.retain);
    if retain % 16 != 0 || retain > max_retain(capacity) {
        return bad("retention is not a multiple of 16 up to half the capacity");
    }
    let max_record_len = max_record_len.min(max_record_len_retaining(capacity, retain));
    if u64::from_le(fields.max_record_len) != max_record_len {
        return bad("maximum record length does not match the capacity and retention");
    }
    if u64::from_le(fields.data_offset) != HEADER_LEN as u64 {
        return bad("data offset is not the header length");
    }
    // 1.0 left these bytes zero: a 1.0 ring has no dictionary.
    let dict_len = u64::from_le(fields.dict_len);
    if dict_len % DICT_ALIGN != 0 {
        return bad("dictionary length is not a multiple of 4096");
    }
    if dict_len > MAX_DICT_LEN {
        return bad("dictionary length is above the maximum of 1 GiB");
    }
    let expected = HEADER_LEN as u64 + capacity + dict_len;
    if len != expected {
        return Err(FileErrorKind::LengthMismatch {
            expected,
            actual: len,
        });
    }
    // The positions move while ends are attached: a check that fails may
    // have read them out of step, so it must fail three times running.
    // SAFETY: as above; the marker is set and the layout valid, so the
    // header is whole, and any bytes are a valid `Header` (atomics only).
    let header = unsafe { header.as_ref() };
    let mut positions = (0, 0, 0);
    for _ in 0..3 {
        // Relaxed: a sanity check of positions that the ends re-read anyway.
        // Tail before head: a head read later is never further behind it.
        let tail = header.tail.0.load(Ordering::Relaxed);
        let consumed = header.consumed.0.load(Ordering::Relaxed);
        let head = header.head.0.load(Ordering::Relaxed);
        let aligned = (head | tail | consumed) % WORD == 0;
        // A consumer may be past the tail, by up to the capacity: it reads
        // a committed record wherever it finds one, even one a damaged file
        // holds at or past the tail, and the next producer moves the tail
        // up to the consumer (MPSC: to its head; SPSC: `take_over` starts
        // at its `consumed` mark). Refusing that state would leave a file
        // the crate itself wrote (a receiver drained it) that no process
        // opens again.
        let ahead = tail.wrapping_sub(head) <= capacity || head.wrapping_sub(tail) <= capacity;
        if aligned && ahead && consumed.wrapping_sub(head) <= capacity {
            return Ok(Layout {
                mode,
                capacity,
                max_record_len,
                dict_len,
                retain,
                version: (major, minor),
            });
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

/// Whether `fields`, from a header without the initialised marker, may be a
/// creator's layout not yet completely stored: every byte of its magic and
/// major version is either still zero or already what this build writes.
/// (Stores of different words, or by an older release of different bytes,
/// need not become visible in order.) Anything else is a file of another
/// kind or another format, and is reported as such.
fn may_be_unfinished(fields: &LayoutFields) -> bool {
    let partial = |found: &[u8], whole: &[u8]| {
        found
            .iter()
            .zip(whole)
            .all(|(&found, &whole)| found == 0 || found == whole)
    };
    partial(&fields.magic, &MAGIC)
        && partial(
            &fields.version_major.to_ne_bytes(),
            &VERSION_MAJOR.to_le_bytes(),
        )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::region::{HeapRegion, Region};
    use crate::ring::layout::{self, INIT_MARK};

    const CAPACITY: u64 = 64;
    const LEN: u64 = HEADER_LEN as u64 + CAPACITY;
    /// Where the initialised marker sits in the header.
    const MARK_AT: usize = size_of::<LayoutFields>();

    /// The layout bytes of the ring the tests build.
    fn layout_bytes() -> Vec<u8> {
        let (capacity, max_record_len) = params(CAPACITY as usize).unwrap();
        let fields = LayoutFields::new(layout::Mode::Spsc, capacity, max_record_len, 0, 0);
        bytemuck::bytes_of(&fields).to_vec()
    }

    /// A zeroed ring's memory with `bytes` written at `offset`.
    fn region_with(writes: &[(usize, &[u8])]) -> HeapRegion {
        let region = HeapRegion::zeroed(LEN as usize).unwrap();
        for &(offset, bytes) in writes {
            assert!(offset + bytes.len() <= HEADER_LEN);
            // SAFETY: in bounds (checked above); nobody else sees the region.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    region.base().as_ptr().add(offset),
                    bytes.len(),
                );
            }
        }
        region
    }

    fn check(region: &HeapRegion) -> Result<Layout, FileErrorKind> {
        // SAFETY: the region holds `LEN` bytes and outlives the call.
        unsafe { check_header(region.base().cast(), LEN) }
    }

    #[test]
    fn a_whole_header_passes() {
        let layout = layout_bytes();
        let region = region_with(&[(0, &layout), (MARK_AT, &INIT_MARK.to_le_bytes())]);
        let found = check(&region).unwrap();
        assert_eq!(
            found,
            Layout::new(Mode::Spsc, CAPACITY, CAPACITY / 2 - 8, 0, 0)
        );
    }

    /// Where `dict_len` and the minor version sit in the layout.
    const DICT_LEN_AT: usize = std::mem::offset_of!(LayoutFields, dict_len);
    const MINOR_AT: usize = std::mem::offset_of!(LayoutFields, version_minor);

    #[test]
    fn a_format_1_0_ring_has_no_dictionary() {
        let layout = layout_bytes();
        let region = region_with(&[
            (0, &layout),
            (MINOR_AT, &0u16.to_le_bytes()),
            (MARK_AT, &INIT_MARK.to_le_bytes()),
        ]);
        let found = check(&region).unwrap();
        assert_eq!(found.version, (VERSION_MAJOR, 0));
        assert_eq!(found.dict_len, 0);
    }

    #[test]
    fn impossible_dictionary_lengths_are_refused() {
        let layout = layout_bytes();
        for (dict_len, reason) in [
            (8, "dictionary length is not a multiple of 4096"),
            (4097, "dictionary length is not a multiple of 4096"),
            (
                MAX_DICT_LEN + DICT_ALIGN,
                "dictionary length is above the maximum of 1 GiB",
            ),
            (u64::MAX, "dictionary length is not a multiple of 4096"),
        ] {
            let found = check(&region_with(&[
                (0, &layout),
                (DICT_LEN_AT, &dict_len.to_le_bytes()),
                (MARK_AT, &INIT_MARK.to_le_bytes()),
            ]));
            assert!(
                matches!(found, Err(FileErrorKind::BadLayout { reason: r }) if r == reason),
                "{dict_len}: {found:?}"
            );
        }
        // A possible length the file is not long enough for.
        let found = check(&region_with(&[
            (0, &layout),
            (DICT_LEN_AT, &4096u64.to_le_bytes()),
            (MARK_AT, &INIT_MARK.to_le_bytes()),
        ]));
        assert!(
            matches!(
                found,
                Err(FileErrorKind::LengthMismatch { expected, actual: LEN })
                    if expected == LEN + 4096
            ),
            "{found:?}"
        );
    }

    #[test]
    fn any_part_of_a_layout_without_the_marker_is_uninitialised() {
        let layout = layout_bytes();
        // Any set of its words stored (this build stores word by word, and
        // the stores need not become visible in order), and any prefix of
        // its bytes (an older release's plain copy), with no marker.
        let words = layout.len() / 8;
        for stored in 0..1u32 << words {
            let writes: Vec<(usize, &[u8])> = (0..words)
                .filter(|word| stored & 1 << word != 0)
                .map(|word| (word * 8, &layout[word * 8..word * 8 + 8]))
                .collect();
            let found = check(&region_with(&writes));
            assert!(
                matches!(found, Err(FileErrorKind::Uninitialised)),
                "words {stored:#b}: {found:?}"
            );
        }
        for prefix in 0..=layout.len() {
            let found = check(&region_with(&[(0, &layout[..prefix])]));
            assert!(
                matches!(found, Err(FileErrorKind::Uninitialised)),
                "{prefix} bytes: {found:?}"
            );
        }
    }

    #[test]
    fn another_file_or_format_without_the_marker_is_named_as_such() {
        let found = check(&region_with(&[(0, b"NOTARING")]));
        assert!(
            matches!(found, Err(FileErrorKind::BadMagic { found }) if &found == b"NOTARING"),
            "{found:?}"
        );
        let mut layout = layout_bytes();
        layout[8..10].copy_from_slice(&2u16.to_le_bytes());
        let found = check(&region_with(&[(0, &layout)]));
        assert!(
            matches!(
                found,
                Err(FileErrorKind::UnsupportedVersion { major: 2, .. })
            ),
            "{found:?}"
        );
    }

    /// A creator initialising a ring while another thread validates it, as
    /// `open_or_create` may meet a ring created in place: every look finds
    /// the ring uninitialised, until it finds it whole. (Under miri, also
    /// that the two threads' accesses never race.)
    #[test]
    fn a_header_being_written_is_uninitialised_until_whole() {
        let (capacity, max_record_len) = params(CAPACITY as usize).unwrap();
        for _ in 0..if cfg!(miri) { 4 } else { 200 } {
            let region = Arc::new(HeapRegion::zeroed(LEN as usize).unwrap());
            let theirs = Arc::clone(&region);
            let creator = std::thread::spawn(move || {
                // SAFETY: the region is zeroed and holds the whole ring; the
                // test thread only reads it.
                unsafe {
                    crate::ring::initialise(
                        &*theirs,
                        layout::Mode::Mpsc,
                        capacity,
                        max_record_len,
                        0,
                        0,
                    )
                };
            });
            let found = loop {
                match check(&region) {
                    Err(FileErrorKind::Uninitialised) => std::hint::spin_loop(),
                    found => break found,
                }
            };
            creator.join().unwrap();
            assert_eq!(
                found.unwrap(),
                Layout::new(Mode::Mpsc, capacity, max_record_len, 0, 0)
            );
        }
    }
}
