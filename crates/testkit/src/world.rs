//! A deterministic world: group-fsm members talk to the model broker over a simulated network
//! with a fixed latency; every connection is served one request at a time, as on a real broker.
//!
//! Members speak either protocol: classic ([`World::add_member`]) or KIP-848
//! ([`World::add_consumer_member`], or [`World::add_member_with`] with
//! `Config::group_protocol = Consumer`), each against the broker's coordinator for it.
//! [`World::check_invariants`] runs after every step: no partition used by two live members,
//! generations (member epochs) never go back, no held request on the heartbeat connection, and
//! for KIP-848 members: a member only uses partitions the broker holds for it (assigned or
//! pending revocation), and at every `Revoke` it gives up none that the broker lets it keep.
//!
//! Used by group-fsm's scenario and simulation tests and by `kgroup simulate`.
#![allow(missing_docs)]

use std::collections::BTreeMap;

use crate::{BrokerConfig, ModelBroker};
use bytes::{Bytes, BytesMut};
use group_fsm::assignor::{Assignor, RangeAssignor, TopicPartition};
use group_fsm::{
    Action, Config, Event, GroupProtocol, Input, Instant, Member, RequestId, StateKind,
    TransportError,
};
use kafka_wire::{ApiKey, ClientCodec, CorrelationId};

/// How members place requests on connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lanes {
    /// Held requests (JoinGroup, SyncGroup) on their own connection: no head-of-line blocking.
    Separate,
    /// Everything on one connection (the naive way).
    Single,
}

pub struct Conn {
    pub id: u64,
    codec: ClientCodec,
    requests: BTreeMap<CorrelationId, (RequestId, u64)>,
}

pub struct SimMember {
    pub member: Member,
    pub alive: bool,
    pub events: Vec<(u64, Event)>,
    /// Every request it sent: when, and which API.
    pub sent: Vec<(u64, ApiKey)>,
    pub main: Conn,
    pub lane: Conn,
    /// Answer revocations after this many ms.
    pub revoke_delay: u64,
    pending_revoke: Option<u64>,
    pub generations: Vec<i32>,
    pub topics: Vec<String>,
    /// The app does not poll before this time (a slow application).
    pub paused_until: u64,
    client_id: String,
    /// Classic or KIP-848.
    pub protocol: GroupProtocol,
    /// The group id.
    pub group: String,
}

#[derive(Debug)]
enum Msg {
    ToBroker {
        conn: u64,
        frame: Bytes,
    },
    ToMember {
        member: usize,
        conn: u64,
        frame: Bytes,
    },
}

pub struct World {
    pub now: u64,
    pub broker: ModelBroker,
    pub members: Vec<SimMember>,
    pub latency: u64,
    pub lanes: Lanes,
    queue: BTreeMap<(u64, u64), Msg>,
    seq: u64,
    next_conn: u64,
    pub poll_every: u64,
    next_poll: u64,
    pub log: Vec<String>,
    /// Versions handed to each new member before it subscribes (as an adapter does after
    /// ApiVersions); `None`: members use the highest versions kafka-wire implements.
    pub versions: Option<kafka_wire::NegotiatedVersions>,
}

impl World {
    pub fn new(topics: &[(&str, i32)]) -> Self {
        Self::with_broker(BrokerConfig::default(), topics)
    }

    /// A world whose model broker uses `config`.
    pub fn with_broker(config: BrokerConfig, topics: &[(&str, i32)]) -> Self {
        let mut broker = ModelBroker::new(config);
        for (t, n) in topics {
            broker.create_topic(t, *n);
        }
        Self {
            now: 0,
            broker,
            members: Vec::new(),
            latency: 1,
            lanes: Lanes::Separate,
            queue: BTreeMap::new(),
            seq: 0,
            next_conn: 1,
            poll_every: 1000,
            next_poll: 0,
            log: Vec::new(),
            versions: None,
        }
    }

    pub fn config(group: &str, i: usize) -> Config {
        let mut c = Config::new(group);
        c.client_id = format!("m{i}");
        c.session_timeout = core::time::Duration::from_secs(10);
        c.heartbeat_interval = core::time::Duration::from_secs(3);
        c.max_poll_interval = core::time::Duration::from_secs(30);
        c.rng_seed = i as u64;
        c
    }

    fn conn(&mut self, client_id: &str) -> Conn {
        let id = self.next_conn;
        self.next_conn += 1;
        Conn {
            id,
            codec: ClientCodec::new(Some(client_id.into())),
            requests: BTreeMap::new(),
        }
    }

    /// Adds a member subscribed to `topics` with the given assignors; returns its index.
    ///
    /// `config.group_protocol` picks the protocol: [`GroupProtocol::Consumer`] members speak
    /// ConsumerGroupHeartbeat to the model broker's KIP-848 coordinator (their `assignors`
    /// are unused; the broker assigns).
    pub fn add_member_with(
        &mut self,
        config: Config,
        assignors: Vec<Box<dyn Assignor>>,
        topics: &[&str],
    ) -> usize {
        let client_id = config.client_id.clone();
        let protocol = config.group_protocol;
        let group = config.group_id.clone();
        let mut member = Member::new(config, assignors, Instant::from_millis(self.now));
        if let Some(v) = &self.versions {
            member.handle(Instant::from_millis(self.now), Input::Versions(v.clone()));
        }
        member.handle(
            Instant::from_millis(self.now),
            Input::Subscribe(topics.iter().map(|t| t.to_string()).collect()),
        );
        let main = self.conn(&client_id);
        let lane = self.conn(&client_id);
        self.members.push(SimMember {
            member,
            alive: true,
            events: Vec::new(),
            sent: Vec::new(),
            main,
            lane,
            revoke_delay: 0,
            pending_revoke: None,
            generations: Vec::new(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            paused_until: 0,
            client_id,
            protocol,
            group,
        });
        let i = self.members.len() - 1;
        self.drain(i);
        i
    }

    /// Adds a KIP-848 member (`group.protocol=consumer`) subscribed to `topics`, asking the
    /// broker for `server_assignor` (`None`: the broker's default); returns its index.
    pub fn add_consumer_member(
        &mut self,
        group: &str,
        topics: &[&str],
        server_assignor: Option<&str>,
    ) -> usize {
        let i = self.members.len();
        let mut config = Self::config(group, i);
        config.group_protocol = GroupProtocol::Consumer;
        config.server_assignor = server_assignor.map(str::to_owned);
        self.add_member_with(config, Vec::new(), topics)
    }

    /// Whether member `i` speaks KIP-848.
    pub fn is_consumer_protocol(&self, i: usize) -> bool {
        self.members[i].protocol == GroupProtocol::Consumer
    }

    pub fn add_member(&mut self, group: &str, topics: &[&str]) -> usize {
        let i = self.members.len();
        self.add_member_with(
            Self::config(group, i),
            vec![Box::new(RangeAssignor)],
            topics,
        )
    }

    fn push(&mut self, at: u64, msg: Msg) {
        self.seq += 1;
        self.queue.insert((at, self.seq), msg);
    }

    /// Drains a member's actions into the network.
    fn drain(&mut self, i: usize) {
        while let Some(a) = self.members[i].member.poll_action() {
            match a {
                Action::Send(s) => {
                    if std::env::var_os("WORLD_TRACE").is_some() {
                        self.log.push(format!(
                            "{:>8} m{i} send {:?} v{} id={}",
                            self.now,
                            s.request.api_key(),
                            s.version,
                            s.id.0
                        ));
                    }
                    let held = s.held_for.is_some();
                    let use_lane = held && self.lanes == Lanes::Separate;
                    let m = &mut self.members[i];
                    m.sent.push((self.now, s.request.api_key()));
                    let conn = if use_lane { &mut m.lane } else { &mut m.main };
                    let mut buf = BytesMut::new();
                    let corr = conn
                        .codec
                        .encode_any(&s.request, s.version, &mut buf)
                        .expect("member requests encode");
                    let deadline = self.now + s.timeout.as_millis() as u64;
                    conn.requests.insert(corr, (s.id, deadline));
                    let conn_id = conn.id;
                    let frame = buf.freeze().slice(4..);
                    self.push(
                        self.now + self.latency,
                        Msg::ToBroker {
                            conn: conn_id,
                            frame,
                        },
                    );
                }
                Action::Event(e) => {
                    if let Event::Revoke { partitions, .. } = &e {
                        if self.members[i].protocol == GroupProtocol::Consumer {
                            self.check_kept_not_revoked(i, partitions);
                        }
                    }
                    let m = &mut self.members[i];
                    if let Event::Joined { generation, .. } = &e {
                        m.generations.push(*generation);
                    }
                    if let Event::Revoke { .. } = &e {
                        m.pending_revoke = Some(self.now + m.revoke_delay);
                    }
                    self.log.push(format!("{:>8} m{i} {e:?}", self.now));
                    m.events.push((self.now, e));
                }
            }
        }
    }

    fn next_time(&self) -> Option<u64> {
        let mut t: Option<u64> = None;
        let mut consider = |x: u64| t = Some(t.map_or(x, |y: u64| y.min(x)));
        if let Some(((at, _), _)) = self.queue.first_key_value() {
            consider(*at);
        }
        if let Some(b) = self.broker.poll_timeout() {
            consider(b);
        }
        for m in self.members.iter().filter(|m| m.alive) {
            if let Some(x) = m.member.poll_timeout() {
                consider(x.as_millis());
            }
            if let Some(x) = m.pending_revoke {
                consider(x);
            }
            for c in [&m.main, &m.lane] {
                for (_, d) in c.requests.values() {
                    consider(*d);
                }
            }
        }
        consider(self.next_poll);
        t
    }

    /// Processes everything due at the next event time; false if nothing is scheduled.
    pub fn step(&mut self) -> bool {
        let Some(t) = self.next_time() else {
            return false;
        };
        self.now = self.now.max(t);
        let now = self.now;
        // Network deliveries due now.
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let msg = entry.remove();
            match msg {
                Msg::ToBroker { conn, frame } => self.broker.handle_frame(now, conn, frame),
                Msg::ToMember {
                    member,
                    conn,
                    frame,
                } => self.deliver(member, conn, frame),
            }
        }
        self.broker.handle_timeout(now);
        self.route_broker_output();
        // Member timers, revocation answers, request timeouts, polls.
        for i in 0..self.members.len() {
            if !self.members[i].alive {
                continue;
            }
            let inst = Instant::from_millis(now);
            if self.members[i].pending_revoke.is_some_and(|x| x <= now) {
                self.members[i].pending_revoke = None;
                self.members[i].member.handle(inst, Input::RevocationDone);
            }
            // A request timeout closes its connection, as the Java client does: whatever the
            // broker still holds there (a parked request it will never answer) goes with it.
            let sm = &self.members[i];
            let expired = |c: &Conn| c.requests.values().any(|(_, d)| *d <= now);
            let (cut_main, cut_lane) = (expired(&sm.main), expired(&sm.lane));
            if cut_main || cut_lane {
                self.cut(i, cut_main, cut_lane, now);
            }
            if now >= self.next_poll && now >= self.members[i].paused_until {
                self.members[i].member.handle(inst, Input::Poll);
            }
            self.members[i].member.handle_timeout(inst);
            self.drain(i);
        }
        if now >= self.next_poll {
            self.next_poll = now + self.poll_every;
        }
        self.route_broker_output();
        true
    }

    fn route_broker_output(&mut self) {
        while let Some((conn, frame)) = self.broker.poll_output() {
            let member = self
                .members
                .iter()
                .position(|m| m.main.id == conn || m.lane.id == conn);
            if let Some(member) = member {
                self.push(
                    self.now + self.latency,
                    Msg::ToMember {
                        member,
                        conn,
                        frame,
                    },
                );
            }
        }
    }

    fn deliver(&mut self, i: usize, conn: u64, frame: Bytes) {
        if !self.members[i].alive {
            return;
        }
        let m = &mut self.members[i];
        if m.main.id != conn && m.lane.id != conn {
            return; // a connection that was cut: its late frames are gone
        }
        let c = if m.main.id == conn {
            &mut m.main
        } else {
            &mut m.lane
        };
        let Ok((corr, _api, _v, resp)) = c.codec.decode_response(frame) else {
            return; // timed out earlier and forgotten
        };
        let Some((rid, _)) = c.requests.remove(&corr) else {
            return;
        };
        m.member.handle(
            Instant::from_millis(self.now),
            Input::Response {
                id: rid,
                response: resp,
            },
        );
        self.drain(i);
    }

    /// Runs until virtual time `until` (ms), checking `check` after every step.
    pub fn run_until(&mut self, until: u64, mut check: impl FnMut(&World)) {
        let mut steps = 0u64;
        while self.now < until {
            let Some(t) = self.next_time() else { break };
            if t > until {
                self.now = until;
                break;
            }
            self.step();
            check(self);
            steps += 1;
            assert!(
                steps < 2_000_000,
                "livelock: too many steps before {until} ms"
            );
        }
    }

    pub fn run_for(&mut self, ms: u64) {
        let until = self.now + ms;
        self.run_until(until, |w| w.check_invariants());
    }

    /// The member crashes: no more input, no LeaveGroup; its connections go away.
    pub fn crash(&mut self, i: usize) {
        self.members[i].alive = false;
        let (a, b) = (self.members[i].main.id, self.members[i].lane.id);
        self.broker.disconnect(a);
        self.broker.disconnect(b);
    }

    /// Replaces the chosen connections of member `i` with fresh ones; their requests fail
    /// (`TimedOut` when past their deadline, else `Disconnected`).
    fn cut(&mut self, i: usize, main: bool, lane: bool, now: u64) {
        let client_id = self.members[i].client_id.clone();
        let mut old = Vec::new();
        if main {
            let fresh = self.conn(&client_id);
            old.push(core::mem::replace(&mut self.members[i].main, fresh));
        }
        if lane {
            let fresh = self.conn(&client_id);
            old.push(core::mem::replace(&mut self.members[i].lane, fresh));
        }
        let inst = Instant::from_millis(now);
        for c in old {
            self.broker.disconnect(c.id);
            for (rid, deadline) in c.requests.into_values() {
                let error = if deadline <= now {
                    TransportError::TimedOut
                } else {
                    TransportError::Disconnected
                };
                self.members[i]
                    .member
                    .handle(inst, Input::Failed { id: rid, error });
            }
        }
        self.drain(i);
    }

    /// Cuts member `i`'s connections: the broker forgets them, requests in flight fail with
    /// `Disconnected`, and the member gets fresh connections (a reconnect).
    pub fn disconnect(&mut self, i: usize) {
        if self.members[i].alive {
            self.cut(i, true, true, self.now);
        }
    }

    pub fn close(&mut self, i: usize) {
        let now = Instant::from_millis(self.now);
        self.members[i].member.handle(now, Input::Close);
        self.drain(i);
    }

    pub fn handle(&mut self, i: usize, input: Input) {
        if let Input::Subscribe(t) = &input {
            self.members[i].topics = t.clone();
        }
        let now = Instant::from_millis(self.now);
        self.members[i].member.handle(now, input);
        self.drain(i);
    }

    /// No partition is owned by two live members at once; generations never go back.
    pub fn check_invariants(&self) {
        let mut owner: BTreeMap<&TopicPartition, usize> = BTreeMap::new();
        for (i, m) in self.members.iter().enumerate() {
            if !m.alive {
                continue;
            }
            for tp in m.member.assignment() {
                if let Some(j) = owner.insert(tp, i) {
                    panic!(
                        "t={} {tp:?} owned by m{j} and m{i}\n{}",
                        self.now,
                        self.log.join("\n")
                    );
                }
            }
            // Held requests (JoinGroup, SyncGroup) never park the connection that carries
            // heartbeats and commits.
            if self.lanes == Lanes::Separate {
                assert!(
                    !self.broker.is_busy(m.main.id),
                    "t={} m{i}: a request is parked on the heartbeat connection",
                    self.now
                );
            }
            // KIP-848: what the member uses is a subset of what the broker holds for it
            // (assigned or still pending revocation).
            if m.protocol == GroupProtocol::Consumer && !m.member.assignment().is_empty() {
                self.check_consumer_member(i);
            }
            for w in m.generations.windows(2) {
                assert!(
                    w[0] <= w[1],
                    "m{i} generation went back: {:?}",
                    m.generations
                );
            }
        }
    }

    /// KIP-848: a member never revokes a partition the broker lets it keep (only the ones
    /// pending revocation), except when it leaves or drops a topic from its subscription.
    fn check_kept_not_revoked(&self, i: usize, partitions: &[TopicPartition]) {
        let m = &self.members[i];
        if matches!(
            m.member.state(),
            StateKind::Leaving | StateKind::Closed | StateKind::Failed
        ) {
            return;
        }
        let Some(g) = self.broker.consumer_group(&m.group) else {
            return;
        };
        let Some(view) = g
            .members
            .iter()
            .find(|v| v.member_id == m.member.member_id())
        else {
            return;
        };
        for tp in partitions.iter().filter(|tp| m.topics.contains(&tp.topic)) {
            let key = (tp.topic.clone(), tp.partition);
            assert!(
                !view.assigned.contains(&key),
                "t={} m{i} revokes {tp:?}, which it keeps: {view:?}\n{}",
                self.now,
                self.log.join("\n")
            );
        }
    }

    fn check_consumer_member(&self, i: usize) {
        let m = &self.members[i];
        let Some(g) = self.broker.consumer_group(&m.group) else {
            return;
        };
        let Some(view) = g
            .members
            .iter()
            .find(|v| v.member_id == m.member.member_id())
        else {
            // Removed by the broker (session or rebalance timeout) before the member noticed:
            // its partitions are free on the broker, so only the exclusivity check applies.
            return;
        };
        for tp in m.member.assignment() {
            let key = (tp.topic.clone(), tp.partition);
            assert!(
                view.assigned.contains(&key) || view.pending_revocation.contains(&key),
                "t={} m{i} uses {tp:?}, which the broker does not hold for it: {view:?}\n{}",
                self.now,
                self.log.join("\n")
            );
        }
    }

    /// Every partition of `topics` owned by exactly one live stable member.
    pub fn fully_assigned(&self, topics: &[(&str, i32)]) -> bool {
        let mut owned: BTreeMap<TopicPartition, usize> = BTreeMap::new();
        for m in self
            .members
            .iter()
            .filter(|m| m.alive && m.member.state() != StateKind::Closed)
        {
            if m.member.state() != StateKind::Stable {
                return false;
            }
            for tp in m.member.assignment() {
                *owned.entry(tp.clone()).or_default() += 1;
            }
        }
        let total: i32 = topics.iter().map(|(_, n)| n).sum();
        owned.len() == total as usize && owned.values().all(|&c| c == 1)
    }

    pub fn assignment(&self, i: usize) -> Vec<TopicPartition> {
        self.members[i].member.assignment().to_vec()
    }
}
