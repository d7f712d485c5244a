//! The event writer: a background thread that receives a channel's records,
//! decodes them ([`Decoder`]) and writes the lines to any `io::Write`.
//!
//! # Stopping without losing what was committed
//!
//! [`Writer::finish`] (and dropping the guard) must write everything
//! committed before the call, while senders may still be alive and still
//! sending. It does not wait for the senders to go: it reads the ring's
//! `tail` at the call, the position where the next claim will start, and
//! hands it to the thread as its `end`. Every record committed before the
//! call was claimed before it, so it lies below `end`; the thread drains up
//! to `end` and stops at the first record at or past it (left unread, for a
//! ring file's next consumer).
//!
//! A claim below `end` may still be in flight at the call: claimed, not
//! yet committed, and the records after it wait behind it. The thread
//! waits for it, but only for [`IN_FLIGHT_PATIENCE`] in all, so that a
//! sender stalled (or killed) in the middle of a claim never hangs the
//! thread that drops the guard.

use std::fmt;
use std::io::{self, BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{self, AtomicBool, AtomicU64};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{Decoder, Format};
use crate::CorruptRing;
use crate::channel::{ReadClaim, Receiver, RecvTimeoutError, TryRecvError};
use crate::ring::Ring;
use crate::sync::Ordering;

/// How long the receiver sleeps between looks at an idle ring: it polls,
/// so that senders never make a system call to wake it.
const POLL_INTERVAL: Duration = Duration::from_micros(100);
/// How often the idle thread looks for a stop request.
const TICK: Duration = Duration::from_millis(5);
/// How long, in all, the thread waits for claims still in flight below its
/// `end` once asked to stop.
const IN_FLIGHT_PATIENCE: Duration = Duration::from_millis(250);
/// The output buffer: lines are written to `out` in batches of up to this
/// many bytes, and whenever the ring runs empty.
const BUFFER_LEN: usize = 64 * 1024;

/// A background thread that writes a channel's records as lines: event
/// records (from `logring::tracing::Layer` or `logring::log::Logger`)
/// decoded, plain records as they are (see [`Format`]). The guard it
/// returns stops it.
///
/// The thread (named `logring-writer`) receives with a polling receiver
/// ([`Receiver::set_poll_interval`], 100 µs), so that sending an event never
/// costs the calling thread a system call to wake it. Lines go through a
/// buffer, flushed whenever the ring runs empty.
///
/// [`finish`](Self::finish), or dropping the guard, writes everything
/// committed before the call, even while senders are still alive (a claim
/// still in flight at the call is waited for a bounded time, a quarter of a
/// second in all), flushes and joins the thread. `finish` returns the first
/// error; dropping ignores it.
///
/// The thread ends by itself once every sender is gone and it has written
/// everything (on a ring file: once no producer is attached, unless the
/// receiver [follows](Receiver::set_follow)), or at the first error of
/// `out` (the records it had taken into its buffer are lost then; senders
/// of a heap ring see the receiver gone). A panic in `out` ends the thread
/// too; `finish` reports it as an error. Neither ever hangs the thread that
/// finishes or drops the guard; an `out` that blocks for ever does.
///
/// ```
/// use logring::channel::mpsc;
/// use logring::events::{Format, Writer};
///
/// let (sender, receiver) = mpsc::new(1 << 20)?;
/// // Events come from the front ends over clones of the sender, e.g.
/// // `logring::tracing::Layer::new(sender.clone())`; plain records pass
/// // through as they are.
/// let guard = Writer::spawn(receiver, std::io::stdout(), Format::Text)?;
/// sender.send(b"a plain record")?;
/// // Writes what was sent before it, though `sender` is still alive.
/// guard.finish()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Writer {
    stop: Arc<Stop>,
    /// The receiver's ring, for its `tail` at the stop request.
    ring: Ring,
    /// `None` once joined.
    thread: Option<JoinHandle<io::Result<()>>>,
}

/// The stop request, from the guard to the thread.
#[derive(Default)]
struct Stop {
    requested: AtomicBool,
    /// Where the thread stops: the ring's `tail` at the request.
    end: AtomicU64,
}

impl Stop {
    /// The position to drain up to, once a stop is requested.
    #[inline]
    fn end(&self) -> Option<u64> {
        // Acquire: pairs with the Release store of `requested` in `request`,
        // so `end` is the one stored before it.
        if self.requested.load(atomic::Ordering::Acquire) {
            Some(self.end.load(atomic::Ordering::Relaxed))
        } else {
            None
        }
    }

    fn request(&self, end: u64) {
        self.end.store(end, atomic::Ordering::Relaxed);
        // Release: pairs with the Acquire load in `end`.
        self.requested.store(true, atomic::Ordering::Release);
    }
}

impl Writer {
    /// Starts the thread that receives from `receiver` and writes each
    /// record to `out` as a line in `format`.
    ///
    /// `receiver` is set to poll (its poll interval becomes 100 µs); its
    /// [follow](Receiver::set_follow) setting is kept.
    ///
    /// # Errors
    ///
    /// The thread could not be started.
    pub fn spawn(
        mut receiver: Receiver,
        out: impl io::Write + Send + 'static,
        format: Format,
    ) -> io::Result<Writer> {
        receiver.set_poll_interval(Some(POLL_INTERVAL));
        let decoder = Decoder::new(&receiver, format);
        let ring = receiver.link.ring.share();
        let stop = Arc::new(Stop::default());
        let requests = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("logring-writer".into())
            .spawn(move || run(receiver, decoder, out, &requests))?;
        Ok(Writer {
            stop,
            ring,
            thread: Some(thread),
        })
    }

    /// Writes everything committed before this call, flushes, and joins the
    /// thread (see the type's docs).
    ///
    /// # Errors
    ///
    /// The first error of `out` (writing or flushing), if any; an error of
    /// kind `InvalidData` if the ring was found corrupt (every record before
    /// the corruption was written); an error naming the panic if `out`
    /// panicked.
    pub fn finish(mut self) -> io::Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> io::Result<()> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        // Relaxed: every claim that happened before this call moved `tail`
        // past itself before it, and this load sees at least that store
        // (coherence); claims racing with the call may or may not be seen.
        let end = self.ring.header().tail.0.load(Ordering::Relaxed);
        self.stop.request(end);
        match thread.join() {
            Ok(result) => result,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("a panic");
                Err(io::Error::other(format!(
                    "the event writer's thread panicked: {what}"
                )))
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("running", &self.thread.is_some())
            .finish_non_exhaustive()
    }
}

/// The thread's output: the decoder, the buffer and a line.
struct Lines<W: Write> {
    decoder: Decoder,
    out: BufWriter<W>,
    line: String,
    /// Records written so far.
    seq: u64,
}

impl<W: Write> Lines<W> {
    /// Writes the notice of drops no event reported, if there are any.
    fn drop_notice(&mut self) -> io::Result<()> {
        self.line.clear();
        if self.decoder.drop_notice(&mut self.line) {
            self.out.write_all(self.line.as_bytes())?;
        }
        Ok(())
    }

    /// Writes `record`, unless it lies at or past `end`: then it is left
    /// unread, and `false` says the drain is done.
    fn write(&mut self, record: ReadClaim<'_>, end: Option<u64>) -> io::Result<bool> {
        if end.is_some_and(|end| reached(record.position(), end)) {
            record.unread();
            return Ok(false);
        }
        self.seq += 1;
        self.line.clear();
        self.decoder.line(
            &mut self.line,
            self.seq,
            record.position(),
            record.tag(),
            &record,
        );
        // Released before the write, which may block on `out`.
        record.release();
        self.out.write_all(self.line.as_bytes())?;
        Ok(true)
    }
}

/// The writer thread: receive, decode, write, until every sender is gone or
/// the guard asks it to stop and the drain reaches its `end`.
fn run<W: Write>(mut rx: Receiver, decoder: Decoder, out: W, stop: &Stop) -> io::Result<()> {
    let mut lines = Lines {
        decoder,
        out: BufWriter::with_capacity(BUFFER_LEN, out),
        line: String::new(),
        seq: 0,
    };
    // When the drain after a stop request began to wait for a claim in
    // flight below its end.
    let mut waiting_since: Option<Instant> = None;
    loop {
        let end = stop.end();
        let error = match rx.try_recv() {
            Ok(record) => {
                if !lines.write(record, end)? {
                    break;
                }
                continue;
            }
            Err(error) => error,
        };
        match error {
            TryRecvError::Empty => lines.drop_notice()?,
            // Every sender is gone and everything was received.
            TryRecvError::Disconnected => break,
            TryRecvError::Corrupt(corrupt) => {
                lines.out.flush()?;
                return Err(corrupted(corrupt));
            }
        }
        // The ring ran empty: what is buffered goes out now.
        lines.out.flush()?;
        let wait = match end {
            None => TICK,
            Some(end) => {
                if reached(consumed(&rx), end) {
                    break;
                }
                // A claim in flight below `end` holds up the records
                // behind it.
                let waited = waiting_since.get_or_insert_with(Instant::now).elapsed();
                match IN_FLIGHT_PATIENCE.checked_sub(waited) {
                    Some(left) if !left.is_zero() => left.min(TICK),
                    _ => break,
                }
            }
        };
        match rx.recv_timeout(wait) {
            Ok(record) => {
                if !lines.write(record, end)? {
                    break;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Corrupt(corrupt)) => {
                lines.out.flush()?;
                return Err(corrupted(corrupt));
            }
        }
    }
    lines.drop_notice()?;
    lines.out.flush()
}

/// Where the receiver's consumer stands, read after a receive found nothing
/// ready: it then published its position as the ring's `head`.
fn consumed(rx: &Receiver) -> u64 {
    // Relaxed: the consumer's own store, on this thread.
    rx.link.ring.header().head.0.load(Ordering::Relaxed)
}

fn corrupted(corrupt: CorruptRing) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, corrupt)
}

/// Whether free-running position `pos` is at or past `end` (positions wrap
/// past 2^64; the two are never a capacity apart from the wrong side).
fn reached(pos: u64, end: u64) -> bool {
    pos.wrapping_sub(end) as i64 >= 0
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex, PoisonError};

    use super::*;
    use crate::channel::mpsc;
    use crate::ring::event::{EVENT_TAG_V1, RESERVED_TAGS};

    /// A reserved tag that names no encoding this build knows.
    const UNKNOWN_EVENT_TAG: u32 = 0xFFFF_FF7F;

    /// An output the test reads back once the writer is gone.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn send_tagged(sender: &mpsc::Sender, tag: u32, payload: &[u8]) {
        let mut claim = sender.claim(payload.len()).unwrap();
        claim.copy_from_slice(payload);
        claim.set_tag_unchecked(tag);
        claim.commit();
    }

    /// The lines of a writer in `format` given a plain record, a record of
    /// an encoding this build does not know, an event record of bytes that
    /// make no sense, and another plain record.
    fn lines_of_undecodable(format: Format) -> Vec<String> {
        assert!(RESERVED_TAGS.contains(&UNKNOWN_EVENT_TAG));
        let (sender, receiver) = mpsc::new(4096).unwrap();
        let out = Shared::default();
        let guard = Writer::spawn(receiver, out.clone(), format).unwrap();
        sender.send(b"before").unwrap();
        send_tagged(&sender, UNKNOWN_EVENT_TAG, b"\x01\x02\x03");
        send_tagged(&sender, EVENT_TAG_V1, b"\x01\x03");
        sender.send(b"after").unwrap();
        guard.finish().unwrap();
        let bytes = out.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).expect("the output is UTF-8");
        assert!(text.ends_with('\n'), "{text:?}");
        text.lines().map(str::to_owned).collect()
    }

    /// Records that do not decode print one marker line each, with their
    /// bytes, and the writer goes on.
    #[test]
    fn undecodable_records_print_a_marker_line() {
        let lines = lines_of_undecodable(Format::Text);
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert_eq!(lines[0], "before");
        for (line, raw) in [(&lines[1], "010203"), (&lines[2], "0103")] {
            assert!(line.contains(" WARN logring: "), "{line:?}");
            assert!(line.contains("undecodable"), "{line:?}");
            assert!(line.ends_with(&format!(": {raw}")), "{line:?}");
        }
        assert!(lines[1].contains("unknown encoding"), "{:?}", lines[1]);
        assert_eq!(lines[3], "after");
    }

    #[test]
    fn undecodable_records_print_a_marker_object() {
        let lines: Vec<serde_json::Value> = lines_of_undecodable(Format::Json)
            .iter()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
            .collect();
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert_eq!(lines[0]["payload"], "before");
        for (line, tag, raw) in [
            (&lines[1], "0xffffff7f", "010203"),
            (&lines[2], "0xffffff01", "0103"),
        ] {
            assert_eq!(line["level"], "WARN", "{line}");
            assert_eq!(line["target"], "logring", "{line}");
            let message = line["fields"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("undecodable"), "{line}");
            assert_eq!(line["fields"]["tag"], tag, "{line}");
            assert_eq!(line["fields"]["raw"], raw, "{line}");
        }
        // The markers count among the records written.
        assert_eq!(lines[3]["seq"], 4, "{}", lines[3]);
        assert_eq!(lines[3]["payload"], "after");
    }
}
