//! A seeded, sans-IO network: byte frames between numbered endpoints with a random delay,
//! optional loss and disconnects. Same seed, same inputs: same deliveries.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::ConnId;

/// SplitMix64: a tiny, fast, deterministic PRNG (not for cryptography).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator from `seed`.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi` (`lo` if `hi < lo`).
    pub fn range_inclusive(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.next_u64() % span,
            None => self.next_u64(),
        }
    }

    /// A uniform float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
        (self.next_u64() >> 11) as f64 * SCALE
    }

    /// True with probability `p` (no randomness is drawn when `p <= 0`).
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }
}

/// An endpoint (a client, the broker, ...) on the simulated network.
pub type EndpointId = u32;

/// Network behaviour.
#[derive(Debug, Clone, PartialEq)]
pub struct NetConfig {
    /// Smallest one-way delay (ms), default 1.
    pub min_delay_ms: u64,
    /// Largest one-way delay (ms), default 5.
    pub max_delay_ms: u64,
    /// Chance that a frame silently vanishes while its connection stays up (default 0). On
    /// TCP this models a peer that never answers, which clients must time out.
    pub drop_probability: f64,
    /// Chance that sending a frame breaks its connection instead (default 0).
    pub disconnect_probability: f64,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            min_delay_ms: 1,
            max_delay_ms: 5,
            drop_probability: 0.0,
            disconnect_probability: 0.0,
        }
    }
}

/// Something the network delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A frame arrives at `to`.
    Frame {
        /// Arrival time (ms).
        at_ms: u64,
        /// Sender.
        from: EndpointId,
        /// Receiver.
        to: EndpointId,
        /// The connection it travelled on.
        conn: ConnId,
        /// The bytes as sent.
        frame: Bytes,
    },
    /// The connection broke; both ends should learn it now. Frames still in flight on it
    /// were lost, and later sends on it are dropped.
    Disconnected {
        /// When (ms).
        at_ms: u64,
        /// The connection.
        conn: ConnId,
    },
}

impl Delivery {
    /// When it happens (ms).
    #[must_use]
    pub const fn at_ms(&self) -> u64 {
        match self {
            Self::Frame { at_ms, .. } | Self::Disconnected { at_ms, .. } => *at_ms,
        }
    }
}

/// Network counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NetStats {
    /// Frames handed to [`NetSim::send`].
    pub sent: u64,
    /// Frames delivered.
    pub delivered: u64,
    /// Frames lost (random drop, sent on a broken connection, or in flight when it broke).
    pub dropped: u64,
    /// Connections broken.
    pub disconnects: u64,
}

/// A deterministic network simulator.
///
/// Frames on one connection in one direction keep their order (like TCP): a frame never
/// arrives before one sent earlier in the same direction. Drive it like the broker: after
/// sending, take [`poll_deliver`](Self::poll_deliver) until `None`, and come back at
/// [`next_delivery_time`](Self::next_delivery_time).
#[derive(Debug, Clone)]
pub struct NetSim {
    cfg: NetConfig,
    rng: SplitMix64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Delivery>,
    tail: BTreeMap<(ConnId, EndpointId), u64>,
    down: BTreeSet<ConnId>,
    stats: NetStats,
}

impl NetSim {
    /// A network with no traffic, seeded with `seed`.
    #[must_use]
    pub fn new(seed: u64, config: NetConfig) -> Self {
        Self {
            cfg: config,
            rng: SplitMix64::new(seed),
            seq: 0,
            queue: BTreeMap::new(),
            tail: BTreeMap::new(),
            down: BTreeSet::new(),
            stats: NetStats::default(),
        }
    }

    /// Sends `frame` from `from` to `to` over `conn`; `false` if it was lost (connection down,
    /// random drop, or a random disconnect broke the connection).
    pub fn send(
        &mut self,
        now_ms: u64,
        from: EndpointId,
        to: EndpointId,
        conn: ConnId,
        frame: Bytes,
    ) -> bool {
        self.stats.sent += 1;
        if self.down.contains(&conn) {
            self.stats.dropped += 1;
            return false;
        }
        if self.rng.chance(self.cfg.disconnect_probability) {
            self.stats.dropped += 1;
            self.disconnect(now_ms, conn);
            return false;
        }
        if self.rng.chance(self.cfg.drop_probability) {
            self.stats.dropped += 1;
            return false;
        }
        let delay = self
            .rng
            .range_inclusive(self.cfg.min_delay_ms, self.cfg.max_delay_ms);
        let tail = self.tail.entry((conn, from)).or_default();
        let at = (now_ms + delay).max(*tail);
        *tail = at;
        self.push(
            at,
            Delivery::Frame {
                at_ms: at,
                from,
                to,
                conn,
                frame,
            },
        );
        true
    }

    /// Breaks `conn` now: frames in flight on it are lost and a
    /// [`Delivery::Disconnected`] is due at `now_ms`. Nothing happens if it is already down.
    pub fn disconnect(&mut self, now_ms: u64, conn: ConnId) {
        if !self.down.insert(conn) {
            return;
        }
        self.stats.disconnects += 1;
        let before = self.queue.len();
        self.queue
            .retain(|_, d| !matches!(d, Delivery::Frame { conn: c, .. } if *c == conn));
        self.stats.dropped += (before - self.queue.len()) as u64;
        self.push(
            now_ms,
            Delivery::Disconnected {
                at_ms: now_ms,
                conn,
            },
        );
    }

    /// Whether `conn` is still up.
    #[must_use]
    pub fn is_up(&self, conn: ConnId) -> bool {
        !self.down.contains(&conn)
    }

    /// The next delivery due at or before `now_ms` (earliest first; ties in send order).
    pub fn poll_deliver(&mut self, now_ms: u64) -> Option<Delivery> {
        let entry = self.queue.first_entry()?;
        if entry.key().0 > now_ms {
            return None;
        }
        let d = entry.remove();
        if matches!(d, Delivery::Frame { .. }) {
            self.stats.delivered += 1;
        }
        Some(d)
    }

    /// When the next delivery is due; `None` if nothing is in flight.
    #[must_use]
    pub fn next_delivery_time(&self) -> Option<u64> {
        self.queue.first_key_value().map(|((at, _), _)| *at)
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// The network's generator, for callers that want more randomness from the same seed.
    pub fn rng(&mut self) -> &mut SplitMix64 {
        &mut self.rng
    }

    fn push(&mut self, at: u64, d: Delivery) {
        self.seq += 1;
        self.queue.insert((at, self.seq), d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seed: u64, cfg: &NetConfig) -> Vec<Delivery> {
        let mut net = NetSim::new(seed, cfg.clone());
        for i in 0..50u64 {
            net.send(i, 1, 2, i % 3, Bytes::from(vec![i as u8]));
        }
        let mut out = Vec::new();
        while let Some(t) = net.next_delivery_time() {
            while let Some(d) = net.poll_deliver(t) {
                out.push(d);
            }
        }
        out
    }

    #[test]
    fn same_seed_same_deliveries_and_fifo_per_connection() {
        let cfg = NetConfig {
            min_delay_ms: 0,
            max_delay_ms: 40,
            drop_probability: 0.1,
            disconnect_probability: 0.0,
        };
        let a = run(7, &cfg);
        assert_eq!(a, run(7, &cfg));
        assert_ne!(a, run(8, &cfg));
        for conn in 0..3 {
            let sent: Vec<u8> = a
                .iter()
                .filter_map(|d| match d {
                    Delivery::Frame { conn: c, frame, .. } if *c == conn => Some(frame[0]),
                    _ => None,
                })
                .collect();
            assert!(sent.windows(2).all(|w| w[0] < w[1]), "{sent:?}");
        }
        let times: Vec<u64> = a.iter().map(Delivery::at_ms).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn disconnect_drops_in_flight_and_later_frames() {
        let mut net = NetSim::new(1, NetConfig::default());
        assert!(net.send(0, 1, 2, 9, Bytes::from_static(b"a")));
        net.disconnect(0, 9);
        assert!(!net.send(0, 1, 2, 9, Bytes::from_static(b"b")));
        assert_eq!(
            net.poll_deliver(100),
            Some(Delivery::Disconnected { at_ms: 0, conn: 9 })
        );
        assert_eq!(net.poll_deliver(100), None);
        assert!(!net.is_up(9));
        assert_eq!(net.stats().dropped, 2);
    }

    #[test]
    fn rng_ranges() {
        let mut r = SplitMix64::new(3);
        for _ in 0..1000 {
            let x = r.range_inclusive(5, 9);
            assert!((5..=9).contains(&x));
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(r.range_inclusive(4, 4), 4);
        assert!(!r.chance(0.0));
    }
}
