//! The spec model: what the generator reads out of one JSON message spec.

use serde_json::Value as Json;

/// An inclusive version range; empty when `lo > hi`. Open-ended ranges use `i16::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub(crate) lo: i16,
    pub(crate) hi: i16,
}

impl Range {
    pub(crate) const EMPTY: Self = Self { lo: 1, hi: 0 };

    pub(crate) fn parse(s: &str) -> Self {
        let s = s.trim();
        if s.is_empty() || s == "none" {
            return Self::EMPTY;
        }
        if let Some(lo) = s.strip_suffix('+') {
            return Self {
                lo: lo.parse().expect("version"),
                hi: i16::MAX,
            };
        }
        if let Some((a, b)) = s.split_once('-') {
            return Self {
                lo: a.parse().expect("version"),
                hi: b.parse().expect("version"),
            };
        }
        let v = s.parse().expect("version");
        Self { lo: v, hi: v }
    }

    pub(crate) const fn is_empty(self) -> bool {
        self.lo > self.hi
    }

    pub(crate) const fn contains(self, v: i16) -> bool {
        v >= self.lo && v <= self.hi
    }

    pub(crate) fn intersect(self, o: Self) -> Self {
        let r = Self {
            lo: self.lo.max(o.lo),
            hi: self.hi.min(o.hi),
        };
        if r.is_empty() { Self::EMPTY } else { r }
    }

    /// Smallest range covering both.
    pub(crate) fn hull(self, o: Self) -> Self {
        if self.is_empty() {
            return o;
        }
        if o.is_empty() {
            return self;
        }
        Self {
            lo: self.lo.min(o.lo),
            hi: self.hi.max(o.hi),
        }
    }

    /// Versions of `self` outside `o`; panics if that is not one interval.
    pub(crate) fn minus(self, o: Self) -> Self {
        if self.is_empty() || o.is_empty() {
            return self;
        }
        let below = Self {
            lo: self.lo,
            hi: self.hi.min(o.lo - 1),
        };
        let above = Self {
            lo: self.lo.max(o.hi.saturating_add(1)),
            hi: self.hi,
        };
        match (below.is_empty(), above.is_empty()) {
            (true, true) => Self::EMPTY,
            (false, true) => below,
            (true, false) => above,
            (false, false) => panic!("range difference is not an interval"),
        }
    }

    /// Versions in which a field is mandatory: its versions minus its tagged versions.
    pub(crate) fn minus_tagged(self, tagged: Self) -> Self {
        self.minus(tagged)
    }
}

/// A field type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ty {
    Bool,
    Int8,
    Int16,
    Uint16,
    Int32,
    Uint32,
    Int64,
    Float64,
    String,
    Bytes,
    Records,
    Uuid,
    Struct(String),
    Array(Box<Ty>),
}

impl Ty {
    fn parse(s: &str) -> Self {
        if let Some(inner) = s.strip_prefix("[]") {
            return Self::Array(Box::new(Self::parse(inner)));
        }
        match s {
            "bool" => Self::Bool,
            "int8" => Self::Int8,
            "int16" => Self::Int16,
            "uint16" => Self::Uint16,
            "int32" => Self::Int32,
            "uint32" => Self::Uint32,
            "int64" => Self::Int64,
            "float64" => Self::Float64,
            "string" => Self::String,
            "bytes" => Self::Bytes,
            "records" => Self::Records,
            "uuid" => Self::Uuid,
            other => Self::Struct(other.to_string()),
        }
    }

    /// The struct name of a struct or array-of-struct type.
    pub(crate) fn struct_name(&self) -> Option<&str> {
        match self {
            Self::Struct(s) => Some(s),
            Self::Array(inner) => inner.struct_name(),
            _ => None,
        }
    }
}

/// One field of a message or struct.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) ty: Ty,
    pub(crate) versions: Range,
    pub(crate) nullable: Range,
    pub(crate) tagged: Range,
    pub(crate) tag: Option<u32>,
    pub(crate) default: Option<String>,
    pub(crate) ignorable: bool,
    pub(crate) about: String,
    pub(crate) fields: Vec<Field>,
}

/// What kind of spec this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Request,
    Response,
    Data,
}

/// One message spec (possibly merged from two spec sets).
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) api_key: Option<i16>,
    pub(crate) valid: Range,
    pub(crate) flexible: Range,
    /// Unstable versions (the latest one when `latestVersionUnstable`).
    pub(crate) unstable: Vec<i16>,
    pub(crate) fields: Vec<Field>,
    pub(crate) common: Vec<(String, Vec<Field>)>,
}

fn scalar(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Bool(b) => Some(b.to_string()),
        Json::Number(n) => Some(n.to_string()),
        Json::Null => None,
        other => panic!("unexpected scalar {other}"),
    }
}

fn parse_fields(v: Option<&Json>) -> Vec<Field> {
    let Some(Json::Array(items)) = v else {
        return Vec::new();
    };
    items.iter().map(parse_field).collect()
}

fn parse_field(j: &Json) -> Field {
    let get = |k: &str| j.get(k).and_then(scalar);
    let tagged = get("taggedVersions").map_or(Range::EMPTY, |s| Range::parse(&s));
    Field {
        name: get("name").expect("field name"),
        ty: Ty::parse(&get("type").expect("field type")),
        versions: Range::parse(&get("versions").expect("field versions")),
        nullable: get("nullableVersions").map_or(Range::EMPTY, |s| Range::parse(&s)),
        tagged,
        tag: get("tag").map(|t| t.parse().expect("numeric tag")),
        default: get("default"),
        ignorable: get("ignorable").is_some_and(|s| s == "true"),
        about: get("about").unwrap_or_default(),
        fields: parse_fields(j.get("fields")),
    }
}

/// Parses one JSON spec; headers are hand-written in kafka-wire and skipped here.
pub(crate) fn parse_spec(j: &Json) -> Option<Spec> {
    let get = |k: &str| j.get(k).and_then(scalar);
    let kind = match get("type").expect("spec type").as_str() {
        "request" => Kind::Request,
        "response" => Kind::Response,
        "data" => Kind::Data,
        "header" => return None,
        other => panic!("unknown spec type {other}"),
    };
    let valid = Range::parse(&get("validVersions").expect("validVersions"));
    let unstable = if get("latestVersionUnstable").is_some_and(|s| s == "true") && !valid.is_empty()
    {
        vec![valid.hi]
    } else {
        Vec::new()
    };
    let common = match j.get("commonStructs") {
        Some(Json::Array(items)) => items
            .iter()
            .map(|c| {
                (
                    c.get("name").and_then(scalar).expect("common struct name"),
                    parse_fields(c.get("fields")),
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    Some(Spec {
        name: get("name").expect("spec name"),
        kind,
        api_key: get("apiKey").map(|k| k.parse().expect("api key")),
        valid,
        flexible: get("flexibleVersions").map_or(Range::EMPTY, |s| Range::parse(&s)),
        unstable,
        fields: parse_fields(j.get("fields")),
        common,
    })
}
