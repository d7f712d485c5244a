// Pieces of `events/mod.rs` the front ends need, merged into it at integration.

/// What a front end does with an event that finds the ring full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FullPolicy {
    /// Try once: drop the event and count it (the default). The next event
    /// that finds room writes "N events dropped" first. The calling thread
    /// never waits.
    #[default]
    Drop,
    /// Retry a full ring for the sender's spin budget
    /// ([`SpinPolicy`](crate::channel::SpinPolicy)), then drop and count.
    /// Never sleeps.
    Spin,
}

/// Nanoseconds since the Unix epoch, from the wall clock (the vDSO on
/// Linux: no system call). 0 for a clock set before 1970.
#[inline]
pub(crate) fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// `true` if a record's tag marks it as one of logring's event records
/// (of any encoding version): decode it with [`Writer`] or `logring tail`.
pub fn is_event(tag: u32) -> bool {
    crate::ring::layout::RESERVED_TAGS.contains(&tag)
}
