//! The sticky assignors: `sticky` (eager, Java's `StickyAssignor`) and `cooperative-sticky`
//! (KIP-429, Java's `CooperativeStickyAssignor`).
//!
//! Both have the same goals, in this order: **balance** (with identical subscriptions, member
//! counts differ by at most one; otherwise no member could take a partition it subscribes to
//! from a member with two or more partitions more than it), then **stickiness** (keep as many
//! previous owners as balance allows). They differ in where the previous ownership comes from
//! and in what happens to a partition that changes owner:
//!
//! * `sticky` is eager: every member revokes everything before it rejoins, so the previous
//!   assignment travels in the subscription's user data (StickyAssignor user data v1: the
//!   previous partitions and the generation; v0 without the generation), and a partition can go
//!   straight to its new owner.
//! * `cooperative-sticky` keeps its partitions while rejoining: ownership travels in
//!   `OwnedPartitions` and `GenerationId` (subscription v1/v2; for older subscriptions the
//!   generation comes from a 4-byte user data). A partition whose previous owner is another
//!   member is **withheld** for one round: its owner sees it missing from its assignment,
//!   revokes it and rejoins, and the next round hands it out. So a partition is never owned
//!   by two members at once.
//!
//! # Ownership claims
//!
//! Claims are untrusted. Building the [`GroupSpec`] already dropped claims on unknown topics,
//! negative or out-of-range partitions and duplicates; undecodable user data counts as no
//! claim with generation -1 (KIP-341). Conflicts between members are settled per partition as
//! Java does since KAFKA-12984 / KAFKA-14639: the claimant with the highest generation keeps
//! it; if several share the highest generation, it is taken from all of them and treated as
//! moving (in the cooperative protocol it is withheld for a round). A claim on a topic the
//! claimant no longer subscribes to is dropped (and, cooperatively, withheld).
//!
//! # Algorithm
//!
//! Members are put in Java's order (static members by instance id, then member id) and
//! numbered; partitions live in one flat index space; ownership is a flat array.
//!
//! * **Identical subscriptions** (the fast path): with `P` partitions and `N` members,
//!   everyone gets `P / N` or `P / N + 1`, and exactly `P % N` members get the larger quota.
//!   Members that already own at least the larger quota keep it first (in member order, so an
//!   already balanced group moves nothing, KAFKA-18688); each member keeps as many of its valid
//!   claims as its quota allows (trimming drops the highest `(partition, topic)` first, so topics
//!   stay spread, KAFKA-16277), and everything left is dealt round-robin in partition order to
//!   members below their quota. This moves exactly the minimum number of partitions (see
//!   below).
//! * **Different subscriptions** (the general path): every valid claim is kept; free
//!   partitions are water-filled topic by topic (topics with the fewest subscribers first) onto
//!   the least-loaded subscribers; then each topic is balanced in passes: while some owner of a
//!   partition of the topic has at least two more partitions than some subscriber of it, one
//!   partition moves from the fullest such owner to the emptiest such subscriber (preferring a
//!   partition the owner did not already own before this round). Every move lowers the sum of
//!   squared member counts by at least two, so the loop ends, and when it ends no member could
//!   take a partition from one with two more: the balance the module promises.
//!
//! # Stickiness guarantee
//!
//! Write `kept_i` for member *i*'s valid, uncontested claims on topics it still subscribes to.
//!
//! * Identical subscriptions: the number of partitions taken from their previous owner is
//!   exactly `Σ_i max(0, kept_i − target_i)`, where the targets are the quotas above with the
//!   `P % N` larger ones given first to members holding at least that many. No valid assignment
//!   with balance at most one moves fewer. (Contested partitions move by definition.)
//! * Different subscriptions: a claim is only ever taken from its owner by a balance move,
//!   and each such move goes from a member to one holding at least two fewer partitions; an
//!   input that is already balanced in that sense, with nothing free, moves nothing.
//! * Both: running the assignor again on its own output (every member owning what it got, one
//!   generation later) moves nothing, so the cooperative protocol converges in two rounds.

use alloc::collections::{BTreeMap, BinaryHeap};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cmp::Reverse;

use bytes::{BufMut, Bytes, BytesMut};

use super::consumer_protocol::group_by_topic;
use super::spec::{GroupSpec, index_u32};
use super::{Assignment, Assignor, GroupPlan, MemberPlan, RebalanceProtocol, TopicPartition};

/// No member owns the partition.
const FREE: u32 = u32::MAX;
/// Several members claimed the partition in the same (highest) generation.
const CONFLICT: u32 = u32::MAX - 1;

/// The generation Java assumes when a claim carries none.
pub const DEFAULT_GENERATION: i32 = -1;

/// Java's `StickyAssignor`: protocol name `"sticky"`, eager rebalancing.
///
/// It remembers the assignment and generation it was last given (see
/// [`Assignor::on_assignment`]) and sends them as StickyAssignor user data v1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StickyAssignor {
    previous: Option<(Vec<TopicPartition>, i32)>,
}

impl StickyAssignor {
    /// The JoinGroup protocol name.
    pub const NAME: &'static str = "sticky";
}

impl Assignor for StickyAssignor {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn subscription_user_data(&self, _topics: &[String]) -> Option<Bytes> {
        let (partitions, generation) = self.previous.as_ref()?;
        Some(encode_user_data(partitions, Some(*generation)))
    }

    fn plan(&self, group: &GroupSpec) -> GroupPlan {
        let claims: Vec<(Vec<u32>, i32)> = group
            .members()
            .iter()
            .map(|m| {
                m.user_data
                    .as_deref()
                    .filter(|d| !d.is_empty())
                    .and_then(|d| resolve_user_data(group, d))
                    .map_or((Vec::new(), DEFAULT_GENERATION), |(c, g)| {
                        (c, g.unwrap_or(DEFAULT_GENERATION))
                    })
            })
            .collect();
        let refs: Vec<(&[u32], i32)> = claims.iter().map(|(c, g)| (c.as_slice(), *g)).collect();
        plan_sticky(group, &refs, false)
    }

    fn on_assignment(&mut self, assignment: &Assignment, generation: i32) {
        self.previous = Some((assignment.partitions.clone(), generation));
    }
}

/// Java's `CooperativeStickyAssignor`: protocol name `"cooperative-sticky"`, cooperative
/// rebalancing (eager too, for groups where not every member supports cooperative).
///
/// Its subscription user data is the 4-byte generation it was last assigned in, which older
/// leaders (subscription v0/v1, no `GenerationId` field) read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CooperativeStickyAssignor {
    generation: Option<i32>,
}

impl CooperativeStickyAssignor {
    /// The JoinGroup protocol name.
    pub const NAME: &'static str = "cooperative-sticky";
}

impl Assignor for CooperativeStickyAssignor {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn supported_protocols(&self) -> &[RebalanceProtocol] {
        &[RebalanceProtocol::Eager, RebalanceProtocol::Cooperative]
    }

    fn subscription_user_data(&self, _topics: &[String]) -> Option<Bytes> {
        Some(encode_generation(
            self.generation.unwrap_or(DEFAULT_GENERATION),
        ))
    }

    fn plan(&self, group: &GroupSpec) -> GroupPlan {
        let refs: Vec<(&[u32], i32)> = group
            .members()
            .iter()
            .map(|m| {
                let generation = if m.generation >= 0 {
                    m.generation
                } else {
                    m.user_data
                        .as_deref()
                        .map_or(DEFAULT_GENERATION, generation_from_user_data)
                };
                (m.owned.as_slice(), generation)
            })
            .collect();
        plan_sticky(group, &refs, true)
    }

    fn on_assignment(&mut self, _assignment: &Assignment, generation: i32) {
        self.generation = Some(generation);
    }
}

/// The generation in a cooperative-sticky member's user data, for subscriptions without a
/// `GenerationId` (v0/v1): Java sends exactly 4 bytes (the generation), librdkafka sends
/// StickyAssignor user data v1 (its previous assignment, then the generation). Exactly 4 bytes
/// are read as Java's; anything else as StickyAssignor v1; otherwise -1.
#[must_use]
pub fn generation_from_user_data(data: &[u8]) -> i32 {
    if data.len() == 4 {
        return decode_generation(data).unwrap_or(DEFAULT_GENERATION);
    }
    decode_user_data(data)
        .and_then(|u| u.generation)
        .unwrap_or(DEFAULT_GENERATION)
}

/// The 4-byte CooperativeStickyAssignor user data: the generation, big-endian.
#[must_use]
pub fn encode_generation(generation: i32) -> Bytes {
    Bytes::copy_from_slice(&generation.to_be_bytes())
}

/// Reads CooperativeStickyAssignor user data: the first 4 bytes as a big-endian generation
/// (`None` when shorter).
#[must_use]
pub fn decode_generation(data: &[u8]) -> Option<i32> {
    let bytes: [u8; 4] = data.get(..4)?.try_into().ok()?;
    Some(i32::from_be_bytes(bytes))
}

/// Decoded StickyAssignor user data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StickyUserData {
    /// The previous assignment, grouped per topic as on the wire.
    pub previous: Vec<(String, Vec<i32>)>,
    /// The generation (v1), or `None` for v0.
    pub generation: Option<i32>,
}

/// Encodes StickyAssignor user data: v1 (`previous_assignment` then `generation`) when
/// `generation` is given, else v0. Partitions are grouped per topic, topics sorted.
#[must_use]
pub fn encode_user_data(partitions: &[TopicPartition], generation: Option<i32>) -> Bytes {
    let groups = group_by_topic(partitions);
    let mut out = BytesMut::new();
    out.put_i32(i32::try_from(groups.len()).unwrap_or(i32::MAX));
    for (topic, list) in &groups {
        // Topic names are at most 249 bytes in Kafka; a longer one is cut at an i16 length.
        let name = &topic.as_bytes()[..topic.len().min(i16::MAX as usize)];
        out.put_i16(i16::try_from(name.len()).unwrap_or(i16::MAX));
        out.put_slice(name);
        out.put_i32(i32::try_from(list.len()).unwrap_or(i32::MAX));
        for p in list.iter() {
            out.put_i32(p);
        }
    }
    if let Some(g) = generation {
        out.put_i32(g);
    }
    out.freeze()
}

/// Decodes StickyAssignor user data the way Java does: as v1 if that parses, else as v0, else
/// `None` (the caller then treats the member as owning nothing, generation -1). Never panics,
/// and never allocates more than the input justifies.
#[must_use]
pub fn decode_user_data(data: &[u8]) -> Option<StickyUserData> {
    let mut r = Reader(data);
    let previous = read_assignment(&mut r)?;
    let generation = r.i32();
    Some(StickyUserData {
        previous,
        generation,
    })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take(4)?.try_into().ok().map(i32::from_be_bytes)
    }
    fn i16(&mut self) -> Option<i16> {
        self.take(2)?.try_into().ok().map(i16::from_be_bytes)
    }
    /// An array count that fits the rest of the input at `min_size` bytes per element.
    fn count(&mut self, min_size: usize) -> Option<usize> {
        let n = usize::try_from(self.i32()?).ok()?;
        (n.checked_mul(min_size)? <= self.0.len()).then_some(n)
    }
}

/// Walks a `[](topic string, partitions []int32)` array, calling `f(topic, count, reader)`
/// for each topic; `f` must read exactly `count` int32s.
fn walk_assignment<'a>(
    r: &mut Reader<'a>,
    mut f: impl FnMut(&'a str, usize, &mut Reader<'a>) -> Option<()>,
) -> Option<()> {
    // Each topic entry is at least a 2-byte name length and a 4-byte partition count.
    let topics = r.count(6)?;
    for _ in 0..topics {
        let len = usize::try_from(r.i16()?).ok()?;
        let name = core::str::from_utf8(r.take(len)?).ok()?;
        let n = r.count(4)?;
        f(name, n, r)?;
    }
    Some(())
}

fn read_assignment(r: &mut Reader<'_>) -> Option<Vec<(String, Vec<i32>)>> {
    let mut out = Vec::new();
    walk_assignment(r, |name, n, r| {
        let mut partitions = Vec::with_capacity(n);
        for _ in 0..n {
            partitions.push(r.i32()?);
        }
        out.push((String::from(name), partitions));
        Some(())
    })?;
    Some(out)
}

/// StickyAssignor user data straight to global indices (no per-topic strings): the claims
/// (sorted, unique, valid) and the generation, or `None` if it does not parse.
fn resolve_user_data(group: &GroupSpec, data: &[u8]) -> Option<(Vec<u32>, Option<i32>)> {
    let mut r = Reader(data);
    let mut claims = Vec::new();
    walk_assignment(&mut r, |name, n, r| {
        let topic = group.topic_index(name).map(|t| &group.topics()[t as usize]);
        for _ in 0..n {
            let p = r.i32()?;
            if let Some(t) = topic {
                if let Ok(p) = u32::try_from(p) {
                    if p < t.partitions {
                        claims.push(t.first + p);
                    }
                }
            }
        }
        Some(())
    })?;
    let generation = r.i32();
    claims.sort_unstable();
    claims.dedup();
    Some((claims, generation))
}

/// The sticky algorithm shared by both assignors. `claims[i]` is member `i`'s claimed
/// partitions (sorted, unique, valid global indices) and their generation.
pub(crate) fn plan_sticky(
    group: &GroupSpec,
    claims: &[(&[u32], i32)],
    cooperative: bool,
) -> GroupPlan {
    let members = group.members();
    let n = members.len();
    if n == 0 {
        return GroupPlan::default();
    }
    let order = group.canonical_order();
    let mut rank_of = vec![0u32; n];
    for (rank, &m) in order.iter().enumerate() {
        rank_of[m as usize] = index_u32(rank);
    }
    let lists = if group.identical_subscriptions() {
        constrained(group, claims, &order, &rank_of, cooperative)
    } else {
        let (winner, _) = resolve_claims(group, claims, &rank_of);
        general(group, claims, &order, &rank_of, winner, cooperative)
    };
    // Back from rank order to member order.
    let mut plans: Vec<MemberPlan> = vec![MemberPlan::default(); n];
    for (rank, partitions) in lists.into_iter().enumerate() {
        plans[order[rank] as usize].partitions = partitions;
    }
    GroupPlan { members: plans }
}

/// Per partition: the rank of the claimant with the unique highest generation, [`CONFLICT`]
/// when several share the highest generation, or [`FREE`]. Independent of member order.
/// The flag says whether any partition was claimed twice (if not, every claim is won).
fn resolve_claims(
    group: &GroupSpec,
    claims: &[(&[u32], i32)],
    rank_of: &[u32],
) -> (Vec<u32>, bool) {
    let total = group.total_partitions() as usize;
    let mut winner = vec![FREE; total];
    let mut generation_of = vec![0i32; claims.len()];
    for (m, &(_, g)) in claims.iter().enumerate() {
        generation_of[rank_of[m] as usize] = g;
    }
    // The tied generation of conflicted partitions (rare: a real group has none).
    let mut conflict_generation: BTreeMap<u32, i32> = BTreeMap::new();
    let mut contested = false;
    for (m, &(partitions, g)) in claims.iter().enumerate() {
        let rank = rank_of[m];
        for &p in partitions {
            let Some(w) = winner.get_mut(p as usize) else {
                continue;
            };
            if *w == FREE {
                *w = rank;
                continue;
            }
            contested = true;
            let current = if *w == CONFLICT {
                conflict_generation.get(&p).copied().unwrap_or(i32::MIN)
            } else {
                generation_of[*w as usize]
            };
            if g > current {
                if *w == CONFLICT {
                    conflict_generation.remove(&p);
                }
                *w = rank;
            } else if g == current && *w != CONFLICT {
                *w = CONFLICT;
                conflict_generation.insert(p, g);
            }
        }
    }
    (winner, contested)
}

/// Calls `f(topic, run)` for the runs of `sorted` on topics `subscribed` contains.
fn subscribed_runs(
    group: &GroupSpec,
    sorted: &[u32],
    subscribed: &[u32],
    mut f: impl FnMut(&[u32]),
) {
    group.for_each_topic_run(sorted, |t, run| {
        if subscribed.binary_search(&t).is_ok() {
            f(run);
        }
    });
}

/// The fast path: everyone subscribes to the same topics.
fn constrained(
    group: &GroupSpec,
    claims: &[(&[u32], i32)],
    order: &[u32],
    rank_of: &[u32],
    cooperative: bool,
) -> Vec<Vec<u32>> {
    let n = order.len();
    let topics = &group.members()[order[0] as usize].topics;
    let all_topics = topics.len() == group.topics().len();
    let total: u64 = topics
        .iter()
        .map(|&t| u64::from(group.topics()[t as usize].partitions))
        .sum();
    let n64 = n as u64;
    let min_quota = usize::try_from(total / n64).unwrap_or(usize::MAX);
    let mut extras = usize::try_from(total % n64).unwrap_or(0);
    let max_quota = min_quota + usize::from(extras > 0);

    let claimed = claims.iter().any(|(c, _)| !c.is_empty());
    // Which partitions somebody claims; a partition claimed twice means conflicts to settle
    // (a real group has none, so the per-partition winner array is only built then).
    let mut taken = Bits::new(if claimed { group.total_partitions() } else { 0 });
    let mut contested = false;
    for &(partitions, _) in claims {
        for &p in partitions {
            contested |= taken.insert(p);
        }
    }
    let winner = if contested {
        resolve_claims(group, claims, rank_of).0
    } else {
        Vec::new()
    };
    // Valid, uncontested claims per rank (sorted: claims are sorted).
    let mut lists: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (m, &(partitions, _)) in claims.iter().enumerate() {
        let rank = rank_of[m];
        let list = &mut lists[rank as usize];
        let mut keep = |run: &[u32]| {
            if contested {
                list.extend(run.iter().filter(|&&p| winner[p as usize] == rank));
            } else {
                list.extend_from_slice(run);
            }
        };
        if all_topics {
            keep(partitions);
        } else {
            subscribed_runs(group, partitions, topics, keep);
        }
    }
    // Quotas: the larger one first to members already holding it, in member order.
    let mut target = vec![min_quota; n];
    for (rank, list) in lists.iter().enumerate() {
        if extras > 0 && list.len() >= max_quota {
            target[rank] = max_quota;
            extras -= 1;
        }
    }
    for t in &mut target {
        if extras == 0 {
            break;
        }
        if *t == min_quota {
            *t = max_quota;
            extras -= 1;
        }
    }
    // Trim to quota, keeping the lowest (partition, topic).
    for (rank, list) in lists.iter_mut().enumerate() {
        let quota = target[rank];
        if list.len() <= quota {
            continue;
        }
        if topics.len() == 1 {
            list.truncate(quota);
        } else {
            let mut keyed: Vec<(u32, u32, u32)> = Vec::with_capacity(list.len());
            group.for_each_topic_run(list, |t, run| {
                let first = group.topics()[t as usize].first;
                keyed.extend(run.iter().map(|&g| (g - first, t, g)));
            });
            keyed.select_nth_unstable(quota);
            list.clear();
            list.extend(keyed[..quota].iter().map(|&(_, _, g)| g));
            list.sort_unstable();
        }
    }
    if !claimed && all_topics {
        // Nobody owns anything and the topics are the whole index space 0..P: round-robin
        // dealing gives rank i exactly i, i + N, i + 2N, … (target_i of them), so fill each
        // list in one sequential pass instead of interleaving pushes over every member.
        let stride = index_u32(n);
        for (rank, (list, &t)) in lists.iter_mut().zip(&target).enumerate() {
            let first = index_u32(rank);
            list.extend((0..index_u32(t)).map(|k| first + k * stride));
        }
        return lists;
    }
    for (list, &t) in lists.iter_mut().zip(&target) {
        list.reserve_exact(t - list.len());
    }
    // Deal the rest round-robin, in partition order, to members below quota.
    let mut need: Vec<usize> = lists
        .iter()
        .zip(&target)
        .map(|(l, &t)| t - l.len())
        .collect();
    let mut needy: Vec<u32> = (0..index_u32(n))
        .filter(|&r| need[r as usize] > 0)
        .collect();
    let kept_len: Vec<usize> = lists.iter().map(Vec::len).collect();
    // What may be dealt: cooperatively only partitions nobody claimed (a partition that
    // changes owner is withheld for a round); eagerly everything nobody kept.
    if !cooperative {
        taken = Bits::new(group.total_partitions());
        for list in &lists {
            for &p in list {
                taken.insert(p);
            }
        }
    } else if !claimed {
        taken = Bits::new(group.total_partitions());
    }
    let mut cursor = 0;
    for &t in topics {
        let topic = &group.topics()[t as usize];
        let more = taken.for_each_absent(topic.first, topic.first + topic.partitions, |g| {
            if cursor >= needy.len() {
                needy.retain(|&r| need[r as usize] > 0);
                cursor = 0;
                if needy.is_empty() {
                    return false;
                }
            }
            let r = needy[cursor] as usize;
            lists[r].push(g);
            need[r] -= 1;
            cursor += 1;
            true
        });
        if !more {
            break;
        }
    }
    // Kept claims and dealt partitions are each sorted; merge them.
    for (list, &k) in lists.iter_mut().zip(&kept_len) {
        if k > 0 && k < list.len() && list[k - 1] > list[k] {
            list.sort_unstable();
        }
    }
    lists
}

/// The general path: subscriptions differ.
fn general(
    group: &GroupSpec,
    claims: &[(&[u32], i32)],
    order: &[u32],
    rank_of: &[u32],
    winner: Vec<u32>,
    cooperative: bool,
) -> Vec<Vec<u32>> {
    let n = order.len();
    let members = group.members();
    let topics = group.topics();
    let total = group.total_partitions() as usize;
    let mut owner = vec![FREE; total];
    let mut count = vec![0u32; n];
    // Keep every valid, uncontested claim on a subscribed topic.
    for (m, &(partitions, _)) in claims.iter().enumerate() {
        let rank = rank_of[m];
        subscribed_runs(group, partitions, &members[m].topics, |run| {
            for &p in run {
                if winner[p as usize] == rank {
                    owner[p as usize] = rank;
                    count[rank as usize] += 1;
                }
            }
        });
    }
    // Subscribers of each topic, in rank order.
    let mut subs_of: Vec<Vec<u32>> = vec![Vec::new(); topics.len()];
    for (rank, &m) in order.iter().enumerate() {
        for &t in &members[m as usize].topics {
            subs_of[t as usize].push(index_u32(rank));
        }
    }
    // Fill order: topics with the fewest subscribers first, then the biggest.
    let mut fill_order: Vec<u32> = (0..index_u32(topics.len()))
        .filter(|&t| !subs_of[t as usize].is_empty() && topics[t as usize].partitions > 0)
        .collect();
    fill_order.sort_by_key(|&t| {
        (
            subs_of[t as usize].len(),
            Reverse(topics[t as usize].partitions),
            t,
        )
    });
    let mut free: Vec<u32> = Vec::new();
    let mut cand: Vec<(u32, u32)> = Vec::new();
    let mut buckets: Vec<u32> = Vec::new();
    for &t in &fill_order {
        let topic = &topics[t as usize];
        free.clear();
        free.extend(
            (topic.first..topic.first + topic.partitions).filter(|&g| owner[g as usize] == FREE),
        );
        if free.is_empty() {
            continue;
        }
        sort_by_count(&subs_of[t as usize], &count, &mut cand, &mut buckets);
        let gives = water_fill(&cand, free.len());
        let mut next = free.iter();
        for (&(_, r), give) in cand.iter().zip(gives) {
            for &g in next.by_ref().take(give) {
                owner[g as usize] = r;
            }
            count[r as usize] += index_u32(give);
        }
    }
    balance(
        group,
        &fill_order,
        &subs_of,
        &winner,
        &mut owner,
        &mut count,
    );
    // Lists from the owner array (sorted by construction), withholding in the cooperative
    // protocol every partition another member still owns.
    let mut lists: Vec<Vec<u32>> = count
        .iter()
        .map(|&c| Vec::with_capacity(c as usize))
        .collect();
    for (g, &r) in owner.iter().enumerate() {
        if r as usize >= n {
            continue;
        }
        let w = winner[g];
        if cooperative && w != FREE && w != r {
            continue;
        }
        lists[r as usize].push(index_u32(g));
    }
    lists
}

/// `out` = `(count[r], r)` for the ranks `r` of `ranks` (ascending), sorted: a counting sort
/// when the counts are small next to the number of ranks (it is stable, so equal counts stay
/// in rank order), a comparison sort otherwise.
fn sort_by_count(ranks: &[u32], count: &[u32], out: &mut Vec<(u32, u32)>, buckets: &mut Vec<u32>) {
    out.clear();
    let max = ranks.iter().map(|&r| count[r as usize]).max().unwrap_or(0) as usize;
    if max > 4 * ranks.len() + 64 {
        out.extend(ranks.iter().map(|&r| (count[r as usize], r)));
        out.sort_unstable();
        return;
    }
    buckets.clear();
    buckets.resize(max + 2, 0);
    for &r in ranks {
        buckets[count[r as usize] as usize + 1] += 1;
    }
    for i in 1..buckets.len() {
        buckets[i] += buckets[i - 1];
    }
    out.resize(ranks.len(), (0, 0));
    for &r in ranks {
        let c = count[r as usize];
        let slot = &mut buckets[c as usize];
        out[*slot as usize] = (c, r);
        *slot += 1;
    }
}

/// How many of `k` partitions each candidate gets when they always go to the least loaded:
/// `cand` is sorted by (count, rank); the result is index-aligned with it.
fn water_fill(cand: &[(u32, u32)], k: usize) -> Vec<usize> {
    let s = cand.len();
    let mut gives = vec![0usize; s];
    if s == 0 {
        return gives;
    }
    let mut remaining = k as u64;
    let mut level = u64::from(cand[0].0);
    let mut j = 0;
    loop {
        while j < s && u64::from(cand[j].0) <= level {
            j += 1;
        }
        let width = j as u64;
        if j < s {
            let next = u64::from(cand[j].0);
            let room = (next - level) * width;
            if room <= remaining {
                remaining -= room;
                level = next;
                continue;
            }
        }
        let up = remaining / width;
        level += up;
        remaining -= up * width;
        break;
    }
    for (i, give) in gives.iter_mut().enumerate().take(j) {
        let extra = u64::from((i as u64) < remaining);
        *give = usize::try_from(level - u64::from(cand[i].0) + extra).unwrap_or(0);
    }
    gives
}

/// Moves partitions until, for every topic, no owner of one of its partitions has two or more
/// partitions more than a subscriber of it. Terminates: each move lowers Σ count² by ≥ 2.
fn balance(
    group: &GroupSpec,
    topic_order: &[u32],
    subs_of: &[Vec<u32>],
    winner: &[u32],
    owner: &mut [u32],
    count: &mut [u32],
) {
    let topics = group.topics();
    let n = count.len();
    let mut held: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut holders: Vec<u32> = Vec::new();
    loop {
        let mut moved = false;
        for &t in topic_order {
            let topic = &topics[t as usize];
            let range = topic.first as usize..(topic.first + topic.partitions) as usize;
            let subs = &subs_of[t as usize];
            let min = subs.iter().map(|&r| count[r as usize]).min().unwrap_or(0);
            let max = owner[range.clone()]
                .iter()
                .filter(|&&r| (r as usize) < n)
                .map(|&r| count[r as usize])
                .max()
                .unwrap_or(0);
            if max <= min + 1 {
                continue;
            }
            // Who holds which partitions of this topic; claims the holder already had go to
            // the bottom of its stack so that newly filled ones move first.
            holders.clear();
            for g in range.clone() {
                let r = owner[g];
                if (r as usize) < n {
                    if held[r as usize].is_empty() {
                        holders.push(r);
                    }
                    held[r as usize].push(index_u32(g));
                }
            }
            for &r in &holders {
                let stack = &mut held[r as usize];
                let key = |&g: &u32| (winner[g as usize] != r, g);
                // Usually already in order (pushed by ascending index, no own claims first).
                if !stack.is_sorted_by_key(key) {
                    stack.sort_by_key(key);
                }
            }
            let mut high: BinaryHeap<(u32, Reverse<u32>)> = holders
                .iter()
                .map(|&r| (count[r as usize], Reverse(r)))
                .collect();
            let mut low: BinaryHeap<Reverse<(u32, u32)>> = subs
                .iter()
                .map(|&r| Reverse((count[r as usize], r)))
                .collect();
            // Lazy deletion: entries whose count changed since they were pushed are stale.
            while let Some(&(hc, Reverse(b))) = high.peek() {
                if hc != count[b as usize] || held[b as usize].is_empty() {
                    high.pop();
                    continue;
                }
                let Some(&Reverse((lc, a))) = low.peek() else {
                    break;
                };
                if lc != count[a as usize] {
                    low.pop();
                    continue;
                }
                if hc <= lc + 1 {
                    break;
                }
                high.pop();
                low.pop();
                let Some(g) = held[b as usize].pop() else {
                    continue;
                };
                owner[g as usize] = a;
                count[b as usize] -= 1;
                count[a as usize] += 1;
                held[a as usize].push(g);
                moved = true;
                high.push((count[b as usize], Reverse(b)));
                low.push(Reverse((count[b as usize], b)));
                high.push((count[a as usize], Reverse(a)));
                low.push(Reverse((count[a as usize], a)));
            }
            for &r in &holders {
                held[r as usize].clear();
            }
            // Members that only received partitions in this pass are not in `holders`.
            for &r in subs {
                held[r as usize].clear();
            }
        }
        if !moved {
            break;
        }
    }
}

/// A fixed-size set of partition indices, one bit each.
struct Bits(Vec<u64>);

impl Bits {
    /// An empty set for indices `0..len`.
    fn new(len: u32) -> Self {
        Self(vec![0; (len as usize).div_ceil(64)])
    }

    /// Adds `i` (ignored past the capacity, `len` rounded up to 64); returns whether it was
    /// already there.
    fn insert(&mut self, i: u32) -> bool {
        let Some(word) = self.0.get_mut((i / 64) as usize) else {
            return false;
        };
        let bit = 1u64 << (i % 64);
        let was = *word & bit != 0;
        *word |= bit;
        was
    }

    /// Calls `f` on each index of `start..end` not in the set (everything past the set's
    /// length counts as absent), in ascending order, until `f` returns `false`; returns
    /// whether it ran to the end.
    fn for_each_absent(&self, start: u32, end: u32, mut f: impl FnMut(u32) -> bool) -> bool {
        if start >= end {
            return true;
        }
        let (first, last) = (start / 64, (end - 1) / 64);
        for w in first..=last {
            let mut word = !self.0.get(w as usize).copied().unwrap_or(0);
            if w == first {
                word &= u64::MAX << (start % 64);
            }
            if w == last {
                word &= u64::MAX >> (63 - (end - 1) % 64);
            }
            while word != 0 {
                if !f(w * 64 + word.trailing_zeros()) {
                    return false;
                }
                word &= word - 1;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::{Bits, sort_by_count};
    use alloc::vec::Vec;
    use proptest::prelude::*;

    proptest! {
        /// The counting sort equals a comparison sort of (count, rank), on both of its paths
        /// (small counts and counts too large for buckets).
        #[test]
        fn sort_by_count_is_a_sort(
            counts in prop::collection::vec(prop_oneof![0u32..8, 0u32..100_000], 0..200),
            pick in prop::collection::vec(any::<bool>(), 200),
        ) {
            let ranks: Vec<u32> = (0..counts.len() as u32).filter(|&r| pick[r as usize]).collect();
            let (mut got, mut buckets) = (Vec::new(), Vec::new());
            sort_by_count(&ranks, &counts, &mut got, &mut buckets);
            let mut want: Vec<(u32, u32)> = ranks.iter().map(|&r| (counts[r as usize], r)).collect();
            want.sort_unstable();
            prop_assert_eq!(got, want);
        }

        /// `for_each_absent` visits exactly the indices of the range missing from the set.
        #[test]
        fn bits_absent(
            len in 0u32..300,
            members in prop::collection::vec(0u32..320, 0..200),
            start in 0u32..330,
            width in 0u32..330,
        ) {
            let mut bits = Bits::new(len);
            let mut want_in = alloc::collections::BTreeSet::new();
            let capacity = len.div_ceil(64) * 64;
            for &m in &members {
                let fits = m < capacity;
                let fresh = fits && want_in.insert(m);
                prop_assert_eq!(bits.insert(m), fits && !fresh);
            }
            let end = start.saturating_add(width);
            let mut got = Vec::new();
            let finished = bits.for_each_absent(start, end, |i| {
                got.push(i);
                true
            });
            prop_assert!(finished);
            let want: Vec<u32> = (start..end).filter(|i| !want_in.contains(i)).collect();
            prop_assert_eq!(got, want);
        }
    }
}
