//! logring's queues beside nexus-logbuf's, measured in the same process.
//!
//! Scenarios (name them as filters to run a subset):
//!
//! - `spsc64`: SPSC throughput, 64-byte payloads.
//! - `spsc-mixed`: SPSC throughput, payload lengths uniform in 8..=1024 bytes.
//! - `mpsc64`: MPSC throughput, two producers and one consumer, 64-byte payloads.
//! - `pingpong`: round trip over two SPSC rings between two threads, 64 bytes.
//! - `producer-cost`: what a hot path pays per log record. SPSC, 64-byte
//!   payloads in bursts of 20 records, a busy pause of about 2 ms after each
//!   burst (spinning on the clock, so the core stays awake); each record's
//!   `try_claim` + copy + `commit` is timed alone with the TSC (x86_64;
//!   `Instant` elsewhere), and reported as p50 / p99 / p99.9 beside the cost
//!   of the timer pair alone. Each crate runs under consumer modes: `none`
//!   (no consumer thread; the producer drains the ring in its pauses, the
//!   floor), `spin` (a consumer thread calling the one-record read in a tight
//!   loop) and `paced` (a consumer thread reading every ready record and
//!   busy-waiting `LOGRING_BENCH_PACE_US` after an empty poll).
//!
//! Producers write every payload byte (claim, copy, commit); consumers read
//! every byte (a checksum folded over each record), and every run checks that
//! what arrived is what was sent. In the throughput and round-trip scenarios
//! logring's consumer is measured twice: with `try_recv_batch` (the headline)
//! and with one `try_recv` per record; in `producer-cost` it reads with
//! `try_recv`, nexus-logbuf's with `try_claim`.
//!
//! Method: runs alternate peer, ours, peer, ours, ..., peer with the same
//! message count (sized so a peer run takes about `LOGRING_BENCH_RUN_MS`);
//! each of our runs is divided by the mean of the two peer runs around it and
//! the median of those ratios is reported with its range. `producer-cost`
//! does the same for each consumer mode with the same number of bursts
//! (about `LOGRING_BENCH_RUN_MS` of pauses) and divides p50s per record.
//! Threads are pinned to cores; runs during which other processes used the
//! CPU are flagged.
//!
//! Reading the tables: `retries/msg` counts the producers' claims refused as
//! full, `polls/msg` the consumer's polls that found nothing (both per message
//! delivered), which tell whether a run kept the ring full or ran in lock
//! step. `flagged` counts runs during which other processes used more than 5%
//! of all cores' time, with the worst share seen; the headline also gives the
//! median over the pairs where no run involved was flagged. In
//! `producer-cost`, `full retries/record` counts timed claims refused as full
//! (retried, their time counted; none are expected), the p50/p99/p99.9
//! columns are medians over runs of each run's quantile and `pooled` gives the
//! quantiles of all runs' samples together; a line per mode then sets
//! logring's p50 beside its own `none` floor.
//!
//! `cargo bench --bench queue [-- FILTER...]` measures. Without `--bench`
//! (as under `cargo test --benches`) every scenario runs once with a few
//! thousand messages, as a correctness smoke test.
//!
//! Every scenario asked for runs with rings of 256 KiB, then again with rings
//! of 1 MiB (both queues the same size), unless `LOGRING_BENCH_RING` names
//! one size.
//!
//! Environment: `LOGRING_BENCH_PAIRS` (default 15), `LOGRING_BENCH_RUN_MS`
//! (500), `LOGRING_BENCH_RING` (ring bytes for both queues; unset: 262144
//! and then 1048576), `LOGRING_BENCH_BATCH` (`try_recv_batch` limit, 64),
//! `LOGRING_BENCH_PACE_US` (the paced consumer's wait after an empty poll in
//! `producer-cost`, 20).

mod common;

use std::hint::black_box;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use common::clock::Clock;
use common::cost::{
    self, BURST, CostRun, HotSender, PAUSE, SETTLE, SMOKE_BURSTS, ratio_around, send_bursts,
};
use common::records::RECORD_SPAN;
use common::{
    BaseConfig, CpuTimes, FOREIGN_CPU_LIMIT, MPSC, Placement, RunStats, SPSC, Spread, cpu_model,
    env_or, flagged, per_msg,
};
use hdrhistogram::Histogram;
use logring::queue::TryRecvError;

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// The common settings, and the ring sizes to measure in turn.
struct Config {
    base: BaseConfig,
    /// Ring bytes for both queues, one pass over the scenarios each:
    /// `LOGRING_BENCH_RING` if set, else 256 KiB and then 1 MiB. `ring`
    /// holds the one being measured.
    rings: Vec<usize>,
    /// How long the producer-cost scenario's paced consumer waits after an
    /// empty poll (`LOGRING_BENCH_PACE_US`, 20).
    pace: Duration,
}

common::deref_to_base!(Config);

impl Config {
    fn from_env() -> Self {
        let base = BaseConfig::from_env(Some(RING_WHY));
        let rings = if std::env::var_os("LOGRING_BENCH_RING").is_some() {
            vec![base.ring]
        } else {
            DEFAULT_RINGS.to_vec()
        };
        let pace = Duration::from_micros(env_or("LOGRING_BENCH_PACE_US", 20));
        Self { base, rings, pace }
    }
}

/// Why `LOGRING_BENCH_RING` must be at least 4096 bytes here.
const RING_WHY: &str = "records go up to 1024";

/// The ring sizes measured when `LOGRING_BENCH_RING` is unset.
const DEFAULT_RINGS: [usize; 2] = [256 * 1024, 1024 * 1024];

// ---------------------------------------------------------------------------
// The two ends of a queue, as the benchmark drives them
// ---------------------------------------------------------------------------

/// A producing end: claim `payload.len()` bytes, copy the payload in, commit.
trait Sender: Send {
    /// `false` if the ring has no room for the record now.
    fn try_send(&mut self, payload: &[u8]) -> bool;
}

/// A consuming end.
trait Receiver: Send {
    /// Hands committed records to `f` in order and returns how many (0 when
    /// nothing is ready).
    fn poll(&mut self, f: impl FnMut(&[u8])) -> usize;
}

macro_rules! claim_copy_commit {
    ($($producer:ty),* $(,)?) => {$(
        impl Sender for $producer {
            #[inline]
            fn try_send(&mut self, payload: &[u8]) -> bool {
                let Ok(mut claim) = self.try_claim(payload.len()) else {
                    return false;
                };
                claim.copy_from_slice(payload);
                claim.commit();
                true
            }
        }
    )*};
}

claim_copy_commit!(
    nexus_logbuf::queue::spsc::Producer,
    nexus_logbuf::queue::mpsc::Producer,
    logring::queue::spsc::Producer,
    logring::queue::mpsc::Producer,
);

macro_rules! one_record_per_poll {
    ($($consumer:ty),* $(,)?) => {$(
        impl Receiver for $consumer {
            #[inline]
            fn poll(&mut self, mut f: impl FnMut(&[u8])) -> usize {
                match self.try_claim() {
                    Some(record) => {
                        f(&record);
                        1
                    }
                    None => 0,
                }
            }
        }
    )*};
}

one_record_per_poll!(
    nexus_logbuf::queue::spsc::Consumer,
    nexus_logbuf::queue::mpsc::Consumer,
);

/// logring's consumer, reading with `try_recv_batch` (`BATCH`) or with one
/// `try_recv` per record.
struct OurReader<const BATCH: bool> {
    consumer: logring::queue::Consumer,
    limit: usize,
}

impl<const BATCH: bool> OurReader<BATCH> {
    fn new(consumer: logring::queue::Consumer, cfg: &Config) -> Self {
        Self {
            consumer,
            limit: cfg.batch,
        }
    }
}

impl<const BATCH: bool> Receiver for OurReader<BATCH> {
    #[inline]
    fn poll(&mut self, mut f: impl FnMut(&[u8])) -> usize {
        let read = if BATCH {
            self.consumer
                .try_recv_batch(self.limit, |record| f(&record))
        } else {
            self.consumer.try_recv().map(|record| {
                f(&record);
                1
            })
        };
        match read {
            Ok(count) => count,
            Err(TryRecvError::Empty) => 0,
            Err(error) => panic!("{error}"),
        }
    }
}

fn logring_spsc<const BATCH: bool>(
    cfg: &Config,
) -> (logring::queue::spsc::Producer, OurReader<BATCH>) {
    let (producer, consumer) = logring::queue::spsc::new(cfg.ring).expect("ring");
    (producer, OurReader::new(consumer, cfg))
}

// ---------------------------------------------------------------------------
// Workloads: the same deterministic payload sequence for every contender
// ---------------------------------------------------------------------------

/// Message `i` is `src[off..off + len]` for table entry `i % TABLE`; the
/// table comes from a fixed-seed xorshift, so every run sends the same bytes.
struct Workload {
    src: Vec<u8>,
    /// `(offset, len)` of each table entry.
    entries: Vec<(usize, usize)>,
    /// Checksum of each table entry's payload.
    sums: Vec<u64>,
}

const TABLE: usize = 4096;
const SRC_LEN: usize = 8192;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform-enough in `lo..=hi` (modulo bias is irrelevant here).
    fn in_range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
}

impl Workload {
    /// Payload lengths uniform in `lo..=hi`.
    fn uniform(lo: usize, hi: usize) -> Self {
        assert!(0 < lo && lo <= hi && hi <= SRC_LEN);
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let src: Vec<u8> = (0..SRC_LEN).map(|_| rng.next() as u8).collect();
        let entries: Vec<(usize, usize)> = (0..TABLE)
            .map(|_| {
                let len = rng.in_range(lo, hi);
                (rng.in_range(0, SRC_LEN - len), len)
            })
            .collect();
        let sums = entries
            .iter()
            .map(|&(off, len)| checksum(&src[off..off + len]))
            .collect();
        Self { src, entries, sums }
    }

    fn fixed(len: usize) -> Self {
        Self::uniform(len, len)
    }

    #[inline]
    fn payload(&self, i: u64) -> &[u8] {
        let (off, len) = self.entries[i as usize % TABLE];
        &self.src[off..off + len]
    }

    /// What a consumer should have seen after messages `0..n`, in any order.
    fn expected(&self, n: u64) -> Tally {
        let mut tally = Tally::default();
        let (laps, rest) = (n / TABLE as u64, (n % TABLE as u64) as usize);
        for (k, (&(_, len), &sum)) in self.entries.iter().zip(&self.sums).enumerate() {
            let times = laps + u64::from(k < rest);
            tally.msgs += times;
            tally.bytes += times * len as u64;
            tally.sum = tally.sum.wrapping_add(sum.wrapping_mul(times));
        }
        tally
    }

    /// Mean payload length, for the scenario headers.
    fn mean_len(&self) -> f64 {
        self.entries.iter().map(|&(_, len)| len as f64).sum::<f64>() / TABLE as f64
    }
}

/// Reads every byte of a payload (eight at a time, so the fold does not
/// dominate the queue's cost).
#[inline]
fn checksum(bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    let mut sum = bytes.len() as u64;
    for word in &mut words {
        sum = sum.wrapping_add(u64::from_le_bytes(word.try_into().unwrap()));
    }
    for (k, &byte) in words.remainder().iter().enumerate() {
        sum = sum.wrapping_add(u64::from(byte) << (8 * k));
    }
    sum
}

/// What a consumer received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    msgs: u64,
    bytes: u64,
    /// Wrapping sum of the records' checksums (order-insensitive, for MPSC).
    sum: u64,
}

impl Tally {
    #[inline]
    fn add(&mut self, record: &[u8]) {
        self.msgs += 1;
        self.bytes += record.len() as u64;
        self.sum = self.sum.wrapping_add(checksum(record));
    }
}

// ---------------------------------------------------------------------------
// One timed run
// ---------------------------------------------------------------------------

struct Run {
    msgs: u64,
    bytes: u64,
    secs: f64,
    full_retries: u64,
    empty_polls: u64,
    /// Round-trip times in ns (ping-pong only).
    latency: Option<Histogram<u64>>,
    /// Share of the machine's CPU time used by other processes during the
    /// run; `None` where `/proc/stat` cannot tell (or in smoke mode).
    foreign_cpu: Option<f64>,
}

// `flagged` and `rate` come with `RunStats`.
common::impl_run_stats!(Run);

/// Producers send messages `0..n` of `w` between them (producer `k` sends
/// `k, k + P, k + 2P, ...`); the consumer reads them all. Timed on the consumer
/// from the common start to the last record.
fn throughput<T: Sender, R: Receiver>(
    producers: Vec<T>,
    mut consumer: R,
    w: &Workload,
    cfg: &Config,
    placement: &Placement,
    n: u64,
) -> Run {
    let stride = producers.len() as u64;
    let start = Barrier::new(producers.len() + 1);
    let cpu = CpuTimes::sample(cfg.smoke);
    let (tally, secs, empty_polls, full_retries) = thread::scope(|s| {
        let senders: Vec<_> = producers
            .into_iter()
            .enumerate()
            .map(|(k, mut producer)| {
                let (start, slot) = (&start, placement.producers[k]);
                s.spawn(move || {
                    cfg.pin(slot);
                    start.wait();
                    let mut retries = 0u64;
                    let mut i = k as u64;
                    while i < n {
                        let payload = w.payload(i);
                        while !producer.try_send(payload) {
                            retries += 1;
                            cfg.idle();
                        }
                        i += stride;
                    }
                    retries
                })
            })
            .collect();
        let receiver = s.spawn(|| {
            cfg.pin(placement.consumer);
            start.wait();
            let began = Instant::now();
            let mut tally = Tally::default();
            let mut empty_polls = 0u64;
            while tally.msgs < n {
                if consumer.poll(|record| tally.add(record)) == 0 {
                    empty_polls += 1;
                    cfg.idle();
                }
            }
            (black_box(tally), began.elapsed().as_secs_f64(), empty_polls)
        });
        let retries: u64 = senders.into_iter().map(|h| h.join().unwrap()).sum();
        let (tally, secs, polls) = receiver.join().unwrap();
        (tally, secs, polls, retries)
    });
    let foreign_cpu = cpu.and_then(|before| before.foreign_share());
    assert_eq!(
        tally,
        w.expected(n),
        "records received differ from those sent"
    );
    Run {
        msgs: n,
        bytes: tally.bytes,
        secs,
        full_retries,
        empty_polls,
        latency: None,
        foreign_cpu,
    }
}

/// The initiator sends message `i` over `there` and waits for the echo thread
/// to copy it back over `back`, `n` times; each round trip is timed.
fn ping_pong<T: Sender, R: Receiver>(
    there: (T, R),
    back: (T, R),
    w: &Workload,
    cfg: &Config,
    placement: &Placement,
    n: u64,
) -> Run {
    let ((mut ping, mut echo_in), (mut echo_out, mut pong)) = (there, back);
    let start = Barrier::new(2);
    let cpu = CpuTimes::sample(cfg.smoke);
    let (tally, hist, secs, empty_polls, full_retries) = thread::scope(|s| {
        s.spawn(|| {
            cfg.pin(placement.consumer);
            start.wait();
            let mut echoed = 0;
            while echoed < n {
                let got = echo_in.poll(|record| {
                    while !echo_out.try_send(record) {
                        cfg.idle();
                    }
                });
                if got == 0 {
                    cfg.idle();
                }
                echoed += got as u64;
            }
        });
        let initiator = s.spawn(|| {
            cfg.pin(placement.producers[0]);
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
            let mut tally = Tally::default();
            let (mut empty_polls, mut full_retries) = (0u64, 0u64);
            start.wait();
            let began = Instant::now();
            for i in 0..n {
                let payload = w.payload(i);
                let sent = Instant::now();
                while !ping.try_send(payload) {
                    full_retries += 1;
                    cfg.idle();
                }
                while pong.poll(|record| tally.add(record)) == 0 {
                    empty_polls += 1;
                    cfg.idle();
                }
                hist.saturating_record(sent.elapsed().as_nanos() as u64);
            }
            let secs = began.elapsed().as_secs_f64();
            (black_box(tally), hist, secs, empty_polls, full_retries)
        });
        initiator.join().unwrap()
    });
    let foreign_cpu = cpu.and_then(|before| before.foreign_share());
    assert_eq!(
        tally,
        w.expected(n),
        "echoed records differ from those sent"
    );
    Run {
        msgs: n,
        bytes: tally.bytes,
        secs,
        full_retries,
        empty_polls,
        latency: Some(hist),
        foreign_cpu,
    }
}

// ---------------------------------------------------------------------------
// The comparison harness
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Scored by msgs/s; ratio ours/peer above 1 means ours is faster.
    Throughput,
    /// Scored by p50 round trip; ratio ours/peer below 1 means ours is faster.
    Latency,
}

/// One queue under test in a scenario.
type Contender<'a> = common::Contender<'a, Run>;

struct Scenario<'a> {
    key: &'static str,
    title: String,
    kind: Kind,
    placement: &'static Placement,
    /// Names of the placement's threads: (producer, consumer).
    roles: (&'static str, &'static str),
    /// Messages per run in smoke mode (and the least per measured run).
    smoke_msgs: u64,
    /// Messages per warm-up run, and for the peer run that sizes the others.
    calibration_msgs: u64,
    /// The peer first, then ours; the first of ours is the headline.
    contenders: Vec<Contender<'a>>,
}

impl Scenario<'_> {
    fn score(&self, run: &Run) -> f64 {
        match self.kind {
            Kind::Throughput => run.rate(),
            Kind::Latency => p(run, 0.50),
        }
    }

    fn unit(&self) -> &'static str {
        match self.kind {
            Kind::Throughput => "messages",
            Kind::Latency => "round trips",
        }
    }

    /// Runs peer, ours..., peer, ours..., ..., peer: `runs[c][i]` is
    /// contender `c`'s `i`-th run, and our `i`-th runs sit between the peer's
    /// runs `i` and `i + 1`.
    fn measure(&self, cfg: &Config) -> (u64, Vec<Vec<Run>>) {
        let (peer, ours) = self.contenders.split_first().expect("a peer");
        let (n, pairs) = if cfg.smoke {
            (self.smoke_msgs, 1)
        } else {
            for contender in &self.contenders {
                (contender.run)(self.calibration_msgs);
            }
            // Sized from the median of three peer runs: one may land in a
            // fast or slow phase of the machine.
            let per_sec = Spread::of((0..3).map(|_| {
                let probe = (peer.run)(self.calibration_msgs);
                probe.rate()
            }))
            .median;
            let n = ((per_sec * cfg.run_secs) as u64).max(self.smoke_msgs);
            (n, cfg.pairs)
        };
        let mut runs: Vec<Vec<Run>> = self.contenders.iter().map(|_| Vec::new()).collect();
        for pair in 0..=pairs {
            runs[0].push((peer.run)(n));
            if pair == pairs {
                break;
            }
            for (c, contender) in ours.iter().enumerate() {
                runs[c + 1].push((contender.run)(n));
            }
        }
        (n, runs)
    }

    fn report(&self, cfg: &Config, n: u64, runs: &[Vec<Run>]) {
        println!();
        println!("== {}: {} ==", self.key, self.title);
        println!("   {}", describe_placement(cfg, self.placement, self.roles));
        println!(
            "   {} pairs, {n} {} per run, ring {} KiB for both",
            runs[0].len() - 1,
            self.unit(),
            cfg.ring / 1024
        );
        let ratios = self.ratios(runs);
        let headings = self.headings();
        let mut table: Vec<Vec<String>> = vec![
            headings.iter().map(|h| h.0.to_string()).collect(),
            headings.iter().map(|h| h.1.to_string()).collect(),
        ];
        for (c, contender) in self.contenders.iter().enumerate() {
            let ratio = c.checked_sub(1).map(|k| ratios[k].as_slice());
            table.push(self.row(contender.name, &runs[c], ratio));
        }
        print_table(&table);
        let what = match self.kind {
            Kind::Throughput => "msgs/s, above 1 = ours faster",
            Kind::Latency => "p50 round trip, below 1 = ours faster",
        };
        print_headline(
            self.contenders[1].name,
            self.contenders[0].name,
            &ratios[0],
            what,
        );
    }

    /// `ratios[k][i]`: our contender `k + 1`'s run `i` scored against the
    /// mean of the peer runs on either side, and whether none of the three
    /// runs was flagged.
    fn ratios(&self, runs: &[Vec<Run>]) -> Vec<Vec<(f64, bool)>> {
        let peer_runs = &runs[0];
        runs[1..]
            .iter()
            .map(|own| {
                own.iter()
                    .zip(peer_runs.windows(2))
                    .map(|(run, around)| {
                        let peer = (self.score(&around[0]) + self.score(&around[1])) / 2.0;
                        let clean = !(run.flagged() || around[0].flagged() || around[1].flagged());
                        (self.score(run) / peer, clean)
                    })
                    .collect()
            })
            .collect()
    }

    /// The table's columns: (heading, sub-heading).
    fn headings(&self) -> [(&'static str, &'static str); 7] {
        match self.kind {
            Kind::Throughput => [
                ("", "contender"),
                ("Mmsg/s", "median (min-max)"),
                ("GB/s", "median"),
                ("ours/peer msgs/s", "median (min-max)"),
                ("retries", "/msg"),
                ("polls", "/msg"),
                ("flagged", "(max other)"),
            ],
            Kind::Latency => [
                ("", "contender"),
                ("p50 ns", "median"),
                ("p99 ns", "median"),
                ("p99.9 ns", "median"),
                ("ours/peer p50", "median (min-max)"),
                ("polls", "/msg"),
                ("flagged", "(max other)"),
            ],
        }
    }

    /// One contender's row; `ratios` is `None` for the peer.
    fn row(&self, name: &str, own: &[Run], ratios: Option<&[(f64, bool)]>) -> Vec<String> {
        let per_msg = |count: fn(&Run) -> u64| {
            let median = Spread::of(own.iter().map(|r| count(r) as f64 / r.msgs as f64)).median;
            format!("{median:.3}")
        };
        let ratio = ratios.map_or("(peer)".into(), |ratios| {
            Spread::of(ratios.iter().map(|&(r, _)| r)).show(3, "x")
        });
        match self.kind {
            Kind::Throughput => {
                let rate = Spread::of(own.iter().map(|r| r.rate() / 1e6));
                let gbps = Spread::of(own.iter().map(|r| r.bytes as f64 / r.secs / 1e9));
                vec![
                    name.into(),
                    rate.show(2, ""),
                    format!("{:.2}", gbps.median),
                    ratio,
                    per_msg(|r| r.full_retries),
                    per_msg(|r| r.empty_polls),
                    flagged(own),
                ]
            }
            Kind::Latency => {
                let at = |q| format!("{:.0}", Spread::of(own.iter().map(|r| p(r, q))).median);
                vec![
                    name.into(),
                    at(0.50),
                    at(0.99),
                    at(0.999),
                    ratio,
                    per_msg(|r| r.empty_polls),
                    flagged(own),
                ]
            }
        }
    }

    fn smoke_report(&self, cfg: &Config, n: u64, runs: &[Vec<Run>]) {
        let total: usize = runs.iter().map(Vec::len).sum();
        println!(
            "{}, ring {} KiB: {total} runs of {n} {} each, every record checked ({})",
            self.key,
            cfg.ring / 1024,
            self.unit(),
            self.contenders
                .iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

/// Which core each thread of `placement` runs on, naming them by `roles`
/// (producer, consumer).
fn describe_placement(
    cfg: &Config,
    placement: &Placement,
    roles: (&'static str, &'static str),
) -> String {
    if cfg.core_of(0).is_none() {
        return "threads not pinned (fewer than 2 usable cores)".into();
    }
    let core = |slot| cfg.core_of(slot).map_or(0, |c| c.id);
    let (producer, consumer) = roles;
    let mut parts: Vec<String> = placement
        .producers
        .iter()
        .enumerate()
        .map(|(k, &slot)| {
            if placement.producers.len() > 1 {
                format!(
                    "{producer} {} on core {}",
                    (b'A' + k as u8) as char,
                    core(slot)
                )
            } else {
                format!("{producer} on core {}", core(slot))
            }
        })
        .collect();
    parts.push(format!("{consumer} on core {}", core(placement.consumer)));
    let threads = placement.producers.len() + 1;
    let mut text = parts.join(", ");
    if threads > cfg.cores.len() {
        text = format!(
            "{threads} busy threads on {} cores (threads share a core): {text}",
            cfg.cores.len()
        );
    }
    text
}

/// `headline: ours / peer = median (min-max) over N pairs (what)`, with the
/// clean pairs' spread when some were flagged.
fn print_headline(ours: &str, peer: &str, ratios: &[(f64, bool)], what: &str) {
    let all = Spread::of(ratios.iter().map(|&(r, _)| r));
    let clean: Vec<f64> = ratios
        .iter()
        .filter(|&&(_, ok)| ok)
        .map(|&(r, _)| r)
        .collect();
    let mut line = format!(
        "   headline: {ours} / {peer} = {} over {} pairs ({what})",
        all.show(3, "x"),
        ratios.len()
    );
    if clean.is_empty() {
        line += "; every pair flagged";
    } else if clean.len() < ratios.len() {
        let spread = Spread::of(clean.iter().copied());
        line += &format!("; {} clean pairs: {}", clean.len(), spread.show(3, "x"));
    }
    println!("{line}");
}

/// Prints rows of cells in columns, the first left-aligned.
fn print_table(rows: &[Vec<String>]) {
    let columns = rows[0].len();
    let width = |c: usize| rows.iter().map(|row| row[c].len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns).map(width).collect();
    for row in rows {
        let mut line = format!("   {:<w$}", row[0], w = widths[0]);
        for (cell, &w) in row.iter().zip(&widths).skip(1) {
            line += &format!("  {cell:>w$}");
        }
        println!("{line}");
    }
}

/// Quantile `q` of a ping-pong run's round trips, in ns.
fn p(run: &Run, q: f64) -> f64 {
    run.latency
        .as_ref()
        .map_or(f64::NAN, |h| h.value_at_quantile(q) as f64)
}

// ---------------------------------------------------------------------------
// Producer-side cost: what a hot path pays per record
// ---------------------------------------------------------------------------

/// The producer-cost scenario's name, which filters match.
const COST_KEY: &str = "producer-cost";

/// Who reads the producer-cost scenario's records, and how.
///
/// A mode only logring has is a variant here, its `name` and `describe`, the
/// mode nexus-logbuf runs beside it in `peer`, its arm in `consume` and its
/// place in `all`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ConsumerMode {
    /// No consumer thread: the producer drains the ring itself during each
    /// pause (untimed), so the ring never fills and every line stays in the
    /// producer's cache. The floor.
    None,
    /// A consumer thread calling the one-record read in a tight loop,
    /// `spin_loop` after an empty poll.
    Spin,
    /// A consumer thread reading every ready record, one read call each, and
    /// after an empty poll waiting this long in a busy wait that touches no
    /// ring memory.
    Paced(Duration),
}

impl ConsumerMode {
    /// Every mode, in the order measured; `none` first.
    fn all(cfg: &Config) -> Vec<Self> {
        vec![Self::None, Self::Spin, Self::Paced(cfg.pace)]
    }

    /// Its name in the tables.
    fn name(self) -> String {
        match self {
            Self::None => "none".into(),
            Self::Spin => "spin".into(),
            Self::Paced(pace) => format!("paced({}us)", pace.as_micros()),
        }
    }

    /// What it does, for the report.
    fn describe(self) -> String {
        match self {
            Self::None => "no consumer thread; the producer drains the ring itself during each \
                           pause (untimed): the floor"
                .into(),
            Self::Spin => "a consumer thread reads one record per call (nexus-logbuf try_claim, \
                           logring try_recv) in a tight loop, spin_loop() after an empty poll"
                .into(),
            Self::Paced(pace) => format!(
                "a consumer thread reads every ready record, one read call each, and after an \
                 empty poll busy-waits {} us (touching no ring memory) before the next",
                pace.as_micros()
            ),
        }
    }

    /// The mode nexus-logbuf runs in beside ours in this mode's table: the
    /// same one, for every mode both crates have.
    fn peer(self) -> Self {
        self
    }

    /// How the tables name nexus-logbuf beside ours in this mode: with its
    /// own mode where that differs.
    fn peer_name(self) -> String {
        if self.peer() == self {
            "nexus-logbuf".into()
        } else {
            format!("nexus-logbuf (consumer {})", self.peer().name())
        }
    }

    /// Whether a consumer thread reads the records.
    fn threaded(self) -> bool {
        self != Self::None
    }
}

/// One producer-cost run (the method of [`common::cost`]): the claim, copy
/// and commit of each record timed alone. The reader `mode` names receives
/// every record, and what it received is checked.
fn producer_cost<T: Sender, R: Receiver>(
    mut producer: T,
    consumer: R,
    mode: ConsumerMode,
    w: &Workload,
    cfg: &Config,
    clock: &Clock,
    bursts: u64,
) -> CostRun {
    let lap = (cfg.ring / RECORD_SPAN) as u64;
    let n = lap + bursts * BURST as u64;
    let start = Barrier::new(if mode.threaded() { 2 } else { 1 });
    let cpu = CpuTimes::sample(cfg.smoke);
    let began = Instant::now();
    let (tally, timings) = thread::scope(|s| {
        let start = &start;
        let mut own = Some(consumer);
        let reader = mode.threaded().then(|| {
            let mut consumer = own.take().expect("a consumer");
            s.spawn(move || {
                cfg.pin(SPSC.consumer);
                start.wait();
                consume(&mut consumer, mode, n, cfg, clock)
            })
        });
        let writer = s.spawn(move || {
            cfg.pin(SPSC.producers[0]);
            start.wait();
            let mut hot = Hot {
                producer: &mut producer,
                own,
                drained: Tally::default(),
                w,
                cfg,
            };
            let timings = send_bursts(&mut hot, clock, cfg, lap, bursts);
            (black_box(hot.drained), timings)
        });
        let (drained, timings) = writer.join().unwrap();
        let tally = reader.map_or(drained, |reader| reader.join().unwrap());
        (tally, timings)
    });
    let secs = began.elapsed().as_secs_f64();
    let foreign_cpu = cpu.and_then(|before| before.foreign_share());
    assert_eq!(
        tally,
        w.expected(n),
        "records received differ from those sent (consumer {})",
        mode.name()
    );
    CostRun::new(timings, secs, foreign_cpu)
}

/// The producer's side of [`producer_cost`]; `own` is the consumer when the
/// producer drains the ring itself (mode `none`), and `drained` what it
/// received.
struct Hot<'a, T, R> {
    producer: &'a mut T,
    own: Option<R>,
    drained: Tally,
    w: &'a Workload,
    cfg: &'a Config,
}

impl<'a, T: Sender, R: Receiver> HotSender for Hot<'a, T, R> {
    type Record = &'a [u8];

    #[inline]
    fn record(&mut self, i: u64) -> &'a [u8] {
        self.w.payload(i)
    }

    #[inline]
    fn try_send(&mut self, payload: &&'a [u8]) -> bool {
        self.producer.try_send(payload)
    }

    /// Reads every ready record if the producer is its own consumer; else
    /// leaves the ring to the consumer thread.
    #[inline]
    fn make_room(&mut self) {
        let drained = &mut self.drained;
        match self.own.as_mut() {
            Some(consumer) => while consumer.poll(|record| drained.add(record)) > 0 {},
            None => self.cfg.idle(),
        }
    }
}

/// A consumer thread's loop in [`producer_cost`]: reads until `n` records
/// have arrived, waiting after an empty poll as `mode` says.
fn consume<R: Receiver>(
    consumer: &mut R,
    mode: ConsumerMode,
    n: u64,
    cfg: &Config,
    clock: &Clock,
) -> Tally {
    let mut tally = Tally::default();
    while tally.msgs < n {
        if consumer.poll(|record| tally.add(record)) > 0 {
            continue;
        }
        match mode {
            ConsumerMode::Spin => cfg.idle(),
            ConsumerMode::Paced(pace) => clock.wait_until(clock.now() + clock.ticks(pace), cfg),
            ConsumerMode::None => unreachable!("mode none has no consumer thread"),
        }
    }
    black_box(tally)
}

/// One consumer mode's runs: our run `i` sits between the peer's runs `i`
/// and `i + 1`.
struct ModeRuns {
    mode: ConsumerMode,
    peer: Vec<CostRun>,
    ours: Vec<CostRun>,
}

/// The producer-cost scenario, over the ring size in `cfg.ring`.
struct ProducerCost<'a> {
    w: &'a Workload,
    cfg: &'a Config,
    clock: &'a Clock,
}

impl<'a> ProducerCost<'a> {
    /// Bursts per run: about `LOGRING_BENCH_RUN_MS` of pauses.
    fn bursts(&self) -> u64 {
        cost::bursts(self.cfg)
    }

    /// nexus-logbuf (the peer) and logring, read as `mode` says.
    fn contenders(&self, mode: ConsumerMode) -> [common::Contender<'a, CostRun>; 2] {
        let (w, cfg, clock) = (self.w, self.cfg, self.clock);
        [
            common::Contender::new("nexus-logbuf", move |bursts| {
                let (producer, consumer) = nexus_logbuf::queue::spsc::new(cfg.ring);
                producer_cost(producer, consumer, mode.peer(), w, cfg, clock, bursts)
            }),
            common::Contender::new("logring", move |bursts| {
                let (producer, consumer) = logring_spsc::<false>(cfg);
                producer_cost(producer, consumer, mode, w, cfg, clock, bursts)
            }),
        ]
    }

    /// Every mode in turn: a warm-up run of each contender (when measuring),
    /// then peer, ours, peer, ..., peer with `bursts` bursts each.
    fn measure(&self, bursts: u64) -> Vec<ModeRuns> {
        let pairs = if self.cfg.smoke { 1 } else { self.cfg.pairs };
        ConsumerMode::all(self.cfg)
            .into_iter()
            .map(|mode| {
                let [peer, ours] = self.contenders(mode);
                if !self.cfg.smoke {
                    (peer.run)(SMOKE_BURSTS);
                    (ours.run)(SMOKE_BURSTS);
                }
                let mut runs = ModeRuns {
                    mode,
                    peer: vec![(peer.run)(bursts)],
                    ours: Vec::new(),
                };
                for _ in 0..pairs {
                    runs.ours.push((ours.run)(bursts));
                    runs.peer.push((peer.run)(bursts));
                }
                runs
            })
            .collect()
    }

    /// p50, p99, p99.9 (medians over `runs` of each run's quantile), then the
    /// pooled samples' three, of each run's `pick` histogram.
    fn quantile_cells(
        &self,
        runs: &[&CostRun],
        pick: fn(&CostRun) -> &Histogram<u64>,
    ) -> Vec<String> {
        cost::quantile_cells(self.clock, runs, pick, &[0.50, 0.99, 0.999])
    }

    /// Median over `runs` of each run's p50 per record, in ns.
    fn p50(&self, runs: &[CostRun]) -> f64 {
        cost::median_ns(
            self.clock,
            &runs.iter().collect::<Vec<_>>(),
            |r| &r.cost,
            0.5,
        )
    }

    fn report(&self, bursts: u64, results: &[ModeRuns]) {
        let cfg = self.cfg;
        println!();
        println!(
            "== {COST_KEY}: what the producer pays per record, SPSC, bursts of {BURST} \
             64-byte payloads =="
        );
        println!(
            "   {} (mode none: the producer only)",
            describe_placement(cfg, &SPSC, ("producer", "consumer"))
        );
        println!(
            "   per mode {} pairs, {bursts} bursts of {BURST} records per run, a {} ms busy \
             pause after each burst; ring {} KiB for both",
            results[0].ours.len(),
            PAUSE.as_millis(),
            cfg.ring / 1024
        );
        println!(
            "   each run first sends {} records untimed (a lap of the ring), then pauses {} ms",
            cfg.ring / RECORD_SPAN,
            SETTLE.as_millis()
        );
        println!(
            "   each record's try_claim + copy + commit timed alone: {}",
            self.clock.describe()
        );
        println!(
            "   p50/p99/p99.9: median over runs of each run's quantile; pooled: quantiles of all \
             runs' samples together; timer pair alone: {BURST} empty timed regions after each \
             burst, both contenders' runs"
        );
        for runs in results {
            self.report_mode(runs);
        }
        let Some(floor) = results.iter().find(|r| r.mode == ConsumerMode::None) else {
            return;
        };
        let (ours_floor, peer_floor) = (self.p50(&floor.ours), self.p50(&floor.peer));
        println!();
        println!(
            "   p50 per record beside the no-consumer floor (mode none: logring {ours_floor:.0} ns, \
             nexus-logbuf {peer_floor:.0} ns):"
        );
        for runs in results.iter().filter(|r| r.mode != ConsumerMode::None) {
            let (ours, peer) = (self.p50(&runs.ours), self.p50(&runs.peer));
            println!(
                "   - {}: logring {ours:.0} ns = {:.2}x its floor ({} {peer:.0} ns = {:.2}x its \
                 floor)",
                runs.mode.name(),
                ours / ours_floor,
                runs.mode.peer_name(),
                peer / peer_floor
            );
        }
    }

    /// One mode's table and headline.
    fn report_mode(&self, runs: &ModeRuns) {
        let ratios: Vec<(f64, bool)> = runs
            .ours
            .iter()
            .zip(runs.peer.windows(2))
            .map(|(run, around)| ratio_around(self.clock, run, (&around[0], &around[1]), 0.5))
            .collect();
        println!();
        println!("   consumer {}: {}", runs.mode.name(), runs.mode.describe());
        let mut table = vec![
            [
                "",
                "p50 ns",
                "p99 ns",
                "p99.9 ns",
                "pooled ns",
                "ours/peer p50",
                "full retries",
                "flagged",
            ]
            .map(String::from)
            .to_vec(),
            [
                "contender",
                "median",
                "median",
                "median",
                "p50/p99/p99.9",
                "median (min-max)",
                "/record",
                "(max other)",
            ]
            .map(String::from)
            .to_vec(),
        ];
        let contender = |name: String, own: &[CostRun], ratio: String| {
            let mut row = vec![name];
            row.extend(self.quantile_cells(&own.iter().collect::<Vec<_>>(), |r| &r.cost));
            row.push(ratio);
            row.push(per_msg(own, |r| Some(r.full_retries)));
            row.push(flagged(own));
            row
        };
        table.push(contender(
            runs.mode.peer_name(),
            &runs.peer,
            "(peer)".into(),
        ));
        let ratio = Spread::of(ratios.iter().map(|&(r, _)| r)).show(3, "x");
        table.push(contender("logring".into(), &runs.ours, ratio));
        let every: Vec<&CostRun> = runs.peer.iter().chain(&runs.ours).collect();
        let mut timer = vec!["timer pair alone".to_string()];
        timer.extend(self.quantile_cells(&every, |r| &r.timer));
        timer.extend(["-", "-", "-"].map(String::from));
        table.push(timer);
        print_table(&table);
        print_headline(
            "logring",
            "nexus-logbuf",
            &ratios,
            "p50 per record, below 1 = ours cheaper",
        );
    }

    fn smoke_report(&self, bursts: u64, results: &[ModeRuns]) {
        let runs: usize = results.iter().map(|r| r.peer.len() + r.ours.len()).sum();
        println!(
            "{COST_KEY}, ring {} KiB: {runs} runs of {bursts} bursts of {BURST} records (after a \
             lap of {} untimed), every record checked (nexus-logbuf, logring; consumers {})",
            self.cfg.ring / 1024,
            self.cfg.ring / RECORD_SPAN,
            results
                .iter()
                .map(|r| r.mode.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

fn spsc_throughput<'a>(
    key: &'static str,
    what: &str,
    w: &'a Workload,
    cfg: &'a Config,
) -> Scenario<'a> {
    Scenario {
        key,
        title: format!("SPSC throughput, {what}"),
        kind: Kind::Throughput,
        placement: &SPSC,
        roles: ("producer", "consumer"),
        smoke_msgs: 4000,
        calibration_msgs: (1 << 27) / w.mean_len() as u64,
        contenders: vec![
            Contender::new("nexus-logbuf", |n| {
                let (producer, consumer) = nexus_logbuf::queue::spsc::new(cfg.ring);
                throughput(vec![producer], consumer, w, cfg, &SPSC, n)
            }),
            Contender::new("logring try_recv_batch", |n| {
                let (producer, consumer) = logring_spsc::<true>(cfg);
                throughput(vec![producer], consumer, w, cfg, &SPSC, n)
            }),
            Contender::new("logring try_recv", |n| {
                let (producer, consumer) = logring_spsc::<false>(cfg);
                throughput(vec![producer], consumer, w, cfg, &SPSC, n)
            }),
        ],
    }
}

fn mpsc_throughput<'a>(w: &'a Workload, cfg: &'a Config) -> Scenario<'a> {
    let producers = MPSC.producers.len();
    Scenario {
        key: "mpsc64",
        title: format!("MPSC throughput, {producers} producers, 64-byte payloads"),
        kind: Kind::Throughput,
        placement: &MPSC,
        roles: ("producer", "consumer"),
        smoke_msgs: 4000,
        calibration_msgs: 1 << 19,
        contenders: vec![
            Contender::new("nexus-logbuf", move |n| {
                let (producer, consumer) = nexus_logbuf::queue::mpsc::new(cfg.ring);
                throughput(vec![producer; producers], consumer, w, cfg, &MPSC, n)
            }),
            Contender::new("logring try_recv_batch", move |n| {
                let (producer, consumer) = logring::queue::mpsc::new(cfg.ring).expect("ring");
                let consumer = OurReader::<true>::new(consumer, cfg);
                throughput(vec![producer; producers], consumer, w, cfg, &MPSC, n)
            }),
            Contender::new("logring try_recv", move |n| {
                let (producer, consumer) = logring::queue::mpsc::new(cfg.ring).expect("ring");
                let consumer = OurReader::<false>::new(consumer, cfg);
                throughput(vec![producer; producers], consumer, w, cfg, &MPSC, n)
            }),
        ],
    }
}

fn ping_pong_latency<'a>(w: &'a Workload, cfg: &'a Config) -> Scenario<'a> {
    Scenario {
        key: "pingpong",
        title: "round trip over two SPSC rings, 64-byte payload".into(),
        kind: Kind::Latency,
        placement: &SPSC,
        roles: ("initiator", "echo"),
        smoke_msgs: 1000,
        calibration_msgs: 20_000,
        contenders: vec![
            Contender::new("nexus-logbuf", |n| {
                let there = nexus_logbuf::queue::spsc::new(cfg.ring);
                let back = nexus_logbuf::queue::spsc::new(cfg.ring);
                ping_pong(there, back, w, cfg, &SPSC, n)
            }),
            Contender::new("logring try_recv_batch", |n| {
                let (there, back) = (logring_spsc::<true>(cfg), logring_spsc::<true>(cfg));
                ping_pong(there, back, w, cfg, &SPSC, n)
            }),
            Contender::new("logring try_recv", |n| {
                let (there, back) = (logring_spsc::<false>(cfg), logring_spsc::<false>(cfg));
                ping_pong(there, back, w, cfg, &SPSC, n)
            }),
        ],
    }
}

/// The throughput and round-trip scenarios, over the ring size in `cfg.ring`.
fn scenarios<'a>(w64: &'a Workload, mixed: &'a Workload, cfg: &'a Config) -> [Scenario<'a>; 4] {
    [
        spsc_throughput("spsc64", "64-byte payloads", w64, cfg),
        spsc_throughput(
            "spsc-mixed",
            &format!(
                "payloads uniform in 8..=1024 bytes (mean {:.0})",
                mixed.mean_len()
            ),
            mixed,
            cfg,
        ),
        mpsc_throughput(w64, cfg),
        ping_pong_latency(w64, cfg),
    ]
}

fn main() {
    let mut cfg = Config::from_env();
    let w64 = Workload::fixed(64);
    let mixed = Workload::uniform(8, 1024);
    let mut keys = scenarios(&w64, &mixed, &cfg).map(|s| s.key).to_vec();
    keys.push(COST_KEY);
    if !keys.iter().any(|key| cfg.wants(key)) {
        eprintln!(
            "no scenario matches {:?}; scenarios: {}",
            cfg.filters,
            keys.join(", ")
        );
        std::process::exit(2);
    }
    let rings = cfg
        .rings
        .iter()
        .map(|ring| format!("{} KiB", ring / 1024))
        .collect::<Vec<_>>()
        .join(", then ");
    if cfg.smoke {
        println!(
            "queue bench smoke test, rings of {rings} (run `cargo bench --bench queue` to measure)"
        );
    } else {
        println!(
            "queue bench: logring vs nexus-logbuf; {} ({} usable cores)",
            cpu_model(),
            cfg.cores.len()
        );
        println!(
            "runs alternate peer/ours with the same message count (~{} ms per peer run); \
             ratios are ours over the mean of the two peer runs around it",
            (cfg.run_secs * 1000.0).round()
        );
        println!(
            "try_recv_batch limit {} records; GB/s counts payload bytes (1e9); runs where other \
             processes used over {:.0}% of all cores are flagged",
            cfg.batch,
            FOREIGN_CPU_LIMIT * 100.0
        );
        println!(
            "every scenario asked for runs with rings of {rings} (LOGRING_BENCH_RING sets one)"
        );
    }
    // Counted once, before any run.
    let clock = cfg.wants(COST_KEY).then(|| cost::calibrate(&cfg));
    for ring in cfg.rings.clone() {
        cfg.base.ring = ring;
        let cfg = &cfg;
        if !cfg.smoke {
            println!();
            println!("---- rings of {} KiB ----", ring / 1024);
        }
        for scenario in scenarios(&w64, &mixed, cfg)
            .iter()
            .filter(|s| cfg.wants(s.key))
        {
            let (n, runs) = scenario.measure(cfg);
            if cfg.smoke {
                scenario.smoke_report(cfg, n, &runs);
            } else {
                scenario.report(cfg, n, &runs);
            }
        }
        if let Some(clock) = &clock {
            let cost = ProducerCost {
                w: &w64,
                cfg,
                clock,
            };
            let bursts = cost.bursts();
            let results = cost.measure(bursts);
            if cfg.smoke {
                cost.smoke_report(bursts, &results);
            } else {
                cost.report(bursts, &results);
            }
        }
    }
}
