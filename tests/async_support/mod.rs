//! What the async channel tests (`tests/async_*.rs`) share: the executors
//! they run on, the two kinds of senders behind one trait, and the records
//! they send.
//!
//! Every scenario is a generic `async fn` run on heap rings under two
//! executors: a tokio multi-thread runtime and `futures`' thread pool (with
//! `futures::executor::block_on`). [`kinds_and_executors!`] and
//! [`executors!`] make its tests, `<scenario>::<kind>_<executor>` (or
//! `<scenario>::<executor>`). Each runs under a hang guard: a scenario still
//! running after [`HANG`] fails its test.
//!
//! Wake-ups are checked with [`Probe`], a waker that counts them, so that a
//! lost wake-up fails instead of being rescued by a later poll.

// Each test crate includes this module and uses only part of it.
#![allow(dead_code, unused_macros)]

use crate::common::{Streams, check, fill, mix, record_key as key, record_tag as tag_of};

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, Either};
use futures::task::{ArcWake, SpawnExt};
use logring::Error;
use logring::channel;
use logring::nonblocking::{
    self, AsyncSendError, Receiver, RecvError, SendClaim, SendError, SpinPolicy, mpsc, spsc,
};

/// How long a whole scenario may run before its test reports a hang.
pub const HANG: Duration = Duration::from_secs(60);

/// How long any single wait inside a scenario may take.
pub const PATIENCE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Executors.

/// What a scenario needs of an executor.
pub trait Exec: Clone + Send + Sync + 'static {
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
pub struct Tokio(tokio::runtime::Handle);

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
pub struct Pool {
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
pub fn on_tokio<F, Fut>(scenario: F)
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
pub fn on_pool<F, Fut>(scenario: F)
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
                $crate::async_support::on_tokio(|exec| super::$name(spsc::new, exec));
            }

            #[test]
            fn spsc_futures() {
                $crate::async_support::on_pool(|exec| super::$name(spsc::new, exec));
            }

            #[test]
            fn mpsc_tokio() {
                $crate::async_support::on_tokio(|exec| super::$name(mpsc::new, exec));
            }

            #[test]
            fn mpsc_futures() {
                $crate::async_support::on_pool(|exec| super::$name(mpsc::new, exec));
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
                $crate::async_support::on_tokio(super::$name);
            }

            #[test]
            fn futures() {
                $crate::async_support::on_pool(super::$name);
            }
        }
    };
}

/// Waits (napping on the executor) until `done()` holds; fails the test
/// with `what` after [`PATIENCE`].
pub async fn wait_until<E: Exec>(exec: &E, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting until {what}");
        exec.sleep(Duration::from_millis(1)).await;
    }
}

/// Polls futures by hand with a waker that counts its wake-ups, to see
/// exactly when a waiting end is woken.
pub struct Probe {
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
    pub fn new() -> Self {
        let count = Arc::new(WakeCount(AtomicUsize::new(0)));
        let waker = futures::task::waker(Arc::clone(&count));
        Self { count, waker }
    }

    /// Polls `fut` once with the counting waker.
    pub fn poll<F: Future>(&self, fut: Pin<&mut F>) -> Poll<F::Output> {
        fut.poll(&mut Context::from_waker(&self.waker))
    }

    /// How often the waker has been woken.
    pub fn wakes(&self) -> usize {
        self.count.0.load(Ordering::SeqCst)
    }
}

// ---------------------------------------------------------------------------
// Channel ends.

/// The async senders' operations, so that a scenario can run on both kinds.
pub trait AsyncTx: Send + 'static {
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
pub trait BlockingTx: Send + 'static {
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
pub type New<T> = fn(usize) -> Result<(T, Receiver), Error>;

/// Makes a channel of `capacity` bytes.
pub fn open_channel<T>(new: New<T>, capacity: usize) -> (T, Receiver) {
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
pub fn len_of(key: u64) -> usize {
    (mix(key ^ 0x1e57_a5c0) % 101) as usize
}

/// Writes record `seq` of producer `id` into `claim` (of its length) and
/// commits it.
pub fn commit_record(mut claim: SendClaim<'_>, id: u32, seq: u64) {
    let key = key(id, seq);
    assert_eq!(claim.len(), len_of(key), "a claim of the wrong length");
    fill(key, &mut claim);
    claim.set_tag(tag_of(id, seq)).unwrap();
    claim.commit();
}

/// Sends record `seq` of producer `id`, waiting for space.
pub async fn send_record<T: AsyncTx>(tx: &mut T, id: u32, seq: u64) {
    match tx.claim(len_of(key(id, seq))).await {
        Ok(claim) => commit_record(claim, id, seq),
        Err(error) => panic!("producer {id}: record {seq}: {error}"),
    }
}

/// Sends record `seq` of producer `id` from a blocking sender, retrying
/// while the ring is full.
pub fn send_record_blocking<B: BlockingTx>(tx: &mut B, id: u32, seq: u64) {
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
pub fn expect_record(
    received: Result<nonblocking::ReadClaim<'_>, RecvError>,
    streams: &mut Streams,
) {
    match received {
        Ok(record) => {
            streams.check(record.tag(), &record);
        }
        Err(error) => panic!("{error}; expected a record"),
    }
}

/// Receives until the channel reports `Err`, checking every record.
pub async fn receive_to_end(rx: &mut Receiver, streams: &mut Streams) {
    while let Ok(record) = rx.recv().await {
        streams.check(record.tag(), &record);
    }
    assert_eq!(rx.corruption(), None);
}

/// The payload length of the records that fill a ring exactly: their span
/// (with the record word) is 64 bytes, which divides every capacity, so a
/// full ring has no padding and each release makes room for one more.
pub const FIXED: usize = 56;

/// Fills the ring with producer 0's records from `first` on, all of
/// [`FIXED`] bytes (tags and bytes as usual, lengths not), until `try_claim`
/// reports `Full`; returns how many were sent. Less than one record's span is
/// left (none on a new ring), so releasing one record makes room for exactly
/// one more, wherever the ring's positions stand.
pub fn fill_ring<T: AsyncTx>(tx: &mut T, first: u64) -> u64 {
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
pub fn commit_fixed(mut claim: SendClaim<'_>, seq: u64) {
    assert_eq!(claim.len(), FIXED);
    fill(key(0, seq), &mut claim);
    claim.set_tag(tag_of(0, seq)).unwrap();
    claim.commit();
}

/// Checks fixed-length record `seq`.
#[track_caller]
pub fn check_fixed(tag: u32, bytes: &[u8], seq: u64) {
    assert_eq!(tag, tag_of(0, seq), "expected fixed record {seq}");
    assert_eq!(bytes.len(), FIXED, "fixed record {seq}: length");
    check(key(0, seq), bytes);
}

/// Receives the next fixed-length record, which must be `*next`, and
/// releases it.
pub async fn receive_fixed(rx: &mut Receiver, next: &mut u64) {
    match rx.recv().await {
        Ok(record) => check_fixed(record.tag(), &record, *next),
        Err(error) => panic!("{error}; expected fixed record {next}"),
    }
    *next += 1;
}
