//! Async ends of ring files (features `async` and `mmap`, Linux), with the
//! other ends in real child processes (this test binary, run again with a
//! role: see `process`). Each waiting async end of a ring file has a
//! notifier thread asleep on the ring's futex word, woken by publishers in
//! any process; these tests check that path end to end, on a tokio
//! multi-thread runtime.
//!
//! - A stream: a producer process sends 200,000 records, pausing now and
//!   then so that the parent's consumer task parks often; every byte, the
//!   order and the count are checked, and `recv` reports `Err` once the
//!   producer has exited.
//! - A parked receiver task (following, so nothing but a wake-up can end its
//!   wait) is woken by a single commit from another process.
//! - A sender task waiting for space on a full ring is woken by a consumer
//!   process's release (a waiting sender's sleep has no time limit either).
//! - A producer process killed with `SIGKILL` while it holds a claim: the
//!   async receiver delivers what came before it, stays at the claim while
//!   its producer lives, skips it once the producer is dead, and delivers
//!   another producer process's records committed after it.
//! - A ring file damaged behind the library's back (in this process): every
//!   async receive call, and the record stream, deliver the records before
//!   the bad word and then report it as corrupt, naming its position; a
//!   parked receiver task is woken with it. An async sender whose ring's
//!   `head` was damaged out of reach of its `tail` reports corruption from
//!   every send, and does not wait for room that cannot come.
//!
//! Every wait has a deadline, so a lost wake-up fails its test instead of
//! hanging it. The tests take turns, so that each has the CPUs to itself and
//! its children.

#![cfg(all(feature = "async", feature = "mmap", target_os = "linux"))]

mod common;
#[macro_use]
mod process;
mod ringfile;

use common::{Streams, check, counted, fill, mix, record_key as key, record_tag as tag_of};
use process::{PATIENCE, Proc, Role, TempPath, create, one_at_a_time};
use ringfile::{HEAD_AT, HEADER, patch_u64};

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FusedStream;
use logring::CorruptRing;
use logring::channel::{self, RecvTimeoutError, SendClaim, SendError};
use logring::file::{Mode, RingFile};
use logring::nonblocking::{self, AsyncSendError, Receiver, Record, RecvError, TryRecvError};

/// How long a waiting end may take to be woken by another process.
const WAKE_PATIENCE: Duration = Duration::from_secs(5);

// Records: producer `id`'s record `seq` has the key `key(id, seq)`, a length
// (0 to 100 bytes) and payload derived from the key, and a tag naming the
// producer and the low bits of the sequence number.

fn len_of(key: u64) -> usize {
    (mix(key ^ 0xf11e_a5c0) % 101) as usize
}

/// Writes record `seq` of producer `id` into `claim` (of its length) and
/// commits it.
fn commit_record(mut claim: SendClaim<'_>, id: u32, seq: u64) {
    let key = key(id, seq);
    fill(key, &mut claim);
    claim.set_tag(tag_of(id, seq)).unwrap();
    claim.commit();
}

/// The payload length of the records that fill a ring exactly (a span of
/// 64 bytes with the record word), so that each release makes room for one.
const FIXED: usize = 56;

/// The ring's consumer, as an async receiver.
fn async_receiver(ring: &RingFile) -> Receiver {
    match ring.receiver() {
        Ok(receiver) => receiver.into_async(),
        Err(error) => panic!("cannot attach the receiver: {error}"),
    }
}

// The producing end of a ring file, of either mode.

/// A blocking sender of either mode.
enum Tx {
    Spsc(channel::spsc::Sender),
    Mpsc(channel::mpsc::Sender),
}

impl Tx {
    fn attach(ring: &RingFile) -> Self {
        let attached = match ring.mode() {
            Mode::Spsc => ring.spsc_sender().map(Tx::Spsc),
            Mode::Mpsc => ring.mpsc_sender().map(Tx::Mpsc),
        };
        attached.unwrap_or_else(|error| panic!("cannot attach a producer: {error}"))
    }

    fn claim(&mut self, len: usize) -> Result<SendClaim<'_>, SendError> {
        match self {
            Tx::Spsc(tx) => tx.claim(len),
            Tx::Mpsc(tx) => tx.claim(len),
        }
    }

    /// Claims `len` bytes, retrying while the ring is full, and hands the
    /// claim to `f`.
    fn with_claim<R>(&mut self, len: usize, f: impl FnOnce(SendClaim<'_>) -> R) -> R {
        let start = Instant::now();
        loop {
            match self.claim(len) {
                Ok(claim) => return f(claim),
                Err(SendError::Full) => {}
                Err(error) => panic!("claiming {len} bytes: {error}"),
            }
            assert!(start.elapsed() < PATIENCE, "the ring stayed full");
            thread::sleep(Duration::from_micros(20));
        }
    }

    /// Sends record `seq` of producer `id`.
    fn send(&mut self, id: u32, seq: u64) {
        let len = len_of(key(id, seq));
        self.with_claim(len, |claim| commit_record(claim, id, seq));
    }

    fn into_async(self) -> AsyncTx {
        match self {
            Tx::Spsc(tx) => AsyncTx::Spsc(tx.into_async()),
            Tx::Mpsc(tx) => AsyncTx::Mpsc(tx.into_async()),
        }
    }
}

/// An async sender of either mode.
enum AsyncTx {
    Spsc(nonblocking::spsc::Sender),
    Mpsc(nonblocking::mpsc::Sender),
}

impl AsyncTx {
    async fn claim(&mut self, len: usize) -> Result<SendClaim<'_>, AsyncSendError> {
        match self {
            AsyncTx::Spsc(tx) => tx.claim(len).await,
            AsyncTx::Mpsc(tx) => tx.claim(len).await,
        }
    }

    fn try_claim(&mut self, len: usize) -> Result<SendClaim<'_>, SendError> {
        match self {
            AsyncTx::Spsc(tx) => tx.try_claim(len),
            AsyncTx::Mpsc(tx) => tx.try_claim(len),
        }
    }

    async fn send(&mut self, payload: &[u8]) -> Result<(), AsyncSendError> {
        match self {
            AsyncTx::Spsc(tx) => tx.send(payload).await,
            AsyncTx::Mpsc(tx) => tx.send(payload).await,
        }
    }

    fn try_send(&mut self, payload: &[u8]) -> Result<(), SendError> {
        match self {
            AsyncTx::Spsc(tx) => tx.try_send(payload),
            AsyncTx::Mpsc(tx) => tx.try_send(payload),
        }
    }

    fn is_disconnected(&self) -> bool {
        match self {
            AsyncTx::Spsc(tx) => tx.is_disconnected(),
            AsyncTx::Mpsc(tx) => tx.is_disconnected(),
        }
    }
}

// The children. Each role opens the ring named by its path and reports to
// the parent on its stdout.

#[test]
fn child() {
    let Some((role, ring)) = process::child() else {
        return;
    };
    match role.name.as_str() {
        "produce" => produce(&ring, &role),
        "two_batches" => two_batches(&ring, &role),
        "commit_on_eof" => commit_on_eof(&ring, &role),
        "release" => release(&ring, &role),
        "hold" => hold(&ring, &role),
        other => panic!("unknown role {other}"),
    }
}

/// Args: producer id, count, pause interval. Sends `count` records, sleeping
/// a millisecond after every `pause interval` of them (never if 0), and
/// reports `sent <count>`.
fn produce(ring: &RingFile, role: &Role) {
    let (id, count, every) = (role.arg(0) as u32, role.arg(1), role.arg(2));
    let mut tx = Tx::attach(ring);
    report!("attached");
    for seq in 0..count {
        tx.send(id, seq);
        if every != 0 && seq % every == every - 1 {
            thread::sleep(Duration::from_millis(1));
        }
    }
    report!("sent {count}");
}

/// Args: producer id, count. Sends `count` records and reports
/// `sent <count>`; once its stdin closes, sends `count` more and reports
/// `sent <2 count>`.
fn two_batches(ring: &RingFile, role: &Role) {
    let (id, count) = (role.arg(0) as u32, role.arg(1));
    let mut tx = Tx::attach(ring);
    report!("attached");
    for seq in 0..count {
        tx.send(id, seq);
    }
    report!("sent {count}");
    process::wait_for_stdin_eof();
    for seq in count..2 * count {
        tx.send(id, seq);
    }
    report!("sent {}", 2 * count);
}

/// Args: producer id. Attaches, reports `attached`, and once its stdin
/// closes sends record 0 and reports `sent 1`.
fn commit_on_eof(ring: &RingFile, role: &Role) {
    let id = role.arg(0) as u32;
    let mut tx = Tx::attach(ring);
    report!("attached");
    process::wait_for_stdin_eof();
    tx.send(id, 0);
    report!("sent 1");
}

/// Args: count. Receives `count` of producer 0's fixed-length records and
/// reports `released <count>`; once its stdin closes, receives until
/// disconnected and reports `received <total>`.
fn release(ring: &RingFile, role: &Role) {
    let count = role.arg(0);
    let mut rx = ring.receiver().expect("attach the receiver");
    report!("attached");
    let mut streams = Streams::new(1, |_| FIXED);
    for _ in 0..count {
        let record = rx.recv_timeout(PATIENCE).expect("a record");
        streams.check(record.tag(), &record);
    }
    report!("released {count}");
    process::wait_for_stdin_eof();
    loop {
        match rx.recv_timeout(PATIENCE) {
            Ok(record) => {
                streams.check(record.tag(), &record);
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => panic!("no record and no disconnection"),
            Err(error) => panic!("{error}"),
        }
    }
    report!("received {}", streams.count(0));
}

/// Args: producer id, count, claim length. Sends `count` records, claims one
/// more, writes half of it, reports `holding <position>` and waits (to be
/// killed) with the claim held.
fn hold(ring: &RingFile, role: &Role) {
    let (id, count, len) = (role.arg(0) as u32, role.arg(1), role.arg(2) as usize);
    let mut tx = Tx::attach(ring);
    report!("attached");
    for seq in 0..count {
        tx.send(id, seq);
    }
    tx.with_claim(len, |mut claim| {
        claim.set_tag(tag_of(id, count)).unwrap();
        fill(key(id, count), &mut claim[..len / 2]);
        report!("holding {}", claim.position());
        process::wait_for_stdin_eof();
    });
}

// The parent's side.

/// A tokio multi-thread runtime with two workers.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|error| panic!("cannot build a tokio runtime: {error}"))
}

/// The output of a spawned task, which must finish within `limit`
/// (re-raising its panic).
async fn join<T>(task: tokio::task::JoinHandle<T>, limit: Duration, what: &str) -> T {
    match tokio::time::timeout(limit, task).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("{what}: the task did not finish: {error}"),
        },
        Err(_) => panic!("{what}: not done within {limit:?}"),
    }
}

/// Waits (napping on the runtime) until `done()` holds; fails the test with
/// `what` after [`PATIENCE`].
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A producer process sends 200,000 records (0 to 100 bytes) into a 16 KiB
/// MPSC ring file, pausing a millisecond every 2,000; a consumer task in this
/// process receives them with `recv().await` from an async receiver, parking
/// whenever it has drained the ring, so that the producer's commits wake it
/// through the notifier thread. Every byte, the order and the count are
/// right, and `recv` reports `Err` once the producer has exited.
#[test]
fn async_receiver_streams_from_a_producer_process() {
    let _turn = one_at_a_time();
    const RECORDS: u64 = 200_000;
    let path = TempPath::new("async-stream");
    let ring = create(&path, 16 << 10, Mode::Mpsc);
    let mut producer = Proc::spawn("produce", path.path(), &[0, RECORDS, 2_000]);
    producer.expect("attached");
    let mut rx = async_receiver(&ring);
    let parked = Arc::new(AtomicU64::new(0));
    let (streams, rx) = runtime().block_on(async {
        let parked = Arc::clone(&parked);
        let consumer = tokio::spawn(async move {
            let mut streams = Streams::new(1, len_of);
            while let Ok(record) = counted(rx.recv(), &parked).await {
                streams.check(record.tag(), &record);
            }
            (streams, rx)
        });
        join(consumer, 6 * PATIENCE, "the consumer task").await
    });
    // The stream ended because the producer left, with every record in.
    assert_eq!(producer.expect("sent"), [RECORDS]);
    producer.finish();
    assert_eq!(streams.count(0), RECORDS);
    assert!(rx.is_empty());
    assert_eq!(rx.corruption(), None);
    assert_eq!(rx.skipped_claims(), 0);
    let parked = parked.load(Ordering::Relaxed);
    assert!(parked > 0, "the consumer task never waited");
    println!("the consumer task parked {parked} times");
}

/// A following async receiver (whose notifier thread sleeps with no time
/// limit, so only a wake-up can end its wait) parks with nothing to read; a
/// single commit by a producer process wakes its task.
#[test]
fn parked_async_receiver_is_woken_by_a_commit_in_another_process() {
    let _turn = one_at_a_time();
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let path = TempPath::new("async-wake");
        let ring = create(&path, 4096, mode);
        let mut rx = async_receiver(&ring);
        rx.set_follow(true);
        let mut child = Proc::spawn("commit_on_eof", path.path(), &[0]);
        child.expect("attached");
        let (rx, (tag, bytes)) = runtime().block_on(async {
            let parked = Arc::new(AtomicU64::new(0));
            let waiting = tokio::spawn({
                let parked = Arc::clone(&parked);
                async move {
                    let received = match counted(rx.recv(), &parked).await {
                        Ok(record) => (record.tag(), record.to_vec()),
                        Err(_) => panic!("a following receiver reported Err"),
                    };
                    (rx, received)
                }
            });
            wait_until("the receiver task parks", || {
                parked.load(Ordering::Relaxed) > 0
            })
            .await;
            // Time for the notifier thread to fall asleep on the word.
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(!waiting.is_finished(), "{mode}: a record from nowhere");
            child.close_stdin();
            join(
                waiting,
                WAKE_PATIENCE,
                "the receiver task, woken by a commit",
            )
            .await
        });
        Streams::new(1, len_of).check(tag, &bytes);
        assert_eq!(child.expect("sent"), [1]);
        child.finish();
        assert!(rx.is_empty());
    }
}

/// A sender task waits in `claim().await` on a full ring file (its notifier
/// thread sleeps on the senders' word with no time limit); a consumer process
/// attaches and releases one record, which wakes it, and its record arrives
/// after all the others.
#[test]
fn async_sender_on_a_full_ring_is_woken_by_a_consumer_process() {
    let _turn = one_at_a_time();
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let path = TempPath::new("async-space");
        let ring = create(&path, 4096, mode);
        let mut tx = Tx::attach(&ring).into_async();
        // No consumer is attached: sends go on until the ring is full.
        assert!(tx.is_disconnected());
        let mut filled = 0;
        loop {
            match tx.try_claim(FIXED) {
                Ok(mut claim) => {
                    fill(key(0, filled), &mut claim);
                    claim.set_tag(tag_of(0, filled)).unwrap();
                    claim.commit();
                    filled += 1;
                }
                Err(SendError::Full) => break,
                Err(error) => panic!("{mode}: filling the ring: {error}"),
            }
        }
        assert_eq!(
            filled,
            4096 / 64,
            "{mode}: records of 64 bytes fill the ring"
        );
        let mut child = None;
        let tx = runtime().block_on(async {
            let parked = Arc::new(AtomicU64::new(0));
            let waiting = tokio::spawn({
                let parked = Arc::clone(&parked);
                async move {
                    match counted(tx.claim(FIXED), &parked).await {
                        Ok(mut claim) => {
                            fill(key(0, filled), &mut claim);
                            claim.set_tag(tag_of(0, filled)).unwrap();
                            claim.commit();
                        }
                        Err(error) => panic!("a ring file's sender failed: {error}"),
                    }
                    tx
                }
            });
            wait_until("the sender task parks", || {
                parked.load(Ordering::Relaxed) > 0
            })
            .await;
            // Time for the notifier thread to fall asleep on the word.
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(
                !waiting.is_finished(),
                "{mode}: a send completed on a full ring"
            );
            let consumer = child.insert(Proc::spawn("release", path.path(), &[1]));
            consumer.expect("attached");
            assert_eq!(consumer.expect("released"), [1]);
            join(
                waiting,
                WAKE_PATIENCE,
                "the sender task, woken by a release",
            )
            .await
        });
        let mut consumer = child.expect("the consumer process");
        // The consumer drains everything once this producer has left.
        drop(tx);
        consumer.close_stdin();
        assert_eq!(consumer.expect("received"), [filled + 1], "{mode}");
        consumer.finish();
        assert!(ring.is_empty());
    }
}

/// A producer process killed with `SIGKILL` while it holds a claim: the
/// async receiver task delivers the records committed before the claim,
/// stays at the claim while its producer lives (delivering nothing past it),
/// skips it once the producer is dead, then delivers the records another
/// producer process committed after it, before and after the kill, and
/// reports `Err` when that one exits.
#[test]
fn async_receiver_skips_the_claim_of_a_killed_producer_process() {
    let _turn = one_at_a_time();
    const BEFORE: u64 = 20;
    const EACH_BATCH: u64 = 300;
    let path = TempPath::new("async-kill");
    let ring = create(&path, 64 << 10, Mode::Mpsc);
    let mut holder = Proc::spawn("hold", path.path(), &[0, BEFORE, 77]);
    holder.expect("attached");
    let claim = holder.expect("holding")[0];
    let mut other = Proc::spawn("two_batches", path.path(), &[1, EACH_BATCH]);
    other.expect("attached");
    assert_eq!(other.expect("sent"), [EACH_BATCH]);
    let mut rx = async_receiver(&ring);
    let counts = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let (streams, rx) = runtime().block_on(async {
        let consumer = tokio::spawn({
            let counts = Arc::clone(&counts);
            async move {
                let mut streams = Streams::new(2, len_of);
                while let Ok(record) = rx.recv().await {
                    let id = streams.check(record.tag(), &record);
                    assert_eq!(
                        id == 1,
                        record.position() > claim,
                        "the other producer's records are all after the claim"
                    );
                    counts[id as usize].store(streams.count(id), Ordering::SeqCst);
                }
                (streams, rx)
            }
        });
        wait_until("the records before the claim are in", || {
            counts[0].load(Ordering::SeqCst) == BEFORE
        })
        .await;
        // A live producer's claim is never skipped, however long it is held.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            counts[1].load(Ordering::SeqCst),
            0,
            "records delivered past a live claim"
        );
        assert_eq!(ring.skipped_claims(), 0, "a live claim was skipped");
        holder.kill();
        wait_until("the records after the claim are in", || {
            counts[1].load(Ordering::SeqCst) == EACH_BATCH
        })
        .await;
        // More records, committed after the kill; then the stream ends.
        other.close_stdin();
        join(consumer, PATIENCE, "the consumer task").await
    });
    assert_eq!(other.expect("sent"), [2 * EACH_BATCH]);
    other.finish();
    assert_eq!(streams.count(0), BEFORE);
    assert_eq!(streams.count(1), 2 * EACH_BATCH);
    assert_eq!(rx.skipped_claims(), 1);
    assert!(rx.is_empty());
    assert_eq!(rx.corruption(), None);
}

/// After an async receiver's wait was cancelled, the receiver made from it
/// (here: its blocking form, following) is woken by a commit. The async
/// end's notifier thread is asleep on the waiter word when the end is
/// converted; if it were left there, it would take the commit's wake-up
/// (which wakes one sleeper) and the blocking receiver would sleep on with
/// the word marked awake, woken by no later commit either.
#[test]
fn receiver_after_a_cancelled_async_wait_is_woken_by_a_commit() {
    let _turn = one_at_a_time();
    let path = TempPath::new("async-leftover");
    let ring = create(&path, 4096, Mode::Mpsc);
    let mut tx = Tx::attach(&ring);
    let mut rx = async_receiver(&ring);
    rx.set_follow(true);
    {
        let waker = futures::task::noop_waker();
        let mut recv = pin!(rx.recv());
        let pending = recv.as_mut().poll(&mut Context::from_waker(&waker));
        assert!(matches!(pending, Poll::Pending), "nothing to receive");
        // Time for the notifier thread to fall asleep on the word.
        thread::sleep(Duration::from_millis(50));
    }
    let mut rx = rx.into_blocking();
    // `recv`, not `recv_timeout`: the latter looks again at its deadline,
    // which would hide a lost wake-up.
    let (done, received) = std_mpsc::channel();
    thread::spawn(move || {
        let got = rx.recv().map(|record| record.to_vec());
        let _ = done.send(got);
    });
    // Time for the blocking receiver to fall asleep on the word.
    thread::sleep(Duration::from_millis(50));
    tx.send(0, 0);
    match received.recv_timeout(WAKE_PATIENCE) {
        Ok(Ok(bytes)) => check(key(0, 0), &bytes),
        Ok(Err(error)) => panic!("a following receiver reported {error}"),
        Err(std_mpsc::RecvTimeoutError::Timeout) => {
            panic!("the receiver was not woken by the commit within {WAKE_PATIENCE:?}")
        }
        Err(std_mpsc::RecvTimeoutError::Disconnected) => panic!("the receiver thread panicked"),
    }
}

// Corruption. A ring file damaged behind the library's back: the async
// receiver delivers the records before the bad word, then reports it as
// `Corrupt`, naming the position, from every call and to a waiting task.

/// A closed SPSC ring file of 4096 bytes holding producer 0's records 0 to
/// 11, the word of record 6 overwritten with one no producer writes; returns
/// the path and the records' positions.
fn corrupt_ring_file() -> (TempPath, Vec<u64>) {
    let path = TempPath::new("async-corrupt");
    let positions = {
        let ring = create(&path, 4096, Mode::Spsc);
        let mut tx = ring.spsc_sender().unwrap();
        (0..12)
            .map(|seq| {
                let claim = tx.claim(len_of(key(0, seq))).unwrap();
                let position = claim.position();
                commit_record(claim, 0, seq);
                position
            })
            .collect::<Vec<_>>()
    };
    patch_u64(path.path(), word_at(positions[6]), u64::MAX);
    (path, positions)
}

/// File offset of the record word at `position` of a 4096-byte ring.
fn word_at(position: u64) -> u64 {
    HEADER + (position & 4095)
}

/// The corruption of [`corrupt_ring_file`].
fn corruption_at(position: u64) -> CorruptRing {
    CorruptRing {
        position,
        word: u64::MAX,
        reason: "unknown record state",
    }
}

/// The async receive calls, each tried on a corrupt ring.
#[derive(Clone, Copy, Debug)]
enum Call {
    Recv,
    PollRecv,
    RecvBatch,
    TryRecv,
    TryRecvBatch,
}

/// Receives with `call` (a batch of up to 4 records for the batch calls):
/// the positions received, or the error, with the message it displays.
async fn receive(rx: &mut Receiver, call: Call) -> Result<Vec<u64>, (TryRecvError, String)> {
    let failed = |error: RecvError| (TryRecvError::from(error), error.to_string());
    let try_failed = |error: TryRecvError| (error, error.to_string());
    let mut batch = Vec::new();
    let take = |record: Record<'_>| batch.push(record.position());
    match call {
        Call::Recv => rx.recv().await.map(|r| vec![r.position()]).map_err(failed),
        Call::PollRecv => poll_fn(|cx| rx.poll_recv(cx).map_ok(|r| vec![r.position()]))
            .await
            .map_err(failed),
        Call::RecvBatch => rx.recv_batch(4, take).await.map(|_| batch).map_err(failed),
        Call::TryRecv => rx
            .try_recv()
            .map(|r| vec![r.position()])
            .map_err(try_failed),
        Call::TryRecvBatch => rx
            .try_recv_batch(4, take)
            .map(|_| batch)
            .map_err(try_failed),
    }
}

#[test]
fn every_async_receive_call_reports_a_corrupt_ring_as_corrupt() {
    let _turn = one_at_a_time();
    let calls = [
        Call::Recv,
        Call::PollRecv,
        Call::RecvBatch,
        Call::TryRecv,
        Call::TryRecvBatch,
    ];
    runtime().block_on(async {
        for call in calls {
            for follow in [false, true] {
                let what = format!("{call:?}, follow: {follow}");
                let (path, positions) = corrupt_ring_file();
                let ring = RingFile::open(path.path()).unwrap();
                let mut rx = async_receiver(&ring);
                rx.set_follow(follow);
                let mut received = Vec::new();
                let error = loop {
                    let outcome = tokio::time::timeout(WAKE_PATIENCE, receive(&mut rx, call))
                        .await
                        .unwrap_or_else(|_| panic!("{what}: no answer within {WAKE_PATIENCE:?}"));
                    match outcome {
                        Ok(positions) => received.extend(positions),
                        Err(error) => break error,
                    }
                };
                assert_eq!(received, positions[..6], "{what}: the records before it");
                let expected = corruption_at(positions[6]);
                assert_eq!(error.0, TryRecvError::Corrupt(expected), "{what}");
                assert!(
                    error.1.contains(&format!("position {}", positions[6]))
                        && !error.1.contains("disconnected"),
                    "{what}: {}",
                    error.1
                );
                // Every call keeps reporting it.
                for again in calls {
                    let error = receive(&mut rx, again).await.expect_err("nothing past it");
                    assert_eq!(
                        error.0,
                        TryRecvError::Corrupt(expected),
                        "{what}, {again:?}"
                    );
                }
                assert_eq!(rx.corruption(), Some(expected), "{what}");
            }
        }
    });
}

#[test]
fn a_record_stream_yields_the_corruption_as_an_item_and_then_ends() {
    let _turn = one_at_a_time();
    let (path, positions) = corrupt_ring_file();
    let ring = RingFile::open(path.path()).unwrap();
    let mut stream = async_receiver(&ring).into_stream();
    let items = runtime().block_on(async {
        let mut items = Vec::new();
        loop {
            let next = tokio::time::timeout(WAKE_PATIENCE, stream.next())
                .await
                .expect("the stream neither yields nor ends");
            match next {
                Some(item) => items.push(item),
                None => break items,
            }
        }
    });
    assert_eq!(items.len(), 7, "{items:?}");
    for (seq, item) in items[..6].iter().enumerate() {
        match item {
            Ok(record) => {
                check(key(0, seq as u64), record);
                assert_eq!(
                    (record.tag(), record.position()),
                    (tag_of(0, seq as u64), positions[seq]),
                    "record {seq}"
                );
            }
            Err(corrupt) => panic!("record {seq}: {corrupt}"),
        }
    }
    assert_eq!(items[6], Err(corruption_at(positions[6])));
    assert!(stream.is_terminated());
    let rx = stream.into_inner();
    assert_eq!(rx.corruption(), Some(corruption_at(positions[6])));
}

/// The async counterpart of the blocking test in `file_errors`: a task
/// waits (parked, its notifier thread asleep) at a producer's claim, whose
/// word is then overwritten with one no producer writes; another producer's
/// commit wakes it.
#[test]
fn a_task_waiting_in_recv_wakes_with_the_corruption() {
    let _turn = one_at_a_time();
    let path = TempPath::new("async-corrupt-asleep");
    let ring = create(&path, 4096, Mode::Mpsc);
    let first = ring.mpsc_sender().unwrap();
    let second = first.clone();
    let mut rx = async_receiver(&ring);
    rx.set_follow(true);
    let held = first.claim(8).unwrap();
    let bad = held.position();
    let mut later = second.claim(8).unwrap();
    later.copy_from_slice(b"after it");
    let received = runtime().block_on(async {
        let parked = Arc::new(AtomicU64::new(0));
        let waiting = tokio::spawn({
            let parked = Arc::clone(&parked);
            async move {
                let received = counted(rx.recv(), &parked).await.map(|r| r.position());
                (rx, received)
            }
        });
        wait_until("the receiver task parks", || {
            parked.load(Ordering::Relaxed) > 0
        })
        .await;
        // Time for the notifier thread to fall asleep; the test holds either
        // way.
        tokio::time::sleep(Duration::from_millis(50)).await;
        patch_u64(path.path(), word_at(bad), u64::MAX);
        later.commit();
        join(waiting, WAKE_PATIENCE, "the receiver task, woken").await
    });
    let (rx, received) = received;
    assert_eq!(received, Err(RecvError::Corrupt(corruption_at(bad))));
    assert_eq!(rx.corruption(), Some(corruption_at(bad)));
    drop(held);
}

/// An async sender on a full ring file whose `head` is then damaged more than
/// a capacity behind or ahead of the `tail`: the awaited `claim` and `send`
/// return `AsyncSendError::Corrupt` at once instead of waiting for room that
/// cannot come, and `try_claim` and `try_send` return `SendError::Corrupt`;
/// none of them counts a `Full` rejection.
#[test]
fn an_async_sender_facing_impossible_positions_reports_corruption() {
    const IMPOSSIBLE: &str = "the consumer's head is more than a capacity away from the tail";
    let _turn = one_at_a_time();
    for mode in [Mode::Spsc, Mode::Mpsc] {
        for ahead in [false, true] {
            let what = format!("{mode}, head ahead: {ahead}");
            let path = TempPath::new("async-impossible");
            let ring = create(&path, 4096, mode);
            let mut tx = Tx::attach(&ring).into_async();
            let mut filled = 0;
            loop {
                match tx.try_claim(FIXED) {
                    Ok(claim) => {
                        commit_record(claim, 0, filled);
                        filled += 1;
                    }
                    Err(SendError::Full) => break,
                    Err(error) => panic!("{what}: filling the ring: {error}"),
                }
            }
            assert_eq!(filled, 4096 / 64, "{what}");
            let tail = 4096;
            assert_eq!(ring.tail(), tail, "{what}");
            let head = if ahead {
                tail + 4096 + 64
            } else {
                tail.wrapping_sub(4096 + 64)
            };
            patch_u64(path.path(), HEAD_AT, head);
            let expected = CorruptRing {
                position: tail,
                word: head,
                reason: IMPOSSIBLE,
            };
            let (claimed, sent) = runtime().block_on(async {
                let claimed = tokio::time::timeout(WAKE_PATIENCE, tx.claim(8))
                    .await
                    .expect("claim waits on impossible positions")
                    .map(drop);
                let sent = tokio::time::timeout(WAKE_PATIENCE, tx.send(b"x"))
                    .await
                    .expect("send waits on impossible positions");
                (claimed, sent)
            });
            assert_eq!(claimed, Err(AsyncSendError::Corrupt(expected)), "{what}");
            assert_eq!(sent, Err(AsyncSendError::Corrupt(expected)), "{what}");
            assert_eq!(
                tx.try_claim(8).map(drop),
                Err(SendError::Corrupt(expected)),
                "{what}"
            );
            assert_eq!(
                tx.try_send(b"x"),
                Err(SendError::Corrupt(expected)),
                "{what}"
            );
            assert_eq!(
                ring.full_rejections(),
                1,
                "{what}: the fill's last refusal only"
            );
            assert_eq!(ring.tail(), tail, "{what}: nothing was claimed");
        }
    }
}
