fn main() {
    logring::info!(target: "fills");
}
