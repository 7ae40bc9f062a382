//! Replays the committed fuzz corpus on stable: every file in `fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/` goes through the same `kafka_wire::fuzzing` function as the
//! cargo-fuzz target of that name (see `fuzz/README.md`).
//!
//! `make_seeds` (ignored) regenerates the hand-made and capture-derived seeds:
//! `cargo test -p kafka-wire --all-features --test corpus -- --ignored make_seeds`.
#![cfg(feature = "fuzzing")]

use core::panic::AssertUnwindSafe;
use std::collections::BTreeMap;
use std::panic::catch_unwind;
use std::path::{Path, PathBuf};

use bytes::{BufMut, Bytes};
use kafka_wire::fuzzing;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    out.sort();
    out
}

/// Runs `f` on every corpus and regression file of `target`; reports every failing file.
fn replay(target: &str, f: fn(&[u8])) {
    let corpus = files(&fuzz_dir().join("corpus").join(target));
    assert!(
        !corpus.is_empty(),
        "fuzz/corpus/{target} is empty or missing"
    );
    let regressions = files(&fuzz_dir().join("regressions").join(target));
    let mut failed = Vec::new();
    for path in corpus.iter().chain(&regressions) {
        let data = std::fs::read(path).expect("readable corpus file");
        if catch_unwind(AssertUnwindSafe(|| f(&data))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} of {} inputs panicked:\n{}",
        failed.len(),
        corpus.len() + regressions.len(),
        failed.join("\n")
    );
    eprintln!(
        "{target}: {} corpus + {} regression inputs replayed",
        corpus.len(),
        regressions.len()
    );
}

#[test]
fn corpus_decode_request() {
    replay("decode_request", fuzzing::decode_request);
}

#[test]
fn corpus_decode_response() {
    replay("decode_response", fuzzing::decode_response);
}

#[test]
fn corpus_frame_split() {
    replay("frame_split", fuzzing::frame_split);
}

#[test]
fn corpus_record_batches() {
    replay("record_batches", fuzzing::record_batches);
}

/// The selector is the documented `[key, version]` pair for every supported version.
#[test]
fn selector_round_trips() {
    for &key in kafka_wire::ApiKey::ALL {
        for (versions, select) in [
            (
                kafka_wire::AnyRequest::versions(key),
                fuzzing::select_request as fn(u8, u8) -> (kafka_wire::ApiKey, i16),
            ),
            (
                kafka_wire::AnyResponse::versions(key),
                fuzzing::select_response,
            ),
        ] {
            for v in versions.min..=versions.max {
                let [b0, b1] = fuzzing::selector(key, v).expect("keys and versions fit a byte");
                assert_eq!(select(b0, b1), (key, v));
            }
        }
    }
    // Every byte pair selects something valid.
    for b0 in 0..=u8::MAX {
        for b1 in 0..=u8::MAX {
            let (key, v) = fuzzing::select_request(b0, b1);
            assert!(kafka_wire::AnyRequest::versions(key).contains(v));
            let (key, v) = fuzzing::select_response(b0, b1);
            assert!(kafka_wire::AnyResponse::versions(key).contains(v));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Seed generator

mod seeds {
    use std::collections::BTreeSet;

    use bytes::BytesMut;
    use kafka_wire::records::{
        BatchAttributes, Compression, ControlRecordKey, ControlRecordType, Header, Record,
        RecordBatch,
    };
    use kafka_wire::testing::Gen;
    use kafka_wire::{AnyRequest, AnyResponse, ApiKey, RequestHeader, ResponseHeader, frame};

    use super::*;

    const CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_XZ);
    const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

    /// Seeds of one target, deduplicated by content.
    #[derive(Default)]
    pub(super) struct Seeds(pub(super) BTreeMap<&'static str, BTreeSet<Vec<u8>>>);

    impl Seeds {
        fn add(&mut self, target: &'static str, data: Vec<u8>) {
            self.0.entry(target).or_default().insert(data);
        }

        /// Writes every seed as `fuzz/corpus/<target>/<crc64 of the content>`; existing files
        /// (for example inputs merged from fuzzing runs) are kept.
        pub(super) fn write(&self) {
            for (target, set) in &self.0 {
                let dir = fuzz_dir().join("corpus").join(target);
                std::fs::create_dir_all(&dir).expect("create corpus dir");
                let bytes: usize = set.iter().map(Vec::len).sum();
                for data in set {
                    let name = format!("{:016x}", CRC64.checksum(data));
                    std::fs::write(dir.join(name), data).expect("write seed");
                }
                eprintln!("{target}: {} seeds, {bytes} bytes", set.len());
            }
        }
    }

    fn capture_files(suffix: &str) -> Vec<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/captures");
        let mut out = Vec::new();
        for dir in files_and_dirs(&root) {
            if dir.is_dir() {
                out.extend(files(&dir).into_iter().filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().ends_with(suffix))
                }));
            }
        }
        out.sort();
        out
    }

    fn files_and_dirs(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("captures dir")
            .map(|e| e.expect("entry").path())
            .collect();
        v.sort();
        v
    }

    /// The frames (without size prefix) of a capture file.
    fn frames(data: &[u8]) -> Vec<Bytes> {
        let mut buf = BytesMut::from(data);
        let mut out = Vec::new();
        while let Some(f) = frame::split(&mut buf, frame::DEFAULT_MAX_FRAME).expect("valid capture")
        {
            out.push(f);
        }
        assert!(buf.is_empty(), "capture ends with a partial frame");
        out
    }

    fn with_selector(key: ApiKey, v: i16, body: &[u8]) -> Vec<u8> {
        let mut out = fuzzing::selector(key, v).expect("selector").to_vec();
        out.extend_from_slice(body);
        out
    }

    /// The records blobs of a decoded Produce request.
    fn records_of_request(req: &AnyRequest, out: &mut Vec<Bytes>) {
        if let AnyRequest::Produce(p) = req {
            for t in &p.topic_data {
                for part in &t.partition_data {
                    out.extend(part.records.clone());
                }
            }
        }
    }

    /// The records blobs of a decoded Fetch or ShareFetch response.
    fn records_of_response(resp: &AnyResponse, out: &mut Vec<Bytes>) {
        match resp {
            AnyResponse::Fetch(f) => {
                for t in &f.responses {
                    for part in &t.partitions {
                        out.extend(part.records.clone());
                    }
                }
            }
            AnyResponse::ShareFetch(f) => {
                for t in &f.responses {
                    for part in &t.partitions {
                        out.extend(part.records.clone());
                    }
                }
            }
            _ => {}
        }
    }

    /// Seeds from the recorded traffic in `tests/data/captures`.
    fn from_captures(s: &mut Seeds) {
        for c2s in capture_files(".c2s.bin") {
            let s2c = PathBuf::from(c2s.to_string_lossy().replace(".c2s.", ".s2c."));
            let c2s_data = std::fs::read(&c2s).expect("capture");
            let s2c_data = std::fs::read(&s2c).expect("capture");

            // frame_split: whole connections, default max, a few chunkings.
            for (max_sel, sizes) in [(0u8, &[13u8, 1, 200][..]), (0, &[]), (6, &[64, 0, 3])] {
                for stream in [&c2s_data, &s2c_data] {
                    let mut seed = vec![max_sel, sizes.len() as u8];
                    seed.extend_from_slice(sizes);
                    seed.extend_from_slice(stream);
                    s.add("frame_split", seed);
                }
            }

            let mut inflight = BTreeMap::new();
            let mut blobs = Vec::new();
            for f in frames(&c2s_data) {
                // The raw frame exercises decode_request's header path.
                s.add("decode_request", f.to_vec());
                let (h, used) = RequestHeader::decode_auto(&f).expect("capture header");
                let key = ApiKey::from_i16(h.api_key).expect("known key");
                let body = f.slice(used..);
                s.add("decode_request", with_selector(key, h.api_version, &body));
                inflight.insert(h.correlation_id, (key, h.api_version));
                if let Ok(req) = AnyRequest::decode(key, h.api_version, &body) {
                    records_of_request(&req, &mut blobs);
                }
            }
            for f in frames(&s2c_data) {
                let corr = i32::from_be_bytes(f[..4].try_into().expect("4 bytes"));
                let Some(&(key, v)) = inflight.get(&corr) else {
                    continue;
                };
                let hv = key.response_header_version(v);
                let (_, used) = ResponseHeader::decode(&f, hv).expect("capture header");
                let body = f.slice(used..);
                s.add("decode_response", with_selector(key, v, &body));
                s.add("decode_response", with_selector(key, v, &f));
                if let Ok(resp) = AnyResponse::decode_prefix(key, v, &body) {
                    records_of_response(&resp.0, &mut blobs);
                }
            }
            for blob in blobs {
                if !blob.is_empty() {
                    // A truncated copy too: brokers cut the last batch short.
                    let cut = blob.slice(..blob.len() - blob.len() / 3);
                    s.add("record_batches", blob.to_vec());
                    s.add("record_batches", cut.to_vec());
                }
            }
        }
    }

    /// One random valid body per message, version and direction (`kafka_wire::testing`).
    fn random_bodies(s: &mut Seeds) {
        for &key in ApiKey::ALL {
            let r = AnyRequest::versions(key);
            for v in r.min..=r.max {
                let mut g = Gen::new(u64::from(key.as_i16() as u16) << 16 | v as u64);
                let req = AnyRequest::random(key, v, &mut g);
                let mut body = Vec::new();
                if req.encode(v, &mut body).is_ok() {
                    s.add("decode_request", with_selector(key, v, &body));
                }
            }
            let r = AnyResponse::versions(key);
            for v in r.min..=r.max {
                let mut g = Gen::new(u64::from(key.as_i16() as u16) << 16 | v as u64 | 1 << 40);
                let resp = AnyResponse::random(key, v, &mut g);
                let mut body = Vec::new();
                if resp.encode(v, &mut body).is_ok() {
                    s.add("decode_response", with_selector(key, v, &body));
                }
            }
        }
    }

    fn put_uvarint(out: &mut Vec<u8>, mut v: u32) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    /// Hostile bodies and frames for the message targets.
    fn hostile_messages(s: &mut Seeds) {
        let hb = ApiKey::Heartbeat;
        // Heartbeat v4 (flexible): group "g", generation 1, member "m", null instance id, then
        // a tagged-field section given by `tags`.
        let heartbeat_v4 = |tags: &[u8]| {
            let mut b = vec![0x02, b'g', 0, 0, 0, 1, 0x02, b'm', 0x00];
            b.extend_from_slice(tags);
            with_selector(hb, 4, &b)
        };
        for tags in [
            &[0x00][..],                                 // no tags
            &[0x02, 0x05, 0x01, 0xAA, 0x03, 0x00],       // out of order
            &[0x02, 0x03, 0x00, 0x03, 0x00],             // duplicate
            &[0x01, 0x03, 0x7F],                         // tag longer than the input
            &[0xFF, 0xFF, 0xFF, 0xFF, 0x0F],             // huge tag count
            &[0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], // varint too long
            &[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00], // tag u32::MAX
        ] {
            s.add("decode_request", heartbeat_v4(tags));
            s.add("decode_response", {
                // HeartbeatResponse v4: throttle, error code, tags.
                let mut b = vec![0, 0, 0, 0, 0, 0];
                b.extend_from_slice(tags);
                with_selector(hb, 4, &b)
            });
        }
        let requests: &[(ApiKey, i16, &[u8])] = &[
            (hb, 0, &[0xFF, 0xFE]),                                  // string length -2
            (hb, 0, &[0x7F, 0xFF, b'g']),                            // string longer than the input
            (hb, 0, &[0x00, 0x02, 0xC3, 0x28]),                      // invalid UTF-8
            (hb, 0, &[0xFF, 0xFF, 0, 0, 0, 1, 0, 0]),                // null non-nullable string
            (ApiKey::Metadata, 4, &[0x7F, 0xFF, 0xFF, 0xFF]),        // array count i32::MAX
            (ApiKey::Metadata, 4, &[0x80, 0x00, 0x00, 0x00]),        // array count i32::MIN
            (ApiKey::Metadata, 12, &[0xFF, 0xFF, 0xFF, 0xFF, 0x0F]), // compact count u32::MAX
            (ApiKey::Metadata, 12, &[0x00, 0x00, 0x00, 0x00]),       // null topics + bools
            (ApiKey::Metadata, 12, &[0x01, 0x02, 0x00]),             // bool byte 2
            (
                ApiKey::ApiVersions,
                3,
                &[0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
            ),
            (ApiKey::Fetch, 4, &[0xFF; 64]),
            (
                ApiKey::Produce,
                3,
                &[
                    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
                    0x01, b't', 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x7F, 0xFF, 0xFF,
                    0xFF,
                ],
            ),
        ];
        for &(key, v, body) in requests {
            s.add("decode_request", with_selector(key, v, body));
            s.add("decode_response", with_selector(key, v, body));
        }
        // Trailing bytes after a valid response (decode_prefix accepts them).
        s.add("decode_response", with_selector(hb, 0, &[0, 0, 0xAB]));
        s.add(
            "decode_response",
            with_selector(ApiKey::Metadata, 13, &{
                let mut g = Gen::new(13);
                let mut b = Vec::new();
                AnyResponse::random(ApiKey::Metadata, 13, &mut g)
                    .encode(13, &mut b)
                    .expect("encode");
                b.push(0);
                b
            }),
        );
        // Request frames with odd headers.
        let mut bad_headers: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![0, 12, 0],
            vec![0, 12, 0, 4, 0, 0, 0, 1], // v1 header cut before client id
            vec![0, 12, 0, 4, 0, 0, 0, 1, 0xFF, 0xFE], // client id length -2
            vec![0, 12, 0, 4, 0, 0, 0, 1, 0xFF, 0xFF], // null client id, no body
            vec![0x7F, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0], // unknown api key
            vec![0, 7, 0, 0, 0, 0, 0, 1],  // ControlledShutdown v0: header v0
            vec![
                0, 18, 0, 3, 0, 0, 0, 1, 0, 1, b'c', 0x02, 0x05, 0x00, 0x03, 0x00,
            ], // v2, tags out of order
        ];
        let mut tagged = vec![0, 18, 0, 3, 0, 0, 0, 1, 0, 1, b'c'];
        tagged.push(0x01);
        put_uvarint(&mut tagged, 1000);
        put_uvarint(&mut tagged, 3);
        tagged.extend_from_slice(b"abc");
        tagged.extend_from_slice(&[0x00, 0x00, 0x00]); // ApiVersions v3 body: "", "", no tags
        bad_headers.push(tagged);
        for h in bad_headers {
            s.add("decode_request", h);
        }
    }

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        frame::write_frame(body, &mut out).expect("small frame");
        out
    }

    fn hostile_frames(s: &mut Seeds) {
        let mut three_empty = Vec::new();
        for _ in 0..3 {
            three_empty.extend(frame(&[]));
        }
        let mut mixed = frame(b"hello");
        mixed.extend(frame(&[7; 300]));
        mixed.extend(frame(&[8; 301]));
        mixed.extend(frame(b"never"));
        let streams: &[(u8, &[u8], Vec<u8>)] = &[
            (0, &[], vec![]),
            (0, &[], vec![0, 0, 0]),
            (0, &[], vec![0xFF, 0xFF, 0xFF, 0xFF]),  // size -1
            (0, &[1], vec![0x80, 0, 0, 0, 1, 2, 3]), // size i32::MIN
            (0, &[], vec![0x7F, 0xFF, 0xFF, 0xFF, 1, 2]), // above the default max
            (7, &[2, 0], vec![0x7F, 0xFF, 0xFF, 0xFF, 1, 2]), // allowed, never completes
            (1, &[], three_empty.clone()),           // max 0, empty frames
            (1, &[5], {
                let mut v = three_empty;
                v.extend(frame(b"x"));
                v
            }),
            (2, &[3, 0], frame(b"ab")),          // one above max 1
            (5, &[1, 0, 2, 250], mixed.clone()), // 300 ok, 301 too large
            (0, &[255, 255, 255], mixed),
            (3, &[4], {
                let mut v = frame(b"1234567");
                v.extend(frame(b"12345678"));
                v
            }),
        ];
        for (max_sel, sizes, stream) in streams {
            let mut seed = vec![*max_sel, sizes.len() as u8];
            seed.extend_from_slice(sizes);
            seed.extend_from_slice(stream);
            s.add("frame_split", seed);
        }
    }

    fn batch(compression: Compression, records: Vec<Record>) -> RecordBatch {
        RecordBatch {
            base_offset: 100,
            attributes: BatchAttributes::default().with_compression(compression),
            last_offset_delta: records.len().saturating_sub(1) as i32,
            base_timestamp: 1_700_000_000_000,
            max_timestamp: 1_700_000_000_500,
            records,
            ..RecordBatch::default()
        }
    }

    /// Records covering null and non-null keys and values, and empty (not null) key, value
    /// and header value.
    fn sample_records() -> Vec<Record> {
        let mut records: Vec<Record> = (0..3)
            .map(|i| Record {
                attributes: 0,
                timestamp_delta: i64::from(i) * 250,
                offset_delta: i,
                key: (i != 1).then(|| Bytes::from(format!("k{i}"))),
                value: (i != 2).then(|| Bytes::from(format!("value number {i}"))),
                headers: if i == 0 {
                    vec![
                        Header {
                            key: "h".into(),
                            value: Some(Bytes::from_static(b"v")),
                        },
                        Header {
                            key: "é".into(),
                            value: None,
                        },
                    ]
                } else {
                    Vec::new()
                },
            })
            .collect();
        records.push(Record {
            timestamp_delta: -1,
            offset_delta: 3,
            key: Some(Bytes::new()),
            value: Some(Bytes::new()),
            headers: vec![Header {
                key: "x".into(),
                value: Some(Bytes::new()),
            }],
            ..Record::default()
        });
        records
    }

    fn encode_batch(b: &RecordBatch) -> Vec<u8> {
        let mut out = Vec::new();
        b.encode(&mut out).expect("encode batch");
        out
    }

    /// A legacy message entry (offset, size, crc, magic, attributes, [timestamp], key, value).
    fn legacy(
        offset: i64,
        magic: i8,
        attributes: i8,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut m = Vec::new();
        m.put_i8(magic);
        m.put_i8(attributes);
        if magic == 1 {
            m.put_i64(1_600_000_000_000);
        }
        for f in [key, value] {
            match f {
                Some(b) => {
                    m.put_i32(b.len() as i32);
                    m.put_slice(b);
                }
                None => m.put_i32(-1),
            }
        }
        let mut out = Vec::new();
        out.put_i64(offset);
        out.put_i32(m.len() as i32 + 4);
        out.put_u32(CRC32.checksum(&m));
        out.extend(m);
        out
    }

    fn hostile_batches(s: &mut Seeds) {
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            if c.is_available() {
                s.add("record_batches", encode_batch(&batch(c, sample_records())));
                s.add("record_batches", encode_batch(&batch(c, Vec::new())));
            }
        }
        // An empty header key.
        let empty_header_key = Record {
            headers: vec![Header {
                key: "".into(),
                value: None,
            }],
            ..Record::default()
        };
        s.add(
            "record_batches",
            encode_batch(&batch(Compression::None, vec![empty_header_key])),
        );
        // Two batches back to back, the second cut short.
        let mut two = encode_batch(&batch(Compression::None, sample_records()));
        let second = encode_batch(&batch(Compression::None, sample_records()));
        two.extend_from_slice(&second[..second.len() - 5]);
        s.add("record_batches", two);
        // A transactional commit marker (control batch).
        let mut control = batch(
            Compression::None,
            vec![Record {
                key: Some(Bytes::copy_from_slice(
                    &ControlRecordKey {
                        version: 0,
                        record_type: ControlRecordType::Commit,
                    }
                    .to_bytes(),
                )),
                value: Some(Bytes::from_static(&[0, 0, 0, 0, 0, 5])),
                ..Record::default()
            }],
        );
        control.attributes = control
            .attributes
            .with_control(true)
            .with_transactional(true);
        control.producer_id = 42;
        control.producer_epoch = 1;
        s.add("record_batches", encode_batch(&control));
        // Record count far above what the bytes hold (CRC is valid).
        let mut huge = encode_batch(&batch(Compression::None, Vec::new()));
        huge[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&huge[21..]);
        huge[17..21].copy_from_slice(&crc.to_be_bytes());
        s.add("record_batches", huge);
        // Bad magic, short length, bad CRC.
        let good = encode_batch(&batch(Compression::None, sample_records()));
        let mut bad = good.clone();
        bad[16] = 3;
        s.add("record_batches", bad);
        let mut bad = good.clone();
        bad[8..12].copy_from_slice(&13i32.to_be_bytes());
        s.add("record_batches", bad);
        let mut bad = good;
        bad[20] ^= 1;
        s.add("record_batches", bad);
        // Legacy message sets (magic 0 and 1).
        let mut legacy_set = legacy(0, 0, 0, Some(b"k"), Some(b"v0"));
        legacy_set.extend(legacy(1, 1, 0, None, Some(b"v1")));
        legacy_set.extend(legacy(2, 1, 0x08, Some(b""), None));
        s.add("record_batches", legacy_set);
        #[cfg(feature = "gzip")]
        {
            use std::io::Write;
            let mut inner = legacy(0, 1, 0, Some(b"a"), Some(b"first"));
            inner.extend(legacy(1, 1, 0, Some(b"b"), Some(b"second")));
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&inner).expect("gzip");
            let value = gz.finish().expect("gzip");
            s.add("record_batches", legacy(10, 1, 1, None, Some(&value)));
            s.add("record_batches", legacy(10, 0, 1, None, Some(&value)));
        }
    }

    pub(super) fn all() -> Seeds {
        let mut s = Seeds::default();
        from_captures(&mut s);
        random_bodies(&mut s);
        hostile_messages(&mut s);
        hostile_frames(&mut s);
        hostile_batches(&mut s);
        s
    }
}

/// Regenerates the seed part of `fuzz/corpus/` (see the module docs).
#[test]
#[ignore = "writes fuzz/corpus; run by hand"]
fn make_seeds() {
    seeds::all().write();
}

/// The generated seeds also pass through the targets without writing anything.
#[test]
fn seeds_pass() {
    let s = seeds::all();
    for (target, set) in &s.0 {
        let f: fn(&[u8]) = match *target {
            "decode_request" => fuzzing::decode_request,
            "decode_response" => fuzzing::decode_response,
            "frame_split" => fuzzing::frame_split,
            "record_batches" => fuzzing::record_batches,
            other => panic!("unknown target {other}"),
        };
        for data in set {
            f(data);
        }
    }
}
