//! logring's blocking channels beside the raw queue they wrap and beside other
//! bounded channels, measured in the same process.
//!
//! Scenarios (name them as filters to run a subset; a filter matches every key
//! that contains it):
//!
//! - `spsc64`: SPSC throughput, 64-byte records. Every contender is alternated
//!   with logring's raw SPSC queue (the reference), giving "contender / raw
//!   queue" ratios: what the channel layer costs, and where the other channels
//!   stand.
//! - `spsc64-peer`: SPSC throughput, logring's channel alternated directly with
//!   nexus-logbuf's channel.
//! - `mpsc64`, `mpsc64-peer`: the same with two producers and one consumer.
//! - `wakeup`: latency from a producer's send to the return of `recv` in a
//!   receiver that was asleep.
//! - `full-budget`: how long `send` spins on a ring that stays full before it
//!   returns `Full`, with the default sender `SpinPolicy`.
//!
//! Every record carries `producer << 56 | sequence` in its first 8 bytes;
//! consumers read every byte (a checksum over the record's eight words) and
//! check each producer's order, and every run checks that exactly what was
//! sent arrived. Contenders that move values (crossbeam-channel, std's
//! `sync_channel`) send `[u8; 64]` arrays, so nothing allocates, with a
//! capacity of ring bytes / 72 slots (a 64-byte record takes 72 bytes of a
//! logring or nexus-logbuf ring).
//!
//! Method (throughput): runs alternate reference, contender 1, reference,
//! contender 2, ..., reference, so every contender run sits between two
//! reference runs; its msgs/s is divided by the mean of theirs, and the median
//! of those ratios over the pairs is reported with its range. Each contender's
//! message count is sized so that its run takes about `LOGRING_BENCH_RUN_MS`.
//! Threads are pinned to cores; runs during which other processes used the CPU
//! are flagged.
//!
//! Method (wake-up): the producer idles (`thread::sleep`) before each message
//! long enough for every receiver to give up spinning and sleep, then stamps
//! the message with the time since a common base `Instant` and sends it; the
//! receiver reads the clock as soon as `recv` hands it the record. Contenders
//! alternate in rounds; the table gives the median over rounds of each
//! round's quantiles, and the quantiles of all samples pooled.
//!
//! Reading the tables: `retries/msg` counts sends refused as full (after the
//! channel's own spin budget, for logring's channel; `-` where the send waits
//! inside), `polls/msg` the raw queue consumer's polls that found nothing,
//! `rx sleeps/msg` the receiving thread's voluntary context switches (it went
//! to sleep) per message. `flagged` counts runs during which other processes
//! used more than 5% of all cores' time, with the worst share seen.
//!
//! `cargo bench --bench channel [-- FILTER...]` measures. Without `--bench`
//! (as under `cargo test --benches`) every scenario runs once with a few
//! thousand messages, as a correctness smoke test.
//!
//! Environment: `LOGRING_BENCH_PAIRS` (default 15), `LOGRING_BENCH_RUN_MS`
//! (500), `LOGRING_BENCH_RING` (ring bytes, 262144), `LOGRING_BENCH_BATCH`
//! (`read_batch`/`recv_batch` limit, 64), `LOGRING_BENCH_WAKE_SAMPLES`
//! (messages per wake-up run, 2000), `LOGRING_BENCH_WAKE_ROUNDS` (5),
//! `LOGRING_BENCH_WAKE_GAP_US` (idle before each wake-up message, 500).

mod common;

use std::ops::Deref;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    BaseConfig, CpuTimes, FOREIGN_CPU_LIMIT, MPSC, Placement, RunStats, SPSC, Spread, cpu_model,
    current, env_or, flagged, per_msg, print_table, set_current, voluntary_switches,
};
use hdrhistogram::Histogram;
use logring::channel::{SendError, SpinPolicy};

/// A run whose consumer receives nothing for this long is hung: the process
/// reports what it was running and aborts.
const STALL: Duration = Duration::from_secs(30);

/// Messages per throughput run in smoke mode (and the least per measured run).
const SMOKE_MSGS: u64 = 4000;

/// Messages at the start of each wake-up run that are not recorded.
const WAKE_WARMUP: u64 = 20;

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// The common settings, and the wake-up scenario's.
struct Config {
    base: BaseConfig,
    /// Recorded messages per wake-up run (`LOGRING_BENCH_WAKE_SAMPLES`).
    wake_samples: u64,
    /// Wake-up rounds (`LOGRING_BENCH_WAKE_ROUNDS`).
    wake_rounds: usize,
    /// The producer's idle before each wake-up message
    /// (`LOGRING_BENCH_WAKE_GAP_US`).
    wake_gap: Duration,
}

/// The common settings read as the config's own (`cfg.ring`, `cfg.pin(..)`).
impl Deref for Config {
    type Target = BaseConfig;

    fn deref(&self) -> &BaseConfig {
        &self.base
    }
}

impl Config {
    /// The common settings, then the wake-up ones (fixed in smoke mode).
    fn from_env() -> Self {
        let base = BaseConfig::from_env(None);
        let (samples, rounds, gap_us) = if base.smoke {
            (50, 1, 100)
        } else {
            (
                env_or::<u64>("LOGRING_BENCH_WAKE_SAMPLES", 2000).max(1),
                env_or::<usize>("LOGRING_BENCH_WAKE_ROUNDS", 5).max(1),
                env_or::<u64>("LOGRING_BENCH_WAKE_GAP_US", 500),
            )
        };
        Self {
            base,
            wake_samples: samples,
            wake_rounds: rounds,
            wake_gap: Duration::from_micros(gap_us),
        }
    }

    /// Capacity in values of the channels that move `[u8; 64]` arrays: as
    /// many as 64-byte records fit in the ring (72 bytes each).
    fn slots(&self) -> usize {
        self.ring / RECORD_SPAN
    }
}

// ---------------------------------------------------------------------------
// Messages and what the consumer checks
// ---------------------------------------------------------------------------

const LEN: usize = 64;
/// Bytes a 64-byte record takes in a logring (or nexus-logbuf) ring.
const RECORD_SPAN: usize = 72;
const MAX_PRODUCERS: usize = 4;
const SEQ_MASK: u64 = (1 << 56) - 1;

type Msg = [u8; LEN];

/// Bytes 16..64 of every message.
const FILL: [u8; LEN - 16] = {
    let mut fill = [0u8; LEN - 16];
    let mut i = 0;
    while i < fill.len() {
        fill[i] = (i as u8).wrapping_mul(37).wrapping_add(11);
        i += 1;
    }
    fill
};

/// Word 0: `producer << 56 | seq`; word 1: `stamp` (send time for wake-up
/// runs, 0 otherwise); words 2..8: [`FILL`].
#[inline]
fn message(producer: usize, seq: u64, stamp: u64) -> Msg {
    let mut msg = [0u8; LEN];
    msg[..8].copy_from_slice(&(((producer as u64) << 56) | seq).to_le_bytes());
    msg[8..16].copy_from_slice(&stamp.to_le_bytes());
    msg[16..].copy_from_slice(&FILL);
    msg
}

#[inline]
fn word(msg: &Msg, k: usize) -> u64 {
    u64::from_le_bytes(msg[8 * k..8 * k + 8].try_into().unwrap())
}

/// Messages producer `k` of `producers` sends out of `n`.
fn share(n: u64, producers: usize, k: usize) -> u64 {
    let p = producers as u64;
    n / p + u64::from((k as u64) < n % p)
}

/// What a consumer received, checked record by record.
struct Tally {
    msgs: u64,
    /// Wrapping sum of every word of every record.
    sum: u64,
    /// The sequence number expected next from each producer.
    next: [u64; MAX_PRODUCERS],
    faults: u64,
    first_fault: Option<String>,
}

impl Tally {
    fn new() -> Self {
        Self {
            msgs: 0,
            sum: 0,
            next: [0; MAX_PRODUCERS],
            faults: 0,
            first_fault: None,
        }
    }

    /// Reads and checks one record; returns its stamp.
    #[inline]
    fn add(&mut self, record: &[u8]) -> u64 {
        self.msgs += 1;
        let Ok(msg) = <&Msg>::try_from(record) else {
            self.fault(format!(
                "record {} is {} bytes long, not {LEN}",
                self.msgs,
                record.len()
            ));
            return 0;
        };
        let head = word(msg, 0);
        let (producer, seq) = ((head >> 56) as usize, head & SEQ_MASK);
        match self.next.get_mut(producer) {
            Some(next) if *next == seq => *next += 1,
            Some(next) => {
                let expected = *next;
                *next = seq + 1;
                self.fault(format!(
                    "record {}: producer {producer} sequence {seq}, expected {expected}",
                    self.msgs
                ));
            }
            None => self.fault(format!("record {}: producer id {producer}", self.msgs)),
        }
        self.sum = (0..LEN / 8).fold(self.sum, |sum, k| sum.wrapping_add(word(msg, k)));
        word(msg, 1)
    }

    #[cold]
    #[inline(never)]
    fn fault(&mut self, what: String) {
        self.faults += 1;
        if self.first_fault.is_none() {
            self.first_fault = Some(what);
        }
    }

    /// Whether exactly `n` messages from `producers` producers arrived, each
    /// producer's in order (and, with `check_sum`, with the right content;
    /// stamps are 0).
    fn verify(&self, n: u64, producers: usize, check_sum: bool) -> Result<(), String> {
        if let Some(first) = &self.first_fault {
            return Err(format!("{} bad records; first: {first}", self.faults));
        }
        if self.msgs != n {
            return Err(format!("received {} records of {n}", self.msgs));
        }
        for k in 0..producers {
            if self.next[k] != share(n, producers, k) {
                return Err(format!(
                    "producer {k}: received {} records of {}",
                    self.next[k],
                    share(n, producers, k)
                ));
            }
        }
        if check_sum {
            let fill: u64 = FILL
                .chunks_exact(8)
                .map(|w| u64::from_le_bytes(w.try_into().unwrap()))
                .fold(0, u64::wrapping_add);
            let mut sum = n.wrapping_mul(fill);
            for k in 0..producers {
                let m = share(n, producers, k);
                let seqs = (u128::from(m) * u128::from(m.saturating_sub(1)) / 2) as u64;
                sum = sum
                    .wrapping_add(((k as u64) << 56).wrapping_mul(m))
                    .wrapping_add(seqs);
            }
            if self.sum != sum {
                return Err(format!(
                    "content checksum {:#x}, expected {sum:#x}",
                    self.sum
                ));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The two ends of each contender, as the benchmark drives them
// ---------------------------------------------------------------------------

/// A sending end.
trait Tx: Send {
    /// Whether `put` counts refusals (`false`: the send waits inside).
    const COUNTS_RETRIES: bool;

    /// Sends `msg`, waiting as the contender's API does; returns how many
    /// attempts were refused as full.
    fn put(&mut self, msg: &Msg, cfg: &Config) -> u64;
}

/// What a receiving end's `take` did.
enum Got {
    Records,
    /// Nothing was ready (polling receivers only).
    Empty,
    /// Every sender is gone and everything was received.
    Closed,
}

/// A receiving end.
trait Rx: Send {
    /// Whether `take` polls (`Empty` when nothing is ready) rather than waits.
    const POLLS: bool;

    /// Hands one or more records to `f`, in order.
    fn take(&mut self, f: impl FnMut(&[u8])) -> Got;
}

/// The raw queues' producers: claim, copy, commit; retry while full.
macro_rules! raw_tx {
    ($($producer:ty),* $(,)?) => {$(
        impl Tx for $producer {
            const COUNTS_RETRIES: bool = true;

            #[inline]
            fn put(&mut self, msg: &Msg, cfg: &Config) -> u64 {
                let mut retries = 0;
                loop {
                    if let Ok(mut claim) = self.try_claim(LEN) {
                        claim.copy_from_slice(msg);
                        claim.commit();
                        return retries;
                    }
                    retries += 1;
                    cfg.idle();
                }
            }
        }
    )*};
}

raw_tx!(
    logring::queue::spsc::Producer,
    logring::queue::mpsc::Producer
);

/// A raw queue producer with a `SeqCst` fence after every commit: what the
/// channel's wake-up check would cost with a symmetric barrier. Not a product.
#[derive(Clone)]
struct Fenced<T>(T);

impl<T: Tx> Tx for Fenced<T> {
    const COUNTS_RETRIES: bool = T::COUNTS_RETRIES;

    #[inline]
    fn put(&mut self, msg: &Msg, cfg: &Config) -> u64 {
        let retries = self.0.put(msg, cfg);
        fence(Ordering::SeqCst);
        retries
    }
}

/// logring's channel senders: `send` (which spins for its budget), copy,
/// commit; a `Full` is counted and the send retried.
macro_rules! logring_channel_tx {
    ($($sender:ty),* $(,)?) => {$(
        impl Tx for $sender {
            const COUNTS_RETRIES: bool = true;

            #[inline]
            fn put(&mut self, msg: &Msg, _: &Config) -> u64 {
                let mut retries = 0;
                loop {
                    match self.send(LEN) {
                        Ok(mut claim) => {
                            claim.copy_from_slice(msg);
                            claim.commit();
                            return retries;
                        }
                        Err(SendError::Full) => retries += 1,
                        Err(error) => panic!("logring channel send failed: {error}"),
                    }
                }
            }
        }
    )*};
}

logring_channel_tx!(
    logring::channel::spsc::Sender,
    logring::channel::mpsc::Sender
);

/// nexus-logbuf's channel senders: `send` (spins until there is room), copy,
/// commit, `notify`.
macro_rules! nexus_channel_tx {
    ($($sender:ty),* $(,)?) => {$(
        impl Tx for $sender {
            const COUNTS_RETRIES: bool = false;

            #[inline]
            fn put(&mut self, msg: &Msg, _: &Config) -> u64 {
                let mut claim = self.send(LEN).expect("nexus-logbuf receiver gone");
                claim.copy_from_slice(msg);
                claim.commit();
                self.notify();
                0
            }
        }
    )*};
}

nexus_channel_tx!(
    nexus_logbuf::channel::spsc::Sender,
    nexus_logbuf::channel::mpsc::Sender,
);

/// Channels of `[u8; 64]` values: a blocking `send`.
macro_rules! value_channel_tx {
    ($($sender:ty),* $(,)?) => {$(
        impl Tx for $sender {
            const COUNTS_RETRIES: bool = false;

            #[inline]
            fn put(&mut self, msg: &Msg, _: &Config) -> u64 {
                self.send(*msg).expect("receiver gone");
                0
            }
        }
    )*};
}

value_channel_tx!(
    crossbeam_channel::Sender<Msg>,
    std::sync::mpsc::SyncSender<Msg>,
);

/// logring's raw consumer, polling with `read_batch`.
struct RawRx {
    consumer: logring::queue::Consumer,
    limit: usize,
}

impl Rx for RawRx {
    const POLLS: bool = true;

    #[inline]
    fn take(&mut self, mut f: impl FnMut(&[u8])) -> Got {
        match self.consumer.read_batch(self.limit, |record| f(&record)) {
            0 => Got::Empty,
            _ => Got::Records,
        }
    }
}

/// logring's channel receiver, with `recv_batch` (`BATCH`) or one `recv` per
/// record.
struct ChannelRx<const BATCH: bool> {
    rx: logring::channel::Receiver,
    limit: usize,
}

impl<const BATCH: bool> ChannelRx<BATCH> {
    fn new(rx: logring::channel::Receiver, cfg: &Config) -> Self {
        Self {
            rx,
            limit: cfg.batch,
        }
    }

    fn with_policy(mut self, policy: SpinPolicy) -> Self {
        self.rx.set_spin_policy(policy);
        self
    }
}

impl<const BATCH: bool> Rx for ChannelRx<BATCH> {
    const POLLS: bool = false;

    #[inline]
    fn take(&mut self, mut f: impl FnMut(&[u8])) -> Got {
        if BATCH {
            match self.rx.recv_batch(self.limit, |record| f(&record)) {
                Ok(_) => Got::Records,
                Err(_) => Got::Closed,
            }
        } else {
            match self.rx.recv() {
                Ok(record) => {
                    f(&record);
                    Got::Records
                }
                Err(_) => Got::Closed,
            }
        }
    }
}

/// nexus-logbuf's channel receivers: `recv(None)` (spin, then park).
macro_rules! nexus_channel_rx {
    ($($receiver:ty),* $(,)?) => {$(
        impl Rx for $receiver {
            const POLLS: bool = false;

            #[inline]
            fn take(&mut self, mut f: impl FnMut(&[u8])) -> Got {
                match self.recv(None) {
                    Ok(record) => {
                        f(&record);
                        Got::Records
                    }
                    Err(_) => Got::Closed,
                }
            }
        }
    )*};
}

nexus_channel_rx!(
    nexus_logbuf::channel::spsc::Receiver,
    nexus_logbuf::channel::mpsc::Receiver,
);

/// Channels of `[u8; 64]` values: a blocking `recv`.
macro_rules! value_channel_rx {
    ($($receiver:ty),* $(,)?) => {$(
        impl Rx for $receiver {
            const POLLS: bool = false;

            #[inline]
            fn take(&mut self, mut f: impl FnMut(&[u8])) -> Got {
                match self.recv() {
                    Ok(msg) => {
                        f(&msg);
                        Got::Records
                    }
                    Err(_) => Got::Closed,
                }
            }
        }
    )*};
}

value_channel_rx!(
    crossbeam_channel::Receiver<Msg>,
    std::sync::mpsc::Receiver<Msg>,
);

// ---------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------

struct Run {
    msgs: u64,
    secs: f64,
    /// Sends refused as full, if the contender can count them.
    retries: Option<u64>,
    /// Polls that found nothing, for polling receivers.
    polls: Option<u64>,
    /// The receiving thread's voluntary context switches, where `/proc`
    /// tells.
    sleeps: Option<u64>,
    /// Wake-up latencies in ns (wake-up runs only).
    latency: Option<Histogram<u64>>,
    /// Share of the machine's CPU time used by other processes during the
    /// run; `None` where `/proc/stat` cannot tell (or in smoke mode).
    foreign_cpu: Option<f64>,
}

// `flagged` and `rate` come with `RunStats`.
common::impl_run_stats!(Run);

/// Watches a run's progress (records received) until `done` disconnects;
/// reports and aborts the process if nothing arrives for [`STALL`].
fn watchdog(progress: &AtomicU64, n: u64, done: &std::sync::mpsc::Receiver<()>) {
    let (mut seen, mut since) = (0, Instant::now());
    loop {
        match done.recv_timeout(Duration::from_millis(250)) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let now = progress.load(Ordering::Relaxed);
        if now != seen {
            (seen, since) = (now, Instant::now());
        } else if since.elapsed() > STALL {
            eprintln!(
                "HANG: {}: no record received for {} s; {now} of {n} received",
                current(),
                STALL.as_secs()
            );
            std::process::abort();
        }
    }
}

/// Producers send `n` messages between them (producer `k` its own sequence
/// `0..share(n, P, k)`), then drop their senders; the consumer receives them
/// all. Timed on the consumer from the common start to the last record.
fn throughput<T: Tx, R: Rx>(
    senders: Vec<T>,
    rx: R,
    cfg: &Config,
    placement: &Placement,
    n: u64,
) -> Run {
    let producers = senders.len();
    assert!(producers <= MAX_PRODUCERS);
    let start = Barrier::new(producers + 1);
    let progress = AtomicU64::new(0);
    let cpu = CpuTimes::sample(cfg.smoke);
    let (tally, secs, polls, sleeps, retries) = thread::scope(|s| {
        let (start, progress) = (&start, &progress);
        let (done, watched) = std::sync::mpsc::channel::<()>();
        s.spawn(move || watchdog(progress, n, &watched));
        let handles: Vec<_> = senders
            .into_iter()
            .enumerate()
            .map(|(k, mut tx)| {
                let slot = placement.producers[k];
                s.spawn(move || {
                    cfg.pin(slot);
                    start.wait();
                    let mut retries = 0u64;
                    for seq in 0..share(n, producers, k) {
                        retries += tx.put(&message(k, seq, 0), cfg);
                    }
                    retries
                })
            })
            .collect();
        let receiver = s.spawn(move || {
            let mut rx = rx;
            cfg.pin(placement.consumer);
            let mut tally = Tally::new();
            start.wait();
            let switches = voluntary_switches();
            let began = Instant::now();
            let mut polls = 0u64;
            while tally.msgs < n {
                match rx.take(|record| {
                    tally.add(record);
                }) {
                    Got::Records => progress.store(tally.msgs, Ordering::Relaxed),
                    Got::Empty => {
                        polls += 1;
                        cfg.idle();
                    }
                    Got::Closed => break,
                }
            }
            let secs = began.elapsed().as_secs_f64();
            let sleeps = voluntary_switches()
                .zip(switches)
                .map(|(after, before)| after - before);
            (tally, secs, polls, sleeps)
        });
        let retries: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        let (tally, secs, polls, sleeps) = receiver.join().unwrap();
        drop(done);
        (tally, secs, polls, sleeps, retries)
    });
    let foreign_cpu = cpu.and_then(CpuTimes::foreign_share);
    if let Err(error) = tally.verify(n, producers, true) {
        panic!("{}: {error}", current());
    }
    Run {
        msgs: n,
        secs,
        retries: T::COUNTS_RETRIES.then_some(retries),
        polls: R::POLLS.then_some(polls),
        sleeps,
        latency: None,
        foreign_cpu,
    }
}

/// The producer idles `cfg.wake_gap` before each of `samples` messages (plus
/// a warm-up), stamps it with the time since a base `Instant` and sends it;
/// the receiver, asleep by then, records the time from the stamp to the
/// moment `recv` hands it the record.
fn wakeup<T: Tx, R: Rx>(tx: T, rx: R, cfg: &Config, samples: u64) -> Run {
    let n = WAKE_WARMUP + samples;
    let start = Barrier::new(2);
    let progress = AtomicU64::new(0);
    let base = Instant::now();
    let cpu = CpuTimes::sample(cfg.smoke);
    let (tally, hist, secs, sleeps) = thread::scope(|s| {
        let (start, progress) = (&start, &progress);
        let (done, watched) = std::sync::mpsc::channel::<()>();
        s.spawn(move || watchdog(progress, n, &watched));
        let producer = s.spawn(move || {
            let mut tx = tx;
            cfg.pin(SPSC.producers[0]);
            start.wait();
            for seq in 0..n {
                thread::sleep(cfg.wake_gap);
                let stamp = base.elapsed().as_nanos() as u64;
                tx.put(&message(0, seq, stamp), cfg);
            }
        });
        let receiver = s.spawn(move || {
            let mut rx = rx;
            cfg.pin(SPSC.consumer);
            let mut tally = Tally::new();
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
            start.wait();
            let began = Instant::now();
            let switches = voluntary_switches();
            while tally.msgs < n {
                let got = rx.take(|record| {
                    let now = base.elapsed().as_nanos() as u64;
                    let stamp = tally.add(record);
                    if tally.msgs > WAKE_WARMUP {
                        hist.saturating_record(now.saturating_sub(stamp));
                    }
                });
                match got {
                    Got::Records => progress.store(tally.msgs, Ordering::Relaxed),
                    Got::Empty => cfg.idle(),
                    Got::Closed => break,
                }
            }
            let sleeps = voluntary_switches()
                .zip(switches)
                .map(|(after, before)| after - before);
            (tally, hist, began.elapsed().as_secs_f64(), sleeps)
        });
        producer.join().unwrap();
        let result = receiver.join().unwrap();
        drop(done);
        result
    });
    let foreign_cpu = cpu.and_then(CpuTimes::foreign_share);
    if let Err(error) = tally.verify(n, 1, false) {
        panic!("{}: {error}", current());
    }
    Run {
        msgs: n,
        secs,
        retries: None,
        polls: None,
        sleeps,
        latency: Some(hist),
        foreign_cpu,
    }
}

// ---------------------------------------------------------------------------
// Statistics and tables
// ---------------------------------------------------------------------------

/// Quantile `q` of a wake-up run's latencies, in µs.
fn quantile_us(run: &Run, q: f64) -> f64 {
    run.latency
        .as_ref()
        .map_or(f64::NAN, |h| h.value_at_quantile(q) as f64 / 1000.0)
}

fn describe_placement(cfg: &Config, placement: &Placement) -> String {
    if cfg.core_of(0).is_none() {
        return "threads not pinned (fewer than 2 usable cores)".into();
    }
    let core = |slot| cfg.core_of(slot).map_or(0, |c| c.id);
    let several = placement.producers.len() > 1;
    let mut parts: Vec<String> = placement
        .producers
        .iter()
        .enumerate()
        .map(|(k, &slot)| {
            let name = if several {
                format!("producer {}", (b'A' + k as u8) as char)
            } else {
                "producer".into()
            };
            format!("{name} on core {}", core(slot))
        })
        .collect();
    parts.push(format!("consumer on core {}", core(placement.consumer)));
    let threads = placement.producers.len() + 1;
    let mut text = format!("pinned: {}", parts.join(", "));
    if threads > cfg.cores.len() {
        text = format!(
            "{threads} busy threads on {} cores (producers share a core); {text}",
            cfg.cores.len()
        );
    }
    text
}

// ---------------------------------------------------------------------------
// Throughput scenarios
// ---------------------------------------------------------------------------

/// One channel (or queue) under test in a scenario.
type Contender<'a> = common::Contender<'a, Run>;

struct Throughput<'a> {
    key: &'static str,
    title: String,
    placement: &'static Placement,
    /// Short name of the reference in ratio headings.
    versus: &'static str,
    /// Headline target for logring's channel: ratio at least this.
    target: Option<f64>,
    reference: Contender<'a>,
    contenders: Vec<Contender<'a>>,
}

impl Throughput<'_> {
    fn go(&self, contender: &Contender, n: u64) -> Run {
        set_current(format!("{} / {} ({n} messages)", self.key, contender.name));
        (contender.run)(n)
    }

    /// Messages for a run of `contender` that takes about `cfg.run_secs`.
    fn size(&self, contender: &Contender, cfg: &Config) -> u64 {
        let floor = (cfg.run_secs / 5.0).max(0.02);
        let mut n = 1u64 << 14;
        let mut run = self.go(contender, n);
        while run.secs < floor && n < 1 << 34 {
            let scale = (floor * 1.5 / run.secs.max(1e-6)).clamp(2.0, 16.0);
            n = (n as f64 * scale) as u64;
            run = self.go(contender, n);
        }
        let rate = Spread::of(
            [
                run.rate(),
                self.go(contender, n).rate(),
                self.go(contender, n).rate(),
            ]
            .into_iter(),
        )
        .median;
        ((rate * cfg.run_secs) as u64).max(SMOKE_MSGS)
    }

    /// `(reference runs, each contender's runs, messages per run of each:
    /// reference first)`. Contender `c`'s run `i` sits between reference runs
    /// `i * k + c` and `i * k + c + 1` (`k` contenders).
    fn measure(&self, cfg: &Config) -> (Vec<Run>, Vec<Vec<Run>>, Vec<u64>) {
        let mut sizes = Vec::new();
        let pairs = if cfg.smoke {
            sizes.resize(self.contenders.len() + 1, SMOKE_MSGS);
            1
        } else {
            sizes.push(self.size(&self.reference, cfg));
            for contender in &self.contenders {
                sizes.push(self.size(contender, cfg));
            }
            cfg.pairs
        };
        let mut refs = vec![self.go(&self.reference, sizes[0])];
        let mut runs: Vec<Vec<Run>> = self.contenders.iter().map(|_| Vec::new()).collect();
        for _ in 0..pairs {
            for (c, contender) in self.contenders.iter().enumerate() {
                runs[c].push(self.go(contender, sizes[c + 1]));
                if !cfg.smoke {
                    refs.push(self.go(&self.reference, sizes[0]));
                }
            }
        }
        (refs, runs, sizes)
    }

    fn report(&self, cfg: &Config, refs: &[Run], runs: &[Vec<Run>], sizes: &[u64]) {
        let k = self.contenders.len();
        let pairs = runs[0].len();
        println!();
        println!("### {}: {}", self.key, self.title);
        println!();
        println!("- {}", describe_placement(cfg, self.placement));
        println!(
            "- {pairs} pairs: each contender run sits between two runs of {} (the reference); \
             messages per run sized for ~{} ms each",
            self.reference.name,
            (cfg.run_secs * 1000.0).round(),
        );
        println!();
        let ratio_heading = format!("/ {} median (min-max)", self.versus);
        let mut table = vec![vec![
            "contender".to_string(),
            "Mmsg/s median (min-max)".into(),
            ratio_heading,
            "msgs/run".into(),
            "retries/msg".into(),
            "polls/msg".into(),
            "rx sleeps/msg".into(),
            "flagged (max other)".into(),
        ]];
        let row = |name: String, own: &[Run], ratio: String, size: u64| {
            vec![
                name,
                Spread::of(own.iter().map(|r| r.rate() / 1e6)).show(2, ""),
                ratio,
                size.to_string(),
                per_msg(own, |r| r.retries),
                per_msg(own, |r| r.polls),
                per_msg(own, |r| r.sleeps),
                flagged(own),
            ]
        };
        table.push(row(
            format!("{} (reference)", self.reference.name),
            refs,
            "1".into(),
            sizes[0],
        ));
        let mut ratios = Vec::new();
        for (c, contender) in self.contenders.iter().enumerate() {
            let these: Vec<(f64, bool)> = runs[c]
                .iter()
                .enumerate()
                .map(|(i, run)| {
                    let (before, after) = (&refs[i * k + c], &refs[i * k + c + 1]);
                    let clean = !(run.flagged() || before.flagged() || after.flagged());
                    (run.rate() * 2.0 / (before.rate() + after.rate()), clean)
                })
                .collect();
            let spread = Spread::of(these.iter().map(|&(r, _)| r)).show(3, "x");
            table.push(row(contender.name.into(), &runs[c], spread, sizes[c + 1]));
            ratios.push(these);
        }
        print_table(&table);
        println!();
        for (contender, these) in self.contenders.iter().zip(&ratios) {
            if !contender.name.starts_with("logring") {
                continue;
            }
            let all = Spread::of(these.iter().map(|&(r, _)| r));
            let mut line = format!(
                "- headline: {} / {} = {} over {pairs} pairs (above 1 = faster than {})",
                contender.name,
                self.versus,
                all.show(3, "x"),
                self.versus
            );
            let clean: Vec<f64> = these.iter().filter(|c| c.1).map(|c| c.0).collect();
            if clean.is_empty() {
                line += "; every pair flagged";
            } else if clean.len() < these.len() {
                let spread = Spread::of(clean.iter().copied());
                line += &format!("; {} clean pairs: {}", clean.len(), spread.show(3, "x"));
            }
            if let Some(target) = self.target {
                let verdict = if all.median >= target {
                    "met"
                } else {
                    "NOT met"
                };
                line += &format!("; target >= {target:.2}x: {verdict}");
            }
            println!("{line}");
        }
    }

    fn smoke_report(&self, runs: &[Vec<Run>]) {
        let total = 1 + runs.iter().map(Vec::len).sum::<usize>();
        println!(
            "{}: {total} runs of {SMOKE_MSGS} messages, every record checked ({}; {})",
            self.key,
            self.reference.name,
            self.contenders
                .iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
}

const RAW: &str = "raw queue (try_claim/commit + read_batch)";
const CH_BATCH: &str = "logring channel (send + recv_batch)";
const CH_ONE: &str = "logring channel (send + recv)";
const NEXUS: &str = "nexus-logbuf channel (send + notify + recv)";
const CROSSBEAM: &str = "crossbeam-channel bounded [u8; 64]";
const STD: &str = "std sync_channel [u8; 64]";
const FENCED: &str = "raw queue + SeqCst fence per commit (not a product)";

fn logring_spsc_channel<const BATCH: bool>(
    cfg: &Config,
) -> (logring::channel::spsc::Sender, ChannelRx<BATCH>) {
    let (tx, rx) = logring::channel::spsc::new(cfg.ring).expect("channel");
    (tx, ChannelRx::new(rx, cfg))
}

fn logring_mpsc_channel<const BATCH: bool>(
    cfg: &Config,
    producers: usize,
) -> (Vec<logring::channel::mpsc::Sender>, ChannelRx<BATCH>) {
    let (tx, rx) = logring::channel::mpsc::new(cfg.ring).expect("channel");
    (vec![tx; producers], ChannelRx::new(rx, cfg))
}

fn raw_rx(consumer: logring::queue::Consumer, cfg: &Config) -> RawRx {
    RawRx {
        consumer,
        limit: cfg.batch,
    }
}

fn spsc_vs_raw(cfg: &Config) -> Throughput<'_> {
    Throughput {
        key: "spsc64",
        title: "SPSC throughput, 64-byte records, each contender / raw queue".into(),
        placement: &SPSC,
        versus: "raw queue",
        target: Some(0.90),
        reference: Contender::new(RAW, move |n| {
            let (tx, rx) = logring::queue::spsc::new(cfg.ring).expect("ring");
            throughput(vec![tx], raw_rx(rx, cfg), cfg, &SPSC, n)
        }),
        contenders: vec![
            Contender::new(CH_BATCH, move |n| {
                let (tx, rx) = logring_spsc_channel::<true>(cfg);
                throughput(vec![tx], rx, cfg, &SPSC, n)
            }),
            Contender::new(CH_ONE, move |n| {
                let (tx, rx) = logring_spsc_channel::<false>(cfg);
                throughput(vec![tx], rx, cfg, &SPSC, n)
            }),
            Contender::new(NEXUS, move |n| {
                let (tx, rx) = nexus_logbuf::channel::spsc::channel(cfg.ring);
                throughput(vec![tx], rx, cfg, &SPSC, n)
            }),
            Contender::new(CROSSBEAM, move |n| {
                let (tx, rx) = crossbeam_channel::bounded::<Msg>(cfg.slots());
                throughput(vec![tx], rx, cfg, &SPSC, n)
            }),
            Contender::new(STD, move |n| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(cfg.slots());
                throughput(vec![tx], rx, cfg, &SPSC, n)
            }),
            Contender::new(FENCED, move |n| {
                let (tx, rx) = logring::queue::spsc::new(cfg.ring).expect("ring");
                throughput(vec![Fenced(tx)], raw_rx(rx, cfg), cfg, &SPSC, n)
            }),
        ],
    }
}

fn spsc_vs_nexus(cfg: &Config) -> Throughput<'_> {
    Throughput {
        key: "spsc64-peer",
        title: "SPSC throughput, 64-byte records, logring channel / nexus-logbuf channel".into(),
        placement: &SPSC,
        versus: "nexus-logbuf channel",
        target: None,
        reference: Contender::new(NEXUS, move |n| {
            let (tx, rx) = nexus_logbuf::channel::spsc::channel(cfg.ring);
            throughput(vec![tx], rx, cfg, &SPSC, n)
        }),
        contenders: vec![
            Contender::new(CH_BATCH, move |n| {
                let (tx, rx) = logring_spsc_channel::<true>(cfg);
                throughput(vec![tx], rx, cfg, &SPSC, n)
            }),
            Contender::new(CH_ONE, move |n| {
                let (tx, rx) = logring_spsc_channel::<false>(cfg);
                throughput(vec![tx], rx, cfg, &SPSC, n)
            }),
        ],
    }
}

fn mpsc_vs_raw(cfg: &Config) -> Throughput<'_> {
    let p = MPSC.producers.len();
    Throughput {
        key: "mpsc64",
        title: format!(
            "MPSC throughput, {p} producers, 64-byte records, each contender / raw queue"
        ),
        placement: &MPSC,
        versus: "raw queue",
        target: Some(0.90),
        reference: Contender::new(RAW, move |n| {
            let (tx, rx) = logring::queue::mpsc::new(cfg.ring).expect("ring");
            throughput(vec![tx; p], raw_rx(rx, cfg), cfg, &MPSC, n)
        }),
        contenders: vec![
            Contender::new(CH_BATCH, move |n| {
                let (txs, rx) = logring_mpsc_channel::<true>(cfg, p);
                throughput(txs, rx, cfg, &MPSC, n)
            }),
            Contender::new(CH_ONE, move |n| {
                let (txs, rx) = logring_mpsc_channel::<false>(cfg, p);
                throughput(txs, rx, cfg, &MPSC, n)
            }),
            Contender::new(NEXUS, move |n| {
                let (tx, rx) = nexus_logbuf::channel::mpsc::channel(cfg.ring);
                throughput(vec![tx; p], rx, cfg, &MPSC, n)
            }),
            Contender::new(CROSSBEAM, move |n| {
                let (tx, rx) = crossbeam_channel::bounded::<Msg>(cfg.slots());
                throughput(vec![tx; p], rx, cfg, &MPSC, n)
            }),
            Contender::new(STD, move |n| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(cfg.slots());
                throughput(vec![tx; p], rx, cfg, &MPSC, n)
            }),
            Contender::new(FENCED, move |n| {
                let (tx, rx) = logring::queue::mpsc::new(cfg.ring).expect("ring");
                throughput(vec![Fenced(tx); p], raw_rx(rx, cfg), cfg, &MPSC, n)
            }),
        ],
    }
}

fn mpsc_vs_nexus(cfg: &Config) -> Throughput<'_> {
    let p = MPSC.producers.len();
    Throughput {
        key: "mpsc64-peer",
        title: format!(
            "MPSC throughput, {p} producers, 64-byte records, logring channel / nexus-logbuf channel"
        ),
        placement: &MPSC,
        versus: "nexus-logbuf channel",
        target: None,
        reference: Contender::new(NEXUS, move |n| {
            let (tx, rx) = nexus_logbuf::channel::mpsc::channel(cfg.ring);
            throughput(vec![tx; p], rx, cfg, &MPSC, n)
        }),
        contenders: vec![
            Contender::new(CH_BATCH, move |n| {
                let (txs, rx) = logring_mpsc_channel::<true>(cfg, p);
                throughput(txs, rx, cfg, &MPSC, n)
            }),
            Contender::new(CH_ONE, move |n| {
                let (txs, rx) = logring_mpsc_channel::<false>(cfg, p);
                throughput(txs, rx, cfg, &MPSC, n)
            }),
        ],
    }
}

// ---------------------------------------------------------------------------
// Wake-up latency
// ---------------------------------------------------------------------------

struct Wakeup<'a> {
    key: &'static str,
    contenders: Vec<Contender<'a>>,
}

/// logring's p99 target for a sleeping receiver's wake-up, in µs.
const WAKE_TARGET_US: f64 = 100.0;

impl Wakeup<'_> {
    fn new(cfg: &Config) -> Wakeup<'_> {
        Wakeup {
            key: "wakeup",
            contenders: vec![
                Contender::new("logring channel, default SpinPolicy", move |n| {
                    let (tx, rx) = logring_spsc_channel::<false>(cfg);
                    wakeup(tx, rx, cfg, n)
                }),
                Contender::new("logring channel, SpinPolicy::NONE", move |n| {
                    let (tx, rx) = logring_spsc_channel::<false>(cfg);
                    wakeup(tx, rx.with_policy(SpinPolicy::NONE), cfg, n)
                }),
                Contender::new("nexus-logbuf channel (notify; park)", move |n| {
                    let (tx, rx) = nexus_logbuf::channel::spsc::channel(cfg.ring);
                    wakeup(tx, rx, cfg, n)
                }),
                Contender::new("crossbeam-channel bounded", move |n| {
                    let (tx, rx) = crossbeam_channel::bounded::<Msg>(cfg.slots());
                    wakeup(tx, rx, cfg, n)
                }),
                Contender::new("std sync_channel", move |n| {
                    let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(cfg.slots());
                    wakeup(tx, rx, cfg, n)
                }),
            ],
        }
    }

    /// `runs[c][r]`: contender `c` in round `r`; rounds run every contender
    /// in turn.
    fn measure(&self, cfg: &Config) -> Vec<Vec<Run>> {
        let mut runs: Vec<Vec<Run>> = self.contenders.iter().map(|_| Vec::new()).collect();
        for round in 0..cfg.wake_rounds {
            for (c, contender) in self.contenders.iter().enumerate() {
                set_current(format!("{} / {} (round {round})", self.key, contender.name));
                runs[c].push((contender.run)(cfg.wake_samples));
            }
        }
        runs
    }

    fn report(&self, cfg: &Config, runs: &[Vec<Run>]) {
        println!();
        println!(
            "### {}: wake-up latency of a sleeping receiver, SPSC, 64-byte records",
            self.key
        );
        println!();
        println!("- {}", describe_placement(cfg, &SPSC));
        println!(
            "- {} rounds x {} messages per contender (after {WAKE_WARMUP} unrecorded); the \
             producer sleeps {} µs before each send; latency = receiver's clock when recv \
             returns - producer's clock before send",
            cfg.wake_rounds,
            cfg.wake_samples,
            cfg.wake_gap.as_micros()
        );
        println!();
        let mut table = vec![vec![
            "contender".to_string(),
            "p50 µs median (min-max)".into(),
            "p99 µs median (min-max)".into(),
            "p99.9 µs median".into(),
            "max µs".into(),
            "all samples p50/p99/p99.9 µs".into(),
            "rx sleeps/msg".into(),
            "flagged (max other)".into(),
        ]];
        let mut headlines = Vec::new();
        for (contender, own) in self.contenders.iter().zip(runs) {
            let at = |q| Spread::of(own.iter().map(|r| quantile_us(r, q)));
            let mut pooled = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
            for hist in own.iter().filter_map(|r| r.latency.as_ref()) {
                pooled.add(hist).expect("histograms of the same bounds");
            }
            let us = |q| pooled.value_at_quantile(q) as f64 / 1000.0;
            let p99 = at(0.99);
            table.push(vec![
                contender.name.into(),
                at(0.50).show(1, ""),
                p99.show(1, ""),
                format!("{:.1}", at(0.999).median),
                format!("{:.1}", pooled.max() as f64 / 1000.0),
                format!("{:.1}/{:.1}/{:.1}", us(0.50), us(0.99), us(0.999)),
                per_msg(own, |r| r.sleeps),
                flagged(own),
            ]);
            if contender.name.starts_with("logring") {
                let verdict = if p99.median < WAKE_TARGET_US {
                    "met"
                } else {
                    "NOT met"
                };
                headlines.push(format!(
                    "- headline: {}: p99 {:.1} µs (median over rounds); target p99 < \
                     {WAKE_TARGET_US:.0} µs: {verdict}",
                    contender.name, p99.median
                ));
            }
        }
        print_table(&table);
        println!();
        for line in headlines {
            println!("{line}");
        }
    }

    fn smoke_report(&self, cfg: &Config, runs: &[Vec<Run>]) {
        let total: usize = runs.iter().map(Vec::len).sum();
        println!(
            "{}: {total} runs of {} messages, every record checked ({})",
            self.key,
            cfg.wake_samples + WAKE_WARMUP,
            self.contenders
                .iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

fn print_header(cfg: &Config) {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".into(), |k| k.trim().to_string());
    println!("## channel bench: logring channels vs raw queue, nexus-logbuf, crossbeam, std");
    println!();
    println!(
        "- machine: {} ({} usable cores), Linux {kernel}",
        cpu_model(),
        cfg.cores.len()
    );
    println!(
        "- throughput: {} pairs, ~{} ms per run; ring {} KiB for logring and nexus-logbuf; \
         crossbeam-channel and std sync_channel hold {} [u8; 64] values (ring bytes / 72); \
         read_batch/recv_batch limit {} records",
        cfg.pairs,
        (cfg.run_secs * 1000.0).round(),
        cfg.ring / 1024,
        cfg.slots(),
        cfg.batch
    );
    println!(
        "- wake-up: {} rounds x {} messages, {} µs idle before each",
        cfg.wake_rounds,
        cfg.wake_samples,
        cfg.wake_gap.as_micros()
    );
    if cfg.core_of(0).is_some() {
        println!(
            "- threads pinned with core_affinity: producers from core {}, consumer on core {}",
            cfg.core_of(0).map_or(0, |c| c.id),
            cfg.core_of(1).map_or(0, |c| c.id)
        );
    } else {
        println!("- threads not pinned (fewer than 2 usable cores)");
    }
    println!(
        "- runs during which other processes used over {:.0}% of all cores are flagged",
        FOREIGN_CPU_LIMIT * 100.0
    );
}

enum Scenario<'a> {
    Throughput(Throughput<'a>),
    Wakeup(Wakeup<'a>),
    FullBudget,
}

impl Scenario<'_> {
    fn key(&self) -> &'static str {
        match self {
            Scenario::Throughput(s) => s.key,
            Scenario::Wakeup(s) => s.key,
            Scenario::FullBudget => "full-budget",
        }
    }
}

// ---------------------------------------------------------------------------
// How long `send` spins on a full ring before it reports `Full`
// ---------------------------------------------------------------------------

/// Times `send` on a ring that stays full (nobody receives) with the default
/// `SpinPolicy::SENDER`: the budget a hot-path sender pays before `Full`.
fn full_budget(cfg: &Config) {
    let samples: u64 = if cfg.smoke { 20 } else { 2000 };
    let (mut tx, _rx) = logring::channel::spsc::new(4096).expect("ring");
    assert_eq!(tx.spin_policy(), SpinPolicy::SENDER);
    while let Ok(claim) = tx.try_send(64) {
        claim.commit();
    }
    let rejected_before = tx.full_rejections();
    let mut histogram = Histogram::<u64>::new(3).expect("histogram");
    for _ in 0..samples {
        let start = Instant::now();
        let outcome = tx.send(64).map(drop);
        let nanos = start.elapsed().as_nanos() as u64;
        assert_eq!(outcome, Err(SendError::Full), "a full ring must refuse");
        histogram.record(nanos.max(1)).expect("record");
    }
    assert_eq!(
        tx.full_rejections() - rejected_before,
        samples,
        "one rejection is counted per failed send"
    );
    if cfg.smoke {
        println!("full-budget: {samples} sends refused as Full, each counted once");
        return;
    }
    let us = |q: f64| histogram.value_at_quantile(q) as f64 / 1e3;
    println!();
    println!("### full-budget: `send` on a ring that stays full, default SpinPolicy::SENDER");
    println!();
    println!("| samples | p50 µs | p99 µs | max µs |");
    println!("| ------: | -----: | -----: | -----: |");
    println!(
        "| {samples} | {:.1} | {:.1} | {:.1} |",
        us(0.5),
        us(0.99),
        histogram.max() as f64 / 1e3
    );
}

fn main() {
    let cfg = Config::from_env();
    let scenarios = [
        Scenario::Throughput(spsc_vs_raw(&cfg)),
        Scenario::Throughput(spsc_vs_nexus(&cfg)),
        Scenario::Throughput(mpsc_vs_raw(&cfg)),
        Scenario::Throughput(mpsc_vs_nexus(&cfg)),
        Scenario::Wakeup(Wakeup::new(&cfg)),
        Scenario::FullBudget,
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
        println!("channel bench smoke test (run `cargo bench --bench channel` to measure)");
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
                }
            }
            Scenario::Wakeup(s) => {
                let runs = s.measure(&cfg);
                if cfg.smoke {
                    s.smoke_report(&cfg, &runs);
                } else {
                    s.report(&cfg, &runs);
                }
            }
            Scenario::FullBudget => full_budget(&cfg),
        }
    }
    println!();
    println!("(took {:.1} s)", began.elapsed().as_secs_f64());
}
