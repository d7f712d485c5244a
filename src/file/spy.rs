//! `RingSpy`: reading a ring file's records without consuming them.

use std::fmt;
use std::ops::Deref;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::liveness::{CLAIM_PATIENCE, Liveness};
use super::observer::{RingObserver, read_only_dictionary};
use super::{FileError, Mode};
use crate::error::CorruptRing;
use crate::queue::TryRecvError;
use crate::region::ReadOnlyFileRegion;
use crate::ring::dict::Dictionary;
use crate::ring::layout::{HEADER_LEN, Header, WORD, span_of};
use crate::ring::spy::{Copied, Cursor, Look, Pending, SpyView};
use crate::sync::{AtomicU64, Ordering};

pub use crate::ring::spy::Lap;

/// Most records one look copies before it checks them (with one load of
/// the consumer's mark, a line the consumer writes for every record).
const BATCH_RECORDS: usize = 256;
/// Past its first record, a look stops copying once it holds this much.
const BATCH_BYTES: usize = 64 * 1024;

/// The first sleep of a spy that found nothing after spinning.
const FIRST_NAP: Duration = Duration::from_micros(20);
/// The longest: no producer wakes a spy (it writes nothing, so it cannot
/// say that it sleeps), so it looks again at least this often.
const LONGEST_NAP: Duration = Duration::from_millis(1);

/// Where a new [`RingSpy`] starts reading.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SpyFrom {
    /// At the oldest record still in the ring: everything the consumer has
    /// not consumed yet, and what comes after.
    #[default]
    Oldest,
    /// At the producers' tail: only records claimed from now on.
    Now,
}

/// A reader of a ring file that takes nothing: it sees the committed
/// records, in order, while the ring's one consumer (if any) goes on
/// receiving and releasing all of them.
///
/// Any number of spies, in any processes, may read one ring beside its
/// consumer, or with no consumer at all. A spy opens the file read-only and
/// maps it read-only, so read permission is enough; it writes no byte of
/// the ring, so producers and the consumer neither know of it nor wait for
/// it, and a spy that dies leaves nothing behind. Its place in the ring is
/// its own.
///
/// Since nobody waits for a spy, one that falls behind can find that the
/// records it was about to read were consumed, and their space perhaps
/// reused, before it read them. It checks every record it copies (see
/// `ring::spy` in the source for the argument): a record it returns is
/// byte for byte what was committed at its position, and when it was
/// overtaken it says so with [`Spied::Lapped`], naming the bytes it lost,
/// and goes on at the oldest record still in the ring.
///
/// How far behind the consumer a spy may read depends on the ring. By
/// default the consumer zeroes each record as it takes it, so a spy sees
/// the records the consumer has not taken yet: all of them while the
/// consumer is away or behind, few beside a consumer that keeps up. A ring
/// created with [`Options::retain`](super::Options::retain) keeps the last
/// `retain` bytes of what the consumer took in place, and a spy within
/// that distance of the consumer sees every record.
///
/// A spy copies each record into a buffer of its own (one per spy, as
/// large as the largest record seen): [`SpyRecord`] borrows that buffer,
/// not the ring.
///
/// ```no_run
/// use logring::file::{RingSpy, Spied, SpyFrom};
///
/// let mut spy = RingSpy::open("/dev/shm/app.ring", SpyFrom::Oldest)?;
/// loop {
///     match spy.read()? {
///         Spied::Record(record) => println!("{}", String::from_utf8_lossy(&record)),
///         Spied::Lapped(lap) => eprintln!("lapped: {} bytes lost", lap.lost_bytes()),
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Waiting
///
/// A receiver announces that it sleeps, and producers wake it; a spy cannot
/// announce anything, and must not sleep on the receiver's futex (a wake
/// meant for the receiver could wake the spy instead). So
/// [`read`](Self::read), [`read_timeout`](Self::read_timeout) and
/// `read_async` poll: they spin briefly, then sleep, from 20 µs doubling to
/// at most 1 ms between looks. A spy that keeps up sees each record within
/// about a millisecond of its commit.
///
/// # Dead producers
///
/// At a claim whose producer died (its lock is gone, or its slot has a new
/// producer), the spy steps over it as the consumer does, after the same
/// patience, without counting a lap: nothing committed was there.
pub struct RingSpy {
    map: Mapped,
    liveness: Liveness,
    mode: Mode,
    capacity: u64,
    max_record_len: u64,
    dict_len: u64,
    retain: u64,
    version: (u16, u16),
    cursor: Cursor,
    /// The records the last look copied and checked: payloads in `buf`,
    /// places in `copied`; `copied[next..]` are still to be returned.
    buf: Vec<u8>,
    copied: Vec<Copied>,
    next: usize,
    /// Records returned.
    records: u64,
    /// Where the spy waits at a claim not committed yet, and when it last
    /// asked whether that claim's producer is alive.
    stuck: Option<(u64, Instant)>,
    #[cfg(feature = "async")]
    ticker: Option<ticker::Ticker>,
}

/// A spy's view of its read-only mapping.
struct Mapped {
    region: Arc<ReadOnlyFileRegion>,
    /// The first byte of the data area.
    data: NonNull<u8>,
    mask: u64,
    max_record_len: u64,
}

// SAFETY: `data` points into the mapping `region` keeps alive; the mapping
// is not tied to a thread, and only atomic loads are made through it.
unsafe impl Send for Mapped {}
// SAFETY: as for `Send`: `&Mapped` gives atomic loads only.
unsafe impl Sync for Mapped {}

impl SpyView for Mapped {
    fn header(&self) -> &Header {
        self.region.header()
    }

    #[inline]
    fn word(&self, pos: u64) -> &AtomicU64 {
        let index = pos & self.mask & !(WORD - 1);
        // SAFETY: `index + 8 <= capacity` (masked, 8-aligned), so the word
        // lies in the data area, which the mapping holds whole (the file's
        // length was checked against the header); it is 8-aligned (the
        // mapping is page-aligned, HEADER_LEN a multiple of 128); any bytes
        // are a valid `AtomicU64`; and only loads are made through it, which
        // a read-only mapping allows.
        unsafe { self.data.add(index as usize).cast::<AtomicU64>().as_ref() }
    }

    fn capacity(&self) -> u64 {
        self.mask + 1
    }

    fn max_record_len(&self) -> u64 {
        self.max_record_len
    }
}

/// What a spy read: a record, or the news that it was overtaken.
#[derive(Clone, Copy, Debug)]
pub enum Spied<'a> {
    /// A record, byte for byte as committed at its position.
    Record(SpyRecord<'a>),
    /// The spy fell behind: the bytes `[from, to)` were consumed (and their
    /// space perhaps reused) before it read them. It goes on at `to`, the
    /// oldest record still in the ring when it looked.
    Lapped(Lap),
}

/// A record a spy copied: see [`RingSpy`]. Dereferences to its payload.
#[derive(Clone, Copy)]
pub struct SpyRecord<'a> {
    bytes: &'a [u8],
    tag: u32,
    position: u64,
}

impl SpyRecord<'_> {
    /// The record's tag (0 unless the producer set one).
    pub fn tag(&self) -> u32 {
        self.tag
    }

    /// Free-running position of the record in the ring (the position the
    /// consumer sees it at, too).
    pub fn position(&self) -> u64 {
        self.position
    }
}

impl Deref for SpyRecord<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.bytes
    }
}

impl fmt::Debug for SpyRecord<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpyRecord")
            .field("position", &self.position)
            .field("len", &self.bytes.len())
            .field("tag", &self.tag)
            .finish()
    }
}

/// Why [`RingSpy::read_timeout`] returned no record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpyTimeoutError {
    /// Nothing new was committed before the timeout.
    Timeout,
    /// A record word no producer writes, where the consumer had not been:
    /// everything before it was read; nothing after it can be.
    Corrupt(CorruptRing),
}

impl fmt::Display for SpyTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("timed out waiting for a record"),
            Self::Corrupt(corrupt) => corrupt.fmt(f),
        }
    }
}

impl std::error::Error for SpyTimeoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Timeout => None,
            Self::Corrupt(corrupt) => Some(corrupt),
        }
    }
}

impl RingSpy {
    /// Opens the existing ring file at `path` read-only, checks its header
    /// as [`RingObserver::open`] does, and places the spy at `from`.
    ///
    /// # Errors
    ///
    /// As [`RingObserver::open`].
    pub fn open(path: impl AsRef<Path>, from: SpyFrom) -> Result<Self, FileError> {
        let (region, liveness, layout) = RingObserver::open(path)?.into_parts();
        let header = region.header();
        let start = match from {
            // Relaxed: a place to start; every word read from it is checked
            // against the mark again (`ring::spy`). Opening checked the
            // positions (`head <= consumed <= tail`, within a capacity).
            SpyFrom::Oldest => header.consumed.0.load(Ordering::Relaxed),
            // Relaxed: as above; the cursor loads `tail` again (Acquire)
            // before it reads a word.
            SpyFrom::Now => header.tail.0.load(Ordering::Relaxed),
        };
        // SAFETY: the mapping holds HEADER_LEN + capacity + dict_len bytes
        // (checked when it was opened): the data area starts in bounds.
        let data = unsafe { region.base().add(HEADER_LEN) };
        Ok(Self {
            map: Mapped {
                region,
                data,
                mask: layout.capacity - 1,
                max_record_len: layout.max_record_len,
            },
            liveness,
            mode: layout.mode,
            capacity: layout.capacity,
            max_record_len: layout.max_record_len,
            dict_len: layout.dict_len,
            retain: layout.retain,
            version: layout.version,
            cursor: Cursor::new(start),
            buf: Vec::new(),
            copied: Vec::new(),
            next: 0,
            records: 0,
            stuck: None,
            #[cfg(feature = "async")]
            ticker: None,
        })
    }

    /// The next committed record, or the news of a lap, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing new is committed;
    /// [`TryRecvError::Corrupt`] at a record word no producer writes, where
    /// the consumer had not been: every record before it was read, none
    /// after it can be, and every later call reports the same.
    pub fn try_read(&mut self) -> Result<Spied<'_>, TryRecvError> {
        match self.look() {
            Found::Empty => Err(TryRecvError::Empty),
            Found::Corrupt(corrupt) => Err(TryRecvError::Corrupt(corrupt)),
            found => Ok(self.spied(found)),
        }
    }

    /// The next committed record, or the news of a lap, waiting at most
    /// `timeout` (see "Waiting").
    ///
    /// # Errors
    ///
    /// [`SpyTimeoutError::Timeout`] if nothing came in time, or
    /// [`SpyTimeoutError::Corrupt`] as for [`try_read`](Self::try_read).
    pub fn read_timeout(&mut self, timeout: Duration) -> Result<Spied<'_>, SpyTimeoutError> {
        match self.wait(Instant::now().checked_add(timeout)) {
            Found::Empty => Err(SpyTimeoutError::Timeout),
            Found::Corrupt(corrupt) => Err(SpyTimeoutError::Corrupt(corrupt)),
            found => Ok(self.spied(found)),
        }
    }

    /// The next committed record, or the news of a lap, waiting as long as
    /// it takes (see "Waiting").
    ///
    /// # Errors
    ///
    /// The corruption, as for [`try_read`](Self::try_read).
    pub fn read(&mut self) -> Result<Spied<'_>, CorruptRing> {
        loop {
            match self.wait(None) {
                // A timeout too far away to represent ran out.
                Found::Empty => continue,
                Found::Corrupt(corrupt) => return Err(corrupt),
                found => return Ok(self.spied(found)),
            }
        }
    }

    /// The position the spy reads next (free-running, as a record's).
    pub fn position(&self) -> u64 {
        self.copied
            .get(self.next)
            .map_or(self.cursor.position(), |record| record.pos)
    }

    /// Records this spy has returned.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// How many times the spy was lapped.
    pub fn laps(&self) -> u64 {
        self.cursor.laps()
    }

    /// Bytes lost to laps, in total: the sum of every
    /// [`Lap::lost_bytes`] returned.
    pub fn lost_bytes(&self) -> u64 {
        self.cursor.lost_bytes()
    }

    /// The ring's header, in the read-only mapping.
    fn header(&self) -> &Header {
        self.map.region.header()
    }

    /// The ring's callsite dictionary, read-only.
    pub(crate) fn dictionary(&self) -> Dictionary<'_> {
        read_only_dictionary(&self.map.region, self.capacity, self.dict_len)
    }

    /// The mapping and the layout a decoder of this spy's records needs for
    /// the dictionary.
    #[cfg(feature = "events")]
    pub(crate) fn dictionary_parts(&self) -> (Arc<ReadOnlyFileRegion>, u64, u64) {
        (Arc::clone(&self.map.region), self.capacity, self.dict_len)
    }

    super::header_observers!();

    /// The next record copied, or a look for more, stepping over claims
    /// (and reservations) of dead producers.
    fn look(&mut self) -> Found {
        if let Some(&record) = self.copied.get(self.next) {
            self.next += 1;
            self.records += 1;
            return Found::Record(record);
        }
        loop {
            self.next = 0;
            let look = self.cursor.look(
                &self.map,
                &mut self.buf,
                &mut self.copied,
                BATCH_RECORDS,
                BATCH_BYTES,
            );
            match look {
                Look::Records => {
                    self.stuck = None;
                    self.next = 1;
                    self.records += 1;
                    return Found::Record(self.copied[0]);
                }
                Look::Lapped(lap) => {
                    self.stuck = None;
                    return Found::Lapped(lap);
                }
                Look::Corrupt(corrupt) => return Found::Corrupt(corrupt),
                Look::Empty => {
                    if !self.step_over_dead() {
                        return Found::Empty;
                    }
                }
            }
        }
    }

    /// Whether the spy, finding nothing at its position below `tail`, may
    /// step over what is there because its producer died; steps if so.
    /// Asks the kernel at most once per `CLAIM_PATIENCE` at one position,
    /// and not before the spy has waited there that long.
    fn step_over_dead(&mut self) -> bool {
        let pending = self.cursor.pending();
        if pending == Pending::None {
            self.stuck = None;
            return false;
        }
        let pos = self.cursor.position();
        let now = Instant::now();
        match self.stuck {
            Some((at, asked)) if at == pos => {
                if now.duration_since(asked) < CLAIM_PATIENCE {
                    return false;
                }
            }
            _ => {
                self.stuck = Some((pos, now));
                return false;
            }
        }
        self.stuck = Some((pos, now));
        let end = match pending {
            Pending::Claim { len, owner, .. } => {
                (!self.liveness.owner_alive(self.map.region.header(), owner))
                    .then(|| pos.wrapping_add(span_of(len)))
            }
            Pending::Reservation { tail } if self.mode == Mode::Mpsc => self
                .liveness
                .dead_reservation_end(self.map.region.header(), self.capacity, pos, tail),
            _ => None,
        };
        end.is_some_and(|end| self.cursor.step_over(&self.map, end))
    }

    /// Looks until something is found or `deadline` passes (`None`: never).
    /// `Found::Empty` means the deadline passed.
    fn wait(&mut self, deadline: Option<Instant>) -> Found {
        let backoff = crossbeam_utils::Backoff::new();
        let mut nap = FIRST_NAP;
        loop {
            let look = self.look();
            if look != Found::Empty {
                return look;
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            let sleep = match deadline {
                None => nap,
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => nap.min(left),
                    _ => return Found::Empty,
                },
            };
            std::thread::sleep(sleep);
            nap = (nap * 2).min(LONGEST_NAP);
        }
    }

    /// What a look found, as the caller sees it (never `Empty` or
    /// `Corrupt`).
    fn spied(&self, found: Found) -> Spied<'_> {
        match found {
            Found::Record(record) => Spied::Record(SpyRecord {
                bytes: &self.buf[record.start..record.start + record.len],
                tag: record.tag,
                position: record.pos,
            }),
            Found::Lapped(lap) => Spied::Lapped(lap),
            Found::Empty | Found::Corrupt(_) => unreachable!("only records and laps are shown"),
        }
    }
}

/// What a spy's look found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Found {
    Record(Copied),
    Lapped(Lap),
    Empty,
    Corrupt(CorruptRing),
}

#[cfg(feature = "async")]
impl RingSpy {
    /// The next committed record, or the news of a lap, as a future for any
    /// executor. The task is woken to look again after the naps of
    /// "Waiting", by a thread the spy starts the first time it waits (it
    /// sleeps when no task waits, and ends with the spy).
    ///
    /// Dropping the future before it completes loses nothing.
    ///
    /// # Errors
    ///
    /// The corruption, as for [`try_read`](Self::try_read).
    pub async fn read_async(&mut self) -> Result<Spied<'_>, CorruptRing> {
        let mut nap = FIRST_NAP;
        let found = std::future::poll_fn(|cx| {
            let look = self.look();
            if look != Found::Empty {
                return std::task::Poll::Ready(look);
            }
            if self.ticker.is_none() {
                self.ticker = ticker::Ticker::start();
            }
            match &self.ticker {
                Some(ticker) => ticker.wake_after(cx.waker(), nap),
                // No thread could be started: look again at once.
                None => cx.waker().wake_by_ref(),
            }
            nap = (nap * 2).min(LONGEST_NAP);
            std::task::Poll::Pending
        })
        .await;
        match found {
            Found::Corrupt(corrupt) => Err(corrupt),
            found => Ok(self.spied(found)),
        }
    }
}

impl fmt::Debug for RingSpy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingSpy")
            .field("path", &self.path())
            .field("position", &self.position())
            .field("laps", &self.laps())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "async")]
mod ticker {
    //! The thread that wakes an async spy's task after a nap.

    use std::sync::Arc;
    use std::task::Waker;
    use std::thread::{self, Thread};
    use std::time::Duration;

    use crate::sync::{AtomicBool, AtomicU64, AtomicWaker, Ordering};

    /// The thread's stack: it only sleeps and calls wakers.
    const STACK: usize = 64 * 1024;

    pub(super) struct Ticker {
        shared: Arc<Shared>,
        thread: Thread,
    }

    struct Shared {
        waker: AtomicWaker,
        /// How long the next nap lasts, in nanoseconds.
        nap_ns: AtomicU64,
        /// The spy is gone: the thread ends.
        stop: AtomicBool,
    }

    impl Ticker {
        /// Starts the thread; `None` if it could not be started.
        pub(super) fn start() -> Option<Self> {
            let shared = Arc::new(Shared {
                waker: AtomicWaker::new(),
                nap_ns: AtomicU64::new(0),
                stop: AtomicBool::new(false),
            });
            let theirs = Arc::clone(&shared);
            let handle = thread::Builder::new()
                .name("logring-spy".into())
                .stack_size(STACK)
                .spawn(move || {
                    // `park` keeps a token, so a request made before the
                    // thread parks is not lost; a spurious return costs one
                    // nap and one wake, which the task answers with a look.
                    loop {
                        thread::park();
                        // Relaxed: the flag is all there is to it; the
                        // unpark that follows the store is what ends the park.
                        if theirs.stop.load(Ordering::Relaxed) {
                            return;
                        }
                        // Relaxed: a duration, nothing published with it.
                        let nap = theirs.nap_ns.load(Ordering::Relaxed);
                        thread::sleep(Duration::from_nanos(nap));
                        theirs.waker.wake();
                    }
                })
                .ok()?;
            Some(Self {
                shared,
                thread: handle.thread().clone(),
            })
        }

        /// Wakes `waker` after about `nap`.
        pub(super) fn wake_after(&self, waker: &Waker, nap: Duration) {
            self.shared.waker.register(waker);
            // Relaxed: read by the thread after the unpark below.
            self.shared
                .nap_ns
                .store(nap.as_nanos() as u64, Ordering::Relaxed);
            self.thread.unpark();
        }
    }

    impl Drop for Ticker {
        fn drop(&mut self) {
            // Relaxed: the unpark below makes the thread look.
            self.shared.stop.store(true, Ordering::Relaxed);
            self.thread.unpark();
        }
    }
}
