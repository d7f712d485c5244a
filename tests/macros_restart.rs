//! The callsites of logring's macros across restarts and upgrades: every
//! process that reads a ring decodes its events, whoever registered their
//! callsites (format strings and all) and whenever.
//!
//! Two logger processes write into one ring file through the macros, one
//! after the other: the first, "build 1", logs from callsites A and B and
//! exits; the second, a "new build" (the same test binary with another
//! switch in its environment), logs from B and from C, a callsite build 1
//! never used, with other argument types and a target of its own. Each
//! registers its callsites anew, beside the first one's entries. Checked:
//!
//! - a tailer started after both loggers decodes all their events;
//! - a tailer that follows the first logger decodes its events, and tailers
//!   restarted in the middle of the second logger's events (one killed
//!   after the first half, the next started for the rest) decode theirs;
//! - a ring without a dictionary (`Options::dictionary_len(0)`: always
//!   full) decodes the same, from metadata carried inline in each event.
//!
//! Each event is checked whole: level, message, target, file, every field,
//! and the pid of the process that logged it.
//!
//! The harness, shared with `tests/events_restart.rs`, is in
//! `logger_support::restart`; this file has the callsites and says what
//! their events decode to.

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
use logring::file::Options;
use serde_json::json;

use logger_support::restart::{self, Decoded, Expected, Logger, RING};

/// A type of the macros' slow path.
struct Side(u64);

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0 % 2 == 0 { "buy" } else { "sell" })
    }
}

/// The loggers log through the macros.
struct Macros;

impl Logger for Macros {
    const FILE: &'static str = "macros_restart.rs";

    type Guard = ();

    fn start(sender: mpsc::Sender, _build: u64) {
        logring::events::set_global(sender).expect("the logger's only set_global");
    }

    /// Callsite A: build 1 only.
    fn a(i: u64) {
        logring::info!("A {i}: {:>4}", i * 3);
    }

    /// Callsite B: both builds.
    fn b(build: u64, i: u64) {
        let b = format!("bee {i}");
        logring::warn!("B {i} {b:?} build {build}");
    }

    /// Callsite C: build 2 only.
    fn c(i: u64) {
        logring::error!(
            target: "fills",
            "C {} {:.1} {flag} {} {:?}",
            i,
            i as f64 + 0.5,
            Side(i),
            'c',
            flag = i % 2 == 0
        );
    }

    fn decoded(expected: Expected) -> Decoded {
        let Expected { build, site, i, .. } = expected;
        let (level, target, fields) = match site {
            'A' => (
                "INFO",
                "macros_restart",
                json!({"message": format!("A {i}: {:>4}", i * 3), "arg0": i * 3, "i": i}),
            ),
            'B' => (
                "WARN",
                "macros_restart",
                json!({
                    "message": format!("B {i} \"bee {i}\" build {build}"),
                    "i": i,
                    "b": format!("bee {i}"),
                    "build": build,
                }),
            ),
            _ => {
                let flag = i % 2 == 0;
                let side = Side(i).to_string();
                (
                    "ERROR",
                    "fills",
                    json!({
                        "message": format!("C {i} {:.1} {flag} {side} 'c'", i as f64 + 0.5),
                        "arg0": i,
                        "arg1": i as f64 + 0.5,
                        "arg2": side,
                        "arg3": "c",
                        "flag": flag,
                    }),
                )
            }
        };
        Decoded {
            level,
            target,
            fields,
            span: None,
        }
    }
}

#[test]
fn child() {
    restart::child::<Macros>();
}

#[test]
fn a_tailer_started_after_both_loggers_decodes_everything() {
    restart::both_then_tail::<Macros>("after-both", Options::new(RING));
}

#[test]
fn a_ring_without_a_dictionary_decodes_from_inline_metadata() {
    restart::both_then_tail::<Macros>("no-dictionary", Options::new(RING).dictionary_len(0));
}

#[test]
fn following_and_restarted_tailers_decode_every_build() {
    restart::following_and_restarted::<Macros>();
}
