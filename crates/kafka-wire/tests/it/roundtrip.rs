//! Property: for every message and every version, arbitrary valid values round-trip and
//! `encoded_len` equals the bytes written.

use bytes::{Bytes, BytesMut};
use kafka_wire::generated::*;
use kafka_wire::testing::Gen;
use kafka_wire::{AnyRequest, AnyResponse, ApiKey, Decode, DecodeRef, Encode, IntoOwned, Message};
use proptest::prelude::*;

/// The vectored encode (every byte field kept as its own chunk, and with the default
/// threshold) gives the same bytes as the contiguous one.
fn assert_vectored_eq(
    want: &Bytes,
    enc: impl Fn(&mut kafka_wire::Vectored) -> Result<(), kafka_wire::EncodeError>,
) {
    for threshold in [1, kafka_wire::Vectored::DEFAULT_THRESHOLD] {
        let mut out = kafka_wire::Vectored::with_threshold(threshold);
        enc(&mut out).expect("vectored encode");
        assert_eq!(out.len(), want.len());
        let joined: Vec<u8> = out
            .take_chunks()
            .iter()
            .flat_map(|c| c.iter().copied())
            .collect();
        assert_eq!(
            joined,
            want[..],
            "vectored encode differs (threshold {threshold})"
        );
        assert!(out.is_empty());
    }
}

fn check_request(key: ApiKey, v: i16, seed: u64) {
    let mut g = Gen::new(seed);
    let x = AnyRequest::random(key, v, &mut g);
    let len = x.encoded_len(v).expect("valid value encodes");
    let mut out = BytesMut::new();
    x.encode(v, &mut out).expect("encode");
    assert_eq!(out.len(), len, "{key:?} v{v}: encoded_len mismatch");
    let bytes = out.freeze();
    assert_vectored_eq(&bytes, |o| x.encode_vectored(v, o));
    let back = AnyRequest::decode(key, v, &bytes)
        .unwrap_or_else(|e| panic!("{key:?} v{v} seed {seed}: {e}\n{x:?}"));
    assert_eq!(back, x, "{key:?} v{v} seed {seed}");
    let view = AnyRequest::decode_via_ref(key, v, &bytes)
        .unwrap_or_else(|e| panic!("{key:?} v{v} seed {seed}: borrowed view: {e}"));
    assert_eq!(view, x, "{key:?} v{v} seed {seed}: borrowed view");
}

fn check_response(key: ApiKey, v: i16, seed: u64) {
    let mut g = Gen::new(seed);
    let x = AnyResponse::random(key, v, &mut g);
    let len = x.encoded_len(v).expect("valid value encodes");
    let mut out = BytesMut::new();
    x.encode(v, &mut out).expect("encode");
    assert_eq!(out.len(), len, "{key:?} v{v}: encoded_len mismatch");
    let bytes = out.freeze();
    assert_vectored_eq(&bytes, |o| x.encode_vectored(v, o));
    let back = AnyResponse::decode(key, v, &bytes)
        .unwrap_or_else(|e| panic!("{key:?} v{v} seed {seed}: {e}\n{x:?}"));
    assert_eq!(back, x, "{key:?} v{v} seed {seed}");
    let view = AnyResponse::decode_via_ref(key, v, &bytes)
        .unwrap_or_else(|e| panic!("{key:?} v{v} seed {seed}: borrowed view: {e}"));
    assert_eq!(view, x, "{key:?} v{v} seed {seed}: borrowed view");
}

fn check_data<T: Message + Encode + Decode + PartialEq + core::fmt::Debug>(
    random: fn(&mut Gen, i16) -> T,
    via_ref: fn(&[u8], i16) -> Result<T, kafka_wire::DecodeError>,
    seed: u64,
) {
    for v in T::VERSIONS.min..=T::VERSIONS.max {
        let x = random(&mut Gen::new(seed), v);
        let len = x.encoded_len(v).expect("encodes");
        let mut out = BytesMut::new();
        x.encode(v, &mut out).expect("encode");
        assert_eq!(out.len(), len);
        let bytes = out.freeze();
        let back = T::decode(&bytes, v).expect("decode");
        assert_eq!(back, x, "{} v{v}", T::NAME);
        let view = via_ref(&bytes, v).expect("borrowed view");
        assert_eq!(view, x, "{} v{v}: borrowed view", T::NAME);
    }
}

/// Number of (api, version) pairs for requests plus responses, and data schema versions.
fn all_pairs() -> Vec<(ApiKey, i16)> {
    let mut v = Vec::new();
    for &k in ApiKey::ALL {
        let r = k.versions();
        for ver in r.min..=r.max {
            v.push((k, ver));
        }
    }
    v
}

#[test]
fn coverage_counts() {
    let req: usize = all_pairs().len();
    let resp: usize = ApiKey::ALL
        .iter()
        .map(|&k| {
            let r = AnyResponse::versions(k);
            (r.max - r.min + 1) as usize
        })
        .sum();
    // 93 APIs in 4.3.1 plus keys 4-7 only in 3.9.2 = 97 request/response pairs.
    assert_eq!(
        ApiKey::ALL.len(),
        93,
        "every api key of 4.3.1 (keys 4-7 carry only 3.9.2 versions)"
    );
    eprintln!("request (api, version) pairs: {req}; response pairs: {resp}");
    // Union of Kafka 3.9.2 and 4.3.1 validVersions, counted from the JSON specs: 361 request
    // and 361 response versions (plus 17 data-schema versions, covered by `data_schemas`).
    assert_eq!(req, 361);
    assert_eq!(resp, 361);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_request_every_version(seed in any::<u64>()) {
        for (k, v) in all_pairs() {
            check_request(k, v, seed);
        }
    }

    #[test]
    fn every_response_every_version(seed in any::<u64>()) {
        for &k in ApiKey::ALL {
            let r = AnyResponse::versions(k);
            for v in r.min..=r.max {
                check_response(k, v, seed);
            }
        }
    }

    #[test]
    fn data_schemas(seed in any::<u64>()) {
        check_data(ConsumerProtocolSubscription::random, |b, v| ConsumerProtocolSubscriptionRef::decode_ref(b, v).map(IntoOwned::into_owned), seed);
        check_data(ConsumerProtocolAssignment::random, |b, v| ConsumerProtocolAssignmentRef::decode_ref(b, v).map(IntoOwned::into_owned), seed);
        check_data(ControlRecordTypeSchema::random, |b, v| ControlRecordTypeSchemaRef::decode_ref(b, v).map(IntoOwned::into_owned), seed);
        check_data(DefaultPrincipalData::random, |b, v| DefaultPrincipalDataRef::decode_ref(b, v).map(IntoOwned::into_owned), seed);
        check_data(EndTxnMarker::random, |b, v| EndTxnMarkerRef::decode_ref(b, v).map(IntoOwned::into_owned), seed);
        check_data(KRaftVersionRecord::random, |b, v| KRaftVersionRecordRef::decode_ref(b, v).map(IntoOwned::into_owned), seed);
        check_data(LeaderChangeMessage::random, |b, v| LeaderChangeMessageRef::decode_ref(b, v).map(IntoOwned::into_owned), seed);
        check_data(SnapshotFooterRecord::random, |b, v| SnapshotFooterRecordRef::decode_ref(b, v).map(IntoOwned::into_owned), seed);
        check_data(SnapshotHeaderRecord::random, |b, v| SnapshotHeaderRecordRef::decode_ref(b, v).map(IntoOwned::into_owned), seed);
        check_data(VotersRecord::random, |b, v| VotersRecordRef::decode_ref(b, v).map(IntoOwned::into_owned), seed);
    }
}

#[test]
fn absent_field_with_value_fails_to_encode() {
    // GroupInstanceId exists from JoinGroup v5 and is not ignorable.
    let req = JoinGroupRequest {
        group_instance_id: Some("static-1".into()),
        ..Default::default()
    };
    let err = req.encoded_len(4).unwrap_err();
    assert!(matches!(
        err,
        kafka_wire::EncodeError::FieldNotInVersion {
            field: "GroupInstanceId",
            version: 4
        }
    ));
    assert!(req.encoded_len(5).is_ok());
    // RebalanceTimeoutMs (v1+) is ignorable: dropped silently at v0, like the Java client.
    let req = JoinGroupRequest {
        rebalance_timeout_ms: 30_000,
        ..Default::default()
    };
    assert!(req.encoded_len(0).is_ok());
}

#[test]
fn absent_field_decodes_to_default() {
    let req = JoinGroupRequest {
        group_id: "g".into(),
        session_timeout_ms: 10_000,
        member_id: "".into(),
        protocol_type: "consumer".into(),
        ..Default::default()
    };
    let mut out = BytesMut::new();
    req.encode(0, &mut out).unwrap();
    let back = JoinGroupRequest::decode(&out.freeze(), 0).unwrap();
    assert_eq!(
        back.rebalance_timeout_ms, -1,
        "spec default of RebalanceTimeoutMs"
    );
    assert_eq!(back.group_instance_id, None);
}

#[test]
fn old_fields_from_3_9_are_kept() {
    // OffsetCommit v1 CommitTimestamp exists only in the 3.9.2 specs.
    let p = offset_commit_request::OffsetCommitRequestPartition {
        commit_timestamp: 1234,
        ..Default::default()
    };
    let t = offset_commit_request::OffsetCommitRequestTopic {
        name: "t".into(),
        partitions: vec![p],
        ..Default::default()
    };
    let req = OffsetCommitRequest {
        group_id: "g".into(),
        topics: vec![t],
        ..Default::default()
    };
    let mut out = BytesMut::new();
    req.encode(1, &mut out).unwrap();
    let back = OffsetCommitRequest::decode(&out.freeze(), 1).unwrap();
    assert_eq!(back.topics[0].partitions[0].commit_timestamp, 1234);
    assert!(req.encoded_len(2).is_err(), "v2 has no CommitTimestamp");
    assert_eq!(OffsetCommitRequest::VERSIONS.min, 0);
    assert_eq!(ProduceRequest::VERSIONS.min, 0);
    assert_eq!(ProduceRequest::VERSIONS.max, 13);
}

#[test]
fn zero_copy_bytes_fields() {
    let req = JoinGroupRequest {
        group_id: "g".into(),
        protocols: vec![join_group_request::JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: Bytes::from(vec![7u8; 200]),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut out = BytesMut::new();
    req.encode(9, &mut out).unwrap();
    let body = out.freeze();
    let back = JoinGroupRequest::decode(&body, 9).unwrap();
    let meta = &back.protocols[0].metadata;
    let start = body.as_ptr() as usize;
    let p = meta.as_ptr() as usize;
    assert!(
        p >= start && p + meta.len() <= start + body.len(),
        "metadata is a slice of the input"
    );
}
