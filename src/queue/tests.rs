//! White-box tests of the queue protocol (corrupt words, positions).

use std::time::Duration;

use super::peers::Owner;
use super::{ClaimError, Consumer, TryRecvError, WriteClaim, mpsc, spsc};
use crate::error::{CorruptRing, Error, ReservedTag};
use crate::ring::Ring;
use crate::ring::layout::{EVENT_TAG_V1, MAX_CAPACITY, Mode, Word, span_of};
use crate::sync::Ordering::Relaxed;

/// Both producer types, so one test body covers both queues.
trait Produce {
    fn claim(&mut self, len: usize) -> Result<WriteClaim<'_>, ClaimError>;
    fn send(&mut self, payload: &[u8]) -> Result<(), ClaimError>;
}

impl Produce for spsc::Producer {
    fn claim(&mut self, len: usize) -> Result<WriteClaim<'_>, ClaimError> {
        self.try_claim(len)
    }
    fn send(&mut self, payload: &[u8]) -> Result<(), ClaimError> {
        self.try_send(payload)
    }
}

impl Produce for mpsc::Producer {
    fn claim(&mut self, len: usize) -> Result<WriteClaim<'_>, ClaimError> {
        self.try_claim(len)
    }
    fn send(&mut self, payload: &[u8]) -> Result<(), ClaimError> {
        self.try_send(payload)
    }
}

/// Runs `test` on a new SPSC queue, then on a new MPSC queue.
fn each_queue(capacity: usize, mut test: impl FnMut(&str, &mut dyn Produce, &mut Consumer)) {
    let (mut producer, mut consumer) = spsc::new(capacity).unwrap();
    test("spsc", &mut producer, &mut consumer);
    let (mut producer, mut consumer) = mpsc::new(capacity).unwrap();
    test("mpsc", &mut producer, &mut consumer);
}

fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(7) ^ salt).collect()
}

/// A ring whose consumer starts at `head`; tests write its words by hand.
fn consumer_at(capacity: usize, head: u64) -> (Ring, Consumer) {
    let ring = Ring::new_heap(Mode::Spsc, capacity).unwrap();
    ring.header().head.0.store(head, Relaxed);
    ring.header().tail.0.store(head, Relaxed);
    let consumer = Consumer::new(ring.share());
    (ring, consumer)
}

/// Claims `len` bytes at `pos`, as a producer's `reserve` would.
fn claim_at(ring: &Ring, pos: u64, len: u64) -> WriteClaim<'_> {
    ring.word(pos).store(Word::claimed(len, 0), Relaxed);
    WriteClaim::new(ring, pos, len)
}

/// Writes a committed record with `payload` at `pos`, as a producer would.
fn commit_at(ring: &Ring, pos: u64, payload: &[u8], tag: u32) {
    let mut claim = claim_at(ring, pos, payload.len() as u64);
    claim.copy_from_slice(payload);
    claim.set_tag(tag).unwrap();
    claim.commit();
}

/// The consumer reports the corrupt `word` at `position`, keeps reporting it,
/// delivers nothing, and has released nothing past it.
fn assert_corrupt(
    ring: &Ring,
    consumer: &mut Consumer,
    position: u64,
    word: u64,
    reason: &'static str,
) {
    let expected = CorruptRing {
        position,
        word,
        reason,
    };
    let expected_error = Some(TryRecvError::Corrupt(expected));
    assert_eq!(consumer.try_recv().err(), expected_error, "word {word:#x}");
    assert_eq!(consumer.corruption(), Some(expected));
    assert_eq!(consumer.try_recv().err(), expected_error, "sticky");
    assert_eq!(
        consumer.try_recv_batch(usize::MAX, |record| panic!("delivered {record:?}")),
        Err(TryRecvError::Corrupt(expected))
    );
    assert_eq!(
        consumer.try_recv_batch(0, |record| panic!("delivered {record:?}")),
        Ok(0),
        "a batch of none reads nothing, not even the corruption"
    );
    assert_eq!(ring.header().head.0.load(Relaxed), position);
    assert_eq!(ring.word(position).load(Relaxed), word, "left in place");
}

const UNKNOWN_STATE: &str = "unknown record state";
const BAD_LENGTH: &str = "record length out of bounds";
const BAD_PADDING: &str = "padding span out of bounds";

#[test]
fn words_in_no_known_state_are_corrupt() {
    for word in [1, 5 << 32, Word::padding(8) | 1 << 40, u64::MAX] {
        let (ring, mut consumer) = consumer_at(64, 0);
        ring.word(0).store(word, Relaxed);
        assert_corrupt(&ring, &mut consumer, 0, word, UNKNOWN_STATE);
    }
}

#[test]
fn committed_lengths_above_the_maximum_are_corrupt() {
    let (ring, mut consumer) = consumer_at(64, 0);
    commit_at(&ring, 0, &[9; 24], 0);
    assert_eq!(consumer.max_record_len(), 24);
    assert_eq!(
        &*consumer.try_recv().unwrap(),
        &[9; 24],
        "the maximum is fine"
    );

    for len in [25, (1 << 30) - 1] {
        let (ring, mut consumer) = consumer_at(64, 0);
        let word = Word::committed(len, 7);
        ring.word(0).store(word, Relaxed);
        assert_corrupt(&ring, &mut consumer, 0, word, BAD_LENGTH);
    }
}

#[test]
fn committed_records_running_past_the_end_are_corrupt() {
    // Index 48 of 64 leaves 16 bytes: a record word and 8 payload bytes.
    let (ring, mut consumer) = consumer_at(64, 48);
    commit_at(&ring, 48, &[1; 8], 0);
    commit_at(&ring, 64, &[], 0);
    assert_eq!(consumer.try_recv().unwrap().len(), 8);
    assert_eq!(consumer.try_recv().unwrap().position(), 64);

    // Lengths within the maximum whose spans do not fit before the end. The
    // last would have the consumer read 24 bytes past the end of the region.
    for (head, len) in [(48, 9), (3 * 64 + 48, 16), (56, 1), (56, 24)] {
        let (ring, mut consumer) = consumer_at(64, head);
        let word = Word::committed(len, 0);
        ring.word(head).store(word, Relaxed);
        assert_corrupt(&ring, &mut consumer, head, word, BAD_LENGTH);
    }
}

#[test]
fn padding_of_a_bad_span_is_corrupt() {
    // Padding that ends exactly at the end of the data area is fine.
    let (ring, mut consumer) = consumer_at(64, 56);
    ring.word(56).store(Word::padding(8), Relaxed);
    commit_at(&ring, 64, &[2], 0);
    assert_eq!(consumer.try_recv().unwrap().position(), 64);

    for (head, span) in [(0, 0), (0, 12), (8, 4), (56, 16), (0, 72), (64 + 32, 40)] {
        let (ring, mut consumer) = consumer_at(64, head);
        let word = Word::padding(span);
        ring.word(head).store(word, Relaxed);
        assert_corrupt(&ring, &mut consumer, head, word, BAD_PADDING);
    }
}

#[test]
fn records_before_a_corrupt_word_are_delivered_and_none_after() {
    let capacity = 256;
    let start = 5 * capacity + 16;
    let (ring, mut consumer) = consumer_at(capacity as usize, start);
    commit_at(&ring, start, b"abc", 9);
    commit_at(&ring, start + 16, b"defgh", 10);
    ring.word(start + 32).store(Word::padding(16), Relaxed);
    let bad = start + 48;
    ring.word(bad).store(Word::padding(3), Relaxed);
    commit_at(&ring, bad + 8, b"never", 11);

    let first = consumer.try_recv().unwrap();
    assert_eq!(
        (&*first, first.tag(), first.position()),
        (&b"abc"[..], 9, start)
    );
    drop(first);
    let mut seen = Vec::new();
    let count = consumer.try_recv_batch(usize::MAX, |record| seen.push(record.to_vec()));
    assert_eq!((count, seen), (Ok(1), vec![b"defgh".to_vec()]));
    assert_corrupt(&ring, &mut consumer, bad, Word::padding(3), BAD_PADDING);
}

#[test]
fn a_claimed_word_is_waited_on_not_followed() {
    let (ring, mut consumer) = consumer_at(64, 0);
    ring.word(0).store(Word::claimed(5, 77), Relaxed);
    commit_at(&ring, 16, b"later", 0);
    assert_eq!(consumer.try_recv().err(), Some(TryRecvError::Empty));
    assert_eq!(consumer.corruption(), None);
    assert_eq!(ring.header().head.0.load(Relaxed), 0);
}

#[test]
fn truncation_pads_the_remainder_and_release_zeroes_what_the_mode_needs() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let ring = Ring::new_heap(mode, 64).unwrap();
        let mut consumer = Consumer::new(ring.share());
        let mut claim = claim_at(&ring, 0, 10);
        assert_eq!(ring.word(0).load(Relaxed), Word::claimed(10, 0));
        claim.fill(0xff);
        claim.set_tag(5).unwrap();
        claim.truncate(3);
        claim.commit();
        assert_eq!(ring.word(0).load(Relaxed), Word::committed(3, 5));
        assert_eq!(ring.word(16).load(Relaxed), Word::padding(8));

        let mut aborted = claim_at(&ring, 24, 5);
        aborted.fill(0xee);
        drop(aborted);
        assert_eq!(ring.word(24).load(Relaxed), Word::padding(16));
        commit_at(&ring, 40, &[0xdd; 16], 6);

        assert_eq!(&*consumer.try_recv().unwrap(), &[0xff; 3]);
        assert_eq!(&*consumer.try_recv().unwrap(), &[0xdd; 16]);
        assert_eq!(consumer.try_recv().err(), Some(TryRecvError::Empty));
        assert_eq!(ring.header().head.0.load(Relaxed), 64);
        // MPSC zeroes every consumed byte; SPSC zeroes the record words (its
        // producer keeps the word past each claim clean itself).
        let zeroed: Vec<u64> = match mode {
            Mode::Mpsc => (0..64).step_by(8).collect(),
            Mode::Spsc => vec![0, 16, 24, 40],
        };
        for pos in zeroed {
            assert_eq!(
                ring.word(pos).load(Relaxed),
                0,
                "{mode:?}: word at {pos} left"
            );
        }
    }
}

#[test]
fn zero_length_records_are_empty_slices() {
    each_queue(64, |queue, producer, consumer| {
        producer.send(&[]).unwrap();
        let mut claim = producer.claim(0).unwrap();
        assert!(claim.is_empty());
        claim.set_tag(3).unwrap();
        claim.commit();
        producer.claim(0).unwrap().abort();
        producer.send(&[]).unwrap();

        let record = consumer.try_recv().unwrap();
        assert_eq!(
            (record.len(), record.tag(), record.position()),
            (0, 0, 0),
            "{queue}"
        );
        drop(record);
        let record = consumer.try_recv().unwrap();
        assert_eq!(
            (record.len(), record.tag(), record.position()),
            (0, 3, 8),
            "{queue}"
        );
        drop(record);
        let mut seen = Vec::new();
        let count = consumer.try_recv_batch(usize::MAX, |record| {
            seen.push((record.to_vec(), record.position()));
        });
        assert_eq!(count, Ok(1), "{queue}");
        assert_eq!(seen, vec![(vec![], 24)], "{queue}");
        assert!(consumer.is_empty(), "{queue}");
    });
}

#[test]
fn every_length_fits_an_empty_ring_at_every_position() {
    for capacity in [64, 256] {
        each_queue(capacity, |queue, producer, consumer| {
            let cap = capacity as u64;
            let max = consumer.max_record_len();
            assert_eq!(max, capacity / 2 - 8);
            let mut tail = 0;
            for start in (0..cap).step_by(8) {
                // Under Miri, only lengths 8k and 8k + 1: the longest payload
                // of each span and the shortest of the next.
                let lengths = (0..=max).filter(|len| !cfg!(miri) || len % 8 <= 1 || *len == max);
                for len in lengths {
                    // Move the (empty) ring on to `start` with records that
                    // need no padding.
                    while tail % cap != start {
                        let room = cap - tail % cap;
                        let gap = (start + cap - tail % cap) % cap;
                        let span = gap.min(room).min(cap / 2);
                        let filler = producer.claim(span as usize - 8).unwrap();
                        assert_eq!(filler.position(), tail, "{queue}");
                        filler.commit();
                        drop(consumer.try_recv().unwrap());
                        tail += span;
                    }
                    let mut claim = producer.claim(len).unwrap_or_else(|err| {
                        panic!("{queue} {capacity}: {len} bytes at index {start}: {err}")
                    });
                    let room = cap - start;
                    let pos = if span_of(len as u64) <= room {
                        tail
                    } else {
                        tail + room
                    };
                    assert_eq!(
                        claim.position(),
                        pos,
                        "{queue} {capacity}: {len} at {start}"
                    );
                    let bytes = pattern(len, start as u8);
                    claim.copy_from_slice(&bytes);
                    claim.commit();
                    let record = consumer.try_recv().unwrap();
                    assert_eq!((&*record, record.position()), (&bytes[..], pos));
                    drop(record);
                    assert!(consumer.is_empty(), "{queue}");
                    tail = pos + span_of(len as u64);
                }
            }
        });
    }
}

#[test]
fn too_large_is_refused_at_once_even_when_full() {
    each_queue(64, |queue, producer, consumer| {
        let max = consumer.max_record_len();
        let too_large = |len| Some(ClaimError::TooLarge { len, max });
        assert_eq!(producer.claim(max + 1).err(), too_large(max + 1), "{queue}");
        assert_eq!(producer.claim(usize::MAX).err(), too_large(usize::MAX));
        assert_eq!(producer.send(&[0; 25]), Err(too_large(25).unwrap()));

        producer.send(&[1; 24]).unwrap();
        producer.send(&[2; 24]).unwrap();
        assert_eq!(consumer.len_bytes(), 64, "{queue}");
        assert_eq!(producer.claim(0).err(), Some(ClaimError::Full));
        assert_eq!(producer.claim(max + 1).err(), too_large(max + 1));
        assert_eq!(producer.claim(usize::MAX).err(), too_large(usize::MAX));
        assert_eq!(consumer.full_rejections(), 1, "TooLarge is not counted");
    });
}

#[test]
fn bad_capacities_are_errors() {
    for requested in [0, 1, 63] {
        let expected = Error::CapacityTooSmall { requested, min: 64 };
        assert_eq!(spsc::new(requested).err(), Some(expected.clone()));
        assert_eq!(mpsc::new(requested).err(), Some(expected));
    }
    for requested in [usize::MAX, usize::MAX / 2 + 2, MAX_CAPACITY as usize + 1] {
        let expected = Error::CapacityTooLarge {
            requested,
            max: MAX_CAPACITY as usize,
        };
        assert_eq!(spsc::new(requested).err(), Some(expected.clone()));
        assert_eq!(mpsc::new(requested).err(), Some(expected));
    }
}

#[test]
fn full_rejections_count_every_full_claim() {
    let (mut producer, consumer) = spsc::new(64).unwrap();
    producer.try_send(&[0; 40]).unwrap_err();
    producer.try_send(&[0; 16]).unwrap();
    producer.try_send(&[0; 24]).unwrap();
    // 8 bytes are left before the end of the data area: each of these needs
    // them as padding, then more.
    for _ in 0..3 {
        assert_eq!(producer.try_claim(24).err(), Some(ClaimError::Full));
    }
    assert_eq!(producer.try_send(&[0; 16]), Err(ClaimError::Full));
    assert_eq!(
        (producer.full_rejections(), consumer.full_rejections()),
        (4, 4)
    );

    let (producer, consumer) = mpsc::new(64).unwrap();
    let clone = producer.clone();
    producer.try_send(&[0; 24]).unwrap();
    clone.try_send(&[0; 24]).unwrap();
    assert_eq!(producer.try_claim(0).err(), Some(ClaimError::Full));
    assert_eq!(clone.try_claim(0).err(), Some(ClaimError::Full));
    assert_eq!(clone.try_send(&[0; 24]), Err(ClaimError::Full));
    let counts = [
        producer.full_rejections(),
        clone.full_rejections(),
        consumer.full_rejections(),
    ];
    assert_eq!(counts, [3; 3]);
}

#[test]
fn truncate_then_commit_delivers_the_prefix_and_skips_the_rest() {
    each_queue(256, |queue, producer, consumer| {
        let bytes = pattern(40, 1);
        let mut claim = producer.claim(40).unwrap();
        let pos = claim.position();
        claim.copy_from_slice(&bytes);
        claim.truncate(100);
        assert_eq!(claim.len(), 40, "{queue}: truncating up has no effect");
        claim.truncate(10);
        assert_eq!(&*claim, &bytes[..10], "{queue}");
        claim.commit();
        let mut claim = producer.claim(16).unwrap();
        claim.truncate(0);
        claim.commit();
        producer.send(b"next").unwrap();

        let record = consumer.try_recv().unwrap();
        assert_eq!(
            (&*record, record.position()),
            (&bytes[..10], pos),
            "{queue}"
        );
        drop(record);
        let record = consumer.try_recv().unwrap();
        assert_eq!((record.len(), record.position()), (0, pos + 48), "{queue}");
        drop(record);
        let record = consumer.try_recv().unwrap();
        assert_eq!((&*record, record.position()), (&b"next"[..], pos + 48 + 24));
        drop(record);
        assert_eq!(consumer.try_recv().err(), Some(TryRecvError::Empty));
        assert!(consumer.is_empty(), "{queue}");
    });
}

#[test]
fn tags_round_trip() {
    const TAGS: [u32; 5] = [0, 1, 0x8000_0000, 0xdead_beef, 0xffff_feff];
    each_queue(256, |queue, producer, consumer| {
        for (round, read_in_batch) in [false, true].into_iter().enumerate() {
            for (i, tag) in TAGS.into_iter().enumerate() {
                let mut claim = producer.claim(i).unwrap();
                claim.set_tag(tag).unwrap();
                assert_eq!(claim.tag(), tag);
                claim.commit();
            }
            let mut tags = Vec::new();
            if read_in_batch {
                let count = consumer.try_recv_batch(usize::MAX, |record| tags.push(record.tag()));
                assert_eq!(count, Ok(TAGS.len()), "{queue}");
            } else {
                while let Ok(record) = consumer.try_recv() {
                    tags.push(record.tag());
                }
            }
            assert_eq!(tags, TAGS, "{queue}, round {round}");
        }
    });
}

#[test]
fn reserved_tags_are_refused() {
    each_queue(256, |queue, producer, consumer| {
        let mut claim = producer.claim(1).unwrap();
        claim.copy_from_slice(b"x");
        claim.set_tag(5).unwrap();
        for tag in [0xffff_ff00, EVENT_TAG_V1, 0xffff_fffe, u32::MAX] {
            let refused = claim.set_tag(tag).unwrap_err();
            assert_eq!(refused, ReservedTag::check(tag).unwrap_err(), "{queue}");
            assert_eq!((refused.tag(), claim.tag()), (tag, 5), "{queue}");
            assert_eq!(
                refused.to_string(),
                format!(
                    "tag {tag:#010x} is reserved for logring's own records \
                     (0xffffff00..=0xffffffff)"
                )
            );
        }
        claim.set_tag(0xffff_feff).unwrap();
        claim.commit();
        // The crate's own records carry them.
        let mut claim = producer.claim(0).unwrap();
        claim.set_tag_unchecked(EVENT_TAG_V1);
        claim.commit();
        let record = consumer.try_recv().unwrap();
        assert_eq!(
            (&*record, record.tag()),
            (&b"x"[..], 0xffff_feff),
            "{queue}"
        );
        drop(record);
        assert_eq!(consumer.try_recv().unwrap().tag(), EVENT_TAG_V1, "{queue}");
    });
}

#[test]
fn a_batch_over_a_full_ring_delivers_each_record_once() {
    each_queue(64, |queue, producer, consumer| {
        producer.send(b"first").unwrap();
        producer.send(b"second").unwrap();
        // 16 + 16 + 32 bytes: the ring is exactly full.
        let mut claim = producer.claim(24).unwrap();
        claim.fill(3);
        claim.commit();
        assert_eq!(consumer.len_bytes(), 64, "{queue}");

        let mut seen = Vec::new();
        let count = consumer.try_recv_batch(4, |record| seen.push(record.position()));
        assert_eq!((count, seen), (Ok(3), vec![0, 16, 32]), "{queue}");
        assert!(consumer.is_empty(), "{queue}");
    });
}

#[test]
fn a_full_ring_of_aborted_claims_reads_as_empty() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let (mut producer, mut consumer): (Box<dyn Produce + Send>, Consumer) = match mode {
            Mode::Spsc => {
                let (producer, consumer) = spsc::new(64).unwrap();
                (Box::new(producer), consumer)
            }
            Mode::Mpsc => {
                let (producer, consumer) = mpsc::new(64).unwrap();
                (Box::new(producer), consumer)
            }
        };
        producer.claim(24).unwrap().abort();
        producer.claim(24).unwrap().abort();
        assert_eq!(consumer.len_bytes(), 64);

        // The read runs on its own thread with a generous deadline, so that a
        // consumer that never returns fails the test instead of hanging it.
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let empty = consumer.try_recv().err() == Some(TryRecvError::Empty);
            done.send((empty, consumer)).unwrap();
        });
        let (empty, mut consumer) = finished
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{mode:?}: try_recv did not return"));
        assert!(empty, "{mode:?}");
        assert!(consumer.is_empty(), "{mode:?}: the padding is released");
        producer.send(b"after").unwrap();
        assert_eq!(&*consumer.try_recv().unwrap(), b"after");
    }
}

/// A producer that dies after `reserve` published part of a claim past the
/// shared tail: the padding word at `tail`, then `Claimed` at index 0.
fn die_mid_reserve(ring: &Ring, len: usize) -> u64 {
    let mut dead = spsc::Producer::new(ring.share(), Owner::LOCAL);
    let tail = ring.header().tail.0.load(Relaxed);
    let pos = dead.reserve(len).unwrap();
    // The tail store was the last thing it did not get to.
    ring.header().tail.0.store(tail, Relaxed);
    pos
}

#[test]
fn a_new_spsc_producer_pads_what_a_dead_one_began_past_the_tail() {
    let ring = Ring::new_heap(Mode::Spsc, 64).unwrap();
    let mut consumer = Consumer::attach(ring.share(), None, 0);
    let mut first = spsc::Producer::new(ring.share(), Owner::LOCAL);
    first.try_send(&[1; 16]).unwrap(); // [0, 24)
    first.try_send(&[1; 8]).unwrap(); // [24, 40)
    assert_eq!(consumer.try_recv_batch(2, |_| {}), Ok(2));
    drop(first);
    // 24 bytes (a span of 32) do not fit before the end: padding [40, 64),
    // claim at 64.
    let pos = die_mid_reserve(&ring, 24);
    assert_eq!(pos, 64);
    assert_eq!(ring.header().tail.0.load(Relaxed), 40);

    let mut second = spsc::Producer::new(ring.share(), Owner::LOCAL);
    assert_eq!(ring.header().tail.0.load(Relaxed), 64 + 32);
    assert_eq!(ring.word(64).load(Relaxed), Word::padding(32));
    // The consumer passes both paddings, which frees their space.
    assert_eq!(consumer.try_recv().err(), Some(TryRecvError::Empty));
    assert_eq!(ring.header().head.0.load(Relaxed), 96);
    second.try_send(&[2; 8]).unwrap();
    assert_eq!(&*consumer.try_recv().unwrap(), &[2; 8]);
    assert_eq!(consumer.try_recv().err(), Some(TryRecvError::Empty));
    assert_eq!(consumer.skipped_claims(), 0);
}

#[test]
fn a_new_spsc_producer_starts_past_a_consumer_that_passed_the_old_tail() {
    let ring = Ring::new_heap(Mode::Spsc, 64).unwrap();
    let mut consumer = Consumer::attach(ring.share(), None, 0);
    let mut first = spsc::Producer::new(ring.share(), Owner::LOCAL);
    first.try_send(&[1; 16]).unwrap();
    first.try_send(&[1; 8]).unwrap();
    assert_eq!(consumer.try_recv_batch(2, |_| {}), Ok(2));
    drop(first);
    die_mid_reserve(&ring, 24);
    // The consumer follows the padding and waits at the claim, then skips it
    // (its producer is known gone), before the new producer looks.
    assert_eq!(consumer.try_recv().err(), Some(TryRecvError::Empty));
    assert_eq!(ring.header().head.0.load(Relaxed), 64);
    // SAFETY: the claim's producer is gone.
    assert!(unsafe { consumer.skip_abandoned() });
    assert_eq!(ring.header().head.0.load(Relaxed), 96);

    let mut second = spsc::Producer::new(ring.share(), Owner::LOCAL);
    assert_eq!(ring.header().tail.0.load(Relaxed), 96);
    second.try_send(&[2; 8]).unwrap();
    assert_eq!(&*consumer.try_recv().unwrap(), &[2; 8]);
    assert_eq!(consumer.skipped_claims(), 1);
}

#[test]
fn a_claim_under_the_tail_is_left_for_the_consumer_to_skip() {
    let ring = Ring::new_heap(Mode::Spsc, 256).unwrap();
    let mut consumer = Consumer::new(ring.share());
    let mut first = spsc::Producer::new(ring.share(), Owner::LOCAL);
    first.try_send(&[1; 8]).unwrap();
    std::mem::forget(first.try_claim(8).unwrap());
    drop(first);
    let mut second = spsc::Producer::new(ring.share(), Owner::LOCAL);
    second.try_send(&[2; 8]).unwrap();
    assert_eq!(&*consumer.try_recv().unwrap(), &[1; 8]);
    assert_eq!(
        consumer.try_recv().err(),
        Some(TryRecvError::Empty),
        "a claim is waited on"
    );
    // SAFETY: the claim's producer is gone.
    assert!(unsafe { consumer.skip_abandoned() });
    assert_eq!(&*consumer.try_recv().unwrap(), &[2; 8]);
    assert_eq!(consumer.skipped_claims(), 1);
}

#[test]
fn a_consumer_finishes_the_release_its_predecessor_died_in() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let ring = Ring::new_heap(mode, 128).unwrap();
        let mut producer: Box<dyn Produce> = match mode {
            Mode::Spsc => Box::new(spsc::Producer::new(ring.share(), Owner::LOCAL)),
            Mode::Mpsc => Box::new(mpsc::Producer::new(ring.share(), Owner::LOCAL)),
        };
        let mut consumer = Consumer::attach(ring.share(), None, 0);
        producer.send(&[9; 40]).unwrap(); // [0, 48)
        producer.send(&[9; 40]).unwrap(); // [48, 96)
        assert_eq!(consumer.try_recv_batch(2, |_| {}), Ok(2));
        // The half-released range will cross the end of the data area.
        producer.send(&[1; 32]).unwrap(); // padding [96, 128), [128, 168)
        producer.send(&[2; 8]).unwrap(); // [168, 184)
        producer.send(&[3; 8]).unwrap(); // [184, 200)
        // The consumer delivered two records and zeroed them, but died before
        // publishing head: `consumed` says how far it got.
        let mut delivered = 0;
        assert_eq!(consumer.try_recv_batch(2, |_| delivered += 1), Ok(2));
        assert_eq!(delivered, 2);
        drop(consumer);
        ring.header().head.0.store(96, Relaxed); // the store it never made
        assert_eq!(ring.header().consumed.0.load(Relaxed), 184);

        let mut next = Consumer::attach(ring.share(), None, 0);
        assert_eq!(ring.header().head.0.load(Relaxed), 184, "{mode:?}");
        assert_eq!(&*next.try_recv().unwrap(), &[3; 8], "{mode:?}");
        assert_eq!(next.try_recv().err(), Some(TryRecvError::Empty));
        for pos in [96, 128, 168] {
            assert_eq!(ring.word(pos).load(Relaxed), 0, "{mode:?} word {pos}");
        }
    }
}

#[test]
fn a_consumer_redelivers_what_its_predecessor_read_but_did_not_release() {
    let ring = Ring::new_heap(Mode::Mpsc, 256).unwrap();
    let producer = mpsc::Producer::new(ring.share(), Owner::LOCAL);
    let mut consumer = Consumer::new(ring.share());
    producer.try_send(&[1; 8]).unwrap();
    producer.try_send(&[2; 8]).unwrap();
    let record = consumer.try_recv().unwrap();
    assert_eq!(&*record, &[1; 8]);
    std::mem::forget(record); // dies holding it: never released
    drop(consumer);
    let mut next = Consumer::attach(ring.share(), None, 0);
    assert_eq!(&*next.try_recv().unwrap(), &[1; 8]);
    assert_eq!(&*next.try_recv().unwrap(), &[2; 8]);
}

#[test]
fn positions_wrap_around_the_end_of_u64() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let ring = Ring::new_heap(mode, 128).unwrap();
        let start = u64::MAX - 63; // 64 bytes short of 2^64
        for word in [
            &ring.header().head.0,
            &ring.header().tail.0,
            &ring.header().consumed.0,
        ] {
            word.store(start, Relaxed);
        }
        let mut producer: Box<dyn Produce> = match mode {
            Mode::Spsc => Box::new(spsc::Producer::new(ring.share(), Owner::LOCAL)),
            Mode::Mpsc => Box::new(mpsc::Producer::new(ring.share(), Owner::LOCAL)),
        };
        let mut consumer = Consumer::new(ring.share());
        for round in 0..20u8 {
            let payload = pattern(usize::from(round) % 40, round);
            producer.send(&payload).unwrap();
            assert_eq!(
                &*consumer.try_recv().unwrap(),
                &payload[..],
                "{mode:?} {round}"
            );
        }
        assert!(
            ring.header().head.0.load(Relaxed) < start,
            "{mode:?}: wrapped past 2^64"
        );
    }
}

#[test]
fn an_mpsc_producer_moves_a_tail_the_consumer_is_past() {
    // Only a damaged ring file has a head past its tail; every claim would
    // be refused for ever.
    let ring = Ring::new_heap(Mode::Mpsc, 256).unwrap();
    ring.header().head.0.store(64, Relaxed);
    let producer = mpsc::Producer::new(ring.share(), Owner::LOCAL);
    let mut consumer = Consumer::new(ring.share());
    producer.try_send(b"again").unwrap();
    assert_eq!(ring.header().tail.0.load(Relaxed), 64 + 16);
    assert_eq!(&*consumer.try_recv().unwrap(), b"again");
}

#[test]
fn an_unread_record_is_read_again_and_holds_its_space() {
    each_queue(256, |name, producer, consumer| {
        // Three laps, so that some records follow wrap padding.
        for round in 0..24u8 {
            let record = pattern(40 + round as usize % 3 * 8, round);
            producer.send(&record).unwrap();
            let before = consumer.len_bytes();
            let first = consumer.try_recv().expect("a record");
            assert_eq!(&*first, &record[..], "{name} round {round}");
            let position = first.position();
            first.unread();
            assert_eq!(consumer.len_bytes(), before, "{name}: nothing released");
            for _ in 0..2 {
                let again = consumer.try_recv().expect("the same record");
                assert_eq!((&*again, again.position()), (&record[..], position));
                again.unread();
            }
            consumer.try_recv().expect("the same record").release();
            assert_eq!(
                consumer.try_recv().err(),
                Some(TryRecvError::Empty),
                "{name}: read once released"
            );
        }
    });
}

// `io::Write` and `fmt::Write` on a claim: they append at a cursor, all or
// nothing per call, and once they were used, commit publishes what they
// wrote. (Each test brings one of the two traits into scope at a time: both
// have a `write_fmt`, which `write!` calls.)

#[test]
fn write_formats_in_place_and_commit_publishes_what_was_written() {
    each_queue(256, |queue, producer, consumer| {
        let mut claim = producer.claim(64).unwrap();
        let pos = claim.position();
        {
            use std::fmt::Write as _;
            write!(claim, "order {} filled at {:.2}", 42, 101.5).unwrap();
        }
        claim.set_tag(9).unwrap();
        claim.commit();

        let mut claim = producer.claim(16).unwrap();
        {
            use std::io::Write as _;
            claim.write_all(b"io ").unwrap();
            assert_eq!(claim.write(b"write").unwrap(), 5);
            let mark = '!';
            write!(claim, "{mark}").unwrap();
            claim.flush().unwrap();
        }
        claim.commit();

        let record = consumer.try_recv().unwrap();
        assert_eq!(
            (&*record, record.tag(), record.position()),
            (&b"order 42 filled at 101.50"[..], 9, pos),
            "{queue}"
        );
        drop(record);
        assert_eq!(&*consumer.try_recv().unwrap(), b"io write!", "{queue}");
        // The unwritten rest of each claim became padding, which the
        // consumer passed: the next claim starts after both whole claims.
        assert_eq!(consumer.try_recv().err(), Some(TryRecvError::Empty));
        assert!(consumer.is_empty(), "{queue}");
        let next = producer.claim(0).unwrap();
        assert_eq!(next.position(), pos + span_of(64) + span_of(16), "{queue}");
        next.abort();
    });
}

#[test]
fn a_write_that_does_not_fit_writes_nothing_and_fails() {
    use std::io::ErrorKind::WriteZero;
    each_queue(256, |queue, producer, consumer| {
        let mut claim = producer.claim(8).unwrap();
        {
            use std::io::Write as _;
            claim.write_all(b"abc").unwrap();
            // 6 bytes do not fit in the 5 left: none of them is written.
            assert_eq!(claim.write(b"defghi").unwrap_err().kind(), WriteZero);
            assert_eq!(claim.write_all(b"defghi").unwrap_err().kind(), WriteZero);
            let rest = "defghi";
            assert_eq!(write!(claim, "{rest}").unwrap_err().kind(), WriteZero);
        }
        {
            use std::fmt::Write as _;
            assert_eq!(claim.write_str("defghi"), Err(std::fmt::Error));
            let rest = "defghi";
            assert_eq!(write!(claim, "{rest}"), Err(std::fmt::Error));
            // The cursor did not move: exactly what is left still fits.
            claim.write_str("de").unwrap();
        }
        {
            use std::io::Write as _;
            claim.write_all(b"fgh").unwrap();
            assert_eq!(claim.write(b"i").unwrap_err().kind(), WriteZero);
        }
        claim.commit();
        assert_eq!(&*consumer.try_recv().unwrap(), b"abcdefgh", "{queue}");
    });
}

#[test]
fn a_claim_a_write_failed_on_commits_what_was_written_or_aborts() {
    use std::fmt::Write as _;
    each_queue(256, |queue, producer, consumer| {
        // Committed: what was written before the failed write.
        let mut claim = producer.claim(4).unwrap();
        claim.write_str("ok").unwrap();
        assert!(claim.write_str("too long").is_err());
        claim.commit();
        assert_eq!(&*consumer.try_recv().unwrap(), b"ok", "{queue}");
        // Dropped or aborted: the claim is given back.
        let mut claim = producer.claim(4).unwrap();
        claim.write_str("ab").unwrap();
        assert!(claim.write_str("too long").is_err());
        drop(claim);
        let mut claim = producer.claim(4).unwrap();
        assert!(claim.write_str("12345").is_err());
        claim.abort();
        assert_eq!(consumer.try_recv().err(), Some(TryRecvError::Empty));
        assert!(consumer.is_empty(), "{queue}: aborted claims are released");
    });
}

#[test]
fn truncating_below_the_write_cursor_keeps_the_first_bytes() {
    use std::io::Write as _;
    each_queue(256, |queue, producer, consumer| {
        let mut claim = producer.claim(16).unwrap();
        claim.write_all(b"hello world").unwrap();
        claim.truncate(5);
        assert_eq!(&*claim, b"hello", "{queue}");
        // Nothing is left to write into.
        assert!(claim.write_all(b"!").is_err());
        claim.commit();

        // A truncation above the cursor leaves it: commit publishes the
        // bytes written.
        let mut claim = producer.claim(16).unwrap();
        claim.write_all(b"abc").unwrap();
        claim.truncate(8);
        assert_eq!(claim.len(), 8, "{queue}");
        claim.write_all(b"de").unwrap();
        claim.commit();

        // Truncating first, then writing, stays within the new length.
        let mut claim = producer.claim(16).unwrap();
        claim.truncate(3);
        assert!(claim.write_all(b"wxyz").is_err());
        claim.write_all(b"wxy").unwrap();
        claim.commit();

        assert_eq!(&*consumer.try_recv().unwrap(), b"hello", "{queue}");
        assert_eq!(&*consumer.try_recv().unwrap(), b"abcde", "{queue}");
        assert_eq!(&*consumer.try_recv().unwrap(), b"wxy", "{queue}");
        assert_eq!(consumer.try_recv().err(), Some(TryRecvError::Empty));
        assert!(consumer.is_empty(), "{queue}");
    });
}

#[test]
fn commit_without_a_write_publishes_the_whole_claim() {
    each_queue(256, |queue, producer, consumer| {
        let mut claim = producer.claim(10).unwrap();
        claim[..3].copy_from_slice(b"abc");
        claim[3..].fill(b'-');
        claim.commit();
        assert_eq!(&*consumer.try_recv().unwrap(), b"abc-------", "{queue}");
    });
}

#[test]
fn an_empty_claim_takes_empty_writes_only() {
    each_queue(256, |queue, producer, consumer| {
        let mut claim = producer.claim(0).unwrap();
        {
            use std::io::Write as _;
            assert_eq!(claim.write(b"").unwrap(), 0, "{queue}");
            assert_eq!(
                claim.write(b"x").unwrap_err().kind(),
                std::io::ErrorKind::WriteZero
            );
        }
        {
            use std::fmt::Write as _;
            claim.write_str("").unwrap();
            assert_eq!(claim.write_str("x"), Err(std::fmt::Error));
        }
        claim.set_tag(4).unwrap();
        claim.commit();
        let record = consumer.try_recv().unwrap();
        assert_eq!((record.len(), record.tag()), (0, 4), "{queue}");
    });
}
