//! Ring files beside heap rings: the same queue and channel code with the
//! producer in another process, alternated with the producer in another
//! thread.
//!
//! Scenarios (name them as filters to run a subset; a filter matches every key
//! that contains it):
//!
//! - `spsc-throughput-64`, `spsc-throughput-256`: SPSC queue throughput with
//!   64- and 256-byte records, producer and consumer busy-polling
//!   (`try_claim`/`commit`, `try_recv_batch`). In-process: a heap ring
//!   (`queue::spsc::new`), producer and consumer threads. Cross-process: a
//!   ring file created by the bench process, which consumes; the producer is
//!   a child process.
//! - `round-trip`: ping-pong over two SPSC rings, 64-byte records: the
//!   initiator sends a record and busy-polls for its echo. In-process the
//!   echo is a thread over two heap rings; cross-process a child process over
//!   two ring files.
//! - `channel-throughput`: the SPSC channel (`claim` + `recv_batch`), 64-byte
//!   records: a heap channel between two threads, and a ring file's
//!   `spsc_sender` in a child process with its `receiver` in the bench
//!   process.
//!
//! The child process is this binary, re-executed with the environment
//! variable `LOGRING_BENCH_FILE_ROLE` naming its role. It opens the ring
//! files, attaches its ends, pins itself, prints `ready` and waits for one
//! byte on its stdin; the bench process then starts the clock and sends that
//! byte. (In-process, a barrier stands for the byte.) The clock stops when
//! the consumer has every record. Process start-up and the creation and
//! mapping of the files are outside the timed part. The child prints `done`
//! with its counts when it has sent everything, and exits when its stdin
//! reaches end of file: when the bench process closes it after the run, or
//! dies.
//!
//! Every record carries its sequence number in its first 8 bytes and a fixed
//! pattern in the rest. The consumer reads every word and checks order,
//! count and a checksum; a run that fails panics instead of reporting a
//! figure.
//!
//! Method: runs alternate in-process, cross-process, in-process, ...,
//! in-process, all with the same message count (sized so that an
//! in-process run takes about `LOGRING_BENCH_RUN_MS`). Each cross-process
//! run is divided by the mean of the in-process runs on either side; the
//! median of those ratios over the pairs is reported with its range. The
//! producer (or initiator) is pinned to the first usable core and the
//! consumer (or echo) to the second, whether they are threads or processes.
//! Runs during which other processes used the CPU are flagged; the child's
//! CPU time counts as the bench's own.
//!
//! Reading the tables: `retries/msg` counts the producer's claims refused as
//! full (for the channel, `claim`s that returned `Full` after their spin
//! budget), `polls/msg` the consumer's (or initiator's) polls that found
//! nothing, `rx sleeps/msg` the consuming thread's voluntary context
//! switches. `flagged` counts runs during which other processes used more
//! than 5% of all cores' time, with the worst share seen.
//!
//! A watchdog aborts a run in which nothing is received for 30 s (10 s in
//! smoke mode) or whose child process exits early, naming the run.
//!
//! `cargo bench --bench file [-- FILTER...]` measures. Without `--bench`
//! (as under `cargo test --benches`) every scenario runs in-process,
//! cross-process, in-process with a few thousand messages each, as a
//! correctness smoke test.
//!
//! Environment: `LOGRING_BENCH_PAIRS` (default 15), `LOGRING_BENCH_RUN_MS`
//! (500), `LOGRING_BENCH_RING` (ring bytes, 262144), `LOGRING_BENCH_BATCH`
//! (`try_recv_batch`/`recv_batch` limit, 64), `LOGRING_BENCH_DIR` (where ring
//! files are created; `/dev/shm` if it exists, else the temporary
//! directory).

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    BaseConfig, CpuTimes, FOREIGN_CPU_LIMIT, RunStats, Spread, current, flagged, per_msg,
    print_table, ring_dir, set_current, voluntary_switches,
};
use core_affinity::CoreId;
use hdrhistogram::Histogram;
use logring::channel::SendError;
use logring::file::{Options, RingFile};
use logring::queue::{ClaimError, TryRecvError};

/// A measured run that receives nothing for this long is hung: the process
/// reports what it was running and aborts.
const STALL: Duration = Duration::from_secs(30);
/// The same in smoke mode, which must never keep a test run waiting long.
const SMOKE_STALL: Duration = Duration::from_secs(10);

/// Messages per throughput run in smoke mode (and the least per measured run).
const SMOKE_MSGS: u64 = 4000;
/// Round trips per run in smoke mode.
const SMOKE_ROUND_TRIPS: u64 = 1000;

/// Set in a child process's environment: the role it plays.
const ROLE_VAR: &str = "LOGRING_BENCH_FILE_ROLE";

/// Placement slots (see [`BaseConfig::core_of`]): the producer (or initiator)
/// and the consumer (or echo).
const PRODUCER: usize = 0;
const CONSUMER: usize = 1;

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// The common settings (smoke mode: one tiny run each way, no timing
/// figures), and where ring files go.
struct Config {
    base: BaseConfig,
    /// Where ring files are created.
    dir: PathBuf,
}

common::deref_to_base!(Config);

impl Config {
    /// The common settings, then `LOGRING_BENCH_DIR`.
    fn from_env() -> Self {
        Self {
            base: BaseConfig::from_env(None),
            dir: std::env::var_os("LOGRING_BENCH_DIR").map_or_else(ring_dir, PathBuf::from),
        }
    }

    /// How polling ends behave in this process and in its children.
    fn pace(&self) -> Pace {
        Pace {
            yield_when_idle: self.smoke,
            batch: self.batch,
        }
    }

    /// How long a run may receive nothing before the watchdog aborts it.
    fn stall(&self) -> Duration {
        if self.smoke { SMOKE_STALL } else { STALL }
    }
}

/// How a polling end behaves, in the bench process and in a child alike.
#[derive(Clone, Copy)]
struct Pace {
    /// Yield when there is nothing to do (smoke mode, which must finish fast
    /// anywhere) rather than spin (measuring).
    yield_when_idle: bool,
    /// `try_recv_batch`/`recv_batch` limit.
    batch: usize,
}

impl Pace {
    /// See [`common::idle`].
    #[inline]
    fn idle(self) {
        common::idle(self.yield_when_idle);
    }
}

// ---------------------------------------------------------------------------
// Records and what the consumer checks
// ---------------------------------------------------------------------------

/// Word `k >= 1` of every record (word 0 is the sequence number).
#[inline]
fn fill_word(k: usize) -> u64 {
    0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(k as u64 + 1) ^ 0x5A5A
}

/// A record of `L` bytes with sequence number 0; the sender patches word 0.
fn template<const L: usize>() -> [u8; L] {
    const { assert!(L >= 8 && L % 8 == 0) };
    let mut msg = [0u8; L];
    for k in 1..L / 8 {
        msg[8 * k..8 * k + 8].copy_from_slice(&fill_word(k).to_le_bytes());
    }
    msg
}

#[inline]
fn word(bytes: &[u8], k: usize) -> u64 {
    u64::from_le_bytes(bytes[8 * k..8 * k + 8].try_into().unwrap())
}

/// What a consumer received, checked record by record.
struct Tally<const L: usize> {
    msgs: u64,
    /// The sequence number expected next.
    next: u64,
    /// Wrapping sum of every word of every record.
    sum: u64,
    faults: u64,
    first_fault: Option<String>,
}

impl<const L: usize> Tally<L> {
    fn new() -> Self {
        Self {
            msgs: 0,
            next: 0,
            sum: 0,
            faults: 0,
            first_fault: None,
        }
    }

    /// Reads and checks one record.
    #[inline]
    fn add(&mut self, record: &[u8]) {
        self.msgs += 1;
        let Ok(msg) = <&[u8; L]>::try_from(record) else {
            self.fault(format!(
                "record {} is {} bytes long, not {L}",
                self.msgs,
                record.len()
            ));
            return;
        };
        let seq = word(msg, 0);
        if seq != self.next {
            self.fault(format!(
                "record {}: sequence {seq}, expected {}",
                self.msgs, self.next
            ));
        }
        self.next = seq.wrapping_add(1);
        self.sum = (0..L / 8).fold(self.sum, |sum, k| sum.wrapping_add(word(msg, k)));
    }

    #[cold]
    #[inline(never)]
    fn fault(&mut self, what: String) {
        self.faults += 1;
        if self.first_fault.is_none() {
            self.first_fault = Some(what);
        }
    }

    /// Whether exactly records `0..n` arrived, in order, with the right
    /// content.
    fn verify(&self, n: u64) -> Result<(), String> {
        if let Some(first) = &self.first_fault {
            return Err(format!("{} bad records; first: {first}", self.faults));
        }
        if self.msgs != n {
            return Err(format!("received {} records of {n}", self.msgs));
        }
        let seqs = (u128::from(n) * u128::from(n.saturating_sub(1)) / 2) as u64;
        let fill = (1..L / 8).map(fill_word).fold(0, u64::wrapping_add);
        let expected = seqs.wrapping_add(n.wrapping_mul(fill));
        if self.sum != expected {
            return Err(format!(
                "checksum {:#x}, expected {expected:#x}: payload bytes differ from those sent",
                self.sum
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The ends, as the benchmark drives them
// ---------------------------------------------------------------------------

/// A producing end.
trait Tx {
    /// Sends `msg` as one record, retrying while the ring is full; returns
    /// how many attempts were refused.
    fn put(&mut self, msg: &[u8], pace: Pace) -> u64;
}

impl Tx for logring::queue::spsc::Producer {
    #[inline]
    fn put(&mut self, msg: &[u8], pace: Pace) -> u64 {
        let mut retries = 0;
        loop {
            match self.try_claim(msg.len()) {
                Ok(mut claim) => {
                    claim.copy_from_slice(msg);
                    claim.commit();
                    return retries;
                }
                Err(ClaimError::Full) => {
                    retries += 1;
                    pace.idle();
                }
                Err(error) => panic!("try_claim failed: {error}"),
            }
        }
    }
}

/// The channel's `claim` spins for its budget before it returns `Full`; a
/// `Full` is counted and the claim retried.
impl Tx for logring::channel::spsc::Sender {
    #[inline]
    fn put(&mut self, msg: &[u8], _: Pace) -> u64 {
        let mut retries = 0;
        loop {
            match self.claim(msg.len()) {
                Ok(mut claim) => {
                    claim.copy_from_slice(msg);
                    claim.commit();
                    return retries;
                }
                Err(SendError::Full) => retries += 1,
                Err(error) => panic!("send failed: {error}"),
            }
        }
    }
}

/// What a receiving end's `take` did.
enum Got {
    Records,
    /// Nothing was ready (polling receivers only).
    Empty,
    /// Every sender is gone and everything was received.
    Closed,
}

/// A consuming end.
trait Rx {
    /// Whether `take` polls (`Empty` when nothing is ready) rather than waits.
    const POLLS: bool;

    /// Hands one or more records to `f`, in order.
    fn take(&mut self, f: impl FnMut(&[u8])) -> Got;
}

/// The queue's consumer, polling with `try_recv_batch`.
struct RawRx {
    consumer: logring::queue::Consumer,
    limit: usize,
}

impl RawRx {
    fn new(consumer: logring::queue::Consumer, pace: Pace) -> Self {
        Self {
            consumer,
            limit: pace.batch,
        }
    }
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

/// The channel's receiver, waiting with `recv_batch`.
struct ChannelRx {
    rx: logring::channel::Receiver,
    limit: usize,
}

impl ChannelRx {
    fn new(rx: logring::channel::Receiver, pace: Pace) -> Self {
        Self {
            rx,
            limit: pace.batch,
        }
    }
}

impl Rx for ChannelRx {
    const POLLS: bool = false;

    #[inline]
    fn take(&mut self, mut f: impl FnMut(&[u8])) -> Got {
        match self.rx.recv_batch(self.limit, |record| f(&record)) {
            Ok(_) => Got::Records,
            Err(_) => Got::Closed,
        }
    }
}

// ---------------------------------------------------------------------------
// What each side does: the same code in a thread and in a child process
// ---------------------------------------------------------------------------

/// The producer's side of a throughput run: records `0..n`. Returns the
/// retries.
fn produce<const L: usize>(tx: &mut impl Tx, n: u64, pace: Pace) -> u64 {
    let mut msg = template::<L>();
    let mut retries = 0;
    for seq in 0..n {
        msg[..8].copy_from_slice(&seq.to_le_bytes());
        retries += tx.put(&msg, pace);
    }
    retries
}

/// What the consumer of a throughput run saw.
struct Consumed<const L: usize> {
    tally: Tally<L>,
    secs: f64,
    polls: u64,
    sleeps: Option<u64>,
}

/// The consumer's side of a throughput run: gives the start signal
/// (`start`), then times the receipt of `n` records.
fn consume<const L: usize>(
    rx: &mut impl Rx,
    n: u64,
    pace: Pace,
    progress: &AtomicU64,
    start: impl FnOnce(),
) -> Consumed<L> {
    let mut tally = Tally::new();
    let mut polls = 0u64;
    start();
    let switches = voluntary_switches();
    let began = Instant::now();
    while tally.msgs < n {
        match rx.take(|record| tally.add(record)) {
            Got::Records => progress.store(tally.msgs, Ordering::Relaxed),
            Got::Empty => {
                polls += 1;
                pace.idle();
            }
            Got::Closed => break,
        }
    }
    let secs = began.elapsed().as_secs_f64();
    let sleeps = voluntary_switches()
        .zip(switches)
        .map(|(after, before)| after - before);
    Consumed {
        tally,
        secs,
        polls,
        sleeps,
    }
}

/// What the initiator of a ping-pong run saw.
struct RoundTrips<const L: usize> {
    tally: Tally<L>,
    latency: Histogram<u64>,
    secs: f64,
    polls: u64,
    retries: u64,
}

/// The initiator: gives the start signal, then `n` times sends record `i`
/// over `there` and busy-polls `back` for its echo, timing each round trip.
fn initiate<const L: usize>(
    there: &mut impl Tx,
    back: &mut impl Rx,
    n: u64,
    pace: Pace,
    progress: &AtomicU64,
    start: impl FnOnce(),
) -> RoundTrips<L> {
    let mut msg = template::<L>();
    let mut tally = Tally::new();
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    let (mut polls, mut retries) = (0u64, 0u64);
    start();
    let began = Instant::now();
    for seq in 0..n {
        msg[..8].copy_from_slice(&seq.to_le_bytes());
        let sent = Instant::now();
        retries += there.put(&msg, pace);
        loop {
            match back.take(|record| tally.add(record)) {
                Got::Records => break,
                Got::Empty => {
                    polls += 1;
                    pace.idle();
                }
                Got::Closed => panic!("the echo's ring closed"),
            }
        }
        latency.saturating_record(sent.elapsed().as_nanos() as u64);
        progress.store(seq + 1, Ordering::Relaxed);
    }
    RoundTrips {
        tally,
        latency,
        secs: began.elapsed().as_secs_f64(),
        polls,
        retries,
    }
}

/// The echo: copies `n` records from `there` back over `back`. Returns its
/// retries and polls.
fn echo(there: &mut impl Rx, back: &mut impl Tx, n: u64, pace: Pace) -> (u64, u64) {
    let (mut echoed, mut retries, mut polls) = (0u64, 0u64, 0u64);
    while echoed < n {
        let got = there.take(|record| {
            retries += back.put(record, pace);
            echoed += 1;
        });
        match got {
            Got::Records => {}
            Got::Empty => {
                polls += 1;
                pace.idle();
            }
            Got::Closed => panic!("the initiator's ring closed"),
        }
    }
    (retries, polls)
}

// ---------------------------------------------------------------------------
// The child process
// ---------------------------------------------------------------------------

/// What a child process does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The SPSC queue producer of a throughput run.
    Producer,
    /// The SPSC channel sender of a throughput run.
    Sender,
    /// The echo of a ping-pong run.
    Echo,
}

impl Role {
    const ALL: [Role; 3] = [Role::Producer, Role::Sender, Role::Echo];

    fn name(self) -> &'static str {
        match self {
            Role::Producer => "producer",
            Role::Sender => "sender",
            Role::Echo => "echo",
        }
    }
}

/// A child's orders, passed as its command-line arguments:
/// `LEN MSGS CORE|- smoke|measure BATCH PATH...`.
struct Orders {
    role: Role,
    len: usize,
    msgs: u64,
    core: Option<usize>,
    pace: Pace,
    paths: Vec<PathBuf>,
}

impl Orders {
    fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            self.len.to_string(),
            self.msgs.to_string(),
            self.core.map_or("-".into(), |core| core.to_string()),
            if self.pace.yield_when_idle {
                "smoke"
            } else {
                "measure"
            }
            .into(),
            self.pace.batch.to_string(),
        ];
        args.extend(self.paths.iter().map(|p| p.display().to_string()));
        args
    }

    fn from_args(role: &str, args: &[String]) -> Self {
        let role = Role::ALL
            .into_iter()
            .find(|r| r.name() == role)
            .unwrap_or_else(|| panic!("{ROLE_VAR}={role:?} names no role"));
        let [len, msgs, core, mode, batch, paths @ ..] = args else {
            panic!("a child needs LEN MSGS CORE MODE BATCH PATH...; got {args:?}");
        };
        let number = |what: &str, text: &str| -> u64 {
            text.parse()
                .unwrap_or_else(|_| panic!("child {what} {text:?} is not a number"))
        };
        Self {
            role,
            len: number("record length", len) as usize,
            msgs: number("message count", msgs),
            core: (core != "-").then(|| number("core", core) as usize),
            pace: Pace {
                yield_when_idle: mode == "smoke",
                batch: number("batch", batch) as usize,
            },
            paths: paths.iter().map(PathBuf::from).collect(),
        }
    }
}

/// Set once the child has done its work: an end of file on stdin after
/// that is the normal end.
static FINISHED: AtomicBool = AtomicBool::new(false);

/// A child process's life: attach, say `ready`, wait for the start byte,
/// work, say `done`, wait for the end of stdin.
fn child_main(role: &str) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let orders = Orders::from_args(role, &args);
    // First of all, so that a bench process that dies at any point takes
    // this one with it.
    let (go, started) = mpsc::channel::<()>();
    let lifeline = thread::spawn(move || lifeline(go));
    if let Some(core) = orders.core {
        core_affinity::set_for_current(CoreId { id: core });
    }
    match orders.len {
        64 => child_work::<64>(&orders, &started, lifeline),
        256 => child_work::<256>(&orders, &started, lifeline),
        len => panic!("no child for {len}-byte records"),
    }
}

/// Reads the start byte, then waits for the end of stdin; exits the process
/// if that comes before the work is done (the bench process died).
fn lifeline(go: mpsc::Sender<()>) {
    let mut stdin = std::io::stdin().lock();
    let mut byte = [0u8; 1];
    if stdin.read_exact(&mut byte).is_ok() {
        let _ = go.send(());
    }
    drop(go);
    let _ = std::io::copy(&mut stdin, &mut std::io::sink());
    // Acquire: pairs with the Release store made when the work was done.
    if !FINISHED.load(Ordering::Acquire) {
        eprintln!("file bench child: the bench process went away; exiting");
        std::process::exit(3);
    }
}

fn child_work<const L: usize>(
    orders: &Orders,
    started: &mpsc::Receiver<()>,
    lifeline: thread::JoinHandle<()>,
) {
    let open = |k: usize| {
        let path = &orders.paths[k];
        RingFile::open(path).unwrap_or_else(|error| panic!("{error}"))
    };
    let ready = || {
        let mut out = std::io::stdout().lock();
        writeln!(out, "ready")
            .and_then(|()| out.flush())
            .expect("stdout");
        if started.recv().is_err() {
            std::process::exit(3);
        }
    };
    let (n, pace) = (orders.msgs, orders.pace);
    // The ends stay attached until the bench process closes our stdin.
    let done = |(retries, polls): (u64, u64)| {
        // Release: see `lifeline`.
        FINISHED.store(true, Ordering::Release);
        let mut out = std::io::stdout().lock();
        writeln!(out, "done {retries} {polls}")
            .and_then(|()| out.flush())
            .expect("stdout");
        drop(out);
        lifeline.join().expect("lifeline");
    };
    match orders.role {
        Role::Producer => {
            let ring = open(0);
            let mut tx = ring.spsc_producer().unwrap_or_else(|e| panic!("{e}"));
            ready();
            let retries = produce::<L>(&mut tx, n, pace);
            done((retries, 0));
        }
        Role::Sender => {
            let ring = open(0);
            let mut tx = ring.spsc_sender().unwrap_or_else(|e| panic!("{e}"));
            ready();
            let retries = produce::<L>(&mut tx, n, pace);
            done((retries, 0));
        }
        Role::Echo => {
            let (there, back) = (open(0), open(1));
            let mut rx = RawRx::new(there.consumer().unwrap_or_else(|e| panic!("{e}")), pace);
            let mut tx = back.spsc_producer().unwrap_or_else(|e| panic!("{e}"));
            ready();
            done(echo(&mut rx, &mut tx, n, pace));
        }
    }
}

/// The bench process's handle on a child.
struct ChildProcess {
    process: Mutex<Child>,
    pid: u32,
    role: Role,
    /// Closed (taken) when the child may exit.
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl ChildProcess {
    fn spawn(orders: &Orders) -> Self {
        let exe = std::env::current_exe().expect("the bench binary's path");
        let mut child = Command::new(exe)
            .env(ROLE_VAR, orders.role.name())
            .args(orders.to_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a child process");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("the child's stdout"));
        Self {
            pid: child.id(),
            process: Mutex::new(child),
            role: orders.role,
            stdin,
            stdout,
        }
    }

    /// Reads the child's next line, which must be `word` and numbers;
    /// returns the numbers.
    fn expect(&mut self, word: &str) -> Vec<u64> {
        let mut line = String::new();
        if matches!(self.stdout.read_line(&mut line), Ok(0) | Err(_)) {
            drop(self.stdin.take());
            let status = self.process.lock().unwrap().wait();
            panic!(
                "the {} child process ended ({status:?}) before saying {word:?}",
                self.role.name()
            );
        }
        let mut parts = line.split_whitespace();
        assert_eq!(
            parts.next(),
            Some(word),
            "unexpected line from the {} child process: {line:?}",
            self.role.name()
        );
        parts
            .map(|part| part.parse().expect("the child's counts"))
            .collect()
    }

    /// Lets the child exit (closes its stdin) and checks that it succeeded.
    fn finish(mut self) {
        drop(self.stdin.take());
        let status = self.process.lock().unwrap().wait().expect("wait for child");
        assert!(
            status.success(),
            "the {} child process failed: {status}",
            self.role.name()
        );
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        // Not finished: the run is failing; take the child down with it.
        if self.stdin.take().is_some() {
            let mut process = self.process.lock().unwrap_or_else(|e| e.into_inner());
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

/// Gives a child its start signal.
fn go(stdin: &mut ChildStdin) {
    stdin.write_all(&[1]).expect("start the child process");
}

/// A ring file under a unique name in the configured directory, removed
/// when dropped (or as soon as every process has it open).
struct TempRing {
    file: RingFile,
    path: PathBuf,
}

impl TempRing {
    fn create(cfg: &Config) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = cfg.dir.join(format!(
            "logring-bench-{}-{}.ring",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let file = RingFile::create(&path, Options::new(cfg.ring))
            .unwrap_or_else(|error| panic!("{error}"));
        Self { file, path }
    }

    /// Removes the name; the processes that mapped the file keep it.
    fn unlink(&self) {
        let _ = fs::remove_file(&self.path);
    }
}

impl Drop for TempRing {
    fn drop(&mut self) {
        self.unlink();
    }
}

// ---------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------

struct Run {
    msgs: u64,
    /// Payload bytes delivered.
    bytes: u64,
    secs: f64,
    retries: u64,
    /// Polls that found nothing, for polling receivers.
    polls: Option<u64>,
    /// The consuming thread's voluntary context switches, where `/proc`
    /// tells.
    sleeps: Option<u64>,
    /// Round-trip times in ns (ping-pong runs only).
    latency: Option<Histogram<u64>>,
    /// Share of the machine's CPU time used by other processes during the
    /// run; `None` where `/proc` cannot tell (or in smoke mode).
    foreign_cpu: Option<f64>,
}

// `flagged` and `rate` come with `RunStats`.
common::impl_run_stats!(Run);

impl Run {
    /// Quantile `q` of a ping-pong run's round trips, in ns.
    fn quantile(&self, q: f64) -> f64 {
        self.latency
            .as_ref()
            .map_or(f64::NAN, |h| h.value_at_quantile(q) as f64)
    }
}

/// CPU accounting over a run. [`CpuTimes`] counts every other process as
/// foreign, the child included; the child's own ticks are taken back out.
struct CpuWatch {
    machine: CpuTimes,
    /// The child's pid, its ticks and all cores' ticks at the start.
    child: Option<(u32, u64, u64)>,
}

impl CpuWatch {
    fn start(smoke: bool, child: Option<u32>) -> Option<Self> {
        let machine = CpuTimes::sample(smoke)?;
        let child = match child {
            Some(pid) => Some((pid, process_ticks(pid)?, total_ticks()?)),
            None => None,
        };
        Some(Self { machine, child })
    }

    fn foreign_share(self) -> Option<f64> {
        let share = self.machine.foreign_share()?;
        let Some((pid, ticks, total)) = self.child else {
            return Some(share);
        };
        let child = process_ticks(pid)?.saturating_sub(ticks);
        let total = total_ticks()?.checked_sub(total).filter(|&t| t > 0)?;
        Some((share - child as f64 / total as f64).max(0.0))
    }
}

/// User and system ticks of process `pid` so far.
fn process_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command: utime is field 14, stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// All cores' ticks so far, busy and idle, counted as [`CpuTimes`] does.
fn total_ticks() -> Option<u64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    // user nice system idle iowait irq softirq steal (guest time is in user).
    Some(
        line.split_whitespace()
            .take(8)
            .map(|f| f.parse::<u64>().unwrap_or(0))
            .sum(),
    )
}

/// Watches a run's progress (records received) until `done` disconnects;
/// reports and aborts the process if nothing arrives for `stall`, or if the
/// child exits first. (The child then sees its stdin close, and exits.)
fn watchdog(
    progress: &AtomicU64,
    n: u64,
    done: &mpsc::Receiver<()>,
    child: Option<&Mutex<Child>>,
    stall: Duration,
) {
    let (mut seen, mut since) = (0, Instant::now());
    loop {
        match done.recv_timeout(Duration::from_millis(100)) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let now = progress.load(Ordering::Relaxed);
        if let Some(child) = child {
            let exited = child.lock().unwrap_or_else(|e| e.into_inner()).try_wait();
            if let Ok(Some(status)) = exited {
                eprintln!(
                    "FAILED: {}: the child process exited ({status}) with {now} of {n} received",
                    current()
                );
                std::process::abort();
            }
        }
        if now != seen {
            (seen, since) = (now, Instant::now());
        } else if since.elapsed() > stall {
            eprintln!(
                "HANG: {}: nothing received for {} s; {now} of {n} received",
                current(),
                stall.as_secs()
            );
            std::process::abort();
        }
    }
}

fn check<const L: usize>(tally: &Tally<L>, n: u64) {
    if let Err(error) = tally.verify(n) {
        panic!("{}: {error}", current());
    }
}

/// Throughput between two threads over a heap ring (or channel).
fn throughput_in_process<const L: usize, T: Tx + Send, R: Rx + Send>(
    mut tx: T,
    mut rx: R,
    cfg: &Config,
    n: u64,
) -> Run {
    let pace = cfg.pace();
    let start = Barrier::new(2);
    let progress = AtomicU64::new(0);
    let cpu = CpuWatch::start(cfg.smoke, None);
    let (consumed, retries) = thread::scope(|s| {
        let (start, progress) = (&start, &progress);
        let (done, watched) = mpsc::channel::<()>();
        let watchdog = s.spawn(move || watchdog(progress, n, &watched, None, cfg.stall()));
        let producer = s.spawn(move || {
            cfg.pin(PRODUCER);
            start.wait();
            produce::<L>(&mut tx, n, pace)
        });
        let consumer = s.spawn(move || {
            cfg.pin(CONSUMER);
            consume::<L>(&mut rx, n, pace, progress, || {
                start.wait();
            })
        });
        let retries = producer.join().unwrap();
        let consumed = consumer.join().unwrap();
        drop(done);
        watchdog.join().unwrap();
        (consumed, retries)
    });
    let foreign_cpu = cpu.and_then(CpuWatch::foreign_share);
    check(&consumed.tally, n);
    Run {
        msgs: n,
        bytes: n * L as u64,
        secs: consumed.secs,
        retries,
        polls: R::POLLS.then_some(consumed.polls),
        sleeps: consumed.sleeps,
        latency: None,
        foreign_cpu,
    }
}

/// Throughput from a child process (`role`) into the ring file that
/// `attach` makes this process's consumer of.
fn throughput_cross_process<const L: usize, R: Rx + Send>(
    role: Role,
    attach: impl FnOnce(&RingFile) -> R,
    cfg: &Config,
    n: u64,
) -> Run {
    let pace = cfg.pace();
    let ring = TempRing::create(cfg);
    let mut rx = attach(&ring.file);
    let mut child = ChildProcess::spawn(&Orders {
        role,
        len: L,
        msgs: n,
        core: cfg.core_of(PRODUCER).map(|c| c.id),
        pace,
        paths: vec![ring.path.clone()],
    });
    child.expect("ready");
    ring.unlink();
    let cpu = CpuWatch::start(cfg.smoke, Some(child.pid));
    let progress = AtomicU64::new(0);
    let consumed = thread::scope(|s| {
        let progress = &progress;
        let process = &child.process;
        let stdin = child.stdin.as_mut().expect("the child's stdin");
        let (done, watched) = mpsc::channel::<()>();
        let watchdog = s.spawn(move || watchdog(progress, n, &watched, Some(process), cfg.stall()));
        let consumer = s.spawn(move || {
            cfg.pin(CONSUMER);
            consume::<L>(&mut rx, n, pace, progress, || go(stdin))
        });
        let consumed = consumer.join().unwrap();
        drop(done);
        watchdog.join().unwrap();
        consumed
    });
    let counts = child.expect("done");
    let foreign_cpu = cpu.and_then(CpuWatch::foreign_share);
    child.finish();
    check(&consumed.tally, n);
    assert_eq!(
        ring.file.skipped_claims(),
        0,
        "{}: the consumer skipped a live producer's claim",
        current()
    );
    Run {
        msgs: n,
        bytes: n * L as u64,
        secs: consumed.secs,
        retries: counts[0],
        polls: R::POLLS.then_some(consumed.polls),
        sleeps: consumed.sleeps,
        latency: None,
        foreign_cpu,
    }
}

fn round_trip_in_process<const L: usize>(cfg: &Config, n: u64) -> Run {
    let pace = cfg.pace();
    let (mut ping, there) = logring::queue::spsc::new(cfg.ring).expect("ring");
    let (mut back, pong) = logring::queue::spsc::new(cfg.ring).expect("ring");
    let (mut there, mut pong) = (RawRx::new(there, pace), RawRx::new(pong, pace));
    let start = Barrier::new(2);
    let progress = AtomicU64::new(0);
    let cpu = CpuWatch::start(cfg.smoke, None);
    let trips = thread::scope(|s| {
        let (start, progress) = (&start, &progress);
        let (done, watched) = mpsc::channel::<()>();
        let watchdog = s.spawn(move || watchdog(progress, n, &watched, None, cfg.stall()));
        s.spawn(move || {
            cfg.pin(CONSUMER);
            start.wait();
            echo(&mut there, &mut back, n, pace)
        });
        let initiator = s.spawn(move || {
            cfg.pin(PRODUCER);
            initiate::<L>(&mut ping, &mut pong, n, pace, progress, || {
                start.wait();
            })
        });
        let trips = initiator.join().unwrap();
        drop(done);
        watchdog.join().unwrap();
        trips
    });
    let foreign_cpu = cpu.and_then(CpuWatch::foreign_share);
    round_trip_run(trips, n, foreign_cpu)
}

fn round_trip_cross_process<const L: usize>(cfg: &Config, n: u64) -> Run {
    let pace = cfg.pace();
    let (there, back) = (TempRing::create(cfg), TempRing::create(cfg));
    let mut ping = there.file.spsc_producer().unwrap_or_else(|e| panic!("{e}"));
    let mut pong = RawRx::new(back.file.consumer().unwrap_or_else(|e| panic!("{e}")), pace);
    let mut child = ChildProcess::spawn(&Orders {
        role: Role::Echo,
        len: L,
        msgs: n,
        core: cfg.core_of(CONSUMER).map(|c| c.id),
        pace,
        paths: vec![there.path.clone(), back.path.clone()],
    });
    child.expect("ready");
    there.unlink();
    back.unlink();
    let cpu = CpuWatch::start(cfg.smoke, Some(child.pid));
    let progress = AtomicU64::new(0);
    let trips = thread::scope(|s| {
        let progress = &progress;
        let process = &child.process;
        let stdin = child.stdin.as_mut().expect("the child's stdin");
        let (done, watched) = mpsc::channel::<()>();
        let watchdog = s.spawn(move || watchdog(progress, n, &watched, Some(process), cfg.stall()));
        let initiator = s.spawn(move || {
            cfg.pin(PRODUCER);
            initiate::<L>(&mut ping, &mut pong, n, pace, progress, || go(stdin))
        });
        let trips = initiator.join().unwrap();
        drop(done);
        watchdog.join().unwrap();
        trips
    });
    child.expect("done");
    let foreign_cpu = cpu.and_then(CpuWatch::foreign_share);
    child.finish();
    for ring in [&there, &back] {
        assert_eq!(
            ring.file.skipped_claims(),
            0,
            "{}: a consumer skipped a live producer's claim",
            current()
        );
    }
    round_trip_run(trips, n, foreign_cpu)
}

fn round_trip_run<const L: usize>(trips: RoundTrips<L>, n: u64, foreign_cpu: Option<f64>) -> Run {
    check(&trips.tally, n);
    Run {
        msgs: n,
        bytes: n * L as u64,
        secs: trips.secs,
        retries: trips.retries,
        polls: Some(trips.polls),
        sleeps: None,
        latency: Some(trips.latency),
        foreign_cpu,
    }
}

// ---------------------------------------------------------------------------
// Scenarios: in-process and cross-process, alternated
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Scored by msgs/s.
    Throughput,
    /// Scored by round-trip quantiles.
    RoundTrip,
}

/// One side of a scenario: in-process or cross-process.
type Variant<'a> = common::Contender<'a, Run>;

struct Scenario<'a> {
    key: &'static str,
    title: String,
    kind: Kind,
    /// Where each side runs, for the report.
    placement: Placement,
    /// Headline target for cross-process / in-process throughput.
    target: Option<f64>,
    in_process: Variant<'a>,
    cross_process: Variant<'a>,
}

/// What one scenario measured: `refs[i]` and `refs[i + 1]` are the
/// in-process runs on either side of `cross[i]`.
struct Measured {
    n: u64,
    refs: Vec<Run>,
    cross: Vec<Run>,
}

impl Scenario<'_> {
    fn go(&self, variant: &Variant, n: u64) -> Run {
        set_current(format!(
            "{} / {} ({n} {})",
            self.key,
            variant.name,
            self.unit()
        ));
        (variant.run)(n)
    }

    fn unit(&self) -> &'static str {
        match self.kind {
            Kind::Throughput => "messages",
            Kind::RoundTrip => "round trips",
        }
    }

    fn smoke_msgs(&self) -> u64 {
        match self.kind {
            Kind::Throughput => SMOKE_MSGS,
            Kind::RoundTrip => SMOKE_ROUND_TRIPS,
        }
    }

    /// Messages for an in-process run that takes about `cfg.run_secs`
    /// (grown until a run is long enough to time, then the median rate of
    /// three runs: one may land in a fast or slow phase of the machine).
    fn size(&self, cfg: &Config) -> u64 {
        let floor = (cfg.run_secs / 5.0).max(0.02);
        let mut n = 1u64 << 12;
        let mut run = self.go(&self.in_process, n);
        while run.secs < floor && n < 1 << 34 {
            let scale = (floor * 1.5 / run.secs.max(1e-6)).clamp(2.0, 16.0);
            n = (n as f64 * scale) as u64;
            run = self.go(&self.in_process, n);
        }
        let rate = Spread::of(
            [
                run.rate(),
                self.go(&self.in_process, n).rate(),
                self.go(&self.in_process, n).rate(),
            ]
            .into_iter(),
        )
        .median;
        ((rate * cfg.run_secs) as u64).max(self.smoke_msgs())
    }

    fn measure(&self, cfg: &Config) -> Measured {
        let (n, pairs) = if cfg.smoke {
            (self.smoke_msgs(), 1)
        } else {
            let n = self.size(cfg);
            // A warm-up of the cross-process path (page cache, the binary's
            // pages in the child).
            self.go(&self.cross_process, (n / 4).max(self.smoke_msgs()));
            (n, cfg.pairs)
        };
        let mut refs = vec![self.go(&self.in_process, n)];
        let mut cross = Vec::new();
        for _ in 0..pairs {
            cross.push(self.go(&self.cross_process, n));
            refs.push(self.go(&self.in_process, n));
        }
        Measured { n, refs, cross }
    }

    /// Each cross-process run's `score` over the mean of the in-process
    /// runs around it, and whether none of the three was flagged.
    fn ratios(m: &Measured, score: impl Fn(&Run) -> f64) -> Vec<(f64, bool)> {
        m.cross
            .iter()
            .zip(m.refs.windows(2))
            .map(|(run, around)| {
                let reference = (score(&around[0]) + score(&around[1])) / 2.0;
                let clean = !(run.flagged() || around[0].flagged() || around[1].flagged());
                (score(run) / reference, clean)
            })
            .collect()
    }

    fn report(&self, cfg: &Config, m: &Measured) {
        println!();
        println!("### {}: {}", self.key, self.title);
        println!();
        println!("- {}", describe_placement(cfg, self.placement));
        println!(
            "- {} pairs: each cross-process run sits between two in-process runs; {} {} per \
             run (sized for ~{} ms in-process); ring {} KiB",
            m.cross.len(),
            m.n,
            self.unit(),
            (cfg.run_secs * 1000.0).round(),
            cfg.ring / 1024
        );
        println!();
        match self.kind {
            Kind::Throughput => self.report_throughput(m),
            Kind::RoundTrip => self.report_round_trip(m),
        }
    }

    fn report_throughput(&self, m: &Measured) {
        let ratios = Self::ratios(m, Run::rate);
        let mut table = vec![vec![
            "variant".to_string(),
            "Mmsg/s median (min-max)".into(),
            "GB/s median".into(),
            "/ in-process median (min-max)".into(),
            "retries/msg".into(),
            "polls/msg".into(),
            "rx sleeps/msg".into(),
            "flagged (max other)".into(),
        ]];
        let row = |name: &str, own: &[Run], ratio: String| {
            vec![
                name.to_string(),
                Spread::of(own.iter().map(|r| r.rate() / 1e6)).show(2, ""),
                format!(
                    "{:.2}",
                    Spread::of(own.iter().map(|r| r.bytes as f64 / r.secs / 1e9)).median
                ),
                ratio,
                per_msg(own, |r| Some(r.retries)),
                per_msg(own, |r| r.polls),
                per_msg(own, |r| r.sleeps),
                flagged(own),
            ]
        };
        table.push(row(
            &format!("{} (reference)", self.in_process.name),
            &m.refs,
            "1".into(),
        ));
        table.push(row(
            self.cross_process.name,
            &m.cross,
            Spread::of(ratios.iter().map(|&(r, _)| r)).show(3, "x"),
        ));
        print_table(&table);
        println!();
        let mut line = format!(
            "- headline: cross-process / in-process msgs/s = {} (above 1 = cross-process faster)",
            headline(&ratios)
        );
        if let Some(target) = self.target {
            let median = Spread::of(ratios.iter().map(|&(r, _)| r)).median;
            let verdict = if median >= target { "met" } else { "NOT met" };
            line += &format!("; target >= {target:.2}x: {verdict}");
        }
        println!("{line}");
    }

    fn report_round_trip(&self, m: &Measured) {
        let p50 = Self::ratios(m, |r| r.quantile(0.50));
        let p99 = Self::ratios(m, |r| r.quantile(0.99));
        let mut table = vec![vec![
            "variant".to_string(),
            "p50 ns median (min-max)".into(),
            "p99 ns median (min-max)".into(),
            "p99.9 ns median".into(),
            "all samples p50/p99/p99.9/max ns".into(),
            "p50 / in-process (min-max)".into(),
            "p99 / in-process (min-max)".into(),
            "polls/msg".into(),
            "flagged (max other)".into(),
        ]];
        let row = |name: &str, own: &[Run], ratios: [String; 2]| {
            let at = |q| Spread::of(own.iter().map(|r| r.quantile(q)));
            let mut pooled = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
            for hist in own.iter().filter_map(|r| r.latency.as_ref()) {
                pooled.add(hist).expect("histograms of the same bounds");
            }
            let [p50_ratio, p99_ratio] = ratios;
            vec![
                name.to_string(),
                at(0.50).show(0, ""),
                at(0.99).show(0, ""),
                format!("{:.0}", at(0.999).median),
                format!(
                    "{}/{}/{}/{}",
                    pooled.value_at_quantile(0.50),
                    pooled.value_at_quantile(0.99),
                    pooled.value_at_quantile(0.999),
                    pooled.max()
                ),
                p50_ratio,
                p99_ratio,
                per_msg(own, |r| r.polls),
                flagged(own),
            ]
        };
        let spread =
            |ratios: &[(f64, bool)]| Spread::of(ratios.iter().map(|&(r, _)| r)).show(3, "x");
        table.push(row(
            &format!("{} (reference)", self.in_process.name),
            &m.refs,
            ["1".into(), "1".into()],
        ));
        table.push(row(
            self.cross_process.name,
            &m.cross,
            [spread(&p50), spread(&p99)],
        ));
        print_table(&table);
        println!();
        println!(
            "- headline: cross-process / in-process round trip p50 = {}; p99 = {} (below 1 = \
             cross-process faster)",
            headline(&p50),
            headline(&p99)
        );
    }

    fn smoke_report(&self, m: &Measured) {
        println!(
            "{}: {} in-process and {} cross-process runs of {} {} each, every record checked",
            self.key,
            m.refs.len(),
            m.cross.len(),
            m.n,
            self.unit()
        );
    }
}

/// `median (min-max) over k pairs`, and the same over the clean pairs if
/// some were flagged.
fn headline(ratios: &[(f64, bool)]) -> String {
    let all = Spread::of(ratios.iter().map(|&(r, _)| r));
    let mut text = format!("{} over {} pairs", all.show(3, "x"), ratios.len());
    let clean: Vec<f64> = ratios.iter().filter(|c| c.1).map(|c| c.0).collect();
    if clean.is_empty() {
        text += ", every pair flagged";
    } else if clean.len() < ratios.len() {
        let spread = Spread::of(clean.iter().copied());
        text += &format!(" ({} clean pairs: {})", clean.len(), spread.show(3, "x"));
    }
    text
}

fn describe_placement(cfg: &Config, placement: Placement) -> String {
    match (cfg.core_of(PRODUCER), cfg.core_of(CONSUMER)) {
        (Some(a), Some(b)) => placement(a.id, b.id),
        _ => "threads and processes not pinned (fewer than 2 usable cores)".into(),
    }
}

/// Where each side of a scenario runs, given the cores of the producer's
/// and the consumer's placement slots.
type Placement = fn(usize, usize) -> String;

fn queue_placement(a: usize, b: usize) -> String {
    format!(
        "in-process: producer thread on core {a}, consumer thread on core {b}; cross-process: \
         producer in a child process on core {a}, consumer thread of the bench process on core \
         {b}"
    )
}

fn round_trip_placement(a: usize, b: usize) -> String {
    format!(
        "in-process: initiator thread on core {a}, echo thread on core {b}; cross-process: \
         initiator thread of the bench process on core {a}, echo in a child process on core {b}"
    )
}

fn spsc_throughput<'a, const L: usize>(key: &'static str, cfg: &'a Config) -> Scenario<'a> {
    Scenario {
        key,
        title: format!(
            "SPSC queue throughput, {L}-byte records, busy-polling (try_claim/commit + \
             try_recv_batch), cross-process / in-process"
        ),
        kind: Kind::Throughput,
        placement: queue_placement,
        target: Some(0.90),
        in_process: Variant::new("in-process: heap ring, two threads", move |n| {
            let (tx, rx) = logring::queue::spsc::new(cfg.ring).expect("ring");
            throughput_in_process::<L, _, _>(tx, RawRx::new(rx, cfg.pace()), cfg, n)
        }),
        cross_process: Variant::new("cross-process: ring file, producer process", move |n| {
            let attach = |ring: &RingFile| {
                RawRx::new(
                    ring.consumer().unwrap_or_else(|e| panic!("{e}")),
                    cfg.pace(),
                )
            };
            throughput_cross_process::<L, _>(Role::Producer, attach, cfg, n)
        }),
    }
}

fn channel_throughput(cfg: &Config) -> Scenario<'_> {
    Scenario {
        key: "channel-throughput",
        title: "SPSC channel throughput, 64-byte records (send + recv_batch), cross-process / \
                in-process"
            .into(),
        kind: Kind::Throughput,
        placement: queue_placement,
        target: None,
        in_process: Variant::new("in-process: heap channel, two threads", move |n| {
            let (tx, rx) = logring::channel::spsc::new(cfg.ring).expect("channel");
            throughput_in_process::<64, _, _>(tx, ChannelRx::new(rx, cfg.pace()), cfg, n)
        }),
        cross_process: Variant::new("cross-process: ring file, sender process", move |n| {
            let attach = |ring: &RingFile| {
                ChannelRx::new(
                    ring.receiver().unwrap_or_else(|e| panic!("{e}")),
                    cfg.pace(),
                )
            };
            throughput_cross_process::<64, _>(Role::Sender, attach, cfg, n)
        }),
    }
}

fn round_trip(cfg: &Config) -> Scenario<'_> {
    Scenario {
        key: "round-trip",
        title: "round trip over two SPSC rings, 64-byte records, busy-polling, cross-process / \
                in-process"
            .into(),
        kind: Kind::RoundTrip,
        placement: round_trip_placement,
        target: None,
        in_process: Variant::new("in-process: two heap rings, two threads", move |n| {
            round_trip_in_process::<64>(cfg, n)
        }),
        cross_process: Variant::new("cross-process: two ring files, echo process", move |n| {
            round_trip_cross_process::<64>(cfg, n)
        }),
    }
}

// ---------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------

fn print_header(cfg: &Config) {
    common::print_title_and_machine(
        "file bench: ring files shared by two processes vs heap rings in one process",
        cfg,
    );
    println!("- command: `{}`", common::command("file", cfg));
    println!(
        "- {} pairs per scenario, ~{} ms per in-process run, the same message count for both \
         variants; ring {} KiB; try_recv_batch/recv_batch limit {} records; ring files in {}",
        cfg.pairs,
        (cfg.run_secs * 1000.0).round(),
        cfg.ring / 1024,
        cfg.batch,
        cfg.dir.display()
    );
    println!(
        "- the other process is this binary re-executed; timing starts when both sides are \
         attached and ready; the child's CPU time counts as the bench's own"
    );
    println!(
        "- runs during which other processes used over {:.0}% of all cores are flagged",
        FOREIGN_CPU_LIMIT * 100.0
    );
}

fn main() {
    if let Ok(role) = std::env::var(ROLE_VAR) {
        child_main(&role);
        return;
    }
    if !cfg!(target_os = "linux") {
        println!("file bench: ring files need Linux; nothing to run");
        return;
    }
    let cfg = Config::from_env();
    let scenarios = [
        spsc_throughput::<64>("spsc-throughput-64", &cfg),
        spsc_throughput::<256>("spsc-throughput-256", &cfg),
        round_trip(&cfg),
        channel_throughput(&cfg),
    ];
    let chosen: Vec<&Scenario> = scenarios.iter().filter(|s| cfg.wants(s.key)).collect();
    if chosen.is_empty() {
        eprintln!(
            "no scenario matches {:?}; scenarios: {}",
            cfg.filters,
            scenarios.map(|s| s.key).join(", ")
        );
        std::process::exit(2);
    }
    if cfg.smoke {
        println!("file bench smoke test (run `cargo bench --bench file` to measure)");
    } else {
        print_header(&cfg);
    }
    let began = Instant::now();
    for scenario in chosen {
        let measured = scenario.measure(&cfg);
        if cfg.smoke {
            scenario.smoke_report(&measured);
        } else {
            scenario.report(&cfg, &measured);
        }
    }
    println!();
    println!("(took {:.1} s)", began.elapsed().as_secs_f64());
}
