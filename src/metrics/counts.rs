//! Counters whose every count bumps [`Changes`], so that a test can wait for one.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::changes::Changes;
use super::OneLabel;

/// One counter family with a fixed set of values of one label (`outcome`, or `reason`), all
/// shown from the start. Every count bumps [`Changes`], so a test can wait for one.
pub struct Counters {
    name: &'static str,
    outcomes: &'static [&'static str],
    values: Box<[Counter]>,
    changes: Changes,
}

impl Counters {
    /// Registers the family `name` (without its `_total`) in `registry`.
    pub(super) fn register(
        registry: &mut Registry,
        name: &'static str,
        help: &'static str,
        label: &'static str,
        outcomes: &'static [&'static str],
        changes: &Changes,
    ) -> Self {
        let family = Family::<OneLabel, Counter>::default();
        let values = outcomes
            .iter()
            .map(|outcome| family.get_or_create_owned(&[(label, *outcome)]))
            .collect();
        registry.register(name, help, family);
        Self {
            name,
            outcomes,
            values,
            changes: changes.clone(),
        }
    }

    /// Adds `n` to `outcome`, which must be one of the family's outcomes.
    pub fn add(&self, outcome: &str, n: u64) {
        match self.outcomes.iter().position(|known| *known == outcome) {
            Some(index) => {
                self.values[index].inc_by(n);
                self.changes.bump();
            }
            None => debug_assert!(false, "{} has no outcome {outcome}", self.name),
        }
    }

    pub fn inc(&self, outcome: &str) {
        self.add(outcome, 1);
    }

    pub fn get(&self, outcome: &str) -> u64 {
        self.outcomes
            .iter()
            .position(|known| *known == outcome)
            .map_or(0, |index| self.values[index].get())
    }
}

/// A counter without labels whose counts bump [`Changes`], like [`Counters`].
pub struct Tally {
    counter: Counter,
    changes: Changes,
}

impl Tally {
    pub(super) fn register(
        registry: &mut Registry,
        name: &'static str,
        help: &'static str,
        changes: &Changes,
    ) -> Self {
        let counter = Counter::default();
        registry.register(name, help, counter.clone());
        Self {
            counter,
            changes: changes.clone(),
        }
    }

    pub fn add(&self, n: u64) {
        if n > 0 {
            self.counter.inc_by(n);
            self.changes.bump();
        }
    }

    pub fn inc(&self) {
        self.add(1);
    }
}
