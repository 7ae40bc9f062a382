//! Request headers (v0–v2) and response headers (v0–v1), written by hand.
//!
//! Request header v1 and v2 carry `ClientId` as a classic nullable string (int16 length) even
//! though v2 is flexible; v2 adds a tagged-field section. Response header v1 adds only the
//! tagged-field section. Which version to use follows from the API and its version: see
//! [`ApiKey::request_header_version`] and [`ApiKey::response_header_version`] (ApiVersions
//! responses always use v0).

use bytes::{BufMut, Bytes};
use bytestring::ByteString;

use crate::error::{DecodeError, DecodeErrorKind, EncodeError, finish};
use crate::generated::ApiKey;
use crate::primitives::{self as p, PResult};
use crate::types::TaggedFields;

/// A request header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RequestHeader {
    /// The API key of the request.
    pub api_key: i16,
    /// The API version of the request.
    pub api_version: i16,
    /// Echoed back in the response.
    pub correlation_id: i32,
    /// The client id (v1+; nullable).
    pub client_id: Option<ByteString>,
    /// Unknown tagged fields (v2).
    pub unknown_tagged_fields: TaggedFields,
}

/// A response header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ResponseHeader {
    /// The correlation id of the request this answers.
    pub correlation_id: i32,
    /// Unknown tagged fields (v1).
    pub unknown_tagged_fields: TaggedFields,
}

fn tags<'a>(i: &'a [u8], ctx: &Bytes) -> PResult<'a, TaggedFields> {
    p::unknown_tags(i, ctx)
}

impl RequestHeader {
    /// The header version this request needs (by API key and version); unknown keys get v2
    /// if `flexible_guess`, else v1.
    #[must_use]
    pub fn version_for(api_key: i16, api_version: i16) -> i16 {
        ApiKey::from_i16(api_key).map_or(1, |k| k.request_header_version(api_version))
    }

    /// Decodes a header of version `hv` from the start of `frame`; returns the header and the
    /// number of bytes it took.
    ///
    /// # Errors
    /// Truncated input, invalid UTF-8, bad tagged fields, or an unknown header version.
    pub fn decode(frame: &Bytes, hv: i16) -> Result<(Self, usize), DecodeError> {
        let input: &[u8] = frame;
        let r = Self::parse(input, frame, hv).map_err(|e| finish(e, input))?;
        Ok((r.1, input.len() - r.0.len()))
    }

    /// Decodes the header at the start of a request frame, picking the header version from its
    /// api key and version (the first four bytes).
    ///
    /// # Errors
    /// As [`RequestHeader::decode`].
    pub fn decode_auto(frame: &Bytes) -> Result<(Self, usize), DecodeError> {
        if frame.len() < 4 {
            return Err(DecodeError {
                offset: frame.len(),
                field: "api_key",
                kind: DecodeErrorKind::UnexpectedEnd,
            });
        }
        let key = i16::from_be_bytes([frame[0], frame[1]]);
        let ver = i16::from_be_bytes([frame[2], frame[3]]);
        Self::decode(frame, Self::version_for(key, ver))
    }

    fn parse<'a>(i: &'a [u8], ctx: &Bytes, hv: i16) -> PResult<'a, Self> {
        if !(0..=2).contains(&hv) {
            return p::fail(
                i,
                DecodeErrorKind::UnsupportedVersion {
                    api_key: -1,
                    version: hv,
                },
            );
        }
        let (i, api_key) = p::field(p::int16(i), "RequestApiKey")?;
        let (i, api_version) = p::field(p::int16(i), "RequestApiVersion")?;
        let (i, correlation_id) = p::field(p::int32(i), "CorrelationId")?;
        let (i, client_id) = if hv >= 1 {
            p::field(p::nullable_string(i, ctx, false), "ClientId")?
        } else {
            (i, None)
        };
        let (i, unknown_tagged_fields) = if hv >= 2 {
            p::field(tags(i, ctx), "_tagged_fields")?
        } else {
            (i, TaggedFields::new())
        };
        Ok((
            i,
            Self {
                api_key,
                api_version,
                correlation_id,
                client_id,
                unknown_tagged_fields,
            },
        ))
    }

    /// Exact encoded size at header version `hv`.
    ///
    /// # Errors
    /// Over-long client id, tagged fields below v2, bad tags.
    pub fn encoded_len(&self, hv: i16) -> Result<usize, EncodeError> {
        let mut n = 8;
        if hv >= 1 {
            n += match &self.client_id {
                Some(c) => {
                    p::check_len(c.len(), true, "ClientId")?;
                    2 + c.len()
                }
                None => 2,
            };
        }
        if hv >= 2 {
            let (_, s) = p::unknown_tags_size(&self.unknown_tagged_fields, &[])?;
            n += p::uvarint_size(self.unknown_tagged_fields.len() as u32) + s;
        } else if !self.unknown_tagged_fields.is_empty() {
            return Err(EncodeError::TaggedFieldsNotSupported { version: hv });
        }
        Ok(n)
    }

    /// Writes the header at header version `hv`.
    ///
    /// # Errors
    /// As [`RequestHeader::encoded_len`].
    pub fn encode<B: BufMut>(&self, hv: i16, out: &mut B) -> Result<(), EncodeError> {
        self.encoded_len(hv)?;
        out.put_i16(self.api_key);
        out.put_i16(self.api_version);
        out.put_i32(self.correlation_id);
        if hv >= 1 {
            match &self.client_id {
                Some(c) => {
                    p::put_len(out, Some(c.len()), false, true, "ClientId")?;
                    out.put_slice(c.as_bytes());
                }
                None => out.put_i16(-1),
            }
        }
        if hv >= 2 {
            p::put_uvarint(out, self.unknown_tagged_fields.len() as u32);
            for f in &self.unknown_tagged_fields {
                p::put_raw_tag(out, f);
            }
        }
        Ok(())
    }
}

impl ResponseHeader {
    /// Decodes a response header of version `hv`; returns it and its length.
    ///
    /// # Errors
    /// Truncated input or bad tagged fields.
    pub fn decode(frame: &Bytes, hv: i16) -> Result<(Self, usize), DecodeError> {
        let input: &[u8] = frame;
        let (rest, h) = Self::parse(input, frame, hv).map_err(|e| finish(e, input))?;
        Ok((h, input.len() - rest.len()))
    }

    fn parse<'a>(i: &'a [u8], ctx: &Bytes, hv: i16) -> PResult<'a, Self> {
        let (i, correlation_id) = p::field(p::int32(i), "CorrelationId")?;
        let (i, unknown_tagged_fields) = if hv >= 1 {
            p::field(tags(i, ctx), "_tagged_fields")?
        } else {
            (i, TaggedFields::new())
        };
        Ok((
            i,
            Self {
                correlation_id,
                unknown_tagged_fields,
            },
        ))
    }

    /// Exact encoded size at header version `hv`.
    ///
    /// # Errors
    /// Tagged fields below v1, bad tags.
    pub fn encoded_len(&self, hv: i16) -> Result<usize, EncodeError> {
        if hv >= 1 {
            let (_, s) = p::unknown_tags_size(&self.unknown_tagged_fields, &[])?;
            Ok(4 + p::uvarint_size(self.unknown_tagged_fields.len() as u32) + s)
        } else if self.unknown_tagged_fields.is_empty() {
            Ok(4)
        } else {
            Err(EncodeError::TaggedFieldsNotSupported { version: hv })
        }
    }

    /// Writes the header at header version `hv`.
    ///
    /// # Errors
    /// As [`ResponseHeader::encoded_len`].
    pub fn encode<B: BufMut>(&self, hv: i16, out: &mut B) -> Result<(), EncodeError> {
        self.encoded_len(hv)?;
        out.put_i32(self.correlation_id);
        if hv >= 1 {
            p::put_uvarint(out, self.unknown_tagged_fields.len() as u32);
            for f in &self.unknown_tagged_fields {
                p::put_raw_tag(out, f);
            }
        }
        Ok(())
    }
}
