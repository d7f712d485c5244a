//! What can go wrong with a ring file: always with the file's path.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::Mode;
use crate::error::Error;

/// Creating, opening or attaching to a ring file failed. Its `Display` names
/// the file and says what was wrong with it.
#[derive(Debug)]
pub struct FileError {
    path: PathBuf,
    kind: FileErrorKind,
}

/// What was wrong with a ring file (see [`FileError::kind`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum FileErrorKind {
    /// A system call failed: `action` says which step (for example
    /// "open", "allocate space for", "map"), `source` why.
    Io {
        /// The step that failed.
        action: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// The capacity asked of [`RingFile::create`](super::RingFile::create) is
    /// not one a ring can have.
    Capacity(Error),
    /// The path names something other than a regular file.
    NotAFile,
    /// The file's permissions let nobody write it (`mode` holds its
    /// permission bits); every end of a ring writes to it.
    ReadOnly {
        /// The file's permission bits.
        mode: u32,
    },
    /// The file is empty.
    Empty,
    /// The file is shorter than a ring's header.
    TooShort {
        /// The file's length in bytes.
        len: u64,
        /// The length of a ring header.
        min: u64,
    },
    /// The file does not start with the ring magic: not a logring file.
    BadMagic {
        /// The first eight bytes found.
        found: [u8; 8],
    },
    /// The file's format has a major version this build does not read.
    UnsupportedVersion {
        /// Major version found.
        major: u16,
        /// Minor version found.
        minor: u16,
        /// The major version this build reads.
        supported: u16,
    },
    /// The header was never completed (its creator is still writing it, or
    /// died doing so): the ring cannot be attached.
    Uninitialised,
    /// A layout parameter in the header is impossible.
    BadLayout {
        /// Which parameter, and what is wrong with it.
        reason: &'static str,
    },
    /// The file's length does not match the capacity and dictionary length
    /// in its header (it was truncated or extended by another program).
    LengthMismatch {
        /// Header plus capacity plus dictionary, in bytes.
        expected: u64,
        /// The file's length.
        actual: u64,
    },
    /// The shared positions in the header are impossible (misaligned, or
    /// further apart than the capacity).
    BadPositions {
        /// The consumer's position.
        head: u64,
        /// The producers' position.
        tail: u64,
        /// The end of what the consumer consumed.
        consumed: u64,
    },
    /// An end of one producer mode was asked of a ring of the other.
    WrongMode {
        /// The ring's mode.
        ring: Mode,
        /// The mode of the end asked for.
        asked: Mode,
    },
    /// Another consumer (in this process or another) holds the ring: a ring
    /// has one consumer at a time.
    ConsumerAttached {
        /// Its process id, if it named itself (see
        /// [`RingFile::consumer_pid`](super::RingFile::consumer_pid)).
        pid: Option<u32>,
    },
    /// Another producer holds this SPSC ring: it has one producer at a time.
    ProducerAttached,
    /// Every producer slot of this MPSC ring is held by a live producer.
    NoFreeSlot {
        /// The number of slots.
        slots: usize,
    },
    /// [`RingFile::open_or_create`](super::RingFile::open_or_create) found
    /// a ring of another mode or capacity than its options ask for.
    OptionsMismatch {
        /// The existing ring's mode.
        mode: Mode,
        /// The existing ring's capacity in bytes.
        capacity: u64,
        /// The mode asked for.
        asked_mode: Mode,
        /// The capacity asked for, rounded up as `create` rounds it.
        asked_capacity: u64,
    },
    /// The dictionary asked of
    /// [`Options::dictionary_len`](super::Options::dictionary_len) is larger
    /// than a ring's dictionary may be.
    DictionaryTooLarge {
        /// The length asked for, in bytes.
        requested: u64,
        /// The largest dictionary, in bytes (1 GiB).
        max: u64,
    },
    /// The retention asked of [`Options::retain`](super::Options::retain)
    /// is more than half the capacity.
    RetainTooLarge {
        /// The retention asked for, in bytes.
        requested: u64,
        /// The largest retention of a ring of this capacity, in bytes.
        max: u64,
    },
    /// Ring files are not supported on this operating system.
    Unsupported,
}

impl FileError {
    pub(crate) fn new(path: &Path, kind: FileErrorKind) -> Self {
        Self {
            path: path.to_path_buf(),
            kind,
        }
    }

    /// A failed system call, for `action` on the file at `path`.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn io(path: &Path, action: &'static str) -> impl FnOnce(io::Error) -> Self {
        move |source| Self::new(path, FileErrorKind::Io { action, source })
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What was wrong.
    pub fn kind(&self) -> &FileErrorKind {
        &self.kind
    }

    /// What was wrong, taken out of the error.
    pub fn into_kind(self) -> FileErrorKind {
        self.kind
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.kind {
            FileErrorKind::Io { action, source } => {
                write!(f, "could not {action} ring file {path}: {source}")
            }
            FileErrorKind::Capacity(error) => write!(f, "ring file {path}: {error}"),
            FileErrorKind::NotAFile => write!(f, "ring file {path}: not a regular file"),
            FileErrorKind::ReadOnly { mode } => write!(
                f,
                "ring file {path}: read-only (mode {mode:04o}); every end of a ring writes to it"
            ),
            FileErrorKind::Empty => write!(f, "ring file {path}: the file is empty"),
            FileErrorKind::TooShort { len, min } => write!(
                f,
                "ring file {path}: {len} bytes is shorter than a ring header ({min} bytes)"
            ),
            FileErrorKind::BadMagic { found } => write!(
                f,
                "ring file {path}: not a logring file (starts with {})",
                found.escape_ascii()
            ),
            FileErrorKind::UnsupportedVersion {
                major,
                minor,
                supported,
            } => write!(
                f,
                "ring file {path}: ring format {major}.{minor}, this logring reads \
                 {supported}.x"
            ),
            FileErrorKind::Uninitialised => write!(
                f,
                "ring file {path}: the header was never completed (its creator is still \
                 writing it, or died doing so)"
            ),
            FileErrorKind::BadLayout { reason } => {
                write!(f, "ring file {path}: corrupt header: {reason}")
            }
            FileErrorKind::LengthMismatch { expected, actual } => write!(
                f,
                "ring file {path}: {actual} bytes long, but its header says {expected} \
                 (truncated or extended by another program?)"
            ),
            FileErrorKind::BadPositions {
                head,
                tail,
                consumed,
            } => write!(
                f,
                "ring file {path}: corrupt header: impossible positions (head {head}, \
                 tail {tail}, consumed {consumed})"
            ),
            FileErrorKind::WrongMode { ring, asked } => write!(
                f,
                "ring file {path}: an {asked} end was asked of an {ring} ring"
            ),
            FileErrorKind::ConsumerAttached { pid: Some(pid) } => write!(
                f,
                "ring file {path}: another consumer (pid {pid}) holds this ring (one \
                 consumer at a time)"
            ),
            FileErrorKind::ConsumerAttached { pid: None } => write!(
                f,
                "ring file {path}: another consumer holds this ring (one consumer at a time)"
            ),
            FileErrorKind::ProducerAttached => write!(
                f,
                "ring file {path}: another producer is attached to this SPSC ring"
            ),
            FileErrorKind::NoFreeSlot { slots } => write!(
                f,
                "ring file {path}: all {slots} producer slots are held by live producers"
            ),
            FileErrorKind::OptionsMismatch {
                mode,
                capacity,
                asked_mode,
                asked_capacity,
            } => write!(
                f,
                "ring file {path}: the ring is {mode} with capacity {capacity} bytes; asked \
                 for {asked_mode} with capacity {asked_capacity} bytes"
            ),
            FileErrorKind::DictionaryTooLarge { requested, max } => write!(
                f,
                "ring file {path}: a dictionary of {requested} bytes is larger than the \
                 maximum of {max} bytes"
            ),
            FileErrorKind::RetainTooLarge { requested, max } => write!(
                f,
                "ring file {path}: a retention of {requested} bytes is more than half the \
                 capacity ({max} bytes)"
            ),
            FileErrorKind::Unsupported => write!(
                f,
                "ring file {path}: ring files are not supported on this operating system"
            ),
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            FileErrorKind::Io { source, .. } => Some(source),
            FileErrorKind::Capacity(error) => Some(error),
            _ => None,
        }
    }
}
