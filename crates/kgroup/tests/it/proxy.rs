//! `kgroup proxy` as a process, against two in-process fake brokers on 127.0.0.1: address
//! rewriting in Metadata and FindCoordinator, a second listener that reaches the second
//! broker, the JSON lines, the `--out` files (read back by `kgroup decode`), hostile client
//! bytes, and (with `KGROUP_PEERS=1`) a librdkafka client through the proxy to Tansu.

use core::net::SocketAddr;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use bytes::BytesMut;
use kafka_wire::codec::{ClientCodec, CorrelationId, decode_request, encode_response};
use kafka_wire::frame::FrameDecoder;
use kafka_wire::generated::api_versions_response::ApiVersion;
use kafka_wire::generated::find_coordinator_response::Coordinator;
use kafka_wire::generated::metadata_response::MetadataResponseBroker;
use kafka_wire::generated::{
    ApiVersionsRequest, ApiVersionsResponse, FindCoordinatorRequest, FindCoordinatorResponse,
    MetadataRequest, MetadataResponse,
};
use kafka_wire::{AnyRequest, AnyResponse, Message};
use serde_json::Value;

/// Longest any single wait in these tests may take.
const WAIT: Duration = Duration::from_secs(20);

/// A fake broker: answers ApiVersions, Metadata (listing the whole fake cluster) and
/// FindCoordinator (always naming the cluster's last broker); records every connection's bytes.
struct Fake {
    addr: SocketAddr,
    /// `(api key, correlation id)` of every request decoded, in arrival order.
    requests: Arc<Mutex<Vec<(i16, i32)>>>,
    /// The raw bytes of every accepted connection, by accept order.
    conns: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Fake {
    fn requests(&self) -> Vec<(i16, i32)> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits (bounded) until connection `i` has received exactly `expected`.
    fn wait_for_bytes(&self, i: usize, expected: &[u8]) {
        let start = Instant::now();
        loop {
            let got = self.conns.lock().unwrap().get(i).cloned();
            if got.as_deref() == Some(expected) {
                return;
            }
            assert!(
                start.elapsed() < WAIT,
                "fake broker connection {i} got {got:02x?}, expected {expected:02x?}"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Two fake brokers (node ids 1 and 2) that know each other.
fn fake_cluster() -> (Fake, Fake) {
    let l1 = TcpListener::bind("127.0.0.1:0").expect("bind");
    let l2 = TcpListener::bind("127.0.0.1:0").expect("bind");
    let cluster = vec![
        (1, l1.local_addr().unwrap().port()),
        (2, l2.local_addr().unwrap().port()),
    ];
    (start_fake(l1, cluster.clone()), start_fake(l2, cluster))
}

fn start_fake(listener: TcpListener, cluster: Vec<(i32, u16)>) -> Fake {
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let conns = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (r, c, s) = (requests.clone(), conns.clone(), stop.clone());
    let thread = thread::spawn(move || {
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut workers = Vec::new();
        while !s.load(Ordering::SeqCst) && Instant::now() < deadline {
            match listener.accept() {
                Ok((stream, _)) => {
                    let index = {
                        let mut conns = c.lock().unwrap();
                        conns.push(Vec::new());
                        conns.len() - 1
                    };
                    let (r, c, s, cluster) = (r.clone(), c.clone(), s.clone(), cluster.clone());
                    workers.push(thread::spawn(move || {
                        fake_connection(stream, index, &cluster, &r, &c, &s, deadline);
                    }));
                }
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
        for w in workers {
            let _ = w.join();
        }
    });
    Fake {
        addr,
        requests,
        conns,
        stop,
        thread: Some(thread),
    }
}

fn fake_connection(
    mut stream: TcpStream,
    index: usize,
    cluster: &[(i32, u16)],
    requests: &Mutex<Vec<(i16, i32)>>,
    conns: &Mutex<Vec<Vec<u8>>>,
    stop: &AtomicBool,
    deadline: Instant,
) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut decoder = FrameDecoder::default();
    let mut parsing = true;
    let mut buf = [0_u8; 4096];
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        let n = match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => return,
        };
        conns.lock().unwrap()[index].extend_from_slice(&buf[..n]);
        if !parsing || decoder.push(&buf[..n]).is_err() {
            parsing = false;
            continue;
        }
        while let Ok(Some(frame)) = decoder.next_frame() {
            // Frames that do not decode are ignored, as a lenient broker would.
            let Ok((header, req)) = decode_request(&frame) else {
                continue;
            };
            requests
                .lock()
                .unwrap()
                .push((header.api_key, header.correlation_id));
            if let Some(resp) = answer(&req, header.api_version, cluster) {
                let mut out = BytesMut::new();
                encode_response(
                    CorrelationId(header.correlation_id),
                    header.api_version,
                    &resp,
                    &mut out,
                )
                .expect("fake response encodes");
                if stream.write_all(&out).is_err() {
                    return;
                }
            }
        }
    }
}

fn answer(req: &AnyRequest, version: i16, cluster: &[(i32, u16)]) -> Option<AnyResponse> {
    let host = || "127.0.0.1".into();
    let &(coordinator, coordinator_port) = cluster.last().expect("a cluster");
    let coordinator_port = i32::from(coordinator_port);
    Some(match req {
        AnyRequest::ApiVersions(_) => {
            let range = |key, max| ApiVersion {
                api_key: key,
                min_version: 0,
                max_version: max,
                ..ApiVersion::default()
            };
            AnyResponse::ApiVersions(ApiVersionsResponse {
                api_keys: vec![range(18, 3), range(3, 12), range(10, 4)],
                ..ApiVersionsResponse::default()
            })
        }
        AnyRequest::Metadata(_) => AnyResponse::Metadata(MetadataResponse {
            brokers: cluster
                .iter()
                .map(|&(node_id, port)| MetadataResponseBroker {
                    node_id,
                    host: host(),
                    port: i32::from(port),
                    ..MetadataResponseBroker::default()
                })
                .collect(),
            cluster_id: Some("fake-cluster".into()),
            controller_id: 1,
            ..MetadataResponse::default()
        }),
        AnyRequest::FindCoordinator(_) if version < 4 => {
            AnyResponse::FindCoordinator(FindCoordinatorResponse {
                node_id: coordinator,
                host: host(),
                port: coordinator_port,
                ..FindCoordinatorResponse::default()
            })
        }
        AnyRequest::FindCoordinator(f) => AnyResponse::FindCoordinator(FindCoordinatorResponse {
            coordinators: f
                .coordinator_keys
                .iter()
                .map(|key| Coordinator {
                    key: key.clone(),
                    node_id: coordinator,
                    host: host(),
                    port: coordinator_port,
                    ..Coordinator::default()
                })
                .collect(),
            ..FindCoordinatorResponse::default()
        }),
        _ => return None,
    })
}

/// A running `kgroup proxy` whose stdout lines arrive on a channel.
struct Proxy {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<Value>,
    port: u16,
    /// When `--seconds` runs out.
    deadline: Instant,
}

impl Proxy {
    fn start(upstream: SocketAddr, seconds: u32, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kgroup"))
            .args([
                "proxy",
                "--listen",
                "127.0.0.1:0",
                "--upstream",
                &upstream.to_string(),
                "--seconds",
                &seconds.to_string(),
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kgroup starts");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut proxy = Self {
            child,
            lines,
            seen: Vec::new(),
            port: 0,
            deadline: Instant::now() + Duration::from_secs(seconds.into()),
        };
        let first = proxy.next_line().expect("a first line");
        assert_eq!(first["event"], "listening", "{first}");
        assert_eq!(first["upstream"], upstream.to_string());
        let listen = first["listen"].as_str().expect("listen address");
        proxy.port = listen
            .strip_prefix("127.0.0.1:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("bad listen address {listen}"));
        proxy
    }

    /// The next stdout line, parsed (`None` once the proxy has exited).
    fn next_line(&mut self) -> Option<Value> {
        let line = self.lines.recv_timeout(WAIT).ok()?;
        let v: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad JSON line {line}: {e}"));
        self.seen.push(v.clone());
        Some(v)
    }

    /// Reads lines until one satisfies `pred` (bounded by [`WAIT`] per line).
    fn wait_line(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let v = self
                .next_line()
                .unwrap_or_else(|| panic!("proxy output ended; lines so far: {:#?}", self.seen));
            if pred(&v) {
                return v;
            }
        }
    }

    /// Waits for the proxy to exit on its own (`--seconds`); returns every line it printed.
    fn finish(mut self) -> Vec<Value> {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > self.deadline + WAIT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("proxy did not stop after --seconds");
            }
            thread::sleep(Duration::from_millis(20));
        };
        while self.next_line().is_some() {}
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        assert!(!stderr.contains("panicked"), "proxy panicked: {stderr}");
        assert_eq!(status.code(), Some(0), "stderr: {stderr}");
        assert_eq!(
            self.seen.last().map(|v| v["event"].clone()),
            Some("stopped".into()),
            "{:#?}",
            self.seen
        );
        self.seen
    }
}

/// A raw Kafka client connection that remembers every byte it received.
struct Client {
    stream: TcpStream,
    codec: ClientCodec,
    received: Vec<u8>,
}

impl Client {
    fn connect(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the proxy");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        Self {
            stream,
            codec: ClientCodec::new(Some("proxy-test".into())),
            received: Vec::new(),
        }
    }

    /// Sends `req` at `version` and returns the decoded response.
    fn call<R: kafka_wire::Request>(&mut self, req: &R, version: i16) -> AnyResponse {
        let mut out = BytesMut::new();
        self.codec
            .encode_request(req, version, &mut out)
            .expect("request encodes");
        self.stream.write_all(&out).expect("send");
        let mut prefix = [0_u8; 4];
        self.stream.read_exact(&mut prefix).expect("response size");
        let mut body = vec![0_u8; usize::try_from(u32::from_be_bytes(prefix)).unwrap()];
        self.stream.read_exact(&mut body).expect("response body");
        self.received.extend_from_slice(&prefix);
        self.received.extend_from_slice(&body);
        let (_, _, _, resp) = self
            .codec
            .decode_response(body.into())
            .expect("response decodes");
        resp
    }

    fn metadata(&mut self) -> MetadataResponse {
        let req = MetadataRequest {
            topics: None,
            allow_auto_topic_creation: true,
            ..MetadataRequest::default()
        };
        match self.call(&req, 12) {
            AnyResponse::Metadata(m) => m,
            other => panic!("not Metadata: {other:?}"),
        }
    }

    fn find_coordinator(&mut self, version: i16) -> FindCoordinatorResponse {
        let req = if version < 4 {
            FindCoordinatorRequest {
                key: "group-a".into(),
                ..FindCoordinatorRequest::default()
            }
        } else {
            FindCoordinatorRequest {
                coordinator_keys: vec!["group-a".into(), "group-b".into()],
                ..FindCoordinatorRequest::default()
            }
        };
        match self.call(&req, version) {
            AnyResponse::FindCoordinator(f) => f,
            other => panic!("not FindCoordinator: {other:?}"),
        }
    }

    fn api_versions(&mut self) -> ApiVersionsResponse {
        let req = ApiVersionsRequest {
            client_software_name: "kgroup-test".into(),
            client_software_version: "1".into(),
            ..ApiVersionsRequest::default()
        };
        match self.call(&req, 3) {
            AnyResponse::ApiVersions(a) => a,
            other => panic!("not ApiVersions: {other:?}"),
        }
    }

    /// Half-closes, then waits (bounded) for the proxy to close its side.
    fn close(mut self) -> Vec<u8> {
        self.stream.shutdown(Shutdown::Write).expect("shutdown");
        let mut rest = Vec::new();
        let _ = self.stream.read_to_end(&mut rest);
        assert!(rest.is_empty(), "unexpected bytes after the last response");
        self.received
    }
}

fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kgroup-proxy-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn ports(m: &MetadataResponse) -> Vec<(i32, String, i32)> {
    m.brokers
        .iter()
        .map(|b| (b.node_id, b.host.to_string(), b.port))
        .collect()
}

fn lines_of<'a>(lines: &'a [Value], conn: u64, direction: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["conn"] == conn && l["direction"] == direction)
        .collect()
}

#[test]
fn proxy_rewrites_addresses_logs_and_records() {
    let (b1, b2) = fake_cluster();
    let dir = out_dir("rewrite");
    let mut proxy = Proxy::start(b1.addr, 6, &["--out", dir.to_str().unwrap()]);
    let listen = proxy.port;
    let fake_ports: HashSet<i32> = [b1.addr.port(), b2.addr.port()]
        .into_iter()
        .map(i32::from)
        .collect();

    // Connection 1, to the bootstrap listener.
    let mut c = Client::connect(listen);
    let versions = c.api_versions();
    assert_eq!(versions.api_keys.len(), 3);
    let m = c.metadata();
    let brokers = ports(&m);
    assert_eq!(brokers.len(), 2);
    assert!(
        brokers
            .iter()
            .all(|(_, h, p)| h == "127.0.0.1" && !fake_ports.contains(p)),
        "a broker address leaked: {brokers:?}"
    );
    assert_eq!(brokers[0].2, i32::from(listen), "node 1 is --upstream");
    let second = brokers[1].2;
    assert_ne!(second, i32::from(listen));
    let old = c.find_coordinator(3);
    assert_eq!(
        (old.node_id, &*old.host, old.port),
        (2, "127.0.0.1", second)
    );
    let new = c.find_coordinator(4);
    assert_eq!(new.coordinators.len(), 2);
    for co in &new.coordinators {
        assert_eq!((&*co.host, co.port), ("127.0.0.1", second), "{co:?}");
    }
    // The second address stays the same on a later response.
    assert_eq!(ports(&c.metadata()), brokers);
    let received_1 = c.close();

    // Connection 2, to the second broker's proxy listener: reaches the second fake broker.
    let before = b1.requests().len();
    let mut c2 = Client::connect(u16::try_from(second).unwrap());
    assert_eq!(
        ports(&c2.metadata()),
        brokers,
        "same mapping seen from broker 2"
    );
    let received_2 = c2.close();
    assert_eq!(
        b2.requests(),
        vec![(MetadataRequest::API_KEY, 0)],
        "broker 2 got the request"
    );
    assert_eq!(b1.requests().len(), before, "broker 1 did not");

    proxy.wait_line(|l| l["conn"] == 2 && l["event"] == "close");
    let lines = proxy.finish();

    // Events.
    let listener = lines
        .iter()
        .find(|l| l["event"] == "listener")
        .expect("a listener line");
    assert_eq!(listener["broker"], b2.addr.to_string());
    assert_eq!(listener["listen"], format!("127.0.0.1:{second}"));
    assert_eq!(
        lines.iter().filter(|l| l["event"] == "listener").count(),
        1,
        "one extra listener, allocated once"
    );
    let open2 = lines
        .iter()
        .find(|l| l["conn"] == 2 && l["event"] == "open")
        .expect("conn 2 opened");
    assert_eq!(open2["broker"], b2.addr.to_string());

    // One line per request and per response, with the decode keys.
    let names = [
        "ApiVersions",
        "Metadata",
        "FindCoordinator",
        "FindCoordinator",
        "Metadata",
    ];
    for direction in ["request", "response"] {
        let got = lines_of(&lines, 1, direction);
        let got_names: Vec<&str> = got
            .iter()
            .map(|l| l["api_name"].as_str().unwrap())
            .collect();
        assert_eq!(got_names, names, "{direction}");
        for (i, l) in got.iter().enumerate() {
            assert_eq!(l["frame"], i);
            assert_eq!(l["correlation_id"], i, "{l}");
            assert_eq!(l["broker"], b1.addr.to_string());
            assert!(l["body"].is_object(), "{l}");
            assert!(l.get("error").is_none(), "{l}");
        }
    }
    let responses = lines_of(&lines, 1, "response");
    assert_eq!(
        responses[0]["header_version"], 0,
        "ApiVersions uses header v0"
    );
    assert!(responses[0].get("rewrites").is_none());
    let meta = responses[1];
    assert_eq!(
        meta["body"]["Brokers"][1]["Port"], second,
        "body as the client got it"
    );
    assert_eq!(meta["rewrites"][0]["from"], b1.addr.to_string());
    assert_eq!(meta["rewrites"][1]["to"], format!("127.0.0.1:{second}"));
    assert_eq!(responses[3]["rewrites"].as_array().map(Vec::len), Some(2));
    let requests = lines_of(&lines, 1, "request");
    assert_eq!(requests[0]["client_id"], "proxy-test");
    assert_eq!(requests[3]["body"]["CoordinatorKeys"][1], "group-b");
    assert_eq!(lines_of(&lines, 2, "response").len(), 1);

    // The --out files: what the client received, and `kgroup decode` reads them.
    for (n, received) in [(1, &received_1), (2, &received_2)] {
        let c2s = dir.join(format!("conn-{n}.c2s.bin"));
        let s2c = dir.join(format!("conn-{n}.s2c.bin"));
        assert_eq!(&std::fs::read(&s2c).expect("s2c file"), received);
        let out = super::run(
            &[
                "decode",
                "--requests",
                c2s.to_str().unwrap(),
                "--responses",
                s2c.to_str().unwrap(),
                "--check-roundtrip",
            ],
            None,
        );
        assert_eq!(super::code(&out), 0, "{}", super::stderr(&out));
        let decoded = super::lines(&out);
        let expected = if n == 1 { 10 } else { 2 };
        assert_eq!(decoded.len(), expected);
        let meta = decoded
            .iter()
            .find(|l| l["direction"] == "response" && l["api_name"] == "Metadata")
            .expect("a Metadata response");
        assert_eq!(meta["body"]["Brokers"][0]["Port"], listen);
        assert_eq!(meta["body"]["Brokers"][1]["Port"], second);
    }
    // The request file is what the broker received.
    b1.wait_for_bytes(0, &std::fs::read(dir.join("conn-1.c2s.bin")).unwrap());
}

#[test]
fn hostile_client_bytes_are_forwarded_and_reported() {
    let (b1, _b2) = fake_cluster();
    let mut proxy = Proxy::start(b1.addr, 4, &[]);

    // Not Kafka at all: the size prefix "GET " is far above the maximum frame size.
    let garbage = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec();
    // A size prefix that says 1000 bytes, followed by 12.
    let mut lying = vec![0, 0, 3, 232];
    lying.extend_from_slice(&[0, 3, 0, 12, 0, 0, 0, 1, 0, 1, b'a', 0]);
    // A negative size prefix.
    let negative = vec![0xff, 0xff, 0xff, 0xff, 1, 2, 3];
    for (i, bytes) in [&garbage, &lying, &negative].into_iter().enumerate() {
        let mut s = TcpStream::connect(("127.0.0.1", proxy.port)).expect("connect");
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.write_all(bytes).expect("send");
        b1.wait_for_bytes(i, bytes);
        s.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        assert!(rest.is_empty());
        let n = u64::try_from(i).unwrap() + 1;
        let error = proxy.wait_line(|l| l["conn"] == n && l.get("error").is_some());
        assert_eq!(error["direction"], "request", "{error}");
        assert_eq!(error["forwarded"], "unchanged");
        assert_eq!(error["error"]["field"], "length");
        let message = error["error"]["message"].as_str().unwrap();
        let expected = match i {
            0 => "exceeds the maximum frame size",
            1 => "size prefix says 1000 bytes but only 12 arrived",
            _ => "negative size prefix -1",
        };
        assert!(message.contains(expected), "{message}");
    }

    // An unknown API key, then a good request on the same connection: the first is reported
    // and forwarded, the second still decodes and is answered.
    let mut c = Client::connect(proxy.port);
    let unknown = [0, 0, 0, 10, 0x7f, 0x7f, 0, 0, 0, 0, 0, 9, 0xff, 0xff];
    c.stream.write_all(&unknown).unwrap();
    assert_eq!(c.api_versions().api_keys.len(), 3);
    drop(c.close());
    let bad = proxy.wait_line(|l| l["conn"] == 4 && l.get("error").is_some());
    assert_eq!(bad["frame"], 0);
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown api key 32639"),
        "{bad}"
    );
    let good = proxy.wait_line(|l| l["conn"] == 4 && l["direction"] == "response");
    assert_eq!(good["api_name"], "ApiVersions");
    assert_eq!(good["frame"], 0);
    let lines = proxy.finish();
    assert!(lines.iter().any(|l| l["conn"] == 4
        && l["direction"] == "request"
        && l["frame"] == 1
        && l["api_name"] == "ApiVersions"));
    // Every client got a connection of its own to the broker.
    assert_eq!(b1.conns.lock().unwrap().len(), 4);
}

#[test]
fn bad_flags_exit_2() {
    for args in [
        &["proxy"][..],
        &["proxy", "--listen", "127.0.0.1:0"],
        &["proxy", "--listen", "nope", "--upstream", "127.0.0.1:1"],
        &[
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:0",
        ],
        &[
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:99999",
        ],
        &[
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:1",
            "--seconds",
            "x",
        ],
    ] {
        let out = super::run(args, None);
        assert_eq!(super::code(&out), 2, "{args:?}: {}", super::stderr(&out));
        assert!(!super::stderr(&out).is_empty(), "{args:?}");
    }
    let help = super::run(&["--help"], None);
    assert!(String::from_utf8_lossy(&help.stdout).contains("proxy"));
}

/// With `KGROUP_PEERS=1`: a confluent-kafka (librdkafka 2.16) producer and group consumer
/// through the proxy to a Tansu broker; every connection goes through the proxy and nothing
/// fails to decode.
#[test]
fn librdkafka_through_the_proxy_to_tansu() {
    if std::env::var("KGROUP_PEERS").as_deref() != Ok("1") {
        println!(
            "skipped: set KGROUP_PEERS=1 to run a librdkafka client through the proxy to Tansu"
        );
        return;
    }
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/peers");
    let port = 19_387_u16;
    let tansu = move |cmd: &str| {
        Command::new("bash")
            .arg(scripts.join("tansu.sh"))
            .args([cmd, &port.to_string()])
            .status()
            .is_ok_and(|s| s.success())
    };
    /// Stops our Tansu instance (by its PID file) however the test ends.
    struct Stop<F: Fn(&str) -> bool>(F);
    impl<F: Fn(&str) -> bool> Drop for Stop<F> {
        fn drop(&mut self) {
            (self.0)("stop");
        }
    }
    assert!(tansu("start"), "tansu.sh start failed");
    let _stop = Stop(tansu);
    let upstream: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let proxy = Proxy::start(upstream, 20, &[]);
    let script = r"
import sys, uuid
from confluent_kafka import Producer, Consumer
from confluent_kafka.admin import AdminClient, NewTopic
b = sys.argv[1]
t = 'proxy-' + uuid.uuid4().hex[:8]
a = AdminClient({'bootstrap.servers': b})
a.create_topics([NewTopic(t, 1, 1)])[t].result(10)
p = Producer({'bootstrap.servers': b})
p.produce(t, b'hello'); assert p.flush(10) == 0
c = Consumer({'bootstrap.servers': b, 'group.id': 'g-' + t, 'auto.offset.reset': 'earliest',
              'session.timeout.ms': 6000})
c.subscribe([t])
for _ in range(60):
    m = c.poll(0.5)
    if m is not None and m.error() is None:
        assert m.value() == b'hello'; print('OK'); break
else:
    sys.exit('no message')
c.close()
";
    let started = Instant::now();
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new("timeout")
        .args(["-k", "5", "90", &python, "-c", script])
        .arg(format!("127.0.0.1:{}", proxy.port))
        .output()
        .expect("python runs");
    let ok = out.status.success() && String::from_utf8_lossy(&out.stdout).contains("OK");
    println!("client took {:?}", started.elapsed());
    let lines = proxy.finish();
    assert!(
        ok,
        "client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Frames that did not decode (socket events such as a reset on close are not counted).
    let errors: Vec<&Value> = lines
        .iter()
        .filter(|l| l.get("error").is_some() && l.get("direction").is_some())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let apis: HashSet<&str> = lines
        .iter()
        .filter_map(|l| l["api_name"].as_str())
        .collect();
    for api in [
        "Metadata",
        "FindCoordinator",
        "JoinGroup",
        "SyncGroup",
        "Produce",
        "Fetch",
    ] {
        assert!(apis.contains(api), "{api} not seen: {apis:?}");
    }
    // Tansu advertises itself as 127.0.0.1:PORT: every broker address was rewritten.
    for l in &lines {
        if let Some(brokers) = l["body"]["Brokers"].as_array() {
            for b in brokers {
                assert_ne!(b["Port"], port, "{l}");
            }
        }
    }
}
