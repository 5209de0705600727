//! Connections and their bounds: HTTP/1.1, and HTTP/2 with prior knowledge
//! (h2c: what a client or reverse proxy speaks to a gateway on cleartext),
//! told apart by the connection's first bytes, over hyper; a permit per
//! connection and per request, a bounded request head, a bounded number of
//! streams per HTTP/2 connection, and a deadline on the response's head.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};

use super::request;
use super::respond::{self, Body, Failure};
use super::State;

/// Time to read a request's head once its first byte came.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Headers in a request.
const MAX_HEADERS: usize = 64;
/// Streams an HTTP/2 client may open at once on one connection (the
/// gateway-wide request permits bound them all together).
const MAX_STREAMS: u32 = 32;
/// How often an idle HTTP/2 connection is pinged, and how long the answer
/// may take before the connection is closed.
const H2_KEEP_ALIVE: Duration = Duration::from_secs(30);
/// Seconds a client is told to wait when the gateway is busy.
const BUSY_RETRY_SECS: u64 = 5;

/// Accepts connections on `listener` and serves each on a task of its own.
pub(super) async fn serve(listener: TcpListener, state: Arc<State>) {
    let connections = Arc::new(Semaphore::new(state.config.max_connections));
    loop {
        let permit = connections
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed; qed");
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of descriptors, most likely: let connections end
                // before accepting more.
                tracing::warn!(target: "mosaic::gateway", %error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let state = state.clone();
        // hyper refuses a buffer under 8 KiB.
        let max_head = state.config.max_header_bytes.max(8 << 10);
        tokio::spawn(async move {
            // A body whose client stalls past the idle timeout drops the
            // whole connection: hyper would otherwise wait on the socket.
            let drop_connection = Arc::new(Notify::new());
            let service = {
                let drop_connection = drop_connection.clone();
                service_fn(move |request| handle(state.clone(), drop_connection.clone(), request))
            };
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(max_head)
                .max_headers(MAX_HEADERS);
            builder
                .http2()
                .timer(TokioTimer::new())
                .max_concurrent_streams(MAX_STREAMS)
                .max_header_list_size(max_head as u32)
                .keep_alive_interval(H2_KEEP_ALIVE)
                .keep_alive_timeout(H2_KEEP_ALIVE);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                result = connection => {
                    if let Err(error) = result {
                        tracing::debug!(target: "mosaic::gateway", %error, "connection ended");
                    }
                }
                () = drop_connection.notified() => {}
            }
            drop(permit);
        });
    }
}

/// Answers one request.
async fn handle(
    state: Arc<State>,
    drop_connection: Arc<Notify>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Body>, Infallible> {
    let Ok(permit) = state.requests.clone().try_acquire_owned() else {
        return Ok(respond::failure(Failure::busy(
            "the gateway is answering as many requests as it may; retry shortly",
            BUSY_RETRY_SECS,
        )));
    };
    let parsed = match request::parse(request.method(), request.uri(), request.headers()) {
        Ok(parsed) => parsed,
        Err(reject) => return Ok(respond::failure(reject.into())),
    };
    let timeout = state.config.request_timeout;
    let answer = respond::respond(state, parsed, permit, drop_connection);
    Ok(match tokio::time::timeout(timeout, answer).await {
        Ok(Ok(response)) => response,
        Ok(Err(failure)) => respond::failure(failure),
        Err(_) => respond::failure(Failure::timeout(timeout)),
    })
}
