//! Response bodies shaped for the request's version, and error responses for every API the
//! model implements.
//!
//! kafka-wire refuses to encode a field that a version lacks unless it holds its default, and a
//! null where a version has no nullable string; everything here sets version-specific fields
//! only where the version has them.

use bytes::Bytes;
use kafka_wire::error_code::ErrorCode;
use kafka_wire::generated::api_versions_response::ApiVersion;
use kafka_wire::generated::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_wire::generated::find_coordinator_response::Coordinator;
use kafka_wire::generated::join_group_response::JoinGroupResponseMember;
use kafka_wire::generated::leave_group_response::MemberResponse;
use kafka_wire::generated::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_wire::generated::metadata_response::MetadataResponseTopic;
use kafka_wire::generated::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_wire::generated::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_wire::generated::{
    ApiVersionsResponse, ConsumerGroupHeartbeatResponse, FetchResponse, FindCoordinatorResponse,
    HeartbeatResponse, JoinGroupResponse, LeaveGroupResponse, ListOffsetsResponse,
    MetadataResponse, OffsetCommitResponse, OffsetFetchResponse, SyncGroupResponse,
};
use kafka_wire::{AnyRequest, AnyResponse, ApiKey, VersionRange};

use crate::ConnId;

/// Where a response goes: the connection, the correlation id and the request's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReplyTo {
    pub(crate) conn: ConnId,
    pub(crate) correlation_id: i32,
    pub(crate) version: i16,
}

/// A response ready to be encoded for `to`.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) to: ReplyTo,
    pub(crate) body: AnyResponse,
}

/// One entry of the leader's member list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoinMember {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) metadata: Bytes,
}

/// A JoinGroup outcome, independent of version (`JoinGroupResult` in Kafka).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoinResult {
    pub(crate) error: ErrorCode,
    pub(crate) member_id: String,
    pub(crate) generation: i32,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) leader: String,
    pub(crate) skip_assignment: bool,
    pub(crate) members: Vec<JoinMember>,
}

impl JoinResult {
    /// An error answer: generation -1, no protocol, no leader.
    pub(crate) fn error(member_id: &str, error: ErrorCode) -> Self {
        Self {
            error,
            member_id: member_id.to_owned(),
            generation: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            members: Vec::new(),
        }
    }
}

/// JoinGroup response at `version`: protocol name `""` instead of null before v7, protocol
/// type only from v7, skip-assignment only at v9, instance ids only from v5.
pub(crate) fn join(version: i16, r: &JoinResult) -> AnyResponse {
    let protocol_name = if version >= 7 {
        r.protocol_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .map(Into::into)
    } else {
        Some(r.protocol_name.as_deref().unwrap_or_default().into())
    };
    AnyResponse::JoinGroup(JoinGroupResponse {
        error_code: r.error.0,
        generation_id: r.generation,
        protocol_type: if version >= 7 {
            r.protocol_type.as_deref().map(Into::into)
        } else {
            None
        },
        protocol_name,
        leader: r.leader.as_str().into(),
        skip_assignment: version >= 9 && r.skip_assignment,
        member_id: r.member_id.as_str().into(),
        members: r
            .members
            .iter()
            .map(|m| JoinGroupResponseMember {
                member_id: m.member_id.as_str().into(),
                group_instance_id: if version >= 5 {
                    m.instance_id.as_deref().map(Into::into)
                } else {
                    None
                },
                metadata: m.metadata.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

/// SyncGroup response at `version` (protocol type and name from v5, on success).
pub(crate) fn sync(
    version: i16,
    error: ErrorCode,
    protocol_type: Option<&str>,
    protocol_name: Option<&str>,
    assignment: Bytes,
) -> AnyResponse {
    let v5 = version >= 5 && error == ErrorCode::NONE;
    AnyResponse::SyncGroup(SyncGroupResponse {
        error_code: error.0,
        protocol_type: protocol_type.filter(|_| v5).map(Into::into),
        protocol_name: protocol_name.filter(|_| v5).map(Into::into),
        assignment,
        ..Default::default()
    })
}

/// Heartbeat response.
pub(crate) fn heartbeat(error: ErrorCode) -> AnyResponse {
    AnyResponse::Heartbeat(HeartbeatResponse {
        error_code: error.0,
        ..Default::default()
    })
}

/// LeaveGroup response: v3+ lists members; before v3 only one error code, the top-level one
/// or else the (single) member's.
pub(crate) fn leave(
    version: i16,
    top: ErrorCode,
    members: &[(String, Option<String>, ErrorCode)],
) -> AnyResponse {
    let resp = if version >= 3 {
        LeaveGroupResponse {
            error_code: top.0,
            members: members
                .iter()
                .map(|(id, inst, e)| MemberResponse {
                    member_id: id.as_str().into(),
                    group_instance_id: inst.as_deref().map(Into::into),
                    error_code: e.0,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    } else {
        let member_error = members.first().map_or(ErrorCode::NONE, |m| m.2);
        let error = if top == ErrorCode::NONE {
            member_error
        } else {
            top
        };
        LeaveGroupResponse {
            error_code: error.0,
            ..Default::default()
        }
    };
    AnyResponse::LeaveGroup(resp)
}

/// ApiVersions response listing `ranges`.
pub(crate) fn api_versions(
    error: ErrorCode,
    ranges: impl IntoIterator<Item = (ApiKey, VersionRange)>,
) -> AnyResponse {
    AnyResponse::ApiVersions(ApiVersionsResponse {
        error_code: error.0,
        api_keys: ranges
            .into_iter()
            .map(|(k, r)| ApiVersion {
                api_key: k.as_i16(),
                min_version: r.min,
                max_version: r.max,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

/// FindCoordinator answer for one key; before v4 the single-key fields, from v4 the list.
pub(crate) fn find_coordinator(
    version: i16,
    keys: &[String],
    error: ErrorCode,
    node: (i32, &str, i32),
) -> AnyResponse {
    let (node_id, host, port) = if error == ErrorCode::NONE {
        node
    } else {
        (-1, "", -1)
    };
    let resp = if version >= 4 {
        FindCoordinatorResponse {
            coordinators: keys
                .iter()
                .map(|k| Coordinator {
                    key: k.as_str().into(),
                    node_id,
                    host: host.into(),
                    port,
                    error_code: error.0,
                    error_message: None,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    } else {
        FindCoordinatorResponse {
            error_code: error.0,
            error_message: None,
            node_id,
            host: host.into(),
            port,
            ..Default::default()
        }
    };
    AnyResponse::FindCoordinator(resp)
}

/// The answer to `req` when the whole request fails with `code` (fault injection, coordinator
/// errors): the top-level error where the version has one, else every group, topic or
/// partition. `None` for APIs the model does not implement.
pub(crate) fn error_response(
    req: &AnyRequest,
    version: i16,
    code: ErrorCode,
) -> Option<AnyResponse> {
    Some(match req {
        AnyRequest::ApiVersions(_) => {
            let ranges = (code == ErrorCode::UNSUPPORTED_VERSION)
                .then_some((ApiKey::ApiVersions, ApiKey::ApiVersions.versions()));
            api_versions(code, ranges)
        }
        AnyRequest::Metadata(r) => {
            let topics = r.topics.iter().flatten().map(|t| MetadataResponseTopic {
                error_code: code.0,
                name: match &t.name {
                    Some(n) => Some(n.clone()),
                    None if version < 12 => Some("".into()),
                    None => None,
                },
                topic_id: if version >= 10 {
                    t.topic_id
                } else {
                    kafka_wire::Uuid::ZERO
                },
                ..Default::default()
            });
            AnyResponse::Metadata(MetadataResponse {
                topics: topics.collect(),
                error_code: if version >= 13 { code.0 } else { 0 },
                ..Default::default()
            })
        }
        AnyRequest::FindCoordinator(r) => {
            let keys = if version >= 4 {
                r.coordinator_keys.iter().map(ToString::to_string).collect()
            } else {
                vec![r.key.to_string()]
            };
            find_coordinator(version, &keys, code, (-1, "", -1))
        }
        AnyRequest::JoinGroup(r) => join(version, &JoinResult::error(&r.member_id, code)),
        AnyRequest::SyncGroup(_) => sync(version, code, None, None, Bytes::new()),
        AnyRequest::Heartbeat(_) => heartbeat(code),
        AnyRequest::ConsumerGroupHeartbeat(_) => {
            AnyResponse::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse {
                error_code: code.0,
                ..Default::default()
            })
        }
        AnyRequest::LeaveGroup(_) => leave(version, code, &[]),
        AnyRequest::OffsetCommit(r) => AnyResponse::OffsetCommit(OffsetCommitResponse {
            topics: r
                .topics
                .iter()
                .map(|t| OffsetCommitResponseTopic {
                    name: t.name.clone(),
                    topic_id: t.topic_id,
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| OffsetCommitResponsePartition {
                            partition_index: p.partition_index,
                            error_code: code.0,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        AnyRequest::OffsetFetch(r) => AnyResponse::OffsetFetch(if version >= 8 {
            OffsetFetchResponse {
                groups: r
                    .groups
                    .iter()
                    .map(|g| OffsetFetchResponseGroup {
                        group_id: g.group_id.clone(),
                        error_code: code.0,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
        } else if version >= 2 {
            OffsetFetchResponse {
                error_code: code.0,
                ..Default::default()
            }
        } else {
            // v0-1 have no group-level error: put it on every requested partition.
            OffsetFetchResponse {
                topics: r
                    .topics
                    .iter()
                    .flatten()
                    .map(|t| OffsetFetchResponseTopic {
                        name: t.name.clone(),
                        partitions: t
                            .partition_indexes
                            .iter()
                            .map(|p| OffsetFetchResponsePartition {
                                partition_index: p,
                                committed_offset: -1,
                                error_code: code.0,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
        }),
        AnyRequest::Fetch(r) => AnyResponse::Fetch(if version >= 7 {
            FetchResponse {
                error_code: code.0,
                ..Default::default()
            }
        } else {
            // No top-level error before v7: put it on every requested partition.
            FetchResponse {
                responses: r
                    .topics
                    .iter()
                    .map(|t| FetchableTopicResponse {
                        topic: t.topic.clone(),
                        topic_id: t.topic_id,
                        partitions: t
                            .partitions
                            .iter()
                            .map(|p| PartitionData {
                                partition_index: p.partition,
                                error_code: code.0,
                                high_watermark: -1,
                                aborted_transactions: None,
                                records: Some(Bytes::new()),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
        }),
        AnyRequest::ListOffsets(r) => AnyResponse::ListOffsets(ListOffsetsResponse {
            topics: r
                .topics
                .iter()
                .map(|t| ListOffsetsTopicResponse {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| ListOffsetsPartitionResponse {
                            partition_index: p.partition_index,
                            error_code: code.0,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        _ => return None,
    })
}
