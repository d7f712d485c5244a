//! What every `logring` command shares, run as the real binary (see
//! `cli_support`): usage errors exit with status 2, and every kind of bad
//! ring file is reported on one line of standard error, with status 1, by
//! each command that opens one, leaving the file as it was.

#![cfg(all(target_os = "linux", feature = "cli"))]

mod cli_support;
mod ringfile;

use std::fs::{self, File, Permissions};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use cli_support::{create_ring, library_ring, run};
use ringfile::{
    CAPACITY_AT, CONSUMED_AT, DATA_OFFSET_AT, HEAD_AT, HEADER, INITIALISED_AT, MAGIC_AT, MAJOR_AT,
    MAX_LEN_AT, MODE_AT, TAIL_AT, TempPath, patch, patch_u64, set_len,
};

// ---------------------------------------------------------------------------
// Exit statuses and error messages.

#[test]
fn usage_errors_exit_with_status_2() {
    let ring = create_ring("usage", "64KiB", "spsc");
    let missing = TempPath::in_memory("usage-missing");
    let cases: Vec<Vec<&str>> = vec![
        vec!["frobnicate", ring.arg()],
        vec![],
        vec!["stat", ring.arg(), "--bogus"],
        vec!["tail", ring.arg(), "--format", "xml"],
        vec!["tail", ring.arg(), "--timeout", "nonsense"],
        vec!["tail", ring.arg(), "--count", "many"],
        vec!["stat", ring.arg(), "--watch", "--interval", "often"],
        vec!["write", ring.arg(), "--on-full", "sometimes"],
        vec!["create", missing.arg(), "--mode", "spsc"],
        vec!["create", missing.arg(), "--capacity", "64KiB"],
        vec![
            "create",
            missing.arg(),
            "--capacity",
            "4XB",
            "--mode",
            "spsc",
        ],
        vec![
            "create",
            missing.arg(),
            "--capacity",
            "64KiB",
            "--mode",
            "xyz",
        ],
        vec!["create", missing.arg(), "--capacity", "0", "--mode", "spsc"],
        vec![
            "create",
            missing.arg(),
            "--capacity",
            "2TiB",
            "--mode",
            "spsc",
        ],
    ];
    for args in cases {
        run(&args).usage_error();
        assert!(
            !missing.path().exists(),
            "`logring {}` made a file",
            args.join(" ")
        );
    }
}

/// A bad ring file and what its report must say.
struct BadFile {
    name: &'static str,
    path: PathBuf,
    says: String,
    /// Bad only for attaching: `stat` reads it.
    read_only: bool,
    _keep: Option<TempPath>,
}

fn bad_files() -> Vec<BadFile> {
    let mut cases = Vec::new();
    let mut add = |name: &'static str, file: TempPath, says: &str| {
        cases.push(BadFile {
            name,
            path: file.path().to_path_buf(),
            says: says.to_owned(),
            read_only: name == "mode 0444",
            _keep: Some(file),
        });
    };

    let file = TempPath::in_memory("empty");
    File::create(file.path()).unwrap();
    add("empty", file, "the file is empty");

    let file = TempPath::in_memory("short");
    fs::write(file.path(), [0x5a; 100]).unwrap();
    add(
        "too short",
        file,
        "100 bytes is shorter than a ring header (4096 bytes)",
    );

    let file = TempPath::in_memory("zeroed");
    fs::write(file.path(), vec![0; 2 * HEADER as usize]).unwrap();
    add("zero header", file, "the header was never completed");

    // A valid 4 KiB ring with one field of its header changed.
    let patched: [(&'static str, u64, &[u8], &str); 11] = [
        (
            "bad magic",
            MAGIC_AT,
            b"NOTARING",
            "not a logring file (starts with NOTARING)",
        ),
        (
            "major version 2",
            MAJOR_AT,
            &2u16.to_le_bytes(),
            "ring format 2.2, this logring reads 1.x",
        ),
        (
            "no marker",
            INITIALISED_AT,
            &0u32.to_le_bytes(),
            "the header was never completed",
        ),
        (
            "capacity 4000",
            CAPACITY_AT,
            &4000u64.to_le_bytes(),
            "corrupt header: capacity is not a power of two",
        ),
        (
            "capacity 32",
            CAPACITY_AT,
            &32u64.to_le_bytes(),
            "corrupt header: capacity is out of range",
        ),
        (
            "capacity 2^41",
            CAPACITY_AT,
            &(1u64 << 41).to_le_bytes(),
            "corrupt header: capacity is out of range",
        ),
        (
            "max record 2047",
            MAX_LEN_AT,
            &2047u64.to_le_bytes(),
            "corrupt header: maximum record length does not match the capacity",
        ),
        (
            "mode 3",
            MODE_AT,
            &3u32.to_le_bytes(),
            "corrupt header: unknown producer mode",
        ),
        (
            "data offset 8192",
            DATA_OFFSET_AT,
            &8192u64.to_le_bytes(),
            "corrupt header: data offset is not the header length",
        ),
        (
            "head and tail too far apart",
            TAIL_AT,
            &(4096u64 + 8).to_le_bytes(),
            "corrupt header: impossible positions (head 0, tail 4104, consumed 0)",
        ),
        (
            "a misaligned head",
            HEAD_AT,
            &4u64.to_le_bytes(),
            "corrupt header: impossible positions (head 4, tail 0, consumed 0)",
        ),
    ];
    for (name, offset, bytes, says) in patched {
        let file = library_ring(name);
        patch(&file, offset, bytes);
        add(name, file, says);
    }

    let file = library_ring("misaligned");
    for at in [HEAD_AT, TAIL_AT, CONSUMED_AT] {
        patch_u64(&file, at, 4);
    }
    add(
        "misaligned positions",
        file,
        "corrupt header: impossible positions (head 4, tail 4, consumed 4)",
    );

    let file = library_ring("truncated");
    set_len(&file, HEADER + 8);
    add(
        "truncated",
        file,
        "4104 bytes long, but its header says 8192",
    );

    let file = library_ring("extended");
    set_len(&file, 4 * HEADER);
    add(
        "extended",
        file,
        "16384 bytes long, but its header says 8192",
    );

    let file = TempPath::in_memory("directory");
    fs::create_dir(file.path()).unwrap();
    add("a directory", file, "not a regular file");

    let file = TempPath::in_memory("fifo");
    let name = std::ffi::CString::new(file.arg()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only reads it.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0);
    add("a FIFO", file, "not a regular file");

    let file = library_ring("read-only");
    fs::set_permissions(file.path(), Permissions::from_mode(0o444)).unwrap();
    add("mode 0444", file, "read-only (mode 0444)");

    let file = TempPath::in_memory("missing");
    let says = format!(
        "could not open ring file {}: No such file or directory",
        file.arg()
    );
    add("a missing path", file, &says);

    cases.push(BadFile {
        name: "a device",
        path: PathBuf::from("/dev/null"),
        says: "not a regular file".to_owned(),
        read_only: false,
        _keep: None,
    });
    cases
}

#[test]
fn every_bad_ring_file_is_reported_on_one_line() {
    for case in bad_files() {
        let path = case.path.to_str().unwrap();
        let is_file = case.path.is_file();
        let before = is_file.then(|| fs::read(&case.path).unwrap());
        let names_it = format!("ring file {path}");
        for args in [
            vec!["stat", path],
            vec!["stat", path, "--json"],
            vec!["tail", path],
            vec!["write", path],
        ] {
            if case.read_only && args[0] == "stat" {
                // Looking needs no write permission.
                run(&args).ok();
                continue;
            }
            run(&args).fails(1, &[&names_it, &case.says]);
        }
        if let Some(before) = before {
            assert!(
                fs::read(&case.path).unwrap() == before,
                "{}: the file was changed",
                case.name
            );
        }
    }
}
