//! One record in, one line out: event records decoded and rendered, plain
//! records printed as they are. What `logring tail` and the [`Writer`]
//! thread both print, written once.
//!
//! [`Writer`]: super::Writer

use std::cell::RefCell;
use std::fmt;

use super::{plain, render};
use crate::channel::Receiver;
use crate::ring::Ring;
use crate::ring::event::{self, DecodeCache, Fail, RESERVED_TAGS, Spare};
use crate::sync::Ordering;

/// How records are printed: one line each, as text or as JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Events in the shape of `tracing_subscriber::fmt`'s default format
    /// (without colours); plain records as their text, one line each,
    /// control characters and invalid UTF-8 escaped.
    Text,
    /// Events in the shape of `tracing_subscriber::fmt().json()`, plus
    /// `pid`; plain records as an object with `seq`, `position`, `length`,
    /// `tag`, `encoding` (`"utf8"` or `"base64"`) and `payload`.
    Json,
}

/// Turns a ring's records into lines, decoding event records with the
/// ring's dictionary: what `logring tail` prints, and what a
/// [`Writer`](super::Writer) writes.
///
/// An event record that does not decode (an unknown encoding version, a
/// dictionary entry that is missing, bytes that make no sense) gives one
/// marker line with the raw record instead, never a panic.
///
/// ```
/// use logring::channel::mpsc;
/// use logring::events::{Decoder, Format};
///
/// let (tx, mut rx) = mpsc::new(4096)?;
/// tx.send(b"disk full")?;
/// let decoder = Decoder::new(&rx, Format::Text);
/// let record = rx.recv()?;
/// let mut line = String::new();
/// decoder.line(&mut line, 1, record.position(), record.tag(), &record);
/// assert_eq!(line, "disk full\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Decoder {
    /// Whose dictionary entries are looked up.
    source: Source,
    format: Format,
    /// The dictionary entries parsed so far, and the buffers records decode
    /// into: reused from one record to the next.
    state: RefCell<State>,
}

/// Where a decoder finds the ring's dictionary.
enum Source {
    /// A receiver's ring.
    Ring(Ring),
    /// A spy's read-only mapping of a ring file, with its capacity and
    /// dictionary length.
    #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
    Spy(std::sync::Arc<crate::region::ReadOnlyFileRegion>, u64, u64),
}

impl Source {
    fn dictionary(&self) -> crate::ring::dict::Dictionary<'_> {
        match self {
            Self::Ring(ring) => ring.dictionary(),
            #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
            Self::Spy(region, capacity, dict_len) => {
                crate::file::read_only_dictionary(region, *capacity, *dict_len)
            }
        }
    }
}

#[derive(Default)]
struct State {
    cache: DecodeCache,
    spare: Spare,
}

impl Decoder {
    /// A decoder of the records `receiver` receives, printing them in
    /// `format`. It keeps the ring's memory (and so its dictionary) alive,
    /// not the receiver.
    pub fn new(receiver: &Receiver, format: Format) -> Self {
        Self {
            source: Source::Ring(receiver.link.ring.share()),
            format,
            state: RefCell::default(),
        }
    }

    /// A decoder of the records `spy` reads, printing them in `format`,
    /// with the ring's dictionary as the spy sees it (read-only). It keeps
    /// the spy's mapping alive, not the spy.
    ///
    /// Its [`drop_notice`](Self::drop_notice) never reports anything: the
    /// count of drops no event reported is the consumer's to take, and a
    /// spy writes nothing.
    #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
    pub fn for_spy(spy: &crate::file::RingSpy, format: Format) -> Self {
        let (region, capacity, dict_len) = spy.dictionary_parts();
        Self {
            source: Source::Spy(region, capacity, dict_len),
            format,
            state: RefCell::default(),
        }
    }

    /// The format this decoder prints.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Appends the line of one record to `out`, ending with a newline: the
    /// record at `position` in the ring, with `tag` and `payload`, the
    /// `seq`-th this reader prints (from 1; JSON shows it for plain records).
    pub fn line(&self, out: &mut String, seq: u64, position: u64, tag: u32, payload: &[u8]) {
        if RESERVED_TAGS.contains(&tag) {
            let mut state = self.state.borrow_mut();
            let State { cache, spare } = &mut *state;
            // Each round parses one more entry the record refers to: as
            // many rounds as the record has callsites and threads, at most.
            loop {
                let error = match event::decode_cached(tag, payload, cache, spare) {
                    Ok(decoded) => {
                        render::event(out, self.format, &decoded);
                        spare.recycle(decoded);
                        return;
                    }
                    Err(Fail::Error(error)) => error,
                    Err(Fail::Miss(miss)) => {
                        let id = miss.id();
                        let copy = self.source.dictionary().entry(id);
                        let entry = event::OneEntry {
                            id,
                            payload: copy.as_deref(),
                        };
                        match cache.fill(miss, &entry) {
                            Ok(()) => continue,
                            Err(error) => error,
                        }
                    }
                };
                render::undecodable(out, self.format, tag, payload, &error);
                return;
            }
        }
        match self.format {
            Format::Text => plain::text(out, payload),
            Format::Json => plain::json(out, seq, position, tag, payload),
        }
    }
}

impl Decoder {
    /// If the ring's front ends dropped events (a full ring) that no notice
    /// has reported yet, takes their count and appends the notice line
    /// (`WARN logring: N events dropped dropped=N`, timestamped now, with no
    /// `pid`), returning `true`.
    ///
    /// Front ends report drops themselves, in a notice written before the
    /// next event that finds room; a reader calls this when it finds the
    /// ring empty, so that drops no event followed are shown all the same.
    /// Each drop is reported once, by whoever takes the count first.
    pub fn drop_notice(&self, out: &mut String) -> bool {
        let ring = match &self.source {
            Source::Ring(ring) => ring,
            #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
            Source::Spy(..) => return false,
        };
        let unreported = &ring.header().events.0.unreported_drops;
        // Relaxed: a cheap look first; the swap takes the count (front ends
        // add to it and swap it with Relaxed as well: only the count
        // matters, nothing is published through it).
        if unreported.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let count = unreported.swap(0, Ordering::Relaxed);
        if count == 0 {
            return false;
        }
        render::event(
            out,
            self.format,
            &event::drop_notice(event::now_ns(), count),
        );
        true
    }
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}
