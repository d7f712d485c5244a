//! `RingFile`: a ring file attached to (Linux), and the ends it makes.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::liveness::{
    CONSUMER_LOCK, Liveness, PRODUCER_LOCKS, Slot, Watch, reservation_unfinished,
};
use super::validate::{Layout, check_header, checked_len, open_file};
use super::{FileError, FileErrorKind, Mode, Options, lock, publish};
use crate::channel::{self, Receiver, SpaceSignal};
use crate::queue::peers::Owner;
use crate::queue::{self, Consumer};
use crate::region::{FileRegion, Region};
use crate::ring::dict::Dictionary;
use crate::ring::layout::{Header, MAX_DICT_LEN, SLOTS, Word};
use crate::ring::{Ring, max_record_len_retaining, max_retain, params, retain_for};
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
    dict_len: u64,
    retain: u64,
    version: (u16, u16),
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
    /// [`FileErrorKind::DictionaryTooLarge`] for a dictionary above 1 GiB;
    /// [`FileErrorKind::RetainTooLarge`] for a retention above half the
    /// capacity;
    /// [`FileErrorKind::Io`] if the file cannot be created (it exists, the
    /// directory is not writable), its space cannot be allocated (the disk
    /// is full) or it cannot be mapped. Nothing is left behind on an error.
    pub fn create(path: impl AsRef<Path>, options: Options) -> Result<Self, FileError> {
        let path = path.as_ref();
        let (capacity, max_record_len) = params(options.capacity)
            .map_err(|error| FileError::new(path, FileErrorKind::Capacity(error)))?;
        let dict_len = options.resolved_dictionary_len(capacity).ok_or_else(|| {
            FileError::new(
                path,
                FileErrorKind::DictionaryTooLarge {
                    requested: options.dictionary_len.unwrap_or(0) as u64,
                    max: MAX_DICT_LEN,
                },
            )
        })?;
        let retain = retain_for(capacity, options.retain as u64).ok_or_else(|| {
            FileError::new(
                path,
                FileErrorKind::RetainTooLarge {
                    requested: options.retain as u64,
                    max: max_retain(capacity),
                },
            )
        })?;
        let max_record_len = max_record_len.min(max_record_len_retaining(capacity, retain));
        let (file, region) =
            publish::create(path, &options, capacity, max_record_len, dict_len, retain)?;
        let layout = Layout::new(options.mode, capacity, max_record_len, dict_len, retain);
        Self::attach(path, file, region, layout)
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
        // SAFETY: the mapping starts at `base`, holds `len >= HEADER_LEN`
        // bytes (`checked_len`) and lives until `region` is dropped.
        let layout = unsafe { check_header(region.base().cast(), len) }
            .map_err(|kind| FileError::new(path, kind))?;
        Self::attach(path, file, region, layout)
    }

    /// The handle of the ring in `region` (mapped from `file`), whose header
    /// says `layout` (checked or just written).
    fn attach(
        path: &Path,
        file: File,
        region: FileRegion,
        layout: Layout,
    ) -> Result<Self, FileError> {
        let region = Arc::new(region);
        let ring = Ring::view(
            Arc::clone(&region) as Arc<dyn Region>,
            layout.mode.layout(),
            layout.capacity,
            layout.max_record_len,
            layout.dict_len,
        );
        Ok(Self {
            ring,
            region,
            liveness: Arc::new(Liveness::new(file, path.to_path_buf())),
            mode: layout.mode,
            capacity: layout.capacity,
            max_record_len: layout.max_record_len,
            dict_len: layout.dict_len,
            retain: layout.retain,
            version: layout.version,
        })
    }

    /// The ring's header.
    fn header(&self) -> &Header {
        self.ring.header()
    }

    /// The ring, for the crate's front-ends (the event encoders reach its
    /// dictionary through it).
    #[allow(dead_code)] // used by the event front-ends
    pub(crate) fn ring(&self) -> &Ring {
        &self.ring
    }

    /// The ring's callsite dictionary.
    pub(crate) fn dictionary(&self) -> Dictionary<'_> {
        self.ring.dictionary()
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
        let mut consumer = Consumer::attach(self.ring.share(), Some(Box::new(watch)), self.retain);
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
