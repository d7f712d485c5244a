fn main() {
    let px = 101.25f64;
    logring::info!("filled at {px:>width$}", wdth = 8);
}
