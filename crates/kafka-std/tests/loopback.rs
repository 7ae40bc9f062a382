//! The blocking adapter over real loopback sockets against testkit's model broker: three
//! members form a group, split the partitions exactly once, and a member that closes hands its
//! partitions to the others.

use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use group_fsm::assignor::CooperativeStickyAssignor;
use kafka_client::net::NetConfig;
use kafka_client::{Consumer, ConsumerConfig, ConsumerEvent};
use kafka_std::Driver;
use testkit::BrokerConfig;
use testkit::tcp::TcpBroker;

const PARTITIONS: i32 = 6;

type Owned = Arc<Mutex<Vec<BTreeSet<i32>>>>;

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

fn spawn_member(
    i: usize,
    addr: core::net::SocketAddr,
    owned: Owned,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<bool> {
    thread::spawn(move || {
        let mut group = group_fsm::Config::new("loop-group");
        group.client_id = format!("std-{i}");
        group.session_timeout = Duration::from_secs(6);
        group.heartbeat_interval = Duration::from_millis(500);
        let config = ConsumerConfig {
            net: NetConfig::new(vec![(addr.ip().to_string(), addr.port())]),
            group,
            topics: vec!["orders".into()],
            fetch: Default::default(),
        };
        let mut driver = Driver::new(|now| {
            Consumer::new(
                config,
                vec![Box::new(CooperativeStickyAssignor::default())],
                now,
            )
        });
        let give_up = Instant::now() + Duration::from_secs(60);
        while !stop.load(Ordering::Relaxed) && Instant::now() < give_up {
            let Some(event) = driver.next_event(Some(Instant::now() + Duration::from_millis(100)))
            else {
                continue;
            };
            let mut o = owned.lock().unwrap();
            match event {
                ConsumerEvent::Assigned { partitions, .. } => {
                    o[i].extend(partitions.iter().map(|p| p.partition));
                }
                ConsumerEvent::Revoked { partitions, .. } | ConsumerEvent::Lost { partitions } => {
                    for p in &partitions {
                        o[i].remove(&p.partition);
                    }
                }
                ConsumerEvent::Fatal(e) => panic!("member {i}: {e}"),
                _ => {}
            }
        }
        let before = owned.lock().unwrap()[i].clone();
        let mut leaving = Vec::new();
        let clean = driver.close_with(Duration::from_secs(5), |e| leaving.push(e));
        check_close_events(i, &before, &leaving);
        owned.lock().unwrap()[i].clear();
        clean
    })
}

/// Waits (bounded) until the live members' sets split 0..PARTITIONS exactly, each non-empty,
/// unchanged for a second.
fn settle(owned: &Owned, live: &[usize]) -> Result<Vec<BTreeSet<i32>>, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last: Option<(Vec<BTreeSet<i32>>, Instant)> = None;
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
            (_, true) => last = Some((snap.clone(), Instant::now())),
            _ => last = None,
        }
        if Instant::now() > deadline {
            return Err(format!("not settled: {snap:?}"));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn three_std_members_split_and_hand_over() {
    let config = BrokerConfig {
        initial_rebalance_delay_ms: 300,
        ..BrokerConfig::default()
    };
    let broker = TcpBroker::start(config, &[("orders", PARTITIONS)]).unwrap();
    let owned: Owned = Arc::new(Mutex::new(vec![BTreeSet::new(); 3]));
    let stops: Vec<Arc<AtomicBool>> = (0..3).map(|_| Arc::new(AtomicBool::new(false))).collect();
    let handles: Vec<_> = (0..3)
        .map(|i| spawn_member(i, broker.addr(), Arc::clone(&owned), Arc::clone(&stops[i])))
        .collect();
    let split = settle(&owned, &[0, 1, 2]).unwrap();
    assert!(split.iter().all(|s| s.len() == 2), "{split:?}");
    // Member 2 leaves cleanly (LeaveGroup): the other two take its partitions.
    stops[2].store(true, Ordering::Relaxed);
    let mut handles = handles.into_iter();
    let (h0, h1, h2) = (
        handles.next().unwrap(),
        handles.next().unwrap(),
        handles.next().unwrap(),
    );
    assert!(h2.join().unwrap(), "member 2 closed cleanly");
    let after = settle(&owned, &[0, 1]).unwrap();
    assert!(after.iter().all(|s| s.len() == 3), "{after:?}");
    // Cooperative stickiness: the survivors kept what they had.
    assert!(split[0].is_subset(&after[0]) && split[1].is_subset(&after[1]));
    for s in &stops {
        s.store(true, Ordering::Relaxed);
    }
    assert!(h0.join().unwrap() && h1.join().unwrap());
    let model = broker.stop().expect("broker thread");
    assert!(model.errors().is_empty(), "{:?}", model.errors());
}
