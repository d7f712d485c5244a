//! A receiver parked on an idle channel costs nothing: it sleeps in the
//! kernel instead of polling, and is not woken periodically. One that is
//! told to poll (`set_poll_interval`) naps an interval at a time, and gets
//! everything its senders send without being woken by them.
//!
//! Linux only: the test reads its thread's CPU time and context switches from
//! `/proc/thread-self`.

#![cfg(target_os = "linux")]

use std::time::Duration;

use logring::channel::{RecvTimeoutError, SpinPolicy, mpsc, spsc};

/// This thread's CPU time in clock ticks (user + system) and its voluntary
/// context switches (one per sleep).
fn thread_usage() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    // Fields after the parenthesised command name, which may contain spaces.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let ticks = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    let switches = status
        .lines()
        .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (ticks, switches)
}

/// Parks for `idle` in `recv_timeout` on a channel nobody sends on, and
/// returns the CPU ticks and sleeps that cost.
fn park(receive: impl FnOnce() -> RecvTimeoutError) -> (u64, u64) {
    let (ticks, switches) = thread_usage();
    assert_eq!(receive(), RecvTimeoutError::Timeout);
    let (ticks_after, switches_after) = thread_usage();
    (ticks_after - ticks, switches_after - switches)
}

#[test]
#[cfg_attr(miri, ignore)]
fn a_parked_receiver_uses_no_cpu_and_is_not_woken_periodically() {
    const IDLE: Duration = Duration::from_secs(1);
    let (_tx, mut rx) = spsc::new(4096).unwrap();
    let (spsc_ticks, spsc_sleeps) = park(|| rx.recv_timeout(IDLE).unwrap_err());
    let (tx, mut rx) = mpsc::new(4096).unwrap();
    let _other = tx.clone();
    rx.set_spin_policy(SpinPolicy::NONE);
    let (mpsc_ticks, mpsc_sleeps) = park(|| rx.recv_timeout(IDLE).unwrap_err());
    for (ticks, sleeps) in [(spsc_ticks, spsc_sleeps), (mpsc_ticks, mpsc_sleeps)] {
        // A polling receiver would burn the whole second (about 100 ticks);
        // a parked one a tick at most (the clock's resolution is 10 ms).
        assert!(
            ticks <= 2,
            "parked for 1 s, used {ticks} clock ticks of CPU"
        );
        // Periodic wake-ups every 100 ms would make ten sleeps; a futex wait
        // for the whole deadline makes one (plus the receiver's few yields).
        assert!(sleeps <= 6, "parked for 1 s, slept {sleeps} times");
    }
}

/// A receiver that polls (`set_poll_interval`) sleeps about one interval at
/// a time instead: it wakes on its own, and still uses little CPU.
#[test]
#[cfg_attr(miri, ignore)]
fn a_polling_receiver_naps_one_interval_at_a_time() {
    const IDLE: Duration = Duration::from_millis(500);
    const INTERVAL: Duration = Duration::from_millis(10);
    let (_tx, mut rx) = spsc::new(4096).unwrap();
    assert_eq!(rx.poll_interval(), None, "receivers are woken by default");
    rx.set_poll_interval(Some(INTERVAL));
    assert_eq!(rx.poll_interval(), Some(INTERVAL));
    let began = std::time::Instant::now();
    let (ticks, sleeps) = park(|| rx.recv_timeout(IDLE).unwrap_err());
    assert!(began.elapsed() >= IDLE, "timed out early");
    // 50 intervals in the idle time; a loaded machine may stretch each nap,
    // making fewer.
    assert!(
        (10..=60).contains(&sleeps),
        "polled every 10 ms for 500 ms, slept {sleeps} times"
    );
    assert!(
        ticks <= 10,
        "polled for 500 ms, used {ticks} clock ticks of CPU"
    );
}

/// A polling receiver gets every record sent while it naps, in order, and
/// `Disconnected` once the senders are gone; nothing wakes it but its own
/// timer.
#[test]
#[cfg_attr(miri, ignore)]
fn a_polling_receiver_receives_everything_then_disconnects() {
    for interval in [
        Duration::ZERO,
        Duration::from_micros(100),
        Duration::from_millis(5),
    ] {
        let (tx, mut rx) = mpsc::new(1024).unwrap();
        rx.set_poll_interval(Some(interval));
        let senders: Vec<_> = (0..2u64)
            .map(|id| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for seq in 0..500u64 {
                        let bytes = (id << 32 | seq).to_le_bytes();
                        while tx.send(&bytes).is_err() {
                            std::thread::yield_now();
                        }
                        if seq % 50 == 0 {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        let mut next = [0u64; 2];
        loop {
            match rx.recv() {
                Ok(record) => {
                    let key = u64::from_le_bytes(record[..].try_into().unwrap());
                    let (id, seq) = ((key >> 32) as usize, key & 0xffff_ffff);
                    assert_eq!(seq, next[id], "{interval:?}: producer {id} out of order");
                    next[id] += 1;
                }
                Err(error) => {
                    assert_eq!(error, logring::channel::RecvError::Disconnected);
                    break;
                }
            }
        }
        assert_eq!(next, [500, 500], "{interval:?}");
        for sender in senders {
            sender.join().unwrap();
        }
    }
}

/// An interval too long to be of use is taken as one second: the receiver
/// still gets a record sent while it sleeps, about a second later at most.
#[test]
#[cfg_attr(miri, ignore)]
fn a_huge_poll_interval_is_capped_at_a_second() {
    use logring::channel::MAX_POLL_INTERVAL;
    let (mut tx, mut rx) = spsc::new(4096).unwrap();
    rx.set_poll_interval(Some(Duration::MAX));
    assert_eq!(rx.poll_interval(), Some(MAX_POLL_INTERVAL));
    rx.set_spin_policy(SpinPolicy::NONE);
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        tx.send(b"late").unwrap();
        tx
    });
    let began = std::time::Instant::now();
    let received = rx
        .recv_timeout(Duration::from_secs(30))
        .map(|record| record.to_vec());
    assert_eq!(received.as_deref(), Ok(&b"late"[..]));
    // One nap of at most a second, then the look that finds it (generous for
    // a loaded machine: an uncapped interval would sleep for ever).
    assert!(began.elapsed() < Duration::from_secs(20));
    rx.set_poll_interval(None);
    assert_eq!(rx.poll_interval(), None);
    drop(sender.join().unwrap());
}
