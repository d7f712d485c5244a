fn main() {
    let (px, width) = (101.25f64, 8i32);
    logring::info!("filled at {:>1$}", px, width);
}
