//! A heap queue makes no system call: claim, commit, abort, truncate, the
//! claims' `io::Write` and `fmt::Write`, `try_send`, `try_recv`, release,
//! `unread` and `try_recv_batch`, on both queues, wrapping many times, on
//! one thread and across threads. Nor does a channel's sender whose
//! receiver polls (`Receiver::set_poll_interval`), though that receiver
//! sleeps between bursts.
//!
//! The operations run in a child process (this test binary, run again on
//! the single test [`CHILD_TEST`]). The child builds the queues and
//! everything the operations need first, then runs them on threads that
//! each confine themselves with a seccomp filter before they begin, which
//! allows only what seccomp's strict mode allows (`read`, `write`, `exit`
//! and `sigreturn`) and kills the whole process on any other system call.
//! (Strict mode itself kills only the offending thread, which the child's
//! other threads could not tell from a hang; and it cannot join a filter
//! installed before it, as in many containers.) A confined thread neither
//! panics nor frees memory (either may make system calls; a thread's first
//! `free` may map an arena): it counts its checks instead, keeps what it
//! owns, writes its report to a pipe with `write(2)` and ends with the raw
//! `exit` system call. The parent asserts that the child exited
//! successfully after reporting every thread's results, and was not killed.
//!
//! The log front ends make none either, once a thread's first event has
//! registered what it needs: `tracing` events through logring's layer, and
//! calls of logring's own macros.
//!
//! A second test makes one forbidden system call in a confined thread and
//! expects the kill, so that the first cannot pass by confining nothing.
//! Where the kernel offers no seccomp filter (or this architecture has no
//! filter here), both tests say so and pass.

#![cfg(all(target_os = "linux", feature = "mmap", not(miri)))]

use std::fmt::Write as _;
use std::fs::File;
use std::io::{Read, Write as _};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::panic::Location;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use std::{io, mem, thread};

use logring::queue::{ClaimError, Consumer, TryRecvError, WriteClaim, mpsc, spsc};

/// The test every child runs.
const CHILD_TEST: &str = "confined_child";
/// What the child is to do: `queues`, or `canary` (one forbidden call).
const ROLE_VAR: &str = "LOGRING_TEST_CONFINED_ROLE";
/// Starts each line the child reports to its parent.
const MARK: &str = "@confined ";
/// How long the child may take.
const PATIENCE: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------
// The parent's side
// ---------------------------------------------------------------------------

/// What a child process did: its exit status and the lines it reported.
struct Outcome {
    status: std::process::ExitStatus,
    lines: Vec<String>,
    stderr: String,
}

fn run_child(role: &str) -> Outcome {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe)
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(ROLE_VAR, role)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the child");
    let deadline = Instant::now() + PATIENCE;
    while child
        .try_wait()
        .expect("cannot wait for the child")
        .is_none()
    {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("cannot reap the child");
            panic!(
                "the child `{role}` ran for more than {PATIENCE:?}\n--- its stderr ---\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        thread::sleep(Duration::from_millis(10));
    }
    let output = child.wait_with_output().expect("cannot reap the child");
    let lines = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| Some(line[line.find(MARK)? + MARK.len()..].to_string()))
        .collect();
    Outcome {
        status: output.status,
        lines,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Whether the child found it could not confine its threads (no seccomp).
fn unconfinable(outcome: &Outcome) -> bool {
    if outcome.lines.iter().any(|line| line == "unconfinable") {
        eprintln!("seccomp is not available here: nothing was checked");
        return true;
    }
    false
}

/// Whether the child was killed as the filter kills (as if by `SIGSYS`).
fn killed_by_filter(outcome: &Outcome) -> bool {
    outcome.status.signal() == Some(libc::SIGSYS)
}

#[test]
fn heap_queues_make_no_system_call() {
    let outcome = run_child("queues");
    assert!(
        !killed_by_filter(&outcome),
        "the child was killed: a confined thread made a system call other than \
         read, write or exit\nreports: {:?}\n--- its stderr ---\n{}",
        outcome.lines,
        outcome.stderr
    );
    assert!(
        outcome.status.success(),
        "the child ended with {}\nreports: {:?}\n--- its stderr ---\n{}",
        outcome.status,
        outcome.lines,
        outcome.stderr
    );
    if unconfinable(&outcome) {
        return;
    }
    let mut jobs: Vec<&str> = JOBS.iter().map(|job| job.name).collect();
    for line in &outcome.lines {
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or_default();
        let records: u64 = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let failed_at: u32 = words.next().and_then(|n| n.parse().ok()).unwrap_or(1);
        assert_eq!(
            failed_at, 0,
            "{name}: the check at line {failed_at} of this file failed"
        );
        assert!(records > 0, "{name}: no records");
        jobs.retain(|&job| job != name);
    }
    assert!(
        jobs.is_empty(),
        "no report from {jobs:?}: {:?}",
        outcome.lines
    );
}

#[test]
fn a_system_call_in_a_confined_thread_kills_the_child() {
    let outcome = run_child("canary");
    if unconfinable(&outcome) {
        return;
    }
    assert!(
        killed_by_filter(&outcome),
        "a confined thread called getpid and lived: the confinement does not \
         hold, so the test above proves nothing\nstatus: {}, reports: {:?}\n--- its stderr ---\n{}",
        outcome.status,
        outcome.lines,
        outcome.stderr
    );
}

// ---------------------------------------------------------------------------
// The child's side
// ---------------------------------------------------------------------------

/// A confined thread's work, on queue ends built before it starts. It is
/// called by reference, so that nothing is freed: the ends it holds are
/// never dropped.
type Work = Box<dyn FnMut(&mut Tally) + Send>;

/// One confined thread's job.
struct Job {
    name: &'static str,
    /// Builds the work of the job's threads (one thread each).
    build: fn() -> Vec<Work>,
    /// Whether each thread runs its work once before it confines itself
    /// (what it counts then is not reported): for work whose first run in
    /// a thread sets up what later runs reuse.
    warm_up: bool,
}

const JOBS: &[Job] = &[
    Job {
        name: "spsc-rounds",
        warm_up: false,
        build: || {
            let (mut producer, mut consumer) = spsc::new(1024).unwrap();
            vec![Box::new(move |tally| {
                rounds(tally, &mut producer, &mut consumer)
            })]
        },
    },
    Job {
        name: "mpsc-rounds",
        warm_up: false,
        build: || {
            let (mut producer, mut consumer) = mpsc::new(1024).unwrap();
            vec![Box::new(move |tally| {
                rounds(tally, &mut producer, &mut consumer)
            })]
        },
    },
    Job {
        name: "mpsc-out-of-order",
        warm_up: false,
        build: || {
            let (first, mut consumer) = mpsc::new(512).unwrap();
            let second = first.clone();
            vec![Box::new(move |tally| {
                out_of_order(tally, &first, &second, &mut consumer)
            })]
        },
    },
    Job {
        name: "spsc-threads",
        warm_up: false,
        build: || {
            let (mut producer, mut consumer) = spsc::new(4096).unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let stopped = Arc::clone(&stop);
            let consumer: Work = Box::new(move |tally| receive(tally, &mut consumer, 1, &stop));
            let producer: Work = Box::new(move |tally| produce(tally, &mut producer, 0, &stopped));
            vec![consumer, producer]
        },
    },
    Job {
        name: "mpsc-threads",
        warm_up: false,
        build: || {
            let (mut first, mut consumer) = mpsc::new(4096).unwrap();
            let mut second = first.clone();
            let stop = Arc::new(AtomicBool::new(false));
            let (stopped_first, stopped_second) = (Arc::clone(&stop), Arc::clone(&stop));
            let consumer: Work = Box::new(move |tally| receive(tally, &mut consumer, 2, &stop));
            let first: Work = Box::new(move |tally| produce(tally, &mut first, 0, &stopped_first));
            let second: Work =
                Box::new(move |tally| produce(tally, &mut second, 1, &stopped_second));
            vec![consumer, first, second]
        },
    },
    Job {
        name: "channel-to-a-polling-receiver",
        warm_up: false,
        build: || {
            let (mut sender, mut receiver) = logring::channel::spsc::new(4096).unwrap();
            receiver.set_poll_interval(Some(Duration::from_micros(200)));
            let received = Arc::new(AtomicU64::new(0));
            let counted = Arc::clone(&received);
            // The receiver is not confined: it sleeps between its looks, a
            // system call of its own. It counts the records that arrive in
            // order, for the sender to check.
            thread::spawn(move || {
                let mut next = 0u64;
                while let Ok(record) = receiver.recv() {
                    if *record == next.to_le_bytes() {
                        next += 1;
                        counted.store(next, Ordering::Release);
                    }
                }
            });
            vec![Box::new(move |tally| {
                send_in_bursts(tally, &mut sender, &received)
            })]
        },
    },
    #[cfg(feature = "tracing")]
    Job {
        name: "tracing-events",
        // The thread's first event registers its callsite and its thread in
        // the ring's dictionary, and sets up tracing's and the registry's
        // per-thread state (allocations): once, before confinement.
        warm_up: true,
        build: || {
            use tracing_subscriber::layer::SubscriberExt as _;
            let (sender, receiver) = logring::channel::mpsc::new(1 << 20).unwrap();
            let written = Arc::new(AtomicU64::new(0));
            // The writer thread is not confined: it polls the ring, sleeping
            // between its looks, and decodes each event into a line.
            let lines = LineCounter(Arc::clone(&written));
            let writer =
                logring::events::Writer::spawn(receiver, lines, logring::events::Format::Text)
                    .unwrap();
            mem::forget(writer);
            let subscriber =
                tracing_subscriber::registry().with(logring::tracing::Layer::new(sender));
            tracing::subscriber::set_global_default(subscriber).unwrap();
            let mut logged = 0u64;
            vec![Box::new(move |tally| {
                log_in_bursts(tally, &written, &mut logged)
            })]
        },
    },
    #[cfg(feature = "macros")]
    Job {
        name: "macro-events",
        // The thread's first events register their callsites and the thread
        // in the ring's dictionary, and set up the thread's clock: once,
        // before confinement.
        warm_up: true,
        build: || {
            let (sender, receiver) = logring::channel::mpsc::new(1 << 20).unwrap();
            let written = Arc::new(AtomicU64::new(0));
            // The writer thread is not confined (see "tracing-events").
            let lines = LineCounter(Arc::clone(&written));
            let writer =
                logring::events::Writer::spawn(receiver, lines, logring::events::Format::Text)
                    .unwrap();
            mem::forget(writer);
            // The child's only global sender: this job runs once.
            logring::events::set_global(sender).unwrap();
            let mut logged = 0u64;
            vec![Box::new(move |tally| {
                log_macros_in_bursts(tally, &written, &mut logged)
            })]
        },
    },
];

/// Counts the lines written to it.
#[cfg(any(feature = "tracing", feature = "macros"))]
struct LineCounter(Arc<AtomicU64>);

#[cfg(any(feature = "tracing", feature = "macros"))]
impl io::Write for LineCounter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let lines = buf.iter().filter(|&&b| b == b'\n').count() as u64;
        self.0.fetch_add(lines, Ordering::Release);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Logs bursts of `tracing` events (typed fields, a formatted message)
/// through logring's layer, pausing after each until the writer has
/// written them all and then long enough for it to fall asleep. Checks
/// that every event was written.
#[cfg(feature = "tracing")]
fn log_in_bursts(tally: &mut Tally, written: &AtomicU64, logged: &mut u64) {
    const BURSTS: u64 = 50;
    const BURST: u64 = 20;
    for _ in 0..BURSTS {
        for _ in 0..BURST {
            let seq = *logged;
            tracing::info!(
                seq,
                px = 101.25,
                side = "buy",
                "filled {} of {}",
                seq % 10,
                10
            );
            *logged += 1;
            tally.records += 1;
        }
        let mut spins = 0u64;
        while written.load(Ordering::Acquire) < *logged && spins < 1 << 32 {
            std::hint::spin_loop();
            spins += 1;
        }
        for _ in 0..200_000 {
            std::hint::spin_loop();
        }
    }
    tally.check(written.load(Ordering::Acquire) == *logged);
}

/// A type of the macros' slow path (formatted into the record), which
/// formats without allocating.
#[cfg(feature = "macros")]
struct Side(bool);

#[cfg(feature = "macros")]
impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(if self.0 { "buy" } else { "sell" })
    }
}

/// Logs bursts of events through logring's macros (integers, a float, a
/// string, a char, a width from an argument, a type of the slow path),
/// pausing after each burst as [`log_in_bursts`] does. Checks that every
/// event was written.
#[cfg(feature = "macros")]
fn log_macros_in_bursts(tally: &mut Tally, written: &AtomicU64, logged: &mut u64) {
    const BURSTS: u64 = 50;
    const BURST: u64 = 20;
    for _ in 0..BURSTS {
        for _ in 0..BURST / 2 {
            let seq = *logged;
            logring::info!("order {} filled at {:>8.2} by {:?}", seq, 101.25, "ann");
            logring::warn!(
                target: "fills",
                "{seq:#x} {:>w$} {side:^6} {c}",
                seq % 10,
                w = 4usize,
                side = Side(seq % 2 == 0),
                c = 'é'
            );
            *logged += 2;
            tally.records += 2;
        }
        let mut spins = 0u64;
        while written.load(Ordering::Acquire) < *logged && spins < 1 << 32 {
            std::hint::spin_loop();
            spins += 1;
        }
        for _ in 0..200_000 {
            std::hint::spin_loop();
        }
    }
    tally.check(written.load(Ordering::Acquire) == *logged);
    tally.check(logring::events::global_dropped() == 0);
}

/// Sends bursts of records to a receiver that polls, pausing after each
/// until the receiver has caught up and then long enough for it to fall
/// asleep, so that most bursts begin while it sleeps: a sender that had to
/// wake it would make a system call. Checks that every record arrived.
fn send_in_bursts(
    tally: &mut Tally,
    sender: &mut logring::channel::spsc::Sender,
    received: &AtomicU64,
) {
    const BURSTS: u64 = 50;
    const BURST: u64 = 20;
    let mut seq = 0u64;
    for _ in 0..BURSTS {
        for _ in 0..BURST {
            let sent = sender.send(&seq.to_le_bytes());
            tally.check(sent.is_ok());
            seq += 1;
            tally.records += 1;
        }
        // Busy waits: reading the clock may be a system call in a virtual
        // machine.
        let mut spins = 0u64;
        while received.load(Ordering::Acquire) < seq && spins < 1 << 32 {
            std::hint::spin_loop();
            spins += 1;
        }
        for _ in 0..200_000 {
            std::hint::spin_loop();
        }
    }
    tally.check(received.load(Ordering::Acquire) == seq);
}

#[test]
fn confined_child() {
    let Some(role) = std::env::var_os(ROLE_VAR) else {
        return; // a normal run: only a child does this
    };
    // The filter kills as `SIGSYS` does, with a core dump: not of this.
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `no_core` is a valid `rlimit` for the call to read.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
    let pipe = Pipe::new();
    if role == "canary" {
        run_confined(
            &pipe,
            0,
            false,
            Box::new(|tally| {
                // SAFETY: getpid has no preconditions; here it is the forbidden
                // system call that must kill the process.
                let pid = unsafe { libc::syscall(libc::SYS_getpid) };
                tally.records = pid as u64;
            }),
        );
        match pipe.read_report().records {
            UNCONFINABLE => println!("{MARK}unconfinable"),
            pid => println!("{MARK}canary-survived {pid}"),
        }
        return;
    }
    for (index, job) in JOBS.iter().enumerate() {
        let works = (job.build)();
        let threads = works.len();
        for work in works {
            run_confined(&pipe, index as u64, job.warm_up, work);
        }
        let mut records = 0;
        let mut failed_at = 0;
        for _ in 0..threads {
            let report = pipe.read_report();
            if report.records == UNCONFINABLE {
                println!("{MARK}unconfinable");
                return;
            }
            assert_eq!(report.job, index as u64, "reports of one job at a time");
            records += report.records;
            if failed_at == 0 {
                failed_at = report.failed_at;
            }
        }
        println!("{MARK}{} {records} {failed_at}", job.name);
    }
}

/// What a confined thread counts, instead of panicking.
#[derive(Default)]
struct Tally {
    /// Records handled.
    records: u64,
    /// The line of this file of the first check that failed (0: none).
    failed_at: u32,
}

impl Tally {
    #[track_caller]
    fn check(&mut self, ok: bool) {
        if !ok && self.failed_at == 0 {
            self.failed_at = Location::caller().line();
        }
    }
}

/// What a confined thread writes to the pipe before it exits.
#[repr(C)]
#[derive(Clone, Copy)]
struct Report {
    job: u64,
    records: u64,
    failed_at: u32,
    _pad: u32,
}

/// `records` of a thread that could not confine itself.
const UNCONFINABLE: u64 = u64::MAX;

/// The pipe confined threads report through.
struct Pipe {
    read: File,
    write: RawFd,
}

impl Pipe {
    fn new() -> Self {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe(2) returns.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
        Self {
            // SAFETY: a descriptor pipe(2) just returned, owned here alone.
            read: unsafe { File::from_raw_fd(fds[0]) },
            write: fds[1],
        }
    }

    fn read_report(&self) -> Report {
        let mut bytes = [0u8; size_of::<Report>()];
        (&self.read)
            .read_exact(&mut bytes)
            .expect("a confined thread's report");
        // SAFETY: `Report` is plain integers, valid for any bytes, and
        // `bytes` holds exactly one; read unaligned from the byte array.
        unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) }
    }
}

/// Runs `work` on a new thread that confines itself first, then writes its
/// report (tagged with `job`) to `pipe` and exits with the raw system call.
/// Nothing of the thread is joined: its report is its result.
fn run_confined(pipe: &Pipe, job: u64, warm_up: bool, mut work: Work) {
    let fd = pipe.write;
    let handle = thread::spawn(move || {
        if warm_up {
            work(&mut Tally::default());
        }
        let mut tally = Tally::default();
        if confine() {
            work(&mut tally);
        } else {
            tally.records = UNCONFINABLE;
        }
        let report = Report {
            job,
            records: tally.records,
            failed_at: tally.failed_at,
            _pad: 0,
        };
        // SAFETY: `report` is `size_of::<Report>()` readable bytes; `fd` is
        // the pipe's write end, open for the child's life. A write of fewer
        // bytes than PIPE_BUF is atomic.
        unsafe { libc::write(fd, (&raw const report).cast(), size_of::<Report>()) };
        // SAFETY: ends this thread only; it holds no lock, and what it owns
        // (`work`, and the queue ends in it) is leaked with it: destructors
        // could make system calls, and the process ends soon anyway.
        unsafe { libc::syscall(libc::SYS_exit, 0) };
        unreachable!("the thread has exited");
    });
    // The thread ends without telling the standard library: never join it.
    mem::forget(handle);
}

/// Confines this thread to `read`, `write`, `exit` and `sigreturn`: any
/// other system call kills the process. `false` if the kernel (or this test,
/// on this architecture) offers no way to.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn confine() -> bool {
    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xc000_003e;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xc000_00b7;
    const LOAD: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const IS: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const RETURN: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    const KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;
    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
    let op = |code, k, jt, jf| libc::sock_filter { code, jt, jf, k };
    // `struct seccomp_data`: the call's number at offset 0, the
    // architecture at offset 4.
    let program = [
        op(LOAD, 4, 0, 0),
        op(IS, AUDIT_ARCH, 1, 0),
        op(RETURN, KILL, 0, 0),
        op(LOAD, 0, 0, 0),
        op(IS, libc::SYS_read as u32, 4, 0),
        op(IS, libc::SYS_write as u32, 3, 0),
        op(IS, libc::SYS_exit as u32, 2, 0),
        op(IS, libc::SYS_rt_sigreturn as u32, 1, 0),
        op(RETURN, KILL, 0, 0),
        op(RETURN, ALLOW, 0, 0),
    ];
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: sets this thread's no-new-privileges bit (which an
    // unprivileged filter requires), then installs the filter, which the
    // kernel copies before the call returns.
    unsafe {
        libc::prctl(
            libc::PR_SET_NO_NEW_PRIVS,
            1 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        ) == 0
            && libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                &raw const fprog as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            ) == 0
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn confine() -> bool {
    false
}

// ---------------------------------------------------------------------------
// The operations, as confined threads run them
// ---------------------------------------------------------------------------

/// Both producers, so that one body of operations covers both queues.
trait Produce: Send {
    fn claim(&mut self, len: usize) -> Result<WriteClaim<'_>, ClaimError>;
    fn send(&mut self, payload: &[u8]) -> Result<(), ClaimError>;
}

impl Produce for spsc::Producer {
    fn claim(&mut self, len: usize) -> Result<WriteClaim<'_>, ClaimError> {
        self.try_claim(len)
    }
    fn send(&mut self, payload: &[u8]) -> Result<(), ClaimError> {
        self.try_send(payload)
    }
}

impl Produce for mpsc::Producer {
    fn claim(&mut self, len: usize) -> Result<WriteClaim<'_>, ClaimError> {
        self.try_claim(len)
    }
    fn send(&mut self, payload: &[u8]) -> Result<(), ClaimError> {
        self.try_send(payload)
    }
}

/// A well-mixed function of `x` (splitmix64's finaliser).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Byte `i` of the payload of the record with key `key`.
fn byte(key: u64, i: usize) -> u8 {
    (mix(key) as u8).wrapping_add((i as u8).wrapping_mul(7))
}

fn fill(key: u64, bytes: &mut [u8]) {
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = byte(key, i);
    }
}

fn matches(key: u64, bytes: &[u8]) -> bool {
    bytes.iter().enumerate().all(|(i, &b)| b == byte(key, i))
}

/// A record the consumer is to find: how it was made decides how it reads.
#[derive(Clone, Copy, Default)]
struct Expected {
    key: u64,
    len: usize,
    /// Written with `write!` (the key in hex, then the key's text), not
    /// filled with `byte`.
    text: bool,
    tag: u32,
}

/// A fixed-capacity queue of expected records (no allocation).
struct Fifo {
    items: [Expected; 256],
    head: usize,
    len: usize,
}

impl Fifo {
    fn new() -> Self {
        Self {
            items: [Expected::default(); 256],
            head: 0,
            len: 0,
        }
    }

    fn push(&mut self, tally: &mut Tally, item: Expected) {
        tally.check(self.len < self.items.len());
        self.items[(self.head + self.len) % self.items.len()] = item;
        self.len += 1;
    }

    fn pop(&mut self) -> Option<Expected> {
        if self.len == 0 {
            return None;
        }
        let item = self.items[self.head];
        self.head = (self.head + 1) % self.items.len();
        self.len -= 1;
        Some(item)
    }
}

/// A `fmt::Write` into a fixed buffer (to format what a text record holds).
struct Text {
    bytes: [u8; 64],
    len: usize,
}

impl std::fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.bytes.len() {
            return Err(std::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// What a text record with `key` holds (see `Expected::text`).
fn text_of(key: u64) -> Text {
    let mut text = Text {
        bytes: [0; 64],
        len: 0,
    };
    let _ = write!(text, "{key:016x}:{key}");
    text
}

/// Whether `bytes` and `tag` are what `expected` describes.
fn is_expected(expected: &Expected, bytes: &[u8], tag: u32) -> bool {
    let content = if expected.text {
        let text = text_of(expected.key);
        bytes == &text.bytes[..text.len]
    } else {
        matches(expected.key, bytes)
    };
    content && bytes.len() == expected.len && tag == expected.tag
}

/// Makes one record of `key` (or a claim that is given back), as the key
/// chooses; returns what the consumer is to find, if anything. `Full` if the
/// ring has no room.
fn make(producer: &mut dyn Produce, key: u64, max: usize) -> Result<Option<Expected>, ClaimError> {
    let choice = mix(key ^ 0x5eed);
    let len = (choice >> 8) as usize % (max + 1);
    let tag = (key as u32) | 1;
    let plain = Expected {
        key,
        len,
        text: false,
        tag: 0,
    };
    match choice % 7 {
        // A copy of a `&[u8]`.
        0 => {
            let mut payload = [0u8; 1024];
            fill(key, &mut payload[..len]);
            producer.send(&payload[..len])?;
            Ok(Some(plain))
        }
        // Written in place, tagged, committed.
        1 => {
            let mut claim = producer.claim(len)?;
            fill(key, &mut claim);
            claim.set_tag(tag).unwrap();
            claim.commit();
            Ok(Some(Expected { tag, ..plain }))
        }
        // Written in place, then aborted, explicitly or by dropping.
        2 | 3 => {
            let mut claim = producer.claim(len)?;
            fill(key, &mut claim);
            if choice % 7 == 2 {
                claim.abort();
            } else {
                drop(claim);
            }
            Ok(None)
        }
        // Truncated before commit.
        4 => {
            let mut claim = producer.claim(len)?;
            fill(key, &mut claim);
            claim.truncate(len / 2);
            claim.commit();
            Ok(Some(Expected {
                len: len / 2,
                ..plain
            }))
        }
        // Formatted in place through `io::Write` and `fmt::Write`, with a
        // write that does not fit refused on the way.
        5 => {
            let mut claim = producer.claim(max)?;
            let ok = io::Write::write_fmt(&mut claim, format_args!("{key:016x}")).is_ok()
                && claim.write(&[0; 2048]).is_err()
                && std::fmt::Write::write_fmt(&mut claim, format_args!(":{key}")).is_ok();
            claim.commit();
            let text = text_of(key);
            Ok(Some(Expected {
                len: if ok { text.len } else { usize::MAX },
                text: true,
                ..plain
            }))
        }
        // Too large, then the largest.
        _ => {
            let too_large = producer.claim(max + 1).map(drop);
            if !matches!(too_large, Err(ClaimError::TooLarge { len, max: m }) if len == max + 1 && m == max)
            {
                return Ok(Some(Expected {
                    len: usize::MAX,
                    ..plain
                }));
            }
            let mut claim = producer.claim(max)?;
            fill(key, &mut claim);
            claim.commit();
            Ok(Some(Expected { len: max, ..plain }))
        }
    }
}

/// Receives everything in `expected`, in order, in the way `round` picks;
/// then checks that the queue is empty.
fn drain(tally: &mut Tally, consumer: &mut Consumer, expected: &mut Fifo, round: u64) {
    match round % 3 {
        // One at a time: some left unread and read again, some released
        // explicitly, the rest by dropping the claim.
        0 => {
            let mut unread_at = None;
            loop {
                let record = match consumer.try_recv() {
                    Ok(record) => record,
                    Err(error) => {
                        tally.check(error == TryRecvError::Empty && unread_at.is_none());
                        break;
                    }
                };
                let position = record.position();
                if position % 3 == 0 && unread_at != Some(position) {
                    record.unread();
                    unread_at = Some(position);
                    continue;
                }
                tally.check(unread_at.is_none_or(|at| at == position));
                unread_at = None;
                let ok = expected
                    .pop()
                    .is_some_and(|want| is_expected(&want, &record, record.tag()));
                tally.check(ok);
                tally.records += 1;
                if position % 2 == 0 {
                    record.release();
                }
            }
        }
        // In batches of two, then all at once.
        limit => {
            let limit = if limit == 1 { 2 } else { usize::MAX };
            loop {
                let read = consumer.try_recv_batch(limit, |record| {
                    let ok = expected
                        .pop()
                        .is_some_and(|want| is_expected(&want, &record, record.tag()));
                    tally.check(ok);
                    tally.records += 1;
                });
                match read {
                    Ok(n) => tally.check(n > 0 && n <= limit),
                    Err(error) => {
                        tally.check(error == TryRecvError::Empty);
                        break;
                    }
                }
            }
        }
    }
    tally.check(expected.len == 0);
    tally.check(matches!(consumer.try_recv(), Err(TryRecvError::Empty)));
    tally.check(consumer.try_recv_batch(0, |_| {}) == Ok(0));
    tally.check(consumer.is_empty());
}

/// Rounds of a few records each, of every kind, through a small ring
/// (wrapping every few rounds), drained after each round; now and then the
/// ring is filled until a claim is refused as full.
fn rounds<P: Produce>(tally: &mut Tally, producer: &mut P, consumer: &mut Consumer) {
    let max = consumer.max_record_len();
    let mut expected = Fifo::new();
    let mut key = 0;
    for round in 0..20_000u64 {
        let records = 1 + mix(round) % 6;
        for _ in 0..records {
            key += 1;
            let made = match make(producer, key, max) {
                Err(ClaimError::Full) => {
                    drain(tally, consumer, &mut expected, round);
                    make(producer, key, max)
                }
                made => made,
            };
            match made {
                Ok(Some(record)) => expected.push(tally, record),
                Ok(None) => {}
                Err(_) => tally.check(false),
            }
        }
        if round % 97 == 0 {
            let rejections = consumer.full_rejections();
            loop {
                key += 1;
                match make(producer, key, max) {
                    Ok(Some(record)) => expected.push(tally, record),
                    Ok(None) => {}
                    Err(ClaimError::Full) => break,
                    Err(_) => {
                        tally.check(false);
                        break;
                    }
                }
            }
            tally.check(consumer.full_rejections() > rejections);
        }
        drain(tally, consumer, &mut expected, round);
    }
}

/// Two MPSC claims held at once, committed in the opposite order: nothing
/// is delivered while the first is open, then both in position order.
fn out_of_order(
    tally: &mut Tally,
    first: &mpsc::Producer,
    second: &mpsc::Producer,
    consumer: &mut Consumer,
) {
    let max = consumer.max_record_len() / 3;
    for key in 0..20_000u64 {
        let (a, b) = (key * 2, key * 2 + 1);
        let (len_a, len_b) = (mix(a) as usize % max, mix(b) as usize % max);
        let (Ok(mut claim_a), Ok(mut claim_b)) = (first.try_claim(len_a), second.try_claim(len_b))
        else {
            tally.check(false);
            return;
        };
        fill(a, &mut claim_a);
        fill(b, &mut claim_b);
        claim_b.commit();
        tally.check(matches!(consumer.try_recv(), Err(TryRecvError::Empty)));
        claim_a.commit();
        let mut keys = [a, b].into_iter();
        let read = consumer.try_recv_batch(usize::MAX, |record| {
            tally.check(keys.next().is_some_and(|key| matches(key, &record)));
            tally.records += 1;
        });
        tally.check(read == Ok(2));
    }
}

/// How many records each producing thread sends.
const PER_PRODUCER: u64 = 10_000;

/// The length of the record of `key` sent by a producing thread: its first
/// 8 bytes are the key, which says whose record it is.
fn threaded_len(key: u64) -> usize {
    8 + mix(key) as usize % 192
}

/// A producing thread: `PER_PRODUCER` records keyed by `id` and their
/// number, some of them aborted first (and sent again), spinning while the
/// ring is full; gives up once the consumer has (`stop`).
fn produce<P: Produce>(tally: &mut Tally, producer: &mut P, id: u64, stop: &AtomicBool) {
    let mut payload = [0u8; 200];
    for seq in 0..PER_PRODUCER {
        let key = id << 32 | seq;
        let len = threaded_len(key);
        payload[..8].copy_from_slice(&key.to_le_bytes());
        fill(key, &mut payload[8..len]);
        let mut abort_first = seq % 10 == 3;
        loop {
            let done = if abort_first {
                producer.claim(len).map(WriteClaim::abort)
            } else {
                producer.send(&payload[..len])
            };
            match done {
                Ok(()) if abort_first => abort_first = false,
                Ok(()) => break,
                Err(ClaimError::Full) if !stop.load(Ordering::Relaxed) => {
                    std::hint::spin_loop();
                }
                Err(_) => {
                    tally.check(false);
                    return;
                }
            }
        }
        tally.records += 1;
    }
}

/// The consuming thread: every record of `producers` producing threads,
/// each producer's in order, by single reads and batches; spins while the
/// ring is empty. Sets `stop` when it stops, so that producers do not wait
/// for it for ever.
fn receive(tally: &mut Tally, consumer: &mut Consumer, producers: u64, stop: &AtomicBool) {
    let mut next = [0u64; 2];
    let total = PER_PRODUCER * producers;
    let mut check = |tally: &mut Tally, bytes: &[u8]| {
        let ok = bytes.len() >= 8 && {
            let key = u64::from_le_bytes(bytes[..8].try_into().unwrap());
            let (id, seq) = (key >> 32, key & 0xffff_ffff);
            let ok = id < producers
                && seq == next[id as usize]
                && bytes.len() == threaded_len(key)
                && matches(key, &bytes[8..]);
            if ok {
                next[id as usize] += 1;
            }
            ok
        };
        tally.check(ok);
        tally.records += 1;
    };
    let mut polls = 0u64;
    while tally.records < total && tally.failed_at == 0 {
        polls += 1;
        if polls % 2 == 0 {
            match consumer.try_recv() {
                Ok(record) => check(tally, &record),
                Err(TryRecvError::Empty) => std::hint::spin_loop(),
                Err(_) => tally.check(false),
            }
        } else {
            let records = &mut *tally;
            let read = consumer.try_recv_batch(16, |record| check(records, &record));
            match read {
                Ok(n) => tally.check(n > 0 && n <= 16),
                Err(TryRecvError::Empty) => std::hint::spin_loop(),
                Err(_) => tally.check(false),
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    tally.check(
        next[..producers as usize]
            .iter()
            .all(|&seq| seq == PER_PRODUCER),
    );
    // The producers' records are counted by them.
    tally.records = 0;
    tally.check(matches!(consumer.try_recv(), Err(TryRecvError::Empty)));
}
