//! Every form of the format syntax, through every level macro.

use std::fmt;

struct Opaque(u32);

impl fmt::Display for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&format!("opaque#{}", self.0))
    }
}

impl fmt::Debug for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Opaque").field(&self.0).finish()
    }
}

fn main() {
    let (id, px, qty) = (42u64, 101.25f64, 3u8);
    let (w, p) = (8usize, 2usize);
    let name = "fills";
    let owned = String::from("owned");
    let bytes = [1u8, 2, 0xff];
    let opaque = Opaque(7);

    // No arguments; literal braces; escapes and raw strings.
    logring::info!("started");
    logring::info!("{{literal}} braces }}{{");
    logring::info!("tab\there \u{e9} \"quoted\"\n");
    logring::info!(r#"raw "{}" string"#, id);
    logring::info!("trailing comma {}", id,);

    // Positions: implicit, explicit, named, captured, mixed.
    logring::trace!("order {} filled at {}", id, px);
    logring::debug!("{1} {0} {}", id, px);
    logring::warn!("{id} at {px} x{qty}");
    logring::error!("{} {price} {qty}", id, price = px);
    logring::info!("{0} {n} {0:?} {n:>6}", name, n = qty);

    // Fill, alignment, sign, '#', '0', width, precision, every type.
    logring::info!("[{:<8}] [{:^8}] [{:>8}] [{:*^9}] [{:}>4}] [{:{<4}]", id, name, px, qty, id, id);
    logring::info!("{:+} {:-} {:+#010x} {:05} {:<+#012.3e}", px, id, id, qty, px);
    logring::info!("{:?} {:x?} {:X?} {:x} {:X} {:o} {:b} {:e} {:E} {:#?}", name, bytes, bytes, id, id, qty, qty, px, px, opaque);
    logring::info!("{:p} {0:>20p}", &id);

    // Widths and precisions from arguments: N$, name$, .*, captured.
    logring::info!("{:1$}|{0:>1$}", id, w);
    logring::info!("{:.*}|{1:.0$e}", p, px);
    logring::info!("{:>w$.p$}|{:0w$}", px, qty, w = w, p = p);
    logring::info!("{px:w$.p$} {id:0$}", w);
    logring::info!("{:.prec$}", px, prec = 3);

    // The same argument shown with several specs (hidden slots).
    logring::info!("{0} {0:?} {0:>6} {0:?} {0}", name);

    // Arguments of every kind of expression, each evaluated once.
    let mut calls = 0;
    let mut next = || {
        calls += 1;
        calls
    };
    logring::info!("{} {}", next(), Vec::<u8>::with_capacity(4).len());
    logring::info!("{:?}", [1, 2, 3].iter().map(|x| x * 2).collect::<Vec<_>>());
    logring::info!("{}", if px > 100.0 { "high" } else { "low" });
    logring::info!("{} {}", owned, opaque);
    assert_eq!(calls, 1);

    // An argument that moves a value, and one from a block.
    logring::info!("{}", String::from(owned));
    logring::info!("{}", { let v = 2; v * 21 });

    // Targets: a literal, a constant.
    const TARGET: &str = "fills";
    logring::info!(target: "fills", "order {id} filled");
    logring::info!(target: TARGET, "order {} filled", id);
    logring::info!(target: concat!("a", "b"), "plain");

    // In expression position.
    let unit: () = logring::info!("done");
    unit
}
