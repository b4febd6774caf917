//! Retry delays: exponential backoff with full jitter, for device reconnects, message resends
//! and webhook deliveries.
//!
//! Full jitter (a uniform pick between zero and the exponential cap) spreads the retries of many
//! devices or deliveries that failed at once, instead of having them retry in lockstep.

use std::time::Duration;

use rand::Rng;

/// The delay before retry `attempt` (1-based).
pub fn delay(attempt: u32, initial: Duration, max: Duration, rng: &mut impl Rng) -> Duration {
    let exponent = attempt.saturating_sub(1).min(31);
    let cap = initial.saturating_mul(1u32 << exponent).min(max);
    let millis = cap.as_millis() as u64;
    Duration::from_millis(rng.gen_range(0..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn stays_within_the_exponential_cap() {
        let mut rng = StdRng::seed_from_u64(7);
        let (initial, max) = (Duration::from_millis(100), Duration::from_millis(1000));
        for attempt in 1..=40 {
            let cap = (100u64 << (attempt - 1).min(20)).min(1000);
            for _ in 0..50 {
                let d = delay(attempt, initial, max, &mut rng);
                assert!(
                    d.as_millis() as u64 <= cap,
                    "attempt {attempt}: {d:?} > {cap}"
                );
            }
        }
    }

    #[test]
    fn is_jittered_not_fixed() {
        let mut rng = StdRng::seed_from_u64(1);
        let picks: std::collections::HashSet<_> = (0..20)
            .map(|_| {
                delay(
                    5,
                    Duration::from_millis(100),
                    Duration::from_secs(60),
                    &mut rng,
                )
            })
            .collect();
        assert!(picks.len() > 10);
    }
}
