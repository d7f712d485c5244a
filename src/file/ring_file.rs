//! `RingFile`: creating, checking and attaching to a ring file (Linux).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::liveness::{
    CONSUMER_LOCK, Liveness, PRODUCER_LOCKS, Slot, Watch, reservation_unfinished,
};
use super::{FileError, FileErrorKind, Mode, Options, lock, publish};
use crate::channel::{self, Receiver, SpaceSignal};
use crate::queue::peers::Owner;
use crate::queue::{self, Consumer};
use crate::region::{FileRegion, Region};
use crate::ring::layout::{
    self, HEADER_LEN, Header, INIT_MARK, LayoutFields, MAGIC, MAX_CAPACITY, MIN_CAPACITY, SLOTS,
    VERSION_MAJOR, WORD, Word,
};
use crate::ring::{Ring, params};
use crate::sync::Ordering;
use crate::wait::Barrier;

/// A ring in a memory-mapped file, attached to by [`create`](Self::create)
/// or [`open`](Self::open); its ends come from the methods below. See the
/// [module docs](super) for what is shared and who is alive.
///
/// The ends keep the mapping alive: a `RingFile` may be dropped while they
/// are in use.
pub struct RingFile {
    pub(super) ring: Ring,
    region: Arc<FileRegion>,
    liveness: Arc<Liveness>,
    mode: Mode,
    capacity: u64,
    max_record_len: u64,
}

impl RingFile {
    /// Creates a new ring file at `path` (failing if anything exists there)
    /// and attaches to it.
    ///
    /// The path appears only once the ring is complete: the ring is made in
    /// an unnamed file in the same directory and linked into place (see the
    /// [module docs](super#files)), so a process opening the path meanwhile
    /// finds nothing there, never a half-made ring. To start processes
    /// that may each be the first, use [`open_or_create`](Self::open_or_create).
    ///
    /// # Errors
    ///
    /// [`FileErrorKind::Capacity`] for a capacity no ring can have;
    /// [`FileErrorKind::Io`] if the file cannot be created (it exists, the
    /// directory is not writable), its space cannot be allocated (the disk
    /// is full) or it cannot be mapped. Nothing is left behind on an error.
    pub fn create(path: impl AsRef<Path>, options: Options) -> Result<Self, FileError> {
        let path = path.as_ref();
        let (capacity, max_record_len) = params(options.capacity)
            .map_err(|error| FileError::new(path, FileErrorKind::Capacity(error)))?;
        let (file, region) = publish::create(path, &options, capacity, max_record_len)?;
        Self::attach(path, file, region, options.mode, capacity, max_record_len)
    }

    /// Opens the ring file at `path`, or creates it with `options` if there
    /// is none, and attaches to it: the start-up of a process that may be
    /// the first of several. Any number of processes (and threads) may call
    /// it at once on one path: one creates the ring, and all of them get
    /// that ring.
    ///
    /// An existing ring must be of the mode and capacity `options` ask for
    /// (the capacity rounded up as [`create`](Self::create) rounds it), or
    /// the call fails with [`FileErrorKind::OptionsMismatch`]; its
    /// permissions are left as they are (`options`' permissions apply only
    /// to a file this call creates).
    ///
    /// A file that is empty, shorter than a header or uninitialised may be
    /// a ring still being written in place (on a file system without hard
    /// links, or by an older release of this crate): such a file is opened
    /// again for up to a second before its error is returned.
    ///
    /// # Errors
    ///
    /// [`FileErrorKind::Capacity`] for a capacity no ring can have;
    /// [`FileErrorKind::OptionsMismatch`] for an existing ring of another
    /// mode or capacity; any error of [`open`](Self::open) about an
    /// existing file (permission denied, a corrupt header, ...) and of
    /// [`create`](Self::create) about a new one (the directory is not
    /// writable, the disk is full), as they are.
    pub fn open_or_create(path: impl AsRef<Path>, options: Options) -> Result<Self, FileError> {
        let path = path.as_ref();
        let (capacity, _) = params(options.capacity)
            .map_err(|error| FileError::new(path, FileErrorKind::Capacity(error)))?;
        let deadline = Instant::now() + START_UP_PATIENCE;
        let mut lost = 0;
        loop {
            let error = match Self::open(path) {
                Ok(ring) => return ring.matching(options.mode, capacity),
                Err(error) => error,
            };
            match error.kind() {
                FileErrorKind::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                    match Self::create(path, options) {
                        Ok(ring) => return Ok(ring),
                        // Another process created it first: open theirs. A
                        // path that `open` cannot follow but `create` finds
                        // taken (a dangling symbolic link) would repeat
                        // this for ever: a few times is plenty for a race.
                        Err(taken) if is_already_there(&taken) => {
                            lost += 1;
                            if lost >= LOST_RACES {
                                return Err(taken);
                            }
                            if lost > 1 {
                                std::thread::sleep(Duration::from_millis(1));
                            }
                        }
                        Err(error) => return Err(error),
                    }
                }
                FileErrorKind::Empty
                | FileErrorKind::TooShort { .. }
                | FileErrorKind::Uninitialised => {
                    // Perhaps being created in place: look again shortly.
                    if Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                _ => return Err(error),
            }
            if Instant::now() >= deadline {
                return Err(error);
            }
        }
    }

    /// `self` if it has the mode and (rounded) capacity asked for.
    fn matching(self, mode: Mode, capacity: u64) -> Result<Self, FileError> {
        if self.mode == mode && self.capacity == capacity {
            return Ok(self);
        }
        Err(FileError::new(
            self.path(),
            FileErrorKind::OptionsMismatch {
                mode: self.mode,
                capacity: self.capacity,
                asked_mode: mode,
                asked_capacity: capacity,
            },
        ))
    }

    /// Opens the existing ring file at `path`, after checking its header.
    /// Never modifies what it finds.
    ///
    /// Attaching ends writes to the file, so the file must be open for
    /// writing; to look at a ring with read permission only, use
    /// [`RingObserver::open`](super::RingObserver::open).
    ///
    /// # Errors
    ///
    /// A [`FileError`] naming the file, whose kind says what was wrong:
    /// [`Io`](FileErrorKind::Io) (missing, permission denied),
    /// [`NotAFile`](FileErrorKind::NotAFile),
    /// [`ReadOnly`](FileErrorKind::ReadOnly), [`Empty`](FileErrorKind::Empty),
    /// [`TooShort`](FileErrorKind::TooShort),
    /// [`BadMagic`](FileErrorKind::BadMagic),
    /// [`UnsupportedVersion`](FileErrorKind::UnsupportedVersion),
    /// [`Uninitialised`](FileErrorKind::Uninitialised),
    /// [`BadLayout`](FileErrorKind::BadLayout),
    /// [`LengthMismatch`](FileErrorKind::LengthMismatch) or
    /// [`BadPositions`](FileErrorKind::BadPositions).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, FileError> {
        let path = path.as_ref();
        let file = open_file(path, true)?;
        let len = checked_len(path, &file, true)?;
        let region = FileRegion::map(&file, len as usize).map_err(FileError::io(path, "map"))?;
        let (mode, capacity, max_record_len) =
            check_header(region.header(), len).map_err(|kind| FileError::new(path, kind))?;
        Self::attach(path, file, region, mode, capacity, max_record_len)
    }

    fn attach(
        path: &Path,
        file: File,
        region: FileRegion,
        mode: Mode,
        capacity: u64,
        max_record_len: u64,
    ) -> Result<Self, FileError> {
        let region = Arc::new(region);
        let ring = Ring::view(
            Arc::clone(&region) as Arc<dyn Region>,
            ring_mode(mode),
            capacity,
            max_record_len,
        );
        Ok(Self {
            ring,
            region,
            liveness: Arc::new(Liveness::new(file, path.to_path_buf())),
            mode,
            capacity,
            max_record_len,
        })
    }

    /// The ring's header.
    fn header(&self) -> &Header {
        self.ring.header()
    }

    super::header_observers!();

    /// Writes the ring's memory back to the file and waits for the device
    /// (`msync`): every record committed before the call is on disk when it
    /// returns. Unneeded on `/dev/shm`, where there is no disk.
    ///
    /// # Errors
    ///
    /// [`FileErrorKind::Io`] if the system call fails.
    pub fn flush(&self) -> Result<(), FileError> {
        self.region
            .flush()
            .map_err(FileError::io(self.path(), "flush"))
    }

    /// Attaches the ring's SPSC producer.
    ///
    /// # Errors
    ///
    /// [`FileErrorKind::WrongMode`] on an MPSC ring;
    /// [`FileErrorKind::ProducerAttached`] if a producer is attached.
    pub fn spsc_producer(&self) -> Result<queue::spsc::Producer, FileError> {
        let owner = self.attach_producer(Mode::Spsc)?;
        Ok(queue::spsc::Producer::new(self.ring.share(), owner))
    }

    /// Attaches a new MPSC producer, in a slot of its own (clone it to share
    /// the slot between threads).
    ///
    /// # Errors
    ///
    /// [`FileErrorKind::WrongMode`] on an SPSC ring;
    /// [`FileErrorKind::NoFreeSlot`] if every slot is held.
    pub fn mpsc_producer(&self) -> Result<queue::mpsc::Producer, FileError> {
        let owner = self.attach_producer(Mode::Mpsc)?;
        Ok(queue::mpsc::Producer::new(self.ring.share(), owner))
    }

    /// Attaches the ring's consumer, resuming after the last record the
    /// previous consumer finished with (see the [module docs](super)).
    ///
    /// # Errors
    ///
    /// [`FileErrorKind::ConsumerAttached`] if a consumer is attached.
    pub fn consumer(&self) -> Result<Consumer, FileError> {
        let watch = self.attach_consumer()?;
        let mut consumer = Consumer::attach(self.ring.share(), Some(Box::new(watch)));
        // Senders of any process may wait for space (async ones do).
        consumer.set_release_hook(Box::new(SpaceSignal {
            barrier: Barrier::for_ring(self.ring.header()),
            tasks: None,
        }));
        Ok(consumer)
    }

    /// Attaches the ring's SPSC producer as a channel sender.
    ///
    /// # Errors
    ///
    /// As [`spsc_producer`](Self::spsc_producer).
    pub fn spsc_sender(&self) -> Result<channel::spsc::Sender, FileError> {
        let producer = self.spsc_producer()?;
        Ok(channel::spsc::Sender::attach(producer, self.link()))
    }

    /// Attaches a new MPSC producer as a channel sender.
    ///
    /// # Errors
    ///
    /// As [`mpsc_producer`](Self::mpsc_producer).
    pub fn mpsc_sender(&self) -> Result<channel::mpsc::Sender, FileError> {
        let producer = self.mpsc_producer()?;
        Ok(channel::mpsc::Sender::attach(producer, self.link()))
    }

    /// Attaches the ring's consumer as a channel receiver.
    ///
    /// # Errors
    ///
    /// As [`consumer`](Self::consumer).
    pub fn receiver(&self) -> Result<Receiver, FileError> {
        let consumer = self.consumer()?;
        Ok(Receiver::attach(consumer, self.link()))
    }

    fn link(&self) -> channel::Link {
        channel::Link::file(self.ring.share(), Arc::clone(&self.liveness))
    }

    /// A new open file description of the ring's file, for an end's lock.
    fn lock_file(&self) -> Result<File, FileError> {
        lock::reopen(self.liveness.probe()).map_err(FileError::io(self.path(), "reopen"))
    }

    fn attach_consumer(&self) -> Result<Watch, FileError> {
        let file = self.lock_file()?;
        let locked =
            lock::try_lock(&file, CONSUMER_LOCK).map_err(FileError::io(self.path(), "lock"))?;
        if !locked {
            let pid = self.consumer_pid();
            return Err(FileError::new(
                self.path(),
                FileErrorKind::ConsumerAttached { pid },
            ));
        }
        Ok(Watch::new(
            Arc::clone(&self.liveness),
            file,
            self.ring.share(),
        ))
    }

    /// Takes a producer slot (SPSC: slot 0 only) and returns the producer's
    /// name for its claims.
    pub(super) fn attach_producer(&self, asked: Mode) -> Result<Owner, FileError> {
        if asked != self.mode {
            return Err(FileError::new(
                self.path(),
                FileErrorKind::WrongMode {
                    ring: self.mode,
                    asked,
                },
            ));
        }
        let slots = match self.mode {
            Mode::Spsc => 1,
            Mode::Mpsc => SLOTS,
        };
        let file = self.lock_file()?;
        for slot in 0..slots {
            let locked = lock::try_lock(&file, PRODUCER_LOCKS + slot as u64)
                .map_err(FileError::io(self.path(), "lock"))?;
            if !locked {
                continue;
            }
            if self.mode == Mode::Mpsc && reservation_unfinished(&self.ring, slot) {
                // Its dead producer's gap may still be ahead of the
                // consumer: leave the entry that explains it alone.
                lock::unlock(&file, PRODUCER_LOCKS + slot as u64)
                    .map_err(FileError::io(self.path(), "unlock"))?;
                continue;
            }
            // AcqRel: the consumer's Acquire load of the generation sees this
            // before any claim of ours; and we see the previous holder's.
            let generation = self.ring.header().generations.0[slot]
                .fetch_add(1, Ordering::AcqRel)
                .wrapping_add(1);
            let owner = Word::owner(slot, generation);
            let keep = Arc::new(Slot::new(file, self.ring.share()));
            return Ok(Owner::new(owner, keep));
        }
        Err(FileError::new(
            self.path(),
            match self.mode {
                Mode::Spsc => FileErrorKind::ProducerAttached,
                Mode::Mpsc => FileErrorKind::NoFreeSlot { slots },
            },
        ))
    }
}

impl std::fmt::Debug for RingFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingFile")
            .field("path", &self.path())
            .field("mode", &self.mode)
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

/// How long [`RingFile::open_or_create`] waits for a ring being created in
/// place to be completed.
const START_UP_PATIENCE: Duration = Duration::from_secs(1);

/// How many times [`RingFile::open_or_create`] finds the path missing and
/// then taken before it reports the path as taken.
const LOST_RACES: u32 = 10;

/// Whether `error` is `create`'s "something is at the path already".
fn is_already_there(error: &FileError) -> bool {
    matches!(error.kind(), FileErrorKind::Io { action: "create", source }
        if source.kind() == io::ErrorKind::AlreadyExists)
}

pub(super) fn ring_mode(mode: Mode) -> layout::Mode {
    match mode {
        Mode::Spsc => layout::Mode::Spsc,
        Mode::Mpsc => layout::Mode::Mpsc,
    }
}

/// Allocates `len` bytes of `file` on its device, so that no later write
/// through the mapping finds the disk full.
pub(super) fn allocate(file: &File, len: u64) -> io::Result<()> {
    // SAFETY: the descriptor is open while `file` is borrowed.
    // posix_fallocate falls back to writing zeros where the file system
    // cannot allocate directly.
    let error = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) };
    match error {
        0 => Ok(()),
        error => Err(io::Error::from_raw_os_error(error)),
    }
}

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
