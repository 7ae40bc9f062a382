//! A sans-IO Kafka consumer core for thin runtime adapters.
//!
//! `group-fsm` decides what a group member says to its coordinator; this crate decides
//! everything else a consumer needs that still involves protocol knowledge, so that the
//! adapters (`kafka-std`, `kafka-tokio`) only move bytes and read the clock:
//!
//! * [`net`]: which connections to open (bootstrap, one per broker, plus a separate lane for
//!   requests the broker may hold), ApiVersions negotiation on each (with the KIP-511 fallback
//!   and the malformed error replies some brokers send), framing, correlation ids, request
//!   timeouts and reconnect backoff.
//! * [`fetch`]: the fetch positions of the assigned partitions, offset resets by ListOffsets,
//!   one Fetch per leader at a time, record decoding and per-partition error handling.
//! * [`consumer`]: a [`group_fsm::Member`] and a [`fetch::Fetcher`] wired to those
//!   connections ([`Consumer`]).
//! * [`group_set`]: many groups in one client over shared connections ([`GroupSet`]), with
//!   held lanes so that no heartbeat waits behind a parked JoinGroup, and shared fetches.
//!
//! No IO, no clock, no threads: the caller feeds [`net::IoEvent`]s and the current time, and
//! drains [`net::Io`] instructions.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod consumer;
pub mod fetch;
pub mod group_set;
pub mod net;

pub use consumer::{Consumer, ConsumerConfig, ConsumerEvent};
pub use group_set::{GroupHandle, GroupSet, GroupSetConfig, GroupSpec, LanePolicy};
