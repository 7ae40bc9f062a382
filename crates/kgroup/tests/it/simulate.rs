//! `kgroup simulate`: our group-fsm members against the model coordinator, in virtual time.

use std::collections::BTreeSet;
use std::process::Output;

use serde_json::Value;

/// Keys the issue requires in the `--json` object.
const REQUIRED_KEYS: &[&str] = &[
    "rebalances",
    "partitions_moved",
    "unowned_partition_seconds",
    "idle_members",
    "final_assignment",
    "timeline",
];

fn kgroup(args: &[&str]) -> Output {
    let mut all = vec!["simulate"];
    all.extend_from_slice(args);
    crate::run(&all, None)
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("kgroup exits normally")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs with `--json`, checks the exit code and that stdout is exactly one JSON object.
fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = kgroup(&all);
    assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
    let text = stdout(&out);
    let mut stream = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
    let value = stream
        .next()
        .expect("one JSON value")
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {text}"));
    assert!(stream.next().is_none(), "more than one JSON value: {text}");
    assert!(value.is_object(), "{value}");
    for key in REQUIRED_KEYS {
        assert!(value.get(key).is_some(), "{key} missing: {value}");
    }
    assert_eq!(
        value["invariant_violations"].as_array().map(Vec::len),
        Some(0),
        "{value}"
    );
    value
}

fn f64_of(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is a number: {v}"))
}

fn u64_of(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is an integer: {v}"))
}

/// `final_assignment` as (member id, partitions), checking every partition of `topics` x
/// `partitions` appears exactly once.
fn assignment(v: &Value, topics: usize, partitions: i64) -> Vec<(String, Vec<(String, i64)>)> {
    let map = v["final_assignment"]
        .as_object()
        .expect("final_assignment is an object");
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (member, list) in map {
        let mut parts = Vec::new();
        for tp in list.as_array().expect("a list of partitions") {
            let topic = tp[0].as_str().expect("topic name").to_owned();
            let partition = tp[1].as_i64().expect("partition index");
            assert!(
                seen.insert((topic.clone(), partition)),
                "{topic}/{partition} owned twice: {v}"
            );
            parts.push((topic, partition));
        }
        out.push((member.clone(), parts));
    }
    let expected: BTreeSet<(String, i64)> = (0..topics)
        .flat_map(|t| (0..partitions).map(move |p| (format!("topic-{t}"), p)))
        .collect();
    assert_eq!(seen, expected, "every partition assigned once: {v}");
    out
}

#[test]
fn default_run_prints_a_summary() {
    let out = kgroup(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "eager protocol",
        "range assignor",
        "join 3 (--members)",
        "stable after",
        "1 rebalance,",
        "Partition-seconds:",
        "0 idle members",
        "At the end: stable",
        "Final assignment:",
        "topic-0: 0-3",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
}

#[test]
fn three_join_three_more_json() {
    let v = json(&[
        "--members",
        "3",
        "--partitions",
        "12",
        "--script",
        "30s join 3",
    ]);
    let members = assignment(&v, 1, 12);
    assert_eq!(members.len(), 6, "{v}");
    assert!(
        members.iter().all(|(_, parts)| parts.len() == 2),
        "range gives 2 each: {v}"
    );
    assert!(u64_of(&v, "rebalances") >= 2, "{v}");
    assert!(u64_of(&v, "partitions_moved") > 0, "{v}");
    assert!(f64_of(&v, "unowned_partition_seconds") > 0.0, "{v}");
    assert_eq!(u64_of(&v, "idle_members"), 0);
    assert_eq!(v["stable_at_end"], true);

    // The timeline: the script event, then a rebalance completing, then stable, in order.
    let timeline = v["timeline"].as_array().expect("timeline is a list");
    let times: Vec<u64> = timeline
        .iter()
        .map(|e| e["t_ms"].as_u64().expect("t_ms"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order: {v}");
    let join = timeline
        .iter()
        .position(|e| e["event"] == "join 3" && e["t_ms"] == 30_000)
        .expect("the scripted join is in the timeline");
    let rebalance = timeline[join..]
        .iter()
        .position(|e| e["event"] == "rebalance")
        .expect("a rebalance after the join")
        + join;
    assert!(timeline[rebalance]["generation"].as_i64() >= Some(2));
    assert!(
        timeline[rebalance..].iter().any(|e| e["event"] == "stable"),
        "stable after the rebalance: {v}"
    );
    // Per-event phases: the join phase settles within a few seconds.
    let phase = &v["phases"][1];
    assert_eq!(phase["t_ms"], 30_000);
    let settle = phase["stable_after_ms"].as_u64().expect("stable again");
    assert!(settle < 10_000, "{phase}");
}

#[test]
fn cooperative_revokes_only_what_moves() {
    let eager = json(&["--script", "30s join 3"]);
    let coop = json(&["--script", "30s join 3", "--protocol", "cooperative"]);
    assert_eq!(coop["config"]["assignor"], "cooperative-range");
    let members = assignment(&coop, 1, 12);
    assert!(members.iter().all(|(_, parts)| parts.len() == 2), "{coop}");
    // Eager revokes all 12 partitions; cooperative only the 10 that range moves, in two
    // rebalances instead of one.
    assert_eq!(u64_of(&eager, "partitions_revoked"), 12, "{eager}");
    assert_eq!(u64_of(&coop, "partitions_revoked"), 10, "{coop}");
    assert_eq!(
        u64_of(&coop, "rebalances"),
        u64_of(&eager, "rebalances") + 1,
        "{coop}"
    );
    // A revocation in progress is not stable: the group settles after the second rebalance.
    let slow = json(&[
        "--script",
        "30s join 3",
        "--protocol",
        "cooperative",
        "--revoke-ms",
        "1000",
    ]);
    let settle = slow["phases"][1]["stable_after_ms"]
        .as_u64()
        .expect("stable again");
    assert!(settle > 1_000, "{slow}");
    assert_eq!(f64_of(&slow, "revoking_partition_seconds"), 10.0, "{slow}");
    let slow_eager = json(&["--script", "30s join 3", "--revoke-ms", "1000"]);
    assert_eq!(
        f64_of(&slow_eager, "revoking_partition_seconds"),
        12.0,
        "{slow_eager}"
    );
    // Not asserted: with cooperative-range the 10 moved partitions wait one heartbeat interval
    // for the second rebalance, which costs more unowned partition-seconds than eager's
    // revoke-everything (a few milliseconds here, since the model's members revoke at once).

    // When nothing a surviving member owns has to move (a crash), cooperative revokes nothing
    // and leaves fewer partitions without an owner.
    let eager = json(&["--script", "30s crash #1"]);
    let coop = json(&["--script", "30s crash #1", "--protocol", "cooperative"]);
    assert_eq!(u64_of(&coop, "partitions_revoked"), 0, "{coop}");
    assert_eq!(u64_of(&eager, "partitions_revoked"), 8, "{eager}");
    assert!(
        f64_of(&coop, "unowned_partition_seconds") < f64_of(&eager, "unowned_partition_seconds"),
        "cooperative {coop}\neager {eager}"
    );
    assignment(&coop, 1, 12);
}

/// group-fsm's cooperative-sticky moves the minimum (3 of 12 → 6 members: each old member
/// gives up 2, 6 in all, against range's 10) and revokes only those.
#[test]
fn cooperative_sticky_moves_the_minimum() {
    let v = json(&["--script", "30s join 3", "--assignor", "cooperative-sticky"]);
    assert_eq!(v["config"]["assignor"], "cooperative-sticky", "{v}");
    assert_eq!(v["config"]["protocol"], "cooperative", "{v}");
    let members = assignment(&v, 1, 12);
    assert!(members.iter().all(|(_, parts)| parts.len() == 2), "{v}");
    assert_eq!(u64_of(&v, "partitions_moved"), 6, "{v}");
    assert_eq!(u64_of(&v, "partitions_revoked"), 6, "{v}");
    let eager_sticky = json(&["--script", "30s join 3", "--assignor", "sticky"]);
    assert_eq!(
        u64_of(&eager_sticky, "partitions_moved"),
        6,
        "{eager_sticky}"
    );
    assert_eq!(
        u64_of(&eager_sticky, "partitions_revoked"),
        12,
        "{eager_sticky}"
    );
}

/// KIP-848 in the model broker: the group doubles without a barrier; the old members give up
/// only what moves (6 of 12) and keep consuming the rest, with no partition owned twice.
#[test]
fn consumer_protocol_revokes_only_what_moves() {
    for assignor in ["range", "cooperative-sticky"] {
        let v = json(&[
            "--script",
            "30s join 3",
            "--protocol",
            "consumer",
            "--assignor",
            assignor,
        ]);
        assert_eq!(v["config"]["protocol"], "consumer", "{v}");
        let want = if assignor == "range" {
            "server-side range"
        } else {
            "server-side uniform"
        };
        assert_eq!(v["config"]["assignor"], want, "{v}");
        assert_eq!(v["stable_at_end"], true, "{v}");
        let members = assignment(&v, 1, 12);
        assert_eq!(members.len(), 6, "{v}");
        assert!(members.iter().all(|(_, parts)| parts.len() == 2), "{v}");
        let join = &v["phases"][1];
        assert_eq!(u64_of(join, "partitions_moved"), 6, "{v}");
        assert_eq!(u64_of(join, "partitions_revoked"), 6, "{v}");
        assert_eq!(u64_of(join, "partitions_lost"), 0, "{v}");
        assert!(f64_of(&v, "double_owned_partition_seconds") == 0.0, "{v}");
        // No barrier: stable within two heartbeat intervals of the join.
        assert!(u64_of(join, "stable_after_ms") <= 6000, "{v}");
    }
}

#[test]
fn a_crash_costs_a_session_timeout_of_its_partitions() {
    for session_ms in [10_000_u64, 30_000] {
        let session = session_ms.to_string();
        let base = json(&["--duration", "120", "--session-timeout-ms", &session]);
        let crash = json(&[
            "--duration",
            "120",
            "--session-timeout-ms",
            &session,
            "--script",
            "30s crash #1",
        ]);
        assert_eq!(base["end_ms"], crash["end_ms"]);
        let extra = f64_of(&crash, "unowned_partition_seconds")
            - f64_of(&base, "unowned_partition_seconds");
        // Member 1 owned 4 of 12 partitions; they wait for the session to expire (counted from
        // its last heartbeat, so a little less) and the survivors' next heartbeat.
        let expected = 4.0 * session_ms as f64 / 1000.0;
        assert!(
            (0.7 * expected..1.3 * expected).contains(&extra),
            "session {session_ms} ms: {extra} extra partition-seconds, expected about {expected}"
        );
        let members = assignment(&crash, 1, 12);
        assert_eq!(members.len(), 2);
        assert_eq!(u64_of(&crash, "rebalances"), 2);
        let phase = &crash["phases"][1];
        let settle = phase["stable_after_ms"].as_u64().expect("stable again");
        assert!(
            settle > session_ms / 2 && settle < session_ms + 5_000,
            "{phase}"
        );
    }
}

#[test]
fn static_member_restart_within_the_session_timeout_causes_no_rebalance() {
    let base = json(&["--static"]);
    let restart = json(&["--static", "--script", "30s crash #0; 35s restart #0"]);
    assert_eq!(u64_of(&base, "rebalances"), 1);
    assert_eq!(u64_of(&restart, "rebalances"), 1, "{restart}");
    assert_eq!(u64_of(&restart, "partitions_moved"), 0, "{restart}");
    // The new incarnation has the old instance id and the old partitions.
    let members = restart["members"].as_array().expect("members");
    let zero: Vec<&Value> = members.iter().filter(|m| m["index"] == 0).collect();
    assert_eq!(zero.len(), 2, "{restart}");
    assert_eq!(zero[0]["status"], "crashed");
    assert_eq!(zero[1]["status"], "stable");
    assert!(zero.iter().all(|m| m["instance_id"] == "member-0"));
    let new_id = zero[1]["member_id"].as_str().expect("member id");
    let final_assignment = assignment(&restart, 1, 12);
    let (_, parts) = final_assignment
        .iter()
        .find(|(id, _)| id == new_id)
        .expect("the restarted member owns partitions");
    let first: Vec<(String, i64)> = (0..4).map(|p| ("topic-0".to_owned(), p)).collect();
    assert_eq!(*parts, first, "{restart}");
    // Its partitions had no owner while it was down: 4 partitions x 5 s.
    let gap =
        f64_of(&restart, "unowned_partition_seconds") - f64_of(&base, "unowned_partition_seconds");
    assert!((19.0..21.0).contains(&gap), "{gap}");

    // Dynamic members, or a static restart after the session timeout: rebalances.
    let dynamic = json(&["--script", "30s crash #0; 35s restart #0"]);
    assert!(u64_of(&dynamic, "rebalances") >= 2, "{dynamic}");
    let late = json(&["--static", "--script", "30s crash #0; 50s restart #0"]);
    assert!(u64_of(&late, "rebalances") >= 3, "{late}");
    assignment(&late, 1, 12);
}

#[test]
fn leave_and_idle_members() {
    let v = json(&["--script", "30s leave #0"]);
    assert_eq!(assignment(&v, 1, 12).len(), 2);
    assert_eq!(u64_of(&v, "rebalances"), 2);
    assert_eq!(v["members"][0]["status"], "left");

    let v = json(&["--members", "5", "--partitions", "3"]);
    assert_eq!(u64_of(&v, "idle_members"), 2, "{v}");
    assert!(u64_of(&v, "idle_events") >= 2, "{v}");
    assert_eq!(assignment(&v, 1, 3).len(), 5);

    // The issue's example shape, with two topics and roundrobin.
    let v = json(&[
        "--topics",
        "2",
        "--assignor",
        "roundrobin",
        "--script",
        "0s join 3; 30s join 2; 60s crash #1; 90s leave #2; 100s restart #1",
    ]);
    assert_eq!(v["config"]["initial_members"], 0, "the script joins at 0s");
    assert_eq!(assignment(&v, 2, 12).len(), 4, "{v}");
    assert_eq!(v["phases"].as_array().map(Vec::len), Some(5));
}

#[test]
fn bad_scripts_and_flags_exit_2() {
    for (args, needle) in [
        (
            vec!["--script", "30s join 3; 40x crash 1"],
            "\"40x crash 1\"",
        ),
        (vec!["--script", "30 join 3"], "unit"),
        (vec!["--script", "30s explode 1"], "unknown verb"),
        (vec!["--script", "30s crash #7"], "no member 7"),
        (
            vec!["--script", "30s crash #1; 40s leave #1"],
            "already crashed",
        ),
        (vec!["--script", "30s restart #1"], "is running"),
        (vec!["--script", "30s join 1; 20s join 1"], "time order"),
        (vec!["--script", "30s join"], "expected"),
        (vec!["--session-timeout-ms", "1000"], "session-timeout-ms"),
        (vec!["--heartbeat-ms", "20000"], "heartbeat-ms"),
        (vec!["--partitions", "0"], "partitions"),
        (vec!["--protocol", "sticky"], "sticky"),
    ] {
        let out = kgroup(&args);
        assert_eq!(code(&out), 2, "{args:?}");
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    }
}

#[test]
fn same_flags_same_output() {
    let script = "0s join 4; 20s join 2; 45s crash #1; 50s leave #3; 60s restart #1";
    for extra in [
        &["--protocol", "eager"][..],
        &["--protocol", "cooperative", "--static"][..],
        &["--json", "--seed", "7", "--revoke-ms", "500"][..],
    ] {
        let mut args = vec!["--topics", "2", "--partitions", "5", "--script", script];
        args.extend_from_slice(extra);
        let a = kgroup(&args);
        let b = kgroup(&args);
        assert_eq!(code(&a), 0, "{}", stderr(&a));
        assert_eq!(stdout(&a), stdout(&b), "{args:?}");
    }
}

#[test]
fn help_explains_the_script_and_the_cooperative_assignor() {
    let out = kgroup(&["--help"]);
    assert_eq!(code(&out), 0);
    // Help is wrapped to the terminal width: compare with single spaces.
    let text = stdout(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for needle in [
        "Examples",
        "--script",
        "join N",
        "restart N | restart #I",
        "real CooperativeStickyAssignor",
        "KIP-429",
        "--json",
        "unowned partition-seconds",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
}

/// Splits a shell command line of the help's examples: words, and double-quoted strings.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any || !word.is_empty() {
                    words.push(core::mem::take(&mut word));
                }
                any = false;
            }
            c => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    words
}

#[test]
fn every_help_example_runs() {
    let out = kgroup(&["--help"]);
    let help = stdout(&out);
    let examples = help.split("Examples:").nth(1).expect("an Examples section");
    let mut commands = Vec::new();
    let mut pending = String::new();
    for line in examples.lines().map(str::trim) {
        if line.starts_with("kgroup simulate") || !pending.is_empty() {
            pending.push(' ');
            pending.push_str(line.trim_end_matches('\\'));
            if !line.ends_with('\\') {
                commands.push(core::mem::take(&mut pending));
            }
        }
    }
    assert!(commands.len() >= 4, "{commands:?}");
    for command in commands {
        let words = shell_words(&command);
        assert_eq!(words[..2], ["kgroup", "simulate"], "{command}");
        let args: Vec<&str> = words[2..].iter().map(String::as_str).collect();
        let out = kgroup(&args);
        assert_eq!(code(&out), 0, "{command}: {}", stderr(&out));
        if args.contains(&"--json") {
            let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
            assert!(v.is_object());
        }
    }
}

#[test]
fn the_issue_example_script_runs() {
    let v = json(&[
        "--script",
        "0s join 3; 30s join 2; 60s crash 1; 90s leave 1",
    ]);
    // 5 members joined, the newest crashed, the next newest left: 3 running at the end.
    let members = v["members"].as_array().expect("members");
    assert_eq!(members.len(), 5, "{v}");
    assert_eq!(members[4]["status"], "crashed", "{v}");
    assert_eq!(members[3]["status"], "left", "{v}");
    let final_assignment = assignment(&v, 1, 12);
    assert_eq!(final_assignment.len(), 3, "{v}");
}
