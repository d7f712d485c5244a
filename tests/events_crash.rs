//! What was logged before a crash survives it: a child process logs
//! numbered events through logring's tracing layer into a ring file (MPSC)
//! and reports on a pipe, after each event returns, the number it just
//! logged; then it dies: killed with `SIGKILL` at a random moment while it
//! logs, or it panics, or it aborts. Afterwards `logring tail --no-follow
//! --format json` prints every event the child reported, in order, with no
//! gap: events `0..=L` where `L` is the last number reported, and at most
//! the one event after it (logged, not yet reported, when the kill came).
//! A kill inside a claim leaves a record nobody commits; the tail steps over
//! it.
//!
//! The child is this test binary run again (see `process`); its events are
//! decoded by the `logring` command, which shares nothing with it but the
//! file.
//!
//! The harness, shared with `tests/macros_crash.rs`, is in
//! `logger_support::crash`; this file says how its child logs and what it
//! checks in each event beyond its number, level and pid.

#![cfg(all(target_os = "linux", not(miri)))]

mod cli_support;
mod common;
mod events_support;
#[macro_use]
mod process;
mod ringfile;

// After `process`, whose `report!` it uses.
mod logger_support;

use logring::channel::mpsc;
use serde_json::Value;
use tracing::span::EnteredSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use events_support::field;
use logger_support::crash::{self, Logger};

/// The children log through the tracing layer, inside a span.
struct Tracing;

impl Logger for Tracing {
    type Guard = EnteredSpan;

    fn start(sender: mpsc::Sender, how: u64) -> EnteredSpan {
        tracing_subscriber::registry()
            .with(logring::tracing::Layer::new(sender))
            .init();
        tracing::info_span!("crash", how).entered()
    }

    fn log(n: u64) {
        tracing::info!(n, "event {}", n);
    }

    fn check(n: u64, object: &Value) {
        assert_eq!(
            field(object, "message").as_str(),
            Some(format!("event {n}").as_str()),
            "line {n}: {object}"
        );
        assert_eq!(object["span"]["name"], "crash", "line {n}: {object}");
    }
}

#[test]
fn child() {
    crash::child::<Tracing>();
}

#[test]
fn events_committed_before_a_sigkill_are_all_decoded() {
    crash::sigkill::<Tracing>();
}

#[test]
fn events_committed_before_a_panic_are_all_decoded() {
    crash::panic::<Tracing>();
}

#[test]
fn events_committed_before_an_abort_are_all_decoded() {
    crash::abort::<Tracing>();
}
