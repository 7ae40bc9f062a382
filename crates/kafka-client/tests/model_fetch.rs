//! The real fetcher against testkit's model broker: `kafka_client::fetch::Fetcher` builds
//! ListOffsets and Fetch requests, `kafka_wire::ClientCodec` encodes them into frames, the
//! model broker (`serve_fetch`) answers from logs filled by `ModelBroker::append`, and the
//! response frames go back through the codec, all in virtual time.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use group_fsm::assignor::TopicPartition;
use group_fsm::{Instant, Offset};
use kafka_client::fetch::{FetchConfig, FetchEvent, FetchRequestId, Fetcher, ResetPolicy};
use kafka_wire::generated::metadata_request::MetadataRequestTopic;
use kafka_wire::generated::{ApiVersionsRequest, MetadataRequest};
use kafka_wire::{
    AnyResponse, ApiKey, ClientCodec, NegotiatedVersions, Request, VersionRange, frame,
};
use testkit::{BrokerConfig, ConnId, ModelBroker};

const TOPIC: &str = "orders";
const CONN: ConnId = 1;

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new(TOPIC, p)
}

/// A record as the application saw it: `(offset, value, virtual time it came out)`.
type Seen = (i64, Bytes, u64);

/// The fetcher, the broker and the codec between them, on one connection.
struct Rig {
    broker: ModelBroker,
    codec: ClientCodec,
    fetcher: Fetcher,
    versions: Option<NegotiatedVersions>,
    now: u64,
    /// Correlation id of each request in flight to the fetcher's id.
    in_flight: BTreeMap<i32, (FetchRequestId, ApiKey, i16)>,
    seen: BTreeMap<i32, Vec<Seen>>,
    resets: Vec<(TopicPartition, i64)>,
    /// `(api, version)` of every request the fetcher sent.
    sent: Vec<(ApiKey, i16)>,
}

impl Rig {
    fn new(fetch: Option<VersionRange>, list: Option<VersionRange>) -> Self {
        let mut broker = ModelBroker::new(BrokerConfig {
            serve_fetch: true,
            ..BrokerConfig::default()
        });
        broker.create_topic(TOPIC, 3);
        if fetch.is_some() {
            broker.set_api_versions(ApiKey::Fetch, fetch);
        }
        if list.is_some() {
            broker.set_api_versions(ApiKey::ListOffsets, list);
        }
        Self {
            broker,
            codec: ClientCodec::new(Some("model-fetch".into())),
            fetcher: Fetcher::new(FetchConfig {
                reset: ResetPolicy::Earliest,
                ..FetchConfig::default()
            }),
            versions: None,
            now: 0,
            in_flight: BTreeMap::new(),
            seen: BTreeMap::new(),
            resets: Vec::new(),
            sent: Vec::new(),
        }
    }

    fn send_frame(&mut self, mut wire: BytesMut) {
        let f = frame::split(&mut wire, frame::DEFAULT_MAX_FRAME)
            .expect("valid frame")
            .expect("one whole frame");
        assert!(wire.is_empty());
        self.broker.handle_frame(self.now, CONN, f);
    }

    /// A setup request answered at once.
    fn call<R: Request>(&mut self, req: &R, version: i16) -> AnyResponse {
        let mut wire = BytesMut::new();
        self.codec
            .encode_request(req, version, &mut wire)
            .expect("request encodes");
        self.send_frame(wire);
        let (conn, f) = self.broker.poll_output().expect("answered at once");
        assert_eq!(conn, CONN);
        self.codec.decode_response(f).expect("response decodes").3
    }

    fn connect(&mut self) {
        let AnyResponse::ApiVersions(r) = self.call(&ApiVersionsRequest::default(), 3) else {
            panic!("not an ApiVersions answer");
        };
        self.versions = Some(NegotiatedVersions::new(&r));
        let md = MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some(TOPIC.into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let AnyResponse::Metadata(md) = self.call(&md, 12) else {
            panic!("not a Metadata answer");
        };
        self.fetcher.update_metadata(&md);
    }

    /// Passes events, requests and responses around until nothing moves (bounded: a fetcher
    /// and broker that keep talking at one instant are a livelock, and fail the test).
    fn pump(&mut self) {
        let now = Instant::from_millis(self.now);
        for _ in 0..1_000 {
            let mut moved = false;
            while let Some(e) = self.fetcher.poll_event() {
                moved = true;
                match e {
                    FetchEvent::Record(r) => {
                        assert_eq!(r.topic, TOPIC);
                        let value = r.value.expect("every record has a value");
                        let seen = (r.offset, value, self.now);
                        self.seen.entry(r.partition).or_default().push(seen);
                    }
                    FetchEvent::OffsetReset { partition, offset } => {
                        self.resets.push((partition, offset));
                    }
                    other => panic!("at {} ms: unexpected {other:?}", self.now),
                }
            }
            let versions = self.versions.clone();
            while let Some(send) = self.fetcher.poll_request(now, &|_| versions.clone()) {
                moved = true;
                assert_eq!(send.node, 1);
                let mut wire = BytesMut::new();
                let corr = self
                    .codec
                    .encode_any(&send.request, send.version, &mut wire)
                    .expect("the fetcher's request encodes");
                let api = send.request.api_key();
                self.sent.push((api, send.version));
                self.in_flight.insert(corr.0, (send.id, api, send.version));
                self.send_frame(wire);
            }
            while let Some((conn, f)) = self.broker.poll_output() {
                moved = true;
                assert_eq!(conn, CONN);
                let (corr, api, version, body) =
                    self.codec.decode_response(f).expect("response decodes");
                let (id, sent_api, sent_version) =
                    self.in_flight.remove(&corr.0).expect("a request in flight");
                assert_eq!((api, version), (sent_api, sent_version));
                self.fetcher.handle_response(now, id, body);
            }
            if !moved {
                return;
            }
        }
        panic!("at {} ms: still busy after 1000 rounds", self.now);
    }

    /// Moves virtual time to `until`, waking the broker and the fetcher at their deadlines.
    fn run_until(&mut self, until: u64) {
        loop {
            let broker = self.broker.poll_timeout();
            let fetcher = self.fetcher.poll_timeout().map(Instant::as_millis);
            let next = broker.into_iter().chain(fetcher).min();
            match next {
                Some(t) if t <= until => {
                    assert!(t >= self.now, "a deadline in the past: {t} < {}", self.now);
                    self.now = t;
                    self.broker.handle_timeout(t);
                    self.pump();
                }
                _ => break,
            }
        }
        self.now = until;
        self.broker.handle_timeout(until);
        self.pump();
    }

    /// Appends `n` records to `partition` now; returns their offsets and values.
    fn append(&mut self, partition: i32, n: usize) -> Vec<(i64, Bytes)> {
        let base_value = self.broker.end_offset(TOPIC, partition).expect("exists");
        let values: Vec<Bytes> = (0..n)
            .map(|i| Bytes::from(format!("p{partition}-{}", base_value + i as i64)))
            .collect();
        let records: Vec<_> = values.iter().map(|v| (None, Some(v.clone()))).collect();
        let base = self
            .broker
            .append(self.now, TOPIC, partition, &records)
            .expect("append");
        assert_eq!(base, base_value);
        self.pump();
        (base..).zip(values).collect()
    }
}

/// Records `appended` at `at` to partition `p` as expected from offset `from` on.
fn expect_records(
    want: &mut BTreeMap<i32, Vec<Seen>>,
    at: u64,
    p: i32,
    appended: Vec<(i64, Bytes)>,
    from: i64,
) {
    let records = appended.into_iter().filter(|(o, _)| *o >= from);
    want.entry(p)
        .or_default()
        .extend(records.map(|(o, v)| (o, v, at)));
}

/// Two of three partitions assigned, one reset to earliest, one from a committed offset; records
/// appended before, between and during long polls. Every record after the start position comes
/// out once, in order, and records appended while a fetch waits come out at once.
fn consume_everything(fetch: Option<VersionRange>, list: Option<VersionRange>) -> Rig {
    let mut rig = Rig::new(fetch, list);
    // Before the consumer starts: p0 from the beginning, p1 has 5 records, 3 already committed.
    let mut want: BTreeMap<i32, Vec<Seen>> = BTreeMap::new();
    let a = rig.append(0, 3);
    expect_records(&mut want, rig.now, 0, a, 0);
    let a = rig.append(1, 2);
    expect_records(&mut want, rig.now, 1, a, 3);
    let a = rig.append(1, 3);
    expect_records(&mut want, rig.now, 1, a, 3);
    // Not assigned: never fetched.
    rig.append(2, 4);
    rig.connect();
    rig.fetcher.assign(&[tp(0), tp(1)]);
    rig.fetcher
        .committed(&[(Offset::new(tp(0), -1), 0), (Offset::new(tp(1), 3), 0)]);
    rig.pump();
    assert_eq!(rig.resets, [(tp(0), 0)]);

    // Appends at these times, each while a fetch is parked at the broker.
    let plan: [(u64, &[(i32, usize)]); 6] = [
        (100, &[(0, 2)]),
        (250, &[(1, 1)]),
        (900, &[(0, 1), (1, 1)]),
        (1_700, &[(1, 4), (2, 1)]),
        (3_000, &[(0, 50)]),
        (3_001, &[(0, 1)]),
    ];
    for (at, appends) in plan {
        rig.run_until(at);
        assert!(rig.broker.is_busy(CONN), "at {at} ms a fetch waits");
        for &(p, n) in appends {
            let a = rig.append(p, n);
            if p != 2 {
                expect_records(&mut want, rig.now, p, a, 0);
            }
        }
    }
    rig.run_until(5_000);
    for (p, want) in &want {
        let got = rig.seen.get(p).map_or(&[][..], Vec::as_slice);
        assert_eq!(got, &want[..], "partition {p}");
    }
    assert_eq!(rig.seen.keys().copied().collect::<Vec<_>>(), [0, 1]);
    let positions: Vec<(i32, i64)> = rig
        .fetcher
        .positions()
        .iter()
        .map(|o| (o.partition.partition, o.offset))
        .collect();
    assert_eq!(positions, [(0, 57), (1, 11)]);
    let s = rig.broker.stats();
    assert!(s.fetches_parked >= 6, "{s:?}");
    assert_eq!(s.parked_fetches, 1, "the next long poll waits");
    assert!(rig.broker.errors().is_empty(), "{:?}", rig.broker.errors());
    rig
}

#[test]
fn the_fetcher_consumes_every_record_once_in_order_from_the_model_broker() {
    let rig = consume_everything(None, None);
    // The newest versions: Fetch by topic id, ListOffsets at its top version.
    assert!(
        rig.sent.contains(&(ApiKey::ListOffsets, 11)),
        "{:?}",
        rig.sent
    );
    assert!(
        rig.sent
            .iter()
            .filter(|(k, _)| *k == ApiKey::Fetch)
            .all(|&(_, v)| v == 18),
        "{:?}",
        rig.sent
    );
}

#[test]
fn the_fetcher_consumes_by_topic_name_from_an_older_model_broker() {
    let rig = consume_everything(
        Some(VersionRange::new(4, 12)),
        Some(VersionRange::new(1, 3)),
    );
    assert!(
        rig.sent.contains(&(ApiKey::ListOffsets, 3)),
        "{:?}",
        rig.sent
    );
    assert!(
        rig.sent
            .iter()
            .filter(|(k, _)| *k == ApiKey::Fetch)
            .all(|&(_, v)| v == 12),
        "{:?}",
        rig.sent
    );
}
