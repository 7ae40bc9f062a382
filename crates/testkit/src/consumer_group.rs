//! The KIP-848 group coordinator (broker side): ConsumerGroupHeartbeat, server-side assignors,
//! per-member reconciliation with partition epochs, rebalance-timeout fencing, session expiry,
//! static members, and the member-epoch checks of OffsetCommit and OffsetFetch.
//!
//! Follows the semantics of Kafka's new group coordinator (`group-protocol.md` §9): a group
//! epoch bumped by membership, subscription and subscribed-topic changes; a target assignment
//! recomputed by the server assignor when the group epoch is ahead of it; and each member
//! moved towards its target on its own heartbeats, revoking first and receiving a partition
//! only once its previous owner released it.

use core::fmt;
use std::collections::{BTreeMap, BTreeSet};

use kafka_wire::Uuid;
use kafka_wire::error_code::ErrorCode;
use kafka_wire::generated::ConsumerGroupHeartbeatRequest;
use kafka_wire::generated::ConsumerGroupHeartbeatResponse;
use kafka_wire::generated::consumer_group_heartbeat_response::{Assignment, TopicPartitions};

use crate::broker::Topic;
use crate::coordinator::{Committed, Coordinator, Env, Group};

/// A partition by topic id.
pub(crate) type Tp = (Uuid, i32);

/// The server assignors the model knows; the first is the default.
pub const SERVER_ASSIGNORS: [&str; 2] = ["uniform", "range"];

/// State of a consumer (KIP-848) group (`ConsumerGroup.ConsumerGroupState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConsumerGroupState {
    /// No members.
    Empty,
    /// The group epoch is ahead of the target assignment epoch.
    Assigning,
    /// Some member is not at the target assignment epoch yet.
    Reconciling,
    /// Every member is at the target epoch.
    Stable,
}

impl ConsumerGroupState {
    /// Kafka's name for the state.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::Assigning => "Assigning",
            Self::Reconciling => "Reconciling",
            Self::Stable => "Stable",
        }
    }
}

impl fmt::Display for ConsumerGroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Reconciliation state of one member (`MemberState` of the new coordinator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConsumerMemberState {
    /// At the target epoch with every target partition.
    Stable,
    /// Must stop owning some partitions first; stays at its epoch until it reports them gone.
    UnrevokedPartitions,
    /// At the target epoch, but some target partitions are still owned by other members.
    UnreleasedPartitions,
}

/// A snapshot of one consumer group, from
/// [`ModelBroker::consumer_group`](crate::ModelBroker::consumer_group).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerGroupView {
    /// The group id.
    pub group_id: String,
    /// Derived state.
    pub state: ConsumerGroupState,
    /// The group epoch.
    pub group_epoch: i32,
    /// The epoch of the current target assignment.
    pub target_epoch: i32,
    /// The server assignor that computed the current target (empty before the first one).
    pub assignor: String,
    /// Members by member id.
    pub members: Vec<ConsumerMemberView>,
    /// Every owned partition `(topic, partition)` with its owner and the owner's epoch (the
    /// partition epoch); partitions pending revocation count as owned.
    pub owners: BTreeMap<(String, i32), (String, i32)>,
    /// Subscribed topics that exist, with their partition counts.
    pub subscribed_topics: BTreeMap<String, i32>,
}

/// A snapshot of one member, part of [`ConsumerGroupView`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerMemberView {
    /// Member id.
    pub member_id: String,
    /// Instance id of a static member.
    pub instance_id: Option<String>,
    /// Rack id.
    pub rack_id: Option<String>,
    /// Client id from the request header of its last heartbeat.
    pub client_id: String,
    /// Member epoch (-2 for a static member that left temporarily).
    pub member_epoch: i32,
    /// The epoch before the last change.
    pub previous_member_epoch: i32,
    /// Reconciliation state.
    pub state: ConsumerMemberState,
    /// Subscribed topic names.
    pub subscribed_topic_names: Vec<String>,
    /// Subscribed topic regex (v1).
    pub subscribed_topic_regex: Option<String>,
    /// Server assignor the member asked for.
    pub server_assignor: Option<String>,
    /// Rebalance timeout (ms).
    pub rebalance_timeout_ms: u64,
    /// Partitions the member may use now, sorted.
    pub assigned: Vec<(String, i32)>,
    /// Partitions the member must revoke, sorted.
    pub pending_revocation: Vec<(String, i32)>,
    /// Its partitions in the target assignment, sorted.
    pub target: Vec<(String, i32)>,
    /// When its session expires.
    pub session_deadline_ms: Option<u64>,
    /// When it is fenced unless it finished revoking.
    pub rebalance_deadline_ms: Option<u64>,
}

/// An error answer: the code and a message.
pub(crate) type HbError = (ErrorCode, String);

fn err<T>(code: ErrorCode, msg: impl Into<String>) -> Result<T, HbError> {
    Err((code, msg.into()))
}

/// A regex subscription, compiled for full matches.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    source: String,
    re: regex::Regex,
}

impl Pattern {
    fn new(source: &str) -> Result<Self, HbError> {
        match regex::Regex::new(&format!("^(?:{source})$")) {
            Ok(re) => Ok(Self {
                source: source.to_owned(),
                re,
            }),
            Err(e) => err(
                ErrorCode::INVALID_REGULAR_EXPRESSION,
                format!("invalid regex {source:?}: {e}"),
            ),
        }
    }
}

#[derive(Debug, Clone)]
struct CMember {
    id: String,
    instance_id: Option<String>,
    rack_id: Option<String>,
    client_id: String,
    epoch: i32,
    previous_epoch: i32,
    state: ConsumerMemberState,
    rebalance_timeout_ms: u64,
    names: BTreeSet<String>,
    regex: Option<Pattern>,
    assignor: Option<String>,
    assigned: BTreeSet<Tp>,
    revoking: BTreeSet<Tp>,
    session_deadline: Option<u64>,
    /// Deadline and the epoch it guards.
    rebalance_deadline: Option<(u64, i32)>,
    /// The assignment in the last successful response; `None` after an error or before any.
    last_sent: Option<BTreeSet<Tp>>,
}

impl CMember {
    fn new(id: String, client_id: String) -> Self {
        Self {
            id,
            instance_id: None,
            rack_id: None,
            client_id,
            epoch: 0,
            previous_epoch: 0,
            state: ConsumerMemberState::Stable,
            rebalance_timeout_ms: 0,
            names: BTreeSet::new(),
            regex: None,
            assignor: None,
            assigned: BTreeSet::new(),
            revoking: BTreeSet::new(),
            session_deadline: None,
            rebalance_deadline: None,
            last_sent: None,
        }
    }

    fn set_epoch(&mut self, epoch: i32) {
        if epoch != self.epoch {
            self.previous_epoch = self.epoch;
            self.epoch = epoch;
        }
    }

    /// Topics the member subscribes to that exist.
    fn subscribed<'a>(&self, topics: &'a BTreeMap<String, Topic>) -> Vec<(&'a str, Topic)> {
        topics
            .iter()
            .filter(|(name, _)| {
                self.names.contains(name.as_str())
                    || self.regex.as_ref().is_some_and(|p| p.re.is_match(name))
            })
            .map(|(n, t)| (n.as_str(), *t))
            .collect()
    }
}

/// Why a member goes away (for the reason strings only).
#[derive(Debug, Clone, Copy)]
enum Removal {
    Leave,
    Session,
    Rebalance,
}

/// One consumer group.
#[derive(Debug)]
pub(crate) struct ConsumerGroup {
    id: String,
    group_epoch: i32,
    target_epoch: i32,
    assignor: String,
    members: BTreeMap<String, CMember>,
    static_members: BTreeMap<String, String>,
    target: BTreeMap<String, BTreeSet<Tp>>,
    /// Partition epochs: owner and its epoch, for assigned and pending-revocation partitions.
    owners: BTreeMap<Tp, (String, i32)>,
    /// Resolved subscription metadata: subscribed topics that exist, with id and partitions.
    subscribed: BTreeMap<String, (Uuid, i32)>,
    pub(crate) offsets: BTreeMap<(String, i32), Committed>,
    /// `(at_ms, new group epoch, reason)` for every bump.
    pub(crate) epoch_log: Vec<(u64, i32, String)>,
}

fn name_of(topics: &BTreeMap<String, Topic>, id: Uuid) -> String {
    topics
        .iter()
        .find(|(_, t)| t.id == id)
        .map_or_else(|| format!("{id:?}"), |(n, _)| n.clone())
}

fn named(topics: &BTreeMap<String, Topic>, set: &BTreeSet<Tp>) -> Vec<(String, i32)> {
    let mut v: Vec<(String, i32)> = set.iter().map(|&(t, p)| (name_of(topics, t), p)).collect();
    v.sort();
    v
}

fn to_wire(set: &BTreeSet<Tp>) -> Assignment {
    let mut topic_partitions: Vec<TopicPartitions> = Vec::new();
    for &(t, p) in set {
        match topic_partitions.last_mut() {
            Some(last) if last.topic_id == t => {
                let mut ps: Vec<i32> = last.partitions.iter().collect();
                ps.push(p);
                last.partitions = ps.into();
            }
            _ => topic_partitions.push(TopicPartitions {
                topic_id: t,
                partitions: vec![p].into(),
                ..Default::default()
            }),
        }
    }
    Assignment {
        topic_partitions,
        ..Default::default()
    }
}

impl ConsumerGroup {
    pub(crate) fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            group_epoch: 0,
            target_epoch: 0,
            assignor: String::new(),
            members: BTreeMap::new(),
            static_members: BTreeMap::new(),
            target: BTreeMap::new(),
            owners: BTreeMap::new(),
            subscribed: BTreeMap::new(),
            offsets: BTreeMap::new(),
            epoch_log: Vec::new(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.group_epoch > self.target_epoch {
            ConsumerGroupState::Assigning
        } else if self
            .members
            .values()
            .any(|m| m.epoch != self.target_epoch || m.state != ConsumerMemberState::Stable)
        {
            ConsumerGroupState::Reconciling
        } else {
            ConsumerGroupState::Stable
        }
    }

    pub(crate) fn view(&self, topics: &BTreeMap<String, Topic>) -> ConsumerGroupView {
        let empty = BTreeSet::new();
        ConsumerGroupView {
            group_id: self.id.clone(),
            state: self.state(),
            group_epoch: self.group_epoch,
            target_epoch: self.target_epoch,
            assignor: self.assignor.clone(),
            members: self
                .members
                .values()
                .map(|m| ConsumerMemberView {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    rack_id: m.rack_id.clone(),
                    client_id: m.client_id.clone(),
                    member_epoch: m.epoch,
                    previous_member_epoch: m.previous_epoch,
                    state: m.state,
                    subscribed_topic_names: m.names.iter().cloned().collect(),
                    subscribed_topic_regex: m.regex.as_ref().map(|p| p.source.clone()),
                    server_assignor: m.assignor.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    assigned: named(topics, &m.assigned),
                    pending_revocation: named(topics, &m.revoking),
                    target: named(topics, self.target.get(&m.id).unwrap_or(&empty)),
                    session_deadline_ms: m.session_deadline,
                    rebalance_deadline_ms: m.rebalance_deadline.map(|(at, _)| at),
                })
                .collect(),
            owners: self
                .owners
                .iter()
                .map(|(&(t, p), (m, e))| ((name_of(topics, t), p), (m.clone(), *e)))
                .collect(),
            subscribed_topics: self
                .subscribed
                .iter()
                .map(|(n, &(_, p))| (n.clone(), p))
                .collect(),
        }
    }

    // ---- timers -------------------------------------------------------------------------

    /// The earliest armed timer: `(at, member id, is_rebalance_timer)`.
    pub(crate) fn next_timer(&self) -> Option<(u64, String, bool)> {
        let mut best: Option<(u64, String, bool)> = None;
        for m in self.members.values() {
            let timers = [
                m.session_deadline.map(|at| (at, false)),
                m.rebalance_deadline.map(|(at, _)| (at, true)),
            ];
            for (at, rebalance) in timers.into_iter().flatten() {
                if best.as_ref().is_none_or(|(b, _, _)| at < *b) {
                    best = Some((at, m.id.clone(), rebalance));
                }
            }
        }
        best
    }

    pub(crate) fn on_session_expiry(&mut self, env: &Env, member_id: &str) {
        if let Some(m) = self.members.get_mut(member_id) {
            m.session_deadline = None;
            self.remove_member(env, member_id, Removal::Session);
        }
    }

    pub(crate) fn on_rebalance_timeout(&mut self, env: &Env, member_id: &str) {
        let Some(m) = self.members.get_mut(member_id) else {
            return;
        };
        let Some((_, epoch)) = m.rebalance_deadline.take() else {
            return;
        };
        if m.state == ConsumerMemberState::UnrevokedPartitions && m.epoch == epoch {
            self.remove_member(env, member_id, Removal::Rebalance);
        }
    }

    // ---- membership ---------------------------------------------------------------------

    fn bump(&mut self, env: &Env, reason: String) {
        self.group_epoch += 1;
        self.epoch_log.push((env.now, self.group_epoch, reason));
    }

    fn release_all(&mut self, member_id: &str) {
        self.owners.retain(|_, (m, _)| m != member_id);
    }

    /// Re-records the partition epochs of `member_id` from its assigned and revoking sets.
    fn record_owner(&mut self, member_id: &str) {
        self.release_all(member_id);
        if let Some(m) = self.members.get(member_id) {
            for tp in m.assigned.iter().chain(&m.revoking) {
                self.owners.insert(*tp, (m.id.clone(), m.epoch));
            }
        }
    }

    fn remove_member(&mut self, env: &Env, member_id: &str, why: Removal) {
        let Some(m) = self.members.remove(member_id) else {
            return;
        };
        if let Some(inst) = &m.instance_id {
            if self
                .static_members
                .get(inst)
                .is_some_and(|id| id == member_id)
            {
                self.static_members.remove(inst);
            }
        }
        self.release_all(member_id);
        self.target.remove(member_id);
        let what = match why {
            Removal::Leave => "left",
            Removal::Session => "session timeout",
            Removal::Rebalance => "rebalance timeout while revoking",
        };
        self.bump(env, format!("member {member_id}: {what}"));
    }

    /// Recomputes the subscription metadata; whether it changed.
    fn refresh_subscriptions(&mut self, topics: &BTreeMap<String, Topic>) -> bool {
        let mut now: BTreeMap<String, (Uuid, i32)> = BTreeMap::new();
        for m in self.members.values() {
            for (n, t) in m.subscribed(topics) {
                now.insert(n.to_owned(), (t.id, t.partitions));
            }
        }
        let changed = now != self.subscribed;
        self.subscribed = now;
        changed
    }

    /// Topics were created or resized: bump the group epoch if subscribed ones changed.
    pub(crate) fn on_topics_changed(&mut self, env: &Env, topics: &BTreeMap<String, Topic>) {
        if self.refresh_subscriptions(topics) {
            self.bump(env, "subscribed topic metadata changed".to_owned());
        }
    }

    fn preferred_assignor(&self) -> String {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(a) = &m.assignor {
                *votes.entry(a.as_str()).or_default() += 1;
            }
        }
        let mut best: Option<(&str, usize)> = None;
        for (a, n) in votes {
            if best.is_none_or(|(_, b)| n > b) {
                best = Some((a, n));
            }
        }
        best.map_or(SERVER_ASSIGNORS[0], |(a, _)| a).to_owned()
    }

    fn compute_target(&mut self, topics: &BTreeMap<String, Topic>) {
        let assignor = self.preferred_assignor();
        let subs: Vec<(String, BTreeSet<Uuid>)> = self
            .members
            .values()
            .map(|m| {
                let ids = m.subscribed(topics).into_iter().map(|(_, t)| t.id);
                (m.id.clone(), ids.collect())
            })
            .collect();
        // Topics in name order, with their partition counts.
        let parts: Vec<(Uuid, i32)> = topics.values().map(|t| (t.id, t.partitions)).collect();
        self.target = if assignor == "range" {
            assign_range(&subs, &parts)
        } else {
            assign_uniform(&subs, &parts, &self.target)
        };
        self.target_epoch = self.group_epoch;
        self.assignor = assignor;
    }

    // ---- ConsumerGroupHeartbeat ---------------------------------------------------------

    /// Handles a validated heartbeat. Returns the response or an error for the member.
    pub(crate) fn heartbeat(
        &mut self,
        env: &mut Env,
        topics: &BTreeMap<String, Topic>,
        client_id: &str,
        req: &ConsumerGroupHeartbeatRequest,
        pattern: Option<Option<Pattern>>,
    ) -> Result<ConsumerGroupHeartbeatResponse, HbError> {
        let result = self.heartbeat_inner(env, topics, client_id, req, pattern);
        if result.is_err() {
            if let Some(m) = self.members.get_mut(&*req.member_id) {
                m.last_sent = None;
            }
        }
        result
    }

    fn check_instance(&self, member_id: &str, instance: Option<&str>) -> Result<(), HbError> {
        match instance.map(|i| (i, self.static_members.get(i))) {
            None => Ok(()),
            Some((i, None)) => err(
                ErrorCode::UNKNOWN_MEMBER_ID,
                format!("instance id {i} is unknown"),
            ),
            Some((i, Some(cur))) if cur != member_id => err(
                ErrorCode::FENCED_INSTANCE_ID,
                format!("instance id {i} belongs to member {cur}"),
            ),
            Some(_) => Ok(()),
        }
    }

    fn heartbeat_inner(
        &mut self,
        env: &mut Env,
        topics: &BTreeMap<String, Topic>,
        client_id: &str,
        req: &ConsumerGroupHeartbeatRequest,
        pattern: Option<Option<Pattern>>,
    ) -> Result<ConsumerGroupHeartbeatResponse, HbError> {
        let epoch = req.member_epoch;
        let instance = req.instance_id.as_deref();
        let session = env.cfg.consumer_session_timeout_ms;
        if epoch < 0 {
            return self.leave(env, req);
        }
        let owned: Option<BTreeSet<Tp>> = req.topic_partitions.as_ref().map(|tps| {
            tps.iter()
                .flat_map(|t| t.partitions.iter().map(move |p| (t.topic_id, p)))
                .collect()
        });
        let mut bump_reason: Option<String> = None;
        let member_id: String;
        if epoch == 0 {
            let requested = req.member_id.to_string();
            match instance.map(|i| (i, self.static_members.get(i).cloned())) {
                Some((inst, Some(old_id))) => {
                    let old_epoch = self.members.get(&old_id).map_or(-2, |m| m.epoch);
                    if old_epoch != -2 {
                        return err(
                            ErrorCode::UNRELEASED_INSTANCE_ID,
                            format!("instance id {inst} is still held by member {old_id}"),
                        );
                    }
                    member_id = if requested.is_empty() {
                        env.new_member_id(client_id)
                    } else {
                        requested
                    };
                    self.replace_static(&old_id, &member_id, client_id);
                }
                Some((inst, None)) => {
                    member_id = if requested.is_empty() {
                        env.new_member_id(client_id)
                    } else {
                        requested
                    };
                    if !self.members.contains_key(&member_id) {
                        self.admit(env, &member_id, client_id)?;
                        bump_reason = Some(format!("member {member_id} joined"));
                    }
                    self.static_members
                        .insert(inst.to_owned(), member_id.clone());
                    if let Some(m) = self.members.get_mut(&member_id) {
                        m.instance_id = Some(inst.to_owned());
                    }
                }
                None => {
                    member_id = if requested.is_empty() {
                        env.new_member_id(client_id)
                    } else {
                        requested
                    };
                    if !self.members.contains_key(&member_id) {
                        self.admit(env, &member_id, client_id)?;
                        bump_reason = Some(format!("member {member_id} joined"));
                    }
                }
            }
        } else {
            member_id = req.member_id.to_string();
            let Some(m) = self.members.get(&member_id) else {
                return err(
                    ErrorCode::UNKNOWN_MEMBER_ID,
                    format!("member {member_id} is not in group {}", self.id),
                );
            };
            let known = m.epoch;
            let tolerated = epoch == m.previous_epoch
                && owned.as_ref().is_some_and(|o| o.is_subset(&m.assigned));
            self.check_instance(&member_id, instance)?;
            if epoch > known || (epoch < known && !tolerated) {
                return err(
                    ErrorCode::FENCED_MEMBER_EPOCH,
                    format!("member epoch {epoch}, the coordinator has {known}"),
                );
            }
        }

        // Update the member's subscription and settings.
        let Some(m) = self.members.get_mut(&member_id) else {
            return err(ErrorCode::UNKNOWN_MEMBER_ID, "member vanished");
        };
        let before = m.assigned.clone();
        client_id.clone_into(&mut m.client_id);
        if req.rebalance_timeout_ms >= 0 {
            m.rebalance_timeout_ms = u64::try_from(req.rebalance_timeout_ms).unwrap_or(0);
        }
        let mut changed = false;
        if let Some(names) = &req.subscribed_topic_names {
            let names: BTreeSet<String> = names.iter().map(ToString::to_string).collect();
            changed |= names != m.names;
            m.names = names;
        }
        if let Some(p) = pattern {
            let old = m.regex.as_ref().map(|p| p.source.as_str());
            changed |= old != p.as_ref().map(|p| p.source.as_str());
            m.regex = p;
        }
        if let Some(a) = &req.server_assignor {
            let a = Some(a.to_string());
            changed |= a != m.assignor;
            m.assignor = a;
        }
        if let Some(r) = &req.rack_id {
            let r = Some(r.to_string());
            changed |= r != m.rack_id;
            m.rack_id = r;
        }
        if changed && bump_reason.is_none() {
            bump_reason = Some(format!("member {member_id} changed its subscription"));
        }
        // One bump per heartbeat at most. A metadata change (e.g. the last subscriber of a
        // topic left) needs none while a bump is still waiting for its target assignment.
        let metadata_changed = self.refresh_subscriptions(topics);
        if bump_reason.is_none() && metadata_changed && self.group_epoch == self.target_epoch {
            bump_reason = Some("subscribed topic metadata changed".to_owned());
        }
        if let Some(reason) = bump_reason {
            self.bump(env, reason);
        }
        if self.group_epoch > self.target_epoch {
            self.compute_target(topics);
        }
        self.reconcile(env, &member_id, owned.as_ref());

        let full = epoch == 0
            || (req.rebalance_timeout_ms != -1
                && req.subscribed_topic_names.is_some()
                && req.topic_partitions.is_some());
        let Some(m) = self.members.get_mut(&member_id) else {
            return err(ErrorCode::UNKNOWN_MEMBER_ID, "member vanished");
        };
        m.session_deadline = Some(env.now + session);
        let send = full || m.assigned != before || m.last_sent.as_ref() != Some(&m.assigned);
        if send {
            m.last_sent = Some(m.assigned.clone());
        }
        Ok(ConsumerGroupHeartbeatResponse {
            member_id: Some(m.id.as_str().into()),
            member_epoch: m.epoch,
            heartbeat_interval_ms: i32::try_from(env.cfg.consumer_heartbeat_interval_ms)
                .unwrap_or(i32::MAX),
            assignment: send.then(|| to_wire(&m.assigned)),
            ..Default::default()
        })
    }

    /// Adds a new dynamic member, or fails with GROUP_MAX_SIZE_REACHED.
    fn admit(&mut self, env: &Env, member_id: &str, client_id: &str) -> Result<(), HbError> {
        if self.members.len() >= env.cfg.group_max_size {
            return err(
                ErrorCode::GROUP_MAX_SIZE_REACHED,
                format!("group {} is full", self.id),
            );
        }
        let m = CMember::new(member_id.to_owned(), client_id.to_owned());
        self.members.insert(member_id.to_owned(), m);
        Ok(())
    }

    /// A static member rejoins after its -2 leave: the new member id takes over the old
    /// member's assignment, target and partition epochs; the group epoch stays.
    fn replace_static(&mut self, old_id: &str, new_id: &str, client_id: &str) {
        let Some(old) = self.members.remove(old_id) else {
            return;
        };
        let mut m = CMember::new(new_id.to_owned(), client_id.to_owned());
        m.instance_id.clone_from(&old.instance_id);
        m.rack_id.clone_from(&old.rack_id);
        m.names.clone_from(&old.names);
        m.regex.clone_from(&old.regex);
        m.assignor.clone_from(&old.assignor);
        m.rebalance_timeout_ms = old.rebalance_timeout_ms;
        m.assigned.clone_from(&old.assigned);
        self.release_all(old_id);
        if let Some(t) = self.target.remove(old_id) {
            self.target.insert(new_id.to_owned(), t);
        }
        if let Some(inst) = &old.instance_id {
            self.static_members.insert(inst.clone(), new_id.to_owned());
        }
        self.members.insert(new_id.to_owned(), m);
        self.record_owner(new_id);
    }

    fn leave(
        &mut self,
        env: &Env,
        req: &ConsumerGroupHeartbeatRequest,
    ) -> Result<ConsumerGroupHeartbeatResponse, HbError> {
        let member_id = req.member_id.to_string();
        let instance = req.instance_id.as_deref();
        self.check_instance(&member_id, instance)?;
        if !self.members.contains_key(&member_id) {
            return err(
                ErrorCode::UNKNOWN_MEMBER_ID,
                format!("member {member_id} is not in group {}", self.id),
            );
        }
        let epoch = req.member_epoch;
        if epoch == -2 {
            let session = env.cfg.consumer_session_timeout_ms;
            if let Some(m) = self.members.get_mut(&member_id) {
                m.set_epoch(-2);
                m.revoking.clear();
                m.state = ConsumerMemberState::Stable;
                m.rebalance_deadline = None;
                m.session_deadline = Some(env.now + session);
                m.last_sent = None;
            }
            self.record_owner(&member_id);
        } else {
            self.remove_member(env, &member_id, Removal::Leave);
        }
        Ok(ConsumerGroupHeartbeatResponse {
            member_id: Some(member_id.as_str().into()),
            member_epoch: epoch,
            heartbeat_interval_ms: 0,
            ..Default::default()
        })
    }

    /// `CurrentAssignmentBuilder`: moves the member towards its target.
    fn reconcile(&mut self, env: &Env, member_id: &str, owned: Option<&BTreeSet<Tp>>) {
        let empty = BTreeSet::new();
        let target = self.target.get(member_id).unwrap_or(&empty);
        let target_epoch = self.target_epoch;
        let Some(m) = self.members.get(member_id) else {
            return;
        };
        // Whether the member still owns any of `set` (unknown ownership counts as owning).
        let owns_any = |set: &BTreeSet<Tp>| owned.is_none_or(|o| !o.is_disjoint(set));
        let next = match m.state {
            ConsumerMemberState::Stable if m.epoch == target_epoch => None,
            ConsumerMemberState::UnrevokedPartitions if owns_any(&m.revoking) => None,
            _ => Some(()),
        };
        if next.is_none() {
            return;
        }
        let kept: BTreeSet<Tp> = m.assigned.intersection(target).copied().collect();
        let revoke: BTreeSet<Tp> = m.assigned.difference(target).copied().collect();
        let mut unreleased = false;
        let mut free: BTreeSet<Tp> = BTreeSet::new();
        for tp in target.difference(&m.assigned) {
            match self.owners.get(tp) {
                // Still owned by someone (possibly this member, revoking it): wait.
                Some(_) => unreleased = true,
                None => {
                    free.insert(*tp);
                }
            }
        }
        let old_state = m.state;
        let old_epoch = m.epoch;
        let rebalance_timeout = m.rebalance_timeout_ms;
        let Some(m) = self.members.get_mut(member_id) else {
            return;
        };
        if !revoke.is_empty() && owns_any(&revoke) {
            m.assigned = kept;
            m.revoking = revoke;
            m.state = ConsumerMemberState::UnrevokedPartitions;
        } else {
            let mut assigned = kept;
            assigned.extend(free);
            m.assigned = assigned;
            m.revoking.clear();
            m.set_epoch(target_epoch);
            m.state = if unreleased {
                ConsumerMemberState::UnreleasedPartitions
            } else {
                ConsumerMemberState::Stable
            };
        }
        if m.state == ConsumerMemberState::UnrevokedPartitions {
            let fresh = old_state != ConsumerMemberState::UnrevokedPartitions
                || old_epoch != m.epoch
                || m.rebalance_deadline.is_none();
            if fresh {
                m.rebalance_deadline = Some((env.now + rebalance_timeout, m.epoch));
            }
        } else {
            m.rebalance_deadline = None;
        }
        self.record_owner(member_id);
    }

    // ---- offsets ------------------------------------------------------------------------

    /// `ConsumerGroup.validateOffsetCommit`.
    pub(crate) fn validate_commit(
        &self,
        version: i16,
        member_id: &str,
        epoch: i32,
    ) -> Result<(), ErrorCode> {
        if epoch < 0 && self.members.is_empty() {
            return Ok(());
        }
        let Some(m) = self.members.get(member_id) else {
            return Err(ErrorCode::UNKNOWN_MEMBER_ID);
        };
        if version < 9 {
            return Err(ErrorCode::UNSUPPORTED_VERSION);
        }
        if epoch != m.epoch {
            return Err(ErrorCode::STALE_MEMBER_EPOCH);
        }
        Ok(())
    }

    /// `ConsumerGroup.validateOffsetFetch` (OffsetFetch v9+ member fields).
    pub(crate) fn validate_fetch(&self, member_id: Option<&str>, epoch: i32) -> Option<ErrorCode> {
        if epoch == -1 {
            return None;
        }
        match self.members.get(member_id.unwrap_or_default()) {
            None => Some(ErrorCode::UNKNOWN_MEMBER_ID),
            Some(m) if m.epoch != epoch => Some(ErrorCode::STALE_MEMBER_EPOCH),
            Some(_) => None,
        }
    }
}

/// Request checks (`throwIfConsumerGroupHeartbeatRequestIsInvalid`), the assignor name and
/// the regex. Returns the compiled regex: `None` = unchanged, `Some(None)` = cleared.
pub(crate) fn validate(
    version: i16,
    req: &ConsumerGroupHeartbeatRequest,
) -> Result<Option<Option<Pattern>>, HbError> {
    let invalid = |msg: &str| err(ErrorCode::INVALID_REQUEST, msg);
    if req.group_id.is_empty() {
        return invalid("GroupId can't be empty.");
    }
    if version >= 1 && req.member_id.is_empty() {
        return invalid("MemberId can't be empty.");
    }
    if req.instance_id.as_deref() == Some("") {
        return invalid("InstanceId can't be empty.");
    }
    if req.rack_id.as_deref() == Some("") {
        return invalid("RackId can't be empty.");
    }
    let names_given = req
        .subscribed_topic_names
        .as_ref()
        .is_some_and(|n| !n.is_empty());
    let regex_given = req
        .subscribed_topic_regex
        .as_deref()
        .is_some_and(|r| !r.is_empty());
    match req.member_epoch {
        0 => {
            if req.rebalance_timeout_ms < 0 {
                return invalid("RebalanceTimeoutMs must be provided in first request.");
            }
            if req.topic_partitions.as_ref().is_some_and(|t| !t.is_empty()) {
                return invalid("TopicPartitions must be empty when (re-)joining.");
            }
            if !names_given && !regex_given {
                return invalid(
                    "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.",
                );
            }
        }
        e if e > 0 || e == -1 => {
            if req.member_id.is_empty() {
                return invalid("MemberId can't be empty.");
            }
        }
        -2 => {
            if req.member_id.is_empty() {
                return invalid("MemberId can't be empty.");
            }
            if req.instance_id.is_none() {
                return invalid("InstanceId can't be null.");
            }
        }
        e => return invalid(&format!("MemberEpoch is invalid: {e}.")),
    }
    if let Some(a) = req.server_assignor.as_deref() {
        if !SERVER_ASSIGNORS.contains(&a) {
            return err(
                ErrorCode::UNSUPPORTED_ASSIGNOR,
                format!("ServerAssignor {a} is not supported (uniform, range)."),
            );
        }
    }
    match req.subscribed_topic_regex.as_deref() {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(r) => Pattern::new(r).map(|p| Some(Some(p))),
    }
}

/// The error answer to a heartbeat.
pub(crate) fn error_response(e: &HbError) -> ConsumerGroupHeartbeatResponse {
    ConsumerGroupHeartbeatResponse {
        error_code: e.0.0,
        error_message: Some(e.1.as_str().into()),
        ..Default::default()
    }
}

/// `range`: per topic, subscribers in member-id order get contiguous ranges, the first
/// `partitions % subscribers` one partition more.
fn assign_range(
    subs: &[(String, BTreeSet<Uuid>)],
    topics: &[(Uuid, i32)],
) -> BTreeMap<String, BTreeSet<Tp>> {
    let mut out: BTreeMap<String, BTreeSet<Tp>> = subs
        .iter()
        .map(|(m, _)| (m.clone(), BTreeSet::new()))
        .collect();
    for &(t, n) in topics {
        let members: Vec<&String> = subs
            .iter()
            .filter(|(_, s)| s.contains(&t))
            .map(|(m, _)| m)
            .collect();
        let Ok(k) = i32::try_from(members.len()) else {
            continue;
        };
        if k == 0 {
            continue;
        }
        let (each, extra) = (n / k, n % k);
        let mut start = 0;
        for (j, m) in (0..).zip(members) {
            let len = each + i32::from(j < extra);
            if let Some(set) = out.get_mut(m) {
                set.extend((start..start + len).map(|p| (t, p)));
            }
            start += len;
        }
    }
    out
}

/// `uniform`: keeps every partition with its previous target owner while that owner still
/// subscribes to it, gives the rest to the least loaded eligible member, then moves
/// partitions from the most to the least loaded eligible member until no move narrows the
/// gap (with one subscription for all: counts differ by at most one).
fn assign_uniform(
    subs: &[(String, BTreeSet<Uuid>)],
    topics: &[(Uuid, i32)],
    previous: &BTreeMap<String, BTreeSet<Tp>>,
) -> BTreeMap<String, BTreeSet<Tp>> {
    let n = subs.len();
    let mut sets: Vec<BTreeSet<Tp>> = vec![BTreeSet::new(); n];
    let count: BTreeMap<Uuid, i32> = topics.iter().copied().collect();
    let eligible = |i: usize, tp: &Tp| subs[i].1.contains(&tp.0);
    let mut taken: BTreeSet<Tp> = BTreeSet::new();
    for (i, (m, _)) in subs.iter().enumerate() {
        for tp in previous.get(m).into_iter().flatten() {
            let exists = count.get(&tp.0).is_some_and(|&c| tp.1 < c);
            if exists && eligible(i, tp) && taken.insert(*tp) {
                sets[i].insert(*tp);
            }
        }
    }
    for &(t, c) in topics {
        for p in 0..c {
            let tp = (t, p);
            if taken.contains(&tp) {
                continue;
            }
            let best = (0..n)
                .filter(|&i| eligible(i, &tp))
                .min_by_key(|&i| (sets[i].len(), i));
            if let Some(i) = best {
                sets[i].insert(tp);
                taken.insert(tp);
            }
        }
    }
    // Each move lowers the sum of squared counts, so this ends; the cap is a guard.
    let total: usize = sets.iter().map(BTreeSet::len).sum();
    for _ in 0..=total.saturating_mul(n) {
        let mut best: Option<(usize, usize, usize, Tp)> = None;
        for h in 0..n {
            for tp in sets[h].iter().rev() {
                for l in 0..n {
                    if l == h || !eligible(l, tp) || sets[l].len() + 1 >= sets[h].len() {
                        continue;
                    }
                    let gap = sets[h].len() - sets[l].len();
                    if best.is_none_or(|(g, _, _, _)| gap > g) {
                        best = Some((gap, h, l, *tp));
                    }
                }
            }
        }
        let Some((_, h, l, tp)) = best else {
            break;
        };
        sets[h].remove(&tp);
        sets[l].insert(tp);
    }
    subs.iter().map(|(m, _)| m.clone()).zip(sets).collect()
}

impl Coordinator {
    /// One ConsumerGroupHeartbeat (after the broker's coordinator-level checks).
    ///
    /// A group id held by a classic group with members answers GROUP_ID_NOT_FOUND (Kafka's
    /// answer when the classic group cannot be converted); an empty classic group is taken
    /// over by a joining member, its committed offsets kept.
    pub(crate) fn consumer_heartbeat(
        &mut self,
        topics: &BTreeMap<String, Topic>,
        version: i16,
        client_id: &str,
        req: &ConsumerGroupHeartbeatRequest,
    ) -> ConsumerGroupHeartbeatResponse {
        let pattern = match validate(version, req) {
            Ok(p) => p,
            Err(e) => return error_response(&e),
        };
        let group_id = req.group_id.to_string();
        if let Some(classic) = self.groups.get(&group_id) {
            if !classic.is_empty() {
                return error_response(&(
                    ErrorCode::GROUP_ID_NOT_FOUND,
                    format!("group {group_id} is a classic group with members"),
                ));
            }
            if req.member_epoch != 0 {
                return error_response(&(
                    ErrorCode::UNKNOWN_MEMBER_ID,
                    format!("group {group_id} has no consumer-protocol members"),
                ));
            }
            let mut g = ConsumerGroup::new(&group_id);
            if let Some(old) = self.groups.remove(&group_id) {
                g.offsets = old.offsets;
            }
            self.consumer.insert(group_id.clone(), g);
        }
        if !self.consumer.contains_key(&group_id) {
            if req.member_epoch != 0 {
                return error_response(&(
                    ErrorCode::UNKNOWN_MEMBER_ID,
                    format!("group {group_id} does not exist"),
                ));
            }
            self.consumer
                .insert(group_id.clone(), ConsumerGroup::new(&group_id));
        }
        let env = &mut self.env;
        match self.consumer.get_mut(&group_id) {
            Some(g) => match g.heartbeat(env, topics, client_id, req, pattern) {
                Ok(r) => r,
                Err(e) => error_response(&e),
            },
            None => error_response(&(ErrorCode::UNKNOWN_MEMBER_ID, String::new())),
        }
    }

    /// Before a classic JoinGroup: a consumer group with members rejects it with
    /// INCONSISTENT_GROUP_PROTOCOL; an empty one becomes a classic group (offsets kept).
    pub(crate) fn classic_join_conflict(&mut self, group_id: &str) -> Option<ErrorCode> {
        let g = self.consumer.get(group_id)?;
        if !g.is_empty() {
            return Some(ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
        }
        let g = self.consumer.remove(group_id)?;
        let mut classic = Group::new(group_id, self.env.now, "converted from a consumer group");
        classic.offsets = g.offsets;
        self.groups.insert(group_id.to_owned(), classic);
        None
    }

    /// Whether `group_id` is a consumer (KIP-848) group.
    pub(crate) fn is_consumer_group(&self, group_id: &str) -> bool {
        self.consumer.contains_key(group_id)
    }

    /// Topic metadata changed: bump the epoch of every group whose subscribed topics changed.
    pub(crate) fn topics_changed(&mut self, topics: &BTreeMap<String, Topic>) {
        for g in self.consumer.values_mut() {
            g.on_topics_changed(&self.env, topics);
        }
    }

    /// Committed offsets of a group of either kind.
    pub(crate) fn offsets_of(&self, group_id: &str) -> Option<&BTreeMap<(String, i32), Committed>> {
        self.groups
            .get(group_id)
            .map(|g| &g.offsets)
            .or_else(|| self.consumer.get(group_id).map(|g| &g.offsets))
    }
}
