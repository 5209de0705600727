//! `mosaic name`: mutable names on chain (`pallet-mosaic-names`), each
//! pointing to an object's CID, version after version. `register`, `set`,
//! `transfer` and `release` sign with `--key` or `--suri`; `resolve`,
//! `history` and `ls` only read. Each prints for people, or with `--json`
//! one JSON object on the last line of stdout.
//!
//! `set` refuses a CID that no live order stores unless `--force`: a name
//! should lead to data that can be fetched. The check asks the market's
//! index of orders by CID (`mosaic_ordersByCid`, the lookup `get CID` uses)
//! for a live order of anyone's; the chain itself does not check, since an
//! order may end at any time after the name was set.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use mosaic_client::amount;
use mosaic_client::chain::{
    parse_address, ChainClient, Included, NameResolution, NameVersion, OrderState,
};
use mosaic_client::get::{self, Target};
use mosaic_client::keys::AccountKey;
use mosaic_primitives::manifest::parse_object_cid;
use mosaic_runtime::{Runtime, RuntimeCall, RuntimeEvent};
use pallet_mosaic_names::{is_valid_name, Call, Event, Name, MAX_NAME_LEN, MIN_NAME_LEN};
use polkadot_sdk::sp_core::crypto::Ss58Codec;
use polkadot_sdk::sp_runtime::{BoundedVec, MultiAddress};
use serde_json::json;

use crate::network::{cid_text, NodeArgs, SignerArgs};

/// What `mosaic name` does.
#[derive(Subcommand)]
pub enum NameCommand {
    /// Register a free name to the account, holding the name deposit.
    Register(NameArgs),
    /// Point a name to a CID as its next version, holding a version deposit.
    Set(SetArgs),
    /// Print the CID a name points to: its latest version, or `--version N`.
    Resolve(ResolveArgs),
    /// Print a name's kept versions, newest first.
    History(ReadArgs),
    /// Give a name, its history and its deposits to another account.
    Transfer(TransferArgs),
    /// Forget a name and its history; every deposit comes back.
    Release(NameArgs),
    /// List the names an account holds.
    Ls(LsArgs),
}

/// A name and the account acting on it.
#[derive(Args)]
pub struct NameArgs {
    /// The name.
    name: String,
    #[command(flatten)]
    signer: SignerArgs,
    #[command(flatten)]
    node: NodeArgs,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct SetArgs {
    #[command(flatten)]
    target: NameArgs,
    /// The object's CID, as `mosaic put` printed it.
    cid: String,
    /// Set it even if no live order stores the object.
    #[arg(long)]
    force: bool,
}

/// A name to read.
#[derive(Args)]
pub struct ReadArgs {
    /// The name.
    name: String,
    #[command(flatten)]
    node: NodeArgs,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ResolveArgs {
    #[command(flatten)]
    target: ReadArgs,
    /// This version instead of the latest.
    #[arg(long)]
    version: Option<u32>,
}

#[derive(Args)]
pub struct TransferArgs {
    #[command(flatten)]
    target: NameArgs,
    /// The new owner's SS58 address.
    #[arg(long)]
    to: String,
}

#[derive(Args)]
pub struct LsArgs {
    /// Whose names (SS58); default: the key's account.
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

/// Runs a `mosaic name` command.
pub async fn run(command: NameCommand) -> Result<()> {
    match command {
        NameCommand::Register(args) => register(args).await,
        NameCommand::Set(args) => set(args).await,
        NameCommand::Resolve(args) => resolve(args).await,
        NameCommand::History(args) => history(args).await,
        NameCommand::Transfer(args) => transfer(args).await,
        NameCommand::Release(args) => release(args).await,
        NameCommand::Ls(args) => ls(args).await,
    }
}

/// `text` as a name, if it follows the naming rules.
fn parse_name(text: &str) -> Result<Name> {
    if !is_valid_name(text.as_bytes()) {
        bail!(
            "`{text}` is not a valid name: use {MIN_NAME_LEN} to {MAX_NAME_LEN} characters of \
             a-z, 0-9, '-' and '.', starting and ending with a letter or digit, with no '..'"
        );
    }
    Name::try_from(text.as_bytes().to_vec()).map_err(|_| anyhow::anyhow!("`{text}` is too long"))
}

/// Signs `call` (made from the parsed name) with `args`'s account, submits
/// it and waits until a block includes it; `doing` names the act for errors.
async fn submit(
    args: &NameArgs,
    doing: &str,
    call: impl FnOnce(Name) -> Result<Call<Runtime>>,
) -> Result<(AccountKey, Included)> {
    let call = RuntimeCall::Names(call(parse_name(&args.name)?)?);
    let key = args.signer.required()?;
    let chain = ChainClient::connect(&args.node.rpc).await?;
    let included = chain
        .sign_and_submit(&key.pair(), call)
        .await
        .with_context(|| format!("{doing} {}", args.name))?;
    Ok((key, included))
}

/// The first of the block's names events that `pick` takes.
fn find_event<V>(included: &Included, pick: impl Fn(&Event<Runtime>) -> Option<V>) -> Result<V> {
    included
        .events
        .iter()
        .find_map(|event| match event {
            RuntimeEvent::Names(event) => pick(event),
            _ => None,
        })
        .context("the block holds the call but not its event; is the node's runtime current?")
}

async fn register(args: NameArgs) -> Result<()> {
    let (key, included) = submit(&args, "registering", |name| Ok(Call::register { name })).await?;
    let deposit = find_event(&included, |event| match event {
        Event::Registered { deposit, .. } => Some(*deposit),
        _ => None,
    })?;
    if args.json {
        println!(
            "{}",
            json!({
                "name": args.name,
                "owner": key.address(),
                "deposit": deposit.to_string(),
                "block": format!("{:?}", included.block),
            })
        );
    } else {
        println!(
            "registered {} to {}; deposit {}",
            args.name,
            key.address(),
            amount::format(deposit)
        );
    }
    Ok(())
}

async fn set(args: SetArgs) -> Result<()> {
    let target = &args.target;
    parse_name(&target.name)?;
    let cid = args
        .cid
        .parse::<cid::Cid>()
        .ok()
        .map(|cid| cid.to_bytes())
        .filter(|bytes| parse_object_cid(bytes).is_some())
        .with_context(|| {
            format!(
                "`{}` is not a Mosaic object CID (CIDv1, SHA-256, raw or dag-pb): pass the CID \
                 `mosaic put` printed",
                args.cid
            )
        })?;
    if !args.force {
        let chain = ChainClient::connect(&target.node.rpc).await?;
        let found = match get::resolve(
            &chain,
            &Target::Cid {
                cid: args.cid.clone(),
                path: String::new(),
            },
        )
        .await
        {
            Ok((id, order)) => matches!(order.state, OrderState::Live { .. }).then_some(id),
            Err(get::GetError::NoOrderForCid(_)) => None,
            Err(error) => return Err(error.into()),
        };
        if found.is_none() {
            bail!(
                "no live order stores {}, so the name would lead to data nobody can fetch: store \
                 it first with `mosaic put`, or pass --force",
                args.cid
            );
        }
    }
    let (_, included) = submit(target, "setting", |name| {
        let cid = BoundedVec::try_from(cid).map_err(|_| anyhow::anyhow!("the CID is too long"))?;
        Ok(Call::set { name, cid })
    })
    .await?;
    let version = find_event(&included, |event| match event {
        Event::Set { version, .. } => Some(*version),
        _ => None,
    })?;
    let dropped = find_event(&included, |event| match event {
        Event::VersionDropped { version, .. } => Some(*version),
        _ => None,
    })
    .ok();
    if target.json {
        println!(
            "{}",
            json!({
                "name": target.name,
                "version": version,
                "cid": args.cid,
                "dropped": dropped,
                "block": format!("{:?}", included.block),
            })
        );
    } else {
        println!("{} version {version} -> {}", target.name, args.cid);
        if let Some(dropped) = dropped {
            println!("version {dropped} left the history (it keeps a bounded number)");
        }
    }
    Ok(())
}

/// Why `name` has no `version`, for a person.
fn missing_version(name: &str, version: Option<u32>, resolution: &NameResolution) -> String {
    match version {
        _ if resolution.latest == 0 => {
            format!("{name} is registered but was never set: `mosaic name set {name} CID`")
        }
        Some(v) if v > resolution.latest => {
            format!(
                "{name} has no version {v} (its latest is {})",
                resolution.latest
            )
        }
        Some(v) => format!(
            "version {v} of {name} is no longer kept (the history keeps versions {} to {})",
            resolution.oldest, resolution.latest
        ),
        None => format!("{name} has no latest version"),
    }
}

fn version_json(entry: &NameVersion) -> serde_json::Value {
    json!({
        "version": entry.version,
        "cid": cid_text(&entry.cid),
        "block": entry.set_at,
    })
}

async fn resolve(args: ResolveArgs) -> Result<()> {
    let target = &args.target;
    let chain = ChainClient::connect(&target.node.rpc).await?;
    let resolution = chain
        .resolve(&target.name, args.version)
        .await?
        .with_context(|| format!("no name `{}` is registered", target.name))?;
    let Some(entry) = &resolution.entry else {
        bail!(missing_version(&target.name, args.version, &resolution));
    };
    if target.json {
        let mut answer = version_json(entry);
        answer["name"] = json!(target.name);
        answer["owner"] = json!(resolution.owner.to_ss58check());
        answer["latest"] = json!(resolution.latest);
        answer["oldest"] = json!(resolution.oldest);
        println!("{answer}");
    } else {
        println!("{}", cid_text(&entry.cid));
        eprintln!(
            "{} version {} of {}, set at block {}, owned by {}",
            target.name,
            entry.version,
            resolution.latest,
            entry.set_at,
            resolution.owner.to_ss58check()
        );
    }
    Ok(())
}

async fn history(args: ReadArgs) -> Result<()> {
    let chain = ChainClient::connect(&args.node.rpc).await?;
    let resolution = chain
        .resolve(&args.name, None)
        .await?
        .with_context(|| format!("no name `{}` is registered", args.name))?;
    let versions = chain.name_history(&args.name).await?;
    if args.json {
        println!(
            "{}",
            json!({
                "name": args.name,
                "owner": resolution.owner.to_ss58check(),
                "versions": versions.iter().map(version_json).collect::<Vec<_>>(),
            })
        );
    } else if versions.is_empty() {
        println!("{} was never set", args.name);
    } else {
        for entry in &versions {
            println!(
                "{}\t{}\tblock {}",
                entry.version,
                cid_text(&entry.cid),
                entry.set_at
            );
        }
    }
    Ok(())
}

async fn transfer(args: TransferArgs) -> Result<()> {
    let target = &args.target;
    let to = parse_address(&args.to)?;
    let (key, included) = submit(target, "transferring", |name| {
        let to = MultiAddress::Id(to.clone());
        Ok(Call::transfer { name, to })
    })
    .await?;
    let deposit = find_event(&included, |event| match event {
        Event::Transferred { deposit, .. } => Some(*deposit),
        _ => None,
    })?;
    if target.json {
        println!(
            "{}",
            json!({
                "name": target.name,
                "from": key.address(),
                "to": to.to_ss58check(),
                "deposit": deposit.to_string(),
                "block": format!("{:?}", included.block),
            })
        );
    } else {
        println!(
            "{} now belongs to {}, with its deposits ({})",
            target.name,
            to.to_ss58check(),
            amount::format(deposit)
        );
    }
    Ok(())
}

async fn release(args: NameArgs) -> Result<()> {
    let (_, included) = submit(&args, "releasing", |name| Ok(Call::release { name })).await?;
    let refund = find_event(&included, |event| match event {
        Event::Released { refund, .. } => Some(*refund),
        _ => None,
    })?;
    if args.json {
        println!(
            "{}",
            json!({
                "name": args.name,
                "refund": refund.to_string(),
                "block": format!("{:?}", included.block),
            })
        );
    } else {
        println!(
            "released {}; refunded {}",
            args.name,
            amount::format(refund)
        );
    }
    Ok(())
}

async fn ls(args: LsArgs) -> Result<()> {
    let owner = match (&args.owner, args.signer.optional()?) {
        (Some(address), _) => parse_address(address)?,
        (None, Some(key)) => key.account_id(),
        (None, None) => bail!("give --owner ADDRESS, or the account with --key or --suri"),
    };
    let chain = ChainClient::connect(&args.node.rpc).await?;
    let names = chain.names_of(&owner).await?;
    if args.json {
        println!(
            "{}",
            json!({ "owner": owner.to_ss58check(), "names": names })
        );
    } else if names.is_empty() {
        println!("{} holds no names", owner.to_ss58check());
    } else {
        for name in &names {
            println!("{name}");
        }
    }
    Ok(())
}
