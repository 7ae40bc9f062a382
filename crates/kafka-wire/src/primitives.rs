//! Wire primitives: integers, varints, (compact) strings, tagged-field sections. The decoders
//! here are `nom` parsers over a complete `&[u8]`, used by the hand-written headers; generated
//! message bodies read through [`crate::reader`]. Encoders write into any `BufMut` (or a
//! [`crate::Vectored`]) through [`Out`]; `*_size` functions give the exact encoded sizes.

use alloc::vec::Vec;

use bytes::Bytes;
use bytestring::ByteString;
use nom::Parser;
use nom::number::complete as num;

use crate::error::{DecodeErrorKind, EncodeError, WireError};
use crate::types::{RawTaggedField, TaggedFields};
use crate::vectored::Out;

/// Result of every internal parser.
pub(crate) type PResult<'a, T> = nom::IResult<&'a [u8], T, WireError>;

#[cold]
#[inline(never)]
pub(crate) fn fail<T>(at: &[u8], kind: DecodeErrorKind) -> PResult<'_, T> {
    Err(nom::Err::Error(WireError::at(at, kind)))
}

/// Names the field an error happened in, unless an inner field already did.
#[inline]
pub(crate) fn field<'a, T>(r: PResult<'a, T>, name: &'static str) -> PResult<'a, T> {
    match r {
        Ok(v) => Ok(v),
        Err(nom::Err::Error(mut e)) | Err(nom::Err::Failure(mut e)) => {
            if e.field.is_empty() {
                e.field = name;
            }
            Err(nom::Err::Error(e))
        }
        Err(e) => Err(e),
    }
}

#[inline]
pub(crate) fn int8(i: &[u8]) -> PResult<'_, i8> {
    num::be_i8.parse(i)
}
#[inline]
pub(crate) fn int16(i: &[u8]) -> PResult<'_, i16> {
    num::be_i16.parse(i)
}
#[inline]
pub(crate) fn int32(i: &[u8]) -> PResult<'_, i32> {
    num::be_i32.parse(i)
}
#[inline]
pub(crate) fn uint32(i: &[u8]) -> PResult<'_, u32> {
    num::be_u32.parse(i)
}
#[inline]
pub(crate) fn int64(i: &[u8]) -> PResult<'_, i64> {
    num::be_i64.parse(i)
}
/// `K` bytes at `off` of a fixed-size chunk (generated code reads runs of fixed-width fields
/// from one chunk; `off + K <= N` is known when it is generated, so the check folds away).
#[inline(always)]
pub(crate) fn chunk<const N: usize, const K: usize>(c: &[u8; N], off: usize) -> [u8; K] {
    let mut out = [0u8; K];
    out.copy_from_slice(&c[off..off + K]);
    out
}

/// Takes exactly `n` bytes.
#[inline]
pub(crate) fn take(i: &[u8], n: usize) -> PResult<'_, &[u8]> {
    if i.len() < n {
        return fail(i, DecodeErrorKind::UnexpectedEnd);
    }
    Ok((&i[n..], &i[..n]))
}

/// Unsigned LEB128 varint of at most 5 bytes (32 bits).
#[inline]
pub(crate) fn uvarint(i: &[u8]) -> PResult<'_, u32> {
    let mut value: u32 = 0;
    for k in 0..5 {
        let Some(&b) = i.get(k) else {
            return fail(i, DecodeErrorKind::UnexpectedEnd);
        };
        if k == 4 && b > 0x0f {
            return fail(i, DecodeErrorKind::VarintTooLong);
        }
        value |= u32::from(b & 0x7f) << (7 * k);
        if b & 0x80 == 0 {
            return Ok((&i[k + 1..], value));
        }
    }
    fail(i, DecodeErrorKind::VarintTooLong)
}

/// Unsigned LEB128 varlong of at most 10 bytes (64 bits).
#[inline]
pub(crate) fn uvarlong(i: &[u8]) -> PResult<'_, u64> {
    let mut value: u64 = 0;
    for k in 0..10 {
        let Some(&b) = i.get(k) else {
            return fail(i, DecodeErrorKind::UnexpectedEnd);
        };
        if k == 9 && b > 0x01 {
            return fail(i, DecodeErrorKind::VarintTooLong);
        }
        value |= u64::from(b & 0x7f) << (7 * k);
        if b & 0x80 == 0 {
            return Ok((&i[k + 1..], value));
        }
    }
    fail(i, DecodeErrorKind::VarintTooLong)
}

/// Zig-zag signed varint (32 bits).
#[inline]
pub(crate) fn varint(i: &[u8]) -> PResult<'_, i32> {
    let (rest, u) = uvarint(i)?;
    Ok((rest, ((u >> 1) as i32) ^ -((u & 1) as i32)))
}

/// Zig-zag signed varlong (64 bits).
#[inline]
pub(crate) fn varlong(i: &[u8]) -> PResult<'_, i64> {
    let (rest, u) = uvarlong(i)?;
    Ok((rest, ((u >> 1) as i64) ^ -((u & 1) as i64)))
}

/// Length of a string: int16 (classic) or compact uvarint N+1 (flexible). `None` is null.
#[inline]
pub(crate) fn str_len(i: &[u8], flex: bool) -> PResult<'_, Option<usize>> {
    if flex {
        compact_len(i)
    } else {
        let (rest, n) = int16(i)?;
        match n {
            -1 => Ok((rest, None)),
            n if n < 0 => fail(i, DecodeErrorKind::InvalidLength(i64::from(n))),
            n => Ok((rest, Some(n as usize))),
        }
    }
}

#[inline]
fn compact_len(i: &[u8]) -> PResult<'_, Option<usize>> {
    let (rest, n) = uvarint(i)?;
    Ok((rest, n.checked_sub(1).map(|n| n as usize)))
}

#[inline]
fn utf8(i: &[u8], ctx: &Bytes, raw: &[u8]) -> Result<ByteString, nom::Err<WireError>> {
    // `try_from` validates the UTF-8 once and keeps the slice (no copy).
    ByteString::try_from(ctx.slice_ref(raw))
        .map_err(|_| nom::Err::Error(WireError::at(i, DecodeErrorKind::InvalidUtf8)))
}

/// A nullable string, zero-copy.
#[inline]
pub(crate) fn nullable_string<'a>(
    i: &'a [u8],
    ctx: &Bytes,
    flex: bool,
) -> PResult<'a, Option<ByteString>> {
    let (rest, len) = str_len(i, flex)?;
    let Some(len) = len else {
        return Ok((rest, None));
    };
    let (rest, raw) = take(rest, len)?;
    if raw.is_empty() {
        return Ok((rest, Some(ByteString::new())));
    }
    Ok((rest, Some(utf8(i, ctx, raw)?)))
}

/// Reads one tagged-field header: (tag, body). The body is bounded by its declared size.
#[inline]
pub(crate) fn tagged_field(i: &[u8]) -> PResult<'_, (u32, &[u8])> {
    let (rest, tag) = uvarint(i)?;
    let (rest, size) = uvarint(rest)?;
    let (rest, body) = take(rest, size as usize)?;
    Ok((rest, (tag, body)))
}

/// Reads the whole tagged-field section of a struct when no tag is known at this version.
#[inline]
pub(crate) fn unknown_tags<'a>(i: &'a [u8], ctx: &Bytes) -> PResult<'a, TaggedFields> {
    // Fast path: an empty tag section is one zero byte.
    if let Some((&0, rest)) = i.split_first() {
        return Ok((rest, TaggedFields::new()));
    }
    unknown_tags_slow(i, ctx)
}

#[cold]
fn unknown_tags_slow<'a>(i: &'a [u8], ctx: &Bytes) -> PResult<'a, TaggedFields> {
    let (mut rest, n) = uvarint(i)?;
    if n == 0 {
        return Ok((rest, TaggedFields::new()));
    }
    if (n as usize).saturating_mul(2) > rest.len() {
        return fail(
            i,
            DecodeErrorKind::ArrayTooLong {
                count: u64::from(n),
                remaining: rest.len(),
            },
        );
    }
    let mut v = Vec::with_capacity(n as usize);
    let mut last: Option<u32> = None;
    for _ in 0..n {
        let (r, (tag, body)) = tagged_field(rest)?;
        if last.is_some_and(|l| tag <= l) {
            return fail(rest, DecodeErrorKind::TagOutOfOrder(tag));
        }
        last = Some(tag);
        v.push(RawTaggedField {
            tag,
            data: if body.is_empty() {
                Bytes::new()
            } else {
                ctx.slice_ref(body)
            },
        });
        rest = r;
    }
    Ok((rest, v.into()))
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// Size of an unsigned varint.
#[inline]
#[must_use]
pub(crate) const fn uvarint_size(v: u32) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0xfff_ffff => 4,
        _ => 5,
    }
}

/// Size of an unsigned varlong.
#[inline]
#[must_use]
pub(crate) const fn uvarlong_size(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Size of a zig-zag varint.
#[inline]
#[must_use]
pub(crate) const fn varint_size(v: i32) -> usize {
    uvarint_size(((v << 1) ^ (v >> 31)) as u32)
}

/// Size of a zig-zag varlong.
#[inline]
#[must_use]
pub(crate) const fn varlong_size(v: i64) -> usize {
    uvarlong_size(((v << 1) ^ (v >> 63)) as u64)
}

#[inline]
pub(crate) fn put_uvarint<B: Out>(out: &mut B, mut v: u32) {
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

#[inline]
pub(crate) fn put_uvarlong<B: Out>(out: &mut B, mut v: u64) {
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

#[inline]
pub(crate) fn put_varint<B: Out>(out: &mut B, v: i32) {
    put_uvarint(out, ((v << 1) ^ (v >> 31)) as u32);
}

#[inline]
pub(crate) fn put_varlong<B: Out>(out: &mut B, v: i64) {
    put_uvarlong(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Size of a string/bytes/array length prefix (`None` = null).
#[inline]
pub(crate) fn len_prefix_size(len: Option<usize>, flex: bool, short: bool) -> usize {
    if flex {
        uvarint_size(len.map_or(0, |n| (n as u32).wrapping_add(1)))
    } else if short {
        2
    } else {
        4
    }
}

/// Writes a length prefix: int16 (`short`, strings) or int32, or compact N+1 when flexible.
#[inline(always)]
pub(crate) fn put_len<B: Out>(
    out: &mut B,
    len: Option<usize>,
    flex: bool,
    short: bool,
    name: &'static str,
) -> Result<(), EncodeError> {
    // Fast paths (`short` is a constant at every call site, and so is `flex` in most): a
    // compact length below 127 is one byte, below 16,383 two; a classic length that fits its
    // prefix is written directly. Null, longer compact lengths and overflows go out of line.
    match (flex, len) {
        (true, Some(n @ 0..=126)) => {
            out.put_u8(n as u8 + 1);
            Ok(())
        }
        (true, Some(n @ 127..=16_382)) => {
            let v = n as u32 + 1;
            out.put_slice(&[(v as u8) | 0x80, (v >> 7) as u8]);
            Ok(())
        }
        (false, Some(n)) if short && n <= i16::MAX as usize => {
            out.put_i16(n as i16);
            Ok(())
        }
        (false, Some(n)) if !short && n <= i32::MAX as usize => {
            out.put_i32(n as i32);
            Ok(())
        }
        _ => put_len_slow(out, len, flex, short, name),
    }
}

#[inline(never)]
fn put_len_slow<B: Out>(
    out: &mut B,
    len: Option<usize>,
    flex: bool,
    short: bool,
    name: &'static str,
) -> Result<(), EncodeError> {
    match (flex, len) {
        (true, None) => out.put_u8(0),
        (true, Some(n)) => {
            let n = u32::try_from(n)
                .ok()
                .and_then(|n| n.checked_add(1))
                .filter(|&n| n <= i32::MAX as u32)
                .ok_or(EncodeError::TooLong { field: name })?;
            put_uvarint(out, n);
        }
        (false, None) if short => out.put_i16(-1),
        (false, None) => out.put_i32(-1),
        (false, Some(n)) if short => {
            out.put_i16(i16::try_from(n).map_err(|_| EncodeError::TooLong { field: name })?);
        }
        (false, Some(n)) => {
            out.put_i32(i32::try_from(n).map_err(|_| EncodeError::TooLong { field: name })?);
        }
    }
    Ok(())
}

/// Checks a length fits its prefix (so `encoded_len` fails exactly when `encode` would).
#[inline]
pub(crate) fn check_len(n: usize, short: bool, name: &'static str) -> Result<(), EncodeError> {
    let max = if short {
        i16::MAX as usize
    } else {
        i32::MAX as usize - 1
    };
    if n > max {
        Err(EncodeError::TooLong { field: name })
    } else {
        Ok(())
    }
}

/// Size of a tagged-field section: count, then per field tag + size + body.
#[inline]
pub(crate) fn tagged_entry_size(tag: u32, body: usize) -> usize {
    uvarint_size(tag) + uvarint_size(body as u32) + body
}

/// Validates and sizes the raw tagged fields of a struct. `known` lists the struct's known tags
/// at this version with whether the typed field will be written; a raw entry with the tag of a
/// written typed field is shadowed by it (the typed value wins). Returns (count, size) of the
/// raw entries that will be written.
pub(crate) fn unknown_tags_size(
    raw: &[RawTaggedField],
    known: &[(u32, bool)],
) -> Result<(usize, usize), EncodeError> {
    let mut last: Option<u32> = None;
    let mut size = 0;
    let mut count = 0;
    for f in raw {
        if last.is_some_and(|l| f.tag <= l) {
            return Err(EncodeError::BadTag { tag: f.tag });
        }
        last = Some(f.tag);
        if known.iter().any(|&(t, has)| t == f.tag && has) {
            continue;
        }
        check_len(f.data.len(), false, "_tagged_fields")?;
        size += tagged_entry_size(f.tag, f.data.len());
        count += 1;
    }
    Ok((count, size))
}

/// Writes one raw tagged field.
#[inline]
pub(crate) fn put_raw_tag<B: Out>(out: &mut B, f: &RawTaggedField) {
    put_uvarint(out, f.tag);
    put_uvarint(out, f.data.len() as u32);
    out.put_slice(&f.data);
}
