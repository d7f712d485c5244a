//! `logring tail` decodes event records that another process logged into a
//! ring file through `logring::tracing::Layer`: each JSON line parses, with
//! the event's level, target, message and fields; text lines carry the same;
//! plain records sent beside the events print as they always did; `--format
//! hex` still dumps the raw bytes. Events logged through logring's own
//! macros print as `tracing_subscriber::fmt` prints the same event logged
//! through `tracing` (the arguments as fields `arg0`, `arg1`, ... or by
//! name).

#![cfg(all(target_os = "linux", feature = "cli"))]

mod cli_support;
mod events_support;
#[macro_use]
mod process;
mod ringfile;

use cli_support::{create_ring, run};
use events_support::send_plain;
use ringfile::TempPath;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Events (and every fifth record plain) this many, from the child.
const RECORDS: u64 = 200;

/// A ring file holding the child's records, once it has exited.
fn ring_written_by_a_child(name: &str) -> TempPath {
    let ring = create_ring(name, "64KiB", "mpsc");
    let mut child = process::Proc::spawn("events", ring.path(), &[RECORDS]);
    child.expect("sent");
    child.finish();
    ring
}

#[test]
fn tail_json_decodes_a_childs_events() {
    let ring = ring_written_by_a_child("events-json");
    let ran = run(&["tail", ring.arg(), "--format", "json", "--no-follow"]).ok();
    let lines = ran.json_lines();
    assert_eq!(lines.len() as u64, RECORDS, "{}", ran.describe());
    let mut pid = None;
    for (n, line) in (0..RECORDS).zip(&lines) {
        if n % 5 == 4 {
            assert_eq!(line["payload"], format!("plain {n}"), "{line}");
            assert_eq!(line["seq"], n + 1, "{line}");
            continue;
        }
        assert_eq!(line["level"], "INFO", "{line}");
        assert_eq!(line["target"], "orders", "{line}");
        assert_eq!(line["fields"]["message"], format!("filled {n}"), "{line}");
        assert_eq!(line["fields"]["order_id"], n, "{line}");
        assert_eq!(line["fields"]["qty"], 3, "{line}");
        assert!(line["timestamp"].is_string(), "{line}");
        assert_eq!(line["filename"], file!(), "{line}");
        assert!(line["line_number"].is_u64(), "{line}");
        // One writer process, not this one.
        let this = line["pid"].as_u64().expect("a pid");
        assert_ne!(this, u64::from(std::process::id()));
        assert_eq!(*pid.get_or_insert(this), this, "{line}");
    }
}

#[test]
fn tail_text_decodes_a_childs_events() {
    let ring = ring_written_by_a_child("events-text");
    let ran = run(&["tail", ring.arg(), "--no-follow"]).ok();
    let lines = ran.lines();
    assert_eq!(lines.len() as u64, RECORDS, "{}", ran.describe());
    for (n, line) in (0..RECORDS).zip(&lines) {
        if n % 5 == 4 {
            assert_eq!(line, &format!("plain {n}"));
            continue;
        }
        for part in [
            "INFO".to_string(),
            "orders".to_string(),
            format!("filled {n}"),
            format!("order_id={n}"),
            "qty=3".to_string(),
        ] {
            assert!(line.contains(&part), "{part:?} missing from {line:?}");
        }
    }
}

#[test]
fn tail_hex_dumps_events_raw() {
    let ring = ring_written_by_a_child("events-hex");
    let ran = run(&["tail", ring.arg(), "--format", "hex", "--count", "1"]).ok();
    let first = ran.lines().into_iter().next().expect("a header line");
    let tag = first
        .strip_prefix("record 1: position 0, ")
        .and_then(|rest| rest.rsplit_once(", tag "))
        .and_then(|(_, tag)| tag.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("not the header of the first record: {first:?}"));
    assert!(logring::events::is_event(tag), "{first:?}");
}

/// The event the child logs through logring's macros, round `n`.
#[cfg(feature = "macros")]
fn macro_event(n: u64) {
    let px = 101.25 + n as f64;
    if n % 2 == 0 {
        logring::info!(target: "orders", "order {} filled at {} by {trader:?} ({side})",
            n, px, trader = "ann", side = Side(n));
    } else {
        logring::error!("order {n} failed: {:?}", "no \"fill\"");
    }
}

/// The same event through `tracing`, its arguments as fields.
#[cfg(feature = "macros")]
fn tracing_event(n: u64) {
    let px = 101.25 + n as f64;
    if n % 2 == 0 {
        tracing::info!(target: "orders", arg0 = n, arg1 = px, trader = "ann", side = %Side(n),
            "order {} filled at {} by {:?} ({})", n, px, "ann", Side(n));
    } else {
        tracing::error!(
            arg0 = "no \"fill\"",
            n,
            "order {} failed: {:?}",
            n,
            "no \"fill\""
        );
    }
}

/// A type of the macros' slow path.
#[cfg(feature = "macros")]
struct Side(u64);

#[cfg(feature = "macros")]
impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0 % 2 == 0 { "buy" } else { "sell" })
    }
}

#[cfg(feature = "macros")]
#[test]
fn tail_text_prints_macro_events_as_tracing_prints_them() {
    const EVENTS: u64 = 20;
    let ring = create_ring("macros-text", "64KiB", "mpsc");
    let mut child = process::Proc::spawn("macros", ring.path(), &[EVENTS]);
    child.expect("sent");
    child.finish();
    let ran = run(&["tail", ring.arg(), "--no-follow"]).ok();
    let ours = ran.lines();

    let out = events_support::SharedBuf::new();
    let buffer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || buffer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || (0..EVENTS).for_each(tracing_event));
    let theirs = out.lines();

    assert_eq!(ours.len(), theirs.len(), "{}", ran.describe());
    for (our, their) in ours.iter().zip(&theirs) {
        // `2026-01-01T00:00:00.000000Z  INFO orders: order 0 filled ...`
        assert_eq!(
            events_support::after_timestamp(our),
            events_support::after_timestamp(their),
            "ours first"
        );
    }
    assert_eq!(
        events_support::after_timestamp(&ours[0]),
        " INFO orders: order 0 filled at 101.25 by \"ann\" (buy) arg0=0 arg1=101.25 trader=\"ann\" side=buy"
    );
    assert_eq!(
        events_support::after_timestamp(&ours[1]),
        "ERROR cli_events: order 1 failed: \"no \\\"fill\\\"\" arg0=\"no \\\"fill\\\"\" n=1"
    );
}

// The child: logs the events into the ring named by its path, and sends
// the plain records between them.

#[test]
fn child() {
    let Some((role, ring)) = process::child() else {
        return;
    };
    match role.name.as_str() {
        "events" => {
            let sender = ring.mpsc_sender().unwrap();
            tracing_subscriber::registry()
                .with(logring::tracing::Layer::new(sender.clone()))
                .init();
            for n in 0..role.arg(0) {
                if n % 5 == 4 {
                    send_plain(&sender, format!("plain {n}").as_bytes());
                } else {
                    tracing::info!(target: "orders", order_id = n, qty = 3u64, "filled {}", n);
                }
            }
            report!("sent");
        }
        #[cfg(feature = "macros")]
        "macros" => {
            logring::events::set_global(ring.mpsc_sender().unwrap()).unwrap();
            (0..role.arg(0)).for_each(macro_event);
            report!("sent");
        }
        other => panic!("unknown role {other}"),
    }
}
