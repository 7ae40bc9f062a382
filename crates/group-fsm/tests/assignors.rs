//! The client-side assignors (`range`, `roundrobin`) and the consumer protocol encodings.
//!
//! * Properties of both assignors over random clusters and subscriptions: validity, balance,
//!   Java's range block layout, determinism under order-preserving renames.
//! * Java's Javadoc examples as fixed cases.
//! * Subscription / assignment round trips at every version, newer-version and hostile input.
//! * Golden vectors: the JoinGroup metadata and SyncGroup assignments librdkafka 2.16 and
//!   kafka-python 3.0.12 exchanged in `kafka-wire/tests/data/captures`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use group_fsm::assignor::consumer_protocol::{
    ASSIGNMENT_VERSION, PROTOCOL_TYPE, SUBSCRIPTION_VERSION, decode_assignment,
    decode_subscription, encode_assignment, encode_subscription,
};
use group_fsm::assignor::{
    Assignment, Assignor, ClusterView, RangeAssignor, RebalanceProtocol, RoundRobinAssignor,
    Subscription, TopicPartition,
};
use kafka_wire::{AnyRequest, AnyResponse, ApiKey, RequestHeader, ResponseHeader, frame};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Topic universe: `t0..t4` (the cluster holds a prefix of them) and one never in the cluster.
const TOPICS: [&str; 6] = ["t0", "t1", "t2", "t3", "t4", "unknown"];

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

fn sub(topics: &[&str]) -> Subscription {
    Subscription {
        topics: topics.iter().map(|t| (*t).to_owned()).collect(),
        generation: -1,
        ..Default::default()
    }
}

fn cluster(topics: &[(&str, i32)]) -> ClusterView {
    ClusterView {
        partitions: topics.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect(),
        ..Default::default()
    }
}

fn parts(a: &BTreeMap<String, Assignment>, member: &str) -> Vec<(String, i32)> {
    a[member]
        .partitions
        .iter()
        .map(|tp| (tp.topic.clone(), tp.partition))
        .collect()
}

fn owned(list: &[(&str, i32)]) -> Vec<(String, i32)> {
    list.iter().map(|(t, p)| ((*t).to_owned(), *p)).collect()
}

/// A random group: cluster with 1..=5 topics of 0..20 partitions, 1..=10 members, each
/// subscribed to a random subset of [`TOPICS`] (the same subset for all when `identical`).
#[derive(Debug, Clone)]
struct Case {
    cluster: ClusterView,
    subs: BTreeMap<String, Subscription>,
}

fn case(identical: bool) -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(0i32..20, 1..=5),
        prop::collection::btree_set("[A-Za-z0-9_-]{1,12}", 1..=10),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 10),
    )
        .prop_map(move |(counts, ids, common, masks)| {
            let cluster = ClusterView {
                partitions: counts
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (TOPICS[i].to_owned(), *n))
                    .collect(),
                ..Default::default()
            };
            let subs = ids
                .into_iter()
                .zip(masks)
                .map(|(id, mask)| {
                    let mask = if identical { common } else { mask };
                    let topics: Vec<&str> = TOPICS
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| mask & (1 << i) != 0)
                        .map(|(_, t)| *t)
                        .collect();
                    (id, sub(&topics))
                })
                .collect();
            Case { cluster, subs }
        })
}

/// Validity: every member present and nobody else; lists sorted without duplicates; each
/// partition of a known, subscribed topic assigned exactly once and only to a subscriber;
/// nothing else assigned.
fn check_valid(c: &Case, result: &BTreeMap<String, Assignment>) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        result.keys().collect::<Vec<_>>(),
        c.subs.keys().collect::<Vec<_>>()
    );
    let mut seen: BTreeMap<TopicPartition, usize> = BTreeMap::new();
    for (member, a) in result {
        prop_assert!(a.user_data.is_none());
        prop_assert!(
            a.partitions.windows(2).all(|w| w[0] < w[1]),
            "{member}: not sorted / duplicated: {:?}",
            a.partitions
        );
        for p in &a.partitions {
            let count = c.cluster.partitions.get(&p.topic).copied();
            prop_assert!(count.is_some(), "{member} got unknown topic {p:?}");
            prop_assert!((0..count.unwrap_or(0)).contains(&p.partition), "{p:?}");
            prop_assert!(
                c.subs[member].topics.contains(&p.topic),
                "{member} got {p:?} without subscribing"
            );
            *seen.entry(p.clone()).or_default() += 1;
        }
    }
    let subscribed: BTreeSet<&String> = c.subs.values().flat_map(|s| &s.topics).collect();
    let mut expected = 0;
    for (topic, &count) in &c.cluster.partitions {
        if subscribed.contains(topic) {
            for p in 0..count {
                expected += 1;
                prop_assert_eq!(seen.get(&tp(topic, p)).copied(), Some(1), "{}-{}", topic, p);
            }
        }
    }
    prop_assert_eq!(seen.len(), expected);
    Ok(())
}

/// Range's exact layout, per topic: the subscribers in member-id order hold contiguous,
/// ascending blocks whose sizes are `P / N` plus one for the first `P % N`.
fn check_range_layout(
    c: &Case,
    result: &BTreeMap<String, Assignment>,
) -> Result<(), TestCaseError> {
    for (topic, &count) in &c.cluster.partitions {
        let subscribers: Vec<&String> = c
            .subs
            .iter()
            .filter(|(_, s)| s.topics.contains(topic))
            .map(|(id, _)| id)
            .collect();
        if subscribers.is_empty() {
            continue;
        }
        let n = i32::try_from(subscribers.len()).unwrap();
        let mut next = 0;
        for (k, member) in subscribers.iter().enumerate() {
            let k = i32::try_from(k).unwrap();
            let len = count / n + i32::from(k < count % n);
            let got: Vec<i32> = result[*member]
                .partitions
                .iter()
                .filter(|p| &p.topic == topic)
                .map(|p| p.partition)
                .collect();
            prop_assert_eq!(got, (next..next + len).collect::<Vec<_>>(), "{}", topic);
            next += len;
        }
        prop_assert_eq!(next, count);
    }
    Ok(())
}

/// Renames members with an order-preserving map (`prefix` + rank), runs the assignor and maps
/// the result back: it must equal the original result.
fn check_rename(
    assignor: &dyn Assignor,
    c: &Case,
    result: &BTreeMap<String, Assignment>,
    prefix: &str,
) -> Result<(), TestCaseError> {
    let renamed: BTreeMap<String, Subscription> = c
        .subs
        .iter()
        .enumerate()
        .map(|(rank, (_, s))| {
            // Also shuffle the topic order and repeat a topic: neither may matter.
            let mut s = s.clone();
            s.topics.reverse();
            if let Some(t) = s.topics.first().cloned() {
                s.topics.push(t);
            }
            (format!("{prefix}{rank:04}"), s)
        })
        .collect();
    let again = assignor.assign(&c.cluster, &renamed);
    prop_assert_eq!(again.len(), result.len());
    for ((_, a), (_, b)) in result.iter().zip(&again) {
        prop_assert_eq!(a, b);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Assignor properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn range_valid_and_java_layout(c in case(false)) {
        let result = RangeAssignor.assign(&c.cluster, &c.subs);
        check_valid(&c, &result)?;
        check_range_layout(&c, &result)?;
        check_rename(&RangeAssignor, &c, &result, "consumer-")?;
        check_rename(&RangeAssignor, &c, &result, "A")?;
    }

    #[test]
    fn range_identical_subscriptions_balanced_per_topic(c in case(true)) {
        let result = RangeAssignor.assign(&c.cluster, &c.subs);
        check_valid(&c, &result)?;
        check_range_layout(&c, &result)?;
        for topic in c.cluster.partitions.keys() {
            let counts: Vec<usize> = result
                .values()
                .map(|a| a.partitions.iter().filter(|p| &p.topic == topic).count())
                .collect();
            let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            if c.subs.values().next().unwrap().topics.contains(topic) {
                prop_assert!(max - min <= 1, "{}: {:?}", topic, counts);
            } else {
                prop_assert_eq!(*max, 0);
            }
        }
    }

    #[test]
    fn roundrobin_valid_and_deterministic(c in case(false)) {
        let result = RoundRobinAssignor.assign(&c.cluster, &c.subs);
        check_valid(&c, &result)?;
        check_rename(&RoundRobinAssignor, &c, &result, "consumer-")?;
        check_rename(&RoundRobinAssignor, &c, &result, "A")?;
    }

    #[test]
    fn roundrobin_identical_subscriptions_balanced(c in case(true)) {
        let result = RoundRobinAssignor.assign(&c.cluster, &c.subs);
        check_valid(&c, &result)?;
        let counts: Vec<usize> = result.values().map(|a| a.partitions.len()).collect();
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        prop_assert!(max - min <= 1, "{:?}", counts);
        // Dealt in order: the i-th partition of the (topic, partition) layout goes to member
        // i mod N, so the counts are non-increasing in member order.
        prop_assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{:?}", counts);
    }

    #[test]
    fn both_assign_the_same_partitions(c in case(false)) {
        let total = |r: &BTreeMap<String, Assignment>| -> BTreeSet<TopicPartition> {
            r.values().flat_map(|a| a.partitions.iter().cloned()).collect()
        };
        prop_assert_eq!(
            total(&RangeAssignor.assign(&c.cluster, &c.subs)),
            total(&RoundRobinAssignor.assign(&c.cluster, &c.subs))
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Assignor fixed cases
// ---------------------------------------------------------------------------------------------

#[test]
fn names_and_protocols() {
    assert_eq!(RangeAssignor.name(), "range");
    assert_eq!(RoundRobinAssignor.name(), "roundrobin");
    assert_eq!(
        RangeAssignor.supported_protocols(),
        &[RebalanceProtocol::Eager]
    );
    assert_eq!(
        RoundRobinAssignor.supported_protocols(),
        &[RebalanceProtocol::Eager]
    );
    assert_eq!(RangeAssignor.subscription_user_data(&["t".into()]), None);
}

/// `RangeAssignor` Javadoc: C0 and C1 both subscribe to t0 and t1, 3 partitions each.
#[test]
fn range_javadoc_example() {
    let subs: BTreeMap<String, Subscription> = [("C0", &["t0", "t1"]), ("C1", &["t0", "t1"])]
        .into_iter()
        .map(|(m, t)| (m.to_owned(), sub(t)))
        .collect();
    let r = RangeAssignor.assign(&cluster(&[("t0", 3), ("t1", 3)]), &subs);
    assert_eq!(
        parts(&r, "C0"),
        owned(&[("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)])
    );
    assert_eq!(parts(&r, "C1"), owned(&[("t0", 2), ("t1", 2)]));
}

/// `RoundRobinAssignor` Javadoc, identical subscriptions.
#[test]
fn roundrobin_javadoc_example_identical() {
    let subs: BTreeMap<String, Subscription> = [("C0", &["t0", "t1"]), ("C1", &["t0", "t1"])]
        .into_iter()
        .map(|(m, t)| (m.to_owned(), sub(t)))
        .collect();
    let r = RoundRobinAssignor.assign(&cluster(&[("t0", 3), ("t1", 3)]), &subs);
    assert_eq!(parts(&r, "C0"), owned(&[("t0", 0), ("t0", 2), ("t1", 1)]));
    assert_eq!(parts(&r, "C1"), owned(&[("t0", 1), ("t1", 0), ("t1", 2)]));
}

/// `RoundRobinAssignor` Javadoc, different subscriptions: C2 gets 4 of 6.
#[test]
fn roundrobin_javadoc_example_heterogeneous() {
    let subs: BTreeMap<String, Subscription> = [
        ("C0", &["t0"][..]),
        ("C1", &["t0", "t1"][..]),
        ("C2", &["t0", "t1", "t2"][..]),
    ]
    .into_iter()
    .map(|(m, t)| (m.to_owned(), sub(t)))
    .collect();
    let r = RoundRobinAssignor.assign(&cluster(&[("t0", 1), ("t1", 2), ("t2", 3)]), &subs);
    assert_eq!(parts(&r, "C0"), owned(&[("t0", 0)]));
    assert_eq!(parts(&r, "C1"), owned(&[("t1", 0)]));
    assert_eq!(
        parts(&r, "C2"),
        owned(&[("t1", 1), ("t2", 0), ("t2", 1), ("t2", 2)])
    );
}

/// Edge cases: no topics, topics unknown to the cluster, zero or negative partition counts,
/// more members than partitions, no members at all.
#[test]
fn edge_cases() {
    let c = cluster(&[("a", 2), ("empty", 0), ("neg", -3)]);
    let subs: BTreeMap<String, Subscription> = [
        ("m1", &["a", "missing"][..]),
        ("m2", &[][..]),
        ("m3", &["a", "empty", "neg"][..]),
        ("m4", &["a"][..]),
    ]
    .into_iter()
    .map(|(m, t)| (m.to_owned(), sub(t)))
    .collect();
    for assignor in [&RangeAssignor as &dyn Assignor, &RoundRobinAssignor] {
        let r = assignor.assign(&c, &subs);
        assert_eq!(r.len(), 4, "{}", assignor.name());
        assert!(r["m2"].partitions.is_empty());
        assert!(r["m4"].partitions.is_empty(), "{}", assignor.name());
        assert_eq!(parts(&r, "m1"), owned(&[("a", 0)]));
        assert_eq!(parts(&r, "m3"), owned(&[("a", 1)]));
        assert!(assignor.assign(&c, &BTreeMap::new()).is_empty());
    }
}

/// Members are ordered as Java's `String.compareTo` orders them (UTF-16 code units): U+10000
/// (a surrogate pair, 0xD800 0xDC00) sorts before U+FFFF, although its UTF-8 bytes sort after.
#[test]
fn member_order_is_javas_utf16_order() {
    let (supplementary, bmp) = ("m\u{10000}", "m\u{FFFF}");
    let subs: BTreeMap<String, Subscription> = [(supplementary, sub(&["t"])), (bmp, sub(&["t"]))]
        .into_iter()
        .map(|(m, s)| (m.to_owned(), s))
        .collect();
    assert_eq!(subs.keys().next().map(String::as_str), Some(bmp));
    let c = cluster(&[("t", 3)]);
    let r = RangeAssignor.assign(&c, &subs);
    assert_eq!(parts(&r, supplementary), owned(&[("t", 0), ("t", 1)]));
    assert_eq!(parts(&r, bmp), owned(&[("t", 2)]));
    let r = RoundRobinAssignor.assign(&c, &subs);
    assert_eq!(parts(&r, supplementary), owned(&[("t", 0), ("t", 2)]));
    assert_eq!(parts(&r, bmp), owned(&[("t", 1)]));
}

// ---------------------------------------------------------------------------------------------
// Consumer protocol: round trips
// ---------------------------------------------------------------------------------------------

fn topic_name() -> impl Strategy<Value = String> {
    "[a-z]{1,3}"
}

fn opt_bytes() -> impl Strategy<Value = Option<Bytes>> {
    prop::option::of(prop::collection::vec(any::<u8>(), 0..16).prop_map(Bytes::from))
}

fn partitions() -> impl Strategy<Value = Vec<TopicPartition>> {
    prop::collection::vec(
        (topic_name(), any::<i32>()).prop_map(|(t, p)| TopicPartition::new(t, p)),
        0..12,
    )
}

fn subscription() -> impl Strategy<Value = Subscription> {
    (
        prop::collection::vec(topic_name(), 0..6),
        opt_bytes(),
        partitions(),
        any::<i32>(),
        prop::option::of("[a-z0-9-]{0,6}"),
    )
        .prop_map(
            |(topics, user_data, owned_partitions, generation, rack_id)| Subscription {
                topics,
                user_data,
                owned_partitions,
                generation,
                rack_id,
                instance_id: None,
            },
        )
}

fn assignment() -> impl Strategy<Value = Assignment> {
    (partitions(), opt_bytes()).prop_map(|(partitions, user_data)| Assignment {
        partitions,
        user_data,
    })
}

fn sorted_dedup<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v.dedup();
    v
}

/// What a subscription encoded at `version` decodes to.
fn expected_subscription(s: &Subscription, version: i16) -> Subscription {
    Subscription {
        topics: sorted_dedup(s.topics.clone()),
        user_data: s.user_data.clone(),
        owned_partitions: if version >= 1 {
            sorted_dedup(s.owned_partitions.clone())
        } else {
            Vec::new()
        },
        generation: if version >= 2 { s.generation } else { -1 },
        rack_id: if version >= 3 {
            s.rack_id.clone()
        } else {
            None
        },
        instance_id: None,
    }
}

fn version_of(bytes: &[u8]) -> i16 {
    i16::from_be_bytes([bytes[0], bytes[1]])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn subscription_round_trip(s in subscription(), version in 0i16..=6) {
        let bytes = encode_subscription(&s, version).unwrap();
        let wire_version = version.min(3);
        prop_assert_eq!(version_of(&bytes), wire_version);
        let back = decode_subscription(&bytes).unwrap();
        prop_assert_eq!(&back, &expected_subscription(&s, wire_version));
        // Decoded values are normalised: re-encoding gives the same bytes.
        prop_assert_eq!(encode_subscription(&back, wire_version).unwrap(), bytes.clone());
        // Every strict prefix is an error (all fields are required), never a panic.
        for cut in 0..bytes.len() {
            prop_assert!(decode_subscription(&bytes.slice(..cut)).is_err());
        }
        // A future version with an appended field reads as the newest known version; so
        // does a known version with trailing bytes (Java ignores them).
        let mut newer = BytesMut::from(&encode_subscription(&s, 3).unwrap()[..]);
        newer[..2].copy_from_slice(&(4 + version).to_be_bytes());
        newer.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        let newer = decode_subscription(&newer.freeze()).unwrap();
        prop_assert_eq!(&newer, &expected_subscription(&s, 3));
        let mut trailing = BytesMut::from(&bytes[..]);
        trailing.extend_from_slice(&[1, 2, 3]);
        prop_assert_eq!(decode_subscription(&trailing.freeze()).unwrap(), back);
    }

    #[test]
    fn assignment_round_trip(a in assignment(), version in 0i16..=6) {
        let bytes = encode_assignment(&a, version).unwrap();
        let wire_version = version.min(3);
        prop_assert_eq!(version_of(&bytes), wire_version);
        let back = decode_assignment(&bytes).unwrap();
        let expected = Assignment {
            partitions: sorted_dedup(a.partitions.clone()),
            user_data: a.user_data.clone(),
        };
        prop_assert_eq!(&back, &expected);
        prop_assert_eq!(encode_assignment(&back, wire_version).unwrap(), bytes.clone());
        // Versions 0-3 share one layout: only the prefix differs.
        for v in 0..=3i16 {
            let other = encode_assignment(&a, v).unwrap();
            prop_assert_eq!(&other[2..], &bytes[2..]);
        }
        for cut in 1..bytes.len() {
            prop_assert!(decode_assignment(&bytes.slice(..cut)).is_err());
        }
        let mut newer = BytesMut::from(&bytes[..]);
        newer[..2].copy_from_slice(&9i16.to_be_bytes());
        newer.extend_from_slice(&[0xff; 7]);
        prop_assert_eq!(decode_assignment(&newer.freeze()).unwrap(), expected);
    }

    #[test]
    fn hostile_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..64)) {
        let data = Bytes::from(data);
        let _ = decode_subscription(&data);
        let _ = decode_assignment(&data);
    }

    #[test]
    fn mutated_encodings_never_panic(
        s in subscription(),
        a in assignment(),
        version in 0i16..=3,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut sb = encode_subscription(&s, version).unwrap().to_vec();
        let mut ab = encode_assignment(&a, version).unwrap().to_vec();
        for (at, byte) in &edits {
            let i = at.index(sb.len());
            sb[i] = *byte;
            let i = at.index(ab.len());
            ab[i] = *byte;
        }
        let _ = decode_subscription(&Bytes::from(sb));
        let _ = decode_assignment(&Bytes::from(ab));
    }
}

#[test]
fn constants() {
    assert_eq!(PROTOCOL_TYPE, "consumer");
    assert_eq!(SUBSCRIPTION_VERSION, 3);
    assert_eq!(ASSIGNMENT_VERSION, 3);
}

#[test]
fn empty_assignment_bytes_are_an_empty_assignment() {
    assert_eq!(
        decode_assignment(&Bytes::new()).unwrap(),
        Assignment::default()
    );
    assert!(decode_assignment(&Bytes::from_static(&[0])).is_err());
    assert!(decode_subscription(&Bytes::new()).is_err());
}

#[test]
fn negative_versions_are_errors() {
    assert!(encode_subscription(&Subscription::default(), -1).is_err());
    assert!(encode_assignment(&Assignment::default(), -1).is_err());
    let v0 = encode_subscription(&sub(&["t"]), 0).unwrap();
    let mut bad = v0.to_vec();
    bad[..2].copy_from_slice(&(-1i16).to_be_bytes());
    assert!(decode_subscription(&Bytes::from(bad)).is_err());
    let mut bad = encode_assignment(&Assignment::default(), 0)
        .unwrap()
        .to_vec();
    bad[..2].copy_from_slice(&(-7i16).to_be_bytes());
    assert!(decode_assignment(&Bytes::from(bad)).is_err());
}

/// Byte-exact encodings written out by hand from the schema.
#[test]
fn encodings_by_hand() {
    // Unsorted, duplicated input: topics sorted, partitions grouped per topic and ascending.
    let s = Subscription {
        topics: vec!["b".into(), "a".into(), "b".into()],
        user_data: None,
        owned_partitions: vec![tp("b", 2), tp("a", 1), tp("b", 0), tp("a", 1)],
        generation: 7,
        rack_id: Some("r".into()),
        instance_id: None,
    };
    let v3 = encode_subscription(&s, 3).unwrap();
    #[rustfmt::skip]
    let expected: &[u8] = &[
        0, 3,                                  // version
        0, 0, 0, 2, 0, 1, b'a', 0, 1, b'b',    // topics
        0xff, 0xff, 0xff, 0xff,                // user data: null
        0, 0, 0, 2,                            // owned partitions
        0, 1, b'a', 0, 0, 0, 1, 0, 0, 0, 1,
        0, 1, b'b', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2,
        0, 0, 0, 7,                            // generation
        0, 1, b'r',                            // rack
    ];
    assert_eq!(&v3[..], expected);
    // v0 drops owned partitions, generation and rack.
    let v0 = encode_subscription(&s, 0).unwrap();
    assert_eq!(&v0[..], &[&[0u8, 0][..], &expected[2..16]].concat()[..]);

    let a = Assignment {
        partitions: vec![tp("x", 1), tp("x", 0)],
        user_data: Some(Bytes::from_static(b"u")),
    };
    #[rustfmt::skip]
    let expected: &[u8] = &[
        0, 1,
        0, 0, 0, 1, 0, 1, b'x', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1,
        0, 0, 0, 1, b'u',
    ];
    assert_eq!(&encode_assignment(&a, 1).unwrap()[..], expected);
}

// ---------------------------------------------------------------------------------------------
// Golden vectors from real clients
// ---------------------------------------------------------------------------------------------

fn captures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../kafka-wire/tests/data/captures")
}

fn frames(path: &Path) -> Vec<Bytes> {
    let mut buf = BytesMut::from(&std::fs::read(path).expect("capture file")[..]);
    let mut out = Vec::new();
    while let Some(f) = frame::split(&mut buf, frame::DEFAULT_MAX_FRAME).expect("frame") {
        out.push(f);
    }
    assert!(buf.is_empty(), "{}: partial frame", path.display());
    out
}

/// Decodes a subscription blob, checks it and checks that re-encoding is byte-exact.
fn check_subscription_blob(what: &str, blob: &Bytes) -> Subscription {
    let s = decode_subscription(blob).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(s.topics, ["cap-topic"], "{what}");
    assert!(s.owned_partitions.is_empty(), "{what}");
    assert_eq!(s.generation, -1, "{what}");
    let again = encode_subscription(&s, version_of(blob)).unwrap();
    assert_eq!(again, *blob, "{what}: re-encoding differs");
    s
}

/// Decodes an assignment blob, checks it and checks that re-encoding is byte-exact.
fn check_assignment_blob(what: &str, blob: &Bytes) -> Assignment {
    let a = decode_assignment(blob).unwrap_or_else(|e| panic!("{what}: {e}"));
    // One consumer, one topic of 3 partitions: it gets them all.
    assert_eq!(
        a.partitions,
        (0..3).map(|p| tp("cap-topic", p)).collect::<Vec<_>>(),
        "{what}"
    );
    let again = encode_assignment(&a, version_of(blob)).unwrap();
    assert_eq!(again, *blob, "{what}: re-encoding differs");
    a
}

#[derive(Default, Debug)]
struct Found {
    subscriptions: Vec<(i16, Subscription)>,
    /// Assignments the leader sent (SyncGroup requests), by member id.
    leader_assignments: BTreeMap<String, Assignment>,
    /// Assignments the coordinator returned (SyncGroup responses).
    synced: usize,
    /// The protocol the coordinator chose and the members it gave the leader.
    chosen: Option<(String, BTreeMap<String, Subscription>)>,
}

fn scan_scenario(dir: &Path) -> Found {
    let mut found = Found::default();
    let mut conns: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("scenario dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".c2s.bin"))
        .collect();
    conns.sort();
    for c2s in conns {
        let s2c = PathBuf::from(c2s.to_string_lossy().replace(".c2s.", ".s2c."));
        let name = c2s.display().to_string();
        let mut inflight = BTreeMap::new();
        for f in frames(&c2s) {
            let (h, used) = RequestHeader::decode_auto(&f).expect("request header");
            let Some(key) = ApiKey::from_i16(h.api_key) else {
                continue;
            };
            inflight.insert(h.correlation_id, (key, h.api_version));
            if !matches!(key, ApiKey::JoinGroup | ApiKey::SyncGroup) {
                continue;
            }
            let req = AnyRequest::decode(key, h.api_version, &f.slice(used..)).expect("request");
            match req {
                AnyRequest::JoinGroup(j) => {
                    assert_eq!(&*j.protocol_type, PROTOCOL_TYPE);
                    for p in &j.protocols {
                        assert!(["range", "roundrobin"].contains(&&*p.name), "{}", p.name);
                        let what = format!("{name} JoinGroup {} {}", h.correlation_id, p.name);
                        let s = check_subscription_blob(&what, &p.metadata);
                        found.subscriptions.push((version_of(&p.metadata), s));
                    }
                }
                AnyRequest::SyncGroup(s) => {
                    for a in &s.assignments {
                        let what = format!("{name} SyncGroup request {}", a.member_id);
                        let decoded = check_assignment_blob(&what, &a.assignment);
                        found
                            .leader_assignments
                            .insert(a.member_id.to_string(), decoded);
                    }
                }
                _ => unreachable!(),
            }
        }
        for f in frames(&s2c) {
            let corr = i32::from_be_bytes(f[..4].try_into().expect("4 bytes"));
            let Some(&(key, v)) = inflight.get(&corr) else {
                continue;
            };
            if !matches!(key, ApiKey::JoinGroup | ApiKey::SyncGroup) {
                continue;
            }
            let (_, used) =
                ResponseHeader::decode(&f, key.response_header_version(v)).expect("header");
            let (resp, _) = AnyResponse::decode_prefix(key, v, &f.slice(used..)).expect("response");
            match resp {
                AnyResponse::JoinGroup(j) if j.error_code == 0 && !j.members.is_empty() => {
                    let members = j
                        .members
                        .iter()
                        .map(|m| {
                            let what = format!("{name} JoinGroup response {}", m.member_id);
                            (
                                m.member_id.to_string(),
                                check_subscription_blob(&what, &m.metadata),
                            )
                        })
                        .collect();
                    let protocol = j.protocol_name.as_deref().unwrap_or_default().to_owned();
                    found.chosen = Some((protocol, members));
                }
                AnyResponse::SyncGroup(s) if s.error_code == 0 => {
                    let what = format!("{name} SyncGroup response {corr}");
                    check_assignment_blob(&what, &s.assignment);
                    found.synced += 1;
                }
                _ => {}
            }
        }
    }
    found
}

/// librdkafka 2.16 (against Tansu and against its own mock) and kafka-python 3.0.12 (against
/// Tansu): every JoinGroup metadata and SyncGroup assignment decodes, re-encodes byte for byte,
/// and our assignor, run on what the coordinator gave the leader, computes what the leader sent.
#[test]
fn captured_consumer_protocol_bytes() {
    let root = captures_root();
    let scenarios = [
        // (scenario, subscription version, assignment version)
        ("tansu-librdkafka-consumer", 3, 0),
        ("mock-2.16-librdkafka", 3, 0),
        ("tansu-kafka-python", 0, 0),
    ];
    for (scenario, sub_version, assign_version) in scenarios {
        let found = scan_scenario(&root.join(scenario));
        assert!(!found.subscriptions.is_empty(), "{scenario}: no JoinGroup");
        for (v, s) in &found.subscriptions {
            assert_eq!(*v, sub_version, "{scenario}");
            // Both clients send empty (not null) user data.
            assert_eq!(s.user_data.as_deref(), Some(&[][..]), "{scenario}");
            if *v >= 3 {
                // librdkafka sends an empty rack, not a null one.
                assert_eq!(s.rack_id.as_deref(), Some(""), "{scenario}");
            }
        }
        assert_eq!(found.leader_assignments.len(), 1, "{scenario}");
        assert_eq!(found.synced, 1, "{scenario}: SyncGroup responses");
        let (protocol, members) = found.chosen.expect("a JoinGroup response with members");
        let assignor: &dyn Assignor = match protocol.as_str() {
            "range" => &RangeAssignor,
            "roundrobin" => &RoundRobinAssignor,
            other => panic!("{scenario}: unexpected protocol {other}"),
        };
        let ours = assignor.assign(&cluster(&[("cap-topic", 3)]), &members);
        for (member, theirs) in &found.leader_assignments {
            assert_eq!(ours[member].partitions, theirs.partitions, "{scenario}");
            let ours_bytes = encode_assignment(
                &Assignment {
                    user_data: theirs.user_data.clone(),
                    ..ours[member].clone()
                },
                assign_version,
            )
            .unwrap();
            assert_eq!(
                decode_assignment(&ours_bytes).unwrap(),
                *theirs,
                "{scenario}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// KIP-881 rack-aware range
// ---------------------------------------------------------------------------------------------

fn rack_sub(topics: &[&str], rack: &str) -> Subscription {
    Subscription {
        rack_id: Some(rack.to_owned()),
        ..sub(topics)
    }
}

fn racked(topics: &[(&str, &[&[&str]])]) -> ClusterView {
    ClusterView {
        partitions: topics
            .iter()
            .map(|(t, racks)| ((*t).to_owned(), racks.len() as i32))
            .collect(),
        replica_racks: topics
            .iter()
            .map(|(t, racks)| {
                let per: Vec<Vec<String>> = racks
                    .iter()
                    .map(|rs| rs.iter().map(|r| (*r).to_owned()).collect())
                    .collect();
                ((*t).to_owned(), per)
            })
            .collect(),
    }
}

#[test]
fn range_prefers_rack_local_partitions_within_quota() {
    // p0, p2 on r1; p1, p3 on r2. Plain range would give a 0,1 and b 2,3.
    let layout: &[&[&str]] = &[&["r1"], &["r2"], &["r1"], &["r2"]];
    let c = racked(&[("t", layout), ("u", layout)]);
    let subs: BTreeMap<String, Subscription> = [
        ("a".to_owned(), rack_sub(&["t", "u"], "r2")),
        ("b".to_owned(), rack_sub(&["t", "u"], "r1")),
    ]
    .into_iter()
    .collect();
    let r = RangeAssignor.assign(&c, &subs);
    assert_eq!(
        parts(&r, "a"),
        owned(&[("t", 1), ("t", 3), ("u", 1), ("u", 3)])
    );
    assert_eq!(
        parts(&r, "b"),
        owned(&[("t", 0), ("t", 2), ("u", 0), ("u", 2)])
    );

    // Every partition on every rack: rack awareness is off, the plain layout stays.
    let everywhere: &[&[&str]] = &[&["r1", "r2"], &["r1", "r2"], &["r1", "r2"], &["r1", "r2"]];
    let r = RangeAssignor.assign(&racked(&[("t", everywhere)]), &subs);
    assert_eq!(parts(&r, "a"), owned(&[("t", 0), ("t", 1)]));
    assert_eq!(parts(&r, "b"), owned(&[("t", 2), ("t", 3)]));

    // Every partition on the same single rack is "every partition on every rack" too (Java
    // compares each partition's racks with the union of all of them): the plain layout.
    let all_r1: &[&[&str]] = &[&["r1"], &["r1"], &["r1"], &["r1"]];
    let r = RangeAssignor.assign(&racked(&[("t", all_r1)]), &subs);
    assert_eq!(parts(&r, "a"), owned(&[("t", 0), ("t", 1)]));

    // Quota before locality: three partitions on r1, but b (r1) may take only its 2.
    let mostly_r1: &[&[&str]] = &[&["r1"], &["r1"], &["r1"], &["r2"]];
    let r = RangeAssignor.assign(&racked(&[("t", mostly_r1)]), &subs);
    assert_eq!(parts(&r, "b"), owned(&[("t", 0), ("t", 1)]));
    assert_eq!(parts(&r, "a"), owned(&[("t", 2), ("t", 3)]));

    // Without consumer racks nothing changes.
    let plain: BTreeMap<String, Subscription> =
        [("a".to_owned(), sub(&["t"])), ("b".to_owned(), sub(&["t"]))]
            .into_iter()
            .collect();
    let r = RangeAssignor.assign(&racked(&[("t", layout)]), &plain);
    assert_eq!(parts(&r, "a"), owned(&[("t", 0), ("t", 1)]));
}

proptest! {
    /// With random racks, rack-aware range stays valid and keeps Java's per-topic quota: each
    /// subscriber gets P/N or P/N + 1 partitions of the topic, exactly P mod N of them the
    /// larger number (which ones may differ from plain range: the extra goes to whoever reaches
    /// it first, as in Java).
    #[test]
    fn rack_aware_range_keeps_the_quota(
        c in case(false),
        racks in prop::collection::vec(prop::collection::vec(0u8..4, 1..3), 100),
        member_racks in prop::collection::vec(prop::option::of(0u8..4), 10),
    ) {
        let mut cluster = c.cluster.clone();
        let mut k = 0;
        for (t, &n) in &c.cluster.partitions {
            let per: Vec<Vec<String>> = (0..n)
                .map(|_| {
                    k = (k + 1) % racks.len();
                    racks[k].iter().map(|r| format!("r{r}")).collect()
                })
                .collect();
            cluster.replica_racks.insert(t.clone(), per);
        }
        let mut subs = c.subs.clone();
        for (s, r) in subs.values_mut().zip(&member_racks) {
            s.rack_id = r.map(|r| format!("r{r}"));
        }
        let aware = RangeAssignor.assign(&cluster, &subs);
        let rc = Case { cluster: cluster.clone(), subs: subs.clone() };
        check_valid(&rc, &aware)?;
        for (t, &n) in &cluster.partitions {
            let subscribers: Vec<&String> =
                subs.iter().filter(|(_, s)| s.topics.contains(t)).map(|(m, _)| m).collect();
            if subscribers.is_empty() {
                continue;
            }
            let (q, extra) = (n as usize / subscribers.len(), n as usize % subscribers.len());
            let counts: Vec<usize> = subscribers
                .iter()
                .map(|m| aware[*m].partitions.iter().filter(|tp| &tp.topic == t).count())
                .collect();
            prop_assert!(counts.iter().all(|&x| x == q || x == q + 1), "{t}: {counts:?}");
            prop_assert_eq!(counts.iter().filter(|&&x| x == q + 1).count(), if q + 1 > 0 { extra } else { 0 });
        }
    }
}
