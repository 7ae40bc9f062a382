//! Encode outputs: any [`BufMut`] (one contiguous buffer), or [`Vectored`], which keeps large
//! `bytes` and `records` fields as the [`Bytes`] they already are, for `writev`.

use alloc::vec::Vec;

use bytes::{BufMut, Bytes, BytesMut};

/// Where generated encoders write. Implemented for every [`BufMut`] (everything is copied in)
/// and for [`Vectored`] (large shared byte fields are referenced, not copied).
pub(crate) trait Out {
    fn put_slice(&mut self, s: &[u8]);
    /// A `bytes`/`records` field's content: copied into a `BufMut`, or kept as a chunk.
    fn put_shared(&mut self, b: &Bytes) {
        self.put_slice(b);
    }
    #[inline(always)]
    fn put_u8(&mut self, n: u8) {
        self.put_slice(&[n]);
    }
    #[inline(always)]
    fn put_i8(&mut self, n: i8) {
        self.put_slice(&n.to_be_bytes());
    }
    #[inline(always)]
    fn put_i16(&mut self, n: i16) {
        self.put_slice(&n.to_be_bytes());
    }
    #[inline(always)]
    fn put_u16(&mut self, n: u16) {
        self.put_slice(&n.to_be_bytes());
    }
    #[inline(always)]
    fn put_i32(&mut self, n: i32) {
        self.put_slice(&n.to_be_bytes());
    }
    #[inline(always)]
    fn put_u32(&mut self, n: u32) {
        self.put_slice(&n.to_be_bytes());
    }
    #[inline(always)]
    fn put_i64(&mut self, n: i64) {
        self.put_slice(&n.to_be_bytes());
    }
    #[inline(always)]
    fn put_f64(&mut self, n: f64) {
        self.put_slice(&n.to_be_bytes());
    }
}

impl<B: BufMut> Out for B {
    #[inline(always)]
    fn put_slice(&mut self, s: &[u8]) {
        BufMut::put_slice(self, s);
    }
    #[inline(always)]
    fn put_u8(&mut self, n: u8) {
        BufMut::put_u8(self, n);
    }
}

/// A vectored encode output: a list of [`Bytes`] chunks whose concatenation is the encoded
/// message, for `writev`-style IO.
///
/// Message bytes are written into an internal [`BytesMut`], except the content of `bytes` and
/// `records` fields (and packed arrays) of at least [`threshold`](Vectored::threshold) bytes:
/// those become chunks of their own, as clones of the `Bytes` the message holds, so a Fetch
/// response's record sets are never copied. [`Encode::encode`](crate::Encode::encode) into a
/// `BufMut` is the contiguous alternative; both produce the same bytes.
///
/// ```
/// use bytes::Bytes;
/// use kafka_wire::generated::fetch_response::{FetchableTopicResponse, PartitionData};
/// use kafka_wire::generated::FetchResponse;
/// use kafka_wire::{Encode, Vectored};
///
/// let records = Bytes::from(vec![7u8; 64 * 1024]);
/// let resp = FetchResponse {
///     responses: vec![FetchableTopicResponse {
///         partitions: vec![PartitionData { records: Some(records.clone()), ..Default::default() }],
///         ..Default::default()
///     }],
///     ..Default::default()
/// };
/// let mut out = Vectored::new();
/// resp.encode_vectored(16, &mut out)?;
/// assert_eq!(out.len(), resp.encoded_len(16)?);
/// let chunks = out.take_chunks();
/// // The records chunk is the same memory as `records`.
/// assert!(chunks.iter().any(|c| c.as_ptr() == records.as_ptr()));
/// # Ok::<(), kafka_wire::EncodeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Vectored {
    done: Vec<Bytes>,
    head: BytesMut,
    done_len: usize,
    threshold: usize,
}

impl Default for Vectored {
    fn default() -> Self {
        Self::new()
    }
}

impl Vectored {
    /// The default [`threshold`](Vectored::threshold): 4 KiB.
    pub const DEFAULT_THRESHOLD: usize = 4096;

    /// An empty output with the default threshold.
    #[must_use]
    pub fn new() -> Self {
        Self::with_threshold(Self::DEFAULT_THRESHOLD)
    }

    /// An empty output that keeps byte fields of at least `threshold` bytes as chunks.
    #[must_use]
    pub fn with_threshold(threshold: usize) -> Self {
        Self {
            done: Vec::new(),
            head: BytesMut::new(),
            done_len: 0,
            threshold: threshold.max(1),
        }
    }

    /// Byte fields at least this long are kept as chunks instead of being copied.
    #[must_use]
    pub const fn threshold(&self) -> usize {
        self.threshold
    }

    /// Reserves room for `additional` copied bytes.
    pub fn reserve(&mut self, additional: usize) {
        self.head.reserve(additional);
    }

    /// Total bytes written so far (copied and referenced).
    #[must_use]
    pub fn len(&self) -> usize {
        self.done_len + self.head.len()
    }

    /// Whether nothing was written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops everything written (keeps the threshold).
    pub fn clear(&mut self) {
        self.done.clear();
        self.done_len = 0;
        self.head.clear();
    }

    /// Takes the chunks written so far, in order, and leaves the output empty.
    pub fn take_chunks(&mut self) -> Vec<Bytes> {
        self.flush();
        self.done_len = 0;
        core::mem::take(&mut self.done)
    }

    /// The chunks written so far (after moving the copied bytes into a chunk).
    pub fn chunks(&mut self) -> &[Bytes] {
        self.flush();
        &self.done
    }

    /// Where the output stands now, for [`rollback`](Self::rollback).
    pub(crate) fn mark(&self) -> Mark {
        Mark {
            chunks: self.done.len(),
            done_len: self.done_len,
            head_len: self.head.len(),
        }
    }

    /// Drops everything written since `mark` (taken from this output, with no
    /// [`take_chunks`](Self::take_chunks) or [`clear`](Self::clear) since). The bytes before
    /// the mark are kept; they may end up split into chunks differently.
    pub(crate) fn rollback(&mut self, mark: Mark) {
        if self.done.len() == mark.chunks {
            self.head.truncate(mark.head_len);
            return;
        }
        // The first flush after the mark pushed the head of that time, plus what followed it,
        // as chunk `mark.chunks`; keep only the part from before the mark.
        if mark.head_len == 0 {
            self.done.truncate(mark.chunks);
        } else {
            self.done.truncate(mark.chunks + 1);
            if let Some(last) = self.done.last_mut() {
                last.truncate(mark.head_len);
            }
        }
        self.done_len = mark.done_len + mark.head_len;
        self.head.clear();
    }

    /// The buffer that copied bytes go to, for writers that need a [`BufMut`] (frame prefixes
    /// and headers).
    pub(crate) fn head_mut(&mut self) -> &mut BytesMut {
        &mut self.head
    }

    fn flush(&mut self) {
        if !self.head.is_empty() {
            self.done_len += self.head.len();
            self.done.push(self.head.split().freeze());
        }
    }
}

/// A position in a [`Vectored`] output (see [`Vectored::rollback`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    chunks: usize,
    done_len: usize,
    head_len: usize,
}

impl Out for Vectored {
    #[inline(always)]
    fn put_slice(&mut self, s: &[u8]) {
        self.head.extend_from_slice(s);
    }

    #[inline]
    fn put_shared(&mut self, b: &Bytes) {
        if b.len() >= self.threshold {
            self.flush();
            self.done_len += b.len();
            self.done.push(b.clone());
        } else {
            self.head.extend_from_slice(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;

    fn joined(out: &mut Vectored) -> Vec<u8> {
        out.chunks()
            .iter()
            .flat_map(|c| c.iter().copied())
            .collect()
    }

    /// Writes `copied` bytes, then a shared chunk of `shared` bytes (if any), then `tail`.
    fn write(out: &mut Vectored, copied: &[u8], shared: usize, tail: &[u8]) {
        out.put_slice(copied);
        if shared > 0 {
            out.put_shared(&Bytes::from(vec![9; shared]));
        }
        out.put_slice(tail);
    }

    #[test]
    fn rollback_restores_the_bytes_in_every_layout() {
        // (bytes before the mark: copied, shared, tail), (after the mark: the same)
        let befores: [(&[u8], usize, &[u8]); 4] = [
            (b"", 0, b""),
            (b"ab", 0, b""),
            (b"ab", 8, b""),
            (b"ab", 8, b"cd"),
        ];
        let afters: [(&[u8], usize, &[u8]); 4] = [
            (b"x", 0, b""),
            (b"x", 8, b""),
            (b"", 8, b"y"),
            (b"x", 8, b"yz"),
        ];
        for (bc, bs, bt) in befores {
            for (ac, as_, at) in afters {
                let mut out = Vectored::with_threshold(8);
                write(&mut out, bc, bs, bt);
                let mut expected = out.clone();
                let expected = joined(&mut expected);
                let mark = out.mark();
                write(&mut out, ac, as_, at);
                out.rollback(mark);
                assert_eq!(out.len(), expected.len());
                assert_eq!(joined(&mut out), expected);
                // The output stays usable: later writes append after the kept bytes.
                write(&mut out, b"q", 8, b"r");
                let mut want = expected.clone();
                want.extend_from_slice(b"q");
                want.extend_from_slice(&[9; 8]);
                want.extend_from_slice(b"r");
                assert_eq!(out.len(), want.len());
                assert_eq!(joined(&mut out), want);
            }
        }
    }
}
