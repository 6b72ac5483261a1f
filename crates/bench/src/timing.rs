//! Repetitions and percentiles: every system's queries are timed by the same loop, under the
//! same cap, so their figures compare.

use anyhow::Result;
use std::time::{Duration, Instant};

/// Timed repetitions a query always gets, however slow, so that a p99 is not one sample.
const MIN_REPS: usize = 2;

/// How long one query of one system is repeated at most, so that a 5 M run stays well under
/// an hour even where a system takes seconds per query.
pub const MAX_TIME_PER_QUERY: Duration = Duration::from_secs(20);

/// How many times each query is timed: at most `max_reps` repetitions or about
/// [`MAX_TIME_PER_QUERY`], whichever comes first.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    max_reps: usize,
}

impl Budget {
    /// A budget of at most `max_reps` timed repetitions per query and system.
    pub fn new(max_reps: usize) -> Self {
        Budget {
            max_reps: max_reps.max(1),
        }
    }

    /// Times `run` repeatedly; the caller has run it once already (warm-up and answer check).
    pub fn time(&self, mut run: impl FnMut() -> Result<()>) -> Result<Latencies> {
        let mut timer = self.timer();
        while timer.more() {
            let lap = Instant::now();
            run()?;
            timer.lap(lap);
        }
        Ok(timer.finish())
    }

    /// A timer for a loop the caller writes, where the work cannot be a closure (it awaits
    /// on a connection it borrows mutably):
    /// `while timer.more() { let lap = Instant::now(); …; timer.lap(lap) }`.
    pub fn timer(&self) -> Timer {
        Timer {
            budget: *self,
            started: Instant::now(),
            samples: Vec::new(),
        }
    }
}

/// Repetitions in progress under a [`Budget`].
pub struct Timer {
    budget: Budget,
    started: Instant,
    samples: Vec<Duration>,
}

impl Timer {
    /// Whether the budget allows another repetition.
    pub fn more(&self) -> bool {
        let done = self.samples.len();
        done < self.budget.max_reps
            && (done < MIN_REPS || self.started.elapsed() < MAX_TIME_PER_QUERY)
    }

    /// Records a repetition that started at `lap`.
    pub fn lap(&mut self, lap: Instant) {
        self.samples.push(lap.elapsed());
    }

    /// The repetitions' latencies.
    pub fn finish(self) -> Latencies {
        Latencies::new(self.samples)
    }
}

/// The timed repetitions of one query on one system.
#[derive(Debug, Clone)]
pub struct Latencies {
    /// Sorted, shortest first; never empty.
    sorted: Vec<Duration>,
}

impl Latencies {
    fn new(mut samples: Vec<Duration>) -> Self {
        assert!(!samples.is_empty(), "a query should be timed at least once");
        samples.sort_unstable();
        Latencies { sorted: samples }
    }

    /// The median.
    pub fn p50(&self) -> Duration {
        self.percentile(50)
    }

    /// The 99th percentile, by nearest rank: with fewer than 100 samples, the slowest.
    pub fn p99(&self) -> Duration {
        self.percentile(99)
    }

    fn percentile(&self, p: usize) -> Duration {
        let rank = (self.sorted.len() * p).div_ceil(100).max(1);
        self.sorted[rank - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Latencies {
        Latencies::new(values.iter().map(|&v| Duration::from_millis(v)).collect())
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let hundred: Vec<u64> = (1..=100).rev().collect();
        let l = ms(&hundred);
        assert_eq!(l.p50(), Duration::from_millis(50));
        assert_eq!(l.p99(), Duration::from_millis(99));
        assert_eq!(ms(&[3, 1, 2]).p99(), Duration::from_millis(3));
        assert_eq!(ms(&[7]).p50(), Duration::from_millis(7));
    }

    #[test]
    fn the_budget_caps_repetitions() {
        let mut runs = 0;
        let l = Budget::new(5)
            .time(|| {
                runs += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!((runs, l.sorted.len()), (5, 5));
    }
}
