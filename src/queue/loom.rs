//! Loom models of the crash-recovery paths, which need the crate's insides
//! (a producer killed mid-reservation cannot be staged through the public
//! API). Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test --release --lib
//! ```

use loom::thread;

use super::peers::Owner;
use super::{ClaimError, Consumer, TryRecvError, spsc};
use crate::ring::Ring;
use crate::ring::layout::Mode;
use crate::sync::Ordering::Relaxed;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 100_000;
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

/// An SPSC producer dies inside `reserve`, after publishing wrap padding at
/// the tail and its `Claimed` word at index 0, before storing the tail. A new
/// producer takes over (padding the dead claim) while the consumer, which
/// knows the claim's producer is gone, may skip the same claim: exactly one
/// of the two compare-and-swaps wins, the new producer's record is
/// delivered once, and the claim is counted as skipped only if the consumer
/// won.
#[test]
fn a_takeover_races_the_consumer_skipping_a_dead_claim() {
    model(|| {
        let ring = Ring::new_heap(Mode::Spsc, 64).unwrap();
        let mut consumer = Consumer::attach(ring.share(), None, 0);
        let mut dead = spsc::Producer::new(ring.share(), Owner::LOCAL);
        dead.try_send(&[1; 16]).unwrap(); // [0, 24)
        dead.try_send(&[1; 8]).unwrap(); // [24, 40)
        assert_eq!(consumer.try_recv_batch(2, |_| {}), Ok(2));
        // Padding [40, 64), then the claim at 64; tail left at 40.
        assert_eq!(dead.reserve(24), Ok(64));
        ring.header().tail.0.store(40, Relaxed);
        drop(dead);

        let shared = ring.share();
        let successor = thread::spawn(move || {
            let mut producer = spsc::Producer::new(shared, Owner::LOCAL);
            loop {
                match producer.try_send(&[2; 8]) {
                    Ok(()) => return,
                    Err(ClaimError::Full) => thread::yield_now(),
                    Err(error) => panic!("{error}"),
                }
            }
        });

        let got = loop {
            match consumer.try_recv() {
                Ok(record) => break record.to_vec(),
                Err(TryRecvError::Empty) => {}
                Err(error) => panic!("{error}"),
            }
            // Nothing ready: the head is published. Only the dead claim (at
            // 64) may be skipped; the successor's claims are alive.
            if ring.header().head.0.load(Relaxed) == 64 {
                // SAFETY: the claim at 64 was made by the dead producer.
                unsafe { consumer.skip_abandoned() };
            }
            thread::yield_now();
        };
        successor.join().unwrap();
        assert_eq!(got, [2; 8]);
        assert_eq!(consumer.try_recv().err(), Some(TryRecvError::Empty));
        assert!(consumer.skipped_claims() <= 1);
    });
}
