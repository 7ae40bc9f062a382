//! Deterministic test kit for the workspace: a sans-IO model Kafka broker with a classic group
//! coordinator and a KIP-848 consumer group coordinator ([`ModelBroker`]), and a seeded network
//! simulator ([`NetSim`]).
//!
//! Both are sans-IO: no sockets, threads, clocks or OS randomness. Time is virtual
//! milliseconds (`u64`) passed in by the caller; the same inputs always give the same outputs.
//!
//! # The model broker
//!
//! One node that leads every partition and coordinates every group. Clients talk to it in
//! Kafka request frames (without the 4-byte size prefix) on numbered connections
//! ([`ConnId`]); it answers in response frames decoded and encoded with `kafka-wire`.
//!
//! **One request per connection at a time**, like a real broker (the broker mutes a socket
//! after reading a request and unmutes it once the response is sent): a parked JoinGroup,
//! SyncGroup or Fetch holds back every later request on the same connection.
//!
//! APIs, at every version `kafka-wire` supports (override with
//! [`ModelBroker::set_api_versions`]): ApiVersions (KIP-511 fallback included), Metadata,
//! FindCoordinator (single and batched keys), JoinGroup, SyncGroup, Heartbeat, LeaveGroup
//! (single member and batch), OffsetCommit, OffsetFetch (single group and batched groups; v10
//! topic ids), ConsumerGroupHeartbeat (KIP-848, v0–v1), and with
//! [`BrokerConfig::serve_fetch`] Fetch (v4+; topic ids from v13) and ListOffsets (v1+). Any
//! other API, an unadvertised version or an undecodable frame makes the broker close the
//! connection (reported by [`ModelBroker::poll_closed`] and [`ModelBroker::errors`]); the
//! request gets no answer.
//!
//! Records: [`ModelBroker::append`] stores each call as one record batch (magic 2,
//! uncompressed, CRC-32C by kafka-wire's encoder, create time = the broker's virtual time) in
//! a per-partition log that starts at offset 0 and is never truncated; the high watermark and
//! the last stable offset are the log end offset. Fetch returns whole batches from the one
//! holding the fetch offset, within `partition_max_bytes` and `max_bytes` except that the
//! first batch of the first partition with data always comes (KIP-74); it answers
//! `OFFSET_OUT_OF_RANGE` outside `0..=end`, `UNKNOWN_TOPIC_OR_PARTITION` (by name, or an
//! unknown partition), `UNKNOWN_TOPIC_ID` (by id), `FENCED_LEADER_EPOCH` and
//! `UNKNOWN_LEADER_EPOCH` against leader epoch 0, and session id 0 (no fetch sessions: an
//! incremental request gets `FETCH_SESSION_ID_NOT_FOUND`). **The long poll:** a Fetch that
//! finds fewer than `min_bytes` of records, and no read error, is parked for `max_wait_ms` of
//! virtual time ([`ModelBroker::poll_timeout`]), answered as soon as an append brings enough,
//! or at its deadline with what there is; its connection stays busy meanwhile. ListOffsets
//! answers -2 (and -4) with 0, -1 with the log end offset, -3 with the first record of the
//! largest timestamp, the tiered-storage timestamps -5 and -6 with -1, any other timestamp
//! with the first record at or after it (or -1), and leader epoch 0 from v4.
//!
//! The coordinator follows Kafka's classic group coordinator (the Java port in 4.0; see
//! `group-protocol.md` §8): the states of [`GroupState`]; KIP-394 `MEMBER_ID_REQUIRED` for
//! dynamic members from JoinGroup v4 (member ids are `{client_id}-{n}`, or
//! `{group_instance_id}-{n}` for static members, `n` a broker-wide counter) with pending
//! members expiring after their session timeout; static membership with fencing and the
//! no-rebalance rejoin of a Stable group (v9 `SkipAssignment` for the leader, the old leader id
//! before v9); protocol checks; session timeout bounds; `group.max.size`; the initial
//! rebalance delay (re-armed while new members arrive, capped by the rebalance timeout); early
//! completion of later join phases once every member rejoined and no member is pending; leader
//! kept if it rejoined, else the first rejoined member; protocol vote; pending-sync expiry;
//! SyncGroup parking until the leader's assignment (KIP-559 checks at v5); heartbeats per state
//! and session expiry (members with a parked JoinGroup or SyncGroup count as alive, except new
//! members, whose parked JoinGroup expires after `new_member_join_timeout_ms`); LeaveGroup;
//! offset commits with generation/member checks (generation -1 commits for Empty or unknown
//! groups) that refresh the session; offset fetches (-1 for nothing committed).
//!
//! The KIP-848 side (ConsumerGroupHeartbeat v0–v1, see `group-protocol.md` §9) follows Kafka's
//! new group coordinator: request validation (`INVALID_REQUEST`; v1 needs a client-chosen
//! member id, v0 gets `{client_id}-{n}`); member-epoch checks (`FENCED_MEMBER_EPOCH`, except a
//! member that repeats its previous epoch and owns a subset of its assignment, i.e. lost a
//! response); a group epoch bumped at most once per heartbeat for a join, a subscription or
//! assignor change, and for a leave, a fence, a session expiry or a change of a subscribed
//! topic ([`ModelBroker::create_topic`] on a subscribed topic bumps at once); a target
//! assignment recomputed by the server assignor when the group epoch is ahead (`uniform`, the
//! default: sticky, then balanced; `range`; the members' most requested one; another name is
//! `UNSUPPORTED_ASSIGNOR`); subscriptions by name and by v1 regex (full match, `regex` crate
//! syntax; invalid: `INVALID_REGULAR_EXPRESSION`, Kafka's code 128); per-member reconciliation
//! (states of [`ConsumerMemberState`]: revoke first at the old epoch, then move to the target
//! epoch and receive a partition only once its previous owner's heartbeat no longer lists
//! it); the response's assignment is the full set usable now, sent after a join, a full
//! request, an error or a change, else null; rebalance-timeout fencing of a member stuck
//! revoking; session expiry ([`BrokerConfig::consumer_session_timeout_ms`], 45 s) and the
//! heartbeat interval ([`BrokerConfig::consumer_heartbeat_interval_ms`], 5 s); leave with -1;
//! static members (-2 keeps the assignment reserved until the session expires, a replacement
//! takes it over, `UNRELEASED_INSTANCE_ID` while the old instance is active,
//! `FENCED_INSTANCE_ID` for another member id); `GROUP_MAX_SIZE_REACHED`. OffsetCommit to a
//! consumer group checks the member and its epoch (`UNKNOWN_MEMBER_ID`, `STALE_MEMBER_EPOCH`,
//! `UNSUPPORTED_VERSION` below v9; epoch -1 only for an empty group), and so does OffsetFetch
//! v9+ with a member epoch other than -1. One group id, one protocol: a classic JoinGroup to a
//! consumer group with members gets `INCONSISTENT_GROUP_PROTOCOL` (SyncGroup, Heartbeat and
//! LeaveGroup: `UNKNOWN_MEMBER_ID`), a ConsumerGroupHeartbeat to a classic group with members
//! `GROUP_ID_NOT_FOUND` (Kafka's answer when online conversion is not possible); an empty
//! group of either kind is taken over by the other protocol with its offsets. Introspection:
//! [`ModelBroker::consumer_group`] ([`ConsumerGroupView`]: epochs, members with epoch, state,
//! assigned, pending revocation and target, partition owners with their epochs) and
//! [`ModelBroker::consumer_group_epochs`].
//!
//! Fault injection: [`ModelBroker::inject_error`], [`ModelBroker::set_coordinator_available`],
//! [`ModelBroker::set_not_coordinator`]. Introspection: [`ModelBroker::group`],
//! [`ModelBroker::committed`], [`ModelBroker::transitions`], [`ModelBroker::stats`].
//!
//! Not modelled: Produce (tests append directly), compression, transactions and control
//! batches, fetch sessions (KIP-227), retention, compaction and log truncation (the log start
//! offset stays 0), preferred read replicas, a partial last batch cut at the byte limit (Kafka
//! may send one; the model sends whole batches only), topic auto-creation, replication and other
//! brokers, authentication and ACLs, throttling, group deletion and the `Dead` state, offset
//! retention, coordinator loading (`COORDINATOR_LOAD_IN_PROGRESS`), storage write failures,
//! transactional offsets (`require_stable` is ignored), `ConsumerGroupDescribe`, KIP-848's
//! mixed groups (classic members inside a consumer group) and online migration, rack-aware
//! server assignors, KIP-1251 assignment epochs, `DescribeGroups`/`ListGroups`, the broker's
//! idle-connection expiry, and the `UNKNOWN_TOPIC_OR_PARTITION` check of partition numbers
//! in the group APIs (only topic names or ids are checked there; Fetch and ListOffsets check
//! partitions). As in Kafka, a parked request that is superseded (a second JoinGroup or
//! SyncGroup of the same member, on another connection) or whose member is removed while its
//! SyncGroup is parked is never answered, so its connection stays blocked;
//! [`BrokerStats::abandoned_requests`] counts them.
//!
//! # Run loop
//!
//! ```
//! use bytes::BytesMut;
//! use kafka_wire::generated::ApiVersionsRequest;
//! use kafka_wire::{AnyResponse, ClientCodec, frame};
//! use testkit::{BrokerConfig, ModelBroker};
//!
//! let mut broker = ModelBroker::new(BrokerConfig::default());
//! broker.create_topic("orders", 3);
//! let mut client = ClientCodec::new(Some("app".into()));
//!
//! // The client writes a size-prefixed frame; the broker takes it without the prefix.
//! let mut wire = BytesMut::new();
//! client.encode_request(&ApiVersionsRequest::default(), 3, &mut wire)?;
//! let request = frame::split(&mut wire, frame::DEFAULT_MAX_FRAME)?.expect("one whole frame");
//! let now = 0;
//! broker.handle_frame(now, 7, request);
//!
//! // Drain the output after every input; wake up again at `poll_timeout`.
//! while let Some((conn, response)) = broker.poll_output() {
//!     assert_eq!(conn, 7);
//!     let (_, _, _, body) = client.decode_response(response)?;
//!     assert!(matches!(body, AnyResponse::ApiVersions(r) if r.error_code == 0));
//! }
//! if let Some(deadline) = broker.poll_timeout() {
//!     broker.handle_timeout(deadline);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The network
//!
//! [`NetSim`] carries frames between [`EndpointId`]s with a per-frame delay drawn from a
//! [`SplitMix64`] seeded by the caller, keeps each connection's direction in order, and can
//! lose frames or break connections at random or on demand.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod assignors;
mod broker;
mod consumer_group;
mod coordinator;
mod netsim;
pub mod process;
mod responses;
mod storage;
pub mod tcp;
pub mod world;

pub use broker::{BrokerConfig, BrokerError, BrokerErrorKind, BrokerStats, ModelBroker};
pub use consumer_group::{
    ConsumerGroupState, ConsumerGroupView, ConsumerMemberState, ConsumerMemberView,
    SERVER_ASSIGNORS,
};
pub use coordinator::{GroupState, GroupView, MemberView, Transition};
pub use netsim::{Delivery, EndpointId, NetConfig, NetSim, NetStats, SplitMix64};
pub use storage::AppendError;

/// A connection id chosen by the caller; never reuse one after a disconnect.
pub type ConnId = u64;
