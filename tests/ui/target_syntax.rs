fn main() {
    logring::info!(target = "fills", "order filled");
}
