//! A tour of the queues and channels: claim/commit, abort, truncate, tags,
//! `write!` into a claim, batch reads, producer threads feeding one consumer,
//! and a background logger thread that sleeps while the channel is idle.
//! Prints what it does.
//!
//! Run with `cargo run --release --example quickstart`.

use std::error::Error;
use std::fmt::Write as _;
use std::thread;
use std::time::{Duration, Instant};

use logring::channel::{self, RecvTimeoutError, SendError};
use logring::queue::{ClaimError, TryRecvError, mpsc, spsc};

fn main() -> Result<(), Box<dyn Error>> {
    in_place_records()?;
    producer_threads()?;
    background_logger()?;
    Ok(())
}

/// One thread: the record life cycle, step by step.
fn in_place_records() -> Result<(), Box<dyn Error>> {
    let (mut producer, mut consumer) = spsc::new(4096)?;
    println!(
        "SPSC ring: capacity {} bytes, records up to {} bytes",
        producer.capacity(),
        producer.max_record_len()
    );

    // Claim, write in place, commit.
    let line = b"08:00:00.000001 order accepted id=42";
    let mut claim = producer.try_claim(line.len())?;
    claim.copy_from_slice(line);
    claim.set_tag(1)?;
    claim.commit();

    // A claim that is dropped (or aborted) is skipped by the consumer.
    let claim = producer.try_claim(100)?;
    claim.abort();

    // Claim the worst case, write less, commit only what was written.
    let mut claim = producer.try_claim(64)?;
    let text = b"08:00:00.000002 fill qty=5";
    claim[..text.len()].copy_from_slice(text);
    claim.truncate(text.len());
    claim.set_tag(2)?;
    claim.commit();

    producer.try_send(b"")?; // zero-length records are records too

    match producer.try_claim(producer.max_record_len() + 1) {
        Err(ClaimError::TooLarge { len, max }) => {
            println!("claim of {len} bytes refused at once: the maximum is {max}")
        }
        other => return Err(format!("expected TooLarge, got {other:?}").into()),
    }

    println!("in use before reading: {} bytes", consumer.len_bytes());
    while let Ok(record) = consumer.try_recv() {
        println!(
            "read tag {} at position {:>3}: {:?}",
            record.tag(),
            record.position(),
            String::from_utf8_lossy(&record)
        );
    } // each record is released as its claim drops
    println!("in use after reading: {} bytes\n", consumer.len_bytes());
    Ok(())
}

/// Four producer threads, one consumer draining in batches.
fn producer_threads() -> Result<(), Box<dyn Error>> {
    const PRODUCERS: u64 = 4;
    const PER_PRODUCER: u64 = 250_000;

    let (producer, mut consumer) = mpsc::new(64 * 1024)?;
    let started = Instant::now();
    let workers: Vec<_> = (0..PRODUCERS)
        .map(|id| {
            let producer = producer.clone();
            thread::spawn(move || {
                let mut full = 0u64;
                for seq in 0..PER_PRODUCER {
                    let mut payload = [0u8; 16];
                    payload[..8].copy_from_slice(&id.to_le_bytes());
                    payload[8..].copy_from_slice(&seq.to_le_bytes());
                    while let Err(ClaimError::Full) = producer.try_send(&payload) {
                        full += 1;
                        thread::yield_now();
                    }
                }
                full
            })
        })
        .collect();
    drop(producer);

    let mut next = [0u64; PRODUCERS as usize];
    let mut received = 0u64;
    while received < PRODUCERS * PER_PRODUCER {
        let read = consumer.try_recv_batch(1024, |record| {
            let id = u64::from_le_bytes(record[..8].try_into().unwrap()) as usize;
            let seq = u64::from_le_bytes(record[8..].try_into().unwrap());
            assert_eq!(seq, next[id], "records of one producer arrive in order");
            next[id] += 1;
        });
        match read {
            Ok(n) => received += n as u64,
            Err(TryRecvError::Empty) => thread::yield_now(),
            // A damaged ring (only a ring file can be): stop, naming where.
            Err(error) => return Err(error.into()),
        }
    }
    let retries: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let elapsed = started.elapsed();
    println!(
        "MPSC: {PRODUCERS} producers sent {received} records in {:.1} ms ({:.1} M records/s), \
         every producer's order intact",
        elapsed.as_secs_f64() * 1e3,
        received as f64 / elapsed.as_secs_f64() / 1e6
    );
    println!(
        "the ring was full {} times (counted in the ring: {}); producers yielded and retried",
        retries,
        consumer.full_rejections()
    );
    Ok(())
}

/// A channel: two hot threads log lines, a background thread writes them out
/// in batches and sleeps whenever the channel is idle.
fn background_logger() -> Result<(), Box<dyn Error>> {
    const LINES: u64 = 100_000;

    let (tx, mut rx) = channel::mpsc::new(256 * 1024)?;
    let logger = thread::spawn(move || {
        let (mut lines, mut bytes, mut idle) = (0u64, 0usize, 0u64);
        loop {
            match rx.recv_batch_timeout(4096, Duration::from_millis(20), |line| {
                lines += 1;
                bytes += line.len();
            }) {
                Ok(_) => {}
                // Idle for 20 ms: a real logger would flush its file here.
                Err(RecvTimeoutError::Timeout) => idle += 1,
                // Every sender is gone and every line was received.
                Err(RecvTimeoutError::Disconnected) => return Ok((lines, bytes, idle)),
                // The ring is corrupt (`Corrupt`, naming the position): the
                // lines after it are lost, so say so rather than stop quietly.
                Err(error) => return Err(error),
            }
        }
    });

    let started = Instant::now();
    let workers: Vec<_> = (0..2u64)
        .map(|id| {
            let tx = tx.clone();
            thread::spawn(move || {
                let mut dropped = 0u64;
                for seq in 0..LINES {
                    if seq == LINES / 2 {
                        // A quiet spell: the logger goes to sleep, and the next
                        // commit wakes it.
                        thread::sleep(Duration::from_millis(50));
                    }
                    // Claim the longest line, format it in place (no
                    // String), commit what was written.
                    let mut claim = match tx.claim(48) {
                        Ok(claim) => claim,
                        // Hot paths never wait long: Full after a short spin.
                        Err(SendError::Full) => {
                            dropped += 1;
                            continue;
                        }
                        Err(other) => panic!("logger gone: {other}"),
                    };
                    write!(claim, "thread {id} event {seq:>8}").expect("a line fits in 48 bytes");
                    claim.commit(); // wakes the logger if it sleeps
                }
                dropped
            })
        })
        .collect();
    drop(tx);
    let dropped: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let (lines, bytes, idle) = logger.join().unwrap()?;
    println!(
        "\nchannel: 2 threads logged {lines} lines ({bytes} bytes) in {:.1} ms; \
         {dropped} dropped as Full; the logger found the channel idle {idle} times",
        started.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(
        lines + dropped,
        2 * LINES,
        "every line is received or counted"
    );
    Ok(())
}
