//! Blocking channels over the queues: senders that spin briefly and then
//! report `Full`, a receiver that spins briefly and then sleeps.
//!
//! The shape they serve: producers on a hot path that must never block, and
//! one background consumer that should use no CPU while the ring is idle.
//!
//! ```
//! use logring::channel::spsc;
//!
//! let (mut tx, mut rx) = spsc::new(64 * 1024)?;
//! let producer = std::thread::spawn(move || {
//!     let mut claim = tx.claim(5)?; // in place
//!     claim.copy_from_slice(b"hello");
//!     claim.commit(); // wakes the receiver if it is asleep
//!     tx.send(b"world") // a copy
//! });
//! assert_eq!(&*rx.recv()?, b"hello");
//! assert_eq!(&*rx.recv()?, b"world");
//! producer.join().unwrap()?;
//! assert!(rx.recv().is_err()); // the sender is gone and everything was read
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Sending
//!
//! A sender claims space in place, exactly as a queue producer does, and its
//! claim ([`SendClaim`]) wakes the receiver when it is committed or aborted
//! (there is no separate `notify` to forget). Waking costs one load of the
//! header's waiter word while the receiver is awake; only when the receiver
//! may be asleep does the commit pay for a wake-up system call.
//!
//! Two verbs, each with a form that tries once:
//!
//! | | retries a full ring for the spin budget | tries once |
//! |---|---|---|
//! | in place: a claim to write and commit | [`claim(len)`](spsc::Sender::claim) | [`try_claim(len)`](spsc::Sender::try_claim) |
//! | a copy of a `&[u8]` | [`send(bytes)`](spsc::Sender::send) | [`try_send(bytes)`](spsc::Sender::try_send) |
//!
//! The retrying forms retry a full ring for a bounded budget (the sender's
//! [`SpinPolicy`]), then return [`SendError::Full`]; they never sleep, and by
//! default never make a system call while they wait. A claim implements
//! [`std::io::Write`] and [`std::fmt::Write`], so `write!(claim, ...)`
//! formats straight into the ring. A record longer than the ring's maximum
//! is [`SendError::TooLarge`] at once. Once the receiver is gone, every send
//! is [`SendError::Disconnected`].
//!
//! # Receiving
//!
//! [`Receiver::recv`] returns the next record in place, as a queue
//! consumer's [`ReadClaim`]. When none is ready it spins (its own
//! [`SpinPolicy`]), then sleeps on the ring's waiter word until a sender
//! publishes, with no periodic wake-ups on Linux. The handshake that makes a
//! lost wake-up impossible is described in the crate's `wait` module and
//! modelled in loom (`tests/loom_channel.rs`). On other systems the receiver
//! naps instead of sleeping, up to 100 ms at a time once idle (at most ten
//! wake-ups a second), and reacts within one nap.
//!
//! Timeouts are deadlines: [`recv_timeout`](Receiver::recv_timeout) returns
//! [`RecvTimeoutError::Timeout`] only once the deadline has passed, however
//! often the receiver is woken before it.
//!
//! # Disconnecting
//!
//! - The receiver reports `Disconnected` only after every sender is gone *and*
//!   it has received every record they committed: records committed before the
//!   last sender dropped are never lost. A claim that can no longer be
//!   committed (its claim was leaked with `mem::forget`) is skipped then, and
//!   counted in [`skipped_claims`](Receiver::skipped_claims).
//! - Senders report `Disconnected` as soon as the receiver is gone.
//! - [`is_disconnected`](Receiver::is_disconnected) on either end tells whether
//!   the other side is gone.
//!
//! A corrupt ring is not the end of the stream, and is never reported as
//! `Disconnected`: the receiver delivers the records before the bad record
//! word, then every receive call reports [`RecvError::Corrupt`] (or the
//! `Corrupt` case of [`TryRecvError`] and [`RecvTimeoutError`]) with the
//! [`CorruptRing`](crate::CorruptRing) that names the position, also to a
//! receiver that was asleep when the word appeared (once a commit after it
//! wakes it, as for a record) and to one that
//! [follows](Receiver::set_follow). Nothing past it can arrive. A receive
//! loop should tell the two apart:
//!
//! ```
//! use logring::channel::{RecvError, spsc};
//!
//! let (mut tx, mut rx) = spsc::new(4096)?;
//! tx.send(b"one")?;
//! drop(tx);
//! let mut received = 0;
//! loop {
//!     match rx.recv() {
//!         Ok(record) => received += record.len(),
//!         // Every sender is gone and everything was received.
//!         Err(RecvError::Disconnected) => break,
//!         // Records were lost: report it, naming the position.
//!         Err(error) => return Err(error.into()),
//!     }
//! }
//! assert_eq!(received, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! All of this state (the waiter word, the count of live ends) lives in the
//! ring's header, beside the queue's positions.
//!
//! # Async ends
//!
//! With the `async` feature, each end converts into its async form
//! (`into_async`, or `From`) and back: see `crate::nonblocking`. A hot thread
//! can keep a blocking sender while an async task receives, or the other
//! way round. So that a release is never missed by an async sender waiting
//! for space, the receiver then checks the header's `space_waiter` word
//! after each release: one barrier (a compiler fence where `membarrier` is
//! available) and one load of a line nobody writes while no sender waits.
//!
//! On a ring file ([`crate::file`]) ends come and go, in any process, so
//! disconnection means "not attached now": senders never report
//! `Disconnected` (their records wait for the next receiver), and a receiver
//! reports it once no producer is attached and it has received everything,
//! or never if it [follows](Receiver::set_follow).

mod claim;
mod error;
pub mod mpsc;
pub(crate) mod receiver;
pub(crate) mod sender;
mod space;
mod spin;
pub mod spsc;
#[cfg(all(test, not(loom)))]
mod tests;

pub use crate::queue::{ReadClaim, Record};
pub use claim::SendClaim;
pub use error::{RecvError, RecvTimeoutError, SendError, TryRecvError};
pub use receiver::{MAX_POLL_INTERVAL, Receiver};
pub use spin::SpinPolicy;

pub(crate) use space::SpaceSignal;

use crate::error::Error;
use crate::ring::Ring;
use crate::ring::layout::{Header, Mode};
use crate::sync::{AtomicU32, Ordering};
use crate::wait::{self, Barrier, Tasks};
use std::sync::Arc;

/// What every channel end holds besides its queue end: a view of the ring for
/// the header's waiter word, this process's barrier, and how to tell whether
/// the other side is there.
pub(crate) struct Link {
    pub(crate) ring: Ring,
    pub(crate) barrier: Barrier,
    presence: Presence,
    /// A heap ring's waiting async tasks (feature `async`); `None` on a ring
    /// file, where async ends have notifier threads sleep on the words.
    pub(crate) tasks: Option<Arc<Tasks>>,
}

/// Who is attached to a ring whose ends come and go (a ring file, whose
/// ends may live in any process), asked of the layer that holds the ring:
/// only it knows how to tell (for a ring file, the OS's locks). An end is
/// given one when it is made; a heap ring has none, and counts its ends in
/// its header instead.
///
/// Every answer may cost a system call. When in doubt, an answer is
/// "attached": doubt never makes an end act as if the other side were gone.
#[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
pub(crate) trait Attachment: Send + Sync {
    /// Whether a consumer is attached now.
    fn consumer_attached(&self) -> bool;

    /// Whether any producer is attached now. After a `false`, what the
    /// caller reads of the ring includes everything every producer that was
    /// attached stored before it left: the receiver drains on that answer.
    fn producers_attached(&self) -> bool;
}

/// How an end tells whether the other side is there: chosen once, when the
/// end is made.
#[derive(Clone)]
enum Presence {
    /// A heap ring: the header counts this process's live ends, and a
    /// dropped end is gone for good.
    Counted,
    /// A ring file: ends come and go, in any process; the ring's holder says
    /// who is attached now.
    #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
    Asked(Arc<dyn Attachment>),
}

impl Link {
    /// A new heap ring for a channel, with one sender and one receiver alive.
    fn new(mode: Mode, capacity: usize) -> Result<Self, Error> {
        let ring = Ring::new_heap(mode, capacity)?;
        let ends = &ring.header().ends.0;
        // Relaxed: nobody else sees the ring yet; the handles are published by
        // whatever moves them to other threads.
        ends.senders.store(1, Ordering::Relaxed);
        ends.receivers.store(1, Ordering::Relaxed);
        Ok(Self {
            barrier: Barrier::for_ring(ring.header()),
            ring,
            presence: Presence::Counted,
            #[cfg(feature = "async")]
            tasks: Some(Arc::new(Tasks::new())),
            #[cfg(not(feature = "async"))]
            tasks: None,
        })
    }

    /// A link to a ring file's ring, whose `attachment` says who is
    /// attached.
    #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
    pub(crate) fn file(ring: Ring, attachment: Arc<impl Attachment + 'static>) -> Self {
        Self {
            barrier: Barrier::for_ring(ring.header()),
            ring,
            presence: Presence::Asked(attachment),
            tasks: None,
        }
    }

    /// Another link to the same ring.
    fn share(&self) -> Self {
        Self {
            ring: self.ring.share(),
            barrier: self.barrier,
            presence: self.presence.clone(),
            tasks: self.tasks.clone(),
        }
    }

    fn header(&self) -> &Header {
        self.ring.header()
    }

    /// The receiver's futex word.
    fn waiter(&self) -> &AtomicU32 {
        &self.header().waiter.0
    }

    /// Wakes the receiver if it may be asleep: called after every store that
    /// can end its wait (a commit, an abort, the last sender leaving).
    #[inline]
    fn notify(&self) {
        wait::notify(self.waiter(), self.barrier, self.tasks.as_deref());
    }

    /// Whether sends fail with `Disconnected`: on a heap ring once the
    /// receiver is dropped; on a ring file never (records wait for the next
    /// consumer).
    #[inline]
    pub(crate) fn receiver_gone(&self) -> bool {
        match self.presence {
            // Relaxed: nothing is read on the strength of it; a sender that
            // misses the drop by a moment sends into a ring nobody reads, as if
            // it had sent just before.
            Presence::Counted => self.header().ends.0.receivers.load(Ordering::Relaxed) == 0,
            #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
            Presence::Asked(_) => false,
        }
    }

    /// Whether no receiver is there now (a system call on a ring file).
    pub(crate) fn receiver_absent(&self) -> bool {
        match &self.presence {
            Presence::Counted => self.receiver_gone(),
            #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
            Presence::Asked(attachment) => !attachment.consumer_attached(),
        }
    }

    /// Whether no sender is there now: on a heap ring, every sender is
    /// dropped; on a ring file, no producer is attached (a system call).
    fn senders_gone(&self) -> bool {
        match &self.presence {
            // Acquire: pairs with every sender's Release decrement (a release
            // sequence of RMWs), so every record committed before the last
            // sender left is visible to the drain that follows.
            Presence::Counted => self.header().ends.0.senders.load(Ordering::Acquire) == 0,
            #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
            Presence::Asked(attachment) => !attachment.producers_attached(),
        }
    }

    /// Whether this is a ring file's link (ends come and go).
    pub(crate) fn is_file(&self) -> bool {
        !matches!(self.presence, Presence::Counted)
    }

    /// Counts a new sender (a clone of a live one).
    fn add_sender(&self) {
        if matches!(self.presence, Presence::Counted) {
            // Relaxed: the sender being cloned is alive, so the count cannot
            // reach zero meanwhile (as for `Arc::clone`).
            self.header().ends.0.senders.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A sender leaves; the last one wakes the receiver so that it can drain
    /// the ring and report `Disconnected`. (A ring file's producer wakes it
    /// when it lets go of its slot.)
    fn drop_sender(&self) {
        // Release: pairs with the receiver's Acquire in `senders_gone`, so this
        // sender's commits are visible to its drain.
        if matches!(self.presence, Presence::Counted)
            && self.header().ends.0.senders.fetch_sub(1, Ordering::Release) == 1
        {
            self.notify();
        }
    }

    /// The receiver leaves; senders waiting for space learn it at once. (A
    /// ring file's senders keep waiting, for the next consumer.)
    fn drop_receiver(&self) {
        if matches!(self.presence, Presence::Counted) {
            // Relaxed: see `receiver_gone`. The light barrier in
            // `notify_space` orders it before the load of the senders' word,
            // and pairs with the heavy barrier of a sender that announced
            // there: either that sender's re-check sees this store, or
            // `notify_space` sees its announcement and wakes it (the
            // handshake of the `wait` module, publishing a departure).
            self.header().ends.0.receivers.store(0, Ordering::Relaxed);
            wait::notify_space(
                &self.header().space_waiter.0,
                self.barrier,
                self.tasks.as_deref(),
            );
        }
    }

    /// How the receiver's consumer wakes senders waiting for space: needed
    /// where async senders may be (always on a ring file, whose senders may
    /// be in any process built with any features).
    fn space_signal(&self) -> Option<SpaceSignal> {
        (cfg!(feature = "async") || self.is_file()).then(|| SpaceSignal {
            barrier: self.barrier,
            tasks: self.tasks.clone(),
        })
    }
}

// The ends' thread-safety promises, checked at compile time.
const _: () = {
    const fn send<T: Send>() {}
    const fn clone<T: Clone>() {}
    const fn sync<T: Sync>() {}
    send::<spsc::Sender>();
    send::<mpsc::Sender>();
    sync::<mpsc::Sender>();
    send::<Receiver>();
    clone::<mpsc::Sender>();
};
