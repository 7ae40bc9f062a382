//! Size-prefixed framing: every Kafka request and response travels as an int32 big-endian byte
//! count followed by that many bytes (header plus body).
//!
//! This is the only layer that knows about "need more bytes": message decoders always get a
//! complete frame. Two entry points read frames:
//!
//! - [`split`] works on a caller-owned [`BytesMut`] (read the socket straight into it, then call
//!   `split` until it returns `Ok(None)`);
//! - [`FrameDecoder`] owns its buffer and accepts arbitrary chunks via [`FrameDecoder::push`].
//!
//! Both reject a negative size or a size above the configured maximum as soon as the four
//! prefix bytes are visible, before any room is reserved for the body. Returned frames are
//! zero-copy [`Bytes`] slices of the receive buffer.
//!
//! [`write_frame`] and [`write_prefix`] produce frames.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, DecodeErrorKind};

/// Length of the size prefix in bytes.
pub const PREFIX_LEN: usize = 4;

/// A sensible default maximum frame size: 100 MiB, Kafka's own `socket.request.max.bytes`
/// default.
pub const DEFAULT_MAX_FRAME: usize = 100 * 1024 * 1024;

/// The largest body a size prefix can describe (`i32::MAX`).
// Lossless: i32::MAX is positive and usize is at least 32 bits on every supported target.
pub const MAX_PREFIXABLE: usize = i32::MAX as usize;

/// A framing failure.
///
/// Either error means the byte stream can no longer be trusted: the connection should be
/// closed. It converts into a [`DecodeError`] (`InvalidLength` or `FrameTooLarge`, offset 0)
/// for callers that handle a single error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The size prefix was negative.
    #[error("negative frame size {0}")]
    NegativeSize(i32),
    /// The size prefix (or, when writing, the body length) exceeds the maximum.
    #[error("frame of {size} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Declared (or requested) size of the body, without the prefix.
        size: usize,
        /// The maximum that applied.
        max: usize,
    },
}

impl From<FrameError> for DecodeError {
    fn from(e: FrameError) -> Self {
        let kind = match e {
            FrameError::NegativeSize(n) => DecodeErrorKind::InvalidLength(i64::from(n)),
            FrameError::TooLarge { size, max } => DecodeErrorKind::FrameTooLarge {
                size: i64::try_from(size).unwrap_or(i64::MAX),
                max,
            },
        };
        Self {
            offset: 0,
            field: "length",
            kind,
        }
    }
}

/// Validates a raw size prefix against `max` and returns the body length.
///
/// # Errors
/// [`FrameError::NegativeSize`] or [`FrameError::TooLarge`].
pub fn check_size(size: i32, max: usize) -> Result<usize, FrameError> {
    let len = usize::try_from(size).map_err(|_| FrameError::NegativeSize(size))?;
    if len > max {
        return Err(FrameError::TooLarge { size: len, max });
    }
    Ok(len)
}

/// Reads the size prefix at `buf[at..at + 4]`, if all four bytes are there.
fn prefix_at(buf: &[u8], at: usize) -> Option<i32> {
    let b = buf.get(at..at.checked_add(PREFIX_LEN)?)?;
    Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Takes one complete frame off the front of `buf`.
///
/// Returns the frame body (without the 4-byte prefix) as a zero-copy slice of `buf`'s storage,
/// or `Ok(None)` when `buf` does not yet hold a whole frame (nothing is consumed then). Call it
/// in a loop until it returns `Ok(None)`: one read may deliver several frames.
///
/// The size prefix is checked as soon as its four bytes are present, before waiting for (or
/// reserving room for) the body. `split` never reserves or allocates; growing `buf` is the
/// caller's business ([`bytes_needed`] says how much a complete frame needs).
///
/// # Errors
/// [`FrameError::NegativeSize`] or [`FrameError::TooLarge`] (size above `max`). `buf` is left
/// untouched; the stream is unusable afterwards.
pub fn split(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>, FrameError> {
    let Some(size) = prefix_at(buf, 0) else {
        return Ok(None);
    };
    let len = check_size(size, max)?;
    if buf.len() - PREFIX_LEN < len {
        return Ok(None);
    }
    buf.advance(PREFIX_LEN);
    Ok(Some(buf.split_to(len).freeze()))
}

/// How many more bytes `buf` needs before [`split`] can return the next frame.
///
/// Returns 0 when a whole frame is already buffered, and the bytes missing from the prefix when
/// fewer than four are buffered (the body size is not known yet).
///
/// # Errors
/// As [`split`], when the prefix is visible and invalid.
pub fn bytes_needed(buf: &[u8], max: usize) -> Result<usize, FrameError> {
    let Some(size) = prefix_at(buf, 0) else {
        return Ok(PREFIX_LEN - buf.len());
    };
    let total = PREFIX_LEN + check_size(size, max)?;
    Ok(total.saturating_sub(buf.len()))
}

/// Writes the 4-byte size prefix for a body of `len` bytes.
///
/// # Errors
/// [`FrameError::TooLarge`] if `len` exceeds [`MAX_PREFIXABLE`]; nothing is written then.
pub fn write_prefix<B: BufMut>(len: usize, out: &mut B) -> Result<(), FrameError> {
    let size = i32::try_from(len).map_err(|_| FrameError::TooLarge {
        size: len,
        max: MAX_PREFIXABLE,
    })?;
    out.put_i32(size);
    Ok(())
}

/// Writes `body` as one frame: size prefix, then the bytes.
///
/// # Errors
/// [`FrameError::TooLarge`] if the body exceeds [`MAX_PREFIXABLE`]; nothing is written then.
pub fn write_frame<B: BufMut>(body: &[u8], out: &mut B) -> Result<(), FrameError> {
    write_prefix(body.len(), out)?;
    out.put_slice(body);
    Ok(())
}

/// Stateful frame reader for callers that receive arbitrary chunks.
///
/// Feed bytes with [`FrameDecoder::push`], then drain [`FrameDecoder::next_frame`] until it
/// returns `Ok(None)`. Chunk boundaries do not matter: any split of the same stream yields the
/// same frames.
///
/// `push` validates each size prefix as soon as it is complete and refuses the rest of the
/// input if it is invalid, so at most four bytes of a bad frame are ever buffered. The first
/// error is sticky: later calls to either method report it again and buffer nothing.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max: usize,
    buf: BytesMut,
    /// Offset in `buf` of the first frame whose size prefix has not been validated yet; every
    /// byte before it belongs to a validated frame.
    scan: usize,
    error: Option<FrameError>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl FrameDecoder {
    /// Creates a decoder that accepts frame bodies up to `max` bytes.
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self {
            max,
            buf: BytesMut::new(),
            scan: 0,
            error: None,
        }
    }

    /// The maximum frame body size.
    #[must_use]
    pub const fn max(&self) -> usize {
        self.max
    }

    /// Bytes received but not yet returned as frames.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The sticky error, if a bad size prefix has been seen.
    #[must_use]
    pub const fn error(&self) -> Option<FrameError> {
        self.error
    }

    /// Appends received bytes.
    ///
    /// Each size prefix is checked as soon as its fourth byte arrives; the body of an invalid
    /// frame is never buffered.
    ///
    /// # Errors
    /// The (sticky) [`FrameError`] of the first invalid size prefix; the offending input and
    /// everything after it is dropped.
    pub fn push(&mut self, mut data: &[u8]) -> Result<(), FrameError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        while !data.is_empty() {
            let want = if self.buf.len() < self.scan {
                // Inside the body of a validated frame.
                self.scan - self.buf.len()
            } else {
                // Completing the next size prefix.
                self.scan + PREFIX_LEN - self.buf.len()
            };
            let n = want.min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            self.validate_prefixes()?;
        }
        Ok(())
    }

    /// Validates every size prefix that is complete in the buffer, advancing `scan`.
    fn validate_prefixes(&mut self) -> Result<(), FrameError> {
        while let Some(size) = prefix_at(&self.buf, self.scan) {
            match check_size(size, self.max) {
                Ok(len) => self.scan += PREFIX_LEN + len,
                Err(e) => {
                    self.error = Some(e);
                    // Drop the bad prefix bytes: nothing of this frame stays buffered.
                    self.buf.truncate(self.scan);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Returns the next complete frame body, or `Ok(None)` if more bytes are needed.
    ///
    /// # Errors
    /// The sticky [`FrameError`], once a bad size prefix has been seen and every complete frame
    /// before it has been returned.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        match split(&mut self.buf, self.max) {
            Ok(Some(frame)) => {
                self.scan -= PREFIX_LEN + frame.len();
                Ok(Some(frame))
            }
            Ok(None) => self.error.map_or(Ok(None), Err),
            // Unreachable in practice: `push` validated every complete prefix.
            Err(e) => {
                self.error = Some(e);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;
    use alloc::vec::Vec;

    use super::*;

    /// Tiny deterministic PRNG (xorshift64*) for chunking tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn bodies() -> Vec<Vec<u8>> {
        vec![
            b"hello".to_vec(),
            Vec::new(),
            (0..=255u8).collect(),
            vec![7; 1000],
            Vec::new(),
            b"x".to_vec(),
        ]
    }

    fn stream(bodies: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for b in bodies {
            write_frame(b, &mut out).unwrap();
        }
        out
    }

    /// Feeds `data` in the given chunk sizes through both `split` and `FrameDecoder`.
    fn run_chunks(data: &[u8], chunks: &[usize]) -> (Vec<Bytes>, Vec<Bytes>) {
        let mut via_split = Vec::new();
        let mut via_decoder = Vec::new();
        let mut buf = BytesMut::new();
        let mut dec = FrameDecoder::new(4096);
        let mut rest = data;
        for &c in chunks {
            let (now, later) = rest.split_at(c.min(rest.len()));
            rest = later;
            buf.extend_from_slice(now);
            while let Some(f) = split(&mut buf, 4096).unwrap() {
                via_split.push(f);
            }
            dec.push(now).unwrap();
            while let Some(f) = dec.next_frame().unwrap() {
                via_decoder.push(f);
            }
        }
        assert!(rest.is_empty());
        assert!(buf.is_empty());
        assert_eq!(dec.buffered(), 0);
        (via_split, via_decoder)
    }

    #[test]
    fn frame_whole_stream_at_once() {
        let bodies = bodies();
        let data = stream(&bodies);
        let (a, b) = run_chunks(&data, &[data.len()]);
        assert_eq!(a, bodies);
        assert_eq!(b, bodies);
    }

    #[test]
    fn frame_one_byte_at_a_time() {
        let bodies = bodies();
        let data = stream(&bodies);
        let (a, b) = run_chunks(&data, &vec![1; data.len()]);
        assert_eq!(a, bodies);
        assert_eq!(b, bodies);
    }

    #[test]
    fn frame_random_chunkings_agree() {
        let bodies = bodies();
        let data = stream(&bodies);
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..500 {
            let mut chunks = Vec::new();
            let mut left = data.len();
            while left > 0 {
                let c = 1 + rng.below(left.min(300));
                chunks.push(c);
                left -= c;
            }
            let (a, b) = run_chunks(&data, &chunks);
            assert_eq!(a, bodies, "chunks {chunks:?}");
            assert_eq!(b, bodies, "chunks {chunks:?}");
        }
    }

    #[test]
    fn frame_zero_size_frames() {
        let mut buf = BytesMut::from(&[0u8, 0, 0, 0, 0, 0, 0, 0][..]);
        assert_eq!(split(&mut buf, 0).unwrap(), Some(Bytes::new()));
        assert_eq!(split(&mut buf, 0).unwrap(), Some(Bytes::new()));
        assert_eq!(split(&mut buf, 0).unwrap(), None);
        let mut dec = FrameDecoder::new(0);
        dec.push(&[0, 0, 0, 0]).unwrap();
        assert_eq!(dec.next_frame().unwrap(), Some(Bytes::new()));
        assert_eq!(dec.next_frame().unwrap(), None);
    }

    #[test]
    fn frame_partial_prefix_needs_more() {
        let mut buf = BytesMut::from(&[0u8, 0, 0][..]);
        assert_eq!(split(&mut buf, 10).unwrap(), None);
        assert_eq!(buf.len(), 3);
        assert_eq!(bytes_needed(&buf, 10).unwrap(), 1);
        buf.extend_from_slice(&[5, 1, 2]);
        assert_eq!(split(&mut buf, 10).unwrap(), None);
        assert_eq!(bytes_needed(&buf, 10).unwrap(), 3);
        buf.extend_from_slice(&[3, 4, 5, 9]);
        assert_eq!(bytes_needed(&buf, 10).unwrap(), 0);
        assert_eq!(split(&mut buf, 10).unwrap().unwrap(), &[1, 2, 3, 4, 5][..]);
        assert_eq!(&buf[..], &[9]);
    }

    #[test]
    fn frame_too_large_rejected_from_prefix_alone() {
        // Only the prefix is present: the error comes before any body byte is seen.
        let mut buf = BytesMut::from(&1001i32.to_be_bytes()[..]);
        let cap = buf.capacity();
        assert_eq!(
            split(&mut buf, 1000),
            Err(FrameError::TooLarge {
                size: 1001,
                max: 1000
            })
        );
        assert_eq!(buf.capacity(), cap, "split must not reserve");
        assert_eq!(buf.len(), 4, "split must not consume on error");
        // Exactly max is fine.
        let mut ok = BytesMut::from(&1000i32.to_be_bytes()[..]);
        assert_eq!(split(&mut ok, 1000), Ok(None));
        // A huge prefix does not allocate anything either.
        let mut huge = BytesMut::from(&i32::MAX.to_be_bytes()[..]);
        assert!(split(&mut huge, DEFAULT_MAX_FRAME).is_err());
        assert!(bytes_needed(&huge, DEFAULT_MAX_FRAME).is_err());
    }

    #[test]
    fn frame_decoder_never_buffers_oversized_body() {
        let mut dec = FrameDecoder::new(100);
        let mut data = stream(&[b"ok".to_vec()]);
        data.extend_from_slice(&5000i32.to_be_bytes());
        data.extend_from_slice(&[0xAB; 5000]);
        let err = FrameError::TooLarge {
            size: 5000,
            max: 100,
        };
        assert_eq!(dec.push(&data), Err(err));
        // Only the valid frame stays buffered; the bad prefix and body were dropped.
        assert_eq!(dec.buffered(), 6);
        assert_eq!(dec.next_frame().unwrap().unwrap(), &b"ok"[..]);
        assert_eq!(dec.next_frame(), Err(err));
        // Sticky: further input is refused and not buffered.
        assert_eq!(dec.push(&[0; 10]), Err(err));
        assert_eq!(dec.buffered(), 0);
        assert_eq!(dec.error(), Some(err));
    }

    #[test]
    fn frame_decoder_rejects_in_small_chunks() {
        let mut dec = FrameDecoder::new(100);
        dec.push(&[0, 0]).unwrap();
        dec.push(&[1]).unwrap();
        assert_eq!(dec.next_frame(), Ok(None));
        assert_eq!(
            dec.push(&[0x2C, 1, 2, 3]),
            Err(FrameError::TooLarge {
                size: 300,
                max: 100
            })
        );
        assert_eq!(dec.buffered(), 0);
    }

    #[test]
    fn frame_negative_size_rejected() {
        for bad in [-1i32, i32::MIN, -42] {
            let mut buf = BytesMut::from(&bad.to_be_bytes()[..]);
            assert_eq!(
                split(&mut buf, usize::MAX),
                Err(FrameError::NegativeSize(bad))
            );
            let mut dec = FrameDecoder::new(usize::MAX);
            assert_eq!(
                dec.push(&bad.to_be_bytes()),
                Err(FrameError::NegativeSize(bad))
            );
            assert_eq!(dec.next_frame(), Err(FrameError::NegativeSize(bad)));
        }
    }

    #[test]
    fn frame_error_converts_to_decode_error() {
        let d: DecodeError = FrameError::TooLarge { size: 9, max: 8 }.into();
        assert_eq!(d.kind, DecodeErrorKind::FrameTooLarge { size: 9, max: 8 });
        let d: DecodeError = FrameError::NegativeSize(-3).into();
        assert_eq!(d.kind, DecodeErrorKind::InvalidLength(-3));
    }

    #[test]
    fn frame_write_prefix_limits() {
        let mut out = Vec::new();
        write_prefix(MAX_PREFIXABLE, &mut out).unwrap();
        assert_eq!(out, i32::MAX.to_be_bytes());
        let mut out = Vec::new();
        assert!(matches!(
            write_prefix(MAX_PREFIXABLE + 1, &mut out),
            Err(FrameError::TooLarge { .. })
        ));
        assert!(out.is_empty());
    }
}
