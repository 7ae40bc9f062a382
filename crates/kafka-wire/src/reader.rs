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

/// A varint of one to three bytes from the start of `c`, advancing it; `None` (and `c`
/// untouched) for a longer or cut one, which [`Rd::uvarint`] reads on its slow path.
#[inline(always)]
pub(crate) fn short_uvarint(c: &mut &[u8]) -> Option<u32> {
    match **c {
        [b, ref rest @ ..] if b < 0x80 => {
            *c = rest;
            Some(u32::from(b))
        }
        [b0, b1, ref rest @ ..] if b1 < 0x80 => {
            *c = rest;
            Some(u32::from(b0 & 0x7f) | (u32::from(b1) << 7))
        }
        [b0, b1, b2, ref rest @ ..] if b2 < 0x80 => {
            *c = rest;
            Some(u32::from(b0 & 0x7f) | (u32::from(b1 & 0x7f) << 7) | (u32::from(b2) << 14))
        }
        _ => None,
    }
}

/// Appends `n` elements read by `one` to `out`, stopping at the first error.
///
/// The elements go in through `Vec::extend` over a counted range, so each one is built
/// straight into the `Vec`'s reserved slot; `push` in a loop builds it on the stack and
/// copies it (a `memcpy` call for structs above 128 bytes, such as Fetch's partitions). After
/// an error the remaining slots are filled with defaults, which hold no allocation, and the
/// caller drops the `Vec` with the error.
#[inline(always)]
pub(crate) fn read_n<T: Default>(
    out: &mut Vec<T>,
    n: usize,
    mut one: impl FnMut() -> RResult<T>,
) -> RResult<()> {
    let mut res = Ok(());
    out.extend((0..n).map(|_| {
        if res.is_ok() {
            match one() {
                Ok(x) => return x,
                Err(e) => res = Err(e),
            }
        }
        T::default()
    }));
    res
}

/// Bytes after a string validated as UTF-8 in one pass, for the strings that follow it (see
/// [`Rd::str_of`]).
const UTF8_WINDOW: usize = 1024;

/// Strings validated on their own after a window that served fewer than two strings.
const WINDOW_BACKOFF: u8 = 7;

/// A cursor over a suffix (or a bounded sub-slice) of `ctx`.
pub(crate) struct Rd<'a> {
    /// The bytes not yet read.
    pub(crate) rest: &'a [u8],
    /// The buffer zero-copy values are cut from; `None` for a borrowed decode
    /// ([`Rd::borrowed`]), which takes `&'a [u8]` slices instead.
    ctx: Option<&'a Bytes>,
    /// The whole input (`ctx`, or the borrowed input).
    all: &'a [u8],
    base: usize,
    /// Offset in `all` of the UTF-8 window of the borrowed decode: `win` is the longest valid
    /// UTF-8 prefix of the up to [`UTF8_WINDOW`] bytes there.
    win_lo: usize,
    win: &'a str,
    /// Whether a window was opened since the last back-off, and how many strings were found
    /// in it (up to 255); strings left to validate alone before the next window (see
    /// [`Rd::str_of`]).
    win_open: bool,
    win_hits: u8,
    win_skip: u8,
    /// The error of the last failed read.
    pub(crate) err: WireError,
}

impl<'a> Rd<'a> {
    /// A cursor at the start of `ctx`.
    pub(crate) fn new(ctx: &'a Bytes) -> Self {
        Self {
            rest: ctx,
            ctx: Some(ctx),
            all: ctx,
            base: ctx.as_ptr() as usize,
            win_lo: 0,
            win: "",
            win_open: false,
            win_hits: 0,
            win_skip: 0,
            err: WireError::at(ctx, DecodeErrorKind::UnexpectedEnd),
        }
    }

    /// A cursor at the start of `input` for the borrowed views, whose values are `&'a`
    /// slices of `input`.
    pub(crate) fn borrowed(input: &'a [u8]) -> Self {
        Self {
            rest: input,
            ctx: None,
            all: input,
            base: input.as_ptr() as usize,
            win_lo: 0,
            win: "",
            win_open: false,
            win_hits: 0,
            win_skip: 0,
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
        match short_uvarint(&mut self.rest) {
            Some(x) => Ok(x),
            None => self.uvarint_slow(),
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

    /// Where `s` (inside `all`) lies in the UTF-8 window of length `win_len`, if wholly
    /// inside it.
    #[inline(always)]
    fn in_window(&self, s: &[u8], win_len: usize) -> Option<core::ops::Range<usize>> {
        let rel = self.offset_of(s).wrapping_sub(self.win_lo);
        (rel <= win_len && s.len() <= win_len - rel).then(|| rel..rel + s.len())
    }

    /// `raw` (taken from the input) as a string, or `None` if it is not valid UTF-8.
    ///
    /// Strings in a message often sit close together (topic lists, names and ids, config
    /// entries), and on short ones the per-call cost of `from_utf8` dominates. So a string
    /// not inside the current window may open a new one: up to [`UTF8_WINDOW`] bytes from the
    /// string's start, validated in one pass, keeping the longest valid prefix. That string
    /// and every later one wholly inside the window need only the two char-boundary checks of
    /// `str::get`; a string that reaches past the valid prefix is validated on its own. A slice
    /// of valid UTF-8 is itself valid exactly when both its ends are char boundaries, so the
    /// answer is the one `from_utf8(raw)` gives. Windows start at the strings that open them
    /// and do not overlap, so the extra work is at most one more pass over the input.
    ///
    /// Opening a window costs about what validating two short strings alone costs, so one that
    /// served fewer than two strings is not tried again for the next [`WINDOW_BACKOFF`]
    /// strings: messages whose strings sit far apart (between byte fields or long arrays) pay
    /// for at most one window per that many strings, and take the plain path otherwise.
    #[inline(always)]
    pub(crate) fn str_of(&mut self, raw: &'a [u8]) -> Option<&'a str> {
        if let Some(range) = self.in_window(raw, self.win.len()) {
            if let Some(s) = self.win.get(range) {
                self.win_hits = self.win_hits.saturating_add(1);
                return Some(s);
            }
        }
        if self.win_skip != 0 {
            self.win_skip -= 1;
            return core::str::from_utf8(raw).ok();
        }
        self.str_then_window(raw)
    }

    /// [`Rd::str_of`] when no back-off is running: either backs off (the last window served
    /// fewer than two strings) and validates `raw` alone, or opens a window at the start of
    /// `raw`, so one pass validates `raw` and the bytes after it.
    #[inline(never)]
    fn str_then_window(&mut self, raw: &'a [u8]) -> Option<&'a str> {
        if self.win_open && self.win_hits < 2 {
            self.win_open = false;
            self.win_skip = WINDOW_BACKOFF;
            return core::str::from_utf8(raw).ok();
        }
        self.win_open = true;
        self.win_hits = 0;
        self.window_from(raw);
        if let Some(range) = self.in_window(raw, self.win.len()) {
            if let Some(s) = self.win.get(range) {
                return Some(s);
            }
        }
        // `raw` reaches past the window's valid prefix: the answer is its own.
        core::str::from_utf8(raw).ok()
    }

    /// Opens the window of a borrowed cursor at the start of `raw`: the longest valid UTF-8
    /// prefix of the next [`UTF8_WINDOW`] bytes.
    #[inline(never)]
    fn window_from(&mut self, raw: &'a [u8]) {
        let lo = self.offset_of(raw);
        let window = self.window_at(lo);
        self.win_lo = lo;
        self.win = match core::str::from_utf8(window) {
            Ok(s) => s,
            // Too short to hold a length and a character: not worth a second pass.
            Err(e) if e.valid_up_to() < 2 => "",
            Err(e) => core::str::from_utf8(&window[..e.valid_up_to()]).unwrap_or_default(),
        };
    }

    /// Up to [`UTF8_WINDOW`] bytes of `all` from `lo`.
    #[inline(always)]
    fn window_at(&self, lo: usize) -> &'a [u8] {
        let all = self.all;
        let hi = all.len().min(lo.saturating_add(UTF8_WINDOW));
        all.get(lo..hi).unwrap_or_default()
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
        if n == 0 {
            // Common (empty aborted-transaction lists, no unknown tags): skip the element loop,
            // which is often not inlined.
            return Ok(Some(Vec::new()));
        }
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

    /// A nullable string, borrowed, validated through the UTF-8 window ([`Rd::str_of`]).
    #[inline(always)]
    pub(crate) fn nullable_str_ref(&mut self, flex: bool) -> RResult<Option<&'a str>> {
        self.nullable_str_by(flex, Self::str_of)
    }

    /// A nullable string, borrowed, validated on its own (no UTF-8 window).
    #[inline(always)]
    pub(crate) fn nullable_str_alone(&mut self, flex: bool) -> RResult<Option<&'a str>> {
        self.nullable_str_by(flex, |_, raw| core::str::from_utf8(raw).ok())
    }

    /// A nullable borrowed string whose bytes `check` validates.
    #[inline(always)]
    fn nullable_str_by(
        &mut self,
        flex: bool,
        check: impl FnOnce(&mut Self, &'a [u8]) -> Option<&'a str>,
    ) -> RResult<Option<&'a str>> {
        let at = self.rest;
        let Some(len) = self.str_len(flex)? else {
            return Ok(None);
        };
        if len == 0 {
            return Ok(Some(""));
        }
        let raw = self.take(len)?;
        match check(self, raw) {
            Some(s) => Ok(Some(s)),
            None => Err(self.fail_at(at, DecodeErrorKind::InvalidUtf8)),
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

    /// Pieces that strings and the bytes between them are made of: ASCII, multi-byte
    /// characters, a lone continuation byte, a truncated 3-byte character, an overlong
    /// encoding, a surrogate, and binary filler.
    const PIECES: [&[u8]; 9] = [
        b"topic-",
        "\u{e9}".as_bytes(),
        "\u{20ac}".as_bytes(),
        "\u{1f600}".as_bytes(),
        &[0x80],
        &[0xe2, 0x82],
        &[0xc0, 0xaf],
        &[0xed, 0xa0, 0x80],
        &[0x00, 0x07, 0xff, 0x10],
    ];

    /// Every string read through the UTF-8 window gives what `from_utf8` gives on the string's
    /// own bytes, whatever surrounds it, and so does the owned cursor (which validates each
    /// string alone); accepted strings lie inside the input.
    #[test]
    fn utf8_window_agrees_with_from_utf8() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut accepted, mut rejected) = (0, 0);
        for _ in 0..400 {
            // Each entry: a gap (u8 length, then any pieces), then a string (int16 length,
            // then its bytes).
            let mut input = Vec::new();
            let mut raws = Vec::new();
            for _ in 0..1 + next(40) {
                let mut gap = Vec::new();
                for _ in 0..next(4) {
                    gap.extend_from_slice(PIECES[next(PIECES.len())]);
                }
                input.push(gap.len() as u8);
                input.extend_from_slice(&gap);
                // Mostly valid strings, sometimes one longer than a window (which no window
                // can hold: it is validated alone).
                let mut raw = Vec::new();
                let pieces = if next(20) == 0 { 400 } else { next(8) };
                let valid_only = next(3) != 0;
                for _ in 0..pieces {
                    let k = if valid_only {
                        next(4)
                    } else {
                        next(PIECES.len() - 1)
                    };
                    raw.extend_from_slice(PIECES[k]);
                }
                input.extend_from_slice(&(raw.len() as i16).to_be_bytes());
                input.extend_from_slice(&raw);
                raws.push(raw);
            }
            let b = Bytes::from(input);
            let mut owned = Rd::new(&b);
            let mut view = Rd::borrowed(&b);
            for raw in &raws {
                for r in [&mut owned, &mut view] {
                    let gap = r.array::<1>().unwrap()[0];
                    r.take(usize::from(gap)).unwrap();
                }
                let want = core::str::from_utf8(raw).ok();
                let got_owned = owned.nullable_string(false).ok().flatten();
                let got_view = view.nullable_str_ref(false).ok().flatten();
                assert_eq!(got_owned.as_deref(), want, "owned {raw:?}");
                assert_eq!(got_view, want, "view {raw:?}");
                if let (Some(s), Some(o)) = (got_view, &got_owned) {
                    for p in [s.as_ptr(), o.as_ptr()] {
                        let at = (p as usize).wrapping_sub(b.as_ptr() as usize);
                        assert!(s.is_empty() || at + s.len() <= b.len());
                    }
                    accepted += 1;
                } else {
                    // Both reads took the string's bytes before checking them.
                    rejected += 1;
                }
            }
        }
        assert!(accepted > 1000 && rejected > 1000, "{accepted} {rejected}");
    }

    /// The window does its job: in a run of adjacent short strings (a topic list), the first
    /// opens a window and every later one is served from it, without `from_utf8`.
    #[test]
    fn utf8_window_serves_adjacent_strings() {
        let mut input = Vec::new();
        for t in 0..20 {
            let name = alloc::format!("payments.ledger-events.v2.{t:04}");
            input.extend_from_slice(&(name.len() as i16).to_be_bytes());
            input.extend_from_slice(name.as_bytes());
        }
        let mut r = Rd::borrowed(&input);
        for t in 0..20 {
            let s = r.nullable_str_ref(false).unwrap().unwrap();
            assert_eq!(s, alloc::format!("payments.ledger-events.v2.{t:04}"));
        }
        assert!(r.rest.is_empty());
        assert_eq!(r.win_hits, 19);
    }
}
