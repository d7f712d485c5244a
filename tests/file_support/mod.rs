//! What the in-process ring file tests (`tests/file_errors.rs`,
//! `tests/file_corruption.rs`, `tests/file_recovery.rs`) share: valid ring
//! files to start from, records whose every byte derives from their key,
//! and the checks of what a consumer finds.
//!
//! Damaged files are made by hand: a valid ring is created with
//! `RingFile::create`, dropped, and then its bytes are changed through
//! `std::fs` (offsets from the wire format in `ring::layout`, through
//! `ringfile`).

// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use logring::file::{Mode, Options, RingFile};
use logring::queue::{self, Consumer};

use crate::common::{check, fill, mix};
use crate::ringfile::TempPath;

/// How long a test waits for something that should happen within
/// milliseconds (a dead claim is skipped after about 5 ms) before it calls
/// it a hang: generous, since a busy machine may not run the test for a
/// while, and free, since every wait ends as soon as the thing happens.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A valid, closed ring file of `capacity` bytes.
pub fn ring_file(name: &str, capacity: usize, mode: Mode) -> TempPath {
    let path = TempPath::new(name);
    let ring = RingFile::create(path.path(), Options::new(capacity).mode(mode))
        .unwrap_or_else(|error| panic!("{error}"));
    drop(ring);
    path
}

pub fn create(path: &TempPath, capacity: usize, mode: Mode) -> RingFile {
    RingFile::create(path.path(), Options::new(capacity).mode(mode))
        .unwrap_or_else(|error| panic!("{error}"))
}

pub fn open(path: &TempPath) -> RingFile {
    RingFile::open(path.path()).unwrap_or_else(|error| panic!("{error}"))
}

pub fn read_u64(path: &TempPath, offset: u64) -> u64 {
    let mut bytes = [0; 8];
    File::open(path.path())
        .unwrap()
        .read_exact_at(&mut bytes, offset)
        .unwrap();
    u64::from_le_bytes(bytes)
}

/// The payload length of the record keyed `key`.
pub fn len_of(key: u64) -> usize {
    (mix(key) % 60) as usize
}

pub fn payload(key: u64) -> Vec<u8> {
    let mut bytes = vec![0; len_of(key)];
    fill(key, &mut bytes);
    bytes
}

/// Writes records `keys` through an SPSC producer of `ring`; returns their
/// positions.
pub fn write_spsc(ring: &RingFile, keys: std::ops::Range<u64>) -> Vec<u64> {
    let mut producer = ring.spsc_producer().unwrap();
    keys.map(|key| {
        let mut claim = producer.try_claim(len_of(key)).unwrap();
        fill(key, &mut claim);
        let pos = claim.position();
        claim.commit();
        pos
    })
    .collect()
}

/// Reads the next record, which must be the one keyed `key`, and releases it.
pub fn expect_record(consumer: &mut Consumer, key: u64) {
    let record = consumer
        .try_recv()
        .unwrap_or_else(|error| panic!("record {key}: {error}"));
    assert_eq!(record.len(), len_of(key), "record {key}");
    check(key, &record);
}

/// Panics unless `consumer` finds no record ready, and no corruption.
#[track_caller]
pub fn expect_empty(consumer: &mut Consumer) {
    assert_eq!(consumer.try_recv().err(), Some(queue::TryRecvError::Empty));
}
