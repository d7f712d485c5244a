//! `logring write`: standard input into a ring, one record per line or per
//! fixed-size chunk.

use std::io::{self, BufRead, Read};
use std::path::PathBuf;
use std::time::Duration;

use logring::channel::{self, SendError};
use logring::file::{Mode, RingFile};

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
    /// When the ring is full: wait for the consumer to make room, drop the
    /// record, or fail (status 1).
    #[arg(long, value_enum, default_value_t = OnFull::Wait)]
    on_full: OnFull,
    /// Tag every record with this number.
    #[arg(long, default_value_t = 0)]
    tag: u32,
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

/// The ring's producer, of whichever mode the ring has.
enum Sender {
    Spsc(channel::spsc::Sender),
    Mpsc(channel::mpsc::Sender),
}

impl Sender {
    /// Commits `payload` tagged `tag`, spinning briefly on a full ring.
    fn send(&mut self, payload: &[u8], tag: u32) -> Result<(), SendError> {
        let mut claim = match self {
            Sender::Spsc(sender) => sender.send(payload.len())?,
            Sender::Mpsc(sender) => sender.send(payload.len())?,
        };
        claim.copy_from_slice(payload);
        claim.set_tag(tag);
        claim.commit();
        Ok(())
    }
}

/// What happened to the input.
#[derive(Default)]
struct Tally {
    records: u64,
    /// Records that found the ring full at least once.
    full: u64,
    dropped: u64,
}

pub fn run(args: Args) -> Result<(), Failure> {
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
    let mut input = io::BufReader::with_capacity(1 << 16, io::stdin().lock());
    let mut record = Vec::new();
    let result = loop {
        record.clear();
        let more = if args.raw {
            read_chunk(&mut input, &mut record, chunk)
        } else {
            read_line(&mut input, &mut record, max)
        };
        match more {
            Ok(true) => {}
            Ok(false) => break Ok(()),
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
        if let Err(failure) = commit(&ring, &mut sender, &record, &args, &mut tally, &path) {
            break Err(failure);
        }
    };
    if result.is_ok() {
        report(&tally, &path);
    }
    result
}

/// Commits one record, dealing with a full ring as `--on-full` says.
fn commit(
    ring: &RingFile,
    sender: &mut Sender,
    record: &[u8],
    args: &Args,
    tally: &mut Tally,
    path: &str,
) -> Result<(), Failure> {
    let mut waited = false;
    loop {
        // The consumer's position before trying: a wait ends when it moves.
        let head = ring.head();
        match sender.send(record, args.tag) {
            Ok(()) => return Ok(()),
            Err(SendError::Full) => {}
            // Neither happens here: lines and chunks were checked against
            // the largest record, and a ring file's sender never sees its
            // consumer as gone. Should one, say so rather than retry.
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
            OnFull::Wait => wait_for_room(ring, head),
            OnFull::Drop => {
                tally.dropped += 1;
                return Ok(());
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
/// released some room. Looking costs no claim, so a writer waiting for a
/// slow (or absent) consumer adds nothing to the ring's full rejections
/// until there is room to try again.
fn wait_for_room(ring: &RingFile, head: u64) {
    let mut nap = Duration::from_micros(20);
    while ring.head() == head {
        std::thread::sleep(nap);
        nap = (nap * 2).min(LONGEST_NAP);
    }
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

/// Tells standard error how the input fared, if the ring was ever full.
fn report(tally: &Tally, path: &str) {
    if tally.dropped > 0 {
        eprintln!(
            "logring: ring file {path}: dropped {} of {} records (the ring was full)",
            tally.dropped, tally.records
        );
    } else if tally.full > 0 {
        eprintln!(
            "logring: ring file {path}: the ring was full for {} of {} records, which waited \
             for room",
            tally.full, tally.records
        );
    }
}
