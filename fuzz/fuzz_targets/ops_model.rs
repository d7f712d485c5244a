//! Fuzz target `ops_model`: operations on a small ring file, checked
//! against a model.
//!
//! The input picks a ring (capacity 64 to 1024 bytes, SPSC or MPSC) and a
//! sequence of operations: claims (written, truncated, tagged, then
//! committed, aborted or leaked), `try_send`, `try_recv` (releasing the
//! record, or forgetting the read claim so that the record is not
//! released), `try_recv_batch`, attaching, dropping and re-attaching the
//! consumer and the producers (MPSC: up to three handles, clones sharing a
//! slot), re-opening the file with every end dropped, and waiting for the
//! consumer to skip a leaked claim whose producer is gone.
//!
//! The model is the ring as the crate lays it out: the entries between the
//! consumer's head and the tail (records, padding, open and leaked claims)
//! with their positions and spans, the published head, and which producers
//! are alive. It predicts every outcome exactly: `TooLarge`, `Full` or the
//! claim's position; which records are read, in order, with their positions,
//! bytes and tags; `len_bytes`, `is_empty`, the `full_rejections` and
//! `skipped_claims` counts; which ends are attached; and the errors for a
//! second consumer, a second SPSC producer and a producer of the wrong mode.
//!
//! The one thing left to time is when the consumer skips a dead producer's
//! claim (it asks the OS once it has waited at the claim for 5 ms): the
//! model reads the ring's `skipped_claims` count around each read and lets
//! the consumer skip that many claims at its head, each of which must be a
//! leaked claim of a producer that is gone.
//!
//! Set `LOGRING_FUZZ_TRACE=1` to print the ring and each operation while
//! reproducing a failure.

#![no_main]

mod common;

use std::collections::VecDeque;
use std::mem;
use std::time::{Duration, Instant};

use arbitrary::Unstructured;
use common::{Scratch, payload, scratch_path, span_of};
use libfuzzer_sys::fuzz_target;
use logring::file::{FileErrorKind, Mode, Options, RingFile};
use logring::queue::{ClaimError, Consumer, TryRecvError, WriteClaim, mpsc, spsc};

/// MPSC producer handles the operations address.
const HANDLES: usize = 3;
/// Most operations decoded from one input.
const MAX_OPS: usize = 1000;
/// Waits for a leaked claim per input (each takes 5 to 10 ms, most of a
/// run that has one).
const AWAITS: usize = 1;
/// Generous bound on the consumer skipping a dead producer's claim, which
/// takes 5 to 10 ms on an idle machine.
const SKIP_DEADLINE: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug)]
enum Op {
    /// Claim `len` bytes with producer handle `producer` and fill them.
    Claim {
        producer: usize,
        len: usize,
    },
    /// Overwrite part of open claim `claim` with `byte`.
    Write {
        claim: usize,
        at: usize,
        byte: u8,
    },
    Truncate {
        claim: usize,
        len: usize,
    },
    SetTag {
        claim: usize,
        tag: u32,
    },
    Commit {
        claim: usize,
    },
    Abort {
        claim: usize,
    },
    /// `mem::forget` the claim: it stays claimed, in its producer's name.
    Leak {
        claim: usize,
    },
    TrySend {
        producer: usize,
        len: usize,
    },
    /// `try_recv`; `keep` forgets the read claim, so the record stays.
    TryRecv {
        keep: bool,
    },
    TryRecvBatch {
        limit: usize,
    },
    /// Attach a consumer (refused if one is attached).
    AttachConsumer,
    DropConsumer,
    ReattachConsumer,
    /// Drop every end and the `RingFile`, open the file, re-attach the ends.
    Reopen,
    /// Attach a producer into handle `producer` (SPSC: refused if one is
    /// attached; MPSC: if the handle is taken, attach one and drop it).
    AttachProducer {
        producer: usize,
    },
    DropProducer {
        producer: usize,
    },
    ReattachProducer {
        producer: usize,
    },
    /// MPSC: handle `to` becomes a clone of handle `from` (same slot).
    CloneProducer {
        from: usize,
        to: usize,
    },
    /// Ask for a producer of the other mode (refused).
    WrongMode,
    /// If the consumer's next entry is a leaked claim: of a dead producer,
    /// poll until the consumer skips it; of a live one, wait past the
    /// consumer's patience and check that it is not skipped.
    AwaitSkip,
}

impl Op {
    /// Operations that change the producer handles (or drop them all):
    /// every open claim is aborted first, since claims borrow producers.
    fn structural(self) -> bool {
        matches!(
            self,
            Op::Reopen
                | Op::AttachProducer { .. }
                | Op::DropProducer { .. }
                | Op::ReattachProducer { .. }
                | Op::CloneProducer { .. }
        )
    }

    /// Decodes one operation. Leaks and waits are rare, so that most runs
    /// stay fast.
    fn decode(u: &mut Unstructured<'_>, max: usize) -> arbitrary::Result<Op> {
        let kind: u8 = u.arbitrary()?;
        let index = |u: &mut Unstructured<'_>| u.int_in_range(0..=HANDLES - 1);
        Ok(match kind {
            0..=39 => Op::Claim {
                producer: index(u)?,
                len: decode_len(u, max)?,
            },
            40..=79 => Op::TrySend {
                producer: index(u)?,
                len: decode_len(u, max)?,
            },
            80..=91 => Op::Write {
                claim: u.arbitrary()?,
                at: u.arbitrary()?,
                byte: u.arbitrary()?,
            },
            92..=99 => Op::Truncate {
                claim: u.arbitrary()?,
                len: decode_len(u, max)?,
            },
            100..=107 => Op::SetTag {
                claim: u.arbitrary()?,
                tag: u.arbitrary()?,
            },
            108..=139 => Op::Commit {
                claim: u.arbitrary()?,
            },
            140..=149 => Op::Abort {
                claim: u.arbitrary()?,
            },
            150..=151 => Op::Leak {
                claim: u.arbitrary()?,
            },
            152..=189 => Op::TryRecv {
                keep: u.ratio(1, 8)?,
            },
            190..=209 => Op::TryRecvBatch {
                limit: u.int_in_range(0..=8)?,
            },
            210..=212 => Op::AttachConsumer,
            213..=215 => Op::DropConsumer,
            216..=221 => Op::ReattachConsumer,
            222..=227 => Op::Reopen,
            228..=233 => Op::AttachProducer {
                producer: index(u)?,
            },
            234..=238 => Op::DropProducer {
                producer: index(u)?,
            },
            239..=244 => Op::ReattachProducer {
                producer: index(u)?,
            },
            245..=249 => Op::CloneProducer {
                from: index(u)?,
                to: index(u)?,
            },
            250..=251 => Op::WrongMode,
            252..=253 => Op::AwaitSkip,
            _ => Op::TryRecv { keep: false },
        })
    }
}

/// A payload length: mostly small, sometimes anything up to the maximum,
/// sometimes around it or past it.
fn decode_len(u: &mut Unstructured<'_>, max: usize) -> arbitrary::Result<usize> {
    Ok(match u.int_in_range(0..=7u8)? {
        0..=3 => u.int_in_range(0..=24)?,
        4 | 5 => u.int_in_range(0..=max)?,
        6 => u.int_in_range(max.saturating_sub(8)..=max + 8)?,
        _ => u.int_in_range(max + 1..=usize::from(u16::MAX))?,
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(setup) = u.arbitrary::<u8>() else {
        return;
    };
    let capacity = 64usize << (setup % 5);
    let mode = if setup & 0x80 == 0 {
        Mode::Spsc
    } else {
        Mode::Mpsc
    };
    let max = capacity / 2 - 8;
    let mut ops = Vec::new();
    while !u.is_empty() && ops.len() < MAX_OPS {
        match Op::decode(&mut u, max) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    run(capacity, mode, &ops);
});

/// One entry of the modelled ring, at `pos`, `span` bytes long.
#[derive(Debug)]
struct Entry {
    pos: u64,
    span: u64,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// Wrap fill, an aborted claim, or the remainder of a truncated one.
    Padding,
    Record {
        bytes: Vec<u8>,
        tag: u32,
    },
    /// A claim still held; `bytes` is what it holds now.
    Open {
        id: u64,
        bytes: Vec<u8>,
        tag: u32,
    },
    /// A claim forgotten by producer `instance`.
    Leaked {
        instance: usize,
    },
}

/// A record as a read hands it out: position, bytes, tag.
type Delivered = (u64, Vec<u8>, u32);

/// The ring as the crate lays it out.
#[derive(Debug)]
struct Model {
    capacity: u64,
    max: u64,
    /// Next free position.
    tail: u64,
    /// The consumer's head: where `entries` starts.
    head: u64,
    /// The head published to the producers (`head` once released).
    released: u64,
    entries: VecDeque<Entry>,
    /// Live handles of each producer instance (an attach is a new
    /// instance; clones share theirs).
    handles: Vec<usize>,
    next_id: u64,
    next_key: u64,
    full_rejections: u64,
    skipped: u64,
}

impl Model {
    fn new(capacity: u64) -> Self {
        Self {
            capacity,
            max: capacity / 2 - 8,
            tail: 0,
            head: 0,
            released: 0,
            entries: VecDeque::new(),
            handles: Vec::new(),
            next_id: 0,
            next_key: 0,
            full_rejections: 0,
            skipped: 0,
        }
    }

    fn attach(&mut self) -> usize {
        self.handles.push(1);
        self.handles.len() - 1
    }

    fn alive(&self, instance: usize) -> bool {
        self.handles[instance] > 0
    }

    fn any_alive(&self) -> bool {
        self.handles.iter().any(|&n| n > 0)
    }

    /// The key of the next record's payload.
    fn key(&mut self) -> u64 {
        self.next_key += 1;
        self.next_key
    }

    /// A claim of `len` bytes, as the producers reserve it: the record's
    /// span, after wrap padding if it does not fit before the end of the
    /// data area; `Full` unless all of it fits below the published head.
    /// Returns the claim's id and position.
    fn reserve(&mut self, len: usize, key: u64) -> Result<(u64, u64), ClaimError> {
        if len as u64 > self.max {
            return Err(ClaimError::TooLarge {
                len,
                max: self.max as usize,
            });
        }
        let span = span_of(len as u64);
        let room = self.capacity - self.tail % self.capacity;
        let padding = if span <= room { 0 } else { room };
        let need = padding + span;
        if self.tail - self.released > self.capacity - need {
            self.full_rejections += 1;
            return Err(ClaimError::Full);
        }
        if padding != 0 {
            self.push(padding, Kind::Padding);
        }
        self.next_id += 1;
        let id = self.next_id;
        let pos = self.tail;
        let bytes = payload(key, len);
        self.push(span, Kind::Open { id, bytes, tag: 0 });
        Ok((id, pos))
    }

    fn push(&mut self, span: u64, kind: Kind) {
        self.entries.push_back(Entry {
            pos: self.tail,
            span,
            kind,
        });
        self.tail += span;
    }

    fn find(&mut self, id: u64) -> usize {
        self.entries
            .iter()
            .position(|e| matches!(e.kind, Kind::Open { id: open, .. } if open == id))
            .expect("an open claim is in the model")
    }

    /// The bytes and tag of open claim `id`.
    fn open_mut(&mut self, id: u64) -> (&mut Vec<u8>, &mut u32) {
        let at = self.find(id);
        match &mut self.entries[at].kind {
            Kind::Open { bytes, tag, .. } => (bytes, tag),
            _ => unreachable!(),
        }
    }

    /// Commits claim `id`: a record of its (possibly truncated) bytes,
    /// then padding for the rest of its span.
    fn commit(&mut self, id: u64) {
        let at = self.find(id);
        let entry = &mut self.entries[at];
        let Kind::Open { bytes, tag, .. } = mem::replace(&mut entry.kind, Kind::Padding) else {
            unreachable!()
        };
        let span = span_of(bytes.len() as u64);
        let rest = entry.span - span;
        let pos = entry.pos;
        entry.span = span;
        entry.kind = Kind::Record { bytes, tag };
        if rest != 0 {
            let padding = Entry {
                pos: pos + span,
                span: rest,
                kind: Kind::Padding,
            };
            self.entries.insert(at + 1, padding);
        }
    }

    fn abort(&mut self, id: u64) {
        let at = self.find(id);
        self.entries[at].kind = Kind::Padding;
    }

    fn leak(&mut self, id: u64, instance: usize) {
        let at = self.find(id);
        self.entries[at].kind = Kind::Leaked { instance };
    }

    /// What a read of up to `limit` records delivers, given that the
    /// consumer skipped `skips` dead claims meanwhile: it passes padding,
    /// skips those claims (each must be a leaked claim of a dead producer),
    /// and stops at an open or leaked claim or at the tail. `keep`: the
    /// read claim is forgotten, so its record stays and nothing is released.
    fn read(&mut self, limit: usize, mut skips: u64, keep: bool) -> Vec<Delivered> {
        let mut out = Vec::new();
        let mut kept = false;
        while out.len() < limit {
            let Some(front) = self.entries.front() else {
                break;
            };
            match &front.kind {
                Kind::Padding => self.pop(),
                Kind::Leaked { instance } if skips > 0 && !self.alive(*instance) => {
                    skips -= 1;
                    self.skipped += 1;
                    self.pop();
                }
                Kind::Leaked { .. } | Kind::Open { .. } => break,
                Kind::Record { bytes, tag } => {
                    out.push((front.pos, bytes.clone(), *tag));
                    if keep {
                        kept = true;
                        break;
                    }
                    self.pop();
                }
            }
        }
        assert_eq!(
            skips, 0,
            "the consumer skipped a claim that is not a dead producer's leaked claim"
        );
        if !kept {
            self.released = self.head;
        }
        out
    }

    fn pop(&mut self) {
        let entry = self.entries.pop_front().expect("an entry");
        assert_eq!(entry.pos, self.head);
        self.head += entry.span;
    }

    /// The first entry a read would stop at or deliver, past padding.
    fn next_entry(&self) -> Option<&Kind> {
        self.entries
            .iter()
            .map(|e| &e.kind)
            .find(|kind| !matches!(kind, Kind::Padding))
    }
}

/// A producer handle and the model instance it belongs to.
struct Handle<P> {
    producer: P,
    instance: usize,
}

/// An open claim, with its model id and its producer's instance.
struct Open<'a> {
    claim: WriteClaim<'a>,
    id: u64,
    instance: usize,
}

/// How a claim ends.
#[derive(Clone, Copy)]
enum End {
    Commit,
    Abort,
    Leak,
}

/// The ring file, its consumer, and the model; the producers live beside
/// it, borrowed by the claims.
struct Core {
    path: &'static std::path::Path,
    mode: Mode,
    ring: Option<RingFile>,
    consumer: Option<Consumer>,
    model: Model,
    awaits: usize,
    trace: bool,
}

fn run(capacity: usize, mode: Mode, ops: &[Op]) {
    let path = scratch_path("ops_model");
    let _ = std::fs::remove_file(path);
    let ring = RingFile::create(path, Options::new(capacity).mode(mode)).expect("create the ring");
    let _scratch = Scratch(path);
    assert_eq!(ring.capacity(), capacity);
    let trace = std::env::var_os("LOGRING_FUZZ_TRACE").is_some();
    if trace {
        eprintln!("ring: capacity {capacity}, {mode}");
    }
    let mut core = Core {
        path,
        mode,
        consumer: Some(ring.consumer().expect("attach the consumer")),
        ring: Some(ring),
        model: Model::new(capacity as u64),
        awaits: 0,
        trace,
    };
    let mut spsc: Option<Handle<spsc::Producer>> = None;
    let mut mpsc: [Option<Handle<mpsc::Producer>>; HANDLES] = Default::default();
    match mode {
        Mode::Spsc => {
            spsc = Some(Handle {
                producer: core.ring().spsc_producer().expect("attach the producer"),
                instance: core.model.attach(),
            });
        }
        Mode::Mpsc => {
            mpsc[0] = Some(Handle {
                producer: core.ring().mpsc_producer().expect("attach a producer"),
                instance: core.model.attach(),
            });
        }
    }
    core.check();
    let mut i = 0;
    while i < ops.len() {
        if ops[i].structural() {
            core.trace(ops[i]);
            match mode {
                Mode::Spsc => structural_spsc(&mut core, &mut spsc, ops[i]),
                Mode::Mpsc => structural_mpsc(&mut core, &mut mpsc, ops[i]),
            }
            core.check();
            i += 1;
        } else {
            i = match mode {
                Mode::Spsc => segment_spsc(&mut core, &mut spsc, ops, i),
                Mode::Mpsc => segment_mpsc(&mut core, &mpsc, ops, i),
            };
        }
    }
}

/// Runs SPSC operations from `i` up to the next structural one; returns
/// its index. A claim runs in `claim_scope_spsc`, since it borrows the
/// producer.
fn segment_spsc(
    core: &mut Core,
    handle: &mut Option<Handle<spsc::Producer>>,
    ops: &[Op],
    mut i: usize,
) -> usize {
    while i < ops.len() && !ops[i].structural() {
        let op = ops[i];
        core.trace(op);
        match op {
            Op::Claim { len, .. } => {
                if let Some(handle) = handle.as_mut() {
                    let instance = handle.instance;
                    let result = handle.producer.try_claim(len);
                    if let Some(open) = core.claimed(result, len, instance) {
                        core.check();
                        i = claim_scope_spsc(core, open, ops, i + 1);
                        continue;
                    }
                }
            }
            Op::TrySend { len, .. } => {
                if let Some(handle) = handle.as_mut() {
                    let key = core.model.key();
                    let result = handle.producer.try_send(&payload(key, len));
                    core.sent(result, len, key);
                }
            }
            op => core.other(op),
        }
        core.check();
        i += 1;
    }
    i
}

/// Runs operations from `i` while the SPSC producer's one claim is open;
/// returns the index of the first operation not consumed. A producer
/// operation commits the claim first (the producer is borrowed by it); a
/// structural one aborts it.
fn claim_scope_spsc(core: &mut Core, mut open: Open<'_>, ops: &[Op], mut i: usize) -> usize {
    while i < ops.len() {
        let op = ops[i];
        match op {
            Op::Commit { .. } | Op::Abort { .. } | Op::Leak { .. } => {
                core.trace(op);
                core.finish(open, end_of(op));
                core.check();
                return i + 1;
            }
            Op::Claim { .. } | Op::TrySend { .. } => {
                core.finish(open, End::Commit);
                core.check();
                return i;
            }
            op if op.structural() => {
                core.finish(open, End::Abort);
                core.check();
                return i;
            }
            Op::Write { .. } | Op::Truncate { .. } | Op::SetTag { .. } => {
                core.trace(op);
                core.edit(&mut open, op);
            }
            op => {
                core.trace(op);
                core.other(op);
            }
        }
        core.check();
        i += 1;
    }
    core.finish(open, End::Abort);
    core.check();
    i
}

/// Runs MPSC operations from `i` up to the next structural one; returns
/// its index. Claims stay open across operations, any number of them, and
/// end in any order; those still open at the end are aborted.
fn segment_mpsc<'p>(
    core: &mut Core,
    handles: &'p [Option<Handle<mpsc::Producer>>; HANDLES],
    ops: &[Op],
    mut i: usize,
) -> usize {
    let mut claims: Vec<Open<'p>> = Vec::new();
    while i < ops.len() && !ops[i].structural() {
        let op = ops[i];
        core.trace(op);
        match op {
            Op::Claim { producer, len } => {
                if let Some(handle) = &handles[producer] {
                    let result = handle.producer.try_claim(len);
                    if let Some(open) = core.claimed(result, len, handle.instance) {
                        claims.push(open);
                    }
                }
            }
            Op::TrySend { producer, len } => {
                if let Some(handle) = &handles[producer] {
                    let key = core.model.key();
                    let result = handle.producer.try_send(&payload(key, len));
                    core.sent(result, len, key);
                }
            }
            Op::Commit { claim } | Op::Abort { claim } | Op::Leak { claim } => {
                if !claims.is_empty() {
                    let open = claims.remove(claim % claims.len());
                    core.finish(open, end_of(op));
                }
            }
            Op::Write { claim, .. } | Op::Truncate { claim, .. } | Op::SetTag { claim, .. } => {
                if !claims.is_empty() {
                    let at = claim % claims.len();
                    core.edit(&mut claims[at], op);
                }
            }
            op => core.other(op),
        }
        core.check();
        i += 1;
    }
    for open in claims {
        core.finish(open, End::Abort);
    }
    core.check();
    i
}

fn end_of(op: Op) -> End {
    match op {
        Op::Commit { .. } => End::Commit,
        Op::Abort { .. } => End::Abort,
        Op::Leak { .. } => End::Leak,
        _ => unreachable!(),
    }
}

fn structural_spsc(core: &mut Core, handle: &mut Option<Handle<spsc::Producer>>, op: Op) {
    match op {
        Op::Reopen => {
            let attached = handle.is_some();
            core.drop_spsc(handle);
            core.reopen();
            if attached {
                core.attach_spsc(handle);
            }
        }
        Op::AttachProducer { .. } => {
            if handle.is_some() {
                let error = core
                    .ring()
                    .spsc_producer()
                    .expect_err("a second SPSC producer");
                assert!(matches!(error.kind(), FileErrorKind::ProducerAttached));
                std::hint::black_box(error.to_string());
            } else {
                core.attach_spsc(handle);
            }
        }
        Op::DropProducer { .. } => core.drop_spsc(handle),
        Op::ReattachProducer { .. } => {
            core.drop_spsc(handle);
            core.attach_spsc(handle);
        }
        Op::CloneProducer { .. } => {}
        _ => unreachable!("not structural"),
    }
}

fn structural_mpsc(
    core: &mut Core,
    handles: &mut [Option<Handle<mpsc::Producer>>; HANDLES],
    op: Op,
) {
    match op {
        Op::Reopen => {
            let attached: Vec<bool> = handles.iter().map(Option::is_some).collect();
            for handle in handles.iter_mut() {
                core.drop_mpsc(handle);
            }
            core.reopen();
            for (handle, attached) in handles.iter_mut().zip(attached) {
                if attached {
                    core.attach_mpsc(handle);
                }
            }
        }
        Op::AttachProducer { producer } => {
            if handles[producer].is_some() {
                // Another slot, taken and let go at once.
                let mut extra = None;
                core.attach_mpsc(&mut extra);
                core.drop_mpsc(&mut extra);
            } else {
                core.attach_mpsc(&mut handles[producer]);
            }
        }
        Op::DropProducer { producer } => core.drop_mpsc(&mut handles[producer]),
        Op::ReattachProducer { producer } => {
            core.drop_mpsc(&mut handles[producer]);
            core.attach_mpsc(&mut handles[producer]);
        }
        Op::CloneProducer { from, to } => {
            if from != to
                && let Some(source) = &handles[from]
            {
                let clone = Handle {
                    producer: source.producer.clone(),
                    instance: source.instance,
                };
                core.model.handles[clone.instance] += 1;
                core.drop_mpsc(&mut handles[to]);
                handles[to] = Some(clone);
            }
        }
        _ => unreachable!("not structural"),
    }
}

impl Core {
    fn ring(&self) -> &RingFile {
        self.ring.as_ref().expect("the ring is open")
    }

    fn trace(&self, op: Op) {
        if self.trace {
            eprintln!(
                "{op:?}  (head {} released {} tail {})",
                self.model.head, self.model.released, self.model.tail
            );
        }
    }

    /// Checks what the ring reports against the model.
    fn check(&self) {
        let ring = self.ring();
        let model = &self.model;
        let used = model.tail - model.released;
        assert_eq!(ring.len_bytes() as u64, used, "len_bytes");
        assert_eq!(ring.is_empty(), used == 0, "is_empty");
        assert_eq!(
            ring.full_rejections(),
            model.full_rejections,
            "full_rejections"
        );
        assert_eq!(ring.skipped_claims(), model.skipped, "skipped_claims");
        assert_eq!(ring.consumer_attached(), self.consumer.is_some());
        assert_eq!(ring.producers_attached(), model.any_alive());
        if let Some(consumer) = &self.consumer {
            assert_eq!(
                consumer.len_bytes() as u64,
                used,
                "the consumer's len_bytes"
            );
            assert_eq!(consumer.corruption(), None);
        }
    }

    /// Checks a claim's outcome against the model's; fills an open claim
    /// with its payload.
    fn claimed<'a>(
        &mut self,
        result: Result<WriteClaim<'a>, ClaimError>,
        len: usize,
        instance: usize,
    ) -> Option<Open<'a>> {
        let key = self.model.key();
        let expected = self.model.reserve(len, key);
        match (result, expected) {
            (Ok(mut claim), Ok((id, pos))) => {
                assert_eq!(claim.position(), pos, "claim position");
                assert_eq!(claim.len(), len);
                common::fill(key, &mut claim);
                Some(Open {
                    claim,
                    id,
                    instance,
                })
            }
            (Err(error), Err(expected)) => {
                assert_eq!(error, expected, "claim of {len} bytes");
                std::hint::black_box(error.to_string());
                None
            }
            (result, expected) => panic!(
                "claim of {len} bytes: got {:?}, the model expected {expected:?}",
                result.map(|claim| claim.position())
            ),
        }
    }

    /// Checks a `try_send` outcome against the model's.
    fn sent(&mut self, result: Result<(), ClaimError>, len: usize, key: u64) {
        let expected = self.model.reserve(len, key).map(|(id, _)| id);
        assert_eq!(
            result,
            expected.map(|_| ()),
            "try_send of {len} bytes: the model expected {expected:?}"
        );
        if let Ok(id) = expected {
            self.model.commit(id);
        }
    }

    /// Writes, truncates or tags an open claim.
    fn edit(&mut self, open: &mut Open<'_>, op: Op) {
        let (bytes, tag) = self.model.open_mut(open.id);
        match op {
            Op::Write { at, byte, .. } => {
                let len = bytes.len();
                if len != 0 {
                    let from = at % len;
                    let to = (from + 1 + usize::from(byte % 16)).min(len);
                    open.claim[from..to].fill(byte);
                    bytes[from..to].fill(byte);
                }
            }
            Op::Truncate { len, .. } => {
                open.claim.truncate(len);
                bytes.truncate(len);
            }
            Op::SetTag { tag: new, .. } => {
                // A reserved tag is refused and leaves the tag as it was.
                match open.claim.set_tag(new) {
                    Ok(()) => *tag = new,
                    Err(reserved) => {
                        assert!(logring::ReservedTag::RANGE.contains(&new));
                        assert_eq!(reserved.tag(), new);
                    }
                }
            }
            _ => unreachable!("not an edit"),
        }
        assert_eq!(&*open.claim, &bytes[..], "the claim holds what was written");
        assert_eq!(open.claim.tag(), *tag);
    }

    fn finish(&mut self, open: Open<'_>, end: End) {
        match end {
            End::Commit => {
                self.model.commit(open.id);
                open.claim.commit();
            }
            End::Abort => {
                self.model.abort(open.id);
                open.claim.abort();
            }
            End::Leak => {
                self.model.leak(open.id, open.instance);
                mem::forget(open.claim);
            }
        }
    }

    /// Consumer operations, and the others that need no producer.
    fn other(&mut self, op: Op) {
        match op {
            Op::TryRecv { keep } => self.try_recv(keep),
            Op::TryRecvBatch { limit } => {
                let before = self.ring().skipped_claims();
                let Some(consumer) = self.consumer.as_mut() else {
                    return;
                };
                let mut got = Vec::new();
                let count = consumer.try_recv_batch(limit, |record| {
                    got.push((record.position(), record.to_vec(), record.tag()));
                });
                let expected_count = if got.is_empty() && limit != 0 {
                    Err(TryRecvError::Empty)
                } else {
                    Ok(got.len())
                };
                assert_eq!(count, expected_count, "try_recv_batch({limit})");
                let skips = self.ring().skipped_claims() - before;
                let expected = self.model.read(limit, skips, false);
                assert_eq!(got, expected, "try_recv_batch({limit})");
            }
            Op::AttachConsumer => {
                if self.consumer.is_some() {
                    let error = self.ring().consumer().expect_err("a second consumer");
                    assert!(matches!(
                        error.kind(),
                        FileErrorKind::ConsumerAttached { .. }
                    ));
                    std::hint::black_box(error.to_string());
                } else {
                    self.attach_consumer();
                }
            }
            Op::DropConsumer => self.drop_consumer(),
            Op::ReattachConsumer => {
                self.drop_consumer();
                self.attach_consumer();
            }
            Op::WrongMode => {
                let error = match self.mode {
                    Mode::Spsc => self.ring().mpsc_producer().err(),
                    Mode::Mpsc => self.ring().spsc_producer().err(),
                }
                .expect("a producer of the other mode is refused");
                assert!(matches!(error.kind(), FileErrorKind::WrongMode { .. }));
                std::hint::black_box(error.to_string());
            }
            Op::AwaitSkip => self.await_skip(),
            // Claim edits with no claim open.
            Op::Write { .. }
            | Op::Truncate { .. }
            | Op::SetTag { .. }
            | Op::Commit { .. }
            | Op::Abort { .. }
            | Op::Leak { .. } => {}
            op => unreachable!("{op:?} is handled by the caller"),
        }
    }

    fn try_recv(&mut self, keep: bool) {
        let before = self.ring().skipped_claims();
        let Some(consumer) = self.consumer.as_mut() else {
            return;
        };
        let got: Vec<Delivered> = match consumer.try_recv() {
            Ok(record) => {
                let delivered = (record.position(), record.to_vec(), record.tag());
                if keep {
                    // Not released: delivered again by the next read.
                    mem::forget(record);
                }
                vec![delivered]
            }
            Err(TryRecvError::Empty) => Vec::new(),
            Err(error) => panic!("try_recv: {error}"),
        };
        let skips = self.ring().skipped_claims() - before;
        if self.trace && skips != 0 {
            eprintln!("  the consumer skipped {skips} dead claim(s)");
        }
        let expected = self.model.read(1, skips, keep);
        assert_eq!(got, expected, "try_recv (keep: {keep})");
    }

    fn await_skip(&mut self) {
        if self.awaits >= AWAITS || self.consumer.is_none() {
            return;
        }
        let Some(&Kind::Leaked { instance }) = self.model.next_entry() else {
            return;
        };
        self.awaits += 1;
        if self.model.alive(instance) {
            // Past the consumer's patience, a live producer's claim is
            // still not skipped.
            self.try_recv(false);
            std::thread::sleep(Duration::from_millis(6));
            self.try_recv(false);
            self.try_recv(false);
            assert!(
                matches!(self.model.next_entry(), Some(Kind::Leaked { .. })),
                "a live producer's leaked claim stays"
            );
            return;
        }
        let skipped = self.model.skipped;
        let deadline = Instant::now() + SKIP_DEADLINE;
        while self.model.skipped == skipped {
            assert!(
                Instant::now() < deadline,
                "the consumer did not skip a dead producer's claim within {SKIP_DEADLINE:?}"
            );
            self.try_recv(false);
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn attach_consumer(&mut self) {
        self.consumer = Some(self.ring().consumer().expect("attach the consumer"));
    }

    fn drop_consumer(&mut self) {
        if self.consumer.take().is_some() {
            // Dropping a consumer publishes its head.
            self.model.released = self.model.head;
        }
    }

    /// Drops the consumer and the `RingFile` (the caller dropped the
    /// producers), opens the file again and re-attaches the consumer.
    fn reopen(&mut self) {
        let consumer = self.consumer.is_some();
        self.drop_consumer();
        self.ring = None;
        let ring = RingFile::open(self.path).expect("open the ring again");
        assert_eq!(ring.capacity() as u64, self.model.capacity);
        assert_eq!(ring.mode(), self.mode);
        self.ring = Some(ring);
        if consumer {
            self.attach_consumer();
        }
    }

    fn attach_spsc(&mut self, handle: &mut Option<Handle<spsc::Producer>>) {
        let producer = self.ring().spsc_producer().expect("attach the producer");
        *handle = Some(Handle {
            producer,
            instance: self.model.attach(),
        });
    }

    fn drop_spsc(&mut self, handle: &mut Option<Handle<spsc::Producer>>) {
        if let Some(handle) = handle.take() {
            self.model.handles[handle.instance] -= 1;
        }
    }

    fn attach_mpsc(&mut self, handle: &mut Option<Handle<mpsc::Producer>>) {
        let producer = self.ring().mpsc_producer().expect("attach a producer");
        *handle = Some(Handle {
            producer,
            instance: self.model.attach(),
        });
    }

    fn drop_mpsc(&mut self, handle: &mut Option<Handle<mpsc::Producer>>) {
        if let Some(handle) = handle.take() {
            self.model.handles[handle.instance] -= 1;
        }
    }
}
