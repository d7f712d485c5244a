//! Loom models of the claim/commit/read/release protocol.
//!
//! Built only with `--cfg loom`, where every record word is a loom atomic and
//! every payload word a loom cell: a model fails if an ordering the protocol
//! relies on is too weak (a payload or record word accessed by two threads
//! without a happens-before edge), and each model asserts what the consumer
//! delivered. Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test --release --test loom_queue
//! ```
//!
//! The rings are the smallest there are (64 bytes, records of at most 24
//! bytes), so a handful of records wraps and fills them. The preemption bound
//! defaults to `common::PREEMPTIONS`; `LOOM_MAX_PREEMPTIONS` overrides it.

#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::mpsc::channel;
use loom::thread;

mod common;
use common::model;

use logring::queue::{ClaimError, Consumer, Record, TryRecvError, mpsc, spsc};

/// The payload of record `seq` (below 4) from producer `id` (0 or 1), `len`
/// bytes (below 32): every byte says whose it is and where it sits, so a torn,
/// shifted or misdelivered record shows.
fn payload(id: u8, seq: u8, len: usize) -> Vec<u8> {
    (0..len as u8).map(|i| id << 7 | seq << 5 | i).collect()
}

/// Sends one record, yielding while the ring is full.
fn spsc_send(producer: &mut spsc::Producer, bytes: &[u8]) {
    loop {
        match producer.try_send(bytes) {
            Ok(()) => return,
            Err(ClaimError::Full) => thread::yield_now(),
            Err(e) => panic!("unexpected claim error: {e}"),
        }
    }
}

/// Sends one record, yielding while the ring is full.
fn mpsc_send(producer: &mpsc::Producer, bytes: &[u8]) {
    loop {
        match producer.try_send(bytes) {
            Ok(()) => return,
            Err(ClaimError::Full) => thread::yield_now(),
            Err(e) => panic!("unexpected claim error: {e}"),
        }
    }
}

/// Reads `count` records one at a time (each released as soon as it is
/// copied), yielding while none is ready: `(position, tag, bytes)`. Then,
/// with every record delivered, the next record word must read as empty: a
/// leftover payload word there would be taken for a record.
fn read(consumer: &mut Consumer, count: usize) -> Vec<(u64, u32, Vec<u8>)> {
    let mut records = Vec::with_capacity(count);
    while records.len() < count {
        match consumer.try_recv() {
            Ok(record) => records.push((record.position(), record.tag(), record.to_vec())),
            Err(TryRecvError::Empty) => thread::yield_now(),
            Err(error) => panic!("{error}"),
        }
    }
    assert_eq!(consumer.try_recv().err(), Some(TryRecvError::Empty));
    records
}

/// Splits delivered payloads by producer (the top bit of every byte),
/// keeping delivery order within each.
fn by_producer(records: &[(u64, u32, Vec<u8>)], producers: u8) -> Vec<Vec<Vec<u8>>> {
    let mut split = vec![Vec::new(); producers as usize];
    for (_, _, bytes) in records {
        split[(bytes[0] >> 7) as usize].push(bytes.clone());
    }
    split
}

/// SPSC: three records that wrap the ring (padding before the third) and fill
/// it (the third waits for the first to be released). The producer's reuse of
/// the first record's bytes races the consumer's zeroing and its head store.
#[test]
fn spsc_wrap_and_fill() {
    model(|| {
        let (mut producer, mut consumer) = spsc::new(64).unwrap();
        // Spans 32 + 24 fill 56 bytes; the third (span 24) does not fit in the
        // 8 left, so it takes padding 8 and starts again at index 0, reusing
        // the first record's space.
        let records = [payload(0, 0, 24), payload(0, 1, 16), payload(0, 2, 16)];
        let expected = records.clone();
        let writer = thread::spawn(move || {
            for record in &records {
                spsc_send(&mut producer, record);
            }
        });
        let got = read(&mut consumer, 3);
        writer.join().unwrap();

        let positions: Vec<u64> = got.iter().map(|(pos, _, _)| *pos).collect();
        assert_eq!(positions, [0, 32, 64], "the third record wrapped");
        let bytes: Vec<Vec<u8>> = got.into_iter().map(|(_, _, bytes)| bytes).collect();
        assert_eq!(bytes, expected);
        assert_eq!(consumer.try_recv().err(), Some(TryRecvError::Empty));
        assert!(consumer.is_empty());
    });
}

/// SPSC: an aborted claim and a truncated commit between normal records. The
/// consumer sees exactly the committed records, the truncated one cut to its
/// new length with its tag, and skips the aborted space.
#[test]
fn spsc_abort_and_truncate() {
    model(|| {
        let (mut producer, mut consumer) = spsc::new(64).unwrap();
        let first = payload(0, 0, 4);
        let truncated = payload(0, 2, 16);
        let last = payload(0, 3, 8);
        // (position, tag, bytes): the aborted claim at 16 and the padding at
        // 48 and 56 are skipped.
        let expected = vec![
            (0, 0, first.clone()),
            (32, 7, truncated[..3].to_vec()),
            (64, 0, last.clone()),
        ];
        let writer = thread::spawn(move || {
            // [0, 16): a record.
            spsc_send(&mut producer, &first);
            // [16, 32): written, then aborted.
            let mut claim = producer.try_claim(8).unwrap();
            claim.copy_from_slice(&payload(0, 1, 8));
            claim.abort();
            // [32, 56): claimed for 16 bytes, committed as 3 (span 16) with the
            // last 8 bytes turned into padding.
            let mut claim = producer.try_claim(16).unwrap();
            claim.copy_from_slice(&truncated);
            claim.set_tag(7).unwrap();
            claim.truncate(3);
            claim.commit();
            // Padding [56, 64), then [64, 80): needs the first record released.
            spsc_send(&mut producer, &last);
        });
        let got = read(&mut consumer, 3);
        writer.join().unwrap();

        assert_eq!(got, expected);
        assert_eq!(consumer.try_recv().err(), Some(TryRecvError::Empty));
        assert!(consumer.is_empty());
    });
}

/// MPSC: two producers (two records and one) race for the tail while the
/// consumer reads; the records need more than the ring, so a producer may find
/// it full, wait, and wrap. Every record arrives once, intact, in its
/// producer's order.
#[test]
fn mpsc_two_producers() {
    model(|| {
        let (producer, mut consumer) = mpsc::new(64).unwrap();
        // Spans 32 + 24 + 32 = 88 > 64.
        let first = [payload(0, 0, 24), payload(0, 1, 16)];
        let second = [payload(1, 0, 24)];
        let expected = [first.to_vec(), second.to_vec()];
        let writers = [first.to_vec(), second.to_vec()].map(|records| {
            let producer = producer.clone();
            thread::spawn(move || {
                for record in &records {
                    mpsc_send(&producer, record);
                }
            })
        });
        drop(producer);
        let got = read(&mut consumer, 3);
        for writer in writers {
            writer.join().unwrap();
        }

        assert_eq!(by_producer(&got, 2), expected);
        assert_eq!(consumer.try_recv().err(), Some(TryRecvError::Empty));
    });
}

/// MPSC: once the consumer has drained a full ring (and said so), neither
/// producer may be told `Full`, though both hold a cached head from before the
/// drain: each must fetch a fresh head, and a stale tail must be retried, not
/// reported.
#[test]
fn mpsc_full_only_when_full() {
    model(|| {
        let (producer, mut consumer) = mpsc::new(64).unwrap();
        // The consumer's "drained" signal: a send happens-before the matching
        // receive, so head = 64 (and tail = 64) are known to both producers.
        let (first_go, first_wait) = channel::<()>();
        let (second_go, second_wait) = channel::<()>();
        let expect_room = |result: Result<(), ClaimError>| {
            result.expect("the ring has room: Full here is spurious");
        };

        let first = producer.clone();
        let filler = thread::spawn(move || {
            // Two spans of 32 fill the empty ring exactly.
            expect_room(first.try_send(&payload(0, 0, 24)));
            expect_room(first.try_send(&payload(0, 1, 24)));
            first_wait.recv().unwrap();
            expect_room(first.try_send(&payload(0, 2, 24)));
        });
        let second = producer.clone();
        let latecomer = thread::spawn(move || {
            second_wait.recv().unwrap();
            expect_room(second.try_send(&payload(1, 0, 24)));
        });
        drop(producer);

        let before = read(&mut consumer, 2);
        first_go.send(()).unwrap();
        second_go.send(()).unwrap();
        // The ring is empty again: the last two spans of 32 fit exactly.
        let after = read(&mut consumer, 2);
        filler.join().unwrap();
        latecomer.join().unwrap();

        let all: Vec<_> = before.into_iter().chain(after).collect();
        assert_eq!(
            by_producer(&all, 2),
            [
                vec![payload(0, 0, 24), payload(0, 1, 24), payload(0, 2, 24)],
                vec![payload(1, 0, 24)],
            ]
        );
        assert_eq!(consumer.try_recv().err(), Some(TryRecvError::Empty));
        assert!(consumer.is_empty());
    });
}

/// MPSC: one producer holds a claim while another claims after it and commits
/// first. The consumer must stop at the uncommitted claim and deliver the
/// earlier record first.
#[test]
fn mpsc_out_of_order_commit() {
    model(|| {
        let (producer, mut consumer) = mpsc::new(64).unwrap();
        let (claimed, claim_seen) = channel::<()>();
        let (later_committed, commit_seen) = channel::<()>();

        let early = producer.clone();
        let holder = thread::spawn(move || {
            let mut claim = early.try_claim(8).unwrap();
            assert_eq!(claim.position(), 0);
            claim.copy_from_slice(&payload(0, 0, 8));
            claimed.send(()).unwrap();
            // Commit only once the later record is committed.
            commit_seen.recv().unwrap();
            claim.commit();
        });
        let late = producer.clone();
        let overtaker = thread::spawn(move || {
            claim_seen.recv().unwrap();
            let mut claim = late.try_claim(8).unwrap();
            assert_eq!(claim.position(), 16);
            claim.copy_from_slice(&payload(1, 0, 8));
            claim.commit();
            later_committed.send(()).unwrap();
        });
        drop(producer);

        let got = read(&mut consumer, 2);
        holder.join().unwrap();
        overtaker.join().unwrap();

        assert_eq!(got, [(0, 0, payload(0, 0, 8)), (16, 0, payload(1, 0, 8))]);
    });
}

/// SPSC: three records waiting in the ring are read and released by one
/// `try_recv_batch` (one head store for all of them), racing a producer that
/// needs the space of the first two for a wrapped record.
#[test]
fn a_batch_releases_for_a_waiting_producer() {
    model(|| {
        let (mut producer, mut consumer) = spsc::new(64).unwrap();
        let queued = [payload(0, 0, 8), payload(0, 1, 8), payload(0, 2, 8)];
        for record in &queued {
            producer.try_send(record).unwrap();
        }
        // Tail 48: padding 16, then a span of 32 at index 0, over the first
        // two records: it fits only once head has passed them.
        let wrapped = payload(0, 3, 24);
        let to_write = wrapped.clone();
        let writer = thread::spawn(move || spsc_send(&mut producer, &to_write));

        let mut got = Vec::new();
        let mut keep = |record: Record<'_>| got.push((record.position(), record.to_vec()));
        let first = consumer.try_recv_batch(usize::MAX, &mut keep);
        assert_eq!(first, Ok(3), "the queued records come in one batch");
        let rest = loop {
            match consumer.try_recv_batch(usize::MAX, &mut keep) {
                Ok(rest) => break rest,
                Err(TryRecvError::Empty) => thread::yield_now(),
                Err(error) => panic!("{error}"),
            }
        };
        assert_eq!(rest, 1);
        writer.join().unwrap();

        let positions: Vec<u64> = got.iter().map(|(pos, _)| *pos).collect();
        assert_eq!(positions, [0, 16, 32, 64], "the last record wrapped");
        let bytes: Vec<Vec<u8>> = got.into_iter().map(|(_, bytes)| bytes).collect();
        assert_eq!(bytes[..3], queued);
        assert_eq!(bytes[3], wrapped);
        assert_eq!(consumer.try_recv().err(), Some(TryRecvError::Empty));
        assert!(consumer.is_empty());
    });
}

/// MPSC: two threads share one producer by reference (it is `Sync`), so they
/// share its cached head. The ring starts full. The consumer drains it, then
/// lets the first thread go: that thread reads the fresh head, caches it and
/// claims. The second thread keeps trying meanwhile, and may claim on the
/// strength of the head the first one cached, without reading the shared
/// head itself: its writes must still happen after the consumer zeroed that
/// space (the cache is stored with Release and loaded with Acquire), or the
/// model reports the race. Nor may a thread that sees the tail the other one
/// moved, and then a head older than the one that thread read, take the
/// positions for impossible (`Corrupt`): the ring is sound, and `Full` is
/// the most it may report. Every record arrives once, intact.
#[test]
fn mpsc_one_producer_shared_by_two_threads() {
    model(|| {
        let (producer, mut consumer) = mpsc::new(64).unwrap();
        // Two spans of 32 fill the ring; the producer caches head 0.
        mpsc_send(&producer, &payload(0, 0, 24));
        mpsc_send(&producer, &payload(0, 1, 24));
        let shared = Arc::new(producer);
        let (go, wait_for_room) = channel::<()>();
        let first = Arc::clone(&shared);
        let first = thread::spawn(move || {
            wait_for_room.recv().unwrap();
            mpsc_send(&first, &payload(0, 2, 24));
        });
        let second = Arc::clone(&shared);
        let second = thread::spawn(move || mpsc_send(&second, &payload(1, 0, 8)));

        let mut got = Vec::new();
        let drained = consumer.try_recv_batch(usize::MAX, |record| {
            got.push((record.position(), record.tag(), record.to_vec()));
        });
        assert_eq!(drained, Ok(2), "the full ring, in one batch");
        go.send(()).unwrap();
        got.extend(read(&mut consumer, 2));
        first.join().unwrap();
        second.join().unwrap();

        assert_eq!(
            by_producer(&got, 2),
            [
                vec![payload(0, 0, 24), payload(0, 1, 24), payload(0, 2, 24)],
                vec![payload(1, 0, 8)],
            ]
        );
        assert!(consumer.is_empty());
    });
}
