//! The member's timers: a fixed table, the next deadline is its minimum (as in quinn).

use crate::time::Instant;

/// Every timer of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// When to send the next heartbeat (`heartbeat.interval`).
    Heartbeat = 0,
    /// When to give up on the coordinator: no successful heartbeat for `session.timeout`.
    Session = 1,
    /// When the app has not polled for `max.poll.interval`: leave the group.
    PollInterval = 2,
    /// When to retry after a backoff.
    Backoff = 3,
    /// When to auto-commit the app's positions.
    AutoCommit = 4,
    /// When to refresh topic metadata.
    Metadata = 5,
    /// The classic member's earliest SyncGroup (`Config::leader_sync_delay` for the leader,
    /// `Config::follower_sync_delay` for a follower).
    LeaderSync = 6,
}

const ALL: [Timer; 7] = [
    Timer::Heartbeat,
    Timer::Session,
    Timer::PollInterval,
    Timer::Backoff,
    Timer::AutoCommit,
    Timer::Metadata,
    Timer::LeaderSync,
];

/// Deadlines per timer.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable([Option<Instant>; 7]);

impl TimerTable {
    pub(crate) fn set(&mut self, t: Timer, at: Instant) {
        self.0[t as usize] = Some(at);
    }

    pub(crate) fn cancel(&mut self, t: Timer) {
        self.0[t as usize] = None;
    }

    pub(crate) fn is_set(&self, t: Timer) -> bool {
        self.0[t as usize].is_some()
    }

    pub(crate) fn clear(&mut self) {
        self.0 = [None; 7];
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }

    /// Removes and returns one timer due at `now` (earliest first).
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        let t = ALL
            .iter()
            .filter(|t| self.0[**t as usize].is_some_and(|at| at <= now))
            .min_by_key(|t| self.0[**t as usize])
            .copied()?;
        self.0[t as usize] = None;
        Some(t)
    }
}
