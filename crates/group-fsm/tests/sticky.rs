//! Properties of the sticky assignors (`sticky`, `cooperative-sticky`) and of the compact
//! assignor model, over random groups with random, partly hostile, previous ownership.
//!
//! Checked, for both assignors unless noted:
//! * validity: every partition at most once, only to a subscriber; eager results (and
//!   cooperative results once nothing is contested) cover every subscribed partition;
//! * balance: identical subscriptions give counts within one; otherwise no member could take a
//!   partition of a topic it subscribes to from a member holding two or more partitions more;
//! * stickiness with identical subscriptions: the number of partitions taken from their
//!   previous owner equals the lower bound `Σ max(0, kept_i − minQuota) − min(#{kept_i ≥ maxQuota}, P mod N)`;
//! * cooperative safety: a partition goes to a member only if nobody claimed it or that member
//!   is its unique highest-generation claimant;
//! * determinism: the same members in any order get the same partitions;
//! * idempotence: a second run on the assignor's own output (one generation later) moves
//!   nothing; the cooperative protocol converges in two rounds with identical subscriptions
//!   and in at most three otherwise (KAFKA-8767 allows a third);
//! * hostile claims (negative, out of range, unknown topic, duplicated, garbage user data,
//!   same-generation double claims) never panic and never break validity.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use group_fsm::assignor::sticky::{
    decode_generation, decode_user_data, encode_generation, encode_user_data,
    generation_from_user_data,
};
use group_fsm::assignor::{
    Assignor, CooperativeStickyAssignor, GroupPlan, GroupSpec, GroupSpecBuilder, MemberInput,
    RebalanceProtocol, StickyAssignor, TopicPartition,
};
use proptest::prelude::*;

const TOPICS: [&str; 4] = ["a", "b", "c", "d"];

/// A member as the test generates it.
#[derive(Debug, Clone)]
struct TestMember {
    id: String,
    instance: Option<String>,
    topics: Vec<String>,
    /// Claims as (topic, partition): may be hostile.
    owned: Vec<(String, i32)>,
    generation: i32,
}

#[derive(Debug, Clone)]
struct Case {
    topics: Vec<(String, u32)>,
    members: Vec<TestMember>,
}

fn claim() -> impl Strategy<Value = (String, i32)> {
    prop_oneof![
        8 => (0usize..4, 0i32..24).prop_map(|(t, p)| (TOPICS[t].to_owned(), p)),
        1 => (0usize..4, prop_oneof![Just(-1i32), Just(i32::MIN), 24i32..1000, Just(i32::MAX)])
            .prop_map(|(t, p)| (TOPICS[t].to_owned(), p)),
        1 => (0i32..5).prop_map(|p| ("zz-unknown".to_owned(), p)),
    ]
}

/// Random groups: 1..=4 topics of 0..24 partitions, 1..=12 members, identical or random
/// subscriptions, previous ownership from a random earlier layout plus hostile noise.
fn case(identical: bool) -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(0u32..24, 1..=4),
        prop::collection::btree_set("[a-z0-9]{1,6}", 1..=12),
        any::<u8>(),
        prop::collection::vec(
            (
                any::<u8>(),
                prop::collection::vec(claim(), 0..12),
                prop_oneof![3 => Just(5i32), 1 => 3i32..8, 1 => Just(-1i32)],
                prop::option::weighted(0.2, "[a-z]{1,3}"),
            ),
            12,
        ),
    )
        .prop_map(move |(counts, ids, common, extra)| {
            let topics: Vec<(String, u32)> = counts
                .iter()
                .enumerate()
                .map(|(i, &n)| (TOPICS[i].to_owned(), n))
                .collect();
            let members = ids
                .into_iter()
                .zip(extra)
                .map(|(id, (mask, owned, generation, instance))| {
                    let mask = if identical { common } else { mask };
                    let mut subscribed: Vec<String> = TOPICS
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| mask & (1 << i) != 0)
                        .map(|(_, t)| (*t).to_owned())
                        .collect();
                    if mask & 0x80 != 0 && !identical {
                        subscribed.push("zz-unknown".to_owned());
                    }
                    TestMember {
                        instance: instance.map(|i| format!("{id}-{i}")),
                        id,
                        topics: subscribed,
                        owned,
                        generation,
                    }
                })
                .collect();
            Case { topics, members }
        })
}

/// Whether `a` is the sticky (eager, user data) or cooperative-sticky (owned partitions) flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Eager,
    Cooperative,
}

fn assignor(f: Flavour) -> Box<dyn Assignor> {
    match f {
        Flavour::Eager => Box::new(StickyAssignor::default()),
        Flavour::Cooperative => Box::new(CooperativeStickyAssignor::default()),
    }
}

fn grouped(owned: &[(String, i32)]) -> Vec<(String, Vec<i32>)> {
    let mut out: Vec<(String, Vec<i32>)> = Vec::new();
    for (t, p) in owned {
        match out.last_mut() {
            Some((last, list)) if last == t => list.push(*p),
            _ => out.push((t.clone(), vec![*p])),
        }
    }
    out
}

fn spec(c: &Case, f: Flavour, order: &[usize]) -> GroupSpec {
    let mut b = GroupSpecBuilder::new();
    for (t, n) in &c.topics {
        b.topic(t.clone(), *n);
    }
    for &i in order {
        let m = &c.members[i];
        let claims: Vec<TopicPartition> = m
            .owned
            .iter()
            .map(|(t, p)| TopicPartition::new(t.clone(), *p))
            .collect();
        let input = match f {
            Flavour::Eager => MemberInput {
                member_id: m.id.clone(),
                instance_id: m.instance.clone(),
                topics: m.topics.clone(),
                generation: -1,
                user_data: Some(encode_user_data(&claims, Some(m.generation))),
                ..Default::default()
            },
            Flavour::Cooperative => MemberInput {
                member_id: m.id.clone(),
                instance_id: m.instance.clone(),
                topics: m.topics.clone(),
                owned: grouped(&m.owned),
                generation: m.generation,
                user_data: Some(encode_generation(m.generation)),
                ..Default::default()
            },
        };
        b.member(input);
    }
    b.build()
}

/// The result as member id → set of (topic, partition).
type Result_ = BTreeMap<String, BTreeSet<(String, i32)>>;

fn run(c: &Case, f: Flavour, order: &[usize]) -> Result_ {
    let s = spec(c, f, order);
    let plan: GroupPlan = assignor(f).plan(&s);
    assert_eq!(plan.members.len(), s.members().len());
    s.members()
        .iter()
        .zip(&plan.members)
        .map(|(m, p)| {
            assert!(
                p.partitions.windows(2).all(|w| w[0] < w[1]),
                "plan lists sorted"
            );
            let set = s
                .grouped(&p.partitions)
                .into_iter()
                .flat_map(|(t, ps)| ps.into_iter().map(move |p| (t.to_owned(), p)))
                .collect();
            (m.member_id.clone(), set)
        })
        .collect()
}

fn partitions_of(c: &Case, topic: &str) -> u32 {
    c.topics
        .iter()
        .find(|(t, _)| t == topic)
        .map_or(0, |(_, n)| *n)
}

fn subscribes(m: &TestMember, topic: &str) -> bool {
    m.topics.iter().any(|t| t == topic)
}

/// Unique highest-generation claimant of each valid partition (None = contested).
fn winners(c: &Case) -> BTreeMap<(String, i32), Option<usize>> {
    let mut best: BTreeMap<(String, i32), (i32, Vec<usize>)> = BTreeMap::new();
    for (i, m) in c.members.iter().enumerate() {
        let claims: BTreeSet<&(String, i32)> = m.owned.iter().collect();
        for (t, p) in claims {
            if *p < 0 || *p as u32 >= partitions_of(c, t) {
                continue;
            }
            let e = best
                .entry((t.clone(), *p))
                .or_insert((m.generation, Vec::new()));
            if m.generation > e.0 {
                *e = (m.generation, vec![i]);
            } else if m.generation == e.0 {
                e.1.push(i);
            }
        }
    }
    best.into_iter()
        .map(|(k, (_, who))| (k, (who.len() == 1).then(|| who[0])))
        .collect()
}

fn check_valid(c: &Case, r: &Result_, complete: bool) -> Result<(), TestCaseError> {
    let mut seen = BTreeSet::new();
    for m in &c.members {
        for (t, p) in &r[&m.id] {
            prop_assert!(subscribes(m, t), "{} got {t}-{p} without subscribing", m.id);
            prop_assert!(*p >= 0 && (*p as u32) < partitions_of(c, t));
            prop_assert!(seen.insert((t.clone(), *p)), "{t}-{p} assigned twice");
        }
    }
    if complete {
        for (t, n) in &c.topics {
            if c.members.iter().any(|m| subscribes(m, t)) {
                for p in 0..*n as i32 {
                    prop_assert!(seen.contains(&(t.clone(), p)), "{t}-{p} unassigned");
                }
            }
        }
    }
    Ok(())
}

fn check_balance(c: &Case, r: &Result_) -> Result<(), TestCaseError> {
    let count = |id: &str| r[id].len();
    for (t, _) in &c.topics {
        let subs: Vec<&TestMember> = c.members.iter().filter(|m| subscribes(m, t)).collect();
        for holder in &subs {
            if !r[&holder.id].iter().any(|(tt, _)| tt == t) {
                continue;
            }
            for other in &subs {
                prop_assert!(
                    count(&holder.id) <= count(&other.id) + 1,
                    "{} holds {} (some of {t}) while {} subscribes to {t} and holds {}",
                    holder.id,
                    count(&holder.id),
                    other.id,
                    count(&other.id)
                );
            }
        }
    }
    Ok(())
}

fn identical_spread(r: &Result_) -> usize {
    let counts: Vec<usize> = r.values().map(BTreeSet::len).collect();
    counts.iter().max().unwrap_or(&0) - counts.iter().min().unwrap_or(&0)
}

/// Partitions taken from their unique previous owner (that still subscribes to the topic).
fn taken_from_owner(c: &Case, r: &Result_) -> usize {
    winners(c)
        .into_iter()
        .filter_map(|(tp, w)| Some((tp, w?)))
        .filter(|((t, _), w)| subscribes(&c.members[*w], t))
        .filter(|(tp, w)| !r[&c.members[*w].id].contains(tp))
        .count()
}

/// The lower bound on partitions taken from their owners with identical subscriptions.
fn movement_lower_bound(c: &Case) -> usize {
    let n = c.members.len();
    let subscribed = &c.members[0].topics;
    let total: usize = subscribed
        .iter()
        .map(|t| partitions_of(c, t) as usize)
        .sum();
    let (min_q, extras) = (total / n, total % n);
    let mut kept = vec![0usize; n];
    for ((t, _), w) in winners(c) {
        if let Some(w) = w {
            if subscribes(&c.members[w], &t) {
                kept[w] += 1;
            }
        }
    }
    let over: usize = kept.iter().map(|&k| k.saturating_sub(min_q)).sum();
    let at_max = kept.iter().filter(|&&k| k > min_q).count();
    over - at_max.min(extras)
}

/// The case one generation later, every member owning what `r` gave it.
fn next_round(c: &Case, r: &Result_) -> Case {
    let mut next = c.clone();
    for m in &mut next.members {
        m.owned = r[&m.id].iter().cloned().collect();
        m.generation = 9;
    }
    next
}

fn identity(c: &Case) -> Vec<usize> {
    (0..c.members.len()).collect()
}

fn check_all(
    c: &Case,
    f: Flavour,
    identical: bool,
    shuffle: &[usize],
) -> Result<(), TestCaseError> {
    let order = identity(c);
    let r1 = run(c, f, &order);
    // Determinism: any member order.
    let mut perm: Vec<usize> = order.clone();
    let len = perm.len();
    for (i, &s) in shuffle.iter().enumerate().take(len) {
        perm.swap(i % len, s % len);
    }
    prop_assert_eq!(&run(c, f, &perm), &r1, "result depends on member order");
    match f {
        Flavour::Eager => check_valid(c, &r1, true)?,
        Flavour::Cooperative => {
            check_valid(c, &r1, false)?;
            // Cooperative safety.
            let w = winners(c);
            for m in &c.members {
                for tp in &r1[&m.id] {
                    if let Some(owner) = w.get(tp) {
                        prop_assert!(
                            owner.is_some_and(|o| c.members[o].id == m.id),
                            "{tp:?} handed to {} while claimed by {:?}",
                            m.id,
                            owner.map(|o| &c.members[o].id)
                        );
                    }
                }
            }
        }
    }
    if identical {
        prop_assert_eq!(taken_from_owner(c, &r1), movement_lower_bound(c));
    }
    // Rounds until stable.
    let mut prev = r1;
    let mut case = next_round(c, &prev);
    let max_rounds = if identical || f == Flavour::Eager {
        1
    } else {
        2
    };
    let mut rounds = 0;
    loop {
        let r = run(&case, f, &order);
        check_valid(&case, &r, false)?;
        if r == prev {
            break;
        }
        rounds += 1;
        prop_assert!(
            rounds <= max_rounds,
            "not stable after {rounds} more rounds"
        );
        prev = r;
        case = next_round(&case, &prev);
    }
    check_valid(&case, &prev, true)?;
    if identical {
        prop_assert!(identical_spread(&prev) <= 1);
    }
    check_balance(&case, &prev)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn sticky_identical(c in case(true), shuffle in prop::collection::vec(any::<usize>(), 12)) {
        check_all(&c, Flavour::Eager, true, &shuffle)?;
    }

    #[test]
    fn sticky_different(c in case(false), shuffle in prop::collection::vec(any::<usize>(), 12)) {
        check_all(&c, Flavour::Eager, false, &shuffle)?;
    }

    #[test]
    fn cooperative_identical(c in case(true), shuffle in prop::collection::vec(any::<usize>(), 12)) {
        check_all(&c, Flavour::Cooperative, true, &shuffle)?;
    }

    #[test]
    fn cooperative_different(c in case(false), shuffle in prop::collection::vec(any::<usize>(), 12)) {
        check_all(&c, Flavour::Cooperative, false, &shuffle)?;
    }

    /// Garbage user data never panics and counts as no claim (generation -1).
    #[test]
    fn garbage_user_data(c in case(false), junk in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 12)) {
        let mut b = GroupSpecBuilder::new();
        for (t, n) in &c.topics {
            b.topic(t.clone(), *n);
        }
        for (m, j) in c.members.iter().zip(&junk) {
            b.member(MemberInput {
                member_id: m.id.clone(),
                topics: m.topics.clone(),
                user_data: Some(Bytes::copy_from_slice(j)),
                generation: -1,
                ..Default::default()
            });
        }
        let s = b.build();
        for a in [assignor(Flavour::Eager), assignor(Flavour::Cooperative)] {
            let plan = a.plan(&s);
            let total: usize = plan.members.iter().map(|p| p.partitions.len()).sum();
            let mut all: Vec<u32> = plan.members.iter().flat_map(|p| p.partitions.clone()).collect();
            all.sort_unstable();
            all.dedup();
            prop_assert_eq!(all.len(), total);
        }
        for j in &junk {
            let _ = decode_user_data(j);
        }
    }

    /// User data round trip (v1 and v0).
    #[test]
    fn user_data_round_trip(parts in prop::collection::vec((0usize..4, any::<i32>()), 0..20), g in any::<i32>()) {
        let tps: Vec<TopicPartition> = parts.iter().map(|(t, p)| TopicPartition::new(TOPICS[*t], *p)).collect();
        let mut expected: Vec<(String, i32)> = parts.iter().map(|(t, p)| (TOPICS[*t].to_owned(), *p)).collect();
        expected.sort();
        expected.dedup();
        for generation in [Some(g), None] {
            let bytes = encode_user_data(&tps, generation);
            let back = decode_user_data(&bytes).expect("decodes");
            let flat: Vec<(String, i32)> = back.previous.iter().flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p))).collect();
            prop_assert_eq!(&flat, &expected);
            prop_assert_eq!(back.generation, generation);
        }
        prop_assert_eq!(decode_generation(&encode_generation(g)), Some(g));
    }
}

#[test]
fn names_protocols_and_user_data() {
    let mut sticky = StickyAssignor::default();
    assert_eq!(sticky.name(), "sticky");
    assert_eq!(sticky.supported_protocols(), [RebalanceProtocol::Eager]);
    assert_eq!(
        sticky.subscription_user_data(&[]),
        None,
        "nothing owned yet"
    );
    let a = group_fsm::assignor::Assignment {
        partitions: vec![TopicPartition::new("t", 1), TopicPartition::new("t", 0)],
        user_data: None,
    };
    sticky.on_assignment(&a, 4);
    let data = sticky.subscription_user_data(&[]).expect("user data");
    #[rustfmt::skip]
    let expected: &[u8] = &[
        0, 0, 0, 1,         // one topic
        0, 1, b't',         // "t"
        0, 0, 0, 2,         // two partitions
        0, 0, 0, 0, 0, 0, 0, 1,
        0, 0, 0, 4,         // generation 4 (v1)
    ];
    assert_eq!(&data[..], expected);
    let v0 = decode_user_data(&expected[..expected.len() - 4]).expect("v0");
    assert_eq!(v0.generation, None);
    assert_eq!(v0.previous, vec![("t".to_owned(), vec![0, 1])]);

    let mut coop = CooperativeStickyAssignor::default();
    assert_eq!(coop.name(), "cooperative-sticky");
    assert!(
        coop.supported_protocols()
            .contains(&RebalanceProtocol::Cooperative)
    );
    assert_eq!(
        coop.subscription_user_data(&[]).as_deref(),
        Some(&[0xff, 0xff, 0xff, 0xff][..])
    );
    coop.on_assignment(&a, 7);
    assert_eq!(
        coop.subscription_user_data(&[]).as_deref(),
        Some(&[0, 0, 0, 7][..])
    );
}

/// A lying array count in sticky user data is rejected without allocating for it.
#[test]
fn lying_user_data_counts() {
    assert_eq!(decode_user_data(&[0x7f, 0xff, 0xff, 0xff]), None);
    assert_eq!(
        decode_user_data(&[0, 0, 0, 1, 0, 1, b't', 0x7f, 0xff, 0xff, 0xff]),
        None
    );
    assert_eq!(decode_user_data(&[0xff, 0xff, 0xff, 0xff]), None);
    assert_eq!(decode_user_data(&[0, 0, 0, 1, 0xff, 0xff]), None);
    assert_eq!(decode_generation(&[1, 2, 3]), None);
}

/// Java's `StickyAssignor` Javadoc example 1 style: identical subscriptions, one member
/// leaves, the survivors keep everything they had.
#[test]
fn leaving_member_moves_only_its_partitions() {
    let c = Case {
        topics: vec![("a".into(), 6), ("b".into(), 6)],
        members: vec![
            member(
                "m1",
                &["a", "b"],
                &[("a", 0), ("a", 3), ("b", 0), ("b", 3)],
                3,
            ),
            member(
                "m2",
                &["a", "b"],
                &[("a", 1), ("a", 4), ("b", 1), ("b", 4)],
                3,
            ),
        ],
    };
    // m3 (owning a-2, a-5, b-2, b-5) left.
    for f in [Flavour::Eager, Flavour::Cooperative] {
        let r = run(&c, f, &[0, 1]);
        for m in &c.members {
            for tp in &m.owned {
                assert!(r[&m.id].contains(tp), "{f:?}: {} lost {tp:?}", m.id);
            }
            assert_eq!(r[&m.id].len(), 6, "{f:?}");
        }
    }
}

/// Same-generation double claims are taken from both and, cooperatively, withheld.
#[test]
fn double_claims_in_one_generation() {
    let c = Case {
        topics: vec![("a".into(), 4)],
        members: vec![
            member("m1", &["a"], &[("a", 0), ("a", 1)], 2),
            member("m2", &["a"], &[("a", 1), ("a", 2)], 2),
            member("m3", &["a"], &[("a", 1), ("a", 3)], 1),
        ],
    };
    let coop = run(&c, Flavour::Cooperative, &[0, 1, 2]);
    for m in &c.members {
        assert!(
            !coop[&m.id].contains(&("a".to_owned(), 1)),
            "a-1 is contested"
        );
    }
    assert!(coop["m1"].contains(&("a".to_owned(), 0)));
    assert!(coop["m2"].contains(&("a".to_owned(), 2)));
    assert!(coop["m3"].contains(&("a".to_owned(), 3)));
    let eager = run(&c, Flavour::Eager, &[0, 1, 2]);
    let all: usize = eager.values().map(BTreeSet::len).sum();
    assert_eq!(all, 4, "eager hands out the contested partition too");
}

/// Higher generation wins a claim; the stale claimant does not get it.
#[test]
fn higher_generation_wins() {
    let c = Case {
        topics: vec![("a".into(), 2)],
        members: vec![
            member("old", &["a"], &[("a", 0), ("a", 1)], 1),
            member("new", &["a"], &[("a", 0)], 2),
        ],
    };
    for f in [Flavour::Eager, Flavour::Cooperative] {
        let r = run(&c, f, &[0, 1]);
        assert!(r["new"].contains(&("a".to_owned(), 0)), "{f:?}");
        assert!(r["old"].contains(&("a".to_owned(), 1)), "{f:?}");
    }
}

/// Members beyond the partition count sit idle; no panic with empty groups or topics.
#[test]
fn edge_cases() {
    for f in [Flavour::Eager, Flavour::Cooperative] {
        let empty = GroupSpecBuilder::new().build();
        assert!(assignor(f).plan(&empty).members.is_empty());
        let c = Case {
            topics: vec![("a".into(), 2), ("b".into(), 0)],
            members: (0..5)
                .map(|i| member(&format!("m{i}"), &["a", "b"], &[], -1))
                .collect(),
        };
        let r = run(&c, f, &[4, 3, 2, 1, 0]);
        assert_eq!(r.values().map(BTreeSet::len).sum::<usize>(), 2);
        let none = Case {
            topics: vec![("a".into(), 3)],
            members: vec![
                member("x", &[], &[("a", 0)], 3),
                member("y", &["a"], &[], -1),
            ],
        };
        let r = run(&none, f, &[0, 1]);
        assert!(r["x"].is_empty());
        let y = r["y"].len();
        // Cooperatively, a-0 is still x's (x revokes it first).
        assert_eq!(y, if f == Flavour::Eager { 3 } else { 2 });
    }
}

fn member(id: &str, topics: &[&str], owned: &[(&str, i32)], generation: i32) -> TestMember {
    TestMember {
        id: id.to_owned(),
        instance: None,
        topics: topics.iter().map(|t| (*t).to_owned()).collect(),
        owned: owned.iter().map(|(t, p)| ((*t).to_owned(), *p)).collect(),
        generation,
    }
}

/// With different subscriptions, kept claims that leave a subscriber two or more behind are
/// moved, cooperatively by revoking first.
#[test]
fn general_path_rebalances_kept_claims() {
    let all: Vec<(&str, i32)> = (0..6).map(|p| ("a", p)).collect();
    let c = Case {
        topics: vec![("a".into(), 6), ("b".into(), 2)],
        members: vec![
            member("x", &["a", "b"], &all, 3),
            member("y", &["a"], &[], -1),
        ],
    };
    let eager = run(&c, Flavour::Eager, &[0, 1]);
    check_balance(&c, &eager).unwrap();
    assert_eq!(eager["y"].len(), 4, "{eager:?}");
    let coop = run(&c, Flavour::Cooperative, &[1, 0]);
    assert!(
        coop["y"].is_empty(),
        "a-* is still x's this round: {coop:?}"
    );
    assert_eq!(coop["x"].len(), 4, "x keeps 2 of a and gets b: {coop:?}");
    let next = next_round(&c, &coop);
    let second = run(&next, Flavour::Cooperative, &[0, 1]);
    check_balance(&next, &second).unwrap();
    assert_eq!(second["y"].len(), 4, "{second:?}");
}

/// librdkafka's cooperative-sticky members send StickyAssignor user data v1 (previous
/// assignment + generation), not Java's 4 bytes; librdkafka 2.0 does so with subscription v1,
/// where the generation must come from it. Bytes from `mock-2.16-ck-cooperative-sticky` (m1's
/// third JoinGroup: asg-topic 0..5, generation 0) and an empty-assignment blob (generation 3).
#[test]
fn librdkafka_cooperative_user_data() {
    let hex = "0000000100096173672d746f7069630000000600000000000000010000000200000003000000040000000500000000";
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let u = decode_user_data(&bytes).expect("StickyAssignor v1 layout");
    assert_eq!(
        u.previous,
        vec![("asg-topic".to_owned(), vec![0, 1, 2, 3, 4, 5])]
    );
    assert_eq!(u.generation, Some(0));
    assert_eq!(
        generation_from_user_data(&bytes),
        0,
        "not the topic count (1)"
    );
    assert_eq!(generation_from_user_data(&[0, 0, 0, 0, 0, 0, 0, 3]), 3);
    assert_eq!(
        generation_from_user_data(&[0, 0, 0, 7]),
        7,
        "Java's 4 bytes"
    );
    assert_eq!(generation_from_user_data(&[1, 2]), -1);
}

/// Checks `canonical_order` against a plain sort of (static?, instance id, member id).
fn check_canonical_order(ids: &[String], statics: &[Option<String>]) -> Result<(), TestCaseError> {
    let mut b = GroupSpecBuilder::new();
    b.topic("t", 1);
    for (i, id) in ids.iter().enumerate() {
        let inst = statics.get(i % statics.len().max(1)).cloned().flatten();
        b.member(MemberInput {
            member_id: id.clone(),
            instance_id: inst,
            ..Default::default()
        });
    }
    let spec = b.build();
    let got: Vec<&str> = spec
        .canonical_order()
        .iter()
        .map(|&i| spec.members()[i as usize].member_id.as_str())
        .collect();
    let mut want: Vec<(bool, Option<&str>, &str)> = spec
        .members()
        .iter()
        .map(|m| {
            (
                m.instance_id.is_none(),
                m.instance_id.as_deref(),
                m.member_id.as_str(),
            )
        })
        .collect();
    want.sort();
    let want: Vec<&str> = want.iter().map(|w| w.2).collect();
    prop_assert_eq!(got, want);
    Ok(())
}

proptest! {
    /// Java's member order (static members by instance id first, then member id) from the
    /// prefix-keyed sort equals a plain sort, with long shared prefixes and near-ties.
    #[test]
    fn canonical_order_is_a_plain_sort(
        ids in prop::collection::btree_set("(consumer-0000000000000000|c|)[ab\u{0}]{0,20}", 1..40),
        statics in prop::collection::vec(prop::option::of("(instance-0000000000000000-)?[ab]{0,20}"), 40),
    ) {
        let ids: Vec<String> = ids.into_iter().collect();
        check_canonical_order(&ids, &statics)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// The same for groups large enough for the radix sort (512 members and up), with bytes
    /// that vary in every key position and repeated static ids (ties on the key).
    #[test]
    fn canonical_order_is_a_plain_sort_when_large(
        ids in prop::collection::btree_set("(consumer-|)[a-c\u{0}\u{ff}]{0,12}", 512..900),
        statics in prop::collection::vec(prop::option::of("(instance-)?[ab]{0,10}"), 1..300),
    ) {
        let ids: Vec<String> = ids.into_iter().collect();
        check_canonical_order(&ids, &statics)?;
    }
}

proptest! {
    /// A fresh group with identical subscriptions to every topic is dealt round-robin in
    /// partition order over Java's member order: rank r gets r, r + N, r + 2N, … (P / N of
    /// them, one more for the first P mod N ranks). This is the fast path of both assignors.
    #[test]
    fn fresh_identical_is_round_robin(
        counts in prop::collection::vec(0u32..40, 1..4),
        n in 1usize..30,
    ) {
        for f in [Flavour::Eager, Flavour::Cooperative] {
            let mut b = GroupSpecBuilder::new();
            let names: Vec<String> = (0..counts.len()).map(|t| format!("t{t}")).collect();
            for (t, &c) in names.iter().zip(&counts) {
                b.topic(t.clone(), c);
            }
            for i in 0..n {
                b.member(MemberInput {
                    member_id: format!("m-{:03}", (i * 7) % 31),
                    topics: names.clone(),
                    generation: -1,
                    ..Default::default()
                });
            }
            let spec = b.build();
            // Distinct ids only (the formula above has no ties).
            let ids: BTreeSet<&str> = spec.members().iter().map(|m| m.member_id.as_str()).collect();
            prop_assume!(ids.len() == n);
            let plan = assignor(f).plan(&spec);
            let total: u32 = counts.iter().sum();
            let (q, extra) = (total as usize / n, total as usize % n);
            for (rank, &m) in spec.canonical_order().iter().enumerate() {
                let want: Vec<u32> = (0..q + usize::from(rank < extra))
                    .map(|k| (rank + k * n) as u32)
                    .collect();
                prop_assert_eq!(&plan.members[m as usize].partitions, &want, "{:?} rank {}", f, rank);
            }
        }
    }
}
