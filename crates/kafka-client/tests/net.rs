//! `Net` without sockets: what it asks the adapter to do, and what it makes of the bytes that
//! come back, including hostile ones.

use core::time::Duration;

use bytes::{Bytes, BytesMut};
use group_fsm::Instant;
use kafka_client::net::{
    ConnId, Io, IoEvent, Lane, Net, NetConfig, NetError, NetEvent, NetRequest, Route, Tag, Version,
};
use kafka_wire::codec::{CorrelationId, encode_response};
use kafka_wire::generated::api_versions_response::{ApiVersion, ApiVersionsResponse};
use kafka_wire::generated::heartbeat_request::HeartbeatRequest;
use kafka_wire::generated::heartbeat_response::HeartbeatResponse;
use kafka_wire::generated::join_group_request::JoinGroupRequest;
use kafka_wire::{AnyRequest, AnyResponse, ApiKey, FrameDecoder, RequestHeader};
use proptest::prelude::*;

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn net() -> Net {
    Net::new(NetConfig::new(vec![("127.0.0.1".into(), 9092)]))
}

fn heartbeat(tag: u64, route: Route, lane: Lane) -> NetRequest {
    NetRequest {
        tag: Tag(tag),
        route,
        lane,
        request: AnyRequest::Heartbeat(HeartbeatRequest {
            group_id: "g".into(),
            member_id: "m".into(),
            generation_id: 1,
            ..Default::default()
        }),
        version: Version::Highest,
        timeout: Duration::from_secs(5),
    }
}

fn drain_io(net: &mut Net) -> Vec<Io> {
    core::iter::from_fn(|| net.poll_io()).collect()
}

fn drain_events(net: &mut Net) -> Vec<NetEvent> {
    core::iter::from_fn(|| net.poll_event()).collect()
}

/// The (correlation id, api key, version) of every request frame in `bytes`.
fn requests(bytes: &[u8]) -> Vec<(i32, i16, i16)> {
    let mut frames = FrameDecoder::default();
    frames.push(bytes).unwrap();
    let mut out = Vec::new();
    while let Some(f) = frames.next_frame().unwrap() {
        let (h, _) = RequestHeader::decode_auto(&f).unwrap();
        out.push((h.correlation_id, h.api_key, h.api_version));
    }
    out
}

fn response(corr: i32, version: i16, resp: &AnyResponse) -> Bytes {
    let mut out = BytesMut::new();
    encode_response(CorrelationId(corr), version, resp, &mut out).unwrap();
    out.freeze()
}

fn api_versions(keys: &[(ApiKey, i16, i16)]) -> AnyResponse {
    AnyResponse::ApiVersions(ApiVersionsResponse {
        api_keys: keys
            .iter()
            .map(|&(k, min, max)| ApiVersion {
                api_key: k.as_i16(),
                min_version: min,
                max_version: max,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

const KEYS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::JoinGroup, 0, 9),
];

/// Opens the bootstrap connection with a first request and answers ApiVersions v3; returns the
/// connection and the bytes written after negotiation.
fn negotiated(net: &mut Net) -> (ConnId, Vec<u8>) {
    net.send(t(0), heartbeat(1, Route::Any, Lane::Ordinary));
    let io = drain_io(net);
    let Some(Io::Connect { conn, .. }) = io.first().cloned() else {
        panic!("expected a connect, got {io:?}");
    };
    net.handle(t(1), IoEvent::Connected(conn));
    let Some(Io::Write { bytes, .. }) = net.poll_io() else {
        panic!("expected ApiVersions");
    };
    let reqs = requests(&bytes);
    assert_eq!(reqs.len(), 1);
    let (corr, key, version) = reqs[0];
    assert_eq!((key, version), (ApiKey::ApiVersions.as_i16(), 3));
    net.handle(
        t(2),
        IoEvent::Received(conn, response(corr, 3, &api_versions(KEYS))),
    );
    let written: Vec<u8> = drain_io(net)
        .into_iter()
        .flat_map(|io| match io {
            Io::Write { bytes, .. } => bytes.to_vec(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    (conn, written)
}

#[test]
fn queued_request_goes_out_after_negotiation_at_the_negotiated_version() {
    let mut net = net();
    let (conn, written) = negotiated(&mut net);
    let reqs = requests(&written);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].1, ApiKey::Heartbeat.as_i16());
    assert_eq!(reqs[0].2, 4, "highest common Heartbeat version");
    assert!(
        drain_events(&mut net)
            .iter()
            .any(|e| matches!(e, NetEvent::Negotiated { node: -1 }))
    );
    let resp = AnyResponse::Heartbeat(HeartbeatResponse::default());
    net.handle(t(3), IoEvent::Received(conn, response(reqs[0].0, 4, &resp)));
    let events = drain_events(&mut net);
    assert!(
        matches!(
            &events[..],
            [NetEvent::Response {
                tag: Tag(1),
                node: -1,
                version: 4,
                ..
            }]
        ),
        "{events:?}"
    );
    assert_eq!(net.in_flight(), 0);
}

#[test]
fn byte_at_a_time_responses_decode_the_same() {
    let mut net = net();
    let (conn, written) = negotiated(&mut net);
    let corr = requests(&written)[0].0;
    let bytes = response(
        corr,
        4,
        &AnyResponse::Heartbeat(HeartbeatResponse::default()),
    );
    let _ = drain_events(&mut net);
    for b in bytes.iter() {
        net.handle(t(3), IoEvent::Received(conn, Bytes::copy_from_slice(&[*b])));
    }
    let events = drain_events(&mut net);
    assert!(
        matches!(&events[..], [NetEvent::Response { tag: Tag(1), .. }]),
        "{events:?}"
    );
}

#[test]
fn mock_style_unsupported_api_versions_reply_falls_back_to_v0() {
    let mut net = net();
    net.send(t(0), heartbeat(1, Route::Any, Lane::Ordinary));
    let Some(Io::Connect { conn, .. }) = net.poll_io() else {
        panic!()
    };
    net.handle(t(1), IoEvent::Connected(conn));
    let Some(Io::Write { bytes, .. }) = net.poll_io() else {
        panic!()
    };
    let corr = requests(&bytes)[0].0;
    // librdkafka's mock: error 35 with a 1-byte array count and no tags (neither v0 nor v3).
    let mut frame = BytesMut::new();
    let body: &[u8] = &[0x00, 0x23, 0x01, 0x00, 0x12, 0, 0, 0, 2, 0, 0, 0, 0];
    frame.extend_from_slice(&((4 + body.len()) as u32).to_be_bytes());
    frame.extend_from_slice(&corr.to_be_bytes());
    frame.extend_from_slice(body);
    net.handle(t(2), IoEvent::Received(conn, frame.freeze()));
    let Some(Io::Write { bytes, .. }) = net.poll_io() else {
        panic!("expected an ApiVersions retry")
    };
    let reqs = requests(&bytes);
    assert_eq!(reqs[0].1, ApiKey::ApiVersions.as_i16());
    assert_eq!(reqs[0].2, 0, "retried at v0");
}

#[test]
fn held_requests_get_their_own_connection() {
    let mut net = net();
    let (_, _) = negotiated(&mut net);
    let join = NetRequest {
        tag: Tag(2),
        route: Route::Node(-1),
        lane: Lane::Held,
        request: AnyRequest::JoinGroup(JoinGroupRequest {
            group_id: "g".into(),
            protocol_type: "consumer".into(),
            ..Default::default()
        }),
        version: Version::Exact(5),
        timeout: Duration::from_secs(60),
    };
    net.send(t(5), join);
    let io = drain_io(&mut net);
    assert!(
        matches!(
            &io[..],
            [Io::Connect {
                conn: ConnId(1),
                ..
            }]
        ),
        "a second connection for the held lane: {io:?}"
    );
    // A heartbeat meanwhile goes straight out on the ordinary connection.
    net.send(t(6), heartbeat(3, Route::Node(-1), Lane::Ordinary));
    let io = drain_io(&mut net);
    assert!(
        matches!(
            &io[..],
            [Io::Write {
                conn: ConnId(0),
                ..
            }]
        ),
        "{io:?}"
    );
    assert_eq!(net.connection_count(), 2);
}

#[test]
fn a_timed_out_request_fails_and_closes_its_connection_then_reconnects_after_backoff() {
    let mut net = net();
    let (conn, _) = negotiated(&mut net);
    let _ = drain_events(&mut net);
    assert_eq!(net.poll_timeout(), Some(t(2 + 5000)));
    net.handle_timeout(t(5002));
    let events = drain_events(&mut net);
    assert!(
        events.iter().any(|e| matches!(
            e,
            NetEvent::Failed {
                tag: Tag(1),
                error: NetError::TimedOut
            }
        )),
        "{events:?}"
    );
    assert!(matches!(&drain_io(&mut net)[..], [Io::Close { conn: c }] if *c == conn));
    // The next request waits out the reconnect backoff (50 ms) before dialling.
    net.send(t(5003), heartbeat(2, Route::Node(-1), Lane::Ordinary));
    assert!(drain_io(&mut net).is_empty(), "no dial during the backoff");
    assert_eq!(net.poll_timeout(), Some(t(5002 + 50)));
    net.handle_timeout(t(5052));
    assert!(matches!(&drain_io(&mut net)[..], [Io::Connect { .. }]));
}

#[test]
fn a_failed_connect_fails_queued_requests_and_backs_off_exponentially() {
    let mut net = net();
    let mut at = 0;
    let mut delays = Vec::new();
    for tag in 0..5 {
        net.send(t(at), heartbeat(tag, Route::Node(-1), Lane::Ordinary));
        let mut io = drain_io(&mut net);
        if io.is_empty() {
            // Backing off: the dial comes when the backoff ends.
            let until = net.poll_timeout().expect("a backoff deadline");
            delays.push(until.as_millis() - at);
            at = until.as_millis();
            net.handle_timeout(t(at));
            io = drain_io(&mut net);
        }
        let Some(Io::Connect { conn, .. }) = io.first().cloned() else {
            panic!("expected a dial: {io:?}");
        };
        net.handle(t(at), IoEvent::Closed(conn));
        let events = drain_events(&mut net);
        assert!(
            events.iter().any(|e| matches!(
                e,
                NetEvent::Failed { tag: tg, error: NetError::Disconnected } if tg.0 == tag
            )),
            "{events:?}"
        );
        let _ = drain_io(&mut net);
    }
    assert_eq!(delays, vec![50, 100, 200, 400], "50 ms doubling");
}

#[test]
fn unknown_node_fails_at_once() {
    let mut net = net();
    net.send(t(0), heartbeat(7, Route::Node(42), Lane::Ordinary));
    assert!(matches!(
        &drain_events(&mut net)[..],
        [NetEvent::Failed {
            tag: Tag(7),
            error: NetError::UnknownBroker(42)
        }]
    ));
    assert!(drain_io(&mut net).is_empty());
}

#[test]
fn an_exact_version_the_broker_lacks_fails_typed() {
    let mut net = net();
    let _ = negotiated(&mut net);
    let _ = drain_events(&mut net);
    let mut req = heartbeat(9, Route::Node(-1), Lane::Ordinary);
    req.version = Version::Exact(5);
    net.send(t(10), req);
    assert!(matches!(
        &drain_events(&mut net)[..],
        [NetEvent::Failed {
            tag: Tag(9),
            error: NetError::Unsupported { .. }
        }]
    ));
}

#[test]
fn an_oversized_frame_closes_the_connection_before_allocating() {
    let mut config = NetConfig::new(vec![("127.0.0.1".into(), 9092)]);
    config.max_response_bytes = 1024;
    let mut net = Net::new(config);
    let (conn, _) = negotiated(&mut net);
    let _ = drain_events(&mut net);
    // A size prefix of 2 GiB - 1: rejected from the prefix alone.
    net.handle(
        t(3),
        IoEvent::Received(conn, Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff])),
    );
    let events = drain_events(&mut net);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, NetEvent::ConnectionError { .. }))
    );
    assert!(events.iter().any(|e| matches!(
        e,
        NetEvent::Failed {
            tag: Tag(1),
            error: NetError::Disconnected
        }
    )));
    assert!(matches!(&drain_io(&mut net)[..], [Io::Close { .. }]));
}

proptest! {
    /// Whatever a broker sends, in whatever chunks: no panic, every request sent is reported
    /// exactly once (response or failure) by the time the connection is gone, and nothing is
    /// left in flight.
    #[test]
    fn garbage_from_the_broker_never_panics_or_loses_requests(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..12),
        valid_first in any::<bool>(),
    ) {
        let mut net = net();
        let (conn, written) = negotiated(&mut net);
        let _ = drain_events(&mut net);
        let corr = requests(&written)[0].0;
        if valid_first {
            let ok = response(corr, 4, &AnyResponse::Heartbeat(HeartbeatResponse::default()));
            net.handle(t(3), IoEvent::Received(conn, ok));
        }
        for c in chunks {
            net.handle(t(4), IoEvent::Received(conn, Bytes::from(c)));
        }
        net.handle(t(5), IoEvent::Closed(conn));
        let events = drain_events(&mut net);
        let reports = events
            .iter()
            .filter(|e| matches!(
                e,
                NetEvent::Response { tag: Tag(1), .. } | NetEvent::Failed { tag: Tag(1), .. }
            ))
            .count();
        prop_assert_eq!(reports, 1, "{:?}", events);
        prop_assert_eq!(net.in_flight(), 0);
    }
}

#[test]
fn an_undecodable_response_fails_its_request_once_and_closes_the_connection() {
    let mut net = net();
    let (conn, written) = negotiated(&mut net);
    let _ = drain_events(&mut net);
    let corr = requests(&written)[0].0;
    // The right correlation id, then a body cut short (Heartbeat v4 needs 6 bytes).
    let mut frame = BytesMut::new();
    frame.extend_from_slice(&7u32.to_be_bytes());
    frame.extend_from_slice(&corr.to_be_bytes());
    frame.extend_from_slice(&[0, 0, 0]);
    net.handle(t(3), IoEvent::Received(conn, frame.freeze()));
    net.handle(t(4), IoEvent::Closed(conn));
    let events = drain_events(&mut net);
    let failed = events
        .iter()
        .filter(|e| matches!(e, NetEvent::Failed { tag: Tag(1), .. }))
        .count();
    assert_eq!(failed, 1, "{events:?}");
    assert!(matches!(&drain_io(&mut net)[..], [Io::Close { .. }]));
    assert_eq!(net.in_flight(), 0);
}

#[test]
fn every_lane_is_its_own_connection_and_idle_ones_close_on_request() {
    let mut net = net();
    let (_, _) = negotiated(&mut net);
    // The heartbeat `negotiated` sent is still in flight.
    assert_eq!(net.lane_load(-1, Lane::Ordinary), Some(1));
    assert_eq!(net.lane_load(-1, Lane::Fetch), None);
    let lanes = [
        Lane::Fetch,
        Lane::Held,
        Lane::HeldExtra(1),
        Lane::HeldExtra(2),
    ];
    let mut conns = Vec::new();
    for (i, lane) in lanes.into_iter().enumerate() {
        net.send(t(5), heartbeat(10 + i as u64, Route::Node(-1), lane));
        let io = drain_io(&mut net);
        let [Io::Connect { conn, .. }] = &io[..] else {
            panic!("{lane:?}: expected one new connection, got {io:?}");
        };
        conns.push(*conn);
        assert_eq!(net.lane_load(-1, lane), Some(1), "{lane:?}: queued");
    }
    assert_eq!(net.connection_count(), 5);
    assert!(Lane::HeldExtra(3).is_held() && Lane::Held.is_held());
    assert!(!Lane::Fetch.is_held() && !Lane::Ordinary.is_held());
    // A lane with a queued request is not idle.
    assert!(!net.close_idle_lane(-1, Lane::HeldExtra(1)));
    // Negotiate HeldExtra(2), answer its request: then it is idle and closes.
    let conn = conns[3];
    net.handle(t(6), IoEvent::Connected(conn));
    let Some(Io::Write { bytes, .. }) = net.poll_io() else {
        panic!("expected ApiVersions");
    };
    let (corr, _, _) = requests(&bytes)[0];
    net.handle(
        t(7),
        IoEvent::Received(conn, response(corr, 3, &api_versions(KEYS))),
    );
    let Some(Io::Write { bytes, .. }) = net.poll_io() else {
        panic!("expected the heartbeat");
    };
    let (corr, _, version) = requests(&bytes)[0];
    let hb = AnyResponse::Heartbeat(HeartbeatResponse::default());
    net.handle(t(8), IoEvent::Received(conn, response(corr, version, &hb)));
    assert!(matches!(
        drain_events(&mut net).last(),
        Some(NetEvent::Response { tag: Tag(13), .. })
    ));
    assert_eq!(net.lane_load(-1, Lane::HeldExtra(2)), Some(0));
    assert!(net.close_idle_lane(-1, Lane::HeldExtra(2)));
    assert_eq!(drain_io(&mut net), [Io::Close { conn }]);
    assert_eq!(net.lane_load(-1, Lane::HeldExtra(2)), None);
    assert_eq!(net.connection_count(), 4);
    // Closing it failed nothing and left no backoff: a new request dials at once.
    assert!(drain_events(&mut net).is_empty());
    net.send(t(9), heartbeat(20, Route::Node(-1), Lane::HeldExtra(2)));
    assert!(matches!(&drain_io(&mut net)[..], [Io::Connect { .. }]));
}
