//! Integration tests of the `kgroup` binary: `kgroup decode` on the real captures in
//! `crates/kafka-wire/tests/data/captures` and on hand-made hostile input; `assign`,
//! `simulate` and `proxy` in their own modules.

mod assign;
mod proxy;
mod simulate;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;

use serde_json::Value;

/// Keys every decoded frame object carries.
const REQUIRED_KEYS: &[&str] = &[
    "direction",
    "frame",
    "offset",
    "api_key",
    "api_name",
    "api_version",
    "correlation_id",
    "header_version",
    "body",
];

fn captures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../kafka-wire/tests/data/captures")
}

/// Every `(c2s, s2c)` pair of every scenario, sorted.
fn connections() -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for scenario in std::fs::read_dir(captures_dir()).expect("captures directory exists") {
        let dir = scenario.expect("readable directory entry").path();
        if !dir.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&dir).expect("scenario directory is readable") {
            let path = entry.expect("readable directory entry").path();
            let name = path.to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".c2s.bin") {
                out.push((path.clone(), PathBuf::from(format!("{stem}.s2c.bin"))));
            }
        }
    }
    out.sort();
    assert!(
        out.len() >= 20,
        "expected the four capture scenarios, found {out:?}"
    );
    out
}

fn capture(scenario: &str, file: &str) -> Vec<u8> {
    std::fs::read(captures_dir().join(scenario).join(file)).expect("capture file exists")
}

/// Runs `kgroup` with `args`, feeding `stdin` if given.
fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kgroup"));
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("kgroup starts");
    let writer = stdin.map(|data| {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let data = data.to_vec();
        // A broken pipe is fine: kgroup may stop reading at the first error.
        thread::spawn(move || {
            let _ = pipe.write_all(&data);
        })
    });
    let out = child.wait_with_output().expect("kgroup runs");
    if let Some(w) = writer {
        w.join().expect("stdin writer does not panic");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "kgroup panicked: {stderr}");
    out
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("kgroup exits normally")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Parses every stdout line as JSON.
fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .expect("stdout is UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .collect()
}

/// Offsets of the frames in a well-formed stream.
fn frame_offsets(data: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 0;
    while at < data.len() {
        offsets.push(at);
        let size: [u8; 4] = data[at..at + 4].try_into().expect("4 bytes");
        at += 4 + usize::try_from(u32::from_be_bytes(size)).expect("fits");
    }
    assert_eq!(at, data.len(), "test data must be well formed");
    offsets
}

/// One frame: size prefix, then `body`.
fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(body.len())
        .expect("small")
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(body);
    out
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn temp_file(name: &str, data: &[u8]) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kgroup-{}-{name}", std::process::id()));
    std::fs::write(&path, data).expect("temp file is writable");
    path
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// Metadata v12 request (header v2, client id "a"): null topics, then the two booleans.
fn metadata_v12_request(corr: u8, allow_auto: u8) -> Vec<u8> {
    frame(&hex(&format!(
        "0003 000c 000000{corr:02x} 0001 61 00 | 00 {allow_auto:02x} 00 00"
    )
    .replace('|', "")))
}

#[test]
fn every_capture_decodes_and_round_trips() {
    let mut join_group_ids = Vec::new();
    let mut unsupported_api_versions = 0;
    let mut trailing_metadata = 0;
    for (c2s, s2c) in connections() {
        let out = run(
            &[
                "decode",
                "--requests",
                path_str(&c2s),
                "--responses",
                path_str(&s2c),
                "--check-roundtrip",
            ],
            None,
        );
        assert_eq!(code(&out), 0, "{}: {}", c2s.display(), stderr(&out));
        let req_offsets = frame_offsets(&std::fs::read(&c2s).expect("readable"));
        let resp_offsets = frame_offsets(&std::fs::read(&s2c).expect("readable"));
        let records = lines(&out);
        assert_eq!(records.len(), req_offsets.len() + resp_offsets.len());
        let (requests, responses) = records.split_at(req_offsets.len());
        for (direction, recs, offsets) in [
            ("request", requests, &req_offsets),
            ("response", responses, &resp_offsets),
        ] {
            for (i, (r, offset)) in recs.iter().zip(offsets.iter()).enumerate() {
                for key in REQUIRED_KEYS {
                    assert!(r.get(key).is_some(), "{key} missing in {r}");
                }
                assert_eq!(r["direction"], direction);
                assert_eq!(r["frame"], i);
                assert_eq!(r["offset"], *offset);
                assert_eq!(r.get("client_id").is_some(), direction == "request", "{r}");
                if r["api_name"] == "JoinGroup" && direction == "request" {
                    join_group_ids.push(r["body"]["GroupId"].clone());
                }
                if r.get("error_code").is_some() {
                    assert_eq!(r["api_name"], "ApiVersions", "{r}");
                    assert_eq!(r["error_code"], 35, "{r}");
                    assert!(r["body"].is_null() && r["error"]["message"].is_string());
                    unsupported_api_versions += 1;
                }
                if r.get("trailing_bytes").is_some() {
                    assert_eq!(
                        (&r["api_name"], &r["api_version"]),
                        (&"Metadata".into(), &13.into())
                    );
                    assert_eq!(r["trailing_bytes"], 1);
                    assert!(r["body"]["Brokers"].is_array());
                    trailing_metadata += 1;
                }
            }
        }
    }
    assert!(!join_group_ids.is_empty());
    assert!(
        join_group_ids
            .iter()
            .all(|g| g == "cap-group" || g.as_str().is_some_and(|g| g.starts_with("asg-"))),
        "{join_group_ids:?}"
    );
    // Each mock connection opens with the malformed ApiVersions v3 reply (5 per mock scenario).
    assert_eq!(unsupported_api_versions, 10 + MOCK_ASSIGNOR_CONNECTIONS);
    assert!(trailing_metadata > 0);
}

/// Coordinator connections kept in the two mock assignor scenarios
/// (`mock-2.16-*-cooperative-sticky`), each opening with the malformed ApiVersions reply.
const MOCK_ASSIGNOR_CONNECTIONS: usize = 6;

#[test]
fn stdin_gives_the_same_output_as_a_file() {
    let dir = captures_dir().join("tansu-librdkafka-consumer");
    let (c2s, s2c) = (dir.join("conn-6.c2s.bin"), dir.join("conn-6.s2c.bin"));
    let (c2s_bytes, s2c_bytes) = (std::fs::read(&c2s).unwrap(), std::fs::read(&s2c).unwrap());
    let from_files = run(
        &[
            "decode",
            "--requests",
            path_str(&c2s),
            "--responses",
            path_str(&s2c),
        ],
        None,
    );
    assert_eq!(code(&from_files), 0, "{}", stderr(&from_files));
    let requests_stdin = run(
        &["decode", "--requests", "-", "--responses", path_str(&s2c)],
        Some(&c2s_bytes),
    );
    let responses_stdin = run(
        &[
            "decode",
            "--requests",
            path_str(&c2s),
            "--responses",
            "-",
            "--check-roundtrip",
        ],
        Some(&s2c_bytes),
    );
    assert_eq!(code(&requests_stdin), 0, "{}", stderr(&requests_stdin));
    assert_eq!(code(&responses_stdin), 0, "{}", stderr(&responses_stdin));
    assert_eq!(requests_stdin.stdout, from_files.stdout);
    assert_eq!(responses_stdin.stdout, from_files.stdout);

    let both = run(
        &["decode", "--requests", "-", "--responses", "-"],
        Some(&c2s_bytes),
    );
    assert_eq!(code(&both), 2);
}

#[test]
fn request_fields_are_reported() {
    let out = run(
        &["decode", "--requests", "-"],
        Some(&metadata_v12_request(7, 1)),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let records = lines(&out);
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r["api_key"], 3);
    assert_eq!(r["api_name"], "Metadata");
    assert_eq!(r["api_version"], 12);
    assert_eq!(r["correlation_id"], 7);
    assert_eq!(r["client_id"], "a");
    assert_eq!(r["header_version"], 2);
    assert_eq!(r["body"]["AllowAutoTopicCreation"], true);
    assert!(r["body"]["Topics"].is_null());
}

#[test]
fn truncated_file_is_exit_2_with_offset() {
    let data = capture("tansu-librdkafka-consumer", "conn-6.c2s.bin");
    let offsets = frame_offsets(&data);
    let cut = offsets[8] + 30;
    let path = temp_file("truncated.c2s.bin", &data[..cut]);
    let out = run(&["decode", "--requests", path_str(&path)], None);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("offset"), "{err}");
    assert!(err.contains(path_str(&path)), "{err}");
    assert!(
        err.contains(&format!("frame 8 at offset {}", offsets[8])),
        "{err}"
    );
    assert!(err.contains(&format!("byte offset {cut}")), "{err}");
    // The frames before the damage are printed.
    assert_eq!(lines(&out).len(), 8);
}

#[test]
fn every_truncation_of_a_connection_is_exit_2() {
    let data = capture("tansu-kafka-python", "conn-1.c2s.bin");
    let offsets = frame_offsets(&data);
    for cut in 1..data.len() {
        let out = run(&["decode", "--requests", "-"], Some(&data[..cut]));
        if offsets.contains(&cut) {
            assert_eq!(code(&out), 0, "cut at a frame boundary {cut}");
        } else {
            assert_eq!(code(&out), 2, "cut at {cut}");
            let err = stderr(&out);
            assert!(
                err.contains(&format!("byte offset {cut}")),
                "cut at {cut}: {err}"
            );
        }
    }
}

#[test]
fn lying_or_oversized_size_prefix_is_exit_2() {
    // Says 1000 bytes, holds 12.
    let mut lying = hex("000003e8");
    lying.extend_from_slice(&metadata_v12_request(1, 1)[4..]);
    let out = run(&["decode", "--requests", "-"], Some(&lying));
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("truncated frame"), "{}", stderr(&out));

    let negative = hex("ffffffff 00");
    let out = run(&["decode", "--requests", "-"], Some(&negative));
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("negative size prefix -1"),
        "{}",
        stderr(&out)
    );

    let data = metadata_v12_request(1, 1);
    let out = run(
        &["decode", "--requests", "-", "--max-frame-bytes", "10"],
        Some(&data),
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("--max-frame-bytes"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn garbage_is_exit_2() {
    let text = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec();
    let out = run(&["decode", "--requests", "-"], Some(&text));
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("offset 0"), "{}", stderr(&out));

    // Pseudo-random bytes behind plausible size prefixes, as requests and as responses.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let request = metadata_v12_request(1, 1);
    for round in 0..40 {
        let len = 1 + round % 23;
        let body: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_be_bytes()[0]
            })
            .collect();
        let garbage = frame(&body);
        let out = run(
            &["decode", "--requests", "-", "--check-roundtrip"],
            Some(&garbage),
        );
        assert!(matches!(code(&out), 0..=2), "{body:02x?}: {}", stderr(&out));
        let mut response = hex("00000001");
        response.extend_from_slice(&body);
        let responses = temp_file("garbage.s2c.bin", &frame(&response));
        let out = run(
            &[
                "decode",
                "--requests",
                "-",
                "--responses",
                path_str(&responses),
            ],
            Some(&request),
        );
        assert!(matches!(code(&out), 0 | 2), "{body:02x?}: {}", stderr(&out));
    }
}

#[test]
fn unknown_api_key_and_bad_utf8_are_exit_2() {
    let unknown = frame(&hex("7fff 0000 00000001 0000"));
    let out = run(&["decode", "--requests", "-"], Some(&unknown));
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("unknown api key 32767") && err.contains("RequestApiKey"),
        "{err}"
    );

    let bad_utf8 = frame(&hex("0003 000c 00000001 0001 ff 00 00 01 00 00"));
    let out = run(&["decode", "--requests", "-"], Some(&bad_utf8));
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("UTF-8") && err.contains("ClientId"), "{err}");
}

#[test]
fn changed_value_still_round_trips() {
    let mut data = capture("tansu-librdkafka-consumer", "conn-6.c2s.bin");
    // First Heartbeat v3 request: header v1, then GroupId (int16 length + bytes), GenerationId.
    let at = frame_offsets(&data)
        .into_iter()
        .find(|&o| data[o + 4..o + 8] == [0, 12, 0, 3])
        .expect("a Heartbeat v3 request");
    let client_id_len = usize::from(u16::from_be_bytes([data[at + 12], data[at + 13]]));
    let body = at + 14 + client_id_len;
    let group_len = usize::from(u16::from_be_bytes([data[body], data[body + 1]]));
    let generation = body + 2 + group_len;
    data[generation..generation + 4].copy_from_slice(&0x0102_0304_i32.to_be_bytes());

    let out = run(
        &["decode", "--requests", "-", "--check-roundtrip"],
        Some(&data),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let heartbeat = lines(&out)
        .into_iter()
        .find(|r| r["api_name"] == "Heartbeat")
        .expect("a Heartbeat line");
    assert_eq!(heartbeat["body"]["GenerationId"], 0x0102_0304);
}

#[test]
fn request_with_trailing_bytes_decodes_its_prefix() {
    // librdkafka's AdminClient sends Metadata v12 requests with 3 bytes after the body; a Kafka
    // broker reads the fields and ignores the rest, and so does `decode` (reporting them).
    let frame_bytes = frame(&hex("0003 000c 00000009 0001 61 00 00 01 00 00 aa bb cc"));
    let out = run(
        &["decode", "--requests", "-", "--check-roundtrip"],
        Some(&frame_bytes),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let records = lines(&out);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["trailing_bytes"], 3);
    assert_eq!(records[0]["body"]["AllowAutoTopicCreation"], true);
    // A clean request has no such key.
    let clean = run(
        &["decode", "--requests", "-"],
        Some(&metadata_v12_request(7, 1)),
    );
    assert!(lines(&clean)[0].get("trailing_bytes").is_none());
}

#[test]
fn invalid_bool_byte_names_the_frame() {
    let mut data = metadata_v12_request(1, 1);
    let ok = run(
        &["decode", "--requests", "-", "--check-roundtrip"],
        Some(&data),
    );
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));

    let second = data.len();
    data.extend_from_slice(&metadata_v12_request(2, 2));
    let out = run(
        &["decode", "--requests", "-", "--check-roundtrip"],
        Some(&data),
    );
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("frame 1 at offset {second}")),
        "{err}"
    );
    assert!(err.contains("AllowAutoTopicCreation"), "{err}");
    assert!(err.contains("invalid boolean byte 2"), "{err}");
    // Absolute offset of the bool: frame + prefix + 12-byte header + 1-byte null topics.
    assert!(
        err.contains(&format!("byte offset {}", second + 4 + 12 + 1)),
        "{err}"
    );
}

#[test]
fn non_canonical_varint_fails_the_round_trip() {
    // ApiVersions v3 request: header v2 with client id "a", then two compact strings.
    let canonical = frame(&hex("0012 0003 00000001 0001 61 00 | 02 78 | 02 79 | 00"
        .replace('|', "")
        .as_str()));
    let ok = run(
        &["decode", "--requests", "-", "--check-roundtrip"],
        Some(&canonical),
    );
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));

    // The same with the first string length 1+1 written as the two-byte varint 0x82 0x00.
    let padded = frame(&hex(
        "0012 0003 00000002 0001 61 00 | 82 00 78 | 02 79 | 00"
            .replace('|', "")
            .as_str(),
    ));
    let mut data = canonical.clone();
    data.extend_from_slice(&padded);
    let out = run(
        &["decode", "--requests", "-", "--check-roundtrip"],
        Some(&data),
    );
    let err = stderr(&out);
    assert!(matches!(code(&out), 1 | 2), "{err}");
    assert!(
        err.contains(&format!("frame 1 at offset {}", canonical.len())),
        "{err}"
    );
    assert!(err.contains("ApiVersions v3"), "{err}");
    if code(&out) == 1 {
        // First differing byte: frame body byte 12, the first varint byte.
        assert!(err.contains("round trip differs at byte 12"), "{err}");
        assert!(
            err.contains(&format!(
                "absolute byte offset {}",
                canonical.len() + 4 + 12
            )),
            "{err}"
        );
    }
    // Without the check, the frame decodes.
    let lenient = run(&["decode", "--requests", "-"], Some(&data));
    assert!(matches!(code(&lenient), 0 | 2));
}

#[test]
fn api_versions_error_falls_back_to_v0() {
    let request = frame(&hex("0012 0003 00000005 0001 61 00 02 78 02 79 00"));
    // A real KIP-511 reply: v0 body with error 35 and the one supported range (key 18, 0..2).
    let response = frame(&hex("00000005 0023 00000001 0012 0000 0002"));
    let responses = temp_file("kip511.s2c.bin", &response);
    let out = run(
        &[
            "decode",
            "--requests",
            "-",
            "--responses",
            path_str(&responses),
            "--check-roundtrip",
        ],
        Some(&request),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = &lines(&out)[1];
    assert_eq!(r["api_version"], 3);
    assert_eq!(r["decoded_version"], 0);
    assert_eq!(r["body"]["ErrorCode"], 35);
    assert_eq!(r["body"]["ApiKeys"][0]["MaxVersion"], 2);
}

#[test]
fn unmatched_response_is_exit_2() {
    let request = metadata_v12_request(1, 1);
    let response = frame(&hex("00000063 00 00000000"));
    let responses = temp_file("unmatched.s2c.bin", &response);
    let out = run(
        &[
            "decode",
            "--requests",
            "-",
            "--responses",
            path_str(&responses),
        ],
        Some(&request),
    );
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("correlation id 99") && err.contains("matches no"),
        "{err}"
    );
    assert!(err.contains("byte offset 4"), "{err}");
}

#[test]
fn random_byte_flips_never_panic() {
    let c2s = capture("mock-2.16-librdkafka", "conn-3.c2s.bin");
    let s2c = capture("mock-2.16-librdkafka", "conn-3.s2c.bin");
    let requests = temp_file("flips.c2s.bin", &c2s);
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..60 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let bytes = state.to_be_bytes();
        let mut damaged = s2c.clone();
        let at = usize::from(u16::from_be_bytes([bytes[0], bytes[1]])) % damaged.len();
        damaged[at] ^= bytes[2] | 1;
        let out = run(
            &[
                "decode",
                "--requests",
                path_str(&requests),
                "--responses",
                "-",
                "--check-roundtrip",
            ],
            Some(&damaged),
        );
        assert!(
            matches!(code(&out), 0..=2),
            "flip at {at}: {}",
            stderr(&out)
        );
        if code(&out) != 0 {
            assert!(stderr(&out).contains("offset"), "{}", stderr(&out));
        }
    }
}

#[test]
fn help_shows_examples_and_quirks() {
    let top = run(&["--help"], None);
    assert_eq!(code(&top), 0);
    let text = String::from_utf8_lossy(&top.stdout);
    assert!(
        text.contains("decode") && text.contains("Examples"),
        "{text}"
    );

    let decode = run(&["decode", "--help"], None);
    assert_eq!(code(&decode), 0);
    let text = String::from_utf8_lossy(&decode.stdout);
    for needle in [
        "Examples",
        "--check-roundtrip",
        "trailing_bytes",
        "KIP-511",
        "--max-frame-bytes",
    ] {
        assert!(text.contains(needle), "{needle} missing: {text}");
    }

    let usage = run(&["decode"], None);
    assert_eq!(code(&usage), 2);
}
