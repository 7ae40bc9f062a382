//! A sans-IO state machine for one member of a Kafka consumer group (classic protocol).
//!
//! [`Member`] consumes [`Input`]s (responses tagged with the [`RequestId`] it chose, transport
//! failures, app commands) and the current time, and emits an ordered queue of [`Action`]s:
//! requests to send (each says where and whether the broker may hold it) and [`Event`]s for the
//! application (partitions assigned, revoked, lost; commits; errors). No IO, no clock, no
//! threads: the same inputs at the same times always give the same actions.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod assignor;
mod backoff;
mod config;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod io;
mod member;
mod table;
mod time;
mod timer;

pub use config::Config;
pub use error::{GroupError, UsageError};
pub use io::{Action, Destination, Event, Input, Offset, RequestId, Send, TransportError};
pub use member::{Member, StateKind};
pub use time::Instant;
