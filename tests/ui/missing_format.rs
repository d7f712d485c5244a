fn main() {
    logring::info!();
}
