//! What the tests of the `logring` command (`tests/cli_*.rs`) share: the
//! binary under test run in child processes, what a finished run did, the
//! ring's state through `logring stat --json`, and numbered lines to stream.
//!
//! Every wait on a child has a deadline ([`PATIENCE`]) that catches hangs; no
//! test checks how fast anything is. Ring files live on `/dev/shm` under
//! unique names and are removed when a test ends, however it ends; children
//! still running when a test fails are killed.

// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use logring::file::{Mode, Options, RingFile};
use serde_json::Value;

use crate::ringfile::TempPath;

/// The binary under test.
pub const LOGRING: &str = env!("CARGO_BIN_EXE_logring");

/// How long any one wait (for a child to exit, for its next line of output,
/// for a state to show in `stat`) may take before the test reports a hang.
pub const PATIENCE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Files.

/// A new ring file made with `logring create`.
pub fn create_ring(name: &str, capacity: &str, mode: &str) -> TempPath {
    let path = TempPath::in_memory(name);
    run(&["create", path.arg(), "--capacity", capacity, "--mode", mode]).ok();
    path
}

/// `logring write` on `ring`, its stderr kept, and the pipe to its stdin.
pub fn spawn_writer(ring: &TempPath) -> (Proc, ChildStdin) {
    let mut writer = Proc::logring(&["write", ring.arg()], Stdio::piped(), Stdio::null());
    let stdin = writer.take_stdin();
    (writer, stdin)
}

/// A valid, closed SPSC ring file of 4096 bytes made through the library,
/// for the tests that damage it.
pub fn library_ring(name: &str) -> TempPath {
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
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    // A test that failed while holding the lock poisons it; the others run on.
    TURN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running child process whose stderr is collected; killed (SIGKILL) and
/// reaped when dropped if it has not exited by then.
pub struct Proc {
    pub child: Child,
    pub what: String,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl Proc {
    /// Starts `logring ARGS`.
    pub fn logring(args: &[&str], stdin: Stdio, stdout: Stdio) -> Self {
        let mut command = Command::new(LOGRING);
        command.args(args).stdin(stdin).stdout(stdout);
        Self::start(command, format!("`logring {}`", args.join(" ")))
    }

    /// Starts `command`, which is dropped once the child runs, so that the
    /// parent keeps no copy of a pipe end handed to the child.
    pub fn start(mut command: Command, what: String) -> Self {
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

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the child, which must not have been reaped yet (so
    /// its pid cannot have been reused).
    pub fn signal(&self, signal: libc::c_int) {
        assert!(self.status.is_none(), "{} was already reaped", self.what);
        let pid = libc::pid_t::try_from(self.pid()).unwrap();
        // SAFETY: kill(2) touches no memory of ours; the pid is our own
        // child, not reaped yet, so it names no other process.
        let result = unsafe { libc::kill(pid, signal) };
        assert_eq!(result, 0, "kill({pid}, {signal}) failed");
    }

    pub fn take_stdin(&mut self) -> ChildStdin {
        self.child.stdin.take().expect("stdin is piped")
    }

    pub fn take_stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().expect("stdout is piped")
    }

    /// The child's stdout, line by line.
    pub fn lines(&mut self) -> Lines {
        self.lines_up_to(usize::MAX)
    }

    /// The child's stdout, line by line, up to `limit` lines; then the read
    /// end of the pipe is closed.
    pub fn lines_up_to(&mut self, limit: usize) -> Lines {
        Lines::new(
            self.take_stdout(),
            limit,
            self.what.clone(),
            Arc::clone(&self.stderr),
        )
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Waits for the child to exit (within [`PATIENCE`]).
    pub fn wait(&mut self) -> ExitStatus {
        self.wait_within(PATIENCE)
    }

    /// Waits for the child to exit; fails the test, with the child's stderr,
    /// if it has not within `limit`.
    pub fn wait_within(&mut self, limit: Duration) -> ExitStatus {
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
    pub fn expect_exit(&mut self, code: i32) {
        self.expect_exit_within(code, PATIENCE);
    }

    pub fn expect_exit_within(&mut self, code: i32, limit: Duration) {
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
pub struct Lines {
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
    pub fn next(&mut self) -> Option<String> {
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
    pub fn expect(&mut self) -> String {
        let received = self.received;
        self.next()
            .unwrap_or_else(|| panic!("{} ended after {received} lines", self.what))
    }

    /// Every line up to the end of the output.
    pub fn rest(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.next()).collect()
    }
}

/// What a finished `logring` run did.
pub struct Ran {
    pub what: String,
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs `logring ARGS` with empty input and waits for it (within
/// [`PATIENCE`]).
pub fn run(args: &[&str]) -> Ran {
    run_with(args, b"")
}

/// Runs `logring ARGS` with `input` on its stdin and waits for it.
pub fn run_with(args: &[&str], input: &[u8]) -> Ran {
    finish(Proc::logring(args, Stdio::piped(), Stdio::piped()), input)
}

/// User and group id 65534, nobody's.
pub const NOBODY: u32 = 65534;

/// Whether this test runs as root, and so can run `logring` as another user.
pub fn is_root() -> bool {
    // SAFETY: geteuid only returns this process's effective user id.
    unsafe { libc::geteuid() == 0 }
}

/// A copy of the `logring` binary that user nobody can run, in a directory
/// of its own under the system's temporary directory: the build's own may
/// sit below a directory only its owner may enter (a checkout in a private
/// temporary directory, or in root's home), and then nobody cannot start
/// it. Removed when dropped.
pub struct NobodysLogring {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl NobodysLogring {
    pub fn new() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("logring-test-{}-nobody", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory for nobody's copy of logring");
        let open = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(&dir, open.clone()).unwrap();
        let path = dir.join("logring");
        std::fs::copy(LOGRING, &path).expect("copy logring for nobody");
        std::fs::set_permissions(&path, open).unwrap();
        Self { dir, path }
    }

    /// The copy to run.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for NobodysLogring {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `logring ARGS` (the copy `logring`) as user and group 65534
/// (nobody; no other groups), to whom the file permissions apply. Only root
/// can.
pub fn run_as_nobody(logring: &NobodysLogring, args: &[&str]) -> Ran {
    let mut command = Command::new(logring.path());
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
    pub fn describe(&self) -> String {
        format!(
            "{} ended with {}\nstdout: {:?}\nstderr: {:?}",
            self.what,
            self.status,
            String::from_utf8_lossy(&self.stdout),
            String::from_utf8_lossy(&self.stderr)
        )
    }

    /// Asserts exit status 0.
    pub fn ok(self) -> Self {
        assert_eq!(self.status.code(), Some(0), "{}", self.describe());
        self
    }

    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Standard output, line by line.
    pub fn lines(&self) -> Vec<String> {
        let out = self.out();
        let out = out.strip_suffix('\n').unwrap_or(&out);
        if out.is_empty() {
            Vec::new()
        } else {
            out.split('\n').map(str::to_owned).collect()
        }
    }

    /// Standard output as JSON, one value per line.
    pub fn json_lines(&self) -> Vec<Value> {
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
    pub fn fails(&self, code: i32, says: &[&str]) {
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
    pub fn usage_error(&self) {
        let describe = self.describe();
        assert_eq!(self.status.code(), Some(2), "{describe}");
        assert!(self.stdout.is_empty(), "output on stdout: {describe}");
        assert!(!self.stderr.is_empty(), "nothing on stderr: {describe}");
    }
}

// ---------------------------------------------------------------------------
// The ring's state, through `logring stat --json`.

pub fn stat_json(path: &TempPath) -> Value {
    let ran = run(&["stat", path.arg(), "--json"]).ok();
    serde_json::from_str(ran.out().trim())
        .unwrap_or_else(|error| panic!("stat --json is not JSON ({error}): {}", ran.describe()))
}

pub fn field(stat: &Value, name: &str) -> u64 {
    stat[name]
        .as_u64()
        .unwrap_or_else(|| panic!("stat has no number {name}: {stat}"))
}

/// Polls `stat --json` until `ready` holds; returns that state.
pub fn stat_until(path: &TempPath, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
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
pub fn numbered(n: u64) -> String {
    let pad = (n.wrapping_mul(7919) % 61) as usize;
    let tail: String = (0..pad)
        .map(|i| char::from(b'a' + ((n as usize + i) % 26) as u8))
        .collect();
    format!("line {n:06} {tail}")
}

/// Lines `range` of the numbered stream, each with its newline.
pub fn numbered_input(range: std::ops::RangeInclusive<u64>) -> Vec<u8> {
    let mut input = Vec::new();
    for n in range {
        input.extend_from_slice(numbered(n).as_bytes());
        input.push(b'\n');
    }
    input
}

/// The number of numbered line `line`.
pub fn number_of(line: &str) -> u64 {
    line.strip_prefix("line ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a numbered line: {line:?}"))
}

/// Asserts that `got` is exactly the numbered lines `range`, in order;
/// reports the first difference.
pub fn assert_numbered(got: &[String], range: std::ops::RangeInclusive<u64>, what: &str) {
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
pub fn feed(stdin: ChildStdin, input: Vec<u8>) -> JoinHandle<std::io::Result<()>> {
    thread::spawn(move || {
        let mut stdin = BufWriter::new(stdin);
        stdin.write_all(&input)?;
        stdin.flush()
    })
}
