//! Behaviour of the async channel ends (`logring::nonblocking`, feature
//! `async`) on heap rings, under two executors: a tokio multi-thread runtime
//! and `futures`' thread pool (with `futures::executor::block_on`).
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
//! - Cancel safety: `recv`, `recv_batch` and `claim` futures raced against a
//!   short timer (`tokio::select!` on tokio, `futures::future::select` with a
//!   timer that completes after a few polls on the thread pool), over
//!   100,000 records: every record arrives exactly once, in order, and a
//!   dropped `claim` future never leaves a claim behind.
//! - Lock step: ping-pong over two channels, and a stream through a ring
//!   that holds two records, where a single lost wake-up deadlocks the pair;
//!   and a thread that spins instead of parking, publishing just as the
//!   async end goes back to wait, so that publishes land between the end's
//!   last look at the ring and its announcement (the race the handshake's
//!   re-check exists for).
//! - Traffic: four producer tasks and a consumer task on a 4 KiB MPSC ring;
//!   a blocking producer thread feeding an async consumer and async producers
//!   feeding a blocking receiver; ends converted between blocking and async
//!   forms, back and forth, on one ring. Every byte, every length, the order
//!   per producer and the counts are checked.
//!
//! Scenarios are generic `async fn`s, run by `<scenario>::<kind>_<executor>`
//! tests (or `<scenario>::<executor>`). Each runs under a hang guard: a
//! scenario still running after [`HANG`] fails its test.

#![cfg(feature = "async")]

mod common;
use common::{Streams, check, counted, fill, mix, record_key as key, record_tag as tag_of};

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, Either};
use futures::stream::FusedStream;
use futures::task::{ArcWake, SpawnExt};
use futures::{StreamExt, poll};
use logring::Error;
use logring::channel::{self, RecvTimeoutError};
use logring::nonblocking::{
    self, AsyncSendError, Receiver, RecvError, SendClaim, SendError, SpinPolicy, TryRecvError,
    mpsc, spsc,
};

/// How long a whole scenario may run before its test reports a hang.
const HANG: Duration = Duration::from_secs(60);

/// How long any single wait inside a scenario may take.
const PATIENCE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Executors.

/// What a scenario needs of an executor.
trait Exec: Clone + Send + Sync + 'static {
    /// Runs `task` concurrently; the returned future yields its output (and
    /// re-raises its panic).
    fn spawn<T: Send + 'static>(
        &self,
        task: impl Future<Output = T> + Send + 'static,
    ) -> BoxFuture<'static, T>;

    /// Completes after `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;

    /// Races `fut` against a short timer and drops the loser: `None` if the
    /// timer won (and `fut` was dropped, perhaps in the middle of a wait).
    fn race<F>(&self, fut: F) -> impl Future<Output = Option<F::Output>> + Send
    where
        F: Future + Send,
        F::Output: Send;
}

/// A tokio multi-thread runtime.
#[derive(Clone)]
struct Tokio(tokio::runtime::Handle);

impl Exec for Tokio {
    fn spawn<T: Send + 'static>(
        &self,
        task: impl Future<Output = T> + Send + 'static,
    ) -> BoxFuture<'static, T> {
        let handle = self.0.spawn(task);
        Box::pin(async move {
            match handle.await {
                Ok(output) => output,
                Err(error) => match error.try_into_panic() {
                    Ok(panic) => std::panic::resume_unwind(panic),
                    Err(error) => panic!("a task did not finish: {error}"),
                },
            }
        })
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        let _runtime = self.0.enter();
        Box::pin(tokio::time::sleep(duration))
    }

    /// `tokio::select!` against `tokio::time::sleep` of 10 to 100 µs (which
    /// tokio's timer rounds up to its next millisecond tick).
    fn race<F>(&self, fut: F) -> impl Future<Output = Option<F::Output>> + Send
    where
        F: Future + Send,
        F::Output: Send,
    {
        let timer = Duration::from_micros(10 + next_random() % 91);
        async move {
            tokio::select! {
                output = fut => Some(output),
                () = tokio::time::sleep(timer) => None,
            }
        }
    }
}

/// `futures`' thread pool, driven from `futures::executor::block_on`, and
/// the threads its timers sleep on (joined when the scenario ends, so that
/// no thread outlives its test: miri reports one still running at exit).
#[derive(Clone)]
struct Pool {
    pool: futures::executor::ThreadPool,
    sleepers: Arc<Mutex<Vec<thread::JoinHandle<()>>>>,
}

impl Exec for Pool {
    fn spawn<T: Send + 'static>(
        &self,
        task: impl Future<Output = T> + Send + 'static,
    ) -> BoxFuture<'static, T> {
        match self.pool.spawn_with_handle(task) {
            Ok(handle) => Box::pin(handle),
            Err(error) => panic!("the thread pool refused a task: {error}"),
        }
    }

    /// The `futures` crate has no timer: a thread sleeps and completes a
    /// oneshot channel.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        let (done, slept) = futures::channel::oneshot::channel();
        let sleeper = thread::spawn(move || {
            thread::sleep(duration);
            let _ = done.send(());
        });
        self.sleepers.lock().unwrap().push(sleeper);
        Box::pin(async move {
            let _ = slept.await;
        })
    }

    /// `futures::future::select` against [`Polls`] of 1 to 8 polls.
    fn race<F>(&self, fut: F) -> impl Future<Output = Option<F::Output>> + Send
    where
        F: Future + Send,
        F::Output: Send,
    {
        let polls = 1 + (next_random() % 8) as u32;
        async move {
            match futures::future::select(pin!(fut), Polls(polls)).await {
                Either::Left((output, _)) => Some(output),
                Either::Right(((), _)) => None,
            }
        }
    }
}

/// A timer for executors without one: completes on its `n`th poll, waking
/// its task at once after each earlier poll (so a future raced against it
/// is polled again, and dropped after a few polls if it stays pending).
struct Polls(u32);

impl Future for Polls {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0 = self.0.saturating_sub(1);
        if self.0 == 0 {
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A pseudo-random number (for timer lengths).
fn next_random() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    mix(NEXT.fetch_add(1, Ordering::Relaxed) ^ 0x7a11_0f5e)
}

/// Runs `f` on its own thread and fails the test if it has not returned
/// within [`HANG`] (a lost wake-up hangs a scenario rather than failing it).
fn guarded(f: impl FnOnce() + Send + 'static) {
    let (done, finished) = std_mpsc::channel();
    let handle = thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    match finished.recv_timeout(HANG) {
        Ok(()) => {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
        // The thread panicked: re-raise its panic.
        Err(std_mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the scenario ended without reporting"),
        },
        Err(std_mpsc::RecvTimeoutError::Timeout) => {
            panic!("the scenario is still running after {HANG:?}: something waits for ever")
        }
    }
}

/// Runs `scenario` on a tokio multi-thread runtime with two workers.
fn on_tokio<F, Fut>(scenario: F)
where
    F: FnOnce(Tokio) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    guarded(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|error| panic!("cannot build a tokio runtime: {error}"));
        let exec = Tokio(runtime.handle().clone());
        runtime.block_on(scenario(exec));
    });
}

/// Runs `scenario` with `futures::executor::block_on`, its tasks on a
/// thread pool of two threads.
fn on_pool<F, Fut>(scenario: F)
where
    F: FnOnce(Pool) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    guarded(move || {
        // The workers' exits, counted, so that the test ends only once both
        // have stopped (the pool does not join them when dropped).
        let stopped = Arc::new((Mutex::new(0), Condvar::new()));
        let counted = Arc::clone(&stopped);
        let pool = futures::executor::ThreadPool::builder()
            .pool_size(2)
            .before_stop(move |_| {
                let (count, changed) = &*counted;
                *count.lock().unwrap() += 1;
                changed.notify_all();
            })
            .create()
            .unwrap_or_else(|error| panic!("cannot build a thread pool: {error}"));
        let sleepers = Arc::new(Mutex::new(Vec::new()));
        futures::executor::block_on(scenario(Pool {
            pool,
            sleepers: Arc::clone(&sleepers),
        }));
        for sleeper in std::mem::take(&mut *sleepers.lock().unwrap()) {
            sleeper.join().unwrap();
        }
        let (count, changed) = &*stopped;
        let mut count = count.lock().unwrap();
        while *count < 2 {
            count = changed.wait(count).unwrap();
        }
    });
}

/// Runs scenario `$name` (taking a channel's `new` and an executor) on both
/// channel kinds and both executors, as tests
/// `$name::{spsc,mpsc}_{tokio,futures}`.
macro_rules! kinds_and_executors {
    ($name:ident) => {
        mod $name {
            use logring::nonblocking::{mpsc, spsc};

            #[test]
            fn spsc_tokio() {
                super::on_tokio(|exec| super::$name(spsc::new, exec));
            }

            #[test]
            fn spsc_futures() {
                super::on_pool(|exec| super::$name(spsc::new, exec));
            }

            #[test]
            fn mpsc_tokio() {
                super::on_tokio(|exec| super::$name(mpsc::new, exec));
            }

            #[test]
            fn mpsc_futures() {
                super::on_pool(|exec| super::$name(mpsc::new, exec));
            }
        }
    };
}

/// Runs scenario `$name` (taking an executor) on both executors, as tests
/// `$name::{tokio,futures}`.
macro_rules! executors {
    ($name:ident) => {
        mod $name {
            #[test]
            fn tokio() {
                super::on_tokio(super::$name);
            }

            #[test]
            fn futures() {
                super::on_pool(super::$name);
            }
        }
    };
}

/// Waits (napping on the executor) until `done()` holds; fails the test
/// with `what` after [`PATIENCE`].
async fn wait_until<E: Exec>(exec: &E, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting until {what}");
        exec.sleep(Duration::from_millis(1)).await;
    }
}

/// Polls futures by hand with a waker that counts its wake-ups, to see
/// exactly when a waiting end is woken.
struct Probe {
    count: Arc<WakeCount>,
    waker: Waker,
}

struct WakeCount(AtomicUsize);

impl ArcWake for WakeCount {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Probe {
    fn new() -> Self {
        let count = Arc::new(WakeCount(AtomicUsize::new(0)));
        let waker = futures::task::waker(Arc::clone(&count));
        Self { count, waker }
    }

    /// Polls `fut` once with the counting waker.
    fn poll<F: Future>(&self, fut: Pin<&mut F>) -> Poll<F::Output> {
        fut.poll(&mut Context::from_waker(&self.waker))
    }

    /// How often the waker has been woken.
    fn wakes(&self) -> usize {
        self.count.0.load(Ordering::SeqCst)
    }
}

// ---------------------------------------------------------------------------
// Channel ends.

/// The async senders' operations, so that a scenario can run on both kinds.
trait AsyncTx: Send + 'static {
    /// The blocking sender of the same kind.
    type Blocking: BlockingTx<Async = Self>;

    fn claim(
        &mut self,
        len: usize,
    ) -> impl Future<Output = Result<SendClaim<'_>, AsyncSendError>> + Send + '_;
    fn send<'a>(
        &'a mut self,
        payload: &'a [u8],
    ) -> impl Future<Output = Result<(), AsyncSendError>> + Send + 'a;
    fn try_claim(&mut self, len: usize) -> Result<SendClaim<'_>, SendError>;
    fn try_send(&mut self, payload: &[u8]) -> Result<(), SendError>;
    fn is_disconnected(&self) -> bool;
    fn capacity(&self) -> usize;
    fn max_record_len(&self) -> usize;
    fn len_bytes(&self) -> usize;
    fn full_rejections(&self) -> u64;
    fn set_spin_policy(&mut self, policy: SpinPolicy);
    /// The blocking sender, by the inherent `into_blocking`.
    fn into_blocking(self) -> Self::Blocking;
    /// The blocking sender, by `From`.
    fn blocking_from(self) -> Self::Blocking;
}

/// The blocking senders' operations.
trait BlockingTx: Send + 'static {
    /// The async sender of the same kind.
    type Async: AsyncTx<Blocking = Self>;

    fn claim(&mut self, len: usize) -> Result<SendClaim<'_>, SendError>;
    /// The async sender, by the inherent `into_async`.
    fn into_async(self) -> Self::Async;
    /// The async sender, by `From`.
    fn async_from(self) -> Self::Async;
}

macro_rules! impl_senders {
    ($kind:ident) => {
        impl AsyncTx for $kind::Sender {
            type Blocking = channel::$kind::Sender;

            fn claim(
                &mut self,
                len: usize,
            ) -> impl Future<Output = Result<SendClaim<'_>, AsyncSendError>> + Send + '_ {
                $kind::Sender::claim(self, len)
            }
            fn send<'a>(
                &'a mut self,
                payload: &'a [u8],
            ) -> impl Future<Output = Result<(), AsyncSendError>> + Send + 'a {
                $kind::Sender::send(self, payload)
            }
            fn try_claim(&mut self, len: usize) -> Result<SendClaim<'_>, SendError> {
                $kind::Sender::try_claim(self, len)
            }
            fn try_send(&mut self, payload: &[u8]) -> Result<(), SendError> {
                $kind::Sender::try_send(self, payload)
            }
            fn is_disconnected(&self) -> bool {
                $kind::Sender::is_disconnected(self)
            }
            fn capacity(&self) -> usize {
                $kind::Sender::capacity(self)
            }
            fn max_record_len(&self) -> usize {
                $kind::Sender::max_record_len(self)
            }
            fn len_bytes(&self) -> usize {
                $kind::Sender::len_bytes(self)
            }
            fn full_rejections(&self) -> u64 {
                $kind::Sender::full_rejections(self)
            }
            fn set_spin_policy(&mut self, policy: SpinPolicy) {
                $kind::Sender::set_spin_policy(self, policy)
            }
            fn into_blocking(self) -> channel::$kind::Sender {
                $kind::Sender::into_blocking(self)
            }
            fn blocking_from(self) -> channel::$kind::Sender {
                channel::$kind::Sender::from(self)
            }
        }

        impl BlockingTx for channel::$kind::Sender {
            type Async = $kind::Sender;

            fn claim(&mut self, len: usize) -> Result<SendClaim<'_>, SendError> {
                channel::$kind::Sender::claim(self, len)
            }
            fn into_async(self) -> $kind::Sender {
                channel::$kind::Sender::into_async(self)
            }
            fn async_from(self) -> $kind::Sender {
                $kind::Sender::from(self)
            }
        }
    };
}
impl_senders!(spsc);
impl_senders!(mpsc);

/// `nonblocking::spsc::new` or `nonblocking::mpsc::new`.
type New<T> = fn(usize) -> Result<(T, Receiver), Error>;

/// Makes a channel of `capacity` bytes.
fn open_channel<T>(new: New<T>, capacity: usize) -> (T, Receiver) {
    new(capacity).unwrap_or_else(|error| panic!("cannot make a {capacity}-byte channel: {error}"))
}

// ---------------------------------------------------------------------------
// Records.
//
// Producer `id`'s record `seq` has the key `key(id, seq)`, from which its
// length (0 to 100 bytes) and every payload byte derive, and a tag naming
// the producer and the low bits of the sequence number, so that even an
// empty record out of order shows.

/// 0 to 100 bytes.
fn len_of(key: u64) -> usize {
    (mix(key ^ 0x1e57_a5c0) % 101) as usize
}

/// Writes record `seq` of producer `id` into `claim` (of its length) and
/// commits it.
fn commit_record(mut claim: SendClaim<'_>, id: u32, seq: u64) {
    let key = key(id, seq);
    assert_eq!(claim.len(), len_of(key), "a claim of the wrong length");
    fill(key, &mut claim);
    claim.set_tag(tag_of(id, seq));
    claim.commit();
}

/// Sends record `seq` of producer `id`, waiting for space.
async fn send_record<T: AsyncTx>(tx: &mut T, id: u32, seq: u64) {
    match tx.claim(len_of(key(id, seq))).await {
        Ok(claim) => commit_record(claim, id, seq),
        Err(error) => panic!("producer {id}: record {seq}: {error}"),
    }
}

/// Sends record `seq` of producer `id` from a blocking sender, retrying
/// while the ring is full.
fn send_record_blocking<B: BlockingTx>(tx: &mut B, id: u32, seq: u64) {
    let len = len_of(key(id, seq));
    let start = Instant::now();
    loop {
        match tx.claim(len) {
            Ok(claim) => return commit_record(claim, id, seq),
            Err(SendError::Full) => {
                assert!(start.elapsed() < PATIENCE, "the ring stayed full");
                thread::yield_now();
            }
            Err(error) => panic!("producer {id}: record {seq}: {error}"),
        }
    }
}

/// Receives one record, which must be the next of `streams`.
#[track_caller]
fn expect_record(received: Result<nonblocking::ReadClaim<'_>, RecvError>, streams: &mut Streams) {
    match received {
        Ok(record) => {
            streams.check(record.tag(), &record);
        }
        Err(error) => panic!("{error}; expected a record"),
    }
}

/// Receives until the channel reports `Err`, checking every record.
async fn receive_to_end(rx: &mut Receiver, streams: &mut Streams) {
    while let Ok(record) = rx.recv().await {
        streams.check(record.tag(), &record);
    }
    assert_eq!(rx.corruption(), None);
}

/// The payload length of the records that fill a ring exactly: their span
/// (with the record word) is 64 bytes, which divides every capacity, so a
/// full ring has no padding and each release makes room for one more.
const FIXED: usize = 56;

/// Fills the ring with producer 0's records from `first` on, all of
/// [`FIXED`] bytes (tags and bytes as usual, lengths not), until `try_claim`
/// reports `Full`; returns how many were sent. Less than one record's span is
/// left (none on a new ring), so releasing one record makes room for exactly
/// one more, wherever the ring's positions stand.
fn fill_ring<T: AsyncTx>(tx: &mut T, first: u64) -> u64 {
    let rejections = tx.full_rejections();
    let mut seq = first;
    loop {
        match tx.try_claim(FIXED) {
            Ok(claim) => {
                commit_fixed(claim, seq);
                seq += 1;
            }
            Err(SendError::Full) => break,
            Err(error) => panic!("filling the ring: {error}"),
        }
    }
    assert_eq!(
        tx.full_rejections(),
        rejections + 1,
        "a try_send that failed with Full is counted once"
    );
    assert!(
        tx.len_bytes() > tx.capacity() - 64,
        "the ring is full: not even one record's span is left"
    );
    seq - first
}

/// Writes fixed-length record `seq` into `claim` and commits it.
fn commit_fixed(mut claim: SendClaim<'_>, seq: u64) {
    assert_eq!(claim.len(), FIXED);
    fill(key(0, seq), &mut claim);
    claim.set_tag(tag_of(0, seq));
    claim.commit();
}

/// Checks fixed-length record `seq`.
#[track_caller]
fn check_fixed(tag: u32, bytes: &[u8], seq: u64) {
    assert_eq!(tag, tag_of(0, seq), "expected fixed record {seq}");
    assert_eq!(bytes.len(), FIXED, "fixed record {seq}: length");
    check(key(0, seq), bytes);
}

/// Receives the next fixed-length record, which must be `*next`, and
/// releases it.
async fn receive_fixed(rx: &mut Receiver, next: &mut u64) {
    match rx.recv().await {
        Ok(record) => check_fixed(record.tag(), &record, *next),
        Err(error) => panic!("{error}; expected fixed record {next}"),
    }
    *next += 1;
}

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
    claim.set_tag(7);
    claim.commit();
    tx.send(b"world").await.expect("room for 5 bytes");
    // A zero-length record still carries its tag.
    let mut claim = tx.claim(0).await.expect("room for an empty record");
    claim.set_tag(0xdead_beef);
    claim.commit();
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
    claim.set_tag(3);
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
                claim.set_tag((1 << 24) | id);
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
    for (tag, bytes) in [(7, &b"first"[..]), (0, b""), (u32::MAX, b"third record")] {
        let mut claim = tx.claim(bytes.len()).await.expect("room");
        claim.copy_from_slice(bytes);
        claim.set_tag(tag);
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
            claim.set_tag(tag_of(0, seq));
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
            claim.set_tag(seq as u32);
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

// ---------------------------------------------------------------------------
// Cancel safety.

/// Records sent (and received) in the cancel safety test.
const RACED: u64 = 100_000;

/// How many races in a row an end may lose before it waits for real.
const LOST_IN_A_ROW: u32 = 4;

/// Races `fut` against the executor's short timer (see [`Exec::race`]),
/// unless the timer has won [`LOST_IN_A_ROW`] races in a row: then awaits
/// `fut` to the end, so that a long wait is spent parked rather than in a
/// busy loop of races. `None` if the timer won; counts its wins in `won`.
async fn race_or_wait<E: Exec, F>(
    exec: &E,
    lost: &mut u32,
    won: &mut u64,
    fut: F,
) -> Option<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    if *lost >= LOST_IN_A_ROW {
        *lost = 0;
        return Some(fut.await);
    }
    let raced = exec.race(fut).await;
    if raced.is_none() {
        *lost += 1;
        *won += 1;
    } else {
        *lost = 0;
    }
    raced
}

/// Both ends race their operations against a short timer (see
/// [`race_or_wait`]), so that many `recv`, `recv_batch` and `claim` futures
/// are dropped while they wait, some just after being woken. The producer
/// task sends in bursts with pauses, so the receiver often waits; the
/// consumer pauses now and then, so the ring fills and sends wait. A send
/// that lost its race is retried with the same record. Every record arrives
/// exactly once, in order, intact, and both timers won.
async fn cancel_safety<T: AsyncTx, E: Exec>(new: New<T>, exec: E) {
    let (mut tx, mut rx) = open_channel(new, 4096);
    let producer = exec.spawn({
        let exec = exec.clone();
        async move {
            let (mut seq, mut lost, mut timer_won) = (0, 0, 0);
            while seq < RACED {
                let burst_end = (seq + 1 + mix(seq ^ 0xb0) % 1_000).min(RACED);
                while seq < burst_end {
                    let send = tx.claim(len_of(key(0, seq)));
                    match race_or_wait(&exec, &mut lost, &mut timer_won, send).await {
                        Some(Ok(claim)) => {
                            commit_record(claim, 0, seq);
                            seq += 1;
                        }
                        Some(Err(error)) => panic!("record {seq}: {error}"),
                        None => {}
                    }
                }
                let pause = 50 + mix(seq ^ 0x9a05e) % 1_450;
                exec.sleep(Duration::from_micros(pause)).await;
            }
            timer_won
        }
    });

    let mut streams = Streams::new(1, len_of);
    let (mut lost, mut timer_won) = (0, 0);
    let mut next_pause = 0;
    for round in 0usize.. {
        let received = if round % 4 == 0 {
            let batch = rx.recv_batch(1 + round % 16, |record| {
                streams.check(record.tag(), &record);
            });
            race_or_wait(&exec, &mut lost, &mut timer_won, batch)
                .await
                .map(|received| received.map(drop))
        } else {
            race_or_wait(&exec, &mut lost, &mut timer_won, rx.recv())
                .await
                .map(|received| {
                    received.map(|record| {
                        streams.check(record.tag(), &record);
                    })
                })
        };
        match received {
            Some(Ok(())) | None => {}
            Some(Err(RecvError::Disconnected)) => break,
            Some(Err(error)) => panic!("{error}"),
        }
        if streams.count(0) >= next_pause {
            next_pause += 5_000;
            exec.sleep(Duration::from_millis(3)).await;
        }
    }
    let send_timer_won = producer.await;
    assert_eq!(streams.count(0), RACED);
    assert!(rx.is_empty());
    assert_eq!(rx.corruption(), None);
    assert!(timer_won > 0, "no receive lost its race against the timer");
    assert!(
        send_timer_won > 0,
        "no send lost its race against the timer"
    );
    println!("timers won against {timer_won} receives and {send_timer_won} sends");
}
kinds_and_executors!(cancel_safety);
