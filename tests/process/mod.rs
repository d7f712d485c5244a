//! Child processes for the multi-process tests.
//!
//! A test binary runs itself again as a child: [`Proc::spawn`] starts the
//! current executable on the single test named [`CHILD_TEST`], with the
//! child's role, the ring's path and its numeric arguments in environment
//! variables. That test calls [`role`], which returns `None` in a normal run
//! (so it passes at once) and the role in a child.
//!
//! A child reports to its parent in lines on its stdout, written with
//! [`report!`] and prefixed with a mark that sets them apart from the test
//! harness's own output; the parent waits for them ([`Proc::expect`],
//! [`Proc::line`]) instead of sleeping. Every wait has a deadline: a child
//! that hangs fails the test with its stderr in the message. A child that
//! must stay alive until it is killed blocks on its stdin
//! ([`wait_for_stdin_eof`]), which its parent holds open, so it also exits
//! if the parent dies.

// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use logring::file::{Mode, Options, RingFile};

/// The name of the test function every child process runs.
pub const CHILD_TEST: &str = "child";

/// How long any one wait for a child may take before the test reports a hang.
pub const PATIENCE: Duration = Duration::from_secs(10);

const ROLE_VAR: &str = "LOGRING_TEST_CHILD_ROLE";
const PATH_VAR: &str = "LOGRING_TEST_CHILD_PATH";
const ARGS_VAR: &str = "LOGRING_TEST_CHILD_ARGS";

/// Starts every line a child reports to its parent.
pub const MARK: &str = "@logring-child ";

/// Writes one report line to the parent (`report!("holding {pos}")`). The
/// line reaches the pipe before the macro returns: stdout is line-buffered.
/// (Include this module with `#[macro_use]`.)
macro_rules! report {
    ($($arg:tt)*) => {
        println!("{}{}", $crate::process::MARK, format_args!($($arg)*))
    };
}

/// What a child process was started to do.
#[derive(Debug)]
pub struct Role {
    pub name: String,
    pub path: PathBuf,
    pub args: Vec<u64>,
}

impl Role {
    /// Argument `i`, which the parent must have passed.
    pub fn arg(&self, i: usize) -> u64 {
        match self.args.get(i) {
            Some(&arg) => arg,
            None => panic!("role {}: no argument {i} in {:?}", self.name, self.args),
        }
    }
}

/// This process's role and its opened ring file if it is a child, `None` in
/// a normal test run.
pub fn child() -> Option<(Role, RingFile)> {
    let role = role()?;
    let ring = RingFile::open(&role.path).unwrap_or_else(|error| panic!("{error}"));
    Some((role, ring))
}

/// This process's role if it is a child, `None` in a normal test run (for
/// the roles that open their ring themselves).
pub fn role() -> Option<Role> {
    let name = std::env::var(ROLE_VAR).ok()?;
    let path = PathBuf::from(std::env::var_os(PATH_VAR).expect("a child has a path"));
    let args = std::env::var(ARGS_VAR)
        .unwrap_or_default()
        .split_whitespace()
        .map(|word| word.parse().expect("numeric child arguments"))
        .collect();
    Some(Role { name, path, args })
}

/// The multi-process tests of one test binary take turns, so that each has
/// the machine's cores to itself for its timing checks.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Waits for this test's turn (see [`ONE_AT_A_TIME`]).
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    // A test that failed while holding the lock poisons it; the others run on.
    ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Creates the ring file at `path`.
pub fn create(path: &TempPath, capacity: usize, mode: Mode) -> RingFile {
    RingFile::create(path.path(), Options::new(capacity).mode(mode))
        .unwrap_or_else(|error| panic!("cannot create the ring file: {error}"))
}

/// Blocks until the parent closes this child's stdin (or dies).
pub fn wait_for_stdin_eof() {
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

/// A unique path for a test file, on `/dev/shm` where there is one (no disk
/// writes) and in the temporary directory otherwise; the file (if any) is
/// removed when this is dropped.
pub struct TempPath(PathBuf);

impl TempPath {
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let unique = format!(
            "logring-test-{}-{}-{name}.ring",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(unique);
        let _ = std::fs::remove_file(&path);
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// One report line from a child: its first word and the numbers after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub word: String,
    pub nums: Vec<u64>,
}

/// What a look at a child's reports found.
#[derive(Debug)]
pub enum Polled {
    Line(Line),
    Nothing,
    /// The child closed its stdout: it has exited (or is exiting).
    Closed,
}

/// A child process running a role; killed and reaped when dropped.
pub struct Proc {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Line>,
    stderr: Arc<Mutex<String>>,
    status: Option<ExitStatus>,
}

impl Proc {
    /// Starts this test binary as a child with `role`, the ring at `path`
    /// and `args`.
    pub fn spawn(role: &str, path: &Path, args: &[u64]) -> Self {
        Self::spawn_with_stdin(role, path, args, Stdio::piped())
    }

    /// [`spawn`](Self::spawn), with `stdin` as the child's standard input
    /// instead of a pipe of its own (for example one end of a socket that
    /// several children share, to start them at one signal).
    pub fn spawn_with_stdin(role: &str, path: &Path, args: &[u64], stdin: Stdio) -> Self {
        let exe = std::env::current_exe().expect("the test binary's path");
        let args_text = args
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        let mut child = Command::new(exe)
            .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
            .env(ROLE_VAR, role)
            .env(PATH_VAR, path)
            .env(ARGS_VAR, &args_text)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start child {role}: {error}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for text in BufReader::new(stdout).lines() {
                let Ok(text) = text else { break };
                // The harness's "test child ... " may precede the first.
                let Some(at) = text.find(MARK) else {
                    continue;
                };
                let rest = &text[at + MARK.len()..];
                let mut words = rest.split_whitespace();
                let word = words.next().unwrap_or_default().to_string();
                let nums = words.map(|n| n.parse().expect("numeric report")).collect();
                if sender.send(Line { word, nums }).is_err() {
                    break;
                }
            }
        });
        let mut stderr_pipe = child.stderr.take().expect("piped stderr");
        let stderr = Arc::new(Mutex::new(String::new()));
        let collected = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut buffer = [0; 4096];
            while let Ok(n @ 1..) = stderr_pipe.read(&mut buffer) {
                let text = String::from_utf8_lossy(&buffer[..n]);
                collected.lock().unwrap().push_str(&text);
            }
        });
        Self {
            name: format!("{role} {args_text}"),
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            status: None,
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails the test, quoting what the child wrote to stderr.
    #[track_caller]
    pub fn fail(&self, what: &str) -> ! {
        panic!(
            "child `{}`: {what}\n--- its stderr ---\n{}",
            self.name,
            self.stderr.lock().unwrap()
        );
    }

    /// The next report if there is one, without waiting.
    pub fn poll(&mut self) -> Polled {
        match self.lines.try_recv() {
            Ok(line) => Polled::Line(line),
            Err(TryRecvError::Empty) => Polled::Nothing,
            Err(TryRecvError::Disconnected) => Polled::Closed,
        }
    }

    /// The next report, waiting up to `timeout`; `None` once the child has
    /// closed its stdout (exited).
    #[track_caller]
    pub fn line_within(&mut self, timeout: Duration) -> Option<Line> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => self.fail(&format!("no report within {timeout:?}")),
        }
    }

    /// The next report (see [`line_within`](Self::line_within)).
    #[track_caller]
    pub fn line(&mut self) -> Option<Line> {
        self.line_within(PATIENCE)
    }

    /// Waits up to `timeout` for the next report, which must be `word`;
    /// returns its numbers.
    #[track_caller]
    pub fn expect_within(&mut self, word: &str, timeout: Duration) -> Vec<u64> {
        match self.line_within(timeout) {
            Some(line) if line.word == word => line.nums,
            Some(line) => self.fail(&format!("reported {line:?}, expected `{word}`")),
            None => self.fail(&format!("exited before reporting `{word}`")),
        }
    }

    /// [`expect_within`](Self::expect_within) with [`PATIENCE`].
    #[track_caller]
    pub fn expect(&mut self, word: &str) -> Vec<u64> {
        self.expect_within(word, PATIENCE)
    }

    /// Closes the child's stdin (a child blocked in [`wait_for_stdin_eof`]
    /// goes on).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Sends `SIGKILL` (`Child::kill` on Unix) without waiting for the
    /// child to die; [`reap`](Self::reap) waits.
    #[track_caller]
    pub fn signal_kill(&mut self) {
        if let Err(error) = self.child.kill() {
            self.fail(&format!("cannot kill it: {error}"));
        }
    }

    /// Waits up to `timeout` for the child to exit; `None` if it has not.
    fn wait_within(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.status.is_some() {
            return self.status;
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.status = Some(status);
                    return self.status;
                }
                Ok(None) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(1));
                }
                Ok(None) => return None,
                Err(error) => self.fail(&format!("cannot wait for it: {error}")),
            }
        }
    }

    /// Waits for the child to exit after a kill; fails the test if it does
    /// not within [`PATIENCE`].
    #[track_caller]
    pub fn reap(&mut self) -> ExitStatus {
        match self.wait_within(PATIENCE) {
            Some(status) => status,
            None => self.fail("still running"),
        }
    }

    /// Kills the child with `SIGKILL` and waits until it is gone (its locks
    /// released).
    #[track_caller]
    pub fn kill(&mut self) {
        self.signal_kill();
        let status = self.reap();
        if status.signal() != Some(SIGKILL) {
            self.fail(&format!("ended with {status} before it was killed"));
        }
    }

    /// Closes the child's stdin and waits up to `timeout` for it to exit
    /// successfully.
    #[track_caller]
    pub fn finish_within(&mut self, timeout: Duration) {
        self.close_stdin();
        match self.wait_within(timeout) {
            Some(status) if status.success() => {}
            Some(status) => self.fail(&format!("ended with {status}")),
            None => self.fail(&format!("still running after {timeout:?}")),
        }
    }

    /// [`finish_within`](Self::finish_within) with [`PATIENCE`].
    #[track_caller]
    pub fn finish(&mut self) {
        self.finish_within(PATIENCE);
    }
}

/// `SIGKILL`'s number, which is 9 on every Unix.
const SIGKILL: i32 = 9;

impl Drop for Proc {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
