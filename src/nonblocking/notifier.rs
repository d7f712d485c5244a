//! A ring file's notifier thread: sleeps on a header word for one async end,
//! and wakes the end's task when the word is woken.
//!
//! Publishers of a ring file may live in other processes, which cannot reach
//! this process's wakers; all they can do is wake the header word's futex.
//! So the task's side of the handshake is split: the task registers its
//! waker, announces `MAY_SLEEP`, re-checks the ring and *arms* the notifier;
//! the notifier thread then sleeps on the word exactly as a blocking receiver
//! does, and wakes the waker when the sleep ends, however it ends (woken,
//! timed out at the nap limit, or spuriously). The task re-checks when
//! polled, so early and spurious wakes cost a poll, never a record.
//!
//! Arming is `armed := true`, then `unpark`; the thread takes the flag with a
//! swap before it sleeps on the word. `park`/`unpark` keep a token, so an arm
//! that comes while the thread is between its check and its `park` is not
//! lost; an arm that comes while it sleeps on the word is served by that
//! sleep (the word it sleeps on is the one the task announced in).

use std::sync::Arc;
use std::task::Waker;
use std::thread::{self, Thread};
use std::time::Duration;

use super::Word;
use crate::ring::Ring;
use crate::ring::layout::AWAKE;
use crate::sync::{AtomicBool, AtomicU32, AtomicU64, AtomicWaker, Ordering};
use crate::wait;

/// The notifier thread's stack: it only sleeps and calls wakers.
const STACK: usize = 64 * 1024;
/// `limit_ns` for "no limit".
const NO_LIMIT: u64 = u64::MAX;

/// The handle an async end keeps: its notifier thread, and what they share.
pub(super) struct Notifier {
    shared: Arc<Shared>,
    thread: Thread,
}

struct Shared {
    waker: AtomicWaker,
    /// The task asked for a sleep on the word.
    armed: AtomicBool,
    /// The longest that sleep may last, in nanoseconds (`NO_LIMIT`).
    limit_ns: AtomicU64,
    /// The end is gone: the thread exits.
    stop: AtomicBool,
}

impl Notifier {
    /// Starts a notifier thread sleeping on `word` of `ring` when armed;
    /// `None` if the thread could not be started.
    pub(super) fn start(ring: Ring, word: Word) -> Option<Self> {
        let shared = Arc::new(Shared {
            waker: AtomicWaker::new(),
            armed: AtomicBool::new(false),
            limit_ns: AtomicU64::new(NO_LIMIT),
            stop: AtomicBool::new(false),
        });
        let theirs = Arc::clone(&shared);
        let handle = thread::Builder::new()
            .name("logring-notifier".into())
            .stack_size(STACK)
            .spawn(move || run(&ring, word, &theirs))
            .ok()?;
        Some(Self {
            shared,
            thread: handle.thread().clone(),
        })
    }

    /// Registers the task's waker (before the task announces).
    pub(super) fn register(&self, waker: &Waker) {
        self.shared.waker.register(waker);
    }

    /// Asks for one sleep on the word, of at most `limit` (after the task
    /// announced and its re-check found nothing).
    pub(super) fn arm(&self, limit: Option<Duration>) {
        let ns = limit.map_or(NO_LIMIT, |l| {
            u64::try_from(l.as_nanos()).unwrap_or(NO_LIMIT)
        });
        // Relaxed: published by the Release store of `armed` below.
        self.shared.limit_ns.store(ns, Ordering::Relaxed);
        // Release: pairs with the thread's Acquire swap, which then reads the
        // limit stored above.
        self.shared.armed.store(true, Ordering::Release);
        self.thread.unpark();
    }

    /// Ends the thread, wherever it is: parked (unparked here), about to
    /// sleep on `word` (the word no longer reads `MAY_SLEEP`, so that sleep
    /// returns at once), or asleep on it (woken here). Unconditionally: a
    /// thread left asleep would take the next single wake-up meant for the
    /// ring's next receiver. Any other sleeper on the word (another sender's
    /// notifier) wakes spuriously and its task looks again.
    pub(super) fn stop(&self, word: &AtomicU32) {
        // Release: the thread's Acquire load of `stop` after it wakes.
        self.shared.stop.store(true, Ordering::Release);
        // Relaxed: the kernel's check of the word orders it with the sleep.
        word.swap(AWAKE, Ordering::Relaxed);
        wait::wake_all(word);
        self.thread.unpark();
    }
}

/// The thread: waits to be armed, sleeps on the word, wakes the task.
fn run(ring: &Ring, word: Word, shared: &Shared) {
    let word = match word {
        Word::Receiver => &ring.header().waiter.0,
        Word::Space => &ring.header().space_waiter.0,
    };
    loop {
        // Acquire: pairs with `arm`'s Release store (the limit) and `stop`'s.
        while !shared.armed.swap(false, Ordering::Acquire) {
            if shared.stop.load(Ordering::Acquire) {
                return;
            }
            thread::park();
        }
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        // Relaxed: published by the `armed` swap above.
        let limit = match shared.limit_ns.load(Ordering::Relaxed) {
            NO_LIMIT => None,
            ns => Some(Duration::from_nanos(ns)),
        };
        wait::sleep(word, limit, 0);
        shared.waker.wake();
    }
}
