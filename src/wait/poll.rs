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
    if let Some(nap) = nap_for(word.load(Ordering::Relaxed), expected, timeout, naps) {
        std::thread::sleep(nap);
    }
}

/// How long [`wait`] naps when it finds `current` in the word: not at all
/// if the word changed, else the nap after `naps` consecutive ones, cut to
/// `timeout`.
fn nap_for(current: u32, expected: u32, timeout: Option<Duration>, naps: u32) -> Option<Duration> {
    if current != expected {
        return None;
    }
    let nap = nap(naps);
    Some(timeout.map_or(nap, |t| t.min(nap)))
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
        assert_eq!(nap(10), FIRST_NAP * 1024);
        assert_eq!(nap(11), MAX_NAP);
        assert_eq!(nap(u32::MAX), MAX_NAP);
    }

    #[test]
    fn no_nap_when_the_word_changed() {
        for timeout in [None, Some(Duration::ZERO), Some(Duration::from_secs(1))] {
            for naps in [0, 20, u32::MAX] {
                assert_eq!(nap_for(0, 1, timeout, naps), None);
            }
        }
    }

    #[test]
    fn a_nap_is_cut_to_the_timeout() {
        let ms = Duration::from_millis;
        assert_eq!(nap_for(1, 1, None, 0), Some(FIRST_NAP));
        assert_eq!(nap_for(1, 1, None, 20), Some(MAX_NAP));
        assert_eq!(nap_for(1, 1, Some(ms(2)), 20), Some(ms(2)));
        assert_eq!(nap_for(1, 1, Some(ms(2)), 0), Some(FIRST_NAP));
        assert_eq!(nap_for(1, 1, Some(ms(500)), 20), Some(MAX_NAP));
        assert_eq!(
            nap_for(1, 1, Some(Duration::ZERO), 20),
            Some(Duration::ZERO)
        );
    }

    /// On the clock only what no pure function can show: the nap really
    /// happens, and lasts its whole length (a timeout never ends early).
    #[test]
    fn naps_at_least_the_timeout() {
        let word = AtomicU32::new(1);
        let start = Instant::now();
        wait(&word, 1, Some(Duration::from_millis(2)), 20);
        assert!(start.elapsed() >= Duration::from_millis(2));
    }
}
