//! The waiting side of the handshake, written once for every end that waits:
//! a blocking receiver (its thread sleeps on the word), an async receiver
//! and an async sender (their task parks; a publisher wakes its waker, or a
//! notifier thread sleeps on the word for it).
//!
//! Each waits the same way: it looks for what it waits for, spinning for its
//! budget; then it announces that it waits, issues the heavy barrier, looks
//! once more (the re-check), and only if that finds nothing too does it
//! sleep or park. Why no wake-up is lost between the re-check and the sleep
//! is the module docs' argument; this file fixes the order of the steps, and
//! [`Waiter`] is what differs between the ends.

/// An end that waits for what publishers make (a record, or space): the
/// sleeper of the handshake.
pub(crate) trait Waiter {
    /// What ends the wait: what was waited for, or why it cannot come.
    type Found;

    /// Looks once, without waiting.
    fn look(&mut self) -> Option<Self::Found>;

    /// Once the spin budget is spent, before the end announces: what ends
    /// the wait without parking (a deadline that has passed), if anything.
    #[inline]
    fn expired(&mut self) -> Option<Self::Found> {
        None
    }

    /// Makes ready to be woken (a task registers its waker), then announces
    /// on the end's word and issues the heavy barrier ([`super::announce`]).
    /// Returns whether the barrier held: if not, [`park`](Self::park) must
    /// bound its sleep.
    fn announce(&mut self) -> bool;

    /// A look found what the end waits for: takes back an announcement that
    /// still stands.
    fn found(&mut self);

    /// The re-check found nothing: sleeps until woken (a thread) or arranges
    /// to be woken (a task). `ordered` is what [`announce`](Self::announce)
    /// returned.
    fn park(&mut self, ordered: bool);
}

/// Spins, then announce, barrier, re-check, park. `spin` waits one round of
/// the end's spin budget and returns `false` (at once) when the budget is
/// spent.
///
/// Returns what a look found, or `None` once the end has parked: a thread
/// has slept and looks again (with a spent budget, so the next call goes
/// straight to the announcement); a task returns `Pending`. The caller looks
/// once before the first call (its fast path) and after each sleep.
#[inline]
pub(crate) fn wait<W: Waiter>(waiter: &mut W, mut spin: impl FnMut() -> bool) -> Option<W::Found> {
    while spin() {
        if let Some(found) = waiter.look() {
            waiter.found();
            return Some(found);
        }
    }
    if let Some(end) = waiter.expired() {
        return Some(end);
    }
    let ordered = waiter.announce();
    if let Some(found) = waiter.look() {
        waiter.found();
        return Some(found);
    }
    waiter.park(ordered);
    None
}
