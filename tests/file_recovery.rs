//! Ring files outliving their ends, within one process: records pass between
//! handles of one file; the positions persist once every end is gone, so a
//! reopened ring resumes where it stopped; a consumer that panicked in a
//! batch, or left a record unread, hands it to the next one; and a claim
//! whose producer is gone (leaked, as a crash leaves it) is skipped once,
//! never while its producer lives, or taken over by a new SPSC producer.
//!
//! The same with real processes killed by `SIGKILL` is in
//! `file_process.rs` and `dead_producers.rs`.

#![cfg(all(target_os = "linux", feature = "mmap"))]

mod common;
mod file_support;
mod ringfile;

use common::{check, fill};
use file_support::{
    PATIENCE, create, expect_empty, expect_record, len_of, open, payload, read_u64, ring_file,
    write_spsc,
};
use ringfile::{HEAD_AT, TAIL_AT, TempPath};

use std::panic::{self, AssertUnwindSafe};
use std::thread;
use std::time::{Duration, Instant};

use logring::channel::RecvTimeoutError;
use logring::file::Mode;
use logring::queue::{self, Consumer};

/// Polls `consumer` until a record arrives or `PATIENCE` runs out; returns
/// its position and bytes. Panics on corruption.
fn poll(consumer: &mut Consumer) -> Option<(u64, Vec<u8>)> {
    let start = Instant::now();
    loop {
        match consumer.try_recv() {
            Ok(record) => return Some((record.position(), record.to_vec())),
            Err(queue::TryRecvError::Empty) => {}
            Err(error) => panic!("{error}"),
        }
        if start.elapsed() > PATIENCE {
            return None;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

// ---------------------------------------------------------------------------
// Round trips through the file.

#[test]
fn records_pass_between_handles_of_one_file() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let path = TempPath::new("handles");
        let writer = create(&path, 4096, mode);
        let reader = open(&path);
        assert_eq!(reader.capacity(), 4096);
        assert_eq!(reader.path(), path.path());
        let mut consumer = reader.consumer().unwrap();
        // Several laps of a small ring.
        let mut key = 0;
        for _ in 0..50 {
            match mode {
                Mode::Spsc => {
                    write_spsc(&writer, key..key + 40);
                }
                Mode::Mpsc => {
                    let producer = writer.mpsc_producer().unwrap();
                    for key in key..key + 40 {
                        producer.try_send(&payload(key)).unwrap();
                    }
                }
            }
            for key in key..key + 40 {
                expect_record(&mut consumer, key);
            }
            key += 40;
        }
        expect_empty(&mut consumer);
        assert!(reader.is_empty() && writer.is_empty());
        assert_eq!(writer.full_rejections(), 0);
    }
}

#[test]
fn a_reopened_ring_resumes_where_it_stopped() {
    let path = ring_file("resume", 4096, Mode::Spsc);
    let positions = {
        let ring = open(&path);
        let positions = write_spsc(&ring, 0..6);
        let mut consumer = ring.consumer().unwrap();
        expect_record(&mut consumer, 0);
        expect_record(&mut consumer, 1);
        positions
    };
    // Both positions are in the file once every end is gone.
    assert_eq!(read_u64(&path, HEAD_AT), positions[2]);
    let tail = read_u64(&path, TAIL_AT);
    assert_eq!(
        tail,
        positions[5] + (8 + len_of(5) as u64).next_multiple_of(8)
    );

    let ring = open(&path);
    assert_eq!(ring.len_bytes() as u64, tail - positions[2]);
    let mut consumer = ring.consumer().unwrap();
    {
        let record = consumer.try_recv().unwrap();
        assert_eq!(record.position(), positions[2], "resumes at the head");
        check(2, &record);
    }
    // The producer resumes at the tail.
    let more = write_spsc(&ring, 6..8);
    assert_eq!(more[0], tail);
    for key in 3..8 {
        expect_record(&mut consumer, key);
    }
    expect_empty(&mut consumer);
}

#[test]
fn released_records_are_not_delivered_again() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let path = TempPath::new("released");
        let ring = create(&path, 4096, mode);
        match mode {
            Mode::Spsc => {
                write_spsc(&ring, 0..5);
            }
            Mode::Mpsc => {
                let producer = ring.mpsc_producer().unwrap();
                for key in 0..5 {
                    producer.try_send(&payload(key)).unwrap();
                }
            }
        }
        {
            let mut consumer = ring.consumer().unwrap();
            expect_record(&mut consumer, 0);
            consumer.try_recv().unwrap().release();
        }
        let mut consumer = open(&path).consumer().unwrap();
        for key in 2..5 {
            expect_record(&mut consumer, key);
        }
        expect_empty(&mut consumer);
    }
}

#[test]
fn records_a_panicking_batch_did_not_finish_are_delivered_again() {
    let path = TempPath::new("batch-panic");
    let ring = create(&path, 4096, Mode::Mpsc);
    let producer = ring.mpsc_producer().unwrap();
    for key in 0..8 {
        producer.try_send(&payload(key)).unwrap();
    }
    {
        let mut consumer = ring.consumer().unwrap();
        let mut seen = Vec::new();
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            consumer.try_recv_batch(usize::MAX, |record| {
                let key = seen.len() as u64;
                check(key, &record);
                seen.push(key);
                if key == 3 {
                    panic!("the handler failed on record 3");
                }
            })
        }));
        assert!(result.is_err());
        assert_eq!(seen, [0, 1, 2, 3]);
    }
    // The next consumer starts at the record the handler panicked on.
    let mut consumer = open(&path).consumer().unwrap();
    for key in 3..8 {
        expect_record(&mut consumer, key);
    }
    expect_empty(&mut consumer);
}

// ---------------------------------------------------------------------------
// Claims left open by producers that are gone.

#[test]
fn a_dead_producers_claim_is_skipped() {
    let path = TempPath::new("dead-claim");
    let ring = create(&path, 4096, Mode::Mpsc);
    let mut consumer = ring.consumer().unwrap();
    let live = ring.mpsc_producer().unwrap();
    live.try_send(&payload(0)).unwrap();
    let dead = ring.mpsc_producer().unwrap();
    let mut claim = dead.try_claim(40).unwrap();
    fill(99, &mut claim);
    std::mem::forget(claim);
    live.try_send(&payload(1)).unwrap();
    drop(dead);
    assert!(ring.producers_attached(), "the live producer");

    expect_record(&mut consumer, 0);
    let (_, bytes) = poll(&mut consumer).expect("the dead claim was never skipped");
    check(1, &bytes);
    assert_eq!(consumer.skipped_claims(), 1);
    assert_eq!(ring.skipped_claims(), 1);
    expect_empty(&mut consumer);
    assert_eq!(consumer.skipped_claims(), 1, "counted once");
}

#[test]
fn a_live_producers_claim_is_never_skipped() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let path = TempPath::new("live-claim");
        let ring = create(&path, 4096, mode);
        let mut consumer = ring.consumer().unwrap();
        let mut spsc = (mode == Mode::Spsc).then(|| ring.spsc_producer().unwrap());
        let mpsc = (mode == Mode::Mpsc).then(|| ring.mpsc_producer().unwrap());
        let other = (mode == Mode::Mpsc).then(|| ring.mpsc_producer().unwrap());
        let mut claim = match (&mut spsc, &mpsc) {
            (Some(producer), _) => producer.try_claim(len_of(0)).unwrap(),
            (_, Some(producer)) => producer.try_claim(len_of(0)).unwrap(),
            _ => unreachable!(),
        };
        fill(0, &mut claim);
        if let Some(other) = &other {
            other.try_send(&payload(1)).unwrap();
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(200) {
            expect_empty(&mut consumer);
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(consumer.skipped_claims(), 0, "{mode}");
        claim.commit();
        expect_record(&mut consumer, 0);
        if other.is_some() {
            expect_record(&mut consumer, 1);
        }
        assert_eq!(consumer.skipped_claims(), 0);
    }
}

#[test]
fn a_new_spsc_producer_takes_over_from_one_that_left_a_claim() {
    // `room`: bytes left before the end of the data area when the dead
    // claim (span 112) is made; below 112 it needs wrap padding.
    let capacity = 1024u64;
    for room in [8, 16, 56, 104, 112, 120] {
        for consumer_first in [false, true] {
            take_over_at(capacity, room, consumer_first);
        }
    }
}

fn take_over_at(capacity: u64, room: u64, consumer_first: bool) {
    let what = format!("room {room}, consumer first: {consumer_first}");
    let path = TempPath::new("take-over");
    let ring = create(&path, capacity as usize, Mode::Spsc);
    let mut consumer = ring.consumer().unwrap();
    let mut producer = ring.spsc_producer().unwrap();

    // Move both ends to `capacity - room - 32`, then leave two records of
    // span 16 unread just before the dead claim.
    let mut pos = 0;
    while pos < capacity - room - 32 {
        let len = (capacity - room - 32 - pos).min(256) - 8;
        let mut claim = producer.try_claim(len as usize).unwrap();
        pos = claim.position() + 8 + len;
        claim.fill(0xee);
        claim.commit();
        drop(consumer.try_recv().unwrap());
    }
    for key in [1000u64, 1001] {
        producer.try_send(&key.to_le_bytes()).unwrap();
    }
    let mut claim = producer.try_claim(100).unwrap();
    claim.fill(0xdd);
    let dead = claim.position();
    assert_eq!(
        dead & (capacity - 1),
        if room < 112 { 0 } else { capacity - room },
        "{what}"
    );
    std::mem::forget(claim);
    drop(producer);

    for key in [1000u64, 1001] {
        let (_, bytes) = poll(&mut consumer).unwrap();
        assert_eq!(bytes, key.to_le_bytes(), "{what}");
    }
    if consumer_first {
        // The consumer gets to the dead claim and skips it before anyone
        // takes the producer's place.
        let start = Instant::now();
        while consumer.skipped_claims() == 0 && start.elapsed() < PATIENCE {
            assert_eq!(
                consumer.try_recv().err(),
                Some(queue::TryRecvError::Empty),
                "{what}"
            );
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(consumer.skipped_claims(), 1, "{what}");
    }
    let mut producer = ring.spsc_producer().unwrap();
    for key in 0..5 {
        producer.try_send(&payload(key)).unwrap();
    }
    let (first, bytes) = poll(&mut consumer).unwrap_or_else(|| panic!("{what}: stuck"));
    assert_eq!(first, dead + 112, "{what}: the record after the dead claim");
    check(0, &bytes);
    for key in 1..5 {
        expect_record(&mut consumer, key);
    }
    assert_eq!(consumer.skipped_claims(), 1, "{what}: counted once");
    expect_empty(&mut consumer);

    // The ring goes on working across the next wrap.
    for key in 5..200 {
        producer.try_send(&payload(key)).unwrap();
        expect_record(&mut consumer, key);
    }
    assert_eq!(ring.skipped_claims(), 1, "{what}");
}

#[test]
fn a_draining_receiver_skips_a_dead_claim() {
    let path = TempPath::new("drain-dead-claim");
    let ring = create(&path, 4096, Mode::Spsc);
    {
        let mut producer = ring.spsc_producer().unwrap();
        for key in 0..3 {
            producer.try_send(&payload(key)).unwrap();
        }
        std::mem::forget(producer.try_claim(30).unwrap());
    }
    let mut receiver = ring.receiver().unwrap();
    for key in 0..3 {
        check(key, &receiver.recv_timeout(PATIENCE).unwrap());
    }
    // No producer is attached: the claim can never be committed.
    assert!(matches!(
        receiver.recv_timeout(Duration::from_secs(60)),
        Err(RecvTimeoutError::Disconnected)
    ));
    assert_eq!(receiver.skipped_claims(), 1);
    assert!(receiver.corruption().is_none());
}

#[test]
fn an_unread_record_goes_to_the_next_consumer() {
    let path = ring_file("unread", 4096, Mode::Spsc);
    let ring = open(&path);
    let positions = write_spsc(&ring, 0..3);
    {
        let mut receiver = ring.receiver().unwrap();
        check(0, &receiver.try_recv().unwrap());
        let record = receiver.try_recv().unwrap();
        check(1, &record);
        // A tailer whose output closed leaves the record it could not print.
        record.unread();
    }
    assert_eq!(ring.head(), positions[1]);
    let mut consumer = ring.consumer().unwrap();
    expect_record(&mut consumer, 1);
    expect_record(&mut consumer, 2);
    expect_empty(&mut consumer);
}
