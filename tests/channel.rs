//! Behaviour of the blocking channels: what each call returns, in which
//! order records arrive, when the ends report `Disconnected`, `Full`,
//! `TooLarge` and `Timeout`, and that a blocked receiver is woken by every
//! event that can end its wait.
//!
//! The scenarios follow the classic channel test suites (`std::sync::mpsc`'s
//! tests and crossbeam-channel's `tests/array.rs` and `tests/golang.rs`:
//! send/recv, cloned senders, disconnection from either side, timeouts that
//! are deadlines, a full bounded channel), written fresh for this API: sends
//! claim space in place, a claim can be aborted or leaked, and records carry a
//! tag.
//!
//! Most scenarios run on both channel kinds (`<scenario>::spsc` and
//! `<scenario>::mpsc`). Loop counts are scaled down under miri. The long
//! randomised stress tests are in `tests/channel_stress.rs`.

mod common;
use common::{check, fill, mix};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::{Duration, Instant};

use logring::channel::{
    Receiver, RecvError, RecvTimeoutError, SendClaim, SendError, SpinPolicy, TryRecvError, mpsc,
    spsc,
};
use logring::{CorruptRing, Error};

/// How long any single wait may take before a test reports a hang.
const PATIENCE: Duration = Duration::from_secs(10);

fn scaled(n: usize) -> usize {
    if cfg!(miri) {
        n.div_ceil(100).max(2)
    } else {
        n
    }
}

/// Runs `f` on its own thread; `join` fails the test (instead of hanging it)
/// if `f` has not returned within [`PATIENCE`].
struct Guarded<T> {
    what: &'static str,
    result: std_mpsc::Receiver<T>,
    handle: thread::JoinHandle<()>,
}

fn spawn_guarded<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Guarded<T> {
    let (done, result) = std_mpsc::channel();
    let handle = thread::spawn(move || {
        let _ = done.send(f());
    });
    Guarded {
        what,
        result,
        handle,
    }
}

impl<T> Guarded<T> {
    fn join(self) -> T {
        match self.result.recv_timeout(PATIENCE) {
            Ok(value) => {
                self.handle.join().unwrap();
                value
            }
            Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                // The thread panicked: re-raise its panic.
                match self.handle.join() {
                    Err(panic) => std::panic::resume_unwind(panic),
                    Ok(()) => unreachable!("{}: finished without a result", self.what),
                }
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                panic!("{}: still blocked after {PATIENCE:?}", self.what)
            }
        }
    }
}

/// The sending operations, so that a scenario can run on both channel kinds
/// (the SPSC sender takes `&mut self`, the MPSC one `&self`).
trait Tx: Send + 'static {
    fn claim(&mut self, len: usize) -> Result<SendClaim<'_>, SendError>;
    fn try_claim(&mut self, len: usize) -> Result<SendClaim<'_>, SendError>;
    fn send(&mut self, payload: &[u8]) -> Result<(), SendError>;
    fn try_send(&mut self, payload: &[u8]) -> Result<(), SendError>;
    fn is_disconnected(&self) -> bool;
    fn full_rejections(&self) -> u64;
    fn max_record_len(&self) -> usize;
    fn set_spin_policy(&mut self, policy: SpinPolicy);
}

macro_rules! impl_tx {
    ($sender:ty) => {
        impl Tx for $sender {
            fn claim(&mut self, len: usize) -> Result<SendClaim<'_>, SendError> {
                <$sender>::claim(self, len)
            }
            fn try_claim(&mut self, len: usize) -> Result<SendClaim<'_>, SendError> {
                <$sender>::try_claim(self, len)
            }
            fn send(&mut self, payload: &[u8]) -> Result<(), SendError> {
                <$sender>::send(self, payload)
            }
            fn try_send(&mut self, payload: &[u8]) -> Result<(), SendError> {
                <$sender>::try_send(self, payload)
            }
            fn is_disconnected(&self) -> bool {
                <$sender>::is_disconnected(self)
            }
            fn full_rejections(&self) -> u64 {
                <$sender>::full_rejections(self)
            }
            fn max_record_len(&self) -> usize {
                <$sender>::max_record_len(self)
            }
            fn set_spin_policy(&mut self, policy: SpinPolicy) {
                <$sender>::set_spin_policy(self, policy)
            }
        }
    };
}
impl_tx!(spsc::Sender);
impl_tx!(mpsc::Sender);

/// `spsc::new` or `mpsc::new`.
type New<T> = fn(usize) -> Result<(T, Receiver), Error>;

/// Runs scenario `$name` (a generic function taking a [`New`]) on both
/// channel kinds, as tests `$name::spsc` and `$name::mpsc`.
macro_rules! both {
    ($(#[$attr:meta])* $name:ident) => {
        mod $name {
            $(#[$attr])*
            #[test]
            fn spsc() {
                super::$name(logring::channel::spsc::new);
            }

            $(#[$attr])*
            #[test]
            fn mpsc() {
                super::$name(logring::channel::mpsc::new);
            }
        }
    };
}

/// Sends `payload` (retrying `Full` with a yield) and commits it with `tag`.
fn send_tagged<T: Tx>(tx: &mut T, payload: &[u8], tag: u32) {
    let mut claim = loop {
        match tx.claim(payload.len()) {
            Ok(claim) => break claim,
            Err(SendError::Full) => thread::yield_now(),
            Err(error) => panic!("claim: {error}"),
        }
    };
    claim.copy_from_slice(payload);
    claim.set_tag(tag).unwrap();
    claim.commit();
}

// ---------------------------------------------------------------------------
// Sending and receiving.

/// The largest tag a user's record may carry: the ones above are logring's.
const LAST_USER_TAG: u32 = *logring::ReservedTag::RANGE.start() - 1;

/// A tag made of `bits`, below the reserved range.
fn user_tag(bits: u64) -> u32 {
    (bits as u32) % *logring::ReservedTag::RANGE.start()
}

fn basic<T: Tx>(new: New<T>) {
    let (mut tx, mut rx) = new(1024).unwrap();
    assert!(rx.is_empty());

    let mut claim = tx.claim(5).unwrap();
    assert_eq!(claim.len(), 5);
    claim.copy_from_slice(b"hello");
    claim.set_tag(7).unwrap();
    assert_eq!(claim.tag(), 7);
    claim.commit();

    tx.send(b"world").unwrap();

    // A zero-length record still carries its tag.
    let mut claim = tx.claim(0).unwrap();
    assert!(claim.is_empty());
    claim.set_tag(0xdead_beef).unwrap();
    claim.commit();

    // logring's own tags are refused; the claim keeps the tag it had.
    let mut claim = tx.claim(0).unwrap();
    claim.set_tag(9).unwrap();
    for reserved in [0xffff_ff00, 0xffff_ff01, u32::MAX] {
        let refused = claim.set_tag(reserved).unwrap_err();
        assert_eq!((refused.tag(), claim.tag()), (reserved, 9));
    }
    claim.abort();

    // Aborted claims, explicitly or by drop, are never delivered.
    let mut claim = tx.claim(8).unwrap();
    claim.copy_from_slice(b"aborted!");
    claim.abort();
    drop(tx.try_claim(3).unwrap());

    // A truncated claim is delivered at its new length.
    let mut claim = tx.try_claim(16).unwrap();
    claim.copy_from_slice(b"0123456789abcdef");
    claim.truncate(4);
    claim.set_tag(LAST_USER_TAG).unwrap();
    claim.commit();

    tx.send(b"end").unwrap();
    assert!(!rx.is_empty());

    let record = rx.recv().unwrap();
    assert_eq!((&*record, record.tag()), (&b"hello"[..], 7));
    drop(record);
    let record = rx.try_recv().unwrap();
    assert_eq!((&*record, record.tag()), (&b"world"[..], 0));
    drop(record);
    let record = rx.recv_timeout(PATIENCE).unwrap();
    assert_eq!((&*record, record.tag()), (&b""[..], 0xdead_beef));
    drop(record);
    let record = rx.recv_deadline(Instant::now() + PATIENCE).unwrap();
    assert_eq!((&*record, record.tag()), (&b"0123"[..], LAST_USER_TAG));
    drop(record);
    let record = rx.recv().unwrap();
    assert_eq!(&*record, b"end");
    record.release();

    assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Empty);
    assert_eq!(
        rx.recv_timeout(Duration::ZERO).unwrap_err(),
        RecvTimeoutError::Timeout
    );
    assert!(rx.is_empty());
    assert!(!rx.is_disconnected());
    assert!(!tx.is_disconnected());
    assert_eq!(rx.skipped_claims(), 0);
    assert_eq!(tx.full_rejections(), 0);

    drop(tx);
    assert!(rx.is_disconnected());
    assert_eq!(rx.recv().unwrap_err(), RecvError::Disconnected);
}
both!(basic);

/// A timeout too far away to represent waits like `recv`.
fn huge_timeout<T: Tx>(new: New<T>) {
    let (mut tx, mut rx) = new(256).unwrap();
    tx.send(b"x").unwrap();
    assert_eq!(&*rx.recv_timeout(Duration::MAX).unwrap(), b"x");
    drop(tx);
    assert_eq!(
        rx.recv_timeout(Duration::MAX).unwrap_err(),
        RecvTimeoutError::Disconnected
    );
}
both!(huge_timeout);

/// A claim is an `io::Write` and a `fmt::Write`: `write!` formats in place,
/// each write appends all of its bytes or none (`WriteZero`, `fmt::Error`),
/// and commit publishes the bytes written (all of the claim if nothing was
/// written that way); a claim a write failed on can still be committed, or
/// dropped to abort it. A receiver asleep in `recv` is woken by such a
/// commit.
fn claims_write_in_place<T: Tx>(new: New<T>) {
    use std::io::ErrorKind::WriteZero;
    let (mut tx, mut rx) = new(1024).unwrap();

    let mut claim = tx.claim(64).unwrap();
    {
        use std::fmt::Write as _;
        write!(claim, "order {} filled at {:.2}", 42, 101.5).unwrap();
        assert_eq!(claim.write_str(&"x".repeat(40)), Err(std::fmt::Error));
    }
    claim.set_tag(3).unwrap();
    claim.commit();

    let mut claim = tx.try_claim(8).unwrap();
    {
        use std::io::Write as _;
        claim.write_all(b"abc").unwrap();
        assert_eq!(claim.write(b"defghi").unwrap_err().kind(), WriteZero);
        assert_eq!(claim.write(b"defgh").unwrap(), 5);
        assert_eq!(claim.write(b"!").unwrap_err().kind(), WriteZero);
        claim.flush().unwrap();
    }
    claim.commit();

    // Truncated below what was written: the first bytes.
    let mut claim = tx.claim(16).unwrap();
    {
        use std::io::Write as _;
        claim.write_all(b"hello world").unwrap();
    }
    claim.truncate(5);
    claim.commit();

    // A failed write, then dropped or aborted: nothing is delivered.
    let mut claim = tx.claim(4).unwrap();
    {
        use std::fmt::Write as _;
        claim.write_str("ab").unwrap();
        assert!(write!(claim, "{}", 123_456).is_err());
    }
    drop(claim);
    let mut claim = tx.try_claim(4).unwrap();
    {
        use std::io::Write as _;
        assert_eq!(claim.write_all(b"12345").unwrap_err().kind(), WriteZero);
    }
    claim.abort();

    // A failed write, then committed: what was written before it.
    let mut claim = tx.claim(4).unwrap();
    {
        use std::fmt::Write as _;
        claim.write_str("ok").unwrap();
        assert!(claim.write_str("too long").is_err());
    }
    claim.commit();

    // No write: the whole claim. An empty claim takes empty writes only.
    let mut claim = tx.claim(4).unwrap();
    claim.copy_from_slice(b"full");
    claim.commit();
    let mut claim = tx.claim(0).unwrap();
    {
        use std::io::Write as _;
        assert_eq!(claim.write(b"").unwrap(), 0);
        assert_eq!(claim.write(b"x").unwrap_err().kind(), WriteZero);
    }
    claim.commit();

    let expected: [(&[u8], u32); 6] = [
        (b"order 42 filled at 101.50", 3),
        (b"abcdefgh", 0),
        (b"hello", 0),
        (b"ok", 0),
        (b"full", 0),
        (b"", 0),
    ];
    for (bytes, tag) in expected {
        let record = rx.try_recv().unwrap();
        assert_eq!((&*record, record.tag()), (bytes, tag));
    }
    assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Empty);
    assert!(
        rx.is_empty(),
        "the unwritten rest of each claim is released"
    );

    rx.set_spin_policy(SpinPolicy::NONE);
    let receiving = spawn_guarded("receiver", move || {
        let record = rx.recv().map(|record| record.to_vec());
        (rx, record)
    });
    thread::sleep(Duration::from_millis(20));
    let mut claim = tx.claim(32).unwrap();
    {
        use std::fmt::Write as _;
        write!(claim, "wake {}", 1).unwrap();
    }
    claim.commit();
    let (_rx, record) = receiving.join();
    assert_eq!(record.unwrap(), b"wake 1");
    assert_eq!(tx.full_rejections(), 0);
}
both!(claims_write_in_place);

/// Many records through a small ring from another thread: the sender meets
/// `Full` and retries, the receiver alternates between its calls, and every
/// record arrives once, in order, intact.
fn threaded_in_order<T: Tx>(new: New<T>) {
    let records = scaled(20_000) as u64;
    let (mut tx, mut rx) = new(512).unwrap();
    let len = |seq: u64| (mix(seq ^ 0x1e57) % 100) as usize;
    let sending = spawn_guarded("sender", move || {
        let mut scratch = [0u8; 100];
        for seq in 0..records {
            let payload = &mut scratch[..len(seq)];
            fill(seq, payload);
            send_tagged(&mut tx, payload, seq as u32);
        }
    });
    let mut next = 0u64;
    let mut take = |bytes: &[u8], tag: u32| {
        assert_eq!(tag, next as u32, "record {next}: tag");
        assert_eq!(bytes.len(), len(next), "record {next}: length");
        check(next, bytes);
        next += 1;
    };
    let mut round = 0u32;
    loop {
        round += 1;
        let outcome = match round % 4 {
            0 => rx
                .recv_batch(1 + round as usize % 16, |record| {
                    take(&record, record.tag())
                })
                .map(drop)
                .map_err(|_| RecvTimeoutError::Disconnected),
            1 => rx
                .recv_batch_timeout(1 + round as usize % 16, PATIENCE, |record| {
                    take(&record, record.tag())
                })
                .map(drop),
            2 => rx.recv().map(|r| take(&r, r.tag())).map_err(Into::into),
            _ => rx.recv_timeout(PATIENCE).map(|r| take(&r, r.tag())),
        };
        match outcome {
            Ok(()) => {}
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => panic!("no record within {PATIENCE:?}"),
            Err(error) => panic!("{error}"),
        }
    }
    sending.join();
    assert_eq!(next, records);
    assert!(rx.is_empty());
}
both!(threaded_in_order);

// ---------------------------------------------------------------------------
// MPSC: several senders.

#[test]
fn mpsc_cloned_senders_deliver_everything() {
    const SENDERS: u8 = 4;
    const EACH: u8 = 3;
    let (tx, mut rx) = mpsc::new(4096).unwrap();
    let threads: Vec<_> = (0..SENDERS)
        .map(|id| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..EACH {
                    tx.send(&[id, i]).unwrap();
                }
            })
        })
        .collect();
    tx.send(&[SENDERS, 0]).unwrap();
    drop(tx);
    let mut got = Vec::new();
    loop {
        match rx.recv_timeout(PATIENCE) {
            Ok(record) => got.push(record.to_vec()),
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => panic!("no record within {PATIENCE:?}"),
            Err(error) => panic!("{error}"),
        }
    }
    for thread in threads {
        thread.join().unwrap();
    }
    got.sort();
    let mut expected: Vec<Vec<u8>> = (0..SENDERS)
        .flat_map(|id| (0..EACH).map(move |i| vec![id, i]))
        .collect();
    expected.push(vec![SENDERS, 0]);
    assert_eq!(got, expected);
}

/// Four senders, each sending `(sender id, seq)` records with derived bytes
/// through a small ring: each sender's records arrive in order, each exactly
/// once, intact.
#[test]
fn mpsc_four_senders_keep_per_sender_order() {
    const SENDERS: u32 = 4;
    let records = scaled(20_000) as u32;
    let key = |id: u32, seq: u32| (u64::from(id) << 32) | u64::from(seq);
    let len = |key: u64| 8 + (mix(key ^ 0x5eed) % 57) as usize;
    let (tx, mut rx) = mpsc::new(1024).unwrap();
    let senders: Vec<_> = (0..SENDERS)
        .map(|id| {
            let tx = tx.clone();
            spawn_guarded("sender", move || {
                let mut fulls = 0u64;
                for seq in 0..records {
                    let key = key(id, seq);
                    let mut claim = loop {
                        match tx.claim(len(key)) {
                            Ok(claim) => break claim,
                            Err(SendError::Full) => {
                                fulls += 1;
                                thread::yield_now();
                            }
                            Err(error) => panic!("sender {id}: {error}"),
                        }
                    };
                    claim[..4].copy_from_slice(&id.to_le_bytes());
                    claim[4..8].copy_from_slice(&seq.to_le_bytes());
                    fill(key, &mut claim[8..]);
                    claim.set_tag(user_tag(mix(key))).unwrap();
                    claim.commit();
                }
                fulls
            })
        })
        .collect();
    drop(tx);

    let mut next = [0u32; SENDERS as usize];
    let mut total = 0u64;
    let mut take = |bytes: &[u8], tag: u32| {
        let id = u32::from_le_bytes(bytes[..4].try_into().unwrap());
        let seq = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
        assert!(id < SENDERS, "sender id {id}");
        assert_eq!(seq, next[id as usize], "sender {id}: sequence");
        let key = key(id, seq);
        assert_eq!(bytes.len(), len(key), "record {key:#x}: length");
        assert_eq!(tag, user_tag(mix(key)), "record {key:#x}: tag");
        check(key, &bytes[8..]);
        next[id as usize] += 1;
        total += 1;
    };
    let mut round = 0usize;
    loop {
        round += 1;
        let outcome = if round % 2 == 0 {
            rx.recv_batch_timeout(round % 32, PATIENCE, |r| take(&r, r.tag()))
                .map(drop)
        } else {
            rx.recv_timeout(PATIENCE).map(|r| take(&r, r.tag()))
        };
        match outcome {
            Ok(()) => {}
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => panic!("no record within {PATIENCE:?}"),
            Err(error) => panic!("{error}"),
        }
    }
    let fulls: u64 = senders.into_iter().map(Guarded::join).sum();
    assert_eq!(next, [records; SENDERS as usize]);
    assert_eq!(total, u64::from(records) * u64::from(SENDERS));
    // Every `Full` seen by a sender was counted exactly once.
    assert_eq!(rx.full_rejections(), fulls);
    assert_eq!(rx.skipped_claims(), 0);
}

#[test]
fn mpsc_disconnects_only_when_the_last_sender_drops() {
    let (tx, mut rx) = mpsc::new(256).unwrap();
    let tx2 = tx.clone();
    tx.send(b"a").unwrap();
    drop(tx);
    assert!(!rx.is_disconnected());
    assert_eq!(&*rx.recv().unwrap(), b"a");
    assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Empty);
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(1)).unwrap_err(),
        RecvTimeoutError::Timeout
    );
    tx2.send(b"b").unwrap();
    let tx3 = tx2.clone();
    drop(tx2);
    tx3.send(b"c").unwrap();
    drop(tx3);
    assert!(rx.is_disconnected());
    assert_eq!(&*rx.recv().unwrap(), b"b");
    assert_eq!(&*rx.recv().unwrap(), b"c");
    assert_eq!(rx.recv().unwrap_err(), RecvError::Disconnected);
}

// ---------------------------------------------------------------------------
// Disconnection.

fn receiver_dropped<T: Tx>(new: New<T>) {
    let (mut tx, rx) = new(256).unwrap();
    tx.send(b"never read").unwrap();
    assert!(!tx.is_disconnected());
    drop(rx);
    assert!(tx.is_disconnected());
    assert_eq!(tx.claim(8).unwrap_err(), SendError::Disconnected);
    assert_eq!(tx.try_claim(8).unwrap_err(), SendError::Disconnected);
    assert_eq!(tx.send(b"x").unwrap_err(), SendError::Disconnected);
    assert_eq!(tx.claim(0).unwrap_err(), SendError::Disconnected);
    tx.set_spin_policy(SpinPolicy::NONE);
    assert_eq!(tx.claim(8).unwrap_err(), SendError::Disconnected);
    assert_eq!(tx.full_rejections(), 0);
}
both!(receiver_dropped);

/// A sender retrying a full ring notices the receiver leave.
fn receiver_dropped_while_full<T: Tx>(new: New<T>) {
    let (mut tx, rx) = new(64).unwrap();
    while tx.try_claim(8).map(SendClaim::commit).is_ok() {}
    assert_eq!(tx.claim(8).unwrap_err(), SendError::Full);
    drop(rx);
    assert_eq!(tx.claim(8).unwrap_err(), SendError::Disconnected);
    assert_eq!(tx.try_claim(8).unwrap_err(), SendError::Disconnected);
}
both!(receiver_dropped_while_full);

fn senders_dropped<T: Tx>(new: New<T>) {
    let (mut tx, mut rx) = new(1024).unwrap();
    for i in 0..8u8 {
        tx.send(&[i; 3]).unwrap();
    }
    drop(tx);
    assert!(rx.is_disconnected());
    // Everything committed is received first, by every kind of call.
    assert_eq!(&*rx.try_recv().unwrap(), [0; 3]);
    assert_eq!(&*rx.recv().unwrap(), [1; 3]);
    assert_eq!(&*rx.recv_timeout(PATIENCE).unwrap(), [2; 3]);
    assert_eq!(
        &*rx.recv_deadline(Instant::now() - Duration::from_millis(1))
            .unwrap(),
        [3; 3]
    );
    let mut seen = Vec::new();
    assert_eq!(rx.try_recv_batch(1, |r| seen.push(r[0])), Ok(1));
    assert_eq!(rx.recv_batch(2, |r| seen.push(r[0])), Ok(2));
    assert_eq!(
        rx.recv_batch_timeout(10, Duration::ZERO, |r| seen.push(r[0])),
        Ok(1)
    );
    assert_eq!(seen, [4, 5, 6, 7]);
    // Then every call reports the disconnection, repeatedly.
    for _ in 0..2 {
        assert_eq!(rx.recv().unwrap_err(), RecvError::Disconnected);
        assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Disconnected);
        assert_eq!(
            rx.recv_timeout(PATIENCE).unwrap_err(),
            RecvTimeoutError::Disconnected
        );
        assert_eq!(
            rx.recv_timeout(Duration::ZERO).unwrap_err(),
            RecvTimeoutError::Disconnected
        );
        assert_eq!(
            rx.recv_deadline(Instant::now() - Duration::from_millis(1))
                .unwrap_err(),
            RecvTimeoutError::Disconnected
        );
        assert_eq!(rx.recv_batch(4, |_| panic!()), Err(RecvError::Disconnected));
        assert_eq!(
            rx.try_recv_batch(4, |_| panic!()),
            Err(TryRecvError::Disconnected)
        );
        assert_eq!(
            rx.recv_batch_timeout(4, PATIENCE, |_| panic!()),
            Err(RecvTimeoutError::Disconnected)
        );
        assert_eq!(rx.recv_batch(0, |_| panic!()), Ok(0));
    }
    assert!(rx.is_disconnected());
    assert!(rx.is_empty());
    assert_eq!(rx.skipped_claims(), 0);
}
both!(senders_dropped);

/// A claim leaked with `mem::forget` blocks the records behind it while a
/// sender lives, and is skipped once the last one is gone.
fn leaked_claim<T: Tx>(new: New<T>) {
    let (mut tx, mut rx) = new(1024).unwrap();
    tx.send(b"before").unwrap();
    std::mem::forget(tx.claim(8).unwrap());
    tx.send(b"after 1").unwrap();
    let mut claim = tx.claim(7).unwrap();
    claim.copy_from_slice(b"after 2");
    claim.set_tag(2).unwrap();
    claim.commit();

    assert_eq!(&*rx.recv().unwrap(), b"before");
    assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Empty);
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(1)).unwrap_err(),
        RecvTimeoutError::Timeout
    );
    assert_eq!(rx.skipped_claims(), 0);

    drop(tx);
    assert_eq!(&*rx.recv().unwrap(), b"after 1");
    let record = rx.recv().unwrap();
    assert_eq!((&*record, record.tag()), (&b"after 2"[..], 2));
    drop(record);
    assert_eq!(rx.recv().unwrap_err(), RecvError::Disconnected);
    assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Disconnected);
    assert_eq!(rx.skipped_claims(), 1);
    assert!(rx.is_empty());
}
both!(leaked_claim);

/// A leaked claim as the very last thing in the ring, found by a receiver
/// already asleep when the last sender drops.
fn leaked_claim_last_wakes_receiver<T: Tx>(new: New<T>) {
    let (mut tx, mut rx) = new(1024).unwrap();
    rx.set_spin_policy(SpinPolicy::NONE);
    tx.send(b"only").unwrap();
    std::mem::forget(tx.claim(20).unwrap());
    let receiving = spawn_guarded("receiver", move || {
        assert_eq!(&*rx.recv().unwrap(), b"only");
        assert_eq!(rx.recv().unwrap_err(), RecvError::Disconnected);
        rx.skipped_claims()
    });
    thread::sleep(Duration::from_millis(20));
    drop(tx);
    assert_eq!(receiving.join(), 1);
}
both!(leaked_claim_last_wakes_receiver);

// ---------------------------------------------------------------------------
// Timeouts are deadlines.

/// `recv_timeout` and `recv_deadline` return `Timeout` only once their
/// deadline has passed: with nothing ever sent, and with a thread that keeps
/// waking the receiver with aborted claims (wake-ups with nothing to read).
fn timeouts_never_early<T: Tx>(new: New<T>) {
    const TIMEOUTS: [Duration; 5] = [
        Duration::ZERO,
        Duration::from_micros(1),
        Duration::from_micros(100),
        Duration::from_millis(1),
        Duration::from_millis(3),
    ];
    let rounds = if cfg!(miri) { 1 } else { 25 };
    let (tx, mut rx) = new(1024).unwrap();
    let mut tx = Some(tx);
    for disturbed in [false, true] {
        let stop = Arc::new(AtomicBool::new(false));
        let mut waker = None;
        if disturbed {
            let mut tx = tx.take().unwrap();
            let stop = Arc::clone(&stop);
            waker = Some(thread::spawn(move || {
                let mut wakes = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(claim) = tx.try_claim(8) {
                        claim.abort();
                        wakes += 1;
                    }
                    thread::sleep(Duration::from_micros(50));
                }
                (tx, wakes)
            }));
        }
        for policy in [SpinPolicy::RECEIVER, SpinPolicy::NONE] {
            rx.set_spin_policy(policy);
            for round in 0..rounds {
                for timeout in TIMEOUTS {
                    let start = Instant::now();
                    let error = rx.recv_timeout(timeout).map(drop).unwrap_err();
                    let now = Instant::now();
                    assert_eq!(error, RecvTimeoutError::Timeout);
                    assert!(
                        now >= start + timeout,
                        "recv_timeout({timeout:?}) timed out after {:?} \
                         (round {round}, {policy:?}, disturbed: {disturbed})",
                        now - start
                    );

                    let deadline = Instant::now() + timeout;
                    let error = rx.recv_deadline(deadline).map(drop).unwrap_err();
                    let now = Instant::now();
                    assert_eq!(error, RecvTimeoutError::Timeout);
                    assert!(
                        now >= deadline,
                        "recv_deadline timed out {:?} early \
                         ({timeout:?}, round {round}, {policy:?}, disturbed: {disturbed})",
                        deadline - now
                    );

                    let start = Instant::now();
                    let error = rx
                        .recv_batch_timeout(4, timeout, |_| panic!("no record was sent"))
                        .unwrap_err();
                    let now = Instant::now();
                    assert_eq!(error, RecvTimeoutError::Timeout);
                    assert!(
                        now >= start + timeout,
                        "recv_batch_timeout({timeout:?}) timed out after {:?} \
                         (round {round}, {policy:?}, disturbed: {disturbed})",
                        now - start
                    );
                }
            }
        }
        if let Some(waker) = waker {
            stop.store(true, Ordering::Relaxed);
            let (back, wakes) = waker.join().unwrap();
            tx = Some(back);
            assert!(wakes > 0);
        }
    }
    assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Empty);
    assert!(!rx.is_disconnected());
    drop(tx);
}
both!(timeouts_never_early);

/// A deadline already past: `Timeout` at once on an empty channel, the record
/// if one is ready.
fn past_deadline<T: Tx>(new: New<T>) {
    let (mut tx, mut rx) = new(256).unwrap();
    let past = Instant::now();
    thread::sleep(Duration::from_millis(1));
    for policy in [SpinPolicy::RECEIVER, SpinPolicy::NONE] {
        rx.set_spin_policy(policy);
        assert_eq!(
            rx.recv_deadline(past).map(drop).unwrap_err(),
            RecvTimeoutError::Timeout
        );
        tx.send(b"ready").unwrap();
        assert_eq!(&*rx.recv_deadline(past).unwrap(), b"ready");
        assert_eq!(
            rx.recv_deadline(past).map(drop).unwrap_err(),
            RecvTimeoutError::Timeout
        );
    }
}
both!(past_deadline);

// ---------------------------------------------------------------------------
// Full and TooLarge.

/// 24-byte records take 32 bytes of ring each: eight fill a 256-byte ring.
fn full_ring<T: Tx>(new: New<T>) {
    let (mut tx, mut rx) = new(256).unwrap();
    assert_eq!(rx.capacity(), 256);
    for i in 0..8u8 {
        tx.send(&[i; 24]).unwrap();
    }
    assert_eq!(tx.full_rejections(), 0);

    // Each failed call counts once, however many times it retried.
    let mut expected = 0;
    let mut expect_full = |result: Result<(), SendError>, tx: &T| {
        assert_eq!(result, Err(SendError::Full));
        expected += 1;
        assert_eq!(tx.full_rejections(), expected);
    };
    expect_full(tx.claim(24).map(drop), &tx);
    expect_full(tx.claim(0).map(drop), &tx);
    expect_full(tx.try_claim(24).map(drop), &tx);
    expect_full(tx.send(&[9; 24]), &tx);
    for policy in [
        SpinPolicy::NONE,
        SpinPolicy::new(1, 0),
        SpinPolicy::new(3, 2),
        SpinPolicy::SENDER,
    ] {
        tx.set_spin_policy(policy);
        expect_full(tx.claim(24).map(drop), &tx);
        expect_full(tx.try_claim(1).map(drop), &tx);
    }
    assert_eq!(rx.full_rejections(), tx.full_rejections());

    // Reading one record makes room for one more.
    assert_eq!(&*rx.recv().unwrap(), [0; 24]);
    tx.set_spin_policy(SpinPolicy::NONE);
    tx.send(&[8; 24]).unwrap();
    expect_full(tx.try_claim(24).map(drop), &tx);
    let rejections = tx.full_rejections();
    for i in 1..9u8 {
        assert_eq!(&*rx.recv().unwrap(), [i; 24]);
    }
    assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Empty);
    tx.try_claim(24).unwrap().commit();
    assert_eq!(rx.full_rejections(), rejections);
}
both!(full_ring);

fn too_large<T: Tx>(new: New<T>) {
    let (mut tx, mut rx) = new(256).unwrap();
    let max = tx.max_record_len();
    assert_eq!(max, rx.max_record_len());
    assert_eq!(max, 256 / 2 - 8);
    let too_large = SendError::TooLarge { len: max + 1, max };
    let huge = SendError::TooLarge {
        len: usize::MAX,
        max,
    };
    for policy in [SpinPolicy::SENDER, SpinPolicy::NONE] {
        tx.set_spin_policy(policy);
        assert_eq!(tx.claim(max + 1).unwrap_err(), too_large);
        assert_eq!(tx.try_claim(max + 1).unwrap_err(), too_large);
        assert_eq!(tx.send(&vec![0; max + 1]).unwrap_err(), too_large);
        assert_eq!(tx.claim(usize::MAX).unwrap_err(), huge);
    }
    assert_eq!(tx.full_rejections(), 0);

    // The largest record fits in an empty ring; on a full ring a record too
    // large is still `TooLarge`, not `Full`.
    let payload: Vec<u8> = (0..max).map(|i| i as u8).collect();
    tx.send(&payload).unwrap();
    while tx.try_claim(0).map(SendClaim::commit).is_ok() {}
    let rejections = tx.full_rejections();
    assert_eq!(tx.claim(max + 1).unwrap_err(), too_large);
    assert_eq!(tx.try_claim(max + 1).unwrap_err(), too_large);
    assert_eq!(tx.full_rejections(), rejections);
    assert_eq!(&*rx.recv().unwrap(), &payload[..]);
}
both!(too_large);

/// `try_send` and `try_claim` never spin: on a full ring they fail with
/// `Full` at once, each counted once, whatever the sender's spin policy.
/// The policy here would keep `send` and `claim` retrying for far longer than
/// the test's patience, so a `try_` form that spun would fail it (as a hang
/// caught by the guard), with no timing measured.
fn try_send_never_spins<T: Tx>(new: New<T>) {
    let (mut tx, rx) = new(256).unwrap();
    while tx.try_send(&[1; 24]).is_ok() {}
    assert_eq!(tx.full_rejections(), 1, "the refusal that ended the fill");
    tx.set_spin_policy(SpinPolicy::new(u32::MAX, u32::MAX));
    let trying = spawn_guarded("try_send on a full ring", move || {
        for round in 0..100 {
            assert_eq!(tx.try_send(&[2; 24]), Err(SendError::Full), "round {round}");
            assert_eq!(
                tx.try_claim(0).map(drop),
                Err(SendError::Full),
                "round {round}"
            );
            assert_eq!(tx.try_send(b""), Err(SendError::Full), "round {round}");
        }
        tx
    });
    let tx = trying.join();
    assert_eq!(tx.full_rejections(), 1 + 300);
    assert_eq!(rx.full_rejections(), tx.full_rejections());
    assert_eq!(rx.len_bytes(), 256, "nothing was taken");
}
both!(try_send_never_spins);

/// A sleeping receiver that reads slowly and a sender that keeps meeting
/// `Full`: neither waits on the other for ever.
fn full_ring_with_sleeping_receiver<T: Tx>(new: New<T>) {
    let records = scaled(2_000) as u64;
    let (mut tx, mut rx) = new(128).unwrap();
    rx.set_spin_policy(SpinPolicy::NONE);
    tx.set_spin_policy(SpinPolicy::NONE);
    let sending = spawn_guarded("sender", move || {
        let mut fulls = 0u64;
        for seq in 0..records {
            loop {
                match tx.send(&seq.to_le_bytes()) {
                    Ok(()) => break,
                    Err(SendError::Full) => {
                        fulls += 1;
                        thread::yield_now();
                    }
                    Err(error) => panic!("send: {error}"),
                }
            }
        }
        fulls
    });
    for seq in 0..records {
        if seq % 256 == 0 {
            // Let the ring fill up.
            thread::sleep(Duration::from_millis(2));
        }
        let record = rx.recv_timeout(PATIENCE).expect("a record in time");
        assert_eq!(u64::from_le_bytes(record[..].try_into().unwrap()), seq);
    }
    let fulls = sending.join();
    assert_eq!(rx.recv().unwrap_err(), RecvError::Disconnected);
    assert_eq!(rx.full_rejections(), fulls);
}
both!(full_ring_with_sleeping_receiver);

// ---------------------------------------------------------------------------
// A blocked receiver is woken.

/// A receiver blocked in `recv` on another thread (the sleep makes sure it
/// has gone to sleep) is woken by a commit, and then by the last sender
/// leaving.
fn blocked_receiver_woken<T: Tx>(new: New<T>) {
    for policy in [SpinPolicy::RECEIVER, SpinPolicy::NONE] {
        for batch in [false, true] {
            let (mut tx, mut rx) = new(256).unwrap();
            rx.set_spin_policy(policy);
            let receiving = spawn_guarded("receiver", move || {
                let mut got = Vec::new();
                if batch {
                    while rx.recv_batch(8, |r| got.push(r.to_vec())).is_ok() {}
                } else {
                    while let Ok(record) = rx.recv() {
                        got.push(record.to_vec());
                    }
                }
                assert!(rx.is_disconnected());
                got
            });
            thread::sleep(Duration::from_millis(20));
            tx.send(b"late").unwrap();
            thread::sleep(Duration::from_millis(20));
            let mut claim = tx.claim(5).unwrap();
            claim.copy_from_slice(b"later");
            thread::sleep(Duration::from_millis(5));
            claim.commit();
            thread::sleep(Duration::from_millis(20));
            drop(tx);
            assert_eq!(
                receiving.join(),
                [b"late".to_vec(), b"later".to_vec()],
                "{policy:?}, batch: {batch}"
            );
        }
    }
}
both!(blocked_receiver_woken);

/// MPSC: the receiver waits at sender A's open claim although sender B's
/// record after it is committed; A's abort (explicit, or by dropping the
/// claim) must wake it, and it then gets B's record.
#[test]
fn mpsc_abort_unblocks_receiver() {
    for explicit in [true, false] {
        for policy in [SpinPolicy::RECEIVER, SpinPolicy::NONE] {
            let (a, mut rx) = mpsc::new(256).unwrap();
            let b = a.clone();
            rx.set_spin_policy(policy);
            let claim = a.claim(16).unwrap();
            b.send(b"from b").unwrap();
            let receiving = spawn_guarded("receiver", move || {
                let record = rx.recv().unwrap();
                assert_eq!(&*record, b"from b");
                drop(record);
                rx
            });
            thread::sleep(Duration::from_millis(20));
            if explicit {
                claim.abort();
            } else {
                drop(claim);
            }
            let mut rx = receiving.join();
            assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Empty);
            assert_eq!(rx.skipped_claims(), 0);
            drop((a, b));
            assert_eq!(rx.recv().unwrap_err(), RecvError::Disconnected);
        }
    }
}

/// MPSC: the same with A committing instead: both records arrive, A's first.
#[test]
fn mpsc_commit_behind_open_claim_unblocks_receiver() {
    let (a, mut rx) = mpsc::new(256).unwrap();
    let b = a.clone();
    rx.set_spin_policy(SpinPolicy::NONE);
    let mut claim = a.claim(6).unwrap();
    b.send(b"from b").unwrap();
    let receiving = spawn_guarded("receiver", move || {
        let mut got = Vec::new();
        while let Ok(record) = rx.recv() {
            got.push(record.to_vec());
        }
        got
    });
    thread::sleep(Duration::from_millis(20));
    claim.copy_from_slice(b"from a");
    claim.commit();
    drop((a, b));
    assert_eq!(receiving.join(), [b"from a".to_vec(), b"from b".to_vec()]);
}

/// MPSC: dropping a sender that is not the last one does not end the wait;
/// dropping the last one does.
#[test]
fn mpsc_receiver_woken_by_last_sender_drop() {
    let (a, mut rx) = mpsc::new(256).unwrap();
    let b = a.clone();
    rx.set_spin_policy(SpinPolicy::NONE);
    let receiving = spawn_guarded("receiver", move || rx.recv().map(drop));
    thread::sleep(Duration::from_millis(10));
    drop(a);
    thread::sleep(Duration::from_millis(10));
    drop(b);
    assert_eq!(receiving.join(), Err(RecvError::Disconnected));
}

// ---------------------------------------------------------------------------
// Batches.

fn batches<T: Tx>(new: New<T>) {
    let (mut tx, mut rx) = new(1024).unwrap();
    for i in 0..10u8 {
        send_tagged(&mut tx, &[i; 5], u32::from(i) + 100);
    }
    let mut seen: Vec<u8> = Vec::new();
    let mut last_position = None;
    let mut take = |record: logring::channel::Record<'_>| {
        assert_eq!(record.len(), 5);
        assert!(record.iter().all(|&b| b == record[0]));
        assert_eq!(record.tag(), u32::from(record[0]) + 100);
        assert!(last_position < Some(record.position()));
        last_position = Some(record.position());
        seen.push(record[0]);
    };
    assert_eq!(rx.recv_batch(0, |_| panic!("limit 0")), Ok(0));
    assert_eq!(rx.try_recv_batch(0, |_| panic!("limit 0")), Ok(0));
    assert_eq!(
        rx.recv_batch_timeout(0, PATIENCE, |_| panic!("limit 0")),
        Ok(0)
    );
    assert_eq!(rx.recv_batch(3, &mut take), Ok(3));
    assert_eq!(rx.try_recv_batch(4, &mut take), Ok(4));
    assert_eq!(rx.recv_batch_timeout(100, PATIENCE, &mut take), Ok(3));
    assert_eq!(rx.try_recv_batch(5, &mut take), Err(TryRecvError::Empty));
    assert_eq!(
        rx.recv_batch_timeout(5, Duration::from_millis(1), &mut take),
        Err(RecvTimeoutError::Timeout)
    );
    // Single and batch reads interleave in order.
    tx.send(&[10; 5]).unwrap();
    tx.send(&[11; 5]).unwrap();
    tx.send(&[12; 5]).unwrap();
    assert_eq!(rx.recv().unwrap()[0], 10);
    assert_eq!(rx.recv_batch(1, |r| assert_eq!(r[0], 11)), Ok(1));
    assert_eq!(rx.try_recv().unwrap()[0], 12);
    drop(tx);
    assert_eq!(rx.recv_batch(5, &mut take), Err(RecvError::Disconnected));
    assert_eq!(seen, (0..10).collect::<Vec<u8>>());
    assert!(rx.is_empty());
}
both!(batches);

// ---------------------------------------------------------------------------
// Errors and policies.

#[test]
fn errors_are_errors_with_messages() {
    const fn is_error<E: std::error::Error + Send + Sync + Copy + 'static>() {}
    const _: () = {
        is_error::<SendError>();
        is_error::<RecvError>();
        is_error::<TryRecvError>();
        is_error::<RecvTimeoutError>();
    };
    let messages = [
        SendError::Full.to_string(),
        SendError::TooLarge { len: 300, max: 120 }.to_string(),
        SendError::Disconnected.to_string(),
        RecvError::Disconnected.to_string(),
        TryRecvError::Empty.to_string(),
        TryRecvError::Disconnected.to_string(),
        RecvTimeoutError::Timeout.to_string(),
        RecvTimeoutError::Disconnected.to_string(),
    ];
    for message in &messages {
        assert!(!message.is_empty());
    }
    assert!(messages[1].contains("300") && messages[1].contains("120"));
    assert_eq!(
        TryRecvError::from(RecvError::Disconnected),
        TryRecvError::Disconnected
    );
    assert_eq!(
        RecvTimeoutError::from(RecvError::Disconnected),
        RecvTimeoutError::Disconnected
    );
}

#[test]
fn corruption_is_an_error_of_its_own_in_every_receive_error() {
    let corrupt = CorruptRing {
        position: 4136,
        word: 0xffff_ffff_ffff_ffff,
        reason: "unknown record state",
    };
    let messages = [
        RecvError::Corrupt(corrupt).to_string(),
        TryRecvError::Corrupt(corrupt).to_string(),
        RecvTimeoutError::Corrupt(corrupt).to_string(),
    ];
    for message in messages {
        // The same words as the corruption's own, naming where and why.
        assert_eq!(message, corrupt.to_string());
        assert!(
            message.contains("position 4136") && message.contains("unknown record state"),
            "{message}"
        );
        assert!(!message.contains("disconnected"), "{message}");
    }
    // Conversions keep the case.
    assert_eq!(RecvError::from(corrupt), RecvError::Corrupt(corrupt));
    assert_eq!(TryRecvError::from(corrupt), TryRecvError::Corrupt(corrupt));
    assert_eq!(
        RecvTimeoutError::from(corrupt),
        RecvTimeoutError::Corrupt(corrupt)
    );
    assert_eq!(
        TryRecvError::from(RecvError::Corrupt(corrupt)),
        TryRecvError::Corrupt(corrupt)
    );
    assert_eq!(
        RecvTimeoutError::from(RecvError::Corrupt(corrupt)),
        RecvTimeoutError::Corrupt(corrupt)
    );
    assert_ne!(
        RecvError::Corrupt(corrupt).to_string(),
        RecvError::Disconnected.to_string()
    );
}

#[test]
fn spin_policies() {
    let policy = SpinPolicy::new(3, 4);
    assert_eq!((policy.spins(), policy.yields()), (3, 4));
    assert_eq!(
        (SpinPolicy::NONE.spins(), SpinPolicy::NONE.yields()),
        (0, 0)
    );
    let (mut tx, mut rx) = spsc::new(64).unwrap();
    assert_eq!(tx.spin_policy(), SpinPolicy::SENDER);
    assert_eq!(rx.spin_policy(), SpinPolicy::RECEIVER);
    tx.set_spin_policy(policy);
    rx.set_spin_policy(SpinPolicy::NONE);
    assert_eq!(tx.spin_policy(), policy);
    assert_eq!(rx.spin_policy(), SpinPolicy::NONE);

    // MPSC clones inherit the policy of the sender they were cloned from.
    let (mut tx, _rx) = mpsc::new(64).unwrap();
    let before = tx.clone();
    tx.set_spin_policy(policy);
    let after = tx.clone();
    assert_eq!(before.spin_policy(), SpinPolicy::SENDER);
    assert_eq!(after.spin_policy(), policy);
}
