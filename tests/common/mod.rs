//! Payload helpers shared by the integration tests: every byte of a record is
//! derived from the record's key, so a torn, shifted or misdelivered record
//! shows in the bytes themselves. And [`Latencies`], the summary of how long
//! waits took that the tests print instead of asserting on speed.

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

// Numbered records: producer `id`'s record `seq` has the key
// `record_key(id, seq)`, from which every payload byte derives, and a tag
// naming the producer and the low 24 bits of the sequence number, so that
// even an empty record out of order shows. Each test crate chooses the
// lengths, as a function of the key.

/// The key of producer `id`'s record `seq`.
pub fn record_key(id: u32, seq: u64) -> u64 {
    (u64::from(id) << 40) | seq
}

/// The tag of producer `id`'s record `seq`.
pub fn record_tag(id: u32, seq: u64) -> u32 {
    (id << 24) | (seq as u32 & 0x00ff_ffff)
}

/// The producer and the low 24 bits of the sequence number in `tag`.
pub fn split_tag(tag: u32) -> (u32, u64) {
    (tag >> 24, u64::from(tag & 0x00ff_ffff))
}

/// Panics unless `tag` and `bytes` are producer `id`'s record `seq`, of
/// `len` bytes.
#[track_caller]
pub fn check_numbered(id: u32, seq: u64, tag: u32, bytes: &[u8], len: usize) {
    assert_eq!(
        tag,
        record_tag(id, seq),
        "producer {id}: expected record {seq}, got tag {tag:#x}"
    );
    assert_eq!(
        bytes.len(),
        len,
        "producer {id}: record {seq} has the wrong length"
    );
    check(record_key(id, seq), bytes);
}

/// The records of producers `0..n`, each checked against the next one its
/// producer must send: the tag, the length (`len` of its key) and every
/// byte.
pub struct Streams {
    next: Vec<u64>,
    len: fn(u64) -> usize,
}

impl Streams {
    pub fn new(producers: usize, len: fn(u64) -> usize) -> Self {
        Self {
            next: vec![0; producers],
            len,
        }
    }

    /// Checks a record; returns its producer.
    #[track_caller]
    pub fn check(&mut self, tag: u32, bytes: &[u8]) -> u32 {
        let (id, _) = split_tag(tag);
        let Some(next) = self.next.get_mut(id as usize) else {
            panic!("a record from unknown producer {id} (tag {tag:#x})");
        };
        let seq = *next;
        check_numbered(id, seq, tag, bytes, (self.len)(record_key(id, seq)));
        *next += 1;
        id
    }

    /// How many records producer `id` has delivered.
    pub fn count(&self, id: u32) -> u64 {
        self.next[id as usize]
    }

    /// Expects producer `id`'s record `seq` next (after a restart).
    pub fn resume_at(&mut self, id: u32, seq: u64) {
        self.next[id as usize] = seq;
    }
}

/// Awaits `fut`, counting in `pending` the polls that found it not ready.
pub async fn counted<F: std::future::Future>(
    fut: F,
    pending: &std::sync::atomic::AtomicU64,
) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        let poll = fut.as_mut().poll(cx);
        if poll.is_pending() {
            pending.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        poll
    })
    .await
}

/// How long the waits of one kind took (handoffs, stalls), for a test to
/// print: tests fail on a lost wake-up or a hang, never on a slow wait, and
/// show the distribution (`cargo test -- --nocapture`) for a reader to judge.
/// How fast things are is measured by `cargo bench`.
#[derive(Default)]
pub struct Latencies {
    nanos: Vec<u64>,
    /// The longest wait, and its number (the caller's numbering).
    max: Option<(u64, u64)>,
}

impl Latencies {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records wait `at` (a handoff or trial number, named in the summary if
    /// it was the longest), which took `nanos` nanoseconds.
    pub fn record_nanos(&mut self, at: u64, nanos: u64) {
        if self.max.is_none_or(|(max, _)| nanos > max) {
            self.max = Some((nanos, at));
        }
        self.nanos.push(nanos);
    }

    pub fn record(&mut self, at: u64, wait: std::time::Duration) {
        self.record_nanos(at, u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX));
    }

    /// One line: the count, the median, the 90th, 99th and 99.9th
    /// percentiles and the maximum, and how many waits took at least 1 ms,
    /// 10 ms, 100 ms and 1 s.
    pub fn summary(&self) -> String {
        use std::time::Duration;
        let mut sorted = self.nanos.clone();
        sorted.sort_unstable();
        let n = sorted.len();
        let Some((max, max_at)) = self.max else {
            return "no waits".to_owned();
        };
        // Nearest rank: the smallest wait that at least `per_mille`/1000 of
        // the waits do not exceed.
        let rank = |per_mille: usize| {
            Duration::from_nanos(sorted[(n * per_mille).div_ceil(1000).max(1) - 1])
        };
        let at_least =
            |millis: u64| sorted.len() - sorted.partition_point(|&w| w < millis * 1_000_000);
        format!(
            "{n} waits: p50 {:?}, p90 {:?}, p99 {:?}, p99.9 {:?}, max {:?} (#{}); \
             at least 1 ms: {}, 10 ms: {}, 100 ms: {}, 1 s: {}",
            rank(500),
            rank(900),
            rank(990),
            rank(999),
            Duration::from_nanos(max),
            max_at,
            at_least(1),
            at_least(10),
            at_least(100),
            at_least(1_000),
        )
    }
}
