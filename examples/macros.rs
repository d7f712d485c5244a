//! A process that logs through logring's own macros into a ring file, for
//! `logring tail` (in another process) to format: the calling thread writes
//! a callsite id, a timestamp and the arguments' bytes, nothing more.
//!
//! ```sh
//! cargo run --release --features macros,cli --example macros -- /dev/shm/app.ring 20 100
//! logring tail /dev/shm/app.ring
//! ```
//!
//! Arguments: the ring file (an MPSC ring; created if missing: 256 KiB), how many
//! orders to log, and the pause between two in milliseconds.

use std::error::Error;
use std::time::Duration;

use logring::events::{self, Level};
use logring::file::{Mode, Options, RingFile};

/// Not one of the types an event carries in binary: formatted with its
/// placeholder's spec on the calling thread (the slow path).
#[derive(Debug)]
enum Side {
    Buy,
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: macros PATH [COUNT] [PAUSE_MS]")?;
    let count: u64 = args.next().map_or(Ok(10), |a| a.parse())?;
    let pause = Duration::from_millis(args.next().map_or(Ok(100), |a| a.parse())?);

    // A ring file that exists is used as it is (made by `logring create`,
    // say, at any size); one that does not is created.
    let ring = match RingFile::open(&path) {
        Ok(ring) => ring,
        Err(_) if !std::path::Path::new(&path).exists() => {
            RingFile::open_or_create(&path, Options::new(256 * 1024).mode(Mode::Mpsc))?
        }
        Err(error) => return Err(error.into()),
    };
    events::set_global(ring.mpsc_sender()?)?;
    events::set_max_level(Level::Debug);

    logring::info!("logging {count} orders into {path}");
    for order_id in 0..count {
        let qty = 1 + order_id % 10;
        let px = 101.25 + order_id as f64 / 4.0;
        logring::info!(target: "fills", "order {order_id} filled {qty} of {} at {px:.2} ({:?})", 10, Side::Buy);
        logring::debug!(
            "book {:#x} {:>6.1}%",
            0xBEEFu32 + order_id as u32,
            qty as f32 * 10.0
        );
        if qty == 10 {
            logring::warn!("order {order_id} complete");
        }
        std::thread::sleep(pause);
    }
    logring::info!("done: {} orders", count);
    Ok(())
}
