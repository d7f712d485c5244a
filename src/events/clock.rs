//! The clock of the front ends' hot path: wall-clock nanoseconds since the
//! Unix epoch, read from the CPU's time-stamp counter where it is invariant
//! (x86_64), converted on the calling thread.
//!
//! Each thread keeps an *anchor*: a (counter, wall clock) pair it read
//! together, and the counter's rate. A read is the counter, one comparison
//! and a multiply-shift from the anchor; the anchor is renewed from the
//! wall clock (a vDSO read, no system call) once it is a span old, so the
//! time never strays from the wall clock by more than the rate's error over
//! one span. The rate is measured against the wall clock over the process's
//! life (from its first read), and the span grows with the measurement: a
//! tenth of the time measured over, at most a second.
//!
//! Every record thus carries nanoseconds of the wall clock: whoever decodes
//! it needs no calibration, and records of every front end and process in a
//! ring compare. Where the counter is not invariant (or not x86_64), the
//! wall clock is read every time. BENCHMARKS.md ("Clocks") has the costs.

use crate::ring::event::now_ns as wall_ns;

/// Nanoseconds since the Unix epoch (0 for a clock before 1970).
#[inline]
pub(crate) fn now_ns() -> u64 {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        tsc::now_ns()
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        wall_ns()
    }
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
mod tsc {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

    use super::wall_ns;

    /// Nanoseconds the rate must be measured over before the counter is
    /// used.
    const MEASURE_MIN_NS: u64 = 10_000_000;
    /// The longest span between two anchors of a thread.
    const SPAN_MAX_NS: u64 = 1_000_000_000;
    /// A pair whose two counter reads are further apart than this is read
    /// again (the thread was preempted in between).
    const PAIR_MAX_TICKS: u64 = 20_000;

    /// A thread's (counter, wall clock) pair, the rate as nanoseconds per
    /// tick in 32.32 fixed point, and how many ticks it serves.
    #[derive(Clone, Copy)]
    struct Anchor {
        tsc: u64,
        ns: u64,
        mult: u64,
        span: u64,
    }

    thread_local! {
        /// Serves no tick until the first read renews it.
        static ANCHOR: Cell<Anchor> = const {
            Cell::new(Anchor { tsc: 0, ns: 0, mult: 0, span: 0 })
        };
    }

    /// Whether the counter is invariant: 0 not known yet, 1 yes, 2 no.
    static INVARIANT: AtomicU8 = AtomicU8::new(0);
    /// The process's first pair, which the rate is measured from (counter
    /// 0: not read yet).
    static BASE_TSC: AtomicU64 = AtomicU64::new(0);
    static BASE_NS: AtomicU64 = AtomicU64::new(0);

    #[inline]
    fn rdtsc() -> u64 {
        // SAFETY: `rdtsc` exists on every x86_64 CPU and only reads the
        // counter.
        #[allow(unused_unsafe)]
        unsafe {
            core::arch::x86_64::_rdtsc()
        }
    }

    #[inline]
    pub(super) fn now_ns() -> u64 {
        let anchor = ANCHOR.with(Cell::get);
        let ticks = rdtsc().wrapping_sub(anchor.tsc);
        // One comparison also catches a counter behind the anchor (a thread
        // moved to a CPU whose counter lags): the difference wraps, huge.
        if ticks < anchor.span {
            return anchor.ns + ((u128::from(ticks) * u128::from(anchor.mult)) >> 32) as u64;
        }
        renew()
    }

    /// Reads the wall clock, renews the thread's anchor from it if the
    /// counter can be used, and returns it.
    #[cold]
    fn renew() -> u64 {
        if !invariant() {
            return wall_ns();
        }
        let Some((tsc, ns)) = pair() else {
            return wall_ns();
        };
        // Relaxed: the base pair is two numbers read once; a thread that
        // sees one without the other measures from a pair of its own
        // (below), then agrees with the others once both are seen.
        let base_tsc = match BASE_TSC.load(Ordering::Relaxed) {
            0 => {
                BASE_NS.store(ns, Ordering::Relaxed);
                BASE_TSC.store(tsc, Ordering::Relaxed);
                return ns;
            }
            base => base,
        };
        let base_ns = BASE_NS.load(Ordering::Relaxed);
        let (Some(ticks), Some(elapsed)) = (tsc.checked_sub(base_tsc), ns.checked_sub(base_ns))
        else {
            // The wall clock was set back, or the base is a fork's: measure
            // again from here.
            rebase(tsc, ns);
            return ns;
        };
        if elapsed < MEASURE_MIN_NS || ticks == 0 {
            return ns;
        }
        let mult = ((u128::from(elapsed) << 32) / u128::from(ticks)) as u64;
        // A counter slower than 1 tick in 4 s or faster than 2^32 a second
        // is not a counter to use: the wall clock was set, most likely.
        if mult == 0 || mult >= 1 << 62 {
            rebase(tsc, ns);
            return ns;
        }
        let span_ns = (elapsed / 10).min(SPAN_MAX_NS);
        let span = ((u128::from(span_ns) << 32) / u128::from(mult)).min(u128::from(u64::MAX));
        ANCHOR.with(|cell| {
            cell.set(Anchor {
                tsc,
                ns,
                mult,
                span: span as u64,
            })
        });
        ns
    }

    /// Starts measuring the rate again from `(tsc, ns)`.
    fn rebase(tsc: u64, ns: u64) {
        // Relaxed: see `renew`.
        BASE_NS.store(ns, Ordering::Relaxed);
        BASE_TSC.store(tsc, Ordering::Relaxed);
    }

    /// A counter and wall clock read together: the counter's midpoint
    /// around the wall clock's read.
    fn pair() -> Option<(u64, u64)> {
        for _ in 0..4 {
            let before = rdtsc();
            let ns = wall_ns();
            let after = rdtsc();
            let ticks = after.wrapping_sub(before);
            if ticks <= PAIR_MAX_TICKS && before != 0 {
                return Some((before + ticks / 2, ns));
            }
        }
        None
    }

    /// Whether the CPU says its counter runs at a constant rate in every
    /// state (CPUID leaf 0x8000_0007, EDX bit 8).
    fn invariant() -> bool {
        // Relaxed: a fact about the CPU, the same whoever computes it.
        match INVARIANT.load(Ordering::Relaxed) {
            1 => true,
            2 => false,
            _ => {
                let yes = cpu_says_invariant();
                INVARIANT.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
                yes
            }
        }
    }

    fn cpu_says_invariant() -> bool {
        use core::arch::x86_64::__cpuid;
        // SAFETY: `cpuid` exists on every x86_64 CPU; leaf 0x8000_0000
        // gives the highest extended leaf, which is checked before 0x8000_0007
        // is asked for.
        #[allow(unused_unsafe)]
        unsafe {
            __cpuid(0x8000_0000).eax >= 0x8000_0007 && __cpuid(0x8000_0007).edx & (1 << 8) != 0
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn follows_the_wall_clock() {
            // Past the measuring time, so that the counter is used.
            let start = wall_ns();
            while wall_ns() - start < 3 * MEASURE_MIN_NS {
                now_ns();
            }
            for _ in 0..1000 {
                let before = wall_ns();
                let now = now_ns();
                let after = wall_ns();
                // Within a millisecond of the wall clock read around it.
                assert!(
                    now + 1_000_000 >= before && now <= after + 1_000_000,
                    "{before} <= {now} <= {after}"
                );
            }
            if invariant() {
                assert!(ANCHOR.with(Cell::get).span > 0, "the counter is in use");
            }
        }
    }
}
