//! What was logged through logring's macros before a crash survives it: a
//! child process logs numbered events with `logring::info!` into a ring file
//! (MPSC) and reports on a pipe, after each call returns, the number it just
//! logged; then it dies: killed with `SIGKILL` at a random moment while it
//! logs, or it panics, or it aborts. Afterwards `logring tail --no-follow
//! --format json` prints every event the child reported, in order, with no
//! gap: events `0..=L` where `L` is the last number reported, and at most
//! the one event after it (logged, not yet reported, when the kill came).
//! Each event has an argument of the slow path, formatted into the claim:
//! a kill may land inside that formatting, leaving a record nobody commits;
//! the tail steps over it.
//!
//! The child is this test binary run again (see `process`); its events are
//! decoded by the `logring` command, which shares nothing with it but the
//! file: the callsites' format strings come from the ring's dictionary.
//!
//! The harness, shared with `tests/events_crash.rs`, is in
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

use std::fmt;

use logring::channel::mpsc;
use serde_json::{Value, json};

use events_support::str_key;
use logger_support::crash::{self, Logger};

/// A type of the macros' slow path: formatted into the record.
struct Side(u64);

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(if self.0 % 2 == 0 { "buy" } else { "sell" })
    }
}

/// The message of event `n`, as `format!` writes it.
fn message(n: u64) -> String {
    let px = n as f64 / 4.0;
    format!("event {n} at {px:.2} by {:?} ({:>5})", "ann", Side(n))
}

/// The children log through the macros, with target `crash`.
struct Macros;

impl Logger for Macros {
    type Guard = ();

    fn start(sender: mpsc::Sender, _how: u64) {
        logring::events::set_global(sender).expect("the child's only set_global");
    }

    fn log(n: u64) {
        let px = n as f64 / 4.0;
        logring::info!(target: "crash", "event {n} at {px:.2} by {:?} ({:>5})", "ann", Side(n));
    }

    fn check(n: u64, object: &Value) {
        let px = n as f64 / 4.0;
        assert_eq!(
            object["fields"],
            json!({
                "message": message(n),
                "arg0": "ann",
                // The slow path's field is its text: with its spec.
                "arg1": format!("{:>5}", Side(n)),
                "n": n,
                "px": px,
            }),
            "line {n}"
        );
        assert_eq!(str_key(object, "target"), "crash", "line {n}: {object}");
        assert!(
            str_key(object, "filename").ends_with("macros_crash.rs"),
            "line {n}: {object}"
        );
        assert!(object.get("span").is_none(), "line {n}: {object}");
    }
}

#[test]
fn child() {
    crash::child::<Macros>();
}

#[test]
fn events_committed_before_a_sigkill_are_all_decoded() {
    crash::sigkill::<Macros>();
}

#[test]
fn events_committed_before_a_panic_are_all_decoded() {
    crash::panic::<Macros>();
}

#[test]
fn events_committed_before_an_abort_are_all_decoded() {
    crash::abort::<Macros>();
}
