//! Kafka protocol error codes.
//!
//! [`ErrorCode`] wraps the raw `i16` that every Kafka response carries in its
//! `ErrorCode` fields. It accepts any value, so a code that a newer broker
//! sends and this table does not know yet still round-trips unchanged; such a
//! code has no [`name`](ErrorCode::name) and is not
//! [`known`](ErrorCode::is_known).
//!
//! The table follows `org.apache.kafka.common.protocol.Errors` in Apache
//! Kafka 4.x, from `-1` (`UNKNOWN_SERVER_ERROR`) through `136`
//! (`CONTROLLER_ID_NOT_REGISTERED`), with no gaps. The constant names are the
//! Java enum names. [`ErrorCode::is_retriable`] is `true` exactly for the codes
//! whose Java exception class extends `RetriableException` (this includes the
//! `InvalidMetadataException` family, which asks the client to refresh its
//! metadata before retrying). The messages are short summaries written for
//! this crate, not Kafka's own texts.

use core::fmt;

/// A Kafka protocol error code, as carried on the wire.
///
/// `ErrorCode(0)` ([`ErrorCode::NONE`]) means success. Any `i16` is accepted;
/// codes missing from the table are reported as unknown rather than rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(pub i16);

/// Generates the constants, [`ErrorCode::ALL`] and the lookup functions from
/// one table. Each row is `(code, NAME, retriable, "message")`, in ascending
/// order of code.
macro_rules! error_codes {
    ($(($code:literal, $name:ident, $retriable:literal, $message:literal),)+) => {
        impl ErrorCode {
            $(
                #[doc = concat!("`", stringify!($code), "`: ", $message)]
                pub const $name: Self = Self($code);
            )+

            /// Every error code in the table, in ascending order of code.
            pub const ALL: &[ErrorCode] = &[$(Self::$name),+];

            /// The Java `Errors` enum name of this code, such as
            /// `"NOT_COORDINATOR"`, or `None` for a code not in the table.
            #[must_use]
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($code => Some(stringify!($name)),)+
                    _ => None,
                }
            }

            /// A short description of this code, or `None` for a code not in
            /// the table.
            #[must_use]
            pub const fn message(self) -> Option<&'static str> {
                match self.0 {
                    $($code => Some($message),)+
                    _ => None,
                }
            }

            /// Whether Kafka's Java client treats this code as retriable: its
            /// exception class extends `RetriableException`.
            ///
            /// `false` for [`ErrorCode::NONE`] and for codes not in the table
            /// (the Java client maps an unknown code to the non-retriable
            /// `UNKNOWN_SERVER_ERROR`).
            #[must_use]
            pub const fn is_retriable(self) -> bool {
                match self.0 {
                    $($code => $retriable,)+
                    _ => false,
                }
            }
        }
    };
}

error_codes! {
    (-1, UNKNOWN_SERVER_ERROR, false, "The broker hit an unexpected error while handling the request."),
    (0, NONE, false, "No error."),
    (1, OFFSET_OUT_OF_RANGE, false, "The requested offset is outside the range the broker holds for the partition."),
    (2, CORRUPT_MESSAGE, true, "A record failed validation: bad CRC, invalid size, null key on a compacted topic, or other corruption."),
    (3, UNKNOWN_TOPIC_OR_PARTITION, true, "The broker does not host this topic-partition."),
    (4, INVALID_FETCH_SIZE, false, "The fetch size in the request is invalid."),
    (5, LEADER_NOT_AVAILABLE, true, "The partition has no leader right now, usually because an election is in progress."),
    (6, NOT_LEADER_OR_FOLLOWER, true, "The broker is not the leader, or not a replica, of the partition the request targets."),
    (7, REQUEST_TIMED_OUT, true, "The request timed out."),
    (8, BROKER_NOT_AVAILABLE, false, "The broker is not available."),
    (9, REPLICA_NOT_AVAILABLE, true, "The replica for the requested partition is not available."),
    (10, MESSAGE_TOO_LARGE, false, "A record is larger than the maximum message size the broker accepts."),
    (11, STALE_CONTROLLER_EPOCH, false, "The controller epoch in the request is outdated; the controller has moved."),
    (12, OFFSET_METADATA_TOO_LARGE, false, "The metadata string of a committed offset is too large."),
    (13, NETWORK_EXCEPTION, true, "The connection closed before a response arrived."),
    (14, COORDINATOR_LOAD_IN_PROGRESS, true, "The coordinator is still loading its state and cannot serve requests yet."),
    (15, COORDINATOR_NOT_AVAILABLE, true, "The coordinator is not available."),
    (16, NOT_COORDINATOR, true, "The broker is not the coordinator for this group or transactional id."),
    (17, INVALID_TOPIC_EXCEPTION, false, "The request targets an invalid topic."),
    (18, RECORD_LIST_TOO_LARGE, false, "A record batch is larger than the broker's configured segment size."),
    (19, NOT_ENOUGH_REPLICAS, true, "The write was rejected: fewer in-sync replicas than required."),
    (20, NOT_ENOUGH_REPLICAS_AFTER_APPEND, true, "The write was appended, but to fewer in-sync replicas than required."),
    (21, INVALID_REQUIRED_ACKS, false, "The produce request has an invalid acks value."),
    (22, ILLEGAL_GENERATION, false, "The group generation id in the request is not the current one."),
    (23, INCONSISTENT_GROUP_PROTOCOL, false, "The member's protocol type or protocols do not match the group's, or are empty."),
    (24, INVALID_GROUP_ID, false, "The group id is invalid."),
    (25, UNKNOWN_MEMBER_ID, false, "The coordinator does not know this member id."),
    (26, INVALID_SESSION_TIMEOUT, false, "The session timeout is outside the range the broker allows."),
    (27, REBALANCE_IN_PROGRESS, false, "The group is rebalancing; the member must rejoin."),
    (28, INVALID_COMMIT_OFFSET_SIZE, false, "The offset commit data has an invalid size."),
    (29, TOPIC_AUTHORIZATION_FAILED, false, "The principal is not authorized for the topic."),
    (30, GROUP_AUTHORIZATION_FAILED, false, "The principal is not authorized for the group."),
    (31, CLUSTER_AUTHORIZATION_FAILED, false, "The principal is not authorized for the cluster operation."),
    (32, INVALID_TIMESTAMP, false, "A record timestamp is outside the accepted range."),
    (33, UNSUPPORTED_SASL_MECHANISM, false, "The broker does not support the requested SASL mechanism."),
    (34, ILLEGAL_SASL_STATE, false, "The request is not valid in the current SASL state."),
    (35, UNSUPPORTED_VERSION, false, "The broker does not support this API version."),
    (36, TOPIC_ALREADY_EXISTS, false, "A topic with this name already exists."),
    (37, INVALID_PARTITIONS, false, "The partition count is invalid."),
    (38, INVALID_REPLICATION_FACTOR, false, "The replication factor is below 1 or above the number of available brokers."),
    (39, INVALID_REPLICA_ASSIGNMENT, false, "The replica assignment is invalid."),
    (40, INVALID_CONFIG, false, "The configuration is invalid."),
    (41, NOT_CONTROLLER, true, "The broker is not the active controller."),
    (42, INVALID_REQUEST, false, "The request is malformed or not valid for this broker; the broker log has details."),
    (43, UNSUPPORTED_FOR_MESSAGE_FORMAT, false, "The broker's message format version does not support the request."),
    (44, POLICY_VIOLATION, false, "The request violates a configured policy."),
    (45, OUT_OF_ORDER_SEQUENCE_NUMBER, false, "The broker received a producer sequence number out of order."),
    (46, DUPLICATE_SEQUENCE_NUMBER, false, "The broker received a duplicate producer sequence number."),
    (47, INVALID_PRODUCER_EPOCH, false, "The producer used an outdated epoch."),
    (48, INVALID_TXN_STATE, false, "The transactional operation is not valid in the transaction's current state."),
    (49, INVALID_PRODUCER_ID_MAPPING, false, "The producer id is not the one currently assigned to the transactional id."),
    (50, INVALID_TRANSACTION_TIMEOUT, false, "The transaction timeout exceeds the broker maximum (transaction.max.timeout.ms)."),
    (51, CONCURRENT_TRANSACTIONS, true, "Another operation on the same transaction is still in progress."),
    (52, TRANSACTION_COORDINATOR_FENCED, false, "The transaction coordinator sending the marker is no longer current for the producer."),
    (53, TRANSACTIONAL_ID_AUTHORIZATION_FAILED, false, "The principal is not authorized for the transactional id."),
    (54, SECURITY_DISABLED, false, "Security features are disabled on the broker."),
    (55, OPERATION_NOT_ATTEMPTED, false, "The broker skipped this operation, typically because another part of the batch failed."),
    (56, KAFKA_STORAGE_ERROR, true, "A disk error occurred while accessing the log."),
    (57, LOG_DIR_NOT_FOUND, false, "The log directory in the request is not in the broker's configuration."),
    (58, SASL_AUTHENTICATION_FAILED, false, "SASL authentication failed."),
    (59, UNKNOWN_PRODUCER_ID, false, "The broker has no state for this producer id, for example after its records expired."),
    (60, REASSIGNMENT_IN_PROGRESS, false, "A partition reassignment is in progress."),
    (61, DELEGATION_TOKEN_AUTH_DISABLED, false, "Delegation tokens are not enabled."),
    (62, DELEGATION_TOKEN_NOT_FOUND, false, "The delegation token does not exist on the broker."),
    (63, DELEGATION_TOKEN_OWNER_MISMATCH, false, "The principal is not the owner or a renewer of the delegation token."),
    (64, DELEGATION_TOKEN_REQUEST_NOT_ALLOWED, false, "Delegation token requests are not allowed on this kind of channel."),
    (65, DELEGATION_TOKEN_AUTHORIZATION_FAILED, false, "The principal is not authorized for the delegation token operation."),
    (66, DELEGATION_TOKEN_EXPIRED, false, "The delegation token has expired."),
    (67, INVALID_PRINCIPAL_TYPE, false, "The principal type is not supported."),
    (68, NON_EMPTY_GROUP, false, "The group still has members."),
    (69, GROUP_ID_NOT_FOUND, false, "The group does not exist."),
    (70, FETCH_SESSION_ID_NOT_FOUND, true, "The broker does not know the fetch session id."),
    (71, INVALID_FETCH_SESSION_EPOCH, true, "The fetch session epoch is invalid."),
    (72, LISTENER_NOT_FOUND, true, "The partition leader has no listener matching the one the metadata request used."),
    (73, TOPIC_DELETION_DISABLED, false, "Topic deletion is disabled."),
    (74, FENCED_LEADER_EPOCH, true, "The leader epoch in the request is older than the broker's."),
    (75, UNKNOWN_LEADER_EPOCH, true, "The leader epoch in the request is newer than the broker's."),
    (76, UNSUPPORTED_COMPRESSION_TYPE, false, "The client does not support the partition's compression type."),
    (77, STALE_BROKER_EPOCH, false, "The broker epoch in the request is outdated."),
    (78, OFFSET_NOT_AVAILABLE, true, "The new leader's high watermark has not caught up, so the offset cannot be served yet."),
    (79, MEMBER_ID_REQUIRED, false, "The member must rejoin using the member id the coordinator assigned."),
    (80, PREFERRED_LEADER_NOT_AVAILABLE, true, "The preferred leader is not available."),
    (81, GROUP_MAX_SIZE_REACHED, false, "The group has reached its maximum size."),
    (82, FENCED_INSTANCE_ID, false, "A member with the same group.instance.id has fenced this static member."),
    (83, ELIGIBLE_LEADERS_NOT_AVAILABLE, true, "No eligible leader is available for the partition."),
    (84, ELECTION_NOT_NEEDED, true, "The partition does not need a leader election."),
    (85, NO_REASSIGNMENT_IN_PROGRESS, false, "No partition reassignment is in progress."),
    (86, GROUP_SUBSCRIBED_TO_TOPIC, false, "A topic's offsets cannot be deleted while the group is subscribed to it."),
    (87, INVALID_RECORD, false, "The broker rejected a record that failed validation."),
    (88, UNSTABLE_OFFSET_COMMIT, true, "Pending transactional offsets must complete before offsets can be fetched."),
    (89, THROTTLING_QUOTA_EXCEEDED, true, "The request exceeded a throttling quota."),
    (90, PRODUCER_FENCED, false, "A newer producer with the same transactional id has fenced this one."),
    (91, RESOURCE_NOT_FOUND, false, "The request refers to a resource that does not exist."),
    (92, DUPLICATE_RESOURCE, false, "The request refers to the same resource more than once."),
    (93, UNACCEPTABLE_CREDENTIAL, false, "The requested credential does not meet the acceptability criteria."),
    (94, INCONSISTENT_VOTER_SET, false, "The sender or receiver of a voter-only request is not an expected voter."),
    (95, INVALID_UPDATE_VERSION, false, "The update version is invalid."),
    (96, FEATURE_UPDATE_FAILED, false, "Finalized features could not be updated because of an unexpected server error."),
    (97, PRINCIPAL_DESERIALIZATION_FAILURE, false, "The principal of a forwarded request could not be deserialized."),
    (98, SNAPSHOT_NOT_FOUND, false, "The requested snapshot does not exist."),
    (99, POSITION_OUT_OF_RANGE, false, "The requested position is negative or beyond the end of the snapshot."),
    (100, UNKNOWN_TOPIC_ID, true, "The broker does not host a topic with this id."),
    (101, DUPLICATE_BROKER_REGISTRATION, false, "The broker id is already registered."),
    (102, BROKER_ID_NOT_REGISTERED, false, "The broker id is not registered."),
    (103, INCONSISTENT_TOPIC_ID, true, "The topic id in the request does not match the log's topic id."),
    (104, INCONSISTENT_CLUSTER_ID, false, "The cluster id in the request does not match the server's."),
    (105, TRANSACTIONAL_ID_NOT_FOUND, false, "The transactional id does not exist."),
    (106, FETCH_SESSION_TOPIC_ID_ERROR, true, "The fetch session used topic ids inconsistently."),
    (107, INELIGIBLE_REPLICA, false, "The proposed ISR contains an ineligible replica."),
    (108, NEW_LEADER_ELECTED, false, "The partition state was updated, but the leader changed."),
    (109, OFFSET_MOVED_TO_TIERED_STORAGE, false, "The requested offset is now only in tiered storage."),
    (110, FENCED_MEMBER_EPOCH, false, "The member epoch is fenced; the member must release its partitions and rejoin."),
    (111, UNRELEASED_INSTANCE_ID, false, "The instance id is still held by another member, which must leave first."),
    (112, UNSUPPORTED_ASSIGNOR, false, "The group does not support the assignor or its version range."),
    (113, STALE_MEMBER_EPOCH, false, "The member epoch is stale; retry once a heartbeat delivers the current epoch."),
    (114, MISMATCHED_ENDPOINT_TYPE, false, "The request was sent to the wrong type of endpoint."),
    (115, UNSUPPORTED_ENDPOINT_TYPE, false, "The endpoint type is not supported yet."),
    (116, UNKNOWN_CONTROLLER_ID, false, "The controller id is unknown."),
    (117, UNKNOWN_SUBSCRIPTION_ID, false, "The telemetry push used an unknown or outdated subscription id."),
    (118, TELEMETRY_TOO_LARGE, false, "The telemetry push exceeds the broker's maximum size."),
    (119, INVALID_REGISTRATION, false, "The controller considers the broker registration invalid."),
    (120, TRANSACTION_ABORTABLE, false, "The transaction failed; aborting it lets the transactional id continue."),
    (121, INVALID_RECORD_STATE, false, "The record's delivery state does not allow the acknowledgement."),
    (122, SHARE_SESSION_NOT_FOUND, true, "The share session does not exist."),
    (123, INVALID_SHARE_SESSION_EPOCH, true, "The share session epoch is invalid."),
    (124, FENCED_STATE_EPOCH, false, "The share-group state epoch did not match, so the share coordinator rejected the request."),
    (125, INVALID_VOTER_KEY, false, "The voter key does not match the receiving replica."),
    (126, DUPLICATE_VOTER, false, "The voter is already in the voter set."),
    (127, VOTER_NOT_FOUND, false, "The voter is not in the voter set."),
    (128, INVALID_REGULAR_EXPRESSION, false, "The regular expression is invalid."),
    (129, REBOOTSTRAP_REQUIRED, false, "The client's metadata is stale and it must rebootstrap."),
    (130, STREAMS_INVALID_TOPOLOGY, false, "The Streams topology is invalid."),
    (131, STREAMS_INVALID_TOPOLOGY_EPOCH, false, "The Streams topology epoch is invalid."),
    (132, STREAMS_TOPOLOGY_FENCED, false, "The Streams topology epoch is outdated."),
    (133, SHARE_SESSION_LIMIT_REACHED, true, "The broker's limit of share sessions has been reached."),
    (134, GROUP_DELETION_FAILED, false, "The group could not be deleted; the error message gives the cause."),
    (135, STREAMS_TOPOLOGY_DESCRIPTION_UPDATE_FAILED, false, "The broker could not apply the Streams topology description update."),
    (136, CONTROLLER_ID_NOT_REGISTERED, false, "The controller id is not registered."),
}

impl ErrorCode {
    /// Whether this is [`ErrorCode::NONE`] (success).
    #[must_use]
    pub const fn is_ok(self) -> bool {
        self.0 == Self::NONE.0
    }

    /// Whether this code is in the table (see [`ErrorCode::ALL`]).
    #[must_use]
    pub const fn is_known(self) -> bool {
        self.name().is_some()
    }
}

impl From<i16> for ErrorCode {
    fn from(code: i16) -> Self {
        Self(code)
    }
}

impl From<ErrorCode> for i16 {
    fn from(code: ErrorCode) -> Self {
        code.0
    }
}

impl fmt::Display for ErrorCode {
    /// `NOT_COORDINATOR (16)` for a known code, `UNKNOWN_CODE(999)` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "UNKNOWN_CODE({})", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::format;

    use super::ErrorCode;

    /// The highest code in the table.
    const MAX_CODE: i16 = 136;

    /// The codes whose Java exception extends `RetriableException`.
    const RETRIABLE: [i16; 32] = [
        2, 3, 5, 6, 7, 9, 13, 14, 15, 16, 19, 20, 41, 51, 56, 70, 71, 72, 74, 75, 78, 80, 83, 84,
        88, 89, 100, 103, 106, 122, 123, 133,
    ];

    #[test]
    fn codes_are_contiguous_from_minus_one_to_max() {
        assert_eq!(ErrorCode::ALL.len(), usize::try_from(MAX_CODE + 2).unwrap());
        for (index, code) in ErrorCode::ALL.iter().enumerate() {
            let expected = i16::try_from(index).unwrap() - 1;
            assert_eq!(code.0, expected, "entry {index}");
        }
        assert_eq!(
            ErrorCode::ALL.first(),
            Some(&ErrorCode::UNKNOWN_SERVER_ERROR)
        );
        assert_eq!(ErrorCode::ALL.last().map(|c| c.0), Some(MAX_CODE));
    }

    #[test]
    fn codes_and_names_are_unique() {
        for (i, a) in ErrorCode::ALL.iter().enumerate() {
            for b in &ErrorCode::ALL[i + 1..] {
                assert_ne!(a.0, b.0);
                assert_ne!(a.name(), b.name(), "{a:?} and {b:?}");
            }
        }
    }

    #[test]
    fn every_known_code_has_a_name_and_a_message() {
        for code in ErrorCode::ALL {
            assert!(code.is_known(), "{code:?}");
            let name = code.name().unwrap();
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "{name}"
            );
            let message = code.message().unwrap();
            assert!(!message.is_empty(), "{name}");
            assert_eq!(format!("{code}"), format!("{name} ({})", code.0));
        }
    }

    #[test]
    fn well_known_names() {
        let cases = [
            (-1, "UNKNOWN_SERVER_ERROR"),
            (0, "NONE"),
            (3, "UNKNOWN_TOPIC_OR_PARTITION"),
            (6, "NOT_LEADER_OR_FOLLOWER"),
            (7, "REQUEST_TIMED_OUT"),
            (14, "COORDINATOR_LOAD_IN_PROGRESS"),
            (15, "COORDINATOR_NOT_AVAILABLE"),
            (16, "NOT_COORDINATOR"),
            (22, "ILLEGAL_GENERATION"),
            (25, "UNKNOWN_MEMBER_ID"),
            (27, "REBALANCE_IN_PROGRESS"),
            (35, "UNSUPPORTED_VERSION"),
            (79, "MEMBER_ID_REQUIRED"),
            (82, "FENCED_INSTANCE_ID"),
            (110, "FENCED_MEMBER_EPOCH"),
            (111, "UNRELEASED_INSTANCE_ID"),
            (112, "UNSUPPORTED_ASSIGNOR"),
            (113, "STALE_MEMBER_EPOCH"),
            (133, "SHARE_SESSION_LIMIT_REACHED"),
        ];
        for (code, name) in cases {
            assert_eq!(ErrorCode(code).name(), Some(name), "{code}");
        }
        assert_eq!(ErrorCode::NOT_COORDINATOR, ErrorCode(16));
        assert_eq!(ErrorCode::REBALANCE_IN_PROGRESS, ErrorCode(27));
        assert_eq!(ErrorCode::MEMBER_ID_REQUIRED, ErrorCode(79));
        assert_eq!(ErrorCode::FENCED_INSTANCE_ID, ErrorCode(82));
        assert_eq!(ErrorCode::UNSUPPORTED_VERSION, ErrorCode(35));
        assert_eq!(ErrorCode::FENCED_MEMBER_EPOCH, ErrorCode(110));
        assert_eq!(ErrorCode::UNRELEASED_INSTANCE_ID, ErrorCode(111));
        assert_eq!(ErrorCode::UNSUPPORTED_ASSIGNOR, ErrorCode(112));
        assert_eq!(ErrorCode::STALE_MEMBER_EPOCH, ErrorCode(113));
    }

    #[test]
    fn well_known_retriable_flags() {
        let cases = [
            (ErrorCode::UNKNOWN_SERVER_ERROR, false),
            (ErrorCode::NONE, false),
            (ErrorCode::REQUEST_TIMED_OUT, true),
            (ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, true),
            (ErrorCode::COORDINATOR_NOT_AVAILABLE, true),
            (ErrorCode::NOT_COORDINATOR, true),
            (ErrorCode::ILLEGAL_GENERATION, false),
            (ErrorCode::UNKNOWN_MEMBER_ID, false),
            (ErrorCode::REBALANCE_IN_PROGRESS, false),
            (ErrorCode::UNSUPPORTED_VERSION, false),
            (ErrorCode::MEMBER_ID_REQUIRED, false),
            (ErrorCode::FENCED_INSTANCE_ID, false),
            (ErrorCode::NOT_LEADER_OR_FOLLOWER, true),
            (ErrorCode::CONCURRENT_TRANSACTIONS, true),
            (ErrorCode::PRODUCER_FENCED, false),
            (ErrorCode::FENCED_MEMBER_EPOCH, false),
            (ErrorCode::STALE_MEMBER_EPOCH, false),
        ];
        for (code, retriable) in cases {
            assert_eq!(code.is_retriable(), retriable, "{code}");
        }
    }

    #[test]
    fn retriable_set_is_exact() {
        for code in ErrorCode::ALL {
            assert_eq!(code.is_retriable(), RETRIABLE.contains(&code.0), "{code}");
        }
    }

    #[test]
    fn unknown_codes() {
        for raw in [-2, MAX_CODE + 1, 999, i16::MIN, i16::MAX] {
            let code = ErrorCode::from(raw);
            assert!(!code.is_known());
            assert!(!code.is_ok());
            assert!(!code.is_retriable());
            assert_eq!(code.name(), None);
            assert_eq!(code.message(), None);
            assert_eq!(format!("{code}"), format!("UNKNOWN_CODE({raw})"));
        }
        assert_eq!(format!("{}", ErrorCode(999)), "UNKNOWN_CODE(999)");
    }

    #[test]
    fn only_none_is_ok() {
        assert!(ErrorCode::NONE.is_ok());
        assert_eq!(ErrorCode::ALL.iter().filter(|c| c.is_ok()).count(), 1);
    }

    #[test]
    fn conversions_and_display() {
        assert_eq!(ErrorCode::from(16), ErrorCode::NOT_COORDINATOR);
        assert_eq!(i16::from(ErrorCode::REBALANCE_IN_PROGRESS), 27);
        assert_eq!(
            format!("{}", ErrorCode::NOT_COORDINATOR),
            "NOT_COORDINATOR (16)"
        );
        assert_eq!(
            format!("{}", ErrorCode::UNKNOWN_SERVER_ERROR),
            "UNKNOWN_SERVER_ERROR (-1)"
        );
        assert_eq!(format!("{:?}", ErrorCode::NOT_COORDINATOR), "ErrorCode(16)");
        assert!(ErrorCode::UNKNOWN_SERVER_ERROR < ErrorCode::NONE);
    }
}
