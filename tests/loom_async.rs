//! Loom models of the async ends' wake-ups: a task registers its waker, then
//! announces in the header word, then re-checks the ring; a publisher stores,
//! then checks the word and wakes the waker.
//!
//! Each task runs under `loom::future::block_on`, which parks the model
//! thread while the future is pending and unparks it when the waker is woken:
//! a lost wake-up leaves it parked with every other thread finished, a
//! deadlock that fails the model. The ends do not spin (`SpinPolicy::NONE`),
//! so every empty look goes through the whole handshake. Run
//! with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test --release --features async --test loom_async
//! ```

#![cfg(all(loom, feature = "async"))]

use loom::future::block_on;
use loom::thread;

mod common;
use common::model;

use logring::channel::{self, SendError};
use logring::nonblocking::{AsyncSendError, RecvError, SpinPolicy, mpsc, spsc};

/// A commit reaches the receiver's task whichever step of parking it is at,
/// and the sender's drop then ends its next wait.
#[test]
fn commit_wakes_the_receivers_task() {
    model(|| {
        let (mut tx, mut rx) = spsc::new(64).unwrap();
        tx.set_spin_policy(SpinPolicy::NONE);
        rx.set_spin_policy(SpinPolicy::NONE);
        let sender = thread::spawn(move || {
            block_on(tx.send(b"wake")).unwrap();
        });
        block_on(async {
            assert_eq!(&*rx.recv().await.unwrap(), b"wake");
            assert_eq!(rx.recv().await.unwrap_err(), RecvError::Disconnected);
        });
        sender.join().unwrap();
    });
}

/// A blocking sender's commit wakes an async receiver: the two kinds of end
/// share one handshake.
#[test]
fn blocking_commit_wakes_an_async_receiver() {
    model(|| {
        let (mut tx, rx) = channel::spsc::new(64).unwrap();
        let mut rx = rx.into_async();
        rx.set_spin_policy(SpinPolicy::NONE);
        let sender = thread::spawn(move || tx.send(b"wake").unwrap());
        block_on(async {
            assert_eq!(&*rx.recv().await.unwrap(), b"wake");
        });
        sender.join().unwrap();
    });
}

/// A sender waiting for space is woken by the release that makes room,
/// whichever step of parking it is at.
#[test]
fn release_wakes_a_sender_waiting_for_space() {
    model(|| {
        // 64 bytes: one record of 24 bytes (32 with its word) takes half.
        let (mut tx, mut rx) = spsc::new(64).unwrap();
        tx.set_spin_policy(SpinPolicy::NONE);
        rx.set_spin_policy(SpinPolicy::NONE);
        for fill in [b'a', b'b'] {
            let mut claim = tx.try_claim(24).unwrap();
            claim.fill(fill);
            claim.commit();
        }
        assert!(matches!(tx.try_claim(24), Err(SendError::Full)));
        let consumer = thread::spawn(move || {
            block_on(async {
                for fill in [b'a', b'b', b'c'] {
                    assert_eq!(*rx.recv().await.unwrap(), [fill; 24]);
                }
            });
        });
        block_on(async {
            let mut claim = tx.claim(24).await.unwrap();
            claim.fill(b'c');
            claim.commit();
        });
        consumer.join().unwrap();
    });
}

/// The receiver's drop wakes a sender waiting for space, which then reports
/// `Disconnected` instead of waiting for ever.
#[test]
fn receiver_drop_wakes_a_waiting_sender() {
    model(|| {
        let (mut tx, rx) = spsc::new(64).unwrap();
        tx.set_spin_policy(SpinPolicy::NONE);
        for _ in 0..2 {
            tx.try_claim(24).unwrap().commit();
        }
        let receiver = thread::spawn(move || drop(rx));
        block_on(async {
            assert_eq!(
                tx.claim(24).await.unwrap_err(),
                AsyncSendError::Disconnected
            );
        });
        receiver.join().unwrap();
    });
}

/// Two MPSC senders wait for space at once; each release wakes both, and
/// the one that still finds the ring full parks again and is woken by the
/// next.
#[test]
fn every_waiting_sender_is_woken() {
    model(|| {
        let (mut first, mut rx) = mpsc::new(64).unwrap();
        first.set_spin_policy(SpinPolicy::NONE); // clones keep it
        rx.set_spin_policy(SpinPolicy::NONE);
        for _ in 0..2 {
            first.try_claim(24).unwrap().commit();
        }
        let mut second = first.clone();
        let other = thread::spawn(move || {
            block_on(second.send(&[2; 24])).unwrap();
        });
        let consumer = thread::spawn(move || {
            block_on(async {
                for _ in 0..2 {
                    rx.recv().await.unwrap().release();
                }
            });
            rx
        });
        block_on(first.send(&[1; 24])).unwrap();
        other.join().unwrap();
        let mut rx = consumer.join().unwrap();
        let one = rx.try_recv().unwrap()[0];
        let mut got = [one, rx.try_recv().unwrap()[0]];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}
