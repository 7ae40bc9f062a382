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
//! As in Java: static members first, ordered by `group.instance.id`, then dynamic members by
//! member id, strings compared the way Java's `String.compareTo` does (UTF-16 code units; this
//! differs from Rust's byte order only when ids mix characters above U+FFFF with ones in
//! U+E000..=U+FFFF). See [`GroupSpec::canonical_order`].
//!
//! # Rack awareness (KIP-881)
//!
//! When replica racks are known ([`ClusterView::replica_racks`](super::ClusterView)), topics
//! are grouped by (subscribers, partition count): such topics are co-partitioned and are
//! assigned together. For a group where rack awareness applies (some subscriber has a rack,
//! consumer and replica racks intersect, and not every partition has a replica on every rack),
//! partition `i` of every topic of the group goes, in partition order, to the first subscriber
//! (in member order) that still has quota and whose rack holds a replica of partition `i` of
//! every topic in the group. Whatever is left is then filled range-style. The quota is Java's:
//! `P / N` per member plus one for the first `P % N` members to reach it, so balance and
//! co-partitioning come before locality. Without racks the result is Java's plain layout.

use alloc::vec;
use alloc::vec::Vec;

use super::spec::GroupSpec;
use super::{Assignor, GroupPlan};

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

    fn plan(&self, group: &GroupSpec) -> GroupPlan {
        let order = group.canonical_order();
        let members = group.members();
        // Subscribers of each topic, as member indices in canonical order.
        let mut subscribers: Vec<Vec<u32>> = vec![Vec::new(); group.topics().len()];
        for &m in &order {
            for &t in &members[m as usize].topics {
                subscribers[t as usize].push(m);
            }
        }
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); members.len()];
        let mut states: Vec<TopicState> = group
            .topics()
            .iter()
            .zip(&subscribers)
            .map(|(t, subs)| TopicState::new(t.partitions, subs.len()))
            .collect();
        if !group.racks().is_empty() {
            assign_rack_matching(group, &subscribers, &mut states, &mut lists);
        }
        for (t, topic) in group.topics().iter().enumerate() {
            let subs = &subscribers[t];
            let state = &mut states[t];
            if subs.is_empty() {
                continue;
            }
            // Range filling of what is left: each member in order takes the lowest unassigned
            // partitions up to its quota.
            let mut next = 0u32;
            for (k, &m) in subs.iter().enumerate() {
                let mut want = state.capacity(k);
                while want > 0 {
                    while next < topic.partitions && state.taken[next as usize] {
                        next += 1;
                    }
                    if next >= topic.partitions {
                        break;
                    }
                    state.take(next, k);
                    lists[m as usize].push(topic.first + next);
                    want -= 1;
                }
            }
        }
        GroupPlan::from_lists(lists)
    }
}

/// Per-topic quota bookkeeping (Java's `TopicAssignmentState`).
struct TopicState {
    per_member: u32,
    extras_left: u32,
    counts: Vec<u32>,
    taken: Vec<bool>,
}

impl TopicState {
    fn new(partitions: u32, subscribers: usize) -> Self {
        let n = u32::try_from(subscribers).unwrap_or(u32::MAX).max(1);
        Self {
            per_member: partitions / n,
            extras_left: partitions % n,
            counts: vec![0; subscribers],
            taken: vec![
                false;
                if subscribers == 0 {
                    0
                } else {
                    partitions as usize
                }
            ],
        }
    }

    /// How many more partitions subscriber `k` may take.
    fn capacity(&self, k: usize) -> u32 {
        (self.per_member + u32::from(self.extras_left > 0)).saturating_sub(self.counts[k])
    }

    fn take(&mut self, p: u32, k: usize) {
        self.taken[p as usize] = true;
        self.counts[k] += 1;
        if self.counts[k] == self.per_member + 1 {
            self.extras_left -= 1;
        }
    }
}

/// KIP-881: co-partitioned groups of topics where rack awareness applies get partition `i`
/// of every topic placed on the first member with quota on a rack holding all of them.
fn assign_rack_matching(
    group: &GroupSpec,
    subscribers: &[Vec<u32>],
    states: &mut [TopicState],
    lists: &mut [Vec<u32>],
) {
    let topics = group.topics();
    let members = group.members();
    // Co-partitioned groups: topics with the same subscribers and partition count.
    let mut by_key: Vec<u32> = (0..u32::try_from(topics.len()).unwrap_or(0)).collect();
    by_key.sort_by(|&a, &b| {
        let (ta, tb) = (&topics[a as usize], &topics[b as usize]);
        subscribers[a as usize]
            .cmp(&subscribers[b as usize])
            .then(ta.partitions.cmp(&tb.partitions))
            .then(a.cmp(&b))
    });
    let mut start = 0;
    while start < by_key.len() {
        let first = by_key[start] as usize;
        let mut end = start + 1;
        while end < by_key.len()
            && subscribers[by_key[end] as usize] == subscribers[first]
            && topics[by_key[end] as usize].partitions == topics[first].partitions
        {
            end += 1;
        }
        let group_topics = &by_key[start..end];
        start = end;
        let subs = &subscribers[first];
        let partitions = topics[first].partitions;
        if subs.is_empty() || partitions == 0 {
            continue;
        }
        if !group_topics
            .iter()
            .all(|&t| !topics[t as usize].replica_racks.is_empty())
        {
            continue;
        }
        let racks_of = |t: u32, p: u32| -> &[u32] { &topics[t as usize].replica_racks[p as usize] };
        let member_rack = |k: usize| members[subs[k] as usize].rack;
        // Java's useRackAwareAssignment: consumers have racks, the racks intersect, and some
        // partition lacks a replica on some rack.
        let mut all_racks: Vec<u32> = group_topics
            .iter()
            .flat_map(|&t| (0..partitions).flat_map(move |p| racks_of(t, p).iter().copied()))
            .collect();
        all_racks.sort_unstable();
        all_racks.dedup();
        let consumer_racks_match = (0..subs.len())
            .filter_map(member_rack)
            .any(|r| all_racks.binary_search(&r).is_ok());
        let all_everywhere = group_topics
            .iter()
            .all(|&t| (0..partitions).all(|p| racks_of(t, p).len() == all_racks.len()));
        if !consumer_racks_match || all_everywhere {
            continue;
        }
        for p in 0..partitions {
            let chosen = (0..subs.len()).find(|&k| {
                member_rack(k).is_some_and(|r| {
                    group_topics.iter().all(|&t| {
                        states[t as usize].capacity(k) > 0
                            && racks_of(t, p).binary_search(&r).is_ok()
                    })
                })
            });
            if let Some(k) = chosen {
                for &t in group_topics {
                    states[t as usize].take(p, k);
                    lists[subs[k] as usize].push(topics[t as usize].first + p);
                }
            }
        }
    }
}
