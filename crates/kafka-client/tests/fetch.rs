//! Scenario tests and a property test for `kafka_client::fetch`.

use core::time::Duration;

use bytes::{Bytes, BytesMut};
use group_fsm::assignor::TopicPartition;
use group_fsm::{Instant, Offset};
use kafka_client::fetch::{
    ConsumerRecord, FetchConfig, FetchError, FetchEvent, FetchRequestId, FetchSend, Fetcher,
    ResetPolicy,
};
use kafka_wire::error_code::ErrorCode;
use kafka_wire::generated::fetch_request::FetchRequest;
use kafka_wire::generated::fetch_response::{
    AbortedTransaction, FetchResponse, FetchableTopicResponse, PartitionData,
};
use kafka_wire::generated::list_offsets_request::ListOffsetsRequest;
use kafka_wire::generated::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsResponse, ListOffsetsTopicResponse,
};
use kafka_wire::generated::metadata_response::{
    MetadataResponse, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_wire::records::{
    BatchAttributes, ControlRecordKey, ControlRecordType, Header, Record, RecordBatch,
};
use kafka_wire::{
    AnyRequest, AnyResponse, Decode, Encode, NegotiatedVersions, NegotiationOptions, Uuid,
    VersionRange,
};

// ---------------------------------------------------------------------------------------------
// Helpers

const T0: Instant = Instant::ZERO;

fn tp(topic: &str, p: i32) -> TopicPartition {
    TopicPartition::new(topic, p)
}

fn topic_id(topic: &str) -> Uuid {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in topic.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    Uuid::from_u64_pair(h, !h)
}

/// Metadata for `(topic, partition, leader, epoch)` rows, with topic ids when `ids`.
fn metadata(rows: &[(&str, i32, i32, i32)], ids: bool) -> MetadataResponse {
    let mut md = MetadataResponse::default();
    for &(topic, partition, leader, epoch) in rows {
        if md
            .topics
            .last()
            .is_none_or(|t| t.name.as_deref() != Some(topic))
        {
            md.topics.push(MetadataResponseTopic {
                name: Some(topic.into()),
                topic_id: if ids { topic_id(topic) } else { Uuid::ZERO },
                ..Default::default()
            });
        }
        md.topics
            .last_mut()
            .expect("pushed above")
            .partitions
            .push(MetadataResponsePartition {
                partition_index: partition,
                leader_id: leader,
                leader_epoch: epoch,
                ..Default::default()
            });
    }
    md
}

fn versions_with(fetch: VersionRange, list: VersionRange) -> NegotiatedVersions {
    NegotiatedVersions::from_ranges([(1, fetch), (2, list)], NegotiationOptions::default())
}

fn modern() -> NegotiatedVersions {
    versions_with(VersionRange::new(4, 17), VersionRange::new(1, 9))
}

fn offset(p: TopicPartition, o: i64) -> (Offset, i16) {
    (Offset::new(p, o), 0)
}

/// A batch of `(offset, key, value)` records; the offsets must be increasing.
fn batch(records: &[(i64, &str, &str)]) -> RecordBatch {
    let base = records.first().map_or(0, |r| r.0);
    RecordBatch {
        base_offset: base,
        partition_leader_epoch: 5,
        last_offset_delta: records
            .last()
            .map_or(0, |r| i32::try_from(r.0 - base).expect("small")),
        base_timestamp: 1_000,
        max_timestamp: 1_000 + records.len() as i64,
        records: records
            .iter()
            .map(|&(o, k, v)| Record {
                offset_delta: i32::try_from(o - base).expect("small"),
                timestamp_delta: o - base,
                key: Some(Bytes::copy_from_slice(k.as_bytes())),
                value: Some(Bytes::copy_from_slice(v.as_bytes())),
                headers: vec![Header {
                    key: "h".into(),
                    value: Some(Bytes::from_static(b"hv")),
                }],
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// A transaction marker of `producer` at `offset`.
fn marker(offset: i64, producer: i64, kind: ControlRecordType) -> RecordBatch {
    RecordBatch {
        base_offset: offset,
        attributes: BatchAttributes::default()
            .with_control(true)
            .with_transactional(true),
        producer_id: producer,
        producer_epoch: 0,
        records: vec![Record {
            key: Some(Bytes::copy_from_slice(
                &ControlRecordKey {
                    version: 0,
                    record_type: kind,
                }
                .to_bytes(),
            )),
            value: Some(Bytes::from_static(&[0, 0, 0, 0, 0, 0])),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn encode(batches: &[RecordBatch]) -> Bytes {
    let mut out = BytesMut::new();
    for b in batches {
        b.encode(&mut out).expect("encodable batch");
    }
    out.freeze()
}

fn partition_data(p: i32, code: i16, records: Option<Bytes>) -> PartitionData {
    PartitionData {
        partition_index: p,
        error_code: code,
        high_watermark: 1_000,
        records,
        ..Default::default()
    }
}

/// A Fetch response for one topic, shaped for `version` (names up to 12, ids from 13).
fn fetch_response(version: i16, topic: &str, parts: Vec<PartitionData>) -> AnyResponse {
    AnyResponse::Fetch(FetchResponse {
        responses: vec![FetchableTopicResponse {
            topic: if version < 13 {
                topic.into()
            } else {
                Default::default()
            },
            topic_id: if version >= 13 {
                topic_id(topic)
            } else {
                Uuid::ZERO
            },
            partitions: parts,
            ..Default::default()
        }],
        ..Default::default()
    })
}

fn list_response(topic: &str, p: i32, code: i16, offset: i64) -> AnyResponse {
    AnyResponse::ListOffsets(ListOffsetsResponse {
        topics: vec![ListOffsetsTopicResponse {
            name: topic.into(),
            partitions: vec![ListOffsetsPartitionResponse {
                partition_index: p,
                error_code: code,
                offset,
                leader_epoch: 5,
                timestamp: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// Checks that the request encodes at its version and decodes back unchanged.
fn assert_encodes(send: &FetchSend) {
    let mut buf = BytesMut::new();
    match &send.request {
        AnyRequest::Fetch(r) => {
            r.encode(send.version, &mut buf).expect("fetch encodes");
            let back = FetchRequest::decode(&buf.freeze(), send.version).expect("decodes");
            assert_eq!(&back, r);
        }
        AnyRequest::ListOffsets(r) => {
            r.encode(send.version, &mut buf)
                .expect("list offsets encodes");
            let back = ListOffsetsRequest::decode(&buf.freeze(), send.version).expect("decodes");
            assert_eq!(&back, r);
        }
        other => panic!("unexpected request {other:?}"),
    }
}

fn poll(f: &mut Fetcher, now: Instant) -> Option<FetchSend> {
    let nv = modern();
    let s = f.poll_request(now, &|_| Some(nv.clone()));
    if let Some(s) = &s {
        assert_encodes(s);
    }
    s
}

fn fetch_of(send: &FetchSend) -> &FetchRequest {
    match &send.request {
        AnyRequest::Fetch(r) => r,
        other => panic!("expected a Fetch, got {other:?}"),
    }
}

fn list_of(send: &FetchSend) -> &ListOffsetsRequest {
    match &send.request {
        AnyRequest::ListOffsets(r) => r,
        other => panic!("expected a ListOffsets, got {other:?}"),
    }
}

/// `(topic, partition, fetch offset)` of every partition in a Fetch.
fn fetched(send: &FetchSend) -> Vec<(String, i32, i64)> {
    let r = fetch_of(send);
    let mut out = Vec::new();
    for t in &r.topics {
        let name = if send.version >= 13 {
            ["t", "u"]
                .into_iter()
                .find(|n| topic_id(n) == t.topic_id)
                .expect("known id")
                .to_string()
        } else {
            t.topic.to_string()
        };
        for p in &t.partitions {
            out.push((name.clone(), p.partition, p.fetch_offset));
        }
    }
    out
}

fn drain(f: &mut Fetcher) -> Vec<FetchEvent> {
    core::iter::from_fn(|| f.poll_event()).collect()
}

fn records(events: &[FetchEvent]) -> Vec<&ConsumerRecord> {
    events
        .iter()
        .filter_map(|e| match e {
            FetchEvent::Record(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn offsets(events: &[FetchEvent]) -> Vec<i64> {
    records(events).iter().map(|r| r.offset).collect()
}

fn position(f: &Fetcher, p: &TopicPartition) -> Option<i64> {
    f.positions()
        .into_iter()
        .find(|o| o.partition == *p)
        .map(|o| o.offset)
}

fn config(reset: ResetPolicy) -> FetchConfig {
    FetchConfig {
        reset,
        ..FetchConfig::default()
    }
}

/// A fetcher with `t-0` (and more) led by node 1 with topic ids.
fn setup(reset: ResetPolicy, parts: &[TopicPartition]) -> Fetcher {
    let mut f = Fetcher::new(config(reset));
    f.update_metadata(&metadata(
        &[("t", 0, 1, 5), ("t", 1, 1, 5), ("u", 0, 2, 3)],
        true,
    ));
    f.assign(parts);
    f
}

/// A fetcher whose `t-0` fetches from `at`, and the Fetch it sent.
fn fetching_at(at: i64) -> (Fetcher, FetchSend) {
    let mut f = setup(ResetPolicy::Earliest, &[tp("t", 0)]);
    f.committed(&[offset(tp("t", 0), at)]);
    let send = poll(&mut f, T0).expect("a fetch");
    assert_eq!(fetched(&send), vec![("t".into(), 0, at)]);
    (f, send)
}

// ---------------------------------------------------------------------------------------------
// Scenarios

#[test]
fn reset_then_fetch_delivers_two_batches_in_order() {
    let mut f = setup(ResetPolicy::Earliest, &[tp("t", 0)]);
    assert!(poll(&mut f, T0).is_none(), "waits for the committed offset");
    assert!(f.positions().is_empty());

    f.committed(&[offset(tp("t", 0), -1)]);
    let send = poll(&mut f, T0).expect("a ListOffsets");
    assert_eq!(send.node, 1);
    assert_eq!(send.version, 9);
    let req = list_of(&send);
    assert_eq!(req.replica_id, -1);
    assert_eq!(req.topics.len(), 1);
    assert_eq!(&*req.topics[0].name, "t");
    let p = &req.topics[0].partitions[0];
    assert_eq!((p.partition_index, p.timestamp), (0, -2));
    assert_eq!(p.current_leader_epoch, 5);
    assert!(poll(&mut f, T0).is_none(), "one ListOffsets in flight");

    f.handle_response(T0, send.id, list_response("t", 0, 0, 10));
    assert_eq!(
        drain(&mut f),
        vec![FetchEvent::OffsetReset {
            partition: tp("t", 0),
            offset: 10
        }]
    );
    assert_eq!(position(&f, &tp("t", 0)), Some(10));

    let send = poll(&mut f, T0).expect("a Fetch");
    assert_eq!((send.node, send.version), (1, 17));
    assert_eq!(send.timeout, Duration::from_millis(30_500));
    let req = fetch_of(&send);
    assert_eq!(
        (req.replica_id, req.session_id, req.session_epoch),
        (-1, 0, -1)
    );
    assert_eq!(
        (req.max_wait_ms, req.min_bytes, req.max_bytes),
        (500, 1, 52_428_800)
    );
    assert_eq!(req.topics[0].partitions[0].current_leader_epoch, 5);
    assert_eq!(req.topics[0].partitions[0].partition_max_bytes, 1_048_576);
    assert_eq!(fetched(&send), vec![("t".into(), 0, 10)]);
    assert!(poll(&mut f, T0).is_none(), "one Fetch in flight per broker");

    let data = encode(&[
        batch(&[(10, "k10", "v10"), (11, "k11", "v11"), (12, "k12", "v12")]),
        batch(&[(13, "k13", "v13"), (14, "k14", "v14")]),
    ]);
    let range = data.as_ptr() as usize..data.as_ptr() as usize + data.len();
    f.handle_response(
        T0,
        send.id,
        fetch_response(17, "t", vec![partition_data(0, 0, Some(data.clone()))]),
    );
    // Positions move only as records are handed out.
    assert_eq!(position(&f, &tp("t", 0)), Some(10));
    assert!(poll(&mut f, T0).is_none(), "not fetched while records wait");
    for want in 10..15 {
        let Some(FetchEvent::Record(r)) = f.poll_event() else {
            panic!("expected record {want}");
        };
        assert_eq!((r.topic.as_str(), r.partition, r.offset), ("t", 0, want));
        assert_eq!(r.key.as_deref(), Some(format!("k{want}").as_bytes()));
        assert_eq!(r.value.as_deref(), Some(format!("v{want}").as_bytes()));
        assert_eq!(
            r.headers,
            vec![("h".to_string(), Some(Bytes::from_static(b"hv")))]
        );
        assert_eq!(r.leader_epoch, 5);
        let first = if want < 13 { 10 } else { 13 };
        assert_eq!(r.timestamp, 1_000 + (want - first));
        let v = r.value.as_ref().expect("value");
        assert!(range.contains(&(v.as_ptr() as usize)), "zero-copy value");
        assert_eq!(position(&f, &tp("t", 0)), Some(want + 1));
    }
    assert_eq!(f.poll_event(), None);
    let offs = f.positions();
    assert_eq!(offs[0].leader_epoch, 5);
    let send = poll(&mut f, T0).expect("next Fetch");
    assert_eq!(fetched(&send), vec![("t".into(), 0, 15)]);
}

#[test]
fn committed_offset_skips_list_offsets() {
    let (f, send) = fetching_at(42);
    assert!(matches!(send.request, AnyRequest::Fetch(_)));
    assert_eq!(position(&f, &tp("t", 0)), Some(42));
}

#[test]
fn reset_latest_lists_timestamp_minus_one() {
    let mut f = setup(ResetPolicy::Latest, &[tp("t", 0), tp("t", 1)]);
    f.committed(&[offset(tp("t", 0), -1), offset(tp("t", 1), -1)]);
    let send = poll(&mut f, T0).expect("ListOffsets");
    let req = list_of(&send);
    assert_eq!(req.topics.len(), 1, "batched per leader");
    let ts: Vec<_> = req.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.timestamp))
        .collect();
    assert_eq!(ts, vec![(0, -1), (1, -1)]);
}

#[test]
fn no_committed_offset_with_policy_none_stops_until_seek() {
    let mut f = setup(ResetPolicy::None, &[tp("t", 0)]);
    f.committed(&[offset(tp("t", 0), -1)]);
    assert_eq!(
        drain(&mut f),
        vec![FetchEvent::Error(FetchError::NoOffset {
            partition: tp("t", 0)
        })]
    );
    assert!(poll(&mut f, T0).is_none());
    f.seek(&tp("t", 0), 7);
    let send = poll(&mut f, T0).expect("fetch after seek");
    assert_eq!(fetched(&send), vec![("t".into(), 0, 7)]);
}

#[test]
fn committed_error_keeps_waiting() {
    let mut f = setup(ResetPolicy::Earliest, &[tp("t", 0)]);
    f.committed(&[(Offset::new(tp("t", 0), 5), 16)]);
    assert_eq!(
        drain(&mut f),
        vec![FetchEvent::Error(FetchError::Committed {
            partition: tp("t", 0),
            code: ErrorCode(16)
        })]
    );
    assert!(poll(&mut f, T0).is_none());
    f.committed(&[offset(tp("t", 0), 5)]);
    assert!(poll(&mut f, T0).is_some());
}

fn out_of_range(reset: ResetPolicy) -> (Fetcher, Vec<FetchEvent>) {
    let mut f = setup(reset, &[tp("t", 0), tp("t", 1)]);
    f.committed(&[offset(tp("t", 0), 50), offset(tp("t", 1), 3)]);
    let send = poll(&mut f, T0).expect("fetch");
    assert_eq!(fetched(&send).len(), 2);
    f.handle_response(
        T0,
        send.id,
        fetch_response(
            17,
            "t",
            vec![
                partition_data(0, 1, None),
                partition_data(1, 0, Some(encode(&[batch(&[(3, "a", "b")])]))),
            ],
        ),
    );
    let events = drain(&mut f);
    (f, events)
}

#[test]
fn out_of_range_resets_by_policy() {
    for (reset, ts) in [(ResetPolicy::Earliest, -2), (ResetPolicy::Latest, -1)] {
        let (mut f, events) = out_of_range(reset);
        assert_eq!(offsets(&events), vec![3], "the other partition goes on");
        let send = poll(&mut f, T0).expect("ListOffsets");
        let req = list_of(&send);
        assert_eq!(req.topics[0].partitions[0].timestamp, ts);
        assert_eq!(req.topics[0].partitions[0].partition_index, 0);
        f.handle_response(T0, send.id, list_response("t", 0, 0, 60));
        assert_eq!(
            drain(&mut f),
            vec![FetchEvent::OffsetReset {
                partition: tp("t", 0),
                offset: 60
            }]
        );
        let send = poll(&mut f, T0).expect("fetch");
        assert_eq!(
            fetched(&send),
            vec![("t".into(), 0, 60), ("t".into(), 1, 4)]
        );
    }
}

#[test]
fn out_of_range_without_policy_stops_that_partition() {
    let (mut f, events) = out_of_range(ResetPolicy::None);
    assert_eq!(offsets(&events), vec![3]);
    assert!(
        events.contains(&FetchEvent::Error(FetchError::OffsetOutOfRange {
            partition: tp("t", 0),
            offset: 50
        }))
    );
    let send = poll(&mut f, T0).expect("fetch for the other partition");
    assert_eq!(fetched(&send), vec![("t".into(), 1, 4)]);
    assert_eq!(position(&f, &tp("t", 0)), Some(50), "position kept");
    f.handle_failed(T0, send.id);
    f.seek(&tp("t", 0), 0);
    let later = Instant::from_millis(100);
    let send = poll(&mut f, later).expect("fetch after seek");
    assert_eq!(fetched(&send), vec![("t".into(), 0, 0), ("t".into(), 1, 4)]);
}

#[test]
fn not_leader_asks_for_metadata_once_then_follows_the_new_leader() {
    let mut f = setup(ResetPolicy::Earliest, &[tp("t", 0), tp("t", 1)]);
    f.committed(&[offset(tp("t", 0), 0), offset(tp("t", 1), 0)]);
    let send = poll(&mut f, T0).expect("fetch");
    f.handle_response(
        T0,
        send.id,
        fetch_response(
            17,
            "t",
            vec![partition_data(0, 6, None), partition_data(1, 74, None)],
        ),
    );
    assert_eq!(drain(&mut f), vec![FetchEvent::NeedMetadata]);
    assert_eq!(f.poll_timeout(), Some(Instant::from_millis(100)));
    assert!(
        poll(&mut f, Instant::from_millis(50)).is_none(),
        "backing off"
    );
    let t1 = Instant::from_millis(100);
    // Still the old leader: a second error does not ask again.
    let send = poll(&mut f, t1).expect("retry");
    assert_eq!(send.node, 1);
    f.handle_response(
        t1,
        send.id,
        fetch_response(17, "t", vec![partition_data(0, 6, None)]),
    );
    assert_eq!(drain(&mut f), vec![]);
    f.update_metadata(&metadata(&[("t", 0, 2, 6), ("t", 1, 2, 6)], true));
    let t2 = Instant::from_millis(200);
    let send = poll(&mut f, t2).expect("fetch from the new leader");
    assert_eq!(send.node, 2);
    assert_eq!(
        fetch_of(&send).topics[0].partitions[0].current_leader_epoch,
        6
    );
    assert_eq!(fetched(&send), vec![("t".into(), 0, 0), ("t".into(), 1, 0)]);
    // After metadata, the next metadata error asks again.
    f.handle_response(
        t2,
        send.id,
        fetch_response(17, "t", vec![partition_data(0, 100, None)]),
    );
    assert_eq!(drain(&mut f), vec![FetchEvent::NeedMetadata]);
}

#[test]
fn stale_metadata_epoch_is_ignored() {
    let mut f = setup(ResetPolicy::Earliest, &[tp("t", 0)]);
    f.update_metadata(&metadata(&[("t", 0, 3, 4)], true));
    f.committed(&[offset(tp("t", 0), 0)]);
    assert_eq!(poll(&mut f, T0).expect("fetch").node, 1);
}

#[test]
fn unknown_leader_asks_for_metadata() {
    let mut f = Fetcher::new(config(ResetPolicy::Earliest));
    f.assign(&[tp("t", 0)]);
    f.committed(&[offset(tp("t", 0), 0)]);
    assert!(poll(&mut f, T0).is_none());
    assert_eq!(drain(&mut f), vec![FetchEvent::NeedMetadata]);
    assert!(poll(&mut f, T0).is_none());
    assert_eq!(drain(&mut f), vec![], "once");
}

#[test]
fn remove_during_fetch_drops_its_data() {
    let (mut f, send) = fetching_at(5);
    let removed = f.remove(&[tp("t", 0)]);
    assert_eq!(removed, vec![Offset::new(tp("t", 0), 5)]);
    assert!(f.assigned().is_empty());
    // Assigned again before the old answer arrives: the old data must still be dropped.
    f.assign(&[tp("t", 0)]);
    f.handle_response(
        T0,
        send.id,
        fetch_response(
            17,
            "t",
            vec![partition_data(
                0,
                0,
                Some(encode(&[batch(&[(5, "a", "b")])])),
            )],
        ),
    );
    assert_eq!(drain(&mut f), vec![]);
    assert!(f.positions().is_empty());
}

#[test]
fn seek_during_fetch_drops_its_data() {
    let (mut f, send) = fetching_at(5);
    f.seek(&tp("t", 0), 100);
    f.handle_response(
        T0,
        send.id,
        fetch_response(
            17,
            "t",
            vec![partition_data(
                0,
                0,
                Some(encode(&[batch(&[(5, "a", "b")])])),
            )],
        ),
    );
    assert_eq!(drain(&mut f), vec![]);
    assert_eq!(position(&f, &tp("t", 0)), Some(100));
    let send = poll(&mut f, T0).expect("fetch");
    assert_eq!(fetched(&send), vec![("t".into(), 0, 100)]);
}

#[test]
fn seek_drops_undelivered_records() {
    let (mut f, send) = fetching_at(5);
    f.handle_response(
        T0,
        send.id,
        fetch_response(
            17,
            "t",
            vec![partition_data(
                0,
                0,
                Some(encode(&[batch(&[(5, "a", "b"), (6, "c", "d")])])),
            )],
        ),
    );
    assert!(matches!(f.poll_event(), Some(FetchEvent::Record(r)) if r.offset == 5));
    f.seek(&tp("t", 0), 2);
    assert_eq!(f.poll_event(), None);
    assert_eq!(position(&f, &tp("t", 0)), Some(2));
}

#[test]
fn pause_and_resume() {
    let mut f = setup(ResetPolicy::Earliest, &[tp("t", 0), tp("t", 1)]);
    f.committed(&[offset(tp("t", 0), 0), offset(tp("t", 1), 0)]);
    f.pause(&[tp("t", 1)]);
    assert!(f.is_paused(&tp("t", 1)));
    let send = poll(&mut f, T0).expect("fetch");
    assert_eq!(fetched(&send), vec![("t".into(), 0, 0)]);
    // t-0 paused while in flight: its data is dropped.
    f.pause(&[tp("t", 0)]);
    f.handle_response(
        T0,
        send.id,
        fetch_response(
            17,
            "t",
            vec![partition_data(
                0,
                0,
                Some(encode(&[batch(&[(0, "a", "b")])])),
            )],
        ),
    );
    assert_eq!(drain(&mut f), vec![]);
    assert!(poll(&mut f, T0).is_none(), "everything paused");
    assert_eq!(f.positions().len(), 2, "positions survive a pause");
    f.resume(&[tp("t", 0), tp("t", 1)]);
    let send = poll(&mut f, T0).expect("fetch");
    assert_eq!(fetched(&send), vec![("t".into(), 0, 0), ("t".into(), 1, 0)]);
}

#[test]
fn truncated_trailing_batch_delivers_the_complete_ones() {
    let (mut f, send) = fetching_at(0);
    let full = encode(&[
        batch(&[(0, "a", "0"), (1, "b", "1")]),
        batch(&[(2, "c", "2"), (3, "d", "3")]),
    ]);
    let cut = full.slice(..full.len() - 7);
    f.handle_response(
        T0,
        send.id,
        fetch_response(17, "t", vec![partition_data(0, 0, Some(cut))]),
    );
    let events = drain(&mut f);
    assert_eq!(offsets(&events), vec![0, 1]);
    assert_eq!(events.len(), 2, "truncation is not an error");
    let send = poll(&mut f, T0).expect("fetch");
    assert_eq!(fetched(&send), vec![("t".into(), 0, 2)]);
}

#[test]
fn first_batch_truncated_is_no_progress_with_backoff() {
    let (mut f, send) = fetching_at(0);
    let full = encode(&[batch(&[(0, "a", "0"), (1, "b", "1")])]);
    let cut = full.slice(..full.len() - 1);
    let n = cut.len();
    f.handle_response(
        T0,
        send.id,
        fetch_response(17, "t", vec![partition_data(0, 0, Some(cut))]),
    );
    assert_eq!(
        drain(&mut f),
        vec![FetchEvent::Error(FetchError::NoProgress {
            partition: tp("t", 0),
            offset: 0,
            bytes: n
        })]
    );
    assert!(poll(&mut f, T0).is_none(), "no tight loop");
    assert_eq!(f.poll_timeout(), Some(Instant::from_millis(100)));
    assert!(poll(&mut f, Instant::from_millis(100)).is_some());
}

#[test]
fn empty_answer_refetches_at_once() {
    let (mut f, send) = fetching_at(0);
    f.handle_response(
        T0,
        send.id,
        fetch_response(17, "t", vec![partition_data(0, 0, Some(Bytes::new()))]),
    );
    assert_eq!(drain(&mut f), vec![]);
    assert!(poll(&mut f, T0).is_some());
}

#[test]
fn control_batches_are_skipped() {
    let (mut f, send) = fetching_at(0);
    let data = encode(&[
        batch(&[(0, "a", "0"), (1, "b", "1")]),
        marker(2, 7, ControlRecordType::Commit),
        batch(&[(3, "c", "3")]),
        marker(4, 7, ControlRecordType::Commit),
    ]);
    f.handle_response(
        T0,
        send.id,
        fetch_response(17, "t", vec![partition_data(0, 0, Some(data))]),
    );
    let events = drain(&mut f);
    assert_eq!(offsets(&events), vec![0, 1, 3]);
    // The trailing marker is passed once the records are handed out.
    assert_eq!(position(&f, &tp("t", 0)), Some(5));
}

#[test]
fn a_lone_control_batch_advances_the_position() {
    let (mut f, send) = fetching_at(4);
    let data = encode(&[marker(4, 7, ControlRecordType::Abort)]);
    f.handle_response(
        T0,
        send.id,
        fetch_response(17, "t", vec![partition_data(0, 0, Some(data))]),
    );
    assert_eq!(drain(&mut f), vec![]);
    assert_eq!(position(&f, &tp("t", 0)), Some(5));
    let send = poll(&mut f, T0).expect("fetch");
    assert_eq!(fetched(&send), vec![("t".into(), 0, 5)]);
}

#[test]
fn records_before_the_position_are_skipped() {
    let (mut f, send) = fetching_at(12);
    let data = encode(&[batch(&[
        (10, "a", "10"),
        (11, "b", "11"),
        (12, "c", "12"),
        (14, "d", "14"),
    ])]);
    f.handle_response(
        T0,
        send.id,
        fetch_response(17, "t", vec![partition_data(0, 0, Some(data))]),
    );
    assert_eq!(offsets(&drain(&mut f)), vec![12, 14]);
    assert_eq!(position(&f, &tp("t", 0)), Some(15));
}

#[test]
fn compacted_tail_moves_position_to_batch_end() {
    let (mut f, send) = fetching_at(0);
    let mut b = batch(&[(0, "a", "0"), (1, "b", "1")]);
    b.last_offset_delta = 9; // records 2..=9 compacted away
    f.handle_response(
        T0,
        send.id,
        fetch_response(17, "t", vec![partition_data(0, 0, Some(encode(&[b])))]),
    );
    assert_eq!(offsets(&drain(&mut f)), vec![0, 1]);
    assert_eq!(position(&f, &tp("t", 0)), Some(10));
}

#[test]
fn read_committed_drops_aborted_transactions() {
    let mut f = Fetcher::new(FetchConfig {
        isolation_level: 1,
        ..config(ResetPolicy::Earliest)
    });
    f.update_metadata(&metadata(&[("t", 0, 1, 5)], true));
    f.assign(&[tp("t", 0)]);
    f.committed(&[offset(tp("t", 0), 0)]);
    let send = poll(&mut f, T0).expect("fetch");
    assert_eq!(fetch_of(&send).isolation_level, 1);
    let txn = |mut b: RecordBatch, pid: i64| {
        b.producer_id = pid;
        b.producer_epoch = 0;
        b.attributes = b.attributes.with_transactional(true);
        b
    };
    let data = encode(&[
        txn(batch(&[(0, "a", "0"), (1, "b", "1")]), 7), // aborted
        txn(batch(&[(2, "c", "2")]), 8),                // committed
        marker(3, 7, ControlRecordType::Abort),
        marker(4, 8, ControlRecordType::Commit),
        txn(batch(&[(5, "d", "5")]), 7), // a new, committed transaction of 7
        batch(&[(6, "e", "6")]),
    ]);
    let mut pd = partition_data(0, 0, Some(data));
    pd.aborted_transactions = Some(vec![AbortedTransaction {
        producer_id: 7,
        first_offset: 0,
        ..Default::default()
    }]);
    f.handle_response(T0, send.id, fetch_response(17, "t", vec![pd]));
    assert_eq!(offsets(&drain(&mut f)), vec![2, 5, 6]);
    assert_eq!(position(&f, &tp("t", 0)), Some(7));
}

#[test]
fn fetch_request_shapes_by_version() {
    // v4: names, no leader epoch.
    let mut f = setup(ResetPolicy::Earliest, &[tp("t", 0), tp("u", 0)]);
    f.committed(&[offset(tp("t", 0), 1), offset(tp("u", 0), 2)]);
    let old = versions_with(VersionRange::new(0, 4), VersionRange::new(0, 1));
    let send = f.poll_request(T0, &|_| Some(old.clone())).expect("fetch");
    assert_encodes(&send);
    assert_eq!((send.node, send.version), (1, 4));
    let r = fetch_of(&send);
    assert_eq!(&*r.topics[0].topic, "t");
    assert_eq!(r.topics[0].topic_id, Uuid::ZERO);
    assert_eq!(r.topics[0].partitions[0].current_leader_epoch, -1);
    // v13+: ids, no names.
    let send = poll(&mut f, T0).expect("fetch to node 2");
    assert_eq!((send.node, send.version), (2, 17));
    let r = fetch_of(&send);
    assert_eq!(r.topics[0].topic_id, topic_id("u"));
    assert_eq!(&*r.topics[0].topic, "");
    assert_eq!(r.topics[0].partitions[0].current_leader_epoch, 3);
    // A v4 answer (names) and a v17 answer (ids) are both understood.
    let (id_t, id_u) = (FetchRequestId(1), send.id);
    f.handle_response(
        T0,
        id_t,
        fetch_response(
            4,
            "t",
            vec![partition_data(
                0,
                0,
                Some(encode(&[batch(&[(1, "a", "b")])])),
            )],
        ),
    );
    f.handle_response(
        T0,
        id_u,
        fetch_response(
            17,
            "u",
            vec![partition_data(
                0,
                0,
                Some(encode(&[batch(&[(2, "a", "b")])])),
            )],
        ),
    );
    let events = drain(&mut f);
    let got: Vec<_> = records(&events)
        .iter()
        .map(|r| (r.topic.clone(), r.offset))
        .collect();
    assert_eq!(got, vec![("t".into(), 1), ("u".into(), 2)]);
}

#[test]
fn no_topic_ids_falls_back_to_names() {
    let mut f = Fetcher::new(config(ResetPolicy::Earliest));
    f.update_metadata(&metadata(&[("t", 0, 1, 5)], false));
    f.assign(&[tp("t", 0)]);
    f.committed(&[offset(tp("t", 0), 0)]);
    let send = poll(&mut f, T0).expect("fetch");
    assert_eq!(send.version, 12);
    assert_eq!(&*fetch_of(&send).topics[0].topic, "t");
    // A broker without v12 gets nothing until metadata has ids.
    let mut f = Fetcher::new(config(ResetPolicy::Earliest));
    f.update_metadata(&metadata(&[("t", 0, 1, 5)], false));
    f.assign(&[tp("t", 0)]);
    f.committed(&[offset(tp("t", 0), 0)]);
    let new = versions_with(VersionRange::new(13, 17), VersionRange::new(1, 9));
    assert!(f.poll_request(T0, &|_| Some(new.clone())).is_none());
    assert_eq!(drain(&mut f), vec![FetchEvent::NeedMetadata]);
    f.update_metadata(&metadata(&[("t", 0, 1, 5)], true));
    let send = f.poll_request(T0, &|_| Some(new.clone())).expect("fetch");
    assert_eq!(send.version, 17);
}

#[test]
fn unknown_versions_wait_and_unsupported_versions_are_reported() {
    let (mut f, _) = {
        let mut f = setup(ResetPolicy::Earliest, &[tp("t", 0)]);
        f.committed(&[offset(tp("t", 0), 0)]);
        (f, ())
    };
    assert!(f.poll_request(T0, &|_| None).is_none());
    assert_eq!(drain(&mut f), vec![]);
    let ancient = versions_with(VersionRange::new(0, 3), VersionRange::new(0, 0));
    assert!(f.poll_request(T0, &|_| Some(ancient.clone())).is_none());
    assert_eq!(
        drain(&mut f),
        vec![FetchEvent::Error(FetchError::UnsupportedVersion {
            node: 1,
            api: kafka_wire::ApiKey::Fetch
        })]
    );
    assert!(f.poll_request(T0, &|_| Some(ancient.clone())).is_none());
    assert_eq!(drain(&mut f), vec![], "reported once");
    assert!(poll(&mut f, T0).is_some());
}

#[test]
fn one_fetch_per_broker_carries_all_its_partitions() {
    let mut f = setup(ResetPolicy::Earliest, &[tp("t", 0), tp("t", 1), tp("u", 0)]);
    f.committed(&[
        offset(tp("t", 0), 0),
        offset(tp("t", 1), 0),
        offset(tp("u", 0), 0),
    ]);
    let a = poll(&mut f, T0).expect("fetch to 1");
    let b = poll(&mut f, T0).expect("fetch to 2");
    assert!(poll(&mut f, T0).is_none());
    assert_eq!((a.node, b.node), (1, 2));
    assert_eq!(fetched(&a).len(), 2);
    assert_eq!(fetched(&b).len(), 1);
    f.handle_failed(T0, a.id);
    assert!(poll(&mut f, T0).is_none(), "backing off after a failure");
    assert!(poll(&mut f, Instant::from_millis(100)).is_some());
}

#[test]
fn broker_errors_back_off_and_retry() {
    let (mut f, send) = fetching_at(0);
    f.handle_response(
        T0,
        send.id,
        fetch_response(17, "t", vec![partition_data(0, 29, None)]),
    );
    assert_eq!(
        drain(&mut f),
        vec![FetchEvent::Error(FetchError::Broker {
            partition: tp("t", 0),
            code: ErrorCode(29)
        })]
    );
    assert!(poll(&mut f, Instant::from_millis(99)).is_none());
    let send = poll(&mut f, Instant::from_millis(100)).expect("retry");
    // Top-level error.
    f.handle_response(
        Instant::from_millis(100),
        send.id,
        AnyResponse::Fetch(FetchResponse {
            error_code: 70,
            ..Default::default()
        }),
    );
    assert_eq!(
        drain(&mut f),
        vec![FetchEvent::Error(FetchError::Request {
            node: 1,
            api: kafka_wire::ApiKey::Fetch,
            code: ErrorCode(70)
        })]
    );
    assert!(poll(&mut f, Instant::from_millis(199)).is_none());
    assert!(poll(&mut f, Instant::from_millis(200)).is_some());
}

#[test]
fn hostile_answers_are_typed_errors_or_ignored() {
    let (mut f, send) = fetching_at(0);
    // Unknown id.
    f.handle_response(T0, FetchRequestId(999), list_response("t", 0, 0, 5));
    f.handle_failed(T0, FetchRequestId(999));
    assert_eq!(drain(&mut f), vec![]);
    // Wrong type.
    f.handle_response(T0, send.id, list_response("t", 0, 0, 5));
    assert_eq!(
        drain(&mut f),
        vec![FetchEvent::Error(FetchError::UnexpectedResponse {
            node: 1,
            expected: kafka_wire::ApiKey::Fetch,
            got: kafka_wire::ApiKey::ListOffsets
        })]
    );
    assert_eq!(position(&f, &tp("t", 0)), Some(0));
    // Unrequested partitions, unknown topic ids, duplicate partitions, garbage records.
    let t1 = Instant::from_millis(100);
    let send = poll(&mut f, t1).expect("retry");
    let mut resp = fetch_response(
        17,
        "t",
        vec![
            partition_data(0, 0, Some(Bytes::from_static(&[0xff; 40]))),
            partition_data(0, 0, Some(encode(&[batch(&[(0, "x", "x")])]))),
            partition_data(9, 0, Some(encode(&[batch(&[(0, "x", "x")])]))),
        ],
    );
    if let AnyResponse::Fetch(r) = &mut resp {
        r.responses.push(FetchableTopicResponse {
            topic_id: Uuid::from_u64_pair(1, 2),
            partitions: vec![partition_data(0, 0, None)],
            ..Default::default()
        });
    }
    f.handle_response(t1, send.id, resp);
    let events = drain(&mut f);
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(matches!(
        &events[0],
        FetchEvent::Error(FetchError::Decode { partition, offset: 0, .. }) if *partition == tp("t", 0)
    ));
    assert_eq!(position(&f, &tp("t", 0)), Some(0));
    // ListOffsets with a negative offset.
    let mut g = setup(ResetPolicy::Earliest, &[tp("t", 0)]);
    g.committed(&[offset(tp("t", 0), -1)]);
    let send = poll(&mut g, T0).expect("ListOffsets");
    g.handle_response(T0, send.id, list_response("t", 0, 0, -7));
    assert_eq!(
        drain(&mut g),
        vec![FetchEvent::Error(FetchError::InvalidOffset {
            partition: tp("t", 0),
            offset: -7
        })]
    );
    assert!(g.positions().is_empty());
    assert!(poll(&mut g, T0).is_none());
    let send = poll(&mut g, Instant::from_millis(100)).expect("ListOffsets again");
    // A ListOffsets answer missing the partition: retried after the back-off.
    g.handle_response(
        Instant::from_millis(100),
        send.id,
        AnyResponse::ListOffsets(ListOffsetsResponse::default()),
    );
    assert!(poll(&mut g, Instant::from_millis(150)).is_none());
    assert!(poll(&mut g, Instant::from_millis(200)).is_some());
}

#[test]
fn seek_misuse_is_reported() {
    let mut f = setup(ResetPolicy::Earliest, &[tp("t", 0)]);
    f.seek(&tp("x", 0), 1);
    f.seek(&tp("t", 0), -3);
    assert_eq!(
        drain(&mut f),
        vec![
            FetchEvent::Error(FetchError::NotAssigned {
                partition: tp("x", 0)
            }),
            FetchEvent::Error(FetchError::InvalidSeek {
                partition: tp("t", 0),
                offset: -3
            }),
        ]
    );
    assert!(f.positions().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Property test: a model broker and random interleavings

mod model {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    const TOPICS: [&str; 2] = ["t", "u"];

    fn all_parts() -> Vec<TopicPartition> {
        vec![tp("t", 0), tp("t", 1), tp("u", 0)]
    }

    /// One partition's log: batches of record offsets (gaps = compaction) and control markers.
    #[derive(Debug, Clone)]
    struct Log {
        batches: Vec<RecordBatch>,
        end: i64,
    }

    /// The value a record at `offset` of `p` carries.
    fn value_of(p: &TopicPartition, offset: i64) -> String {
        format!("{}-{}-{offset}", p.topic, p.partition)
    }

    fn build_log(p: &TopicPartition, sizes: &[(u8, bool, u8)]) -> Log {
        let mut batches = Vec::new();
        let mut next = 0_i64;
        for &(n, control, gap) in sizes {
            if control {
                batches.push(marker(next, 1, ControlRecordType::Commit));
                next += 1;
                continue;
            }
            let n = i64::from(n % 4) + 1;
            let gap = i64::from(gap % 3);
            // Records at next, next + 1 + gap, ...: compaction gaps inside the batch.
            let offs: Vec<i64> = (0..n).map(|i| next + i * (1 + gap)).collect();
            let vals: Vec<String> = offs.iter().map(|&o| value_of(p, o)).collect();
            let rows: Vec<(i64, &str, &str)> = offs
                .iter()
                .zip(&vals)
                .map(|(&o, v)| (o, "k", v.as_str()))
                .collect();
            batches.push(batch(&rows));
            next = offs.last().copied().unwrap_or(next) + 1;
        }
        Log { batches, end: next }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Assign(u8),
        Remove(u8),
        Seek(u8, u8),
        Pause(u8),
        Resume(u8),
        /// Answer the oldest outstanding request: truncation seed, error seed, garbage flag.
        Answer(u8, u8, bool),
        Fail,
        Poll(u8),
        Time(u8),
        MoveLeader(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            2 => any::<u8>().prop_map(Op::Assign),
            1 => any::<u8>().prop_map(Op::Remove),
            1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::Seek(a, b)),
            1 => any::<u8>().prop_map(Op::Pause),
            1 => any::<u8>().prop_map(Op::Resume),
            6 => (any::<u8>(), any::<u8>(), proptest::bool::weighted(0.05))
                .prop_map(|(a, b, c)| Op::Answer(a, b, c)),
            1 => Just(Op::Fail),
            4 => any::<u8>().prop_map(Op::Poll),
            2 => any::<u8>().prop_map(Op::Time),
            1 => any::<u8>().prop_map(Op::MoveLeader),
        ]
    }

    fn subset(mask: u8) -> Vec<TopicPartition> {
        all_parts()
            .into_iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, p)| p)
            .collect()
    }

    struct Sim {
        f: Fetcher,
        logs: BTreeMap<TopicPartition, Log>,
        leaders: BTreeMap<TopicPartition, i32>,
        epoch: i32,
        now: Instant,
        /// Outstanding requests in send order.
        outstanding: Vec<FetchSend>,
        /// Offsets delivered per partition since its position was last set from outside.
        delivered: BTreeMap<TopicPartition, BTreeSet<i64>>,
    }

    impl Sim {
        fn new(logs: BTreeMap<TopicPartition, Log>, reset: ResetPolicy) -> Self {
            let mut s = Self {
                f: Fetcher::new(FetchConfig {
                    reset,
                    partition_max_bytes: 200,
                    ..FetchConfig::default()
                }),
                logs,
                leaders: all_parts()
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| (p, i32::try_from(i % 2).expect("small") + 1))
                    .collect(),
                epoch: 1,
                now: T0,
                outstanding: Vec::new(),
                delivered: BTreeMap::new(),
            };
            s.publish_metadata();
            s
        }

        fn publish_metadata(&mut self) {
            let rows: Vec<_> = self
                .leaders
                .iter()
                .map(|(p, &l)| (p.topic.as_str(), p.partition, l, self.epoch))
                .collect();
            self.f.update_metadata(&metadata(&rows, true));
        }

        /// Sends everything the fetcher wants and checks the one-per-broker rule.
        fn pump(&mut self) {
            let nv = modern();
            while let Some(send) = self.f.poll_request(self.now, &|_| Some(nv.clone())) {
                let same = |s: &FetchSend| {
                    s.node == send.node
                        && core::mem::discriminant(&s.request)
                            == core::mem::discriminant(&send.request)
                };
                assert!(
                    !self.outstanding.iter().any(same),
                    "two requests of a kind in flight to node {}",
                    send.node
                );
                self.outstanding.push(send);
                assert!(self.outstanding.len() <= 4, "at most 2 kinds x 2 brokers");
            }
        }

        fn answer_for(&self, send: &FetchSend, trunc: u8, err: u8, garbage: bool) -> AnyResponse {
            match &send.request {
                AnyRequest::ListOffsets(r) => {
                    let mut resp = ListOffsetsResponse::default();
                    for t in &r.topics {
                        let mut out = ListOffsetsTopicResponse {
                            name: t.name.clone(),
                            ..Default::default()
                        };
                        for p in &t.partitions {
                            let key = tp(&t.name, p.partition_index);
                            let log = &self.logs[&key];
                            let wrong_leader = self.leaders[&key] != send.node;
                            out.partitions.push(ListOffsetsPartitionResponse {
                                partition_index: p.partition_index,
                                error_code: if wrong_leader || err % 11 == 0 { 6 } else { 0 },
                                offset: if p.timestamp == -2 { 0 } else { log.end },
                                leader_epoch: self.epoch,
                                ..Default::default()
                            });
                        }
                        resp.topics.push(out);
                    }
                    AnyResponse::ListOffsets(resp)
                }
                AnyRequest::Fetch(r) => {
                    let mut resp = FetchResponse::default();
                    for t in &r.topics {
                        let name = TOPICS
                            .into_iter()
                            .find(|n| topic_id(n) == t.topic_id)
                            .expect("request uses known ids");
                        let mut out = FetchableTopicResponse {
                            topic_id: t.topic_id,
                            ..Default::default()
                        };
                        for p in &t.partitions {
                            let key = tp(name, p.partition);
                            out.partitions.push(self.serve(
                                &key,
                                send.node,
                                p.fetch_offset,
                                trunc,
                                err,
                                garbage,
                            ));
                        }
                        resp.responses.push(out);
                    }
                    AnyResponse::Fetch(resp)
                }
                other => panic!("unexpected request {other:?}"),
            }
        }

        /// What a broker returns for one partition: the batches from the one holding
        /// `offset`, cut at a random point after the first complete batch (KIP-74), or at a
        /// random point anywhere when `trunc` says so.
        fn serve(
            &self,
            p: &TopicPartition,
            node: i32,
            offset: i64,
            trunc: u8,
            err: u8,
            garbage: bool,
        ) -> PartitionData {
            let log = &self.logs[p];
            if self.leaders[p] != node {
                return partition_data(p.partition, 6, None);
            }
            if offset > log.end {
                return partition_data(p.partition, 1, None);
            }
            if err % 13 == 1 {
                return partition_data(p.partition, 29, None);
            }
            if garbage {
                let junk: Vec<u8> = (0..u32::from(trunc) + 20)
                    .map(|i| u8::try_from((i * 37 + u32::from(err)) % 251).expect("< 256"))
                    .collect();
                return partition_data(p.partition, 0, Some(Bytes::from(junk)));
            }
            let from: Vec<&RecordBatch> = log
                .batches
                .iter()
                .filter(|b| b.last_offset() >= offset)
                .collect();
            let mut sizes = Vec::new();
            let data = {
                let mut out = BytesMut::new();
                for b in &from {
                    b.encode(&mut out).expect("encodes");
                    sizes.push(out.len());
                }
                out.freeze()
            };
            let len = match (sizes.first(), trunc % 8) {
                (None, _) => 0,
                // Sometimes cut inside the first batch too (a broker ignoring KIP-74).
                (Some(&first), 0) => usize::from(trunc) % (first + 1),
                (Some(&first), _) => first + usize::from(trunc) * 3 % (data.len() - first + 1),
            };
            partition_data(p.partition, 0, Some(data.slice(..len)))
        }

        fn mark_reset(&mut self, p: &TopicPartition) {
            self.delivered.remove(p);
        }

        fn poll_events(&mut self, n: usize) {
            for _ in 0..n {
                let before: BTreeMap<_, _> = self
                    .f
                    .positions()
                    .into_iter()
                    .map(|o| (o.partition, o.offset))
                    .collect();
                let Some(ev) = self.f.poll_event() else {
                    return;
                };
                match ev {
                    FetchEvent::Record(r) => {
                        let key = tp(&r.topic, r.partition);
                        let pos = before[&key];
                        assert!(r.offset >= pos, "record {} below position {pos}", r.offset);
                        let after = position(&self.f, &key).expect("still has a position");
                        assert!(after > pos && after > r.offset, "position must increase");
                        assert_eq!(
                            r.value.as_deref(),
                            Some(value_of(&key, r.offset).as_bytes()),
                            "record content"
                        );
                        assert!(
                            self.delivered.entry(key).or_default().insert(r.offset),
                            "record {} delivered twice",
                            r.offset
                        );
                    }
                    FetchEvent::OffsetReset { partition, .. } => self.mark_reset(&partition),
                    FetchEvent::NeedMetadata => self.publish_metadata(),
                    FetchEvent::Error(_) => {}
                }
            }
        }

        fn apply(&mut self, op: &Op) {
            match *op {
                Op::Assign(m) => {
                    let parts = subset(m);
                    let new: Vec<_> = parts
                        .iter()
                        .filter(|p| !self.f.assigned().contains(p))
                        .cloned()
                        .collect();
                    self.f.assign(&parts);
                    for p in &new {
                        self.mark_reset(p);
                    }
                    let committed: Vec<_> = new
                        .iter()
                        .enumerate()
                        .map(|(i, p)| {
                            offset(
                                p.clone(),
                                if (m as usize + i) % 3 == 0 {
                                    -1
                                } else {
                                    i64::from(m % 5)
                                },
                            )
                        })
                        .collect();
                    self.f.committed(&committed);
                }
                Op::Remove(m) => {
                    let parts = subset(m);
                    let before = self.f.positions();
                    let got = self.f.remove(&parts);
                    for o in &got {
                        assert!(before.contains(o), "remove returns the position");
                    }
                    for p in &parts {
                        self.mark_reset(p);
                    }
                }
                Op::Seek(m, o) => {
                    let p = &all_parts()[usize::from(m) % 3];
                    self.f.seek(p, i64::from(o % 24));
                    if self.f.assigned().contains(p) {
                        self.mark_reset(p);
                    }
                }
                Op::Pause(m) => self.f.pause(&subset(m)),
                Op::Resume(m) => self.f.resume(&subset(m)),
                Op::Answer(trunc, err, garbage) => {
                    if !self.outstanding.is_empty() {
                        let send = self
                            .outstanding
                            .remove(usize::from(err) % self.outstanding.len());
                        let resp = self.answer_for(&send, trunc, err, garbage);
                        self.f.handle_response(self.now, send.id, resp);
                    }
                }
                Op::Fail => {
                    if !self.outstanding.is_empty() {
                        let send = self.outstanding.remove(0);
                        self.f.handle_failed(self.now, send.id);
                    }
                }
                Op::Poll(n) => self.poll_events(usize::from(n % 8)),
                Op::Time(ms) => self.now += Duration::from_millis(u64::from(ms)),
                Op::MoveLeader(m) => {
                    let p = all_parts()[usize::from(m) % 3].clone();
                    if let Some(l) = self.leaders.get_mut(&p) {
                        *l = 3 - *l;
                    }
                    self.epoch += 1;
                    if m % 2 == 0 {
                        self.publish_metadata();
                    }
                }
            }
            self.pump();
        }
    }

    fn logs_strategy() -> impl Strategy<Value = BTreeMap<TopicPartition, Log>> {
        proptest::collection::vec(
            proptest::collection::vec(
                (any::<u8>(), proptest::bool::weighted(0.15), any::<u8>()),
                0..8,
            ),
            3,
        )
        .prop_map(|specs| {
            all_parts()
                .into_iter()
                .zip(specs)
                .map(|(p, s)| {
                    let log = build_log(&p, &s);
                    (p, log)
                })
                .collect()
        })
    }

    fn reset_strategy() -> impl Strategy<Value = ResetPolicy> {
        prop_oneof![
            Just(ResetPolicy::Earliest),
            Just(ResetPolicy::Latest),
            Just(ResetPolicy::None)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn random_interleavings_keep_the_invariants(
            logs in logs_strategy(),
            reset in reset_strategy(),
            ops in proptest::collection::vec(op(), 1..60),
        ) {
            let mut sim = Sim::new(logs, reset);
            for op in &ops {
                sim.apply(op);
            }
            // Then an honest, patient broker: every partition, assigned now if it was not,
            // reaches its log end.
            sim.apply(&Op::Assign(0b111));
            let assigned = sim.f.assigned();
            prop_assert_eq!(assigned.len(), 3);
            sim.f.resume(&assigned);
            for p in &assigned {
                let pos = position(&sim.f, p);
                // Only `ResetPolicy::None` leaves partitions stopped; the others must recover
                // on their own.
                if reset == ResetPolicy::None && pos.is_none_or(|o| o > sim.logs[p].end) {
                    sim.f.seek(p, 0);
                    sim.mark_reset(p);
                }
            }
            sim.publish_metadata();
            sim.pump();
            for _ in 0..400 {
                if !sim.outstanding.is_empty() {
                    let send = sim.outstanding.remove(0);
                    let resp = sim.answer_for(&send, 1, 2, false);
                    sim.f.handle_response(sim.now, send.id, resp);
                }
                sim.poll_events(usize::MAX);
                sim.now += Duration::from_millis(100);
                sim.pump();
            }
            for p in &assigned {
                prop_assert_eq!(position(&sim.f, p), Some(sim.logs[p].end), "{:?}", p);
            }
        }

        #[test]
        fn random_bytes_as_records_never_panic(
            junk in proptest::collection::vec(any::<u8>(), 0..300),
            prefix in any::<bool>(),
        ) {
            let (mut f, send) = fetching_at(0);
            let mut data = BytesMut::new();
            if prefix {
                batch(&[(0, "a", "b")]).encode(&mut data).expect("encodes");
            }
            data.extend_from_slice(&junk);
            f.handle_response(T0, send.id, fetch_response(17, "t", vec![partition_data(0, 0, Some(data.freeze()))]));
            let events = drain(&mut f);
            let offs = offsets(&events);
            prop_assert!(offs.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(offs.iter().all(|&o| o >= 0));
            if prefix {
                prop_assert_eq!(offs.first(), Some(&0));
            }
            prop_assert!(position(&f, &tp("t", 0)).is_some());
        }
    }
}

/// A broker that no longer knows the topic by the id we sent (recreated after a restart)
/// answers under another id (Tansu uses the zero id): our partitions are missing from the
/// answer, so the fetcher backs off and asks for metadata, which brings the new id.
#[test]
fn partitions_missing_from_the_answer_ask_for_metadata() {
    let mut f = setup(ResetPolicy::Earliest, &[tp("t", 0)]);
    f.committed(&[offset(tp("t", 0), 0)]);
    let send = poll(&mut f, T0).expect("fetch");
    // The answer names a topic id we never sent.
    f.handle_response(
        T0,
        send.id,
        fetch_response(17, "not-t", vec![partition_data(0, 3, None)]),
    );
    assert_eq!(drain(&mut f), vec![FetchEvent::NeedMetadata]);
    assert!(
        poll(&mut f, Instant::from_millis(50)).is_none(),
        "backing off"
    );
    assert!(
        poll(&mut f, Instant::from_millis(100)).is_some(),
        "retried after the backoff"
    );
}
