//! Async ends of the channels, for any executor (feature `async`).
//!
//! The same rings, queue code and records as [`crate::channel`], with waiting
//! turned into futures: a [`Receiver`] whose [`recv`](Receiver::recv) returns
//! the same in-place [`ReadClaim`] as the blocking receiver, and senders whose
//! [`claim`](spsc::Sender::claim) and [`send`](spsc::Sender::send) wait for
//! space (woken when the consumer releases) instead of reporting `Full`. Nothing is copied and nothing of the
//! ring protocol is done differently: the adapter only adds wakers. The crate
//! depends on no runtime; the futures work under tokio, smol, async-std,
//! `futures::executor` or a hand-written executor.
//!
//! ```
//! # futures::executor::block_on(async {
//! use logring::nonblocking::{RecvError, mpsc};
//!
//! let (mut tx, mut rx) = mpsc::new(64 * 1024)?;
//! let mut claim = tx.claim(5).await?; // in place; waits while the ring is full
//! claim.copy_from_slice(b"hello");
//! claim.commit(); // wakes the receiver's task if it waits
//! tx.send(b"world").await?; // a copy
//! drop(tx);
//!
//! assert_eq!(&*rx.recv().await?, b"hello"); // in place; released on drop
//! assert_eq!(&*rx.recv().await?, b"world");
//! // Every sender is gone and everything was received.
//! assert_eq!(rx.recv().await.map(drop), Err(RecvError::Disconnected));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Mixing blocking and async ends
//!
//! Each end converts to the other kind of the same ring, with `From`, or with
//! `into_async` and `into_blocking`. A typical shape: a hot thread keeps a
//! blocking sender, whose `claim` and `send` never sleep and never touch an
//! executor,
//! and an async task consumes.
//!
//! ```
//! # futures::executor::block_on(async {
//! use logring::{channel, nonblocking};
//!
//! let (mut tx, rx) = channel::spsc::new(64 * 1024)?;
//! let mut rx = nonblocking::Receiver::from(rx); // or rx.into_async()
//! let hot = std::thread::spawn(move || {
//!     for i in 0..1000u32 {
//!         while tx.send(&i.to_le_bytes()).is_err() {} // Full: retry
//!     }
//! });
//! let mut next = 0u32;
//! loop {
//!     match rx.recv().await {
//!         Ok(record) => {
//!             assert_eq!(u32::from_le_bytes(record[..].try_into()?), next);
//!             next += 1;
//!         }
//!         // The sender is gone and everything was received.
//!         Err(nonblocking::RecvError::Disconnected) => break,
//!         // A corrupt ring, naming the position: records were lost.
//!         Err(error) => return Err(error.into()),
//!     }
//! }
//! assert_eq!(next, 1000);
//! hot.join().unwrap();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Cancel safety
//!
//! Every future here may be dropped at any `.await` point (as the losing
//! branch of a `select!`, or by a timeout) without losing or duplicating
//! anything:
//!
//! - [`Receiver::recv`] and [`Receiver::recv_batch`] are cancel safe: a record
//!   is consumed only when the [`ReadClaim`] they return is dropped (or, for a
//!   batch, when the callback returns), never while they wait, so if the
//!   future is dropped before it completes, the next `recv` returns the record
//!   it would have returned.
//! - [`claim`](spsc::Sender::claim) and [`send`](spsc::Sender::send)
//!   are cancel safe: space is claimed in the same poll that completes, so a
//!   dropped `claim` future has claimed nothing, and nothing is left in the
//!   ring. (A dropped `send` has sent nothing; once it completes, its
//!   record is committed.)
//!
//! A waiting future leaves its waker registered when it is dropped; the next
//! wake-up of that task is then spurious, which executors tolerate.
//!
//! # How waiting works
//!
//! The wait/wake handshake is the blocking channel's (the crate's `wait`
//! module): a waiting end first registers its waker, then announces that it
//! waits in a word of the ring's header, issues the heavy barrier, and checks
//! the ring once more before it returns `Pending`. A publisher stores, issues
//! the light barrier, and loads the word. Whichever order they run in, either
//! the re-check sees the record (or the space), or the publisher sees the
//! announcement and wakes the waker: a wake-up cannot be lost. Both sides are
//! modelled in loom (`tests/loom_async.rs`).
//!
//! - **Receiving** waits on the header's `waiter` word, as the blocking
//!   receiver does; committing (or aborting) a claim is the publish.
//! - **Sending** waits for space on the header's `space_waiter` word; the
//!   consumer's release of a record is the publish. So that no release is
//!   missed, the consumer of a channel (async or blocking) and every consumer
//!   of a ring file load that word after each release of space: one barrier
//!   (a compiler fence where `membarrier` is available, as on the commit
//!   side) and one load of a line nobody writes while no sender waits.
//!
//! **Heap rings** are seen by one process, so a waiting task's waker sits in
//! memory the ring's ends share, and the publisher wakes it directly: no extra
//! thread, and a wake-up costs the executor's own wake.
//!
//! **Ring files** may be written by other processes, which cannot reach this
//! process's wakers. There, each async end that has to wait starts a small
//! *notifier thread* (at its first wait; 64 KiB of stack) that sleeps on the
//! header word, exactly as a blocking receiver does, and wakes the task's
//! waker when a publisher in any process wakes the word. The costs: one
//! thread per waiting async end, asleep in the kernel while idle; one more
//! thread hand-off per wake-up (the publisher wakes the notifier, which
//! wakes the task; `BENCHMARKS.md` has the measured latency); and the same
//! bounded naps as a blocking receiver of a ring file, so that a dead
//! producer's claim is skipped and a draining receiver notices that every
//! producer is gone. The thread ends when its end is dropped.
//!
//! On a ring file, as for the blocking ends, a sender never reports
//! `Disconnected`: with no consumer attached, `claim(..).await` waits until one
//! attaches and releases space (put it under a timeout if that can be long).
//!
//! # Spinning, and sharing the executor
//!
//! When nothing is ready, an async end looks again a few times, spinning
//! for well under a microsecond ([`SpinPolicy::ASYNC`]: 4 rounds, 15
//! spin-loop hints), and then parks. Parking costs the heavy barrier (a
//! `membarrier` system call that interrupts the other cores), and a receiver
//! that keeps pace with its sender would otherwise pay it on nearly every
//! look. In `benches/async.rs`, one-record async SPSC throughput was 0.88x
//! the blocking channel's with the short spin and 0.68x without
//! (`BENCHMARKS.md`). Change it with
//! `set_spin_policy`; the policy's yield rounds are not used, since they
//! would block the executor's thread.
//!
//! The futures complete at once whenever a record (or space) is there, and
//! take no part in an executor's cooperative budget: a task that loops on a
//! busy ring does not give its worker thread to other tasks until it has to
//! wait. Where that matters, bound the loop (`recv_batch` with a limit, then
//! yield), or on tokio wrap the future in `tokio::task::coop::cooperative`.
//!
//! [`ReadClaim`]: crate::queue::ReadClaim

mod error;
pub mod mpsc;
#[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
mod notifier;
mod receiver;
mod sender;
pub mod spsc;
mod stream;

pub use crate::channel::{
    ReadClaim, Record, RecvError, SendClaim, SendError, SpinPolicy, TryRecvError,
};
pub use error::AsyncSendError;
pub use receiver::Receiver;
pub use stream::{RecordBuf, RecordStream};

use std::sync::Arc;
use std::task::Context;
use std::time::Duration;

use crate::channel::Link;
use crate::ring::Ring;
use crate::ring::layout::{MAY_SLEEP, TASK_WAITS};
use crate::sync::AtomicU32;
use crate::wait::{self, Barrier, Tasks};

/// Which header word an async end waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Word {
    /// The receiver's `waiter`: records to read.
    Receiver,
    /// The senders' `space_waiter`: space to claim.
    Space,
}

impl Word {
    fn of(self, ring: &Ring) -> &AtomicU32 {
        match self {
            Word::Receiver => &ring.header().waiter.0,
            Word::Space => &ring.header().space_waiter.0,
        }
    }
}

/// How an async end parks: what wakes its task.
enum Park {
    /// A heap ring: publishers wake the waker in the ring's shared `Tasks`.
    Tasks(Arc<Tasks>),
    /// A ring file: a notifier thread sleeps on the word for the task
    /// (started at the first wait).
    #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
    Notifier(Option<notifier::Notifier>),
    /// No way to be woken by a publisher (a ring file whose notifier thread
    /// could not start): the task wakes itself at once, and the executor
    /// polls it again (a busy poll, through the executor).
    #[cfg_attr(loom, allow(dead_code))]
    SelfWake,
}

/// One async end's waiting: the word, how it parks, and whether it has
/// announced since it last found what it waits for. Dropping it takes the
/// receiver's announcement back and stops the notifier thread.
struct Waiting {
    ring: Ring,
    barrier: Barrier,
    word: Word,
    park: Park,
    announced: bool,
    /// Parks since the task last found what it waits for (bounded sleeps
    /// grow with it: see `wait::unordered_nap`).
    naps: u32,
}

impl Waiting {
    fn new(link: &Link, word: Word) -> Self {
        let park = match &link.tasks {
            Some(tasks) => Park::Tasks(Arc::clone(tasks)),
            #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
            None => Park::Notifier(None),
            #[cfg(not(all(feature = "mmap", target_os = "linux", not(loom))))]
            None => Park::SelfWake,
        };
        Self {
            ring: link.ring.share(),
            barrier: link.barrier,
            word,
            park,
            announced: false,
            naps: 0,
        }
    }

    /// Registers the task's waker, then announces that it waits: the first
    /// half of the handshake. Returns whether the heavy barrier held (see
    /// `Barrier::heavy`). The caller then re-checks, and calls `found` or
    /// `park`.
    fn announce(&mut self, cx: &Context<'_>) -> bool {
        let who = match &mut self.park {
            Park::Tasks(tasks) => {
                match self.word {
                    Word::Receiver => tasks.register_receiver(cx.waker()),
                    Word::Space => tasks.register_sender(cx.waker()),
                }
                TASK_WAITS
            }
            #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
            Park::Notifier(slot) => {
                if slot.is_none() {
                    *slot = notifier::Notifier::start(self.ring.share(), self.word);
                }
                match slot {
                    Some(notifier) => notifier.register(cx.waker()),
                    None => self.park = Park::SelfWake,
                }
                MAY_SLEEP
            }
            Park::SelfWake => MAY_SLEEP,
        };
        self.announced = true;
        wait::announce(
            self.ring.header(),
            self.word.of(&self.ring),
            self.barrier,
            who,
        )
    }

    /// The re-check (or a later look) found what the task waits for.
    #[inline]
    fn found(&mut self) {
        self.naps = 0;
        if self.announced {
            self.announced = false;
            // The senders' word is shared: another sender may still wait, so
            // only the receiver takes its announcement back.
            if self.word == Word::Receiver {
                wait::settle(self.word.of(&self.ring));
            }
        }
    }

    /// Parks since the task last found what it waits for.
    fn naps(&self) -> u32 {
        self.naps
    }

    /// The re-check found nothing: arranges for the task to be woken, at the
    /// latest after `limit` (`None`: only by a publisher), and the caller
    /// returns `Pending`.
    fn park(&mut self, cx: &Context<'_>, limit: Option<Duration>) {
        self.naps = self.naps.saturating_add(1);
        match &self.park {
            Park::Tasks(_) if limit.is_none() => {}
            #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
            Park::Notifier(Some(notifier)) => notifier.arm(limit),
            // A heap ring's limit comes only from a failed barrier: the
            // handshake cannot be trusted this time, so look again soon.
            _ => cx.waker().wake_by_ref(),
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        // The notifier first: `stop` must find the thread's sleep to end it.
        #[cfg(all(feature = "mmap", target_os = "linux", not(loom)))]
        if let Park::Notifier(Some(notifier)) = &self.park {
            notifier.stop(self.word.of(&self.ring));
        }
        self.found();
    }
}

/// The spin budget of an async end: the policy's spin rounds only.
fn spins(policy: SpinPolicy) -> SpinPolicy {
    SpinPolicy::new(policy.spins(), 0)
}
