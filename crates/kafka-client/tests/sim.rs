//! Client processes, each a `GroupSet` of one or many groups (a `Consumer` is a set of
//! one), against testkit's model broker, bytes and all, in virtual time with no sockets. The
//! broker serves one request per connection at a time, like a real one, so a parked JoinGroup
//! blocks whatever is queued behind it on its connection.
//!
//! Randomized schedules of joins, process crashes, clean closes, groups added and removed at
//! run time and dropped connections, over 1 to 50 groups (classic eager, classic cooperative
//! and KIP-848). After every step: no partition owned by two live members of a group; with
//! held lanes, no request that cannot wait is ever sent on a connection where a JoinGroup or
//! SyncGroup is outstanding. At the end: the broker never removed a member of a live process
//! for a missed session, a missed rejoin or a missed SyncGroup (head-of-line blocking is the
//! only way that happens here); once the faults stop every group's partitions have exactly one
//! owner each. The naive configuration (everything on one connection) is run through the same
//! harness to show the removals it causes.
//!
//! The harness (`Sim`, `Proc`) lives in `common/harness.rs`, shared with
//! `benches/many_groups.rs`.

mod common;

use std::collections::BTreeSet;

use common::harness::{self, CONSUMER_LIKE, Kind, SEPARATE, Sim, percentile};
use kafka_client::LanePolicy;
use kafka_wire::ApiKey;
use proptest::prelude::*;

#[test]
fn three_single_group_processes_split_then_one_crashes() {
    for kind in [Kind::Eager, Kind::Cooperative, Kind::Consumer] {
        let mut sim = Sim::new();
        for i in 0..3 {
            sim.add_proc(CONSUMER_LIKE);
            sim.add_group(i, 0, kind);
        }
        sim.run_until(10_000);
        assert!(sim.not_fully_owned().is_empty(), "{kind:?}\n{}", sim.tail());
        let counts: Vec<usize> = sim.procs.iter().map(|p| p.owned["g0"].len()).collect();
        assert_eq!(
            counts.iter().max().unwrap() - counts.iter().min().unwrap(),
            1,
            "{kind:?} {counts:?}"
        );
        sim.crash(1);
        sim.run_until(30_000);
        assert!(sim.not_fully_owned().is_empty(), "{kind:?}\n{}", sim.tail());
        assert!(sim.broker.errors().is_empty(), "{:?}", sim.broker.errors());
        assert!(sim.removals_of_live_members().is_empty());
    }
}

/// A cooperative revocation's commit must not wait behind a parked Fetch. The model broker
/// parks an empty Fetch for its max wait (500 ms) and serves one request per connection at a
/// time, as Kafka does (librdkafka's mock holds the empty Fetch's answer too, and answers later
/// requests on the connection after it). With fetches on the ordinary connection, the commit of
/// the revoked partitions, and so the member's rejoin, waited for that Fetch: the second
/// cooperative round started up to 500 ms late (0.44 s, traced on the 2.16 mock). With the
/// fetch lane that `Consumer` now uses, the revoking members rejoin one commit round trip
/// after their SyncGroup answer.
#[test]
fn a_revocation_commit_does_not_wait_behind_a_parked_fetch() {
    let fetch_on_ordinary = LanePolicy::Separate {
        max_held_lanes: 1,
        fetch_lane: false,
    };
    for (lanes, fetch_lane) in [(CONSUMER_LIKE, true), (fetch_on_ordinary, false)] {
        let mut sim = Sim::with_fetch(true);
        sim.record_timings = true;
        for i in 0..3 {
            sim.add_proc(lanes);
            sim.add_group(i, 0, Kind::Cooperative);
        }
        sim.run_until(20_000);
        assert!(sim.not_fully_owned().is_empty(), "{}", sim.tail());
        let joiner = sim.add_proc(lanes);
        sim.add_group(joiner, 0, Kind::Cooperative);
        sim.run_until(40_000);
        assert!(sim.not_fully_owned().is_empty(), "{}", sim.tail());
        // For each old member: the first OffsetCommit after the joiner came (the revocation's),
        // and how long after its answer the member sent its next JoinGroup.
        let mut waits = Vec::new();
        for p in 0..3 {
            let mine = |api: ApiKey| {
                sim.timings
                    .iter()
                    .filter(move |t| t.proc == p && t.sent > 20_000 && t.api_key == api.as_i16())
            };
            let Some(commit) = mine(ApiKey::OffsetCommit).next() else {
                continue;
            };
            let answered = commit.answered.expect("commit answered");
            let sync_answer = mine(ApiKey::SyncGroup)
                .filter(|t| t.sent <= commit.sent)
                .filter_map(|t| t.answered)
                .max()
                .expect("a SyncGroup before the commit");
            let rejoin = mine(ApiKey::JoinGroup)
                .find(|t| t.sent >= answered)
                .expect("a rejoin after the commit");
            waits.push((
                p,
                commit.sent - sync_answer,
                answered - commit.sent,
                rejoin.sent - answered,
            ));
        }
        assert!(
            !waits.is_empty(),
            "no member revoked anything\n{}",
            sim.tail()
        );
        for &(p, to_commit, commit_rtt, to_rejoin) in &waits {
            assert_eq!(
                to_commit, 0,
                "p{p} committed {to_commit} ms after its SyncGroup answer"
            );
            assert_eq!(
                to_rejoin, 0,
                "p{p} rejoined {to_rejoin} ms after its commit's answer"
            );
            if fetch_lane {
                assert_eq!(
                    commit_rtt,
                    2 * harness::LATENCY,
                    "p{p}: commit took {commit_rtt} ms"
                );
            }
        }
        if !fetch_lane {
            // The failure, on record: some commit waited behind a parked Fetch.
            assert!(
                waits.iter().any(|w| w.2 >= 300),
                "no commit waited behind a Fetch: {waits:?}"
            );
        }
    }
}

/// The head-of-line failure, reproduced and avoided: process 0 runs ten classic groups, and
/// process 1 a second member of group 0 only, with a 20 s session. Process 1 crashes and
/// process 2 joins group 0 at once: group 0 rebalances, and the coordinator parks process 0's
/// JoinGroup until the crashed member's session expires (20 s). On one shared connection that
/// parked JoinGroup holds back the heartbeats of the nine other groups, whose 6 s sessions
/// expire: they rebalance in turn. With held lanes none of them notices.
#[test]
fn a_parked_join_starves_other_groups_on_one_connection_but_not_with_lanes() {
    let run = |lanes: LanePolicy| {
        let mut sim = Sim::new();
        for _ in 0..3 {
            sim.add_proc(lanes);
        }
        for g in 0..10 {
            sim.add_group(0, g, Kind::Eager);
        }
        sim.add_group_with(1, 0, Kind::Eager, 20_000);
        sim.run_until(15_000);
        assert!(
            sim.not_fully_owned().is_empty(),
            "{lanes:?}\n{}",
            sim.tail()
        );
        assert!(sim.removals_of_live_members().is_empty(), "{lanes:?}");
        sim.crash(1);
        sim.add_group(2, 0, Kind::Eager);
        sim.run_until(60_000);
        (
            sim.removals_of_live_members(),
            sim.not_fully_owned(),
            sim.procs[0].set.net().connection_count(),
        )
    };
    let (removed, unowned, conns) = run(SEPARATE);
    assert!(removed.is_empty(), "with lanes: {removed:?}");
    assert!(unowned.is_empty(), "with lanes: {unowned:?}");
    // The bootstrap connection, then the broker's ordinary connection and its held lane (no
    // fetch lane: the model broker serves no Fetch here).
    assert!(conns <= 3, "with lanes: {conns} connections");
    let (removed, _, conns) = run(LanePolicy::Single);
    assert!(
        conns <= 2,
        "naive: the bootstrap connection and one to the broker"
    );
    let victims: BTreeSet<&str> = removed
        .iter()
        .filter(|(_, g, _)| g != "g0")
        .map(|(_, g, _)| g.as_str())
        .collect();
    println!(
        "naive: {} removals of live members in {} of the nine other groups: {removed:?}",
        removed.len(),
        victims.len()
    );
    assert!(
        victims.len() >= 5,
        "naive: expected most of the nine other groups to lose a member, got {removed:?}"
    );
}

/// Fifty groups of all three protocols in two processes over shared connections, rebalancing
/// together (the second process joins every group at once, then leaves): no member of a live
/// process is ever removed by the broker, and every group converges.
#[test]
fn fifty_groups_rebalance_together_over_shared_connections() {
    let mut sim = Sim::new();
    sim.add_proc(SEPARATE);
    sim.add_proc(SEPARATE);
    let kinds = [Kind::Eager, Kind::Cooperative, Kind::Consumer];
    for g in 0..50 {
        sim.add_group(0, g, kinds[g % 3]);
    }
    sim.run_until(10_000);
    assert!(sim.not_fully_owned().is_empty(), "{}", sim.tail());
    for g in 0..50 {
        sim.add_group(1, g, kinds[g % 3]);
    }
    sim.run_until(40_000);
    assert!(sim.not_fully_owned().is_empty(), "{}", sim.tail());
    for g in 0..50 {
        assert!(
            !sim.procs[1].owned[&format!("g{g}")].is_empty(),
            "g{g} idle in p1"
        );
    }
    for g in 0..50 {
        sim.close_group(1, g);
    }
    sim.run_until(70_000);
    assert!(sim.not_fully_owned().is_empty(), "{}", sim.tail());
    assert!(sim.procs[1].groups.is_empty());
    assert_eq!(sim.procs[1].set.net().connection_count(), 0);
    assert!(sim.removals_of_live_members().is_empty());
    assert!(sim.broker.errors().is_empty(), "{:?}", sim.broker.errors());
}

/// Heartbeat round trips while other groups rebalance: process 0 runs twelve groups (classic
/// cooperative and KIP-848), process 1 joins four of them and later leaves. With held lanes the
/// eight idle groups' heartbeats are all answered in one round trip (the model broker has no
/// service time); on one connection some wait behind parked JoinGroups and SyncGroups.
#[test]
fn idle_groups_heartbeat_in_one_round_trip_while_others_rebalance() {
    let run = |lanes: LanePolicy| {
        let mut sim = Sim::new();
        sim.record_timings = true;
        sim.add_proc(lanes);
        sim.add_proc(lanes);
        let kinds = [Kind::Cooperative, Kind::Consumer];
        for g in 0..12 {
            sim.add_group(0, g, kinds[g % 2]);
        }
        sim.run_until(10_000);
        assert!(sim.not_fully_owned().is_empty(), "{}", sim.tail());
        for g in 0..4 {
            sim.add_group(1, g, kinds[g % 2]);
        }
        sim.run_until(20_000);
        for g in 0..4 {
            sim.close_group(1, g);
        }
        sim.run_until(30_000);
        assert!(sim.not_fully_owned().is_empty(), "{}", sim.tail());
        let idle = |g: &str| g[1..].parse::<usize>().is_ok_and(|n| n >= 4);
        let (lat, unanswered) = sim.heartbeat_latencies(|i| i == 0, idle, 10_000, 30_000);
        (
            lat,
            unanswered,
            sim.removals_of_live_members(),
            sim.procs[0].peak_conns,
        )
    };
    let (lat, unanswered, removed, _) = run(SEPARATE);
    assert!(lat.len() > 100, "{} heartbeats", lat.len());
    assert_eq!(unanswered, 0);
    assert_eq!(percentile(&lat, 0.5), 4);
    assert_eq!(*lat.last().unwrap(), 4, "with lanes");
    assert!(removed.is_empty(), "with lanes: {removed:?}");
    let (lat, _, _, conns) = run(LanePolicy::Single);
    assert!(conns <= 2, "naive: {conns} connections");
    println!(
        "naive: {} idle heartbeats, p50 {} ms, p99 {} ms, max {} ms",
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().unwrap()
    );
    assert!(*lat.last().unwrap() > 4, "naive: no heartbeat waited");
}

#[derive(Debug, Clone)]
enum Op {
    /// Add group `g` to process `p` (a new member of it).
    Add(usize, usize),
    Crash(usize),
    Close(usize, usize),
    Cut(usize),
    Wait(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0usize..3, 0usize..50).prop_map(|(p, g)| Op::Add(p, g)),
        1 => (0usize..3).prop_map(Op::Crash),
        1 => (0usize..3, 0usize..50).prop_map(|(p, g)| Op::Close(p, g)),
        2 => (0usize..3).prop_map(Op::Cut),
        3 => (0u64..4000).prop_map(Op::Wait),
    ]
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Eager),
        Just(Kind::Cooperative),
        Just(Kind::Consumer)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    /// Three processes sharing connections among 1 to 50 groups of random protocols, with
    /// groups added and closed at run time, process crashes and dropped connections: never two
    /// live owners of a partition in a group (after every step), never a removal of a member of
    /// a live process, and 20 s after the last fault every group with a live member has each
    /// partition owned exactly once; the broker saw no protocol error.
    #[test]
    fn random_groups_over_shared_connections_never_starve(
        groups in 1usize..=50,
        kinds in prop::collection::vec(kind(), 50),
        ops in prop::collection::vec(op(), 1..24),
    ) {
        let mut sim = Sim::new();
        for _ in 0..3 {
            sim.add_proc(SEPARATE);
        }
        for (g, &k) in kinds.iter().enumerate().take(groups) {
            sim.add_group(0, g, k);
        }
        for op in ops {
            match op {
                Op::Add(p, g) => sim.add_group(p, g % groups, kinds[g % groups]),
                Op::Crash(p) => sim.crash(p),
                Op::Close(p, g) => sim.close_group(p, g % groups),
                Op::Cut(p) => sim.cut(p),
                Op::Wait(ms) => {
                    let until = sim.now + ms;
                    sim.run_until(until);
                }
            }
        }
        let until = sim.now + 20_000;
        sim.run_until(until);
        let unowned = sim.not_fully_owned();
        prop_assert!(unowned.is_empty(), "{unowned:?}\n{}", sim.tail());
        let removed = sim.removals_of_live_members();
        prop_assert!(removed.is_empty(), "{removed:?}\n{}", sim.tail());
        prop_assert!(sim.broker.errors().is_empty(), "{:?}", sim.broker.errors());
    }
}

/// Ten groups in one process consume the same topic while it is written to: with shared
/// fetches one Fetch per round serves all of them (each group still gets every record exactly
/// once, at its own positions, and commits its own offsets); without, each group fetches on
/// its own. The broker's own counters give the traffic saved.
#[test]
fn groups_on_the_same_partitions_share_fetches() {
    let run = |share: bool| {
        let mut sim = Sim::with_fetch(true);
        sim.fetch.reset = kafka_client::fetch::ResetPolicy::Earliest;
        let p = sim.add_proc_with(SEPARATE, share);
        // Groups 0, 3, …, 27 all subscribe to topic t0.
        let groups: Vec<usize> = (0..10).map(|k| k * harness::TOPICS).collect();
        for &g in &groups {
            sim.add_group(p, g, Kind::Cooperative);
        }
        sim.run_until(3_000);
        assert!(sim.not_fully_owned().is_empty(), "{}", sim.tail());
        let mut expected = Vec::new();
        for round in 0..20u64 {
            let at = sim.now;
            for part in 0..harness::PARTITIONS {
                let value = bytes::Bytes::from(format!("r{round}p{part}"));
                let base = sim
                    .broker
                    .append(
                        at,
                        "t0",
                        part,
                        &[(None, Some(value.clone())), (None, Some(value))],
                    )
                    .expect("append");
                expected.extend([(part, base), (part, base + 1)]);
            }
            sim.run_until(at + 250);
        }
        sim.run_until(sim.now + 3_000);
        expected.sort_unstable();
        for &g in &groups {
            let name = format!("g{g}");
            let mut got = sim.procs[p]
                .messages
                .get(&name)
                .cloned()
                .unwrap_or_default();
            got.sort_unstable();
            assert_eq!(
                got, expected,
                "{name} (share {share}): every record exactly once"
            );
        }
        for &g in &groups {
            sim.close_group(p, g);
        }
        sim.run_until(sim.now + 2_000);
        for &g in &groups {
            for part in 0..harness::PARTITIONS {
                let end = sim.broker.end_offset("t0", part);
                let committed = sim.broker.committed(&format!("g{g}"), "t0", part);
                assert_eq!(committed, end, "g{g} p{part} committed its own offsets");
            }
        }
        (sim.broker.stats(), sim.procs[p].set.stats())
    };
    let (shared, shared_set) = run(true);
    let (alone, alone_set) = run(false);
    println!(
        "10 groups, one topic: Fetch responses {} shared vs {} alone, record bytes {} vs {}; \
         set: {} fetches sent for {} wanted, {} partition entries sent for {} wanted",
        shared.fetch_responses,
        alone.fetch_responses,
        shared.fetch_record_bytes,
        alone.fetch_record_bytes,
        shared_set.fetches_sent,
        shared_set.fetches_wanted,
        shared_set.fetch_partitions_sent,
        shared_set.fetch_partitions_wanted
    );
    assert_eq!(alone_set.fetches_sent, alone_set.fetches_wanted);
    assert!(shared_set.fetches_sent < shared_set.fetches_wanted);
    // The same records reach ten groups: shared, the broker sends them about once.
    assert!(
        shared.fetch_record_bytes * 5 <= alone.fetch_record_bytes,
        "shared {} vs alone {} record bytes",
        shared.fetch_record_bytes,
        alone.fetch_record_bytes
    );
    assert!(shared.fetch_responses * 3 <= alone.fetch_responses);
}
