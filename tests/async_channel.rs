//! The async channel ends (`logring::nonblocking`, feature `async`) on heap
//! rings, call by call, under both executors (see `async_support`):
//!
//! - What each call returns: `claim(len).await`, `send(bytes).await`,
//!   `try_claim` and `try_send` (`Full` at once), `TooLarge` from the first
//!   poll, `Disconnected` once the receiver is gone (at once, and for a
//!   claim already waiting),
//!   `recv().await`, `try_recv` (`Empty`, then `Disconnected` only after
//!   everything sent before the last sender dropped has been received),
//!   `recv_batch`, `try_recv_batch` and the `Stream` of owned copies.
//! - Waiting and waking: a send on a full ring stays pending until the
//!   receiver releases space, and the release wakes it; several MPSC senders
//!   waiting at once all complete; a waiting receiver is woken by a commit and
//!   by the last sender dropping. Wake-ups are checked with a waker that
//!   counts them, so a lost wake-up fails instead of being rescued by a later
//!   poll.
//!
//! Traffic and lost wake-up races are in `async_traffic.rs`, ends mixing the
//! blocking and async forms in `async_and_blocking.rs`, cancel safety in
//! `async_cancel.rs`.

#![cfg(feature = "async")]

mod common;
#[macro_use]
mod async_support;

use common::{Streams, check, fill, record_key as key};

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use async_support::{
    AsyncTx, Exec, FIXED, New, Probe, check_fixed, commit_fixed, expect_record, fill_ring, len_of,
    open_channel, receive_fixed, receive_to_end, send_record, wait_until,
};
use futures::stream::FusedStream;
use futures::{StreamExt, poll};
use logring::nonblocking::{
    self, AsyncSendError, RecvError, SendError, SpinPolicy, TryRecvError, mpsc,
};

// ---------------------------------------------------------------------------
// Sending and receiving.

/// Every call's result on a quiet channel: records arrive in order with their
/// tags, aborted claims never arrive, `try_recv` is `Empty` until the sender
/// is gone and `Disconnected` only after everything it sent was received,
/// and a record longer than the maximum is `TooLarge` on the first poll.
async fn basic<T: AsyncTx, E: Exec>(new: New<T>, _exec: E) {
    let (mut tx, mut rx) = open_channel(new, 1024);
    assert_eq!(rx.try_recv().map(drop), Err(TryRecvError::Empty));
    assert!(rx.is_empty());
    assert_eq!(rx.capacity(), 1024);

    let mut claim = tx.claim(5).await.expect("room for 5 bytes");
    claim.copy_from_slice(b"hello");
    claim.set_tag(7).unwrap();
    claim.commit();
    tx.send(b"world").await.expect("room for 5 bytes");
    // A zero-length record still carries its tag.
    let mut claim = tx.claim(0).await.expect("room for an empty record");
    claim.set_tag(0xdead_beef).unwrap();
    claim.commit();
    // logring's own tags are refused; the claim keeps the tag it had.
    let mut claim = tx.claim(0).await.expect("room for an empty record");
    claim.set_tag(9).unwrap();
    let refused = claim.set_tag(0xffff_ff01).unwrap_err();
    assert_eq!((refused.tag(), claim.tag()), (0xffff_ff01, 9));
    assert!(
        refused.to_string().contains("0xffffff01 is reserved"),
        "{refused}"
    );
    claim.abort();
    // Aborted claims, explicitly or by drop, are never delivered.
    tx.claim(8).await.expect("room for 8 bytes").abort();
    drop(tx.try_claim(3).expect("room for 3 bytes"));
    let mut claim = tx.try_claim(3).expect("room for 3 bytes");
    claim.copy_from_slice(b"abc");
    claim.commit();
    assert!(!rx.is_empty());

    let record = rx.recv().await.expect("the first record");
    assert_eq!((&*record, record.tag()), (&b"hello"[..], 7));
    drop(record);
    let record = rx.try_recv().expect("the second record, ready");
    assert_eq!((&*record, record.tag()), (&b"world"[..], 0));
    drop(record);
    let record = rx.recv().await.expect("the empty record");
    assert_eq!((&*record, record.tag()), (&b""[..], 0xdead_beef));
    drop(record);
    let record = rx.recv().await.expect("the record after the aborted ones");
    assert_eq!(&*record, b"abc");
    record.release();
    assert_eq!(rx.try_recv().map(drop), Err(TryRecvError::Empty));
    assert!(rx.is_empty());
    assert!(!rx.is_disconnected());
    assert!(!tx.is_disconnected());

    // Too large: an error on the first poll, never a wait; the largest record
    // fits in the empty ring.
    let max = tx.max_record_len();
    assert_eq!(rx.max_record_len(), max);
    let too_large = AsyncSendError::TooLarge { len: max + 1, max };
    {
        let probe = Probe::new();
        let mut claim = pin!(tx.claim(max + 1));
        match probe.poll(claim.as_mut()) {
            Poll::Ready(result) => assert_eq!(result.map(drop), Err(too_large)),
            Poll::Pending => panic!("a claim of {} bytes waits instead of failing", max + 1),
        }
    }
    assert_eq!(tx.send(&vec![0; max + 1]).await, Err(too_large));
    let too_large = SendError::TooLarge { len: max + 1, max };
    assert_eq!(tx.try_claim(max + 1).map(drop), Err(too_large));
    assert_eq!(tx.try_send(&vec![0; max + 1]), Err(too_large));
    let largest: Vec<u8> = (0..max).map(|i| i as u8).collect();
    tx.send(&largest).await.expect("the largest record fits");
    assert_eq!(&*rx.recv().await.expect("the largest record"), &largest[..]);
    assert_eq!(rx.full_rejections(), 0);

    // Records sent before the sender drops are all received, then `Err`.
    for seq in 0..3 {
        send_record(&mut tx, 0, seq).await;
    }
    drop(tx);
    assert!(rx.is_disconnected());
    let mut streams = Streams::new(1, len_of);
    expect_record(
        rx.try_recv().map_err(|_| RecvError::Disconnected),
        &mut streams,
    );
    expect_record(rx.recv().await, &mut streams);
    expect_record(rx.recv().await, &mut streams);
    assert_eq!(rx.recv().await.map(drop), Err(RecvError::Disconnected));
    assert_eq!(rx.try_recv().map(drop), Err(TryRecvError::Disconnected));
    assert_eq!(rx.recv().await.map(drop), Err(RecvError::Disconnected));
    assert_eq!(rx.skipped_claims(), 0);
    assert_eq!(rx.corruption(), None);
}
kinds_and_executors!(basic);

/// A claim from `claim(len).await` (or `try_claim`) is an `io::Write` and a
/// `fmt::Write`: `write!` formats in place, a write that does not fit
/// writes nothing and fails, and commit publishes the bytes written (all of
/// the claim if nothing was written that way); a claim a write failed on can
/// be committed with what it holds, or dropped to abort it. Committing wakes
/// a receiving task.
async fn claims_write_in_place<T: AsyncTx, E: Exec>(new: New<T>, exec: E) {
    use std::io::ErrorKind::WriteZero;
    let (mut tx, mut rx) = open_channel(new, 1024);
    let receiver = exec.spawn(async move {
        let mut got = Vec::new();
        while let Ok(record) = rx.recv().await {
            got.push((record.to_vec(), record.tag()));
        }
        got
    });

    let mut claim = tx.claim(64).await.expect("room");
    {
        use std::fmt::Write as _;
        write!(claim, "order {} filled at {:.2}", 42, 101.5).unwrap();
        assert_eq!(write!(claim, "{}", "x".repeat(40)), Err(std::fmt::Error));
    }
    claim.set_tag(3).unwrap();
    claim.commit();

    let mut claim = tx.try_claim(8).expect("room");
    {
        use std::io::Write as _;
        claim.write_all(b"abc").unwrap();
        assert_eq!(claim.write(b"defghi").unwrap_err().kind(), WriteZero);
        claim.write_all(b"defgh").unwrap();
        assert_eq!(claim.write(b"!").unwrap_err().kind(), WriteZero);
    }
    claim.commit();

    let mut claim = tx.claim(16).await.expect("room");
    {
        use std::io::Write as _;
        claim.write_all(b"hello world").unwrap();
    }
    claim.truncate(5);
    claim.commit();

    let mut claim = tx.claim(4).await.expect("room");
    {
        use std::fmt::Write as _;
        claim.write_str("ab").unwrap();
        assert!(claim.write_str("cde").is_err());
    }
    drop(claim);
    let mut claim = tx.claim(4).await.expect("room");
    {
        use std::fmt::Write as _;
        claim.write_str("ok").unwrap();
        assert!(claim.write_str("cde").is_err());
    }
    claim.commit();

    let mut claim = tx.claim(4).await.expect("room");
    claim.copy_from_slice(b"full");
    claim.commit();
    let mut claim = tx.claim(0).await.expect("room");
    {
        use std::io::Write as _;
        assert_eq!(claim.write(b"").unwrap(), 0);
        assert_eq!(claim.write(b"x").unwrap_err().kind(), WriteZero);
    }
    claim.commit();
    drop(tx);

    let got = receiver.await;
    let expected: Vec<(Vec<u8>, u32)> = [
        (&b"order 42 filled at 101.50"[..], 3),
        (b"abcdefgh", 0),
        (b"hello", 0),
        (b"ok", 0),
        (b"full", 0),
        (b"", 0),
    ]
    .into_iter()
    .map(|(bytes, tag)| (bytes.to_vec(), tag))
    .collect();
    assert_eq!(got, expected);
}
kinds_and_executors!(claims_write_in_place);

/// `try_send` and `try_claim` never wait or spin: on a full ring they fail
/// with `Full` at once, each counted once, whatever the sender's spin
/// policy (one that would keep an awaited `claim` looking again far longer
/// than the scenario's hang guard allows).
async fn try_send_never_spins<T: AsyncTx, E: Exec>(new: New<T>, _exec: E) {
    let (mut tx, rx) = open_channel(new, 1024);
    let filled = fill_ring(&mut tx, 0);
    assert_eq!(tx.full_rejections(), 1, "the refusal that ended the fill");
    tx.set_spin_policy(SpinPolicy::new(u32::MAX, 0));
    for round in 0..100 {
        assert_eq!(
            tx.try_send(&[0; FIXED]),
            Err(SendError::Full),
            "round {round}"
        );
        assert_eq!(tx.try_send(b""), Err(SendError::Full), "round {round}");
        assert_eq!(
            tx.try_claim(0).map(drop),
            Err(SendError::Full),
            "round {round}"
        );
    }
    assert_eq!(tx.full_rejections(), 1 + 300);
    assert_eq!(rx.full_rejections(), tx.full_rejections());
    assert_eq!(rx.len_bytes(), filled as usize * 64, "nothing was taken");
}
kinds_and_executors!(try_send_never_spins);

// ---------------------------------------------------------------------------
// Waiting and waking.

/// Senders learn at once that the receiver is gone: a send waiting for space
/// is woken by the receiver's drop and returns `Disconnected`, and every
/// later send fails the same way without waiting.
async fn receiver_dropped<T: AsyncTx, E: Exec>(new: New<T>, _exec: E) {
    let (mut tx, rx) = open_channel(new, 1024);
    fill_ring(&mut tx, 0);
    {
        let probe = Probe::new();
        let mut send = pin!(tx.claim(FIXED));
        assert!(
            probe.poll(send.as_mut()).is_pending(),
            "a send on a full ring"
        );
        drop(rx);
        assert!(
            probe.wakes() > 0,
            "the receiver's drop did not wake the waiting send"
        );
        match probe.poll(send.as_mut()) {
            Poll::Ready(result) => {
                assert_eq!(result.map(drop), Err(AsyncSendError::Disconnected));
            }
            Poll::Pending => panic!("the send still waits with the receiver gone"),
        }
    }
    assert!(tx.is_disconnected());
    assert_eq!(
        tx.claim(0).await.map(drop),
        Err(AsyncSendError::Disconnected)
    );
    assert_eq!(tx.send(b"x").await, Err(AsyncSendError::Disconnected));
    assert_eq!(tx.try_claim(0).map(drop), Err(SendError::Disconnected));
    assert_eq!(tx.try_send(b"x"), Err(SendError::Disconnected));

    // The same with an empty ring: no wait at all.
    let (mut tx, rx) = open_channel(new, 1024);
    drop(rx);
    let probe = Probe::new();
    let mut send = pin!(tx.claim(1));
    match probe.poll(send.as_mut()) {
        Poll::Ready(result) => assert_eq!(result.map(drop), Err(AsyncSendError::Disconnected)),
        Poll::Pending => panic!("a send waits with the receiver gone"),
    }
}
kinds_and_executors!(receiver_dropped);

/// A send on a full ring stays pending (and is not counted as a rejection)
/// until the receiver releases a record, whose release wakes it; it then
/// completes and its record arrives. A pending send that is dropped, after
/// one poll, after losing a race against a timer, or after being woken but
/// before being polled again, has claimed nothing: the ring's length stays
/// the same, the space freed meanwhile goes to the next send, and the
/// receiver gets every record sent exactly once, in order, and nothing else.
async fn full_ring<T: AsyncTx, E: Exec>(new: New<T>, exec: E) {
    let (mut tx, mut rx) = open_channel(new, 1024);
    let capacity = tx.capacity();
    let mut sent = fill_ring(&mut tx, 0);
    assert_eq!(sent, (capacity / 64) as u64);
    let mut received = 0;
    let rejections = tx.full_rejections();

    // Pending until a release, which wakes it.
    {
        let probe = Probe::new();
        let mut send = pin!(tx.claim(FIXED));
        assert!(
            probe.poll(send.as_mut()).is_pending(),
            "a send on a full ring"
        );
        exec.sleep(Duration::from_millis(20)).await;
        assert!(
            probe.poll(send.as_mut()).is_pending(),
            "a send completed on a full ring"
        );
        let wakes = probe.wakes();
        receive_fixed(&mut rx, &mut received).await;
        assert!(
            probe.wakes() > wakes,
            "the release did not wake the waiting send"
        );
        match probe.poll(send.as_mut()) {
            Poll::Ready(Ok(claim)) => commit_fixed(claim, sent),
            Poll::Ready(Err(error)) => panic!("the woken send failed: {error}"),
            Poll::Pending => panic!("the woken send still waits with room in the ring"),
        }
        sent += 1;
    }
    assert_eq!(
        tx.full_rejections(),
        rejections,
        "waiting is not a rejection"
    );
    assert_eq!(tx.len_bytes(), capacity);

    // Dropped after one poll.
    {
        let probe = Probe::new();
        let mut send = pin!(tx.claim(FIXED));
        assert!(probe.poll(send.as_mut()).is_pending());
    }
    assert_eq!(tx.len_bytes(), capacity);
    // Dropped by losing a race against a timer, through the executor.
    for _ in 0..3 {
        let raced = exec.race(tx.claim(FIXED)).await;
        assert!(raced.is_none(), "a send completed on a full ring");
    }
    assert_eq!(tx.len_bytes(), capacity);
    // Dropped after the release that woke it, without being polled again:
    // the space is free for the next send.
    {
        let probe = Probe::new();
        let mut send = pin!(tx.claim(FIXED));
        assert!(probe.poll(send.as_mut()).is_pending());
        receive_fixed(&mut rx, &mut received).await;
        assert!(
            probe.wakes() > 0,
            "the release did not wake the waiting send"
        );
    }
    assert_eq!(tx.len_bytes(), capacity - 64, "a dropped send kept space");
    let claim = tx.claim(FIXED).await.expect("room for one record");
    commit_fixed(claim, sent);
    sent += 1;
    assert_eq!(tx.len_bytes(), capacity);

    // Everything sent arrives exactly once, in order, and nothing else.
    drop(tx);
    while let Ok(record) = rx.recv().await {
        check_fixed(record.tag(), &record, received);
        received += 1;
    }
    assert_eq!(received, sent);
    assert!(rx.is_empty());
    assert_eq!(rx.skipped_claims(), 0);
}
kinds_and_executors!(full_ring);

/// Several MPSC senders waiting for space at once, each in its own task, all
/// complete once the receiver has released room for them, and a fourth
/// waiting send that is dropped takes none of that room.
async fn mpsc_senders_wait_together<E: Exec>(exec: E) {
    const WAITERS: u32 = 3;
    let (mut tx, mut rx) = open_channel(mpsc::new, 1024);
    let sent = fill_ring(&mut tx, 0);
    let parked = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..WAITERS)
        .map(|id| {
            let mut tx = tx.clone();
            let (parked, done) = (Arc::clone(&parked), Arc::clone(&done));
            exec.spawn(async move {
                let mut send = pin!(tx.claim(FIXED));
                assert!(poll!(send.as_mut()).is_pending(), "a send on a full ring");
                parked.fetch_add(1, Ordering::SeqCst);
                let mut claim = send.await.expect("room once the receiver releases");
                fill(key(1, u64::from(id)), &mut claim);
                claim.set_tag((1 << 24) | id).unwrap();
                claim.commit();
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    wait_until(&exec, "every sender waits", || {
        parked.load(Ordering::SeqCst) == WAITERS as usize
    })
    .await;
    // One more waiting send, dropped before any room is made.
    let mut dropped = tx.clone();
    {
        let probe = Probe::new();
        let mut send = pin!(dropped.claim(FIXED));
        assert!(probe.poll(send.as_mut()).is_pending());
    }
    drop(tx);
    exec.sleep(Duration::from_millis(20)).await;
    assert_eq!(
        done.load(Ordering::SeqCst),
        0,
        "a send completed on a full ring"
    );

    // Room for exactly the three.
    let mut received = 0;
    for _ in 0..WAITERS {
        receive_fixed(&mut rx, &mut received).await;
    }
    for waiter in waiters {
        waiter.await;
    }
    assert_eq!(done.load(Ordering::SeqCst), WAITERS as usize);
    assert_eq!(rx.len_bytes(), rx.capacity());
    drop(dropped);

    // The rest of the original records, then the three, then the end.
    while received < sent {
        receive_fixed(&mut rx, &mut received).await;
    }
    let mut ids = Vec::new();
    while let Ok(record) = rx.recv().await {
        let id = record.tag() & 0x00ff_ffff;
        assert_eq!(record.tag() >> 24, 1, "an unexpected record");
        check(key(1, u64::from(id)), &record);
        ids.push(id);
    }
    ids.sort_unstable();
    assert_eq!(ids, [0, 1, 2]);
    assert!(rx.is_empty());
}
executors!(mpsc_senders_wait_together);

/// A waiting receiver is woken by a commit, and by the last sender dropping,
/// after which it drains what is left and reports `Err`; a receiver task the
/// executor parked ends the same way.
async fn receiver_woken<T: AsyncTx, E: Exec>(new: New<T>, exec: E) {
    let mut streams = Streams::new(1, len_of);
    let (mut tx, mut rx) = open_channel(new, 1024);
    // Woken by a commit.
    {
        let probe = Probe::new();
        let mut recv = pin!(rx.recv());
        assert!(probe.poll(recv.as_mut()).is_pending(), "nothing to receive");
        send_record(&mut tx, 0, 0).await;
        assert!(probe.wakes() > 0, "the commit did not wake the receiver");
        match probe.poll(recv.as_mut()) {
            Poll::Ready(received) => expect_record(received, &mut streams),
            Poll::Pending => panic!("the woken receiver found nothing"),
        }
    }
    // A waiting `recv_batch` too.
    {
        let probe = Probe::new();
        let mut batch = pin!(rx.recv_batch(8, |record| {
            streams.check(record.tag(), &record);
        }));
        assert!(
            probe.poll(batch.as_mut()).is_pending(),
            "nothing to receive"
        );
        send_record(&mut tx, 0, 1).await;
        assert!(probe.wakes() > 0, "the commit did not wake the batch");
        assert_eq!(probe.poll(batch.as_mut()), Poll::Ready(Ok(1)));
    }
    // Woken by the last sender dropping.
    {
        let probe = Probe::new();
        let mut recv = pin!(rx.recv());
        assert!(probe.poll(recv.as_mut()).is_pending(), "nothing to receive");
        drop(tx);
        assert!(
            probe.wakes() > 0,
            "the sender's drop did not wake the receiver"
        );
        match probe.poll(recv.as_mut()) {
            Poll::Ready(received) => assert_eq!(received.map(drop), Err(RecvError::Disconnected)),
            Poll::Pending => panic!("the woken receiver still waits"),
        }
    }

    // A receiver task: gets every record, then `Err` once the sender drops
    // while it waits.
    let (mut tx, mut rx) = open_channel(new, 1024);
    let consumer = exec.spawn(async move {
        let mut streams = Streams::new(1, len_of);
        receive_to_end(&mut rx, &mut streams).await;
        assert!(rx.is_empty());
        streams.count(0)
    });
    for seq in 0..200 {
        send_record(&mut tx, 0, seq).await;
        if seq % 50 == 0 {
            exec.sleep(Duration::from_millis(1)).await;
        }
    }
    // Time for the consumer to run out of records and park.
    exec.sleep(Duration::from_millis(20)).await;
    drop(tx);
    assert_eq!(consumer.await, 200);
}
kinds_and_executors!(receiver_woken);

/// MPSC: the receiver reports `Err` only once the last of several senders
/// is gone, after receiving what each sent before dropping; dropping the
/// others leaves it waiting.
async fn mpsc_last_sender_drop<E: Exec>(_exec: E) {
    let (tx, mut rx) = open_channel(mpsc::new, 1024);
    let mut senders: Vec<mpsc::Sender> = (0..3).map(|_| tx.clone()).collect();
    drop(tx);
    for (id, tx) in senders.iter_mut().enumerate() {
        send_record(tx, id as u32, 0).await;
    }
    let mut streams = Streams::new(3, len_of);
    for _ in 0..3 {
        expect_record(rx.recv().await, &mut streams);
    }
    let probe = Probe::new();
    let mut recv = pin!(rx.recv());
    assert!(probe.poll(recv.as_mut()).is_pending(), "nothing to receive");
    let last = senders.pop().expect("three senders");
    drop(senders);
    assert!(
        probe.poll(recv.as_mut()).is_pending(),
        "the receiver ended with a sender left"
    );
    drop(last);
    assert!(
        probe.wakes() > 0,
        "the last sender's drop did not wake the receiver"
    );
    match probe.poll(recv.as_mut()) {
        Poll::Ready(received) => assert_eq!(received.map(drop), Err(RecvError::Disconnected)),
        Poll::Pending => panic!("the woken receiver still waits"),
    }
}
executors!(mpsc_last_sender_drop);

// ---------------------------------------------------------------------------
// Batches and the stream.

/// Batches and the stream: `recv_batch` with a limit of zero returns at
/// once, batches read up to their limit in order, and the `Stream` of owned
/// copies delivers every record of a concurrent producer task and ends
/// (and stays ended) once the sender is gone.
async fn batches_and_stream<T: AsyncTx, E: Exec>(new: New<T>, exec: E) {
    let (mut tx, mut rx) = open_channel(new, 4096);
    let mut streams = Streams::new(1, len_of);
    let nothing = |_: nonblocking::Record<'_>| panic!("a record from an empty ring");
    assert_eq!(rx.recv_batch(0, nothing).await, Ok(0));
    assert_eq!(rx.try_recv_batch(8, nothing), Err(TryRecvError::Empty));
    for seq in 0..40 {
        send_record(&mut tx, 0, seq).await;
    }
    let mut take = |record: nonblocking::Record<'_>| {
        streams.check(record.tag(), &record);
    };
    assert_eq!(rx.recv_batch(0, &mut take).await, Ok(0));
    assert_eq!(rx.recv_batch(16, &mut take).await, Ok(16));
    assert_eq!(rx.try_recv_batch(16, &mut take), Ok(16));
    assert_eq!(rx.recv_batch(100, &mut take).await, Ok(8));
    assert_eq!(streams.count(0), 40);
    assert!(rx.is_empty());

    // The stream, fed by a producer task that pauses now and then.
    const STREAMED: u64 = 2_000;
    let producer = exec.spawn({
        let exec = exec.clone();
        async move {
            for seq in 40..40 + STREAMED {
                send_record(&mut tx, 0, seq).await;
                if seq % 256 == 0 {
                    exec.sleep(Duration::from_millis(1)).await;
                }
            }
        }
    });
    let mut stream = rx.into_stream();
    assert!(!stream.is_terminated());
    // Each item carries its record's tag and position: positions grow by at
    // least each record's span.
    let mut next_position = 40 * 8;
    while let Some(item) = stream.next().await {
        let record = item.unwrap_or_else(|corrupt| panic!("{corrupt}"));
        streams.check(record.tag(), &record);
        assert!(
            record.position() >= next_position && record.position() % 8 == 0,
            "record at {}, expected an aligned position from {next_position}",
            record.position()
        );
        next_position = record.position() + (8 + record.len() as u64).next_multiple_of(8);
    }
    producer.await;
    assert_eq!(streams.count(0), 40 + STREAMED);
    assert!(stream.is_terminated());
    assert_eq!(stream.next().await, None);
    let mut rx = stream.into_inner();
    assert_eq!(rx.try_recv().map(drop), Err(TryRecvError::Disconnected));
    assert!(rx.is_empty());
}
kinds_and_executors!(batches_and_stream);

/// A stream item is the record's owned copy with its tag and its position,
/// as `recv` would have shown them; it gives its bytes back as a `Vec`.
async fn stream_items_keep_tag_and_position<T: AsyncTx, E: Exec>(new: New<T>, _exec: E) {
    let (mut tx, rx) = open_channel(new, 1024);
    let mut sent = Vec::new();
    for (tag, bytes) in [
        (7, &b"first"[..]),
        (0, b""),
        (*logring::ReservedTag::RANGE.start() - 1, b"third record"),
    ] {
        let mut claim = tx.claim(bytes.len()).await.expect("room");
        claim.copy_from_slice(bytes);
        claim.set_tag(tag).unwrap();
        sent.push((claim.position(), tag, bytes.to_vec()));
        claim.commit();
    }
    tx.send(b"untagged").await.expect("room");
    drop(tx);
    let items: Vec<_> = rx.into_stream().collect().await;
    assert_eq!(items.len(), 4, "{items:?}");
    for (item, (position, tag, bytes)) in items.iter().zip(&sent) {
        let record = item.as_ref().unwrap_or_else(|corrupt| panic!("{corrupt}"));
        assert_eq!(
            (record.position(), record.tag(), &**record),
            (*position, *tag, &bytes[..])
        );
        assert_eq!(record.as_ref(), &bytes[..]);
    }
    let last = items[3].clone().expect("the fourth record");
    assert_eq!((last.tag(), last.position()), (0, 48));
    assert_eq!(last.clone().into_vec(), b"untagged");
    assert_eq!(Vec::from(last), b"untagged");
}
kinds_and_executors!(stream_items_keep_tag_and_position);
