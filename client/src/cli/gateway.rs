//! `mosaic gateway`: serves public content over the IPFS HTTP gateway
//! specs (path and trustless) until interrupted. It prints the address it
//! bound on stderr (`gateway listening on http://…`), so `--listen` with
//! port 0 can be used by scripts and tests.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use mosaic_client::chain::ChainClient;
use mosaic_client::gateway::{Gateway, GatewayConfig};
use mosaic_client::public_blocks::{PublicBlocks, PublicConfig};

use crate::network::NodeArgs;

/// `mosaic gateway`'s options.
#[derive(Args)]
pub struct GatewayArgs {
    /// The HTTP address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    node: NodeArgs,
    /// Requests answered at once; past this, 503 with Retry-After.
    #[arg(long, default_value_t = GatewayConfig::default().max_requests)]
    max_requests: usize,
    /// Seconds a request may wait on the chain and the providers before
    /// its response starts (then 504).
    #[arg(long, default_value_t = GatewayConfig::default().request_timeout.as_secs())]
    request_timeout_secs: u64,
}

impl GatewayArgs {
    fn config(&self) -> GatewayConfig {
        GatewayConfig {
            max_requests: self.max_requests.max(1),
            request_timeout: Duration::from_secs(self.request_timeout_secs.max(1)),
            ..GatewayConfig::default()
        }
    }
}

/// Runs the gateway until Ctrl-C or SIGTERM.
pub async fn run(args: GatewayArgs) -> Result<()> {
    // Two connections: the block store keeps one for itself.
    let chain = ChainClient::connect(&args.node.rpc).await?;
    let store_chain = ChainClient::connect(&args.node.rpc).await?;
    let blocks = PublicBlocks::new(store_chain, PublicConfig::default())
        .await
        .context("cannot start the shard network client")?;
    let gateway = Gateway::bind(args.listen, args.config(), blocks, chain)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!(
        "gateway listening on http://{}",
        gateway.local_addr().context("the bound address")?
    );
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        () = gateway.serve() => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    Ok(())
}
