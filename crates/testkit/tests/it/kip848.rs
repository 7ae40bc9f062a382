//! KIP-848 (ConsumerGroupHeartbeat) on the model broker, with hand-built request frames.

use std::collections::{BTreeMap, BTreeSet};

use kafka_wire::generated::consumer_group_heartbeat_request::TopicPartitions;
use kafka_wire::generated::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use testkit::{ConsumerGroupState, ConsumerMemberState};

use super::*;

type Parts = BTreeSet<(String, i32)>;

fn join_req(member: &str, topics: &[&str]) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest {
        group_id: GROUP.into(),
        member_id: member.into(),
        member_epoch: 0,
        rebalance_timeout_ms: REBALANCE,
        subscribed_topic_names: Some(topics.iter().map(|t| (*t).into()).collect()),
        topic_partitions: Some(Vec::new()),
        ..Default::default()
    }
}

fn beat_req(
    member: &str,
    epoch: i32,
    owned: Option<&Parts>,
    h: &Harness,
) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest {
        group_id: GROUP.into(),
        member_id: member.into(),
        member_epoch: epoch,
        topic_partitions: owned.map(|o| wire_parts(h, o)),
        ..Default::default()
    }
}

fn wire_parts(h: &Harness, set: &Parts) -> Vec<TopicPartitions> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in set {
        by_topic.entry(t).or_default().push(*p);
    }
    by_topic
        .into_iter()
        .map(|(t, ps)| TopicPartitions {
            topic_id: h.broker.topic_id(t).unwrap_or(Uuid::ZERO),
            partitions: ps.into(),
            ..Default::default()
        })
        .collect()
}

fn names(h: &Harness, r: &ConsumerGroupHeartbeatResponse) -> Option<Parts> {
    let a = r.assignment.as_ref()?;
    let mut out = Parts::new();
    for t in &a.topic_partitions {
        let name = ["orders", "audit", "orders-eu", "logs"]
            .into_iter()
            .find(|n| h.broker.topic_id(n) == Some(t.topic_id))
            .unwrap_or("?");
        for p in t.partitions.iter() {
            out.insert((name.to_owned(), p));
        }
    }
    Some(out)
}

fn set(parts: &[(&str, i32)]) -> Parts {
    parts.iter().map(|(t, p)| ((*t).to_owned(), *p)).collect()
}

fn hb(
    h: &mut Harness,
    conn: ConnId,
    req: &ConsumerGroupHeartbeatRequest,
    v: i16,
) -> ConsumerGroupHeartbeatResponse {
    let id = h.send(conn, req, v);
    body!(h.take(conn, id), ConsumerGroupHeartbeat)
}

fn hbeat(
    h: &mut Harness,
    conn: ConnId,
    member: &str,
    epoch: i32,
    owned: Option<&Parts>,
) -> ConsumerGroupHeartbeatResponse {
    let req = beat_req(member, epoch, owned, h);
    hb(h, conn, &req, 1)
}

/// A client-side view of one member: what it was told and what it owns.
#[derive(Debug, Default)]
struct Client {
    conn: ConnId,
    id: String,
    epoch: i32,
    owned: Parts,
}

impl Client {
    fn new(conn: ConnId, id: &str) -> Self {
        Self {
            conn,
            id: id.to_owned(),
            ..Default::default()
        }
    }

    /// Joins (v1) subscribed to `topics`; takes the assignment at once.
    fn join(&mut self, h: &mut Harness, topics: &[&str]) -> ConsumerGroupHeartbeatResponse {
        let r = hb(h, self.conn, &join_req(&self.id, topics), 1);
        assert_eq!(r.error_code, 0, "{r:?}");
        self.apply(h, &r);
        r
    }

    /// Heartbeats with its epoch and owned partitions, then adopts the answer (a
    /// well-behaved client: it releases revoked partitions at once).
    fn beat(&mut self, h: &mut Harness) -> ConsumerGroupHeartbeatResponse {
        let req = beat_req(&self.id, self.epoch, Some(&self.owned), h);
        let r = hb(h, self.conn, &req, 1);
        if r.error_code == 0 {
            self.apply(h, &r);
        }
        r
    }

    fn apply(&mut self, h: &Harness, r: &ConsumerGroupHeartbeatResponse) {
        self.epoch = r.member_epoch;
        if let Some(a) = names(h, r) {
            self.owned = a;
        }
    }
}

fn assert_disjoint(clients: &[&Client]) {
    let mut seen: BTreeMap<&(String, i32), &str> = BTreeMap::new();
    for c in clients {
        for tp in &c.owned {
            if let Some(other) = seen.insert(tp, &c.id) {
                panic!("{tp:?} owned by {other} and {}", c.id);
            }
        }
    }
}

fn member_state(h: &Harness, id: &str) -> (i32, ConsumerMemberState) {
    let g = h.broker.consumer_group(GROUP).expect("group");
    let m = g
        .members
        .iter()
        .find(|m| m.member_id == id)
        .expect("member");
    (m.member_epoch, m.state)
}

fn all_orders() -> Parts {
    set(&[("orders", 0), ("orders", 1), ("orders", 2), ("orders", 3)])
}

#[test]
fn cghb_join_epochs_and_target_assignment() {
    let mut h = Harness::new();
    let mut a = Client::new(1, "a");
    let r = a.join(&mut h, &["orders", "audit"]);
    assert_eq!((r.member_epoch, r.heartbeat_interval_ms), (1, 5000));
    assert_eq!(r.member_id.as_deref(), Some("a"));
    let mut all = all_orders();
    all.insert(("audit".into(), 0));
    assert_eq!(names(&h, &r), Some(all.clone()));
    let g = h.broker.consumer_group(GROUP).unwrap();
    assert_eq!(
        (g.group_epoch, g.target_epoch, g.state),
        (1, 1, ConsumerGroupState::Stable)
    );
    assert_eq!(g.assignor, "uniform");
    assert_eq!(g.owners.len(), 5);
    assert_eq!(g.subscribed_topics.len(), 2);

    // Unchanged: no assignment in the response.
    let r = a.beat(&mut h);
    assert_eq!((r.error_code, r.member_epoch), (0, 1));
    assert_eq!(r.assignment, None);
    // A full request (as after an error) gets the whole assignment again.
    let mut full = join_req("a", &["orders", "audit"]);
    full.member_epoch = 1;
    full.topic_partitions = Some(wire_parts(&h, &a.owned));
    let r = hb(&mut h, 1, &full, 1);
    assert_eq!(names(&h, &r), Some(all));
    assert_eq!(
        h.broker.consumer_group(GROUP).unwrap().group_epoch,
        1,
        "same subscription"
    );

    // v0: the coordinator generates the member id.
    let r = hb(&mut h, 2, &join_req("", &["orders"]), 0);
    assert_eq!(r.error_code, 0);
    let id = r.member_id.unwrap().to_string();
    assert!(!id.is_empty());
    assert_eq!(r.member_epoch, 2);
    assert_eq!(h.broker.consumer_group_epochs(GROUP).len(), 2);
}

#[test]
fn cghb_second_member_gets_partitions_only_after_the_first_releases_them() {
    let mut h = Harness::new();
    let mut a = Client::new(1, "a");
    let mut b = Client::new(2, "b");
    a.join(&mut h, &["orders"]);
    assert_eq!(a.owned, all_orders());
    let r = b.join(&mut h, &["orders"]);
    assert_eq!(r.member_epoch, 2);
    assert_eq!(
        names(&h, &r),
        Some(Parts::new()),
        "its target is still owned by a"
    );
    assert_eq!(
        member_state(&h, "b"),
        (2, ConsumerMemberState::UnreleasedPartitions)
    );
    assert_disjoint(&[&a, &b]);

    // a must revoke two partitions first: it stays at epoch 1 and may keep only two.
    let r = a.beat(&mut h);
    assert_eq!(r.member_epoch, 1);
    let kept = names(&h, &r).expect("the assignment changed");
    assert_eq!(kept.len(), 2);
    assert_eq!(
        member_state(&h, "a"),
        (1, ConsumerMemberState::UnrevokedPartitions)
    );
    let g = h.broker.consumer_group(GROUP).unwrap();
    assert_eq!(g.state, ConsumerGroupState::Reconciling);
    let am = g.members.iter().find(|m| m.member_id == "a").unwrap();
    assert_eq!(am.pending_revocation.len(), 2);
    assert!(am.rebalance_deadline_ms.is_some());
    // b still gets nothing while a owns them.
    let r = b.beat(&mut h);
    assert_eq!(r.assignment, None);
    assert!(b.owned.is_empty());
    assert_disjoint(&[&a, &b]);

    // a reports the release: epoch 2, same assignment (so none in the response).
    let r = a.beat(&mut h);
    assert_eq!((r.member_epoch, r.assignment.as_ref()), (2, None));
    assert_eq!(a.owned, kept);
    // Now b gets the released partitions.
    let r = b.beat(&mut h);
    let got = names(&h, &r).unwrap();
    assert_eq!(got.len(), 2);
    assert!(got.is_disjoint(&kept));
    assert_disjoint(&[&a, &b]);
    let g = h.broker.consumer_group(GROUP).unwrap();
    assert_eq!(g.state, ConsumerGroupState::Stable);
    assert_eq!(member_state(&h, "b"), (2, ConsumerMemberState::Stable));

    // A third member: only moved partitions are revoked.
    let mut c = Client::new(3, "c");
    c.join(&mut h, &["orders"]);
    let before = (a.owned.clone(), b.owned.clone());
    for _ in 0..4 {
        for m in [&mut a, &mut b, &mut c] {
            m.beat(&mut h);
        }
        assert_disjoint(&[&a, &b, &c]);
    }
    assert!(a.owned.is_subset(&before.0) && b.owned.is_subset(&before.1));
    let total = a.owned.len() + b.owned.len() + c.owned.len();
    assert_eq!(total, 4);
    assert!(
        [a.owned.len(), b.owned.len(), c.owned.len()]
            .iter()
            .all(|&n| (1..=2).contains(&n))
    );
    assert_eq!(
        h.broker.consumer_group(GROUP).unwrap().state,
        ConsumerGroupState::Stable
    );
}

#[test]
fn cghb_previous_epoch_with_owned_subset_is_tolerated() {
    let mut h = Harness::new();
    let mut a = Client::new(1, "a");
    let mut b = Client::new(2, "b");
    a.join(&mut h, &["orders"]);
    b.join(&mut h, &["orders"]);
    a.beat(&mut h); // told to revoke, epoch 1
    let kept = a.owned.clone();
    // a releases; the response with epoch 2 is lost.
    let r = hbeat(&mut h, 1, "a", 1, Some(&kept));
    assert_eq!(r.member_epoch, 2);
    // It retries with epoch 1 and a subset of its assignment: accepted.
    let r = hbeat(&mut h, 1, "a", 1, Some(&kept));
    assert_eq!((r.error_code, r.member_epoch), (0, 2));
    // Epoch 1 claiming partitions it is not assigned: fenced.
    let r = hbeat(&mut h, 1, "a", 1, Some(&all_orders()));
    assert_eq!(r.error_code, ErrorCode::FENCED_MEMBER_EPOCH.0);
    // Epoch 1 without owned partitions: fenced too.
    let r = hbeat(&mut h, 1, "a", 1, None);
    assert_eq!(r.error_code, ErrorCode::FENCED_MEMBER_EPOCH.0);
    // An epoch from the future: fenced.
    let r = hbeat(&mut h, 1, "a", 3, Some(&kept));
    assert_eq!(r.error_code, ErrorCode::FENCED_MEMBER_EPOCH.0);
    // Epoch 0 is a join, which must not claim partitions.
    let r = hbeat(&mut h, 1, "a", 0, Some(&kept));
    assert_eq!(
        r.error_code,
        ErrorCode::INVALID_REQUEST.0,
        "epoch 0 with owned partitions"
    );
    // The member stays (fencing errors do not remove it) and rejoins with epoch 0.
    let r = hb(&mut h, 1, &join_req("a", &["orders"]), 1);
    assert_eq!((r.error_code, r.member_epoch), (0, 2));
    assert_eq!(names(&h, &r), Some(kept), "a full response after errors");
}

#[test]
fn cghb_rebalance_timeout_fences_a_member_stuck_revoking() {
    let mut h = Harness::with_config(BrokerConfig {
        consumer_session_timeout_ms: 60_000,
        ..BrokerConfig::default()
    });
    h.broker.create_topic("orders", 4);
    let mut a = Client::new(1, "a");
    let mut b = Client::new(2, "b");
    a.join(&mut h, &["orders"]);
    b.join(&mut h, &["orders"]);
    let stuck = a.owned.clone();
    hbeat(&mut h, 1, "a", 1, Some(&stuck));
    assert_eq!(
        member_state(&h, "a").1,
        ConsumerMemberState::UnrevokedPartitions
    );
    // a keeps heartbeating but never releases.
    for _ in 0..9 {
        h.advance(3_000);
        let r = hbeat(&mut h, 1, "a", 1, Some(&stuck));
        assert_eq!((r.error_code, r.member_epoch), (0, 1));
        b.beat(&mut h);
        assert!(b.owned.is_empty());
    }
    h.advance(3_001);
    let r = hbeat(&mut h, 1, "a", 1, Some(&stuck));
    assert_eq!(
        r.error_code,
        ErrorCode::UNKNOWN_MEMBER_ID.0,
        "fenced at 30 s"
    );
    let g = h.broker.consumer_group(GROUP).unwrap();
    assert_eq!(g.members.len(), 1);
    assert_eq!(g.group_epoch, 3);
    b.beat(&mut h);
    assert_eq!(b.owned, all_orders());
    assert!(
        h.broker.consumer_group_epochs(GROUP)[2]
            .2
            .contains("rebalance timeout")
    );
}

#[test]
fn cghb_session_timeout_removes_a_silent_member() {
    let mut h = Harness::with_config(BrokerConfig {
        consumer_session_timeout_ms: 10_000,
        consumer_heartbeat_interval_ms: 2_000,
        ..BrokerConfig::default()
    });
    h.broker.create_topic("orders", 4);
    let mut a = Client::new(1, "a");
    let mut b = Client::new(2, "b");
    let r = a.join(&mut h, &["orders"]);
    assert_eq!(r.heartbeat_interval_ms, 2_000);
    b.join(&mut h, &["orders"]);
    for _ in 0..3 {
        a.beat(&mut h);
        b.beat(&mut h);
    }
    assert_eq!(a.owned.len() + b.owned.len(), 4);
    // b goes silent; a keeps beating.
    for _ in 0..4 {
        h.advance(3_000);
        a.beat(&mut h);
    }
    let g = h.broker.consumer_group(GROUP).unwrap();
    assert_eq!(g.members.len(), 1, "{g:?}");
    assert_eq!(a.owned, all_orders());
    assert_eq!(b.beat(&mut h).error_code, ErrorCode::UNKNOWN_MEMBER_ID.0);
    assert!(
        h.broker.consumer_group_epochs(GROUP)[2]
            .2
            .contains("session timeout")
    );
}

#[test]
fn cghb_leave_with_minus_one_and_static_minus_two() {
    let mut h = Harness::new();
    let mut a = Client::new(1, "a");
    let mut s = Client::new(2, "s1");
    a.join(&mut h, &["orders"]);
    let mut req = join_req("s1", &["orders"]);
    req.instance_id = Some("inst".into());
    let r = hb(&mut h, 2, &req, 1);
    s.apply(&h, &r);
    for _ in 0..3 {
        a.beat(&mut h);
        s.beat(&mut h);
    }
    assert_eq!((a.owned.len(), s.owned.len()), (2, 2));
    let reserved = s.owned.clone();

    // Another member with the same instance id while s1 is active.
    let mut dup = join_req("s2", &["orders"]);
    dup.instance_id = Some("inst".into());
    assert_eq!(
        hb(&mut h, 3, &dup, 1).error_code,
        ErrorCode::UNRELEASED_INSTANCE_ID.0
    );

    // s1 leaves temporarily: its partitions stay reserved.
    let mut leave = beat_req("s1", s.epoch, None, &h);
    leave.member_epoch = -2;
    leave.instance_id = Some("inst".into());
    let r = hb(&mut h, 2, &leave, 1);
    assert_eq!((r.error_code, r.member_epoch), (0, -2));
    let epoch = h.broker.consumer_group(GROUP).unwrap().group_epoch;
    assert_eq!(member_state(&h, "s1").0, -2);
    for _ in 0..2 {
        a.beat(&mut h);
    }
    assert_eq!(a.owned.len(), 2, "s1's partitions are not handed out");
    // The replacement takes them over, at once and without a group epoch bump.
    let r = hb(&mut h, 3, &dup, 1);
    assert_eq!(r.error_code, 0, "{r:?}");
    assert_eq!(names(&h, &r), Some(reserved));
    let g = h.broker.consumer_group(GROUP).unwrap();
    assert_eq!(g.group_epoch, epoch);
    assert!(g.members.iter().all(|m| m.member_id != "s1"));
    // The old member id is gone.
    let r = hbeat(&mut h, 2, "s1", s.epoch, Some(&s.owned));
    assert_eq!(r.error_code, ErrorCode::UNKNOWN_MEMBER_ID.0);
    // Another member id claiming the instance id with an epoch: fenced instance.
    let mut wrong = beat_req("a", a.epoch, Some(&a.owned), &h);
    wrong.instance_id = Some("inst".into());
    assert_eq!(
        hb(&mut h, 1, &wrong, 1).error_code,
        ErrorCode::FENCED_INSTANCE_ID.0
    );

    // a leaves for good: its partitions are released and the epoch bumps.
    let r = hbeat(&mut h, 1, "a", -1, None);
    assert_eq!((r.error_code, r.member_epoch), (0, -1));
    let g = h.broker.consumer_group(GROUP).unwrap();
    assert_eq!((g.members.len(), g.group_epoch), (1, epoch + 1));
    let mut s2 = Client::new(3, "s2");
    s2.epoch = g.members[0].member_epoch;
    s2.owned = g.members[0].assigned.iter().cloned().collect();
    s2.beat(&mut h);
    assert_eq!(s2.owned, all_orders());

    // A -2 member that never comes back is removed at its session timeout.
    let mut leave = beat_req("s2", s2.epoch, None, &h);
    leave.member_epoch = -2;
    leave.instance_id = Some("inst".into());
    assert_eq!(hb(&mut h, 3, &leave, 1).error_code, 0);
    h.advance(44_000);
    assert_eq!(h.broker.consumer_group(GROUP).unwrap().members.len(), 1);
    h.advance(2_000);
    let g = h.broker.consumer_group(GROUP).unwrap();
    assert_eq!((g.members.len(), g.state), (0, ConsumerGroupState::Empty));
    assert!(g.owners.is_empty());
}

#[test]
fn cghb_unreleased_instance_id_until_the_old_member_leaves_or_expires() {
    let mut h = Harness::new();
    let mut one = join_req("m1", &["orders"]);
    one.instance_id = Some("i".into());
    assert_eq!(hb(&mut h, 1, &one, 1).error_code, 0);
    let mut two = join_req("m2", &["orders"]);
    two.instance_id = Some("i".into());
    assert_eq!(
        hb(&mut h, 2, &two, 1).error_code,
        ErrorCode::UNRELEASED_INSTANCE_ID.0
    );
    // Rejoining with the same member id while active is rejected as well (Kafka's rule).
    assert_eq!(
        hb(&mut h, 1, &one, 1).error_code,
        ErrorCode::UNRELEASED_INSTANCE_ID.0
    );
    // After the session timeout the instance id is free.
    h.advance(45_001);
    assert_eq!(hb(&mut h, 2, &two, 1).error_code, 0);
    // -1 from a static member removes it for good.
    let mut leave = beat_req("m2", 3, None, &h);
    leave.member_epoch = -1;
    leave.instance_id = Some("i".into());
    assert_eq!(hb(&mut h, 2, &leave, 1).error_code, 0);
    assert_eq!(hb(&mut h, 1, &one, 1).error_code, 0);
}

#[test]
fn cghb_offset_commit_and_fetch_check_the_member_epoch() {
    let mut h = Harness::new();
    let mut a = Client::new(1, "a");
    a.join(&mut h, &["orders"]);
    let ok = h.commit(1, "a", 1, &[("orders", 0, 7)], 9);
    assert_eq!(ok, vec![("orders".into(), 0, 0)]);
    assert_eq!(h.broker.committed(GROUP, "orders", 0), Some(7));
    let stale = h.commit(1, "a", 0, &[("orders", 0, 8)], 9);
    assert_eq!(stale[0].2, ErrorCode::STALE_MEMBER_EPOCH.0);
    let ahead = h.commit(1, "a", 2, &[("orders", 0, 8)], 10);
    assert_eq!(ahead[0].2, ErrorCode::STALE_MEMBER_EPOCH.0);
    let unknown = h.commit(1, "zed", 1, &[("orders", 0, 8)], 9);
    assert_eq!(unknown[0].2, ErrorCode::UNKNOWN_MEMBER_ID.0);
    let old = h.commit(1, "a", 1, &[("orders", 0, 8)], 8);
    assert_eq!(old[0].2, ErrorCode::UNSUPPORTED_VERSION.0);
    let simple = h.commit(1, "", -1, &[("orders", 0, 8)], 9);
    assert_eq!(
        simple[0].2,
        ErrorCode::UNKNOWN_MEMBER_ID.0,
        "the group has members"
    );
    assert_eq!(h.broker.committed(GROUP, "orders", 0), Some(7));

    let fetch = |member: Option<&str>, epoch: i32| OffsetFetchRequest {
        groups: vec![OffsetFetchRequestGroup {
            group_id: GROUP.into(),
            member_id: member.map(Into::into),
            member_epoch: epoch,
            topics: Some(vec![OffsetFetchRequestTopics {
                name: "orders".into(),
                partition_indexes: vec![0].into(),
                ..Default::default()
            }]),
            ..Default::default()
        }],
        ..Default::default()
    };
    for (member, epoch, code) in [
        (Some("a"), 1, 0),
        (None, -1, 0),
        (Some("a"), 0, ErrorCode::STALE_MEMBER_EPOCH.0),
        (Some("zed"), 1, ErrorCode::UNKNOWN_MEMBER_ID.0),
    ] {
        let id = h.send(1, &fetch(member, epoch), 9);
        let r = body!(h.take(1, id), OffsetFetch);
        assert_eq!(r.groups[0].error_code, code, "{member:?} {epoch}");
        if code == 0 {
            assert_eq!(r.groups[0].topics[0].partitions[0].committed_offset, 7);
        }
    }
    // Once empty, simple commits (epoch -1) are accepted again.
    hbeat(&mut h, 1, "a", -1, None);
    let simple = h.commit(1, "", -1, &[("orders", 0, 9)], 9);
    assert_eq!(simple[0].2, 0);
}

#[test]
fn cghb_regex_subscription_full_match_and_new_topics() {
    let mut h = Harness::new();
    let mut req = join_req("a", &[]);
    req.subscribed_topic_names = None;
    req.subscribed_topic_regex = Some("ord.*".into());
    let r = hb(&mut h, 1, &req, 1);
    assert_eq!(r.error_code, 0, "{r:?}");
    assert_eq!(names(&h, &r), Some(all_orders()));
    // Full match: "rders" matches nothing.
    let mut b = join_req("b", &[]);
    b.subscribed_topic_names = None;
    b.subscribed_topic_regex = Some("rders".into());
    let r = hb(&mut h, 2, &b, 1);
    assert_eq!(names(&h, &r), Some(Parts::new()));
    // Invalid regex.
    b.subscribed_topic_regex = Some("(".into());
    let r = hb(&mut h, 2, &b, 1);
    assert_eq!(r.error_code, ErrorCode::INVALID_REGULAR_EXPRESSION.0);
    // A new matching topic bumps the group epoch; a partition-count change too.
    let epoch = h.broker.consumer_group(GROUP).unwrap().group_epoch;
    h.broker.create_topic("orders-eu", 2);
    assert_eq!(
        h.broker.consumer_group(GROUP).unwrap().group_epoch,
        epoch + 1
    );
    h.broker.create_topic("logs", 3);
    assert_eq!(
        h.broker.consumer_group(GROUP).unwrap().group_epoch,
        epoch + 1,
        "not subscribed"
    );
    h.broker.create_topic("orders", 5);
    assert_eq!(
        h.broker.consumer_group(GROUP).unwrap().group_epoch,
        epoch + 2
    );
    let r = hbeat(&mut h, 1, "a", 1, Some(&all_orders()));
    let got = names(&h, &r).unwrap();
    assert_eq!(got.len(), 7, "{got:?}");
    assert!(got.contains(&("orders-eu".into(), 1)) && got.contains(&("orders".into(), 4)));
    let g = h.broker.consumer_group(GROUP).unwrap();
    assert_eq!(
        g.members[0].subscribed_topic_regex.as_deref(),
        Some("ord.*")
    );
    assert_eq!(g.subscribed_topics.get("orders"), Some(&5));
}

#[test]
fn cghb_request_validation() {
    let mut h = Harness::new();
    let code =
        |h: &mut Harness, req: &ConsumerGroupHeartbeatRequest, v: i16| hb(h, 1, req, v).error_code;
    let mut r = join_req("a", &["orders"]);
    r.rebalance_timeout_ms = -1;
    assert_eq!(code(&mut h, &r, 1), ErrorCode::INVALID_REQUEST.0);
    let mut r = join_req("a", &["orders"]);
    r.topic_partitions = Some(wire_parts(&h, &set(&[("orders", 0)])));
    assert_eq!(code(&mut h, &r, 1), ErrorCode::INVALID_REQUEST.0);
    let r = join_req("a", &[]);
    assert_eq!(code(&mut h, &r, 1), ErrorCode::INVALID_REQUEST.0);
    let r = join_req("", &["orders"]);
    assert_eq!(
        code(&mut h, &r, 1),
        ErrorCode::INVALID_REQUEST.0,
        "v1 needs a member id"
    );
    let r = beat_req("", 3, None, &h);
    assert_eq!(code(&mut h, &r, 0), ErrorCode::INVALID_REQUEST.0);
    let r = beat_req("", -1, None, &h);
    assert_eq!(code(&mut h, &r, 0), ErrorCode::INVALID_REQUEST.0);
    let r = beat_req("a", -2, None, &h);
    assert_eq!(
        code(&mut h, &r, 1),
        ErrorCode::INVALID_REQUEST.0,
        "-2 needs an instance id"
    );
    let r = beat_req("a", -3, None, &h);
    assert_eq!(code(&mut h, &r, 1), ErrorCode::INVALID_REQUEST.0);
    let mut r = join_req("a", &["orders"]);
    r.group_id = "".into();
    assert_eq!(code(&mut h, &r, 1), ErrorCode::INVALID_REQUEST.0);
    let mut r = join_req("a", &["orders"]);
    r.server_assignor = Some("sticky".into());
    assert_eq!(code(&mut h, &r, 1), ErrorCode::UNSUPPORTED_ASSIGNOR.0);
    let r = beat_req("a", 1, None, &h);
    assert_eq!(
        code(&mut h, &r, 1),
        ErrorCode::UNKNOWN_MEMBER_ID.0,
        "no such group"
    );
    assert!(
        h.broker.consumer_group(GROUP).is_none(),
        "no group from invalid requests"
    );
    assert_eq!(code(&mut h, &join_req("a", &["orders"]), 1), 0);
    let r = beat_req("b", 1, None, &h);
    assert_eq!(code(&mut h, &r, 1), ErrorCode::UNKNOWN_MEMBER_ID.0);
    // Coordinator faults, injected errors, and a restricted version range.
    h.broker.set_not_coordinator(true);
    assert_eq!(
        code(&mut h, &join_req("a", &["orders"]), 1),
        ErrorCode::NOT_COORDINATOR.0
    );
    h.broker.set_not_coordinator(false);
    h.broker.inject_error(
        ApiKey::ConsumerGroupHeartbeat,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.0,
        1,
    );
    assert_eq!(
        code(&mut h, &join_req("a", &["orders"]), 1),
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.0
    );
    assert_eq!(code(&mut h, &join_req("a", &["orders"]), 1), 0);
    h.broker.set_api_versions(
        ApiKey::ConsumerGroupHeartbeat,
        Some(VersionRange::new(0, 0)),
    );
    h.allow_errors = true;
    let id = h.send(1, &join_req("a", &["orders"]), 1);
    assert!(!h.answered(1, id), "v1 is no longer served");
    assert!(matches!(
        h.broker.errors()[0].kind,
        BrokerErrorKind::Unsupported {
            api_key: 68,
            version: 1
        }
    ));
}

#[test]
fn cghb_range_assignor_on_request() {
    let mut h = Harness::new();
    let mut a = Client::new(1, "a");
    let mut b = Client::new(2, "b");
    let mut req = join_req("a", &["orders", "audit"]);
    req.server_assignor = Some("range".into());
    let r = hb(&mut h, 1, &req, 1);
    a.apply(&h, &r);
    req.member_id = "b".into();
    let r = hb(&mut h, 2, &req, 1);
    b.apply(&h, &r);
    for _ in 0..3 {
        a.beat(&mut h);
        b.beat(&mut h);
        assert_disjoint(&[&a, &b]);
    }
    assert_eq!(h.broker.consumer_group(GROUP).unwrap().assignor, "range");
    assert_eq!(a.owned, set(&[("audit", 0), ("orders", 0), ("orders", 1)]));
    assert_eq!(b.owned, set(&[("orders", 2), ("orders", 3)]));
}

#[test]
fn classic_and_consumer_groups_exclude_each_other() {
    let mut h = Harness::new();
    let mut a = Client::new(1, "a");
    a.join(&mut h, &["orders"]);
    // A classic JoinGroup to a consumer group with members.
    let j = h.join(2, "", None, 9);
    let r = body!(h.take(2, j), JoinGroup);
    assert_eq!(r.error_code, ErrorCode::INCONSISTENT_GROUP_PROTOCOL.0);
    assert_eq!(
        h.hb_now(
            2,
            &Joined {
                conn: 2,
                id: "a".into(),
                instance: None,
                generation: 1,
                leader: false
            },
            4
        ),
        ErrorCode::UNKNOWN_MEMBER_ID.0
    );
    // Once the consumer group is empty, a classic member takes the id over (offsets kept).
    h.commit(1, "a", 1, &[("orders", 1, 5)], 9);
    hbeat(&mut h, 1, "a", -1, None);
    let m = h.form_group(&[(3, "c", None)]);
    assert!(h.broker.consumer_group(GROUP).is_none());
    assert_eq!(h.broker.committed(GROUP, "orders", 1), Some(5));
    // A consumer-protocol join to the classic group with members.
    let r = hb(&mut h, 4, &join_req("x", &["orders"]), 1);
    assert_eq!(r.error_code, ErrorCode::GROUP_ID_NOT_FOUND.0);
    // The classic group empties; the consumer protocol takes over.
    let req = LeaveGroupRequest {
        group_id: GROUP.into(),
        members: vec![MemberIdentity {
            member_id: m[0].id.as_str().into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let id = h.send(3, &req, 4);
    assert_eq!(body!(h.take(3, id), LeaveGroup).members[0].error_code, 0);
    let r = hb(&mut h, 4, &join_req("x", &["orders"]), 1);
    assert_eq!(r.error_code, 0);
    assert_eq!(h.broker.committed(GROUP, "orders", 1), Some(5));
    assert!(h.broker.group(GROUP).is_none());
}

/// Random but plausible heartbeats from misbehaving clients: the broker never panics, every
/// request is answered, and no partition is ever held by two members.
#[test]
fn cghb_random_requests_keep_partitions_exclusive() {
    let mut h = Harness::new();
    h.broker.create_topic("orders-eu", 3);
    let ids: Vec<Uuid> = ["orders", "audit", "orders-eu"]
        .iter()
        .map(|t| h.broker.topic_id(t).unwrap())
        .collect();
    let mut rng = testkit::SplitMix64::new(7);
    let mut pick = |n: u64| rng.next_u64() % n;
    let members = ["a", "b", "c", "d", "e"];
    let topics = ["orders", "audit", "orders-eu", "nope"];
    let regexes = ["", "ord.*", "(", ".*", "audit|logs"];
    let assignors = [None, Some("uniform"), Some("range"), Some("bogus")];
    let mut conn = 100;
    for step in 0..5_000u64 {
        let m = members[pick(5) as usize];
        let epoch = match pick(8) {
            0 | 1 => 0,
            2 => -1,
            3 => -2,
            4 => pick(20) as i32,
            _ => h
                .broker
                .consumer_group(GROUP)
                .and_then(|g| {
                    g.members
                        .iter()
                        .find(|x| x.member_id == m)
                        .map(|x| x.member_epoch)
                })
                .unwrap_or(1),
        };
        let owned: Vec<TopicPartitions> = (0..pick(3))
            .map(|_| TopicPartitions {
                topic_id: ids[pick(3) as usize],
                partitions: (0..pick(4))
                    .map(|_| pick(5) as i32)
                    .collect::<Vec<_>>()
                    .into(),
                ..Default::default()
            })
            .collect();
        let v = pick(2) as i16;
        let req = ConsumerGroupHeartbeatRequest {
            group_id: GROUP.into(),
            member_id: m.into(),
            member_epoch: epoch,
            instance_id: (pick(3) == 0).then(|| format!("i{}", pick(2)).into()),
            rack_id: None,
            rebalance_timeout_ms: if pick(2) == 0 { -1 } else { 5_000 },
            subscribed_topic_names: (pick(2) == 0).then(|| {
                (0..pick(3))
                    .map(|_| topics[pick(4) as usize].into())
                    .collect()
            }),
            subscribed_topic_regex: (v == 1 && pick(3) == 0)
                .then(|| regexes[pick(5) as usize].into()),
            server_assignor: assignors[pick(4) as usize].map(Into::into),
            topic_partitions: match pick(3) {
                0 => None,
                1 => Some(Vec::new()),
                _ => Some(owned),
            },
            ..Default::default()
        };
        conn += 1;
        let id = h.send(conn, &req, v);
        assert!(h.answered(conn, id), "step {step}: {req:?}");
        h.inbox.clear();
        if pick(10) == 0 {
            h.advance(pick(20_000));
        }
        if pick(500) == 0 {
            h.broker.create_topic("orders-eu", 3 + pick(3) as i32);
        }
        if let Some(g) = h.broker.consumer_group(GROUP) {
            let mut seen = BTreeSet::new();
            for x in &g.members {
                for tp in x.assigned.iter().chain(&x.pending_revocation) {
                    assert!(
                        seen.insert(tp.clone()),
                        "step {step}: {tp:?} held twice: {g:?}"
                    );
                }
            }
            assert_eq!(seen.len(), g.owners.len(), "step {step}");
            assert!(g.target_epoch <= g.group_epoch);
        }
    }
}

/// Valid heartbeat frames with random bytes overwritten: every one is answered or closes its
/// connection; the broker never panics.
#[test]
fn cghb_mutated_frames_never_break_the_broker() {
    let mut h = Harness::new();
    h.allow_errors = true;
    let mut rng = testkit::SplitMix64::new(11);
    let mut conn = 50_000;
    for i in 0..3_000u64 {
        let mut req = join_req(["a", "b", "c"][(i % 3) as usize], &["orders", "audit"]);
        req.member_epoch = [0, 1, 2, -1, -2][(i % 5) as usize];
        req.instance_id = (i % 7 == 0).then(|| "inst".into());
        if i % 2 == 1 {
            req.subscribed_topic_regex = Some("ord.*".into());
        }
        let v = (i % 2) as i16;
        let mut codec = ClientCodec::new(Some("fuzz".into()));
        let mut buf = BytesMut::new();
        codec.encode_request(&req, v, &mut buf).unwrap();
        let mut bytes = buf.freeze().slice(4..).to_vec();
        for _ in 0..1 + rng.next_u64() % 4 {
            // Keep the api key so the body reaches the ConsumerGroupHeartbeat decoder.
            let at = 2 + (rng.next_u64() as usize) % (bytes.len() - 2);
            bytes[at] = rng.next_u64() as u8;
        }
        if rng.next_u64() % 4 == 0 {
            let keep = 2 + (rng.next_u64() as usize) % (bytes.len() - 2);
            bytes.truncate(keep);
        }
        conn += 1;
        h.codecs.insert(conn, codec);
        h.broker.handle_frame(h.now, conn, Bytes::from(bytes));
        while let Some((c, f)) = h.broker.poll_output() {
            // A mutated correlation id may not decode on the client side: that is fine.
            let _ = h.codecs.get_mut(&c).map(|codec| codec.decode_response(f));
        }
        while h.broker.poll_closed().is_some() {}
        if i % 50 == 0 {
            h.advance(5_000);
        }
    }
    assert!(
        h.broker
            .stats()
            .requests
            .get(&ApiKey::ConsumerGroupHeartbeat)
            .copied()
            .unwrap_or(0)
            > 100
    );
}
