//! Scripted tests of the KIP-848 member (`group.protocol=consumer`): hand-built responses in,
//! requests and events out.

use core::time::Duration;

use group_fsm::assignor::TopicPartition;
use group_fsm::{
    Action, Config, ConsumerState, Event, GroupError, GroupProtocol, Input, Instant, Member,
    Offset, RequestId, Send, StateKind, TransportError,
};
use kafka_wire::generated::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, FindCoordinatorResponse,
    MetadataResponse, OffsetCommitResponse, consumer_group_heartbeat_response as hb,
    find_coordinator_response::Coordinator,
    metadata_response::MetadataResponseTopic,
    offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic},
};
use kafka_wire::{
    AnyRequest, AnyResponse, ApiKey, NegotiatedVersions, NegotiationOptions, Uuid, VersionRange,
};
use proptest::prelude::*;

const T0: Uuid = Uuid([1; 16]);
const T1: Uuid = Uuid([2; 16]);

fn config(seed: u64) -> Config {
    let mut c = Config::new("g");
    c.group_protocol = GroupProtocol::Consumer;
    c.client_id = "c1".into();
    c.rng_seed = seed;
    c.auto_commit = false;
    c.server_assignor = Some("uniform".into());
    c.rack_id = Some("r1".into());
    c
}

struct H {
    m: Member,
    now: Instant,
    sends: Vec<Send>,
    events: Vec<Event>,
}

impl H {
    fn new(c: Config) -> Self {
        let mut h = Self {
            m: Member::new(c, Vec::new(), Instant::ZERO),
            now: Instant::ZERO,
            sends: Vec::new(),
            events: Vec::new(),
        };
        h.drain();
        h
    }

    fn drain(&mut self) {
        while let Some(a) = self.m.poll_action() {
            match a {
                Action::Send(s) => self.sends.push(s),
                Action::Event(e) => self.events.push(e),
            }
        }
    }

    fn input(&mut self, i: Input) {
        self.m.handle(self.now, i);
        self.drain();
    }

    fn advance(&mut self, ms: u64) {
        self.now += Duration::from_millis(ms);
        self.m.handle_timeout(self.now);
        self.drain();
    }

    fn take_sends(&mut self) -> Vec<Send> {
        core::mem::take(&mut self.sends)
    }

    fn take_events(&mut self) -> Vec<Event> {
        core::mem::take(&mut self.events)
    }

    fn respond(&mut self, id: RequestId, response: AnyResponse) {
        self.input(Input::Response { id, response });
    }

    /// The single pending send of `key`.
    fn one(&mut self, key: ApiKey) -> Send {
        let sends = self.take_sends();
        let mut it = sends.into_iter().filter(|s| s.request.api_key() == key);
        let s = it.next().unwrap_or_else(|| panic!("no {key:?} sent"));
        assert!(it.next().is_none(), "two {key:?} sent");
        s
    }

    fn found_coordinator(&mut self) {
        let s = self.one(ApiKey::FindCoordinator);
        self.respond(
            s.id,
            AnyResponse::FindCoordinator(FindCoordinatorResponse {
                coordinators: vec![Coordinator {
                    key: "g".into(),
                    node_id: 1,
                    host: "b1".into(),
                    port: 9092,
                    ..Default::default()
                }],
                ..Default::default()
            }),
        );
    }

    fn metadata(&mut self, topics: &[(Uuid, &str)]) {
        let s = self.one(ApiKey::Metadata);
        self.respond(s.id, metadata(topics));
    }

    /// Subscribe, find the coordinator, and answer the join with `assign` at epoch `epoch`.
    fn joined(&mut self, epoch: i32, assign: &[(Uuid, &[i32])]) {
        self.input(Input::Subscribe(vec!["a".into(), "b".into()]));
        self.found_coordinator();
        let s = self.one(ApiKey::ConsumerGroupHeartbeat);
        self.respond(s.id, hb_resp(epoch, 5000, Some(assign)));
    }
}

fn metadata(topics: &[(Uuid, &str)]) -> AnyResponse {
    AnyResponse::Metadata(MetadataResponse {
        topics: topics
            .iter()
            .map(|(id, n)| MetadataResponseTopic {
                name: Some((*n).into()),
                topic_id: *id,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

fn hb_resp(epoch: i32, interval: i32, assign: Option<&[(Uuid, &[i32])]>) -> AnyResponse {
    AnyResponse::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse {
        member_epoch: epoch,
        heartbeat_interval_ms: interval,
        assignment: assign.map(|a| hb::Assignment {
            topic_partitions: a
                .iter()
                .map(|(id, ps)| hb::TopicPartitions {
                    topic_id: *id,
                    partitions: ps.to_vec().into(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn hb_err(code: i16) -> AnyResponse {
    AnyResponse::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse {
        error_code: code,
        ..Default::default()
    })
}

fn req(s: &Send) -> &ConsumerGroupHeartbeatRequest {
    match &s.request {
        AnyRequest::ConsumerGroupHeartbeat(r) => r,
        other => panic!("not a heartbeat: {other:?}"),
    }
}

fn owned(r: &ConsumerGroupHeartbeatRequest) -> Option<Vec<(Uuid, Vec<i32>)>> {
    r.topic_partitions.as_ref().map(|v| {
        v.iter()
            .map(|t| (t.topic_id, t.partitions.to_vec()))
            .collect()
    })
}

fn tp(t: &str, p: i32) -> TopicPartition {
    TopicPartition::new(t, p)
}

/// Joined at epoch 1 with a-0, a-1 (topic names resolved).
fn stable_with_a01() -> H {
    let mut h = H::new(config(7));
    h.joined(1, &[(T0, &[0, 1])]);
    h.metadata(&[(T0, "a")]);
    let ack = h.one(ApiKey::ConsumerGroupHeartbeat);
    h.respond(ack.id, hb_resp(1, 5000, None));
    assert_eq!(h.m.consumer_state(), Some(ConsumerState::Stable));
    h.take_events();
    h
}

#[test]
fn join_is_a_full_request_at_epoch_zero_with_a_generated_member_id() {
    let mut h = H::new(config(7));
    assert_eq!(h.m.group_protocol(), GroupProtocol::Consumer);
    assert_eq!(h.m.consumer_state(), Some(ConsumerState::Unsubscribed));
    let id = h.m.member_id().to_string();
    assert_eq!(id.len(), 22);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(H::new(config(7)).m.member_id(), id, "stable per seed");
    assert_ne!(H::new(config(8)).m.member_id(), id, "differs across seeds");

    h.input(Input::Subscribe(vec!["b".into(), "a".into()]));
    assert_eq!(h.m.consumer_state(), Some(ConsumerState::Joining));
    h.found_coordinator();
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    assert_eq!(s.version, 1);
    assert_eq!(s.held_for, None);
    let r = req(&s);
    assert_eq!(r.member_epoch, 0);
    assert_eq!(&*r.member_id, id.as_str());
    assert_eq!(r.rebalance_timeout_ms, 300_000);
    let names: Vec<&str> = r
        .subscribed_topic_names
        .as_ref()
        .unwrap()
        .iter()
        .map(|s| &**s)
        .collect();
    assert_eq!(names, ["a", "b"]);
    // With names, the regex is "" (none), never absent: librdkafka's mock aborts otherwise.
    assert_eq!(r.subscribed_topic_regex.as_deref(), Some(""));
    assert_eq!(r.server_assignor.as_deref(), Some("uniform"));
    assert_eq!(r.rack_id.as_deref(), Some("r1"));
    assert_eq!(owned(r), Some(vec![]));
}

#[test]
fn heartbeats_stay_full_while_the_broker_answers_epoch_zero() {
    // librdkafka's mock accepts a join and answers epoch 0 with no assignment while it
    // assigns; a delta heartbeat at epoch 0 would be INVALID_REQUEST.
    let mut h = H::new(config(3));
    h.input(Input::Subscribe(vec!["a".into(), "b".into()]));
    h.found_coordinator();
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    h.respond(s.id, hb_resp(0, 500, None));
    // Not at once (a broker answering 0 must not get a loop): after the interval it gave.
    assert!(
        h.take_sends().is_empty(),
        "no heartbeat right after an epoch-0 answer"
    );
    h.advance(499);
    assert!(h.take_sends().is_empty());
    h.advance(1);
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    let r = req(&s);
    assert_eq!(r.member_epoch, 0);
    assert_eq!(r.rebalance_timeout_ms, 300_000);
    assert_eq!(r.subscribed_topic_names.as_ref().map(Vec::len), Some(2));
    assert_eq!(owned(r), Some(vec![]));
    // Once it has an epoch, deltas again.
    h.respond(s.id, hb_resp(2, 500, Some(&[])));
    h.advance(500);
    let r = h.one(ApiKey::ConsumerGroupHeartbeat);
    assert_eq!(req(&r).member_epoch, 2);
    assert_eq!(req(&r).subscribed_topic_names, None);
}

#[test]
fn owned_partitions_are_reported_in_the_brokers_order() {
    // librdkafka's mock compares the owned list with its assignment in order; an ack in
    // another order is only taken at its next round, 500 ms later.
    let mut h = H::new(config(4));
    h.joined(3, &[(T1, &[5, 4]), (T0, &[2, 0, 1])]);
    h.metadata(&[(T0, "a"), (T1, "b")]);
    let ack = h.one(ApiKey::ConsumerGroupHeartbeat);
    assert_eq!(
        owned(req(&ack)),
        Some(vec![(T1, vec![5, 4]), (T0, vec![2, 0, 1])])
    );
}

#[test]
fn later_heartbeats_send_only_changed_fields_at_the_broker_interval() {
    let mut h = stable_with_a01();
    assert_eq!(h.m.generation(), 1);
    // Interval from the response (5 s), not the config's 3 s.
    h.advance(4000);
    assert!(h.take_sends().is_empty());
    h.advance(1000);
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    let r = req(&s);
    assert_eq!(r.member_epoch, 1);
    assert_eq!(r.rebalance_timeout_ms, -1);
    assert_eq!(r.subscribed_topic_names, None);
    assert_eq!(r.server_assignor, None);
    assert_eq!(r.topic_partitions, None);
    // One in flight: the next interval passes without a second heartbeat.
    h.advance(10_000);
    assert!(h.take_sends().is_empty());
    // A changed subscription goes out at once, and only it.
    h.respond(s.id, hb_resp(1, 5000, None));
    h.input(Input::Subscribe(vec!["a".into(), "c".into()]));
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    let r = req(&s);
    assert_eq!(r.subscribed_topic_names.as_ref().map(Vec::len), Some(2));
    assert_eq!(
        r.subscribed_topic_regex.as_deref(),
        Some(""),
        "sent with the names"
    );
    assert_eq!(r.topic_partitions, None);
}

#[test]
fn reconciliation_commits_revokes_assigns_then_acknowledges() {
    let mut c = config(1);
    c.auto_commit = true;
    let mut h = H::new(c);
    h.joined(1, &[(T0, &[0, 1])]);
    h.metadata(&[(T0, "a"), (T1, "b")]);
    assert_eq!(
        h.take_events()
            .into_iter()
            .filter(|e| matches!(e, Event::Assigned { .. } | Event::Joined { .. }))
            .collect::<Vec<_>>(),
        [
            Event::Joined {
                generation: 1,
                member_id: h.m.member_id().to_string(),
                leader: false
            },
            Event::Assigned {
                partitions: vec![tp("a", 0), tp("a", 1)],
                generation: 1
            }
        ]
    );
    assert_eq!(h.m.consumer_state(), Some(ConsumerState::Acknowledging));
    let ack = h.one(ApiKey::ConsumerGroupHeartbeat);
    assert_eq!(
        owned(req(&ack)),
        Some(vec![(T0, vec![0, 1])]),
        "ack carries the new owned set"
    );
    h.respond(ack.id, hb_resp(1, 5000, None));
    assert_eq!(h.m.consumer_state(), Some(ConsumerState::Stable));
    h.input(Input::Positions(vec![
        Offset::new(tp("a", 0), 10),
        Offset::new(tp("a", 1), 11),
    ]));

    // New target at epoch 2: keep a-0, lose a-1, gain b-0.
    h.advance(5000);
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    h.respond(s.id, hb_resp(2, 5000, Some(&[(T0, &[0]), (T1, &[0])])));
    assert_eq!(h.m.consumer_state(), Some(ConsumerState::Reconciling));
    // 1. commit the revoked partition's position, with member id and epoch.
    let c = h.one(ApiKey::OffsetCommit);
    let AnyRequest::OffsetCommit(cr) = &c.request else {
        unreachable!()
    };
    assert_eq!(cr.generation_id_or_member_epoch, 2);
    assert_eq!(&*cr.member_id, h.m.member_id());
    assert_eq!(cr.topics.len(), 1);
    assert_eq!(cr.topics[0].partitions.len(), 1);
    assert_eq!(cr.topics[0].partitions[0].partition_index, 1);
    assert!(h.take_events().is_empty(), "no revoke before the commit");
    h.respond(c.id, commit_resp(&[("a", 1, 0)]));
    // 2. revoke only a-1 (kept a-0 is never revoked).
    let ev = h.take_events();
    assert_eq!(
        ev.last(),
        Some(&Event::Revoke {
            partitions: vec![tp("a", 1)],
            generation: 2
        })
    );
    assert!(h.take_sends().is_empty(), "nothing until RevocationDone");
    h.input(Input::RevocationDone);
    // 3. assign only the new one, 4. ack heartbeat with the new owned set.
    assert_eq!(
        h.take_events(),
        [Event::Assigned {
            partitions: vec![tp("b", 0)],
            generation: 2
        }]
    );
    assert_eq!(h.m.assignment(), [tp("a", 0), tp("b", 0)]);
    let ack = h.one(ApiKey::ConsumerGroupHeartbeat);
    assert_eq!(owned(req(&ack)), Some(vec![(T0, vec![0]), (T1, vec![0])]));
    assert_eq!(h.m.state(), StateKind::Syncing);
    h.respond(ack.id, hb_resp(2, 5000, None));
    assert_eq!(h.m.consumer_state(), Some(ConsumerState::Stable));
}

fn commit_resp(parts: &[(&str, i32, i16)]) -> AnyResponse {
    AnyResponse::OffsetCommit(OffsetCommitResponse {
        topics: parts
            .iter()
            .map(|(t, p, code)| OffsetCommitResponseTopic {
                name: (*t).into(),
                partitions: vec![OffsetCommitResponsePartition {
                    partition_index: *p,
                    error_code: *code,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

#[test]
fn unresolved_topic_ids_wait_for_metadata() {
    let mut h = H::new(config(3));
    h.joined(1, &[(T0, &[0])]);
    let md = h.one(ApiKey::Metadata);
    assert!(
        !h.take_events()
            .iter()
            .any(|e| matches!(e, Event::Assigned { .. }))
    );
    // A response without the id: still nothing assigned.
    h.respond(md.id, metadata(&[(T1, "b")]));
    assert!(
        !h.take_events()
            .iter()
            .any(|e| matches!(e, Event::Assigned { .. }))
    );
    assert!(h.m.assignment().is_empty());
    // Asked again later (not in a loop), then resolved.
    assert!(h.take_sends().is_empty());
    h.advance(1000);
    h.metadata(&[(T0, "a")]);
    assert!(h.take_events().contains(&Event::Assigned {
        partitions: vec![tp("a", 0)],
        generation: 1
    }));
}

#[test]
fn fenced_loses_partitions_and_rejoins_at_epoch_zero_without_backoff() {
    let mut h = stable_with_a01();
    let id = h.m.member_id().to_string();
    h.advance(5000);
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    h.respond(s.id, hb_err(110));
    assert_eq!(
        h.take_events(),
        [Event::Lost {
            partitions: vec![tp("a", 0), tp("a", 1)]
        }]
    );
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    let r = req(&s);
    assert_eq!(r.member_epoch, 0);
    assert_eq!(&*r.member_id, id.as_str());
    assert_eq!(owned(r), Some(vec![]));
    assert_eq!(r.rebalance_timeout_ms, 300_000);
    assert_eq!(h.m.consumer_state(), Some(ConsumerState::Joining));
}

#[test]
fn lost_heartbeat_response_is_resent_in_full_with_the_same_epoch() {
    let mut h = stable_with_a01();
    h.advance(5000);
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    h.input(Input::Failed {
        id: s.id,
        error: TransportError::TimedOut,
    });
    h.advance(2000);
    h.found_coordinator();
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    let r = req(&s);
    assert_eq!(r.member_epoch, 1);
    assert_eq!(r.rebalance_timeout_ms, 300_000);
    assert!(r.subscribed_topic_names.is_some());
    assert_eq!(owned(r), Some(vec![(T0, vec![0, 1])]));
}

#[test]
fn duplicate_late_and_superseded_responses_are_ignored() {
    let mut h = stable_with_a01();
    h.advance(5000);
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    h.respond(s.id, hb_resp(3, 5000, Some(&[(T0, &[0, 1])])));
    assert_eq!(h.m.generation(), 3);
    // The same response again (duplicate) and an older one: nothing changes.
    h.respond(s.id, hb_resp(2, 5000, Some(&[])));
    assert_eq!(h.m.generation(), 3);
    assert_eq!(h.m.assignment().len(), 2);
    // A late response to a heartbeat that failed: superseded.
    h.advance(5000);
    let old = h.one(ApiKey::ConsumerGroupHeartbeat);
    h.input(Input::Failed {
        id: old.id,
        error: TransportError::Disconnected,
    });
    h.respond(old.id, hb_resp(9, 5000, Some(&[])));
    assert_eq!(h.m.generation(), 3);
    assert_eq!(h.m.assignment().len(), 2);
    assert!(
        !h.take_events()
            .iter()
            .any(|e| matches!(e, Event::Revoke { .. }))
    );
}

#[test]
fn stale_member_epoch_commit_is_retried_with_the_new_epoch() {
    let mut h = stable_with_a01();
    h.input(Input::Commit(vec![Offset::new(tp("a", 0), 5)]));
    let c = h.one(ApiKey::OffsetCommit);
    h.respond(c.id, commit_resp(&[("a", 0, 113)]));
    assert!(
        !h.take_events()
            .iter()
            .any(|e| matches!(e, Event::Committed { .. }))
    );
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    h.respond(s.id, hb_resp(4, 5000, None));
    let c = h.one(ApiKey::OffsetCommit);
    let AnyRequest::OffsetCommit(cr) = &c.request else {
        unreachable!()
    };
    assert_eq!(cr.generation_id_or_member_epoch, 4);
    h.respond(c.id, commit_resp(&[("a", 0, 0)]));
    assert!(h.take_events().contains(&Event::Committed {
        results: vec![(Offset::new(tp("a", 0), 5), 0)]
    }));
}

#[test]
fn fatal_heartbeat_errors_stop_the_member() {
    for code in [30i16, 42, 81, 112, 35, 111, 82, 9999] {
        let mut h = H::new(config(2));
        h.input(Input::Subscribe(vec!["a".into()]));
        h.found_coordinator();
        let s = h.one(ApiKey::ConsumerGroupHeartbeat);
        h.respond(s.id, hb_err(code));
        assert_eq!(h.m.state(), StateKind::Failed, "code {code}");
        assert_eq!(h.m.consumer_state(), Some(ConsumerState::Fatal));
        assert!(h.take_events().contains(&Event::Fatal(GroupError::Broker {
            api: "ConsumerGroupHeartbeat",
            code
        })));
        h.advance(60_000);
        assert!(h.take_sends().is_empty());
    }
}

#[test]
fn retriable_heartbeat_errors_do_not_fail() {
    let mut h = stable_with_a01();
    h.advance(5000);
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    h.respond(s.id, hb_err(16)); // NOT_COORDINATOR
    assert_eq!(h.m.consumer_state(), Some(ConsumerState::Stable));
    h.found_coordinator();
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    assert_eq!(req(&s).rebalance_timeout_ms, 300_000, "full after an error");
    h.respond(s.id, hb_err(14)); // COORDINATOR_LOAD_IN_PROGRESS: backoff
    assert!(h.take_sends().is_empty());
    h.advance(200);
    let _ = h.one(ApiKey::ConsumerGroupHeartbeat);
}

#[test]
fn broker_without_the_consumer_protocol_is_fatal() {
    let mut h = H::new(config(1));
    let v = NegotiatedVersions::from_ranges(
        [(ApiKey::FindCoordinator.as_i16(), VersionRange::new(0, 4))],
        NegotiationOptions::default(),
    );
    h.input(Input::Versions(v));
    h.input(Input::Subscribe(vec!["a".into()]));
    assert_eq!(h.m.state(), StateKind::Failed);
    assert_eq!(h.m.error(), Some(GroupError::ConsumerProtocolUnsupported));
    assert!(
        h.take_events()
            .contains(&Event::Fatal(GroupError::ConsumerProtocolUnsupported))
    );
}

#[test]
fn negotiated_version_zero_is_used_and_rejects_patterns() {
    let mut h = H::new(config(1));
    let v = NegotiatedVersions::from_ranges(
        [(
            ApiKey::ConsumerGroupHeartbeat.as_i16(),
            VersionRange::new(0, 0),
        )],
        NegotiationOptions::default(),
    );
    h.input(Input::Versions(v));
    h.input(Input::SubscribePattern("a.*".into()));
    assert!(matches!(h.take_events()[..], [Event::Rejected(_)]));
    h.input(Input::Subscribe(vec!["a".into()]));
    h.found_coordinator();
    assert_eq!(h.one(ApiKey::ConsumerGroupHeartbeat).version, 0);
}

#[test]
fn close_revokes_then_leaves_with_epoch_minus_one() {
    let mut h = stable_with_a01();
    h.input(Input::Close);
    assert_eq!(h.m.consumer_state(), Some(ConsumerState::PrepareLeaving));
    assert_eq!(
        h.take_events(),
        [Event::Revoke {
            partitions: vec![tp("a", 0), tp("a", 1)],
            generation: 1
        }]
    );
    h.input(Input::RevocationDone);
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    assert_eq!(req(&s).member_epoch, -1);
    assert_eq!(h.m.consumer_state(), Some(ConsumerState::Leaving));
    // A timeout also closes.
    h.input(Input::Failed {
        id: s.id,
        error: TransportError::TimedOut,
    });
    assert_eq!(h.m.state(), StateKind::Closed);
    assert!(h.take_events().contains(&Event::Closed));
    assert_eq!(h.m.poll_timeout(), None);
}

#[test]
fn heartbeats_continue_while_the_app_revokes_before_leaving() {
    let mut h = stable_with_a01();
    h.input(Input::Close);
    assert!(matches!(h.take_events()[..], [Event::Revoke { .. }]));
    h.advance(5000);
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    assert_eq!(req(&s).member_epoch, 1);
    h.respond(s.id, hb_resp(1, 5000, None));
    h.input(Input::RevocationDone);
    assert_eq!(req(&h.one(ApiKey::ConsumerGroupHeartbeat)).member_epoch, -1);
}

#[test]
fn leaving_during_the_join_still_sends_the_leave_heartbeat() {
    let mut h = H::new(config(9));
    h.input(Input::Subscribe(vec!["a".into()]));
    h.found_coordinator();
    let join = h.one(ApiKey::ConsumerGroupHeartbeat);
    h.input(Input::Close);
    let leave = h.one(ApiKey::ConsumerGroupHeartbeat);
    assert_eq!(req(&leave).member_epoch, -1);
    // The join's late answer changes nothing.
    h.respond(join.id, hb_resp(1, 5000, Some(&[(T0, &[0])])));
    h.respond(leave.id, hb_err(25));
    assert_eq!(h.m.state(), StateKind::Closed);
    assert!(h.m.assignment().is_empty());
}

#[test]
fn static_member_leaves_with_epoch_minus_two() {
    let mut c = config(1);
    c.group_instance_id = Some("i1".into());
    let mut h = H::new(c);
    h.joined(1, &[]);
    let _ = h.take_sends();
    h.input(Input::Close);
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    assert_eq!(req(&s).member_epoch, -2);
    assert_eq!(req(&s).instance_id.as_deref(), Some("i1"));
    h.respond(s.id, hb_resp(-2, 0, None));
    assert_eq!(h.m.state(), StateKind::Closed);
}

#[test]
fn unsubscribe_leaves_and_subscribe_rejoins_at_epoch_zero() {
    let mut h = stable_with_a01();
    h.input(Input::Unsubscribe);
    h.input(Input::RevocationDone);
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    h.respond(s.id, hb_resp(-1, 0, None));
    assert!(h.take_events().contains(&Event::Left));
    assert_eq!(h.m.consumer_state(), Some(ConsumerState::Unsubscribed));
    h.input(Input::Subscribe(vec!["a".into()]));
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    assert_eq!(req(&s).member_epoch, 0);
}

#[test]
fn poll_timeout_leaves_loses_and_goes_stale_until_the_next_poll() {
    let mut h = stable_with_a01();
    // Keep heartbeating but never poll.
    let mut left = None;
    for _ in 0..70 {
        h.advance(5000);
        for s in h.take_sends() {
            if req(&s).member_epoch == -1 {
                left = Some(s);
            } else {
                h.respond(s.id, hb_resp(1, 5000, None));
            }
        }
        if left.is_some() {
            break;
        }
    }
    assert!(left.is_some(), "leave heartbeat sent");
    assert_eq!(h.m.consumer_state(), Some(ConsumerState::Stale));
    let ev = h.take_events();
    assert!(ev.contains(&Event::Warning(GroupError::PollIntervalExceeded)));
    assert!(ev.contains(&Event::Lost {
        partitions: vec![tp("a", 0), tp("a", 1)]
    }));
    h.advance(60_000);
    assert!(h.take_sends().is_empty());
    h.input(Input::Poll);
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    assert_eq!(req(&s).member_epoch, 0);
}

#[test]
fn idle_when_stable_with_nothing_assigned() {
    let mut h = H::new(config(5));
    h.joined(1, &[]);
    // Not yet: an empty first answer is also what a member gets while others still hold
    // its partitions.
    let ev = h.take_events();
    assert!(
        !ev.iter().any(|e| matches!(e, Event::Idle { .. })),
        "{ev:?}"
    );
    // Still nothing at the same epoch one heartbeat later: idle, once.
    h.advance(5000);
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    h.respond(s.id, hb_resp(1, 5000, None));
    let ev = h.take_events();
    assert!(ev.contains(&Event::Idle { generation: 1 }), "{ev:?}");
    h.advance(5000);
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    h.respond(s.id, hb_resp(1, 5000, None));
    assert!(
        !h.take_events()
            .iter()
            .any(|e| matches!(e, Event::Idle { .. }))
    );
}

#[test]
fn not_idle_while_partitions_are_being_released_to_it() {
    let mut h = H::new(config(6));
    h.joined(1, &[]);
    h.take_sends();
    // The next answer brings the partitions the old owners released.
    h.advance(5000);
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    h.respond(s.id, hb_resp(2, 5000, Some(&[(T0, &[0])])));
    h.metadata(&[(T0, "a")]);
    let ev = h.take_events();
    assert!(
        !ev.iter().any(|e| matches!(e, Event::Idle { .. })),
        "{ev:?}"
    );
    assert!(
        ev.iter().any(|e| matches!(e, Event::Assigned { .. })),
        "{ev:?}"
    );
}

#[test]
fn newer_target_during_reconciliation_follows_after_the_ack() {
    let mut h = stable_with_a01();
    h.advance(5000);
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    h.respond(s.id, hb_resp(2, 5000, Some(&[(T0, &[0])])));
    assert!(matches!(h.take_events()[..], [Event::Revoke { .. }]));
    // While the app revokes, an interval heartbeat brings a newer target.
    h.advance(5000);
    let s = h.one(ApiKey::ConsumerGroupHeartbeat);
    assert_eq!(owned(req(&s)), None, "owned unchanged until RevocationDone");
    h.respond(s.id, hb_resp(3, 5000, Some(&[(T0, &[0, 2])])));
    assert!(h.take_events().is_empty(), "one reconciliation at a time");
    h.input(Input::RevocationDone);
    let ack = h.one(ApiKey::ConsumerGroupHeartbeat);
    assert_eq!(owned(req(&ack)), Some(vec![(T0, vec![0])]));
    h.respond(ack.id, hb_resp(3, 5000, None));
    // The newer target is reconciled next: only a-2 is added.
    assert_eq!(
        h.take_events(),
        [Event::Assigned {
            partitions: vec![tp("a", 2)],
            generation: 3
        }]
    );
    let ack = h.one(ApiKey::ConsumerGroupHeartbeat);
    assert_eq!(owned(req(&ack)), Some(vec![(T0, vec![0, 2])]));
    h.respond(ack.id, hb_resp(3, 5000, None));
    assert_eq!(h.m.consumer_state(), Some(ConsumerState::Stable));
}

#[test]
fn fenced_commit_loses_partitions_and_rejoins() {
    let mut h = stable_with_a01();
    h.input(Input::Commit(vec![Offset::new(tp("a", 0), 5)]));
    let c = h.one(ApiKey::OffsetCommit);
    h.respond(c.id, commit_resp(&[("a", 0, 110)]));
    let ev = h.take_events();
    assert!(ev.contains(&Event::Lost {
        partitions: vec![tp("a", 0), tp("a", 1)]
    }));
    assert_eq!(req(&h.one(ApiKey::ConsumerGroupHeartbeat)).member_epoch, 0);
}

#[test]
fn auto_commit_runs_only_with_an_epoch_and_carries_it() {
    let mut c = config(4);
    c.auto_commit = true;
    let mut h = H::new(c);
    h.input(Input::Subscribe(vec!["a".into()]));
    h.found_coordinator();
    let join = h.one(ApiKey::ConsumerGroupHeartbeat);
    h.advance(6000);
    assert!(
        !h.take_sends()
            .iter()
            .any(|s| s.request.api_key() == ApiKey::OffsetCommit)
    );
    h.respond(join.id, hb_resp(7, 5000, Some(&[(T0, &[0])])));
    h.metadata(&[(T0, "a")]);
    let ack = h.one(ApiKey::ConsumerGroupHeartbeat);
    h.respond(ack.id, hb_resp(7, 5000, None));
    h.input(Input::Positions(vec![Offset::new(tp("a", 0), 42)]));
    h.advance(5000);
    let sends = h.take_sends();
    let c = sends
        .iter()
        .find(|s| s.request.api_key() == ApiKey::OffsetCommit)
        .expect("auto-commit");
    let AnyRequest::OffsetCommit(cr) = &c.request else {
        unreachable!()
    };
    assert_eq!(cr.generation_id_or_member_epoch, 7);
    assert_eq!(cr.topics[0].partitions[0].committed_offset, 42);
}

#[test]
fn classic_still_needs_an_assignor_and_reports_no_consumer_state() {
    let m = Member::new(Config::new("g"), Vec::new(), Instant::ZERO);
    assert_eq!(m.state(), StateKind::Failed);
    assert_eq!(m.consumer_state(), None);
    assert_eq!(m.group_protocol(), GroupProtocol::Classic);
}

// ---------------------------------------------------------------------------------------------
// fuzz-style property: random responses, failures, timeouts and app commands.

#[derive(Debug, Clone)]
enum Step {
    Wait(u16),
    Subscribe,
    Unsubscribe,
    Poll,
    RevocationDone,
    Commit,
    Close,
    Fail(u8),
    Respond {
        pick: u8,
        epoch: i8,
        parts: u8,
        code: u8,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u16..8000).prop_map(Step::Wait),
        Just(Step::Subscribe),
        Just(Step::Unsubscribe),
        Just(Step::Poll),
        Just(Step::RevocationDone),
        Just(Step::Commit),
        (0u8..20).prop_map(|x| if x == 0 { Step::Close } else { Step::Poll }),
        any::<u8>().prop_map(Step::Fail),
        (any::<u8>(), -2i8..8, any::<u8>(), 0u8..12).prop_map(|(pick, epoch, parts, code)| {
            Step::Respond {
                pick,
                epoch,
                parts,
                code,
            }
        }),
    ]
}

fn random_response(key: ApiKey, epoch: i8, parts: u8, code: u8) -> AnyResponse {
    const HB_CODES: [i16; 12] = [0, 0, 0, 0, 0, 110, 25, 16, 15, 14, 113, 42];
    match key {
        ApiKey::FindCoordinator => AnyResponse::FindCoordinator(FindCoordinatorResponse {
            coordinators: vec![Coordinator {
                node_id: 1,
                host: "b".into(),
                port: 1,
                ..Default::default()
            }],
            ..Default::default()
        }),
        ApiKey::Metadata => metadata(&[(T0, "a"), (T1, "b")][..usize::from(parts % 3)]),
        ApiKey::ConsumerGroupHeartbeat => {
            let code = HB_CODES[usize::from(code) % HB_CODES.len()];
            if code != 0 {
                return hb_err(code);
            }
            let p0: Vec<i32> = (0..3).filter(|i| parts & (1 << i) != 0).collect();
            let p1: Vec<i32> = (0..3).filter(|i| parts & (8 << i) != 0).collect();
            let a: Vec<(Uuid, &[i32])> = vec![(T0, &p0), (T1, &p1)];
            hb_resp(i32::from(epoch), 1000, (parts & 64 == 0).then_some(&a[..]))
        }
        ApiKey::OffsetCommit => commit_resp(&[("a", 0, if code % 3 == 0 { 113 } else { 0 })]),
        // Any other API (OffsetFetch): a body of the wrong type is also handled.
        _ => hb_err(0),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn random_sequences_never_panic_and_keep_invariants(
        seed in any::<u64>(),
        auto in any::<bool>(),
        steps in proptest::collection::vec(step(), 1..120),
    ) {
        let mut c = config(seed);
        c.auto_commit = auto;
        let mut h = H::new(c);
        let mut pending: Vec<Send> = Vec::new();
        let mut held: std::collections::BTreeSet<TopicPartition> = Default::default();
        for st in steps {
            match st {
                Step::Wait(ms) => h.advance(u64::from(ms)),
                Step::Subscribe => h.input(Input::Subscribe(vec!["a".into(), "b".into()])),
                Step::Unsubscribe => h.input(Input::Unsubscribe),
                Step::Poll => h.input(Input::Poll),
                Step::RevocationDone => h.input(Input::RevocationDone),
                Step::Commit => h.input(Input::Commit(vec![Offset::new(tp("a", 0), 1)])),
                Step::Close => h.input(Input::Close),
                Step::Fail(i) if !pending.is_empty() => {
                    let s = pending.remove(usize::from(i) % pending.len());
                    h.input(Input::Failed { id: s.id, error: TransportError::TimedOut });
                }
                Step::Respond { pick, epoch, parts, code } if !pending.is_empty() => {
                    let s = pending.remove(usize::from(pick) % pending.len());
                    let r = random_response(s.request.api_key(), epoch, parts, code);
                    h.input(Input::Response { id: s.id, response: r });
                }
                _ => h.advance(1),
            }
            pending.extend(h.take_sends());
            // At most one non-leave heartbeat in flight.
            let hbs = pending
                .iter()
                .filter(|s| matches!(&s.request, AnyRequest::ConsumerGroupHeartbeat(r) if r.member_epoch >= 0))
                .count();
            prop_assert!(hbs <= 1, "{hbs} heartbeats in flight");
            for s in &pending {
                prop_assert_eq!(s.held_for, None);
            }
            // Events keep ownership consistent: nothing assigned twice, nothing revoked or
            // lost that is not held, and never assigned and revoked in the same epoch.
            let mut revoked_in: std::collections::BTreeMap<i32, Vec<TopicPartition>> = Default::default();
            for e in h.take_events() {
                match e {
                    Event::Assigned { partitions, generation } => {
                        for p in partitions {
                            prop_assert!(!revoked_in.get(&generation).is_some_and(|v| v.contains(&p)));
                            prop_assert!(held.insert(p.clone()), "{p:?} assigned twice");
                        }
                    }
                    Event::Revoke { partitions, generation } => {
                        for p in &partitions {
                            prop_assert!(held.contains(p), "revoking unheld {p:?}");
                        }
                        revoked_in.entry(generation).or_default().extend(partitions);
                    }
                    Event::Lost { partitions } => {
                        for p in partitions {
                            prop_assert!(held.remove(&p), "losing unheld {p:?}");
                        }
                    }
                    _ => {}
                }
            }
            // After RevocationDone the revoked partitions are no longer held.
            let now_owned: std::collections::BTreeSet<TopicPartition> =
                h.m.assignment().iter().cloned().collect();
            held.retain(|p| now_owned.contains(p));
            prop_assert_eq!(&held, &now_owned);
        }
    }
}
