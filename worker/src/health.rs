//! What the worker found wrong with its own store and what it is doing
//! about it: pieces found damaged (by the start-up check, the scrub or a
//! challenge) and lost, rebuilds under way, the scrub's progress.
//!
//! A damaged piece is reported (an error in the log, a metric) and taken
//! out of the store at once: the worker then neither serves nor proves
//! bytes it knows are wrong, and the follower, finding a confirmed piece
//! missing at the next finalized head, rebuilds it from its other
//! providers ([`crate::repair`]). A disk error reading one piece is damage
//! to that piece alone: the worker goes on serving and proving the rest.
//!
//! The same facts go to `<base>/health.json` (rewritten atomically on each
//! change), which `mosaic-worker status --base-path` shows beside what the
//! chain records.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mosaic_api::chain::OrderId;
use mosaic_primitives::piece::PieceRoot;
use mosaic_shard_net::store::write_atomic;
use mosaic_shard_net::ShardStore;
use serde::{Deserialize, Serialize};

use crate::metrics::WorkerMetrics;

/// The file under the base path.
pub const FILE: &str = "health.json";

/// What `health.json` says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    /// Pieces being rebuilt, as `order/piece`.
    pub repairing: Vec<String>,
    /// Confirmed pieces found missing from the store since the worker
    /// started.
    pub lost: u64,
    /// Pieces found damaged since the worker started.
    pub damaged: u64,
    /// Complete scrub passes over the store since the worker started.
    pub scrub_passes: u64,
    /// Bytes the scrub verified since the worker started.
    pub scrubbed_bytes: u64,
}

impl HealthReport {
    /// Reads the report a worker with base path `base` keeps, if any.
    pub fn read(base: &Path) -> Option<HealthReport> {
        let bytes = std::fs::read(base.join(FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

#[derive(Default)]
struct State {
    report: HealthReport,
    repairing: BTreeMap<PieceRoot, String>,
    /// Damaged pieces taken out of the store and not rebuilt yet.
    damaged: HashSet<PieceRoot>,
}

/// The worker's health, shared by the prover, the scrub and repair.
#[derive(Clone)]
pub struct Health {
    state: Arc<Mutex<State>>,
    file: PathBuf,
    metrics: WorkerMetrics,
}

impl Health {
    /// Health kept in `<base>/health.json`, starting clean.
    pub fn new(base: &Path, metrics: WorkerMetrics) -> Self {
        let health = Health {
            state: Arc::default(),
            file: base.join(FILE),
            metrics,
        };
        health.save(&health.lock());
        health
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn save(&self, state: &State) {
        let mut report = state.report.clone();
        report.repairing = state.repairing.values().cloned().collect();
        let bytes = serde_json::to_vec_pretty(&report).expect("a report serializes; qed");
        if let Err(e) = write_atomic(&self.file, &bytes) {
            tracing::warn!(target: "mosaic::worker", "writing the health report: {e}");
        }
    }

    /// Reports `root` damaged (`why`) and takes it out of `store`, so that
    /// it is rebuilt rather than served or proven; nothing if it left the
    /// store meanwhile (a read that failed because the piece was removed
    /// is no damage). Answers whether it was reported. Blocking.
    pub fn damaged(
        &self,
        store: &dyn ShardStore,
        root: PieceRoot,
        why: &dyn std::fmt::Display,
    ) -> bool {
        if matches!(store.meta(&root), Ok(None)) {
            return false;
        }
        tracing::error!(target: "mosaic::worker", "piece {root:?} is damaged: {why}; taking it out of the store to rebuild it from its other providers");
        self.metrics.pieces_damaged.inc();
        if let Err(e) = store.remove(&root) {
            tracing::error!(target: "mosaic::worker", "removing damaged piece {root:?}: {e}");
        }
        let mut state = self.lock();
        state.damaged.insert(root);
        state.report.damaged += 1;
        self.save(&state);
        true
    }

    /// A rebuild of `root` (piece `number` of order `id`) starts; answers
    /// whether the piece was found damaged (else it was lost, or moved
    /// here, as the caller knows).
    pub fn repair_started(&self, root: PieceRoot, id: OrderId, number: u8, lost: bool) -> bool {
        let mut state = self.lock();
        let damaged = state.damaged.contains(&root);
        if lost && !damaged {
            state.report.lost += 1;
            self.metrics.pieces_lost.inc();
        }
        state.repairing.insert(root, format!("{id}/{number}"));
        self.save(&state);
        damaged
    }

    /// The rebuild of `root` ended, stored (`done`) or to be tried again.
    pub fn repair_ended(&self, root: PieceRoot, done: bool) {
        let mut state = self.lock();
        state.repairing.remove(&root);
        if done {
            state.damaged.remove(&root);
        }
        self.save(&state);
    }

    /// The scrub verified `bytes` more.
    pub fn scrubbed(&self, bytes: u64) {
        self.metrics.scrubbed_bytes.inc_by(bytes);
        self.lock().report.scrubbed_bytes += bytes;
    }

    /// The scrub found a piece damaged (reported with [`Self::damaged`]).
    pub fn scrub_error(&self) {
        self.metrics.scrub_errors.inc();
    }

    /// The scrub finished a pass over the store.
    pub fn scrub_pass(&self) {
        let mut state = self.lock();
        state.report.scrub_passes += 1;
        self.save(&state);
    }
}
