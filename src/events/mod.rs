//! Log events: event records decoded and printed in the shapes of
//! `tracing_subscriber::fmt` (feature `events`).

// The renderers' readers (`logring tail`, the in-process writer) are not
// compiled yet in every build; the tests read them.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod render;

pub use crate::ring::event::Level;

/// How decoded events are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// `tracing_subscriber::fmt`'s default format without colours:
    /// `2026-12-06T18:00:00.123456Z  INFO span{a=1}: target: message key=value`.
    Text,
    /// `tracing_subscriber::fmt().json()`'s format with file, line number,
    /// thread name and id, the current span and the span list, plus `pid`.
    Json,
}
