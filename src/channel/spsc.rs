//! Single-producer, single-consumer channel.
//!
//! ```
//! use logring::channel::{RecvError, spsc};
//!
//! let (mut tx, mut rx) = spsc::new(4096)?;
//! std::thread::spawn(move || {
//!     for i in 0..100u32 {
//!         tx.send(&i.to_le_bytes()).unwrap();
//!     }
//! });
//! let mut sum = 0;
//! loop {
//!     match rx.recv() {
//!         Ok(record) => sum += u32::from_le_bytes(record[..].try_into()?),
//!         // The sender is gone and everything was received.
//!         Err(RecvError::Disconnected) => break,
//!         // A corrupt ring, naming the position: records were lost.
//!         Err(error) => return Err(error.into()),
//!     }
//! }
//! assert_eq!(sum, 4950);
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

/// Creates an SPSC channel over a ring of at least `capacity` bytes (rounded
/// up to a power of two; at least 64).
///
/// # Errors
///
/// [`Error::CapacityTooSmall`], [`Error::CapacityTooLarge`] or
/// [`Error::OutOfMemory`].
pub fn new(capacity: usize) -> Result<(Sender, Receiver), Error> {
    let link = Link::new(Mode::Spsc, capacity)?;
    let producer = queue::spsc::Producer::new(link.ring.share(), Owner::LOCAL);
    let sender = Sender::attach(producer, link.share());
    Ok((sender, Receiver::new(link)))
}

/// The sending end of an SPSC channel.
pub struct Sender {
    pub(crate) sending: Sending<queue::spsc::Producer>,
}

impl Sender {
    /// The sender over `producer`, linked to its ring by `link`.
    pub(crate) fn attach(producer: queue::spsc::Producer, link: Link) -> Self {
        Self {
            sending: Sending::new(producer, link),
        }
    }

    sender_methods!(mut);

    /// Sets the budget [`claim`](Self::claim) and [`send`](Self::send)
    /// retry a full ring for.
    pub fn set_spin_policy(&mut self, policy: SpinPolicy) {
        self.sending.policy = policy;
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.sending.debug("spsc::Sender", f)
    }
}
