//! Single-producer, single-consumer async channel.
//!
//! ```
//! # futures::executor::block_on(async {
//! use logring::nonblocking::{RecvError, spsc};
//!
//! let (mut tx, mut rx) = spsc::new(4096)?;
//! let producer = async move {
//!     for i in 0..1000u32 {
//!         tx.send(&i.to_le_bytes()).await.unwrap(); // waits for space
//!     }
//! };
//! let consumer = async move {
//!     let mut sum = 0u64;
//!     loop {
//!         match rx.recv().await {
//!             Ok(record) => sum += u64::from(u32::from_le_bytes(record[..].try_into()?)),
//!             // The sender is gone and everything was received.
//!             Err(RecvError::Disconnected) => return Ok(sum),
//!             // A corrupt ring, naming the position.
//!             Err(error) => return Err(Box::<dyn std::error::Error>::from(error)),
//!         }
//!     }
//! };
//! let ((), sum) = futures::join!(producer, consumer);
//! assert_eq!(sum?, 499_500);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::fmt;

pub use super::Receiver;
use super::sender::{AsyncSending, async_sender_methods};
use super::{AsyncSendError, SendClaim, SendError, SpinPolicy};
use crate::channel;
use crate::error::Error;
use crate::queue;

/// Creates an async SPSC channel over a ring of at least `capacity` bytes
/// (rounded up to a power of two; at least 64).
///
/// # Errors
///
/// [`Error::CapacityTooSmall`], [`Error::CapacityTooLarge`] or
/// [`Error::OutOfMemory`].
pub fn new(capacity: usize) -> Result<(Sender, Receiver), Error> {
    let (tx, rx) = channel::spsc::new(capacity)?;
    Ok((Sender::from(tx), Receiver::from(rx)))
}

/// The async sending end of an SPSC channel.
///
/// The async form of [`channel::spsc::Sender`], over the same ring.
pub struct Sender {
    sending: AsyncSending<queue::spsc::Producer>,
}

impl Sender {
    async_sender_methods!(spsc);
}

impl From<channel::spsc::Sender> for Sender {
    /// The async sender of the same ring. It spins briefly
    /// before it parks ([`SpinPolicy::ASYNC`]).
    fn from(sender: channel::spsc::Sender) -> Self {
        Self {
            sending: AsyncSending::new(sender.sending),
        }
    }
}

impl From<Sender> for channel::spsc::Sender {
    fn from(sender: Sender) -> Self {
        sender.into_blocking()
    }
}

impl channel::spsc::Sender {
    /// The async sender of the same ring (feature `async`): see
    /// [`nonblocking::spsc::Sender`](Sender).
    pub fn into_async(self) -> Sender {
        Sender::from(self)
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("nonblocking::spsc::Sender")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}
