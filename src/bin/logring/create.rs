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
    /// Size of the callsite dictionary after the data area, where log
    /// events' callsites are written once for every reader (rounded up to
    /// a multiple of 4KiB, at most 1GiB; 0 for none). Default: a quarter of
    /// the capacity, at most 256KiB (none below 16KiB).
    #[arg(long, value_parser = units::size)]
    dictionary: Option<usize>,
    /// Bytes of consumed records the consumer leaves in place, so that
    /// `tail --spy` beside a consumer that keeps up still sees them
    /// (rounded up to a multiple of 16, at most half the capacity; producers
    /// then have the rest). Default 0: records are zeroed as they are
    /// consumed.
    #[arg(long, value_parser = units::size)]
    retain: Option<usize>,
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
    let mut options = Options::new(args.capacity)
        .mode(mode)
        .permissions(args.permissions);
    if let Some(bytes) = args.dictionary {
        options = options.dictionary_len(bytes);
    }
    if let Some(bytes) = args.retain {
        options = options.retain(bytes);
    }
    let ring = RingFile::create(&args.path, options).map_err(|error| match error.kind() {
        // The file was not touched: the number on the command line is at
        // fault.
        FileErrorKind::Capacity(_)
        | FileErrorKind::DictionaryTooLarge { .. }
        | FileErrorKind::RetainTooLarge { .. } => Failure::usage(error.to_string()),
        _ => error.into(),
    })?;
    if ring.capacity() != args.capacity {
        eprintln!(
            "logring: note: capacity rounded up to {} bytes ({}), a power of two",
            ring.capacity(),
            bytesize::ByteSize::b(ring.capacity() as u64)
        );
    }
    if let Some(asked) = args.dictionary {
        if ring.dictionary_len() != asked {
            eprintln!(
                "logring: note: dictionary rounded up to {} bytes ({}), a multiple of 4KiB",
                ring.dictionary_len(),
                bytesize::ByteSize::b(ring.dictionary_len() as u64)
            );
        }
    }
    if let Some(asked) = args.retain {
        if ring.retain() != asked {
            eprintln!(
                "logring: note: retention rounded up to {} bytes, a multiple of 16",
                ring.retain()
            );
        }
    }
    Ok(())
}
