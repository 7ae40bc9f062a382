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
pub mod spec;
pub mod sticky;

pub use range::RangeAssignor;
pub use roundrobin::RoundRobinAssignor;
pub use spec::{
    GroupPlan, GroupSpec, GroupSpecBuilder, MemberInput, MemberPlan, MemberSpec, TopicSpec,
};
pub use sticky::{CooperativeStickyAssignor, StickyAssignor};

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
    /// The member's `group.instance.id` (static membership). Not part of the encoded
    /// subscription: the leader fills it from the JoinGroup response so that assignors can
    /// order static members by instance id, as Java does.
    pub instance_id: Option<String>,
}

/// One member's assignment (encoded into `ConsumerProtocolAssignment`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// Assigned partitions, sorted.
    pub partitions: Vec<TopicPartition>,
    /// Assignor-specific user data.
    pub user_data: Option<Bytes>,
}

/// Topic metadata the leader assigns from: partition count per topic and, for rack-aware
/// assignors, the racks of each partition's replicas.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterView {
    /// Number of partitions per topic name; topics missing here are not assigned.
    pub partitions: BTreeMap<String, i32>,
    /// Per topic, per partition (index = partition), the racks of its replicas (all replicas,
    /// in or out of sync, as Java's KIP-881 code counts them). Topics missing here, or whose
    /// list length differs from the partition count, have unknown racks.
    pub replica_racks: BTreeMap<String, Vec<Vec<String>>>,
}

/// A partition assignor.
///
/// `Send` so that a member (and a consumer built on it) can move between threads, as async
/// runtimes with work-stealing schedulers need.
pub trait Assignor: Send {
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

    /// Computes the assignment on the compact form (leader only): one [`MemberPlan`] per
    /// member of `group`, in its order. Partitions of topics nobody subscribes to are not
    /// assigned, and a member only gets partitions of topics it subscribes to. Must be
    /// deterministic: the same members in any order give each member the same partitions.
    /// Must never panic, whatever the members claim.
    fn plan(&self, group: &GroupSpec) -> GroupPlan;

    /// Computes the assignment from the string-keyed form: builds a [`GroupSpec`] with
    /// [`GroupSpec::from_view`], runs [`plan`](Self::plan), and maps the result back. Every
    /// member id in `subscriptions` appears in the result.
    fn assign(
        &self,
        cluster: &ClusterView,
        subscriptions: &BTreeMap<String, Subscription>,
    ) -> BTreeMap<String, Assignment> {
        let spec = GroupSpec::from_view(cluster, subscriptions);
        let plan = self.plan(&spec);
        spec.to_assignments(&plan)
    }

    /// Called on every member when its assignment for `generation` arrives.
    fn on_assignment(&mut self, _assignment: &Assignment, _generation: i32) {}
}
