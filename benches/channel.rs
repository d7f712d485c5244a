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
//!   receiver that was asleep (woken by the send, or polling every
//!   `LOGRING_BENCH_POLL_US`).
//! - `sender-cost`: what a hot path pays per record at a channel's sending
//!   end while a receiving thread drains the channel. SPSC, 64-byte
//!   records in bursts of 20, a busy pause of about 2 ms after each burst
//!   (spinning on the clock, so the core stays awake); each record's claim,
//!   copy and commit (and `notify`, for nexus-logbuf) is timed alone with
//!   the TSC (x86_64; `Instant` elsewhere), as the queue bench's
//!   `producer-cost` does (`common::cost`). Contenders, each run alternated
//!   with nexus-logbuf's (the reference): nexus-logbuf's channel
//!   (`try_send`, copy, `commit`, `notify`; the receiver loops on
//!   `recv(None)`, which backs off and then parks), `logring wake`
//!   (`try_claim`, copy, `commit`; the receiver loops on `recv_batch` with
//!   the default spin policy, then sleeps until a sender wakes it),
//!   `logring poll(N us)` (the same with `set_poll_interval`: once its spin
//!   budget is spent the receiver sleeps at most `LOGRING_BENCH_POLL_US`
//!   and looks again, and no sender ever wakes it) and `logring spin` (the
//!   receiver loops on `try_recv_batch`, `spin_loop` after an empty poll).
//! - `full-budget`: how long `claim` spins on a ring that stays full before it
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
//! Method (sender cost): every run first sends a lap of the ring untimed and
//! pauses 10 ms, then sends bursts for about `LOGRING_BENCH_RUN_MS` of
//! pauses; after a warm-up run of each contender, runs alternate reference,
//! contender 1, reference, ..., reference as for throughput. The table gives
//! p50 / p90 / p99 / p99.9 per record (median over runs of each run's
//! quantile, and the quantiles of all runs' samples pooled), the timer pair
//! alone (as many empty timed regions, after each burst), and each
//! contender's p50 and p99 over the mean of the two reference runs around
//! it, median and range over the pairs.
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
//! to sleep) per message (in `sender-cost`, from the end of the untimed lap
//! on, per timed record; `full retries/record` there counts timed sends
//! refused as full, retried with their time counted: none are expected).
//! `flagged` counts runs during which other processes used more than 5% of
//! all cores' time, with the worst share seen.
//!
//! `cargo bench --bench channel [-- FILTER...]` measures. Without `--bench`
//! (as under `cargo test --benches`) every scenario runs once with a few
//! thousand messages, as a correctness smoke test.
//!
//! Environment: `LOGRING_BENCH_PAIRS` (default 15), `LOGRING_BENCH_RUN_MS`
//! (500), `LOGRING_BENCH_RING` (ring bytes, 262144), `LOGRING_BENCH_BATCH`
//! (`try_recv_batch`/`recv_batch` limit, 64), `LOGRING_BENCH_WAKE_SAMPLES`
//! (messages per wake-up run, 2000), `LOGRING_BENCH_WAKE_ROUNDS` (5),
//! `LOGRING_BENCH_WAKE_GAP_US` (idle before each wake-up message, 500),
//! `LOGRING_BENCH_POLL_US` (the `sender-cost` polling receiver's longest
//! sleep, 100). In `sender-cost`, `LOGRING_BENCH_RUN_MS` sets the bursts per
//! run (one per 2 ms), `LOGRING_BENCH_PAIRS` the pairs, and
//! `LOGRING_BENCH_BATCH` the receivers' batch limit.

mod common;

use std::sync::atomic::{Ordering, fence};
use std::time::{Duration, Instant};

use common::clock::Clock;
use common::cost::BURST;
use common::records::{LEN, Msg, RECORD_SPAN};
use common::runs::{
    ChannelRx, ChannelSpinRx, Got, Rx, TryTx, Tx, WakeConfig, sender_cost, throughput, wakeup,
};
use common::scenarios::{
    Contender, Cost, CostContender, CostQuantile, POLLS, Quantile, RETRIES, RX_SLEEPS, Throughput,
    Wakeup,
};
use common::{BaseConfig, MPSC, SPSC, cost, env_or};
use hdrhistogram::Histogram;
use logring::channel::{SendError, SpinPolicy};
use logring::queue::TryRecvError;

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// The common settings, the wake-up scenario's, and the sender-cost
/// scenario's polling receiver's.
struct Config {
    base: BaseConfig,
    /// The wake-up scenario's settings.
    wake: WakeConfig,
    /// How long the sender-cost scenario's polling receiver sleeps at most
    /// between looks (`LOGRING_BENCH_POLL_US`, 100).
    poll: Duration,
}

common::deref_to_base!(Config);

impl Config {
    /// The common settings, then the wake-up ones (fixed in smoke mode) and
    /// the poll interval.
    fn from_env() -> Self {
        let base = BaseConfig::from_env(None);
        let wake = WakeConfig::from_env(base.smoke);
        let poll = Duration::from_micros(env_or("LOGRING_BENCH_POLL_US", 100));
        Self { base, wake, poll }
    }

    /// Capacity in values of the channels that move `[u8; 64]` arrays: as
    /// many as 64-byte records fit in the ring (72 bytes each).
    fn slots(&self) -> usize {
        self.ring / RECORD_SPAN
    }
}

// ---------------------------------------------------------------------------
// The two ends of each contender, as the benchmark drives them
// ---------------------------------------------------------------------------

/// The raw queues' producers: claim, copy, commit; retry while full.
macro_rules! raw_tx {
    ($($producer:ty),* $(,)?) => {$(
        impl Tx for $producer {
            const COUNTS_RETRIES: bool = true;

            #[inline]
            fn put(&mut self, msg: &Msg, cfg: &BaseConfig) -> u64 {
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
    fn put(&mut self, msg: &Msg, cfg: &BaseConfig) -> u64 {
        let retries = self.0.put(msg, cfg);
        fence(Ordering::SeqCst);
        retries
    }
}

/// nexus-logbuf's channel senders: `send` (spins until there is room), copy,
/// commit, `notify`.
macro_rules! nexus_channel_tx {
    ($($sender:ty),* $(,)?) => {$(
        impl Tx for $sender {
            const COUNTS_RETRIES: bool = false;

            #[inline]
            fn put(&mut self, msg: &Msg, _: &BaseConfig) -> u64 {
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

/// nexus-logbuf's SPSC channel sender on a hot path: `try_send`, copy,
/// commit, `notify`.
impl TryTx for nexus_logbuf::channel::spsc::Sender {
    #[inline]
    fn try_put(&mut self, msg: &Msg) -> bool {
        match self.try_send(LEN) {
            Ok(mut claim) => {
                claim.copy_from_slice(msg);
                claim.commit();
            }
            Err(nexus_logbuf::channel::spsc::TrySendError::Full) => return false,
            Err(error) => panic!("nexus-logbuf send failed: {error:?}"),
        }
        self.notify();
        true
    }
}

/// Channels of `[u8; 64]` values: a blocking `send`.
macro_rules! value_channel_tx {
    ($($sender:ty),* $(,)?) => {$(
        impl Tx for $sender {
            const COUNTS_RETRIES: bool = false;

            #[inline]
            fn put(&mut self, msg: &Msg, _: &BaseConfig) -> u64 {
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

/// logring's raw consumer, polling with `try_recv_batch`.
struct RawRx {
    consumer: logring::queue::Consumer,
    limit: usize,
}

impl Rx for RawRx {
    const POLLS: bool = true;

    #[inline]
    fn take(&mut self, mut f: impl FnMut(&[u8])) -> Got {
        match self
            .consumer
            .try_recv_batch(self.limit, |record| f(&record))
        {
            Ok(_) => Got::Records,
            Err(TryRecvError::Empty) => Got::Empty,
            Err(error) => panic!("{error}"),
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
// Throughput scenarios
// ---------------------------------------------------------------------------

const RAW: &str = "raw queue (try_claim/commit + try_recv_batch)";
const CH_BATCH: &str = "logring channel (send + recv_batch)";
const CH_ONE: &str = "logring channel (send + recv)";
const NEXUS: &str = "nexus-logbuf channel (send + notify + recv)";
const CROSSBEAM: &str = "crossbeam-channel bounded [u8; 64]";
const STD: &str = "std sync_channel [u8; 64]";
const FENCED: &str = "raw queue + SeqCst fence per commit (not a product)";

/// The counts the throughput tables show.
const THROUGHPUT_COLUMNS: &[common::scenarios::Column] = &[RETRIES, POLLS, RX_SLEEPS];

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
        notes: Vec::new(),
        versus: "raw queue",
        target: Some(0.90),
        headliners: "logring",
        columns: THROUGHPUT_COLUMNS,
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
        notes: Vec::new(),
        versus: "nexus-logbuf channel",
        target: None,
        headliners: "logring",
        columns: THROUGHPUT_COLUMNS,
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
        notes: Vec::new(),
        versus: "raw queue",
        target: Some(0.90),
        headliners: "logring",
        columns: THROUGHPUT_COLUMNS,
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
        notes: Vec::new(),
        versus: "nexus-logbuf channel",
        target: None,
        headliners: "logring",
        columns: THROUGHPUT_COLUMNS,
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

/// logring's p99 target for a sleeping receiver's wake-up, in µs.
const WAKE_TARGET_US: f64 = 100.0;

/// The wake-up table's quantiles.
const WAKE_QUANTILES: &[Quantile] = &[
    Quantile {
        label: "p50",
        q: 0.50,
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

fn wakeup_latency(cfg: &Config) -> Wakeup<'_> {
    let gap = cfg.wake.gap;
    // The price of a receiver that never asks to be woken: up to one poll
    // interval (`sender-cost` shows what it saves the sender).
    let poll_name: &'static str =
        format!("logring channel, polling every {} us", cfg.poll.as_micros()).leak();
    Wakeup {
        key: "wakeup",
        title: "wake-up latency of a sleeping receiver, SPSC, 64-byte records",
        notes: Vec::new(),
        quantiles: WAKE_QUANTILES,
        columns: &[RX_SLEEPS],
        target_us: Some(WAKE_TARGET_US),
        contenders: vec![
            Contender::new("logring channel, default SpinPolicy", move |n| {
                let (tx, rx) = logring_spsc_channel::<false>(cfg);
                wakeup(tx, rx, cfg, gap, n)
            }),
            Contender::new("logring channel, SpinPolicy::NONE", move |n| {
                let (tx, rx) = logring_spsc_channel::<false>(cfg);
                wakeup(tx, rx.with_policy(SpinPolicy::NONE), cfg, gap, n)
            }),
            Contender::new(poll_name, move |n| {
                let (tx, rx) = logring_spsc_channel::<false>(cfg);
                wakeup(tx, rx.with_poll_interval(Some(cfg.poll)), cfg, gap, n)
            }),
            Contender::new("nexus-logbuf channel (notify; park)", move |n| {
                let (tx, rx) = nexus_logbuf::channel::spsc::channel(cfg.ring);
                wakeup(tx, rx, cfg, gap, n)
            }),
            Contender::new("crossbeam-channel bounded", move |n| {
                let (tx, rx) = crossbeam_channel::bounded::<Msg>(cfg.slots());
                wakeup(tx, rx, cfg, gap, n)
            }),
            Contender::new("std sync_channel", move |n| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(cfg.slots());
                wakeup(tx, rx, cfg, gap, n)
            }),
        ],
    }
}

// ---------------------------------------------------------------------------
// What a sending end pays per record
// ---------------------------------------------------------------------------

/// The sender-cost table's quantiles; p50 and p99 also as ratios to
/// nexus-logbuf's.
const COST_QUANTILES: &[CostQuantile] = &[
    CostQuantile {
        label: "p50",
        q: 0.50,
        compared: true,
    },
    CostQuantile {
        label: "p90",
        q: 0.90,
        compared: false,
    },
    CostQuantile {
        label: "p99",
        q: 0.99,
        compared: true,
    },
    CostQuantile {
        label: "p99.9",
        q: 0.999,
        compared: false,
    },
];

/// The sender-cost scenario: nexus-logbuf's channel (the reference) and
/// logring's with three receivers, each a thread draining the channel.
fn sender_costs<'a>(cfg: &'a Config, clock: &'a Clock) -> Cost<'a> {
    let poll = cfg.poll;
    let us = poll.as_micros();
    // A contender's name is static; this one is made once per process.
    let poll_name: &'static str = format!("logring poll({us}us)").leak();
    let batch = cfg.batch;
    Cost {
        key: "sender-cost",
        title: format!(
            "what a sending end pays per record, SPSC, bursts of {BURST} {LEN}-byte records, a \
             receiving thread draining the channel"
        ),
        notes: vec![
            "nexus-logbuf: try_send(64), copy, commit, notify; the receiver loops on recv(None) \
             (backoff, then park until notified)"
                .into(),
            format!(
                "logring wake: try_claim(64), copy, commit; the receiver loops on \
                 recv_batch({batch}) with the default SpinPolicy::RECEIVER (spins, then sleeps \
                 until a sender wakes it)"
            ),
            format!(
                "{poll_name}: the same, the receiver polling (set_poll_interval(Some({us} us))): \
                 once its spin budget is spent it sleeps at most {us} us and looks again, and no \
                 sender ever wakes it"
            ),
            format!(
                "logring spin: the same sender; the receiver loops on try_recv_batch({batch}), \
                 spin_loop() after an empty poll (a core given over to it)"
            ),
            "rx sleeps/record: the receiving thread's voluntary context switches from the end \
             of the untimed lap (the pause after it included) per timed record"
                .into(),
        ],
        timed: "try_claim/try_send + copy + commit (+ notify, nexus-logbuf)",
        quantiles: COST_QUANTILES,
        headliners: "logring",
        clock,
        reference: CostContender::new("nexus-logbuf", move |bursts| {
            let (tx, rx) = nexus_logbuf::channel::spsc::channel(cfg.ring);
            sender_cost(tx, rx, cfg, clock, bursts)
        }),
        contenders: vec![
            CostContender::new("logring wake", move |bursts| {
                let (tx, rx) = logring_spsc_channel::<true>(cfg);
                sender_cost(tx, rx, cfg, clock, bursts)
            }),
            CostContender::new(poll_name, move |bursts| {
                let (tx, rx) = logring_spsc_channel::<true>(cfg);
                sender_cost(tx, rx.with_poll_interval(Some(poll)), cfg, clock, bursts)
            }),
            CostContender::new("logring spin", move |bursts| {
                let (tx, rx) = logring::channel::spsc::new(cfg.ring).expect("channel");
                sender_cost(tx, ChannelSpinRx::new(rx, cfg), cfg, clock, bursts)
            }),
        ],
    }
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

fn print_header(cfg: &Config) {
    common::print_title_and_machine(
        "channel bench: logring channels vs raw queue, nexus-logbuf, crossbeam, std",
        cfg,
    );
    println!(
        "- throughput: {} pairs, ~{} ms per run; ring {} KiB for logring and nexus-logbuf; \
         crossbeam-channel and std sync_channel hold {} [u8; 64] values (ring bytes / 72); \
         try_recv_batch/recv_batch limit {} records",
        cfg.pairs,
        (cfg.run_secs * 1000.0).round(),
        cfg.ring / 1024,
        cfg.slots(),
        cfg.batch
    );
    println!(
        "- wake-up: {} rounds x {} messages, {} µs idle before each",
        cfg.wake.rounds,
        cfg.wake.samples,
        cfg.wake.gap.as_micros()
    );
    println!(
        "- sender-cost: ~{} ms of bursts per run; the polling receiver sleeps at most {} µs",
        (cfg.run_secs * 1000.0).round(),
        cfg.poll.as_micros()
    );
    cfg.print_placement_and_flagging();
}

enum Scenario<'a> {
    Throughput(Throughput<'a>),
    Wakeup(Wakeup<'a>),
    Cost(Cost<'a>),
    FullBudget,
}

impl Scenario<'_> {
    fn key(&self) -> &'static str {
        match self {
            Scenario::Throughput(s) => s.key,
            Scenario::Wakeup(s) => s.key,
            Scenario::Cost(s) => s.key,
            Scenario::FullBudget => "full-budget",
        }
    }
}

// ---------------------------------------------------------------------------
// How long `claim` spins on a full ring before it reports `Full`
// ---------------------------------------------------------------------------

/// Times `claim` on a ring that stays full (nobody receives) with the default
/// `SpinPolicy::SENDER`: the budget a hot-path sender pays before `Full`.
fn full_budget(cfg: &Config) {
    let samples: u64 = if cfg.smoke { 20 } else { 2000 };
    let (mut tx, _rx) = logring::channel::spsc::new(4096).expect("ring");
    assert_eq!(tx.spin_policy(), SpinPolicy::SENDER);
    while let Ok(claim) = tx.try_claim(64) {
        claim.commit();
    }
    let rejected_before = tx.full_rejections();
    let mut histogram = Histogram::<u64>::new(3).expect("histogram");
    for _ in 0..samples {
        let start = Instant::now();
        let outcome = tx.claim(64).map(drop);
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
    println!("### full-budget: `claim` on a ring that stays full, default SpinPolicy::SENDER");
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
    // Counted once, before any run, if a scenario asked for times with it
    // (else left uncounted: no run reads it).
    let clock = if cfg.wants("sender-cost") {
        cost::calibrate(&cfg)
    } else {
        Clock::calibrate(Duration::ZERO)
    };
    let scenarios = [
        Scenario::Throughput(spsc_vs_raw(&cfg)),
        Scenario::Throughput(spsc_vs_nexus(&cfg)),
        Scenario::Throughput(mpsc_vs_raw(&cfg)),
        Scenario::Throughput(mpsc_vs_nexus(&cfg)),
        Scenario::Wakeup(wakeup_latency(&cfg)),
        Scenario::Cost(sender_costs(&cfg, &clock)),
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
                let runs = s.measure(&cfg.wake);
                if cfg.smoke {
                    s.smoke_report(&cfg.wake, &runs);
                } else {
                    s.report(&cfg, &SPSC, &cfg.wake, &runs);
                }
            }
            Scenario::Cost(s) => {
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
