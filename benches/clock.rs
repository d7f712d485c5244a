//! What reading the time costs the thread that logs: the clocks an event's
//! timestamp could come from, read back to back on one thread.
//!
//! - `tsc`: the time-stamp counter alone (`rdtsc`, x86_64), which gives
//!   ticks, not a time: the floor of every counter-based clock.
//! - `logring`: the clock of logring's front ends: the counter converted to
//!   wall-clock nanoseconds on the calling thread (see the crate's
//!   `events::clock` module); the wall clock where the counter is not
//!   invariant.
//! - `SystemTime::now`: the wall clock through libc's `clock_gettime`
//!   (the vDSO: no system call).
//! - `Instant::now`: the monotonic clock, the same way.
//!
//! Each run reads a clock `LOGRING_BENCH_CLOCK_READS` times (1,000,000) in a
//! loop and divides the loop's time by the reads; runs alternate among the
//! clocks `LOGRING_BENCH_PAIRS` times (15), and the median and range of
//! each clock's runs are reported, with the median ratio to `logring`'s
//! run in the same round. Without `--bench` (as under `cargo test
//! --benches`), every clock is read a few times and checked, nothing timed.

use std::hint::black_box;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

mod common;

use common::BaseConfig;

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(target_arch = "x86_64")]
fn tsc() -> u64 {
    // SAFETY: every x86_64 CPU has the time-stamp counter; reading it
    // touches no memory.
    unsafe { std::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
fn tsc() -> u64 {
    0
}

/// A clock's name, and the function that reads it.
type Clock = (&'static str, fn() -> u64);

fn clocks() -> Vec<Clock> {
    vec![
        ("logring", logring::__private::now_ns),
        ("tsc", tsc),
        ("SystemTime::now", wall_ns),
        ("Instant::now", || {
            black_box(Instant::now());
            0
        }),
    ]
}

/// Nanoseconds per read of `clock` over `reads` reads.
fn run(clock: fn() -> u64, reads: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..reads {
        black_box(clock());
    }
    start.elapsed().as_nanos() as f64 / reads as f64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let cfg = BaseConfig::from_env(None);
    if cfg.smoke {
        let before = wall_ns();
        let now = logring::__private::now_ns();
        let after = wall_ns();
        assert!(now + 1_000_000 >= before && now <= after + 1_000_000);
        for (name, clock) in clocks() {
            run(clock, 10);
            println!("clock {name}: read");
        }
        return;
    }
    let reads: u64 = std::env::var("LOGRING_BENCH_CLOCK_READS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    cfg.pin(0);
    cfg.print_placement_and_flagging();
    let clocks = clocks();
    // Past the logring clock's measuring time, so that its counter is used.
    let warm = Instant::now();
    while warm.elapsed().as_millis() < 50 {
        for (_, clock) in &clocks {
            black_box(clock());
        }
    }
    let mut times = vec![Vec::new(); clocks.len()];
    for _ in 0..cfg.pairs {
        for (i, (_, clock)) in clocks.iter().enumerate() {
            times[i].push(run(*clock, reads));
        }
    }
    println!(
        "{:<18} {:>10} {:>20} {:>12}",
        "clock", "ns/read", "range", "x logring"
    );
    for (i, (name, _)) in clocks.iter().enumerate() {
        let mut ratios: Vec<f64> = times[i]
            .iter()
            .zip(&times[0])
            .map(|(t, reference)| t / reference)
            .collect();
        let mut own = times[i].clone();
        let lo = own.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = own.iter().copied().fold(0.0, f64::max);
        println!(
            "{name:<18} {:>10.2} {:>20} {:>12.2}",
            median(&mut own),
            format!("{lo:.2}..{hi:.2}"),
            median(&mut ratios)
        );
    }
}
