//! The `--script` language of `kgroup simulate`: timed membership events.
//!
//! ```text
//! script := event (";" event)*          empty events (";;", a trailing ";") are ignored
//! event  := time verb argument
//! time   := digits ("s" | "ms")          virtual time since the start, e.g. 30s, 1500ms
//! verb   := "join" N | ("leave" | "crash" | "restart") (N | "#" I)
//! ```
//!
//! `N` is a count: `crash 1` stops the newest running member, `leave 2` the two newest,
//! `restart 1` brings back the member that stopped last. `#I` names member I: members are
//! numbered from 0 in the order they join (the `--members` ones first, then each `join` in
//! script order). Events must be in time order; events at the same time run in
//! script order.

use core::fmt;

/// What happens to the group at a scripted time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    /// `join N`: N new members.
    Join(usize),
    /// `leave I`: member I closes cleanly (LeaveGroup).
    Leave(usize),
    /// `crash I`: member I stops without leaving; the coordinator notices after the session
    /// timeout.
    Crash(usize),
    /// `restart I`: member I comes back after a crash or leave (static: same instance id).
    Restart(usize),
    /// `leave N`: the N newest running members leave (resolved into `Leave` by [`validate`]).
    LeaveCount(usize),
    /// `crash N`: the N newest running members crash (resolved into `Crash`).
    CrashCount(usize),
    /// `restart N`: the N members that stopped last come back (resolved into `Restart`).
    RestartCount(usize),
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Join(n) => write!(f, "join {n}"),
            Self::Leave(i) => write!(f, "leave #{i}"),
            Self::Crash(i) => write!(f, "crash #{i}"),
            Self::Restart(i) => write!(f, "restart #{i}"),
            Self::LeaveCount(n) => write!(f, "leave {n}"),
            Self::CrashCount(n) => write!(f, "crash {n}"),
            Self::RestartCount(n) => write!(f, "restart {n}"),
        }
    }
}

/// One scripted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScriptEvent {
    /// Virtual time (ms).
    pub(crate) at_ms: u64,
    /// What happens.
    pub(crate) verb: Verb,
    /// The event as written (trimmed), for messages.
    pub(crate) text: String,
}

/// Largest time accepted in a script: one week of virtual time.
const MAX_TIME_MS: u64 = 7 * 24 * 3600 * 1000;

/// Largest `join N`.
pub(crate) const MAX_JOIN: usize = 1000;

/// Parses a script. Errors name the event (its position and text).
pub(crate) fn parse(script: &str) -> Result<Vec<ScriptEvent>, String> {
    let mut events: Vec<ScriptEvent> = Vec::new();
    for (position, raw) in script.split(';').enumerate() {
        let text = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            continue;
        }
        let fail = |why: String| format!("script event {} ({text:?}): {why}", position + 1);
        let words: Vec<&str> = text.split(' ').collect();
        let [time, verb, argument] = words.as_slice() else {
            return Err(fail(
                "expected `<time>(s|ms) <verb> <number>`, e.g. `30s join 2`".to_owned(),
            ));
        };
        let at_ms = parse_time(time).map_err(&fail)?;
        let (index, digits) = match argument.strip_prefix('#') {
            Some(d) => (true, d),
            None => (false, *argument),
        };
        let n: usize = digits.parse().map_err(|_| {
            fail(format!(
                "{argument:?} is not a number (a member count, or #I for member I)"
            ))
        })?;
        let verb = match verb.to_ascii_lowercase().as_str() {
            "join" if index => return Err(fail("join takes a count, not #I".to_owned())),
            "join" if n == 0 => return Err(fail("join needs at least 1 member".to_owned())),
            "join" if n > MAX_JOIN => {
                return Err(fail(format!("join takes at most {MAX_JOIN} members")));
            }
            "join" => Verb::Join(n),
            "leave" | "crash" | "restart" if !index && n == 0 => {
                return Err(fail(format!("{verb} needs a count of at least 1, or #I")));
            }
            "leave" if index => Verb::Leave(n),
            "crash" if index => Verb::Crash(n),
            "restart" if index => Verb::Restart(n),
            "leave" => Verb::LeaveCount(n),
            "crash" => Verb::CrashCount(n),
            "restart" => Verb::RestartCount(n),
            other => {
                return Err(fail(format!(
                    "unknown verb {other:?} (expected join, leave, crash or restart)"
                )));
            }
        };
        if let Some(prev) = events.last().filter(|p| p.at_ms > at_ms) {
            return Err(fail(format!(
                "events must be in time order, but the previous event ({:?}) is later",
                prev.text
            )));
        }
        events.push(ScriptEvent { at_ms, verb, text });
    }
    Ok(events)
}

fn parse_time(word: &str) -> Result<u64, String> {
    let (digits, scale) = if let Some(d) = word.strip_suffix("ms") {
        (d, 1)
    } else if let Some(d) = word.strip_suffix('s') {
        (d, 1000)
    } else {
        return Err(format!(
            "time {word:?} needs a unit: `s` or `ms` (e.g. 30s, 1500ms)"
        ));
    };
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("time {word:?} is not a whole number of seconds or milliseconds"))?;
    match value.checked_mul(scale) {
        Some(ms) if ms <= MAX_TIME_MS => Ok(ms),
        _ => Err(format!("time {word:?} is beyond one week")),
    }
}

/// What a member is doing, as far as the script is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Running (joining or in the group).
    Live,
    /// Crashed (`crash`).
    Crashed,
    /// Left the group (`leave`).
    Left,
}

/// Checks that every event names a member that exists and can do it at that point: `leave`
/// and `crash` need a live member, `restart` one that crashed or left.
pub(crate) fn validate(
    events: &mut Vec<ScriptEvent>,
    initial: usize,
    max_members: usize,
) -> Result<(), String> {
    resolve_counts(events, initial)?;
    let mut members = vec![Status::Live; initial];
    for (k, e) in events.iter().enumerate() {
        let fail = |why: String| format!("script event {:?} at {} ms: {why}", e.text, e.at_ms);
        match e.verb {
            Verb::Join(n) => {
                if members.len() + n > max_members {
                    return Err(fail(format!(
                        "more than {max_members} members in one simulation"
                    )));
                }
                members.extend(core::iter::repeat_n(Status::Live, n));
            }
            Verb::LeaveCount(_) | Verb::CrashCount(_) | Verb::RestartCount(_) => {
                unreachable!("resolved by resolve_counts")
            }
            Verb::Leave(i) | Verb::Crash(i) | Verb::Restart(i) => {
                let Some(status) = members.get_mut(i) else {
                    return Err(fail(format!(
                        "no member {i}: members 0..{} exist at that point{}",
                        members.len(),
                        if k == 0 && members.is_empty() {
                            " (none yet: start with `0s join N` or --members N)"
                        } else {
                            ""
                        }
                    )));
                };
                let restart = matches!(e.verb, Verb::Restart(_));
                match (*status, restart) {
                    (Status::Live, false) => {
                        *status = if matches!(e.verb, Verb::Leave(_)) {
                            Status::Left
                        } else {
                            Status::Crashed
                        };
                    }
                    (Status::Crashed | Status::Left, true) => *status = Status::Live,
                    (Status::Live, true) => {
                        return Err(fail(format!(
                            "member {i} is running; restart needs a member that crashed or left"
                        )));
                    }
                    (s, false) => {
                        return Err(fail(format!(
                            "member {i} already {} (restart it first)",
                            if s == Status::Crashed {
                                "crashed"
                            } else {
                                "left"
                            }
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Rewrites `leave N` / `crash N` (the N newest running members) and `restart N` (the N
/// members that stopped last) into events naming members, in place.
fn resolve_counts(events: &mut Vec<ScriptEvent>, initial: usize) -> Result<(), String> {
    let mut running: Vec<bool> = vec![true; initial];
    let mut stopped: Vec<usize> = Vec::new();
    let mut out = Vec::with_capacity(events.len());
    for e in events.drain(..) {
        let fail = |why: String| format!("script event {:?} at {} ms: {why}", e.text, e.at_ms);
        let (count, kind) = match e.verb {
            Verb::Join(n) => {
                running.extend(core::iter::repeat_n(true, n));
                out.push(e);
                continue;
            }
            Verb::Leave(i) | Verb::Crash(i) => {
                if let Some(r) = running.get_mut(i) {
                    if *r {
                        *r = false;
                        stopped.push(i);
                    }
                }
                out.push(e);
                continue;
            }
            Verb::Restart(i) => {
                if let Some(r) = running.get_mut(i) {
                    if !*r {
                        *r = true;
                        stopped.retain(|&s| s != i);
                    }
                }
                out.push(e);
                continue;
            }
            Verb::LeaveCount(n) => (n, 0),
            Verb::CrashCount(n) => (n, 1),
            Verb::RestartCount(n) => (n, 2),
        };
        for _ in 0..count {
            let verb = if kind == 2 {
                let Some(i) = stopped.pop() else {
                    return Err(fail("not that many stopped members to restart".to_owned()));
                };
                running[i] = true;
                Verb::Restart(i)
            } else {
                let Some(i) = running.iter().rposition(|&r| r) else {
                    return Err(fail("not that many running members".to_owned()));
                };
                running[i] = false;
                stopped.push(i);
                if kind == 0 {
                    Verb::Leave(i)
                } else {
                    Verb::Crash(i)
                }
            };
            out.push(ScriptEvent {
                at_ms: e.at_ms,
                verb,
                text: e.text.clone(),
            });
        }
    }
    *events = out;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_issue_example() {
        let e = parse("0s join 3; 30s join 2; 60s crash 1; 90s leave 1;").expect("valid");
        assert_eq!(e.len(), 4);
        assert_eq!(e[1].at_ms, 30_000);
        assert_eq!(e[1].verb, Verb::Join(2));
        assert_eq!(e[2].verb, Verb::CrashCount(1));
        assert_eq!(e[3].verb, Verb::LeaveCount(1));
        assert_eq!(parse("1500ms  restart   4").expect("valid")[0].at_ms, 1500);
        assert!(parse("").expect("empty is fine").is_empty());
    }

    #[test]
    fn errors_name_the_event() {
        for (script, needle) in [
            ("10s join 1; 5x crash 0", "script event 2 (\"5x crash 0\")"),
            ("10 join 1", "needs a unit"),
            ("10s jump 1", "unknown verb"),
            ("10s join", "expected"),
            ("10s join 0", "at least 1"),
            ("10s join two", "not a number"),
            ("20s join 1; 10s join 1", "time order"),
            ("99999999999999s join 1", "beyond"),
        ] {
            let err = parse(script).expect_err(script);
            assert!(err.contains(needle), "{script}: {err}");
        }
    }

    #[test]
    fn validation_follows_member_status() {
        let ok = parse("1s crash #0; 2s restart #0; 3s join 1; 4s leave #3").expect("valid");
        validate(&mut ok.clone(), 3, 100).expect("valid");
        for (script, needle) in [
            ("1s crash #3", "no member 3"),
            ("1s crash #0; 2s leave #0", "already crashed"),
            ("1s restart #0", "is running"),
            ("1s join 98", "more than 100"),
        ] {
            let events = parse(script).expect("parses");
            let err = validate(&mut events.clone(), 3, 100).expect_err(script);
            assert!(err.contains(needle), "{script}: {err}");
        }
    }
}

#[cfg(test)]
mod count_tests {
    use super::*;

    #[test]
    fn counts_pick_the_newest_running_and_the_last_stopped() {
        let mut e = parse("0s join 3; 30s join 2; 60s crash 1; 90s leave 1; 100s restart 2")
            .expect("valid");
        validate(&mut e, 0, 100).expect("valid");
        let verbs: Vec<Verb> = e.iter().map(|e| e.verb).collect();
        assert_eq!(
            verbs,
            vec![
                Verb::Join(3),
                Verb::Join(2),
                Verb::Crash(4),
                Verb::Leave(3),
                Verb::Restart(3),
                Verb::Restart(4),
            ]
        );
        let mut too_many = parse("1s crash 4").expect("parses");
        assert!(
            validate(&mut too_many, 3, 100)
                .unwrap_err()
                .contains("not that many running")
        );
        assert!(parse("1s crash 0").unwrap_err().contains("at least 1"));
        assert!(parse("1s join #2").unwrap_err().contains("count"));
    }
}
