//! `mosaic`: the Mosaic command-line client.
//!
//! Offline commands: account keys, IPFS-compatible CIDs, and encoding a file
//! into shards plus a manifest (and back). Network commands over a node's
//! JSON-RPC and the providers' workers: `put`, `get`, `status`, `ls`, `rm`,
//! `extend`, `share ORDER`, `providers`, `balance`, `transfer`, `name`, and
//! `gateway`, the IPFS HTTP gateway over public content.

#[path = "cli/gateway.rs"]
mod gateway;
#[path = "cli/names.rs"]
mod names;
#[path = "cli/network.rs"]
mod network;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use mosaic_client::amount;
use mosaic_client::chain::{self, ChainClient};
use mosaic_client::direct::DirectFile;
use mosaic_client::keys::{parse_encryption_key, AccountKey};
use mosaic_client::shard_dir::{ShardDir, MANIFEST_FILE};
use mosaic_client::tree::{self, ScanOptions};
use mosaic_primitives::manifest::Manifest;
use mosaic_primitives::pipeline::{self, default_threads, PutOptions};
use network::{NodeArgs, SignerArgs};

#[derive(Parser)]
#[command(name = "mosaic", version, about = "Mosaic storage client")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create and inspect account keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Print the CID `ipfs add [-r] --cid-version=1` gives a file or directory.
    Cid {
        /// The file or directory.
        path: PathBuf,
        /// Include names starting with `.` in a directory (Kubo's `--hidden`).
        #[arg(long)]
        hidden: bool,
    },
    /// Encrypt, erasure-code and hash FILE into shard files, shard-root lists and a manifest.
    Encode(EncodeArgs),
    /// Rebuild a file from the shards in DIR, verifying each one.
    Decode(DecodeArgs),
    /// Let another public key read an encrypted object (no data re-encrypted):
    /// an order on chain, or an encoded directory.
    Share(ShareArgs),
    /// Store a file on the network and wait until its order is live.
    Put(network::PutArgs),
    /// Get a file back from the providers, verifying every shard.
    Get(network::GetArgs),
    /// Show an order.
    Status(network::OrderArgs),
    /// List an account's orders.
    Ls(network::LsArgs),
    /// Delete an order; the unspent escrow is refunded.
    Rm(network::OwnedOrderArgs),
    /// Pay for more periods of an order.
    Extend(network::ExtendArgs),
    /// List the registered providers, or those of an order and where they are.
    Providers(network::ProvidersArgs),
    /// Print an account's balance.
    Balance {
        /// The SS58 address.
        address: String,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Send tokens and wait until a block includes the transfer.
    Transfer(TransferArgs),
    /// Mutable names pointing to CIDs, version after version.
    #[command(subcommand)]
    Name(names::NameCommand),
    /// Serve public content over HTTP as an IPFS path and trustless gateway.
    Gateway(gateway::GatewayArgs),
}

#[derive(Args)]
struct TransferArgs {
    /// The recipient's SS58 address.
    #[arg(long)]
    to: String,
    /// The amount in tokens (12 decimals), e.g. `1.5`.
    #[arg(long)]
    amount: String,
    /// The sender's key file.
    #[arg(long, conflicts_with = "suri")]
    key: Option<PathBuf>,
    /// The sender as a secret URI, e.g. `//Alice` on a development chain.
    #[arg(long)]
    suri: Option<String>,
    #[command(flatten)]
    node: NodeArgs,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Write a new key file (mode 0600) and print its public keys.
    Generate {
        /// Where to write the key; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public keys of a key file.
    Inspect {
        /// The key file.
        file: PathBuf,
    },
}

#[derive(Args)]
struct EncodeArgs {
    /// The file to encode.
    file: PathBuf,
    /// Directory to write the shards and manifest into (created if missing).
    #[arg(long)]
    to: PathBuf,
    /// Encrypt to this key file's account.
    #[arg(long, conflicts_with = "public", required_unless_present = "public")]
    key: Option<PathBuf>,
    /// Store the file unencrypted; its CID is then the IPFS CID.
    #[arg(long)]
    public: bool,
    #[command(flatten)]
    cipher: network::CipherArgs,
    #[command(flatten)]
    coding: network::CodingArgs,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = default_threads())]
    threads: usize,
    /// Print one JSON object on stdout instead of the manifest's CID.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct DecodeArgs {
    /// Directory holding the manifest and shards.
    dir: PathBuf,
    /// Where to write the file; it appears only once fully verified.
    #[arg(long)]
    to: PathBuf,
    /// Key file of a reader, for encrypted objects.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = default_threads())]
    threads: usize,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ShareArgs {
    /// An order id, or a directory holding a manifest and shards.
    target: String,
    /// Encryption public key (hex) of the new reader, as `mosaic key inspect` prints it.
    #[arg(long)]
    with: String,
    #[command(flatten)]
    signer: SignerArgs,
    #[command(flatten)]
    node: NodeArgs,
}

fn main() {
    if let Err(error) = run(Cli::parse()) {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Key(KeyCommand::Generate { out }) => {
            let key = AccountKey::generate()?;
            key.save_new(&out)?;
            println!("key written to {}", out.display());
            print_key(&key);
        }
        Command::Key(KeyCommand::Inspect { file }) => print_key(&AccountKey::load(&file)?),
        Command::Cid { path, hidden } => println!("{}", path_cid(&path, hidden)?),
        Command::Encode(args) => encode(args)?,
        Command::Decode(args) => decode(args)?,
        Command::Share(args) => match args.target.parse::<u64>() {
            Ok(order) if !Path::new(&args.target).exists() => on_chain(network::share_order(
                order,
                &args.with,
                &args.signer,
                &args.node,
            ))?,
            _ => share(args)?,
        },
        Command::Put(args) => on_chain(network::put(args))?,
        Command::Get(args) => on_chain(network::get(args))?,
        Command::Status(args) => on_chain(network::status(args))?,
        Command::Ls(args) => on_chain(network::ls(args))?,
        Command::Rm(args) => on_chain(network::rm(args))?,
        Command::Extend(args) => on_chain(network::extend(args))?,
        Command::Providers(args) => on_chain(network::providers(args))?,
        Command::Balance { address, node } => on_chain(balance(&address, &node))?,
        Command::Transfer(args) => on_chain(transfer(&args))?,
        Command::Name(command) => on_chain(names::run(command))?,
        Command::Gateway(args) => on_chain(gateway::run(args))?,
    }
    Ok(())
}

/// Runs a chain command on a Tokio runtime.
fn on_chain(work: impl std::future::Future<Output = Result<()>>) -> Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(work)
}

async fn balance(address: &str, node: &NodeArgs) -> Result<()> {
    let who = chain::parse_address(address)?;
    let client = ChainClient::connect(&node.rpc).await?;
    let account = client.account(&who).await?;
    println!("free:     {}", amount::format(account.free));
    println!("reserved: {}", amount::format(account.reserved));
    println!("nonce:    {}", account.nonce);
    Ok(())
}

async fn transfer(args: &TransferArgs) -> Result<()> {
    let signer = AccountKey::from_args(args.key.as_deref(), args.suri.as_deref())?.pair();
    let to = chain::parse_address(&args.to)?;
    let amount = amount::parse(&args.amount)?;
    let client = ChainClient::connect(&args.node.rpc).await?;
    let included = client.transfer(&signer, to, amount).await?;
    println!(
        "transferred {} in block {:?}",
        amount::format(amount),
        included.block
    );
    Ok(())
}

fn print_key(key: &AccountKey) {
    println!("account address:        {}", key.address());
    println!(
        "account public key:     0x{}",
        hex::encode(key.account_public())
    );
    println!(
        "encryption public key:  0x{}",
        hex::encode(key.encryption_public().0)
    );
}

fn path_cid(path: &Path, hidden: bool) -> Result<String> {
    let metadata =
        std::fs::metadata(path).with_context(|| format!("cannot open {}", path.display()))?;
    let root = match metadata.is_dir() {
        true => tree::scan(path, &ScanOptions { hidden })?.root,
        false => tree::scan_file(path)?.0,
    };
    Ok(root.cid.to_string())
}

/// Bytes per second in MB/s.
fn rate(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / 1e6 / seconds.max(1e-9)
}

/// The cipher suite of a manifest's frames, by name; `None` when public.
fn suite_name(manifest: &Manifest) -> Option<&'static str> {
    manifest.encryption.as_ref().map(|e| e.suite.name())
}

fn encode(args: EncodeArgs) -> Result<()> {
    let coding = args.coding.params()?;
    let recipients = match &args.key {
        Some(path) => vec![AccountKey::load(path)?.encryption_public()],
        None => Vec::new(),
    };
    let options = PutOptions {
        coding,
        recipients,
        suite: args.cipher.suite(),
        pack: None,
        key: None,
        threads: args.threads,
    };
    // Unbuffered: the pipeline reads each frame straight to its place.
    let input =
        File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let mut dir = ShardDir::create(&args.to)?;
    let started = Instant::now();
    let manifest = pipeline::put(input, &options, &mut dir)
        .with_context(|| format!("cannot encode {}", args.file.display()))?;
    dir.write_manifest(&manifest)?;
    let seconds = started.elapsed().as_secs_f64();
    let pieces = coding.total_shards();
    let shards = manifest.segment_count() as usize * pieces;
    let manifest_cid = Manifest::cid_of_bytes(&manifest.to_bytes());
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "manifest": manifest_cid.to_string(),
                "cid": manifest.cid.to_string(),
                "size": manifest.size,
                "storedSize": manifest.stored_size(),
                "cipher": suite_name(&manifest),
                "segments": manifest.segment_count(),
                "dataShards": coding.data_shards,
                "parityShards": coding.parity_shards,
                "threads": args.threads,
                "seconds": seconds,
                "megabytesPerSecond": rate(manifest.size, seconds),
            })
        );
        return Ok(());
    }
    eprintln!(
        "encoded {} bytes into {} segments × {} shards ({} + {}, {}) in {seconds:.2} s, {:.0} MB/s",
        manifest.size,
        manifest.segment_count(),
        pieces,
        coding.data_shards,
        coding.parity_shards,
        suite_name(&manifest).unwrap_or("public"),
        rate(manifest.size, seconds),
    );
    eprintln!(
        "{shards} shard files, {pieces} shard-root lists and {MANIFEST_FILE} in {}",
        args.to.display()
    );
    eprintln!("object CID: {}", manifest.cid);
    println!("{manifest_cid}");
    Ok(())
}

fn decode(args: DecodeArgs) -> Result<()> {
    let (dir, manifest) = ShardDir::open(&args.dir)?;
    let secret = match (&args.key, &manifest.encryption) {
        (Some(path), _) => Some(AccountKey::load(path)?.encryption_secret()),
        (None, Some(_)) => bail!("{} is encrypted: pass --key KEYFILE", args.dir.display()),
        (None, None) => None,
    };
    // Write beside the target and rename once complete, so a failed decode
    // never leaves a partial file under the requested name.
    let mut partial = args.to.clone().into_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let mut file = DirectFile::create(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let started = Instant::now();
    let result = pipeline::get(&manifest, secret.as_ref(), &dir, &mut file, args.threads)
        .with_context(|| format!("cannot decode {}", args.dir.display()))
        .and_then(|()| {
            file.finish()
                .and_then(|file| file.sync_all())
                .context("cannot write the output")
        });
    if let Err(error) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    std::fs::rename(&partial, &args.to)
        .with_context(|| format!("cannot move the output to {}", args.to.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "cid": manifest.cid.to_string(),
                "size": manifest.size,
                "cipher": suite_name(&manifest),
                "to": args.to.display().to_string(),
                "threads": args.threads,
                "seconds": seconds,
                "megabytesPerSecond": rate(manifest.size, seconds),
            })
        );
    } else {
        eprintln!(
            "decoded {} bytes to {} in {seconds:.2} s, {:.0} MB/s",
            manifest.size,
            args.to.display(),
            rate(manifest.size, seconds)
        );
    }
    Ok(())
}

fn share(args: ShareArgs) -> Result<()> {
    let dir_path = PathBuf::from(&args.target);
    let (mut dir, mut manifest) = ShardDir::open(&dir_path)?;
    let reader = parse_encryption_key(&args.with)
        .context("--with must be a 32-byte hex encryption public key")?;
    let Some(wrapped) = manifest.encryption.as_mut().map(|e| &mut e.recipients) else {
        bail!(
            "{} is public; there is nothing to share",
            dir_path.display()
        );
    };
    let key = args
        .signer
        .required()?
        .encryption_secret()
        .unwrap(wrapped)
        .context("this key cannot read the object")?;
    if !wrapped.iter().any(|w| w.recipient == reader) {
        wrapped.push(key.wrap(&reader));
    }
    manifest.validate().context("cannot add another reader")?;
    dir.write_manifest(&manifest)?;
    println!("{}", Manifest::cid_of_bytes(&manifest.to_bytes()));
    Ok(())
}
