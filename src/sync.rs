//! The one place that chooses between `std` and `loom` synchronisation types.
//!
//! Under `--cfg loom` every atomic the protocols touch is a `loom` atomic, so the
//! same claim/commit/release and wait/wake code is explored by the model checker.
//! Nothing else in the library imports `std::sync::atomic` directly (the
//! `logring` command, which is not modelled, uses std's for its signal flag).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

/// Orders this thread's own memory accesses for the compiler only: what a
/// process killed part-way through has executed, in program order. No
/// other thread synchronises with it, so loom has nothing to model.
pub(crate) use std::sync::atomic::compiler_fence;

// The async ends' waker slots and wait list, modelled too.
#[cfg(all(feature = "async", loom))]
pub(crate) use loom::{future::AtomicWaker, sync::Mutex};
#[cfg(all(feature = "async", not(loom)))]
pub(crate) use {atomic_waker::AtomicWaker, std::sync::Mutex};

/// One step of a spin-wait. Under loom, a yield to the model's scheduler (a
/// spinning thread must let the others run, or the model never ends).
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// Gives up the rest of this thread's time slice (a system call).
#[inline]
pub(crate) fn yield_now() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::thread::yield_now();
}

// The flags of a ring file's notifier thread (never modelled: ring files
// are not built under loom).
#[cfg(all(feature = "async", feature = "mmap", target_os = "linux", not(loom)))]
pub(crate) use std::sync::atomic::AtomicBool;
