//! The model broker: connections served one request at a time, request dispatch, the
//! non-group APIs, fault injection and statistics. Group logic lives in [`crate::coordinator`],
//! partition logs and the Fetch and ListOffsets reads in [`crate::storage`].
//!
//! A request that cannot be answered yet is *parked*: its connection stays busy (later frames
//! queue behind it) until the response is produced. The coordinator parks JoinGroup and
//! SyncGroup; the broker parks a Fetch that finds fewer than `min_bytes` of records (the
//! long poll), until an [`append`](ModelBroker::append) brings enough or `max_wait_ms` ends.

use core::mem;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::{Bytes, BytesMut};
use kafka_wire::error_code::ErrorCode;
use kafka_wire::generated::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_wire::generated::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_wire::generated::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_wire::generated::{
    FetchRequest, FindCoordinatorRequest, LeaveGroupRequest, MetadataRequest, MetadataResponse,
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
};
use kafka_wire::{
    AnyRequest, AnyResponse, ApiKey, CorrelationId, DecodeError, EncodeError, RequestHeader, Uuid,
    VersionRange, codec,
};

use crate::ConnId;
use crate::consumer_group::ConsumerGroupView;
use crate::coordinator::{
    Committed, Coordinator, GroupView, JoinReq, SyncReq, TimerRef, Transition,
};
use crate::responses::{self, Reply, ReplyTo};
use crate::storage::{AppendError, FetchRead, Logs};

/// Broker and coordinator settings; [`Default`] gives Kafka's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    /// This broker's node id (default 1); it leads every partition and coordinates every group.
    pub node_id: i32,
    /// Host advertised in Metadata and FindCoordinator (default `"localhost"`).
    pub host: String,
    /// Port advertised in Metadata and FindCoordinator (default 9092).
    pub port: i32,
    /// Cluster id in Metadata v2+ (default `"testkit-cluster"`).
    pub cluster_id: String,
    /// `group.initial.rebalance.delay.ms` (default 3000).
    pub initial_rebalance_delay_ms: u64,
    /// `group.min.session.timeout.ms` (default 6000).
    pub min_session_timeout_ms: u64,
    /// `group.max.session.timeout.ms` (default 1 800 000).
    pub max_session_timeout_ms: u64,
    /// `group.max.size` (default unlimited).
    pub group_max_size: usize,
    /// How long a new member's parked JoinGroup may wait (KAFKA-7610, default 300 000).
    pub new_member_join_timeout_ms: u64,
    /// Racks of extra replica-only brokers (default none), for rack-aware assignors: broker
    /// `node_id + 1 + k` sits on rack `k`, Metadata lists it, and partition `p` has a second
    /// replica on broker `node_id + 1 + (p mod len)`. Nobody connects to these brokers: this
    /// broker still leads every partition.
    pub replica_racks: Vec<String>,
    /// `group.consumer.session.timeout.ms` of consumer (KIP-848) groups (default 45 000).
    pub consumer_session_timeout_ms: u64,
    /// `group.consumer.heartbeat.interval.ms`, sent in ConsumerGroupHeartbeat responses
    /// (default 5000).
    pub consumer_heartbeat_interval_ms: u64,
    /// Serve Fetch (v4+) and ListOffsets (v1+) from the partition logs filled by
    /// [`ModelBroker::append`] (default `false`: neither is advertised, and a request for
    /// either closes the connection, as for any API the model does not serve).
    pub serve_fetch: bool,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            node_id: 1,
            host: "localhost".to_owned(),
            port: 9092,
            cluster_id: "testkit-cluster".to_owned(),
            initial_rebalance_delay_ms: 3000,
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 1_800_000,
            group_max_size: usize::MAX,
            new_member_join_timeout_ms: 300_000,
            replica_racks: Vec::new(),
            consumer_session_timeout_ms: 45_000,
            consumer_heartbeat_interval_ms: 5000,
            serve_fetch: false,
        }
    }
}

/// Counters and gauges, from [`ModelBroker::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrokerStats {
    /// Requests taken off a connection per API (decoded; counted before fault injection and
    /// version checks, so unsupported versions count too).
    pub requests: BTreeMap<ApiKey, u64>,
    /// Response frames emitted through [`ModelBroker::poll_output`].
    pub responses: u64,
    /// Responses thrown away because their connection was gone.
    pub discarded_responses: u64,
    /// Requests answered by [`ModelBroker::inject_error`].
    pub injected_errors: u64,
    /// Frames dropped: sent on a dead connection or queued when it went away.
    pub dropped_frames: u64,
    /// Connections the broker closed (undecodable or unsupported request).
    pub closed_connections: u64,
    /// Parked requests that will never be answered (see the crate docs).
    pub abandoned_requests: u64,
    /// JoinGroups parked right now.
    pub parked_joins: usize,
    /// SyncGroups parked right now.
    pub parked_syncs: usize,
    /// KIP-394 pending members right now.
    pub pending_members: usize,
    /// Frames waiting behind a request in progress, right now.
    pub queued_frames: usize,
    /// Connections with a request in progress (parked) right now.
    pub busy_connections: usize,
    /// Fetch requests answered from the logs, at once or after waiting (not those answered by
    /// [`ModelBroker::inject_error`]).
    pub fetch_responses: u64,
    /// Of [`fetch_responses`](Self::fetch_responses), those that were parked first (the long
    /// poll: fewer than `min_bytes` of records when they arrived).
    pub fetches_parked: u64,
    /// Bytes of records (whole record batches) in Fetch responses.
    pub fetch_record_bytes: u64,
    /// Fetch requests parked right now.
    pub parked_fetches: usize,
}

/// Something the broker could not handle; it closed the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrokerError {
    /// Virtual time (ms).
    pub at_ms: u64,
    /// The connection.
    pub conn: ConnId,
    /// What went wrong.
    pub kind: BrokerErrorKind,
}

/// Kinds of [`BrokerError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BrokerErrorKind {
    /// The frame did not decode as a request.
    Undecodable(DecodeError),
    /// An API the model does not implement, or a version it does not advertise.
    Unsupported {
        /// The request's API key.
        api_key: i16,
        /// The request's version.
        version: i16,
    },
    /// The model built a response kafka-wire cannot encode (a bug in the model).
    Encode {
        /// The API.
        api_key: ApiKey,
        /// The response version.
        version: i16,
        /// The encoder's complaint.
        error: EncodeError,
    },
}

/// The APIs the model implements.
const IMPLEMENTED: [ApiKey; 10] = [
    ApiKey::ConsumerGroupHeartbeat,
    ApiKey::Metadata,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::SyncGroup,
    ApiKey::ApiVersions,
];

/// The APIs served when [`BrokerConfig::serve_fetch`] is set, with the lowest version served:
/// Fetch below 4 cannot carry record batches (magic 2), ListOffsets 0 is gone since Kafka 4.0.
const FETCH_APIS: [(ApiKey, i16); 2] = [(ApiKey::Fetch, 4), (ApiKey::ListOffsets, 1)];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Topic {
    pub(crate) id: Uuid,
    pub(crate) partitions: i32,
}

#[derive(Debug, Default)]
struct Conn {
    queue: VecDeque<Bytes>,
    /// A request was taken off the queue and is not answered yet (maybe parked).
    busy: bool,
}

/// A Fetch waiting for `min_bytes` of records (Kafka's `DelayedFetch`).
#[derive(Debug)]
struct ParkedFetch {
    to: ReplyTo,
    /// When to answer with whatever there is.
    deadline: u64,
    request: FetchRequest,
}

/// A timer of the broker or its coordinator.
#[derive(Debug)]
enum Due {
    Coordinator(TimerRef),
    /// The deadline of the parked fetch with this sequence number.
    Fetch(u64),
}

/// A topic partition's committed offset as OffsetFetch reports it.
#[derive(Debug)]
struct Fetched {
    partition: i32,
    offset: i64,
    leader_epoch: i32,
    metadata: String,
    error: ErrorCode,
}

/// A single-node Kafka broker model that is also the group coordinator (classic and KIP-848).
///
/// Sans-IO and deterministic: no clock, no threads, no randomness. Time is virtual
/// milliseconds passed in by the caller and must not go backwards (an earlier `now` is treated
/// as the latest one seen).
///
/// Method families:
/// - setup and faults: [`new`](Self::new), [`create_topic`](Self::create_topic),
///   [`set_api_versions`](Self::set_api_versions), [`inject_error`](Self::inject_error),
///   [`set_coordinator_available`](Self::set_coordinator_available),
///   [`set_not_coordinator`](Self::set_not_coordinator);
/// - input: [`handle_frame`](Self::handle_frame), [`handle_timeout`](Self::handle_timeout),
///   [`disconnect`](Self::disconnect), [`append`](Self::append) (records for Fetch);
/// - output: [`poll_output`](Self::poll_output), [`poll_closed`](Self::poll_closed),
///   [`poll_timeout`](Self::poll_timeout);
/// - getters: [`group`](Self::group), [`consumer_group`](Self::consumer_group),
///   [`committed`](Self::committed), [`end_offset`](Self::end_offset),
///   [`transitions`](Self::transitions), [`stats`](Self::stats), [`errors`](Self::errors), ...
///
/// After every input, drain [`poll_output`](Self::poll_output) (and
/// [`poll_closed`](Self::poll_closed)), then call [`handle_timeout`](Self::handle_timeout) no
/// later than [`poll_timeout`](Self::poll_timeout). Every input first fires the timers due by
/// its `now`, each at its own deadline, so calling `handle_timeout` late changes nothing but
/// the time responses come out. After an input returns, no timer is due at or before `now`.
#[derive(Debug)]
pub struct ModelBroker {
    topics: BTreeMap<String, Topic>,
    next_topic: u64,
    coord: Coordinator,
    conns: BTreeMap<ConnId, Conn>,
    dead: BTreeSet<ConnId>,
    ready: VecDeque<ConnId>,
    output: VecDeque<(ConnId, Bytes)>,
    closed: VecDeque<ConnId>,
    advertised: BTreeMap<ApiKey, VersionRange>,
    injections: BTreeMap<ApiKey, (i16, u32)>,
    coordinator_available: bool,
    not_coordinator: bool,
    stats: BrokerStats,
    errors: Vec<BrokerError>,
    logs: Logs,
    /// Parked fetches by arrival order.
    parked_fetches: BTreeMap<u64, ParkedFetch>,
    next_fetch: u64,
}

impl ModelBroker {
    /// A broker with no topics, no groups and no connections, at time 0.
    #[must_use]
    pub fn new(config: BrokerConfig) -> Self {
        let serve_fetch = config.serve_fetch;
        let mut broker = Self {
            topics: BTreeMap::new(),
            next_topic: 0,
            coord: Coordinator::new(config),
            conns: BTreeMap::new(),
            dead: BTreeSet::new(),
            ready: VecDeque::new(),
            output: VecDeque::new(),
            closed: VecDeque::new(),
            advertised: BTreeMap::new(),
            injections: BTreeMap::new(),
            coordinator_available: true,
            not_coordinator: false,
            stats: BrokerStats::default(),
            errors: Vec::new(),
            logs: Logs::default(),
            parked_fetches: BTreeMap::new(),
            next_fetch: 0,
        };
        let apis = IMPLEMENTED.iter().copied();
        let fetch_apis = FETCH_APIS.iter().map(|&(k, _)| k).filter(|_| serve_fetch);
        for api in apis.chain(fetch_apis) {
            if let Some(r) = broker.served(api) {
                broker.advertised.insert(api, r);
            }
        }
        broker
    }

    // ---- setup and faults ---------------------------------------------------------------

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &BrokerConfig {
        &self.coord.env.cfg
    }

    /// Creates topic `name` with `partitions` partitions, or sets the partition count of an
    /// existing topic (its id stays). Topic ids are deterministic (creation order).
    pub fn create_topic(&mut self, name: &str, partitions: i32) {
        let partitions = partitions.max(0);
        if let Some(t) = self.topics.get_mut(name) {
            t.partitions = partitions;
        } else {
            self.next_topic += 1;
            // "TESTKIT\0" + a counter: never the zero UUID.
            let id = Uuid::from_u64_pair(0x5445_5354_4b49_5400, self.next_topic);
            self.topics
                .insert(name.to_owned(), Topic { id, partitions });
        }
        // Consumer groups subscribed to the topic (by name or regex) bump their epoch.
        self.coord.topics_changed(&self.topics);
    }

    /// The id of topic `name` (Metadata v10+, OffsetCommit/OffsetFetch v10).
    #[must_use]
    pub fn topic_id(&self, name: &str) -> Option<Uuid> {
        self.topics.get(name).map(|t| t.id)
    }

    /// Restricts the versions advertised and accepted for `api` (e.g. JoinGroup 0..=3 to
    /// model an old broker), or with `None` stops serving it. The range is clipped to what
    /// the model serves; APIs it does not serve are ignored (Fetch and ListOffsets unless
    /// [`BrokerConfig::serve_fetch`]).
    pub fn set_api_versions(&mut self, api: ApiKey, range: Option<VersionRange>) {
        let Some(ours) = self.served(api) else {
            return;
        };
        match range {
            Some(r) if r.min.max(ours.min) <= r.max.min(ours.max) => {
                let r = VersionRange::new(r.min.max(ours.min), r.max.min(ours.max));
                self.advertised.insert(api, r);
            }
            _ => {
                self.advertised.remove(&api);
            }
        }
    }

    /// Answers the next `times` requests of `api` with `error_code` and no other effect: the
    /// top-level error where the version has one, else every group, topic or partition (all
    /// partitions of an OffsetCommit). Replaces any earlier injection for `api`; `times = 0`
    /// clears it. Applies after decoding and the version check, before everything else.
    pub fn inject_error(&mut self, api: ApiKey, error_code: i16, times: u32) {
        if times == 0 {
            self.injections.remove(&api);
        } else {
            self.injections.insert(api, (error_code, times));
        }
    }

    /// When `false`, group APIs and FindCoordinator answer COORDINATOR_NOT_AVAILABLE.
    pub fn set_coordinator_available(&mut self, available: bool) {
        self.coordinator_available = available;
    }

    /// When `true`, group APIs answer NOT_COORDINATOR (the coordinator "moved").
    /// FindCoordinator keeps naming this broker, like stale metadata during a move.
    pub fn set_not_coordinator(&mut self, not_coordinator: bool) {
        self.not_coordinator = not_coordinator;
    }

    /// Appends `records` (key, value) to `topic`/`partition` as one record batch and returns
    /// the offset of its first record.
    ///
    /// The batch is magic 2, uncompressed, with create time `now_ms` for every record (the
    /// broker's time: the latest `now` seen), partition leader epoch 0 and no producer id. The
    /// records are committed at once: the high watermark (and last stable offset) moves to the
    /// new log end offset. Parked fetches that now reach their `min_bytes` are answered.
    /// Works whether or not [`BrokerConfig::serve_fetch`] is set.
    ///
    /// Like every input, fires the timers due by `now_ms` first, so a fetch whose `max_wait_ms`
    /// ended by then is answered before the append.
    ///
    /// # Errors
    ///
    /// [`AppendError::UnknownTopic`], [`AppendError::UnknownPartition`],
    /// [`AppendError::NoRecords`], or [`AppendError::Encode`] when kafka-wire cannot encode
    /// the batch. Nothing is stored then.
    pub fn append(
        &mut self,
        now_ms: u64,
        topic: &str,
        partition: i32,
        records: &[(Option<Bytes>, Option<Bytes>)],
    ) -> Result<i64, AppendError> {
        self.advance(now_ms);
        let now = self.coord.env.now;
        let base = self
            .logs
            .append(&self.topics, now, topic, partition, records)?;
        let id = self.topic_id(topic).unwrap_or(Uuid::ZERO);
        let waiting: Vec<u64> = self
            .parked_fetches
            .iter()
            .filter(|(_, f)| Logs::fetch_mentions(f.to.version, &f.request, topic, id, partition))
            .map(|(&seq, _)| seq)
            .collect();
        for seq in waiting {
            self.recheck_fetch(seq);
        }
        self.pump();
        self.fire_due(self.coord.env.now);
        Ok(base)
    }

    /// The log end offset of `topic`/`partition` (0 for a partition never appended to), or
    /// `None` if the partition does not exist.
    #[must_use]
    pub fn end_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        let t = self.topics.get(topic)?;
        (0..t.partitions)
            .contains(&partition)
            .then(|| self.logs.end_offset(topic, partition))
    }

    // ---- input --------------------------------------------------------------------------

    /// One request frame (header and body, without the 4-byte size prefix) from `conn`.
    ///
    /// Connections are created on first use. Like a real broker, a connection is served one
    /// request at a time: while a request is parked (JoinGroup, SyncGroup, Fetch) later frames
    /// wait, and run only after its response is out. Frames on a connection that was closed or
    /// [`disconnect`](Self::disconnect)ed are dropped: ids are never reused.
    pub fn handle_frame(&mut self, now_ms: u64, conn: ConnId, frame: Bytes) {
        self.advance(now_ms);
        if self.dead.contains(&conn) {
            self.stats.dropped_frames += 1;
            return;
        }
        let c = self.conns.entry(conn).or_default();
        c.queue.push_back(frame);
        if !c.busy {
            self.ready.push_back(conn);
        }
        self.pump();
        self.fire_due(self.coord.env.now);
    }

    /// Fires every timer due at or before `now_ms`, each at its own deadline.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        self.advance(now_ms);
    }

    /// The client closed `conn` (or it broke). Queued frames are dropped. A parked JoinGroup
    /// or SyncGroup stays in its group (a muted connection hides the close from Kafka too);
    /// its eventual response is discarded, and so is that of a parked Fetch (it still waits
    /// for its data or deadline, as Kafka's `DelayedFetch` does).
    pub fn disconnect(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            self.stats.dropped_frames += c.queue.len() as u64;
        }
        self.dead.insert(conn);
    }

    // ---- output -------------------------------------------------------------------------

    /// The next response frame (response header and body, without the size prefix), in the
    /// order they were produced.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<(ConnId, Bytes)> {
        self.output.pop_front()
    }

    /// The next connection the broker closed (see [`errors`](Self::errors) for why).
    #[must_use]
    pub fn poll_closed(&mut self) -> Option<ConnId> {
        self.closed.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next; `None` if no timer is armed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        self.next_due().map(|(at, _)| at)
    }

    // ---- getters ------------------------------------------------------------------------

    /// The latest time seen (ms).
    #[must_use]
    pub fn now(&self) -> u64 {
        self.coord.env.now
    }

    /// A snapshot of group `group_id`.
    #[must_use]
    pub fn group(&self, group_id: &str) -> Option<GroupView> {
        self.coord.groups.get(group_id).map(|g| g.view())
    }

    /// Ids of all classic groups, sorted.
    #[must_use]
    pub fn group_ids(&self) -> Vec<String> {
        self.coord.groups.keys().cloned().collect()
    }

    /// A snapshot of consumer (KIP-848) group `group_id`.
    #[must_use]
    pub fn consumer_group(&self, group_id: &str) -> Option<ConsumerGroupView> {
        self.coord
            .consumer
            .get(group_id)
            .map(|g| g.view(&self.topics))
    }

    /// Ids of all consumer (KIP-848) groups, sorted.
    #[must_use]
    pub fn consumer_group_ids(&self) -> Vec<String> {
        self.coord.consumer.keys().cloned().collect()
    }

    /// Every group epoch bump of consumer group `group_id` so far: `(at_ms, new epoch,
    /// reason)`, oldest first.
    #[must_use]
    pub fn consumer_group_epochs(&self, group_id: &str) -> &[(u64, i32, String)] {
        self.coord
            .consumer
            .get(group_id)
            .map_or(&[], |g| g.epoch_log.as_slice())
    }

    /// The committed offset of `topic`/`partition` for `group` (classic or consumer).
    #[must_use]
    pub fn committed(&self, group: &str, topic: &str, partition: i32) -> Option<i64> {
        self.coord
            .offsets_of(group)?
            .get(&(topic.to_owned(), partition))
            .map(|c| c.offset)
    }

    /// Every state change of `group` so far, oldest first (empty for an unknown group).
    #[must_use]
    pub fn transitions(&self, group: &str) -> &[Transition] {
        self.coord
            .groups
            .get(group)
            .map_or(&[], |g| g.transitions.as_slice())
    }

    /// Counters and current gauges.
    #[must_use]
    pub fn stats(&self) -> BrokerStats {
        let mut s = self.stats.clone();
        s.abandoned_requests = self.coord.env.abandoned;
        for g in self.coord.groups.values() {
            let (j, y) = g.parked();
            s.parked_joins += j;
            s.parked_syncs += y;
            s.pending_members += g.pending_member_count();
        }
        s.queued_frames = self.conns.values().map(|c| c.queue.len()).sum();
        s.busy_connections = self.conns.values().filter(|c| c.busy).count();
        s.parked_fetches = self.parked_fetches.len();
        s
    }

    /// Requests the broker could not serve (it closed their connections).
    #[must_use]
    pub fn errors(&self) -> &[BrokerError] {
        &self.errors
    }

    /// Whether `conn` has a request in progress (parked), so later frames wait.
    #[must_use]
    pub fn is_busy(&self, conn: ConnId) -> bool {
        self.conns.get(&conn).is_some_and(|c| c.busy)
    }

    /// Frames waiting on `conn` behind the request in progress.
    #[must_use]
    pub fn queued(&self, conn: ConnId) -> usize {
        self.conns.get(&conn).map_or(0, |c| c.queue.len())
    }

    // ---- machinery ----------------------------------------------------------------------

    /// Time first: fires due timers, then moves the clock to `now`.
    fn advance(&mut self, now: u64) {
        self.fire_due(now);
        self.coord.env.now = self.coord.env.now.max(now);
    }

    /// The earliest timer: the coordinator's, or a parked fetch's deadline (ties: the
    /// coordinator first, then fetches in arrival order).
    fn next_due(&self) -> Option<(u64, Due)> {
        let fetch = self
            .parked_fetches
            .iter()
            .min_by_key(|&(&seq, f)| (f.deadline, seq))
            .map(|(&seq, f)| (f.deadline, seq));
        match (self.coord.next_timer(), fetch) {
            (Some((at, t)), Some((f, _))) if at <= f => Some((at, Due::Coordinator(t))),
            (_, Some((f, seq))) => Some((f, Due::Fetch(seq))),
            (Some((at, t)), None) => Some((at, Due::Coordinator(t))),
            (None, None) => None,
        }
    }

    fn fire_due(&mut self, now: u64) {
        // Every firing disarms its timer or moves it later (or, at most once in a row, to the
        // same instant); the cap only guards against a model bug spinning forever.
        for _ in 0..1_000_000 {
            let Some((at, due)) = self.next_due() else {
                return;
            };
            if at > now {
                return;
            }
            self.coord.env.now = self.coord.env.now.max(at);
            match due {
                Due::Coordinator(timer) => self.coord.fire(&timer),
                Due::Fetch(seq) => {
                    if let Some(f) = self.parked_fetches.remove(&seq) {
                        let read = self.read_fetch(f.to.version, &f.request);
                        self.answer_fetch(f.to, read, true);
                    }
                }
            }
            self.pump();
        }
        debug_assert!(false, "timers keep firing at {now} ms");
    }

    /// Delivers replies and serves connections until nothing is runnable.
    fn pump(&mut self) {
        self.flush();
        while let Some(conn) = self.ready.pop_front() {
            let Some(c) = self.conns.get_mut(&conn) else {
                continue;
            };
            if c.busy {
                continue;
            }
            let Some(frame) = c.queue.pop_front() else {
                continue;
            };
            c.busy = true;
            self.process(conn, &frame);
            self.flush();
        }
    }

    /// Encodes the coordinator's replies; each frees its connection for the next request.
    fn flush(&mut self) {
        for Reply { to, body } in mem::take(&mut self.coord.env.replies) {
            let Some(c) = self.conns.get_mut(&to.conn) else {
                self.stats.discarded_responses += 1;
                continue;
            };
            c.busy = false;
            if !c.queue.is_empty() {
                self.ready.push_back(to.conn);
            }
            let mut buf = BytesMut::new();
            match codec::encode_response(
                CorrelationId(to.correlation_id),
                to.version,
                &body,
                &mut buf,
            ) {
                Ok(()) => {
                    // encode_response writes the 4-byte size prefix first.
                    self.output.push_back((to.conn, buf.freeze().slice(4..)));
                    self.stats.responses += 1;
                }
                Err(error) => self.errors.push(BrokerError {
                    at_ms: self.coord.env.now,
                    conn: to.conn,
                    kind: BrokerErrorKind::Encode {
                        api_key: body.api_key(),
                        version: to.version,
                        error,
                    },
                }),
            }
        }
    }

    fn reply(&mut self, to: ReplyTo, body: AnyResponse) {
        self.coord.env.replies.push(Reply { to, body });
    }

    fn close(&mut self, conn: ConnId, kind: BrokerErrorKind) {
        self.errors.push(BrokerError {
            at_ms: self.coord.env.now,
            conn,
            kind,
        });
        self.disconnect(conn);
        self.closed.push_back(conn);
        self.stats.closed_connections += 1;
    }

    fn supported(&self, key: ApiKey, version: i16) -> bool {
        self.advertised
            .get(&key)
            .is_some_and(|r| r.contains(version))
    }

    /// KIP-511: an ApiVersions version we do not support gets a v0 answer with error 35 and
    /// our ApiVersions range.
    fn unsupported_api_versions(&mut self, conn: ConnId, correlation_id: i32) {
        let ranges = self.advertised.get_key_value(&ApiKey::ApiVersions);
        let body = responses::api_versions(
            ErrorCode::UNSUPPORTED_VERSION,
            ranges.map(|(&k, &r)| (k, r)),
        );
        let to = ReplyTo {
            conn,
            correlation_id,
            version: 0,
        };
        self.reply(to, body);
    }

    fn count(&mut self, key: ApiKey) {
        *self.stats.requests.entry(key).or_default() += 1;
    }

    /// Coordinator-level checks of group APIs (`validateGroupStatus`).
    fn group_error(&self, group_id: &str, require_id: bool) -> Option<ErrorCode> {
        if require_id && group_id.is_empty() {
            Some(ErrorCode::INVALID_GROUP_ID)
        } else if !self.coordinator_available {
            Some(ErrorCode::COORDINATOR_NOT_AVAILABLE)
        } else if self.not_coordinator {
            Some(ErrorCode::NOT_COORDINATOR)
        } else {
            None
        }
    }

    fn take_injection(&mut self, key: ApiKey) -> Option<ErrorCode> {
        let (code, left) = self.injections.get_mut(&key)?;
        let code = ErrorCode(*code);
        *left -= 1;
        if *left == 0 {
            self.injections.remove(&key);
        }
        self.stats.injected_errors += 1;
        Some(code)
    }

    fn process(&mut self, conn: ConnId, frame: &Bytes) {
        let (header, req) = match codec::decode_request(frame) {
            Ok(x) => x,
            Err(err) => {
                if let Ok((h, _)) = RequestHeader::decode_auto(frame) {
                    let key = ApiKey::ApiVersions;
                    if h.api_key == key.as_i16() && !self.supported(key, h.api_version) {
                        self.count(key);
                        return self.unsupported_api_versions(conn, h.correlation_id);
                    }
                }
                return self.close(conn, BrokerErrorKind::Undecodable(err));
            }
        };
        let key = req.api_key();
        let version = header.api_version;
        self.count(key);
        if !self.supported(key, version) {
            if key == ApiKey::ApiVersions {
                return self.unsupported_api_versions(conn, header.correlation_id);
            }
            let kind = BrokerErrorKind::Unsupported {
                api_key: key.as_i16(),
                version,
            };
            return self.close(conn, kind);
        }
        let to = ReplyTo {
            conn,
            correlation_id: header.correlation_id,
            version,
        };
        if let Some(code) = self.take_injection(key) {
            if let Some(body) = responses::error_response(&req, version, code) {
                return self.reply(to, body);
            }
        }
        let client_id = header.client_id.as_deref().unwrap_or_default().to_owned();
        self.dispatch(to, client_id, req);
    }

    fn dispatch(&mut self, to: ReplyTo, client_id: String, req: AnyRequest) {
        let version = to.version;
        let body = match req {
            AnyRequest::ApiVersions(_) => {
                let ranges = self.advertised.iter().map(|(&k, &r)| (k, r));
                responses::api_versions(ErrorCode::NONE, ranges)
            }
            AnyRequest::Metadata(r) => self.metadata(version, &r),
            AnyRequest::FindCoordinator(r) => self.find_coordinator(version, &r),
            AnyRequest::ConsumerGroupHeartbeat(r) => match self.group_error(&r.group_id, false) {
                Some(e) => AnyResponse::ConsumerGroupHeartbeat(
                    kafka_wire::generated::ConsumerGroupHeartbeatResponse {
                        error_code: e.0,
                        ..Default::default()
                    },
                ),
                None => AnyResponse::ConsumerGroupHeartbeat(self.coord.consumer_heartbeat(
                    &self.topics,
                    version,
                    &client_id,
                    &r,
                )),
            },
            AnyRequest::JoinGroup(r) => {
                let conflict = self
                    .group_error(&r.group_id, true)
                    .or_else(|| self.coord.classic_join_conflict(&r.group_id));
                if let Some(e) = conflict {
                    let result = responses::JoinResult::error(&r.member_id, e);
                    responses::join(version, &result)
                } else {
                    let protocols = r.protocols.iter();
                    self.coord.join(JoinReq {
                        group_id: r.group_id.to_string(),
                        member_id: r.member_id.to_string(),
                        instance_id: r.group_instance_id.as_deref().map(str::to_owned),
                        client_id,
                        session_timeout_ms: r.session_timeout_ms,
                        // v0 has no rebalance timeout: Kafka uses the session timeout.
                        rebalance_timeout_ms: if version == 0 {
                            r.session_timeout_ms
                        } else {
                            r.rebalance_timeout_ms
                        },
                        protocol_type: r.protocol_type.to_string(),
                        protocols: protocols
                            .map(|p| (p.name.to_string(), p.metadata.clone()))
                            .collect(),
                        to,
                    });
                    return;
                }
            }
            AnyRequest::SyncGroup(r) => {
                if let Some(e) = self.group_error(&r.group_id, true).or_else(|| {
                    let consumer = self.coord.is_consumer_group(&r.group_id);
                    consumer.then_some(ErrorCode::UNKNOWN_MEMBER_ID)
                }) {
                    responses::sync(version, e, None, None, Bytes::new())
                } else {
                    let assignments = r.assignments.iter();
                    self.coord.sync(SyncReq {
                        group_id: r.group_id.to_string(),
                        generation: r.generation_id,
                        member_id: r.member_id.to_string(),
                        instance_id: r.group_instance_id.as_deref().map(str::to_owned),
                        protocol_type: r.protocol_type.as_deref().map(str::to_owned),
                        protocol_name: r.protocol_name.as_deref().map(str::to_owned),
                        assignments: assignments
                            .map(|a| (a.member_id.to_string(), a.assignment.clone()))
                            .collect(),
                        to,
                    });
                    return;
                }
            }
            AnyRequest::Heartbeat(r) => {
                let e = self.group_error(&r.group_id, true).unwrap_or_else(|| {
                    if self.coord.is_consumer_group(&r.group_id) {
                        return ErrorCode::UNKNOWN_MEMBER_ID;
                    }
                    self.coord.heartbeat(
                        &r.group_id,
                        &r.member_id,
                        r.group_instance_id.as_deref(),
                        r.generation_id,
                    )
                });
                responses::heartbeat(e)
            }
            AnyRequest::LeaveGroup(r) => self.leave_group(version, &r),
            AnyRequest::OffsetCommit(r) => self.offset_commit(version, &r),
            AnyRequest::OffsetFetch(r) => self.offset_fetch(version, &r),
            AnyRequest::Fetch(r) => return self.fetch(to, r),
            AnyRequest::ListOffsets(r) => {
                AnyResponse::ListOffsets(self.logs.list_offsets(&self.topics, version, &r))
            }
            other => {
                // `supported` admits only the APIs above.
                let kind = BrokerErrorKind::Unsupported {
                    api_key: other.api_key().as_i16(),
                    version,
                };
                return self.close(to.conn, kind);
            }
        };
        self.reply(to, body);
    }

    /// The versions of `api` the model can serve (clipped to kafka-wire's), if any.
    fn served(&self, api: ApiKey) -> Option<VersionRange> {
        let wire = api.versions();
        if IMPLEMENTED.contains(&api) {
            return Some(wire);
        }
        let &(_, floor) = FETCH_APIS.iter().find(|(k, _)| *k == api)?;
        let min = wire.min.max(floor);
        (self.coord.env.cfg.serve_fetch && min <= wire.max)
            .then(|| VersionRange::new(min, wire.max))
    }

    fn read_fetch(&self, version: i16, r: &FetchRequest) -> FetchRead {
        self.logs.read_fetch(&self.topics, version, r)
    }

    /// Answers a Fetch at once if it has `min_bytes` of records, must not wait (an error, no
    /// partition to read, `max_wait_ms <= 0`), else parks it until `max_wait_ms` from now.
    fn fetch(&mut self, to: ReplyTo, request: FetchRequest) {
        let read = self.read_fetch(to.version, &request);
        let wait = u64::try_from(request.max_wait_ms).unwrap_or(0);
        if read.urgent || wait == 0 || enough(&read, &request) {
            return self.answer_fetch(to, read, false);
        }
        self.next_fetch += 1;
        let parked = ParkedFetch {
            to,
            deadline: self.coord.env.now.saturating_add(wait),
            request,
        };
        self.parked_fetches.insert(self.next_fetch, parked);
    }

    /// Reads parked fetch `seq` again (data arrived) and answers it if it has enough now.
    fn recheck_fetch(&mut self, seq: u64) {
        let Some(f) = self.parked_fetches.get(&seq) else {
            return;
        };
        let read = self.read_fetch(f.to.version, &f.request);
        if read.urgent || enough(&read, &f.request) {
            if let Some(f) = self.parked_fetches.remove(&seq) {
                self.answer_fetch(f.to, read, true);
            }
        }
    }

    fn answer_fetch(&mut self, to: ReplyTo, read: FetchRead, parked: bool) {
        self.stats.fetch_responses += 1;
        self.stats.fetches_parked += u64::from(parked);
        self.stats.fetch_record_bytes += read.bytes as u64;
        self.reply(to, AnyResponse::Fetch(read.body));
    }

    fn metadata(&self, version: i16, r: &MetadataRequest) -> AnyResponse {
        let cfg = &self.coord.env.cfg;
        // v0: an empty list means all topics; v1+: null means all, empty means none.
        let all = match &r.topics {
            None => true,
            Some(t) => version == 0 && t.is_empty(),
        };
        let topics = if all {
            self.topics
                .iter()
                .map(|(name, t)| self.topic_metadata(version, name, *t))
                .collect()
        } else {
            let requested = r.topics.iter().flatten();
            requested
                .map(|req| {
                    let by_name = req.name.as_deref().filter(|n| !n.is_empty());
                    let found = match by_name {
                        Some(n) => self.topics.get_key_value(n),
                        None => self.topics.iter().find(|(_, t)| t.id == req.topic_id),
                    };
                    match found {
                        Some((name, t)) => self.topic_metadata(version, name, *t),
                        None => MetadataResponseTopic {
                            error_code: if by_name.is_some() {
                                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0
                            } else {
                                ErrorCode::UNKNOWN_TOPIC_ID.0
                            },
                            name: match (&req.name, version >= 12) {
                                (Some(n), _) => Some(n.clone()),
                                (None, true) => None,
                                (None, false) => Some("".into()),
                            },
                            topic_id: if version >= 10 {
                                req.topic_id
                            } else {
                                Uuid::ZERO
                            },
                            ..Default::default()
                        },
                    }
                })
                .collect()
        };
        AnyResponse::Metadata(MetadataResponse {
            brokers: core::iter::once(MetadataResponseBroker {
                node_id: cfg.node_id,
                host: cfg.host.as_str().into(),
                port: cfg.port,
                rack: None,
                ..Default::default()
            })
            .chain(
                cfg.replica_racks
                    .iter()
                    .zip(1..)
                    .map(|(rack, k)| MetadataResponseBroker {
                        node_id: cfg.node_id + k,
                        host: cfg.host.as_str().into(),
                        port: cfg.port,
                        rack: Some(rack.as_str().into()),
                        ..Default::default()
                    }),
            )
            .collect(),
            cluster_id: Some(cfg.cluster_id.as_str().into()),
            controller_id: cfg.node_id,
            topics,
            ..Default::default()
        })
    }

    fn topic_metadata(&self, version: i16, name: &str, t: Topic) -> MetadataResponseTopic {
        let node = self.coord.env.cfg.node_id;
        let extra = i32::try_from(self.coord.env.cfg.replica_racks.len()).unwrap_or(0);
        let replicas = |p: i32| -> Vec<i32> {
            if extra == 0 {
                vec![node]
            } else {
                vec![node, node + 1 + p % extra]
            }
        };
        MetadataResponseTopic {
            error_code: 0,
            name: Some(name.into()),
            topic_id: if version >= 10 { t.id } else { Uuid::ZERO },
            is_internal: false,
            partitions: (0..t.partitions)
                .map(|p| MetadataResponsePartition {
                    error_code: 0,
                    partition_index: p,
                    leader_id: node,
                    leader_epoch: if version >= 7 { 0 } else { -1 },
                    replica_nodes: replicas(p).into(),
                    isr_nodes: replicas(p).into(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn find_coordinator(&self, version: i16, r: &FindCoordinatorRequest) -> AnyResponse {
        let cfg = &self.coord.env.cfg;
        let keys: Vec<String> = if version >= 4 {
            r.coordinator_keys.iter().map(ToString::to_string).collect()
        } else {
            vec![r.key.to_string()]
        };
        // Key types: 0 group, 1 transaction, 2 share group.
        let error = if !(0..=2).contains(&r.key_type) {
            ErrorCode::INVALID_REQUEST
        } else if !self.coordinator_available {
            ErrorCode::COORDINATOR_NOT_AVAILABLE
        } else {
            ErrorCode::NONE
        };
        responses::find_coordinator(
            version,
            &keys,
            error,
            (cfg.node_id, cfg.host.as_str(), cfg.port),
        )
    }

    fn leave_group(&mut self, version: i16, r: &LeaveGroupRequest) -> AnyResponse {
        let members: Vec<(String, Option<String>)> = if version >= 3 {
            r.members
                .iter()
                .map(|m| {
                    let inst = m.group_instance_id.as_deref().map(str::to_owned);
                    (m.member_id.to_string(), inst)
                })
                .collect()
        } else {
            vec![(r.member_id.to_string(), None)]
        };
        if let Some(e) = self.group_error(&r.group_id, true) {
            return responses::leave(version, e, &[]);
        }
        if self.coord.is_consumer_group(&r.group_id) {
            // Its members are not classic members: none of them is known here.
            let rows: Vec<_> = members
                .into_iter()
                .map(|(m, i)| (m, i, ErrorCode::UNKNOWN_MEMBER_ID))
                .collect();
            let top = if version >= 3 {
                ErrorCode::NONE
            } else {
                ErrorCode::UNKNOWN_MEMBER_ID
            };
            return responses::leave(version, top, &rows);
        }
        match self.coord.leave(&r.group_id, &members) {
            Ok(codes) => {
                let rows: Vec<_> = members
                    .into_iter()
                    .zip(codes)
                    .map(|((m, i), e)| (m, i, e))
                    .collect();
                responses::leave(version, ErrorCode::NONE, &rows)
            }
            Err(e) => responses::leave(version, e, &[]),
        }
    }

    /// The name of a requested topic: by name before v10, by id from v10.
    fn resolve_topic(&self, version: i16, name: &str, id: Uuid) -> Result<String, ErrorCode> {
        if version >= 10 {
            self.topics
                .iter()
                .find(|(_, t)| t.id == id)
                .map(|(n, _)| n.clone())
                .ok_or(ErrorCode::UNKNOWN_TOPIC_ID)
        } else if self.topics.contains_key(name) {
            Ok(name.to_owned())
        } else {
            Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        }
    }

    fn offset_commit(&mut self, version: i16, r: &OffsetCommitRequest) -> AnyResponse {
        let group_id = r.group_id.to_string();
        let valid = match self.group_error(&group_id, false) {
            Some(e) => Err(e),
            None => self.coord.validate_commit(
                version,
                &group_id,
                r.generation_id_or_member_epoch,
                &r.member_id,
                r.group_instance_id.as_deref(),
            ),
        };
        let mut topics = Vec::with_capacity(r.topics.len());
        for t in &r.topics {
            let topic = self.resolve_topic(version, &t.name, t.topic_id);
            let mut partitions = Vec::with_capacity(t.partitions.len());
            for p in &t.partitions {
                let error = match (valid, topic.as_ref()) {
                    (Err(e), _) | (Ok(()), Err(&e)) => e,
                    (Ok(()), Ok(name)) => {
                        let c = Committed {
                            offset: p.committed_offset,
                            leader_epoch: p.committed_leader_epoch,
                            metadata: p.committed_metadata.as_deref().map(str::to_owned),
                        };
                        self.coord
                            .store_offset(&group_id, name, p.partition_index, c);
                        ErrorCode::NONE
                    }
                };
                partitions.push(OffsetCommitResponsePartition {
                    partition_index: p.partition_index,
                    error_code: error.0,
                    ..Default::default()
                });
            }
            topics.push(OffsetCommitResponseTopic {
                name: if version < 10 {
                    t.name.clone()
                } else {
                    "".into()
                },
                topic_id: if version >= 10 {
                    t.topic_id
                } else {
                    Uuid::ZERO
                },
                partitions,
                ..Default::default()
            });
        }
        if valid.is_ok() {
            self.coord.commit_refresh(&group_id, &r.member_id);
        }
        AnyResponse::OffsetCommit(OffsetCommitResponse {
            topics,
            ..Default::default()
        })
    }

    /// Committed offsets of `group_id`: every one if `requested` is `None`, else the listed
    /// partitions (-1 where nothing is committed). Topics are `(name, id, partitions)`.
    fn fetch_offsets(
        &self,
        version: i16,
        group_id: &str,
        requested: Option<Vec<(String, Uuid, Vec<i32>)>>,
    ) -> Vec<(String, Uuid, Vec<Fetched>)> {
        let offsets = self.coord.offsets_of(group_id);
        let found = |topic: &str, partition: i32, error: ErrorCode| {
            let c = offsets.and_then(|o| o.get(&(topic.to_owned(), partition)));
            Fetched {
                partition,
                offset: c.map_or(-1, |c| c.offset),
                leader_epoch: c.map_or(-1, |c| c.leader_epoch),
                metadata: c.and_then(|c| c.metadata.clone()).unwrap_or_default(),
                error,
            }
        };
        let id_of = |name: &str| self.topics.get(name).map_or(Uuid::ZERO, |t| t.id);
        match requested {
            None => {
                let mut out: Vec<(String, Uuid, Vec<Fetched>)> = Vec::new();
                for (topic, partition) in offsets.into_iter().flat_map(|o| o.keys()) {
                    if out.last().is_none_or(|(t, _, _)| t != topic) {
                        out.push((topic.clone(), id_of(topic), Vec::new()));
                    }
                    if let Some(last) = out.last_mut() {
                        last.2.push(found(topic, *partition, ErrorCode::NONE));
                    }
                }
                out
            }
            Some(topics) => topics
                .into_iter()
                .map(|(name, id, partitions)| {
                    let (name, error) = if version >= 10 {
                        match self.resolve_topic(version, &name, id) {
                            Ok(n) => (n, ErrorCode::NONE),
                            Err(e) => (String::new(), e),
                        }
                    } else {
                        (name, ErrorCode::NONE)
                    };
                    let parts = partitions
                        .into_iter()
                        .map(|p| found(&name, p, error))
                        .collect();
                    (name, id, parts)
                })
                .collect(),
        }
    }

    fn offset_fetch(&mut self, version: i16, r: &OffsetFetchRequest) -> AnyResponse {
        if version >= 8 {
            let groups = r
                .groups
                .iter()
                .map(|g| {
                    let member_check = (version >= 9)
                        .then(|| self.coord.consumer.get(&*g.group_id))
                        .flatten()
                        .and_then(|cg| cg.validate_fetch(g.member_id.as_deref(), g.member_epoch));
                    if let Some(e) = self.group_error(&g.group_id, false).or(member_check) {
                        return OffsetFetchResponseGroup {
                            group_id: g.group_id.clone(),
                            error_code: e.0,
                            ..Default::default()
                        };
                    }
                    let requested = g.topics.as_ref().map(|ts| {
                        ts.iter()
                            .map(|t| (t.name.to_string(), t.topic_id, t.partition_indexes.to_vec()))
                            .collect()
                    });
                    let topics = self.fetch_offsets(version, &g.group_id, requested);
                    OffsetFetchResponseGroup {
                        group_id: g.group_id.clone(),
                        topics: topics
                            .into_iter()
                            .map(|(name, id, parts)| OffsetFetchResponseTopics {
                                name: if version < 10 { name.into() } else { "".into() },
                                topic_id: if version >= 10 { id } else { Uuid::ZERO },
                                partitions: parts
                                    .into_iter()
                                    .map(|f| OffsetFetchResponsePartitions {
                                        partition_index: f.partition,
                                        committed_offset: f.offset,
                                        committed_leader_epoch: f.leader_epoch,
                                        metadata: Some(f.metadata.into()),
                                        error_code: f.error.0,
                                        ..Default::default()
                                    })
                                    .collect(),
                                ..Default::default()
                            })
                            .collect(),
                        error_code: 0,
                        ..Default::default()
                    }
                })
                .collect();
            return AnyResponse::OffsetFetch(OffsetFetchResponse {
                groups,
                ..Default::default()
            });
        }
        if let Some(e) = self.group_error(&r.group_id, false) {
            let req = AnyRequest::OffsetFetch(r.clone());
            if let Some(body) = responses::error_response(&req, version, e) {
                return body;
            }
        }
        let requested = r.topics.as_ref().map(|ts| {
            ts.iter()
                .map(|t| (t.name.to_string(), Uuid::ZERO, t.partition_indexes.to_vec()))
                .collect()
        });
        let topics = self.fetch_offsets(version, &r.group_id, requested);
        AnyResponse::OffsetFetch(OffsetFetchResponse {
            topics: topics
                .into_iter()
                .map(|(name, _, parts)| OffsetFetchResponseTopic {
                    name: name.into(),
                    partitions: parts
                        .into_iter()
                        .map(|f| OffsetFetchResponsePartition {
                            partition_index: f.partition,
                            committed_offset: f.offset,
                            committed_leader_epoch: if version >= 5 { f.leader_epoch } else { -1 },
                            metadata: Some(f.metadata.into()),
                            error_code: f.error.0,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            error_code: 0,
            ..Default::default()
        })
    }
}

/// Whether a Fetch read carries the request's `min_bytes` of records.
fn enough(read: &FetchRead, request: &FetchRequest) -> bool {
    i64::try_from(read.bytes).unwrap_or(i64::MAX) >= i64::from(request.min_bytes)
}
