//! Consume throughput of one group member (the `kafka-std` adapter):
//! `cargo run --release -p kafka-std --example bench_consume -- HOST:PORT GROUP TOPIC COUNT
//! [SECONDS]`. Joins GROUP (fresh, from the earliest offset), counts messages and key + value
//! bytes until COUNT arrived, and prints one JSON line: time to the first assignment, time from
//! the first message to the last, messages per second and MB/s over that span.
use core::time::Duration;
use std::time::Instant;

use group_fsm::assignor::RangeAssignor;
use kafka_client::net::{NetConfig, parse_version_caps};
use kafka_client::{Consumer, ConsumerConfig, ConsumerEvent};
use kafka_std::Driver;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: bench_consume HOST:PORT GROUP TOPIC COUNT [SECONDS]");
        std::process::exit(2);
    }
    let (host, port) = args[0].rsplit_once(':').expect("HOST:PORT");
    let count: u64 = args[3].parse().expect("COUNT");
    let seconds: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(120);
    let mut net = NetConfig::new(vec![(host.to_owned(), port.parse().expect("port"))]);
    if let Ok(caps) = std::env::var("KAFKA_VERSION_CAPS") {
        net.version_caps = parse_version_caps(&caps).expect("KAFKA_VERSION_CAPS");
    }
    let mut group = group_fsm::Config::new(args[1].as_str());
    group.session_timeout = Duration::from_secs(6);
    group.heartbeat_interval = Duration::from_secs(1);
    let config = ConsumerConfig {
        net,
        group,
        topics: vec![args[2].clone()],
        fetch: kafka_client::fetch::FetchConfig {
            reset: kafka_client::fetch::ResetPolicy::Earliest,
            ..Default::default()
        },
    };
    let mut driver = Driver::new(|now| Consumer::new(config, vec![Box::new(RangeAssignor)], now));
    let start = Instant::now();
    let stop = start + Duration::from_secs(seconds);
    let (mut n, mut bytes) = (0u64, 0u64);
    let (mut assigned_at, mut first, mut last) = (None, None, start);
    while n < count {
        let Some(event) = driver.next_event(Some(stop)) else {
            break;
        };
        match event {
            ConsumerEvent::Message(r) => {
                if first.is_none() {
                    first = Some(Instant::now());
                }
                n += 1;
                bytes +=
                    r.key.map_or(0, |k| k.len() as u64) + r.value.map_or(0, |v| v.len() as u64);
                last = Instant::now();
            }
            ConsumerEvent::Assigned { .. } if assigned_at.is_none() => {
                assigned_at = Some(start.elapsed().as_secs_f64());
            }
            ConsumerEvent::Warning(w) | ConsumerEvent::Fatal(w) => eprintln!("{w}"),
            _ => {}
        }
    }
    let span = first.map_or(0.0, |f| last.duration_since(f).as_secs_f64());
    println!(
        "{{\"client\":\"kafka-std\",\"messages\":{n},\"bytes\":{bytes},\"assigned_s\":{:.3},\"span_s\":{span:.3},\"msgs_per_s\":{:.0},\"mb_per_s\":{:.2}}}",
        assigned_at.unwrap_or(-1.0),
        n as f64 / span.max(1e-9),
        bytes as f64 / span.max(1e-9) / 1e6,
    );
    driver.close(Duration::from_secs(5));
}
