//! Connections to the cluster, sans-IO: which sockets to open, what bytes to write, and what
//! the bytes that come back mean.
//!
//! [`Net`] keeps one ordinary connection per broker, plus, per broker, a separate **held lane**
//! for requests the broker may hold for a long time (classic JoinGroup and SyncGroup): a broker
//! serves one request per connection at a time, so a parked JoinGroup would block every
//! heartbeat behind it. Every connection first negotiates versions with `ApiVersions` (v3,
//! falling back as KIP-511 says, including the malformed error replies of librdkafka's mock
//! broker), then carries requests, each tagged by the caller with a [`Tag`]. Responses come back
//! as [`NetEvent::Response`], in send order per connection; transport failures as
//! [`NetEvent::Failed`].
//!
//! Brokers are named by node id. The bootstrap addresses get the ids -1, -2, … (as in the Java
//! client) until [`Net::set_broker`] teaches the real ones (from Metadata and FindCoordinator).
//!
//! # Run loop
//!
//! The adapter executes every [`Io`] from [`Net::poll_io`] (connect, write, close), reports what
//! the sockets did with [`Net::handle`] ([`IoEvent`]: connected, bytes received in any chunking,
//! closed or failed to connect), and calls [`Net::handle_timeout`] when [`Net::poll_timeout`]
//! passes. Requests that time out fail with [`NetError::TimedOut`] and their connection is
//! closed (later responses on it could no longer be matched). A broker whose connection failed
//! is not reconnected before an exponential backoff (`reconnect_backoff` doubling up to
//! `reconnect_backoff_max`): a request for it meanwhile waits on a connection that dials when
//! the backoff ends. Requests in flight or queued on a connection that fails are reported as
//! failed; their owners (group-fsm, the fetcher) retry with their own backoff.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::{Bytes, BytesMut};
use group_fsm::Instant;
use kafka_wire::VersionRange;
use kafka_wire::codec::{
    ApiVersionsOutcome, ClientCodec, NegotiatedVersions, NegotiationOptions, negotiate,
};
use kafka_wire::generated::api_versions_request::ApiVersionsRequest;
use kafka_wire::generated::api_versions_response::ApiVersionsResponse;
use kafka_wire::{AnyRequest, AnyResponse, ApiKey, ByteString, EncodeError, FrameDecoder};

/// A connection, named by [`Net`]; the adapter maps it to its socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u32);

/// The caller's name for a request; its response or failure carries it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag(pub u64);

/// Something the adapter must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Io {
    /// Open a TCP connection; answer with [`IoEvent::Connected`] or [`IoEvent::Closed`].
    Connect {
        /// The connection.
        conn: ConnId,
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// Write these bytes, in order after earlier writes on the connection.
    Write {
        /// The connection.
        conn: ConnId,
        /// The bytes (whole request frames).
        bytes: Bytes,
    },
    /// Close the connection and forget it (no [`IoEvent::Closed`] is expected).
    Close {
        /// The connection.
        conn: ConnId,
    },
}

/// What a socket did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoEvent {
    /// The connection is open.
    Connected(ConnId),
    /// Bytes arrived, in any chunking.
    Received(ConnId, Bytes),
    /// The connection closed, failed, or could not be opened.
    Closed(ConnId),
}

/// Which broker a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Any broker (Metadata, FindCoordinator): an open connection if there is one.
    Any,
    /// The broker with this node id.
    Node(i32),
}

/// Which connection to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lane {
    /// The ordinary connection: everything that is answered promptly.
    Ordinary,
    /// The fetch connection: Fetch requests, which the broker holds up to their `max_wait`
    /// (used by [`GroupSet`](crate::GroupSet) so that long polls never delay a heartbeat).
    Fetch,
    /// The held lane: requests the broker may hold (classic JoinGroup, SyncGroup).
    Held,
    /// Extra held lane number `n` (1, 2, …): [`GroupSet`](crate::GroupSet) opens these so
    /// that one group's parked JoinGroup does not delay another group's.
    HeldExtra(u16),
}

impl Lane {
    /// Whether this is a held lane ([`Lane::Held`] or [`Lane::HeldExtra`]).
    #[must_use]
    pub const fn is_held(self) -> bool {
        matches!(self, Self::Held | Self::HeldExtra(_))
    }
}

/// The version to encode a request at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Exactly this one (the request was built for it); fails if the broker lacks it.
    Exact(i16),
    /// The highest both sides support, chosen on the connection when it is sent.
    Highest,
}

/// A request for [`Net::send`].
#[derive(Debug, Clone)]
pub struct NetRequest {
    /// The caller's name for it.
    pub tag: Tag,
    /// Which broker.
    pub route: Route,
    /// Which of its connections.
    pub lane: Lane,
    /// The body.
    pub request: AnyRequest,
    /// The version to encode it at.
    pub version: Version,
    /// Fail with [`NetError::TimedOut`] (and close the connection) without a response by then,
    /// counted from when it is written.
    pub timeout: Duration,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// The connection closed (or never opened) before the response.
    #[error("disconnected")]
    Disconnected,
    /// No response within the request's timeout; its connection was closed.
    #[error("request timed out")]
    TimedOut,
    /// The broker does not support the request (no common version, or not the one asked for).
    #[error("the broker does not support {api} at the version needed")]
    Unsupported {
        /// The API.
        api: &'static str,
    },
    /// The request could not be encoded at the chosen version.
    #[error("encode: {0}")]
    Encode(EncodeError),
    /// No address is known for the node.
    #[error("no address known for broker {0}")]
    UnknownBroker(i32),
}

/// What [`Net`] reports.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "events are moved once; boxing would cost an allocation per response"
)]
pub enum NetEvent {
    /// A response.
    Response {
        /// The request's tag.
        tag: Tag,
        /// The broker that answered.
        node: i32,
        /// The version it was sent at.
        version: i16,
        /// The decoded body.
        response: AnyResponse,
    },
    /// A request failed.
    Failed {
        /// The request's tag.
        tag: Tag,
        /// Why.
        error: NetError,
    },
    /// A connection to `node` finished version negotiation ([`Net::versions`] has them).
    Negotiated {
        /// The broker.
        node: i32,
    },
    /// A connection failed to negotiate or sent bytes that are not Kafka responses; it was
    /// closed (diagnostics: the failed requests are reported one by one).
    ConnectionError {
        /// The broker.
        node: i32,
        /// What went wrong.
        reason: &'static str,
    },
}

/// Configuration of [`Net`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    /// Bootstrap brokers (`bootstrap.servers`).
    pub bootstrap: Vec<(String, u16)>,
    /// `client.id`, sent in every request header.
    pub client_id: String,
    /// Time to open a connection (`socket.connection.setup.timeout.ms`, 10 s).
    pub connect_timeout: Duration,
    /// Time for ApiVersions to answer (`request.timeout.ms`, 30 s).
    pub negotiation_timeout: Duration,
    /// First reconnect backoff (`reconnect.backoff.ms`, 50 ms).
    pub reconnect_backoff: Duration,
    /// Reconnect backoff ceiling (`reconnect.backoff.max.ms`, 1 s).
    pub reconnect_backoff_max: Duration,
    /// Largest response frame accepted (bigger ones close the connection before allocating).
    pub max_response_bytes: usize,
    /// Highest version to use per API, below what the broker advertises: for brokers that
    /// advertise versions they do not parse (librdkafka 2.16's mock broker and JoinGroup v6,
    /// SyncGroup v4+, LeaveGroup v3+).
    pub version_caps: Vec<(ApiKey, i16)>,
}

impl NetConfig {
    /// Defaults (the Java client's) for these bootstrap brokers.
    #[must_use]
    pub fn new(bootstrap: Vec<(String, u16)>) -> Self {
        Self {
            bootstrap,
            client_id: String::from("kafka-client"),
            connect_timeout: Duration::from_secs(10),
            negotiation_timeout: Duration::from_secs(30),
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_secs(1),
            max_response_bytes: kafka_wire::frame::DEFAULT_MAX_FRAME,
            version_caps: Vec::new(),
        }
    }
}

/// The `ApiVersions` version sent first.
const API_VERSIONS_FIRST: i16 = 3;
/// `ClientSoftwareName` / `ClientSoftwareVersion` (KIP-511).
const SOFTWARE_NAME: &str = "kafka-client-rs";
const SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug)]
enum Phase {
    /// Waiting out the reconnect backoff.
    Backoff { until: Instant },
    /// Connect issued.
    Connecting { deadline: Instant },
    /// ApiVersions in flight at `version`.
    Negotiating { deadline: Instant, version: i16 },
    /// Carrying requests.
    Ready,
}

#[derive(Debug)]
struct Pending {
    tag: Tag,
    request: AnyRequest,
    version: Version,
    timeout: Duration,
}

#[derive(Debug)]
struct InFlight {
    /// `None` for our own ApiVersions.
    tag: Option<Tag>,
    deadline: Instant,
}

#[derive(Debug)]
struct Conn {
    node: i32,
    lane: Lane,
    phase: Phase,
    codec: ClientCodec,
    frames: FrameDecoder,
    versions: Option<NegotiatedVersions>,
    queue: VecDeque<Pending>,
    in_flight: BTreeMap<i32, InFlight>,
}

/// The connection manager. See the [module docs](self).
#[derive(Debug)]
pub struct Net {
    config: NetConfig,
    brokers: BTreeMap<i32, (String, u16)>,
    conns: BTreeMap<ConnId, Conn>,
    by_node: BTreeMap<(i32, Lane), ConnId>,
    next_conn: u32,
    /// Consecutive failures per node, and when it may be dialled again.
    failures: BTreeMap<i32, (u32, Instant)>,
    /// Versions of the last negotiated connection per node.
    versions: BTreeMap<i32, NegotiatedVersions>,
    /// Round-robin cursor for [`Route::Any`].
    any_cursor: usize,
    io: VecDeque<Io>,
    events: VecDeque<NetEvent>,
}

impl Net {
    /// A manager with no connection yet.
    #[must_use]
    pub fn new(config: NetConfig) -> Self {
        let brokers = config
            .bootstrap
            .iter()
            .enumerate()
            .map(|(i, (h, p))| (bootstrap_id(i), (h.clone(), *p)))
            .collect();
        Self {
            config,
            brokers,
            conns: BTreeMap::new(),
            by_node: BTreeMap::new(),
            next_conn: 0,
            failures: BTreeMap::new(),
            versions: BTreeMap::new(),
            any_cursor: 0,
            io: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &NetConfig {
        &self.config
    }

    /// Records broker `node`'s address (from Metadata or FindCoordinator). A changed address
    /// closes that broker's connections (their requests fail with [`NetError::Disconnected`]).
    pub fn set_broker(&mut self, now: Instant, node: i32, host: &str, port: u16) {
        if node < 0 {
            return;
        }
        let changed = self
            .brokers
            .get(&node)
            .is_some_and(|(h, p)| h != host || *p != port);
        self.brokers.insert(node, (String::from(host), port));
        if changed {
            let conns: Vec<ConnId> = self
                .by_node
                .range((node, Lane::Ordinary)..)
                .take_while(|((n, _), _)| *n == node)
                .map(|(_, &c)| c)
                .collect();
            for conn in conns {
                self.fail_conn(now, conn, NetError::Disconnected, true);
            }
        }
    }

    /// The known brokers (bootstrap entries have negative ids).
    pub fn brokers(&self) -> impl Iterator<Item = (i32, &str, u16)> + '_ {
        self.brokers.iter().map(|(&n, (h, p))| (n, h.as_str(), *p))
    }

    /// The versions negotiated with `node`, once a connection to it has negotiated.
    #[must_use]
    pub fn versions(&self, node: i32) -> Option<&NegotiatedVersions> {
        self.versions.get(&node)
    }

    /// The versions of any negotiated broker (the lowest node id first).
    #[must_use]
    pub fn any_versions(&self) -> Option<&NegotiatedVersions> {
        self.versions.values().next()
    }

    /// Open connections (any phase).
    #[must_use]
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Requests waiting on or sent over `node`'s connection on `lane` and not answered yet
    /// (`None`: no such connection).
    #[must_use]
    pub fn lane_load(&self, node: i32, lane: Lane) -> Option<usize> {
        let c = self.conns.get(self.by_node.get(&(node, lane))?)?;
        Some(c.queue.len() + c.in_flight.values().filter(|f| f.tag.is_some()).count())
    }

    /// Closes `node`'s connection on `lane` if it carries nothing (nothing queued, nothing in
    /// flight); returns whether it did. The node's reconnect backoff is not touched.
    pub fn close_idle_lane(&mut self, node: i32, lane: Lane) -> bool {
        if self.lane_load(node, lane) != Some(0) {
            return false;
        }
        let Some(conn) = self.by_node.remove(&(node, lane)) else {
            return false;
        };
        self.conns.remove(&conn);
        self.io.push_back(Io::Close { conn });
        true
    }

    /// Requests sent and not yet answered, over every connection.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.conns
            .values()
            .map(|c| c.in_flight.values().filter(|f| f.tag.is_some()).count())
            .sum()
    }

    /// Queues a request. It goes out as soon as its connection has negotiated versions.
    pub fn send(&mut self, now: Instant, request: NetRequest) {
        let NetRequest {
            tag,
            route,
            lane,
            request,
            version,
            timeout,
        } = request;
        let node = match route {
            Route::Node(n) => n,
            Route::Any => match self.pick_any() {
                Some(n) => n,
                None => {
                    self.events.push_back(NetEvent::Failed {
                        tag,
                        error: NetError::UnknownBroker(-1),
                    });
                    return;
                }
            },
        };
        let conn = match self.by_node.get(&(node, lane)) {
            Some(&c) => c,
            None => match self.open(now, node, lane) {
                Some(c) => c,
                None => {
                    self.events.push_back(NetEvent::Failed {
                        tag,
                        error: NetError::UnknownBroker(node),
                    });
                    return;
                }
            },
        };
        let pending = Pending {
            tag,
            request,
            version,
            timeout,
        };
        let ready = self
            .conns
            .get(&conn)
            .is_some_and(|c| matches!(c.phase, Phase::Ready));
        if ready {
            self.write_request(now, conn, pending);
        } else if let Some(c) = self.conns.get_mut(&conn) {
            c.queue.push_back(pending);
        }
    }

    /// Opens the ordinary connection to `node` if there is none (so that its versions become
    /// known before anything is sent to it). Unknown nodes are ignored.
    pub fn connect(&mut self, now: Instant, node: i32) {
        if !self.by_node.contains_key(&(node, Lane::Ordinary)) {
            let _ = self.open(now, node, Lane::Ordinary);
        }
    }

    /// Closes every connection (their requests fail with [`NetError::Disconnected`]).
    pub fn close_all(&mut self, now: Instant) {
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in ids {
            self.fail_conn(now, conn, NetError::Disconnected, false);
        }
    }

    /// Takes what a socket did.
    pub fn handle(&mut self, now: Instant, event: IoEvent) {
        match event {
            IoEvent::Connected(conn) => self.connected(now, conn),
            IoEvent::Received(conn, bytes) => self.received(now, conn, &bytes),
            IoEvent::Closed(conn) => {
                if self.conns.contains_key(&conn) {
                    self.fail_conn(now, conn, NetError::Disconnected, false);
                }
            }
        }
    }

    /// Acts on every deadline at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            let Some(c) = self.conns.get(&id) else {
                continue;
            };
            match c.phase {
                Phase::Backoff { until } if until <= now => self.dial(now, id),
                Phase::Connecting { deadline } | Phase::Negotiating { deadline, .. }
                    if deadline <= now =>
                {
                    self.fail_conn(now, id, NetError::TimedOut, false);
                }
                _ => {
                    if c.in_flight.values().any(|f| f.deadline <= now) {
                        self.fail_conn(now, id, NetError::TimedOut, false);
                    }
                }
            }
        }
    }

    /// The next thing the adapter must do.
    pub fn poll_io(&mut self) -> Option<Io> {
        let io = self.io.pop_front();
        if io.is_none() {
            shrink_drained(&mut self.io);
        }
        io
    }

    /// The next thing to report.
    pub fn poll_event(&mut self) -> Option<NetEvent> {
        let e = self.events.pop_front();
        if e.is_none() {
            shrink_drained(&mut self.events);
        }
        e
    }

    /// The earliest deadline, if any.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.conns
            .values()
            .filter_map(|c| {
                let phase = match c.phase {
                    Phase::Backoff { until } => Some(until),
                    Phase::Connecting { deadline } | Phase::Negotiating { deadline, .. } => {
                        Some(deadline)
                    }
                    Phase::Ready => None,
                };
                let flight = c.in_flight.values().map(|f| f.deadline).min();
                match (phase, flight) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            })
            .min()
    }

    /// A broker for [`Route::Any`]: one with a ready ordinary connection, else one being
    /// connected, else a known broker (real ids first, then bootstrap), round-robin.
    fn pick_any(&mut self) -> Option<i32> {
        let ordinary = |(&(n, lane), id): (&(i32, Lane), &ConnId)| {
            (lane == Lane::Ordinary).then_some((n, *id))
        };
        let ready = self.by_node.iter().filter_map(ordinary).find(|(_, id)| {
            self.conns
                .get(id)
                .is_some_and(|c| matches!(c.phase, Phase::Ready))
        });
        if let Some((n, _)) = ready {
            return Some(n);
        }
        if let Some((n, _)) = self.by_node.iter().filter_map(ordinary).next() {
            return Some(n);
        }
        let known: Vec<i32> = self
            .brokers
            .keys()
            .copied()
            .filter(|&n| n >= 0)
            .chain(self.brokers.keys().copied().filter(|&n| n < 0).rev())
            .collect();
        if known.is_empty() {
            return None;
        }
        let n = known[self.any_cursor % known.len()];
        self.any_cursor = self.any_cursor.wrapping_add(1);
        Some(n)
    }

    /// A new connection to `node` on `lane`: dialled now, or after the node's backoff.
    fn open(&mut self, now: Instant, node: i32, lane: Lane) -> Option<ConnId> {
        if !self.brokers.contains_key(&node) {
            return None;
        }
        let id = ConnId(self.next_conn);
        self.next_conn = self.next_conn.wrapping_add(1);
        let client_id = ByteString::from(self.config.client_id.as_str());
        let until = self.failures.get(&node).map(|&(_, t)| t);
        self.conns.insert(
            id,
            Conn {
                node,
                lane,
                phase: Phase::Backoff {
                    until: until.unwrap_or(now),
                },
                codec: ClientCodec::new(Some(client_id)),
                frames: FrameDecoder::new(self.config.max_response_bytes),
                versions: None,
                queue: VecDeque::new(),
                in_flight: BTreeMap::new(),
            },
        );
        self.by_node.insert((node, lane), id);
        if until.is_none_or(|t| t <= now) {
            self.dial(now, id);
        }
        Some(id)
    }

    fn dial(&mut self, now: Instant, id: ConnId) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let Some((host, port)) = self.brokers.get(&c.node) else {
            self.fail_conn(now, id, NetError::Disconnected, false);
            return;
        };
        c.phase = Phase::Connecting {
            deadline: now + self.config.connect_timeout,
        };
        self.io.push_back(Io::Connect {
            conn: id,
            host: host.clone(),
            port: *port,
        });
    }

    fn connected(&mut self, now: Instant, id: ConnId) {
        let Some(c) = self.conns.get(&id) else {
            return;
        };
        if matches!(c.phase, Phase::Connecting { .. }) {
            self.send_api_versions(now, id, API_VERSIONS_FIRST);
        }
    }

    fn send_api_versions(&mut self, now: Instant, id: ConnId, version: i16) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let req = ApiVersionsRequest {
            client_software_name: SOFTWARE_NAME.into(),
            client_software_version: SOFTWARE_VERSION.into(),
            ..Default::default()
        };
        let mut out = BytesMut::new();
        match c.codec.encode_request(&req, version, &mut out) {
            Ok(corr) => {
                let deadline = now + self.config.negotiation_timeout;
                c.in_flight.insert(
                    corr.0,
                    InFlight {
                        tag: None,
                        deadline,
                    },
                );
                c.phase = Phase::Negotiating { deadline, version };
                self.io.push_back(Io::Write {
                    conn: id,
                    bytes: out.freeze(),
                });
            }
            Err(_) => {
                let node = c.node;
                self.events.push_back(NetEvent::ConnectionError {
                    node,
                    reason: "could not encode ApiVersions",
                });
                self.fail_conn(now, id, NetError::Disconnected, false);
            }
        }
    }

    fn received(&mut self, now: Instant, id: ConnId, bytes: &[u8]) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if c.frames.push(bytes).is_err() {
            self.broken(now, id, "response frame over the size limit");
            return;
        }
        loop {
            let Some(c) = self.conns.get_mut(&id) else {
                return;
            };
            let frame = match c.frames.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => return,
                Err(_) => {
                    self.broken(now, id, "bad response frame");
                    return;
                }
            };
            let Some(corr) = frame
                .get(..4)
                .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            else {
                self.broken(now, id, "response frame shorter than a header");
                return;
            };
            let Some(flight) = c.in_flight.remove(&corr) else {
                self.broken(now, id, "response to no request in flight");
                return;
            };
            let sent_as = c.codec.in_flight(kafka_wire::codec::CorrelationId(corr));
            let decoded = c
                .codec
                .decode_response(frame.clone())
                .map(|(_, _, v, r)| (v, r));
            let decoded = match (decoded, sent_as) {
                (Ok(ok), _) => Ok(ok),
                (Err(e), Some((api, version))) => lenient_error_response(api, version, &frame)
                    .map(|r| (version, r))
                    .ok_or(e),
                (Err(e), None) => Err(e),
            };
            match decoded {
                Ok((version, response)) => match flight.tag {
                    Some(tag) => {
                        let node = c.node;
                        self.events.push_back(NetEvent::Response {
                            tag,
                            node,
                            version,
                            response,
                        });
                    }
                    None => self.negotiated(now, id, response),
                },
                Err(_) => {
                    if let Some(tag) = flight.tag {
                        self.events.push_back(NetEvent::Failed {
                            tag,
                            error: NetError::Disconnected,
                        });
                    }
                    self.broken(now, id, "undecodable response");
                    return;
                }
            }
        }
    }

    fn negotiated(&mut self, now: Instant, id: ConnId, response: AnyResponse) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let Phase::Negotiating { version, .. } = c.phase else {
            return;
        };
        let AnyResponse::ApiVersions(resp) = response else {
            self.broken(now, id, "ApiVersions answered with another response");
            return;
        };
        match negotiate(&resp, version, NegotiationOptions::default()) {
            ApiVersionsOutcome::Retry { version } => self.send_api_versions(now, id, version),
            ApiVersionsOutcome::Failed { .. } => self.broken(now, id, "ApiVersions failed"),
            ApiVersionsOutcome::Negotiated(_) => {
                let versions = capped(&resp, &self.config.version_caps);
                c.phase = Phase::Ready;
                c.versions = Some(versions.clone());
                let node = c.node;
                let queued = core::mem::take(&mut c.queue);
                self.failures.remove(&node);
                self.versions.insert(node, versions);
                self.events.push_back(NetEvent::Negotiated { node });
                for p in queued {
                    self.write_request(now, id, p);
                }
            }
        }
    }

    fn write_request(&mut self, now: Instant, id: ConnId, p: Pending) {
        let Some(c) = self.conns.get_mut(&id) else {
            self.events.push_back(NetEvent::Failed {
                tag: p.tag,
                error: NetError::Disconnected,
            });
            return;
        };
        let api = p.request.api_key();
        let range = c.versions.as_ref().and_then(|v| v.broker_range(api));
        let chosen = match p.version {
            Version::Highest => c.versions.as_ref().and_then(|v| v.version(api)),
            Version::Exact(v) => range
                .is_some_and(|r| r.min <= v && v <= r.max && api.versions().contains(v))
                .then_some(v),
        };
        let Some(version) = chosen else {
            self.events.push_back(NetEvent::Failed {
                tag: p.tag,
                error: NetError::Unsupported { api: api.name() },
            });
            return;
        };
        let mut out = BytesMut::new();
        match c.codec.encode_any(&p.request, version, &mut out) {
            Ok(corr) => {
                c.in_flight.insert(
                    corr.0,
                    InFlight {
                        tag: Some(p.tag),
                        deadline: now + p.timeout,
                    },
                );
                self.io.push_back(Io::Write {
                    conn: id,
                    bytes: out.freeze(),
                });
            }
            Err(e) => self.events.push_back(NetEvent::Failed {
                tag: p.tag,
                error: NetError::Encode(e),
            }),
        }
    }

    /// Closes a connection that sent something unusable.
    fn broken(&mut self, now: Instant, id: ConnId, reason: &'static str) {
        if let Some(c) = self.conns.get(&id) {
            self.events.push_back(NetEvent::ConnectionError {
                node: c.node,
                reason,
            });
        }
        self.fail_conn(now, id, NetError::Disconnected, false);
    }

    /// Drops a connection: its requests fail (the first timed-out one with `error`, the rest
    /// with [`NetError::Disconnected`]), the adapter closes the socket, and the node backs off.
    /// `keep_queue` moves requests not yet sent to a fresh connection instead of failing them.
    fn fail_conn(&mut self, now: Instant, id: ConnId, error: NetError, keep_queue: bool) {
        let Some(c) = self.conns.remove(&id) else {
            return;
        };
        self.by_node.remove(&(c.node, c.lane));
        self.io.push_back(Io::Close { conn: id });
        let negotiated = matches!(c.phase, Phase::Ready);
        if !negotiated {
            let (count, _) = self.failures.get(&c.node).copied().unwrap_or((0, now));
            let count = count.saturating_add(1);
            let step = self
                .config
                .reconnect_backoff
                .saturating_mul(1 << (count - 1).min(16));
            let delay = step.min(self.config.reconnect_backoff_max);
            self.failures.insert(c.node, (count, now + delay));
        } else {
            // It worked before: reconnect after the first backoff step.
            self.failures
                .insert(c.node, (0, now + self.config.reconnect_backoff));
        }
        for (_, f) in c.in_flight {
            if let Some(tag) = f.tag {
                let error = if error == NetError::TimedOut && f.deadline <= now {
                    NetError::TimedOut
                } else {
                    NetError::Disconnected
                };
                self.events.push_back(NetEvent::Failed { tag, error });
            }
        }
        if keep_queue && !c.queue.is_empty() {
            let node = c.node;
            if let Some(new) = self.open(now, node, c.lane) {
                if let Some(n) = self.conns.get_mut(&new) {
                    n.queue.extend(c.queue);
                }
                return;
            }
        }
        // Requests not sent yet: a connection that never came up fails them; they are
        // retried by their owners (group-fsm and the fetcher back off on their own).
        for p in c.queue {
            self.events.push_back(NetEvent::Failed {
                tag: p.tag,
                error: NetError::Disconnected,
            });
        }
    }
}

/// An error-only reading of a response that does not decode, for the one case known in the
/// wild: librdkafka's mock broker answers a follower's SyncGroup that arrives after the
/// leader's with INVALID_REQUEST and a null `Assignment` (length -1), which the spec does not
/// allow. A non-flexible SyncGroup response (v0–v3) whose error code is not 0 is read as that
/// error with an empty assignment, so the member rejoins as the error says instead of losing
/// the connection. Everything else that does not decode stays an error.
fn lenient_error_response(api: ApiKey, version: i16, frame: &Bytes) -> Option<AnyResponse> {
    use kafka_wire::generated::sync_group_response::SyncGroupResponse;
    if api != ApiKey::SyncGroup || !(0..=3).contains(&version) {
        return None;
    }
    // Response header v0 (correlation id), then throttle_time_ms from v1, then error_code.
    let at = 4 + if version >= 1 { 4 } else { 0 };
    let code = frame.get(at..at + 2)?;
    let error_code = i16::from_be_bytes([code[0], code[1]]);
    (error_code != 0).then(|| {
        AnyResponse::SyncGroup(SyncGroupResponse {
            error_code,
            ..Default::default()
        })
    })
}

/// Bootstrap entry `i`'s node id: -1, -2, …
fn bootstrap_id(i: usize) -> i32 {
    -1 - i32::try_from(i).unwrap_or(i32::MAX - 1)
}

/// Negotiated versions with each capped API's broker range lowered to the cap.
fn capped(resp: &ApiVersionsResponse, caps: &[(ApiKey, i16)]) -> NegotiatedVersions {
    NegotiatedVersions::from_ranges(
        resp.api_keys.iter().map(|k| {
            let mut range = VersionRange::new(k.min_version, k.max_version);
            for &(key, cap) in caps {
                if key.as_i16() == k.api_key && range.max > cap {
                    range = VersionRange::new(range.min, cap);
                }
            }
            (k.api_key, range)
        }),
        NegotiationOptions::default(),
    )
}

/// Version caps for librdkafka's mock broker (2.0 and 2.16), which advertises JoinGroup v6,
/// SyncGroup v4–v5 and LeaveGroup v3–v4 but misreads them (librdkafka itself sends JoinGroup
/// v5, SyncGroup v3, LeaveGroup v1, so its mock was never exercised there).
pub const LIBRDKAFKA_MOCK_CAPS: &[(ApiKey, i16)] = &[
    (ApiKey::JoinGroup, 5),
    (ApiKey::SyncGroup, 3),
    (ApiKey::LeaveGroup, 2),
];

/// Parses version caps written `Name=V,Name=V` (API names as [`ApiKey::name`], e.g.
/// `JoinGroup=5,SyncGroup=3`), or the preset `librdkafka-mock` ([`LIBRDKAFKA_MOCK_CAPS`]).
///
/// # Errors
/// A message naming the first entry that is not `Name=V` with a known API and a version ≥ 0.
pub fn parse_version_caps(text: &str) -> Result<Vec<(ApiKey, i16)>, String> {
    let mut out = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if entry == "librdkafka-mock" {
            out.extend_from_slice(LIBRDKAFKA_MOCK_CAPS);
            continue;
        }
        let bad = || alloc::format!("bad version cap {entry:?}: want Name=VERSION");
        let (name, v) = entry.split_once('=').ok_or_else(bad)?;
        let v: i16 = v.trim().parse().map_err(|_| bad())?;
        let key = (0..=i16::MAX)
            .take(200)
            .filter_map(ApiKey::from_i16)
            .find(|k| k.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(bad)?;
        if v < 0 {
            return Err(bad());
        }
        out.push((key, v));
    }
    Ok(out)
}

/// Gives back the room of a drained queue beyond a few entries: a burst (a thousand groups
/// starting at once) must not stay allocated while the process idles.
fn shrink_drained<T>(q: &mut VecDeque<T>) {
    if q.is_empty() && q.capacity() > 8 {
        *q = VecDeque::new();
    }
}
