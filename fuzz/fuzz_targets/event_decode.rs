//! Fuzz target `event_decode`: any bytes, as an event record and the
//! dictionary entries it refers to.
//!
//! The input is a selector byte, then chunks of `u16` length (little-endian)
//! and that many bytes (the last chunk may end early): the first chunk is the
//! record's payload, chunk `k >= 1` the dictionary entry of id `k`. The
//! selector picks the tag: below 0xF0 the version 1 event tag; otherwise a
//! tag of logring's reserved range (`0xFFFF_FF00 + selector`, an unknown
//! encoding but for 0xF1), or for 0xFF a plain record's tag.
//!
//! Decoding must give an event or an error that displays, never a panic, a
//! hang or an allocation out of proportion to the input; an event that
//! decodes must encode again (every callsite, thread and name inline) to a
//! record that decodes the same.

#![no_main]

use std::hint::black_box;

use libfuzzer_sys::fuzz_target;

/// The version 1 event tag.
const EVENT_TAG_V1: u32 = 0xFFFF_FF01;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let tag = match selector {
        0..0xF0 => EVENT_TAG_V1,
        0xFF => 7,
        selector => 0xFFFF_FF00 + u32::from(selector),
    };
    let mut chunks = Vec::new();
    while let Some((len, after)) = rest.split_first_chunk::<2>() {
        let len = usize::from(u16::from_le_bytes(*len)).min(after.len());
        let (chunk, after) = after.split_at(len);
        chunks.push(chunk);
        rest = after;
    }
    let Some((&payload, entries)) = chunks.split_first() else {
        return;
    };
    let entries: Vec<(u32, &[u8])> = (1..).zip(entries.iter().copied()).collect();
    black_box(logring::events::fuzz_decode(tag, payload, &entries));
});
