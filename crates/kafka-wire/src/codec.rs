//! Sans-IO connection codec: correlation ids, the in-flight table, headers, and version
//! negotiation.
//!
//! Kafka response headers carry only a correlation id, not the API or version, so a client must
//! remember what it sent. [`ClientCodec`] (one per connection) does that: it assigns correlation
//! ids, writes complete size-prefixed frames in one pass, and decodes each response frame at the
//! header and body versions of the request it answers.
//!
//! [`NegotiatedVersions`] turns an `ApiVersions` response into the version to use for every API;
//! [`negotiate`] also covers the KIP-511 `UNSUPPORTED_VERSION` retry.
//!
//! [`decode_request`] and [`encode_response`] are the server-side mirror, for test brokers,
//! model coordinators and proxies.
//!
//! Every encoder has a vectored twin ([`ClientCodec::encode_request_vectored`],
//! [`ClientCodec::encode_any_vectored`], [`encode_response_vectored`]) that writes into a
//! [`Vectored`] output: the same bytes, but record batches and other large `bytes` fields stay
//! the `Bytes` the message holds, ready for `writev`, so a Produce request's or a Fetch
//! response's records are never copied.
//!
//! # Run loop (client)
//!
//! 1. `codec.encode_request(&req, version, &mut out)` and write `out` to the socket;
//! 2. read into a `BytesMut`, take frames with [`frame::split`];
//! 3. `codec.decode_response(frame)` yields the correlation id, API, version and body.
//!
//! Start every connection with `ApiVersions` at the highest version we know
//! (`ApiKey::ApiVersions.versions().max`), feed the response to [`negotiate`], and retry at the
//! version it returns if the broker answered `UNSUPPORTED_VERSION`.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::frame::{self, PREFIX_LEN};
use crate::generated::api_versions_response::ApiVersionsResponse;
use crate::generated::{AnyRequest, AnyResponse, ApiKey};
use crate::header::{RequestHeader, ResponseHeader};
use crate::message::{Decode, Request, VersionRange};
use crate::vectored::{Mark, Vectored};

/// Kafka error code `UNSUPPORTED_VERSION`.
const UNSUPPORTED_VERSION: i16 = crate::error_code::ErrorCode::UNSUPPORTED_VERSION.0;

/// Whether an `ApiVersions` response body starts with error 35 (`UNSUPPORTED_VERSION`): the
/// error code is the first int16 of every version, and a broker that did not understand our
/// version answers in v0 (KIP-511). Such a body must be read as v0, not at the version we sent.
#[must_use]
pub fn is_unsupported_version_reply(body: &[u8]) -> bool {
    body.get(..2)
        .is_some_and(|b| i16::from_be_bytes([b[0], b[1]]) == UNSUPPORTED_VERSION)
}

/// A request's correlation id: echoed by the broker in the response header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CorrelationId(pub i32);

impl From<i32> for CorrelationId {
    fn from(id: i32) -> Self {
        Self(id)
    }
}

impl From<CorrelationId> for i32 {
    fn from(id: CorrelationId) -> Self {
        id.0
    }
}

/// What the codec remembers about a request awaiting its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InFlight {
    key: ApiKey,
    version: i16,
}

/// Client side of one connection: frames requests and matches responses to them.
///
/// Method families:
/// - getters: [`client_id`](Self::client_id), [`in_flight_len`](Self::in_flight_len),
///   [`in_flight`](Self::in_flight);
/// - output: [`encode_request`](Self::encode_request), [`encode_any`](Self::encode_any) append
///   one complete frame (size prefix, header, body) to the caller's buffer and record the
///   request as in flight; [`encode_request_vectored`](Self::encode_request_vectored) and
///   [`encode_any_vectored`](Self::encode_any_vectored) do the same into a [`Vectored`]
///   output, without copying record batches;
/// - input: [`decode_response`](Self::decode_response) takes one frame body (as returned by
///   [`frame::split`]) and removes its request from the in-flight table;
/// - [`forget`](Self::forget) drops a request that will never be answered (Produce with
///   `acks = 0`, or a request the caller gave up on).
///
/// Correlation ids start at 0 and increase by one per request, wrapping from `i32::MAX` to 0 and
/// skipping ids still in flight. The codec is per connection: negotiated versions and
/// correlation ids mean nothing on another connection.
#[derive(Debug, Clone, Default)]
pub struct ClientCodec {
    client_id: Option<ByteString>,
    next_id: i32,
    in_flight: BTreeMap<i32, InFlight>,
}

impl ClientCodec {
    /// Creates a codec that sends `client_id` in every request header (v1+).
    #[must_use]
    pub const fn new(client_id: Option<ByteString>) -> Self {
        Self {
            client_id,
            next_id: 0,
            in_flight: BTreeMap::new(),
        }
    }

    /// The client id sent in request headers.
    #[must_use]
    pub const fn client_id(&self) -> Option<&ByteString> {
        self.client_id.as_ref()
    }

    /// Number of requests awaiting a response.
    #[must_use]
    pub fn in_flight_len(&self) -> usize {
        self.in_flight.len()
    }

    /// The API and version of the in-flight request `id`, if any.
    #[must_use]
    pub fn in_flight(&self, id: CorrelationId) -> Option<(ApiKey, i16)> {
        self.in_flight.get(&id.0).map(|f| (f.key, f.version))
    }

    /// Stops waiting for the response to `id` and frees the id; returns what it was.
    ///
    /// Call it right after sending a request that gets no response (Produce with `acks = 0`):
    /// the codec cannot tell from the generic request type. A late response to a forgotten id
    /// fails with [`DecodeErrorKind::UnknownCorrelationId`].
    pub fn forget(&mut self, id: CorrelationId) -> Option<(ApiKey, i16)> {
        self.in_flight.remove(&id.0).map(|f| (f.key, f.version))
    }

    /// Appends `req` as one frame (size prefix, request header, body) at `version`.
    ///
    /// The header version follows from the API and version
    /// ([`ApiKey::request_header_version`]); the size is computed up front with the exact
    /// `encoded_len`, so the frame is written in one pass.
    ///
    /// # Errors
    /// Any [`EncodeError`] of the header or body (e.g. a version the message lacks, or a field
    /// set that the version does not have). On error nothing is appended, no id is consumed and
    /// nothing is recorded as in flight.
    pub fn encode_request<R: Request>(
        &mut self,
        req: &R,
        version: i16,
        out: &mut BytesMut,
    ) -> Result<CorrelationId, EncodeError> {
        let key = request_key::<R>(version)?;
        let body_len = req.encoded_len(version)?;
        self.write_request(key, version, body_len, out, |out| req.encode(version, out))
    }

    /// Like [`encode_request`](Self::encode_request), for a request held as an [`AnyRequest`].
    ///
    /// # Errors
    /// As [`encode_request`](Self::encode_request).
    pub fn encode_any(
        &mut self,
        req: &AnyRequest,
        version: i16,
        out: &mut BytesMut,
    ) -> Result<CorrelationId, EncodeError> {
        let body_len = req.encoded_len(version)?;
        self.write_request(req.api_key(), version, body_len, out, |out| {
            req.encode(version, out)
        })
    }

    /// Like [`encode_request`](Self::encode_request), into a [`Vectored`] output: `bytes` and
    /// `records` fields of at least the output's threshold (a Produce request's record batches)
    /// are referenced as the `Bytes` the request holds, not copied; the size prefix, header
    /// and the rest of the body are copied. The concatenated chunks are the same bytes
    /// `encode_request` writes.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use kafka_wire::codec::ClientCodec;
    /// use kafka_wire::generated::produce_request::{PartitionProduceData, TopicProduceData};
    /// use kafka_wire::generated::ProduceRequest;
    /// use kafka_wire::Vectored;
    ///
    /// let batch = Bytes::from(vec![0u8; 16 * 1024]); // an encoded record batch
    /// let req = ProduceRequest {
    ///     acks: -1,
    ///     timeout_ms: 30_000,
    ///     topic_data: vec![TopicProduceData {
    ///         name: "events".into(),
    ///         partition_data: vec![PartitionProduceData {
    ///             index: 0,
    ///             records: Some(batch.clone()),
    ///             ..Default::default()
    ///         }],
    ///         ..Default::default()
    ///     }],
    ///     ..Default::default()
    /// };
    /// let mut codec = ClientCodec::new(Some("app".into()));
    /// let mut out = Vectored::new();
    /// codec.encode_request_vectored(&req, 9, &mut out)?;
    /// let chunks = out.take_chunks(); // hand these to `write_vectored`
    /// assert!(chunks.iter().any(|c| c.as_ptr() == batch.as_ptr()));
    /// # Ok::<(), kafka_wire::EncodeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`encode_request`](Self::encode_request); on error the output holds the same bytes
    /// as before the call (possibly split into chunks differently).
    pub fn encode_request_vectored<R: Request>(
        &mut self,
        req: &R,
        version: i16,
        out: &mut Vectored,
    ) -> Result<CorrelationId, EncodeError> {
        let key = request_key::<R>(version)?;
        let body_len = req.encoded_len(version)?;
        self.write_request(key, version, body_len, out, |out| {
            req.encode_vectored(version, out)
        })
    }

    /// Like [`encode_any`](Self::encode_any), into a [`Vectored`] output (see
    /// [`encode_request_vectored`](Self::encode_request_vectored)).
    ///
    /// # Errors
    /// As [`encode_request_vectored`](Self::encode_request_vectored).
    pub fn encode_any_vectored(
        &mut self,
        req: &AnyRequest,
        version: i16,
        out: &mut Vectored,
    ) -> Result<CorrelationId, EncodeError> {
        let body_len = req.encoded_len(version)?;
        self.write_request(req.api_key(), version, body_len, out, |out| {
            req.encode_vectored(version, out)
        })
    }

    /// The next id not in flight, starting at `next_id`.
    fn free_id(&self) -> Option<i32> {
        // Ids are 0..=i32::MAX; if every one of them is in flight there is none left.
        if self.in_flight.len() > MAX_ID_INDEX {
            return None;
        }
        let mut id = self.next_id;
        while self.in_flight.contains_key(&id) {
            id = next_id(id);
        }
        Some(id)
    }

    fn write_request<O: FrameOut>(
        &mut self,
        key: ApiKey,
        version: i16,
        body_len: usize,
        out: &mut O,
        body: impl FnOnce(&mut O) -> Result<(), EncodeError>,
    ) -> Result<CorrelationId, EncodeError> {
        let id = self.free_id().ok_or(EncodeError::TooLong {
            field: "CorrelationId",
        })?;
        let header = RequestHeader {
            api_key: key.as_i16(),
            api_version: version,
            correlation_id: id,
            client_id: self.client_id.clone(),
            unknown_tagged_fields: crate::types::TaggedFields::new(),
        };
        let hv = key.request_header_version(version);
        let header_len = header.encoded_len(hv)?;
        write_framed(out, header_len, body_len, |out| {
            header.encode(hv, out.copied())?;
            body(out)
        })?;
        self.in_flight.insert(id, InFlight { key, version });
        self.next_id = next_id(id);
        Ok(CorrelationId(id))
    }

    /// Decodes one response frame (the bytes after the size prefix).
    ///
    /// Reads the correlation id, looks up the request it answers, decodes the response header at
    /// that API's header version (always v0 for `ApiVersions`) and the body at the request's
    /// version. The request leaves the in-flight table as soon as its id is matched, even if the
    /// rest of the frame then fails to decode: its response has arrived. The returned version is
    /// the one the request was sent at.
    ///
    /// **`ApiVersions` and KIP-511.** A broker that does not support the requested
    /// `ApiVersions` version does not parse the request; it answers with a v0 body carrying
    /// error 35 (`UNSUPPORTED_VERSION`) and, since Kafka 2.4, only its own `ApiVersions` range.
    /// So when the body's first int16 (the error code, first in every version) is 35, the body
    /// is decoded as v0 (then at the requested version). If neither works, as with the
    /// librdkafka mock brokers' malformed reply to v3+ (a one-byte array count and no tagged
    /// fields), the result is still `Ok`: an [`ApiVersionsResponse`] with `error_code` 35 and
    /// empty `api_keys` (nothing in the list can be trusted), so [`negotiate`] and
    /// [`retry_api_versions_version`] answer "retry with v0", as librdkafka does. See
    /// [`decode_api_versions_response`].
    ///
    /// **Trailing bytes** after a complete response body are ignored, as the Java client and
    /// librdkafka do; strict callers can use [`AnyResponse::decode`] on the body themselves.
    ///
    /// # Errors
    /// [`DecodeErrorKind::UnknownCorrelationId`] if no request with that id is in flight
    /// (nothing changes then), `UnexpectedEnd` for a frame shorter than 4 bytes, and any error
    /// of the header or body. Offsets count from the start of `frame`.
    pub fn decode_response(
        &mut self,
        frame: Bytes,
    ) -> Result<(CorrelationId, ApiKey, i16, AnyResponse), DecodeError> {
        let Some(corr) = frame.get(..4) else {
            return Err(DecodeError {
                offset: frame.len(),
                field: "CorrelationId",
                kind: DecodeErrorKind::UnexpectedEnd,
            });
        };
        let id = i32::from_be_bytes([corr[0], corr[1], corr[2], corr[3]]);
        let InFlight { key, version } = self.in_flight.remove(&id).ok_or(DecodeError {
            offset: 0,
            field: "CorrelationId",
            kind: DecodeErrorKind::UnknownCorrelationId(id),
        })?;
        let (_, header_len) = ResponseHeader::decode(&frame, key.response_header_version(version))?;
        let body = frame.slice(header_len..);
        let resp = if key == ApiKey::ApiVersions {
            decode_api_versions_response(&body, version).map(AnyResponse::ApiVersions)
        } else {
            // Trailing bytes after a complete response are ignored, as Java and librdkafka do
            // (librdkafka 2.16's mock broker appends one byte to Metadata v13 responses).
            AnyResponse::decode_prefix(key, version, &body).map(|(r, _)| r)
        }
        .map_err(|e| e.shifted(header_len))?;
        Ok((CorrelationId(id), key, version, resp))
    }
}

/// Highest correlation id index: ids run over `0..=i32::MAX`.
// Lossless: i32::MAX is positive and usize has at least 32 bits on supported targets.
const MAX_ID_INDEX: usize = i32::MAX as usize;

/// The id after `id`, wrapping from `i32::MAX` to 0 (ids stay non-negative).
const fn next_id(id: i32) -> i32 {
    if id == i32::MAX { 0 } else { id + 1 }
}

/// The [`ApiKey`] of request type `R` (an error naming `version` if the key is unknown).
fn request_key<R: Request>(version: i16) -> Result<ApiKey, EncodeError> {
    ApiKey::from_i16(R::API_KEY).ok_or(EncodeError::UnsupportedVersion {
        name: R::NAME,
        version,
    })
}

/// A frame output: a contiguous [`BytesMut`] or a [`Vectored`] list of chunks.
trait FrameOut {
    /// A position to roll back to.
    type Mark: Copy;
    fn mark(&self) -> Self::Mark;
    /// Drops everything written since `mark`.
    fn rollback(&mut self, mark: Self::Mark);
    /// Total bytes written since `mark`.
    fn written_since(&self, mark: Self::Mark) -> usize;
    /// Where the size prefix and header go (copied bytes).
    fn copied(&mut self) -> &mut BytesMut;
    /// Makes room for a frame of `size` bytes after its prefix.
    fn reserve_frame(&mut self, size: usize);
}

impl FrameOut for BytesMut {
    type Mark = usize;
    fn mark(&self) -> usize {
        self.len()
    }
    fn rollback(&mut self, mark: usize) {
        self.truncate(mark);
    }
    fn written_since(&self, mark: usize) -> usize {
        self.len() - mark
    }
    fn copied(&mut self) -> &mut BytesMut {
        self
    }
    fn reserve_frame(&mut self, size: usize) {
        self.reserve(size);
    }
}

impl FrameOut for Vectored {
    type Mark = (Mark, usize);
    fn mark(&self) -> (Mark, usize) {
        (Vectored::mark(self), self.len())
    }
    fn rollback(&mut self, mark: (Mark, usize)) {
        Vectored::rollback(self, mark.0);
    }
    fn written_since(&self, mark: (Mark, usize)) -> usize {
        self.len() - mark.1
    }
    fn copied(&mut self) -> &mut BytesMut {
        self.head_mut()
    }
    fn reserve_frame(&mut self, size: usize) {
        // Large frames are large because of the fields that are referenced, not copied: only
        // the first 64 KiB are reserved up front, the rest grows as needed.
        self.reserve(size.min(64 * 1024));
    }
}

/// Writes size prefix + `write`'s output into `out`, reserving the exact size first.
/// On error `out` is restored to what it held before.
fn write_framed<O: FrameOut>(
    out: &mut O,
    header_len: usize,
    body_len: usize,
    write: impl FnOnce(&mut O) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let size = header_len
        .checked_add(body_len)
        .ok_or(EncodeError::TooLong { field: "frame" })?;
    let start = out.mark();
    frame::write_prefix(size, out.copied()).map_err(|_| EncodeError::TooLong { field: "frame" })?;
    out.reserve_frame(size);
    if let Err(e) = write(out) {
        out.rollback(start);
        return Err(e);
    }
    debug_assert_eq!(
        out.written_since(start),
        PREFIX_LEN + size,
        "encoded_len disagrees with encode"
    );
    Ok(())
}

/// Decodes an `ApiVersions` response body sent in answer to a request of `version`, with the
/// KIP-511 fallback.
///
/// - If the first int16 (the error code) is not 35 (`UNSUPPORTED_VERSION`), this is a plain
///   decode at `version`.
/// - If it is 35, the broker did not understand our version and answered in v0: decode as v0,
///   then at `version`; if both fail (the librdkafka mocks' malformed 13-byte body
///   `0023 01 0012 0000 0002 00000000`), return `error_code` 35 with empty `api_keys` and
///   defaults elsewhere. The caller then retries with v0 (see [`negotiate`]).
///
/// # Errors
/// Decode errors for bodies whose error code is not 35; a body with error 35 never fails.
pub fn decode_api_versions_response(
    body: &Bytes,
    version: i16,
) -> Result<ApiVersionsResponse, DecodeError> {
    if !is_unsupported_version_reply(body) {
        return ApiVersionsResponse::decode(body, version);
    }
    if let Ok(r) = ApiVersionsResponse::decode(body, 0) {
        return Ok(r);
    }
    if version != 0 {
        if let Ok(r) = ApiVersionsResponse::decode(body, version) {
            return Ok(r);
        }
    }
    Ok(ApiVersionsResponse {
        error_code: UNSUPPORTED_VERSION,
        ..ApiVersionsResponse::default()
    })
}

/// The `ApiVersions` version to retry with after an `UNSUPPORTED_VERSION` answer.
///
/// That is the highest version both we and the broker support according to the broker's
/// `ApiVersions` entry (key 18), or 0 if it listed none (brokers before 2.4, or the malformed
/// mock reply) or the ranges do not meet.
#[must_use]
pub fn retry_api_versions_version(resp: &ApiVersionsResponse) -> i16 {
    let ours = ApiKey::ApiVersions.versions();
    resp.api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::ApiVersions.as_i16())
        .and_then(|k| ours.highest_common(&VersionRange::new(k.min_version, k.max_version)))
        .unwrap_or(0)
}

/// Options for version negotiation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NegotiationOptions {
    /// Also pick versions the specs mark unstable ([`ApiKey::unstable_versions`]). Off by
    /// default: brokers advertise them only with `unstable.api.versions.enable`.
    pub allow_unstable: bool,
}

impl NegotiationOptions {
    /// Sets [`allow_unstable`](Self::allow_unstable).
    #[must_use]
    pub const fn allow_unstable(mut self, allow: bool) -> Self {
        self.allow_unstable = allow;
        self
    }
}

/// The version to use for each API on one connection, from the broker's `ApiVersions` answer.
///
/// For every key the broker lists and this library knows, the chosen version is the highest one
/// in both the broker's `[min, max]` and ours ([`ApiKey::versions`]), skipping our unstable
/// versions unless [`NegotiationOptions::allow_unstable`] is set. Keys we do not know are
/// ignored, disjoint ranges give no version, and the broker's list may be in any order (Tansu's
/// is unsorted); if a key is listed twice, the first entry counts.
///
/// Cloning is cheap (a reference count): every group member of a process keeps the versions of
/// its coordinator, and a real broker lists some seventy APIs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NegotiatedVersions(Arc<Ranges>);

#[derive(Debug, Default, PartialEq, Eq)]
struct Ranges {
    /// The broker's ranges, sorted by key.
    broker: Vec<(i16, VersionRange)>,
    /// The chosen versions, sorted by key.
    chosen: Vec<(ApiKey, i16)>,
}

impl NegotiatedVersions {
    /// Negotiates from a response with default options (stable versions only).
    ///
    /// Uses `api_keys` whatever `error_code` says; check the error first, or use [`negotiate`].
    #[must_use]
    pub fn new(resp: &ApiVersionsResponse) -> Self {
        Self::with_options(resp, NegotiationOptions::default())
    }

    /// Negotiates from a response with explicit options.
    #[must_use]
    pub fn with_options(resp: &ApiVersionsResponse, options: NegotiationOptions) -> Self {
        Self::from_ranges(
            resp.api_keys
                .iter()
                .map(|k| (k.api_key, VersionRange::new(k.min_version, k.max_version))),
            options,
        )
    }

    /// Negotiates from `(api key, broker range)` pairs in any order.
    #[must_use]
    pub fn from_ranges<I: IntoIterator<Item = (i16, VersionRange)>>(
        ranges: I,
        options: NegotiationOptions,
    ) -> Self {
        let mut broker: Vec<(i16, VersionRange)> = ranges.into_iter().collect();
        // Stable, so the first of repeated keys stays first and `dedup` keeps it.
        broker.sort_by_key(|&(k, _)| k);
        broker.dedup_by_key(|&mut (k, _)| k);
        broker.shrink_to_fit();
        let mut chosen: Vec<(ApiKey, i16)> = broker
            .iter()
            .filter_map(|&(k, range)| {
                let key = ApiKey::from_i16(k)?;
                pick(key, &range, options.allow_unstable).map(|v| (key, v))
            })
            .collect();
        chosen.sort_by_key(|&(k, _)| k);
        chosen.shrink_to_fit();
        Self(Arc::new(Ranges { broker, chosen }))
    }

    /// The version to use for `key`, or `None` if the broker does not offer a version we support.
    #[must_use]
    pub fn version(&self, key: ApiKey) -> Option<i16> {
        let c = &self.0.chosen;
        c.binary_search_by_key(&key, |&(k, _)| k)
            .ok()
            .map(|i| c[i].1)
    }

    /// The range the broker advertised for `key`, if it listed it.
    #[must_use]
    pub fn broker_range(&self, key: ApiKey) -> Option<VersionRange> {
        let b = &self.0.broker;
        b.binary_search_by_key(&key.as_i16(), |&(k, _)| k)
            .ok()
            .map(|i| b[i].1)
    }

    /// Every usable API with its chosen version, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (ApiKey, i16)> + '_ {
        self.0.chosen.iter().copied()
    }

    /// Number of usable APIs.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.chosen.len()
    }

    /// Whether no API is usable.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.chosen.is_empty()
    }
}

/// Highest version of `key` in both ranges, skipping unstable ones unless allowed.
fn pick(key: ApiKey, broker: &VersionRange, allow_unstable: bool) -> Option<i16> {
    let ours = key.versions();
    let hi = ours.highest_common(broker)?;
    let lo = ours.min.max(broker.min);
    (lo..=hi)
        .rev()
        .find(|v| allow_unstable || !key.unstable_versions().contains(v))
}

/// What to do after an `ApiVersions` response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiVersionsOutcome {
    /// Success: the versions to use on this connection.
    Negotiated(NegotiatedVersions),
    /// The broker does not support the version we sent (error 35): send `ApiVersions` again at
    /// `version`, which is always lower than the one just sent.
    Retry {
        /// The `ApiVersions` version to use next.
        version: i16,
    },
    /// Any other error, or error 35 for a v0 request: give up on this connection.
    Failed {
        /// The broker's error code.
        error_code: i16,
    },
}

/// Interprets an `ApiVersions` response to a request sent at `requested_version`.
///
/// Error 0 negotiates ([`NegotiatedVersions::with_options`]). Error 35 (`UNSUPPORTED_VERSION`)
/// on a request above v0 asks for a retry at [`retry_api_versions_version`], capped below
/// `requested_version` so retries always terminate. Anything else fails.
#[must_use]
pub fn negotiate(
    resp: &ApiVersionsResponse,
    requested_version: i16,
    options: NegotiationOptions,
) -> ApiVersionsOutcome {
    match resp.error_code {
        0 => ApiVersionsOutcome::Negotiated(NegotiatedVersions::with_options(resp, options)),
        UNSUPPORTED_VERSION if requested_version > 0 => ApiVersionsOutcome::Retry {
            version: retry_api_versions_version(resp).min(requested_version - 1),
        },
        error_code => ApiVersionsOutcome::Failed { error_code },
    }
}

/// Server side: decodes one request frame (the bytes after the size prefix).
///
/// The header version comes from the API key and version in the first four bytes. To answer a
/// request whose version is unsupported (for `ApiVersions`, KIP-511 says to reply in v0 with
/// error 35), decode just the header with [`RequestHeader::decode_auto`] when this fails.
///
/// # Errors
/// `UnknownApiKey`, `UnsupportedVersion`, or any header or body error; offsets count from the
/// start of `frame`.
pub fn decode_request(frame: &Bytes) -> Result<(RequestHeader, AnyRequest), DecodeError> {
    let (header, header_len) = RequestHeader::decode_auto(frame)?;
    let key = ApiKey::from_i16(header.api_key).ok_or(DecodeError {
        offset: 0,
        field: "RequestApiKey",
        kind: DecodeErrorKind::UnknownApiKey(header.api_key),
    })?;
    let body = frame.slice(header_len..);
    let req =
        AnyRequest::decode(key, header.api_version, &body).map_err(|e| e.shifted(header_len))?;
    Ok((header, req))
}

/// Server side: appends `resp` as one frame (size prefix, response header, body) at `version`.
///
/// The response header version follows from the API and version
/// ([`ApiKey::response_header_version`]; v0 for `ApiVersions`).
///
/// # Errors
/// Any [`EncodeError`] of the body; nothing is appended then.
pub fn encode_response(
    correlation_id: CorrelationId,
    version: i16,
    resp: &AnyResponse,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    write_response(correlation_id, version, resp, out, |out| {
        resp.encode(version, out)
    })
}

/// Server side: like [`encode_response`], into a [`Vectored`] output, so a Fetch response's
/// record sets (and other `bytes`/`records` fields of at least the output's threshold) are
/// referenced as the `Bytes` the response holds instead of being copied. The concatenated
/// chunks are the bytes `encode_response` writes.
///
/// # Errors
/// As [`encode_response`]; on error the output holds the same bytes as before the call.
pub fn encode_response_vectored(
    correlation_id: CorrelationId,
    version: i16,
    resp: &AnyResponse,
    out: &mut Vectored,
) -> Result<(), EncodeError> {
    write_response(correlation_id, version, resp, out, |out| {
        resp.encode_vectored(version, out)
    })
}

/// The frame of `resp` (response header at the version its API uses, then `body`'s output).
fn write_response<O: FrameOut>(
    correlation_id: CorrelationId,
    version: i16,
    resp: &AnyResponse,
    out: &mut O,
    body: impl FnOnce(&mut O) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let hv = resp.api_key().response_header_version(version);
    let header = ResponseHeader {
        correlation_id: correlation_id.0,
        unknown_tagged_fields: crate::types::TaggedFields::new(),
    };
    let header_len = header.encoded_len(hv)?;
    let body_len = resp.encoded_len(version)?;
    write_framed(out, header_len, body_len, |out| {
        header.encode(hv, out.copied())?;
        body(out)
    })
}

#[cfg(test)]
mod tests {
    use alloc::vec;
    use alloc::vec::Vec;

    use super::*;
    use crate::generated::api_versions_response::ApiVersion;
    use crate::generated::{
        ApiVersionsRequest, FindCoordinatorRequest, HeartbeatRequest, HeartbeatResponse,
    };

    fn heartbeat() -> HeartbeatRequest {
        HeartbeatRequest {
            group_id: "group".into(),
            generation_id: 7,
            member_id: "member-1".into(),
            ..HeartbeatRequest::default()
        }
    }

    /// Splits the single frame in `out`, checking the prefix matches the length.
    fn only_frame(out: &mut BytesMut) -> Bytes {
        let f = frame::split(out, frame::DEFAULT_MAX_FRAME)
            .unwrap()
            .expect("a complete frame");
        assert!(out.is_empty(), "exactly one frame expected");
        f
    }

    fn av(key: i16, min: i16, max: i16) -> ApiVersion {
        ApiVersion {
            api_key: key,
            min_version: min,
            max_version: max,
            ..ApiVersion::default()
        }
    }

    /// Builds a response frame body by hand: correlation id then `body`.
    fn raw_frame(corr: i32, body: &[u8]) -> Bytes {
        let mut f = corr.to_be_bytes().to_vec();
        f.extend_from_slice(body);
        Bytes::from(f)
    }

    #[test]
    fn codec_request_round_trips_through_server_helper() {
        for version in 0..=4 {
            let mut codec = ClientCodec::new(Some("client-a".into()));
            let mut out = BytesMut::new();
            let id = codec
                .encode_request(&heartbeat(), version, &mut out)
                .unwrap();
            let size = i32::from_be_bytes(out[..4].try_into().unwrap());
            assert_eq!(size as usize, out.len() - 4, "exact size prefix");
            let frame = only_frame(&mut out);
            let (header, req) = decode_request(&frame).unwrap();
            assert_eq!(header.api_key, 12);
            assert_eq!(header.api_version, version);
            assert_eq!(header.correlation_id, id.0);
            assert_eq!(header.client_id.as_deref(), Some("client-a"));
            assert_eq!(req, AnyRequest::Heartbeat(heartbeat()));
            assert_eq!(codec.in_flight(id), Some((ApiKey::Heartbeat, version)));
        }
    }

    #[test]
    fn codec_encode_any_matches_typed() {
        let req = FindCoordinatorRequest {
            key: "g".into(),
            ..FindCoordinatorRequest::default()
        };
        for version in [0, 2, 3] {
            let mut a = ClientCodec::new(None);
            let mut b = ClientCodec::new(None);
            let (mut x, mut y) = (BytesMut::new(), BytesMut::new());
            a.encode_request(&req, version, &mut x).unwrap();
            b.encode_any(&AnyRequest::FindCoordinator(req.clone()), version, &mut y)
                .unwrap();
            assert_eq!(x, y);
        }
    }

    #[test]
    fn codec_encode_error_leaves_no_trace() {
        let mut codec = ClientCodec::new(None);
        let mut out = BytesMut::from(&b"keep"[..]);
        let bad = codec.encode_request(&heartbeat(), 99, &mut out);
        assert!(matches!(bad, Err(EncodeError::UnsupportedVersion { .. })));
        // group_instance_id is v3+: setting it makes v2 fail.
        let with_instance = HeartbeatRequest {
            group_instance_id: Some("i".into()),
            ..heartbeat()
        };
        assert!(codec.encode_request(&with_instance, 2, &mut out).is_err());
        assert_eq!(&out[..], b"keep");
        assert_eq!(codec.in_flight_len(), 0);
        let id = codec.encode_request(&heartbeat(), 2, &mut out).unwrap();
        assert_eq!(id, CorrelationId(0), "failed encodes consume no id");
    }

    /// Concatenation of a vectored output's chunks.
    fn joined(out: &mut Vectored) -> Vec<u8> {
        out.chunks()
            .iter()
            .flat_map(|c| c.iter().copied())
            .collect()
    }

    fn produce(records: &Bytes) -> crate::generated::ProduceRequest {
        use crate::generated::produce_request::{
            PartitionProduceData, ProduceRequest, TopicProduceData,
        };
        ProduceRequest {
            acks: -1,
            timeout_ms: 30_000,
            topic_data: vec![TopicProduceData {
                name: "t".into(),
                partition_data: vec![PartitionProduceData {
                    index: 3,
                    records: Some(records.clone()),
                    ..PartitionProduceData::default()
                }],
                ..TopicProduceData::default()
            }],
            ..ProduceRequest::default()
        }
    }

    #[test]
    fn codec_vectored_request_matches_contiguous_and_shares_records() {
        let records = Bytes::from(vec![0xAB; 64 * 1024]);
        let req = produce(&records);
        for version in [3, 9, 12] {
            let mut a = ClientCodec::new(Some("c".into()));
            let mut b = ClientCodec::new(Some("c".into()));
            let mut flat = BytesMut::new();
            let mut vec = Vectored::new();
            for _ in 0..2 {
                let x = a.encode_request(&req, version, &mut flat).unwrap();
                let y = b.encode_request_vectored(&req, version, &mut vec).unwrap();
                assert_eq!(x, y);
                assert_eq!(b.in_flight(y), Some((ApiKey::Produce, version)));
            }
            assert_eq!(joined(&mut vec), &flat[..], "v{version}");
            let shared = vec
                .chunks()
                .iter()
                .filter(|c| c.as_ptr() == records.as_ptr())
                .count();
            assert_eq!(shared, 2, "both frames reference the records, v{version}");
            // The frames split back out of the concatenation and decode.
            let mut input = BytesMut::from(&joined(&mut vec)[..]);
            for _ in 0..2 {
                let f = frame::split(&mut input, frame::DEFAULT_MAX_FRAME)
                    .unwrap()
                    .unwrap();
                let (_, back) = decode_request(&f).unwrap();
                assert_eq!(back, AnyRequest::Produce(req.clone()));
            }
            let any = AnyRequest::Produce(req.clone());
            let mut c = ClientCodec::new(Some("c".into()));
            let mut one = Vectored::new();
            c.encode_any_vectored(&any, version, &mut one).unwrap();
            let mut flat_one = BytesMut::new();
            ClientCodec::new(Some("c".into()))
                .encode_any(&any, version, &mut flat_one)
                .unwrap();
            assert_eq!(joined(&mut one), &flat_one[..]);
        }
    }

    #[test]
    fn codec_vectored_encode_error_leaves_no_trace() {
        let records = Bytes::from(vec![1; 8192]);
        let mut codec = ClientCodec::new(None);
        let mut out = Vectored::new();
        codec
            .encode_request(&heartbeat(), 2, &mut BytesMut::new())
            .unwrap();
        codec
            .encode_request_vectored(&produce(&records), 9, &mut out)
            .unwrap();
        let before = joined(&mut out);
        let with_instance = HeartbeatRequest {
            group_instance_id: Some("i".into()),
            ..heartbeat()
        };
        assert!(
            codec
                .encode_request_vectored(&with_instance, 2, &mut out)
                .is_err()
        );
        assert!(
            codec
                .encode_request_vectored(&heartbeat(), 99, &mut out)
                .is_err()
        );
        assert_eq!(joined(&mut out), before);
        assert_eq!(codec.in_flight_len(), 2);
    }

    #[test]
    fn vectored_response_matches_contiguous_and_shares_records() {
        use crate::generated::fetch_response::{
            FetchResponse, FetchableTopicResponse, PartitionData,
        };
        let sets: Vec<Bytes> = (0..3u8).map(|i| Bytes::from(vec![i; 20_000])).collect();
        let resp = AnyResponse::Fetch(FetchResponse {
            responses: vec![FetchableTopicResponse {
                topic: "t".into(),
                partitions: sets
                    .iter()
                    .enumerate()
                    .map(|(i, r)| PartitionData {
                        partition_index: i as i32,
                        records: Some(r.clone()),
                        ..PartitionData::default()
                    })
                    .collect(),
                ..FetchableTopicResponse::default()
            }],
            ..FetchResponse::default()
        });
        for version in [4, 11, 12, 16] {
            let mut flat = BytesMut::new();
            encode_response(CorrelationId(7), version, &resp, &mut flat).unwrap();
            let mut vec = Vectored::new();
            encode_response_vectored(CorrelationId(7), version, &resp, &mut vec).unwrap();
            assert_eq!(joined(&mut vec), &flat[..], "v{version}");
            for r in &sets {
                assert!(vec.chunks().iter().any(|c| c.as_ptr() == r.as_ptr()));
            }
            // Below the threshold everything is copied, same bytes.
            let mut copied = Vectored::with_threshold(1 << 20);
            encode_response_vectored(CorrelationId(7), version, &resp, &mut copied).unwrap();
            assert_eq!(copied.chunks().len(), 1);
            assert_eq!(joined(&mut copied), &flat[..]);
        }
    }

    /// A fake broker: answers every request frame in `input` with a Heartbeat response whose
    /// error code is the request's generation id, in reverse order.
    fn fake_broker(input: &mut BytesMut) -> BytesMut {
        let mut out = BytesMut::new();
        let mut frames = Vec::new();
        while let Some(f) = frame::split(input, 1 << 20).unwrap() {
            frames.push(f);
        }
        for f in frames.iter().rev() {
            let (h, req) = decode_request(f).unwrap();
            let AnyRequest::Heartbeat(hb) = req else {
                panic!("unexpected request {req:?}")
            };
            let resp = AnyResponse::Heartbeat(HeartbeatResponse {
                error_code: hb.generation_id as i16,
                throttle_time_ms: if h.api_version >= 1 { 5 } else { 0 },
                ..HeartbeatResponse::default()
            });
            encode_response(
                CorrelationId(h.correlation_id),
                h.api_version,
                &resp,
                &mut out,
            )
            .unwrap();
        }
        out
    }

    #[test]
    fn codec_fake_broker_round_trip_and_in_flight_cleared() {
        let mut codec = ClientCodec::new(Some("c".into()));
        let mut wire = BytesMut::new();
        let mut sent = Vec::new();
        for (i, version) in [0i16, 1, 3, 4].into_iter().enumerate() {
            let req = HeartbeatRequest {
                generation_id: i as i32 + 10,
                ..heartbeat()
            };
            sent.push((
                codec.encode_request(&req, version, &mut wire).unwrap(),
                version,
            ));
        }
        assert_eq!(codec.in_flight_len(), 4);
        let ids: Vec<i32> = sent.iter().map(|(id, _)| id.0).collect();
        assert_eq!(ids, vec![0, 1, 2, 3]);

        let mut back = fake_broker(&mut wire);
        let mut seen = Vec::new();
        while let Some(f) = frame::split(&mut back, 1 << 20).unwrap() {
            let (id, key, version, resp) = codec.decode_response(f).unwrap();
            assert_eq!(key, ApiKey::Heartbeat);
            let AnyResponse::Heartbeat(hb) = resp else {
                panic!("wrong body")
            };
            assert_eq!(hb.error_code, id.0 as i16 + 10);
            assert_eq!(hb.throttle_time_ms, if version >= 1 { 5 } else { 0 });
            assert_eq!(codec.in_flight(id), None, "entry removed on decode");
            seen.push((id, version));
        }
        seen.reverse();
        assert_eq!(seen, sent);
        assert_eq!(codec.in_flight_len(), 0);
    }

    #[test]
    fn codec_unknown_correlation_id() {
        let mut codec = ClientCodec::new(None);
        let mut out = BytesMut::new();
        let id = codec.encode_request(&heartbeat(), 1, &mut out).unwrap();
        let body = [0u8, 0, 0, 0, 0, 0];
        let err = codec.decode_response(raw_frame(42, &body)).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::UnknownCorrelationId(42));
        assert_eq!(codec.in_flight_len(), 1, "unknown ids change nothing");
        // The real one still decodes; a duplicate of it is then unknown.
        codec.decode_response(raw_frame(id.0, &body)).unwrap();
        let err = codec.decode_response(raw_frame(id.0, &body)).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::UnknownCorrelationId(id.0));
        // Too short to hold a correlation id.
        let err = codec
            .decode_response(Bytes::from_static(&[0, 0]))
            .unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::UnexpectedEnd);
    }

    #[test]
    fn codec_body_error_offsets_include_header_and_clear_entry() {
        let mut codec = ClientCodec::new(None);
        let mut out = BytesMut::new();
        let id = codec.encode_request(&heartbeat(), 1, &mut out).unwrap();
        // Heartbeat v1 body is 6 bytes; give 3.
        let err = codec
            .decode_response(raw_frame(id.0, &[0, 0, 0]))
            .unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::UnexpectedEnd);
        assert!(
            err.offset >= 4,
            "offset counted from the frame start: {err:?}"
        );
        assert_eq!(codec.in_flight_len(), 0);
    }

    #[test]
    fn codec_forget() {
        let mut codec = ClientCodec::new(None);
        let mut out = BytesMut::new();
        let id = codec.encode_request(&heartbeat(), 0, &mut out).unwrap();
        assert_eq!(codec.forget(id), Some((ApiKey::Heartbeat, 0)));
        assert_eq!(codec.forget(id), None);
        let err = codec.decode_response(raw_frame(id.0, &[0, 0])).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::UnknownCorrelationId(id.0));
    }

    #[test]
    fn codec_correlation_ids_wrap_and_skip_in_flight() {
        let mut codec = ClientCodec::new(None);
        let mut out = BytesMut::new();
        let a = codec.encode_request(&heartbeat(), 0, &mut out).unwrap();
        let b = codec.encode_request(&heartbeat(), 0, &mut out).unwrap();
        assert_eq!((a.0, b.0), (0, 1));
        codec.forget(a);
        codec.next_id = i32::MAX - 1;
        let ids: Vec<i32> = (0..4)
            .map(|_| codec.encode_request(&heartbeat(), 0, &mut out).unwrap().0)
            .collect();
        // MAX-1, MAX, wrap to 0 (free again), skip 1 (in flight), 2.
        assert_eq!(ids, vec![i32::MAX - 1, i32::MAX, 0, 2]);
    }

    #[test]
    fn codec_server_rejects_unknown_api_key() {
        let mut f = vec![0x7f, 0x00, 0, 0, 0, 0, 0, 9, 0xff, 0xff];
        f.extend_from_slice(&[1, 2, 3]);
        let err = decode_request(&Bytes::from(f)).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::UnknownApiKey(0x7f00));
    }

    fn api_versions_request(codec: &mut ClientCodec, version: i16) -> CorrelationId {
        let req = ApiVersionsRequest {
            client_software_name: "kafka-wire".into(),
            client_software_version: "0.1".into(),
            ..ApiVersionsRequest::default()
        };
        let mut out = BytesMut::new();
        codec.encode_request(&req, version, &mut out).unwrap()
    }

    fn decoded_api_versions(codec: &mut ClientCodec, frame: Bytes) -> (i16, ApiVersionsResponse) {
        let (_, key, version, resp) = codec.decode_response(frame).unwrap();
        assert_eq!(key, ApiKey::ApiVersions);
        let AnyResponse::ApiVersions(r) = resp else {
            panic!("wrong body")
        };
        (version, r)
    }

    #[test]
    fn codec_kip511_proper_v0_error_body() {
        let mut codec = ClientCodec::new(None);
        let id = api_versions_request(&mut codec, 4);
        // What a 2.4+ broker sends: v0 header, v0 body, error 35, api_keys [18: 0..3].
        let body = [
            0x00, 0x23, // error_code 35
            0x00, 0x00, 0x00, 0x01, // int32 array count
            0x00, 0x12, 0x00, 0x00, 0x00, 0x03, // 18: 0..3
        ];
        let (version, resp) = decoded_api_versions(&mut codec, raw_frame(id.0, &body));
        assert_eq!(version, 4);
        assert_eq!(resp.error_code, 35);
        assert_eq!(resp.api_keys, vec![av(18, 0, 3)]);
        assert_eq!(retry_api_versions_version(&resp), 3);
        assert_eq!(
            negotiate(&resp, 4, NegotiationOptions::default()),
            ApiVersionsOutcome::Retry { version: 3 }
        );
        assert_eq!(codec.in_flight_len(), 0);
    }

    #[test]
    fn codec_kip511_mock_malformed_reply() {
        let mut codec = ClientCodec::new(None);
        let id = api_versions_request(&mut codec, 3);
        // librdkafka mock: corr, 0023, 01, 0012 0000 0002, 00000000 (17 bytes in all).
        let frame = raw_frame(
            id.0,
            &[
                0x00, 0x23, 0x01, 0x00, 0x12, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
            ],
        );
        assert_eq!(frame.len(), 17);
        // Neither v0 nor v3 decodes it strictly.
        let body = frame.slice(4..);
        assert!(ApiVersionsResponse::decode(&body, 0).is_err());
        assert!(ApiVersionsResponse::decode(&body, 3).is_err());
        let (version, resp) = decoded_api_versions(&mut codec, frame);
        assert_eq!(version, 3);
        assert_eq!(resp.error_code, 35, "error 35 ...");
        assert!(resp.api_keys.is_empty());
        assert_eq!(retry_api_versions_version(&resp), 0, "... retry with v0");
        assert_eq!(
            negotiate(&resp, 3, NegotiationOptions::default()),
            ApiVersionsOutcome::Retry { version: 0 }
        );
        // The same answer to a v0 request is final.
        assert_eq!(
            negotiate(&resp, 0, NegotiationOptions::default()),
            ApiVersionsOutcome::Failed { error_code: 35 }
        );
    }

    #[test]
    fn codec_kip511_never_panics_on_short_error_bodies() {
        let full = [
            0x00u8, 0x23, 0x01, 0x00, 0x12, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
        ];
        for n in 0..=full.len() {
            let body = Bytes::copy_from_slice(&full[..n]);
            for v in [0, 1, 3, 4, 9] {
                let r = decode_api_versions_response(&body, v);
                if n >= 2 {
                    assert_eq!(r.unwrap().error_code, 35);
                } else {
                    assert!(r.is_err());
                }
            }
        }
    }

    #[test]
    fn codec_api_versions_v3_tansu_reply() {
        let mut codec = ClientCodec::new(Some("c".into()));
        let id = api_versions_request(&mut codec, 3);
        // v3 body with unsorted keys and Tansu's top-level tagged fields.
        let mut body = vec![0x00, 0x00, 0x05]; // error 0, compact array of 4
        for (k, min, max) in [(18i16, 0i16, 4i16), (3, 0, 12), (11, 0, 9), (0, 0, 11)] {
            body.extend_from_slice(&k.to_be_bytes());
            body.extend_from_slice(&min.to_be_bytes());
            body.extend_from_slice(&max.to_be_bytes());
            body.push(0); // entry tags
        }
        body.extend_from_slice(&[
            0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 0x01, 0x01, 0x08, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01, 0x03, 0x01, 0x00,
        ]);
        let (_, resp) = decoded_api_versions(&mut codec, raw_frame(id.0, &body));
        assert_eq!(resp.error_code, 0);
        assert_eq!(resp.api_keys.len(), 4);
        let ApiVersionsOutcome::Negotiated(n) = negotiate(&resp, 3, NegotiationOptions::default())
        else {
            panic!("expected success")
        };
        assert_eq!(n.version(ApiKey::ApiVersions), Some(4));
        assert_eq!(n.version(ApiKey::Metadata), Some(12));
        assert_eq!(n.version(ApiKey::JoinGroup), Some(9));
        assert_eq!(n.version(ApiKey::Produce), Some(11));
        assert_eq!(n.version(ApiKey::Fetch), None);
        assert_eq!(n.len(), 4);
    }

    #[test]
    fn codec_api_versions_response_round_trips_through_fake_broker() {
        let mut codec = ClientCodec::new(None);
        for version in 0..=4 {
            let id = api_versions_request(&mut codec, version);
            let resp = ApiVersionsResponse {
                api_keys: vec![av(18, 0, 4), av(12, 0, 4)],
                throttle_time_ms: if version >= 1 { 3 } else { 0 },
                ..ApiVersionsResponse::default()
            };
            let mut out = BytesMut::new();
            encode_response(
                id,
                version,
                &AnyResponse::ApiVersions(resp.clone()),
                &mut out,
            )
            .unwrap();
            let (_, got) = decoded_api_versions(&mut codec, only_frame(&mut out));
            assert_eq!(got, resp);
        }
    }

    #[test]
    fn negotiation_picks_highest_common_version() {
        let resp = ApiVersionsResponse {
            api_keys: vec![
                av(12, 0, 9),   // Heartbeat: ours 0..4 -> 4
                av(3, 1, 5),    // Metadata: broker max lower -> 5
                av(11, 20, 30), // JoinGroup: disjoint -> None
                av(9999, 0, 3), // unknown key: ignored
                av(-1, 0, 0),   // nonsense key: ignored
                av(18, 3, 3),   // ApiVersions: single version
                av(1, 5, 2),    // Fetch: inverted range -> None
                av(12, 0, 0),   // duplicate: first entry counts
            ],
            ..ApiVersionsResponse::default()
        };
        let n = NegotiatedVersions::new(&resp);
        assert_eq!(n.version(ApiKey::Heartbeat), Some(4));
        assert_eq!(n.version(ApiKey::Metadata), Some(5));
        assert_eq!(n.version(ApiKey::JoinGroup), None);
        assert_eq!(n.version(ApiKey::ApiVersions), Some(3));
        assert_eq!(n.version(ApiKey::Fetch), None);
        assert_eq!(n.version(ApiKey::Produce), None, "not listed");
        assert_eq!(
            n.broker_range(ApiKey::JoinGroup),
            Some(VersionRange::new(20, 30))
        );
        assert_eq!(
            n.broker_range(ApiKey::Heartbeat),
            Some(VersionRange::new(0, 9))
        );
        let listed: Vec<_> = n.iter().collect();
        assert_eq!(
            listed,
            vec![
                (ApiKey::Metadata, 5),
                (ApiKey::Heartbeat, 4),
                (ApiKey::ApiVersions, 3)
            ]
        );
        // Order of the broker's list does not matter.
        let mut reversed = resp.clone();
        reversed
            .api_keys
            .retain(|k| !(k.api_key == 12 && k.max_version == 0));
        reversed.api_keys.reverse();
        assert_eq!(NegotiatedVersions::new(&reversed), n);
    }

    #[test]
    fn negotiation_skips_unstable_unless_enabled() {
        // InitProducerId v6 and ShareFetch v0 are unstable in the specs.
        let resp = ApiVersionsResponse {
            api_keys: vec![av(22, 0, 6), av(78, 0, 0)],
            ..ApiVersionsResponse::default()
        };
        let stable = NegotiatedVersions::new(&resp);
        assert_eq!(stable.version(ApiKey::InitProducerId), Some(5));
        assert_eq!(stable.version(ApiKey::ShareFetch), None);
        let all = NegotiatedVersions::with_options(
            &resp,
            NegotiationOptions::default().allow_unstable(true),
        );
        assert_eq!(all.version(ApiKey::InitProducerId), Some(6));
        assert_eq!(all.version(ApiKey::ShareFetch), Some(0));
    }

    #[test]
    fn negotiation_outcomes() {
        let ok = ApiVersionsResponse {
            api_keys: vec![av(18, 0, 4)],
            ..ApiVersionsResponse::default()
        };
        assert!(matches!(
            negotiate(&ok, 4, NegotiationOptions::default()),
            ApiVersionsOutcome::Negotiated(n) if n.version(ApiKey::ApiVersions) == Some(4)
        ));
        // A broker that claims to support what we sent still makes us go down.
        let odd = ApiVersionsResponse {
            error_code: 35,
            ..ok.clone()
        };
        assert_eq!(
            negotiate(&odd, 2, NegotiationOptions::default()),
            ApiVersionsOutcome::Retry { version: 1 }
        );
        let other = ApiVersionsResponse {
            error_code: 42,
            ..ok
        };
        assert_eq!(
            negotiate(&other, 3, NegotiationOptions::default()),
            ApiVersionsOutcome::Failed { error_code: 42 }
        );
    }
}
