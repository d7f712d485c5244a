//! How long a channel end spins before it gives up (a sender) or sleeps (a
//! receiver): the budget ([`SpinPolicy`]) and one wait's way through it.

use crate::sync::yield_now;

/// How long a channel end retries before it gives up (a sender) or goes to
/// sleep (a receiver).
///
/// A budget is counted in *rounds*: first `spins` rounds of busy-waiting,
/// round `i` spinning `2^min(i, 6)` times on [`std::hint::spin_loop`] (so at
/// most 64 times), then `yields` rounds that each give up the thread's time
/// slice ([`std::thread::yield_now`], a system call). The end retries after
/// every round.
///
/// - Senders default to [`SpinPolicy::SENDER`]: 32 spin rounds (1,727 spin-loop
///   hints, with a retry after each round) and no yields, so a sender never
///   makes a system call while it waits. On the benchmark machine a `send` on
///   a ring that stays full returns `Full` after about 26 µs (median; 38 µs
///   at p99; `cargo bench --bench channel -- full-budget`); a spin-loop hint
///   costs from a few to about 140 cycles depending on the CPU, so expect
///   5–100 µs elsewhere.
/// - Receivers default to [`SpinPolicy::RECEIVER`]: 16 spin rounds (703
///   hints), then sleep. They do not yield by default: on a busy machine a
///   yield can hand the core away for milliseconds, while a futex sleep is
///   woken in microseconds.
/// - Async ends (feature `async`) default to [`SpinPolicy::ASYNC`]: 4 spin
///   rounds (15 hints), then park.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpinPolicy {
    spins: u32,
    yields: u32,
}

impl SpinPolicy {
    /// Senders' default: 32 spin rounds, no yields.
    pub const SENDER: SpinPolicy = SpinPolicy::new(32, 0);
    /// Receivers' default: 16 spin rounds, no yields.
    pub const RECEIVER: SpinPolicy = SpinPolicy::new(16, 0);
    /// No retries: senders fail at once, receivers sleep at once.
    pub const NONE: SpinPolicy = SpinPolicy::new(0, 0);
    /// Async ends' default: 4 spin rounds (15 spin-loop hints, well under a
    /// microsecond), no yields. Enough to spare a task that has just caught
    /// up with the other side the cost of parking (see `crate::nonblocking`),
    /// too short to hold its executor's thread.
    pub const ASYNC: SpinPolicy = SpinPolicy::new(4, 0);

    /// A budget of `spins` busy-waiting rounds, then `yields` yielding ones.
    pub const fn new(spins: u32, yields: u32) -> Self {
        Self { spins, yields }
    }

    /// Busy-waiting rounds.
    pub const fn spins(&self) -> u32 {
        self.spins
    }

    /// Yielding rounds, after the busy-waiting ones.
    pub const fn yields(&self) -> u32 {
        self.yields
    }

    pub(crate) fn backoff(self) -> Backoff {
        Backoff {
            policy: self,
            round: 0,
            spin: crate::sync::Backoff::new(),
        }
    }
}

/// One wait's progress through a [`SpinPolicy`].
///
/// The spin rounds are crossbeam's `Backoff::spin`, whose steps are the
/// policy's rounds (`2^min(i, 6)` spin-loop hints); this adds the budget,
/// which crossbeam's has not: a count of rounds after which the wait gives
/// up. The yielding rounds are plain yields. (crossbeam's `snooze` starts
/// yielding after its seventh step whatever the policy, so it cannot serve
/// a budget of more or fewer spin rounds.)
pub(crate) struct Backoff {
    policy: SpinPolicy,
    round: u32,
    spin: crate::sync::Backoff,
}

impl Backoff {
    /// Waits one round; `false` (without waiting) once the budget is spent.
    #[inline]
    pub(crate) fn snooze(&mut self) -> bool {
        if self.round < self.policy.spins {
            self.spin.spin();
        } else if self.round - self.policy.spins < self.policy.yields {
            yield_now();
        } else {
            return false;
        }
        self.round += 1;
        true
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The budget is counted in rounds, whatever the spinning does: the
    /// policy's spin rounds, then its yield rounds, then no more.
    #[test]
    fn a_backoff_waits_exactly_the_policys_rounds() {
        for (spins, yields) in [(0, 0), (0, 2), (3, 0), (32, 0), (16, 3), (40, 1)] {
            let mut backoff = SpinPolicy::new(spins, yields).backoff();
            let mut rounds = 0;
            while backoff.snooze() {
                rounds += 1;
                assert!(rounds <= spins + yields, "{spins} + {yields} overrun");
            }
            assert_eq!(rounds, spins + yields);
            assert!(!backoff.snooze(), "a spent budget stays spent");
        }
    }
}
