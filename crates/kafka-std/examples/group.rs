//! Joins a consumer group and prints what happens: `cargo run -p kafka-std --example group --
//! 127.0.0.1:9092 my-group my-topic [seconds]` (`KAFKA_VERSION_CAPS=librdkafka-mock` against
//! librdkafka's mock broker).
use core::time::Duration;
use std::time::Instant;

use group_fsm::assignor::CooperativeStickyAssignor;
use kafka_client::net::NetConfig;
use kafka_client::{Consumer, ConsumerConfig};
use kafka_std::Driver;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(bootstrap), Some(group), Some(topic)) = (args.first(), args.get(1), args.get(2))
    else {
        eprintln!("usage: group HOST:PORT GROUP TOPIC [SECONDS]");
        std::process::exit(2);
    };
    let seconds: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(20);
    let Some((host, port)) = bootstrap.rsplit_once(':') else {
        eprintln!("bootstrap must be HOST:PORT");
        std::process::exit(2);
    };
    let port: u16 = port.parse().unwrap_or(9092);
    let mut group_config = group_fsm::Config::new(group.as_str());
    group_config.session_timeout = Duration::from_secs(6);
    group_config.heartbeat_interval = Duration::from_secs(1);
    let mut net = NetConfig::new(vec![(host.to_owned(), port)]);
    if let Ok(caps) = std::env::var("KAFKA_VERSION_CAPS") {
        net.version_caps = kafka_client::net::parse_version_caps(&caps).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2);
        });
    }
    let config = ConsumerConfig {
        net,
        group: group_config,
        topics: vec![topic.clone()],
        fetch: Default::default(),
    };
    let mut driver = Driver::new(|now| {
        Consumer::new(
            config,
            vec![Box::new(CooperativeStickyAssignor::default())],
            now,
        )
    });
    let start = Instant::now();
    let stop = start + Duration::from_secs(seconds);
    while let Some(event) = driver.next_event(Some(stop)) {
        println!("{:>7.3}s {event:?}", start.elapsed().as_secs_f64());
    }
    if std::env::var_os("KAFKA_DEBUG").is_some() {
        eprintln!(
            "state {:?}: {:?}",
            driver.consumer().member().state(),
            driver.consumer()
        );
    }
    let clean = driver.close(Duration::from_secs(5));
    println!(
        "{:>7.3}s closed cleanly: {clean}",
        start.elapsed().as_secs_f64()
    );
}
