fn main() {
    let format = "order {}";
    logring::info!(format, 42u64);
}
