//! Ring files: a ring in a memory-mapped file, shared between processes.
//!
//! A trading process logs into a ring on `/dev/shm` (or on disk); a tailer
//! in another process reads it. The ends are the crate's usual queue and
//! channel ends, running the same code as on a heap ring: only the memory
//! differs.
//!
//! ```no_run
//! use logring::channel::RecvError;
//! use logring::file::{Mode, Options, RingFile};
//!
//! // Each logging process: the first to start creates the ring, the others
//! // (at the same moment, or later runs) attach to the same one.
//! let ring = RingFile::open_or_create("/dev/shm/app.ring", Options::new(1 << 20).mode(Mode::Mpsc))?;
//! let tx = ring.mpsc_sender()?;
//! tx.send(b"order 42 filled")?;
//!
//! // The tailer, in another process.
//! let ring = RingFile::open("/dev/shm/app.ring")?;
//! let mut rx = ring.receiver()?;
//! loop {
//!     match rx.recv() {
//!         Ok(record) => println!("{}", String::from_utf8_lossy(&record)),
//!         // No producer is attached and everything was received.
//!         Err(RecvError::Disconnected) => break,
//!         // A corrupt ring: the error names the position; nothing past it
//!         // can be received.
//!         Err(error) => return Err(error.into()),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Files
//!
//! [`RingFile::create`] makes a new file (never replacing one) with mode
//! 0600 unless [`Options::permissions`] says otherwise, allocates all of its
//! space up front (no sparse file that could fail with `SIGBUS` later when
//! the disk fills), writes the header and marks it initialised last. It
//! does all that in an unnamed file in the target's directory (`O_TMPFILE`)
//! and then links the file into place, so the path appears only once the
//! ring is whole; where the file system has no unnamed files it uses a
//! uniquely named temporary file in the same directory (linked, then
//! unlinked, on success and on error alike), and only where it has no hard
//! links at all does it write the file in place. [`RingFile::open`] checks
//! the header (magic, format version, layout, length, the initialised
//! marker and the shared positions) and never re-initialises what it finds:
//! every problem is a [`FileError`] that names the file and says what was
//! wrong.
//!
//! Processes that start together must all succeed: opening or creating is
//! one race-free operation, [`RingFile::open_or_create`]. Any number of
//! processes may call it on one path at once; one creates the ring and all
//! attach to it. A ring of another mode or capacity than asked is
//! [`FileErrorKind::OptionsMismatch`]; every other error (permission
//! denied, a corrupt header) comes through as it is. (`create`, then `open`
//! on any error, is not the same: it hides those errors.)
//!
//! Every ring file (format 1.1) ends with a callsite dictionary after its
//! data area: an append-only table where the log front-ends write once what
//! never changes per callsite, so that any process reading the ring, at any
//! time, can decode the events that refer to it. The file is 4096 bytes of
//! header, then the capacity, then the dictionary;
//! [`Options::dictionary_len`] sizes it. A ring of format 1.0 has none,
//! and still opens.
//!
//! Looking is not touching: [`RingObserver::open`] opens a ring file and
//! maps it read-only, so it needs read permission only, and offers the
//! positions, counters and who is attached, as `logring stat` shows them.
//! [`RingFile::open`] needs write permission, since its ends write.
//!
//! Looking at the records is not taking them either: a [`RingSpy`] reads
//! the committed records of a ring, read-only, while its consumer goes on
//! taking all of them. Any number of spies may read one ring; one that
//! falls behind the consumer is told how many bytes it lost
//! ([`Spied::Lapped`]) and never returns a record that changed while it
//! read it.
//!
//! ## A truncated file
//!
//! No end ever changes the file's length. If another program truncates a
//! ring file (`truncate -s 0`, a careless `> file`), every process that has
//! it mapped gets `SIGBUS` when it next touches a page that was cut off: a
//! receiver asleep in `recv` as it wakes, a producer as it sends. That is
//! how the kernel reports an access to a lost page of any shared mapping,
//! and the signal kills the process unless it is handled. This crate
//! installs no signal handler, since a handler is process-wide and belongs
//! to the application. So:
//!
//! - never truncate, or otherwise resize, a ring file that is in use;
//!   remove it (`rm`) instead: processes that have it mapped keep the old
//!   file until they let go;
//! - a file whose length disagrees with its header is
//!   [`FileErrorKind::LengthMismatch`] for `open`, `open_or_create` and
//!   [`RingObserver::open`];
//! - [`RingFile::check_len`] and [`RingObserver::check_len`] compare the
//!   file's current length with the ring's, for a program that keeps a ring
//!   open and may meet one resized under it; `logring stat --watch` checks
//!   before every refresh and stops with that error. A check cannot close
//!   the window between itself and the next access.
//!
//! # Ends, and who is alive
//!
//! A ring has one consumer ([`consumer`](RingFile::consumer) or
//! [`receiver`](RingFile::receiver)) at a time, in any process; a second one
//! is [`FileErrorKind::ConsumerAttached`], which names the holder's process
//! (so does [`RingFile::consumer_pid`]). An SPSC ring has one producer at a
//! time; an MPSC ring has up to 128 producers, in any processes, each
//! holding a *slot* (clones of one producer share its slot).
//!
//! Each attached end holds an operating-system lock on the file (an open
//! file description lock, which the kernel drops when the process dies,
//! however it dies). Liveness comes from those locks, never from counters a
//! crashed process would leave behind. Neither side's absence is permanent:
//!
//! - A sender keeps sending while there is space, whether or not a consumer
//!   is attached; the records wait for the next consumer. `send` never
//!   returns `Disconnected` on a ring file, and
//!   [`Sender::is_disconnected`](crate::channel::spsc::Sender::is_disconnected)
//!   tells whether a consumer is attached right now.
//! - A receiver returns `Disconnected` once no producer is attached and it
//!   has received everything committed, so that a draining tool stops. A
//!   receiver set to [`follow`](crate::channel::Receiver::set_follow) never
//!   does: it waits for producers to (re)appear, as `tail -f` does. Either
//!   way, a record word no producer writes (a foreign writer, a damaged
//!   file) stops the receiver there with `Corrupt`, naming the position,
//!   after the records before it; see
//!   [`RecvError::Corrupt`](crate::channel::RecvError::Corrupt).
//! - A consumer that attaches resumes after the last record its predecessor
//!   finished with (a [`ReadClaim`](crate::queue::ReadClaim) dropped, or a
//!   [`try_recv_batch`](crate::queue::Consumer::try_recv_batch) callback returned),
//!   even if the predecessor died before publishing that release: the record
//!   it was reading when it died is delivered again (at least once), and
//!   nothing committed is lost.
//!
//! In-process channels differ: there, a dropped end is gone for good.
//!
//! # Crashes
//!
//! A producer that dies holding a claim leaves it `Claimed`. Its claims name
//! it (slot and generation), and the consumer, once it has waited at such a
//! claim for 5 ms, asks the kernel whether the owner's lock is still held:
//! if not, it skips the claim, counts it (`skipped_claims`) and goes on:
//! 5–70 ms after the death in the 100 `SIGKILL` trials of
//! `tests/file_process.rs` (busy machine included). A live producer's
//! claim is never skipped, however long it is held. A producer that takes over a dead SPSC
//! producer's place first makes whatever the dead one began past the shared
//! tail skippable. A sleeping receiver (blocking or async, following or not)
//! bounds its sleeps while it waits at a claim or at a reservation not yet
//! marked (10 ms), and otherwise to 50 ms, since a dead process cannot wake
//! it: every producer may leave, and a producer killed between taking a
//! wake-up (clearing the waiter word) and making it (the `futex` call)
//! leaves the receiver asleep with nobody to wake it, while the producers
//! after it see the word cleared. An async sender waiting for space bounds
//! its sleeps to 50 ms for the same reason on the consumer's side.
//!
//! An MPSC producer can also die between reserving space (its
//! compare-and-swap on the tail) and marking it claimed, leaving a gap whose
//! size nothing in the ring shows. So before each compare-and-swap it notes
//! in its slot's entry of the header where it reserves from and how much; a
//! consumer waiting at such a gap asks whether every producer whose latest
//! reservation covers it is dead, and then steps over it (counted with the
//! skipped claims): 20–25 ms after the death in the deterministic
//! reproductions of `src/file/tests.rs`, whether the receiver was polling,
//! asleep in `recv`, following or async. A new producer never takes the
//! slot of a dead one whose reservation may still be such a gap ahead of
//! the consumer (it takes another), so a producer restarted at once does
//! not overwrite the entry that explains the gap. A gap stays only if two
//! producers died there at once and their entries disagree; the consumer
//! then waits at it.
//!
//! # Lock release orders memory
//!
//! The locks that tell who is alive also order memory, and the code relies
//! on it in the places that say so: **whatever a process stored before it
//! let go of a lock (unlocking it, closing its description, or dying) is
//! visible to a process that then finds the lock free (`F_OFD_GETLK`) or
//! takes it (`F_OFD_SETLK`)**. Linux keeps a file's locks under a spinlock
//! that the releasing side (a dying process's exit path included) and the
//! asking side both take, so the pair orders memory as a Release store and
//! an Acquire load would. The Rust memory model knows nothing of system
//! calls: no Rust fence or ordering pairs with them, and the code writes
//! none for this (a call into the kernel is opaque to the compiler, which
//! therefore moves no access to shared memory across it either).
//!
//! This is what lets a consumer use what a producer it found dead left
//! behind (its claim's word, its reservation entry), a receiver drain
//! every record committed before the last producer let go of its slot, and
//! a new consumer or SPSC producer take over the positions and marks its
//! predecessor stored (some of them with Relaxed stores, read by nobody
//! else while it lived).
//!
//! # Async ends
//!
//! With the `async` feature, a ring file's channel ends convert into async
//! ones (`ring.receiver()?.into_async()`, `ring.mpsc_sender()?.into_async()`;
//! see `crate::nonblocking`). Their publishers may be in other processes,
//! which can only wake the header's futex words, so each async end that has
//! to wait gets a notifier thread that sleeps on the word and wakes the
//! task. Every consumer of a ring file, async or not, wakes senders waiting
//! for space after each release (one barrier and one load per release while
//! none waits).
//!
//! # Processes that differ
//!
//! Commits wake a sleeping receiver with a handshake whose cheap form needs
//! Linux's `membarrier` in the sleeping process. Processes sharing a ring
//! need not agree on it: one in a sandbox that denies `membarrier`
//! (seccomp, gVisor) or on an old kernel shares a ring safely with one that
//! uses it. Each process that uses it marks the ring's header when it makes
//! an end; a sleeper that cannot issue it then bounds its sleeps (1 ms,
//! growing to 50 ms while nothing arrives) rather than trust every
//! wake-up. `LOGRING_NO_MEMBARRIER=1` in a process's environment makes it
//! act as one denied `membarrier`.
//!
//! # Platforms
//!
//! Ring files need Linux (open file description locks, shared futexes);
//! elsewhere [`RingFile::create`], [`RingFile::open`],
//! [`RingFile::open_or_create`] and [`RingObserver::open`] return
//! [`FileErrorKind::Unsupported`].

mod error;
#[cfg(target_os = "linux")]
mod liveness;
#[cfg(target_os = "linux")]
mod lock;
#[cfg(target_os = "linux")]
mod observer;
#[cfg(target_os = "linux")]
mod publish;
#[cfg(target_os = "linux")]
mod ring_file;
#[cfg(not(target_os = "linux"))]
#[path = "unsupported.rs"]
mod ring_file;
#[cfg(target_os = "linux")]
mod spy;
#[cfg(target_os = "linux")]
mod validate;

// Miri cannot map files or take file locks.
#[cfg(all(test, target_os = "linux", not(miri)))]
mod tests;

pub use error::{FileError, FileErrorKind};
#[cfg(target_os = "linux")]
pub use observer::RingObserver;
#[cfg(all(target_os = "linux", feature = "events"))]
pub(crate) use observer::read_only_dictionary;
pub use ring_file::RingFile;
#[cfg(not(target_os = "linux"))]
pub use ring_file::RingObserver;
#[cfg(target_os = "linux")]
pub use spy::{Lap, RingSpy, Spied, SpyFrom, SpyRecord, SpyTimeoutError};

use std::fmt;

// A ring file handle is shared freely between threads; its ends move to
// the threads that use them, as heap rings' ends do.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<RingFile>();
    send_sync::<RingObserver>();
    #[cfg(target_os = "linux")]
    send_sync::<RingSpy>();
    send_sync::<FileError>();
};

/// How many producers a ring file admits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// One producer at a time ([`RingFile::spsc_producer`],
    /// [`RingFile::spsc_sender`]).
    Spsc,
    /// Any number of producers, in any processes ([`RingFile::mpsc_producer`],
    /// [`RingFile::mpsc_sender`]).
    Mpsc,
}

#[cfg(target_os = "linux")]
impl Mode {
    /// The ring's name for this mode.
    fn layout(self) -> crate::ring::layout::Mode {
        match self {
            Mode::Spsc => crate::ring::layout::Mode::Spsc,
            Mode::Mpsc => crate::ring::layout::Mode::Mpsc,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Spsc => "SPSC",
            Mode::Mpsc => "MPSC",
        })
    }
}

/// How [`RingFile::create`] (or [`RingFile::open_or_create`]) makes a ring
/// file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    capacity: usize,
    mode: Mode,
    permissions: u32,
    /// Bytes of dictionary asked for; `None`: the default for the capacity.
    dictionary_len: Option<usize>,
    /// Bytes of consumed records kept for spies, as asked.
    retain: usize,
}

impl Options {
    /// A ring of at least `capacity` bytes (rounded up to a power of two;
    /// at least 64), SPSC, with permissions 0600 and the default
    /// dictionary (see [`dictionary_len`](Self::dictionary_len)).
    pub const fn new(capacity: usize) -> Self {
        Self {
            capacity,
            mode: Mode::Spsc,
            permissions: 0o600,
            dictionary_len: None,
            retain: 0,
        }
    }

    /// Bytes of consumed records the consumer leaves in place, so that
    /// [spies](RingSpy) still see them: the consumer keeps the newest
    /// records it consumed that fit in `bytes`, and zeroes and releases a
    /// record only once it no longer fits (the bytes from its start to the
    /// consumer's position are more than `bytes`). A spy that keeps within
    /// that distance of the consumer (or ahead of it) is never lapped,
    /// however fast the consumer is; without retention, the consumer
    /// zeroes each record as it takes it, and a spy sees only what it reads
    /// first. Claims of dead producers that the consumer steps over become
    /// padding, which spies step over too.
    ///
    /// Rounded up to a multiple of 16; at most half the capacity. The
    /// price is room: producers have `capacity - retain` bytes, and the
    /// largest record is `(capacity - retain) / 2 - 8` bytes (so that it
    /// still fits, wrap included, when the consumer has taken everything).
    /// Default 0. A consumer that resumes after another does not deliver
    /// the retained records again. [`RingFile::open_or_create`] accepts an
    /// existing ring whatever its retention.
    ///
    /// [`RingFile::create`] fails with [`FileErrorKind::RetainTooLarge`]
    /// above half the capacity. Rings that retain are format 1.2; older
    /// releases of this crate refuse to open them.
    pub const fn retain(mut self, bytes: usize) -> Self {
        self.retain = bytes;
        self
    }

    /// The size of the ring's callsite dictionary, in bytes: the table after
    /// the data area where the log front-ends write what never changes per
    /// callsite (level, target, file, line, field names), once, for every
    /// process that reads the ring. Rounded up to a multiple of 4096; 0
    /// makes a ring without one (events then carry that metadata inline).
    ///
    /// The default is a quarter of the capacity, at most 256 KiB, rounded
    /// down to 4096 (so none for a ring below 16 KiB). The file is
    /// `4096 + capacity + dictionary` bytes long.
    /// [`RingFile::open_or_create`] accepts an existing ring whatever its
    /// dictionary.
    ///
    /// [`RingFile::create`] fails with
    /// [`FileErrorKind::DictionaryTooLarge`] above 1 GiB.
    pub const fn dictionary_len(mut self, bytes: usize) -> Self {
        self.dictionary_len = Some(bytes);
        self
    }

    /// The dictionary length a ring of `capacity` bytes made with these
    /// options gets, or `None` if it is above the maximum.
    #[cfg(target_os = "linux")]
    fn resolved_dictionary_len(&self, capacity: u64) -> Option<u64> {
        use crate::ring::layout::{DICT_ALIGN, MAX_DICT_LEN, default_dict_len};
        match self.dictionary_len {
            None => Some(default_dict_len(capacity)),
            Some(bytes) if bytes as u64 > MAX_DICT_LEN => None,
            Some(bytes) => Some((bytes as u64).div_ceil(DICT_ALIGN) * DICT_ALIGN),
        }
    }

    /// The producer mode.
    pub const fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The file's permission bits (default 0600: only the creating user can
    /// attach), applied exactly whatever the process's umask, except that
    /// the owner always gets read and write: every end maps the file
    /// read-write. For example `0o640` lets the owner's group look at the
    /// ring ([`RingObserver`], `logring stat`), but not attach (attaching
    /// writes). Only the read, write and execute bits are taken:
    /// set-user-id, set-group-id and sticky bits are dropped, as they mean
    /// nothing for a ring file.
    pub const fn permissions(mut self, permissions: u32) -> Self {
        self.permissions = (permissions & 0o777) | 0o600;
        self
    }
}

/// The observers [`RingFile`] and [`RingObserver`] share: what the header
/// and the kernel's locks say of a ring. Expects a private
/// `fn header(&self) -> &Header` (of a validated header), a pub(crate)
/// `fn dictionary(&self) -> Dictionary<'_>`, and the fields
/// `liveness` (a `Liveness` or an `Arc` of one) and, copied from the header
/// when it was validated, `mode`, `capacity`, `max_record_len`, `dict_len`,
/// `retain` and `version`.
#[cfg(target_os = "linux")]
macro_rules! header_observers {
    () => {
        /// The path the ring was created or opened by.
        pub fn path(&self) -> &std::path::Path {
            self.liveness.path()
        }

        /// The ring's producer mode.
        pub fn mode(&self) -> crate::file::Mode {
            self.mode
        }

        /// Data area size in bytes (a power of two).
        pub fn capacity(&self) -> usize {
            self.capacity as usize
        }

        /// Largest payload a single record can carry: `capacity / 2 - 8` (at
        /// most 1 GiB - 16).
        pub fn max_record_len(&self) -> usize {
            self.max_record_len as usize
        }

        /// Whether a consumer (in any process, this one included) is attached.
        pub fn consumer_attached(&self) -> bool {
            self.liveness.consumer_attached()
        }

        /// The process id of the attached consumer, if one is attached and has
        /// named itself (it does so right after it takes the ring, so one that
        /// is attaching at this very moment may not have yet). The id is as the
        /// consumer's process sees it: a consumer in another PID namespace (a
        /// container) reports its own.
        pub fn consumer_pid(&self) -> Option<u32> {
            // Relaxed: information only; the lock below says whether it is live.
            let pid = self
                .header()
                .consumer_pid
                .0
                .load(crate::sync::Ordering::Relaxed);
            (pid != 0 && self.consumer_attached()).then_some(pid)
        }

        /// Whether any producer (in any process, this one included) is attached.
        pub fn producers_attached(&self) -> bool {
            self.liveness.producers_attached()
        }

        /// How many producers (in any process, this one included) are attached:
        /// the producer slots held, since clones of one MPSC producer share its
        /// slot. 0 or 1 on an SPSC ring.
        pub fn producer_count(&self) -> usize {
            self.liveness.producer_slots_held(match self.mode {
                crate::file::Mode::Spsc => 1,
                crate::file::Mode::Mpsc => crate::ring::layout::SLOTS,
            })
        }

        /// Size of the ring's callsite dictionary in bytes (0: the ring has
        /// none; see [`Options::dictionary_len`](crate::file::Options::dictionary_len)).
        pub fn dictionary_len(&self) -> usize {
            self.dict_len as usize
        }

        /// Bytes of the dictionary in use (its own 64-byte head included;
        /// 0 if there is none): at most
        /// [`dictionary_len`](Self::dictionary_len), which it reaches once
        /// the dictionary is full. A snapshot.
        pub fn dictionary_used(&self) -> usize {
            self.dictionary().used() as usize
        }

        /// Bytes of consumed records the consumer leaves in place for spies
        /// (see [`Options::retain`](crate::file::Options::retain)); 0 if it
        /// zeroes each record as it takes it.
        pub fn retain(&self) -> usize {
            self.retain as usize
        }

        /// The ring's format version, `(major, minor)`: this build reads major
        /// version 1 (and refuses to open any other), whatever the minor.
        pub fn format_version(&self) -> (u16, u16) {
            self.version
        }

        /// The consumer's position: the free-running byte position of the next
        /// record to read (it only grows; `head % capacity` is its offset in the
        /// data area). A snapshot.
        pub fn head(&self) -> u64 {
            // Relaxed: a snapshot for observers; nothing is read on it.
            self.header().head.0.load(crate::sync::Ordering::Relaxed)
        }

        /// The producers' position: the free-running byte position where the
        /// next claim starts. `tail - head` is the bytes in use (see
        /// [`len_bytes`](Self::len_bytes)). A snapshot.
        pub fn tail(&self) -> u64 {
            // Relaxed: as in `head`.
            self.header().tail.0.load(crate::sync::Ordering::Relaxed)
        }

        /// Bytes in use: claimed, committed, or read and not yet released.
        /// A snapshot; it may be stale by the time it returns.
        pub fn len_bytes(&self) -> usize {
            // Relaxed: an observation. The two loads may see the positions
            // out of step, hence the saturating difference and the clamp.
            let head = self.head();
            let tail = self.tail();
            tail.saturating_sub(head).min(self.capacity) as usize
        }

        /// `true` if no bytes are in use (see [`len_bytes`](Self::len_bytes)).
        pub fn is_empty(&self) -> bool {
            self.len_bytes() == 0
        }

        /// Claims refused with `Full` over the ring's life, by any producer.
        pub fn full_rejections(&self) -> u64 {
            // Relaxed: a statistic.
            self.header()
                .full_rejections
                .0
                .load(crate::sync::Ordering::Relaxed)
        }

        /// Claims skipped because their producers died, over the ring's life.
        pub fn skipped_claims(&self) -> u64 {
            // Relaxed: a statistic.
            self.header()
                .skipped_claims
                .0
                .load(crate::sync::Ordering::Relaxed)
        }

        /// Checks that the file is still as long as the ring: that no other
        /// program has truncated or extended it since it was opened.
        ///
        /// A process that touches a page of a mapping that a truncation cut
        /// off gets `SIGBUS` (see the [module docs](crate::file#files)), and
        /// this crate installs no signal handler. A program that may meet a
        /// truncated ring (a monitor that keeps a ring open for long) can call
        /// this before it reads: it asks the kernel for the file's length
        /// (`fstat`), so it narrows the danger to a truncation between the
        /// check and the read, and cannot close it.
        ///
        /// # Errors
        ///
        /// [`LengthMismatch`](crate::file::FileErrorKind::LengthMismatch) if
        /// the file's length is not the header plus the capacity plus the
        /// dictionary;
        /// [`Io`](crate::file::FileErrorKind::Io) if the kernel cannot be
        /// asked.
        pub fn check_len(&self) -> Result<(), crate::file::FileError> {
            super::validate::check_file_len(
                self.path(),
                self.liveness.probe(),
                self.capacity + self.dict_len,
            )
        }

        /// For the fuzz targets: the dictionary entry `id`, as the offset of
        /// its payload in the dictionary and the payload.
        #[cfg(fuzzing)]
        #[doc(hidden)]
        pub fn fuzz_dictionary_entry(&self, id: u32) -> Option<(u64, Vec<u8>)> {
            self.dictionary().fuzz_entry(id)
        }

        /// For the fuzz targets: registers `bytes` as a dictionary entry.
        #[cfg(fuzzing)]
        #[doc(hidden)]
        pub fn fuzz_dictionary_register(&self, bytes: &[u8]) -> Option<u32> {
            self.dictionary()
                .register(bytes.len(), |payload| payload.copy_from_slice(bytes))
        }
    };
}
#[cfg(target_os = "linux")]
pub(crate) use header_observers;
