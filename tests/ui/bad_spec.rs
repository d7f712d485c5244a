fn main() {
    let id = 42u64;
    logring::info!("order {:d}", id);
}
