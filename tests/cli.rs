//! The `logring` command, run as the real binary in child processes, checked
//! against its user documentation (`logring --help` and the README):
//! records go through pipes and ring files between separate processes, tails
//! are stopped by SIGKILL, SIGINT and closed pipes, and every kind of bad
//! ring file is reported on one line of standard error.
//!
//! Every wait on a child has a deadline ([`PATIENCE`]) that catches hangs; no
//! test checks how fast anything is. Ring files live on `/dev/shm` under
//! unique names and are removed when a test ends, however it ends; children
//! still running when a test fails are killed.

#![cfg(all(target_os = "linux", feature = "cli"))]

use std::fs::{self, File, Permissions};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

mod ringfile;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use logring::file::{Mode, Options, RingFile};
use ringfile::{
    CAPACITY_AT, CONSUMED_AT, DATA_OFFSET_AT, HEAD_AT, HEADER, INITIALISED_AT, MAGIC_AT, MAJOR_AT,
    MAX_LEN_AT, MODE_AT, TAIL_AT, TempPath, patch, patch_u64, set_len,
};
use serde_json::Value;

/// The binary under test.
const LOGRING: &str = env!("CARGO_BIN_EXE_logring");

/// How long any one wait (for a child to exit, for its next line of output,
/// for a state to show in `stat`) may take before the test reports a hang.
const PATIENCE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Files.

/// A new ring file made with `logring create`.
fn create_ring(name: &str, capacity: &str, mode: &str) -> TempPath {
    let path = TempPath::in_memory(name);
    run(&["create", path.arg(), "--capacity", capacity, "--mode", mode]).ok();
    path
}

/// `logring write` on `ring`, its stderr kept, and the pipe to its stdin.
fn spawn_writer(ring: &TempPath) -> (Proc, ChildStdin) {
    let mut writer = Proc::logring(&["write", ring.arg()], Stdio::piped(), Stdio::null());
    let stdin = writer.take_stdin();
    (writer, stdin)
}

/// A valid, closed SPSC ring file of 4096 bytes made through the library,
/// for the tests that damage it.
fn library_ring(name: &str) -> TempPath {
    let path = TempPath::in_memory(name);
    let ring = RingFile::create(path.path(), Options::new(4096).mode(Mode::Spsc))
        .unwrap_or_else(|error| panic!("{error}"));
    drop(ring);
    path
}

// ---------------------------------------------------------------------------
// Child processes.

/// The tests that stream many records through several processes take turns,
/// so that they do not fight over the machine's cores.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    // A test that failed while holding the lock poisons it; the others run on.
    TURN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running child process whose stderr is collected; killed (SIGKILL) and
/// reaped when dropped if it has not exited by then.
struct Proc {
    child: Child,
    what: String,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl Proc {
    /// Starts `logring ARGS`.
    fn logring(args: &[&str], stdin: Stdio, stdout: Stdio) -> Self {
        let mut command = Command::new(LOGRING);
        command.args(args).stdin(stdin).stdout(stdout);
        Self::start(command, format!("`logring {}`", args.join(" ")))
    }

    /// Starts `command`, which is dropped once the child runs, so that the
    /// parent keeps no copy of a pipe end handed to the child.
    fn start(mut command: Command, what: String) -> Self {
        command.stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {what}: {error}"));
        drop(command);
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&stderr);
        let mut pipe = child.stderr.take().expect("stderr is piped");
        let stderr_reader = thread::spawn(move || {
            let mut buf = [0; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Self {
            child,
            what,
            stderr,
            stderr_reader: Some(stderr_reader),
            status: None,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the child, which must not have been reaped yet (so
    /// its pid cannot have been reused).
    fn signal(&self, signal: libc::c_int) {
        assert!(self.status.is_none(), "{} was already reaped", self.what);
        let pid = libc::pid_t::try_from(self.pid()).unwrap();
        // SAFETY: kill(2) touches no memory of ours; the pid is our own
        // child, not reaped yet, so it names no other process.
        let result = unsafe { libc::kill(pid, signal) };
        assert_eq!(result, 0, "kill({pid}, {signal}) failed");
    }

    fn take_stdin(&mut self) -> ChildStdin {
        self.child.stdin.take().expect("stdin is piped")
    }

    fn take_stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().expect("stdout is piped")
    }

    /// The child's stdout, line by line.
    fn lines(&mut self) -> Lines {
        self.lines_up_to(usize::MAX)
    }

    /// The child's stdout, line by line, up to `limit` lines; then the read
    /// end of the pipe is closed.
    fn lines_up_to(&mut self, limit: usize) -> Lines {
        Lines::new(
            self.take_stdout(),
            limit,
            self.what.clone(),
            Arc::clone(&self.stderr),
        )
    }

    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Waits for the child to exit (within [`PATIENCE`]).
    fn wait(&mut self) -> ExitStatus {
        self.wait_within(PATIENCE)
    }

    /// Waits for the child to exit; fails the test, with the child's stderr,
    /// if it has not within `limit`.
    fn wait_within(&mut self, limit: Duration) -> ExitStatus {
        if let Some(status) = self.status {
            return status;
        }
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.status = Some(status);
                    if let Some(reader) = self.stderr_reader.take() {
                        reader.join().unwrap();
                    }
                    return status;
                }
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                Ok(None) => panic!(
                    "{} did not exit within {limit:?}; its stderr: {:?}",
                    self.what,
                    self.stderr_text()
                ),
                Err(error) => panic!("cannot wait for {}: {error}", self.what),
            }
        }
    }

    /// Waits for the child to exit with `code`.
    fn expect_exit(&mut self, code: i32) {
        self.expect_exit_within(code, PATIENCE);
    }

    fn expect_exit_within(&mut self, code: i32, limit: Duration) {
        let status = self.wait_within(limit);
        assert_eq!(
            status.code(),
            Some(code),
            "{} ended with {status}; its stderr: {:?}",
            self.what,
            self.stderr_text()
        );
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A child's output, read line by line on a thread; every wait for a line
/// has a deadline.
struct Lines {
    lines: mpsc::Receiver<String>,
    what: String,
    stderr: Arc<Mutex<Vec<u8>>>,
    received: usize,
}

impl Lines {
    fn new(
        output: impl Read + Send + 'static,
        limit: usize,
        what: String,
        stderr: Arc<Mutex<Vec<u8>>>,
    ) -> Self {
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            let mut output = BufReader::new(output);
            let mut line = Vec::new();
            for _ in 0..limit {
                line.clear();
                match output.read_until(b'\n', &mut line) {
                    Ok(1..) => {}
                    Ok(0) | Err(_) => break,
                }
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                if sender
                    .send(String::from_utf8_lossy(&line).into_owned())
                    .is_err()
                {
                    break;
                }
            }
            // Dropping `output` here closes the read end of the pipe.
        });
        Self {
            lines,
            what,
            stderr,
            received: 0,
        }
    }

    /// The next line, or `None` at the end of the output.
    fn next(&mut self) -> Option<String> {
        match self.lines.recv_timeout(PATIENCE) {
            Ok(line) => {
                self.received += 1;
                Some(line)
            }
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!(
                "no output from {} for {PATIENCE:?} after {} lines; its stderr: {:?}",
                self.what,
                self.received,
                String::from_utf8_lossy(&self.stderr.lock().unwrap())
            ),
        }
    }

    /// The next line, which must come.
    fn expect(&mut self) -> String {
        let received = self.received;
        self.next()
            .unwrap_or_else(|| panic!("{} ended after {received} lines", self.what))
    }

    /// Every line up to the end of the output.
    fn rest(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.next()).collect()
    }
}

/// What a finished `logring` run did.
struct Ran {
    what: String,
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs `logring ARGS` with empty input and waits for it (within
/// [`PATIENCE`]).
fn run(args: &[&str]) -> Ran {
    run_with(args, b"")
}

/// Runs `logring ARGS` with `input` on its stdin and waits for it.
fn run_with(args: &[&str], input: &[u8]) -> Ran {
    finish(Proc::logring(args, Stdio::piped(), Stdio::piped()), input)
}

/// User and group id 65534, nobody's.
const NOBODY: u32 = 65534;

/// Whether this test runs as root, and so can run `logring` as another user.
fn is_root() -> bool {
    // SAFETY: geteuid only returns this process's effective user id.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `logring ARGS` as user and group 65534 (nobody; no other groups),
/// to whom the file permissions apply. Only root can.
fn run_as_nobody(args: &[&str]) -> Ran {
    let mut command = Command::new(LOGRING);
    // Root's other groups are dropped when the user changes.
    command
        .args(args)
        .uid(NOBODY)
        .gid(NOBODY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let what = format!("`logring {}` as nobody", args.join(" "));
    finish(Proc::start(command, what), b"")
}

/// Feeds `input` to the child `proc`, collects its output and waits for it.
fn finish(mut proc: Proc, input: &[u8]) -> Ran {
    let mut stdin = proc.take_stdin();
    let input = input.to_vec();
    // The child may exit without reading its input: ignore the broken pipe.
    let feeder = thread::spawn(move || drop(stdin.write_all(&input)));
    let mut stdout = proc.take_stdout();
    let reader = thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let status = proc.wait();
    let stdout = reader.join().unwrap();
    feeder.join().unwrap();
    Ran {
        what: proc.what.clone(),
        status,
        stdout,
        stderr: proc.stderr.lock().unwrap().clone(),
    }
}

impl Ran {
    fn describe(&self) -> String {
        format!(
            "{} ended with {}\nstdout: {:?}\nstderr: {:?}",
            self.what,
            self.status,
            String::from_utf8_lossy(&self.stdout),
            String::from_utf8_lossy(&self.stderr)
        )
    }

    /// Asserts exit status 0.
    fn ok(self) -> Self {
        assert_eq!(self.status.code(), Some(0), "{}", self.describe());
        self
    }

    fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Standard output, line by line.
    fn lines(&self) -> Vec<String> {
        let out = self.out();
        let out = out.strip_suffix('\n').unwrap_or(&out);
        if out.is_empty() {
            Vec::new()
        } else {
            out.split('\n').map(str::to_owned).collect()
        }
    }

    /// Standard output as JSON, one value per line.
    fn json_lines(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|error| panic!("not JSON ({error}): {line:?}"))
            })
            .collect()
    }

    /// Asserts exit status `code`, nothing on stdout, and exactly one line on
    /// stderr, `logring: ...`, containing each of `says`.
    fn fails(&self, code: i32, says: &[&str]) {
        let describe = self.describe();
        assert_eq!(self.status.code(), Some(code), "{describe}");
        assert!(self.stdout.is_empty(), "output on stdout: {describe}");
        let err = self.err();
        assert!(
            err.ends_with('\n') && err.matches('\n').count() == 1,
            "not exactly one line on stderr: {describe}"
        );
        assert!(
            err.starts_with("logring: "),
            "stderr does not start with `logring: `: {describe}"
        );
        for says in says {
            assert!(
                err.contains(says),
                "stderr does not say {says:?}: {describe}"
            );
        }
    }

    /// Asserts a usage error: status 2, nothing on stdout, something on
    /// stderr.
    fn usage_error(&self) {
        let describe = self.describe();
        assert_eq!(self.status.code(), Some(2), "{describe}");
        assert!(self.stdout.is_empty(), "output on stdout: {describe}");
        assert!(!self.stderr.is_empty(), "nothing on stderr: {describe}");
    }
}

// ---------------------------------------------------------------------------
// The ring's state, through `logring stat --json`.

fn stat_json(path: &TempPath) -> Value {
    let ran = run(&["stat", path.arg(), "--json"]).ok();
    serde_json::from_str(ran.out().trim())
        .unwrap_or_else(|error| panic!("stat --json is not JSON ({error}): {}", ran.describe()))
}

fn field(stat: &Value, name: &str) -> u64 {
    stat[name]
        .as_u64()
        .unwrap_or_else(|| panic!("stat has no number {name}: {stat}"))
}

/// Polls `stat --json` until `ready` holds; returns that state.
fn stat_until(path: &TempPath, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let stat = stat_json(path);
        if ready(&stat) {
            return stat;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen within {PATIENCE:?}; last stat: {stat}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------
// Numbered lines.

/// Line `n` of a numbered stream: distinct, of varied length.
fn numbered(n: u64) -> String {
    let pad = (n.wrapping_mul(7919) % 61) as usize;
    let tail: String = (0..pad)
        .map(|i| char::from(b'a' + ((n as usize + i) % 26) as u8))
        .collect();
    format!("line {n:06} {tail}")
}

/// Lines `range` of the numbered stream, each with its newline.
fn numbered_input(range: std::ops::RangeInclusive<u64>) -> Vec<u8> {
    let mut input = Vec::new();
    for n in range {
        input.extend_from_slice(numbered(n).as_bytes());
        input.push(b'\n');
    }
    input
}

/// The number of numbered line `line`.
fn number_of(line: &str) -> u64 {
    line.strip_prefix("line ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a numbered line: {line:?}"))
}

/// Asserts that `got` is exactly the numbered lines `range`, in order;
/// reports the first difference.
fn assert_numbered(got: &[String], range: std::ops::RangeInclusive<u64>, what: &str) {
    let expected: Vec<String> = range.clone().map(numbered).collect();
    if let Some(i) = (0..got.len().min(expected.len())).find(|&i| got[i] != expected[i]) {
        panic!(
            "{what}: line {i} is {:?}, expected {:?} (previous {:?}, next {:?}; {} lines, \
             expected {range:?})",
            got[i],
            expected[i],
            i.checked_sub(1).map(|j| &got[j]),
            got.get(i + 1),
            got.len()
        );
    }
    assert_eq!(
        got.len(),
        expected.len(),
        "{what}: {} lines, expected {range:?}; last {:?}",
        got.len(),
        got.last()
    );
}

/// Feeds `input` to `stdin` on a thread, then closes it.
fn feed(stdin: ChildStdin, input: Vec<u8>) -> JoinHandle<std::io::Result<()>> {
    thread::spawn(move || {
        let mut stdin = BufWriter::new(stdin);
        stdin.write_all(&input)?;
        stdin.flush()
    })
}

// ---------------------------------------------------------------------------
// 1. Round trips through pipes, with a tail killed in the middle.

/// 100,000 lines go from a writer's stdin through a small ring to two tails
/// in turn, the first killed with SIGKILL in the middle: together they print
/// every line once, in order, except that the record the first was printing
/// when it died may be printed again by the second.
fn round_trip_through_a_sigkilled_tail(mode: &str) {
    const LINES: u64 = 100_000;
    let _turn = one_at_a_time();
    let ring = create_ring("sigkill", "64KiB", mode);

    let (mut writer, stdin) = spawn_writer(&ring);
    let feeder = feed(stdin, numbered_input(1..=LINES));

    let mut first = Proc::logring(&["tail", ring.arg()], Stdio::null(), Stdio::piped());
    let mut lines = first.lines();
    let mut printed_first: Vec<String> = (0..40_000).map(|_| lines.expect()).collect();
    first.signal(libc::SIGKILL);
    // What it wrote before it died is still in the pipe.
    printed_first.extend(lines.rest());
    let status = first.wait();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "first tail: {status}");

    let mut second = Proc::logring(&["tail", ring.arg()], Stdio::null(), Stdio::piped());
    let mut lines = second.lines();
    let last = numbered(LINES);
    let mut printed_second = Vec::new();
    loop {
        let line = lines.expect();
        let done = line == last;
        printed_second.push(line);
        if done {
            break;
        }
    }
    second.signal(libc::SIGINT);
    printed_second.extend(lines.rest());
    second.expect_exit(0);
    assert_eq!(second.stderr_text(), "", "second tail's stderr");

    feeder.join().unwrap().expect("feeding the writer");
    writer.expect_exit(0);

    let seam_repeated = matches!(
        (printed_first.last(), printed_second.first()),
        (Some(a), Some(b)) if a == b
    );
    let mut all = printed_first;
    let seam = all.len();
    all.extend(printed_second.into_iter().skip(usize::from(seam_repeated)));
    assert_numbered(
        &all,
        1..=LINES,
        &format!("{mode}: both tails (first printed {seam}, seam repeated: {seam_repeated})"),
    );
}

#[test]
fn spsc_round_trip_of_100000_lines_survives_a_sigkilled_tail() {
    round_trip_through_a_sigkilled_tail("spsc");
}

#[test]
fn mpsc_round_trip_of_100000_lines_survives_a_sigkilled_tail() {
    round_trip_through_a_sigkilled_tail("mpsc");
}

// ---------------------------------------------------------------------------
// 2. SIGINT.

#[test]
fn sigint_mid_stream_loses_and_repeats_nothing() {
    const LINES: u64 = 20_000;
    let _turn = one_at_a_time();
    let ring = create_ring("sigint", "4MiB", "spsc");
    run_with(&["write", ring.arg()], &numbered_input(1..=LINES)).ok();

    let mut tail = Proc::logring(&["tail", ring.arg()], Stdio::null(), Stdio::piped());
    let mut lines = tail.lines();
    let mut printed: Vec<String> = (0..5_000).map(|_| lines.expect()).collect();
    tail.signal(libc::SIGINT);
    printed.extend(lines.rest());
    tail.expect_exit(0);
    assert_eq!(tail.stderr_text(), "", "tail's stderr");
    let first = printed.len();

    printed.extend(run(&["tail", ring.arg(), "--no-follow"]).ok().lines());
    assert_numbered(
        &printed,
        1..=LINES,
        &format!("the interrupted tail ({first} lines) and the next"),
    );
}

// ---------------------------------------------------------------------------
// 3. A closed output.

/// Starts `logring tail PATH` piped into `head -n N`; returns (tail, head).
fn tail_into_head(ring: &TempPath, n: usize) -> (Proc, Proc) {
    let mut tail = Proc::logring(&["tail", ring.arg()], Stdio::null(), Stdio::piped());
    let mut head = Command::new("head");
    head.arg("-n")
        .arg(n.to_string())
        .stdin(Stdio::from(tail.take_stdout()))
        .stdout(Stdio::piped());
    let head = Proc::start(head, format!("`head -n {n}`"));
    (tail, head)
}

#[test]
fn tail_into_head_stops_quietly_and_keeps_what_it_did_not_print() {
    // Records larger than a pipe holds a dozen of, so that `tail` is still
    // printing when `head` leaves.
    let ring = create_ring("head", "1MiB", "spsc");
    let big = |n: u64| format!("line {n:06} {}", "y".repeat(5000));
    let input: String = (1..=100).map(|n| big(n) + "\n").collect();
    run_with(&["write", ring.arg()], input.as_bytes()).ok();

    let (mut tail, mut head) = tail_into_head(&ring, 5);
    let printed = head.lines().rest();
    head.expect_exit(0);
    tail.expect_exit(0);
    assert_eq!(
        tail.stderr_text(),
        "",
        "tail's stderr (no broken pipe noise)"
    );
    let expected: Vec<String> = (1..=5).map(big).collect();
    assert_eq!(printed, expected, "what head printed");

    let rest = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    assert!(
        !rest.is_empty(),
        "tail released all 100 records, but a pipe cannot hold them"
    );
    let first = number_of(&rest[0]);
    assert!(first > 5, "record {first} again after head printed 1..=5");
    let expected: Vec<String> = (first..=100).map(big).collect();
    assert!(
        rest == expected,
        "the next tail printed {} records from {first}, not {first}..=100",
        rest.len()
    );
}

#[test]
fn an_idle_tail_notices_its_closed_output() {
    let ring = create_ring("idle-head", "64KiB", "spsc");
    run_with(&["write", ring.arg()], &numbered_input(1..=5)).ok();

    // `head` leaves after the fifth line; no record ever comes after it.
    let (mut tail, mut head) = tail_into_head(&ring, 5);
    assert_numbered(&head.lines().rest(), 1..=5, "head");
    head.expect_exit(0);
    tail.expect_exit_within(0, Duration::from_secs(10));
    assert_eq!(tail.stderr_text(), "", "tail's stderr");

    // All five were printed, so all five were released.
    let rest = run(&["tail", ring.arg(), "--no-follow"]).ok();
    assert_eq!(rest.out(), "", "left in the ring");
}

#[test]
fn a_tail_with_a_closed_output_releases_nothing_it_did_not_print() {
    const LINES: u64 = 50;
    let ring = create_ring("closed", "64KiB", "spsc");
    let mut tail = Proc::logring(&["tail", ring.arg()], Stdio::null(), Stdio::piped());
    drop(tail.take_stdout());
    // Let it attach first (or notice the closed pipe and leave).
    let pid = u64::from(tail.pid());
    let deadline = Instant::now() + PATIENCE;
    while stat_json(&ring)["consumer_pid"].as_u64() != Some(pid) {
        if tail.child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "tail never attached");
        thread::sleep(Duration::from_millis(10));
    }
    run_with(&["write", ring.arg()], &numbered_input(1..=LINES)).ok();
    tail.expect_exit(0);
    assert_eq!(tail.stderr_text(), "", "tail's stderr");

    let rest = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    assert_numbered(&rest, 1..=LINES, "the next tail");
}

#[test]
fn a_tail_whose_first_write_fails_leaves_that_record() {
    const LINES: u64 = 20;
    let ring = create_ring("epipe", "64KiB", "spsc");
    run_with(&["write", ring.arg()], &numbered_input(1..=LINES)).ok();
    // A pipe whose reader is gone before the tail starts: its first write,
    // of record 1, fails with EPIPE.
    let mut ends = [0; 2];
    // SAFETY: `ends` has room for the two descriptors pipe(2) writes.
    assert_eq!(unsafe { libc::pipe(ends.as_mut_ptr()) }, 0, "pipe(2)");
    // SAFETY: pipe(2) just opened both descriptors, and nothing else owns them.
    let (reader, writer) = unsafe {
        use std::os::fd::{FromRawFd, OwnedFd};
        (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1]))
    };
    drop(reader);
    let mut tail = Proc::logring(&["tail", ring.arg()], Stdio::null(), Stdio::from(writer));
    tail.expect_exit(0);
    assert_eq!(tail.stderr_text(), "", "tail's stderr");

    let rest = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    assert_numbered(&rest, 1..=LINES, "the next tail");
}

// ---------------------------------------------------------------------------
// 4. Output formats.

/// The records of the format tests: (payload, tag). All but the last are
/// written as lines; the last, holding a newline, with `--raw`.
fn format_records() -> Vec<(Vec<u8>, u64)> {
    let lines: [&[u8]; 9] = [
        b"plain text",
        b"x",
        b"bad \xff\xfe utf-8",
        b"tab\there",
        b"esc \x1b[31mred\x1b[0m",
        b"nul \x00 del \x7f",
        "h\u{e9}llo \u{2713}".as_bytes(),
        b"the quick brown fox jumps over the lazy dog",
        b"",
    ];
    let mut records: Vec<(Vec<u8>, u64)> = lines.iter().map(|line| (line.to_vec(), 0)).collect();
    records.push((b"cr\r nl\n end".to_vec(), 7));
    records
}

/// A new ring holding the records of [`format_records`].
fn format_ring(name: &str) -> TempPath {
    let ring = create_ring(name, "64KiB", "spsc");
    let records = format_records();
    let (raw, lines) = records.split_last().unwrap();
    let mut input = Vec::new();
    for (line, _) in lines {
        input.extend_from_slice(line);
        input.push(b'\n');
    }
    run_with(&["write", ring.arg()], &input).ok();
    let chunk = raw.0.len().to_string();
    let tag = raw.1.to_string();
    run_with(
        &[
            "write",
            ring.arg(),
            "--raw",
            "--chunk-size",
            &chunk,
            "--tag",
            &tag,
        ],
        &raw.0,
    )
    .ok();
    ring
}

#[test]
fn text_format_escapes_invalid_utf8_and_control_characters() {
    let ring = format_ring("text");
    let ran = run(&["tail", ring.arg(), "--no-follow", "--format", "text"]).ok();
    let expected = "plain text\n\
                    x\n\
                    bad \\xff\\xfe utf-8\n\
                    tab\there\n\
                    esc \\x1b[31mred\\x1b[0m\n\
                    nul \\x00 del \\x7f\n\
                    h\u{e9}llo \u{2713}\n\
                    the quick brown fox jumps over the lazy dog\n\
                    \n\
                    cr\\r nl\\n end\n";
    assert_eq!(ran.out(), expected, "{}", ran.describe());
    assert_eq!(ran.err(), "");
    // The default format is text.
    let ring = format_ring("default");
    assert_eq!(
        run(&["tail", ring.arg(), "--no-follow"]).ok().out(),
        expected
    );
}

#[test]
fn json_format_describes_every_record() {
    let ring = format_ring("json");
    let ran = run(&["tail", ring.arg(), "--no-follow", "--format", "json"]).ok();
    let records = format_records();
    let objects = ran.json_lines();
    assert_eq!(objects.len(), records.len(), "{}", ran.describe());
    let mut last_position = None;
    for (i, (object, (payload, tag))) in objects.iter().zip(&records).enumerate() {
        let keys: Vec<&str> = object
            .as_object()
            .unwrap_or_else(|| panic!("not an object: {object}"))
            .keys()
            .map(String::as_str)
            .collect();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["encoding", "length", "payload", "position", "seq", "tag"],
            "{object}"
        );
        assert_eq!(field(object, "seq"), i as u64 + 1, "{object}");
        let position = field(object, "position");
        assert!(
            last_position.is_none_or(|last| position > last),
            "positions do not increase: {object} after {last_position:?}"
        );
        last_position = Some(position);
        assert_eq!(field(object, "length"), payload.len() as u64, "{object}");
        assert_eq!(field(object, "tag"), *tag, "{object}");
        let text = object["payload"].as_str().expect("a string payload");
        match std::str::from_utf8(payload) {
            Ok(utf8) => {
                assert_eq!(object["encoding"], "utf8", "{object}");
                assert_eq!(text, utf8, "{object}");
            }
            Err(_) => {
                assert_eq!(object["encoding"], "base64", "{object}");
                assert_eq!(BASE64.decode(text).unwrap(), *payload, "{object}");
            }
        }
    }
}

/// The ASCII column of `hexdump -C` for `bytes`.
fn printable(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect()
}

/// Checks a `hexdump -C`-style dump of `payload`: lines `OFFSET  HEX
/// |ASCII|`, 16 bytes a line, optionally closed by a line holding only the
/// length.
fn check_hexdump(dump: &[String], payload: &[u8], what: &str) {
    let mut bytes = Vec::new();
    let mut closed = false;
    for line in dump {
        assert!(!closed, "{what}: a line after the closing offset: {line:?}");
        let (offset, rest) = line.split_once("  ").unwrap_or((line, ""));
        assert!(
            offset.len() == 8 && offset.bytes().all(|b| b.is_ascii_hexdigit()),
            "{what}: no offset: {line:?}"
        );
        let offset = u64::from_str_radix(offset, 16).unwrap();
        if rest.trim().is_empty() {
            assert_eq!(offset, payload.len() as u64, "{what}: closing offset");
            closed = true;
            continue;
        }
        assert_eq!(offset, bytes.len() as u64, "{what}: offset of {line:?}");
        let (hex, ascii) = rest
            .split_once('|')
            .unwrap_or_else(|| panic!("{what}: no ASCII column: {line:?}"));
        let ascii = ascii
            .strip_suffix('|')
            .unwrap_or_else(|| panic!("{what}: ASCII column not closed: {line:?}"));
        let line_bytes: Vec<u8> = hex
            .split_whitespace()
            .map(|byte| {
                assert_eq!(byte.len(), 2, "{what}: {line:?}");
                u8::from_str_radix(byte, 16)
                    .unwrap_or_else(|_| panic!("{what}: not a hex byte {byte:?}: {line:?}"))
            })
            .collect();
        assert!(
            (1..=16).contains(&line_bytes.len()),
            "{what}: {} bytes on {line:?}",
            line_bytes.len()
        );
        assert_eq!(ascii, printable(&line_bytes), "{what}: ASCII of {line:?}");
        bytes.extend(line_bytes);
    }
    assert_eq!(bytes, payload, "{what}: the dumped bytes");
}

#[test]
fn hex_format_dumps_every_record_under_a_header_line() {
    // Identical rings hold their records at identical positions.
    let json_ring = format_ring("hex-positions");
    let positions: Vec<u64> = run(&["tail", json_ring.arg(), "--no-follow", "--format", "json"])
        .ok()
        .json_lines()
        .iter()
        .map(|object| field(object, "position"))
        .collect();
    let ring = format_ring("hex");
    let ran = run(&["tail", ring.arg(), "--no-follow", "--format", "hex"]).ok();
    let lines: Vec<String> = ran
        .lines()
        .into_iter()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let records = format_records();
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("record "))
        .collect();
    assert_eq!(starts.len(), records.len(), "{}", ran.describe());
    assert_eq!(starts[0], 0, "{}", ran.describe());
    for (i, (payload, tag)) in records.iter().enumerate() {
        let header = format!(
            "record {}: position {}, {} bytes, tag {tag}",
            i + 1,
            positions[i],
            payload.len()
        );
        // The docs say `LEN bytes`; "1 byte" is taken as the same.
        let singular = header.replace(", 1 bytes,", ", 1 byte,");
        assert!(
            lines[starts[i]] == header || lines[starts[i]] == singular,
            "{:?} is not {header:?}",
            lines[starts[i]]
        );
        let end = starts.get(i + 1).copied().unwrap_or(lines.len());
        check_hexdump(&lines[starts[i] + 1..end], payload, &header);
    }
}

// ---------------------------------------------------------------------------
// 5. When tail stops.

#[test]
fn count_prints_exactly_n_and_leaves_the_rest() {
    let ring = create_ring("count", "64KiB", "spsc");
    run_with(&["write", ring.arg()], &numbered_input(1..=10)).ok();
    let ran = run(&["tail", ring.arg(), "--count", "3"]).ok();
    assert_numbered(&ran.lines(), 1..=3, "tail --count 3");
    let ran = run(&["tail", ring.arg(), "--no-follow"]).ok();
    assert_numbered(&ran.lines(), 4..=10, "the next tail");
}

#[test]
fn timeout_ends_an_idle_tail() {
    let ring = create_ring("timeout", "64KiB", "spsc");
    let ran = run(&["tail", ring.arg(), "--timeout", "300ms"]).ok();
    assert_eq!(ran.out(), "", "an empty ring");
    run_with(&["write", ring.arg()], &numbered_input(1..=2)).ok();
    let ran = run(&["tail", ring.arg(), "--timeout", "300ms"]).ok();
    assert_numbered(&ran.lines(), 1..=2, "tail --timeout 300ms");
}

#[test]
fn no_follow_on_an_empty_ring_prints_nothing() {
    let ring = create_ring("empty", "64KiB", "mpsc");
    let ran = run(&["tail", ring.arg(), "--no-follow"]).ok();
    assert_eq!(ran.out(), "", "{}", ran.describe());
    assert_eq!(ran.err(), "", "{}", ran.describe());
}

#[test]
fn no_follow_ends_while_a_writer_is_attached_and_writing() {
    let _turn = one_at_a_time();
    let ring = create_ring("live-no-follow", "4MiB", "spsc");
    // Where the ring's tail is after three lines.
    let reference = create_ring("reference", "4MiB", "spsc");
    run_with(&["write", reference.arg()], b"a\nb\nc\n").ok();
    let three = field(&stat_json(&reference), "tail");

    let (mut writer, mut stdin) = spawn_writer(&ring);
    stdin.write_all(b"a\nb\nc\n").unwrap();
    stat_until(&ring, "three records", |stat| field(stat, "tail") == three);
    let ran = run(&["tail", ring.arg(), "--no-follow"]).ok();
    assert_eq!(ran.out(), "a\nb\nc\n", "{}", ran.describe());

    // Now with records arriving all the time.
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut fed = 0;
            while fed < 30_000 && !stop.load(Ordering::Relaxed) {
                for n in fed + 1..=fed + 10 {
                    writeln!(stdin, "{}", numbered(n)).unwrap();
                }
                fed += 10;
                thread::sleep(Duration::from_millis(1));
            }
            fed
        })
    };
    stat_until(&ring, "streamed records", |stat| {
        field(stat, "tail") > three
    });
    let ran = run(&["tail", ring.arg(), "--no-follow"]).ok();
    let printed = ran.lines();
    assert!(!printed.is_empty(), "{}", ran.describe());
    let last = number_of(printed.last().unwrap());
    assert_numbered(&printed, 1..=last, "tail --no-follow during the stream");

    stop.store(true, Ordering::Relaxed);
    let fed = feeder.join().unwrap();
    writer.expect_exit(0);
    let rest = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    assert_numbered(&rest, last + 1..=fed, "the rest of the stream");
}

// ---------------------------------------------------------------------------
// 6. stat.

/// `stat`'s text output as (label, value) pairs: a label, two or more
/// spaces, the value.
fn stat_fields(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|line| {
            let (label, value) = line
                .split_once("  ")
                .unwrap_or_else(|| panic!("not a `label  value` line: {line:?}"));
            (label.to_owned(), value.trim_start().to_owned())
        })
        .collect()
}

#[test]
fn stat_describes_a_fresh_ring() {
    let ring = create_ring("stat", "64KiB", "mpsc");
    let ran = run(&["stat", ring.arg()]).ok();
    let expected: Vec<(String, String)> = [
        ("ring file", ring.arg()),
        ("format", "1.0"),
        ("mode", "MPSC"),
        ("capacity", "65536 bytes (64.0 KiB)"),
        ("max record", "32760 bytes"),
        ("head", "0"),
        ("tail", "0"),
        ("used", "0 bytes (0.0%)"),
        ("consumer", "none"),
        ("producers", "0"),
        ("full rejections", "0"),
        ("skipped claims", "0"),
    ]
    .iter()
    .map(|&(label, value)| (label.to_owned(), value.to_owned()))
    .collect();
    assert_eq!(stat_fields(&ran.out()), expected, "{}", ran.describe());

    let ring = create_ring("stat-spsc", "4KiB", "spsc");
    let stat = stat_json(&ring);
    let expected = serde_json::json!({
        "path": ring.arg(),
        "format": "1.0",
        "mode": "spsc",
        "capacity": 4096,
        "max_record_len": 2040,
        "head": 0,
        "tail": 0,
        "used_bytes": 0,
        "fill_percent": 0.0,
        "consumer_attached": false,
        "consumer_pid": null,
        "producers": 0,
        "full_rejections": 0,
        "skipped_claims": 0,
    });
    assert_eq!(stat, expected);
}

#[test]
fn stat_follows_a_live_ring() {
    let ring = create_ring("stat-live", "1MiB", "mpsc");
    let (mut writer, mut stdin) = spawn_writer(&ring);
    stdin.write_all(&numbered_input(1..=10)).unwrap();
    let before = stat_until(&ring, "a producer and records", |stat| {
        field(stat, "producers") == 1 && field(stat, "tail") > 0
    });
    assert_eq!(
        field(&before, "used_bytes"),
        field(&before, "tail"),
        "{before}"
    );
    stdin.write_all(&numbered_input(11..=20)).unwrap();
    let after = stat_until(&ring, "more records", |stat| {
        field(stat, "tail") > field(&before, "tail")
    });
    assert!(
        field(&after, "used_bytes") > field(&before, "used_bytes"),
        "{before} then {after}"
    );
    assert!(after["fill_percent"].as_f64().unwrap() > 0.0, "{after}");
    assert_eq!(after["consumer_attached"], false, "{after}");

    let mut tail = Proc::logring(&["tail", ring.arg()], Stdio::null(), Stdio::piped());
    let mut lines = tail.lines();
    let printed: Vec<String> = (0..20).map(|_| lines.expect()).collect();
    assert_numbered(&printed, 1..=20, "tail");
    let pid = u64::from(tail.pid());
    let attached = stat_until(&ring, "the consumer, all read", |stat| {
        stat["consumer_pid"].as_u64() == Some(pid) && field(stat, "head") == field(stat, "tail")
    });
    assert_eq!(attached["consumer_attached"], true, "{attached}");
    assert!(field(&attached, "head") > 0, "{attached}");
    assert_eq!(field(&attached, "used_bytes"), 0, "{attached}");
    let text = run(&["stat", ring.arg()]).ok().out();
    let fields = stat_fields(&text);
    assert!(
        fields.contains(&("consumer".into(), format!("pid {pid}"))),
        "{text}"
    );
    assert!(fields.contains(&("producers".into(), "1".into())), "{text}");

    drop(stdin);
    writer.expect_exit(0);
    let gone = stat_until(&ring, "no producer", |stat| field(stat, "producers") == 0);
    assert_eq!(gone["consumer_pid"].as_u64(), Some(pid), "{gone}");

    tail.signal(libc::SIGINT);
    assert_eq!(lines.rest(), Vec::<String>::new(), "nothing more to print");
    tail.expect_exit(0);
    let stat = stat_json(&ring);
    assert_eq!(stat["consumer_attached"], false, "{stat}");
    assert_eq!(stat["consumer_pid"], Value::Null, "{stat}");
}

#[test]
fn stat_watch_prints_one_json_object_a_line_until_its_output_closes() {
    let ring = create_ring("watch", "64KiB", "spsc");
    let mut watch = Proc::logring(
        &[
            "stat",
            ring.arg(),
            "--watch",
            "--json",
            "--interval",
            "200ms",
        ],
        Stdio::null(),
        Stdio::piped(),
    );
    let mut lines = watch.lines_up_to(3);
    for _ in 0..3 {
        let line = lines.expect();
        let stat: Value = serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {line:?}"));
        assert_eq!(stat["path"], ring.arg(), "{stat}");
        assert_eq!(field(&stat, "capacity"), 65536, "{stat}");
    }
    // The reader has closed its end of the pipe after three lines.
    assert_eq!(lines.next(), None);
    watch.expect_exit(0);
}

#[test]
fn stat_needs_read_permission_only() {
    if !is_root() {
        eprintln!("note: not root, so `logring` cannot be run as another user: skipped");
        return;
    }
    let ring = create_ring("stat-read-only", "4KiB", "spsc");
    run_with(&["write", ring.arg()], b"one\ntwo\n").ok();
    let expected = stat_json(&ring);
    // World-readable, and readable by the group that nobody is in.
    for (mode, group) in [(0o444, 0), (0o640, NOBODY)] {
        fs::set_permissions(ring.path(), Permissions::from_mode(mode)).unwrap();
        std::os::unix::fs::chown(ring.path(), Some(0), Some(group)).unwrap();
        for watch in [false, true] {
            let mut args = vec!["stat", ring.arg(), "--json"];
            if watch {
                args.extend(["--watch", "--interval", "10ms"]);
            }
            let mut command = Command::new(LOGRING);
            command
                .args(&args)
                .uid(NOBODY)
                .gid(NOBODY)
                .stdin(Stdio::null())
                .stdout(Stdio::piped());
            let mut proc = Proc::start(command, format!("`logring {}` as nobody", args.join(" ")));
            let mut lines = proc.lines_up_to(2);
            for _ in 0..if watch { 2 } else { 1 } {
                let line = lines.expect();
                let stat: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|error| panic!("not JSON ({error}): {line:?}"));
                assert_eq!(stat, expected, "mode {mode:04o}");
            }
            assert_eq!(lines.next(), None);
            proc.expect_exit(0);
        }
        run_as_nobody(&["stat", ring.arg()]).ok();
        // Attaching is another matter.
        run_as_nobody(&["tail", ring.arg()]).fails(1, &[ring.arg(), "Permission denied"]);
    }
    // Not readable: a clear error.
    fs::set_permissions(ring.path(), Permissions::from_mode(0o600)).unwrap();
    run_as_nobody(&["stat", ring.arg()]).fails(
        1,
        &[&format!(
            "could not open ring file {}: Permission denied",
            ring.arg()
        )],
    );
    assert_eq!(stat_json(&ring), expected, "the ring changed");
}

#[test]
fn stat_watch_stops_with_an_error_when_the_ring_is_truncated() {
    // To nothing (the header's page gone too), and to a header and a bit.
    for len in [0, HEADER + 8] {
        let ring = create_ring("watch-truncated", "4KiB", "spsc");
        let mut watch = Proc::logring(
            &[
                "stat",
                ring.arg(),
                "--watch",
                "--json",
                "--interval",
                "20ms",
            ],
            Stdio::null(),
            Stdio::piped(),
        );
        let mut lines = watch.lines();
        lines.expect();
        set_len(&ring, len);
        // Whatever it printed before it noticed, it stops with status 1 and
        // says why: never killed by SIGBUS.
        let status = watch.wait();
        assert_eq!(
            (status.code(), status.signal()),
            (Some(1), None),
            "stat --watch ended with {status}; its stderr: {:?}",
            watch.stderr_text()
        );
        assert_eq!(
            watch.stderr_text(),
            format!(
                "logring: ring file {}: {len} bytes long, but its header says 8192 \
                 (truncated or extended by another program?)\n",
                ring.arg()
            )
        );
        while let Some(line) = lines.next() {
            serde_json::from_str::<Value>(&line)
                .unwrap_or_else(|error| panic!("not JSON ({error}): {line:?}"));
        }
    }
}

// ---------------------------------------------------------------------------
// 7. Exit statuses and error messages.

#[test]
fn usage_errors_exit_with_status_2() {
    let ring = create_ring("usage", "64KiB", "spsc");
    let missing = TempPath::in_memory("usage-missing");
    let cases: Vec<Vec<&str>> = vec![
        vec!["frobnicate", ring.arg()],
        vec![],
        vec!["stat", ring.arg(), "--bogus"],
        vec!["tail", ring.arg(), "--format", "xml"],
        vec!["tail", ring.arg(), "--timeout", "nonsense"],
        vec!["tail", ring.arg(), "--count", "many"],
        vec!["stat", ring.arg(), "--watch", "--interval", "often"],
        vec!["write", ring.arg(), "--on-full", "sometimes"],
        vec!["create", missing.arg(), "--mode", "spsc"],
        vec!["create", missing.arg(), "--capacity", "64KiB"],
        vec![
            "create",
            missing.arg(),
            "--capacity",
            "4XB",
            "--mode",
            "spsc",
        ],
        vec![
            "create",
            missing.arg(),
            "--capacity",
            "64KiB",
            "--mode",
            "xyz",
        ],
        vec!["create", missing.arg(), "--capacity", "0", "--mode", "spsc"],
        vec![
            "create",
            missing.arg(),
            "--capacity",
            "2TiB",
            "--mode",
            "spsc",
        ],
    ];
    for args in cases {
        run(&args).usage_error();
        assert!(
            !missing.path().exists(),
            "`logring {}` made a file",
            args.join(" ")
        );
    }
}

#[test]
fn create_refuses_to_replace_anything() {
    let path = TempPath::in_memory("exists");
    fs::write(path.path(), b"precious").unwrap();
    run(&[
        "create",
        path.arg(),
        "--capacity",
        "64KiB",
        "--mode",
        "spsc",
    ])
    .fails(
        1,
        &[&format!(
            "could not create ring file {}: File exists",
            path.arg()
        )],
    );
    assert_eq!(fs::read(path.path()).unwrap(), b"precious");

    let ring = create_ring("exists-ring", "4KiB", "spsc");
    run_with(&["write", ring.arg()], b"kept\n").ok();
    run(&["create", ring.arg(), "--capacity", "4KiB", "--mode", "mpsc"])
        .fails(1, &[ring.arg(), "File exists"]);
    assert_eq!(
        run(&["tail", ring.arg(), "--no-follow"]).ok().out(),
        "kept\n"
    );

    // A directory that is not there cannot be written.
    let dir = TempPath::in_memory("no-such-dir");
    let inside = format!("{}/ring", dir.arg());
    run(&["create", &inside, "--capacity", "4KiB", "--mode", "spsc"]).fails(1, &[&inside]);
}

/// A bad ring file and what its report must say.
struct BadFile {
    name: &'static str,
    path: PathBuf,
    says: String,
    /// Bad only for attaching: `stat` reads it.
    read_only: bool,
    _keep: Option<TempPath>,
}

fn bad_files() -> Vec<BadFile> {
    let mut cases = Vec::new();
    let mut add = |name: &'static str, file: TempPath, says: &str| {
        cases.push(BadFile {
            name,
            path: file.path().to_path_buf(),
            says: says.to_owned(),
            read_only: name == "mode 0444",
            _keep: Some(file),
        });
    };

    let file = TempPath::in_memory("empty");
    File::create(file.path()).unwrap();
    add("empty", file, "the file is empty");

    let file = TempPath::in_memory("short");
    fs::write(file.path(), [0x5a; 100]).unwrap();
    add(
        "too short",
        file,
        "100 bytes is shorter than a ring header (4096 bytes)",
    );

    let file = TempPath::in_memory("zeroed");
    fs::write(file.path(), vec![0; 2 * HEADER as usize]).unwrap();
    add("zero header", file, "the header was never completed");

    // A valid 4 KiB ring with one field of its header changed.
    let patched: [(&'static str, u64, &[u8], &str); 11] = [
        (
            "bad magic",
            MAGIC_AT,
            b"NOTARING",
            "not a logring file (starts with NOTARING)",
        ),
        (
            "major version 2",
            MAJOR_AT,
            &2u16.to_le_bytes(),
            "ring format 2.0, this logring reads 1.x",
        ),
        (
            "no marker",
            INITIALISED_AT,
            &0u32.to_le_bytes(),
            "the header was never completed",
        ),
        (
            "capacity 4000",
            CAPACITY_AT,
            &4000u64.to_le_bytes(),
            "corrupt header: capacity is not a power of two",
        ),
        (
            "capacity 32",
            CAPACITY_AT,
            &32u64.to_le_bytes(),
            "corrupt header: capacity is out of range",
        ),
        (
            "capacity 2^41",
            CAPACITY_AT,
            &(1u64 << 41).to_le_bytes(),
            "corrupt header: capacity is out of range",
        ),
        (
            "max record 2047",
            MAX_LEN_AT,
            &2047u64.to_le_bytes(),
            "corrupt header: maximum record length does not match the capacity",
        ),
        (
            "mode 3",
            MODE_AT,
            &3u32.to_le_bytes(),
            "corrupt header: unknown producer mode",
        ),
        (
            "data offset 8192",
            DATA_OFFSET_AT,
            &8192u64.to_le_bytes(),
            "corrupt header: data offset is not the header length",
        ),
        (
            "head and tail too far apart",
            TAIL_AT,
            &(4096u64 + 8).to_le_bytes(),
            "corrupt header: impossible positions (head 0, tail 4104, consumed 0)",
        ),
        (
            "a misaligned head",
            HEAD_AT,
            &4u64.to_le_bytes(),
            "corrupt header: impossible positions (head 4, tail 0, consumed 0)",
        ),
    ];
    for (name, offset, bytes, says) in patched {
        let file = library_ring(name);
        patch(&file, offset, bytes);
        add(name, file, says);
    }

    let file = library_ring("misaligned");
    for at in [HEAD_AT, TAIL_AT, CONSUMED_AT] {
        patch_u64(&file, at, 4);
    }
    add(
        "misaligned positions",
        file,
        "corrupt header: impossible positions (head 4, tail 4, consumed 4)",
    );

    let file = library_ring("truncated");
    set_len(&file, HEADER + 8);
    add(
        "truncated",
        file,
        "4104 bytes long, but its header says 8192",
    );

    let file = library_ring("extended");
    set_len(&file, 4 * HEADER);
    add(
        "extended",
        file,
        "16384 bytes long, but its header says 8192",
    );

    let file = TempPath::in_memory("directory");
    fs::create_dir(file.path()).unwrap();
    add("a directory", file, "not a regular file");

    let file = TempPath::in_memory("fifo");
    let name = std::ffi::CString::new(file.arg()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only reads it.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0);
    add("a FIFO", file, "not a regular file");

    let file = library_ring("read-only");
    fs::set_permissions(file.path(), Permissions::from_mode(0o444)).unwrap();
    add("mode 0444", file, "read-only (mode 0444)");

    let file = TempPath::in_memory("missing");
    let says = format!(
        "could not open ring file {}: No such file or directory",
        file.arg()
    );
    add("a missing path", file, &says);

    cases.push(BadFile {
        name: "a device",
        path: PathBuf::from("/dev/null"),
        says: "not a regular file".to_owned(),
        read_only: false,
        _keep: None,
    });
    cases
}

#[test]
fn every_bad_ring_file_is_reported_on_one_line() {
    for case in bad_files() {
        let path = case.path.to_str().unwrap();
        let is_file = case.path.is_file();
        let before = is_file.then(|| fs::read(&case.path).unwrap());
        let names_it = format!("ring file {path}");
        for args in [
            vec!["stat", path],
            vec!["stat", path, "--json"],
            vec!["tail", path],
            vec!["write", path],
        ] {
            if case.read_only && args[0] == "stat" {
                // Looking needs no write permission.
                run(&args).ok();
                continue;
            }
            run(&args).fails(1, &[&names_it, &case.says]);
        }
        if let Some(before) = before {
            assert!(
                fs::read(&case.path).unwrap() == before,
                "{}: the file was changed",
                case.name
            );
        }
    }
}

#[test]
fn a_corrupt_record_stops_tail_after_the_records_before_it() {
    let ring = create_ring("corrupt-record", "4KiB", "spsc");
    run_with(&["write", ring.arg()], &numbered_input(1..=3)).ok();
    // Record 2 starts after record 1's word and payload, rounded up to 8.
    let second = (8 + numbered(1).len() as u64).next_multiple_of(8);
    patch_u64(&ring, HEADER + second, u64::MAX);
    // The first tail prints record 1 and stops at record 2; the next one
    // starts and stops there.
    for (args, printed) in [
        (vec!["tail", ring.arg()], vec![numbered(1)]),
        (vec!["tail", ring.arg(), "--no-follow"], vec![]),
    ] {
        let ran = run(&args);
        assert_eq!(ran.status.code(), Some(1), "{}", ran.describe());
        assert_eq!(ran.lines(), printed, "before the corruption");
        assert_eq!(
            ran.err(),
            format!(
                "logring: ring file {}: corrupt ring at position {second}: unknown record \
                 state (found 0xffffffffffffffff); the records before it were printed\n",
                ring.arg()
            ),
            "{}",
            ran.describe()
        );
    }
}

#[test]
fn a_second_tail_is_refused_naming_the_first() {
    let ring = create_ring("second-tail", "64KiB", "mpsc");
    let mut first = Proc::logring(&["tail", ring.arg()], Stdio::null(), Stdio::piped());
    let mut lines = first.lines();
    let pid = first.pid();
    stat_until(&ring, "the first tail", |stat| {
        stat["consumer_pid"].as_u64() == Some(u64::from(pid))
    });
    run(&["tail", ring.arg()]).fails(
        1,
        &[
            &format!("ring file {}", ring.arg()),
            &format!("another consumer (pid {pid}) holds this ring"),
        ],
    );
    run(&["tail", ring.arg(), "--no-follow"]).fails(1, &[&format!("(pid {pid})")]);

    // The first goes on working.
    run_with(&["write", ring.arg()], &numbered_input(1..=3)).ok();
    let printed: Vec<String> = (0..3).map(|_| lines.expect()).collect();
    assert_numbered(&printed, 1..=3, "the first tail");
    first.signal(libc::SIGINT);
    first.expect_exit(0);
}

#[test]
fn a_second_writer_is_refused_on_spsc_and_admitted_on_mpsc() {
    let ring = create_ring("second-writer", "64KiB", "spsc");
    let (mut writer, mut stdin) = spawn_writer(&ring);
    stdin.write_all(b"first\n").unwrap();
    stat_until(&ring, "the first writer", |stat| {
        field(stat, "producers") == 1 && field(stat, "tail") > 0
    });
    run_with(&["write", ring.arg()], b"second\n").fails(
        1,
        &[&format!(
            "ring file {}: another producer is attached to this SPSC ring",
            ring.arg()
        )],
    );
    drop(stdin);
    writer.expect_exit(0);
    assert_eq!(
        run(&["tail", ring.arg(), "--no-follow"]).ok().out(),
        "first\n"
    );

    let ring = create_ring("two-writers", "64KiB", "mpsc");
    let (mut writer, mut stdin) = spawn_writer(&ring);
    stdin.write_all(b"first\n").unwrap();
    stat_until(&ring, "the first writer", |stat| {
        field(stat, "producers") == 1 && field(stat, "tail") > 0
    });
    run_with(&["write", ring.arg()], b"second\n").ok();
    drop(stdin);
    writer.expect_exit(0);
    assert_eq!(
        run(&["tail", ring.arg(), "--no-follow"]).ok().out(),
        "first\nsecond\n"
    );
}

// ---------------------------------------------------------------------------
// 8. write.

/// A `write` stopped by `signal` in the middle of its input leaves every
/// record it committed, in order, and none torn; the record it was copying
/// is skipped; and (SPSC) the next writer takes its place.
fn a_stopped_writer_leaves_what_it_committed(signal: libc::c_int) {
    let _turn = one_at_a_time();
    let ring = create_ring("stopped-writer", "4MiB", "spsc");
    let (mut writer, mut stdin) = spawn_writer(&ring);
    // Slowly enough that it is stopped long before the end of its input.
    let feeder = thread::spawn(move || -> std::io::Result<()> {
        for batch in 0..500 {
            let first = batch * 100 + 1;
            stdin.write_all(&numbered_input(first..=first + 99))?;
            thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    });
    stat_until(&ring, "records", |stat| field(stat, "tail") > 32 << 10);
    writer.signal(signal);
    let status = writer.wait();
    // Killed, or ended as the signal would have after its summary.
    assert_eq!(status.signal(), Some(signal), "{status}");
    // Its input ends in a broken pipe.
    let _ = feeder.join().unwrap();

    let printed = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    assert!(printed.len() > 100, "{} records", printed.len());
    let last = number_of(printed.last().unwrap());
    assert_numbered(&printed, 1..=last, "the stopped writer's records");
    if signal != libc::SIGKILL {
        let err = writer.stderr_text();
        assert_eq!(committed(&err), printed.len() as u64, "{err}");
    }

    run_with(&["write", ring.arg()], b"after\n").ok();
    let ran = run(&["tail", ring.arg(), "--no-follow"]).ok();
    assert_eq!(ran.out(), "after\n", "{}", ran.describe());
}

#[test]
fn a_sigkilled_writer_leaves_every_record_it_committed() {
    a_stopped_writer_leaves_what_it_committed(libc::SIGKILL);
}

#[test]
fn an_interrupted_writer_leaves_every_record_it_committed() {
    a_stopped_writer_leaves_what_it_committed(libc::SIGINT);
}

#[test]
fn a_terminated_writer_leaves_every_record_it_committed() {
    a_stopped_writer_leaves_what_it_committed(libc::SIGTERM);
}

/// The count in the summary line a stopped `write` ends with: `... committed
/// N of M records ...; stopped by a signal`.
fn committed(stderr: &str) -> u64 {
    let summary = stderr
        .lines()
        .last()
        .filter(|line| line.starts_with("logring: ") && line.ends_with("stopped by a signal"))
        .unwrap_or_else(|| panic!("no summary at the end of stderr: {stderr:?}"));
    summary
        .split("committed ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the summary does not say what was committed: {summary:?}"))
}

/// Waits until `proc`'s stderr has `lines` lines; returns them.
fn stderr_lines(proc: &Proc, lines: usize) -> Vec<String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = proc.stderr_text();
        if text.matches('\n').count() >= lines {
            return text.lines().map(str::to_owned).collect();
        }
        assert!(
            Instant::now() < deadline,
            "{}: {lines} lines on stderr not seen within {PATIENCE:?}: {text:?}",
            proc.what
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// Checks that `line` says the ring is full, that no consumer is attached,
/// and what can be done.
#[track_caller]
fn assert_no_consumer_notice(line: &str, ring: &TempPath) {
    for says in [
        "logring: ",
        ring.arg(),
        "full",
        "no consumer is attached",
        &format!("logring tail {}", ring.arg()),
        "--on-full drop",
        "--on-full fail",
    ] {
        assert!(line.contains(says), "does not say {says:?}: {line:?}");
    }
}

#[test]
fn a_writer_waiting_with_no_consumer_says_so_once_and_its_summary_on_ctrl_c() {
    let ring = create_ring("no-consumer", "4KiB", "spsc");
    let lines = hundred_long_lines();
    let (mut writer, stdin) = spawn_writer(&ring);
    let feeder = feed(stdin, (lines.join("\n") + "\n").into_bytes());
    let notice = stderr_lines(&writer, 1);
    assert_eq!(notice.len(), 1, "{notice:?}");
    assert_no_consumer_notice(&notice[0], &ring);

    // A consumer comes, takes 5 records and goes: the writer fills the
    // room they left, waits again, and says so again, once.
    let taken = run(&["tail", ring.arg(), "--count", "5"]).ok().lines();
    assert_eq!(taken, lines[..5]);
    let notices = stderr_lines(&writer, 2);
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert_no_consumer_notice(&notices[1], &ring);

    writer.signal(libc::SIGINT);
    let status = writer.wait();
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status}");
    let _ = feeder.join().unwrap();
    let err = writer.stderr_text();
    assert_eq!(
        err.lines().count(),
        3,
        "two notices and the summary: {err:?}"
    );
    let committed = committed(&err) as usize;
    let kept = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    assert_eq!(5 + kept.len(), committed, "{err}");
    assert_eq!(kept, lines[5..committed], "the records committed");
}

#[test]
fn a_writer_waiting_on_a_stalled_consumer_says_nothing() {
    let ring = create_ring("stalled-consumer", "4KiB", "spsc");
    // A tail whose output nobody reads yet: once the pipe is full it stops
    // releasing records, and stays attached.
    let mut tail = Proc::logring(&["tail", ring.arg()], Stdio::null(), Stdio::piped());
    stat_until(&ring, "the tail attached", |stat| {
        stat["consumer_pid"].is_u64()
    });
    // 1,000 lines of 100 bytes: more than the pipe and the ring hold.
    let lines: Vec<String> = (1..=1000).map(|n| format!("{:<99}", numbered(n))).collect();
    let (mut writer, stdin) = spawn_writer(&ring);
    let feeder = feed(stdin, (lines.join("\n") + "\n").into_bytes());
    stat_until(&ring, "the ring full", |stat| {
        field(stat, "full_rejections") > 0
    });
    // Well past the wait after which a writer looks for a consumer: the
    // writer says nothing, since one is attached.
    thread::sleep(Duration::from_millis(2500));
    assert_eq!(writer.stderr_text(), "", "writer's stderr");

    let printed: Vec<String> = {
        let mut output = tail.lines();
        (0..lines.len()).map(|_| output.expect()).collect()
    };
    assert_eq!(printed, lines);
    feeder.join().unwrap().expect("feeding the writer");
    writer.expect_exit(0);
    let err = writer.stderr_text();
    assert!(
        err.lines().count() == 1 && err.contains("committed 1000 of 1000 records"),
        "{err:?}"
    );
    tail.signal(libc::SIGINT);
    tail.expect_exit(0);
}

#[test]
fn a_writer_interrupted_while_its_input_is_idle_says_what_it_committed() {
    let ring = create_ring("idle-input", "4KiB", "spsc");
    let (mut writer, mut stdin) = spawn_writer(&ring);
    stdin.write_all(b"one\ntwo\nthree\nfour").unwrap();
    stdin.flush().unwrap();
    stat_until(&ring, "three records", |stat| field(stat, "tail") == 3 * 16);
    // Its input stays open and silent; a signal must not wait for more.
    writer.signal(libc::SIGINT);
    let status = writer.wait();
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status}");
    let err = writer.stderr_text();
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert_eq!(committed(&err), 3, "{err:?}");
    // The line without its newline was never finished: not written.
    let kept = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    assert_eq!(kept, ["one", "two", "three"]);
    drop(stdin);
}

/// 100 numbered lines padded to 100 bytes: more than a 4 KiB ring holds.
fn hundred_long_lines() -> Vec<String> {
    (1..=100).map(|n| format!("{:<100}", numbered(n))).collect()
}

#[test]
fn on_full_fail_stops_at_the_first_record_that_does_not_fit() {
    let ring = create_ring("full-fail", "4KiB", "spsc");
    let lines = hundred_long_lines();
    let ran = run_with(
        &["write", ring.arg(), "--on-full", "fail"],
        (lines.join("\n") + "\n").as_bytes(),
    );
    assert_eq!(ran.status.code(), Some(1), "{}", ran.describe());
    assert!(ran.stdout.is_empty(), "{}", ran.describe());
    assert!(
        ran.err().starts_with("logring: ") && ran.err().contains("full"),
        "does not say the ring is full: {}",
        ran.describe()
    );
    let kept = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    assert!(
        !kept.is_empty() && kept.len() < lines.len(),
        "{} records",
        kept.len()
    );
    assert_eq!(
        kept,
        lines[..kept.len()],
        "the records before the full ring"
    );
}

#[test]
fn on_full_drop_goes_on_and_counts_the_drops() {
    let ring = create_ring("full-drop", "4KiB", "spsc");
    let lines = hundred_long_lines();
    let ran = run_with(
        &["write", ring.arg(), "--on-full", "drop"],
        (lines.join("\n") + "\n").as_bytes(),
    )
    .ok();
    let stat = stat_json(&ring);
    let kept = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    // With no consumer, everything after the ring filled was dropped.
    assert!(!kept.is_empty() && kept.len() < lines.len(), "{kept:?}");
    assert_eq!(kept, lines[..kept.len()], "the records kept");
    let dropped = lines.len() - kept.len();
    let err = ran.err();
    assert!(
        err.contains("drop")
            && err
                .split(|c: char| !c.is_ascii_digit())
                .any(|word| word == dropped.to_string()),
        "stderr does not report {dropped} drops: {}",
        ran.describe()
    );
    assert!(
        field(&stat, "full_rejections") >= dropped as u64,
        "{dropped} dropped: {stat}"
    );
}

#[test]
fn a_line_longer_than_the_largest_record_stops_write_naming_it() {
    let ring = create_ring("too-long", "4KiB", "spsc");
    // The largest record of a 4 KiB ring is 2040 bytes.
    let longest = "m".repeat(2040);
    let input = format!("first\n{longest}\n{}\nfourth\n", "z".repeat(2041));
    let ran = run_with(&["write", ring.arg()], input.as_bytes());
    assert_eq!(ran.status.code(), Some(1), "{}", ran.describe());
    assert!(ran.stdout.is_empty(), "{}", ran.describe());
    assert!(
        ran.err().starts_with("logring: ") && ran.err().contains("line 3"),
        "does not name line 3: {}",
        ran.describe()
    );
    let kept = run(&["tail", ring.arg(), "--no-follow"]).ok().lines();
    assert_eq!(kept, ["first", longest.as_str()]);
}

/// A writer whose ring file's `head` is damaged while it writes (more than a
/// capacity behind or ahead of the tail: positions no ring can have) stops
/// at the first record that meets them and reports the corruption, instead
/// of waiting for room that cannot come.
#[test]
fn a_writer_facing_impossible_positions_reports_the_corruption() {
    const IMPOSSIBLE: &str = "the consumer's head is more than a capacity away from the tail";
    for (mode, ahead) in [
        ("spsc", false),
        ("spsc", true),
        ("mpsc", false),
        ("mpsc", true),
    ] {
        let what = format!("{mode}, head ahead: {ahead}");
        let ring = create_ring("impossible-write", "4KiB", mode);
        let (mut writer, mut stdin) = spawn_writer(&ring);
        stdin.write_all(b"first\n").unwrap();
        stat_until(&ring, "the writer", |stat| {
            field(stat, "producers") == 1 && field(stat, "tail") > 0
        });
        // "first" took a record word and 5 bytes, rounded up to 8. The writer
        // looks at the head within a lap from there: the damage stays more
        // than a capacity away from any tail it reaches by then. (A head
        // ahead by less is a consumer past the tail, which an MPSC producer
        // catches up with.)
        let tail: u64 = 16;
        let head = if ahead {
            tail + 3 * 4096
        } else {
            tail.wrapping_sub(4096 + 64)
        };
        patch_u64(&ring, HEAD_AT, head);
        // More than the ring holds, so the writer must look at the head.
        let feeding = feed(stdin, (hundred_long_lines().join("\n") + "\n").into_bytes());
        writer.expect_exit(1);
        // The writer may have left before reading all of its input.
        let _ = feeding.join().unwrap();
        let err = writer.stderr_text();
        for says in [
            format!("logring: ring file {}: record ", ring.arg()),
            " was refused: corrupt ring at position ".to_owned(),
            format!(": {IMPOSSIBLE} (found {head:#018x})"),
        ] {
            assert!(
                err.contains(&says),
                "{what}: stderr does not say {says:?}: {err:?}"
            );
        }
    }
}

/// Records of the ring as (payload bytes, tag), through `tail --format json
/// --no-follow`.
fn json_records(ring: &TempPath) -> Vec<Vec<u8>> {
    run(&["tail", ring.arg(), "--no-follow", "--format", "json"])
        .ok()
        .json_lines()
        .iter()
        .map(|object| {
            let payload = object["payload"].as_str().unwrap();
            let bytes = match object["encoding"].as_str() {
                Some("utf8") => payload.as_bytes().to_vec(),
                Some("base64") => BASE64.decode(payload).unwrap(),
                _ => panic!("unknown encoding: {object}"),
            };
            assert_eq!(field(object, "length"), bytes.len() as u64, "{object}");
            bytes
        })
        .collect()
}

#[test]
fn raw_chunks_carry_binary_bytes_exactly() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let bytes: Vec<u8> = (0..1000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    for (chunk, sizes) in [("100", vec![100; 10]), ("256", vec![256, 256, 256, 232])] {
        let ring = create_ring("raw", "64KiB", "mpsc");
        run_with(
            &["write", ring.arg(), "--raw", "--chunk-size", chunk],
            &bytes,
        )
        .ok();
        let records = json_records(&ring);
        let lengths: Vec<usize> = records.iter().map(Vec::len).collect();
        assert_eq!(lengths, sizes, "--chunk-size {chunk}");
        assert!(
            records.concat() == bytes,
            "--chunk-size {chunk}: other bytes"
        );
    }
}

#[test]
fn an_empty_line_is_an_empty_record_and_a_last_line_needs_no_newline() {
    let ring = create_ring("empty-line", "4KiB", "spsc");
    run_with(&["write", ring.arg()], b"a\n\nb").ok();
    assert_eq!(json_records(&ring), [&b"a"[..], b"", b"b"]);
}

#[test]
fn tag_labels_every_record() {
    let ring = create_ring("tag", "4KiB", "spsc");
    run_with(&["write", ring.arg(), "--tag", "7"], b"x\ny\n").ok();
    run_with(&["write", ring.arg()], b"z\n").ok();
    let tags: Vec<u64> = run(&["tail", ring.arg(), "--no-follow", "--format", "json"])
        .ok()
        .json_lines()
        .iter()
        .map(|object| field(object, "tag"))
        .collect();
    assert_eq!(tags, [7, 7, 0]);
}

// ---------------------------------------------------------------------------
// 9. create.

fn mode_bits(path: &TempPath) -> u32 {
    fs::metadata(path.path()).unwrap().permissions().mode() & 0o7777
}

#[test]
fn create_sets_the_permissions() {
    for (asked, expected) in [(None, 0o600), (Some("0640"), 0o640), (Some("0444"), 0o644)] {
        let path = TempPath::in_memory("permissions");
        let mut args = vec!["create", path.arg(), "--capacity", "4KiB", "--mode", "spsc"];
        if let Some(asked) = asked {
            args.extend(["--permissions", asked]);
        }
        let ran = run(&args).ok();
        assert_eq!(ran.out(), "", "{}", ran.describe());
        assert_eq!(
            mode_bits(&path),
            expected,
            "--permissions {asked:?}: mode {:04o}",
            mode_bits(&path)
        );
    }
}

#[test]
fn create_rounds_the_capacity_up_to_a_power_of_two() {
    // (asked, capacity, rounded)
    for (asked, capacity, rounded) in [
        ("5000", 8192, true),
        ("64KB", 65536, true),
        ("4M", 4 << 20, true),
        ("64KiB", 65536, false),
        ("4096", 4096, false),
        ("1MiB", 1 << 20, false),
    ] {
        let path = TempPath::in_memory("rounded");
        let ran = run(&["create", path.arg(), "--capacity", asked, "--mode", "mpsc"]).ok();
        assert_eq!(ran.out(), "", "{}", ran.describe());
        if rounded {
            assert!(
                ran.err().contains(&capacity.to_string()),
                "no note of the rounding to {capacity}: {}",
                ran.describe()
            );
        } else {
            assert_eq!(ran.err(), "", "{}", ran.describe());
        }
        assert_eq!(
            fs::metadata(path.path()).unwrap().len(),
            HEADER + capacity,
            "--capacity {asked}"
        );
        let stat = stat_json(&path);
        assert_eq!(field(&stat, "capacity"), capacity, "{stat}");
        assert_eq!(field(&stat, "max_record_len"), capacity / 2 - 8, "{stat}");
        assert_eq!(stat["mode"], "mpsc", "{stat}");
    }
}
