//! The fetch state machine: positions, ListOffsets resets and Fetch requests per leader.
//!
//! A [`Fetcher`] owns the fetch position of every partition the consumer is assigned and
//! decides, from metadata and broker answers, which `ListOffsets` and `Fetch` requests to send.
//! It does no IO and reads no clock: the caller passes `now` and drives it.
//!
//! # Lifecycle of a partition
//!
//! 1. [`Fetcher::assign`] adds it; it waits for its committed offset.
//! 2. [`Fetcher::committed`] gives that offset: `>= 0` becomes the position, `-1` (no
//!    committed offset) starts a reset by the [`ResetPolicy`] (a `ListOffsets` request for
//!    the earliest or latest offset). [`Fetcher::seek`] sets a position directly at any time.
//! 3. With a position and a known leader, the partition goes into the next `Fetch` to that
//!    leader. Records come out of [`Fetcher::poll_event`] in offset order, and the position
//!    moves past each record as it is handed out, so [`Fetcher::positions`] is exactly what the
//!    application has received (the offsets to commit).
//! 4. [`Fetcher::remove`] stops and forgets it (revoked or lost), returning its position.
//!
//! # Method families
//!
//! * Getters (`&self`): [`positions`](Fetcher::positions), [`assigned`](Fetcher::assigned),
//!   [`poll_timeout`](Fetcher::poll_timeout).
//! * Inputs from the network: [`update_metadata`](Fetcher::update_metadata),
//!   [`committed`](Fetcher::committed), [`handle_response`](Fetcher::handle_response),
//!   [`handle_failed`](Fetcher::handle_failed).
//! * Application commands: [`assign`](Fetcher::assign), [`seek`](Fetcher::seek),
//!   [`remove`](Fetcher::remove), [`pause`](Fetcher::pause), [`resume`](Fetcher::resume).
//! * Outputs: [`poll_request`](Fetcher::poll_request), [`poll_event`](Fetcher::poll_event).
//!
//! # Polling contract
//!
//! After any `&mut self` call, call [`poll_request`](Fetcher::poll_request) until it returns
//! `None` and send what it returns, drain [`poll_event`](Fetcher::poll_event) (at the
//! application's pace: no partition is fetched again while records of its previous response
//! wait in the queue), then wait until [`poll_timeout`](Fetcher::poll_timeout) (when a
//! back-off ends) or the next input. `now` must not go backwards.
//!
//! # What the fetcher does not do (yet)
//!
//! No fetch sessions (KIP-227: session id 0, epoch -1 on every request), no follower fetching
//! (KIP-392), no offset validation against the leader epoch (`OffsetsForLeaderEpoch`, KIP-320),
//! no leader hints from the response (KIP-951). Back-off is a fixed
//! [`FetchConfig::retry_backoff`].

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::num::NonZeroU64;
use core::time::Duration;

use bytes::Bytes;
use group_fsm::assignor::TopicPartition;
use group_fsm::{Instant, Offset};
use kafka_wire::VersionRange;
use kafka_wire::error_code::ErrorCode;
use kafka_wire::generated::fetch_request::{FetchPartition, FetchRequest, FetchTopic};
use kafka_wire::generated::fetch_response::{FetchResponse, PartitionData};
use kafka_wire::generated::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use kafka_wire::generated::list_offsets_response::ListOffsetsResponse;
use kafka_wire::generated::metadata_response::MetadataResponse;
use kafka_wire::records::{Batch, BatchIter, ControlRecordType, DecodeOptions, TimestampType};
use kafka_wire::{AnyRequest, AnyResponse, ApiKey, DecodeError, NegotiatedVersions, Uuid};

use group_fsm::vec_map::VecMap;

/// The Fetch versions this module builds requests for (4 is the floor of Kafka 4.x; 13 adds
/// topic ids).
pub const FETCH_VERSIONS: VersionRange = VersionRange::new(4, 18);

/// The ListOffsets versions this module builds requests for (0 was removed in Kafka 4.0).
pub const LIST_OFFSETS_VERSIONS: VersionRange = VersionRange::new(1, 11);

/// First Fetch version that names topics by id instead of by name.
pub(crate) const FETCH_TOPIC_ID_VERSION: i16 = 13;

/// ListOffsets timestamp asking for the earliest offset.
pub const EARLIEST_TIMESTAMP: i64 = -2;

/// ListOffsets timestamp asking for the latest offset (the high watermark, or the last
/// stable offset under `read_committed`).
pub const LATEST_TIMESTAMP: i64 = -1;

/// What to do when a partition has no valid position (`auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ResetPolicy {
    /// Start from the earliest offset the broker still holds.
    Earliest,
    /// Start from the latest offset (only records produced from now on).
    #[default]
    Latest,
    /// Do not guess: report [`FetchError::NoOffset`] or [`FetchError::OffsetOutOfRange`] and
    /// stop the partition until [`Fetcher::seek`].
    None,
}

impl ResetPolicy {
    /// The ListOffsets timestamp for this policy, `None` for [`ResetPolicy::None`].
    #[must_use]
    pub const fn timestamp(self) -> Option<i64> {
        match self {
            Self::Earliest => Some(EARLIEST_TIMESTAMP),
            Self::Latest => Some(LATEST_TIMESTAMP),
            Self::None => None,
        }
    }
}

/// Fetcher settings; [`Default`] gives the Java consumer's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchConfig {
    /// `auto.offset.reset` (default [`ResetPolicy::Latest`]).
    pub reset: ResetPolicy,
    /// `fetch.max.wait.ms`: how long the broker may hold a Fetch waiting for `min_bytes`
    /// (default 500 ms).
    pub max_wait: Duration,
    /// `fetch.min.bytes` (default 1).
    pub min_bytes: i32,
    /// `fetch.max.bytes`: response size limit (default 52 428 800; KIP-74: the broker still
    /// returns at least one batch).
    pub max_bytes: i32,
    /// `max.partition.fetch.bytes` (default 1 048 576).
    pub partition_max_bytes: i32,
    /// `isolation.level`: 0 = read_uncommitted (default), 1 = read_committed (aborted
    /// transactions are filtered out).
    pub isolation_level: i8,
    /// `retry.backoff.ms`: how long a partition waits after an error (default 100 ms).
    pub retry_backoff: Duration,
    /// `request.timeout.ms` (default 30 s). A Fetch's timeout adds `max_wait`.
    pub request_timeout: Duration,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            reset: ResetPolicy::Latest,
            max_wait: Duration::from_millis(500),
            min_bytes: 1,
            max_bytes: 52_428_800,
            partition_max_bytes: 1_048_576,
            isolation_level: 0,
            retry_backoff: Duration::from_millis(100),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Identifies a request the fetcher asked to send; hand it back with the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FetchRequestId(pub u64);

/// A request to send: `request` at `version` to broker `node`, answered (or failed) within
/// `timeout`.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchSend {
    /// Pass to [`Fetcher::handle_response`] or [`Fetcher::handle_failed`].
    pub id: FetchRequestId,
    /// Broker id (the partitions' leader).
    pub node: i32,
    /// A `Fetch` or `ListOffsets` request.
    pub request: AnyRequest,
    /// The version to encode it at (negotiated with `node`, within [`FETCH_VERSIONS`] or
    /// [`LIST_OFFSETS_VERSIONS`]).
    pub version: i16,
    /// When to give up and call [`Fetcher::handle_failed`].
    pub timeout: Duration,
}

/// One record handed to the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Absolute offset.
    pub offset: i64,
    /// Create time, or the broker's append time for log-append-time topics; -1 if unknown.
    pub timestamp: i64,
    /// Key, a zero-copy slice of the response when the batch was not compressed.
    pub key: Option<Bytes>,
    /// Value, a zero-copy slice of the response when the batch was not compressed.
    pub value: Option<Bytes>,
    /// Headers in order.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// The batch's partition leader epoch (-1 for legacy messages).
    pub leader_epoch: i32,
}

/// Something the application or the integrator must see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchEvent {
    /// The next record of a partition; its position is now `offset + 1`.
    Record(ConsumerRecord),
    /// Leaders are unknown or stale: refresh metadata and call [`Fetcher::update_metadata`].
    /// Emitted once until that call.
    NeedMetadata,
    /// A reset by the [`ResetPolicy`] finished: the partition now fetches from `offset`.
    OffsetReset {
        /// The partition.
        partition: TopicPartition,
        /// Its new position.
        offset: i64,
    },
    /// Something went wrong for one partition or request; see [`FetchError`] for what
    /// happens next. Other partitions go on.
    Error(FetchError),
}

/// Problems the fetcher reports as [`FetchEvent::Error`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The position is outside the log and the policy is [`ResetPolicy::None`]: the partition
    /// stops until [`Fetcher::seek`].
    #[error("offset {offset} is out of range for {partition:?}")]
    OffsetOutOfRange {
        /// The partition.
        partition: TopicPartition,
        /// The position that was out of range.
        offset: i64,
    },
    /// No committed offset and the policy is [`ResetPolicy::None`]: the partition waits for
    /// [`Fetcher::seek`].
    #[error("no committed offset for {partition:?} and no reset policy")]
    NoOffset {
        /// The partition.
        partition: TopicPartition,
    },
    /// The broker answered with an error for a partition; it is retried after the back-off.
    #[error("broker error {code} for {partition:?}")]
    Broker {
        /// The partition.
        partition: TopicPartition,
        /// The broker's error code.
        code: ErrorCode,
    },
    /// A whole request failed with a top-level error; its partitions retry after the back-off.
    #[error("{api:?} to node {node} failed: {code}")]
    Request {
        /// The broker.
        node: i32,
        /// Which API.
        api: ApiKey,
        /// The top-level error code.
        code: ErrorCode,
    },
    /// The committed offset of a partition could not be fetched (the OffsetFetch partition
    /// error); the partition keeps waiting for [`Fetcher::committed`] or [`Fetcher::seek`].
    #[error("committed offset for {partition:?} failed: {code}")]
    Committed {
        /// The partition.
        partition: TopicPartition,
        /// The OffsetFetch error code.
        code: ErrorCode,
    },
    /// The records of a partition did not decode at `offset`; records before the bad entry
    /// are delivered, then the fetch is retried after the back-off (seek past it to skip it).
    #[error("undecodable records for {partition:?} at offset {offset}: {error}")]
    Decode {
        /// The partition.
        partition: TopicPartition,
        /// The position the bad data was fetched for.
        offset: i64,
        /// What kafka-wire found.
        #[source]
        error: DecodeError,
    },
    /// The broker returned `bytes` of records but nothing at or after the position could be
    /// read (a batch larger than the fetch size from a broker ignoring KIP-74, or data before
    /// the position only); retried after the back-off instead of looping.
    #[error("no progress for {partition:?} at offset {offset} in {bytes} bytes of records")]
    NoProgress {
        /// The partition.
        partition: TopicPartition,
        /// The position.
        offset: i64,
        /// Size of the records blob.
        bytes: usize,
    },
    /// ListOffsets answered a negative offset without an error; retried after the back-off.
    #[error("broker returned invalid offset {offset} for {partition:?}")]
    InvalidOffset {
        /// The partition.
        partition: TopicPartition,
        /// The offset it returned.
        offset: i64,
    },
    /// The answer to a request was a different API; its partitions retry after the back-off.
    #[error("node {node} answered {got:?} to a {expected:?} request")]
    UnexpectedResponse {
        /// The broker.
        node: i32,
        /// The API of the request.
        expected: ApiKey,
        /// The API of the answer.
        got: ApiKey,
    },
    /// The broker supports no version of `api` this module builds; its partitions wait
    /// (reported once per broker and API).
    #[error("node {node} supports no usable version of {api:?}")]
    UnsupportedVersion {
        /// The broker.
        node: i32,
        /// The API.
        api: ApiKey,
    },
    /// [`Fetcher::seek`] on a partition that is not assigned; ignored.
    #[error("{partition:?} is not assigned")]
    NotAssigned {
        /// The partition.
        partition: TopicPartition,
    },
    /// [`Fetcher::seek`] to a negative offset; ignored.
    #[error("cannot seek {partition:?} to negative offset {offset}")]
    InvalidSeek {
        /// The partition.
        partition: TopicPartition,
        /// The offset asked for.
        offset: i64,
    },
}

/// Error codes after which the leader (or the topic) must be looked up again.
const METADATA_ERRORS: &[ErrorCode] = &[
    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
    ErrorCode::LEADER_NOT_AVAILABLE,
    ErrorCode::NOT_LEADER_OR_FOLLOWER,
    ErrorCode::REPLICA_NOT_AVAILABLE,
    ErrorCode::KAFKA_STORAGE_ERROR,
    ErrorCode::FENCED_LEADER_EPOCH,
    ErrorCode::UNKNOWN_LEADER_EPOCH,
    ErrorCode::OFFSET_NOT_AVAILABLE,
    ErrorCode::UNKNOWN_TOPIC_ID,
    ErrorCode::INCONSISTENT_TOPIC_ID,
];

fn is_metadata_error(code: ErrorCode) -> bool {
    METADATA_ERRORS.contains(&code)
}

/// A fetch position: the next offset and the leader epoch of the last record before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    offset: i64,
    epoch: i32,
}

/// What a partition waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Assigned; its committed offset is not known yet.
    AwaitingCommitted,
    /// Needs a ListOffsets for this timestamp.
    AwaitingReset(i64),
    /// Has a position and is fetched.
    Fetching(Position),
    /// Stopped by an error under [`ResetPolicy::None`] until a seek.
    Stopped(Option<Position>),
}

/// Everything the fetcher knows about one assigned partition.
#[derive(Debug)]
struct PartState {
    phase: Phase,
    /// Changes whenever the position is set from outside the fetch flow (seek, reset, pause):
    /// answers to requests built under another generation are discarded.
    generation: u64,
    paused: bool,
    backoff_until: Option<Instant>,
    /// The Fetch this partition is part of.
    fetch_in_flight: Option<NonZeroU64>,
    /// The ListOffsets this partition is part of.
    reset_in_flight: Option<NonZeroU64>,
    /// Records fetched but not handed out yet; `None` when there are none (boxed: most
    /// partitions of an idle group have none, and this keeps their entry small).
    buffered: Option<Box<Buffered>>,
}

/// A partition's fetched records not handed out yet.
#[derive(Debug)]
struct Buffered {
    /// In offset order; never empty.
    records: VecDeque<ConsumerRecord>,
    /// Where the position goes once `records` is drained (past skipped control batches,
    /// aborted batches and compacted gaps at the end of the response).
    advance_to: Option<i64>,
}

impl PartState {
    const fn position(&self) -> Option<Position> {
        match self.phase {
            Phase::Fetching(p) | Phase::Stopped(Some(p)) => Some(p),
            _ => None,
        }
    }
}

/// A partition's leader from metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Leader {
    node: i32,
    epoch: i32,
}

#[derive(Debug, Default)]
struct TopicMeta {
    id: Uuid,
    partitions: VecMap<i32, Leader>,
}

/// What a request carried for one partition: the generation it was built under and the fetch
/// offset (Fetch) or timestamp (ListOffsets).
#[derive(Debug, Clone, Copy)]
struct Sent {
    generation: u64,
    value: i64,
}

#[derive(Debug)]
struct InFlight {
    node: i32,
    version: i16,
    api: ApiKey,
    parts: BTreeMap<TopicPartition, Sent>,
    /// Topic id to name, for Fetch v13+ responses.
    ids: BTreeMap<Uuid, String>,
}

/// An entry of the output queue.
#[derive(Debug)]
enum Ready {
    Event(FetchEvent),
    /// The next records of a partition's buffer, if still of this generation.
    Records(TopicPartition, u64),
}

/// The fetch state machine of one consumer (see the [module docs](self)).
#[derive(Debug)]
pub struct Fetcher {
    config: FetchConfig,
    parts: VecMap<TopicPartition, PartState>,
    topics: VecMap<String, TopicMeta>,
    in_flight: BTreeMap<u64, InFlight>,
    fetch_nodes: BTreeSet<i32>,
    list_nodes: BTreeSet<i32>,
    ready: VecDeque<Ready>,
    next_id: u64,
    next_generation: u64,
    metadata_requested: bool,
    /// (node, API) pairs already reported as unsupported (a short list).
    unsupported: Vec<(i32, ApiKey)>,
}

impl Fetcher {
    /// A fetcher with no partitions and no metadata.
    #[must_use]
    pub const fn new(config: FetchConfig) -> Self {
        Self {
            config,
            parts: VecMap::new(),
            topics: VecMap::new(),
            in_flight: BTreeMap::new(),
            fetch_nodes: BTreeSet::new(),
            list_nodes: BTreeSet::new(),
            ready: VecDeque::new(),
            next_id: 0,
            next_generation: 0,
            metadata_requested: false,
            unsupported: Vec::new(),
        }
    }

    /// The settings.
    #[must_use]
    pub const fn config(&self) -> &FetchConfig {
        &self.config
    }

    // ---------------------------------------------------------------------------------------
    // Getters

    /// The next offset to consume of every partition with a known position (what the
    /// application has received; the offsets to commit), in partition order.
    #[must_use]
    pub fn positions(&self) -> Vec<Offset> {
        self.parts
            .iter()
            .filter_map(|(tp, st)| {
                st.position().map(|p| Offset {
                    partition: tp.clone(),
                    offset: p.offset,
                    leader_epoch: p.epoch,
                    metadata: None,
                })
            })
            .collect()
    }

    /// The assigned partitions, in order.
    #[must_use]
    pub fn assigned(&self) -> Vec<TopicPartition> {
        self.parts.keys().cloned().collect()
    }

    /// Whether `partition` is assigned and paused.
    #[must_use]
    pub fn is_paused(&self, partition: &TopicPartition) -> bool {
        self.parts.get(partition).is_some_and(|s| s.paused)
    }

    /// Number of requests sent and not yet answered or failed.
    #[must_use]
    pub fn in_flight_len(&self) -> usize {
        self.in_flight.len()
    }

    /// The earliest end of a back-off: call [`poll_request`](Self::poll_request) then.
    /// `None` when nothing waits on time.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.parts.values().filter_map(|s| s.backoff_until).min()
    }

    // ---------------------------------------------------------------------------------------
    // Inputs

    /// Takes leaders, leader epochs and topic ids from a Metadata response.
    ///
    /// Topics in the response replace what was known about them; a topic with an error is
    /// forgotten (its partitions wait for a leader). A partition entry with an older leader
    /// epoch than the one known is ignored as stale. Allows the next
    /// [`FetchEvent::NeedMetadata`].
    pub fn update_metadata(&mut self, md: &MetadataResponse) {
        self.metadata_requested = false;
        for topic in &md.topics {
            let Some(name) = topic.name.as_deref() else {
                continue;
            };
            if topic.error_code != 0 {
                self.topics.remove(name);
                continue;
            }
            let old = self.topics.remove(name).unwrap_or_default();
            let id = topic.topic_id;
            let leaders = topic.partitions.iter().map(|p| {
                let mut leader = Leader {
                    node: p.leader_id,
                    epoch: p.leader_epoch,
                };
                if let Some(known) = old.partitions.get(&p.partition_index) {
                    if id == old.id && known.epoch >= 0 && leader.epoch < known.epoch {
                        leader = *known;
                    }
                }
                (p.partition_index, leader)
            });
            let meta = TopicMeta {
                id,
                partitions: VecMap::from_unsorted(leaders.collect()),
            };
            self.topics.insert(String::from(name), meta);
        }
        self.topics.shrink_to_fit();
    }

    /// Adds partitions; new ones wait for [`committed`](Self::committed) (or a
    /// [`seek`](Self::seek)). Partitions already assigned are left as they are.
    pub fn assign(&mut self, partitions: &[TopicPartition]) {
        let mut new = Vec::new();
        for tp in partitions {
            if !self.parts.contains_key(tp) {
                let generation = self.bump();
                new.push((
                    tp.clone(),
                    PartState {
                        phase: Phase::AwaitingCommitted,
                        generation,
                        paused: false,
                        backoff_until: None,
                        fetch_in_flight: None,
                        reset_in_flight: None,
                        buffered: None,
                    },
                ));
            }
        }
        self.parts.extend_absent(new);
    }

    /// Takes the group's committed offsets (an OffsetFetch result: offset and partition error
    /// code).
    ///
    /// Only partitions still waiting for their committed offset take it. An offset `>= 0`
    /// becomes the position; a negative one (no committed offset) starts a reset by the
    /// [`ResetPolicy`], or under [`ResetPolicy::None`] reports [`FetchError::NoOffset`] and
    /// stops the partition. A non-zero error code reports [`FetchError::Committed`] and leaves
    /// the partition waiting.
    pub fn committed(&mut self, offsets: &[(Offset, i16)]) {
        for (off, code) in offsets {
            let reset = self.config.reset.timestamp();
            let Some(st) = self.parts.get_mut(&off.partition) else {
                continue;
            };
            if st.phase != Phase::AwaitingCommitted {
                continue;
            }
            if *code != 0 {
                self.ready
                    .push_back(Ready::Event(FetchEvent::Error(FetchError::Committed {
                        partition: off.partition.clone(),
                        code: ErrorCode(*code),
                    })));
                continue;
            }
            let phase = if off.offset >= 0 {
                Phase::Fetching(Position {
                    offset: off.offset,
                    epoch: off.leader_epoch,
                })
            } else if let Some(ts) = reset {
                Phase::AwaitingReset(ts)
            } else {
                self.ready
                    .push_back(Ready::Event(FetchEvent::Error(FetchError::NoOffset {
                        partition: off.partition.clone(),
                    })));
                Phase::Stopped(None)
            };
            set_phase(st, phase, &mut self.next_generation);
        }
    }

    /// Fetches `partition` from `offset` next, dropping records not handed out yet and any
    /// answer in flight for it; ends its back-off and restarts a stopped partition.
    ///
    /// An unassigned partition or a negative offset is reported as [`FetchError::NotAssigned`]
    /// or [`FetchError::InvalidSeek`] and changes nothing.
    pub fn seek(&mut self, partition: &TopicPartition, offset: i64) {
        let Some(st) = self.parts.get_mut(partition) else {
            self.push_error(FetchError::NotAssigned {
                partition: partition.clone(),
            });
            return;
        };
        if offset < 0 {
            self.push_error(FetchError::InvalidSeek {
                partition: partition.clone(),
                offset,
            });
            return;
        }
        set_phase(
            st,
            Phase::Fetching(Position { offset, epoch: -1 }),
            &mut self.next_generation,
        );
        st.backoff_until = None;
    }

    /// Stops and forgets partitions (revoked or lost) and returns the positions of those that
    /// had one. Answers still in flight for them are discarded when they arrive.
    pub fn remove(&mut self, partitions: &[TopicPartition]) -> Vec<Offset> {
        let keys: Vec<&TopicPartition> = partitions.iter().collect();
        self.parts
            .remove_keys(&keys)
            .into_iter()
            .filter_map(|(tp, st)| {
                st.position().map(|p| Offset {
                    partition: tp,
                    offset: p.offset,
                    leader_epoch: p.epoch,
                    metadata: None,
                })
            })
            .collect()
    }

    /// Stops fetching partitions without forgetting their positions. Records fetched but not
    /// handed out yet are dropped (fetched again after [`resume`](Self::resume)), and so is
    /// data for them in flight.
    pub fn pause(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            if let Some(st) = self.parts.get_mut(tp) {
                if !st.paused {
                    st.paused = true;
                    let phase = st.phase;
                    set_phase(st, phase, &mut self.next_generation);
                }
            }
        }
    }

    /// Fetches paused partitions again.
    pub fn resume(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            if let Some(st) = self.parts.get_mut(tp) {
                st.paused = false;
            }
        }
    }

    /// Takes the answer to request `id`.
    ///
    /// An unknown id (already answered, failed, or never sent) is ignored. An answer of the
    /// wrong API is reported as [`FetchError::UnexpectedResponse`] and treated as a failure.
    pub fn handle_response(&mut self, now: Instant, id: FetchRequestId, response: AnyResponse) {
        let Some(req) = self.finish(id) else {
            return;
        };
        match response {
            AnyResponse::Fetch(r) if req.api == ApiKey::Fetch => self.on_fetch(now, req, r),
            AnyResponse::ListOffsets(r) if req.api == ApiKey::ListOffsets => {
                self.on_list_offsets(now, req, r);
            }
            other => {
                self.push_error(FetchError::UnexpectedResponse {
                    node: req.node,
                    expected: req.api,
                    got: other.api_key(),
                });
                self.back_off_all(now, &req.parts);
            }
        }
    }

    /// Request `id` failed (transport error or timeout): its partitions retry after the
    /// back-off. An unknown id is ignored.
    pub fn handle_failed(&mut self, now: Instant, id: FetchRequestId) {
        if let Some(req) = self.finish(id) {
            self.back_off_all(now, &req.parts);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Outputs

    /// The next request to send, if any: ListOffsets for partitions awaiting a reset, then
    /// Fetch for fetchable partitions, one per broker of each kind at a time. Brokers whose
    /// versions are not known yet (`versions(node)` is `None`) are skipped.
    pub fn poll_request(
        &mut self,
        now: Instant,
        versions: &dyn Fn(i32) -> Option<NegotiatedVersions>,
    ) -> Option<FetchSend> {
        for st in self.parts.values_mut() {
            if st.backoff_until.is_some_and(|t| t <= now) {
                st.backoff_until = None;
            }
        }
        let mut need_metadata = false;
        let mut list_nodes = BTreeSet::new();
        let mut fetch_nodes = BTreeSet::new();
        for (tp, st) in self.parts.iter() {
            let list = resettable(st).is_some();
            let fetch = fetchable(st).is_some();
            if !list && !fetch {
                continue;
            }
            match self.leader(tp) {
                None => need_metadata = true,
                Some(l) if list => {
                    list_nodes.insert(l.node);
                }
                Some(l) => {
                    fetch_nodes.insert(l.node);
                }
            }
        }
        if need_metadata {
            self.request_metadata();
        }
        for node in list_nodes {
            if self.list_nodes.contains(&node) {
                continue;
            }
            let Some(nv) = versions(node) else {
                continue;
            };
            let Some(v) = choose(&nv, ApiKey::ListOffsets, LIST_OFFSETS_VERSIONS) else {
                self.report_unsupported(node, ApiKey::ListOffsets);
                continue;
            };
            if let Some(send) = self.build_list_offsets(node, v) {
                return Some(send);
            }
        }
        for node in fetch_nodes {
            if self.fetch_nodes.contains(&node) {
                continue;
            }
            let Some(nv) = versions(node) else {
                continue;
            };
            let Some(v) = choose(&nv, ApiKey::Fetch, FETCH_VERSIONS) else {
                self.report_unsupported(node, ApiKey::Fetch);
                continue;
            };
            // Topic ids are needed from v13; without them for every topic, fall back to v12
            // if the broker still has it, else leave the id-less topics out for now.
            let names_ok = nv
                .broker_range(ApiKey::Fetch)
                .is_none_or(|r| r.min < FETCH_TOPIC_ID_VERSION)
                && FETCH_VERSIONS.min < FETCH_TOPIC_ID_VERSION;
            let v = if v >= FETCH_TOPIC_ID_VERSION && names_ok && self.missing_ids(node) {
                FETCH_TOPIC_ID_VERSION - 1
            } else {
                v
            };
            if let Some(send) = self.build_fetch(node, v) {
                return Some(send);
            }
        }
        None
    }

    /// The next record or event, if any. Handing out a record moves its partition's position
    /// to `offset + 1`.
    pub fn poll_event(&mut self) -> Option<FetchEvent> {
        if self.ready.is_empty() {
            // Keep no room for a burst that has passed (many idle fetchers in a `GroupSet`).
            if self.ready.capacity() > 0 {
                self.ready = VecDeque::new();
            }
            return None;
        }
        loop {
            match self.ready.front_mut()? {
                Ready::Event(_) => {
                    let Some(Ready::Event(e)) = self.ready.pop_front() else {
                        return None;
                    };
                    return Some(e);
                }
                Ready::Records(tp, generation) => {
                    let st = self
                        .parts
                        .get_mut(tp)
                        .filter(|s| s.generation == *generation && !s.paused);
                    let Some(st) = st else {
                        self.ready.pop_front();
                        continue;
                    };
                    let Phase::Fetching(pos) = &mut st.phase else {
                        self.ready.pop_front();
                        continue;
                    };
                    let Some(buf) = st.buffered.as_mut() else {
                        self.ready.pop_front();
                        continue;
                    };
                    let Some(rec) = buf.records.pop_front() else {
                        st.buffered = None;
                        self.ready.pop_front();
                        continue;
                    };
                    // The buffer is filled in offset order from the position, so `deliver` is
                    // always true; the check keeps positions monotonic whatever happens.
                    let deliver = rec.offset >= pos.offset;
                    if deliver {
                        pos.offset = rec.offset.saturating_add(1);
                        pos.epoch = rec.leader_epoch;
                    }
                    if buf.records.is_empty() {
                        if let Some(to) = buf.advance_to {
                            pos.offset = pos.offset.max(to);
                        }
                        // The room of a whole response's records is not kept per partition.
                        st.buffered = None;
                        self.ready.pop_front();
                    }
                    if deliver {
                        return Some(FetchEvent::Record(rec));
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Internals

    const fn bump(&mut self) -> u64 {
        self.next_generation += 1;
        self.next_generation
    }

    fn push_error(&mut self, e: FetchError) {
        self.ready.push_back(Ready::Event(FetchEvent::Error(e)));
    }

    fn request_metadata(&mut self) {
        if !self.metadata_requested {
            self.metadata_requested = true;
            self.ready.push_back(Ready::Event(FetchEvent::NeedMetadata));
        }
    }

    fn report_unsupported(&mut self, node: i32, api: ApiKey) {
        if !self.unsupported.contains(&(node, api)) {
            self.unsupported.push((node, api));
            self.push_error(FetchError::UnsupportedVersion { node, api });
        }
    }

    fn leader(&self, tp: &TopicPartition) -> Option<Leader> {
        self.topics
            .get(&tp.topic)?
            .partitions
            .get(&tp.partition)
            .copied()
            .filter(|l| l.node >= 0)
    }

    fn topic_id(&self, topic: &str) -> Uuid {
        self.topics.get(topic).map_or(Uuid::ZERO, |t| t.id)
    }

    /// Whether a fetchable partition led by `node` has no topic id.
    fn missing_ids(&self, node: i32) -> bool {
        self.parts.iter().any(|(tp, st)| {
            fetchable(st).is_some()
                && self.leader(tp).is_some_and(|l| l.node == node)
                && self.topic_id(&tp.topic) == Uuid::ZERO
        })
    }

    fn allocate_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn build_list_offsets(&mut self, node: i32, version: i16) -> Option<FetchSend> {
        let mut topics: Vec<ListOffsetsTopic> = Vec::new();
        let mut sent = BTreeMap::new();
        for (tp, st) in self.parts.iter() {
            let Some(ts) = resettable(st) else {
                continue;
            };
            let Some(leader) = self.leader(tp).filter(|l| l.node == node) else {
                continue;
            };
            if topics.last().is_none_or(|t| *t.name != *tp.topic) {
                topics.push(ListOffsetsTopic {
                    name: tp.topic.as_str().into(),
                    ..Default::default()
                });
            }
            let Some(topic) = topics.last_mut() else {
                continue;
            };
            topic.partitions.push(ListOffsetsPartition {
                partition_index: tp.partition,
                current_leader_epoch: if version >= 4 { leader.epoch } else { -1 },
                timestamp: ts,
                ..Default::default()
            });
            sent.insert(
                tp.clone(),
                Sent {
                    generation: st.generation,
                    value: ts,
                },
            );
        }
        if sent.is_empty() {
            return None;
        }
        let id = self.allocate_id();
        for tp in sent.keys() {
            if let Some(st) = self.parts.get_mut(tp) {
                st.reset_in_flight = NonZeroU64::new(id);
            }
        }
        let request = ListOffsetsRequest {
            replica_id: -1,
            isolation_level: if version >= 2 {
                self.config.isolation_level
            } else {
                0
            },
            topics,
            timeout_ms: if version >= 10 {
                millis_i32(self.config.request_timeout)
            } else {
                0
            },
            ..Default::default()
        };
        self.list_nodes.insert(node);
        self.in_flight.insert(
            id,
            InFlight {
                node,
                version,
                api: ApiKey::ListOffsets,
                parts: sent,
                ids: BTreeMap::new(),
            },
        );
        Some(FetchSend {
            id: FetchRequestId(id),
            node,
            request: AnyRequest::ListOffsets(request),
            version,
            timeout: self.config.request_timeout,
        })
    }

    fn build_fetch(&mut self, node: i32, version: i16) -> Option<FetchSend> {
        let by_id = version >= FETCH_TOPIC_ID_VERSION;
        let mut topics: Vec<FetchTopic> = Vec::new();
        let mut sent = BTreeMap::new();
        let mut ids = BTreeMap::new();
        let mut need_metadata = false;
        for (tp, st) in self.parts.iter() {
            let Some(pos) = fetchable(st) else {
                continue;
            };
            let Some(leader) = self.leader(tp).filter(|l| l.node == node) else {
                continue;
            };
            let id = self.topic_id(&tp.topic);
            if by_id && id == Uuid::ZERO {
                need_metadata = true;
                continue;
            }
            if topics.last().is_none_or(|t| {
                if by_id {
                    t.topic_id != id
                } else {
                    *t.topic != *tp.topic
                }
            }) {
                topics.push(if by_id {
                    ids.insert(id, tp.topic.clone());
                    FetchTopic {
                        topic_id: id,
                        ..Default::default()
                    }
                } else {
                    FetchTopic {
                        topic: tp.topic.as_str().into(),
                        ..Default::default()
                    }
                });
            }
            let Some(topic) = topics.last_mut() else {
                continue;
            };
            topic.partitions.push(FetchPartition {
                partition: tp.partition,
                current_leader_epoch: if version >= 9 { leader.epoch } else { -1 },
                fetch_offset: pos.offset,
                partition_max_bytes: self.config.partition_max_bytes,
                ..Default::default()
            });
            sent.insert(
                tp.clone(),
                Sent {
                    generation: st.generation,
                    value: pos.offset,
                },
            );
        }
        if need_metadata {
            self.request_metadata();
        }
        if sent.is_empty() {
            return None;
        }
        let id = self.allocate_id();
        for tp in sent.keys() {
            if let Some(st) = self.parts.get_mut(tp) {
                st.fetch_in_flight = NonZeroU64::new(id);
            }
        }
        let request = FetchRequest {
            replica_id: -1,
            max_wait_ms: millis_i32(self.config.max_wait),
            min_bytes: self.config.min_bytes,
            max_bytes: self.config.max_bytes,
            isolation_level: self.config.isolation_level,
            session_id: 0,
            session_epoch: -1,
            topics,
            ..Default::default()
        };
        self.fetch_nodes.insert(node);
        self.in_flight.insert(
            id,
            InFlight {
                node,
                version,
                api: ApiKey::Fetch,
                parts: sent,
                ids,
            },
        );
        Some(FetchSend {
            id: FetchRequestId(id),
            node,
            request: AnyRequest::Fetch(request),
            version,
            timeout: self
                .config
                .request_timeout
                .saturating_add(self.config.max_wait),
        })
    }

    /// Forgets request `id`: frees its broker slot and its partitions' in-flight marks.
    fn finish(&mut self, id: FetchRequestId) -> Option<InFlight> {
        let req = self.in_flight.remove(&id.0)?;
        if req.api == ApiKey::Fetch {
            self.fetch_nodes.remove(&req.node);
        } else {
            self.list_nodes.remove(&req.node);
        }
        for tp in req.parts.keys() {
            if let Some(st) = self.parts.get_mut(tp) {
                if st.fetch_in_flight == NonZeroU64::new(id.0) {
                    st.fetch_in_flight = None;
                }
                if st.reset_in_flight == NonZeroU64::new(id.0) {
                    st.reset_in_flight = None;
                }
            }
        }
        Some(req)
    }

    /// Backs off every partition of `parts` still of the generation it was sent under.
    fn back_off_all(&mut self, now: Instant, parts: &BTreeMap<TopicPartition, Sent>) {
        let until = now + self.config.retry_backoff;
        for (tp, sent) in parts {
            if let Some(st) = self.parts.get_mut(tp) {
                if st.generation == sent.generation {
                    st.backoff_until = Some(until);
                }
            }
        }
    }

    fn on_fetch(&mut self, now: Instant, mut req: InFlight, resp: FetchResponse) {
        let code = ErrorCode(resp.error_code);
        if !code.is_ok() {
            if is_metadata_error(code) {
                self.request_metadata();
            } else {
                self.push_error(FetchError::Request {
                    node: req.node,
                    api: ApiKey::Fetch,
                    code,
                });
            }
            self.back_off_all(now, &req.parts);
            return;
        }
        for topic in resp.responses {
            let name = if req.version >= FETCH_TOPIC_ID_VERSION {
                match req.ids.get(&topic.topic_id) {
                    Some(n) => n.clone(),
                    None => continue,
                }
            } else {
                String::from(&*topic.topic)
            };
            for p in topic.partitions {
                let tp = TopicPartition::new(name.clone(), p.partition_index);
                // Only partitions we asked for, each once.
                let Some(sent) = req.parts.remove(&tp) else {
                    continue;
                };
                self.on_fetch_partition(now, tp, sent, p);
            }
        }
        // Partitions the broker left out: retry later rather than at once, with fresh metadata
        // (the usual cause is a topic the broker no longer knows by that id, e.g. recreated
        // after a restart; Tansu then answers under the zero topic id, which matches nothing).
        if !req.parts.is_empty() {
            self.request_metadata();
        }
        self.back_off_all(now, &req.parts);
    }

    fn on_fetch_partition(
        &mut self,
        now: Instant,
        tp: TopicPartition,
        sent: Sent,
        p: PartitionData,
    ) {
        let until = now + self.config.retry_backoff;
        let read_committed = self.config.isolation_level == 1;
        let reset = self.config.reset.timestamp();
        let Some(st) = self.parts.get_mut(&tp) else {
            return;
        };
        let Phase::Fetching(pos) = st.phase else {
            return;
        };
        if st.generation != sent.generation || st.paused || pos.offset != sent.value {
            return;
        }
        let code = ErrorCode(p.error_code);
        if code == ErrorCode::NONE {
            let bytes = p.records.as_ref().map_or(0, Bytes::len);
            let outcome = take_records(&tp, pos, p, read_committed);
            let progressed = !outcome.records.is_empty() || outcome.advance > pos.offset;
            if outcome.records.is_empty() {
                if outcome.advance > pos.offset {
                    st.phase = Phase::Fetching(Position {
                        offset: outcome.advance,
                        epoch: pos.epoch,
                    });
                }
            } else {
                let last = outcome.records.back().map_or(pos.offset, |r| r.offset);
                st.buffered = Some(Box::new(Buffered {
                    records: outcome.records,
                    advance_to: (outcome.advance > last.saturating_add(1))
                        .then_some(outcome.advance),
                }));
                self.ready
                    .push_back(Ready::Records(tp.clone(), st.generation));
            }
            if progressed {
                return;
            }
            st.backoff_until = Some(until);
            let e = match outcome.error {
                Some(error) => FetchError::Decode {
                    partition: tp,
                    offset: pos.offset,
                    error,
                },
                None if bytes > 0 => FetchError::NoProgress {
                    partition: tp,
                    offset: pos.offset,
                    bytes,
                },
                // Nothing new yet: fetch again at once (the broker waits `max_wait`).
                None => {
                    st.backoff_until = None;
                    return;
                }
            };
            self.push_error(e);
        } else if code == ErrorCode::OFFSET_OUT_OF_RANGE {
            if let Some(ts) = reset {
                set_phase(st, Phase::AwaitingReset(ts), &mut self.next_generation);
            } else {
                set_phase(st, Phase::Stopped(Some(pos)), &mut self.next_generation);
                self.push_error(FetchError::OffsetOutOfRange {
                    partition: tp,
                    offset: pos.offset,
                });
            }
        } else {
            st.backoff_until = Some(until);
            if is_metadata_error(code) {
                self.request_metadata();
            } else {
                self.push_error(FetchError::Broker {
                    partition: tp,
                    code,
                });
            }
        }
    }

    fn on_list_offsets(&mut self, now: Instant, mut req: InFlight, resp: ListOffsetsResponse) {
        let until = now + self.config.retry_backoff;
        for topic in resp.topics {
            for p in topic.partitions {
                let tp = TopicPartition::new(&*topic.name, p.partition_index);
                let Some(sent) = req.parts.remove(&tp) else {
                    continue;
                };
                let Some(st) = self.parts.get_mut(&tp) else {
                    continue;
                };
                if st.generation != sent.generation || st.phase != Phase::AwaitingReset(sent.value)
                {
                    continue;
                }
                let code = ErrorCode(p.error_code);
                if code.is_ok() && p.offset >= 0 {
                    let epoch = if req.version >= 4 { p.leader_epoch } else { -1 };
                    let offset = p.offset;
                    set_phase(
                        st,
                        Phase::Fetching(Position { offset, epoch }),
                        &mut self.next_generation,
                    );
                    self.ready.push_back(Ready::Event(FetchEvent::OffsetReset {
                        partition: tp,
                        offset,
                    }));
                    continue;
                }
                st.backoff_until = Some(until);
                if code.is_ok() {
                    self.push_error(FetchError::InvalidOffset {
                        partition: tp,
                        offset: p.offset,
                    });
                } else if is_metadata_error(code) {
                    self.request_metadata();
                } else {
                    self.push_error(FetchError::Broker {
                        partition: tp,
                        code,
                    });
                }
            }
        }
        self.back_off_all(now, &req.parts);
    }
}

/// Sets a partition's phase under a new generation, dropping its undelivered records.
fn set_phase(st: &mut PartState, phase: Phase, next_generation: &mut u64) {
    *next_generation += 1;
    st.generation = *next_generation;
    st.phase = phase;
    st.buffered = None;
}

/// The position to fetch from, if the partition can go into a Fetch now.
fn fetchable(st: &PartState) -> Option<Position> {
    match st.phase {
        Phase::Fetching(p)
            if !st.paused
                && st.backoff_until.is_none()
                && st.fetch_in_flight.is_none()
                && st.buffered.is_none() =>
        {
            Some(p)
        }
        _ => None,
    }
}

/// The timestamp to list, if the partition can go into a ListOffsets now.
fn resettable(st: &PartState) -> Option<i64> {
    match st.phase {
        Phase::AwaitingReset(ts) if st.backoff_until.is_none() && st.reset_in_flight.is_none() => {
            Some(ts)
        }
        _ => None,
    }
}

/// The highest version of `api` both the broker and this module support.
fn choose(nv: &NegotiatedVersions, api: ApiKey, ours: VersionRange) -> Option<i16> {
    let v = nv.version(api)?.min(ours.max);
    let broker_min = nv.broker_range(api).map_or(i16::MIN, |r| r.min);
    (v >= ours.min && v >= broker_min).then_some(v)
}

fn millis_i32(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// The records of one partition's answer that lie at or after the position.
struct Taken {
    records: VecDeque<ConsumerRecord>,
    /// The position after the last complete entry (never below the position).
    advance: i64,
    /// The error that ended decoding early, if any.
    error: Option<DecodeError>,
}

/// Decodes one partition's records: skips control batches, aborted transactions (under
/// read_committed), records below the position and any offset that does not increase; stops
/// at a truncated final entry or the first undecodable one.
fn take_records(
    tp: &TopicPartition,
    pos: Position,
    p: PartitionData,
    read_committed: bool,
) -> Taken {
    let mut out = Taken {
        records: VecDeque::new(),
        advance: pos.offset,
        error: None,
    };
    let Some(bytes) = p.records else {
        return out;
    };
    // Aborted transactions by first offset; producers enter the aborted set as batches pass
    // their first offset and leave it at their ABORT marker (as Kafka's consumer does).
    let mut aborted: Vec<(i64, i64)> = if read_committed {
        p.aborted_transactions
            .unwrap_or_default()
            .iter()
            .map(|a| (a.first_offset, a.producer_id))
            .collect()
    } else {
        Vec::new()
    };
    aborted.sort_unstable();
    let mut aborted = aborted.into_iter().peekable();
    let mut aborting = BTreeSet::new();
    // Next offset a record must reach to be delivered.
    let mut next = pos.offset;
    for entry in BatchIter::new(&bytes, DecodeOptions::new()) {
        let batch = match entry {
            Ok(b) => b,
            Err(e) => {
                out.error = Some(e);
                break;
            }
        };
        match batch {
            Batch::V2(batch) => {
                let last = batch.last_offset();
                let has_pid = batch.producer_id >= 0;
                if read_committed && has_pid {
                    while let Some(&(first, pid)) = aborted.peek() {
                        if first > last {
                            break;
                        }
                        aborting.insert(pid);
                        aborted.next();
                    }
                }
                let attrs = batch.attributes;
                if attrs.is_control() {
                    let is_abort = batch
                        .records
                        .first()
                        .and_then(|r| r.control_key().ok())
                        .is_some_and(|k| k.record_type == ControlRecordType::Abort);
                    if read_committed && has_pid && is_abort {
                        aborting.remove(&batch.producer_id);
                    }
                } else if !(read_committed
                    && attrs.is_transactional()
                    && aborting.contains(&batch.producer_id))
                {
                    let log_append = attrs.timestamp_type() == TimestampType::LogAppendTime;
                    for r in batch.records {
                        let offset = r.offset(batch.base_offset);
                        if offset < next || offset == i64::MAX {
                            continue;
                        }
                        next = offset + 1;
                        out.records.push_back(ConsumerRecord {
                            topic: tp.topic.clone(),
                            partition: tp.partition,
                            offset,
                            timestamp: if log_append {
                                batch.max_timestamp
                            } else {
                                r.timestamp(batch.base_timestamp)
                            },
                            key: r.key,
                            value: r.value,
                            headers: r
                                .headers
                                .into_iter()
                                .map(|h| (String::from(&*h.key), h.value))
                                .collect(),
                            leader_epoch: batch.partition_leader_epoch,
                        });
                    }
                }
                if last < i64::MAX {
                    out.advance = out.advance.max(last + 1);
                }
            }
            Batch::Legacy(messages) => {
                for m in messages {
                    if m.offset < next || m.offset == i64::MAX {
                        continue;
                    }
                    next = m.offset + 1;
                    out.records.push_back(ConsumerRecord {
                        topic: tp.topic.clone(),
                        partition: tp.partition,
                        offset: m.offset,
                        timestamp: m.timestamp.unwrap_or(-1),
                        key: m.key,
                        value: m.value,
                        headers: Vec::new(),
                        leader_epoch: -1,
                    });
                }
            }
        }
        out.advance = out.advance.max(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_javas() {
        let c = FetchConfig::default();
        assert_eq!(c.reset, ResetPolicy::Latest);
        assert_eq!(c.max_wait, Duration::from_millis(500));
        assert_eq!(c.min_bytes, 1);
        assert_eq!(c.max_bytes, 52_428_800);
        assert_eq!(c.partition_max_bytes, 1_048_576);
        assert_eq!(c.isolation_level, 0);
        assert_eq!(c.retry_backoff, Duration::from_millis(100));
        assert_eq!(c.request_timeout, Duration::from_secs(30));
    }

    #[test]
    fn metadata_errors_are_the_documented_ones() {
        for code in [3, 5, 6, 74, 75, 100] {
            assert!(is_metadata_error(ErrorCode(code)), "{code}");
        }
        for code in [0, 1, 29, -1, 87] {
            assert!(!is_metadata_error(ErrorCode(code)), "{code}");
        }
    }
}
