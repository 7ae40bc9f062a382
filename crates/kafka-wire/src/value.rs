//! The field-level codec used by generated code: one [`Value`] impl per Rust field type, and the
//! [`WireStruct`] trait every generated struct implements.

use alloc::vec::Vec;

use bytes::Bytes;
use bytestring::ByteString;

use crate::error::{DecodeErrorKind, EncodeError};
use crate::primitives as p;
use crate::reader::{RResult, Rd};
use crate::types::{Packed, PackedElem, Uuid};
use crate::vectored::Out;

/// A generated struct: decodes from, and encodes to, a given version.
pub(crate) trait WireStruct: Sized {
    /// Lower bound of the encoded size at any version (to reject lying array counts early).
    const MIN_LEN: usize;
    fn decode_body(r: &mut Rd<'_>, v: i16) -> RResult<Self>;
    /// Decodes `n` values and appends them to `out` (array elements: generated structs build
    /// each value in place, in one loop the element decode is inlined into).
    #[inline]
    fn decode_n(r: &mut Rd<'_>, v: i16, n: usize, out: &mut Vec<Self>) -> RResult<()> {
        for _ in 0..n {
            out.push(Self::decode_body(r, v)?);
        }
        Ok(())
    }
    fn encode_body<B: Out>(&self, out: &mut B, v: i16) -> Result<(), EncodeError>;
    fn body_size(&self, v: i16) -> Result<usize, EncodeError>;
}

/// A field value: how it is read, written and sized at a version.
pub(crate) trait Value: Sized {
    fn read(r: &mut Rd<'_>, flex: bool, v: i16) -> RResult<Self>;
    fn read_nullable(r: &mut Rd<'_>, flex: bool, v: i16) -> RResult<Option<Self>>;
    fn write<B: Out>(
        &self,
        out: &mut B,
        flex: bool,
        v: i16,
        name: &'static str,
    ) -> Result<(), EncodeError>;
    fn write_null<B: Out>(out: &mut B, flex: bool);
    fn size(&self, flex: bool, v: i16, name: &'static str) -> Result<usize, EncodeError>;
    fn null_size(flex: bool) -> usize;
}

/// Reads a field that is typed `Option<T>`: null allowed only when `nullable` (the version is
/// in the field's nullableVersions).
#[inline(always)]
pub(crate) fn read_opt<T: Value>(
    r: &mut Rd<'_>,
    flex: bool,
    v: i16,
    nullable: bool,
) -> RResult<Option<T>> {
    if nullable {
        T::read_nullable(r, flex, v)
    } else {
        Ok(Some(T::read(r, flex, v)?))
    }
}

/// Writes an `Option<T>` field.
#[inline]
pub(crate) fn write_opt<B: Out, T: Value>(
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

#[cold]
fn not_nullable<T>(r: &mut Rd<'_>) -> RResult<T> {
    Err(r.fail(DecodeErrorKind::UnexpectedNull))
}

macro_rules! fixed {
    ($t:ty, $put:ident, $size:expr) => {
        impl Value for $t {
            #[inline(always)]
            fn read(r: &mut Rd<'_>, _: bool, _: i16) -> RResult<Self> {
                Ok(<$t>::from_be_bytes(r.array()?))
            }
            fn read_nullable(r: &mut Rd<'_>, _: bool, _: i16) -> RResult<Option<Self>> {
                not_nullable(r)
            }
            #[inline]
            fn write<B: Out>(
                &self,
                out: &mut B,
                _: bool,
                _: i16,
                _: &'static str,
            ) -> Result<(), EncodeError> {
                out.$put(*self);
                Ok(())
            }
            fn write_null<B: Out>(_: &mut B, _: bool) {}
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
fixed!(i8, put_i8, 1);
fixed!(i16, put_i16, 2);
fixed!(u16, put_u16, 2);
fixed!(i32, put_i32, 4);
fixed!(u32, put_u32, 4);
fixed!(i64, put_i64, 8);
fixed!(f64, put_f64, 8);

impl Value for bool {
    #[inline]
    fn read(r: &mut Rd<'_>, _: bool, _: i16) -> RResult<Self> {
        r.boolean()
    }
    fn read_nullable(r: &mut Rd<'_>, _: bool, _: i16) -> RResult<Option<Self>> {
        not_nullable(r)
    }
    #[inline]
    fn write<B: Out>(
        &self,
        out: &mut B,
        _: bool,
        _: i16,
        _: &'static str,
    ) -> Result<(), EncodeError> {
        out.put_u8(u8::from(*self));
        Ok(())
    }
    fn write_null<B: Out>(_: &mut B, _: bool) {}
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
    fn read(r: &mut Rd<'_>, _: bool, _: i16) -> RResult<Self> {
        Ok(Uuid(r.array()?))
    }
    fn read_nullable(r: &mut Rd<'_>, _: bool, _: i16) -> RResult<Option<Self>> {
        not_nullable(r)
    }
    #[inline]
    fn write<B: Out>(
        &self,
        out: &mut B,
        _: bool,
        _: i16,
        _: &'static str,
    ) -> Result<(), EncodeError> {
        out.put_slice(&self.0);
        Ok(())
    }
    fn write_null<B: Out>(_: &mut B, _: bool) {}
    #[inline]
    fn size(&self, _: bool, _: i16, _: &'static str) -> Result<usize, EncodeError> {
        Ok(16)
    }
    fn null_size(_: bool) -> usize {
        0
    }
}

impl Value for ByteString {
    #[inline(always)]
    fn read(r: &mut Rd<'_>, flex: bool, _: i16) -> RResult<Self> {
        r.string(flex)
    }
    #[inline(always)]
    fn read_nullable(r: &mut Rd<'_>, flex: bool, _: i16) -> RResult<Option<Self>> {
        r.nullable_string(flex)
    }
    #[inline(always)]
    fn write<B: Out>(
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
    fn write_null<B: Out>(out: &mut B, flex: bool) {
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
    #[inline(always)]
    fn read(r: &mut Rd<'_>, flex: bool, _: i16) -> RResult<Self> {
        r.bytes(flex)
    }
    #[inline(always)]
    fn read_nullable(r: &mut Rd<'_>, flex: bool, _: i16) -> RResult<Option<Self>> {
        r.nullable_bytes(flex)
    }
    #[inline(always)]
    fn write<B: Out>(
        &self,
        out: &mut B,
        flex: bool,
        _: i16,
        name: &'static str,
    ) -> Result<(), EncodeError> {
        p::put_len(out, Some(self.len()), flex, false, name)?;
        out.put_shared(self);
        Ok(())
    }
    fn write_null<B: Out>(out: &mut B, flex: bool) {
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
    #[inline(always)]
    fn read(r: &mut Rd<'_>, flex: bool, _: i16) -> RResult<Self> {
        r.packed(flex)
    }
    #[inline(always)]
    fn read_nullable(r: &mut Rd<'_>, flex: bool, _: i16) -> RResult<Option<Self>> {
        r.nullable_packed(flex)
    }
    #[inline]
    fn write<B: Out>(
        &self,
        out: &mut B,
        flex: bool,
        _: i16,
        name: &'static str,
    ) -> Result<(), EncodeError> {
        p::put_len(out, Some(self.len()), flex, false, name)?;
        out.put_shared(self.wire_bytes());
        Ok(())
    }
    fn write_null<B: Out>(out: &mut B, flex: bool) {
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
    /// Reads `n` elements and appends them to `out`.
    #[inline(always)]
    fn read_n(r: &mut Rd<'_>, flex: bool, v: i16, n: usize, out: &mut Vec<Self>) -> RResult<()> {
        for _ in 0..n {
            out.push(Self::read(r, flex, v)?);
        }
        Ok(())
    }
}

impl ArrayElem for ByteString {
    const MIN_ELEM: usize = 1;
}

impl<S: WireStruct> ArrayElem for S {
    const MIN_ELEM: usize = S::MIN_LEN;
    #[inline(always)]
    fn read_n(r: &mut Rd<'_>, _: bool, v: i16, n: usize, out: &mut Vec<Self>) -> RResult<()> {
        S::decode_n(r, v, n, out)
    }
}

impl<T: ArrayElem> Value for Vec<T> {
    #[inline]
    fn read(r: &mut Rd<'_>, flex: bool, v: i16) -> RResult<Self> {
        let at = r.rest;
        match Self::read_nullable(r, flex, v)? {
            Some(x) => Ok(x),
            None => Err(r.fail_at(at, DecodeErrorKind::UnexpectedNull)),
        }
    }
    #[inline]
    fn read_nullable(r: &mut Rd<'_>, flex: bool, v: i16) -> RResult<Option<Self>> {
        r.nullable_vec(flex, T::MIN_ELEM, |r, n, out| T::read_n(r, flex, v, n, out))
    }
    fn write<B: Out>(
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
    fn write_null<B: Out>(out: &mut B, flex: bool) {
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
    fn read(r: &mut Rd<'_>, _: bool, v: i16) -> RResult<Self> {
        S::decode_body(r, v)
    }
    /// Nullable structs carry an int8 marker: -1 for null, 1 for present.
    fn read_nullable(r: &mut Rd<'_>, _: bool, v: i16) -> RResult<Option<Self>> {
        let at = r.rest;
        match i8::from_be_bytes(r.array()?) {
            -1 => Ok(None),
            1 => Ok(Some(S::decode_body(r, v)?)),
            _ => Err(r.fail_at(at, DecodeErrorKind::OutOfRange)),
        }
    }
    #[inline]
    fn write<B: Out>(
        &self,
        out: &mut B,
        _: bool,
        v: i16,
        _: &'static str,
    ) -> Result<(), EncodeError> {
        self.encode_body(out, v)
    }
    fn write_null<B: Out>(out: &mut B, _: bool) {
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
pub(crate) fn write_struct_opt<B: Out, S: WireStruct>(
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
