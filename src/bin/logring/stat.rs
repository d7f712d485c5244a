//! `logring stat`: a ring's state, read from its header and the kernel's
//! locks without attaching anything: the file is opened and mapped
//! read-only, so read permission is enough.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use logring::file::{Mode, RingObserver};

use crate::stop::{self, Stop};
use crate::{Failure, units};

#[derive(clap::Args)]
pub struct Args {
    /// The ring file.
    path: PathBuf,
    /// Print one JSON object (per refresh) instead of a table.
    #[arg(long)]
    json: bool,
    /// Print the state again every second (or --interval) until Ctrl-C.
    #[arg(long)]
    watch: bool,
    /// With --watch: time between refreshes: 1s, 250ms (at least 10ms).
    #[arg(long, value_parser = units::refresh_interval, requires = "watch", default_value = "1s")]
    interval: Duration,
}

/// A snapshot of a ring, as `--json` prints it.
#[derive(serde::Serialize)]
struct Status {
    path: String,
    format: String,
    mode: &'static str,
    capacity: usize,
    max_record_len: usize,
    /// Bytes of consumed records left in place for spies (0: none).
    retain: usize,
    head: u64,
    tail: u64,
    used_bytes: usize,
    fill_percent: f64,
    consumer_attached: bool,
    consumer_pid: Option<u32>,
    producers: usize,
    full_rejections: u64,
    skipped_claims: u64,
    /// The callsite dictionary's size (0: none) and bytes in use.
    dictionary_len: usize,
    dictionary_used: usize,
}

impl Status {
    fn of(ring: &RingObserver) -> Self {
        let (major, minor) = ring.format_version();
        // One reading of each position, head first (it never passes the
        // tail), so that the line adds up while producers and a consumer
        // move them: `used_bytes` is `tail - head` of the same snapshot.
        let (head, tail) = (ring.head(), ring.tail());
        let used = tail.saturating_sub(head).min(ring.capacity() as u64) as usize;
        let pid = ring.consumer_pid();
        Self {
            path: ring.path().display().to_string(),
            format: format!("{major}.{minor}"),
            mode: match ring.mode() {
                Mode::Spsc => "spsc",
                Mode::Mpsc => "mpsc",
            },
            capacity: ring.capacity(),
            max_record_len: ring.max_record_len(),
            retain: ring.retain(),
            head,
            tail,
            used_bytes: used,
            // One decimal, as printed.
            fill_percent: (used as f64 * 1000.0 / ring.capacity() as f64).round() / 10.0,
            consumer_attached: pid.is_some() || ring.consumer_attached(),
            consumer_pid: pid,
            producers: ring.producer_count(),
            full_rejections: ring.full_rejections(),
            skipped_claims: ring.skipped_claims(),
            dictionary_len: ring.dictionary_len(),
            dictionary_used: ring.dictionary_used(),
        }
    }

    fn table(&self) -> String {
        let consumer = match (self.consumer_attached, self.consumer_pid) {
            (_, Some(pid)) => format!("pid {pid}"),
            (true, None) => "attached (pid unknown)".to_owned(),
            (false, None) => "none".to_owned(),
        };
        let rows = [
            ("ring file", self.path.clone()),
            ("format", self.format.clone()),
            ("mode", self.mode.to_uppercase()),
            (
                "capacity",
                format!(
                    "{} bytes ({})",
                    self.capacity,
                    bytesize::ByteSize::b(self.capacity as u64)
                ),
            ),
            ("max record", format!("{} bytes", self.max_record_len)),
            ("retain", self.retain()),
            ("head", self.head.to_string()),
            ("tail", self.tail.to_string()),
            (
                "used",
                format!("{} bytes ({:.1}%)", self.used_bytes, self.fill_percent),
            ),
            ("consumer", consumer),
            ("producers", self.producers.to_string()),
            ("full rejections", self.full_rejections.to_string()),
            ("skipped claims", self.skipped_claims.to_string()),
            ("dictionary", self.dictionary()),
        ];
        rows.iter()
            .map(|(name, value)| format!("{name:<17}{value}\n"))
            .collect()
    }

    /// The retention row: the bytes of consumed records left for spies.
    fn retain(&self) -> String {
        match self.retain {
            0 => "none".to_owned(),
            bytes => format!("{bytes} bytes"),
        }
    }

    /// The dictionary row: its size and how much of it is used.
    fn dictionary(&self) -> String {
        if self.dictionary_len == 0 {
            return "none".to_owned();
        }
        format!(
            "{} of {} bytes used ({}, {:.1}%)",
            self.dictionary_used,
            self.dictionary_len,
            bytesize::ByteSize::b(self.dictionary_len as u64),
            (self.dictionary_used as f64 * 1000.0 / self.dictionary_len as f64).round() / 10.0
        )
    }

    fn render(&self, json: bool) -> String {
        if json {
            // Integers, a float and strings: serialising cannot fail.
            serde_json::to_string(self).expect("a JSON status") + "\n"
        } else {
            self.table()
        }
    }
}

pub fn run(args: Args) -> Result<(), Failure> {
    let ring = RingObserver::open(&args.path)?;
    let mut stdout = io::stdout().lock();
    if !args.watch {
        return print(&mut stdout, &Status::of(&ring).render(args.json)).map(drop);
    }
    let stop = Stop::install()?;
    // On a terminal the table is redrawn in place; elsewhere (a file, a
    // pipe) each refresh follows the last, JSON one object per line.
    let redraw = !args.json && io::stdout().is_terminal();
    let mut first = true;
    loop {
        // A file truncated since the last look would fault when read: look
        // at its length first, and stop with the error if it changed.
        ring.check_len()?;
        let mut text = Status::of(&ring).render(args.json);
        if redraw {
            text.insert_str(0, "\x1b[H\x1b[2J");
        } else if !args.json && !first {
            text.insert(0, '\n');
        }
        first = false;
        if !print(&mut stdout, &text)? {
            return Ok(());
        }
        let next = Instant::now() + args.interval;
        while let Some(left) = next.checked_duration_since(Instant::now()) {
            if stop.requested() || stop::output_closed() {
                return Ok(());
            }
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
        if stop.requested() {
            return Ok(());
        }
    }
}

/// Writes `text`: `false` if the output was closed, which ends the command
/// cleanly.
fn print(stdout: &mut impl Write, text: &str) -> Result<bool, Failure> {
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(true),
        Err(error) if stop::is_closed_output(&error) => Ok(false),
        Err(error) => Err(Failure::runtime(format!(
            "cannot write the output: {error}"
        ))),
    }
}
