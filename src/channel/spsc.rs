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
    let sender = Sender {
        producer: queue::spsc::Producer::new(link.ring.share(), Owner::LOCAL),
        link: link.share(),
        policy: SpinPolicy::SENDER,
    };
    Ok((sender, Receiver::new(link)))
}

/// The sending end of an SPSC channel.
pub struct Sender {
    pub(crate) producer: queue::spsc::Producer,
    pub(crate) link: Link,
    pub(crate) policy: SpinPolicy,
}

impl Sender {
    /// A sender over a ring file's producer.
    #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
    pub(crate) fn attach(producer: queue::spsc::Producer, link: Link) -> Self {
        Self {
            producer,
            link,
            policy: SpinPolicy::SENDER,
        }
    }

    super::sender_methods!(mut);

    /// The budget [`claim`](Self::claim) and [`send`](Self::send) retry a
    /// full ring for.
    pub fn spin_policy(&self) -> SpinPolicy {
        self.policy
    }

    /// Sets the budget [`claim`](Self::claim) and [`send`](Self::send)
    /// retry a full ring for.
    pub fn set_spin_policy(&mut self, policy: SpinPolicy) {
        self.policy = policy;
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.link.drop_sender();
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("spsc::Sender")
            .field("capacity", &self.capacity())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}
