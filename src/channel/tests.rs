//! White-box tests of the receiver over a heap ring: corruption published
//! while it sleeps.

use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::{RecvError, mpsc};
use crate::error::CorruptRing;
use crate::ring::Ring;
use crate::sync::Ordering::Relaxed;

/// A hang, not slowness, is what this deadline catches.
const PATIENCE: Duration = Duration::from_secs(30);

/// Has the receiver of `ring` wait, asleep, at a claim whose word is then
/// overwritten with one no producer writes, before a later claim commits
/// (which wakes it). `receive` runs the receiving end's `recv` on a thread
/// of its own; returns what it returned and the corruption expected.
fn corrupt_while_asleep(
    receive: impl FnOnce(mpsc::Receiver) -> Result<u64, RecvError> + Send + 'static,
) -> (Result<u64, RecvError>, CorruptRing) {
    let (first, rx) = mpsc::new(4096).unwrap();
    let second = first.clone();
    let ring: Ring = rx.link.ring.share();
    let held = first.claim(8).unwrap();
    let mut later = second.claim(8).unwrap();
    later.copy_from_slice(b"after it");
    let (done, outcome) = std_mpsc::channel();
    let receiving = thread::spawn(move || done.send(receive(rx)).unwrap());
    // Until the receiver has announced that it sleeps (or may).
    let start = Instant::now();
    while ring.header().waiter.0.load(Relaxed) == 0 {
        assert!(
            start.elapsed() < PATIENCE,
            "the receiver never went to sleep"
        );
        thread::sleep(Duration::from_millis(1));
    }
    let bad = held.position();
    ring.word(bad).store(u64::MAX, Relaxed);
    later.commit();
    let received = outcome
        .recv_timeout(PATIENCE)
        .expect("the receiver is still asleep");
    receiving.join().unwrap();
    drop(held);
    let expected = CorruptRing {
        position: bad,
        word: u64::MAX,
        reason: "unknown record state",
    };
    (received, expected)
}

#[test]
fn a_receiver_asleep_in_recv_wakes_with_the_corruption() {
    let (received, expected) = corrupt_while_asleep(|mut rx| {
        let received = rx.recv().map(|record| record.position());
        if let Err(RecvError::Corrupt(corrupt)) = received {
            assert_eq!(rx.corruption(), Some(corrupt));
        }
        received
    });
    assert_eq!(received, Err(RecvError::Corrupt(expected)));
}

#[cfg(feature = "async")]
#[test]
fn a_task_waiting_in_recv_wakes_with_the_corruption() {
    let (received, expected) = corrupt_while_asleep(|rx| {
        let mut rx = rx.into_async();
        futures::executor::block_on(async { rx.recv().await.map(|record| record.position()) })
    });
    assert_eq!(received, Err(RecvError::Corrupt(expected)));
}
