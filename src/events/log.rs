//! A [`log::Log`] backend that writes each record as a binary
//! event into a ring (feature `log`).
//!
//! ```no_run
//! let (sender, receiver) = logring::channel::mpsc::new(1 << 20)?;
//! logring::log::Logger::new(sender).init(log::LevelFilter::Info)?;
//! let _writer = logring::events::Writer::spawn(
//!     receiver,
//!     std::io::stdout(),
//!     logring::events::Format::Text,
//! )?;
//! log::info!("filled {} of {}", 3, 10);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A record costs what a `tracing` event does (see [`crate::tracing`]): its
//! message is formatted straight into the claim, and its callsite (level,
//! target, module, file, line) is written once into the ring's dictionary.
//! `log` has no callsite identity of its own; a callsite here is the
//! record's static file, line, level, module path and target, and records
//! whose file or module path is not `'static` (or whose target is not the
//! one first seen there) carry their metadata inline: slower, never wrong.
//! `log`'s structured key-values are not carried.

use std::fmt;

use crate::events::Level;
use crate::events::emit::{Callsites, Emitter, Found, Key, Site, front_end_methods};
use crate::ring::event::{Encoder, FieldName, FieldNames, FieldSink, Meta, MetaKind};

/// The one field of a `log` record: its message.
const FIELDS: &[&str] = &["message"];

/// A `log` backend writing into a ring through an MPSC channel sender.
pub struct Logger {
    emitter: Emitter,
    callsites: Callsites,
}

impl Logger {
    front_end_methods!("Records", "logger");

    /// Installs this logger as `log`'s global logger, and sets `log`'s
    /// maximum level to `level`.
    ///
    /// # Errors
    ///
    /// If a global logger was already set.
    pub fn init(self, level: ::log::LevelFilter) -> Result<(), ::log::SetLoggerError> {
        ::log::set_boxed_logger(Box::new(self))?;
        ::log::set_max_level(level);
        Ok(())
    }

    /// What the table knows of `record`'s callsite, registered in the
    /// dictionary on first sight; `Found::Inline` for a record without a
    /// static callsite.
    #[inline]
    fn found<'a>(&self, record: &::log::Record<'a>) -> Found<'_> {
        let (Some(file), Some(module)) = (record.file_static(), record.module_path_static()) else {
            return Found::Inline;
        };
        // The default target is the module path itself, the same bytes;
        // any other target may be a string that lives no longer than the
        // record, so it is not a key.
        if !std::ptr::eq(record.target(), module) {
            return Found::Inline;
        }
        let key = Key {
            a: file.as_ptr() as usize,
            b: u64::from(record.line().unwrap_or(0)) << 8 | record.level() as u64,
            c: module.as_ptr() as usize ^ module.len().rotate_left(48),
        };
        self.callsites
            .find(key, || self.emitter.register(&meta_of(record)))
    }
}

/// The wire metadata of a `log` record's callsite.
fn meta_of<'a>(record: &'a ::log::Record<'a>) -> Meta<'a> {
    Meta {
        level: Level::from(record.level()),
        kind: MetaKind::Event,
        line: record.line(),
        name: "",
        target: record.target(),
        module_path: record.module_path(),
        file: record.file(),
        field_names: FieldNames::Slice(FIELDS),
        format: None,
    }
}

impl ::log::Log for Logger {
    fn enabled(&self, _: &::log::Metadata<'_>) -> bool {
        // `log`'s maximum level filters before a record is made.
        true
    }

    fn log(&self, record: &::log::Record<'_>) {
        let level = Level::from(record.level());
        let body = |enc: &mut Encoder<'_>| {
            enc.args(FieldName::Index(0), *record.args());
        };
        match self.found(record) {
            Found::Id(id, hint) => self.emitter.emit(level, Site::Known(id, hint), body),
            _ => {
                let meta = meta_of(record);
                self.emitter.emit(level, Site::Inline(&meta), body);
            }
        }
    }

    fn flush(&self) {}
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("emitter", &self.emitter)
            .finish_non_exhaustive()
    }
}

impl From<::log::Level> for Level {
    fn from(level: ::log::Level) -> Self {
        match level {
            ::log::Level::Trace => Level::Trace,
            ::log::Level::Debug => Level::Debug,
            ::log::Level::Info => Level::Info,
            ::log::Level::Warn => Level::Warn,
            ::log::Level::Error => Level::Error,
        }
    }
}
