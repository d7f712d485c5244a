//! Ways a long-running command is told to stop: Ctrl-C (or `kill`), and an
//! output that nobody reads any more.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};

use crate::Failure;

/// Set by SIGINT or SIGTERM; the command finishes the record in hand and
/// exits. A second signal ends the process at once (status 1), for a
/// command stuck writing to an output that does not drain.
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn install() -> Result<Self, Failure> {
        let flag = Arc::new(AtomicBool::new(false));
        for signal in [SIGINT, SIGTERM] {
            // The conditional shutdown goes first: it acts only once the
            // flag is already set, that is on the second signal.
            signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&flag))
                .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&flag)))
                .map_err(|error| Failure::runtime(format!("cannot handle signals: {error}")))?;
        }
        Ok(Self(flag))
    }

    pub fn requested(&self) -> bool {
        // Relaxed: the flag carries no data; the handler only sets it.
        self.0.load(Ordering::Relaxed)
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
