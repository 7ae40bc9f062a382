//! Integration tests: the model broker driven with kafka-wire requests, decoded with
//! kafka-wire's `ClientCodec` (every response frame must decode), plus the network simulator.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use kafka_wire::error_code::ErrorCode;
use kafka_wire::generated::find_coordinator_request::FindCoordinatorRequest;
use kafka_wire::generated::join_group_request::JoinGroupRequestProtocol;
use kafka_wire::generated::leave_group_request::MemberIdentity;
use kafka_wire::generated::metadata_request::MetadataRequestTopic;
use kafka_wire::generated::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_wire::generated::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_wire::generated::sync_group_request::SyncGroupRequestAssignment;
use kafka_wire::generated::{
    ApiVersionsRequest, ApiVersionsResponse, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse,
    LeaveGroupRequest, MetadataRequest, OffsetCommitRequest, OffsetFetchRequest, ProduceRequest,
    SyncGroupRequest, SyncGroupResponse,
};
use kafka_wire::{AnyRequest, AnyResponse, ApiKey, ClientCodec, CorrelationId, Decode, Request};
use kafka_wire::{Uuid, VersionRange, frame};
use testkit::{
    BrokerConfig, BrokerErrorKind, ConnId, Delivery, GroupState, ModelBroker, NetConfig, NetSim,
};

const GROUP: &str = "g";
const SESSION: i32 = 10_000;
const REBALANCE: i32 = 30_000;

macro_rules! body {
    ($resp:expr, $variant:ident) => {
        match $resp {
            AnyResponse::$variant(r) => r,
            other => panic!("expected {}, got {other:?}", stringify!($variant)),
        }
    };
}

/// A response as the client saw it.
#[derive(Debug)]
struct Got {
    at: u64,
    conn: ConnId,
    id: CorrelationId,
    body: AnyResponse,
}

/// The broker, a virtual clock and one `ClientCodec` per connection.
struct Harness {
    broker: ModelBroker,
    now: u64,
    codecs: BTreeMap<ConnId, ClientCodec>,
    inbox: Vec<Got>,
    /// Whether broker errors (closed connections) are expected in this test.
    allow_errors: bool,
}

impl Harness {
    /// Sends `req` at version `v` as the first request of connection `conn`, and checks that
    /// the broker answered it or parked it (never dropped it). `seed` names the case.
    fn send_on_new_conn_and_check(&mut self, conn: u64, req: &AnyRequest, v: i16, seed: u64) {
        let codec = self
            .codecs
            .entry(conn)
            .or_insert_with(|| ClientCodec::new(None));
        let mut buf = BytesMut::new();
        codec.encode_any(req, v, &mut buf).unwrap();
        let f = frame::split(&mut buf, frame::DEFAULT_MAX_FRAME)
            .unwrap()
            .unwrap();
        self.broker.handle_frame(self.now, conn, f);
        self.collect();
        let answered = self.inbox.iter().any(|x| x.conn == conn);
        let api = req.api_key();
        assert!(
            answered || self.broker.is_busy(conn),
            "{api:?} v{v} seed {seed}: no answer and not parked: {req:?}"
        );
    }

    fn new() -> Self {
        Self::with_config(BrokerConfig::default())
    }

    fn with_config(cfg: BrokerConfig) -> Self {
        let mut broker = ModelBroker::new(cfg);
        broker.create_topic("orders", 4);
        broker.create_topic("audit", 1);
        Self {
            broker,
            now: 0,
            codecs: BTreeMap::new(),
            inbox: Vec::new(),
            allow_errors: false,
        }
    }

    /// Registers `conn` with a client id (member ids are `{client_id}-{n}`).
    fn client(&mut self, conn: ConnId, client_id: &str) {
        self.codecs
            .entry(conn)
            .or_insert_with(|| ClientCodec::new(Some(client_id.into())));
    }

    fn send<R: Request>(&mut self, conn: ConnId, req: &R, version: i16) -> CorrelationId {
        let codec = self
            .codecs
            .entry(conn)
            .or_insert_with(|| ClientCodec::new(Some(format!("c{conn}").into())));
        let mut buf = BytesMut::new();
        let id = codec
            .encode_request(req, version, &mut buf)
            .expect("request encodes");
        let f = frame::split(&mut buf, frame::DEFAULT_MAX_FRAME)
            .expect("valid frame")
            .expect("whole frame");
        self.broker.handle_frame(self.now, conn, f);
        self.collect();
        id
    }

    /// Decodes every output frame with the connection's codec.
    fn collect(&mut self) {
        while let Some((conn, f)) = self.broker.poll_output() {
            let codec = self.codecs.get_mut(&conn).expect("known connection");
            let (id, _key, _version, body) = codec
                .decode_response(f)
                .expect("every response frame decodes");
            self.inbox.push(Got {
                at: self.now,
                conn,
                id,
                body,
            });
        }
        if !self.allow_errors {
            assert!(
                self.broker.errors().is_empty(),
                "{:?}",
                self.broker.errors()
            );
        }
    }

    /// Moves the clock to `until`, firing every timer on the way at its deadline.
    fn advance_to(&mut self, until: u64) {
        while let Some(t) = self.broker.poll_timeout() {
            if t > until {
                break;
            }
            assert!(t >= self.now, "timer in the past: {t} < {}", self.now);
            self.now = t;
            self.broker.handle_timeout(t);
            self.collect();
        }
        self.now = until;
        self.broker.handle_timeout(until);
        self.collect();
    }

    fn advance(&mut self, ms: u64) {
        self.advance_to(self.now + ms);
    }

    fn answered(&self, conn: ConnId, id: CorrelationId) -> bool {
        self.inbox.iter().any(|g| g.conn == conn && g.id == id)
    }

    fn take_got(&mut self, conn: ConnId, id: CorrelationId) -> Got {
        let i = self
            .inbox
            .iter()
            .position(|g| g.conn == conn && g.id == id)
            .unwrap_or_else(|| panic!("no response for conn {conn} id {id:?}"));
        self.inbox.remove(i)
    }

    fn take(&mut self, conn: ConnId, id: CorrelationId) -> AnyResponse {
        self.take_got(conn, id).body
    }

    // ---- request builders ---------------------------------------------------------------

    fn join(
        &mut self,
        conn: ConnId,
        member_id: &str,
        instance: Option<&str>,
        version: i16,
    ) -> CorrelationId {
        let req = join_request(conn, member_id, instance, version);
        self.send(conn, &req, version)
    }

    /// The KIP-394 handshake: JoinGroup without member id, answered at once.
    fn handshake(&mut self, conn: ConnId) -> String {
        let id = self.join(conn, "", None, 9);
        let r = body!(self.take(conn, id), JoinGroup);
        assert_eq!(r.error_code, ErrorCode::MEMBER_ID_REQUIRED.0);
        assert_eq!(r.generation_id, -1);
        r.member_id.to_string()
    }

    fn sync(
        &mut self,
        conn: ConnId,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
        assignments: &[(String, Bytes)],
        version: i16,
    ) -> CorrelationId {
        let req = SyncGroupRequest {
            group_id: GROUP.into(),
            generation_id: generation,
            member_id: member_id.into(),
            group_instance_id: instance.filter(|_| version >= 3).map(Into::into),
            protocol_type: (version >= 5).then(|| "consumer".into()),
            protocol_name: (version >= 5).then(|| "range".into()),
            assignments: assignments
                .iter()
                .map(|(m, a)| SyncGroupRequestAssignment {
                    member_id: m.as_str().into(),
                    assignment: a.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        self.send(conn, &req, version)
    }

    fn heartbeat(
        &mut self,
        conn: ConnId,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
        version: i16,
    ) -> CorrelationId {
        let req = HeartbeatRequest {
            group_id: GROUP.into(),
            generation_id: generation,
            member_id: member_id.into(),
            group_instance_id: instance.filter(|_| version >= 3).map(Into::into),
            ..Default::default()
        };
        self.send(conn, &req, version)
    }

    /// Sends a heartbeat and returns its (immediate) error code.
    fn hb_now(&mut self, conn: ConnId, member: &Joined, version: i16) -> i16 {
        let id = self.heartbeat(
            conn,
            &member.id,
            member.instance.as_deref(),
            member.generation,
            version,
        );
        body!(self.take(conn, id), Heartbeat).error_code
    }

    fn commit(
        &mut self,
        conn: ConnId,
        member_id: &str,
        generation: i32,
        offsets: &[(&str, i32, i64)],
        version: i16,
    ) -> Vec<(String, i32, i16)> {
        let req = commit_request(&self.broker, member_id, generation, offsets, version);
        let id = self.send(conn, &req, version);
        let r = body!(self.take(conn, id), OffsetCommit);
        let mut out = Vec::new();
        for t in r.topics {
            let name = if version >= 10 {
                topic_name(&self.broker, t.topic_id)
            } else {
                t.name.to_string()
            };
            for p in t.partitions {
                out.push((name.clone(), p.partition_index, p.error_code));
            }
        }
        out
    }

    /// Forms a Stable group at JoinGroup v9 / SyncGroup v5. Followers sync before the leader;
    /// the leader assigns `assign-{member_id}` to everyone.
    fn form_group(&mut self, specs: &[(ConnId, &str, Option<&str>)]) -> Vec<Joined> {
        for &(conn, client, _) in specs {
            self.client(conn, client);
        }
        let ids: Vec<String> = specs
            .iter()
            .map(|&(conn, _, inst)| {
                if inst.is_some() {
                    String::new()
                } else {
                    self.handshake(conn)
                }
            })
            .collect();
        let corrs: Vec<CorrelationId> = specs
            .iter()
            .zip(&ids)
            .map(|(&(conn, _, inst), id)| self.join(conn, id, inst, 9))
            .collect();
        let deadline = self.now + 60_000;
        while !specs
            .iter()
            .zip(&corrs)
            .all(|(&(conn, _, _), &c)| self.answered(conn, c))
        {
            assert!(self.now < deadline, "join phase never completed");
            self.advance(500);
        }
        let joins: Vec<JoinGroupResponse> = specs
            .iter()
            .zip(&corrs)
            .map(|(&(conn, _, _), &c)| body!(self.take(conn, c), JoinGroup))
            .collect();
        let members: Vec<Joined> = specs
            .iter()
            .zip(&joins)
            .map(|(&(conn, _, inst), j)| {
                assert_eq!(j.error_code, 0, "{j:?}");
                Joined {
                    conn,
                    id: j.member_id.to_string(),
                    instance: inst.map(str::to_owned),
                    generation: j.generation_id,
                    leader: j.leader == j.member_id,
                }
            })
            .collect();
        let assignments: Vec<(String, Bytes)> = members
            .iter()
            .map(|m| (m.id.clone(), assignment_for(&m.id)))
            .collect();
        let mut syncs = Vec::new();
        for m in members.iter().filter(|m| !m.leader) {
            let c = self.sync(m.conn, &m.id, m.instance.as_deref(), m.generation, &[], 5);
            syncs.push((m.conn, c));
        }
        for m in members.iter().filter(|m| m.leader) {
            let c = self.sync(
                m.conn,
                &m.id,
                m.instance.as_deref(),
                m.generation,
                &assignments,
                5,
            );
            syncs.push((m.conn, c));
        }
        for (conn, c) in syncs {
            let r = body!(self.take(conn, c), SyncGroup);
            assert_eq!(r.error_code, 0);
        }
        assert_eq!(self.state(), GroupState::Stable);
        members
    }

    fn state(&self) -> GroupState {
        self.broker.group(GROUP).expect("group exists").state
    }
}

/// A member as the test knows it after joining.
#[derive(Debug, Clone)]
struct Joined {
    conn: ConnId,
    id: String,
    instance: Option<String>,
    generation: i32,
    leader: bool,
}

fn assignment_for(member_id: &str) -> Bytes {
    Bytes::from(format!("assign-{member_id}"))
}

fn metadata_for(conn: ConnId) -> Bytes {
    Bytes::from(format!("meta-{conn}"))
}

fn join_request(
    conn: ConnId,
    member_id: &str,
    instance: Option<&str>,
    version: i16,
) -> JoinGroupRequest {
    JoinGroupRequest {
        group_id: GROUP.into(),
        session_timeout_ms: SESSION,
        rebalance_timeout_ms: if version >= 1 { REBALANCE } else { -1 },
        member_id: member_id.into(),
        group_instance_id: instance.filter(|_| version >= 5).map(Into::into),
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: metadata_for(conn),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn commit_request(
    broker: &ModelBroker,
    member_id: &str,
    generation: i32,
    offsets: &[(&str, i32, i64)],
    version: i16,
) -> OffsetCommitRequest {
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    for &(topic, partition, offset) in offsets {
        let p = OffsetCommitRequestPartition {
            partition_index: partition,
            committed_offset: offset,
            committed_leader_epoch: if version >= 6 { 3 } else { -1 },
            committed_metadata: Some("m".into()),
            ..Default::default()
        };
        let (name, id) = if version >= 10 {
            (String::new(), broker.topic_id(topic).unwrap_or(Uuid::ZERO))
        } else {
            (topic.to_owned(), Uuid::ZERO)
        };
        match topics
            .iter_mut()
            .find(|t| t.name == name.as_str() && t.topic_id == id)
        {
            Some(t) => t.partitions.push(p),
            None => topics.push(OffsetCommitRequestTopic {
                name: name.as_str().into(),
                topic_id: id,
                partitions: vec![p],
                ..Default::default()
            }),
        }
    }
    OffsetCommitRequest {
        group_id: GROUP.into(),
        generation_id_or_member_epoch: if version >= 1 { generation } else { -1 },
        member_id: if version >= 1 {
            member_id.into()
        } else {
            "".into()
        },
        topics,
        ..Default::default()
    }
}

fn topic_name(broker: &ModelBroker, id: Uuid) -> String {
    ["orders", "audit"]
        .into_iter()
        .find(|t| broker.topic_id(t) == Some(id))
        .unwrap_or("?")
        .to_owned()
}

// ---- (a) the happy path ---------------------------------------------------------------------

#[test]
fn two_dynamic_members_join_sync_and_heartbeat() {
    let mut h = Harness::new();
    h.client(1, "a");
    h.client(2, "b");
    let a = h.handshake(1);
    let b = h.handshake(2);
    assert_eq!((a.as_str(), b.as_str()), ("a-1", "b-2"));
    assert_eq!(
        h.broker.group(GROUP).unwrap().pending_members,
        vec!["a-1", "b-2"]
    );
    assert_eq!(
        h.state(),
        GroupState::Empty,
        "pending members do not rebalance"
    );

    let ja = h.join(1, &a, None, 9);
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    h.advance(100);
    let jb = h.join(2, &b, None, 9);
    // b arrived during the initial delay: the delay is extended once (3 s + 3 s).
    h.advance_to(5_999);
    assert!(!h.answered(1, ja) && !h.answered(2, jb));
    assert_eq!(h.broker.stats().parked_joins, 2);
    h.advance_to(6_000);
    let ra = body!(h.take(1, ja), JoinGroup);
    let rb = body!(h.take(2, jb), JoinGroup);
    for r in [&ra, &rb] {
        assert_eq!(r.error_code, 0);
        assert_eq!(r.generation_id, 1);
        assert_eq!(r.leader, "a-1", "the first member to join leads");
        assert_eq!(r.protocol_type.as_deref(), Some("consumer"));
        assert_eq!(r.protocol_name.as_deref(), Some("range"));
        assert!(!r.skip_assignment);
    }
    let metas: Vec<(&str, &[u8])> = ra
        .members
        .iter()
        .map(|m| (&*m.member_id, &m.metadata[..]))
        .collect();
    assert_eq!(
        metas,
        vec![("a-1", &b"meta-1"[..]), ("b-2", &b"meta-2"[..])]
    );
    assert!(rb.members.is_empty(), "followers get no member list");
    assert_eq!(h.state(), GroupState::CompletingRebalance);

    // The follower's SyncGroup waits for the leader's.
    let sb = h.sync(2, &b, None, 1, &[], 5);
    h.advance(1_000);
    assert!(!h.answered(2, sb));
    assert!(h.broker.is_busy(2));
    assert_eq!(h.broker.stats().parked_syncs, 1);
    let plan = vec![
        ("a-1".to_owned(), Bytes::from_static(b"A")),
        ("b-2".to_owned(), Bytes::from_static(b"B")),
    ];
    let sa = h.sync(1, &a, None, 1, &plan, 5);
    let ra = body!(h.take(1, sa), SyncGroup);
    let rb = body!(h.take(2, sb), SyncGroup);
    assert_eq!((ra.error_code, &ra.assignment[..]), (0, &b"A"[..]));
    assert_eq!((rb.error_code, &rb.assignment[..]), (0, &b"B"[..]));
    assert_eq!(rb.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(rb.protocol_name.as_deref(), Some("range"));
    assert_eq!(h.state(), GroupState::Stable);

    let view = h.broker.group(GROUP).unwrap();
    assert_eq!(view.generation, 1);
    assert_eq!(view.leader.as_deref(), Some("a-1"));
    assert_eq!(view.protocol.as_deref(), Some("range"));
    let assigned: Vec<(&str, &[u8])> = view
        .members
        .iter()
        .map(|m| (m.member_id.as_str(), &m.assignment[..]))
        .collect();
    assert_eq!(assigned, vec![("a-1", &b"A"[..]), ("b-2", &b"B"[..])]);

    for (conn, id) in [(1, &a), (2, &b)] {
        let hb = h.heartbeat(conn, id, None, 1, 4);
        assert_eq!(body!(h.take(conn, hb), Heartbeat).error_code, 0);
    }
    let states: Vec<(u64, GroupState)> = h
        .broker
        .transitions(GROUP)
        .iter()
        .map(|t| (t.at_ms, t.to))
        .collect();
    assert_eq!(
        states,
        vec![
            (0, GroupState::Empty),
            (0, GroupState::PreparingRebalance),
            (6_000, GroupState::CompletingRebalance),
            (7_000, GroupState::Stable),
        ]
    );
    assert_eq!(h.broker.stats().requests[&ApiKey::JoinGroup], 4);
}

// ---- (b) head-of-line blocking --------------------------------------------------------------

#[test]
fn parked_join_blocks_later_requests_on_its_connection_only() {
    let mut h = Harness::new();
    let m = h.form_group(&[(1, "a", None), (2, "b", None)]);
    let (leader, follower) = (&m[0], &m[1]);
    assert!(leader.leader);
    // The leader rejoins: PreparingRebalance, parked until the follower rejoins.
    let j = h.join(1, &leader.id, None, 9);
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    assert!(!h.answered(1, j));
    // A heartbeat behind it on the same connection waits ...
    let blocked = h.heartbeat(1, &leader.id, None, 1, 4);
    assert!(!h.answered(1, blocked));
    assert_eq!(h.broker.queued(1), 1);
    assert_eq!(h.broker.stats().queued_frames, 1);
    // ... while the same heartbeat on another connection is answered at once.
    h.client(3, "a");
    let free = h.heartbeat(3, &leader.id, None, 1, 4);
    assert_eq!(
        body!(h.take(3, free), Heartbeat).error_code,
        ErrorCode::REBALANCE_IN_PROGRESS.0
    );
    h.advance(2_000);
    assert!(!h.answered(1, blocked));
    // The follower rejoins: everyone is in, the join completes at once.
    let jf = h.join(2, &follower.id, None, 9);
    let t = h.now;
    let rj = h.take_got(1, j);
    let rhb = h.take_got(1, blocked);
    assert_eq!(body!(h.take(2, jf), JoinGroup).generation_id, 2);
    assert_eq!(body!(rj.body, JoinGroup).generation_id, 2);
    assert_eq!(
        (rj.at, rhb.at),
        (t, t),
        "the heartbeat runs right after the join"
    );
    assert_eq!(
        body!(rhb.body, Heartbeat).error_code,
        ErrorCode::ILLEGAL_GENERATION.0,
        "it was sent for generation 1"
    );
    assert_eq!(h.broker.queued(1), 0);
    assert!(!h.broker.is_busy(1));
}

// ---- (c) session expiry ----------------------------------------------------------------------

#[test]
fn silent_member_expires_and_the_group_rebalances() {
    let mut h = Harness::new();
    let m = h.form_group(&[(1, "a", None), (2, "b", None)]);
    let synced_at = h.now;
    // a heartbeats every 3 s; b stays silent.
    while h.now < synced_at + SESSION as u64 - 1_000 {
        h.advance(3_000);
        assert_eq!(h.hb_now(1, &m[0], 4), 0);
    }
    assert_eq!(h.state(), GroupState::Stable);
    h.advance_to(synced_at + SESSION as u64);
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    let last = h.broker.transitions(GROUP).last().unwrap().clone();
    assert_eq!(last.at_ms, synced_at + SESSION as u64);
    assert!(last.reason.contains("session timeout of b-2"), "{last:?}");
    assert_eq!(h.hb_now(1, &m[0], 4), ErrorCode::REBALANCE_IN_PROGRESS.0);
    assert_eq!(
        h.hb_now(2, &m[1], 4),
        ErrorCode::UNKNOWN_MEMBER_ID.0,
        "b is gone"
    );
    // a rejoins alone: nothing else to wait for.
    let j = h.join(1, &m[0].id, None, 9);
    let r = body!(h.take(1, j), JoinGroup);
    assert_eq!((r.generation_id, r.members.len()), (2, 1));
}

// ---- (d) LeaveGroup ------------------------------------------------------------------------

#[test]
fn leave_group_v3_batch_removes_members_and_rebalances() {
    let mut h = Harness::new();
    let m = h.form_group(&[(1, "a", None), (2, "b", Some("pod-b")), (3, "c", None)]);
    let req = LeaveGroupRequest {
        group_id: GROUP.into(),
        members: vec![
            MemberIdentity {
                member_id: m[0].id.as_str().into(),
                group_instance_id: None,
                ..Default::default()
            },
            // Administrative removal of a static member by instance id only.
            MemberIdentity {
                member_id: "".into(),
                group_instance_id: Some("pod-b".into()),
                ..Default::default()
            },
            MemberIdentity {
                member_id: "nobody".into(),
                group_instance_id: None,
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let id = h.send(9, &req, 3);
    let r = body!(h.take(9, id), LeaveGroup);
    assert_eq!(r.error_code, 0);
    let codes: Vec<(&str, i16)> = r
        .members
        .iter()
        .map(|x| (&*x.member_id, x.error_code))
        .collect();
    assert_eq!(
        codes,
        vec![
            (m[0].id.as_str(), 0),
            ("", 0),
            ("nobody", ErrorCode::UNKNOWN_MEMBER_ID.0)
        ]
    );
    let view = h.broker.group(GROUP).unwrap();
    assert_eq!(view.state, GroupState::PreparingRebalance);
    assert_eq!(view.members.len(), 1);
    assert_eq!(
        view.leader.as_deref(),
        Some(m[2].id.as_str()),
        "next leader"
    );
    let j = h.join(3, &m[2].id, None, 9);
    let r = body!(h.take(3, j), JoinGroup);
    assert_eq!((r.generation_id, &*r.leader), (2, m[2].id.as_str()));
}

#[test]
fn leave_group_v0_to_v2_single_member() {
    for version in 0..=2 {
        let mut h = Harness::new();
        let m = h.form_group(&[(1, "a", None), (2, "b", None)]);
        let req = LeaveGroupRequest {
            group_id: GROUP.into(),
            member_id: m[1].id.as_str().into(),
            ..Default::default()
        };
        let id = h.send(2, &req, version);
        assert_eq!(body!(h.take(2, id), LeaveGroup).error_code, 0);
        let id = h.send(2, &req, version);
        assert_eq!(
            body!(h.take(2, id), LeaveGroup).error_code,
            ErrorCode::UNKNOWN_MEMBER_ID.0,
            "v{version}: already gone"
        );
        assert_eq!(h.state(), GroupState::PreparingRebalance);
    }
}

// ---- (e) static membership -------------------------------------------------------------------

#[test]
fn static_member_replacement_fences_the_old_member_id() {
    let mut h = Harness::new();
    let m = h.form_group(&[(1, "d", None), (2, "s", Some("pod-1"))]);
    let old = m[1].clone();
    assert!(old.id.starts_with("pod-1-"), "{}", old.id);
    // A new process with the same instance id joins (Stable, same protocols): no rebalance.
    h.client(5, "s");
    let j = h.join(5, "", Some("pod-1"), 9);
    let r = body!(h.take(5, j), JoinGroup);
    assert_eq!(r.error_code, 0);
    assert_eq!(r.generation_id, 1, "no rebalance");
    assert_eq!(r.leader, m[0].id, "the leader stays");
    assert!(!r.skip_assignment && r.members.is_empty());
    let new = Joined {
        conn: 5,
        id: r.member_id.to_string(),
        instance: Some("pod-1".into()),
        generation: 1,
        leader: false,
    };
    assert_ne!(new.id, old.id);
    assert_eq!(h.state(), GroupState::Stable);
    // The old member is fenced.
    assert_eq!(h.hb_now(2, &old, 4), ErrorCode::FENCED_INSTANCE_ID.0);
    // The new one gets the old assignment without a rebalance.
    let s = h.sync(5, &new.id, Some("pod-1"), 1, &[], 5);
    let r = body!(h.take(5, s), SyncGroup);
    assert_eq!(&r.assignment[..], assignment_for(&old.id));
    assert_eq!(h.hb_now(5, &new, 4), 0);
}

#[test]
fn static_leader_rejoin_in_stable_v9_skips_assignment_and_v5_hides_leadership() {
    for (version, expect_skip) in [(9i16, true), (5, false)] {
        let mut h = Harness::new();
        let m = h.form_group(&[(1, "s", Some("pod-0")), (2, "d", None)]);
        assert!(m[0].leader);
        h.client(7, "s");
        let j = h.join(7, "", Some("pod-0"), version);
        let r = body!(h.take(7, j), JoinGroup);
        assert_eq!(r.error_code, 0);
        assert_eq!(r.generation_id, 1, "v{version}: no rebalance");
        assert_eq!(r.skip_assignment, expect_skip);
        if expect_skip {
            assert_eq!(
                r.leader, r.member_id,
                "v9: told it leads, and to skip assigning"
            );
            assert_eq!(r.members.len(), 2);
        } else {
            assert_eq!(
                r.leader, m[0].id,
                "before v9: the old leader id, so it won't assign"
            );
        }
        let view = h.broker.group(GROUP).unwrap();
        assert_eq!(
            view.leader.as_deref(),
            Some(&*r.member_id),
            "leadership follows"
        );
        assert_eq!(view.state, GroupState::Stable);
        assert_eq!(h.hb_now(1, &m[0], 4), ErrorCode::FENCED_INSTANCE_ID.0);
    }
}

#[test]
fn static_replacement_fences_a_parked_join() {
    let mut h = Harness::new();
    let m = h.form_group(&[(1, "d", None), (2, "s", Some("pod-1"))]);
    // The static member rejoins with new metadata: rebalance; it waits for d.
    let mut req = join_request(2, &m[1].id, Some("pod-1"), 9);
    req.protocols[0].metadata = Bytes::from_static(b"changed");
    let parked = h.send(2, &req, 9);
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    assert!(!h.answered(2, parked));
    // Another process with the same instance id arrives: the parked join is fenced, the new
    // one takes its place and waits.
    h.client(4, "s");
    let j = h.join(4, "", Some("pod-1"), 9);
    let fenced = body!(h.take(2, parked), JoinGroup);
    assert_eq!(fenced.error_code, ErrorCode::FENCED_INSTANCE_ID.0);
    assert_eq!(fenced.member_id, m[1].id);
    assert!(!h.answered(4, j));
    let jd = h.join(1, &m[0].id, None, 9);
    let r = body!(h.take(4, j), JoinGroup);
    assert_eq!(r.generation_id, 2);
    assert_ne!(r.member_id, m[1].id);
    assert_eq!(body!(h.take(1, jd), JoinGroup).generation_id, 2);
}

#[test]
fn static_replacement_fences_a_parked_sync_and_forces_a_rebalance() {
    let mut h = Harness::new();
    h.client(1, "d");
    h.client(2, "s");
    let d = h.handshake(1);
    let jd = h.join(1, &d, None, 9);
    let js = h.join(2, "", Some("pod-1"), 9);
    h.advance(6_000);
    assert_eq!(body!(h.take(1, jd), JoinGroup).leader, d);
    let s = body!(h.take(2, js), JoinGroup).member_id.to_string();
    let parked = h.sync(2, &s, Some("pod-1"), 1, &[], 5);
    assert!(!h.answered(2, parked));
    // A new process for pod-1 while the group is CompletingRebalance.
    h.client(3, "s");
    let j3 = h.join(3, "", Some("pod-1"), 9);
    let r = body!(h.take(2, parked), SyncGroup);
    assert_eq!(r.error_code, ErrorCode::FENCED_INSTANCE_ID.0);
    assert_eq!(
        h.state(),
        GroupState::PreparingRebalance,
        "forced rebalance"
    );
    assert!(!h.answered(3, j3));
    let jd = h.join(1, &d, None, 9);
    assert_eq!(body!(h.take(3, j3), JoinGroup).generation_id, 2);
    assert_eq!(body!(h.take(1, jd), JoinGroup).generation_id, 2);
}

// ---- (f) offsets ---------------------------------------------------------------------------

#[test]
fn offset_commit_and_fetch_round_trip() {
    let mut h = Harness::new();
    let m = h.form_group(&[(1, "a", None)]);
    let res = h.commit(1, &m[0].id, 1, &[("orders", 0, 42), ("orders", 1, 7)], 8);
    assert_eq!(res, vec![("orders".into(), 0, 0), ("orders".into(), 1, 0)]);
    assert_eq!(h.broker.committed(GROUP, "orders", 0), Some(42));
    assert_eq!(h.broker.committed(GROUP, "orders", 1), Some(7));
    assert_eq!(h.broker.committed(GROUP, "orders", 2), None);

    // Single group (v7).
    let req = OffsetFetchRequest {
        group_id: GROUP.into(),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: "orders".into(),
            partition_indexes: vec![0, 1, 2].into(),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let id = h.send(1, &req, 7);
    let r = body!(h.take(1, id), OffsetFetch);
    assert_eq!(r.error_code, 0);
    let got: Vec<(i32, i64, i32)> = r.topics[0]
        .partitions
        .iter()
        .map(|p| {
            (
                p.partition_index,
                p.committed_offset,
                p.committed_leader_epoch,
            )
        })
        .collect();
    assert_eq!(got, vec![(0, 42, 3), (1, 7, 3), (2, -1, -1)]);

    // Batched groups (v8): all topics of g, and an unknown group.
    let req = OffsetFetchRequest {
        groups: vec![
            OffsetFetchRequestGroup {
                group_id: GROUP.into(),
                topics: None,
                ..Default::default()
            },
            OffsetFetchRequestGroup {
                group_id: "other".into(),
                topics: Some(vec![OffsetFetchRequestTopics {
                    name: "orders".into(),
                    partition_indexes: vec![0].into(),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let id = h.send(1, &req, 8);
    let r = body!(h.take(1, id), OffsetFetch);
    let g: Vec<(String, String, i32, i64)> = r
        .groups
        .iter()
        .flat_map(|g| {
            g.topics.iter().flat_map(move |t| {
                t.partitions.iter().map(move |p| {
                    (
                        g.group_id.to_string(),
                        t.name.to_string(),
                        p.partition_index,
                        p.committed_offset,
                    )
                })
            })
        })
        .collect();
    assert_eq!(
        g,
        vec![
            ("g".into(), "orders".into(), 0, 42),
            ("g".into(), "orders".into(), 1, 7),
            ("other".into(), "orders".into(), 0, -1),
        ]
    );

    // v10: topic ids.
    let res = h.commit(1, &m[0].id, 1, &[("audit", 0, 5)], 10);
    assert_eq!(res, vec![("audit".into(), 0, 0)]);
    let req = OffsetFetchRequest {
        groups: vec![OffsetFetchRequestGroup {
            group_id: GROUP.into(),
            topics: Some(vec![OffsetFetchRequestTopics {
                topic_id: h.broker.topic_id("audit").unwrap(),
                partition_indexes: vec![0].into(),
                ..Default::default()
            }]),
            ..Default::default()
        }],
        ..Default::default()
    };
    let id = h.send(1, &req, 10);
    let r = body!(h.take(1, id), OffsetFetch);
    assert_eq!(r.groups[0].topics[0].partitions[0].committed_offset, 5);

    // Stale generation, unknown topic.
    let res = h.commit(1, &m[0].id, 0, &[("orders", 0, 99), ("orders", 3, 99)], 8);
    assert!(
        res.iter().all(|r| r.2 == ErrorCode::ILLEGAL_GENERATION.0),
        "{res:?}"
    );
    let res = h.commit(1, &m[0].id, 1, &[("nope", 0, 1)], 8);
    assert_eq!(res[0].2, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0);
    assert_eq!(h.broker.committed(GROUP, "orders", 0), Some(42));
    // A simple (generation -1) commit to a non-empty group is refused.
    let res = h.commit(1, "", -1, &[("orders", 0, 1)], 8);
    assert_eq!(res[0].2, ErrorCode::UNKNOWN_MEMBER_ID.0);
}

#[test]
fn offset_commit_rules_by_group_state() {
    let mut h = Harness::new();
    // Simple consumer: generation -1 to an unknown group creates an Empty group.
    let res = h.commit(1, "", -1, &[("orders", 2, 11)], 2);
    assert_eq!(res, vec![("orders".into(), 2, 0)]);
    assert_eq!(h.state(), GroupState::Empty);
    assert_eq!(h.broker.committed(GROUP, "orders", 2), Some(11));
    // v0 has no generation at all.
    let res = h.commit(1, "", -1, &[("orders", 2, 12)], 0);
    assert_eq!(res, vec![("orders".into(), 2, 0)]);
    // An unknown group with a generation: ILLEGAL_GENERATION before v9, GROUP_ID_NOT_FOUND after.
    let mut h2 = Harness::new();
    let res = h2.commit(1, "x", 3, &[("orders", 0, 1)], 8);
    assert_eq!(res[0].2, ErrorCode::ILLEGAL_GENERATION.0);
    let res = h2.commit(1, "x", 3, &[("orders", 0, 1)], 9);
    assert_eq!(res[0].2, ErrorCode::GROUP_ID_NOT_FOUND.0);

    // CompletingRebalance: REBALANCE_IN_PROGRESS for a current member.
    let mut h = Harness::new();
    h.client(1, "a");
    let a = h.handshake(1);
    let j = h.join(1, &a, None, 9);
    h.advance(3_000);
    let g = body!(h.take(1, j), JoinGroup).generation_id;
    assert_eq!(h.state(), GroupState::CompletingRebalance);
    let res = h.commit(1, &a, g, &[("orders", 0, 1)], 8);
    assert_eq!(res[0].2, ErrorCode::REBALANCE_IN_PROGRESS.0);
}

#[test]
fn commits_keep_the_session_alive() {
    let mut h = Harness::new();
    let m = h.form_group(&[(1, "a", None)]);
    for _ in 0..10 {
        h.advance(3_000);
        let res = h.commit(1, &m[0].id, 1, &[("orders", 0, 1)], 8);
        assert_eq!(res[0].2, 0);
    }
    assert_eq!(h.state(), GroupState::Stable);
    h.advance(SESSION as u64);
    assert_eq!(h.broker.group(GROUP).unwrap().members.len(), 0);
}

// ---- (g) old JoinGroup versions ---------------------------------------------------------------

#[test]
fn join_group_v0_to_v3_skips_the_member_id_handshake() {
    for version in 0..=3i16 {
        let mut h = Harness::new();
        h.client(1, "a");
        h.client(2, "b");
        let ja = h.join(1, "", None, version);
        let jb = h.join(2, "", None, version);
        assert!(
            !h.answered(1, ja) && !h.answered(2, jb),
            "v{version}: parked"
        );
        assert_eq!(h.broker.group(GROUP).unwrap().members.len(), 2);
        h.advance(6_000);
        let ra = body!(h.take(1, ja), JoinGroup);
        let rb = body!(h.take(2, jb), JoinGroup);
        assert_eq!((ra.error_code, rb.error_code), (0, 0));
        assert_eq!((ra.generation_id, rb.generation_id), (1, 1));
        assert_eq!(ra.member_id, "a-1");
        assert_eq!(ra.leader, "a-1");
        assert_eq!(ra.protocol_name.as_deref(), Some("range"));
        assert_eq!(ra.members.len(), 2);
        let sv = version.min(2);
        let sb = h.sync(2, &rb.member_id, None, 1, &[], sv);
        let plan = vec![(rb.member_id.to_string(), Bytes::from_static(b"x"))];
        let sa = h.sync(1, &ra.member_id, None, 1, &plan, sv);
        assert!(body!(h.take(1, sa), SyncGroup).assignment.is_empty());
        let r: SyncGroupResponse = body!(h.take(2, sb), SyncGroup);
        assert_eq!(&r.assignment[..], b"x");
        let hb = h.heartbeat(2, &rb.member_id, None, 1, 0);
        assert_eq!(body!(h.take(2, hb), Heartbeat).error_code, 0);
    }
}

#[test]
fn join_group_validation() {
    let mut h = Harness::new();
    let mut req = join_request(1, "", None, 9);
    req.session_timeout_ms = 1_000;
    let id = h.send(1, &req, 9);
    assert_eq!(
        body!(h.take(1, id), JoinGroup).error_code,
        ErrorCode::INVALID_SESSION_TIMEOUT.0
    );
    // A known member id for a group that does not exist.
    let id = h.join(1, "ghost", None, 9);
    assert_eq!(
        body!(h.take(1, id), JoinGroup).error_code,
        ErrorCode::UNKNOWN_MEMBER_ID.0
    );
    // Empty group id.
    let mut req = join_request(1, "", None, 9);
    req.group_id = "".into();
    let id = h.send(1, &req, 9);
    assert_eq!(
        body!(h.take(1, id), JoinGroup).error_code,
        ErrorCode::INVALID_GROUP_ID.0
    );
    // Inconsistent protocols.
    let m = h.form_group(&[(2, "a", None)]);
    h.client(3, "b");
    let mut req = join_request(3, "", None, 9);
    req.protocols[0].name = "roundrobin".into();
    let id = h.send(3, &req, 9);
    assert_eq!(
        body!(h.take(3, id), JoinGroup).error_code,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL.0
    );
    let mut req = join_request(3, "", None, 9);
    req.protocol_type = "connect".into();
    let id = h.send(3, &req, 9);
    assert_eq!(
        body!(h.take(3, id), JoinGroup).error_code,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL.0
    );
    // SyncGroup v5 with the wrong protocol name.
    let mut req = SyncGroupRequest {
        group_id: GROUP.into(),
        generation_id: 1,
        member_id: m[0].id.as_str().into(),
        protocol_type: Some("consumer".into()),
        protocol_name: Some("sticky".into()),
        ..Default::default()
    };
    let id = h.send(2, &req, 5);
    assert_eq!(
        body!(h.take(2, id), SyncGroup).error_code,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL.0
    );
    req.protocol_name = Some("range".into());
    req.generation_id = 7;
    let id = h.send(2, &req, 5);
    assert_eq!(
        body!(h.take(2, id), SyncGroup).error_code,
        ErrorCode::ILLEGAL_GENERATION.0
    );
}

#[test]
fn group_max_size_rejects_extra_members() {
    let mut h = Harness::with_config(BrokerConfig {
        group_max_size: 1,
        ..BrokerConfig::default()
    });
    h.client(1, "a");
    h.client(2, "b");
    let a = h.handshake(1);
    let b = h.handshake(2);
    let ja = h.join(1, &a, None, 9);
    let jb = h.join(2, &b, None, 9);
    let r = body!(h.take(2, jb), JoinGroup);
    assert_eq!(r.error_code, ErrorCode::GROUP_MAX_SIZE_REACHED.0);
    h.advance(3_000);
    assert_eq!(body!(h.take(1, ja), JoinGroup).members.len(), 1);
}

// ---- the join phase in detail -------------------------------------------------------------------

#[test]
fn pending_member_stalls_the_join_phase_until_it_expires() {
    let mut h = Harness::new();
    let m = h.form_group(&[(1, "a", None), (2, "b", None)]);
    // A third client does the handshake and never comes back (librdkafka #5569).
    h.client(3, "c");
    let _ = h.handshake(3);
    let t0 = h.now;
    let ja = h.join(1, &m[0].id, None, 9);
    let jb = h.join(2, &m[1].id, None, 9);
    assert!(
        !h.answered(1, ja) && !h.answered(2, jb),
        "blocked by the pending member"
    );
    h.advance_to(t0 + SESSION as u64 - 1);
    assert!(!h.answered(1, ja));
    h.advance_to(t0 + SESSION as u64);
    let r = h.take_got(1, ja);
    assert_eq!(r.at, t0 + SESSION as u64);
    assert_eq!(body!(r.body, JoinGroup).generation_id, 2);
    assert!(h.answered(2, jb));
}

#[test]
fn join_completes_at_the_rebalance_timeout_without_laggards() {
    let mut h = Harness::new();
    let m = h.form_group(&[(1, "a", None), (2, "b", None)]);
    let t0 = h.now;
    // b keeps heartbeating but never rejoins; a rejoins and then stays silent.
    let j = h.join(1, &m[0].id, None, 9);
    while h.now + 3_000 < t0 + REBALANCE as u64 {
        h.advance(3_000);
        assert_eq!(h.hb_now(2, &m[1], 4), ErrorCode::REBALANCE_IN_PROGRESS.0);
    }
    // a's session deadline passed long ago, but a member awaiting a join counts as alive.
    let view = h.broker.group(GROUP).unwrap();
    assert!(view.members[0].awaiting_join);
    assert_eq!(view.members.len(), 2);
    h.advance_to(t0 + REBALANCE as u64);
    let r = h.take_got(1, j);
    assert_eq!(r.at, t0 + REBALANCE as u64);
    let r = body!(r.body, JoinGroup);
    assert_eq!((r.generation_id, r.members.len()), (2, 1), "b was dropped");
    assert_eq!(h.hb_now(2, &m[1], 4), ErrorCode::UNKNOWN_MEMBER_ID.0);
}

#[test]
fn static_members_that_do_not_rejoin_are_kept() {
    let mut h = Harness::new();
    let m = h.form_group(&[(1, "s", Some("pod-0")), (2, "d", None)]);
    assert!(m[0].leader);
    let t0 = h.now;
    // d rejoins with new metadata; the static leader s stays alive but does not rejoin.
    let mut req = join_request(2, &m[1].id, None, 9);
    req.protocols[0].metadata = Bytes::from_static(b"changed");
    let jd = h.send(2, &req, 9);
    while h.now + 3_000 < t0 + REBALANCE as u64 {
        h.advance(3_000);
        assert_eq!(h.hb_now(1, &m[0], 4), ErrorCode::REBALANCE_IN_PROGRESS.0);
    }
    h.advance_to(t0 + REBALANCE as u64);
    let r = body!(h.take(2, jd), JoinGroup);
    assert_eq!(r.generation_id, 2);
    assert_eq!(r.leader, m[1].id, "a member that rejoined leads");
    let listed: Vec<&str> = r.members.iter().map(|x| &*x.member_id).collect();
    assert_eq!(
        listed,
        vec![m[0].id.as_str(), m[1].id.as_str()],
        "s is kept"
    );
    assert_eq!(h.state(), GroupState::CompletingRebalance);
    assert_eq!(h.hb_now(1, &m[0], 4), ErrorCode::ILLEGAL_GENERATION.0);
    // s rejoins with unchanged metadata: it gets the current generation at once.
    let js = h.join(1, &m[0].id, Some("pod-0"), 9);
    let r = body!(h.take(1, js), JoinGroup);
    assert_eq!((r.generation_id, &*r.leader), (2, m[1].id.as_str()));
    assert!(r.members.is_empty());
}

#[test]
fn zero_initial_delay_completes_the_first_join_at_once() {
    let mut h = Harness::with_config(BrokerConfig {
        initial_rebalance_delay_ms: 0,
        ..BrokerConfig::default()
    });
    h.client(1, "a");
    let a = h.handshake(1);
    let j = h.join(1, &a, None, 9);
    let r = h.take_got(1, j);
    assert_eq!(r.at, 0);
    assert_eq!(body!(r.body, JoinGroup).generation_id, 1);
    assert_eq!(h.state(), GroupState::CompletingRebalance);
    // Next: a's session deadline (the pending-sync deadline is the rebalance timeout).
    assert_eq!(h.broker.poll_timeout(), Some(SESSION.unsigned_abs().into()));
}

#[test]
fn leader_that_never_syncs_is_removed_and_parked_followers_told_to_rejoin() {
    let mut h = Harness::new();
    h.client(1, "a");
    h.client(2, "b");
    let a = h.handshake(1);
    let b = h.handshake(2);
    let ja = h.join(1, &a, None, 9);
    let jb = h.join(2, &b, None, 9);
    h.advance(6_000);
    let _ = (h.take(1, ja), h.take(2, jb));
    let t0 = h.now;
    let sb = h.sync(2, &b, None, 1, &[], 5);
    // The leader heartbeats (it is alive) but never sends SyncGroup.
    while h.now + 3_000 < t0 + REBALANCE as u64 {
        h.advance(3_000);
        let hb = h.heartbeat(1, &a, None, 1, 4);
        assert_eq!(body!(h.take(1, hb), Heartbeat).error_code, 0);
    }
    assert!(!h.answered(2, sb));
    h.advance_to(t0 + REBALANCE as u64);
    assert_eq!(
        body!(h.take(2, sb), SyncGroup).error_code,
        ErrorCode::REBALANCE_IN_PROGRESS.0
    );
    let view = h.broker.group(GROUP).unwrap();
    assert_eq!(view.state, GroupState::PreparingRebalance);
    assert_eq!(view.members.len(), 1);
    assert_eq!(view.leader.as_deref(), Some(b.as_str()));
}

#[test]
fn new_member_join_timeout_expires_a_parked_join() {
    let mut h = Harness::with_config(BrokerConfig {
        new_member_join_timeout_ms: 20_000,
        ..BrokerConfig::default()
    });
    let m = h.form_group(&[(1, "a", None)]);
    // a member joins (parked: a must rejoin) and a never does; its rebalance timeout is long.
    h.client(2, "b");
    let b = h.handshake(2);
    let mut req = join_request(2, &b, None, 9);
    req.rebalance_timeout_ms = 600_000;
    let t0 = h.now;
    let jb = h.send(2, &req, 9);
    // Keep a alive without rejoining.
    while h.now + 3_000 < t0 + 20_000 {
        h.advance(3_000);
        assert_eq!(h.hb_now(1, &m[0], 4), ErrorCode::REBALANCE_IN_PROGRESS.0);
    }
    h.advance_to(t0 + 20_000);
    let r = body!(h.take(2, jb), JoinGroup);
    assert_eq!(r.error_code, ErrorCode::UNKNOWN_MEMBER_ID.0);
}

#[test]
fn disconnect_discards_the_parked_response_and_queued_frames() {
    let mut h = Harness::new();
    h.client(1, "a");
    let a = h.handshake(1);
    let j = h.join(1, &a, None, 9);
    let _ = h.heartbeat(1, &a, None, 0, 4);
    assert_eq!(h.broker.queued(1), 1);
    h.broker.disconnect(1);
    h.advance(3_000);
    assert!(!h.answered(1, j));
    let s = h.broker.stats();
    assert_eq!((s.discarded_responses, s.dropped_frames), (1, 1));
    // The member still joined (the broker could not see the close).
    assert_eq!(h.state(), GroupState::CompletingRebalance);
    // Frames on the dead connection are dropped.
    let _ = h.heartbeat(1, &a, None, 1, 4);
    assert_eq!(h.broker.stats().dropped_frames, 2);
}

// ---- (h) fault injection ------------------------------------------------------------------------

#[test]
fn injected_errors_and_coordinator_faults() {
    let mut h = Harness::new();
    let m = h.form_group(&[(1, "a", None)]);
    h.broker
        .inject_error(ApiKey::Heartbeat, ErrorCode::NOT_COORDINATOR.0, 2);
    assert_eq!(h.hb_now(1, &m[0], 4), ErrorCode::NOT_COORDINATOR.0);
    assert_eq!(h.hb_now(1, &m[0], 1), ErrorCode::NOT_COORDINATOR.0);
    assert_eq!(h.hb_now(1, &m[0], 4), 0);

    h.broker
        .inject_error(ApiKey::OffsetCommit, ErrorCode::REQUEST_TIMED_OUT.0, 1);
    let res = h.commit(1, &m[0].id, 1, &[("orders", 0, 1), ("orders", 1, 2)], 8);
    assert!(res.iter().all(|r| r.2 == ErrorCode::REQUEST_TIMED_OUT.0));
    assert_eq!(h.broker.committed(GROUP, "orders", 0), None, "not stored");

    h.broker
        .inject_error(ApiKey::JoinGroup, ErrorCode::REBALANCE_IN_PROGRESS.0, 1);
    let j = h.join(1, &m[0].id, None, 9);
    let r = body!(h.take(1, j), JoinGroup);
    assert_eq!(r.error_code, ErrorCode::REBALANCE_IN_PROGRESS.0);
    assert_eq!(h.state(), GroupState::Stable, "no effect on the group");

    h.broker.set_coordinator_available(false);
    let find = FindCoordinatorRequest {
        key: GROUP.into(),
        ..Default::default()
    };
    let id = h.send(2, &find, 2);
    assert_eq!(
        body!(h.take(2, id), FindCoordinator).error_code,
        ErrorCode::COORDINATOR_NOT_AVAILABLE.0
    );
    assert_eq!(
        h.hb_now(1, &m[0], 4),
        ErrorCode::COORDINATOR_NOT_AVAILABLE.0
    );
    h.broker.set_coordinator_available(true);
    h.broker.set_not_coordinator(true);
    assert_eq!(h.hb_now(1, &m[0], 4), ErrorCode::NOT_COORDINATOR.0);
    let id = h.send(2, &find, 2);
    let r = body!(h.take(2, id), FindCoordinator);
    assert_eq!((r.error_code, r.node_id), (0, 1), "still points here");
    let req = OffsetFetchRequest {
        group_id: GROUP.into(),
        topics: None,
        ..Default::default()
    };
    let id = h.send(2, &req, 5);
    assert_eq!(
        body!(h.take(2, id), OffsetFetch).error_code,
        ErrorCode::NOT_COORDINATOR.0
    );
    h.broker.set_not_coordinator(false);
    assert_eq!(h.hb_now(1, &m[0], 4), 0);
    assert_eq!(h.broker.stats().injected_errors, 4);
}

// ---- (i) every API at every version decodes ----------------------------------------------------

#[test]
fn every_api_at_every_version_answers_and_decodes() {
    let mut h = Harness::new();
    let m = h.form_group(&[(1, "a", None)]);
    let member = &m[0];
    let conn = 50;
    for v in 0..=4 {
        let id = h.send(conn, &ApiVersionsRequest::default(), v);
        let r = body!(h.take(conn, id), ApiVersions);
        assert_eq!(r.error_code, 0);
        let join = r.api_keys.iter().find(|k| k.api_key == 11).unwrap();
        assert_eq!((join.min_version, join.max_version), (0, 9));
        assert_eq!(r.api_keys.len(), 10);
    }
    for v in 0..=13 {
        let mut req = MetadataRequest {
            topics: Some(vec![
                MetadataRequestTopic {
                    name: Some("orders".into()),
                    ..Default::default()
                },
                MetadataRequestTopic {
                    name: Some("missing".into()),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        };
        let id = h.send(conn, &req, v);
        let r = body!(h.take(conn, id), Metadata);
        assert_eq!(r.brokers.len(), 1);
        let codes: Vec<i16> = r.topics.iter().map(|t| t.error_code).collect();
        assert_eq!(
            codes,
            vec![0, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0],
            "v{v}"
        );
        assert_eq!(r.topics[0].partitions.len(), 4);
        assert_eq!(r.topics[0].partitions[2].leader_id, 1);
        if v >= 10 {
            assert_eq!(Some(r.topics[0].topic_id), h.broker.topic_id("orders"));
        }
        // All topics: null from v1, empty list at v0.
        req.topics = if v == 0 { Some(Vec::new()) } else { None };
        let id = h.send(conn, &req, v);
        let r = body!(h.take(conn, id), Metadata);
        let names: Vec<&str> = r.topics.iter().filter_map(|t| t.name.as_deref()).collect();
        assert_eq!(names, vec!["audit", "orders"], "v{v}");
        if v >= 1 {
            req.topics = Some(Vec::new());
            let id = h.send(conn, &req, v);
            assert!(body!(h.take(conn, id), Metadata).topics.is_empty(), "v{v}");
        }
    }
    for v in 0..=6 {
        let req = FindCoordinatorRequest {
            key: if v < 4 { GROUP.into() } else { "".into() },
            coordinator_keys: if v >= 4 {
                vec![GROUP.into(), "other".into()]
            } else {
                Vec::new()
            },
            ..Default::default()
        };
        let id = h.send(conn, &req, v);
        let r = body!(h.take(conn, id), FindCoordinator);
        if v < 4 {
            assert_eq!((r.error_code, r.node_id, r.port), (0, 1, 9092));
            assert_eq!(r.host, "localhost");
        } else {
            let keys: Vec<(&str, i32)> = r
                .coordinators
                .iter()
                .map(|c| (&*c.key, c.node_id))
                .collect();
            assert_eq!(keys, vec![(GROUP, 1), ("other", 1)]);
        }
    }
    for v in 0..=9 {
        // A follower-style rejoin with the same metadata would rebalance (a is the leader), so
        // use a validation error that every version shares.
        let mut req = join_request(conn, "", None, v);
        req.session_timeout_ms = 1;
        let id = h.send(conn, &req, v);
        let r = body!(h.take(conn, id), JoinGroup);
        assert_eq!(r.error_code, ErrorCode::INVALID_SESSION_TIMEOUT.0, "v{v}");
    }
    for v in 0..=5 {
        let id = h.sync(conn, &member.id, None, 1, &[], v);
        let r = body!(h.take(conn, id), SyncGroup);
        assert_eq!(r.error_code, 0, "v{v}: Stable returns the assignment");
        assert_eq!(r.assignment, assignment_for(&member.id));
    }
    for v in 0..=4 {
        let id = h.heartbeat(conn, &member.id, None, 1, v);
        assert_eq!(body!(h.take(conn, id), Heartbeat).error_code, 0, "v{v}");
    }
    // v0 carries no member id or generation: only an Empty group takes it.
    let res = h.commit(conn, &member.id, 1, &[("orders", 3, 100)], 0);
    assert_eq!(
        res,
        vec![("orders".into(), 3, ErrorCode::UNKNOWN_MEMBER_ID.0)]
    );
    for v in 1..=10 {
        let res = h.commit(conn, &member.id, 1, &[("orders", 3, 100 + i64::from(v))], v);
        assert_eq!(res, vec![("orders".into(), 3, 0)], "v{v}");
        assert_eq!(
            h.broker.committed(GROUP, "orders", 3),
            Some(100 + i64::from(v))
        );
    }
    for v in 0..=10 {
        let req = if v < 8 {
            OffsetFetchRequest {
                group_id: GROUP.into(),
                topics: Some(vec![OffsetFetchRequestTopic {
                    name: "orders".into(),
                    partition_indexes: vec![3].into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }
        } else {
            OffsetFetchRequest {
                groups: vec![OffsetFetchRequestGroup {
                    group_id: GROUP.into(),
                    topics: Some(vec![OffsetFetchRequestTopics {
                        name: if v < 10 { "orders".into() } else { "".into() },
                        topic_id: if v >= 10 {
                            h.broker.topic_id("orders").unwrap()
                        } else {
                            Uuid::ZERO
                        },
                        partition_indexes: vec![3].into(),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }],
                ..Default::default()
            }
        };
        let id = h.send(conn, &req, v);
        let r = body!(h.take(conn, id), OffsetFetch);
        let offset = if v < 8 {
            r.topics[0].partitions[0].committed_offset
        } else {
            r.groups[0].topics[0].partitions[0].committed_offset
        };
        assert_eq!(offset, 110, "v{v}");
    }
    for v in 0..=5 {
        let req = if v < 3 {
            LeaveGroupRequest {
                group_id: GROUP.into(),
                member_id: "nobody".into(),
                ..Default::default()
            }
        } else {
            LeaveGroupRequest {
                group_id: GROUP.into(),
                members: vec![MemberIdentity {
                    member_id: "nobody".into(),
                    group_instance_id: None,
                    reason: (v >= 5).then(|| "bye".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }
        };
        let id = h.send(conn, &req, v);
        let r = body!(h.take(conn, id), LeaveGroup);
        let code = if v < 3 {
            r.error_code
        } else {
            r.members[0].error_code
        };
        assert_eq!(code, ErrorCode::UNKNOWN_MEMBER_ID.0, "v{v}");
    }
    assert_eq!(h.state(), GroupState::Stable);
}

#[test]
fn injected_errors_encode_at_every_version() {
    let mut h = Harness::new();
    let code = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
    let apis: [(ApiKey, i16); 10] = [
        (ApiKey::ConsumerGroupHeartbeat, 1),
        (ApiKey::ApiVersions, 4),
        (ApiKey::Metadata, 13),
        (ApiKey::FindCoordinator, 6),
        (ApiKey::JoinGroup, 9),
        (ApiKey::SyncGroup, 5),
        (ApiKey::Heartbeat, 4),
        (ApiKey::LeaveGroup, 5),
        (ApiKey::OffsetCommit, 10),
        (ApiKey::OffsetFetch, 10),
    ];
    let mut g = kafka_wire::testing::Gen::new(1);
    for (api, max) in apis {
        for v in 0..=max {
            h.broker.inject_error(api, code.0, 1);
            let req = AnyRequest::random(api, v, &mut g);
            let conn = 1000 + u64::from(api.as_i16() as u16) * 100 + v as u64;
            let codec = h
                .codecs
                .entry(conn)
                .or_insert_with(|| ClientCodec::new(None));
            let mut buf = BytesMut::new();
            codec.encode_any(&req, v, &mut buf).unwrap();
            let f = frame::split(&mut buf, frame::DEFAULT_MAX_FRAME)
                .unwrap()
                .unwrap();
            h.broker.handle_frame(h.now, conn, f);
            h.collect();
            assert_eq!(h.inbox.len(), 1, "{api:?} v{v}");
            h.inbox.clear();
        }
    }
    assert_eq!(h.broker.stats().injected_errors, 77);
}

#[test]
fn random_requests_never_break_the_broker() {
    let mut h = Harness::new();
    h.broker.create_topic("a", 2);
    let apis = [
        ApiKey::ConsumerGroupHeartbeat,
        ApiKey::ApiVersions,
        ApiKey::Metadata,
        ApiKey::FindCoordinator,
        ApiKey::JoinGroup,
        ApiKey::SyncGroup,
        ApiKey::Heartbeat,
        ApiKey::LeaveGroup,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
    ];
    let mut conn = 10_000;
    for seed in 0..300u64 {
        let mut g = kafka_wire::testing::Gen::new(seed);
        for api in apis {
            let range = api.versions();
            for v in range.min..=range.max {
                let req = AnyRequest::random(api, v, &mut g);
                conn += 1;
                h.send_on_new_conn_and_check(conn, &req, v, seed);
            }
        }
        h.advance(1_000);
        h.inbox.clear();
    }
}

// ---- versions and connection errors --------------------------------------------------------------

#[test]
fn api_versions_kip511_and_restricted_versions() {
    let mut h = Harness::new();
    h.allow_errors = true;
    // An ApiVersions version from the future: answered in v0 with error 35 and our range.
    let mut f = Vec::new();
    f.extend_from_slice(&18i16.to_be_bytes());
    f.extend_from_slice(&99i16.to_be_bytes());
    f.extend_from_slice(&77i32.to_be_bytes());
    f.extend_from_slice(&1i16.to_be_bytes());
    f.push(b'x');
    f.push(0); // header tagged fields
    f.extend_from_slice(&[1, 1, 0]); // some body
    h.broker.handle_frame(0, 1, Bytes::from(f));
    let (conn, out) = h.broker.poll_output().expect("answered");
    assert_eq!(conn, 1);
    assert_eq!(&out[..4], &77i32.to_be_bytes());
    let r = ApiVersionsResponse::decode(&out.slice(4..), 0).unwrap();
    assert_eq!(r.error_code, ErrorCode::UNSUPPORTED_VERSION.0);
    assert_eq!(r.api_keys.len(), 1);
    assert_eq!((r.api_keys[0].api_key, r.api_keys[0].max_version), (18, 4));

    // A broker that only speaks ApiVersions 0-2 and JoinGroup 0-3.
    h.broker
        .set_api_versions(ApiKey::ApiVersions, Some(VersionRange::new(0, 2)));
    h.broker
        .set_api_versions(ApiKey::JoinGroup, Some(VersionRange::new(0, 3)));
    let id = h.send(2, &ApiVersionsRequest::default(), 3);
    let r = body!(h.take(2, id), ApiVersions);
    assert_eq!(r.error_code, ErrorCode::UNSUPPORTED_VERSION.0);
    assert_eq!(kafka_wire::codec::retry_api_versions_version(&r), 2);
    let id = h.send(2, &ApiVersionsRequest::default(), 2);
    let r = body!(h.take(2, id), ApiVersions);
    let join = r.api_keys.iter().find(|k| k.api_key == 11).unwrap();
    assert_eq!(join.max_version, 3);
    assert!(h.broker.errors().is_empty());
    // JoinGroup v4 is not served: the connection is closed, nothing is answered.
    let id = h.join(3, "", None, 4);
    assert!(!h.answered(3, id));
    assert_eq!(h.broker.poll_closed(), Some(3));
    assert!(matches!(
        h.broker.errors()[0].kind,
        BrokerErrorKind::Unsupported {
            api_key: 11,
            version: 4
        }
    ));
}

#[test]
fn unimplemented_api_and_garbage_close_the_connection() {
    let mut h = Harness::new();
    h.allow_errors = true;
    let id = h.send(1, &ProduceRequest::default(), 9);
    // Queued behind it on the same connection: dropped with the connection.
    assert!(!h.answered(1, id));
    assert_eq!(h.broker.poll_closed(), Some(1));
    let _ = h.send(1, &ApiVersionsRequest::default(), 3);
    assert!(h.inbox.is_empty(), "a closed connection is dead");
    h.broker.handle_frame(0, 2, Bytes::from_static(&[0, 3, 0]));
    assert_eq!(h.broker.poll_closed(), Some(2));
    assert!(matches!(
        h.broker.errors()[1].kind,
        BrokerErrorKind::Undecodable(_)
    ));
    assert_eq!(h.broker.stats().closed_connections, 2);
}

// ---- the network simulator with the broker --------------------------------------------------------

/// A scripted consumer for the network test: handshake, join, sync (the leader assigns every
/// member an empty assignment), then heartbeat every second.
struct Script {
    endpoint: u32,
    conn: ConnId,
    codec: ClientCodec,
    member_id: String,
    generation: i32,
    next_heartbeat: Option<u64>,
    stable_at: Option<u64>,
}

impl Script {
    fn send<R: Request>(&mut self, net: &mut NetSim, now: u64, req: &R, version: i16) {
        let mut buf = BytesMut::new();
        self.codec.encode_request(req, version, &mut buf).unwrap();
        let f = frame::split(&mut buf, frame::DEFAULT_MAX_FRAME)
            .unwrap()
            .unwrap();
        net.send(now, self.endpoint, 0, self.conn, f);
    }

    fn on_response(&mut self, net: &mut NetSim, now: u64, body: AnyResponse) {
        match body {
            AnyResponse::JoinGroup(r) if r.error_code == ErrorCode::MEMBER_ID_REQUIRED.0 => {
                self.member_id = r.member_id.to_string();
                let req = join_request(self.conn, &self.member_id, None, 9);
                self.send(net, now, &req, 9);
            }
            AnyResponse::JoinGroup(r) => {
                assert_eq!(r.error_code, 0);
                self.generation = r.generation_id;
                let plan: Vec<SyncGroupRequestAssignment> = r
                    .members
                    .iter()
                    .map(|m| SyncGroupRequestAssignment {
                        member_id: m.member_id.clone(),
                        assignment: assignment_for(&m.member_id),
                        ..Default::default()
                    })
                    .collect();
                let req = SyncGroupRequest {
                    group_id: GROUP.into(),
                    generation_id: r.generation_id,
                    member_id: r.member_id.clone(),
                    assignments: plan,
                    ..Default::default()
                };
                self.send(net, now, &req, 3);
            }
            AnyResponse::SyncGroup(r) => {
                assert_eq!(r.error_code, 0);
                assert_eq!(r.assignment, assignment_for(&self.member_id));
                self.stable_at = Some(now);
                self.next_heartbeat = Some(now + 1_000);
            }
            AnyResponse::Heartbeat(r) => assert_eq!(r.error_code, 0),
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn run_network(seed: u64) -> (Vec<(u64, GroupState)>, Vec<Option<u64>>) {
    let mut broker = ModelBroker::new(BrokerConfig::default());
    broker.create_topic("orders", 4);
    let mut net = NetSim::new(
        seed,
        NetConfig {
            min_delay_ms: 1,
            max_delay_ms: 50,
            ..NetConfig::default()
        },
    );
    let mut clients: Vec<Script> = (1..=3)
        .map(|i| Script {
            endpoint: i,
            conn: u64::from(i),
            codec: ClientCodec::new(Some(format!("c{i}").into())),
            member_id: String::new(),
            generation: -1,
            next_heartbeat: None,
            stable_at: None,
        })
        .collect();
    let mut now = 0;
    for (i, c) in clients.iter_mut().enumerate() {
        let req = join_request(c.conn, "", None, 9);
        c.send(&mut net, i as u64 * 700, &req, 9);
    }
    while now < 20_000 {
        let mut next = [net.next_delivery_time(), broker.poll_timeout()]
            .into_iter()
            .flatten()
            .chain(clients.iter().filter_map(|c| c.next_heartbeat))
            .min()
            .unwrap_or(20_000);
        next = next.max(now);
        now = next;
        while let Some(d) = net.poll_deliver(now) {
            match d {
                Delivery::Frame {
                    to: 0, conn, frame, ..
                } => broker.handle_frame(now, conn, frame),
                Delivery::Frame { to, frame, .. } => {
                    let c = &mut clients[to as usize - 1];
                    let (_, _, _, body) = c.codec.decode_response(frame).unwrap();
                    c.on_response(&mut net, now, body);
                }
                Delivery::Disconnected { .. } => panic!("no disconnects configured"),
            }
        }
        broker.handle_timeout(now);
        while let Some((conn, frame)) = broker.poll_output() {
            net.send(now, 0, conn as u32, conn, frame);
        }
        for c in &mut clients {
            if c.next_heartbeat.is_some_and(|t| t <= now) {
                c.next_heartbeat = Some(now + 1_000);
                let req = HeartbeatRequest {
                    group_id: GROUP.into(),
                    generation_id: c.generation,
                    member_id: c.member_id.as_str().into(),
                    ..Default::default()
                };
                c.send(&mut net, now, &req, 4);
            }
        }
    }
    assert!(broker.errors().is_empty());
    let states = broker
        .transitions(GROUP)
        .iter()
        .map(|t| (t.at_ms, t.to))
        .collect();
    (states, clients.iter().map(|c| c.stable_at).collect())
}

#[test]
fn clients_over_the_simulated_network_are_deterministic() {
    let a = run_network(42);
    assert_eq!(a, run_network(42), "same seed, same run");
    let (states, stable) = &a;
    assert!(stable.iter().all(Option::is_some), "{a:?}");
    assert_eq!(
        states.iter().map(|s| s.1).collect::<Vec<_>>(),
        vec![
            GroupState::Empty,
            GroupState::PreparingRebalance,
            GroupState::CompletingRebalance,
            GroupState::Stable
        ]
    );
    assert_ne!(a, run_network(43), "another seed, other timings");
}

mod fetch;
mod kip848;
