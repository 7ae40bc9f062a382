//! Record batches (magic 2) and legacy message sets (magic 0 and 1).
//!
//! The `records` field of Produce, Fetch, ShareFetch and FetchSnapshot holds record data in the
//! log format, not in the JSON-described message format (`wire.md` §1.3, §3.6):
//!
//! - [`RecordBatch`] is the current format (magic 2, KIP-98): a fixed 61-byte header with a
//!   CRC-32C over everything from `attributes` to the end, then `recordsCount` [`Record`]s whose
//!   fields are zig-zag varints. The records section may be compressed as a whole
//!   ([`Compression`]).
//! - [`LegacyMessage`]s are the old message sets (magic 0 and 1) with a CRC-32 (IEEE) per
//!   message. A compressed legacy message is a *wrapper* whose value is a nested, compressed
//!   message set; decoding returns the inner messages.
//!
//! A Fetch response's records field holds several entries back to back, and the broker may cut
//! the last one short. [`BatchIter`] (or [`decode_batches`]) walks such a blob, dispatching on
//! the magic byte at offset 16, and reports a cut-off final entry as *truncated* rather than as
//! an error.
//!
//! # Zero copy
//!
//! Keys, values and header values of uncompressed data are [`Bytes::slice_ref`] views into the
//! input; header keys are validated UTF-8 [`ByteString`]s over the same memory. Compressed
//! data is decompressed once per batch into a fresh buffer, and the records are views into it.
//!
//! # Hostile input
//!
//! Decoding never panics. Counts are checked against the bytes left before anything is
//! reserved (a record takes at least 7 bytes, a header at least 2), negative lengths other than
//! -1 are errors, and decompression stops at [`DecodeOptions::max_decompressed`].
//!
//! # Features
//!
//! Everything works without `std` except the codecs: `gzip`, `snappy`, `lz4` and `zstd` each
//! enable one (and imply `std`). Decoding a batch whose codec is not compiled in fails with
//! [`DecodeErrorKind::UnsupportedRecordFormat`]; encoding one fails with
//! [`EncodeError::Compression`].

use alloc::vec::Vec;

use bytes::{BufMut, Bytes};
use bytestring::ByteString;
use crc::{CRC_32_ISCSI, CRC_32_ISO_HDLC, Crc, Table};

use crate::error::{DecodeError, DecodeErrorKind, EncodeError, WireError, finish};
use crate::primitives::{
    PResult, fail, field, int8, int16, int32, int64, put_varint, put_varlong, take, uint32, varint,
    varint_size, varlong, varlong_size,
};

/// CRC-32C (Castagnoli), used by record batches.
static CRC32C: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);
/// CRC-32 (IEEE), used by legacy messages.
static CRC32: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISO_HDLC);

/// `baseOffset` + `batchLength` (or `offset` + `messageSize`): the bytes before the length.
const LOG_OVERHEAD: usize = 12;
/// Offset of the magic byte, common to every log entry format.
const MAGIC_OFFSET: usize = 16;
/// Size of a record batch with no records.
const BATCH_OVERHEAD: usize = 61;
/// Smallest legal `batchLength`.
const MIN_BATCH_LENGTH: usize = BATCH_OVERHEAD - LOG_OVERHEAD;
/// Smallest legacy message (magic 0): crc, magic, attributes, key and value lengths.
const LEGACY_V0_OVERHEAD: usize = 14;
/// Offset of a legacy message's attributes: offset, size, crc, magic.
const LEGACY_ATTRIBUTES_OFFSET: usize = LOG_OVERHEAD + 5;
/// Smallest encoded record: seven one-byte fields.
const MIN_RECORD_SIZE: usize = 7;
/// Smallest encoded record header: two one-byte lengths.
const MIN_HEADER_SIZE: usize = 2;
/// Upper bound on any up-front reservation; vectors grow past it only with real elements.
const RESERVE_CAP: usize = 1024;

// ---------------------------------------------------------------------------------------------
// Attributes

/// Compression codec of a record batch or legacy message (attribute bits 0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Compression {
    /// No compression (codec 0).
    #[default]
    None,
    /// gzip (codec 1).
    Gzip,
    /// Snappy (codec 2), in the xerial framing Kafka's Java client writes.
    Snappy,
    /// LZ4 frame format (codec 3).
    Lz4,
    /// Zstandard (codec 4); record batches only (magic 2).
    Zstd,
}

impl Compression {
    /// Maps a codec id (attribute bits 0-2) to a codec; `None` for ids 5 to 7.
    #[must_use]
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(Self::None),
            1 => Some(Self::Gzip),
            2 => Some(Self::Snappy),
            3 => Some(Self::Lz4),
            4 => Some(Self::Zstd),
            _ => None,
        }
    }

    /// The codec id written in attribute bits 0-2.
    #[must_use]
    pub const fn id(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Gzip => 1,
            Self::Snappy => 2,
            Self::Lz4 => 3,
            Self::Zstd => 4,
        }
    }

    /// Whether this build can compress and decompress the codec (its cargo feature is on).
    #[must_use]
    pub const fn is_available(self) -> bool {
        match self {
            Self::None => true,
            Self::Gzip => cfg!(feature = "gzip"),
            Self::Snappy => cfg!(feature = "snappy"),
            Self::Lz4 => cfg!(feature = "lz4"),
            Self::Zstd => cfg!(feature = "zstd"),
        }
    }
}

/// Meaning of a batch's or message's timestamps (attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum TimestampType {
    /// Set by the producer.
    #[default]
    CreateTime,
    /// Set by the broker when it appended the data.
    LogAppendTime,
}

/// The `attributes` bit field of a [`RecordBatch`].
///
/// The raw value is public so unknown bits survive a decode/encode round trip; the getters and
/// `with_*` builders name the known bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BatchAttributes(pub i16);

impl BatchAttributes {
    /// Bits 0-2: compression codec id.
    pub const COMPRESSION_MASK: i16 = 0x07;
    /// Bit 3: timestamp type (set = log append time).
    pub const TIMESTAMP_TYPE: i16 = 0x08;
    /// Bit 4: the batch belongs to a transaction.
    pub const TRANSACTIONAL: i16 = 0x10;
    /// Bit 5: the batch holds control records.
    pub const CONTROL: i16 = 0x20;
    /// Bit 6: `baseTimestamp` is the delete horizon (compaction, KIP-534).
    pub const DELETE_HORIZON: i16 = 0x40;

    /// The compression codec, or `None` for the undefined ids 5 to 7.
    #[must_use]
    pub const fn compression(self) -> Option<Compression> {
        Compression::from_id((self.0 & Self::COMPRESSION_MASK) as u8)
    }

    /// Whether timestamps are producer (create) or broker (log append) time.
    #[must_use]
    pub const fn timestamp_type(self) -> TimestampType {
        if self.0 & Self::TIMESTAMP_TYPE != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Whether the batch is part of a transaction.
    #[must_use]
    pub const fn is_transactional(self) -> bool {
        self.0 & Self::TRANSACTIONAL != 0
    }

    /// Whether the batch holds control records (transaction markers, KRaft records).
    #[must_use]
    pub const fn is_control(self) -> bool {
        self.0 & Self::CONTROL != 0
    }

    /// Whether `baseTimestamp` holds the delete horizon set by log compaction.
    #[must_use]
    pub const fn has_delete_horizon(self) -> bool {
        self.0 & Self::DELETE_HORIZON != 0
    }

    /// Returns these attributes with the codec bits set to `c`.
    #[must_use]
    pub const fn with_compression(self, c: Compression) -> Self {
        Self((self.0 & !Self::COMPRESSION_MASK) | c.id() as i16)
    }

    /// Returns these attributes with the timestamp type bit set for `t`.
    #[must_use]
    pub const fn with_timestamp_type(self, t: TimestampType) -> Self {
        self.with_bit(
            Self::TIMESTAMP_TYPE,
            matches!(t, TimestampType::LogAppendTime),
        )
    }

    /// Returns these attributes with the transactional bit set to `on`.
    #[must_use]
    pub const fn with_transactional(self, on: bool) -> Self {
        self.with_bit(Self::TRANSACTIONAL, on)
    }

    /// Returns these attributes with the control bit set to `on`.
    #[must_use]
    pub const fn with_control(self, on: bool) -> Self {
        self.with_bit(Self::CONTROL, on)
    }

    /// Returns these attributes with the delete-horizon bit set to `on`.
    #[must_use]
    pub const fn with_delete_horizon(self, on: bool) -> Self {
        self.with_bit(Self::DELETE_HORIZON, on)
    }

    const fn with_bit(self, bit: i16, on: bool) -> Self {
        if on {
            Self(self.0 | bit)
        } else {
            Self(self.0 & !bit)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Data types

/// Limits applied while decoding records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeOptions {
    /// Largest decompressed size accepted for one batch (or one legacy wrapper), in bytes.
    /// Larger output fails with [`DecodeErrorKind::Decompression`]. The output buffer grows
    /// with the data actually produced; the limit is not reserved up front.
    pub max_decompressed: usize,
}

impl DecodeOptions {
    /// Default for [`max_decompressed`](Self::max_decompressed): 64 MiB.
    pub const DEFAULT_MAX_DECOMPRESSED: usize = 64 << 20;

    /// The default options.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            max_decompressed: Self::DEFAULT_MAX_DECOMPRESSED,
        }
    }

    /// Returns these options with [`max_decompressed`](Self::max_decompressed) set to `max`.
    #[must_use]
    pub const fn with_max_decompressed(mut self, max: usize) -> Self {
        self.max_decompressed = max;
        self
    }
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// One record header: a UTF-8 key and an optional value. Header order is significant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Header {
    /// Header key (never null on the wire; validated UTF-8).
    pub key: ByteString,
    /// Header value; `None` is a null value (length -1).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_support::opt_bytes")
    )]
    pub value: Option<Bytes>,
}

/// One record of a [`RecordBatch`].
///
/// Offsets and timestamps are deltas against the batch's `base_offset` and `base_timestamp`;
/// see [`Record::offset`] and [`Record::timestamp`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Record {
    /// Record attributes (unused by Kafka so far; kept for round trips).
    pub attributes: i8,
    /// Timestamp relative to the batch's `base_timestamp`.
    pub timestamp_delta: i64,
    /// Offset relative to the batch's `base_offset`.
    pub offset_delta: i32,
    /// Record key; `None` is a null key.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_support::opt_bytes")
    )]
    pub key: Option<Bytes>,
    /// Record value; `None` is a null value (a tombstone on compacted topics).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_support::opt_bytes")
    )]
    pub value: Option<Bytes>,
    /// Headers, in wire order.
    pub headers: Vec<Header>,
}

impl Record {
    /// Absolute offset of this record in a batch starting at `base_offset`.
    #[must_use]
    pub const fn offset(&self, base_offset: i64) -> i64 {
        base_offset.wrapping_add(self.offset_delta as i64)
    }

    /// Absolute timestamp of this record in a batch whose base timestamp is `base_timestamp`.
    ///
    /// For [`TimestampType::LogAppendTime`] batches Kafka uses the batch's `max_timestamp`
    /// for every record instead.
    #[must_use]
    pub const fn timestamp(&self, base_timestamp: i64) -> i64 {
        base_timestamp.wrapping_add(self.timestamp_delta)
    }

    /// Parses the key of a control record (see [`ControlRecordKey::decode`]).
    ///
    /// # Errors
    ///
    /// [`DecodeErrorKind::UnexpectedNull`] for a null key, otherwise as
    /// [`ControlRecordKey::decode`].
    pub fn control_key(&self) -> Result<ControlRecordKey, DecodeError> {
        match &self.key {
            Some(k) => ControlRecordKey::decode(k),
            None => Err(DecodeError {
                offset: 0,
                field: "ControlRecordKey",
                kind: DecodeErrorKind::UnexpectedNull,
            }),
        }
    }
}

/// A record batch, the log format of magic 2 (KIP-98).
///
/// `batchLength`, `magic` (always [`RecordBatch::MAGIC`]), `crc` and `recordsCount` are not
/// stored: decoding checks them and encoding computes them. The codec in `attributes` says how
/// [`encode`](Self::encode) compresses the records.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RecordBatch {
    /// Offset of the first record (records carry deltas against it).
    pub base_offset: i64,
    /// Leader epoch of the partition leader that appended the batch (-1 from producers).
    pub partition_leader_epoch: i32,
    /// Attribute bits: codec, timestamp type, transactional, control, delete horizon.
    pub attributes: BatchAttributes,
    /// Offset delta of the last record of the batch as written (kept even when compaction
    /// removed that record).
    pub last_offset_delta: i32,
    /// Timestamp of the first record, or the delete horizon
    /// ([`BatchAttributes::has_delete_horizon`]).
    pub base_timestamp: i64,
    /// Largest timestamp in the batch.
    pub max_timestamp: i64,
    /// Idempotent/transactional producer id (-1 for none).
    pub producer_id: i64,
    /// Producer epoch (-1 for none).
    pub producer_epoch: i16,
    /// Sequence number of the first record (-1 for none).
    pub base_sequence: i32,
    /// The records, in wire order.
    pub records: Vec<Record>,
}

impl Default for RecordBatch {
    /// An empty, uncompressed batch at offset 0 with no producer (`producer_id`,
    /// `producer_epoch`, `base_sequence` and `partition_leader_epoch` are -1).
    fn default() -> Self {
        Self {
            base_offset: 0,
            partition_leader_epoch: -1,
            attributes: BatchAttributes::default(),
            last_offset_delta: 0,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            records: Vec::new(),
        }
    }
}

/// A message of a legacy message set (magic 0 or 1).
///
/// Messages taken out of a compressed wrapper are returned with the semantics Kafka gives them:
/// `offset` is absolute (magic 1 wrappers store relative inner offsets), and for magic 1 the
/// wrapper's timestamp type applies, with the wrapper's timestamp when it is log append time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LegacyMessage {
    /// Absolute offset of the message.
    pub offset: i64,
    /// Message format: 0 or 1.
    pub magic: i8,
    /// Raw attributes (codec in bits 0-2, timestamp type in bit 3 for magic 1).
    pub attributes: i8,
    /// Timestamp (magic 1 only).
    pub timestamp: Option<i64>,
    /// Timestamp type (magic 1 only).
    pub timestamp_type: Option<TimestampType>,
    /// Message key; `None` is null.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_support::opt_bytes")
    )]
    pub key: Option<Bytes>,
    /// Message value; `None` is null.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_support::opt_bytes")
    )]
    pub value: Option<Bytes>,
}

impl LegacyMessage {
    /// The codec of the message's attributes (`None` for an unknown id). Decoded messages are
    /// never compressed: wrappers are replaced by their inner messages.
    #[must_use]
    pub const fn compression(&self) -> Option<Compression> {
        Compression::from_id((self.attributes & 0x07) as u8)
    }
}

/// One entry of a records blob: a record batch, or the messages of one legacy entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Batch {
    /// A magic 2 record batch.
    V2(RecordBatch),
    /// One legacy entry (magic 0 or 1): a single message, or the inner messages of a
    /// compressed wrapper.
    Legacy(Vec<LegacyMessage>),
}

impl Batch {
    /// Offset of the last record the entry covers (`None` for an empty legacy list). The next
    /// fetch offset is one past it.
    #[must_use]
    pub fn last_offset(&self) -> Option<i64> {
        match self {
            Self::V2(b) => Some(b.last_offset()),
            Self::Legacy(m) => m.last().map(|m| m.offset),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Control records

/// Type of a control record (`ControlRecordTypeSchema`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum ControlRecordType {
    /// 0: a transaction was aborted.
    Abort,
    /// 1: a transaction was committed.
    Commit,
    /// 2: KRaft leader change.
    LeaderChange,
    /// 3: KRaft snapshot header.
    SnapshotHeader,
    /// 4: KRaft snapshot footer.
    SnapshotFooter,
    /// 5: KRaft version.
    KraftVersion,
    /// 6: KRaft voters.
    KraftVoters,
    /// A type this crate does not know; Kafka requires readers to ignore it.
    Unknown(i16),
}

impl ControlRecordType {
    /// Maps the wire type id.
    #[must_use]
    pub const fn from_i16(v: i16) -> Self {
        match v {
            0 => Self::Abort,
            1 => Self::Commit,
            2 => Self::LeaderChange,
            3 => Self::SnapshotHeader,
            4 => Self::SnapshotFooter,
            5 => Self::KraftVersion,
            6 => Self::KraftVoters,
            other => Self::Unknown(other),
        }
    }

    /// The wire type id.
    #[must_use]
    pub const fn as_i16(self) -> i16 {
        match self {
            Self::Abort => 0,
            Self::Commit => 1,
            Self::LeaderChange => 2,
            Self::SnapshotHeader => 3,
            Self::SnapshotFooter => 4,
            Self::KraftVersion => 5,
            Self::KraftVoters => 6,
            Self::Unknown(v) => v,
        }
    }
}

/// The key of a control record: an int16 version and an int16 type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ControlRecordKey {
    /// Key schema version (0 so far; newer versions only append fields).
    pub version: i16,
    /// What the control record marks.
    pub record_type: ControlRecordType,
}

impl ControlRecordKey {
    /// Size of a version 0 key.
    pub const SIZE: usize = 4;

    /// Parses a control record key. Bytes after the first four are ignored, since newer key
    /// versions may append fields.
    ///
    /// # Errors
    ///
    /// [`DecodeErrorKind::UnexpectedEnd`] for fewer than four bytes;
    /// [`DecodeErrorKind::OutOfRange`] for a negative version.
    pub fn decode(key: &[u8]) -> Result<Self, DecodeError> {
        let err = |offset, kind| DecodeError {
            offset,
            field: "ControlRecordKey",
            kind,
        };
        let [v0, v1, t0, t1, ..] = *key else {
            return Err(err(key.len(), DecodeErrorKind::UnexpectedEnd));
        };
        let version = i16::from_be_bytes([v0, v1]);
        if version < 0 {
            return Err(err(0, DecodeErrorKind::OutOfRange));
        }
        Ok(Self {
            version,
            record_type: ControlRecordType::from_i16(i16::from_be_bytes([t0, t1])),
        })
    }

    /// The four key bytes.
    #[must_use]
    pub const fn to_bytes(self) -> [u8; 4] {
        let v = self.version.to_be_bytes();
        let t = self.record_type.as_i16().to_be_bytes();
        [v[0], v[1], t[0], t[1]]
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding: record batches

impl RecordBatch {
    /// The magic byte of this format.
    pub const MAGIC: i8 = 2;

    /// Size of a batch header: the encoded size of a batch without records.
    pub const HEADER_SIZE: usize = BATCH_OVERHEAD;

    /// Absolute offset of the last record the batch was written with.
    #[must_use]
    pub const fn last_offset(&self) -> i64 {
        self.base_offset.wrapping_add(self.last_offset_delta as i64)
    }

    /// Decodes one record batch from the start of `input` with the default [`DecodeOptions`].
    /// Returns the batch and the number of bytes it occupied; bytes after it are not examined.
    ///
    /// # Errors
    ///
    /// See [`decode_with`](Self::decode_with).
    pub fn decode(input: &Bytes) -> Result<(Self, usize), DecodeError> {
        Self::decode_with(input, DecodeOptions::new())
    }

    /// Decodes one record batch from the start of `input`. Returns the batch and the number of
    /// bytes it occupied (`batchLength` + 12); bytes after it are not examined.
    ///
    /// # Errors
    ///
    /// - [`DecodeErrorKind::UnexpectedEnd`] if `input` ends inside the batch (use
    ///   [`BatchIter`] to treat that as truncation);
    /// - [`DecodeErrorKind::UnsupportedRecordFormat`] if the magic byte is not 2, the codec id
    ///   is undefined, or the codec is not compiled in;
    /// - [`DecodeErrorKind::CrcMismatch`] if the CRC-32C does not match;
    /// - [`DecodeErrorKind::Decompression`] if the records do not decompress or exceed
    ///   [`DecodeOptions::max_decompressed`];
    /// - length, count, varint and UTF-8 errors for malformed records, and
    ///   [`DecodeErrorKind::TrailingBytes`] if the records do not fill the batch exactly.
    ///
    /// Offsets count from the start of `input`. An error inside decompressed data is reported
    /// at the start of the compressed records section.
    pub fn decode_with(input: &Bytes, opts: DecodeOptions) -> Result<(Self, usize), DecodeError> {
        match record_batch(input, input, &opts) {
            Ok((rest, batch)) => Ok((batch, input.len() - rest.len())),
            Err(e) => Err(finish(e, input)),
        }
    }
}

#[inline]
fn err<'a, T>(at: &'a [u8], kind: DecodeErrorKind, name: &'static str) -> PResult<'a, T> {
    field(fail(at, kind), name)
}

/// Re-anchors errors raised inside a decompressed buffer at `at` (the compressed bytes), since
/// offsets into the decompressed buffer mean nothing to the caller.
fn reanchor<T>(r: PResult<'_, T>, at: &[u8]) -> Result<T, nom::Err<WireError>> {
    match r {
        Ok((_, v)) => Ok(v),
        Err(nom::Err::Error(mut e) | nom::Err::Failure(mut e)) => {
            e.pos = at.as_ptr() as usize;
            Err(nom::Err::Error(e))
        }
        Err(nom::Err::Incomplete(_)) => Err(nom::Err::Error(WireError::at(
            at,
            DecodeErrorKind::UnexpectedEnd,
        ))),
    }
}

fn decompression_error(
    at: &[u8],
    kind: DecodeErrorKind,
    name: &'static str,
) -> nom::Err<WireError> {
    let mut e = WireError::at(at, kind);
    e.field = name;
    nom::Err::Error(e)
}

/// Parses one magic-2 batch at the start of `i`; `ctx` is the `Bytes` that `i` points into.
fn record_batch<'a>(ctx: &Bytes, i: &'a [u8], opts: &DecodeOptions) -> PResult<'a, RecordBatch> {
    let (r, base_offset) = field(int64(i), "baseOffset")?;
    let (after_len, batch_length) = field(int32(r), "batchLength")?;
    let Some(&magic) = i.get(MAGIC_OFFSET) else {
        return err(&i[i.len()..], DecodeErrorKind::UnexpectedEnd, "magic");
    };
    if magic as i8 != RecordBatch::MAGIC {
        return err(
            &i[MAGIC_OFFSET..],
            DecodeErrorKind::UnsupportedRecordFormat,
            "magic",
        );
    }
    if batch_length < MIN_BATCH_LENGTH as i32 {
        return err(
            r,
            DecodeErrorKind::InvalidLength(i64::from(batch_length)),
            "batchLength",
        );
    }
    let (rest, body) = field(take(after_len, batch_length as usize), "batchLength")?;
    // body holds at least MIN_BATCH_LENGTH bytes, so the fixed-size reads below cannot fail.
    let (b, partition_leader_epoch) = field(int32(body), "partitionLeaderEpoch")?;
    let (b, _magic) = field(int8(b), "magic")?;
    let (b, crc) = field(uint32(b), "crc")?;
    if CRC32C.checksum(b) != crc {
        return err(&body[5..], DecodeErrorKind::CrcMismatch, "crc");
    }
    let attrs_at = b;
    let (b, attributes) = field(int16(b), "attributes")?;
    let (b, last_offset_delta) = field(int32(b), "lastOffsetDelta")?;
    let (b, base_timestamp) = field(int64(b), "baseTimestamp")?;
    let (b, max_timestamp) = field(int64(b), "maxTimestamp")?;
    let (b, producer_id) = field(int64(b), "producerId")?;
    let (b, producer_epoch) = field(int16(b), "producerEpoch")?;
    let (b, base_sequence) = field(int32(b), "baseSequence")?;
    let count_at = b;
    let (b, records_count) = field(int32(b), "recordsCount")?;
    if records_count < 0 {
        return err(
            count_at,
            DecodeErrorKind::InvalidLength(i64::from(records_count)),
            "recordsCount",
        );
    }
    let count = records_count as usize;
    let attributes = BatchAttributes(attributes);
    let records = match attributes.compression() {
        None => {
            return err(
                attrs_at,
                DecodeErrorKind::UnsupportedRecordFormat,
                "attributes",
            );
        }
        Some(Compression::None) => records(ctx, b, count)?.1,
        Some(_) if count == 0 && b.is_empty() => Vec::new(),
        Some(c) => {
            let data = codecs::decompress(c, b, opts.max_decompressed, false)
                .map_err(|k| decompression_error(b, k, "records"))?;
            let data = Bytes::from(data);
            reanchor(records(&data, &data, count), b)?
        }
    };
    Ok((
        rest,
        RecordBatch {
            base_offset,
            partition_leader_epoch,
            attributes,
            last_offset_delta,
            base_timestamp,
            max_timestamp,
            producer_id,
            producer_epoch,
            base_sequence,
            records,
        },
    ))
}

/// Parses exactly `count` records filling all of `i`.
fn records<'a>(ctx: &Bytes, i: &'a [u8], count: usize) -> PResult<'a, Vec<Record>> {
    if count.saturating_mul(MIN_RECORD_SIZE) > i.len() {
        return err(
            i,
            DecodeErrorKind::ArrayTooLong {
                count: count as u64,
                remaining: i.len(),
            },
            "records",
        );
    }
    let mut out = Vec::with_capacity(count.min(RESERVE_CAP));
    let mut rest = i;
    for _ in 0..count {
        let (r, rec) = record(ctx, rest)?;
        out.push(rec);
        rest = r;
    }
    if !rest.is_empty() {
        return err(rest, DecodeErrorKind::TrailingBytes(rest.len()), "records");
    }
    Ok((rest, out))
}

/// A varint-length-prefixed nullable byte string, zero-copy.
fn var_bytes<'a>(ctx: &Bytes, i: &'a [u8]) -> PResult<'a, Option<Bytes>> {
    let (rest, len) = varint(i)?;
    match len {
        -1 => Ok((rest, None)),
        n if n < 0 => fail(i, DecodeErrorKind::InvalidLength(i64::from(n))),
        0 => Ok((rest, Some(Bytes::new()))),
        n => {
            let (rest, raw) = take(rest, n as usize)?;
            Ok((rest, Some(ctx.slice_ref(raw))))
        }
    }
}

fn record<'a>(ctx: &Bytes, i: &'a [u8]) -> PResult<'a, Record> {
    let (r, len) = field(varint(i), "Record.length")?;
    if len < 0 {
        return err(
            i,
            DecodeErrorKind::InvalidLength(i64::from(len)),
            "Record.length",
        );
    }
    let (rest, body) = field(take(r, len as usize), "Record.length")?;
    let (b, attributes) = field(int8(body), "Record.attributes")?;
    let (b, timestamp_delta) = field(varlong(b), "Record.timestampDelta")?;
    let (b, offset_delta) = field(varint(b), "Record.offsetDelta")?;
    let (b, key) = field(var_bytes(ctx, b), "Record.key")?;
    let (b, value) = field(var_bytes(ctx, b), "Record.value")?;
    let (mut b, n) = field(varint(b), "Record.headers")?;
    if n < 0 {
        return err(
            b,
            DecodeErrorKind::InvalidLength(i64::from(n)),
            "Record.headers",
        );
    }
    let n = n as usize;
    if n.saturating_mul(MIN_HEADER_SIZE) > b.len() {
        return err(
            b,
            DecodeErrorKind::ArrayTooLong {
                count: n as u64,
                remaining: b.len(),
            },
            "Record.headers",
        );
    }
    let mut headers = Vec::with_capacity(n.min(RESERVE_CAP));
    for _ in 0..n {
        let at = b;
        let (r, key) = field(var_bytes(ctx, b), "Header.key")?;
        let Some(key) = key else {
            return err(at, DecodeErrorKind::UnexpectedNull, "Header.key");
        };
        let Ok(key) = ByteString::try_from(key) else {
            return err(at, DecodeErrorKind::InvalidUtf8, "Header.key");
        };
        let (r, value) = field(var_bytes(ctx, r), "Header.value")?;
        headers.push(Header { key, value });
        b = r;
    }
    if !b.is_empty() {
        return err(b, DecodeErrorKind::TrailingBytes(b.len()), "Record.length");
    }
    Ok((
        rest,
        Record {
            attributes,
            timestamp_delta,
            offset_delta,
            key,
            value,
            headers,
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// Decoding: legacy message sets

/// A legacy bytes field: int32 length, -1 = null, zero-copy.
fn legacy_bytes<'a>(ctx: &Bytes, i: &'a [u8]) -> PResult<'a, Option<Bytes>> {
    let (rest, len) = int32(i)?;
    match len {
        -1 => Ok((rest, None)),
        n if n < 0 => fail(i, DecodeErrorKind::InvalidLength(i64::from(n))),
        0 => Ok((rest, Some(Bytes::new()))),
        n => {
            let (rest, raw) = take(rest, n as usize)?;
            Ok((rest, Some(ctx.slice_ref(raw))))
        }
    }
}

/// One shallow legacy message (`offset`, `messageSize`, message) at the start of `i`.
fn legacy_message<'a>(ctx: &Bytes, i: &'a [u8]) -> PResult<'a, LegacyMessage> {
    let (r, offset) = field(int64(i), "offset")?;
    let (r, size) = field(int32(r), "messageSize")?;
    if size < LEGACY_V0_OVERHEAD as i32 {
        return err(
            &i[8..],
            DecodeErrorKind::InvalidLength(i64::from(size)),
            "messageSize",
        );
    }
    let (rest, m) = field(take(r, size as usize), "messageSize")?;
    // m holds at least LEGACY_V0_OVERHEAD bytes.
    let (b, crc) = field(uint32(m), "crc")?;
    let (b, magic) = field(int8(b), "magic")?;
    if !(0..=1).contains(&magic) {
        return err(&m[4..], DecodeErrorKind::UnsupportedRecordFormat, "magic");
    }
    if CRC32.checksum(&m[4..]) != crc {
        return err(m, DecodeErrorKind::CrcMismatch, "crc");
    }
    let (b, attributes) = field(int8(b), "attributes")?;
    let (b, timestamp) = if magic == 1 {
        let (b, t) = field(int64(b), "timestamp")?;
        (b, Some(t))
    } else {
        (b, None)
    };
    let (b, key) = field(legacy_bytes(ctx, b), "key")?;
    let (b, value) = field(legacy_bytes(ctx, b), "value")?;
    if !b.is_empty() {
        return err(b, DecodeErrorKind::TrailingBytes(b.len()), "messageSize");
    }
    let timestamp_type = (magic == 1).then_some(if attributes & 0x08 != 0 {
        TimestampType::LogAppendTime
    } else {
        TimestampType::CreateTime
    });
    Ok((
        rest,
        LegacyMessage {
            offset,
            magic,
            attributes,
            timestamp,
            timestamp_type,
            key,
            value,
        },
    ))
}

/// One top-level legacy entry: a plain message, or a compressed wrapper expanded into its
/// inner messages.
fn legacy_entry<'a>(
    ctx: &Bytes,
    i: &'a [u8],
    opts: &DecodeOptions,
) -> PResult<'a, Vec<LegacyMessage>> {
    let (rest, wrapper) = legacy_message(ctx, i)?;
    let codec = match wrapper.compression() {
        Some(Compression::None) => return Ok((rest, alloc::vec![wrapper])),
        Some(c @ (Compression::Gzip | Compression::Snappy | Compression::Lz4)) => c,
        // Zstandard needs magic 2; ids 5-7 are undefined.
        Some(Compression::Zstd) | None => {
            return err(
                &i[LEGACY_ATTRIBUTES_OFFSET..],
                DecodeErrorKind::UnsupportedRecordFormat,
                "attributes",
            );
        }
    };
    let Some(value) = &wrapper.value else {
        return err(&i[LOG_OVERHEAD..], DecodeErrorKind::UnexpectedNull, "value");
    };
    // `value` is a view into `i`, so errors can point at it.
    let at = (value.as_ptr() as usize)
        .checked_sub(i.as_ptr() as usize)
        .and_then(|off| i.get(off..off + value.len()))
        .unwrap_or(i);
    // Kafka wrote magic 0 LZ4 frames with a wrong header checksum.
    let broken_lz4 = wrapper.magic == 0;
    let data = codecs::decompress(codec, value, opts.max_decompressed, broken_lz4)
        .map_err(|k| decompression_error(at, k, "value"))?;
    let data = Bytes::from(data);
    let mut inner = reanchor(inner_messages(&data, &data), at)?;
    if wrapper.magic >= 1 {
        // Inner offsets are relative; the wrapper carries the absolute offset of the last one.
        let last = inner.last().map_or(0, |m| m.offset);
        let base = wrapper.offset.wrapping_sub(last);
        for m in &mut inner {
            m.offset = base.wrapping_add(m.offset);
            if m.magic >= 1 {
                m.timestamp_type = wrapper.timestamp_type;
                if wrapper.timestamp_type == Some(TimestampType::LogAppendTime) {
                    m.timestamp = wrapper.timestamp;
                }
            }
        }
    }
    Ok((rest, inner))
}

/// The messages of a decompressed wrapper value: complete, uncompressed, at least one.
fn inner_messages<'a>(ctx: &Bytes, i: &'a [u8]) -> PResult<'a, Vec<LegacyMessage>> {
    if i.is_empty() {
        return err(i, DecodeErrorKind::UnexpectedEnd, "value");
    }
    let mut out =
        Vec::with_capacity((i.len() / (LOG_OVERHEAD + LEGACY_V0_OVERHEAD)).min(RESERVE_CAP));
    let mut rest = i;
    while !rest.is_empty() {
        let at = rest;
        let (r, m) = legacy_message(ctx, rest)?;
        if m.compression() != Some(Compression::None) {
            // Kafka: "inner messages must not be compressed".
            return err(
                &at[LEGACY_ATTRIBUTES_OFFSET..],
                DecodeErrorKind::UnsupportedRecordFormat,
                "attributes",
            );
        }
        out.push(m);
        rest = r;
    }
    Ok((rest, out))
}

// ---------------------------------------------------------------------------------------------
// Walking a records blob

/// Iterator over the entries of a records blob (a Fetch response's `records` field).
///
/// Yields `Ok(`[`Batch`]`)` for each complete entry. It stops (returns `None`) at the end of
/// the data, or at a final entry cut short by the broker, which is not an error: check
/// [`is_truncated`](Self::is_truncated) afterwards. After an `Err` it yields nothing more,
/// since the position of the next entry is then unknown. Error offsets count from the start of
/// the blob.
///
/// The framing follows Kafka's `ByteBufferLogInputStream`: an entry is cut short if fewer than
/// 12 bytes remain, if fewer than 17 remain (magic not yet visible), or if fewer than its
/// length + 12 remain. A length below 14 or a magic byte outside 0..=2 is an error.
#[derive(Debug, Clone)]
pub struct BatchIter {
    data: Bytes,
    pos: usize,
    opts: DecodeOptions,
    done: bool,
    truncated: bool,
}

impl BatchIter {
    /// Starts walking `records` with the given limits.
    #[must_use]
    pub fn new(records: &Bytes, opts: DecodeOptions) -> Self {
        Self {
            data: records.clone(),
            pos: 0,
            opts,
            done: false,
            truncated: false,
        }
    }

    /// Whether iteration stopped at a truncated final entry.
    #[must_use]
    pub const fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Bytes not consumed yet: the truncated tail once iteration stopped there.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Offset of the next entry from the start of the blob.
    #[must_use]
    pub const fn position(&self) -> usize {
        self.pos
    }

    /// Length and magic of the next entry, `Ok(None)` if it is truncated.
    fn next_entry(&self) -> Result<Option<(usize, i8)>, DecodeError> {
        let rest = &self.data[self.pos..];
        let Some(size) = rest.get(8..LOG_OVERHEAD) else {
            return Ok(None);
        };
        let size = i32::from_be_bytes([size[0], size[1], size[2], size[3]]);
        if size < LEGACY_V0_OVERHEAD as i32 {
            return Err(DecodeError {
                offset: self.pos + 8,
                field: "batchLength",
                kind: DecodeErrorKind::InvalidLength(i64::from(size)),
            });
        }
        let Some(&magic) = rest.get(MAGIC_OFFSET) else {
            return Ok(None);
        };
        let magic = magic as i8;
        if !(0..=2).contains(&magic) {
            return Err(DecodeError {
                offset: self.pos + MAGIC_OFFSET,
                field: "magic",
                kind: DecodeErrorKind::UnsupportedRecordFormat,
            });
        }
        let total = LOG_OVERHEAD + size as usize;
        Ok((rest.len() >= total).then_some((total, magic)))
    }
}

impl Iterator for BatchIter {
    type Item = Result<Batch, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.pos == self.data.len() {
            self.done = true;
            return None;
        }
        let (len, magic) = match self.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => {
                self.done = true;
                self.truncated = true;
                return None;
            }
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        let slice = &self.data[self.pos..self.pos + len];
        let parsed = if magic == RecordBatch::MAGIC {
            record_batch(&self.data, slice, &self.opts).map(|(r, b)| (r, Batch::V2(b)))
        } else {
            legacy_entry(&self.data, slice, &self.opts).map(|(r, m)| (r, Batch::Legacy(m)))
        };
        match parsed {
            Ok((_, batch)) => {
                self.pos += len;
                Some(Ok(batch))
            }
            Err(e) => {
                self.done = true;
                Some(Err(finish(e, &self.data)))
            }
        }
    }
}

impl core::iter::FusedIterator for BatchIter {}

/// Every entry of a records blob (see [`decode_batches`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RecordSet {
    /// The complete entries, in order.
    pub batches: Vec<Batch>,
    /// Size of the truncated final entry that was skipped (0 if there was none).
    pub truncated_bytes: usize,
}

impl RecordSet {
    /// Whether the blob ended with a truncated entry.
    #[must_use]
    pub const fn is_truncated(&self) -> bool {
        self.truncated_bytes != 0
    }
}

/// Decodes every complete entry of a records blob; a truncated final entry is skipped and
/// reported in [`RecordSet::truncated_bytes`].
///
/// # Errors
///
/// The first error [`BatchIter`] meets.
pub fn decode_batches(records: &Bytes, opts: DecodeOptions) -> Result<RecordSet, DecodeError> {
    let mut it = BatchIter::new(records, opts);
    let mut batches = Vec::new();
    for b in &mut it {
        batches.push(b?);
    }
    Ok(RecordSet {
        batches,
        truncated_bytes: it.remaining(),
    })
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// Destination of encoded bytes: the output buffer, a scratch `Vec`, or a CRC digest.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for crc::Digest<'_, u32, Table<16>> {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

struct Out<'a, B>(&'a mut B);

impl<B: BufMut> Sink for Out<'_, B> {
    fn put(&mut self, bytes: &[u8]) {
        self.0.put_slice(bytes);
    }
}

fn put_vi<S: Sink>(s: &mut S, v: i32) {
    let mut buf = [0u8; 5];
    let mut w: &mut [u8] = &mut buf;
    put_varint(&mut w, v);
    let n = 5 - w.len();
    s.put(&buf[..n]);
}

fn put_vl<S: Sink>(s: &mut S, v: i64) {
    let mut buf = [0u8; 10];
    let mut w: &mut [u8] = &mut buf;
    put_varlong(&mut w, v);
    let n = 10 - w.len();
    s.put(&buf[..n]);
}

fn put_var_bytes<S: Sink>(s: &mut S, b: Option<&[u8]>) {
    match b {
        None => put_vi(s, -1),
        Some(b) => {
            // Lengths were checked by `record_body_len`.
            put_vi(s, b.len() as i32);
            s.put(b);
        }
    }
}

fn len_i32(n: usize, name: &'static str) -> Result<i32, EncodeError> {
    i32::try_from(n).map_err(|_| EncodeError::TooLong { field: name })
}

fn var_bytes_size(b: Option<&[u8]>, name: &'static str) -> Result<usize, EncodeError> {
    Ok(match b {
        None => 1,
        Some(b) => varint_size(len_i32(b.len(), name)?) + b.len(),
    })
}

/// Size of a record without its length prefix; checks every length fits its prefix.
fn record_body_len(r: &Record) -> Result<usize, EncodeError> {
    let mut n = 1
        + varlong_size(r.timestamp_delta)
        + varint_size(r.offset_delta)
        + var_bytes_size(r.key.as_deref(), "Record.key")?
        + var_bytes_size(r.value.as_deref(), "Record.value")?
        + varint_size(len_i32(r.headers.len(), "Record.headers")?);
    for h in &r.headers {
        let h = var_bytes_size(Some(h.key.as_bytes()), "Header.key")?
            + var_bytes_size(h.value.as_deref(), "Header.value")?;
        n = n.checked_add(h).ok_or(EncodeError::TooLong {
            field: "Record.headers",
        })?;
    }
    len_i32(n, "Record.length")?;
    Ok(n)
}

fn put_record<S: Sink>(s: &mut S, r: &Record, body_len: usize) {
    put_vi(s, body_len as i32);
    s.put(&r.attributes.to_be_bytes());
    put_vl(s, r.timestamp_delta);
    put_vi(s, r.offset_delta);
    put_var_bytes(s, r.key.as_deref());
    put_var_bytes(s, r.value.as_deref());
    put_vi(s, r.headers.len() as i32);
    for h in &r.headers {
        put_var_bytes(s, Some(h.key.as_bytes()));
        put_var_bytes(s, h.value.as_deref());
    }
}

impl RecordBatch {
    /// Size of the uncompressed records section (every record with its length prefix).
    fn records_len(&self) -> Result<usize, EncodeError> {
        let mut total: usize = 0;
        for r in &self.records {
            let body = record_body_len(r)?;
            total = total
                .checked_add(varint_size(body as i32) + body)
                .ok_or(EncodeError::TooLong { field: "records" })?;
        }
        Ok(total)
    }

    fn put_records<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        for r in &self.records {
            put_record(s, r, record_body_len(r)?);
        }
        Ok(())
    }

    /// Writes `attributes` through `recordsCount`: the CRC-covered header fields.
    fn put_tail_header<S: Sink>(&self, s: &mut S, count: i32) {
        s.put(&self.attributes.0.to_be_bytes());
        s.put(&self.last_offset_delta.to_be_bytes());
        s.put(&self.base_timestamp.to_be_bytes());
        s.put(&self.max_timestamp.to_be_bytes());
        s.put(&self.producer_id.to_be_bytes());
        s.put(&self.producer_epoch.to_be_bytes());
        s.put(&self.base_sequence.to_be_bytes());
        s.put(&count.to_be_bytes());
    }

    /// The compressed records section, or `None` for an uncompressed batch.
    fn compressed_records(&self) -> Result<Option<Vec<u8>>, EncodeError> {
        let codec = self
            .attributes
            .compression()
            .ok_or(EncodeError::Compression)?;
        if codec == Compression::None {
            return Ok(None);
        }
        let mut raw = Vec::with_capacity(self.records_len()?);
        self.put_records(&mut raw)?;
        codecs::compress(codec, &raw).map(Some)
    }

    /// Exact number of bytes [`encode`](Self::encode) writes.
    ///
    /// Cheap for uncompressed batches; a compressed batch is compressed to measure it, so
    /// prefer encoding into a growable buffer and reading its length.
    ///
    /// # Errors
    ///
    /// As [`encode`](Self::encode).
    pub fn encoded_len(&self) -> Result<usize, EncodeError> {
        len_i32(self.records.len(), "records")?;
        let section = match self.compressed_records()? {
            Some(c) => c.len(),
            None => self.records_len()?,
        };
        let total = BATCH_OVERHEAD
            .checked_add(section)
            .ok_or(EncodeError::TooLong {
                field: "batchLength",
            })?;
        len_i32(total - LOG_OVERHEAD, "batchLength")?;
        Ok(total)
    }

    /// Writes the batch, computing `batchLength` and the CRC-32C, and compressing the records
    /// with the codec in [`attributes`](Self::attributes).
    ///
    /// Decoding an uncompressed batch and encoding it again gives the same bytes, provided
    /// the input used minimal varints (Kafka clients always do).
    ///
    /// # Errors
    ///
    /// - [`EncodeError::TooLong`] if a key, value, header, record, the record count or the
    ///   batch does not fit its length prefix;
    /// - [`EncodeError::Compression`] if the codec id is undefined, its feature is not
    ///   compiled in, or the compressor fails.
    ///
    /// Nothing is written when an error is returned.
    ///
    /// # Panics
    ///
    /// If `out` cannot hold [`encoded_len`](Self::encoded_len) more bytes (as [`BufMut`]
    /// does).
    pub fn encode<B: BufMut>(&self, out: &mut B) -> Result<(), EncodeError> {
        let count = len_i32(self.records.len(), "records")?;
        let compressed = self.compressed_records()?;
        let section = match &compressed {
            Some(c) => c.len(),
            None => self.records_len()?,
        };
        let batch_length = section
            .checked_add(MIN_BATCH_LENGTH)
            .ok_or(EncodeError::TooLong {
                field: "batchLength",
            })?;
        let batch_length = len_i32(batch_length, "batchLength")?;

        let mut digest = CRC32C.digest();
        self.put_tail_header(&mut digest, count);
        match &compressed {
            Some(c) => digest.update(c),
            None => self.put_records(&mut digest)?,
        }
        let crc = digest.finalize();

        out.put_i64(self.base_offset);
        out.put_i32(batch_length);
        out.put_i32(self.partition_leader_epoch);
        out.put_i8(Self::MAGIC);
        out.put_u32(crc);
        let mut s = Out(out);
        self.put_tail_header(&mut s, count);
        match &compressed {
            Some(c) => s.put(c),
            None => self.put_records(&mut s)?,
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Codecs

/// Compression codecs. Each codec has a real implementation behind its feature and a stub
/// that reports it unavailable otherwise.
mod codecs {
    use alloc::vec::Vec;

    use super::Compression;
    use crate::error::{DecodeErrorKind, EncodeError};

    /// Decompresses `src`, failing once the output would exceed `limit` bytes.
    /// `broken_lz4` accepts the wrong LZ4 header checksum of Kafka's magic 0 messages.
    pub(super) fn decompress(
        c: Compression,
        src: &[u8],
        limit: usize,
        broken_lz4: bool,
    ) -> Result<Vec<u8>, DecodeErrorKind> {
        match c {
            Compression::None => {
                if src.len() > limit {
                    return Err(DecodeErrorKind::Decompression);
                }
                Ok(src.to_vec())
            }
            Compression::Gzip => gzip::decompress(src, limit),
            Compression::Snappy => snappy::decompress(src, limit),
            Compression::Lz4 => lz4::decompress(src, limit, broken_lz4),
            Compression::Zstd => zstd::decompress(src, limit),
        }
    }

    /// Compresses `src` with the framing Kafka's Java client writes.
    pub(super) fn compress(c: Compression, src: &[u8]) -> Result<Vec<u8>, EncodeError> {
        match c {
            Compression::None => Ok(src.to_vec()),
            Compression::Gzip => gzip::compress(src),
            Compression::Snappy => snappy::compress(src),
            Compression::Lz4 => lz4::compress(src),
            Compression::Zstd => zstd::compress(src),
        }
    }

    /// Reads `r` to the end, failing once more than `limit` bytes come out. The buffer grows
    /// geometrically with the data but its capacity never exceeds `limit`.
    #[cfg(any(feature = "gzip", feature = "lz4", feature = "zstd"))]
    fn read_limited<R: std::io::Read>(mut r: R, limit: usize) -> Result<Vec<u8>, DecodeErrorKind> {
        const CHUNK: usize = 16 * 1024;
        let mut out = Vec::new();
        let mut chunk = [0u8; CHUNK];
        loop {
            let n = match r.read(&mut chunk) {
                Ok(0) => return Ok(out),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(DecodeErrorKind::Decompression),
            };
            if n > limit - out.len() {
                return Err(DecodeErrorKind::Decompression);
            }
            if out.capacity() - out.len() < n {
                let target = out
                    .capacity()
                    .saturating_mul(2)
                    .max(out.len() + n)
                    .max(CHUNK)
                    .min(limit);
                out.reserve_exact(target - out.len());
            }
            out.extend_from_slice(&chunk[..n]);
        }
    }

    /// Stubs for codecs that are not compiled in.
    #[allow(dead_code, reason = "which stubs are used depends on the features")]
    mod missing {
        use alloc::vec::Vec;

        use crate::error::{DecodeErrorKind, EncodeError};

        pub(super) fn decompress(_src: &[u8], _limit: usize) -> Result<Vec<u8>, DecodeErrorKind> {
            Err(DecodeErrorKind::UnsupportedRecordFormat)
        }

        pub(super) fn compress(_src: &[u8]) -> Result<Vec<u8>, EncodeError> {
            Err(EncodeError::Compression)
        }
    }

    #[cfg(not(feature = "gzip"))]
    use missing as gzip;
    #[cfg(not(feature = "snappy"))]
    use missing as snappy;
    #[cfg(not(feature = "zstd"))]
    use missing as zstd;

    #[cfg(not(feature = "lz4"))]
    mod lz4 {
        use alloc::vec::Vec;

        use crate::error::{DecodeErrorKind, EncodeError};

        pub(super) fn decompress(
            src: &[u8],
            limit: usize,
            _broken: bool,
        ) -> Result<Vec<u8>, DecodeErrorKind> {
            super::missing::decompress(src, limit)
        }

        pub(super) fn compress(src: &[u8]) -> Result<Vec<u8>, EncodeError> {
            super::missing::compress(src)
        }
    }

    #[cfg(feature = "gzip")]
    mod gzip {
        use alloc::vec::Vec;
        use std::io::Write as _;

        use crate::error::{DecodeErrorKind, EncodeError};

        pub(super) fn decompress(src: &[u8], limit: usize) -> Result<Vec<u8>, DecodeErrorKind> {
            // Java's GZIPInputStream reads concatenated members too.
            super::read_limited(flate2::read::MultiGzDecoder::new(src), limit)
        }

        pub(super) fn compress(src: &[u8]) -> Result<Vec<u8>, EncodeError> {
            let mut e = flate2::write::GzEncoder::new(
                Vec::with_capacity(src.len() / 2 + 32),
                flate2::Compression::default(),
            );
            e.write_all(src).map_err(|_| EncodeError::Compression)?;
            e.finish().map_err(|_| EncodeError::Compression)
        }
    }

    #[cfg(feature = "snappy")]
    pub(super) mod snappy {
        use alloc::vec::Vec;

        use crate::error::{DecodeErrorKind, EncodeError};

        /// Header of a xerial snappy stream, followed by two int32 versions.
        pub(in super::super) const XERIAL_MAGIC: [u8; 8] =
            [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
        const XERIAL_HEADER: usize = 16;
        /// Block size of xerial's `SnappyOutputStream` (what the Java client writes).
        const XERIAL_BLOCK: usize = 32 * 1024;

        /// Decompresses xerial-framed snappy (`\x82SNAPPY\0`, versions, then
        /// `[int32 length][raw block]`...), or raw snappy when the header is absent.
        pub(super) fn decompress(src: &[u8], limit: usize) -> Result<Vec<u8>, DecodeErrorKind> {
            let mut out = Vec::new();
            if !src.starts_with(&XERIAL_MAGIC) {
                raw_block(src, &mut out, limit)?;
                return Ok(out);
            }
            let mut rest = src;
            while !rest.is_empty() {
                if rest.starts_with(&XERIAL_MAGIC) {
                    // A stream header (xerial also accepts one between concatenated streams).
                    rest = rest
                        .get(XERIAL_HEADER..)
                        .ok_or(DecodeErrorKind::Decompression)?;
                    continue;
                }
                let (len, r) = rest
                    .split_first_chunk::<4>()
                    .ok_or(DecodeErrorKind::Decompression)?;
                let len = u32::from_be_bytes(*len) as usize;
                let block = r.get(..len).ok_or(DecodeErrorKind::Decompression)?;
                raw_block(block, &mut out, limit)?;
                rest = &r[len..];
            }
            Ok(out)
        }

        /// Appends one raw snappy block to `out`, checking its declared size first.
        fn raw_block(block: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), DecodeErrorKind> {
            let n = snap::raw::decompress_len(block).map_err(|_| DecodeErrorKind::Decompression)?;
            let start = out.len();
            if n > limit.saturating_sub(start) {
                return Err(DecodeErrorKind::Decompression);
            }
            out.resize(start + n, 0);
            let written = snap::raw::Decoder::new()
                .decompress(block, &mut out[start..])
                .map_err(|_| DecodeErrorKind::Decompression)?;
            out.truncate(start + written);
            Ok(())
        }

        /// Compresses into the xerial framing with 32 KiB blocks.
        pub(super) fn compress(src: &[u8]) -> Result<Vec<u8>, EncodeError> {
            let mut out = Vec::with_capacity(XERIAL_HEADER + src.len() / 2 + 16);
            out.extend_from_slice(&XERIAL_MAGIC);
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            let mut enc = snap::raw::Encoder::new();
            let mut buf =
                alloc::vec![0u8; snap::raw::max_compress_len(XERIAL_BLOCK.min(src.len()))];
            for chunk in src.chunks(XERIAL_BLOCK) {
                let n = enc
                    .compress(chunk, &mut buf)
                    .map_err(|_| EncodeError::Compression)?;
                let len = u32::try_from(n).map_err(|_| EncodeError::Compression)?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&buf[..n]);
            }
            Ok(out)
        }
    }

    #[cfg(feature = "lz4")]
    pub(super) mod lz4 {
        use alloc::vec::Vec;
        use std::io::{Read as _, Write as _};

        use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};

        use crate::error::{DecodeErrorKind, EncodeError};

        const FRAME_MAGIC: [u8; 4] = 0x184D_2204u32.to_le_bytes();

        /// Decompresses an LZ4 frame. With `broken`, the header checksum is recomputed first,
        /// since Kafka's magic 0 writer hashed the frame magic into it.
        pub(super) fn decompress(
            src: &[u8],
            limit: usize,
            broken: bool,
        ) -> Result<Vec<u8>, DecodeErrorKind> {
            if broken {
                if let Some(hc) = header_checksum_pos(src) {
                    let mut header = src[..=hc].to_vec();
                    header[hc] = (xxh32_short(&header[4..hc]) >> 8) as u8;
                    let reader = header.as_slice().chain(&src[hc + 1..]);
                    return super::read_limited(FrameDecoder::new(reader), limit);
                }
            }
            super::read_limited(FrameDecoder::new(src), limit)
        }

        /// Position of the header checksum byte of an LZ4 frame, if `src` holds one.
        pub(in super::super) fn header_checksum_pos(src: &[u8]) -> Option<usize> {
            if !src.starts_with(&FRAME_MAGIC) {
                return None;
            }
            let flg = *src.get(4)?;
            let mut pos = 6;
            if flg & 0x08 != 0 {
                pos += 8; // content size
            }
            if flg & 0x01 != 0 {
                pos += 4; // dictionary id
            }
            (pos < src.len()).then_some(pos)
        }

        /// XXH32 with seed 0 of fewer than 16 bytes (an LZ4 frame descriptor).
        pub(in super::super) fn xxh32_short(data: &[u8]) -> u32 {
            const P1: u32 = 2_654_435_761;
            const P2: u32 = 2_246_822_519;
            const P3: u32 = 3_266_489_917;
            const P4: u32 = 668_265_263;
            const P5: u32 = 374_761_393;
            debug_assert!(data.len() < 16, "only the short-input path is implemented");
            let mut h = P5.wrapping_add(data.len() as u32);
            let mut words = data.chunks_exact(4);
            for w in &mut words {
                let w = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
                h = h
                    .wrapping_add(w.wrapping_mul(P3))
                    .rotate_left(17)
                    .wrapping_mul(P4);
            }
            for &b in words.remainder() {
                h = h
                    .wrapping_add(u32::from(b).wrapping_mul(P5))
                    .rotate_left(11)
                    .wrapping_mul(P1);
            }
            h ^= h >> 15;
            h = h.wrapping_mul(P2);
            h ^= h >> 13;
            h = h.wrapping_mul(P3);
            h ^= h >> 16;
            h
        }

        /// Compresses into an LZ4 frame with independent 64 KiB blocks and no checksums,
        /// which Kafka's Java reader accepts.
        pub(super) fn compress(src: &[u8]) -> Result<Vec<u8>, EncodeError> {
            let info = FrameInfo::new()
                .block_size(BlockSize::Max64KB)
                .block_mode(BlockMode::Independent);
            let mut e = FrameEncoder::with_frame_info(info, Vec::with_capacity(src.len() / 2 + 32));
            e.write_all(src).map_err(|_| EncodeError::Compression)?;
            e.finish().map_err(|_| EncodeError::Compression)
        }
    }

    #[cfg(feature = "zstd")]
    mod zstd {
        use alloc::vec::Vec;

        use crate::error::{DecodeErrorKind, EncodeError};

        /// Compression level of Kafka's Java client by default.
        const LEVEL: i32 = 3;

        pub(super) fn decompress(src: &[u8], limit: usize) -> Result<Vec<u8>, DecodeErrorKind> {
            let mut d = zstd::stream::read::Decoder::with_buffer(src)
                .map_err(|_| DecodeErrorKind::Decompression)?;
            // A window larger than the output limit is never needed; refusing it keeps a tiny
            // hostile frame from making the decoder allocate a huge window. The floor of 8 MiB
            // (window log 23) accepts what every non-"ultra" level writes, so a small limit does
            // not reject small frames written with a large window.
            let bits = (usize::BITS - limit.saturating_sub(1).leading_zeros()).clamp(23, 30);
            d.window_log_max(bits)
                .map_err(|_| DecodeErrorKind::Decompression)?;
            super::read_limited(d, limit)
        }

        pub(super) fn compress(src: &[u8]) -> Result<Vec<u8>, EncodeError> {
            zstd::bulk::compress(src, LEVEL).map_err(|_| EncodeError::Compression)
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;
    use alloc::vec::Vec;

    use bytes::{BufMut, Bytes, BytesMut};

    use super::*;

    const ALL_CODECS: [Compression; 4] = [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    fn enc(b: &RecordBatch) -> Bytes {
        let mut out = BytesMut::new();
        b.encode(&mut out).expect("encodable batch");
        assert_eq!(out.len(), b.encoded_len().expect("encodable batch"));
        out.freeze()
    }

    fn header(k: &str, v: Option<&'static [u8]>) -> Header {
        Header {
            key: ByteString::from(k),
            value: v.map(Bytes::from_static),
        }
    }

    fn rec(
        offset_delta: i32,
        key: Option<&'static [u8]>,
        value: Option<&'static [u8]>,
        headers: Vec<Header>,
    ) -> Record {
        Record {
            attributes: 0,
            timestamp_delta: i64::from(offset_delta) * 3,
            offset_delta,
            key: key.map(Bytes::from_static),
            value: value.map(Bytes::from_static),
            headers,
        }
    }

    fn sample() -> RecordBatch {
        let mut r2 = rec(2, Some(b"tomb"), None, vec![]);
        r2.timestamp_delta = -5;
        RecordBatch {
            base_offset: 1000,
            partition_leader_epoch: 5,
            attributes: BatchAttributes::default(),
            last_offset_delta: 3,
            base_timestamp: 1_700_000_000_000,
            max_timestamp: 1_700_000_000_123,
            producer_id: 42,
            producer_epoch: 1,
            base_sequence: 7,
            records: vec![
                rec(
                    0,
                    Some(b"k0"),
                    Some(b"v0"),
                    vec![header("h1", Some(b"x")), header("", None)],
                ),
                rec(1, None, Some(b"no key"), vec![]),
                r2,
                rec(
                    3,
                    Some(b""),
                    Some(b""),
                    vec![header("ключ", Some(b"\x00\xff"))],
                ),
            ],
        }
    }

    fn big() -> RecordBatch {
        let mut b = sample();
        b.records = (0..300)
            .map(|i| Record {
                offset_delta: i,
                key: Some(Bytes::from(alloc::format!("key-{i}"))),
                value: Some(Bytes::from(vec![(i % 7) as u8; 1000])),
                ..Record::default()
            })
            .collect();
        b.last_offset_delta = 299;
        b
    }

    /// A batch with hand-made records bytes and a valid CRC.
    fn raw_batch(attributes: i16, count: i32, records: &[u8]) -> Bytes {
        let mut tail = Vec::new();
        tail.put_i16(attributes);
        tail.put_i32(0);
        tail.put_i64(10);
        tail.put_i64(10);
        tail.put_i64(-1);
        tail.put_i16(-1);
        tail.put_i32(-1);
        tail.put_i32(count);
        tail.extend_from_slice(records);
        let mut out = Vec::new();
        out.put_i64(0);
        out.put_i32(9 + tail.len() as i32);
        out.put_i32(-1);
        out.put_i8(2);
        out.put_u32(CRC32C.checksum(&tail));
        out.extend_from_slice(&tail);
        Bytes::from(out)
    }

    fn vi(v: i32) -> Vec<u8> {
        let mut out = Vec::new();
        put_vi(&mut out, v);
        out
    }

    /// A record from raw parts after the length prefix.
    fn raw_record(body: &[u8]) -> Vec<u8> {
        let mut out = vi(body.len() as i32);
        out.extend_from_slice(body);
        out
    }

    fn kind(r: Result<(RecordBatch, usize), DecodeError>) -> DecodeErrorKind {
        r.expect_err("decode must fail").kind
    }

    fn recrc(buf: &mut [u8]) {
        let crc = CRC32C.checksum(&buf[21..]);
        buf[17..21].copy_from_slice(&crc.to_be_bytes());
    }

    fn within(outer: &Bytes, inner: &Bytes) -> bool {
        let o = outer.as_ptr() as usize;
        let i = inner.as_ptr() as usize;
        i >= o && i + inner.len() <= o + outer.len()
    }

    // -- round trips ---------------------------------------------------------------------------

    #[test]
    fn uncompressed_round_trip_is_byte_identical_and_zero_copy() {
        let batch = sample();
        let bytes = enc(&batch);
        assert_eq!(&bytes[16..17], &[2]);
        let (decoded, used) = RecordBatch::decode(&bytes).unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(decoded, batch);
        assert_eq!(enc(&decoded), bytes);
        let r0 = &decoded.records[0];
        assert!(within(&bytes, r0.key.as_ref().unwrap()));
        assert!(within(&bytes, r0.value.as_ref().unwrap()));
        assert!(within(&bytes, r0.headers[0].value.as_ref().unwrap()));
        assert!(within(&bytes, r0.headers[0].key.as_bytes()));
        assert_eq!(decoded.records[2].value, None);
        assert_eq!(decoded.records[1].key, None);
        assert_eq!(decoded.records[0].headers[1].value, None);
        assert_eq!(decoded.records[2].timestamp_delta, -5);
        assert_eq!(decoded.records[3].offset(decoded.base_offset), 1003);
        assert_eq!(decoded.last_offset(), 1003);

        // Bytes after the batch are left alone.
        let mut longer = BytesMut::from(&bytes[..]);
        longer.extend_from_slice(b"next batch");
        let (again, used) = RecordBatch::decode(&longer.freeze()).unwrap();
        assert_eq!((again, used), (batch, bytes.len()));
    }

    #[test]
    fn empty_batches_round_trip() {
        let batch = RecordBatch::default();
        let bytes = enc(&batch);
        assert_eq!(bytes.len(), RecordBatch::HEADER_SIZE);
        assert_eq!(RecordBatch::decode(&bytes).unwrap(), (batch.clone(), 61));
        for c in ALL_CODECS.into_iter().filter(|c| c.is_available()) {
            let mut b = batch.clone();
            b.attributes = b.attributes.with_compression(c);
            let bytes = enc(&b);
            assert_eq!(RecordBatch::decode(&bytes).unwrap().0, b, "{c:?}");
        }
        // A compressed empty batch with an empty records section (no compressed stream).
        let bytes = raw_batch(Compression::Zstd.id().into(), 0, &[]);
        assert!(RecordBatch::decode(&bytes).unwrap().0.records.is_empty());
    }

    #[test]
    fn attributes_helpers() {
        let a = BatchAttributes::default()
            .with_compression(Compression::Lz4)
            .with_timestamp_type(TimestampType::LogAppendTime)
            .with_transactional(true)
            .with_control(true)
            .with_delete_horizon(true);
        assert_eq!(a.0, 0x7b);
        assert_eq!(a.compression(), Some(Compression::Lz4));
        assert_eq!(a.timestamp_type(), TimestampType::LogAppendTime);
        assert!(a.is_transactional() && a.is_control() && a.has_delete_horizon());
        let b = a
            .with_compression(Compression::None)
            .with_control(false)
            .with_timestamp_type(TimestampType::CreateTime);
        assert_eq!(b.0, 0x50);
        assert_eq!(BatchAttributes(5).compression(), None);
        for id in 0..8 {
            if let Some(c) = Compression::from_id(id) {
                assert_eq!(c.id(), id);
            } else {
                assert!(id >= 5);
            }
        }
        // Unknown high bits survive a round trip.
        let mut batch = sample();
        batch.attributes = BatchAttributes(0x0100);
        let bytes = enc(&batch);
        assert_eq!(RecordBatch::decode(&bytes).unwrap().0.attributes.0, 0x0100);
    }

    #[test]
    fn control_batch() {
        let key = ControlRecordKey {
            version: 0,
            record_type: ControlRecordType::Commit,
        };
        let batch = RecordBatch {
            attributes: BatchAttributes::default()
                .with_control(true)
                .with_transactional(true),
            producer_id: 9,
            producer_epoch: 2,
            records: vec![Record {
                key: Some(Bytes::copy_from_slice(&key.to_bytes())),
                // EndTxnMarker v0, coordinator epoch 5.
                value: Some(Bytes::from_static(&[0, 0, 0, 0, 0, 5])),
                ..Record::default()
            }],
            ..RecordBatch::default()
        };
        let bytes = enc(&batch);
        let (decoded, _) = RecordBatch::decode(&bytes).unwrap();
        assert_eq!(decoded, batch);
        assert!(decoded.attributes.is_control() && decoded.attributes.is_transactional());
        assert_eq!(decoded.records[0].control_key().unwrap(), key);
        assert_eq!(enc(&decoded), bytes);

        assert_eq!(
            ControlRecordKey::decode(&[0, 0, 0, 9, 0xaa])
                .unwrap()
                .record_type,
            ControlRecordType::Unknown(9)
        );
        assert_eq!(
            ControlRecordKey::decode(&[0, 1, 0, 0]).unwrap(),
            ControlRecordKey {
                version: 1,
                record_type: ControlRecordType::Abort
            }
        );
        assert_eq!(
            ControlRecordKey::decode(&[0, 0, 0]).unwrap_err().kind,
            DecodeErrorKind::UnexpectedEnd
        );
        assert_eq!(
            ControlRecordKey::decode(&[0xff, 0xff, 0, 0])
                .unwrap_err()
                .kind,
            DecodeErrorKind::OutOfRange
        );
        assert_eq!(
            Record::default().control_key().unwrap_err().kind,
            DecodeErrorKind::UnexpectedNull
        );
        for v in -2..10 {
            assert_eq!(ControlRecordType::from_i16(v).as_i16(), v);
        }
    }

    // -- corruption and hostile input ----------------------------------------------------------

    #[test]
    fn crc_mismatch_is_detected() {
        let bytes = enc(&sample());
        let mut last = bytes.to_vec();
        *last.last_mut().unwrap() ^= 1;
        let e = RecordBatch::decode(&Bytes::from(last)).unwrap_err();
        assert_eq!(
            (e.kind, e.field, e.offset),
            (DecodeErrorKind::CrcMismatch, "crc", 17)
        );
        let mut crc = bytes.to_vec();
        crc[18] ^= 0x40;
        assert_eq!(
            kind(RecordBatch::decode(&Bytes::from(crc))),
            DecodeErrorKind::CrcMismatch
        );
        // The partition leader epoch is outside the CRC (the broker rewrites it).
        let mut ple = bytes.to_vec();
        ple[12] ^= 0x40;
        assert!(RecordBatch::decode(&Bytes::from(ple)).is_ok());
    }

    #[test]
    fn every_truncation_point_is_typed() {
        let mut batches = vec![sample()];
        for c in ALL_CODECS.into_iter().filter(|c| c.is_available()) {
            let mut b = sample();
            b.attributes = b.attributes.with_compression(c);
            batches.push(b);
        }
        for batch in batches {
            let bytes = enc(&batch);
            for n in 0..bytes.len() {
                let cut = bytes.slice(..n);
                assert_eq!(
                    kind(RecordBatch::decode(&cut)),
                    DecodeErrorKind::UnexpectedEnd,
                    "cut at {n}"
                );
                let mut it = BatchIter::new(&cut, DecodeOptions::new());
                assert!(it.next().is_none(), "cut at {n}");
                assert_eq!(it.is_truncated(), n > 0);
                assert_eq!(it.remaining(), n);
            }
        }
    }

    #[test]
    fn corrupting_any_byte_never_panics() {
        let mut batches = vec![sample()];
        for c in ALL_CODECS.into_iter().filter(|c| c.is_available()) {
            let mut b = sample();
            b.attributes = b.attributes.with_compression(c);
            batches.push(b);
        }
        for batch in batches {
            let bytes = enc(&batch);
            for p in 0..bytes.len() {
                for v in [
                    0x00,
                    0xff,
                    0x80,
                    0x7f,
                    0x01,
                    bytes[p] ^ 0x01,
                    bytes[p] ^ 0x80,
                ] {
                    let mut buf = bytes.to_vec();
                    buf[p] = v;
                    if p >= 21 {
                        recrc(&mut buf);
                    }
                    let buf = Bytes::from(buf);
                    if let Ok((b, n)) = RecordBatch::decode(&buf) {
                        assert!(n <= buf.len());
                        // Whatever decodes re-encodes to something that decodes the same.
                        let again = enc(&b);
                        assert_eq!(RecordBatch::decode(&again).unwrap().0, b);
                    }
                    let _ = decode_batches(&buf, DecodeOptions::new());
                }
            }
        }
    }

    #[test]
    fn bad_lengths_are_typed_errors() {
        let bad =
            |records: &[u8], count: i32| kind(RecordBatch::decode(&raw_batch(0, count, records)));
        // attributes, timestampDelta, offsetDelta
        let head = [0u8, 0, 0];
        let with = |rest: &[u8]| {
            let mut body = head.to_vec();
            body.extend_from_slice(rest);
            raw_record(&body)
        };
        let mut null = vi(-1);
        null.extend(vi(-1));
        null.extend(vi(0));
        assert!(RecordBatch::decode(&raw_batch(0, 1, &with(&null))).is_ok());

        // key length -2
        let mut r = vi(-2);
        r.extend(vi(-1));
        r.extend(vi(0));
        assert_eq!(bad(&with(&r), 1), DecodeErrorKind::InvalidLength(-2));
        // value length far beyond the record
        let mut r = vi(-1);
        r.extend(vi(1 << 30));
        r.extend(vi(0));
        assert_eq!(bad(&with(&r), 1), DecodeErrorKind::UnexpectedEnd);
        // negative headers count
        let mut r = vi(-1);
        r.extend(vi(-1));
        r.extend(vi(-1));
        assert_eq!(bad(&with(&r), 1), DecodeErrorKind::InvalidLength(-1));
        // huge headers count
        let mut r = vi(-1);
        r.extend(vi(-1));
        r.extend(vi(1 << 30));
        r.extend([0, 0]);
        assert!(matches!(
            bad(&with(&r), 1),
            DecodeErrorKind::ArrayTooLong {
                count: 0x4000_0000,
                remaining: 2
            }
        ));
        // null header key
        let mut r = vi(-1);
        r.extend(vi(-1));
        r.extend(vi(1));
        r.extend(vi(-1));
        r.extend(vi(-1));
        assert_eq!(bad(&with(&r), 1), DecodeErrorKind::UnexpectedNull);
        // header key that is not UTF-8
        let mut r = vi(-1);
        r.extend(vi(-1));
        r.extend(vi(1));
        r.extend(vi(2));
        r.extend([0xc3, 0x28]);
        r.extend(vi(-1));
        assert_eq!(bad(&with(&r), 1), DecodeErrorKind::InvalidUtf8);
        // bytes left inside a record
        let mut r = null.clone();
        r.push(0);
        assert_eq!(bad(&with(&r), 1), DecodeErrorKind::TrailingBytes(1));
        // bytes left after the last record
        let mut rs = with(&null);
        rs.extend([0; 3]);
        assert_eq!(bad(&rs, 1), DecodeErrorKind::TrailingBytes(3));
        // negative record length
        assert_eq!(
            bad(&[1, 0, 0, 0, 0, 0, 0, 0], 1),
            DecodeErrorKind::InvalidLength(-1)
        );
        // over-long varint
        assert_eq!(bad(&[0xff; 12], 1), DecodeErrorKind::VarintTooLong);
        // negative and huge record counts
        assert_eq!(bad(&with(&null), -1), DecodeErrorKind::InvalidLength(-1));
        assert_eq!(
            bad(&with(&null), i32::MIN),
            DecodeErrorKind::InvalidLength(i64::from(i32::MIN))
        );
        // more records than declared / fewer records than declared
        assert_eq!(bad(&with(&null), 0), DecodeErrorKind::TrailingBytes(7));
        let mut two = with(&null);
        two.extend(with(&null));
        assert_eq!(
            bad(&two, 3),
            DecodeErrorKind::ArrayTooLong {
                count: 3,
                remaining: 14
            }
        );

        // batch-level lengths
        let good = enc(&sample()).to_vec();
        for len in [-1i32, i32::MIN, 0, 48] {
            let mut b = good.clone();
            b[8..12].copy_from_slice(&len.to_be_bytes());
            assert_eq!(
                kind(RecordBatch::decode(&Bytes::from(b))),
                DecodeErrorKind::InvalidLength(i64::from(len))
            );
        }
        let mut b = good.clone();
        b[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
        assert_eq!(
            kind(RecordBatch::decode(&Bytes::from(b))),
            DecodeErrorKind::UnexpectedEnd
        );
        // wrong magic, undefined codec
        let mut b = good.clone();
        b[16] = 1;
        assert_eq!(
            kind(RecordBatch::decode(&Bytes::from(b))),
            DecodeErrorKind::UnsupportedRecordFormat
        );
        for codec in 5..8 {
            assert_eq!(
                kind(RecordBatch::decode(&raw_batch(codec, 0, &[]))),
                DecodeErrorKind::UnsupportedRecordFormat
            );
        }
    }

    #[test]
    fn hostile_records_count_allocates_nothing() {
        // 2^31 - 1 records claimed, 8 bytes present.
        let e = RecordBatch::decode(&raw_batch(0, i32::MAX, &[0; 8])).unwrap_err();
        assert_eq!(
            e.kind,
            DecodeErrorKind::ArrayTooLong {
                count: i32::MAX as u64,
                remaining: 8
            }
        );
        assert_eq!((e.field, e.offset), ("records", 61));
        // The same behind compression: checked against the decompressed size.
        for c in ALL_CODECS.into_iter().filter(|c| c.is_available()) {
            let section = codecs::compress(c, &[0; 8]).unwrap();
            let e = RecordBatch::decode(&raw_batch(c.id().into(), i32::MAX, &section)).unwrap_err();
            assert_eq!(
                e.kind,
                DecodeErrorKind::ArrayTooLong {
                    count: i32::MAX as u64,
                    remaining: 8
                },
                "{c:?}"
            );
            // Errors inside decompressed data point at the compressed section.
            assert_eq!((e.field, e.offset), ("records", 61));
        }
    }

    #[test]
    fn unavailable_codecs_are_typed_errors() {
        for c in ALL_CODECS {
            let mut b = sample();
            b.attributes = b.attributes.with_compression(c);
            if c.is_available() {
                continue;
            }
            assert_eq!(
                b.encode(&mut BytesMut::new()),
                Err(EncodeError::Compression)
            );
            assert_eq!(b.encoded_len(), Err(EncodeError::Compression));
            assert_eq!(
                kind(RecordBatch::decode(&raw_batch(
                    c.id().into(),
                    1,
                    &[1, 2, 3, 4, 5, 6, 7]
                ))),
                DecodeErrorKind::UnsupportedRecordFormat
            );
        }
        let mut b = sample();
        b.attributes = BatchAttributes(6);
        assert_eq!(
            b.encode(&mut BytesMut::new()),
            Err(EncodeError::Compression)
        );
    }

    // -- compression ---------------------------------------------------------------------------

    #[test]
    fn every_codec_round_trips() {
        for c in ALL_CODECS.into_iter().filter(|c| c.is_available()) {
            for mut batch in [sample(), big()] {
                batch.attributes = batch.attributes.with_compression(c);
                let bytes = enc(&batch);
                let (decoded, used) = RecordBatch::decode(&bytes).unwrap();
                assert_eq!(used, bytes.len());
                assert_eq!(decoded, batch, "{c:?}");
                assert_eq!(RecordBatch::decode(&enc(&decoded)).unwrap().0, batch);
                if batch.records.len() > 10 {
                    assert!(bytes.len() < 100_000, "{c:?} compressed to {}", bytes.len());
                }
            }
        }
    }

    #[test]
    fn decompression_is_capped() {
        for c in ALL_CODECS.into_iter().filter(|c| c.is_available()) {
            let mut batch = big();
            batch.attributes = batch.attributes.with_compression(c);
            let bytes = enc(&batch);
            let raw_len = enc(&big()).len() - 61;
            let ok = RecordBatch::decode_with(
                &bytes,
                DecodeOptions::new().with_max_decompressed(raw_len),
            );
            assert!(ok.is_ok(), "{c:?}");
            let e = RecordBatch::decode_with(
                &bytes,
                DecodeOptions::new().with_max_decompressed(raw_len - 1),
            )
            .unwrap_err();
            assert_eq!(
                (e.kind, e.offset),
                (DecodeErrorKind::Decompression, 61),
                "{c:?}"
            );
            // A bomb: 32 MiB of zeros against the default 64 MiB cap and a 1 MiB cap.
            let bomb = codecs::compress(c, &vec![0u8; 32 << 20]).unwrap();
            let e = RecordBatch::decode_with(
                &raw_batch(c.id().into(), 1, &bomb),
                DecodeOptions::new().with_max_decompressed(1 << 20),
            )
            .unwrap_err();
            assert_eq!(e.kind, DecodeErrorKind::Decompression, "{c:?}");
            // Garbage is an error, not a panic.
            let e = RecordBatch::decode(&raw_batch(c.id().into(), 1, &[0x55; 40])).unwrap_err();
            assert!(
                matches!(
                    e.kind,
                    DecodeErrorKind::Decompression | DecodeErrorKind::ArrayTooLong { .. }
                ),
                "{c:?}: {e:?}"
            );
        }
    }

    #[cfg(feature = "snappy")]
    #[test]
    fn hand_built_xerial_snappy_decodes() {
        let batch = sample();
        let plain = enc(&batch);
        let records = &plain[61..];
        let (a, b) = records.split_at(records.len() / 2);
        let mut frame = codecs::snappy::XERIAL_MAGIC.to_vec();
        frame.put_i32(1);
        frame.put_i32(1);
        for part in [a, b] {
            let block = snap::raw::Encoder::new().compress_vec(part).unwrap();
            frame.put_u32(block.len() as u32);
            frame.extend_from_slice(&block);
        }
        let count = batch.records.len() as i32;
        let (decoded, _) = RecordBatch::decode(&raw_batch(2, count, &frame)).unwrap();
        assert_eq!(decoded.records, batch.records);

        // Raw snappy without the xerial framing.
        let raw = snap::raw::Encoder::new().compress_vec(records).unwrap();
        let (decoded, _) = RecordBatch::decode(&raw_batch(2, count, &raw)).unwrap();
        assert_eq!(decoded.records, batch.records);

        // A block length running past the end.
        let mut cut = frame.clone();
        cut.truncate(cut.len() - 1);
        assert_eq!(
            kind(RecordBatch::decode(&raw_batch(2, count, &cut))),
            DecodeErrorKind::Decompression
        );
    }

    #[cfg(feature = "lz4")]
    #[test]
    fn lz4_header_checksum() {
        use codecs::lz4::{header_checksum_pos, xxh32_short};
        assert_eq!(xxh32_short(b""), 0x02CC_5D05);
        assert_eq!(xxh32_short(b"abc"), 0x32D1_53FF);
        let frame = codecs::compress(Compression::Lz4, b"hello hello hello").unwrap();
        let hc = header_checksum_pos(&frame).unwrap();
        assert_eq!(frame[hc], (xxh32_short(&frame[4..hc]) >> 8) as u8);
    }

    // -- legacy message sets -------------------------------------------------------------------

    fn legacy(
        offset: i64,
        magic: i8,
        attributes: i8,
        timestamp: Option<i64>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut m = Vec::new();
        m.put_i8(magic);
        m.put_i8(attributes);
        if let Some(t) = timestamp {
            m.put_i64(t);
        }
        for b in [key, value] {
            match b {
                None => m.put_i32(-1),
                Some(b) => {
                    m.put_i32(b.len() as i32);
                    m.extend_from_slice(b);
                }
            }
        }
        let mut out = Vec::new();
        out.put_i64(offset);
        out.put_i32(4 + m.len() as i32);
        out.put_u32(CRC32.checksum(&m));
        out.extend_from_slice(&m);
        out
    }

    fn legacy_set(blob: &[u8]) -> Vec<Vec<LegacyMessage>> {
        let set = decode_batches(&Bytes::copy_from_slice(blob), DecodeOptions::new()).unwrap();
        assert!(!set.is_truncated());
        set.batches
            .into_iter()
            .map(|b| match b {
                Batch::Legacy(m) => m,
                Batch::V2(_) => panic!("expected a legacy entry"),
            })
            .collect()
    }

    #[test]
    fn legacy_v0_and_v1_message_sets() {
        let entries = [
            legacy(0, 0, 0, None, Some(b"k"), Some(b"v0")),
            legacy(1, 0, 0, None, None, None),
            legacy(2, 1, 0x08, Some(77), Some(b""), Some(b"v1")),
        ];
        let ends: Vec<usize> = entries
            .iter()
            .scan(0, |end, e| {
                *end += e.len();
                Some(*end)
            })
            .collect();
        let blob = entries.concat();
        let set = legacy_set(&blob);
        assert_eq!(set.len(), 3);
        let m0 = &set[0][0];
        assert_eq!(
            (m0.offset, m0.magic, m0.timestamp, m0.timestamp_type),
            (0, 0, None, None)
        );
        assert_eq!(m0.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(m0.value.as_deref(), Some(&b"v0"[..]));
        assert_eq!(
            (set[1][0].key.clone(), set[1][0].value.clone()),
            (None, None)
        );
        let m2 = &set[2][0];
        assert_eq!(
            (m2.offset, m2.magic, m2.timestamp, m2.timestamp_type),
            (2, 1, Some(77), Some(TimestampType::LogAppendTime))
        );
        assert_eq!(m2.compression(), Some(Compression::None));

        // Every cut is truncation, never an error.
        for n in 0..blob.len() {
            let set =
                decode_batches(&Bytes::copy_from_slice(&blob[..n]), DecodeOptions::new()).unwrap();
            let whole = ends.iter().filter(|&&end| end <= n).count();
            assert_eq!(set.batches.len(), whole, "cut at {n}");
            assert_eq!(
                set.is_truncated(),
                !ends.contains(&n) && n > 0,
                "cut at {n}"
            );
        }

        // CRC-32 mismatch, unknown magic inside a message, short message size.
        let mut bad = legacy(0, 0, 0, None, None, Some(b"v"));
        *bad.last_mut().unwrap() ^= 1;
        let e = decode_batches(&Bytes::from(bad), DecodeOptions::new()).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::CrcMismatch);
        let mut small = legacy(0, 0, 0, None, None, None);
        small[8..12].copy_from_slice(&13i32.to_be_bytes());
        let e = decode_batches(&Bytes::from(small), DecodeOptions::new()).unwrap_err();
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::InvalidLength(13), 8));
        let mut neg = legacy(0, 0, 0, None, None, None);
        neg[18..22].copy_from_slice(&(-2i32).to_be_bytes());
        let crc = CRC32.checksum(&neg[16..]);
        neg[12..16].copy_from_slice(&crc.to_be_bytes());
        let e = decode_batches(&Bytes::from(neg), DecodeOptions::new()).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::InvalidLength(-2));
    }

    #[test]
    fn legacy_compressed_wrappers() {
        for c in [Compression::Gzip, Compression::Snappy, Compression::Lz4] {
            if !c.is_available() {
                continue;
            }
            // Magic 1: relative inner offsets, log append time taken from the wrapper.
            let mut inner = legacy(0, 1, 0, Some(10), Some(b"a"), Some(b"1"));
            inner.extend(legacy(1, 1, 0, Some(11), Some(b"b"), Some(b"2")));
            inner.extend(legacy(2, 1, 0, Some(12), None, Some(b"3")));
            let packed = codecs::compress(c, &inner).unwrap();
            let wrapper = legacy(102, 1, c.id() as i8 | 0x08, Some(999), None, Some(&packed));
            let set = legacy_set(&wrapper);
            assert_eq!(set.len(), 1);
            let offsets: Vec<_> = set[0].iter().map(|m| m.offset).collect();
            assert_eq!(offsets, [100, 101, 102], "{c:?}");
            assert!(set[0].iter().all(|m| m.timestamp == Some(999)
                && m.timestamp_type == Some(TimestampType::LogAppendTime)));
            assert_eq!(set[0][1].key.as_deref(), Some(&b"b"[..]));
            assert_eq!(Batch::Legacy(set[0].clone()).last_offset(), Some(102));

            // Create time: inner timestamps stay.
            let wrapper = legacy(102, 1, c.id() as i8, Some(999), None, Some(&packed));
            let set = legacy_set(&wrapper);
            let ts: Vec<_> = set[0].iter().map(|m| m.timestamp.unwrap()).collect();
            assert_eq!(ts, [10, 11, 12]);

            // Magic 0: inner offsets are absolute.
            let mut inner = legacy(5, 0, 0, None, None, Some(b"x"));
            inner.extend(legacy(6, 0, 0, None, None, Some(b"y")));
            let packed = codecs::compress(c, &inner).unwrap();
            let mut blob = legacy(6, 0, c.id() as i8, None, None, Some(&packed));
            blob.extend(legacy(7, 0, 0, None, None, Some(b"z")));
            let set = legacy_set(&blob);
            let offsets: Vec<_> = set.iter().flatten().map(|m| m.offset).collect();
            assert_eq!(offsets, [5, 6, 7], "{c:?}");

            // Compressed inner messages are rejected.
            let nested = legacy(0, 1, c.id() as i8, Some(1), None, Some(&packed));
            let packed2 = codecs::compress(c, &nested).unwrap();
            let outer = legacy(0, 1, c.id() as i8, Some(1), None, Some(&packed2));
            let e = decode_batches(&Bytes::from(outer), DecodeOptions::new()).unwrap_err();
            assert_eq!(e.kind, DecodeErrorKind::UnsupportedRecordFormat);

            // A wrapper with a null or empty value.
            let e = decode_batches(
                &Bytes::from(legacy(0, 1, c.id() as i8, Some(1), None, None)),
                DecodeOptions::new(),
            )
            .unwrap_err();
            assert_eq!(e.kind, DecodeErrorKind::UnexpectedNull);
        }
        // zstd needs magic 2.
        let e = decode_batches(
            &Bytes::from(legacy(0, 1, 4, Some(1), None, Some(b"zz"))),
            DecodeOptions::new(),
        )
        .unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::UnsupportedRecordFormat);
    }

    #[cfg(feature = "lz4")]
    #[test]
    fn legacy_v0_lz4_with_kafkas_broken_header_checksum() {
        use codecs::lz4::{header_checksum_pos, xxh32_short};
        let inner = legacy(0, 0, 0, None, None, Some(b"lz4 v0"));
        let mut frame = codecs::compress(Compression::Lz4, &inner).unwrap();
        let hc = header_checksum_pos(&frame).unwrap();
        // Kafka's magic 0 writer hashed the frame magic too.
        let broken = (xxh32_short(&frame[..hc]) >> 8) as u8;
        assert_ne!(broken, frame[hc]);
        frame[hc] = broken;
        let set = legacy_set(&legacy(0, 0, 3, None, None, Some(&frame)));
        assert_eq!(set[0][0].value.as_deref(), Some(&b"lz4 v0"[..]));
        // Magic 1 frames must carry the right checksum.
        let e = decode_batches(
            &Bytes::from(legacy(0, 1, 3, Some(0), None, Some(&frame))),
            DecodeOptions::new(),
        )
        .unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::Decompression);
    }

    // -- records blobs -------------------------------------------------------------------------

    #[test]
    fn fetch_blob_with_truncated_last_batch() {
        let b1 = enc(&sample());
        let mut second = sample();
        second.base_offset = 1004;
        second.records.truncate(2);
        let b2 = enc(&second);
        let mut third = big();
        third.base_offset = 1006;
        let b3 = enc(&third);
        for k in [1, 11, 12, 16, 17, 60, 61, 62, b3.len() / 2, b3.len() - 1] {
            let mut blob = BytesMut::new();
            blob.extend_from_slice(&b1);
            blob.extend_from_slice(&b2);
            blob.extend_from_slice(&b3[..k]);
            let blob = blob.freeze();
            let set = decode_batches(&blob, DecodeOptions::new()).unwrap();
            assert_eq!(set.batches.len(), 2, "cut at {k}");
            assert_eq!(set.truncated_bytes, k);
            assert!(set.is_truncated());
            assert_eq!(set.batches[0], Batch::V2(sample()));
            assert_eq!(set.batches[1], Batch::V2(second.clone()));
            assert_eq!(set.batches[1].last_offset(), Some(1004 + 3));
            // Zero copy through the iterator too.
            let Batch::V2(b) = &set.batches[1] else {
                unreachable!()
            };
            assert!(within(&blob, b.records[0].value.as_ref().unwrap()));
        }
        // Complete: three batches, nothing truncated.
        let mut blob = BytesMut::new();
        for b in [&b1, &b2, &b3] {
            blob.extend_from_slice(b);
        }
        let set = decode_batches(&blob.freeze(), DecodeOptions::new()).unwrap();
        assert_eq!((set.batches.len(), set.truncated_bytes), (3, 0));
        // Empty.
        let set = decode_batches(&Bytes::new(), DecodeOptions::new()).unwrap();
        assert_eq!(set, RecordSet::default());
    }

    #[test]
    fn mixed_legacy_and_v2_blob() {
        let mut blob = legacy(0, 1, 0, Some(5), None, Some(b"old"));
        blob.extend_from_slice(&enc(&RecordBatch {
            base_offset: 1,
            records: vec![rec(0, None, Some(b"new"), vec![])],
            ..RecordBatch::default()
        }));
        let set = decode_batches(&Bytes::from(blob), DecodeOptions::new()).unwrap();
        assert!(
            matches!(&set.batches[0], Batch::Legacy(m) if m[0].value.as_deref() == Some(&b"old"[..]))
        );
        assert!(
            matches!(&set.batches[1], Batch::V2(b) if b.records[0].value.as_deref() == Some(&b"new"[..]))
        );
    }

    #[test]
    fn blob_errors_stop_the_iterator_with_absolute_offsets() {
        let b1 = enc(&sample());
        let tail_cases: [(&[u8], usize, DecodeErrorKind); 2] = [
            // batchLength 13 is below the smallest entry
            (
                &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 13],
                8,
                DecodeErrorKind::InvalidLength(13),
            ),
            // magic 7
            (
                &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 0, 7],
                16,
                DecodeErrorKind::UnsupportedRecordFormat,
            ),
        ];
        for (tail, at, k) in tail_cases {
            let mut blob = b1.to_vec();
            blob.extend_from_slice(tail);
            let mut it = BatchIter::new(&Bytes::from(blob), DecodeOptions::new());
            assert!(matches!(it.next(), Some(Ok(Batch::V2(_)))));
            let e = it.next().unwrap().unwrap_err();
            assert_eq!((e.kind, e.offset), (k, b1.len() + at));
            assert!(it.next().is_none());
            assert!(!it.is_truncated());
        }
        // A CRC error in the second batch is reported at its crc field.
        let mut blob = b1.to_vec();
        let mut b2 = b1.to_vec();
        *b2.last_mut().unwrap() ^= 1;
        blob.extend_from_slice(&b2);
        let e = decode_batches(&Bytes::from(blob), DecodeOptions::new()).unwrap_err();
        assert_eq!(
            (e.kind, e.offset),
            (DecodeErrorKind::CrcMismatch, b1.len() + 17)
        );
    }

    // -- golden captures -----------------------------------------------------------------------

    /// Finds every magic-2 batch in the captured Produce requests and Fetch responses by trying
    /// each offset (the CRC rejects false starts), and checks decode → encode is byte-identical.
    #[cfg(feature = "std")]
    #[test]
    fn golden_captures() {
        extern crate std;
        use std::{fs, path::Path};

        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/captures");
        let Ok(scenarios) = fs::read_dir(&root) else {
            return;
        };
        let mut total_batches = 0;
        let mut total_records = 0;
        for scenario in scenarios {
            let scenario = scenario.unwrap().path();
            if !scenario.is_dir() {
                continue;
            }
            let mut batches = 0;
            // Scenarios that carry Produce (0) or Fetch (1) requests must yield batches; the
            // assignor captures keep only group-coordinator connections and have none.
            let mut data_apis = false;
            let mut files: Vec<_> = fs::read_dir(&scenario)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            for file in files {
                let data = fs::read(&file).unwrap();
                let requests = file.to_string_lossy().ends_with(".c2s.bin");
                let mut rest = &data[..];
                while let Some((len, tail)) = rest.split_first_chunk::<4>() {
                    let len = u32::from_be_bytes(*len) as usize;
                    let frame = Bytes::copy_from_slice(&tail[..len]);
                    rest = &tail[len..];
                    if requests && frame.len() >= 2 && frame[0] == 0 && frame[1] <= 1 {
                        data_apis = true;
                    }
                    let mut o = 0;
                    while o + RecordBatch::HEADER_SIZE <= frame.len() {
                        if frame[o + 16] != 2 {
                            o += 1;
                            continue;
                        }
                        let Ok((batch, used)) = RecordBatch::decode(&frame.slice(o..)) else {
                            o += 1;
                            continue;
                        };
                        let again = enc(&batch);
                        if batch.attributes.compression() == Some(Compression::None) {
                            assert_eq!(&again[..], &frame[o..o + used], "{}", file.display());
                        } else {
                            assert_eq!(RecordBatch::decode(&again).unwrap().0, batch);
                        }
                        for r in &batch.records {
                            let key = r.key.as_deref().unwrap_or_default();
                            let value = r.value.as_deref().unwrap_or_default();
                            if key.starts_with(b"k") && key.len() == 3 {
                                assert!(
                                    value.starts_with(b"capture message "),
                                    "{}",
                                    file.display()
                                );
                                assert_eq!(value.len(), 45);
                            }
                        }
                        batches += 1;
                        total_records += batch.records.len();
                        o += used;
                    }
                }
            }
            assert!(
                batches > 0 || !data_apis,
                "no record batch in {}",
                scenario.display()
            );
            total_batches += batches;
        }
        // Each scenario produced 20 records and fetched them back.
        assert!(total_batches > 0);
        assert!(
            total_records >= 40,
            "{total_records} records in {total_batches} batches"
        );
    }
}
