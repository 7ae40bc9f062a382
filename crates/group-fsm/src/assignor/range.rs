//! The `range` assignor (Java's `RangeAssignor`).
//!
//! For each topic separately, the members subscribed to it are put in order and the topic's
//! partitions are cut into contiguous blocks: with `P` partitions and `N` subscribers, each gets
//! `P / N` partitions and the first `P % N` one more. Topics with the same partition count and
//! the same subscribers therefore line up (partition `i` of each goes to the same member), which
//! is what co-partitioned joins need; the price is imbalance across topics, since the extra
//! partitions of every topic land on the first members.
//!
//! # Member order
//!
//! Java orders members by `group.instance.id` when they have one (static members first), then
//! by member id. [`Subscription`] carries no instance id, so this assignor orders every member
//! by member id, comparing strings the way Java's `String.compareTo` does (UTF-16 code units;
//! this differs from Rust's byte order only when ids mix characters above U+FFFF with ones in
//! U+E000..=U+FFFF). For groups without static members the result equals Java's.
//!
//! # Not implemented
//!
//! The KIP-881 rack-aware variant (Kafka 3.5+), which prefers partitions with a replica in the
//! member's rack, needs replica racks in [`ClusterView`]; without them Java also falls back to
//! this plain algorithm.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cmp::Ordering;

use super::{Assignment, Assignor, ClusterView, Subscription, TopicPartition};

/// Java's `RangeAssignor`: protocol name `"range"`, eager rebalancing only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RangeAssignor;

impl RangeAssignor {
    /// The JoinGroup protocol name.
    pub const NAME: &'static str = "range";
}

impl Assignor for RangeAssignor {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn assign(
        &self,
        cluster: &ClusterView,
        subscriptions: &BTreeMap<String, Subscription>,
    ) -> BTreeMap<String, Assignment> {
        let members = members_in_java_order(subscriptions);
        // Subscribers of each topic, as indices into `members` (ascending, so in member order).
        let mut subscribers: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (index, (_, sub)) in members.iter().enumerate() {
            for topic in &sub.topics {
                let list = subscribers.entry(topic.as_str()).or_default();
                if list.last() != Some(&index) {
                    list.push(index);
                }
            }
        }
        let mut assigned: Vec<Vec<TopicPartition>> = vec![Vec::new(); members.len()];
        // Topics in ascending order and blocks in ascending order: every member's list comes out
        // sorted by (topic, partition).
        for (topic, consumers) in &subscribers {
            let Some(&count) = cluster.partitions.get(*topic) else {
                continue;
            };
            let total = usize::try_from(count).unwrap_or(0);
            let per_member = total / consumers.len();
            let with_extra = total % consumers.len();
            for (k, &member) in consumers.iter().enumerate() {
                let start = per_member * k + k.min(with_extra);
                let len = per_member + usize::from(k < with_extra);
                assigned[member].extend(
                    (0..count)
                        .skip(start)
                        .take(len)
                        .map(|p| TopicPartition::new(*topic, p)),
                );
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

/// The members in the order Java's `AbstractPartitionAssignor.MemberInfo` sorts dynamic
/// members: by member id, compared as UTF-16 like `String.compareTo`.
pub(super) fn members_in_java_order(
    subscriptions: &BTreeMap<String, Subscription>,
) -> Vec<(&str, &Subscription)> {
    let mut members: Vec<(&str, &Subscription)> = subscriptions
        .iter()
        .map(|(id, sub)| (id.as_str(), sub))
        .collect();
    // Byte order (the map's) is UTF-16 order unless some id has a 4-byte UTF-8 sequence.
    if members.iter().any(|(id, _)| id.bytes().any(|b| b >= 0xF0)) {
        members.sort_by(|(a, _), (b, _)| java_string_cmp(a, b));
    }
    members
}

/// Java's `String.compareTo`: lexicographic over UTF-16 code units.
fn java_string_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}
