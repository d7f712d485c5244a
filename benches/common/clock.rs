//! Time stamps for timing short regions one at a time: the TSC where it can
//! be read directly, `Instant` elsewhere.

use std::time::{Duration, Instant};

use super::BaseConfig;

/// Time stamps for timing one short region at a time (a queue operation).
///
/// On x86_64 they are TSC reads: `lfence; rdtsc; lfence` opens a timed
/// region and `lfence; rdtsc` closes it. The `lfence` before each read keeps
/// it from running before earlier instructions have completed; the one after
/// the opening read keeps the region from starting before the counter is
/// read (`rdtsc` takes tens of cycles, which the region would otherwise
/// overlap and hide). Stores the region made may still sit in the store
/// buffer when it closes, as they do on a hot path that goes on. The length
/// of a tick comes from counting ticks against `Instant` once, at start.
/// Elsewhere the stamps are `Instant` readings in ns, opening and closing
/// alike.
#[derive(Clone, Copy)]
pub struct Clock {
    /// Nanoseconds per tick.
    ns_per_tick: f64,
    /// What the stamps count from (targets where they come from `Instant`).
    #[cfg(not(target_arch = "x86_64"))]
    base: Instant,
}

/// The time-stamp counter.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn tsc() -> u64 {
    // SAFETY: every x86_64 CPU has the time-stamp counter; reading it
    // touches no memory.
    unsafe { std::arch::x86_64::_rdtsc() }
}

/// Waits for every earlier instruction to complete before any later one
/// starts.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn lfence() {
    // SAFETY: `lfence` is part of SSE2, which every x86_64 CPU has.
    unsafe { std::arch::x86_64::_mm_lfence() }
}

impl Clock {
    /// Counts ticks against `Instant` for `over`, busy (the core stays
    /// awake).
    pub fn calibrate(over: Duration) -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let (began, first) = (Instant::now(), tsc());
            while began.elapsed() < over {
                std::hint::spin_loop();
            }
            let (last, took) = (tsc(), began.elapsed());
            Self {
                ns_per_tick: took.as_nanos() as f64 / last.wrapping_sub(first).max(1) as f64,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = over;
            Self {
                ns_per_tick: 1.0,
                base: Instant::now(),
            }
        }
    }

    /// A clock counted elsewhere, `ns_per_tick` nanoseconds per tick: what
    /// a child process of a bench uses, so that parent and children time
    /// alike (the TSC is shared by every core and every process).
    pub fn with_ns_per_tick(ns_per_tick: f64) -> Self {
        Self {
            ns_per_tick,
            #[cfg(not(target_arch = "x86_64"))]
            base: Instant::now(),
        }
    }

    /// Nanoseconds per tick, for [`with_ns_per_tick`](Self::with_ns_per_tick).
    pub fn ns_per_tick(&self) -> f64 {
        self.ns_per_tick
    }

    /// A stamp for deadlines, not ordered with the instructions around it.
    #[inline(always)]
    pub fn now(&self) -> u64 {
        #[cfg(target_arch = "x86_64")]
        {
            tsc()
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self.base.elapsed().as_nanos() as u64
        }
    }

    /// The stamp that opens a timed region.
    #[inline(always)]
    pub fn open(&self) -> u64 {
        #[cfg(target_arch = "x86_64")]
        {
            lfence();
            let stamp = tsc();
            lfence();
            stamp
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self.now()
        }
    }

    /// The stamp that closes a timed region.
    #[inline(always)]
    pub fn close(&self) -> u64 {
        #[cfg(target_arch = "x86_64")]
        {
            lfence();
            tsc()
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self.now()
        }
    }

    /// Ticks in `span`.
    pub fn ticks(&self, span: Duration) -> u64 {
        (span.as_nanos() as f64 / self.ns_per_tick) as u64
    }

    /// Nanoseconds in `ticks`.
    pub fn ns(&self, ticks: u64) -> f64 {
        ticks as f64 * self.ns_per_tick
    }

    /// Spins until stamp `until` (yielding in smoke mode), touching no ring
    /// memory.
    pub fn wait_until(&self, until: u64, cfg: &BaseConfig) {
        while self.now() < until {
            cfg.idle();
        }
    }

    /// How the report names the timer.
    pub fn describe(&self) -> String {
        if cfg!(target_arch = "x86_64") {
            format!(
                "TSC, lfence; rdtsc; lfence before and lfence; rdtsc after, {:.3} GHz \
                 (counted against Instant at start)",
                1.0 / self.ns_per_tick
            )
        } else {
            "Instant before and after".into()
        }
    }
}
