//! Prometheus metrics, served as text at `/metrics`: best and finalized
//! height, block import time, pool size, Aura equivocations seen and
//! JSON-RPC calls by method.

use std::net::SocketAddr;

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

/// The node's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Best and finalized block numbers, by `status`.
    pub block_height: IntGaugeVec,
    /// Seconds to check, execute and store a block.
    pub import_seconds: Histogram,
    /// Transactions in the pool.
    pub pool_size: IntGauge,
    /// Blocks between the best and the finalized block.
    pub finality_lag: IntGauge,
    /// Second blocks seen by one author for one slot.
    pub equivocations: IntCounter,
    rpc_calls: IntCounterVec,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("mosaic".into()), None).expect("a valid prefix; qed");
        let block_height = IntGaugeVec::new(
            Opts::new("block_height", "Block height of the chain"),
            &["status"],
        )
        .expect("valid metric; qed");
        let import_seconds = Histogram::with_opts(HistogramOpts::new(
            "block_import_seconds",
            "Time to check, execute and store a block",
        ))
        .expect("valid metric; qed");
        let pool_size =
            IntGauge::new("txpool_size", "Transactions in the pool").expect("valid metric; qed");
        let finality_lag = IntGauge::new(
            "finality_lag_blocks",
            "Blocks between the best and the finalized block",
        )
        .expect("valid metric; qed");
        let equivocations = IntCounter::new(
            "aura_equivocations_total",
            "Second blocks seen by one author for one slot",
        )
        .expect("valid metric; qed");
        let rpc_calls = IntCounterVec::new(
            Opts::new("rpc_calls_total", "JSON-RPC calls by method"),
            &["method"],
        )
        .expect("valid metric; qed");
        for metric in [
            Box::new(block_height.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(import_seconds.clone()),
            Box::new(pool_size.clone()),
            Box::new(finality_lag.clone()),
            Box::new(equivocations.clone()),
            Box::new(rpc_calls.clone()),
        ] {
            registry.register(metric).expect("registered once; qed");
        }
        Metrics {
            registry,
            block_height,
            import_seconds,
            pool_size,
            finality_lag,
            equivocations,
            rpc_calls,
        }
    }

    /// Counts a call of `method`.
    pub fn rpc_call(&self, method: &str) {
        self.rpc_calls.with_label_values(&[method]).inc();
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> Vec<u8> {
        mosaic_api::metrics::render(&self.registry)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Binds the metrics endpoint; returns its address and the serving task.
pub async fn serve(
    addr: SocketAddr,
    metrics: Metrics,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()>)> {
    mosaic_api::metrics::serve(addr, metrics.registry).await
}
