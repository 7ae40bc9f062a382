//! Request bodies and response readings both members (classic and KIP-848) share: they depend
//! only on the group id, the partitions and the negotiated version.

use alloc::collections::BTreeMap;
use alloc::string::ToString;
use alloc::vec::Vec;

use kafka_wire::ByteString;
use kafka_wire::generated::{
    FindCoordinatorRequest, OffsetFetchRequest, OffsetFetchResponse, offset_fetch_request,
};

use crate::assignor::TopicPartition;
use crate::io::Offset;

/// FindCoordinator for a group (key type 0): batched keys from v4, the single key before.
/// The group's coordinator, as FindCoordinator named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Coordinator {
    pub(crate) node_id: i32,
    pub(crate) host: alloc::string::String,
    pub(crate) port: i32,
}

impl Coordinator {
    /// Where requests for it go.
    pub(crate) fn destination(&self) -> crate::io::Destination {
        crate::io::Destination::Coordinator {
            node_id: self.node_id,
            host: self.host.clone(),
            port: self.port,
        }
    }
}

/// Milliseconds for an `int32` wire field, saturating.
pub(crate) fn ms_i32(d: core::time::Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

pub(crate) fn find_coordinator(group_id: &str, v: i16) -> FindCoordinatorRequest {
    let gid: ByteString = group_id.into();
    if v >= 4 {
        FindCoordinatorRequest {
            key_type: 0,
            coordinator_keys: alloc::vec![gid],
            ..Default::default()
        }
    } else {
        FindCoordinatorRequest {
            key: gid,
            key_type: 0,
            ..Default::default()
        }
    }
}

/// OffsetFetch for `partitions` of one group, in the single-group layout (up to v7).
pub(crate) fn offset_fetch(
    group_id: &str,
    partitions: &[TopicPartition],
    v: i16,
) -> OffsetFetchRequest {
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        topics
            .entry(tp.topic.as_str())
            .or_default()
            .push(tp.partition);
    }
    OffsetFetchRequest {
        group_id: group_id.into(),
        topics: Some(
            topics
                .into_iter()
                .map(|(t, p)| offset_fetch_request::OffsetFetchRequestTopic {
                    name: t.into(),
                    partition_indexes: p.into(),
                    ..Default::default()
                })
                .collect(),
        ),
        require_stable: v >= 7,
        ..Default::default()
    }
}

/// The committed offset of each asked partition with its error code (the partition's, else
/// the response's); offset -1 for a partition the answer leaves out.
pub(crate) fn committed_offsets(
    partitions: Vec<TopicPartition>,
    r: &OffsetFetchResponse,
) -> Vec<(Offset, i16)> {
    partitions
        .into_iter()
        .map(|tp| {
            let found = r
                .topics
                .iter()
                .find(|t| t.name.as_ref() as &str == tp.topic)
                .and_then(|t| {
                    t.partitions
                        .iter()
                        .find(|p| p.partition_index == tp.partition)
                });
            match found {
                Some(p) => (
                    Offset {
                        partition: tp,
                        offset: p.committed_offset,
                        leader_epoch: p.committed_leader_epoch,
                        metadata: p.metadata.as_ref().map(ToString::to_string),
                    },
                    if p.error_code != 0 {
                        p.error_code
                    } else {
                        r.error_code
                    },
                ),
                None => (Offset::new(tp, -1), r.error_code),
            }
        })
        .collect()
}

/// The requests a member has in flight and what each one was for.
///
/// A member has a few at a time (a heartbeat, a commit, a metadata request), so they live in a
/// vector, searched linearly, that gives its room back when it empties: an idle member of a
/// process with many groups then holds no allocation for it between heartbeats.
#[derive(Debug)]
pub(crate) struct InFlight<P>(Vec<(crate::io::RequestId, P)>);

impl<P> InFlight<P> {
    /// No request in flight.
    pub(crate) const fn new() -> Self {
        Self(Vec::new())
    }

    /// Records request `id`.
    pub(crate) fn insert(&mut self, id: crate::io::RequestId, pending: P) {
        self.0.push((id, pending));
    }

    /// Takes request `id` out, if it is in flight.
    pub(crate) fn remove(&mut self, id: &crate::io::RequestId) -> Option<P> {
        let i = self.0.iter().position(|(x, _)| x == id)?;
        let (_, p) = self.0.swap_remove(i);
        if self.0.is_empty() {
            self.0 = Vec::new();
        }
        Some(p)
    }

    /// What the requests in flight were for, in no particular order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &P> {
        self.0.iter().map(|(_, p)| p)
    }
}
