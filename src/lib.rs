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
//!   between processes, with crash recovery, liveness from the OS, and
//!   read-only observers.
//! - [`tracing`] (feature `tracing`) and [`log`] (feature `log`): front ends
//!   that write `tracing` events and `log` records into a ring as binary
//!   events: no allocation, lock or system call on the calling thread.
//! - [`events`] (feature `events`, which both turn on): decoding those events
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
//! - `cli`: the `logring` command (create, write, tail and inspect ring
//!   files; it decodes log events).

// The front page links the feature-gated modules; a build without those
// features has nothing to link them to.
#![cfg_attr(
    not(all(
        feature = "async",
        feature = "mmap",
        feature = "tracing",
        feature = "log"
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

/// The README's examples, compiled and run as doctests (with every feature:
/// the README's test command).
#[cfg(all(
    doctest,
    feature = "mmap",
    feature = "async",
    feature = "tracing",
    feature = "log"
))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// What logring's macros expand to: not part of the API.
#[cfg(all(feature = "macros", not(loom)))]
#[doc(hidden)]
pub mod __private {
    pub use crate::events::global::{
        ArgRef, Callsite, CallsiteMeta, Slot, TypedArg, ViaFallback, ViaTyped, emit, enabled,
    };

    /// The front ends' clock, for the clock bench.
    pub fn now_ns() -> u64 {
        crate::events::clock::now_ns()
    }
}
