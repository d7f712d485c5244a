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
//! if let Some(record) = consumer.try_read() {
//!     assert_eq!(&*record, b"hello world");
//! } // dropping the record releases its space
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - [`queue::spsc`]: one producer, one consumer.
//! - [`queue::mpsc`]: any number of producers (clone the producer), one consumer.
//! - [`channel`]: the same rings with senders that spin briefly and then report
//!   `Full`, and a receiver that sleeps while the ring is idle.
//! - `file` (feature `mmap`, Linux): rings in memory-mapped files, shared
//!   between processes, surviving the crash of either side.
//! - `nonblocking` (feature `async`): the channels' async ends, for any
//!   executor: `recv().await` in place, and `send(len).await` that waits for
//!   space.
//!
//! Every piece of shared state (positions, counters, record words, the
//! waiter word) lives inside the ring's own memory, laid out by a fixed
//! little-endian wire format, so the same code serves a heap ring and a ring
//! in a file shared between processes. The protocol is described in the
//! [`queue`] module.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(target_endian = "big")]
compile_error!(
    "logring's ring format is little-endian with in-place atomics; big-endian targets are not supported"
);

pub mod channel;
mod error;
#[cfg(all(feature = "mmap", not(loom)))]
pub mod file;
#[cfg(feature = "async")]
pub mod nonblocking;
mod peers;
pub mod queue;
mod region;
mod ring;
mod sync;
mod wait;

pub use error::{CorruptRing, Error};

/// The README's examples, compiled and run as doctests (with every feature:
/// the README's test command).
#[cfg(all(doctest, feature = "mmap", feature = "async"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
