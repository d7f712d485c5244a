//! A futex for loom models: one mutex and condition variable stand for the
//! kernel's wait queue.
//!
//! `wait` checks the word and goes to sleep under the mutex, and `wake` takes
//! the mutex before notifying, which is the futex's guarantee: a waker that
//! changed the word before calling `wake` either finds the sleeper queued or
//! is seen by its check. Timeouts are not modelled (a model that needs one
//! would otherwise deadlock, which is what a lost wake-up looks like).

use std::time::Duration;

use loom::sync::{Condvar, Mutex};

use crate::sync::{AtomicU32, Ordering};

loom::lazy_static! {
    static ref QUEUE: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());
}

pub(super) fn wait(word: &AtomicU32, expected: u32, _timeout: Option<Duration>, _naps: u32) {
    let (lock, sleepers) = &*QUEUE;
    let guard = lock.lock().unwrap();
    // Acquire: with the mutex, sees any value a waker stored before `wake`.
    if word.load(Ordering::Acquire) == expected {
        drop(sleepers.wait(guard).unwrap());
    }
}

pub(super) fn wake(_word: &AtomicU32) {
    let (lock, sleepers) = &*QUEUE;
    drop(lock.lock().unwrap());
    sleepers.notify_all();
}

pub(super) fn wake_all(word: &AtomicU32) {
    wake(word);
}
