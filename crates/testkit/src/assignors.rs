//! Assignors for tests and `kgroup simulate`: a minimal cooperative wrapper.
//!
//! group-fsm ships `cooperative-sticky` for real use; [`Cooperative`] is a test device that makes
//! an eager assignor (range, roundrobin) safe for the cooperative protocol with
//! the KIP-429 rule: compute the inner assignor's target, then withhold every partition whose
//! target owner differs from a member that still claims it in its subscription's
//! `owned_partitions`. The claimant is not given it either, so it revokes it after SyncGroup and
//! rejoins; the next rebalance (where nobody claims it any more) hands it to its new owner. No
//! partition is ever owned by two members, and partitions that stay put are never revoked.
//!
//! Unlike the sticky assignors, the target is not sticky: it is whatever range or roundrobin
//! computes for the current members, so a membership change can still move partitions that a
//! sticky assignor would leave in place.

use std::collections::BTreeMap;

use group_fsm::assignor::{Assignor, GroupPlan, GroupSpec, RebalanceProtocol};

/// Wraps an eager assignor; protocol name `cooperative-<inner name>`.
pub struct Cooperative {
    inner: Box<dyn Assignor>,
    name: String,
}

impl Cooperative {
    /// Wraps `inner` (e.g. range gives `cooperative-range`).
    pub fn new(inner: Box<dyn Assignor>) -> Self {
        let name = format!("cooperative-{}", inner.name());
        Self { inner, name }
    }
}

impl Assignor for Cooperative {
    fn name(&self) -> &str {
        &self.name
    }

    fn supported_protocols(&self) -> &[RebalanceProtocol] {
        &[RebalanceProtocol::Eager, RebalanceProtocol::Cooperative]
    }

    fn plan(&self, group: &GroupSpec) -> GroupPlan {
        // Withhold every partition another member still claims.
        let mut plan = self.inner.plan(group);
        let mut claimants: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, m) in group.members().iter().enumerate() {
            for &g in &m.owned {
                claimants.entry(g).or_default().push(i);
            }
        }
        for (i, p) in plan.members.iter_mut().enumerate() {
            p.partitions
                .retain(|g| claimants.get(g).is_none_or(|c| c.iter().all(|&o| o == i)));
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use group_fsm::assignor::{
        Assignment, ClusterView, RangeAssignor, Subscription, TopicPartition,
    };

    use super::*;

    fn sub(owned: &[i32]) -> Subscription {
        Subscription {
            topics: vec!["t".to_owned()],
            owned_partitions: owned.iter().map(|&p| TopicPartition::new("t", p)).collect(),
            generation: 1,
            ..Subscription::default()
        }
    }

    fn partitions(a: &BTreeMap<String, Assignment>, m: &str) -> Vec<i32> {
        a[m].partitions.iter().map(|tp| tp.partition).collect()
    }

    #[test]
    fn withholds_partitions_still_owned_elsewhere() {
        let assignor = Cooperative::new(Box::new(RangeAssignor));
        assert_eq!(assignor.name(), "cooperative-range");
        let mut cluster = ClusterView::default();
        cluster.partitions.insert("t".to_owned(), 6);
        // a owned 0..3, b owned 3..6; c is new. Range's target: a 0,1; b 2,3; c 4,5.
        let subs: BTreeMap<String, Subscription> = [
            ("a".to_owned(), sub(&[0, 1, 2])),
            ("b".to_owned(), sub(&[3, 4, 5])),
            ("c".to_owned(), sub(&[])),
        ]
        .into_iter()
        .collect();
        let first = assignor.assign(&cluster, &subs);
        assert_eq!(partitions(&first, "a"), [0, 1]);
        assert_eq!(partitions(&first, "b"), [3]);
        assert!(partitions(&first, "c").is_empty());
        // After a revoked 2 and b revoked 4 and 5, the next round completes the target.
        let subs: BTreeMap<String, Subscription> = [
            ("a".to_owned(), sub(&[0, 1])),
            ("b".to_owned(), sub(&[3])),
            ("c".to_owned(), sub(&[])),
        ]
        .into_iter()
        .collect();
        let second = assignor.assign(&cluster, &subs);
        assert_eq!(partitions(&second, "a"), [0, 1]);
        assert_eq!(partitions(&second, "b"), [2, 3]);
        assert_eq!(partitions(&second, "c"), [4, 5]);
    }
}
