//! Multi-producer, single-consumer channel: share the [`Sender`] between
//! producing threads, or clone it for each.
//!
//! ```
//! use logring::channel::{RecvError, mpsc};
//!
//! let (tx, mut rx) = mpsc::new(64 * 1024)?;
//! for id in 0..4u8 {
//!     let tx = tx.clone();
//!     std::thread::spawn(move || tx.send(&[id; 16]).unwrap());
//! }
//! drop(tx);
//! let mut received = 0;
//! loop {
//!     match rx.recv() {
//!         Ok(record) => {
//!             assert_eq!(record.len(), 16);
//!             received += 1;
//!         }
//!         // Every sender is gone and everything was received.
//!         Err(RecvError::Disconnected) => break,
//!         // A corrupt ring, naming the position: records were lost.
//!         Err(error) => return Err(error.into()),
//!     }
//! }
//! assert_eq!(received, 4);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use super::sender::{Sending, sender_methods};
use super::{Link, SendError, SpinPolicy};
pub use super::{Receiver, SendClaim};
use crate::error::Error;
use crate::peers::Owner;
use crate::queue;
use crate::ring::layout::Mode;

/// Creates an MPSC channel over a ring of at least `capacity` bytes (rounded
/// up to a power of two; at least 64).
///
/// # Errors
///
/// [`Error::CapacityTooSmall`], [`Error::CapacityTooLarge`] or
/// [`Error::OutOfMemory`].
pub fn new(capacity: usize) -> Result<(Sender, Receiver), Error> {
    let link = Link::new(Mode::Mpsc, capacity)?;
    let producer = queue::mpsc::Producer::new(link.ring.share(), Owner::LOCAL);
    let sender = Sender::attach(producer, link.share());
    Ok((sender, Receiver::new(link)))
}

/// A sending end of an MPSC channel: `Clone` it for each producing thread.
///
/// It is `Send` and `Sync`: threads may share one sender by reference, or
/// each take a clone (which keeps its own cached view of the receiver's
/// position). A sender may hold several claims at once.
pub struct Sender {
    pub(crate) sending: Sending<queue::mpsc::Producer>,
}

impl Sender {
    /// The sender over `producer`, linked to its ring by `link`.
    pub(crate) fn attach(producer: queue::mpsc::Producer, link: Link) -> Self {
        Self {
            sending: Sending::new(producer, link),
        }
    }

    sender_methods!();

    /// Sets this sender's budget (clones made afterwards inherit it).
    pub fn set_spin_policy(&mut self, policy: SpinPolicy) {
        self.sending.policy = policy;
    }
}

impl Clone for Sender {
    fn clone(&self) -> Self {
        Self {
            sending: self.sending.clone(),
        }
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.sending.debug("mpsc::Sender", f)
    }
}
