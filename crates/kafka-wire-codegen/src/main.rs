//! Generates `crates/kafka-wire/src/generated/` from Apache Kafka's JSON message specs.
//!
//! Usage: `cargo run -p kafka-wire-codegen -- [SPECS_NEW] [SPECS_OLD] [OUT_DIR]`; the defaults
//! are `../shared/kafka-message-specs` (4.3.1), `../shared/kafka-message-specs-3.9` (3.9.2) and
//! `crates/kafka-wire/src/generated`, relative to the workspace root. The output is the union
//! of both spec sets' versions (see `docs/codegen.md`).

use core::fmt::Write as _;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;

mod merge;
mod model;

use model::{Field, Kind, Range, Spec, Ty};

fn main() {
    let root = workspace_root();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let new_dir = args
        .first()
        .map_or_else(|| root.join("../shared/kafka-message-specs"), PathBuf::from);
    let old_dir = args.get(1).map_or_else(
        || root.join("../shared/kafka-message-specs-3.9"),
        PathBuf::from,
    );
    let out_dir = args.get(2).map_or_else(
        || root.join("crates/kafka-wire/src/generated"),
        PathBuf::from,
    );

    let new = load_dir(&new_dir);
    let old = load_dir(&old_dir);
    let specs = merge::merge_sets(new, old);

    if out_dir.exists() {
        std::fs::remove_dir_all(&out_dir).expect("remove old output");
    }
    std::fs::create_dir_all(&out_dir).expect("create output dir");
    let mut files = Vec::new();
    for spec in &specs {
        let file = out_dir.join(format!("{}.rs", snake(&spec.name)));
        std::fs::write(&file, emit_spec(spec)).expect("write");
        files.push(file);
    }
    let modrs = out_dir.join("mod.rs");
    std::fs::write(&modrs, emit_mod(&specs)).expect("write mod.rs");
    files.push(modrs);
    let status = Command::new("rustfmt")
        .args(["--edition", "2024", "--config", "style_edition=2024"])
        .args(&files)
        .status()
        .expect("run rustfmt");
    assert!(status.success(), "rustfmt failed");
    eprintln!("generated {} files into {}", files.len(), out_dir.display());
}

fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .and_then(Path::parent)
        .expect("crate sits in crates/")
        .to_path_buf()
}

/// Removes `//` comments that are not inside JSON strings.
fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut in_str = false;
    let mut escape = false;
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            if escape {
                escape = false;
            } else if c == '\\' {
                escape = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if c == '/' && chars.peek() == Some(&'/') {
            for c2 in chars.by_ref() {
                if c2 == '\n' {
                    out.push('\n');
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn load_dir(dir: &Path) -> Vec<Spec> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    entries.sort();
    let mut specs = Vec::new();
    for path in entries {
        let text = std::fs::read_to_string(&path).expect("read spec");
        let json: Json = serde_json::from_str(&strip_comments(&text))
            .unwrap_or_else(|e| panic!("parse {}: {e}", path.display()));
        if let Some(spec) = model::parse_spec(&json) {
            specs.push(spec);
        }
    }
    specs
}

pub(crate) fn snake(name: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn field_ident(name: &str) -> String {
    let s = snake(name);
    match s.as_str() {
        "type" | "match" | "async" | "await" | "ref" | "self" | "move" | "loop" | "in" | "fn"
        | "impl" | "mod" | "use" | "where" | "static" | "const" | "struct" | "enum" | "trait"
        | "crate" | "super" | "box" | "yield" | "try" | "dyn" | "abstract" | "final" => {
            format!("{s}_")
        }
        _ => s,
    }
}

/// Boolean Rust expression for "version `v` is in `r`", given the message's valid range.
fn cond(r: Range, valid: Range) -> String {
    if r.is_empty() {
        return "false".into();
    }
    let lo = r.lo <= valid.lo;
    let hi = r.hi >= valid.hi;
    match (lo, hi) {
        (true, true) => "true".into(),
        (true, false) => format!("v <= {}", r.hi),
        (false, true) => format!("v >= {}", r.lo),
        (false, false) if r.lo == r.hi => format!("v == {}", r.lo),
        (false, false) => format!("({}..={}).contains(&v)", r.lo, r.hi),
    }
}

/// The Rust type of a field value (without the nullable `Option`).
fn base_type(ty: &Ty) -> String {
    match ty {
        Ty::Bool => "bool".into(),
        Ty::Int8 => "i8".into(),
        Ty::Int16 => "i16".into(),
        Ty::Uint16 => "u16".into(),
        Ty::Int32 => "i32".into(),
        Ty::Uint32 => "u32".into(),
        Ty::Int64 => "i64".into(),
        Ty::Float64 => "f64".into(),
        Ty::String => "ByteString".into(),
        Ty::Bytes | Ty::Records => "Bytes".into(),
        Ty::Uuid => "Uuid".into(),
        Ty::Struct(s) => s.clone(),
        Ty::Array(inner) => match inner.as_ref() {
            Ty::Int8 | Ty::Int16 | Ty::Int32 | Ty::Int64 | Ty::Uuid => {
                format!("Packed<{}>", base_type(inner))
            }
            other => format!("Vec<{}>", base_type(other)),
        },
    }
}

fn is_nullable(f: &Field) -> bool {
    !f.nullable.intersect(f.versions).is_empty()
}

fn rust_type(f: &Field) -> String {
    if is_nullable(f) {
        format!("Option<{}>", base_type(&f.ty))
    } else {
        base_type(&f.ty)
    }
}

/// Which of the two generated forms a piece of code is for: the owned structs (`Bytes`,
/// `ByteString`) or their borrowed views (`&'a [u8]`, `&'a str`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    Owned,
    Borrowed,
}

/// The field value type of a borrowed view (without the nullable `Option`).
fn base_type_ref(ty: &Ty) -> String {
    match ty {
        Ty::String => "&'a str".into(),
        Ty::Bytes | Ty::Records => "&'a [u8]".into(),
        Ty::Struct(s) => format!("{s}Ref<'a>"),
        Ty::Array(inner) => match inner.as_ref() {
            Ty::Int8 | Ty::Int16 | Ty::Int32 | Ty::Int64 | Ty::Uuid => {
                format!("PackedRef<'a, {}>", base_type(inner))
            }
            other => format!("Vec<{}>", base_type_ref(other)),
        },
        other => base_type(other),
    }
}

fn base_type_v(ty: &Ty, view: View) -> String {
    match view {
        View::Owned => base_type(ty),
        View::Borrowed => base_type_ref(ty),
    }
}

fn rust_type_ref(f: &Field) -> String {
    if is_nullable(f) {
        format!("Option<{}>", base_type_ref(&f.ty))
    } else {
        base_type_ref(&f.ty)
    }
}

/// Default value expression of a field of a borrowed view.
fn default_expr_ref(f: &Field) -> String {
    let d = f.default.as_deref();
    let nullable = is_nullable(f);
    if nullable && d == Some("null") {
        return "None".into();
    }
    let base = match &f.ty {
        Ty::String => match d {
            Some(x) if !x.is_empty() => format!("{x:?}"),
            _ => "\"\"".into(),
        },
        Ty::Bytes => "<&[u8]>::default()".into(),
        Ty::Records => {
            if nullable {
                return "None".into();
            }
            "<&[u8]>::default()".into()
        }
        Ty::Array(_) => {
            if base_type(&f.ty).starts_with("Packed") {
                "PackedRef::new()".into()
            } else {
                "Vec::new()".into()
            }
        }
        _ => return default_expr(f),
    };
    if nullable {
        format!("Some({base})")
    } else {
        base
    }
}

fn default_expr_v(f: &Field, view: View) -> String {
    match view {
        View::Owned => default_expr(f),
        View::Borrowed => default_expr_ref(f),
    }
}

fn parse_int(s: &str) -> i128 {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        i128::from_str_radix(h, 16).expect("hex default")
    } else if let Some(h) = s.strip_prefix("-0x") {
        -i128::from_str_radix(h, 16).expect("hex default")
    } else {
        s.parse()
            .unwrap_or_else(|_| panic!("integer default {s:?}"))
    }
}

/// Default value expression of a field.
fn default_expr(f: &Field) -> String {
    let d = f.default.as_deref();
    let nullable = is_nullable(f);
    if nullable && d == Some("null") {
        return "None".into();
    }
    let base = match &f.ty {
        Ty::Bool => match d {
            Some("true") => "true".into(),
            _ => "false".into(),
        },
        Ty::Int8 | Ty::Int16 | Ty::Uint16 | Ty::Int32 | Ty::Uint32 | Ty::Int64 => match d {
            Some(x) if !x.is_empty() => {
                let n = parse_int(x);
                let t = base_type(&f.ty);
                if n < 0 {
                    format!("{n}_{t}")
                } else {
                    format!("{n}")
                }
            }
            _ => "0".into(),
        },
        Ty::Float64 => match d {
            Some(x) if !x.is_empty() => {
                let v: f64 = x.parse().expect("float default");
                format!("{v:?}")
            }
            _ => "0.0".into(),
        },
        Ty::String => match d {
            Some(x) if !x.is_empty() => format!("ByteString::from_static({x:?})"),
            _ => "ByteString::new()".into(),
        },
        Ty::Bytes => "Bytes::new()".into(),
        Ty::Records => {
            if nullable {
                return "None".into();
            }
            "Bytes::new()".into()
        }
        Ty::Uuid => "Uuid::ZERO".into(),
        Ty::Struct(_) => "Default::default()".into(),
        Ty::Array(_) => {
            let t = base_type(&f.ty);
            if t.starts_with("Packed") {
                "Packed::new()".into()
            } else {
                format!("<{t}>::new()")
            }
        }
    };
    if nullable {
        format!("Some({base})")
    } else {
        base
    }
}

/// Minimum encoded size of a field when present and not null (conservative lower bound).
fn field_min(f: &Field, v: i16, flex: bool, structs: &BTreeMap<String, StructInfo>) -> usize {
    let nullable_here = f.nullable.contains(v);
    match &f.ty {
        Ty::Bool | Ty::Int8 => 1,
        Ty::Int16 | Ty::Uint16 => 2,
        Ty::Int32 | Ty::Uint32 => 4,
        Ty::Int64 | Ty::Float64 => 8,
        Ty::Uuid => 16,
        Ty::String => {
            if flex {
                1
            } else {
                2
            }
        }
        Ty::Bytes | Ty::Records | Ty::Array(_) => {
            if flex {
                1
            } else {
                4
            }
        }
        Ty::Struct(s) => {
            if nullable_here {
                1
            } else {
                structs.get(s).map_or(0, |i| i.min_at(v, flex, structs))
            }
        }
    }
}

#[derive(Clone)]
struct StructInfo {
    fields: Vec<Field>,
}

impl StructInfo {
    fn min_at(&self, v: i16, flex: bool, structs: &BTreeMap<String, Self>) -> usize {
        let mut n = usize::from(flex);
        for f in &self.fields {
            if f.versions.contains(v) && !f.tagged.contains(v) {
                n += field_min(f, v, flex, structs);
            }
        }
        n
    }
}

/// Collects every struct defined in a spec (top level, inline, common).
fn collect_structs(spec: &Spec) -> Vec<(String, Vec<Field>)> {
    fn walk(fields: &[Field], out: &mut Vec<(String, Vec<Field>)>) {
        for f in fields {
            if let Some(name) = f.ty.struct_name() {
                if !f.fields.is_empty() && !out.iter().any(|(n, _)| n == name) {
                    out.push((name.to_string(), f.fields.clone()));
                    walk(&f.fields, out);
                }
            }
        }
    }
    let mut out = vec![(spec.name.clone(), spec.fields.clone())];
    walk(&spec.fields, &mut out);
    for (name, fields) in &spec.common {
        if !out.iter().any(|(n, _)| n == name) {
            out.push((name.clone(), fields.clone()));
            walk(fields, &mut out);
        }
    }
    out
}

fn emit_spec(spec: &Spec) -> String {
    let mut o = String::new();
    let valid = spec.valid;
    let flex_from = spec.flexible.lo;
    let kind = match spec.kind {
        Kind::Request => "request",
        Kind::Response => "response",
        Kind::Data => "data schema",
    };
    writeln!(
        o,
        "//! `{}` (api key {}), {kind}, versions {}-{}. Generated by kafka-wire-codegen; do not edit.\n",
        spec.name,
        spec.api_key.map_or("none".to_string(), |k| k.to_string()),
        valid.lo,
        valid.hi
    )
    .unwrap();
    o.push_str("#![allow(clippy::all, clippy::pedantic, unused_imports, unused_variables, unused_mut, unused_assignments)]\n\n");
    o.push_str(
        "use alloc::vec::Vec;\nuse bytes::{BufMut, Bytes};\nuse bytestring::ByteString;\n\n",
    );
    o.push_str("use crate::error::{DecodeError, DecodeErrorKind, EncodeError};\n");
    o.push_str("use crate::message::{Decode, Encode, Message, VersionRange};\n");
    o.push_str("use crate::primitives as p;\n");
    o.push_str("use crate::reader::{field, read_n, RResult, Rd};\n");
    o.push_str("use crate::vectored::{Out, Vectored};\n");
    o.push_str("use crate::types::{Packed, RawTaggedField, TaggedFields, Uuid};\n");
    o.push_str("use crate::value::{self as val, Value, WireStruct};\n");
    o.push_str("use crate::borrowed::{self as bv, DecodeRef, IntoOwned, PackedRef, RawTaggedFieldRef, TaggedFieldsRef, ValueRef, WireStructRef};\n\n");

    let structs = collect_structs(spec);
    let info: BTreeMap<String, StructInfo> = structs
        .iter()
        .map(|(n, f)| (n.clone(), StructInfo { fields: f.clone() }))
        .collect();
    let flex_of = |v: i16| spec.flexible.contains(v);
    for (name, fields) in &structs {
        let min = (valid.lo..=valid.hi)
            .map(|v| info[name].min_at(v, flex_of(v), &info))
            .min()
            .unwrap_or(0);
        emit_struct(&mut o, spec, name, fields, min, name == &spec.name);
        emit_struct_ref(&mut o, spec, name, fields, min, name == &spec.name);
    }

    // The Message / Encode / Decode impls of the top-level struct.
    let n = &spec.name;
    let unstable: Vec<String> = spec.unstable.iter().map(ToString::to_string).collect();
    writeln!(
        o,
        "impl {n} {{\n    /// Versions that brokers advertise only with unstable APIs enabled.\n    pub const UNSTABLE_VERSIONS: &'static [i16] = &[{}];\n}}\n",
        unstable.join(", ")
    )
    .unwrap();
    writeln!(
        o,
        "impl Message for {n} {{
    const NAME: &'static str = {n:?};
    const API_KEY: i16 = {};
    const VERSIONS: VersionRange = VersionRange::new({}, {});
    const FLEXIBLE_FROM: Option<i16> = {};
    const UNSTABLE_FROM: Option<i16> = {};
}}

impl Decode for {n} {{
    fn decode_prefix(body: &Bytes, v: i16) -> Result<(Self, usize), DecodeError> {{
        if !Self::VERSIONS.contains(v) {{
            return Err(DecodeError::new(0, DecodeErrorKind::UnsupportedVersion {{ api_key: Self::API_KEY, version: v }}));
        }}
        let mut r = Rd::new(body);
        match Self::decode_body(&mut r, v) {{
            Ok(x) => Ok((x, body.len() - r.rest.len())),
            Err(_) => Err(r.err.into_public(body)),
        }}
    }}
}}

impl Encode for {n} {{
    fn encoded_len(&self, v: i16) -> Result<usize, EncodeError> {{
        if !Self::VERSIONS.contains(v) {{
            return Err(EncodeError::UnsupportedVersion {{ name: Self::NAME, version: v }});
        }}
        self.body_size(v)
    }}
    fn encode<B: BufMut>(&self, v: i16, out: &mut B) -> Result<(), EncodeError> {{
        if !Self::VERSIONS.contains(v) {{
            return Err(EncodeError::UnsupportedVersion {{ name: Self::NAME, version: v }});
        }}
        self.encode_body(out, v)
    }}
    fn encode_vectored(&self, v: i16, out: &mut Vectored) -> Result<(), EncodeError> {{
        if !Self::VERSIONS.contains(v) {{
            return Err(EncodeError::UnsupportedVersion {{ name: Self::NAME, version: v }});
        }}
        self.encode_body(out, v)
    }}
}}
",
        spec.api_key.unwrap_or(-1),
        valid.lo,
        valid.hi,
        if spec.flexible.is_empty() {
            "None".to_string()
        } else {
            format!("Some({flex_from})")
        },
        spec.unstable
            .iter()
            .min()
            .map_or("None".to_string(), |u| format!("Some({u})")),
    )
    .unwrap();
    o
}

fn doc_escape(s: &str) -> String {
    s.replace('[', "\\[")
        .replace(']', "\\]")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn range_text(r: Range, valid: Range) -> String {
    if r.is_empty() {
        "none".into()
    } else if r.hi >= valid.hi {
        format!("{}+", r.lo)
    } else if r.lo == r.hi {
        format!("{}", r.lo)
    } else {
        format!("{}-{}", r.lo, r.hi)
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "one emitter per struct keeps the output in one place"
)]
fn emit_struct(
    o: &mut String,
    spec: &Spec,
    name: &str,
    fields: &[Field],
    min_len: usize,
    top: bool,
) {
    let valid = spec.valid;
    let flex_cond = cond(spec.flexible, valid);
    // struct definition
    if top {
        writeln!(o, "/// `{name}`: versions {}-{}.", valid.lo, valid.hi).unwrap();
    } else {
        writeln!(o, "/// `{name}` (part of `{}`).", spec.name).unwrap();
    }
    o.push_str("#[derive(Debug, Clone, PartialEq)]\n#[cfg_attr(feature = \"serde\", derive(serde::Serialize))]\n");
    writeln!(o, "pub struct {name} {{").unwrap();
    for f in fields {
        let about = doc_escape(f.about.trim());
        writeln!(
            o,
            "    /// {}\n    ///\n    /// Spec field `{}`, versions {}{}{}.",
            if about.is_empty() {
                "(no description)".to_string()
            } else {
                about
            },
            f.name,
            range_text(f.versions, valid),
            if is_nullable(f) {
                format!(
                    ", nullable {}",
                    range_text(f.nullable.intersect(f.versions), valid)
                )
            } else {
                String::new()
            },
            if f.tagged.is_empty() {
                String::new()
            } else {
                format!(
                    ", tagged (tag {}) {}",
                    f.tag.unwrap_or(0),
                    range_text(f.tagged, valid)
                )
            }
        )
        .unwrap();
        writeln!(
            o,
            "    #[cfg_attr(feature = \"serde\", serde(rename = {:?}))]",
            f.name
        )
        .unwrap();
        if matches!(f.ty, Ty::Bytes | Ty::Records) {
            let w = if is_nullable(f) { "opt_bytes" } else { "bytes" };
            writeln!(o, "    #[cfg_attr(feature = \"serde\", serde(serialize_with = \"crate::serde_support::{w}\"))]").unwrap();
        }
        writeln!(o, "    pub {}: {},", field_ident(&f.name), rust_type(f)).unwrap();
    }
    o.push_str(
        "    /// Tagged fields this version of the library does not know, kept for re-encoding.\n",
    );
    o.push_str("    #[cfg_attr(feature = \"serde\", serde(rename = \"_unknown_tagged_fields\", skip_serializing_if = \"TaggedFields::is_empty\"))]\n");
    o.push_str("    pub unknown_tagged_fields: TaggedFields,\n}\n\n");

    // Default
    writeln!(
        o,
        "impl Default for {name} {{\n    fn default() -> Self {{\n        Self {{"
    )
    .unwrap();
    for f in fields {
        writeln!(
            o,
            "            {}: {},",
            field_ident(&f.name),
            default_expr(f)
        )
        .unwrap();
    }
    o.push_str("            unknown_tagged_fields: TaggedFields::new(),\n        }\n    }\n}\n\n");

    let mut tagged: Vec<&Field> = fields.iter().filter(|f| !f.tagged.is_empty()).collect();
    tagged.sort_by_key(|f| f.tag.unwrap_or(0));

    // decode
    writeln!(
        o,
        "impl WireStruct for {name} {{\n    const MIN_LEN: usize = {min_len};\n"
    )
    .unwrap();
    let dec = decode_fn(fields, valid, &flex_cond, &tagged, View::Owned);
    let decode_with = push_decode(o, &dec, top, "Rd<'_>", false);
    let runs = fixed_runs(fields, valid);

    // encode + size share the checks
    for pass in ["encode", "size"] {
        if pass == "encode" {
            o.push_str("    fn encode_body<B: Out>(&self, out: &mut B, v: i16) -> Result<(), EncodeError> {\n");
        } else {
            // Nested structs' sizes are summed in a loop by the parent: inlined there, the
            // per-element call and its `Result` in memory go away (JoinGroup encode -30%).
            if !top {
                o.push_str("    #[inline]\n");
            }
            o.push_str("    fn body_size(&self, v: i16) -> Result<usize, EncodeError> {\n        let mut n = 0usize;\n");
        }
        writeln!(o, "        let flex = {flex_cond};").unwrap();
        let mut run_end = 0;
        for (k, f) in fields.iter().enumerate() {
            if pass == "encode" && k < run_end {
                continue;
            }
            let id = field_ident(&f.name);
            let mand = f.versions.minus_tagged(f.tagged);
            let present = cond(mand, valid);
            let absent_ok = cond(f.versions, valid);
            // A field the version lacks entirely must hold its default (unless ignorable).
            if absent_ok != "true" && !f.ignorable {
                writeln!(
                    o,
                    "        if !({absent_ok}) && self.{id} != {} {{ return Err(EncodeError::FieldNotInVersion {{ field: {:?}, version: v }}); }}",
                    default_expr(f),
                    f.name
                )
                .unwrap();
            }
            if present == "false" {
                continue;
            }
            if pass == "encode" {
                if let Some(&(a, b)) = runs.iter().find(|r| r.0 == k) {
                    // The run's own checks come first, in order, then one write.
                    for g in &fields[a + 1..b] {
                        let absent_ok = cond(g.versions, valid);
                        if absent_ok != "true" && !g.ignorable {
                            writeln!(
                                o,
                                "        if !({absent_ok}) && self.{} != {} {{ return Err(EncodeError::FieldNotInVersion {{ field: {:?}, version: v }}); }}",
                                field_ident(&g.name),
                                default_expr(g),
                                g.name
                            )
                            .unwrap();
                        }
                    }
                    emit_fixed_run_encode(o, &fields[a..b], valid);
                    run_end = b;
                    continue;
                }
            }
            let stmt = write_stmt(f, valid, pass);
            if present == "true" {
                writeln!(o, "        {stmt}").unwrap();
            } else {
                writeln!(o, "        if {present} {{ {stmt} }}").unwrap();
            }
        }
        // tagged section
        let known: Vec<String> = tagged
            .iter()
            .map(|f| format!("({}, has_{})", f.tag.unwrap_or(0), field_ident(&f.name)))
            .collect();
        o.push_str("        if flex {\n");
        if tagged.is_empty() {
            // Fast path: no tagged fields is one zero byte.
            if pass == "size" {
                o.push_str(
                    "            if self.unknown_tagged_fields.is_empty() { n += 1; } else {\n",
                );
            } else {
                o.push_str("            if self.unknown_tagged_fields.is_empty() { out.put_u8(0); } else {\n");
            }
        }
        o.push_str("            let mut count = 0usize;\n");
        for f in &tagged {
            let id = field_ident(&f.name);
            writeln!(
                o,
                "            let has_{id} = ({}) && self.{id} != {};",
                cond(f.tagged, valid),
                default_expr(f)
            )
            .unwrap();
            writeln!(o, "            count += usize::from(has_{id});").unwrap();
        }
        writeln!(
            o,
            "            let (raw_count, unknown_size) = p::unknown_tags_size(&self.unknown_tagged_fields, &[{}])?;\n            count += raw_count;",
            known.join(", ")
        )
        .unwrap();
        if pass == "size" {
            o.push_str("            n += p::uvarint_size(count as u32) + unknown_size;\n");
            for f in &tagged {
                let id = field_ident(&f.name);
                let sz = size_expr(f, valid);
                writeln!(
                    o,
                    "            if has_{id} {{ let s = {sz}; n += p::tagged_entry_size({}, s); }}",
                    f.tag.unwrap_or(0)
                )
                .unwrap();
            }
        } else {
            o.push_str("            p::put_uvarint(out, count as u32);\n");
            o.push_str(
                "            let mut unknown = self.unknown_tagged_fields.iter().peekable();\n",
            );
            for f in &tagged {
                let id = field_ident(&f.name);
                let tag = f.tag.unwrap_or(0);
                let sz = size_expr(f, valid);
                let w = write_stmt(f, valid, "encode");
                if tag > 0 {
                    writeln!(
                        o,
                        "            while let Some(u) = unknown.next_if(|u| u.tag < {tag}) {{ p::put_raw_tag(out, u); }}"
                    )
                    .unwrap();
                }
                writeln!(
                    o,
                    "
            if has_{id} {{ let s = {sz}; p::put_uvarint(out, {tag}); p::put_uvarint(out, s as u32); {w} let _ = unknown.next_if(|u| u.tag == {tag}); }}"
                )
                .unwrap();
            }
            o.push_str("            for u in unknown { p::put_raw_tag(out, u); }\n");
        }
        if tagged.is_empty() {
            o.push_str("            }\n");
        }
        o.push_str("        } else if !self.unknown_tagged_fields.is_empty() {\n            return Err(EncodeError::TaggedFieldsNotSupported { version: v });\n        }\n");
        if pass == "size" {
            o.push_str("        Ok(n)\n    }\n\n");
        } else {
            o.push_str("        Ok(())\n    }\n");
        }
    }
    o.push_str("}\n\n");
    if let Some(with) = decode_with {
        writeln!(o, "impl {name} {{\n{with}}}\n").unwrap();
    }

    // random values for tests
    writeln!(o, "#[cfg(feature = \"testing\")]\nimpl {name} {{").unwrap();
    o.push_str(
        "    /// A random value whose fields are all valid at version `v` (for property tests).\n",
    );
    o.push_str("    pub fn random(g: &mut crate::testing::Gen, v: i16) -> Self {\n");
    writeln!(o, "        let flex = {flex_cond};").unwrap();
    o.push_str("        let mut x = Self::default();\n");
    for f in fields {
        let id = field_ident(&f.name);
        let present = cond(f.versions, valid);
        if present == "false" {
            continue;
        }
        let base = random_expr(&f.ty);
        let val = if is_nullable(f) {
            format!(
                "if ({}) && g.chance(4) {{ None }} else {{ Some({base}) }}",
                cond(f.nullable, valid)
            )
        } else {
            base
        };
        writeln!(o, "        if {present} {{ x.{id} = {val}; }}").unwrap();
    }
    let max_known = tagged
        .iter()
        .map(|f| f.tag.unwrap_or(0))
        .max()
        .map_or(0, |t| t + 1);
    writeln!(
        o,
        "        if flex {{ x.unknown_tagged_fields = g.unknown_tags({max_known}).into(); }}"
    )
    .unwrap();
    o.push_str("        x\n    }\n}\n\n");
}

/// Pushes a struct's `decode_body` (and `decode_n`) into its trait impl. Structs other than
/// the message itself can be array elements: their body is one inline function, and
/// `decode_n` fills the `Vec` through `reader::read_n`, whose counted `extend` builds each
/// element straight in its slot (no stack copy of a large struct) in a loop the body is
/// inlined into.
/// Returns that function, for an inherent impl.
fn push_decode(o: &mut String, dec: &str, top: bool, rd: &str, fast: bool) -> Option<String> {
    if top {
        o.push_str(dec);
        return None;
    }
    writeln!(o, "    fn decode_body(r: &mut {rd}, v: i16) -> RResult<Self> {{\n        Self::decode_with(r, v, |x| x)\n    }}\n").unwrap();
    if fast {
        writeln!(o, "    fn decode_n(r: &mut {rd}, v: i16, n: usize, out: &mut Vec<Self>) -> RResult<()> {{\n        read_n(out, n, || {{\n            let mut c = r.rest;\n            match Self::fast(r, &mut c, v) {{\n                Some(x) => {{\n                    r.rest = c;\n                    Ok(x)\n                }}\n                None => Self::decode_with(r, v, |x| x),\n            }}\n        }})\n    }}\n").unwrap();
    } else {
        writeln!(o, "    fn decode_n(r: &mut {rd}, v: i16, n: usize, out: &mut Vec<Self>) -> RResult<()> {{\n        read_n(out, n, || Self::decode_with(r, v, |x| x))\n    }}\n").unwrap();
    }
    let with = dec
        .replacen(
            &format!("    fn decode_body(r: &mut {rd}, v: i16) -> RResult<Self> {{\n"),
            &format!("    #[inline(always)]\n    fn decode_with<K>(r: &mut {rd}, v: i16, k: impl FnOnce(Self) -> K) -> RResult<K> {{\n"),
            1,
        )
        .replacen("        Ok(Self {\n", "        Ok(k(Self {\n", 1)
        .replacen(
            "            unknown_tagged_fields,\n        })\n",
            "            unknown_tagged_fields,\n        }))\n",
            1,
        );
    Some(with)
}

/// The borrowed view `{name}Ref<'a>` of a struct: definition, `Default`, decoder and
/// `IntoOwned`.
fn emit_struct_ref(
    o: &mut String,
    spec: &Spec,
    name: &str,
    fields: &[Field],
    min_len: usize,
    top: bool,
) {
    let valid = spec.valid;
    let flex_cond = cond(spec.flexible, valid);
    writeln!(
        o,
        "/// Borrowed view of [`{name}`]: strings and byte fields are slices of the input (see\n/// [`crate::borrowed`])."
    )
    .unwrap();
    o.push_str("#[derive(Debug, Clone, PartialEq)]\n");
    writeln!(o, "pub struct {name}Ref<'a> {{").unwrap();
    for f in fields {
        let id = field_ident(&f.name);
        writeln!(
            o,
            "    /// See [`{name}::{id}`].\n    pub {id}: {},",
            rust_type_ref(f)
        )
        .unwrap();
    }
    writeln!(
        o,
        "    /// See [`{name}::unknown_tagged_fields`].\n    pub unknown_tagged_fields: TaggedFieldsRef<'a>,\n}}\n"
    )
    .unwrap();
    writeln!(
        o,
        "impl Default for {name}Ref<'_> {{\n    fn default() -> Self {{\n        Self {{"
    )
    .unwrap();
    for f in fields {
        writeln!(
            o,
            "            {}: {},",
            field_ident(&f.name),
            default_expr_ref(f)
        )
        .unwrap();
    }
    o.push_str(
        "            unknown_tagged_fields: TaggedFieldsRef::new(),\n        }\n    }\n}\n\n",
    );

    let mut tagged: Vec<&Field> = fields.iter().filter(|f| !f.tagged.is_empty()).collect();
    tagged.sort_by_key(|f| f.tag.unwrap_or(0));
    writeln!(
        o,
        "impl<'a> WireStructRef<'a> for {name}Ref<'a> {{\n    const MIN_LEN: usize = {min_len};\n"
    )
    .unwrap();
    let dec = decode_fn(fields, valid, &flex_cond, &tagged, View::Borrowed);
    let fast = if top {
        None
    } else {
        fast_fn(fields, valid, &flex_cond)
    };
    let decode_with = push_decode(o, &dec, top, "Rd<'a>", fast.is_some());
    o.push_str("}\n\n");
    if let Some(with) = decode_with {
        writeln!(
            o,
            "impl<'a> {name}Ref<'a> {{\n{with}{}}}\n",
            fast.unwrap_or_default()
        )
        .unwrap();
    }
    if top {
        writeln!(
            o,
            "impl<'a> DecodeRef<'a> for {name}Ref<'a> {{\n    fn decode_ref_prefix(body: &'a [u8], v: i16) -> Result<(Self, usize), DecodeError> {{\n        bv::decode_top(body, v, {name}::API_KEY, {name}::VERSIONS)\n    }}\n}}\n"
        )
        .unwrap();
    }
    writeln!(
        o,
        "impl IntoOwned for {name}Ref<'_> {{\n    type Owned = {name};\n    fn into_owned(self) -> {name} {{\n        {name} {{"
    )
    .unwrap();
    for f in fields {
        let id = field_ident(&f.name);
        writeln!(o, "            {id}: self.{id}.into_owned(),").unwrap();
    }
    o.push_str("            unknown_tagged_fields: self.unknown_tagged_fields.into_owned(),\n        }\n    }\n}\n\n");
}

/// The `decode_body` function of a struct (owned or borrowed view).
fn decode_fn(
    fields: &[Field],
    valid: Range,
    flex_cond: &str,
    tagged: &[&Field],
    view: View,
) -> String {
    let mut out = String::new();
    let o = &mut out;
    let (rd, tags_new) = match view {
        View::Owned => ("Rd<'_>", "TaggedFields::new()"),
        View::Borrowed => ("Rd<'a>", "TaggedFieldsRef::new()"),
    };
    let raw_tag = match view {
        View::Owned => "r.raw_tag(tag, body)",
        View::Borrowed => "RawTaggedFieldRef { tag, data: body }",
    };
    writeln!(
        o,
        "    fn decode_body(r: &mut {rd}, v: i16) -> RResult<Self> {{"
    )
    .unwrap();
    writeln!(o, "        let flex = {flex_cond};").unwrap();
    // A view of a struct with byte fields (JoinGroup members, SyncGroup assignments) reads its
    // strings alone: they sit apart, so the UTF-8 window (`Rd::str_of`) cannot pay there.
    let alone = matches!(view, View::Borrowed)
        && fields
            .iter()
            .any(|f| matches!(f.ty, Ty::Bytes | Ty::Records));
    let runs = fixed_runs(fields, valid);
    let mut skip_to = 0;
    for (k, f) in fields.iter().enumerate() {
        if k < skip_to {
            continue;
        }
        if let Some(&(a, b)) = runs.iter().find(|r| r.0 == k) {
            emit_fixed_run_decode(o, &fields[a..b], valid, view);
            skip_to = b;
            continue;
        }
        let id = field_ident(&f.name);
        let mand = f.versions.minus_tagged(f.tagged);
        let present = cond(mand, valid);
        let read = if alone && matches!(f.ty, Ty::String) {
            read_str_alone_expr(f, valid)
        } else {
            read_expr(f, valid, view)
        };
        let mutkw = if f.tagged.is_empty() { "" } else { "mut " };
        if present == "false" {
            writeln!(o, "        let {mutkw}{id} = {};", default_expr_v(f, view)).unwrap();
        } else if present == "true" {
            writeln!(
                o,
                "        let {mutkw}{id} = field!(r, {:?}, {read});",
                f.name
            )
            .unwrap();
        } else {
            writeln!(
                o,
                "        let {mutkw}{id} = if {present} {{ field!(r, {:?}, {read}) }} else {{ {} }};",
                f.name,
                default_expr_v(f, view)
            )
            .unwrap();
        }
    }
    writeln!(o, "        let mut unknown_tagged_fields = {tags_new};").unwrap();
    o.push_str("        if flex {\n");
    if tagged.is_empty() {
        o.push_str(match view {
            View::Owned => "            unknown_tagged_fields = r.unknown_tags()?;\n",
            View::Borrowed => "            unknown_tagged_fields = r.unknown_tags_ref()?;\n",
        });
    } else {
        o.push_str("            if let Some((&0, rest)) = r.rest.split_first() { r.rest = rest; } else {\n");
        o.push_str("            let n = r.uvarint()?;\n            let mut last = None;\n");
        o.push_str("            for _ in 0..n {\n                let at = r.rest;\n                let (tag, after) = r.tagged_field()?;\n                r.check_tag_order(at, &mut last, tag)?;\n                let body = r.rest;\n                match tag {\n");
        for f in tagged {
            let id = field_ident(&f.name);
            let read = read_expr(f, valid, view);
            writeln!(
                o,
                "                    {} if {} => {{ let x = field!(r, {:?}, {read}); r.tagged_done(body, tag)?; if x == {} {{ unknown_tagged_fields.push({raw_tag}); }} else {{ {id} = x; }} }}",
                f.tag.expect("tagged field has a tag"),
                cond(f.tagged, valid),
                f.name,
                default_expr_v(f, view)
            )
            .unwrap();
        }
        writeln!(o, "                    _ => unknown_tagged_fields.push({raw_tag}),\n                }}\n                r.rest = after;\n            }}\n            }}").unwrap();
    }
    o.push_str("        }\n");
    o.push_str("        Ok(Self {\n");
    for f in fields {
        writeln!(o, "            {},", field_ident(&f.name)).unwrap();
    }
    o.push_str("            unknown_tagged_fields,\n        })\n    }\n\n");
    out
}

fn random_expr(ty: &Ty) -> String {
    match ty {
        Ty::Bool => "g.bool()".into(),
        Ty::Int8 => "g.i8()".into(),
        Ty::Int16 => "g.i16()".into(),
        Ty::Uint16 => "g.u16()".into(),
        Ty::Int32 => "g.i32()".into(),
        Ty::Uint32 => "g.u32()".into(),
        Ty::Int64 => "g.i64()".into(),
        Ty::Float64 => "g.f64()".into(),
        Ty::String => "g.string()".into(),
        Ty::Bytes | Ty::Records => "g.bytes()".into(),
        Ty::Uuid => "g.uuid()".into(),
        Ty::Struct(s) => format!("{s}::random(g, v)"),
        Ty::Array(inner) => {
            let e = random_expr(inner);
            format!("(0..g.len()).map(|_| {e}).collect()")
        }
    }
}

/// Wire width of a fixed-width type that needs no validation when read.
fn fixed_width(ty: &Ty) -> Option<usize> {
    match ty {
        Ty::Int8 => Some(1),
        Ty::Int16 | Ty::Uint16 => Some(2),
        Ty::Int32 | Ty::Uint32 => Some(4),
        Ty::Int64 | Ty::Float64 => Some(8),
        Ty::Uuid => Some(16),
        _ => None,
    }
}

/// The optimistic `fast` decode of an array element of a borrowed view (see
/// `kafka_wire::borrowed::fast`), or `None` when the struct is not of the shape it serves:
/// every field read at some version must be fixed-width, a string, bytes, records, a packed
/// array or a list that the spec lets be null (an optional list, usually empty: the fast path
/// takes only empty or null lists, and a struct whose lists are usually full would pay for a
/// failed try on every element). Structs holding a struct field are left to the full decoder.
fn fast_fn(fields: &[Field], valid: Range, flex_cond: &str) -> Option<String> {
    let mut body = String::new();
    let alone = fields
        .iter()
        .any(|f| matches!(f.ty, Ty::Bytes | Ty::Records));
    let runs = fixed_runs(fields, valid);
    let mut skip_to = 0;
    for (k, f) in fields.iter().enumerate() {
        if k < skip_to {
            continue;
        }
        if let Some(&(a, b)) = runs.iter().find(|r| r.0 == k) {
            emit_fixed_run_fast(&mut body, &fields[a..b], valid);
            skip_to = b;
            continue;
        }
        let id = field_ident(&f.name);
        let present = cond(f.versions.minus_tagged(f.tagged), valid);
        let read = if present == "false" {
            String::new()
        } else {
            let nullable = is_nullable(f);
            let nc = cond(f.nullable, valid);
            match &f.ty {
                Ty::Struct(_) => return None,
                Ty::Array(_) if !base_type_ref(&f.ty).starts_with("PackedRef") => {
                    if !nullable {
                        return None;
                    }
                    format!(
                        "bv::fast::opt::<{}>(r, c, flex, {nc})?",
                        base_type_ref(&f.ty)
                    )
                }
                Ty::String if alone => {
                    if nullable {
                        format!("bv::fast::str_alone(c, flex, {nc})?")
                    } else {
                        "bv::fast::str_alone(c, flex, false)??".into()
                    }
                }
                _ if nullable => format!(
                    "bv::fast::opt::<{}>(r, c, flex, {nc})?",
                    base_type_ref(&f.ty)
                ),
                _ => format!(
                    "<{} as bv::fast::Fast<'a>>::fast(r, c, flex)?",
                    base_type_ref(&f.ty)
                ),
            }
        };
        let dflt = default_expr_v(f, View::Borrowed);
        match present.as_str() {
            "false" => writeln!(body, "        let {id} = {dflt};").unwrap(),
            "true" => writeln!(body, "        let {id} = {read};").unwrap(),
            p => writeln!(
                body,
                "        let {id} = if {p} {{ {read} }} else {{ {dflt} }};"
            )
            .unwrap(),
        }
    }
    let mut o = String::new();
    o.push_str("    /// The optimistic decode of an element from `c` (see `borrowed::fast`); `None` means\n    /// the full decoder must read it.\n");
    o.push_str("    #[inline(always)]\n    #[allow(unused_variables)]\n");
    writeln!(o, "    fn fast(r: &mut Rd<'a>, c: &mut &'a [u8], v: i16) -> Option<Self> {{\n        let flex = {flex_cond};").unwrap();
    o.push_str(&body);
    o.push_str(
        "        if flex {\n            bv::fast::no_tags(c)?;\n        }\n        Some(Self {\n",
    );
    for f in fields {
        writeln!(o, "            {},", field_ident(&f.name)).unwrap();
    }
    o.push_str("            unknown_tagged_fields: TaggedFieldsRef::new(),\n        })\n    }\n");
    Some(o)
}

/// The optimistic read of a run of fixed-width fields: one bounds check for all of them.
fn emit_fixed_run_fast(o: &mut String, run: &[Field], valid: Range) {
    let total: usize = run.iter().map(|f| fixed_width(&f.ty).unwrap_or(0)).sum();
    let present = cond(run[0].versions, valid);
    let ids: Vec<String> = run.iter().map(|f| field_ident(&f.name)).collect();
    let mut vals = Vec::new();
    let mut off = 0;
    for f in run {
        let w = fixed_width(&f.ty).unwrap_or(0);
        let arr = format!("p::chunk::<{total}, {w}>(&h, {off})");
        vals.push(if matches!(f.ty, Ty::Uuid) {
            format!("Uuid({arr})")
        } else {
            format!("{}::from_be_bytes({arr})", base_type(&f.ty))
        });
        off += w;
    }
    let read = format!(
        "{{ let h = bv::fast::array::<{total}>(c)?; ({}) }}",
        vals.join(", ")
    );
    if present == "true" {
        writeln!(o, "        let ({}) = {read};", ids.join(", ")).unwrap();
    } else {
        let defaults: Vec<String> = run
            .iter()
            .map(|f| default_expr_v(f, View::Borrowed))
            .collect();
        writeln!(
            o,
            "        let ({}) = if {present} {read} else {{ ({}) }};",
            ids.join(", "),
            defaults.join(", ")
        )
        .unwrap();
    }
}

/// Runs of at least two consecutive fixed-width, untagged fields that are present under the
/// same version condition: each is read with one bounds check and written with one
/// `put_slice`. Returns `(first, end)` index pairs.
fn fixed_runs(fields: &[Field], valid: Range) -> Vec<(usize, usize)> {
    let key = |f: &Field| -> Option<String> {
        fixed_width(&f.ty)?;
        if !f.tagged.is_empty() || is_nullable(f) {
            return None;
        }
        let present = cond(f.versions, valid);
        (present != "false").then_some(present)
    };
    let mut runs = Vec::new();
    let mut k = 0;
    while k < fields.len() {
        let Some(c) = key(&fields[k]) else {
            k += 1;
            continue;
        };
        let mut end = k + 1;
        while end < fields.len() && key(&fields[end]).as_ref() == Some(&c) {
            end += 1;
        }
        if end - k >= 2 {
            runs.push((k, end));
        }
        k = end;
    }
    runs
}

/// Decodes a run of fixed-width fields: one bounds check for all of them, or, when the input
/// is too short, field by field (so the error names the field that is cut).
fn emit_fixed_run_decode(o: &mut String, run: &[Field], valid: Range, view: View) {
    let total: usize = run.iter().map(|f| fixed_width(&f.ty).unwrap_or(0)).sum();
    let present = cond(run[0].versions, valid);
    let ids: Vec<String> = run.iter().map(|f| field_ident(&f.name)).collect();
    let mut fast = Vec::new();
    let mut off = 0;
    for f in run {
        let w = fixed_width(&f.ty).unwrap_or(0);
        let t = base_type(&f.ty);
        let arr = format!("p::chunk::<{total}, {w}>(c, {off})");
        fast.push(if matches!(f.ty, Ty::Uuid) {
            format!("Uuid({arr})")
        } else {
            format!("{t}::from_be_bytes({arr})")
        });
        off += w;
    }
    let slow: Vec<String> = run
        .iter()
        .map(|f| format!("field!(r, {:?}, {})", f.name, read_expr(f, valid, view)))
        .collect();
    let body = format!(
        "if let Some((c, rest)) = r.rest.split_first_chunk::<{total}>() {{ r.rest = rest; ({}) }} else {{ ({}) }}",
        fast.join(", "),
        slow.join(", ")
    );
    if present == "true" {
        writeln!(o, "        let ({}) = {body};", ids.join(", ")).unwrap();
    } else {
        let defaults: Vec<String> = run.iter().map(|f| default_expr_v(f, view)).collect();
        writeln!(
            o,
            "        let ({}) = if {present} {{ {body} }} else {{ ({}) }};",
            ids.join(", "),
            defaults.join(", ")
        )
        .unwrap();
    }
}

/// Encodes a run of fixed-width fields with one `put_slice` of a stack array.
fn emit_fixed_run_encode(o: &mut String, run: &[Field], valid: Range) {
    let total: usize = run.iter().map(|f| fixed_width(&f.ty).unwrap_or(0)).sum();
    let present = cond(run[0].versions, valid);
    let mut stmt = format!("let mut c = [0u8; {total}];");
    let mut off = 0;
    for f in run {
        let w = fixed_width(&f.ty).unwrap_or(0);
        let id = field_ident(&f.name);
        let src = if matches!(f.ty, Ty::Uuid) {
            format!("self.{id}.0")
        } else {
            format!("self.{id}.to_be_bytes()")
        };
        write!(stmt, " c[{off}..{}].copy_from_slice(&{src});", off + w).unwrap();
        off += w;
    }
    stmt.push_str(" out.put_slice(&c);");
    if present == "true" {
        writeln!(o, "        {{ {stmt} }}").unwrap();
    } else {
        writeln!(o, "        if {present} {{ {stmt} }}").unwrap();
    }
}

/// Read expression for a field (reads from the cursor `r`).
fn read_expr(f: &Field, valid: Range, view: View) -> String {
    let t = base_type_v(&f.ty, view);
    match (is_nullable(f), view) {
        (true, View::Owned) => format!(
            "val::read_opt::<{t}>(r, flex, v, {})",
            cond(f.nullable, valid)
        ),
        (true, View::Borrowed) => format!(
            "bv::read_opt_ref::<{t}>(r, flex, v, {})",
            cond(f.nullable, valid)
        ),
        (false, View::Owned) => format!("<{t} as Value>::read(r, flex, v)"),
        (false, View::Borrowed) => format!("<{t} as ValueRef<'a>>::read_ref(r, flex, v)"),
    }
}

/// Read expression for a string field of a borrowed view validated alone (no UTF-8 window).
fn read_str_alone_expr(f: &Field, valid: Range) -> String {
    if is_nullable(f) {
        format!("bv::read_str_alone(r, flex, {})", cond(f.nullable, valid))
    } else {
        "bv::read_str_alone_req(r, flex)".into()
    }
}

fn write_stmt(f: &Field, valid: Range, pass: &str) -> String {
    let id = field_ident(&f.name);
    let name = &f.name;
    let is_struct = matches!(f.ty, Ty::Struct(_));
    if pass == "size" {
        return format!("n += {};", size_expr(f, valid));
    }
    if is_nullable(f) {
        let nc = cond(f.nullable, valid);
        if is_struct {
            format!("val::write_struct_opt(self.{id}.as_ref(), out, v, {nc}, {name:?})?;")
        } else {
            format!("val::write_opt(self.{id}.as_ref(), out, flex, v, {nc}, {name:?})?;")
        }
    } else {
        format!("self.{id}.write(out, flex, v, {name:?})?;")
    }
}

fn size_expr(f: &Field, valid: Range) -> String {
    let id = field_ident(&f.name);
    let name = &f.name;
    let is_struct = matches!(f.ty, Ty::Struct(_));
    if is_nullable(f) {
        let nc = cond(f.nullable, valid);
        if is_struct {
            format!("val::size_struct_opt(self.{id}.as_ref(), v, {nc}, {name:?})?")
        } else {
            format!("val::size_opt(self.{id}.as_ref(), flex, v, {nc}, {name:?})?")
        }
    } else {
        format!("self.{id}.size(flex, v, {name:?})?")
    }
}

fn api_name(spec: &Spec) -> String {
    spec.name
        .strip_suffix("Request")
        .or_else(|| spec.name.strip_suffix("Response"))
        .unwrap_or(&spec.name)
        .to_string()
}

#[expect(
    clippy::too_many_lines,
    reason = "the dispatch tables are emitted together"
)]
fn emit_mod(specs: &[Spec]) -> String {
    let mut o = String::new();
    o.push_str("//! Every Kafka message at every version, generated by kafka-wire-codegen from the Kafka 4.3.1 and\n//! 3.9.2 JSON specs (union of their versions). Do not edit: run `cargo run -p kafka-wire-codegen`.\n\n");
    o.push_str("#![allow(clippy::all, clippy::pedantic)]\n\n");
    o.push_str("use bytes::{BufMut, Bytes};\n\nuse crate::error::{DecodeError, DecodeErrorKind, EncodeError};\nuse crate::message::{Decode, Encode, Message, VersionRange};\n\n");
    for s in specs {
        writeln!(o, "pub mod {};", snake(&s.name)).unwrap();
    }
    o.push('\n');
    for s in specs {
        writeln!(
            o,
            "pub use {}::{{{}, {}Ref}};",
            snake(&s.name),
            s.name,
            s.name
        )
        .unwrap();
    }
    let mut reqs: Vec<&Spec> = specs.iter().filter(|s| s.kind == Kind::Request).collect();
    reqs.sort_by_key(|s| s.api_key);
    let resp = |key: i16| -> &Spec {
        specs
            .iter()
            .find(|s| s.kind == Kind::Response && s.api_key == Some(key))
            .expect("response for every request")
    };
    for s in &reqs {
        let r = resp(s.api_key.expect("requests have keys"));
        writeln!(
            o,
            "\nimpl crate::message::Request for {} {{\n    type Response = {};\n}}",
            s.name, r.name
        )
        .unwrap();
    }

    // ApiKey
    o.push_str(
        "\n/// Every API key defined by the specs (including inter-broker and removed ones).\n",
    );
    o.push_str("#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]\n#[cfg_attr(feature = \"serde\", derive(serde::Serialize))]\n#[non_exhaustive]\n#[repr(i16)]\npub enum ApiKey {\n");
    for s in &reqs {
        writeln!(
            o,
            "    /// `{}` (key {}).\n    {} = {},",
            api_name(s),
            s.api_key.unwrap_or(0),
            api_name(s),
            s.api_key.unwrap_or(0)
        )
        .unwrap();
    }
    o.push_str("}\n\nimpl ApiKey {\n    /// All keys in ascending order.\n    pub const ALL: &'static [ApiKey] = &[\n");
    for s in &reqs {
        writeln!(o, "        ApiKey::{},", api_name(s)).unwrap();
    }
    o.push_str("    ];\n\n    /// The key for a wire value, if known.\n    #[must_use]\n    pub const fn from_i16(k: i16) -> Option<Self> {\n        match k {\n");
    for s in &reqs {
        writeln!(
            o,
            "            {} => Some(ApiKey::{}),",
            s.api_key.unwrap_or(0),
            api_name(s)
        )
        .unwrap();
    }
    o.push_str("            _ => None,\n        }\n    }\n\n    /// The wire value.\n    #[must_use]\n    pub const fn as_i16(self) -> i16 {\n        self as i16\n    }\n\n");
    o.push_str("    /// The API's name as Kafka spells it, e.g. `\"JoinGroup\"`.\n    #[must_use]\n    pub const fn name(self) -> &'static str {\n        match self {\n");
    for s in &reqs {
        writeln!(o, "            ApiKey::{n} => {n:?},", n = api_name(s)).unwrap();
    }
    o.push_str("        }\n    }\n\n    /// Request versions this library implements (union of Kafka 3.9.2 and 4.3.1).\n    #[must_use]\n    pub const fn versions(self) -> VersionRange {\n        match self {\n");
    for s in &reqs {
        writeln!(
            o,
            "            ApiKey::{} => {}::VERSIONS,",
            api_name(s),
            s.name
        )
        .unwrap();
    }
    o.push_str("        }\n    }\n\n    /// First flexible version, if any.\n    #[must_use]\n    pub const fn flexible_from(self) -> Option<i16> {\n        match self {\n");
    for s in &reqs {
        writeln!(
            o,
            "            ApiKey::{} => {}::FLEXIBLE_FROM,",
            api_name(s),
            s.name
        )
        .unwrap();
    }
    o.push_str("        }\n    }\n\n    /// Versions brokers advertise only with unstable APIs enabled; negotiation skips them by default.\n    #[must_use]\n    pub const fn unstable_versions(self) -> &'static [i16] {\n        match self {\n");
    for s in &reqs {
        writeln!(
            o,
            "            ApiKey::{} => {}::UNSTABLE_VERSIONS,",
            api_name(s),
            s.name
        )
        .unwrap();
    }
    o.push_str("        }\n    }\n\n    /// Request header version for request version `v`: 2 if flexible, else 1 (0 for\n    /// ControlledShutdown v0).\n    #[must_use]\n    pub const fn request_header_version(self, v: i16) -> i16 {\n        if matches!(self, ApiKey::ControlledShutdown) && v == 0 {\n            return 0;\n        }\n        match self.flexible_from() {\n            Some(f) if v >= f => 2,\n            _ => 1,\n        }\n    }\n\n");
    o.push_str("    /// Response header version for version `v`: 1 if flexible, else 0; always 0 for ApiVersions.\n    #[must_use]\n    pub const fn response_header_version(self, v: i16) -> i16 {\n        if matches!(self, ApiKey::ApiVersions) {\n            return 0;\n        }\n        match self.flexible_from() {\n            Some(f) if v >= f => 1,\n            _ => 0,\n        }\n    }\n}\n\n");
    o.push_str("impl TryFrom<i16> for ApiKey {\n    type Error = DecodeError;\n    fn try_from(k: i16) -> Result<Self, DecodeError> {\n        Self::from_i16(k).ok_or(DecodeError::new(0, DecodeErrorKind::UnknownApiKey(k)))\n    }\n}\n\n");

    for (enum_name, kind) in [
        ("AnyRequest", Kind::Request),
        ("AnyResponse", Kind::Response),
    ] {
        let items: Vec<&Spec> = reqs
            .iter()
            .map(|s| {
                if kind == Kind::Request {
                    *s
                } else {
                    resp(s.api_key.unwrap_or(0))
                }
            })
            .collect();
        writeln!(o, "/// Any {} body, tagged by API.\n#[derive(Debug, Clone, PartialEq)]\n#[cfg_attr(feature = \"serde\", derive(serde::Serialize))]\n#[cfg_attr(feature = \"serde\", serde(untagged))]\n#[non_exhaustive]\npub enum {enum_name} {{", if kind == Kind::Request { "request" } else { "response" }).unwrap();
        for (s, it) in reqs.iter().zip(&items) {
            writeln!(o, "    /// {}\n    {}({}),", it.name, api_name(s), it.name).unwrap();
        }
        writeln!(o, "}}\n\nimpl {enum_name} {{").unwrap();
        o.push_str("    /// Decodes the body of API `key` at version `v`.\n    ///\n    /// # Errors\n    /// Unsupported versions and malformed bodies.\n    pub fn decode(key: ApiKey, v: i16, body: &Bytes) -> Result<Self, DecodeError> {\n        Ok(match key {\n");
        for (s, it) in reqs.iter().zip(&items) {
            writeln!(
                o,
                "            ApiKey::{} => Self::{}({}::decode(body, v)?),",
                api_name(s),
                api_name(s),
                it.name
            )
            .unwrap();
        }
        o.push_str("        })\n    }\n\n    /// Decodes a body that may be followed by extra bytes; returns the value and the bytes used.\n    ///\n    /// # Errors\n    /// Unsupported versions and malformed bodies.\n    pub fn decode_prefix(key: ApiKey, v: i16, body: &Bytes) -> Result<(Self, usize), DecodeError> {\n        Ok(match key {\n");
        for (s, it) in reqs.iter().zip(&items) {
            writeln!(o, "            ApiKey::{} => {{ let (x, n) = {}::decode_prefix(body, v)?; (Self::{}(x), n) }}", api_name(s), it.name, api_name(s)).unwrap();
        }
        o.push_str("        })\n    }\n\n    /// Decodes through the borrowed view ([`crate::DecodeRef`]) and converts the view to the\n    /// owned body (property tests check it equals [`Self::decode`]).\n    ///\n    /// # Errors\n    /// Unsupported versions and malformed bodies.\n    #[cfg(feature = \"testing\")]\n    pub fn decode_via_ref(key: ApiKey, v: i16, body: &[u8]) -> Result<Self, DecodeError> {\n        use crate::{DecodeRef, IntoOwned};\n        Ok(match key {\n");
        for (s, it) in reqs.iter().zip(&items) {
            writeln!(
                o,
                "            ApiKey::{} => Self::{}({}Ref::decode_ref(body, v)?.into_owned()),",
                api_name(s),
                api_name(s),
                it.name
            )
            .unwrap();
        }
        o.push_str("        })\n    }\n\n    /// The API this body belongs to.\n    #[must_use]\n    pub const fn api_key(&self) -> ApiKey {\n        match self {\n");
        for s in &reqs {
            writeln!(
                o,
                "            Self::{n}(_) => ApiKey::{n},",
                n = api_name(s)
            )
            .unwrap();
        }
        o.push_str("        }\n    }\n\n    /// Exact encoded size at version `v`.\n    ///\n    /// # Errors\n    /// See [`Encode::encoded_len`].\n    pub fn encoded_len(&self, v: i16) -> Result<usize, EncodeError> {\n        match self {\n");
        for s in &reqs {
            writeln!(
                o,
                "            Self::{}(x) => x.encoded_len(v),",
                api_name(s)
            )
            .unwrap();
        }
        o.push_str("        }\n    }\n\n    /// Encodes at version `v`.\n    ///\n    /// # Errors\n    /// See [`Encode::encode`].\n    pub fn encode<B: BufMut>(&self, v: i16, out: &mut B) -> Result<(), EncodeError> {\n        match self {\n");
        for s in &reqs {
            writeln!(
                o,
                "            Self::{}(x) => x.encode(v, out),",
                api_name(s)
            )
            .unwrap();
        }
        o.push_str("        }\n    }\n\n    /// Encodes at version `v` into a vectored output (see [`crate::Vectored`]).\n    ///\n    /// # Errors\n    /// See [`Encode::encode`].\n    pub fn encode_vectored(&self, v: i16, out: &mut crate::Vectored) -> Result<(), EncodeError> {\n        match self {\n");
        for s in &reqs {
            writeln!(
                o,
                "            Self::{}(x) => x.encode_vectored(v, out),",
                api_name(s)
            )
            .unwrap();
        }
        o.push_str("        }\n    }\n\n    /// A random body valid at version `v` (property tests).\n    #[cfg(feature = \"testing\")]\n    pub fn random(key: ApiKey, v: i16, g: &mut crate::testing::Gen) -> Self {\n        match key {\n");
        for (s, it) in reqs.iter().zip(&items) {
            writeln!(
                o,
                "            ApiKey::{} => Self::{}({}::random(g, v)),",
                api_name(s),
                api_name(s),
                it.name
            )
            .unwrap();
        }
        o.push_str("        }\n    }\n\n    /// Versions of this body type for API `key`.\n    #[must_use]\n    pub const fn versions(key: ApiKey) -> VersionRange {\n        match key {\n");
        for (s, it) in reqs.iter().zip(&items) {
            writeln!(
                o,
                "            ApiKey::{} => {}::VERSIONS,",
                api_name(s),
                it.name
            )
            .unwrap();
        }
        o.push_str("        }\n    }\n}\n\n");
    }

    // data schemas
    o.push_str("/// The embedded data schemas (`type: data`), by name, with their version ranges.\npub const DATA_SCHEMAS: &[(&str, VersionRange)] = &[\n");
    for s in specs.iter().filter(|s| s.kind == Kind::Data) {
        writeln!(o, "    ({:?}, {}::VERSIONS),", s.name, s.name).unwrap();
    }
    o.push_str("];\n");
    o
}
