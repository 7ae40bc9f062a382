//! A sans-IO state machine for one member of a Kafka consumer group: the classic protocol
//! and KIP-848's consumer protocol ([`Config::group_protocol`]).
//!
//! [`Member`] consumes [`Input`]s (responses tagged with the [`RequestId`] it chose, transport
//! failures, app commands) and the current time, and emits an ordered queue of [`Action`]s:
//! requests to send (each says where and whether the broker may hold it) and [`Event`]s for the
//! application (partitions assigned, revoked, lost; commits; errors). No IO, no clock, no
//! threads: the same inputs at the same times always give the same actions.
//!
//! # Run loop
//!
//! After any `&mut self` call, drain [`Member::poll_action`] to `None`, then wait for the next
//! response or until [`Member::poll_timeout`]. `Send::held_for` marks requests the broker may
//! hold (JoinGroup, SyncGroup): keep them off the connection that carries heartbeats. On a
//! request timeout, close that connection. See `docs/group-fsm.md`.
//!
//! ```
//! use group_fsm::assignor::RangeAssignor;
//! use group_fsm::{Action, Config, Event, Input, Instant, Member};
//!
//! let mut config = Config::new("orders-group");
//! config.client_id = "example".into();
//! let mut member = Member::new(config, vec![Box::new(RangeAssignor)], Instant::ZERO);
//! member.handle(Instant::ZERO, Input::Subscribe(vec!["orders".into()]));
//!
//! let mut sent = Vec::new();
//! while let Some(action) = member.poll_action() {
//!     match action {
//!         // A real transport encodes `s.request` at `s.version` (kafka-wire's ClientCodec),
//!         // sends it to `s.to`, and later answers with Input::Response or Input::Failed.
//!         Action::Send(s) => sent.push((s.id, s.request.api_key(), s.held_for.is_some())),
//!         Action::Event(Event::Revoke { .. }) => {
//!             // stop fetching, commit, then:
//!             member.handle(Instant::ZERO, Input::RevocationDone);
//!         }
//!         Action::Event(_) => {}
//!     }
//! }
//! // First it asks any broker for metadata and for the group coordinator.
//! let apis: Vec<_> = sent.iter().map(|(_, api, _)| api.name()).collect();
//! assert_eq!(apis, ["Metadata", "FindCoordinator"]);
//! assert!(member.poll_timeout().is_some());
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod assignor;
mod backoff;
mod config;
mod consumer;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod group;
mod io;
mod member;
mod requests;
mod table;
mod time;
mod timer;
pub mod vec_map;

pub use config::{Config, GroupProtocol, SyncOrder};
pub use consumer::ConsumerState;
pub use error::{GroupError, UsageError};
pub use group::Member;
pub use io::{Action, Destination, Event, Input, Offset, RequestId, Send, TransportError};
pub use member::StateKind;
pub use time::Instant;
