//! A process that logs through `tracing` into a ring file, for `logring tail`
//! (in another process) to decode.
//!
//! ```sh
//! cargo run --release --features tracing,cli --example tracing -- /dev/shm/app.ring 20 100
//! logring tail /dev/shm/app.ring --format text
//! ```
//!
//! Arguments: the ring file (an MPSC ring; created if missing: 256 KiB), how many
//! orders to log, and the pause between two in milliseconds.

use std::error::Error;
use std::time::Duration;

use logring::file::{Mode, Options, RingFile};
use tracing_subscriber::prelude::*;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: tracing PATH [COUNT] [PAUSE_MS]")?;
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
    tracing_subscriber::registry()
        .with(logring::tracing::Layer::new(ring.mpsc_sender()?))
        .init();

    let session = tracing::info_span!("session", user = "ada", desk = 7u64);
    let _entered = session.enter();
    tracing::info!(path = %path, "logging {count} orders");
    for order_id in 0..count {
        let qty = 1 + order_id % 10;
        let span = tracing::debug_span!("order", order_id);
        let _order = span.enter();
        tracing::info!(
            order_id,
            px = 101.25,
            side = "buy",
            "filled {} of {}",
            qty,
            10
        );
        if qty == 10 {
            tracing::warn!(order_id, "order complete");
        }
        std::thread::sleep(pause);
    }
    tracing::info!(orders = count, "done");
    Ok(())
}
