//! Random valid values for property tests, fuzzing and benchmarks (feature `testing`).

use alloc::vec::Vec;

use bytes::Bytes;
use bytestring::ByteString;

use crate::types::{RawTaggedField, Uuid};

/// A small deterministic generator (SplitMix64): the same seed gives the same values.
#[derive(Debug, Clone)]
pub struct Gen {
    state: u64,
    max_len: usize,
}

impl Gen {
    /// A generator from a seed; arrays get at most 3 elements.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self {
            state: seed,
            max_len: 3,
        }
    }

    /// Sets the maximum array length.
    #[must_use]
    pub const fn with_max_len(mut self, max_len: usize) -> Self {
        self.max_len = max_len;
        self
    }

    /// Next raw 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability 1/n.
    pub fn chance(&mut self, n: u64) -> bool {
        self.next_u64() % n.max(1) == 0
    }

    /// A length in 0..=max_len.
    #[expect(
        clippy::len_without_is_empty,
        reason = "a random length, not a container"
    )]
    pub fn len(&mut self) -> usize {
        (self.next_u64() % (self.max_len as u64 + 1)) as usize
    }

    /// Random boolean.
    pub fn bool(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
    /// Random i8.
    pub fn i8(&mut self) -> i8 {
        self.next_u64() as i8
    }
    /// Random i16.
    pub fn i16(&mut self) -> i16 {
        self.next_u64() as i16
    }
    /// Random u16.
    pub fn u16(&mut self) -> u16 {
        self.next_u64() as u16
    }
    /// Random i32 (often small, sometimes extreme).
    pub fn i32(&mut self) -> i32 {
        match self.next_u64() % 4 {
            0 => (self.next_u64() % 16) as i32 - 1,
            _ => self.next_u64() as i32,
        }
    }
    /// Random u32.
    pub fn u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    /// Random i64.
    pub fn i64(&mut self) -> i64 {
        match self.next_u64() % 4 {
            0 => (self.next_u64() % 16) as i64 - 1,
            _ => self.next_u64() as i64,
        }
    }
    /// Random finite f64.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() % 1_000_000) as f64 / 7.0
    }
    /// Random UUID.
    pub fn uuid(&mut self) -> Uuid {
        Uuid::from_u64_pair(self.next_u64(), self.next_u64())
    }
    /// Random short string, sometimes non-ASCII.
    pub fn string(&mut self) -> ByteString {
        const PIECES: &[&str] = &[
            "a",
            "topic",
            "-",
            "é",
            "群",
            "0",
            "_",
            "consumer",
            "\u{1F600}",
        ];
        let n = (self.next_u64() % 6) as usize;
        let mut s = alloc::string::String::new();
        for _ in 0..n {
            s.push_str(PIECES[(self.next_u64() % PIECES.len() as u64) as usize]);
        }
        ByteString::from(s)
    }
    /// Random short bytes.
    pub fn bytes(&mut self) -> Bytes {
        let n = (self.next_u64() % 20) as usize;
        let v: Vec<u8> = (0..n).map(|_| self.next_u64() as u8).collect();
        Bytes::from(v)
    }
    /// Sometimes a few unknown tagged fields with tags at or above `from`, ascending.
    pub fn unknown_tags(&mut self, from: u32) -> Vec<RawTaggedField> {
        if !self.chance(4) {
            return Vec::new();
        }
        let mut tag = from + (self.next_u64() % 3) as u32;
        let n = 1 + (self.next_u64() % 2) as usize;
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(RawTaggedField {
                tag,
                data: self.bytes(),
            });
            tag += 1 + (self.next_u64() % 200) as u32;
        }
        v
    }
}
