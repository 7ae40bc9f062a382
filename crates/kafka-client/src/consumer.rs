//! A consumer: a group member ([`group_fsm::Member`]) wired to the connections
//! ([`Net`]).
//!
//! [`Consumer`] is what an adapter drives. It routes the member's requests (the coordinator on
//! its node's ordinary connection, held requests on the node's held lane, Metadata and
//! FindCoordinator to any broker), feeds it the negotiated versions before it sends anything,
//! learns broker addresses from Metadata and FindCoordinator, and turns the member's events
//! into [`ConsumerEvent`]s. It is a [`GroupSet`] of one group, with fetches on their own
//! lane ([`Consumer::LANES`]).
//!
//! Adapter contract: execute every [`Io`] from [`Consumer::poll_io`], report socket activity
//! with [`Consumer::handle_io`], call [`Consumer::handle_timeout`] when
//! [`Consumer::poll_timeout`] passes, and hand [`Consumer::poll_event`]'s events to the app.
//! After any call, drain both queues.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use group_fsm::assignor::{Assignor, TopicPartition};
use group_fsm::{Config as GroupConfig, Instant, Member, Offset};

use crate::fetch::{ConsumerRecord, FetchConfig, Fetcher};
use crate::group_set::{GroupHandle, GroupSet, GroupSetConfig, GroupSpec, LanePolicy};
use crate::net::{Io, IoEvent, Net, NetConfig};

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

/// The consumer. See the [module docs](self).
pub struct Consumer {
    set: GroupSet,
    group: GroupHandle,
}

impl core::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Consumer")
            .field("net", self.set.net())
            .field("member_id", &self.member().member_id())
            .finish_non_exhaustive()
    }
}

impl Consumer {
    /// The connections of a consumer, per broker: one ordinary connection (heartbeats, commits,
    /// metadata), one held lane (JoinGroup, SyncGroup) and a fetch lane. Like Java's and
    /// librdkafka's separate coordinator connection, the fetch lane keeps commits and
    /// heartbeats from waiting behind a Fetch the broker parks for its max wait: a cooperative
    /// revocation's commit, and so the rejoin, used to wait up to 500 ms behind one.
    pub const LANES: LanePolicy = LanePolicy::Separate {
        max_held_lanes: 1,
        fetch_lane: true,
    };

    /// A consumer that connects to the bootstrap brokers on the first call to
    /// [`handle_timeout`](Self::handle_timeout) (its [`poll_timeout`](Self::poll_timeout) is
    /// `now` until then).
    #[must_use]
    pub fn new(config: ConsumerConfig, assignors: Vec<Box<dyn Assignor>>, now: Instant) -> Self {
        let mut set = GroupSet::new(GroupSetConfig {
            net: config.net,
            lanes: Self::LANES,
            share_fetches: false,
        });
        let group = set.add_group(
            now,
            GroupSpec {
                group: config.group,
                topics: config.topics,
                fetch: config.fetch,
                assignors,
            },
        );
        Self { set, group }
    }

    /// The group member (read-only).
    #[must_use]
    pub fn member(&self) -> &Member {
        self.set
            .member(self.group)
            .expect("a Consumer never forgets its group")
    }

    /// The fetcher (read-only): positions, assignment.
    #[must_use]
    pub fn fetcher(&self) -> &Fetcher {
        self.set
            .fetcher(self.group)
            .expect("a Consumer never forgets its group")
    }

    /// The connections (read-only).
    #[must_use]
    pub fn net(&self) -> &Net {
        self.set.net()
    }

    /// Whether [`ConsumerEvent::Closed`] or [`ConsumerEvent::Fatal`] was reported.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.set.is_closed(self.group)
    }

    /// Takes what a socket did.
    pub fn handle_io(&mut self, now: Instant, event: IoEvent) {
        self.set.handle_io(now, event);
    }

    /// Acts on deadlines at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.set.handle_timeout(now);
    }

    /// Commits these offsets now.
    pub fn commit(&mut self, now: Instant, offsets: Vec<Offset>) {
        self.set.commit(now, self.group, offsets);
    }

    /// Commits what the app has received so far (every partition's position); auto-commit
    /// does this on its own interval, on revocation and on close.
    pub fn commit_positions(&mut self, now: Instant) {
        self.set.commit_positions(now, self.group);
    }

    /// Leaves the group cleanly: revokes (committing with auto-commit), sends LeaveGroup for
    /// dynamic members, then reports [`ConsumerEvent::Closed`].
    pub fn close(&mut self, now: Instant) {
        self.set.close_group(now, self.group);
    }

    /// The app is alive (resets `max.poll.interval`); call it whenever it takes events. Cheap:
    /// the member hears of it (and of the new positions) at most every 100 ms.
    pub fn poll(&mut self, now: Instant) {
        self.set.poll(now);
    }

    /// The next thing the adapter must do.
    pub fn poll_io(&mut self) -> Option<Io> {
        self.set.poll_io()
    }

    /// The next event for the app. Records are taken from the fetcher only when nothing else
    /// waits, at the app's pace (a partition is fetched again once its records are taken).
    pub fn poll_event(&mut self) -> Option<ConsumerEvent> {
        self.set.poll_event().map(|(_, e)| e)
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.set.poll_timeout()
    }
}

/// A consumer can move to another thread (async runtimes need this).
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Consumer>();
};
