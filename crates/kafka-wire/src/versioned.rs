//! Version-prefixed embedded schemas (`type: data` specs).
//!
//! The consumer protocol's subscription and assignment bytes (inside JoinGroup and SyncGroup),
//! and the control-record and transaction-marker payloads, start with an int16 schema version
//! followed by the struct at that version. Fields are only ever appended, so Kafka reads a
//! version newer than it knows as the newest one it knows and ignores the rest; so does
//! [`decode_versioned`].

use bytes::{BufMut, Bytes};

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::message::{Decode, Encode, Message};

/// Decodes `int16 version` + body. A version above the newest this library knows is decoded
/// as the newest known version, ignoring bytes after it; a version below the oldest is an error.
///
/// Returns the version found on the wire and the value.
///
/// # Errors
/// Truncated or malformed input, or a negative / too old version.
pub fn decode_versioned<T: Message + Decode>(bytes: &Bytes) -> Result<(i16, T), DecodeError> {
    if bytes.len() < 2 {
        return Err(DecodeError {
            offset: bytes.len(),
            field: "Version",
            kind: DecodeErrorKind::UnexpectedEnd,
        });
    }
    let wire_version = i16::from_be_bytes([bytes[0], bytes[1]]);
    if wire_version < T::VERSIONS.min {
        return Err(DecodeError {
            offset: 0,
            field: "Version",
            kind: DecodeErrorKind::UnsupportedVersion {
                api_key: T::API_KEY,
                version: wire_version,
            },
        });
    }
    let body = bytes.slice(2..);
    let value = if wire_version > T::VERSIONS.max {
        T::decode_prefix(&body, T::VERSIONS.max)
            .map_err(|e| e.shifted(2))?
            .0
    } else {
        T::decode(&body, wire_version).map_err(|e| e.shifted(2))?
    };
    Ok((wire_version, value))
}

/// Exact size of `int16 version` + body.
///
/// # Errors
/// As [`Encode::encoded_len`].
pub fn versioned_len<T: Encode>(value: &T, version: i16) -> Result<usize, EncodeError> {
    Ok(2 + value.encoded_len(version)?)
}

/// Writes `int16 version` + body.
///
/// # Errors
/// As [`Encode::encode`]; nothing is written when the value cannot be encoded.
pub fn encode_versioned<T: Encode, B: BufMut>(
    value: &T,
    version: i16,
    out: &mut B,
) -> Result<(), EncodeError> {
    value.encoded_len(version)?;
    out.put_i16(version);
    value.encode(version, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generated::ConsumerProtocolSubscription;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn newer_version_reads_as_newest_known() {
        let sub = ConsumerProtocolSubscription {
            topics: vec!["a".into(), "b".into()],
            rack_id: Some("r1".into()),
            ..Default::default()
        };
        let mut out: Vec<u8> = Vec::new();
        encode_versioned(&sub, 3, &mut out).unwrap();
        // Pretend a future v9 appended a field.
        out[0..2].copy_from_slice(&9i16.to_be_bytes());
        out.extend_from_slice(&[0xde, 0xad]);
        let (v, back) =
            decode_versioned::<ConsumerProtocolSubscription>(&Bytes::from(out)).unwrap();
        assert_eq!(v, 9);
        assert_eq!(back, sub);
    }

    #[test]
    fn short_or_negative_version_is_an_error() {
        assert!(
            decode_versioned::<ConsumerProtocolSubscription>(&Bytes::from_static(&[0])).is_err()
        );
        let e =
            decode_versioned::<ConsumerProtocolSubscription>(&Bytes::from_static(&[0xff, 0xff]))
                .unwrap_err();
        assert_eq!(e.field, "Version");
    }
}
