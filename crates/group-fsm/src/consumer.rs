//! The KIP-848 member (`group.protocol=consumer`): ConsumerGroupHeartbeat, broker-side
//! assignment, per-member reconciliation. Behind [`crate::Member`].

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use kafka_wire::error_code::ErrorCode;
use kafka_wire::generated::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, MetadataRequest,
    OffsetCommitRequest, consumer_group_heartbeat_request::TopicPartitions,
    metadata_request::MetadataRequestTopic, offset_commit_request,
};
use kafka_wire::{AnyRequest, AnyResponse, ApiKey, ByteString, NegotiatedVersions, Uuid};

use crate::assignor::TopicPartition;
use crate::backoff::Backoff;
use crate::config::Config;
use crate::error::{GroupError, UsageError};
use crate::io::{Action, Destination, Event, Input, Offset, RequestId, Send, TransportError};
use crate::member::StateKind;
use crate::requests::{self, Coordinator, InFlight, ms_i32};
use crate::time::Instant;
use crate::timer::{Timer, TimerTable};
use crate::vec_map::VecMap;

/// A KIP-848 member's state, as Java's `MemberState` (`group-protocol.md` §9.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerState {
    /// Not subscribed (or left, or closed): no heartbeats.
    Unsubscribed,
    /// Joining or rejoining: heartbeats at epoch 0 until the broker gives an epoch.
    Joining,
    /// Applying a new target assignment: commit, revoke, assign.
    Reconciling,
    /// Reconciliation done; the heartbeat carrying the new owned set is pending.
    Acknowledging,
    /// Fully reconciled, heartbeating every interval.
    Stable,
    /// Fenced by the broker: partitions lost, about to rejoin at epoch 0.
    Fenced,
    /// Revoking (and committing) the owned partitions before leaving.
    PrepareLeaving,
    /// The leave heartbeat (epoch -1, or -2 for a static member) is pending.
    Leaving,
    /// Left because `max.poll.interval` expired; rejoins on the next [`Input::Poll`].
    Stale,
    /// Stopped on an unrecoverable error (sticky).
    Fatal,
}

/// A partition by topic id.
type IdPart = (Uuid, i32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    App,
    Auto,
    /// Commit of the partitions a reconciliation or leave revokes.
    Revoke,
}

#[derive(Debug, Clone)]
enum Pending {
    FindCoordinator,
    Metadata,
    /// A heartbeat; `ack` when sent in ACKNOWLEDGING.
    Heartbeat {
        ack: bool,
    },
    Leave,
    Commit {
        offsets: Vec<Offset>,
        purpose: Purpose,
        first_sent: Instant,
    },
    OffsetFetch {
        partitions: Vec<TopicPartition>,
    },
}

/// Why the member leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LeaveKind {
    Close,
    Unsubscribe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Committing the revoked partitions' positions.
    Committing,
    /// `Event::Revoke` out, waiting for `Input::RevocationDone`.
    AwaitingApp,
}

#[derive(Debug, Clone)]
struct Recon {
    epoch: i32,
    revoked: Vec<IdPart>,
    added: Vec<IdPart>,
    /// A leave revocation (close/unsubscribe): nothing is added, then LEAVING.
    leave: bool,
    step: Step,
}

/// The fields of the last heartbeat sent (Java's `sentFields`); `None` = send a full request.
#[derive(Debug, Clone, Default)]
struct Sent {
    names: Option<Vec<String>>,
    regex: Option<String>,
    owned: BTreeSet<IdPart>,
}

/// The KIP-848 machine.
pub(crate) struct ConsumerMember {
    config: Config,
    now: Instant,
    actions: VecDeque<Action>,
    next_request: u64,
    pending: InFlight<Pending>,
    versions: Option<NegotiatedVersions>,
    backoff: Backoff,
    timers: TimerTable,

    state: ConsumerState,
    closed: bool,
    failed: Option<GroupError>,
    coordinator: Option<Coordinator>,
    member_id: String,
    epoch: i32,
    heartbeat_interval: Duration,
    /// The heartbeat whose response counts; others are superseded.
    heartbeat: Option<RequestId>,
    heartbeat_due: bool,
    sent: Option<Sent>,
    joined_reported: bool,
    idle_reported: Option<i32>,
    /// Successful heartbeat answers so far, and the (epoch, count) at which the member was
    /// first seen Stable with nothing: `Idle` waits for a later answer at the same epoch, so
    /// a member whose partitions are still being released by others is not called idle.
    heartbeats_answered: u64,
    idle_candidate: Option<(i32, u64)>,

    subscription: Vec<String>,
    pattern: Option<String>,
    owned: BTreeSet<IdPart>,
    owned_named: Vec<TopicPartition>,
    topic_names: VecMap<Uuid, String>,
    requested_ids: Vec<Uuid>,
    /// The latest target assignment not yet fully reconciled, with its epoch.
    target: Option<(i32, BTreeSet<IdPart>)>,
    /// Position of each partition in the broker's last assignment: owned partitions are
    /// reported in that order (librdkafka 2.16's mock compares the lists in order and answers
    /// an ack in another order only at its next assignment round, 500 ms later).
    assignment_order: VecMap<IdPart, usize>,
    recon: Option<Recon>,
    leaving: Option<LeaveKind>,
    /// A commit answered STALE_MEMBER_EPOCH, retried after the next heartbeat response.
    stale_commit: Option<(Vec<Offset>, Purpose, Instant)>,
    positions: BTreeMap<TopicPartition, Offset>,
    committed: BTreeMap<TopicPartition, i64>,
}

/// The client-generated member id (KIP-1082): a version-4 UUID drawn from `config.rng_seed`
/// mixed with the client id and instance id, rendered like Java's `Uuid.toString()`.
pub(crate) fn generate_member_id(config: &Config) -> String {
    // FNV-1a over the identifying strings, mixed into the seed.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in config
        .client_id
        .bytes()
        .chain([0xff])
        .chain(config.group_instance_id.as_deref().unwrap_or("").bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut state = config.rng_seed ^ h.rotate_left(17);
    let mut next = || {
        // SplitMix64.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    loop {
        let mut u = Uuid::from_u64_pair(next(), next());
        u.0[6] = (u.0[6] & 0x0f) | 0x40;
        u.0[8] = (u.0[8] & 0x3f) | 0x80;
        let s = u.to_string();
        // As Java: an id must not start with '-' (it would read as a command-line flag).
        if !s.starts_with('-') {
            return s;
        }
    }
}

impl ConsumerMember {
    pub(crate) fn new(config: Config, now: Instant) -> Self {
        let backoff = Backoff::new(
            config.retry_backoff,
            config.retry_backoff_max,
            config.rng_seed,
        );
        let member_id = generate_member_id(&config);
        let heartbeat_interval = config.heartbeat_interval;
        let mut m = Self {
            config,
            now,
            actions: VecDeque::new(),
            next_request: 0,
            pending: InFlight::new(),
            versions: None,
            backoff,
            timers: TimerTable::default(),
            state: ConsumerState::Unsubscribed,
            closed: false,
            failed: None,
            coordinator: None,
            member_id,
            epoch: 0,
            heartbeat_interval,
            heartbeat: None,
            heartbeat_due: false,
            sent: None,
            joined_reported: false,
            idle_reported: None,
            heartbeats_answered: 0,
            idle_candidate: None,
            subscription: Vec::new(),
            pattern: None,
            owned: BTreeSet::new(),
            owned_named: Vec::new(),
            topic_names: VecMap::new(),
            requested_ids: Vec::new(),
            target: None,
            assignment_order: VecMap::new(),
            recon: None,
            leaving: None,
            stale_commit: None,
            positions: BTreeMap::new(),
            committed: BTreeMap::new(),
        };
        if let Err(e) = m.config.validate() {
            m.fail(GroupError::Config(e));
        }
        m
    }

    // ----------------------------------------------------------------------------------------
    // getters

    pub(crate) const fn state(&self) -> StateKind {
        match self.state {
            ConsumerState::Unsubscribed if self.closed => StateKind::Closed,
            ConsumerState::Unsubscribed | ConsumerState::Fenced | ConsumerState::Stale => {
                StateKind::Unjoined
            }
            ConsumerState::Joining => StateKind::Joining,
            ConsumerState::Reconciling | ConsumerState::Acknowledging => StateKind::Syncing,
            ConsumerState::Stable => StateKind::Stable,
            ConsumerState::PrepareLeaving | ConsumerState::Leaving => StateKind::Leaving,
            ConsumerState::Fatal => StateKind::Failed,
        }
    }

    pub(crate) const fn consumer_state(&self) -> ConsumerState {
        self.state
    }

    pub(crate) const fn generation(&self) -> i32 {
        self.epoch
    }

    pub(crate) fn member_id(&self) -> &str {
        &self.member_id
    }

    pub(crate) fn assignment(&self) -> &[TopicPartition] {
        &self.owned_named
    }

    pub(crate) const fn is_leader(&self) -> bool {
        false
    }

    pub(crate) const fn error(&self) -> Option<GroupError> {
        self.failed
    }

    pub(crate) fn poll_action(&mut self) -> Option<Action> {
        let action = self.actions.pop_front();
        if self.actions.is_empty() && self.actions.capacity() > 0 {
            // An action holds its request inline (about 500 B): an idle member (most of the
            // groups of a large `GroupSet`) keeps no room for a burst that has passed.
            self.actions = VecDeque::new();
        }
        action
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ----------------------------------------------------------------------------------------
    // input

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        self.progress();
    }

    pub(crate) fn handle(&mut self, now: Instant, input: Input) {
        self.advance(now);
        if self.failed.is_some() || self.closed {
            match input {
                Input::Response { id, .. } | Input::Failed { id, .. } => {
                    self.pending.remove(&id);
                }
                Input::Poll | Input::Positions(_) | Input::Versions(_) => {}
                _ => self.event(Event::Rejected(UsageError::Closed)),
            }
            return;
        }
        match input {
            Input::Subscribe(topics) if topics.is_empty() => {
                self.start_leave(LeaveKind::Unsubscribe)
            }
            Input::Subscribe(mut topics) => {
                topics.sort();
                topics.dedup();
                let changed = self.pattern.is_some() || topics != self.subscription;
                self.pattern = None;
                self.subscription = topics;
                self.on_subscribe(changed);
            }
            Input::SubscribePattern(p) => {
                if self.heartbeat_version() == Some(0) {
                    // v0 has no SubscribedTopicRegex; the regex is evaluated on the broker
                    // only, never client-side under KIP-848.
                    self.event(Event::Rejected(UsageError::PatternNeedsBroker));
                } else {
                    let changed = self.pattern.as_deref() != Some(p.as_str());
                    self.subscription.clear();
                    self.pattern = Some(p);
                    self.on_subscribe(changed);
                }
            }
            Input::Unsubscribe => self.start_leave(LeaveKind::Unsubscribe),
            Input::Close => self.start_leave(LeaveKind::Close),
            Input::Poll => {
                self.arm_poll_timer();
                if self.state == ConsumerState::Stale {
                    self.start_join();
                }
            }
            Input::RevocationDone => self.revocation_done(),
            Input::Positions(offsets) => {
                for o in offsets {
                    if self.owned_named.contains(&o.partition) {
                        self.positions.insert(o.partition.clone(), o);
                    }
                }
            }
            Input::Commit(offsets) => self.commit(offsets, Purpose::App, self.now),
            Input::FetchCommitted(partitions) => self.fetch_committed(partitions),
            Input::Versions(v) => {
                self.versions = Some(v);
                self.check_versions();
            }
            Input::Response { id, response } => self.on_response(id, response),
            Input::Failed { id, error } => self.on_failed(id, error),
        }
        self.progress();
    }

    // ----------------------------------------------------------------------------------------
    // plumbing

    fn advance(&mut self, now: Instant) {
        debug_assert!(now >= self.now, "time went backwards: {now} < {}", self.now);
        if now > self.now {
            self.now = now;
        }
        while let Some(t) = self.timers.pop_due(self.now) {
            self.on_timer(t);
        }
    }

    fn event(&mut self, e: Event) {
        self.actions.push_back(Action::Event(e));
    }

    fn fail(&mut self, e: GroupError) {
        if self.failed.is_some() {
            return;
        }
        self.failed = Some(e);
        self.state = ConsumerState::Fatal;
        self.timers.clear();
        self.positions.clear();
        self.committed.clear();
        self.recon = None;
        self.target = None;
        self.heartbeat = None;
        self.stale_commit = None;
        if !self.owned_named.is_empty() {
            let lost = core::mem::take(&mut self.owned_named);
            self.owned.clear();
            self.event(Event::Lost { partitions: lost });
        }
        self.event(Event::Fatal(e));
    }

    /// The ConsumerGroupHeartbeat version: the highest of 0..=1 both sides support; `None`
    /// before versions are known (then 1 is used), `Some(-1)` when the broker lacks key 68.
    fn heartbeat_version(&self) -> Option<i16> {
        let v = self.versions.as_ref()?;
        Some(
            v.version(ApiKey::ConsumerGroupHeartbeat)
                .map_or(-1, |b| b.min(1)),
        )
    }

    fn check_versions(&mut self) {
        match self.heartbeat_version() {
            Some(v) if v < 0 => self.fail(GroupError::ConsumerProtocolUnsupported),
            Some(0) if self.pattern.is_some() => self.fail(GroupError::Config(
                "a regex subscription needs ConsumerGroupHeartbeat v1",
            )),
            _ => {}
        }
    }

    fn version(&self, key: ApiKey, cap: i16) -> i16 {
        let ours = key.versions().max.min(cap);
        match &self.versions {
            Some(v) => v.version(key).map_or(ours, |b| b.min(ours)),
            None => ours,
        }
    }

    fn send(
        &mut self,
        pending: Pending,
        to: Destination,
        request: AnyRequest,
        version: i16,
    ) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.pending.insert(id, pending);
        self.actions.push_back(Action::Send(Send {
            id,
            to,
            request,
            version,
            timeout: self.config.request_timeout,
            held_for: None,
        }));
        id
    }

    fn coordinator_dest(&self) -> Option<Destination> {
        self.coordinator.as_ref().map(Coordinator::destination)
    }

    fn has_pending(&self, f: impl Fn(&Pending) -> bool) -> bool {
        self.pending.values().any(f)
    }

    fn arm_poll_timer(&mut self) {
        self.timers.set(
            Timer::PollInterval,
            self.now + self.config.max_poll_interval,
        );
    }

    fn backoff_then_retry(&mut self) {
        let d = self.backoff.next_delay();
        self.timers.set(Timer::Backoff, self.now + d);
    }

    /// Forget the coordinator; the next heartbeat is a full request.
    fn mark_coordinator_unknown(&mut self) {
        self.coordinator = None;
        self.heartbeat = None;
        self.sent = None;
        self.heartbeat_due = true;
    }

    fn name_of(&self, p: &IdPart) -> Option<TopicPartition> {
        self.topic_names
            .get(&p.0)
            .map(|n| TopicPartition::new(n.as_str(), p.1))
    }

    fn names(&self, ps: &[IdPart]) -> Vec<TopicPartition> {
        ps.iter().filter_map(|p| self.name_of(p)).collect()
    }

    fn sync_owned_named(&mut self) {
        let mut v: Vec<TopicPartition> =
            self.owned.iter().filter_map(|p| self.name_of(p)).collect();
        v.sort();
        self.owned_named = v;
    }

    fn on_subscribe(&mut self, changed: bool) {
        self.arm_poll_timer();
        match self.state {
            ConsumerState::Unsubscribed | ConsumerState::Stale => self.start_join(),
            ConsumerState::PrepareLeaving | ConsumerState::Leaving => {
                // An unsubscribe is under way: the member rejoins once it has left.
                self.leaving = Some(LeaveKind::Unsubscribe);
            }
            // The changed subscription goes out in the next heartbeat, at once.
            _ => self.heartbeat_due |= changed,
        }
    }

    fn start_join(&mut self) {
        self.state = ConsumerState::Joining;
        self.epoch = 0;
        self.sent = None;
        self.joined_reported = false;
        self.idle_reported = None;
        self.target = None;
        self.recon = None;
        self.heartbeat = None;
        self.heartbeat_due = true;
        self.arm_poll_timer();
    }

    /// Partitions lost (fenced, poll timeout): no commit, positions dropped.
    fn lose_all(&mut self) {
        self.recon = None;
        self.target = None;
        self.stale_commit = None;
        self.owned.clear();
        self.positions.clear();
        self.committed.clear();
        if !self.owned_named.is_empty() {
            let lost = core::mem::take(&mut self.owned_named);
            self.event(Event::Lost { partitions: lost });
        }
    }

    fn fence(&mut self) {
        self.state = ConsumerState::Fenced;
        self.lose_all();
        if self.leaving.is_some() {
            // Fenced while leaving: the broker already dropped us.
            self.epoch = 0;
            self.finish_leave();
            return;
        }
        // Rejoin at once with the same member id, no backoff.
        self.start_join();
        self.timers.cancel(Timer::Backoff);
    }

    // ----------------------------------------------------------------------------------------
    // driver

    fn progress(&mut self) {
        if self.failed.is_some() || self.closed {
            return;
        }
        if matches!(
            self.state,
            ConsumerState::Unsubscribed | ConsumerState::Stale | ConsumerState::Fenced
        ) {
            return;
        }
        self.maybe_request_metadata();
        if self.timers.is_set(Timer::Backoff) {
            return;
        }
        if self.coordinator.is_none() {
            if self.state == ConsumerState::PrepareLeaving && self.epoch <= 0 {
                self.lose_all();
                self.finish_leave();
                return;
            }
            if !self.has_pending(|p| matches!(p, Pending::FindCoordinator)) {
                self.send_find_coordinator();
            }
            return;
        }
        if self.state == ConsumerState::PrepareLeaving {
            self.progress_leave();
            // Keep heartbeating while the app revokes (Java does too), so the session lives.
            if self.state == ConsumerState::PrepareLeaving
                && self.epoch > 0
                && self.heartbeat_due
                && self.heartbeat.is_none()
                && !self.has_pending(|p| matches!(p, Pending::Heartbeat { .. }))
            {
                self.send_heartbeat();
            }
            return;
        }
        if self.state == ConsumerState::Leaving {
            return;
        }
        if self.recon.is_none() && !matches!(self.state, ConsumerState::Acknowledging) {
            self.maybe_reconcile();
        }
        // At most one heartbeat in flight (the leave heartbeat aside): a superseded one must
        // be answered or fail before the next goes out.
        if self.heartbeat_due
            && self.heartbeat.is_none()
            && !self.has_pending(|p| matches!(p, Pending::Heartbeat { .. }))
        {
            self.send_heartbeat();
        }
    }

    fn unresolved(&self) -> Vec<Uuid> {
        let mut v: Vec<Uuid> = self
            .target
            .iter()
            .flat_map(|(_, t)| t.iter())
            .map(|p| p.0)
            .filter(|id| !self.topic_names.contains_key(id))
            .collect();
        v.dedup();
        v
    }

    fn maybe_request_metadata(&mut self) {
        let missing = self.unresolved();
        if missing.iter().all(|id| self.requested_ids.contains(id))
            || self.has_pending(|p| matches!(p, Pending::Metadata))
        {
            return;
        }
        let v = self.version(ApiKey::Metadata, 12);
        for id in &missing {
            if !self.requested_ids.contains(id) {
                self.requested_ids.push(*id);
            }
        }
        let req = MetadataRequest {
            topics: if v >= 10 {
                Some(
                    missing
                        .iter()
                        .map(|id| MetadataRequestTopic {
                            topic_id: *id,
                            name: None,
                            ..Default::default()
                        })
                        .collect(),
                )
            } else if v >= 1 {
                None
            } else {
                Some(Vec::new())
            },
            allow_auto_topic_creation: false,
            ..Default::default()
        };
        self.send(
            Pending::Metadata,
            Destination::AnyBroker,
            AnyRequest::Metadata(req),
            v,
        );
    }

    fn send_find_coordinator(&mut self) {
        let v = self.version(ApiKey::FindCoordinator, 6);
        let req = requests::find_coordinator(&self.config.group_id, v);
        self.send(
            Pending::FindCoordinator,
            Destination::AnyBroker,
            AnyRequest::FindCoordinator(req),
            v,
        );
    }

    fn send_heartbeat(&mut self) {
        let Some(to) = self.coordinator_dest() else {
            return;
        };
        let v = match self.heartbeat_version() {
            Some(v) if v < 0 => {
                self.fail(GroupError::ConsumerProtocolUnsupported);
                return;
            }
            Some(v) => v,
            None => 1,
        };
        let owned = self.owned.clone();
        let names = if self.pattern.is_some() {
            None
        } else {
            Some(self.subscription.clone())
        };
        let regex = self.pattern.clone();
        let order = &self.assignment_order;
        let owned_list = |o: &BTreeSet<IdPart>| {
            // Topics and partitions in the order of the broker's last assignment, the rest
            // after them in ascending order.
            let mut listed: Vec<(usize, IdPart)> = o
                .iter()
                .map(|tp| (order.get(tp).copied().unwrap_or(usize::MAX), *tp))
                .collect();
            listed.sort_unstable();
            let mut by: Vec<(Uuid, Vec<i32>)> = Vec::new();
            for (_, (topic_id, p)) in listed {
                match by.iter_mut().find(|t| t.0 == topic_id) {
                    Some(t) => t.1.push(p),
                    None => by.push((topic_id, alloc::vec![p])),
                }
            }
            by.into_iter()
                .map(|(topic_id, ps)| TopicPartitions {
                    topic_id,
                    partitions: ps.into(),
                    ..Default::default()
                })
                .collect::<Vec<_>>()
        };
        let bs = |v: &[String]| {
            v.iter()
                .map(|s| ByteString::from(s.as_str()))
                .collect::<Vec<_>>()
        };
        // Every heartbeat at epoch 0 is a full one, as Java sends all fields while JOINING: a
        // broker may accept the join and still answer epoch 0 (librdkafka's mock does while
        // it assigns), and a delta at epoch 0 is an invalid request.
        let sent = if self.epoch == 0 {
            None
        } else {
            self.sent.as_ref()
        };
        let req = match sent {
            None => ConsumerGroupHeartbeatRequest {
                group_id: self.config.group_id.as_str().into(),
                member_id: if v == 0 && self.epoch == 0 {
                    ByteString::new()
                } else {
                    self.member_id.as_str().into()
                },
                member_epoch: self.epoch,
                instance_id: self
                    .config
                    .group_instance_id
                    .as_deref()
                    .map(ByteString::from),
                rack_id: self.config.rack_id.as_deref().map(ByteString::from),
                rebalance_timeout_ms: ms_i32(self.config.max_poll_interval),
                subscribed_topic_names: Some(names.as_deref().map(bs).unwrap_or_default()),
                // Names and regex travel together, the regex "" when there is none, as
                // librdkafka sends them: librdkafka 2.16's mock cluster aborts (an assertion)
                // on a v1 heartbeat that carries one of the two without the other, and Kafka
                // reads "" as no regex.
                subscribed_topic_regex: if v >= 1 {
                    Some(regex.as_deref().unwrap_or("").into())
                } else {
                    None
                },
                server_assignor: self.config.server_assignor.as_deref().map(ByteString::from),
                topic_partitions: Some(owned_list(&owned)),
                ..Default::default()
            },
            Some(s) => ConsumerGroupHeartbeatRequest {
                group_id: self.config.group_id.as_str().into(),
                member_id: self.member_id.as_str().into(),
                member_epoch: self.epoch,
                rebalance_timeout_ms: -1,
                subscribed_topic_names: if s.names != names || s.regex != regex {
                    Some(names.as_deref().map(bs).unwrap_or_default())
                } else {
                    None
                },
                subscribed_topic_regex: if v >= 1 && (s.names != names || s.regex != regex) {
                    Some(regex.as_deref().unwrap_or("").into())
                } else {
                    None
                },
                topic_partitions: if s.owned != owned {
                    Some(owned_list(&owned))
                } else {
                    None
                },
                ..Default::default()
            },
        };
        self.sent = Some(Sent {
            names,
            regex,
            owned,
        });
        self.heartbeat_due = false;
        self.timers.cancel(Timer::Heartbeat);
        let ack = self.state == ConsumerState::Acknowledging;
        let id = self.send(
            Pending::Heartbeat { ack },
            to,
            AnyRequest::ConsumerGroupHeartbeat(req),
            v,
        );
        self.heartbeat = Some(id);
    }

    // ----------------------------------------------------------------------------------------
    // reconciliation

    fn maybe_reconcile(&mut self) {
        if !matches!(
            self.state,
            ConsumerState::Joining | ConsumerState::Reconciling | ConsumerState::Stable
        ) {
            return;
        }
        let Some((epoch, target)) = self.target.clone() else {
            return;
        };
        let resolved: BTreeSet<IdPart> = target
            .iter()
            .filter(|p| self.topic_names.contains_key(&p.0))
            .copied()
            .collect();
        let all_resolved = resolved.len() == target.len();
        let revoked: Vec<IdPart> = self.owned.difference(&target).copied().collect();
        let added: Vec<IdPart> = resolved.difference(&self.owned).copied().collect();
        if revoked.is_empty() && added.is_empty() {
            // Nothing to do (yet): adopt the epoch.
            if all_resolved {
                self.target = None;
                if matches!(
                    self.state,
                    ConsumerState::Reconciling | ConsumerState::Joining
                ) {
                    self.state = ConsumerState::Stable;
                }
                self.maybe_idle();
            } else {
                self.state = ConsumerState::Reconciling;
            }
            return;
        }
        if all_resolved {
            self.target = None;
        }
        self.state = ConsumerState::Reconciling;
        self.recon = Some(Recon {
            epoch,
            revoked: revoked.clone(),
            added,
            leave: false,
            step: Step::Committing,
        });
        self.commit_then_revoke(&revoked);
    }

    fn commit_then_revoke(&mut self, revoked: &[IdPart]) {
        let names = self.names(revoked);
        let offsets: Vec<Offset> = if self.config.auto_commit && self.epoch > 0 {
            self.positions
                .values()
                .filter(|o| names.contains(&o.partition))
                .filter(|o| self.committed.get(&o.partition) != Some(&o.offset))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        if offsets.is_empty() || self.coordinator.is_none() {
            self.recon_revoke();
        } else {
            self.commit(offsets, Purpose::Revoke, self.now);
        }
    }

    fn recon_revoke(&mut self) {
        let Some(r) = &mut self.recon else { return };
        if r.revoked.is_empty() {
            self.recon_assign();
            return;
        }
        r.step = Step::AwaitingApp;
        let epoch = r.epoch;
        let revoked = r.revoked.clone();
        let partitions = self.names(&revoked);
        self.event(Event::Revoke {
            partitions,
            generation: epoch,
        });
    }

    fn revocation_done(&mut self) {
        let Some(r) = self.recon.as_ref().filter(|r| r.step == Step::AwaitingApp) else {
            self.event(Event::Rejected(UsageError::NoRevocationPending));
            return;
        };
        let names = self.names(&r.revoked);
        for p in r.revoked.clone() {
            self.owned.remove(&p);
        }
        self.positions.retain(|tp, _| !names.contains(tp));
        self.committed.retain(|tp, _| !names.contains(tp));
        self.sync_owned_named();
        self.recon_assign();
    }

    fn recon_assign(&mut self) {
        let Some(r) = self.recon.take() else { return };
        if r.leave {
            self.send_leave();
            return;
        }
        for p in &r.added {
            self.owned.insert(*p);
        }
        self.sync_owned_named();
        let added = self.names(&r.added);
        if !added.is_empty() {
            self.event(Event::Assigned {
                partitions: added,
                generation: r.epoch,
            });
        }
        self.state = ConsumerState::Acknowledging;
        self.heartbeat_due = true;
    }

    fn maybe_idle(&mut self) {
        if self.state != ConsumerState::Stable || !self.owned.is_empty() || self.epoch <= 0 {
            self.idle_candidate = None;
            return;
        }
        match self.idle_candidate {
            Some((epoch, seen)) if epoch == self.epoch => {
                if seen < self.heartbeats_answered && self.idle_reported != Some(self.epoch) {
                    self.idle_reported = Some(self.epoch);
                    self.event(Event::Idle {
                        generation: self.epoch,
                    });
                }
            }
            _ => self.idle_candidate = Some((self.epoch, self.heartbeats_answered)),
        }
    }

    // ----------------------------------------------------------------------------------------
    // leaving

    fn start_leave(&mut self, kind: LeaveKind) {
        if kind == LeaveKind::Unsubscribe {
            self.subscription.clear();
            self.pattern = None;
        }
        match self.state {
            ConsumerState::Unsubscribed | ConsumerState::Stale | ConsumerState::Fenced => {
                self.leaving = Some(kind);
                self.lose_all();
                self.finish_leave();
            }
            ConsumerState::PrepareLeaving | ConsumerState::Leaving => {
                if kind == LeaveKind::Close {
                    self.leaving = Some(kind);
                }
            }
            _ => {
                self.leaving = Some(kind);
                self.state = ConsumerState::PrepareLeaving;
                self.target = None;
                self.timers.cancel(Timer::Backoff);
                self.timers.cancel(Timer::PollInterval);
                // A reconciliation still committing is dropped; one waiting for the app's
                // RevocationDone finishes first.
                if self
                    .recon
                    .as_ref()
                    .is_some_and(|r| r.step == Step::Committing)
                {
                    self.recon = None;
                }
            }
        }
    }

    fn progress_leave(&mut self) {
        if self.recon.is_some() {
            if let Some(r) = &mut self.recon {
                if !r.leave && r.step == Step::AwaitingApp {
                    // RevocationDone will call recon_assign: make it lead to the leave.
                    r.leave = true;
                    r.added.clear();
                }
            }
            return;
        }
        if self.has_pending(|p| matches!(p, Pending::Leave)) {
            return;
        }
        if !self.owned.is_empty() && self.epoch > 0 {
            let all: Vec<IdPart> = self.owned.iter().copied().collect();
            self.recon = Some(Recon {
                epoch: self.epoch,
                revoked: all.clone(),
                added: Vec::new(),
                leave: true,
                step: Step::Committing,
            });
            self.commit_then_revoke(&all);
            return;
        }
        self.lose_all();
        self.send_leave();
    }

    const fn leave_epoch(&self) -> i32 {
        if self.config.group_instance_id.is_some() {
            -2
        } else {
            -1
        }
    }

    fn leave_request(&self) -> ConsumerGroupHeartbeatRequest {
        ConsumerGroupHeartbeatRequest {
            group_id: self.config.group_id.as_str().into(),
            member_id: self.member_id.as_str().into(),
            member_epoch: self.leave_epoch(),
            instance_id: self
                .config
                .group_instance_id
                .as_deref()
                .map(ByteString::from),
            rebalance_timeout_ms: -1,
            ..Default::default()
        }
    }

    /// Sends the leave heartbeat (LEAVING), or finishes at once when there is nothing to leave.
    fn send_leave(&mut self) {
        let to = self.coordinator_dest();
        match to {
            // A join still in flight may have made us a member: leave anyway.
            Some(to)
                if (self.epoch > 0
                    || self.has_pending(|p| matches!(p, Pending::Heartbeat { .. })))
                    && self.heartbeat_version().is_none_or(|v| v >= 0) =>
            {
                self.state = ConsumerState::Leaving;
                let v = self.heartbeat_version().unwrap_or(1);
                let req = self.leave_request();
                // The only heartbeat allowed beside another in flight: that one is superseded.
                self.heartbeat = None;
                self.timers.cancel(Timer::Heartbeat);
                self.send(
                    Pending::Leave,
                    to,
                    AnyRequest::ConsumerGroupHeartbeat(req),
                    v,
                );
            }
            _ => self.finish_leave(),
        }
    }

    fn finish_leave(&mut self) {
        self.epoch = 0;
        self.sent = None;
        self.heartbeat = None;
        self.heartbeat_due = false;
        self.recon = None;
        self.target = None;
        self.timers.cancel(Timer::Heartbeat);
        self.timers.cancel(Timer::AutoCommit);
        self.timers.cancel(Timer::PollInterval);
        self.timers.cancel(Timer::Backoff);
        self.positions.clear();
        self.committed.clear();
        self.state = ConsumerState::Unsubscribed;
        match self.leaving.take() {
            Some(LeaveKind::Close) => {
                self.closed = true;
                self.timers.clear();
                self.event(Event::Closed);
            }
            _ => {
                self.event(Event::Left);
                if !self.subscription.is_empty() || self.pattern.is_some() {
                    // Subscribed again while leaving.
                    self.start_join();
                }
            }
        }
    }

    // ----------------------------------------------------------------------------------------
    // commits

    fn commit(&mut self, offsets: Vec<Offset>, purpose: Purpose, first_sent: Instant) {
        if offsets.is_empty() {
            return;
        }
        let Some(to) = self.coordinator_dest().filter(|_| self.epoch > 0) else {
            if purpose == Purpose::App {
                self.event(Event::Rejected(UsageError::NotMember));
            }
            if purpose == Purpose::Revoke {
                self.recon_revoke();
            }
            return;
        };
        let v = self.version(ApiKey::OffsetCommit, 9);
        let mut topics: BTreeMap<&str, Vec<offset_commit_request::OffsetCommitRequestPartition>> =
            BTreeMap::new();
        for o in &offsets {
            topics.entry(o.partition.topic.as_str()).or_default().push(
                offset_commit_request::OffsetCommitRequestPartition {
                    partition_index: o.partition.partition,
                    committed_offset: o.offset,
                    committed_leader_epoch: if v >= 6 { o.leader_epoch } else { -1 },
                    committed_metadata: Some(o.metadata.as_deref().unwrap_or("").into()),
                    ..Default::default()
                },
            );
        }
        let req = OffsetCommitRequest {
            group_id: self.config.group_id.as_str().into(),
            generation_id_or_member_epoch: self.epoch,
            member_id: self.member_id.as_str().into(),
            group_instance_id: if v >= 7 {
                self.config
                    .group_instance_id
                    .as_deref()
                    .map(ByteString::from)
            } else {
                None
            },
            topics: topics
                .into_iter()
                .map(
                    |(t, partitions)| offset_commit_request::OffsetCommitRequestTopic {
                        name: t.into(),
                        partitions,
                        ..Default::default()
                    },
                )
                .collect(),
            ..Default::default()
        };
        self.send(
            Pending::Commit {
                offsets,
                purpose,
                first_sent,
            },
            to,
            AnyRequest::OffsetCommit(req),
            v,
        );
    }

    /// A commit is over (answered, failed, or given up): a revocation goes on.
    fn commit_finished(&mut self, purpose: Purpose) {
        if purpose == Purpose::Revoke
            && self
                .recon
                .as_ref()
                .is_some_and(|r| r.step == Step::Committing)
        {
            self.recon_revoke();
        }
    }

    fn on_commit_response(
        &mut self,
        offsets: Vec<Offset>,
        purpose: Purpose,
        first_sent: Instant,
        r: &kafka_wire::generated::OffsetCommitResponse,
    ) {
        let mut results = Vec::with_capacity(offsets.len());
        let mut stale = false;
        let mut fenced = false;
        for o in offsets {
            let code = r
                .topics
                .iter()
                .find(|t| t.name.as_ref() as &str == o.partition.topic)
                .and_then(|t| {
                    t.partitions
                        .iter()
                        .find(|p| p.partition_index == o.partition.partition)
                })
                .map_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0, |p| p.error_code);
            match ErrorCode(code) {
                ErrorCode::NONE => {
                    self.committed.insert(o.partition.clone(), o.offset);
                }
                ErrorCode::STALE_MEMBER_EPOCH => stale = true,
                ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::FENCED_MEMBER_EPOCH => fenced = true,
                _ => {}
            }
            results.push((o, code));
        }
        let deadline = first_sent + self.config.max_poll_interval;
        if stale && !fenced && self.now < deadline && self.epoch > 0 {
            // Retry the whole commit once the next heartbeat response brings the epoch.
            let offsets = results.into_iter().map(|(o, _)| o).collect();
            self.stale_commit = Some((offsets, purpose, first_sent));
            self.heartbeat_due = true;
            return;
        }
        self.event(Event::Committed { results });
        if fenced {
            self.fence();
            return;
        }
        self.commit_finished(purpose);
    }

    fn fetch_committed(&mut self, partitions: Vec<TopicPartition>) {
        let Some(to) = self.coordinator_dest() else {
            self.event(Event::Rejected(UsageError::NotMember));
            return;
        };
        // v8+ batch groups; the KIP-848 member fields (v9+) are optional for the broker, so
        // the single-group layout of v7 is used.
        let v = self.version(ApiKey::OffsetFetch, 7);
        let req = requests::offset_fetch(&self.config.group_id, &partitions, v);
        self.send(
            Pending::OffsetFetch { partitions },
            to,
            AnyRequest::OffsetFetch(req),
            v,
        );
    }

    // ----------------------------------------------------------------------------------------
    // timers

    fn on_timer(&mut self, t: Timer) {
        match t {
            Timer::Backoff | Timer::Session | Timer::LeaderSync => {}
            Timer::Heartbeat => {
                if matches!(
                    self.state,
                    ConsumerState::Joining
                        | ConsumerState::Reconciling
                        | ConsumerState::Acknowledging
                        | ConsumerState::Stable
                        | ConsumerState::PrepareLeaving
                ) {
                    self.heartbeat_due = true;
                }
            }
            Timer::Metadata => self.requested_ids = Vec::new(),
            Timer::PollInterval => {
                if matches!(
                    self.state,
                    ConsumerState::Joining
                        | ConsumerState::Reconciling
                        | ConsumerState::Acknowledging
                        | ConsumerState::Stable
                ) {
                    self.event(Event::Warning(GroupError::PollIntervalExceeded));
                    self.lose_all();
                    if let Some(to) = self.coordinator_dest().filter(|_| self.epoch > 0) {
                        let v = self.heartbeat_version().unwrap_or(1).max(0);
                        let mut req = self.leave_request();
                        req.member_epoch = -1;
                        self.send(
                            Pending::Leave,
                            to,
                            AnyRequest::ConsumerGroupHeartbeat(req),
                            v,
                        );
                    }
                    self.state = ConsumerState::Stale;
                    self.epoch = 0;
                    self.sent = None;
                    self.heartbeat = None;
                    self.heartbeat_due = false;
                    self.timers.cancel(Timer::Heartbeat);
                    self.timers.cancel(Timer::AutoCommit);
                }
            }
            Timer::AutoCommit => {
                if self.epoch > 0
                    && matches!(
                        self.state,
                        ConsumerState::Stable
                            | ConsumerState::Reconciling
                            | ConsumerState::Acknowledging
                    )
                    && self.stale_commit.is_none()
                    && !self.has_pending(|p| matches!(p, Pending::Commit { .. }))
                {
                    let revoking = self
                        .recon
                        .as_ref()
                        .map(|r| self.names(&r.revoked))
                        .unwrap_or_default();
                    let offsets: Vec<Offset> = self
                        .positions
                        .values()
                        .filter(|o| !revoking.contains(&o.partition))
                        .filter(|o| self.committed.get(&o.partition) != Some(&o.offset))
                        .cloned()
                        .collect();
                    self.commit(offsets, Purpose::Auto, self.now);
                }
                if self.config.auto_commit && self.epoch > 0 {
                    self.timers.set(
                        Timer::AutoCommit,
                        self.now + self.config.auto_commit_interval,
                    );
                }
            }
        }
    }

    // ----------------------------------------------------------------------------------------
    // responses

    fn on_failed(&mut self, id: RequestId, _error: TransportError) {
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        match p {
            Pending::FindCoordinator => self.backoff_then_retry(),
            Pending::Metadata => {
                // Ask again for the topic ids it carried, after the backoff.
                self.requested_ids = Vec::new();
                self.backoff_then_retry();
            }
            Pending::Heartbeat { .. } => {
                if self.heartbeat == Some(id) {
                    // The response is lost: the broker may or may not have applied it. Resend
                    // in full at the same epoch (the broker accepts the previous epoch when the
                    // owned partitions are a subset of the assigned ones).
                    self.mark_coordinator_unknown();
                    self.backoff_then_retry();
                }
            }
            Pending::Leave => {
                if self.state == ConsumerState::Leaving {
                    self.finish_leave();
                }
            }
            Pending::Commit {
                offsets, purpose, ..
            } => {
                self.mark_coordinator_unknown();
                let results = offsets
                    .into_iter()
                    .map(|o| (o, ErrorCode::REQUEST_TIMED_OUT.0))
                    .collect();
                self.event(Event::Committed { results });
                self.commit_finished(purpose);
            }
            Pending::OffsetFetch { partitions } => {
                self.mark_coordinator_unknown();
                let offsets = partitions
                    .into_iter()
                    .map(|tp| (Offset::new(tp, -1), ErrorCode::REQUEST_TIMED_OUT.0))
                    .collect();
                self.event(Event::CommittedOffsets { offsets });
            }
        }
    }

    fn on_response(&mut self, id: RequestId, response: AnyResponse) {
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        match (p, response) {
            (Pending::FindCoordinator, AnyResponse::FindCoordinator(r)) => {
                let (code, node_id, host, port) = match r.coordinators.first() {
                    Some(c) => (c.error_code, c.node_id, c.host.to_string(), c.port),
                    None => (r.error_code, r.node_id, r.host.to_string(), r.port),
                };
                match ErrorCode(code) {
                    ErrorCode::NONE => {
                        self.backoff.reset();
                        self.coordinator = Some(Coordinator {
                            node_id,
                            host,
                            port,
                        });
                        self.sent = None;
                        self.heartbeat_due = true;
                        self.event(Event::CoordinatorFound { node_id });
                    }
                    ErrorCode::GROUP_AUTHORIZATION_FAILED | ErrorCode::INVALID_GROUP_ID => {
                        self.fail(GroupError::Broker {
                            api: "FindCoordinator",
                            code,
                        });
                    }
                    _ => self.backoff_then_retry(),
                }
            }
            (Pending::Metadata, AnyResponse::Metadata(r)) => {
                for t in &r.topics {
                    if let Some(name) = &t.name {
                        if t.topic_id != Uuid::ZERO && t.error_code == 0 {
                            self.topic_names.insert(t.topic_id, name.to_string());
                        }
                    }
                }
                if !self.unresolved().is_empty() {
                    // Ask again later, not in a loop.
                    self.timers
                        .set(Timer::Metadata, self.now + self.config.retry_backoff_max);
                }
            }
            (Pending::Heartbeat { ack }, AnyResponse::ConsumerGroupHeartbeat(r)) => {
                if self.heartbeat == Some(id) {
                    self.heartbeat = None;
                    self.on_heartbeat(ack, r);
                }
            }
            (Pending::Leave, AnyResponse::ConsumerGroupHeartbeat(_)) => {
                if self.state == ConsumerState::Leaving {
                    self.finish_leave();
                }
            }
            (
                Pending::Commit {
                    offsets,
                    purpose,
                    first_sent,
                },
                AnyResponse::OffsetCommit(r),
            ) => self.on_commit_response(offsets, purpose, first_sent, &r),
            (Pending::OffsetFetch { partitions }, AnyResponse::OffsetFetch(r)) => {
                let offsets = requests::committed_offsets(partitions, &r);
                self.event(Event::CommittedOffsets { offsets });
            }
            (Pending::Heartbeat { .. }, _) => {
                if self.heartbeat == Some(id) {
                    self.heartbeat = None;
                    self.sent = None;
                    self.heartbeat_due = true;
                    self.backoff_then_retry();
                }
                self.event(Event::Warning(GroupError::Protocol(
                    "response of the wrong type",
                )));
            }
            (Pending::Leave, _) => {
                if self.state == ConsumerState::Leaving {
                    self.finish_leave();
                }
            }
            (Pending::Commit { purpose, .. }, _) => {
                self.event(Event::Warning(GroupError::Protocol(
                    "response of the wrong type",
                )));
                self.commit_finished(purpose);
            }
            (_, _) => self.event(Event::Warning(GroupError::Protocol(
                "response of the wrong type",
            ))),
        }
    }

    fn on_heartbeat(&mut self, ack: bool, r: ConsumerGroupHeartbeatResponse) {
        if !matches!(
            self.state,
            ConsumerState::Joining
                | ConsumerState::Reconciling
                | ConsumerState::Acknowledging
                | ConsumerState::Stable
                | ConsumerState::PrepareLeaving
        ) {
            return;
        }
        if r.error_code != 0 {
            self.sent = None;
            self.heartbeat_due = true;
            match ErrorCode(r.error_code) {
                ErrorCode::FENCED_MEMBER_EPOCH | ErrorCode::UNKNOWN_MEMBER_ID => self.fence(),
                ErrorCode::NOT_COORDINATOR
                | ErrorCode::COORDINATOR_NOT_AVAILABLE
                | ErrorCode::REQUEST_TIMED_OUT => self.mark_coordinator_unknown(),
                ErrorCode::COORDINATOR_LOAD_IN_PROGRESS => self.backoff_then_retry(),
                _ => self.fail(GroupError::Broker {
                    api: "ConsumerGroupHeartbeat",
                    code: r.error_code,
                }),
            }
            return;
        }
        if r.member_epoch < self.epoch || r.member_epoch <= 0 {
            // Older than what we know (a late or duplicated answer), or epoch 0 (the broker
            // took the join but has no epoch for us yet; librdkafka's mock answers so while
            // it assigns): nothing to apply. Heartbeat again after the interval, never at
            // once, or a broker that keeps answering 0 gets a tight loop of heartbeats.
            if r.member_epoch == 0 && self.epoch == 0 && r.heartbeat_interval_ms > 0 {
                self.heartbeat_interval = Duration::from_millis(r.heartbeat_interval_ms as u64);
            }
            self.timers
                .set(Timer::Heartbeat, self.now + self.heartbeat_interval);
            return;
        }
        self.backoff.reset();
        self.heartbeats_answered += 1;
        if let Some(id) = r.member_id.as_deref().filter(|s| !s.is_empty()) {
            if id != self.member_id {
                self.member_id = id.to_string();
            }
        }
        let epoch_changed = r.member_epoch != self.epoch;
        self.epoch = r.member_epoch;
        if r.heartbeat_interval_ms > 0 {
            self.heartbeat_interval = Duration::from_millis(r.heartbeat_interval_ms as u64);
        }
        self.timers
            .set(Timer::Heartbeat, self.now + self.heartbeat_interval);
        if !self.joined_reported {
            self.joined_reported = true;
            self.event(Event::Joined {
                generation: self.epoch,
                member_id: self.member_id.clone(),
                leader: false,
            });
            if self.config.auto_commit {
                self.timers.set(
                    Timer::AutoCommit,
                    self.now + self.config.auto_commit_interval,
                );
            }
        }
        if self.state == ConsumerState::PrepareLeaving {
            // A close-time commit answered STALE_MEMBER_EPOCH retries with the epoch this
            // response brought, then the member leaves.
            if let Some((offsets, purpose, first_sent)) = self.stale_commit.take() {
                self.commit(offsets, purpose, first_sent);
            }
            return;
        }
        if let Some(a) = r.assignment {
            let listed: Vec<IdPart> = a
                .topic_partitions
                .iter()
                .flat_map(|t| t.partitions.iter().map(move |p| (t.topic_id, p)))
                .collect();
            self.assignment_order.clear();
            // The first place of a partition listed twice counts.
            self.assignment_order
                .extend_absent(listed.iter().enumerate().map(|(i, tp)| (*tp, i)));
            let set: BTreeSet<IdPart> = listed.into_iter().collect();
            self.target = Some((self.epoch, set));
        } else if epoch_changed {
            if let Some(t) = &mut self.target {
                t.0 = self.epoch;
            }
        }
        if ack && self.state == ConsumerState::Acknowledging {
            self.state = if self.target.is_some() {
                ConsumerState::Reconciling
            } else {
                ConsumerState::Stable
            };
        }
        if let Some((offsets, purpose, first_sent)) = self.stale_commit.take() {
            self.commit(offsets, purpose, first_sent);
        }
        if self.state == ConsumerState::Stable && self.target.is_none() {
            self.maybe_idle();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ids_are_uuid4_base64_and_seeded() {
        let mut c = Config::new("g");
        let a = generate_member_id(&c);
        assert_eq!(a.len(), 22);
        assert_eq!(a, generate_member_id(&c));
        c.rng_seed = 1;
        assert_ne!(a, generate_member_id(&c));
        c.client_id = "other".into();
        assert_ne!(a, generate_member_id(&c));
    }
}
