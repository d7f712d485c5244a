//! Multi-producer, single-consumer async channel: clone the [`Sender`] for each
//! producing task.
//!
//! ```
//! # futures::executor::block_on(async {
//! use logring::nonblocking::{RecvError, mpsc};
//!
//! let (tx, mut rx) = mpsc::new(4096)?;
//! let producers: Vec<_> = (0..4u8)
//!     .map(|id| {
//!         let mut tx = tx.clone();
//!         async move {
//!             for _ in 0..100 {
//!                 tx.send(&[id; 16]).await.unwrap(); // waits for space
//!             }
//!         }
//!     })
//!     .collect();
//! drop(tx);
//! let consumer = async move {
//!     let mut received = 0;
//!     loop {
//!         match rx.recv().await {
//!             Ok(record) => {
//!                 assert_eq!(record.len(), 16);
//!                 received += 1;
//!             }
//!             // Every sender is gone and everything was received.
//!             Err(RecvError::Disconnected) => return Ok(received),
//!             // A corrupt ring, naming the position.
//!             Err(error) => return Err(error),
//!         }
//!     }
//! };
//! let (_, received) = futures::join!(futures::future::join_all(producers), consumer);
//! assert_eq!(received?, 400);
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

/// Creates an async MPSC channel over a ring of at least `capacity` bytes
/// (rounded up to a power of two; at least 64).
///
/// # Errors
///
/// [`Error::CapacityTooSmall`], [`Error::CapacityTooLarge`] or
/// [`Error::OutOfMemory`].
pub fn new(capacity: usize) -> Result<(Sender, Receiver), Error> {
    let (tx, rx) = channel::mpsc::new(capacity)?;
    Ok((Sender::from(tx), Receiver::from(rx)))
}

/// The async sending end of an MPSC channel.
///
/// The async form of [`channel::mpsc::Sender`], over the same ring. Its
/// methods take `&mut self` (the blocking one's take `&self`), so that a
/// task's future that holds it across an `.await` is `Send`.
pub struct Sender {
    sending: AsyncSending<queue::mpsc::Producer>,
}

impl Sender {
    async_sender_methods!(mpsc);
}

impl Clone for Sender {
    /// Another sender of the same ring, for another task, with this one's
    /// spin policy.
    fn clone(&self) -> Self {
        Self {
            sending: self.sending.clone(),
        }
    }
}

impl From<channel::mpsc::Sender> for Sender {
    /// The async sender of the same ring. It spins briefly
    /// before it parks ([`SpinPolicy::ASYNC`]).
    fn from(sender: channel::mpsc::Sender) -> Self {
        Self {
            sending: AsyncSending::new(sender.sending),
        }
    }
}

impl From<Sender> for channel::mpsc::Sender {
    fn from(sender: Sender) -> Self {
        sender.into_blocking()
    }
}

impl channel::mpsc::Sender {
    /// The async sender of the same ring (feature `async`): see
    /// [`nonblocking::mpsc::Sender`](Sender).
    pub fn into_async(self) -> Sender {
        Sender::from(self)
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("nonblocking::mpsc::Sender")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}
