//! Merging the Kafka 4.3.1 and 3.9.2 spec sets into one spec per message.
//!
//! Rules (see `docs/codegen.md`):
//! - messages are matched by (api key, kind), or by name for data schemas;
//! - the merged valid range is the hull of both; versions both sets define take the 4.3.1
//!   definition (renamed fields in 3.9.2 are dropped);
//! - a field only 3.9.2 has is kept for the versions 4.3.1 does not define (fields removed by
//!   KIP-896, e.g. OffsetCommit v1 `CommitTimestamp`), placed after its 3.9.2 predecessor;
//! - a field both have gets the hull of their ranges, each first clipped to its own set's valid
//!   versions (so 3.9.2's open-ended "0+" stops at 3.9.2's highest version).

use crate::model::{Field, Kind, Range, Spec};

fn clip(f: &mut Field, valid: Range) {
    f.versions = f.versions.intersect(valid);
    f.nullable = f.nullable.intersect(valid);
    f.tagged = f.tagged.intersect(valid);
    for c in &mut f.fields {
        clip(c, valid);
    }
}

fn merge_fields(new: &[Field], old: &[Field], new_valid: Range) -> Vec<Field> {
    let mut out: Vec<Field> = Vec::new();
    for f in new {
        let mut m = f.clone();
        if let Some(o) = old.iter().find(|o| o.name == f.name) {
            m.versions = m.versions.hull(o.versions);
            m.nullable = m.nullable.hull(o.nullable);
            m.tagged = m.tagged.hull(o.tagged);
            m.fields = merge_fields(&f.fields, &o.fields, new_valid);
        }
        if !m.versions.is_empty() {
            out.push(m);
        }
    }
    let mut prev: Option<String> = None;
    for o in old {
        if out.iter().any(|f| f.name == o.name) {
            prev = Some(o.name.clone());
            continue;
        }
        let mut m = o.clone();
        m.versions = o.versions.minus(new_valid);
        if m.versions.is_empty() {
            continue;
        }
        m.nullable = m.nullable.intersect(m.versions);
        m.tagged = m.tagged.intersect(m.versions);
        let at = prev
            .as_ref()
            .and_then(|p| out.iter().position(|f| &f.name == p))
            .map_or(0, |i| i + 1);
        out.insert(at, m);
        prev = Some(o.name.clone());
    }
    out
}

fn merge_one(mut new: Spec, mut old: Spec) -> Spec {
    for f in &mut new.fields {
        clip(f, new.valid);
    }
    for (_, fs) in &mut new.common {
        for f in fs {
            clip(f, new.valid);
        }
    }
    for f in &mut old.fields {
        clip(f, old.valid);
    }
    for (_, fs) in &mut old.common {
        for f in fs {
            clip(f, old.valid);
        }
    }
    let valid = new.valid.hull(old.valid);
    let fields = merge_fields(&new.fields, &old.fields, new.valid);
    let mut common = Vec::new();
    for (name, fs) in &new.common {
        let ofs = old
            .common
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&[][..], |(_, f)| &f[..]);
        common.push((name.clone(), merge_fields(fs, ofs, new.valid)));
    }
    for (name, fs) in &old.common {
        if !common.iter().any(|(n, _)| n == name) {
            common.push((name.clone(), merge_fields(&[], fs, new.valid)));
        }
    }
    let mut unstable = new.unstable.clone();
    for u in &old.unstable {
        if !new.valid.contains(*u) {
            unstable.push(*u);
        }
    }
    let flexible = if new.flexible.is_empty() {
        old.flexible
    } else {
        new.flexible.hull(old.flexible)
    };
    let name = if new.valid.is_empty() {
        old.name.clone()
    } else {
        new.name.clone()
    };
    Spec {
        name,
        kind: new.kind,
        api_key: new.api_key,
        valid,
        flexible,
        unstable,
        fields,
        common,
    }
}

fn same(a: &Spec, b: &Spec) -> bool {
    a.kind == b.kind
        && match (a.kind, a.api_key, b.api_key) {
            (Kind::Data, _, _) => a.name == b.name,
            (_, Some(x), Some(y)) => x == y,
            _ => false,
        }
}

/// Merges the two sets; the result is sorted by name.
pub(crate) fn merge_sets(new: Vec<Spec>, old: Vec<Spec>) -> Vec<Spec> {
    let mut out = Vec::new();
    let mut old_left = old;
    for n in new {
        if let Some(pos) = old_left.iter().position(|o| same(&n, o)) {
            let o = old_left.remove(pos);
            out.push(merge_one(n, o));
        } else {
            let empty = Spec {
                valid: Range::EMPTY,
                fields: Vec::new(),
                common: Vec::new(),
                unstable: Vec::new(),
                ..n.clone()
            };
            out.push(merge_one(n, empty));
        }
    }
    for o in old_left {
        let empty = Spec {
            valid: Range::EMPTY,
            fields: Vec::new(),
            common: Vec::new(),
            unstable: Vec::new(),
            ..o.clone()
        };
        out.push(merge_one(empty, o));
    }
    out.retain(|s| !s.valid.is_empty());
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}
