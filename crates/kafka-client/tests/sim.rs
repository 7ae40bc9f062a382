//! `Consumer`s (the real routing: held lanes, negotiation, reconnects) against testkit's model
//! broker, bytes and all, in virtual time with no sockets. A randomized schedule of joins,
//! crashes, clean closes and dropped connections; after every step no partition is owned by two
//! live members; no request that cannot wait (heartbeat, commit, metadata, fetch) is ever sent on
//! a connection where a JoinGroup or SyncGroup is outstanding; once the faults stop, every
//! partition has exactly one owner.

use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};

use bytes::{Bytes, BytesMut};
use group_fsm::Instant;
use group_fsm::assignor::{Assignor, CooperativeStickyAssignor, RangeAssignor};
use kafka_client::net::{ConnId, Io, IoEvent, NetConfig};
use kafka_client::{Consumer, ConsumerConfig, ConsumerEvent};
use kafka_wire::{ApiKey, FrameDecoder};
use proptest::prelude::*;
use testkit::{BrokerConfig, ModelBroker};

const PARTITIONS: i32 = 8;
/// One-way latency between members and the broker, ms.
const LATENCY: u64 = 2;

struct Node {
    consumer: Consumer,
    alive: bool,
    owned: BTreeSet<i32>,
    /// Our connection → (broker connection, frame splitter of what we sent).
    conns: BTreeMap<ConnId, (u64, FrameDecoder)>,
    closed: bool,
}

enum Msg {
    /// Bytes for a member's connection.
    ToMember(usize, ConnId, Bytes),
    /// A connect completed.
    Connected(usize, ConnId),
    /// A frame for the broker.
    ToBroker(u64, Bytes),
}

struct Sim {
    now: u64,
    broker: ModelBroker,
    nodes: Vec<Node>,
    /// (deliver at, sequence) → message.
    queue: BTreeMap<(u64, u64), Msg>,
    seq: u64,
    next_broker_conn: u64,
    /// Broker connection → (member, its connection).
    routes: BTreeMap<u64, (usize, ConnId)>,
    cooperative: bool,
    log: Vec<String>,
    /// Per broker connection: the API keys of requests sent and not answered yet, in order.
    outstanding: BTreeMap<u64, std::collections::VecDeque<i16>>,
}

impl Sim {
    fn new(cooperative: bool) -> Self {
        let mut broker = ModelBroker::new(BrokerConfig {
            host: "model".into(),
            port: 9092,
            initial_rebalance_delay_ms: 100,
            ..BrokerConfig::default()
        });
        broker.create_topic("orders", PARTITIONS);
        Self {
            now: 0,
            broker,
            nodes: Vec::new(),
            queue: BTreeMap::new(),
            seq: 0,
            next_broker_conn: 1,
            routes: BTreeMap::new(),
            cooperative,
            log: Vec::new(),
            outstanding: BTreeMap::new(),
        }
    }

    fn push(&mut self, at: u64, msg: Msg) {
        self.seq += 1;
        self.queue.insert((at, self.seq), msg);
    }

    fn add(&mut self) -> usize {
        let i = self.nodes.len();
        let mut group = group_fsm::Config::new("sim-group");
        group.client_id = format!("c{i}");
        group.session_timeout = Duration::from_secs(6);
        group.heartbeat_interval = Duration::from_millis(500);
        group.max_poll_interval = Duration::from_secs(30);
        group.rng_seed = i as u64;
        let config = ConsumerConfig {
            net: NetConfig::new(vec![("model".into(), 9092)]),
            group,
            topics: vec!["orders".into()],
            fetch: Default::default(),
        };
        let assignor: Box<dyn Assignor> = if self.cooperative {
            Box::new(CooperativeStickyAssignor::default())
        } else {
            Box::new(RangeAssignor)
        };
        let consumer = Consumer::new(config, vec![assignor], Instant::from_millis(self.now));
        self.nodes.push(Node {
            consumer,
            alive: true,
            owned: BTreeSet::new(),
            conns: BTreeMap::new(),
            closed: false,
        });
        self.service(i);
        i
    }

    /// Executes member `i`'s IO and takes its events.
    fn service(&mut self, i: usize) {
        let now = self.now;
        loop {
            let Some(io) = self.nodes[i].consumer.poll_io() else {
                break;
            };
            match io {
                Io::Connect { conn, host, port } => {
                    assert_eq!((host.as_str(), port), ("model", 9092));
                    let b = self.next_broker_conn;
                    self.next_broker_conn += 1;
                    self.routes.insert(b, (i, conn));
                    self.nodes[i]
                        .conns
                        .insert(conn, (b, FrameDecoder::default()));
                    self.push(now + LATENCY, Msg::Connected(i, conn));
                }
                Io::Write { conn, bytes } => {
                    let Some((b, frames)) = self.nodes[i].conns.get_mut(&conn) else {
                        continue;
                    };
                    let b = *b;
                    frames.push(&bytes).expect("our own frames are well formed");
                    let mut out = Vec::new();
                    while let Some(f) = frames.next_frame().expect("well formed") {
                        out.push(f);
                    }
                    for f in out {
                        let (h, _) = kafka_wire::RequestHeader::decode_auto(&f).expect("header");
                        let pending = self.outstanding.entry(b).or_default();
                        // A request that cannot wait must never sit behind a held one.
                        let held = [ApiKey::JoinGroup.as_i16(), ApiKey::SyncGroup.as_i16()];
                        if !held.contains(&h.api_key) {
                            assert!(
                                !pending.iter().any(|k| held.contains(k)),
                                "c{i}: {:?} sent behind a held request on one connection at {}",
                                ApiKey::from_i16(h.api_key),
                                now
                            );
                        }
                        pending.push_back(h.api_key);
                        self.push(now + LATENCY, Msg::ToBroker(b, f));
                    }
                }
                Io::Close { conn } => {
                    if let Some((b, _)) = self.nodes[i].conns.remove(&conn) {
                        self.routes.remove(&b);
                        self.broker.disconnect(b);
                    }
                }
            }
        }
        while let Some(e) = self.nodes[i].consumer.poll_event() {
            let n = &mut self.nodes[i];
            match &e {
                ConsumerEvent::Assigned { partitions, .. } => {
                    n.owned.extend(partitions.iter().map(|p| p.partition));
                }
                ConsumerEvent::Revoked { partitions, .. } | ConsumerEvent::Lost { partitions } => {
                    for p in partitions {
                        n.owned.remove(&p.partition);
                    }
                }
                ConsumerEvent::Closed => n.closed = true,
                ConsumerEvent::Fatal(f) => panic!("member {i} fatal: {f}"),
                _ => {}
            }
            self.log.push(format!("{:>7} c{i} {e:?}", self.now));
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
                self.push(now + LATENCY, Msg::ToMember(i, conn, bytes.freeze()));
            }
        }
        while let Some(b) = self.broker.poll_closed() {
            if let Some((i, conn)) = self.routes.remove(&b) {
                self.nodes[i].conns.remove(&conn);
                self.nodes[i]
                    .consumer
                    .handle_io(Instant::from_millis(now), IoEvent::Closed(conn));
                self.service(i);
            }
        }
    }

    /// Runs until `until` (virtual ms).
    fn run_until(&mut self, until: u64) {
        loop {
            let mut next = self.broker.poll_timeout().unwrap_or(u64::MAX);
            if let Some((&(at, _), _)) = self.queue.iter().next() {
                next = next.min(at);
            }
            for n in self.nodes.iter().filter(|n| n.alive) {
                if let Some(t) = n.consumer.poll_timeout() {
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
            // Messages due now.
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
                    Msg::ToMember(i, conn, bytes) => {
                        if self.nodes[i].alive && self.nodes[i].conns.contains_key(&conn) {
                            self.nodes[i]
                                .consumer
                                .handle_io(now, IoEvent::Received(conn, bytes));
                            self.service(i);
                        }
                    }
                    Msg::Connected(i, conn) => {
                        if self.nodes[i].alive && self.nodes[i].conns.contains_key(&conn) {
                            self.nodes[i]
                                .consumer
                                .handle_io(now, IoEvent::Connected(conn));
                            self.service(i);
                        }
                    }
                }
            }
            self.broker.handle_timeout(self.now);
            self.drain_broker();
            for i in 0..self.nodes.len() {
                if !self.nodes[i].alive {
                    continue;
                }
                if self.nodes[i]
                    .consumer
                    .poll_timeout()
                    .is_some_and(|t| t.as_millis() <= self.now)
                {
                    self.nodes[i].consumer.handle_timeout(now);
                    self.service(i);
                }
                self.nodes[i].consumer.poll(now);
                self.service(i);
            }
            self.check_no_double_owner();
        }
    }

    fn live(&self) -> impl Iterator<Item = (usize, &Node)> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.alive && !n.closed)
    }

    fn check_no_double_owner(&self) {
        let mut seen: BTreeMap<i32, usize> = BTreeMap::new();
        for (i, n) in self.live() {
            for &p in &n.owned {
                if let Some(j) = seen.insert(p, i) {
                    panic!(
                        "partition {p} owned by c{j} and c{i} at {}\n{}",
                        self.now,
                        self.log.join("\n")
                    );
                }
            }
        }
    }

    fn crash(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        if !n.alive {
            return;
        }
        n.alive = false;
        n.owned.clear();
        let conns: Vec<u64> = n.conns.values().map(|(b, _)| *b).collect();
        n.conns.clear();
        for b in conns {
            self.routes.remove(&b);
            self.broker.disconnect(b);
        }
        self.log.push(format!("{:>7} c{i} CRASH", self.now));
    }

    fn close(&mut self, i: usize) {
        if self.nodes[i].alive && !self.nodes[i].closed {
            let now = Instant::from_millis(self.now);
            self.nodes[i].consumer.close(now);
            self.service(i);
            self.log.push(format!("{:>7} c{i} CLOSE", self.now));
        }
    }

    /// Cuts every connection of member `i` (both ends see the close).
    fn cut(&mut self, i: usize) {
        if !self.nodes[i].alive {
            return;
        }
        let now = Instant::from_millis(self.now);
        let conns: Vec<(ConnId, u64)> = self.nodes[i]
            .conns
            .iter()
            .map(|(c, (b, _))| (*c, *b))
            .collect();
        for (c, b) in conns {
            self.nodes[i].conns.remove(&c);
            self.routes.remove(&b);
            self.broker.disconnect(b);
            self.nodes[i].consumer.handle_io(now, IoEvent::Closed(c));
            self.service(i);
        }
        self.log.push(format!("{:>7} c{i} CUT", self.now));
    }

    /// Every partition owned exactly once by the live members.
    fn fully_owned(&self) -> bool {
        let mut all = Vec::new();
        for (_, n) in self.live() {
            all.extend(n.owned.iter().copied());
        }
        all.sort_unstable();
        all == (0..PARTITIONS).collect::<Vec<_>>()
    }
}

#[test]
fn three_consumers_split_then_one_crashes() {
    for cooperative in [false, true] {
        let mut sim = Sim::new(cooperative);
        for _ in 0..3 {
            sim.add();
        }
        sim.run_until(10_000);
        assert!(sim.fully_owned(), "{}", sim.log.join("\n"));
        let counts: Vec<usize> = sim.live().map(|(_, n)| n.owned.len()).collect();
        assert_eq!(
            counts.iter().max().unwrap() - counts.iter().min().unwrap(),
            1,
            "{counts:?}"
        );
        let stats = sim.broker.stats();
        let count = |k: ApiKey| stats.requests.get(&k).copied().unwrap_or(0);
        assert!(count(ApiKey::JoinGroup) >= 3);
        assert!(count(ApiKey::Heartbeat) > 0, "{stats:?}");
        sim.crash(1);
        sim.run_until(30_000);
        assert!(sim.fully_owned(), "{}", sim.log.join("\n"));
        assert_eq!(sim.live().count(), 2);
        assert!(sim.broker.errors().is_empty(), "{:?}", sim.broker.errors());
    }
}

#[derive(Debug, Clone)]
enum Op {
    Join,
    Crash(usize),
    Close(usize),
    Cut(usize),
    Wait(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Join),
        1 => (0usize..8).prop_map(Op::Crash),
        1 => (0usize..8).prop_map(Op::Close),
        2 => (0usize..8).prop_map(Op::Cut),
        3 => (0u64..4000).prop_map(Op::Wait),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Random joins, crashes, clean closes and dropped connections: never two live owners of a
    /// partition (checked after every step); 15 s after the last fault every partition has
    /// exactly one live owner (when anyone is alive), and the model broker saw no protocol
    /// error.
    #[test]
    fn random_faults_keep_single_ownership_and_converge(
        ops in prop::collection::vec(op(), 1..16),
        cooperative in any::<bool>(),
    ) {
        let mut sim = Sim::new(cooperative);
        sim.add();
        for op in ops {
            match op {
                Op::Join if sim.nodes.len() < 8 => {
                    sim.add();
                }
                Op::Join => {}
                Op::Crash(i) => { if i < sim.nodes.len() { sim.crash(i) } }
                Op::Close(i) => { if i < sim.nodes.len() { sim.close(i) } }
                Op::Cut(i) => { if i < sim.nodes.len() { sim.cut(i) } }
                Op::Wait(ms) => {
                    let until = sim.now + ms;
                    sim.run_until(until);
                }
            }
        }
        let until = sim.now + 15_000;
        sim.run_until(until);
        if sim.live().count() > 0 {
            prop_assert!(sim.fully_owned(), "{}", sim.log.join("\n"));
        }
        prop_assert!(sim.broker.errors().is_empty(), "{:?}", sim.broker.errors());
    }
}
