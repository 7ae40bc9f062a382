//! Scripts: members join, leave, crash; the coordinator misbehaves.

use group_fsm::assignor::TopicPartition;
use group_fsm::{Event, Input, StateKind};
use kafka_wire::ApiKey;
use kafka_wire::error_code::ErrorCode;

use testkit::world::World;

const TOPICS: &[(&str, i32)] = &[("orders", 12)];

fn counts(w: &World) -> Vec<usize> {
    w.members
        .iter()
        .filter(|m| m.alive && m.member.state() == StateKind::Stable)
        .map(|m| m.member.assignment().len())
        .collect()
}

#[test]
fn three_members_join_and_split_twelve_partitions() {
    let mut w = World::new(TOPICS);
    for _ in 0..3 {
        w.add_member("g", &["orders"]);
    }
    w.run_for(20_000);
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
    assert_eq!(counts(&w), vec![4, 4, 4]);
    let gens: Vec<i32> = w.members.iter().map(|m| m.member.generation()).collect();
    assert!(gens.iter().all(|&g| g == gens[0] && g >= 1), "{gens:?}");
    assert_eq!(w.members.iter().filter(|m| m.member.is_leader()).count(), 1);
    // Heartbeats keep the group stable.
    w.run_for(60_000);
    assert_eq!(
        w.members[0].member.generation(),
        gens[0],
        "no rebalance while idle"
    );
}

#[test]
fn a_member_leaves_and_the_rest_take_over() {
    let mut w = World::new(TOPICS);
    for _ in 0..3 {
        w.add_member("g", &["orders"]);
    }
    w.run_for(20_000);
    let g = w.members[0].member.generation();
    w.close(2);
    w.run_for(20_000);
    assert_eq!(w.members[2].member.state(), StateKind::Closed);
    assert!(
        w.members[2]
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::Closed))
    );
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
    assert_eq!(counts(&w), vec![6, 6]);
    assert!(w.members[0].member.generation() > g);
}

#[test]
fn a_crashed_member_is_expired_after_the_session_timeout() {
    let mut w = World::new(TOPICS);
    for _ in 0..3 {
        w.add_member("g", &["orders"]);
    }
    w.run_for(20_000);
    let crash_at = w.now;
    w.crash(1);
    w.run_for(40_000);
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
    assert_eq!(counts(&w), vec![6, 6]);
    // The survivors got their new partitions only after the session timeout (10 s).
    let (t, _) = w.members[0]
        .events
        .iter()
        .rfind(|(_, e)| matches!(e, Event::Assigned { .. }))
        .cloned()
        .expect("assigned");
    assert!(
        t >= crash_at + 10_000,
        "reassigned at {t}, crash at {crash_at}"
    );
}

#[test]
fn more_members_than_partitions_reports_idle_members() {
    let topics = &[("small", 2)];
    let mut w = World::new(topics);
    for _ in 0..3 {
        w.add_member("g", &["small"]);
    }
    w.run_for(20_000);
    assert!(w.fully_assigned(topics));
    let idle = w
        .members
        .iter()
        .filter(|m| {
            m.events
                .iter()
                .any(|(_, e)| matches!(e, Event::Idle { .. }))
        })
        .count();
    assert_eq!(idle, 1);
}

#[test]
fn not_coordinator_on_heartbeat_rediscovers_and_stays_in_the_group() {
    let mut w = World::new(TOPICS);
    w.add_member("g", &["orders"]);
    w.add_member("g", &["orders"]);
    w.run_for(20_000);
    let g = w.members[0].member.generation();
    w.broker
        .inject_error(ApiKey::Heartbeat, ErrorCode::NOT_COORDINATOR.0, 2);
    w.run_for(30_000);
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
    assert_eq!(
        w.members[0].member.generation(),
        g,
        "rediscovery alone does not rebalance"
    );
    let finds = w
        .broker
        .stats()
        .requests
        .get(&ApiKey::FindCoordinator)
        .copied()
        .unwrap_or(0);
    assert!(finds >= 3, "FindCoordinator sent again ({finds})");
}

#[test]
fn rebalance_in_progress_on_join_retries_and_unknown_member_resets() {
    let mut w = World::new(TOPICS);
    w.broker
        .inject_error(ApiKey::JoinGroup, ErrorCode::REBALANCE_IN_PROGRESS.0, 1);
    w.add_member("g", &["orders"]);
    w.run_for(15_000);
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
    w.broker
        .inject_error(ApiKey::Heartbeat, ErrorCode::UNKNOWN_MEMBER_ID.0, 1);
    w.run_for(30_000);
    assert!(
        w.members[0]
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::Lost { .. }))
    );
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
}

/// The subscription's `GenerationId` (KIP-792) is the generation whose SyncGroup gave the
/// member what it owns, not the one it last joined: after a failed SyncGroup the next JoinGroup
/// claims the same as before, with the same metadata (Tansu 0.6 takes changed metadata for a
/// new round without telling the leader, and a static member never gets in).
#[test]
fn a_failed_sync_leaves_the_subscription_generation_alone() {
    let mut w = World::new(TOPICS);
    w.add_member_with(
        World::config("g", 0),
        vec![Box::new(group_fsm::assignor::RangeAssignor)],
        &["orders"],
    );
    w.run_for(15_000);
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
    let synced = w.members[0].member.generation();
    // A rebalance whose SyncGroup fails, then one that works.
    w.broker
        .inject_error(ApiKey::Heartbeat, ErrorCode::REBALANCE_IN_PROGRESS.0, 1);
    w.broker
        .inject_error(ApiKey::SyncGroup, ErrorCode::REBALANCE_IN_PROGRESS.0, 1);
    // The subscription's generation, each time it changes.
    let mut claimed = Vec::new();
    let until = w.now + 20_000;
    w.run_until(until, |w| {
        let Some(m) = w.broker.group("g").and_then(|v| v.members.first().cloned()) else {
            return;
        };
        let sub = group_fsm::assignor::consumer_protocol::decode_subscription(&m.metadata[0])
            .expect("a subscription");
        if claimed.last() != Some(&sub.generation) {
            claimed.push(sub.generation);
        }
    });
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
    let now = w.members[0].member.generation();
    // Unchanged metadata: the coordinator answers the second JoinGroup with the generation
    // the first one made (changed metadata would have started another round).
    assert_eq!(
        now,
        synced + 1,
        "one round, joined twice\n{}",
        w.log.join("\n")
    );
    let syncs = w.members[0]
        .sent
        .iter()
        .filter(|(_, api)| *api == ApiKey::SyncGroup)
        .count();
    assert!(syncs >= 3, "the failed SyncGroup was sent ({syncs} in all)");
    // The first join claimed nothing (-1); both JoinGroups of the two rounds claimed the
    // generation of the last good SyncGroup, never the one whose SyncGroup failed.
    assert_eq!(
        claimed,
        vec![-1, synced],
        "the subscription's generation as it changed\n{}",
        w.log.join("\n")
    );
}

#[test]
fn fenced_instance_id_is_fatal() {
    let mut w = World::new(TOPICS);
    let mut c = World::config("g", 0);
    c.group_instance_id = Some("pod-0".into());
    w.add_member_with(
        c,
        vec![Box::new(group_fsm::assignor::RangeAssignor)],
        &["orders"],
    );
    w.run_for(15_000);
    assert!(w.fully_assigned(TOPICS));
    w.broker
        .inject_error(ApiKey::Heartbeat, ErrorCode::FENCED_INSTANCE_ID.0, 1);
    w.run_for(10_000);
    assert_eq!(w.members[0].member.state(), StateKind::Failed);
    assert!(
        w.members[0]
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::Fatal(_)))
    );
}

#[test]
fn static_member_restart_keeps_the_group_stable() {
    let mut w = World::new(TOPICS);
    for i in 0..2 {
        let mut c = World::config("g", i);
        c.group_instance_id = Some(format!("pod-{i}"));
        w.add_member_with(
            c,
            vec![Box::new(group_fsm::assignor::RangeAssignor)],
            &["orders"],
        );
    }
    w.run_for(20_000);
    assert!(w.fully_assigned(TOPICS));
    let g = w.members[0].member.generation();
    let before = w.assignment(1);
    // Pod 1 restarts within the session timeout: closes without LeaveGroup, comes back.
    w.close(1);
    w.run_for(1_000);
    assert!(
        w.broker
            .stats()
            .requests
            .get(&ApiKey::LeaveGroup)
            .copied()
            .unwrap_or(0)
            == 0
    );
    w.members[1].alive = false;
    let mut c = World::config("g", 1);
    c.group_instance_id = Some("pod-1".into());
    let i = w.add_member_with(
        c,
        vec![Box::new(group_fsm::assignor::RangeAssignor)],
        &["orders"],
    );
    w.run_for(20_000);
    assert_eq!(
        w.members[0].member.generation(),
        g,
        "no rebalance for a static rejoin"
    );
    assert_eq!(w.assignment(i), before);
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
}

#[test]
fn commit_then_fetch_committed() {
    let mut w = World::new(TOPICS);
    w.add_member("g", &["orders"]);
    w.run_for(15_000);
    let tp = TopicPartition::new("orders", 3);
    w.handle(
        0,
        Input::Commit(vec![group_fsm::Offset::new(tp.clone(), 42)]),
    );
    w.run_for(1_000);
    assert!(
        w.members[0]
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::Committed { results } if results[0].1 == 0))
    );
    assert_eq!(w.broker.committed("g", "orders", 3), Some(42));
    w.handle(0, Input::FetchCommitted(vec![tp]));
    w.run_for(1_000);
    assert!(w.members[0].events.iter().any(
        |(_, e)| matches!(e, Event::CommittedOffsets { offsets } if offsets[0].0.offset == 42)
    ));
}

#[test]
fn auto_commit_commits_positions_and_commits_on_revoke() {
    let mut w = World::new(TOPICS);
    w.add_member("g", &["orders"]);
    w.run_for(15_000);
    let tp = TopicPartition::new("orders", 0);
    w.handle(
        0,
        Input::Positions(vec![group_fsm::Offset::new(tp.clone(), 7)]),
    );
    w.run_for(6_000);
    assert_eq!(w.broker.committed("g", "orders", 0), Some(7));
    w.handle(0, Input::Positions(vec![group_fsm::Offset::new(tp, 9)]));
    // A second member joins: the first revokes (eager) and commits before rejoining.
    w.add_member("g", &["orders"]);
    w.run_for(3_000);
    assert_eq!(w.broker.committed("g", "orders", 0), Some(9));
    w.run_for(20_000);
    assert!(w.fully_assigned(TOPICS));
}

#[test]
fn leader_rejoins_when_partition_count_changes() {
    let mut w = World::new(TOPICS);
    w.add_member("g", &["orders"]);
    w.add_member("g", &["orders"]);
    w.run_for(20_000);
    w.broker.create_topic("orders", 16);
    // metadata.max.age is 5 min by default.
    w.run_for(320_000);
    assert!(w.fully_assigned(&[("orders", 16)]), "{}", w.log.join("\n"));
}

#[test]
fn single_connection_parks_heartbeats_behind_join() {
    // The naive layout: JoinGroup on the heartbeat connection. While the coordinator holds the
    // JoinGroup, nothing else on that connection is served (as on every real broker).
    let mut w = World::new(TOPICS);
    w.lanes = testkit::world::Lanes::Single;
    w.add_member("g", &["orders"]);
    w.run_until(1_000, |_| {});
    let main = w.members[0].main.id;
    assert!(
        w.broker.is_busy(main),
        "the JoinGroup is parked on the only connection"
    );
    w.handle(
        0,
        Input::FetchCommitted(vec![TopicPartition::new("orders", 0)]),
    );
    w.run_until(2_000, |_| {});
    assert!(
        !w.members[0]
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::CommittedOffsets { .. })),
        "the OffsetFetch waits behind the parked JoinGroup"
    );
    w.run_until(10_000, |_| {});
    assert!(
        w.members[0]
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::CommittedOffsets { .. }))
    );
}

fn coop_member(w: &mut World, i: usize) -> usize {
    w.add_member_with(
        World::config("g", i),
        vec![Box::new(testkit::assignors::Cooperative::new(Box::new(
            group_fsm::assignor::RangeAssignor,
        )))],
        &["orders"],
    )
}

#[test]
fn cooperative_join_moves_only_what_must_move_and_never_double_owns() {
    let mut w = World::new(TOPICS);
    for i in 0..2 {
        coop_member(&mut w, i);
    }
    w.run_for(20_000);
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
    assert_eq!(
        w.members[0].member.rebalance_protocol(),
        group_fsm::assignor::RebalanceProtocol::Cooperative
    );
    let before0 = w.assignment(0);
    coop_member(&mut w, 2);
    w.run_for(30_000);
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
    assert_eq!(counts(&w), vec![4, 4, 4]);
    // Member 0 kept the partitions range still gives it and only revoked the others.
    let revoked: Vec<TopicPartition> = w.members[0]
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Revoke { partitions, .. } => Some(partitions.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let kept = w.assignment(0);
    assert!(kept.iter().all(|tp| before0.contains(tp)));
    assert_eq!(
        revoked.len(),
        before0.len() - kept.len(),
        "only moved partitions revoked"
    );
    // Never an eager revoke-all.
    assert!(!revoked.iter().any(|tp| kept.contains(tp)));
}

#[test]
fn pattern_subscription_follows_matching_topics() {
    let topics = &[("orders-eu", 3), ("orders-us", 3), ("payments", 4)];
    let mut w = World::new(topics);
    let i = w.add_member("g", &[]);
    w.handle(i, Input::SubscribePattern("orders-.*".into()));
    let j = w.add_member("g", &[]);
    w.handle(j, Input::SubscribePattern("orders-.*".into()));
    w.run_for(20_000);
    let orders = &[("orders-eu", 3), ("orders-us", 3)];
    assert!(w.fully_assigned(orders), "{}", w.log.join("\n"));
    assert!(
        w.members.iter().all(|m| m
            .member
            .assignment()
            .iter()
            .all(|tp| tp.topic.starts_with("orders-"))),
        "payments never assigned"
    );
    // A new matching topic is picked up at the next metadata refresh (5 min).
    w.broker.create_topic("orders-apac", 2);
    w.run_for(320_000);
    assert!(
        w.fully_assigned(&[("orders-eu", 3), ("orders-us", 3), ("orders-apac", 2)]),
        "{}",
        w.log.join("\n")
    );
    // A bad pattern is rejected, and the member keeps its subscription.
    w.handle(i, Input::SubscribePattern("orders-(".into()));
    assert!(
        w.members[i]
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::Rejected(group_fsm::UsageError::InvalidPattern)))
    );
}

#[test]
fn a_missing_topic_does_not_block_the_group_and_is_picked_up_when_created() {
    let mut w = World::new(TOPICS);
    w.add_member("g", &["orders", "later"]);
    w.add_member("g", &["orders"]);
    w.run_for(20_000);
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
    w.broker.create_topic("later", 4);
    w.run_for(320_000);
    assert!(
        w.fully_assigned(&[("orders", 12), ("later", 4)]),
        "{}",
        w.log.join("\n")
    );
}

/// Every error code on every group API the member sends: the member either recovers (the group
/// ends fully assigned) or, for exactly the codes the error table calls fatal, stops as Failed.
#[test]
fn every_error_code_on_every_group_api_recovers_or_is_fatal() {
    use kafka_wire::error_code::ErrorCode as E;
    let fatal_everywhere = [E::FENCED_INSTANCE_ID];
    let fatal = |api: ApiKey| -> Vec<E> {
        let mut v = fatal_everywhere.to_vec();
        match api {
            ApiKey::FindCoordinator => {
                v.extend([E::GROUP_AUTHORIZATION_FAILED, E::INVALID_GROUP_ID])
            }
            ApiKey::JoinGroup => v.extend([
                E::GROUP_MAX_SIZE_REACHED,
                E::INCONSISTENT_GROUP_PROTOCOL,
                E::INVALID_SESSION_TIMEOUT,
                E::INVALID_GROUP_ID,
                E::GROUP_AUTHORIZATION_FAILED,
                E::UNSUPPORTED_VERSION,
            ]),
            ApiKey::SyncGroup => v.extend([
                E::GROUP_AUTHORIZATION_FAILED,
                E::INCONSISTENT_GROUP_PROTOCOL,
            ]),
            ApiKey::Heartbeat => v.push(E::GROUP_AUTHORIZATION_FAILED),
            _ => {}
        }
        v
    };
    let mut checked = 0;
    for api in [
        ApiKey::FindCoordinator,
        ApiKey::JoinGroup,
        ApiKey::SyncGroup,
        ApiKey::Heartbeat,
        ApiKey::OffsetCommit,
    ] {
        for &code in E::ALL {
            if code == E::NONE {
                continue;
            }
            let mut w = World::new(TOPICS);
            let early = matches!(
                api,
                ApiKey::FindCoordinator | ApiKey::JoinGroup | ApiKey::SyncGroup
            );
            if early {
                w.broker.inject_error(api, code.0, 1);
            }
            w.add_member("g", &["orders"]);
            w.add_member("g", &["orders"]);
            w.run_for(15_000);
            if !early {
                w.broker.inject_error(api, code.0, 1);
                let tp = TopicPartition::new("orders", 0);
                let owner = (0..2).find(|&i| w.assignment(i).contains(&tp)).unwrap_or(0);
                w.handle(owner, Input::Commit(vec![group_fsm::Offset::new(tp, 1)]));
            }
            w.run_for(60_000);
            let failed = w
                .members
                .iter()
                .any(|m| m.member.state() == StateKind::Failed);
            let expect_fatal = fatal(api).contains(&code);
            assert_eq!(
                failed,
                expect_fatal,
                "{api:?} {code}: failed={failed}\n{}",
                w.log.join("\n")
            );
            if !failed {
                assert!(
                    w.fully_assigned(TOPICS),
                    "{api:?} {code}: no recovery\n{}",
                    w.log.join("\n")
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 600);
}

#[test]
fn heartbeats_continue_while_the_app_handles_a_slow_revocation() {
    let mut w = World::new(TOPICS);
    w.add_member("g", &["orders"]);
    w.add_member("g", &["orders"]);
    w.run_for(20_000);
    let id0 = w.members[0].member.member_id().to_string();
    // The app needs 20 s to hand back its partitions: twice the 10 s session timeout.
    w.members[0].revoke_delay = 20_000;
    w.add_member("g", &["orders"]);
    w.run_for(60_000);
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
    assert_eq!(
        w.members[0].member.member_id(),
        id0,
        "not expired while revoking"
    );
    assert!(
        !w.members[0]
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::Lost { .. })),
        "{}",
        w.log.join("\n")
    );
    assert_eq!(counts(&w), vec![4, 4, 4]);
}

/// KIP-881 end to end: the leader reads replica racks from Metadata (broker racks and replica
/// lists) and rack-aware range gives each member the partitions with a replica on its rack,
/// within range's quota. Partition p has a replica on rack r(p mod 2).
#[test]
fn leader_runs_range_with_replica_racks_from_metadata() {
    let config = testkit::BrokerConfig {
        replica_racks: vec!["r0".to_owned(), "r1".to_owned()],
        ..testkit::BrokerConfig::default()
    };
    let mut w = World::with_broker(config, TOPICS);
    for rack in ["r1", "r0"] {
        let i = w.members.len();
        let mut c = World::config("g", i);
        c.rack_id = Some(rack.to_owned());
        w.add_member_with(
            c,
            vec![Box::new(group_fsm::assignor::RangeAssignor)],
            &["orders"],
        );
    }
    w.run_for(20_000);
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
    for (i, rack) in [(0usize, 1), (1, 0)] {
        let parts: Vec<i32> = w.assignment(i).iter().map(|tp| tp.partition).collect();
        assert_eq!(parts.len(), 6, "member {i}: {parts:?}");
        assert!(
            parts.iter().all(|p| p % 2 == rack),
            "member {i} on r{rack} got {parts:?}"
        );
    }
}

/// Against a broker with old maxima (librdkafka 2.0's mock broker: Metadata v2, FindCoordinator
/// v2, JoinGroup v5, SyncGroup v3, Heartbeat v3, LeaveGroup v1, OffsetCommit v7, OffsetFetch
/// v5), every request the members build encodes at the negotiated version (the world encodes
/// each one and fails on an error) and the group forms.
#[test]
fn old_broker_versions_encode_and_the_group_forms() {
    use kafka_wire::{NegotiatedVersions, VersionRange, codec::NegotiationOptions};
    let caps = [
        (ApiKey::Metadata, 2),
        (ApiKey::FindCoordinator, 2),
        (ApiKey::JoinGroup, 5),
        (ApiKey::SyncGroup, 3),
        (ApiKey::Heartbeat, 3),
        (ApiKey::LeaveGroup, 1),
        (ApiKey::OffsetCommit, 7),
        (ApiKey::OffsetFetch, 5),
    ];
    let mut w = World::new(TOPICS);
    for (api, max) in caps {
        w.broker
            .set_api_versions(api, Some(VersionRange::new(0, max)));
    }
    w.versions = Some(NegotiatedVersions::from_ranges(
        caps.iter()
            .map(|&(k, max)| (k.as_i16(), VersionRange::new(0, max))),
        NegotiationOptions::default(),
    ));
    for _ in 0..3 {
        w.add_member("g", &["orders"]);
    }
    w.run_for(20_000);
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
    assert_eq!(counts(&w), vec![4, 4, 4]);
    w.close(0);
    w.run_for(20_000);
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
}

/// The leader refreshes metadata after every election before it assigns (as librdkafka's
/// leader does): a rebalance with no new topic still costs exactly the leader's Metadata
/// request, and it comes before the leader's SyncGroup.
#[test]
fn the_leader_refreshes_metadata_before_each_assignment() {
    let mut w = World::new(TOPICS);
    for _ in 0..3 {
        w.add_member("g", &["orders"]);
    }
    w.run_for(20_000);
    assert!(w.fully_assigned(TOPICS));
    let metadata = |w: &World| {
        w.broker
            .stats()
            .requests
            .get(&ApiKey::Metadata)
            .copied()
            .unwrap_or(0)
    };
    let before = metadata(&w);
    let generation = w.members[0].member.generation();
    w.add_member("g", &["orders"]);
    w.run_for(20_000);
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
    assert!(w.members[0].member.generation() > generation);
    // One for the newcomer's subscription, one per election the group went through.
    let elections = (w.members[0].member.generation() - generation) as u64;
    assert_eq!(metadata(&w) - before, 1 + elections, "{}", w.log.join("\n"));
}

/// Three range members of group "g", each configured by `tune`, run until stable.
fn sync_delay_world(tune: impl Fn(&mut group_fsm::Config)) -> World {
    let mut w = World::new(TOPICS);
    for i in 0..3 {
        let mut c = World::config("g", i);
        tune(&mut c);
        w.add_member_with(
            c,
            vec![Box::new(group_fsm::assignor::RangeAssignor)],
            &["orders"],
        );
    }
    w.run_for(20_000);
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
    w
}

/// Per member: whether it led its last generation, and the time from that JoinGroup answer to
/// its last SyncGroup (ms).
fn sync_gaps(w: &World) -> Vec<(bool, u64)> {
    w.members
        .iter()
        .map(|m| {
            let (joined_at, leader) = m
                .events
                .iter()
                .rev()
                .find_map(|(t, e)| match e {
                    Event::Joined { leader, .. } => Some((*t, *leader)),
                    _ => None,
                })
                .expect("joined");
            let synced_at = m
                .sent
                .iter()
                .rev()
                .find(|(_, api)| *api == ApiKey::SyncGroup)
                .map(|(t, _)| *t)
                .expect("a SyncGroup");
            (leader, synced_at - joined_at)
        })
        .collect()
}

/// The leader's SyncGroup goes out `leader_sync_delay` after its JoinGroup answer, never
/// sooner, even though its metadata refresh is back earlier; followers send theirs at once.
/// (librdkafka's mock completes the generation with the leader's SyncGroup and rejects later
/// followers with INVALID_REQUEST, so a fast leader used to cost the group a round.)
#[test]
fn the_leader_waits_its_sync_delay_and_followers_do_not() {
    for delay_ms in [0u64, 50, 300] {
        let w =
            sync_delay_world(|c| c.leader_sync_delay = core::time::Duration::from_millis(delay_ms));
        for (leader, gap) in sync_gaps(&w) {
            if leader {
                // The metadata round trip (2 x latency) bounds the gap from below when the
                // delay is shorter.
                let want = delay_ms.max(2 * w.latency);
                assert!(
                    gap >= delay_ms && gap <= want + 1,
                    "delay {delay_ms}: leader synced {gap} ms after joining, want {want}\n{}",
                    w.log.join("\n")
                );
            } else {
                assert_eq!(gap, 0, "delay {delay_ms}: a follower waited {gap} ms");
            }
        }
    }
}

/// `Config::set_sync_order` puts the SyncGroup it names first at the coordinator: for Tansu
/// the leader's, for librdkafka's mock every follower's; `Any` leaves followers undelayed.
#[test]
fn the_sync_order_puts_the_named_syncgroup_first() {
    use group_fsm::SyncOrder;
    for order in [
        SyncOrder::Any,
        SyncOrder::LeaderFirst,
        SyncOrder::FollowersFirst,
    ] {
        let w = sync_delay_world(|c| c.set_sync_order(order));
        let gaps = sync_gaps(&w);
        let leader = gaps
            .iter()
            .find(|(l, _)| *l)
            .map(|(_, g)| *g)
            .expect("a leader");
        let followers: Vec<u64> = gaps.iter().filter(|(l, _)| !*l).map(|(_, g)| *g).collect();
        assert_eq!(followers.len(), 2, "{order:?}: {gaps:?}");
        // The model coordinator answers a round's parked JoinGroups together (zero latency
        // spread between members), so the gaps order the SyncGroups as it sees them.
        match order {
            SyncOrder::Any => assert!(followers.iter().all(|&g| g == 0), "{order:?}: {gaps:?}"),
            SyncOrder::LeaderFirst => {
                assert!(followers.iter().all(|&g| g > leader), "{order:?}: {gaps:?}");
            }
            SyncOrder::FollowersFirst => {
                assert!(followers.iter().all(|&g| g < leader), "{order:?}: {gaps:?}");
            }
        }
    }
}

/// The mirror: each follower's SyncGroup goes out `follower_sync_delay` after its JoinGroup
/// answer, never sooner, while the leader's goes out after its metadata refresh alone, so it
/// reaches the coordinator first (Tansu answers followers that come first a second late).
#[test]
fn followers_wait_their_sync_delay_and_the_leader_does_not() {
    for delay_ms in [0u64, 50, 300] {
        let w = sync_delay_world(|c| {
            c.follower_sync_delay = core::time::Duration::from_millis(delay_ms)
        });
        let mut followers = 0;
        for (leader, gap) in sync_gaps(&w) {
            if leader {
                assert_eq!(
                    gap,
                    2 * w.latency,
                    "delay {delay_ms}: the leader synced {gap} ms after joining, want its \
                     metadata round trip only\n{}",
                    w.log.join("\n")
                );
            } else {
                followers += 1;
                assert_eq!(
                    gap,
                    delay_ms,
                    "delay {delay_ms}: a follower synced {gap} ms after joining\n{}",
                    w.log.join("\n")
                );
            }
        }
        assert_eq!(followers, 2);
    }
}

/// After partitions are lost and assigned again, the member's record of what it last committed
/// is gone: the same position is committed again (the broker's offset may have changed in
/// between, e.g. another owner committed, or the broker lost its state in a restart).
#[test]
fn lost_partitions_forget_what_was_last_committed() {
    let mut w = World::new(&[("orders", 1)]);
    w.add_member("g", &["orders"]);
    w.run_for(10_000);
    let tp = TopicPartition::new("orders", 0);
    assert_eq!(w.assignment(0), vec![tp.clone()]);
    let commits = |w: &World| {
        w.broker
            .stats()
            .requests
            .get(&ApiKey::OffsetCommit)
            .copied()
            .unwrap_or(0)
    };
    w.handle(
        0,
        Input::Positions(vec![group_fsm::Offset::new(tp.clone(), 20)]),
    );
    w.run_for(6_000);
    assert_eq!(w.broker.committed("g", "orders", 0), Some(20));
    let after_first = commits(&w);
    // Fenced: the next heartbeat says the member is unknown, so it loses the partition and
    // rejoins; it gets the partition back.
    w.broker
        .inject_error(ApiKey::Heartbeat, ErrorCode::UNKNOWN_MEMBER_ID.0, 1);
    w.run_for(10_000);
    assert!(
        w.members[0]
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::Lost { .. })),
        "{}",
        w.log.join("\n")
    );
    assert_eq!(w.assignment(0), vec![tp.clone()]);
    // The app is at 20 again: auto-commit must send it, not skip it as already committed.
    w.handle(0, Input::Positions(vec![group_fsm::Offset::new(tp, 20)]));
    w.run_for(6_000);
    assert!(
        commits(&w) > after_first,
        "no commit after the partition came back"
    );
}

// ---- KIP-848 (group.protocol=consumer) against the model broker's consumer coordinator -------

mod kip848 {
    use std::collections::BTreeSet;

    use testkit::{BrokerConfig, ConsumerGroupState};

    use super::*;

    fn owned(w: &World, i: usize) -> BTreeSet<TopicPartition> {
        w.members[i].member.assignment().iter().cloned().collect()
    }

    fn world() -> World {
        World::with_broker(
            BrokerConfig {
                consumer_session_timeout_ms: 10_000,
                consumer_heartbeat_interval_ms: 1_000,
                ..BrokerConfig::default()
            },
            TOPICS,
        )
    }

    #[test]
    fn kip848_three_members_join_and_split_twelve_partitions() {
        let mut w = world();
        for _ in 0..3 {
            w.add_consumer_member("g", &["orders"], None);
        }
        w.run_for(15_000);
        assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
        assert_eq!(counts(&w), vec![4, 4, 4]);
        let g = w.broker.consumer_group("g").unwrap();
        assert_eq!(g.state, ConsumerGroupState::Stable);
        let epochs: Vec<i32> = w.members.iter().map(|m| m.member.generation()).collect();
        assert!(
            epochs.iter().all(|&e| e == g.group_epoch),
            "{epochs:?} vs {g:?}"
        );
        // Idle: no epoch changes.
        w.run_for(30_000);
        assert_eq!(
            w.broker.consumer_group("g").unwrap().group_epoch,
            g.group_epoch
        );
        assert_eq!(w.broker.stats().requests.get(&ApiKey::JoinGroup), None);
    }

    #[test]
    fn kip848_a_fourth_member_revokes_only_moved_partitions() {
        let mut w = world();
        for _ in 0..3 {
            w.add_consumer_member("g", &["orders"], None);
        }
        w.run_for(15_000);
        let before: Vec<BTreeSet<TopicPartition>> = (0..3).map(|i| owned(&w, i)).collect();
        w.add_consumer_member("g", &["orders"], None);
        w.run_for(15_000);
        assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
        assert_eq!(counts(&w), vec![3, 3, 3, 3]);
        for (i, b) in before.iter().enumerate() {
            let now = owned(&w, i);
            assert!(
                now.is_subset(b),
                "m{i} got new partitions: {b:?} -> {now:?}"
            );
            // Only the moved partition was revoked: every Revoke lists partitions it lost for good.
            for (_, e) in &w.members[i].events {
                if let Event::Revoke { partitions, .. } = e {
                    assert!(partitions.iter().all(|p| !now.contains(p)), "m{i} {e:?}");
                }
            }
        }
    }

    #[test]
    fn kip848_a_crashed_member_expires_and_the_rest_take_over() {
        let mut w = world();
        for _ in 0..3 {
            w.add_consumer_member("g", &["orders"], None);
        }
        w.run_for(15_000);
        let epoch = w.broker.consumer_group("g").unwrap().group_epoch;
        w.crash(2);
        w.run_for(5_000);
        assert_eq!(
            w.broker.consumer_group("g").unwrap().members.len(),
            3,
            "session not over yet"
        );
        w.run_for(15_000);
        let g = w.broker.consumer_group("g").unwrap();
        assert_eq!(g.members.len(), 2);
        assert!(g.group_epoch > epoch);
        assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
        assert_eq!(counts(&w), vec![6, 6]);
    }

    #[test]
    fn kip848_lost_heartbeat_response_is_tolerated() {
        let mut w = world();
        for _ in 0..2 {
            w.add_consumer_member("g", &["orders"], None);
        }
        w.run_for(15_000);
        let epoch = w.broker.consumer_group("g").unwrap().group_epoch;
        // Drop member 0's connections (and the response in flight) a few times.
        for _ in 0..5 {
            w.run_for(700);
            w.disconnect(0);
        }
        w.run_for(15_000);
        assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
        assert_eq!(
            w.broker.consumer_group("g").unwrap().group_epoch,
            epoch,
            "nobody was fenced"
        );
    }

    #[test]
    fn kip848_lost_response_with_a_new_epoch_is_tolerated() {
        let mut w = world();
        w.latency = 40;
        for _ in 0..2 {
            w.add_consumer_member("g", &["orders"], None);
        }
        w.run_for(15_000);
        w.add_consumer_member("g", &["orders"], None);
        // Wait until the broker moved m0 to a new epoch whose response is still on the wire,
        // then cut m0's connections: the response is lost.
        let mut cut = false;
        for _ in 0..2_000 {
            w.run_for(5);
            let g = w.broker.consumer_group("g").unwrap();
            let id = w.members[0].member.member_id().to_owned();
            let broker_epoch = g
                .members
                .iter()
                .find(|m| m.member_id == id)
                .unwrap()
                .member_epoch;
            if broker_epoch > w.members[0].member.generation() {
                w.disconnect(0);
                cut = true;
                break;
            }
        }
        assert!(cut, "m0 never got a new epoch");
        w.run_for(20_000);
        assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
        assert_eq!(counts(&w), vec![4, 4, 4]);
        assert!(
            !w.members[0]
                .events
                .iter()
                .any(|(_, e)| matches!(e, Event::Lost { .. })),
            "m0 was fenced: {}",
            w.log.join("\n")
        );
    }

    /// Found by the KIP-848 simulation. A member closes right after it changed its
    /// subscription: the close-time commit carries epoch 1 while the subscription heartbeat,
    /// processed first, moved the member to epoch 2, so the commit gets STALE_MEMBER_EPOCH
    /// (as in Kafka, which requires the exact member epoch). The member must retry it with
    /// the epoch of the next heartbeat response, then leave (it used to stay in
    /// PrepareLeaving, heartbeating, for good).
    #[test]
    fn kip848_close_racing_an_epoch_bump_still_leaves() {
        let mut w = World::with_broker(
            BrokerConfig {
                consumer_session_timeout_ms: 10_000,
                consumer_heartbeat_interval_ms: 3_000,
                ..BrokerConfig::default()
            },
            &[("a", 7), ("b", 5)],
        );
        w.latency = 0;
        w.add_consumer_member("g", &["b"], None);
        w.run_for(1000);
        let owned = w.members[0].member.assignment().to_vec();
        let positions = owned.into_iter().map(|tp| group_fsm::Offset::new(tp, 5));
        w.handle(0, Input::Positions(positions.collect()));
        w.handle(0, Input::Subscribe(vec!["a".into(), "b".into()]));
        w.close(0);
        w.run_for(30_000);
        assert_eq!(
            w.members[0].member.state(),
            StateKind::Closed,
            "{}",
            w.log.join("\n")
        );
        assert!(w.broker.consumer_group("g").unwrap().members.is_empty());
    }

    #[test]
    fn kip848_coordinator_move_keeps_the_assignment() {
        let mut w = world();
        for _ in 0..3 {
            w.add_consumer_member("g", &["orders"], None);
        }
        w.run_for(15_000);
        let before: Vec<BTreeSet<TopicPartition>> = (0..3).map(|i| owned(&w, i)).collect();
        let epoch = w.broker.consumer_group("g").unwrap().group_epoch;
        w.broker.set_not_coordinator(true);
        w.run_for(3_000);
        w.broker.set_not_coordinator(false);
        w.run_for(10_000);
        assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
        let after: Vec<BTreeSet<TopicPartition>> = (0..3).map(|i| owned(&w, i)).collect();
        assert_eq!(before, after);
        assert_eq!(w.broker.consumer_group("g").unwrap().group_epoch, epoch);
        assert!(w.broker.stats().requests[&ApiKey::FindCoordinator] > 3);
    }
}

/// A cooperative member that revokes partitions commits their positions and waits for the
/// answer before it rejoins. Its JoinGroup goes on a held lane and the commit on the ordinary
/// connection; a JoinGroup sent at the same time can be served first, and the broker then
/// rejects the commit (librdkafka's mocks answer REBALANCE_IN_PROGRESS once the group is
/// joining; Kafka moves to the next generation if that JoinGroup completes the join), so the
/// partitions' next owner consumes them again. Seen live in `many-groups` on the 2.0 mock.
#[test]
fn cooperative_revocation_commit_is_answered_before_the_rejoin() {
    let mut w = World::new(TOPICS);
    for i in 0..2 {
        let mut config = World::config("g", i);
        // Only the revocation commits: no auto-commit round in the window.
        config.auto_commit_interval = core::time::Duration::from_secs(3600);
        w.add_member_with(
            config,
            vec![Box::new(testkit::assignors::Cooperative::new(Box::new(
                group_fsm::assignor::RangeAssignor,
            )))],
            &["orders"],
        );
    }
    w.run_for(20_000);
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
    let owned = w.assignment(0);
    w.handle(
        0,
        Input::Positions(
            owned
                .iter()
                .map(|tp| group_fsm::Offset::new(tp.clone(), 7))
                .collect(),
        ),
    );
    let t_add = w.now;
    coop_member(&mut w, 2);
    w.run_for(30_000);
    assert!(w.fully_assigned(TOPICS), "{}", w.log.join("\n"));
    let m = &w.members[0];
    let t_revoke = m
        .events
        .iter()
        .find(|(t, e)| *t >= t_add && matches!(e, Event::Revoke { .. }))
        .map(|(t, _)| *t)
        .expect("member 0 revoked partitions");
    let first = |key: ApiKey| {
        m.sent
            .iter()
            .find(|(t, k)| *t >= t_revoke && *k == key)
            .map(|(t, _)| *t)
    };
    let commit = first(ApiKey::OffsetCommit).expect("the revocation commit was sent");
    let join = first(ApiKey::JoinGroup).expect("member 0 rejoined");
    assert!(
        join >= commit + 2 * w.latency,
        "JoinGroup at {join} ms before the commit sent at {commit} ms was answered"
    );
    let failed: Vec<_> = m
        .events
        .iter()
        .filter(|(t, _)| *t >= t_revoke)
        .filter_map(|(_, e)| match e {
            Event::Committed { results } => Some(results.iter().filter(|(_, c)| *c != 0)),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
}
