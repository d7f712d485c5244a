//! `logring create`: a new ring file.

use std::path::PathBuf;

use logring::file::{FileErrorKind, Mode, Options, RingFile};

use crate::{Failure, units};

#[derive(clap::Args)]
pub struct Args {
    /// Where to make it (under /dev/shm for a ring that lives in memory only).
    path: PathBuf,
    /// Size of the data area, rounded up to a power of two, 64 bytes to
    /// 1 TiB: 65536, 64KiB, 4MiB (powers of 1024) or 4MB (powers of 1000).
    #[arg(long, value_parser = units::size)]
    capacity: usize,
    /// Producers at a time: one (spsc), or up to 128 in any processes (mpsc).
    #[arg(long, value_enum)]
    mode: ModeArg,
    /// Permission bits, in octal. The owner always keeps read and write:
    /// every end of a ring writes to it.
    #[arg(long, value_parser = units::permissions, default_value = "0600")]
    permissions: u32,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ModeArg {
    Spsc,
    Mpsc,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let mode = match args.mode {
        ModeArg::Spsc => Mode::Spsc,
        ModeArg::Mpsc => Mode::Mpsc,
    };
    let options = Options::new(args.capacity)
        .mode(mode)
        .permissions(args.permissions);
    let ring = RingFile::create(&args.path, options).map_err(|error| match error.kind() {
        // The file was not touched: the number on the command line is at
        // fault.
        FileErrorKind::Capacity(_) => Failure::usage(error.to_string()),
        _ => error.into(),
    })?;
    if ring.capacity() != args.capacity {
        eprintln!(
            "logring: note: capacity rounded up to {} bytes ({}), a power of two",
            ring.capacity(),
            bytesize::ByteSize::b(ring.capacity() as u64)
        );
    }
    Ok(())
}
