//! Model-based tests of retention: random sends, receives and consumer
//! restarts on a small ring file with a random retention, against a model
//! that mirrors the ring's positions. The model predicts every `Full`,
//! every record received, the published head after each step, and what a
//! spy opened at any moment reads: the records the consumer took and the
//! ring still retains, then those it has not taken, byte for byte.

#![cfg(all(target_os = "linux", feature = "mmap", not(miri)))]

use std::collections::VecDeque;

use logring::file::{Mode, Options, RingFile, RingSpy, Spied, SpyFrom};
use logring::queue::{ClaimError, Consumer, TryRecvError};
use proptest::prelude::*;

/// Bytes a record of `len` payload bytes occupies.
fn span_of(len: usize) -> u64 {
    (8 + len as u64).next_multiple_of(8)
}

#[derive(Clone, Debug)]
enum Op {
    /// Send a record of this many bytes (modulo the largest + 1).
    Send(usize),
    /// Receive one record, if one is there.
    Recv,
    /// Drop the consumer and attach a new one.
    Restart,
    /// Open a spy at the oldest record and read everything it sees.
    Spy,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..200).prop_map(Op::Send),
        3 => Just(Op::Recv),
        1 => Just(Op::Restart),
        1 => Just(Op::Spy),
    ]
}

/// What stands in the ring between the published head and the tail.
#[derive(Clone, Debug)]
struct Item {
    pos: u64,
    span: u64,
    /// `None` for wrap padding.
    bytes: Option<Vec<u8>>,
}

struct Model {
    capacity: u64,
    retain: u64,
    tail: u64,
    /// The published head: `items[0].pos`, or `tail` with no items.
    head: u64,
    items: VecDeque<Item>,
    /// Items taken by the consumer (at the front of `items`).
    taken: usize,
}

impl Model {
    fn send(&mut self, len: usize) -> Result<(), ClaimError> {
        let span = span_of(len);
        let room = self.capacity - self.tail % self.capacity;
        let padding = if room < span { room } else { 0 };
        if self.tail - self.head + padding + span > self.capacity {
            return Err(ClaimError::Full);
        }
        if padding != 0 {
            self.items.push_back(Item {
                pos: self.tail,
                span: padding,
                bytes: None,
            });
        }
        let pos = self.tail + padding;
        self.items.push_back(Item {
            pos,
            span,
            bytes: Some(payload(len, pos)),
        });
        self.tail = pos + span;
        Ok(())
    }

    /// The next record the consumer takes (skipping padding), and the
    /// release that follows it.
    fn recv(&mut self) -> Option<(u64, Vec<u8>)> {
        let mut found = None;
        while let Some(item) = self.items.get(self.taken) {
            self.taken += 1;
            if let Some(bytes) = &item.bytes {
                found = Some((item.pos, bytes.clone()));
                break;
            }
        }
        self.release();
        found
    }

    /// The consumer keeps at most `retain` bytes of what it took.
    fn release(&mut self) {
        let taken_end = match self.taken {
            0 => self.head,
            n => self.items[n - 1].pos + self.items[n - 1].span,
        };
        while self.taken > 0 && taken_end - self.items[0].pos > self.retain {
            let item = self.items.pop_front().unwrap();
            self.head = item.pos + item.span;
            self.taken -= 1;
        }
    }

    /// What a spy from the oldest record reads: every record from the head.
    fn spied(&self) -> Vec<(u64, Vec<u8>)> {
        self.items
            .iter()
            .filter_map(|item| Some((item.pos, item.bytes.clone()?)))
            .collect()
    }
}

/// A payload that says where it was written, so a record out of place
/// shows.
fn payload(len: usize, pos: u64) -> Vec<u8> {
    (0..len)
        .map(|i| (pos as usize * 7 + i * 13) as u8)
        .collect()
}

struct Temp(std::path::PathBuf);

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn run(mode: Mode, capacity: usize, retain: usize, ops: &[Op], case: u64) {
    let path = Temp(std::env::temp_dir().join(format!(
        "logring-retention-{}-{case}.ring",
        std::process::id()
    )));
    let _ = std::fs::remove_file(&path.0);
    let ring = RingFile::create(
        &path.0,
        Options::new(capacity)
            .mode(mode)
            .retain(retain)
            .dictionary_len(0),
    )
    .unwrap();
    let retain = ring.retain() as u64;
    assert_eq!(retain, (retain as usize).next_multiple_of(16) as u64);
    let max = ring.max_record_len();
    let mut model = Model {
        capacity: capacity as u64,
        retain,
        tail: 0,
        head: 0,
        items: VecDeque::new(),
        taken: 0,
    };
    let mpsc = (mode == Mode::Mpsc).then(|| ring.mpsc_producer().unwrap());
    let mut spsc = (mode == Mode::Spsc).then(|| ring.spsc_producer().unwrap());
    let mut consumer: Option<Consumer> = Some(ring.consumer().unwrap());
    for (step, op) in ops.iter().enumerate() {
        match op {
            Op::Send(len) => {
                let len = len % (max + 1);
                let expected = model.send(len);
                let pos = model.tail - span_of(len);
                let data = payload(len, pos);
                let sent = match (&mpsc, &mut spsc) {
                    (Some(tx), _) => tx.try_send(&data),
                    (None, Some(tx)) => tx.try_send(&data),
                    _ => unreachable!(),
                };
                assert_eq!(sent, expected, "step {step}: send {len}");
                if expected.is_err() {
                    // The model did not move; `pos` was not this record's.
                    continue;
                }
            }
            Op::Recv => {
                let consumer = consumer.as_mut().unwrap();
                let expected = model.recv();
                let got = match consumer.try_recv() {
                    Ok(record) => Some((record.position(), record.to_vec())),
                    Err(TryRecvError::Empty) => None,
                    Err(error) => panic!("step {step}: {error}"),
                };
                assert_eq!(got, expected, "step {step}: receive");
            }
            Op::Restart => {
                drop(consumer.take());
                consumer = Some(ring.consumer().unwrap());
            }
            Op::Spy => {
                let mut spy = RingSpy::open(&path.0, SpyFrom::Oldest).unwrap();
                let mut seen = Vec::new();
                loop {
                    match spy.try_read() {
                        Ok(Spied::Record(record)) => {
                            seen.push((record.position(), record.to_vec()))
                        }
                        Ok(Spied::Lapped(lap)) => panic!("step {step}: lapped {lap:?}"),
                        Err(TryRecvError::Empty) => break,
                        Err(error) => panic!("step {step}: {error}"),
                    }
                }
                assert_eq!(seen, model.spied(), "step {step}: spied");
            }
        }
        assert_eq!(ring.head(), model.head, "step {step}: published head");
        assert_eq!(ring.tail(), model.tail, "step {step}: tail");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_retaining_ring_matches_its_model(
        mpsc in any::<bool>(),
        capacity in prop_oneof![Just(256usize), Just(512), Just(1024)],
        retain_share in 0usize..=8,
        ops in proptest::collection::vec(op(), 1..120),
        case in any::<u64>(),
    ) {
        let mode = if mpsc { Mode::Mpsc } else { Mode::Spsc };
        // 0 to half the capacity, in sixteenths, and odd sizes rounded up.
        let retain = (capacity / 16 * retain_share).saturating_sub(retain_share % 3);
        run(mode, capacity, retain, &ops, case);
    }
}
