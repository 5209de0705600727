//! `mosaic gateway`: serves public content over the IPFS HTTP gateway
//! specs (path and trustless) and, on a libp2p host, over Bitswap with
//! Identify and the IPFS DHT, until interrupted. It prints on stderr the
//! address it bound (`gateway listening on http://…`) and each libp2p
//! address in full, one per line (`p2p listening on /ip4/…/p2p/<peer>`), so
//! ports 0 can be used by scripts and tests.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use libp2p::identity::Keypair;
use libp2p::Multiaddr;
use mosaic_api::p2p_key;
use mosaic_client::chain::ChainClient;
use mosaic_client::gateway::{Gateway, GatewayConfig};
use mosaic_client::ipfs_p2p;
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
    /// A libp2p address for Bitswap, Identify and the DHT; may be given
    /// several times (port 0 picks a free one).
    #[arg(
        long = "p2p-listen",
        value_name = "MULTIADDR",
        default_value = "/ip4/127.0.0.1/tcp/4001"
    )]
    p2p_listen: Vec<Multiaddr>,
    /// The libp2p host's identity: an ed25519 key file (32 raw bytes), made
    /// on the first start (mode 0600) and read on the next ones, so the
    /// peer id IPFS nodes know stays the same. Without it the identity is
    /// new on every start.
    #[arg(long, value_name = "FILE", conflicts_with = "no_p2p")]
    p2p_key: Option<PathBuf>,
    /// Run no libp2p host: HTTP only.
    #[arg(long)]
    no_p2p: bool,
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
    let key = match (&args.p2p_key, args.no_p2p) {
        (_, true) => None,
        (Some(path), false) => Some(p2p_key::load_or_create(path)?),
        (None, false) => {
            eprintln!("the libp2p identity is new on this start; give --p2p-key FILE to keep one");
            Some(Keypair::generate_ed25519())
        }
    };
    let chain = ChainClient::connect(&args.node.rpc).await?;
    let blocks = PublicBlocks::new(chain, PublicConfig::default())
        .await
        .context("cannot start the shard network client")?;
    let gateway = Gateway::bind(args.listen, args.config(), blocks.clone())
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!(
        "gateway listening on http://{}",
        gateway.local_addr().context("the bound address")?
    );
    // Kept until the end: dropping the handle stops the host.
    let _host = match key {
        None => None,
        Some(key) => {
            let host = ipfs_p2p::start(key, args.p2p_listen.clone(), blocks)
                .await
                .context("cannot start the libp2p host")?;
            for addr in host.listen_addrs() {
                eprintln!("p2p listening on {addr}");
            }
            Some(host)
        }
    };
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        () = gateway.serve() => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    Ok(())
}
