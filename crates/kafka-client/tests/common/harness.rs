//! The simulation harness shared by `tests/sim.rs` and `benches/many_groups.rs`: client
//! processes, each a [`GroupSet`] of one or many groups, against testkit's model broker, bytes
//! and all, in virtual time with no sockets.
//!
//! Every frame takes [`LATENCY`] ms one way; the broker answers at once but serves one request
//! per connection at a time, like a real one, so a parked JoinGroup blocks whatever is queued
//! behind it on its connection. Deterministic: one event queue ordered by (time, sequence), no
//! clock, no randomness beyond the members' seeds.
//!
//! Besides ownership and removal checks, the harness can record when each request went out
//! and when its response came back ([`Sim::record_timings`], [`Sim::heartbeat_latencies`]),
//! and keeps each process's peak connection count ([`Proc::peak_conns`]).

use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};

use bytes::{Bytes, BytesMut};
use group_fsm::assignor::{Assignor, CooperativeStickyAssignor, RangeAssignor};
use group_fsm::{GroupProtocol, Instant};
use kafka_client::fetch::FetchConfig;
use kafka_client::net::{ConnId, Io, IoEvent, Lane, NetConfig};
use kafka_client::{ConsumerEvent, GroupHandle, GroupSet, GroupSetConfig, GroupSpec, LanePolicy};
use kafka_wire::{AnyRequest, ApiKey, FrameDecoder};
use testkit::{BrokerConfig, ModelBroker};

/// Partitions of every topic.
pub(crate) const PARTITIONS: i32 = 8;
/// Topics the groups spread over.
pub(crate) const TOPICS: usize = 3;
/// One-way latency between processes and the broker, ms.
pub(crate) const LATENCY: u64 = 2;
/// Session timeout of every member (classic) and of the KIP-848 coordinator, ms.
pub(crate) const SESSION_MS: u64 = 6000;

/// Which protocol a group speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Classic protocol, range assignor (eager).
    Eager,
    /// Classic protocol, cooperative-sticky assignor.
    Cooperative,
    /// KIP-848 (ConsumerGroupHeartbeat, server-side assignor).
    Consumer,
}

/// The topic of group number `i`.
pub(crate) fn topic(i: usize) -> String {
    format!("t{}", i % TOPICS)
}

/// A client process: one [`GroupSet`] and what the harness knows of it.
pub(crate) struct Proc {
    pub(crate) set: GroupSet,
    pub(crate) alive: bool,
    /// Group id → handle, for groups live in this process.
    pub(crate) groups: BTreeMap<String, GroupHandle>,
    names: BTreeMap<GroupHandle, String>,
    /// Partitions owned, per group id.
    pub(crate) owned: BTreeMap<String, BTreeSet<i32>>,
    /// The member ids this process's groups had, and when.
    spans: Vec<IdSpan>,
    /// Our connection → (broker connection, frame splitter of what we sent).
    conns: BTreeMap<ConnId, (u64, FrameDecoder)>,
    lanes: LanePolicy,
    /// The most connections the process had open at once (any phase), seen after each of its
    /// calls.
    pub(crate) peak_conns: usize,
    /// The most held lanes (connections other than a broker's ordinary and fetch ones) at once.
    pub(crate) peak_held_lanes: usize,
    /// Records consumed, per group id: (partition, offset).
    pub(crate) messages: BTreeMap<String, Vec<(i32, i64)>>,
}

/// Member `id` of `group` lived in a live process from `from` until `to` (closed, crashed,
/// or replaced by a new id).
pub(crate) struct IdSpan {
    pub(crate) group: String,
    pub(crate) id: String,
    pub(crate) from: u64,
    pub(crate) to: Option<u64>,
}

impl Proc {
    /// Records `id` as group `group`'s current member id at `now`.
    fn saw_id(&mut self, group: &str, id: &str, now: u64) {
        let open = self
            .spans
            .iter_mut()
            .rev()
            .find(|s| s.group == group && s.to.is_none());
        match open {
            Some(s) if s.id == id => return,
            Some(s) => s.to = Some(now),
            None => {}
        }
        self.spans.push(IdSpan {
            group: group.to_owned(),
            id: id.to_owned(),
            from: now,
            to: None,
        });
    }

    /// Ends the spans of `group` (all groups for `None`) at `now`.
    fn end_spans(&mut self, group: Option<&str>, now: u64) {
        for s in &mut self.spans {
            if s.to.is_none() && group.is_none_or(|g| g == s.group) {
                s.to = Some(now);
            }
        }
    }
}

/// Something in flight between a process and the broker.
enum Msg {
    ToProc(usize, ConnId, Bytes),
    Connected(usize, ConnId),
    ToBroker(u64, Bytes),
}

/// One request a process sent, with when it went out and when its response came back (virtual
/// ms), recorded while [`Sim::record_timings`] is on.
pub(crate) struct Timing {
    /// The process.
    pub(crate) proc: usize,
    /// The request's API key.
    pub(crate) api_key: i16,
    /// The group it is for (only for Heartbeat and ConsumerGroupHeartbeat; `None` otherwise).
    pub(crate) group: Option<String>,
    /// When the process wrote it (`Io::Write`).
    pub(crate) sent: u64,
    /// When the process took its response (`IoEvent::Received`); `None`: never answered (its
    /// connection closed, or the run ended first).
    pub(crate) answered: Option<u64>,
}

/// The simulation: processes, the model broker, and the frames in flight between them.
pub(crate) struct Sim {
    pub(crate) now: u64,
    pub(crate) broker: ModelBroker,
    pub(crate) procs: Vec<Proc>,
    pub(crate) kinds: BTreeMap<String, Kind>,
    queue: BTreeMap<(u64, u64), Msg>,
    seq: u64,
    next_broker_conn: u64,
    routes: BTreeMap<u64, (usize, ConnId)>,
    pub(crate) log: Vec<String>,
    /// Per broker connection: the API keys of requests sent and not answered yet, in order.
    outstanding: BTreeMap<u64, std::collections::VecDeque<i16>>,
    /// Record a [`Timing`] for every request (off by default).
    pub(crate) record_timings: bool,
    /// The recorded requests, in send order.
    pub(crate) timings: Vec<Timing>,
    /// (broker connection, correlation id) → index in `timings`, until answered.
    awaiting: BTreeMap<(u64, i32), usize>,
    /// Check after every step that no partition has two live owners (on by default; a large
    /// run may check at chosen points instead with
    /// [`check_no_double_owner`](Self::check_no_double_owner)).
    pub(crate) check_each_step: bool,
    /// The fetch settings of groups added from now on.
    pub(crate) fetch: FetchConfig,
}

impl Sim {
    pub(crate) fn new() -> Self {
        Self::with_fetch(false)
    }

    /// A world whose broker serves Fetch and ListOffsets from logs filled by
    /// `broker.append` when `serve_fetch` (else the fetchers find no usable version).
    pub(crate) fn with_fetch(serve_fetch: bool) -> Self {
        let mut broker = ModelBroker::new(BrokerConfig {
            host: "model".into(),
            port: 9092,
            initial_rebalance_delay_ms: 100,
            consumer_session_timeout_ms: SESSION_MS,
            consumer_heartbeat_interval_ms: 500,
            serve_fetch,
            ..BrokerConfig::default()
        });
        for t in 0..TOPICS {
            broker.create_topic(&topic(t), PARTITIONS);
        }
        Self {
            now: 0,
            broker,
            procs: Vec::new(),
            kinds: BTreeMap::new(),
            queue: BTreeMap::new(),
            seq: 0,
            next_broker_conn: 1,
            routes: BTreeMap::new(),
            log: Vec::new(),
            outstanding: BTreeMap::new(),
            record_timings: false,
            timings: Vec::new(),
            awaiting: BTreeMap::new(),
            check_each_step: true,
            fetch: FetchConfig::default(),
        }
    }

    fn push(&mut self, at: u64, msg: Msg) {
        self.seq += 1;
        self.queue.insert((at, self.seq), msg);
    }

    /// Adds a process with this lane policy and shared fetches (the [`GroupSetConfig`]
    /// default); returns its number.
    pub(crate) fn add_proc(&mut self, lanes: LanePolicy) -> usize {
        self.add_proc_with(lanes, true)
    }

    /// Adds a process with this lane policy and fetch sharing; returns its number.
    /// `add_proc_with(CONSUMER_LIKE, false)` is what `Consumer::new` builds.
    pub(crate) fn add_proc_with(&mut self, lanes: LanePolicy, share_fetches: bool) -> usize {
        let mut config = GroupSetConfig::new(NetConfig::new(vec![("model".into(), 9092)]));
        config.lanes = lanes;
        config.share_fetches = share_fetches;
        self.procs.push(Proc {
            set: GroupSet::new(config),
            alive: true,
            groups: BTreeMap::new(),
            names: BTreeMap::new(),
            owned: BTreeMap::new(),
            spans: Vec::new(),
            conns: BTreeMap::new(),
            lanes,
            peak_conns: 0,
            peak_held_lanes: 0,
            messages: BTreeMap::new(),
        });
        self.procs.len() - 1
    }

    /// Adds group number `g` (of protocol `kind`, subscribed to topic `g mod TOPICS`) to
    /// process `i`, if it is alive and has no live member of it yet.
    pub(crate) fn add_group(&mut self, i: usize, g: usize, kind: Kind) {
        self.add_group_with(i, g, kind, SESSION_MS);
    }

    /// [`add_group`](Self::add_group) with this session timeout (classic).
    pub(crate) fn add_group_with(&mut self, i: usize, g: usize, kind: Kind, session_ms: u64) {
        let name = format!("g{g}");
        let kind = *self.kinds.entry(name.clone()).or_insert(kind);
        let p = &mut self.procs[i];
        if !p.alive || p.groups.contains_key(&name) {
            return;
        }
        let mut group = group_fsm::Config::new(name.as_str());
        group.client_id = format!("p{i}");
        group.session_timeout = Duration::from_millis(session_ms);
        group.heartbeat_interval = Duration::from_millis(500);
        group.max_poll_interval = Duration::from_secs(30);
        group.rng_seed = (i * 1000 + g) as u64;
        if kind == Kind::Consumer {
            group.group_protocol = GroupProtocol::Consumer;
        }
        let assignor: Box<dyn Assignor> = if kind == Kind::Cooperative {
            Box::new(CooperativeStickyAssignor::default())
        } else {
            Box::new(RangeAssignor)
        };
        let h = p.set.add_group(
            Instant::from_millis(self.now),
            GroupSpec {
                group,
                topics: vec![topic(g)],
                fetch: self.fetch.clone(),
                assignors: vec![assignor],
            },
        );
        p.groups.insert(name.clone(), h);
        p.names.insert(h, name.clone());
        p.owned.insert(name.clone(), BTreeSet::new());
        self.log
            .push(format!("{:>7} p{i} ADD {name} {kind:?}", self.now));
        self.service(i);
    }

    /// Executes process `i`'s IO and takes its events.
    pub(crate) fn service(&mut self, i: usize) {
        let now = self.now;
        while let Some(io) = self.procs[i].set.poll_io() {
            match io {
                Io::Connect { conn, host, port } => {
                    assert_eq!((host.as_str(), port), ("model", 9092));
                    let b = self.next_broker_conn;
                    self.next_broker_conn += 1;
                    self.routes.insert(b, (i, conn));
                    self.procs[i]
                        .conns
                        .insert(conn, (b, FrameDecoder::default()));
                    self.push(now + LATENCY, Msg::Connected(i, conn));
                }
                Io::Write { conn, bytes } => {
                    let Some((b, frames)) = self.procs[i].conns.get_mut(&conn) else {
                        continue;
                    };
                    let b = *b;
                    frames.push(&bytes).expect("our own frames are well formed");
                    let mut out = Vec::new();
                    while let Some(f) = frames.next_frame().expect("well formed") {
                        out.push(f);
                    }
                    let separate = matches!(self.procs[i].lanes, LanePolicy::Separate { .. });
                    for f in out {
                        let (h, _) = kafka_wire::RequestHeader::decode_auto(&f).expect("header");
                        let pending = self.outstanding.entry(b).or_default();
                        // With held lanes, a request that cannot wait never sits behind a
                        // held one.
                        let held = [ApiKey::JoinGroup.as_i16(), ApiKey::SyncGroup.as_i16()];
                        if separate && !held.contains(&h.api_key) {
                            assert!(
                                !pending.iter().any(|k| held.contains(k)),
                                "p{i}: {:?} sent behind a held request on one connection at {}",
                                ApiKey::from_i16(h.api_key),
                                now
                            );
                        }
                        pending.push_back(h.api_key);
                        if self.record_timings {
                            self.record_request(i, b, &f, now);
                        }
                        self.push(now + LATENCY, Msg::ToBroker(b, f));
                    }
                }
                Io::Close { conn } => {
                    if let Some((b, _)) = self.procs[i].conns.remove(&conn) {
                        self.routes.remove(&b);
                        self.broker.disconnect(b);
                    }
                }
            }
        }
        self.note_connections(i);
        while let Some((h, e)) = self.procs[i].set.poll_event() {
            let p = &mut self.procs[i];
            let Some(name) = p.names.get(&h).cloned() else {
                continue;
            };
            if let Some(id) = p.set.member(h).map(|m| m.member_id().to_owned()) {
                if !id.is_empty() {
                    p.saw_id(&name, &id, now);
                }
            }
            let owned = p.owned.entry(name.clone()).or_default();
            match &e {
                ConsumerEvent::Assigned { partitions, .. } => {
                    owned.extend(partitions.iter().map(|p| p.partition));
                }
                ConsumerEvent::Revoked { partitions, .. } | ConsumerEvent::Lost { partitions } => {
                    for tp in partitions {
                        owned.remove(&tp.partition);
                    }
                }
                ConsumerEvent::Closed => {
                    owned.clear();
                    p.end_spans(Some(&name), now);
                    p.groups.remove(&name);
                    p.set.forget(h);
                }
                ConsumerEvent::Fatal(f) => panic!("p{i} {name} fatal: {f}"),
                ConsumerEvent::Message(r) => {
                    let got = p.messages.entry(name).or_default();
                    got.push((r.partition, r.offset));
                    continue;
                }
                _ => {}
            }
            self.log.push(format!("{:>7} p{i} {name} {e:?}", self.now));
        }
    }

    fn drain_broker(&mut self) {
        let now = self.now;
        while let Some((b, frame)) = self.broker.poll_output() {
            if let Some(p) = self.outstanding.get_mut(&b) {
                p.pop_front();
            }
            if let Some(&(i, conn)) = self.routes.get(&b) {
                let mut bytes = BytesMut::with_capacity(frame.len() + 4);
                bytes.extend_from_slice(&(frame.len() as u32).to_be_bytes());
                bytes.extend_from_slice(&frame);
                self.push(now + LATENCY, Msg::ToProc(i, conn, bytes.freeze()));
            }
        }
        while let Some(b) = self.broker.poll_closed() {
            if let Some((i, conn)) = self.routes.remove(&b) {
                self.procs[i].conns.remove(&conn);
                self.procs[i]
                    .set
                    .handle_io(Instant::from_millis(now), IoEvent::Closed(conn));
                self.service(i);
            }
        }
    }

    /// Runs until `until` (virtual ms).
    pub(crate) fn run_until(&mut self, until: u64) {
        loop {
            let mut next = self.broker.poll_timeout().unwrap_or(u64::MAX);
            if let Some((&(at, _), _)) = self.queue.iter().next() {
                next = next.min(at);
            }
            for p in self.procs.iter().filter(|p| p.alive) {
                if let Some(t) = p.set.poll_timeout() {
                    next = next.min(t.as_millis());
                }
            }
            let next = next.max(self.now);
            if next > until {
                self.now = until;
                return;
            }
            self.now = next;
            let now = Instant::from_millis(self.now);
            while let Some((&(at, s), _)) = self.queue.iter().next() {
                if at > self.now {
                    break;
                }
                let msg = self.queue.remove(&(at, s)).expect("present");
                match msg {
                    Msg::ToBroker(b, f) => {
                        self.broker.handle_frame(self.now, b, f);
                        self.drain_broker();
                    }
                    Msg::ToProc(i, conn, bytes) => {
                        if self.procs[i].alive && self.procs[i].conns.contains_key(&conn) {
                            if self.record_timings {
                                self.record_response(i, conn, &bytes);
                            }
                            self.procs[i]
                                .set
                                .handle_io(now, IoEvent::Received(conn, bytes));
                            self.service(i);
                        }
                    }
                    Msg::Connected(i, conn) => {
                        if self.procs[i].alive && self.procs[i].conns.contains_key(&conn) {
                            self.procs[i].set.handle_io(now, IoEvent::Connected(conn));
                            self.service(i);
                        }
                    }
                }
            }
            self.broker.handle_timeout(self.now);
            self.drain_broker();
            for i in 0..self.procs.len() {
                if !self.procs[i].alive {
                    continue;
                }
                if self.procs[i]
                    .set
                    .poll_timeout()
                    .is_some_and(|t| t.as_millis() <= self.now)
                {
                    self.procs[i].set.handle_timeout(now);
                    self.service(i);
                }
                self.procs[i].set.poll(now);
                self.service(i);
            }
            if self.check_each_step {
                self.check_no_double_owner();
            }
        }
    }

    /// Panics if a partition of a group has two live owners.
    pub(crate) fn check_no_double_owner(&self) {
        if let Some(d) = self.double_owner() {
            panic!("{d}\n{}", self.tail());
        }
    }

    /// The first partition of a group owned by two live processes, described.
    pub(crate) fn double_owner(&self) -> Option<String> {
        let mut seen: BTreeMap<(&str, i32), usize> = BTreeMap::new();
        for (i, p) in self.procs.iter().enumerate().filter(|(_, p)| p.alive) {
            for (g, owned) in &p.owned {
                for &part in owned {
                    if let Some(j) = seen.insert((g.as_str(), part), i) {
                        return Some(format!(
                            "{g} partition {part} owned by p{j} and p{i} at {}",
                            self.now
                        ));
                    }
                }
            }
        }
        None
    }

    pub(crate) fn tail(&self) -> String {
        let from = self.log.len().saturating_sub(400);
        self.log[from..].join("\n")
    }

    pub(crate) fn crash(&mut self, i: usize) {
        let p = &mut self.procs[i];
        if !p.alive {
            return;
        }
        p.alive = false;
        p.owned.clear();
        p.end_spans(None, self.now);
        let conns: Vec<u64> = p.conns.values().map(|(b, _)| *b).collect();
        p.conns.clear();
        for b in conns {
            self.routes.remove(&b);
            self.broker.disconnect(b);
        }
        self.log.push(format!("{:>7} p{i} CRASH", self.now));
    }

    /// Closes group `g` in process `i` (it leaves cleanly).
    pub(crate) fn close_group(&mut self, i: usize, g: usize) {
        let name = format!("g{g}");
        let Some(&h) = self.procs[i].groups.get(&name) else {
            return;
        };
        if !self.procs[i].alive {
            return;
        }
        self.procs[i]
            .set
            .close_group(Instant::from_millis(self.now), h);
        self.log.push(format!("{:>7} p{i} CLOSE {name}", self.now));
        self.service(i);
    }

    /// Cuts every connection of process `i` (both ends see the close).
    pub(crate) fn cut(&mut self, i: usize) {
        if !self.procs[i].alive {
            return;
        }
        let now = Instant::from_millis(self.now);
        let conns: Vec<(ConnId, u64)> = self.procs[i]
            .conns
            .iter()
            .map(|(c, (b, _))| (*c, *b))
            .collect();
        for (c, b) in conns {
            self.procs[i].conns.remove(&c);
            self.routes.remove(&b);
            self.broker.disconnect(b);
            self.procs[i].set.handle_io(now, IoEvent::Closed(c));
            self.service(i);
        }
        self.log.push(format!("{:>7} p{i} CUT", self.now));
    }

    /// Groups with a live member somewhere, with their owned partitions (all members).
    pub(crate) fn ownership(&self) -> BTreeMap<String, Vec<i32>> {
        let mut out: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for p in self.procs.iter().filter(|p| p.alive) {
            for g in p.groups.keys() {
                let all = out.entry(g.clone()).or_default();
                all.extend(p.owned.get(g).into_iter().flatten().copied());
            }
        }
        for v in out.values_mut() {
            v.sort_unstable();
        }
        out
    }

    /// Groups whose partitions are not owned exactly once by their live members.
    pub(crate) fn not_fully_owned(&self) -> Vec<String> {
        let all: Vec<i32> = (0..PARTITIONS).collect();
        self.ownership()
            .into_iter()
            .filter(|(_, v)| *v != all)
            .map(|(g, v)| format!("{g}: {v:?}"))
            .collect()
    }

    /// Updates process `i`'s connection peaks.
    fn note_connections(&mut self, i: usize) {
        let p = &mut self.procs[i];
        let net = p.set.net();
        let count = net.connection_count();
        let unheld = net
            .brokers()
            .map(|(node, _, _)| {
                [Lane::Ordinary, Lane::Fetch]
                    .into_iter()
                    .filter(|&lane| net.lane_load(node, lane).is_some())
                    .count()
            })
            .sum::<usize>();
        p.peak_conns = p.peak_conns.max(count);
        p.peak_held_lanes = p.peak_held_lanes.max(count.saturating_sub(unheld));
    }

    /// Records request frame `f` of process `i`, written at `now` on broker connection `b`.
    fn record_request(&mut self, i: usize, b: u64, f: &Bytes, now: u64) {
        let (h, _) = kafka_wire::RequestHeader::decode_auto(f).expect("header");
        let heartbeat = [
            ApiKey::Heartbeat.as_i16(),
            ApiKey::ConsumerGroupHeartbeat.as_i16(),
        ];
        let group = if heartbeat.contains(&h.api_key) {
            match kafka_wire::codec::decode_request(f).expect("our own requests decode") {
                (_, AnyRequest::Heartbeat(r)) => Some(r.group_id.to_string()),
                (_, AnyRequest::ConsumerGroupHeartbeat(r)) => Some(r.group_id.to_string()),
                _ => None,
            }
        } else {
            None
        };
        self.awaiting
            .insert((b, h.correlation_id), self.timings.len());
        self.timings.push(Timing {
            proc: i,
            api_key: h.api_key,
            group,
            sent: now,
            answered: None,
        });
    }

    /// Matches the response in `bytes` (size prefix, header, body), delivered now to process
    /// `i` on `conn`, with its request.
    fn record_response(&mut self, i: usize, conn: ConnId, bytes: &Bytes) {
        let Some(&(b, _)) = self.procs[i].conns.get(&conn) else {
            return;
        };
        let Some(corr) = bytes.get(4..8) else {
            return;
        };
        let corr = i32::from_be_bytes(corr.try_into().expect("four bytes"));
        if let Some(k) = self.awaiting.remove(&(b, corr)) {
            self.timings[k].answered = Some(self.now);
        }
    }

    /// Round-trip times (virtual ms, send to response) of the heartbeats (Heartbeat and
    /// ConsumerGroupHeartbeat) that the processes `procs` accepts sent for the groups `groups`
    /// accepts, within `[from, to)`, sorted; plus how many of them were never answered.
    pub(crate) fn heartbeat_latencies(
        &self,
        procs: impl Fn(usize) -> bool,
        groups: impl Fn(&str) -> bool,
        from: u64,
        to: u64,
    ) -> (Vec<u64>, usize) {
        let mut out = Vec::new();
        let mut unanswered = 0;
        for t in &self.timings {
            let Some(g) = t.group.as_deref() else {
                continue;
            };
            if !procs(t.proc) || t.sent < from || t.sent >= to || !groups(g) {
                continue;
            }
            match t.answered {
                Some(a) => out.push(a - t.sent),
                None => unanswered += 1,
            }
        }
        out.sort_unstable();
        (out, unanswered)
    }

    /// Members that the broker removed for a missed session, a missed rejoin or a missed
    /// SyncGroup while their process was alive and their group open in it (from the classic
    /// coordinator's transitions and the KIP-848 coordinator's epoch log), as
    /// `(at, group, reason)`.
    pub(crate) fn removals_of_live_members(&self) -> Vec<(u64, String, String)> {
        let mut out = Vec::new();
        for g in self.kinds.keys() {
            let mut reasons: Vec<(u64, String)> = self
                .broker
                .transitions(g)
                .iter()
                .map(|t| (t.at_ms, t.reason.clone()))
                .collect();
            reasons.extend(
                self.broker
                    .consumer_group_epochs(g)
                    .iter()
                    .map(|(at, _, r)| (*at, r.clone())),
            );
            for (at, reason) in reasons {
                let missed = reason.contains("session timeout")
                    || reason.contains("join timeout")
                    || reason.contains("no SyncGroup from")
                    || reason.contains("removed")
                    || reason.contains("rebalance timeout");
                if !missed {
                    continue;
                }
                let words: BTreeSet<&str> = reason
                    .split([' ', ',', ':', ';'])
                    .filter(|w| !w.is_empty())
                    .collect();
                let live = self.procs.iter().flat_map(|p| &p.spans).any(|s| {
                    s.group == *g
                        && words.contains(s.id.as_str())
                        && s.from <= at
                        && s.to.is_none_or(|t| at < t)
                });
                if live {
                    out.push((at, g.clone(), reason));
                }
            }
        }
        out
    }
}

pub(crate) const SEPARATE: LanePolicy = LanePolicy::Separate {
    max_held_lanes: 64,
    fetch_lane: true,
};

/// What a single-group process (a `Consumer`) does: one held lane, fetches on a fetch lane.
pub(crate) const CONSUMER_LIKE: LanePolicy = kafka_client::Consumer::LANES;

/// The value at quantile `q` (0 to 1, nearest rank) of `sorted`; 0 if it is empty.
pub(crate) fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
