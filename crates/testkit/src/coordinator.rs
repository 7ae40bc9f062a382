//! The classic group coordinator (broker side): groups, members, the JoinGroup/SyncGroup
//! barrier, heartbeats and session expiry, and committed offsets.
//!
//! Follows the Java coordinator of Kafka 4.0 (`GroupMetadataManager.classicGroup*`,
//! `ClassicGroup`), which ports the Scala `GroupCoordinator` (see `group-protocol.md` §8).
//! Parked requests are [`ReplyTo`] tokens kept on the member; every answer, immediate or
//! late, goes through [`Env::reply`] and the broker delivers it to the connection.

use core::fmt;
use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use kafka_wire::error_code::ErrorCode;

use crate::broker::BrokerConfig;
use crate::consumer_group::ConsumerGroup;
use crate::responses::{self, JoinMember, JoinResult, Reply, ReplyTo};

/// State of a classic group (`GroupMetadata.scala` / `ClassicGroupState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupState {
    /// No members; offsets may still be committed with generation -1.
    Empty,
    /// Collecting JoinGroups; they are parked until the join phase completes.
    PreparingRebalance,
    /// Join phase done; waiting for the leader's SyncGroup (followers' SyncGroups are parked).
    CompletingRebalance,
    /// Assignment distributed; members heartbeat.
    Stable,
    /// Removed group. The model never enters it (groups are never deleted); it exists so the
    /// state set matches Kafka's.
    Dead,
}

impl GroupState {
    /// Kafka's name for the state, as `DescribeGroups` reports it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::PreparingRebalance => "PreparingRebalance",
            Self::CompletingRebalance => "CompletingRebalance",
            Self::Stable => "Stable",
            Self::Dead => "Dead",
        }
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One group state change, for tests and traces.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transition {
    /// Virtual time of the change (ms).
    pub at_ms: u64,
    /// Previous state; `None` when the group was created.
    pub from: Option<GroupState>,
    /// New state.
    pub to: GroupState,
    /// Generation after the change.
    pub generation: i32,
    /// Why, in words (e.g. `"session timeout of m-2"`).
    pub reason: String,
}

/// A snapshot of one group, returned by [`ModelBroker::group`](crate::ModelBroker::group).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupView {
    /// The group id.
    pub group_id: String,
    /// Current state.
    pub state: GroupState,
    /// Current generation (0 for a new group; -1 never appears).
    pub generation: i32,
    /// Protocol type of the group (`"consumer"` for consumers), once a member joined.
    pub protocol_type: Option<String>,
    /// Protocol (assignor) chosen for the current generation.
    pub protocol: Option<String>,
    /// Member id of the leader.
    pub leader: Option<String>,
    /// Members in join order.
    pub members: Vec<MemberView>,
    /// KIP-394 pending member ids (got MEMBER_ID_REQUIRED, have not rejoined yet).
    pub pending_members: Vec<String>,
    /// Members that got their JoinGroup answer but have not sent SyncGroup yet.
    pub pending_sync: Vec<String>,
}

/// A snapshot of one member, part of [`GroupView`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberView {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub instance_id: Option<String>,
    /// Client id from the request header of its last JoinGroup.
    pub client_id: String,
    /// Session timeout (ms).
    pub session_timeout_ms: u64,
    /// Rebalance timeout (ms).
    pub rebalance_timeout_ms: u64,
    /// Protocol names in the member's order of preference.
    pub protocols: Vec<String>,
    /// Protocol metadata from its last JoinGroup, one per entry of `protocols` (for
    /// consumers: a `ConsumerProtocolSubscription`).
    pub metadata: Vec<Bytes>,
    /// Raw assignment bytes (for consumers: a `ConsumerProtocolAssignment`) of the current
    /// generation; empty before the leader's SyncGroup.
    pub assignment: Bytes,
    /// Whether a JoinGroup of this member is parked.
    pub awaiting_join: bool,
    /// Whether a SyncGroup of this member is parked.
    pub awaiting_sync: bool,
    /// Added in the current join phase (its parked join expires after the new-member timeout).
    pub is_new: bool,
    /// When the session (or new-member join) timer fires, if armed.
    pub session_deadline_ms: Option<u64>,
}

/// A committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Committed {
    pub(crate) offset: i64,
    pub(crate) leader_epoch: i32,
    pub(crate) metadata: Option<String>,
}

/// What the coordinator needs besides the group: time, config, the reply queue, ids.
#[derive(Debug)]
pub(crate) struct Env {
    pub(crate) now: u64,
    pub(crate) cfg: BrokerConfig,
    pub(crate) replies: Vec<Reply>,
    pub(crate) member_seq: u64,
    /// Parked requests that will never be answered (Kafka drops them too; see crate docs).
    pub(crate) abandoned: u64,
}

impl Env {
    fn reply(&mut self, to: ReplyTo, body: kafka_wire::AnyResponse) {
        self.replies.push(Reply { to, body });
    }

    fn reply_join(&mut self, to: ReplyTo, result: &JoinResult) {
        let body = responses::join(to.version, result);
        self.reply(to, body);
    }

    fn reply_sync(&mut self, to: ReplyTo, error: ErrorCode, group: Option<&Group>, a: Bytes) {
        let (ptype, pname) = match group {
            Some(g) => (g.protocol_type.as_deref(), g.protocol.as_deref()),
            None => (None, None),
        };
        let body = responses::sync(to.version, error, ptype, pname, a);
        self.reply(to, body);
    }

    /// `{prefix}-{n}` with a broker-wide counter (Kafka: `{prefix}-{uuid}`).
    pub(crate) fn new_member_id(&mut self, prefix: &str) -> String {
        self.member_seq += 1;
        format!("{prefix}-{}", self.member_seq)
    }
}

/// A JoinGroup, decoded and normalised by the broker.
#[derive(Debug)]
pub(crate) struct JoinReq {
    pub(crate) group_id: String,
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) session_timeout_ms: i32,
    pub(crate) rebalance_timeout_ms: i32,
    pub(crate) protocol_type: String,
    pub(crate) protocols: Vec<(String, Bytes)>,
    pub(crate) to: ReplyTo,
}

/// A SyncGroup, decoded by the broker.
#[derive(Debug)]
pub(crate) struct SyncReq {
    pub(crate) group_id: String,
    pub(crate) generation: i32,
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) assignments: Vec<(String, Bytes)>,
    pub(crate) to: ReplyTo,
}

/// Which timer is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TimerRef {
    /// When to end the join phase (initial delay or rebalance timeout).
    Join(String),
    /// When to remove members that did not send SyncGroup.
    PendingSync(String),
    /// When a member's session (or new-member join timeout) expires.
    Session(String, String),
    /// When a KIP-394 pending member expires.
    PendingMember(String, String),
    /// When a consumer (KIP-848) group member's session expires.
    ConsumerSession(String, String),
    /// When a consumer group member still revoking at the same epoch is fenced.
    ConsumerRebalance(String, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JoinTimer {
    /// `InitialDelayedJoin`: cannot complete early; re-armed while new members arrive.
    Initial {
        deadline: u64,
        delay: u64,
        remaining: u64,
    },
    /// `DelayedJoin`: completes early once everyone rejoined.
    Rebalance { deadline: u64 },
}

impl JoinTimer {
    const fn deadline(self) -> u64 {
        match self {
            Self::Initial { deadline, .. } | Self::Rebalance { deadline } => deadline,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SyncTimer {
    deadline: u64,
    generation: i32,
}

#[derive(Debug)]
struct Member {
    id: String,
    instance_id: Option<String>,
    client_id: String,
    session_timeout_ms: u64,
    rebalance_timeout_ms: u64,
    protocols: Vec<(String, Bytes)>,
    assignment: Bytes,
    join_waiter: Option<ReplyTo>,
    sync_waiter: Option<ReplyTo>,
    is_new: bool,
    session_deadline: Option<u64>,
}

impl Member {
    fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|(n, _)| n == protocol)
    }

    fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    fn vote<'a>(&'a self, candidates: &BTreeSet<&str>) -> Option<&'a str> {
        self.protocols
            .iter()
            .map(|(n, _)| n.as_str())
            .find(|n| candidates.contains(n))
    }

    fn view(&self) -> MemberView {
        MemberView {
            member_id: self.id.clone(),
            instance_id: self.instance_id.clone(),
            client_id: self.client_id.clone(),
            session_timeout_ms: self.session_timeout_ms,
            rebalance_timeout_ms: self.rebalance_timeout_ms,
            protocols: self.protocols.iter().map(|(n, _)| n.clone()).collect(),
            metadata: self.protocols.iter().map(|(_, m)| m.clone()).collect(),
            assignment: self.assignment.clone(),
            awaiting_join: self.join_waiter.is_some(),
            awaiting_sync: self.sync_waiter.is_some(),
            is_new: self.is_new,
            session_deadline_ms: self.session_deadline,
        }
    }
}

/// Non-negative milliseconds from a wire `i32`.
fn ms(v: i32) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// One classic group.
#[derive(Debug)]
pub(crate) struct Group {
    id: String,
    state: GroupState,
    prev_state: GroupState,
    generation: i32,
    protocol_type: Option<String>,
    protocol: Option<String>,
    leader: Option<String>,
    /// In join order (Kafka uses a hash map; join order keeps the model deterministic).
    members: Vec<Member>,
    static_members: BTreeMap<String, String>,
    pending_members: BTreeMap<String, u64>,
    pending_sync: BTreeSet<String>,
    join_timer: Option<JoinTimer>,
    sync_timer: Option<SyncTimer>,
    new_member_added: bool,
    pub(crate) offsets: BTreeMap<(String, i32), Committed>,
    pub(crate) transitions: Vec<Transition>,
}

impl Group {
    pub(crate) fn new(id: &str, now: u64, reason: &str) -> Self {
        Self {
            id: id.to_owned(),
            state: GroupState::Empty,
            prev_state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: Vec::new(),
            static_members: BTreeMap::new(),
            pending_members: BTreeMap::new(),
            pending_sync: BTreeSet::new(),
            join_timer: None,
            sync_timer: None,
            new_member_added: false,
            offsets: BTreeMap::new(),
            transitions: vec![Transition {
                at_ms: now,
                from: None,
                to: GroupState::Empty,
                generation: 0,
                reason: reason.to_owned(),
            }],
        }
    }

    pub(crate) fn view(&self) -> GroupView {
        GroupView {
            group_id: self.id.clone(),
            state: self.state,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol: self.protocol.clone(),
            leader: self.leader.clone(),
            members: self.members.iter().map(Member::view).collect(),
            pending_members: self.pending_members.keys().cloned().collect(),
            pending_sync: self.pending_sync.iter().cloned().collect(),
        }
    }

    pub(crate) fn parked(&self) -> (usize, usize) {
        let joins = self.members.iter().filter(|m| m.join_waiter.is_some());
        let syncs = self.members.iter().filter(|m| m.sync_waiter.is_some());
        (joins.count(), syncs.count())
    }

    /// No members and no pending members: another protocol may take the group id over.
    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty() && self.pending_members.is_empty()
    }

    pub(crate) fn pending_member_count(&self) -> usize {
        self.pending_members.len()
    }

    fn idx(&self, member_id: &str) -> Option<usize> {
        self.members.iter().position(|m| m.id == member_id)
    }

    fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    fn rebalance_timeout(&self) -> u64 {
        self.members
            .iter()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0)
    }

    fn num_awaiting_join(&self) -> usize {
        self.members
            .iter()
            .filter(|m| m.join_waiter.is_some())
            .count()
    }

    fn has_all_members_joined(&self) -> bool {
        self.members.iter().all(|m| m.join_waiter.is_some()) && self.pending_members.is_empty()
    }

    fn transition(&mut self, env: &Env, to: GroupState, reason: String) {
        self.prev_state = self.state;
        self.transitions.push(Transition {
            at_ms: env.now,
            from: Some(self.state),
            to,
            generation: self.generation,
            reason,
        });
        self.state = to;
    }

    /// The earliest armed timer of this group.
    fn next_timer(&self) -> Option<(u64, TimerRef)> {
        let mut best: Option<(u64, TimerRef)> = None;
        let mut consider = |at: u64, t: TimerRef| {
            if best.as_ref().is_none_or(|(b, _)| at < *b) {
                best = Some((at, t));
            }
        };
        if let Some(t) = self.join_timer {
            consider(t.deadline(), TimerRef::Join(self.id.clone()));
        }
        if let Some(t) = self.sync_timer {
            consider(t.deadline, TimerRef::PendingSync(self.id.clone()));
        }
        for m in &self.members {
            if let Some(at) = m.session_deadline {
                consider(at, TimerRef::Session(self.id.clone(), m.id.clone()));
            }
        }
        for (id, &at) in &self.pending_members {
            consider(at, TimerRef::PendingMember(self.id.clone(), id.clone()));
        }
        best
    }

    /// Members with the chosen protocol's metadata, for the leader's JoinGroup response.
    fn current_members(&self) -> Vec<JoinMember> {
        let protocol = self.protocol.as_deref().unwrap_or_default();
        self.members
            .iter()
            .map(|m| JoinMember {
                member_id: m.id.clone(),
                instance_id: m.instance_id.clone(),
                metadata: m.metadata(protocol),
            })
            .collect()
    }

    /// The answer "current generation" for a member that need not wait.
    fn current_generation_result(&self, member_id: &str, with_members: bool) -> JoinResult {
        JoinResult {
            error: ErrorCode::NONE,
            member_id: member_id.to_owned(),
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            skip_assignment: false,
            members: if with_members {
                self.current_members()
            } else {
                Vec::new()
            },
        }
    }

    /// `supportsProtocols`: an Empty group takes any non-empty type and protocol list; otherwise
    /// the type must match and one protocol must be supported by every member.
    fn supports_protocols(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.state == GroupState::Empty {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols
                .iter()
                .any(|(n, _)| self.members.iter().all(|m| m.supports(n)))
    }

    /// Each member votes for its most preferred protocol among those all members support;
    /// most votes wins, ties go to the protocol voted for first (in join order).
    fn select_protocol(&self) -> String {
        let Some(first) = self.members.first() else {
            return String::new();
        };
        let candidates: BTreeSet<&str> = first
            .protocols
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| self.members.iter().all(|m| m.supports(n)))
            .collect();
        let mut votes: Vec<(&str, usize)> = Vec::new();
        for m in &self.members {
            if let Some(p) = m.vote(&candidates) {
                match votes.iter_mut().find(|(q, _)| *q == p) {
                    Some((_, n)) => *n += 1,
                    None => votes.push((p, 1)),
                }
            }
        }
        let mut best: Option<(&str, usize)> = None;
        for (p, n) in votes {
            if best.is_none_or(|(_, b)| n > b) {
                best = Some((p, n));
            }
        }
        best.map(|(p, _)| p.to_owned())
            .or_else(|| first.protocols.first().map(|(n, _)| n.clone()))
            .unwrap_or_default()
    }

    /// `validateCurrentMember` / `validateExistingMember`.
    fn validate_member(&self, member_id: &str, instance_id: Option<&str>) -> Option<ErrorCode> {
        match instance_id {
            Some(inst) => match self.static_members.get(inst) {
                None => Some(ErrorCode::UNKNOWN_MEMBER_ID),
                Some(cur) if cur != member_id => Some(ErrorCode::FENCED_INSTANCE_ID),
                Some(_) => None,
            },
            None if self.idx(member_id).is_none() => Some(ErrorCode::UNKNOWN_MEMBER_ID),
            None => None,
        }
    }

    fn refresh_session(&mut self, env: &Env, idx: usize) {
        let m = &mut self.members[idx];
        m.session_deadline = Some(env.now + m.session_timeout_ms);
    }

    // ---- membership changes -------------------------------------------------------------

    /// `ClassicGroup.remove`: drops the member without answering anything.
    fn remove(&mut self, env: &mut Env, member_id: &str) {
        if let Some(idx) = self.idx(member_id) {
            let m = self.members.remove(idx);
            // Kafka never answers a parked request of a removed member (callers answer a
            // parked JoinGroup first where Kafka does); its connection stays muted.
            env.abandoned +=
                u64::from(m.join_waiter.is_some()) + u64::from(m.sync_waiter.is_some());
            if let Some(inst) = &m.instance_id {
                if self
                    .static_members
                    .get(inst)
                    .is_some_and(|id| id == member_id)
                {
                    self.static_members.remove(inst);
                }
            }
        }
        if self.is_leader(member_id) {
            self.leader = self.members.first().map(|m| m.id.clone());
        }
        self.pending_members.remove(member_id);
        self.pending_sync.remove(member_id);
    }

    /// Answers a parked JoinGroup with UNKNOWN_MEMBER_ID, then removes the member.
    fn remove_current_member(&mut self, env: &mut Env, member_id: &str) {
        if let Some(idx) = self.idx(member_id) {
            if let Some(w) = self.members[idx].join_waiter.take() {
                env.reply_join(w, &JoinResult::error("", ErrorCode::UNKNOWN_MEMBER_ID));
            }
        }
        self.remove(env, member_id);
    }

    /// `removeMemberAndUpdateClassicGroup` (session expiry).
    fn remove_member_and_update(&mut self, env: &mut Env, member_id: &str, reason: String) {
        self.remove_current_member(env, member_id);
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.maybe_prepare_rebalance_or_complete_join(env, reason);
            }
            GroupState::PreparingRebalance if self.has_all_members_joined() => {
                self.complete_join(env);
            }
            _ => {}
        }
    }

    fn add_member_and_rebalance(&mut self, env: &mut Env, member_id: String, req: JoinReq) {
        if self.members.is_empty() {
            self.protocol_type = Some(req.protocol_type.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member_id.clone());
        }
        if let Some(inst) = &req.instance_id {
            self.static_members.insert(inst.clone(), member_id.clone());
        }
        self.pending_members.remove(&member_id);
        self.members.push(Member {
            id: member_id.clone(),
            instance_id: req.instance_id,
            client_id: req.client_id,
            session_timeout_ms: ms(req.session_timeout_ms),
            rebalance_timeout_ms: ms(req.rebalance_timeout_ms),
            protocols: req.protocols,
            assignment: Bytes::new(),
            join_waiter: Some(req.to),
            sync_waiter: None,
            is_new: true,
            // KAFKA-7610: a new member's parked join expires after the new-member timeout.
            session_deadline: Some(env.now + env.cfg.new_member_join_timeout_ms),
        });
        if self.state == GroupState::PreparingRebalance && self.prev_state == GroupState::Empty {
            self.new_member_added = true;
        }
        self.maybe_prepare_rebalance_or_complete_join(env, format!("new member {member_id}"));
    }

    /// `updateMember`: new protocols and timeouts, and the new parked JoinGroup.
    fn update_member(&mut self, env: &mut Env, idx: usize, req: JoinReq) {
        let m = &mut self.members[idx];
        m.protocols = req.protocols;
        m.session_timeout_ms = ms(req.session_timeout_ms);
        m.rebalance_timeout_ms = ms(req.rebalance_timeout_ms);
        m.client_id = req.client_id;
        if m.join_waiter.replace(req.to).is_some() {
            // Kafka overwrites the previous future without completing it.
            env.abandoned += 1;
        }
    }

    fn update_member_and_rebalance(&mut self, env: &mut Env, idx: usize, req: JoinReq) {
        let reason = format!("member {} rejoined in {}", self.members[idx].id, self.state);
        self.update_member(env, idx, req);
        self.maybe_prepare_rebalance_or_complete_join(env, reason);
    }

    /// `replaceStaticMember`: fences the old member id's parked requests.
    fn replace_static_member(&mut self, env: &mut Env, inst: &str, old: &str, new: &str) {
        if let Some(idx) = self.idx(old) {
            let m = &mut self.members[idx];
            if let Some(w) = m.join_waiter.take() {
                env.reply_join(w, &JoinResult::error(old, ErrorCode::FENCED_INSTANCE_ID));
            }
            if let Some(w) = m.sync_waiter.take() {
                env.reply_sync(w, ErrorCode::FENCED_INSTANCE_ID, None, Bytes::new());
            }
            new.clone_into(&mut m.id);
        }
        if self.is_leader(old) {
            self.leader = Some(new.to_owned());
        }
        self.static_members.insert(inst.to_owned(), new.to_owned());
        if self.pending_sync.remove(old) {
            self.pending_sync.insert(new.to_owned());
        }
    }

    // ---- JoinGroup ----------------------------------------------------------------------

    fn accept_joining_member(&self, env: &Env, member_id: &str) -> bool {
        let max = env.cfg.group_max_size;
        match self.state {
            GroupState::Empty | GroupState::Dead => true,
            GroupState::PreparingRebalance => {
                self.idx(member_id)
                    .is_some_and(|i| self.members[i].join_waiter.is_some())
                    || self.num_awaiting_join() < max
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.idx(member_id).is_some() || self.members.len() < max
            }
        }
    }

    fn join(&mut self, env: &mut Env, req: JoinReq) {
        if !self.accept_joining_member(env, &req.member_id) {
            self.remove(env, &req.member_id);
            env.reply_join(
                req.to,
                &JoinResult::error("", ErrorCode::GROUP_MAX_SIZE_REACHED),
            );
        } else if req.member_id.is_empty() {
            self.join_new_member(env, req);
        } else {
            self.join_existing_member(env, req);
        }
        self.maybe_complete_join_phase(env);
    }

    fn join_new_member(&mut self, env: &mut Env, req: JoinReq) {
        if self.state == GroupState::Dead {
            let r = JoinResult::error(&req.member_id, ErrorCode::COORDINATOR_NOT_AVAILABLE);
            return env.reply_join(req.to, &r);
        }
        if !self.supports_protocols(&req.protocol_type, &req.protocols) {
            let r = JoinResult::error(&req.member_id, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
            return env.reply_join(req.to, &r);
        }
        let prefix = req.instance_id.as_deref().unwrap_or(&req.client_id);
        let new_id = env.new_member_id(prefix);
        if let Some(inst) = req.instance_id.clone() {
            match self.static_members.get(&inst).cloned() {
                Some(old) => self.update_static_member_and_rebalance(env, &inst, &old, new_id, req),
                None => self.add_member_and_rebalance(env, new_id, req),
            }
        } else if req.to.version >= 4 {
            // KIP-394: hand out a member id and ask the member to come back with it.
            let deadline = env.now + ms(req.session_timeout_ms);
            self.pending_members.insert(new_id.clone(), deadline);
            env.reply_join(
                req.to,
                &JoinResult::error(&new_id, ErrorCode::MEMBER_ID_REQUIRED),
            );
        } else {
            self.add_member_and_rebalance(env, new_id, req);
        }
    }

    fn update_static_member_and_rebalance(
        &mut self,
        env: &mut Env,
        inst: &str,
        old: &str,
        new_id: String,
        req: JoinReq,
    ) {
        let current_leader = self.leader.clone().unwrap_or_default();
        self.replace_static_member(env, inst, old, &new_id);
        let Some(idx) = self.idx(&new_id) else {
            return;
        };
        // The old id's session timer dies with it; the new id gets one (old session timeout).
        self.refresh_session(env, idx);
        let skip_capable = req.to.version >= 9;
        self.update_member(env, idx, req);
        match self.state {
            GroupState::Stable => {
                if self.protocol.as_deref() == Some(self.select_protocol().as_str()) {
                    // No rebalance: answer at once with the current generation.
                    let is_leader = self.is_leader(&new_id);
                    let mut r = self.current_generation_result(&new_id, is_leader);
                    if skip_capable {
                        r.skip_assignment = is_leader;
                    } else {
                        // Old clients would assign if they saw themselves as leader, and a
                        // Stable group would not broadcast it: return the old leader id.
                        r.leader = current_leader;
                    }
                    if let Some(w) = self.members[idx].join_waiter.take() {
                        env.reply_join(w, &r);
                    }
                } else {
                    let reason = format!("static member {new_id} changed the protocol");
                    self.maybe_prepare_rebalance_or_complete_join(env, reason);
                }
            }
            GroupState::CompletingRebalance => {
                self.prepare_rebalance(env, format!("static member {new_id} replaced {old}"));
            }
            GroupState::PreparingRebalance | GroupState::Empty | GroupState::Dead => {}
        }
    }

    fn join_existing_member(&mut self, env: &mut Env, req: JoinReq) {
        let err = |e| JoinResult::error(&req.member_id, e);
        if self.state == GroupState::Dead {
            return env.reply_join(req.to, &err(ErrorCode::COORDINATOR_NOT_AVAILABLE));
        }
        if !self.supports_protocols(&req.protocol_type, &req.protocols) {
            return env.reply_join(req.to, &err(ErrorCode::INCONSISTENT_GROUP_PROTOCOL));
        }
        if self.pending_members.contains_key(&req.member_id) {
            if req.instance_id.is_some() {
                // Kafka: IllegalStateException (pending members are never static).
                return env.reply_join(req.to, &err(ErrorCode::UNKNOWN_SERVER_ERROR));
            }
            let id = req.member_id.clone();
            return self.add_member_and_rebalance(env, id, req);
        }
        if let Some(e) = self.validate_member(&req.member_id, req.instance_id.as_deref()) {
            return env.reply_join(req.to, &err(e));
        }
        let Some(idx) = self.idx(&req.member_id) else {
            return env.reply_join(req.to, &err(ErrorCode::UNKNOWN_MEMBER_ID));
        };
        let same = self.members[idx].protocols == req.protocols;
        let is_leader = self.is_leader(&req.member_id);
        match self.state {
            GroupState::PreparingRebalance => self.update_member_and_rebalance(env, idx, req),
            GroupState::CompletingRebalance if same => {
                // Lost its JoinGroup response: repeat it.
                let r = self.current_generation_result(&req.member_id, is_leader);
                env.reply_join(req.to, &r);
            }
            GroupState::Stable if same && !is_leader => {
                let r = self.current_generation_result(&req.member_id, false);
                env.reply_join(req.to, &r);
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.update_member_and_rebalance(env, idx, req);
            }
            GroupState::Empty | GroupState::Dead => {
                env.reply_join(req.to, &err(ErrorCode::UNKNOWN_MEMBER_ID));
            }
        }
    }

    // ---- the join phase -----------------------------------------------------------------

    fn maybe_prepare_rebalance_or_complete_join(&mut self, env: &mut Env, reason: String) {
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty => {
                self.prepare_rebalance(env, reason);
            }
            GroupState::PreparingRebalance | GroupState::Dead => {
                self.maybe_complete_join_phase(env)
            }
        }
    }

    /// Completes the join phase early if everyone is in, except during the initial delay.
    fn maybe_complete_join_phase(&mut self, env: &mut Env) {
        if self.state == GroupState::PreparingRebalance
            && self.has_all_members_joined()
            && self.prev_state != GroupState::Empty
        {
            self.complete_join(env);
        }
    }

    fn prepare_rebalance(&mut self, env: &mut Env, reason: String) {
        if self.state == GroupState::CompletingRebalance {
            self.reset_and_propagate_assignment_error(env, ErrorCode::REBALANCE_IN_PROGRESS);
        }
        self.sync_timer = None;
        self.pending_sync.clear();
        let initial = self.state == GroupState::Empty;
        if initial {
            let delay = env.cfg.initial_rebalance_delay_ms;
            self.new_member_added = false;
            self.join_timer = Some(JoinTimer::Initial {
                deadline: env.now + delay,
                delay,
                remaining: self.rebalance_timeout().saturating_sub(delay),
            });
        }
        self.transition(env, GroupState::PreparingRebalance, reason);
        if !initial {
            if self.has_all_members_joined() {
                self.complete_join(env);
            } else {
                self.join_timer = Some(JoinTimer::Rebalance {
                    deadline: env.now + self.rebalance_timeout(),
                });
            }
        }
    }

    fn reset_and_propagate_assignment_error(&mut self, env: &mut Env, error: ErrorCode) {
        for m in &mut self.members {
            m.assignment = Bytes::new();
            if let Some(w) = m.sync_waiter.take() {
                env.reply_sync(w, error, None, Bytes::new());
                m.session_deadline = Some(env.now + m.session_timeout_ms);
            }
        }
    }

    fn maybe_elect_new_joined_leader(&mut self) -> bool {
        let Some(leader) = &self.leader else {
            return false;
        };
        if self
            .idx(leader)
            .is_some_and(|i| self.members[i].join_waiter.is_some())
        {
            return true;
        }
        match self.members.iter().find(|m| m.join_waiter.is_some()) {
            Some(m) => {
                self.leader = Some(m.id.clone());
                true
            }
            None => false,
        }
    }

    /// `completeClassicGroupJoin` / `onCompleteJoin`.
    fn complete_join(&mut self, env: &mut Env) {
        self.join_timer = None;
        let gone: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.join_waiter.is_none() && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in &gone {
            self.remove(env, id);
        }
        if self.state == GroupState::Dead {
            return;
        }
        if !self.maybe_elect_new_joined_leader() && !self.members.is_empty() {
            // Only static members that did not rejoin are left: wait for them (or their
            // session timeouts) another rebalance timeout (at least 1 ms, so a zero timeout
            // cannot spin at one instant).
            self.join_timer = Some(JoinTimer::Rebalance {
                deadline: env.now + self.rebalance_timeout().max(1),
            });
            return;
        }
        self.generation += 1;
        let reason = if gone.is_empty() {
            "join phase complete".to_owned()
        } else {
            format!("join phase complete; removed {}", gone.join(", "))
        };
        if self.members.is_empty() {
            self.protocol = None;
            self.transition(env, GroupState::Empty, reason);
        } else {
            self.protocol = Some(self.select_protocol());
            self.transition(env, GroupState::CompletingRebalance, reason);
        }
        self.pending_sync.clear();
        if self.state == GroupState::Empty {
            return;
        }
        let leader_members = self.current_members();
        for i in 0..self.members.len() {
            let is_leader = self.is_leader(&self.members[i].id);
            if let Some(w) = self.members[i].join_waiter.take() {
                let mut r = self.current_generation_result(&self.members[i].id, false);
                if is_leader {
                    r.members.clone_from(&leader_members);
                }
                env.reply_join(w, &r);
            }
            self.refresh_session(env, i);
            self.members[i].is_new = false;
            self.pending_sync.insert(self.members[i].id.clone());
        }
        self.sync_timer = Some(SyncTimer {
            deadline: env.now + self.rebalance_timeout(),
            generation: self.generation,
        });
    }

    // ---- timers -------------------------------------------------------------------------

    fn on_join_timer(&mut self, env: &mut Env) {
        let Some(timer) = self.join_timer.take() else {
            return;
        };
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        match timer {
            JoinTimer::Initial {
                delay, remaining, ..
            } if self.new_member_added && remaining != 0 => {
                self.new_member_added = false;
                let next = env.cfg.initial_rebalance_delay_ms.min(remaining);
                self.join_timer = Some(JoinTimer::Initial {
                    deadline: env.now + next,
                    delay: next,
                    remaining: remaining.saturating_sub(delay),
                });
            }
            JoinTimer::Initial { .. } | JoinTimer::Rebalance { .. } => self.complete_join(env),
        }
    }

    fn on_sync_timer(&mut self, env: &mut Env) {
        let Some(timer) = self.sync_timer.take() else {
            return;
        };
        if timer.generation != self.generation
            || !matches!(
                self.state,
                GroupState::CompletingRebalance | GroupState::Stable
            )
            || self.pending_sync.is_empty()
        {
            return;
        }
        let late: Vec<String> = self.pending_sync.iter().cloned().collect();
        for id in &late {
            self.remove(env, id);
        }
        let reason = format!("no SyncGroup from {}", late.join(", "));
        self.prepare_rebalance(env, reason);
    }

    fn on_session_expiry(&mut self, env: &mut Env, member_id: &str) {
        let Some(idx) = self.idx(member_id) else {
            return;
        };
        let m = &mut self.members[idx];
        m.session_deadline = None;
        if self.state == GroupState::Dead {
            return;
        }
        // Members awaiting a join or sync count as alive (unless new: KAFKA-7610).
        if !m.is_new && (m.join_waiter.is_some() || m.sync_waiter.is_some()) {
            return;
        }
        let what = if m.is_new {
            "new-member join timeout"
        } else {
            "session timeout"
        };
        self.remove_member_and_update(env, member_id, format!("{what} of {member_id}"));
    }

    fn on_pending_expiry(&mut self, env: &mut Env, member_id: &str) {
        self.pending_members.remove(member_id);
        self.maybe_complete_join_phase(env);
    }

    // ---- SyncGroup ----------------------------------------------------------------------

    fn sync(&mut self, env: &mut Env, req: SyncReq) {
        let fail = |env: &mut Env, to, e| env.reply_sync(to, e, None, Bytes::new());
        if self.state == GroupState::Dead {
            return fail(env, req.to, ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        if let Some(e) = self.validate_member(&req.member_id, req.instance_id.as_deref()) {
            return fail(env, req.to, e);
        }
        if req.generation != self.generation {
            return fail(env, req.to, ErrorCode::ILLEGAL_GENERATION);
        }
        // KIP-559 (v5): the protocol type and name must match when given.
        if req
            .protocol_type
            .as_ref()
            .is_some_and(|t| self.protocol_type.as_ref() != Some(t))
            || req
                .protocol_name
                .as_ref()
                .is_some_and(|n| self.protocol.as_ref() != Some(n))
        {
            return fail(env, req.to, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
        }
        let Some(idx) = self.idx(&req.member_id) else {
            return fail(env, req.to, ErrorCode::UNKNOWN_MEMBER_ID);
        };
        match self.state {
            GroupState::Empty | GroupState::Dead => fail(env, req.to, ErrorCode::UNKNOWN_MEMBER_ID),
            GroupState::PreparingRebalance => fail(env, req.to, ErrorCode::REBALANCE_IN_PROGRESS),
            GroupState::CompletingRebalance => {
                if self.members[idx].sync_waiter.replace(req.to).is_some() {
                    env.abandoned += 1;
                }
                self.pending_sync.remove(&req.member_id);
                if self.is_leader(&req.member_id) {
                    // Later entries win; members the leader left out get an empty assignment.
                    let given: BTreeMap<String, Bytes> = req.assignments.into_iter().collect();
                    for m in &mut self.members {
                        m.assignment = given.get(&m.id).cloned().unwrap_or_default();
                    }
                    for i in 0..self.members.len() {
                        if let Some(w) = self.members[i].sync_waiter.take() {
                            let a = self.members[i].assignment.clone();
                            env.reply_sync(w, ErrorCode::NONE, Some(self), a);
                            self.refresh_session(env, i);
                        }
                    }
                    let reason = format!("assignment from leader {}", req.member_id);
                    self.transition(env, GroupState::Stable, reason);
                }
            }
            GroupState::Stable => {
                self.pending_sync.remove(&req.member_id);
                let a = self.members[idx].assignment.clone();
                env.reply_sync(req.to, ErrorCode::NONE, Some(self), a);
                self.refresh_session(env, idx);
            }
        }
    }

    // ---- Heartbeat, LeaveGroup, OffsetCommit --------------------------------------------

    fn heartbeat(
        &mut self,
        env: &Env,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> ErrorCode {
        if self.state == GroupState::Dead {
            return ErrorCode::COORDINATOR_NOT_AVAILABLE;
        }
        if let Some(e) = self.validate_member(member_id, instance_id) {
            return e;
        }
        if generation != self.generation {
            return ErrorCode::ILLEGAL_GENERATION;
        }
        let Some(idx) = self.idx(member_id) else {
            return ErrorCode::UNKNOWN_MEMBER_ID;
        };
        match self.state {
            GroupState::Empty | GroupState::Dead => ErrorCode::UNKNOWN_MEMBER_ID,
            GroupState::PreparingRebalance => {
                self.refresh_session(env, idx);
                ErrorCode::REBALANCE_IN_PROGRESS
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.refresh_session(env, idx);
                ErrorCode::NONE
            }
        }
    }

    fn leave(
        &mut self,
        env: &mut Env,
        members: &[(String, Option<String>)],
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        if self.state == GroupState::Dead {
            return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        let mut out = Vec::with_capacity(members.len());
        let mut left = Vec::new();
        for (member_id, instance_id) in members {
            let code = if member_id.is_empty() {
                // Administrative removal by instance id.
                match instance_id
                    .as_ref()
                    .and_then(|i| self.static_members.get(i))
                    .cloned()
                {
                    Some(id) => {
                        self.remove_current_member(env, &id);
                        left.push(id);
                        ErrorCode::NONE
                    }
                    None => ErrorCode::UNKNOWN_MEMBER_ID,
                }
            } else if self.pending_members.contains_key(member_id) {
                self.remove(env, member_id);
                left.push(member_id.clone());
                ErrorCode::NONE
            } else if let Some(e) = self.validate_member(member_id, instance_id.as_deref()) {
                e
            } else {
                self.remove_current_member(env, member_id);
                left.push(member_id.clone());
                ErrorCode::NONE
            };
            out.push(code);
        }
        if !left.is_empty() {
            match self.state {
                GroupState::Stable | GroupState::CompletingRebalance => {
                    let reason = format!("LeaveGroup from {}", left.join(", "));
                    self.maybe_prepare_rebalance_or_complete_join(env, reason);
                }
                GroupState::PreparingRebalance => self.maybe_complete_join_phase(env),
                GroupState::Empty | GroupState::Dead => {}
            }
        }
        Ok(out)
    }

    /// `ClassicGroup.validateOffsetCommit`.
    fn validate_offset_commit(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Result<(), ErrorCode> {
        if self.state == GroupState::Dead {
            return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        if generation < 0 && self.state == GroupState::Empty {
            return Ok(());
        }
        if generation >= 0 || !member_id.is_empty() || instance_id.is_some() {
            if let Some(e) = self.validate_member(member_id, instance_id) {
                return Err(e);
            }
            if generation != self.generation {
                return Err(ErrorCode::ILLEGAL_GENERATION);
            }
        } else if self.state != GroupState::Empty {
            return Err(ErrorCode::UNKNOWN_MEMBER_ID);
        }
        if self.state == GroupState::CompletingRebalance {
            return Err(ErrorCode::REBALANCE_IN_PROGRESS);
        }
        Ok(())
    }
}

/// All groups plus the shared environment.
#[derive(Debug)]
pub(crate) struct Coordinator {
    pub(crate) groups: BTreeMap<String, Group>,
    /// Consumer (KIP-848) groups; a group id is in at most one of the two maps.
    pub(crate) consumer: BTreeMap<String, ConsumerGroup>,
    pub(crate) env: Env,
}

impl Coordinator {
    pub(crate) fn new(cfg: BrokerConfig) -> Self {
        Self {
            groups: BTreeMap::new(),
            consumer: BTreeMap::new(),
            env: Env {
                now: 0,
                cfg,
                replies: Vec::new(),
                member_seq: 0,
                abandoned: 0,
            },
        }
    }

    /// The earliest armed timer of any group (ties: group id order, then the order in
    /// [`Group::next_timer`]).
    pub(crate) fn next_timer(&self) -> Option<(u64, TimerRef)> {
        let mut best: Option<(u64, TimerRef)> = None;
        for g in self.groups.values() {
            if let Some((at, t)) = g.next_timer() {
                if best.as_ref().is_none_or(|(b, _)| at < *b) {
                    best = Some((at, t));
                }
            }
        }
        for (id, g) in &self.consumer {
            if let Some((at, m, rebalance)) = g.next_timer() {
                if best.as_ref().is_none_or(|(b, _)| at < *b) {
                    let t = if rebalance {
                        TimerRef::ConsumerRebalance(id.clone(), m)
                    } else {
                        TimerRef::ConsumerSession(id.clone(), m)
                    };
                    best = Some((at, t));
                }
            }
        }
        best
    }

    /// Fires one timer (the caller has set `env.now` to its deadline).
    pub(crate) fn fire(&mut self, timer: &TimerRef) {
        let env = &mut self.env;
        match timer {
            TimerRef::Join(g) => {
                if let Some(g) = self.groups.get_mut(g) {
                    g.on_join_timer(env);
                }
            }
            TimerRef::PendingSync(g) => {
                if let Some(g) = self.groups.get_mut(g) {
                    g.on_sync_timer(env);
                }
            }
            TimerRef::Session(g, m) => {
                if let Some(g) = self.groups.get_mut(g) {
                    g.on_session_expiry(env, m);
                }
            }
            TimerRef::PendingMember(g, m) => {
                if let Some(g) = self.groups.get_mut(g) {
                    g.on_pending_expiry(env, m);
                }
            }
            TimerRef::ConsumerSession(g, m) => {
                if let Some(g) = self.consumer.get_mut(g) {
                    g.on_session_expiry(env, m);
                }
            }
            TimerRef::ConsumerRebalance(g, m) => {
                if let Some(g) = self.consumer.get_mut(g) {
                    g.on_rebalance_timeout(env, m);
                }
            }
        }
    }

    pub(crate) fn join(&mut self, req: JoinReq) {
        let env = &mut self.env;
        let st = i64::from(req.session_timeout_ms);
        let (lo, hi) = (
            env.cfg.min_session_timeout_ms,
            env.cfg.max_session_timeout_ms,
        );
        if st < 0 || ms(req.session_timeout_ms) < lo || ms(req.session_timeout_ms) > hi {
            let r = JoinResult::error(&req.member_id, ErrorCode::INVALID_SESSION_TIMEOUT);
            return env.reply_join(req.to, &r);
        }
        if !self.groups.contains_key(&req.group_id) {
            if !req.member_id.is_empty() {
                let r = JoinResult::error(&req.member_id, ErrorCode::UNKNOWN_MEMBER_ID);
                return env.reply_join(req.to, &r);
            }
            let g = Group::new(&req.group_id, env.now, "created by JoinGroup");
            self.groups.insert(req.group_id.clone(), g);
        }
        if let Some(g) = self.groups.get_mut(&req.group_id) {
            g.join(env, req);
        }
    }

    pub(crate) fn sync(&mut self, req: SyncReq) {
        let env = &mut self.env;
        match self.groups.get_mut(&req.group_id) {
            Some(g) => g.sync(env, req),
            None => env.reply_sync(req.to, ErrorCode::UNKNOWN_MEMBER_ID, None, Bytes::new()),
        }
    }

    pub(crate) fn heartbeat(
        &mut self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> ErrorCode {
        match self.groups.get_mut(group_id) {
            Some(g) => g.heartbeat(&self.env, member_id, instance_id, generation),
            None => ErrorCode::UNKNOWN_MEMBER_ID,
        }
    }

    /// Per-member results, or a group-level error.
    pub(crate) fn leave(
        &mut self,
        group_id: &str,
        members: &[(String, Option<String>)],
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        match self.groups.get_mut(group_id) {
            Some(g) => g.leave(&mut self.env, members),
            None => Ok(vec![ErrorCode::UNKNOWN_MEMBER_ID; members.len()]),
        }
    }

    /// Validates an OffsetCommit; creates a "simple" group for generation < 0.
    pub(crate) fn validate_commit(
        &mut self,
        version: i16,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), ErrorCode> {
        if let Some(g) = self.consumer.get(group_id) {
            return g.validate_commit(version, member_id, generation);
        }
        match self.groups.get(group_id) {
            Some(g) => g.validate_offset_commit(member_id, instance_id, generation),
            None if generation < 0 => {
                let g = Group::new(group_id, self.env.now, "created by OffsetCommit");
                self.groups.insert(group_id.to_owned(), g);
                Ok(())
            }
            None if version >= 9 => Err(ErrorCode::GROUP_ID_NOT_FOUND),
            None => Err(ErrorCode::ILLEGAL_GENERATION),
        }
    }

    /// Stores one offset of a validated commit.
    pub(crate) fn store_offset(
        &mut self,
        group_id: &str,
        topic: &str,
        partition: i32,
        c: Committed,
    ) {
        if let Some(g) = self.groups.get_mut(group_id) {
            g.offsets.insert((topic.to_owned(), partition), c);
        } else if let Some(g) = self.consumer.get_mut(group_id) {
            g.offsets.insert((topic.to_owned(), partition), c);
        }
    }

    /// Commits keep a member's session alive in Stable and PreparingRebalance.
    pub(crate) fn commit_refresh(&mut self, group_id: &str, member_id: &str) {
        if let Some(g) = self.groups.get_mut(group_id) {
            if matches!(g.state, GroupState::Stable | GroupState::PreparingRebalance) {
                if let Some(idx) = g.idx(member_id) {
                    g.refresh_session(&self.env, idx);
                }
            }
        }
    }
}
