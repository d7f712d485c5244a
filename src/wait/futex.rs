//! Linux: a shared futex on the header's `waiter` word, and `membarrier`.

use std::time::Duration;

use rustix::thread::futex;
use rustix::thread::{MembarrierCommand, MembarrierQuery, membarrier, membarrier_query};

use crate::sync::AtomicU32;

/// Sleeps while `word == expected`, for at most `timeout`. Every outcome
/// (woken, timed out, interrupted, value already changed) returns; the
/// caller re-checks.
pub(super) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>, _naps: u32) {
    // A timeout too large for a timespec is as good as none.
    let timeout = timeout.and_then(|t| futex::Timespec::try_from(t).ok());
    // No `PRIVATE` flag: the word may sit in memory shared with other
    // processes, and a shared futex is keyed on the memory, not the process.
    let _ = futex::wait(word, futex::Flags::empty(), expected, timeout.as_ref());
}

/// Wakes the sleeper on `word`, if any (a ring has at most one).
pub(super) fn wake(word: &AtomicU32) {
    // An error here (there is none for a valid address) could only mean the
    // sleeper is not woken by us; it cannot be acted upon.
    let _ = futex::wake(word, futex::Flags::empty(), 1);
}

/// Wakes every sleeper on `word` (senders waiting for space, in any process).
pub(super) fn wake_all(word: &AtomicU32) {
    // As in `wake`. The kernel reads the count as an `int`: `i32::MAX` is
    // "all".
    let _ = futex::wake(word, futex::Flags::empty(), i32::MAX as u32);
}

/// Whether the kernel offers `MEMBARRIER_CMD_GLOBAL_EXPEDITED` and its
/// registration.
#[cfg_attr(miri, allow(dead_code))] // miri has no membarrier: fences are used
pub(super) fn expedited_supported() -> bool {
    membarrier_query()
        .contains(MembarrierQuery::GLOBAL_EXPEDITED | MembarrierQuery::REGISTER_GLOBAL_EXPEDITED)
}

/// Registers this process for `MEMBARRIER_CMD_GLOBAL_EXPEDITED`; `true` if
/// the process's publishers can use the asymmetric barrier pair.
#[cfg_attr(miri, allow(dead_code))]
pub(super) fn register_membarrier() -> bool {
    membarrier(MembarrierCommand::RegisterGlobalExpedited).is_ok()
}

/// A full memory barrier on every running thread of every registered
/// process; `false` if the call failed.
#[cfg_attr(miri, allow(dead_code))]
pub(super) fn global_membarrier() -> bool {
    membarrier(MembarrierCommand::GlobalExpedited).is_ok()
}
