//! Member configuration, with the Java client's defaults.

use alloc::string::String;
use core::time::Duration;

/// `group.protocol`: which group membership protocol a member speaks. Chosen by configuration
/// only; a member never falls back from one to the other on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupProtocol {
    /// JoinGroup / SyncGroup / Heartbeat with a client-side assignor (the default, as in
    /// Java's consumer).
    #[default]
    Classic,
    /// KIP-848: ConsumerGroupHeartbeat; the broker assigns and each member reconciles on its
    /// own heartbeats, with no group-wide barrier.
    Consumer,
}

/// Configuration of one group member. Defaults follow the Java consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The group id.
    pub group_id: String,
    /// `group.protocol` (classic).
    pub group_protocol: GroupProtocol,
    /// `group.remote.assignor`: the server-side assignor a [`GroupProtocol::Consumer`] member
    /// asks for (`uniform`, `range`); `None` leaves the choice to the broker. Ignored by the
    /// classic protocol.
    pub server_assignor: Option<String>,
    /// Client id (used by the broker to build member ids).
    pub client_id: String,
    /// `group.instance.id`: makes the member static (KIP-345).
    pub group_instance_id: Option<String>,
    /// `client.rack`, sent in the subscription (v3).
    pub rack_id: Option<String>,
    /// `session.timeout.ms` (45 s).
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms` (3 s).
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms` (300 s); also the rebalance timeout sent in JoinGroup.
    pub max_poll_interval: Duration,
    /// `request.timeout.ms` (30 s). JoinGroup gets `max(this, rebalance timeout + 5 s)`.
    pub request_timeout: Duration,
    /// `retry.backoff.ms` (100 ms): first backoff step.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms` (1 s): backoff ceiling.
    pub retry_backoff_max: Duration,
    /// `enable.auto.commit` (true): commit the positions the app reported.
    pub auto_commit: bool,
    /// `auto.commit.interval.ms` (5 s).
    pub auto_commit_interval: Duration,
    /// `metadata.max.age.ms` (5 min): how often the member refreshes topic metadata.
    pub metadata_max_age: Duration,
    /// Send LeaveGroup on close. `None` = Java's rule: dynamic members leave, static ones do not.
    pub leave_on_close: Option<bool>,
    /// Classic protocol: how long after its JoinGroup answer the leader waits, at least, before
    /// it sends its SyncGroup (zero, the default: as soon as the assignment is ready).
    ///
    /// Apache Kafka parks the followers' SyncGroups until the leader's arrives, so the order
    /// does not matter there. librdkafka's mock cluster instead completes the generation with
    /// the leader's SyncGroup and answers every follower whose SyncGroup arrives later with
    /// INVALID_REQUEST; that follower must rejoin, which costs the whole group another
    /// rebalance round (seconds). Followers send their SyncGroup as soon as their JoinGroup
    /// answer arrives, but when every member is its own process on a loaded machine, waking
    /// them up can take longer than the leader's metadata round trip; 50 ms made the race go
    /// the followers' way in every run we traced. Tansu 0.6 goes the other way: followers'
    /// SyncGroups that arrive first wait there about a second longer, so a delay costs a
    /// second per rebalance (see [`follower_sync_delay`](Self::follower_sync_delay)).
    pub leader_sync_delay: Duration,
    /// Classic protocol: how long after its JoinGroup answer a follower waits, at least,
    /// before it sends its SyncGroup (zero, the default: at once).
    ///
    /// The mirror of [`leader_sync_delay`](Self::leader_sync_delay), for Tansu 0.6: a
    /// follower whose SyncGroup arrives there before the leader's gets its answer about a
    /// second after the leader's SyncGroup, so the leader's should come first
    /// ([`TANSU_FOLLOWER_SYNC_DELAY`](Self::TANSU_FOLLOWER_SYNC_DELAY)). On Apache Kafka the
    /// order does not matter, and a delay costs at most its length per rebalance (followers
    /// wait for the leader's SyncGroup anyway). Never set both delays: librdkafka's mock
    /// needs the opposite order.
    pub follower_sync_delay: Duration,
    /// Seed for the core's only randomness: the backoff jitter and, under
    /// [`GroupProtocol::Consumer`], the client-generated member id (KIP-1082). Members of one
    /// group must get different seeds (adapters seed it from the OS).
    pub rng_seed: u64,
}

/// Which SyncGroup a classic group's coordinator should see first, for brokers where the
/// order matters; [`Config::set_sync_order`] turns it into the two delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncOrder {
    /// No delay either way (the default; Apache Kafka parks followers until the leader's).
    Any,
    /// The leader's first: followers wait
    /// [`TANSU_FOLLOWER_SYNC_DELAY`](Config::TANSU_FOLLOWER_SYNC_DELAY) (Tansu 0.6 answers
    /// followers that come first about a second late).
    LeaderFirst,
    /// The followers' first: the leader waits
    /// [`MOCK_LEADER_SYNC_DELAY`](Config::MOCK_LEADER_SYNC_DELAY) (librdkafka's mock rejects
    /// a follower that comes after the leader with INVALID_REQUEST).
    FollowersFirst,
}

impl Config {
    /// Sets [`leader_sync_delay`](Self::leader_sync_delay) and
    /// [`follower_sync_delay`](Self::follower_sync_delay) for `order` (at most one of them is
    /// nonzero).
    pub fn set_sync_order(&mut self, order: SyncOrder) {
        let (leader, follower) = match order {
            SyncOrder::Any => (Duration::ZERO, Duration::ZERO),
            SyncOrder::LeaderFirst => (Duration::ZERO, Self::TANSU_FOLLOWER_SYNC_DELAY),
            SyncOrder::FollowersFirst => (Self::MOCK_LEADER_SYNC_DELAY, Duration::ZERO),
        };
        self.leader_sync_delay = leader;
        self.follower_sync_delay = follower;
    }

    /// A [`leader_sync_delay`](Self::leader_sync_delay) for librdkafka's mock cluster (50 ms):
    /// in every run traced on the 2.16 mock, the followers' SyncGroups then came first.
    pub const MOCK_LEADER_SYNC_DELAY: Duration = Duration::from_millis(50);

    /// A [`follower_sync_delay`](Self::follower_sync_delay) for Tansu 0.6 (50 ms): enough for
    /// the leader's metadata refresh and assignment on a loaded machine.
    pub const TANSU_FOLLOWER_SYNC_DELAY: Duration = Duration::from_millis(50);

    /// A configuration for `group_id` with every other setting at its default.
    #[must_use]
    pub fn new(group_id: impl Into<String>) -> Self {
        Self {
            group_id: group_id.into(),
            group_protocol: GroupProtocol::Classic,
            server_assignor: None,
            client_id: String::from("group-fsm"),
            group_instance_id: None,
            rack_id: None,
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            max_poll_interval: Duration::from_secs(300),
            request_timeout: Duration::from_secs(30),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            metadata_max_age: Duration::from_secs(300),
            leave_on_close: None,
            leader_sync_delay: Duration::ZERO,
            follower_sync_delay: Duration::ZERO,
            rng_seed: 0,
        }
    }

    /// Checks the settings that Kafka rejects or that cannot work.
    ///
    /// # Errors
    /// A message naming the bad setting.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.group_id.is_empty() {
            return Err("group_id must not be empty");
        }
        if self.heartbeat_interval >= self.session_timeout {
            return Err("heartbeat_interval must be lower than session_timeout");
        }
        if self.heartbeat_interval.is_zero() || self.session_timeout.is_zero() {
            return Err("timeouts must be positive");
        }
        if self.max_poll_interval.as_millis() > i32::MAX as u128
            || self.session_timeout.as_millis() > i32::MAX as u128
        {
            return Err("timeouts must fit in 32-bit milliseconds");
        }
        if self.group_instance_id.as_deref() == Some("") {
            return Err("group_instance_id must not be empty");
        }
        Ok(())
    }

    /// Whether LeaveGroup is sent on close.
    #[must_use]
    pub fn leaves_on_close(&self) -> bool {
        self.leave_on_close
            .unwrap_or(self.group_instance_id.is_none())
    }

    /// The JoinGroup request timeout: `max(request_timeout, rebalance timeout + 5 s)`.
    #[must_use]
    pub fn join_timeout(&self) -> Duration {
        self.request_timeout
            .max(self.max_poll_interval + Duration::from_secs(5))
    }
}
