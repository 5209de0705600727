//! Serving Prometheus metrics as text at `/metrics`: the node's and the
//! worker's endpoints, each over its own registry.

use std::net::SocketAddr;

use prometheus::{Encoder, Registry, TextEncoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The registry's metrics in Prometheus' text format.
pub fn render(registry: &Registry) -> Vec<u8> {
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut out)
        .expect("writing to a Vec cannot fail; qed");
    out
}

/// Binds the metrics endpoint; returns its address and the serving task.
/// Each connection's request head is read with a bound and a timeout;
/// `GET /metrics` gets the metrics, any other path a 404.
pub async fn serve(
    addr: SocketAddr,
    registry: Registry,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let registry = registry.clone();
            tokio::spawn(async move {
                let mut head = [0u8; 2048];
                let read =
                    tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut head))
                        .await;
                if !matches!(read, Ok(Ok(n)) if n > 0) {
                    return;
                }
                let (status, body) = if head.starts_with(b"GET /metrics ") {
                    ("200 OK", render(&registry))
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
