//! The public traits every generated message implements.

use bytes::{BufMut, Bytes};

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::vectored::Vectored;

/// An inclusive range of versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionRange {
    /// Lowest version.
    pub min: i16,
    /// Highest version.
    pub max: i16,
}

impl VersionRange {
    /// Builds a range.
    #[must_use]
    pub const fn new(min: i16, max: i16) -> Self {
        Self { min, max }
    }

    /// Whether `v` lies in the range.
    #[must_use]
    pub const fn contains(&self, v: i16) -> bool {
        v >= self.min && v <= self.max
    }

    /// The highest version in both ranges, if they overlap.
    #[must_use]
    pub const fn highest_common(&self, other: &Self) -> Option<i16> {
        let lo = if self.min > other.min {
            self.min
        } else {
            other.min
        };
        let hi = if self.max < other.max {
            self.max
        } else {
            other.max
        };
        if lo <= hi { Some(hi) } else { None }
    }
}

/// Static facts about a generated message (request, response or embedded data schema).
pub trait Message {
    /// The spec name, e.g. `"JoinGroupRequest"`.
    const NAME: &'static str;
    /// The API key, or -1 for embedded data schemas (e.g. `ConsumerProtocolSubscription`).
    const API_KEY: i16;
    /// Versions this library can decode and encode (union of Kafka 3.9.2 and 4.3.1).
    const VERSIONS: VersionRange;
    /// First flexible (KIP-482) version, if any.
    const FLEXIBLE_FROM: Option<i16>;
    /// A version at or above this is unstable (brokers advertise it only on request).
    const UNSTABLE_FROM: Option<i16>;
}

/// Encodes a message body at a version.
pub trait Encode {
    /// Exact number of bytes [`Encode::encode`] writes at version `v`.
    ///
    /// # Errors
    /// The same errors `encode` would report: unsupported version, a field set that the version
    /// lacks, a null where the version forbids it, an over-long value, bad unknown tags.
    fn encoded_len(&self, v: i16) -> Result<usize, EncodeError>;

    /// Writes the body at version `v`.
    ///
    /// # Errors
    /// See [`Encode::encoded_len`]; `encode` fails exactly when `encoded_len` does.
    fn encode<B: BufMut>(&self, v: i16, out: &mut B) -> Result<(), EncodeError>;

    /// Writes the body at version `v` as a list of chunks (see [`Vectored`]): the same bytes as
    /// [`Encode::encode`], but `bytes` and `records` fields of at least the output's threshold
    /// are referenced as the `Bytes` they are instead of being copied.
    ///
    /// The provided implementation copies everything; the generated messages override it.
    ///
    /// # Errors
    /// As [`Encode::encode`].
    fn encode_vectored(&self, v: i16, out: &mut Vectored) -> Result<(), EncodeError> {
        let mut buf = bytes::BytesMut::new();
        self.encode(v, &mut buf)?;
        crate::vectored::Out::put_slice(out, &buf);
        Ok(())
    }
}

/// Decodes a complete message body at a version.
pub trait Decode: Sized {
    /// Decodes `body`, which must hold exactly one message; strings, bytes and records become
    /// zero-copy slices of `body`.
    ///
    /// # Errors
    /// A [`DecodeError`] naming the byte offset and field; trailing bytes are an error.
    fn decode(body: &Bytes, v: i16) -> Result<Self, DecodeError> {
        let (x, used) = Self::decode_prefix(body, v)?;
        if used != body.len() {
            return Err(DecodeError::new(
                used,
                DecodeErrorKind::TrailingBytes(body.len() - used),
            ));
        }
        Ok(x)
    }

    /// Decodes one message from the start of `body` and returns it with the number of bytes it
    /// used; bytes after it are left alone. Java and librdkafka ignore trailing bytes in
    /// responses, and some brokers send them (librdkafka 2.16's mock adds one byte to Metadata
    /// v13 responses), so clients may prefer this for responses.
    ///
    /// # Errors
    /// A [`DecodeError`] naming the byte offset and field.
    fn decode_prefix(body: &Bytes, v: i16) -> Result<(Self, usize), DecodeError>;
}

/// A request type and the response type that answers it.
pub trait Request: Message + Encode + Decode {
    /// The matching response message.
    type Response: Message + Encode + Decode;
}
