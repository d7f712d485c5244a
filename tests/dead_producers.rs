//! MPSC producer processes killed with `SIGKILL` at random moments, while a
//! following receiver (the README's tailer) sleeps and wakes in `recv`.
//!
//! A producer killed between reserving space (its compare-and-swap on the
//! tail) and marking it `Claimed` leaves an empty word that no live process
//! will ever fill or wake anyone about. The test counts those kills itself,
//! from the ring's header, and goes on killing until it has seen several;
//! for each, the receiver must step over the gap by itself. A receiver that
//! never does wedges the ring: every producer then gets `Full` for ever.
//!
//! The rest is checked on every record: each producer's records arrive in
//! order, none twice, and none missing before the last one received (a
//! killed producer's final claim may be skipped, never an earlier record).

#![cfg(all(target_os = "linux", feature = "mmap", not(miri)))]

#[macro_use]
mod process;
mod ringfile;

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use logring::channel::SendError;
use logring::file::{Mode, RingFile};
use process::{Proc, TempPath, create};
use ringfile::{HEAD_AT, HEADER, TAIL_AT};

/// How long the receiver may stay at a dead producer's gap before the test
/// calls it wedged: far above the tens of milliseconds it takes.
const WEDGED: Duration = Duration::from_secs(2);
/// Kills whose producer died inside a reservation, before the test stops.
const GAPS_WANTED: usize = 3;
/// At most this many kills, whatever they hit.
const MAX_KILLS: usize = 4000;
/// Producers alive at once.
const PRODUCERS: usize = 2;

/// Where producer slot `k`'s reservation entry is (see `ring::layout`).
fn reservation_at(slot: u64) -> u64 {
    12 * 128 + (slot % 16) * 128 + (slot / 16) * 16
}
/// The byte producer slot `k` locks while it lives (see `file::liveness`).
fn producer_lock(slot: u64) -> u64 {
    1 + slot
}
const SLOTS: u64 = 128;
/// The producer id of the record that ends the receiving thread.
const STOP: u32 = u32::MAX;

#[test]
fn child() {
    let Some((role, ring)) = process::child() else {
        return;
    };
    match role.name.as_str() {
        "send" => send(&ring, role.arg(0) as u32),
        other => panic!("unknown role {other}"),
    }
}

/// Sends records `(id, 0), (id, 1), ...` as fast as the ring takes them,
/// until killed.
fn send(ring: &RingFile, id: u32) {
    let tx = ring.mpsc_sender().unwrap();
    report!("attached");
    let mut record = [0u8; 24];
    record[..4].copy_from_slice(&id.to_le_bytes());
    for seq in 0u64.. {
        record[4..12].copy_from_slice(&seq.to_le_bytes());
        loop {
            match tx.send(&record) {
                Ok(()) => break,
                Err(SendError::Full) => thread::yield_now(),
                Err(error) => panic!("send: {error}"),
            }
        }
    }
}

/// What the receiving thread has seen.
#[derive(Default)]
struct Seen {
    /// Next sequence number expected from each producer id.
    next: HashMap<u32, u64>,
    records: u64,
}

/// A read of the ring file behind the library's back, for the test's own
/// counter of kills that landed inside a reservation.
struct Inspector {
    file: File,
    capacity: u64,
}

impl Inspector {
    fn u64_at(&self, offset: u64) -> u64 {
        let mut bytes = [0; 8];
        self.file.read_exact_at(&mut bytes, offset).unwrap();
        u64::from_le_bytes(bytes)
    }

    /// Whether a live process holds producer slot `slot`'s lock.
    fn slot_held(&self, slot: u64) -> bool {
        // SAFETY: `flock` is a plain C struct of integers; all-zero is valid.
        let mut lock: libc::flock = unsafe { std::mem::zeroed() };
        lock.l_type = libc::F_WRLCK as libc::c_short;
        lock.l_whence = libc::SEEK_SET as libc::c_short;
        lock.l_start = producer_lock(slot) as libc::off_t;
        lock.l_len = 1;
        // SAFETY: the descriptor is open while `self.file` lives; the call
        // only rewrites `lock`.
        let result = unsafe { libc::fcntl(self.file.as_raw_fd(), libc::F_OFD_GETLK, &mut lock) };
        assert_eq!(
            result,
            0,
            "F_OFD_GETLK: {}",
            std::io::Error::last_os_error()
        );
        lock.l_type != libc::F_UNLCK as libc::c_short
    }

    /// The position of a gap a dead producer left: a reservation of a slot
    /// no live process holds, not yet passed by the consumer and never
    /// marked (its first word is still empty).
    fn dead_gap(&self) -> Option<u64> {
        let head = self.u64_at(HEAD_AT);
        let tail = self.u64_at(TAIL_AT);
        (0..SLOTS).find_map(|slot| {
            let from = self.u64_at(reservation_at(slot));
            let need = self.u64_at(reservation_at(slot) + 8) & 0xffff_ffff;
            let ahead = from.wrapping_sub(head) < tail.wrapping_sub(head);
            let unmarked = || self.u64_at(HEADER + (from & (self.capacity - 1))) == 0;
            (need != 0 && ahead && !self.slot_held(slot) && unmarked()).then_some(from)
        })
    }

    /// The positions, the word at the head and the reservations, for a
    /// failure's message.
    fn describe(&self) -> String {
        let head = self.u64_at(HEAD_AT);
        let word = self.u64_at(HEADER + (head & (self.capacity - 1)));
        let entries: Vec<_> = (0..SLOTS)
            .map(|slot| {
                let from = self.u64_at(reservation_at(slot));
                let need = self.u64_at(reservation_at(slot) + 8);
                (slot, from, need, self.slot_held(slot))
            })
            .filter(|&(_, _, need, _)| need != 0)
            .collect();
        format!(
            "head {head}, tail {}, word at head {word:#x}, \
             reservations (slot, from, need|generation, held) {entries:?}",
            self.u64_at(TAIL_AT)
        )
    }

    /// Whether the consumer has moved past `pos`.
    fn passed(&self, pos: u64) -> bool {
        self.u64_at(HEAD_AT).wrapping_sub(pos) as i64 > 0
    }
}

/// A small xorshift generator: the kill moments need no more.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn a_following_receiver_steps_over_every_gap_a_killed_producer_leaves() {
    let path = TempPath::new("random-kills");
    let ring = create(&path, 64 * 1024, Mode::Mpsc);
    let inspector = Inspector {
        file: File::open(path.path()).unwrap(),
        capacity: ring.capacity() as u64,
    };
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("random kills: seed {seed:#x}");
    let mut random = Random(seed);

    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut rx = ring.receiver().unwrap();
    rx.set_follow(true);
    let receiving = {
        let seen = Arc::clone(&seen);
        thread::spawn(move || {
            // `recv`, as the README's tailer: no timeout to wake it.
            loop {
                let record = rx.recv().expect("recv");
                let id = u32::from_le_bytes(record[..4].try_into().unwrap());
                if id == STOP {
                    break;
                }
                let seq = u64::from_le_bytes(record[4..12].try_into().unwrap());
                let mut seen = seen.lock().unwrap();
                let next = seen.next.entry(id).or_insert(0);
                assert_eq!(seq, *next, "producer {id}: a record lost or repeated");
                *next += 1;
                seen.records += 1;
            }
            rx.skipped_claims()
        })
    };

    let mut next_id = 0;
    let spawn = |next_id: &mut u64| {
        let mut producer = Proc::spawn("send", path.path(), &[*next_id]);
        producer.expect("attached");
        *next_id += 1;
        producer
    };
    let mut producers: Vec<Proc> = (0..PRODUCERS).map(|_| spawn(&mut next_id)).collect();
    let mut kills = 0;
    let mut steps = Vec::new();
    while steps.len() < GAPS_WANTED && kills < MAX_KILLS {
        let victim = random.below(PRODUCERS as u64) as usize;
        thread::sleep(Duration::from_micros(random.below(3000)));
        producers[victim].kill();
        let killed = Instant::now();
        kills += 1;
        let gap = inspector.dead_gap();
        // Restarted at once, as a supervisor would: the new producer must
        // not hide the gap from the receiver (by taking the dead one's slot
        // and overwriting its reservation entry).
        producers[victim] = spawn(&mut next_id);
        if let Some(gap) = gap {
            while !inspector.passed(gap) {
                assert!(
                    killed.elapsed() < WEDGED,
                    "kill {kills}: the receiver is wedged at the gap at {gap}: {}",
                    inspector.describe()
                );
                thread::sleep(Duration::from_micros(200));
            }
            steps.push(killed.elapsed());
        }
        // The symptom of a gap nobody steps over: the ring fills behind it
        // and nothing is received any more.
        let before = seen.lock().unwrap().records;
        let waited = Instant::now();
        while seen.lock().unwrap().records == before {
            assert!(
                waited.elapsed() < WEDGED,
                "kill {kills}: nothing received for {WEDGED:?}: {}",
                inspector.describe()
            );
            thread::sleep(Duration::from_micros(200));
        }
    }
    for mut producer in producers {
        producer.kill();
    }
    // A last producer's records arrive after everything the others left.
    // The ring may be full behind what the last kills left, until the
    // receiver steps over it: a full ring is waited out, up to `WEDGED`.
    let last = next_id as u32;
    let tx = ring.mpsc_sender().unwrap();
    let deadline = Instant::now() + WEDGED;
    for seq in 0..100u64 {
        let mut record = [0u8; 24];
        record[..4].copy_from_slice(&last.to_le_bytes());
        record[4..12].copy_from_slice(&seq.to_le_bytes());
        loop {
            match tx.send(&record) {
                Ok(()) => break,
                Err(SendError::Full) if Instant::now() < deadline => thread::yield_now(),
                Err(error) => panic!(
                    "the last producer's record {seq}: {error}: {}",
                    inspector.describe()
                ),
            }
        }
    }
    let deadline = Instant::now() + WEDGED;
    while seen.lock().unwrap().next.get(&last) != Some(&100) {
        assert!(
            Instant::now() < deadline,
            "the last producer's records are stuck"
        );
        thread::sleep(Duration::from_millis(1));
    }
    let mut record = [0u8; 24];
    record[..4].copy_from_slice(&STOP.to_le_bytes());
    tx.send(&record).unwrap();
    let skipped = receiving.join().expect("the receiving thread panicked");

    steps.sort();
    let records = seen.lock().unwrap().records;
    eprintln!(
        "random kills: {kills} kills, {} inside a reservation (stepped over after \
         {steps:?}), {skipped} claims and reservations skipped, {records} records",
        steps.len(),
    );
    assert!(
        !steps.is_empty(),
        "no kill of {kills} landed inside a reservation: the test proved nothing"
    );
    assert!(skipped >= steps.len() as u64);
}
