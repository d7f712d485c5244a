fn main() {
    let bytes = [1u8, 2];
    logring::info!("bytes {:?x}", bytes);
}
