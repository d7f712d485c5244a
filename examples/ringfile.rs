//! Two processes, one ring file: logging processes write into a ring on
//! `/dev/shm`, a tailer in another process reads it, and a logging process
//! killed while holding a claim costs the tailer nothing but that claim.
//!
//! ```text
//! cargo run --release --example ringfile                    # the whole demo
//! cargo run --release --example ringfile -- create PATH     # a new MPSC ring file
//! cargo run --release --example ringfile -- log PATH [N [MS]]  # log N lines, MS ms apart (creating the ring if need be)
//! cargo run --release --example ringfile -- tail PATH [-f]  # print what arrives
//! ```
//!
//! `tail` stops once no logging process is attached and it has read
//! everything; `tail -f` keeps waiting for new ones, as `tail -f` does.

use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use logring::channel::{RecvError, SendError};
use logring::file::{FileErrorKind, Mode, Options, RingFile};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ringfile: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => demo(),
        ["create", path] => create(Path::new(path)).map(drop),
        ["log", path] => log(Path::new(path), 10, Duration::ZERO, false),
        ["log", path, n] => log(Path::new(path), n.parse()?, Duration::ZERO, false),
        ["log", path, n, ms] => log(
            Path::new(path),
            n.parse()?,
            Duration::from_millis(ms.parse()?),
            false,
        ),
        ["crash", path] => log(Path::new(path), 1000, Duration::ZERO, true),
        ["tail", path] => tail(Path::new(path), false, true).map(drop),
        ["tail", path, "-f"] => tail(Path::new(path), true, true).map(drop),
        _ => Err("usage: ringfile [create PATH | log PATH [N [MS]] | tail PATH [-f]]".into()),
    }
}

/// The demo's ring: 1 MiB, any number of logging processes.
fn options() -> Options {
    Options::new(1 << 20).mode(Mode::Mpsc)
}

fn create(path: &Path) -> Result<RingFile, Box<dyn Error>> {
    let ring = RingFile::create(path, options())?;
    println!(
        "created {}: {} bytes, records up to {} bytes",
        path.display(),
        ring.capacity(),
        ring.max_record_len()
    );
    Ok(ring)
}

/// One logging process: `n` lines, `pause` apart, then exit (or, with
/// `crash`, hold a claim and wait to be killed).
fn log(path: &Path, n: u64, pause: Duration, crash: bool) -> Result<(), Box<dyn Error>> {
    // Whichever logging process starts first creates the ring; the others
    // (started at the same moment or later) attach to it.
    let ring = match RingFile::open_or_create(path, options()) {
        // An MPSC ring of another size, made by `logring create`: the
        // logger takes it as it is.
        Err(error)
            if matches!(
                error.kind(),
                FileErrorKind::OptionsMismatch {
                    mode: Mode::Mpsc,
                    ..
                }
            ) =>
        {
            RingFile::open(path)?
        }
        ring => ring?,
    };
    let tx = ring.mpsc_sender()?;
    let pid = std::process::id();
    println!("attached");
    std::io::stdout().flush()?;
    let mut full = 0;
    for seq in 0..n {
        if seq > 0 && !pause.is_zero() {
            std::thread::sleep(pause);
        }
        let line = format!("pid {pid} line {seq}: order {} filled", seq * 7 + 1);
        loop {
            match tx.send(line.as_bytes()) {
                Ok(()) => break,
                // The tailer is behind (or not attached yet): a real logger
                // would drop and count; the demo waits so that nothing is lost.
                Err(SendError::Full) => {
                    full += 1;
                    std::thread::sleep(Duration::from_micros(100));
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
    if crash {
        let mut claim = loop {
            match tx.claim(64) {
                Ok(claim) => break claim,
                Err(SendError::Full) => std::thread::sleep(Duration::from_micros(100)),
                Err(error) => return Err(error.into()),
            }
        };
        claim[..7].copy_from_slice(b"partial");
        println!("holding"); // the parent kills us now, claim in hand
        std::io::stdout().flush()?;
        std::thread::sleep(Duration::from_secs(60));
        drop(claim);
    }
    eprintln!("logger {pid}: {n} lines, waited on a full ring {full} times");
    Ok(())
}

/// Reads until no logger is attached and everything is read (or for ever,
/// with `follow`); returns how many lines it read.
fn tail(path: &Path, follow: bool, print: bool) -> Result<u64, Box<dyn Error>> {
    let ring = RingFile::open(path)?;
    let mut rx = ring.receiver()?;
    rx.set_follow(follow);
    let mut lines = 0;
    loop {
        match rx.recv() {
            Ok(record) => {
                lines += 1;
                if print {
                    println!("{}", String::from_utf8_lossy(&record));
                }
            }
            // No logger attached, and everything was read.
            Err(RecvError::Disconnected) => return Ok(lines),
            // A corrupt ring, naming the position: the lines past it are lost.
            Err(error) => return Err(error.into()),
        }
    }
}

/// The whole story in one command: two loggers and a crashing one, in
/// processes of their own, and a tailer here.
fn demo() -> Result<(), Box<dyn Error>> {
    let dir = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("logring-demo-{}.ring", std::process::id()));
    let ring = create(&path)?;
    let _cleanup = RemoveOnDrop(&path);
    let me = std::env::current_exe()?;
    let spawn = |args: &[&str]| -> std::io::Result<Child> {
        Command::new(&me).args(args).stdout(Stdio::piped()).spawn()
    };

    let started = Instant::now();
    let path_arg = path.to_str().ok_or("the ring's path is not UTF-8")?;
    // A logger that dies holding a claim, after 1000 lines.
    let mut crasher = spawn(&["crash", path_arg])?;
    let mut said = Said::of(&mut crasher)?;
    assert_eq!(said.line()?, "attached");
    assert_eq!(said.line()?, "holding");
    crasher.kill()?; // SIGKILL, claim in hand
    crasher.wait()?;
    println!(
        "killed a logger (pid {}) while it held a claim",
        crasher.id()
    );
    // Two loggers that finish; the ring fills before the tailer starts, and
    // they wait for it.
    let mut loggers = [
        spawn(&["log", path_arg, "200000"])?,
        spawn(&["log", path_arg, "200000"])?,
    ];
    for logger in &mut loggers {
        assert_eq!(Said::of(logger)?.line()?, "attached");
    }

    // This process is the tailer: it reads until every logger is gone.
    let lines = tail(&path, false, false)?;
    for mut logger in loggers {
        logger.wait()?;
    }
    println!(
        "tailer read {lines} lines from 3 processes in {:.0?}; dead claims skipped: {}, \
         full rejections: {}",
        started.elapsed(),
        ring.skipped_claims(),
        ring.full_rejections()
    );
    assert_eq!(lines, 2 * 200_000 + 1000, "every committed line arrives");
    Ok(())
}

/// The lines a child process prints.
struct Said(BufReader<ChildStdout>);

impl Said {
    fn of(child: &mut Child) -> Result<Self, Box<dyn Error>> {
        Ok(Self(BufReader::new(
            child.stdout.take().ok_or("no stdout")?,
        )))
    }

    fn line(&mut self) -> Result<String, Box<dyn Error>> {
        let mut line = String::new();
        self.0.read_line(&mut line)?;
        Ok(line.trim().to_owned())
    }
}

/// Removes the demo's ring file, however the demo ends.
struct RemoveOnDrop<'a>(&'a Path);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}
