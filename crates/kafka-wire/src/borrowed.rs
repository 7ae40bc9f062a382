//! Borrowed views: every message decoded straight from `&'a [u8]`, with no reference counting.
//!
//! Each generated struct `Foo` has a twin `FooRef<'a>` with the same fields, whose strings are
//! `&'a str`, whose `bytes` and `records` fields are `&'a [u8]`, whose packed arrays are
//! [`PackedRef`] and whose unknown tagged fields are [`TaggedFieldsRef`], all slices of the
//! input. Arrays of strings and structs are still `Vec`s. The decoder makes the same checks
//! as the owned one (lengths, UTF-8, tag order, versions) and reports the same
//! [`DecodeError`]: same offset, same field, same kind.
//!
//! Use a view when the message is read once and dropped, or when its input is not a
//! [`Bytes`]: it saves one atomic increment and one atomic decrement per string and byte field
//! over [`Decode`](crate::Decode), which is about half of the decode time of messages made of
//! many short strings (JoinGroup members, Metadata topics). [`IntoOwned::into_owned`] turns a
//! view into the owned message, copying its byte fields. Views decode only; encode the owned
//! types.
//!
//! ```
//! use bytes::BytesMut;
//! use kafka_wire::generated::{HeartbeatRequest, HeartbeatRequestRef};
//! use kafka_wire::{DecodeRef, Encode, IntoOwned};
//!
//! let req = HeartbeatRequest { group_id: "g".into(), generation_id: 3, member_id: "m-1".into(), ..Default::default() };
//! let mut buf = BytesMut::new();
//! req.encode(4, &mut buf).unwrap();
//!
//! let view = HeartbeatRequestRef::decode_ref(&buf, 4).unwrap();
//! assert_eq!(view.member_id, "m-1");
//! assert_eq!(view.into_owned(), req);
//! ```

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

use bytes::Bytes;
use bytestring::ByteString;

use crate::error::{DecodeError, DecodeErrorKind};
use crate::reader::{RResult, Rd, read_n};
use crate::types::{Packed, PackedElem, RawTaggedField, TaggedFields, Uuid};

/// A message's borrowed view: decodes from `&'a [u8]` (see the [module docs](self)).
pub trait DecodeRef<'a>: Sized + IntoOwned {
    /// Decodes a whole body of version `v`: trailing bytes are an error.
    ///
    /// # Errors
    /// The same [`DecodeError`] as [`Decode::decode`](crate::Decode::decode) gives for these
    /// bytes.
    fn decode_ref(body: &'a [u8], v: i16) -> Result<Self, DecodeError> {
        let (x, used) = Self::decode_ref_prefix(body, v)?;
        if used != body.len() {
            return Err(DecodeError::new(
                used,
                DecodeErrorKind::TrailingBytes(body.len() - used),
            ));
        }
        Ok(x)
    }

    /// Decodes one body from the start of `body` and returns it with the number of bytes it
    /// used (see [`Decode::decode_prefix`](crate::Decode::decode_prefix)).
    ///
    /// # Errors
    /// A [`DecodeError`] naming the byte offset and field.
    fn decode_ref_prefix(body: &'a [u8], v: i16) -> Result<(Self, usize), DecodeError>;
}

/// Converts a borrowed view into its owned type, copying strings and byte fields.
pub trait IntoOwned {
    /// The owned type.
    type Owned;
    /// The owned value.
    fn into_owned(self) -> Self::Owned;
}

/// A generated borrowed struct.
pub(crate) trait WireStructRef<'a>: Sized {
    /// Lower bound of the encoded size at any version.
    const MIN_LEN: usize;
    fn decode_body(r: &mut Rd<'a>, v: i16) -> RResult<Self>;
    /// Decodes `n` values and appends them to `out`.
    #[inline]
    fn decode_n(r: &mut Rd<'a>, v: i16, n: usize, out: &mut Vec<Self>) -> RResult<()> {
        for _ in 0..n {
            out.push(Self::decode_body(r, v)?);
        }
        Ok(())
    }
}

/// Decodes a message's borrowed view: the version check and the error conversion of
/// [`DecodeRef::decode_ref_prefix`].
pub(crate) fn decode_top<'a, T: WireStructRef<'a>>(
    body: &'a [u8],
    v: i16,
    api_key: i16,
    versions: crate::VersionRange,
) -> Result<(T, usize), DecodeError> {
    if !versions.contains(v) {
        return Err(DecodeError::new(
            0,
            DecodeErrorKind::UnsupportedVersion {
                api_key,
                version: v,
            },
        ));
    }
    let mut r = Rd::borrowed(body);
    match T::decode_body(&mut r, v) {
        Ok(x) => Ok((x, body.len() - r.rest.len())),
        Err(_) => Err(r.err.into_public(body)),
    }
}

/// A field value of a borrowed view: how it is read at a version.
pub(crate) trait ValueRef<'a>: Sized {
    fn read_ref(r: &mut Rd<'a>, flex: bool, v: i16) -> RResult<Self>;
    fn read_nullable_ref(r: &mut Rd<'a>, flex: bool, v: i16) -> RResult<Option<Self>>;
}

/// Reads a field typed `Option<T>`: null allowed only when `nullable`.
#[inline(always)]
pub(crate) fn read_opt_ref<'a, T: ValueRef<'a>>(
    r: &mut Rd<'a>,
    flex: bool,
    v: i16,
    nullable: bool,
) -> RResult<Option<T>> {
    if nullable {
        T::read_nullable_ref(r, flex, v)
    } else {
        Ok(Some(T::read_ref(r, flex, v)?))
    }
}

/// Reads a string field validated on its own, without the UTF-8 window (the generator uses it
/// in structs with byte fields, whose strings sit apart); null allowed only when `nullable`.
#[inline(always)]
pub(crate) fn read_str_alone<'a>(
    r: &mut Rd<'a>,
    flex: bool,
    nullable: bool,
) -> RResult<Option<&'a str>> {
    let at = r.rest;
    let s = r.nullable_str_alone(flex)?;
    if nullable {
        Ok(s)
    } else {
        r.required(at, s).map(Some)
    }
}

/// [`read_str_alone`] for a non-nullable field.
#[inline(always)]
pub(crate) fn read_str_alone_req<'a>(r: &mut Rd<'a>, flex: bool) -> RResult<&'a str> {
    let at = r.rest;
    let s = r.nullable_str_alone(flex)?;
    r.required(at, s)
}

/// Fixed-width values read the same in both views.
macro_rules! same_as_owned {
    ($($t:ty),*) => {$(
        impl<'a> ValueRef<'a> for $t {
            #[inline(always)]
            fn read_ref(r: &mut Rd<'a>, flex: bool, v: i16) -> RResult<Self> {
                <$t as crate::value::Value>::read(r, flex, v)
            }
            fn read_nullable_ref(r: &mut Rd<'a>, flex: bool, v: i16) -> RResult<Option<Self>> {
                <$t as crate::value::Value>::read_nullable(r, flex, v)
            }
        }
        impl IntoOwned for $t {
            type Owned = $t;
            #[inline(always)]
            fn into_owned(self) -> $t {
                self
            }
        }
    )*};
}
same_as_owned!(bool, i8, i16, u16, i32, u32, i64, f64, Uuid);

impl<'a> ValueRef<'a> for &'a str {
    #[inline(always)]
    fn read_ref(r: &mut Rd<'a>, flex: bool, _: i16) -> RResult<Self> {
        let at = r.rest;
        let s = r.nullable_str_ref(flex)?;
        r.required(at, s)
    }
    #[inline(always)]
    fn read_nullable_ref(r: &mut Rd<'a>, flex: bool, _: i16) -> RResult<Option<Self>> {
        r.nullable_str_ref(flex)
    }
}

impl IntoOwned for &str {
    type Owned = ByteString;
    fn into_owned(self) -> ByteString {
        ByteString::from(self)
    }
}

impl<'a> ValueRef<'a> for &'a [u8] {
    #[inline(always)]
    fn read_ref(r: &mut Rd<'a>, flex: bool, _: i16) -> RResult<Self> {
        let at = r.rest;
        let b = r.nullable_bytes_ref(flex)?;
        r.required(at, b)
    }
    #[inline(always)]
    fn read_nullable_ref(r: &mut Rd<'a>, flex: bool, _: i16) -> RResult<Option<Self>> {
        r.nullable_bytes_ref(flex)
    }
}

impl IntoOwned for &[u8] {
    type Owned = Bytes;
    fn into_owned(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl<'a, T: PackedElem> ValueRef<'a> for PackedRef<'a, T> {
    #[inline(always)]
    fn read_ref(r: &mut Rd<'a>, flex: bool, _: i16) -> RResult<Self> {
        let at = r.rest;
        let p = r.nullable_packed_ref(flex)?;
        r.required(at, p)
    }
    #[inline(always)]
    fn read_nullable_ref(r: &mut Rd<'a>, flex: bool, _: i16) -> RResult<Option<Self>> {
        r.nullable_packed_ref(flex)
    }
}

/// An element of a `Vec` array field of a borrowed view.
pub(crate) trait ArrayElemRef<'a>: ValueRef<'a> {
    const MIN_ELEM: usize;
    /// Reads `n` elements, appending them to `out`.
    fn read_n_ref(r: &mut Rd<'a>, flex: bool, v: i16, n: usize, out: &mut Vec<Self>)
    -> RResult<()>;
}

impl<'a> ArrayElemRef<'a> for &'a str {
    const MIN_ELEM: usize = 1;
    /// Each string is tried on the fast path (a local slice), then, on anything unusual, read
    /// again from its start by [`ValueRef::read_ref`], which gives the value or the error.
    #[inline(always)]
    fn read_n_ref(
        r: &mut Rd<'a>,
        flex: bool,
        v: i16,
        n: usize,
        out: &mut Vec<Self>,
    ) -> RResult<()> {
        read_n(out, n, || {
            let mut c = r.rest;
            match <&'a str as fast::Fast<'a>>::fast(r, &mut c, flex) {
                Some(s) => {
                    r.rest = c;
                    Ok(s)
                }
                None => Self::read_ref(r, flex, v),
            }
        })
    }
}

impl<'a, S: WireStructRef<'a>> ArrayElemRef<'a> for S {
    const MIN_ELEM: usize = S::MIN_LEN;
    #[inline(always)]
    fn read_n_ref(r: &mut Rd<'a>, _: bool, v: i16, n: usize, out: &mut Vec<Self>) -> RResult<()> {
        S::decode_n(r, v, n, out)
    }
}

impl<'a, T: ArrayElemRef<'a>> ValueRef<'a> for Vec<T> {
    #[inline]
    fn read_ref(r: &mut Rd<'a>, flex: bool, v: i16) -> RResult<Self> {
        let at = r.rest;
        let x = Self::read_nullable_ref(r, flex, v)?;
        r.required(at, x)
    }
    #[inline]
    fn read_nullable_ref(r: &mut Rd<'a>, flex: bool, v: i16) -> RResult<Option<Self>> {
        r.nullable_vec(flex, T::MIN_ELEM, |r, n, out| {
            T::read_n_ref(r, flex, v, n, out)
        })
    }
}

impl<'a, S: WireStructRef<'a>> ValueRef<'a> for S {
    #[inline]
    fn read_ref(r: &mut Rd<'a>, _: bool, v: i16) -> RResult<Self> {
        S::decode_body(r, v)
    }
    /// Nullable structs carry an int8 marker: -1 for null, 1 for present.
    fn read_nullable_ref(r: &mut Rd<'a>, _: bool, v: i16) -> RResult<Option<Self>> {
        let at = r.rest;
        match i8::from_be_bytes(r.array()?) {
            -1 => Ok(None),
            1 => Ok(Some(S::decode_body(r, v)?)),
            _ => Err(r.fail_at(at, DecodeErrorKind::OutOfRange)),
        }
    }
}

impl<T: IntoOwned> IntoOwned for Option<T> {
    type Owned = Option<T::Owned>;
    #[inline]
    fn into_owned(self) -> Self::Owned {
        self.map(IntoOwned::into_owned)
    }
}

impl<T: IntoOwned> IntoOwned for Vec<T> {
    type Owned = Vec<T::Owned>;
    fn into_owned(self) -> Self::Owned {
        self.into_iter().map(IntoOwned::into_owned).collect()
    }
}

/// A borrowed array of fixed-size primitives in wire form (big-endian), decoded on access:
/// the view of [`Packed`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PackedRef<'a, T: PackedElem> {
    bytes: &'a [u8],
    _elem: PhantomData<T>,
}

impl<'a, T: PackedElem> PackedRef<'a, T> {
    /// An empty array.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            bytes: &[],
            _elem: PhantomData,
        }
    }

    /// Wraps wire bytes; `bytes.len()` must be a multiple of `T::SIZE`.
    pub(crate) fn from_wire(bytes: &'a [u8]) -> Self {
        debug_assert_eq!(bytes.len() % T::SIZE, 0);
        Self {
            bytes,
            _elem: PhantomData,
        }
    }

    /// Number of elements.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.bytes.len() / T::SIZE
    }

    /// Whether the array has no elements.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
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
    pub fn iter(&self) -> impl ExactSizeIterator<Item = T> + 'a {
        self.bytes.chunks_exact(T::SIZE).map(T::read)
    }

    /// Copies the elements into a `Vec`.
    #[must_use]
    pub fn to_vec(&self) -> Vec<T> {
        self.iter().collect()
    }

    /// The big-endian wire bytes (no length prefix).
    #[must_use]
    pub const fn wire_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl<T: PackedElem> Default for PackedRef<'_, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: PackedElem> fmt::Debug for PackedRef<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: PackedElem> IntoOwned for PackedRef<'_, T> {
    type Owned = Packed<T>;
    fn into_owned(self) -> Packed<T> {
        Packed::from_wire(Bytes::copy_from_slice(self.bytes))
    }
}

/// A tagged field this library does not know, borrowed: the view of [`RawTaggedField`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawTaggedFieldRef<'a> {
    /// The tag number.
    pub tag: u32,
    /// The field's bytes (without tag and size prefixes).
    pub data: &'a [u8],
}

/// The untyped tagged fields of a borrowed struct: the view of [`TaggedFields`]. Eight bytes
/// and no allocation when empty.
#[derive(Clone, Default, PartialEq, Eq)]
#[expect(
    clippy::box_collection,
    reason = "a thin 8-byte pointer keeps every generated struct small"
)]
pub struct TaggedFieldsRef<'a>(Option<Box<Vec<RawTaggedFieldRef<'a>>>>);

impl<'a> TaggedFieldsRef<'a> {
    /// No tagged fields.
    #[must_use]
    pub const fn new() -> Self {
        Self(None)
    }

    /// Appends a field.
    pub fn push(&mut self, field: RawTaggedFieldRef<'a>) {
        self.0.get_or_insert_with(Default::default).push(field);
    }

    /// The fields as a slice.
    #[must_use]
    pub fn as_slice(&self) -> &[RawTaggedFieldRef<'a>] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Whether there are no fields.
    #[must_use]
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

impl<'a> From<Vec<RawTaggedFieldRef<'a>>> for TaggedFieldsRef<'a> {
    fn from(v: Vec<RawTaggedFieldRef<'a>>) -> Self {
        if v.is_empty() {
            Self(None)
        } else {
            Self(Some(Box::new(v)))
        }
    }
}

impl fmt::Debug for TaggedFieldsRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl IntoOwned for TaggedFieldsRef<'_> {
    type Owned = TaggedFields;
    fn into_owned(self) -> TaggedFields {
        let mut out = TaggedFields::new();
        for f in self.as_slice() {
            out.push(RawTaggedField {
                tag: f.tag,
                data: Bytes::copy_from_slice(f.data),
            });
        }
        out
    }
}

/// The optimistic decode of a view's array elements.
///
/// Every reader method updates the cursor behind `&mut Rd`, and the cursor's address reaches
/// the (cold) error paths, so the compiler keeps it in memory: each field stores it and the
/// next one loads it back, a store-to-load chain of a few cycles per field. Elements of the
/// common shape (fixed-width fields, strings, bytes, packed arrays, empty or null lists, no
/// tagged fields) are first read here from a local slice held in registers. Anything else (a
/// long varint, a non-empty list, a tagged field, any error) gives `None`, and the caller reads
/// the element again from its start with the full decoder, which gives the same value or the
/// same [`DecodeError`]; so this path changes speed only.
pub(crate) mod fast {
    use alloc::vec::Vec;

    use super::PackedRef;
    use crate::reader::{Rd, short_uvarint as uvarint};
    use crate::types::{PackedElem, Uuid};

    /// The next `N` bytes (a run of fixed-width fields read with one bounds check).
    #[inline(always)]
    pub(crate) fn array<const N: usize>(c: &mut &[u8]) -> Option<[u8; N]> {
        let (a, rest) = c.split_first_chunk::<N>()?;
        *c = rest;
        Some(*a)
    }

    #[inline(always)]
    fn take<'a>(c: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (a, rest) = c.split_at_checked(n)?;
        *c = rest;
        Some(a)
    }

    /// A classic length: `Some(None)` for -1 (null), `None` for the other negatives.
    #[inline(always)]
    fn classic(n: i32) -> Option<Option<usize>> {
        match n {
            0.. => Some(Some(n as usize)),
            -1 => Some(None),
            _ => None,
        }
    }

    /// Length of bytes or an array: compact N+1 or int32.
    #[inline(always)]
    fn len(c: &mut &[u8], flex: bool) -> Option<Option<usize>> {
        if flex {
            Some(uvarint(c)?.checked_sub(1).map(|n| n as usize))
        } else {
            classic(i32::from_be_bytes(array(c)?))
        }
    }

    /// Length of a string: compact N+1 or int16.
    #[inline(always)]
    fn str_len(c: &mut &[u8], flex: bool) -> Option<Option<usize>> {
        if flex {
            Some(uvarint(c)?.checked_sub(1).map(|n| n as usize))
        } else {
            classic(i32::from(i16::from_be_bytes(array(c)?)))
        }
    }

    /// A value the optimistic path reads; `nullable` gives `Some(None)` for null.
    pub(crate) trait Fast<'a>: Sized {
        /// A non-null value.
        fn fast(r: &mut Rd<'a>, c: &mut &'a [u8], flex: bool) -> Option<Self> {
            Self::fast_nullable(r, c, flex)?
        }
        /// A value or null.
        fn fast_nullable(r: &mut Rd<'a>, c: &mut &'a [u8], flex: bool) -> Option<Option<Self>>;
    }

    macro_rules! fixed {
        ($($t:ty),*) => {$(
            impl<'a> Fast<'a> for $t {
                #[inline(always)]
                fn fast(_: &mut Rd<'a>, c: &mut &'a [u8], _: bool) -> Option<Self> {
                    Some(<$t>::from_be_bytes(array(c)?))
                }
                fn fast_nullable(_: &mut Rd<'a>, _: &mut &'a [u8], _: bool) -> Option<Option<Self>> {
                    None
                }
            }
        )*};
    }
    fixed!(i8, i16, u16, i32, u32, i64, f64);

    impl<'a> Fast<'a> for Uuid {
        #[inline(always)]
        fn fast(_: &mut Rd<'a>, c: &mut &'a [u8], _: bool) -> Option<Self> {
            Some(Uuid(array(c)?))
        }
        fn fast_nullable(_: &mut Rd<'a>, _: &mut &'a [u8], _: bool) -> Option<Option<Self>> {
            None
        }
    }

    impl<'a> Fast<'a> for bool {
        #[inline(always)]
        fn fast(_: &mut Rd<'a>, c: &mut &'a [u8], _: bool) -> Option<Self> {
            match array::<1>(c)? {
                [0] => Some(false),
                [1] => Some(true),
                _ => None,
            }
        }
        fn fast_nullable(_: &mut Rd<'a>, _: &mut &'a [u8], _: bool) -> Option<Option<Self>> {
            None
        }
    }

    impl<'a> Fast<'a> for &'a [u8] {
        #[inline(always)]
        fn fast_nullable(_: &mut Rd<'a>, c: &mut &'a [u8], flex: bool) -> Option<Option<Self>> {
            match len(c, flex)? {
                Some(n) => Some(Some(take(c, n)?)),
                None => Some(None),
            }
        }
    }

    /// Strings through the cursor's UTF-8 window, as [`Rd::str_of`] gives them.
    impl<'a> Fast<'a> for &'a str {
        #[inline(always)]
        fn fast_nullable(r: &mut Rd<'a>, c: &mut &'a [u8], flex: bool) -> Option<Option<Self>> {
            match str_len(c, flex)? {
                Some(0) => Some(Some("")),
                Some(n) => Some(Some(r.str_of(take(c, n)?)?)),
                None => Some(None),
            }
        }
    }

    impl<'a, T: PackedElem> Fast<'a> for PackedRef<'a, T> {
        #[inline(always)]
        fn fast_nullable(_: &mut Rd<'a>, c: &mut &'a [u8], flex: bool) -> Option<Option<Self>> {
            match len(c, flex)? {
                Some(n) => Some(Some(PackedRef::from_wire(take(
                    c,
                    n.checked_mul(T::SIZE)?,
                )?))),
                None => Some(None),
            }
        }
    }

    /// Lists of strings or structs: only empty or null ones.
    impl<'a, T> Fast<'a> for Vec<T> {
        #[inline(always)]
        fn fast_nullable(_: &mut Rd<'a>, c: &mut &'a [u8], flex: bool) -> Option<Option<Self>> {
            match len(c, flex)? {
                Some(0) => Some(Some(Vec::new())),
                Some(_) => None,
                None => Some(None),
            }
        }
    }

    /// A field typed `Option<T>`: null allowed only when `nullable`.
    #[inline(always)]
    pub(crate) fn opt<'a, T: Fast<'a>>(
        r: &mut Rd<'a>,
        c: &mut &'a [u8],
        flex: bool,
        nullable: bool,
    ) -> Option<Option<T>> {
        if nullable {
            T::fast_nullable(r, c, flex)
        } else {
            Some(Some(T::fast(r, c, flex)?))
        }
    }

    /// A string validated on its own (no UTF-8 window); null allowed only when `nullable`.
    #[inline(always)]
    pub(crate) fn str_alone<'a>(
        c: &mut &'a [u8],
        flex: bool,
        nullable: bool,
    ) -> Option<Option<&'a str>> {
        match str_len(c, flex)? {
            Some(0) => Some(Some("")),
            Some(n) => Some(Some(core::str::from_utf8(take(c, n)?).ok()?)),
            None if nullable => Some(None),
            None => None,
        }
    }

    /// The tagged-field section: only an empty one.
    #[inline(always)]
    pub(crate) fn no_tags(c: &mut &[u8]) -> Option<()> {
        let (&0, rest) = c.split_first()? else {
            return None;
        };
        *c = rest;
        Some(())
    }
}
