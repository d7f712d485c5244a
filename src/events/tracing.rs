//! A [`tracing_subscriber::Layer`] that writes each event as a binary
//! record into a ring (feature `tracing`).
//!
//! ```
//! use tracing_subscriber::prelude::*;
//!
//! let (sender, mut receiver) = logring::channel::mpsc::new(1 << 20)?;
//! let subscriber = tracing_subscriber::registry().with(logring::tracing::Layer::new(sender));
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!(order_id = 42u64, px = 101.25, "filled {} of {}", 3, 10);
//! });
//! let record = receiver.try_recv()?;
//! assert!(logring::events::is_event(record.tag()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What the calling thread pays
//!
//! An event costs a clock read, a lookup of its callsite in a fixed table,
//! one claim, its fields encoded in place (integers, floats and bools as
//! binary, strings copied, the message and `Debug` values formatted straight
//! into the claim) and a commit: no allocation, no lock, no system call.
//! What never changes per callsite (level, target, name, file, line, field
//! names) is written once into the ring's dictionary, when the callsite is
//! registered; events refer to it by id.
//!
//! Spans are the registry's: a span's fields are encoded once, when it is
//! created (into a buffer kept in the span's extensions: an allocation per
//! span, not per event) or recorded, and copied into every event inside it.
//! Reading them takes the registry's per-span extensions lock (a shared,
//! uncontended read lock), as `tracing_subscriber::fmt` does.
//!
//! # A full ring
//!
//! By default an event that finds the ring full is dropped and counted; the
//! next event that finds room first writes a record "N events dropped" (a
//! WARN event from target `logring`, with the count as field `dropped`), so
//! the log shows every gap; drops that no event follows are reported by the
//! reader (`logring tail`, [`events::Writer`](crate::events::Writer)) once it
//! finds the ring empty. [`Layer::with_full_policy`] with
//! [`FullPolicy::Spin`](crate::events::FullPolicy::Spin) retries a full ring for the sender's spin budget
//! first. An event larger than the ring's largest record keeps the fields
//! that fit and decodes with `logring.truncated=true`.

use std::fmt;

use tracing_core::field::{Field, FieldSet, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Interest, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::events::Level;
use crate::events::emit::{Callsites, Emitter, Found, Key, Site, front_end_methods};
use crate::ring::event::{
    CallsiteRef, EncodeBuf, Encoder, FieldName, FieldNames, FieldSink, Meta, MetaKind, NameList,
};

/// A `tracing_subscriber` layer that writes events into a ring through an
/// MPSC channel sender (a heap ring's, or a ring file's from
/// [`RingFile::mpsc_sender`](crate::file::RingFile::mpsc_sender)).
///
/// Decode what it writes with `logring tail --format text|json` or
/// [`events::Writer`](crate::events::Writer).
pub struct Layer {
    emitter: Emitter,
    callsites: Callsites,
}

impl Layer {
    front_end_methods!("Events", "layer");

    /// What the table knows of `meta`'s callsite, registered in the
    /// dictionary on first sight.
    #[inline]
    fn found(&self, meta: &'static Metadata<'static>) -> Found<'_> {
        let key = Key {
            a: std::ptr::from_ref(meta) as usize,
            b: 0,
            c: 0,
        };
        self.callsites.find(key, || {
            let names = Names(meta.fields());
            self.emitter.register(&meta_of(meta, &names))
        })
    }

    /// Writes `event`'s callsite, spans and fields.
    #[inline]
    fn write<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let meta = event.metadata();
        let body = |enc: &mut Encoder<'_>| {
            if let Some(scope) = ctx.event_scope(event) {
                for span in scope.from_root() {
                    let span_meta = span.metadata();
                    let extensions = span.extensions();
                    let fields = extensions
                        .get::<SpanFields>()
                        .map_or(&[][..], |fields| fields.0.as_bytes());
                    match self.found(span_meta) {
                        Found::Id(id, _) => enc.span(CallsiteRef::Entry(id), fields),
                        _ => {
                            let names = Names(span_meta.fields());
                            enc.span(CallsiteRef::Inline(&meta_of(span_meta, &names)), fields);
                        }
                    }
                }
            }
            event.record(&mut Fields(enc));
        };
        let level = Level::from(*meta.level());
        match self.found(meta) {
            Found::Id(id, hint) => self.emitter.emit(level, Site::Known(id, hint), body),
            _ => {
                let names = Names(meta.fields());
                let inline = meta_of(meta, &names);
                self.emitter.emit(level, Site::Inline(&inline), body);
            }
        }
    }
}

impl fmt::Debug for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layer")
            .field("emitter", &self.emitter)
            .finish_non_exhaustive()
    }
}

impl<S> tracing_subscriber::Layer<S> for Layer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        self.found(meta);
        Interest::always()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = SpanFields(EncodeBuf::new());
        attrs.record(&mut Fields(&mut fields.0));
        span.extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            values.record(&mut Fields(&mut fields.0));
        } else {
            let mut fields = SpanFields(EncodeBuf::new());
            values.record(&mut Fields(&mut fields.0));
            extensions.insert(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        self.write(event, &ctx);
    }
}

/// A span's fields, encoded as an event's are, kept in its extensions.
struct SpanFields(EncodeBuf);

/// A callsite's field names, read from its field set by index.
struct Names<'a>(&'a FieldSet);

impl NameList for Names<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn name(&self, index: usize) -> &str {
        self.0.iter().nth(index).map_or("", |field| field.name())
    }
}

/// The wire metadata of a `tracing` callsite.
fn meta_of<'a>(meta: &'a Metadata<'a>, names: &'a Names<'a>) -> Meta<'a> {
    Meta {
        level: Level::from(*meta.level()),
        kind: if meta.is_span() {
            MetaKind::Span
        } else {
            MetaKind::Event
        },
        name: meta.name(),
        target: meta.target(),
        module_path: meta.module_path(),
        file: meta.file(),
        line: meta.line(),
        field_names: FieldNames::List(names),
        format: None,
    }
}

/// The name of `field` on the wire: its index in its callsite's field set.
#[inline]
fn name(field: &Field) -> FieldName<'static> {
    match u16::try_from(field.index()) {
        Ok(index) if index != u16::MAX => FieldName::Index(index),
        _ => FieldName::Name(field.name()),
    }
}

/// Encodes fields into a sink: an event's claim, or a span's buffer.
struct Fields<'s, S: FieldSink>(&'s mut S);

impl<S: FieldSink> Visit for Fields<'_, S> {
    #[inline]
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.f64(name(field), value);
    }

    #[inline]
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.i64(name(field), value);
    }

    #[inline]
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.u64(name(field), value);
    }

    #[inline]
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.0.i128(name(field), value);
    }

    #[inline]
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.0.u128(name(field), value);
    }

    #[inline]
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.bool(name(field), value);
    }

    #[inline]
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.str(name(field), value);
    }

    #[inline]
    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        self.0.bytes(name(field), value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.error(name(field), value);
    }

    #[inline]
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.debug(name(field), value);
    }
}

impl From<tracing_core::Level> for Level {
    fn from(level: tracing_core::Level) -> Self {
        match level {
            tracing_core::Level::TRACE => Level::Trace,
            tracing_core::Level::DEBUG => Level::Debug,
            tracing_core::Level::INFO => Level::Info,
            tracing_core::Level::WARN => Level::Warn,
            _ => Level::Error,
        }
    }
}

#[cfg(all(test, feature = "mmap", target_os = "linux", not(loom)))]
mod fuzz_seeds {
    //! The `open_drain` fuzz target's seeds with events in them: ring files
    //! written by this layer, with their dictionaries.

    use std::path::{Path, PathBuf};

    use tracing_subscriber::prelude::*;

    use super::Layer;
    use crate::events::{Decoder, Format};
    use crate::file::{Mode, Options, RingFile};

    /// An error to log as a field.
    #[derive(Debug)]
    struct Timeout;

    impl std::fmt::Display for Timeout {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("timed out")
        }
    }

    impl std::error::Error for Timeout {}

    /// A ring file of `capacity` bytes and a 4 KiB dictionary, removed when
    /// dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str, capacity: usize) -> (Self, RingFile) {
            let path =
                std::env::temp_dir().join(format!("logring-seed-{name}-{}", std::process::id()));
            let _ = std::fs::remove_file(&path);
            let options = Options::new(capacity).mode(Mode::Mpsc).dictionary_len(4096);
            let ring = RingFile::create(&path, options).unwrap();
            (Self(path), ring)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// Logs through a layer of its own over `ring`, as one run of a logger.
    fn with_layer(ring: &RingFile, log: impl FnOnce()) {
        let layer = Layer::new(ring.mpsc_sender().unwrap());
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), log);
    }

    /// Events of every field type, in two nested spans, at every level.
    fn every_kind_of_event() {
        let request = tracing::info_span!("request", id = 17u64, path = "/orders");
        let _request = request.enter();
        let fill = tracing::debug_span!("fill", venue = "XNAS", qty = 3i64);
        let _fill = fill.enter();
        let error = Timeout;
        tracing::info!(
            order_id = 42u64,
            px = 101.25,
            delta = -7i64,
            ok = true,
            side = ?Some("buy"),
            raw = &b"\x00\x01\xff"[..],
            big = -1i128 << 100,
            ubig = 1u128 << 100,
            error = &error as &dyn std::error::Error,
            "filled {} of {}",
            3,
            5
        );
        tracing::warn!(target: "orders::book", "a line\nand \"quotes\" \u{1b}[31m");
        tracing::error!(code = 7u64, "rejected");
        tracing::trace!("trace");
    }

    /// Copies the ring file at `from` into the corpus as `name`, after
    /// checking that every record in it decodes.
    fn keep(from: &Path, name: &str) {
        let bytes = std::fs::read(from).unwrap();
        {
            let ring = RingFile::open(from).unwrap();
            let mut rx = ring.receiver().unwrap();
            let decoder = Decoder::new(&rx, Format::Json);
            let mut lines = String::new();
            let mut seq = 0;
            loop {
                match rx.try_recv() {
                    Ok(record) => {
                        seq += 1;
                        decoder.line(&mut lines, seq, record.position(), record.tag(), &record);
                    }
                    Err(error) => {
                        assert_eq!(error, crate::channel::TryRecvError::Disconnected, "{name}");
                        break;
                    }
                }
            }
            assert!(seq > 0, "{name}: no record");
            assert!(!lines.contains("undecodable"), "{name}: {lines}");
        }
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/open_drain");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }

    /// Writes the seeds into `fuzz/corpus/open_drain/`:
    /// `cargo test --features tracing --lib write_open_drain_event_seeds -- --ignored`.
    #[test]
    #[ignore = "writes the fuzz seeds"]
    fn write_open_drain_event_seeds() {
        // Events of every kind from two runs of a logger: the second
        // registers its callsites again, beside the first's.
        let (scratch, ring) = Scratch::new("events", 4096);
        with_layer(&ring, every_kind_of_event);
        with_layer(&ring, every_kind_of_event);
        drop(ring);
        keep(&scratch.0, "seed-events-mpsc-4k");

        // A full ring: events dropped, then "N events dropped" once a
        // consumer made room, and an event truncated to the largest record.
        let (scratch, ring) = Scratch::new("dropped", 1024);
        with_layer(&ring, || {
            for n in 0..40u64 {
                tracing::info!(n, pad = "some text to make the event larger", "event {}", n);
            }
            let mut consumer = ring.consumer().unwrap();
            for _ in 0..3 {
                drop(consumer.try_recv().unwrap());
            }
            drop(consumer);
            tracing::info!(after = true, "the ring has room again");
            let long = "x".repeat(2000);
            tracing::info!(long = long.as_str(), tail = 1u64, "too long");
        });
        drop(ring);
        keep(&scratch.0, "seed-events-dropped-1k");

        // A full dictionary: logger after logger registers its callsites
        // and thread until there is no room, and events carry them inline.
        let (scratch, ring) = Scratch::new("dictionary-full", 4096);
        let mut consumer = ring.consumer().unwrap();
        for run in 0..60u64 {
            // Room for the run's events (the last run's stay).
            while ring.len_bytes() > 1024 {
                drop(consumer.try_recv().unwrap());
            }
            with_layer(&ring, || {
                let span = tracing::info_span!("run", run);
                let _span = span.enter();
                tracing::info!(run, "logger {} starts", run);
            });
        }
        assert_eq!(ring.dictionary_used(), ring.dictionary_len(), "full");
        drop(consumer);
        drop(ring);
        keep(&scratch.0, "seed-events-dictionary-full-4k");
    }
}
