//! What the tests of logger processes share, whether they log through the
//! tracing layer (`tests/events_crash.rs`, `tests/events_restart.rs`) or
//! through logring's macros (`tests/macros_crash.rs`,
//! `tests/macros_restart.rs`): the children that log into a ring file, the
//! `logring tail` processes that decode it, and the checks of what they
//! print. Each test file says, by implementing [`crash::Logger`] or
//! [`restart::Logger`], how its children log and what their events decode
//! to; the rest is here.
//!
//! A test crate that includes this module also includes `cli_support`,
//! `common`, `events_support`, `process` (with `#[macro_use]`) and
//! `ringfile`.

// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

pub mod crash;
pub mod restart;

use logring::file::{Mode, Options, RingFile};

use crate::ringfile::TempPath;

/// A new MPSC ring file made with `options`, for children to open.
pub fn ring(name: &str, options: Options) -> TempPath {
    let path = TempPath::in_memory(name);
    let ring = RingFile::create(path.path(), options.mode(Mode::Mpsc))
        .unwrap_or_else(|error| panic!("cannot create the ring file: {error}"));
    drop(ring);
    path
}
