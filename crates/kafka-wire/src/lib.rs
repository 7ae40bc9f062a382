//! Sans-IO codecs for the whole Kafka wire protocol.
//!
//! Every request and response of every API at every version in the union of the Kafka 3.9.2
//! and 4.3.1 JSON specs is a generated struct in [`generated`] with a zero-copy decoder over a
//! complete [`bytes::Bytes`] body ([`Decode`]), an encoder into any [`bytes::BufMut`] or into a
//! [`Vectored`] list of chunks, and an exact `encoded_len` ([`Encode`]). Hand-written around them: [`header`]s, [`frame`] splitting,
//! the [`ClientCodec`] (correlation ids, in-flight table, version negotiation), [`error_code`]s,
//! [`records`] (record batches) and [`versioned`] embedded schemas.
//!
//! No IO, no clock, no `unsafe`; `no_std` + `alloc` without the compression features.
//!
//! # Decoding and encoding a message
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use kafka_wire::generated::{join_group_request::JoinGroupRequestProtocol, JoinGroupRequest};
//! use kafka_wire::{Decode, Encode};
//!
//! let req = JoinGroupRequest {
//!     group_id: "orders".into(),
//!     session_timeout_ms: 45_000,
//!     rebalance_timeout_ms: 300_000,
//!     protocol_type: "consumer".into(),
//!     protocols: vec![JoinGroupRequestProtocol {
//!         name: "cooperative-sticky".into(),
//!         metadata: Bytes::from_static(&[0, 3, 0, 0, 0, 0]),
//!         ..Default::default()
//!     }],
//!     ..Default::default()
//! };
//! let mut out = BytesMut::new();
//! req.encode(9, &mut out)?;
//! assert_eq!(out.len(), req.encoded_len(9)?);
//! let back = JoinGroupRequest::decode(&out.freeze(), 9)?;
//! assert_eq!(back, req);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Talking to a broker (sans-IO)
//!
//! ```
//! use bytes::BytesMut;
//! use kafka_wire::generated::{ApiVersionsRequest, ApiVersionsResponse, api_versions_response::ApiVersion};
//! use kafka_wire::{codec, AnyResponse, ApiKey, ClientCodec, CorrelationId};
//!
//! let mut client = ClientCodec::new(Some("example".into()));
//! let mut wire = BytesMut::new();
//! let id = client.encode_request(&ApiVersionsRequest::default(), 3, &mut wire)?;
//!
//! // A broker (here: the server-side helpers) reads the frame and answers.
//! let frame = kafka_wire::frame::split(&mut wire, kafka_wire::frame::DEFAULT_MAX_FRAME)?.unwrap();
//! let (header, _request) = codec::decode_request(&frame)?;
//! let answer = ApiVersionsResponse {
//!     api_keys: vec![ApiVersion { api_key: 11, min_version: 0, max_version: 9, ..Default::default() }],
//!     ..Default::default()
//! };
//! let mut reply = BytesMut::new();
//! codec::encode_response(CorrelationId(header.correlation_id), 3, &AnyResponse::ApiVersions(answer), &mut reply)?;
//!
//! // The client splits the reply, matches it by correlation id and negotiates versions.
//! let frame = kafka_wire::frame::split(&mut reply, kafka_wire::frame::DEFAULT_MAX_FRAME)?.unwrap();
//! let (got, api, _v, response) = client.decode_response(frame)?;
//! assert_eq!((got, api), (id, ApiKey::ApiVersions));
//! let AnyResponse::ApiVersions(r) = response else { unreachable!() };
//! let versions = kafka_wire::NegotiatedVersions::new(&r);
//! assert_eq!(versions.version(ApiKey::JoinGroup), Some(9));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod borrowed;
pub mod codec;
pub mod error;
pub mod error_code;
pub mod frame;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod generated;
pub mod header;
pub mod message;
mod primitives;
mod reader;
pub mod records;
#[cfg(feature = "serde")]
mod serde_support;
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod testing;
pub mod types;
mod value;
mod vectored;
pub mod versioned;

pub use borrowed::{DecodeRef, IntoOwned, PackedRef, RawTaggedFieldRef, TaggedFieldsRef};
pub use bytestring::ByteString;
pub use codec::{
    ApiVersionsOutcome, ClientCodec, CorrelationId, NegotiatedVersions, NegotiationOptions,
};
pub use error::{DecodeError, DecodeErrorKind, EncodeError};
pub use frame::{FrameDecoder, FrameError};
pub use generated::{AnyRequest, AnyResponse, ApiKey};
pub use header::{RequestHeader, ResponseHeader};
pub use message::{Decode, Encode, Message, Request, VersionRange};
pub use types::{Packed, PackedElem, RawTaggedField, TaggedFields, Uuid};
pub use vectored::Vectored;
