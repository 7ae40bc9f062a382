//! A consumer: a group member ([`group_fsm::Member`]) wired to the connections ([`Net`]).
//!
//! [`Consumer`] is what an adapter drives. It routes the member's requests (the coordinator on
//! its node's ordinary connection, held requests on the node's held lane, Metadata and
//! FindCoordinator to any broker), feeds it the negotiated versions before it sends anything,
//! learns broker addresses from Metadata and FindCoordinator, and turns the member's events
//! into [`ConsumerEvent`]s.
//!
//! Adapter contract: execute every [`Io`] from [`Consumer::poll_io`], report socket activity
//! with [`Consumer::handle_io`], call [`Consumer::handle_timeout`] when
//! [`Consumer::poll_timeout`] passes, and hand [`Consumer::poll_event`]'s events to the app.
//! After any call, drain both queues.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use group_fsm::assignor::{Assignor, TopicPartition};
use group_fsm::{Action, Destination, Event, Input, Instant, Member, Offset, RequestId};
use group_fsm::{Config as GroupConfig, TransportError};
use kafka_wire::AnyResponse;

use crate::fetch::{ConsumerRecord, FetchConfig, FetchEvent, FetchRequestId, Fetcher};
use crate::net::{
    Io, IoEvent, Lane, Net, NetConfig, NetError, NetEvent, NetRequest, Route, Tag, Version,
};

/// Configuration of a [`Consumer`].
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Connections.
    pub net: NetConfig,
    /// The group member.
    pub group: GroupConfig,
    /// Topics to subscribe to.
    pub topics: Vec<String>,
    /// Fetching.
    pub fetch: FetchConfig,
}

/// What the consumer tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerEvent {
    /// The member joined a generation of the group.
    Joined {
        /// The generation.
        generation: i32,
        /// Our member id in it.
        member_id: String,
        /// Whether the coordinator made us the leader (we computed the assignment).
        leader: bool,
    },
    /// Partitions now ours (cooperative: only the new ones).
    Assigned {
        /// The partitions.
        partitions: Vec<TopicPartition>,
        /// The generation.
        generation: i32,
    },
    /// Partitions given up in a rebalance (their positions were committed first, with or
    /// without auto-commit).
    Revoked {
        /// The partitions.
        partitions: Vec<TopicPartition>,
        /// The generation they belonged to.
        generation: i32,
    },
    /// Partitions lost without a chance to commit (fenced, session expired).
    Lost {
        /// The partitions.
        partitions: Vec<TopicPartition>,
    },
    /// The member owns nothing in this generation.
    Idle {
        /// The generation.
        generation: i32,
    },
    /// A commit finished: offsets with their error codes (0 = committed).
    Committed {
        /// The offsets.
        offsets: Vec<(Offset, i16)>,
    },
    /// A record (its position is committed with the next commit).
    Message(ConsumerRecord),
    /// A recoverable problem, for logs.
    Warning(String),
    /// A fatal error: the consumer stopped.
    Fatal(String),
    /// The consumer left the group (or stopped, for static members) after [`Consumer::close`].
    Closed,
}

#[derive(Debug, Clone, Copy)]
enum Owner {
    Member(RequestId),
    Fetch(FetchRequestId),
    Metadata,
}

/// How often [`Consumer::poll`] passes the app's liveness and positions on to the member.
const POLL_EVERY: core::time::Duration = core::time::Duration::from_millis(100);

/// The consumer. See the [module docs](self).
pub struct Consumer {
    net: Net,
    member: Member,
    fetcher: Fetcher,
    auto_commit: bool,
    /// Records were handed out since the member last got the positions.
    positions_dirty: bool,
    last_poll: Option<Instant>,
    metadata_in_flight: bool,
    /// The fetcher asked for fresh metadata.
    want_metadata: bool,
    /// The app drained the fetcher's records: it may fetch again (at the next timeout call).
    needs_pump: bool,
    /// Records were handed out since the fetcher's queue was last found empty.
    delivered: bool,
    topics: Vec<String>,
    owners: BTreeMap<Tag, Owner>,
    next_tag: u64,
    /// The member was given versions and its subscription.
    started: bool,
    /// The bootstrap Metadata request has been sent.
    kicked: bool,
    closed: bool,
    events: VecDeque<ConsumerEvent>,
}

impl core::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Consumer")
            .field("net", &self.net)
            .field("member_id", &self.member.member_id())
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl Consumer {
    /// A consumer that connects to the bootstrap brokers on the first call to
    /// [`handle_timeout`](Self::handle_timeout) (its [`poll_timeout`](Self::poll_timeout) is
    /// `now` until then).
    #[must_use]
    pub fn new(config: ConsumerConfig, assignors: Vec<Box<dyn Assignor>>, now: Instant) -> Self {
        let auto_commit = config.group.auto_commit;
        let member = Member::new(config.group, assignors, now);
        Self {
            net: Net::new(config.net),
            member,
            fetcher: Fetcher::new(config.fetch),
            auto_commit,
            positions_dirty: false,
            last_poll: None,
            metadata_in_flight: false,
            want_metadata: false,
            needs_pump: false,
            delivered: false,
            topics: config.topics,
            owners: BTreeMap::new(),
            next_tag: 0,
            started: false,
            kicked: false,
            closed: false,
            events: VecDeque::new(),
        }
    }

    /// The group member (read-only).
    #[must_use]
    pub fn member(&self) -> &Member {
        &self.member
    }

    /// The fetcher (read-only): positions, assignment.
    #[must_use]
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// The connections (read-only).
    #[must_use]
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// Whether [`ConsumerEvent::Closed`] or [`ConsumerEvent::Fatal`] was reported.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Takes what a socket did.
    pub fn handle_io(&mut self, now: Instant, event: IoEvent) {
        self.net.handle(now, event);
        self.pump(now);
    }

    /// Acts on deadlines at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.kicked {
            self.kicked = true;
            self.kick(now);
        }
        self.net.handle_timeout(now);
        // The member's timers include auto-commit: it must commit what the app has received,
        // however long ago the app last called `poll`.
        self.sync_positions(now);
        self.member.handle_timeout(now);
        self.pump(now);
    }

    /// Commits these offsets now.
    pub fn commit(&mut self, now: Instant, offsets: Vec<Offset>) {
        self.member.handle(now, Input::Commit(offsets));
        self.pump(now);
    }

    /// Commits what the app has received so far (every partition's position); auto-commit
    /// does this on its own interval, on revocation and on close.
    pub fn commit_positions(&mut self, now: Instant) {
        let positions = self.fetcher.positions();
        self.member.handle(now, Input::Positions(positions.clone()));
        self.positions_dirty = false;
        self.member.handle(now, Input::Commit(positions));
        self.pump(now);
    }

    /// Leaves the group cleanly: revokes (committing with auto-commit), sends LeaveGroup for
    /// dynamic members, then reports [`ConsumerEvent::Closed`].
    pub fn close(&mut self, now: Instant) {
        if !self.started {
            self.closed = true;
            self.net.close_all(now);
            self.events.push_back(ConsumerEvent::Closed);
            return;
        }
        self.sync_positions(now);
        self.member.handle(now, Input::Close);
        self.pump(now);
    }

    /// The app is alive (resets `max.poll.interval`); call it whenever it takes events. Cheap:
    /// the member hears of it (and of the new positions) at most every 100 ms.
    pub fn poll(&mut self, now: Instant) {
        if self
            .last_poll
            .is_some_and(|t| now.saturating_duration_since(t) < POLL_EVERY)
        {
            return;
        }
        self.last_poll = Some(now);
        self.member.handle(now, Input::Poll);
        self.sync_positions(now);
        self.pump(now);
    }

    fn sync_positions(&mut self, now: Instant) {
        if self.positions_dirty {
            self.positions_dirty = false;
            self.member
                .handle(now, Input::Positions(self.fetcher.positions()));
        }
    }

    /// The next thing the adapter must do.
    pub fn poll_io(&mut self) -> Option<Io> {
        self.net.poll_io()
    }

    /// The next event for the app. Records are taken from the fetcher only when nothing else
    /// waits, at the app's pace (a partition is fetched again once its records are taken).
    pub fn poll_event(&mut self) -> Option<ConsumerEvent> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        loop {
            let Some(event) = self.fetcher.poll_event() else {
                if self.delivered {
                    self.delivered = false;
                    self.needs_pump = true;
                }
                return None;
            };
            match event {
                FetchEvent::Record(r) => {
                    self.positions_dirty = true;
                    self.delivered = true;
                    return Some(ConsumerEvent::Message(r));
                }
                FetchEvent::NeedMetadata => self.want_metadata = true,
                FetchEvent::OffsetReset { .. } => {}
                FetchEvent::Error(e) => {
                    return Some(ConsumerEvent::Warning(alloc::format!("fetch: {e}")));
                }
            }
        }
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.kicked {
            return Some(Instant::ZERO);
        }
        if self.needs_pump || (self.want_metadata && !self.metadata_in_flight && self.started) {
            return Some(Instant::ZERO);
        }
        [
            self.net.poll_timeout(),
            self.member.poll_timeout(),
            self.fetcher.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Opens the first connection with a Metadata request for brokers only (no topics; at v0,
    /// where an empty list means every topic, it lists them too); the member starts once a
    /// broker has negotiated versions.
    fn kick(&mut self, now: Instant) {
        use kafka_wire::generated::metadata_request::MetadataRequest;
        let req = MetadataRequest {
            topics: Some(Vec::new()),
            ..Default::default()
        };
        let tag = self.tag();
        self.send_any_metadata(now, tag, req);
    }

    /// Sends a Metadata request to any broker, at the highest version it supports.
    fn send_any_metadata(
        &mut self,
        now: Instant,
        tag: Tag,
        req: kafka_wire::generated::metadata_request::MetadataRequest,
    ) {
        self.net.send(
            now,
            NetRequest {
                tag,
                route: Route::Any,
                lane: Lane::Ordinary,
                request: kafka_wire::AnyRequest::Metadata(req),
                version: Version::Highest,
                timeout: core::time::Duration::from_secs(30),
            },
        );
    }

    fn tag(&mut self) -> Tag {
        self.next_tag += 1;
        Tag(self.next_tag)
    }

    /// Moves events between the parts until nothing changes.
    fn pump(&mut self, now: Instant) {
        self.needs_pump = false;
        loop {
            let mut progressed = false;
            while let Some(ev) = self.net.poll_event() {
                progressed = true;
                self.on_net(now, ev);
            }
            while let Some(action) = self.member.poll_action() {
                progressed = true;
                self.on_member(now, action);
            }
            if self.want_metadata && !self.metadata_in_flight && self.started {
                self.want_metadata = false;
                self.send_metadata(now);
                progressed = true;
            }
            let net = &self.net;
            let versions = |node: i32| net.versions(node).cloned();
            let mut sends = Vec::new();
            while let Some(s) = self.fetcher.poll_request(now, &versions) {
                sends.push(s);
            }
            for s in sends {
                progressed = true;
                let tag = self.tag();
                self.owners.insert(tag, Owner::Fetch(s.id));
                self.net.send(
                    now,
                    NetRequest {
                        tag,
                        route: Route::Node(s.node),
                        lane: Lane::Ordinary,
                        request: s.request,
                        version: Version::Exact(s.version),
                        timeout: s.timeout,
                    },
                );
            }
            if !progressed {
                break;
            }
        }
    }

    fn on_net(&mut self, now: Instant, ev: NetEvent) {
        match ev {
            NetEvent::Negotiated { node } => {
                if !self.started && !self.closed {
                    if let Some(v) = self.net.versions(node).cloned() {
                        self.started = true;
                        self.member.handle(now, Input::Versions(v));
                        self.member
                            .handle(now, Input::Subscribe(self.topics.clone()));
                    }
                }
            }
            NetEvent::Response { tag, response, .. } => {
                self.learn_brokers(now, &response);
                match self.owners.remove(&tag) {
                    Some(Owner::Member(id)) => {
                        self.member.handle(now, Input::Response { id, response });
                    }
                    Some(Owner::Fetch(id)) => self.fetcher.handle_response(now, id, response),
                    Some(Owner::Metadata) => self.metadata_in_flight = false,
                    None => {}
                }
            }
            NetEvent::Failed { tag, error } => {
                if matches!(error, NetError::Encode(_) | NetError::Unsupported { .. }) {
                    self.events
                        .push_back(ConsumerEvent::Warning(alloc::format!("request: {error}")));
                }
                match self.owners.remove(&tag) {
                    Some(Owner::Member(id)) => {
                        let error = match error {
                            NetError::TimedOut => TransportError::TimedOut,
                            _ => TransportError::Disconnected,
                        };
                        self.member.handle(now, Input::Failed { id, error });
                    }
                    Some(Owner::Fetch(id)) => self.fetcher.handle_failed(now, id),
                    Some(Owner::Metadata) => {
                        self.metadata_in_flight = false;
                        self.want_metadata = true;
                    }
                    None => {}
                }
            }
            NetEvent::ConnectionError { node, reason } => {
                self.events.push_back(ConsumerEvent::Warning(alloc::format!(
                    "broker {node}: {reason}"
                )));
            }
        }
    }

    /// Broker addresses and partition leaders from Metadata responses; connections to the
    /// leaders of subscribed topics are opened ahead (the fetcher sends only to brokers whose
    /// versions are known).
    fn learn_brokers(&mut self, now: Instant, response: &AnyResponse) {
        if let AnyResponse::Metadata(md) = response {
            for b in &md.brokers {
                if let Ok(port) = u16::try_from(b.port) {
                    self.net.set_broker(now, b.node_id, &b.host, port);
                }
            }
            self.fetcher.update_metadata(md);
            let leaders: alloc::collections::BTreeSet<i32> = md
                .topics
                .iter()
                .filter(|t| {
                    t.name
                        .as_deref()
                        .is_some_and(|n| self.topics.iter().any(|s| s.as_str() == n))
                })
                .flat_map(|t| t.partitions.iter().map(|p| p.leader_id))
                .filter(|&l| l >= 0)
                .collect();
            for node in leaders {
                self.net.connect(now, node);
            }
        }
    }

    /// Metadata for the subscribed topics (the fetcher asked: leaders moved).
    fn send_metadata(&mut self, now: Instant) {
        use kafka_wire::generated::metadata_request::{MetadataRequest, MetadataRequestTopic};
        let req = MetadataRequest {
            topics: Some(
                self.topics
                    .iter()
                    .map(|t| MetadataRequestTopic {
                        name: Some(t.as_str().into()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        };
        let tag = self.tag();
        self.owners.insert(tag, Owner::Metadata);
        self.metadata_in_flight = true;
        self.send_any_metadata(now, tag, req);
    }

    fn on_member(&mut self, now: Instant, action: Action) {
        match action {
            Action::Send(s) => {
                let route = match &s.to {
                    Destination::AnyBroker => Route::Any,
                    Destination::Coordinator {
                        node_id,
                        host,
                        port,
                    } => {
                        if let Ok(port) = u16::try_from(*port) {
                            self.net.set_broker(now, *node_id, host, port);
                        }
                        Route::Node(*node_id)
                    }
                };
                let lane = if s.held_for.is_some() {
                    Lane::Held
                } else {
                    Lane::Ordinary
                };
                let tag = self.tag();
                self.owners.insert(tag, Owner::Member(s.id));
                self.net.send(
                    now,
                    NetRequest {
                        tag,
                        route,
                        lane,
                        request: s.request,
                        version: Version::Exact(s.version),
                        timeout: s.timeout,
                    },
                );
            }
            Action::Event(e) => self.on_member_event(now, e),
        }
    }

    fn on_member_event(&mut self, now: Instant, e: Event) {
        match e {
            Event::Assigned {
                partitions,
                generation,
            } => {
                self.fetcher.assign(&partitions);
                self.member
                    .handle(now, Input::FetchCommitted(partitions.clone()));
                self.events.push_back(ConsumerEvent::Assigned {
                    partitions,
                    generation,
                });
            }
            Event::Revoke {
                partitions,
                generation,
            } => {
                // Stop fetching them; their positions go to the member, which commits them
                // (auto-commit) before it acknowledges the revocation.
                let positions = self.fetcher.remove(&partitions);
                self.positions_dirty = false;
                self.member.handle(now, Input::Positions(positions.clone()));
                if !self.auto_commit && !positions.is_empty() {
                    // Without auto-commit nothing else commits them: do it before the
                    // partitions go, so their next owner starts where we stopped.
                    self.member.handle(now, Input::Commit(positions));
                }
                self.member.handle(now, Input::RevocationDone);
                self.events.push_back(ConsumerEvent::Revoked {
                    partitions,
                    generation,
                });
            }
            Event::Lost { partitions } => {
                let _ = self.fetcher.remove(&partitions);
                self.events.push_back(ConsumerEvent::Lost { partitions });
            }
            Event::CommittedOffsets { offsets } => self.fetcher.committed(&offsets),
            Event::Idle { generation } => self.events.push_back(ConsumerEvent::Idle { generation }),
            Event::Committed { results } => self
                .events
                .push_back(ConsumerEvent::Committed { offsets: results }),
            Event::Warning(w) => self.events.push_back(ConsumerEvent::Warning(w.to_string())),
            Event::Fatal(f) => {
                self.closed = true;
                self.net.close_all(now);
                self.events.push_back(ConsumerEvent::Fatal(f.to_string()));
            }
            Event::Rejected(r) => self.events.push_back(ConsumerEvent::Warning(r.to_string())),
            Event::Closed | Event::Left => {
                self.closed = true;
                self.net.close_all(now);
                self.events.push_back(ConsumerEvent::Closed);
            }
            Event::Joined {
                generation,
                member_id,
                leader,
            } => self.events.push_back(ConsumerEvent::Joined {
                generation,
                member_id,
                leader,
            }),
            Event::CoordinatorFound { .. } => {}
        }
    }
}

/// A consumer can move to another thread (async runtimes need this).
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Consumer>();
};
