//! A real log shipper fed by `logring tail --format json`.
//!
//! A child process (this test binary run again) logs events through
//! `logring::tracing::Layer` over a ring file's MPSC sender, inside a span.
//! syslog-ng (Debian's `syslog-ng-core`) starts `logring tail PATH --format
//! json` through its `program()` source, takes each line of the command's
//! output as one message (`flags(no-parse)`: no syslog header is looked
//! for) and writes each message unchanged to a file. Every event must arrive
//! there once, in order, with its fields: each shipped line parses to the
//! event the child logged (level, target, fields, span, file and line,
//! thread, pid; the timestamp checked for its shape), compared as JSON
//! values. So must the events logged before the shipper started and those
//! logged, by a second child, while it runs (which shows that `tail`
//! flushes each line as it prints it).
//!
//! The shipper runs in the foreground with every path of its own (the
//! configuration, persist file, pid file, control socket, its log and the
//! command's stderr) in the test's temporary directory: no system daemon,
//! no `/dev/log`, nothing under `/run` or `/var`. At the end it is stopped
//! (SIGTERM, then SIGKILL to its process group and to the command's, each
//! after a deadline), and the test checks that no process still has the
//! ring open.
//!
//! `.ci/run` installs syslog-ng when it is missing and names it in
//! `LOGRING_SYSLOG_NG`: then the test requires it. A machine without
//! syslog-ng that runs `cargo test` skips the test with a line on stderr.

#![cfg(all(target_os = "linux", not(miri)))]

mod events_support;
#[macro_use]
mod process;

use std::env;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Write};
use std::ops::Range;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use events_support::take_timestamp;
use logring::file::{Mode, Options, RingFile};
use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The binary under test.
const LOGRING: &str = env!("CARGO_BIN_EXE_logring");

/// Set by `.ci/run` to the syslog-ng binary it found or installed.
const SHIPPER_VAR: &str = "LOGRING_SYSLOG_NG";

/// How long any one wait (for the events to arrive, for a process to exit)
/// may take before the test reports a hang. No test checks speed.
const PATIENCE: Duration = Duration::from_secs(30);

/// How long a process asked to stop (SIGTERM) has before it is killed.
const GRACE: Duration = Duration::from_secs(5);

/// Events logged in all: the first half before the shipper starts, the
/// second while it runs.
const EVENTS: usize = 100;

/// The event with a field longer than syslog-ng's default message size
/// (64 KiB, which the configuration raises).
const BIG: usize = 70;
const BIG_LEN: usize = 70_000;

/// A field that must come through every layer unchanged: quotes, a
/// backslash, a tab, characters of two, three and four bytes, the
/// separators that JSON leaves raw but JavaScript does not, and what
/// syslog-ng's templates and printf would expand.
const NOTE: &str = "quote \" backslash \\ tab \t é 日本 🦀 \u{2028}\u{2029} $HOST ${MESSAGE} %s %n";

/// The shipper's configuration. `@NAME@` stands for a path, quoted for the
/// shell in the command and for syslog-ng elsewhere. The README's recipe is
/// this configuration.
const CONFIG: &str = r#"@version: 3.38
options {
    stats-freq(0);
    mark-freq(0);
    log-msg-size(1048576);
};
source s_logring {
    program("exec '@LOGRING@' tail '@RING@' --format json 2>>'@TAIL_STDERR@'"
            flags(no-parse));
};
destination d_events {
    file("@EVENTS@" template("${MESSAGE}\n"));
};
log { source(s_logring); destination(d_events); };
"#;

#[test]
fn every_event_reaches_the_shipper_with_its_fields() {
    let Some(syslog_ng) = syslog_ng() else {
        // Not `eprintln!`, which the test harness captures: this line shows.
        let _ = writeln!(
            io::stderr(),
            "SKIPPED: every_event_reaches_the_shipper_with_its_fields: syslog-ng is not \
             installed (apt-get install syslog-ng-core; .ci/run installs it)"
        );
        return;
    };
    let dir = TempDir::new("shipper");
    let ring_path = dir.path().join("app.ring");
    let events_path = dir.path().join("events.jsonl");
    // Room for every event, however slowly `tail` reads: the layer drops an
    // event that finds the ring full. An event claims the largest size its
    // callsite has written so far, and the unused end of a claim still takes
    // its room until read: after the 70 KB event, each event takes 70 KB.
    let ring = RingFile::create(&ring_path, Options::new(4 << 20).mode(Mode::Mpsc))
        .unwrap_or_else(|error| panic!("{error}"));

    // The child processes that log (this test binary run again) open the
    // ring by its path.
    drop(ring);

    let first = log_events(&ring_path, 0..EVENTS / 2);

    let started = Instant::now();
    let mut shipper = Shipper::start(&syslog_ng, dir.path(), &ring_path, &events_path);
    let lines = shipper.wait_for_lines(&events_path, EVENTS / 2);
    let first_half = started.elapsed();

    let live = Instant::now();
    let second = log_events(&ring_path, EVENTS / 2..EVENTS);
    let lines_now = shipper.wait_for_lines(&events_path, EVENTS);
    let second_half = live.elapsed();
    assert_eq!(lines_now[..lines.len()], lines[..], "shipped lines changed");

    shipper.stop();
    assert_eq!(
        holders(&ring_path),
        Vec::<u32>::new(),
        "processes still have the ring open after the shipper stopped"
    );
    println!(
        "syslog-ng shipped {} events logged before it started in {first_half:?}, \
         then {} logged while it ran in {second_half:?}",
        EVENTS / 2,
        EVENTS - EVENTS / 2
    );

    // Read after the stop: nothing more, nothing less.
    let shipped = lines_in(&events_path);
    assert_eq!(shipped.len(), EVENTS, "{}", shipper.diagnostics());
    for (i, line) in shipped.iter().enumerate() {
        let mut event = event_of(line);
        check_event(i, &event);
        let logger = if i < EVENTS / 2 { &first } else { &second };
        take_timestamp(&mut event);
        let expected = expected_event(i, logger);
        assert_eq!(
            event, expected,
            "event {i} changed on the way: shipped (left), logged (right)"
        );
    }
}

/// What every event must carry, as `tracing_subscriber`'s JSON format
/// prints it (plus `pid`).
fn check_event(i: usize, event: &Value) {
    let context = || format!("event {i}: {event}");
    assert_eq!(event["level"], "INFO", "{}", context());
    assert_eq!(event["target"], "shipper", "{}", context());
    let timestamp = event["timestamp"].as_str().unwrap_or_default();
    assert!(
        timestamp.contains('T') && timestamp.ends_with('Z'),
        "{}",
        context()
    );
    assert!(event["pid"].is_u64(), "{}", context());
    let fields = &event["fields"];
    assert_eq!(
        fields["message"],
        format!("filled {i} of {EVENTS}"),
        "{}",
        context()
    );
    assert_eq!(fields["order_id"], i as u64, "{}", context());
    assert_eq!(fields["px"], 101.25, "{}", context());
    assert_eq!(fields["ok"], true, "{}", context());
    assert_eq!(fields["note"], NOTE, "{}", context());
    let padding = fields["padding"].as_str().unwrap_or("?");
    let expected = if i == BIG { BIG_LEN } else { 0 };
    assert!(
        padding.len() == expected && padding.bytes().all(|b| b == b'x'),
        "event {i}: a padding of {} bytes, not {expected}",
        padding.len()
    );
}

/// The event in a shipped line: the line is the event's JSON object.
fn event_of(line: &str) -> Value {
    serde_json::from_str(line)
        .unwrap_or_else(|error| panic!("a shipped line is not JSON ({error}): {line}"))
}

// ---------------------------------------------------------------------------
// The logging process.

/// The name of the thread that logs in the child.
const LOGGER_THREAD: &str = "shipper-logger";

/// Where the events of one child came from: its process, the line of the
/// `info!` and the number in its thread's `ThreadId(N)`.
struct Logger {
    pid: u32,
    line: u64,
    thread: u64,
}

/// Runs a child process that logs events `range` into the ring at `path`
/// through logring's tracing layer, and waits for it to exit.
fn log_events(path: &Path, range: Range<usize>) -> Logger {
    let mut child = process::Proc::spawn("log", path, &[range.start as u64, range.end as u64]);
    let nums = child.expect("logged");
    child.finish();
    Logger {
        pid: child.pid(),
        line: nums[0],
        thread: nums[1],
    }
}

/// Event `i` as `logring tail --format json` is to print it (without its
/// timestamp), as `tracing_subscriber`'s JSON format prints it with the
/// file, line, thread name and id, plus `pid`.
fn expected_event(i: usize, logger: &Logger) -> Value {
    let padding = if i == BIG {
        "x".repeat(BIG_LEN)
    } else {
        String::new()
    };
    let span = json!({ "venue": "xnas", "name": "order" });
    json!({
        "level": "INFO",
        "fields": {
            "message": format!("filled {i} of {EVENTS}"),
            "order_id": i,
            "px": 101.25,
            "ok": true,
            "note": NOTE,
            "padding": padding,
        },
        "target": "shipper",
        "filename": file!(),
        "line_number": logger.line,
        "span": span,
        "spans": [span],
        "threadName": LOGGER_THREAD,
        "threadId": format!("ThreadId({})", logger.thread),
        "pid": logger.pid,
    })
}

/// The child: logs events `arg(0)..arg(1)` through
/// `logring::tracing::Layer` over the ring file's MPSC sender, on a thread
/// of its own, inside a span; then reports the line of the `info!` and the
/// thread's number, and exits.
#[test]
fn child() {
    let Some((role, ring)) = process::child() else {
        return;
    };
    assert_eq!(role.name, "log", "unknown role");
    let sender = ring.mpsc_sender().unwrap_or_else(|error| panic!("{error}"));
    tracing_subscriber::registry()
        .with(logring::tracing::Layer::new(sender))
        .init();
    let (start, end) = (role.arg(0) as usize, role.arg(1) as usize);
    let logger = thread::Builder::new()
        .name(LOGGER_THREAD.into())
        .spawn(move || {
            let span = tracing::info_span!(target: "shipper", "order", venue = "xnas");
            let _entered = span.enter();
            let mut line = 0;
            for i in start..end {
                let padding = if i == BIG {
                    "x".repeat(BIG_LEN)
                } else {
                    String::new()
                };
                line = line!() + 1;
                tracing::info!(target: "shipper", order_id = i as u64, px = 101.25, ok = true,
                    note = NOTE, padding = padding.as_str(), "filled {} of {}", i, EVENTS);
            }
            let id = format!("{:?}", thread::current().id());
            let number: String = id.chars().filter(char::is_ascii_digit).collect();
            (line, number)
        })
        .expect("the logging thread starts");
    let (line, thread) = logger.join().expect("the logging thread");
    report!("logged {line} {thread}");
}

// ---------------------------------------------------------------------------
// The shipper.

/// syslog-ng: the binary `.ci/run` named, else the first on `PATH` or in
/// the usual system directories (which a user's `PATH` may leave out).
fn syslog_ng() -> Option<PathBuf> {
    if let Some(named) = env::var_os(SHIPPER_VAR) {
        return Some(named.into());
    }
    let path = env::var_os("PATH").unwrap_or_default();
    let system = OsString::from("/usr/sbin:/sbin:/usr/local/sbin");
    env::split_paths(&path)
        .chain(env::split_paths(&system))
        .map(|dir| dir.join("syslog-ng"))
        .find(|candidate| candidate.is_file())
}

/// syslog-ng running the configuration in the foreground, in its own
/// process group, with its files in the test's directory. Stopped when
/// dropped.
struct Shipper {
    child: Child,
    /// Where syslog-ng writes its own messages (`--stderr`).
    stderr: PathBuf,
    /// Where the command's stderr goes.
    tail_stderr: PathBuf,
    events: PathBuf,
    stopped: bool,
}

impl Shipper {
    fn start(syslog_ng: &Path, dir: &Path, ring: &Path, events: &Path) -> Self {
        let tail_stderr = dir.join("tail.stderr");
        let config = CONFIG
            .replace("@LOGRING@", quotable(Path::new(LOGRING)))
            .replace("@RING@", quotable(ring))
            .replace("@TAIL_STDERR@", quotable(&tail_stderr))
            .replace("@EVENTS@", quotable(events));
        let config_path = dir.join("syslog-ng.conf");
        fs::write(&config_path, config).unwrap();
        let stderr = dir.join("syslog-ng.stderr");
        let mut command = Command::new(syslog_ng);
        command
            .arg("--foreground")
            .arg("--stderr")
            .arg("--no-caps")
            .arg("--cfgfile")
            .arg(&config_path)
            .arg("--persist-file")
            .arg(dir.join("syslog-ng.persist"))
            .arg("--pidfile")
            .arg(dir.join("syslog-ng.pid"))
            .arg("--control")
            .arg(dir.join("syslog-ng.ctl"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&stderr).unwrap())
            // Its own group, so that one signal reaches it and its helpers.
            .process_group(0);
        // SAFETY: between fork and exec the closure only calls `prctl`,
        // which is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                // Should this test's thread die without stopping it, so
                // does the shipper (which then stops its command).
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", syslog_ng.display()));
        Self {
            child,
            stderr,
            tail_stderr,
            events: events.to_owned(),
            stopped: false,
        }
    }

    /// Waits until the shipped file holds at least `n` lines; returns them.
    fn wait_for_lines(&mut self, path: &Path, n: usize) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let lines = lines_in(path);
            if lines.len() >= n {
                return lines;
            }
            // A healthy `tail` says nothing on stderr; one that fails is
            // started again and again by syslog-ng: no use waiting.
            if fs::metadata(&self.tail_stderr).is_ok_and(|meta| meta.len() > 0) {
                panic!("`logring tail` failed\n{}", self.diagnostics());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.stopped = true;
                panic!("syslog-ng exited ({status})\n{}", self.diagnostics());
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} lines shipped after {PATIENCE:?}\n{}",
                lines.len(),
                self.diagnostics()
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops syslog-ng and the command it started: SIGTERM (which syslog-ng
    /// passes on to the command), then SIGKILL to whatever is left.
    fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let pid = self.child.id();
        // The command is found while syslog-ng is still its parent; it runs
        // in a session (and process group) of its own.
        let commands = children_of(pid);
        signal(pid as i32, libc::SIGTERM);
        if !exited_within(&mut self.child, GRACE) {
            signal(-(pid as i32), libc::SIGKILL);
            let _ = self.child.wait();
        }
        for command in commands {
            let deadline = Instant::now() + GRACE;
            while alive(command) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
            if alive(command) {
                signal(-(command as i32), libc::SIGKILL);
                signal(command as i32, libc::SIGKILL);
            }
        }
    }

    /// What the shipper and the command said, and what was shipped.
    fn diagnostics(&self) -> String {
        // The end of each file: syslog-ng restarts a command that fails,
        // which may then have said the same thing a thousand times.
        let end = |path: &Path| {
            let text = fs::read_to_string(path).unwrap_or_default();
            let skip = text.chars().count().saturating_sub(2000);
            text.chars().skip(skip).collect::<String>()
        };
        format!(
            "--- syslog-ng's stderr (its end) ---\n{}\n--- logring tail's stderr (its end) ---\n{}\n\
             --- shipped (its end) ---\n{}",
            end(&self.stderr),
            end(&self.tail_stderr),
            end(&self.events)
        )
    }
}

impl Drop for Shipper {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `path` as it may stand between single quotes in the configuration (for
/// the shell) and between double quotes (for syslog-ng).
fn quotable(path: &Path) -> &str {
    let text = path.to_str().expect("test paths are UTF-8");
    assert!(
        !text.contains(['\'', '"', '\\', '\n']),
        "a path the configuration cannot quote: {text}"
    );
    text
}

/// The complete lines of the file at `path` (none while it does not exist).
fn lines_in(path: &Path) -> Vec<String> {
    let bytes = fs::read(path).unwrap_or_default();
    let complete = bytes
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |last| last + 1);
    String::from_utf8(bytes[..complete].to_vec())
        .expect("the shipped file is UTF-8")
        .lines()
        .map(str::to_owned)
        .collect()
}

// ---------------------------------------------------------------------------
// Processes.

/// Sends `signal` to `pid` (a process group when negative). Errors (the
/// process is gone) are of no interest.
fn signal(pid: i32, signal: i32) {
    // SAFETY: `kill` takes no pointers; the pids are this test's children or
    // their groups, found moments ago (see `Shipper::stop`).
    unsafe { libc::kill(pid, signal) };
}

/// Whether `child` exited (and was reaped) within `grace`.
fn exited_within(child: &mut Child, grace: Duration) -> bool {
    let deadline = Instant::now() + grace;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// The fields of `/proc/PID/stat` after the command name: state, ppid, ...
fn stat(pid: u32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    Some(after_name.split_whitespace().map(str::to_owned).collect())
}

/// Whether `pid` runs (a zombie has exited).
fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|fields| fields[0] != "Z")
}

/// The pids of the processes on this machine.
fn pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The running children of `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    let parent = parent.to_string();
    pids()
        .into_iter()
        .filter(|&pid| stat(pid).is_some_and(|fields| fields[0] != "Z" && fields[1] == parent))
        .collect()
}

/// The running processes that have `path` open, or name it on their command
/// line.
fn holders(path: &Path) -> Vec<u32> {
    let needle = path.to_str().expect("test paths are UTF-8");
    pids()
        .into_iter()
        .filter(|&pid| pid != std::process::id() && alive(pid))
        .filter(|&pid| {
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let named = String::from_utf8_lossy(&cmdline).contains(needle);
            let open = fs::read_dir(format!("/proc/{pid}/fd"))
                .map(|fds| {
                    fds.filter_map(Result::ok)
                        .any(|fd| fs::read_link(fd.path()).is_ok_and(|target| target == path))
                })
                .unwrap_or(false);
            named || open
        })
        .collect()
}

/// A fresh directory under the system's temporary directory, removed with
/// what it holds when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = env::temp_dir().join(format!("logring-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
