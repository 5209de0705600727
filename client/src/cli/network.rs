//! The network commands: `put`, `get`, `status`, `ls`, `rm`, `extend`,
//! `share ORDER`, `providers`. Each prints for people, or with `--json` one
//! JSON object on the last line of stdout.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use mosaic_client::amount;
use mosaic_client::chain::{parse_address, Access, ChainClient, Order, OrderId, OrderState};
use mosaic_client::get::{self, Target};
use mosaic_client::keys::{parse_encryption_key, AccountKey};
use mosaic_client::providers::endpoints;
use mosaic_client::put::{self, PutRequest};
use mosaic_primitives::encryption::CipherSuite;
use mosaic_primitives::erasure::{
    CodingParams, DEFAULT_DATA_SHARDS, DEFAULT_PARITY_SHARDS, DEFAULT_SEGMENT_SIZE,
};
use mosaic_runtime::{RuntimeCall, RuntimeEvent};
use polkadot_sdk::sp_core::crypto::Ss58Codec;
use serde_json::json;

/// Which node to talk to.
#[derive(Args)]
pub struct NodeArgs {
    /// The node's JSON-RPC WebSocket address.
    #[arg(long, default_value = "ws://127.0.0.1:9944")]
    pub rpc: String,
}

/// The account acting.
#[derive(Args)]
pub struct SignerArgs {
    /// The account's key file.
    #[arg(long, conflicts_with = "suri")]
    pub key: Option<PathBuf>,
    /// The account as a secret URI, e.g. `//Alice` on a development chain.
    #[arg(long)]
    pub suri: Option<String>,
}

impl SignerArgs {
    /// The key given, if any.
    pub fn optional(&self) -> Result<Option<AccountKey>> {
        if self.key.is_none() && self.suri.is_none() {
            return Ok(None);
        }
        Ok(Some(self.required()?))
    }

    /// The key given.
    pub fn required(&self) -> Result<AccountKey> {
        Ok(AccountKey::from_args(
            self.key.as_deref(),
            self.suri.as_deref(),
        )?)
    }
}

/// How a file is cut and coded (`encode`, `put`).
#[derive(Args)]
pub struct CodingArgs {
    /// Data shards per segment (k).
    #[arg(long, default_value_t = DEFAULT_DATA_SHARDS)]
    data_shards: u8,
    /// Parity shards per segment (m): any m shards of a segment, so any m
    /// providers, may be lost.
    #[arg(long, default_value_t = DEFAULT_PARITY_SHARDS)]
    parity_shards: u8,
    /// Bytes per segment, a multiple of 262144.
    #[arg(long, default_value_t = DEFAULT_SEGMENT_SIZE)]
    segment_size: u32,
}

impl CodingArgs {
    /// The coding parameters, checked.
    pub fn params(&self) -> Result<CodingParams> {
        CodingParams::with_segment_size(self.data_shards, self.parity_shards, self.segment_size)
            .context("invalid coding parameters")
    }
}

/// How an encrypted file's frames are encrypted (`encode`, `put`).
#[derive(Args)]
pub struct CipherArgs {
    /// The frames' cipher suite: aes-256-gcm or chacha20-poly1305 (default:
    /// AES-256-GCM where the CPU has AES instructions, else ChaCha20-Poly1305).
    #[arg(long, value_name = "SUITE", conflicts_with = "public")]
    cipher: Option<CipherSuite>,
}

impl CipherArgs {
    /// The suite asked for, or this machine's fastest.
    pub fn suite(&self) -> CipherSuite {
        self.cipher.unwrap_or_else(CipherSuite::preferred)
    }
}

/// Output switches.
#[derive(Args)]
pub struct OutputArgs {
    /// Print one JSON object on the last line of stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args)]
pub struct PutArgs {
    /// The file to store, or (with --public) a directory.
    file: PathBuf,
    #[command(flatten)]
    signer: SignerArgs,
    #[command(flatten)]
    node: NodeArgs,
    /// Store unencrypted; its CID is then the IPFS CID.
    #[arg(long)]
    public: bool,
    /// With a directory: include names starting with `.` (as `ipfs add -H`).
    #[arg(long)]
    hidden: bool,
    /// Store a public CID again though a live order already stores it.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    cipher: CipherArgs,
    #[command(flatten)]
    coding: CodingArgs,
    /// Audit periods to pay for.
    #[arg(long, default_value_t = 10)]
    periods: u32,
    /// Highest price per byte per block accepted, in the smallest unit.
    #[arg(long, default_value_t = 10)]
    max_price: u128,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args)]
pub struct GetArgs {
    /// The order id, or the object's CID, followed by `/path` for one entry
    /// of a stored directory (`CID/docs/a.txt`).
    target: Target,
    /// Where to write the file or directory; it appears only once complete
    /// and verified.
    #[arg(long)]
    to: PathBuf,
    #[command(flatten)]
    signer: SignerArgs,
    #[command(flatten)]
    node: NodeArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args)]
pub struct OrderArgs {
    /// The order id.
    order: OrderId,
    #[command(flatten)]
    node: NodeArgs,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct OwnedOrderArgs {
    /// The order id.
    order: OrderId,
    #[command(flatten)]
    signer: SignerArgs,
    #[command(flatten)]
    node: NodeArgs,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ExtendArgs {
    #[command(flatten)]
    order: OwnedOrderArgs,
    /// Periods to add.
    #[arg(long)]
    periods: u32,
}

#[derive(Args)]
pub struct LsArgs {
    /// Whose orders (SS58); default: the key's account.
    #[arg(long)]
    owner: Option<String>,
    #[command(flatten)]
    signer: SignerArgs,
    #[command(flatten)]
    node: NodeArgs,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ProvidersArgs {
    /// Only the providers of this order, in piece order.
    #[arg(long)]
    order: Option<OrderId>,
    #[command(flatten)]
    node: NodeArgs,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

fn order_json(id: OrderId, order: &Order) -> serde_json::Value {
    let state = match order.state {
        OrderState::Pending { deadline } => json!({ "pending": { "deadline": deadline } }),
        OrderState::Live { start, end } => json!({ "live": { "start": start, "end": end } }),
    };
    json!({
        "order": id,
        "owner": order.owner.to_ss58check(),
        "cid": cid_text(&order.cid),
        "size": order.size,
        "coding": {
            "dataShards": order.coding.data_shards,
            "parityShards": order.coding.parity_shards,
            "segmentSize": order.coding.segment_size,
        },
        "public": matches!(order.access, Access::Public { .. }),
        "cipher": suite_of(order).map(CipherSuite::name),
        "state": state,
        "periods": order.periods,
        "escrow": order.escrow.to_string(),
        "pieceSize": order.piece_size,
        "pieces": order.pieces.iter().map(|p| json!({
            "provider": p.provider.to_ss58check(),
            "root": format!("0x{}", hex::encode(p.root.0)),
            "confirmed": p.confirmed,
            "price": p.price.to_string(),
        })).collect::<Vec<_>>(),
    })
}

/// The cipher suite of an encrypted order's frames.
fn suite_of(order: &Order) -> Option<CipherSuite> {
    match &order.access {
        Access::Public { .. } => None,
        Access::Encrypted { suite, .. } => Some(*suite),
    }
}

/// The text form of a binary CID as the chain holds it (hex if it does not
/// parse).
pub fn cid_text(bytes: &[u8]) -> String {
    cid::Cid::try_from(bytes)
        .map(|c| c.to_string())
        .unwrap_or_else(|_| format!("0x{}", hex::encode(bytes)))
}

fn print_order(id: OrderId, order: &Order) {
    println!("order {id}: {}", cid_text(&order.cid));
    println!("  owner:  {}", order.owner.to_ss58check());
    println!(
        "  size:   {} bytes stored, {} + {} pieces of {} bytes, {}",
        order.size,
        order.coding.data_shards,
        order.coding.parity_shards,
        order.piece_size,
        match suite_of(order) {
            None => "public".to_string(),
            Some(suite) => format!("encrypted ({suite})"),
        }
    );
    match order.state {
        OrderState::Pending { deadline } => println!(
            "  state:  pending, {}/{} confirmed, lapses at block {deadline}",
            order.confirmed,
            order.pieces.len()
        ),
        OrderState::Live { start, end } => println!("  state:  live for periods {start}..{end}"),
    }
    println!("  escrow: {}", amount::format(order.escrow));
    for (number, piece) in order.pieces.iter().enumerate() {
        println!(
            "  piece {number}: {} {}",
            piece.provider.to_ss58check(),
            if piece.confirmed {
                "confirmed"
            } else {
                "pending"
            }
        );
    }
}

pub async fn put(args: PutArgs) -> Result<()> {
    let owner = args.signer.required()?;
    if args.file.is_dir() && !args.public {
        bail!(
            "{} is a directory: directories are stored public (--public), as IPFS stores them; to keep one private, store a tar of it",
            args.file.display()
        );
    }
    let chain = ChainClient::connect(&args.node.rpc).await?;
    let coding = args.coding.params()?;
    let started = Instant::now();
    let report = put::put(
        &chain,
        PutRequest {
            file: args.file.clone(),
            hidden: args.hidden,
            force: args.force,
            owner,
            encryption: (!args.public).then(|| args.cipher.suite()),
            coding,
            periods: args.periods,
            max_price: args.max_price,
            progress: !args.output.json && !args.output.quiet,
        },
    )
    .await
    .with_context(|| format!("storing {}", args.file.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    if args.output.json {
        println!(
            "{}",
            json!({
                "order": report.order,
                "cid": report.cid,
                "size": report.size,
                "storedSize": report.stored_size,
                "cipher": report.suite.map(CipherSuite::name),
                "pieces": report.providers.iter().map(|p| json!({
                    "provider": p.address(),
                    "peerId": p.peer.map(|p| p.to_string()),
                })).collect::<Vec<_>>(),
                "escrow": report.escrow.to_string(),
                "block": format!("{:?}", report.block),
                "seconds": seconds,
            })
        );
    } else {
        println!("order {} is live: {}", report.order, report.cid);
        println!(
            "stored {} bytes on {} providers in {seconds:.1} s; escrow {}",
            report.size,
            report.providers.len(),
            amount::format(report.escrow)
        );
    }
    Ok(())
}

pub async fn get(args: GetArgs) -> Result<()> {
    let key = args.signer.optional()?;
    let chain = ChainClient::connect(&args.node.rpc).await?;
    let started = Instant::now();
    let report = get::get(
        &chain,
        &args.target,
        key.map(|k| k.encryption_secret()),
        &args.to,
        !args.output.json && !args.output.quiet,
    )
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    for (provider, why) in &report.failed {
        eprintln!("warning: provider {provider} failed: {why}");
    }
    if args.output.json {
        println!(
            "{}",
            json!({
                "order": report.order,
                "cid": report.cid,
                "size": report.size,
                "to": args.to.display().to_string(),
                "failed": report.failed.iter().map(|(p, why)| json!({
                    "provider": p.address(), "error": why,
                })).collect::<Vec<_>>(),
                "seconds": seconds,
            })
        );
    } else {
        println!(
            "got order {} ({}) into {}: {} bytes in {seconds:.1} s",
            report.order,
            report.cid,
            args.to.display(),
            report.size
        );
    }
    Ok(())
}

pub async fn status(args: OrderArgs) -> Result<()> {
    let chain = ChainClient::connect(&args.node.rpc).await?;
    let order = chain
        .order(args.order, None)
        .await?
        .with_context(|| format!("order {} does not exist (it may have ended)", args.order))?;
    if args.json {
        println!("{}", order_json(args.order, &order));
    } else {
        print_order(args.order, &order);
    }
    Ok(())
}

pub async fn ls(args: LsArgs) -> Result<()> {
    let owner = match (&args.owner, args.signer.optional()?) {
        (Some(address), _) => parse_address(address)?,
        (None, Some(key)) => key.account_id(),
        (None, None) => bail!("give --owner ADDRESS, or the account with --key or --suri"),
    };
    let chain = ChainClient::connect(&args.node.rpc).await?;
    let mut orders = Vec::new();
    for id in chain.orders_of(&owner).await? {
        if let Some(order) = chain.order(id, None).await? {
            orders.push((id, order));
        }
    }
    if args.json {
        println!(
            "{}",
            json!({ "owner": owner.to_ss58check(), "orders": orders.iter().map(|(id, o)| order_json(*id, o)).collect::<Vec<_>>() })
        );
    } else if orders.is_empty() {
        println!("{} has no orders", owner.to_ss58check());
    } else {
        for (id, order) in &orders {
            let state = match order.state {
                OrderState::Pending { .. } => "pending",
                OrderState::Live { .. } => "live",
            };
            println!(
                "{id}\t{state}\t{} bytes\t{}",
                order.size,
                cid_text(&order.cid)
            );
        }
    }
    Ok(())
}

pub async fn rm(args: OwnedOrderArgs) -> Result<()> {
    let key = args.signer.required()?;
    let chain = ChainClient::connect(&args.node.rpc).await?;
    let call = RuntimeCall::Market(pallet_mosaic_market::Call::delete { order: args.order });
    let included = chain
        .sign_and_submit(&key.pair(), call)
        .await
        .with_context(|| format!("deleting order {}", args.order))?;
    let refund = included.events.iter().find_map(|e| match e {
        RuntimeEvent::Market(pallet_mosaic_market::Event::Ended { refund, .. }) => Some(*refund),
        _ => None,
    });
    let refund = refund.unwrap_or_default();
    if args.json {
        println!(
            "{}",
            json!({ "order": args.order, "refund": refund.to_string(), "block": format!("{:?}", included.block) })
        );
    } else {
        println!(
            "deleted order {}; refunded {}",
            args.order,
            amount::format(refund)
        );
    }
    Ok(())
}

pub async fn extend(args: ExtendArgs) -> Result<()> {
    let args_order = args.order;
    let key = args_order.signer.required()?;
    let chain = ChainClient::connect(&args_order.node.rpc).await?;
    let call = RuntimeCall::Market(pallet_mosaic_market::Call::extend {
        order: args_order.order,
        periods: args.periods,
    });
    let included = chain
        .sign_and_submit(&key.pair(), call)
        .await
        .with_context(|| format!("extending order {}", args_order.order))?;
    let extended = included.events.iter().find_map(|e| match e {
        RuntimeEvent::Market(pallet_mosaic_market::Event::Extended { end, escrow, .. }) => {
            Some((*end, *escrow))
        }
        _ => None,
    });
    let (end, escrow) = extended.unwrap_or_default();
    if args_order.json {
        println!(
            "{}",
            json!({ "order": args_order.order, "end": end, "escrow": escrow.to_string() })
        );
    } else {
        println!(
            "order {} now runs until period {end}; paid {}",
            args_order.order,
            amount::format(escrow)
        );
    }
    Ok(())
}

/// `mosaic share ORDER --with KEY`: records a new wrapped key on chain.
pub async fn share_order(
    order: OrderId,
    with: &str,
    signer: &SignerArgs,
    node: &NodeArgs,
) -> Result<()> {
    let key = signer.required()?;
    let reader =
        parse_encryption_key(with).context("--with must be a 32-byte hex encryption public key")?;
    let chain = ChainClient::connect(&node.rpc).await?;
    let record = chain
        .order(order, None)
        .await?
        .with_context(|| format!("order {order} does not exist"))?;
    let Access::Encrypted { keys, .. } = &record.access else {
        bail!("order {order} is public; anyone can get it");
    };
    if keys.iter().any(|w| w.recipient == reader) {
        println!("that key can read order {order} already");
        return Ok(());
    }
    let file_key = key
        .encryption_secret()
        .unwrap(keys)
        .context("this key cannot read the order, so it cannot share it")?;
    let call = RuntimeCall::Market(pallet_mosaic_market::Call::share {
        order,
        key: file_key.wrap(&reader),
    });
    chain
        .sign_and_submit(&key.pair(), call)
        .await
        .with_context(|| format!("sharing order {order}"))?;
    println!("order {order} can now be read with that key");
    Ok(())
}

pub async fn providers(args: ProvidersArgs) -> Result<()> {
    let chain = ChainClient::connect(&args.node.rpc).await?;
    let Some(order) = args.order else {
        return all_providers(&chain, args.json).await;
    };
    let record = chain
        .order(order, None)
        .await?
        .with_context(|| format!("order {order} does not exist"))?;
    let list = endpoints(
        &chain,
        record.pieces.iter().map(|p| p.provider.clone()),
        None,
    )
    .await?;
    if args.json {
        println!(
            "{}",
            json!({ "order": order, "providers": list.iter().map(|e| json!({
                "provider": e.address(),
                "peerId": e.peer.map(|p| p.to_string()),
                "addresses": e.addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>() })
        );
    } else {
        for (piece, endpoint) in list.iter().enumerate() {
            let addrs: Vec<String> = endpoint.addrs.iter().map(|a| a.to_string()).collect();
            println!("piece {piece}: {endpoint} at {}", addrs.join(", "));
        }
    }
    Ok(())
}

/// Every registered provider with its terms.
async fn all_providers(chain: &ChainClient, json_output: bool) -> Result<()> {
    use pallet_mosaic_providers::ProviderStatus;
    let providers = chain.providers().await?;
    let rows: Vec<serde_json::Value> = providers
        .iter()
        .map(|(account, p)| {
            json!({
                "provider": account.to_ss58check(),
                "state": match p.status {
                    ProviderStatus::Active => "active",
                    ProviderStatus::Unbonding { .. } => "unbonding",
                    ProviderStatus::Ejected { .. } => "ejected",
                },
                "capacity": p.capacity,
                "used": p.used,
                "price": p.price.to_string(),
                "stake": p.stake.to_string(),
                "peerId": mosaic_shard_net::PeerId::from_bytes(&p.peer_id).ok().map(|p| p.to_string()),
            })
        })
        .collect();
    if json_output {
        println!("{}", json!({ "providers": rows }));
    } else if rows.is_empty() {
        println!("no providers are registered");
    } else {
        for row in &rows {
            println!(
                "{}\t{}\t{} of {} bytes used\tprice {}",
                row["provider"].as_str().unwrap_or_default(),
                row["state"].as_str().unwrap_or_default(),
                row["used"],
                row["capacity"],
                row["price"].as_str().unwrap_or_default(),
            );
        }
    }
    Ok(())
}
