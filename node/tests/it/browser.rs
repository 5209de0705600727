//! What a web page may do with a node's JSON-RPC server: requests and
//! WebSocket upgrades from origins `--rpc-cors` does not allow are refused,
//! a `Host` that is not loopback is refused by a loopback server, pages
//! that are not local call safe methods only, and clients that send no
//! `Origin` (every non-browser client) work as before. Raw HTTP over TCP,
//! so the test sets `Origin` and `Host` exactly as a browser would.

use std::net::SocketAddr;

use anyhow::{ensure, Context, Result};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::Node;
use crate::rpc::code;

/// Alice's Aura key, for `author_hasKey` (an unsafe method).
const ALICE_AURA: &str = "0x88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee";

/// Sends `request` and answers the status code and body.
async fn send(addr: SocketAddr, request: String) -> Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    // A refusal or a JSON answer closes the connection; an upgrade does
    // not, but its status line comes at once.
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut response),
    )
    .await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("no HTTP status in {text:?}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// A JSON-RPC POST of `method` with `host` and, if any, `origin`.
fn post(host: &str, origin: Option<&str>, method: &str, params: Value) -> String {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        .to_string();
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\n{origin}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A WebSocket upgrade with `host` and `origin`.
fn upgrade(host: &str, origin: &str) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// The JSON-RPC answer in `body`: its result, or its error code.
fn answer(body: &str) -> Result<std::result::Result<Value, i64>> {
    let value: Value =
        serde_json::from_str(body.trim()).with_context(|| format!("not JSON: {body:?}"))?;
    Ok(match value.get("error") {
        Some(error) => Err(error["code"].as_i64().context("an error code")?),
        None => Ok(value["result"].clone()),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_are_held_to_their_origin_and_host() -> Result<()> {
    // Not `--dev`: the default origins are local pages and polkadot.js.
    let node = Node::start(&["--chain", "dev"]).await?;
    let addr = node.rpc_addr();
    let host = format!("127.0.0.1:{}", addr.port());
    let evil = "http://evil.example";

    let (status, body) = send(addr, post(&host, Some(evil), "system_chain", Value::Null)).await?;
    ensure!(
        status == 403 && body.contains("--rpc-cors"),
        "{status} {body}"
    );
    let (status, body) = send(addr, upgrade(&host, evil)).await?;
    ensure!(status == 403, "a foreign upgrade: {status} {body}");

    // DNS rebinding: a page's own name resolving to 127.0.0.1.
    let rebound = format!("evil.example:{}", addr.port());
    let (status, body) = send(addr, post(&rebound, None, "system_chain", Value::Null)).await?;
    ensure!(status == 403, "a foreign Host: {status} {body}");

    // A local page calls anything; polkadot.js only safe methods.
    let local = "http://localhost:3000";
    let (status, body) = send(addr, post(&host, Some(local), "system_chain", Value::Null)).await?;
    ensure!(
        status == 200 && answer(&body)? == Ok("Development".into()),
        "{status} {body}"
    );
    let has_key = serde_json::json!([ALICE_AURA, "aura"]);
    let (_, body) = send(
        addr,
        post(&host, Some(local), "author_hasKey", has_key.clone()),
    )
    .await?;
    ensure!(answer(&body)?.is_ok(), "a local page's unsafe call: {body}");
    let wallet = "https://polkadot.js.org";
    let (_, body) = send(addr, post(&host, Some(wallet), "system_chain", Value::Null)).await?;
    ensure!(answer(&body)?.is_ok(), "{body}");
    let (_, body) = send(
        addr,
        post(&host, Some(wallet), "author_hasKey", has_key.clone()),
    )
    .await?;
    ensure!(answer(&body)? == Err(code::UNSAFE.into()), "{body}");
    let (status, _) = send(addr, upgrade(&host, local)).await?;
    ensure!(status == 101, "a local page's upgrade: {status}");

    // Clients that send no Origin are not browsers: unchanged.
    let client = node.ws_client().await?;
    let chain: String = client.request("system_chain", rpc_params![]).await?;
    ensure!(chain == "Development", "{chain}");
    let _: bool = client
        .request("author_hasKey", rpc_params![ALICE_AURA, "aura"])
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dev_node_serves_any_page_safe_methods_only() -> Result<()> {
    let node = Node::dev().await?;
    let addr = node.rpc_addr();
    let host = format!("localhost:{}", addr.port());
    let page = Some("https://wallet.example");
    let (status, body) = send(addr, post(&host, page, "system_chain", Value::Null)).await?;
    ensure!(status == 200 && answer(&body)?.is_ok(), "{status} {body}");
    let has_key = serde_json::json!([ALICE_AURA, "aura"]);
    let (_, body) = send(addr, post(&host, page, "author_hasKey", has_key.clone())).await?;
    ensure!(answer(&body)? == Err(code::UNSAFE.into()), "{body}");
    let (_, body) = send(addr, post(&host, None, "author_hasKey", has_key)).await?;
    ensure!(
        answer(&body)? == Ok(true.into()),
        "the dev node holds Alice's key: {body}"
    );
    Ok(())
}
