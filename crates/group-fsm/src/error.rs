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
    /// `group.protocol=consumer` but the broker does not offer ConsumerGroupHeartbeat (key
    /// 68) in its ApiVersions: it does not support the KIP-848 consumer group protocol. The
    /// member never falls back to the classic protocol on its own.
    #[error(
        "the broker does not support the consumer group protocol (KIP-848): no ConsumerGroupHeartbeat (API key 68) in its ApiVersions"
    )]
    ConsumerProtocolUnsupported,
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
    /// A pattern subscription under the consumer protocol needs ConsumerGroupHeartbeat v1
    /// (the broker evaluates the regex); the broker only offers v0.
    #[error("regex subscription needs ConsumerGroupHeartbeat v1")]
    PatternNeedsBroker,
}
