//! The async tasks of this process that wait on a heap ring: the receiver's
//! waker and the wait list of senders waiting for space (feature `async`).
//!
//! A heap ring is seen by one process only, so its async ends need no thread
//! that sleeps on the waiter word for them: a task registers its waker here,
//! announces `TASK_WAITS` in the word, re-checks the ring, and returns
//! `Pending`; a publisher that finds `TASK_WAITS` wakes the waker instead of
//! a futex (see `wake_slow`). Ring files, whose publishers may be in another
//! process, use a notifier thread instead (`nonblocking::notifier`).
//!
//! Without the feature, `Tasks` has no values, so `Option<&Tasks>` is always
//! `None` and the publisher's slow path never looks for one.

#[cfg(feature = "async")]
mod imp {
    use std::task::Waker;

    use crate::sync::{AtomicWaker, Mutex};

    /// The wakers of a heap ring's waiting tasks.
    pub(crate) struct Tasks {
        /// The receiver's task (a ring has one receiver).
        receiver: AtomicWaker,
        /// Senders waiting for space: every one is woken by a release, and
        /// those that still find the ring full register again. Touched only
        /// by senders that found the ring full and by the consumer after it
        /// found a sender announced, never on a commit or a read.
        senders: Mutex<Vec<Waker>>,
    }

    impl Tasks {
        pub(crate) fn new() -> Self {
            Self {
                receiver: AtomicWaker::new(),
                senders: Mutex::new(Vec::new()),
            }
        }

        /// Registers the receiver's waker (before it announces).
        pub(crate) fn register_receiver(&self, waker: &Waker) {
            #[cfg(not(loom))]
            self.receiver.register(waker);
            #[cfg(loom)]
            self.receiver.register_by_ref(waker);
        }

        /// Adds a sender's waker to the wait list (before it announces),
        /// unless the list holds one that wakes the same task.
        pub(crate) fn register_sender(&self, waker: &Waker) {
            // A panic while the lock was held cannot leave the list broken:
            // every change to it is a single push or take.
            let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
            if !senders.iter().any(|w| w.will_wake(waker)) {
                senders.push(waker.clone());
            }
        }

        pub(in crate::wait) fn wake_receiver(&self) {
            self.receiver.wake();
        }

        pub(in crate::wait) fn wake_senders(&self) {
            let senders = {
                let mut list = self.senders.lock().unwrap_or_else(|e| e.into_inner());
                std::mem::take(&mut *list)
            };
            // Woken outside the lock: a waker may run its task inline.
            for waker in senders {
                waker.wake();
            }
        }
    }
}

#[cfg(not(feature = "async"))]
mod imp {
    /// No async ends: no tasks ever wait.
    pub(crate) enum Tasks {}

    impl Tasks {
        pub(in crate::wait) fn wake_receiver(&self) {
            match *self {}
        }

        pub(in crate::wait) fn wake_senders(&self) {
            match *self {}
        }
    }
}

pub(crate) use imp::Tasks;
