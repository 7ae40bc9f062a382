//! `kgroup simulate`: runs group-fsm members against testkit's model coordinator in virtual
//! time, following a script of joins, leaves, crashes and restarts, and measures what the
//! group went through: rebalances, time to stable, partitions moved, partition-seconds without
//! an owner, idle members.
//!
//! Everything is deterministic (testkit's [`World`]: one model broker, a fixed 1 ms network
//! latency, members polled every second), so the same flags always print the same output.
//!
//! Metrics are exact, not sampled: the world only changes at its steps, so the recorder looks
//! at it after every step (and around every scripted event) and integrates piecewise.

mod report;
mod script;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufWriter, Write as _};

use clap::ValueEnum;
use group_fsm::assignor::{
    Assignor, CooperativeStickyAssignor, RangeAssignor, RoundRobinAssignor, StickyAssignor,
    TopicPartition,
};
use group_fsm::{Event, GroupProtocol, StateKind};
use serde_json::{Value, json};
use testkit::world::{SimMember, World};
use testkit::{BrokerConfig, ConsumerGroupState, GroupState};

use crate::error::CliError;
use script::{ScriptEvent, Verb};
use testkit::assignors::Cooperative;

/// The consumer group every simulated member joins.
const GROUP: &str = "kgroup-simulate";

/// Most members (counting each only once, however often it restarts).
const MAX_MEMBERS: usize = 1000;

/// Most partitions over all topics.
const MAX_PARTITIONS: u64 = 100_000;

/// How long the simulation goes on after the last scripted event, at least.
const SETTLE_MS: u64 = 60_000;

/// Long help of `kgroup simulate`.
pub(crate) const LONG_ABOUT: &str = "\
Simulate a consumer group: our group-fsm members against the model group coordinator of \
testkit, in virtual time (no broker, no network, no waiting).

--members N members join at 0 s (default 3; default 0 if the script itself has a join at 0s). \
Every member subscribes to all --topics T topics (topic-0, topic-1, ...) of --partitions P \
partitions each. Then the --script runs, and the simulation goes on until max(last event + \
60 s, --duration).

SCRIPT: events separated by `;`, each `<time>(s|ms) <verb> <N | #I>`, in time order. N is a count; #I names member I (members are numbered from 0 in the order they join, --members first; a restart keeps the number).
  join N              N new members join
  leave N | leave #I  the N newest running members (or member I) close cleanly:
                      revoke, commit, send LeaveGroup (static members too, like
                      KIP-1092's leave-group close option)
  crash N | crash #I  the N newest running members (or member I) stop without a
                      word; the coordinator notices after the session timeout
  restart N | restart #I
                      the N members that stopped last (or member I) start again;
                      with --static a member keeps group.instance.id member-I, so a
                      restart within the session timeout causes no rebalance
Example: \"0s join 3; 30s join 2; 60s crash 1; 90s leave 1\".
Errors in the script exit with code 2 and name the event.

--protocol eager revokes every partition before every rebalance (range, roundrobin and sticky \
as they are). --protocol cooperative (KIP-429) uses `cooperative-<assignor>`, a minimal \
cooperative wrapper built into this command: the assignor's target, minus every partition that \
another member still owns; that member revokes it and the next rebalance hands it over. \
--assignor cooperative-sticky is group-fsm's real CooperativeStickyAssignor and is always \
cooperative; it moves the fewest partitions. --protocol consumer is KIP-848 \
(ConsumerGroupHeartbeat): the model broker assigns with its server-side `range` (--assignor \
range) or `uniform` (any other --assignor), and each member revokes, then the new owner gets, \
only what moves, on their own heartbeats, with no group-wide barrier; --session-timeout-ms and \
--heartbeat-ms are then the broker's group settings, and a rebalance is a group epoch bump.

Metrics (exact, from every simulation step):
  rebalances         generations the coordinator completed (reached Stable)
  stable after       time from an event until the group is stable: the
                     coordinator is Stable with exactly the running members,
                     all Stable in its generation, none revoking, every
                     partition owned by exactly one running member
  moved              partitions whose owner (member number) differs between
                     consecutive stable assignments
  revoked, lost      partitions in Revoke and Lost events
  unowned partition-seconds
                     integral over time of the number of partitions that no
                     running member owns, start-up included
  revoking partition-seconds
                     the same for partitions whose owner is handling their
                     revocation (--revoke-ms): still owned, but not consumed
  idle members       running members without partitions at the end (and the
                     number of Idle events)

--json prints one JSON object instead: rebalances, partitions_moved, partitions_revoked, \
partitions_lost, unowned_partition_seconds, revoking_partition_seconds, idle_members, idle_events, final_assignment (member \
id -> list of [topic, partition]), timeline (list of {t_ms, event}: the script events, \
\"rebalance\" when a generation completes, with its start and reason, and \"stable\"), phases \
(per event time: stable_after_ms, rebalances, partitions_moved, unowned_partition_seconds, ...), \
members, config, stable_at_end, invariant_violations. --trace prints every member event on \
standard error (there mN is the N-th member process started, restarts included).

Exit codes: 0 success; 1 a partition was owned by two running members at once (a group-fsm \
bug; the report is printed anyway); 2 bad flags or script.";

/// Examples shown after `kgroup simulate --help`.
pub(crate) const EXAMPLES: &str = "\
Examples:
  # Three members, three more at 30 s: how long are partitions without an owner?
  kgroup simulate --members 3 --partitions 12 --script \"30s join 3\"

  # The same with the cooperative protocol (KIP-429), as JSON:
  kgroup simulate --members 3 --partitions 12 --protocol cooperative --script \"30s join 3\" --json

  # A crash costs a session timeout of unowned partitions:
  kgroup simulate --script \"30s crash 1\" --session-timeout-ms 30000

  # A static member restarting within the session timeout causes no rebalance:
  kgroup simulate --static --script \"30s crash #0; 35s restart #0\"

  # Members come and go; roundrobin over two topics; every member event on stderr:
  kgroup simulate --topics 2 --assignor roundrobin --trace \\
      --script \"0s join 3; 30s join 2; 60s crash 1; 90s leave 2; 120s restart 1\"";

/// `--protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Protocol {
    /// Revoke everything before every rebalance.
    Eager,
    /// KIP-429: revoke only what moves (uses the built-in cooperative-<assignor>).
    Cooperative,
    /// KIP-848: ConsumerGroupHeartbeat; the broker assigns (`uniform`, or `range` with
    /// --assignor range) and each member reconciles on its own heartbeats, no barrier.
    /// --session-timeout-ms and --heartbeat-ms become the broker's group settings.
    Consumer,
}

/// `--assignor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AssignorName {
    /// Java's RangeAssignor: contiguous blocks per topic.
    Range,
    /// Java's RoundRobinAssignor: partitions dealt out in turn.
    Roundrobin,
    /// Java's StickyAssignor (eager; previous assignment in the user data).
    Sticky,
    /// Java's CooperativeStickyAssignor: always cooperative, whatever --protocol says.
    CooperativeSticky,
}

/// Arguments of `kgroup simulate`.
#[derive(Debug, clap::Args)]
pub(crate) struct SimulateArgs {
    /// Members that join at 0 s [default: 3, or 0 if the script has a join at 0s].
    #[arg(long, value_name = "N")]
    members: Option<usize>,

    /// Partitions per topic.
    #[arg(long, value_name = "P", default_value_t = 12)]
    partitions: i32,

    /// Number of topics (topic-0, topic-1, ...); every member subscribes to all of them.
    #[arg(long, value_name = "T", default_value_t = 1)]
    topics: usize,

    /// Rebalance protocol.
    #[arg(long, value_enum, default_value_t = Protocol::Eager)]
    protocol: Protocol,

    /// Partition assignor (with --protocol cooperative: its cooperative-<NAME> variant).
    #[arg(long, value_name = "NAME", value_enum, default_value_t = AssignorName::Range)]
    assignor: AssignorName,

    /// Static membership (KIP-345): member I has group.instance.id member-I, across restarts.
    #[arg(long = "static")]
    static_members: bool,

    /// Timed events, e.g. "30s join 2; 60s crash 1; 90s leave 1; 120s restart 1".
    #[arg(long, value_name = "SCRIPT", default_value = "")]
    script: String,

    /// session.timeout.ms of every member (the model broker accepts 6000..=1800000).
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    session_timeout_ms: u64,

    /// heartbeat.interval.ms of every member (below the session timeout).
    #[arg(long, value_name = "MS", default_value_t = 3_000)]
    heartbeat_ms: u64,

    /// How long the application takes to handle a revocation (commit and let go).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    revoke_ms: u64,

    /// Simulate at least this long (seconds); the run lasts max(last event + 60 s, this).
    #[arg(long, value_name = "S", default_value_t = 0)]
    duration: u64,

    /// Seed of the members' backoff jitter (the only randomness).
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,

    /// Also print every member event, with its time, on standard error.
    #[arg(long)]
    trace: bool,
}

/// Validated settings.
#[derive(Debug, Clone)]
struct Settings {
    initial: usize,
    topics: Vec<(String, i32)>,
    protocol: Protocol,
    assignor: AssignorName,
    static_members: bool,
    events: Vec<ScriptEvent>,
    session_timeout_ms: u64,
    heartbeat_ms: u64,
    revoke_ms: u64,
    end_ms: u64,
    seed: u64,
    script: String,
    trace: bool,
}

impl Settings {
    fn new(args: &SimulateArgs) -> Result<Self, String> {
        let mut events = script::parse(&args.script)?;
        let initial = args.members.unwrap_or_else(|| {
            let joins_at_zero = events
                .iter()
                .any(|e| e.at_ms == 0 && matches!(e.verb, Verb::Join(_)));
            if joins_at_zero { 0 } else { 3 }
        });
        if initial > MAX_MEMBERS {
            return Err(format!("--members: at most {MAX_MEMBERS}"));
        }
        script::validate(&mut events, initial, MAX_MEMBERS)?;
        if args.partitions < 1 {
            return Err("--partitions must be at least 1".to_owned());
        }
        if args.topics < 1 {
            return Err("--topics must be at least 1".to_owned());
        }
        let total = u64::try_from(args.topics)
            .unwrap_or(u64::MAX)
            .saturating_mul(u64::try_from(args.partitions).unwrap_or(0));
        if total > MAX_PARTITIONS {
            return Err(format!(
                "--topics x --partitions is {total}; at most {MAX_PARTITIONS} partitions"
            ));
        }
        if !(6_000..=1_800_000).contains(&args.session_timeout_ms) {
            return Err(format!(
                "--session-timeout-ms {} is outside 6000..=1800000 (the model broker's \
                 group.min/max.session.timeout.ms)",
                args.session_timeout_ms
            ));
        }
        if args.heartbeat_ms == 0 || args.heartbeat_ms >= args.session_timeout_ms {
            return Err(format!(
                "--heartbeat-ms {} must be positive and below --session-timeout-ms {}",
                args.heartbeat_ms, args.session_timeout_ms
            ));
        }
        const WEEK_S: u64 = 7 * 24 * 3600;
        if args.duration > WEEK_S || args.revoke_ms > WEEK_S * 1000 {
            return Err("--duration and --revoke-ms are limited to one week".to_owned());
        }
        let last = events.last().map_or(0, |e| e.at_ms);
        Ok(Self {
            initial,
            topics: (0..args.topics)
                .map(|k| (format!("topic-{k}"), args.partitions))
                .collect(),
            // cooperative-sticky is cooperative by itself (the member picks the protocol from
            // its assignors, as Java does).
            protocol: if args.assignor == AssignorName::CooperativeSticky
                && args.protocol != Protocol::Consumer
            {
                Protocol::Cooperative
            } else {
                args.protocol
            },
            assignor: args.assignor,
            static_members: args.static_members,
            events,
            session_timeout_ms: args.session_timeout_ms,
            heartbeat_ms: args.heartbeat_ms,
            revoke_ms: args.revoke_ms,
            end_ms: (last + SETTLE_MS).max(args.duration * 1000),
            seed: args.seed,
            script: args.script.clone(),
            trace: args.trace,
        })
    }

    fn total_partitions(&self) -> usize {
        self.topics
            .iter()
            .map(|(_, n)| usize::try_from(*n).unwrap_or(0))
            .sum()
    }

    fn assignors(&self) -> Vec<Box<dyn Assignor>> {
        let inner: Box<dyn Assignor> = match self.assignor {
            AssignorName::Range => Box::new(RangeAssignor),
            AssignorName::Roundrobin => Box::new(RoundRobinAssignor),
            AssignorName::Sticky => Box::new(StickyAssignor::default()),
            AssignorName::CooperativeSticky => {
                return vec![Box::new(CooperativeStickyAssignor::default())];
            }
        };
        match self.protocol {
            Protocol::Eager => vec![inner],
            Protocol::Cooperative => vec![Box::new(Cooperative::new(inner))],
            Protocol::Consumer => Vec::new(),
        }
    }

    /// The server assignor a KIP-848 member asks for.
    fn server_assignor(&self) -> &'static str {
        if self.assignor == AssignorName::Range {
            "range"
        } else {
            "uniform"
        }
    }

    fn assignor_name(&self) -> String {
        if self.protocol == Protocol::Consumer {
            return format!("server-side {}", self.server_assignor());
        }
        self.assignors()
            .first()
            .map(|a| a.name().to_owned())
            .unwrap_or_default()
    }

    fn config_json(&self) -> Value {
        json!({
            "initial_members": self.initial,
            "topics": self.topics.len(),
            "partitions_per_topic": self.topics.first().map_or(0, |t| t.1),
            "protocol": match self.protocol {
                Protocol::Eager => "eager",
                Protocol::Cooperative => "cooperative",
                Protocol::Consumer => "consumer",
            },
            "assignor": self.assignor_name(),
            "static": self.static_members,
            "session_timeout_ms": self.session_timeout_ms,
            "heartbeat_ms": self.heartbeat_ms,
            "revoke_ms": self.revoke_ms,
            "seed": self.seed,
            "script": self.script,
            "end_ms": self.end_ms,
        })
    }
}

/// Runs `kgroup simulate`.
///
/// # Errors
/// [`CliError::Input`] for bad flags or script, [`CliError::Check`] when a partition was owned
/// twice (after printing the report), [`CliError::BrokenPipe`] when standard output closes.
pub(crate) fn run(args: &SimulateArgs) -> Result<(), CliError> {
    let settings = Settings::new(args).map_err(CliError::input)?;
    let outcome = simulate(&settings);
    if !outcome.log.is_empty() {
        let mut err = io::stderr().lock();
        for line in &outcome.log {
            // Nothing sensible is left to do if standard error itself is gone.
            let _ = writeln!(err, "{line}");
        }
    }
    let mut out = BufWriter::new(io::stdout().lock());
    let written = if args.json {
        serde_json::to_writer(&mut out, &report::json(&settings, &outcome))
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        out.write_all(report::text(&settings, &outcome).as_bytes())
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| CliError::from_stdout(&e))?;
    if let Some(first) = outcome.violations.first() {
        return Err(CliError::check(format!(
            "{} ownership violation(s), first: {first}",
            outcome.violations.len()
        )));
    }
    Ok(())
}

/// One stretch of the run: from a scripted time to the next.
#[derive(Debug, Clone)]
struct Phase {
    t_ms: u64,
    /// The events at that time (empty for a start without members).
    events: Vec<String>,
    stable_at: Option<u64>,
    rebalances: usize,
    moved: u64,
    revoked: u64,
    lost: u64,
    unowned_ms: u64,
    revoking_ms: u64,
}

/// One member incarnation (a restart makes a new one).
#[derive(Debug, Clone)]
struct MemberReport {
    index: usize,
    member_id: String,
    instance_id: Option<String>,
    state: StateKind,
    running: bool,
    partitions: Vec<TopicPartition>,
}

/// What the simulation measured.
#[derive(Debug, Clone)]
struct Outcome {
    end_ms: u64,
    rebalances: usize,
    moved: u64,
    revoked: u64,
    lost: u64,
    unowned_ms: u64,
    revoking_ms: u64,
    double_owned_ms: u64,
    violations: Vec<String>,
    idle_events: usize,
    generation: i32,
    stable_at_end: bool,
    members: Vec<MemberReport>,
    phases: Vec<Phase>,
    timeline: Vec<Value>,
    /// Every member event (`--trace`).
    log: Vec<String>,
}

impl Outcome {
    /// Running members at the end, by member id.
    fn final_assignment(&self) -> BTreeMap<&str, &[TopicPartition]> {
        self.members
            .iter()
            .filter(|m| m.running)
            .map(|m| (m.member_id.as_str(), m.partitions.as_slice()))
            .collect()
    }

    fn idle_members(&self) -> Vec<&MemberReport> {
        self.members
            .iter()
            .filter(|m| m.running && m.partitions.is_empty())
            .collect()
    }
}

/// The classic generation, or the KIP-848 group epoch (-1 without a group).
fn group_generation(w: &World) -> i32 {
    w.broker
        .group(GROUP)
        .map(|g| g.generation)
        .or_else(|| w.broker.consumer_group(GROUP).map(|g| g.group_epoch))
        .unwrap_or(-1)
}

/// Whether a member takes part: not crashed, closed or failed.
fn running(m: &SimMember) -> bool {
    m.alive && !matches!(m.member.state(), StateKind::Closed | StateKind::Failed)
}

/// Watches the world after every step and integrates the metrics.
struct Recorder {
    total_partitions: usize,
    /// A KIP-848 group: rebalances and stability come from the consumer group view.
    consumer: bool,
    /// Member index (the script's) of each world member.
    index_of: Vec<usize>,
    last_t: u64,
    last_unowned: u64,
    last_revoking: u64,
    last_double: u64,
    unowned_ms: u64,
    revoking_ms: u64,
    double_owned_ms: u64,
    violations: Vec<String>,
    stable: bool,
    last_stable: Option<BTreeMap<TopicPartition, usize>>,
    seen_transitions: usize,
    /// Member events already looked at, per world member.
    seen_events: Vec<usize>,
    /// Last member id seen per world member (a member that left forgets its id).
    member_ids: Vec<String>,
    /// Partitions each world member is revoking (Revoke seen, application not done yet).
    revoking: Vec<BTreeSet<TopicPartition>>,
    /// Start of the rebalance in progress: (time, reason).
    rebalance_start: Option<(u64, String)>,
    generations: BTreeSet<i32>,
    phases: Vec<Phase>,
    timeline: Vec<Value>,
}

impl Recorder {
    fn new(total_partitions: usize, consumer: bool) -> Self {
        Self {
            total_partitions,
            consumer,
            index_of: Vec::new(),
            last_t: 0,
            last_unowned: total_partitions as u64,
            last_revoking: 0,
            last_double: 0,
            unowned_ms: 0,
            revoking_ms: 0,
            double_owned_ms: 0,
            violations: Vec::new(),
            stable: false,
            last_stable: None,
            seen_transitions: 0,
            seen_events: Vec::new(),
            member_ids: Vec::new(),
            revoking: Vec::new(),
            rebalance_start: None,
            generations: BTreeSet::new(),
            phases: Vec::new(),
            timeline: Vec::new(),
        }
    }

    fn start_phase(&mut self, t_ms: u64, events: Vec<String>) {
        self.phases.push(Phase {
            t_ms,
            events,
            stable_at: None,
            rebalances: 0,
            moved: 0,
            revoked: 0,
            lost: 0,
            unowned_ms: 0,
            revoking_ms: 0,
        });
    }

    /// Looks at the world now: integrates since the last look, then records what changed.
    fn observe(&mut self, w: &World) {
        let t = w.now;
        let dt = t.saturating_sub(self.last_t);
        self.unowned_ms += self.last_unowned * dt;
        self.revoking_ms += self.last_revoking * dt;
        self.double_owned_ms += self.last_double * dt;
        if let Some(p) = self.phases.last_mut() {
            p.unowned_ms += self.last_unowned * dt;
            p.revoking_ms += self.last_revoking * dt;
        }
        self.last_t = t;

        self.new_transitions(w);
        self.new_member_events(w);

        let mut owners: BTreeMap<&TopicPartition, Vec<usize>> = BTreeMap::new();
        for (i, m) in w.members.iter().enumerate().filter(|(_, m)| running(m)) {
            for tp in m.member.assignment() {
                owners.entry(tp).or_default().push(i);
            }
        }
        let double = owners.values().filter(|o| o.len() > 1).count() as u64;
        if double > 0 && self.last_double == 0 && self.violations.len() < 20 {
            let (tp, who) = owners
                .iter()
                .find(|(_, o)| o.len() > 1)
                .expect("a doubly owned partition");
            let who: Vec<String> = who
                .iter()
                .map(|&i| {
                    format!(
                        "member {} ({})",
                        self.index_of[i],
                        w.members[i].member.member_id()
                    )
                })
                .collect();
            self.violations.push(format!(
                "at {t} ms {}/{} owned by {}",
                tp.topic,
                tp.partition,
                who.join(" and ")
            ));
        }
        self.last_double = double;
        self.last_unowned = self.total_partitions.saturating_sub(owners.len()) as u64;
        self.last_revoking = self.revoking.iter().map(|r| r.len() as u64).sum();

        let stable = self.is_stable(w, &owners);
        if stable {
            let snapshot: BTreeMap<TopicPartition, usize> = owners
                .iter()
                .map(|(tp, o)| ((*tp).clone(), self.index_of[o[0]]))
                .collect();
            let moved = self.last_stable.as_ref().map_or(0, |prev| {
                snapshot
                    .iter()
                    .filter(|(tp, owner)| prev.get(*tp).is_some_and(|p| p != *owner))
                    .count() as u64
            });
            if let Some(p) = self.phases.last_mut() {
                p.moved += moved;
                p.stable_at = p.stable_at.or(Some(t));
            }
            if !self.stable {
                let g = group_generation(w);
                self.timeline.push(json!({
                    "t_ms": t,
                    "event": "stable",
                    "generation": g,
                    "members": w.members.iter().filter(|m| running(m)).count(),
                    "partitions_moved": moved,
                }));
            }
            self.last_stable = Some(snapshot);
        }
        self.stable = stable;
    }

    /// Coordinator transitions since the last look: rebalance starts and completed generations.
    /// For a KIP-848 group, every group epoch bump is a rebalance (a new target assignment).
    fn new_transitions(&mut self, w: &World) {
        if self.consumer {
            let epochs = w.broker.consumer_group_epochs(GROUP);
            for (at, epoch, reason) in epochs.iter().skip(self.seen_transitions) {
                if self.generations.insert(*epoch) {
                    if let Some(p) = self.phases.last_mut() {
                        p.rebalances += 1;
                    }
                    self.timeline.push(json!({
                        "t_ms": at,
                        "event": "rebalance",
                        "generation": epoch,
                        "started_ms": at,
                        "reason": reason,
                    }));
                }
            }
            self.seen_transitions = epochs.len();
            return;
        }
        let transitions = w.broker.transitions(GROUP);
        for tr in transitions.iter().skip(self.seen_transitions) {
            match tr.to {
                GroupState::PreparingRebalance if self.rebalance_start.is_none() => {
                    self.rebalance_start = Some((tr.at_ms, tr.reason.clone()));
                }
                GroupState::Stable if self.generations.insert(tr.generation) => {
                    let (started, reason) = self
                        .rebalance_start
                        .take()
                        .unwrap_or((tr.at_ms, String::new()));
                    if let Some(p) = self.phases.last_mut() {
                        p.rebalances += 1;
                    }
                    self.timeline.push(json!({
                        "t_ms": tr.at_ms,
                        "event": "rebalance",
                        "generation": tr.generation,
                        "started_ms": started,
                        "reason": reason,
                    }));
                }
                GroupState::Empty => self.rebalance_start = None,
                _ => {}
            }
        }
        self.seen_transitions = transitions.len();
    }

    /// Member events since the last look: revoked and lost partitions, and what each member
    /// is revoking now.
    fn new_member_events(&mut self, w: &World) {
        let n = w.members.len();
        self.seen_events.resize(n, 0);
        self.member_ids.resize(n, String::new());
        self.revoking.resize(n, BTreeSet::new());
        let mut phase = self.phases.last_mut();
        for (i, m) in w.members.iter().enumerate() {
            if !m.member.member_id().is_empty() && m.member.member_id() != self.member_ids[i] {
                m.member.member_id().clone_into(&mut self.member_ids[i]);
            }
            let revoking = &mut self.revoking[i];
            for (_, e) in m.events.iter().skip(self.seen_events[i]) {
                match e {
                    Event::Revoke { partitions, .. } => {
                        if let Some(p) = phase.as_deref_mut() {
                            p.revoked += partitions.len() as u64;
                        }
                        revoking.extend(partitions.iter().cloned());
                    }
                    Event::Lost { partitions } => {
                        if let Some(p) = phase.as_deref_mut() {
                            p.lost += partitions.len() as u64;
                        }
                        revoking.retain(|tp| !partitions.contains(tp));
                    }
                    Event::Assigned { partitions, .. } => {
                        revoking.retain(|tp| !partitions.contains(tp));
                    }
                    _ => {}
                }
            }
            self.seen_events[i] = m.events.len();
            // Done once the member no longer owns them (RevocationDone); nothing for the dead.
            if running(m) {
                revoking.retain(|tp| m.member.assignment().contains(tp));
            } else {
                revoking.clear();
            }
        }
    }

    /// The group is settled: the coordinator is Stable with exactly the running members, each
    /// of them Stable in the coordinator's generation, and every partition has one owner.
    fn is_stable(&self, w: &World, owners: &BTreeMap<&TopicPartition, Vec<usize>>) -> bool {
        if owners.len() != self.total_partitions || owners.values().any(|o| o.len() != 1) {
            return false;
        }
        if self.consumer {
            // KIP-848: the group is Stable (every member at the target epoch with its whole
            // target), and each running member agrees: Stable at the epoch the broker holds.
            let Some(g) = w.broker.consumer_group(GROUP) else {
                return false;
            };
            if g.state != ConsumerGroupState::Stable || self.revoking.iter().any(|r| !r.is_empty())
            {
                return false;
            }
            let live: Vec<&SimMember> = w.members.iter().filter(|m| running(m)).collect();
            let epochs: BTreeMap<&str, i32> = g
                .members
                .iter()
                .map(|m| (m.member_id.as_str(), m.member_epoch))
                .collect();
            return live.len() == epochs.len()
                && live.iter().all(|m| {
                    m.member.state() == StateKind::Stable
                        && epochs.get(m.member.member_id()) == Some(&m.member.generation())
                });
        }
        let Some(g) = w.broker.group(GROUP) else {
            return false;
        };
        if g.state != GroupState::Stable || self.revoking.iter().any(|r| !r.is_empty()) {
            return false;
        }
        let live: Vec<&SimMember> = w.members.iter().filter(|m| running(m)).collect();
        if live
            .iter()
            .any(|m| m.member.state() != StateKind::Stable || m.member.generation() != g.generation)
        {
            return false;
        }
        let live_ids: BTreeSet<&str> = live.iter().map(|m| m.member.member_id()).collect();
        let group_ids: BTreeSet<&str> = g.members.iter().map(|m| m.member_id.as_str()).collect();
        live_ids == group_ids
    }
}

/// The world, the script's member numbering and the recorder.
struct Sim<'a> {
    settings: &'a Settings,
    world: World,
    /// World index of each script member's current incarnation.
    current: Vec<usize>,
    /// Incarnations started so far per script member (seeds differ per incarnation).
    incarnations: Vec<u64>,
    rec: Recorder,
}

impl Sim<'_> {
    /// Starts a new incarnation of script member `index`.
    fn start_member(&mut self, index: usize) {
        let s = self.settings;
        let mut c = World::config(GROUP, index);
        c.session_timeout = core::time::Duration::from_millis(s.session_timeout_ms);
        c.heartbeat_interval = core::time::Duration::from_millis(s.heartbeat_ms);
        if index == self.incarnations.len() {
            self.incarnations.push(0);
        }
        let incarnation = self.incarnations[index];
        self.incarnations[index] += 1;
        c.rng_seed = s
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add((index as u64) << 16 | incarnation);
        if s.static_members {
            c.group_instance_id = Some(format!("member-{index}"));
        }
        // `leave` means LeaveGroup, static members included.
        c.leave_on_close = Some(true);
        if s.protocol == Protocol::Consumer {
            c.group_protocol = GroupProtocol::Consumer;
            c.server_assignor = Some(s.server_assignor().to_owned());
        }
        let topics: Vec<&str> = s.topics.iter().map(|(t, _)| t.as_str()).collect();
        let w = self.world.add_member_with(c, s.assignors(), &topics);
        self.world.members[w].revoke_delay = s.revoke_ms;
        self.rec.index_of.push(index);
        if index == self.current.len() {
            self.current.push(w);
        } else {
            self.current[index] = w;
        }
    }

    fn apply(&mut self, verb: Verb) {
        match verb {
            Verb::Join(n) => {
                for _ in 0..n {
                    self.start_member(self.current.len());
                }
            }
            Verb::Leave(i) => self.world.close(self.current[i]),
            Verb::Crash(i) => self.world.crash(self.current[i]),
            Verb::LeaveCount(_) | Verb::CrashCount(_) | Verb::RestartCount(_) => {
                unreachable!("counts are resolved into member indices when the script is validated")
            }
            Verb::Restart(i) => {
                // The old incarnation is gone for good (a leave still revoking is cut short, as
                // when a process is killed during shutdown).
                self.world.members[self.current[i]].alive = false;
                self.start_member(i);
            }
        }
    }

    /// Runs the world to `until`, observing after every step.
    fn advance(&mut self, until: u64) {
        // testkit's World guards each run against livelock by counting steps: go in slices.
        const SLICE_MS: u64 = 60_000;
        while self.world.now < until {
            let to = until.min(self.world.now + SLICE_MS);
            let rec = &mut self.rec;
            self.world.run_until(to, |w| rec.observe(w));
            if self.world.now < to {
                break; // nothing scheduled any more (cannot happen: members poll)
            }
        }
        self.rec.observe(&self.world);
    }
}

/// Runs the whole simulation.
fn simulate(settings: &Settings) -> Outcome {
    let topics: Vec<(&str, i32)> = settings
        .topics
        .iter()
        .map(|(t, n)| (t.as_str(), *n))
        .collect();
    let mut sim = Sim {
        settings,
        world: World::with_broker(
            BrokerConfig {
                // Under KIP-848 the session and heartbeat interval are the broker's.
                consumer_session_timeout_ms: settings.session_timeout_ms,
                consumer_heartbeat_interval_ms: settings.heartbeat_ms,
                ..BrokerConfig::default()
            },
            &topics,
        ),
        current: Vec::new(),
        incarnations: Vec::new(),
        rec: Recorder::new(
            settings.total_partitions(),
            settings.protocol == Protocol::Consumer,
        ),
    };
    // Events grouped by time; the --members join is the first event at 0 s.
    let mut groups: Vec<(u64, Vec<(Verb, String)>)> = Vec::new();
    if settings.initial > 0 {
        let verb = Verb::Join(settings.initial);
        groups.push((0, vec![(verb, format!("{verb} (--members)"))]));
    }
    for e in &settings.events {
        match groups.last_mut() {
            Some((t, list)) if *t == e.at_ms => list.push((e.verb, e.verb.to_string())),
            _ => groups.push((e.at_ms, vec![(e.verb, e.verb.to_string())])),
        }
    }
    if groups.first().is_none_or(|(t, _)| *t > 0) {
        sim.rec.start_phase(0, Vec::new());
    }
    for (t, events) in groups {
        sim.advance(t);
        sim.rec
            .start_phase(t, events.iter().map(|(_, text)| text.clone()).collect());
        for (verb, text) in events {
            sim.rec.timeline.push(json!({ "t_ms": t, "event": text }));
            sim.apply(verb);
        }
        sim.rec.observe(&sim.world);
    }
    sim.advance(settings.end_ms);
    finish(sim)
}

fn finish(sim: Sim<'_>) -> Outcome {
    let Sim {
        settings,
        world,
        rec,
        ..
    } = sim;
    let members = world
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| MemberReport {
            index: rec.index_of[i],
            member_id: rec.member_ids.get(i).cloned().unwrap_or_default(),
            instance_id: settings
                .static_members
                .then(|| format!("member-{}", rec.index_of[i])),
            state: m.member.state(),
            running: running(m),
            partitions: m.member.assignment().to_vec(),
        })
        .collect();
    let idle_events = world
        .members
        .iter()
        .flat_map(|m| &m.events)
        .filter(|(_, e)| matches!(e, Event::Idle { .. }))
        .count();
    Outcome {
        end_ms: world.now,
        rebalances: rec.generations.len(),
        moved: rec.phases.iter().map(|p| p.moved).sum(),
        revoked: rec.phases.iter().map(|p| p.revoked).sum(),
        lost: rec.phases.iter().map(|p| p.lost).sum(),
        unowned_ms: rec.unowned_ms,
        revoking_ms: rec.revoking_ms,
        double_owned_ms: rec.double_owned_ms,
        violations: rec.violations,
        idle_events,
        generation: group_generation(&world),
        stable_at_end: rec.stable,
        members,
        phases: rec.phases,
        timeline: rec.timeline,
        log: if settings.trace {
            world.log
        } else {
            Vec::new()
        },
    }
}
