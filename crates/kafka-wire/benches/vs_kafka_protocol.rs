//! kafka-wire against kafka-protocol, side by side, on the same bytes.
//!
//! Every case builds one message with kafka-wire, encodes it once, and then:
//!
//! - decodes those bytes with both crates and checks that they agree on counts, names,
//!   leaders and offsets;
//! - re-encodes each crate's decoded value and checks that the output equals the input bytes;
//! - checks that record sets, member metadata, strings and (kafka-wire only) `[]int32` arrays
//!   were not copied: their pointers lie inside the input buffer.
//!
//! Then it times, per crate: `decode` (including dropping the decoded value) and `encode`
//! (computing the size — `encoded_len` / `compute_size` — then encoding into a pre-reserved
//! `BytesMut` that is cleared every iteration).
//!
//! Run: `cargo bench -p kafka-wire --bench vs_kafka_protocol`; summarise with
//! `python3 crates/kafka-wire/benches/ratios.py`. `KW_BENCH_QUICK=1` (or criterion's `--quick`)
//! makes a short run for CI; `KW_BENCH_AB=0` skips the interleaved A/B summary printed after
//! the criterion run; `KW_BENCH_DUMP=DIR` writes each case's input bytes to `DIR/<case>.bin`.
//! A third timed operation, `encode_vectored` (kafka-wire only), encodes into a
//! [`Vectored`] output: the same bytes as a list of chunks, with byte fields of 4 KiB or more
//! (Fetch's record sets) referenced rather than copied. It is reported separately; the
//! `encode` rows stay the like-for-like contiguous comparison.
//! For JoinGroup and Fetch the A/B summary adds a "copy floor" row: copying only the
//! message's byte fields (member metadata, record sets), timed against kafka-protocol's
//! encode, which bounds what any contiguous encode could reach.
//!
//! `cargo test --all-targets` runs every case once (setup checks included) in criterion's test
//! mode.

use core::hint::black_box;
use core::time::Duration;
use std::sync::OnceLock;
use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use kafka_protocol::messages as kp;
use kafka_protocol::protocol::{Decodable, Encodable};
use kafka_wire::generated::{
    ConsumerProtocolSubscription, ConsumerProtocolSubscriptionRef, FetchResponse, FetchResponseRef,
    JoinGroupResponse, JoinGroupResponseRef, MetadataResponse, MetadataResponseRef,
    OffsetCommitRequest, OffsetCommitRequestRef, consumer_protocol_subscription, fetch_response,
    join_group_response, metadata_response, offset_commit_request,
};
use kafka_wire::records::{Record, RecordBatch};
use kafka_wire::{ByteString, Decode, DecodeRef, Encode, Packed, Uuid, Vectored};

const METADATA_VERSION: i16 = 12;
const JOIN_GROUP_VERSION: i16 = 9;
const FETCH_VERSION: i16 = 16;
const OFFSET_COMMIT_VERSION: i16 = 9;
const SUBSCRIPTION_VERSION: i16 = 3;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Whether `len` bytes at `ptr` lie inside `buf` (the value was sliced, not copied).
fn inside(buf: &Bytes, ptr: *const u8, len: usize) -> bool {
    let start = buf.as_ptr() as usize;
    let end = start + buf.len();
    let p = ptr as usize;
    p >= start && p + len <= end
}

fn assert_inside(buf: &Bytes, what: &str, bytes: &[u8]) {
    assert!(
        !bytes.is_empty() && inside(buf, bytes.as_ptr(), bytes.len()),
        "{what} was copied: not a slice of the input buffer"
    );
}

fn kw_encode<T: Encode>(x: &T, v: i16) -> Bytes {
    let mut buf = BytesMut::with_capacity(x.encoded_len(v).expect("kafka-wire encoded_len"));
    x.encode(v, &mut buf).expect("kafka-wire encode");
    buf.freeze()
}

fn kp_encode<T: Encodable>(x: &T, v: i16) -> Bytes {
    let mut buf = BytesMut::with_capacity(x.compute_size(v).expect("kafka-protocol size"));
    x.encode(&mut buf, v).expect("kafka-protocol encode");
    buf.freeze()
}

fn kw_decode<T: Decode>(wire: &Bytes, v: i16) -> T {
    T::decode(wire, v).expect("kafka-wire decode")
}

fn kp_decode<T: Decodable>(wire: &Bytes, v: i16) -> T {
    let mut buf = wire.clone();
    let x = T::decode(&mut buf, v).expect("kafka-protocol decode");
    assert!(buf.is_empty(), "kafka-protocol left {} bytes", buf.len());
    x
}

/// Checks that each crate re-encodes its decoded value to exactly the input bytes.
fn assert_round_trips<W: Encode, P: Encodable>(name: &str, wire: &Bytes, w: &W, p: &P, v: i16) {
    assert!(
        kw_encode(w, v) == *wire,
        "{name}: kafka-wire re-encode differs from the input"
    );
    assert!(
        kp_encode(p, v) == *wire,
        "{name}: kafka-protocol re-encode differs from the input"
    );
}

fn quick() -> bool {
    std::env::var_os("KW_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0")
}

// The timed routines, shared by criterion and the interleaved A/B summary.

fn kw_decode_once<W: Decode>(wire: &Bytes, v: i16) {
    drop(black_box(W::decode(black_box(wire), v)));
}

/// Decodes `wire` as the borrowed view `R` and drops it.
fn kw_view_once<'a, R: DecodeRef<'a>>(wire: &'a Bytes, v: i16) {
    drop(black_box(R::decode_ref(black_box(wire), v)));
}

/// Checks that the borrowed view of `wire` holds the same message as the owned decode `w`.
fn assert_view_matches<'a, R>(name: &str, wire: &'a Bytes, v: i16, w: &R::Owned) -> R
where
    R: DecodeRef<'a> + Clone,
    R::Owned: PartialEq + core::fmt::Debug,
{
    let view = R::decode_ref(wire, v).expect("kafka-wire view decode");
    assert!(
        view.clone().into_owned() == *w,
        "{name}: the borrowed view differs from the owned decode"
    );
    view
}

fn kp_decode_once<P: Decodable>(wire: &Bytes, v: i16) {
    let mut buf = black_box(wire).clone();
    drop(black_box(P::decode(&mut buf, v)));
}

fn kw_encode_once<W: Encode>(w: &W, v: i16, buf: &mut BytesMut) {
    buf.clear();
    let n = black_box(w).encoded_len(v).expect("size");
    buf.reserve(n);
    w.encode(v, buf).expect("encode");
    black_box(&buf);
}

/// The vectored variant: same size pass, then `encode_vectored`, whose output is a list of
/// chunks (copied header bytes, plus the message's own `Bytes` for byte fields of at least
/// 4 KiB). Not the same operation as the contiguous encode: nothing is copied for large fields.
fn kw_encode_vectored_once<W: Encode>(w: &W, v: i16, out: &mut Vectored) {
    out.clear();
    let n = black_box(w).encoded_len(v).expect("size");
    out.reserve(n);
    w.encode_vectored(v, out).expect("encode");
    black_box(&out);
}

/// Concatenation of a vectored output.
fn joined(out: &mut Vectored) -> Vec<u8> {
    out.chunks()
        .iter()
        .flat_map(|c| c.iter().copied())
        .collect()
}

fn kp_encode_once<P: Encodable>(p: &P, v: i16, buf: &mut BytesMut) {
    buf.clear();
    let n = black_box(p).compute_size(v).expect("size");
    buf.reserve(n);
    p.encode(buf, v).expect("encode");
    black_box(&buf);
}

/// Times decode and encode of `wire` with both crates in one criterion group named `name`.
fn bench_case<W, P>(c: &mut Criterion, name: &str, wire: &Bytes, v: i16, view: fn(&Bytes, i16))
where
    W: Decode + Encode,
    P: Decodable + Encodable,
{
    let w: W = kw_decode(wire, v);
    let p: P = kp_decode(wire, v);
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(wire.len() as u64));
    if !quick() && wire.len() > 1 << 20 {
        // Multi-millisecond iterations: flat sampling with fewer samples keeps the run within
        // its time budget.
        g.sampling_mode(SamplingMode::Flat).sample_size(30);
    }

    g.bench_function(BenchmarkId::new("decode", "kafka-wire"), |b| {
        b.iter(|| kw_decode_once::<W>(wire, v));
    });
    g.bench_function(BenchmarkId::new("decode", "kafka-protocol"), |b| {
        b.iter(|| kp_decode_once::<P>(wire, v));
    });
    g.bench_function(BenchmarkId::new("decode_view", "kafka-wire"), |b| {
        b.iter(|| view(wire, v));
    });

    let mut buf = BytesMut::with_capacity(wire.len());
    g.bench_function(BenchmarkId::new("encode", "kafka-wire"), |b| {
        b.iter(|| kw_encode_once(&w, v, &mut buf));
    });
    // Empty when a filter skipped the benchmark.
    assert!(
        buf.is_empty() || buf == *wire,
        "{name}: timed kafka-wire encode differs"
    );
    buf.clear();
    g.bench_function(BenchmarkId::new("encode", "kafka-protocol"), |b| {
        b.iter(|| kp_encode_once(&p, v, &mut buf));
    });
    assert!(
        buf.is_empty() || buf == *wire,
        "{name}: timed kafka-protocol encode differs"
    );
    let mut vec_out = Vectored::new();
    g.bench_function(BenchmarkId::new("encode_vectored", "kafka-wire"), |b| {
        b.iter(|| kw_encode_vectored_once(&w, v, &mut vec_out));
    });
    assert!(
        vec_out.is_empty() || joined(&mut vec_out) == wire[..],
        "{name}: timed kafka-wire vectored encode differs"
    );
    g.finish();
}

/// Median of `xs` (sorted in place).
fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Times `a` and `b` in alternating batches for about `budget` and returns the median time
/// per iteration of each and the median of the per-round ratios `b / a`. Background load that
/// comes and goes hits both sides of a round alike, so the ratio is steadier than two
/// separate criterion runs on a busy machine.
fn ab(mut a: impl FnMut(), mut b: impl FnMut(), budget: Duration) -> (f64, f64, f64) {
    fn batch(f: &mut dyn FnMut(), iters: u32) -> f64 {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        t.elapsed().as_secs_f64() * 1e9 / f64::from(iters)
    }
    // Batches of about 2 ms each; the first rounds only warm up.
    let one = batch(&mut a, 1).max(batch(&mut b, 1)).max(1.0);
    let iters = (2e6 / one).clamp(1.0, 1e6) as u32;
    let (mut ta, mut tb, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    let start = Instant::now();
    let mut round = 0u32;
    while start.elapsed() < budget || ratio.len() < 5 {
        let (x, y) = if round % 2 == 0 {
            let x = batch(&mut a, iters);
            (x, batch(&mut b, iters))
        } else {
            let y = batch(&mut b, iters);
            (batch(&mut a, iters), y)
        };
        round += 1;
        if round > 2 {
            ta.push(x);
            tb.push(y);
            ratio.push(y / x);
        }
    }
    (median(&mut ta), median(&mut tb), median(&mut ratio))
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// Copies `fields` into `buf` one `put_slice` each, and nothing else: the least work any
/// contiguous encoder of a message holding those byte fields must do.
fn copy_floor_once(fields: &[Bytes], buf: &mut BytesMut) {
    buf.clear();
    for f in fields {
        buf.put_slice(f);
    }
    black_box(&buf);
}

/// The `bytes`/`records` fields of a decoded message whose contiguous encode the copy floor
/// row bounds (Fetch records, JoinGroup member metadata); empty for the other cases.
fn byte_fields(name: &str, wire: &Bytes, v: i16) -> Vec<Bytes> {
    match name {
        "b_join_group_v9" => kw_decode::<JoinGroupResponse>(wire, v)
            .members
            .into_iter()
            .map(|m| m.metadata)
            .collect(),
        "c_fetch_v16" => kw_decode::<FetchResponse>(wire, v)
            .responses
            .into_iter()
            .flat_map(|t| t.partitions)
            .filter_map(|p| p.records)
            .collect(),
        _ => Vec::new(),
    }
}

/// One markdown row per operation of the interleaved A/B comparison of a case.
fn ab_case<W, P>(
    name: &str,
    wire: &Bytes,
    v: i16,
    view: fn(&Bytes, i16),
    budget: Duration,
) -> String
where
    W: Decode + Encode,
    P: Decodable + Encodable,
{
    let w: W = kw_decode(wire, v);
    let p: P = kp_decode(wire, v);
    let dec = ab(
        || kw_decode_once::<W>(wire, v),
        || kp_decode_once::<P>(wire, v),
        budget,
    );
    let dec_view = ab(|| view(wire, v), || kp_decode_once::<P>(wire, v), budget);
    let mut buf_w = BytesMut::with_capacity(wire.len());
    let mut buf_p = BytesMut::with_capacity(wire.len());
    let enc = ab(
        || kw_encode_once(&w, v, &mut buf_w),
        || kp_encode_once(&p, v, &mut buf_p),
        budget,
    );
    let mut vec_w = Vectored::new();
    let vec_enc = ab(
        || kw_encode_vectored_once(&w, v, &mut vec_w),
        || kp_encode_once(&p, v, &mut buf_p),
        budget,
    );
    assert!(
        joined(&mut vec_w) == wire[..],
        "{name}: kafka-wire vectored encode differs"
    );
    let row = |op: &str, (kw, kp, r): (f64, f64, f64), target: f64| {
        let met = if r >= target { "yes" } else { "**no**" };
        format!(
            "| {name} | {op} | {} | {} | {r:.2}x | {target}x | {met} |",
            fmt_ns(kw),
            fmt_ns(kp)
        )
    };
    // Not like for like (chunks against one buffer), so no target.
    let vec_row = |(kw, kp, r): (f64, f64, f64)| {
        format!(
            "| {name} | encode (kw vectored) | {} | {} | {r:.2}x | - | not like for like |",
            fmt_ns(kw),
            fmt_ns(kp)
        )
    };
    let mut rows = format!(
        "{}\n{}\n{}\n{}",
        row("decode", dec, 3.0),
        row("decode (kw borrowed view)", dec_view, 3.0),
        row("encode", enc, 1.5),
        vec_row(vec_enc)
    );
    let fields = byte_fields(name, wire, v);
    if !fields.is_empty() {
        // The copy floor against kafka-protocol's encode: the "speed-up" is the most that any
        // contiguous encode could reach over kafka-protocol on this input.
        let mut buf_f = BytesMut::with_capacity(wire.len());
        let (fl, kp, r) = ab(
            || copy_floor_once(&fields, &mut buf_f),
            || kp_encode_once(&p, v, &mut buf_p),
            budget,
        );
        let copied: usize = fields.iter().map(Bytes::len).sum();
        assert_eq!(
            buf_f.len(),
            copied,
            "{name}: copy floor wrote the wrong length"
        );
        rows.push_str(&format!(
            "\n| {name} | copy floor: only the {} byte fields ({copied} B), one put_slice each | {} | {} | {r:.2}x | - | bound on any contiguous encode |",
            fields.len(),
            fmt_ns(fl),
            fmt_ns(kp)
        ));
    }
    rows
}

/// A small deterministic generator (xorshift64*), so every run benches the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, n: usize) -> Bytes {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        Bytes::from(v)
    }

    fn uuid(&mut self) -> Uuid {
        Uuid::from_u64_pair(self.next(), self.next())
    }
}

fn s(x: impl Into<String>) -> ByteString {
    ByteString::from(x.into())
}

// ---------------------------------------------------------------------------------------------
// (a) MetadataResponse v12: 1,000 topics x 100 partitions, 3 replicas, 3 in sync

const BROKERS: i32 = 6;

fn metadata() -> Bytes {
    use metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    let mut rng = Rng(0x6d65_7461);
    let brokers = (0..BROKERS)
        .map(|id| MetadataResponseBroker {
            node_id: id,
            host: s(format!("b-{id}.kafka-prod.eu-west-1.internal")),
            port: 9092,
            rack: Some(s(format!("eu-west-1{}", ['a', 'b', 'c'][id as usize % 3]))),
            ..Default::default()
        })
        .collect();
    let topics = (0..1_000)
        .map(|t| MetadataResponseTopic {
            name: Some(s(format!("payments.ledger-events.v2.{t:04}"))),
            topic_id: rng.uuid(),
            partitions: (0..100)
                .map(|p| {
                    let leader = (t + p) % BROKERS;
                    let replicas: Packed<i32> = (0..3).map(|k| (leader + k) % BROKERS).collect();
                    MetadataResponsePartition {
                        partition_index: p,
                        leader_id: leader,
                        leader_epoch: 17 + p % 5,
                        isr_nodes: replicas.clone(),
                        replica_nodes: replicas,
                        ..Default::default()
                    }
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    let msg = MetadataResponse {
        brokers,
        cluster_id: Some(s("Xq3lbnRbT5mz1_MAj9QvYg")),
        controller_id: 1,
        topics,
        ..Default::default()
    };
    kw_encode(&msg, METADATA_VERSION)
}

fn check_metadata(wire: &Bytes) {
    let v = METADATA_VERSION;
    let w: MetadataResponse = kw_decode(wire, v);
    let p: kp::MetadataResponse = kp_decode(wire, v);
    assert_eq!(w.brokers.len(), p.brokers.len());
    assert_eq!(w.topics.len(), 1_000);
    assert_eq!(p.topics.len(), 1_000);
    assert_eq!(&*w.brokers[3].host, p.brokers[3].host.as_str());
    for (wt, pt) in w.topics.iter().zip(&p.topics).step_by(97) {
        assert_eq!(
            wt.name.as_deref(),
            pt.name.as_ref().map(|n| n.as_str()),
            "topic name"
        );
        assert_eq!(&wt.topic_id.0, pt.topic_id.as_bytes());
        assert_eq!(wt.partitions.len(), 100);
        assert_eq!(pt.partitions.len(), 100);
        for (wp, pp) in wt.partitions.iter().zip(&pt.partitions).step_by(13) {
            assert_eq!(wp.partition_index, pp.partition_index);
            assert_eq!(wp.leader_id, pp.leader_id.0);
            assert_eq!(wp.leader_epoch, pp.leader_epoch);
            assert_eq!(
                wp.replica_nodes.to_vec(),
                pp.replica_nodes.iter().map(|b| b.0).collect::<Vec<_>>()
            );
            assert_eq!(wp.isr_nodes.len(), 3);
            assert_eq!(pp.isr_nodes.len(), 3);
        }
    }
    // Zero-copy: kafka-wire slices names and packed `[]int32` arrays out of the input;
    // kafka-protocol slices names but copies `[]int32` into `Vec<BrokerId>`.
    let last = w.topics.last().expect("topics");
    assert_inside(
        wire,
        "kafka-wire topic name",
        last.name.as_deref().expect("name").as_bytes(),
    );
    assert_inside(
        wire,
        "kafka-wire replica_nodes",
        last.partitions[99].replica_nodes.wire_bytes(),
    );
    let plast = p.topics.last().expect("topics");
    assert_inside(
        wire,
        "kafka-protocol topic name",
        plast.name.as_ref().expect("name").as_bytes(),
    );
    let view: MetadataResponseRef<'_> = assert_view_matches("metadata", wire, v, &w);
    let vlast = view.topics.last().expect("topics");
    assert_inside(
        wire,
        "view topic name",
        vlast.name.expect("name").as_bytes(),
    );
    assert_inside(
        wire,
        "view replica_nodes",
        vlast.partitions[99].replica_nodes.wire_bytes(),
    );
    assert_round_trips("metadata", wire, &w, &p, v);
}

// ---------------------------------------------------------------------------------------------
// (b) JoinGroupResponse v9: 1,000 members with 200-byte metadata

fn join_group() -> Bytes {
    use join_group_response::JoinGroupResponseMember;
    let mut rng = Rng(0x6a6f_696e);
    let member_id = |rng: &mut Rng, i: usize| {
        let u = rng.uuid();
        s(format!("consumer-billing-{i}-{u}"))
    };
    let members: Vec<JoinGroupResponseMember> = (0..1_000)
        .map(|i| JoinGroupResponseMember {
            member_id: member_id(&mut rng, i),
            group_instance_id: (i % 4 == 0).then(|| s(format!("billing-pod-{i}"))),
            metadata: rng.bytes(200),
            ..Default::default()
        })
        .collect();
    let msg = JoinGroupResponse {
        generation_id: 42,
        protocol_type: Some(s("consumer")),
        protocol_name: Some(s("cooperative-sticky")),
        leader: members[0].member_id.clone(),
        member_id: members[0].member_id.clone(),
        members,
        ..Default::default()
    };
    kw_encode(&msg, JOIN_GROUP_VERSION)
}

fn check_join_group(wire: &Bytes) {
    let v = JOIN_GROUP_VERSION;
    let w: JoinGroupResponse = kw_decode(wire, v);
    let p: kp::JoinGroupResponse = kp_decode(wire, v);
    assert_eq!(w.members.len(), 1_000);
    assert_eq!(p.members.len(), 1_000);
    assert_eq!(w.generation_id, p.generation_id);
    assert_eq!(&*w.leader, p.leader.as_str());
    assert_eq!(w.protocol_name.as_deref(), p.protocol_name.as_deref());
    for (wm, pm) in w.members.iter().zip(&p.members).step_by(37) {
        assert_eq!(&*wm.member_id, pm.member_id.as_str());
        assert_eq!(
            wm.group_instance_id.as_deref(),
            pm.group_instance_id.as_deref()
        );
        assert_eq!(wm.metadata, pm.metadata);
        assert_eq!(wm.metadata.len(), 200);
    }
    let (wm, pm) = (&w.members[999], &p.members[999]);
    assert_inside(wire, "kafka-wire member metadata", &wm.metadata);
    assert_inside(wire, "kafka-protocol member metadata", &pm.metadata);
    assert_inside(wire, "kafka-wire member id", wm.member_id.as_bytes());
    assert_inside(wire, "kafka-protocol member id", pm.member_id.as_bytes());
    let view: JoinGroupResponseRef<'_> = assert_view_matches("join_group", wire, v, &w);
    assert_inside(wire, "view member metadata", view.members[999].metadata);
    assert_inside(
        wire,
        "view member id",
        view.members[999].member_id.as_bytes(),
    );
    assert_round_trips("join_group", wire, &w, &p, v);
}

// ---------------------------------------------------------------------------------------------
// (c) FetchResponse v16: 8 partitions x 64 KiB record sets (valid uncompressed RecordBatch v2)

const RECORD_SET: usize = 64 * 1024;

/// Uncompressed record batches of 16 records (key 16 bytes, value 1,000 bytes, one header)
/// up to 64 KiB; the last batch is cut short, as brokers do when `partition_max_bytes` ends
/// inside a batch.
fn record_set(rng: &mut Rng, base_offset: i64) -> Bytes {
    let mut out = Vec::with_capacity(RECORD_SET + 20_000);
    let mut offset = base_offset;
    while out.len() < RECORD_SET {
        let records: Vec<Record> = (0..16)
            .map(|i| Record {
                timestamp_delta: i64::from(i) * 3,
                offset_delta: i,
                key: Some(rng.bytes(16)),
                value: Some(rng.bytes(1_000)),
                headers: vec![kafka_wire::records::Header {
                    key: s("trace-id"),
                    value: Some(rng.bytes(16)),
                }],
                ..Default::default()
            })
            .collect();
        let batch = RecordBatch {
            base_offset: offset,
            partition_leader_epoch: 17,
            last_offset_delta: 15,
            base_timestamp: 1_760_000_000_000 + offset,
            max_timestamp: 1_760_000_000_045 + offset,
            records,
            ..Default::default()
        };
        batch.encode(&mut out).expect("record batch");
        offset += 16;
    }
    out.truncate(RECORD_SET);
    Bytes::from(out)
}

fn fetch() -> Bytes {
    use fetch_response::{FetchableTopicResponse, PartitionData};
    let mut rng = Rng(0x6665_7463);
    let responses = (0..2)
        .map(|t| FetchableTopicResponse {
            topic_id: rng.uuid(),
            partitions: (0..4)
                .map(|p| {
                    let base = 1_000_000 * i64::from(t * 4 + p + 1);
                    PartitionData {
                        partition_index: p,
                        high_watermark: base + 10_000,
                        last_stable_offset: base + 10_000,
                        log_start_offset: base - 500_000,
                        preferred_read_replica: -1,
                        records: Some(record_set(&mut rng, base)),
                        ..Default::default()
                    }
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    let msg = FetchResponse {
        session_id: 0x005e_551d,
        responses,
        ..Default::default()
    };
    kw_encode(&msg, FETCH_VERSION)
}

fn check_fetch(wire: &Bytes) {
    let v = FETCH_VERSION;
    let w: FetchResponse = kw_decode(wire, v);
    let p: kp::FetchResponse = kp_decode(wire, v);
    assert_eq!(w.session_id, p.session_id);
    assert_eq!(w.responses.len(), 2);
    assert_eq!(p.responses.len(), 2);
    for (wt, pt) in w.responses.iter().zip(&p.responses) {
        assert_eq!(&wt.topic_id.0, pt.topic_id.as_bytes());
        assert_eq!(wt.partitions.len(), 4);
        assert_eq!(pt.partitions.len(), 4);
        for (wp, pp) in wt.partitions.iter().zip(&pt.partitions) {
            assert_eq!(wp.partition_index, pp.partition_index);
            assert_eq!(wp.high_watermark, pp.high_watermark);
            let wr = wp.records.as_ref().expect("records");
            let pr = pp.records.as_ref().expect("records");
            assert_eq!(wr.len(), RECORD_SET);
            assert_eq!(wr, pr);
            // Zero-copy at both levels: the record set is a slice of the response, and the
            // records decoded from it are slices of the record set.
            assert_inside(wire, "kafka-wire records", wr);
            assert_inside(wire, "kafka-protocol records", pr);
            let (batch, _) = RecordBatch::decode(wr).expect("valid first batch");
            assert_eq!(batch.base_offset, wp.high_watermark - 10_000);
            let value = batch.records[0].value.as_ref().expect("value");
            assert_inside(wire, "record value", value);
        }
    }
    let view: FetchResponseRef<'_> = assert_view_matches("fetch", wire, v, &w);
    for part in view.responses.iter().flat_map(|t| &t.partitions) {
        assert_inside(wire, "view records", part.records.expect("records"));
    }
    assert_round_trips("fetch", wire, &w, &p, v);
}

// ---------------------------------------------------------------------------------------------
// (d) OffsetCommitRequest v9: 100 topics x 100 partitions = 10,000 offsets

fn offset_commit() -> Bytes {
    use offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
    let topics = (0..100)
        .map(|t| OffsetCommitRequestTopic {
            name: s(format!("payments.ledger-events.v2.{t:04}")),
            partitions: (0..100)
                .map(|p| OffsetCommitRequestPartition {
                    partition_index: p,
                    committed_offset: 1_000_000 * i64::from(t) + 7 * i64::from(p),
                    committed_leader_epoch: 17,
                    committed_metadata: Some(s("")),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    let msg = OffsetCommitRequest {
        group_id: s("billing"),
        generation_id_or_member_epoch: 42,
        member_id: s("consumer-billing-1-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
        topics,
        ..Default::default()
    };
    kw_encode(&msg, OFFSET_COMMIT_VERSION)
}

fn check_offset_commit(wire: &Bytes) {
    let v = OFFSET_COMMIT_VERSION;
    let w: OffsetCommitRequest = kw_decode(wire, v);
    let p: kp::OffsetCommitRequest = kp_decode(wire, v);
    assert_eq!(&*w.group_id, p.group_id.as_str());
    assert_eq!(
        w.generation_id_or_member_epoch,
        p.generation_id_or_member_epoch
    );
    assert_eq!(w.topics.len(), 100);
    assert_eq!(p.topics.len(), 100);
    let count_w: usize = w.topics.iter().map(|t| t.partitions.len()).sum();
    let count_p: usize = p.topics.iter().map(|t| t.partitions.len()).sum();
    assert_eq!((count_w, count_p), (10_000, 10_000));
    for (wt, pt) in w.topics.iter().zip(&p.topics).step_by(11) {
        assert_eq!(&*wt.name, pt.name.as_str());
        for (wp, pp) in wt.partitions.iter().zip(&pt.partitions).step_by(7) {
            assert_eq!(wp.partition_index, pp.partition_index);
            assert_eq!(wp.committed_offset, pp.committed_offset);
            assert_eq!(wp.committed_leader_epoch, pp.committed_leader_epoch);
            assert_eq!(
                wp.committed_metadata.as_deref(),
                pp.committed_metadata.as_deref()
            );
        }
    }
    assert_inside(wire, "kafka-wire topic name", w.topics[99].name.as_bytes());
    assert_inside(
        wire,
        "kafka-protocol topic name",
        p.topics[99].name.as_bytes(),
    );
    let view: OffsetCommitRequestRef<'_> = assert_view_matches("offset_commit", wire, v, &w);
    assert_inside(wire, "view topic name", view.topics[99].name.as_bytes());
    assert_round_trips("offset_commit", wire, &w, &p, v);
}

// ---------------------------------------------------------------------------------------------
// (e) ConsumerProtocolSubscription v3: 10 topics, 100 owned partitions

fn subscription() -> Bytes {
    use consumer_protocol_subscription::TopicPartition;
    let names: Vec<ByteString> = (0..10)
        .map(|t| s(format!("payments.ledger-events.v2.{t:04}")))
        .collect();
    let msg = ConsumerProtocolSubscription {
        topics: names.clone(),
        user_data: None,
        owned_partitions: names
            .iter()
            .enumerate()
            .map(|(t, name)| TopicPartition {
                topic: name.clone(),
                partitions: (0..10).map(|p| p * 10 + t as i32).collect(),
                ..Default::default()
            })
            .collect(),
        generation_id: 42,
        rack_id: Some(s("eu-west-1a")),
        ..Default::default()
    };
    kw_encode(&msg, SUBSCRIPTION_VERSION)
}

fn check_subscription(wire: &Bytes) {
    let v = SUBSCRIPTION_VERSION;
    let w: ConsumerProtocolSubscription = kw_decode(wire, v);
    let p: kp::ConsumerProtocolSubscription = kp_decode(wire, v);
    assert_eq!(w.topics.len(), p.topics.len());
    assert_eq!(w.generation_id, p.generation_id);
    assert_eq!(w.rack_id.as_deref(), p.rack_id.as_deref());
    assert_eq!(w.owned_partitions.len(), p.owned_partitions.len());
    let owned_w: usize = w.owned_partitions.iter().map(|t| t.partitions.len()).sum();
    let owned_p: usize = p.owned_partitions.iter().map(|t| t.partitions.len()).sum();
    assert_eq!((owned_w, owned_p), (100, 100));
    for (wt, pt) in w.owned_partitions.iter().zip(&p.owned_partitions) {
        assert_eq!(&*wt.topic, pt.topic.as_str());
        assert_eq!(wt.partitions.to_vec(), pt.partitions);
    }
    assert_inside(
        wire,
        "kafka-wire owned partitions",
        w.owned_partitions[9].partitions.wire_bytes(),
    );
    assert_inside(wire, "kafka-wire topic", w.topics[9].as_bytes());
    assert_inside(wire, "kafka-protocol topic", p.topics[9].as_bytes());
    let view: ConsumerProtocolSubscriptionRef<'_> =
        assert_view_matches("subscription", wire, v, &w);
    assert_inside(wire, "view topic", view.topics[9].as_bytes());
    assert_inside(
        wire,
        "view owned partitions",
        view.owned_partitions[9].partitions.wire_bytes(),
    );
    assert_round_trips("subscription", wire, &w, &p, v);
}

// ---------------------------------------------------------------------------------------------
// Criterion

/// The encoded input of every case, built and checked once.
struct Wires {
    metadata: Bytes,
    join_group: Bytes,
    fetch: Bytes,
    offset_commit: Bytes,
    subscription: Bytes,
}

fn wires() -> &'static Wires {
    static WIRES: OnceLock<Wires> = OnceLock::new();
    WIRES.get_or_init(|| {
        let w = Wires {
            metadata: metadata(),
            join_group: join_group(),
            fetch: fetch(),
            offset_commit: offset_commit(),
            subscription: subscription(),
        };
        check_metadata(&w.metadata);
        check_join_group(&w.join_group);
        check_fetch(&w.fetch);
        check_offset_commit(&w.offset_commit);
        check_subscription(&w.subscription);
        for (name, bytes) in [
            ("a_metadata_v12", &w.metadata),
            ("b_join_group_v9", &w.join_group),
            ("c_fetch_v16", &w.fetch),
            ("d_offset_commit_v9", &w.offset_commit),
            ("e_subscription_v3", &w.subscription),
        ] {
            println!("{name}: {} bytes", bytes.len());
            // For profiling the codecs outside criterion.
            if let Some(dir) = std::env::var_os("KW_BENCH_DUMP") {
                let path = std::path::Path::new(&dir).join(format!("{name}.bin"));
                std::fs::write(&path, bytes).expect("write KW_BENCH_DUMP file");
            }
        }
        w
    })
}

fn vs_kafka_protocol(c: &mut Criterion) {
    let w = wires();
    bench_case::<MetadataResponse, kp::MetadataResponse>(
        c,
        "a_metadata_v12",
        &w.metadata,
        METADATA_VERSION,
        |b, v| kw_view_once::<MetadataResponseRef<'_>>(b, v),
    );
    bench_case::<JoinGroupResponse, kp::JoinGroupResponse>(
        c,
        "b_join_group_v9",
        &w.join_group,
        JOIN_GROUP_VERSION,
        |b, v| kw_view_once::<JoinGroupResponseRef<'_>>(b, v),
    );
    bench_case::<FetchResponse, kp::FetchResponse>(
        c,
        "c_fetch_v16",
        &w.fetch,
        FETCH_VERSION,
        |b, v| kw_view_once::<FetchResponseRef<'_>>(b, v),
    );
    bench_case::<OffsetCommitRequest, kp::OffsetCommitRequest>(
        c,
        "d_offset_commit_v9",
        &w.offset_commit,
        OFFSET_COMMIT_VERSION,
        |b, v| kw_view_once::<OffsetCommitRequestRef<'_>>(b, v),
    );
    bench_case::<ConsumerProtocolSubscription, kp::ConsumerProtocolSubscription>(
        c,
        "e_subscription_v3",
        &w.subscription,
        SUBSCRIPTION_VERSION,
        |b, v| kw_view_once::<ConsumerProtocolSubscriptionRef<'_>>(b, v),
    );
}

/// After the criterion run (`cargo bench`, not `cargo test`, not `--profile-time`): an
/// interleaved A/B comparison of every case, printed as a markdown table. `KW_BENCH_AB=0`
/// skips it.
fn ab_summary() {
    let args: Vec<String> = std::env::args().collect();
    let bench_mode = args.iter().any(|a| a == "--bench");
    let profiling = args.iter().any(|a| a == "--profile-time" || a == "--list");
    let off = std::env::var("KW_BENCH_AB").is_ok_and(|v| v == "0");
    if !bench_mode || profiling || off {
        return;
    }
    let budget = if quick() {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(3)
    };
    let w = wires();
    let rows = [
        ab_case::<MetadataResponse, kp::MetadataResponse>(
            "a_metadata_v12",
            &w.metadata,
            METADATA_VERSION,
            |b, v| kw_view_once::<MetadataResponseRef<'_>>(b, v),
            budget,
        ),
        ab_case::<JoinGroupResponse, kp::JoinGroupResponse>(
            "b_join_group_v9",
            &w.join_group,
            JOIN_GROUP_VERSION,
            |b, v| kw_view_once::<JoinGroupResponseRef<'_>>(b, v),
            budget,
        ),
        ab_case::<FetchResponse, kp::FetchResponse>(
            "c_fetch_v16",
            &w.fetch,
            FETCH_VERSION,
            |b, v| kw_view_once::<FetchResponseRef<'_>>(b, v),
            budget,
        ),
        ab_case::<OffsetCommitRequest, kp::OffsetCommitRequest>(
            "d_offset_commit_v9",
            &w.offset_commit,
            OFFSET_COMMIT_VERSION,
            |b, v| kw_view_once::<OffsetCommitRequestRef<'_>>(b, v),
            budget,
        ),
        ab_case::<ConsumerProtocolSubscription, kp::ConsumerProtocolSubscription>(
            "e_subscription_v3",
            &w.subscription,
            SUBSCRIPTION_VERSION,
            |b, v| kw_view_once::<ConsumerProtocolSubscriptionRef<'_>>(b, v),
            budget,
        ),
    ];
    println!();
    println!(
        "Interleaved A/B summary (median per iteration; speed-up = kafka-protocol / kafka-wire):"
    );
    println!();
    println!(
        "(`encode (kw vectored)`: kafka-wire's `encode_vectored`, which references byte fields of \
         4 KiB or more instead of copying them, against kafka-protocol's contiguous encode. \
         Not the same output form; the `encode` rows compare like with like.)"
    );
    println!();
    println!("| case | op | kafka-wire | kafka-protocol | speed-up | target | met |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | --- |");
    for r in rows {
        println!("{r}");
    }
}

fn config() -> Criterion {
    let c = Criterion::default();
    if quick() {
        c.warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_millis(500))
            .sample_size(10)
    } else {
        c.warm_up_time(Duration::from_secs(2))
            .measurement_time(Duration::from_secs(5))
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = vs_kafka_protocol
}
criterion_main!(benches, ab_summary);
