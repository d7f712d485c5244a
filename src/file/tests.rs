//! White-box tests of ring file recovery that the public API cannot stage:
//! a producer that dies between reserving space and marking it claimed.

use std::time::{Duration, Instant};

use super::{Mode, Options, RingFile};
use crate::ring::layout::{Word, span_of};
use crate::sync::Ordering::Relaxed;

struct TempRing(std::path::PathBuf);

impl TempRing {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("logring-unit-{}-{name}.ring", std::process::id()));
        let _ = std::fs::remove_file(&path);
        Self(path)
    }
}

impl Drop for TempRing {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Reserves `len` bytes as `producer`'s `reserve` does, up to and including
/// its compare-and-swap on `tail`, and stops there: the reservation is never
/// marked `Claimed`. Returns its position.
fn reserve_without_marking(ring: &RingFile, owner: &crate::peers::Owner, len: u64) -> u64 {
    let header = ring.ring.header();
    let tail = header.tail.0.load(Relaxed);
    let need = span_of(len);
    assert!(
        ring.ring.index(tail) + need <= ring.ring.capacity(),
        "no wrap here"
    );
    owner.announce(&ring.ring, tail, need);
    header.tail.0.store(tail + need, Relaxed);
    tail
}

/// How long a record that should come may take before the test calls it
/// a hang: far beyond the consumer's few milliseconds of patience at a claim
/// (`read_within` returns as soon as the record is there).
const HANG: Duration = Duration::from_secs(10);

/// Reads until a record arrives or `limit` passes.
fn read_within(consumer: &mut crate::queue::Consumer, limit: Duration) -> Option<Vec<u8>> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(record) = consumer.try_read() {
            return Some(record.to_vec());
        }
        std::thread::yield_now();
    }
    None
}

#[test]
fn a_reservation_its_dead_producer_never_marked_is_skipped() {
    let path = TempRing::new("dead-reservation");
    let ring = RingFile::create(&path.0, Options::new(4096).mode(Mode::Mpsc)).unwrap();
    let mut consumer = ring.consumer().unwrap();
    let survivor = ring.mpsc_producer().unwrap();
    survivor.try_write(b"before").unwrap();

    let dying = ring.attach_producer(Mode::Mpsc).unwrap();
    let hole = reserve_without_marking(&ring, &dying, 40);
    survivor.try_write(b"after").unwrap();
    assert_eq!(
        read_within(&mut consumer, HANG).as_deref(),
        Some(&b"before"[..])
    );

    // While the reserving producer lives, the consumer waits at the gap.
    assert_eq!(read_within(&mut consumer, Duration::from_millis(50)), None);
    assert_eq!(ring.skipped_claims(), 0);
    assert_eq!(ring.ring.word(hole).load(Relaxed), 0);

    drop(dying); // its process dies: the kernel drops its lock
    let record = read_within(&mut consumer, HANG);
    assert_eq!(record.as_deref(), Some(&b"after"[..]));
    assert_eq!(ring.skipped_claims(), 1);
}

#[test]
fn a_live_producer_marking_late_is_never_skipped() {
    let path = TempRing::new("late-mark");
    let ring = RingFile::create(&path.0, Options::new(4096).mode(Mode::Mpsc)).unwrap();
    let mut consumer = ring.consumer().unwrap();
    let slow = ring.attach_producer(Mode::Mpsc).unwrap();
    let pos = reserve_without_marking(&ring, &slow, 3);
    assert_eq!(read_within(&mut consumer, Duration::from_millis(100)), None);
    // It marks and commits at last, as a descheduled producer would.
    ring.ring
        .word(pos)
        .store(Word::claimed(3, slow.id()), Relaxed);
    let mut claim = crate::queue::WriteClaim::new(&ring.ring, pos, 3);
    claim.copy_from_slice(b"yes");
    claim.commit();
    assert_eq!(
        read_within(&mut consumer, HANG).as_deref(),
        Some(&b"yes"[..])
    );
    assert_eq!(ring.skipped_claims(), 0);
}

#[test]
fn a_draining_receiver_skips_a_dead_reservation_at_once() {
    let path = TempRing::new("drain-reservation");
    let ring = RingFile::create(&path.0, Options::new(4096).mode(Mode::Mpsc)).unwrap();
    let mut rx = ring.receiver().unwrap();
    let dying = ring.attach_producer(Mode::Mpsc).unwrap();
    reserve_without_marking(&ring, &dying, 16);
    let survivor = ring.mpsc_producer().unwrap();
    survivor.try_write(b"after").unwrap();
    drop(survivor);
    drop(dying);
    assert_eq!(&*rx.recv().unwrap(), b"after");
    assert!(rx.recv().is_err());
    assert_eq!(rx.skipped_claims(), 1);
}

#[test]
fn a_reservation_entry_no_producer_writes_never_moves_the_consumer() {
    let path = TempRing::new("bad-entry");
    let ring = RingFile::create(&path.0, Options::new(4096).mode(Mode::Mpsc)).unwrap();
    let mut rx = ring.receiver().unwrap();
    let header = ring.ring.header();
    // An empty word at the head below the tail, "explained" by an entry
    // whose sizes are not whole words.
    header.tail.0.store(64, Relaxed);
    header.reservation(0).pos.store(0, Relaxed);
    header.reservation(0).need_generation.store(6, Relaxed);
    assert!(rx.try_recv().is_err());
    assert_eq!(header.head.0.load(Relaxed), 0);
    assert_eq!(rx.skipped_claims(), 0);
}
