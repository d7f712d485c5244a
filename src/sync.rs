//! The one place that chooses between `std` and `loom` synchronisation types.
//!
//! Under `--cfg loom` every atomic the protocols touch is a `loom` atomic, so the
//! same claim/commit/release code is explored by the model checker. Nothing else
//! in the crate imports `std::sync::atomic` directly.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
