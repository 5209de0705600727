//! `mosaic-worker`: the storage provider sidecar. See the library's docs
//! for what each command does.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use mosaic_api::amount;
use mosaic_api::chain::{parse_address, ChainClient};
use mosaic_api::keys::AccountKey;
use mosaic_shard_net::{Multiaddr, NetConfig};
use mosaic_worker::register::{register, RegisterConfig};
use mosaic_worker::run::{run, RunConfig};
use mosaic_worker::{scrub, size, status};

#[derive(Parser)]
#[command(
    name = "mosaic-worker",
    version,
    about = "Mosaic storage provider worker"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Register the account as a storage provider and wait for inclusion.
    Register(RegisterArgs),
    /// Store, serve and confirm the pieces the chain assigns this provider.
    Run(RunArgs),
    /// Print what the chain records about a provider.
    Status(StatusArgs),
}

/// The node and the provider account.
#[derive(Args)]
struct AccountArgs {
    /// The node's JSON-RPC WebSocket address.
    #[arg(long, default_value = "ws://127.0.0.1:9944")]
    rpc: String,
    /// The provider's key file.
    #[arg(long, conflicts_with = "suri")]
    key: Option<PathBuf>,
    /// The provider as a secret URI, e.g. `//Bob` on a development chain.
    #[arg(long)]
    suri: Option<String>,
}

impl AccountArgs {
    fn key(&self) -> Result<AccountKey> {
        Ok(AccountKey::from_args(
            self.key.as_deref(),
            self.suri.as_deref(),
        )?)
    }
}

#[derive(Args)]
struct RegisterArgs {
    #[command(flatten)]
    account: AccountArgs,
    /// Where the worker keeps its identity and pieces.
    #[arg(long)]
    base_path: PathBuf,
    /// The address the worker will listen on (fixed port).
    #[arg(long)]
    listen: Vec<Multiaddr>,
    /// The address clients dial, if not the listen address.
    #[arg(long)]
    public_addr: Vec<Multiaddr>,
    /// Bytes offered, e.g. `500GiB`.
    #[arg(long)]
    capacity: String,
    /// Price per byte per block, in the smallest unit.
    #[arg(long, default_value_t = 1)]
    price: u128,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    account: AccountArgs,
    /// Where the worker keeps its identity and pieces.
    #[arg(long)]
    base_path: PathBuf,
    /// The address to listen on for the shard protocol.
    #[arg(long, default_value = "/ip4/0.0.0.0/tcp/30433")]
    listen: Vec<Multiaddr>,
    /// Port of the Prometheus endpoint on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 9616)]
    prometheus_port: u16,
    /// No Prometheus endpoint.
    #[arg(long, conflicts_with = "prometheus_port")]
    no_prometheus: bool,
    /// Memory for uploaded shards being received and stored at once (bytes
    /// or with a unit); uploads past it are answered `busy`. Keep it above
    /// the largest shard clients send (segment size / data shards).
    #[arg(long, default_value = "256MiB")]
    upload_memory: String,
    /// Bytes a second the background scrub reads to find damaged pieces
    /// before an audit does (bytes or with a unit); 0 turns it off.
    #[arg(long, default_value = "16MiB")]
    scrub_rate: String,
    /// Seconds from the start of one scrub pass to the start of the next,
    /// at least: a small store is not read over and over.
    #[arg(long, default_value_t = 3600)]
    scrub_interval_secs: u64,
}

#[derive(Args)]
struct StatusArgs {
    #[command(flatten)]
    account: AccountArgs,
    /// The provider's SS58 address, instead of a key.
    #[arg(long, conflicts_with_all = ["key", "suri"])]
    account_address: Option<String>,
    /// The worker's base path: adds what the worker found (pieces being
    /// rebuilt, lost or damaged, the scrub's progress).
    #[arg(long)]
    base_path: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    if let Err(e) = runtime.block_on(command(cli.command)) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn command(command: Command) -> Result<()> {
    match command {
        Command::Register(args) => {
            let addresses = if args.public_addr.is_empty() {
                args.listen
            } else {
                args.public_addr
            };
            let capacity = size::parse(&args.capacity)?;
            let registered = register(RegisterConfig {
                rpc: args.account.rpc.clone(),
                key: args.account.key()?,
                base_path: args.base_path,
                addresses,
                capacity,
                price: args.price,
            })
            .await?;
            println!(
                "registered {} (peer id {}) with a stake of {}",
                registered.account,
                registered.peer_id,
                amount::format(registered.stake)
            );
            Ok(())
        }
        Command::Run(args) => {
            let config = RunConfig {
                rpc: args.account.rpc.clone(),
                key: args.account.key()?,
                base_path: args.base_path,
                net: NetConfig {
                    listen: args.listen,
                    max_inbound_bytes: usize::try_from(size::parse(&args.upload_memory)?)
                        .unwrap_or(usize::MAX),
                    ..NetConfig::default()
                },
                prometheus: (!args.no_prometheus)
                    .then(|| std::net::SocketAddr::from(([127, 0, 0, 1], args.prometheus_port))),
                scrub: scrub::Schedule {
                    rate: size::parse(&args.scrub_rate)?,
                    interval: std::time::Duration::from_secs(args.scrub_interval_secs),
                },
            };
            run(config, shutdown(), |_| {}).await?;
            Ok(())
        }
        Command::Status(args) => {
            let who = match &args.account_address {
                Some(address) => parse_address(address)?,
                None => args.account.key()?.account_id(),
            };
            let chain = ChainClient::connect(&args.account.rpc).await?;
            let report = status::status(&chain, &who).await?;
            let health = match &args.base_path {
                Some(base) => Some(status::HealthReport::read(base).ok_or_else(|| {
                    anyhow::anyhow!(
                        "no health report under {}: is a worker running with that --base-path?",
                        base.display()
                    )
                })?),
                None => None,
            };
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "stake": report.stake.to_string(),
                        "capacity": report.capacity,
                        "used": report.used,
                        "price": report.price.to_string(),
                        "state": report.state,
                        "piecesHeld": report.held.0,
                        "bytesHeld": report.held.1,
                        "piecesPending": report.pending.0,
                        "bytesPending": report.pending.1,
                        "openChallenges": report.challenges,
                        "nextDeadline": report.next_deadline,
                        "challengesProven": report.audits.proven,
                        "challengesFailed": report.audits.failed,
                        "slashed": report.audits.slashed.to_string(),
                        "free": report.free.to_string(),
                        "earned": report.earned.to_string(),
                        "worker": health,
                    })
                );
            } else {
                println!("state:    {}", report.state);
                println!("stake:    {}", amount::format(report.stake));
                println!(
                    "capacity: {} bytes, {} assigned",
                    report.capacity, report.used
                );
                println!("price:    {} per byte per block", report.price);
                println!(
                    "held:     {} pieces, {} bytes",
                    report.held.0, report.held.1
                );
                println!(
                    "pending:  {} pieces, {} bytes",
                    report.pending.0, report.pending.1
                );
                match report.next_deadline {
                    Some(deadline) => println!(
                        "audit:    {} open challenges, the first due by block {deadline}",
                        report.challenges
                    ),
                    None => println!("audit:    no open challenge"),
                }
                println!(
                    "audits:   {} proven, {} failed, {} slashed",
                    report.audits.proven,
                    report.audits.failed,
                    amount::format(report.audits.slashed)
                );
                println!("earned:   {}", amount::format(report.earned));
                println!("free:     {}", amount::format(report.free));
                if let Some(health) = health {
                    let repairing = match health.repairing.as_slice() {
                        [] => "none".to_string(),
                        pieces => pieces.join(", "),
                    };
                    println!("worker:   rebuilding {repairing}; found {} lost and {} damaged pieces since it started", health.lost, health.damaged);
                    println!(
                        "scrub:    {} bytes verified, {} full passes",
                        health.scrubbed_bytes, health.scrub_passes
                    );
                }
            }
            Ok(())
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
