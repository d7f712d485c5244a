//! Long randomised stress tests of the blocking channels (ignored under miri;
//! `tests/channel.rs` has the behaviour tests that miri runs):
//!
//! - lost wake-ups: over 100,000 handoffs, each committed after a random
//!   delay that sweeps the receiver's spin-then-sleep transition, and none
//!   slept through: after each commit the sender waits for the receipt and
//!   does nothing else for 2 s, so a receiver that missed its wake-up is
//!   left asleep until the sender leaves, which is unmistakable;
//! - disconnect drain: fresh channels whose senders send a few records and
//!   drop, tens of thousands of times, and the receiver gets every record
//!   before `Disconnected`;
//! - one MPSC sender shared by reference between threads (it is `Sync`):
//!   every record arrives exactly once, in each thread's order;
//! - a receiver dropped mid-stream: every sender sees `Disconnected`, even one
//!   spinning on a full ring.
//!
//! Every wait is bounded: a hang fails the test with a message instead of
//! hanging it. No test fails because something was slow, only because it was
//! lost or hung (over a second, far beyond any scheduling delay); the lost
//! wake-up tests print the distribution of their wake latencies, and the
//! drain tests that of their receives (`cargo test --test channel_stress --
//! --nocapture`). How fast a wake-up is belongs to `cargo bench`.

mod common;
use common::{Latencies, byte_at, fill, mix};

use std::hint;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use logring::Error;
use logring::channel::{
    Receiver, RecvError, RecvTimeoutError, SendClaim, SendError, SpinPolicy, mpsc, spsc,
};

/// The tests here take turns: the lost wake-up tests measure time, and the
/// others' threads would compete with them for the CPU.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    // A test that failed while holding the lock poisons it; the others run on.
    ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How long any single wait may take before a test reports a hang.
const PATIENCE: Duration = Duration::from_secs(10);

/// A receive this late is a lost wake-up or a hang, not a slow one: a
/// thread that can run is never kept waiting this long by the scheduler, even
/// on a small and busy machine. The test stops at once.
const LOST: Duration = Duration::from_secs(1);

/// A small receiver budget: sleeps after a few spins and one yield.
const TINY: SpinPolicy = SpinPolicy::new(2, 1);

/// xorshift64*: enough randomness for schedules and sizes.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(mix(seed) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n > 0`; the bias is negligible here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The seed of a test run: fixed unless `LOGRING_STRESS_SEED` is set, so
/// that a failure can be replayed; printed either way.
fn seed(test: &str) -> u64 {
    let seed = std::env::var("LOGRING_STRESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_abcd_0001);
    println!("{test}: seed {seed} (set LOGRING_STRESS_SEED to change)");
    seed
}

fn check(key: u64, bytes: &[u8], context: &dyn Fn() -> String) {
    for (i, &byte) in bytes.iter().enumerate() {
        assert_eq!(byte, byte_at(key, i), "{}: byte {i}", context());
    }
}

/// Busy-waits until `deadline`: `thread::sleep` oversleeps by tens of
/// microseconds, which is the whole range of interest here.
fn spin_until(deadline: Instant) {
    while Instant::now() < deadline {
        hint::spin_loop();
    }
}

/// Runs `f` on its own thread; `join` fails the test (instead of hanging it)
/// if `f` has not returned within [`PATIENCE`].
struct Guarded<T> {
    what: String,
    result: std_mpsc::Receiver<T>,
    handle: thread::JoinHandle<()>,
}

fn spawn_guarded<T: Send + 'static>(
    what: impl Into<String>,
    f: impl FnOnce() -> T + Send + 'static,
) -> Guarded<T> {
    let (done, result) = std_mpsc::channel();
    let handle = thread::spawn(move || {
        let _ = done.send(f());
    });
    Guarded {
        what: what.into(),
        result,
        handle,
    }
}

impl<T> Guarded<T> {
    fn join(self) -> T {
        match self.result.recv_timeout(PATIENCE) {
            Ok(value) => {
                self.handle.join().unwrap();
                value
            }
            Err(std_mpsc::RecvTimeoutError::Disconnected) => match self.handle.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => unreachable!("{}: finished without a result", self.what),
            },
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                panic!("{}: still blocked after {PATIENCE:?}", self.what)
            }
        }
    }
}

/// Aborts the process, with a message, if the test it guards makes no
/// progress for `patience`: for waits that cannot be bounded otherwise
/// (`recv` without a timeout), so that a lost wake-up fails the run instead
/// of hanging it.
struct Watchdog {
    progress: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Watchdog {
    fn new(what: &'static str, patience: Duration) -> Self {
        let progress = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let handle = {
            let (progress, done) = (Arc::clone(&progress), Arc::clone(&done));
            thread::spawn(move || {
                let mut seen = progress.load(Ordering::Relaxed);
                let mut since = Instant::now();
                while !done.load(Ordering::Relaxed) {
                    thread::sleep(Duration::from_millis(50));
                    let now = progress.load(Ordering::Relaxed);
                    if now != seen {
                        (seen, since) = (now, Instant::now());
                    } else if since.elapsed() > patience {
                        // Straight to stderr: the test harness would keep
                        // `eprintln!` output until the test ends, which it
                        // does not.
                        let _ = writeln!(
                            std::io::stderr(),
                            "{what}: no progress for {patience:?} at step {now} \
                             (blocked in a receive: a lost wake-up?); aborting"
                        );
                        std::process::abort();
                    }
                }
            })
        };
        Self {
            progress,
            done,
            handle: Some(handle),
        }
    }

    /// Reports that step `step` has been reached.
    fn step(&self, step: u64) {
        self.progress.store(step, Ordering::Relaxed);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The sending operations, so that a scenario can run on both channel kinds.
trait Tx: Send + 'static {
    fn claim(&mut self, len: usize) -> Result<SendClaim<'_>, SendError>;
    fn is_disconnected(&self) -> bool;
    fn set_spin_policy(&mut self, policy: SpinPolicy);
}

macro_rules! impl_tx {
    ($sender:ty) => {
        impl Tx for $sender {
            fn claim(&mut self, len: usize) -> Result<SendClaim<'_>, SendError> {
                <$sender>::claim(self, len)
            }
            fn is_disconnected(&self) -> bool {
                <$sender>::is_disconnected(self)
            }
            fn set_spin_policy(&mut self, policy: SpinPolicy) {
                <$sender>::set_spin_policy(self, policy)
            }
        }
    };
}
impl_tx!(spsc::Sender);
impl_tx!(mpsc::Sender);

/// Sends a record of `len` bytes written by `write`, retrying `Full` with a
/// yield; `false` if the receiver is gone.
fn send_with<T: Tx>(tx: &mut T, len: usize, write: impl FnOnce(&mut SendClaim<'_>)) -> bool {
    loop {
        match tx.claim(len) {
            Ok(mut claim) => {
                write(&mut claim);
                claim.commit();
                return true;
            }
            Err(SendError::Full) => thread::yield_now(),
            Err(SendError::Disconnected) => return false,
            Err(error) => panic!("claim({len}): {error}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Lost wake-ups.

/// The sender's pause before handoff `i`: mostly uniform in 0–40 µs, which
/// sweeps the receiver's spinning, announcing and falling asleep; one in
/// sixteen uniform in 40–500 µs, by which time every receiver sleeps.
fn handoff_delay(rng: &mut Rng) -> Duration {
    let nanos = if rng.below(16) == 0 {
        40_000 + rng.below(460_000)
    } else {
        rng.below(40_001)
    };
    Duration::from_nanos(nanos)
}

/// Record layout: commit time (ns since `base`), sequence number, then bytes
/// derived from the sequence number.
const STAMP: usize = 16;

/// Receives slower than this are listed in the run's report with their likely
/// cause: for a reader chasing latency, never a failure (how fast a wake-up
/// is belongs to `cargo bench`).
const SLOW: Duration = Duration::from_millis(10);

/// A receive slower than [`SLOW`], with what is needed to tell a slow
/// wake-up from a thread that was not running (all in ns since the run's
/// base instant).
#[derive(Debug)]
struct Late {
    handoff: u64,
    /// When the receiver called its receive method.
    called: u64,
    /// The sender's stamp, just before `commit`.
    stamp: u64,
    /// When the sender's `commit` returned (after any wake-up system call).
    committed: u64,
    /// When the receive call returned.
    returned: u64,
}

/// Why a receive was slow, as far as the timestamps tell.
const CAUSES: [&str; 4] = [
    "the receiver called its receive method only after the commit (it was not \
     running: preempted after its previous receive)",
    "the sender's commit() itself took most of the time (the sender was not running)",
    "commit() returned in under 1 µs, so it probably made no wake-up system call: either \
     the receiver was still awake (spinning or yielding) and not running, or the \
     commit missed a receiver going to sleep (a lost wake-up, if the receive also \
     took over a second)",
    "commit() made a wake-up system call, and the woken receiver returned late",
];

impl Late {
    /// An index into [`CAUSES`].
    fn cause(&self) -> usize {
        let commit = self.committed.saturating_sub(self.stamp);
        if self.called > self.stamp {
            0
        } else if commit * 2 > self.returned - self.stamp {
            1
        } else if commit < 1_000 {
            2
        } else {
            3
        }
    }

    fn explain(&self) -> String {
        let d = Duration::from_nanos;
        format!(
            "handoff {}: {:?} (recv called {:?} before the commit, commit() took {:?}): {}",
            self.handoff,
            d(self.returned - self.stamp),
            d(self.stamp.saturating_sub(self.called)),
            d(self.committed.saturating_sub(self.stamp)),
            CAUSES[self.cause()],
        )
    }
}

/// How long the sender waits for its record to be received before it leaves
/// (dropping its ends, which wakes the receiver): the only event after a
/// commit that could wake a receiver which slept through it. So a lost
/// wake-up is a receive that returns this long after its commit, just after
/// the senders left; no scheduler delays a running thread that long.
const NUDGE: Duration = Duration::from_secs(2);

/// `handoffs` handoffs from a sender thread to this thread: the sender waits
/// until the previous record was received, pauses for a random delay, and
/// commits a record stamped with its commit time; the receiver measures how
/// long after the commit its receive call returned.
///
/// Fails on a lost wake-up (a receive that returns only when the senders
/// leave, [`NUDGE`] after its commit) and on any receive slower than
/// [`LOST`], which is a hang whatever ended it. Prints the distribution of
/// the wake latencies and the receives slower than [`SLOW`] with their
/// likely causes.
fn wake_latency_run<T: Tx>(
    label: &str,
    mut senders: Vec<T>,
    mut rx: Receiver,
    policy: SpinPolicy,
    handoffs: u64,
    seed: u64,
) {
    rx.set_spin_policy(policy);
    let base = Instant::now();
    let received = Arc::new(AtomicU64::new(0));
    // When the sender gave up waiting and left (ns since `base`; 0: never).
    let left = Arc::new(AtomicU64::new(0));
    let len = move |seq: u64| STAMP + (mix(seq ^ seed) % 48) as usize;
    let (sender_thread_tx, sender_thread) = std_mpsc::channel();
    let sending = {
        let (received, left) = (Arc::clone(&received), Arc::clone(&left));
        let label = label.to_owned();
        spawn_guarded(format!("{label}: sender"), move || {
            sender_thread_tx.send(thread::current()).unwrap();
            let mut rng = Rng::new(seed);
            let mut committed = Vec::with_capacity(handoffs as usize);
            for seq in 0..handoffs {
                // Wait for the receiver to take the previous record, so that
                // every commit finds it spinning, going to sleep or asleep.
                // Spin briefly, then park (the receiver unparks us): a sender
                // spinning all the while would compete for the CPU with the
                // receiver it is waiting for.
                let waiting = Instant::now();
                let mut spins = 0u32;
                while received.load(Ordering::Acquire) < seq {
                    if spins < 1_000 {
                        spins += 1;
                        hint::spin_loop();
                    } else {
                        thread::park_timeout(Duration::from_millis(1));
                    }
                    if senders[0].is_disconnected() {
                        return committed; // the receiver failed
                    }
                    if waiting.elapsed() > NUDGE {
                        // Leave: dropping the senders wakes the receiver,
                        // which then reports the record's latency.
                        // Relaxed: only names the failure; a receive this
                        // late fails either way.
                        left.store(base.elapsed().as_nanos() as u64, Ordering::Relaxed);
                        eprintln!(
                            "{label}: record {} not received {NUDGE:?} after \
                             its commit; the sender leaves",
                            seq - 1
                        );
                        return committed;
                    }
                }
                spin_until(Instant::now() + handoff_delay(&mut rng));
                let which = (seq % senders.len() as u64) as usize;
                let sent = send_with(&mut senders[which], len(seq), |claim| {
                    claim[8..16].copy_from_slice(&seq.to_le_bytes());
                    fill(seq, &mut claim[STAMP..]);
                    claim.set_tag(seq as u32).unwrap();
                    // Last, so that the stamp is as close to the commit as
                    // can be.
                    let stamp = base.elapsed().as_nanos() as u64;
                    claim[..8].copy_from_slice(&stamp.to_le_bytes());
                });
                if !sent {
                    return committed; // the receiver failed
                }
                committed.push(base.elapsed().as_nanos() as u64);
            }
            committed
        })
    };

    let sender_thread = sender_thread.recv().unwrap();
    let mut latencies = Latencies::new();
    let mut late = Vec::new();
    let mut rng = Rng::new(seed ^ 0x7ec7);
    let mut failure = None;
    let watchdog = Watchdog::new("lost wake-up stress", PATIENCE * 3);
    for seq in 0..handoffs {
        watchdog.step(seq);
        // Mostly `recv_timeout`; sometimes `recv` (no deadline: the sleep has
        // no timeout at all) and `recv_batch_timeout`. The timeouts are
        // longer than `NUDGE`, so that the senders' leaving, not the timeout,
        // ends a receive that slept through its commit.
        let mut got = None;
        let called = base.elapsed().as_nanos() as u64;
        let mut take = |bytes: &[u8], tag: u32| {
            let now = base.elapsed().as_nanos() as u64;
            let context = || format!("{label}: handoff {seq}");
            assert_eq!(bytes.len(), len(seq), "{}: length", context());
            assert_eq!(tag, seq as u32, "{}: tag", context());
            let sent_seq = u64::from_le_bytes(bytes[8..16].try_into().unwrap());
            assert_eq!(sent_seq, seq, "{}: sequence", context());
            check(seq, &bytes[STAMP..], &context);
            let stamp = u64::from_le_bytes(bytes[..8].try_into().unwrap());
            got = Some((stamp, now));
        };
        let outcome = match rng.below(8) {
            0 => rx.recv().map(|r| take(&r, r.tag())).map_err(Into::into),
            1 => rx
                .recv_batch_timeout(2, PATIENCE, |r| take(&r, r.tag()))
                .map(|n| assert_eq!(n, 1)),
            _ => rx.recv_timeout(PATIENCE).map(|r| take(&r, r.tag())),
        };
        if let Err(error) = outcome {
            failure = Some(format!("handoff {seq}: {error:?} (a lost wake-up?)"));
            break;
        }
        let (stamp, returned) = got.expect("a record");
        received.store(seq + 1, Ordering::Release);
        sender_thread.unpark();
        let latency = returned.saturating_sub(stamp);
        latencies.record_nanos(seq, latency);
        if latency > SLOW.as_nanos() as u64 {
            late.push(Late {
                handoff: seq,
                called,
                stamp,
                committed: 0,
                returned,
            });
        }
        if latency >= LOST.as_nanos() as u64 {
            let d = Duration::from_nanos;
            // Relaxed: see the store (at worst "a hang" is named).
            let failed = match left.load(Ordering::Relaxed) {
                0 => format!(
                    "received {:?} after its commit, with the sender still \
                     waiting: a hang (over {LOST:?})",
                    d(latency)
                ),
                left => format!(
                    "received {:?} after its commit, {:?} after the sender left \
                     {NUDGE:?} after it: a lost wake-up (the receiver slept \
                     through the commit and was woken by the next event)",
                    d(latency),
                    d(returned.saturating_sub(left)),
                ),
            };
            failure = Some(format!("handoff {seq}: {failed}"));
            break;
        }
    }
    drop(watchdog);
    let set_commit_times = |late: &mut [Late], committed: Vec<u64>| {
        for late in late {
            late.committed = committed.get(late.handoff as usize).copied().unwrap_or(0);
        }
    };
    if let Some(failure) = failure {
        drop(rx); // ends the sender
        set_commit_times(&mut late, sending.join());
        panic!("{label}: {failure}\n{}", report(label, &late, &latencies));
    }
    set_commit_times(&mut late, sending.join());
    println!("{}", report(label, &late, &latencies).trim_end());
    assert_eq!(
        rx.recv_timeout(PATIENCE).map(drop),
        Err(RecvTimeoutError::Disconnected)
    );
}

/// The distribution of the wake latencies; the receives slower than
/// [`SLOW`], their likely causes and the first ten.
fn report(label: &str, late: &[Late], latencies: &Latencies) -> String {
    let mut report = format!("{label}: wake latency {}\n", latencies.summary());
    if late.is_empty() {
        return report;
    }
    let mut causes = [0usize; CAUSES.len()];
    for late in late {
        causes[late.cause()] += 1;
    }
    report += &format!(
        "  {} receives slower than {SLOW:?} (not a failure; likely causes):\n",
        late.len()
    );
    for (cause, n) in CAUSES.iter().zip(causes) {
        if n != 0 {
            report += &format!("    {n} x {cause}\n");
        }
    }
    for late in late.iter().take(10) {
        report += &format!("    {}\n", late.explain());
    }
    report
}

const HANDOFFS_PER_RUN: u64 = 17_000;

/// The receiver policies each kind of channel is run with.
const WAKE_POLICIES: [(&str, SpinPolicy); 3] = [
    ("default", SpinPolicy::RECEIVER),
    ("none", SpinPolicy::NONE),
    ("tiny", TINY),
];

#[test]
#[cfg_attr(miri, ignore)]
fn no_lost_wake_ups_spsc() {
    let _turn = one_at_a_time();
    let seed = seed("no_lost_wake_ups_spsc");
    for (name, policy) in WAKE_POLICIES {
        let (tx, rx) = spsc::new(4096).unwrap();
        let label = format!("spsc, receiver policy {name}");
        wake_latency_run(&label, vec![tx], rx, policy, HANDOFFS_PER_RUN, seed);
    }
}

/// Two senders (on one thread) take turns, so that handoffs alternate
/// between producers.
#[test]
#[cfg_attr(miri, ignore)]
fn no_lost_wake_ups_mpsc() {
    let _turn = one_at_a_time();
    let seed = seed("no_lost_wake_ups_mpsc") ^ 1;
    for (name, policy) in WAKE_POLICIES {
        let (tx, rx) = mpsc::new(4096).unwrap();
        let senders = vec![tx.clone(), tx];
        let label = format!("mpsc, receiver policy {name}");
        wake_latency_run(&label, senders, rx, policy, HANDOFFS_PER_RUN, seed);
    }
}

// ---------------------------------------------------------------------------
// Disconnect drain.

/// When the receiver starts in a drain run.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Start {
    /// At once, with the default policy (spins, then sleeps).
    Now,
    /// At once, sleeping as soon as nothing is ready.
    NowSleepy,
    /// Once every sender is gone.
    AfterDrop,
}

impl Start {
    fn pick(rng: &mut Rng) -> Self {
        [Start::Now, Start::NowSleepy, Start::AfterDrop][rng.below(3) as usize]
    }
}

/// The length of record `seq` of sender `id` in the run seeded `run`.
fn drain_len(run: u64, id: u32, seq: u32) -> usize {
    (mix(run ^ (u64::from(id) << 40) ^ u64::from(seq)) % 41) as usize
}

fn drain_key(run: u64, id: u32, seq: u32) -> u64 {
    run ^ (u64::from(id) << 48) ^ (u64::from(seq) << 32)
}

/// Sends sender `id`'s `records` records of run `run`. The tag holds
/// `(id, seq)`; lengths (from 0) and bytes follow from it.
fn drain_send<T: Tx>(tx: &mut T, run: u64, id: u32, records: u32) {
    for seq in 0..records {
        let sent = send_with(tx, drain_len(run, id, seq), |claim| {
            fill(drain_key(run, id, seq), claim);
            claim.set_tag(id << 16 | seq).unwrap();
        });
        assert!(sent, "sender {id}: the receiver is gone before the senders");
    }
}

/// Receives run `run` until `Disconnected`, checking every record against
/// `records[id]` per sender; records how long each receive took in `waits`.
fn drain_receive(
    rx: &mut Receiver,
    run_index: u64,
    run: u64,
    records: &[u32],
    rng: &mut Rng,
    waits: &mut Latencies,
) {
    let mut next = vec![0u32; records.len()];
    let mut take = |bytes: &[u8], tag: u32| {
        let (id, seq) = (tag >> 16, tag & 0xffff);
        let context = || format!("run {run_index}: sender {id}, record {seq}");
        assert!((id as usize) < records.len(), "{}: sender id", context());
        assert_eq!(seq, next[id as usize], "{}: sequence", context());
        assert_eq!(
            bytes.len(),
            drain_len(run, id, seq),
            "{}: length",
            context()
        );
        check(drain_key(run, id, seq), bytes, &context);
        next[id as usize] += 1;
    };
    loop {
        let called = Instant::now();
        let outcome = match rng.below(4) {
            0 => rx
                .recv_batch_timeout(1 + rng.below(8) as usize, PATIENCE, |r| take(&r, r.tag()))
                .map(drop),
            1 => rx.recv().map(|r| take(&r, r.tag())).map_err(Into::into),
            _ => rx.recv_timeout(PATIENCE).map(|r| take(&r, r.tag())),
        };
        // The senders never pause, and nothing else happens: a receive that
        // slept through the commit or the disconnection that should have
        // woken it sleeps until its own timeout (`PATIENCE`), or for ever
        // in `recv` (the watchdog). Any receive over `LOST` is a hang.
        let took = called.elapsed();
        waits.record(run_index, took);
        assert!(
            took < LOST,
            "run {run_index}: a receive took {took:?} and returned {outcome:?} \
             (a lost wake-up); got {next:?} of {records:?}"
        );
        match outcome {
            Ok(()) => {}
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                panic!(
                    "run {run_index}: nothing received for {PATIENCE:?}; got {next:?} of {records:?}"
                )
            }
            Err(error) => panic!("run {run_index}: {error}"),
        }
    }
    assert_eq!(
        next, records,
        "run {run_index}: records received per sender"
    );
    assert!(rx.is_disconnected());
    assert_eq!(rx.recv().map(drop), Err(RecvError::Disconnected));
    assert_eq!(rx.skipped_claims(), 0);
}

const DRAIN_SENDERS: u32 = 8;

/// 8 senders, each on a thread of its own, each send 1–8 records into a
/// fresh MPSC channel and drop their sender; the receiver gets every record,
/// then `Disconnected`. The threads are spawned anew for each run: the
/// 160,000 threads cost seconds, not minutes, even in a debug build.
#[test]
#[cfg_attr(miri, ignore)]
fn mpsc_disconnect_drains_everything() {
    let _turn = one_at_a_time();
    const RUNS: u64 = 20_000;
    let seed = seed("mpsc_disconnect_drains_everything");
    let mut rng = Rng::new(seed);
    let mut starts = [0u32; 3];
    let mut waits = Latencies::new();
    let started = Instant::now();
    let watchdog = Watchdog::new("mpsc_disconnect_drains_everything", PATIENCE * 2);
    for run_index in 0..RUNS {
        watchdog.step(run_index);
        let run = rng.next();
        let start = Start::pick(&mut rng);
        starts[start as usize] += 1;
        // A ring that may fill up, unless the receiver waits for the senders
        // to finish (they would wait for room for ever).
        let capacity = match start {
            Start::AfterDrop => 8192,
            _ => [256, 1024, 8192][rng.below(3) as usize],
        };
        let (tx, mut rx) = mpsc::new(capacity).unwrap();
        if start == Start::NowSleepy {
            rx.set_spin_policy(SpinPolicy::NONE);
        }
        let records: Vec<u32> = (0..DRAIN_SENDERS)
            .map(|_| 1 + rng.below(8) as u32)
            .collect();
        let senders: Vec<_> = (0..DRAIN_SENDERS)
            .map(|id| {
                let mut tx = tx.clone();
                let n = records[id as usize];
                spawn_guarded(format!("run {run_index}: sender {id}"), move || {
                    drain_send(&mut tx, run, id, n);
                })
            })
            .collect();
        drop(tx);
        if start == Start::AfterDrop {
            senders.into_iter().for_each(Guarded::join);
            assert!(rx.is_disconnected(), "run {run_index}");
            drain_receive(&mut rx, run_index, run, &records, &mut rng, &mut waits);
        } else {
            drain_receive(&mut rx, run_index, run, &records, &mut rng, &mut waits);
            senders.into_iter().for_each(Guarded::join);
        }
    }
    println!(
        "{RUNS} runs in {:?}; receiver started (now, now and sleepy, after the drop): \
         {starts:?}; receives (numbered by run) {}",
        started.elapsed(),
        waits.summary()
    );
}

/// The same with one SPSC sender on a fresh thread per run, sending 1–64
/// records.
#[test]
#[cfg_attr(miri, ignore)]
fn spsc_disconnect_drains_everything() {
    let _turn = one_at_a_time();
    const RUNS: u64 = 5_000;
    let seed = seed("spsc_disconnect_drains_everything");
    let mut rng = Rng::new(seed);
    let mut waits = Latencies::new();
    let started = Instant::now();
    let watchdog = Watchdog::new("spsc_disconnect_drains_everything", PATIENCE * 2);
    for run_index in 0..RUNS {
        watchdog.step(run_index);
        let run = rng.next();
        let start = Start::pick(&mut rng);
        let capacity = match start {
            Start::AfterDrop => 8192,
            _ => [128, 1024, 8192][rng.below(3) as usize],
        };
        let (mut tx, mut rx) = spsc::new(capacity).unwrap();
        if start == Start::NowSleepy {
            rx.set_spin_policy(SpinPolicy::NONE);
        }
        let records = [1 + rng.below(64) as u32];
        let sending = spawn_guarded(format!("run {run_index}: sender"), move || {
            drain_send(&mut tx, run, 0, records[0]);
        });
        if start == Start::AfterDrop {
            sending.join();
            assert!(rx.is_disconnected(), "run {run_index}");
            drain_receive(&mut rx, run_index, run, &records, &mut rng, &mut waits);
        } else {
            drain_receive(&mut rx, run_index, run, &records, &mut rng, &mut waits);
            sending.join();
        }
    }
    println!(
        "{RUNS} runs in {:?}; receives (numbered by run) {}",
        started.elapsed(),
        waits.summary()
    );
}

/// Four threads share one MPSC sender by reference (`std::thread::scope`),
/// and with it the sender's cached head, sending through a small ring that
/// is full most of the time with `claim` and `try_claim` in turn (retrying
/// `Full`), while a receiver thread reads. Every record arrives exactly
/// once, intact, in its thread's order, and `Disconnected` comes once the
/// sender is dropped after the threads are done.
#[test]
#[cfg_attr(miri, ignore)]
fn mpsc_sender_shared_by_reference_delivers_every_record_once() {
    const THREADS: u32 = 4;
    const RECORDS: u32 = 50_000;
    let _turn = one_at_a_time();
    let run = seed("mpsc_sender_shared_by_reference_delivers_every_record_once");
    let (tx, mut rx) = mpsc::new(1024).unwrap();
    let receiving = spawn_guarded("the receiver", move || {
        let mut rng = Rng::new(run);
        let mut waits = Latencies::new();
        let records = [RECORDS; THREADS as usize];
        drain_receive(&mut rx, 0, run, &records, &mut rng, &mut waits);
        waits
    });
    let started = Instant::now();
    let fulls = AtomicU64::new(0);
    thread::scope(|scope| {
        for id in 0..THREADS {
            let (tx, fulls) = (&tx, &fulls);
            scope.spawn(move || {
                for seq in 0..RECORDS {
                    let len = drain_len(run, id, seq);
                    let mut claim = loop {
                        let claimed = if seq % 2 == 0 {
                            tx.claim(len)
                        } else {
                            tx.try_claim(len)
                        };
                        match claimed {
                            Ok(claim) => break claim,
                            Err(SendError::Full) => {
                                fulls.fetch_add(1, Ordering::Relaxed);
                                thread::yield_now();
                            }
                            Err(error) => panic!("thread {id}, record {seq}: {error}"),
                        }
                    };
                    fill(drain_key(run, id, seq), &mut claim);
                    claim.set_tag(id << 16 | seq).unwrap();
                    claim.commit();
                }
            });
        }
    });
    let fulls = fulls.into_inner();
    assert_eq!(tx.full_rejections(), fulls, "each Full counted once");
    drop(tx);
    let waits = receiving.join();
    println!(
        "{THREADS} threads sharing one sender sent {} records in {:?}, meeting a full \
         ring {fulls} times; receives {}",
        THREADS * RECORDS,
        started.elapsed(),
        waits.summary()
    );
}

// ---------------------------------------------------------------------------
// Receiver dropped mid-stream.

/// Sends until `Disconnected`; returns how many records were committed.
fn send_until_disconnected<T: Tx>(tx: &mut T, id: u64) -> u64 {
    let mut seq = 0u64;
    loop {
        let key = id << 32 | seq;
        let len = 8 + (mix(key) % 40) as usize;
        match tx.claim(len) {
            Ok(mut claim) => {
                claim[..8].copy_from_slice(&key.to_le_bytes());
                fill(key, &mut claim[8..]);
                claim.commit();
                seq += 1;
            }
            Err(SendError::Full) => thread::yield_now(),
            Err(SendError::Disconnected) => break,
            Err(error) => panic!("sender {id}: {error}"),
        }
    }
    assert!(tx.is_disconnected());
    seq
}

/// The receiver reads a random number of records (often none, so that the
/// senders are left spinning on a full ring), then drops; every sender must
/// see `Disconnected` soon after. Some senders spin for a budget far longer
/// than the test's patience, so only the in-loop check can end their wait.
fn receiver_dropped_mid_stream<T: Tx>(
    kind: &str,
    new: fn(usize) -> Result<(T, Receiver), Error>,
    fan_out: fn(T) -> Vec<T>,
) {
    const RUNS: u64 = 300;
    let seed = seed(&format!("receiver_dropped_mid_stream ({kind})"));
    let mut rng = Rng::new(seed);
    for run in 0..RUNS {
        let (tx, mut rx) = new([256, 4096][rng.below(2) as usize]).unwrap();
        let policies = [
            SpinPolicy::SENDER,
            SpinPolicy::NONE,
            SpinPolicy::new(1 << 30, 0),
        ];
        let senders: Vec<_> = fan_out(tx)
            .into_iter()
            .enumerate()
            .map(|(id, mut tx)| {
                tx.set_spin_policy(policies[rng.below(3) as usize]);
                spawn_guarded(format!("{kind} run {run}: sender {id}"), move || {
                    send_until_disconnected(&mut tx, id as u64)
                })
            })
            .collect();
        let reads = match rng.below(3) {
            0 => 0,
            1 => rng.below(10),
            _ => rng.below(1_000),
        };
        let mut next = vec![0u64; senders.len()];
        for _ in 0..reads {
            let record = rx
                .recv_timeout(PATIENCE)
                .unwrap_or_else(|e| panic!("{kind} run {run}: {e}"));
            let key = u64::from_le_bytes(record[..8].try_into().unwrap());
            let (id, seq) = ((key >> 32) as usize, key & 0xffff_ffff);
            assert_eq!(seq, next[id], "{kind} run {run}: sender {id}");
            check(key, &record[8..], &|| {
                format!("{kind} run {run}: record {key:#x}")
            });
            next[id] += 1;
        }
        if rng.below(2) == 0 {
            // Let the senders fill the ring and spin on it.
            thread::sleep(Duration::from_micros(rng.below(2_000)));
        }
        drop(rx);
        for (id, sender) in senders.into_iter().enumerate() {
            let sent = sender.join();
            assert!(sent >= next[id], "{kind} run {run}: sender {id}");
        }
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn spsc_receiver_dropped_mid_stream() {
    let _turn = one_at_a_time();
    receiver_dropped_mid_stream("spsc", spsc::new, |tx| vec![tx]);
}

#[test]
#[cfg_attr(miri, ignore)]
fn mpsc_receiver_dropped_mid_stream() {
    let _turn = one_at_a_time();
    receiver_dropped_mid_stream("mpsc", mpsc::new, |tx| vec![tx.clone(), tx.clone(), tx]);
}
