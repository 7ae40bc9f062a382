//! What the member does for each error code of each group API: one data table.
//!
//! Where Java, librdkafka and franz-go differ (`group-protocol.md` §4), the choice is noted.

use kafka_wire::error_code::ErrorCode as E;

/// The group APIs the member sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    FindCoordinator,
    JoinGroup,
    SyncGroup,
    Heartbeat,
    OffsetCommit,
}

impl Api {
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::FindCoordinator => "FindCoordinator",
            Self::JoinGroup => "JoinGroup",
            Self::SyncGroup => "SyncGroup",
            Self::Heartbeat => "Heartbeat",
            Self::OffsetCommit => "OffsetCommit",
        }
    }
}

/// The reaction to an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reaction {
    /// Nothing to do.
    Ignore,
    /// Rejoin immediately, no backoff.
    RetryNow,
    /// Retry after the exponential backoff.
    Backoff,
    /// Forget the coordinator, find it again, then retry (after backoff).
    Rediscover,
    /// The group is rebalancing: rejoin.
    Rejoin,
    /// Generation reset (member id kept), partitions lost, rejoin.
    ResetGeneration,
    /// Generation and member id reset, partitions lost, rejoin.
    ResetMember,
    /// Tell the app; nothing else changes.
    Report,
    /// Stop: the member is failed.
    Fatal,
}

/// The table. Codes not listed fall to the last arm of each API.
pub(crate) fn reaction(api: Api, code: i16) -> Reaction {
    use Reaction::*;
    match (api, E(code)) {
        (_, E::NONE) => Ignore,
        // Shared by every group API.
        (_, E::COORDINATOR_NOT_AVAILABLE | E::NOT_COORDINATOR | E::REQUEST_TIMED_OUT) => Rediscover,
        (_, E::COORDINATOR_LOAD_IN_PROGRESS) => Backoff,
        // KIP-345: another instance took our group.instance.id. Fatal everywhere (Java and
        // librdkafka); franz-go retries, which only fights the other instance.
        (_, E::FENCED_INSTANCE_ID) => Fatal,

        // Java: authorization and a bad group id are fatal; the rest is retried.
        (Api::FindCoordinator, E::GROUP_AUTHORIZATION_FAILED | E::INVALID_GROUP_ID) => Fatal,
        (Api::FindCoordinator, _) => Backoff,

        (Api::JoinGroup, E::UNKNOWN_MEMBER_ID) => ResetMember,
        (Api::JoinGroup, E::ILLEGAL_GENERATION) => ResetGeneration,
        // Java retries at once (KAFKA-10870); librdkafka waits 1 s.
        (Api::JoinGroup, E::REBALANCE_IN_PROGRESS | E::MEMBER_ID_REQUIRED) => RetryNow,
        // Java's choice: configuration problems that retrying cannot fix.
        (
            Api::JoinGroup,
            E::GROUP_MAX_SIZE_REACHED
            | E::INCONSISTENT_GROUP_PROTOCOL
            | E::INVALID_SESSION_TIMEOUT
            | E::INVALID_GROUP_ID
            | E::GROUP_AUTHORIZATION_FAILED
            | E::UNSUPPORTED_VERSION,
        ) => Fatal,
        (Api::JoinGroup, _) => Backoff,

        (Api::SyncGroup, E::REBALANCE_IN_PROGRESS) => RetryNow,
        // librdkafka's mock answers a late follower SyncGroup with INVALID_REQUEST: rejoin.
        (Api::SyncGroup, E::INVALID_REQUEST) => RetryNow,
        (Api::SyncGroup, E::UNKNOWN_MEMBER_ID) => ResetMember,
        (Api::SyncGroup, E::ILLEGAL_GENERATION) => ResetGeneration,
        (Api::SyncGroup, E::GROUP_AUTHORIZATION_FAILED | E::INCONSISTENT_GROUP_PROTOCOL) => Fatal,
        (Api::SyncGroup, _) => Backoff,

        (Api::Heartbeat, E::REBALANCE_IN_PROGRESS) => Rejoin,
        (Api::Heartbeat, E::ILLEGAL_GENERATION) => ResetGeneration,
        (Api::Heartbeat, E::UNKNOWN_MEMBER_ID) => ResetMember,
        (Api::Heartbeat, E::GROUP_AUTHORIZATION_FAILED) => Fatal,
        (Api::Heartbeat, _) => Report,

        (Api::OffsetCommit, E::REBALANCE_IN_PROGRESS) => Rejoin,
        (Api::OffsetCommit, E::ILLEGAL_GENERATION) => ResetGeneration,
        (Api::OffsetCommit, E::UNKNOWN_MEMBER_ID) => ResetMember,
        // Per-partition problems (OFFSET_METADATA_TOO_LARGE, authorization...) are reported with
        // the commit result.
        (Api::OffsetCommit, _) => Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_spot_checks() {
        assert_eq!(
            reaction(Api::JoinGroup, E::MEMBER_ID_REQUIRED.0),
            Reaction::RetryNow
        );
        assert_eq!(
            reaction(Api::JoinGroup, E::FENCED_INSTANCE_ID.0),
            Reaction::Fatal
        );
        assert_eq!(
            reaction(Api::Heartbeat, E::REBALANCE_IN_PROGRESS.0),
            Reaction::Rejoin
        );
        assert_eq!(
            reaction(Api::Heartbeat, E::NOT_COORDINATOR.0),
            Reaction::Rediscover
        );
        assert_eq!(
            reaction(Api::SyncGroup, E::ILLEGAL_GENERATION.0),
            Reaction::ResetGeneration
        );
        assert_eq!(
            reaction(Api::OffsetCommit, E::UNKNOWN_MEMBER_ID.0),
            Reaction::ResetMember
        );
        assert_eq!(
            reaction(Api::FindCoordinator, E::COORDINATOR_NOT_AVAILABLE.0),
            Reaction::Rediscover
        );
    }

    #[test]
    fn every_code_has_a_reaction_for_every_api() {
        for api in [
            Api::FindCoordinator,
            Api::JoinGroup,
            Api::SyncGroup,
            Api::Heartbeat,
            Api::OffsetCommit,
        ] {
            for code in -1..=140 {
                let _ = reaction(api, code);
            }
        }
    }
}
