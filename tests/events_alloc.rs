//! Logging allocates nothing on the calling thread: once a callsite and the
//! thread are registered (their first event), `tracing::info!` with
//! structured fields and a formatted message, inside a span with fields, and
//! `log::info!` never touch the global allocator, while a writer thread
//! drains and decodes the ring.
//!
//! A counting allocator counts only while the current thread is inside
//! [`allocations_during`], so the writer thread (which allocates as it
//! pleases), the test harness and the other test do not disturb the count.

#![cfg(not(miri))]

mod events_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use events_support::{SharedBuf, heap_ring, spawn_writer};
use logring::events::Format;
use tracing_subscriber::layer::SubscriberExt;

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
fn allocations_during(work: impl FnOnce()) -> u64 {
    ALLOCATIONS.set(Some(0));
    work();
    ALLOCATIONS.replace(None).unwrap()
}

/// Events counted per test.
const EVENTS: u64 = 10_000;
/// Events logged at each callsite before counting: the first registers the
/// callsite and the thread, the next ones settle the callsite's claim size.
const WARM_UP: u64 = 20;
/// Big enough for every event of a test: none is dropped, so the counted
/// path is the one that encodes and commits.
const RING: usize = 4 << 20;
/// The field values, behind `black_box` so none is folded into a constant.
const A: u64 = 1;
const B: f64 = 2.5;
const S: &str = "x";
const M: u64 = 3;

/// The one `tracing` callsite the test counts.
fn tracing_event() {
    tracing::info!(
        a = black_box(A),
        b = black_box(B),
        s = black_box(S),
        "m {}",
        black_box(M)
    );
}

/// The one `log` callsite the test counts.
fn log_event() {
    log::info!("m {} a={} s={}", black_box(M), black_box(A), black_box(S));
}

#[test]
fn the_counter_sees_allocations() {
    let count = allocations_during(|| {
        black_box(Vec::<u8>::with_capacity(black_box(64)));
    });
    assert!(count >= 1, "a Vec allocation was not counted");
}

#[test]
fn tracing_events_allocate_nothing_on_the_calling_thread() {
    let (sender, receiver) = heap_ring(RING);
    let out = SharedBuf::new();
    let writer = spawn_writer(receiver, &out, Format::Json);
    let subscriber = tracing_subscriber::registry().with(logring::tracing::Layer::new(sender));
    tracing::subscriber::with_default(subscriber, || {
        // Creating a span may allocate (its fields are kept with it); an
        // event inside it must not.
        let span = tracing::info_span!("request", id = 7u64, user = "ada", ratio = 0.5);
        let _entered = span.enter();
        for _ in 0..WARM_UP {
            tracing_event();
        }
        let count = allocations_during(|| {
            for _ in 0..EVENTS {
                tracing_event();
            }
        });
        assert_eq!(
            count, 0,
            "allocations on the calling thread in {EVENTS} tracing events"
        );
    });
    drop(writer);
    check_output(&out, WARM_UP + EVENTS, |object| {
        assert_eq!(object["fields"]["a"], 1, "{object}");
        assert_eq!(object["fields"]["b"], 2.5, "{object}");
        assert_eq!(object["fields"]["s"], "x", "{object}");
        assert_eq!(object["fields"]["message"], "m 3", "{object}");
        assert_eq!(object["span"]["name"], "request", "{object}");
        assert_eq!(object["span"]["id"], 7, "{object}");
        assert_eq!(object["span"]["user"], "ada", "{object}");
    });
}

#[test]
fn log_records_allocate_nothing_on_the_calling_thread() {
    let (sender, receiver) = heap_ring(RING);
    let out = SharedBuf::new();
    let writer = spawn_writer(receiver, &out, Format::Json);
    // The only test of this binary that logs through `log`.
    logring::log::Logger::new(sender)
        .init(log::LevelFilter::Info)
        .expect("no other logger is set in this test binary");
    for _ in 0..WARM_UP {
        log_event();
    }
    let count = allocations_during(|| {
        for _ in 0..EVENTS {
            log_event();
        }
    });
    assert_eq!(
        count, 0,
        "allocations on the calling thread in {EVENTS} log records"
    );
    drop(writer);
    check_output(&out, WARM_UP + EVENTS, |object| {
        assert_eq!(object["fields"]["message"], "m 3 a=1 s=x", "{object}");
        assert_eq!(object["level"], "INFO", "{object}");
    });
}

/// The writer decoded exactly `events` events, each passing `check`: the
/// counted path wrote real events, not nothing.
fn check_output(out: &SharedBuf, events: u64, check: impl Fn(&serde_json::Value)) {
    let lines = out.lines();
    assert_eq!(
        lines.len() as u64,
        events,
        "decoded lines; the first: {:?}",
        lines.first()
    );
    for object in events_support::json_lines(&lines) {
        check(&object);
    }
}
