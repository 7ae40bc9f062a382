//! Fuzz entry point: a member driven by arbitrary configuration and timed inputs.
//!
//! The bytes choose the configuration and a sequence of `(delay, input)` where inputs include
//! app commands, transport failures and responses, both well-formed (random valid bodies of
//! the right or the wrong API) and answering requests the member really sent. Checked: no
//! panic, every `handle_timeout` leaves no timer due (no livelock), the action queue stays
//! bounded, and a failed or closed member stays so.

use alloc::boxed::Box;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use kafka_wire::testing::Gen;
use kafka_wire::{AnyResponse, ApiKey};

use crate::assignor::{RangeAssignor, RoundRobinAssignor, TopicPartition};
use crate::{Action, Config, Input, Instant, Member, Offset, RequestId, StateKind, TransportError};

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from(self.u8()) << 8 | u16::from(self.u8())
    }
}

/// Runs one fuzz case; returns a bitmask of the states the member went through
/// (bit = `StateKind as u8`), so tests can check the inputs reach deep states.
pub fn group_inputs(data: &[u8]) -> u32 {
    run(data, crate::GroupProtocol::Classic)
}

/// As [`group_inputs`], for a KIP-848 member (`group.protocol=consumer`, no assignors).
pub fn consumer_inputs(data: &[u8]) -> u32 {
    run(data, crate::GroupProtocol::Consumer)
}

fn run(data: &[u8], protocol: crate::GroupProtocol) -> u32 {
    let mut seen = 0u32;
    let mut b = Bytes(data);
    let mut config = Config::new("fuzz-group");
    config.session_timeout = Duration::from_millis(u64::from(b.u16()) * 10 + 1);
    config.heartbeat_interval = Duration::from_millis(u64::from(b.u16()) + 1);
    config.max_poll_interval = Duration::from_millis(u64::from(b.u16()) * 100 + 1);
    config.auto_commit = b.u8() & 1 == 1;
    if b.u8() & 1 == 1 {
        config.group_instance_id = Some("fuzz-instance".to_string());
    }
    config.rng_seed = u64::from(b.u16());
    config.group_protocol = protocol;
    let assignors: Vec<Box<dyn crate::assignor::Assignor>> = if b.u8() & 1 == 1 {
        vec![Box::new(RangeAssignor), Box::new(RoundRobinAssignor)]
    } else {
        vec![Box::new(RoundRobinAssignor)]
    };
    let mut now = Instant::ZERO;
    let assignors = if protocol == crate::GroupProtocol::Consumer {
        Vec::new()
    } else {
        assignors
    };
    let mut m = Member::new(config, assignors, now);
    let mut sent: Vec<(RequestId, ApiKey)> = Vec::new();
    let mut g = Gen::new(u64::from(b.u16()));
    let mut steps = 0;
    while !b.0.is_empty() && steps < 500 {
        steps += 1;
        now += Duration::from_millis(u64::from(b.u8()) * u64::from(b.u8()));
        let was_final = matches!(m.state(), StateKind::Failed | StateKind::Closed);
        let input = match b.u8() % 16 {
            0 => Input::Subscribe(vec!["t0".to_string(), "t1".to_string()]),
            1 => Input::Subscribe(vec![]),
            2 => Input::Poll,
            3 => Input::RevocationDone,
            4 => Input::Commit(vec![Offset::new(
                TopicPartition::new("t0", 0),
                i64::from(b.u8()),
            )]),
            5 => Input::Positions(vec![Offset::new(
                TopicPartition::new("t1", 1),
                i64::from(b.u8()),
            )]),
            6 => Input::FetchCommitted(vec![TopicPartition::new("t0", 0)]),
            7 if b.u8() % 8 == 0 => Input::Close,
            8 => Input::Unsubscribe,
            9 | 10 if !sent.is_empty() => {
                let (id, _) = sent.remove(usize::from(b.u8()) % sent.len());
                Input::Failed {
                    id,
                    error: if b.u8() & 1 == 0 {
                        TransportError::Disconnected
                    } else {
                        TransportError::TimedOut
                    },
                }
            }
            11..=14 if !sent.is_empty() => {
                // A random valid response of the API the request was (usually), or of another.
                let (id, key) = sent.remove(usize::from(b.u8()) % sent.len());
                let key = if b.u8() % 8 == 0 {
                    ApiKey::ALL[usize::from(b.u8()) % ApiKey::ALL.len()]
                } else {
                    key
                };
                let v = AnyResponse::versions(key).max;
                let mut response = AnyResponse::random(key, v, &mut g);
                make_plausible(&mut response, b.u8());
                tweak_error(&mut response, b.u8());
                Input::Response { id, response }
            }
            _ => {
                m.handle_timeout(now);
                drain(&mut m, &mut sent);
                check_timers(&m, now);
                continue;
            }
        };
        m.handle(now, input);
        seen |= 1 << (m.state() as u32);
        drain(&mut m, &mut sent);
        if was_final {
            assert!(
                matches!(m.state(), StateKind::Failed | StateKind::Closed),
                "left a final state"
            );
        }
        m.handle_timeout(now);
        drain(&mut m, &mut sent);
        check_timers(&m, now);
    }
    seen
}

/// Most of the time, turn a random body into one the member can make progress with.
fn make_plausible(r: &mut AnyResponse, pick: u8) {
    if pick % 4 == 0 {
        return;
    }
    match r {
        AnyResponse::FindCoordinator(x) => {
            for c in &mut x.coordinators {
                c.error_code = 0;
            }
            x.coordinators.truncate(1);
        }
        AnyResponse::JoinGroup(x) => {
            x.protocol_type = Some("consumer".into());
            x.protocol_name = Some(if pick % 2 == 0 { "range" } else { "roundrobin" }.into());
            x.member_id = "m-1".into();
            x.leader = if pick % 3 == 0 {
                "m-1".into()
            } else {
                "m-0".into()
            };
            for (i, m) in x.members.iter_mut().enumerate() {
                m.member_id = if i == 0 { "m-1".into() } else { "m-2".into() };
            }
        }
        AnyResponse::Metadata(x) => {
            for (i, t) in x.topics.iter_mut().enumerate() {
                t.error_code = 0;
                t.name = Some(if i % 2 == 0 { "t0" } else { "t1" }.into());
                t.topic_id = kafka_wire::Uuid([(i % 2) as u8 + 1; 16]);
            }
        }
        AnyResponse::ConsumerGroupHeartbeat(x) => {
            x.member_epoch = i32::from(pick % 5);
            x.heartbeat_interval_ms = 100;
            if let Some(a) = &mut x.assignment {
                for (i, t) in a.topic_partitions.iter_mut().enumerate() {
                    t.topic_id = kafka_wire::Uuid([(i % 3) as u8 + 1; 16]);
                    t.partitions = (0..i32::from(pick % 3)).collect();
                }
            }
        }
        AnyResponse::OffsetCommit(x) => {
            for t in &mut x.topics {
                t.name = "t1".into();
                for p in &mut t.partitions {
                    p.error_code = if pick % 3 == 0 { 113 } else { 0 };
                }
            }
        }
        AnyResponse::SyncGroup(x) => {
            x.protocol_type = Some("consumer".into());
            x.protocol_name = Some(if pick % 2 == 0 { "range" } else { "roundrobin" }.into());
            let a = crate::assignor::Assignment {
                partitions: vec![TopicPartition::new("t0", i32::from(pick % 3))],
                user_data: None,
            };
            x.assignment =
                crate::assignor::consumer_protocol::encode_assignment(&a, 0).unwrap_or_default();
        }
        _ => {}
    }
}

/// Sets a plausible error code on group responses, so error paths are reached often.
fn tweak_error(r: &mut AnyResponse, pick: u8) {
    const CODES: [i16; 20] = [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 16, 22, 25, 27, 79, 82, 14,
    ];
    let code = CODES[usize::from(pick) % CODES.len()];
    match r {
        AnyResponse::JoinGroup(x) => x.error_code = code,
        AnyResponse::SyncGroup(x) => x.error_code = code,
        AnyResponse::Heartbeat(x) => x.error_code = code,
        AnyResponse::ConsumerGroupHeartbeat(x) => {
            const CGHB: [i16; 8] = [110, 25, 16, 15, 14, 113, 42, 0];
            x.error_code = if code == 0 {
                0
            } else {
                CGHB[usize::from(pick) % CGHB.len()]
            };
        }
        AnyResponse::FindCoordinator(x) => {
            x.error_code = code;
            for c in &mut x.coordinators {
                c.error_code = code;
            }
        }
        _ => {}
    }
}

fn drain(m: &mut Member, sent: &mut Vec<(RequestId, ApiKey)>) {
    let mut n = 0;
    while let Some(a) = m.poll_action() {
        n += 1;
        assert!(n < 10_000, "unbounded action queue");
        if let Action::Send(s) = a {
            sent.push((s.id, s.request.api_key()));
        }
    }
}

fn check_timers(m: &Member, now: Instant) {
    if let Some(t) = m.poll_timeout() {
        assert!(
            t > now,
            "timer due at {t} still pending after handle_timeout({now})"
        );
    }
}
