//! The `roundrobin` assignor (Java's `RoundRobinAssignor`).
//!
//! Lays out every partition of every subscribed topic, topics in ascending name order and
//! partitions by index, and deals them out over a circular list of the members in order,
//! skipping members not subscribed to the partition's topic. With identical subscriptions the
//! members' partition counts differ by at most one; with different subscriptions it can be
//! badly imbalanced (Java's Javadoc example gives one member 4 of 6 partitions).
//!
//! Members are ordered as in [`RangeAssignor`](super::RangeAssignor) (by member id as Java
//! compares strings; Java would put static members first, by `group.instance.id`, which
//! [`Subscription`] does not carry).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::range::members_in_java_order;
use super::{Assignment, Assignor, ClusterView, Subscription, TopicPartition};

/// Java's `RoundRobinAssignor`: protocol name `"roundrobin"`, eager rebalancing only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundRobinAssignor;

impl RoundRobinAssignor {
    /// The JoinGroup protocol name.
    pub const NAME: &'static str = "roundrobin";
}

impl Assignor for RoundRobinAssignor {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn assign(
        &self,
        cluster: &ClusterView,
        subscriptions: &BTreeMap<String, Subscription>,
    ) -> BTreeMap<String, Assignment> {
        let members = members_in_java_order(subscriptions);
        let topics_of: Vec<BTreeSet<&str>> = members
            .iter()
            .map(|(_, sub)| sub.topics.iter().map(String::as_str).collect())
            .collect();
        // Every topic here has at least one subscriber, so the skip loop below terminates.
        let all_topics: BTreeSet<&str> = topics_of.iter().flatten().copied().collect();
        let mut assigned: Vec<Vec<TopicPartition>> = vec![Vec::new(); members.len()];
        let mut next = 0;
        for topic in all_topics {
            let Some(&count) = cluster.partitions.get(topic) else {
                continue;
            };
            for partition in 0..count {
                while !topics_of[next].contains(topic) {
                    next = (next + 1) % members.len();
                }
                assigned[next].push(TopicPartition::new(topic, partition));
                next = (next + 1) % members.len();
            }
        }
        members
            .iter()
            .zip(assigned)
            .map(|((id, _), partitions)| {
                (
                    String::from(*id),
                    Assignment {
                        partitions,
                        user_data: None,
                    },
                )
            })
            .collect()
    }
}
