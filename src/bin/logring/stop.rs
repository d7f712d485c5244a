//! Ways a long-running command is told to stop: Ctrl-C (or `kill`), and an
//! output that nobody reads any more.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};

use crate::Failure;

/// Set by SIGINT or SIGTERM; the command finishes the record in hand and
/// exits. A second signal ends the process at once (status 1), for a
/// command stuck writing to an output that does not drain.
pub struct Stop {
    flag: Arc<AtomicBool>,
    /// The number of the last stop signal received (0: none).
    signal: Arc<AtomicUsize>,
}

impl Stop {
    pub fn install() -> Result<Self, Failure> {
        let flag = Arc::new(AtomicBool::new(false));
        let which = Arc::new(AtomicUsize::new(0));
        for signal in [SIGINT, SIGTERM] {
            // The conditional shutdown goes first: it acts only once the
            // flag is already set, that is on the second signal.
            signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&flag))
                .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&flag)))
                .and_then(|_| {
                    signal_hook::flag::register_usize(signal, Arc::clone(&which), signal as usize)
                })
                .map_err(|error| Failure::runtime(format!("cannot handle signals: {error}")))?;
        }
        Ok(Self {
            flag,
            signal: which,
        })
    }

    pub fn requested(&self) -> bool {
        // Relaxed: the flag carries no data; the handler only sets it.
        self.flag.load(Ordering::Relaxed)
    }

    /// Ends the process as the stop signal received would have, had it not
    /// been caught (so that a shell sees it killed by SIGINT: status 130),
    /// once the command has said what it did. Without one, exits with
    /// status 1.
    pub fn die(&self) -> ! {
        // Relaxed: as for the flag.
        let signal = self.signal.load(Ordering::Relaxed);
        if let Ok(signal) = i32::try_from(signal) {
            if signal != 0 {
                // Restores the default action and raises the signal; it
                // returns only if that failed.
                let _ = signal_hook::low_level::emulate_default_handler(signal);
                std::process::exit(128 + signal);
            }
        }
        std::process::exit(1)
    }
}

/// Whether standard input has something to read (or has ended, or failed:
/// a read will say) within `timeout`. `false` when a signal cut the wait
/// short, so that the caller looks at its stop flag: a signal handled with
/// `SA_RESTART`, as signal-hook's are, would not interrupt a read.
pub fn input_ready(timeout: Duration) -> bool {
    use rustix::event::{PollFd, PollFlags, poll};
    let stdin = io::stdin();
    let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
    let timeout = rustix::event::Timespec {
        tv_sec: timeout.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: timeout.subsec_nanos().into(),
    };
    match poll(&mut fds, Some(&timeout)) {
        Ok(0) | Err(rustix::io::Errno::INTR) => false,
        // Ready, hung up or in error; or a poll that failed otherwise, in
        // which case the read reports the problem.
        Ok(_) | Err(_) => true,
    }
}

/// Whether standard output is a pipe or terminal that nobody can read from
/// any more (the reader of `logring tail f | head` exited, the terminal hung
/// up). Asked while idle, so that a command with nothing to write still
/// notices; a write finds out by itself.
pub fn output_closed() -> bool {
    use rustix::event::{PollFd, PollFlags, poll};
    let stdout = io::stdout();
    // No events asked for: error and hang-up are always reported.
    let mut fds = [PollFd::new(&stdout, PollFlags::empty())];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    match poll(&mut fds, Some(&zero)) {
        Ok(0) | Err(_) => false,
        Ok(_) => fds[0].revents().intersects(PollFlags::ERR | PollFlags::HUP),
    }
}

/// Whether a failed write means the output was closed: a clean end, not a
/// failure.
pub fn is_closed_output(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::BrokenPipe
}
