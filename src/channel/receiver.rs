//! The receiving end, shared by the SPSC and MPSC channels.

use std::fmt;
use std::time::{Duration, Instant};

use super::{Link, RecvError, RecvTimeoutError, SpinPolicy, TryRecvError};
use crate::error::CorruptRing;
use crate::queue::consumer::Found;
use crate::queue::{Consumer, ReadClaim, Record};
use crate::ring::layout::MAY_SLEEP;
use crate::wait::{self, Waiter};

/// The receiving end of a channel (SPSC or MPSC).
///
/// Records are read in place, in order; each [`ReadClaim`] releases its space
/// when dropped.
pub struct Receiver {
    pub(crate) consumer: Consumer,
    pub(crate) link: Link,
    pub(crate) policy: SpinPolicy,
    /// Once the spin budget is spent, sleep at most this long and look
    /// again, never asking senders for a wake-up (`None`: sleep until woken).
    poll_interval: Option<Duration>,
    /// Wait for producers to (re)appear instead of reporting `Disconnected`.
    follow: bool,
    /// When a ring file's producers were last seen attached: asking is a
    /// system call, so an empty poll asks at most every `PRESENCE_RECHECK`.
    producers_seen: Option<Instant>,
}

/// The longest poll interval a receiver takes
/// ([`Receiver::set_poll_interval`]).
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How long a receiver of a ring file trusts "a producer is attached".
const PRESENCE_RECHECK: Duration = Duration::from_millis(1);
/// A ring file's receiver sleeps at most this long while it waits at a claim
/// or inside a reservation (its producer may die, and a dead process wakes
/// nobody).
const CLAIM_NAP: Duration = Duration::from_millis(10);
/// A ring file's receiver sleeps at most this long while it waits for
/// records, following or not: every producer may die, and it should notice;
/// and a producer killed between taking the wake-up and making it
/// (`wait::wake_slow`) leaves the receiver asleep with nobody to wake it.
const PRESENCE_NAP: Duration = Duration::from_millis(50);

/// Why a look (or a wait) for the next record ended without one.
pub(crate) enum Stop {
    /// Nothing ready (by the deadline, if waiting); senders are connected.
    NotYet,
    /// Every sender is gone and the ring is drained.
    Disconnected,
    /// The ring is corrupt there: nothing past it can be received.
    Corrupt(CorruptRing),
}

impl Stop {
    /// The error of a wait without a deadline, which never ends `NotYet`.
    pub(crate) fn recv_error(self) -> RecvError {
        match self {
            Stop::Corrupt(corrupt) => RecvError::Corrupt(corrupt),
            Stop::Disconnected => RecvError::Disconnected,
            Stop::NotYet => {
                debug_assert!(false, "a wait without a deadline ended with nothing");
                RecvError::Disconnected
            }
        }
    }

    fn timeout_error(self) -> RecvTimeoutError {
        match self {
            Stop::NotYet => RecvTimeoutError::Timeout,
            Stop::Disconnected => RecvTimeoutError::Disconnected,
            Stop::Corrupt(corrupt) => RecvTimeoutError::Corrupt(corrupt),
        }
    }

    fn try_error(self) -> TryRecvError {
        match self {
            Stop::NotYet => TryRecvError::Empty,
            Stop::Disconnected => TryRecvError::Disconnected,
            Stop::Corrupt(corrupt) => TryRecvError::Corrupt(corrupt),
        }
    }
}

impl Receiver {
    pub(super) fn new(link: Link) -> Self {
        Self::attach(Consumer::new(link.ring.share()), link)
    }

    /// The receiver over `consumer`, of the ring `link` is to.
    pub(crate) fn attach(mut consumer: Consumer, link: Link) -> Self {
        if let Some(signal) = link.space_signal() {
            consumer.set_release_hook(Box::new(signal));
        }
        Self {
            consumer,
            link,
            policy: SpinPolicy::RECEIVER,
            poll_interval: None,
            follow: false,
            producers_seen: None,
        }
    }

    /// Waits for the next record: spins, then sleeps until a sender publishes
    /// (or, if it [polls](Self::set_poll_interval), a poll interval at a time).
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`] once every sender is gone and every record
    /// they committed has been received (on a ring file: once no producer
    /// is attached and everything is received, unless the receiver
    /// [follows](Self::set_follow)).
    ///
    /// [`RecvError::Corrupt`] once the ring is found corrupt: every record
    /// before the bad word was delivered, none after it can be, and every
    /// later receive reports the same (see [`corruption`](Self::corruption)).
    /// A receiver asleep when the bad word appears returns it when woken
    /// (by a commit after it), as it would return a record.
    #[must_use = "dropping a ReadClaim releases the record at once"]
    #[inline]
    pub fn recv(&mut self) -> Result<ReadClaim<'_>, RecvError> {
        match self.wait(None) {
            Ok(next) => Ok(self.consumer.claim(next)),
            Err(stop) => Err(stop.recv_error()),
        }
    }

    /// Waits up to `timeout` for the next record.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] once `timeout` has passed (never
    /// earlier); [`RecvTimeoutError::Disconnected`] and
    /// [`RecvTimeoutError::Corrupt`] as for [`recv`](Self::recv).
    #[must_use = "dropping a ReadClaim releases the record at once"]
    #[inline]
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<ReadClaim<'_>, RecvTimeoutError> {
        // A record that is ready costs no look at the clock: a receiver
        // draining a busy ring need not pay one per record (the `drain`
        // scenario of benches/cli.rs).
        match self.try_next() {
            Err(Stop::NotYet) => {}
            Ok(next) => return Ok(self.consumer.claim(next)),
            Err(stop) => return Err(stop.timeout_error()),
        }
        // A timeout too far away to represent is no timeout.
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.recv_deadline(deadline),
            None => Ok(self.recv()?),
        }
    }

    /// Waits until `deadline` for the next record.
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Self::recv_timeout).
    #[must_use = "dropping a ReadClaim releases the record at once"]
    #[inline]
    pub fn recv_deadline(&mut self, deadline: Instant) -> Result<ReadClaim<'_>, RecvTimeoutError> {
        match self.wait(Some(deadline)) {
            Ok(next) => Ok(self.consumer.claim(next)),
            Err(stop) => Err(stop.timeout_error()),
        }
    }

    /// The next record if one is ready, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if none is ready;
    /// [`TryRecvError::Disconnected`] and [`TryRecvError::Corrupt`] as for
    /// [`recv`](Self::recv).
    #[must_use = "dropping a ReadClaim releases the record at once"]
    #[inline]
    pub fn try_recv(&mut self) -> Result<ReadClaim<'_>, TryRecvError> {
        match self.try_next() {
            Ok(next) => Ok(self.consumer.claim(next)),
            Err(stop) => Err(stop.try_error()),
        }
    }

    /// Waits for at least one record, then reads up to `limit` of those ready,
    /// calling `f` on each in order, and releases them together with one
    /// update of the shared head (see [`Consumer::try_recv_batch`]). Returns how
    /// many were read; `limit == 0` returns `Ok(0)` at once. A batch ends
    /// before a corrupt record word; the next call reports it.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    pub fn recv_batch<F>(&mut self, limit: usize, f: F) -> Result<usize, RecvError>
    where
        F: FnMut(Record<'_>),
    {
        self.batch(limit, f, |rx| rx.wait(None))
            .map_err(Stop::recv_error)
    }

    /// [`recv_batch`](Self::recv_batch) that waits at most `timeout` for the
    /// first record.
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Self::recv_timeout).
    pub fn recv_batch_timeout<F>(
        &mut self,
        limit: usize,
        timeout: Duration,
        f: F,
    ) -> Result<usize, RecvTimeoutError>
    where
        F: FnMut(Record<'_>),
    {
        let deadline = Instant::now().checked_add(timeout);
        self.batch(limit, f, |rx| rx.wait(deadline))
            .map_err(Stop::timeout_error)
    }

    /// Reads up to `limit` records that are ready now, without waiting
    /// (see [`recv_batch`](Self::recv_batch)).
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Self::try_recv).
    pub fn try_recv_batch<F>(&mut self, limit: usize, f: F) -> Result<usize, TryRecvError>
    where
        F: FnMut(Record<'_>),
    {
        self.batch(limit, f, Self::try_next)
            .map_err(Stop::try_error)
    }

    /// `true` if every sender is gone. Records they committed may still be
    /// waiting to be received. On a ring file: `true` if no producer is
    /// attached right now (a system call); one may attach later.
    pub fn is_disconnected(&self) -> bool {
        self.link.senders_gone()
    }

    /// Whether this receiver waits for senders to (re)appear instead of
    /// reporting `Disconnected` (see [`set_follow`](Self::set_follow)).
    pub fn follows(&self) -> bool {
        self.follow
    }

    /// Makes this receiver wait for senders to (re)appear, as `tail -f`
    /// does, instead of reporting `Disconnected` once none is attached and
    /// everything is received. Meant for ring files, whose producers come
    /// and go: on a heap ring, whose dropped senders are gone for good, a
    /// following `recv` with no sender left waits for ever (`recv_timeout`
    /// still times out). A corrupt ring is reported as `Corrupt` either way,
    /// since nothing past the corruption can be received.
    pub fn set_follow(&mut self, follow: bool) {
        self.follow = follow;
    }

    /// The budget the receiver spins for before it sleeps.
    pub fn spin_policy(&self) -> SpinPolicy {
        self.policy
    }

    /// Sets the budget the receiver spins for before it sleeps.
    pub fn set_spin_policy(&mut self, policy: SpinPolicy) {
        self.policy = policy;
    }

    /// How long this receiver sleeps between looks once its spin budget is
    /// spent, if it polls (see [`set_poll_interval`](Self::set_poll_interval));
    /// `None` if it sleeps until a sender wakes it.
    pub fn poll_interval(&self) -> Option<Duration> {
        self.poll_interval
    }

    /// Makes the blocking receives poll: once the spin budget is spent, the
    /// receiver sleeps at most `interval` (a timed sleep), looks again, and
    /// so on, and never asks its senders to wake it. `None` (the default)
    /// restores sleeping until a sender publishes.
    ///
    /// Which to choose is a trade between the two ends:
    ///
    /// - **Woken** (the default): a record sent to an idle receiver arrives
    ///   within microseconds, but the send that finds the receiver asleep
    ///   pays for the wake-up, a system call. On the benchmark machine that
    ///   puts the senders' p99 at about 13 µs when the receiver sleeps
    ///   between bursts (`cargo bench --bench channel -- sender-cost`).
    /// - **Polling**: a send never makes a system call and costs the same
    ///   whether the receiver sleeps or not; a record sent to an idle
    ///   receiver waits up to `interval` before it is received, and the
    ///   idle receiver wakes every `interval`. This is the choice for a
    ///   receiver that drains a log written on a hot path: the senders'
    ///   p99 stays at a few hundred nanoseconds (BENCHMARKS.md).
    ///
    /// A ring file's receiver also bounds each sleep by its own limits (it
    /// checks on its producers' liveness), and a deadline
    /// ([`recv_timeout`](Self::recv_timeout)) is kept either way. Async
    /// receives (feature `async`) are not affected: a task is woken through
    /// its waker.
    ///
    /// An interval above [`MAX_POLL_INTERVAL`] (one second) is taken as one
    /// second, so that a receiver always notices records and disconnection
    /// within about a second.
    pub fn set_poll_interval(&mut self, interval: Option<Duration>) {
        self.poll_interval = interval.map(|interval| interval.min(MAX_POLL_INTERVAL));
    }

    /// The corruption that stopped this receiver, if any (see
    /// [`Consumer::corruption`]): what every receive reports as `Corrupt`
    /// once it is found.
    pub fn corruption(&self) -> Option<CorruptRing> {
        self.consumer.corruption()
    }

    /// Claims skipped because no sender could ever commit them, over the
    /// ring's life.
    pub fn skipped_claims(&self) -> u64 {
        self.consumer.skipped_claims()
    }

    crate::queue::ring_observers!(link.ring);

    /// A batch read once `first` (a look or a wait) has found a record.
    fn batch<F>(
        &mut self,
        limit: usize,
        f: F,
        first: impl FnOnce(&mut Self) -> Result<Found, Stop>,
    ) -> Result<usize, Stop>
    where
        F: FnMut(Record<'_>),
    {
        if limit == 0 {
            return Ok(0);
        }
        first(self)?;
        Ok(self.consumer.read_batch(limit, f))
    }

    /// The next record, or why there is none now; `None` for
    /// `Stop::NotYet`: what a waiting end looks for while it spins, when it
    /// re-checks and after it sleeps. Out of line, as those looks are: the
    /// waits' fast path is `try_next` itself, inline.
    #[inline(never)]
    pub(crate) fn look(&mut self) -> Option<Result<Found, Stop>> {
        match self.try_next() {
            Err(Stop::NotYet) => None,
            found_or_gone => Some(found_or_gone),
        }
    }

    /// The next record, or why there is none now. Inlined into every
    /// receive, whose first step it is: when a call handed the record back
    /// through memory for `recv` to copy on, a single-thread `send` +
    /// `recv` loop took about a third longer per record, for the same
    /// instructions.
    #[inline(always)]
    pub(crate) fn try_next(&mut self) -> Result<Found, Stop> {
        if let Some(next) = self.consumer.next_or_release() {
            return Ok(next);
        }
        if let Some(corrupt) = self.consumer.corruption() {
            // Nothing past the corruption can ever be received.
            return Err(Stop::Corrupt(corrupt));
        }
        if !self.follow && self.senders_gone() {
            return self.drain();
        }
        Err(Stop::NotYet)
    }

    /// Whether every sender is gone. A ring file's answer is a system call:
    /// "attached" is trusted for `PRESENCE_RECHECK`, "gone" never (it ends
    /// the stream, so it is always asked afresh).
    fn senders_gone(&mut self) -> bool {
        if !self.link.is_file() {
            return self.link.senders_gone();
        }
        let now = Instant::now();
        if let Some(seen) = self.producers_seen {
            if now.duration_since(seen) < PRESENCE_RECHECK {
                return false;
            }
        }
        let gone = self.link.senders_gone();
        self.producers_seen = (!gone).then_some(now);
        gone
    }

    /// Every sender is gone: what is left to receive. The senders' commits are
    /// visible (`senders_gone` acquires them), so a record committed before
    /// the last sender left is found here even if the first look missed it.
    #[cold]
    fn drain(&mut self) -> Result<Found, Stop> {
        loop {
            if let Some(next) = self.consumer.next_or_release() {
                return Ok(next);
            }
            // SAFETY: every sender is gone (observed by the caller). On a heap
            // ring the senders were its only producers, so nobody can write
            // to it again. On a ring file, no producer is attached, so what
            // is reserved at the head has no live owner; a producer that
            // attaches later reserves past it, never writes to it, but may
            // pad a claim, which `skip_abandoned`'s compare-and-swap
            // arbitrates.
            if !unsafe { self.consumer.skip_abandoned() } {
                // The drain may have run into the corruption.
                return Err(match self.consumer.corruption() {
                    Some(corrupt) => Stop::Corrupt(corrupt),
                    None => Stop::Disconnected,
                });
            }
        }
    }

    /// Waits for the next record until `deadline` (`None`: for ever);
    /// `Stop::NotYet` means the deadline passed.
    fn wait(&mut self, deadline: Option<Instant>) -> Result<Found, Stop> {
        match self.try_next() {
            Err(Stop::NotYet) => self.wait_slow(deadline),
            found_or_gone => found_or_gone,
        }
    }

    /// `wait` once nothing was ready: spins for the budget, then sleeps
    /// until woken (the handshake of `wait::wait`), and looks again after
    /// each sleep. Out of line, so that `wait` is the one look that finds a
    /// record on a busy ring.
    #[inline(never)]
    fn wait_slow(&mut self, deadline: Option<Instant>) -> Result<Found, Stop> {
        if let Some(interval) = self.poll_interval {
            return self.poll(deadline, interval);
        }
        let mut backoff = self.policy.backoff();
        let mut sleeper = Sleeper {
            rx: self,
            deadline,
            left: None,
            announced: false,
            naps: 0,
        };
        loop {
            if let Some(found_or_gone) = wait::wait(&mut sleeper, || backoff.snooze()) {
                return found_or_gone;
            }
            if let Some(found_or_gone) = sleeper.rx.look() {
                return found_or_gone;
            }
        }
    }
}

impl Receiver {
    /// `wait_slow` for a receiver that polls: spins for the budget, then
    /// sleeps at most `interval` at a time (and no longer than the ring's
    /// own limits and the deadline allow) between looks. Nothing is
    /// announced on the waiter word, so no sender ever wakes this receiver:
    /// a sender's look at the word finds it awake.
    #[cold]
    fn poll(&mut self, deadline: Option<Instant>, interval: Duration) -> Result<Found, Stop> {
        let mut backoff = self.policy.backoff();
        while backoff.snooze() {
            if let Some(found_or_gone) = self.look() {
                return found_or_gone;
            }
        }
        let mut naps = 0u32;
        loop {
            let left = match deadline {
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(Stop::NotYet);
                    }
                    Some(deadline - now)
                }
                None => None,
            };
            // `ordered`: nothing is announced, so no wake-up is missed for
            // want of a barrier; the interval bounds every sleep anyway.
            let limit = cap(Some(interval), self.nap_limit(true, naps));
            std::thread::sleep(cap(left, limit).unwrap_or(interval));
            naps = naps.saturating_add(1);
            if let Some(found_or_gone) = self.look() {
                return found_or_gone;
            }
        }
    }
}

/// A blocking receiver's wait: its thread sleeps on the header's waiter
/// word, as the handshake's sleeper.
struct Sleeper<'r> {
    rx: &'r mut Receiver,
    deadline: Option<Instant>,
    /// The time left before the deadline, read before the announcement.
    left: Option<Duration>,
    /// Whether the word holds this receiver's announcement.
    announced: bool,
    /// Sleeps in this wait so far.
    naps: u32,
}

impl Waiter for Sleeper<'_> {
    type Found = Result<Found, Stop>;

    #[inline]
    fn look(&mut self) -> Option<Self::Found> {
        self.rx.look()
    }

    fn expired(&mut self) -> Option<Self::Found> {
        let deadline = self.deadline?;
        let now = Instant::now();
        if now >= deadline {
            return Some(Err(Stop::NotYet));
        }
        self.left = Some(deadline - now);
        None
    }

    fn announce(&mut self) -> bool {
        self.announced = true;
        let link = &self.rx.link;
        wait::announce(link.ring.header(), link.waiter(), link.barrier, MAY_SLEEP)
    }

    #[inline]
    fn found(&mut self) {
        if self.announced {
            self.announced = false;
            wait::settle(self.rx.link.waiter());
        }
    }

    fn park(&mut self, ordered: bool) {
        let timeout = cap(self.left, self.rx.nap_limit(ordered, self.naps));
        wait::sleep(self.rx.link.waiter(), timeout, self.naps);
        self.naps = self.naps.saturating_add(1);
        self.announced = false;
        wait::settle(self.rx.link.waiter());
    }
}

impl Receiver {
    /// The longest this receiver may sleep before it must look again
    /// without being woken (`None`: as long as it likes). Called just
    /// before each sleep, blocking or async, with the sleeps since the
    /// receiver last found a record (`naps`).
    pub(crate) fn nap_limit(&mut self, ordered: bool, naps: u32) -> Option<Duration> {
        if !ordered {
            return Some(wait::unordered_nap(naps));
        }
        if !self.link.is_file() {
            return None;
        }
        if self.consumer.waiting_on_producer() {
            // Its producer may die, and then nobody wakes us: look again
            // after each nap, and ask then whether it lives.
            self.consumer.hurry();
            Some(CLAIM_NAP)
        } else {
            Some(PRESENCE_NAP)
        }
    }
}

/// The shorter of a timeout and a limit (`None`: unlimited).
fn cap(timeout: Option<Duration>, limit: Option<Duration>) -> Option<Duration> {
    match (timeout, limit) {
        (Some(t), Some(l)) => Some(t.min(l)),
        (t, None) => t,
        (None, l) => l,
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.link.drop_receiver();
    }
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("consumer", &self.consumer)
            .field("policy", &self.policy)
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}
