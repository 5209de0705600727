//! `mosaic-node`: the command line, in Substrate's conventions, turned into
//! a [`service::Config`].

use std::io::{IsTerminal, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use mosaic_chain_spec::ChainSpec;
use mosaic_node::author::Authoring;
use mosaic_node::keystore::{self, Keystore};
use mosaic_node::network::{Multiaddr, NetworkConfig};
use mosaic_node::pool::PoolConfig;
use mosaic_node::rpc::browser::{Origins, DEFAULT_ORIGINS};
use mosaic_node::rpc::RpcConfig;
use mosaic_node::service::{self, Config};
use mosaic_node::store::StatePruning;
use polkadot_sdk::sp_core::crypto::{Pair, Ss58Codec};
use polkadot_sdk::sp_core::{ed25519, sr25519};

#[derive(Parser)]
#[command(
    name = "mosaic-node",
    version,
    about = "A Mosaic validator or full node"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Print a chain spec as JSON.
    BuildSpec {
        #[command(flatten)]
        shared: SharedArgs,
        /// Print the genesis as raw storage.
        #[arg(long)]
        raw: bool,
    },
    /// Delete the chain's database.
    PurgeChain {
        #[command(flatten)]
        shared: SharedArgs,
        /// Do not ask for confirmation.
        #[arg(short = 'y')]
        yes: bool,
    },
    /// Key management.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Generate a new key and print its secret phrase, public key and address.
    Generate {
        /// sr25519 (accounts, VRF) or ed25519 (Aura, GRANDPA).
        #[arg(long, default_value = "sr25519")]
        scheme: String,
    },
    /// Store a key in the node's keystore.
    Insert {
        #[command(flatten)]
        shared: SharedArgs,
        /// aura, gran or mvrf.
        #[arg(long)]
        key_type: String,
        /// The secret URI: a phrase, a 0x seed or a //Dev path.
        #[arg(long)]
        suri: String,
    },
}

/// Options every command that touches a chain takes.
#[derive(Args, Clone)]
struct SharedArgs {
    /// Development chain: `--chain dev`, temporary state unless
    /// `--base-path`.
    #[arg(long)]
    dev: bool,
    /// `dev`, `local` or the path of a chain spec JSON file.
    #[arg(long)]
    chain: Option<String>,
    /// Where the node keeps its data (default ~/.local/share/mosaic).
    #[arg(long, short = 'd')]
    base_path: Option<PathBuf>,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    shared: SharedArgs,
    /// Use a temporary base path, deleted on exit.
    #[arg(long)]
    tmp: bool,
    /// Author blocks with the keystore's keys.
    #[arg(long)]
    validator: bool,
    /// A fault for tests only: author two sibling blocks for each of our
    /// slots, as a Byzantine author would. Never on a real network: peers
    /// refuse the second block and lower our reputation.
    #[arg(long, hide = true)]
    equivocate: bool,
    /// The node's name, shown by `system_name`.
    #[arg(long)]
    name: Option<String>,
    /// The p2p TCP port, on every interface (default 30333; 0 picks a
    /// free one). Ignored with `--listen-addr`.
    #[arg(long)]
    port: Option<u16>,
    /// Multiaddrs to listen on, e.g. `/ip4/127.0.0.1/tcp/30333`.
    #[arg(long, num_args = 1..)]
    listen_addr: Vec<Multiaddr>,
    /// Multiaddrs to tell peers we are reachable at.
    #[arg(long, num_args = 1..)]
    public_addr: Vec<Multiaddr>,
    /// Peers to start from: multiaddrs ending in `/p2p/<peer id>`.
    #[arg(long, num_args = 1..)]
    bootnodes: Vec<Multiaddr>,
    /// Peers to stay connected to: multiaddrs ending in `/p2p/<peer id>`.
    #[arg(long, num_args = 1..)]
    reserved_nodes: Vec<Multiaddr>,
    /// Connect to reserved nodes only.
    #[arg(long)]
    reserved_only: bool,
    /// Most peer connections.
    #[arg(long, default_value_t = 50)]
    max_peers: u32,
    /// JSON-RPC port (HTTP and WebSocket).
    #[arg(long, default_value_t = 9944)]
    rpc_port: u16,
    /// Listen for JSON-RPC on every interface, not only localhost.
    #[arg(long)]
    rpc_external: bool,
    /// Browser origins allowed to call, comma-separated
    /// (`http://localhost:*`, `https://app.example`), or `all`. By default
    /// local pages and polkadot.js apps (every origin with `--dev`). Pages
    /// that are not local may call safe methods only.
    #[arg(long)]
    rpc_cors: Option<String>,
    /// `safe`, `unsafe` or `auto` (unsafe only when listening on
    /// localhost).
    #[arg(long, default_value = "auto")]
    rpc_methods: String,
    /// Most JSON-RPC connections.
    #[arg(long, default_value_t = 100)]
    rpc_max_connections: u32,
    /// Largest JSON-RPC request, in MiB.
    #[arg(long, default_value_t = 15)]
    rpc_max_request_size: u32,
    /// Largest JSON-RPC response, in MiB.
    #[arg(long, default_value_t = 15)]
    rpc_max_response_size: u32,
    /// Most subscriptions per connection.
    #[arg(long, default_value_t = 1024)]
    rpc_max_subscriptions_per_connection: u32,
    /// Disable JSON-RPC.
    #[arg(long)]
    no_rpc: bool,
    /// Prometheus port.
    #[arg(long, default_value_t = 9615)]
    prometheus_port: u16,
    /// Serve Prometheus metrics on every interface.
    #[arg(long)]
    prometheus_external: bool,
    /// Disable the Prometheus endpoint.
    #[arg(long)]
    no_prometheus: bool,
    /// `archive` or how many finalized blocks' states to keep.
    #[arg(long, default_value = "256")]
    state_pruning: StatePruning,
    /// Most transactions in the pool.
    #[arg(long, default_value_t = 8192)]
    pool_limit: usize,
    /// Most kilobytes of transactions in the pool.
    #[arg(long, default_value_t = 20480)]
    pool_kbytes: usize,
    /// The libp2p node key, as 64 hex digits.
    #[arg(long, conflicts_with = "node_key_file")]
    node_key: Option<String>,
    /// A file holding the libp2p node key: 32 raw bytes or 64 hex digits.
    #[arg(long)]
    node_key_file: Option<PathBuf>,
    /// Log filter, as RUST_LOG (e.g. `info,mosaic::import=debug`).
    #[arg(long, short = 'l')]
    log: Option<String>,
    #[command(flatten)]
    dev_keys: DevKeys,
}

/// Substrate's development key shortcuts: the keys of `//Name` go into the
/// keystore, and the node validates.
#[derive(Args)]
struct DevKeys {
    #[arg(long)]
    alice: bool,
    #[arg(long)]
    bob: bool,
    #[arg(long)]
    charlie: bool,
    #[arg(long)]
    dave: bool,
    #[arg(long)]
    eve: bool,
    #[arg(long)]
    ferdie: bool,
}

impl DevKeys {
    fn seed(&self) -> Option<&'static str> {
        [
            (self.alice, "//Alice"),
            (self.bob, "//Bob"),
            (self.charlie, "//Charlie"),
            (self.dave, "//Dave"),
            (self.eve, "//Eve"),
            (self.ferdie, "//Ferdie"),
        ]
        .into_iter()
        .find_map(|(set, seed)| set.then_some(seed))
    }
}

impl SharedArgs {
    fn chain_spec(&self) -> anyhow::Result<ChainSpec> {
        let chain = match (&self.chain, self.dev) {
            (Some(chain), _) => chain.as_str(),
            (None, true) => "dev",
            (None, false) => "local",
        };
        ChainSpec::resolve(chain).with_context(|| format!("loading chain spec `{chain}`"))
    }

    fn base_path(&self) -> anyhow::Result<PathBuf> {
        match &self.base_path {
            Some(path) => Ok(path.clone()),
            None => {
                let home = std::env::var_os("HOME").context("HOME is not set; give --base-path")?;
                Ok(PathBuf::from(home).join(".local/share/mosaic"))
            }
        }
    }

    fn chain_dir(&self, spec: &ChainSpec) -> anyhow::Result<PathBuf> {
        Ok(self.base_path()?.join("chains").join(&spec.id))
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::BuildSpec { shared, raw }) => {
            let json = shared.chain_spec()?.to_json(*raw)?;
            println!("{json}");
            Ok(())
        }
        Some(Command::PurgeChain { shared, yes }) => purge_chain(shared, *yes),
        Some(Command::Key(KeyCommand::Generate { scheme })) => key_generate(scheme),
        Some(Command::Key(KeyCommand::Insert {
            shared,
            key_type,
            suri,
        })) => {
            let spec = shared.chain_spec()?;
            let keystore = Keystore::open(&shared.chain_dir(&spec)?.join("keystore"))?;
            let public = keystore.insert(keystore::key_type(key_type)?, suri, None)?;
            println!("0x{}", hex::encode(public));
            Ok(())
        }
        None => run(cli.run),
    }
}

fn purge_chain(shared: &SharedArgs, yes: bool) -> anyhow::Result<()> {
    let spec = shared.chain_spec()?;
    let db = shared.chain_dir(&spec)?.join("db");
    if !db.exists() {
        println!("{} does not exist", db.display());
        return Ok(());
    }
    if !yes {
        print!("Delete {}? [y/N]: ", db.display());
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y") {
            println!("Aborted");
            return Ok(());
        }
    }
    std::fs::remove_dir_all(&db).with_context(|| format!("deleting {}", db.display()))?;
    println!("{} removed", db.display());
    Ok(())
}

fn key_generate(scheme: &str) -> anyhow::Result<()> {
    let (phrase, public, address) = match scheme {
        "sr25519" => {
            let (pair, phrase, _) = sr25519::Pair::generate_with_phrase(None);
            (phrase, pair.public().to_vec(), pair.public().to_ss58check())
        }
        "ed25519" => {
            let (pair, phrase, _) = ed25519::Pair::generate_with_phrase(None);
            (phrase, pair.public().to_vec(), pair.public().to_ss58check())
        }
        other => bail!("unknown scheme `{other}`: use sr25519 or ed25519"),
    };
    println!("Secret phrase:     {phrase}");
    println!("Public key (hex):  0x{}", hex::encode(public));
    println!("SS58 address:      {address}");
    Ok(())
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let filter = args
        .log
        .clone()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&filter)?)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let shared = &args.shared;
    let spec = shared.chain_spec()?;
    // `--dev` and `--tmp` without a base path use a directory deleted on exit.
    let tmp = if args.tmp || (shared.dev && shared.base_path.is_none()) {
        Some(tempfile::tempdir().context("creating a temporary base path")?)
    } else {
        None
    };
    let chain_dir = match &tmp {
        Some(dir) => dir.path().join("chains").join(&spec.id),
        None => shared.chain_dir(&spec)?,
    };
    let dev_seed = args
        .dev_keys
        .seed()
        .or(shared.dev.then_some("//Alice"))
        .map(str::to_owned);
    let listen: IpAddr = if args.rpc_external {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::LOCALHOST.into()
    };
    let unsafe_methods = match args.rpc_methods.as_str() {
        "safe" => false,
        "unsafe" => true,
        "auto" => !args.rpc_external,
        other => bail!("--rpc-methods must be safe, unsafe or auto, not `{other}`"),
    };
    let origins = match args.rpc_cors.as_deref() {
        Some("all") => Origins::all(),
        Some(list) => Origins::only(list.split(',')).map_err(|bad| {
            anyhow::anyhow!(
                "--rpc-cors: `{bad}` is not an origin; give `all` or origins like http://localhost:* or https://app.example"
            )
        })?,
        // Web wallets work with a development node.
        None if shared.dev => Origins::all(),
        None => Origins::only(DEFAULT_ORIGINS).expect("the default origins parse; qed"),
    };
    let rpc = (!args.no_rpc).then(|| RpcConfig {
        addr: SocketAddr::new(listen, args.rpc_port),
        max_connections: args.rpc_max_connections,
        max_request_bytes: args.rpc_max_request_size.saturating_mul(1 << 20),
        max_response_bytes: args.rpc_max_response_size.saturating_mul(1 << 20),
        max_subscriptions: args.rpc_max_subscriptions_per_connection,
        origins,
        unsafe_methods,
    });
    let prometheus_ip: IpAddr = if args.prometheus_external {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::LOCALHOST.into()
    };
    let node_key = match (&args.node_key, &args.node_key_file) {
        (Some(hex_key), _) => Some(parse_node_key(hex_key.as_bytes()).context("--node-key")?),
        (None, Some(path)) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading --node-key-file {}", path.display()))?;
            Some(
                parse_node_key(&bytes)
                    .with_context(|| format!("--node-key-file {}", path.display()))?,
            )
        }
        (None, None) => None,
    };
    let listen = if args.listen_addr.is_empty() {
        let port = args.port.unwrap_or(30333);
        vec![format!("/ip4/0.0.0.0/tcp/{port}")
            .parse()
            .expect("a valid multiaddr; qed")]
    } else {
        args.listen_addr.clone()
    };
    let network = NetworkConfig {
        listen,
        public: args.public_addr.clone(),
        bootnodes: args.bootnodes.clone(),
        reserved: args.reserved_nodes.clone(),
        max_peers: args.max_peers,
        reserved_only: args.reserved_only,
    };
    let config = Config {
        // `--alice` names the node Alice, as in Substrate.
        name: args.name.clone().unwrap_or_else(|| {
            args.dev_keys
                .seed()
                .map_or("mosaic", |seed| seed.trim_start_matches("//"))
                .into()
        }),
        validator: (args.validator || dev_seed.is_some()).then_some(if args.equivocate {
            Authoring::Equivocating
        } else {
            Authoring::Honest
        }),
        dev_seed,
        state_pruning: args.state_pruning,
        rpc,
        prometheus: (!args.no_prometheus)
            .then(|| SocketAddr::new(prometheus_ip, args.prometheus_port)),
        node_key,
        network,
        pool: PoolConfig {
            max_count: args.pool_limit,
            max_bytes: args.pool_kbytes.saturating_mul(1024),
            ..PoolConfig::default()
        },
        chain_spec: spec,
        chain_dir,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let node = service::start(config).await?;
        shutdown_signal().await?;
        tracing::info!(target: "mosaic::service", "shutting down");
        node.stop().await;
        anyhow::Ok(())
    })?;
    drop(tmp);
    Ok(())
}

/// A node key: 32 raw bytes, or 64 hex digits (optionally `0x`, trailing
/// whitespace allowed).
fn parse_node_key(bytes: &[u8]) -> anyhow::Result<[u8; 32]> {
    if let Ok(raw) = <[u8; 32]>::try_from(bytes) {
        return Ok(raw);
    }
    let text = std::str::from_utf8(bytes)
        .context("neither 32 bytes nor hex")?
        .trim();
    let decoded = hex::decode(text.trim_start_matches("0x")).context("not hex")?;
    decoded
        .try_into()
        .map_err(|_| anyhow::anyhow!("a node key is 32 bytes"))
}

/// Waits for Ctrl-C or SIGTERM.
async fn shutdown_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = term.recv() => {}
    }
    Ok(())
}
