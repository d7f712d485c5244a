//! Traffic through the async channel ends, and the races a lost wake-up
//! hides in, under both executors (see `async_support`):
//!
//! - Four producer tasks and a consumer task on a 4 KiB MPSC ring: every
//!   byte, every length, the order per producer and the counts are checked.
//! - Lock step: ping-pong over two channels, and a stream through a ring
//!   that holds two records, where a single lost wake-up deadlocks the pair;
//!   and a thread that spins instead of parking, publishing just as the
//!   async end goes back to wait, so that publishes land between the end's
//!   last look at the ring and its announcement (the race the handshake's
//!   re-check exists for).

#![cfg(feature = "async")]

mod common;
#[macro_use]
mod async_support;

use common::{Streams, check, counted, fill, mix, record_key as key, record_tag as tag_of};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Instant;

use async_support::{
    AsyncTx, BlockingTx, Exec, New, PATIENCE, commit_record, expect_record, len_of, open_channel,
    send_record, wait_until,
};
use logring::nonblocking::{self, RecvError, TryRecvError, mpsc};

// ---------------------------------------------------------------------------
// Traffic.

/// Four producer tasks send 50,000 records each (0 to 100 bytes) through a
/// 4 KiB MPSC ring to one consumer task, which alternates `recv` and
/// `recv_batch`: every byte, every length, each producer's order and the
/// counts are right. The consumer starts only once producers wait for space,
/// so the waiting path is taken for sure (and then often).
async fn four_producer_tasks<E: Exec>(exec: E) {
    const PRODUCERS: u32 = 4;
    const EACH: u64 = 50_000;
    let (tx, mut rx) = open_channel(mpsc::new, 4096);
    let waits = Arc::new(AtomicU64::new(0));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|id| {
            let mut tx = tx.clone();
            let waits = Arc::clone(&waits);
            exec.spawn(async move {
                for seq in 0..EACH {
                    let len = len_of(key(id, seq));
                    match counted(tx.claim(len), &waits).await {
                        Ok(claim) => commit_record(claim, id, seq),
                        Err(error) => panic!("producer {id}: record {seq}: {error}"),
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let consumer = exec.spawn({
        let (exec, waits) = (exec.clone(), Arc::clone(&waits));
        async move {
            wait_until(&exec, "a producer waits for space", || {
                waits.load(Ordering::Relaxed) > 0
            })
            .await;
            let mut streams = Streams::new(PRODUCERS as usize, len_of);
            for round in 0usize.. {
                let received = if round % 3 == 0 {
                    rx.recv_batch(1 + round % 32, |record| {
                        streams.check(record.tag(), &record);
                    })
                    .await
                    .map(drop)
                } else {
                    rx.recv().await.map(|record| {
                        streams.check(record.tag(), &record);
                    })
                };
                if received.is_err() {
                    break;
                }
            }
            (streams, rx)
        }
    });
    for producer in producers {
        producer.await;
    }
    let (streams, rx) = consumer.await;
    for id in 0..PRODUCERS {
        assert_eq!(streams.count(id), EACH, "producer {id}");
    }
    assert!(rx.is_empty());
    assert_eq!(rx.corruption(), None);
    assert_eq!(rx.skipped_claims(), 0);
    println!(
        "producers' sends found the ring full {} times",
        waits.load(Ordering::Relaxed)
    );
}
executors!(four_producer_tasks);

// ---------------------------------------------------------------------------
// Lock step, and publishes in the wake-up window.

/// Checks that `received` is the record tagged `seq` with `seq`'s payload.
#[track_caller]
fn check_numbered(received: Result<nonblocking::ReadClaim<'_>, TryRecvError>, seq: u64) {
    match received {
        Ok(record) => {
            assert_eq!(record.tag(), seq as u32, "record {seq}: tag");
            check(seq, &record);
        }
        Err(error) => panic!("record {seq}: {error}"),
    }
}

/// Lock step, where every wait must be ended by exactly one wake-up and
/// nothing else comes along to rescue a lost one: two tasks play ping-pong
/// over two channels (each round trip is one commit each way, and each side
/// waits for it), then one task streams records through a 64-byte ring,
/// which holds at most two, to another (the sender waits for nearly every
/// release, the receiver for nearly every commit). A lost wake-up deadlocks
/// the pair, which the hang guard reports.
async fn lockstep<T: AsyncTx, E: Exec>(new: New<T>, exec: E) {
    const ROUND_TRIPS: u64 = 5_000;
    let (mut ping_tx, mut ping_rx) = open_channel(new, 256);
    let (mut pong_tx, mut pong_rx) = open_channel(new, 256);
    let echo = exec.spawn(async move {
        let mut streams = Streams::new(1, len_of);
        while let Ok(record) = ping_rx.recv().await {
            streams.check(record.tag(), &record);
            drop(record);
            send_record(&mut pong_tx, 0, streams.count(0) - 1).await;
        }
        streams.count(0)
    });
    let mut streams = Streams::new(1, len_of);
    for seq in 0..ROUND_TRIPS {
        send_record(&mut ping_tx, 0, seq).await;
        expect_record(pong_rx.recv().await, &mut streams);
    }
    drop(ping_tx);
    assert_eq!(echo.await, ROUND_TRIPS);
    assert_eq!(pong_rx.recv().await.map(drop), Err(RecvError::Disconnected));

    const STREAMED: u64 = 20_000;
    let (mut tx, mut rx) = open_channel(new, 64);
    let max = tx.max_record_len();
    let producer = exec.spawn(async move {
        for seq in 0..STREAMED {
            let len = len_of(key(0, seq)) % (max + 1);
            let mut claim = match tx.claim(len).await {
                Ok(claim) => claim,
                Err(error) => panic!("record {seq}: {error}"),
            };
            fill(key(0, seq), &mut claim);
            claim.set_tag(tag_of(0, seq)).unwrap();
            claim.commit();
        }
    });
    let mut received = 0;
    while let Ok(record) = rx.recv().await {
        assert_eq!(record.tag(), tag_of(0, received), "record {received}: tag");
        assert_eq!(record.len(), len_of(key(0, received)) % (max + 1));
        check(key(0, received), &record);
        received += 1;
    }
    producer.await;
    assert_eq!(received, STREAMED);
}
kinds_and_executors!(lockstep);

/// Rounds of each half of [`wake_window`].
const WINDOW_ROUNDS: u64 = 10_000;

/// Busy-waits for a pseudo-random 0 to 120 spin-loop hints (a fraction of
/// a microsecond to a few), spread so that short delays are as common as
/// long ones whatever a hint costs on this CPU.
fn jitter(round: u64, salt: u64) {
    let random = mix(round ^ salt);
    for _ in 0..(random % 16) << (random >> 62) {
        std::hint::spin_loop();
    }
}

/// Spins until `done()` holds; fails the test with `what` after
/// [`PATIENCE`].
#[track_caller]
fn spin_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "{what}");
        std::hint::spin_loop();
    }
}

/// The race a waiting end's handshake exists for: a publish that lands
/// between the end's last look at the ring and its announcement that it
/// waits. A thread that never parks plays the other end: it spins until the
/// async task has just published, waits a random fraction of a microsecond
/// to a few (see [`jitter`]), and then makes the one publish the task's next
/// wait depends on, over and over, so that many publishes land in that
/// window. Nothing else comes
/// along to wake the task, so a single lost wake-up stops the pair, and the
/// thread reports it.
///
/// - Receiving: the task echoes each of the thread's records on a second
///   channel; the thread sends the next record just as the task goes back
///   to `recv`.
/// - Sending: the task streams records into a ring that holds two; the
///   thread releases one just as the task, having filled the ring, goes
///   back to `claim`.
async fn wake_window<T: AsyncTx, E: Exec>(new: New<T>, exec: E) {
    let (ping_tx, mut ping_rx) = open_channel(new, 1024);
    let (mut pong_tx, pong_rx) = open_channel(new, 1024);
    let echo = exec.spawn(async move {
        let mut echoed = 0u64;
        while let Ok(record) = ping_rx.recv().await {
            assert_eq!(&*record, &echoed.to_le_bytes()[..], "ping {echoed}");
            drop(record);
            if let Err(error) = pong_tx.send(&echoed.to_le_bytes()).await {
                panic!("pong {echoed}: {error}");
            }
            echoed += 1;
        }
        echoed
    });
    let mut ping_tx = ping_tx.into_blocking();
    let mut pong_rx = pong_rx.into_blocking();
    let pinger = thread::spawn(move || {
        for round in 0..WINDOW_ROUNDS {
            jitter(round, 0x9196);
            let mut claim = match ping_tx.claim(8) {
                Ok(claim) => claim,
                Err(error) => panic!("ping {round}: {error}"),
            };
            claim.copy_from_slice(&round.to_le_bytes());
            claim.commit();
            let mut pong = None;
            spin_until(
                &format!("round {round}: no pong; the echo task missed a commit's wake-up"),
                || match pong_rx.try_recv() {
                    Ok(record) => {
                        pong = Some(record.to_vec());
                        true
                    }
                    Err(TryRecvError::Empty) => false,
                    Err(TryRecvError::Disconnected) => panic!("round {round}: the echo task left"),
                    Err(error) => panic!("round {round}: {error}"),
                },
            );
            assert_eq!(
                pong.as_deref(),
                Some(&round.to_le_bytes()[..]),
                "pong {round}"
            );
        }
    });
    // Joined first (this thread is no executor's worker): its panic, if
    // any, says more than the task's.
    if let Err(panic) = pinger.join() {
        std::panic::resume_unwind(panic);
    }
    assert_eq!(echo.await, WINDOW_ROUNDS);

    let (mut tx, rx) = open_channel(new, 64);
    let (max, capacity) = (tx.max_record_len(), tx.capacity());
    assert_eq!(2 * (max + 8), capacity, "the ring holds two records");
    let producer = exec.spawn(async move {
        for seq in 0..WINDOW_ROUNDS + 2 {
            let mut claim = match tx.claim(max).await {
                Ok(claim) => claim,
                Err(error) => panic!("record {seq}: {error}"),
            };
            fill(seq, &mut claim);
            claim.set_tag(seq as u32).unwrap();
            claim.commit();
        }
    });
    let mut rx = rx.into_blocking();
    let releaser = thread::spawn(move || {
        for round in 0..WINDOW_ROUNDS {
            spin_until(
                &format!(
                    "round {round}: the ring stays part empty; the producer task \
                     missed a release's wake-up"
                ),
                || {
                    let full = rx.len_bytes() == capacity;
                    // It leaves only after its last record, which fills the
                    // ring.
                    assert!(
                        full || !rx.is_disconnected(),
                        "round {round}: the producer task left"
                    );
                    full
                },
            );
            jitter(round, 0x5ace);
            // The older of the two records is committed: the task makes one
            // claim at a time.
            check_numbered(rx.try_recv(), round);
        }
        rx
    });
    // Joined first, as above.
    let mut rx = releaser
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    producer.await;
    for seq in WINDOW_ROUNDS..WINDOW_ROUNDS + 2 {
        check_numbered(rx.try_recv(), seq);
    }
    assert_eq!(rx.try_recv().map(drop), Err(TryRecvError::Disconnected));
}
kinds_and_executors!(wake_window);
