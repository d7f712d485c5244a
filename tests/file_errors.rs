//! Ring files that are damaged, missing, in use or misused, within one
//! process: every problem is a `FileError` of its own kind that names the
//! file and says what was wrong, never a panic, a hang or a crash; and the
//! file handling around them (permissions, space, persistence of the
//! positions, dead claims) does what the `file` module promises.
//!
//! Damaged files are made by hand: a valid ring is created with
//! `RingFile::create`, dropped, and then its bytes are changed through
//! `std::fs` (offsets from the wire format in `ring::layout`). A failed
//! `open` must leave the file byte for byte as it found it.

#![cfg(all(target_os = "linux", feature = "mmap"))]

mod common;
mod ringfile;
use common::{check, fill, mix};
use ringfile::{
    CAPACITY_AT, CONSUMED_AT, DATA_OFFSET_AT, HEAD_AT, HEADER, INITIALISED_AT, MAGIC_AT, MAJOR_AT,
    MAX_LEN_AT, MINOR_AT, MODE_AT, TAIL_AT, TempPath, patch, patch_u16, patch_u32, patch_u64,
};

use std::fs::{self, File, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use logring::channel::{ReadClaim, Receiver, Record, RecvError, RecvTimeoutError, TryRecvError};
use logring::file::{FileError, FileErrorKind, Mode, Options, RingFile, RingObserver};
use logring::queue::{self, Consumer};
use logring::{CorruptRing, Error};

/// The payload length bits of a record word.
const LEN_MASK: u64 = (1 << 30) - 1;
/// Largest data area a ring file may have (64-bit targets).
const MAX_CAPACITY: u64 = 1 << 40;

/// How long a test waits for something that should happen within
/// milliseconds (a dead claim is skipped after about 5 ms) before it calls
/// it a hang: generous, since a busy machine may not run the test for a
/// while, and free, since every wait ends as soon as the thing happens.
const PATIENCE: Duration = Duration::from_secs(10);

/// A valid, closed ring file of `capacity` bytes.
fn ring_file(name: &str, capacity: usize, mode: Mode) -> TempPath {
    let path = TempPath::new(name);
    let ring = RingFile::create(path.path(), Options::new(capacity).mode(mode))
        .unwrap_or_else(|error| panic!("{error}"));
    drop(ring);
    path
}

fn create(path: &TempPath, capacity: usize, mode: Mode) -> RingFile {
    RingFile::create(path.path(), Options::new(capacity).mode(mode))
        .unwrap_or_else(|error| panic!("{error}"))
}

fn open(path: &TempPath) -> RingFile {
    RingFile::open(path.path()).unwrap_or_else(|error| panic!("{error}"))
}

fn read_u64(path: &TempPath, offset: u64) -> u64 {
    let mut bytes = [0; 8];
    File::open(path.path())
        .unwrap()
        .read_exact_at(&mut bytes, offset)
        .unwrap();
    u64::from_le_bytes(bytes)
}

/// File offset of the record word at free-running position `pos`.
fn word_at(pos: u64, capacity: u64) -> u64 {
    HEADER + (pos & (capacity - 1))
}

/// Checks that `error` is about `path` and that its message names the file
/// and contains `says` (what was wrong).
fn assert_reported(error: &FileError, path: &Path, says: &str) {
    assert_eq!(error.path(), path, "{error}");
    let message = error.to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "message does not name the file: {message}"
    );
    assert!(
        message.contains(says),
        "message does not say {says:?}: {message}"
    );
}

/// Opens `path`, which must fail; checks the report and that the file was
/// left as it was; returns what was wrong. An observer's open must fail
/// with the same report, unless the file is only read-only (which an
/// observer, needing no write permission, accepts).
fn open_fails(path: &TempPath, says: &str) -> FileErrorKind {
    let before = fs::read(path.path()).ok();
    let error = RingFile::open(path.path()).unwrap_err();
    assert_reported(&error, path.path(), says);
    match (RingObserver::open(path.path()), error.kind()) {
        (Ok(_), FileErrorKind::ReadOnly { .. }) => {}
        (Ok(observer), _) => panic!("an observer opened it: {observer:?}"),
        (Err(seen), _) => assert_eq!(seen.to_string(), error.to_string(), "the observer's report"),
    }
    assert_eq!(
        fs::read(path.path()).ok(),
        before,
        "a failed open changed the file"
    );
    error.into_kind()
}

/// Polls `consumer` until a record arrives or `PATIENCE` runs out; returns
/// its position and bytes. Panics on corruption.
fn poll(consumer: &mut Consumer) -> Option<(u64, Vec<u8>)> {
    let start = Instant::now();
    loop {
        match consumer.try_recv() {
            Ok(record) => return Some((record.position(), record.to_vec())),
            Err(queue::TryRecvError::Empty) => {}
            Err(error) => panic!("{error}"),
        }
        if start.elapsed() > PATIENCE {
            return None;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// The payload length of the record keyed `key`.
fn len_of(key: u64) -> usize {
    (mix(key) % 60) as usize
}

fn payload(key: u64) -> Vec<u8> {
    let mut bytes = vec![0; len_of(key)];
    fill(key, &mut bytes);
    bytes
}

/// Writes records `keys` through an SPSC producer of `ring`; returns their
/// positions.
fn write_spsc(ring: &RingFile, keys: std::ops::Range<u64>) -> Vec<u64> {
    let mut producer = ring.spsc_producer().unwrap();
    keys.map(|key| {
        let mut claim = producer.try_claim(len_of(key)).unwrap();
        fill(key, &mut claim);
        let pos = claim.position();
        claim.commit();
        pos
    })
    .collect()
}

/// Reads the next record, which must be the one keyed `key`, and releases it.
fn expect_record(consumer: &mut Consumer, key: u64) {
    let record = consumer
        .try_recv()
        .unwrap_or_else(|error| panic!("record {key}: {error}"));
    assert_eq!(record.len(), len_of(key), "record {key}");
    check(key, &record);
}

/// Panics unless `consumer` finds no record ready, and no corruption.
#[track_caller]
fn expect_empty(consumer: &mut Consumer) {
    assert_eq!(consumer.try_recv().err(), Some(queue::TryRecvError::Empty));
}

/// The corruption `consumer` reports instead of a record.
#[track_caller]
fn expect_corrupt(consumer: &mut Consumer) -> CorruptRing {
    match consumer.try_recv() {
        Err(queue::TryRecvError::Corrupt(corrupt)) => corrupt,
        Ok(record) => panic!("delivered {record:?} instead of reporting corruption"),
        Err(error) => panic!("{error}, not corruption"),
    }
}

// ---------------------------------------------------------------------------
// Files that are not rings, or not whole ones.

#[test]
fn an_empty_file_is_empty() {
    let path = TempPath::new("empty");
    File::create(path.path()).unwrap();
    let kind = open_fails(&path, "empty");
    assert!(matches!(kind, FileErrorKind::Empty), "{kind:?}");
}

#[test]
fn a_file_shorter_than_a_header_is_too_short() {
    for len in [1, 100, HEADER - 1] {
        let path = TempPath::new("short");
        fs::write(path.path(), vec![0x5a; len as usize]).unwrap();
        let kind = open_fails(&path, "shorter than a ring header");
        assert!(
            matches!(kind, FileErrorKind::TooShort { len: l, min: HEADER } if l == len),
            "{kind:?}"
        );
    }
    // A ring's own header, cut short.
    let path = ring_file("cut-header", 4096, Mode::Spsc);
    ringfile::set_len(path.path(), 64);
    let kind = open_fails(&path, "64 bytes");
    assert!(
        matches!(
            kind,
            FileErrorKind::TooShort {
                len: 64,
                min: HEADER
            }
        ),
        "{kind:?}"
    );
}

#[test]
fn a_file_without_the_magic_is_not_a_ring() {
    let path = ring_file("magic", 4096, Mode::Spsc);
    patch(&path, MAGIC_AT, b"NOTARING");
    let kind = open_fails(&path, "not a logring file (starts with NOTARING)");
    assert!(
        matches!(kind, FileErrorKind::BadMagic { found } if &found == b"NOTARING"),
        "{kind:?}"
    );

    // Arbitrary bytes of a plausible length.
    let path = TempPath::new("text");
    let text: Vec<u8> = b"2024-01-01 12:00:00 INFO started\n"
        .iter()
        .copied()
        .cycle()
        .take((HEADER + 4096) as usize)
        .collect();
    fs::write(path.path(), &text).unwrap();
    let kind = open_fails(&path, "not a logring file");
    assert!(
        matches!(kind, FileErrorKind::BadMagic { found } if found == text[..8]),
        "{kind:?}"
    );
}

#[test]
fn another_major_version_is_refused_and_another_minor_accepted() {
    let path = ring_file("major", 4096, Mode::Spsc);
    patch_u16(&path, MAJOR_AT, 2);
    let kind = open_fails(&path, "ring format 2.0, this logring reads 1.x");
    assert!(
        matches!(
            kind,
            FileErrorKind::UnsupportedVersion {
                major: 2,
                minor: 0,
                supported: 1
            }
        ),
        "{kind:?}"
    );
    patch_u16(&path, MAJOR_AT, 0);
    let kind = open_fails(&path, "ring format 0.0, this logring reads 1.x");
    assert!(
        matches!(kind, FileErrorKind::UnsupportedVersion { major: 0, .. }),
        "{kind:?}"
    );

    // A later minor version only adds what older readers may ignore.
    let path = ring_file("minor", 4096, Mode::Spsc);
    patch_u16(&path, MINOR_AT, 7);
    let ring = open(&path);
    write_spsc(&ring, 0..3);
    let mut consumer = ring.consumer().unwrap();
    for key in 0..3 {
        expect_record(&mut consumer, key);
    }
}

#[test]
fn a_header_never_completed_is_uninitialised() {
    // All zero: a creator that has allocated the file but written nothing.
    let path = TempPath::new("zeroed");
    fs::write(path.path(), vec![0; (HEADER + 4096) as usize]).unwrap();
    let kind = open_fails(&path, "never completed");
    assert!(matches!(kind, FileErrorKind::Uninitialised), "{kind:?}");

    // The layout written, the marker not yet.
    let path = ring_file("unmarked", 4096, Mode::Spsc);
    patch_u32(&path, INITIALISED_AT, 0);
    let kind = open_fails(&path, "never completed");
    assert!(matches!(kind, FileErrorKind::Uninitialised), "{kind:?}");

    // A marker that is not the marker.
    patch_u32(&path, INITIALISED_AT, 0x4C52_494F);
    let kind = open_fails(&path, "never completed");
    assert!(matches!(kind, FileErrorKind::Uninitialised), "{kind:?}");
}

#[test]
fn impossible_layouts_are_bad_layouts() {
    // (field offset, bytes written, what the message says)
    let cases: [(u64, u64, &str); 8] = [
        (CAPACITY_AT, 4000, "power of two"),
        (CAPACITY_AT, 0, "power of two"),
        (CAPACITY_AT, 32, "out of range"),
        (CAPACITY_AT, MAX_CAPACITY << 1, "out of range"),
        (CAPACITY_AT, 1 << 63, "out of range"),
        (MAX_LEN_AT, 2047, "maximum record length"),
        (MAX_LEN_AT, u64::MAX, "maximum record length"),
        (DATA_OFFSET_AT, 8192, "data offset"),
    ];
    for (offset, value, says) in cases {
        let path = ring_file("layout", 4096, Mode::Spsc);
        patch_u64(&path, offset, value);
        let kind = open_fails(&path, says);
        assert!(
            matches!(kind, FileErrorKind::BadLayout { reason } if reason.contains(says)),
            "field at {offset} = {value}: {kind:?}"
        );
    }
    for mode in [0, 3, u32::MAX] {
        let path = ring_file("mode", 4096, Mode::Spsc);
        patch_u32(&path, MODE_AT, mode);
        let kind = open_fails(&path, "unknown producer mode");
        assert!(
            matches!(kind, FileErrorKind::BadLayout { .. }),
            "mode {mode}: {kind:?}"
        );
    }
    // A consistent layout of another capacity than the file's length holds.
    let path = ring_file("other-capacity", 4096, Mode::Spsc);
    patch_u64(&path, CAPACITY_AT, 8192);
    patch_u64(&path, MAX_LEN_AT, 8192 / 2 - 8);
    let kind = open_fails(&path, "but its header says 12288");
    assert!(
        matches!(
            kind,
            FileErrorKind::LengthMismatch {
                expected: 12288,
                actual: 8192
            }
        ),
        "{kind:?}"
    );
}

#[test]
fn a_truncated_or_extended_file_is_a_length_mismatch() {
    let capacity = 4096;
    let expected = HEADER + capacity;
    for actual in [HEADER, HEADER + 8, expected - 8, expected + 1, expected * 2] {
        let path = ring_file("length", capacity as usize, Mode::Spsc);
        ringfile::set_len(path.path(), actual);
        let kind = open_fails(&path, &format!("{actual} bytes long"));
        assert!(
            matches!(kind, FileErrorKind::LengthMismatch { expected: e, actual: a }
                if e == expected && a == actual),
            "{kind:?}"
        );
        let error = RingFile::open_or_create(path.path(), Options::new(4096)).unwrap_err();
        assert_reported(&error, path.path(), &format!("{actual} bytes long"));
    }
}

#[test]
fn a_file_truncated_or_extended_while_open_is_a_length_mismatch() {
    let capacity = 4096;
    let expected = HEADER + capacity;
    // The header stays (HEADER and more): nothing here touches the lost
    // pages, which would fault.
    for actual in [HEADER, expected - 8, expected + 1, expected * 2] {
        let path = ring_file("length-while-open", capacity as usize, Mode::Spsc);
        let ring = open(&path);
        let observer = RingObserver::open(path.path()).unwrap();
        ring.check_len().unwrap();
        observer.check_len().unwrap();
        ringfile::set_len(path.path(), actual);
        for error in [
            ring.check_len().unwrap_err(),
            observer.check_len().unwrap_err(),
        ] {
            assert_reported(&error, path.path(), &format!("{actual} bytes long"));
            assert!(
                matches!(error.kind(), FileErrorKind::LengthMismatch { expected: e, actual: a }
                    if *e == expected && *a == actual),
                "{:?}",
                error.kind()
            );
        }
        // Put back as it was, it is whole again.
        ringfile::set_len(path.path(), expected);
        ring.check_len().unwrap();
        observer.check_len().unwrap();
    }
}

#[test]
fn a_file_longer_than_any_ring_is_refused_before_it_is_mapped() {
    let path = ring_file("huge", 4096, Mode::Spsc);
    let actual = HEADER + MAX_CAPACITY + 8;
    let file = File::options().write(true).open(path.path()).unwrap();
    if let Err(error) = file.set_len(actual) {
        // A file system without sparse files this large: nothing to test.
        eprintln!("cannot make a sparse file of {actual} bytes here: {error}");
        return;
    }
    drop(file);
    let error = RingFile::open(path.path()).unwrap_err();
    assert_reported(&error, path.path(), &format!("{actual} bytes long"));
    let kind = error.into_kind();
    assert!(
        matches!(kind, FileErrorKind::LengthMismatch { expected, actual: a }
            if expected == HEADER + 4096 && a == actual),
        "{kind:?}"
    );
}

#[test]
fn impossible_positions_are_bad_positions() {
    let capacity = 4096;
    // (head, tail, consumed)
    let cases = [
        (4, 4, 4),
        (0, 12, 0),
        (0, 0, 3),
        (0, capacity + 8, 0),
        (capacity * 3, capacity, capacity * 3),
        (8, 8, 8 + capacity + 8),
        (16, 8, 16),
    ];
    for (head, tail, consumed) in cases {
        let path = ring_file("positions", capacity as usize, Mode::Spsc);
        patch_u64(&path, HEAD_AT, head);
        patch_u64(&path, TAIL_AT, tail);
        patch_u64(&path, CONSUMED_AT, consumed);
        let kind = open_fails(&path, "impossible positions");
        assert!(
            matches!(kind, FileErrorKind::BadPositions { head: h, tail: t, consumed: c }
                if (h, t, c) == (head, tail, consumed)),
            "({head}, {tail}, {consumed}): {kind:?}"
        );
    }
    // Positions far along, a full ring, and positions that wrap around the
    // u64 range are all possible.
    for (head, tail) in [
        (capacity * 1000 + 64, capacity * 1001 + 64),
        (u64::MAX - 15, 16),
    ] {
        let path = ring_file("far-positions", capacity as usize, Mode::Spsc);
        patch_u64(&path, HEAD_AT, head);
        patch_u64(&path, TAIL_AT, tail);
        patch_u64(&path, CONSUMED_AT, head);
        open(&path);
    }
}

// ---------------------------------------------------------------------------
// Paths that are not files, and files that cannot be written.

/// Every way of opening `path` says it is not a regular file, at once (a
/// FIFO opened to read would wait for a writer: a hang fails at the
/// deadline instead of stopping the test run).
fn assert_not_a_file(path: &Path) {
    let (tx, errors) = std::sync::mpsc::channel();
    let opened = path.to_path_buf();
    thread::spawn(move || {
        let _ = tx.send([
            RingFile::open(&opened).unwrap_err(),
            RingObserver::open(&opened).unwrap_err(),
            RingFile::open_or_create(&opened, Options::new(4096)).unwrap_err(),
        ]);
    });
    let errors = errors.recv_timeout(PATIENCE).expect("opening hangs");
    for error in errors {
        assert_reported(&error, path, "not a regular file");
        assert!(
            matches!(error.kind(), FileErrorKind::NotAFile),
            "{:?}",
            error.kind()
        );
    }
}

#[test]
fn a_directory_is_not_a_file() {
    let path = TempPath::new("directory");
    fs::create_dir(path.path()).unwrap();
    assert_not_a_file(path.path());
}

#[test]
fn a_fifo_is_not_a_file_and_opening_it_never_waits() {
    let path = TempPath::new("fifo");
    let name = std::ffi::CString::new(path.path().as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only reads it.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0);
    assert_not_a_file(path.path());
}

#[test]
fn a_device_is_not_a_file() {
    assert_not_a_file(Path::new("/dev/null"));
}

#[test]
fn a_missing_file_is_an_open_error() {
    let path = TempPath::new("missing");
    let error = RingFile::open(path.path()).unwrap_err();
    assert_reported(&error, path.path(), "could not open");
    match error.kind() {
        FileErrorKind::Io { action, source } => {
            assert_eq!(*action, "open");
            assert_eq!(source.kind(), ErrorKind::NotFound);
        }
        kind => panic!("{kind:?}"),
    }
    assert!(
        std::error::Error::source(&error).is_some(),
        "the OS error is the source"
    );
    assert!(!path.path().exists(), "open never creates a file");

    let path = TempPath::new("no-such-directory").path().join("ring");
    let error = RingFile::create(&path, Options::new(4096)).unwrap_err();
    assert_reported(&error, &path, "could not create");
    assert!(
        matches!(error.kind(), FileErrorKind::Io { action: "create", source }
            if source.kind() == ErrorKind::NotFound),
        "{:?}",
        error.kind()
    );
}

#[test]
fn a_file_nobody_may_write_is_read_only() {
    // The check reads the mode bits, so it holds for a process that the
    // permissions do not stop (root); any other gets "permission denied"
    // from the kernel first.
    for mode in [0o400, 0o444, 0o500] {
        let path = ring_file("read-only", 4096, Mode::Spsc);
        fs::set_permissions(path.path(), Permissions::from_mode(mode)).unwrap();
        let privileged = File::options()
            .read(true)
            .write(true)
            .open(path.path())
            .is_ok();
        let observer = RingObserver::open(path.path()).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(observer.capacity(), 4096);
        // `open_or_create` reports the same error, never swallowing it.
        let error = RingFile::open_or_create(path.path(), Options::new(4096)).unwrap_err();
        assert_eq!(
            error.to_string(),
            RingFile::open(path.path()).unwrap_err().to_string()
        );
        if privileged {
            let kind = open_fails(&path, &format!("read-only (mode {mode:04o})"));
            assert!(
                matches!(kind, FileErrorKind::ReadOnly { mode: m } if m == mode),
                "{kind:?}"
            );
        } else {
            let kind = open_fails(&path, "could not open");
            assert!(
                matches!(&kind, FileErrorKind::Io { action: "open", source }
                    if source.kind() == ErrorKind::PermissionDenied),
                "{kind:?}"
            );
        }
    }
    // Writable by anyone at all is enough to attach.
    let path = ring_file("group-writable", 4096, Mode::Spsc);
    fs::set_permissions(path.path(), Permissions::from_mode(0o420)).unwrap();
    open(&path);
}

// ---------------------------------------------------------------------------
// Creating.

#[test]
fn open_or_create_creates_then_opens_the_same_ring() {
    let path = TempPath::new("open-or-create");
    let options = Options::new(4000).mode(Mode::Mpsc).permissions(0o640);
    let first = RingFile::open_or_create(path.path(), options).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((first.mode(), first.capacity()), (Mode::Mpsc, 4096));
    let mode = fs::metadata(path.path()).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o640);
    first.mpsc_sender().unwrap().send(b"kept").unwrap();
    // The same options, or ones that round to the same capacity.
    for again in [options, Options::new(4096).mode(Mode::Mpsc)] {
        let ring = RingFile::open_or_create(path.path(), again).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ring.len_bytes(), first.len_bytes());
    }
    // Other permissions asked of an existing ring change nothing.
    RingFile::open_or_create(path.path(), options.permissions(0o600)).unwrap();
    let mode = fs::metadata(path.path()).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o640);
    let mut consumer = first.consumer().unwrap();
    assert_eq!(&consumer.try_recv().unwrap()[..], b"kept");
}

#[test]
fn open_or_create_refuses_a_ring_of_other_options() {
    let path = ring_file("mismatch", 1 << 20, Mode::Mpsc);
    let before = fs::read(path.path()).unwrap();
    for (asked, says) in [
        (
            Options::new(65536),
            "the ring is MPSC with capacity 1048576 bytes; asked for SPSC with capacity 65536 bytes",
        ),
        (
            Options::new(1 << 20),
            "the ring is MPSC with capacity 1048576 bytes; asked for SPSC with capacity 1048576 bytes",
        ),
        (
            Options::new(1000).mode(Mode::Mpsc),
            "the ring is MPSC with capacity 1048576 bytes; asked for MPSC with capacity 1024 bytes",
        ),
    ] {
        let error = RingFile::open_or_create(path.path(), asked).unwrap_err();
        assert_reported(&error, path.path(), says);
        assert!(
            matches!(
                error.kind(),
                FileErrorKind::OptionsMismatch {
                    mode: Mode::Mpsc,
                    capacity: 1_048_576,
                    ..
                }
            ),
            "{:?}",
            error.kind()
        );
    }
    assert_eq!(fs::read(path.path()).unwrap(), before, "the file changed");
}

#[test]
fn open_or_create_passes_real_errors_through() {
    // A corrupt ring is reported, never replaced.
    let path = ring_file("corrupt", 4096, Mode::Spsc);
    patch(&path, MAGIC_AT, b"NOTARING");
    let before = fs::read(path.path()).unwrap();
    let error = RingFile::open_or_create(path.path(), Options::new(4096)).unwrap_err();
    assert_reported(&error, path.path(), "not a logring file");
    assert!(matches!(error.kind(), FileErrorKind::BadMagic { .. }));
    assert_eq!(fs::read(path.path()).unwrap(), before, "the file changed");

    // Something else at the path.
    let path = TempPath::new("open-or-create-directory");
    fs::create_dir(path.path()).unwrap();
    let error = RingFile::open_or_create(path.path(), Options::new(4096)).unwrap_err();
    assert!(matches!(error.kind(), FileErrorKind::NotAFile), "{error}");

    // A file that stays empty (or uninitialised) is reported once the
    // bounded wait for a creator writing it in place is over.
    let path = TempPath::new("open-or-create-empty");
    File::create(path.path()).unwrap();
    let error = RingFile::open_or_create(path.path(), Options::new(4096)).unwrap_err();
    assert!(matches!(error.kind(), FileErrorKind::Empty), "{error}");
    assert_eq!(fs::metadata(path.path()).unwrap().len(), 0);

    // A dangling symbolic link: `open` finds nothing, `create` finds the
    // path taken; reported (and left) rather than retried for ever.
    let path = TempPath::new("open-or-create-dangling");
    std::os::unix::fs::symlink(TempPath::new("nowhere").path(), path.path()).unwrap();
    let error = RingFile::open_or_create(path.path(), Options::new(4096)).unwrap_err();
    assert!(
        matches!(error.kind(), FileErrorKind::Io { action: "create", source }
            if source.kind() == ErrorKind::AlreadyExists),
        "{error}"
    );
    assert!(fs::symlink_metadata(path.path()).unwrap().is_symlink());

    // Nowhere to create it, or an impossible capacity: create's errors.
    let missing = TempPath::new("open-or-create-no-directory")
        .path()
        .join("ring");
    let error = RingFile::open_or_create(&missing, Options::new(4096)).unwrap_err();
    assert!(
        matches!(error.kind(), FileErrorKind::Io { action: "create", source }
            if source.kind() == ErrorKind::NotFound),
        "{error}"
    );
    let path = TempPath::new("open-or-create-capacity");
    let error = RingFile::open_or_create(path.path(), Options::new(0)).unwrap_err();
    assert!(
        matches!(error.kind(), FileErrorKind::Capacity(_)),
        "{error}"
    );
    assert!(!path.path().exists());
}

#[test]
fn create_never_replaces_a_file() {
    let path = ring_file("exists", 4096, Mode::Spsc);
    {
        let ring = open(&path);
        write_spsc(&ring, 0..5);
    }
    let before = fs::read(path.path()).unwrap();
    for options in [
        Options::new(4096),
        Options::new(8192).mode(Mode::Mpsc).permissions(0o644),
    ] {
        let error = RingFile::create(path.path(), options).unwrap_err();
        assert_reported(&error, path.path(), "could not create");
        assert!(
            matches!(error.kind(), FileErrorKind::Io { action: "create", source }
                if source.kind() == ErrorKind::AlreadyExists),
            "{:?}",
            error.kind()
        );
        assert_eq!(fs::read(path.path()).unwrap(), before, "the file changed");
        let mode = fs::metadata(path.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o600, "the mode changed");
    }
    // A bad capacity is refused first; nothing is touched either.
    let error = RingFile::create(path.path(), Options::new(0)).unwrap_err();
    assert!(matches!(error.kind(), FileErrorKind::Capacity(_)));
    assert_eq!(fs::read(path.path()).unwrap(), before, "the file changed");
    // And the ring in it is as it was.
    let ring = open(&path);
    let mut consumer = ring.consumer().unwrap();
    for key in 0..5 {
        expect_record(&mut consumer, key);
    }

    // Not a ring either.
    let path = TempPath::new("exists-text");
    fs::write(path.path(), b"precious").unwrap();
    let error = RingFile::create(path.path(), Options::new(4096)).unwrap_err();
    assert!(
        matches!(error.kind(), FileErrorKind::Io { source, .. }
            if source.kind() == ErrorKind::AlreadyExists),
        "{:?}",
        error.kind()
    );
    assert_eq!(fs::read(path.path()).unwrap(), b"precious");

    // Nor a directory.
    let path = TempPath::new("exists-directory");
    fs::create_dir(path.path()).unwrap();
    let error = RingFile::create(path.path(), Options::new(4096)).unwrap_err();
    assert!(
        matches!(error.kind(), FileErrorKind::Io { source, .. }
            if source.kind() == ErrorKind::AlreadyExists),
        "{:?}",
        error.kind()
    );
    assert!(path.path().is_dir());
}

#[test]
fn create_with_an_impossible_capacity_leaves_no_file() {
    for capacity in [0, 1, 63, (1 << 40) + 1, usize::MAX] {
        let path = TempPath::new("capacity");
        let error = RingFile::create(path.path(), Options::new(capacity)).unwrap_err();
        assert_reported(&error, path.path(), "ring capacity");
        match error.kind() {
            FileErrorKind::Capacity(Error::CapacityTooSmall { requested, min: 64 }) => {
                assert_eq!(*requested, capacity);
                assert!(capacity < 64);
            }
            FileErrorKind::Capacity(Error::CapacityTooLarge { requested, .. }) => {
                assert_eq!(*requested, capacity);
                assert!(capacity > 64);
            }
            kind => panic!("capacity {capacity}: {kind:?}"),
        }
        assert!(
            std::error::Error::source(&error).is_some(),
            "the capacity error is the source"
        );
        assert!(!path.path().exists(), "capacity {capacity} left a file");
    }
    // The smallest ring, and rounding up.
    for (asked, capacity) in [(64, 64), (65, 128), (4000, 4096)] {
        let path = TempPath::new("small");
        let ring = create(&path, asked, Mode::Spsc);
        assert_eq!(ring.capacity(), capacity);
        assert_eq!(ring.max_record_len(), capacity / 2 - 8);
        assert_eq!(
            fs::metadata(path.path()).unwrap().len(),
            HEADER + capacity as u64
        );
    }
}

#[test]
fn created_files_have_exactly_the_permissions_asked() {
    let path = TempPath::new("default-mode");
    create(&path, 4096, Mode::Spsc);
    let mode = fs::metadata(path.path()).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600, "default mode {mode:04o}");

    // Bits a usual umask (022) clears are set all the same; the owner always
    // keeps read and write, which every end needs.
    for (asked, given) in [
        (0o640, 0o640),
        (0o644, 0o644),
        (0o660, 0o660),
        (0o666, 0o666),
        (0o400, 0o600),
        (0o044, 0o644),
    ] {
        let path = TempPath::new("mode");
        let ring = RingFile::create(path.path(), Options::new(4096).permissions(asked))
            .unwrap_or_else(|error| panic!("{error}"));
        let mode = fs::metadata(path.path()).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, given, "asked {asked:04o}, got {mode:04o}");
        // The ends reopen the file: the creator attaches as usual.
        drop(ring.spsc_producer().unwrap());
    }
}

#[test]
fn created_files_have_their_space_allocated() {
    let shm = Path::new("/dev/shm");
    let dirs = [std::env::temp_dir(), shm.to_path_buf()];
    for dir in dirs.iter().filter(|dir| dir.is_dir()) {
        let path = TempPath::under(dir, "allocated");
        let ring = create(&path, 1 << 20, Mode::Mpsc);
        let metadata = fs::metadata(path.path()).unwrap();
        assert_eq!(metadata.len(), HEADER + (1 << 20));
        assert!(
            metadata.blocks() * 512 >= metadata.len(),
            "{}: {} bytes allocated of {}",
            path.path().display(),
            metadata.blocks() * 512,
            metadata.len()
        );
        drop(ring);
    }
}

#[test]
fn flush_writes_a_ring_back() {
    let path = TempPath::new("flush");
    let ring = create(&path, 4096, Mode::Spsc);
    write_spsc(&ring, 0..10);
    ring.flush().unwrap_or_else(|error| panic!("{error}"));
    // The file holds the records (they were in its pages all along).
    let ring = open(&path);
    let mut consumer = ring.consumer().unwrap();
    for key in 0..10 {
        expect_record(&mut consumer, key);
    }
    ring.flush().unwrap();
}

// ---------------------------------------------------------------------------
// Ends: modes, and one consumer and one SPSC producer at a time.

#[test]
fn ends_of_the_other_mode_are_refused() {
    let path = TempPath::new("spsc-mode");
    let spsc = create(&path, 4096, Mode::Spsc);
    assert_eq!(spsc.mode(), Mode::Spsc);
    for error in [
        spsc.mpsc_producer().unwrap_err(),
        spsc.mpsc_sender().unwrap_err(),
    ] {
        assert_reported(&error, path.path(), "an MPSC end was asked of an SPSC ring");
        assert!(matches!(
            error.kind(),
            FileErrorKind::WrongMode {
                ring: Mode::Spsc,
                asked: Mode::Mpsc
            }
        ));
    }
    assert!(!spsc.producers_attached(), "a refused end holds nothing");

    let path = TempPath::new("mpsc-mode");
    let mpsc = create(&path, 4096, Mode::Mpsc);
    assert_eq!(mpsc.mode(), Mode::Mpsc);
    for error in [
        mpsc.spsc_producer().unwrap_err(),
        mpsc.spsc_sender().unwrap_err(),
    ] {
        assert_reported(&error, path.path(), "an SPSC end was asked of an MPSC ring");
        assert!(matches!(
            error.kind(),
            FileErrorKind::WrongMode {
                ring: Mode::Mpsc,
                asked: Mode::Spsc
            }
        ));
    }
    assert!(!mpsc.producers_attached());
    // The mode persists in the file.
    assert_eq!(open(&path).mode(), Mode::Mpsc);
}

#[test]
fn an_spsc_ring_has_one_producer_at_a_time() {
    let path = TempPath::new("one-producer");
    let ring = create(&path, 4096, Mode::Spsc);
    let other = open(&path);
    assert!(!ring.producers_attached());

    let first = ring.spsc_producer().unwrap();
    assert!(ring.producers_attached());
    assert!(other.producers_attached(), "seen through another handle");
    for error in [
        ring.spsc_producer().unwrap_err(),
        other.spsc_producer().unwrap_err(),
        other.spsc_sender().unwrap_err(),
    ] {
        assert_reported(&error, path.path(), "another producer is attached");
        assert!(matches!(error.kind(), FileErrorKind::ProducerAttached));
    }
    drop(first);
    assert!(!ring.producers_attached());
    assert!(!other.producers_attached());

    let sender = other.spsc_sender().unwrap();
    assert!(ring.producers_attached());
    assert!(matches!(
        ring.spsc_producer().unwrap_err().kind(),
        FileErrorKind::ProducerAttached
    ));
    drop(sender);
    let _producer = ring.spsc_producer().unwrap();
}

#[test]
fn a_ring_has_one_consumer_at_a_time() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let path = TempPath::new("one-consumer");
        let ring = create(&path, 4096, mode);
        let other = open(&path);
        assert!(!ring.consumer_attached());

        let consumer = ring.consumer().unwrap();
        assert!(ring.consumer_attached());
        assert!(other.consumer_attached());
        for error in [
            ring.consumer().unwrap_err(),
            ring.receiver().unwrap_err(),
            other.consumer().unwrap_err(),
            other.receiver().unwrap_err(),
        ] {
            let me = std::process::id();
            assert_reported(
                &error,
                path.path(),
                &format!("another consumer (pid {me}) holds this ring"),
            );
            assert!(matches!(
                error.kind(),
                FileErrorKind::ConsumerAttached { pid: Some(pid) } if *pid == me
            ));
        }
        assert_eq!(other.consumer_pid(), Some(std::process::id()));
        drop(consumer);
        assert!(!ring.consumer_attached());
        assert_eq!(other.consumer_pid(), None);

        let receiver = other.receiver().unwrap();
        assert!(ring.consumer_attached());
        assert!(matches!(
            ring.consumer().unwrap_err().kind(),
            FileErrorKind::ConsumerAttached { .. }
        ));
        drop(receiver);
        assert!(!other.consumer_attached());
        let _consumer = ring.consumer().unwrap();
    }
}

#[test]
fn attached_ends_are_seen_until_the_last_handle_goes() {
    let path = TempPath::new("attached");
    let ring = create(&path, 4096, Mode::Mpsc);
    let producer = ring.mpsc_producer().unwrap();
    let clone = producer.clone();
    let sender = ring.mpsc_sender().unwrap();
    let sender_clone = sender.clone();
    assert!(ring.producers_attached());
    drop(producer);
    assert!(ring.producers_attached(), "the clone still holds the slot");
    drop(clone);
    assert!(ring.producers_attached(), "the sender holds a slot");
    drop(sender);
    assert!(ring.producers_attached(), "its clone still holds it");
    assert!(sender_clone.is_disconnected(), "no consumer attached");
    let receiver = ring.receiver().unwrap();
    assert!(!sender_clone.is_disconnected(), "a consumer is attached");
    drop(sender_clone);
    assert!(!ring.producers_attached());
    assert!(receiver.is_disconnected(), "no producer attached");
    drop(receiver);
    assert!(!ring.consumer_attached());
    // The ring file handle attaches nothing by itself.
    let again = open(&path);
    assert!(!again.producers_attached() && !again.consumer_attached());
}

// ---------------------------------------------------------------------------
// Round trips through the file.

#[test]
fn records_pass_between_handles_of_one_file() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let path = TempPath::new("handles");
        let writer = create(&path, 4096, mode);
        let reader = open(&path);
        assert_eq!(reader.capacity(), 4096);
        assert_eq!(reader.path(), path.path());
        let mut consumer = reader.consumer().unwrap();
        // Several laps of a small ring.
        let mut key = 0;
        for _ in 0..50 {
            match mode {
                Mode::Spsc => {
                    write_spsc(&writer, key..key + 40);
                }
                Mode::Mpsc => {
                    let producer = writer.mpsc_producer().unwrap();
                    for key in key..key + 40 {
                        producer.try_send(&payload(key)).unwrap();
                    }
                }
            }
            for key in key..key + 40 {
                expect_record(&mut consumer, key);
            }
            key += 40;
        }
        expect_empty(&mut consumer);
        assert!(reader.is_empty() && writer.is_empty());
        assert_eq!(writer.full_rejections(), 0);
    }
}

#[test]
fn a_reopened_ring_resumes_where_it_stopped() {
    let path = ring_file("resume", 4096, Mode::Spsc);
    let positions = {
        let ring = open(&path);
        let positions = write_spsc(&ring, 0..6);
        let mut consumer = ring.consumer().unwrap();
        expect_record(&mut consumer, 0);
        expect_record(&mut consumer, 1);
        positions
    };
    // Both positions are in the file once every end is gone.
    assert_eq!(read_u64(&path, HEAD_AT), positions[2]);
    let tail = read_u64(&path, TAIL_AT);
    assert_eq!(
        tail,
        positions[5] + (8 + len_of(5) as u64).next_multiple_of(8)
    );

    let ring = open(&path);
    assert_eq!(ring.len_bytes() as u64, tail - positions[2]);
    let mut consumer = ring.consumer().unwrap();
    {
        let record = consumer.try_recv().unwrap();
        assert_eq!(record.position(), positions[2], "resumes at the head");
        check(2, &record);
    }
    // The producer resumes at the tail.
    let more = write_spsc(&ring, 6..8);
    assert_eq!(more[0], tail);
    for key in 3..8 {
        expect_record(&mut consumer, key);
    }
    expect_empty(&mut consumer);
}

#[test]
fn released_records_are_not_delivered_again() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let path = TempPath::new("released");
        let ring = create(&path, 4096, mode);
        match mode {
            Mode::Spsc => {
                write_spsc(&ring, 0..5);
            }
            Mode::Mpsc => {
                let producer = ring.mpsc_producer().unwrap();
                for key in 0..5 {
                    producer.try_send(&payload(key)).unwrap();
                }
            }
        }
        {
            let mut consumer = ring.consumer().unwrap();
            expect_record(&mut consumer, 0);
            consumer.try_recv().unwrap().release();
        }
        let mut consumer = open(&path).consumer().unwrap();
        for key in 2..5 {
            expect_record(&mut consumer, key);
        }
        expect_empty(&mut consumer);
    }
}

#[test]
fn records_a_panicking_batch_did_not_finish_are_delivered_again() {
    let path = TempPath::new("batch-panic");
    let ring = create(&path, 4096, Mode::Mpsc);
    let producer = ring.mpsc_producer().unwrap();
    for key in 0..8 {
        producer.try_send(&payload(key)).unwrap();
    }
    {
        let mut consumer = ring.consumer().unwrap();
        let mut seen = Vec::new();
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            consumer.try_recv_batch(usize::MAX, |record| {
                let key = seen.len() as u64;
                check(key, &record);
                seen.push(key);
                if key == 3 {
                    panic!("the handler failed on record 3");
                }
            })
        }));
        assert!(result.is_err());
        assert_eq!(seen, [0, 1, 2, 3]);
    }
    // The next consumer starts at the record the handler panicked on.
    let mut consumer = open(&path).consumer().unwrap();
    for key in 3..8 {
        expect_record(&mut consumer, key);
    }
    expect_empty(&mut consumer);
}

// ---------------------------------------------------------------------------
// Corrupt records.

/// Writes records 0..count to a new SPSC ring, optionally reads `read` of
/// them, drops every end, and sets the length bits of the record word at
/// `positions[corrupt]` to `len`. Returns the path and the positions.
fn corrupt_ring(count: u64, read: u64, corrupt: usize, len: u64) -> (TempPath, Vec<u64>) {
    let path = ring_file("corrupt", 4096, Mode::Spsc);
    let positions = {
        let ring = open(&path);
        let positions = write_spsc(&ring, 0..count);
        let mut consumer = ring.consumer().unwrap();
        for key in 0..read {
            expect_record(&mut consumer, key);
        }
        positions
    };
    let at = word_at(positions[corrupt], 4096);
    let word = read_u64(&path, at);
    assert_eq!(word >> 30 & 0b11, 0b10, "a committed record word");
    patch_u64(&path, at, (word & !LEN_MASK) | len);
    (path, positions)
}

#[test]
fn a_corrupt_length_at_the_head_is_reported() {
    for len in [LEN_MASK, 2041, 1 << 20] {
        let (path, positions) = corrupt_ring(10, 4, 4, len);
        assert_eq!(read_u64(&path, HEAD_AT), positions[4]);
        let ring = open(&path);
        let mut consumer = ring.consumer().unwrap();
        let corrupt = expect_corrupt(&mut consumer);
        assert_eq!(corrupt.position, positions[4]);
        assert_eq!(corrupt.word & LEN_MASK, len);
        assert!(corrupt.to_string().contains("out of bounds"), "{corrupt}");
        // It stays stopped there.
        assert_eq!(expect_corrupt(&mut consumer), corrupt);
        assert_eq!(
            consumer.try_recv_batch(usize::MAX, |record| panic!("delivered {record:?}")),
            Err(queue::TryRecvError::Corrupt(corrupt))
        );
        assert_eq!(consumer.corruption(), Some(corrupt));
    }
}

#[test]
fn a_corrupt_length_in_the_middle_stops_the_consumer_there() {
    // Records 0..100 of up to 59 bytes (spans of 8 to 72 bytes) fill most
    // of the 4096-byte ring. A length within the maximum but running past
    // the end of the data area would read past the end of the mapping.
    let (path, positions) = corrupt_ring(100, 0, 70, 0);
    let at = positions[70];
    let room = 4096 - (at & 4095);
    assert!(room < 2040, "record 70 is in the second half");
    let word = read_u64(&path, word_at(at, 4096));
    patch_u64(&path, word_at(at, 4096), word | (room + 8).min(2040));

    let ring = open(&path);
    let mut consumer = ring.consumer().unwrap();
    for key in 0..70 {
        expect_record(&mut consumer, key);
    }
    let corrupt = expect_corrupt(&mut consumer);
    assert_eq!(corrupt.position, at);
    assert_eq!(corrupt.reason, "record length out of bounds");
    // What came before was released; what follows is never reached.
    assert_eq!(read_u64(&path, HEAD_AT), at);
    assert_eq!(expect_corrupt(&mut consumer), corrupt);
}

/// The blocking receive calls, each tried on a corrupt ring.
#[derive(Clone, Copy, Debug)]
enum Call {
    Recv,
    RecvTimeout,
    RecvDeadline,
    TryRecv,
    RecvBatch,
    RecvBatchTimeout,
    TryRecvBatch,
}

const CALLS: [Call; 7] = [
    Call::Recv,
    Call::RecvTimeout,
    Call::RecvDeadline,
    Call::TryRecv,
    Call::RecvBatch,
    Call::RecvBatchTimeout,
    Call::TryRecvBatch,
];

/// What one receive call did: the positions of the records it received, or
/// its error's message and, if the error is the `Corrupt` variant, what it
/// carries.
type Received = Result<Vec<u64>, (String, Option<CorruptRing>)>;

fn recv_failed(error: RecvError) -> (String, Option<CorruptRing>) {
    let corrupt = match error {
        RecvError::Corrupt(corrupt) => Some(corrupt),
        _ => None,
    };
    (error.to_string(), corrupt)
}

fn timeout_failed(error: RecvTimeoutError) -> (String, Option<CorruptRing>) {
    let corrupt = match error {
        RecvTimeoutError::Corrupt(corrupt) => Some(corrupt),
        _ => None,
    };
    (error.to_string(), corrupt)
}

fn try_failed(error: TryRecvError) -> (String, Option<CorruptRing>) {
    let corrupt = match error {
        TryRecvError::Corrupt(corrupt) => Some(corrupt),
        _ => None,
    };
    (error.to_string(), corrupt)
}

/// Receives with `call` (a batch of up to 4 records for the batch calls).
fn receive(rx: &mut Receiver, call: Call) -> Received {
    let one = |record: ReadClaim<'_>| vec![record.position()];
    let mut batch = Vec::new();
    let take = |record: Record<'_>| batch.push(record.position());
    match call {
        Call::Recv => rx.recv().map(one).map_err(recv_failed),
        Call::RecvTimeout => rx.recv_timeout(PATIENCE).map(one).map_err(timeout_failed),
        Call::RecvDeadline => rx
            .recv_deadline(Instant::now() + PATIENCE)
            .map(one)
            .map_err(timeout_failed),
        Call::TryRecv => rx.try_recv().map(one).map_err(try_failed),
        Call::RecvBatch => rx.recv_batch(4, take).map(|_| batch).map_err(recv_failed),
        Call::RecvBatchTimeout => rx
            .recv_batch_timeout(4, PATIENCE, take)
            .map(|_| batch)
            .map_err(timeout_failed),
        Call::TryRecvBatch => rx
            .try_recv_batch(4, take)
            .map(|_| batch)
            .map_err(try_failed),
    }
}

/// Checks that `error` is the `Corrupt` variant carrying `expected`, and
/// that its message names the position and the reason, not a disconnection.
#[track_caller]
fn assert_corrupt_error(error: &(String, Option<CorruptRing>), expected: CorruptRing, what: &str) {
    let (message, corrupt) = error;
    assert_eq!(*corrupt, Some(expected), "{what}: {message}");
    assert!(
        message.contains(&format!("position {}", expected.position))
            && message.contains(expected.reason),
        "{what}: the message does not name the position and the reason: {message}"
    );
    assert!(
        !message.contains("disconnected"),
        "{what}: corruption reported as a disconnection: {message}"
    );
}

#[test]
fn every_receive_call_reports_a_corrupt_ring_as_corrupt() {
    // With or without a producer attached, following or not: the records
    // before the corruption arrive, then the corruption, never the end of
    // the stream and never a wait for records past it.
    for call in CALLS {
        for (attached, follow) in [(false, false), (false, true), (true, false), (true, true)] {
            let what = format!("{call:?}, producer attached: {attached}, follow: {follow}");
            let (path, positions) = corrupt_ring(12, 0, 6, LEN_MASK);
            let ring = open(&path);
            let _sender = attached.then(|| ring.spsc_sender().unwrap());
            let mut receiver = ring.receiver().unwrap();
            receiver.set_follow(follow);
            let mut received = Vec::new();
            let error = loop {
                match receive(&mut receiver, call) {
                    Ok(positions) => received.extend(positions),
                    Err(error) => break error,
                }
            };
            assert_eq!(received, positions[..6], "{what}: the records before it");
            let expected = CorruptRing {
                position: positions[6],
                word: read_u64(&path, word_at(positions[6], 4096)),
                reason: "record length out of bounds",
            };
            assert_corrupt_error(&error, expected, &what);
            // Every call keeps reporting it.
            for again in CALLS {
                let error = receive(&mut receiver, again).expect_err("nothing past it");
                assert_corrupt_error(&error, expected, &format!("{what}, then {again:?}"));
            }
            assert_eq!(receiver.corruption(), Some(expected), "{what}");
        }
    }
}

#[test]
fn a_receiver_asleep_in_recv_wakes_with_the_corruption() {
    // Two producers' claims: the receiver waits (asleep, following) at the
    // first, whose word is then overwritten with one no producer writes;
    // the second commits, which wakes the receiver.
    let path = ring_file("asleep", 4096, Mode::Mpsc);
    let ring = open(&path);
    let first = ring.mpsc_sender().unwrap();
    let second = first.clone();
    let mut receiver = ring.receiver().unwrap();
    receiver.set_follow(true);
    let held = first.claim(8).unwrap();
    let mut later = second.claim(8).unwrap();
    later.copy_from_slice(b"after it");
    let (done, outcome) = std::sync::mpsc::channel();
    let receiving = thread::spawn(move || {
        let received = receiver.recv().map(|record| record.position());
        done.send(received).unwrap();
        receiver
    });
    // Time to fall asleep; the test holds either way.
    thread::sleep(Duration::from_millis(50));
    let bad = held.position();
    patch_u64(&path, word_at(bad, 4096), u64::MAX);
    later.commit();
    // A hang, not slowness, is what this deadline catches.
    let received = outcome
        .recv_timeout(Duration::from_secs(30))
        .expect("the receiver is still asleep");
    let expected = CorruptRing {
        position: bad,
        word: u64::MAX,
        reason: "unknown record state",
    };
    assert_eq!(received, Err(RecvError::Corrupt(expected)));
    let receiver = receiving.join().unwrap();
    assert_eq!(receiver.corruption(), Some(expected));
    drop(held);
}

#[test]
fn other_corrupt_words_are_reported() {
    // (raw record word, reason)
    let cases = [
        (0x0000_0000_0000_0010, "unknown record state"),
        (0x0000_0001_0000_0000, "unknown record state"),
        (0xC000_0000, "padding span out of bounds"),
        (0xC000_0003, "padding span out of bounds"),
        (0xC000_0000 | 8192, "padding span out of bounds"),
        (0x0000_0001_C000_0008, "unknown record state"),
    ];
    for (raw, reason) in cases {
        let (path, positions) = corrupt_ring(10, 0, 5, 0);
        patch_u64(&path, word_at(positions[5], 4096), raw);
        let ring = open(&path);
        let mut consumer = ring.consumer().unwrap();
        for key in 0..5 {
            expect_record(&mut consumer, key);
        }
        let corrupt = expect_corrupt(&mut consumer);
        assert_eq!(
            (corrupt.position, corrupt.word, corrupt.reason),
            (positions[5], raw, reason)
        );
    }
}

#[test]
fn random_damage_never_panics_or_reads_out_of_bounds() {
    // Random bytes over the header fields and over the data area: every
    // open either fails with a report or gives a ring whose consumer
    // delivers records inside the data area, reports corruption, or finds
    // nothing; never a panic, a crash or a hang.
    let capacity = 1024u64;
    let mut seed = 1;
    let mut next = || {
        seed += 1;
        mix(seed)
    };
    for round in 0..300 {
        let path = ring_file("random", capacity as usize, Mode::Mpsc);
        if round % 3 == 0 {
            let offset = [0, 8, 12, 16, 24, 32, 64, 128, 256, 896][(next() % 10) as usize];
            let bytes = next().to_le_bytes();
            let len = 1 + (next() % 8) as usize;
            patch(&path, offset + next() % 4, &bytes[..len]);
        } else {
            // Valid positions somewhere in a lap, data area garbage.
            let head = (next() % (4 * capacity)) & !7;
            let tail = head + ((next() % capacity) & !7);
            patch_u64(&path, HEAD_AT, head);
            patch_u64(&path, CONSUMED_AT, head);
            patch_u64(&path, TAIL_AT, tail);
            let garbage: Vec<u8> = (0..capacity / 8)
                .flat_map(|_| {
                    let word = next();
                    // Mostly plausible states, some of them committed.
                    match word % 4 {
                        0 => word.to_le_bytes(),
                        1 => (word & 0xffff_ffff_8000_003f | 0x8000_0000).to_le_bytes(),
                        2 => (word & 0x0000_0000_c000_00f8).to_le_bytes(),
                        _ => 0u64.to_le_bytes(),
                    }
                })
                .collect();
            patch(&path, HEADER, &garbage);
        }
        let Ok(ring) = RingFile::open(path.path()) else {
            continue;
        };
        let mut consumer = ring.consumer().unwrap();
        for _ in 0..capacity / 8 + 1 {
            match consumer.try_recv() {
                Ok(record) => {
                    let pos = record.position() & (capacity - 1);
                    assert!(pos + 8 + record.len() as u64 <= capacity);
                }
                Err(queue::TryRecvError::Empty | queue::TryRecvError::Corrupt(_)) => break,
                Err(error) => panic!("{error}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Impossible positions: a header damaged while ends are attached.

/// What a producer says of positions no ring can have.
const IMPOSSIBLE: &str = "the consumer's head is more than a capacity away from the tail";

/// How the consumer's `head` is damaged, relative to the producer's `tail`.
#[derive(Clone, Copy, Debug)]
enum Damage {
    /// More than a capacity behind: more in use than the ring holds.
    Behind,
    /// More than a capacity ahead: the consumer past records never written.
    Ahead,
}

/// Where the positions of the rings below start: three laps and a bit on.
const LAPPED: u64 = 3 * 4096 + 128;

/// A closed ring file of 4096 bytes in `mode` whose (consistent) positions
/// stand at `LAPPED`, as if three laps had been written and read.
fn lapped_ring(name: &str, mode: Mode) -> TempPath {
    let path = ring_file(name, 4096, mode);
    for at in [HEAD_AT, TAIL_AT, CONSUMED_AT] {
        patch_u64(&path, at, LAPPED);
    }
    path
}

/// Fills the ring with `try_send` of 56-byte records (spans of 64, so no
/// padding) until it is full, then writes `damage` into the header's `head`
/// behind the attached ends' backs. Returns the tail and the damaged head.
fn fill_then_damage(
    path: &TempPath,
    damage: Damage,
    mut try_send: impl FnMut(&[u8]) -> bool,
) -> (u64, u64) {
    let mut sent = 0;
    while try_send(&[7; 56]) {
        sent += 1;
    }
    assert_eq!(sent, 4096 / 64, "{damage:?}: the ring holds 64 records");
    let tail = LAPPED + 4096;
    assert_eq!(read_u64(path, TAIL_AT), tail);
    let head = match damage {
        Damage::Behind => tail - 4096 - 64,
        Damage::Ahead => tail + 4096 + 64,
    };
    patch_u64(path, HEAD_AT, head);
    (tail, head)
}

/// Panics unless `corrupt` reports the impossible positions.
#[track_caller]
fn assert_impossible(corrupt: CorruptRing, tail: u64, head: u64, what: &str) {
    assert_eq!(
        (corrupt.position, corrupt.word, corrupt.reason),
        (tail, head, IMPOSSIBLE),
        "{what}"
    );
    assert_eq!(
        corrupt.to_string(),
        format!("corrupt ring at position {tail}: {IMPOSSIBLE} (found {head:#018x})"),
        "{what}"
    );
}

/// A queue producer whose ring file's `head` was damaged more than a
/// capacity behind or ahead of its `tail` gets `ClaimError::Corrupt` from
/// every claim, not `Full` for ever (and nothing is counted as a `Full`
/// rejection); a record too large is still `TooLarge`.
#[test]
fn a_queue_producer_facing_impossible_positions_reports_corruption() {
    use logring::queue::ClaimError;
    for mode in [Mode::Spsc, Mode::Mpsc] {
        for damage in [Damage::Behind, Damage::Ahead] {
            let what = format!("{mode}, head {damage:?}");
            let path = lapped_ring("impossible-queue", mode);
            let ring = open(&path);
            let _consumer = ring.consumer().unwrap();
            let mut spsc = (mode == Mode::Spsc).then(|| ring.spsc_producer().unwrap());
            let mpsc = (mode == Mode::Mpsc).then(|| ring.mpsc_producer().unwrap());
            let mut try_claim = |len: usize, send: bool| -> Result<(), ClaimError> {
                let payload = vec![7; len];
                match (&mut spsc, &mpsc) {
                    (Some(producer), _) if send => producer.try_send(&payload),
                    (Some(producer), _) => producer.try_claim(len).map(|claim| claim.commit()),
                    (_, Some(producer)) if send => producer.try_send(&payload),
                    (_, Some(producer)) => producer.try_claim(len).map(|claim| claim.commit()),
                    _ => unreachable!(),
                }
            };
            let (tail, head) = fill_then_damage(&path, damage, |payload| {
                match try_claim(payload.len(), true) {
                    Ok(()) => true,
                    Err(ClaimError::Full) => false,
                    Err(error) => panic!("{what}: filling: {error}"),
                }
            });
            let max = ring.max_record_len();
            for round in 0..3 {
                for (len, send) in [(8, false), (0, false), (8, true)] {
                    match try_claim(len, send) {
                        Err(ClaimError::Corrupt(corrupt)) => {
                            assert_impossible(corrupt, tail, head, &what);
                        }
                        other => panic!("{what}, round {round}: {len} bytes: {other:?}"),
                    }
                }
                assert_eq!(
                    try_claim(max + 1, false),
                    Err(ClaimError::TooLarge { len: max + 1, max }),
                    "{what}"
                );
            }
            assert_eq!(
                ring.full_rejections(),
                1,
                "{what}: the fill's last refusal only"
            );
        }
    }
}

/// The same for the channel's senders: `claim` returns
/// `SendError::Corrupt` at once (it spins only on `Full`), and so do
/// `try_claim`, `send` and `try_send`.
#[test]
fn a_channel_sender_facing_impossible_positions_reports_corruption() {
    use logring::channel::{SendError, SpinPolicy};
    for mode in [Mode::Spsc, Mode::Mpsc] {
        for damage in [Damage::Behind, Damage::Ahead] {
            let what = format!("{mode}, head {damage:?}");
            let path = lapped_ring("impossible-channel", mode);
            let ring = open(&path);
            let _receiver = ring.receiver().unwrap();
            let mut spsc = (mode == Mode::Spsc).then(|| ring.spsc_sender().unwrap());
            let mut mpsc = (mode == Mode::Mpsc).then(|| ring.mpsc_sender().unwrap());
            // A budget so long that a sender spinning on what it took for a
            // full ring would outlast the test's patience.
            let policy = SpinPolicy::new(u32::MAX, u32::MAX);
            if let Some(sender) = &mut spsc {
                sender.set_spin_policy(policy);
            }
            if let Some(sender) = &mut mpsc {
                sender.set_spin_policy(policy);
            }
            // 0: claim, 1: try_claim, 2: send, 3: try_send.
            let mut call = |how: u8, payload: &[u8]| -> Result<(), SendError> {
                let len = payload.len();
                match (&mut spsc, &mpsc) {
                    (Some(sender), _) => match how {
                        0 => sender.claim(len).map(|claim| claim.commit()),
                        1 => sender.try_claim(len).map(|claim| claim.commit()),
                        2 => sender.send(payload),
                        _ => sender.try_send(payload),
                    },
                    (_, Some(sender)) => match how {
                        0 => sender.claim(len).map(|claim| claim.commit()),
                        1 => sender.try_claim(len).map(|claim| claim.commit()),
                        2 => sender.send(payload),
                        _ => sender.try_send(payload),
                    },
                    _ => unreachable!(),
                }
            };
            let (tail, head) = fill_then_damage(&path, damage, |payload| match call(3, payload) {
                Ok(()) => true,
                Err(SendError::Full) => false,
                Err(error) => panic!("{what}: filling: {error}"),
            });
            for how in 0..4 {
                match call(how, &[1; 8]) {
                    Err(SendError::Corrupt(corrupt)) => {
                        assert_impossible(corrupt, tail, head, &what);
                    }
                    other => panic!("{what}: call {how}: {other:?}"),
                }
            }
            assert_eq!(
                ring.full_rejections(),
                1,
                "{what}: the fill's last refusal only"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Claims left open by producers that are gone.

#[test]
fn a_dead_producers_claim_is_skipped() {
    let path = TempPath::new("dead-claim");
    let ring = create(&path, 4096, Mode::Mpsc);
    let mut consumer = ring.consumer().unwrap();
    let live = ring.mpsc_producer().unwrap();
    live.try_send(&payload(0)).unwrap();
    let dead = ring.mpsc_producer().unwrap();
    let mut claim = dead.try_claim(40).unwrap();
    fill(99, &mut claim);
    std::mem::forget(claim);
    live.try_send(&payload(1)).unwrap();
    drop(dead);
    assert!(ring.producers_attached(), "the live producer");

    expect_record(&mut consumer, 0);
    let (_, bytes) = poll(&mut consumer).expect("the dead claim was never skipped");
    check(1, &bytes);
    assert_eq!(consumer.skipped_claims(), 1);
    assert_eq!(ring.skipped_claims(), 1);
    expect_empty(&mut consumer);
    assert_eq!(consumer.skipped_claims(), 1, "counted once");
}

#[test]
fn a_live_producers_claim_is_never_skipped() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let path = TempPath::new("live-claim");
        let ring = create(&path, 4096, mode);
        let mut consumer = ring.consumer().unwrap();
        let mut spsc = (mode == Mode::Spsc).then(|| ring.spsc_producer().unwrap());
        let mpsc = (mode == Mode::Mpsc).then(|| ring.mpsc_producer().unwrap());
        let other = (mode == Mode::Mpsc).then(|| ring.mpsc_producer().unwrap());
        let mut claim = match (&mut spsc, &mpsc) {
            (Some(producer), _) => producer.try_claim(len_of(0)).unwrap(),
            (_, Some(producer)) => producer.try_claim(len_of(0)).unwrap(),
            _ => unreachable!(),
        };
        fill(0, &mut claim);
        if let Some(other) = &other {
            other.try_send(&payload(1)).unwrap();
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(200) {
            expect_empty(&mut consumer);
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(consumer.skipped_claims(), 0, "{mode}");
        claim.commit();
        expect_record(&mut consumer, 0);
        if other.is_some() {
            expect_record(&mut consumer, 1);
        }
        assert_eq!(consumer.skipped_claims(), 0);
    }
}

#[test]
fn a_new_spsc_producer_takes_over_from_one_that_left_a_claim() {
    // `room`: bytes left before the end of the data area when the dead
    // claim (span 112) is made; below 112 it needs wrap padding.
    let capacity = 1024u64;
    for room in [8, 16, 56, 104, 112, 120] {
        for consumer_first in [false, true] {
            take_over_at(capacity, room, consumer_first);
        }
    }
}

fn take_over_at(capacity: u64, room: u64, consumer_first: bool) {
    let what = format!("room {room}, consumer first: {consumer_first}");
    let path = TempPath::new("take-over");
    let ring = create(&path, capacity as usize, Mode::Spsc);
    let mut consumer = ring.consumer().unwrap();
    let mut producer = ring.spsc_producer().unwrap();

    // Move both ends to `capacity - room - 32`, then leave two records of
    // span 16 unread just before the dead claim.
    let mut pos = 0;
    while pos < capacity - room - 32 {
        let len = (capacity - room - 32 - pos).min(256) - 8;
        let mut claim = producer.try_claim(len as usize).unwrap();
        pos = claim.position() + 8 + len;
        claim.fill(0xee);
        claim.commit();
        drop(consumer.try_recv().unwrap());
    }
    for key in [1000u64, 1001] {
        producer.try_send(&key.to_le_bytes()).unwrap();
    }
    let mut claim = producer.try_claim(100).unwrap();
    claim.fill(0xdd);
    let dead = claim.position();
    assert_eq!(
        dead & (capacity - 1),
        if room < 112 { 0 } else { capacity - room },
        "{what}"
    );
    std::mem::forget(claim);
    drop(producer);

    for key in [1000u64, 1001] {
        let (_, bytes) = poll(&mut consumer).unwrap();
        assert_eq!(bytes, key.to_le_bytes(), "{what}");
    }
    if consumer_first {
        // The consumer gets to the dead claim and skips it before anyone
        // takes the producer's place.
        let start = Instant::now();
        while consumer.skipped_claims() == 0 && start.elapsed() < PATIENCE {
            assert_eq!(
                consumer.try_recv().err(),
                Some(queue::TryRecvError::Empty),
                "{what}"
            );
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(consumer.skipped_claims(), 1, "{what}");
    }
    let mut producer = ring.spsc_producer().unwrap();
    for key in 0..5 {
        producer.try_send(&payload(key)).unwrap();
    }
    let (first, bytes) = poll(&mut consumer).unwrap_or_else(|| panic!("{what}: stuck"));
    assert_eq!(first, dead + 112, "{what}: the record after the dead claim");
    check(0, &bytes);
    for key in 1..5 {
        expect_record(&mut consumer, key);
    }
    assert_eq!(consumer.skipped_claims(), 1, "{what}: counted once");
    expect_empty(&mut consumer);

    // The ring goes on working across the next wrap.
    for key in 5..200 {
        producer.try_send(&payload(key)).unwrap();
        expect_record(&mut consumer, key);
    }
    assert_eq!(ring.skipped_claims(), 1, "{what}");
}

#[test]
fn a_draining_receiver_skips_a_dead_claim() {
    let path = TempPath::new("drain-dead-claim");
    let ring = create(&path, 4096, Mode::Spsc);
    {
        let mut producer = ring.spsc_producer().unwrap();
        for key in 0..3 {
            producer.try_send(&payload(key)).unwrap();
        }
        std::mem::forget(producer.try_claim(30).unwrap());
    }
    let mut receiver = ring.receiver().unwrap();
    for key in 0..3 {
        check(key, &receiver.recv_timeout(PATIENCE).unwrap());
    }
    // No producer is attached: the claim can never be committed.
    assert!(matches!(
        receiver.recv_timeout(Duration::from_secs(60)),
        Err(RecvTimeoutError::Disconnected)
    ));
    assert_eq!(receiver.skipped_claims(), 1);
    assert!(receiver.corruption().is_none());
}

#[test]
fn an_unread_record_goes_to_the_next_consumer() {
    let path = ring_file("unread", 4096, Mode::Spsc);
    let ring = open(&path);
    let positions = write_spsc(&ring, 0..3);
    {
        let mut receiver = ring.receiver().unwrap();
        check(0, &receiver.try_recv().unwrap());
        let record = receiver.try_recv().unwrap();
        check(1, &record);
        // A tailer whose output closed leaves the record it could not print.
        record.unread();
    }
    assert_eq!(ring.head(), positions[1]);
    let mut consumer = ring.consumer().unwrap();
    expect_record(&mut consumer, 1);
    expect_record(&mut consumer, 2);
    expect_empty(&mut consumer);
}

#[test]
fn observers_report_the_header() {
    let path = TempPath::new("observers");
    let ring = create(&path, 4096, Mode::Mpsc);
    assert_eq!(ring.format_version(), (1, 0));
    assert_eq!((ring.head(), ring.tail()), (0, 0));
    assert_eq!(ring.producer_count(), 0);
    assert_eq!(ring.consumer_pid(), None);

    let first = ring.mpsc_producer().unwrap();
    let _clone = first.clone();
    let second = ring.mpsc_producer().unwrap();
    assert_eq!(ring.producer_count(), 2, "clones share a slot");
    first.try_send(&payload(0)).unwrap();
    let tail = ring.tail();
    assert_eq!(tail, (8 + len_of(0) as u64).next_multiple_of(8));
    assert_eq!(ring.len_bytes() as u64, tail - ring.head());

    let mut consumer = ring.consumer().unwrap();
    assert_eq!(ring.consumer_pid(), Some(std::process::id()));
    expect_record(&mut consumer, 0);
    assert_eq!(ring.head(), tail);
    drop((first, _clone, second));
    assert_eq!(ring.producer_count(), 0);
    drop(consumer);
    assert_eq!(ring.consumer_pid(), None);
}

#[test]
fn special_permission_bits_are_never_set_on_a_ring_file() {
    let path = TempPath::new("special-bits");
    RingFile::create(path.path(), Options::new(4096).permissions(0o6640 | 0o1000)).unwrap();
    let mode = fs::metadata(path.path()).unwrap().permissions().mode() & 0o7777;
    assert_eq!(
        mode, 0o640,
        "set-user-id, set-group-id and sticky bits dropped"
    );
}
