//! The consumer group embedded protocol: the bytes inside JoinGroup (`metadata`, one
//! [`Subscription`] per offered assignor) and SyncGroup (`assignment`, one [`Assignment`] per
//! member).
//!
//! Both are `ConsumerProtocolSubscription` / `ConsumerProtocolAssignment` structs prefixed by an
//! int16 schema version (not flexible, big-endian). This module follows Java's
//! `ConsumerProtocol`:
//!
//! * **Encoding** sorts and de-duplicates the topics, and groups partitions per topic with topics
//!   in sorted order and partitions ascending. Fields the chosen version lacks are dropped (a v0
//!   subscription carries no owned partitions, generation or rack). A version above the newest
//!   known one is encoded as the newest ([`SUBSCRIPTION_VERSION`] / [`ASSIGNMENT_VERSION`], both
//!   3, which is also what Java sends by default); a negative version is an error.
//! * **Decoding** accepts every version from 0 up, including versions newer than this library
//!   knows: fields are only ever appended, so a newer version is read as the newest known one
//!   and the bytes after it are ignored. Like Java, trailing bytes after a known version are
//!   ignored too. The flattened partition lists are sorted and de-duplicated, and the topic list
//!   too. Malformed input gives a [`DecodeError`], never a panic.
//! * A **zero-length assignment** (what a follower with nothing assigned may receive in
//!   SyncGroup) decodes to an empty [`Assignment`], as Java and librdkafka do.
//!
//! Values are kept as they are on the wire otherwise: `user_data` distinguishes null from empty,
//! and `rack_id` distinguishes null from `""` (librdkafka sends `""` when no rack is set; Java
//! reads an empty rack as "no rack", so rack-aware code should treat `Some("")` as `None`). This
//! keeps a decode / re-encode at the same version byte-exact for every peer we have captured.

use alloc::string::String;
use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};
use kafka_wire::generated::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, consumer_protocol_assignment,
    consumer_protocol_subscription,
};
use kafka_wire::versioned::{encode_versioned, versioned_len};
use kafka_wire::{ByteString, Decode, DecodeError, DecodeErrorKind, EncodeError, Message, Packed};

use super::{Assignment, Subscription, TopicPartition};

/// The JoinGroup `protocol_type` of consumer groups.
pub const PROTOCOL_TYPE: &str = "consumer";

/// The subscription version Java sends by default (`ConsumerProtocolSubscription` v3, KIP-881:
/// topics, user data, owned partitions, generation and rack).
pub const SUBSCRIPTION_VERSION: i16 = ConsumerProtocolSubscription::VERSIONS.max;

/// The assignment version Java sends by default. Versions 0-3 of `ConsumerProtocolAssignment`
/// have the same layout; the number only tracks the subscription's version.
pub const ASSIGNMENT_VERSION: i16 = ConsumerProtocolAssignment::VERSIONS.max;

/// Encodes a subscription as `int16 version` + `ConsumerProtocolSubscription`.
///
/// Topics are sorted and de-duplicated; owned partitions are grouped per topic (topics sorted,
/// partitions ascending, duplicates removed). Fields `version` does not have are dropped:
/// owned partitions need v1, the generation v2 and the rack v3. A version above
/// [`SUBSCRIPTION_VERSION`] is encoded as [`SUBSCRIPTION_VERSION`] (as Java does).
///
/// # Errors
/// A negative version ([`EncodeError::UnsupportedVersion`]), or a string or byte array too long
/// for its length prefix ([`EncodeError::TooLong`]).
pub fn encode_subscription(sub: &Subscription, version: i16) -> Result<Bytes, EncodeError> {
    let version = version.min(SUBSCRIPTION_VERSION);
    let mut topics: Vec<&str> = sub.topics.iter().map(String::as_str).collect();
    topics.sort_unstable();
    topics.dedup();
    let wire = ConsumerProtocolSubscription {
        topics: topics.into_iter().map(ByteString::from).collect(),
        user_data: sub.user_data.clone(),
        owned_partitions: group_by_topic(&sub.owned_partitions)
            .into_iter()
            .map(
                |(topic, partitions)| consumer_protocol_subscription::TopicPartition {
                    topic: ByteString::from(topic),
                    partitions,
                    ..Default::default()
                },
            )
            .collect(),
        generation_id: sub.generation,
        rack_id: sub.rack_id.as_deref().map(ByteString::from),
        ..Default::default()
    };
    encode(&wire, version)
}

/// Decodes `int16 version` + `ConsumerProtocolSubscription` at any version from 0 up.
///
/// Fields the version lacks take their defaults: no owned partitions, generation -1, no rack.
/// Topics and owned partitions come back sorted and de-duplicated.
///
/// # Errors
/// Input shorter than the version prefix, a negative version, or a body that does not parse.
pub fn decode_subscription(bytes: &Bytes) -> Result<Subscription, DecodeError> {
    let (_, wire) = decode_prefixed::<ConsumerProtocolSubscription>(bytes)?;
    let mut topics: Vec<String> = wire.topics.iter().map(|t| String::from(&**t)).collect();
    topics.sort_unstable();
    topics.dedup();
    Ok(Subscription {
        topics,
        user_data: wire.user_data,
        owned_partitions: flatten(
            wire.owned_partitions
                .iter()
                .map(|tp| (&*tp.topic, &tp.partitions)),
        ),
        generation: wire.generation_id,
        rack_id: wire.rack_id.map(|r| String::from(&*r)),
        instance_id: None,
    })
}

/// Encodes an assignment as `int16 version` + `ConsumerProtocolAssignment`.
///
/// Partitions are grouped per topic (topics sorted, partitions ascending, duplicates removed).
/// A version above [`ASSIGNMENT_VERSION`] is encoded as [`ASSIGNMENT_VERSION`].
///
/// # Errors
/// A negative version ([`EncodeError::UnsupportedVersion`]), or a topic name or user data too
/// long for its length prefix ([`EncodeError::TooLong`]).
pub fn encode_assignment(assignment: &Assignment, version: i16) -> Result<Bytes, EncodeError> {
    let version = version.min(ASSIGNMENT_VERSION);
    let wire = ConsumerProtocolAssignment {
        assigned_partitions: group_by_topic(&assignment.partitions)
            .into_iter()
            .map(
                |(topic, partitions)| consumer_protocol_assignment::TopicPartition {
                    topic: ByteString::from(topic),
                    partitions,
                    ..Default::default()
                },
            )
            .collect(),
        user_data: assignment.user_data.clone(),
        ..Default::default()
    };
    encode(&wire, version)
}

/// Decodes `int16 version` + `ConsumerProtocolAssignment` at any version from 0 up.
///
/// Zero-length input is an empty assignment (no partitions, no user data). Partitions come back
/// sorted and de-duplicated.
///
/// # Errors
/// Input of length 1, a negative version, or a body that does not parse.
pub fn decode_assignment(bytes: &Bytes) -> Result<Assignment, DecodeError> {
    if bytes.is_empty() {
        return Ok(Assignment::default());
    }
    let (_, wire) = decode_prefixed::<ConsumerProtocolAssignment>(bytes)?;
    Ok(Assignment {
        partitions: flatten(
            wire.assigned_partitions
                .iter()
                .map(|tp| (&*tp.topic, &tp.partitions)),
        ),
        user_data: wire.user_data,
    })
}

/// Encodes `value` with its int16 version prefix into an exactly sized buffer.
fn encode<T: kafka_wire::Encode>(value: &T, version: i16) -> Result<Bytes, EncodeError> {
    let mut out = BytesMut::with_capacity(versioned_len(value, version)?);
    encode_versioned(value, version, &mut out)?;
    Ok(out.freeze())
}

/// Reads the int16 version and the body at that version, or at the newest known version when
/// the wire version is newer. Bytes after the body are ignored (Java's `ByteBufferAccessor`
/// does not check for them either).
fn decode_prefixed<T: Message + Decode>(bytes: &Bytes) -> Result<(i16, T), DecodeError> {
    let [hi, lo, ..] = bytes[..] else {
        return Err(DecodeError {
            offset: bytes.len(),
            field: "Version",
            kind: DecodeErrorKind::UnexpectedEnd,
        });
    };
    let version = i16::from_be_bytes([hi, lo]);
    if version < T::VERSIONS.min {
        return Err(DecodeError {
            offset: 0,
            field: "Version",
            kind: DecodeErrorKind::UnsupportedVersion {
                api_key: T::API_KEY,
                version,
            },
        });
    }
    let (value, _used) = T::decode_prefix(&bytes.slice(2..), version.min(T::VERSIONS.max))
        .map_err(|e| e.shifted(2))?;
    Ok((version, value))
}

/// Groups partitions per topic: topics sorted, partitions ascending, duplicates removed.
pub(crate) fn group_by_topic(partitions: &[TopicPartition]) -> Vec<(&str, Packed<i32>)> {
    let mut sorted: Vec<(&str, i32)> = partitions
        .iter()
        .map(|tp| (tp.topic.as_str(), tp.partition))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<(&str, Packed<i32>)> = Vec::new();
    let mut start = 0;
    while start < sorted.len() {
        let topic = sorted[start].0;
        let end = start + sorted[start..].partition_point(|(t, _)| *t == topic);
        out.push((topic, sorted[start..end].iter().map(|&(_, p)| p).collect()));
        start = end;
    }
    out
}

/// Flattens the wire's per-topic grouping into a sorted, de-duplicated partition list.
fn flatten<'a>(groups: impl Iterator<Item = (&'a str, &'a Packed<i32>)>) -> Vec<TopicPartition> {
    let mut out: Vec<TopicPartition> = Vec::new();
    for (topic, partitions) in groups {
        out.extend(partitions.iter().map(|p| TopicPartition::new(topic, p)));
    }
    out.sort_unstable();
    out.dedup();
    out
}
