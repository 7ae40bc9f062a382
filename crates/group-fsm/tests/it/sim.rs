//! Randomized simulation: schedules of joins, leaves, crashes, subscription changes and
//! injected broker errors; invariants checked after every step; convergence once faults stop.

use std::collections::BTreeMap;

use group_fsm::StateKind;
use kafka_wire::ApiKey;
use kafka_wire::error_code::ErrorCode;
use proptest::prelude::*;

use testkit::world::World;

const TOPICS: &[(&str, i32)] = &[("a", 7), ("b", 5)];

#[derive(Debug, Clone)]
enum Op {
    Join {
        both_topics: bool,
    },
    Leave(usize),
    Crash(usize),
    Resubscribe(usize, bool),
    Inject(ApiKey, i16),
    Wait(u64),
    /// Member consumes: its position on every owned partition moves past the committed offset.
    Consume(usize, i64),
    /// Member's connections are cut (it reconnects).
    Disconnect(usize),
    /// The app stops polling for a while (may exceed max.poll.interval = 30 s).
    Pause(usize, u64),
}

/// Which members a schedule runs: classic (eager range or cooperative) or KIP-848 with a
/// server assignor (`None`: the broker's default).
#[derive(Debug, Clone, Copy)]
enum Mode {
    Eager,
    Cooperative,
    Consumer(Option<&'static str>),
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::Consumer(None)),
        Just(Mode::Consumer(Some("uniform"))),
        Just(Mode::Consumer(Some("range"))),
    ]
}

/// Errors injected into a KIP-848 group's requests.
fn consumer_op() -> impl Strategy<Value = Op> {
    let errors = prop::sample::select(vec![
        (ApiKey::ConsumerGroupHeartbeat, ErrorCode::NOT_COORDINATOR.0),
        (
            ApiKey::ConsumerGroupHeartbeat,
            ErrorCode::COORDINATOR_NOT_AVAILABLE.0,
        ),
        (
            ApiKey::ConsumerGroupHeartbeat,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.0,
        ),
        (
            ApiKey::ConsumerGroupHeartbeat,
            ErrorCode::FENCED_MEMBER_EPOCH.0,
        ),
        (
            ApiKey::ConsumerGroupHeartbeat,
            ErrorCode::UNKNOWN_MEMBER_ID.0,
        ),
        (
            ApiKey::FindCoordinator,
            ErrorCode::COORDINATOR_NOT_AVAILABLE.0,
        ),
        (ApiKey::OffsetCommit, ErrorCode::STALE_MEMBER_EPOCH.0),
        (ApiKey::OffsetCommit, ErrorCode::NOT_COORDINATOR.0),
    ]);
    prop_oneof![
        6 => op(),
        2 => errors.prop_map(|(k, e)| Op::Inject(k, e)),
    ]
    .prop_map(|o| match o {
        // Classic-only APIs are never sent by KIP-848 members: their injections would sit
        // unused, so turn them into waits.
        Op::Inject(ApiKey::Heartbeat | ApiKey::JoinGroup | ApiKey::SyncGroup, _) => Op::Wait(1_000),
        o => o,
    })
}

fn op() -> impl Strategy<Value = Op> {
    let errors = prop::sample::select(vec![
        (ApiKey::Heartbeat, ErrorCode::REBALANCE_IN_PROGRESS.0),
        (ApiKey::Heartbeat, ErrorCode::NOT_COORDINATOR.0),
        (ApiKey::Heartbeat, ErrorCode::UNKNOWN_MEMBER_ID.0),
        (ApiKey::Heartbeat, ErrorCode::ILLEGAL_GENERATION.0),
        (ApiKey::JoinGroup, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.0),
        (ApiKey::JoinGroup, ErrorCode::REBALANCE_IN_PROGRESS.0),
        (ApiKey::SyncGroup, ErrorCode::REBALANCE_IN_PROGRESS.0),
        (ApiKey::SyncGroup, ErrorCode::NOT_COORDINATOR.0),
        (
            ApiKey::FindCoordinator,
            ErrorCode::COORDINATOR_NOT_AVAILABLE.0,
        ),
        (ApiKey::OffsetCommit, ErrorCode::REBALANCE_IN_PROGRESS.0),
    ]);
    prop_oneof![
        4 => any::<bool>().prop_map(|b| Op::Join { both_topics: b }),
        1 => (0usize..20).prop_map(Op::Leave),
        1 => (0usize..20).prop_map(Op::Crash),
        1 => (0usize..20, any::<bool>()).prop_map(|(i, b)| Op::Resubscribe(i, b)),
        2 => errors.prop_map(|(k, e)| Op::Inject(k, e)),
        3 => (100u64..15_000).prop_map(Op::Wait),
        2 => (0usize..20, 1i64..50).prop_map(|(i, k)| Op::Consume(i, k)),
        1 => (0usize..20).prop_map(Op::Disconnect),
        1 => (0usize..20, 1_000u64..45_000).prop_map(|(i, ms)| Op::Pause(i, ms)),
    ]
}

fn live(w: &World) -> Vec<usize> {
    (0..w.members.len())
        .filter(|&i| {
            w.members[i].alive
                && !matches!(
                    w.members[i].member.state(),
                    StateKind::Closed | StateKind::Failed
                )
        })
        .collect()
}

/// Runs `ms` of virtual time, checking after every step that committed offsets never move
/// backwards (the app only ever commits positions past the committed offset).
fn run_checked(w: &mut World, ms: u64, committed: &mut BTreeMap<(String, i32), i64>) {
    let until = w.now + ms;
    w.run_until(until, |w| {
        w.check_invariants();
        for (t, n) in TOPICS {
            for p in 0..*n {
                if let Some(c) = w.broker.committed("g", t, p) {
                    let prev = committed.insert(((*t).to_string(), p), c);
                    assert!(
                        prev.is_none_or(|x| x <= c),
                        "t={} {t}-{p} committed went back: {prev:?} -> {c}\n{}",
                        w.now,
                        w.log.join("\n")
                    );
                }
            }
        }
    });
}

fn run(seed_ops: &[Op], latency: u64, mode: Mode) {
    let mut committed: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let mut positions: BTreeMap<(usize, group_fsm::assignor::TopicPartition), i64> =
        BTreeMap::new();
    // KIP-848: the broker sets session timeout and heartbeat interval; the same values as the
    // classic members' configuration.
    let broker = testkit::BrokerConfig {
        consumer_session_timeout_ms: 10_000,
        consumer_heartbeat_interval_ms: 3_000,
        ..testkit::BrokerConfig::default()
    };
    let mut w = World::with_broker(broker, TOPICS);
    w.latency = latency;
    let join = |w: &mut World, topics: &[&str]| {
        let i = w.members.len();
        if let Mode::Consumer(assignor) = mode {
            w.add_consumer_member("g", topics, assignor);
        } else if matches!(mode, Mode::Cooperative) {
            w.add_member_with(
                World::config("g", i),
                vec![Box::new(testkit::assignors::Cooperative::new(Box::new(
                    group_fsm::assignor::RangeAssignor,
                )))],
                topics,
            );
        } else {
            w.add_member("g", topics);
        }
    };
    for op in seed_ops {
        match op {
            Op::Join { both_topics } => {
                if live(&w).len() < 20 {
                    let topics: &[&str] = if *both_topics { &["a", "b"] } else { &["a"] };
                    join(&mut w, topics);
                }
            }
            Op::Leave(i) => {
                let l = live(&w);
                if !l.is_empty() {
                    w.close(l[i % l.len()]);
                }
            }
            Op::Crash(i) => {
                let l = live(&w);
                if !l.is_empty() {
                    w.crash(l[i % l.len()]);
                }
            }
            Op::Resubscribe(i, both) => {
                let l = live(&w);
                if !l.is_empty() {
                    let topics: Vec<String> = if *both {
                        vec!["a".into(), "b".into()]
                    } else {
                        vec!["b".into()]
                    };
                    w.handle(l[i % l.len()], group_fsm::Input::Subscribe(topics));
                }
            }
            Op::Inject(k, e) => w.broker.inject_error(*k, *e, 1),
            Op::Wait(ms) => run_checked(&mut w, *ms, &mut committed),
            Op::Consume(i, k) => {
                let l = live(&w);
                if !l.is_empty() {
                    let i = l[i % l.len()];
                    let owned = w.members[i].member.assignment().to_vec();
                    let new_positions: Vec<group_fsm::Offset> = owned
                        .iter()
                        .map(|tp| {
                            // The app resumes from its own position or the committed offset,
                            // whichever is further (a commit may still be in flight).
                            let committed = w
                                .broker
                                .committed("g", &tp.topic, tp.partition)
                                .unwrap_or(0);
                            let own = positions.get(&(i, tp.clone())).copied().unwrap_or(0);
                            let next = own.max(committed) + k;
                            positions.insert((i, tp.clone()), next);
                            group_fsm::Offset::new(tp.clone(), next)
                        })
                        .collect();
                    w.handle(i, group_fsm::Input::Positions(new_positions));
                }
            }
            Op::Disconnect(i) => {
                let l = live(&w);
                if !l.is_empty() {
                    w.disconnect(l[i % l.len()]);
                }
            }
            Op::Pause(i, ms) => {
                let l = live(&w);
                if !l.is_empty() {
                    let i = l[i % l.len()];
                    w.members[i].paused_until = w.now + ms;
                }
            }
        }
        w.check_invariants();
    }
    // Faults stop: within two session timeouts plus a few rebalances the group converges.
    if live(&w).is_empty() {
        return;
    }
    for m in &mut w.members {
        m.paused_until = 0;
    }
    let deadline = w.now + 120_000;
    while w.now < deadline {
        run_checked(&mut w, 1_000, &mut committed);
        if converged(&w) {
            return;
        }
    }
    let states: Vec<_> = (0..w.members.len())
        .map(|i| {
            let m = &w.members[i];
            (
                i,
                m.alive,
                m.member.state(),
                m.member.consumer_state(),
                m.member.assignment().len(),
            )
        })
        .collect();
    panic!(
        "no convergence by t={}\n{}\nmembers: {states:?}\nbroker: {:?}",
        w.now,
        w.log.join("\n"),
        w.broker.consumer_group("g")
    );
}

/// Every partition of the topics some live member subscribes to is owned exactly once.
fn converged(w: &World) -> bool {
    let l = live(w);
    if l.iter()
        .any(|&i| w.members[i].member.state() != StateKind::Stable)
    {
        return false;
    }
    let subscribed: std::collections::BTreeSet<String> = l
        .iter()
        .flat_map(|&i| w.members[i].topics.iter().cloned())
        .collect();
    let mut owned = BTreeMap::new();
    for &i in &l {
        for tp in w.members[i].member.assignment() {
            *owned.entry(tp.clone()).or_insert(0) += 1;
        }
    }
    if owned.values().any(|&c| c != 1) {
        return false;
    }
    // Each subscribed topic fully owned.
    TOPICS
        .iter()
        .filter(|(t, _)| subscribed.contains(*t))
        .all(|(t, n)| {
            (0..*n).all(|p| owned.contains_key(&group_fsm::assignor::TopicPartition::new(*t, p)))
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, max_shrink_iters: 200, .. ProptestConfig::default() })]

    #[test]
    fn random_schedules_keep_invariants_and_converge(
        ops in prop::collection::vec(op(), 1..30),
        latency in 0u64..20,
        cooperative in any::<bool>(),
    ) {
        run(&ops, latency, if cooperative { Mode::Cooperative } else { Mode::Eager });
    }
}

proptest! {
    // KIP-848 members. World::check_invariants (every step) covers: no partition used by two
    // live members at once, and a member only uses partitions the broker holds for it; the
    // World also checks at every Revoke that the member gives up no partition the broker lets
    // it keep. After the faults stop, every subscribed partition has exactly one owner within
    // 120 s of virtual time.
    #![proptest_config(ProptestConfig { cases: KIP848_CASES, max_shrink_iters: 200, .. ProptestConfig::default() })]

    #[test]
    fn random_kip848_schedules_keep_invariants_and_converge(
        ops in prop::collection::vec(consumer_op(), 1..30),
        latency in 0u64..20,
        mode in mode(),
    ) {
        run(&ops, latency, mode);
    }
}

/// Cases of the KIP-848 simulation.
const KIP848_CASES: u32 = 2000;

#[test]
fn regression_leader_disconnected_then_resubscribed() {
    use Op::*;
    let ops = vec![
        Join { both_topics: false },
        Join { both_topics: false },
        Wait(6152),
        Wait(2947),
        Disconnect(14),
        Join { both_topics: false },
        Inject(ApiKey::Heartbeat, 16),
        Resubscribe(3, false),
        Leave(10),
        Join { both_topics: false },
    ];
    run(&ops, 10, Mode::Eager);
}

#[test]
fn regression_cooperative_commit_went_back() {
    use Op::*;
    let ops = vec![
        Join { both_topics: false },
        Wait(8308),
        Consume(0, 20),
        Join { both_topics: true },
        Wait(9148),
        Join { both_topics: false },
        Consume(3, 1),
    ];
    run(&ops, 19, Mode::Cooperative);
}

#[test]
fn regression_unknown_member_then_leave_commit_went_back() {
    use Op::*;
    let ops = vec![
        Inject(ApiKey::Heartbeat, 25),
        Join { both_topics: false },
        Wait(3112),
        Join { both_topics: false },
        Consume(2, 1),
        Wait(10028),
        Leave(1),
        Consume(7, 2),
        Wait(7098),
    ];
    run(&ops, 0, Mode::Eager);
}

#[test]
fn regression_pause_unknown_member_crash_converges() {
    use Op::*;
    let ops = vec![
        Inject(ApiKey::Heartbeat, 25),
        Join { both_topics: false },
        Pause(0, 29001),
        Join { both_topics: false },
        Join { both_topics: false },
        Wait(13915),
        Inject(ApiKey::Heartbeat, 25),
        Wait(8086),
        Crash(4),
        Wait(6999),
    ];
    run(&ops, 0, Mode::Eager);
}

/// Found by the KIP-848 simulation: an injected STALE_MEMBER_EPOCH on the close-time commit
/// left the member in PrepareLeaving for good (it did not retry the commit there).
#[test]
fn regression_kip848_stale_epoch_commit_on_close() {
    use Op::*;
    let ops = vec![
        Inject(ApiKey::OffsetCommit, 113),
        Join { both_topics: false },
        Wait(1000),
        Consume(0, 1),
        Leave(0),
    ];
    run(&ops, 0, Mode::Consumer(None));
}

/// The same without injection: the commit races the epoch bump of a subscription change.
#[test]
fn regression_kip848_resubscribe_then_close() {
    use Op::*;
    let ops = vec![
        Join { both_topics: false },
        Resubscribe(0, false),
        Wait(1000),
        Consume(0, 1),
        Resubscribe(0, true),
        Leave(0),
        Wait(1000),
    ];
    run(&ops, 0, Mode::Consumer(None));
}

#[test]
fn regression_kip848_coordinator_errors_crash_disconnect() {
    use Op::*;
    let ops = vec![
        Inject(ApiKey::ConsumerGroupHeartbeat, 14),
        Join { both_topics: false },
        Inject(ApiKey::FindCoordinator, 15),
        Join { both_topics: false },
        Crash(7),
        Join { both_topics: false },
        Wait(1000),
        Inject(ApiKey::ConsumerGroupHeartbeat, 16),
        Wait(1000),
        Wait(1253),
        Disconnect(2),
    ];
    run(&ops, 11, Mode::Consumer(None));
}
