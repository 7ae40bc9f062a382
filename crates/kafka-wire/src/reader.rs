//! The cursor that generated `decode_body` functions read from.
//!
//! Headers and record batches use the `nom` parsers of [`crate::primitives`]; the generated
//! message bodies, which decode millions of small fields, use this cursor instead. A read
//! returns `Result<T, Fail>` where [`Fail`] is a zero-sized marker: the error itself (position,
//! field, kind) is written into the reader, on a `#[cold]` path, so the `Ok` path returns `T`
//! in registers (or in the caller's slot) with no error payload to copy. The public error is the
//! same [`DecodeError`](crate::DecodeError) as before: byte offset, innermost field, kind.
//!
//! Zero-copy values are cut from the enclosing [`Bytes`] by offset (`Bytes::slice`), which is
//! computed once from the cursor position.

use alloc::vec::Vec;

use bytes::Bytes;
use bytestring::ByteString;

use crate::borrowed::{PackedRef, RawTaggedFieldRef, TaggedFieldsRef};
use crate::error::{DecodeErrorKind, WireError};
use crate::types::{Packed, PackedElem, RawTaggedField, TaggedFields};

/// A failed read; the error is in [`Rd::err`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fail;

/// Result of every cursor read.
pub(crate) type RResult<T> = Result<T, Fail>;

/// Reads one field: on failure names it (unless an inner field already did) and returns.
macro_rules! field {
    ($r:ident, $name:expr, $e:expr) => {
        match $e {
            Ok(x) => x,
            Err(f) => return Err($r.named(f, $name)),
        }
    };
}
pub(crate) use field;

/// A cursor over a suffix (or a bounded sub-slice) of `ctx`.
pub(crate) struct Rd<'a> {
    /// The bytes not yet read.
    pub(crate) rest: &'a [u8],
    /// The buffer zero-copy values are cut from; `None` for a borrowed decode
    /// ([`Rd::borrowed`]), which takes `&'a [u8]` slices instead.
    ctx: Option<&'a Bytes>,
    base: usize,
    /// The error of the last failed read.
    pub(crate) err: WireError,
}

impl<'a> Rd<'a> {
    /// A cursor at the start of `ctx`.
    pub(crate) fn new(ctx: &'a Bytes) -> Self {
        Self {
            rest: ctx,
            ctx: Some(ctx),
            base: ctx.as_ptr() as usize,
            err: WireError::at(ctx, DecodeErrorKind::UnexpectedEnd),
        }
    }

    /// A cursor at the start of `input` for the borrowed views, whose values are `&'a`
    /// slices of `input`.
    pub(crate) fn borrowed(input: &'a [u8]) -> Self {
        Self {
            rest: input,
            ctx: None,
            base: input.as_ptr() as usize,
            err: WireError::at(input, DecodeErrorKind::UnexpectedEnd),
        }
    }

    /// Records an error at the current position.
    #[cold]
    #[inline(never)]
    pub(crate) fn fail(&mut self, kind: DecodeErrorKind) -> Fail {
        self.err = WireError::at(self.rest, kind);
        Fail
    }

    /// Records an error at `at`.
    #[cold]
    #[inline(never)]
    pub(crate) fn fail_at(&mut self, at: &[u8], kind: DecodeErrorKind) -> Fail {
        self.err = WireError::at(at, kind);
        Fail
    }

    /// Names the field of an error unless an inner field already did.
    #[cold]
    #[inline(never)]
    pub(crate) fn named(&mut self, f: Fail, name: &'static str) -> Fail {
        if self.err.field.is_empty() {
            self.err.field = name;
        }
        f
    }

    /// Takes `N` bytes as an array.
    #[inline(always)]
    pub(crate) fn array<const N: usize>(&mut self) -> RResult<[u8; N]> {
        match self.rest.split_first_chunk::<N>() {
            Some((a, rest)) => {
                self.rest = rest;
                Ok(*a)
            }
            None => Err(self.fail(DecodeErrorKind::UnexpectedEnd)),
        }
    }

    #[inline]
    pub(crate) fn boolean(&mut self) -> RResult<bool> {
        match self.rest.split_first() {
            Some((&0, rest)) => {
                self.rest = rest;
                Ok(false)
            }
            Some((&1, rest)) => {
                self.rest = rest;
                Ok(true)
            }
            Some((&b, _)) => Err(self.fail(DecodeErrorKind::InvalidBool(b))),
            None => Err(self.fail(DecodeErrorKind::UnexpectedEnd)),
        }
    }

    /// Unsigned LEB128 varint of at most 5 bytes; one- and two-byte values take the inline
    /// path.
    #[inline(always)]
    pub(crate) fn uvarint(&mut self) -> RResult<u32> {
        match self.rest {
            [b, rest @ ..] if *b < 0x80 => {
                self.rest = rest;
                Ok(u32::from(*b))
            }
            [b0, b1, rest @ ..] if *b1 < 0x80 => {
                self.rest = rest;
                Ok(u32::from(b0 & 0x7f) | (u32::from(*b1) << 7))
            }
            _ => self.uvarint_slow(),
        }
    }

    #[inline(never)]
    fn uvarint_slow(&mut self) -> RResult<u32> {
        let mut value: u32 = 0;
        for k in 0..5 {
            let Some(&b) = self.rest.get(k) else {
                return Err(self.fail(DecodeErrorKind::UnexpectedEnd));
            };
            if k == 4 && b > 0x0f {
                return Err(self.fail(DecodeErrorKind::VarintTooLong));
            }
            value |= u32::from(b & 0x7f) << (7 * k);
            if b & 0x80 == 0 {
                self.rest = &self.rest[k + 1..];
                return Ok(value);
            }
        }
        Err(self.fail(DecodeErrorKind::VarintTooLong))
    }

    /// Length of a string: int16 (classic) or compact N+1 (flexible). `None` is null.
    #[inline(always)]
    fn str_len(&mut self, flex: bool) -> RResult<Option<usize>> {
        if flex {
            Ok(self.uvarint()?.checked_sub(1).map(|n| n as usize))
        } else {
            let at = self.rest;
            let n = i16::from_be_bytes(self.array::<2>()?);
            self.classic_len(at, i64::from(n))
        }
    }

    /// Length of bytes, records or an array: int32 (classic) or compact (flexible).
    #[inline(always)]
    fn bytes_len(&mut self, flex: bool) -> RResult<Option<usize>> {
        if flex {
            Ok(self.uvarint()?.checked_sub(1).map(|n| n as usize))
        } else {
            let at = self.rest;
            let n = i32::from_be_bytes(self.array::<4>()?);
            self.classic_len(at, i64::from(n))
        }
    }

    /// A classic (int16 or int32) length read at `at`: `-1` is null, other negatives are
    /// invalid.
    #[inline(always)]
    fn classic_len(&mut self, at: &[u8], n: i64) -> RResult<Option<usize>> {
        match n {
            0.. => Ok(Some(n as usize)),
            -1 => Ok(None),
            _ => Err(self.fail_at(at, DecodeErrorKind::InvalidLength(n))),
        }
    }

    /// Offset of the cursor in `ctx`.
    #[inline(always)]
    fn offset_of(&self, s: &[u8]) -> usize {
        (s.as_ptr() as usize).wrapping_sub(self.base)
    }

    /// Takes the next `len` bytes of the input.
    #[inline(always)]
    pub(crate) fn take(&mut self, len: usize) -> RResult<&'a [u8]> {
        match self.rest.split_at_checked(len) {
            Some((taken, rest)) => {
                self.rest = rest;
                Ok(taken)
            }
            None => Err(self.fail(DecodeErrorKind::UnexpectedEnd)),
        }
    }

    /// Takes `len` bytes as a slice of `ctx` (no copy).
    #[inline(always)]
    fn slice(&mut self, len: usize) -> RResult<Bytes> {
        let taken = self.take(len)?;
        Ok(self.bytes_of(taken))
    }

    /// `s`, which lies inside the input, as a `Bytes`: a slice of `ctx` (no copy), or a copy
    /// for a borrowed cursor (whose decoders never ask for one).
    #[inline]
    pub(crate) fn bytes_of(&self, s: &[u8]) -> Bytes {
        match self.ctx {
            Some(ctx) => {
                let off = self.offset_of(s);
                ctx.slice(off..off + s.len())
            }
            None => Bytes::copy_from_slice(s),
        }
    }

    /// A nullable string, zero-copy.
    #[inline(always)]
    pub(crate) fn nullable_string(&mut self, flex: bool) -> RResult<Option<ByteString>> {
        let at = self.rest;
        let Some(len) = self.str_len(flex)? else {
            return Ok(None);
        };
        if len == 0 {
            return Ok(Some(ByteString::new()));
        }
        let b = self.slice(len)?;
        match ByteString::try_from(b) {
            Ok(s) => Ok(Some(s)),
            Err(_) => Err(self.fail_at(at, DecodeErrorKind::InvalidUtf8)),
        }
    }

    /// A non-nullable string, zero-copy.
    #[inline(always)]
    pub(crate) fn string(&mut self, flex: bool) -> RResult<ByteString> {
        let at = self.rest;
        match self.nullable_string(flex)? {
            Some(s) => Ok(s),
            None => Err(self.fail_at(at, DecodeErrorKind::UnexpectedNull)),
        }
    }

    /// Nullable bytes (also records), zero-copy.
    #[inline(always)]
    pub(crate) fn nullable_bytes(&mut self, flex: bool) -> RResult<Option<Bytes>> {
        let Some(len) = self.bytes_len(flex)? else {
            return Ok(None);
        };
        Ok(Some(self.slice(len)?))
    }

    /// Non-nullable bytes, zero-copy.
    #[inline(always)]
    pub(crate) fn bytes(&mut self, flex: bool) -> RResult<Bytes> {
        let at = self.rest;
        match self.nullable_bytes(flex)? {
            Some(s) => Ok(s),
            None => Err(self.fail_at(at, DecodeErrorKind::UnexpectedNull)),
        }
    }

    /// Array count, checked against the remaining input: every element needs at least
    /// `min_elem` bytes (at least one byte is assumed even for elements that could be empty).
    #[inline(always)]
    pub(crate) fn array_len(&mut self, flex: bool, min_elem: usize) -> RResult<Option<usize>> {
        let at = self.rest;
        let n = self.bytes_len(flex)?;
        if let Some(n) = n {
            if n.saturating_mul(min_elem.max(1)) > self.rest.len() {
                let remaining = self.rest.len();
                return Err(self.fail_at(
                    at,
                    DecodeErrorKind::ArrayTooLong {
                        count: n as u64,
                        remaining,
                    },
                ));
            }
        }
        Ok(n)
    }

    /// A nullable packed primitive array, zero-copy.
    #[inline(always)]
    pub(crate) fn nullable_packed<T: PackedElem>(
        &mut self,
        flex: bool,
    ) -> RResult<Option<Packed<T>>> {
        let Some(n) = self.array_len(flex, T::SIZE)? else {
            return Ok(None);
        };
        // `array_len` checked that `n * SIZE` bytes remain.
        Ok(Some(Packed::from_wire(self.slice(n * T::SIZE)?)))
    }

    /// A non-nullable packed primitive array, zero-copy.
    #[inline(always)]
    pub(crate) fn packed<T: PackedElem>(&mut self, flex: bool) -> RResult<Packed<T>> {
        let at = self.rest;
        match self.nullable_packed(flex)? {
            Some(s) => Ok(s),
            None => Err(self.fail_at(at, DecodeErrorKind::UnexpectedNull)),
        }
    }

    /// An array of `T`s: `read_all(self, n, out)` appends the `n` elements the count names.
    #[inline(always)]
    pub(crate) fn nullable_vec<T>(
        &mut self,
        flex: bool,
        min_elem: usize,
        read_all: impl FnOnce(&mut Self, usize, &mut Vec<T>) -> RResult<()>,
    ) -> RResult<Option<Vec<T>>> {
        let Some(n) = self.array_len(flex, min_elem)? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(n);
        read_all(self, n, &mut out)?;
        Ok(Some(out))
    }

    /// Starts reading one tagged field: returns its tag and the input after it, and bounds the
    /// cursor to the field's body (the caller restores `rest` from the returned slice).
    #[inline]
    pub(crate) fn tagged_field(&mut self) -> RResult<(u32, &'a [u8])> {
        let tag = self.uvarint()?;
        let size = self.uvarint()? as usize;
        if size > self.rest.len() {
            return Err(self.fail(DecodeErrorKind::UnexpectedEnd));
        }
        let (body, after) = self.rest.split_at(size);
        self.rest = body;
        Ok((tag, after))
    }

    /// Checks that a known tagged field consumed its whole body (`body` is where it started).
    #[inline]
    pub(crate) fn tagged_done(&mut self, body: &[u8], tag: u32) -> RResult<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(self.fail_at(body, DecodeErrorKind::TagSizeMismatch(tag)))
        }
    }

    /// Checks that tags are strictly ascending within one tagged section.
    #[inline]
    pub(crate) fn check_tag_order(
        &mut self,
        at: &[u8],
        last: &mut Option<u32>,
        tag: u32,
    ) -> RResult<()> {
        if last.is_some_and(|l| tag <= l) {
            return Err(self.fail_at(at, DecodeErrorKind::TagOutOfOrder(tag)));
        }
        *last = Some(tag);
        Ok(())
    }

    /// Raw bytes of an unknown tagged field whose body is `body`.
    #[inline]
    pub(crate) fn raw_tag(&self, tag: u32, body: &[u8]) -> RawTaggedField {
        RawTaggedField {
            tag,
            data: self.bytes_of(body),
        }
    }

    /// The whole tagged-field section of a struct when no tag is known at this version.
    #[inline(always)]
    pub(crate) fn unknown_tags(&mut self) -> RResult<TaggedFields> {
        // Fast path: an empty tag section is one zero byte.
        if let Some((&0, rest)) = self.rest.split_first() {
            self.rest = rest;
            return Ok(TaggedFields::new());
        }
        self.unknown_tags_slow()
    }

    #[cold]
    #[inline(never)]
    fn unknown_tags_slow(&mut self) -> RResult<TaggedFields> {
        Ok(self
            .tag_section(|r, tag, body| r.raw_tag(tag, body))?
            .into())
    }

    /// Reads a tagged-field section none of whose tags is known here, making each entry with
    /// `entry(cursor, tag, body)`.
    #[inline(always)]
    fn tag_section<T>(&mut self, entry: impl Fn(&Self, u32, &'a [u8]) -> T) -> RResult<Vec<T>> {
        let at = self.rest;
        let n = self.uvarint()?;
        if n == 0 {
            return Ok(Vec::new());
        }
        if (n as usize).saturating_mul(2) > self.rest.len() {
            let remaining = self.rest.len();
            return Err(self.fail_at(
                at,
                DecodeErrorKind::ArrayTooLong {
                    count: u64::from(n),
                    remaining,
                },
            ));
        }
        let mut v = Vec::with_capacity(n as usize);
        let mut last: Option<u32> = None;
        for _ in 0..n {
            let at = self.rest;
            let (tag, after) = self.tagged_field()?;
            self.check_tag_order(at, &mut last, tag)?;
            v.push(entry(self, tag, self.rest));
            self.rest = after;
        }
        Ok(v)
    }

    // The borrowed views' reads: the same wire checks as above, values are `&'a` slices of
    // the input.

    /// Fails with `UnexpectedNull` at `at` if a non-nullable value was null.
    #[inline(always)]
    pub(crate) fn required<T>(&mut self, at: &'a [u8], x: Option<T>) -> RResult<T> {
        match x {
            Some(x) => Ok(x),
            None => Err(self.fail_at(at, DecodeErrorKind::UnexpectedNull)),
        }
    }

    /// A nullable string, borrowed.
    #[inline(always)]
    pub(crate) fn nullable_str_ref(&mut self, flex: bool) -> RResult<Option<&'a str>> {
        let at = self.rest;
        let Some(len) = self.str_len(flex)? else {
            return Ok(None);
        };
        let raw = self.take(len)?;
        match core::str::from_utf8(raw) {
            Ok(s) => Ok(Some(s)),
            Err(_) => Err(self.fail_at(at, DecodeErrorKind::InvalidUtf8)),
        }
    }

    /// Nullable bytes (also records), borrowed.
    #[inline(always)]
    pub(crate) fn nullable_bytes_ref(&mut self, flex: bool) -> RResult<Option<&'a [u8]>> {
        let Some(len) = self.bytes_len(flex)? else {
            return Ok(None);
        };
        Ok(Some(self.take(len)?))
    }

    /// A nullable packed primitive array, borrowed.
    #[inline(always)]
    pub(crate) fn nullable_packed_ref<T: PackedElem>(
        &mut self,
        flex: bool,
    ) -> RResult<Option<PackedRef<'a, T>>> {
        let Some(n) = self.array_len(flex, T::SIZE)? else {
            return Ok(None);
        };
        Ok(Some(PackedRef::from_wire(self.take(n * T::SIZE)?)))
    }

    /// The whole tagged-field section of a borrowed struct when no tag is known at this
    /// version.
    #[inline(always)]
    pub(crate) fn unknown_tags_ref(&mut self) -> RResult<TaggedFieldsRef<'a>> {
        if let Some((&0, rest)) = self.rest.split_first() {
            self.rest = rest;
            return Ok(TaggedFieldsRef::new());
        }
        self.unknown_tags_ref_slow()
    }

    #[cold]
    #[inline(never)]
    fn unknown_tags_ref_slow(&mut self) -> RResult<TaggedFieldsRef<'a>> {
        Ok(self
            .tag_section(|_, tag, data| RawTaggedFieldRef { tag, data })?
            .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives as p;

    #[test]
    fn uvarint_fast_paths_agree_with_the_nom_parser() {
        for v in [
            0u32,
            1,
            0x7f,
            0x80,
            0x3fff,
            0x4000,
            0x1f_ffff,
            0x20_0000,
            u32::MAX,
        ] {
            let mut buf = Vec::new();
            p::put_uvarint(&mut buf, v);
            buf.push(0xaa);
            let b = Bytes::from(buf);
            let mut r = Rd::new(&b);
            assert_eq!(r.uvarint(), Ok(v));
            assert_eq!(r.rest, [0xaa]);
        }
        // Non-canonical two-byte zero, truncated and over-long varints.
        for (input, want) in [
            (&[0x80, 0x00][..], Some(0)),
            (&[0x80][..], None),
            (&[0xff, 0xff, 0xff, 0xff, 0x1f][..], None),
        ] {
            let b = Bytes::copy_from_slice(input);
            let mut r = Rd::new(&b);
            assert_eq!(r.uvarint().ok(), want, "{input:?}");
            assert_eq!(p::uvarint(input).ok().map(|(_, v)| v), want, "{input:?}");
        }
    }
}
