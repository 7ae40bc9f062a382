//! What goes into the state machine ([`Input`]) and what comes out ([`Action`], [`Event`]).

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use kafka_wire::{AnyRequest, AnyResponse, NegotiatedVersions};

use crate::assignor::TopicPartition;
use crate::error::{GroupError, UsageError};

/// Identifies a request the state machine asked to send; responses and failures carry it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// Where a request must go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Any broker of the cluster (FindCoordinator, Metadata).
    AnyBroker,
    /// The group coordinator the member found.
    Coordinator {
        /// Broker node id.
        node_id: i32,
        /// Host to connect to.
        host: String,
        /// Port to connect to.
        port: i32,
    },
}

/// How a request failed in transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportError {
    /// The connection closed or could not be opened.
    Disconnected,
    /// No response within the request's timeout.
    TimedOut,
}

/// An offset to commit, or a committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offset {
    /// The partition.
    pub partition: TopicPartition,
    /// Next offset to consume.
    pub offset: i64,
    /// Leader epoch of the consumed record, -1 if unknown.
    pub leader_epoch: i32,
    /// Commit metadata.
    pub metadata: Option<String>,
}

impl Offset {
    /// An offset with no epoch and no metadata.
    #[must_use]
    pub fn new(partition: TopicPartition, offset: i64) -> Self {
        Self {
            partition,
            offset,
            leader_epoch: -1,
            metadata: None,
        }
    }
}

/// Every external fact the state machine consumes.
#[derive(Debug, Clone)]
#[allow(
    clippy::large_enum_variant,
    reason = "an input is passed by value and consumed at once, never stored; boxing the \
              response would cost an allocation per response"
)]
pub enum Input {
    /// The app subscribes to these topics (replacing any previous subscription).
    Subscribe(Vec<String>),
    /// The app subscribes to every topic whose whole name matches this regular expression
    /// (evaluated on the client against metadata, as the Java client does; internal topics are
    /// skipped). New matching topics are picked up at each metadata refresh.
    SubscribePattern(String),
    /// The app unsubscribes: partitions are revoked and the member leaves the group.
    Unsubscribe,
    /// The app polled (resets the `max.poll.interval` timer).
    Poll,
    /// The app finished handling [`Event::Revoke`] (committed what it wanted).
    RevocationDone,
    /// The app's consumed positions: what auto-commit and commit-on-revoke will commit.
    /// Positions of partitions the member does not own are ignored, and positions are dropped
    /// when their partitions are revoked or lost.
    Positions(Vec<Offset>),
    /// The app commits these offsets now.
    Commit(Vec<Offset>),
    /// The app wants the committed offsets of these partitions ([`Event::CommittedOffsets`]).
    FetchCommitted(Vec<TopicPartition>),
    /// The app closes the member: revoke, commit if auto-commit, leave (dynamic members).
    Close,
    /// Versions negotiated with the brokers (ApiVersions); without them the highest versions
    /// kafka-wire implements are used.
    Versions(NegotiatedVersions),
    /// A response to a request the machine sent.
    Response {
        /// The request it answers.
        id: RequestId,
        /// The decoded response body.
        response: AnyResponse,
    },
    /// A request failed in transport.
    Failed {
        /// The request.
        id: RequestId,
        /// What happened.
        error: TransportError,
    },
}

/// Something the caller must do, in order.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "actions are moved once; boxing would cost an allocation per request"
)]
pub enum Action {
    /// Send a request.
    Send(Send),
    /// Tell the application something.
    Event(Event),
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct Send {
    /// Tag to report the response or failure with.
    pub id: RequestId,
    /// Where to send it.
    pub to: Destination,
    /// The request body.
    pub request: AnyRequest,
    /// The version to encode it at.
    pub version: i16,
    /// Report [`TransportError::TimedOut`] if no response arrives within this.
    pub timeout: Duration,
    /// `Some(d)`: the broker may hold this request for up to `d` (JoinGroup, SyncGroup), so it
    /// must not share a connection with requests that cannot wait (heartbeats, commits).
    pub held_for: Option<Duration>,
}

/// Something the application must know or answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The member joined generation `generation`.
    Joined {
        /// Generation id.
        generation: i32,
        /// Our member id.
        member_id: String,
        /// Whether we are the leader.
        leader: bool,
    },
    /// These partitions are now ours (cooperative: only the new ones).
    Assigned {
        /// New partitions.
        partitions: Vec<TopicPartition>,
        /// Generation that assigned them.
        generation: i32,
    },
    /// Stop consuming these partitions, commit if needed, then answer [`Input::RevocationDone`].
    Revoke {
        /// Partitions to give up.
        partitions: Vec<TopicPartition>,
        /// Generation they belonged to.
        generation: i32,
    },
    /// These partitions were lost (fenced or session expired): do not commit them.
    Lost {
        /// Lost partitions.
        partitions: Vec<TopicPartition>,
    },
    /// The member holds no partition after a rebalance and the group stayed in that generation
    /// for a heartbeat (so this is not the first round of a cooperative rebalance): the group
    /// has more members than partitions, or nothing to consume.
    Idle {
        /// Generation in which it is idle.
        generation: i32,
    },
    /// A commit finished; per-partition error codes (0 = committed).
    Committed {
        /// Offsets and their result codes.
        results: Vec<(Offset, i16)>,
    },
    /// Committed offsets fetched (offset -1 when none).
    CommittedOffsets {
        /// The offsets, with error codes.
        offsets: Vec<(Offset, i16)>,
    },
    /// The group coordinator was found.
    CoordinatorFound {
        /// Broker node id.
        node_id: i32,
    },
    /// A recoverable error the app may want to log; the machine handles it.
    Warning(GroupError),
    /// A fatal error: the member stopped ([`crate::StateKind::Failed`]).
    Fatal(GroupError),
    /// An app command was rejected.
    Rejected(UsageError),
    /// The member left the group and stopped after [`Input::Close`].
    Closed,
    /// The member left the group after [`Input::Unsubscribe`]; it rejoins on the next
    /// [`Input::Subscribe`].
    Left,
}
