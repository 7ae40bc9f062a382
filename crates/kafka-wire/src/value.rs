//! The field-level codec used by generated code: one [`Value`] impl per Rust field type, and the
//! [`WireStruct`] trait every generated struct implements.

use alloc::vec::Vec;

use bytes::{BufMut, Bytes};
use bytestring::ByteString;

use crate::error::{DecodeErrorKind, EncodeError};
use crate::primitives::{self as p, PResult};
use crate::types::{Packed, PackedElem, Uuid};

/// A generated struct: decodes from, and encodes to, a given version.
pub(crate) trait WireStruct: Sized {
    /// Lower bound of the encoded size at any version (to reject lying array counts early).
    const MIN_LEN: usize;
    fn decode_body<'a>(i: &'a [u8], ctx: &Bytes, v: i16) -> PResult<'a, Self>;
    fn encode_body<B: BufMut>(&self, out: &mut B, v: i16) -> Result<(), EncodeError>;
    fn body_size(&self, v: i16) -> Result<usize, EncodeError>;
}

/// A field value: how it is read, written and sized at a version.
pub(crate) trait Value: Sized {
    fn read<'a>(i: &'a [u8], ctx: &Bytes, flex: bool, v: i16) -> PResult<'a, Self>;
    fn read_nullable<'a>(i: &'a [u8], ctx: &Bytes, flex: bool, v: i16)
    -> PResult<'a, Option<Self>>;
    fn write<B: BufMut>(
        &self,
        out: &mut B,
        flex: bool,
        v: i16,
        name: &'static str,
    ) -> Result<(), EncodeError>;
    fn write_null<B: BufMut>(out: &mut B, flex: bool);
    fn size(&self, flex: bool, v: i16, name: &'static str) -> Result<usize, EncodeError>;
    fn null_size(flex: bool) -> usize;
}

/// Reads a field that is typed `Option<T>`: null allowed only when `nullable` (the version is
/// in the field's nullableVersions).
#[inline]
pub(crate) fn read_opt<'a, T: Value>(
    i: &'a [u8],
    ctx: &Bytes,
    flex: bool,
    v: i16,
    nullable: bool,
) -> PResult<'a, Option<T>> {
    if nullable {
        T::read_nullable(i, ctx, flex, v)
    } else {
        let (r, x) = T::read(i, ctx, flex, v)?;
        Ok((r, Some(x)))
    }
}

/// Writes an `Option<T>` field.
#[inline]
pub(crate) fn write_opt<B: BufMut, T: Value>(
    x: Option<&T>,
    out: &mut B,
    flex: bool,
    v: i16,
    nullable: bool,
    name: &'static str,
) -> Result<(), EncodeError> {
    match x {
        Some(x) => x.write(out, flex, v, name),
        None if nullable => {
            T::write_null(out, flex);
            Ok(())
        }
        None => Err(EncodeError::NullNotAllowed {
            field: name,
            version: v,
        }),
    }
}

/// Sizes an `Option<T>` field.
#[inline]
pub(crate) fn size_opt<T: Value>(
    x: Option<&T>,
    flex: bool,
    v: i16,
    nullable: bool,
    name: &'static str,
) -> Result<usize, EncodeError> {
    match x {
        Some(x) => x.size(flex, v, name),
        None if nullable => Ok(T::null_size(flex)),
        None => Err(EncodeError::NullNotAllowed {
            field: name,
            version: v,
        }),
    }
}

fn not_nullable<T>(i: &[u8]) -> PResult<'_, T> {
    p::fail(i, DecodeErrorKind::UnexpectedNull)
}

macro_rules! fixed {
    ($t:ty, $read:path, $put:ident, $size:expr) => {
        impl Value for $t {
            #[inline]
            fn read<'a>(i: &'a [u8], _: &Bytes, _: bool, _: i16) -> PResult<'a, Self> {
                $read(i)
            }
            fn read_nullable<'a>(
                i: &'a [u8],
                _: &Bytes,
                _: bool,
                _: i16,
            ) -> PResult<'a, Option<Self>> {
                not_nullable(i)
            }
            #[inline]
            fn write<B: BufMut>(
                &self,
                out: &mut B,
                _: bool,
                _: i16,
                _: &'static str,
            ) -> Result<(), EncodeError> {
                out.$put(*self);
                Ok(())
            }
            fn write_null<B: BufMut>(_: &mut B, _: bool) {}
            #[inline]
            fn size(&self, _: bool, _: i16, _: &'static str) -> Result<usize, EncodeError> {
                Ok($size)
            }
            fn null_size(_: bool) -> usize {
                0
            }
        }
    };
}
fixed!(i8, p::int8, put_i8, 1);
fixed!(i16, p::int16, put_i16, 2);
fixed!(u16, p::uint16, put_u16, 2);
fixed!(i32, p::int32, put_i32, 4);
fixed!(u32, p::uint32, put_u32, 4);
fixed!(i64, p::int64, put_i64, 8);
fixed!(f64, p::float64, put_f64, 8);

impl Value for bool {
    #[inline]
    fn read<'a>(i: &'a [u8], _: &Bytes, _: bool, _: i16) -> PResult<'a, Self> {
        p::boolean(i)
    }
    fn read_nullable<'a>(i: &'a [u8], _: &Bytes, _: bool, _: i16) -> PResult<'a, Option<Self>> {
        not_nullable(i)
    }
    #[inline]
    fn write<B: BufMut>(
        &self,
        out: &mut B,
        _: bool,
        _: i16,
        _: &'static str,
    ) -> Result<(), EncodeError> {
        out.put_u8(u8::from(*self));
        Ok(())
    }
    fn write_null<B: BufMut>(_: &mut B, _: bool) {}
    #[inline]
    fn size(&self, _: bool, _: i16, _: &'static str) -> Result<usize, EncodeError> {
        Ok(1)
    }
    fn null_size(_: bool) -> usize {
        0
    }
}

impl Value for Uuid {
    #[inline]
    fn read<'a>(i: &'a [u8], _: &Bytes, _: bool, _: i16) -> PResult<'a, Self> {
        p::uuid(i)
    }
    fn read_nullable<'a>(i: &'a [u8], _: &Bytes, _: bool, _: i16) -> PResult<'a, Option<Self>> {
        not_nullable(i)
    }
    #[inline]
    fn write<B: BufMut>(
        &self,
        out: &mut B,
        _: bool,
        _: i16,
        _: &'static str,
    ) -> Result<(), EncodeError> {
        out.put_slice(&self.0);
        Ok(())
    }
    fn write_null<B: BufMut>(_: &mut B, _: bool) {}
    #[inline]
    fn size(&self, _: bool, _: i16, _: &'static str) -> Result<usize, EncodeError> {
        Ok(16)
    }
    fn null_size(_: bool) -> usize {
        0
    }
}

impl Value for ByteString {
    #[inline]
    fn read<'a>(i: &'a [u8], ctx: &Bytes, flex: bool, _: i16) -> PResult<'a, Self> {
        p::string(i, ctx, flex)
    }
    #[inline]
    fn read_nullable<'a>(
        i: &'a [u8],
        ctx: &Bytes,
        flex: bool,
        _: i16,
    ) -> PResult<'a, Option<Self>> {
        p::nullable_string(i, ctx, flex)
    }
    #[inline]
    fn write<B: BufMut>(
        &self,
        out: &mut B,
        flex: bool,
        _: i16,
        name: &'static str,
    ) -> Result<(), EncodeError> {
        p::put_len(out, Some(self.len()), flex, true, name)?;
        out.put_slice(self.as_bytes());
        Ok(())
    }
    fn write_null<B: BufMut>(out: &mut B, flex: bool) {
        if flex { out.put_u8(0) } else { out.put_i16(-1) }
    }
    #[inline]
    fn size(&self, flex: bool, _: i16, name: &'static str) -> Result<usize, EncodeError> {
        p::check_len(self.len(), true, name)?;
        Ok(p::len_prefix_size(Some(self.len()), flex, true) + self.len())
    }
    fn null_size(flex: bool) -> usize {
        if flex { 1 } else { 2 }
    }
}

impl Value for Bytes {
    #[inline]
    fn read<'a>(i: &'a [u8], ctx: &Bytes, flex: bool, _: i16) -> PResult<'a, Self> {
        p::bytes(i, ctx, flex)
    }
    #[inline]
    fn read_nullable<'a>(
        i: &'a [u8],
        ctx: &Bytes,
        flex: bool,
        _: i16,
    ) -> PResult<'a, Option<Self>> {
        p::nullable_bytes(i, ctx, flex)
    }
    #[inline]
    fn write<B: BufMut>(
        &self,
        out: &mut B,
        flex: bool,
        _: i16,
        name: &'static str,
    ) -> Result<(), EncodeError> {
        p::put_len(out, Some(self.len()), flex, false, name)?;
        out.put_slice(self);
        Ok(())
    }
    fn write_null<B: BufMut>(out: &mut B, flex: bool) {
        if flex { out.put_u8(0) } else { out.put_i32(-1) }
    }
    #[inline]
    fn size(&self, flex: bool, _: i16, name: &'static str) -> Result<usize, EncodeError> {
        p::check_len(self.len(), false, name)?;
        Ok(p::len_prefix_size(Some(self.len()), flex, false) + self.len())
    }
    fn null_size(flex: bool) -> usize {
        if flex { 1 } else { 4 }
    }
}

impl<T: PackedElem> Value for Packed<T> {
    #[inline]
    fn read<'a>(i: &'a [u8], ctx: &Bytes, flex: bool, _: i16) -> PResult<'a, Self> {
        p::packed(i, ctx, flex)
    }
    #[inline]
    fn read_nullable<'a>(
        i: &'a [u8],
        ctx: &Bytes,
        flex: bool,
        _: i16,
    ) -> PResult<'a, Option<Self>> {
        p::nullable_packed(i, ctx, flex)
    }
    #[inline]
    fn write<B: BufMut>(
        &self,
        out: &mut B,
        flex: bool,
        _: i16,
        name: &'static str,
    ) -> Result<(), EncodeError> {
        p::put_len(out, Some(self.len()), flex, false, name)?;
        out.put_slice(self.wire_bytes());
        Ok(())
    }
    fn write_null<B: BufMut>(out: &mut B, flex: bool) {
        if flex { out.put_u8(0) } else { out.put_i32(-1) }
    }
    #[inline]
    fn size(&self, flex: bool, _: i16, name: &'static str) -> Result<usize, EncodeError> {
        p::check_len(self.len(), false, name)?;
        Ok(p::len_prefix_size(Some(self.len()), flex, false) + self.wire_bytes().len())
    }
    fn null_size(flex: bool) -> usize {
        if flex { 1 } else { 4 }
    }
}

/// An element of a `Vec` array field: strings or generated structs.
pub(crate) trait ArrayElem: Value {
    const MIN_ELEM: usize;
}

impl ArrayElem for ByteString {
    const MIN_ELEM: usize = 1;
}

impl<S: WireStruct> ArrayElem for S {
    const MIN_ELEM: usize = S::MIN_LEN;
}

impl<T: ArrayElem> Value for Vec<T> {
    #[inline]
    fn read<'a>(i: &'a [u8], ctx: &Bytes, flex: bool, v: i16) -> PResult<'a, Self> {
        match Self::read_nullable(i, ctx, flex, v)? {
            (r, Some(x)) => Ok((r, x)),
            (_, None) => p::fail(i, DecodeErrorKind::UnexpectedNull),
        }
    }
    fn read_nullable<'a>(
        i: &'a [u8],
        ctx: &Bytes,
        flex: bool,
        v: i16,
    ) -> PResult<'a, Option<Self>> {
        let (mut rest, n) = p::array_len(i, flex, T::MIN_ELEM)?;
        let Some(n) = n else {
            return Ok((rest, None));
        };
        let mut out = Self::with_capacity(n);
        for _ in 0..n {
            let (r, x) = T::read(rest, ctx, flex, v)?;
            out.push(x);
            rest = r;
        }
        Ok((rest, Some(out)))
    }
    fn write<B: BufMut>(
        &self,
        out: &mut B,
        flex: bool,
        v: i16,
        name: &'static str,
    ) -> Result<(), EncodeError> {
        p::put_len(out, Some(self.len()), flex, false, name)?;
        for x in self {
            x.write(out, flex, v, name)?;
        }
        Ok(())
    }
    fn write_null<B: BufMut>(out: &mut B, flex: bool) {
        if flex { out.put_u8(0) } else { out.put_i32(-1) }
    }
    fn size(&self, flex: bool, v: i16, name: &'static str) -> Result<usize, EncodeError> {
        p::check_len(self.len(), false, name)?;
        let mut n = p::len_prefix_size(Some(self.len()), flex, false);
        for x in self {
            n += x.size(flex, v, name)?;
        }
        Ok(n)
    }
    fn null_size(flex: bool) -> usize {
        if flex { 1 } else { 4 }
    }
}

impl<S: WireStruct> Value for S {
    #[inline]
    fn read<'a>(i: &'a [u8], ctx: &Bytes, _: bool, v: i16) -> PResult<'a, Self> {
        S::decode_body(i, ctx, v)
    }
    /// Nullable structs carry an int8 marker: -1 for null, 1 for present.
    fn read_nullable<'a>(i: &'a [u8], ctx: &Bytes, _: bool, v: i16) -> PResult<'a, Option<Self>> {
        let (r, marker) = p::int8(i)?;
        match marker {
            -1 => Ok((r, None)),
            1 => {
                let (r, x) = S::decode_body(r, ctx, v)?;
                Ok((r, Some(x)))
            }
            _ => p::fail(i, DecodeErrorKind::OutOfRange),
        }
    }
    #[inline]
    fn write<B: BufMut>(
        &self,
        out: &mut B,
        _: bool,
        v: i16,
        _: &'static str,
    ) -> Result<(), EncodeError> {
        self.encode_body(out, v)
    }
    fn write_null<B: BufMut>(out: &mut B, _: bool) {
        out.put_i8(-1);
    }
    #[inline]
    fn size(&self, _: bool, v: i16, _: &'static str) -> Result<usize, EncodeError> {
        self.body_size(v)
    }
    fn null_size(_: bool) -> usize {
        1
    }
}

/// Writes a present nullable struct: marker then body.
#[inline]
pub(crate) fn write_struct_opt<B: BufMut, S: WireStruct>(
    x: Option<&S>,
    out: &mut B,
    v: i16,
    nullable: bool,
    name: &'static str,
) -> Result<(), EncodeError> {
    match x {
        Some(x) => {
            if nullable {
                out.put_i8(1);
            }
            x.encode_body(out, v)
        }
        None if nullable => {
            out.put_i8(-1);
            Ok(())
        }
        None => Err(EncodeError::NullNotAllowed {
            field: name,
            version: v,
        }),
    }
}

/// Sizes a nullable struct field.
#[inline]
pub(crate) fn size_struct_opt<S: WireStruct>(
    x: Option<&S>,
    v: i16,
    nullable: bool,
    name: &'static str,
) -> Result<usize, EncodeError> {
    match x {
        Some(x) => Ok(usize::from(nullable) + x.body_size(v)?),
        None if nullable => Ok(1),
        None => Err(EncodeError::NullNotAllowed {
            field: name,
            version: v,
        }),
    }
}
