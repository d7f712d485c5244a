//! `logring`: create, write, tail and inspect ring files from a shell.
//!
//! Built on the crate's public API only, as any program using the crate
//! would be. Each command lives in its own module; this one parses the
//! command line and turns failures into exit statuses: 0 success, 1 a
//! runtime failure, 2 a usage error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod create;
mod format;
mod spy;
mod stat;
mod stop;
mod tail;
mod units;
mod write;

/// Create, write, tail and inspect logring ring files.
///
/// A ring file is a lock-free log ring in a memory-mapped file, shared by
/// producers and one consumer in any processes. Exit status: 0 success,
/// 1 runtime failure, 2 usage error.
#[derive(Parser)]
#[command(name = "logring", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a new ring file (never replacing anything).
    Create(create::Args),
    /// Commit standard input to a ring, one record per line (or chunk).
    Write(write::Args),
    /// Become the ring's consumer and print records as they arrive (or,
    /// with --spy, print them without consuming them).
    Tail(tail::Args),
    /// Show a ring's state, without attaching to it.
    Stat(stat::Args),
}

/// Why a command failed: its message (without the `logring: ` prefix) and
/// whether the command line was at fault.
#[derive(Debug)]
pub struct Failure {
    message: String,
    usage: bool,
}

impl Failure {
    /// The file, the ring or the output failed: status 1.
    pub fn runtime(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: false,
        }
    }

    /// The command line asked for something impossible: status 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: true,
        }
    }
}

impl From<logring::file::FileError> for Failure {
    fn from(error: logring::file::FileError) -> Self {
        Self::runtime(error.to_string())
    }
}

fn main() -> ExitCode {
    // clap prints its own usage errors and exits with status 2.
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Create(args) => create::run(args),
        Command::Write(args) => write::run(args),
        Command::Tail(args) => tail::run(args),
        Command::Stat(args) => stat::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("logring: {}", failure.message);
            ExitCode::from(if failure.usage { 2 } else { 1 })
        }
    }
}
