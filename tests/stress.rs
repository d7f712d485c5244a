//! Multi-threaded stress: producers and a consumer on their own threads, a
//! small ring that wraps and fills constantly, and every byte of every record
//! checked against what its sequence number says it must be.

mod common;
use common::{check, fill, mix};

use std::hint;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use logring::queue::{ClaimError, Consumer, TryRecvError, WriteClaim, mpsc, spsc};

/// Small enough that the ring is full most of the time.
const RING: usize = 4096;
const MAX_LEN: usize = 300;

fn scaled(records: u64) -> u64 {
    if cfg!(miri) { 200 } else { records }
}

/// Waits a little, more patiently the longer it has waited: the threads here
/// outnumber the cores, so spinning alone could starve the thread it waits on.
struct Backoff(u32);

impl Backoff {
    fn new() -> Self {
        Self(0)
    }

    fn wait(&mut self) {
        if self.0 < 16 && !cfg!(miri) {
            hint::spin_loop();
            self.0 += 1;
        } else {
            thread::yield_now();
        }
    }
}

// SPSC: one record per sequence number, all delivered in order.

fn spsc_len(seq: u64) -> usize {
    (mix(seq ^ 0x5eed) % (MAX_LEN as u64 + 1)) as usize
}

/// Every third record goes through `try_send`, which leaves the tag at 0.
fn spsc_tag(seq: u64) -> u32 {
    if seq % 3 == 0 { 0 } else { seq as u32 }
}

fn spsc_produce(mut producer: spsc::Producer, records: u64) {
    let mut scratch = [0u8; MAX_LEN];
    for seq in 0..records {
        let len = spsc_len(seq);
        let mut backoff = Backoff::new();
        if seq % 3 == 0 {
            let payload = &mut scratch[..len];
            fill(seq, payload);
            while let Err(err) = producer.try_send(payload) {
                assert_eq!(err, ClaimError::Full);
                backoff.wait();
            }
        } else {
            let mut claim = loop {
                match producer.try_claim(len) {
                    Ok(claim) => break claim,
                    Err(err) => assert_eq!(err, ClaimError::Full),
                }
                backoff.wait();
            };
            fill(seq, &mut claim);
            claim.set_tag(spsc_tag(seq)).unwrap();
            claim.commit();
        }
    }
}

/// What the SPSC consumer checks about each record it sees.
struct SpscCheck {
    next_seq: u64,
    next_min_pos: u64,
}

impl SpscCheck {
    fn record(&mut self, bytes: &[u8], tag: u32, position: u64) {
        let seq = self.next_seq;
        assert_eq!(bytes.len(), spsc_len(seq), "record {seq}: length");
        assert_eq!(tag, spsc_tag(seq), "record {seq}: tag");
        assert!(
            position >= self.next_min_pos && position % 8 == 0,
            "record {seq} at {position}, expected an 8-aligned position from {}",
            self.next_min_pos
        );
        check(seq, bytes);
        self.next_seq += 1;
        self.next_min_pos = position + 8 + bytes.len() as u64;
    }
}

/// Whether a receive delivered (`Ok`) or found nothing ready; any other
/// outcome fails the test.
fn progressed(received: Result<(), TryRecvError>) -> bool {
    match received {
        Ok(()) => true,
        Err(TryRecvError::Empty) => false,
        Err(error) => panic!("an intact ring: {error}"),
    }
}

fn spsc_consume(consumer: &mut Consumer, records: u64) {
    let mut state = SpscCheck {
        next_seq: 0,
        next_min_pos: 0,
    };
    let mut backoff = Backoff::new();
    let mut round = 0u64;
    while state.next_seq < records {
        round += 1;
        let progressed = if round % 3 == 0 {
            let read = consumer.try_recv_batch(1 + (round % 50) as usize, |record| {
                state.record(&record, record.tag(), record.position());
            });
            progressed(read.map(|count| assert!(count > 0, "Ok(0) for a limit above 0")))
        } else {
            progressed(
                consumer
                    .try_recv()
                    .map(|record| state.record(&record, record.tag(), record.position())),
            )
        };
        if progressed {
            backoff = Backoff::new();
        } else {
            backoff.wait();
        }
    }
}

#[test]
fn spsc_delivers_every_byte_in_order() {
    let records = scaled(1_000_000);
    let (producer, mut consumer) = spsc::new(RING).unwrap();
    let producing = thread::spawn(move || spsc_produce(producer, records));
    spsc_consume(&mut consumer, records);
    producing.join().unwrap();
    assert_eq!(
        consumer.try_recv().err(),
        Some(TryRecvError::Empty),
        "nothing beyond the last record"
    );
    assert!(consumer.is_empty());
    assert_eq!(consumer.corruption(), None);
}

// MPSC: each record carries (producer, seq); the rest of its bytes, its length
// and its tag are functions of those two.

const PRODUCERS: u32 = 4;
/// Bytes 0..4 hold the producer id, 4..8 the sequence number.
const KEY_LEN: usize = 8;

fn key(producer: u32, seq: u32) -> u64 {
    (u64::from(producer) << 32) | u64::from(seq)
}

fn mpsc_len(key: u64) -> usize {
    KEY_LEN + (mix(key ^ 0x1e57) % (MAX_LEN - KEY_LEN + 1) as u64) as usize
}

fn mpsc_tag(key: u64) -> u32 {
    // Below the tags logring keeps for its own records.
    ((mix(key) >> 32) as u32) % *logring::ReservedTag::RANGE.start()
}

/// What a producer does with record `key` in the churn test.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fate {
    Commit,
    /// Committed at this shorter length (at least the key).
    Truncate(usize),
    /// Aborted (explicitly or by dropping the claim): never delivered.
    Abort,
}

fn fate(key: u64, churn: bool) -> Fate {
    if !churn {
        return Fate::Commit;
    }
    let roll = mix(key ^ 0xfa7e);
    let len = mpsc_len(key);
    match roll % 8 {
        0 => Fate::Abort,
        1 | 2 => Fate::Truncate(KEY_LEN + (roll >> 8) as usize % (len - KEY_LEN + 1)),
        _ => Fate::Commit,
    }
}

/// Waits to retry a claim the ring had no room for; panics once the
/// consumer has given up (`abandoned`), which no room would come after.
fn wait_for_room(backoff: &mut Backoff, abandoned: &AtomicBool) {
    assert!(
        !abandoned.load(Ordering::Relaxed),
        "the consumer gave up on this run"
    );
    backoff.wait();
}

fn claim_with_backoff<'p>(
    producer: &'p mpsc::Producer,
    len: usize,
    abandoned: &AtomicBool,
) -> WriteClaim<'p> {
    let mut backoff = Backoff::new();
    loop {
        match producer.try_claim(len) {
            Ok(claim) => return claim,
            Err(err) => assert_eq!(err, ClaimError::Full),
        }
        wait_for_room(&mut backoff, abandoned);
    }
}

fn finish(mut claim: WriteClaim<'_>, key: u64, churn: bool) {
    let mut header = [0u8; KEY_LEN];
    header[..4].copy_from_slice(&((key >> 32) as u32).to_le_bytes());
    header[4..].copy_from_slice(&(key as u32).to_le_bytes());
    claim[..KEY_LEN].copy_from_slice(&header);
    fill(key, &mut claim[KEY_LEN..]);
    claim.set_tag(mpsc_tag(key)).unwrap();
    match fate(key, churn) {
        Fate::Commit => claim.commit(),
        Fate::Truncate(len) => {
            claim.truncate(len);
            claim.commit();
        }
        Fate::Abort if key % 2 == 0 => claim.abort(),
        Fate::Abort => drop(claim),
    }
}

/// Produces `records` records. Some are written with `try_send`; in the churn
/// test some pairs are claimed together and committed in reverse order.
fn mpsc_produce(
    producer: &mpsc::Producer,
    id: u32,
    records: u32,
    churn: bool,
    abandoned: &AtomicBool,
) {
    let mut scratch = [0u8; MAX_LEN];
    let mut seq = 0;
    while seq < records {
        let first = key(id, seq);
        let roll = mix(first ^ 0x9a1d);
        if !churn && roll % 4 == 0 {
            let payload = &mut scratch[..mpsc_len(first)];
            payload[..4].copy_from_slice(&id.to_le_bytes());
            payload[4..KEY_LEN].copy_from_slice(&seq.to_le_bytes());
            fill(first, &mut payload[KEY_LEN..]);
            let mut backoff = Backoff::new();
            while let Err(err) = producer.try_send(payload) {
                assert_eq!(err, ClaimError::Full);
                wait_for_room(&mut backoff, abandoned);
            }
            seq += 1;
            continue;
        }
        let claim = claim_with_backoff(producer, mpsc_len(first), abandoned);
        if churn && roll % 4 == 0 && seq + 1 < records {
            let second = key(id, seq + 1);
            // The consumer stops at our first claim until it is finished, so
            // waiting for room while holding it could wait forever: if the
            // ring is full, finish the first claim before claiming again.
            match producer.try_claim(mpsc_len(second)) {
                Ok(next) => {
                    finish(next, second, churn);
                    finish(claim, first, churn);
                }
                Err(err) => {
                    assert_eq!(err, ClaimError::Full);
                    finish(claim, first, churn);
                    finish(
                        claim_with_backoff(producer, mpsc_len(second), abandoned),
                        second,
                        churn,
                    );
                }
            }
            seq += 2;
        } else {
            finish(claim, first, churn);
            seq += 1;
        }
    }
}

/// What the MPSC consumer checks: per producer, the next sequence number it
/// may deliver.
struct MpscCheck {
    next: Vec<u32>,
    records: u32,
    churn: bool,
    delivered: u64,
}

impl MpscCheck {
    /// The next sequence number of `id` that is not aborted.
    fn expected(&self, id: u32) -> u32 {
        let mut seq = self.next[id as usize];
        while seq < self.records && fate(key(id, seq), self.churn) == Fate::Abort {
            seq += 1;
        }
        seq
    }

    fn done(&self) -> bool {
        (0..PRODUCERS).all(|id| self.expected(id) == self.records)
    }

    fn record(&mut self, bytes: &[u8], tag: u32) {
        assert!(bytes.len() >= KEY_LEN, "record of {} bytes", bytes.len());
        let id = u32::from_le_bytes(bytes[..4].try_into().unwrap());
        let seq = u32::from_le_bytes(bytes[4..KEY_LEN].try_into().unwrap());
        assert!(id < PRODUCERS, "producer id {id}");
        assert_eq!(seq, self.expected(id), "producer {id}: sequence");
        let key = key(id, seq);
        let len = match fate(key, self.churn) {
            Fate::Truncate(len) => len,
            _ => mpsc_len(key),
        };
        assert_eq!(bytes.len(), len, "record {key:#x}: length");
        // `try_send` sets no tag.
        let written = !self.churn && mix(key ^ 0x9a1d) % 4 == 0;
        let tag_expected = if written { 0 } else { mpsc_tag(key) };
        assert_eq!(tag, tag_expected, "record {key:#x}: tag");
        check(key, &bytes[KEY_LEN..]);
        self.next[id as usize] = seq + 1;
        self.delivered += 1;
    }
}

/// How the producing threads hold the queue's producer.
#[derive(Clone, Copy, PartialEq)]
enum Handles {
    /// Each thread its own clone, with its own cached head.
    Clones,
    /// One producer, shared by reference (it is `Sync`): its cached head is
    /// read and written by every thread.
    Shared,
}

fn mpsc_run(records_per_producer: u64, churn: bool, handles: Handles) {
    let records = scaled(records_per_producer * u64::from(PRODUCERS)) / u64::from(PRODUCERS);
    let records = u32::try_from(records).unwrap();
    let (producer, mut consumer) = mpsc::new(RING).unwrap();
    let abandoned = AtomicBool::new(false);
    thread::scope(|scope| {
        let abandoned = &abandoned;
        let mut producing: Vec<_> = (0..PRODUCERS)
            .map(|id| {
                Some(match handles {
                    Handles::Clones => {
                        let producer = producer.clone();
                        scope.spawn(move || {
                            mpsc_produce(&producer, id, records, churn, abandoned);
                        })
                    }
                    Handles::Shared => {
                        let producer = &producer;
                        scope.spawn(move || {
                            mpsc_produce(producer, id, records, churn, abandoned);
                        })
                    }
                })
            })
            .collect();
        // A producer that panicked would leave the consumer waiting for its
        // records for ever: fail with its panic instead, and have the other
        // producers stop waiting for room.
        let check_producers = || {
            for handle in &mut producing {
                if handle.as_ref().is_some_and(|handle| handle.is_finished()) {
                    if let Err(panic) = handle.take().unwrap().join() {
                        abandoned.store(true, Ordering::Relaxed);
                        std::panic::resume_unwind(panic);
                    }
                }
            }
        };
        mpsc_consume(&mut consumer, records, churn, check_producers);
    });
    assert_eq!(
        consumer.try_recv().err(),
        Some(TryRecvError::Empty),
        "nothing beyond the last record"
    );
    assert!(consumer.is_empty());
    assert_eq!(consumer.corruption(), None);
}

/// Consumes until every producer's last record was delivered, each exactly
/// once and in its producer's order; calls `check_producers` whenever
/// nothing was ready.
fn mpsc_consume(
    consumer: &mut Consumer,
    records: u32,
    churn: bool,
    mut check_producers: impl FnMut(),
) {
    let mut state = MpscCheck {
        next: vec![0; PRODUCERS as usize],
        records,
        churn,
        delivered: 0,
    };
    let mut backoff = Backoff::new();
    let mut round = 0u64;
    while !state.done() {
        round += 1;
        let progressed = if round % 2 == 0 {
            let read = consumer.try_recv_batch(1 + (round % 64) as usize, |record| {
                state.record(&record, record.tag());
            });
            progressed(read.map(|count| assert!(count > 0, "Ok(0) for a limit above 0")))
        } else {
            progressed(
                consumer
                    .try_recv()
                    .map(|record| state.record(&record, record.tag())),
            )
        };
        if progressed {
            backoff = Backoff::new();
        } else {
            check_producers();
            backoff.wait();
        }
    }
    if !churn {
        assert_eq!(state.delivered, u64::from(records) * u64::from(PRODUCERS));
    }
}

#[test]
fn mpsc_delivers_every_byte_in_per_producer_order() {
    mpsc_run(250_000, false, Handles::Clones);
}

#[test]
fn mpsc_skips_aborted_and_shortens_truncated_claims() {
    mpsc_run(100_000, true, Handles::Clones);
}

#[test]
fn mpsc_producer_shared_by_reference_delivers_every_record_once() {
    mpsc_run(100_000, false, Handles::Shared);
}

#[test]
fn mpsc_producer_shared_by_reference_with_aborts_and_truncations() {
    mpsc_run(50_000, true, Handles::Shared);
}
