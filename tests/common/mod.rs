//! Payload helpers shared by the integration tests: every byte of a record is
//! derived from the record's key, so a torn, shifted or misdelivered record
//! shows in the bytes themselves.

// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

/// A 64-bit mix, so neighbouring keys give unrelated values.
pub fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Payload byte `i` of the record keyed `key`.
pub fn byte_at(key: u64, i: usize) -> u8 {
    (mix(key) >> ((i % 8) * 8)) as u8 ^ (i / 8) as u8
}

/// Fills `bytes` with the payload of the record keyed `key`.
pub fn fill(key: u64, bytes: &mut [u8]) {
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = byte_at(key, i);
    }
}

/// The first byte of `bytes` that is not the payload of record `key`.
pub fn first_wrong_byte(key: u64, bytes: &[u8]) -> Option<usize> {
    bytes
        .iter()
        .enumerate()
        .position(|(i, &byte)| byte != byte_at(key, i))
}

/// Panics unless `bytes` is the payload of the record keyed `key`.
pub fn check(key: u64, bytes: &[u8]) {
    if let Some(i) = first_wrong_byte(key, bytes) {
        panic!(
            "record {key:#x}: byte {i} is {:#04x}, expected {:#04x}",
            bytes[i],
            byte_at(key, i)
        );
    }
}

/// Preemptions per execution a loom model explores unless
/// `LOOM_MAX_PREEMPTIONS` is set.
#[cfg(loom)]
pub const PREEMPTIONS: usize = 3;

/// Runs `f` under loom with the tests' preemption bound.
#[cfg(loom)]
pub fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    // Payload writes are modelled word by word, so executions branch often.
    builder.max_branches = 100_000;
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(PREEMPTIONS);
    }
    builder.check(f);
}
