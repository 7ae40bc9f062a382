//! `kgroup consume`: a real consumer-group member on a real cluster, built on `kafka-client`
//! and driven by the `kafka-std` (blocking) or `kafka-tokio` (async) adapter.
//!
//! It joins `--group`, prints what happens (assignments, revocations, messages, commits) as
//! text or, with `--json`, as one JSON object per line with an `event` field, and leaves the
//! group cleanly on Ctrl-C, after `--timeout` seconds or after `--max-messages` messages.

use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, ValueEnum};
use group_fsm::GroupProtocol;
use group_fsm::assignor::{
    Assignor, CooperativeStickyAssignor, RangeAssignor, RoundRobinAssignor, StickyAssignor,
    TopicPartition,
};
use kafka_client::fetch::{FetchConfig, ResetPolicy};
use kafka_client::net::{NetConfig, parse_version_caps};
use kafka_client::{
    Consumer, ConsumerConfig, ConsumerEvent, Core, GroupHandle, GroupSet, GroupSetConfig,
    GroupSpec, LanePolicy,
};
use serde_json::{Value, json};

use crate::assign::AssignorName;
use crate::error::CliError;

/// Long help for `kgroup consume`.
pub(crate) const LONG_ABOUT: &str = "\
Join a consumer group on a real cluster and print what happens: partitions assigned, revoked
and lost, every message, every commit. Ctrl-C, --timeout or --max-messages leaves the group
cleanly (the last positions are committed, then LeaveGroup for dynamic members).

Several --group ids (g1,g2,…) consume in one client over shared connections (a GroupSet:
JoinGroup/SyncGroup on held lanes, so no group's heartbeat waits behind another's rebalance);
each JSON event then carries a \"group\" field.

With --json every line is one JSON object with an \"event\" field: assigned, revoked, lost
(\"partitions\" as [topic, partition] pairs, \"generation\"), message (topic, partition,
offset, key, value), joined (generation, member_id, leader), committed, idle, error, closed.

Exit code 0 on a clean stop, 1 on a fatal error (with a message on stderr), 2 on bad usage.";

/// Examples for `kgroup consume --help`.
pub(crate) const EXAMPLES: &str = "\
Examples:
  kgroup consume --bootstrap 127.0.0.1:9092 --group g --topic orders --from earliest --json
  kgroup consume --bootstrap 127.0.0.1:9092 --group g --topic a,b --assignor range \\
      --instance-id pod-1 --commit manual --max-messages 1000 --timeout 60 --runtime tokio
  kgroup consume --bootstrap 127.0.0.1:9092 --group g1,g2,g3 --topic orders --json";

/// Where to start when the group has no committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum From {
    /// The oldest retained message.
    Earliest,
    /// Only messages produced from now on.
    Latest,
    /// Fail for partitions without a committed offset.
    None,
}

/// How positions are committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CommitMode {
    /// Every 5 s, on revocation and on close (the Java defaults).
    Auto,
    /// After each batch of printed messages, on revocation and on close.
    Manual,
}

/// `group.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProtocolName {
    /// JoinGroup / SyncGroup with the client-side `--assignor`.
    Classic,
    /// KIP-848 ConsumerGroupHeartbeat: the broker assigns (`--server-assignor`).
    Consumer,
}

/// How several groups share a broker's connections (`--group` with several ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LanesName {
    /// Held requests (JoinGroup, SyncGroup) on held lanes, fetches on a fetch lane, the rest
    /// on the ordinary connection: no heartbeat waits behind a parked request.
    Separate,
    /// Everything on one connection per broker: the naive way, for showing what it breaks.
    Single,
}

/// Which adapter drives the consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Runtime {
    /// `kafka-std`: blocking sockets and reader threads.
    Std,
    /// `kafka-tokio`: a current-thread tokio runtime.
    Tokio,
}

/// Arguments of `kgroup consume`.
#[derive(Debug, Args)]
pub(crate) struct ConsumeArgs {
    /// Bootstrap brokers, HOST:PORT[,HOST:PORT…].
    #[arg(long, value_delimiter = ',', required = true)]
    bootstrap: Vec<String>,
    /// The consumer group id; several (G[,G…] or repeated) consume in one client over shared
    /// connections (a `GroupSet`), and every JSON event then carries a `group` field.
    #[arg(long, value_delimiter = ',', required = true)]
    group: Vec<String>,
    /// Topics to subscribe to, T[,T…].
    #[arg(long, value_delimiter = ',', required = true)]
    topic: Vec<String>,
    /// Partition assignor offered in JoinGroup.
    #[arg(long, value_enum, default_value = "cooperative-sticky")]
    assignor: AssignorName,
    /// `group.protocol`: classic (JoinGroup/SyncGroup) or consumer (KIP-848).
    #[arg(long, value_enum, default_value = "classic")]
    protocol: ProtocolName,
    /// `group.remote.assignor` for `--protocol consumer` (e.g. uniform, range); default: the
    /// broker's choice.
    #[arg(long)]
    server_assignor: Option<String>,
    /// `group.instance.id`: a static member (KIP-345).
    #[arg(long)]
    instance_id: Option<String>,
    /// Where to start without a committed offset.
    #[arg(long, value_enum, default_value = "earliest")]
    from: From,
    /// Commit mode.
    #[arg(long, value_enum, default_value = "auto")]
    commit: CommitMode,
    /// `session.timeout.ms`.
    #[arg(long, default_value_t = 45_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    session_timeout_ms: u64,
    /// `heartbeat.interval.ms` (default: a third of the session timeout, at most 3000).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    heartbeat_interval_ms: Option<u64>,
    /// Classic leader: the least time from its JoinGroup answer to its SyncGroup, so that the
    /// followers' SyncGroups reach the coordinator first (librdkafka's mock rejects a
    /// follower's SyncGroup that comes after the leader's). Default: 50 with
    /// `--max-versions librdkafka-mock`, else 0.
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    leader_sync_delay_ms: Option<u64>,
    /// Classic follower: the least time from its JoinGroup answer to its SyncGroup, so that
    /// the leader's SyncGroup reaches the coordinator first (Tansu answers followers that come
    /// first about a second late; on Apache Kafka it costs at most this much per rebalance).
    /// Default: 0 with `--max-versions librdkafka-mock` (that mock needs the opposite order)
    /// or a nonzero `--leader-sync-delay-ms`, else 50.
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    follower_sync_delay_ms: Option<u64>,
    /// Stop after this many messages.
    #[arg(long)]
    max_messages: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    timeout: Option<f64>,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// The adapter.
    #[arg(long, value_enum, default_value = "std")]
    runtime: Runtime,
    /// `client.id`.
    #[arg(long, default_value = "kgroup")]
    client_id: String,
    /// Version caps `Api=V,…` or `librdkafka-mock`, for brokers that advertise versions they
    /// do not parse (`librdkafka-mock` also sets the default `--leader-sync-delay-ms`).
    #[arg(long)]
    max_versions: Option<String>,
    /// With several groups: how they share connections.
    #[arg(long, value_enum, default_value = "separate")]
    lanes: LanesName,
    /// With several groups: held lanes per broker at most (default: one per JoinGroup or
    /// SyncGroup in flight; below that, held requests queue locally).
    #[arg(long, default_value_t = u16::MAX, value_parser = clap::value_parser!(u16).range(1..))]
    max_held_lanes: u16,
    /// With several groups: merge their Fetch requests to the same broker.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    share_fetches: bool,
}

/// What `kgroup consume` needs of a [`Consumer`] (one group) or a [`GroupSet`] (several).
trait Drivable: Core + Send + 'static {
    /// The event's group (none for a single consumer) and the event.
    fn split(event: Self::Event) -> (Option<GroupHandle>, ConsumerEvent);
    /// The current generation of `group`'s member.
    fn generation(&self, group: Option<GroupHandle>) -> i32;
    /// Commits every group's positions.
    fn commit_all(&mut self, now: group_fsm::Instant);
}

impl Drivable for Consumer {
    fn split(event: ConsumerEvent) -> (Option<GroupHandle>, ConsumerEvent) {
        (None, event)
    }
    fn generation(&self, _: Option<GroupHandle>) -> i32 {
        self.member().generation()
    }
    fn commit_all(&mut self, now: group_fsm::Instant) {
        self.commit_positions(now);
    }
}

impl Drivable for GroupSet {
    fn split(event: (GroupHandle, ConsumerEvent)) -> (Option<GroupHandle>, ConsumerEvent) {
        (Some(event.0), event.1)
    }
    fn generation(&self, group: Option<GroupHandle>) -> i32 {
        group
            .and_then(|g| self.member(g))
            .map_or(-1, group_fsm::Member::generation)
    }
    fn commit_all(&mut self, now: group_fsm::Instant) {
        let groups: Vec<GroupHandle> = self.groups().collect();
        for g in groups {
            self.commit_positions(now, g);
        }
    }
}

/// Either adapter behind one interface.
enum Runner<C: Drivable> {
    Std(kafka_std::Driver<C>),
    Tokio(tokio::runtime::Runtime, kafka_tokio::Driver<C>),
}

impl<C: Drivable> Runner<C> {
    fn new(runtime: Runtime, make: impl FnOnce(group_fsm::Instant) -> C) -> Result<Self, CliError> {
        Ok(match runtime {
            Runtime::Std => Self::Std(kafka_std::Driver::new(make)),
            Runtime::Tokio => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| CliError::input(format!("tokio runtime: {e}")))?;
                let driver = {
                    let _guard = rt.enter();
                    kafka_tokio::Driver::new(make)
                };
                Self::Tokio(rt, driver)
            }
        })
    }

    fn next_event(&mut self, deadline: Instant) -> Option<C::Event> {
        match self {
            Self::Std(d) => d.next_event(Some(deadline)),
            Self::Tokio(rt, d) => {
                rt.block_on(d.next_event(Some(tokio::time::Instant::from_std(deadline))))
            }
        }
    }

    fn core(&self) -> &C {
        match self {
            Self::Std(d) => d.consumer(),
            Self::Tokio(_, d) => d.consumer(),
        }
    }

    fn commit_positions(&mut self) {
        match self {
            Self::Std(d) => d.with_consumer(|c, now| c.commit_all(now)),
            Self::Tokio(rt, d) => rt.block_on(d.with_consumer(|c, now| c.commit_all(now))),
        }
    }

    /// Leaves the group(s), handing every event on the way (revocations, the final commit,
    /// `Closed`) to `sink`.
    fn close(&mut self, grace: Duration, sink: impl FnMut(C::Event)) -> bool {
        match self {
            Self::Std(d) => d.close_with(grace, sink),
            Self::Tokio(rt, d) => rt.block_on(d.close_with(grace, sink)),
        }
    }
}

fn parse_host_port(s: &str) -> Result<(String, u16), CliError> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| CliError::input(format!("--bootstrap {s:?}: want HOST:PORT")))?;
    let port = port
        .parse()
        .map_err(|_| CliError::input(format!("--bootstrap {s:?}: bad port")))?;
    Ok((host.trim_matches(['[', ']']).to_owned(), port))
}

fn assignor(name: AssignorName) -> Box<dyn Assignor> {
    match name {
        AssignorName::Range => Box::new(RangeAssignor),
        AssignorName::Roundrobin => Box::new(RoundRobinAssignor),
        AssignorName::Sticky => Box::new(StickyAssignor::default()),
        AssignorName::CooperativeSticky => Box::new(CooperativeStickyAssignor::default()),
    }
}

/// The configuration of the consumer of group `group_id`.
fn config(args: &ConsumeArgs, group_id: &str) -> Result<ConsumerConfig, CliError> {
    let bootstrap = args
        .bootstrap
        .iter()
        .map(|b| parse_host_port(b))
        .collect::<Result<Vec<_>, _>>()?;
    let mut net = NetConfig::new(bootstrap);
    net.client_id.clone_from(&args.client_id);
    if let Some(caps) = &args.max_versions {
        net.version_caps = parse_version_caps(caps).map_err(CliError::input)?;
    }
    let mut group = group_fsm::Config::new(group_id);
    group.client_id.clone_from(&args.client_id);
    group.group_instance_id.clone_from(&args.instance_id);
    group.session_timeout = Duration::from_millis(args.session_timeout_ms);
    group.heartbeat_interval = Duration::from_millis(
        args.heartbeat_interval_ms
            .unwrap_or_else(|| (args.session_timeout_ms / 3).clamp(1, 3000)),
    );
    // The `librdkafka-mock` preset names that broker, so it also gets its SyncGroup order; an
    // explicit leader delay asks for the same order. Otherwise plan for Tansu's (costs at most
    // 50 ms per rebalance on Apache Kafka, where the order does not matter).
    let mock = args.max_versions.as_deref() == Some("librdkafka-mock");
    group.set_sync_order(
        if mock || args.leader_sync_delay_ms.is_some_and(|ms| ms > 0) {
            group_fsm::SyncOrder::FollowersFirst
        } else {
            group_fsm::SyncOrder::LeaderFirst
        },
    );
    if let Some(ms) = args.leader_sync_delay_ms {
        group.leader_sync_delay = Duration::from_millis(ms);
    }
    if let Some(ms) = args.follower_sync_delay_ms {
        group.follower_sync_delay = Duration::from_millis(ms);
    }
    group.auto_commit = args.commit == CommitMode::Auto;
    group.group_protocol = match args.protocol {
        ProtocolName::Classic => GroupProtocol::Classic,
        ProtocolName::Consumer => GroupProtocol::Consumer,
    };
    group.server_assignor.clone_from(&args.server_assignor);
    // Backoff jitter and the KIP-848 member id (KIP-1082) come from this seed: every process
    // needs its own. `RandomState` is keyed from the OS's randomness.
    group.rng_seed = core::hash::BuildHasher::hash_one(
        &std::collections::hash_map::RandomState::new(),
        (std::process::id(), std::time::SystemTime::now(), group_id),
    );
    group
        .validate()
        .map_err(|e| CliError::input(format!("invalid group settings: {e}")))?;
    let fetch = FetchConfig {
        reset: match args.from {
            From::Earliest => ResetPolicy::Earliest,
            From::Latest => ResetPolicy::Latest,
            From::None => ResetPolicy::None,
        },
        ..FetchConfig::default()
    };
    Ok(ConsumerConfig {
        net,
        group,
        topics: args.topic.clone(),
        fetch,
    })
}

fn pairs(partitions: &[TopicPartition]) -> Value {
    Value::Array(
        partitions
            .iter()
            .map(|p| json!([p.topic, p.partition]))
            .collect(),
    )
}

fn text(b: Option<&bytes::Bytes>) -> Value {
    b.map_or(Value::Null, |b| {
        Value::String(String::from_utf8_lossy(b).into_owned())
    })
}

/// One event as a JSON object.
fn event_json(event: &ConsumerEvent, generation: i32) -> Value {
    match event {
        ConsumerEvent::Joined {
            generation,
            member_id,
            leader,
        } => json!({
            "event": "joined", "generation": generation, "member_id": member_id, "leader": leader,
        }),
        ConsumerEvent::Assigned {
            partitions,
            generation,
        } => {
            json!({"event": "assigned", "partitions": pairs(partitions), "generation": generation})
        }
        ConsumerEvent::Revoked {
            partitions,
            generation,
        } => json!({"event": "revoked", "partitions": pairs(partitions), "generation": generation}),
        ConsumerEvent::Lost { partitions } => {
            json!({"event": "lost", "partitions": pairs(partitions), "generation": generation})
        }
        ConsumerEvent::Idle { generation } => json!({"event": "idle", "generation": generation}),
        ConsumerEvent::Message(r) => json!({
            "event": "message", "topic": r.topic, "partition": r.partition, "offset": r.offset,
            "timestamp": r.timestamp, "key": text(r.key.as_ref()), "value": text(r.value.as_ref()),
        }),
        ConsumerEvent::Committed { offsets } => json!({
            "event": "committed",
            "offsets": offsets.iter().map(|(o, code)| json!({
                "topic": o.partition.topic, "partition": o.partition.partition,
                "offset": o.offset, "error_code": code,
            })).collect::<Vec<_>>(),
        }),
        ConsumerEvent::Warning(w) => json!({"event": "error", "fatal": false, "message": w}),
        ConsumerEvent::Fatal(f) => json!({"event": "error", "fatal": true, "message": f}),
        ConsumerEvent::Closed => json!({"event": "closed"}),
    }
}

/// One event as a line of text.
fn event_text(event: &ConsumerEvent) -> String {
    let list = |ps: &[TopicPartition]| {
        ps.iter()
            .map(|p| format!("{}-{}", p.topic, p.partition))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match event {
        ConsumerEvent::Joined {
            generation,
            member_id,
            leader,
        } => format!(
            "joined generation {generation} as {} ({member_id})",
            if *leader { "leader" } else { "follower" }
        ),
        ConsumerEvent::Assigned {
            partitions,
            generation,
        } => format!("assigned (generation {generation}): {}", list(partitions)),
        ConsumerEvent::Revoked {
            partitions,
            generation,
        } => format!("revoked (generation {generation}): {}", list(partitions)),
        ConsumerEvent::Lost { partitions } => format!("lost: {}", list(partitions)),
        ConsumerEvent::Idle { generation } => {
            format!("idle in generation {generation}: no partitions for this member")
        }
        ConsumerEvent::Message(r) => format!(
            "{}-{}@{}: {}",
            r.topic,
            r.partition,
            r.offset,
            r.value.as_ref().map_or_else(
                || "(null)".into(),
                |v| String::from_utf8_lossy(v).into_owned()
            )
        ),
        ConsumerEvent::Committed { offsets } => {
            let failed = offsets.iter().filter(|(_, c)| *c != 0).count();
            format!("committed {} offsets ({failed} failed)", offsets.len())
        }
        ConsumerEvent::Warning(w) => format!("warning: {w}"),
        ConsumerEvent::Fatal(f) => format!("fatal: {f}"),
        ConsumerEvent::Closed => "closed".into(),
    }
}

/// Runs `kgroup consume`.
pub(crate) fn run(args: &ConsumeArgs) -> Result<(), CliError> {
    let mut seen = std::collections::BTreeSet::new();
    if let Some(dup) = args.group.iter().find(|g| !seen.insert(g.as_str())) {
        return Err(CliError::input(format!("--group {dup:?} given twice")));
    }
    if let [group] = args.group.as_slice() {
        let config = config(args, group)?;
        let assignors = vec![assignor(args.assignor)];
        let runner = Runner::new(args.runtime, |now| Consumer::new(config, assignors, now))?;
        return drive(args, runner, &[]);
    }
    let configs = args
        .group
        .iter()
        .map(|g| config(args, g))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(net) = configs.first().map(|c| c.net.clone()) else {
        return Err(CliError::input("--group: no group id"));
    };
    let mut names = Vec::new();
    let runner = Runner::new(args.runtime, |now| {
        let mut set_config = GroupSetConfig::new(net);
        set_config.share_fetches = args.share_fetches;
        set_config.lanes = match args.lanes {
            LanesName::Separate => LanePolicy::Separate {
                max_held_lanes: args.max_held_lanes,
                fetch_lane: true,
            },
            LanesName::Single => LanePolicy::Single,
        };
        let mut set = GroupSet::new(set_config);
        for c in configs {
            let name = c.group.group_id.clone();
            let h = set.add_group(
                now,
                GroupSpec {
                    group: c.group,
                    topics: c.topics,
                    fetch: c.fetch,
                    assignors: vec![assignor(args.assignor)],
                },
            );
            names.push((h, name));
        }
        set
    })?;
    drive(args, runner, &names)
}

/// The event loop: prints events until a stop, then leaves cleanly. `names` gives the group
/// of each handle (empty for a single consumer, whose events carry no `group` field).
fn drive<C: Drivable>(
    args: &ConsumeArgs,
    mut runner: Runner<C>,
    names: &[(GroupHandle, String)],
) -> Result<(), CliError> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        // A second Ctrl-C while leaving is ignored; the grace period bounds the exit.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed));
    }
    let started = Instant::now();
    let end = args
        .timeout
        .filter(|t| t.is_finite() && *t >= 0.0)
        .map(|t| started + Duration::from_secs_f64(t.min(1e7)));
    let name = |g: Option<GroupHandle>| {
        g.and_then(|g| names.iter().find(|(h, _)| *h == g))
            .map(|(_, n)| n.as_str())
    };
    let mut out = std::io::stdout().lock();
    let mut messages: u64 = 0;
    let mut fatal: Option<String> = None;
    let mut uncommitted = false;
    let emit = |out: &mut std::io::StdoutLock<'_>,
                group: Option<&str>,
                event: &ConsumerEvent,
                generation: i32| {
        let line = match (args.json, group) {
            (true, None) => event_json(event, generation).to_string(),
            (true, Some(g)) => {
                let mut v = event_json(event, generation);
                if let Value::Object(m) = &mut v {
                    m.insert("group".into(), Value::String(g.to_owned()));
                }
                v.to_string()
            }
            (false, None) => event_text(event),
            (false, Some(g)) => format!("[{g}] {}", event_text(event)),
        };
        writeln!(out, "{line}").map_err(|e| CliError::from_stdout(&e))
    };
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if end.is_some_and(|e| now >= e) || args.max_messages.is_some_and(|m| messages >= m) {
            break;
        }
        let tick = (now + Duration::from_millis(100)).min(end.unwrap_or(now + Duration::MAX / 4));
        let Some(event) = runner.next_event(tick) else {
            if runner.core().is_closed() {
                break;
            }
            if uncommitted {
                runner.commit_positions();
                uncommitted = false;
            }
            continue;
        };
        let (group, event) = C::split(event);
        let generation = runner.core().generation(group);
        if let ConsumerEvent::Message(_) = event {
            messages += 1;
            uncommitted = args.commit == CommitMode::Manual;
        }
        if let ConsumerEvent::Fatal(f) = &event {
            // With several groups, one group's fatal error stops the whole process too: the
            // user asked for all of them.
            fatal = Some(match name(group) {
                Some(g) => format!("group {g}: {f}"),
                None => f.clone(),
            });
        }
        emit(&mut out, name(group), &event, generation)?;
        if fatal.is_some() {
            break;
        }
    }
    if fatal.is_none() {
        if args.commit == CommitMode::Manual {
            runner.commit_positions();
        }
        // The generation the revoked partitions belonged to (the member's goes to -1 on leave).
        let generations: Vec<i32> = if names.is_empty() {
            vec![runner.core().generation(None)]
        } else {
            names
                .iter()
                .map(|(h, _)| runner.core().generation(Some(*h)))
                .collect()
        };
        let generation_of = |g: Option<GroupHandle>| {
            let i = g.and_then(|g| names.iter().position(|(h, _)| *h == g));
            generations.get(i.unwrap_or(0)).copied().unwrap_or(-1)
        };
        let mut leaving = Vec::new();
        let clean = runner.close(Duration::from_secs(10), |e| leaving.push(C::split(e)));
        let mut closed = 0;
        for (group, event) in &leaving {
            closed += usize::from(matches!(event, ConsumerEvent::Closed));
            emit(&mut out, name(*group), event, generation_of(*group))?;
        }
        if !clean {
            let warning = ConsumerEvent::Warning("did not leave the group within 10 s".into());
            emit(&mut out, None, &warning, generation_of(None))?;
        } else if closed == 0 && names.is_empty() {
            emit(&mut out, None, &ConsumerEvent::Closed, generation_of(None))?;
        }
    }
    out.flush().map_err(|e| CliError::from_stdout(&e))?;
    match fatal {
        Some(f) => Err(CliError::Fatal(f)),
        None => Ok(()),
    }
}
