//! The tokio adapter over real loopback sockets against testkit's model broker: two tokio
//! members and one blocking (`kafka-std`) member form one group and split the partitions
//! exactly once; when a tokio member closes, the others take its partitions.

use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use group_fsm::assignor::CooperativeStickyAssignor;
use kafka_client::net::NetConfig;
use kafka_client::{Consumer, ConsumerConfig, ConsumerEvent};
use testkit::BrokerConfig;
use testkit::tcp::TcpBroker;

const PARTITIONS: i32 = 6;

type Owned = Arc<Mutex<Vec<BTreeSet<i32>>>>;

fn config(i: usize, addr: core::net::SocketAddr) -> ConsumerConfig {
    let mut group = group_fsm::Config::new("mixed-group");
    group.client_id = format!("m{i}");
    group.session_timeout = Duration::from_secs(6);
    group.heartbeat_interval = Duration::from_millis(500);
    ConsumerConfig {
        net: NetConfig::new(vec![(addr.ip().to_string(), addr.port())]),
        group,
        topics: vec!["orders".into()],
        fetch: Default::default(),
    }
}

/// What a closing member must report on its way out: the revocation of exactly what it owned
/// (the positions are committed first), then `Closed` last.
fn check_close_events(i: usize, owned_before: &BTreeSet<i32>, leaving: &[ConsumerEvent]) {
    let revoked: BTreeSet<i32> = leaving
        .iter()
        .filter_map(|e| match e {
            ConsumerEvent::Revoked { partitions, .. } => Some(partitions),
            _ => None,
        })
        .flatten()
        .map(|p| p.partition)
        .collect();
    assert_eq!(
        &revoked, owned_before,
        "member {i}: close revokes what it owned: {leaving:?}"
    );
    assert!(
        matches!(leaving.last(), Some(ConsumerEvent::Closed)),
        "member {i}: Closed comes last: {leaving:?}"
    );
}

fn record(owned: &Owned, i: usize, event: &ConsumerEvent) {
    let mut o = owned.lock().unwrap();
    match event {
        ConsumerEvent::Assigned { partitions, .. } => {
            o[i].extend(partitions.iter().map(|p| p.partition));
        }
        ConsumerEvent::Revoked { partitions, .. } | ConsumerEvent::Lost { partitions } => {
            for p in partitions {
                o[i].remove(&p.partition);
            }
        }
        ConsumerEvent::Fatal(e) => panic!("member {i}: {e}"),
        _ => {}
    }
}

async fn tokio_member(
    i: usize,
    addr: core::net::SocketAddr,
    owned: Owned,
    stop: Arc<AtomicBool>,
) -> bool {
    let config = config(i, addr);
    let mut driver = kafka_tokio::Driver::new(|now| {
        Consumer::new(
            config,
            vec![Box::new(CooperativeStickyAssignor::default())],
            now,
        )
    });
    let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
    while !stop.load(Ordering::Relaxed) && tokio::time::Instant::now() < give_up {
        let tick = tokio::time::Instant::now() + Duration::from_millis(100);
        if let Some(event) = driver.next_event(Some(tick)).await {
            record(&owned, i, &event);
        }
    }
    let before = owned.lock().unwrap()[i].clone();
    let mut leaving = Vec::new();
    let clean = driver
        .close_with(Duration::from_secs(5), |e| leaving.push(e))
        .await;
    check_close_events(i, &before, &leaving);
    owned.lock().unwrap()[i].clear();
    clean
}

fn std_member(i: usize, addr: core::net::SocketAddr, owned: Owned, stop: Arc<AtomicBool>) -> bool {
    let config = config(i, addr);
    let mut driver = kafka_std::Driver::new(|now| {
        Consumer::new(
            config,
            vec![Box::new(CooperativeStickyAssignor::default())],
            now,
        )
    });
    let give_up = std::time::Instant::now() + Duration::from_secs(60);
    while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < give_up {
        let tick = std::time::Instant::now() + Duration::from_millis(100);
        if let Some(event) = driver.next_event(Some(tick)) {
            record(&owned, i, &event);
        }
    }
    let before = owned.lock().unwrap()[i].clone();
    let mut leaving = Vec::new();
    let clean = driver.close_with(Duration::from_secs(5), |e| leaving.push(e));
    check_close_events(i, &before, &leaving);
    owned.lock().unwrap()[i].clear();
    clean
}

async fn settle(owned: &Owned, live: &[usize]) -> Result<Vec<BTreeSet<i32>>, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut last: Option<(Vec<BTreeSet<i32>>, tokio::time::Instant)> = None;
    loop {
        let snap: Vec<BTreeSet<i32>> = {
            let o = owned.lock().unwrap();
            live.iter().map(|&i| o[i].clone()).collect()
        };
        let total: usize = snap.iter().map(BTreeSet::len).sum();
        let union: BTreeSet<i32> = snap.iter().flatten().copied().collect();
        let ok = total == PARTITIONS as usize
            && union == (0..PARTITIONS).collect()
            && snap.iter().all(|s| !s.is_empty());
        match (&last, ok) {
            (Some((prev, since)), true) if *prev == snap => {
                if since.elapsed() >= Duration::from_secs(1) {
                    return Ok(snap);
                }
            }
            (_, true) => last = Some((snap.clone(), tokio::time::Instant::now())),
            _ => last = None,
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("not settled: {snap:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_and_std_members_share_a_group() {
    let config = BrokerConfig {
        initial_rebalance_delay_ms: 300,
        ..BrokerConfig::default()
    };
    let broker = TcpBroker::start(config, &[("orders", PARTITIONS)]).unwrap();
    let addr = broker.addr();
    let owned: Owned = Arc::new(Mutex::new(vec![BTreeSet::new(); 3]));
    let stops: Vec<Arc<AtomicBool>> = (0..3).map(|_| Arc::new(AtomicBool::new(false))).collect();
    let t0 = tokio::spawn(tokio_member(
        0,
        addr,
        Arc::clone(&owned),
        Arc::clone(&stops[0]),
    ));
    let t1 = tokio::spawn(tokio_member(
        1,
        addr,
        Arc::clone(&owned),
        Arc::clone(&stops[1]),
    ));
    let (o2, s2) = (Arc::clone(&owned), Arc::clone(&stops[2]));
    let s = std::thread::spawn(move || std_member(2, addr, o2, s2));
    let split = settle(&owned, &[0, 1, 2]).await.unwrap();
    assert!(split.iter().all(|s| s.len() == 2), "{split:?}");
    stops[1].store(true, Ordering::Relaxed);
    assert!(t1.await.unwrap(), "tokio member 1 closed cleanly");
    let after = settle(&owned, &[0, 2]).await.unwrap();
    assert!(after.iter().all(|s| s.len() == 3), "{after:?}");
    assert!(split[0].is_subset(&after[0]) && split[2].is_subset(&after[1]));
    for s in &stops {
        s.store(true, Ordering::Relaxed);
    }
    assert!(t0.await.unwrap());
    assert!(s.join().unwrap());
    let model = broker.stop().expect("broker thread");
    assert!(model.errors().is_empty(), "{:?}", model.errors());
}
