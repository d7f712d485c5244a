//! Creating a ring file so that its path appears only once the ring in it is
//! initialised: a process that opens the path finds either nothing or a
//! whole ring, never a file still being written.
//!
//! The ring is made in an unnamed file in the target's directory
//! (`O_TMPFILE`) and linked into place; where the file system has no
//! unnamed files, in a uniquely named temporary file in the same directory,
//! linked into place and then unlinked; and only where it has no hard links
//! at all, in place (then an opener may find it empty or uninitialised for a
//! moment, which [`RingFile::open_or_create`](super::RingFile::open_or_create)
//! waits out). Linking never replaces anything: a link that finds the path
//! taken fails with "File exists", as `create` always has.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{FileError, Options};
use crate::region::FileRegion;
use crate::ring::layout::HEADER_LEN;
use crate::sync::{AtomicU64, Ordering};

/// A new, initialised ring file at `path`, open read-write, and its mapping.
/// `capacity` and `max_record_len` come from `params(options.capacity)`,
/// `dict_len` (a multiple of 4096, at most 1 GiB) and `retain` (from
/// `retain_for`, with `max_record_len` from `max_record_len_retaining`)
/// from the options.
pub(super) fn create(
    path: &Path,
    options: &Options,
    capacity: u64,
    max_record_len: u64,
    dict_len: u64,
    retain: u64,
) -> Result<(File, FileRegion), FileError> {
    let ring = Ring {
        path,
        options,
        capacity,
        max_record_len,
        dict_len,
        retain,
    };
    let from = first_way();
    if from <= Way::Unnamed {
        if let Some(made) = ring.unnamed() {
            return made;
        }
    }
    if from <= Way::Named {
        if let Some(made) = ring.named() {
            return made;
        }
    }
    ring.in_place()
}

/// The ways of making a ring file, best first.
#[cfg_attr(not(test), allow(dead_code))] // only the tests choose a way
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Way {
    /// An unnamed file, linked into place.
    Unnamed,
    /// A temporary file, linked into place and unlinked.
    Named,
    /// The file itself.
    InPlace,
}

#[cfg(test)]
thread_local! {
    /// The best way this thread's tests let `create` try (the file systems
    /// of the tests support them all).
    pub(super) static FIRST_WAY: std::cell::Cell<Way> = const { std::cell::Cell::new(Way::Unnamed) };
}

fn first_way() -> Way {
    #[cfg(test)]
    return FIRST_WAY.with(std::cell::Cell::get);
    #[cfg(not(test))]
    Way::Unnamed
}

/// What to make, and where.
struct Ring<'a> {
    path: &'a Path,
    options: &'a Options,
    capacity: u64,
    max_record_len: u64,
    dict_len: u64,
    retain: u64,
}

impl Ring<'_> {
    /// The directory the ring file goes in.
    fn directory(&self) -> &Path {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        }
    }

    /// Makes the ring in an unnamed file and links it to the path; `None`
    /// if the file system cannot (no `O_TMPFILE`, or no `/proc` to link it
    /// through).
    fn unnamed(&self) -> Option<Result<(File, FileRegion), FileError>> {
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_TMPFILE)
            .mode(self.options.permissions)
            .open(self.directory());
        let file = match opened {
            Ok(file) => file,
            // EISDIR: a kernel older than O_TMPFILE took it for O_DIRECTORY.
            Err(error)
                if matches!(
                    error.raw_os_error(),
                    Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
                ) =>
            {
                return None;
            }
            Err(error) => return Some(Err(FileError::io(self.path, "create")(error))),
        };
        // On any error from here the file goes with its last descriptor: it
        // has no name to leave behind.
        let region = match self.initialise(&file) {
            Ok(region) => region,
            Err(error) => return Some(Err(error)),
        };
        match link_descriptor(&file, self.path) {
            Ok(()) => Some(Ok((file, region))),
            Err(error) if links_unsupported(&error) => None,
            Err(error) => Some(Err(FileError::io(self.path, "create")(error))),
        }
    }

    /// Makes the ring in a temporary file of a unique name in the same
    /// directory, links it to the path and unlinks the temporary name,
    /// whatever happens; `None` if the file system has no hard links.
    fn named(&self) -> Option<Result<(File, FileRegion), FileError>> {
        let (temporary, file) = match self.temporary_file() {
            Ok(made) => made,
            Err(error) => return Some(Err(error)),
        };
        let made =
            self.initialise(&file)
                .and_then(|region| match fs::hard_link(&temporary, self.path) {
                    Ok(()) => Ok(Some(region)),
                    Err(error) if links_unsupported(&error) => Ok(None),
                    Err(error) => Err(FileError::io(self.path, "create")(error)),
                });
        let _ = fs::remove_file(&temporary);
        match made {
            Ok(Some(region)) => Some(Ok((file, region))),
            Ok(None) => None,
            Err(error) => Some(Err(error)),
        }
    }

    /// A new file next to the ring's path, named after it, this process and
    /// the time (so that processes of other PID namespaces sharing the
    /// directory do not collide either).
    fn temporary_file(&self) -> Result<(PathBuf, File), FileError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let mut tries = 0;
        loop {
            // Relaxed: a counter for unique names; nothing is ordered by it.
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.subsec_nanos());
            let temporary = self
                .directory()
                .join(format!(".{name}.{}-{n}-{nanos}.tmp", std::process::id()));
            let opened = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(self.options.permissions)
                .open(&temporary);
            match opened {
                Ok(file) => return Ok((temporary, file)),
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists && tries < 8 => {
                    tries += 1;
                }
                Err(error) => return Err(FileError::io(self.path, "create")(error)),
            }
        }
    }

    /// Makes the ring at its path directly (the file is visible, empty and
    /// then uninitialised, until its marker is stored); removes it on error.
    fn in_place(&self) -> Result<(File, FileRegion), FileError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(self.options.permissions)
            .open(self.path)
            .map_err(FileError::io(self.path, "create"))?;
        match self.initialise(&file) {
            Ok(region) => Ok((file, region)),
            Err(error) => {
                // Nobody attached to a file without its marker: take it away.
                let _ = fs::remove_file(self.path);
                Err(error)
            }
        }
    }

    /// Sets the permissions of `file` (new, and empty), allocates its space,
    /// maps it and initialises the ring in it.
    fn initialise(&self, file: &File) -> Result<FileRegion, FileError> {
        let path = self.path;
        let len = HEADER_LEN + self.capacity as usize + self.dict_len as usize;
        // The umask may have cleared bits the caller asked for.
        file.set_permissions(Permissions::from_mode(self.options.permissions))
            .map_err(FileError::io(path, "set the permissions of"))?;
        allocate(file, len as u64).map_err(FileError::io(path, "allocate space for"))?;
        let region = FileRegion::map(file, len).map_err(FileError::io(path, "map"))?;
        // SAFETY: the file is new (unnamed, or created with `create_new`),
        // its `len` bytes were just allocated and read as zero, and no
        // other process attaches before the initialised marker is stored
        // (`open` refuses a file without it).
        unsafe {
            crate::ring::initialise(
                &region,
                self.options.mode.layout(),
                self.capacity,
                self.max_record_len,
                self.dict_len,
                self.retain,
            );
        }
        Ok(region)
    }
}

/// Gives the file open as `file` the name `path` (failing if the path is
/// taken), through its `/proc/self/fd` entry: the way to name an unnamed
/// file without privileges.
fn link_descriptor(file: &File, path: &Path) -> io::Result<()> {
    let from =
        CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).expect("no NUL in a number");
    let to = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the path"))?;
    // SAFETY: both strings are valid, NUL-terminated and outlive the call,
    // which only reads them.
    let result = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether `error`, from making a hard link, means that this way of linking
/// is unavailable here (rather than that the path is taken, or the
/// directory not writable): no hard links on the file system, or no `/proc`.
fn links_unsupported(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EPERM | libc::EOPNOTSUPP | libc::ENOSYS | libc::ENOENT | libc::EXDEV)
    )
}

/// Allocates `len` bytes of `file` on its device, so that no later write
/// through the mapping finds the disk full.
fn allocate(file: &File, len: u64) -> io::Result<()> {
    // SAFETY: the descriptor is open while `file` is borrowed.
    // posix_fallocate falls back to writing zeros where the file system
    // cannot allocate directly.
    let error = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) };
    match error {
        0 => Ok(()),
        error => Err(io::Error::from_raw_os_error(error)),
    }
}
