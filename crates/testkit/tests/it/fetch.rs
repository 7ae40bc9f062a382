//! Fetch and ListOffsets on the model broker (`BrokerConfig::serve_fetch`): partition logs
//! filled by `ModelBroker::append`, reads within the byte limits, the long poll, and the
//! head-of-line blocking behind a parked Fetch.

use kafka_wire::generated::fetch_request::{FetchPartition, FetchRequest, FetchTopic};
use kafka_wire::generated::fetch_response::{FetchResponse, PartitionData};
use kafka_wire::generated::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use kafka_wire::generated::list_offsets_response::ListOffsetsPartitionResponse;
use kafka_wire::records::{Batch, DecodeOptions, decode_batches};
use testkit::AppendError;

use super::*;

const FETCH_KEY: i16 = 1;
const LIST_OFFSETS_KEY: i16 = 2;

fn fetching() -> Harness {
    Harness::with_config(BrokerConfig {
        serve_fetch: true,
        ..BrokerConfig::default()
    })
}

fn kv(key: Option<&str>, value: Option<&str>) -> (Option<Bytes>, Option<Bytes>) {
    let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
    (key.map(b), value.map(b))
}

/// `n` records with 100-byte values: one batch of [`BATCH`] bytes.
fn hundreds(n: usize) -> Vec<(Option<Bytes>, Option<Bytes>)> {
    (0..n)
        .map(|_| (None, Some(Bytes::from(vec![b'x'; 100]))))
        .collect()
}

/// Size of a one-record batch of [`hundreds`]: the 61-byte header plus a record of 1 length
/// byte, 7 one-byte fields and 100 value bytes (the value length takes 2 bytes).
const BATCH: usize = 61 + 1 + 6 + 2 + 100;

/// A Fetch like kafka-client's fetcher sends, for `(topic, partition, offset)`: min_bytes 1,
/// max_wait 500 ms, max_bytes 50 MiB, 1 MiB per partition, by name below v13 and by id from
/// v13 (topics that do not exist get the zero id).
fn fetch_req(h: &Harness, version: i16, parts: &[(&str, i32, i64)]) -> FetchRequest {
    let by_id = version >= 13;
    let mut topics: Vec<FetchTopic> = Vec::new();
    let mut last: Option<&str> = None;
    for &(topic, partition, offset) in parts {
        if last != Some(topic) {
            last = Some(topic);
            topics.push(FetchTopic {
                topic: if by_id { "".into() } else { topic.into() },
                topic_id: if by_id {
                    h.broker.topic_id(topic).unwrap_or(Uuid::ZERO)
                } else {
                    Uuid::ZERO
                },
                ..Default::default()
            });
        }
        topics
            .last_mut()
            .expect("pushed above")
            .partitions
            .push(FetchPartition {
                partition,
                current_leader_epoch: if version >= 9 { 0 } else { -1 },
                fetch_offset: offset,
                partition_max_bytes: 1_048_576,
                ..Default::default()
            });
    }
    FetchRequest {
        replica_id: -1,
        max_wait_ms: 500,
        min_bytes: 1,
        max_bytes: 52_428_800,
        session_id: 0,
        session_epoch: -1,
        topics,
        ..Default::default()
    }
}

/// Sets every partition's `partition_max_bytes`, in request order.
fn with_part_max(mut req: FetchRequest, limits: &[i32]) -> FetchRequest {
    let parts = req.topics.iter_mut().flat_map(|t| t.partitions.iter_mut());
    for (p, &l) in parts.zip(limits) {
        p.partition_max_bytes = l;
    }
    req
}

/// The partitions of a Fetch response as `(topic name, data)`, in response order.
fn partitions(h: &Harness, version: i16, r: FetchResponse) -> Vec<(String, PartitionData)> {
    let mut out = Vec::new();
    for t in r.responses {
        let name = if version >= 13 {
            assert_eq!(&*t.topic, "", "v{version}: no names from v13");
            topic_name(&h.broker, t.topic_id)
        } else {
            assert_eq!(t.topic_id, Uuid::ZERO, "v{version}: no ids before v13");
            t.topic.to_string()
        };
        for p in t.partitions {
            out.push((name.clone(), p));
        }
    }
    out
}

/// A fetched record: `(offset, timestamp, key, value)`.
type Rec = (i64, i64, Option<Bytes>, Option<Bytes>);

/// Decodes a partition's records with kafka-wire (CRCs checked): every entry must be a whole
/// magic-2 batch with leader epoch 0 and no producer.
fn records(p: &PartitionData) -> Vec<Rec> {
    let bytes = p.records.clone().unwrap_or_default();
    let set = decode_batches(&bytes, DecodeOptions::new()).expect("records decode");
    assert!(!set.is_truncated(), "whole batches only");
    let mut out = Vec::new();
    for b in set.batches {
        let Batch::V2(b) = b else {
            panic!("legacy entry {b:?}");
        };
        assert_eq!(b.partition_leader_epoch, 0);
        assert_eq!(b.producer_id, -1);
        assert!(!b.attributes.is_control() && !b.attributes.is_transactional());
        for r in &b.records {
            out.push((
                r.offset(b.base_offset),
                r.timestamp(b.base_timestamp),
                r.key.clone(),
                r.value.clone(),
            ));
        }
    }
    out
}

fn offsets(p: &PartitionData) -> Vec<i64> {
    records(p).into_iter().map(|r| r.0).collect()
}

fn size(p: &PartitionData) -> usize {
    p.records.as_ref().map_or(0, Bytes::len)
}

/// Sends `req` at `version` on `conn` and returns the answer, which must come at once.
fn fetch_now(h: &mut Harness, conn: ConnId, req: &FetchRequest, version: i16) -> FetchResponse {
    let id = h.send(conn, req, version);
    assert!(h.answered(conn, id), "v{version}: answered at once");
    body!(h.take(conn, id), Fetch)
}

fn fetch_parts(
    h: &mut Harness,
    conn: ConnId,
    req: &FetchRequest,
    version: i16,
) -> Vec<(String, PartitionData)> {
    let r = fetch_now(h, conn, req, version);
    partitions(h, version, r)
}

fn list_req(parts: &[(&str, i32, i64, i32)]) -> ListOffsetsRequest {
    let mut topics: Vec<ListOffsetsTopic> = Vec::new();
    for &(topic, partition, timestamp, epoch) in parts {
        if topics.last().is_none_or(|t| *t.name != *topic) {
            topics.push(ListOffsetsTopic {
                name: topic.into(),
                ..Default::default()
            });
        }
        topics
            .last_mut()
            .expect("pushed above")
            .partitions
            .push(ListOffsetsPartition {
                partition_index: partition,
                current_leader_epoch: epoch,
                timestamp,
                ..Default::default()
            });
    }
    ListOffsetsRequest {
        replica_id: -1,
        topics,
        ..Default::default()
    }
}

fn list_now(h: &mut Harness, conn: ConnId, req: &ListOffsetsRequest, version: i16) -> Vec<Lo> {
    let id = h.send(conn, req, version);
    let r = body!(h.take(conn, id), ListOffsets);
    r.topics
        .into_iter()
        .flat_map(|t| t.partitions)
        .map(Lo::from)
        .collect()
}

/// A ListOffsets answer: `(error, timestamp, offset, leader epoch)`.
#[derive(Debug, PartialEq, Eq)]
struct Lo(i16, i64, i64, i32);

impl From<ListOffsetsPartitionResponse> for Lo {
    fn from(p: ListOffsetsPartitionResponse) -> Self {
        Self(p.error_code, p.timestamp, p.offset, p.leader_epoch)
    }
}

// ---- versions -----------------------------------------------------------------------------------

#[test]
fn fetch_and_list_offsets_are_served_only_when_configured() {
    let ranges = |h: &mut Harness| {
        let id = h.send(9, &ApiVersionsRequest::default(), 3);
        let r = body!(h.take(9, id), ApiVersions);
        let find = |k: i16| {
            r.api_keys
                .iter()
                .find(|a| a.api_key == k)
                .map(|a| (a.min_version, a.max_version))
        };
        (find(FETCH_KEY), find(LIST_OFFSETS_KEY), r.api_keys.len())
    };
    let mut off = Harness::new();
    assert_eq!(ranges(&mut off), (None, None, 10));
    // Restricting an API the broker does not serve changes nothing.
    off.broker
        .set_api_versions(ApiKey::Fetch, Some(VersionRange::new(4, 12)));
    assert_eq!(ranges(&mut off), (None, None, 10));
    off.allow_errors = true;
    let req = fetch_req(&off, 12, &[("orders", 0, 0)]);
    let id = off.send(1, &req, 12);
    assert!(!off.answered(1, id));
    assert_eq!(off.broker.poll_closed(), Some(1));
    assert!(matches!(
        off.broker.errors()[0].kind,
        BrokerErrorKind::Unsupported {
            api_key: FETCH_KEY,
            version: 12
        }
    ));

    let mut on = fetching();
    assert_eq!(ranges(&mut on), (Some((4, 18)), Some((1, 11)), 12));
    // Clipped to what the model serves.
    on.broker
        .set_api_versions(ApiKey::Fetch, Some(VersionRange::new(0, 12)));
    on.broker.set_api_versions(ApiKey::ListOffsets, None);
    assert_eq!(ranges(&mut on), (Some((4, 12)), None, 11));
}

// ---- appends and plain reads --------------------------------------------------------------------

#[test]
fn appended_batches_come_back_at_every_fetch_version() {
    let mut h = fetching();
    let first = [kv(Some("k0"), Some("v0")), kv(None, Some("v1"))];
    assert_eq!(h.broker.append(10, "orders", 0, &first), Ok(0));
    assert_eq!(
        h.broker.append(20, "orders", 0, &[kv(Some("k2"), None)]),
        Ok(2)
    );
    assert_eq!(
        h.broker.append(30, "audit", 0, &[kv(Some("a"), Some("b"))]),
        Ok(0)
    );
    h.now = 30;
    assert_eq!(h.broker.end_offset("orders", 0), Some(3));
    assert_eq!(h.broker.end_offset("orders", 3), Some(0));
    assert_eq!(h.broker.end_offset("orders", 4), None);
    assert_eq!(h.broker.end_offset("missing", 0), None);
    let want_orders: Vec<Rec> = vec![
        (0, 10, first[0].0.clone(), first[0].1.clone()),
        (1, 10, None, first[1].1.clone()),
        (2, 20, Some(Bytes::from_static(b"k2")), None),
    ];
    let mut total = 0;
    for v in 4..=18 {
        let req = fetch_req(
            &h,
            v,
            &[("orders", 0, 0), ("orders", 3, 0), ("audit", 0, 0)],
        );
        let r = fetch_now(&mut h, 1, &req, v);
        assert_eq!((r.error_code, r.session_id), (0, 0), "v{v}");
        let parts = partitions(&h, v, r);
        let names: Vec<(&str, i32)> = parts
            .iter()
            .map(|(n, p)| (n.as_str(), p.partition_index))
            .collect();
        assert_eq!(names, [("orders", 0), ("orders", 3), ("audit", 0)], "v{v}");
        let log_start = if v >= 5 { 0 } else { -1 };
        for (_, p) in &parts {
            assert_eq!(p.error_code, 0, "v{v}");
            assert_eq!(p.log_start_offset, log_start, "v{v}");
            assert_eq!(p.last_stable_offset, p.high_watermark, "v{v}");
            assert_eq!(p.aborted_transactions, None, "v{v}: read_uncommitted");
            total += size(p);
        }
        assert_eq!(parts[0].1.high_watermark, 3, "v{v}");
        assert_eq!(records(&parts[0].1), want_orders, "v{v}");
        assert_eq!(parts[1].1.high_watermark, 0, "v{v}");
        assert_eq!(parts[1].1.records, Some(Bytes::new()), "v{v}");
        assert_eq!(offsets(&parts[2].1), [0], "v{v}");
    }
    // From inside a batch: the whole batch holding the offset (the client skips the rest).
    let req = fetch_req(&h, 12, &[("orders", 0, 1)]);
    let parts = fetch_parts(&mut h, 1, &req, 12);
    assert_eq!(offsets(&parts[0].1), [0, 1, 2]);
    total += size(&parts[0].1);
    let req = fetch_req(&h, 12, &[("orders", 0, 2)]);
    let parts = fetch_parts(&mut h, 1, &req, 12);
    assert_eq!(offsets(&parts[0].1), [2]);
    total += size(&parts[0].1);
    // read_committed: an empty aborted list, the same records.
    let mut req = fetch_req(&h, 12, &[("orders", 0, 0)]);
    req.isolation_level = 1;
    let parts = fetch_parts(&mut h, 1, &req, 12);
    assert_eq!(parts[0].1.aborted_transactions, Some(Vec::new()));
    assert_eq!(records(&parts[0].1), want_orders);
    total += size(&parts[0].1);
    let s = h.broker.stats();
    assert_eq!(s.fetch_responses, 15 + 3);
    assert_eq!(s.fetches_parked, 0);
    assert_eq!(s.fetch_record_bytes, u64::try_from(total).unwrap());
    assert_eq!(s.requests.get(&ApiKey::Fetch), Some(&18));
}

#[test]
fn append_rejects_unknown_partitions_and_empty_batches() {
    let mut h = fetching();
    let one = [kv(None, Some("v"))];
    assert_eq!(
        h.broker.append(0, "missing", 0, &one),
        Err(AppendError::UnknownTopic)
    );
    assert_eq!(
        h.broker.append(0, "orders", 4, &one),
        Err(AppendError::UnknownPartition)
    );
    assert_eq!(
        h.broker.append(0, "orders", -1, &one),
        Err(AppendError::UnknownPartition)
    );
    assert_eq!(
        h.broker.append(0, "orders", 0, &[]),
        Err(AppendError::NoRecords)
    );
    assert_eq!(h.broker.end_offset("orders", 0), Some(0));
    assert_eq!(h.broker.append(0, "orders", 0, &one), Ok(0));
    assert_eq!(h.broker.append(0, "orders", 0, &hundreds(3)), Ok(1));
    assert_eq!(h.broker.end_offset("orders", 0), Some(4));
}

// ---- ListOffsets --------------------------------------------------------------------------------

#[test]
fn list_offsets_earliest_latest_and_by_timestamp_at_every_version() {
    let mut h = fetching();
    h.broker.append(100, "orders", 1, &hundreds(2)).unwrap();
    h.broker.append(200, "orders", 1, &hundreds(3)).unwrap();
    h.now = 200;
    for v in 1..=11 {
        let epoch = if v >= 4 { 0 } else { -1 };
        let ok = |ts: i64, offset: i64| Lo(0, ts, offset, epoch);
        let unknown = Lo(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0, -1, -1, -1);
        let mut parts = vec![
            ("orders", 1, -2, epoch),
            ("orders", 1, -1, epoch),
            ("orders", 1, 100, epoch),
            ("orders", 1, 101, epoch),
            ("orders", 1, 150, epoch),
            ("orders", 1, 200, epoch),
            ("orders", 1, 201, epoch),
            ("orders", 2, -1, epoch),
            ("orders", 2, -2, epoch),
            ("orders", 2, 0, epoch),
            ("orders", 4, -1, epoch),
            ("missing", 0, -2, epoch),
        ];
        let mut want = vec![
            ok(-1, 0),
            ok(-1, 5),
            ok(100, 0),
            ok(200, 2),
            ok(200, 2),
            ok(200, 2),
            ok(-1, -1),
            ok(-1, 0),
            ok(-1, 0),
            ok(-1, -1),
            unknown,
            Lo(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0, -1, -1, -1),
        ];
        if v >= 7 {
            // Max timestamp: the first record with the largest timestamp.
            parts.push(("audit", 0, -3, epoch));
            want.push(ok(-1, -1));
            parts.push(("orders", 1, -3, epoch));
            want.push(ok(200, 2));
        }
        if v >= 8 {
            parts.push(("orders", 1, -4, epoch));
            want.push(ok(-1, 0));
        }
        if v >= 9 {
            // No tiered storage.
            parts.push(("orders", 1, -5, epoch));
            want.push(ok(-1, -1));
        }
        let got = list_now(&mut h, 1, &list_req(&parts), v);
        assert_eq!(got, want, "v{v}");
    }
    // The current leader epoch is checked from v4: older is fenced, newer unknown.
    let parts = [
        ("orders", 1, -1, 0),
        ("orders", 1, -1, 1),
        ("orders", 1, -1, -7),
        ("orders", 1, -1, -1),
    ];
    let got = list_now(&mut h, 1, &list_req(&parts), 4);
    let codes: Vec<i16> = got.iter().map(|l| l.0).collect();
    assert_eq!(
        codes,
        [
            0,
            ErrorCode::UNKNOWN_LEADER_EPOCH.0,
            ErrorCode::FENCED_LEADER_EPOCH.0,
            0
        ]
    );
}

// ---- errors -------------------------------------------------------------------------------------

#[test]
fn fetch_errors_are_answered_at_once_beside_the_data() {
    let mut h = fetching();
    h.broker.append(0, "orders", 0, &hundreds(3)).unwrap();
    let oor = ErrorCode::OFFSET_OUT_OF_RANGE.0;
    let unknown = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0;
    // Read errors (offsets, leader epochs) answer at once, whatever min_bytes and max_wait say.
    let mut req = fetch_req(
        &h,
        12,
        &[
            ("orders", 0, 4),
            ("orders", 1, -1),
            ("orders", 2, 0),
            ("orders", 3, 0),
            ("orders", 7, 0),
            ("missing", 0, 0),
        ],
    );
    req.min_bytes = 1_000_000;
    req.max_wait_ms = 60_000;
    req.topics[0].partitions[3].current_leader_epoch = 3;
    let parts = fetch_parts(&mut h, 1, &req, 12);
    let codes: Vec<i16> = parts.iter().map(|(_, p)| p.error_code).collect();
    let stale = ErrorCode::UNKNOWN_LEADER_EPOCH.0;
    assert_eq!(codes, [oor, oor, 0, stale, unknown, unknown]);
    for (_, p) in parts.iter().filter(|(_, p)| p.error_code != 0) {
        assert_eq!(
            (p.high_watermark, p.last_stable_offset, p.log_start_offset),
            (-1, -1, -1)
        );
        assert_eq!(p.records, Some(Bytes::new()));
    }
    assert_eq!(parts[2].1.high_watermark, 0);
    // The log end offset itself is in range: nothing to read yet.
    let mut req = fetch_req(&h, 12, &[("orders", 0, 3)]);
    req.min_bytes = 0;
    let parts = fetch_parts(&mut h, 1, &req, 12);
    assert_eq!((parts[0].1.error_code, parts[0].1.high_watermark), (0, 3));
    assert!(offsets(&parts[0].1).is_empty());
    // A leader epoch older than the leader's is fenced.
    let mut req = fetch_req(&h, 12, &[("orders", 0, 0)]);
    req.topics[0].partitions[0].current_leader_epoch = -5;
    let parts = fetch_parts(&mut h, 1, &req, 12);
    assert_eq!(parts[0].1.error_code, ErrorCode::FENCED_LEADER_EPOCH.0);

    // Unknown topics alone: nothing to wait for.
    let req = fetch_req(&h, 12, &[("missing", 0, 0), ("orders", 9, 0)]);
    let parts = fetch_parts(&mut h, 1, &req, 12);
    let codes: Vec<i16> = parts.iter().map(|(_, p)| p.error_code).collect();
    assert_eq!(codes, [unknown, unknown]);
    let mut req = fetch_req(&h, 13, &[("missing", 0, 0)]);
    req.topics[0].topic_id = Uuid::from_u64_pair(7, 7);
    let r = fetch_now(&mut h, 1, &req, 13);
    assert_eq!(r.responses[0].topic_id, Uuid::from_u64_pair(7, 7));
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.error_code, ErrorCode::UNKNOWN_TOPIC_ID.0);
    // Beside a partition with nothing to read, an unknown topic waits with it (Kafka answers
    // the unknown ones beside the fetch it delays).
    let mut req = fetch_req(&h, 13, &[("missing", 0, 0), ("orders", 2, 0)]);
    req.topics[0].topic_id = Uuid::ZERO;
    let id = h.send(1, &req, 13);
    assert!(!h.answered(1, id));
    h.advance(500);
    let r = body!(h.take(1, id), Fetch);
    let parts = partitions(&h, 13, r);
    let codes: Vec<i16> = parts.iter().map(|(_, p)| p.error_code).collect();
    assert_eq!(codes, [ErrorCode::UNKNOWN_TOPIC_ID.0, 0]);

    // Incremental fetch sessions do not exist; full fetches (epoch 0 or -1) get session id 0.
    for (session_id, epoch, code) in [
        (0, 0, 0),
        (0, -1, 0),
        (77, -1, 0),
        (77, 3, ErrorCode::FETCH_SESSION_ID_NOT_FOUND.0),
        (0, 1, ErrorCode::FETCH_SESSION_ID_NOT_FOUND.0),
    ] {
        let mut req = fetch_req(&h, 12, &[("orders", 0, 0)]);
        req.session_id = session_id;
        req.session_epoch = epoch;
        let r = fetch_now(&mut h, 1, &req, 12);
        assert_eq!(
            (r.error_code, r.session_id),
            (code, 0),
            "{session_id}/{epoch}"
        );
        assert_eq!(r.responses.is_empty(), code != 0);
    }
    assert_eq!(h.broker.stats().fetches_parked, 1);
}

#[test]
fn fetch_by_topic_id_from_v13() {
    let mut h = fetching();
    h.broker.append(0, "orders", 3, &hundreds(2)).unwrap();
    h.broker.append(0, "audit", 0, &hundreds(1)).unwrap();
    for v in 13..=18 {
        let req = fetch_req(&h, v, &[("audit", 0, 0), ("orders", 3, 1)]);
        let r = fetch_now(&mut h, 1, &req, v);
        let ids: Vec<Option<Uuid>> = r.responses.iter().map(|t| Some(t.topic_id)).collect();
        let want = [h.broker.topic_id("audit"), h.broker.topic_id("orders")];
        assert_eq!(ids, want, "v{v}");
        let parts = partitions(&h, v, r);
        assert_eq!(offsets(&parts[0].1), [0], "v{v}");
        assert_eq!(offsets(&parts[1].1), [0, 1], "v{v}");
        assert_eq!(parts[1].1.high_watermark, 2, "v{v}");
    }
    // The topic name is not looked at from v13.
    let mut req = fetch_req(&h, 13, &[("audit", 0, 0)]);
    req.topics[0].topic_id = Uuid::ZERO;
    let r = fetch_now(&mut h, 1, &req, 13);
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.error_code, ErrorCode::UNKNOWN_TOPIC_ID.0);
}

// ---- byte limits --------------------------------------------------------------------------------

#[test]
fn fetch_stays_within_partition_and_request_byte_limits() {
    let mut h = fetching();
    for _ in 0..3 {
        h.broker.append(0, "orders", 0, &hundreds(1)).unwrap();
        h.broker.append(0, "orders", 1, &hundreds(1)).unwrap();
    }
    let b = i32::try_from(BATCH).unwrap();
    let read = |h: &mut Harness, parts: &[(&str, i32, i64)], limits: &[i32], max: i32| {
        let mut req = with_part_max(fetch_req(h, 12, parts), limits);
        req.max_bytes = max;
        let parts = fetch_parts(h, 1, &req, 12);
        parts.iter().map(|(_, p)| offsets(p)).collect::<Vec<_>>()
    };
    let big = i32::MAX;
    let one = [("orders", 0, 0)];
    // Check the batch size the other cases rely on.
    let mut req = with_part_max(fetch_req(&h, 12, &one), &[b]);
    req.max_bytes = big;
    let parts = fetch_parts(&mut h, 1, &req, 12);
    assert_eq!(size(&parts[0].1), BATCH);
    // Per partition: whole batches that fit; KIP-74: the first even if it does not.
    assert_eq!(read(&mut h, &one, &[1], big), [vec![0]]);
    assert_eq!(read(&mut h, &one, &[0], big), [vec![0]]);
    assert_eq!(read(&mut h, &one, &[-1], big), [vec![0]]);
    assert_eq!(read(&mut h, &one, &[2 * b - 1], big), [vec![0]]);
    assert_eq!(read(&mut h, &one, &[2 * b], big), [vec![0, 1]]);
    assert_eq!(read(&mut h, &one, &[3 * b], big), [vec![0, 1, 2]]);
    assert_eq!(read(&mut h, &one, &[big], big), [vec![0, 1, 2]]);
    assert_eq!(read(&mut h, &[("orders", 0, 1)], &[1], big), [vec![1]]);
    // Across partitions: max_bytes bounds the sum; only the first partition with data gets a
    // batch that does not fit.
    let two = [("orders", 0, 0), ("orders", 1, 0)];
    assert_eq!(
        read(&mut h, &two, &[big, big], big),
        [vec![0, 1, 2], vec![0, 1, 2]]
    );
    assert_eq!(read(&mut h, &two, &[big, big], 1), [vec![0], vec![]]);
    assert_eq!(read(&mut h, &two, &[big, big], -1), [vec![0], vec![]]);
    assert_eq!(read(&mut h, &two, &[big, big], 2 * b), [vec![0, 1], vec![]]);
    assert_eq!(read(&mut h, &two, &[b, big], 2 * b), [vec![0], vec![0]]);
    assert_eq!(read(&mut h, &two, &[b, big], 3 * b - 1), [vec![0], vec![0]]);
    assert_eq!(read(&mut h, &two, &[b, big], 3 * b), [vec![0], vec![0, 1]]);
    assert_eq!(read(&mut h, &two, &[big, 1], big), [vec![0, 1, 2], vec![]]);
    // An empty first partition does not use up the exception.
    let three = [("orders", 2, 0), ("orders", 0, 0), ("orders", 1, 0)];
    assert_eq!(
        read(&mut h, &three, &[big, 1, 1], big),
        [vec![], vec![0], vec![]]
    );
}

// ---- the long poll ------------------------------------------------------------------------------

#[test]
fn a_parked_fetch_is_answered_by_the_append_that_brings_min_bytes() {
    let mut h = fetching();
    let req = fetch_req(&h, 12, &[("orders", 0, 0)]);
    let id = h.send(1, &req, 12);
    assert!(!h.answered(1, id), "nothing to read: parked");
    assert!(h.broker.is_busy(1));
    assert_eq!(h.broker.poll_timeout(), Some(500));
    assert_eq!(h.broker.stats().parked_fetches, 1);
    h.advance(200);
    assert!(!h.answered(1, id));
    // Another partition's data does not help.
    h.broker.append(210, "orders", 1, &hundreds(1)).unwrap();
    h.now = 210;
    h.collect();
    assert!(!h.answered(1, id));
    h.broker.append(250, "orders", 0, &hundreds(2)).unwrap();
    h.now = 250;
    h.collect();
    let got = h.take_got(1, id);
    assert_eq!(got.at, 250);
    let parts = partitions(&h, 12, body!(got.body, Fetch));
    assert_eq!(offsets(&parts[0].1), [0, 1]);
    assert_eq!(parts[0].1.high_watermark, 2);
    assert!(!h.broker.is_busy(1));
    assert_eq!(h.broker.poll_timeout(), None);
    let s = h.broker.stats();
    assert_eq!(
        (s.parked_fetches, s.fetches_parked, s.fetch_responses),
        (0, 1, 1)
    );

    // min_bytes counts record bytes: one batch is not enough for two batches' worth, two
    // are, exactly.
    let mut req = fetch_req(&h, 12, &[("orders", 0, 2), ("orders", 2, 0)]);
    req.min_bytes = i32::try_from(2 * BATCH).unwrap();
    let id = h.send(1, &req, 12);
    assert!(!h.answered(1, id));
    h.broker.append(300, "orders", 0, &hundreds(1)).unwrap();
    h.now = 300;
    h.collect();
    assert!(!h.answered(1, id), "one batch is less than min_bytes");
    h.broker.append(320, "orders", 2, &hundreds(1)).unwrap();
    h.now = 320;
    h.collect();
    let got = h.take_got(1, id);
    assert_eq!(got.at, 320);
    let parts = partitions(&h, 12, body!(got.body, Fetch));
    assert_eq!(offsets(&parts[0].1), [2]);
    assert_eq!(offsets(&parts[1].1), [0]);

    // By topic id (v13+), the append finds the parked fetch too.
    let req = fetch_req(&h, 13, &[("audit", 0, 0)]);
    let id = h.send(1, &req, 13);
    assert!(!h.answered(1, id));
    h.broker.append(330, "audit", 0, &hundreds(1)).unwrap();
    h.now = 330;
    h.collect();
    let got = h.take_got(1, id);
    assert_eq!(got.at, 330);
    let parts = partitions(&h, 13, body!(got.body, Fetch));
    assert_eq!(offsets(&parts[0].1), [0]);
    assert_eq!(h.broker.stats().fetches_parked, 3);
}

#[test]
fn a_parked_fetch_is_answered_at_its_deadline_with_what_there_is() {
    let mut h = fetching();
    h.advance_to(100);
    let req = fetch_req(&h, 12, &[("orders", 0, 0)]);
    let id = h.send(1, &req, 12);
    assert_eq!(h.broker.poll_timeout(), Some(600));
    h.advance_to(599);
    assert!(!h.answered(1, id));
    h.advance_to(600);
    let got = h.take_got(1, id);
    assert_eq!(got.at, 600);
    let parts = partitions(&h, 12, body!(got.body, Fetch));
    assert_eq!((parts[0].1.error_code, parts[0].1.high_watermark), (0, 0));
    assert_eq!(parts[0].1.records, Some(Bytes::new()));
    assert!(!h.broker.is_busy(1));

    // Data short of min_bytes is read again at the deadline.
    let mut req = fetch_req(&h, 12, &[("orders", 0, 0)]);
    req.min_bytes = 1_000_000;
    req.max_wait_ms = 1_000;
    let id = h.send(1, &req, 12);
    h.broker.append(700, "orders", 0, &hundreds(1)).unwrap();
    h.now = 700;
    h.collect();
    assert!(!h.answered(1, id));
    // Late handle_timeout: the answer is still produced at the deadline's time.
    h.advance_to(2_000);
    let got = h.take_got(1, id);
    let parts = partitions(&h, 12, body!(got.body, Fetch));
    assert_eq!(offsets(&parts[0].1), [0]);

    // No waiting at all with max_wait 0 (or less) or min_bytes 0.
    let parked = h.broker.stats().fetches_parked;
    assert_eq!(parked, 2);
    for (wait, min) in [(0, 1), (-1, 1), (500, 0), (500, -3)] {
        let mut req = fetch_req(&h, 12, &[("orders", 1, 0)]);
        req.max_wait_ms = wait;
        req.min_bytes = min;
        let parts = fetch_parts(&mut h, 1, &req, 12);
        assert_eq!(parts[0].1.records, Some(Bytes::new()), "{wait}/{min}");
    }
    assert_eq!(
        h.broker.stats().fetches_parked,
        parked,
        "none of them waited"
    );
}

#[test]
fn a_parked_fetch_holds_back_its_connection_only() {
    let mut h = fetching();
    let m = h.form_group(&[(1, "a", None)]);
    let member = &m[0];
    let t0 = h.now;
    let req = fetch_req(&h, 12, &[("orders", 0, 0)]);
    let fetch = h.send(1, &req, 12);
    let beat = h.heartbeat(1, &member.id, None, member.generation, 4);
    assert!(!h.answered(1, fetch) && !h.answered(1, beat));
    assert_eq!(
        h.broker.queued(1),
        1,
        "the heartbeat waits behind the fetch"
    );
    // The same member's heartbeat on another connection is answered at once.
    let other = h.heartbeat(2, &member.id, None, member.generation, 4);
    assert_eq!(body!(h.take(2, other), Heartbeat).error_code, 0);
    h.advance(300);
    assert!(!h.answered(1, beat));
    // At the deadline the fetch is answered, and then the heartbeat, at the same instant.
    h.advance(200);
    let order: Vec<(CorrelationId, u64)> = h
        .inbox
        .iter()
        .filter(|g| g.conn == 1)
        .map(|g| (g.id, g.at))
        .collect();
    assert_eq!(order, [(fetch, t0 + 500), (beat, t0 + 500)]);
    assert_eq!(body!(h.take(1, beat), Heartbeat).error_code, 0);
    let _ = h.take(1, fetch);

    // Released by an append instead: both go out at the append's time.
    let fetch = h.send(1, &req, 12);
    let beat = h.heartbeat(1, &member.id, None, member.generation, 4);
    let at = h.now + 100;
    h.broker.append(at, "orders", 0, &hundreds(1)).unwrap();
    h.now = at;
    h.collect();
    let order: Vec<(CorrelationId, u64)> = h
        .inbox
        .iter()
        .filter(|g| g.conn == 1)
        .map(|g| (g.id, g.at))
        .collect();
    assert_eq!(order, [(fetch, at), (beat, at)]);
    assert_eq!(h.broker.stats().queued_frames, 0);
}

#[test]
fn a_parked_fetch_on_a_closed_connection_is_discarded() {
    let mut h = fetching();
    let req = fetch_req(&h, 12, &[("orders", 0, 0)]);
    let _ = h.send(1, &req, 12);
    let _ = h.send(1, &ApiVersionsRequest::default(), 3);
    h.broker.disconnect(1);
    let s = h.broker.stats();
    assert_eq!((s.dropped_frames, s.parked_fetches), (1, 1));
    h.advance(500);
    assert!(h.inbox.is_empty());
    let s = h.broker.stats();
    assert_eq!((s.parked_fetches, s.discarded_responses), (0, 1));
}

// ---- fault injection and random requests --------------------------------------------------------

#[test]
fn injected_fetch_and_list_offsets_errors_encode_at_every_version() {
    let mut h = fetching();
    let code = ErrorCode::NOT_LEADER_OR_FOLLOWER;
    let mut g = kafka_wire::testing::Gen::new(5);
    for (api, range) in [(ApiKey::Fetch, 4..=18), (ApiKey::ListOffsets, 1..=11)] {
        for v in range {
            h.broker.inject_error(api, code.0, 1);
            let req = AnyRequest::random(api, v, &mut g);
            let conn = 2_000 + u64::from(api.as_i16() as u16) * 100 + v as u64;
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
            let got = h.inbox.remove(0).body;
            let codes: Vec<i16> = match got {
                AnyResponse::Fetch(r) if v >= 7 => vec![r.error_code],
                AnyResponse::Fetch(r) => r
                    .responses
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
                    .collect(),
                AnyResponse::ListOffsets(r) => r
                    .topics
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
                    .collect(),
                other => panic!("{other:?}"),
            };
            assert!(
                codes.iter().all(|&c| c == code.0),
                "{api:?} v{v}: {codes:?}"
            );
        }
    }
    let s = h.broker.stats();
    assert_eq!((s.injected_errors, s.fetch_responses), (26, 0));
}

#[test]
fn random_fetch_and_list_offsets_requests_never_break_the_broker() {
    let mut h = fetching();
    h.broker.create_topic("a", 2);
    let mut conn = 20_000;
    for seed in 0..100u64 {
        let mut g = kafka_wire::testing::Gen::new(seed);
        let at = h.now;
        h.broker
            .append(at, "a", (seed % 2) as i32, &hundreds(1))
            .unwrap();
        for (api, range) in [(ApiKey::Fetch, 4..=18), (ApiKey::ListOffsets, 1..=11)] {
            for v in range {
                let mut req = AnyRequest::random(api, v, &mut g);
                if let AnyRequest::Fetch(f) = &mut req {
                    // Keep some requests on real topics so reads and parking happen.
                    if seed % 3 == 0 {
                        for t in &mut f.topics {
                            t.topic = "a".into();
                            t.topic_id = h.broker.topic_id("a").unwrap_or(Uuid::ZERO);
                        }
                        if v < 13 {
                            f.topics.iter_mut().for_each(|t| t.topic_id = Uuid::ZERO);
                        } else {
                            f.topics.iter_mut().for_each(|t| t.topic = "".into());
                        }
                    }
                }
                conn += 1;
                h.send_on_new_conn_and_check(conn, &req, v, seed);
            }
        }
        h.advance(1_000);
        h.inbox.clear();
    }
    assert!(h.broker.stats().fetch_responses > 0);
}
