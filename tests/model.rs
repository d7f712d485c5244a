//! Model-based tests: random operation sequences run against both queues and
//! against a model that keeps the records in a `VecDeque` and mirrors the
//! ring's space accounting. The model predicts every result: where each claim
//! lands or why it is refused (`Full`, `TooLarge`), every record read (bytes,
//! tag, position), and the bytes in use after each step.
//!
//! Capacities are tiny so that wrap padding and `Full` come up constantly.

use std::collections::VecDeque;

use logring::queue::{
    ClaimError, Consumer, ReadClaim, Record, TryRecvError, WriteClaim, mpsc, spsc,
};
use proptest::prelude::*;

const CAPACITIES: [usize; 3] = [64, 128, 256];
/// Claims an MPSC case may hold open at once.
const MAX_OPEN: usize = 3;

/// Bytes a record of `len` payload bytes occupies: its word, the payload, and
/// zero fill to a multiple of eight.
fn span_of(len: usize) -> u64 {
    (8 + len as u64).next_multiple_of(8)
}

/// A pseudo-random payload, so stale or misplaced bytes do not go unnoticed.
fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// A record as the consumer hands it out: position, bytes, tag.
type Delivered = (u64, Vec<u8>, u32);

fn delivered_claim(record: &ReadClaim<'_>) -> Delivered {
    (record.position(), record.to_vec(), record.tag())
}

fn delivered_record(record: Record<'_>) -> Delivered {
    (record.position(), record.to_vec(), record.tag())
}

#[derive(Debug)]
enum Slot {
    /// Space the consumer skips: wrap fill, an aborted claim, or the remainder
    /// of a truncated one.
    Padding,
    /// A claim neither committed nor aborted yet, by model id.
    Open(u64),
    Record {
        bytes: Vec<u8>,
        tag: u32,
    },
}

#[derive(Debug)]
struct Entry {
    pos: u64,
    span: u64,
    slot: Slot,
}

/// The queue as a list of records and the ring's byte accounting.
#[derive(Debug)]
struct Model {
    capacity: u64,
    max_len: usize,
    /// The position the consumer has released: space below it is free.
    head: u64,
    tail: u64,
    /// Everything in `[head, tail)`, in position order.
    entries: VecDeque<Entry>,
    full_rejections: u64,
    next_id: u64,
}

impl Model {
    fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity as u64,
            max_len: capacity / 2 - 8,
            head: 0,
            tail: 0,
            entries: VecDeque::new(),
            full_rejections: 0,
            next_id: 0,
        }
    }

    fn len_bytes(&self) -> usize {
        (self.tail - self.head) as usize
    }

    /// A claim of `len` bytes: its id and position, or why it is refused.
    fn claim(&mut self, len: usize) -> Result<(u64, u64), ClaimError> {
        if len > self.max_len {
            return Err(ClaimError::TooLarge {
                len,
                max: self.max_len,
            });
        }
        let span = span_of(len);
        let room = self.capacity - self.tail % self.capacity;
        let padding = if span <= room { 0 } else { room };
        if self.tail - self.head + padding + span > self.capacity {
            self.full_rejections += 1;
            return Err(ClaimError::Full);
        }
        if padding != 0 {
            self.push(padding, Slot::Padding);
        }
        let id = self.next_id;
        self.next_id += 1;
        let pos = self.push(span, Slot::Open(id));
        Ok((id, pos))
    }

    fn push(&mut self, span: u64, slot: Slot) -> u64 {
        let pos = self.tail;
        self.entries.push_back(Entry { pos, span, slot });
        self.tail += span;
        pos
    }

    fn open_index(&self, id: u64) -> usize {
        self.entries
            .iter()
            .position(|entry| matches!(entry.slot, Slot::Open(open) if open == id))
            .expect("the claim is open in the model")
    }

    /// Commits claim `id` with `bytes` (possibly shorter than claimed: the
    /// rest of its span becomes padding).
    fn commit(&mut self, id: u64, bytes: Vec<u8>, tag: u32) {
        let index = self.open_index(id);
        let entry = &mut self.entries[index];
        let span = span_of(bytes.len());
        let rest = entry.span - span;
        let rest_pos = entry.pos + span;
        entry.span = span;
        entry.slot = Slot::Record { bytes, tag };
        if rest != 0 {
            self.entries.insert(
                index + 1,
                Entry {
                    pos: rest_pos,
                    span: rest,
                    slot: Slot::Padding,
                },
            );
        }
    }

    fn abort(&mut self, id: u64) {
        let index = self.open_index(id);
        self.entries[index].slot = Slot::Padding;
    }

    /// `try_recv`: skips padding, then takes the first record if it is
    /// committed. Either way the consumer releases what it passed.
    fn try_recv(&mut self) -> Result<Delivered, TryRecvError> {
        while let Some(Entry {
            slot: Slot::Padding,
            ..
        }) = self.entries.front()
        {
            let entry = self.entries.pop_front().unwrap();
            self.head = entry.pos + entry.span;
        }
        if !matches!(
            self.entries.front().map(|entry| &entry.slot),
            Some(Slot::Record { .. })
        ) {
            return Err(TryRecvError::Empty);
        }
        let entry = self.entries.pop_front().unwrap();
        self.head = entry.pos + entry.span;
        let Slot::Record { bytes, tag } = entry.slot else {
            unreachable!()
        };
        Ok((entry.pos, bytes, tag))
    }

    /// `try_recv_batch(limit)`: reads until `limit` records or the first
    /// record not ready; `Empty` if there was none (and `limit` is not 0).
    /// Padding after the last record is passed only if the batch looked past
    /// it, i.e. stopped before reaching its limit.
    fn try_recv_batch(&mut self, limit: usize) -> Result<Vec<Delivered>, TryRecvError> {
        let mut records = Vec::new();
        while records.len() < limit {
            match self.try_recv() {
                Ok(record) => records.push(record),
                Err(_) => break,
            }
        }
        if records.is_empty() && limit != 0 {
            return Err(TryRecvError::Empty);
        }
        Ok(records)
    }
}

#[derive(Clone, Copy, Debug)]
enum End {
    Commit,
    /// Truncate to this length (no effect if not shorter), then commit.
    Truncate(usize),
    Abort,
    /// Drop the claim without committing: the same as aborting.
    Drop,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    /// Claim, fill, tag, then end the claim at once.
    Claim {
        len: usize,
        tag: u32,
        seed: u64,
        end: End,
    },
    /// `try_send`: claim, copy and commit in one call.
    Send { len: usize, seed: u64 },
    /// `try_recv`.
    Recv,
    /// `try_recv_batch`.
    RecvBatch { limit: usize },
    /// Read a record and claim while still holding it: its space is released
    /// only when the read claim drops.
    RecvHolding { len: usize, seed: u64 },
    /// Open a claim. MPSC keeps it open (up to `MAX_OPEN`) until a `Finish`;
    /// SPSC, whose claim borrows the producer, does `reads` consumer reads
    /// while it is open and then ends it with `end`.
    Open {
        len: usize,
        tag: u32,
        seed: u64,
        reads: u8,
        end: End,
    },
    /// MPSC: end the open claim at `which % open`. SPSC ignores it.
    Finish { which: usize, end: End },
}

/// The observers every handle has.
trait Observe {
    fn len_bytes(&self) -> usize;
    fn is_empty(&self) -> bool;
    fn full_rejections(&self) -> u64;
    fn capacity(&self) -> usize;
    fn max_record_len(&self) -> usize;
}

macro_rules! observe {
    ($($handle:ty),*) => {$(
        impl Observe for $handle {
            fn len_bytes(&self) -> usize {
                <$handle>::len_bytes(self)
            }
            fn is_empty(&self) -> bool {
                <$handle>::is_empty(self)
            }
            fn full_rejections(&self) -> u64 {
                <$handle>::full_rejections(self)
            }
            fn capacity(&self) -> usize {
                <$handle>::capacity(self)
            }
            fn max_record_len(&self) -> usize {
                <$handle>::max_record_len(self)
            }
        }
    )*};
}
observe!(spsc::Producer, mpsc::Producer, Consumer);

/// Claiming, over both producer types (`&mpsc::Producer` claims through a
/// shared reference, so MPSC claims can stay open while it claims again).
trait Claim: Observe {
    fn claim(&mut self, len: usize) -> Result<WriteClaim<'_>, ClaimError>;
    fn send(&mut self, payload: &[u8]) -> Result<(), ClaimError>;
}

impl Claim for spsc::Producer {
    fn claim(&mut self, len: usize) -> Result<WriteClaim<'_>, ClaimError> {
        self.try_claim(len)
    }
    fn send(&mut self, payload: &[u8]) -> Result<(), ClaimError> {
        self.try_send(payload)
    }
}

impl Observe for &mpsc::Producer {
    fn len_bytes(&self) -> usize {
        (**self).len_bytes()
    }
    fn is_empty(&self) -> bool {
        (**self).is_empty()
    }
    fn full_rejections(&self) -> u64 {
        (**self).full_rejections()
    }
    fn capacity(&self) -> usize {
        (**self).capacity()
    }
    fn max_record_len(&self) -> usize {
        (**self).max_record_len()
    }
}

impl Claim for &mpsc::Producer {
    fn claim(&mut self, len: usize) -> Result<WriteClaim<'_>, ClaimError> {
        self.try_claim(len)
    }
    fn send(&mut self, payload: &[u8]) -> Result<(), ClaimError> {
        self.try_send(payload)
    }
}

fn check_geometry(model: &Model, handle: &impl Observe) {
    assert_eq!(handle.capacity() as u64, model.capacity);
    assert_eq!(handle.max_record_len(), model.max_len);
}

fn check_usage(model: &Model, handle: &impl Observe) {
    assert_eq!(handle.len_bytes(), model.len_bytes(), "len_bytes");
    assert_eq!(handle.is_empty(), model.len_bytes() == 0, "is_empty");
    assert_eq!(
        handle.full_rejections(),
        model.full_rejections,
        "full_rejections"
    );
}

/// Checks a claim's outcome against the model; on success returns the claim
/// with its model id.
fn expect_claim<'a>(
    model: &mut Model,
    len: usize,
    result: Result<WriteClaim<'a>, ClaimError>,
) -> Option<(u64, WriteClaim<'a>)> {
    match (model.claim(len), result) {
        (Ok((id, pos)), Ok(claim)) => {
            assert_eq!(claim.position(), pos, "claim position");
            assert_eq!(claim.len(), len);
            assert_eq!(claim.tag(), 0, "a new claim's tag");
            Some((id, claim))
        }
        (Err(expected), Err(got)) => {
            assert_eq!(got, expected, "claim of {len} bytes");
            None
        }
        (expected, got) => panic!("claim of {len} bytes: model says {expected:?}, got {got:?}"),
    }
}

fn end_claim(model: &mut Model, mut claim: WriteClaim<'_>, id: u64, tag: u32, seed: u64, end: End) {
    let bytes = payload(claim.len(), seed);
    claim.copy_from_slice(&bytes);
    // A reserved tag is refused, and the claim keeps its tag (0).
    let tag = match claim.set_tag(tag) {
        Ok(()) => tag,
        Err(reserved) => {
            assert!(logring::ReservedTag::RANGE.contains(&tag), "{reserved}");
            assert_eq!(reserved.tag(), tag);
            0
        }
    };
    assert_eq!(claim.tag(), tag);
    match end {
        End::Commit => {
            claim.commit();
            model.commit(id, bytes, tag);
        }
        End::Truncate(len) => {
            claim.truncate(len);
            let kept = len.min(bytes.len());
            assert_eq!(&*claim, &bytes[..kept], "truncate keeps the first bytes");
            claim.commit();
            model.commit(id, bytes[..kept].to_vec(), tag);
        }
        End::Abort => {
            claim.abort();
            model.abort(id);
        }
        End::Drop => {
            drop(claim);
            model.abort(id);
        }
    }
}

fn claim_now(
    model: &mut Model,
    producer: &mut impl Claim,
    len: usize,
    tag: u32,
    seed: u64,
    end: End,
) {
    let result = producer.claim(len);
    if let Some((id, claim)) = expect_claim(model, len, result) {
        end_claim(model, claim, id, tag, seed, end);
    }
}

fn send_now(model: &mut Model, producer: &mut impl Claim, len: usize, seed: u64) {
    let bytes = payload(len, seed);
    let got = producer.send(&bytes);
    match model.claim(len) {
        Ok((id, _)) => {
            assert_eq!(got, Ok(()), "try_send of {len} bytes");
            model.commit(id, bytes, 0);
        }
        Err(expected) => assert_eq!(got, Err(expected), "try_send of {len} bytes"),
    }
}

fn recv(model: &mut Model, consumer: &mut Consumer) {
    let expected = model.try_recv();
    let got = consumer.try_recv().map(|record| delivered_claim(&record));
    assert_eq!(got, expected, "try_recv");
}

fn recv_batch(model: &mut Model, consumer: &mut Consumer, limit: usize) {
    let expected = model.try_recv_batch(limit);
    let mut got = Vec::new();
    // No more records than the ring can hold at once: a consumer that
    // laps itself inside a batch would otherwise loop forever.
    let most = (model.capacity / 8) as usize;
    let count = consumer.try_recv_batch(limit, |record| {
        assert!(
            got.len() < most,
            "try_recv_batch delivered more than the ring holds: {got:?}"
        );
        got.push(delivered_record(record));
    });
    assert_eq!(
        count,
        expected.as_ref().map(Vec::len).map_err(|error| *error),
        "try_recv_batch({limit})'s count"
    );
    assert_eq!(got, expected.unwrap_or_default(), "try_recv_batch({limit})");
}

fn recv_holding(
    model: &mut Model,
    producer: &mut impl Claim,
    consumer: &mut Consumer,
    len: usize,
    seed: u64,
) {
    let unreleased = model.head;
    let expected = model.try_recv();
    let held = consumer.try_recv();
    assert_eq!(
        held.as_ref().map(delivered_claim).map_err(|error| *error),
        expected,
        "try_recv"
    );
    if held.is_err() {
        return;
    }
    let released = std::mem::replace(&mut model.head, unreleased);
    claim_now(model, producer, len, 0, seed, End::Commit);
    check_usage(model, &*producer);
    drop(held);
    model.head = released;
}

/// Reads everything left; the ring must end up empty.
fn drain(model: &mut Model, consumer: &mut Consumer) {
    loop {
        let expected = model.try_recv();
        let got = consumer.try_recv().map(|record| delivered_claim(&record));
        assert_eq!(got, expected, "draining try_recv");
        if got.is_err() {
            break;
        }
    }
    assert!(
        model.entries.is_empty(),
        "left in the model: {:?}",
        model.entries
    );
    check_usage(model, consumer);
    assert!(consumer.is_empty());
}

fn run_spsc(capacity: usize, ops: &[Op]) {
    let (mut producer, mut consumer) = spsc::new(capacity).unwrap();
    let mut model = Model::new(capacity);
    check_geometry(&model, &producer);
    check_geometry(&model, &consumer);
    for op in ops {
        match *op {
            Op::Claim {
                len,
                tag,
                seed,
                end,
            } => claim_now(&mut model, &mut producer, len, tag, seed, end),
            Op::Send { len, seed } => send_now(&mut model, &mut producer, len, seed),
            Op::Recv => recv(&mut model, &mut consumer),
            Op::RecvBatch { limit } => recv_batch(&mut model, &mut consumer, limit),
            Op::RecvHolding { len, seed } => {
                recv_holding(&mut model, &mut producer, &mut consumer, len, seed);
            }
            Op::Open {
                len,
                tag,
                seed,
                reads,
                end,
            } => {
                let result = producer.try_claim(len);
                if let Some((id, claim)) = expect_claim(&mut model, len, result) {
                    for i in 0..reads {
                        if i % 2 == 0 {
                            recv(&mut model, &mut consumer);
                        } else {
                            recv_batch(&mut model, &mut consumer, usize::MAX);
                        }
                        check_usage(&model, &consumer);
                    }
                    end_claim(&mut model, claim, id, tag, seed, end);
                }
            }
            Op::Finish { .. } => {}
        }
        check_usage(&model, &producer);
        check_usage(&model, &consumer);
    }
    drain(&mut model, &mut consumer);
    check_usage(&model, &producer);
}

fn run_mpsc(capacity: usize, ops: &[Op]) {
    let (producer, mut consumer) = mpsc::new(capacity).unwrap();
    // Two handles: each caches its own view of head, which must not change
    // any outcome.
    let handles = [producer.clone(), producer];
    let mut model = Model::new(capacity);
    check_geometry(&model, &handles[1]);
    check_geometry(&model, &consumer);
    let mut open: Vec<(u64, WriteClaim<'_>, u32, u64)> = Vec::new();
    for op in ops {
        match *op {
            Op::Claim {
                len,
                tag,
                seed,
                end,
            } => {
                let mut handle = &handles[seed as usize % 2];
                claim_now(&mut model, &mut handle, len, tag, seed, end);
            }
            Op::Send { len, seed } => {
                send_now(&mut model, &mut &handles[seed as usize % 2], len, seed);
            }
            Op::Recv => recv(&mut model, &mut consumer),
            Op::RecvBatch { limit } => recv_batch(&mut model, &mut consumer, limit),
            Op::RecvHolding { len, seed } => {
                let mut handle = &handles[seed as usize % 2];
                recv_holding(&mut model, &mut handle, &mut consumer, len, seed);
            }
            Op::Open { len, tag, seed, .. } => {
                if open.len() < MAX_OPEN {
                    let result = handles[seed as usize % 2].try_claim(len);
                    if let Some((id, claim)) = expect_claim(&mut model, len, result) {
                        open.push((id, claim, tag, seed));
                    }
                }
            }
            Op::Finish { which, end } => {
                if !open.is_empty() {
                    let (id, claim, tag, seed) = open.remove(which % open.len());
                    end_claim(&mut model, claim, id, tag, seed, end);
                }
            }
        }
        for handle in &handles {
            check_usage(&model, handle);
        }
        check_usage(&model, &consumer);
    }
    for (id, claim, tag, seed) in open.drain(..) {
        end_claim(&mut model, claim, id, tag, seed, End::Commit);
    }
    drain(&mut model, &mut consumer);
    check_usage(&model, &handles[0]);
}

fn op(max_len: usize) -> impl Strategy<Value = Op> {
    // Mostly lengths that fit; now and then one that never can.
    let claim_len = prop_oneof![
        16 => 0..=max_len,
        1 => (max_len + 1)..=(max_len + 16),
        1 => Just(usize::MAX),
    ];
    let send_len = prop_oneof![12 => 0..=max_len, 1 => (max_len + 1)..=(max_len + 16)];
    // Now and then a tag the claims refuse (logring's own).
    let tag = prop_oneof![8 => any::<u32>(), 1 => logring::ReservedTag::RANGE];
    let end = prop_oneof![
        4 => Just(End::Commit),
        2 => (0..=max_len + 8).prop_map(End::Truncate),
        1 => Just(End::Abort),
        1 => Just(End::Drop),
    ];
    prop_oneof![
        6 => (claim_len.clone(), tag, any::<u64>(), end.clone())
            .prop_map(|(len, tag, seed, end)| Op::Claim { len, tag, seed, end }),
        3 => (send_len, any::<u64>()).prop_map(|(len, seed)| Op::Send { len, seed }),
        6 => Just(Op::Recv),
        2 => prop_oneof![0..=4usize, Just(usize::MAX)].prop_map(|limit| Op::RecvBatch { limit }),
        1 => (0..=max_len, any::<u64>()).prop_map(|(len, seed)| Op::RecvHolding { len, seed }),
        4 => (claim_len, any::<u32>(), any::<u64>(), 0..=3u8, end.clone()).prop_map(
            |(len, tag, seed, reads, end)| Op::Open { len, tag, seed, reads, end }
        ),
        3 => (any::<usize>(), end).prop_map(|(which, end)| Op::Finish { which, end }),
    ]
}

fn scenario() -> impl Strategy<Value = (usize, Vec<Op>)> {
    let max_ops = if cfg!(miri) { 48 } else { 200 };
    prop::sample::select(CAPACITIES.as_slice()).prop_flat_map(move |capacity| {
        (
            Just(capacity),
            prop::collection::vec(op(capacity / 2 - 8), 1..=max_ops),
        )
    })
}

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 256 });
    if cfg!(miri) {
        // The interpreter has no file system access to record regressions.
        config.failure_persistence = None;
    }
    config
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn spsc_matches_the_model((capacity, ops) in scenario()) {
        run_spsc(capacity, &ops);
    }

    #[test]
    fn mpsc_matches_the_model((capacity, ops) in scenario()) {
        run_mpsc(capacity, &ops);
    }
}
