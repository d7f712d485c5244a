//! `RingObserver`: looking at a ring file with read permission only.

use std::path::Path;
use std::sync::Arc;

use super::liveness::Liveness;
use super::validate::{Layout, check_header, checked_len, open_file};
use super::{FileError, Mode};
use crate::region::ReadOnlyFileRegion;
use crate::ring::dict::Dictionary;
use crate::ring::layout::{HEADER_LEN, Header};

/// A ring file looked at, not attached to: its positions, counters and who
/// is attached, for monitors such as `logring stat`.
///
/// [`open`](Self::open) opens the file read-only and maps it read-only, so
/// read permission is enough (a ring of mode 0444, or a 0640 ring seen by a
/// member of its group), and nothing done through an observer can change
/// the ring: it has no ends, and its pages are not writable. Who is attached
/// comes from the same kernel locks the ends hold, asked about through the
/// read-only descriptor.
///
/// The header is checked as [`RingFile::open`](super::RingFile::open)
/// checks it. The file's length is checked when it is opened and by
/// [`check_len`](Self::check_len); a monitor that keeps an observer for long
/// should call it before each look, since a truncated file would fault
/// (see the [module docs](super#files)).
///
/// ```no_run
/// use logring::file::RingObserver;
///
/// let ring = RingObserver::open("/dev/shm/app.ring")?;
/// println!(
///     "{} of {} bytes used, consumer {:?}, {} producers",
///     ring.len_bytes(),
///     ring.capacity(),
///     ring.consumer_pid(),
///     ring.producer_count()
/// );
/// # Ok::<(), logring::file::FileError>(())
/// ```
pub struct RingObserver {
    region: Arc<ReadOnlyFileRegion>,
    liveness: Liveness,
    mode: Mode,
    capacity: u64,
    max_record_len: u64,
    dict_len: u64,
    retain: u64,
    version: (u16, u16),
}

impl RingObserver {
    /// Opens the existing ring file at `path` read-only, after checking its
    /// header. Needs read permission only; never modifies the file.
    ///
    /// # Errors
    ///
    /// As [`RingFile::open`](super::RingFile::open), except that a file
    /// nobody may write is no error: [`Io`](super::FileErrorKind::Io)
    /// (missing, permission denied), [`NotAFile`](super::FileErrorKind::NotAFile),
    /// [`Empty`](super::FileErrorKind::Empty),
    /// [`TooShort`](super::FileErrorKind::TooShort),
    /// [`BadMagic`](super::FileErrorKind::BadMagic),
    /// [`UnsupportedVersion`](super::FileErrorKind::UnsupportedVersion),
    /// [`Uninitialised`](super::FileErrorKind::Uninitialised),
    /// [`BadLayout`](super::FileErrorKind::BadLayout),
    /// [`LengthMismatch`](super::FileErrorKind::LengthMismatch) or
    /// [`BadPositions`](super::FileErrorKind::BadPositions).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, FileError> {
        let path = path.as_ref();
        let file = open_file(path, false)?;
        let len = checked_len(path, &file, false)?;
        let region =
            ReadOnlyFileRegion::map(&file, len as usize).map_err(FileError::io(path, "map"))?;
        // SAFETY: the mapping starts at `base`, holds `len >= HEADER_LEN`
        // bytes (`checked_len`) and lives until `region` is dropped.
        let layout = unsafe { check_header(region.base().cast(), len) }
            .map_err(|kind| FileError::new(path, kind))?;
        Ok(Self {
            region: Arc::new(region),
            // The kernel answers lock questions on a read-only descriptor too.
            liveness: Liveness::new(file, path.to_path_buf()),
            mode: layout.mode,
            capacity: layout.capacity,
            max_record_len: layout.max_record_len,
            dict_len: layout.dict_len,
            retain: layout.retain,
            version: layout.version,
        })
    }

    /// The ring's header, in the read-only mapping (checked in `open`).
    fn header(&self) -> &Header {
        self.region.header()
    }

    /// The ring's callsite dictionary, read-only: lookups make Relaxed
    /// loads and fences only, as the read-only mapping allows, and
    /// registering always fails.
    pub(crate) fn dictionary(&self) -> Dictionary<'_> {
        read_only_dictionary(&self.region, self.capacity, self.dict_len)
    }

    /// The parts a spy is made of: the mapping, the liveness probe, and the
    /// layout as validated.
    pub(super) fn into_parts(self) -> (Arc<ReadOnlyFileRegion>, Liveness, Layout) {
        let layout = Layout {
            mode: self.mode,
            capacity: self.capacity,
            max_record_len: self.max_record_len,
            dict_len: self.dict_len,
            retain: self.retain,
            version: self.version,
        };
        (self.region, self.liveness, layout)
    }

    super::header_observers!();
}

/// The callsite dictionary of the ring file mapped read-only in `region`,
/// whose header was validated with this capacity and dictionary length.
pub(crate) fn read_only_dictionary(
    region: &ReadOnlyFileRegion,
    capacity: u64,
    dict_len: u64,
) -> Dictionary<'_> {
    // SAFETY: the dictionary is the mapping's last `dict_len` bytes
    // (`check_header` checked the file's length, which is the mapping's, to
    // be HEADER_LEN + capacity + dict_len), 8-aligned (the mapping is
    // page-aligned, HEADER_LEN and the capacity multiples of 64), readable
    // while `region` is borrowed; `false`: nothing is stored through it.
    unsafe {
        Dictionary::from_raw(
            region.base().add(HEADER_LEN + capacity as usize),
            dict_len,
            false,
        )
    }
}

impl std::fmt::Debug for RingObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingObserver")
            .field("path", &self.path())
            .field("mode", &self.mode)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}
