//! The compact form assignors work on: topics and partitions numbered densely, claims
//! validated once.
//!
//! A [`GroupSpec`] is what the leader knows when it assigns: the topics (name and partition
//! count, sorted by name), every partition's replica racks when known, and one [`MemberSpec`]
//! per member (subscribed topics, the partitions it claims to own, its generation, rack and
//! user data). Every partition of every topic has a **global index**: the partitions of the
//! first topic come first, then those of the second, and so on, so `global = first + partition`
//! where `first` is the topic's [`TopicSpec::first`]. Assignors work on global indices in flat
//! arrays and return a [`GroupPlan`], one sorted list of global indices per member.
//!
//! Building a spec is where untrusted input is cleaned: subscriptions to topics the spec does
//! not know are dropped, and so are claims on unknown topics, negative partitions, partitions
//! past the topic's count and duplicates (each member's claims come out sorted and unique).
//! An assignor therefore never indexes out of bounds on another member's claims, whatever it
//! sent; what it still has to judge is *conflicts* between members and claims on topics the
//! claimant no longer subscribes to.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cmp::Ordering;

use bytes::Bytes;

use super::{Assignment, ClusterView, Subscription, TopicPartition};

/// One topic of a [`GroupSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Topic name.
    pub name: String,
    /// Number of partitions.
    pub partitions: u32,
    /// Global index of partition 0.
    pub first: u32,
    /// Per partition, the racks (indices into [`GroupSpec::racks`]) holding a replica, sorted;
    /// empty when replica racks are unknown.
    pub replica_racks: Vec<Box<[u32]>>,
}

/// One member of a [`GroupSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberSpec {
    /// Member id (from JoinGroup).
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub instance_id: Option<String>,
    /// The member's rack (index into [`GroupSpec::racks`]); `None` when it has none (an empty
    /// rack string counts as none, as in Java).
    pub rack: Option<u32>,
    /// Subscribed topics known to the spec, as sorted, unique topic indices.
    pub topics: Vec<u32>,
    /// Partitions the subscription claims (`OwnedPartitions`), as sorted, unique, valid global
    /// indices. Claims on topics the member does not subscribe to are kept here; assignors
    /// decide what they mean.
    pub owned: Vec<u32>,
    /// Generation of the claims (`GenerationId`, -1 when unknown).
    pub generation: i32,
    /// Assignor-specific user data.
    pub user_data: Option<Bytes>,
    /// How many claims were dropped as invalid while building (diagnostics).
    pub dropped_claims: u32,
}

/// What the leader assigns from. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupSpec {
    topics: Vec<TopicSpec>,
    members: Vec<MemberSpec>,
    racks: Vec<String>,
    total: u32,
}

/// Input for one member when building a [`GroupSpec`] with [`GroupSpecBuilder::member`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberInput {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub instance_id: Option<String>,
    /// The member's rack (`Some("")` counts as no rack).
    pub rack: Option<String>,
    /// Subscribed topic names (any order, duplicates allowed; unknown ones are dropped).
    pub topics: Vec<String>,
    /// Claimed partitions grouped by topic name, as on the wire (anything goes: invalid
    /// entries are dropped).
    pub owned: Vec<(String, Vec<i32>)>,
    /// Generation of the claims (-1 when unknown).
    pub generation: i32,
    /// Assignor-specific user data.
    pub user_data: Option<Bytes>,
}

/// Collects topics and members, then [builds](GroupSpecBuilder::build) a [`GroupSpec`].
#[derive(Debug, Clone, Default)]
pub struct GroupSpecBuilder {
    topics: Vec<(String, u32, Vec<Vec<String>>)>,
    members: Vec<MemberInput>,
}

impl GroupSpecBuilder {
    /// An empty builder.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a topic with `partitions` partitions. A name added twice keeps its first entry.
    pub fn topic(&mut self, name: impl Into<String>, partitions: u32) -> &mut Self {
        self.topics.push((name.into(), partitions, Vec::new()));
        self
    }

    /// Adds a topic with, per partition, the racks of its replicas (the partition count is
    /// the length of `replica_racks`).
    pub fn topic_with_racks(
        &mut self,
        name: impl Into<String>,
        replica_racks: Vec<Vec<String>>,
    ) -> &mut Self {
        let n = u32::try_from(replica_racks.len()).unwrap_or(u32::MAX);
        self.topics.push((name.into(), n, replica_racks));
        self
    }

    /// Adds a member.
    pub fn member(&mut self, member: MemberInput) -> &mut Self {
        self.members.push(member);
        self
    }

    /// Builds the spec: topics sorted by name, global indices laid out, then every member
    /// added with [`GroupSpec::add_member`] (subscription and claims resolved and cleaned, see
    /// the [module docs](self)).
    ///
    /// Topics are capped so that the total partition count stays below [`MAX_PARTITIONS`];
    /// partitions beyond that are left out.
    #[must_use]
    pub fn build(self) -> GroupSpec {
        let mut topics = self.topics;
        topics.sort_by(|a, b| a.0.cmp(&b.0));
        topics.dedup_by(|b, a| a.0 == b.0);
        let mut spec = GroupSpec::default();
        let mut total: u32 = 0;
        for (name, partitions, replica_racks) in topics {
            let partitions = partitions.min(MAX_PARTITIONS - total);
            let replica_racks = replica_racks
                .iter()
                .take(partitions as usize)
                .map(|rs| {
                    let mut v: Vec<u32> = rs.iter().filter_map(|r| spec.intern_rack(r)).collect();
                    v.sort_unstable();
                    v.dedup();
                    v.into_boxed_slice()
                })
                .collect();
            spec.topics.push(TopicSpec {
                name,
                partitions,
                first: total,
                replica_racks,
            });
            total += partitions;
        }
        spec.total = total;
        spec.members.reserve(self.members.len());
        for m in self.members {
            spec.add_member(m);
        }
        spec
    }
}

/// Total partitions a spec holds at most: global indices stay below the sentinels
/// (`u32::MAX - 15` and up) that assignors use in their owner arrays.
pub const MAX_PARTITIONS: u32 = u32::MAX - 16;

impl GroupSpec {
    /// Builds a spec from the string-keyed form of [`Assignor::assign`](super::Assignor::assign):
    /// the topics of `cluster` that some member subscribes to, and the members in map order.
    #[must_use]
    pub fn from_view(
        cluster: &ClusterView,
        subscriptions: &BTreeMap<String, Subscription>,
    ) -> Self {
        let mut b = GroupSpecBuilder::new();
        let mut wanted: Vec<&str> = subscriptions
            .values()
            .flat_map(|s| s.topics.iter().map(String::as_str))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        for topic in wanted {
            let Some(&count) = cluster.partitions.get(topic) else {
                continue;
            };
            let count = u32::try_from(count).unwrap_or(0);
            match cluster.replica_racks.get(topic) {
                Some(racks) if racks.len() == count as usize => {
                    b.topic_with_racks(topic, racks.clone());
                }
                _ => {
                    b.topic(topic, count);
                }
            }
        }
        for (id, sub) in subscriptions {
            let mut owned: Vec<(String, Vec<i32>)> = Vec::new();
            for tp in &sub.owned_partitions {
                match owned.last_mut() {
                    Some((t, list)) if *t == tp.topic => list.push(tp.partition),
                    _ => owned.push((tp.topic.clone(), alloc::vec![tp.partition])),
                }
            }
            b.member(MemberInput {
                member_id: id.clone(),
                instance_id: sub.instance_id.clone(),
                rack: sub.rack_id.clone(),
                topics: sub.topics.clone(),
                owned,
                generation: sub.generation,
                user_data: sub.user_data.clone(),
            });
        }
        b.build()
    }

    /// The topics, sorted by name.
    #[must_use]
    pub fn topics(&self) -> &[TopicSpec] {
        &self.topics
    }

    /// The members, in the order they were added.
    #[must_use]
    pub fn members(&self) -> &[MemberSpec] {
        &self.members
    }

    /// Rack names (in the order first seen); [`MemberSpec::rack`] and
    /// [`TopicSpec::replica_racks`] index it.
    #[must_use]
    pub fn racks(&self) -> &[String] {
        &self.racks
    }

    /// Total number of partitions (the size of the global index space).
    #[must_use]
    pub fn total_partitions(&self) -> u32 {
        self.total
    }

    /// Adds a member: its subscription is resolved to topic indices (unknown topics
    /// dropped) and its claims ([`MemberInput::owned`]) to sorted, unique, valid global
    /// indices (invalid ones dropped and counted in [`MemberSpec::dropped_claims`]).
    pub fn add_member(&mut self, input: MemberInput) {
        let mut owned = Vec::new();
        let mut dropped = 0u32;
        for (topic, partitions) in &input.owned {
            match self.topic_index(topic) {
                Some(t) => self.resolve_into(t, partitions, &mut owned, &mut dropped),
                None => dropped = dropped.saturating_add(len_u32(partitions.len())),
            }
        }
        self.add_member_claims(input, owned);
        if let Some(m) = self.members.last_mut() {
            m.dropped_claims = m.dropped_claims.saturating_add(dropped);
        }
    }

    /// Adds a member whose claims are already global indices (for callers that resolved
    /// them, e.g. straight from a decoded subscription); [`MemberInput::owned`] is ignored.
    /// Indices out of range and duplicates are dropped.
    pub fn add_member_claims(&mut self, input: MemberInput, claims: Vec<u32>) {
        let mut topics: Vec<u32> = input
            .topics
            .iter()
            .filter_map(|t| self.topic_index(t))
            .collect();
        topics.sort_unstable();
        topics.dedup();
        self.add_member_resolved(input, topics, claims);
    }

    /// Adds a member whose subscription (topic indices) and claims (global indices) are
    /// already resolved; [`MemberInput::topics`] and [`MemberInput::owned`] are ignored. Topic
    /// indices out of range, claim indices out of range and duplicates are dropped.
    pub fn add_member_resolved(
        &mut self,
        input: MemberInput,
        mut topics: Vec<u32>,
        mut claims: Vec<u32>,
    ) {
        let n_topics = index_u32(self.topics.len());
        topics.retain(|&t| t < n_topics);
        if !topics.windows(2).all(|w| w[0] < w[1]) {
            topics.sort_unstable();
            topics.dedup();
        }
        let before = claims.len();
        claims.retain(|&g| g < self.total);
        let mut dropped = len_u32(before - claims.len());
        sort_dedup(&mut claims, &mut dropped);
        let rack = input.rack.as_deref().and_then(|r| self.intern_rack(r));
        self.members.push(MemberSpec {
            member_id: input.member_id,
            instance_id: input.instance_id,
            rack,
            topics,
            owned: claims,
            generation: input.generation,
            user_data: input.user_data,
            dropped_claims: dropped,
        });
    }

    /// The index of rack `name`, added if new; `None` for the empty string (no rack).
    fn intern_rack(&mut self, name: &str) -> Option<u32> {
        if name.is_empty() {
            return None;
        }
        if let Some(i) = self.racks.iter().position(|r| r == name) {
            return Some(index_u32(i));
        }
        self.racks.push(String::from(name));
        Some(index_u32(self.racks.len() - 1))
    }

    /// The index of topic `name`.
    #[must_use]
    pub fn topic_index(&self, name: &str) -> Option<u32> {
        self.topics
            .binary_search_by(|t| t.name.as_str().cmp(name))
            .ok()
            .map(index_u32)
    }

    /// The global index of `partition` of topic `name`, if both are valid.
    #[must_use]
    pub fn resolve(&self, name: &str, partition: i32) -> Option<u32> {
        let t = &self.topics[self.topic_index(name)? as usize];
        let p = u32::try_from(partition).ok()?;
        (p < t.partitions).then_some(t.first + p)
    }

    /// The topic index and partition of a global index.
    ///
    /// # Panics
    /// If `global` is not below [`total_partitions`](Self::total_partitions).
    #[must_use]
    pub fn locate(&self, global: u32) -> (u32, i32) {
        assert!(global < self.total, "global partition index out of range");
        // The last topic whose first index is <= global; empty topics share `first` with the
        // next one, so the partition_point lands on the non-empty one.
        let t = self.topics.partition_point(|t| t.first <= global) - 1;
        let topic = &self.topics[t];
        let p = i32::try_from(global - topic.first).unwrap_or(i32::MAX);
        (index_u32(t), p)
    }

    /// The topic index each global partition belongs to, as runs: `(topic, start..end)` for
    /// every non-empty topic, in order.
    pub fn topic_ranges(&self) -> impl Iterator<Item = (u32, core::ops::Range<u32>)> + '_ {
        self.topics
            .iter()
            .enumerate()
            .filter(|(_, t)| t.partitions > 0)
            .map(|(i, t)| (index_u32(i), t.first..t.first + t.partitions))
    }

    /// Splits sorted global indices into per-topic runs: calls `f(topic, run)` for each topic
    /// with at least one index in `sorted`. Indices at or past the end are ignored.
    pub fn for_each_topic_run(&self, sorted: &[u32], mut f: impl FnMut(u32, &[u32])) {
        let mut start = 0;
        let mut t = 0usize;
        while start < sorted.len() {
            let g = sorted[start];
            if g >= self.total {
                return;
            }
            // Topics are walked forward: a step or two when runs are dense, a binary search
            // over the rest when they are far apart.
            if self.end_of(t) <= g {
                // Gallop: find a window [t + lo, t + hi) holding the topic, then search it.
                let (mut lo, mut hi) = (1usize, 2usize);
                while self.end_of(t + hi - 1) <= g {
                    lo = hi;
                    hi *= 2;
                }
                let window =
                    &self.topics[(t + lo).min(self.topics.len())..(t + hi).min(self.topics.len())];
                t += lo + window.partition_point(|x| x.first + x.partitions <= g);
            }
            let end = self.end_of(t);
            let mut stop = start + 1;
            while stop < sorted.len() && sorted[stop] < end {
                stop += 1;
            }
            f(index_u32(t), &sorted[start..stop]);
            start = stop;
        }
    }

    fn end_of(&self, t: usize) -> u32 {
        self.topics
            .get(t)
            .map_or(u32::MAX, |x| x.first + x.partitions)
    }

    /// Resolves `partitions` of topic `t` into global indices, appending valid ones to `out`
    /// and counting the rest in `dropped`.
    pub fn resolve_into(&self, t: u32, partitions: &[i32], out: &mut Vec<u32>, dropped: &mut u32) {
        let Some(topic) = self.topics.get(t as usize) else {
            *dropped = dropped.saturating_add(len_u32(partitions.len()));
            return;
        };
        out.reserve(partitions.len().min(topic.partitions as usize));
        for &p in partitions {
            match u32::try_from(p) {
                Ok(p) if p < topic.partitions => out.push(topic.first + p),
                _ => *dropped = dropped.saturating_add(1),
            }
        }
    }

    /// Whether every member subscribes to the same topics.
    #[must_use]
    pub fn identical_subscriptions(&self) -> bool {
        self.members.windows(2).all(|w| w[0].topics == w[1].topics)
    }

    /// The member indices in the order Java's assignors sort members: static members first, by
    /// `group.instance.id`, then the others by member id (strings compared as UTF-16 like
    /// Java's `String.compareTo`); ties (which a real coordinator never produces) by the
    /// remaining fields, so the order never depends on input order for distinct members.
    #[must_use]
    pub fn canonical_order(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..len_u32(self.members.len())).collect();
        fn key(m: &MemberSpec) -> (bool, Option<&str>, &str) {
            (
                m.instance_id.is_none(),
                m.instance_id.as_deref(),
                m.member_id.as_str(),
            )
        }
        // Byte order, unless an id has a character outside the BMP (then UTF-16 order differs).
        // Static and dynamic members each share long id prefixes (`consumer-…`), so skip each
        // group's common prefix and sort on (static?, the next bytes zero-padded), which never
        // contradicts the full order; runs of equal keys get the full comparison. One pass over
        // the ids finds both the prefixes and whether UTF-16 order is needed.
        fn primary(m: &MemberSpec) -> &[u8] {
            m.instance_id.as_deref().unwrap_or(&m.member_id).as_bytes()
        }
        let mut utf16 = false;
        let mut common = [usize::MAX; 2];
        let mut first: [Option<&[u8]>; 2] = [None, None];
        for m in &self.members {
            utf16 |= has_astral(&m.member_id) || m.instance_id.as_deref().is_some_and(has_astral);
            let (g, p) = (usize::from(m.instance_id.is_none()), primary(m));
            match first[g] {
                None => {
                    first[g] = Some(p);
                    common[g] = p.len();
                }
                Some(f) => {
                    // The prefix only shrinks: compare no further than it reaches.
                    let reach = common[g].min(p.len());
                    common[g] = common_prefix(&f[..reach], &p[..reach]);
                }
            }
        }
        let full = |a: u32, b: u32| {
            let (ma, mb) = (&self.members[a as usize], &self.members[b as usize]);
            let (ka, kb) = (key(ma), key(mb));
            let primary = if utf16 {
                ka.0.cmp(&kb.0)
                    .then_with(|| opt_java_cmp(ka.1, kb.1))
                    .then_with(|| java_string_cmp(ka.2, kb.2))
            } else {
                ka.cmp(&kb)
            };
            primary.then_with(|| tie_break(ma, mb))
        };
        if utf16 {
            order.sort_by(|&a, &b| full(a, b));
            return order;
        }
        // One u128 per member: (static?, the next 7 bytes) in the high 64 bits, the index in
        // the low 32, so a plain integer sort orders them; runs with equal high halves are
        // re-sorted with the full comparison.
        let mut keyed: Vec<u128> = order
            .iter()
            .map(|&i| {
                let m = &self.members[i as usize];
                let g = usize::from(m.instance_id.is_none());
                let rest = &primary(m)[common[g].min(primary(m).len())..];
                let mut bytes = [0u8; 8];
                bytes[0] = u8::from(g == 1);
                let n = rest.len().min(7);
                bytes[1..=n].copy_from_slice(&rest[..n]);
                (u128::from(u64::from_be_bytes(bytes)) << 64) | u128::from(i)
            })
            .collect();
        sort_keys(&mut keyed);
        let high = |k: u128| (k >> 64) as u64;
        let index = |k: u128| (k & u128::from(u32::MAX)) as u32;
        let mut start = 0;
        while start < keyed.len() {
            let mut end = start + 1;
            while end < keyed.len() && high(keyed[end]) == high(keyed[start]) {
                end += 1;
            }
            if end - start > 1 {
                keyed[start..end].sort_by(|&a, &b| full(index(a), index(b)));
            }
            start = end;
        }
        order.clear();
        order.extend(keyed.iter().map(|&k| index(k)));
        order
    }

    /// Turns a plan into string-keyed assignments (member id → assignment).
    #[must_use]
    pub fn to_assignments(&self, plan: &GroupPlan) -> BTreeMap<String, Assignment> {
        self.members
            .iter()
            .zip(&plan.members)
            .map(|(m, p)| {
                let mut partitions = Vec::with_capacity(p.partitions.len());
                self.for_each_topic_run(&p.partitions, |t, run| {
                    let topic = &self.topics[t as usize];
                    partitions.extend(run.iter().map(|&g| {
                        TopicPartition::new(
                            topic.name.as_str(),
                            i32::try_from(g - topic.first).unwrap_or(i32::MAX),
                        )
                    }));
                });
                (
                    m.member_id.clone(),
                    Assignment {
                        partitions,
                        user_data: p.user_data.clone(),
                    },
                )
            })
            .collect()
    }

    /// The partitions of `plan` for member `m` grouped per topic as `(topic name, partitions)`,
    /// which is the layout `ConsumerProtocolAssignment` puts on the wire.
    #[must_use]
    pub fn grouped(&self, partitions: &[u32]) -> Vec<(&str, Vec<i32>)> {
        let mut out = Vec::new();
        self.for_each_topic_run(partitions, |t, run| {
            let topic = &self.topics[t as usize];
            out.push((
                topic.name.as_str(),
                run.iter()
                    .map(|&g| i32::try_from(g - topic.first).unwrap_or(i32::MAX))
                    .collect(),
            ));
        });
        out
    }
}

/// An assignor's result: one entry per member, index-aligned with [`GroupSpec::members`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupPlan {
    /// Per member, in spec order.
    pub members: Vec<MemberPlan>,
}

/// One member's part of a [`GroupPlan`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberPlan {
    /// Assigned partitions as sorted, unique global indices.
    pub partitions: Vec<u32>,
    /// Assignor-specific user data for the member's assignment.
    pub user_data: Option<Bytes>,
}

impl GroupPlan {
    /// A plan from per-member partition lists (sorted here), without user data.
    #[must_use]
    pub fn from_lists(lists: Vec<Vec<u32>>) -> Self {
        Self {
            members: lists
                .into_iter()
                .map(|mut partitions| {
                    partitions.sort_unstable();
                    MemberPlan {
                        partitions,
                        user_data: None,
                    }
                })
                .collect(),
        }
    }
}

fn tie_break(a: &MemberSpec, b: &MemberSpec) -> Ordering {
    a.topics
        .cmp(&b.topics)
        .then_with(|| a.generation.cmp(&b.generation))
        .then_with(|| a.owned.cmp(&b.owned))
        .then_with(|| a.rack.cmp(&b.rack))
        .then_with(|| a.user_data.cmp(&b.user_data))
}

/// Sorts keys whose significant bits are the high 64 (the low 64 hold an index that only
/// breaks ties): an LSD radix sort over the eight high bytes for large inputs, skipping bytes
/// every key shares; a comparison sort for small ones. The result equals `sort_unstable`'s
/// when the indices are unique and ascending in the input (LSD radix sort is stable).
fn sort_keys(keys: &mut Vec<u128>) {
    const RADIX_MIN: usize = 512;
    if keys.len() < RADIX_MIN {
        keys.sort_unstable();
        return;
    }
    let mut counts = [[0usize; 256]; 8];
    for &k in keys.iter() {
        let high = (k >> 64) as u64;
        for (byte, count) in counts.iter_mut().enumerate() {
            count[((high >> (8 * byte)) & 0xff) as usize] += 1;
        }
    }
    let mut scratch = vec![0u128; keys.len()];
    for (byte, count) in counts.iter().enumerate() {
        if count.contains(&keys.len()) {
            continue;
        }
        let mut offsets = [0usize; 256];
        let mut sum = 0;
        for (offset, &c) in offsets.iter_mut().zip(count) {
            *offset = sum;
            sum += c;
        }
        for &k in keys.iter() {
            let digit = (((k >> 64) as u64 >> (8 * byte)) & 0xff) as usize;
            scratch[offsets[digit]] = k;
            offsets[digit] += 1;
        }
        core::mem::swap(keys, &mut scratch);
    }
}

/// Whether `s` has a character outside the Basic Multilingual Plane (a 4-byte UTF-8
/// sequence, whose lead byte is 0xF0 or more). Written as a maximum so that it vectorizes.
fn has_astral(s: &str) -> bool {
    s.bytes().max().unwrap_or(0) >= 0xF0
}

/// The length of the common prefix of `a` and `b`, eight bytes at a time.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let len = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= len {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().unwrap_or([0; 8]));
        let y = u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        if x != y {
            return i + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + a[i..len]
        .iter()
        .zip(&b[i..len])
        .take_while(|(x, y)| x == y)
        .count()
}

/// Java's `String.compareTo`: lexicographic over UTF-16 code units.
pub(crate) fn java_string_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn opt_java_cmp(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => java_string_cmp(a, b),
        _ => a.cmp(&b),
    }
}

fn sort_dedup(v: &mut Vec<u32>, dropped: &mut u32) {
    if !v.windows(2).all(|w| w[0] < w[1]) {
        v.sort_unstable();
        let before = v.len();
        v.dedup();
        *dropped = dropped.saturating_add(len_u32(before - v.len()));
    }
}

/// `usize` → `u32` for indices the spec has bounded (saturating, never panicking).
pub(crate) fn index_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
