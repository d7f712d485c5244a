//! `logring write`: standard input into a ring, one record per line or per
//! fixed-size chunk.
//!
//! It never waits without a word: waiting on a full ring that no consumer
//! is attached to, it says so once on standard error (again only after a
//! consumer came and went); stopped by Ctrl-C (SIGINT or SIGTERM), while
//! waiting or reading, it tells what it committed and then ends as the
//! signal would have.

use std::io::{self, BufRead, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use logring::channel::{self, SendError};
use logring::file::{Mode, RingFile};

use crate::stop::{self, Stop};
use crate::{Failure, units};

#[derive(clap::Args)]
pub struct Args {
    /// The ring file.
    path: PathBuf,
    /// Commit fixed-size chunks of the input instead of lines.
    #[arg(long)]
    raw: bool,
    /// With --raw: bytes per record (default 4KiB, at most the ring's
    /// largest record); the last record may be shorter.
    #[arg(long, value_parser = units::size, requires = "raw")]
    chunk_size: Option<usize>,
    /// When the ring is full: wait for the consumer to make room (saying so
    /// once if none is attached), drop the record, or fail (status 1).
    #[arg(long, value_enum, default_value_t = OnFull::Wait)]
    on_full: OnFull,
    /// Tag every record with this number (0 to 4294967039: the tags from
    /// 0xffffff00 up are logring's own, for log events).
    #[arg(long, default_value_t = 0, value_parser = tag)]
    tag: u32,
}

/// A record tag: a `u32` outside the range logring keeps for its own
/// records.
fn tag(text: &str) -> Result<u32, String> {
    let tag = text
        .parse::<u32>()
        .map_err(|_| format!("{text:?} is not a tag (a number from 0 to 4294967039)"))?;
    logring::ReservedTag::check(tag).map_err(|reserved| reserved.to_string())?;
    Ok(tag)
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OnFull {
    Wait,
    Drop,
    Fail,
}

/// Default record size for --raw.
const CHUNK: usize = 4096;
/// How long a writer waiting for room sleeps at most between looks at the
/// consumer's position.
const LONGEST_NAP: Duration = Duration::from_millis(1);
/// How long a writer waits on a full ring before it looks whether a
/// consumer is attached (a system call), and then between looks.
const PRESENCE_LOOK: Duration = Duration::from_secs(1);
/// Longest wait for input between looks at the stop signals.
const TICK: Duration = Duration::from_millis(100);

/// The ring's producer, of whichever mode the ring has.
enum Sender {
    Spsc(channel::spsc::Sender),
    Mpsc(channel::mpsc::Sender),
}

impl Sender {
    /// Commits `payload` tagged `tag`, spinning briefly on a full ring.
    fn send(&mut self, payload: &[u8], tag: u32) -> Result<(), SendError> {
        let mut claim = match self {
            Sender::Spsc(sender) => sender.claim(payload.len())?,
            Sender::Mpsc(sender) => sender.claim(payload.len())?,
        };
        claim.copy_from_slice(payload);
        claim
            .set_tag(tag)
            .expect("the tag was checked with the command line");
        claim.commit();
        Ok(())
    }
}

/// What happened to the input.
#[derive(Default)]
struct Tally {
    /// Records read from the input (the one in hand included).
    records: u64,
    committed: u64,
    /// Records that found the ring full at least once.
    full: u64,
    dropped: u64,
}

/// How the input ended up.
enum End {
    /// Every record of it was dealt with.
    Input,
    /// A stop signal came first.
    Stopped,
}

/// Standard input, read from only once it has something (or has ended), so
/// that a stop signal is noticed while it is idle.
struct Input<'s> {
    stdin: io::StdinLock<'static>,
    stop: &'s Stop,
}

impl Read for Input<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.stop.requested() {
                // Not `Interrupted`, which readers retry.
                return Err(io::Error::other("stopped by a signal"));
            }
            if stop::input_ready(TICK) {
                return self.stdin.read(buf);
            }
        }
    }
}

/// Whether standard error was told that the ring is full with no consumer
/// attached: it is told once, and again only after a consumer was seen.
#[derive(Default)]
struct Absence {
    told: bool,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let stop = Stop::install()?;
    let ring = RingFile::open(&args.path)?;
    let path = args.path.display().to_string();
    let mut sender = match ring.mode() {
        Mode::Spsc => Sender::Spsc(ring.spsc_sender()?),
        Mode::Mpsc => Sender::Mpsc(ring.mpsc_sender()?),
    };
    let max = ring.max_record_len();
    let chunk = match args.chunk_size {
        Some(0) => return Err(Failure::usage("--chunk-size must be at least 1 byte")),
        Some(size) if size > max => {
            return Err(Failure::runtime(format!(
                "ring file {path}: --chunk-size {size} is more than the ring's largest \
                 record ({max} bytes)"
            )));
        }
        Some(size) => size,
        None => CHUNK.min(max),
    };

    let mut tally = Tally::default();
    let mut input = io::BufReader::with_capacity(
        1 << 16,
        Input {
            stdin: io::stdin().lock(),
            stop: &stop,
        },
    );
    let mut record = Vec::new();
    let mut absence = Absence::default();
    let result = loop {
        if stop.requested() {
            break Ok(End::Stopped);
        }
        record.clear();
        let more = if args.raw {
            read_chunk(&mut input, &mut record, chunk)
        } else {
            read_line(&mut input, &mut record, max)
        };
        match more {
            Ok(true) => {}
            Ok(false) => break Ok(End::Input),
            // A partial line or chunk in hand is not written.
            Err(_) if stop.requested() => break Ok(End::Stopped),
            Err(error) => break Err(Failure::runtime(format!("cannot read input: {error}"))),
        }
        tally.records += 1;
        if record.len() > max {
            break Err(Failure::runtime(format!(
                "ring file {path}: line {} is longer than the ring's largest record ({max} \
                 bytes); the lines before it were written",
                tally.records
            )));
        }
        let mut waiting = Waiting {
            ring: &ring,
            stop: &stop,
            absence: &mut absence,
            path: &path,
        };
        match commit(&mut waiting, &mut sender, &record, &args, &mut tally) {
            Ok(true) => {}
            Ok(false) => break Ok(End::Stopped),
            Err(failure) => break Err(failure),
        }
    };
    match result? {
        End::Input => {
            if tally.full > 0 {
                eprintln!("logring: {}", summary(&tally, &path));
            }
            Ok(())
        }
        End::Stopped => {
            // Detach before saying so: what it says is then final.
            drop(sender);
            drop(ring);
            eprintln!("logring: {}; stopped by a signal", summary(&tally, &path));
            stop.die()
        }
    }
}

/// What a wait for room needs besides the ring's position.
struct Waiting<'a> {
    ring: &'a RingFile,
    stop: &'a Stop,
    absence: &'a mut Absence,
    path: &'a str,
}

/// Commits one record, dealing with a full ring as `--on-full` says;
/// `false` if a stop signal came while it waited.
fn commit(
    waiting: &mut Waiting<'_>,
    sender: &mut Sender,
    record: &[u8],
    args: &Args,
    tally: &mut Tally,
) -> Result<bool, Failure> {
    let path = waiting.path;
    let mut waited = false;
    loop {
        // The consumer's position before trying: a wait ends when it moves.
        let head = waiting.ring.head();
        match sender.send(record, args.tag) {
            Ok(()) => {
                tally.committed += 1;
                return Ok(true);
            }
            Err(SendError::Full) => {}
            // A damaged ring's impossible positions (`Corrupt`). The rest
            // cannot happen here: lines and chunks were checked against the
            // largest record, and a ring file's sender never sees its
            // consumer as gone. Say so rather than retry.
            Err(error) => {
                return Err(Failure::runtime(format!(
                    "ring file {path}: record {} was refused: {error}",
                    tally.records
                )));
            }
        }
        if !waited {
            waited = true;
            tally.full += 1;
        }
        match args.on_full {
            OnFull::Wait => {
                if !wait_for_room(waiting, head) {
                    return Ok(false);
                }
            }
            OnFull::Drop => {
                tally.dropped += 1;
                return Ok(true);
            }
            OnFull::Fail => {
                return Err(Failure::runtime(format!(
                    "ring file {path}: the ring is full; record {} was not written \
                     (--on-full fail); the records before it were",
                    tally.records
                )));
            }
        }
    }
}

/// Sleeps until the consumer's position moves past `head`, that is until it
/// released some room; `false` if a stop signal came first. Looking costs
/// no claim, so a writer waiting for a slow (or absent) consumer adds
/// nothing to the ring's full rejections until there is room to try again.
///
/// Once it has waited `PRESENCE_LOOK`, and every `PRESENCE_LOOK` after, it
/// looks whether a consumer is attached, and tells standard error once if
/// none is: a writer that waits for ever must not look hung.
fn wait_for_room(waiting: &mut Waiting<'_>, head: u64) -> bool {
    let mut nap = Duration::from_micros(20);
    let mut look = Instant::now() + PRESENCE_LOOK;
    while waiting.ring.head() == head {
        if waiting.stop.requested() {
            return false;
        }
        let now = Instant::now();
        if now >= look {
            look = now + PRESENCE_LOOK;
            if waiting.ring.consumer_attached() {
                // Should this one leave, say so again.
                waiting.absence.told = false;
            } else if !waiting.absence.told {
                waiting.absence.told = true;
                eprintln!(
                    "logring: ring file {path}: the ring is full and no consumer is attached; \
                     waiting for one to make room (start one, e.g. `logring tail {path}`, or \
                     write with `--on-full drop` or `--on-full fail`)",
                    path = waiting.path
                );
            }
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(LONGEST_NAP);
    }
    // The position moved: a consumer was there. Should it be gone by the
    // next wait, say so again.
    waiting.absence.told = false;
    true
}

/// Reads one line into `record`, without its newline; `false` at the end of
/// the input. Reads no more than `max + 1` bytes of it: a longer line cannot
/// be a record, and need not fill the memory first.
fn read_line(input: &mut impl BufRead, record: &mut Vec<u8>, max: usize) -> io::Result<bool> {
    let limit = max as u64 + 2; // the longest record, its newline, one more
    if input.take(limit).read_until(b'\n', record)? == 0 {
        return Ok(false);
    }
    if record.last() == Some(&b'\n') {
        record.pop();
    }
    Ok(true)
}

/// Reads up to `chunk` bytes into `record` (fewer only at the end of the
/// input); `false` if the input had ended.
fn read_chunk(input: &mut impl Read, record: &mut Vec<u8>, chunk: usize) -> io::Result<bool> {
    input.take(chunk as u64).read_to_end(record)?;
    Ok(!record.is_empty())
}

/// How the input fared: what was committed, and what the full ring did.
fn summary(tally: &Tally, path: &str) -> String {
    let mut summary = format!(
        "ring file {path}: committed {} of {} records",
        tally.committed, tally.records
    );
    if tally.dropped > 0 {
        summary += &format!("; dropped {} (the ring was full)", tally.dropped);
    } else if tally.full > 0 {
        summary += &format!(
            "; the ring was full for {} of them, which waited for room",
            tally.full
        );
    }
    summary
}
