fn main() {
    let id = 42u64;
    logring::info!("order {id} filled at {price}");
}
