//! Spies on a ring file: what readers that do not consume cost the producer
//! and the consumer, and how much of the stream they see.
//!
//! Scenarios (name them as filters to run a subset; a filter matches every key
//! that contains it):
//!
//! - `spy-throughput`: an SPSC ring file with a producer thread and a
//!   consumer thread busy-polling (`try_claim`/`commit`, `try_recv_batch`),
//!   64-byte records, with 0, 1 and 3 spy threads attached (`RingSpy`, each
//!   polling `try_read` and spinning when it finds nothing). Runs alternate
//!   0, 1, 3, 0, 1, 3, ..., 0 spies, the producer sending for the same
//!   time in each (`LOGRING_BENCH_RUN_MS`); each run
//!   with spies is divided by the mean of the 0-spy runs on either side of
//!   its round. The consumer's records/s is the headline; each spy's
//!   delivered records/s, the share of the records it saw, its laps and the
//!   bytes it lost are reported beside it.
//! - `spy-rate`: one spy's delivery rate and laps when it keeps up and when
//!   it does not, alternated. A spy reads only records the consumer has not
//!   consumed yet, so it keeps up when the consumer lags behind it: the
//!   producer sends bursts of `LOGRING_BENCH_SPY_BURST` records, one burst
//!   every `LOGRING_BENCH_SPY_PAUSE_US`, and the consumer drains the ring
//!   once per pause and sleeps between drains (a shipper that wakes up now
//!   and then); the spy either polls `try_read` or waits with
//!   `read_timeout`, as `logring tail --spy` does. It races the consumer
//!   when the producer is paced and the consumer busy-polls, and falls
//!   behind when producer and consumer run at full speed.
//!
//! Placement: the producer is pinned to the first usable core and the
//! consumer to the second; spies are not pinned. With one spy, three busy
//! threads share the two cores; with three spies, five do: the spies take
//! CPU time from the producer and the consumer, which the figures include.
//! (Spies in other processes on other cores would not; these machines have
//! two.)
//!
//! Every record carries its sequence number in its first 8 bytes and a fixed
//! pattern in the rest. The consumer checks order, count and a checksum over
//! every word. Each spy checks every record it delivers: the pattern, that
//! sequence numbers follow one another (or jump forward only after a lap),
//! that positions grow (and that a record after a lap is at or past the
//! lap's end), and at the end that its own counts of records, laps and lost
//! bytes match the spy's. A run that fails panics instead of reporting a
//! figure.
//!
//! Reading the tables: `retries/msg` counts the producer's claims refused as
//! full, `polls/msg` the consumer's polls that found nothing, `empty
//! polls/record` a spy's `try_read`s that found nothing (or, for a waiting
//! spy, its `read_timeout`s that timed out). `flagged` counts runs during
//! which other processes used more than 5% of all cores' time, with the
//! worst share seen.
//!
//! A watchdog aborts a run in which the consumer receives nothing for 30 s
//! (10 s in smoke mode), naming the run.
//!
//! `cargo bench --bench spy [-- FILTER...]` measures. Without `--bench` (as
//! under `cargo test --benches`) each configuration runs once with a few
//! thousand messages, as a correctness smoke test.
//!
//! Environment: `LOGRING_BENCH_PAIRS` (rounds, default 15),
//! `LOGRING_BENCH_RUN_MS` (500, how long the producer sends in each run), `LOGRING_BENCH_RING` (ring bytes, 262144), `LOGRING_BENCH_BATCH`
//! (`try_recv_batch` limit, 64), `LOGRING_BENCH_DIR` (where ring files are
//! created; `/dev/shm` if it exists, else the temporary directory),
//! `LOGRING_BENCH_SPY_BURST` (records per burst of the paced producer, 1000),
//! `LOGRING_BENCH_SPY_PAUSE_US` (one burst every this many µs, 1000).

mod common;

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    BaseConfig, CpuTimes, FOREIGN_CPU_LIMIT, RunStats, Spread, current, env_or, flagged, per_msg,
    print_table, ratio_to, ring_dir, set_current,
};
use logring::file::{Lap, Options, RingFile, RingSpy, Spied, SpyFrom, SpyTimeoutError};
use logring::queue::{ClaimError, TryRecvError};

/// A measured run whose consumer receives nothing for this long is hung: the
/// process reports what it was running and aborts.
const STALL: Duration = Duration::from_secs(30);
/// The same in smoke mode, which must never keep a test run waiting long.
const SMOKE_STALL: Duration = Duration::from_secs(10);

/// Messages per run in smoke mode (and the least per measured run).
const SMOKE_MSGS: u64 = 4000;

/// Payload bytes of every record.
const LEN: usize = 64;

/// Placement slots (see [`BaseConfig::core_of`]): the producer and the
/// consumer. Spies have none.
const PRODUCER: usize = 0;
const CONSUMER: usize = 1;

/// Spies attached in the throughput scenario's configurations, in the order
/// each round runs them.
const SPIES: [usize; 3] = [0, 1, 3];

/// How long a waiting spy waits in one `read_timeout` before it looks at
/// whether the run is over.
const SPY_WAIT: Duration = Duration::from_millis(1);

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// The common settings, where ring files go and how the paced producer
/// sends.
struct Config {
    base: BaseConfig,
    /// Where ring files are created.
    dir: PathBuf,
    /// Records per burst of the paced producer.
    burst: u64,
    /// One burst every `pause`.
    pause: Duration,
}

common::deref_to_base!(Config);

impl Config {
    fn from_env() -> Self {
        Self {
            base: BaseConfig::from_env(None),
            dir: std::env::var_os("LOGRING_BENCH_DIR").map_or_else(ring_dir, PathBuf::from),
            burst: env_or::<u64>("LOGRING_BENCH_SPY_BURST", 1000).max(1),
            pause: Duration::from_micros(env_or::<u64>("LOGRING_BENCH_SPY_PAUSE_US", 1000)),
        }
    }

    /// How long a run may receive nothing before the watchdog aborts it.
    fn stall(&self) -> Duration {
        if self.smoke { SMOKE_STALL } else { STALL }
    }
}

// ---------------------------------------------------------------------------
// Records and what the consumer and the spies check
// ---------------------------------------------------------------------------

/// Word `k >= 1` of every record (word 0 is the sequence number).
#[inline]
fn fill_word(k: usize) -> u64 {
    0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(k as u64 + 1) ^ 0x5A5A
}

/// A record with sequence number 0; the producer patches word 0.
fn template() -> [u8; LEN] {
    let mut msg = [0u8; LEN];
    for k in 1..LEN / 8 {
        msg[8 * k..8 * k + 8].copy_from_slice(&fill_word(k).to_le_bytes());
    }
    msg
}

#[inline]
fn word(bytes: &[u8], k: usize) -> u64 {
    u64::from_le_bytes(bytes[8 * k..8 * k + 8].try_into().unwrap())
}

/// Counts bad records, keeping the first description.
#[derive(Default)]
struct Faults {
    count: u64,
    first: Option<String>,
}

impl Faults {
    #[cold]
    #[inline(never)]
    fn add(&mut self, what: String) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(what);
        }
    }

    fn check(&self, who: &str) -> Result<(), String> {
        match &self.first {
            Some(first) => Err(format!("{who}: {} bad records; first: {first}", self.count)),
            None => Ok(()),
        }
    }
}

/// What the consumer received, checked record by record.
struct Tally {
    msgs: u64,
    /// The sequence number expected next.
    next: u64,
    /// Wrapping sum of every word of every record.
    sum: u64,
    faults: Faults,
}

impl Tally {
    fn new() -> Self {
        Self {
            msgs: 0,
            next: 0,
            sum: 0,
            faults: Faults::default(),
        }
    }

    #[inline]
    fn add(&mut self, record: &[u8]) {
        self.msgs += 1;
        if record.len() != LEN {
            let what = format!("record {} is {} bytes long", self.msgs, record.len());
            self.faults.add(what);
            return;
        }
        let seq = word(record, 0);
        if seq != self.next {
            let what = format!(
                "record {}: sequence {seq}, expected {}",
                self.msgs, self.next
            );
            self.faults.add(what);
        }
        self.next = seq.wrapping_add(1);
        self.sum = (0..LEN / 8).fold(self.sum, |sum, k| sum.wrapping_add(word(record, k)));
    }

    /// Whether exactly records `0..n` arrived, in order, with the right
    /// content.
    fn verify(&self, n: u64) -> Result<(), String> {
        self.faults.check("consumer")?;
        if self.msgs != n {
            return Err(format!("consumer: received {} records of {n}", self.msgs));
        }
        let seqs = (u128::from(n) * u128::from(n.saturating_sub(1)) / 2) as u64;
        let fill = (1..LEN / 8).map(fill_word).fold(0, u64::wrapping_add);
        let expected = seqs.wrapping_add(n.wrapping_mul(fill));
        if self.sum != expected {
            return Err(format!(
                "consumer: checksum {:#x}, expected {expected:#x}: payload bytes differ from \
                 those sent",
                self.sum
            ));
        }
        Ok(())
    }
}

/// What a spy delivered, checked record by record and lap by lap.
struct SpyTally {
    records: u64,
    laps: u64,
    /// Sum of the laps' lost bytes.
    lost: u64,
    /// The last record's sequence number and position.
    last: Option<(u64, u64)>,
    /// The end of the last lap, if one came after the last record.
    lapped_to: Option<u64>,
    faults: Faults,
}

impl SpyTally {
    fn new() -> Self {
        Self {
            records: 0,
            laps: 0,
            lost: 0,
            last: None,
            lapped_to: None,
            faults: Faults::default(),
        }
    }

    /// Checks one delivered record: the pattern, its sequence number against
    /// the last one (the next, or later after a lap; 0 for the first, since
    /// the spy opened an empty ring) and its position.
    #[inline]
    fn record(&mut self, record: &[u8], position: u64) {
        self.records += 1;
        if record.len() != LEN {
            let what = format!("record {} is {} bytes long", self.records, record.len());
            self.faults.add(what);
            return;
        }
        if let Some(k) = (1..LEN / 8).find(|&k| word(record, k) != fill_word(k)) {
            let what = format!(
                "record {} at position {position}: word {k} is {:#x}, not what was committed",
                self.records,
                word(record, k)
            );
            self.faults.add(what);
        }
        let seq = word(record, 0);
        let lapped = self.lapped_to.take();
        let in_order = match (self.last, lapped) {
            (None, None) => seq == 0,
            (None, Some(to)) => position >= to,
            (Some((last, at)), None) => seq == last + 1 && position > at,
            (Some((last, _)), Some(to)) => seq > last && position >= to,
        };
        if !in_order {
            let what = format!(
                "record {}: sequence {seq} at position {position} after {:?} (sequence, \
                 position), lap to {lapped:?}",
                self.records, self.last
            );
            self.faults.add(what);
        }
        self.last = Some((seq, position));
    }

    fn lap(&mut self, lap: Lap) {
        self.laps += 1;
        self.lost += lap.lost_bytes();
        let behind = self.last.map_or(0, |(_, at)| at);
        if lap.to <= lap.from || lap.from < behind {
            let what = format!(
                "lap {} [{}, {}) after position {behind}",
                self.laps, lap.from, lap.to
            );
            self.faults.add(what);
        }
        self.lapped_to = Some(lap.to);
    }

    /// Whether every record was right and the spy's own counts match ours.
    fn verify(&self, spy: &RingSpy) -> Result<(), String> {
        self.faults.check("spy")?;
        let ours = (self.records, self.laps, self.lost);
        let its = (spy.records(), spy.laps(), spy.lost_bytes());
        if ours != its {
            return Err(format!(
                "spy: delivered {ours:?} (records, laps, lost bytes) but counts {its:?}"
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------

/// How a spy waits when nothing new is committed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Polls `try_read`, spinning between polls (yielding in smoke mode).
    Poll,
    /// Waits in `read_timeout` (spin, then sleeps of at most 1 ms).
    Sleep,
    /// Samples, as a monitor does: reads what is there (at most
    /// `SAMPLE_BURST` records), then sleeps `SAMPLE_PAUSE`. It takes little
    /// CPU, so what it costs the ends is its memory traffic, not their
    /// share of the two cores.
    Sample,
}

/// Records a sampling spy reads before it sleeps.
const SAMPLE_BURST: u64 = 1000;
/// How long a sampling spy sleeps between bursts.
const SAMPLE_PAUSE: Duration = Duration::from_millis(1);

/// How the producer sends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sending {
    /// As fast as the ring takes records.
    Full,
    /// Bursts of `burst` records, one every `pause`.
    Paced { burst: u64, pause: Duration },
}

/// How a run's producer, consumer and spies behave.
#[derive(Clone, Copy)]
struct Mode {
    /// How the producer sends.
    send: Sending,
    /// The consumer busy-polls (`None`) or drains the ring once per period,
    /// half a period after each of a paced producer's bursts, and sleeps
    /// between drains, as a shipper that wakes up now and then.
    drain_every: Option<Duration>,
    /// How the spies wait.
    wait: Wait,
    /// The ring keeps half its capacity of consumed records for spies
    /// (`Options::retain`).
    retain: bool,
}

/// Producer and consumer busy, spies sampling.
const FULL_SPEED: Mode = Mode {
    send: Sending::Full,
    drain_every: None,
    wait: Wait::Sample,
    retain: false,
};

/// What one spy did in a run.
struct SpyRun {
    records: u64,
    laps: u64,
    lost: u64,
    /// `try_read`s that found nothing (`read_timeout`s that timed out).
    polls: u64,
    /// From the common start until the spy saw that the run was over.
    secs: f64,
}

impl SpyRun {
    fn rate(&self) -> f64 {
        self.records as f64 / self.secs
    }
}

struct Run {
    msgs: u64,
    /// The consumer's time from the common start to the last record.
    secs: f64,
    /// The producer's time from the common start to its last commit.
    producer_secs: f64,
    /// The producer's claims refused as full.
    retries: u64,
    /// The consumer's polls that found nothing.
    polls: u64,
    spies: Vec<SpyRun>,
    /// Share of the machine's CPU time used by other processes during the
    /// run; `None` where `/proc` cannot tell (or in smoke mode).
    foreign_cpu: Option<f64>,
}

// `flagged` and `rate` come with `RunStats`.
common::impl_run_stats!(Run);

/// A ring file under a unique name in the configured directory, removed
/// when dropped (or as soon as every end and spy has it open).
struct TempRing {
    file: RingFile,
    path: PathBuf,
}

impl TempRing {
    fn create(cfg: &Config, retain: bool) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = cfg.dir.join(format!(
            "logring-spy-bench-{}-{}.ring",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let retain = if retain { cfg.ring / 2 } else { 0 };
        let file = RingFile::create(&path, Options::new(cfg.ring).retain(retain))
            .unwrap_or_else(|error| panic!("{error}"));
        Self { file, path }
    }

    /// Removes the name; the ends and spies that mapped the file keep it.
    fn unlink(&self) {
        let _ = fs::remove_file(&self.path);
    }
}

impl Drop for TempRing {
    fn drop(&mut self) {
        self.unlink();
    }
}

/// Sends records `0..n` as `send` says; returns the claims refused as full.
/// How long a run sends: `msgs` records or for `secs`, whichever ends
/// first.
#[derive(Clone, Copy)]
struct Limit {
    msgs: u64,
    secs: f64,
}

impl Limit {
    /// A few thousand records in smoke mode; `cfg.run_secs` of sending when
    /// measuring (runs with spies send fewer records in that time).
    fn of(cfg: &Config) -> Self {
        if cfg.smoke {
            Self {
                msgs: SMOKE_MSGS,
                secs: f64::INFINITY,
            }
        } else {
            Self {
                msgs: u64::MAX,
                secs: cfg.run_secs,
            }
        }
    }
}

/// Sends records `0..` as `send` says until `limit`, then stores how many
/// in `sent`; returns the claims refused as full.
fn produce(
    tx: &mut logring::queue::spsc::Producer,
    limit: Limit,
    send: Sending,
    cfg: &Config,
    sent: &AtomicU64,
) -> u64 {
    let mut msg = template();
    let mut retries = 0;
    let began = Instant::now();
    let mut seq = 0;
    while seq < limit.msgs && !(seq % 256 == 0 && began.elapsed().as_secs_f64() >= limit.secs) {
        if let Sending::Paced { burst, pause } = send {
            if seq > 0 && seq % burst == 0 {
                sleep_until(began + pause * (seq / burst) as u32);
            }
        }
        msg[..8].copy_from_slice(&seq.to_le_bytes());
        loop {
            match tx.try_claim(LEN) {
                Ok(mut claim) => {
                    claim.copy_from_slice(&msg);
                    claim.commit();
                    break;
                }
                Err(ClaimError::Full) => {
                    retries += 1;
                    cfg.idle();
                }
                Err(error) => panic!("{}: try_claim failed: {error}", current()),
            }
        }
        seq += 1;
    }
    // Release: pairs with the consumer's Acquire load; the count follows
    // every commit.
    sent.store(seq, Ordering::Release);
    retries
}

/// Sleeps until `due`, if it is still to come.
fn sleep_until(due: Instant) {
    let now = Instant::now();
    if due > now {
        thread::sleep(due - now);
    }
}

/// What the consumer saw.
struct Consumed {
    tally: Tally,
    secs: f64,
    polls: u64,
}

/// Receives records with `try_recv_batch` until it has as many as the
/// producer says it sent (`sent`), timed from `start` to the last record.
fn consume(
    rx: &mut logring::queue::Consumer,
    sent: &AtomicU64,
    cfg: &Config,
    progress: &AtomicU64,
    start: &Barrier,
    drain_every: Option<Duration>,
) -> Consumed {
    let mut tally = Tally::new();
    let mut polls = 0u64;
    start.wait();
    let began = Instant::now();
    let mut last = 0.0;
    let mut drains = 0u32;
    loop {
        match rx.try_recv_batch(cfg.batch, |record| tally.add(&record)) {
            Ok(_) => {
                progress.store(tally.msgs, Ordering::Relaxed);
                last = began.elapsed().as_secs_f64();
            }
            Err(TryRecvError::Empty) => {
                // Acquire: pairs with the producer's Release store of its
                // count, made after its last commit.
                if tally.msgs >= sent.load(Ordering::Acquire) {
                    break;
                }
                polls += 1;
                match drain_every {
                    // Half a period after each burst of a paced producer
                    // (which sends at whole periods).
                    Some(period) => {
                        sleep_until(began + period * drains + period / 2);
                        drains += 1;
                    }
                    None => cfg.idle(),
                }
            }
            Err(error) => panic!("{}: consumer: {error}", current()),
        }
    }
    Consumed {
        tally,
        secs: last,
        polls,
    }
}

/// A spy's side of a run: reads from `start` until it finds nothing new
/// after `over` is set (the producer and the consumer are done), checking
/// everything it delivers.
fn watch(
    spy: &mut RingSpy,
    wait: Wait,
    cfg: &Config,
    start: &Barrier,
    over: &AtomicBool,
) -> SpyRun {
    let mut tally = SpyTally::new();
    let mut polls = 0u64;
    start.wait();
    let began = Instant::now();
    loop {
        let nothing = match wait {
            Wait::Poll => match spy.try_read() {
                Ok(Spied::Record(record)) => {
                    tally.record(&record, record.position());
                    false
                }
                Ok(Spied::Lapped(lap)) => {
                    tally.lap(lap);
                    false
                }
                Err(TryRecvError::Empty) => true,
                Err(error) => panic!("{}: spy: {error}", current()),
            },
            Wait::Sample => {
                let mut read = 0;
                while read < SAMPLE_BURST {
                    match spy.try_read() {
                        Ok(Spied::Record(record)) => tally.record(&record, record.position()),
                        Ok(Spied::Lapped(lap)) => tally.lap(lap),
                        Err(TryRecvError::Empty) => break,
                        Err(error) => panic!("{}: spy: {error}", current()),
                    }
                    read += 1;
                }
                if read < SAMPLE_BURST {
                    if over.load(Ordering::Acquire) {
                        break;
                    }
                    polls += 1;
                }
                thread::sleep(SAMPLE_PAUSE);
                false
            }
            Wait::Sleep => match spy.read_timeout(SPY_WAIT) {
                Ok(Spied::Record(record)) => {
                    tally.record(&record, record.position());
                    false
                }
                Ok(Spied::Lapped(lap)) => {
                    tally.lap(lap);
                    false
                }
                Err(SpyTimeoutError::Timeout) => true,
                Err(error) => panic!("{}: spy: {error}", current()),
            },
        };
        if nothing {
            // Acquire: pairs with the Release store made once the consumer
            // had every record, so nothing is left for the spy to see.
            if over.load(Ordering::Acquire) {
                break;
            }
            polls += 1;
            if wait == Wait::Poll {
                cfg.idle();
            }
        }
    }
    let secs = began.elapsed().as_secs_f64();
    if let Err(error) = tally.verify(spy) {
        panic!("{}: {error}", current());
    }
    SpyRun {
        records: tally.records,
        laps: tally.laps,
        lost: tally.lost,
        polls,
        secs,
    }
}

/// Watches a run's progress (records received) until `done` disconnects;
/// reports and aborts the process if nothing arrives for `stall`.
fn watchdog(progress: &AtomicU64, done: &mpsc::Receiver<()>, stall: Duration) {
    let (mut seen, mut since) = (0, Instant::now());
    loop {
        match done.recv_timeout(Duration::from_millis(100)) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let now = progress.load(Ordering::Relaxed);
        if now != seen {
            (seen, since) = (now, Instant::now());
        } else if since.elapsed() > stall {
            eprintln!(
                "HANG: {}: nothing received for {} s; {now} received",
                current(),
                stall.as_secs()
            );
            std::process::abort();
        }
    }
}

/// One run: a fresh ring file, its producer and consumer, and `spies` spies
/// that opened it before the start; records sent as `mode` says until
/// `limit`.
fn run(cfg: &Config, limit: Limit, spies: usize, mode: Mode) -> Run {
    let ring = TempRing::create(cfg, mode.retain);
    let mut tx = ring.file.spsc_producer().unwrap_or_else(|e| panic!("{e}"));
    let mut rx = ring.file.consumer().unwrap_or_else(|e| panic!("{e}"));
    let mut spied: Vec<RingSpy> = (0..spies)
        .map(|_| RingSpy::open(&ring.path, SpyFrom::Oldest).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    ring.unlink();
    let start = Barrier::new(2 + spies);
    let over = AtomicBool::new(false);
    let progress = AtomicU64::new(0);
    let sent = AtomicU64::new(u64::MAX);
    let cpu = CpuTimes::sample(cfg.smoke);
    let (consumed, (retries, producer_secs), spy_runs) = thread::scope(|s| {
        let (start, over, progress, sent) = (&start, &over, &progress, &sent);
        let (done, watched) = mpsc::channel::<()>();
        let watchdog = s.spawn(move || watchdog(progress, &watched, cfg.stall()));
        let watchers: Vec<_> = spied
            .iter_mut()
            .map(|spy| s.spawn(move || watch(spy, mode.wait, cfg, start, over)))
            .collect();
        let producer = s.spawn(move || {
            cfg.pin(PRODUCER);
            start.wait();
            let began = Instant::now();
            let retries = produce(&mut tx, limit, mode.send, cfg, sent);
            (retries, began.elapsed().as_secs_f64())
        });
        let consumer = s.spawn(move || {
            cfg.pin(CONSUMER);
            consume(&mut rx, sent, cfg, progress, start, mode.drain_every)
        });
        let sent = producer.join().unwrap();
        let consumed = consumer.join().unwrap();
        // Release: pairs with the spies' Acquire loads; every record is
        // committed and consumed by now.
        over.store(true, Ordering::Release);
        let spy_runs: Vec<SpyRun> = watchers.into_iter().map(|w| w.join().unwrap()).collect();
        drop(done);
        watchdog.join().unwrap();
        (consumed, sent, spy_runs)
    });
    let foreign_cpu = cpu.and_then(CpuTimes::foreign_share);
    let n = sent.into_inner();
    if let Err(error) = consumed.tally.verify(n) {
        panic!("{}: {error}", current());
    }
    assert_eq!(
        ring.file.skipped_claims(),
        0,
        "{}: the consumer skipped a live producer's claim",
        current()
    );
    Run {
        msgs: n,
        secs: consumed.secs,
        producer_secs,
        retries,
        polls: consumed.polls,
        spies: spy_runs,
        foreign_cpu,
    }
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

/// `median (min-max) over k rounds`, and the same over the clean rounds if
/// some were flagged.
fn headline(ratios: &[(f64, bool)]) -> String {
    let all = Spread::of(ratios.iter().map(|&(r, _)| r));
    let mut text = format!("{} over {} rounds", all.show(3, "x"), ratios.len());
    let clean: Vec<f64> = ratios.iter().filter(|c| c.1).map(|c| c.0).collect();
    if clean.is_empty() {
        text += ", every round flagged";
    } else if clean.len() < ratios.len() {
        let spread = Spread::of(clean.iter().copied());
        text += &format!(" ({} clean rounds: {})", clean.len(), spread.show(3, "x"));
    }
    text
}

fn placement(cfg: &Config) -> String {
    match (cfg.core_of(PRODUCER), cfg.core_of(CONSUMER)) {
        (Some(a), Some(b)) => format!(
            "producer thread pinned to core {a}, consumer thread to core {b}; spy threads \
             unpinned",
            a = a.id,
            b = b.id
        ),
        _ => "threads not pinned (fewer than 2 usable cores)".into(),
    }
}

/// `median (min-max)` of `at` over `runs`, with `digits` decimals.
fn spread_of<R>(runs: &[R], at: impl Fn(&R) -> f64, digits: usize) -> String {
    Spread::of(runs.iter().map(at)).show(digits, "")
}

/// Rows for each spy of `runs` (every run has `spies` of them).
fn spy_rows(label: &str, runs: &[Run], spies: usize, table: &mut Vec<Vec<String>>) {
    for k in 0..spies {
        let own: Vec<&SpyRun> = runs.iter().map(|r| &r.spies[k]).collect();
        let lapped = own.iter().any(|s| s.laps > 0);
        table.push(vec![
            label.to_string(),
            format!("spy {}", k + 1),
            spread_of(&own, |s| s.rate() / 1e6, 2),
            spread_of(
                &own.iter()
                    .zip(runs)
                    .map(|(s, r)| (s.records, r.msgs))
                    .collect::<Vec<_>>(),
                |&(got, sent)| got as f64 / sent as f64 * 100.0,
                1,
            ),
            spread_of(&own, |s| s.laps as f64, 0),
            if lapped {
                let per_lap = own
                    .iter()
                    .filter(|s| s.laps > 0)
                    .map(|s| s.lost as f64 / s.laps as f64 / 1024.0);
                format!("{:.1}", Spread::of(per_lap).median)
            } else {
                "-".into()
            },
            format!(
                "{:.3}",
                Spread::of(own.iter().map(|s| s.polls as f64 / s.records.max(1) as f64)).median
            ),
        ]);
    }
}

fn spy_table_heading() -> Vec<String> {
    vec![
        "run".to_string(),
        "spy".into(),
        "delivered Mrec/s median (min-max)".into(),
        "% of records median (min-max)".into(),
        "laps/run median (min-max)".into(),
        "KiB lost/lap median".into(),
        "empty polls/record".into(),
    ]
}

/// The throughput scenario's runs: `zero[i]` and `zero[i + 1]` are the
/// 0-spy runs on either side of round `i`'s runs with 1 and 3 spies.
struct Rounds {
    zero: Vec<Run>,
    one: Vec<Run>,
    three: Vec<Run>,
}

fn spy_throughput(cfg: &Config) {
    let key = "spy-throughput";
    let rounds = if cfg.smoke { 1 } else { cfg.pairs };
    let go = |spies: usize| {
        set_current(format!("{key} / {spies} spies"));
        run(cfg, Limit::of(cfg), spies, FULL_SPEED)
    };
    if !cfg.smoke {
        // A warm-up of every configuration.
        for spies in SPIES {
            go(spies);
        }
    }
    let mut m = Rounds {
        zero: vec![go(0)],
        one: Vec::new(),
        three: Vec::new(),
    };
    for _ in 0..rounds {
        for spies in SPIES {
            let r = go(spies);
            match spies {
                0 => m.zero.push(r),
                1 => m.one.push(r),
                _ => m.three.push(r),
            }
        }
    }
    if cfg.smoke {
        let seen: Vec<String> = m
            .one
            .iter()
            .chain(&m.three)
            .flat_map(|r| &r.spies)
            .map(|s| format!("{} records/{} laps", s.records, s.laps))
            .collect();
        println!(
            "{key}: {} runs with 0, {} with 1 and {} with 3 spies, {SMOKE_MSGS} messages each, \
             every record checked (consumer and spies); spies saw {}",
            m.zero.len(),
            m.one.len(),
            m.three.len(),
            seen.join(", ")
        );
        return;
    }
    report_throughput(cfg, key, &m);
}

fn report_throughput(cfg: &Config, key: &str, m: &Rounds) {
    let ratios = |runs: &[Run]| -> Vec<(f64, bool)> {
        runs.iter()
            .enumerate()
            .map(|(i, r)| ratio_to(r, (&m.zero[i], &m.zero[i + 1]), |r: &Run| r.rate()))
            .collect()
    };
    let (one, three) = (ratios(&m.one), ratios(&m.three));
    println!();
    println!(
        "### {key}: SPSC ring file, 64-byte records, busy-polling (try_claim/commit + \
         try_recv_batch), with 0, 1 and 3 sampling spies"
    );
    println!();
    println!("- {}", placement(cfg));
    println!(
        "- a sampling spy reads what is there (at most {SAMPLE_BURST} records with try_read), \
         then sleeps {} ms, as a monitor does: it takes little CPU, so what it costs the ends \
         is its memory traffic (it reads the lines the producer writes and the consumer reads \
         and zeroes, and the consumer's mark) rather than their share of the two cores. At \
         this rate the consumer passes a sleeping spy, which resumes at the consumer's mark, \
         in the middle of the ends' lines",
        SAMPLE_PAUSE.as_millis()
    );
    println!(
        "- {} rounds of 0, 1, 3 spies and a last 0-spy run; the producer sends for {} ms per \
         run, every configuration alike; ring {} KiB; each spy opened the ring before the start \
         (SpyFrom::Oldest)",
        m.one.len(),
        (cfg.run_secs * 1000.0).round(),
        cfg.ring / 1024
    );
    println!();
    let mut table = vec![vec![
        "spies".to_string(),
        "consumer Mrec/s median (min-max)".into(),
        "/ 0 spies median (min-max)".into(),
        "producer Mrec/s median".into(),
        "retries/msg".into(),
        "polls/msg".into(),
        "flagged (max other)".into(),
    ]];
    let row = |name: &str, own: &[Run], ratio: String| {
        vec![
            name.to_string(),
            spread_of(own, |r| r.rate() / 1e6, 2),
            ratio,
            format!(
                "{:.2}",
                Spread::of(own.iter().map(|r| r.msgs as f64 / r.producer_secs / 1e6)).median
            ),
            per_msg(own, |r| Some(r.retries)),
            per_msg(own, |r| Some(r.polls)),
            flagged(own),
        ]
    };
    let show = |ratios: &[(f64, bool)]| Spread::of(ratios.iter().map(|&(r, _)| r)).show(3, "x");
    table.push(row("0 (reference)", &m.zero, "1".into()));
    table.push(row("1", &m.one, show(&one)));
    table.push(row("3", &m.three, show(&three)));
    print_table(&table);
    println!();
    let mut spies = vec![spy_table_heading()];
    spy_rows("1 spy", &m.one, 1, &mut spies);
    spy_rows("3 spies", &m.three, 3, &mut spies);
    print_table(&spies);
    println!();
    println!(
        "- headline: consumer records/s with 1 spy / without = {}; with 3 spies / without = {} \
         (each run over the mean of the 0-spy runs on either side of its round)",
        headline(&one),
        headline(&three)
    );
}

/// The spy-rate scenario's modes, in the order each round runs them: a
/// name, whether the producer is paced, whether the consumer drains once
/// per pause (rather than busy-polling), and how the spy waits.
const RATE_MODES: [(&str, bool, bool, Wait, bool); 5] = [
    (
        "keeps up: paced, busy consumer, retention, polling spy",
        true,
        false,
        Wait::Poll,
        true,
    ),
    (
        "keeps up: paced, busy consumer, retention, waiting spy",
        true,
        false,
        Wait::Sleep,
        true,
    ),
    (
        "keeps up: paced, consumer drains per pause, polling spy",
        true,
        true,
        Wait::Poll,
        false,
    ),
    (
        "races the consumer: paced, busy consumer, no retention, polling spy",
        true,
        false,
        Wait::Poll,
        false,
    ),
    (
        "falls behind: full speed, retention, polling spy",
        false,
        false,
        Wait::Poll,
        true,
    ),
];

const KEEPS_UP: usize = 0;
const FALLS_BEHIND: usize = 4;

fn spy_rate(cfg: &Config) {
    let key = "spy-rate";
    let rounds = if cfg.smoke { 1 } else { cfg.pairs };
    let paced = Sending::Paced {
        burst: cfg.burst,
        pause: cfg.pause,
    };
    let go = |(name, is_paced, drains, wait, retain): (&str, bool, bool, Wait, bool)| {
        let send = if is_paced { paced } else { Sending::Full };
        let mode = Mode {
            send,
            drain_every: drains.then_some(cfg.pause),
            wait,
            retain,
        };
        set_current(format!("{key} / {name}"));
        run(cfg, Limit::of(cfg), 1, mode)
    };
    if !cfg.smoke {
        for mode in RATE_MODES {
            go(mode);
        }
    }
    let mut runs: Vec<Vec<Run>> = RATE_MODES.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for (k, mode) in RATE_MODES.into_iter().enumerate() {
            runs[k].push(go(mode));
        }
    }
    if cfg.smoke {
        let seen: Vec<String> = runs
            .iter()
            .flatten()
            .flat_map(|r| &r.spies)
            .map(|s| format!("{} records/{} laps", s.records, s.laps))
            .collect();
        println!(
            "{key}: {} rounds of {} modes, every record checked; the spy saw {}",
            rounds,
            RATE_MODES.len(),
            seen.join(", ")
        );
        return;
    }
    println!();
    println!("### {key}: one spy's delivery rate and laps, keeping up and falling behind");
    println!();
    println!("- {}", placement(cfg));
    println!(
        "- paced: bursts of {} records, one every {} µs; the producer sends for {} ms per run; \
         ring {} KiB; {rounds} rounds of the {} modes, alternated",
        cfg.burst,
        cfg.pause.as_micros(),
        (cfg.run_secs * 1000.0).round(),
        cfg.ring / 1024,
        RATE_MODES.len()
    );
    println!(
        "- a spy reads what the consumer has not consumed yet, and what a ring with retention \
         keeps of what it consumed (here half the ring): without retention it keeps up only \
         when the consumer lags behind it (a consumer that drains once per pause) and races a \
         busy-polling consumer; a waiting spy (read_timeout) sleeps up to 1 ms between looks"
    );
    println!();
    let mut table = vec![vec![
        "mode".to_string(),
        "consumer Mrec/s median (min-max)".into(),
        "retries/msg".into(),
        "polls/msg".into(),
        "flagged (max other)".into(),
    ]];
    for ((name, ..), own) in RATE_MODES.iter().zip(&runs) {
        table.push(vec![
            name.to_string(),
            spread_of(own, |r| r.rate() / 1e6, 2),
            per_msg(own, |r| Some(r.retries)),
            per_msg(own, |r| Some(r.polls)),
            flagged(own),
        ]);
    }
    print_table(&table);
    println!();
    let mut spies = vec![spy_table_heading()];
    for ((name, ..), own) in RATE_MODES.iter().zip(&runs) {
        spy_rows(name, own, 1, &mut spies);
    }
    print_table(&spies);
    println!();
    let at = |k: usize| spread_of(&runs[k], |r| r.spies[0].rate() / 1e6, 2);
    let laps = |k: usize| spread_of(&runs[k], |r| r.spies[0].laps as f64, 0);
    println!(
        "- headline: a polling spy delivers {} Mrec/s with {} laps/run when it keeps up, {} \
         Mrec/s with {} laps/run at full speed",
        at(KEEPS_UP),
        laps(KEEPS_UP),
        at(FALLS_BEHIND),
        laps(FALLS_BEHIND)
    );
}

// ---------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------

fn print_header(cfg: &Config) {
    common::print_title_and_machine(
        "spy bench: readers that do not consume, beside the consumer",
        cfg,
    );
    println!("- command: `{}`", common::command("spy", cfg));
    println!(
        "- {} rounds per scenario, ~{} ms per 0-spy run; ring {} KiB; try_recv_batch limit {} \
         records; ring files in {}",
        cfg.pairs,
        (cfg.run_secs * 1000.0).round(),
        cfg.ring / 1024,
        cfg.batch,
        cfg.dir.display()
    );
    println!(
        "- runs during which other processes used over {:.0}% of all cores are flagged",
        FOREIGN_CPU_LIMIT * 100.0
    );
}

const SCENARIOS: [&str; 2] = ["spy-throughput", "spy-rate"];

fn main() {
    if !cfg!(target_os = "linux") {
        println!("spy bench: ring files need Linux; nothing to run");
        return;
    }
    let cfg = Config::from_env();
    let chosen: Vec<&str> = SCENARIOS.into_iter().filter(|s| cfg.wants(s)).collect();
    if chosen.is_empty() {
        eprintln!(
            "no scenario matches {:?}; scenarios: {}",
            cfg.filters,
            SCENARIOS.join(", ")
        );
        std::process::exit(2);
    }
    if cfg.smoke {
        println!("spy bench smoke test (run `cargo bench --bench spy` to measure)");
    } else {
        print_header(&cfg);
    }
    let began = Instant::now();
    for scenario in chosen {
        match scenario {
            "spy-throughput" => spy_throughput(&cfg),
            _ => spy_rate(&cfg),
        }
    }
    println!();
    println!("(took {:.1} s)", began.elapsed().as_secs_f64());
}
