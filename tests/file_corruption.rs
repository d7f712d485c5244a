//! Corrupt ring files, within one process: a record word no producer
//! writes, or a length out of bounds, stops every consumer and receive call
//! at that record with `Corrupt`, after the records before it, and never
//! reads out of bounds, panics or hangs; a header whose positions become
//! impossible while ends are attached is reported as corruption by every
//! producer and sender, not taken for a full ring.

#![cfg(all(target_os = "linux", feature = "mmap"))]

mod common;
mod file_support;
mod ringfile;

use common::mix;
use file_support::{PATIENCE, expect_record, open, read_u64, ring_file, write_spsc};
use ringfile::{CONSUMED_AT, HEAD_AT, HEADER, TAIL_AT, TempPath, patch, patch_u64};

use std::thread;
use std::time::{Duration, Instant};

use logring::CorruptRing;
use logring::channel::{ReadClaim, Receiver, Record, RecvError, RecvTimeoutError, TryRecvError};
use logring::file::{Mode, RingFile};
use logring::queue::{self, Consumer};

/// The payload length bits of a record word.
const LEN_MASK: u64 = (1 << 30) - 1;

/// File offset of the record word at free-running position `pos`.
fn word_at(pos: u64, capacity: u64) -> u64 {
    HEADER + (pos & (capacity - 1))
}

/// The corruption `consumer` reports instead of a record.
#[track_caller]
fn expect_corrupt(consumer: &mut Consumer) -> CorruptRing {
    match consumer.try_recv() {
        Err(queue::TryRecvError::Corrupt(corrupt)) => corrupt,
        Ok(record) => panic!("delivered {record:?} instead of reporting corruption"),
        Err(error) => panic!("{error}, not corruption"),
    }
}

// ---------------------------------------------------------------------------
// Corrupt records.

/// Writes records 0..count to a new SPSC ring, optionally reads `read` of
/// them, drops every end, and sets the length bits of the record word at
/// `positions[corrupt]` to `len`. Returns the path and the positions.
fn corrupt_ring(count: u64, read: u64, corrupt: usize, len: u64) -> (TempPath, Vec<u64>) {
    let path = ring_file("corrupt", 4096, Mode::Spsc);
    let positions = {
        let ring = open(&path);
        let positions = write_spsc(&ring, 0..count);
        let mut consumer = ring.consumer().unwrap();
        for key in 0..read {
            expect_record(&mut consumer, key);
        }
        positions
    };
    let at = word_at(positions[corrupt], 4096);
    let word = read_u64(&path, at);
    assert_eq!(word >> 30 & 0b11, 0b10, "a committed record word");
    patch_u64(&path, at, (word & !LEN_MASK) | len);
    (path, positions)
}

#[test]
fn a_corrupt_length_at_the_head_is_reported() {
    for len in [LEN_MASK, 2041, 1 << 20] {
        let (path, positions) = corrupt_ring(10, 4, 4, len);
        assert_eq!(read_u64(&path, HEAD_AT), positions[4]);
        let ring = open(&path);
        let mut consumer = ring.consumer().unwrap();
        let corrupt = expect_corrupt(&mut consumer);
        assert_eq!(corrupt.position, positions[4]);
        assert_eq!(corrupt.word & LEN_MASK, len);
        assert!(corrupt.to_string().contains("out of bounds"), "{corrupt}");
        // It stays stopped there.
        assert_eq!(expect_corrupt(&mut consumer), corrupt);
        assert_eq!(
            consumer.try_recv_batch(usize::MAX, |record| panic!("delivered {record:?}")),
            Err(queue::TryRecvError::Corrupt(corrupt))
        );
        assert_eq!(consumer.corruption(), Some(corrupt));
    }
}

#[test]
fn a_corrupt_length_in_the_middle_stops_the_consumer_there() {
    // Records 0..100 of up to 59 bytes (spans of 8 to 72 bytes) fill most
    // of the 4096-byte ring. A length within the maximum but running past
    // the end of the data area would read past the end of the mapping.
    let (path, positions) = corrupt_ring(100, 0, 70, 0);
    let at = positions[70];
    let room = 4096 - (at & 4095);
    assert!(room < 2040, "record 70 is in the second half");
    let word = read_u64(&path, word_at(at, 4096));
    patch_u64(&path, word_at(at, 4096), word | (room + 8).min(2040));

    let ring = open(&path);
    let mut consumer = ring.consumer().unwrap();
    for key in 0..70 {
        expect_record(&mut consumer, key);
    }
    let corrupt = expect_corrupt(&mut consumer);
    assert_eq!(corrupt.position, at);
    assert_eq!(corrupt.reason, "record length out of bounds");
    // What came before was released; what follows is never reached.
    assert_eq!(read_u64(&path, HEAD_AT), at);
    assert_eq!(expect_corrupt(&mut consumer), corrupt);
}

/// The blocking receive calls, each tried on a corrupt ring.
#[derive(Clone, Copy, Debug)]
enum Call {
    Recv,
    RecvTimeout,
    RecvDeadline,
    TryRecv,
    RecvBatch,
    RecvBatchTimeout,
    TryRecvBatch,
}

const CALLS: [Call; 7] = [
    Call::Recv,
    Call::RecvTimeout,
    Call::RecvDeadline,
    Call::TryRecv,
    Call::RecvBatch,
    Call::RecvBatchTimeout,
    Call::TryRecvBatch,
];

/// What one receive call did: the positions of the records it received, or
/// its error's message and, if the error is the `Corrupt` variant, what it
/// carries.
type Received = Result<Vec<u64>, (String, Option<CorruptRing>)>;

fn recv_failed(error: RecvError) -> (String, Option<CorruptRing>) {
    let corrupt = match error {
        RecvError::Corrupt(corrupt) => Some(corrupt),
        _ => None,
    };
    (error.to_string(), corrupt)
}

fn timeout_failed(error: RecvTimeoutError) -> (String, Option<CorruptRing>) {
    let corrupt = match error {
        RecvTimeoutError::Corrupt(corrupt) => Some(corrupt),
        _ => None,
    };
    (error.to_string(), corrupt)
}

fn try_failed(error: TryRecvError) -> (String, Option<CorruptRing>) {
    let corrupt = match error {
        TryRecvError::Corrupt(corrupt) => Some(corrupt),
        _ => None,
    };
    (error.to_string(), corrupt)
}

/// Receives with `call` (a batch of up to 4 records for the batch calls).
fn receive(rx: &mut Receiver, call: Call) -> Received {
    let one = |record: ReadClaim<'_>| vec![record.position()];
    let mut batch = Vec::new();
    let take = |record: Record<'_>| batch.push(record.position());
    match call {
        Call::Recv => rx.recv().map(one).map_err(recv_failed),
        Call::RecvTimeout => rx.recv_timeout(PATIENCE).map(one).map_err(timeout_failed),
        Call::RecvDeadline => rx
            .recv_deadline(Instant::now() + PATIENCE)
            .map(one)
            .map_err(timeout_failed),
        Call::TryRecv => rx.try_recv().map(one).map_err(try_failed),
        Call::RecvBatch => rx.recv_batch(4, take).map(|_| batch).map_err(recv_failed),
        Call::RecvBatchTimeout => rx
            .recv_batch_timeout(4, PATIENCE, take)
            .map(|_| batch)
            .map_err(timeout_failed),
        Call::TryRecvBatch => rx
            .try_recv_batch(4, take)
            .map(|_| batch)
            .map_err(try_failed),
    }
}

/// Checks that `error` is the `Corrupt` variant carrying `expected`, and
/// that its message names the position and the reason, not a disconnection.
#[track_caller]
fn assert_corrupt_error(error: &(String, Option<CorruptRing>), expected: CorruptRing, what: &str) {
    let (message, corrupt) = error;
    assert_eq!(*corrupt, Some(expected), "{what}: {message}");
    assert!(
        message.contains(&format!("position {}", expected.position))
            && message.contains(expected.reason),
        "{what}: the message does not name the position and the reason: {message}"
    );
    assert!(
        !message.contains("disconnected"),
        "{what}: corruption reported as a disconnection: {message}"
    );
}

#[test]
fn every_receive_call_reports_a_corrupt_ring_as_corrupt() {
    // With or without a producer attached, following or not: the records
    // before the corruption arrive, then the corruption, never the end of
    // the stream and never a wait for records past it.
    for call in CALLS {
        for (attached, follow) in [(false, false), (false, true), (true, false), (true, true)] {
            let what = format!("{call:?}, producer attached: {attached}, follow: {follow}");
            let (path, positions) = corrupt_ring(12, 0, 6, LEN_MASK);
            let ring = open(&path);
            let _sender = attached.then(|| ring.spsc_sender().unwrap());
            let mut receiver = ring.receiver().unwrap();
            receiver.set_follow(follow);
            let mut received = Vec::new();
            let error = loop {
                match receive(&mut receiver, call) {
                    Ok(positions) => received.extend(positions),
                    Err(error) => break error,
                }
            };
            assert_eq!(received, positions[..6], "{what}: the records before it");
            let expected = CorruptRing {
                position: positions[6],
                word: read_u64(&path, word_at(positions[6], 4096)),
                reason: "record length out of bounds",
            };
            assert_corrupt_error(&error, expected, &what);
            // Every call keeps reporting it.
            for again in CALLS {
                let error = receive(&mut receiver, again).expect_err("nothing past it");
                assert_corrupt_error(&error, expected, &format!("{what}, then {again:?}"));
            }
            assert_eq!(receiver.corruption(), Some(expected), "{what}");
        }
    }
}

#[test]
fn a_receiver_asleep_in_recv_wakes_with_the_corruption() {
    // Two producers' claims: the receiver waits (asleep, following) at the
    // first, whose word is then overwritten with one no producer writes;
    // the second commits, which wakes the receiver.
    let path = ring_file("asleep", 4096, Mode::Mpsc);
    let ring = open(&path);
    let first = ring.mpsc_sender().unwrap();
    let second = first.clone();
    let mut receiver = ring.receiver().unwrap();
    receiver.set_follow(true);
    let held = first.claim(8).unwrap();
    let mut later = second.claim(8).unwrap();
    later.copy_from_slice(b"after it");
    let (done, outcome) = std::sync::mpsc::channel();
    let receiving = thread::spawn(move || {
        let received = receiver.recv().map(|record| record.position());
        done.send(received).unwrap();
        receiver
    });
    // Time to fall asleep; the test holds either way.
    thread::sleep(Duration::from_millis(50));
    let bad = held.position();
    patch_u64(&path, word_at(bad, 4096), u64::MAX);
    later.commit();
    // A hang, not slowness, is what this deadline catches.
    let received = outcome
        .recv_timeout(Duration::from_secs(30))
        .expect("the receiver is still asleep");
    let expected = CorruptRing {
        position: bad,
        word: u64::MAX,
        reason: "unknown record state",
    };
    assert_eq!(received, Err(RecvError::Corrupt(expected)));
    let receiver = receiving.join().unwrap();
    assert_eq!(receiver.corruption(), Some(expected));
    drop(held);
}

#[test]
fn other_corrupt_words_are_reported() {
    // (raw record word, reason)
    let cases = [
        (0x0000_0000_0000_0010, "unknown record state"),
        (0x0000_0001_0000_0000, "unknown record state"),
        (0xC000_0000, "padding span out of bounds"),
        (0xC000_0003, "padding span out of bounds"),
        (0xC000_0000 | 8192, "padding span out of bounds"),
        (0x0000_0001_C000_0008, "unknown record state"),
    ];
    for (raw, reason) in cases {
        let (path, positions) = corrupt_ring(10, 0, 5, 0);
        patch_u64(&path, word_at(positions[5], 4096), raw);
        let ring = open(&path);
        let mut consumer = ring.consumer().unwrap();
        for key in 0..5 {
            expect_record(&mut consumer, key);
        }
        let corrupt = expect_corrupt(&mut consumer);
        assert_eq!(
            (corrupt.position, corrupt.word, corrupt.reason),
            (positions[5], raw, reason)
        );
    }
}

#[test]
fn random_damage_never_panics_or_reads_out_of_bounds() {
    // Random bytes over the header fields and over the data area: every
    // open either fails with a report or gives a ring whose consumer
    // delivers records inside the data area, reports corruption, or finds
    // nothing; never a panic, a crash or a hang.
    let capacity = 1024u64;
    let mut seed = 1;
    let mut next = || {
        seed += 1;
        mix(seed)
    };
    for round in 0..300 {
        let path = ring_file("random", capacity as usize, Mode::Mpsc);
        if round % 3 == 0 {
            let offset = [0, 8, 12, 16, 24, 32, 64, 128, 256, 896][(next() % 10) as usize];
            let bytes = next().to_le_bytes();
            let len = 1 + (next() % 8) as usize;
            patch(&path, offset + next() % 4, &bytes[..len]);
        } else {
            // Valid positions somewhere in a lap, data area garbage.
            let head = (next() % (4 * capacity)) & !7;
            let tail = head + ((next() % capacity) & !7);
            patch_u64(&path, HEAD_AT, head);
            patch_u64(&path, CONSUMED_AT, head);
            patch_u64(&path, TAIL_AT, tail);
            let garbage: Vec<u8> = (0..capacity / 8)
                .flat_map(|_| {
                    let word = next();
                    // Mostly plausible states, some of them committed.
                    match word % 4 {
                        0 => word.to_le_bytes(),
                        1 => (word & 0xffff_ffff_8000_003f | 0x8000_0000).to_le_bytes(),
                        2 => (word & 0x0000_0000_c000_00f8).to_le_bytes(),
                        _ => 0u64.to_le_bytes(),
                    }
                })
                .collect();
            patch(&path, HEADER, &garbage);
        }
        let Ok(ring) = RingFile::open(path.path()) else {
            continue;
        };
        let mut consumer = ring.consumer().unwrap();
        for _ in 0..capacity / 8 + 1 {
            match consumer.try_recv() {
                Ok(record) => {
                    let pos = record.position() & (capacity - 1);
                    assert!(pos + 8 + record.len() as u64 <= capacity);
                }
                Err(queue::TryRecvError::Empty | queue::TryRecvError::Corrupt(_)) => break,
                Err(error) => panic!("{error}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Impossible positions: a header damaged while ends are attached.

/// What a producer says of positions no ring can have.
const IMPOSSIBLE: &str = "the consumer's head is more than a capacity away from the tail";

/// How the consumer's `head` is damaged, relative to the producer's `tail`.
#[derive(Clone, Copy, Debug)]
enum Damage {
    /// More than a capacity behind: more in use than the ring holds.
    Behind,
    /// More than a capacity ahead: the consumer past records never written.
    Ahead,
}

/// Where the positions of the rings below start: three laps and a bit on.
const LAPPED: u64 = 3 * 4096 + 128;

/// A closed ring file of 4096 bytes in `mode` whose (consistent) positions
/// stand at `LAPPED`, as if three laps had been written and read.
fn lapped_ring(name: &str, mode: Mode) -> TempPath {
    let path = ring_file(name, 4096, mode);
    for at in [HEAD_AT, TAIL_AT, CONSUMED_AT] {
        patch_u64(&path, at, LAPPED);
    }
    path
}

/// Fills the ring with `try_send` of 56-byte records (spans of 64, so no
/// padding) until it is full, then writes `damage` into the header's `head`
/// behind the attached ends' backs. Returns the tail and the damaged head.
fn fill_then_damage(
    path: &TempPath,
    damage: Damage,
    mut try_send: impl FnMut(&[u8]) -> bool,
) -> (u64, u64) {
    let mut sent = 0;
    while try_send(&[7; 56]) {
        sent += 1;
    }
    assert_eq!(sent, 4096 / 64, "{damage:?}: the ring holds 64 records");
    let tail = LAPPED + 4096;
    assert_eq!(read_u64(path, TAIL_AT), tail);
    let head = match damage {
        Damage::Behind => tail - 4096 - 64,
        Damage::Ahead => tail + 4096 + 64,
    };
    patch_u64(path, HEAD_AT, head);
    (tail, head)
}

/// Panics unless `corrupt` reports the impossible positions.
#[track_caller]
fn assert_impossible(corrupt: CorruptRing, tail: u64, head: u64, what: &str) {
    assert_eq!(
        (corrupt.position, corrupt.word, corrupt.reason),
        (tail, head, IMPOSSIBLE),
        "{what}"
    );
    assert_eq!(
        corrupt.to_string(),
        format!("corrupt ring at position {tail}: {IMPOSSIBLE} (found {head:#018x})"),
        "{what}"
    );
}

/// A queue producer whose ring file's `head` was damaged more than a
/// capacity behind or ahead of its `tail` gets `ClaimError::Corrupt` from
/// every claim, not `Full` for ever (and nothing is counted as a `Full`
/// rejection); a record too large is still `TooLarge`.
#[test]
fn a_queue_producer_facing_impossible_positions_reports_corruption() {
    use logring::queue::ClaimError;
    for mode in [Mode::Spsc, Mode::Mpsc] {
        for damage in [Damage::Behind, Damage::Ahead] {
            let what = format!("{mode}, head {damage:?}");
            let path = lapped_ring("impossible-queue", mode);
            let ring = open(&path);
            let _consumer = ring.consumer().unwrap();
            let mut spsc = (mode == Mode::Spsc).then(|| ring.spsc_producer().unwrap());
            let mpsc = (mode == Mode::Mpsc).then(|| ring.mpsc_producer().unwrap());
            let mut try_claim = |len: usize, send: bool| -> Result<(), ClaimError> {
                let payload = vec![7; len];
                match (&mut spsc, &mpsc) {
                    (Some(producer), _) if send => producer.try_send(&payload),
                    (Some(producer), _) => producer.try_claim(len).map(|claim| claim.commit()),
                    (_, Some(producer)) if send => producer.try_send(&payload),
                    (_, Some(producer)) => producer.try_claim(len).map(|claim| claim.commit()),
                    _ => unreachable!(),
                }
            };
            let (tail, head) = fill_then_damage(&path, damage, |payload| {
                match try_claim(payload.len(), true) {
                    Ok(()) => true,
                    Err(ClaimError::Full) => false,
                    Err(error) => panic!("{what}: filling: {error}"),
                }
            });
            let max = ring.max_record_len();
            for round in 0..3 {
                for (len, send) in [(8, false), (0, false), (8, true)] {
                    match try_claim(len, send) {
                        Err(ClaimError::Corrupt(corrupt)) => {
                            assert_impossible(corrupt, tail, head, &what);
                        }
                        other => panic!("{what}, round {round}: {len} bytes: {other:?}"),
                    }
                }
                assert_eq!(
                    try_claim(max + 1, false),
                    Err(ClaimError::TooLarge { len: max + 1, max }),
                    "{what}"
                );
            }
            assert_eq!(
                ring.full_rejections(),
                1,
                "{what}: the fill's last refusal only"
            );
        }
    }
}

/// The same for the channel's senders: `claim` returns
/// `SendError::Corrupt` at once (it spins only on `Full`), and so do
/// `try_claim`, `send` and `try_send`.
#[test]
fn a_channel_sender_facing_impossible_positions_reports_corruption() {
    use logring::channel::{SendError, SpinPolicy};
    for mode in [Mode::Spsc, Mode::Mpsc] {
        for damage in [Damage::Behind, Damage::Ahead] {
            let what = format!("{mode}, head {damage:?}");
            let path = lapped_ring("impossible-channel", mode);
            let ring = open(&path);
            let _receiver = ring.receiver().unwrap();
            let mut spsc = (mode == Mode::Spsc).then(|| ring.spsc_sender().unwrap());
            let mut mpsc = (mode == Mode::Mpsc).then(|| ring.mpsc_sender().unwrap());
            // A budget so long that a sender spinning on what it took for a
            // full ring would outlast the test's patience.
            let policy = SpinPolicy::new(u32::MAX, u32::MAX);
            if let Some(sender) = &mut spsc {
                sender.set_spin_policy(policy);
            }
            if let Some(sender) = &mut mpsc {
                sender.set_spin_policy(policy);
            }
            // 0: claim, 1: try_claim, 2: send, 3: try_send.
            let mut call = |how: u8, payload: &[u8]| -> Result<(), SendError> {
                let len = payload.len();
                match (&mut spsc, &mpsc) {
                    (Some(sender), _) => match how {
                        0 => sender.claim(len).map(|claim| claim.commit()),
                        1 => sender.try_claim(len).map(|claim| claim.commit()),
                        2 => sender.send(payload),
                        _ => sender.try_send(payload),
                    },
                    (_, Some(sender)) => match how {
                        0 => sender.claim(len).map(|claim| claim.commit()),
                        1 => sender.try_claim(len).map(|claim| claim.commit()),
                        2 => sender.send(payload),
                        _ => sender.try_send(payload),
                    },
                    _ => unreachable!(),
                }
            };
            let (tail, head) = fill_then_damage(&path, damage, |payload| match call(3, payload) {
                Ok(()) => true,
                Err(SendError::Full) => false,
                Err(error) => panic!("{what}: filling: {error}"),
            });
            for how in 0..4 {
                match call(how, &[1; 8]) {
                    Err(SendError::Corrupt(corrupt)) => {
                        assert_impossible(corrupt, tail, head, &what);
                    }
                    other => panic!("{what}: call {how}: {other:?}"),
                }
            }
            assert_eq!(
                ring.full_rejections(),
                1,
                "{what}: the fill's last refusal only"
            );
        }
    }
}
