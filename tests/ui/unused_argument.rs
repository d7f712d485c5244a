fn main() {
    let (id, px) = (42u64, 101.25f64);
    logring::info!("order {} filled", id, px);
}
