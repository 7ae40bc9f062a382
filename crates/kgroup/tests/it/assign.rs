//! `kgroup assign`: the JSON report's fields, movement against the known minimum, and bad
//! flags (exit code 2, never a panic).

use std::process::Output;

use serde_json::Value;

fn kgroup(args: &[&str]) -> Output {
    let mut all = vec!["assign"];
    all.extend_from_slice(args);
    crate::run(&all, None)
}

fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--json", "--runs", "1"]);
    let out = kgroup(&all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn n(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing: {v}"))
}

#[test]
fn report_fields_and_fresh_balance() {
    for assignor in ["range", "roundrobin", "sticky", "cooperative-sticky"] {
        let v = json(&[
            "--assignor",
            assignor,
            "--members",
            "7",
            "--partitions",
            "100",
        ]);
        assert_eq!(v["valid"], true, "{v}");
        assert_eq!(v["assignor"], assignor);
        assert_eq!(n(&v, "members"), 7);
        assert_eq!(n(&v, "spread"), 1, "100 over 7 is 14 or 15: {v}");
        assert_eq!(n(&v, "moved"), 0, "fresh: {v}");
        assert!(
            v["elapsed_ms"].as_f64().is_some() && v["peak_rss_bytes"].is_u64(),
            "{v}"
        );
    }
}

/// 10 members own 1,000 partitions (100 each) and 1 joins: quotas are 90 and 91 with
/// 1000 mod 11 = 10 members at 91, so the minimum is Σ max(0, 100 − 90) − min(10, 10) = 90.
#[test]
fn sticky_joins_move_the_minimum_and_range_more() {
    let args = ["--members", "10", "--partitions", "1000", "--join", "1"];
    let coop = json(&[&["--assignor", "cooperative-sticky"][..], &args].concat());
    assert_eq!(n(&coop, "moved"), 90, "{coop}");
    assert_eq!(n(&coop, "withheld"), 90, "revoked first: {coop}");
    assert_eq!(n(&coop, "rounds"), 2, "{coop}");
    assert_eq!(n(&coop, "spread"), 1, "{coop}");
    let eager = json(&[&["--assignor", "sticky"][..], &args].concat());
    assert_eq!(n(&eager, "moved"), 90, "{eager}");
    assert_eq!(n(&eager, "rounds"), 1, "{eager}");
    let range = json(&[&["--assignor", "range"][..], &args].concat());
    assert!(n(&range, "moved") > 90, "{range}");
    // A leave: the survivors keep everything and take the leaver's share.
    let leave = json(&[
        "--assignor",
        "cooperative-sticky",
        "--members",
        "10",
        "--partitions",
        "1000",
        "--leave",
        "1",
    ]);
    assert_eq!(n(&leave, "moved"), 0, "{leave}");
    assert_eq!(n(&leave, "spread"), 1, "{leave}");
}

#[test]
fn heterogeneous_subscriptions_are_valid() {
    for subs in ["overlap", "random"] {
        let v = json(&[
            "--assignor",
            "cooperative-sticky",
            "--members",
            "40",
            "--partitions",
            "400",
            "--topics",
            "10",
            "--subscriptions",
            subs,
            "--join",
            "2",
        ]);
        assert_eq!(v["valid"], true, "{v}");
    }
}

#[test]
fn bad_flags_exit_2() {
    for args in [
        &["--assignor", "range", "--members", "0", "--partitions", "5"][..],
        &[
            "--assignor",
            "range",
            "--members",
            "3",
            "--partitions",
            "5",
            "--topics",
            "0",
        ],
        &[
            "--assignor",
            "range",
            "--members",
            "3",
            "--partitions",
            "5",
            "--leave",
            "3",
        ],
        &[
            "--assignor",
            "range",
            "--members",
            "4000000000",
            "--partitions",
            "5",
        ],
        &[
            "--assignor",
            "range",
            "--members",
            "3",
            "--partitions",
            "4000000000",
        ],
        &["--assignor", "nope", "--members", "3", "--partitions", "5"],
    ] {
        let out = kgroup(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}
