//! Client-side partition assignors (the leader's job in the classic protocol).
//!
//! The interface follows the semantics of Java's `ConsumerPartitionAssignor`: a name (the
//! JoinGroup protocol name), the rebalance protocols it supports, optional user data in the
//! subscription, `assign` on the leader, and `on_assignment` on every member.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use bytes::Bytes;

pub mod consumer_protocol;
pub mod range;
pub mod roundrobin;

pub use range::RangeAssignor;
pub use roundrobin::RoundRobinAssignor;

/// A topic partition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// Builds a topic partition.
    #[must_use]
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

/// The rebalance protocols of KIP-429.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RebalanceProtocol {
    /// Revoke everything before every rebalance.
    Eager,
    /// Revoke only what moves; a second rebalance hands it to its new owner.
    Cooperative,
}

/// One member's subscription as the leader sees it (decoded `ConsumerProtocolSubscription`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// Assignor-specific user data.
    pub user_data: Option<Bytes>,
    /// Partitions the member owns (subscription v1+; cooperative protocol).
    pub owned_partitions: Vec<TopicPartition>,
    /// Generation of the owned partitions (v2+; -1 when unknown).
    pub generation: i32,
    /// The member's rack (v3+).
    pub rack_id: Option<String>,
}

/// One member's assignment (encoded into `ConsumerProtocolAssignment`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// Assigned partitions, sorted.
    pub partitions: Vec<TopicPartition>,
    /// Assignor-specific user data.
    pub user_data: Option<Bytes>,
}

/// Topic metadata the leader assigns from: partition count per topic (and, for rack-aware
/// assignors, replica racks, not modelled yet).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterView {
    /// Number of partitions per topic name; topics missing here are not assigned.
    pub partitions: BTreeMap<String, i32>,
}

/// A partition assignor.
pub trait Assignor {
    /// The protocol name sent in JoinGroup (e.g. `"range"`).
    fn name(&self) -> &str;

    /// Rebalance protocols this assignor supports, most preferred last.
    fn supported_protocols(&self) -> &[RebalanceProtocol] {
        &[RebalanceProtocol::Eager]
    }

    /// User data to put in this member's subscription.
    fn subscription_user_data(&self, _topics: &[String]) -> Option<Bytes> {
        None
    }

    /// Computes the assignment (leader only). Every member id in `subscriptions` must appear in
    /// the result; partitions of topics nobody subscribes to, or missing from `cluster`, are not
    /// assigned. Must be deterministic: the same input in any map order gives the same result.
    fn assign(
        &self,
        cluster: &ClusterView,
        subscriptions: &BTreeMap<String, Subscription>,
    ) -> BTreeMap<String, Assignment>;

    /// Called on every member when its assignment for `generation` arrives.
    fn on_assignment(&mut self, _assignment: &Assignment, _generation: i32) {}
}
