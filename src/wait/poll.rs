//! The portable fallback: a timed poll of the `waiter` word.
//!
//! There is no portable cross-process sleep on a word, so the sleeper naps and
//! the caller re-checks after each nap. Naps start at 50 µs and double with
//! each consecutive nap up to 100 ms, so a receiver idle for long costs at
//! most ten wake-ups a second, and one that was just busy reacts quickly.

use std::time::Duration;

use crate::sync::{AtomicU32, Ordering};

/// The first nap.
const FIRST_NAP: Duration = Duration::from_micros(50);
/// The longest nap.
const MAX_NAP: Duration = Duration::from_millis(100);

/// The nap after `naps` consecutive ones.
pub(super) fn nap(naps: u32) -> Duration {
    FIRST_NAP.saturating_mul(1 << naps.min(12)).min(MAX_NAP)
}

/// Naps once if `word == expected`, for at most `timeout`.
pub(super) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>, naps: u32) {
    // Relaxed: a hint; the caller re-checks the ring itself.
    if word.load(Ordering::Relaxed) != expected {
        return;
    }
    let nap = nap(naps);
    std::thread::sleep(timeout.map_or(nap, |t| t.min(nap)));
}

/// Nothing to do: sleepers wake by themselves.
#[cfg_attr(all(test, target_os = "linux"), allow(dead_code))]
pub(super) fn wake(_word: &AtomicU32) {}

/// Nothing to do: sleepers wake by themselves.
#[cfg_attr(all(test, target_os = "linux"), allow(dead_code))]
pub(super) fn wake_all(_word: &AtomicU32) {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn naps_grow_to_the_cap() {
        assert_eq!(nap(0), FIRST_NAP);
        assert_eq!(nap(1), FIRST_NAP * 2);
        assert_eq!(nap(11), MAX_NAP);
        assert_eq!(nap(u32::MAX), MAX_NAP);
    }

    #[test]
    fn returns_at_once_when_the_word_changed() {
        let word = AtomicU32::new(0);
        let start = Instant::now();
        wait(&word, 1, None, 20);
        assert!(start.elapsed() < MAX_NAP);
    }

    #[test]
    fn naps_at_most_the_timeout() {
        let word = AtomicU32::new(1);
        let start = Instant::now();
        wait(&word, 1, Some(Duration::from_millis(2)), 20);
        let slept = start.elapsed();
        assert!(slept >= Duration::from_millis(2));
        assert!(slept < MAX_NAP);
    }
}
