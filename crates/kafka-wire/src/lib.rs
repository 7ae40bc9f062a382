//! Sans-IO codecs for the whole Kafka wire protocol.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod codec;
pub mod error;
pub mod error_code;
pub mod frame;
pub mod generated;
pub mod header;
pub mod message;
mod primitives;
pub mod records;
#[cfg(feature = "serde")]
mod serde_support;
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod testing;
pub mod types;
mod value;
pub mod versioned;

pub use bytestring::ByteString;
pub use codec::{
    ApiVersionsOutcome, ClientCodec, CorrelationId, NegotiatedVersions, NegotiationOptions,
};
pub use error::{DecodeError, DecodeErrorKind, EncodeError};
pub use frame::{FrameDecoder, FrameError};
pub use generated::{AnyRequest, AnyResponse, ApiKey};
pub use header::{RequestHeader, ResponseHeader};
pub use message::{Decode, Encode, Message, Request, VersionRange};
pub use types::{Packed, PackedElem, RawTaggedField, Uuid};
