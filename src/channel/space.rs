//! Waking senders that wait for space: the release hook the channel layer
//! gives a receiver's consumer.

use std::sync::Arc;

use crate::queue::peers::ReleaseHook;
use crate::ring::Ring;
use crate::wait::{self, Barrier, Tasks};

/// How a consumer wakes senders waiting for space after each release: the
/// publisher's side of the `wait` handshake on the header's `space_waiter`
/// word (one barrier and one load of that word per release while no sender
/// waits).
pub(crate) struct SpaceSignal {
    pub(crate) barrier: Barrier,
    /// The heap ring's tasks; `None` on a ring file, whose waiting senders
    /// have notifier threads asleep on the word.
    pub(crate) tasks: Option<Arc<Tasks>>,
}

impl ReleaseHook for SpaceSignal {
    #[inline]
    fn released(&self, ring: &Ring) {
        wait::notify_space(
            &ring.header().space_waiter.0,
            self.barrier,
            self.tasks.as_deref(),
        );
    }
}
