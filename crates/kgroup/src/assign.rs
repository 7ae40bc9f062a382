//! `kgroup assign`: run one of group-fsm's assignors on a synthetic group and report time,
//! peak memory, balance and movement. People use it to choose an assignor; the project uses
//! it as the assignor benchmark driver (`scripts/bench-assignors.sh`).
//!
//! The group: `--topics` topics named `t0000`, `t0001`, … sharing `--partitions` partitions
//! (the first `P mod T` get one more), `--members` members with seeded random member ids, each
//! subscribed to every topic (`same`), to a window of half the topics starting at its own
//! index (`overlap`), or to a seeded random 3–10 of them (`random`).
//!
//! Without `--join` / `--leave` the assignment is fresh (nobody owns anything). With
//! `--join K`, the assignor first assigns the `--members` members from scratch, then `K` new
//! members join while everyone else owns its share, at generation 1 (as `OwnedPartitions`
//! and `GenerationId` for cooperative-sticky, as StickyAssignor user data v1 for sticky); the
//! timed run is that rebalance. `--leave K` removes the last `K` members instead.
//!
//! Only the assignor call is timed (the inputs are built first and the result is freed
//! after the clock stops), over `--runs` runs after one
//! warm-up; `elapsed_ms` is the median. `peak_rss_bytes` is the whole process's high-water
//! mark (`VmHWM`). `moved` counts partitions taken from their previous owner (for
//! cooperative-sticky these are the partitions it withholds this round for revocation).
//! `valid` means every partition is assigned at most once and only to a subscriber, and,
//! after the cooperative protocol's second round where one is needed, exactly once.

use std::io::Write as _;
use std::time::Instant;

use clap::{Args, ValueEnum};
use group_fsm::assignor::sticky::{encode_generation, encode_user_data};
use group_fsm::assignor::{
    Assignor, CooperativeStickyAssignor, GroupPlan, GroupSpec, GroupSpecBuilder, MemberInput,
    RangeAssignor, RoundRobinAssignor, StickyAssignor, TopicPartition,
};
use serde::Serialize;

use crate::error::CliError;

/// Long help of `kgroup assign`.
pub(crate) const LONG_ABOUT: &str = "\
Run an assignor (range, roundrobin, sticky, cooperative-sticky) on a synthetic consumer group \
and print the time the assignor call took, the process's peak memory, the balance spread \
(most minus fewest partitions per member), how many partitions moved from their previous \
owner, and whether the result is valid.

Fresh by default; --join K first assigns --members from scratch, then adds K members while \
everyone owns its share; --leave K removes the last K members instead. Subscriptions: same \
(every member every topic), overlap (a window of half the topics), random (a seeded random \
3-10 topics each).";

/// Examples shown by `kgroup assign --help`.
pub(crate) const EXAMPLES: &str = "\
Examples:
  kgroup assign --assignor cooperative-sticky --members 2000 --partitions 1000000
  kgroup assign --assignor cooperative-sticky --members 2000 --partitions 1000000 --join 1 --json
  kgroup assign --assignor cooperative-sticky --members 10000 --partitions 100000 --topics 10 --subscriptions random
  kgroup assign --assignor range --members 10 --partitions 60 --topics 3 --leave 1";

/// Assignor names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AssignorName {
    /// Java's RangeAssignor.
    Range,
    /// Java's RoundRobinAssignor.
    Roundrobin,
    /// Java's StickyAssignor (eager).
    Sticky,
    /// Java's CooperativeStickyAssignor (KIP-429).
    CooperativeSticky,
}

/// Subscription patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Subscriptions {
    /// Every member subscribes to every topic.
    Same,
    /// Member i subscribes to half the topics, starting at topic i mod T.
    Overlap,
    /// Each member subscribes to a seeded random 3-10 of the topics.
    Random,
}

/// Arguments of `kgroup assign`.
#[derive(Debug, Args)]
pub(crate) struct AssignArgs {
    /// The assignor.
    #[arg(long, value_enum)]
    assignor: AssignorName,
    /// Members (before --join / --leave).
    #[arg(long)]
    members: u32,
    /// Partitions in total, over all topics.
    #[arg(long)]
    partitions: u32,
    /// Number of topics.
    #[arg(long, default_value_t = 1)]
    topics: u32,
    /// Subscription pattern.
    #[arg(long, value_enum, default_value_t = Subscriptions::Same)]
    subscriptions: Subscriptions,
    /// After a fresh assignment of --members, K members join (everyone else owns its share).
    #[arg(long, value_name = "K", conflicts_with = "leave")]
    join: Option<u32>,
    /// After a fresh assignment of --members, the last K members leave.
    #[arg(long, value_name = "K")]
    leave: Option<u32>,
    /// Seed for member ids and random subscriptions.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Timed runs after one warm-up (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: u32,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// The figures `kgroup assign` prints.
#[derive(Debug, Serialize)]
struct Report {
    assignor: &'static str,
    members: usize,
    partitions: u32,
    topics: u32,
    subscriptions: &'static str,
    event: String,
    /// Median of the timed runs.
    elapsed_ms: f64,
    /// Fastest timed run.
    min_ms: f64,
    runs: u32,
    /// Building the input (not timed in `elapsed_ms`).
    build_ms: f64,
    peak_rss_bytes: Option<u64>,
    /// Most minus fewest partitions per member (after the second round when one is needed).
    spread: usize,
    moved: usize,
    /// Partitions withheld this round for revocation (cooperative-sticky).
    withheld: usize,
    /// Rounds the protocol needs to reach the full assignment (1, or 2 when cooperative
    /// revocations are pending).
    rounds: u32,
    valid: bool,
}

/// Runs `kgroup assign`.
pub(crate) fn run(args: &AssignArgs) -> Result<(), CliError> {
    if args.members == 0 {
        return Err(CliError::input("--members must be at least 1"));
    }
    if args.topics == 0 {
        return Err(CliError::input("--topics must be at least 1"));
    }
    if args.partitions > 50_000_000 {
        return Err(CliError::input("--partitions is capped at 50,000,000"));
    }
    if args.members > 1_000_000 || args.join.is_some_and(|k| k > 1_000_000) {
        return Err(CliError::input(
            "--members and --join are capped at 1,000,000",
        ));
    }
    if args.topics > 1_000_000 {
        return Err(CliError::input("--topics is capped at 1,000,000"));
    }
    if args.leave.is_some_and(|k| k >= args.members) {
        return Err(CliError::input("--leave must be less than --members"));
    }
    let setup = Setup::new(args);
    let assignor = make_assignor(args.assignor);
    let mut event = String::from("fresh");
    let mut previous: Option<Vec<Vec<u32>>> = None;
    let mut members = setup.members.clone();
    if args.join.is_some() || args.leave.is_some() {
        let first = setup.spec(&members, None, args.assignor);
        let plan = assignor.plan(&first);
        let lists = complete(assignor.as_ref(), &setup, &members, plan, args.assignor);
        drop(first);
        if let Some(k) = args.join {
            event = format!("join {k}");
            for i in 0..k {
                members.push(setup.member(args.members + i));
            }
        } else if let Some(k) = args.leave {
            event = format!("leave {k}");
            members.truncate((args.members - k) as usize);
        }
        previous = Some(lists);
    }
    let started = Instant::now();
    let spec = setup.spec(&members, previous.as_deref(), args.assignor);
    let build_ms = ms(started.elapsed());
    // One warm-up, then the timed runs.
    let mut plan = assignor.plan(&spec);
    let mut times = Vec::with_capacity(args.runs as usize);
    for _ in 0..args.runs.max(1) {
        let t = Instant::now();
        let next = assignor.plan(&spec);
        times.push(ms(t.elapsed()));
        // Freeing the previous result is the caller's business, not the call's: untimed.
        plan = next;
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let min = times[0];

    let mut valid = check_valid(&spec, &plan, false);
    let moved = previous
        .as_deref()
        .map_or(0, |prev| moved(prev, &members, &plan));
    let withheld = count_withheld(&spec, &plan);
    let mut rounds = 1;
    let final_lists = if withheld > 0 {
        rounds = 2;
        let lists: Vec<Vec<u32>> = plan.members.iter().map(|m| m.partitions.clone()).collect();
        let second_spec = setup.spec(&members, Some(&lists), args.assignor);
        let second = assignor.plan(&second_spec);
        valid &= check_valid(&second_spec, &second, true);
        second.members.into_iter().map(|m| m.partitions).collect()
    } else {
        valid &= check_valid(&spec, &plan, true);
        plan.members
            .into_iter()
            .map(|m| m.partitions)
            .collect::<Vec<_>>()
    };
    let spread = spread(&final_lists);
    let report = Report {
        assignor: assignor_name(args.assignor),
        members: members.len(),
        partitions: setup.total,
        topics: args.topics,
        subscriptions: match args.subscriptions {
            Subscriptions::Same => "same",
            Subscriptions::Overlap => "overlap",
            Subscriptions::Random => "random",
        },
        event,
        elapsed_ms: median,
        min_ms: min,
        runs: args.runs.max(1),
        build_ms,
        peak_rss_bytes: peak_rss(),
        spread,
        moved,
        withheld,
        rounds,
        valid,
    };
    print(&report, args.json)?;
    if valid {
        Ok(())
    } else {
        Err(CliError::check("the assignment is not valid"))
    }
}

/// Completes a fresh plan into a full assignment (a second cooperative round if needed).
fn complete(
    assignor: &dyn Assignor,
    setup: &Setup,
    members: &[SimMember],
    plan: GroupPlan,
    name: AssignorName,
) -> Vec<Vec<u32>> {
    let lists: Vec<Vec<u32>> = plan.members.into_iter().map(|m| m.partitions).collect();
    if count_withheld(&setup.spec(members, None, name), &to_plan(&lists)) == 0 {
        return lists;
    }
    let spec = setup.spec(members, Some(&lists), name);
    assignor
        .plan(&spec)
        .members
        .into_iter()
        .map(|m| m.partitions)
        .collect()
}

fn to_plan(lists: &[Vec<u32>]) -> GroupPlan {
    GroupPlan::from_lists(lists.to_vec())
}

fn make_assignor(name: AssignorName) -> Box<dyn Assignor> {
    match name {
        AssignorName::Range => Box::new(RangeAssignor),
        AssignorName::Roundrobin => Box::new(RoundRobinAssignor),
        AssignorName::Sticky => Box::new(StickyAssignor::default()),
        AssignorName::CooperativeSticky => Box::new(CooperativeStickyAssignor::default()),
    }
}

fn assignor_name(name: AssignorName) -> &'static str {
    match name {
        AssignorName::Range => RangeAssignor::NAME,
        AssignorName::Roundrobin => RoundRobinAssignor::NAME,
        AssignorName::Sticky => StickyAssignor::NAME,
        AssignorName::CooperativeSticky => CooperativeStickyAssignor::NAME,
    }
}

/// One synthetic member: its id and its index (which, with the seed, fixes its
/// subscription; the topic list itself lives only in the spec).
#[derive(Debug, Clone)]
struct SimMember {
    id: String,
    index: u32,
}

/// The synthetic cluster and the recipe for members.
struct Setup {
    topic_names: Vec<String>,
    topic_sizes: Vec<u32>,
    total: u32,
    subscriptions: Subscriptions,
    seed: u64,
    members: Vec<SimMember>,
}

impl Setup {
    fn new(args: &AssignArgs) -> Self {
        let t = args.topics;
        let topic_names: Vec<String> = (0..t).map(|i| format!("t{i:04}")).collect();
        let topic_sizes: Vec<u32> = (0..t)
            .map(|i| args.partitions / t + u32::from(i < args.partitions % t))
            .collect();
        let mut setup = Self {
            topic_names,
            topic_sizes,
            total: args.partitions,
            subscriptions: args.subscriptions,
            seed: args.seed,
            members: Vec::new(),
        };
        setup.members = (0..args.members).map(|i| setup.member(i)).collect();
        setup
    }

    /// Member `i`: a seeded random id (like the client-id-UUID ids brokers hand out) and its
    /// subscription.
    fn member(&self, i: u32) -> SimMember {
        let mut rng = SplitMix(self.seed ^ (u64::from(i) << 20) ^ 0x9e37_79b9);
        let id = format!(
            "consumer-{:08x}-{:04x}-{:012x}",
            rng.next() as u32,
            rng.next() as u16,
            rng.next() & 0xffff_ffff_ffff
        );
        SimMember { id, index: i }
    }

    /// The sorted topic indices member `i` subscribes to.
    fn topics_of(&self, i: u32) -> Vec<u32> {
        let mut rng = SplitMix(self.seed ^ (u64::from(i) << 20) ^ 0x5851_f42d);
        let t = u32::try_from(self.topic_names.len()).unwrap_or(u32::MAX);
        match self.subscriptions {
            Subscriptions::Same => (0..t).collect(),
            Subscriptions::Overlap => {
                let width = t.div_ceil(2).max(1);
                let mut v: Vec<u32> = (0..width).map(|k| (i + k) % t).collect();
                v.sort_unstable();
                v
            }
            Subscriptions::Random => {
                if t <= 3 {
                    (0..t).collect()
                } else {
                    let want = 3 + (rng.next() % 8) as u32;
                    let want = want.min(t);
                    // Partial Fisher-Yates over the topic indices.
                    let mut all: Vec<u32> = (0..t).collect();
                    for k in 0..want as usize {
                        let j = k + (rng.next() % (all.len() - k) as u64) as usize;
                        all.swap(k, j);
                    }
                    let mut v = all[..want as usize].to_vec();
                    v.sort_unstable();
                    v
                }
            }
        }
    }

    /// The spec for `members`, each owning `previous[i]` (when given) at generation 1.
    fn spec(
        &self,
        members: &[SimMember],
        previous: Option<&[Vec<u32>]>,
        name: AssignorName,
    ) -> GroupSpec {
        let mut b = GroupSpecBuilder::new();
        for (n, &size) in self.topic_names.iter().zip(&self.topic_sizes) {
            b.topic(n.clone(), size);
        }
        let mut spec = b.build();
        for (i, m) in members.iter().enumerate() {
            let owned = previous.and_then(|p| p.get(i)).cloned().unwrap_or_default();
            let generation = if previous.is_some() { 1 } else { -1 };
            let input = MemberInput {
                member_id: m.id.clone(),
                generation,
                user_data: match name {
                    AssignorName::Sticky if !owned.is_empty() => {
                        let tps: Vec<TopicPartition> = owned
                            .iter()
                            .map(|&g| {
                                let (t, p) = spec.locate(g);
                                TopicPartition::new(self.topic_names[t as usize].as_str(), p)
                            })
                            .collect();
                        Some(encode_user_data(&tps, Some(generation)))
                    }
                    AssignorName::CooperativeSticky => Some(encode_generation(generation)),
                    _ => None,
                },
                ..MemberInput::default()
            };
            let claims = if name == AssignorName::Sticky {
                Vec::new()
            } else {
                owned
            };
            spec.add_member_resolved(input, self.topics_of(m.index), claims);
        }
        spec
    }
}

/// Every partition at most once (exactly once when `complete`), only to subscribers.
fn check_valid(spec: &GroupSpec, plan: &GroupPlan, complete: bool) -> bool {
    let mut seen = vec![false; spec.total_partitions() as usize];
    for (m, p) in spec.members().iter().zip(&plan.members) {
        for &g in &p.partitions {
            let Some(slot) = seen.get_mut(g as usize) else {
                return false;
            };
            if *slot {
                return false;
            }
            *slot = true;
            let (t, _) = spec.locate(g);
            if m.topics.binary_search(&t).is_err() {
                return false;
            }
        }
    }
    if complete {
        let subscribed = subscribed_topics(spec);
        for (t, range) in spec.topic_ranges() {
            if subscribed[t as usize] && range.clone().any(|g| !seen[g as usize]) {
                return false;
            }
        }
    }
    plan.members.len() == spec.members().len()
}

/// Which topics some member subscribes to.
fn subscribed_topics(spec: &GroupSpec) -> Vec<bool> {
    let mut subscribed = vec![false; spec.topics().len()];
    for m in spec.members() {
        for &t in &m.topics {
            subscribed[t as usize] = true;
        }
    }
    subscribed
}

/// Partitions whose previous owner (member `i` of `previous`, same index in `members` for
/// the members that stayed) no longer has them.
fn moved(previous: &[Vec<u32>], members: &[SimMember], plan: &GroupPlan) -> usize {
    let mut total = 0;
    for (i, prev) in previous.iter().enumerate() {
        let Some(now) = plan.members.get(i).filter(|_| i < members.len()) else {
            // A member that left: its partitions move by definition but are not "taken".
            continue;
        };
        total += prev
            .iter()
            .filter(|g| now.partitions.binary_search(g).is_err())
            .count();
    }
    total
}

/// Subscribed partitions nobody got this round.
fn count_withheld(spec: &GroupSpec, plan: &GroupPlan) -> usize {
    let subscribed = subscribed_topics(spec);
    let want: u64 = spec
        .topics()
        .iter()
        .enumerate()
        .filter(|(t, _)| subscribed[*t])
        .map(|(_, t)| u64::from(t.partitions))
        .sum();
    let got: u64 = plan.members.iter().map(|m| m.partitions.len() as u64).sum();
    usize::try_from(want.saturating_sub(got)).unwrap_or(usize::MAX)
}

fn spread(lists: &[Vec<u32>]) -> usize {
    let max = lists.iter().map(Vec::len).max().unwrap_or(0);
    let min = lists.iter().map(Vec::len).min().unwrap_or(0);
    max - min
}

fn ms(d: core::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The process's peak resident set size (Linux `VmHWM`), if readable.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn print(r: &Report, json: bool) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    let result = if json {
        serde_json::to_writer(&mut out, r)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out))
    } else {
        let rss = r.peak_rss_bytes.map_or_else(
            || "unknown".to_owned(),
            |b| format!("{:.1} MiB", b as f64 / 1048576.0),
        );
        writeln!(
            out,
            "{} on {} members x {} partitions ({} topics, {} subscriptions), {}:\n  \
             elapsed {:.3} ms (median of {}, fastest {:.3} ms; input built in {:.1} ms)\n  \
             peak RSS {rss}\n  spread {}  moved {}  withheld {}  rounds {}  valid {}",
            r.assignor,
            r.members,
            r.partitions,
            r.topics,
            r.subscriptions,
            r.event,
            r.elapsed_ms,
            r.runs,
            r.min_ms,
            r.build_ms,
            r.spread,
            r.moved,
            r.withheld,
            r.rounds,
            r.valid
        )
    };
    result.map_err(|e| CliError::from_stdout(&e))
}

/// A tiny seeded generator (SplitMix64) so runs are reproducible without a dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
