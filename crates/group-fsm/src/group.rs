//! [`Member`]: the public face over the classic and the KIP-848 machines.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::assignor::{Assignor, RebalanceProtocol, TopicPartition};
use crate::config::{Config, GroupProtocol};
use crate::consumer::{ConsumerMember, ConsumerState};
use crate::error::GroupError;
use crate::io::{Action, Input};
use crate::member::{ClassicMember, StateKind};
use crate::time::Instant;

enum Inner {
    Classic(ClassicMember),
    Consumer(ConsumerMember),
}

/// One member of one consumer group, as a sans-IO state machine.
///
/// [`Config::group_protocol`] picks the protocol: [`GroupProtocol::Classic`] (JoinGroup /
/// SyncGroup / Heartbeat with client-side assignors) or [`GroupProtocol::Consumer`] (KIP-848:
/// ConsumerGroupHeartbeat, the broker assigns). The interface is the same; the member never
/// switches protocol on its own.
///
/// # Method families
/// - getters on `&self`: [`state`](Self::state), [`consumer_state`](Self::consumer_state),
///   [`group_protocol`](Self::group_protocol), [`generation`](Self::generation),
///   [`member_id`](Self::member_id), [`assignment`](Self::assignment),
///   [`is_leader`](Self::is_leader), [`error`](Self::error);
/// - input: [`handle`](Self::handle) (one [`Input`] enum for every external fact) and
///   [`handle_timeout`](Self::handle_timeout);
/// - output: [`poll_action`](Self::poll_action) and [`poll_timeout`](Self::poll_timeout).
///
/// # Contract
/// After any `&mut self` call, drain `poll_action()` until `None`, then sleep until
/// `poll_timeout()`; a deadline at or before now means call `handle_timeout` now, `None` means
/// nothing is scheduled. Time must not go backwards (an earlier `now` is treated as the last
/// one). Every request in [`Action::Send`] must be answered exactly once by
/// [`Input::Response`] or [`Input::Failed`].
pub struct Member(Inner);

macro_rules! delegate {
    ($self:ident, $m:ident => $e:expr) => {
        match &$self.0 {
            Inner::Classic($m) => $e,
            Inner::Consumer($m) => $e,
        }
    };
    (mut $self:ident, $m:ident => $e:expr) => {
        match &mut $self.0 {
            Inner::Classic($m) => $e,
            Inner::Consumer($m) => $e,
        }
    };
}

impl Member {
    /// A member with its configuration and assignors.
    ///
    /// The classic protocol needs at least one assignor (the first is preferred); the consumer
    /// protocol (KIP-848) assigns on the broker and ignores them (an empty vector is fine).
    /// An invalid configuration, or no assignor under the classic protocol, gives a member
    /// that is already `Failed` and reports [`crate::Event::Fatal`].
    #[must_use]
    pub fn new(config: Config, assignors: Vec<Box<dyn Assignor>>, now: Instant) -> Self {
        match config.group_protocol {
            GroupProtocol::Classic => {
                Self(Inner::Classic(ClassicMember::new(config, assignors, now)))
            }
            GroupProtocol::Consumer => Self(Inner::Consumer(ConsumerMember::new(config, now))),
        }
    }

    /// The protocol this member speaks.
    #[must_use]
    pub const fn group_protocol(&self) -> GroupProtocol {
        match &self.0 {
            Inner::Classic(_) => GroupProtocol::Classic,
            Inner::Consumer(_) => GroupProtocol::Consumer,
        }
    }

    /// The current state. Under KIP-848, RECONCILING and ACKNOWLEDGING map to
    /// [`StateKind::Syncing`], FENCED and STALE to [`StateKind::Unjoined`].
    #[must_use]
    pub fn state(&self) -> StateKind {
        delegate!(self, m => m.state())
    }

    /// The KIP-848 state (as Java's `MemberState`); `None` for a classic member.
    #[must_use]
    pub fn consumer_state(&self) -> Option<ConsumerState> {
        match &self.0 {
            Inner::Classic(_) => None,
            Inner::Consumer(m) => Some(m.consumer_state()),
        }
    }

    /// The current generation (classic; -1 when not in one) or member epoch (KIP-848; 0
    /// when not a member).
    #[must_use]
    pub fn generation(&self) -> i32 {
        delegate!(self, m => m.generation())
    }

    /// Our member id: classic, "" before the coordinator gave one; KIP-848, the id the client
    /// generated (KIP-1082), or the broker's at ConsumerGroupHeartbeat v0.
    #[must_use]
    pub fn member_id(&self) -> &str {
        delegate!(self, m => m.member_id())
    }

    /// The partitions this member owns now.
    #[must_use]
    pub fn assignment(&self) -> &[TopicPartition] {
        delegate!(self, m => m.assignment())
    }

    /// Whether this member is the group leader (always `false` under KIP-848: no leader).
    #[must_use]
    pub fn is_leader(&self) -> bool {
        delegate!(self, m => m.is_leader())
    }

    /// The rebalance protocol: the classic assignors' common one; always cooperative
    /// (incremental) under KIP-848.
    #[must_use]
    pub fn rebalance_protocol(&self) -> RebalanceProtocol {
        match &self.0 {
            Inner::Classic(m) => m.rebalance_protocol(),
            Inner::Consumer(_) => RebalanceProtocol::Cooperative,
        }
    }

    /// The fatal error, if the member failed.
    #[must_use]
    pub fn error(&self) -> Option<GroupError> {
        delegate!(self, m => m.error())
    }

    /// The next action, in order.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        delegate!(mut self, m => m.poll_action())
    }

    /// When [`Member::handle_timeout`] must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        delegate!(self, m => m.poll_timeout())
    }

    /// Fires every timer due at `now`. Extra calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        delegate!(mut self, m => m.handle_timeout(now));
    }

    /// Consumes one external fact at `now` (due timers fire first).
    pub fn handle(&mut self, now: Instant, input: Input) {
        delegate!(mut self, m => m.handle(now, input));
    }
}
