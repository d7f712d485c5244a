//! Blocking and async channel ends on one ring, under both executors (see
//! `async_support`): a blocking producer thread feeding an async consumer
//! and async producers feeding a blocking receiver; ends converted between
//! the blocking and async forms, back and forth, by every conversion. Every
//! byte, every length, the order per producer and the counts are checked,
//! and a wait in one form is woken by the other.

#![cfg(feature = "async")]

mod common;
#[macro_use]
mod async_support;

use common::Streams;

use std::pin::pin;
use std::sync::mpsc as std_mpsc;
use std::task::Poll;
use std::thread;
use std::time::Duration;

use async_support::{
    AsyncTx, BlockingTx, Exec, FIXED, New, PATIENCE, Probe, check_fixed, commit_fixed,
    expect_record, fill_ring, len_of, open_channel, receive_to_end, send_record,
    send_record_blocking,
};
use logring::channel::{self, RecvTimeoutError};
use logring::nonblocking::Receiver;

// ---------------------------------------------------------------------------
// Blocking and async ends together.

/// A blocking SPSC producer thread (retrying on `Full`) feeds an async
/// consumer task through a receiver converted with `into_async`; and, the
/// other way round, two async MPSC producer tasks (their sender converted
/// with `into_async`) feed a blocking receiver thread. Order and every byte
/// are checked.
async fn blocking_and_async_ends<E: Exec>(exec: E) {
    const RECORDS: u64 = 50_000;
    let (mut tx, rx) = channel::spsc::new(4096).expect("a 4 KiB channel");
    let mut rx = rx.into_async();
    let producer = thread::spawn(move || {
        for seq in 0..RECORDS {
            send_record_blocking(&mut tx, 0, seq);
            if seq % 4096 == 0 {
                thread::sleep(Duration::from_millis(1));
            }
        }
    });
    let consumer = exec.spawn(async move {
        let mut streams = Streams::new(1, len_of);
        receive_to_end(&mut rx, &mut streams).await;
        assert!(rx.is_empty());
        streams.count(0)
    });
    let received = consumer.await;
    // The consumer has seen the sender drop: the thread has ended.
    if let Err(panic) = producer.join() {
        std::panic::resume_unwind(panic);
    }
    assert_eq!(received, RECORDS);

    const EACH: u64 = 20_000;
    let (tx, mut rx) = channel::mpsc::new(4096).expect("a 4 KiB channel");
    let tx = tx.into_async();
    let producers: Vec<_> = (0..2)
        .map(|id| {
            let mut tx = tx.clone();
            exec.spawn(async move {
                for seq in 0..EACH {
                    send_record(&mut tx, id, seq).await;
                }
            })
        })
        .collect();
    drop(tx);
    let consumer = thread::spawn(move || {
        let mut streams = Streams::new(2, len_of);
        loop {
            match rx.recv_timeout(PATIENCE) {
                Ok(record) => {
                    streams.check(record.tag(), &record);
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("no record within {PATIENCE:?}"),
                Err(error) => panic!("{error}"),
            }
        }
        assert!(rx.is_empty());
        streams
    });
    for producer in producers {
        producer.await;
    }
    // The producers are done and their senders dropped: the thread ends.
    let streams = consumer
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    assert_eq!((streams.count(0), streams.count(1)), (EACH, EACH));
}
executors!(blocking_and_async_ends);

/// One ring's ends converted back and forth between the async and blocking
/// forms, by every conversion (`into_blocking`, `into_async`, and `From`
/// both ways): records keep their order across the conversions, a blocking
/// receiver made from an async one whose wait was cancelled is woken by a
/// commit, an async receiver made from a blocking one is woken by a commit
/// from a blocking sender, and an async sender made from a blocking one
/// waits for space and is woken by a blocking receiver's release.
async fn conversions<T: AsyncTx, E: Exec>(new: New<T>, exec: E) {
    let (mut tx, mut rx) = open_channel(new, 1024);
    let mut streams = Streams::new(1, len_of);
    let mut seq = 0;

    // Async ends.
    for _ in 0..4 {
        send_record(&mut tx, 0, seq).await;
        seq += 1;
    }
    expect_record(rx.recv().await, &mut streams);
    expect_record(rx.recv().await, &mut streams);

    // Blocking, by the inherent methods.
    let mut btx = tx.into_blocking();
    let mut brx = rx.into_blocking();
    for _ in 0..4 {
        send_record_blocking(&mut btx, 0, seq);
        seq += 1;
    }
    for _ in 0..3 {
        let record = brx.recv_timeout(PATIENCE).expect("a record");
        streams.check(record.tag(), &record);
    }

    // Async again, by `From`.
    let mut tx = btx.async_from();
    let mut rx = Receiver::from(brx);
    for _ in 0..4 {
        send_record(&mut tx, 0, seq).await;
        seq += 1;
    }
    for _ in 0..3 {
        expect_record(rx.recv().await, &mut streams);
    }

    // Blocking again, by `From`, after a receive that was cancelled while it
    // waited: the blocking receiver, asleep on another thread, is woken by
    // the commit.
    while let Ok(record) = rx.try_recv() {
        streams.check(record.tag(), &record);
    }
    {
        let probe = Probe::new();
        let mut recv = pin!(rx.recv());
        assert!(probe.poll(recv.as_mut()).is_pending(), "nothing to receive");
    }
    let mut btx = tx.blocking_from();
    let mut brx = channel::Receiver::from(rx);
    // `recv`, not `recv_timeout`: the latter looks again at its deadline,
    // which would hide a lost wake-up.
    let (done, woken) = std_mpsc::channel();
    thread::spawn(move || {
        let got = brx.recv().map(|record| (record.tag(), record.to_vec()));
        let _ = done.send((brx, got));
    });
    thread::sleep(Duration::from_millis(20));
    send_record_blocking(&mut btx, 0, seq);
    seq += 1;
    let brx = match woken.recv_timeout(PATIENCE) {
        Ok((brx, Ok((tag, bytes)))) => {
            streams.check(tag, &bytes);
            brx
        }
        Ok((_, Err(error))) => panic!("{error}; expected a record"),
        Err(std_mpsc::RecvTimeoutError::Timeout) => {
            panic!("the blocking receiver was not woken by the commit within {PATIENCE:?}")
        }
        Err(std_mpsc::RecvTimeoutError::Disconnected) => panic!("the receiver thread panicked"),
    };

    // Async again, by the inherent `into_async`: a receiver task is woken by
    // a commit from a blocking sender.
    let mut rx = brx.into_async();
    let consumer = exec.spawn(async move {
        let got = match rx.recv().await {
            Ok(record) => (record.tag(), record.to_vec()),
            Err(error) => panic!("{error}; expected a record"),
        };
        (rx, got)
    });
    thread::sleep(Duration::from_millis(20));
    send_record_blocking(&mut btx, 0, seq);
    seq += 1;
    let (rx, (tag, bytes)) = consumer.await;
    streams.check(tag, &bytes);

    // An async sender made from a blocking one waits on a full ring and is
    // woken by a blocking receiver's release.
    let mut tx = btx.into_async();
    let mut brx = rx.into_blocking();
    let mut fixed = 0;
    let filled = fill_ring(&mut tx, 0);
    {
        let probe = Probe::new();
        let mut send = pin!(tx.claim(FIXED));
        assert!(
            probe.poll(send.as_mut()).is_pending(),
            "a send on a full ring"
        );
        let record = brx.try_recv().expect("a record in the full ring");
        check_fixed(record.tag(), &record, fixed);
        drop(record);
        fixed += 1;
        assert!(
            probe.wakes() > 0,
            "the release did not wake the waiting send"
        );
        match probe.poll(send.as_mut()) {
            Poll::Ready(Ok(claim)) => commit_fixed(claim, filled),
            Poll::Ready(Err(error)) => panic!("the woken send failed: {error}"),
            Poll::Pending => panic!("the woken send still waits with room in the ring"),
        }
    }
    drop(tx);
    loop {
        match brx.recv_timeout(PATIENCE) {
            Ok(record) => {
                check_fixed(record.tag(), &record, fixed);
                fixed += 1;
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => panic!("no record within {PATIENCE:?}"),
            Err(error) => panic!("{error}"),
        }
    }
    assert_eq!(fixed, filled + 1);
    assert_eq!(streams.count(0), seq);
    assert!(brx.is_empty());
}
kinds_and_executors!(conversions);
