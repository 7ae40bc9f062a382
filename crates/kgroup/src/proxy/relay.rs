//! One direction of one proxied connection, without sockets: bytes in, bytes to forward and
//! JSON lines out.
//!
//! Client-to-broker bytes are forwarded as they arrive (after the frames they complete have
//! been logged and their requests remembered). Broker-to-client bytes are held until their
//! frame is complete, so that Metadata and FindCoordinator responses can be rewritten; every
//! other frame is forwarded byte for byte. Once the framing is lost (a size prefix that is
//! negative or above the maximum) the rest of the stream is forwarded unparsed.

use core::fmt;

use bytes::{Bytes, BytesMut};
use kafka_wire::frame::{self, FrameDecoder, FrameError, PREFIX_LEN};
use kafka_wire::{AnyRequest, AnyResponse, ApiKey, ByteString, RequestHeader};
use serde::Serialize;

use crate::decode::{self, DecodedResponse, Direction, FrameFailure, Pending, Record};
use crate::frames::{Frame, to_u64};

/// Most unanswered requests remembered per connection; later ones are not matched.
pub(crate) const MAX_PENDING: usize = 65_536;

/// A `host:port` address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct HostPort {
    /// Host name or IP address (IPv6 without brackets).
    pub(crate) host: String,
    /// Port.
    pub(crate) port: u16,
}

impl HostPort {
    /// Builds an address.
    pub(crate) fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Where a broker address seen in a response should point instead, if anywhere.
pub(crate) type Route<'a> = dyn FnMut(&str, i32) -> Option<HostPort> + 'a;

/// One broker address replaced in a response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Rewrite {
    /// The address the broker sent, `host:port`.
    pub(crate) from: String,
    /// The proxy address the client got instead.
    pub(crate) to: String,
}

/// Replaces the broker addresses of a Metadata response (every broker) or a FindCoordinator
/// response (`Host`/`Port` below v4, every entry of `Coordinators` from v4) by `route`'s
/// answer; returns what changed. Other responses are left alone.
pub(crate) fn rewrite_addresses(
    body: &mut AnyResponse,
    version: i16,
    route: &mut Route<'_>,
) -> Vec<Rewrite> {
    let mut done = Vec::new();
    let mut one = |host: &mut ByteString, port: &mut i32| {
        let Some(to) = route(host, *port) else {
            return;
        };
        if *to.host == **host && i32::from(to.port) == *port {
            return;
        }
        done.push(Rewrite {
            from: format!("{host}:{port}"),
            to: to.to_string(),
        });
        *port = i32::from(to.port);
        *host = ByteString::from(to.host);
    };
    match body {
        AnyResponse::Metadata(m) => {
            for b in &mut m.brokers {
                one(&mut b.host, &mut b.port);
            }
        }
        AnyResponse::FindCoordinator(f) if version < 4 => one(&mut f.host, &mut f.port),
        AnyResponse::FindCoordinator(f) => {
            for c in &mut f.coordinators {
                one(&mut c.host, &mut c.port);
            }
        }
        _ => {}
    }
    done
}

/// What feeding bytes to a [`Half`] produced.
#[derive(Debug, Default)]
pub(crate) struct Fed {
    /// Bytes to send on to the other side, in order.
    pub(crate) forward: Vec<u8>,
    /// JSON lines to print (without the newline), in order.
    pub(crate) lines: Vec<String>,
}

impl Fed {
    /// Empties both queues.
    pub(crate) fn clear(&mut self) {
        self.forward.clear();
        self.lines.clear();
    }
}

/// One printed frame: the `kgroup decode` object plus the connection facts.
#[derive(Serialize)]
struct FrameLine<'a> {
    /// Connection number.
    conn: u64,
    /// Broker the connection is forwarded to.
    broker: &'a str,
    /// The decoded frame.
    #[serde(flatten)]
    record: Record,
    /// Addresses replaced in this response.
    #[serde(skip_serializing_if = "<[Rewrite]>::is_empty")]
    rewrites: &'a [Rewrite],
}

/// A frame (or the rest of a stream) that could not be decoded; it is forwarded unchanged.
#[derive(Serialize)]
struct ErrorLine<'a> {
    /// Connection number.
    conn: u64,
    /// Broker the connection is forwarded to.
    broker: &'a str,
    /// `"request"` or `"response"`.
    direction: &'static str,
    /// Index of the frame in its direction.
    frame: usize,
    /// Byte offset of the frame in its direction (as forwarded).
    offset: u64,
    /// API key, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<i16>,
    /// API name, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    api_name: Option<&'static str>,
    /// API version, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    api_version: Option<i16>,
    /// Correlation id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation_id: Option<i32>,
    /// What went wrong.
    error: ErrorInfo,
    /// Always `"unchanged"`: the bytes went on as they came.
    forwarded: &'static str,
}

/// The `error` object of an [`ErrorLine`].
#[derive(Serialize)]
struct ErrorInfo {
    /// Human-readable description.
    message: String,
    /// The field that failed to decode, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
    /// Absolute byte offset of the failure in its direction's stream, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<u64>,
}

/// The API facts of an error line.
type ApiFacts = Option<(ApiKey, i16, i32)>;

/// One direction of one connection.
#[derive(Debug)]
pub(crate) struct Half {
    /// Connection number.
    conn: u64,
    /// Broker address of the connection, for the lines.
    broker: String,
    /// Requests (client to broker) or responses (broker to client).
    direction: Direction,
    /// Splits the stream into frames.
    decoder: FrameDecoder,
    /// Received bytes not yet split off as frames (for responses: not yet forwarded).
    raw: BytesMut,
    /// Index of the next frame.
    index: usize,
    /// Offset of the next frame in the forwarded stream.
    offset: u64,
    /// Framing lost: everything is forwarded unparsed.
    broken: bool,
}

impl Half {
    /// A fresh direction; frames above `max` bytes break the framing.
    pub(crate) fn new(conn: u64, broker: String, direction: Direction, max: usize) -> Self {
        Self {
            conn,
            broker,
            direction,
            decoder: FrameDecoder::new(max),
            raw: BytesMut::new(),
            index: 0,
            offset: 0,
            broken: false,
        }
    }

    /// The connection number.
    pub(crate) const fn conn(&self) -> u64 {
        self.conn
    }

    /// Takes bytes received from this direction's sender.
    ///
    /// Requests remember their API and version in `pending`; responses take theirs from it.
    /// `route` maps broker addresses of Metadata and FindCoordinator responses.
    pub(crate) fn feed(
        &mut self,
        data: &[u8],
        pending: &mut Pending,
        route: &mut Route<'_>,
        out: &mut Fed,
    ) {
        if self.broken {
            self.pass(data, out);
            return;
        }
        if self.direction == Direction::Request {
            out.forward.extend_from_slice(data);
        }
        self.raw.extend_from_slice(data);
        // An invalid size prefix also surfaces from `next_frame`, after the frames before it.
        let _ = self.decoder.push(data);
        loop {
            match self.decoder.next_frame() {
                Ok(Some(body)) => {
                    let total = PREFIX_LEN + body.len();
                    if self.raw.len() < total {
                        // Cannot happen: the decoder only returns bytes it was given.
                        self.lose_framing("frame splitter out of step".to_owned(), out);
                        return;
                    }
                    let original = self.raw.split_to(total).freeze();
                    let frame = Frame {
                        index: self.index,
                        offset: self.offset,
                        bytes: body,
                    };
                    let sent = match self.direction {
                        Direction::Request => {
                            self.request(&frame, pending, out);
                            original.len()
                        }
                        Direction::Response => {
                            let bytes = self.response(&frame, original, pending, route, out);
                            out.forward.extend_from_slice(&bytes);
                            bytes.len()
                        }
                    };
                    self.index += 1;
                    self.offset += to_u64(sent);
                }
                Ok(None) => return,
                Err(e) => {
                    self.lose_framing(framing_message(e), out);
                    return;
                }
            }
        }
    }

    /// The sender closed its side: reports (and forwards) an incomplete last frame.
    pub(crate) fn finish(&mut self, out: &mut Fed) {
        if self.broken || self.raw.is_empty() {
            return;
        }
        let have = self.raw.len();
        let message = match self.raw.get(..PREFIX_LEN) {
            Some(&[a, b, c, d]) => format!(
                "stream ended inside a frame: its size prefix says {} bytes but only {} arrived",
                i32::from_be_bytes([a, b, c, d]),
                have - PREFIX_LEN
            ),
            _ => format!("stream ended inside a size prefix, after {have} of its 4 bytes"),
        };
        self.lose_framing(message, out);
    }

    /// Forwards `data` unparsed.
    fn pass(&mut self, data: &[u8], out: &mut Fed) {
        out.forward.extend_from_slice(data);
        self.offset += to_u64(data.len());
    }

    /// Prints `message` for the frame at the current offset and forwards the rest unparsed.
    fn lose_framing(&mut self, message: String, out: &mut Fed) {
        let line = self.error_line(
            self.index,
            self.offset,
            None,
            ErrorInfo {
                message: format!("{message}; the rest of this direction is forwarded unparsed"),
                field: Some("length"),
                offset: Some(self.offset),
            },
        );
        out.lines.push(line);
        self.broken = true;
        let rest = self.raw.split().freeze();
        match self.direction {
            // Already forwarded as it arrived.
            Direction::Request => self.offset += to_u64(rest.len()),
            Direction::Response => self.pass(&rest, out),
        }
    }

    /// Logs a request frame and remembers what it expects back.
    fn request(&self, frame: &Frame, pending: &mut Pending, out: &mut Fed) {
        match decode::decode_request_frame(frame) {
            Ok(d) => {
                if expects_response(&d.body) {
                    remember(pending, d.header.correlation_id, d.key, d.version());
                }
                out.lines.push(self.frame_line(d.into_record(frame), &[]));
            }
            Err(f) => {
                // A good header still lets the response be decoded.
                let api = RequestHeader::decode_auto(&frame.bytes)
                    .ok()
                    .and_then(|(h, _)| {
                        ApiKey::from_i16(h.api_key).map(|k| (k, h.api_version, h.correlation_id))
                    });
                if let Some((key, version, corr)) = api {
                    remember(pending, corr, key, version);
                }
                out.lines.push(self.failure_line(frame, api, &f));
            }
        }
    }

    /// Logs a response frame; returns the bytes to forward (rewritten or as received).
    fn response(
        &self,
        frame: &Frame,
        original: Bytes,
        pending: &mut Pending,
        route: &mut Route<'_>,
        out: &mut Fed,
    ) -> Bytes {
        let corr = match decode::response_correlation_id(frame) {
            Ok(corr) => corr,
            Err(f) => {
                out.lines.push(self.failure_line(frame, None, &f));
                return original;
            }
        };
        let Some((key, version)) = pending.pop(corr) else {
            out.lines.push(self.error_line(
                frame.index,
                frame.offset,
                None,
                ErrorInfo {
                    message: format!(
                        "response with correlation id {corr} matches no unanswered request"
                    ),
                    field: Some("CorrelationId"),
                    offset: Some(frame.abs(0)),
                },
            ));
            return original;
        };
        let api = Some((key, version, corr));
        let mut decoded = match decode::decode_response_frame(frame, key, version) {
            Ok(d) => d,
            Err(f) => {
                out.lines.push(self.failure_line(frame, api, &f));
                return original;
            }
        };
        let body_version = decoded.body_version;
        let rewrites = decoded
            .body
            .as_mut()
            .map(|body| rewrite_addresses(body, body_version, route))
            .unwrap_or_default();
        let mut bytes = original;
        if !rewrites.is_empty() {
            match reencode(&decoded, frame) {
                Ok(b) => bytes = b,
                Err(e) => {
                    let message = format!("cannot re-encode the rewritten response: {e}");
                    let info = ErrorInfo {
                        message,
                        field: None,
                        offset: None,
                    };
                    out.lines
                        .push(self.error_line(frame.index, frame.offset, api, info));
                    return bytes;
                }
            }
        }
        out.lines
            .push(self.frame_line(decoded.into_record(frame), &rewrites));
        bytes
    }

    /// The line of a decoded frame.
    fn frame_line(&self, record: Record, rewrites: &[Rewrite]) -> String {
        let line = FrameLine {
            conn: self.conn,
            broker: &self.broker,
            record,
            rewrites,
        };
        serde_json::to_string(&line).unwrap_or_else(|e| {
            // Rendering plain data cannot fail; keep the line valid JSON anyway.
            serde_json::json!({"conn": self.conn, "error": {"message": e.to_string()}}).to_string()
        })
    }

    /// The line of a frame that failed to decode.
    fn failure_line(&self, frame: &Frame, api: ApiFacts, f: &FrameFailure) -> String {
        let info = ErrorInfo {
            message: f.describe(frame),
            field: Some(f.field()),
            offset: Some(f.abs_offset(frame)),
        };
        self.error_line(frame.index, frame.offset, api, info)
    }

    /// An error line.
    fn error_line(&self, index: usize, offset: u64, api: ApiFacts, error: ErrorInfo) -> String {
        let line = ErrorLine {
            conn: self.conn,
            broker: &self.broker,
            direction: self.direction.as_str(),
            frame: index,
            offset,
            api_key: api.map(|(k, _, _)| k.as_i16()),
            api_name: api.map(|(k, _, _)| k.name()),
            api_version: api.map(|(_, v, _)| v),
            correlation_id: api.map(|(_, _, c)| c),
            error,
            forwarded: "unchanged",
        };
        serde_json::to_string(&line).unwrap_or_else(|e| {
            serde_json::json!({"conn": self.conn, "error": {"message": e.to_string()}}).to_string()
        })
    }
}

/// Whether the broker answers `req` (Produce with `acks = 0` gets no response).
fn expects_response(req: &AnyRequest) -> bool {
    !matches!(req, AnyRequest::Produce(p) if p.acks == 0)
}

/// Remembers a request unless too many are unanswered already.
fn remember(pending: &mut Pending, corr: i32, key: ApiKey, version: i16) {
    if pending.len() < MAX_PENDING {
        pending.push(corr, key, version);
    }
}

/// The message for an invalid size prefix.
fn framing_message(e: FrameError) -> String {
    match e {
        FrameError::NegativeSize(n) => format!("negative size prefix {n}"),
        FrameError::TooLarge { size, max } => {
            format!("size prefix {size} exceeds the maximum frame size {max}")
        }
        other => other.to_string(),
    }
}

/// Encodes a (rewritten) response as a whole frame: size prefix, header, body, and any
/// trailing bytes of the original.
fn reencode(d: &DecodedResponse, frame: &Frame) -> Result<Bytes, String> {
    let body = d.body.as_ref().ok_or("no body")?;
    let hv = d.header_version;
    let trailing = frame.bytes.get(d.covered..).unwrap_or_default();
    let size = d.header.encoded_len(hv).map_err(|e| e.to_string())?
        + body
            .encoded_len(d.body_version)
            .map_err(|e| e.to_string())?
        + trailing.len();
    let mut out = BytesMut::with_capacity(PREFIX_LEN + size);
    frame::write_prefix(size, &mut out).map_err(|e| e.to_string())?;
    d.header.encode(hv, &mut out).map_err(|e| e.to_string())?;
    body.encode(d.body_version, &mut out)
        .map_err(|e| e.to_string())?;
    out.extend_from_slice(trailing);
    if out.len() == PREFIX_LEN + size {
        Ok(out.freeze())
    } else {
        Err(format!(
            "encoded {} bytes, expected {}",
            out.len(),
            PREFIX_LEN + size
        ))
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use kafka_wire::codec::{CorrelationId, encode_response};
    use kafka_wire::frame::DEFAULT_MAX_FRAME;
    use kafka_wire::generated::find_coordinator_response::Coordinator;
    use kafka_wire::generated::metadata_response::MetadataResponseBroker;
    use kafka_wire::generated::{FindCoordinatorResponse, MetadataResponse};
    use serde_json::Value;

    use super::*;

    fn broker(id: i32, host: &str, port: i32) -> MetadataResponseBroker {
        MetadataResponseBroker {
            node_id: id,
            host: host.into(),
            port,
            ..MetadataResponseBroker::default()
        }
    }

    /// Routes port 1000 + n to 2000 + n on host "proxy"; anything else is left alone.
    fn route(host: &str, port: i32) -> Option<HostPort> {
        (host == "b" && (1000..1100).contains(&port))
            .then(|| HostPort::new("proxy", u16::try_from(port + 1000).expect("small")))
    }

    #[test]
    fn rewrites_metadata_and_find_coordinator_addresses() {
        let mut m = AnyResponse::Metadata(MetadataResponse {
            brokers: vec![broker(1, "b", 1001), broker(2, "elsewhere", 1002)],
            ..MetadataResponse::default()
        });
        let done = rewrite_addresses(&mut m, 12, &mut route);
        assert_eq!(
            done,
            vec![Rewrite {
                from: "b:1001".into(),
                to: "proxy:2001".into()
            }]
        );
        let AnyResponse::Metadata(m) = m else {
            unreachable!()
        };
        assert_eq!((&*m.brokers[0].host, m.brokers[0].port), ("proxy", 2001));
        assert_eq!(
            (&*m.brokers[1].host, m.brokers[1].port),
            ("elsewhere", 1002)
        );

        let mut old = AnyResponse::FindCoordinator(FindCoordinatorResponse {
            host: "b".into(),
            port: 1005,
            ..FindCoordinatorResponse::default()
        });
        assert_eq!(rewrite_addresses(&mut old, 3, &mut route).len(), 1);
        let AnyResponse::FindCoordinator(old) = old else {
            unreachable!()
        };
        assert_eq!((&*old.host, old.port), ("proxy", 2005));

        let coordinator = |port| Coordinator {
            key: "g".into(),
            host: "b".into(),
            port,
            ..Coordinator::default()
        };
        let mut new = AnyResponse::FindCoordinator(FindCoordinatorResponse {
            coordinators: vec![coordinator(1007), coordinator(1008)],
            ..FindCoordinatorResponse::default()
        });
        assert_eq!(rewrite_addresses(&mut new, 4, &mut route).len(), 2);
        let AnyResponse::FindCoordinator(new) = new else {
            unreachable!()
        };
        let ports: Vec<i32> = new.coordinators.iter().map(|c| c.port).collect();
        assert_eq!(ports, vec![2007, 2008]);
    }

    /// Feeds `data` in chunks of `chunk` bytes to a response half that expects Metadata v12.
    fn feed_responses(data: &[u8], chunk: usize) -> (Fed, Half) {
        let mut half = Half::new(1, "b:1001".into(), Direction::Response, DEFAULT_MAX_FRAME);
        let mut pending = Pending::default();
        pending.push(7, ApiKey::Metadata, 12);
        let mut fed = Fed::default();
        for piece in data.chunks(chunk) {
            half.feed(piece, &mut pending, &mut route, &mut fed);
        }
        half.finish(&mut fed);
        (fed, half)
    }

    fn metadata_frame(brokers: Vec<MetadataResponseBroker>) -> Vec<u8> {
        let resp = AnyResponse::Metadata(MetadataResponse {
            brokers,
            ..MetadataResponse::default()
        });
        let mut out = BytesMut::new();
        encode_response(CorrelationId(7), 12, &resp, &mut out).expect("encodes");
        out.to_vec()
    }

    #[test]
    fn response_half_rewrites_in_any_chunking() {
        let input = metadata_frame(vec![broker(1, "b", 1001)]);
        let expected = metadata_frame(vec![broker(1, "proxy", 2001)]);
        for chunk in [1, 3, 7, input.len()] {
            let (fed, _) = feed_responses(&input, chunk);
            assert_eq!(fed.forward, expected, "chunk {chunk}");
            assert_eq!(fed.lines.len(), 1);
            let line: Value = serde_json::from_str(&fed.lines[0]).expect("JSON");
            assert_eq!(line["api_name"], "Metadata");
            assert_eq!(line["body"]["Brokers"][0]["Port"], 2001);
            assert_eq!(line["rewrites"][0]["from"], "b:1001");
        }
    }

    #[test]
    fn unmatched_and_garbage_responses_pass_unchanged() {
        // Correlation id 9 was never asked for, then a negative size prefix.
        let mut input = vec![0, 0, 0, 5, 0, 0, 0, 9, 1];
        input.extend_from_slice(&[0xff, 0xff, 0xff, 0xfe, 1, 2, 3]);
        let (fed, half) = feed_responses(&input, 2);
        assert_eq!(fed.forward, input);
        assert_eq!(fed.lines.len(), 2, "{:?}", fed.lines);
        assert!(fed.lines[0].contains("matches no unanswered request"));
        assert!(fed.lines[1].contains("negative size prefix -2"));
        assert_eq!(half.offset, to_u64(input.len()));
    }

    #[test]
    fn lying_prefix_is_reported_at_the_end_and_forwarded() {
        let input = [0, 0, 3, 232, 0, 0, 0, 7, 1, 2];
        let (fed, _) = feed_responses(&input, 4);
        assert_eq!(fed.forward, input);
        assert_eq!(fed.lines.len(), 1);
        assert!(
            fed.lines[0].contains("says 1000 bytes but only 6 arrived"),
            "{}",
            fed.lines[0]
        );
    }

    #[test]
    fn requests_are_forwarded_at_once_and_remembered() {
        let mut half = Half::new(1, "b:1001".into(), Direction::Request, DEFAULT_MAX_FRAME);
        let mut pending = Pending::default();
        let mut fed = Fed::default();
        // Heartbeat v0 request (header v1, client id null) for group "g", split in two.
        let req = [
            0, 0, 0, 20, 0, 12, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0, 1, b'g', 0, 0, 0, 1, 0, 1, b'm',
        ];
        let (first, second) = req.split_at(6);
        half.feed(first, &mut pending, &mut route, &mut fed);
        assert_eq!(fed.forward, first);
        assert!(fed.lines.is_empty());
        fed.clear();
        half.feed(second, &mut pending, &mut route, &mut fed);
        assert_eq!(fed.forward, second);
        assert_eq!(fed.lines.len(), 1, "{:?}", fed.lines);
        assert_eq!(pending.pop(3), Some((ApiKey::Heartbeat, 0)));
    }
}
