//! JSON-friendly serialisation helpers: bytes as lowercase hex strings.

use alloc::string::String;
use bytes::Bytes;
use serde::Serializer;

pub(crate) struct Hex<'a>(pub(crate) &'a [u8]);

impl serde::Serialize for Hex<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(self.0.len() * 2);
        for b in self.0 {
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 15)]));
        }
        s.serialize_str(&out)
    }
}

pub(crate) fn bytes<S: Serializer>(b: &Bytes, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_some(&Hex(b))
}

pub(crate) fn opt_bytes<S: Serializer>(b: &Option<Bytes>, s: S) -> Result<S::Ok, S::Error> {
    match b {
        Some(b) => s.serialize_some(&Hex(b)),
        None => s.serialize_none(),
    }
}
