//! White-box tests of ring file recovery that the public API cannot stage:
//! a producer that dies between reserving space and marking it claimed.
//!
//! Some of them run this test binary again as a child process that makes
//! such a reservation and waits to be killed with `SIGKILL`: a real death,
//! which releases the producer's lock without a word to anybody.

use std::time::{Duration, Instant};

use super::{Mode, Options, RingFile};
use crate::ring::layout::{Word, span_of};
use crate::sync::Ordering::Relaxed;
use crate::wait::Barrier;

struct TempRing(std::path::PathBuf);

impl TempRing {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("logring-unit-{}-{name}.ring", std::process::id()));
        let _ = std::fs::remove_file(&path);
        Self(path)
    }
}

impl Drop for TempRing {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Reserves `len` bytes as `producer`'s `reserve` does, up to and including
/// its compare-and-swap on `tail`, and stops there: the reservation is never
/// marked `Claimed`. Returns its position.
fn reserve_without_marking(ring: &RingFile, owner: &crate::peers::Owner, len: u64) -> u64 {
    let header = ring.ring.header();
    let tail = header.tail.0.load(Relaxed);
    let need = span_of(len);
    assert!(
        ring.ring.index(tail) + need <= ring.ring.capacity(),
        "no wrap here"
    );
    owner.announce(&ring.ring, tail, need);
    header.tail.0.store(tail + need, Relaxed);
    tail
}

/// How long a record that should come may take before the test calls it
/// a hang: far beyond the consumer's few milliseconds of patience at a claim
/// (`read_within` returns as soon as the record is there).
const HANG: Duration = Duration::from_secs(10);

/// Reads until a record arrives or `limit` passes.
fn read_within(consumer: &mut crate::queue::Consumer, limit: Duration) -> Option<Vec<u8>> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(record) = consumer.try_recv() {
            return Some(record.to_vec());
        }
        std::thread::yield_now();
    }
    None
}

#[test]
fn a_reservation_its_dead_producer_never_marked_is_skipped() {
    let path = TempRing::new("dead-reservation");
    let ring = RingFile::create(&path.0, Options::new(4096).mode(Mode::Mpsc)).unwrap();
    let mut consumer = ring.consumer().unwrap();
    let survivor = ring.mpsc_producer().unwrap();
    survivor.try_send(b"before").unwrap();

    let dying = ring.attach_producer(Mode::Mpsc).unwrap();
    let hole = reserve_without_marking(&ring, &dying, 40);
    survivor.try_send(b"after").unwrap();
    assert_eq!(
        read_within(&mut consumer, HANG).as_deref(),
        Some(&b"before"[..])
    );

    // While the reserving producer lives, the consumer waits at the gap.
    assert_eq!(read_within(&mut consumer, Duration::from_millis(50)), None);
    assert_eq!(ring.skipped_claims(), 0);
    assert_eq!(ring.ring.word(hole).load(Relaxed), 0);

    drop(dying); // its process dies: the kernel drops its lock
    let record = read_within(&mut consumer, HANG);
    assert_eq!(record.as_deref(), Some(&b"after"[..]));
    assert_eq!(ring.skipped_claims(), 1);
}

#[test]
fn a_live_producer_marking_late_is_never_skipped() {
    let path = TempRing::new("late-mark");
    let ring = RingFile::create(&path.0, Options::new(4096).mode(Mode::Mpsc)).unwrap();
    let mut consumer = ring.consumer().unwrap();
    let slow = ring.attach_producer(Mode::Mpsc).unwrap();
    let pos = reserve_without_marking(&ring, &slow, 3);
    assert_eq!(read_within(&mut consumer, Duration::from_millis(100)), None);
    // It marks and commits at last, as a descheduled producer would.
    ring.ring
        .word(pos)
        .store(Word::claimed(3, slow.id()), Relaxed);
    let mut claim = crate::queue::WriteClaim::new(&ring.ring, pos, 3);
    claim.copy_from_slice(b"yes");
    claim.commit();
    assert_eq!(
        read_within(&mut consumer, HANG).as_deref(),
        Some(&b"yes"[..])
    );
    assert_eq!(ring.skipped_claims(), 0);
}

#[test]
fn a_draining_receiver_skips_a_dead_reservation_at_once() {
    let path = TempRing::new("drain-reservation");
    let ring = RingFile::create(&path.0, Options::new(4096).mode(Mode::Mpsc)).unwrap();
    let mut rx = ring.receiver().unwrap();
    let dying = ring.attach_producer(Mode::Mpsc).unwrap();
    reserve_without_marking(&ring, &dying, 16);
    let survivor = ring.mpsc_producer().unwrap();
    survivor.try_send(b"after").unwrap();
    drop(survivor);
    drop(dying);
    assert_eq!(&*rx.recv().unwrap(), b"after");
    assert!(rx.recv().is_err());
    assert_eq!(rx.skipped_claims(), 1);
}

#[test]
fn a_reservation_entry_no_producer_writes_never_moves_the_consumer() {
    let path = TempRing::new("bad-entry");
    let ring = RingFile::create(&path.0, Options::new(4096).mode(Mode::Mpsc)).unwrap();
    let mut rx = ring.receiver().unwrap();
    let header = ring.ring.header();
    // An empty word at the head below the tail, "explained" by an entry
    // whose sizes are not whole words.
    header.tail.0.store(64, Relaxed);
    header.reservation(0).pos.store(0, Relaxed);
    header.reservation(0).need_generation.store(6, Relaxed);
    assert!(rx.try_recv().is_err());
    assert_eq!(header.head.0.load(Relaxed), 0);
    assert_eq!(rx.skipped_claims(), 0);
}

/// The environment variable that makes a `child_*` test a child process:
/// the path of the ring file it works on.
const CHILD_RING: &str = "LOGRING_UNIT_CHILD_RING";

/// What a child's report lines start with (the test harness may have begun
/// the line: "test ... ").
const REPORT: &str = "@child ";

/// How long a receiver may stay at a dead producer's gap before the test
/// calls it wedged: far above the tens of milliseconds it takes to step
/// over, even on a loaded machine.
const WEDGED: Duration = Duration::from_secs(2);

/// The ring file of a child process, `None` in a normal test run.
fn child_ring() -> Option<RingFile> {
    Some(RingFile::open(std::env::var_os(CHILD_RING)?).unwrap())
}

/// In a child process (see `Child`): attaches an MPSC producer, reserves 40
/// bytes without marking them, reports `reserved <position>` and waits to
/// be killed. In a normal test run: nothing.
#[test]
fn child_reserving_without_marking() {
    let Some(ring) = child_ring() else {
        return;
    };
    let owner = ring.attach_producer(Mode::Mpsc).unwrap();
    let pos = reserve_without_marking(&ring, &owner, 40);
    println!("{REPORT}reserved {pos}");
    // Until the parent kills us (or closes our stdin by dying itself).
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
}

/// A child process: this test binary running one `child_*` test on a ring.
struct Child {
    process: std::process::Child,
    /// The child's report lines (the text after `REPORT`), from a thread
    /// that reads its stdout.
    reports: std::sync::mpsc::Receiver<String>,
}

impl Child {
    /// Starts `file::tests::<test>` on `ring`, with `env` set too.
    fn start(test: &str, ring: &TempRing, env: &[(&str, &str)]) -> Self {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let mut process = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                &format!("file::tests::{test}"),
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_RING, &ring.0)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = std::io::BufReader::new(process.stdout.take().unwrap());
        let (tx, reports) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if let Some((_, report)) = line.split_once(REPORT) {
                    if tx.send(report.to_owned()).is_err() {
                        return;
                    }
                }
            }
        });
        Self { process, reports }
    }

    /// Waits (at most `HANG`) for the child's next report, which must be
    /// `word`; returns the rest of its line.
    fn report(&mut self, word: &str) -> String {
        let report = match self.reports.recv_timeout(HANG) {
            Ok(report) => report,
            Err(error) => panic!("no report `{word}` from the child within {HANG:?}: {error}"),
        };
        match report.split_once(' ') {
            Some((first, rest)) if first == word => rest.to_owned(),
            _ if report == word => String::new(),
            _ => panic!("the child reported `{report}`, expected `{word}`"),
        }
    }

    /// `SIGKILL`, and waits for the death.
    fn kill(&mut self) {
        self.process.kill().unwrap();
        self.process.wait().unwrap();
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// A receiver, asleep at the gap a producer process left when it was killed
/// between reserving space and marking it, steps over the gap by itself: no
/// live process will wake it. `receive` receives one record (within `WEDGED`)
/// on another thread.
fn receiver_wakes_past_a_dead_reservation(
    name: &str,
    receive: impl FnOnce(crate::channel::Receiver) -> Option<Vec<u8>> + Send + 'static,
) {
    let path = TempRing::new(name);
    let ring = RingFile::create(&path.0, Options::new(4096).mode(Mode::Mpsc)).unwrap();
    let rx = ring.receiver().unwrap();
    let mut reserver = Child::start("child_reserving_without_marking", &path, &[]);
    let hole: u64 = reserver.report("reserved").parse().unwrap();
    let survivor = ring.mpsc_sender().unwrap();
    survivor.send(b"after").unwrap();
    let (tx, got) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(receive(rx)));
    // Wait until the receiver sleeps at the gap (or, had it skipped a live
    // producer's reservation, has the record already: checked below).
    let deadline = Instant::now() + WEDGED;
    while ring.ring.header().waiter.0.load(Relaxed) == crate::ring::layout::AWAKE
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(ring.ring.word(hole).load(Relaxed), 0, "the gap is there");
    assert_eq!(ring.skipped_claims(), 0, "a live reservation was skipped");

    let killed = Instant::now();
    reserver.kill();
    let record = got
        .recv_timeout(WEDGED + Duration::from_secs(1))
        .expect("the receiving thread hangs");
    eprintln!(
        "{name}: stepped over the gap {:?} after the kill",
        killed.elapsed()
    );
    assert_eq!(
        record.as_deref(),
        Some(&b"after"[..]),
        "the receiver did not step over the dead producer's gap within {WEDGED:?}"
    );
    assert_eq!(ring.skipped_claims(), 1);
}

#[test]
fn a_following_receiver_wakes_past_a_dead_reservation() {
    receiver_wakes_past_a_dead_reservation("follow-gap", |mut rx| {
        rx.set_follow(true);
        rx.recv_timeout(WEDGED).ok().map(|record| record.to_vec())
    });
}

#[test]
fn a_draining_receiver_wakes_past_a_dead_reservation() {
    // Not following: it waits because the survivor is still attached.
    receiver_wakes_past_a_dead_reservation("drain-gap", |mut rx| {
        rx.recv_timeout(WEDGED).ok().map(|record| record.to_vec())
    });
}

#[cfg(feature = "async")]
#[test]
fn an_async_receiver_wakes_past_a_dead_reservation() {
    receiver_wakes_past_a_dead_reservation("async-gap", |rx| {
        let mut rx = rx.into_async();
        rx.set_follow(true);
        // The deadline is the calling test's: a hang leaves this thread
        // parked, and the test fails at its own deadline.
        futures::executor::block_on(rx.recv())
            .ok()
            .map(|record| record.to_vec())
    });
}

/// In a child process started with `LOGRING_NO_MEMBARRIER=1` (see
/// `a_receiver_denied_membarrier_is_woken_by_a_light_publisher`): reports
/// whether its sleeps are bounded on the ring, then receives records
/// `0, 1, ...`, reporting each, until `u64::MAX`.
#[test]
fn child_receiving_without_membarrier() {
    let Some(ring) = child_ring() else {
        return;
    };
    let barrier = Barrier::for_ring(ring.ring.header());
    let ordered = barrier.heavy(ring.ring.header());
    println!("{REPORT}ordered {}", u8::from(ordered));
    let mut rx = ring.receiver().unwrap();
    rx.set_follow(true);
    println!("{REPORT}attached");
    for expected in 0.. {
        let record = rx.recv().unwrap();
        let got = u64::from_le_bytes(record[..].try_into().unwrap());
        if got == u64::MAX {
            return;
        }
        assert_eq!(got, expected);
        println!("{REPORT}got {got}");
    }
}

/// A receiver process denied `membarrier` (forced by the switch) shares a
/// ring with this process, whose publishers use the light barrier where
/// the kernel allows: it must bound its sleeps (the light publisher's
/// commits are fenced by nobody), and receives every record although the
/// sender pauses after each one, so that the receiver is often asleep or
/// falling asleep when the next one comes. A lost wake-up would leave it
/// asleep until the test's hang detector fires.
#[test]
fn a_receiver_denied_membarrier_is_woken_by_a_light_publisher() {
    let path = TempRing::new("no-membarrier");
    let ring = RingFile::create(&path.0, Options::new(4096).mode(Mode::Mpsc)).unwrap();
    let tx = ring.mpsc_sender().unwrap();
    let light = Barrier::for_ring(ring.ring.header()).is_light();
    let mut receiver = Child::start(
        "child_receiving_without_membarrier",
        &path,
        &[(crate::wait::NO_MEMBARRIER_VAR, "1")],
    );
    let ordered = receiver.report("ordered") == "1";
    assert_eq!(
        ordered, !light,
        "bounded sleeps exactly when a light publisher may commit"
    );
    receiver.report("attached");
    let mut pause = 1u64;
    for k in 0..300u64 {
        tx.send(&k.to_le_bytes()).unwrap();
        assert_eq!(receiver.report("got"), k.to_string());
        // 0 to 2 ms: the receiver spins, announces or sleeps by then.
        pause = pause
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_micros(pause >> 53));
    }
    tx.send(&u64::MAX.to_le_bytes()).unwrap();
    assert!(receiver.process.wait().unwrap().success());
}

/// A new, empty directory of this test process's, named after `name`.
fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("logring-unit-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    dir
}

/// Threads that call `open_or_create` together on a fresh path, `create`
/// making the file each `way`: all succeed and share one ring, and no
/// temporary file is left in the directory.
#[test]
fn threads_that_open_or_create_together_share_one_ring() {
    use super::publish::{FIRST_WAY, Way};
    let dir = fresh_dir("start-up");
    for way in [Way::Unnamed, Way::Named, Way::InPlace] {
        for round in 0..50 {
            let path = dir.join(format!("{way:?}-{round}.ring"));
            let options = Options::new(4096).mode(Mode::Mpsc);
            let barrier = std::sync::Barrier::new(4);
            std::thread::scope(|scope| {
                for id in 0..4u8 {
                    let (path, barrier) = (&path, &barrier);
                    scope.spawn(move || {
                        FIRST_WAY.with(|first| first.set(way));
                        barrier.wait();
                        let ring = RingFile::open_or_create(path, options)
                            .unwrap_or_else(|error| panic!("{way:?}, round {round}: {error}"));
                        ring.mpsc_sender().unwrap().send(&[id]).unwrap();
                    });
                }
            });
            let ring = RingFile::open(&path).unwrap();
            let mut consumer = ring.consumer().unwrap();
            let mut ids = Vec::new();
            while let Ok(record) = consumer.try_recv() {
                ids.push(record[0]);
            }
            ids.sort_unstable();
            assert_eq!(ids, [0, 1, 2, 3], "{way:?}, round {round}");
            std::fs::remove_file(&path).unwrap();
        }
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert!(left.is_empty(), "{way:?} left {left:?}");
    }
    std::fs::remove_dir(&dir).unwrap();
}

/// A failed `create` leaves nothing behind, whichever way it made the file.
#[test]
fn a_failed_create_leaves_no_file_whichever_way() {
    use super::publish::{FIRST_WAY, Way};
    let dir = fresh_dir("failed");
    for way in [Way::Unnamed, Way::Named, Way::InPlace] {
        FIRST_WAY.with(|first| first.set(way));
        // Taken: the link (or the creation in place) fails.
        let taken = dir.join("taken");
        std::fs::write(&taken, b"precious").unwrap();
        let error = RingFile::create(&taken, Options::new(4096)).unwrap_err();
        assert!(
            error.to_string().contains("File exists"),
            "{way:?}: {error}"
        );
        assert_eq!(std::fs::read(&taken).unwrap(), b"precious");
        std::fs::remove_file(&taken).unwrap();
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert!(left.is_empty(), "{way:?} left {left:?}");
    }
    FIRST_WAY.with(|first| first.set(Way::Unnamed));
    std::fs::remove_dir(&dir).unwrap();
}

/// A producer that starts in the place of one killed inside a reservation,
/// before the receiver has stepped over the gap (a supervisor restarting a
/// crashed logger at once), must not take the dead one's slot: its first
/// reservation would overwrite the entry that explains the gap, and the
/// receiver would wait at it for ever.
#[test]
fn a_producer_restarted_at_once_leaves_the_dead_reservation_explained() {
    let path = TempRing::new("restart-gap");
    let ring = RingFile::create(&path.0, Options::new(4096).mode(Mode::Mpsc)).unwrap();
    let mut rx = ring.receiver().unwrap();
    rx.set_follow(true);
    let mut reserver = Child::start("child_reserving_without_marking", &path, &[]);
    let hole: u64 = reserver.report("reserved").parse().unwrap();
    reserver.kill();
    let restarted = ring.mpsc_sender().unwrap();
    restarted.send(b"after").unwrap();
    assert_eq!(
        ring.ring.word(hole).load(Relaxed),
        0,
        "the gap is still there"
    );
    let record = rx.recv_timeout(WEDGED).map(|record| record.to_vec());
    assert_eq!(
        record.as_deref().ok(),
        Some(&b"after"[..]),
        "the receiver did not step over the dead producer's gap within {WEDGED:?}"
    );
    assert_eq!(rx.skipped_claims(), 1);
}

/// Writes `bytes` at `offset` of the file at `path`, as another program
/// (or an older release of this crate) could.
fn patch(path: &std::path::Path, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(bytes, offset).unwrap();
}

/// Where `dict_len` and the minor version sit in the file.
const DICT_LEN_AT: u64 = std::mem::offset_of!(crate::ring::layout::LayoutFields, dict_len) as u64;
const MINOR_AT: u64 = std::mem::offset_of!(crate::ring::layout::LayoutFields, version_minor) as u64;

#[test]
fn every_handle_of_a_ring_file_sees_its_dictionary() {
    let temp = TempRing::new("dictionary-shared");
    let ring = RingFile::create(&temp.0, Options::new(64 * 1024).mode(Mode::Mpsc)).unwrap();
    // The default: a quarter of the capacity.
    assert_eq!(ring.dictionary_len(), 16 * 1024);
    assert_eq!(
        std::fs::metadata(&temp.0).unwrap().len(),
        4096 + 64 * 1024 + 16 * 1024
    );
    assert_eq!(ring.format_version(), (1, 2));
    assert_eq!(ring.dictionary_used(), 64);
    let sender = ring.mpsc_sender().unwrap();
    let id = sender
        .ring()
        .dictionary()
        .register(5, |bytes| bytes.copy_from_slice(b"entry"))
        .unwrap();
    assert_eq!(ring.dictionary().entry(id).as_deref(), Some(&b"entry"[..]));
    assert_eq!(ring.dictionary_used(), 64 + 16);

    // Another handle, a read-only observer, and a handle opened after every
    // other one let go.
    let other = RingFile::open(&temp.0).unwrap();
    assert_eq!(other.dictionary().entry(id).as_deref(), Some(&b"entry"[..]));
    let receiver = other.receiver().unwrap();
    assert_eq!(
        receiver.ring().dictionary().entry(id).as_deref(),
        Some(&b"entry"[..])
    );
    let observer = super::RingObserver::open(&temp.0).unwrap();
    assert_eq!(
        observer.dictionary().entry(id).as_deref(),
        Some(&b"entry"[..])
    );
    assert_eq!(observer.dictionary().register(1, |_| {}), None, "read-only");
    assert_eq!(
        (observer.dictionary_len(), observer.dictionary_used()),
        (16 * 1024, 64 + 16)
    );
    let second = other
        .ring()
        .dictionary()
        .register(3, |bytes| bytes.copy_from_slice(b"two"))
        .unwrap();
    assert_eq!(
        observer.dictionary().entry(second).as_deref(),
        Some(&b"two"[..])
    );
    drop((sender, receiver, ring, other, observer));

    let again = RingFile::open(&temp.0).unwrap();
    assert_eq!(again.dictionary().entry(id).as_deref(), Some(&b"entry"[..]));
    assert_eq!(
        again.dictionary().entry(second).as_deref(),
        Some(&b"two"[..])
    );
    again.check_len().unwrap();
}

#[test]
fn the_dictionary_length_is_asked_in_the_options() {
    for (asked, made) in [(0, 0), (1, 4096), (5000, 8192), (1 << 20, 1 << 20)] {
        let temp = TempRing::new("dictionary-asked");
        let ring = RingFile::create(&temp.0, Options::new(4096).dictionary_len(asked)).unwrap();
        assert_eq!(ring.dictionary_len(), made, "asked {asked}");
        assert_eq!(
            std::fs::metadata(&temp.0).unwrap().len(),
            4096 + 4096 + made as u64
        );
        let registered = ring.dictionary().register(8, |_| {});
        assert_eq!(registered.is_some(), made > 0, "asked {asked}");
    }
    // No dictionary by default below 16 KiB.
    let temp = TempRing::new("dictionary-small");
    let ring = RingFile::create(&temp.0, Options::new(8192)).unwrap();
    assert_eq!((ring.dictionary_len(), ring.dictionary_used()), (0, 0));
    assert_eq!(ring.dictionary().register(0, |_| {}), None);
    // An existing ring is taken whatever its dictionary.
    let same = RingFile::open_or_create(&temp.0, Options::new(8192).dictionary_len(4096)).unwrap();
    assert_eq!(same.dictionary_len(), 0);

    let temp = TempRing::new("dictionary-too-large");
    let error =
        RingFile::create(&temp.0, Options::new(4096).dictionary_len((1 << 30) + 1)).unwrap_err();
    assert!(
        matches!(
            error.kind(),
            super::FileErrorKind::DictionaryTooLarge { requested, max: 0x4000_0000 }
                if *requested == (1 << 30) + 1
        ),
        "{error}"
    );
    assert!(!temp.0.exists());
    // 1 GiB itself is allowed (not made here: it would allocate it).
}

#[test]
fn a_format_1_0_ring_file_opens_without_a_dictionary() {
    let temp = TempRing::new("format-1-0");
    drop(RingFile::create(&temp.0, Options::new(4096).dictionary_len(0)).unwrap());
    patch(&temp.0, MINOR_AT, &0u16.to_le_bytes());
    let ring = RingFile::open(&temp.0).unwrap();
    assert_eq!(ring.format_version(), (1, 0));
    assert_eq!((ring.dictionary_len(), ring.dictionary_used()), (0, 0));
    assert_eq!(ring.dictionary().entry(8), None);
    let observer = super::RingObserver::open(&temp.0).unwrap();
    assert_eq!(observer.dictionary_len(), 0);
}

#[test]
fn a_bad_dictionary_length_is_a_clear_error() {
    let temp = TempRing::new("bad-dictionary");
    drop(RingFile::create(&temp.0, Options::new(4096).dictionary_len(4096)).unwrap());
    for (dict_len, says) in [
        (
            100u64,
            "corrupt header: dictionary length is not a multiple of 4096",
        ),
        (
            (1 << 30) + 4096,
            "corrupt header: dictionary length is above the maximum of 1 GiB",
        ),
        (8192, "12288 bytes long, but its header says 16384"),
        (0, "12288 bytes long, but its header says 8192"),
    ] {
        patch(&temp.0, DICT_LEN_AT, &dict_len.to_le_bytes());
        for error in [
            RingFile::open(&temp.0).map(drop).unwrap_err(),
            super::RingObserver::open(&temp.0).map(drop).unwrap_err(),
        ] {
            let text = error.to_string();
            assert!(text.contains(says), "dict_len {dict_len}: {text}");
            assert!(text.contains(&*temp.0.to_string_lossy()), "{text}");
        }
    }
    patch(&temp.0, DICT_LEN_AT, &4096u64.to_le_bytes());
    RingFile::open(&temp.0).unwrap();
}

/// A draining receiver of an MPSC ring that holds a committed record past
/// its tail (a damaged file) follows the record, so its head ends past the
/// tail: the file must still open, observed and attached, and the next
/// producer moves the tail up. (Found by the `open_drain` fuzz target.)
#[test]
fn an_mpsc_ring_drained_past_its_tail_opens_again() {
    let temp = TempRing::new("drained-past-tail");
    {
        let ring = RingFile::create(&temp.0, Options::new(64).mode(Mode::Mpsc)).unwrap();
        ring.mpsc_producer().unwrap().try_send(b"past").unwrap();
        // The damage: the tail back where the record starts.
        ring.ring.header().tail.0.store(0, Relaxed);
    }
    {
        let ring = RingFile::open(&temp.0).unwrap();
        let mut rx = ring.receiver().unwrap();
        assert_eq!(&*rx.try_recv().unwrap(), b"past");
        assert_eq!(
            rx.try_recv().err(),
            Some(crate::channel::TryRecvError::Disconnected)
        );
        assert_eq!(ring.head(), 16, "the consumer is past the tail");
        assert_eq!(ring.tail(), 0);
        assert!(ring.is_empty());
    }
    let observer = super::RingObserver::open(&temp.0).unwrap();
    assert_eq!((observer.head(), observer.tail()), (16, 0));
    let ring = RingFile::open(&temp.0).unwrap();
    let producer = ring.mpsc_producer().unwrap();
    let mut consumer = ring.consumer().unwrap();
    producer.try_send(b"again").unwrap();
    assert_eq!(ring.tail(), 16 + 16, "the producer moved the tail up");
    assert_eq!(&*consumer.try_recv().unwrap(), b"again");
}

/// Spies, white-box: laps staged exactly, dead producers, corruption.
mod spies {
    use super::*;
    use crate::file::{Lap, RingSpy, Spied, SpyFrom};
    use crate::queue::TryRecvError;

    /// What a spy's `try_read` returned, owned.
    #[derive(Debug, PartialEq, Eq)]
    enum Seen {
        Record(u64, Vec<u8>),
        Lapped(Lap),
        Empty,
    }

    fn look(spy: &mut RingSpy) -> Seen {
        match spy.try_read() {
            Ok(Spied::Record(record)) => Seen::Record(record.position(), record.to_vec()),
            Ok(Spied::Lapped(lap)) => Seen::Lapped(lap),
            Err(TryRecvError::Empty) => Seen::Empty,
            Err(TryRecvError::Corrupt(corrupt)) => panic!("{corrupt}"),
        }
    }

    #[test]
    fn a_spy_reads_what_the_consumer_then_receives() {
        let path = TempRing::new("spy-reads");
        let ring = RingFile::create(&path.0, Options::new(4096).mode(Mode::Mpsc)).unwrap();
        let producer = ring.mpsc_producer().unwrap();
        for n in 0..10u8 {
            producer.try_send(&vec![n; usize::from(n) * 3]).unwrap();
        }
        let mut spy = RingSpy::open(&path.0, SpyFrom::Oldest).unwrap();
        let mut seen = Vec::new();
        while let Seen::Record(pos, bytes) = look(&mut spy) {
            seen.push((pos, bytes));
        }
        assert_eq!(seen.len(), 10);
        assert_eq!(spy.records(), 10);
        let mut consumer = ring.consumer().unwrap();
        for (pos, bytes) in &seen {
            let record = consumer.try_recv().unwrap();
            assert_eq!((record.position(), &*record), (*pos, &bytes[..]));
        }
        // The consumer took them all; a spy from the oldest sees nothing.
        let mut late = RingSpy::open(&path.0, SpyFrom::Oldest).unwrap();
        assert_eq!(look(&mut late), Seen::Empty);
        assert_eq!(look(&mut spy), Seen::Empty);
        assert_eq!(spy.laps(), 0);
    }

    #[test]
    fn a_spy_overtaken_says_what_it_lost_and_reads_on() {
        let path = TempRing::new("spy-lapped");
        let ring = RingFile::create(&path.0, Options::new(4096).mode(Mode::Spsc)).unwrap();
        let mut producer = ring.spsc_producer().unwrap();
        let mut consumer = ring.consumer().unwrap();
        let mut spy = RingSpy::open(&path.0, SpyFrom::Oldest).unwrap();
        producer.try_send(b"first").unwrap();
        assert_eq!(look(&mut spy), Seen::Record(0, b"first".to_vec()));
        assert_eq!(&*consumer.try_recv().unwrap(), b"first");
        // Two laps of records go by, consumed as they come.
        let mut end = 0;
        for n in 0..200u32 {
            producer.try_send(&[n as u8; 40]).unwrap();
            let record = consumer.try_recv().unwrap();
            end = record.position() + span_of(record.len() as u64);
        }
        producer.try_send(b"last").unwrap();
        let from = span_of(5);
        assert_eq!(look(&mut spy), Seen::Lapped(Lap { from, to: end }));
        assert_eq!(spy.lost_bytes(), end - from);
        assert_eq!(look(&mut spy), Seen::Record(end, b"last".to_vec()));
        assert_eq!(look(&mut spy), Seen::Empty);
        assert_eq!((spy.laps(), spy.records()), (1, 2));
    }

    #[test]
    fn a_spy_from_now_sees_only_later_records() {
        let path = TempRing::new("spy-now");
        let ring = RingFile::create(&path.0, Options::new(4096).mode(Mode::Mpsc)).unwrap();
        let producer = ring.mpsc_producer().unwrap();
        producer.try_send(b"before").unwrap();
        let mut spy = RingSpy::open(&path.0, SpyFrom::Now).unwrap();
        assert_eq!(look(&mut spy), Seen::Empty);
        producer.try_send(b"after").unwrap();
        assert_eq!(look(&mut spy), Seen::Record(span_of(6), b"after".to_vec()));
    }

    /// Waits (at most `HANG`) for the spy's next record or lap.
    fn look_within(spy: &mut RingSpy) -> Seen {
        let start = Instant::now();
        loop {
            match look(spy) {
                Seen::Empty if start.elapsed() < HANG => std::thread::yield_now(),
                seen => return seen,
            }
        }
    }

    #[test]
    fn a_spy_steps_over_what_dead_producers_left() {
        let path = TempRing::new("spy-dead");
        let ring = RingFile::create(&path.0, Options::new(4096).mode(Mode::Mpsc)).unwrap();
        let survivor = ring.mpsc_producer().unwrap();
        let mut spy = RingSpy::open(&path.0, SpyFrom::Oldest).unwrap();

        // A reservation never marked, then a claim never committed.
        let dying = ring.attach_producer(Mode::Mpsc).unwrap();
        let hole = reserve_without_marking(&ring, &dying, 40);
        let claimer = ring.mpsc_producer().unwrap();
        let claim = claimer.try_claim(8).unwrap();
        let claimed = claim.position();
        survivor.try_send(b"after").unwrap();

        // While they live, the spy waits.
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(30) {
            assert_eq!(look(&mut spy), Seen::Empty);
        }
        assert_eq!(spy.position(), hole);
        drop(dying);
        std::mem::forget(claim);
        drop(claimer);
        assert_eq!(
            look_within(&mut spy),
            Seen::Record(claimed + span_of(8), b"after".to_vec())
        );
        assert_eq!(spy.laps(), 0);
        // The consumer skips the same two, and the spy wrote nothing.
        let mut consumer = ring.consumer().unwrap();
        let record = read_within(&mut consumer, HANG);
        assert_eq!(record.as_deref(), Some(&b"after"[..]));
        assert_eq!(ring.skipped_claims(), 2);
    }

    #[test]
    fn a_spy_reports_corruption_where_the_consumer_never_was() {
        let path = TempRing::new("spy-corrupt");
        let ring = RingFile::create(&path.0, Options::new(4096).mode(Mode::Spsc)).unwrap();
        let mut producer = ring.spsc_producer().unwrap();
        producer.try_send(b"good").unwrap();
        let bad = ring.tail();
        // A committed word whose length runs past the data area.
        ring.ring.word(bad).store(Word::committed(4000, 0), Relaxed);
        ring.ring.header().tail.0.store(bad + 8, Relaxed);
        let mut spy = RingSpy::open(&path.0, SpyFrom::Oldest).unwrap();
        assert_eq!(look(&mut spy), Seen::Record(0, b"good".to_vec()));
        for _ in 0..2 {
            match spy.try_read() {
                Err(TryRecvError::Corrupt(corrupt)) => {
                    assert_eq!(corrupt.position, bad);
                    assert_eq!(corrupt.reason, "record length out of bounds");
                }
                other => panic!("{other:?}"),
            }
        }
    }
}

/// Retention, white-box where it must be: what a retaining consumer leaves
/// in place, and what its successor resumes from.
mod retention {
    use super::*;
    use crate::file::{FileErrorKind, RingSpy, Spied, SpyFrom};

    fn ring(name: &str, mode: Mode, retain: usize) -> (TempRing, RingFile) {
        let path = TempRing::new(name);
        let ring = RingFile::create(&path.0, Options::new(4096).mode(mode).retain(retain)).unwrap();
        (path, ring)
    }

    #[test]
    fn a_spy_beside_a_consumer_that_keeps_up_sees_every_record() {
        for mode in [Mode::Spsc, Mode::Mpsc] {
            let (path, ring) = ring("retain-spy", mode, 2048);
            assert_eq!(ring.retain(), 2048);
            let tx = ring.mpsc_sender().ok();
            let mut spsc = if tx.is_none() {
                Some(ring.spsc_producer().unwrap())
            } else {
                None
            };
            let mut consumer = ring.consumer().unwrap();
            let mut spy = RingSpy::open(&path.0, SpyFrom::Oldest).unwrap();
            let mut sent = Vec::new();
            let mut seen = Vec::new();
            for n in 0..500u32 {
                let payload = vec![n as u8; (n % 50) as usize];
                match (&tx, &mut spsc) {
                    (Some(tx), _) => tx.try_send(&payload).unwrap(),
                    (None, Some(producer)) => producer.try_send(&payload).unwrap(),
                    _ => unreachable!(),
                }
                let record = consumer.try_recv().unwrap();
                sent.push((record.position(), record.to_vec()));
                drop(record);
                if n % 10 == 9 {
                    loop {
                        match spy.try_read() {
                            Ok(Spied::Record(record)) => {
                                seen.push((record.position(), record.to_vec()))
                            }
                            Ok(Spied::Lapped(lap)) => panic!("{mode}: lapped {lap:?}"),
                            Err(_) => break,
                        }
                    }
                }
            }
            assert_eq!(seen, sent, "{mode}");
            assert_eq!(spy.laps(), 0);
            // What the consumer took but retains is still there for a new spy.
            let mut late = RingSpy::open(&path.0, SpyFrom::Oldest).unwrap();
            let Ok(Spied::Record(first)) = late.try_read() else {
                panic!("{mode}: nothing retained");
            };
            assert!(ring.head() <= first.position());
            assert!(
                ring.tail() - ring.head() <= 2048,
                "{mode}: at most the retention held"
            );
        }
    }

    #[test]
    fn the_largest_record_fits_once_the_consumer_took_everything() {
        for mode in [Mode::Spsc, Mode::Mpsc] {
            let (_path, ring) = ring("retain-max", mode, 1000);
            assert_eq!(ring.retain(), 1008, "rounded up to 16");
            let max = ring.max_record_len();
            assert_eq!(max, (4096 - 1008) / 2 - 8);
            let mpsc = (mode == Mode::Mpsc).then(|| ring.mpsc_producer().unwrap());
            let mut spsc = (mode == Mode::Spsc).then(|| ring.spsc_producer().unwrap());
            let mut send = |len: usize| match (&mpsc, &mut spsc) {
                (Some(tx), _) => tx.try_send(&vec![1u8; len]),
                (_, Some(tx)) => tx.try_send(&vec![1u8; len]),
                _ => unreachable!(),
            };
            let mut consumer = ring.consumer().unwrap();
            // Move the tail by records of varied sizes, so that the largest
            // record is claimed at every offset, each time on a ring the
            // consumer has emptied.
            for step in 0..(4096 / 8) {
                send((step % 7) * 8).unwrap();
                while consumer.try_recv().is_ok() {}
                let claim = send(max);
                assert!(claim.is_ok(), "{mode}: step {step}: {claim:?}");
                while consumer.try_recv().is_ok() {}
            }
        }
    }

    #[test]
    fn a_consumer_resumes_after_what_its_predecessor_delivered() {
        let (path, ring) = ring("retain-restart", Mode::Mpsc, 2048);
        let tx = ring.mpsc_producer().unwrap();
        for n in 0..10u8 {
            tx.try_send(&[n; 20]).unwrap();
        }
        let mut first = ring.consumer().unwrap();
        for n in 0..4u8 {
            assert_eq!(&*first.try_recv().unwrap(), &[n; 20]);
        }
        // The fifth is in hand when it goes: delivered again.
        let fifth = first.try_recv().unwrap();
        std::mem::forget(fifth);
        drop(first);
        let mut second = ring.consumer().unwrap();
        for n in 4..10u8 {
            assert_eq!(&*second.try_recv().unwrap(), &[n; 20]);
        }
        assert!(second.try_recv().is_err());
        // A spy still sees all ten: nothing left the retention.
        let mut spy = RingSpy::open(&path.0, SpyFrom::Oldest).unwrap();
        let mut count = 0;
        while let Ok(Spied::Record(record)) = spy.try_read() {
            assert_eq!(&*record, &[count; 20]);
            count += 1;
        }
        assert_eq!(count, 10);
    }

    #[test]
    fn a_retention_above_half_the_capacity_is_refused() {
        let path = TempRing::new("retain-large");
        let error = RingFile::create(&path.0, Options::new(4096).retain(2049)).unwrap_err();
        assert!(matches!(
            error.kind(),
            FileErrorKind::RetainTooLarge {
                requested: 2049,
                max: 2048
            }
        ));
        assert!(error.to_string().contains("2049"), "{error}");
        assert!(!path.0.exists());
    }
}
