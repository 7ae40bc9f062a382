//! The classic-protocol member (JoinGroup / SyncGroup / Heartbeat) behind [`crate::Member`].

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use bytes::Bytes;
use kafka_wire::error_code::ErrorCode;
use kafka_wire::generated::{
    HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, MetadataRequest, OffsetCommitRequest,
    SyncGroupRequest, join_group_request::JoinGroupRequestProtocol,
    leave_group_request::MemberIdentity, metadata_request::MetadataRequestTopic,
    offset_commit_request, sync_group_request::SyncGroupRequestAssignment,
};
use kafka_wire::{AnyRequest, AnyResponse, ApiKey, ByteString, NegotiatedVersions};

use crate::assignor::{
    Assignment, Assignor, ClusterView, RebalanceProtocol, Subscription, TopicPartition,
    consumer_protocol,
};
use crate::backoff::Backoff;
use crate::config::Config;
use crate::error::{GroupError, UsageError};
use crate::io::{Action, Destination, Event, Input, Offset, RequestId, Send, TransportError};
use crate::requests::{self, Coordinator, InFlight, ms_i32};
use crate::table::{self, Api, Reaction};
use crate::time::Instant;
use crate::timer::{Timer, TimerTable};

/// The member's state, as reported by [`crate::Member::state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    /// Not in a group: no subscription, or waiting to (re)join.
    Unjoined,
    /// JoinGroup sent, waiting for the response (the coordinator may hold it).
    Joining,
    /// JoinGroup answered; SyncGroup sent (leader: after assigning).
    Syncing,
    /// Member of a stable generation, heartbeating.
    Stable,
    /// Closing: revoking, committing, leaving.
    Leaving,
    /// Closed cleanly.
    Closed,
    /// Stopped on a fatal error (sticky).
    Failed,
}

#[derive(Debug, Clone)]
enum Pending {
    FindCoordinator,
    Metadata,
    Join,
    Sync {
        generation: i32,
        sent_at: Instant,
    },
    Heartbeat {
        generation: i32,
        sent_at: Instant,
    },
    Commit {
        generation: i32,
        offsets: Vec<Offset>,
        then_join: bool,
        on_close: bool,
    },
    OffsetFetch {
        partitions: Vec<TopicPartition>,
    },
    Leave,
}

/// What to do once the app answered a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterRevoke {
    /// Commit (auto-commit) then send JoinGroup.
    Join,
    /// Nothing more (cooperative revocation after SyncGroup): rejoin is already requested.
    Continue,
    /// Commit then leave (close or unsubscribe).
    Leave,
}

#[derive(Debug, Clone)]
struct Revocation {
    partitions: Vec<TopicPartition>,
    then: AfterRevoke,
}

/// Leader work between JoinGroup and SyncGroup: waiting for metadata of members' topics.
#[derive(Debug, Clone)]
struct LeaderWork {
    generation: i32,
    protocol: String,
    members: Vec<(String, Subscription)>,
    /// Assign only with metadata from a response counted at least this high (see
    /// `metadata_responses`): the leader refreshes metadata after each election.
    min_metadata: u64,
    /// The SyncGroup goes out no earlier (`Config::leader_sync_delay`).
    not_before: Instant,
}

/// One member of one consumer group (classic protocol), as a sans-IO state machine; the
/// public face is [`crate::Member`].
///
/// # Method families
/// - getters on `&self`: [`state`](Self::state), [`generation`](Self::generation),
///   [`member_id`](Self::member_id), [`assignment`](Self::assignment),
///   [`is_leader`](Self::is_leader);
/// - input: [`handle`](Self::handle) (one [`Input`] enum for every external fact) and
///   [`handle_timeout`](Self::handle_timeout);
/// - output: [`poll_action`](Self::poll_action) and [`poll_timeout`](Self::poll_timeout).
///
/// # Contract
/// After any `&mut self` call, drain `poll_action()` until `None`, then sleep until
/// `poll_timeout()`; a deadline at or before now means call `handle_timeout` now, `None` means
/// nothing is scheduled. Time must not go backwards (an earlier `now` is treated as the last
/// one). Every request in [`Action::Send`] must be answered exactly once by
/// [`Input::Response`] or [`Input::Failed`].
pub(crate) struct ClassicMember {
    config: Config,
    assignors: Vec<Box<dyn Assignor>>,
    now: Instant,
    actions: VecDeque<Action>,
    next_request: u64,
    pending: InFlight<Pending>,
    versions: Option<NegotiatedVersions>,
    backoff: Backoff,
    timers: TimerTable,

    state: StateKind,
    failed: Option<GroupError>,
    coordinator: Option<Coordinator>,
    member_id: String,
    generation: i32,
    protocol_name: Option<String>,
    leader_id: String,
    protocol: RebalanceProtocol,

    subscription: Vec<String>,
    pattern: Option<regex_automata::meta::Regex>,
    joined_subscription: Vec<String>,
    owned: Vec<TopicPartition>,
    /// The generation whose SyncGroup gave us `owned` (-1: none since the last reset). The
    /// subscription's `GenerationId` (KIP-792) says how fresh the claim on `owned` is.
    owned_generation: i32,
    cluster: ClusterView,
    assigned_snapshot: Option<ClusterView>,
    leader_work: Option<LeaderWork>,
    /// A follower's SyncGroup held back until this time (`Config::follower_sync_delay`), for
    /// this generation.
    follower_sync: Option<(i32, Instant)>,
    /// Metadata responses handled so far.
    metadata_responses: u64,
    revoking: Option<Revocation>,
    revocation_announced: bool,
    rejoin_needed: bool,
    rejoin_reason: &'static str,
    poll_expired: bool,
    closing: bool,
    /// `true` for Close (terminal), `false` for Unsubscribe (the member stays usable).
    final_close: bool,
    heartbeat_in_flight: bool,
    /// Generation in which the member got nothing; `Idle` is reported once a heartbeat in
    /// that generation succeeds (so a cooperative first round is not mistaken for idleness).
    idle_candidate: Option<i32>,
    positions: BTreeMap<TopicPartition, Offset>,
    committed: BTreeMap<TopicPartition, i64>,
}

impl ClassicMember {
    /// A member with its configuration and assignors (at least one; the first is preferred).
    ///
    /// An invalid configuration, or no assignor, gives a member that is already `Failed` and
    /// reports [`Event::Fatal`].
    #[must_use]
    pub(crate) fn new(config: Config, assignors: Vec<Box<dyn Assignor>>, now: Instant) -> Self {
        let backoff = Backoff::new(
            config.retry_backoff,
            config.retry_backoff_max,
            config.rng_seed,
        );
        let protocol = common_protocol(&assignors);
        let mut m = Self {
            config,
            assignors,
            now,
            actions: VecDeque::new(),
            next_request: 0,
            pending: InFlight::new(),
            versions: None,
            backoff,
            timers: TimerTable::default(),
            state: StateKind::Unjoined,
            failed: None,
            coordinator: None,
            member_id: String::new(),
            generation: -1,
            protocol_name: None,
            leader_id: String::new(),
            protocol,
            subscription: Vec::new(),
            pattern: None,
            joined_subscription: Vec::new(),
            owned: Vec::new(),
            owned_generation: -1,
            cluster: ClusterView::default(),
            assigned_snapshot: None,
            leader_work: None,
            follower_sync: None,
            metadata_responses: 0,
            revoking: None,
            revocation_announced: false,
            rejoin_needed: true,
            rejoin_reason: "initial join",
            poll_expired: false,
            closing: false,
            final_close: false,
            heartbeat_in_flight: false,
            idle_candidate: None,
            positions: BTreeMap::new(),
            committed: BTreeMap::new(),
        };
        if let Err(e) = m.config.validate() {
            m.fail(GroupError::Config(e));
        } else if m.assignors.is_empty() {
            m.fail(GroupError::Config("at least one assignor is required"));
        }
        m
    }

    // ----------------------------------------------------------------------------------------
    // getters

    /// The current state.
    #[must_use]
    pub(crate) const fn state(&self) -> StateKind {
        self.state
    }

    /// The current generation, -1 when not in one.
    #[must_use]
    pub(crate) const fn generation(&self) -> i32 {
        self.generation
    }

    /// Our member id ("" before the coordinator gave one).
    #[must_use]
    pub(crate) fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The partitions this member owns now.
    #[must_use]
    pub(crate) fn assignment(&self) -> &[TopicPartition] {
        &self.owned
    }

    /// Whether this member is the group leader of the current generation.
    #[must_use]
    pub(crate) fn is_leader(&self) -> bool {
        !self.member_id.is_empty() && self.leader_id == self.member_id
    }

    /// The rebalance protocol the member's assignors agree on.
    #[must_use]
    pub(crate) const fn rebalance_protocol(&self) -> RebalanceProtocol {
        self.protocol
    }

    /// The fatal error, if the member failed.
    #[must_use]
    pub(crate) const fn error(&self) -> Option<GroupError> {
        self.failed
    }

    // ----------------------------------------------------------------------------------------
    // output

    /// The next action, in order.
    #[must_use]
    pub(crate) fn poll_action(&mut self) -> Option<Action> {
        let action = self.actions.pop_front();
        if self.actions.is_empty() && self.actions.capacity() > 0 {
            // An action holds its request inline (about 500 B): an idle member (most of the
            // groups of a large `GroupSet`) keeps no room for a burst that has passed.
            self.actions = VecDeque::new();
        }
        action
    }

    /// When `handle_timeout` must be called next.
    #[must_use]
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ----------------------------------------------------------------------------------------
    // input

    /// Fires every timer due at `now`. Extra calls do nothing.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        self.progress();
    }

    /// Consumes one external fact at `now` (due timers fire first).
    pub(crate) fn handle(&mut self, now: Instant, input: Input) {
        self.advance(now);
        if matches!(self.state, StateKind::Failed | StateKind::Closed) {
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
            Input::SubscribePattern(p) => {
                let anchored = alloc::format!("^(?:{p})$");
                match regex_automata::meta::Regex::new(&anchored) {
                    Ok(re) => {
                        self.pattern = Some(re);
                        // The subscription follows from the next metadata response.
                        self.timers.set(Timer::Metadata, self.now);
                        self.timers.set(
                            Timer::PollInterval,
                            self.now + self.config.max_poll_interval,
                        );
                    }
                    Err(_) => self.event(Event::Rejected(UsageError::InvalidPattern)),
                }
            }
            Input::Subscribe(topics) if topics.is_empty() => {
                self.pattern = None;
                // An empty subscription is an unsubscribe.
                self.subscription.clear();
                if self.state != StateKind::Unjoined || !self.member_id.is_empty() {
                    self.start_close(false);
                }
            }
            Input::Subscribe(mut topics) => {
                self.pattern = None;
                topics.sort();
                topics.dedup();
                if topics != self.subscription {
                    self.subscription = topics;
                    if self.state != StateKind::Unjoined || !self.member_id.is_empty() {
                        self.request_rejoin("subscription changed");
                    } else {
                        self.rejoin_needed = true;
                    }
                    self.timers.set(Timer::Metadata, self.now);
                }
                self.timers.set(
                    Timer::PollInterval,
                    self.now + self.config.max_poll_interval,
                );
            }
            Input::Unsubscribe => {
                self.pattern = None;
                self.subscription.clear();
                self.start_close(false);
            }
            Input::Poll => {
                self.timers.set(
                    Timer::PollInterval,
                    self.now + self.config.max_poll_interval,
                );
                if self.poll_expired {
                    self.poll_expired = false;
                    self.rejoin_needed = true;
                }
            }
            Input::RevocationDone => self.revocation_done(),
            Input::Positions(offsets) => {
                // Only positions of partitions we own count: a stale one must never be
                // committed after the partition moved.
                for o in offsets {
                    if self.owned.contains(&o.partition) {
                        self.positions.insert(o.partition.clone(), o);
                    }
                }
            }
            Input::Commit(offsets) => self.commit(offsets, false, false),
            Input::FetchCommitted(partitions) => self.fetch_committed(partitions),
            Input::Close => self.start_close(true),
            Input::Versions(v) => self.versions = Some(v),
            Input::Response { id, response } => self.on_response(id, response),
            Input::Failed { id, error } => self.on_failed(id, error),
        }
        self.progress();
    }

    // ----------------------------------------------------------------------------------------
    // internals: plumbing

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
        if self.failed.is_none() {
            self.failed = Some(e);
            self.state = StateKind::Failed;
            self.timers.clear();
            // The group will move on without us: the app must stop consuming what it had.
            self.positions.clear();
            // What we last committed says nothing once the partitions may move.
            self.committed.clear();
            if !self.owned.is_empty() {
                let lost = core::mem::take(&mut self.owned);
                self.event(Event::Lost { partitions: lost });
            }
            self.revoking = None;
            self.event(Event::Fatal(e));
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
        held: bool,
    ) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        let timeout = if held {
            self.config.join_timeout()
        } else {
            self.config.request_timeout
        };
        self.pending.insert(id, pending);
        self.actions.push_back(Action::Send(Send {
            id,
            to,
            request,
            version,
            timeout,
            held_for: held.then_some(self.config.max_poll_interval),
        }));
        id
    }

    fn coordinator_dest(&self) -> Option<Destination> {
        self.coordinator.as_ref().map(Coordinator::destination)
    }

    fn has_pending(&self, f: impl Fn(&Pending) -> bool) -> bool {
        self.pending.values().any(f)
    }

    fn request_rejoin(&mut self, reason: &'static str) {
        self.rejoin_needed = true;
        self.rejoin_reason = reason;
    }

    fn instance_id(&self) -> Option<ByteString> {
        self.config
            .group_instance_id
            .as_deref()
            .map(ByteString::from)
    }

    /// Forget the coordinator and find it again (NOT_COORDINATOR, disconnects...).
    fn mark_coordinator_unknown(&mut self) {
        if self.coordinator.take().is_some() {
            // Requests in flight to the old coordinator will fail or be ignored.
            self.heartbeat_in_flight = false;
            self.timers.cancel(Timer::Heartbeat);
        }
    }

    /// Reset membership: partitions are lost (when `lost`), member id cleared if asked.
    fn reset_generation(&mut self, reset_member_id: bool, reason: &'static str) {
        self.generation = -1;
        self.protocol_name = None;
        self.leader_id.clear();
        self.leader_work = None;
        self.follower_sync = None;
        self.owned_generation = -1;
        if reset_member_id {
            self.member_id.clear();
        }
        self.heartbeat_in_flight = false;
        self.timers.cancel(Timer::Heartbeat);
        self.timers.cancel(Timer::Session);
        if !self.owned.is_empty() {
            let lost = core::mem::take(&mut self.owned);
            // Positions die with ownership: the next owner starts from the committed offset,
            // and a stale position must never be committed later.
            self.positions.retain(|tp, _| !lost.contains(tp));
            self.committed.retain(|tp, _| !lost.contains(tp));
            self.event(Event::Lost { partitions: lost });
        }
        // A pending revocation is moot: the partitions are gone.
        self.revoking = None;
        self.revocation_announced = false;
        if !matches!(
            self.state,
            StateKind::Leaving | StateKind::Closed | StateKind::Failed
        ) {
            self.state = StateKind::Unjoined;
        }
        self.request_rejoin(reason);
    }

    fn backoff_then_retry(&mut self) {
        let d = self.backoff.next_delay();
        self.timers.set(Timer::Backoff, self.now + d);
    }

    // ----------------------------------------------------------------------------------------
    // the driver: what to send next

    fn progress(&mut self) {
        if matches!(self.state, StateKind::Failed | StateKind::Closed) {
            return;
        }
        if self.timers.is_set(Timer::Backoff) {
            return;
        }
        if self.closing {
            self.progress_close();
            return;
        }
        if self.subscription.is_empty() {
            // A pattern subscription waits for metadata to know its topics.
            if self.pattern.is_some() && !self.has_pending(|p| matches!(p, Pending::Metadata)) {
                self.send_metadata();
            }
            return;
        }
        // Metadata for the subscription (and for the leader's assignment).
        if self.needs_metadata() && !self.has_pending(|p| matches!(p, Pending::Metadata)) {
            self.send_metadata();
        }
        if let Some((generation, at)) = self.follower_sync {
            if self.state != StateKind::Syncing || generation != self.generation {
                self.follower_sync = None;
            } else if self.now < at {
                if !self.timers.is_set(Timer::LeaderSync) {
                    self.timers.set(Timer::LeaderSync, at);
                }
                return;
            } else {
                self.follower_sync = None;
                self.send_sync(Vec::new());
                return;
            }
        }
        if let Some(work) = self.leader_work.take() {
            if self.metadata_covers(&work.members) && self.metadata_responses >= work.min_metadata {
                if self.now < work.not_before {
                    // Let the followers' SyncGroups arrive first (see the config field).
                    if !self.timers.is_set(Timer::LeaderSync) {
                        self.timers.set(Timer::LeaderSync, work.not_before);
                    }
                    self.leader_work = Some(work);
                } else {
                    self.assign_and_sync(work);
                }
            } else {
                self.leader_work = Some(work);
            }
            return;
        }
        if self.coordinator.is_none() {
            if !self.has_pending(|p| matches!(p, Pending::FindCoordinator)) {
                self.send_find_coordinator();
            }
            return;
        }
        // No JoinGroup while a commit is in flight (as Java's onJoinPrepare waits for its
        // auto-commit): the two may travel on different connections (JoinGroup on a held lane),
        // and a broker that serves the JoinGroup first rejects the commit (librdkafka's mocks
        // answer REBALANCE_IN_PROGRESS once the group is joining; Kafka's generation moves on
        // if that JoinGroup completes the join), losing e.g. the cooperative revocation's
        // commit, so the partitions' next owner consumes them again.
        if self.rejoin_needed
            && !self.poll_expired
            && matches!(self.state, StateKind::Unjoined | StateKind::Stable)
            && self.revoking.is_none()
            && !self.has_pending(|p| {
                matches!(
                    p,
                    Pending::Join | Pending::Sync { .. } | Pending::Commit { .. }
                )
            })
        {
            self.prepare_join();
        }
    }

    fn needs_metadata(&self) -> bool {
        self.subscription
            .iter()
            .any(|t| !self.cluster.partitions.contains_key(t))
            || self.leader_work.as_ref().is_some_and(|w| {
                !self.metadata_covers(&w.members) || self.metadata_responses < w.min_metadata
            })
    }

    fn metadata_covers(&self, members: &[(String, Subscription)]) -> bool {
        members
            .iter()
            .flat_map(|(_, s)| s.topics.iter())
            .all(|t| self.cluster.partitions.contains_key(t))
    }

    fn send_metadata(&mut self) {
        let mut topics: BTreeSet<String> = self.subscription.iter().cloned().collect();
        if let Some(w) = &self.leader_work {
            for (_, s) in &w.members {
                topics.extend(s.topics.iter().cloned());
            }
        }
        if self.is_leader() {
            if let Some(s) = &self.assigned_snapshot {
                topics.extend(s.partitions.keys().cloned());
            }
        }
        let v = self.version(ApiKey::Metadata, 12);
        if self.pattern.is_some() {
            // All topics: null from v1, an empty list at v0.
            let req = MetadataRequest {
                topics: if v >= 1 { None } else { Some(Vec::new()) },
                // The field exists from v4 (older brokers follow their own config).
                allow_auto_topic_creation: v < 4,
                ..Default::default()
            };
            self.send(
                Pending::Metadata,
                Destination::AnyBroker,
                AnyRequest::Metadata(req),
                v,
                false,
            );
            return;
        }
        let req = MetadataRequest {
            topics: Some(
                topics
                    .into_iter()
                    .map(|t| MetadataRequestTopic {
                        name: Some(t.as_str().into()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            allow_auto_topic_creation: v < 4,
            ..Default::default()
        };
        self.send(
            Pending::Metadata,
            Destination::AnyBroker,
            AnyRequest::Metadata(req),
            v,
            false,
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
            false,
        );
    }

    /// Before JoinGroup: revoke (eager: all; cooperative: unsubscribed topics), let the app
    /// acknowledge, commit, then join.
    fn prepare_join(&mut self) {
        let to_revoke: Vec<TopicPartition> = match self.protocol {
            RebalanceProtocol::Eager => self.owned.clone(),
            RebalanceProtocol::Cooperative => self
                .owned
                .iter()
                .filter(|tp| !self.subscription.contains(&tp.topic))
                .cloned()
                .collect(),
        };
        if !to_revoke.is_empty() {
            self.start_revocation(to_revoke, AfterRevoke::Join);
            return;
        }
        self.send_join();
    }

    fn start_revocation(&mut self, partitions: Vec<TopicPartition>, then: AfterRevoke) {
        self.revoking = Some(Revocation {
            partitions: partitions.clone(),
            then,
        });
        self.revocation_announced = true;
        self.event(Event::Revoke {
            partitions,
            generation: self.generation,
        });
    }

    fn revocation_done(&mut self) {
        let Some(rev) = self.revoking.take() else {
            self.event(Event::Rejected(UsageError::NoRevocationPending));
            return;
        };
        self.revocation_announced = false;
        self.owned.retain(|tp| !rev.partitions.contains(tp));
        let to_commit = self.auto_commit_offsets(Some(&rev.partitions));
        self.positions.retain(|tp, _| !rev.partitions.contains(tp));
        // Another member may commit them next: our last commit is no baseline any more.
        self.committed.retain(|tp, _| !rev.partitions.contains(tp));
        match rev.then {
            AfterRevoke::Join => {
                if !to_commit.is_empty() && self.generation >= 0 && self.coordinator.is_some() {
                    self.commit(to_commit, true, false);
                } else {
                    self.send_join_if_ready();
                }
            }
            AfterRevoke::Continue => {
                if !to_commit.is_empty() && self.generation >= 0 {
                    self.commit(to_commit, false, false);
                }
            }
            AfterRevoke::Leave => {
                if !to_commit.is_empty() && self.generation >= 0 && self.coordinator.is_some() {
                    self.commit(to_commit, false, true);
                }
            }
        }
    }

    fn send_join_if_ready(&mut self) {
        if self.coordinator.is_some() && !self.closing {
            self.send_join();
        }
    }

    /// Positions to auto-commit (only changed ones), optionally restricted to `only`.
    fn auto_commit_offsets(&self, only: Option<&[TopicPartition]>) -> Vec<Offset> {
        if !self.config.auto_commit {
            return Vec::new();
        }
        self.positions
            .values()
            .filter(|o| only.is_none_or(|p| p.contains(&o.partition)))
            .filter(|o| self.owned.contains(&o.partition) || only.is_some())
            .filter(|o| self.committed.get(&o.partition) != Some(&o.offset))
            .cloned()
            .collect()
    }

    fn subscription_bytes(&self, assignor: &dyn Assignor) -> Bytes {
        let sub = Subscription {
            topics: self.subscription.clone(),
            user_data: assignor.subscription_user_data(&self.subscription),
            owned_partitions: match self.protocol {
                RebalanceProtocol::Cooperative => self.owned.clone(),
                RebalanceProtocol::Eager => Vec::new(),
            },
            // Not the generation being joined: a member whose SyncGroup failed still claims
            // what it got in the last one that succeeded. (Its JoinGroup metadata then stays
            // the same from one try to the next, which Tansu 0.6 needs: it takes a changed
            // subscription for a new round without telling the leader.)
            generation: self.owned_generation,
            rack_id: self.config.rack_id.clone(),
            instance_id: None,
        };
        consumer_protocol::encode_subscription(&sub, 3).unwrap_or_default()
    }

    fn send_join(&mut self) {
        let Some(to) = self.coordinator_dest() else {
            return;
        };
        let mut v = self.version(ApiKey::JoinGroup, 9);
        if self.config.group_instance_id.is_some() && v < 5 {
            self.fail(GroupError::Broker {
                api: "JoinGroup",
                code: ErrorCode::UNSUPPORTED_VERSION.0,
            });
            return;
        }
        if v < 0 {
            v = 0;
        }
        let protocols = self
            .assignors
            .iter()
            .map(|a| JoinGroupRequestProtocol {
                name: a.name().into(),
                metadata: self.subscription_bytes(a.as_ref()),
                ..Default::default()
            })
            .collect();
        let req = JoinGroupRequest {
            group_id: self.config.group_id.as_str().into(),
            session_timeout_ms: ms_i32(self.config.session_timeout),
            rebalance_timeout_ms: ms_i32(self.config.max_poll_interval),
            member_id: self.member_id.as_str().into(),
            group_instance_id: if v >= 5 { self.instance_id() } else { None },
            protocol_type: "consumer".into(),
            protocols,
            reason: if v >= 8 {
                Some(self.rejoin_reason.into())
            } else {
                None
            },
            ..Default::default()
        };
        self.joined_subscription = self.subscription.clone();
        self.rejoin_needed = false;
        self.state = StateKind::Joining;
        self.timers.cancel(Timer::Heartbeat);
        self.heartbeat_in_flight = false;
        self.send(Pending::Join, to, AnyRequest::JoinGroup(req), v, true);
    }

    fn assign_and_sync(&mut self, work: LeaderWork) {
        if work.generation != self.generation {
            return;
        }
        let Some(assignor) = self.assignors.iter().find(|a| a.name() == work.protocol) else {
            self.fail(GroupError::Protocol(
                "coordinator chose a protocol we did not offer",
            ));
            return;
        };
        let subs: BTreeMap<String, Subscription> = work.members.iter().cloned().collect();
        let mut cluster = ClusterView::default();
        for s in subs.values() {
            for t in &s.topics {
                if let Some(&n) = self.cluster.partitions.get(t) {
                    cluster.partitions.insert(t.clone(), n);
                }
                if let Some(racks) = self.cluster.replica_racks.get(t) {
                    cluster.replica_racks.insert(t.clone(), racks.clone());
                }
            }
        }
        let result = assignor.assign(&cluster, &subs);
        self.assigned_snapshot = Some(cluster);
        let assignments = subs
            .keys()
            .map(|m| {
                let a = result.get(m).cloned().unwrap_or_default();
                SyncGroupRequestAssignment {
                    member_id: m.as_str().into(),
                    assignment: consumer_protocol::encode_assignment(&a, 3).unwrap_or_default(),
                    ..Default::default()
                }
            })
            .collect();
        self.send_sync(assignments);
    }

    fn send_sync(&mut self, assignments: Vec<SyncGroupRequestAssignment>) {
        let Some(to) = self.coordinator_dest() else {
            // The coordinator was lost between JoinGroup and SyncGroup: this generation is
            // wasted; join again (same member id) once it is found.
            self.state = StateKind::Unjoined;
            self.leader_work = None;
            self.request_rejoin("coordinator lost before SyncGroup");
            return;
        };
        let v = self.version(ApiKey::SyncGroup, 5);
        let req = SyncGroupRequest {
            group_id: self.config.group_id.as_str().into(),
            generation_id: self.generation,
            member_id: self.member_id.as_str().into(),
            group_instance_id: if v >= 3 { self.instance_id() } else { None },
            protocol_type: if v >= 5 {
                Some("consumer".into())
            } else {
                None
            },
            protocol_name: if v >= 5 {
                self.protocol_name.as_deref().map(ByteString::from)
            } else {
                None
            },
            assignments,
            ..Default::default()
        };
        self.state = StateKind::Syncing;
        let generation = self.generation;
        self.send(
            Pending::Sync {
                generation,
                sent_at: self.now,
            },
            to,
            AnyRequest::SyncGroup(req),
            v,
            true,
        );
    }

    fn send_heartbeat(&mut self) {
        let Some(to) = self.coordinator_dest() else {
            return;
        };
        let v = self.version(ApiKey::Heartbeat, 4);
        let req = HeartbeatRequest {
            group_id: self.config.group_id.as_str().into(),
            generation_id: self.generation,
            member_id: self.member_id.as_str().into(),
            group_instance_id: if v >= 3 { self.instance_id() } else { None },
            ..Default::default()
        };
        self.heartbeat_in_flight = true;
        let generation = self.generation;
        self.send(
            Pending::Heartbeat {
                generation,
                sent_at: self.now,
            },
            to,
            AnyRequest::Heartbeat(req),
            v,
            false,
        );
    }

    fn commit(&mut self, offsets: Vec<Offset>, then_join: bool, on_close: bool) {
        if offsets.is_empty() {
            if then_join {
                self.send_join_if_ready();
            }
            return;
        }
        let in_generation = self.generation >= 0
            && (matches!(self.state, StateKind::Stable | StateKind::Leaving) || then_join);
        if !in_generation {
            let err = if matches!(self.state, StateKind::Joining | StateKind::Syncing) {
                UsageError::RebalanceInProgress
            } else {
                UsageError::NotMember
            };
            self.event(Event::Rejected(err));
            return;
        }
        let Some(to) = self.coordinator_dest() else {
            self.event(Event::Rejected(UsageError::RebalanceInProgress));
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
            generation_id_or_member_epoch: self.generation,
            member_id: self.member_id.as_str().into(),
            group_instance_id: if v >= 7 { self.instance_id() } else { None },
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
        let generation = self.generation;
        self.send(
            Pending::Commit {
                generation,
                offsets,
                then_join,
                on_close,
            },
            to,
            AnyRequest::OffsetCommit(req),
            v,
            false,
        );
    }

    fn fetch_committed(&mut self, partitions: Vec<TopicPartition>) {
        let Some(to) = self.coordinator_dest() else {
            self.event(Event::Rejected(UsageError::NotMember));
            return;
        };
        let v = self.version(ApiKey::OffsetFetch, 7);
        let req = requests::offset_fetch(&self.config.group_id, &partitions, v);
        self.send(
            Pending::OffsetFetch { partitions },
            to,
            AnyRequest::OffsetFetch(req),
            v,
            false,
        );
    }

    // ----------------------------------------------------------------------------------------
    // closing

    fn start_close(&mut self, close: bool) {
        // Close is terminal; Unsubscribe leaves the group but the member stays usable.
        self.closing = true;
        self.final_close |= close;
        self.state = StateKind::Leaving;
        self.timers.cancel(Timer::Backoff);
    }

    fn progress_close(&mut self) {
        if self.revoking.is_some() {
            return;
        }
        if !self.owned.is_empty() && self.generation >= 0 {
            let all = self.owned.clone();
            self.start_revocation(all, AfterRevoke::Leave);
            return;
        }
        if !self.owned.is_empty() {
            let lost = core::mem::take(&mut self.owned);
            self.event(Event::Lost { partitions: lost });
        }
        if self
            .has_pending(|p| matches!(p, Pending::Commit { on_close: true, .. } | Pending::Leave))
        {
            return;
        }
        if self.config.leaves_on_close() && !self.member_id.is_empty() && self.coordinator.is_some()
        {
            if let Some(to) = self.coordinator_dest() {
                let v = self.version(ApiKey::LeaveGroup, 5);
                let req = if v >= 3 {
                    LeaveGroupRequest {
                        group_id: self.config.group_id.as_str().into(),
                        members: alloc::vec![MemberIdentity {
                            member_id: self.member_id.as_str().into(),
                            group_instance_id: self.instance_id(),
                            reason: if v >= 5 {
                                Some("the consumer is being closed".into())
                            } else {
                                None
                            },
                            ..Default::default()
                        }],
                        ..Default::default()
                    }
                } else {
                    LeaveGroupRequest {
                        group_id: self.config.group_id.as_str().into(),
                        member_id: self.member_id.as_str().into(),
                        ..Default::default()
                    }
                };
                self.member_id.clear();
                self.send(Pending::Leave, to, AnyRequest::LeaveGroup(req), v, false);
                return;
            }
        }
        self.finish_close();
    }

    fn finish_close(&mut self) {
        self.positions.clear();
        self.committed.clear();
        self.generation = -1;
        self.member_id.clear();
        self.protocol_name = None;
        self.leader_id.clear();
        self.leader_work = None;
        self.follower_sync = None;
        self.owned_generation = -1;
        self.timers.clear();
        self.closing = false;
        self.heartbeat_in_flight = false;
        if self.final_close {
            self.state = StateKind::Closed;
            self.event(Event::Closed);
        } else {
            // Unsubscribed: out of the group, ready for the next Subscribe.
            self.state = StateKind::Unjoined;
            self.rejoin_needed = true;
            self.event(Event::Left);
        }
    }

    // ----------------------------------------------------------------------------------------
    // timers

    fn on_timer(&mut self, t: Timer) {
        match t {
            Timer::Backoff | Timer::LeaderSync => {}
            Timer::Heartbeat => {
                if self.state == StateKind::Stable && !self.heartbeat_in_flight {
                    self.send_heartbeat();
                } else if self.state == StateKind::Stable {
                    self.timers
                        .set(Timer::Heartbeat, self.now + self.config.heartbeat_interval);
                }
            }
            Timer::Session => {
                if matches!(self.state, StateKind::Stable | StateKind::Leaving)
                    && self.generation >= 0
                {
                    // No successful heartbeat for a session timeout: the coordinator has (or
                    // is about to have) expired us. Like librdkafka (Java only re-discovers),
                    // give the partitions up as lost now, so no partition is owned by two
                    // members once the group moves on.
                    self.event(Event::Warning(GroupError::SessionTimedOut));
                    self.mark_coordinator_unknown();
                    self.reset_generation(true, "session timed out");
                }
            }
            Timer::PollInterval => {
                if !self.subscription.is_empty()
                    && !self.closing
                    && self.generation >= 0
                    && matches!(
                        self.state,
                        StateKind::Stable | StateKind::Syncing | StateKind::Joining
                    )
                {
                    self.event(Event::Warning(GroupError::PollIntervalExceeded));
                    self.poll_expired = true;
                    if self.config.leaves_on_close() {
                        if let Some(to) = self.coordinator_dest() {
                            let v = self.version(ApiKey::LeaveGroup, 5);
                            let req = leave_request(
                                &self.config,
                                &self.member_id,
                                v,
                                "consumer poll timeout has expired",
                            );
                            self.send(Pending::Leave, to, AnyRequest::LeaveGroup(req), v, false);
                        }
                        self.reset_generation(true, "poll interval exceeded");
                    } else {
                        self.reset_generation(false, "poll interval exceeded");
                    }
                }
            }
            Timer::AutoCommit => {
                if self.state == StateKind::Stable && self.revoking.is_none() {
                    let offsets = self.auto_commit_offsets(None);
                    if !offsets.is_empty()
                        && !self.has_pending(|p| matches!(p, Pending::Commit { .. }))
                    {
                        self.commit(offsets, false, false);
                    }
                }
                if self.config.auto_commit {
                    self.timers.set(
                        Timer::AutoCommit,
                        self.now + self.config.auto_commit_interval,
                    );
                }
            }
            Timer::Metadata => {
                if (!self.subscription.is_empty() || self.pattern.is_some())
                    && !self.has_pending(|p| matches!(p, Pending::Metadata))
                {
                    self.send_metadata();
                }
                self.timers
                    .set(Timer::Metadata, self.now + self.config.metadata_max_age);
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
            Pending::FindCoordinator | Pending::Metadata => self.backoff_then_retry(),
            Pending::Join | Pending::Sync { .. } => {
                self.mark_coordinator_unknown();
                if matches!(self.state, StateKind::Joining | StateKind::Syncing) {
                    self.state = StateKind::Unjoined;
                }
                self.request_rejoin("coordinator request failed");
                self.backoff_then_retry();
            }
            Pending::Heartbeat { .. } => {
                self.heartbeat_in_flight = false;
                self.mark_coordinator_unknown();
            }
            Pending::Commit {
                offsets,
                then_join,
                on_close,
                ..
            } => {
                self.mark_coordinator_unknown();
                let results = offsets
                    .into_iter()
                    .map(|o| (o, ErrorCode::REQUEST_TIMED_OUT.0))
                    .collect();
                self.event(Event::Committed { results });
                if then_join {
                    self.request_rejoin("commit before join failed");
                }
                let _ = on_close;
            }
            Pending::OffsetFetch { partitions } => {
                self.mark_coordinator_unknown();
                let offsets = partitions
                    .into_iter()
                    .map(|tp| (Offset::new(tp, -1), ErrorCode::REQUEST_TIMED_OUT.0))
                    .collect();
                self.event(Event::CommittedOffsets { offsets });
            }
            Pending::Leave => {}
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
                if code == 0 {
                    self.backoff.reset();
                    self.coordinator = Some(Coordinator {
                        node_id,
                        host,
                        port,
                    });
                    self.event(Event::CoordinatorFound { node_id });
                    if self.state == StateKind::Stable && !self.heartbeat_in_flight {
                        // Heartbeat the (new) coordinator at once.
                        self.timers.set(Timer::Heartbeat, self.now);
                    }
                } else {
                    self.react(Api::FindCoordinator, code, None);
                }
            }
            (Pending::Metadata, AnyResponse::Metadata(r)) => self.on_metadata(&r),
            (Pending::Join, AnyResponse::JoinGroup(r)) => self.on_join(r),
            (
                Pending::Sync {
                    generation,
                    sent_at,
                },
                AnyResponse::SyncGroup(r),
            ) => self.on_sync(generation, sent_at, r),
            (
                Pending::Heartbeat {
                    generation,
                    sent_at,
                },
                AnyResponse::Heartbeat(r),
            ) => {
                self.heartbeat_in_flight = false;
                if self.state == StateKind::Stable {
                    self.timers
                        .set(Timer::Heartbeat, self.now + self.config.heartbeat_interval);
                }
                if (r.error_code == 0 || r.error_code == ErrorCode::REBALANCE_IN_PROGRESS.0)
                    && generation == self.generation
                {
                    // The broker refreshed our session when it received the heartbeat, after
                    // we sent it: counting from the send keeps our deadline no later than the
                    // broker's.
                    self.timers
                        .set(Timer::Session, sent_at + self.config.session_timeout);
                }
                if r.error_code != 0 {
                    self.react(Api::Heartbeat, r.error_code, Some(generation));
                } else if self.idle_candidate == Some(generation)
                    && generation == self.generation
                    && self.owned.is_empty()
                    && !self.rejoin_needed
                {
                    // A heartbeat of the same generation succeeded: no follow-up round is
                    // coming, the member really has nothing to consume.
                    self.idle_candidate = None;
                    self.event(Event::Idle { generation });
                }
            }
            (
                Pending::Commit {
                    generation,
                    offsets,
                    then_join,
                    on_close,
                },
                AnyResponse::OffsetCommit(r),
            ) => {
                let mut results = Vec::with_capacity(offsets.len());
                let mut worst = 0i16;
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
                    if code == 0 {
                        self.committed.insert(o.partition.clone(), o.offset);
                    } else if worst == 0 {
                        worst = code;
                    }
                    results.push((o, code));
                }
                self.event(Event::Committed { results });
                if worst != 0 {
                    self.react(Api::OffsetCommit, worst, Some(generation));
                }
                if then_join && !self.closing {
                    self.send_join_if_ready();
                }
                let _ = on_close;
            }
            (Pending::OffsetFetch { partitions }, AnyResponse::OffsetFetch(r)) => {
                let offsets = requests::committed_offsets(partitions, &r);
                self.event(Event::CommittedOffsets { offsets });
            }
            (Pending::Leave, AnyResponse::LeaveGroup(_)) => {}
            (_, _) => self.event(Event::Warning(GroupError::Protocol(
                "response of the wrong type",
            ))),
        }
    }

    fn on_metadata(&mut self, r: &kafka_wire::generated::MetadataResponse) {
        self.metadata_responses += 1;
        let mut changed = false;
        // Broker racks, for rack-aware assignors (KIP-881): only kept when some broker has one.
        let racks: BTreeMap<i32, &str> = r
            .brokers
            .iter()
            .filter_map(|b| Some((b.node_id, b.rack.as_deref().filter(|r| !r.is_empty())?)))
            .collect();
        for t in &r.topics {
            let Some(name) = &t.name else { continue };
            let name: &str = name;
            // An unknown topic has no partitions (so the leader is not stuck waiting for it);
            // other errors (e.g. LEADER_NOT_AVAILABLE) still list the partitions.
            let n = if t.error_code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0 {
                0
            } else if t.error_code != 0 && t.partitions.is_empty() {
                continue;
            } else {
                i32::try_from(t.partitions.len()).unwrap_or(i32::MAX)
            };
            match replica_racks(&t.partitions, &racks) {
                Some(per) => {
                    self.cluster.replica_racks.insert(name.to_string(), per);
                }
                None => {
                    self.cluster.replica_racks.remove(name);
                }
            }
            let old = self.cluster.partitions.insert(name.to_string(), n);
            if old.is_some_and(|o| o != n) {
                changed = true;
            }
        }
        if let Some(re) = &self.pattern {
            let mut matching: Vec<String> = r
                .topics
                .iter()
                .filter(|t| t.error_code == 0 && !t.is_internal)
                .filter_map(|t| t.name.as_deref())
                .filter(|n| re.is_match(n))
                .map(ToString::to_string)
                .collect();
            matching.sort();
            matching.dedup();
            if matching != self.subscription {
                let was_empty = self.subscription.is_empty();
                self.subscription = matching;
                if self.subscription.is_empty() {
                    if self.state != StateKind::Unjoined || !self.member_id.is_empty() {
                        self.start_close(false);
                    }
                } else if was_empty && self.state == StateKind::Unjoined {
                    self.rejoin_needed = true;
                } else {
                    self.request_rejoin("subscription changed");
                }
            }
        }
        // The leader watches every topic it assigned: a partition-count change means a rejoin.
        if self.is_leader() && self.state == StateKind::Stable {
            if let Some(snap) = &self.assigned_snapshot {
                let moved = snap
                    .partitions
                    .iter()
                    .any(|(t, n)| self.cluster.partitions.get(t).is_some_and(|m| m != n));
                if moved || changed {
                    self.request_rejoin("cached metadata has changed");
                }
            }
        }
    }

    fn on_join(&mut self, r: kafka_wire::generated::JoinGroupResponse) {
        if self.state != StateKind::Joining {
            return;
        }
        let code = r.error_code;
        if code == ErrorCode::MEMBER_ID_REQUIRED.0 {
            // KIP-394 (Tansu also answers this below v4): rejoin at once with the given id.
            self.member_id = r.member_id.to_string();
            self.state = StateKind::Unjoined;
            self.request_rejoin("need to re-join with the given member-id");
            return;
        }
        if code != 0 {
            self.state = StateKind::Unjoined;
            self.react(Api::JoinGroup, code, None);
            return;
        }
        if let Some(pt) = &r.protocol_type {
            if &**pt != "consumer" {
                self.fail(GroupError::Broker {
                    api: "JoinGroup",
                    code: ErrorCode::INCONSISTENT_GROUP_PROTOCOL.0,
                });
                return;
            }
        }
        let Some(protocol) = r.protocol_name.as_ref().map(ToString::to_string) else {
            self.fail(GroupError::Protocol(
                "JoinGroup response without a protocol name",
            ));
            return;
        };
        if !self.assignors.iter().any(|a| a.name() == protocol) {
            self.fail(GroupError::Broker {
                api: "JoinGroup",
                code: ErrorCode::INCONSISTENT_GROUP_PROTOCOL.0,
            });
            return;
        }
        self.backoff.reset();
        self.member_id = r.member_id.to_string();
        self.generation = r.generation_id;
        self.leader_id = r.leader.to_string();
        self.protocol_name = Some(protocol.clone());
        self.state = StateKind::Syncing;
        let leader = self.is_leader();
        self.event(Event::Joined {
            generation: self.generation,
            member_id: self.member_id.clone(),
            leader,
        });
        if leader && !r.skip_assignment {
            let mut members = Vec::with_capacity(r.members.len());
            for m in &r.members {
                match consumer_protocol::decode_subscription(&m.metadata) {
                    Ok(mut s) => {
                        s.instance_id = m.group_instance_id.as_deref().map(String::from);
                        members.push((m.member_id.to_string(), s));
                    }
                    // An undecodable subscription: the member gets nothing (never a panic).
                    Err(_) => members.push((m.member_id.to_string(), Subscription::default())),
                }
            }
            self.leader_work = Some(LeaderWork {
                generation: self.generation,
                protocol,
                members,
                min_metadata: self.metadata_responses + 1,
                not_before: self.now + self.config.leader_sync_delay,
            });
            // progress() refreshes metadata (as librdkafka's leader does: partitions added
            // since the last refresh get assigned) and assigns once it covers every member's
            // topics. The refresh also lets the followers' SyncGroups reach the coordinator
            // before the leader's, which librdkafka's mock broker needs (it answers a follower
            // whose SyncGroup comes after the leader's with INVALID_REQUEST), and so does
            // `Config::leader_sync_delay` when the refresh is faster than the followers.
        } else if leader || self.config.follower_sync_delay.is_zero() {
            self.send_sync(Vec::new());
        } else {
            // progress() sends it once the delay is over (see the config field).
            self.follower_sync =
                Some((self.generation, self.now + self.config.follower_sync_delay));
        }
    }

    fn on_sync(
        &mut self,
        generation: i32,
        sent_at: Instant,
        r: kafka_wire::generated::SyncGroupResponse,
    ) {
        if self.state != StateKind::Syncing || generation != self.generation {
            return;
        }
        if r.error_code != 0 {
            self.state = StateKind::Unjoined;
            self.react(Api::SyncGroup, r.error_code, Some(generation));
            return;
        }
        if r.protocol_type.as_deref().is_some_and(|t| t != "consumer")
            || r.protocol_name
                .as_deref()
                .is_some_and(|n| Some(n) != self.protocol_name.as_deref())
        {
            self.fail(GroupError::Broker {
                api: "SyncGroup",
                code: ErrorCode::INCONSISTENT_GROUP_PROTOCOL.0,
            });
            return;
        }
        let assignment = match consumer_protocol::decode_assignment(&r.assignment) {
            Ok(a) => a,
            Err(_) => {
                self.event(Event::Warning(GroupError::Protocol(
                    "undecodable assignment",
                )));
                Assignment::default()
            }
        };
        let mut assigned: Vec<TopicPartition> = assignment.partitions.clone();
        assigned.sort();
        assigned.dedup();
        if let Some(a) = self
            .assignors
            .iter_mut()
            .find(|a| Some(a.name()) == self.protocol_name.as_deref())
        {
            a.on_assignment(&assignment, generation);
        }
        self.state = StateKind::Stable;
        self.timers
            .set(Timer::Heartbeat, self.now + self.config.heartbeat_interval);
        self.timers
            .set(Timer::Session, sent_at + self.config.session_timeout);
        if self.config.auto_commit {
            self.timers.set(
                Timer::AutoCommit,
                self.now + self.config.auto_commit_interval,
            );
        }
        // Assigned topics no longer subscribed (subscription changed during the rebalance).
        if assigned
            .iter()
            .any(|tp| !self.subscription.contains(&tp.topic))
            || self.joined_subscription != self.subscription
        {
            self.request_rejoin("subscription changed during rebalance");
        }
        let idle = assigned.is_empty();
        self.owned_generation = generation;
        match self.protocol {
            RebalanceProtocol::Eager => {
                self.owned = assigned.clone();
                self.event(Event::Assigned {
                    partitions: assigned,
                    generation,
                });
            }
            RebalanceProtocol::Cooperative => {
                let revoked: Vec<TopicPartition> = self
                    .owned
                    .iter()
                    .filter(|tp| !assigned.contains(tp))
                    .cloned()
                    .collect();
                let added: Vec<TopicPartition> = assigned
                    .iter()
                    .filter(|tp| !self.owned.contains(tp))
                    .cloned()
                    .collect();
                self.owned.extend(added.iter().cloned());
                self.owned.sort();
                if !added.is_empty() {
                    self.event(Event::Assigned {
                        partitions: added,
                        generation,
                    });
                }
                if !revoked.is_empty() {
                    self.start_revocation(revoked, AfterRevoke::Continue);
                    self.request_rejoin("need to revoke partitions and re-join");
                }
            }
        }
        if idle {
            self.idle_candidate = Some(generation);
        }
    }

    /// Applies the error table (see [`crate::table`]).
    fn react(&mut self, api: Api, code: i16, sent_generation: Option<i32>) {
        // An error about an older generation is stale: ignore it.
        if sent_generation.is_some_and(|g| g != self.generation) {
            return;
        }
        match table::reaction(api, code) {
            Reaction::Ignore => {}
            Reaction::RetryNow => self.request_rejoin("retriable join error"),
            Reaction::Backoff => {
                if matches!(api, Api::JoinGroup | Api::SyncGroup) {
                    self.request_rejoin("retriable join error");
                }
                self.backoff_then_retry();
            }
            Reaction::Rediscover => {
                self.mark_coordinator_unknown();
                if matches!(api, Api::JoinGroup | Api::SyncGroup) {
                    self.request_rejoin("coordinator moved");
                }
                self.backoff_then_retry();
            }
            Reaction::Rejoin => {
                if self.state == StateKind::Stable || matches!(api, Api::SyncGroup) {
                    self.request_rejoin("group is rebalancing");
                }
            }
            Reaction::ResetGeneration => self.reset_generation(false, "illegal generation"),
            Reaction::ResetMember => self.reset_generation(true, "unknown member id"),
            Reaction::Report => self.event(Event::Warning(GroupError::Broker {
                api: api.name(),
                code,
            })),
            Reaction::Fatal => self.fail(GroupError::Broker {
                api: api.name(),
                code,
            }),
        }
    }
}

fn leave_request(config: &Config, member_id: &str, v: i16, reason: &str) -> LeaveGroupRequest {
    if v >= 3 {
        LeaveGroupRequest {
            group_id: config.group_id.as_str().into(),
            members: alloc::vec![MemberIdentity {
                member_id: member_id.into(),
                group_instance_id: config.group_instance_id.as_deref().map(ByteString::from),
                reason: if v >= 5 { Some(reason.into()) } else { None },
                ..Default::default()
            }],
            ..Default::default()
        }
    } else {
        LeaveGroupRequest {
            group_id: config.group_id.as_str().into(),
            member_id: member_id.into(),
            ..Default::default()
        }
    }
}

/// The rebalance protocol every configured assignor supports, preferring cooperative.
/// Per partition (by index), the racks of its replicas, when some broker has a rack and the
/// response lists partitions `0..n` exactly once each; `None` otherwise (racks unknown).
fn replica_racks(
    partitions: &[kafka_wire::generated::metadata_response::MetadataResponsePartition],
    racks: &BTreeMap<i32, &str>,
) -> Option<Vec<Vec<String>>> {
    if racks.is_empty() {
        return None;
    }
    let mut per: Vec<Option<Vec<String>>> = alloc::vec![None; partitions.len()];
    for p in partitions {
        let slot = per.get_mut(usize::try_from(p.partition_index).ok()?)?;
        if slot.is_some() {
            return None;
        }
        let mut names: Vec<String> = p
            .replica_nodes
            .iter()
            .filter_map(|node| racks.get(&node).map(|r| String::from(*r)))
            .collect();
        names.sort_unstable();
        names.dedup();
        *slot = Some(names);
    }
    per.into_iter().collect()
}

fn common_protocol(assignors: &[Box<dyn Assignor>]) -> RebalanceProtocol {
    let all_coop = !assignors.is_empty()
        && assignors.iter().all(|a| {
            a.supported_protocols()
                .contains(&RebalanceProtocol::Cooperative)
        });
    if all_coop {
        RebalanceProtocol::Cooperative
    } else {
        RebalanceProtocol::Eager
    }
}

#[cfg(test)]
mod rack_tests {
    use alloc::collections::BTreeMap;
    use alloc::vec;

    use kafka_wire::generated::metadata_response::MetadataResponsePartition;

    use super::replica_racks;

    fn part(index: i32, replicas: &[i32]) -> MetadataResponsePartition {
        MetadataResponsePartition {
            partition_index: index,
            replica_nodes: replicas.to_vec().into(),
            ..Default::default()
        }
    }

    #[test]
    fn racks_by_partition_index_and_bad_layouts() {
        let racks: BTreeMap<i32, &str> = [(1, "a"), (2, "b")].into_iter().collect();
        // Out of order is fine; unknown nodes have no rack.
        let got = replica_racks(&[part(1, &[2, 9]), part(0, &[1, 2])], &racks);
        assert_eq!(
            got,
            Some(vec![vec!["a".into(), "b".into()], vec!["b".into()]])
        );
        // No broker racks, a duplicate, a gap, a negative or out-of-range index: unknown.
        assert_eq!(replica_racks(&[part(0, &[1])], &BTreeMap::new()), None);
        assert_eq!(replica_racks(&[part(0, &[1]), part(0, &[2])], &racks), None);
        assert_eq!(replica_racks(&[part(0, &[1]), part(2, &[2])], &racks), None);
        assert_eq!(replica_racks(&[part(-1, &[1])], &racks), None);
        assert_eq!(replica_racks(&[part(i32::MAX, &[1])], &racks), None);
    }
}
