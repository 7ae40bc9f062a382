//! Partition logs and the Fetch and ListOffsets answers read from them.
//!
//! Each [`ModelBroker::append`](crate::ModelBroker::append) becomes one record batch (magic 2,
//! uncompressed, create time, leader epoch 0, no producer) encoded by kafka-wire and stored as
//! bytes. A log starts at offset 0 and is never truncated, compacted or deleted, and has no
//! transactions, so the high watermark and the last stable offset are both the log end offset.
//!
//! Reads return whole stored batches only. Kafka may also end a partition's records with the
//! first part of the next batch, cut at the byte limit; the model never does.

use core::fmt;
use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use kafka_wire::error_code::ErrorCode;
use kafka_wire::generated::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_wire::generated::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_wire::generated::{FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse};
use kafka_wire::records::{Record, RecordBatch};
use kafka_wire::{EncodeError, Uuid};

use crate::broker::Topic;

/// First Fetch version that names topics by id.
const FETCH_TOPIC_ID_VERSION: i16 = 13;

/// The partition leader epoch of every partition (Metadata reports 0 too).
const LEADER_EPOCH: i32 = 0;

/// ListOffsets timestamp: the log start offset.
const EARLIEST: i64 = -2;
/// ListOffsets timestamp: the log end offset (high watermark).
const LATEST: i64 = -1;
/// ListOffsets timestamp (v7+, KIP-734): the record with the largest timestamp.
const MAX_TIMESTAMP: i64 = -3;
/// ListOffsets timestamp (v8+, KIP-405): the local log start offset.
const EARLIEST_LOCAL: i64 = -4;
/// ListOffsets timestamp (v9+, KIP-1005): the last offset in tiered storage.
const LATEST_TIERED: i64 = -5;
/// ListOffsets timestamp (v11+, KIP-1023): the earliest offset not yet uploaded to tiered
/// storage.
const EARLIEST_PENDING_UPLOAD: i64 = -6;

/// Why [`ModelBroker::append`](crate::ModelBroker::append) stored nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppendError {
    /// No topic of that name (see [`ModelBroker::create_topic`](crate::ModelBroker::create_topic)).
    UnknownTopic,
    /// The topic has no partition of that number.
    UnknownPartition,
    /// No records were given (Kafka stores no empty batches).
    NoRecords,
    /// kafka-wire could not encode the batch (a key, value or the batch too long for its
    /// length prefix).
    Encode(EncodeError),
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownTopic => f.write_str("unknown topic"),
            Self::UnknownPartition => f.write_str("unknown partition"),
            Self::NoRecords => f.write_str("no records to append"),
            Self::Encode(e) => write!(f, "record batch does not encode: {e}"),
        }
    }
}

impl core::error::Error for AppendError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Encode(e) => Some(e),
            _ => None,
        }
    }
}

/// One appended batch, encoded.
#[derive(Debug)]
struct StoredBatch {
    base_offset: i64,
    /// The offset after its last record.
    next_offset: i64,
    /// The create time of every record in it.
    timestamp: i64,
    bytes: Bytes,
}

/// One partition's log: batches in offset order, starting at offset 0.
#[derive(Debug, Default)]
struct PartitionLog {
    batches: Vec<StoredBatch>,
}

impl PartitionLog {
    /// The log end offset (the high watermark: every append is committed at once).
    fn end_offset(&self) -> i64 {
        self.batches.last().map_or(0, |b| b.next_offset)
    }

    /// Whole batches from the one holding `offset` (which must lie in `0..=end`), as many as
    /// fit in `limit` bytes; the first one even if it does not fit when `min_one`.
    fn read(&self, offset: i64, limit: usize, min_one: bool) -> Bytes {
        let first = self.batches.partition_point(|b| b.next_offset <= offset);
        let rest = self.batches.get(first..).unwrap_or_default();
        let mut taken = 0;
        let mut total = 0usize;
        for b in rest {
            let size = b.bytes.len();
            let fits = total.checked_add(size).is_some_and(|t| t <= limit);
            let first_anyway = taken == 0 && min_one;
            if !(fits || first_anyway) {
                break;
            }
            taken += 1;
            total = total.saturating_add(size);
        }
        match &rest[..taken] {
            [] => Bytes::new(),
            [one] => one.bytes.clone(),
            many => {
                // Bounded by the log: `total` is the size of stored batches.
                let mut out = BytesMut::with_capacity(total);
                for b in many {
                    out.extend_from_slice(&b.bytes);
                }
                out.freeze()
            }
        }
    }

    /// `(timestamp, offset)` of the first record with a timestamp at or after `ts`, or
    /// `(-1, -1)`. Timestamps never decrease along the log (virtual time does not go back).
    fn offset_for_timestamp(&self, ts: i64) -> (i64, i64) {
        let i = self.batches.partition_point(|b| b.timestamp < ts);
        self.batches
            .get(i)
            .map_or((-1, -1), |b| (b.timestamp, b.base_offset))
    }

    /// `(timestamp, offset)` of the first record with the largest timestamp, or `(-1, -1)`.
    fn max_timestamp(&self) -> (i64, i64) {
        match self.batches.last() {
            Some(last) => self.offset_for_timestamp(last.timestamp),
            None => (-1, -1),
        }
    }
}

/// What a Fetch request reads right now.
#[derive(Debug)]
pub(crate) struct FetchRead {
    /// The response, shaped for the request's version.
    pub(crate) body: FetchResponse,
    /// Bytes of records in it.
    pub(crate) bytes: usize,
    /// It must go out at once whatever `min_bytes` says: a session error, a partition whose
    /// read failed (offset out of range, leader epoch), or no known partition to read (as
    /// Kafka's `KafkaApis.handleFetchRequest` and `ReplicaManager.fetchMessages`).
    pub(crate) urgent: bool,
}

/// Every partition log of the broker. A partition that was never appended to is an empty log.
#[derive(Debug, Default)]
pub(crate) struct Logs {
    logs: BTreeMap<String, BTreeMap<i32, PartitionLog>>,
}

impl Logs {
    fn get(&self, topic: &str, partition: i32) -> Option<&PartitionLog> {
        self.logs.get(topic)?.get(&partition)
    }

    pub(crate) fn end_offset(&self, topic: &str, partition: i32) -> i64 {
        self.get(topic, partition)
            .map_or(0, PartitionLog::end_offset)
    }

    /// Appends `records` as one batch with create time `now_ms`; returns its base offset.
    pub(crate) fn append(
        &mut self,
        topics: &BTreeMap<String, Topic>,
        now_ms: u64,
        topic: &str,
        partition: i32,
        records: &[(Option<Bytes>, Option<Bytes>)],
    ) -> Result<i64, AppendError> {
        let t = topics.get(topic).ok_or(AppendError::UnknownTopic)?;
        if !(0..t.partitions).contains(&partition) {
            return Err(AppendError::UnknownPartition);
        }
        if records.is_empty() {
            return Err(AppendError::NoRecords);
        }
        let log = self
            .logs
            .entry(topic.to_owned())
            .or_default()
            .entry(partition)
            .or_default();
        let base_offset = log.end_offset();
        let timestamp = i64::try_from(now_ms).unwrap_or(i64::MAX);
        // More than i32::MAX records cannot be encoded: the encoder rejects the count, so the
        // saturated deltas never reach the log.
        let delta = |i: usize| i32::try_from(i).unwrap_or(i32::MAX);
        let batch = RecordBatch {
            base_offset,
            partition_leader_epoch: LEADER_EPOCH,
            last_offset_delta: delta(records.len() - 1),
            base_timestamp: timestamp,
            max_timestamp: timestamp,
            records: records
                .iter()
                .enumerate()
                .map(|(i, (key, value))| Record {
                    offset_delta: delta(i),
                    key: key.clone(),
                    value: value.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let len = batch.encoded_len().map_err(AppendError::Encode)?;
        let mut buf = BytesMut::with_capacity(len);
        batch.encode(&mut buf).map_err(AppendError::Encode)?;
        let count = i64::try_from(records.len()).unwrap_or(i64::MAX);
        log.batches.push(StoredBatch {
            base_offset,
            next_offset: base_offset.saturating_add(count),
            timestamp,
            bytes: buf.freeze(),
        });
        Ok(base_offset)
    }

    /// The records of every requested partition, within the request's limits (KIP-74: the
    /// first batch of the first partition with data comes whole even if it is larger).
    ///
    /// Full (sessionless) fetches only: session epoch 0 or -1 is answered with session id 0,
    /// which tells the client no session was created; any other epoch names a session that
    /// does not exist (`FETCH_SESSION_ID_NOT_FOUND`). Replica fields, `LastFetchedEpoch` and
    /// forgotten topics are ignored.
    pub(crate) fn read_fetch(
        &self,
        topics: &BTreeMap<String, Topic>,
        version: i16,
        req: &FetchRequest,
    ) -> FetchRead {
        if !matches!(req.session_epoch, 0 | -1) && version >= 7 {
            return FetchRead {
                body: FetchResponse {
                    error_code: ErrorCode::FETCH_SESSION_ID_NOT_FOUND.0,
                    ..Default::default()
                },
                bytes: 0,
                urgent: true,
            };
        }
        let by_id = version >= FETCH_TOPIC_ID_VERSION;
        let read_committed = req.isolation_level == 1;
        let mut remaining = usize::try_from(req.max_bytes).unwrap_or(0);
        let mut min_one = true;
        let mut bytes = 0usize;
        // Kafka answers unknown topics and partitions beside the fetch (`KafkaApis`: the
        // "erroneous" ones); only log read errors, or nothing left to read, answer at once.
        let mut readable = 0usize;
        let mut read_error = false;
        let mut responses = Vec::with_capacity(req.topics.len());
        for t in &req.topics {
            let found = if by_id {
                topics
                    .iter()
                    .find(|(_, x)| x.id == t.topic_id && t.topic_id != Uuid::ZERO)
            } else {
                topics.get_key_value(&*t.topic)
            };
            let mut partitions = Vec::with_capacity(t.partitions.len());
            for p in &t.partitions {
                let error = match found {
                    None if by_id => Err(ErrorCode::UNKNOWN_TOPIC_ID),
                    None => Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                    Some((_, x)) if !(0..x.partitions).contains(&p.partition) => {
                        Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
                    }
                    Some((name, _)) => {
                        readable += 1;
                        let end = self.end_offset(name, p.partition);
                        let e = epoch_error(p.current_leader_epoch).or_else(|| {
                            let ok = (0..=end).contains(&p.fetch_offset);
                            (!ok).then_some(ErrorCode::OFFSET_OUT_OF_RANGE)
                        });
                        read_error |= e.is_some();
                        e.map_or(Ok((name, end)), Err)
                    }
                };
                partitions.push(match error {
                    Ok((name, end)) => {
                        let limit = usize::try_from(p.partition_max_bytes)
                            .unwrap_or(0)
                            .min(remaining);
                        let records = self
                            .get(name, p.partition)
                            .map_or_else(Bytes::new, |l| l.read(p.fetch_offset, limit, min_one));
                        if !records.is_empty() {
                            min_one = false;
                        }
                        remaining = remaining.saturating_sub(records.len());
                        bytes = bytes.saturating_add(records.len());
                        PartitionData {
                            partition_index: p.partition,
                            error_code: ErrorCode::NONE.0,
                            high_watermark: end,
                            last_stable_offset: end,
                            log_start_offset: if version >= 5 { 0 } else { -1 },
                            aborted_transactions: read_committed.then(Vec::new),
                            records: Some(records),
                            ..Default::default()
                        }
                    }
                    Err(code) => PartitionData {
                        partition_index: p.partition,
                        error_code: code.0,
                        high_watermark: -1,
                        last_stable_offset: -1,
                        log_start_offset: -1,
                        aborted_transactions: None,
                        records: Some(Bytes::new()),
                        ..Default::default()
                    },
                });
            }
            responses.push(FetchableTopicResponse {
                topic: if by_id { "".into() } else { t.topic.clone() },
                topic_id: if by_id { t.topic_id } else { Uuid::ZERO },
                partitions,
                ..Default::default()
            });
        }
        FetchRead {
            body: FetchResponse {
                responses,
                ..Default::default()
            },
            bytes,
            urgent: readable == 0 || read_error,
        }
    }

    /// Whether `req` asks for `partition` of topic `name` (id `id`).
    pub(crate) fn fetch_mentions(
        version: i16,
        req: &FetchRequest,
        name: &str,
        id: Uuid,
        partition: i32,
    ) -> bool {
        req.topics.iter().any(|t| {
            let same = if version >= FETCH_TOPIC_ID_VERSION {
                t.topic_id == id
            } else {
                *t.topic == *name
            };
            same && t.partitions.iter().any(|p| p.partition == partition)
        })
    }

    /// ListOffsets: `-2` (and `-4`, the local log start) give the log start offset 0, `-1`
    /// the log end offset, `-3` the first record with the largest timestamp; `-5` and `-6`
    /// (tiered storage, which the model does not have) and a timestamp after every record give
    /// offset -1. Any other timestamp gives the first record whose timestamp is at or after
    /// it. Timestamps are -1 except for the record lookups.
    pub(crate) fn list_offsets(
        &self,
        topics: &BTreeMap<String, Topic>,
        version: i16,
        req: &ListOffsetsRequest,
    ) -> ListOffsetsResponse {
        let topics_out = req
            .topics
            .iter()
            .map(|t| {
                let known = topics.get(&*t.name);
                ListOffsetsTopicResponse {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| {
                            let error = match known {
                                Some(x) if (0..x.partitions).contains(&p.partition_index) => {
                                    epoch_error(p.current_leader_epoch)
                                }
                                _ => Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                            };
                            if let Some(e) = error {
                                return ListOffsetsPartitionResponse {
                                    partition_index: p.partition_index,
                                    error_code: e.0,
                                    ..Default::default()
                                };
                            }
                            let log = self.get(&t.name, p.partition_index);
                            let (timestamp, offset) = match p.timestamp {
                                EARLIEST | EARLIEST_LOCAL => (-1, 0),
                                LATEST => (-1, log.map_or(0, PartitionLog::end_offset)),
                                MAX_TIMESTAMP => log.map_or((-1, -1), PartitionLog::max_timestamp),
                                LATEST_TIERED | EARLIEST_PENDING_UPLOAD => (-1, -1),
                                ts => log.map_or((-1, -1), |l| l.offset_for_timestamp(ts)),
                            };
                            ListOffsetsPartitionResponse {
                                partition_index: p.partition_index,
                                error_code: ErrorCode::NONE.0,
                                timestamp,
                                offset,
                                leader_epoch: if version >= 4 { LEADER_EPOCH } else { -1 },
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                }
            })
            .collect();
        ListOffsetsResponse {
            topics: topics_out,
            ..Default::default()
        }
    }
}

/// The error for a request's `CurrentLeaderEpoch` (-1: not checked) against the leader
/// epoch 0: older is fenced, newer unknown.
fn epoch_error(current: i32) -> Option<ErrorCode> {
    match current {
        -1 | LEADER_EPOCH => None,
        e if e < LEADER_EPOCH => Some(ErrorCode::FENCED_LEADER_EPOCH),
        _ => Some(ErrorCode::UNKNOWN_LEADER_EPOCH),
    }
}
