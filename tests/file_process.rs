//! Ring files shared by real processes: producers and consumers in child
//! processes (this test binary, run again with a role: see `process`), killed
//! with `SIGKILL` at the worst moments.
//!
//! - Streams: an SPSC producer process and three MPSC producer processes
//!   send a million records each way through a small ring that wraps many
//!   times; every byte, the order and the exact count are checked, and the
//!   producers' exit ends the stream.
//! - A producer killed while it holds a claim: the consumer delivers every
//!   record committed before it, skips the claim once (never while its
//!   producer lives), goes on with the records committed after it by another
//!   producer or by a new SPSC producer. It gets past the claim by itself:
//!   in most SPSC trials nothing else happens until it has, so one that
//!   never did would hang, which the deadline turns into a failure. How
//!   long it took is printed (`-- --nocapture`), never asserted.
//! - A consumer killed mid-stream, even inside a batch whose release it
//!   never published: the next one resumes after the last record the dead
//!   one finished with (its `ReadClaim` dropped, or its `try_recv_batch`
//!   callback returned), so nothing committed is lost and only the record
//!   being read when it died is delivered twice.
//! - Waking a receiver asleep in another process; drain and follow modes
//!   after the producers die; one consumer at a time, and senders that go on
//!   with no consumer attached.
//!
//! Every wait has a deadline ([`PATIENCE`] unless said otherwise), so a hang
//! fails with a message. The tests take turns, so that each has the CPUs to
//! itself and its children.

#![cfg(all(target_os = "linux", feature = "mmap", not(miri)))]

mod common;
#[macro_use]
mod process;

use common::{
    Latencies, Streams, check_numbered, fill, mix, record_key as key, record_tag as tag_of,
    split_tag,
};
use process::{Line, PATIENCE, Polled, Proc, Role, TempPath, create, one_at_a_time};

use std::ops::{Deref, DerefMut};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use logring::channel::{self, Receiver, RecvTimeoutError, SendClaim, SendError, TryRecvError};
use logring::file::{FileError, FileErrorKind, Mode, Options, RingFile, RingObserver};
use logring::queue::{self, Consumer, WriteClaim};
use std::os::unix::fs::PermissionsExt;

// Records: producer `id`'s record `seq` has the key `key(id, seq)`, a length
// and payload derived from the key, and a tag naming the producer and the low
// bits of the sequence number, so that even an empty record out of order
// shows.

/// 0 to 200 bytes.
fn len_of(key: u64) -> usize {
    (mix(key ^ 0x1e57_f11e) % 201) as usize
}

/// Panics unless `tag` and `bytes` are record `seq` of producer `id`.
#[track_caller]
fn check_record(id: u32, seq: u64, tag: u32, bytes: &[u8]) {
    check_numbered(id, seq, tag, bytes, len_of(key(id, seq)));
}

// The producing end of a ring file, whichever API it is reached through.

/// Which API an end uses: the queue's (`try_claim`) or the channel's (`claim`).
const QUEUE: u64 = 0;
const CHANNEL: u64 = 1;

enum Tx {
    Spsc(queue::spsc::Producer),
    Mpsc(queue::mpsc::Producer),
    SpscSender(channel::spsc::Sender),
    MpscSender(channel::mpsc::Sender),
}

enum Claim<'a> {
    Queue(WriteClaim<'a>),
    Channel(SendClaim<'a>),
}

impl Tx {
    fn attach(ring: &RingFile, api: u64) -> Self {
        let attached = match (ring.mode(), api) {
            (Mode::Spsc, QUEUE) => ring.spsc_producer().map(Tx::Spsc),
            (Mode::Mpsc, QUEUE) => ring.mpsc_producer().map(Tx::Mpsc),
            (Mode::Spsc, _) => ring.spsc_sender().map(Tx::SpscSender),
            (Mode::Mpsc, _) => ring.mpsc_sender().map(Tx::MpscSender),
        };
        attached.unwrap_or_else(|error| panic!("cannot attach a producer: {error}"))
    }

    /// Claims `len` bytes, retrying while the ring is full, and hands the
    /// claim to `f`.
    fn with_claim<R>(&mut self, len: usize, f: impl FnOnce(Claim<'_>) -> R) -> R {
        let mut full_since = None;
        loop {
            let error = match self {
                Tx::Spsc(p) => match p.try_claim(len) {
                    Ok(claim) => return f(Claim::Queue(claim)),
                    Err(error) => SendError::from(error),
                },
                Tx::Mpsc(p) => match p.try_claim(len) {
                    Ok(claim) => return f(Claim::Queue(claim)),
                    Err(error) => SendError::from(error),
                },
                Tx::SpscSender(s) => match s.claim(len) {
                    Ok(claim) => return f(Claim::Channel(claim)),
                    Err(error) => error,
                },
                Tx::MpscSender(s) => match s.claim(len) {
                    Ok(claim) => return f(Claim::Channel(claim)),
                    Err(error) => error,
                },
            };
            assert_eq!(error, SendError::Full, "claiming {len} bytes");
            let since = *full_since.get_or_insert_with(Instant::now);
            assert!(since.elapsed() < PATIENCE, "the ring stayed full");
            thread::sleep(Duration::from_micros(20));
        }
    }

    /// Sends record `seq` of producer `id`.
    fn send(&mut self, id: u32, seq: u64) {
        let key = key(id, seq);
        self.with_claim(len_of(key), |mut claim| {
            fill(key, &mut claim);
            claim.set_tag(tag_of(id, seq));
            claim.commit();
        });
    }
}

impl Claim<'_> {
    fn set_tag(&mut self, tag: u32) {
        match self {
            Claim::Queue(claim) => claim.set_tag(tag),
            Claim::Channel(claim) => claim.set_tag(tag),
        }
    }

    fn position(&self) -> u64 {
        match self {
            Claim::Queue(claim) => claim.position(),
            Claim::Channel(claim) => claim.position(),
        }
    }

    fn commit(self) {
        match self {
            Claim::Queue(claim) => claim.commit(),
            Claim::Channel(claim) => claim.commit(),
        }
    }
}

impl Deref for Claim<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Claim::Queue(claim) => claim,
            Claim::Channel(claim) => claim,
        }
    }
}

impl DerefMut for Claim<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self {
            Claim::Queue(claim) => claim,
            Claim::Channel(claim) => claim,
        }
    }
}

// The consuming end, polled without waiting, whichever API it is.

/// Both boxed: the ends take cache lines of their own, and differ in size.
enum Rx {
    Queue(Box<Consumer>),
    Channel(Box<Receiver>),
}

/// What one poll of an [`Rx`] found.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Record,
    Empty,
    Disconnected,
}

impl Rx {
    fn attach(ring: &RingFile, api: u64, follow: bool) -> Self {
        if api == QUEUE {
            Rx::Queue(Box::new(ring.consumer().expect("attach the consumer")))
        } else {
            let mut rx = ring.receiver().expect("attach the receiver");
            rx.set_follow(follow);
            Rx::Channel(Box::new(rx))
        }
    }

    /// Reads the next record, if one is ready, and hands its position, tag
    /// and bytes to `f`.
    fn poll(&mut self, f: impl FnOnce(u64, u32, &[u8])) -> Got {
        match self {
            Rx::Queue(consumer) => match consumer.try_recv() {
                Ok(record) => {
                    f(record.position(), record.tag(), &record);
                    Got::Record
                }
                Err(queue::TryRecvError::Empty) => Got::Empty,
                Err(error) => panic!("{error}"),
            },
            Rx::Channel(receiver) => {
                let error = match receiver.try_recv() {
                    Ok(record) => {
                        f(record.position(), record.tag(), &record);
                        return Got::Record;
                    }
                    Err(error) => error,
                };
                match error {
                    TryRecvError::Empty => Got::Empty,
                    TryRecvError::Disconnected => {
                        assert_eq!(receiver.corruption(), None);
                        Got::Disconnected
                    }
                    error => panic!("{error}"),
                }
            }
        }
    }

    fn skipped_claims(&self) -> u64 {
        match self {
            Rx::Queue(consumer) => consumer.skipped_claims(),
            Rx::Channel(receiver) => receiver.skipped_claims(),
        }
    }
}

/// Fails the test once `PATIENCE` has passed since it was made.
struct Deadline {
    what: &'static str,
    at: Instant,
}

impl Deadline {
    fn new(what: &'static str) -> Self {
        Self {
            what,
            at: Instant::now() + PATIENCE,
        }
    }

    #[track_caller]
    fn check(&self) {
        assert!(Instant::now() < self.at, "timed out: {}", self.what);
    }
}

/// Naps briefly after a poll that found nothing.
fn idle(got: &Got) {
    if *got == Got::Empty {
        thread::sleep(Duration::from_micros(100));
    }
}

// The children. Each role opens the ring named by its path and reports to
// the parent on its stdout.

#[test]
fn child() {
    // These roles open (or create) their rings themselves.
    match process::role() {
        Some(role) if role.name == "race" => return race(&role),
        Some(role) if role.name == "observe" => return observe(&role),
        _ => {}
    }
    let Some((role, ring)) = process::child() else {
        return;
    };
    match role.name.as_str() {
        "produce" => produce(&ring, &role),
        "steady" => steady(&ring, &role),
        "hold" => hold(&ring, &role),
        "tail" => tail(&ring, &role),
        "await" => await_records(&ring, &role),
        "hold_receiver" => hold_receiver(&ring),
        "drain" => drain(&ring),
        other => panic!("unknown role {other}"),
    }
}

/// Args: api, producer id, count, first sequence number, hold. Sends
/// `count` records, reports `sent count`, then (if `hold` is 1) stays
/// attached until its stdin closes.
fn produce(ring: &RingFile, role: &Role) {
    let (api, id, count, first, hold) = (
        role.arg(0),
        role.arg(1) as u32,
        role.arg(2),
        role.arg(3),
        role.arg(4),
    );
    let mut tx = Tx::attach(ring, api);
    report!("attached");
    for seq in first..first + count {
        tx.send(id, seq);
    }
    report!("sent {count}");
    if hold == 1 {
        process::wait_for_stdin_eof();
    }
}

/// Args: api, producer id. Sends records until its stdin closes, then
/// reports how many it sent.
fn steady(ring: &RingFile, role: &Role) {
    let (api, id) = (role.arg(0), role.arg(1) as u32);
    let mut tx = Tx::attach(ring, api);
    let stop = Arc::new(AtomicBool::new(false));
    let stopper = Arc::clone(&stop);
    thread::spawn(move || {
        process::wait_for_stdin_eof();
        stopper.store(true, Ordering::Relaxed);
    });
    report!("attached");
    let mut seq = 0;
    while !stop.load(Ordering::Relaxed) {
        tx.send(id, seq);
        seq += 1;
    }
    report!("sent {seq}");
}

/// Args: api, producer id, count, claim length. Sends `count` records,
/// claims one more, writes half of it, reports `holding <position>` and
/// waits (to be killed) with the claim held.
fn hold(ring: &RingFile, role: &Role) {
    let (api, id, count, len) = (
        role.arg(0),
        role.arg(1) as u32,
        role.arg(2),
        role.arg(3) as usize,
    );
    let mut tx = Tx::attach(ring, api);
    report!("attached");
    for seq in 0..count {
        tx.send(id, seq);
    }
    tx.with_claim(len, |mut claim| {
        claim.set_tag(tag_of(id, count));
        fill(key(id, count), &mut claim[..len / 2]);
        report!("holding {}", claim.position());
        process::wait_for_stdin_eof();
    });
}

/// Args: record count, sequence number from which to read slowly, seed.
/// Reads producer 0's records from the start with a mix of `try_recv` and
/// `try_recv_batch`, checking each, and reports `read <seq>` for every record
/// before releasing it and `released <seq>` after releasing now and then.
/// From the slow sequence number on, it reads batches of 32 whose callback
/// sleeps 2 ms per record, each from a ring at least a quarter full and
/// announced by `slow <first seq>`.
fn tail(ring: &RingFile, role: &Role) {
    let (records, slow_from, seed) = (role.arg(0), role.arg(1), role.arg(2));
    let mut consumer = ring.consumer().expect("attach the consumer");
    report!("attached");
    let mut next = 0;
    let checked = |next: &mut u64, tag: u32, bytes: &[u8]| {
        check_record(0, *next, tag, bytes);
        *next += 1;
        *next - 1
    };
    let mut last_progress = Instant::now();
    for op in 0.. {
        if next == records {
            break;
        }
        let slow = next >= slow_from;
        let mut last = None;
        if slow {
            // Let the producer fill the ring, so that the batch is long.
            let waiting = Instant::now();
            while consumer.len_bytes() < consumer.capacity() / 4 {
                assert!(waiting.elapsed() < PATIENCE, "the ring does not fill");
                thread::sleep(Duration::from_millis(1));
            }
            report!("slow {next}");
        }
        if slow || mix(seed ^ op) % 2 == 0 {
            let limit = if slow {
                32
            } else {
                1 + (mix(!seed ^ op) % 64) as usize
            };
            let read = consumer.try_recv_batch(limit, |record| {
                let seq = checked(&mut next, record.tag(), &record);
                report!("read {seq}");
                if slow {
                    thread::sleep(Duration::from_millis(2));
                }
                last = Some(seq);
            });
            match read {
                Ok(count) => assert!(count > 0 && last.is_some(), "read {count}"),
                Err(queue::TryRecvError::Empty) => assert_eq!(last, None),
                Err(error) => panic!("{error}"),
            }
            if let Some(seq) = last {
                report!("released {seq}");
            }
        } else {
            match consumer.try_recv() {
                Ok(record) => {
                    let seq = checked(&mut next, record.tag(), &record);
                    report!("read {seq}");
                    record.release();
                    if seq % 256 == 0 {
                        report!("released {seq}");
                    }
                    last = Some(seq);
                }
                Err(queue::TryRecvError::Empty) => {}
                Err(error) => panic!("{error}"),
            }
        }
        if last.is_some() {
            last_progress = Instant::now();
        } else {
            assert_eq!(consumer.corruption(), None);
            assert!(last_progress.elapsed() < 3 * PATIENCE, "no records");
            thread::sleep(Duration::from_micros(50));
        }
    }
    report!("done");
}

/// Args: rounds. In follow mode, reports `waiting <i>`, then sleeps in
/// `recv` until record `i` of producer 0 arrives, and reports `got <i>`.
fn await_records(ring: &RingFile, role: &Role) {
    let mut rx = ring.receiver().expect("attach the receiver");
    rx.set_follow(true);
    for seq in 0..role.arg(0) {
        report!("waiting {seq}");
        let record = rx.recv().expect("a following receiver never disconnects");
        check_record(0, seq, record.tag(), &record);
        drop(record);
        report!("got {seq}");
    }
}

/// Holds the receiver until its stdin closes.
fn hold_receiver(ring: &RingFile) {
    let _rx = ring.receiver().expect("attach the receiver");
    report!("attached");
    process::wait_for_stdin_eof();
}

/// Receives (drain mode) until disconnected, checking producer 0's records
/// in order from the first, and reports `received <count>`.
fn drain(ring: &RingFile) {
    let mut rx = ring.receiver().expect("attach the receiver");
    let mut streams = Streams::new(1, len_of);
    loop {
        match rx.recv_timeout(PATIENCE) {
            Ok(record) => {
                streams.check(record.tag(), &record);
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => panic!("no record and no disconnection"),
            Err(error) => panic!("{error}"),
        }
    }
    report!("received {}", streams.count(0));
}

/// Args: id. Reports `ready`, waits for its stdin to close (every racer of
/// a round shares it, so that one close starts them all), opens or creates
/// the ring, commits one record holding `id` and reports `done` (or
/// `failed`, with the error on stderr).
fn race(role: &Role) {
    let id = role.arg(0) as u32;
    report!("ready");
    process::wait_for_stdin_eof();
    let opened = RingFile::open_or_create(&role.path, Options::new(4096).mode(Mode::Mpsc));
    let sent = opened.and_then(|ring| {
        let tx = ring.mpsc_sender()?;
        tx.send(&id.to_le_bytes())
            .unwrap_or_else(|error| panic!("{error}"));
        Ok(())
    });
    match sent {
        Ok(()) => report!("done"),
        Err(error) => {
            eprintln!("{error}");
            report!("failed");
        }
    }
}

/// Becomes user and group 65534 (nobody), with no other groups: a process
/// that the file permissions apply to, even in a test run as root.
fn become_nobody() {
    // SAFETY: system calls that change this process's credentials (glibc
    // applies them to every thread); `setgroups` reads no list of length 0.
    let results = unsafe {
        [
            libc::setgroups(0, std::ptr::null()),
            libc::setgid(NOBODY),
            libc::setuid(NOBODY),
        ]
    };
    assert_eq!(
        results,
        [0; 3],
        "cannot become nobody: {}",
        std::io::Error::last_os_error()
    );
}

/// User and group id 65534, nobody's.
const NOBODY: u32 = 65534;

/// Becomes nobody, then looks at the ring through a `RingObserver`: reports
/// `observed capacity head tail used producers consumer_pid` (pid 0 for
/// none), or `denied` if the file may not be read. Then tries to attach
/// (`open`, `open_or_create`), which must be refused with "permission
/// denied": reports `attach_denied`.
fn observe(role: &Role) {
    become_nobody();
    match RingObserver::open(&role.path) {
        Ok(ring) => {
            ring.check_len().unwrap();
            report!(
                "observed {} {} {} {} {} {}",
                ring.capacity(),
                ring.head(),
                ring.tail(),
                ring.len_bytes(),
                ring.producer_count(),
                ring.consumer_pid().unwrap_or(0)
            );
        }
        Err(error) if is_permission_denied(&error) => report!("denied"),
        Err(error) => panic!("{error}"),
    }
    for attached in [
        RingFile::open(&role.path),
        RingFile::open_or_create(&role.path, Options::new(4096)),
    ] {
        match attached {
            Err(error) if is_permission_denied(&error) => {}
            Err(error) => panic!("attaching: {error}"),
            Ok(ring) => panic!("attached to {ring:?}"),
        }
    }
    report!("attach_denied");
}

fn is_permission_denied(error: &FileError) -> bool {
    matches!(error.kind(), FileErrorKind::Io { action: "open", source }
        if source.kind() == std::io::ErrorKind::PermissionDenied)
        && error.to_string().contains("Permission denied")
}

// The tests.

/// A process with read permission only observes a ring (mode 0444, or 0640
/// with its group), attached ends and all, through a read-only mapping;
/// without read permission (0600) it gets "permission denied". Either way
/// attaching is refused with "permission denied", never a panic.
#[test]
fn a_process_that_may_only_read_a_ring_observes_it() {
    // SAFETY: geteuid only returns this process's effective user id.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("note: not root, so no process of another user can be started: skipped");
        return;
    }
    let _turn = one_at_a_time();
    let path = TempPath::new("observed");
    let ring = create(&path, 8192, Mode::Mpsc);
    let tx = ring.mpsc_sender().unwrap();
    let mut rx = ring.receiver().unwrap();
    for seq in 0..5 {
        tx.send(&[seq; 100]).unwrap();
    }
    drop(rx.recv().unwrap());
    let expected = vec![
        8192,
        ring.head(),
        ring.tail(),
        ring.len_bytes() as u64,
        1,
        u64::from(std::process::id()),
    ];
    assert!(ring.head() > 0 && ring.len_bytes() > 0);
    for (mode, group, sees) in [
        (0o444, 0, true),
        (0o640, NOBODY, true),
        (0o600, NOBODY, false),
    ] {
        std::fs::set_permissions(path.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        std::os::unix::fs::chown(path.path(), Some(0), Some(group)).unwrap();
        let mut observer = Proc::spawn("observe", path.path(), &[]);
        if sees {
            assert_eq!(observer.expect("observed"), expected, "mode {mode:04o}");
        } else {
            observer.expect("denied");
        }
        observer.expect("attach_denied");
        observer.finish();
    }
    // The observers changed nothing.
    assert_eq!(ring.len_bytes() as u64, expected[3]);
    for seq in 1..5 {
        assert_eq!(&rx.recv().unwrap()[..], [seq; 100]);
    }
}

/// Processes that start together on a fresh path all get one ring: `create`
/// makes the path appear only once the ring is initialised, and
/// `open_or_create` opens the winner's when its own `create` loses. (With
/// `create`, then `open` on its error, 61 of the 1600 racers failed here
/// with `Empty` or `Uninitialised`.)
#[test]
fn processes_that_open_or_create_together_share_one_ring() {
    let _turn = one_at_a_time();
    let racers = 8;
    for round in 0..200 {
        let path = TempPath::new("race");
        // Every racer blocks reading this socket: closing it starts them all.
        let (go, theirs) = UnixStream::pair().expect("a socket pair");
        let mut procs: Vec<Proc> = (0..racers)
            .map(|id| {
                let stdin = OwnedFd::from(theirs.try_clone().expect("a descriptor of the socket"));
                Proc::spawn_with_stdin("race", path.path(), &[id.into()], Stdio::from(stdin))
            })
            .collect();
        drop(theirs);
        for proc in &mut procs {
            proc.expect("ready");
        }
        drop(go);
        for proc in &mut procs {
            match proc.line() {
                Some(Line { word, .. }) if word == "done" => {}
                Some(Line { word, .. }) if word == "failed" => proc.fail(&format!("round {round}")),
                other => proc.fail(&format!("round {round}: reported {other:?}")),
            }
            proc.finish();
        }
        let ring =
            RingFile::open(path.path()).unwrap_or_else(|error| panic!("round {round}: {error}"));
        let mut consumer = ring.consumer().unwrap();
        let mut ids = Vec::new();
        while let Ok(record) = consumer.try_recv() {
            ids.push(u32::from_le_bytes(
                record[..].try_into().expect("a 4-byte id"),
            ));
        }
        assert_eq!(consumer.try_recv().err(), Some(queue::TryRecvError::Empty));
        ids.sort_unstable();
        assert_eq!(ids, (0..racers).collect::<Vec<u32>>(), "round {round}");
    }
}

/// Receives until the stream ends, alternating single receives and batches.
fn receive_all(rx: &mut Receiver, streams: &mut Streams, producers: &mut [Proc]) {
    for round in 0u64.. {
        let received = if round % 2 == 0 {
            rx.recv_timeout(PATIENCE).map(|record| {
                streams.check(record.tag(), &record);
            })
        } else {
            rx.recv_batch_timeout(64, PATIENCE, |record| {
                streams.check(record.tag(), &record);
            })
            .map(drop)
        };
        match received {
            Ok(()) => {}
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => producers[0].fail("no record within PATIENCE"),
            Err(error) => producers[0].fail(&error.to_string()),
        }
    }
    assert_eq!(rx.corruption(), None);
}

#[test]
fn spsc_stream_from_a_producer_process() {
    let _turn = one_at_a_time();
    const RECORDS: u64 = 1_000_000;
    let path = TempPath::new("spsc-stream");
    let ring = create(&path, 64 << 10, Mode::Spsc);
    let mut rx = ring.receiver().unwrap();
    let mut producer = Proc::spawn("produce", path.path(), &[CHANNEL, 0, RECORDS, 0, 0]);
    producer.expect("attached");
    let mut streams = Streams::new(1, len_of);
    receive_all(&mut rx, &mut streams, std::slice::from_mut(&mut producer));
    // The stream ended when the producer left, with every record received.
    assert_eq!(producer.expect("sent"), [RECORDS]);
    assert_eq!(streams.count(0), RECORDS);
    producer.finish();
    assert!(rx.is_empty());
    assert_eq!(rx.skipped_claims(), 0);
}

#[test]
fn mpsc_streams_from_three_producer_processes() {
    let _turn = one_at_a_time();
    const EACH: u64 = 340_000;
    let path = TempPath::new("mpsc-stream");
    let ring = create(&path, 64 << 10, Mode::Mpsc);
    let mut rx = ring.receiver().unwrap();
    let mut producers: Vec<Proc> = (0..3)
        .map(|id| Proc::spawn("produce", path.path(), &[CHANNEL, id, EACH, 0, 0]))
        .collect();
    for producer in &mut producers {
        producer.expect("attached");
    }
    let mut streams = Streams::new(3, len_of);
    receive_all(&mut rx, &mut streams, &mut producers);
    for (id, producer) in producers.iter_mut().enumerate() {
        assert_eq!(producer.expect("sent"), [EACH]);
        assert_eq!(streams.count(id as u32), EACH, "producer {id}");
        producer.finish();
    }
    assert!(rx.is_empty());
    assert_eq!(rx.skipped_claims(), 0);
}

/// What a new SPSC producer does after the one holding a claim is killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Restart {
    /// Nothing: only the claim is left.
    None,
    /// Starts once the consumer has skipped the claim.
    AfterSkip,
    /// Starts as soon as the old one is dead, before the consumer looks
    /// again: the claim's slot then has a live producer, of a newer
    /// generation, which must not keep the dead claim alive.
    Early,
}

/// Records the new SPSC producer sends.
const RESTART_RECORDS: u64 = 300;

/// Polls `rx` until `a` (producer 0) reports `holding`, then until its `k`
/// records are in; then checks for 30 ms that the consumer stays at the
/// claim. Returns the claim's position.
fn reach_live_claim(rx: &mut Rx, streams: &mut Streams, a: &mut Proc, k: u64) -> u64 {
    let deadline = Deadline::new("the holder's claim");
    let skipped = rx.skipped_claims();
    let mut claim = None;
    let mut past = 0;
    while claim.is_none() || streams.count(0) < k {
        deadline.check();
        match a.poll() {
            Polled::Line(Line { word, nums }) if word == "holding" => claim = Some(nums[0]),
            Polled::Line(line) => a.fail(&format!("unexpected report {line:?}")),
            Polled::Closed => a.fail("exited"),
            Polled::Nothing => {}
        }
        let got = rx.poll(|pos, tag, bytes| {
            streams.check(tag, bytes);
            if claim.is_some_and(|claim| pos > claim) {
                past += 1;
            }
        });
        assert_ne!(got, Got::Disconnected, "while the holder is alive");
        idle(&got);
    }
    let claim = claim.unwrap();
    // A live producer's claim is never skipped, however long it is held.
    let live = Instant::now();
    while live.elapsed() < Duration::from_millis(30) {
        let got = rx.poll(|pos, tag, bytes| {
            streams.check(tag, bytes);
            if pos > claim {
                past += 1;
            }
        });
        assert_ne!(got, Got::Disconnected, "while the holder is alive");
        idle(&got);
    }
    assert_eq!(past, 0, "records delivered past a live claim");
    assert_eq!(rx.skipped_claims(), skipped, "a live claim was skipped");
    assert_eq!(streams.count(0), k, "records after the held claim");
    claim
}

#[test]
fn sigkill_spsc_producer_holding_a_claim() {
    let _turn = one_at_a_time();
    // How long the consumer stayed at the dead claim (from the kill): on its
    // own, and with a new producer started before it looks again (process
    // start-up included). A consumer that never gets past it fails the
    // deadline.
    let mut stalls = [Latencies::new(), Latencies::new()];
    for trial in 0..50u64 {
        let consumer_api = trial % 2;
        let holder_api = (trial / 2) % 2;
        let restart = match trial % 5 {
            0 | 1 => Restart::None,
            2 | 3 => Restart::AfterSkip,
            _ => Restart::Early,
        };
        let k = mix(trial) % 40;
        let claim_len = mix(trial ^ 0xc1a1) % 201;
        let path = TempPath::new("spsc-kill-producer");
        let ring = create(&path, 4096, Mode::Spsc);
        let mut rx = Rx::attach(&ring, consumer_api, restart != Restart::None);
        let mut streams = Streams::new(3, len_of);
        let args = [holder_api, 0, k, claim_len];
        let mut a = Proc::spawn("hold", path.path(), &args);
        a.expect("attached");
        let claim = reach_live_claim(&mut rx, &mut streams, &mut a, k);
        let skipped = rx.skipped_claims();

        let killed = Instant::now();
        a.signal_kill();
        let mut c = None;
        if restart == Restart::Early {
            a.reap();
            let args = [1 - holder_api, 2, RESTART_RECORDS, 0, 0];
            let mut new = Proc::spawn("produce", path.path(), &args);
            new.expect("attached");
            c = Some(new);
        }
        // Past the claim: skipped, or a record after it delivered.
        let deadline = Deadline::new("getting past the dead claim");
        let mut past = false;
        while !past && rx.skipped_claims() == skipped {
            deadline.check();
            let got = rx.poll(|pos, tag, bytes| {
                streams.check(tag, bytes);
                assert!(pos > claim, "a record before the claim came late");
                past = true;
            });
            if got == Got::Disconnected {
                break;
            }
            idle(&got);
        }
        let which = usize::from(restart == Restart::Early);
        stalls[which].record(trial, killed.elapsed());
        a.reap();

        if restart == Restart::AfterSkip {
            let args = [1 - holder_api, 2, RESTART_RECORDS, 0, 0];
            c = Some(Proc::spawn("produce", path.path(), &args));
        }
        if let Some(c) = &mut c {
            // The new producer sends, and everything it sends is received.
            let deadline = Deadline::new("the new producer's records");
            while streams.count(2) < RESTART_RECORDS {
                deadline.check();
                let got = rx.poll(|_, tag, bytes| {
                    streams.check(tag, bytes);
                });
                assert_ne!(got, Got::Disconnected, "a following receiver");
                idle(&got);
            }
            if restart == Restart::AfterSkip {
                assert_eq!(c.expect("attached"), [0u64; 0]);
            }
            assert_eq!(c.expect("sent"), [RESTART_RECORDS]);
            c.finish();
        }
        // Nothing else arrives; a draining receiver ends.
        let draining = restart == Restart::None && consumer_api == CHANNEL;
        let deadline = Deadline::new("the end of the stream");
        loop {
            deadline.check();
            match rx.poll(|_, tag, _| panic!("an unexpected record, tag {tag:#x}")) {
                Got::Disconnected if draining => break,
                Got::Empty if !draining => break,
                Got::Empty => idle(&Got::Empty),
                got => panic!("trial {trial}: {got:?}"),
            }
        }
        assert_eq!(streams.count(0), k);
        let skips = rx.skipped_claims() - skipped;
        assert_eq!(skips, 1, "trial {trial} ({restart:?})");
    }
    println!(
        "SPSC: stalls at a dead claim (numbered by trial) {}\n\
         and when a new producer started first: {}",
        stalls[0].summary(),
        stalls[1].summary()
    );
}

#[test]
fn sigkill_mpsc_producer_holding_a_claim() {
    let _turn = one_at_a_time();
    /// Holds at most `RING / 8` records (8 bytes is the smallest).
    const RING: usize = 8192;
    // How long the consumer stayed at the dead claim; one that never gets
    // past it fails the deadline.
    let mut stalls = Latencies::new();
    for trial in 0..50u64 {
        let consumer_api = trial % 2;
        let holder_api = (trial / 2) % 2;
        let steady_api = (trial / 4) % 2;
        let k = mix(trial ^ 0x3a) % 40;
        let claim_len = mix(trial ^ 0xc1a1) % 201;
        let path = TempPath::new("mpsc-kill-producer");
        let ring = create(&path, RING, Mode::Mpsc);
        let mut rx = Rx::attach(&ring, consumer_api, false);
        let mut streams = Streams::new(2, len_of);
        // Producer 1 keeps committing throughout; producer 0 holds a claim.
        let mut b = Proc::spawn("steady", path.path(), &[steady_api, 1]);
        b.expect("attached");
        let mut a = Proc::spawn("hold", path.path(), &[holder_api, 0, k, claim_len]);
        a.expect("attached");
        let claim = reach_live_claim(&mut rx, &mut streams, &mut a, k);
        let skipped = rx.skipped_claims();

        let killed = Instant::now();
        a.signal_kill();
        let deadline = Deadline::new("getting past the dead claim");
        let mut past = 0;
        // Only the live producer's records may come now; counts those past
        // the claim.
        let poll = |rx: &mut Rx, streams: &mut Streams, past: &mut u64| {
            let got = rx.poll(|pos, tag, bytes| {
                let id = streams.check(tag, bytes);
                assert_eq!(id, 1, "a record of the killed producer came late");
                if pos > claim {
                    *past += 1;
                }
            });
            idle(&got);
            got
        };
        while rx.skipped_claims() == skipped {
            deadline.check();
            assert_ne!(poll(&mut rx, &mut streams, &mut past), Got::Disconnected);
        }
        stalls.record(trial, killed.elapsed());
        a.reap();

        // The live producer's records after the claim come through, more
        // than the ring can hold (so some were committed after the kill)...
        let deadline = Deadline::new("the live producer's records");
        let before = streams.count(1);
        while past == 0 || streams.count(1) - before <= RING as u64 / 8 {
            deadline.check();
            assert_ne!(poll(&mut rx, &mut streams, &mut past), Got::Disconnected);
        }
        // ...and all of them, until it leaves and the stream ends.
        b.close_stdin();
        let deadline = Deadline::new("the live producer's last records");
        let mut sent = None;
        let mut ended = false;
        while !ended || sent.is_none() {
            deadline.check();
            if sent.is_none() {
                match b.poll() {
                    Polled::Line(Line { word, nums }) if word == "sent" => sent = Some(nums[0]),
                    Polled::Line(line) => b.fail(&format!("unexpected report {line:?}")),
                    Polled::Closed => b.fail("exited without a count"),
                    Polled::Nothing => {}
                }
            }
            if ended {
                thread::sleep(Duration::from_micros(100));
                continue;
            }
            match poll(&mut rx, &mut streams, &mut past) {
                Got::Disconnected => ended = true,
                Got::Empty => ended = consumer_api == QUEUE && sent == Some(streams.count(1)),
                Got::Record => {}
            }
        }
        let sent = sent.unwrap();
        b.finish();
        assert_eq!(streams.count(1), sent);
        assert_eq!(streams.count(0), k);
        assert_eq!(rx.skipped_claims() - skipped, 1, "trial {trial}");
        assert_eq!(rx.poll(|_, _, _| panic!("an unexpected record")), {
            if consumer_api == QUEUE {
                Got::Empty
            } else {
                Got::Disconnected
            }
        });
    }
    println!(
        "MPSC: stalls at a dead claim (numbered by trial) {}",
        stalls.summary()
    );
}

/// What a consumer process has reported: the last record it read (before
/// releasing it) and the last it said it had released.
#[derive(Debug, Default)]
struct Progress {
    read: Option<u64>,
    released: Option<u64>,
    /// The first record of the slow batch being read.
    slow: Option<u64>,
}

impl Progress {
    fn note(&mut self, child: &Proc, line: Line) {
        match line.word.as_str() {
            "read" => {
                let expected = self.read.map_or(0, |r| r + 1);
                if line.nums != [expected] {
                    child.fail(&format!("read {:?}, expected {expected}", line.nums));
                }
                self.read = Some(expected);
            }
            "released" => {
                let released = Some(line.nums[0]);
                if released > self.read || released < self.released {
                    child.fail(&format!("released {released:?} after {self:?}"));
                }
                self.released = released;
            }
            "slow" => self.slow = Some(line.nums[0]),
            _ => child.fail(&format!("unexpected report {line:?}")),
        }
    }
}

#[test]
fn sigkill_consumer_mid_stream_then_resume() {
    let _turn = one_at_a_time();
    const RECORDS: u64 = 200_000;
    let mut redelivered_in_batch = false;
    for trial in 0..10u64 {
        let mode = if trial % 2 == 0 {
            Mode::Spsc
        } else {
            Mode::Mpsc
        };
        let slow = trial % 3 == 2;
        let path = TempPath::new("kill-consumer");
        let ring = create(&path, 16 << 10, mode);
        let mut tx = Tx::attach(&ring, CHANNEL);
        let producer = thread::spawn(move || {
            for seq in 0..RECORDS {
                tx.send(0, seq);
            }
        });
        let threshold = 10_000 + mix(trial ^ 0x7e1) % 90_000;
        let slow_from = if slow { threshold } else { u64::MAX };
        let mut child = Proc::spawn("tail", path.path(), &[RECORDS, slow_from, trial]);
        child.expect("attached");

        // Kill it once it has read past the threshold (in a slow batch, a
        // few records into it).
        let mut progress = Progress::default();
        let kill_at = |progress: &Progress| match (slow, progress.slow) {
            (false, _) => threshold,
            (true, None) => u64::MAX,
            (true, Some(start)) => start + 5,
        };
        while progress.read.is_none_or(|r| r < kill_at(&progress)) {
            let Some(line) = child.line() else {
                child.fail("exited");
            };
            progress.note(&child, line);
        }
        child.kill();
        // Its last reports: those written before it died.
        while let Some(line) = child.line() {
            progress.note(&child, line);
        }
        let Progress { read, released, .. } = progress;
        let read = read.unwrap();

        let mut rx = ring.receiver().expect("the dead consumer's lock is gone");
        let first = rx.recv_timeout(PATIENCE).expect("the next record");
        let (id, first_seq) = split_tag(first.tag());
        check_record(id, first_seq, first.tag(), &first);
        drop(first);
        // Nothing released is delivered again and nothing is lost: the new
        // consumer starts at the record the dead one was reading (reported,
        // and not finished with) or just after its last one. In a batch, a
        // record whose callback returned is finished with, though the batch's
        // release was never published: a restart completes that release.
        assert!(
            released.is_none_or(|released| first_seq > released),
            "trial {trial}: record {first_seq} was released ({released:?})"
        );
        assert!(
            first_seq == read || first_seq == read + 1,
            "trial {trial}: the dead consumer last read record {read}, the \
             new one starts at {first_seq}"
        );
        if slow && first_seq == read {
            redelivered_in_batch = true;
        }
        let mut streams = Streams::new(1, len_of);
        streams.resume_at(0, first_seq + 1);
        receive_all(&mut rx, &mut streams, std::slice::from_mut(&mut child));
        assert_eq!(streams.count(0), RECORDS, "trial {trial}");
        producer.join().unwrap();
        assert!(rx.is_empty());
        println!(
            "trial {trial} ({mode}{}): killed after reading {read}, released \
             {released:?}; resumed at {first_seq}",
            if slow { ", slow batch" } else { "" }
        );
    }
    // The slow batches' callbacks sleep, so a kill lands in one almost
    // always.
    assert!(
        redelivered_in_batch,
        "no consumer was killed inside a read_batch callback"
    );
}

#[test]
fn receiver_asleep_in_another_process_is_woken_by_a_commit() {
    let _turn = one_at_a_time();
    const ROUNDS: u64 = 5;
    const WAKE_PATIENCE: Duration = Duration::from_secs(5);
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let path = TempPath::new("wake");
        let ring = create(&path, 4096, mode);
        let mut tx = Tx::attach(&ring, CHANNEL);
        let mut child = Proc::spawn("await", path.path(), &[ROUNDS]);
        for seq in 0..ROUNDS {
            assert_eq!(child.expect_within("waiting", WAKE_PATIENCE), [seq]);
            // Time to spin out and fall asleep (a following receiver sleeps
            // until it is woken: there is no periodic look to rescue it).
            thread::sleep(Duration::from_millis(50));
            tx.send(0, seq);
            assert_eq!(child.expect_within("got", WAKE_PATIENCE), [seq]);
        }
        child.finish_within(WAKE_PATIENCE);
    }
}

#[test]
fn draining_receiver_ends_when_the_producer_process_is_killed() {
    let _turn = one_at_a_time();
    let path = TempPath::new("drain");
    let ring = create(&path, 64 << 10, Mode::Spsc);
    let mut rx = ring.receiver().unwrap();
    let mut streams = Streams::new(1, len_of);
    let mut receive = |rx: &mut Receiver, n: u64| {
        for _ in 0..n {
            let record = rx.recv_timeout(PATIENCE).expect("a record");
            streams.check(record.tag(), &record);
        }
    };

    // Killed with records not yet received: they are drained first.
    let mut producer = Proc::spawn("produce", path.path(), &[CHANNEL, 0, 300, 0, 1]);
    producer.expect("attached");
    assert_eq!(producer.expect("sent"), [300]);
    receive(&mut rx, 100);
    producer.kill();
    receive(&mut rx, 200);
    assert_eq!(
        rx.recv_timeout(PATIENCE).unwrap_err(),
        RecvTimeoutError::Disconnected
    );
    assert!(rx.is_disconnected());

    // Killed while the receiver sleeps in `recv`.
    let mut producer = Proc::spawn("produce", path.path(), &[CHANNEL, 0, 100, 300, 1]);
    producer.expect("attached");
    assert_eq!(producer.expect("sent"), [100]);
    receive(&mut rx, 100);
    let asleep = thread::spawn(move || {
        let started = Instant::now();
        let result = rx.recv_timeout(PATIENCE).map(drop);
        (result, started.elapsed())
    });
    thread::sleep(Duration::from_millis(20));
    producer.kill();
    let (result, waited) = asleep.join().unwrap();
    assert_eq!(
        result,
        Err(RecvTimeoutError::Disconnected),
        "after {waited:?}"
    );
}

#[test]
fn following_receiver_waits_for_a_new_producer_process() {
    let _turn = one_at_a_time();
    let path = TempPath::new("follow");
    let ring = create(&path, 64 << 10, Mode::Mpsc);
    let mut rx = ring.receiver().unwrap();
    rx.set_follow(true);
    let mut streams = Streams::new(2, len_of);
    let mut receive = |rx: &mut Receiver, n: u64| {
        for _ in 0..n {
            let record = rx.recv_timeout(PATIENCE).expect("a record");
            streams.check(record.tag(), &record);
        }
    };

    let mut first = Proc::spawn("produce", path.path(), &[CHANNEL, 0, 200, 0, 1]);
    first.expect("attached");
    assert_eq!(first.expect("sent"), [200]);
    receive(&mut rx, 200);
    first.kill();
    assert!(rx.is_disconnected());
    let waited = rx.recv_timeout(Duration::from_millis(200)).map(drop);
    assert_eq!(waited, Err(RecvTimeoutError::Timeout));
    assert_eq!(rx.try_recv().map(drop), Err(TryRecvError::Empty));

    // The receiver is asleep in `recv` when the new producer's first commit
    // comes.
    let mut second = Proc::spawn("produce", path.path(), &[CHANNEL, 1, 200, 0, 0]);
    receive(&mut rx, 200);
    assert_eq!(second.expect("attached"), [0u64; 0]);
    assert_eq!(second.expect("sent"), [200]);
    second.finish();
    let waited = rx.recv_timeout(Duration::from_millis(100)).map(drop);
    assert_eq!(waited, Err(RecvTimeoutError::Timeout));
    assert!(rx.is_empty());
}

#[test]
fn one_consumer_at_a_time_across_processes() {
    let _turn = one_at_a_time();
    let path = TempPath::new("exclusive");
    let ring = create(&path, 4096, Mode::Spsc);
    let mut tx = Tx::attach(&ring, CHANNEL);
    let is_disconnected = |tx: &Tx| match tx {
        Tx::SpscSender(sender) => sender.is_disconnected(),
        _ => unreachable!(),
    };
    assert!(!ring.consumer_attached());
    assert!(is_disconnected(&tx));

    let mut holder = Proc::spawn("hold_receiver", path.path(), &[]);
    holder.expect("attached");
    assert!(ring.consumer_attached());
    assert!(!is_disconnected(&tx));
    let again = RingFile::open(path.path()).unwrap();
    for attempt in [
        ring.receiver().map(drop),
        ring.consumer().map(drop),
        again.receiver().map(drop),
    ] {
        let error = attempt.expect_err("a second consumer");
        let holder_pid = Some(holder.pid());
        assert!(
            matches!(error.kind(), FileErrorKind::ConsumerAttached { pid } if *pid == holder_pid)
        );
        assert_eq!(ring.consumer_pid(), holder_pid);
        assert_eq!(error.path(), path.path());
    }

    holder.kill();
    assert!(!ring.consumer_attached());
    assert!(is_disconnected(&tx));
    let mut rx = ring.receiver().expect("the killed consumer's lock is gone");
    assert!(ring.consumer_attached());
    assert!(!is_disconnected(&tx));
    tx.send(0, 0);
    let record = rx.recv_timeout(PATIENCE).unwrap();
    check_record(0, 0, record.tag(), &record);
    drop(record);
    drop(rx);
    assert!(!ring.consumer_attached());
    assert!(is_disconnected(&tx));
}

#[test]
fn sender_fills_the_ring_with_no_consumer_then_a_consumer_process_drains_it() {
    let _turn = one_at_a_time();
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let path = TempPath::new("no-consumer");
        let ring = create(&path, 4096, mode);
        let mut tx = Tx::attach(&ring, CHANNEL);
        let mut sent = 0;
        // `claim` spins for its budget, then reports `Full` (never
        // `Disconnected`: the records wait for a consumer).
        loop {
            let key = key(0, sent);
            let claim = match &mut tx {
                Tx::SpscSender(sender) => {
                    assert!(sender.is_disconnected());
                    sender.claim(len_of(key))
                }
                Tx::MpscSender(sender) => {
                    assert!(sender.is_disconnected());
                    sender.claim(len_of(key))
                }
                _ => unreachable!(),
            };
            match claim {
                Ok(mut claim) => {
                    fill(key, &mut claim);
                    claim.set_tag(tag_of(0, sent));
                    claim.commit();
                    sent += 1;
                }
                Err(SendError::Full) => break,
                Err(error) => panic!("{mode}: record {sent}: {error}"),
            }
        }
        assert!(sent > 4096 / 216, "{mode}: only {sent} records fit");
        assert_eq!(ring.full_rejections(), 1);
        drop(tx);

        let mut consumer = Proc::spawn("drain", path.path(), &[]);
        assert_eq!(consumer.expect("received"), [sent], "{mode}");
        consumer.finish();
        assert!(ring.is_empty());
    }
}
