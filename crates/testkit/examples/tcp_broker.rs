//! Runs the model broker on loopback for a while: `cargo run -p testkit --example tcp_broker --
//! SECONDS TOPIC:PARTITIONS…`; prints its address, then its errors and groups at the end.
use core::time::Duration;

use testkit::BrokerConfig;
use testkit::tcp::TcpBroker;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(10);
    let topics: Vec<(String, i32)> = args
        .iter()
        .skip(1)
        .filter_map(|t| {
            let (n, p) = t.split_once(':')?;
            Some((n.to_owned(), p.parse().ok()?))
        })
        .collect();
    let refs: Vec<(&str, i32)> = topics.iter().map(|(n, p)| (n.as_str(), *p)).collect();
    let broker = TcpBroker::start(BrokerConfig::default(), &refs).expect("bind");
    println!("{}", broker.addr());
    std::thread::sleep(Duration::from_secs(seconds));
    let model = broker.stop().expect("broker thread");
    println!("errors: {:?}", model.errors());
    println!("groups: {:?}", model.group_ids());
}
