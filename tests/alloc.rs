//! Producing and consuming allocate nothing: once a queue is built, claims,
//! commits, writes and reads never touch the global allocator.
//!
//! A counting allocator (`alloc_support`) counts only while the current thread is inside
//! [`allocations_during`], so the test harness and other tests running in
//! parallel do not disturb the count.

mod alloc_support;

use alloc_support::allocations_during;
use logring::queue::{ClaimError, Consumer, TryRecvError, WriteClaim, mpsc, spsc};

const RECORDS: u32 = if cfg!(miri) { 200 } else { 10_000 };
const MAX_LEN: usize = 200;

fn len_of(seq: u32) -> usize {
    (seq as usize * 37) % (MAX_LEN + 1)
}

fn byte_of(seq: u32, i: usize) -> u8 {
    (seq as u8) ^ (i as u8).wrapping_mul(13)
}

/// Record `seq`'s payload, built in a buffer on the stack.
fn payload(seq: u32, buffer: &mut [u8; MAX_LEN]) -> &[u8] {
    let len = len_of(seq);
    for (i, byte) in buffer[..len].iter_mut().enumerate() {
        *byte = byte_of(seq, i);
    }
    &buffer[..len]
}

/// Every third record is written with `try_send`, which sets no tag.
fn tag_of(seq: u32) -> u32 {
    if seq % 3 == 0 { 0 } else { seq }
}

fn check(seq: u32, bytes: &[u8], tag: u32) {
    assert_eq!(bytes.len(), len_of(seq), "record {seq}: length");
    assert_eq!(tag, tag_of(seq), "record {seq}: tag");
    assert!(
        bytes.iter().enumerate().all(|(i, &b)| b == byte_of(seq, i)),
        "record {seq}: bytes"
    );
}

/// Both producers, whose `try_claim` differs in receiver.
trait Produce {
    fn claim_commit(&mut self, seq: u32, tag: u32, buffer: &mut [u8; MAX_LEN]);
    fn claim_abort(&mut self, len: usize);
    fn send(&mut self, seq: u32, buffer: &mut [u8; MAX_LEN]);
    /// Claims `len` bytes and commits them as they are, if there is room.
    fn try_commit(&mut self, len: usize) -> Result<(), ClaimError>;
}

macro_rules! produce {
    ($producer:ty) => {
        impl Produce for $producer {
            fn claim_commit(&mut self, seq: u32, tag: u32, buffer: &mut [u8; MAX_LEN]) {
                // Claim a little more than needed and truncate, half the time.
                let len = len_of(seq);
                let mut claim = self.try_claim(len + (seq % 2) as usize).unwrap();
                claim[..len].copy_from_slice(payload(seq, buffer));
                claim.truncate(len);
                claim.set_tag(tag).unwrap();
                claim.commit();
            }
            fn claim_abort(&mut self, len: usize) {
                self.try_claim(len).unwrap().abort();
            }
            fn send(&mut self, seq: u32, buffer: &mut [u8; MAX_LEN]) {
                self.try_send(payload(seq, buffer)).unwrap();
            }
            fn try_commit(&mut self, len: usize) -> Result<(), ClaimError> {
                self.try_claim(len).map(WriteClaim::commit)
            }
        }
    };
}
produce!(spsc::Producer);
produce!(mpsc::Producer);

/// Produces and consumes `RECORDS` records in rounds of one to seven, with
/// aborted claims and refused ones in between.
fn exercise(producer: &mut impl Produce, consumer: &mut Consumer) {
    let mut buffer = [0u8; MAX_LEN];
    let mut produced = 0;
    let mut consumed = 0;
    let mut round = 0;
    while produced < RECORDS {
        round += 1;
        for _ in 0..(1 + round % 7).min(RECORDS - produced) {
            let seq = produced;
            if seq % 3 == 0 {
                producer.send(seq, &mut buffer);
            } else {
                producer.claim_commit(seq, tag_of(seq), &mut buffer);
            }
            if seq % 5 == 0 {
                producer.claim_abort(len_of(seq));
            }
            produced += 1;
        }
        assert!(matches!(
            producer.try_commit(usize::MAX),
            Err(ClaimError::TooLarge { .. })
        ));
        if round % 2 == 0 {
            loop {
                match consumer.try_recv() {
                    Ok(record) => {
                        check(consumed, &record, record.tag());
                        consumed += 1;
                    }
                    Err(error) => {
                        assert_eq!(error, TryRecvError::Empty);
                        break;
                    }
                }
            }
        } else {
            let before = consumed;
            let read = consumer.try_recv_batch(usize::MAX, |record| {
                check(consumed, &record, record.tag());
                consumed += 1;
            });
            assert_eq!(read, Ok((consumed - before) as usize));
        }
        assert_eq!(consumed, produced);
    }
    // Fill the ring until a claim is refused as full, then drain it.
    let mut filled = 0;
    while producer.try_commit(MAX_LEN).is_ok() {
        filled += 1;
    }
    assert_eq!(producer.try_commit(MAX_LEN), Err(ClaimError::Full));
    assert_eq!(consumer.try_recv_batch(filled, |_| {}), Ok(filled));
    assert_eq!(consumer.try_recv().err(), Some(TryRecvError::Empty));
    assert_eq!(
        consumer.try_recv_batch(usize::MAX, |_| {}),
        Err(TryRecvError::Empty)
    );
}

#[test]
fn the_counter_sees_allocations() {
    alloc_support::check_the_counter();
}

#[test]
fn spsc_produces_and_consumes_without_allocating() {
    let (mut producer, mut consumer) = spsc::new(4096).unwrap();
    let count = allocations_during(|| exercise(&mut producer, &mut consumer));
    assert_eq!(count, 0, "allocations while producing and consuming");
}

#[test]
fn mpsc_produces_and_consumes_without_allocating() {
    let (mut producer, mut consumer) = mpsc::new(4096).unwrap();
    let count = allocations_during(|| exercise(&mut producer, &mut consumer));
    assert_eq!(count, 0, "allocations while producing and consuming");
}

/// The channels' paths allocate nothing either: sending, spinning on a full
/// ring, receiving, and sleeping in `recv` until a commit wakes the receiver.
#[test]
fn channels_send_receive_and_sleep_without_allocating() {
    use logring::channel::{self, SendError, SpinPolicy, TryRecvError};
    use std::time::Duration;

    const HANDOFFS: u32 = if cfg!(miri) { 5 } else { 200 };

    let (mut tx, mut rx) = channel::spsc::new(4096).unwrap();
    let mut buffer = [0u8; MAX_LEN];
    let count = allocations_during(|| {
        for seq in 0..RECORDS {
            tx.send(payload(seq, &mut buffer)).unwrap();
            let record = rx.try_recv().unwrap();
            assert_eq!(*record, *payload(seq, &mut [0; MAX_LEN]), "record {seq}");
        }
        tx.set_spin_policy(SpinPolicy::new(2, 1));
        while tx.try_claim(MAX_LEN).map(|claim| claim.commit()).is_ok() {}
        assert_eq!(tx.claim(MAX_LEN).unwrap_err(), SendError::Full);
        let drained = rx.recv_batch(usize::MAX, |_| {}).unwrap();
        assert!(drained > 0);
        assert!(rx.recv_timeout(Duration::from_micros(50)).is_err());
        assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Empty);
    });
    assert_eq!(count, 0, "allocations on the channel paths");

    // A receiver that sleeps: it counts its own allocations in its thread
    // while this one commits after pauses long enough for it to fall asleep.
    rx.set_spin_policy(SpinPolicy::NONE);
    let receiver = std::thread::spawn(move || {
        allocations_during(|| {
            for seq in 0..HANDOFFS {
                let record = rx.recv().unwrap();
                assert_eq!(record.len(), len_of(seq));
            }
            assert!(rx.recv().is_err());
        })
    });
    let count = allocations_during(|| {
        for seq in 0..HANDOFFS {
            std::thread::sleep(Duration::from_micros(200));
            tx.send(payload(seq, &mut buffer)).unwrap();
        }
    });
    drop(tx);
    assert_eq!(count, 0, "allocations while sending to a sleeping receiver");
    assert_eq!(
        receiver.join().unwrap(),
        0,
        "allocations in a sleeping recv"
    );
}
