//! Hostile input: truncations, lying lengths, huge counts, bad varints, bad UTF-8, bad tags.
//! Every case must give a typed error (never a panic).

use bytes::{BufMut, Bytes, BytesMut};
use kafka_wire::generated::*;
use kafka_wire::testing::Gen;
use kafka_wire::{AnyRequest, AnyResponse, ApiKey, Decode, DecodeErrorKind, Encode, RequestHeader};

#[test]
fn metadata_v0_four_byte_body_is_an_error_not_an_allocation() {
    // kafka-protocol 0.18 tries to allocate ~154 GB for this body.
    for body in [
        [0x7f, 0xff, 0xff, 0xff],
        [0x24, 0x00, 0x00, 0x00],
        [0xff, 0xff, 0xff, 0xfe],
    ] {
        let err = MetadataRequest::decode(&Bytes::copy_from_slice(&body), 0).unwrap_err();
        assert!(
            matches!(
                err.kind,
                DecodeErrorKind::ArrayTooLong { .. } | DecodeErrorKind::InvalidLength(_)
            ),
            "{err:?}"
        );
        assert_eq!(err.field, "Topics");
    }
}

#[test]
fn one_byte_request_header_is_an_error() {
    for len in 0..8 {
        let frame = Bytes::from(vec![0u8; len]);
        assert!(RequestHeader::decode_auto(&frame).is_err(), "len {len}");
    }
}

#[test]
fn array_claiming_2_pow_31_elements_in_ten_bytes() {
    let mut b = BytesMut::new();
    b.put_i32(0x7fff_ffff);
    b.put_slice(&[1, 2, 3, 4, 5, 6]);
    let b = b.freeze();
    for &k in ApiKey::ALL {
        for v in AnyRequest::versions(k).min..=AnyRequest::versions(k).max {
            let _ = AnyRequest::decode(k, v, &b);
            let _ = AnyResponse::decode(k, v, &b);
        }
    }
    let err = ConsumerProtocolSubscription::decode(&b, 0).unwrap_err();
    assert!(matches!(
        err.kind,
        DecodeErrorKind::UnexpectedEnd
            | DecodeErrorKind::ArrayTooLong { .. }
            | DecodeErrorKind::InvalidUtf8
    ));
}

#[test]
fn every_truncation_point_of_valid_messages_is_a_typed_error() {
    let mut g = Gen::new(7).with_max_len(2);
    for &k in ApiKey::ALL {
        let r = k.versions();
        for v in r.min..=r.max {
            for (label, full) in [
                ("request", {
                    let x = AnyRequest::random(k, v, &mut g);
                    let mut o = BytesMut::new();
                    x.encode(v, &mut o).unwrap();
                    o.freeze()
                }),
                ("response", {
                    let x = AnyResponse::random(k, v, &mut g);
                    let mut o = BytesMut::new();
                    x.encode(v, &mut o).unwrap();
                    o.freeze()
                }),
            ] {
                for cut in 0..full.len() {
                    let part = full.slice(..cut);
                    let (res, via_ref) = if label == "request" {
                        (
                            AnyRequest::decode(k, v, &part).map(|_| ()),
                            AnyRequest::decode_via_ref(k, v, &part).map(|_| ()),
                        )
                    } else {
                        (
                            AnyResponse::decode(k, v, &part).map(|_| ()),
                            AnyResponse::decode_via_ref(k, v, &part).map(|_| ()),
                        )
                    };
                    assert_eq!(res, via_ref, "{k:?} v{v} {label} cut {cut}: borrowed view");
                    // A prefix can be a valid message only when the tail was optional; then the
                    // full input must have had more bytes, which decode() rejects as trailing.
                    if let Err(e) = res {
                        assert!(
                            e.offset <= cut,
                            "{k:?} v{v} {label}: offset {} > len {cut}",
                            e.offset
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn overlong_varint_is_rejected() {
    // JoinGroupRequest v6 is flexible: the compact string length of GroupId is a varint.
    let body = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    let err = JoinGroupRequest::decode(&body, 6).unwrap_err();
    assert_eq!(err.kind, DecodeErrorKind::VarintTooLong);
    assert_eq!(err.field, "GroupId");
}

#[test]
fn invalid_utf8_is_rejected_with_offset() {
    // FindCoordinator v0: Key (int16 length + bytes).
    let body = Bytes::from_static(&[0, 3, b'a', 0xc3, 0x28]);
    let err = FindCoordinatorRequest::decode(&body, 0).unwrap_err();
    assert_eq!(err.kind, DecodeErrorKind::InvalidUtf8);
    assert_eq!(err.field, "Key");
}

#[test]
fn negative_lengths_are_rejected() {
    let body = Bytes::from_static(&[0xff, 0xfe, b'a']);
    let err = FindCoordinatorRequest::decode(&body, 0).unwrap_err();
    assert_eq!(err.kind, DecodeErrorKind::InvalidLength(-2));
    // -1 (null) in a non-nullable string.
    let body = Bytes::from_static(&[0xff, 0xff]);
    let err = FindCoordinatorRequest::decode(&body, 0).unwrap_err();
    assert_eq!(err.kind, DecodeErrorKind::UnexpectedNull);
}

fn heartbeat_v4_with_tags(tags: &[(u8, &[u8])]) -> Bytes {
    // HeartbeatRequest v4 (flexible): GroupId, GenerationId, MemberId, GroupInstanceId, tags.
    let mut b = BytesMut::new();
    b.put_slice(&[2, b'g']);
    b.put_i32(1);
    b.put_slice(&[2, b'm']);
    b.put_u8(0);
    b.put_u8(tags.len() as u8);
    for (t, d) in tags {
        b.put_u8(*t);
        b.put_u8(d.len() as u8);
        b.put_slice(d);
    }
    b.freeze()
}

#[test]
fn tagged_fields_out_of_order_or_duplicated_are_rejected() {
    let ok = heartbeat_v4_with_tags(&[(5, b"x"), (9, b"yz")]);
    let hb = HeartbeatRequest::decode(&ok, 4).unwrap();
    assert_eq!(hb.unknown_tagged_fields.len(), 2);
    let mut out = BytesMut::new();
    hb.encode(4, &mut out).unwrap();
    assert_eq!(out.freeze(), ok, "unknown tags re-encode verbatim");
    for bad in [&[(9, &b"x"[..]), (5, b"y")][..], &[(5, b"x"), (5, b"y")]] {
        let err = HeartbeatRequest::decode(&heartbeat_v4_with_tags(bad), 4).unwrap_err();
        assert!(
            matches!(err.kind, DecodeErrorKind::TagOutOfOrder(5)),
            "{err:?}"
        );
    }
}

#[test]
fn known_tagged_field_with_wrong_size_is_rejected() {
    // FetchRequest v12+ ClusterId is tag 0 (nullable compact string). Declare size 5 but put a
    // 1-byte string inside: the field does not fill its declared size.
    let req = FetchRequest {
        cluster_id: Some("c".into()),
        ..Default::default()
    };
    let mut out = BytesMut::new();
    req.encode(12, &mut out).unwrap();
    let mut bytes = out.to_vec();
    // Tag section is at the very end: count=1, tag=0, size=2, [0x02, 'c'].
    let n = bytes.len();
    assert_eq!(&bytes[n - 5..], &[1, 0, 2, 2, b'c']);
    bytes.truncate(n - 3);
    bytes.extend_from_slice(&[3, 2, b'c', 0]);
    let err = FetchRequest::decode(&Bytes::from(bytes), 12).unwrap_err();
    assert_eq!(err.kind, DecodeErrorKind::TagSizeMismatch(0));
}

#[test]
fn random_garbage_never_panics() {
    let mut g = Gen::new(99);
    for round in 0..200 {
        let len = (g.next_u64() % 64) as usize;
        let data: Vec<u8> = (0..len).map(|_| g.next_u64() as u8).collect();
        let b = Bytes::from(data);
        for &k in ApiKey::ALL {
            let r = k.versions();
            let v = r.min + (round as i16 % (r.max - r.min + 1));
            // The borrowed views reject the same garbage with the same error (or accept it
            // with the same value).
            assert_eq!(
                AnyRequest::decode(k, v, &b),
                AnyRequest::decode_via_ref(k, v, &b),
                "{k:?} v{v} request"
            );
            assert_eq!(
                AnyResponse::decode(k, v, &b),
                AnyResponse::decode_via_ref(k, v, &b),
                "{k:?} v{v} response"
            );
        }
    }
}

#[test]
fn unsupported_version_is_typed() {
    let err = JoinGroupRequest::decode(&Bytes::new(), 42).unwrap_err();
    assert!(matches!(
        err.kind,
        DecodeErrorKind::UnsupportedVersion {
            api_key: 11,
            version: 42
        }
    ));
    assert!(JoinGroupRequest::default().encoded_len(-1).is_err());
}
