//! Ring files that are damaged, missing, in use or misused, within one
//! process: every problem is a `FileError` of its own kind that names the
//! file and says what was wrong, never a panic, a hang or a crash; and the
//! file handling around opening and creating them (permissions, space,
//! modes, one consumer and one SPSC producer at a time) does what the
//! `file` module promises. A failed `open` must leave the file byte for
//! byte as it found it.
//!
//! Corrupt records and impossible positions met by attached ends are in
//! `file_corruption.rs`; what ends that went away leave to the next ones is
//! in `file_recovery.rs`.

#![cfg(all(target_os = "linux", feature = "mmap"))]

mod common;
mod file_support;
mod ringfile;

use file_support::{PATIENCE, create, expect_record, len_of, open, payload, ring_file, write_spsc};
use ringfile::{
    CAPACITY_AT, CONSUMED_AT, DATA_OFFSET_AT, HEAD_AT, HEADER, INITIALISED_AT, MAGIC_AT, MAJOR_AT,
    MAX_LEN_AT, MINOR_AT, MODE_AT, TAIL_AT, TempPath, patch, patch_u16, patch_u32, patch_u64,
};

use std::fs::{self, File, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::thread;

use logring::Error;
use logring::file::{FileError, FileErrorKind, Mode, Options, RingFile, RingObserver};

/// Largest data area a ring file may have (64-bit targets).
const MAX_CAPACITY: u64 = 1 << 40;

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
    let kind = open_fails(&path, "ring format 2.2, this logring reads 1.x");
    assert!(
        matches!(
            kind,
            FileErrorKind::UnsupportedVersion {
                major: 2,
                minor: 2,
                supported: 1
            }
        ),
        "{kind:?}"
    );
    patch_u16(&path, MAJOR_AT, 0);
    let kind = open_fails(&path, "ring format 0.2, this logring reads 1.x");
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
        (capacity + 16, 8, capacity + 16),
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
    // A consumer past the tail: a receiver that drained committed records a
    // damaged file held at or past the tail (the fuzz target `open_drain`
    // made one). The file opens, and the next SPSC producer starts where
    // the consumer is.
    let path = ring_file("past-tail", capacity as usize, Mode::Spsc);
    patch_u64(&path, HEAD_AT, 16);
    patch_u64(&path, TAIL_AT, 8);
    patch_u64(&path, CONSUMED_AT, 16);
    let ring = open(&path);
    write_spsc(&ring, 0..3);
    assert!(ring.tail() > 16, "the producer started at the consumer");
    let mut consumer = ring.consumer().unwrap();
    for key in 0..3 {
        expect_record(&mut consumer, key);
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
fn special_permission_bits_are_never_set_on_a_ring_file() {
    let path = TempPath::new("special-bits");
    RingFile::create(path.path(), Options::new(4096).permissions(0o6640 | 0o1000)).unwrap();
    let mode = fs::metadata(path.path()).unwrap().permissions().mode() & 0o7777;
    assert_eq!(
        mode, 0o640,
        "set-user-id, set-group-id and sticky bits dropped"
    );
}

#[test]
fn created_files_have_their_space_allocated() {
    let shm = Path::new("/dev/shm");
    let dirs = [std::env::temp_dir(), shm.to_path_buf()];
    for dir in dirs.iter().filter(|dir| dir.is_dir()) {
        let path = TempPath::under(dir, "allocated");
        let ring = create(&path, 1 << 20, Mode::Mpsc);
        let metadata = fs::metadata(path.path()).unwrap();
        // The data area and the default dictionary (256 KiB at this size).
        assert_eq!(metadata.len(), HEADER + (1 << 20) + (256 << 10));
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
// Ends: modes, one consumer and one SPSC producer at a time, and what the
// header shows of them.

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

#[test]
fn observers_report_the_header() {
    let path = TempPath::new("observers");
    let ring = create(&path, 4096, Mode::Mpsc);
    assert_eq!(ring.format_version(), (1, 2));
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
