//! One run of some work per key at a time, joined by every caller that asks
//! for the same key while it runs (Go's `singleflight`): concurrent first
//! requests of one root share one open.
//!
//! A run is a [`Shared`] future, driven by whichever caller polls it; the
//! map of runs under way holds it weakly, so a run every caller gave up on
//! is dropped (its work stops) and the next caller starts a new one. A run
//! takes itself out of the map when it ends, success or failure: nothing is
//! remembered after it, and a failure is retried by the next call.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::{BoxFuture, FutureExt, Shared, WeakShared};

/// A run's outcome, as every caller that joined it gets it.
pub(crate) type Outcome<T, E> = Result<T, Arc<E>>;

/// A run of the work, as its callers share it.
type Run<T, E> = BoxFuture<'static, Outcome<T, E>>;

/// Runs under way by key.
type Runs<K, T, E> = Mutex<HashMap<K, WeakShared<Run<T, E>>>>;

/// Runs under way by key, at most `max` of them joinable.
pub(crate) struct SingleFlight<K, T, E> {
    runs: Arc<Runs<K, T, E>>,
    max: usize,
}

/// What a caller does.
enum Step<T: Clone, E> {
    /// Waits for this run (its own, just started, or another's).
    Join(Shared<Run<T, E>>),
    /// Runs the work alone: `max` runs are under way.
    Alone,
}

impl<K, T, E> SingleFlight<K, T, E>
where
    K: Clone + Eq + Hash + Send + 'static,
    T: Clone + Send + Sync + 'static,
    E: Send + Sync + 'static,
{
    /// No runs yet; at most `max` will be joinable at once.
    pub(crate) fn new(max: usize) -> Self {
        SingleFlight {
            runs: Arc::new(Mutex::new(HashMap::new())),
            max,
        }
    }

    /// The outcome of the run under way for `key`, or of `work()` started
    /// now and joined by the callers that come while it runs. With `max`
    /// runs under way, `work` runs for this caller alone.
    pub(crate) async fn run<W, F>(&self, key: K, work: W) -> Outcome<T, E>
    where
        W: FnOnce() -> F,
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let mut work = Some(work);
        let step = {
            let mut runs = lock(&self.runs);
            match runs.get(&key).and_then(WeakShared::upgrade) {
                Some(run) => Step::Join(run),
                None => {
                    if runs.len() >= self.max {
                        // Runs every caller gave up on.
                        runs.retain(|_, run| run.upgrade().is_some());
                    }
                    if runs.len() < self.max {
                        let work = work.take().expect("nothing took it yet; qed");
                        let run = self.start(key.clone(), work());
                        let weak = run
                            .downgrade()
                            .expect("a run not polled yet has not ended; qed");
                        runs.insert(key, weak);
                        Step::Join(run)
                    } else {
                        Step::Alone
                    }
                }
            }
        };
        match step {
            Step::Join(run) => run.await,
            Step::Alone => {
                tracing::debug!(target: "mosaic::gateway", "{} opens under way: this one is not shared", self.max);
                let work = work.take().expect("a run alone did not start one; qed");
                work().await.map_err(Arc::new)
            }
        }
    }

    /// `work` as a run of `key` that leaves the map when it ends.
    fn start<F>(&self, key: K, work: F) -> Shared<Run<T, E>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let runs = Arc::clone(&self.runs);
        async move {
            let outcome = work.await.map_err(Arc::new);
            // The entry is this run's: another run of `key` is put in only
            // once this one cannot be upgraded, that is once every caller
            // dropped it, and then it never gets here.
            lock(&runs).remove(&key);
            outcome
        }
        .boxed()
        .shared()
    }

    /// Runs in the map (some may have been given up on).
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.runs).len()
    }
}

fn lock<K, T, E>(runs: &Runs<K, T, E>) -> MutexGuard<'_, HashMap<K, WeakShared<Run<T, E>>>> {
    runs.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use futures::future::join_all;
    use tokio::sync::watch;

    use super::*;

    /// Long enough for anything here; no test waits on it unless it fails.
    const TIMEOUT: Duration = Duration::from_secs(10);

    #[derive(Debug, PartialEq)]
    struct Failed;

    /// Work that counts its runs and ends, with `outcome(run number)`,
    /// once the gate opens.
    fn gated(
        runs: &Arc<AtomicUsize>,
        gate: &watch::Receiver<bool>,
        outcome: fn(usize) -> Result<u32, Failed>,
    ) -> impl FnOnce() -> BoxFuture<'static, Result<u32, Failed>> {
        let runs = Arc::clone(runs);
        let mut gate = gate.clone();
        move || {
            async move {
                let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                gate.wait_for(|open| *open).await.expect("the gate stays");
                outcome(run)
            }
            .boxed()
        }
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_run() {
        let flight = SingleFlight::<u32, u32, Failed>::new(4);
        let runs = Arc::new(AtomicUsize::new(0));
        let (open, gate) = watch::channel(false);
        let callers = join_all((0..8).map(|_| flight.run(7, gated(&runs, &gate, |_| Ok(42)))));
        tokio::pin!(callers);
        // One poll of each: every caller has started or joined a run.
        assert!(futures::poll!(&mut callers).is_pending());
        assert_eq!(flight.len(), 1);
        open.send(true).expect("the run waits");
        let outcomes = tokio::time::timeout(TIMEOUT, callers)
            .await
            .expect("the callers end");
        assert!(outcomes.iter().all(|o| matches!(o, Ok(42))), "{outcomes:?}");
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "the work ran once for eight callers"
        );
        assert_eq!(flight.len(), 0, "an ended run leaves the map");
    }

    #[tokio::test]
    async fn a_failure_is_shared_by_its_callers_and_retried_by_the_next() {
        let flight = SingleFlight::<u32, u32, Failed>::new(4);
        let runs = Arc::new(AtomicUsize::new(0));
        let (open, gate) = watch::channel(false);
        // The first run fails, any later one succeeds.
        let outcome = |run| {
            if run == 1 {
                Err(Failed)
            } else {
                Ok(run as u32)
            }
        };
        let callers = join_all((0..3).map(|_| flight.run(7, gated(&runs, &gate, outcome))));
        tokio::pin!(callers);
        assert!(futures::poll!(&mut callers).is_pending());
        open.send(true).expect("the run waits");
        let outcomes = tokio::time::timeout(TIMEOUT, callers)
            .await
            .expect("the callers end");
        let first = outcomes[0].as_ref().expect_err("the run failed");
        for outcome in &outcomes {
            let error = outcome.as_ref().expect_err("the run failed");
            assert!(Arc::ptr_eq(first, error), "one failure, shared");
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(flight.len(), 0, "a failure is not kept");

        let again = flight.run(7, gated(&runs, &gate, outcome));
        let again = tokio::time::timeout(TIMEOUT, again)
            .await
            .expect("the call ends");
        assert_eq!(again, Ok(2), "the next caller runs the work again");
    }

    #[tokio::test]
    async fn a_run_every_caller_dropped_is_started_again() {
        let flight = SingleFlight::<u32, u32, Failed>::new(1);
        let runs = Arc::new(AtomicUsize::new(0));
        let (open, gate) = watch::channel(false);
        {
            let caller = flight.run(7, gated(&runs, &gate, |_| Ok(1)));
            tokio::pin!(caller);
            assert!(futures::poll!(&mut caller).is_pending());
        }
        // Its entry is dead; at the bound it is cleared for a new run.
        assert_eq!(flight.len(), 1);
        open.send(true).expect("the gate stays");
        let caller = flight.run(8, gated(&runs, &gate, |run| Ok(run as u32)));
        let outcome = tokio::time::timeout(TIMEOUT, caller)
            .await
            .expect("the call ends");
        assert_eq!(outcome, Ok(2));
        assert_eq!(flight.len(), 0);
        let caller = flight.run(7, gated(&runs, &gate, |run| Ok(run as u32)));
        let outcome = tokio::time::timeout(TIMEOUT, caller)
            .await
            .expect("the call ends");
        assert_eq!(
            outcome,
            Ok(3),
            "the dropped run does not answer later callers"
        );
    }

    #[tokio::test]
    async fn past_the_bound_a_run_is_not_shared() {
        let flight = SingleFlight::<u32, u32, Failed>::new(1);
        let runs = Arc::new(AtomicUsize::new(0));
        let (open, gate) = watch::channel(false);
        let held = flight.run(7, gated(&runs, &gate, |_| Ok(7)));
        tokio::pin!(held);
        assert!(futures::poll!(&mut held).is_pending());
        let callers = join_all((0..2).map(|_| flight.run(8, gated(&runs, &gate, |_| Ok(8)))));
        tokio::pin!(callers);
        assert!(futures::poll!(&mut callers).is_pending());
        assert_eq!(flight.len(), 1, "the map holds no more than its bound");
        assert_eq!(
            runs.load(Ordering::SeqCst),
            3,
            "key 8 ran for each of its callers"
        );
        open.send(true).expect("the runs wait");
        let outcomes = tokio::time::timeout(TIMEOUT, callers)
            .await
            .expect("the callers end");
        assert_eq!(outcomes, [Ok(8), Ok(8)]);
        let held = tokio::time::timeout(TIMEOUT, held)
            .await
            .expect("the call ends");
        assert_eq!(held, Ok(7));
        assert_eq!(flight.len(), 0);
    }
}
