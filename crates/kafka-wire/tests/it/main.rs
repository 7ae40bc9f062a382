//! kafka-wire integration tests (one binary): property round trips, golden captures, hostile input.
#![cfg(all(feature = "testing", feature = "serde"))]

mod golden;
mod hostile;
mod roundtrip;
