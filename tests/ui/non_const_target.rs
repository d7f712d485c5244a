fn main() {
    let target = String::from("fills");
    logring::info!(target: &target, "order filled");
}
