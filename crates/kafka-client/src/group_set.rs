//! Many consumer groups in one client, over shared connections.
//!
//! A [`GroupSet`] drives any number of group members (different group ids, the same or
//! different topics, classic or KIP-848 protocol), each with its own fetcher, over one
//! [`Net`]: one ordinary connection per broker for everything that is answered promptly
//! (heartbeats, commits, OffsetFetch, ListOffsets, Metadata, FindCoordinator, KIP-848
//! heartbeats), pipelined, with correlation ids routed back to the group that asked.
//!
//! # Lanes: why no heartbeat waits behind a held request
//!
//! A broker serves one request per connection at a time. A classic JoinGroup is parked by the
//! coordinator until every member has rejoined (up to the rebalance timeout), a SyncGroup until
//! the leader's assignment arrives, a Fetch until `min_bytes` arrive or `max_wait` passes. On a
//! shared connection, every request behind them waits too: other groups' heartbeats stall,
//! their sessions expire, they rebalance, and their own JoinGroups then block the first group.
//! With [`LanePolicy::Separate`] (the default):
//!
//! * held requests (the ones group-fsm marks with `held_for`) go on a **held lane** of the
//!   coordinator: the first idle one, else a new one while fewer than `max_held_lanes` are
//!   open to that broker, else the least loaded one (they then queue behind another group's
//!   held request, never in front of a heartbeat); extra held lanes are closed as soon as they
//!   are idle. By default the bound is out of reach, so a held request never waits locally:
//!   a classic member whose JoinGroup waits in a local queue is not alive for its coordinator
//!   (its join has not arrived and it sends no heartbeat meanwhile), and two processes whose
//!   queued joins wait on each other's parked ones only untangle when sessions expire (the
//!   many-groups benchmark lost 33 members at 1,000 groups with 8 lanes);
//! * Fetch requests go on the broker's **fetch lane** (`fetch_lane`), so a long poll delays
//!   no heartbeat either;
//! * everything else goes on the ordinary connection, which therefore never carries a request
//!   the broker may hold.
//!
//! [`LanePolicy::Single`] puts everything on the ordinary connection: the naive way, kept so
//! that tests and benchmarks can show what it breaks.
//!
//! # Shared fetches
//!
//! With [`GroupSetConfig::share_fetches`], at most one Fetch is in flight per broker for the
//! whole set. The fetch requests the groups' fetchers want for a broker are merged into one
//! when they agree: same version and request-level settings, and every partition they have in
//! common asked for at the same position (each group keeps its own position and commits its
//! own offsets; groups caught up on the same partitions sit at the same positions, which is
//! the case this serves). A request that disagrees with the merged one waits for the next
//! round. The response is split back: each group's fetcher gets exactly the partitions it
//! asked for, sharing the record bytes (no copy). [`GroupSet::stats`] counts what was saved.
//!
//! # Run loop
//!
//! The same as [`Consumer`](crate::Consumer)'s (which is a `GroupSet` of one group): execute
//! every [`Io`] from [`poll_io`](GroupSet::poll_io), report socket activity with
//! [`handle_io`](GroupSet::handle_io), call [`handle_timeout`](GroupSet::handle_timeout) when
//! [`poll_timeout`](GroupSet::poll_timeout) passes, and hand
//! [`poll_event`](GroupSet::poll_event)'s events (each with its group) to the app.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use group_fsm::assignor::Assignor;
use group_fsm::{Action, Destination, Event, Input, Instant, Member, Offset, RequestId};
use group_fsm::{Config as GroupConfig, TransportError};
use kafka_wire::generated::fetch_request::FetchRequest;
use kafka_wire::generated::fetch_response::{FetchResponse, FetchableTopicResponse};
use kafka_wire::generated::metadata_request::{MetadataRequest, MetadataRequestTopic};
use kafka_wire::{AnyRequest, AnyResponse, ByteString, Uuid};

use crate::consumer::ConsumerEvent;
use crate::fetch::{
    FETCH_TOPIC_ID_VERSION, FetchConfig, FetchEvent, FetchRequestId, FetchSend, Fetcher,
};
use crate::net::{
    Io, IoEvent, Lane, Net, NetConfig, NetError, NetEvent, NetRequest, Route, Tag, Version,
};

/// A group in a [`GroupSet`], as returned by [`GroupSet::add_group`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupHandle(pub u32);

/// How a [`GroupSet`] places requests on a broker's connections (see the
/// [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LanePolicy {
    /// Held requests on held lanes, fetches on the fetch lane (if `fetch_lane`), the rest on
    /// the ordinary connection.
    Separate {
        /// Held lanes per broker at most (at least 1). Beyond it held requests queue locally,
        /// and a classic member whose JoinGroup waits here longer than its session timeout is
        /// removed by the coordinator: keep it at least the number of classic groups that may
        /// rebalance at once.
        max_held_lanes: u16,
        /// Fetch requests on their own connection per broker (else on the ordinary one).
        fetch_lane: bool,
    },
    /// Everything on the ordinary connection (the naive way: head-of-line blocking).
    Single,
}

impl Default for LanePolicy {
    /// Held lanes without a practical bound (one per held request in flight: a held request
    /// never waits locally, see the [module docs](self)) and a fetch lane.
    fn default() -> Self {
        Self::Separate {
            max_held_lanes: u16::MAX,
            fetch_lane: true,
        }
    }
}

/// Configuration of a [`GroupSet`].
#[derive(Debug, Clone)]
pub struct GroupSetConfig {
    /// Connections.
    pub net: NetConfig,
    /// Request placement.
    pub lanes: LanePolicy,
    /// Merge the groups' Fetch requests to the same broker (see the [module docs](self)).
    pub share_fetches: bool,
}

impl GroupSetConfig {
    /// The defaults ([`LanePolicy::default`], shared fetches) for these connections.
    #[must_use]
    pub fn new(net: NetConfig) -> Self {
        Self {
            net,
            lanes: LanePolicy::default(),
            share_fetches: true,
        }
    }
}

/// One group for [`GroupSet::add_group`].
pub struct GroupSpec {
    /// The member's configuration (its `group_id` names the group).
    pub group: GroupConfig,
    /// Topics to subscribe to.
    pub topics: Vec<String>,
    /// Fetching.
    pub fetch: FetchConfig,
    /// Assignors offered (classic protocol).
    pub assignors: Vec<Box<dyn Assignor>>,
}

impl core::fmt::Debug for GroupSpec {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GroupSpec")
            .field("group_id", &self.group.group_id)
            .field("topics", &self.topics)
            .finish_non_exhaustive()
    }
}

/// Counters of a [`GroupSet`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupSetStats {
    /// Fetch requests the groups' fetchers asked for.
    pub fetches_wanted: u64,
    /// Fetch requests sent to brokers (fewer than wanted when shared).
    pub fetches_sent: u64,
    /// Partition entries the fetchers asked for.
    pub fetch_partitions_wanted: u64,
    /// Partition entries sent (a partition shared by several groups is sent once).
    pub fetch_partitions_sent: u64,
    /// Record bytes received in Fetch responses.
    pub fetch_bytes_received: u64,
    /// Record bytes handed to the groups' fetchers (what unshared fetches would have carried).
    pub fetch_bytes_delivered: u64,
    /// Held requests that had to queue behind another held request (all lanes busy).
    pub held_queued: u64,
    /// Extra held lanes opened.
    pub held_lanes_opened: u64,
}

#[derive(Debug, Clone, Copy)]
enum Owner {
    Member(RequestId),
    /// A ListOffsets, or a Fetch not shared.
    Fetch(FetchRequestId),
    /// A merged Fetch (its parts are in `GroupSet::batches`).
    SharedFetch,
    Metadata,
    /// The bootstrap Metadata request.
    Kick,
}

/// How often the app's liveness and positions reach a member.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// One group's member and fetcher.
struct Slot {
    member: Member,
    fetcher: Fetcher,
    topics: Vec<String>,
    auto_commit: bool,
    /// Records were handed out since the member last got the positions.
    positions_dirty: bool,
    last_poll: Option<Instant>,
    metadata_in_flight: bool,
    /// The fetcher asked for fresh metadata.
    want_metadata: bool,
    /// The app drained the fetcher's records: it may fetch again (at the next timeout call).
    needs_pump: bool,
    /// Records were handed out since the fetcher's queue was last found empty.
    delivered: bool,
    /// The member was given versions and its subscription.
    started: bool,
    closed: bool,
}

/// A fetch request of one group waiting for its broker's merged fetch.
struct FetchWait {
    group: u32,
    send: FetchSend,
}

/// The partitions (by topic key) one fetch asked for.
type Wanted = BTreeSet<(TopicKey, i32)>;

/// Which partitions of a merged fetch each group asked for.
struct Batch {
    node: i32,
    version: i16,
    parts: Vec<(u32, FetchRequestId, Wanted)>,
}

/// A topic in a Fetch: by id from v13, by name before.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum TopicKey {
    Name(ByteString),
    Id(Uuid),
}

/// The group set. See the [module docs](self).
pub struct GroupSet {
    net: Net,
    lanes: LanePolicy,
    share_fetches: bool,
    /// Boxed: a slot is large (about 1.5 KB inline, mostly the member), and a B-tree node
    /// holds room for 11 values, so unboxed slots cost about twice their size in half-full
    /// nodes.
    slots: BTreeMap<u32, Box<Slot>>,
    next_group: u32,
    owners: BTreeMap<Tag, (u32, Owner)>,
    next_tag: u64,
    kicked: bool,
    /// Some connection negotiated versions: groups can start.
    negotiated: bool,
    waiting_fetches: BTreeMap<i32, Vec<FetchWait>>,
    /// Merged fetches in flight, by tag; `fetching` has their brokers.
    batches: BTreeMap<Tag, Batch>,
    fetching: BTreeSet<i32>,
    /// Extra held lanes open: (broker, lane number).
    extra_lanes: BTreeSet<(i32, u16)>,
    events: VecDeque<(GroupHandle, ConsumerEvent)>,
    /// Groups that got an input since they were last pumped (only they can have new actions
    /// or requests: pumping every group on every event made the set's cost grow with the
    /// square of its size).
    dirty: BTreeSet<u32>,
    /// Where [`poll_event`](Self::poll_event) looks for records first.
    cursor: u32,
    stats: GroupSetStats,
}

impl core::fmt::Debug for GroupSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GroupSet")
            .field("net", &self.net)
            .field("groups", &self.slots.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl GroupSet {
    /// A set with no group yet; it connects to the bootstrap brokers on the first call to
    /// [`handle_timeout`](Self::handle_timeout) after a group is added.
    #[must_use]
    pub fn new(config: GroupSetConfig) -> Self {
        Self {
            net: Net::new(config.net),
            lanes: config.lanes,
            share_fetches: config.share_fetches,
            slots: BTreeMap::new(),
            next_group: 0,
            owners: BTreeMap::new(),
            next_tag: 0,
            kicked: false,
            negotiated: false,
            waiting_fetches: BTreeMap::new(),
            batches: BTreeMap::new(),
            fetching: BTreeSet::new(),
            extra_lanes: BTreeSet::new(),
            events: VecDeque::new(),
            dirty: BTreeSet::new(),
            cursor: 0,
            stats: GroupSetStats::default(),
        }
    }

    /// Adds a group; it joins as soon as a broker has negotiated versions.
    pub fn add_group(&mut self, now: Instant, spec: GroupSpec) -> GroupHandle {
        let GroupSpec {
            group,
            topics,
            fetch,
            assignors,
        } = spec;
        let id = self.next_group;
        self.next_group = self.next_group.wrapping_add(1);
        let auto_commit = group.auto_commit;
        self.slots.insert(
            id,
            Box::new(Slot {
                member: Member::new(group, assignors, now),
                fetcher: Fetcher::new(fetch),
                topics,
                auto_commit,
                positions_dirty: false,
                last_poll: None,
                metadata_in_flight: false,
                want_metadata: false,
                needs_pump: false,
                delivered: false,
                started: false,
                closed: false,
            }),
        );
        if self.negotiated {
            self.start(now, id);
            self.dirty.insert(id);
            self.pump(now);
        }
        GroupHandle(id)
    }

    /// The groups not closed yet.
    pub fn groups(&self) -> impl Iterator<Item = GroupHandle> + '_ {
        self.slots
            .iter()
            .filter(|(_, s)| !s.closed)
            .map(|(&id, _)| GroupHandle(id))
    }

    /// A group's member (read-only), until [`forget`](Self::forget).
    #[must_use]
    pub fn member(&self, group: GroupHandle) -> Option<&Member> {
        self.slots.get(&group.0).map(|s| &s.member)
    }

    /// A group's fetcher (read-only): positions, assignment.
    #[must_use]
    pub fn fetcher(&self, group: GroupHandle) -> Option<&Fetcher> {
        self.slots.get(&group.0).map(|s| &s.fetcher)
    }

    /// The connections (read-only).
    #[must_use]
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// Counters.
    #[must_use]
    pub const fn stats(&self) -> GroupSetStats {
        self.stats
    }

    /// Whether the group reported [`ConsumerEvent::Closed`] or [`ConsumerEvent::Fatal`] (or is
    /// unknown).
    #[must_use]
    pub fn is_closed(&self, group: GroupHandle) -> bool {
        self.slots.get(&group.0).is_none_or(|s| s.closed)
    }

    /// Whether every group is closed (the connections are then closed too).
    #[must_use]
    pub fn all_closed(&self) -> bool {
        self.slots.values().all(|s| s.closed)
    }

    /// Drops a closed group's state (its member and fetcher); a live group is left alone.
    pub fn forget(&mut self, group: GroupHandle) {
        if self.is_closed(group) {
            self.slots.remove(&group.0);
        }
    }

    /// Takes what a socket did.
    pub fn handle_io(&mut self, now: Instant, event: IoEvent) {
        self.net.handle(now, event);
        self.pump(now);
    }

    /// Acts on deadlines at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.kicked && !self.slots.is_empty() {
            self.kicked = true;
            self.kick(now);
        }
        self.net.handle_timeout(now);
        for (&id, slot) in self.slots.iter_mut().filter(|(_, s)| !s.closed) {
            // The member's timers include auto-commit: it must commit what the app has
            // received, however long ago the app last called `poll`.
            slot.sync_positions(now);
            let mut due = slot.needs_pump || slot.want_metadata;
            if slot.member.poll_timeout().is_some_and(|t| t <= now) {
                slot.member.handle_timeout(now);
                due = true;
            }
            if due || slot.fetcher.poll_timeout().is_some_and(|t| t <= now) {
                self.dirty.insert(id);
            }
        }
        self.pump(now);
    }

    /// Commits these offsets of `group` now.
    pub fn commit(&mut self, now: Instant, group: GroupHandle, offsets: Vec<Offset>) {
        if let Some(slot) = self.live(group) {
            slot.member.handle(now, Input::Commit(offsets));
            self.dirty.insert(group.0);
            self.pump(now);
        }
    }

    /// Commits what the app has received so far of `group` (every partition's position);
    /// auto-commit does this on its own interval, on revocation and on close.
    pub fn commit_positions(&mut self, now: Instant, group: GroupHandle) {
        if let Some(slot) = self.live(group) {
            let positions = slot.fetcher.positions();
            slot.member.handle(now, Input::Positions(positions.clone()));
            slot.positions_dirty = false;
            slot.member.handle(now, Input::Commit(positions));
            self.dirty.insert(group.0);
            self.pump(now);
        }
    }

    /// Leaves `group` cleanly: revokes (committing with auto-commit), sends LeaveGroup for
    /// dynamic members, then reports [`ConsumerEvent::Closed`] for it.
    pub fn close_group(&mut self, now: Instant, group: GroupHandle) {
        let Some(slot) = self.live(group) else {
            return;
        };
        if slot.started {
            slot.sync_positions(now);
            slot.member.handle(now, Input::Close);
        } else {
            self.finish(now, group.0, ConsumerEvent::Closed);
        }
        self.dirty.insert(group.0);
        self.pump(now);
    }

    /// Closes every group ([`close_group`](Self::close_group) on each).
    pub fn close(&mut self, now: Instant) {
        let live: Vec<GroupHandle> = self.groups().collect();
        for g in live {
            self.close_group(now, g);
        }
    }

    /// The app is alive (resets `max.poll.interval` of every group); call it whenever it
    /// takes events. Cheap: the members hear of it at most every 100 ms.
    pub fn poll(&mut self, now: Instant) {
        let mut any = false;
        for (&id, slot) in self.slots.iter_mut().filter(|(_, s)| !s.closed) {
            if slot
                .last_poll
                .is_some_and(|t| now.saturating_duration_since(t) < POLL_EVERY)
            {
                continue;
            }
            slot.last_poll = Some(now);
            slot.member.handle(now, Input::Poll);
            slot.sync_positions(now);
            self.dirty.insert(id);
            any = true;
        }
        if any {
            self.pump(now);
        }
    }

    /// The next thing the adapter must do.
    pub fn poll_io(&mut self) -> Option<Io> {
        self.net.poll_io()
    }

    /// The next event for the app, with its group. Records are taken from the fetchers only
    /// when nothing else waits, at the app's pace, one group's buffered records after another.
    pub fn poll_event(&mut self) -> Option<(GroupHandle, ConsumerEvent)> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        let cursor = self.cursor;
        let found = next_record(self.slots.range_mut(cursor..))
            .or_else(|| next_record(self.slots.range_mut(..cursor)));
        let (id, event) = found?;
        self.cursor = id;
        Some((GroupHandle(id), event))
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.kicked && !self.slots.is_empty() {
            return Some(Instant::ZERO);
        }
        let mut earliest = self.net.poll_timeout();
        for slot in self.slots.values().filter(|s| !s.closed) {
            if slot.needs_pump || (slot.want_metadata && !slot.metadata_in_flight && slot.started) {
                return Some(Instant::ZERO);
            }
            for t in [slot.member.poll_timeout(), slot.fetcher.poll_timeout()]
                .into_iter()
                .flatten()
            {
                earliest = Some(earliest.map_or(t, |e| e.min(t)));
            }
        }
        earliest
    }

    // ---------------------------------------------------------------------------------------
    // Internals

    fn live(&mut self, group: GroupHandle) -> Option<&mut Slot> {
        self.slots
            .get_mut(&group.0)
            .map(|s| &mut **s)
            .filter(|s| !s.closed)
    }

    fn tag(&mut self) -> Tag {
        self.next_tag += 1;
        Tag(self.next_tag)
    }

    /// Opens the first connection with a Metadata request for brokers only (no topics; at
    /// v0, where an empty list means every topic, it lists them too); the groups start once a
    /// broker has negotiated versions.
    fn kick(&mut self, now: Instant) {
        let req = MetadataRequest {
            topics: Some(Vec::new()),
            ..Default::default()
        };
        let tag = self.tag();
        self.owners.insert(tag, (u32::MAX, Owner::Kick));
        self.send_any_metadata(now, tag, req);
    }

    fn send_any_metadata(&mut self, now: Instant, tag: Tag, req: MetadataRequest) {
        self.net.send(
            now,
            NetRequest {
                tag,
                route: Route::Any,
                lane: Lane::Ordinary,
                request: AnyRequest::Metadata(req),
                version: Version::Highest,
                timeout: Duration::from_secs(30),
            },
        );
    }

    /// Gives group `id` the negotiated versions and its subscription.
    fn start(&mut self, now: Instant, id: u32) {
        let Some(v) = self.net.any_versions().cloned() else {
            return;
        };
        if let Some(slot) = self.slots.get_mut(&id).filter(|s| !s.started && !s.closed) {
            slot.started = true;
            slot.member.handle(now, Input::Versions(v));
            slot.member
                .handle(now, Input::Subscribe(slot.topics.clone()));
        }
    }

    /// Moves events between the parts until nothing changes.
    fn pump(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(ev) = self.net.poll_event() {
                progressed = true;
                self.on_net(now, ev);
            }
            let ids = core::mem::take(&mut self.dirty);
            for id in ids {
                if self.pump_group(now, id) {
                    // Its actions may have fed it more input: again, until it is quiet.
                    progressed = true;
                    self.dirty.insert(id);
                }
            }
            progressed |= self.flush_fetches(now);
            if !progressed && self.dirty.is_empty() {
                break;
            }
        }
        self.close_idle_extra_lanes();
    }

    /// Moves group `id`'s member actions and fetcher requests to the network; returns whether
    /// anything moved.
    fn pump_group(&mut self, now: Instant, id: u32) -> bool {
        let mut progressed = false;
        let Some(slot) = self.slots.get_mut(&id) else {
            return false;
        };
        slot.needs_pump = false;
        let mut actions = Vec::new();
        while let Some(action) = slot.member.poll_action() {
            actions.push(action);
        }
        for action in actions {
            progressed = true;
            self.on_member(now, id, action);
        }
        let Some(slot) = self.slots.get_mut(&id).filter(|s| !s.closed) else {
            return progressed;
        };
        if slot.want_metadata && !slot.metadata_in_flight && slot.started {
            slot.want_metadata = false;
            slot.metadata_in_flight = true;
            let req = MetadataRequest {
                topics: Some(
                    slot.topics
                        .iter()
                        .map(|t| MetadataRequestTopic {
                            name: Some(t.as_str().into()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            };
            let tag = self.tag();
            self.owners.insert(tag, (id, Owner::Metadata));
            self.send_any_metadata(now, tag, req);
            progressed = true;
        }
        let Some(slot) = self.slots.get_mut(&id) else {
            return progressed;
        };
        let net = &self.net;
        let versions = |node: i32| net.versions(node).cloned();
        let mut sends = Vec::new();
        while let Some(s) = slot.fetcher.poll_request(now, &versions) {
            sends.push(s);
        }
        for send in sends {
            progressed = true;
            if matches!(send.request, AnyRequest::Fetch(_)) {
                self.stats.fetches_wanted += 1;
                if let AnyRequest::Fetch(f) = &send.request {
                    self.stats.fetch_partitions_wanted += f
                        .topics
                        .iter()
                        .map(|t| t.partitions.len() as u64)
                        .sum::<u64>();
                }
                if self.share_fetches {
                    self.waiting_fetches
                        .entry(send.node)
                        .or_default()
                        .push(FetchWait { group: id, send });
                    continue;
                }
                if let AnyRequest::Fetch(f) = &send.request {
                    self.stats.fetches_sent += 1;
                    self.stats.fetch_partitions_sent += f
                        .topics
                        .iter()
                        .map(|t| t.partitions.len() as u64)
                        .sum::<u64>();
                }
            }
            let lane = if matches!(send.request, AnyRequest::Fetch(_)) {
                self.fetch_lane()
            } else {
                Lane::Ordinary
            };
            let tag = self.tag();
            self.owners.insert(tag, (id, Owner::Fetch(send.id)));
            self.net.send(
                now,
                NetRequest {
                    tag,
                    route: Route::Node(send.node),
                    lane,
                    request: send.request,
                    version: Version::Exact(send.version),
                    timeout: send.timeout,
                },
            );
        }
        progressed
    }

    const fn fetch_lane(&self) -> Lane {
        match self.lanes {
            LanePolicy::Separate {
                fetch_lane: true, ..
            } => Lane::Fetch,
            _ => Lane::Ordinary,
        }
    }

    /// Sends one merged Fetch per broker that has waiting fetches and none in flight.
    fn flush_fetches(&mut self, now: Instant) -> bool {
        let nodes: Vec<i32> = self
            .waiting_fetches
            .keys()
            .copied()
            .filter(|n| !self.fetching.contains(n))
            .collect();
        let mut progressed = false;
        for node in nodes {
            let Some(waits) = self.waiting_fetches.remove(&node) else {
                continue;
            };
            let slots = &self.slots;
            let live = |g: u32| slots.get(&g).is_some_and(|s| !s.closed);
            let (batch, merged, timeout, rest) = merge(node, waits, live);
            if !rest.is_empty() {
                self.waiting_fetches.insert(node, rest);
            }
            let Some(merged) = merged else {
                continue;
            };
            progressed = true;
            self.stats.fetches_sent += 1;
            self.stats.fetch_partitions_sent += merged
                .topics
                .iter()
                .map(|t| t.partitions.len() as u64)
                .sum::<u64>();
            let tag = self.tag();
            let version = batch.version;
            self.owners.insert(tag, (u32::MAX, Owner::SharedFetch));
            self.batches.insert(tag, batch);
            self.fetching.insert(node);
            let lane = self.fetch_lane();
            self.net.send(
                now,
                NetRequest {
                    tag,
                    route: Route::Node(node),
                    lane,
                    request: AnyRequest::Fetch(merged),
                    version: Version::Exact(version),
                    timeout,
                },
            );
        }
        progressed
    }

    fn close_idle_extra_lanes(&mut self) {
        let lanes: Vec<(i32, u16)> = self.extra_lanes.iter().copied().collect();
        for (node, n) in lanes {
            let lane = Lane::HeldExtra(n);
            match self.net.lane_load(node, lane) {
                None => {
                    self.extra_lanes.remove(&(node, n));
                }
                Some(0) => {
                    self.net.close_idle_lane(node, lane);
                    self.extra_lanes.remove(&(node, n));
                }
                Some(_) => {}
            }
        }
    }

    /// The lane for a held request to `node`.
    fn held_lane(&mut self, node: i32) -> Lane {
        let LanePolicy::Separate { max_held_lanes, .. } = self.lanes else {
            return Lane::Ordinary;
        };
        let lane_of = |k: u16| {
            if k == 0 {
                Lane::Held
            } else {
                Lane::HeldExtra(k)
            }
        };
        let max = max_held_lanes.max(1);
        let mut least: Option<(usize, Lane)> = None;
        let mut unopened = None;
        // Lane 0, then the extra lanes opened so far, in order.
        let known: Vec<u16> = core::iter::once(0)
            .chain(
                self.extra_lanes
                    .range((node, 1)..=(node, u16::MAX))
                    .map(|&(_, k)| k),
            )
            .collect();
        for &k in &known {
            let lane = lane_of(k);
            match self.net.lane_load(node, lane) {
                Some(0) => return lane,
                Some(load) => {
                    if least.is_none_or(|(l, _)| load < l) {
                        least = Some((load, lane));
                    }
                }
                None => {
                    unopened.get_or_insert(k);
                }
            }
        }
        if unopened.is_none() && known.len() < usize::from(max) {
            // The first lane number not in use (`known` is sorted).
            let mut k = 1;
            for &used in &known[1..] {
                if used != k {
                    break;
                }
                k += 1;
            }
            unopened = Some(k);
        }
        if let Some(k) = unopened {
            if k > 0 {
                self.extra_lanes.insert((node, k));
                self.stats.held_lanes_opened += 1;
            }
            return lane_of(k);
        }
        self.stats.held_queued += 1;
        least.map_or(Lane::Held, |(_, lane)| lane)
    }

    fn on_net(&mut self, now: Instant, ev: NetEvent) {
        match ev {
            NetEvent::Negotiated { .. } => {
                // Fetchers wait for a broker's versions before they send to it.
                self.dirty.extend(self.slots.keys().copied());
                if !self.negotiated {
                    self.negotiated = true;
                    let ids: Vec<u32> = self.slots.keys().copied().collect();
                    for id in ids {
                        self.start(now, id);
                    }
                }
            }
            NetEvent::Response { tag, response, .. } => {
                let owner = self.owners.remove(&tag);
                self.mark(owner);
                if let AnyResponse::Metadata(md) = &response {
                    self.learn_brokers(now, md, owner.map(|(g, _)| g));
                }
                match owner {
                    Some((g, Owner::Member(id))) => {
                        if let Some(slot) = self.slots.get_mut(&g).filter(|s| !s.closed) {
                            slot.member.handle(now, Input::Response { id, response });
                        }
                    }
                    Some((g, Owner::Fetch(id))) => {
                        if let Some(slot) = self.slots.get_mut(&g).filter(|s| !s.closed) {
                            if let AnyResponse::Fetch(f) = &response {
                                let bytes = record_bytes(f);
                                self.stats.fetch_bytes_received += bytes;
                                self.stats.fetch_bytes_delivered += bytes;
                            }
                            slot.fetcher.handle_response(now, id, response);
                        }
                    }
                    Some((_, Owner::SharedFetch)) => self.split_fetch(now, tag, response),
                    Some((g, Owner::Metadata)) => {
                        if let Some(slot) = self.slots.get_mut(&g) {
                            slot.metadata_in_flight = false;
                        }
                    }
                    Some((_, Owner::Kick)) | None => {}
                }
            }
            NetEvent::Failed { tag, error } => {
                let owner = self.owners.remove(&tag);
                self.mark(owner);
                if matches!(error, NetError::Encode(_) | NetError::Unsupported { .. }) {
                    let w = ConsumerEvent::Warning(alloc::format!("request: {error}"));
                    match owner {
                        Some((g, _)) if self.slots.contains_key(&g) => {
                            self.events.push_back((GroupHandle(g), w));
                        }
                        _ => self.broadcast(&w),
                    }
                }
                match owner {
                    Some((g, Owner::Member(id))) => {
                        if let Some(slot) = self.slots.get_mut(&g).filter(|s| !s.closed) {
                            let error = match error {
                                NetError::TimedOut => TransportError::TimedOut,
                                _ => TransportError::Disconnected,
                            };
                            slot.member.handle(now, Input::Failed { id, error });
                        }
                    }
                    Some((g, Owner::Fetch(id))) => {
                        if let Some(slot) = self.slots.get_mut(&g) {
                            slot.fetcher.handle_failed(now, id);
                        }
                    }
                    Some((_, Owner::SharedFetch)) => {
                        if let Some(batch) = self.batches.remove(&tag) {
                            self.fetching.remove(&batch.node);
                            for (g, id, _) in batch.parts {
                                self.dirty.insert(g);
                                if let Some(slot) = self.slots.get_mut(&g) {
                                    slot.fetcher.handle_failed(now, id);
                                }
                            }
                        }
                    }
                    Some((g, Owner::Metadata)) => {
                        if let Some(slot) = self.slots.get_mut(&g) {
                            slot.metadata_in_flight = false;
                            slot.want_metadata = true;
                        }
                    }
                    Some((_, Owner::Kick)) | None => {}
                }
            }
            NetEvent::ConnectionError { node, reason } => {
                self.broadcast(&ConsumerEvent::Warning(alloc::format!(
                    "broker {node}: {reason}"
                )));
            }
        }
    }

    /// Hands each group of a merged fetch the partitions it asked for.
    fn split_fetch(&mut self, now: Instant, tag: Tag, response: AnyResponse) {
        let Some(batch) = self.batches.remove(&tag) else {
            return;
        };
        self.fetching.remove(&batch.node);
        let AnyResponse::Fetch(resp) = response else {
            // Not a Fetch answer: every group's fetcher reports it and backs off.
            for (g, id, _) in batch.parts {
                self.dirty.insert(g);
                if let Some(slot) = self.slots.get_mut(&g) {
                    slot.fetcher.handle_response(now, id, response.clone());
                }
            }
            return;
        };
        self.stats.fetch_bytes_received += record_bytes(&resp);
        let by_id = batch.version >= FETCH_TOPIC_ID_VERSION;
        for (g, id, wanted) in batch.parts {
            self.dirty.insert(g);
            let Some(slot) = self.slots.get_mut(&g) else {
                continue;
            };
            let part = response_part(&resp, &wanted, by_id);
            self.stats.fetch_bytes_delivered += record_bytes(&part);
            slot.fetcher
                .handle_response(now, id, AnyResponse::Fetch(part));
        }
    }

    /// Marks the group that owned a request (answered or failed) for pumping.
    fn mark(&mut self, owner: Option<(u32, Owner)>) {
        if let Some((g, _)) = owner.filter(|(g, _)| *g != u32::MAX) {
            self.dirty.insert(g);
        }
    }

    fn broadcast(&mut self, event: &ConsumerEvent) {
        for (&id, s) in &self.slots {
            if !s.closed {
                self.events.push_back((GroupHandle(id), event.clone()));
            }
        }
    }

    /// Broker addresses from a Metadata response; partition leaders to the fetcher of the
    /// group that asked, whose leaders' connections are opened ahead (the fetcher sends only
    /// to brokers whose versions are known).
    fn learn_brokers(
        &mut self,
        now: Instant,
        md: &kafka_wire::generated::metadata_response::MetadataResponse,
        group: Option<u32>,
    ) {
        for b in &md.brokers {
            if let Ok(port) = u16::try_from(b.port) {
                self.net.set_broker(now, b.node_id, &b.host, port);
            }
        }
        let Some(slot) = group.and_then(|g| self.slots.get_mut(&g)) else {
            return;
        };
        slot.fetcher.update_metadata(md);
        let leaders: BTreeSet<i32> = md
            .topics
            .iter()
            .filter(|t| {
                t.name
                    .as_deref()
                    .is_some_and(|n| slot.topics.iter().any(|s| s.as_str() == n))
            })
            .flat_map(|t| t.partitions.iter().map(|p| p.leader_id))
            .filter(|&l| l >= 0)
            .collect();
        for node in leaders {
            self.net.connect(now, node);
        }
    }

    fn on_member(&mut self, now: Instant, id: u32, action: Action) {
        match action {
            Action::Send(s) => {
                let route = match &s.to {
                    Destination::AnyBroker => Route::Any,
                    Destination::Coordinator {
                        node_id,
                        host,
                        port,
                    } => {
                        if let Ok(port) = u16::try_from(*port) {
                            self.net.set_broker(now, *node_id, host, port);
                        }
                        Route::Node(*node_id)
                    }
                };
                let lane = match (s.held_for.is_some(), route) {
                    (true, Route::Node(node)) => self.held_lane(node),
                    (true, Route::Any) => Lane::Held,
                    (false, _) => Lane::Ordinary,
                };
                let tag = self.tag();
                self.owners.insert(tag, (id, Owner::Member(s.id)));
                self.net.send(
                    now,
                    NetRequest {
                        tag,
                        route,
                        lane,
                        request: s.request,
                        version: Version::Exact(s.version),
                        timeout: s.timeout,
                    },
                );
            }
            Action::Event(e) => self.on_member_event(now, id, e),
        }
    }

    /// Reports group `id`'s last event and marks it closed; with no live group left, closes
    /// the connections.
    fn finish(&mut self, now: Instant, id: u32, event: ConsumerEvent) {
        if let Some(slot) = self.slots.get_mut(&id) {
            slot.closed = true;
            slot.want_metadata = false;
            slot.needs_pump = false;
        }
        self.waiting_fetches.values_mut().for_each(|w| {
            w.retain(|f| f.group != id);
        });
        self.events.push_back((GroupHandle(id), event));
        if self.all_closed() {
            self.net.close_all(now);
            self.waiting_fetches.clear();
        }
    }

    fn on_member_event(&mut self, now: Instant, id: u32, e: Event) {
        let h = GroupHandle(id);
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        let event = match e {
            Event::Assigned {
                partitions,
                generation,
            } => {
                slot.fetcher.assign(&partitions);
                slot.member
                    .handle(now, Input::FetchCommitted(partitions.clone()));
                ConsumerEvent::Assigned {
                    partitions,
                    generation,
                }
            }
            Event::Revoke {
                partitions,
                generation,
            } => {
                // Stop fetching them; their positions go to the member, which commits them
                // (auto-commit) before it acknowledges the revocation.
                let positions = slot.fetcher.remove(&partitions);
                slot.positions_dirty = false;
                slot.member.handle(now, Input::Positions(positions.clone()));
                if !slot.auto_commit && !positions.is_empty() {
                    // Without auto-commit nothing else commits them: do it before the
                    // partitions go, so their next owner starts where we stopped.
                    slot.member.handle(now, Input::Commit(positions));
                }
                slot.member.handle(now, Input::RevocationDone);
                ConsumerEvent::Revoked {
                    partitions,
                    generation,
                }
            }
            Event::Lost { partitions } => {
                let _ = slot.fetcher.remove(&partitions);
                ConsumerEvent::Lost { partitions }
            }
            Event::CommittedOffsets { offsets } => {
                slot.fetcher.committed(&offsets);
                return;
            }
            Event::Idle { generation } => ConsumerEvent::Idle { generation },
            Event::Committed { results } => ConsumerEvent::Committed { offsets: results },
            Event::Warning(w) => ConsumerEvent::Warning(w.to_string()),
            Event::Rejected(r) => ConsumerEvent::Warning(r.to_string()),
            Event::Fatal(f) => return self.finish(now, id, ConsumerEvent::Fatal(f.to_string())),
            Event::Closed | Event::Left => return self.finish(now, id, ConsumerEvent::Closed),
            Event::Joined {
                generation,
                member_id,
                leader,
            } => ConsumerEvent::Joined {
                generation,
                member_id,
                leader,
            },
            Event::CoordinatorFound { .. } => return,
        };
        self.events.push_back((h, event));
    }
}

impl Slot {
    fn sync_positions(&mut self, now: Instant) {
        if self.positions_dirty {
            self.positions_dirty = false;
            self.member
                .handle(now, Input::Positions(self.fetcher.positions()));
        }
    }
}

/// The first record (or fetch warning) of the first group in `slots` that has one; marks
/// groups whose buffered records ran out so they fetch again.
fn next_record<'a>(
    slots: impl Iterator<Item = (&'a u32, &'a mut Box<Slot>)>,
) -> Option<(u32, ConsumerEvent)> {
    for (&id, slot) in slots {
        if slot.closed {
            continue;
        }
        loop {
            let Some(event) = slot.fetcher.poll_event() else {
                if slot.delivered {
                    slot.delivered = false;
                    slot.needs_pump = true;
                }
                break;
            };
            match event {
                FetchEvent::Record(r) => {
                    slot.positions_dirty = true;
                    slot.delivered = true;
                    return Some((id, ConsumerEvent::Message(r)));
                }
                FetchEvent::NeedMetadata => slot.want_metadata = true,
                FetchEvent::OffsetReset { .. } => {}
                FetchEvent::Error(e) => {
                    return Some((id, ConsumerEvent::Warning(alloc::format!("fetch: {e}"))));
                }
            }
        }
    }
    None
}

/// The part of a merged Fetch response that one group asked for (`wanted`), sharing the
/// record bytes.
fn response_part(resp: &FetchResponse, wanted: &Wanted, by_id: bool) -> FetchResponse {
    let mut part = FetchResponse {
        throttle_time_ms: resp.throttle_time_ms,
        error_code: resp.error_code,
        session_id: resp.session_id,
        responses: Vec::new(),
        node_endpoints: resp.node_endpoints.clone(),
        ..Default::default()
    };
    for t in &resp.responses {
        let key = if by_id {
            TopicKey::Id(t.topic_id)
        } else {
            TopicKey::Name(t.topic.clone())
        };
        let partitions: Vec<_> = t
            .partitions
            .iter()
            .filter(|p| wanted.contains(&(key.clone(), p.partition_index)))
            .cloned()
            .collect();
        if !partitions.is_empty() {
            part.responses.push(FetchableTopicResponse {
                topic: t.topic.clone(),
                topic_id: t.topic_id,
                partitions,
                unknown_tagged_fields: t.unknown_tagged_fields.clone(),
            });
        }
    }
    part
}

/// Record bytes in a Fetch response.
fn record_bytes(resp: &FetchResponse) -> u64 {
    resp.responses
        .iter()
        .flat_map(|t| &t.partitions)
        .map(|p| p.records.as_ref().map_or(0, |r| r.len() as u64))
        .sum()
}

/// Merges the waiting fetches of `node` that agree with the first one (see the
/// [module docs](self)); returns the batch, the merged request (`None` if nothing was
/// waiting), its timeout, and the fetches left for the next round.
fn merge(
    node: i32,
    waits: Vec<FetchWait>,
    live: impl Fn(u32) -> bool,
) -> (Batch, Option<FetchRequest>, Duration, Vec<FetchWait>) {
    let mut batch = Batch {
        node,
        version: 0,
        parts: Vec::new(),
    };
    let mut merged: Option<FetchRequest> = None;
    let mut timeout = Duration::ZERO;
    let mut rest = Vec::new();
    for w in waits {
        if !live(w.group) {
            continue;
        }
        let AnyRequest::Fetch(req) = w.send.request else {
            continue;
        };
        let by_id = w.send.version >= FETCH_TOPIC_ID_VERSION;
        let key = |t: &kafka_wire::generated::fetch_request::FetchTopic| {
            if by_id {
                TopicKey::Id(t.topic_id)
            } else {
                TopicKey::Name(t.topic.clone())
            }
        };
        let wanted: Wanted = req
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(move |p| (key(t), p.partition)))
            .collect();
        let Some(m) = merged.as_mut() else {
            batch.version = w.send.version;
            timeout = w.send.timeout;
            batch.parts.push((w.group, w.send.id, wanted));
            merged = Some(req);
            continue;
        };
        let same_settings = w.send.version == batch.version
            && req.max_wait_ms == m.max_wait_ms
            && req.min_bytes == m.min_bytes
            && req.max_bytes == m.max_bytes
            && req.isolation_level == m.isolation_level
            && req.session_id == m.session_id
            && req.session_epoch == m.session_epoch
            && req.rack_id == m.rack_id
            && req.replica_id == m.replica_id
            && req.forgotten_topics_data.is_empty()
            && m.forgotten_topics_data.is_empty();
        // Every partition in common must be asked for identically (same position).
        let agrees = same_settings
            && req.topics.iter().all(|t| {
                let k = key(t);
                match m.topics.iter().find(|mt| key(mt) == k) {
                    None => true,
                    Some(mt) => t.partitions.iter().all(|p| {
                        mt.partitions
                            .iter()
                            .find(|mp| mp.partition == p.partition)
                            .is_none_or(|mp| mp == p)
                    }),
                }
            });
        if !agrees {
            rest.push(FetchWait {
                group: w.group,
                send: FetchSend {
                    request: AnyRequest::Fetch(req),
                    ..w.send
                },
            });
            continue;
        }
        for t in req.topics {
            let k = key(&t);
            match m.topics.iter_mut().find(|mt| key(mt) == k) {
                None => m.topics.push(t),
                Some(mt) => {
                    for p in t.partitions {
                        if !mt.partitions.iter().any(|mp| mp.partition == p.partition) {
                            mt.partitions.push(p);
                        }
                    }
                }
            }
        }
        timeout = timeout.max(w.send.timeout);
        batch.parts.push((w.group, w.send.id, wanted));
    }
    (batch, merged, timeout, rest)
}

/// A group set can move to another thread (async runtimes need this).
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<GroupSet>();
};

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_wire::generated::fetch_request::{FetchPartition, FetchTopic};
    use kafka_wire::generated::fetch_response::PartitionData;

    fn fetch(group: u32, id: u64, version: i16, parts: &[(&str, i32, i64)]) -> FetchWait {
        let mut topics: Vec<FetchTopic> = Vec::new();
        for &(t, p, offset) in parts {
            let partition = FetchPartition {
                partition: p,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            };
            match topics.iter_mut().find(|x| &*x.topic == t) {
                Some(x) => x.partitions.push(partition),
                None => topics.push(FetchTopic {
                    topic: t.into(),
                    partitions: alloc::vec![partition],
                    ..Default::default()
                }),
            }
        }
        FetchWait {
            group,
            send: FetchSend {
                id: FetchRequestId(id),
                node: 1,
                request: AnyRequest::Fetch(FetchRequest {
                    max_wait_ms: 500,
                    min_bytes: 1,
                    topics,
                    ..Default::default()
                }),
                version,
                timeout: Duration::from_secs(30),
            },
        }
    }

    fn entries(req: &FetchRequest) -> Vec<(String, i32, i64)> {
        let mut out: Vec<(String, i32, i64)> = req
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(move |p| (String::from(&*t.topic), p.partition, p.fetch_offset))
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn groups_at_the_same_positions_share_one_request() {
        let waits = alloc::vec![
            fetch(0, 1, 12, &[("a", 0, 10), ("a", 1, 20)]),
            fetch(1, 7, 12, &[("a", 0, 10), ("a", 1, 20), ("b", 0, 5)]),
        ];
        let (batch, merged, _, rest) = merge(1, waits, |_| true);
        let merged = merged.expect("a request");
        assert!(rest.is_empty());
        assert_eq!(
            entries(&merged),
            [("a".into(), 0, 10), ("a".into(), 1, 20), ("b".into(), 0, 5)]
        );
        assert_eq!(batch.parts.len(), 2);
        assert_eq!(batch.parts[1].2.len(), 3);
    }

    #[test]
    fn a_group_at_another_position_waits_for_the_next_round() {
        let waits = alloc::vec![
            fetch(0, 1, 12, &[("a", 0, 10)]),
            fetch(1, 2, 12, &[("a", 0, 11), ("a", 1, 0)]),
            fetch(2, 3, 12, &[("a", 1, 0)]),
            fetch(3, 4, 11, &[("c", 0, 0)]),
        ];
        let (batch, merged, _, rest) = merge(1, waits, |g| g != 2);
        let merged = merged.expect("a request");
        assert_eq!(entries(&merged), [("a".into(), 0, 10)]);
        assert_eq!(batch.parts.len(), 1);
        // Group 1 disagrees on a-0, group 3 on the version; group 2 is closed and dropped.
        let left: Vec<u32> = rest.iter().map(|w| w.group).collect();
        assert_eq!(left, [1, 3]);
        let (batch, merged, _, rest) = merge(1, rest, |_| true);
        assert_eq!(batch.parts[0].0, 1);
        assert_eq!(merged.map(|m| entries(&m).len()), Some(2));
        assert_eq!(rest.len(), 1);
    }

    #[test]
    fn each_group_gets_only_its_partitions_sharing_the_bytes() {
        let records = bytes::Bytes::from_static(b"not really a batch");
        let data = |p: i32| PartitionData {
            partition_index: p,
            records: Some(records.clone()),
            ..Default::default()
        };
        let resp = FetchResponse {
            responses: alloc::vec![FetchableTopicResponse {
                topic: "a".into(),
                partitions: alloc::vec![data(0), data(1)],
                ..Default::default()
            }],
            ..Default::default()
        };
        let wanted: Wanted = [(TopicKey::Name("a".into()), 1)].into_iter().collect();
        let part = response_part(&resp, &wanted, false);
        assert_eq!(part.responses.len(), 1);
        let ps = &part.responses[0].partitions;
        assert_eq!(ps.len(), 1);
        assert_eq!(ps[0].partition_index, 1);
        let shared = ps[0].records.as_ref().map(|b| b.as_ptr());
        assert_eq!(
            shared,
            Some(records.as_ptr()),
            "the bytes are shared, not copied"
        );
        let none: Wanted = [(TopicKey::Name("b".into()), 0)].into_iter().collect();
        assert!(response_part(&resp, &none, false).responses.is_empty());
        // By id (v13+) the name does not match anything.
        assert!(response_part(&resp, &wanted, true).responses.is_empty());
    }
}
