//! logring's async channel ends (feature `async`) beside its blocking channel
//! and tokio's bounded mpsc channel, measured in the same process.
//!
//! Scenarios (name them as filters to run a subset; a filter matches every key
//! that contains it):
//!
//! - `spsc64`: SPSC throughput, 64-byte records. Every contender is alternated
//!   with logring's blocking channel (`channel::spsc`, `claim` + `recv`, a
//!   producer and a consumer thread pinned to their own cores: the reference).
//!   Contenders: logring's async channel (`nonblocking::spsc`: `claim(64)`,
//!   copy, `commit` in a producer task; `recv` in a consumer task), the same
//!   with `recv_batch`, both again with neither end spinning before it parks
//!   (`SpinPolicy::NONE`, against the default `SpinPolicy::ASYNC`), tokio's
//!   `sync::mpsc` carrying a
//!   new 64-byte `Vec<u8>` per message (as code that sends owned buffers
//!   does), and the blocking channel with `recv_batch`. Besides each
//!   contender's ratio to the reference, the report gives logring async /
//!   tokio mpsc and async `recv_batch` / blocking `recv_batch` directly.
//! - `mpsc64`: the same with two producers (two producer tasks; two producer
//!   threads for the blocking channel) and one consumer, over
//!   `nonblocking::mpsc` and `channel::mpsc`.
//! - `wakeup`: latency from a producer's send to the return of a receiver's
//!   `recv` (`recv().await` for async receivers) that was asleep (parked, for
//!   a task). Contenders: the blocking channel (threads at both ends); logring's
//!   async receiver on a heap ring fed by a thread with a blocking sender, and
//!   fed by a task with an async sender; tokio's mpsc fed by a thread
//!   (`blocking_send`) and by a task; and logring's async receiver on a ring
//!   file fed by a thread with the file's blocking sender, in the same process.
//!   The ring file's async receiver is woken through its notifier thread, so
//!   its difference to the thread-fed heap ring is the cost of that extra hop.
//!
//! Every record carries `producer << 56 | sequence` in its first 8 bytes;
//! consumers read every byte (a checksum over the record's eight words) and
//! check each producer's order, and every run checks that exactly what was
//! sent arrived. tokio's channel holds ring bytes / 72 messages (a 64-byte
//! record takes 72 bytes of a logring ring).
//!
//! Runtime: every async run builds its own tokio multi-thread runtime (two
//! worker threads, the timer enabled, nothing else), outside the timed part,
//! and shuts it down after, so that no run inherits another's tasks, wakers
//! or queues. Worker thread `k` is pinned to the core of placement slot `k`:
//! the reference's producer and consumer cores. The producers and the
//! consumer are tasks spawned on the runtime, where tokio places them; the
//! main thread only waits for them. A thread started from a worker (a ring
//! file receiver's notifier thread) inherits that worker's pinning.
//!
//! Method (throughput): runs alternate reference, contender 1, reference,
//! contender 2, ..., reference, so every contender run sits between two
//! reference runs; its msgs/s is divided by the mean of theirs, and the median
//! of those ratios over the pairs is reported with its range. A direct ratio
//! between two contenders is the quotient of their ratios in the same pair.
//! Each contender's message count is sized so that its run takes about
//! `LOGRING_BENCH_RUN_MS`. The reference's threads start together (a
//! barrier), and its consumer times the run from there to its last record.
//! Tasks are spawned from outside the runtime (as from the `block_on` of
//! `#[tokio::main]`), the consumer first, and start when a worker takes them
//! (no barrier: tasks released together by one are all woken onto one
//! worker's queue); the consumer task times the run from its first poll to
//! its last record. Runs during which other processes used the CPU are
//! flagged.
//!
//! Method (wake-up): the producer idles before each message long enough for
//! every receiver to park (`thread::sleep` in a thread; `tokio::time::sleep`
//! in a task, whose timer rounds the idle up to whole milliseconds), then
//! stamps the message with the time since a common base `Instant` and sends
//! it; the receiver reads the clock as soon as its `recv` returns the record.
//! Producer threads are pinned to the reference producer's core. Contenders
//! alternate in rounds; the table gives the median over rounds of each
//! round's quantiles, and the quantiles of all samples pooled.
//!
//! With a sender task, the sending task wakes the receiving task from a
//! worker thread, and tokio then typically runs the receiver on that same
//! worker as soon as the sender yields: no sleeping thread is woken, so those
//! rows measure the executor's hand-off between tasks.
//!
//! Reading the tables: `retries/msg` counts the blocking senders' sends
//! refused as full (after their spin budget), `rx sleeps/msg` a receiving
//! thread's voluntary context switches (it went to sleep), `rx pending/msg`
//! the polls of an async receiver that returned `Pending` (its task parked),
//! `tx pending/msg` those of the async senders (they waited for space), and
//! `worker parks/msg` the times the runtime's worker threads ran out of work
//! and parked, while the consumer was timing; each per message, `-` where the
//! contender does not have it. A logring receiver that announces that it
//! waits and then finds a record on its re-check returns `Ready`, so that
//! round (and its barrier) is not counted as pending. `flagged` counts runs during which other
//! processes used more than 5% of all cores' time, with the worst share seen.
//!
//! A watchdog aborts a run in which nothing is received for 30 s (a lost
//! wake-up), naming the run.
//!
//! `cargo bench --features async --bench async [-- FILTER...]` measures.
//! Without `--bench` (as under `cargo test --benches --all-features`) every
//! contender of every scenario runs once with a few thousand messages (wake-up:
//! 70), as a correctness smoke test.
//!
//! Environment: `LOGRING_BENCH_PAIRS` (default 15), `LOGRING_BENCH_RUN_MS`
//! (500), `LOGRING_BENCH_RING` (ring bytes, 262144), `LOGRING_BENCH_BATCH`
//! (`recv_batch` limit, 64), `LOGRING_BENCH_WAKE_SAMPLES` (messages per
//! wake-up run, 2000), `LOGRING_BENCH_WAKE_ROUNDS` (5),
//! `LOGRING_BENCH_WAKE_GAP_US` (idle before each wake-up message, 500),
//! `LOGRING_BENCH_DIR` (where the ring file is created; `/dev/shm` if it
//! exists, else the temporary directory).

mod common;

use std::future::{Future, poll_fn};
use std::path::PathBuf;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::Instant;

use common::records::{LEN, MAX_PRODUCERS, Msg, RECORD_SPAN, Tally, message, share};
use common::runs::{
    ChannelRx, Run, Tx, WAKE_WARMUP, WakeConfig, check, latency_histogram, throughput, wakeup,
    watchdog,
};
use common::scenarios::{
    Column, Contender, Quantile, RETRIES, RX_PENDING, RX_SLEEPS, Ratios, TX_PENDING, Throughput,
    WORKER_PARKS, Wakeup, headline, quantile_spread,
};
use common::{BaseConfig, CpuTimes, MPSC, SPSC, ring_dir};
use hdrhistogram::Histogram;
use logring::file::{Options, RingFile};
use logring::nonblocking::SpinPolicy;
use tokio::runtime::Runtime;

/// Worker threads of every async run's runtime.
const WORKERS: usize = 2;

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// The common settings, the wake-up scenario's, and where the ring file goes.
struct Config {
    base: BaseConfig,
    /// The wake-up scenario's settings.
    wake: WakeConfig,
    /// Where the wake-up scenario's ring file is created.
    dir: PathBuf,
}

common::deref_to_base!(Config);

impl Config {
    /// The common settings, the wake-up ones (fixed in smoke mode), then
    /// `LOGRING_BENCH_DIR`.
    fn from_env() -> Self {
        let base = BaseConfig::from_env(None);
        let wake = WakeConfig::from_env(base.smoke);
        Self {
            base,
            wake,
            dir: std::env::var_os("LOGRING_BENCH_DIR").map_or_else(ring_dir, PathBuf::from),
        }
    }

    /// Capacity in messages of tokio's channel: as many as 64-byte records
    /// fit in the ring (72 bytes each).
    fn slots(&self) -> usize {
        self.ring / RECORD_SPAN
    }
}

// ---------------------------------------------------------------------------
// The two ends of each async contender, as tasks drive them
// ---------------------------------------------------------------------------

/// A sending end, driven by a task.
trait AsyncTx: Send + 'static {
    /// Sends `msg`, waiting (the future pending) while the channel is full.
    fn put(&mut self, msg: &Msg) -> impl Future<Output = ()> + Send;
}

/// A receiving end, driven by a task.
trait AsyncRx: Send + 'static {
    /// Waits for one or more records and hands them to `f`, in order;
    /// `false` once every sender is gone and everything was received.
    fn take(&mut self, f: impl FnMut(&[u8]) + Send) -> impl Future<Output = bool> + Send;
}

/// logring's async senders: `claim(64)` (waits for space), copy, commit.
macro_rules! logring_async_tx {
    ($($sender:ty),* $(,)?) => {$(
        impl AsyncTx for $sender {
            #[inline]
            async fn put(&mut self, msg: &Msg) {
                match self.claim(LEN).await {
                    Ok(mut claim) => {
                        claim.copy_from_slice(msg);
                        claim.commit();
                    }
                    Err(error) => panic!("logring async send failed: {error}"),
                }
            }
        }
    )*};
}

logring_async_tx!(
    logring::nonblocking::spsc::Sender,
    logring::nonblocking::mpsc::Sender,
);

/// tokio's sender in a task: a new `Vec<u8>` per message, `send().await`.
impl AsyncTx for tokio::sync::mpsc::Sender<Vec<u8>> {
    #[inline]
    async fn put(&mut self, msg: &Msg) {
        self.send(msg.to_vec()).await.expect("tokio receiver gone");
    }
}

/// tokio's sender in a thread: a new `Vec<u8>` per message,
/// `blocking_send`.
impl Tx for tokio::sync::mpsc::Sender<Vec<u8>> {
    const COUNTS_RETRIES: bool = false;

    #[inline]
    fn put(&mut self, msg: &Msg, _: &BaseConfig) -> u64 {
        self.blocking_send(msg.to_vec())
            .expect("tokio receiver gone");
        0
    }
}

/// logring's async receiver, with `recv_batch` (`BATCH`) or one `recv` per
/// record.
struct AsyncChannelRx<const BATCH: bool> {
    rx: logring::nonblocking::Receiver,
    limit: usize,
}

impl<const BATCH: bool> AsyncChannelRx<BATCH> {
    /// Wraps `rx`; batches are `cfg.batch` records at most.
    fn new(rx: logring::nonblocking::Receiver, cfg: &Config) -> Self {
        Self {
            rx,
            limit: cfg.batch,
        }
    }

    /// The same receiver with spin policy `policy` (spin rounds only).
    fn with_policy(mut self, policy: SpinPolicy) -> Self {
        self.rx.set_spin_policy(policy);
        self
    }
}

impl<const BATCH: bool> AsyncRx for AsyncChannelRx<BATCH> {
    #[inline]
    async fn take(&mut self, mut f: impl FnMut(&[u8]) + Send) -> bool {
        if BATCH {
            self.rx
                .recv_batch(self.limit, |record| f(&record))
                .await
                .is_ok()
        } else {
            match self.rx.recv().await {
                Ok(record) => {
                    f(&record);
                    true
                }
                Err(_) => false,
            }
        }
    }
}

/// tokio's receiver: `recv().await`, then the message's buffer is freed.
impl AsyncRx for tokio::sync::mpsc::Receiver<Vec<u8>> {
    #[inline]
    async fn take(&mut self, mut f: impl FnMut(&[u8]) + Send) -> bool {
        match self.recv().await {
            Some(msg) => {
                f(&msg);
                true
            }
            None => false,
        }
    }
}

/// Awaits `future`, adding one to `pending` for each of its polls that
/// returns `Pending` (each time the task parks on it). It wraps a task's
/// whole loop, not each operation: a wrapper around every `send` or `recv`
/// future costs a pinned future and a closure per message, and lowered the
/// async figures (`BENCHMARKS.md`).
async fn counted<F: Future>(future: F, pending: &mut u64) -> F::Output {
    let mut future = pin!(future);
    poll_fn(|cx| {
        let poll = future.as_mut().poll(cx);
        if poll.is_pending() {
            *pending += 1;
        }
        poll
    })
    .await
}

// ---------------------------------------------------------------------------
// Async runs
// ---------------------------------------------------------------------------

/// A runtime for one async run (see the module docs), and a count of its
/// worker threads' parks.
fn runtime(cfg: &Config) -> (Runtime, Arc<AtomicU64>) {
    let parks = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&parks);
    let cores: Vec<_> = (0..WORKERS).map(|slot| cfg.core_of(slot)).collect();
    let started = AtomicUsize::new(0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_time()
        .on_thread_start(move || {
            // The workers start first, one after the other.
            let k = started.fetch_add(1, Ordering::Relaxed);
            if let Some(&Some(core)) = cores.get(k) {
                core_affinity::set_for_current(core);
            }
        })
        .on_thread_park(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .expect("tokio runtime");
    (rt, parks)
}

/// What an async consumer task received, and what it counted while timing.
struct Received {
    tally: Tally,
    /// Wake-up latencies in ns (wake-up runs only).
    latency: Option<Histogram<u64>>,
    /// From the start to the last record.
    secs: f64,
    /// Polls of the receiving end that returned `Pending`.
    pending: u64,
    /// The runtime's worker parks from the start to the last record.
    worker_parks: u64,
}

/// A consumer task: receives `n` records, checking each and publishing the
/// count in `progress` for the watchdog, timed from its first poll. With
/// `stamps` (wake-up runs) it records, after the warm-up, each record's
/// latency: the time since `stamps` when `take` hands it over minus its
/// stamp.
async fn receive<R: AsyncRx>(
    mut rx: R,
    n: u64,
    stamps: Option<Instant>,
    progress: Arc<AtomicU64>,
    parks: Arc<AtomicU64>,
) -> Received {
    let mut tally = Tally::new();
    let mut hist = stamps.map(|_| latency_histogram());
    let mut pending = 0u64;
    let parks_before = parks.load(Ordering::Relaxed);
    let began = Instant::now();
    let receiving = async {
        while tally.msgs < n {
            let more = rx
                .take(|record| {
                    let now = stamps.map(|base| base.elapsed().as_nanos() as u64);
                    let stamp = tally.add(record);
                    if let (Some(now), Some(hist)) = (now, hist.as_mut()) {
                        if tally.msgs > WAKE_WARMUP {
                            hist.saturating_record(now.saturating_sub(stamp));
                        }
                    }
                })
                .await;
            if !more {
                break;
            }
            progress.store(tally.msgs, Ordering::Relaxed);
        }
    };
    counted(receiving, &mut pending).await;
    Received {
        tally,
        latency: hist,
        secs: began.elapsed().as_secs_f64(),
        pending,
        worker_parks: parks.load(Ordering::Relaxed) - parks_before,
    }
}

/// Producer tasks send `n` messages between them (producer `k` its own
/// sequence `0..share(n, P, k)`), then drop their senders; the consumer task
/// receives them all. Timed on the consumer, from its first poll to the last
/// record.
///
/// The tasks are spawned from outside the runtime, the consumer first, and
/// start as soon as a worker takes them: no barrier, because the tasks
/// waiting at one are all woken from the worker of the last to arrive, and
/// tokio queues them on that worker. Records sent before the consumer's
/// first poll (at most a ring's worth, a fraction of a percent of a measured
/// run) are not timed.
fn async_throughput<T: AsyncTx, R: AsyncRx>(senders: Vec<T>, rx: R, cfg: &Config, n: u64) -> Run {
    let producers = senders.len();
    assert!(producers <= MAX_PRODUCERS);
    let (rt, parks) = runtime(cfg);
    let progress = Arc::new(AtomicU64::new(0));
    let cpu = CpuTimes::sample(cfg.smoke);
    let receiving = rt.spawn(receive(rx, n, None, Arc::clone(&progress), parks));
    let sending: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(k, mut tx)| {
            rt.spawn(async move {
                let mut pending = 0u64;
                let sending = async {
                    for seq in 0..share(n, producers, k) {
                        tx.put(&message(k, seq, 0)).await;
                    }
                };
                counted(sending, &mut pending).await;
                pending
            })
        })
        .collect();
    let (received, tx_pending) = thread::scope(|s| {
        let (done, watched) = std::sync::mpsc::channel::<()>();
        let progress = &*progress;
        s.spawn(move || watchdog(progress, n, &watched));
        let result = rt.block_on(async {
            let mut tx_pending = 0;
            for sender in sending {
                tx_pending += sender.await.expect("producer task");
            }
            (receiving.await.expect("consumer task"), tx_pending)
        });
        drop(done);
        result
    });
    let foreign_cpu = cpu.and_then(CpuTimes::foreign_share);
    check(&received.tally, n, producers, true);
    Run {
        rx_pending: Some(received.pending),
        tx_pending: Some(tx_pending),
        worker_parks: Some(received.worker_parks),
        ..Run::new(n, received.secs, foreign_cpu)
    }
}

/// A wake-up run's producer: where it runs, and with which sender.
trait Feed: Send + 'static {
    /// Starts sending `n` messages, each after an idle of `cfg.wake.gap`,
    /// stamped with the time since `base`: in a thread of `scope` or in a
    /// task on `rt`.
    fn start<'scope>(
        self,
        scope: &'scope thread::Scope<'scope, '_>,
        rt: &Runtime,
        cfg: &'scope Config,
        base: Instant,
        n: u64,
    ) -> Feeding<'scope>;
}

/// A producer that is running.
enum Feeding<'scope> {
    /// A thread of the run's scope.
    Thread(thread::ScopedJoinHandle<'scope, ()>),
    /// A task on the run's runtime.
    Task(tokio::task::JoinHandle<()>),
}

impl Feeding<'_> {
    /// Waits until the producer has sent everything.
    fn join(self, rt: &Runtime) {
        match self {
            Feeding::Thread(handle) => handle.join().expect("producer thread"),
            Feeding::Task(handle) => rt.block_on(handle).expect("producer task"),
        }
    }
}

/// A producer thread with a blocking sender, pinned to the reference
/// producer's core; it idles with `thread::sleep`.
struct FromThread<T>(T);

impl<T: Tx + 'static> Feed for FromThread<T> {
    fn start<'scope>(
        self,
        scope: &'scope thread::Scope<'scope, '_>,
        _: &Runtime,
        cfg: &'scope Config,
        base: Instant,
        n: u64,
    ) -> Feeding<'scope> {
        let Self(mut tx) = self;
        Feeding::Thread(scope.spawn(move || {
            cfg.pin(SPSC.producers[0]);
            for seq in 0..n {
                thread::sleep(cfg.wake.gap);
                let stamp = base.elapsed().as_nanos() as u64;
                tx.put(&message(0, seq, stamp), cfg);
            }
        }))
    }
}

/// A producer task with an async sender, on the run's runtime; it idles
/// with `tokio::time::sleep`.
struct FromTask<T>(T);

impl<T: AsyncTx> Feed for FromTask<T> {
    fn start<'scope>(
        self,
        _: &'scope thread::Scope<'scope, '_>,
        rt: &Runtime,
        cfg: &'scope Config,
        base: Instant,
        n: u64,
    ) -> Feeding<'scope> {
        let Self(mut tx) = self;
        let gap = cfg.wake.gap;
        Feeding::Task(rt.spawn(async move {
            for seq in 0..n {
                tokio::time::sleep(gap).await;
                let stamp = base.elapsed().as_nanos() as u64;
                tx.put(&message(0, seq, stamp)).await;
            }
        }))
    }
}

/// The producer (`feed`) idles before each of `samples` messages (plus a
/// warm-up), stamps it and sends it; the consumer task, parked by then,
/// records the time from the stamp to the moment its `recv` returns the
/// record.
fn async_wakeup<R: AsyncRx>(feed: impl Feed, rx: R, cfg: &Config, samples: u64) -> Run {
    let n = WAKE_WARMUP + samples;
    let (rt, parks) = runtime(cfg);
    let progress = Arc::new(AtomicU64::new(0));
    let base = Instant::now();
    let cpu = CpuTimes::sample(cfg.smoke);
    let receiving = rt.spawn(receive(rx, n, Some(base), Arc::clone(&progress), parks));
    let received = thread::scope(|s| {
        let (done, watched) = std::sync::mpsc::channel::<()>();
        let progress = &*progress;
        s.spawn(move || watchdog(progress, n, &watched));
        feed.start(s, &rt, cfg, base, n).join(&rt);
        let received = rt.block_on(receiving).expect("consumer task");
        drop(done);
        received
    });
    let foreign_cpu = cpu.and_then(CpuTimes::foreign_share);
    check(&received.tally, n, 1, false);
    Run {
        rx_pending: Some(received.pending),
        worker_parks: Some(received.worker_parks),
        latency: received.latency,
        ..Run::new(n, received.secs, foreign_cpu)
    }
}

// ---------------------------------------------------------------------------
// Throughput scenarios
// ---------------------------------------------------------------------------

/// The reference: logring's blocking channel, one `recv` per record.
const BLOCKING_ONE: &str = "logring channel, blocking (send + recv)";
/// logring's blocking channel with `recv_batch`.
const BLOCKING_BATCH: &str = "logring channel, blocking (send + recv_batch)";
/// logring's async channel, one `recv().await` per record.
const ASYNC_ONE: &str = "logring async (send + recv)";
/// logring's async channel with `recv_batch(..).await`.
const ASYNC_BATCH: &str = "logring async (send + recv_batch)";
/// logring's async channel, neither end spinning before it parks.
const ASYNC_SPIN: &str = "logring async (send + recv), both ends SpinPolicy::NONE";
/// logring's async channel with `recv_batch`, neither end spinning before it
/// parks.
const ASYNC_BATCH_SPIN: &str = "logring async (send + recv_batch), both ends SpinPolicy::NONE";
/// tokio's bounded mpsc channel of `Vec<u8>`.
const TOKIO: &str = "tokio mpsc, Vec<u8> per message (send + recv)";

/// logring's async ends against tokio's channel: at least this much faster.
const TOKIO_TARGET: f64 = 3.0;
/// logring's async ends against its blocking channel: at least this ratio.
const BLOCKING_TARGET: f64 = 0.75;

/// The counts the throughput tables show.
const THROUGHPUT_COLUMNS: &[Column] = &[RETRIES, RX_SLEEPS, RX_PENDING, TX_PENDING, WORKER_PARKS];

/// A ratio between two contenders of a throughput scenario, reported besides
/// their ratios to the reference.
struct Versus {
    /// The contender divided.
    over: &'static str,
    /// The contender it is divided by.
    under: &'static str,
    /// Headline target: ratio at least this.
    target: f64,
}

/// The direct ratios of every throughput scenario.
const VERSUS: &[Versus] = &[
    Versus {
        over: ASYNC_ONE,
        under: TOKIO,
        target: TOKIO_TARGET,
    },
    Versus {
        over: ASYNC_BATCH,
        under: TOKIO,
        target: TOKIO_TARGET,
    },
    Versus {
        over: ASYNC_BATCH,
        under: BLOCKING_BATCH,
        target: BLOCKING_TARGET,
    },
];

/// The runtime's shape, for the reports.
fn runtime_note(cfg: &Config) -> String {
    let pinning = if cfg.core_of(0).is_some() {
        let cores: Vec<String> = (0..WORKERS)
            .map(|slot| cfg.core_of(slot).map_or(0, |c| c.id).to_string())
            .collect();
        format!("pinned to cores {}", cores.join(" and "))
    } else {
        "not pinned".into()
    };
    format!(
        "async contenders: tasks on a tokio multi-thread runtime built for each run, \
         {WORKERS} worker threads {pinning}"
    )
}

/// An SPSC (`producers == 1`) or MPSC throughput scenario.
fn throughput_scenario(cfg: &Config, producers: usize) -> Throughput<'_> {
    let spsc = producers == 1;
    let placement = if spsc { &SPSC } else { &MPSC };
    assert_eq!(placement.producers.len(), producers);
    let (key, title) = if spsc {
        (
            "spsc64",
            "SPSC throughput, 64-byte records, each contender / blocking channel".to_string(),
        )
    } else {
        (
            "mpsc64",
            format!(
                "MPSC throughput, {producers} producers, 64-byte records, each contender / \
                 blocking channel"
            ),
        )
    };
    let blocking = move |n: u64, batch: bool| {
        if spsc {
            let (tx, rx) = logring::channel::spsc::new(cfg.ring).expect("channel");
            blocking_run(vec![tx], rx, batch, cfg, n)
        } else {
            let (tx, rx) = logring::channel::mpsc::new(cfg.ring).expect("channel");
            blocking_run(vec![tx; producers], rx, batch, cfg, n)
        }
    };
    let logring_async = move |n: u64, batch: bool, policy: Option<SpinPolicy>| {
        if spsc {
            let (mut tx, rx) = logring::nonblocking::spsc::new(cfg.ring).expect("channel");
            if let Some(policy) = policy {
                tx.set_spin_policy(policy);
            }
            async_run(vec![tx], rx, batch, policy, cfg, n)
        } else {
            let (mut tx, rx) = logring::nonblocking::mpsc::new(cfg.ring).expect("channel");
            if let Some(policy) = policy {
                tx.set_spin_policy(policy); // clones keep it
            }
            async_run(vec![tx; producers], rx, batch, policy, cfg, n)
        }
    };
    Throughput {
        key,
        title,
        placement,
        notes: vec![runtime_note(cfg)],
        versus: "blocking channel",
        target: Some(BLOCKING_TARGET),
        headliners: "logring async",
        columns: THROUGHPUT_COLUMNS,
        reference: Contender::new(BLOCKING_ONE, move |n| blocking(n, false)),
        contenders: vec![
            Contender::new(ASYNC_ONE, move |n| logring_async(n, false, None)),
            Contender::new(ASYNC_BATCH, move |n| logring_async(n, true, None)),
            Contender::new(ASYNC_SPIN, move |n| {
                logring_async(n, false, Some(SpinPolicy::NONE))
            }),
            Contender::new(ASYNC_BATCH_SPIN, move |n| {
                logring_async(n, true, Some(SpinPolicy::NONE))
            }),
            Contender::new(TOKIO, move |n| {
                let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(cfg.slots());
                async_throughput(vec![tx; producers], rx, cfg, n)
            }),
            Contender::new(BLOCKING_BATCH, move |n| blocking(n, true)),
        ],
    }
}

/// A blocking channel run: its senders in pinned threads, the receiver with
/// `recv_batch` (`batch`) or `recv`.
fn blocking_run<T: Tx>(
    senders: Vec<T>,
    rx: logring::channel::Receiver,
    batch: bool,
    cfg: &Config,
    n: u64,
) -> Run {
    let placement = if senders.len() == 1 { &SPSC } else { &MPSC };
    if batch {
        throughput(senders, ChannelRx::<true>::new(rx, cfg), cfg, placement, n)
    } else {
        throughput(senders, ChannelRx::<false>::new(rx, cfg), cfg, placement, n)
    }
}

/// An async channel run: its senders in tasks, the receiver with
/// `recv_batch` (`batch`) or `recv`, with spin policy `policy` if any.
fn async_run<T: AsyncTx>(
    senders: Vec<T>,
    rx: logring::nonblocking::Receiver,
    batch: bool,
    policy: Option<SpinPolicy>,
    cfg: &Config,
    n: u64,
) -> Run {
    if batch {
        let mut rx = AsyncChannelRx::<true>::new(rx, cfg);
        if let Some(policy) = policy {
            rx = rx.with_policy(policy);
        }
        async_throughput(senders, rx, cfg, n)
    } else {
        let mut rx = AsyncChannelRx::<false>::new(rx, cfg);
        if let Some(policy) = policy {
            rx = rx.with_policy(policy);
        }
        async_throughput(senders, rx, cfg, n)
    }
}

/// Prints the [`VERSUS`] ratios of a throughput scenario: per pair, the
/// quotient of the two contenders' ratios to the reference (clean if both
/// are).
fn report_versus(s: &Throughput, ratios: &[Ratios]) {
    let of = |name: &str| {
        let c = s.contenders.iter().position(|c| c.name == name);
        &ratios[c.expect("a contender of the scenario")]
    };
    for versus in VERSUS {
        let quotients: Ratios = of(versus.over)
            .iter()
            .zip(of(versus.under))
            .map(|(&(over, a), &(under, b))| (over / under, a && b))
            .collect();
        println!(
            "{}",
            headline(
                &format!("{} / {}", versus.over, versus.under),
                versus.under,
                &quotients,
                Some(versus.target),
            )
        );
    }
}

// ---------------------------------------------------------------------------
// Wake-up latency
// ---------------------------------------------------------------------------

/// The reference: logring's blocking channel between two threads.
const WAKE_BLOCKING: &str = "logring channel, blocking (threads; default SpinPolicy)";
/// logring's async receiver on a heap ring, fed by a blocking sender thread.
const WAKE_HEAP_THREAD: &str = "logring async, heap ring, sender thread";
/// logring's async receiver on a heap ring, fed by an async sender task.
const WAKE_HEAP_TASK: &str = "logring async, heap ring, sender task";
/// tokio's channel, fed by a thread.
const WAKE_TOKIO_THREAD: &str = "tokio mpsc, sender thread (blocking_send)";
/// tokio's channel, fed by a task.
const WAKE_TOKIO_TASK: &str = "tokio mpsc, sender task";
/// logring's async receiver on a ring file, fed by the file's blocking
/// sender in a thread: woken through its notifier thread.
const WAKE_FILE_THREAD: &str = "logring async, ring file, sender thread";

/// The wake-up table's quantiles.
const WAKE_QUANTILES: &[Quantile] = &[
    Quantile {
        label: "p50",
        q: 0.50,
        range: true,
    },
    Quantile {
        label: "p90",
        q: 0.90,
        range: true,
    },
    Quantile {
        label: "p99",
        q: 0.99,
        range: true,
    },
    Quantile {
        label: "p99.9",
        q: 0.999,
        range: false,
    },
];

/// A ring file under a unique name in `cfg.dir`, with its SPSC sender and
/// its async receiver attached; the name is removed at once (the ends keep
/// the file).
fn ring_file_ends(
    cfg: &Config,
) -> (
    logring::channel::spsc::Sender,
    logring::nonblocking::Receiver,
) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = cfg.dir.join(format!(
        "logring-bench-async-{}-{}.ring",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let file = RingFile::create(&path, Options::new(cfg.ring)).unwrap_or_else(|e| panic!("{e}"));
    let ends = file
        .spsc_sender()
        .and_then(|tx| Ok((tx, file.receiver()?.into_async())));
    let _ = std::fs::remove_file(&path);
    ends.unwrap_or_else(|e| panic!("{e}"))
}

/// The wake-up scenario.
fn wakeup_latency(cfg: &Config) -> Wakeup<'_> {
    let gap = cfg.wake.gap;
    Wakeup {
        key: "wakeup",
        title: "wake-up latency of a sleeping receiver, SPSC, 64-byte records",
        notes: vec![
            format!("{}; receivers are tasks there", runtime_note(cfg)),
            "sender threads are pinned as the producer above; sender tasks idle with \
             tokio::time::sleep, which rounds up to whole milliseconds"
                .into(),
        ],
        quantiles: WAKE_QUANTILES,
        columns: &[RX_SLEEPS, RX_PENDING, WORKER_PARKS],
        target_us: None,
        contenders: vec![
            Contender::new(WAKE_BLOCKING, move |n| {
                let (tx, rx) = logring::channel::spsc::new(cfg.ring).expect("channel");
                wakeup(tx, ChannelRx::<false>::new(rx, cfg), cfg, gap, n)
            }),
            Contender::new(WAKE_HEAP_THREAD, move |n| {
                let (tx, rx) = logring::channel::spsc::new(cfg.ring).expect("channel");
                let rx = AsyncChannelRx::<false>::new(rx.into_async(), cfg);
                async_wakeup(FromThread(tx), rx, cfg, n)
            }),
            Contender::new(WAKE_HEAP_TASK, move |n| {
                let (tx, rx) = logring::nonblocking::spsc::new(cfg.ring).expect("channel");
                async_wakeup(FromTask(tx), AsyncChannelRx::<false>::new(rx, cfg), cfg, n)
            }),
            Contender::new(WAKE_TOKIO_THREAD, move |n| {
                let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(cfg.slots());
                async_wakeup(FromThread(tx), rx, cfg, n)
            }),
            Contender::new(WAKE_TOKIO_TASK, move |n| {
                let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(cfg.slots());
                async_wakeup(FromTask(tx), rx, cfg, n)
            }),
            Contender::new(WAKE_FILE_THREAD, move |n| {
                let (tx, rx) = ring_file_ends(cfg);
                async_wakeup(
                    FromThread(tx),
                    AsyncChannelRx::<false>::new(rx, cfg),
                    cfg,
                    n,
                )
            }),
        ],
    }
}

/// Prints what waking through a ring file's notifier thread adds: the ring
/// file's quantiles minus the heap ring's, both fed by a sender thread.
fn report_notifier_hop(s: &Wakeup, runs: &[Vec<Run>]) {
    let of = |name: &str| {
        let c = s.contenders.iter().position(|c| c.name == name);
        &runs[c.expect("a contender of the scenario")]
    };
    let (file, heap) = (of(WAKE_FILE_THREAD), of(WAKE_HEAP_THREAD));
    let added: Vec<String> = s
        .quantiles
        .iter()
        .map(|q| {
            let delta = quantile_spread(file, q.q).median - quantile_spread(heap, q.q).median;
            format!("{} {delta:+.1} µs", q.label)
        })
        .collect();
    println!(
        "- notifier hop: {WAKE_FILE_THREAD} - {WAKE_HEAP_THREAD}: {} (medians over rounds)",
        added.join(", ")
    );
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

/// The report's header: the machine and the settings.
fn print_header(cfg: &Config) {
    common::print_title_and_machine(
        "async bench: logring async channel ends vs blocking channel, tokio mpsc",
        cfg,
    );
    println!(
        "- throughput: {} pairs, ~{} ms per run; ring {} KiB; tokio mpsc holds {} messages \
         (ring bytes / 72); recv_batch limit {} records",
        cfg.pairs,
        (cfg.run_secs * 1000.0).round(),
        cfg.ring / 1024,
        cfg.slots(),
        cfg.batch
    );
    println!(
        "- wake-up: {} rounds x {} messages, {} µs idle before each; ring file in {}",
        cfg.wake.rounds,
        cfg.wake.samples,
        cfg.wake.gap.as_micros(),
        cfg.dir.display()
    );
    println!(
        "- {}, timer enabled, built outside the timed part",
        runtime_note(cfg)
    );
    cfg.print_placement_and_flagging();
}

/// A scenario of this bench.
enum Scenario<'a> {
    Throughput(Throughput<'a>),
    Wakeup(Wakeup<'a>),
}

impl Scenario<'_> {
    /// Its name, which filters match.
    fn key(&self) -> &'static str {
        match self {
            Scenario::Throughput(s) => s.key,
            Scenario::Wakeup(s) => s.key,
        }
    }
}

fn main() {
    let cfg = Config::from_env();
    let scenarios = [
        Scenario::Throughput(throughput_scenario(&cfg, SPSC.producers.len())),
        Scenario::Throughput(throughput_scenario(&cfg, MPSC.producers.len())),
        Scenario::Wakeup(wakeup_latency(&cfg)),
    ];
    let chosen: Vec<&Scenario> = scenarios.iter().filter(|s| cfg.wants(s.key())).collect();
    if chosen.is_empty() {
        eprintln!(
            "no scenario matches {:?}; scenarios: {}",
            cfg.filters,
            scenarios.map(|s| s.key()).join(", ")
        );
        std::process::exit(2);
    }
    if cfg.smoke {
        println!(
            "async bench smoke test (run `cargo bench --features async --bench async` to measure)"
        );
    } else {
        print_header(&cfg);
    }
    let began = Instant::now();
    for scenario in chosen {
        match scenario {
            Scenario::Throughput(s) => {
                let (refs, runs, sizes) = s.measure(&cfg);
                if cfg.smoke {
                    s.smoke_report(&runs);
                } else {
                    s.report(&cfg, &refs, &runs, &sizes);
                    report_versus(s, &s.ratios(&refs, &runs));
                }
            }
            Scenario::Wakeup(s) => {
                let runs = s.measure(&cfg.wake);
                if cfg.smoke {
                    s.smoke_report(&cfg.wake, &runs);
                } else {
                    s.report(&cfg, &SPSC, &cfg.wake, &runs);
                    report_notifier_hop(s, &runs);
                }
            }
        }
    }
    println!();
    println!("(took {:.1} s)", began.elapsed().as_secs_f64());
}
