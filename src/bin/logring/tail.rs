//! `logring tail`: become the ring's consumer and print records as they
//! arrive.
//!
//! Event records (from logring's `tracing` and `log` front ends) are
//! decoded in the text and JSON formats, with the ring's dictionary; plain
//! records print as they are. Each line is flushed as it is written, so a
//! log shipper reading through a pipe sees it at once.
//!
//! A record is released only after it has been written to standard output:
//! whatever stops the command (Ctrl-C, a closed output, `--count`, even
//! SIGKILL) leaves every record it did not print in the ring for the next
//! consumer. A record written in part to an output that closed meanwhile is
//! left too.
//!
//! With `--spy`, it reads without consuming instead (see [`spy`](crate::spy)).

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use logring::channel::RecvTimeoutError;
use logring::file::RingFile;

use crate::format::{self, Format, Printer};
use crate::stop::{self, Stop};
use crate::{Failure, spy, units};

#[derive(clap::Args)]
pub struct Args {
    /// The ring file.
    pub path: PathBuf,
    /// How to print each record.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit after printing this many records.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Exit once no record has arrived for this long: 500ms, 2s, 1m.
    #[arg(long, value_parser = units::duration)]
    pub timeout: Option<Duration>,
    /// Print the records that are in the ring now, then exit (as `tail`
    /// without `-f`).
    #[arg(long)]
    pub no_follow: bool,
    /// Look without taking: print records without consuming them, beside
    /// the consumer or with none (read permission is enough). A spy that
    /// falls behind says how many bytes it lost and goes on; on a ring
    /// made with `create --retain`, one that keeps within that many bytes
    /// of the consumer is never lapped.
    #[arg(long)]
    pub spy: bool,
    /// With --spy: start at the oldest record still in the ring (the
    /// default) or only print what comes next.
    #[arg(long, value_enum, value_name = "WHERE")]
    pub from: Option<SpyStart>,
}

/// Where `tail --spy` starts.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum SpyStart {
    /// The oldest record still in the ring: everything not yet consumed,
    /// and the consumed records a ring with a retention keeps.
    Oldest,
    /// The end of the ring: only records written after the spy started.
    Now,
}

/// Longest sleep between looks at the stop signals and the output while
/// the ring is idle.
const TICK: Duration = Duration::from_millis(100);

pub fn run(args: Args) -> Result<(), Failure> {
    if args.spy {
        return spy::run(args);
    }
    if args.from.is_some() {
        return Err(Failure::usage(
            "--from needs --spy: a consumer starts where the last one stopped",
        ));
    }
    let stop = Stop::install()?;
    let ring = RingFile::open(&args.path)?;
    let mut receiver = ring.receiver()?;
    // This command decides when to end (below): never because producers are
    // absent, as `tail -f` goes on while a log is not written.
    receiver.set_follow(true);
    // With --no-follow: the end of what was in the ring on arrival.
    let end = args.no_follow.then(|| ring.tail());
    // A ring with a retention publishes its head only past the records it
    // keeps for spies, so the head never reaches `end`: there, --no-follow
    // also ends when nothing arrives for a while (a record claimed before
    // arrival and still not committed then is left for the next `tail`).
    let ends_when_idle = args.no_follow && ring.retain() != 0;
    let printer = Printer::new(&receiver, args.format);

    let mut stdout = io::stdout().lock();
    let mut out = String::new();
    let mut printed = 0u64;
    let mut idle = Idle::new(args.timeout);
    loop {
        if stop.requested() || args.count.is_some_and(|count| printed >= count) {
            return Ok(());
        }
        if end.is_some_and(|end| reached(ring.head(), end)) {
            drop_notice(&printer, &mut out, &mut stdout)?;
            return Ok(());
        }
        let Some(wait) = idle.next_wait() else {
            return Ok(());
        };
        let record = match receiver.recv_timeout(wait) {
            Ok(record) => record,
            Err(RecvTimeoutError::Timeout) => {
                // The ring is idle: report the drops no event reported.
                if !drop_notice(&printer, &mut out, &mut stdout)? || ends_when_idle {
                    return Ok(());
                }
                idle.waited(wait);
                if stop::output_closed() {
                    return Ok(());
                }
                continue;
            }
            Err(RecvTimeoutError::Corrupt(corrupt)) => {
                return Err(Failure::runtime(format!(
                    "ring file {}: {corrupt}; the records before it were printed",
                    args.path.display()
                )));
            }
            // A following receiver is never disconnected; should it be, say
            // so rather than wait.
            Err(error) => {
                return Err(Failure::runtime(format!(
                    "ring file {}: the receiver stopped: {error}",
                    args.path.display()
                )));
            }
        };
        if end.is_some_and(|end| reached(record.position(), end)) {
            // Committed after this tail arrived: not ours to print.
            record.unread();
            return Ok(());
        }
        idle.busy();
        out.clear();
        let shown = format::Record {
            seq: printed + 1,
            position: record.position(),
            tag: record.tag(),
            payload: &record,
        };
        printer.record(&mut out, &shown);
        match stdout
            .write_all(out.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => {
                record.release();
                printed += 1;
            }
            Err(error) => {
                record.unread();
                return if stop::is_closed_output(&error) {
                    Ok(())
                } else {
                    Err(Failure::runtime(format!(
                        "cannot write the output: {error}"
                    )))
                };
            }
        }
    }
}

/// Prints the notice of drops no event reported, if there are any:
/// `Ok(false)` if the output is closed (time to stop).
fn drop_notice(
    printer: &Printer,
    out: &mut String,
    stdout: &mut impl Write,
) -> Result<bool, Failure> {
    out.clear();
    if !printer.drop_notice(out) {
        return Ok(true);
    }
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(true),
        Err(error) if stop::is_closed_output(&error) => Ok(false),
        Err(error) => Err(Failure::runtime(format!(
            "cannot write the output: {error}"
        ))),
    }
}

/// How long `tail` waits for the next record (at most a [`TICK`], so that
/// it looks at the stop signals and the output in between), and when it
/// stops for want of one (`--timeout`).
pub struct Idle {
    timeout: Option<Duration>,
    /// Since when nothing has arrived; `None` while records come (the clock
    /// is read only when the ring runs dry).
    since: Option<Instant>,
}

impl Idle {
    pub fn new(timeout: Option<Duration>) -> Self {
        Self {
            timeout,
            since: Some(Instant::now()),
        }
    }

    /// The next wait; `None` once nothing has arrived for the timeout.
    pub fn next_wait(&self) -> Option<Duration> {
        let Some(timeout) = self.timeout else {
            return Some(TICK);
        };
        let idle = self.since.map_or(Duration::ZERO, |since| since.elapsed());
        (idle < timeout).then(|| TICK.min(timeout - idle))
    }

    /// Nothing arrived in `wait`: idle at least since it began.
    pub fn waited(&mut self, wait: Duration) {
        self.since.get_or_insert_with(|| {
            let now = Instant::now();
            now.checked_sub(wait).unwrap_or(now)
        });
    }

    /// Something arrived.
    pub fn busy(&mut self) {
        self.since = None;
    }
}

/// Whether free-running position `pos` is at or past `end` (positions wrap
/// past 2^64; the two are never a capacity apart from the wrong side).
pub fn reached(pos: u64, end: u64) -> bool {
    pos.wrapping_sub(end) as i64 >= 0
}
