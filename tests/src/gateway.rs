//! A `mosaic gateway` process of a [`Network`] and a small HTTP/1.1 client
//! to ask it (one request per connection; chunked bodies decoded).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::network::Network;
use crate::process::{binary, Process};

/// How long the gateway may take to come up, and a request to be answered.
const TIMEOUT: Duration = Duration::from_secs(180);
/// What the gateway prints once it listens.
const LISTENING: &str = "gateway listening on http://";
/// What it prints for each libp2p address.
const P2P_LISTENING: &str = "p2p listening on ";

/// A running gateway.
pub struct GatewayProcess {
    /// The process.
    pub process: Process,
    /// The address it serves HTTP on.
    pub addr: SocketAddr,
    /// The first libp2p address it printed, in full (`/ip4/…/p2p/…`).
    pub p2p_addr: String,
}

/// An HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Network {
    /// Starts `mosaic gateway` against the node, HTTP and libp2p each on a
    /// free port, and waits until it prints both addresses.
    pub async fn start_gateway(&self, extra: &[&str]) -> Result<GatewayProcess> {
        let mut args = vec![
            "gateway",
            "--listen",
            "127.0.0.1:0",
            "--p2p-listen",
            "/ip4/127.0.0.1/tcp/0",
            "--rpc",
            &self.rpc,
        ];
        args.extend_from_slice(extra);
        let mut process = Process::spawn(&binary("mosaic")?, &args, "gateway")?;
        let line = process.wait_for_log(LISTENING, TIMEOUT).await?;
        let addr = line
            .split(LISTENING)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|addr| addr.parse().ok())
            .with_context(|| format!("no address in {line:?}"))?;
        let line = process.wait_for_log(P2P_LISTENING, TIMEOUT).await?;
        let p2p_addr = line
            .split(P2P_LISTENING)
            .nth(1)
            .map(|rest| rest.trim().to_string())
            .with_context(|| format!("no address in {line:?}"))?;
        Ok(GatewayProcess {
            process,
            addr,
            p2p_addr,
        })
    }
}

impl GatewayProcess {
    /// `GET path` with `headers`.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Result<HttpResponse> {
        request(self.addr, "GET", path, headers).await
    }

    /// `HEAD path`.
    pub async fn head(&self, path: &str) -> Result<HttpResponse> {
        request(self.addr, "HEAD", path, &[]).await
    }

    /// The gateway's base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Sends one request on a new connection and reads the whole response.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<HttpResponse> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        anyhow::Ok(raw)
    };
    let raw = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .with_context(|| format!("{method} {path}: no answer within {TIMEOUT:?}"))??;
    parse_response(&raw, method == "HEAD").with_context(|| format!("{method} {path}"))
}

fn parse_response(raw: &[u8], head_only: bool) -> Result<HttpResponse> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of headers")?;
    let head = std::str::from_utf8(&raw[..end]).context("headers are not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().context("no status line")?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if head_only {
        ensure!(rest.is_empty(), "a HEAD response with a body");
        Vec::new()
    } else if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Decodes a chunked body; fails on one cut short (no last chunk).
fn dechunk(mut raw: &[u8]) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("the chunked body was cut")?;
        let size_text = std::str::from_utf8(&raw[..line_end])?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .with_context(|| format!("bad chunk size {size_text:?}"))?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if raw.len() < size + 2 {
            bail!("the chunked body was cut");
        }
        body.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}
