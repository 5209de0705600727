//! Prometheus metrics, served as text at `/metrics`: best and finalized
//! height, block import time, pool size and JSON-RPC calls by method.

use std::net::SocketAddr;

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

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
            rpc_calls,
        }
    }

    /// Counts a call of `method`.
    pub fn rpc_call(&self, method: &str) {
        self.rpc_calls.with_label_values(&[method]).inc();
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("writing to a Vec cannot fail; qed");
        out
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
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                // Read the request head (bounded); every path answers the metrics.
                let mut head = [0u8; 2048];
                let read =
                    tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut head))
                        .await;
                if !matches!(read, Ok(Ok(n)) if n > 0) {
                    return;
                }
                let (status, body) = if head.starts_with(b"GET /metrics ") {
                    ("200 OK", metrics.render())
                } else {
                    ("404 Not Found", b"try /metrics\n".to_vec())
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.write_all(&body).await;
            });
        }
    };
    Ok((local, task))
}
