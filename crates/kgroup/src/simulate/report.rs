//! Output of `kgroup simulate`: the readable summary and the JSON object.

use core::fmt::Write as _;

use group_fsm::StateKind;
use group_fsm::assignor::TopicPartition;
use serde_json::{Map, Value, json};

use super::{MemberReport, Outcome, Protocol, Settings};

/// Milliseconds as seconds with three decimals (exact, no float formatting).
fn secs(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Milliseconds as a JSON number of seconds.
fn secs_json(ms: u64) -> Value {
    // Exact for any realistic value (below 2^53 ms); serde_json prints the shortest form.
    json!(ms as f64 / 1000.0)
}

/// The one JSON object of `--json`.
pub(super) fn json(settings: &Settings, o: &Outcome) -> Value {
    let final_assignment: Map<String, Value> = o
        .final_assignment()
        .into_iter()
        .map(|(id, parts)| {
            let list: Vec<Value> = parts
                .iter()
                .map(|tp| json!([tp.topic, tp.partition]))
                .collect();
            (id.to_owned(), Value::Array(list))
        })
        .collect();
    let idle = o.idle_members();
    let members: Vec<Value> = o
        .members
        .iter()
        .map(|m| {
            json!({
                "index": m.index,
                "member_id": m.member_id,
                "instance_id": m.instance_id,
                "status": status(m),
                "partitions": m.partitions.len(),
            })
        })
        .collect();
    let phases: Vec<Value> = o
        .phases
        .iter()
        .map(|p| {
            json!({
                "t_ms": p.t_ms,
                "events": p.events,
                "stable_at_ms": p.stable_at,
                "stable_after_ms": p.stable_at.map(|s| s - p.t_ms),
                "rebalances": p.rebalances,
                "partitions_moved": p.moved,
                "partitions_revoked": p.revoked,
                "partitions_lost": p.lost,
                "unowned_partition_seconds": secs_json(p.unowned_ms),
                "revoking_partition_seconds": secs_json(p.revoking_ms),
            })
        })
        .collect();
    json!({
        "config": settings.config_json(),
        "end_ms": o.end_ms,
        "rebalances": o.rebalances,
        "partitions_moved": o.moved,
        "partitions_revoked": o.revoked,
        "partitions_lost": o.lost,
        "unowned_partition_seconds": secs_json(o.unowned_ms),
        "unowned_partition_ms": o.unowned_ms,
        "revoking_partition_seconds": secs_json(o.revoking_ms),
        "idle_members": idle.len(),
        "idle_member_ids": idle.iter().map(|m| m.member_id.as_str()).collect::<Vec<_>>(),
        "idle_events": o.idle_events,
        "generation": o.generation,
        "stable_at_end": o.stable_at_end,
        "final_assignment": final_assignment,
        "members": members,
        "phases": phases,
        "timeline": o.timeline,
        "double_owned_partition_seconds": secs_json(o.double_owned_ms),
        "invariant_violations": o.violations,
    })
}

/// What became of a member incarnation.
fn status(m: &MemberReport) -> &'static str {
    if !m.running {
        return match m.state {
            StateKind::Closed => "left",
            StateKind::Failed => "failed",
            _ => "crashed",
        };
    }
    match m.state {
        StateKind::Unjoined => "unjoined",
        StateKind::Joining => "joining",
        StateKind::Syncing => "syncing",
        StateKind::Stable => "stable",
        StateKind::Leaving => "leaving",
        StateKind::Closed => "left",
        StateKind::Failed => "failed",
    }
}

/// `topic-0: 0-3, 7; topic-1: 2`.
fn partitions(parts: &[TopicPartition]) -> String {
    let mut out = String::new();
    let mut sorted = parts.to_vec();
    sorted.sort();
    let mut i = 0;
    while i < sorted.len() {
        let topic = &sorted[i].topic;
        if !out.is_empty() {
            out.push_str("; ");
        }
        let _ = write!(out, "{topic}: ");
        let mut first = true;
        while i < sorted.len() && sorted[i].topic == *topic {
            let start = sorted[i].partition;
            let mut end = start;
            while i + 1 < sorted.len()
                && sorted[i + 1].topic == *topic
                && sorted[i + 1].partition == end + 1
            {
                i += 1;
                end += 1;
            }
            i += 1;
            if !first {
                out.push_str(", ");
            }
            first = false;
            if start == end {
                let _ = write!(out, "{start}");
            } else {
                let _ = write!(out, "{start}-{end}");
            }
        }
    }
    if out.is_empty() {
        out.push_str("(none)");
    }
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The readable summary.
pub(super) fn text(s: &Settings, o: &Outcome) -> String {
    let mut out = String::new();
    let per_topic = s.topics.first().map_or(0, |t| t.1);
    let _ = writeln!(
        out,
        "kgroup simulate: {} x {}, {} protocol ({} assignor), {} membership",
        plural(s.topics.len(), "topic", "topics"),
        plural(
            usize::try_from(per_topic).unwrap_or(0),
            "partition",
            "partitions"
        ),
        match s.protocol {
            Protocol::Eager => "eager",
            Protocol::Cooperative => "cooperative",
            Protocol::Consumer => "consumer (KIP-848)",
        },
        s.assignor_name(),
        if s.static_members {
            "static"
        } else {
            "dynamic"
        },
    );
    let _ = writeln!(
        out,
        "session timeout {} ms, heartbeat {} ms, revocation {} ms, seed {}; simulated 0 to {} s",
        s.session_timeout_ms,
        s.heartbeat_ms,
        s.revoke_ms,
        s.seed,
        secs(o.end_ms)
    );
    out.push('\n');

    let rows: Vec<[String; 8]> = o
        .phases
        .iter()
        .map(|p| {
            [
                secs(p.t_ms),
                if p.events.is_empty() {
                    "start (no members)".to_owned()
                } else {
                    p.events.join("; ")
                },
                p.stable_at.map_or_else(
                    || "not stable".to_owned(),
                    |t| format!("{} s", secs(t - p.t_ms)),
                ),
                p.rebalances.to_string(),
                p.moved.to_string(),
                p.revoked.to_string(),
                secs(p.unowned_ms),
                secs(p.revoking_ms),
            ]
        })
        .collect();
    let header = [
        "time (s)",
        "event",
        "stable after",
        "rebalances",
        "moved",
        "revoked",
        "unowned p-s",
        "revoking p-s",
    ];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 8]| {
        let mut l = String::from(" ");
        for (k, (cell, w)) in cells.iter().zip(widths).enumerate() {
            // The event column is left-aligned, numbers right-aligned.
            if k == 1 {
                let _ = write!(l, "  {cell:<w$}");
            } else {
                let _ = write!(l, "  {cell:>w$}");
            }
        }
        l.trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", line(header));
    for r in &rows {
        let _ = writeln!(out, "{}", line(r.each_ref().map(String::as_str)));
    }
    let _ = writeln!(
        out,
        "  p-s: partition-seconds; unowned: no running member owns the partition;\n  \
         revoking: its owner is handling the revocation (the application lets go)."
    );
    out.push('\n');

    let idle = o.idle_members();
    let _ = writeln!(
        out,
        "Total: {}, {} moved, {} revoked, {} lost.",
        plural(o.rebalances, "rebalance", "rebalances"),
        plural(
            usize::try_from(o.moved).unwrap_or(usize::MAX),
            "partition",
            "partitions"
        ),
        o.revoked,
        o.lost,
    );
    let _ = writeln!(
        out,
        "Partition-seconds: {} unowned, {} revoking.",
        secs(o.unowned_ms),
        secs(o.revoking_ms),
    );
    let running = o.members.iter().filter(|m| m.running).count();
    let _ = writeln!(
        out,
        "At the end: {}, generation {}, {}, {} ({} during the run).",
        if o.stable_at_end {
            "stable"
        } else {
            "NOT stable"
        },
        o.generation,
        plural(running, "running member", "running members"),
        plural(idle.len(), "idle member", "idle members"),
        plural(o.idle_events, "Idle event", "Idle events"),
    );
    if !o.violations.is_empty() {
        let _ = writeln!(
            out,
            "OWNERSHIP VIOLATIONS ({} partition-seconds owned twice):",
            secs(o.double_owned_ms)
        );
        for v in &o.violations {
            let _ = writeln!(out, "  {v}");
        }
    }
    out.push('\n');

    let _ = writeln!(out, "Final assignment:");
    let id_width = o
        .members
        .iter()
        .map(|m| m.member_id.len())
        .max()
        .unwrap_or(0);
    for m in &o.members {
        let what = if m.running {
            partitions(&m.partitions)
        } else {
            format!("({})", status(m))
        };
        let id = if m.member_id.is_empty() {
            "(no id)"
        } else {
            m.member_id.as_str()
        };
        let _ = writeln!(out, "  member {:<3} {id:<id_width$}  {what}", m.index,);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_lists_are_compressed() {
        let tps = [
            TopicPartition::new("b", 0),
            TopicPartition::new("a", 3),
            TopicPartition::new("a", 1),
            TopicPartition::new("a", 2),
            TopicPartition::new("a", 7),
        ];
        assert_eq!(partitions(&tps), "a: 1-3, 7; b: 0");
        assert_eq!(partitions(&[]), "(none)");
        assert_eq!(secs(30_005), "30.005");
    }
}
