//! Fuzz target `open_drain`: any bytes, as a ring file.
//!
//! The input is written to a scratch file and opened with `RingFile::open`.
//! Refusing it is fine (its error must display); what must never happen, on
//! any input, is a panic, a hang, a crash or a read outside the data area.
//! When the file opens:
//!
//! 1. a spy (`RingSpy`, from the oldest record, which is where a consumer
//!    attaching next starts) drains it with `try_read`, at most
//!    `MAX_RECORDS` records: every record lies inside the data area
//!    and is at most `max_record_len` long, positions increase, it is never
//!    lapped (nobody consumes), and it ends in `Empty` or in `Corrupt`
//!    (which it reports again on the next read). Then a consumer drains the
//!    same file (`try_recv` and `try_recv_batch`, at most `MAX_RECORDS`
//!    records) under the same checks, and the spy's records equal the
//!    consumer's, in order (positions, tags and bytes), up to the first
//!    corruption either finds: where one stops short of the other, it is
//!    the one that found corruption. A second consumer is refused, and so
//!    is a producer of the other mode;
//! 2. the file is written afresh and opened again, and a receiver drains it
//!    (`try_recv`, `try_recv_batch`) under the same checks: with no producer
//!    attached, it must end in `Disconnected`, or in `Corrupt` naming the
//!    corruption the receiver reports, never `Empty`. Every record it reads
//!    is decoded by `events::Decoder` with the ring's own dictionary (bytes
//!    of the input), as text and as JSON: one line each, the JSON line a
//!    JSON object;
//! 3. the dictionary is looked up, through the ring file and through a
//!    read-only `RingObserver` of the same file, at every id it could hold
//!    and at ids beyond it and from the input: both answer the same, and an
//!    entry found lies inside the dictionary. Entries registered through
//!    the ring file (when the dictionary has room) read back exactly, and
//!    the observer registers nothing;
//! 4. on that ring, a producer of the ring's mode writes a few records and a
//!    consumer reads them back. On a ring the receiver left sound and empty,
//!    the first record fits (any record up to the maximum fits on an empty
//!    ring), and the records read back are exactly those written, in order.

#![no_main]

mod common;

use std::error::Error as _;
use std::fs;
use std::hint::black_box;
use std::path::Path;

use common::{Scratch, payload, scratch_path};
use libfuzzer_sys::fuzz_target;
use logring::channel::TryRecvError;
use logring::events::{Decoder, Format};
use logring::file::{
    FileError, FileErrorKind, Mode, RingFile, RingObserver, RingSpy, Spied, SpyFrom,
};
use logring::queue::{self, ClaimError, Consumer, mpsc, spsc};

/// Most records read in one drain: enough for any ring a fuzz input can
/// hold (a 64 KiB data area holds 8 Ki empty records), and a bound on the
/// loop if a consumer ever went round in circles.
const MAX_RECORDS: usize = 10_000;

/// Bytes before the data area.
const HEADER_LEN: u64 = 4096;

/// Bytes of the dictionary that are its own (`next`, then reserved): ids
/// below `DICT_ENTRIES / 8` name no entry.
const DICT_ENTRIES: u64 = 64;

fuzz_target!(|data: &[u8]| {
    let path = scratch_path("open_drain");
    let _scratch = Scratch(path);
    let first = drain_with_consumer(path, data);
    // The drain zeroed what it consumed: start again from the input.
    let second = drain_with_receiver_and_write(path, data);
    assert_eq!(
        first, second,
        "opening the same bytes twice gave different answers"
    );
});

/// Writes `data` as the whole scratch file. Every mapping of it is gone by
/// then (truncating a mapped file would fault its users).
fn write_file(path: &Path, data: &[u8]) {
    fs::write(path, data).expect("write the scratch ring file");
}

/// Opens the ring file, checking what a successful open promises about the
/// ring; displays the error of a failed one.
fn open(path: &Path, data: &[u8]) -> Option<RingFile> {
    let ring = match RingFile::open(path) {
        Ok(ring) => ring,
        Err(error) => {
            exercise(&error);
            return None;
        }
    };
    let capacity = ring.capacity() as u64;
    assert!(capacity.is_power_of_two() && capacity >= 64);
    let dict_len = ring.dictionary_len() as u64;
    assert_eq!(dict_len % 4096, 0, "dictionary length checked");
    assert_eq!(
        HEADER_LEN + capacity + dict_len,
        data.len() as u64,
        "length checked"
    );
    assert!(ring.dictionary_used() <= ring.dictionary_len());
    assert_eq!(ring.max_record_len() as u64, capacity / 2 - 8);
    assert!(ring.len_bytes() <= ring.capacity());
    assert_eq!(ring.is_empty(), ring.len_bytes() == 0);
    assert!(!ring.consumer_attached(), "nothing is attached yet");
    assert!(!ring.producers_attached(), "nothing is attached yet");
    black_box((
        format!("{ring:?}"),
        ring.path(),
        ring.mode(),
        ring.skipped_claims(),
        ring.full_rejections(),
    ));
    Some(ring)
}

/// Displays an error and walks its sources, as a tool reporting it would.
fn exercise(error: &FileError) {
    black_box((error.to_string(), format!("{error:?}"), error.path()));
    let mut source = error.source();
    while let Some(inner) = source {
        black_box(inner.to_string());
        source = inner.source();
    }
}

/// Checks a record the ring handed out: inside the data area, at most the
/// maximum length; reads every byte of it.
fn check_record(ring: &RingFile, position: u64, bytes: &[u8], tag: u32) {
    check_placed(ring, position, bytes, tag);
}

/// Checks a record as [`check_record`] does, then decodes it as text and as
/// JSON, with the ring's dictionary: each gives one line, and the JSON line
/// is a JSON object.
fn check_and_decode(ring: &RingFile, decoders: &Decoders, position: u64, bytes: &[u8], tag: u32) {
    check_placed(ring, position, bytes, tag);
    let mut text = String::new();
    decoders.text.line(&mut text, 1, position, tag, bytes);
    assert_one_line(&text);
    let mut json = String::new();
    decoders.json.line(&mut json, 1, position, tag, bytes);
    assert_one_line(&json);
    match serde_json::from_str::<serde_json::Value>(&json) {
        Ok(value) => assert!(value.is_object(), "not a JSON object: {json}"),
        Err(error) => panic!("not JSON ({error}): {json}"),
    }
}

/// Checks that `line` is one line, ending with its newline.
fn assert_one_line(line: &str) {
    assert!(line.ends_with('\n'), "no newline at the end: {line:?}");
    assert_eq!(
        line.bytes().filter(|&b| b == b'\n').count(),
        1,
        "more than one line: {line:?}"
    );
}

/// A decoder of each format, for the records of one ring.
struct Decoders {
    text: Decoder,
    json: Decoder,
}

/// Inside the data area, at most the maximum length; reads every byte.
fn check_placed(ring: &RingFile, position: u64, bytes: &[u8], tag: u32) {
    let capacity = ring.capacity() as u64;
    let len = bytes.len() as u64;
    assert!(bytes.len() <= ring.max_record_len(), "record too long");
    assert_eq!(position % 8, 0, "records are 8-aligned");
    assert!(
        position % capacity + 8 + len <= capacity,
        "record at {position} of {len} bytes crosses the end of the data area"
    );
    black_box((bytes.iter().fold(0u8, |x, &b| x ^ b), tag));
}

/// A record as a reader got it: position, tag and bytes.
type Got = (u64, u32, Vec<u8>);

/// What a drain read, in order, and whether it stopped at corruption.
struct Drained {
    /// Where the reader started.
    start: u64,
    records: Vec<Got>,
    corrupt: bool,
}

/// Phase 1: open, drain with a spy, then with a consumer, and compare.
/// Returns whether the file opened.
fn drain_with_consumer(path: &Path, data: &[u8]) -> bool {
    write_file(path, data);
    let Some(ring) = open(path, data) else {
        return false;
    };
    let tail = ring.tail();
    let spied = drain_with_spy(&ring, path);
    let mut consumer = ring.consumer().expect("the first consumer attaches");
    assert!(ring.consumer_attached());
    assert_eq!(
        spied.start,
        ring.head(),
        "a spy starts at the oldest record, where the consumer starts"
    );
    match ring.consumer() {
        Err(error) => {
            assert!(matches!(
                error.kind(),
                FileErrorKind::ConsumerAttached { .. }
            ));
            exercise(&error);
        }
        Ok(_) => panic!("a second consumer attached"),
    }
    let wrong = match ring.mode() {
        Mode::Spsc => ring.mpsc_producer().err(),
        Mode::Mpsc => ring.spsc_producer().err(),
    }
    .expect("a producer of the other mode is refused");
    assert!(matches!(wrong.kind(), FileErrorKind::WrongMode { .. }));
    exercise(&wrong);
    let consumed = drain(&ring, &mut consumer);
    black_box(format!("{consumer:?}"));
    drop(consumer);
    assert!(!ring.consumer_attached());
    compare(&spied, &consumed, tail);
    true
}

/// Drains the ring with a spy from the oldest record, before any consumer
/// attaches: nobody consumes, so it is never lapped.
fn drain_with_spy(ring: &RingFile, path: &Path) -> Drained {
    let mut spy = RingSpy::open(path, SpyFrom::Oldest)
        .unwrap_or_else(|error| panic!("a file that opens is spied on: {error}"));
    // The oldest record: where a consumer attaching now starts (after the
    // release a dead consumer may have left unfinished, past `head`).
    let start = spy.position();
    assert_eq!(spy.capacity(), ring.capacity());
    assert_eq!(spy.max_record_len(), ring.max_record_len());
    let mut records: Vec<Got> = Vec::new();
    let mut corrupt = false;
    while records.len() < MAX_RECORDS {
        match spy.try_read() {
            Ok(Spied::Record(record)) => {
                check_record(ring, record.position(), &record, record.tag());
                assert!(
                    before(record.position(), ring.tail()),
                    "a spy's record at {}, not below the tail {}",
                    record.position(),
                    ring.tail()
                );
                if let Some(&(last, _, ref bytes)) = records.last() {
                    assert!(
                        record.position() >= last + 8 + bytes.len().next_multiple_of(8) as u64,
                        "a spy's record at {} overlaps the one at {last}",
                        record.position()
                    );
                }
                records.push((record.position(), record.tag(), record.to_vec()));
            }
            Ok(Spied::Lapped(lap)) => panic!("a spy lapped on a ring nobody consumes: {lap:?}"),
            Err(queue::TryRecvError::Empty) => break,
            Err(queue::TryRecvError::Corrupt(found)) => {
                black_box(found.to_string());
                assert_eq!(
                    spy.try_read().err(),
                    Some(queue::TryRecvError::Corrupt(found)),
                    "a spy's corruption is sticky"
                );
                corrupt = true;
                break;
            }
            Err(other) => panic!("a spy: {other:?}"),
        }
    }
    assert_eq!(spy.records(), records.len() as u64);
    assert_eq!((spy.laps(), spy.lost_bytes()), (0, 0));
    assert_eq!(spy.head(), ring.head(), "a spy consumes nothing");
    Drained {
        start,
        records,
        corrupt,
    }
}

/// Whether free-running position `a` comes before `b`.
fn before(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

/// The spy's records equal the consumer's, in order, up to the first
/// corruption: where one drain stopped short of the other, it found
/// corruption (or read `MAX_RECORDS`, which neither can on these rings).
/// One more case: a spy reads nothing at or past the ring's `tail`, while
/// an MPSC consumer follows a committed record there (a record no producer
/// wrote, which it does not report as corruption: see the README's
/// `seed-mpsc-record-past-tail-64`).
fn compare(spied: &Drained, consumed: &Drained, tail: u64) {
    let n = spied.records.len().min(consumed.records.len());
    for (i, (spy, consumer)) in spied.records[..n]
        .iter()
        .zip(&consumed.records[..n])
        .enumerate()
    {
        assert!(
            spy == consumer,
            "record {i}: the spy read {} bytes tagged {:#x} at {}, the consumer {} bytes \
             tagged {:#x} at {}",
            spy.2.len(),
            spy.1,
            spy.0,
            consumer.2.len(),
            consumer.1,
            consumer.0
        );
    }
    if spied.records.len() < consumed.records.len() {
        assert!(
            spied.corrupt || !before(consumed.records[n].0, tail),
            "the spy stopped, without corruption, after {n} of the consumer's {} records \
             (next at {})",
            consumed.records.len(),
            consumed.records[n].0
        );
    } else if consumed.records.len() < spied.records.len() {
        assert!(
            consumed.corrupt,
            "the consumer stopped, without corruption, after {n} of the spy's {} records \
             (next at {})",
            spied.records.len(),
            spied.records[n].0
        );
    }
}

/// Drains `consumer`, alternating single reads and batches, until nothing
/// is ready or `MAX_RECORDS` were read; returns what it read.
fn drain(ring: &RingFile, consumer: &mut Consumer) -> Drained {
    let start = ring.head();
    let mut read = 0;
    let mut records: Vec<Got> = Vec::new();
    while read < MAX_RECORDS {
        assert!(consumer.len_bytes() <= consumer.capacity());
        let got = if read % 2 == 0 {
            consumer.try_recv().map(|record| {
                check_record(ring, record.position(), &record, record.tag());
                records.push((record.position(), record.tag(), record.to_vec()));
                1
            })
        } else {
            consumer.try_recv_batch(3, |record| {
                check_record(ring, record.position(), &record, record.tag());
                records.push((record.position(), record.tag(), record.to_vec()));
            })
        };
        match got {
            Ok(n) => {
                assert!(n > 0, "Ok(0) from a read of at least one record");
                read += n;
            }
            Err(error) => {
                stopped(consumer, error);
                break;
            }
        }
    }
    if let Some(corrupt) = consumer.corruption() {
        black_box(corrupt.to_string());
        assert_eq!(
            consumer.try_recv().err(),
            Some(queue::TryRecvError::Corrupt(corrupt)),
            "nothing past corruption"
        );
    }
    Drained {
        start,
        records,
        corrupt: consumer.corruption().is_some(),
    }
}

/// Checks why `consumer`'s read found no record: nothing ready, or the
/// corruption the consumer reports.
fn stopped(consumer: &Consumer, error: queue::TryRecvError) {
    black_box(error.to_string());
    match error {
        queue::TryRecvError::Empty => assert_eq!(consumer.corruption(), None),
        queue::TryRecvError::Corrupt(corrupt) => {
            assert_eq!(consumer.corruption(), Some(corrupt));
        }
        other => panic!("{other:?}"),
    }
}

/// A producer of either mode.
enum Producer {
    Spsc(spsc::Producer),
    Mpsc(mpsc::Producer),
}

impl Producer {
    /// Claims `len` bytes, fills them with the payload keyed `key`, tags
    /// and commits them.
    fn write(&mut self, key: u64, len: usize, tag: u32) -> Result<(), ClaimError> {
        let mut claim = match self {
            Producer::Spsc(producer) => producer.try_claim(len)?,
            Producer::Mpsc(producer) => producer.try_claim(len)?,
        };
        common::fill(key, &mut claim);
        claim.set_tag(tag).unwrap();
        claim.commit();
        Ok(())
    }
}

/// Phases 2 and 3: open the input afresh, drain it with a receiver, then
/// write records and read them back. Returns whether the file opened.
fn drain_with_receiver_and_write(path: &Path, data: &[u8]) -> bool {
    write_file(path, data);
    let Some(ring) = open(path, data) else {
        return false;
    };
    let mut rx = ring.receiver().expect("the first receiver attaches");
    let decoders = Decoders {
        text: Decoder::new(&rx, Format::Text),
        json: Decoder::new(&rx, Format::Json),
    };
    black_box(format!("{:?}", decoders.text));
    let mut read = 0;
    let mut turn = 0;
    let disconnected = loop {
        if read >= MAX_RECORDS {
            break false;
        }
        turn += 1;
        let result = if turn % 2 == 0 {
            rx.try_recv().map(|record| {
                check_and_decode(&ring, &decoders, record.position(), &record, record.tag());
                1
            })
        } else {
            rx.try_recv_batch(turn % 5, |record| {
                check_and_decode(&ring, &decoders, record.position(), &record, record.tag());
            })
        };
        match result {
            Ok(n) => read += n,
            Err(error) => {
                black_box(error.to_string());
                match error {
                    TryRecvError::Disconnected => assert_eq!(rx.corruption(), None),
                    TryRecvError::Corrupt(corrupt) => assert_eq!(rx.corruption(), Some(corrupt)),
                    other => panic!(
                        "with no producer attached, a drained receiver is disconnected \
                         or finds corruption, not {other:?}"
                    ),
                }
                break true;
            }
        }
    };
    let sound = disconnected && rx.corruption().is_none();
    if let Some(corrupt) = rx.corruption() {
        black_box(corrupt.to_string());
    }
    black_box((format!("{rx:?}"), rx.skipped_claims(), rx.is_disconnected()));
    drop(rx);
    look_up_and_register(&ring, path, data);

    let mut producer = match ring.mode() {
        Mode::Spsc => Producer::Spsc(ring.spsc_producer().expect("the producer attaches")),
        Mode::Mpsc => Producer::Mpsc(ring.mpsc_producer().expect("a producer attaches")),
    };
    assert!(ring.producers_attached());
    let mut consumer = ring
        .consumer()
        .expect("a consumer attaches after the receiver");
    let empty = ring.is_empty();
    let max = ring.max_record_len();
    let mut written = Vec::new();
    for (i, len) in [0, 5, 8, 13, max.min(100), max].into_iter().enumerate() {
        let key = 0x5eed_0000 + i as u64;
        let tag = i as u32 * 0x0101_0101;
        match producer.write(key, len, tag) {
            Ok(()) => written.push((key, len, tag)),
            Err(error) => {
                black_box(error.to_string());
                assert_eq!(error, ClaimError::Full, "lengths are at most the maximum");
                assert!(
                    !(sound && empty && i == 0),
                    "a record of {len} bytes was refused as Full by an empty ring \
                     (max_record_len {max})"
                );
            }
        }
    }
    let _ = ring.flush();
    if sound && empty {
        for &(key, len, tag) in &written {
            match consumer.try_recv() {
                Ok(record) => {
                    check_and_decode(&ring, &decoders, record.position(), &record, record.tag());
                    assert_eq!(*record, payload(key, len), "record {key:#x} read back");
                    assert_eq!(record.tag(), tag, "record {key:#x} read back");
                }
                other => panic!("record {key:#x} written to an empty ring, read {other:?}"),
            }
        }
    }
    drain(&ring, &mut consumer);
    true
}

/// Phase 3: looks up the dictionary through the ring file and through a
/// read-only observer of the same file, then registers a few entries.
fn look_up_and_register(ring: &RingFile, path: &Path, data: &[u8]) {
    let observer = RingObserver::open(path).expect("a file that opens is observed");
    let dict_len = ring.dictionary_len() as u64;
    assert_eq!(observer.dictionary_len() as u64, dict_len);
    assert!(observer.dictionary_used() <= observer.dictionary_len());
    // Every id the dictionary could hold, those just past it, and ids from
    // the input (ids are untrusted, as everything in an event record is).
    let last = u32::try_from(dict_len / 8).expect("the dictionary is at most 1 GiB");
    let from_input = data
        .chunks_exact(4)
        .take(16)
        .map(|word| u32::from_le_bytes(word.try_into().unwrap()));
    let ids = (0..=last.saturating_add(2))
        .chain([u32::MAX, u32::MAX / 8, u32::MAX - 7])
        .chain(from_input);
    for id in ids {
        let found = ring.fuzz_dictionary_entry(id);
        let observed = observer.fuzz_dictionary_entry(id);
        assert_eq!(
            found, observed,
            "id {id}: the ring file and its observer differ"
        );
        if let Some((off, payload)) = found {
            assert_eq!(
                off,
                u64::from(id) * 8 + 8,
                "id {id}: the payload follows its word"
            );
            assert!(
                off >= DICT_ENTRIES + 8,
                "id {id}: an entry among the dictionary's own bytes"
            );
            assert!(
                off + payload.len() as u64 <= dict_len,
                "id {id}: {} bytes at {off} cross the end of a dictionary of {dict_len}",
                payload.len()
            );
            black_box(payload.iter().fold(0u8, |x, &b| x ^ b));
        }
    }
    // Registering: entries cut from the input, read back from both views.
    // What `next` says is untrusted too: a damaged one registers nothing.
    for len in [0, 5, 64] {
        let bytes = &data[..len.min(data.len())];
        assert_eq!(observer.fuzz_dictionary_register(bytes), None, "read-only");
        let used = ring.dictionary_used();
        let Some(id) = ring.fuzz_dictionary_register(bytes) else {
            continue;
        };
        let (off, payload) = ring.fuzz_dictionary_entry(id).expect("a registered entry");
        assert_eq!(payload, bytes, "entry {id} read back");
        assert!(off + payload.len() as u64 <= dict_len);
        assert!(
            off >= used as u64,
            "entry {id} at {off}, below the {used} bytes in use"
        );
        assert_eq!(
            observer.fuzz_dictionary_entry(id),
            Some((off, payload)),
            "entry {id} seen by the observer"
        );
    }
    black_box(format!("{observer:?}"));
}
