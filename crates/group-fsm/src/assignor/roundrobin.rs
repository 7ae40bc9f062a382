//! The `roundrobin` assignor (Java's `RoundRobinAssignor`).
//!
//! Lays out every partition of every subscribed topic, topics in ascending name order and
//! partitions by index, and deals them out over a circular list of the members in order,
//! skipping members not subscribed to the partition's topic. With identical subscriptions the
//! members' partition counts differ by at most one; with different subscriptions it can be
//! badly imbalanced (Java's Javadoc example gives one member 4 of 6 partitions).
//!
//! Members are ordered as in [`RangeAssignor`](super::RangeAssignor): static members first by
//! `group.instance.id`, then by member id, as Java compares strings.

use alloc::vec;
use alloc::vec::Vec;

use super::spec::GroupSpec;
use super::{Assignor, GroupPlan};

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

    fn plan(&self, group: &GroupSpec) -> GroupPlan {
        let order = group.canonical_order();
        let members = group.members();
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); members.len()];
        if order.is_empty() {
            return GroupPlan::from_lists(lists);
        }
        let mut next = 0;
        for (t, range) in group.topic_ranges() {
            // Only topics with a subscriber are in the spec's subscriptions, but a spec built by
            // hand may hold others: skip them, so the search below always finds someone.
            if !members.iter().any(|m| m.topics.binary_search(&t).is_ok()) {
                continue;
            }
            for g in range {
                while members[order[next] as usize]
                    .topics
                    .binary_search(&t)
                    .is_err()
                {
                    next = (next + 1) % order.len();
                }
                lists[order[next] as usize].push(g);
                next = (next + 1) % order.len();
            }
        }
        GroupPlan::from_lists(lists)
    }
}
