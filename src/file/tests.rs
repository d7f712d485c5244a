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
        read_within(&mut consumer, Duration::from_secs(1)).as_deref(),
        Some(&b"before"[..])
    );

    // While the reserving producer lives, the consumer waits at the gap.
    assert_eq!(read_within(&mut consumer, Duration::from_millis(50)), None);
    assert_eq!(ring.skipped_claims(), 0);
    assert_eq!(ring.ring.word(hole).load(Relaxed), 0);

    drop(dying); // its process dies: the kernel drops its lock
    let record = read_within(&mut consumer, Duration::from_secs(1));
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
        read_within(&mut consumer, Duration::from_secs(1)).as_deref(),
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

/// Threads that call `open_or_create` together on a fresh path, `create`
/// making the file each `way`: all succeed and share one ring, and no
/// temporary file is left in the directory.
#[test]
fn threads_that_open_or_create_together_share_one_ring() {
    use super::publish::{FIRST_WAY, Way};
    let dir = std::env::temp_dir().join(format!("logring-unit-{}-start-up", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    for way in [Way::Unnamed, Way::Named, Way::InPlace] {
        for round in 0..50 {
            let path = dir.join(format!("{way:?}-{round}.ring"));
            let options = Options::new(4096).mode(Mode::Mpsc);
            let barrier = std::sync::Barrier::new(4);
            std::thread::scope(|scope| {
                for id in 0..4u8 {
                    let (path, barrier) = (&path, &barrier);
                    scope.spawn(move || {
                        FIRST_WAY.with(|first| first.set(way));
                        barrier.wait();
                        let ring = RingFile::open_or_create(path, options)
                            .unwrap_or_else(|error| panic!("{way:?}, round {round}: {error}"));
                        ring.mpsc_sender().unwrap().send_bytes(&[id]).unwrap();
                    });
                }
            });
            let ring = RingFile::open(&path).unwrap();
            let mut consumer = ring.consumer().unwrap();
            let mut ids = Vec::new();
            while let Some(record) = consumer.try_read() {
                ids.push(record[0]);
            }
            ids.sort_unstable();
            assert_eq!(ids, [0, 1, 2, 3], "{way:?}, round {round}");
            std::fs::remove_file(&path).unwrap();
        }
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert!(left.is_empty(), "{way:?} left {left:?}");
    }
    std::fs::remove_dir(&dir).unwrap();
}

/// A failed `create` leaves nothing behind, whichever way it made the file.
#[test]
fn a_failed_create_leaves_no_file_whichever_way() {
    use super::publish::{FIRST_WAY, Way};
    let dir = std::env::temp_dir().join(format!("logring-unit-{}-failed", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    for way in [Way::Unnamed, Way::Named, Way::InPlace] {
        FIRST_WAY.with(|first| first.set(way));
        // Taken: the link (or the creation in place) fails.
        let taken = dir.join("taken");
        std::fs::write(&taken, b"precious").unwrap();
        let error = RingFile::create(&taken, Options::new(4096)).unwrap_err();
        assert!(
            error.to_string().contains("File exists"),
            "{way:?}: {error}"
        );
        assert_eq!(std::fs::read(&taken).unwrap(), b"precious");
        std::fs::remove_file(&taken).unwrap();
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert!(left.is_empty(), "{way:?} left {left:?}");
    }
    FIRST_WAY.with(|first| first.set(Way::Unnamed));
    std::fs::remove_dir(&dir).unwrap();
}
