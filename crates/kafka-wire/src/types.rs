//! Value types shared by every message: UUIDs, packed primitive arrays, raw tagged fields.

use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

use bytes::{BufMut, Bytes};

/// A Kafka UUID (16 raw bytes), e.g. a topic id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The all-zero UUID, Kafka's "no id".
    pub const ZERO: Self = Self([0; 16]);

    /// Builds a UUID from its most and least significant 64-bit halves, as Java does.
    #[must_use]
    pub const fn from_u64_pair(high: u64, low: u64) -> Self {
        let h = high.to_be_bytes();
        let l = low.to_be_bytes();
        Self([
            h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], l[0], l[1], l[2], l[3], l[4], l[5],
            l[6], l[7],
        ])
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Uuid {
    /// Formats as Java's `Uuid.toString()`: URL-safe base64 without padding (22 characters).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = [0u8; 22];
        let mut n = 0;
        for chunk in self.0.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let chars = chunk.len() + 1;
            for k in 0..chars {
                out[n] = ALPHABET[((v >> (18 - 6 * k)) & 63) as usize];
                n += 1;
            }
        }
        // Every byte of `out` comes from ALPHABET, which is ASCII.
        f.write_str(core::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

/// A fixed-size primitive that can live in a [`Packed`] array.
pub trait PackedElem: Copy + fmt::Debug + PartialEq + 'static {
    /// Size of one element on the wire.
    const SIZE: usize;
    /// Reads one element from exactly `SIZE` bytes.
    fn read(bytes: &[u8]) -> Self;
    /// Writes one element.
    fn write<B: BufMut>(self, out: &mut B);
}

macro_rules! packed_int {
    ($($t:ty),*) => {$(
        impl PackedElem for $t {
            const SIZE: usize = core::mem::size_of::<$t>();
            #[inline]
            fn read(bytes: &[u8]) -> Self {
                let mut a = [0u8; core::mem::size_of::<$t>()];
                a.copy_from_slice(&bytes[..Self::SIZE]);
                <$t>::from_be_bytes(a)
            }
            #[inline]
            fn write<B: BufMut>(self, out: &mut B) {
                out.put_slice(&self.to_be_bytes());
            }
        }
    )*};
}
packed_int!(i8, i16, i32, i64);

impl PackedElem for Uuid {
    const SIZE: usize = 16;
    #[inline]
    fn read(bytes: &[u8]) -> Self {
        let mut a = [0u8; 16];
        a.copy_from_slice(&bytes[..16]);
        Self(a)
    }
    #[inline]
    fn write<B: BufMut>(self, out: &mut B) {
        out.put_slice(&self.0);
    }
}

/// An array of fixed-size primitives kept in its wire form (big-endian), decoded on access.
///
/// Decoding a `[]int32` field is O(1): the array is a slice of the input buffer. Build one for
/// encoding with `Packed::from(vec![1, 2, 3])` or `.collect()`.
#[derive(Clone)]
pub struct Packed<T: PackedElem> {
    bytes: Bytes,
    _elem: PhantomData<T>,
}

impl<T: PackedElem> Packed<T> {
    /// An empty array.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            bytes: Bytes::new(),
            _elem: PhantomData,
        }
    }

    /// Wraps wire bytes; `bytes.len()` must be a multiple of `T::SIZE`.
    pub(crate) fn from_wire(bytes: Bytes) -> Self {
        debug_assert_eq!(bytes.len() % T::SIZE, 0);
        Self {
            bytes,
            _elem: PhantomData,
        }
    }

    /// Number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len() / T::SIZE
    }

    /// Whether the array has no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The element at `index`, if any.
    #[must_use]
    pub fn get(&self, index: usize) -> Option<T> {
        let start = index.checked_mul(T::SIZE)?;
        let end = start.checked_add(T::SIZE)?;
        self.bytes.get(start..end).map(T::read)
    }

    /// Iterates over the elements.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = T> + '_ {
        self.bytes.chunks_exact(T::SIZE).map(T::read)
    }

    /// Copies the elements into a `Vec`.
    #[must_use]
    pub fn to_vec(&self) -> Vec<T> {
        self.iter().collect()
    }

    /// The big-endian wire bytes (no length prefix).
    #[must_use]
    pub const fn wire_bytes(&self) -> &Bytes {
        &self.bytes
    }
}

impl<T: PackedElem> Default for Packed<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: PackedElem> PartialEq for Packed<T> {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl<T: PackedElem> Eq for Packed<T> {}

impl<T: PackedElem> fmt::Debug for Packed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: PackedElem> FromIterator<T> for Packed<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut buf = Vec::new();
        for x in iter {
            x.write(&mut buf);
        }
        Self::from_wire(Bytes::from(buf))
    }
}

impl<T: PackedElem> From<Vec<T>> for Packed<T> {
    fn from(v: Vec<T>) -> Self {
        v.into_iter().collect()
    }
}

impl<T: PackedElem> From<&[T]> for Packed<T> {
    fn from(v: &[T]) -> Self {
        v.iter().copied().collect()
    }
}

/// A tagged field this library does not know, kept verbatim so it survives a re-encode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawTaggedField {
    /// The tag number.
    pub tag: u32,
    /// The field's bytes (without tag and size prefixes).
    pub data: Bytes,
}

/// The tagged fields of a struct that have no typed field: unknown tags, and known tags that
/// were sent with their default value. Kept verbatim so a re-encode is byte-identical.
///
/// Eight bytes and no allocation when empty (the common case), so every generated struct stays
/// small and dropping it is a null check.
#[derive(Clone, Default, PartialEq, Eq)]
#[expect(
    clippy::box_collection,
    reason = "a thin 8-byte pointer keeps every generated struct small"
)]
pub struct TaggedFields(Option<alloc::boxed::Box<Vec<RawTaggedField>>>);

impl TaggedFields {
    /// No tagged fields.
    #[must_use]
    pub const fn new() -> Self {
        Self(None)
    }

    /// Appends a field (callers keep tags strictly ascending; encoding checks it).
    pub fn push(&mut self, field: RawTaggedField) {
        self.0.get_or_insert_with(Default::default).push(field);
    }

    /// The fields as a slice.
    #[must_use]
    pub fn as_slice(&self) -> &[RawTaggedField] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Whether there are no fields.
    #[must_use]
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

impl core::ops::Deref for TaggedFields {
    type Target = [RawTaggedField];
    fn deref(&self) -> &[RawTaggedField] {
        self.as_slice()
    }
}

impl From<Vec<RawTaggedField>> for TaggedFields {
    fn from(v: Vec<RawTaggedField>) -> Self {
        if v.is_empty() {
            Self(None)
        } else {
            Self(Some(alloc::boxed::Box::new(v)))
        }
    }
}

impl<'a> IntoIterator for &'a TaggedFields {
    type Item = &'a RawTaggedField;
    type IntoIter = core::slice::Iter<'a, RawTaggedField>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl fmt::Debug for TaggedFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

#[cfg(feature = "serde")]
mod serde_impls {
    use super::{Packed, PackedElem, RawTaggedField, TaggedFields, Uuid};
    use alloc::string::ToString;
    use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

    impl Serialize for Uuid {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&self.to_string())
        }
    }

    impl<T: PackedElem + Serialize> Serialize for Packed<T> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(self.len()))?;
            for x in self.iter() {
                seq.serialize_element(&x)?;
            }
            seq.end()
        }
    }

    impl Serialize for TaggedFields {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(self.len()))?;
            for x in self.as_slice() {
                seq.serialize_element(x)?;
            }
            seq.end()
        }
    }

    impl Serialize for RawTaggedField {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(Some(2))?;
            m.serialize_entry("tag", &self.tag)?;
            m.serialize_entry("data", &crate::serde_support::Hex(&self.data))?;
            m.end()
        }
    }
}
