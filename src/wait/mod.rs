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
//!
//! # Processes that differ
//!
//! The light barrier is a compiler fence only in a process that registered
//! for `membarrier`; then it is the sleeper's system call that fences the
//! publisher's core. Processes sharing a ring file need not agree: seccomp,
//! gVisor or an old kernel can deny `membarrier` to one of them, and the
//! switch below denies it on purpose. Every mix must hold:
//!
//! - **Publisher with real fences** (its process did not register): a
//!   `SeqCst` fence on each side, whatever the sleeper does.
//! - **Light publisher, sleeper with `membarrier`**: the system call fences
//!   every running thread of every registered process, the publisher's
//!   among them. If the call fails, the sleeper bounds its sleep.
//! - **Light publisher, sleeper without `membarrier`**: nothing fences the
//!   publisher's core, and a wake-up can be lost. So the sleeper must know
//!   whether such a publisher may exist. Every process whose publishers are
//!   light marks the ring's header (`light_barriers`) when it makes an end,
//!   before that end publishes anything: a `SeqCst` `fetch_or`, then a
//!   `SeqCst` fence. A sleeper without `membarrier` reads the mark after
//!   its own fence, and bounds its sleep (to [`UNORDERED_NAP`], growing up
//!   to [`UNORDERED_NAP_MAX`] while nothing arrives) if it is set.
//!
//! Why a sleeper that reads the mark as clear can trust the handshake: its
//! load follows its fence `X` and does not see the `fetch_or` `M`, so `X`
//! precedes `M` in the single total order of `SeqCst` operations (were `M`
//! first, a load after `X` would see `M` or later, and the mark is only
//! ever set). The marking process's fence `Y` comes after `M` in its own
//! thread, and the handles it then makes happen-after `Y` wherever they
//! run. So `X` precedes `Y`, and the publisher's load of `W` after any
//! commit, which happens after `Y`, sees the sleeper's `W := MAY_SLEEP`
//! (or a later value): the fence-to-fence case above. A publisher whose
//! process made its end *before* the sleeper's fence is covered the same
//! way with the roles of the loads turned: the sleeper then sees the mark
//! and bounds its sleep.
//!
//! The mark is sticky: once any light process has made an end of a ring, a
//! sleeper without `membarrier` on that ring naps rather than sleeps until
//! woken. Heap rings are seen by one process only, which is light only if
//! its sleepers have `membarrier`, so their mark never bounds a sleep.
//!
//! Setting the environment variable `LOGRING_NO_MEMBARRIER` (to anything
//! but `0` or nothing) makes the process act as one that `membarrier` is
//! denied to: real fences on publish, no system call on sleep. It is read
//! once, when the process makes its first channel end or ring file end.

#[cfg(all(target_os = "linux", not(loom)))]
mod futex;
mod handshake;
#[cfg(loom)]
mod model;
#[cfg(all(not(loom), any(test, not(target_os = "linux"))))]
mod poll;
mod tasks;

use std::time::Duration;

pub(crate) use handshake::{Waiter, wait};
pub(crate) use tasks::Tasks;

use crate::ring::layout::{AWAKE, Header, LIGHT_BARRIERS, MAY_SLEEP, TASK_WAITS};
use crate::sync::{AtomicU32, Ordering, compiler_fence, fence};

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
/// Processes sharing a ring file need not decide alike (see "Processes that
/// differ" in the module docs): a sleeper issues the system call whenever
/// the kernel offers it, whether or not its own process registered, so it
/// covers every publisher that relies on it; a publisher whose process
/// could not register uses real fences, which need nothing from the
/// sleeper; and a sleeper that cannot issue the call bounds its sleeps on
/// a ring that a light publisher may use.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Barrier {
    /// This process's publishers rely on sleepers' `membarrier`.
    asymmetric: bool,
    /// This process's sleepers can issue `membarrier`.
    expedited: bool,
}

impl Barrier {
    /// This process's barrier for the ring whose header is `header`
    /// (registering for `membarrier` on first use). Call it before the end
    /// it serves publishes anything: if this process's publishers are
    /// light, it marks the header for sleepers that cannot cover them.
    pub(crate) fn for_ring(header: &Header) -> Self {
        let (asymmetric, expedited) = modes();
        let barrier = Self {
            asymmetric,
            expedited,
        };
        if asymmetric {
            // SeqCst, and the fence after it: the sleeper's proof that a
            // mark it does not see cannot matter ("Processes that differ"
            // in the module docs). Once per end made, off the hot path.
            header
                .light_barriers
                .0
                .fetch_or(LIGHT_BARRIERS, Ordering::SeqCst);
            fence(Ordering::SeqCst);
        }
        barrier
    }

    /// Whether this process's publishers use the light barrier (and so mark
    /// the rings they publish to).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_light(self) -> bool {
        self.asymmetric
    }

    /// A barrier with the given modes, whatever this process has.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn with_modes(asymmetric: bool, expedited: bool) -> Self {
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
            compiler_fence(Ordering::SeqCst);
        } else {
            fence(Ordering::SeqCst);
        }
    }

    /// The sleeper's side: after it stores `MAY_SLEEP`, before it re-checks,
    /// on the ring whose header is `header`. Returns `false` if the
    /// handshake cannot be relied on this time (the system call failed, or
    /// this process cannot issue it and a light publisher may use the
    /// ring): the caller must then bound its sleep.
    pub(crate) fn heavy(self, header: &Header) -> bool {
        let covered = if self.expedited {
            global_membarrier()
        } else {
            true
        };
        // Our own side of the pair, whatever the publishers use.
        fence(Ordering::SeqCst);
        // Relaxed: ordered after the fence above, which is what the
        // argument in "Processes that differ" needs.
        covered
            && (self.expedited
                || header.light_barriers.0.load(Ordering::Relaxed) & LIGHT_BARRIERS == 0)
    }
}

/// How long a sleeper sleeps at first when `Barrier::heavy` says the
/// handshake cannot be relied on.
pub(crate) const UNORDERED_NAP: Duration = Duration::from_millis(1);
/// The longest such a sleep grows to while nothing arrives: an idle
/// receiver that cannot be sure of its wake-ups looks twenty times a
/// second.
pub(crate) const UNORDERED_NAP_MAX: Duration = Duration::from_millis(50);

/// The longest a sleeper sleeps when the one to wake it is another process,
/// which may be killed between taking the wake-up (the swap in `wake_slow`)
/// and making it: a ring file's async sender waiting for space (its
/// receivers have naps of their own, as long). The handshake holds; this
/// bounds only what a death in that window costs.
#[cfg(feature = "async")]
pub(crate) const DYING_WAKER_NAP: Duration = Duration::from_millis(50);

/// The bound on the `naps`-th consecutive sleep (from 0) of a sleeper whose
/// handshake cannot be relied on: [`UNORDERED_NAP`], doubling up to
/// [`UNORDERED_NAP_MAX`].
pub(crate) fn unordered_nap(naps: u32) -> Duration {
    UNORDERED_NAP
        .saturating_mul(1 << naps.min(16))
        .min(UNORDERED_NAP_MAX)
}

/// Whether this process's publishers use the asymmetric barrier pair (it
/// registered for `membarrier`), and whether its sleepers can issue the
/// barrier. Asked (and registered) once per process.
#[cfg(all(target_os = "linux", not(loom), not(miri)))]
fn modes() -> (bool, bool) {
    static MODES: std::sync::OnceLock<(bool, bool)> = std::sync::OnceLock::new();
    *MODES.get_or_init(|| {
        if membarrier_denied() {
            return (false, false);
        }
        let expedited = futex::expedited_supported();
        (expedited && futex::register_membarrier(), expedited)
    })
}

/// The variable that makes a process act as one denied `membarrier`.
#[cfg_attr(any(not(test), loom, miri), allow(dead_code))] // read where `modes` asks the kernel
pub(crate) const NO_MEMBARRIER_VAR: &str = "LOGRING_NO_MEMBARRIER";

/// Whether `LOGRING_NO_MEMBARRIER` asks this process to do without
/// `membarrier` (set, and neither empty nor `0`).
#[cfg(all(target_os = "linux", not(loom), not(miri)))]
fn membarrier_denied() -> bool {
    std::env::var_os(NO_MEMBARRIER_VAR).is_some_and(|value| !value.is_empty() && value != "0")
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

/// The sleeper's side of the handshake: announces on `waiter`, a word of the
/// ring whose header is `header`, as `who` (`MAY_SLEEP` for a thread that
/// will sleep on the word, `TASK_WAITS` for an async task of this process
/// whose waker is registered), that it may sleep. Returns `false` if a
/// sleep that follows must be bounded by [`unordered_nap`] (see
/// [`Barrier::heavy`]).
#[inline]
pub(crate) fn announce(header: &Header, waiter: &AtomicU32, barrier: Barrier, who: u32) -> bool {
    // Relaxed: ordered before the re-check by the heavy barrier. A swap, not
    // a store: see "Every write is a swap" in the module docs.
    waiter.swap(who, Ordering::Relaxed);
    barrier.heavy(header)
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::ring::Ring;
    use crate::ring::layout::Mode;

    fn ring() -> Ring {
        Ring::new_heap(Mode::Mpsc, 4096).unwrap()
    }

    #[test]
    fn a_sleeper_without_membarrier_bounds_its_sleep_once_a_light_publisher_marked_the_ring() {
        let ring = ring();
        let header = ring.header();
        let fenced_sleeper = Barrier::with_modes(false, false);
        assert!(fenced_sleeper.heavy(header), "no light publisher yet");
        header
            .light_barriers
            .0
            .store(LIGHT_BARRIERS, Ordering::Relaxed);
        assert!(
            !fenced_sleeper.heavy(header),
            "a light publisher's commit could go unseen: the sleep must be bounded"
        );
    }

    #[test]
    fn ends_of_a_light_process_mark_the_ring_before_they_publish() {
        let ring = ring();
        let barrier = Barrier::for_ring(ring.header());
        let marked = ring.header().light_barriers.0.load(Ordering::Relaxed) != 0;
        assert_eq!(marked, barrier.asymmetric);
        assert!(
            !barrier.asymmetric || barrier.expedited,
            "light implies membarrier"
        );
    }

    #[test]
    fn a_sleeper_with_membarrier_covers_light_publishers_itself() {
        let ring = ring();
        let header = ring.header();
        header
            .light_barriers
            .0
            .store(LIGHT_BARRIERS, Ordering::Relaxed);
        let (_, expedited) = modes();
        // Where the kernel offers the barrier, the sleeper's system call
        // covers the light publishers: no bound. Elsewhere it cannot.
        assert_eq!(Barrier::with_modes(false, true).heavy(header), expedited);
    }

    #[test]
    fn unordered_naps_grow_to_their_cap() {
        assert_eq!(unordered_nap(0), UNORDERED_NAP);
        assert_eq!(unordered_nap(1), UNORDERED_NAP * 2);
        assert_eq!(unordered_nap(5), UNORDERED_NAP_MAX.min(UNORDERED_NAP * 32));
        assert_eq!(unordered_nap(u32::MAX), UNORDERED_NAP_MAX);
    }
}
