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

/// What an adapter drives: a [`Consumer`] or a [`GroupSet`]. The adapter executes every
/// [`net::Io`] from [`poll_io`](Core::poll_io), reports socket activity with
/// [`handle_io`](Core::handle_io), calls [`handle_timeout`](Core::handle_timeout) when
/// [`poll_timeout`](Core::poll_timeout) passes, and hands [`poll_event`](Core::poll_event)'s
/// events to the app.
pub trait Core {
    /// What the app gets.
    type Event;
    /// Takes what a socket did.
    fn handle_io(&mut self, now: group_fsm::Instant, event: net::IoEvent);
    /// Acts on deadlines at or before `now`.
    fn handle_timeout(&mut self, now: group_fsm::Instant);
    /// The next thing the adapter must do.
    fn poll_io(&mut self) -> Option<net::Io>;
    /// The next event for the app.
    fn poll_event(&mut self) -> Option<Self::Event>;
    /// When to call [`handle_timeout`](Core::handle_timeout) next.
    fn poll_timeout(&self) -> Option<group_fsm::Instant>;
    /// The app is alive (it took events).
    fn poll(&mut self, now: group_fsm::Instant);
    /// Leaves cleanly (every group).
    fn close(&mut self, now: group_fsm::Instant);
    /// Whether everything stopped (closed or fatal).
    fn is_closed(&self) -> bool;
}

/// `Core` by the inherent methods of the same names.
macro_rules! core_by_inherent {
    ($ty:ty, $event:ty, $closed:ident) => {
        impl Core for $ty {
            type Event = $event;
            fn handle_io(&mut self, now: group_fsm::Instant, event: net::IoEvent) {
                Self::handle_io(self, now, event);
            }
            fn handle_timeout(&mut self, now: group_fsm::Instant) {
                Self::handle_timeout(self, now);
            }
            fn poll_io(&mut self) -> Option<net::Io> {
                Self::poll_io(self)
            }
            fn poll_event(&mut self) -> Option<$event> {
                Self::poll_event(self)
            }
            fn poll_timeout(&self) -> Option<group_fsm::Instant> {
                Self::poll_timeout(self)
            }
            fn poll(&mut self, now: group_fsm::Instant) {
                Self::poll(self, now);
            }
            fn close(&mut self, now: group_fsm::Instant) {
                Self::close(self, now);
            }
            fn is_closed(&self) -> bool {
                Self::$closed(self)
            }
        }
    };
}

core_by_inherent!(Consumer, ConsumerEvent, is_closed);
core_by_inherent!(GroupSet, (GroupHandle, ConsumerEvent), all_closed);
