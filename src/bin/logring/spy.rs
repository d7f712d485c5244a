//! `logring tail --spy`: print a ring's records without consuming them.
//!
//! A [`RingSpy`] opens the file read-only and never writes to it, so read
//! permission is enough, and the consumer (if there is one) and the
//! producers neither know of it nor wait for it. Nothing is released:
//! whatever stops the command (Ctrl-C, a closed output, `--count`,
//! SIGKILL) leaves the ring as it found it, and a `tail` that consumes
//! still gets every record.
//!
//! Reading behind the consumer's back, a spy can be lapped: the records it
//! was about to read were consumed and their room reused before it got to
//! them. It then prints a marker line with the bytes it lost and goes on
//! at the oldest record still there. `--count` counts records, not markers.
//! A ring made with a retention (`create --retain`) keeps the last bytes
//! its consumer took in place: a spy that stays within them of the
//! consumer is never lapped, and one from the oldest record starts with
//! them.
//! Events decode as for `tail`, except that a spy never prints the notice
//! of dropped events that no event reported: taking that count is the
//! consumer's.

use std::io::{self, Write};

use logring::file::{RingSpy, Spied, SpyFrom, SpyTimeoutError};

use crate::Failure;
use crate::format::{self, Printer};
use crate::stop::{self, Stop};
use crate::tail::{Args, Idle, SpyStart, reached};

pub fn run(args: Args) -> Result<(), Failure> {
    let stop = Stop::install()?;
    let from = match args.from.unwrap_or(SpyStart::Oldest) {
        SpyStart::Oldest => SpyFrom::Oldest,
        SpyStart::Now => SpyFrom::Now,
    };
    let mut spy = RingSpy::open(&args.path, from)?;
    // With --no-follow: the end of what was in the ring on arrival.
    let end = args.no_follow.then(|| spy.tail());
    let printer = Printer::for_spy(&spy, args.format);

    let mut stdout = io::stdout().lock();
    let mut out = String::new();
    let mut printed = 0u64;
    let mut idle = Idle::new(args.timeout);
    loop {
        if stop.requested() || args.count.is_some_and(|count| printed >= count) {
            return Ok(());
        }
        if end.is_some_and(|end| reached(spy.position(), end)) {
            return Ok(());
        }
        let Some(wait) = idle.next_wait() else {
            return Ok(());
        };
        out.clear();
        let is_record = match spy.read_timeout(wait) {
            Ok(Spied::Record(record)) => {
                if end.is_some_and(|end| reached(record.position(), end)) {
                    // Committed after this spy arrived: not ours to print.
                    return Ok(());
                }
                let shown = format::Record {
                    seq: printed + 1,
                    position: record.position(),
                    tag: record.tag(),
                    payload: &record,
                };
                printer.record(&mut out, &shown);
                true
            }
            Ok(Spied::Lapped(lap)) => {
                printer.lap(&mut out, &lap);
                false
            }
            Err(SpyTimeoutError::Timeout) => {
                idle.waited(wait);
                if stop::output_closed() {
                    return Ok(());
                }
                continue;
            }
            Err(SpyTimeoutError::Corrupt(corrupt)) => {
                return Err(Failure::runtime(format!(
                    "ring file {}: {corrupt}; the records before it were printed",
                    args.path.display()
                )));
            }
        };
        idle.busy();
        match stdout
            .write_all(out.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => printed += u64::from(is_record),
            Err(error) if stop::is_closed_output(&error) => return Ok(()),
            Err(error) => {
                return Err(Failure::runtime(format!(
                    "cannot write the output: {error}"
                )));
            }
        }
    }
}
