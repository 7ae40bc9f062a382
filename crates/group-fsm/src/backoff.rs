//! Exponential backoff with jitter from a seeded generator (no clock, no OS randomness).

use core::time::Duration;

/// Exponential backoff: `base · 2^attempt`, capped at `max`, with ±20 % jitter.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    pub(crate) const fn new(base: Duration, max: Duration, seed: u64) -> Self {
        Self {
            base,
            max,
            attempt: 0,
            rng: seed ^ 0x9E37_79B9_7F4A_7C15,
        }
    }

    fn next_u64(&mut self) -> u64 {
        // SplitMix64.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The next delay; each call doubles the base delay up to the maximum.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let exp = self.attempt.min(20);
        self.attempt = self.attempt.saturating_add(1);
        let raw = self.base.saturating_mul(1u32 << exp).min(self.max);
        let ms = raw.as_millis() as u64;
        // jitter in [-20 %, +20 %]
        let span = ms / 5;
        let jitter = if span == 0 {
            0
        } else {
            self.next_u64() % (2 * span + 1)
        };
        Duration::from_millis(ms - span + jitter)
    }

    /// Back to the first step after a success.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps_with_bounded_jitter() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1), 7);
        let d: alloc::vec::Vec<u64> = (0..8).map(|_| b.next_delay().as_millis() as u64).collect();
        assert!((80..=120).contains(&d[0]), "{d:?}");
        assert!((160..=240).contains(&d[1]), "{d:?}");
        for x in &d[4..] {
            assert!((800..=1200).contains(x), "{d:?}");
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(120));
    }

    #[test]
    fn same_seed_same_delays() {
        let mut a = Backoff::new(Duration::from_millis(100), Duration::from_secs(1), 42);
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1), 42);
        for _ in 0..10 {
            assert_eq!(a.next_delay(), b.next_delay());
        }
    }
}
