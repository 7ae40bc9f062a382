//! Errors: broker-side problems ([`GroupError`]) and app misuse ([`UsageError`]).

/// A group-level error, usually a broker error code with the API that returned it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// The broker answered `api` with `code`.
    #[error("{api} returned error {code}")]
    Broker {
        /// API name.
        api: &'static str,
        /// Kafka error code.
        code: i16,
    },
    /// The broker's response contradicts the protocol (KIP-559 mismatch, undecodable
    /// assignment, unexpected body).
    #[error("protocol violation: {0}")]
    Protocol(&'static str),
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(&'static str),
    /// `max.poll.interval` passed without [`crate::Input::Poll`]: the member left the group.
    #[error("max.poll.interval exceeded")]
    PollIntervalExceeded,
    /// No successful heartbeat within the session timeout: the coordinator is re-discovered.
    #[error("session timed out on the client")]
    SessionTimedOut,
}

/// A command the app gave in the wrong state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// Commit while the group is rebalancing (retry after the next assignment).
    #[error("rebalance in progress")]
    RebalanceInProgress,
    /// Commit or fetch while not a member.
    #[error("not a member of the group")]
    NotMember,
    /// `RevocationDone` without a pending revocation.
    #[error("no revocation pending")]
    NoRevocationPending,
    /// The member is closed or failed.
    #[error("member closed")]
    Closed,
    /// The subscription pattern is not a valid regular expression.
    #[error("invalid subscription pattern")]
    InvalidPattern,
}
