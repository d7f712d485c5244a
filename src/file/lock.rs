//! Linux: liveness locks, as open file description (OFD) byte-range locks.
//!
//! An OFD lock belongs to one open file description (one `open` call), not
//! to a process: two ends of a ring in the same process, each with its own
//! description, exclude and see each other exactly as two processes do. The
//! kernel drops the lock when the description's last descriptor is closed,
//! which includes the death of the process that held it, however it died.
//!
//! The locked bytes are names, not data: a lock on byte `n` of the file says
//! "end `n` is alive" and covers nothing the ring reads or writes.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// A write lock on `[offset, offset + len)`, as `fcntl` takes it.
fn flock(offset: u64, len: u64) -> libc::flock {
    // SAFETY: `flock` is a plain C struct of integers; all-zero is a valid
    // value, and the fields that matter are set below.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = offset as libc::off_t;
    lock.l_len = len as libc::off_t;
    // `l_pid` must be 0 for OFD locks (zeroed above).
    lock
}

/// Takes the write lock on byte `offset` for `file`'s description, without
/// waiting: `Ok(false)` if another description holds a lock on it.
pub(crate) fn try_lock(file: &File, offset: u64) -> io::Result<bool> {
    let mut lock = flock(offset, 1);
    // SAFETY: the descriptor is open for as long as `file` is borrowed, and
    // `lock` is a valid `flock` the call may read and write.
    let result = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &mut lock) };
    if result == 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EAGAIN | libc::EACCES) => Ok(false),
        _ => Err(error),
    }
}

/// Lets go of `file`'s description's lock on byte `offset` (taken with
/// [`try_lock`]); its other locks stay.
pub(crate) fn unlock(file: &File, offset: u64) -> io::Result<()> {
    let mut lock = flock(offset, 1);
    lock.l_type = libc::F_UNLCK as libc::c_short;
    // SAFETY: as in `try_lock`.
    let result = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &mut lock) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether a description other than `file`'s holds a lock on any byte of
/// `[offset, offset + len)`. Probe with a description that holds no locks
/// itself, or its own locks go unseen. A read-only description will do:
/// asking about a write lock needs no write access, unlike taking one.
pub(crate) fn is_locked(file: &File, offset: u64, len: u64) -> io::Result<bool> {
    let mut lock = flock(offset, len);
    // SAFETY: as in `try_lock`; F_OFD_GETLK only rewrites `lock`.
    let result = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &mut lock) };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(lock.l_type != libc::F_UNLCK as libc::c_short)
}

/// A new open file description of the same file as `file` (so that its
/// locks are its own), read-write.
pub(crate) fn reopen(file: &File) -> io::Result<File> {
    // `/proc/self/fd/N` opens the very inode behind descriptor N, even if the
    // path the ring was opened by now names another file.
    File::options()
        .read(true)
        .write(true)
        .open(format!("/proc/self/fd/{}", file.as_raw_fd()))
}
