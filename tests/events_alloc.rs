//! Logging allocates nothing on the calling thread: once a callsite and the
//! thread are registered (their first event), `tracing::info!` with
//! structured fields and a formatted message, inside a span with fields, and
//! `log::info!` never touch the global allocator, while a writer thread
//! drains and decodes the ring.
//!
//! A counting allocator (`alloc_support`) counts only while the current thread is inside
//! [`allocations_during`], so the writer thread (which allocates as it
//! pleases), the test harness and the other test do not disturb the count.

#![cfg(not(miri))]

mod alloc_support;
mod events_support;

use std::hint::black_box;

use alloc_support::allocations_during;
use events_support::{SharedBuf, heap_ring, spawn_writer};
use logring::events::Format;
use tracing_subscriber::layer::SubscriberExt;

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

/// Allocations on the calling thread in [`EVENTS`] calls of `event`, after
/// [`WARM_UP`] calls not counted.
fn count_after_warm_up(event: fn()) -> u64 {
    for _ in 0..WARM_UP {
        event();
    }
    allocations_during(|| {
        for _ in 0..EVENTS {
            event();
        }
    })
}

#[test]
fn the_counter_sees_allocations() {
    alloc_support::check_the_counter();
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
        let count = count_after_warm_up(tracing_event);
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
    let count = count_after_warm_up(log_event);
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
