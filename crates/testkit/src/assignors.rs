//! Assignors for tests: a minimal cooperative assignor, until the sticky family exists.

use std::collections::BTreeMap;

use group_fsm::assignor::{
    Assignment, Assignor, ClusterView, RangeAssignor, RebalanceProtocol, Subscription,
    TopicPartition,
};

/// Range's target, made safe for the cooperative protocol (KIP-429): a partition whose target
/// owner differs from the member that claims it in its subscription's owned partitions is
/// withheld this round; its owner revokes it and rejoins, and the next round assigns it.
#[derive(Debug, Default, Clone, Copy)]
pub struct CooperativeRange;

impl Assignor for CooperativeRange {
    fn name(&self) -> &str {
        "cooperative-range"
    }

    fn supported_protocols(&self) -> &[RebalanceProtocol] {
        &[RebalanceProtocol::Eager, RebalanceProtocol::Cooperative]
    }

    fn assign(
        &self,
        cluster: &ClusterView,
        subscriptions: &BTreeMap<String, Subscription>,
    ) -> BTreeMap<String, Assignment> {
        let target = RangeAssignor.assign(cluster, subscriptions);
        let mut claimed: BTreeMap<&TopicPartition, &str> = BTreeMap::new();
        for (m, s) in subscriptions {
            for tp in &s.owned_partitions {
                claimed.insert(tp, m);
            }
        }
        target
            .into_iter()
            .map(|(m, mut a)| {
                a.partitions
                    .retain(|tp| claimed.get(tp).is_none_or(|owner| *owner == m));
                (m, a)
            })
            .collect()
    }
}
