//! Loom models of the channels' wait/wake handshake and of disconnection.
//!
//! Under `--cfg loom` the receiver's sleep is a model futex (a loom mutex and
//! condition variable that check the waiter word, as the kernel does), and
//! both sides of the handshake use `SeqCst` fences. A lost wake-up shows as a
//! deadlock (the receiver asleep with every other thread finished), which
//! fails the model. Receivers use `SpinPolicy::NONE`, so every empty look is
//! followed by the full announce / re-check / sleep sequence. Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test --release --test loom_channel
//! ```

#![cfg(loom)]

use loom::thread;

mod common;
use common::model;

use logring::channel::{RecvError, SendError, SpinPolicy, TryRecvError, mpsc, spsc};

/// A commit reaches a receiver whichever step of going to sleep it is at, and
/// the sender's drop then ends its next wait.
#[test]
fn spsc_commit_wakes_the_receiver() {
    model(|| {
        let (mut tx, mut rx) = spsc::new(64).unwrap();
        rx.set_spin_policy(SpinPolicy::NONE);
        let sender = thread::spawn(move || {
            tx.send(b"wake").unwrap();
        });
        assert_eq!(&*rx.recv().unwrap(), b"wake");
        assert_eq!(rx.recv().unwrap_err(), RecvError::Disconnected);
        sender.join().unwrap();
    });
}

/// Two senders commit concurrently: the receiver, asleep between them, gets
/// both in position order and then `Disconnected`, never a lost record.
#[test]
fn mpsc_disconnect_drains_every_record() {
    model(|| {
        let (tx, mut rx) = mpsc::new(64).unwrap();
        rx.set_spin_policy(SpinPolicy::NONE);
        let senders: Vec<_> = (0..2u8)
            .map(|id| {
                let tx = tx.clone();
                thread::spawn(move || tx.send(&[id]).unwrap())
            })
            .collect();
        drop(tx);
        let mut got = Vec::new();
        while let Ok(record) = rx.recv() {
            got.push(record[0]);
        }
        got.sort_unstable();
        assert_eq!(got, [0, 1]);
        assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Disconnected);
        for sender in senders {
            sender.join().unwrap();
        }
    });
}

/// An abort wakes the receiver too: a record committed behind a claim is
/// only deliverable once that claim is aborted, and nobody commits after.
#[test]
fn mpsc_abort_wakes_the_receiver() {
    model(|| {
        let (tx, mut rx) = mpsc::new(64).unwrap();
        rx.set_spin_policy(SpinPolicy::NONE);
        let second = tx.clone();
        let (claimed, wait_for_claim) = loom::sync::mpsc::channel();
        let aborter = thread::spawn(move || {
            let first = tx.claim(4).unwrap();
            claimed.send(()).unwrap();
            first.abort();
        });
        let committer = thread::spawn(move || {
            wait_for_claim.recv().unwrap();
            second.send(b"late").unwrap();
        });
        assert_eq!(&*rx.recv().unwrap(), b"late");
        assert_eq!(rx.recv().unwrap_err(), RecvError::Disconnected);
        committer.join().unwrap();
        aborter.join().unwrap();
    });
}

/// Senders see the receiver's drop, and a send racing with it either lands
/// in the ring or reports `Disconnected`, never hangs.
#[test]
fn receiver_drop_disconnects_senders() {
    model(|| {
        let (mut tx, rx) = spsc::new(64).unwrap();
        tx.set_spin_policy(SpinPolicy::NONE);
        let receiver = thread::spawn(move || drop(rx));
        loop {
            match tx.send(b"x") {
                Ok(()) | Err(SendError::Full) => thread::yield_now(),
                Err(SendError::Disconnected) => break,
                Err(error) => panic!("unexpected send error: {error}"),
            }
        }
        assert!(tx.is_disconnected());
        receiver.join().unwrap();
    });
}
