//! The counting allocator of the tests that show a path allocates nothing
//! (`tests/alloc.rs`, `tests/events_alloc.rs`). Including this module makes
//! it the test binary's global allocator.
//!
//! It counts only while the current thread is inside [`allocations_during`],
//! so the test harness, other threads and other tests running in parallel do
//! not disturb the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

struct Counting;

thread_local! {
    /// Allocations by this thread since counting started; `None` when not
    /// counting. Const-initialised and without a destructor, so reading it
    /// from inside the allocator never allocates.
    static ALLOCATIONS: Cell<Option<u64>> = const { Cell::new(None) };
}

fn count_one() {
    // `try_with`: the allocator can be entered while this thread's locals are
    // being torn down.
    let _ = ALLOCATIONS.try_with(|count| {
        if let Some(n) = count.get() {
            count.set(Some(n + 1));
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counting touches no allocated memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded with the caller's guarantees for `layout`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded with the caller's guarantees for `layout`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: forwarded with the caller's guarantees: `ptr` came from this
        // allocator (hence from `System`) with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees, as in `realloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by the current thread while running `work`.
pub fn allocations_during(work: impl FnOnce()) -> u64 {
    ALLOCATIONS.set(Some(0));
    work();
    ALLOCATIONS.replace(None).unwrap()
}

/// Panics unless the counter sees an allocation: a count of zero elsewhere
/// means nothing was allocated, not that nothing was counted.
pub fn check_the_counter() {
    let count = allocations_during(|| {
        black_box(Vec::<u8>::with_capacity(black_box(64)));
    });
    assert!(count >= 1, "a Vec allocation was not counted");
}
