//! Sleeping and waking across threads and processes, through 32-bit words in
//! the ring's header.
//!
//! A receiver that finds nothing to read sleeps on the header's `waiter` word;
//! a producer that publishes something wakes it. Both the word and the sleep
//! live in the ring's memory, so the same code serves a ring shared between
//! processes.
//!
//! The same handshake, with the roles turned round, serves async senders
//! waiting for space: they sleep on the header's `space_waiter` word (any
//! number of them), and the consumer, after publishing a new `head`, is the
//! publisher ([`notify_space`]). And an async task of the ring's own process
//! "sleeps" by registering its waker in the ring's [`Tasks`] and announcing
//! `TASK_WAITS` instead of `MAY_SLEEP`; a publisher that swaps that value out
//! wakes the waker rather than the futex. Ring files never hold
//! `TASK_WAITS`: their async ends have a notifier thread sleep on the word.
//!
//! - Linux (`futex.rs`): a *shared* futex (not `FUTEX_PRIVATE_FLAG`), which
//!   works between processes that map the same file.
//! - Elsewhere (`poll.rs`): a timed poll: the sleeper naps, re-checking the
//!   word, with naps growing from 50 µs to a cap of 100 ms. A wake is then a
//!   no-op, and a wake-up can take up to one nap.
//! - Under loom (`model.rs`): a model futex built from a loom mutex and
//!   condition variable, so the handshake below is model-checked.
//!
//! # The handshake: why a wake-up cannot be lost
//!
//! The receiver (one per ring) and any number of producers share two things:
//! the record word at the receiver's `head` (`R`) and the `waiter` word (`W`).
//!
//! ```text
//! receiver, going to sleep            producer, publishing
//! ------------------------            --------------------
//! W := MAY_SLEEP                      R := committed (or padding)    (Release)
//! heavy barrier       <-- pairs -->   light barrier
//! re-check R (and disconnect)         if W != AWAKE:
//! if nothing: sleep while W ==            if swap(W, AWAKE) != AWAKE: wake
//!                 MAY_SLEEP
//! W := AWAKE
//! ```
//!
//! The two barriers together act as a sequentially consistent fence on each
//! side (see [`Barrier`]), so of the two stores, `W := MAY_SLEEP` and
//! `R := committed`, at least one is seen by the other side's load that
//! follows its barrier:
//!
//! - if the receiver's re-check sees the record, it does not sleep;
//! - otherwise the producer's load sees `MAY_SLEEP` and it wakes the receiver.
//!   The kernel checks `W == MAY_SLEEP` and queues the sleeper atomically with
//!   respect to wakers, and the producer stores `AWAKE` before it wakes, so a
//!   receiver that has not yet slept when the wake is sent does not sleep at
//!   all, and one that has is woken.
//!
//! The `swap` lets exactly one of several producers pay for the wake system
//! call. A wake that arrives when the receiver is already awake (a late
//! producer, or a receiver that re-announced in between) is a spurious
//! wake-up: the receiver re-checks and sleeps again. Spurious and early
//! wake-ups are therefore harmless, and deadlines are enforced by the caller
//! looping until the clock says so. A dropping sender is a publisher too: it
//! lowers the sender count (the receiver's disconnect check) where a commit
//! stores `R`, then follows the same steps.
//!
//! **Every write is a swap.** The receiver announces and settles with `swap`
//! rather than `store`, so every write to `W` is a read-modify-write and the
//! writes form one chain. The argument above needs that only through
//! coherence, which plain stores also give; but the model checker (loom)
//! orders plain stores of different threads only by happens-before, and
//! without the chain it reports a lost wake-up that the memory model rules
//! out: a producer whose own earlier `swap` it lets read as newer than the
//! receiver's later announcement. The swaps are on the receiver's sleep path
//! only.
//!
//! In the common case, the receiver is awake and `W` is `AWAKE`: the producer
//! pays the light barrier and one load of a line that only changes when the
//! receiver goes to sleep, so it stays in the producer's cache.

#[cfg(all(target_os = "linux", not(loom)))]
mod futex;
#[cfg(loom)]
mod model;
#[cfg(all(not(loom), any(test, not(target_os = "linux"))))]
mod poll;
mod tasks;

use std::time::Duration;

pub(crate) use tasks::Tasks;

use crate::ring::layout::{AWAKE, MAY_SLEEP, TASK_WAITS};
use crate::sync::{AtomicU32, Ordering, fence};

#[cfg(all(target_os = "linux", not(loom)))]
use futex as os;
#[cfg(loom)]
use model as os;
#[cfg(all(not(loom), not(target_os = "linux")))]
use poll as os;

/// The barriers of the handshake: one *light* barrier on every publish, one
/// *heavy* barrier on every sleep.
///
/// Both are `fence(SeqCst)` unless the process can use Linux's
/// `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)`. Then the light barrier is a
/// compiler fence only (free at run time) and the heavy barrier is the system
/// call, which makes every running thread of every registered process execute
/// a full memory barrier before it returns: the pair orders the two sides as
/// two `SeqCst` fences would. The receiver pays one system call (interrupts
/// to the cores running registered threads) per sleep, a path it takes only
/// after spinning; the producer's commit keeps the price of a plain store. On x86 a
/// `SeqCst` fence is an `mfence`, which would otherwise be the largest cost of
/// a small commit (`BENCHMARKS.md` has the measurement).
///
/// Processes register once, when they first make a channel end.
///
/// Processes sharing a ring file need not decide alike: a sleeper issues the
/// system call whenever the kernel offers it, whether or not its own process
/// registered, so it covers every publisher that relies on it; a publisher
/// whose process could not register uses real fences, which need nothing
/// from the sleeper.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Barrier {
    /// This process's publishers rely on sleepers' `membarrier`.
    asymmetric: bool,
    /// This process's sleepers can issue `membarrier`.
    expedited: bool,
}

impl Barrier {
    /// This process's barrier (registering for `membarrier` on first use).
    pub(crate) fn get() -> Self {
        let (asymmetric, expedited) = modes();
        Self {
            asymmetric,
            expedited,
        }
    }

    /// The publisher's side: after its store, before it loads `waiter`.
    #[inline]
    pub(crate) fn light(self) {
        if self.asymmetric {
            // The heavy barrier of a sleeping receiver supplies the hardware
            // fence; only the compiler must keep the store before the load.
            std::sync::atomic::compiler_fence(Ordering::SeqCst);
        } else {
            fence(Ordering::SeqCst);
        }
    }

    /// The sleeper's side: after it stores `MAY_SLEEP`, before it re-checks.
    /// Returns `false` if the handshake cannot be relied on this time (the
    /// system call failed, so publishers' light barriers are not covered):
    /// the caller must then bound its sleep.
    pub(crate) fn heavy(self) -> bool {
        let covered = !self.expedited || global_membarrier();
        // Our own side of the pair, whatever the publishers use.
        fence(Ordering::SeqCst);
        covered
    }
}

/// How long a receiver sleeps at most when `Barrier::heavy` failed.
pub(crate) const UNORDERED_NAP: Duration = Duration::from_millis(1);

/// Whether this process's publishers use the asymmetric barrier pair (it
/// registered for `membarrier`), and whether its sleepers can issue the
/// barrier. Asked (and registered) once per process.
#[cfg(all(target_os = "linux", not(loom), not(miri)))]
fn modes() -> (bool, bool) {
    static MODES: std::sync::OnceLock<(bool, bool)> = std::sync::OnceLock::new();
    *MODES.get_or_init(|| {
        let expedited = futex::expedited_supported();
        (expedited && futex::register_membarrier(), expedited)
    })
}

#[cfg(not(all(target_os = "linux", not(loom), not(miri))))]
fn modes() -> (bool, bool) {
    (false, false)
}

/// Issues the global membarrier; `false` if it failed.
#[cfg(all(target_os = "linux", not(loom), not(miri)))]
fn global_membarrier() -> bool {
    futex::global_membarrier()
}

#[cfg(not(all(target_os = "linux", not(loom), not(miri))))]
fn global_membarrier() -> bool {
    false
}

/// The sleeper's side of the handshake: announces, as `who` (`MAY_SLEEP` for
/// a thread that will sleep on the word, `TASK_WAITS` for an async task of
/// this process whose waker is registered), that it may sleep. Returns
/// `false` if a sleep that follows must be bounded by [`UNORDERED_NAP`] (see
/// [`Barrier::heavy`]).
#[inline]
pub(crate) fn announce(waiter: &AtomicU32, barrier: Barrier, who: u32) -> bool {
    // Relaxed: ordered before the re-check by the heavy barrier. A swap, not
    // a store: see "Every write is a swap" in the module docs.
    waiter.swap(who, Ordering::Relaxed);
    barrier.heavy()
}

/// The receiver's side: sleeps while `waiter` reads `MAY_SLEEP`, for at most
/// `timeout` (`None`: no limit). May return early or spuriously; the caller
/// re-checks. `naps` counts the sleeps since the receiver last found work
/// (the poll fallback lengthens its naps with it).
pub(crate) fn sleep(waiter: &AtomicU32, timeout: Option<Duration>, naps: u32) {
    os::wait(waiter, MAY_SLEEP, timeout, naps);
}

/// The sleeper's side: no longer asleep (after a sleep, or after a re-check
/// that found work).
#[inline]
pub(crate) fn settle(waiter: &AtomicU32) {
    // Relaxed: only stops producers from paying for wakes nobody needs. A
    // swap, not a store: see "Every write is a swap" in the module docs.
    waiter.swap(AWAKE, Ordering::Relaxed);
}

/// The publisher's side, after its store: wakes the receiver if it may be
/// asleep (on the header's `waiter` word), or its task if one of `tasks`
/// waits.
#[inline]
pub(crate) fn notify(waiter: &AtomicU32, barrier: Barrier, tasks: Option<&Tasks>) {
    barrier.light();
    // Relaxed: the barriers order this load against the receiver's
    // announcement (module docs).
    if waiter.load(Ordering::Relaxed) != AWAKE {
        wake_slow(waiter, tasks, Sleepers::Receiver);
    }
}

/// The consumer's side, after it published a new `head`: wakes the senders
/// waiting for space (on the header's `space_waiter` word), if any may be.
/// The same handshake as [`notify`], with the roles turned round.
#[inline]
pub(crate) fn notify_space(space_waiter: &AtomicU32, barrier: Barrier, tasks: Option<&Tasks>) {
    barrier.light();
    // Relaxed: as in `notify`.
    if space_waiter.load(Ordering::Relaxed) != AWAKE {
        wake_slow(space_waiter, tasks, Sleepers::Senders);
    }
}

/// Wakes every thread asleep on `word` (an async end's notifier thread
/// stopping, whose word others may sleep on too).
#[cfg(all(feature = "async", feature = "mmap", target_os = "linux", not(loom)))]
pub(crate) fn wake_all(word: &AtomicU32) {
    os::wake_all(word);
}

/// Who sleeps on a word: one receiver, or any number of senders.
#[derive(Clone, Copy)]
enum Sleepers {
    Receiver,
    Senders,
}

#[cold]
fn wake_slow(word: &AtomicU32, tasks: Option<&Tasks>, sleepers: Sleepers) {
    // Relaxed: the wake itself is the signal; the sleeper re-checks the ring
    // with Acquire loads once it runs.
    match (word.swap(AWAKE, Ordering::Relaxed), tasks) {
        (AWAKE, _) => {}
        (TASK_WAITS, Some(tasks)) => match sleepers {
            Sleepers::Receiver => tasks.wake_receiver(),
            Sleepers::Senders => tasks.wake_senders(),
        },
        // A thread may be asleep on the word (a receiver, or an async end's
        // notifier thread), perhaps in another process.
        _ => match sleepers {
            Sleepers::Receiver => os::wake(word),
            Sleepers::Senders => os::wake_all(word),
        },
    }
}
