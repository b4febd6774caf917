//! What an upgrade of the schema tells the operator as it runs.

use std::time::{Duration, Instant};

/// What an upgrade of the schema tells the operator, on either store: a line as it starts,
/// a line for each step slower than its `slow` (a step that rewrites a large journal takes
/// minutes, and the daemon answers nothing meanwhile), and a line with the whole upgrade's
/// time once done. A database already at this build's version logs nothing.
pub(in crate::store) struct Upgrade {
    from: i64,
    to: i64,
    started: Instant,
    /// When the step under way began: when the one before it ended.
    step_started: Instant,
    slow: Duration,
}

impl Upgrade {
    pub(in crate::store) fn start(from: i64, to: i64, slow: Duration) -> Self {
        if from < to {
            tracing::info!(from, to, "migrating the database");
        }
        let now = Instant::now();
        Self {
            from,
            to,
            started: now,
            step_started: now,
            slow,
        }
    }

    /// Step `step` (numbered from 1) is committed.
    pub(in crate::store) fn step_done(&mut self, step: usize) {
        let took = self.step_started.elapsed();
        self.step_started = Instant::now();
        if took >= self.slow {
            tracing::info!(
                step,
                of = self.to,
                seconds = took.as_secs_f64(),
                "migrated the database by one step"
            );
        }
    }

    pub(in crate::store) fn done(self) {
        if self.from < self.to {
            tracing::info!(
                from = self.from,
                to = self.to,
                seconds = self.started.elapsed().as_secs_f64(),
                "migrated the database"
            );
        }
    }
}
