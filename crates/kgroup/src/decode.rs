//! `kgroup decode`: captured Kafka traffic to JSON lines, with an optional byte-exact
//! round-trip check.
//!
//! Input is one direction of one TCP connection (size-prefixed frames back to back). Requests
//! carry their API key and version in the header; responses do not, so each response is
//! matched by correlation id to the earliest unanswered request of the request file.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use kafka_wire::frame::{DEFAULT_MAX_FRAME, FrameError};
use kafka_wire::{
    AnyRequest, AnyResponse, ApiKey, DecodeError, DecodeErrorKind, EncodeError, RequestHeader,
    ResponseHeader,
};
use serde::Serialize;
use serde_json::json;

use crate::error::CliError;
use crate::frames::{Frame, FrameReadError, FrameReader, to_u64};

/// `UNSUPPORTED_VERSION`, the error code of a KIP-511 ApiVersions fallback reply.
const UNSUPPORTED_VERSION: i16 = kafka_wire::error_code::ErrorCode::UNSUPPORTED_VERSION.0;

/// Long help of `kgroup decode`.
pub(crate) const LONG_ABOUT: &str = "\
Decode captured Kafka traffic (size-prefixed frames) into JSON lines.

Each FILE holds the raw bytes of one direction of one TCP connection: Kafka frames (a 4-byte \
big-endian size, then that many bytes) back to back, such as the conn-N.c2s.bin and \
conn-N.s2c.bin files of crates/kafka-wire/tests/data/captures. `-` reads standard input (for \
one of the two files at most).

Output: one JSON object per frame on standard output, every request frame in file order, then \
every response frame in file order. Keys: direction (\"request\" or \"response\"), frame (index \
within its file, from 0), offset (byte offset of the frame's size prefix in its file), api_key, \
api_name, api_version, correlation_id, client_id (requests only; null if absent), \
header_version, and body (the decoded message: fields under their Kafka spec names, bytes as \
hex strings). A response carries no API key or version on the wire: it is matched to the \
earliest unanswered request with the same correlation id.

Real client and broker behaviour that is tolerated, not an error:
  * A request body followed by extra bytes (librdkafka's AdminClient sends Metadata v12 \
requests with 3 extra bytes; a Kafka broker ignores them too): decoded from the prefix, with \
\"trailing_bytes\": N.
  * A response body followed by extra bytes (the librdkafka 2.16 mock broker appends one byte \
to its Metadata v13 responses): the message is decoded from the prefix and the object gets \
\"trailing_bytes\": N.
  * An ApiVersions response with error_code 35 (UNSUPPORTED_VERSION) that does not decode at \
the requested version: brokers answer an ApiVersions version they do not support with a v0 \
body (KIP-511), so it is decoded again as v0 (the object gets \"decoded_version\": 0). If that \
fails too (the librdkafka 2.16 mock's reply to ApiVersions v3 is neither a valid v3 nor a valid \
v0 body), the object gets \"body\": null, \"error_code\": 35 and \"error\": {...}, and decoding \
goes on.

--check-roundtrip re-encodes every frame (the header at its header version, then the body) and \
compares the result with the original bytes. Frames with trailing bytes compare the decoded \
prefix; ApiVersions error replies that decode at no version compare the header only.

Errors name the file, the frame, the absolute byte offset in the file and the field: a \
truncated frame, a size prefix that is negative, above --max-frame-bytes or past the end of the \
input, an unknown API key or version, an undecodable body, invalid UTF-8, a response that \
matches no request. Frames before the error have been printed already.

Exit codes: 0 success; 1 round-trip mismatch; 2 bad input or usage; 141 standard output \
closed early.";

/// Examples shown after `kgroup decode --help`.
pub(crate) const EXAMPLES: &str = "\
Examples:
  cd crates/kafka-wire/tests/data/captures/tansu-librdkafka-consumer

  # Decode both directions of one connection:
  kgroup decode --requests conn-6.c2s.bin --responses conn-6.s2c.bin

  # Also check that every frame re-encodes to the very same bytes:
  kgroup decode --requests conn-6.c2s.bin --responses conn-6.s2c.bin --check-roundtrip

  # Requests from standard input; keep the JoinGroup bodies (with jq):
  kgroup decode --requests - < conn-6.c2s.bin | jq -c 'select(.api_name == \"JoinGroup\") | .body'

Output line (the first Heartbeat request printed by the first command):
  {\"direction\":\"request\",\"frame\":6,\"offset\":705,\"api_key\":12,\"api_name\":\"Heartbeat\",\
\"api_version\":3,\"correlation_id\":7,\"client_id\":\"cap-consumer\",\"header_version\":1,\"body\":\
{\"GroupId\":\"cap-group\",\"GenerationId\":0,\"MemberId\":\"cap-consumer-73800998-fa2f-4c13-8f99-\
42536fbcd012\",\"GroupInstanceId\":null}}";

/// Arguments of `kgroup decode`.
#[derive(Debug, clap::Args)]
pub(crate) struct DecodeArgs {
    /// Client-to-server bytes of one connection (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    requests: PathBuf,

    /// Server-to-client bytes of the same connection (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    responses: Option<PathBuf>,

    /// Re-encode every frame and fail (exit code 1) at the first byte that differs.
    #[arg(long)]
    check_roundtrip: bool,

    /// Largest accepted frame body, checked before anything is allocated for it.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME)]
    max_frame_bytes: usize,
}

/// Runs `kgroup decode`.
///
/// # Errors
/// [`CliError::Input`] for unreadable or malformed input, [`CliError::Check`] for a round-trip
/// mismatch, [`CliError::BrokenPipe`] when standard output closes.
pub(crate) fn run(args: &DecodeArgs) -> Result<(), CliError> {
    let stdin_twice = is_stdin(&args.requests) && args.responses.as_deref().is_some_and(is_stdin);
    if stdin_twice {
        return Err(CliError::input(
            "--requests and --responses cannot both read standard input (`-`)",
        ));
    }
    let mut out = BufWriter::new(io::stdout().lock());
    let result = decode_all(args, &mut out);
    // Print the frames decoded before a failure, too.
    let flushed = out.flush().map_err(|e| CliError::from_stdout(&e));
    result.and(flushed)
}

/// Decodes the request file, then the response file, writing JSON lines to `out`.
fn decode_all<W: Write>(args: &DecodeArgs, out: &mut W) -> Result<(), CliError> {
    let requests = Input::open(&args.requests)?;
    let mut session = Session {
        check: args.check_roundtrip,
        requests_name: requests.name.clone(),
        pending: Pending::default(),
    };
    session.decode_stream(requests, Direction::Request, args.max_frame_bytes, out)?;
    if let Some(path) = &args.responses {
        let responses = Input::open(path)?;
        session.decode_stream(responses, Direction::Response, args.max_frame_bytes, out)?;
    }
    Ok(())
}

/// Whether `path` names standard input (`-`).
fn is_stdin(path: &Path) -> bool {
    path == Path::new("-")
}

/// An opened input file (or standard input) and the name used in messages.
struct Input {
    /// The path as given, or `<stdin>`.
    name: String,
    /// The byte stream.
    reader: Box<dyn Read>,
}

impl Input {
    /// Opens `path` (`-` for standard input).
    fn open(path: &Path) -> Result<Self, CliError> {
        if is_stdin(path) {
            return Ok(Self {
                name: "<stdin>".to_owned(),
                reader: Box::new(io::stdin().lock()),
            });
        }
        let name = path.display().to_string();
        let file =
            File::open(path).map_err(|e| CliError::input(format!("cannot open {name}: {e}")))?;
        Ok(Self {
            name,
            reader: Box::new(BufReader::new(file)),
        })
    }
}

/// Which side of the connection a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Client to server.
    Request,
    /// Server to client.
    Response,
}

impl Direction {
    /// The value of the `direction` key.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Response => "response",
        }
    }
}

/// The decoded body of a frame.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Body {
    /// A request body.
    Request(Box<AnyRequest>),
    /// A response body.
    Response(Box<AnyResponse>),
}

/// One output line; the keys are documented in [`LONG_ABOUT`].
#[derive(Debug, Serialize)]
pub(crate) struct Record {
    /// `"request"` or `"response"`.
    pub(crate) direction: &'static str,
    /// Index of the frame within its stream.
    pub(crate) frame: usize,
    /// Byte offset of the frame's size prefix within its stream.
    pub(crate) offset: u64,
    /// API key.
    pub(crate) api_key: i16,
    /// API name.
    pub(crate) api_name: &'static str,
    /// API version of the request (for a response: of the request it answers).
    pub(crate) api_version: i16,
    /// Correlation id.
    pub(crate) correlation_id: i32,
    /// `Some(None)` prints `null` (requests without a client id); `None` omits the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_id: Option<Option<String>>,
    /// Header version.
    pub(crate) header_version: i16,
    /// The version the body was decoded at, when it differs from `api_version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) decoded_version: Option<i16>,
    /// Bytes after the decoded body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) trailing_bytes: Option<usize>,
    /// Error code of an ApiVersions reply that decodes at no version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error_code: Option<i16>,
    /// Why the body is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<serde_json::Value>,
    /// The decoded body.
    pub(crate) body: Option<Body>,
}

impl Record {
    /// A record with the frame and API facts set and every optional key absent.
    fn new(direction: Direction, frame: &Frame, key: ApiKey, version: i16, corr: i32) -> Self {
        Self {
            direction: direction.as_str(),
            frame: frame.index,
            offset: frame.offset,
            api_key: key.as_i16(),
            api_name: key.name(),
            api_version: version,
            correlation_id: corr,
            client_id: None,
            header_version: 0,
            decoded_version: None,
            trailing_bytes: None,
            error_code: None,
            error: None,
            body: None,
        }
    }
}

/// A frame that does not decode: what was being decoded, where that part starts, the error.
#[derive(Debug, Clone)]
pub(crate) struct FrameFailure {
    /// What was being decoded, e.g. `request Heartbeat v3, correlation id 7`.
    pub(crate) what: String,
    /// Offset in the frame (after the size prefix) where the failing part starts.
    pub(crate) base: usize,
    /// The error, its offset relative to `base`.
    pub(crate) error: DecodeError,
}

impl FrameFailure {
    /// Builds a failure.
    fn new(what: impl Into<String>, base: usize, error: DecodeError) -> Self {
        Self {
            what: what.into(),
            base,
            error,
        }
    }

    /// The field that failed, or `unknown`.
    pub(crate) const fn field(&self) -> &'static str {
        if self.error.field.is_empty() {
            "unknown"
        } else {
            self.error.field
        }
    }

    /// Absolute stream offset of the failure.
    pub(crate) fn abs_offset(&self, frame: &Frame) -> u64 {
        frame.abs(self.base + self.error.offset)
    }

    /// `"{what}: {error} at byte offset {abs} (field {field})"`.
    pub(crate) fn describe(&self, frame: &Frame) -> String {
        format!(
            "{}: {} at byte offset {} (field {})",
            self.what,
            self.error.kind,
            self.abs_offset(frame),
            self.field()
        )
    }

    /// The `kgroup decode` error for this failure in `file`.
    fn to_cli(&self, file: &str, frame: &Frame) -> CliError {
        CliError::input(format!(
            "{file}: frame {} at offset {} ({}): {} at byte offset {} (field {})",
            frame.index,
            frame.offset,
            self.what,
            self.error.kind,
            self.abs_offset(frame),
            self.field(),
        ))
    }
}

/// API and version of every unanswered request of one connection, by correlation id, oldest
/// first.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// The requests by correlation id.
    map: BTreeMap<i32, VecDeque<(ApiKey, i16)>>,
    /// Number of requests held.
    len: usize,
}

impl Pending {
    /// Remembers a request that expects a response.
    pub(crate) fn push(&mut self, corr: i32, key: ApiKey, version: i16) {
        self.map.entry(corr).or_default().push_back((key, version));
        self.len += 1;
    }

    /// Takes the oldest unanswered request with correlation id `corr`.
    pub(crate) fn pop(&mut self, corr: i32) -> Option<(ApiKey, i16)> {
        let queue = self.map.get_mut(&corr)?;
        let found = queue.pop_front();
        if queue.is_empty() {
            self.map.remove(&corr);
        }
        if found.is_some() {
            self.len -= 1;
        }
        found
    }

    /// Number of unanswered requests.
    pub(crate) const fn len(&self) -> usize {
        self.len
    }
}

/// A request frame, decoded.
#[derive(Debug)]
pub(crate) struct DecodedRequest {
    /// The request header.
    pub(crate) header: RequestHeader,
    /// The API.
    pub(crate) key: ApiKey,
    /// The request header version.
    pub(crate) header_version: i16,
    /// The request body.
    pub(crate) body: AnyRequest,
    /// Bytes after the body, when there are any.
    pub(crate) trailing_bytes: Option<usize>,
}

impl DecodedRequest {
    /// The API version.
    pub(crate) const fn version(&self) -> i16 {
        self.header.api_version
    }

    /// The output line for this request, read from `frame`.
    pub(crate) fn into_record(self, frame: &Frame) -> Record {
        let mut record = Record::new(
            Direction::Request,
            frame,
            self.key,
            self.header.api_version,
            self.header.correlation_id,
        );
        record.client_id = Some(self.header.client_id.map(|c| c.to_string()));
        record.header_version = self.header_version;
        record.body = Some(Body::Request(Box::new(self.body)));
        record.trailing_bytes = self.trailing_bytes;
        record
    }
}

/// Decodes one request frame: its header (the version picked from the API key and version),
/// then its body.
///
/// # Errors
/// A [`FrameFailure`] for an undecodable header or body or an unknown API key.
pub(crate) fn decode_request_frame(frame: &Frame) -> Result<DecodedRequest, FrameFailure> {
    let (header, hlen) = RequestHeader::decode_auto(&frame.bytes)
        .map_err(|e| FrameFailure::new("request header", 0, e))?;
    let Some(key) = ApiKey::from_i16(header.api_key) else {
        let e = DecodeError {
            offset: 0,
            field: "RequestApiKey",
            kind: DecodeErrorKind::UnknownApiKey(header.api_key),
        };
        return Err(FrameFailure::new("request header", 0, e));
    };
    let version = header.api_version;
    let what = format!(
        "request {} v{version}, correlation id {}",
        key.name(),
        header.correlation_id
    );
    let body_bytes = frame.bytes.slice(hlen..);
    // Like a Kafka broker, which reads a request's fields and ignores what follows them
    // (librdkafka's AdminClient sends Metadata v12 requests with extra bytes).
    let (body, used) = AnyRequest::decode_prefix(key, version, &body_bytes)
        .map_err(|e| FrameFailure::new(what, hlen, e))?;
    let trailing = body_bytes.len().saturating_sub(used);
    Ok(DecodedRequest {
        header_version: key.request_header_version(version),
        header,
        key,
        body,
        trailing_bytes: (trailing > 0).then_some(trailing),
    })
}

/// The correlation id at the start of a response frame.
///
/// # Errors
/// A [`FrameFailure`] if the frame is shorter than 4 bytes.
pub(crate) fn response_correlation_id(frame: &Frame) -> Result<i32, FrameFailure> {
    ResponseHeader::decode(&frame.bytes, 0)
        .map(|(h, _)| h.correlation_id)
        .map_err(|e| FrameFailure::new("response header", 0, e))
}

/// A response frame, decoded with the known broker quirks tolerated.
#[derive(Debug)]
pub(crate) struct DecodedResponse {
    /// The response header.
    pub(crate) header: ResponseHeader,
    /// The response header version.
    pub(crate) header_version: i16,
    /// The API.
    pub(crate) key: ApiKey,
    /// The version of the request this answers.
    pub(crate) version: i16,
    /// The body (`None` for an ApiVersions error reply that decodes at no version).
    pub(crate) body: Option<AnyResponse>,
    /// The version `body` was decoded at.
    pub(crate) body_version: i16,
    /// How many bytes of the frame the header and body cover (the rest is trailing bytes).
    pub(crate) covered: usize,
    /// Set when `body_version` differs from `version` (the KIP-511 v0 fallback).
    decoded_version: Option<i16>,
    /// Bytes after the body, when there are any.
    trailing_bytes: Option<usize>,
    /// Error code of an ApiVersions reply that decodes at no version.
    error_code: Option<i16>,
    /// Why `body` is `None`.
    error: Option<serde_json::Value>,
}

impl DecodedResponse {
    /// The output line for this response, read from `frame`.
    pub(crate) fn into_record(self, frame: &Frame) -> Record {
        let mut record = Record::new(
            Direction::Response,
            frame,
            self.key,
            self.version,
            self.header.correlation_id,
        );
        record.header_version = self.header_version;
        record.decoded_version = self.decoded_version;
        record.trailing_bytes = self.trailing_bytes;
        record.error_code = self.error_code;
        record.error = self.error;
        record.body = self.body.map(|b| Body::Response(Box::new(b)));
        record
    }
}

/// Decodes one response frame answering a request of `key` at `version`.
///
/// Tolerated, not errors: trailing bytes after the body, and an ApiVersions reply with error
/// code 35 that decodes only at v0 or at no version (see [`LONG_ABOUT`]).
///
/// # Errors
/// A [`FrameFailure`] for an undecodable header or body.
pub(crate) fn decode_response_frame(
    frame: &Frame,
    key: ApiKey,
    version: i16,
) -> Result<DecodedResponse, FrameFailure> {
    let corr = response_correlation_id(frame)?;
    let what = format!("response {} v{version}, correlation id {corr}", key.name());
    let hv = key.response_header_version(version);
    let (header, hlen) =
        ResponseHeader::decode(&frame.bytes, hv).map_err(|e| FrameFailure::new(&*what, 0, e))?;
    let body_bytes = frame.bytes.slice(hlen..);
    let mut decoded = DecodedResponse {
        header,
        header_version: hv,
        key,
        version,
        body: None,
        body_version: version,
        covered: frame.bytes.len(),
        decoded_version: None,
        trailing_bytes: None,
        error_code: None,
        error: None,
    };
    match AnyResponse::decode(key, version, &body_bytes) {
        Ok(body) => decoded.body = Some(body),
        Err(e) if is_unsupported_api_versions(key, &body_bytes) => {
            match AnyResponse::decode(key, 0, &body_bytes) {
                Ok(body) => {
                    decoded.decoded_version = Some(0);
                    decoded.body = Some(body);
                    decoded.body_version = 0;
                }
                Err(e0) => {
                    decoded.error_code = Some(UNSUPPORTED_VERSION);
                    decoded.error = Some(api_versions_error(frame, hlen, version, e, e0));
                    decoded.covered = hlen;
                }
            }
        }
        Err(e) if matches!(e.kind, DecodeErrorKind::TrailingBytes(_)) => {
            let (body, used) = AnyResponse::decode_prefix(key, version, &body_bytes)
                .map_err(|e| FrameFailure::new(&*what, hlen, e))?;
            decoded.trailing_bytes = Some(body_bytes.len().saturating_sub(used));
            decoded.body = Some(body);
            decoded.covered = hlen + used;
        }
        Err(e) => return Err(FrameFailure::new(what, hlen, e)),
    }
    Ok(decoded)
}

/// State carried from the request file to the response file.
struct Session {
    /// Whether `--check-roundtrip` was given.
    check: bool,
    /// Name of the request file, for messages about unmatched responses.
    requests_name: String,
    /// The unanswered requests.
    pending: Pending,
}

impl Session {
    /// Decodes every frame of `input` and writes one JSON line per frame to `out`.
    fn decode_stream<W: Write>(
        &mut self,
        input: Input,
        direction: Direction,
        max: usize,
        out: &mut W,
    ) -> Result<(), CliError> {
        let name = input.name;
        let mut reader = FrameReader::new(input.reader, max);
        loop {
            let (index, offset) = (reader.index(), reader.offset());
            let frame = match reader.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(()),
                Err(e) => return Err(frame_read_failure(&name, index, offset, max, e)),
            };
            let record = match direction {
                Direction::Request => self.request(&name, &frame)?,
                Direction::Response => self.response(&name, &frame)?,
            };
            let mut line = serde_json::to_vec(&record).map_err(|e| {
                CliError::input(format!(
                    "{name}: frame {index} at offset {offset}: cannot render as JSON: {e}"
                ))
            })?;
            line.push(b'\n');
            out.write_all(&line)
                .map_err(|e| CliError::from_stdout(&e))?;
        }
    }

    /// Decodes (and checks) one request frame and remembers its API and version.
    fn request(&mut self, file: &str, frame: &Frame) -> Result<Record, CliError> {
        let decoded = decode_request_frame(frame).map_err(|f| f.to_cli(file, frame))?;
        let (key, version) = (decoded.key, decoded.version());
        let corr = decoded.header.correlation_id;
        let covered = frame.bytes.len() - decoded.trailing_bytes.unwrap_or(0);
        if self.check {
            let what = format!("request {} v{version}, correlation id {corr}", key.name());
            let mut buf = Vec::with_capacity(frame.bytes.len());
            decoded
                .header
                .encode(decoded.header_version, &mut buf)
                .map_err(|e| encode_failure(file, frame, &what, "header", e))?;
            reencode_body(&decoded.body, version, &mut buf)
                .map_err(|e| encode_failure(file, frame, &what, "body", e))?;
            let original = frame.bytes.get(..covered).unwrap_or(&frame.bytes);
            compare(file, frame, &what, original, &buf)?;
        }
        self.pending.push(corr, key, version);
        Ok(decoded.into_record(frame))
    }

    /// Decodes (and checks) one response frame, tolerating the known broker quirks.
    fn response(&mut self, file: &str, frame: &Frame) -> Result<Record, CliError> {
        let corr = response_correlation_id(frame).map_err(|f| f.to_cli(file, frame))?;
        let Some((key, version)) = self.pending.pop(corr) else {
            return Err(CliError::input(format!(
                "{file}: frame {} at offset {}: response with correlation id {corr} matches no \
                 unanswered request in {} (at byte offset {}, field CorrelationId)",
                frame.index,
                frame.offset,
                self.requests_name,
                frame.abs(0),
            )));
        };
        let decoded =
            decode_response_frame(frame, key, version).map_err(|f| f.to_cli(file, frame))?;
        if self.check {
            let what = format!("response {} v{version}, correlation id {corr}", key.name());
            let mut buf = Vec::with_capacity(decoded.covered);
            decoded
                .header
                .encode(decoded.header_version, &mut buf)
                .map_err(|e| encode_failure(file, frame, &what, "header", e))?;
            if let Some(body) = &decoded.body {
                reencode_body(body, decoded.body_version, &mut buf)
                    .map_err(|e| encode_failure(file, frame, &what, "body", e))?;
            }
            let original = frame.bytes.get(..decoded.covered).unwrap_or(&frame.bytes);
            compare(file, frame, &what, original, &buf)?;
        }
        Ok(decoded.into_record(frame))
    }
}

/// Whether `body` is an ApiVersions response starting with error code 35.
fn is_unsupported_api_versions(key: ApiKey, body: &Bytes) -> bool {
    key == ApiKey::ApiVersions && kafka_wire::codec::is_unsupported_version_reply(body)
}

/// The `error` object of an ApiVersions reply that decodes at no version.
fn api_versions_error(
    frame: &Frame,
    hlen: usize,
    version: i16,
    at_version: DecodeError,
    at_v0: DecodeError,
) -> serde_json::Value {
    let attempt = |v: i16, e: DecodeError| {
        json!({
            "version": v,
            "kind": e.kind.to_string(),
            "field": (!e.field.is_empty()).then_some(e.field),
            "offset": frame.abs(hlen + e.offset),
        })
    };
    json!({
        "message": format!(
            "ApiVersions v{version} response with error_code 35 (UNSUPPORTED_VERSION) is \
             neither a valid v{version} nor a valid v0 body (KIP-511 fallback)"
        ),
        "attempts": [attempt(version, at_version), attempt(0, at_v0)],
    })
}

/// Re-encodes a decoded body and checks that `encoded_len` agrees with what was written.
fn reencode_body<B: Reencode>(body: &B, version: i16, out: &mut Vec<u8>) -> Result<(), String> {
    let expected = body.encoded_len(version).map_err(|e| e.to_string())?;
    let before = out.len();
    body.encode(version, out).map_err(|e| e.to_string())?;
    let written = out.len() - before;
    if written == expected {
        Ok(())
    } else {
        Err(format!(
            "encoded_len says {expected} bytes but encode wrote {written}"
        ))
    }
}

/// The two decoded body types, re-encodable.
trait Reencode {
    /// Exact encoded size at version `v`.
    fn encoded_len(&self, v: i16) -> Result<usize, EncodeError>;
    /// Appends the encoding at version `v` to `out`.
    fn encode(&self, v: i16, out: &mut Vec<u8>) -> Result<(), EncodeError>;
}

impl Reencode for AnyRequest {
    fn encoded_len(&self, v: i16) -> Result<usize, EncodeError> {
        Self::encoded_len(self, v)
    }
    fn encode(&self, v: i16, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        Self::encode(self, v, out)
    }
}

impl Reencode for AnyResponse {
    fn encoded_len(&self, v: i16) -> Result<usize, EncodeError> {
        Self::encoded_len(self, v)
    }
    fn encode(&self, v: i16, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        Self::encode(self, v, out)
    }
}

/// Compares the original frame bytes with their re-encoding.
fn compare(
    file: &str,
    frame: &Frame,
    what: &str,
    original: &[u8],
    encoded: &[u8],
) -> Result<(), CliError> {
    let Some(pos) = first_difference(original, encoded) else {
        return Ok(());
    };
    let show = |s: &[u8]| {
        s.get(pos)
            .map_or_else(|| "nothing".to_owned(), |b| format!("0x{b:02x}"))
    };
    Err(CliError::check(format!(
        "{file}: frame {} at offset {} ({what}): round trip differs at byte {pos} of the frame \
         (absolute byte offset {}): original {}, re-encoded {} ({} original bytes compared, {} \
         re-encoded)",
        frame.index,
        frame.offset,
        frame.abs(pos),
        show(original),
        show(encoded),
        original.len(),
        encoded.len(),
    )))
}

/// Index of the first byte where `a` and `b` differ (a length difference counts).
fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or_else(|| (a.len() != b.len()).then(|| a.len().min(b.len())))
}

/// A failure to re-encode a decoded frame (a round-trip failure).
fn encode_failure(
    file: &str,
    frame: &Frame,
    what: &str,
    part: &str,
    e: impl core::fmt::Display,
) -> CliError {
    CliError::check(format!(
        "{file}: frame {} at offset {} ({what}): round trip failed: cannot re-encode the {part}: \
         {e}",
        frame.index, frame.offset,
    ))
}

/// A framing failure for the frame that would start at `offset`.
fn frame_read_failure(
    file: &str,
    index: usize,
    offset: u64,
    max: usize,
    e: FrameReadError,
) -> CliError {
    let at = |rel: usize| offset + to_u64(rel);
    let detail = match e {
        FrameReadError::Io(e) => {
            return CliError::input(format!(
                "{file}: cannot read frame {index} at offset {offset}: {e}"
            ));
        }
        FrameReadError::TruncatedPrefix { got } => format!(
            "truncated size prefix: the input ends after {got} of its 4 bytes (at byte offset {}, \
             field length)",
            at(got)
        ),
        FrameReadError::Size(FrameError::NegativeSize(n)) => {
            format!("negative size prefix {n} (at byte offset {offset}, field length)")
        }
        FrameReadError::Size(FrameError::TooLarge { size, .. }) => format!(
            "size prefix {size} exceeds the maximum frame size {max} (--max-frame-bytes) (at \
             byte offset {offset}, field length)"
        ),
        FrameReadError::Size(e) => format!("{e} (at byte offset {offset}, field length)"),
        FrameReadError::TruncatedBody { size, got } => format!(
            "truncated frame: its size prefix says {size} bytes but the input ends after {got} \
             of them (at byte offset {}, field length)",
            at(4 + got)
        ),
    };
    CliError::input(format!(
        "{file}: frame {index} at offset {offset}: {detail}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_difference_finds_bytes_and_lengths() {
        assert_eq!(first_difference(b"abc", b"abc"), None);
        assert_eq!(first_difference(b"abc", b"abd"), Some(2));
        assert_eq!(first_difference(b"abc", b"ab"), Some(2));
        assert_eq!(first_difference(b"", b"x"), Some(0));
    }

    #[test]
    fn detects_unsupported_api_versions_replies() {
        let body = Bytes::from_static(&[0, 35, 1]);
        assert!(is_unsupported_api_versions(ApiKey::ApiVersions, &body));
        assert!(!is_unsupported_api_versions(ApiKey::Metadata, &body));
        assert!(!is_unsupported_api_versions(
            ApiKey::ApiVersions,
            &Bytes::from_static(&[0])
        ));
    }
}
