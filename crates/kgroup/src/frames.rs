//! Reading size-prefixed Kafka frames from a byte stream (a file or standard input).
//!
//! Unlike [`kafka_wire::FrameDecoder`], which waits for more bytes, a capture file is complete:
//! a partial frame at its end is an error, reported with the frame's byte offset.

use std::io::{self, Read};

use bytes::Bytes;
use kafka_wire::frame::{self, FrameError, PREFIX_LEN};

/// One frame read from a stream.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    /// Index of the frame within its stream, from 0.
    pub(crate) index: usize,
    /// Byte offset of the frame's size prefix within its stream.
    pub(crate) offset: u64,
    /// The frame without its size prefix (header and body).
    pub(crate) bytes: Bytes,
}

impl Frame {
    /// Absolute stream offset of byte `rel` of the frame body (after the size prefix).
    pub(crate) fn abs(&self, rel: usize) -> u64 {
        self.offset + to_u64(PREFIX_LEN) + to_u64(rel)
    }
}

/// Why the next frame could not be read.
#[derive(Debug)]
pub(crate) enum FrameReadError {
    /// Reading the stream failed.
    Io(io::Error),
    /// The stream ended inside a size prefix after `got` of its 4 bytes.
    TruncatedPrefix {
        /// Bytes of the prefix present.
        got: usize,
    },
    /// The size prefix is negative or above the maximum.
    Size(FrameError),
    /// The stream ended inside a frame body.
    TruncatedBody {
        /// Body size the prefix announced.
        size: usize,
        /// Body bytes present.
        got: usize,
    },
}

/// Reads frames one by one, never buffering more than one frame.
#[derive(Debug)]
pub(crate) struct FrameReader<R> {
    /// The byte stream.
    inner: R,
    /// Largest accepted frame body.
    max: usize,
    /// Index of the next frame.
    index: usize,
    /// Stream offset of the next frame.
    offset: u64,
}

impl<R: Read> FrameReader<R> {
    /// Wraps `inner`; frames whose body exceeds `max` bytes are rejected before allocating.
    pub(crate) const fn new(inner: R, max: usize) -> Self {
        Self {
            inner,
            max,
            index: 0,
            offset: 0,
        }
    }

    /// Index the next frame will have.
    pub(crate) const fn index(&self) -> usize {
        self.index
    }

    /// Byte offset where the next frame starts.
    pub(crate) const fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads the next frame; `Ok(None)` at a clean end of stream (between frames).
    ///
    /// # Errors
    /// See [`FrameReadError`]. After an error the reader should not be used again.
    pub(crate) fn next_frame(&mut self) -> Result<Option<Frame>, FrameReadError> {
        let mut prefix = [0_u8; PREFIX_LEN];
        let got = read_full(&mut self.inner, &mut prefix).map_err(FrameReadError::Io)?;
        if got == 0 {
            return Ok(None);
        }
        if got < PREFIX_LEN {
            return Err(FrameReadError::TruncatedPrefix { got });
        }
        let len = frame::check_size(i32::from_be_bytes(prefix), self.max)
            .map_err(FrameReadError::Size)?;
        // No up-front reservation: a lying prefix costs only the bytes actually present.
        let mut body = Vec::new();
        (&mut self.inner)
            .take(to_u64(len))
            .read_to_end(&mut body)
            .map_err(FrameReadError::Io)?;
        if body.len() < len {
            return Err(FrameReadError::TruncatedBody {
                size: len,
                got: body.len(),
            });
        }
        let frame = Frame {
            index: self.index,
            offset: self.offset,
            bytes: Bytes::from(body),
        };
        self.index += 1;
        self.offset += to_u64(PREFIX_LEN + len);
        Ok(Some(frame))
    }
}

/// Fills `buf` as far as the stream allows; returns the number of bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Widens a byte count (lossless on every supported target).
pub(crate) fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(data: &[u8], max: usize) -> Result<Vec<(u64, Vec<u8>)>, FrameReadError> {
        let mut r = FrameReader::new(data, max);
        let mut out = Vec::new();
        while let Some(f) = r.next_frame()? {
            out.push((f.offset, f.bytes.to_vec()));
        }
        Ok(out)
    }

    #[test]
    fn splits_back_to_back_frames() {
        let data = [0, 0, 0, 2, 9, 8, 0, 0, 0, 0, 0, 0, 0, 1, 7];
        let got = frames(&data, 100).expect("valid frames");
        assert_eq!(got, vec![(0, vec![9, 8]), (6, vec![]), (10, vec![7])]);
    }

    #[test]
    fn reports_truncation_and_bad_sizes() {
        assert!(matches!(
            frames(&[0, 0, 0, 5, 1, 2], 100),
            Err(FrameReadError::TruncatedBody { size: 5, got: 2 })
        ));
        assert!(matches!(
            frames(&[0, 0], 100),
            Err(FrameReadError::TruncatedPrefix { got: 2 })
        ));
        assert!(matches!(
            frames(&[0xff, 0xff, 0xff, 0xff], 100),
            Err(FrameReadError::Size(FrameError::NegativeSize(-1)))
        ));
        assert!(matches!(
            frames(&[0, 0, 1, 0], 100),
            Err(FrameReadError::Size(FrameError::TooLarge {
                size: 256,
                max: 100
            }))
        ));
    }
}
