//! `logring create`, run as the real binary (see `cli_support`): it never
//! replaces anything, sets the permissions asked, rounds the capacity up
//! to a power of two, the dictionary up to 4 KiB and the retention up to 16
//! bytes, saying so, and refuses a retention above half the capacity.

#![cfg(all(target_os = "linux", feature = "cli"))]

mod cli_support;
mod ringfile;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use cli_support::{Ran, create_ring, field, run, run_with, stat_json};
use ringfile::{HEADER, TempPath};

#[test]
fn create_refuses_to_replace_anything() {
    let path = TempPath::in_memory("exists");
    fs::write(path.path(), b"precious").unwrap();
    run(&[
        "create",
        path.arg(),
        "--capacity",
        "64KiB",
        "--mode",
        "spsc",
    ])
    .fails(
        1,
        &[&format!(
            "could not create ring file {}: File exists",
            path.arg()
        )],
    );
    assert_eq!(fs::read(path.path()).unwrap(), b"precious");

    let ring = create_ring("exists-ring", "4KiB", "spsc");
    run_with(&["write", ring.arg()], b"kept\n").ok();
    run(&["create", ring.arg(), "--capacity", "4KiB", "--mode", "mpsc"])
        .fails(1, &[ring.arg(), "File exists"]);
    assert_eq!(
        run(&["tail", ring.arg(), "--no-follow"]).ok().out(),
        "kept\n"
    );

    // A directory that is not there cannot be written.
    let dir = TempPath::in_memory("no-such-dir");
    let inside = format!("{}/ring", dir.arg());
    run(&["create", &inside, "--capacity", "4KiB", "--mode", "spsc"]).fails(1, &[&inside]);
}

fn mode_bits(path: &TempPath) -> u32 {
    fs::metadata(path.path()).unwrap().permissions().mode() & 0o7777
}

#[test]
fn create_sets_the_permissions() {
    for (asked, expected) in [(None, 0o600), (Some("0640"), 0o640), (Some("0444"), 0o644)] {
        let path = TempPath::in_memory("permissions");
        let mut args = vec!["create", path.arg(), "--capacity", "4KiB", "--mode", "spsc"];
        if let Some(asked) = asked {
            args.extend(["--permissions", asked]);
        }
        let ran = run(&args).ok();
        assert_eq!(ran.out(), "", "{}", ran.describe());
        assert_eq!(
            mode_bits(&path),
            expected,
            "--permissions {asked:?}: mode {:04o}",
            mode_bits(&path)
        );
    }
}

#[test]
fn create_rounds_the_capacity_up_to_a_power_of_two() {
    // (asked, capacity, rounded)
    for (asked, capacity, rounded) in [
        ("5000", 8192, true),
        ("64KB", 65536, true),
        ("4M", 4 << 20, true),
        ("64KiB", 65536, false),
        ("4096", 4096, false),
        ("1MiB", 1 << 20, false),
    ] {
        let path = TempPath::in_memory("rounded");
        let ran = run(&["create", path.arg(), "--capacity", asked, "--mode", "mpsc"]).ok();
        check_created(
            &ran,
            rounded.then(|| capacity.to_string()),
            &path,
            HEADER + capacity + default_dictionary(capacity),
            &format!("--capacity {asked}"),
        );
        let stat = stat_json(&path);
        assert_eq!(field(&stat, "capacity"), capacity, "{stat}");
        assert_eq!(
            field(&stat, "dictionary_len"),
            default_dictionary(capacity),
            "{stat}"
        );
        assert_eq!(field(&stat, "max_record_len"), capacity / 2 - 8, "{stat}");
        assert_eq!(stat["mode"], "mpsc", "{stat}");
    }
}

/// `ran`, a `create` of `path` with `asked`, printed nothing on standard
/// output and, on standard error, `note` where it rounded a size up, or
/// nothing; the file it made has `len` bytes.
fn check_created(ran: &Ran, note: Option<String>, path: &TempPath, len: u64, asked: &str) {
    assert_eq!(ran.out(), "", "{}", ran.describe());
    match note {
        Some(note) => assert!(
            ran.err().contains(&note),
            "no note of the rounding ({note:?}): {}",
            ran.describe()
        ),
        None => assert_eq!(ran.err(), "", "{}", ran.describe()),
    }
    assert_eq!(fs::metadata(path.path()).unwrap().len(), len, "{asked}");
}

/// The dictionary a ring of `capacity` bytes gets by default: a quarter of
/// the capacity, at most 256 KiB, rounded down to 4 KiB.
fn default_dictionary(capacity: u64) -> u64 {
    (capacity / 4).min(256 * 1024) / 4096 * 4096
}

#[test]
fn create_sizes_the_dictionary() {
    // (asked, dictionary, rounded)
    for (asked, dictionary, rounded) in [
        ("0", 0, false),
        ("4KiB", 4096, false),
        ("5000", 8192, true),
        ("1MiB", 1 << 20, false),
    ] {
        let path = TempPath::in_memory("dictionary");
        let ran = run(&[
            "create",
            path.arg(),
            "--capacity",
            "64KiB",
            "--mode",
            "mpsc",
            "--dictionary",
            asked,
        ])
        .ok();
        check_created(
            &ran,
            rounded.then(|| format!("dictionary rounded up to {dictionary} bytes")),
            &path,
            HEADER + 65536 + dictionary,
            &format!("--dictionary {asked}"),
        );
        let stat = stat_json(&path);
        assert_eq!(field(&stat, "dictionary_len"), dictionary, "{stat}");
        let used = if dictionary == 0 { 0 } else { 64 };
        assert_eq!(field(&stat, "dictionary_used"), used, "{stat}");
    }

    // Above 1 GiB: a usage error, and nothing made.
    let path = TempPath::in_memory("dictionary-too-large");
    run(&[
        "create",
        path.arg(),
        "--capacity",
        "64KiB",
        "--mode",
        "spsc",
        "--dictionary",
        "2GiB",
    ])
    .fails(
        2,
        &["dictionary of 2147483648 bytes", "maximum of 1073741824"],
    );
    assert!(!path.path().exists());
}

#[test]
fn create_sets_the_retention() {
    // (asked, retain, rounded)
    for (asked, retain, rounded) in [
        ("0", 0, false),
        ("16KiB", 16384, false),
        ("1000", 1008, true),
        ("32KiB", 32768, false),
    ] {
        let path = TempPath::in_memory("retain");
        let ran = run(&[
            "create",
            path.arg(),
            "--capacity",
            "64KiB",
            "--mode",
            "mpsc",
            "--retain",
            asked,
        ])
        .ok();
        check_created(
            &ran,
            rounded.then(|| format!("retention rounded up to {retain} bytes")),
            &path,
            HEADER + 65536 + default_dictionary(65536),
            &format!("--retain {asked}"),
        );
        let stat = stat_json(&path);
        assert_eq!(field(&stat, "retain"), retain, "{stat}");
        // Producers have the rest of the capacity.
        assert_eq!(
            field(&stat, "max_record_len"),
            (65536 - retain) / 2 - 8,
            "{stat}"
        );
    }
    // Half of the capacity as rounded up: 5000 bytes make 8192.
    let path = TempPath::in_memory("retain-rounded-capacity");
    run(&[
        "create",
        path.arg(),
        "--capacity",
        "5000",
        "--mode",
        "spsc",
        "--retain",
        "4KiB",
    ])
    .ok();
    let stat = stat_json(&path);
    assert_eq!(field(&stat, "capacity"), 8192, "{stat}");
    assert_eq!(field(&stat, "retain"), 4096, "{stat}");
}

#[test]
fn create_refuses_a_retention_above_half_the_capacity() {
    // (capacity, asked, the largest retention)
    for (capacity, asked, max) in [
        ("64KiB", "32769", "32768"),
        ("64KiB", "64KiB", "32768"),
        ("4KiB", "1MiB", "2048"),
    ] {
        let path = TempPath::in_memory("retain-too-large");
        let ran = run(&[
            "create",
            path.arg(),
            "--capacity",
            capacity,
            "--mode",
            "mpsc",
            "--retain",
            asked,
        ]);
        ran.fails(
            2,
            &[path.arg(), "retention", "more than half the capacity", max],
        );
        assert!(!path.path().exists(), "--retain {asked}: a file was made");
    }
}
