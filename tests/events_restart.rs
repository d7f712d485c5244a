//! The dictionary across restarts: every process that reads a ring decodes
//! its events, whoever registered their callsites and whenever.
//!
//! Two logger processes write into one ring file, one after the other: the
//! first, "build 1", logs from callsites A and B and exits; the second, a
//! "new build" (the same test binary with another switch in its
//! environment), logs from B and C inside a span of its own. Each registers
//! its callsites anew, beside the first one's entries. Checked:
//!
//! - a tailer started after both loggers decodes all their events;
//! - a tailer that follows the first logger decodes its events, and tailers
//!   restarted in the middle of the second logger's events (one killed
//!   after the first half, the next started for the rest) decode theirs;
//! - a ring without a dictionary (`Options::dictionary_len(0)`: always
//!   full) decodes the same, from metadata carried inline in each event.
//!
//! Each event is checked whole: level, message, target, file, every field,
//! its span, and the pid of the process that logged it.
//!
//! The harness, shared with `tests/macros_restart.rs`, is in
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

use logring::channel::mpsc;
use logring::file::Options;
use serde_json::{Value, json};
use tracing::span::EnteredSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use logger_support::restart::{self, Decoded, Expected, Logger, RING};

/// The loggers log through the tracing layer; build 2 inside a span.
struct Tracing;

impl Logger for Tracing {
    const FILE: &'static str = "events_restart.rs";

    type Guard = Option<EnteredSpan>;

    fn start(sender: mpsc::Sender, build: u64) -> Option<EnteredSpan> {
        tracing_subscriber::registry()
            .with(logring::tracing::Layer::new(sender))
            .init();
        (build == 2).then(|| tracing::info_span!("v2", build, started = "yes").entered())
    }

    /// Callsite A: build 1 only.
    fn a(i: u64) {
        tracing::info!(build = 1u64, a = i, "A {}", i);
    }

    /// Callsite B: both builds.
    fn b(build: u64, i: u64) {
        tracing::warn!(build, b = format!("bee {i}").as_str(), "B {}", i);
    }

    /// Callsite C: build 2 only.
    fn c(i: u64) {
        tracing::error!(
            build = 2u64,
            c = i as f64 + 0.5,
            flag = i % 2 == 0,
            "C {}",
            i
        );
    }

    fn decoded(expected: Expected) -> Decoded {
        let Expected { build, site, i, .. } = expected;
        let (level, mut fields) = match site {
            'A' => ("INFO", json!({"build": 1, "a": i})),
            'B' => ("WARN", json!({"build": build, "b": format!("bee {i}")})),
            _ => (
                "ERROR",
                json!({"build": 2, "c": i as f64 + 0.5, "flag": i % 2 == 0}),
            ),
        };
        fields["message"] = Value::from(format!("{site} {i}"));
        Decoded {
            level,
            target: "events_restart",
            fields,
            span: (build == 2).then(|| json!({"name": "v2", "build": 2, "started": "yes"})),
        }
    }
}

#[test]
fn child() {
    restart::child::<Tracing>();
}

#[test]
fn a_tailer_started_after_both_loggers_decodes_everything() {
    restart::both_then_tail::<Tracing>("after-both", Options::new(RING));
}

#[test]
fn a_ring_without_a_dictionary_decodes_from_inline_metadata() {
    restart::both_then_tail::<Tracing>("no-dictionary", Options::new(RING).dictionary_len(0));
}

#[test]
fn following_and_restarted_tailers_decode_every_build() {
    restart::following_and_restarted::<Tracing>();
}
