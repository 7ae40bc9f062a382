//! Decode and encode errors.
//!
//! Errors are small `Copy` values with `&'static str` context: producing one never allocates,
//! and callers can match on [`DecodeErrorKind`] and [`EncodeError`].

/// What went wrong while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended before the value was complete.
    #[error("unexpected end of input")]
    UnexpectedEnd,
    /// A length prefix was negative (and not -1 where null is allowed).
    #[error("invalid length {0}")]
    InvalidLength(i64),
    /// Null (-1 / compact 0) where the field is not nullable at this version.
    #[error("null value in a non-nullable field")]
    UnexpectedNull,
    /// An array claims more elements than the remaining bytes could hold.
    #[error("array of {count} elements cannot fit in {remaining} remaining bytes")]
    ArrayTooLong {
        /// Element count claimed by the prefix.
        count: u64,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A varint ran over its maximum length (5 bytes for 32 bits, 10 for 64 bits).
    #[error("varint too long")]
    VarintTooLong,
    /// A string was not valid UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// A boolean byte was neither 0 nor 1.
    #[error("invalid boolean byte {0}")]
    InvalidBool(u8),
    /// Bytes were left over after the message ended.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    /// Tagged fields were not in strictly ascending tag order (or a tag was repeated).
    #[error("tagged field {0} out of order or duplicated")]
    TagOutOfOrder(u32),
    /// A known tagged field did not occupy exactly the size its prefix declared.
    #[error("tagged field {0} has a size that does not match its content")]
    TagSizeMismatch(u32),
    /// No message is defined for this API key.
    #[error("unknown api key {0}")]
    UnknownApiKey(i16),
    /// The message is not defined at this version.
    #[error("unsupported version {version} of api key {api_key}")]
    UnsupportedVersion {
        /// The API key (-1 for embedded data schemas).
        api_key: i16,
        /// The requested version.
        version: i16,
    },
    /// A value was out of the range the protocol allows (e.g. an unknown enum code).
    #[error("value out of range")]
    OutOfRange,
    /// A frame is larger than the configured maximum.
    #[error("frame of {size} bytes exceeds the maximum of {max}")]
    FrameTooLarge {
        /// Declared size.
        size: i64,
        /// Configured maximum.
        max: usize,
    },
    /// A response arrived with a correlation id we did not send.
    #[error("unexpected correlation id {0}")]
    UnknownCorrelationId(i32),
    /// A record batch failed its CRC check.
    #[error("crc mismatch")]
    CrcMismatch,
    /// An unknown magic byte or compression codec in a record batch.
    #[error("unsupported record format")]
    UnsupportedRecordFormat,
    /// Decompressed data would exceed the configured limit, or decompression failed.
    #[error("decompression failed or exceeded its limit")]
    Decompression,
}

/// A decoding failure: where, in which field, and what.
///
/// `offset` counts bytes from the start of the buffer handed to the decoder (for a message body,
/// the first byte after the header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset} (field {field})")]
pub struct DecodeError {
    /// Byte offset of the failure from the start of the decoded buffer.
    pub offset: usize,
    /// Spec name of the innermost field being decoded, or `""` when unknown.
    pub field: &'static str,
    /// What went wrong.
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    /// Builds an error at `offset` without field context.
    #[must_use]
    pub const fn new(offset: usize, kind: DecodeErrorKind) -> Self {
        Self {
            offset,
            field: "",
            kind,
        }
    }

    /// Returns the same error shifted by `base` bytes (used when a body sits after a header).
    #[must_use]
    pub const fn shifted(mut self, base: usize) -> Self {
        self.offset += base;
        self
    }
}

/// An encoding failure. Nothing has been written when `encoded_len` reports one; `encode` may
/// have written a prefix of the message before failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The field holds a non-default value but the version does not have it.
    #[error("field {field} holds a value but version {version} does not have it")]
    FieldNotInVersion {
        /// Spec field name.
        field: &'static str,
        /// The version being encoded.
        version: i16,
    },
    /// The field is null but the version does not allow null.
    #[error("field {field} is null but not nullable at version {version}")]
    NullNotAllowed {
        /// Spec field name.
        field: &'static str,
        /// The version being encoded.
        version: i16,
    },
    /// The message is not defined at this version.
    #[error("{name} is not defined at version {version}")]
    UnsupportedVersion {
        /// Message name.
        name: &'static str,
        /// The version being encoded.
        version: i16,
    },
    /// A string, byte array or array is too long for its length prefix.
    #[error("field {field} is too long for its length prefix")]
    TooLong {
        /// Spec field name.
        field: &'static str,
    },
    /// Unknown tagged fields are unsorted, duplicated or collide with a known tag.
    #[error("tagged field {tag} out of order, duplicated or colliding with a known field")]
    BadTag {
        /// The offending tag.
        tag: u32,
    },
    /// Tagged fields were set but the version is not flexible.
    #[error("tagged fields are set but version {version} is not flexible")]
    TaggedFieldsNotSupported {
        /// The version being encoded.
        version: i16,
    },
    /// A record batch could not be compressed.
    #[error("compression failed")]
    Compression,
}

/// Internal nom error: remembers how many bytes were left when it happened, so the public
/// error can report an absolute offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WireError {
    /// Address of the byte where the error happened (compared with the buffer start).
    pub(crate) pos: usize,
    pub(crate) field: &'static str,
    pub(crate) kind: DecodeErrorKind,
}

impl WireError {
    pub(crate) fn at(rest: &[u8], kind: DecodeErrorKind) -> Self {
        Self {
            pos: rest.as_ptr() as usize,
            field: "",
            kind,
        }
    }

    pub(crate) fn into_public(self, base: &[u8]) -> DecodeError {
        DecodeError {
            offset: self
                .pos
                .saturating_sub(base.as_ptr() as usize)
                .min(base.len()),
            field: self.field,
            kind: self.kind,
        }
    }
}

impl<'a> nom::error::ParseError<&'a [u8]> for WireError {
    fn from_error_kind(input: &'a [u8], _kind: nom::error::ErrorKind) -> Self {
        Self::at(input, DecodeErrorKind::UnexpectedEnd)
    }

    fn append(_input: &'a [u8], _kind: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

/// Converts a nom error from a complete parse into the public error.
pub(crate) fn finish(err: nom::Err<WireError>, base: &[u8]) -> DecodeError {
    match err {
        nom::Err::Error(e) | nom::Err::Failure(e) => e.into_public(base),
        // Only `complete` parsers are used, so `Incomplete` means the input ended.
        nom::Err::Incomplete(_) => DecodeError::new(base.len(), DecodeErrorKind::UnexpectedEnd),
    }
}
