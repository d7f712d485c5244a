//! Event records for the tests of the event writer and of `logring tail`.
//!
//! STAND-IN: until the front ends are in, events are written by hand, in
//! the version-1 layout (metadata and thread inline, so that no dictionary
//! entry is needed). At integration `logring::tracing::Layer` writes them
//! instead, and this module goes.

// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use logring::channel::mpsc::Sender;

/// The tag of an event record of encoding version 1.
pub const EVENT_TAG_V1: u32 = 0xFFFF_FF01;
/// A tag logring reserves that names no encoding this build knows.
pub const UNKNOWN_EVENT_TAG: u32 = 0xFFFF_FF7F;

/// INFO, in the record's level byte.
pub const INFO: u8 = 3;
/// WARN, in the record's level byte.
pub const WARN: u8 = 4;

fn str16(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u16::try_from(s.len()).unwrap().to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The payload of an event at `level` from `target`, with `message` and
/// the unsigned fields `fields`, in the record layout of version 1.
pub fn event(level: u8, target: &str, message: &str, fields: &[(&str, u64)]) -> Vec<u8> {
    const META_INLINE: u8 = 1;
    const THREAD_INLINE: u8 = 2;
    let time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut out = vec![1, level, META_INLINE | THREAD_INLINE, 0];
    out.extend_from_slice(&0u32.to_le_bytes()); // callsite: inline
    out.extend_from_slice(&time.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // thread: inline
    out.extend_from_slice(&std::process::id().to_le_bytes());
    // The Meta block: the message and the fields' names.
    out.extend_from_slice(&[level, 1]);
    let nfields = u16::try_from(1 + fields.len()).unwrap();
    out.extend_from_slice(&nfields.to_le_bytes());
    out.extend_from_slice(&42u32.to_le_bytes()); // line
    str16(&mut out, "event tests/events_support/mod.rs:42");
    str16(&mut out, target);
    str16(&mut out, target);
    str16(&mut out, "tests/events_support/mod.rs");
    str16(&mut out, "message");
    for (name, _) in fields {
        str16(&mut out, name);
    }
    out.extend_from_slice(&7u64.to_le_bytes()); // the thread's number
    // The message, as debug text, then each field as a u64.
    out.push(6);
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&u32::try_from(message.len()).unwrap().to_le_bytes());
    out.extend_from_slice(message.as_bytes());
    for (i, (_, value)) in fields.iter().enumerate() {
        out.push(2);
        out.extend_from_slice(&u16::try_from(i + 1).unwrap().to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
    }
    out
}

/// Commits `payload` with `tag`, retrying while the ring is full.
pub fn send_tagged(sender: &Sender, tag: u32, payload: &[u8]) {
    loop {
        match sender.claim(payload.len()) {
            Ok(mut claim) => {
                claim.copy_from_slice(payload);
                claim.set_tag(tag);
                claim.commit();
                return;
            }
            Err(logring::channel::SendError::Full) => std::thread::yield_now(),
            Err(error) => panic!("cannot send: {error}"),
        }
    }
}

/// Sends the event of [`event`], retrying while the ring is full.
pub fn send_event(sender: &Sender, target: &str, message: &str, fields: &[(&str, u64)]) {
    send_tagged(sender, EVENT_TAG_V1, &event(INFO, target, message, fields));
}

/// Sends a plain record, retrying while the ring is full.
pub fn send_plain(sender: &Sender, payload: &[u8]) {
    send_tagged(sender, 0, payload);
}
