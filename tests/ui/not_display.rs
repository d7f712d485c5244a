struct Order;

fn main() {
    let order = Order;
    logring::info!("order {}", order);
}
