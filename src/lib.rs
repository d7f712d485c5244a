//! # logring
//!
//! Low-latency, lock-free byte ring queues for log and telemetry hot paths.
//!
//! A producer claims `n` bytes, writes them in place and commits (or aborts);
//! the consumer reads each record as a `&[u8]` in place and releases it. The
//! producer path takes no lock, allocates nothing and makes no system call.
//!
//! ```
//! use logring::queue::spsc;
//!
//! let (mut producer, mut consumer) = spsc::new(64 * 1024)?;
//!
//! let mut claim = producer.try_claim(11)?;
//! claim.copy_from_slice(b"hello world");
//! claim.commit();
//!
//! let record = consumer.try_recv()?;
//! assert_eq!(&*record, b"hello world");
//! drop(record); // releases its space
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Which end to choose
//!
//! | you want | use |
//! |---|---|
//! | the lowest cost, and you poll (a busy consumer thread) | [`queue::spsc`] or [`queue::mpsc`] |
//! | a consumer that sleeps while the ring is idle, senders that never sleep | [`channel::spsc`] or [`channel::mpsc`] |
//! | the same, draining a log written on a hot path: senders that never make a system call | a channel whose receiver polls ([`channel::Receiver::set_poll_interval`]) |
//! | to wait in async tasks, on any executor (feature `async`) | [`nonblocking::spsc`] or [`nonblocking::mpsc`] |
//! | producer and consumer in different processes, surviving crashes (feature `mmap`, Linux) | [`file::RingFile`], whose ends are the queue's and the channel's |
//! | to log through `tracing` or `log`, decoded in this process or by `logring tail` in another (features `tracing`, `log`) | [`tracing::Layer`] or [`log::Logger`] over a channel sender, and [`events::Writer`] |
//! | to log at the lowest cost on the calling thread, the message formatted by the reader (feature `macros`) | [`info!`] and its kin, after [`events::set_global`] |
//!
//! Every layer speaks one vocabulary: **claim** space to write in place and
//! `commit` it, **send** a copy of a `&[u8]`, **recv** a record in place
//! (released when dropped); `try_` forms try once. The queue has only the
//! `try_` forms; the channel adds `claim`/`send` that spin briefly and then
//! report `Full` (never sleeping) and `recv` that sleeps; the async ends add
//! forms that wait for room or records. The README has the full table beside
//! crossbeam-channel's and tokio's names.
//!
//! # Modules
//!
//! - [`queue`]: the lock-free SPSC and MPSC queues, the claim/commit protocol,
//!   and the one [`queue::Consumer`] both share.
//! - [`channel`]: the same rings with waiting: senders that spin and then
//!   report `Full`, a receiver that spins and then sleeps, disconnection.
//! - [`nonblocking`] (feature `async`): the channels' async ends, for any
//!   executor; [`RecordStream`](nonblocking::RecordStream) for `futures`
//!   combinators.
//! - [`file`](mod@file) (feature `mmap`, Linux): rings in memory-mapped files shared
//!   between processes, with crash recovery, liveness from the OS,
//!   read-only observers, and spies that read the records without
//!   consuming them.
//! - [`tracing`] (feature `tracing`) and [`log`] (feature `log`): front ends
//!   that write `tracing` events and `log` records into a ring as binary
//!   events: no allocation, lock or system call on the calling thread.
//! - [`info!`], [`warn!`], [`error!`], [`debug!`], [`trace!`] (feature
//!   `macros`): logring's own macros, which defer formatting. The format
//!   string is checked at compile time and registered once per callsite;
//!   a call writes the callsite's id, a timestamp and its arguments'
//!   bytes, and the message is formatted by whoever reads the ring.
//! - [`events`] (feature `events`, which the three turn on): decoding those events
//!   in the shapes of `tracing_subscriber::fmt` (text and JSON), with
//!   [`events::Writer`], a thread that writes them to any `io::Write`.
//!
//! Errors live beside the operations that return them (one type per
//! operation, as in crossbeam-channel); [`Error`] (building a ring),
//! [`CorruptRing`] (what a damaged ring looks like) and [`ReservedTag`] (a
//! record tag of the range logring keeps for its own records, such as log
//! events, which `set_tag` refuses) are shared.
//!
//! Every piece of shared state (positions, counters, record words, the
//! waiter word) lives inside the ring's own memory, laid out by a fixed
//! little-endian wire format, so the same code serves a heap ring and a ring
//! in a file shared between processes. The protocol is described in the
//! [`queue`] module.
//!
//! # Features
//!
//! - `mmap` (default): ring files ([`file`](mod@file)).
//! - `async`: async ends ([`nonblocking`]).
//! - `events`: decoding log events ([`events`]).
//! - `tracing`: a `tracing_subscriber` layer ([`tracing::Layer`]).
//! - `log`: a `log` backend ([`log::Logger`]).
//! - `macros`: logring's own log macros ([`info!`] and its kin).
//! - `cli`: the `logring` command (create, write, tail and inspect ring
//!   files; it decodes log events).

// The front page links the feature-gated modules; a build without those
// features has nothing to link them to.
#![cfg_attr(
    not(all(
        feature = "async",
        feature = "mmap",
        feature = "tracing",
        feature = "log",
        feature = "macros"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(target_endian = "big")]
compile_error!(
    "logring's ring format is little-endian with in-place atomics; big-endian targets are not supported"
);

pub mod channel;
mod error;
#[cfg(all(feature = "events", not(loom)))]
pub mod events;
#[cfg(all(feature = "mmap", not(loom)))]
pub mod file;
#[cfg(all(feature = "log", not(loom)))]
#[path = "events/log.rs"]
pub mod log;
#[cfg(feature = "async")]
pub mod nonblocking;
pub mod queue;
mod region;
mod ring;
mod sync;
#[cfg(all(feature = "tracing", not(loom)))]
#[path = "events/tracing.rs"]
pub mod tracing;
mod wait;

// The ends' names and what they ask of each other live in the queue layer;
// the layers above reach them as `crate::peers`.
use queue::peers;

pub use error::{CorruptRing, Error, ReservedTag};

/// Logs an event at [`Level::Trace`](crate::events::Level::Trace), formatted
/// by the reader (feature `macros`).
///
/// The arguments are those of [`info!`], which describes the macros.
///
/// ```no_run
/// let bytes = [0u8, 1, 2];
/// logring::trace!("frame {bytes:x?}");
/// ```
#[cfg(feature = "macros")]
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => {
        $crate::__private::log!($crate, $crate::events::Level::Trace, $($arg)*)
    };
}

/// Logs an event at [`Level::Debug`](crate::events::Level::Debug), formatted
/// by the reader (feature `macros`).
///
/// The arguments are those of [`info!`], which describes the macros.
///
/// ```no_run
/// let (queue, depth) = ("fills", 3usize);
/// logring::debug!(target: "queues", "{queue} holds {depth} orders");
/// ```
#[cfg(feature = "macros")]
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        $crate::__private::log!($crate, $crate::events::Level::Debug, $($arg)*)
    };
}

/// Logs an event at [`Level::Info`](crate::events::Level::Info), formatted by
/// the reader (feature `macros`).
///
/// The arguments are those of [`format!`]: a string literal, then positional
/// arguments, then `name = value` ones; `{name}` also captures a variable.
/// `target: "name",` before the format string sets the event's target (a
/// constant `&'static str`; the module's path by default). The format string
/// is checked at compile time exactly as [`format_args!`] checks it.
///
/// The calling thread formats nothing: the callsite's level, target, file,
/// line and format string are registered once, and each call writes the
/// callsite's id and the arguments' bytes. Integers, floats, `bool`, `char`,
/// `&str`/`String` and byte strings (`&[u8]`, `[u8; N]`, `Vec<u8>`) travel in
/// binary. Any other argument, and any `{:p}`, is formatted on the calling
/// thread into the event, with its placeholder's spec: the slow path, which
/// still allocates nothing.
///
/// Each argument is evaluated once, and only if the level is enabled (a
/// call below [`events::max_level`](crate::events::max_level), `Info` by
/// default, costs one relaxed load and a branch).
///
/// Events go into the ring of the sender given to
/// [`events::set_global`](crate::events::set_global). A call made before,
/// or one that finds the ring full, is dropped and counted, never waited
/// for: the next event that finds room is preceded by "N events dropped".
/// The reader ([`events::Writer`](crate::events::Writer), `logring tail`)
/// prints the event as it prints a `tracing` event: the formatted
/// `message`, then the arguments as fields, `arg0`, `arg1`, ... for
/// positional ones and by name for named and captured ones.
///
/// ```no_run
/// let (id, px) = (42u64, 101.25f64);
/// logring::info!("order {} filled at {}", id, px);
/// logring::info!(target: "fills", "order {id} filled at {px:>8.2}");
/// logring::info!("order {id} filled at {px:.prec$}", prec = 3);
/// ```
#[cfg(feature = "macros")]
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => {
        $crate::__private::log!($crate, $crate::events::Level::Info, $($arg)*)
    };
}

/// Logs an event at [`Level::Warn`](crate::events::Level::Warn), formatted by
/// the reader (feature `macros`).
///
/// The arguments are those of [`info!`], which describes the macros.
///
/// ```no_run
/// let (used, free) = (61_440u64, 4_096u64);
/// logring::warn!("ring {:.1}% full, {free} bytes free", used as f64 * 100.0 / 65_536.0);
/// ```
#[cfg(feature = "macros")]
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => {
        $crate::__private::log!($crate, $crate::events::Level::Warn, $($arg)*)
    };
}

/// Logs an event at [`Level::Error`](crate::events::Level::Error), formatted
/// by the reader (feature `macros`).
///
/// The arguments are those of [`info!`], which describes the macros.
///
/// ```no_run
/// let error = std::io::Error::other("disk full");
/// logring::error!("write failed: {error}");
/// ```
#[cfg(feature = "macros")]
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => {
        $crate::__private::log!($crate, $crate::events::Level::Error, $($arg)*)
    };
}

/// The README's examples, compiled and run as doctests (with every feature:
/// the README's test command).
#[cfg(all(
    doctest,
    feature = "mmap",
    feature = "async",
    feature = "tracing",
    feature = "log",
    feature = "macros"
))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// What the log macros' expansion names. Not a public API: it changes with
/// the macros.
#[cfg(all(feature = "macros", not(loom)))]
#[doc(hidden)]
pub mod __private {
    pub use logring_macros::log;

    pub use crate::events::global::{
        ArgRef, Args, Callsite, CallsiteMeta, Slot, Text, Typed, TypedArg, ViaFallback, ViaTyped,
        emit, enabled,
    };

    /// The front ends' clock, for the clock bench.
    pub fn now_ns() -> u64 {
        crate::events::clock::now_ns()
    }
}
