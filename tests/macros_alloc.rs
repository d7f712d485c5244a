//! Logging through logring's macros allocates nothing on the calling thread:
//! once a callsite and the thread are registered (their first event), calls
//! with integers, floats, strings, bytes, a custom `Display` type (the slow
//! path, formatted into the record) and widths from arguments never touch
//! the global allocator, while a writer thread drains and decodes the ring.
//!
//! The counting allocator (`alloc_support`) counts only while the current
//! thread is inside [`allocations_during`], so the writer thread (which
//! allocates as it pleases) and the test harness do not disturb the count.
//! One test function: the macros write into one global sender per process.

#![cfg(not(miri))]

mod alloc_support;
mod events_support;

use std::fmt;
use std::hint::black_box;

use alloc_support::allocations_during;
use events_support::{SharedBuf, field, heap_ring, json_lines, spawn_writer, str_key};
use logring::events::Format;

/// Calls counted.
const EVENTS: u64 = 10_000;
/// Calls made before counting: the first registers the callsites and the
/// thread.
const WARM_UP: u64 = 20;
/// Big enough for every event of the test: none is dropped, so the counted
/// path is the one that encodes and commits.
const RING: usize = 8 << 20;

/// A type of the slow path, formatted without allocating.
struct Side(bool);

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(if self.0 { "buy" } else { "sell" })
    }
}

/// The calls counted, each from its own callsite, the values behind
/// `black_box` so that none is folded into a constant.
fn log_calls(i: u64) {
    let id = black_box(i);
    let px = black_box(101.25f64);
    let venue = black_box("xnas");
    let width = black_box(8usize);
    logring::info!("order {} filled at {}", id, px);
    logring::info!(
        "{id:>6} {:+.2e} {} {} {:?} {}",
        black_box(-7i32),
        black_box(1.5f32),
        black_box('é'),
        black_box(&[1u8, 2][..]),
        black_box(u128::MAX)
    );
    logring::warn!(target: "fills", "{venue:?} {:>w$} {side:<5}|", venue, w = width, side = Side(id % 2 == 0));
}

#[test]
fn the_counter_sees_allocations() {
    alloc_support::check_the_counter();
}

#[test]
fn macro_calls_allocate_nothing_on_the_calling_thread() {
    let (sender, receiver) = heap_ring(RING);
    let out = SharedBuf::new();
    let writer = spawn_writer(receiver, &out, Format::Json);
    logring::events::set_global(sender).expect("the only set_global of this binary");

    for i in 0..WARM_UP {
        log_calls(i);
    }
    let count = allocations_during(|| {
        for i in WARM_UP..WARM_UP + EVENTS {
            log_calls(i);
        }
    });
    assert_eq!(
        count, 0,
        "allocations on the calling thread in {EVENTS} rounds of macro calls"
    );
    assert_eq!(logring::events::global_dropped(), 0, "events were dropped");

    // The counted calls wrote real events.
    drop(writer);
    let objects = json_lines(&out.lines());
    assert_eq!(objects.len() as u64, 3 * (WARM_UP + EVENTS));
    for (i, round) in (0..).zip(objects.chunks(3)) {
        assert_eq!(
            field(&round[0], "message"),
            format!("order {i} filled at 101.25").as_str(),
            "{}",
            round[0]
        );
        assert_eq!(
            field(&round[1], "message"),
            format!(
                "{i:>6} {:+.2e} {} {} {:?} {}",
                -7i32,
                1.5f32,
                'é',
                &[1u8, 2][..],
                u128::MAX
            )
            .as_str(),
            "{}",
            round[1]
        );
        let side = Side(i % 2 == 0);
        assert_eq!(
            field(&round[2], "message"),
            format!("\"xnas\" {:>8} {side:<5}|", "xnas").as_str(),
            "{}",
            round[2]
        );
        assert_eq!(str_key(&round[2], "target"), "fills");
    }
}
