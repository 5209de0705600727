//! Serving Prometheus metrics as text at `/metrics`: the node's and the
//! worker's endpoints, each over its own registry.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use prometheus::{Encoder, Registry, TextEncoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The registry's metrics in Prometheus' text format.
pub fn render(registry: &Registry) -> Vec<u8> {
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut out)
        .expect("writing to a Vec cannot fail; qed");
    out
}

/// Connections served at once; more wait to be accepted.
pub const MAX_CONNECTIONS: usize = 16;
/// How long a connection may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds the metrics endpoint; returns its address and the serving task.
/// At most [`MAX_CONNECTIONS`] are served at once, each given
/// [`IO_TIMEOUT`] to send its request head (read with a bound) and again
/// to take the answer; `GET /metrics` gets the metrics, any other path a
/// 404. An accept that fails (out of file descriptors) is retried after a
/// pause, not in a spin.
pub async fn serve(
    addr: SocketAddr,
    registry: Registry,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let task = async move {
        loop {
            let permit = slots
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed; qed");
            let mut stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let registry = registry.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let mut head = [0u8; 2048];
                let read = tokio::time::timeout(IO_TIMEOUT, stream.read(&mut head)).await;
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
                let _ = tokio::time::timeout(IO_TIMEOUT, async {
                    stream.write_all(response.as_bytes()).await?;
                    stream.write_all(&body).await
                })
                .await;
            });
        }
    };
    Ok((local, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(addr: SocketAddr) -> std::io::Result<String> {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await?;
        let mut text = String::new();
        stream.read_to_string(&mut text).await?;
        Ok(text)
    }

    #[tokio::test]
    async fn idle_connections_past_the_bound_hold_off_the_next_until_they_go() {
        let registry = Registry::new();
        let counter = prometheus::IntCounter::new("probe_total", "a probe").unwrap();
        registry.register(Box::new(counter.clone())).unwrap();
        counter.inc();
        let (addr, task) = serve(SocketAddr::from(([127, 0, 0, 1], 0)), registry)
            .await
            .unwrap();
        tokio::spawn(task);
        assert!(get(addr).await.unwrap().contains("probe_total 1"));
        // Every slot held by a connection that sends nothing.
        let mut idle = Vec::new();
        for _ in 0..MAX_CONNECTIONS {
            idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
        }
        let next = tokio::spawn(get(addr));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!next.is_finished(), "served past the bound");
        drop(idle);
        let text = tokio::time::timeout(IO_TIMEOUT, next)
            .await
            .expect("served once the idle connections went")
            .unwrap()
            .unwrap();
        assert!(text.contains("probe_total 1"), "{text}");
    }
}
