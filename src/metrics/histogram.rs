//! A histogram that records with atomics alone.
//!
//! The crate's own histogram takes a lock on every observation. Acks, commits and upstream
//! requests are timed thousands of times a second from many tasks (and from the store's
//! writer thread, whose commits everything waits for), so here an observation is two atomic
//! additions: its bucket and the sum. Buckets are fixed when the histogram is made, and
//! values are kept as whole units (microseconds for durations), so nothing allocates and
//! nothing waits.
//!
//! A scrape reads the buckets one by one while observations go on: the count it reports is
//! the total of the buckets it read, so the count and the `+Inf` bucket always agree; the sum
//! may include an observation or two that the buckets do not yet.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Upper bounds for latencies between a send and its acks: a server ack comes in tens of
/// milliseconds, a device ack can take minutes when the phone is offline.
pub const ACK_SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
];
/// Upper bounds for a group commit of the store.
pub const COMMIT_SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];
/// Upper bounds for the steps of an event's path inside the daemon (a write's wait for the
/// store's writer, a fan-out to a device's sockets): tenths of a millisecond to a second.
pub const STEP_SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];
/// Upper bounds for the writes of one group commit (at most 512).
pub const COMMIT_WRITES: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
/// Upper bounds for an upstream's HTTP request.
pub const REQUEST_SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Upper bounds for a webhook delivery, from when it became due to the receiver's answer: a
/// delivery that needed retries takes minutes or hours.
pub const DELIVERY_SECONDS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0,
];

/// Microseconds in a second: durations are kept in whole microseconds.
const MICROS: f64 = 1e6;

/// A histogram of durations (in seconds) or of counts; cheap to clone, each clone records
/// into the same buckets.
#[derive(Debug, Clone)]
pub struct Histogram(Arc<Buckets>);

#[derive(Debug)]
struct Buckets {
    /// Upper bounds as the exposition shows them.
    bounds: &'static [f64],
    /// The same bounds in whole units.
    limits: Box<[u64]>,
    /// Units per exposed unit: a million for seconds kept as microseconds, 1 for counts.
    per_unit: f64,
    /// Observations per bucket (not cumulative), the last one past every bound.
    counts: Box<[AtomicU64]>,
    /// The sum of every observation, in units.
    sum: AtomicU64,
}

impl Histogram {
    /// A histogram of durations, exposed in seconds with these upper bounds.
    pub fn seconds(bounds: &'static [f64]) -> Self {
        Self::new(bounds, MICROS)
    }

    /// A histogram of counts with these upper bounds.
    pub fn counts(bounds: &'static [f64]) -> Self {
        Self::new(bounds, 1.0)
    }

    fn new(bounds: &'static [f64], per_unit: f64) -> Self {
        debug_assert!(bounds.windows(2).all(|pair| pair[0] < pair[1]));
        Self(Arc::new(Buckets {
            bounds,
            limits: bounds
                .iter()
                .map(|bound| (bound * per_unit).round() as u64)
                .collect(),
            per_unit,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }))
    }

    /// Records a duration (of a histogram made with [`Histogram::seconds`]).
    pub fn observe_duration(&self, taken: Duration) {
        self.observe(u64::try_from(taken.as_micros()).unwrap_or(u64::MAX));
    }

    /// Records a count (of a histogram made with [`Histogram::counts`]).
    pub fn observe_count(&self, count: u64) {
        self.observe(count);
    }

    fn observe(&self, units: u64) {
        let buckets = &*self.0;
        // The first bucket whose bound is at least the value: `le` is "less or equal".
        let index = buckets.limits.partition_point(|limit| *limit < units);
        buckets.counts[index].fetch_add(1, Ordering::Relaxed);
        buckets.sum.fetch_add(units, Ordering::Relaxed);
    }
}

impl TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let buckets = &*self.0;
        let bounds = buckets.bounds.iter().copied().chain([f64::INFINITY]);
        let counts: Vec<(f64, u64)> = bounds
            .zip(buckets.counts.iter())
            .map(|(bound, count)| (bound, count.load(Ordering::Relaxed)))
            .collect();
        let count = counts.iter().map(|(_, count)| count).sum();
        let sum = buckets.sum.load(Ordering::Relaxed) as f64 / buckets.per_unit;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &counts, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::{Registry, Unit};

    fn exposed(histogram: &Histogram, unit: Option<Unit>) -> String {
        let mut registry = Registry::default();
        match unit {
            Some(unit) => {
                registry.register_with_unit("taken", "Time taken", unit, histogram.clone())
            }
            None => registry.register("size", "Size", histogram.clone()),
        }
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        text
    }

    #[test]
    fn a_value_on_a_bound_falls_in_that_bucket_and_the_counts_are_cumulative() {
        let sizes = Histogram::counts(&[1.0, 4.0, 16.0]);
        for size in [1, 2, 4, 5, 17, 100] {
            sizes.observe_count(size);
        }
        let text = exposed(&sizes, None);
        for line in [
            "# TYPE size histogram",
            "size_sum 129.0",
            "size_count 6",
            "size_bucket{le=\"1.0\"} 1",
            "size_bucket{le=\"4.0\"} 3",
            "size_bucket{le=\"16.0\"} 4",
            "size_bucket{le=\"+Inf\"} 6",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }

    #[test]
    fn durations_are_exposed_in_seconds() {
        let taken = Histogram::seconds(&[0.01, 0.1]);
        taken.observe_duration(Duration::from_millis(10));
        taken.observe_duration(Duration::from_millis(50));
        taken.observe_duration(Duration::from_secs(2));
        let text = exposed(&taken, Some(Unit::Seconds));
        for line in [
            "# UNIT taken_seconds seconds",
            "taken_seconds_sum 2.06",
            "taken_seconds_bucket{le=\"0.01\"} 1",
            "taken_seconds_bucket{le=\"0.1\"} 2",
            "taken_seconds_bucket{le=\"+Inf\"} 3",
            "taken_seconds_count 3",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }
}
