//! The worker's Prometheus metrics, and the shard handler that counts what
//! it serves.

use std::sync::Arc;

use async_trait::async_trait;
use mosaic_shard_net::net::Handler;
use mosaic_shard_net::protocol::Response;
use mosaic_shard_net::{Answer, PeerId, Request};
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// The worker's metrics.
#[derive(Clone)]
pub struct WorkerMetrics {
    /// Their registry, served at `/metrics`.
    pub registry: Registry,
    /// Pieces held.
    pub pieces_held: IntGauge,
    /// Bytes on disk, held and partial.
    pub bytes_stored: IntGauge,
    /// Capacity declared on chain.
    pub capacity: IntGauge,
    /// Proofs built and handed to the submitter.
    pub proofs_submitted: IntCounter,
    /// Challenges the store could not answer (a piece missing or damaged).
    pub challenges_unanswerable: IntCounter,
    /// Challenges first seen past their deadline (the worker was down or
    /// stalled).
    pub challenges_missed: IntCounter,
    /// Requests answered, by kind and outcome.
    requests: IntCounterVec,
    /// Bytes of shards received and stored.
    bytes_received: IntCounter,
    /// Bytes served (shards and ranges).
    bytes_served: IntCounter,
    /// Rebuilds of pieces moved to this provider, or lost, started.
    pub repairs_started: IntCounter,
    /// Pieces this provider confirmed and found missing from its store.
    pub pieces_lost: IntCounter,
    /// Rebuilds that failed (tried again later).
    pub repairs_failed: IntCounter,
    /// Bytes of pieces rebuilt and stored.
    pub repaired_bytes: IntCounter,
    /// Pieces found damaged (start-up check, scrub, a challenge).
    pub pieces_damaged: IntCounter,
    /// Bytes the scrub verified.
    pub scrubbed_bytes: IntCounter,
    /// Pieces the scrub found damaged.
    pub scrub_errors: IntCounter,
    /// Blocks from the head that revealed a challenge to the block that
    /// included its proof.
    pub proof_blocks: Histogram,
    /// Seconds from seeing the head that revealed a challenge to seeing
    /// its proof included.
    pub proof_seconds: Histogram,
    /// Challenges proven in time, as the chain's audit tally records.
    pub challenges_proven: IntGauge,
    /// Challenges failed (missed, late or bad), as the chain records.
    pub challenges_failed: IntGauge,
}

impl WorkerMetrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("mosaic_worker".into()), None).expect("a valid prefix; qed");
        let gauge = |name: &str, help: &str| IntGauge::new(name, help).expect("valid metric; qed");
        let counter =
            |name: &str, help: &str| IntCounter::new(name, help).expect("valid metric; qed");
        let metrics = WorkerMetrics {
            pieces_held: gauge("pieces_held", "Pieces held"),
            bytes_stored: gauge("bytes_stored", "Bytes on disk, held and partial"),
            capacity: gauge("capacity_bytes", "Capacity declared on chain"),
            proofs_submitted: counter(
                "proofs_submitted_total",
                "Storage proofs built and submitted",
            ),
            challenges_unanswerable: counter(
                "challenges_unanswerable_total",
                "Challenges the store could not answer",
            ),
            challenges_missed: counter(
                "challenges_missed_total",
                "Challenges first seen past their deadline (the worker was down or stalled)",
            ),
            requests: IntCounterVec::new(
                Opts::new(
                    "requests_total",
                    "Shard requests answered, by kind and outcome",
                ),
                &["kind", "outcome"],
            )
            .expect("valid metric; qed"),
            bytes_received: counter("received_bytes_total", "Bytes of shards stored"),
            bytes_served: counter("served_bytes_total", "Bytes of shards and ranges served"),
            repairs_started: counter(
                "repairs_started_total",
                "Rebuilds of pieces moved to this provider or lost, started",
            ),
            pieces_lost: counter(
                "pieces_lost_total",
                "Pieces confirmed on chain found missing from the store (then rebuilt)",
            ),
            repairs_failed: counter(
                "repairs_failed_total",
                "Rebuilds that failed (tried again at a later block)",
            ),
            repaired_bytes: counter("repaired_bytes_total", "Bytes of pieces rebuilt and stored"),
            pieces_damaged: counter(
                "pieces_damaged_total",
                "Pieces found damaged (at start, by the scrub or by a challenge) and rebuilt",
            ),
            scrubbed_bytes: counter("scrubbed_bytes_total", "Bytes the scrub verified"),
            scrub_errors: counter("scrub_errors_total", "Pieces the scrub found damaged"),
            proof_blocks: Histogram::with_opts(
                HistogramOpts::new(
                    "proof_inclusion_blocks",
                    "Blocks from a challenge's reveal to its proof's inclusion",
                )
                .buckets(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]),
            )
            .expect("valid metric; qed"),
            proof_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "proof_inclusion_seconds",
                    "Seconds from a challenge's reveal to its proof's inclusion",
                )
                .buckets(vec![1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0]),
            )
            .expect("valid metric; qed"),
            challenges_proven: gauge(
                "challenges_proven",
                "Challenges proven in time, as the chain's audit tally records",
            ),
            challenges_failed: gauge(
                "challenges_failed",
                "Challenges failed (missed, late or bad proof), as the chain's audit tally records",
            ),
            registry,
        };
        for metric in [
            Box::new(metrics.pieces_held.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.bytes_stored.clone()),
            Box::new(metrics.capacity.clone()),
            Box::new(metrics.proofs_submitted.clone()),
            Box::new(metrics.challenges_unanswerable.clone()),
            Box::new(metrics.challenges_missed.clone()),
            Box::new(metrics.requests.clone()),
            Box::new(metrics.bytes_received.clone()),
            Box::new(metrics.bytes_served.clone()),
            Box::new(metrics.repairs_started.clone()),
            Box::new(metrics.pieces_lost.clone()),
            Box::new(metrics.repairs_failed.clone()),
            Box::new(metrics.repaired_bytes.clone()),
            Box::new(metrics.pieces_damaged.clone()),
            Box::new(metrics.scrubbed_bytes.clone()),
            Box::new(metrics.scrub_errors.clone()),
            Box::new(metrics.proof_blocks.clone()),
            Box::new(metrics.proof_seconds.clone()),
            Box::new(metrics.challenges_proven.clone()),
            Box::new(metrics.challenges_failed.clone()),
        ] {
            metrics
                .registry
                .register(metric)
                .expect("registered once; qed");
        }
        metrics
    }
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts each request and its outcome, then answers as `inner` does.
pub struct Metered {
    /// The handler counted.
    pub inner: Arc<dyn Handler>,
    /// Where the counts go.
    pub metrics: WorkerMetrics,
}

#[async_trait]
impl Handler for Metered {
    async fn handle(&self, peer: PeerId, request: Request) -> Response {
        let (kind, received) = match &request {
            Request::Offer { .. } => ("offer", 0),
            Request::PutShard { shard, .. } => ("put_shard", shard.len()),
            Request::Roots { .. } => ("roots", 0),
            Request::Shard { .. } => ("shard", 0),
        };
        let response = self.inner.handle(peer, request).await;
        let outcome = match &response {
            Ok(Answer::Bytes(bytes)) => {
                self.metrics.bytes_served.inc_by(bytes.len() as u64);
                "ok".to_string()
            }
            Ok(Answer::Stored { .. }) => {
                self.metrics.bytes_received.inc_by(received as u64);
                "ok".to_string()
            }
            Ok(_) => "ok".to_string(),
            Err(refusal) => format!("{refusal:?}").to_lowercase(),
        };
        self.metrics
            .requests
            .with_label_values(&[kind, &outcome])
            .inc();
        response
    }
}
