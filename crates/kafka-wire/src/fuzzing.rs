//! Fuzz entry points (feature `fuzzing`): one function per cargo-fuzz target in `fuzz/`.
//!
//! Every function takes arbitrary bytes. Malformed input must come back as an error from the
//! code under test; a panic here is always a bug, either a panic inside kafka-wire or a broken
//! invariant checked by an assertion below. `tests/corpus.rs` replays the committed corpus
//! through the same functions on stable Rust.
//!
//! | function | input | checks |
//! |---|---|---|
//! | [`decode_request`] | 2 selector bytes + request body; also the whole input as a request frame | prost round trip, header round trip |
//! | [`decode_response`] | 2 selector bytes + response body (or header + body) | prost round trip, `decode_prefix` agrees with `decode` |
//! | [`frame_split`] | max-size byte, chunking bytes, byte stream | every chunking gives the frames and error of a reference model |
//! | [`record_batches`] | a records blob, as given and with its entry CRCs repaired | iterator = `decode_batches` = `RecordBatch::decode`; encode → decode round trip |
//!
//! # Selector
//!
//! [`decode_request`] and [`decode_response`] read the API key and version from the first two
//! bytes ([`select_request`], [`select_response`]):
//!
//! - byte 0 is the API key if it names one; otherwise it indexes [`ApiKey::ALL`] modulo its
//!   length. (The keys are 0..=92 today, so byte `k` < 93 is key `k`.)
//! - byte 1 is the version if it lies in the API's version range; otherwise the version is
//!   `min + byte1 % (max - min + 1)`.
//!
//! So a seed for key `k`, version `v` simply starts with the bytes `[k, v]` ([`selector`]).
//!
//! # Round trip (prost)
//!
//! For a body that decodes to `x`: `encoded_len(v)` must succeed and equal the number of bytes
//! `encode` writes (`e1`); `e1` must decode to a value equal to `x`; encoding that value again
//! must give exactly `e1`. Values are compared with `==`, falling back to their `Debug` text
//! so that a NaN float does not count as a difference.

use alloc::format;
use alloc::vec::Vec;
use core::fmt::Debug;

use bytes::{Bytes, BytesMut};

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::frame::{self, FrameDecoder, FrameError};
use crate::generated::{AnyRequest, AnyResponse, ApiKey};
use crate::header::{RequestHeader, ResponseHeader};
use crate::message::VersionRange;
use crate::records::{Batch, BatchIter, Compression, DecodeOptions, RecordBatch, decode_batches};

/// Number of selector bytes in front of a [`decode_request`] / [`decode_response`] input.
pub const SELECTOR_LEN: usize = 2;

/// Decompression limit used by [`record_batches`]: 1 MiB keeps decompression bombs fast and
/// far below the fuzzer's malloc limit.
pub const MAX_DECOMPRESSED: usize = 1 << 20;

/// Maximum frame sizes [`frame_split`] picks from with its first byte (modulo 8).
pub const FRAME_MAX_TABLE: [usize; 8] =
    [frame::DEFAULT_MAX_FRAME, 0, 1, 7, 64, 300, 4096, usize::MAX];

// ---------------------------------------------------------------------------------------------
// Selector

fn select(b0: u8, b1: u8, versions: fn(ApiKey) -> VersionRange) -> (ApiKey, i16) {
    let key =
        ApiKey::from_i16(i16::from(b0)).unwrap_or(ApiKey::ALL[usize::from(b0) % ApiKey::ALL.len()]);
    let range = versions(key);
    let wanted = i16::from(b1);
    let version = if range.contains(wanted) {
        wanted
    } else {
        // Spans are small positive numbers (at most a few dozen versions).
        let span = i32::from(range.max) - i32::from(range.min) + 1;
        let off = i32::from(b1) % span.max(1);
        i16::try_from(i32::from(range.min) + off).unwrap_or(range.min)
    };
    (key, version)
}

/// The request API key and version that selector bytes `b0`, `b1` pick (see the module docs).
#[must_use]
pub fn select_request(b0: u8, b1: u8) -> (ApiKey, i16) {
    select(b0, b1, AnyRequest::versions)
}

/// The response API key and version that selector bytes `b0`, `b1` pick (see the module docs).
#[must_use]
pub fn select_response(b0: u8, b1: u8) -> (ApiKey, i16) {
    select(b0, b1, AnyResponse::versions)
}

/// The selector bytes for `key` at `version`: `[key, version]`, or `None` if either does not
/// fit a byte. The inverse of [`select_request`] / [`select_response`] for supported versions.
#[must_use]
pub fn selector(key: ApiKey, version: i16) -> Option<[u8; SELECTOR_LEN]> {
    Some([
        u8::try_from(key.as_i16()).ok()?,
        u8::try_from(version).ok()?,
    ])
}

// ---------------------------------------------------------------------------------------------
// Message bodies

/// The common shape of [`AnyRequest`] and [`AnyResponse`].
trait Body: Sized + PartialEq + Debug {
    const KIND: &'static str;
    fn decode(key: ApiKey, v: i16, body: &Bytes) -> Result<Self, DecodeError>;
    fn decode_prefix(key: ApiKey, v: i16, body: &Bytes) -> Result<(Self, usize), DecodeError>;
    fn decode_via_ref(key: ApiKey, v: i16, body: &[u8]) -> Result<Self, DecodeError>;
    fn encoded_len(&self, v: i16) -> Result<usize, EncodeError>;
    fn encode(&self, v: i16, out: &mut Vec<u8>) -> Result<(), EncodeError>;
    fn encode_vectored(&self, v: i16, out: &mut crate::Vectored) -> Result<(), EncodeError>;
}

impl Body for AnyRequest {
    const KIND: &'static str = "request";
    fn decode(key: ApiKey, v: i16, body: &Bytes) -> Result<Self, DecodeError> {
        Self::decode(key, v, body)
    }
    fn decode_prefix(key: ApiKey, v: i16, body: &Bytes) -> Result<(Self, usize), DecodeError> {
        Self::decode_prefix(key, v, body)
    }
    fn decode_via_ref(key: ApiKey, v: i16, body: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_via_ref(key, v, body)
    }
    fn encoded_len(&self, v: i16) -> Result<usize, EncodeError> {
        self.encoded_len(v)
    }
    fn encode(&self, v: i16, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.encode(v, out)
    }
    fn encode_vectored(&self, v: i16, out: &mut crate::Vectored) -> Result<(), EncodeError> {
        self.encode_vectored(v, out)
    }
}

impl Body for AnyResponse {
    const KIND: &'static str = "response";
    fn decode(key: ApiKey, v: i16, body: &Bytes) -> Result<Self, DecodeError> {
        Self::decode(key, v, body)
    }
    fn decode_prefix(key: ApiKey, v: i16, body: &Bytes) -> Result<(Self, usize), DecodeError> {
        Self::decode_prefix(key, v, body)
    }
    fn decode_via_ref(key: ApiKey, v: i16, body: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_via_ref(key, v, body)
    }
    fn encoded_len(&self, v: i16) -> Result<usize, EncodeError> {
        self.encoded_len(v)
    }
    fn encode(&self, v: i16, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.encode(v, out)
    }
    fn encode_vectored(&self, v: i16, out: &mut crate::Vectored) -> Result<(), EncodeError> {
        self.encode_vectored(v, out)
    }
}

/// `==`, or equal `Debug` text (NaN floats compare unequal to themselves).
fn same<T: PartialEq + Debug>(a: &T, b: &T) -> bool {
    a == b || format!("{a:?}") == format!("{b:?}")
}

/// prost's round trip on a decoded value: exact `encoded_len`, decode(encode(x)) == x, and a
/// second encode gives the same bytes. Returns the canonical encoding.
fn round_trip<T: Body>(x: &T, key: ApiKey, v: i16) -> Bytes {
    let kind = T::KIND;
    let len = x
        .encoded_len(v)
        .unwrap_or_else(|e| panic!("{kind} {key:?} v{v}: decoded value has no encoded_len: {e}"));
    let mut e1 = Vec::new();
    x.encode(v, &mut e1)
        .unwrap_or_else(|e| panic!("{kind} {key:?} v{v}: decoded value does not encode: {e}"));
    assert_eq!(
        len,
        e1.len(),
        "{kind} {key:?} v{v}: encoded_len disagrees with the bytes encode wrote"
    );
    let e1 = Bytes::from(e1);
    // The vectored encode writes the same bytes; threshold 1 references every non-empty
    // bytes/records field instead of copying it.
    let mut vec = crate::Vectored::with_threshold(1);
    x.encode_vectored(v, &mut vec)
        .unwrap_or_else(|e| panic!("{kind} {key:?} v{v}: vectored encode failed: {e}"));
    assert_eq!(vec.len(), e1.len(), "{kind} {key:?} v{v}: vectored length");
    let joined: Vec<u8> = vec
        .chunks()
        .iter()
        .flat_map(|c| c.iter().copied())
        .collect();
    assert!(
        joined[..] == e1[..],
        "{kind} {key:?} v{v}: vectored encode differs from encode"
    );
    let y = T::decode(key, v, &e1)
        .unwrap_or_else(|e| panic!("{kind} {key:?} v{v}: re-encoded bytes do not decode: {e}"));
    assert!(
        same(x, &y),
        "{kind} {key:?} v{v}: decode(encode(x)) != x\n x = {x:?}\n y = {y:?}"
    );
    let mut e2 = Vec::with_capacity(e1.len());
    y.encode(v, &mut e2)
        .unwrap_or_else(|e| panic!("{kind} {key:?} v{v}: second encode failed: {e}"));
    assert_eq!(
        &e1[..],
        &e2[..],
        "{kind} {key:?} v{v}: encode(decode(encode(x))) != encode(x)"
    );
    e1
}

/// Decodes `body` as API `key` version `v` and runs the round trip on success. The borrowed
/// view must agree: the same value (after `into_owned`) or the same error.
fn check_body<T: Body>(key: ApiKey, v: i16, body: &Bytes) -> Option<T> {
    let kind = T::KIND;
    let owned = T::decode(key, v, body);
    let via_ref = T::decode_via_ref(key, v, body);
    match (&owned, &via_ref) {
        (Ok(x), Ok(y)) => assert!(
            same(x, y),
            "{kind} {key:?} v{v}: borrowed view != owned decode\n x = {x:?}\n y = {y:?}"
        ),
        (Err(e), Err(f)) => assert_eq!(e, f, "{kind} {key:?} v{v}: borrowed view's error"),
        _ => panic!("{kind} {key:?} v{v}: owned decode {owned:?} but borrowed view {via_ref:?}"),
    }
    let x = owned.ok()?;
    round_trip(&x, key, v);
    Some(x)
}

/// [`check_body`] plus `decode_prefix`: it must agree with `decode` on complete bodies, report
/// the bytes it used, and those bytes alone must decode to the same value.
fn check_body_prefix<T: Body>(key: ApiKey, v: i16, body: &Bytes) {
    let kind = T::KIND;
    let full = check_body::<T>(key, v, body);
    let prefix = T::decode_prefix(key, v, body);
    match (&full, &prefix) {
        (Some(x), Ok((p, used))) => {
            assert_eq!(
                *used,
                body.len(),
                "{kind} {key:?} v{v}: decode_prefix used fewer bytes than decode"
            );
            assert!(same(x, p), "{kind} {key:?} v{v}: decode_prefix != decode");
        }
        (Some(_), Err(e)) => {
            panic!("{kind} {key:?} v{v}: decode succeeded but decode_prefix failed: {e}")
        }
        (None, Ok((p, used))) => {
            assert!(
                *used < body.len(),
                "{kind} {key:?} v{v}: decode_prefix used the whole body but decode failed"
            );
            match T::decode(key, v, body) {
                Err(DecodeError {
                    kind: DecodeErrorKind::TrailingBytes(n),
                    ..
                }) => assert_eq!(
                    n,
                    body.len() - used,
                    "{kind} {key:?} v{v}: TrailingBytes count disagrees with decode_prefix"
                ),
                other => panic!(
                    "{kind} {key:?} v{v}: decode_prefix used {used} of {} bytes, but decode \
                     gave {other:?} instead of TrailingBytes",
                    body.len()
                ),
            }
            let exact = check_body::<T>(key, v, &body.slice(..*used)).unwrap_or_else(|| {
                panic!("{kind} {key:?} v{v}: the {used} bytes decode_prefix used do not decode")
            });
            assert!(
                same(p, &exact),
                "{kind} {key:?} v{v}: decode_prefix value != decode of its bytes"
            );
            round_trip(p, key, v);
        }
        (None, Err(_)) => {}
    }
}

/// Round trip of a request header found at the start of `frame` by
/// [`RequestHeader::decode_auto`]; returns the header and its length.
fn check_request_header(frame: &Bytes) -> Option<(RequestHeader, usize)> {
    let (h, used) = RequestHeader::decode_auto(frame).ok()?;
    assert!(
        used <= frame.len(),
        "request header used more bytes than given"
    );
    let hv = RequestHeader::version_for(h.api_key, h.api_version);
    let len = h
        .encoded_len(hv)
        .unwrap_or_else(|e| panic!("request header v{hv}: no encoded_len: {e}"));
    let mut e1 = Vec::new();
    h.encode(hv, &mut e1)
        .unwrap_or_else(|e| panic!("request header v{hv}: does not encode: {e}"));
    assert_eq!(len, e1.len(), "request header v{hv}: encoded_len mismatch");
    assert!(
        e1.len() <= used,
        "request header v{hv}: canonical encoding longer than the input"
    );
    let e1 = Bytes::from(e1);
    let (h2, used2) = RequestHeader::decode_auto(&e1)
        .unwrap_or_else(|e| panic!("request header v{hv}: re-encoded header does not decode: {e}"));
    assert_eq!(used2, e1.len(), "request header v{hv}: re-decode length");
    assert_eq!(h, h2, "request header v{hv}: decode(encode(h)) != h");
    let mut e2 = Vec::new();
    h2.encode(hv, &mut e2)
        .unwrap_or_else(|e| panic!("request header v{hv}: second encode failed: {e}"));
    assert_eq!(&e1[..], &e2[..], "request header v{hv}: unstable encoding");
    Some((h, used))
}

/// Round trip of a response header of version `hv` at the start of `frame`; returns its length.
fn check_response_header(frame: &Bytes, hv: i16) -> Option<usize> {
    let (h, used) = ResponseHeader::decode(frame, hv).ok()?;
    assert!(
        used <= frame.len(),
        "response header used more bytes than given"
    );
    let len = h
        .encoded_len(hv)
        .unwrap_or_else(|e| panic!("response header v{hv}: no encoded_len: {e}"));
    let mut e1 = Vec::new();
    h.encode(hv, &mut e1)
        .unwrap_or_else(|e| panic!("response header v{hv}: does not encode: {e}"));
    assert_eq!(len, e1.len(), "response header v{hv}: encoded_len mismatch");
    let e1 = Bytes::from(e1);
    let (h2, used2) = ResponseHeader::decode(&e1, hv).unwrap_or_else(|e| {
        panic!("response header v{hv}: re-encoded header does not decode: {e}")
    });
    assert_eq!(used2, e1.len(), "response header v{hv}: re-decode length");
    assert_eq!(h, h2, "response header v{hv}: decode(encode(h)) != h");
    let mut e2 = Vec::new();
    h2.encode(hv, &mut e2)
        .unwrap_or_else(|e| panic!("response header v{hv}: second encode failed: {e}"));
    assert_eq!(&e1[..], &e2[..], "response header v{hv}: unstable encoding");
    Some(used)
}

/// Fuzz target `decode_request`.
///
/// 1. The first [`SELECTOR_LEN`] bytes pick an API key and version ([`select_request`]); the
///    rest is decoded as that request body and, if it decodes, put through the round trip.
/// 2. The whole input is also read as a request frame without its size prefix:
///    [`RequestHeader::decode_auto`] plus a header round trip, then the body after the header
///    is decoded with the key and version the header names (round trip again).
///
/// # Panics
/// Only on a bug: a panic in the decoder or encoder, or a broken round trip.
pub fn decode_request(data: &[u8]) {
    let frame = Bytes::copy_from_slice(data);
    if let [b0, b1, ..] = *data {
        let (key, v) = select_request(b0, b1);
        check_body::<AnyRequest>(key, v, &frame.slice(SELECTOR_LEN..));
    }
    if let Some((h, used)) = check_request_header(&frame) {
        if let Some(key) = ApiKey::from_i16(h.api_key) {
            check_body::<AnyRequest>(key, h.api_version, &frame.slice(used..));
        }
    }
}

/// Fuzz target `decode_response`.
///
/// The first [`SELECTOR_LEN`] bytes pick an API key and version ([`select_response`]). The rest
///
/// 1. is decoded as that response body with `decode` and `decode_prefix` (round trip on
///    success). They must agree: on a complete body both succeed with the same value; if only
///    `decode_prefix` succeeds, `decode` reports exactly the unused bytes as `TrailingBytes`
///    and the used bytes alone decode to the same value;
/// 2. is also read as a response frame without its size prefix: the response header of the
///    version the API needs (round trip), then the body after it as in 1.
///
/// # Panics
/// Only on a bug: a panic in the decoder or encoder, or a broken invariant.
pub fn decode_response(data: &[u8]) {
    let [b0, b1, ..] = *data else {
        return;
    };
    let (key, v) = select_response(b0, b1);
    let rest = Bytes::copy_from_slice(&data[SELECTOR_LEN..]);
    check_body_prefix::<AnyResponse>(key, v, &rest);
    let hv = key.response_header_version(v);
    if let Some(used) = check_response_header(&rest, hv) {
        check_body_prefix::<AnyResponse>(key, v, &rest.slice(used..));
    }
    // The other header version must not panic either.
    check_response_header(&rest, 1 - hv);
}

// ---------------------------------------------------------------------------------------------
// Framing

/// How a stream of frames ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// No error; this many bytes of an incomplete frame are left over.
    Partial(usize),
    /// A bad size prefix at this stream offset.
    Error(FrameError, usize),
}

/// The frames of `stream` and how it ends, read by the simplest possible loop.
fn model_frames(stream: &[u8], max: usize) -> (Vec<&[u8]>, End) {
    let mut frames = Vec::new();
    let mut at = 0;
    loop {
        let Some(p) = stream.get(at..at + 4) else {
            return (frames, End::Partial(stream.len() - at));
        };
        let size = i32::from_be_bytes([p[0], p[1], p[2], p[3]]);
        if size < 0 {
            return (frames, End::Error(FrameError::NegativeSize(size), at));
        }
        // Lossless: size is non-negative and usize has at least 32 bits.
        let len = size as usize;
        if len > max {
            return (
                frames,
                End::Error(FrameError::TooLarge { size: len, max }, at),
            );
        }
        match stream.get(at + 4..at + 4 + len) {
            Some(body) => {
                frames.push(body);
                at += 4 + len;
            }
            None => return (frames, End::Partial(stream.len() - at)),
        }
    }
}

/// Drains `buf` with [`frame::split`], checking [`frame::bytes_needed`] before each call.
/// Returns the error if one was hit; `buf` then holds the bad frame's bytes.
fn drain_split(buf: &mut BytesMut, max: usize, out: &mut Vec<Bytes>) -> Option<FrameError> {
    loop {
        let needed = frame::bytes_needed(buf, max);
        let before = buf.len();
        match frame::split(buf, max) {
            Ok(Some(f)) => {
                assert_eq!(
                    needed,
                    Ok(0),
                    "bytes_needed says incomplete, split returned a frame"
                );
                assert_eq!(
                    before - buf.len(),
                    4 + f.len(),
                    "split consumed the wrong amount"
                );
                assert!(f.len() <= max, "split returned a frame above max");
                out.push(f);
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "split consumed bytes without a frame");
                match needed {
                    Ok(n) => assert!(n > 0, "bytes_needed says complete, split returned None"),
                    Err(e) => panic!("bytes_needed failed with {e:?}, split returned None"),
                }
                return None;
            }
            Err(e) => {
                assert_eq!(
                    needed,
                    Err(e),
                    "bytes_needed and split disagree on the error"
                );
                assert_eq!(buf.len(), before, "split consumed bytes on error");
                // The stream stays broken.
                assert_eq!(
                    frame::split(buf, max),
                    Err(e),
                    "split error is not repeatable"
                );
                return Some(e);
            }
        }
    }
}

/// Drains every available frame from `dec`; returns the sticky error if reached.
fn drain_decoder(dec: &mut FrameDecoder, out: &mut Vec<Bytes>) -> Option<FrameError> {
    loop {
        match dec.next_frame() {
            Ok(Some(f)) => {
                assert!(
                    f.len() <= dec.max(),
                    "FrameDecoder returned a frame above max"
                );
                out.push(f);
            }
            Ok(None) => return None,
            Err(e) => {
                assert_eq!(
                    dec.error(),
                    Some(e),
                    "next_frame error is not the sticky error"
                );
                return Some(e);
            }
        }
    }
}

/// Cuts `stream` into chunks whose sizes cycle through `sizes` (0 = an empty push). All-zero
/// or missing sizes mean one byte at a time.
fn chunks<'a>(stream: &'a [u8], sizes: &[u8]) -> Vec<&'a [u8]> {
    let one = [1u8];
    let sizes = if sizes.iter().any(|&s| s != 0) {
        sizes
    } else {
        &one[..]
    };
    let mut out = Vec::new();
    let mut rest = stream;
    let mut i = 0;
    while !rest.is_empty() {
        let n = usize::from(sizes[i % sizes.len()]).min(rest.len());
        let (now, later) = rest.split_at(n);
        out.push(now);
        rest = later;
        i += 1;
    }
    out
}

/// Checks one reader's frames and ending against the model.
fn expect_model(
    what: &str,
    frames: &[Bytes],
    end: End,
    model: &[&[u8]],
    model_end: End,
    stream_len: usize,
) {
    assert_eq!(
        frames.len(),
        model.len(),
        "{what}: frame count differs from the model"
    );
    for (i, (f, m)) in frames.iter().zip(model).enumerate() {
        assert_eq!(&f[..], *m, "{what}: frame {i} differs from the model");
    }
    assert_eq!(
        end, model_end,
        "{what}: end of stream differs (stream of {stream_len} bytes)"
    );
}

/// Fuzz target `frame_split`.
///
/// Input layout: byte 0 picks the maximum frame size from [`FRAME_MAX_TABLE`] (modulo 8;
/// 0 = [`frame::DEFAULT_MAX_FRAME`]); byte 1 (modulo 32) is the number `k` of chunk-size bytes
/// that follow; the rest is the byte stream. The stream is read by a reference model, by
/// [`frame::split`] on the whole stream, by `split` fed chunk by chunk (sizes cycling through the
/// `k` bytes; 0 = empty read; none = one byte at a time), and by [`FrameDecoder`] fed whole and
/// chunked. All must give the same frames and end the same way (same incomplete tail, or the
/// same [`FrameError`] for the same bad prefix). The frames, written back with
/// [`frame::write_frame`], must reproduce the stream up to where reading stopped.
///
/// # Panics
/// Only on a bug.
pub fn frame_split(data: &[u8]) {
    let [b0, b1, ref rest @ ..] = *data else {
        return;
    };
    let max = FRAME_MAX_TABLE[usize::from(b0) % FRAME_MAX_TABLE.len()];
    let k = (usize::from(b1) % 32).min(rest.len());
    let (sizes, stream) = rest.split_at(k);
    let (model, model_end) = model_frames(stream, max);
    let n = stream.len();

    // The model's frames, written back, give the stream up to where it stopped.
    let mut rewritten = Vec::new();
    for f in &model {
        frame::write_frame(f, &mut rewritten).expect("a frame that was read can be written");
    }
    let stop = match model_end {
        End::Partial(left) => n - left,
        End::Error(_, at) => at,
    };
    assert_eq!(
        &rewritten[..],
        &stream[..stop],
        "write_frame does not reproduce the stream"
    );

    // `split` on the whole stream.
    let mut buf = BytesMut::from(stream);
    let mut frames = Vec::new();
    let end = match drain_split(&mut buf, max, &mut frames) {
        Some(e) => End::Error(e, n - buf.len()),
        None => End::Partial(buf.len()),
    };
    assert_eq!(
        &buf[..],
        &stream[n - buf.len()..],
        "split left the wrong bytes"
    );
    expect_model("split (whole)", &frames, end, &model, model_end, n);

    let pieces = chunks(stream, sizes);

    // `split` fed chunk by chunk; reading stops at the first error.
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut fed = 0;
    let mut err = None;
    for p in &pieces {
        buf.extend_from_slice(p);
        fed += p.len();
        if let Some(e) = drain_split(&mut buf, max, &mut frames) {
            err = Some(e);
            break;
        }
    }
    let end = match err {
        Some(e) => End::Error(e, fed - buf.len()),
        None => End::Partial(buf.len()),
    };
    expect_model("split (chunked)", &frames, end, &model, model_end, n);

    // FrameDecoder, whole and chunked.
    for (what, pieces) in [
        ("FrameDecoder (whole)", Vec::from([stream])),
        ("FrameDecoder (chunked)", pieces),
    ] {
        let mut dec = FrameDecoder::new(max);
        assert_eq!(dec.max(), max);
        let mut frames = Vec::new();
        let mut err = None;
        for p in &pieces {
            match dec.push(p) {
                Ok(()) => {
                    if let Some(e) = drain_decoder(&mut dec, &mut frames) {
                        panic!("{what}: push succeeded but next_frame failed with {e:?}");
                    }
                }
                Err(e) => {
                    assert_eq!(dec.error(), Some(e), "{what}: push error is not sticky");
                    let drained = drain_decoder(&mut dec, &mut frames);
                    assert_eq!(
                        drained,
                        Some(e),
                        "{what}: next_frame did not report the push error"
                    );
                    assert_eq!(
                        dec.buffered(),
                        0,
                        "{what}: bytes of a bad frame stay buffered"
                    );
                    // Sticky: more input is refused and not buffered.
                    assert_eq!(dec.push(&[0, 0, 0, 0]), Err(e), "{what}: error not sticky");
                    assert_eq!(dec.next_frame(), Err(e), "{what}: error not sticky");
                    assert_eq!(dec.buffered(), 0, "{what}: buffered input after the error");
                    err = Some(e);
                    break;
                }
            }
        }
        let end = match err {
            // The decoder drops the bad prefix, so the offset comes from the frames read.
            Some(e) => End::Error(e, frames.iter().map(|f| 4 + f.len()).sum()),
            None => End::Partial(dec.buffered()),
        };
        expect_model(what, &frames, end, &model, model_end, n);
    }
}

// ---------------------------------------------------------------------------------------------
// Record batches

/// Encodes `b`; checks `encoded_len`, decode(encode(b)) == b and a stable second encoding.
fn batch_round_trip(b: &RecordBatch, opts: DecodeOptions, what: &str) -> Vec<u8> {
    let len = b
        .encoded_len()
        .unwrap_or_else(|e| panic!("{what}: decoded batch has no encoded_len: {e}"));
    let mut e1 = Vec::new();
    b.encode(&mut e1)
        .unwrap_or_else(|e| panic!("{what}: decoded batch does not encode: {e}"));
    assert_eq!(len, e1.len(), "{what}: encoded_len disagrees with encode");
    let bytes = Bytes::from(e1);
    let (b2, used) = RecordBatch::decode_with(&bytes, opts)
        .unwrap_or_else(|e| panic!("{what}: re-encoded batch does not decode: {e}"));
    assert_eq!(used, bytes.len(), "{what}: re-decoded batch length");
    assert_eq!(*b, b2, "{what}: decode(encode(b)) != b");
    let mut e2 = Vec::with_capacity(bytes.len());
    b2.encode(&mut e2)
        .unwrap_or_else(|e| panic!("{what}: second encode failed: {e}"));
    assert_eq!(&bytes[..], &e2[..], "{what}: unstable encoding");
    e2
}

/// Checks one v2 batch found at `blob[start..end]` by the iterator.
fn check_batch(blob: &Bytes, start: usize, end: usize, b: &RecordBatch, opts: DecodeOptions) {
    // The single-batch decoder agrees with the iterator.
    let (direct, used) = RecordBatch::decode_with(&blob.slice(start..), opts).unwrap_or_else(|e| {
        panic!("BatchIter decoded a batch at {start} that RecordBatch::decode rejects: {e}")
    });
    assert_eq!(
        used,
        end - start,
        "RecordBatch::decode and BatchIter disagree on the length"
    );
    assert_eq!(direct, *b, "RecordBatch::decode and BatchIter disagree");

    // Same codec.
    let same_codec = batch_round_trip(b, opts, "batch (same codec)");
    let codec = b.attributes.compression();
    if codec == Some(Compression::None) {
        // The encoder writes minimal varints, so it is never longer than the input, and an
        // input of the same length was already canonical.
        let original = &blob[start..end];
        assert!(
            same_codec.len() <= original.len(),
            "re-encoded uncompressed batch is longer than the input"
        );
        if same_codec.len() == original.len() {
            assert_eq!(
                &same_codec[..],
                original,
                "same-length re-encoding differs from the input"
            );
        }
    } else {
        // Uncompressed.
        let mut plain = b.clone();
        plain.attributes = plain.attributes.with_compression(Compression::None);
        batch_round_trip(&plain, opts, "batch (uncompressed)");
    }

    // Accessors on hostile values must not panic.
    let _ = b.last_offset();
    for r in &b.records {
        let _ = r.offset(b.base_offset);
        let _ = r.timestamp(b.base_timestamp);
        if b.attributes.is_control() {
            let _ = r.control_key();
        }
    }
}

/// CRC-32C (record batches) and CRC-32 (legacy messages), to repair mutated inputs.
static CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
static CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Rewrites the checksum of every complete top-level entry of a records blob so that it
/// matches the entry's bytes, walking the blob the way [`BatchIter`] does. Returns whether
/// anything changed. Without this, almost every mutation inside a batch would stop at the CRC
/// check; checksums inside compressed legacy wrappers are left alone.
fn fix_crcs(blob: &mut [u8]) -> bool {
    let mut changed = false;
    let mut at = 0;
    while let Some(entry) = blob.get(at..at + 17) {
        let size = i32::from_be_bytes([entry[8], entry[9], entry[10], entry[11]]);
        let magic = entry[16];
        let Ok(size) = usize::try_from(size) else {
            break;
        };
        let Some(e) = blob.get_mut(at..at + 12 + size) else {
            break;
        };
        let (crc_at, covered_from) = match magic {
            2 if e.len() >= RecordBatch::HEADER_SIZE => (17, 21),
            0 | 1 if e.len() >= 26 => (12, 16),
            _ => break,
        };
        let crc = if magic == 2 { &CRC32C } else { &CRC32 }
            .checksum(&e[covered_from..])
            .to_be_bytes();
        if e[crc_at..crc_at + 4] != crc {
            e[crc_at..crc_at + 4].copy_from_slice(&crc);
            changed = true;
        }
        at += e.len();
    }
    changed
}

/// Fuzz target `record_batches`.
///
/// The input is a records blob (the `records` field of a Fetch response), checked twice: as
/// given, and, if that differs, with the checksums of its top-level entries repaired
/// (`fix_crcs`), so that mutations reach the record parsers and decompressors.
///
/// The blob is walked with [`BatchIter`] (limit [`MAX_DECOMPRESSED`]); [`decode_batches`] must
/// return the same entries, error or truncated tail. Every v2 batch must be what
/// [`RecordBatch::decode_with`] finds at the same offset, and must survive encode → decode
/// with its own codec and uncompressed; an uncompressed batch re-encodes to at most its input
/// size, and to the very input bytes when the size is the same (the encoder writes minimal
/// varints).
///
/// # Panics
/// Only on a bug.
pub fn record_batches(data: &[u8]) {
    check_blob(Bytes::copy_from_slice(data));
    let mut fixed = Vec::from(data);
    if fix_crcs(&mut fixed) {
        check_blob(Bytes::from(fixed));
    }
}

fn check_blob(blob: Bytes) {
    let opts = DecodeOptions::new().with_max_decompressed(MAX_DECOMPRESSED);

    let mut it = BatchIter::new(&blob, opts);
    let mut batches = Vec::new();
    let mut error = None;
    loop {
        let start = it.position();
        let Some(item) = it.next() else {
            break;
        };
        match item {
            Ok(batch) => {
                let end = it.position();
                assert!(
                    end > start && end <= blob.len(),
                    "BatchIter did not advance"
                );
                if let Batch::V2(b) = &batch {
                    check_batch(&blob, start, end, b, opts);
                }
                batches.push(batch);
            }
            Err(e) => {
                assert!(
                    e.offset <= blob.len(),
                    "error offset {} beyond the blob",
                    e.offset
                );
                error = Some(e);
                break;
            }
        }
    }
    assert!(it.next().is_none(), "BatchIter yielded after it ended");
    if error.is_none() {
        assert_eq!(
            it.is_truncated(),
            it.remaining() != 0,
            "is_truncated disagrees with remaining"
        );
    }

    // If the blob starts with a complete v2 batch, both decoders must say so.
    if let Ok((b, used)) = RecordBatch::decode_with(&blob, opts) {
        match batches.first() {
            Some(Batch::V2(first)) => assert_eq!(*first, b, "first batch differs"),
            other => panic!(
                "RecordBatch::decode found a {used}-byte batch, BatchIter gave {other:?} / {error:?}"
            ),
        }
    }

    match (decode_batches(&blob, opts), error) {
        (Ok(set), None) => {
            assert_eq!(
                set.batches, batches,
                "decode_batches differs from BatchIter"
            );
            assert_eq!(set.truncated_bytes, it.remaining(), "truncated_bytes");
            assert_eq!(set.is_truncated(), it.is_truncated(), "is_truncated");
        }
        (Err(a), Some(b)) => assert_eq!(a, b, "decode_batches error differs from BatchIter"),
        (a, b) => panic!("decode_batches gave {a:?}, BatchIter error {b:?}"),
    }

    // Legacy entries have no encoder; their accessors must not panic.
    for batch in &batches {
        let _ = batch.last_offset();
        if let Batch::Legacy(messages) = batch {
            for m in messages {
                let _ = m.compression();
            }
        }
    }
}
