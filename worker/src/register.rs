//! `mosaic-worker register`: the account becomes a provider, staking what
//! the chain requires for the capacity it declares, with this worker's peer
//! id and addresses.

use std::path::PathBuf;

use mosaic_api::amount;
use mosaic_api::chain::{ChainClient, ChainError};
use mosaic_api::keys::AccountKey;
use mosaic_runtime::{Balance, Runtime, RuntimeCall};
use mosaic_shard_net::{Multiaddr, PeerId};

use mosaic_api::p2p_key::P2pKeyError;

use crate::identity;

/// What to register.
pub struct RegisterConfig {
    /// The node's JSON-RPC address.
    pub rpc: String,
    /// The provider account.
    pub key: AccountKey,
    /// The worker's base path (its libp2p identity lives there).
    pub base_path: PathBuf,
    /// The addresses clients reach the worker at.
    pub addresses: Vec<Multiaddr>,
    /// Bytes offered.
    pub capacity: u64,
    /// Price per byte per block, in the smallest unit.
    pub price: Balance,
}

/// What was registered.
#[derive(Debug)]
pub struct Registered {
    /// The provider's address.
    pub account: String,
    /// The worker's peer id.
    pub peer_id: PeerId,
    /// The stake held.
    pub stake: Balance,
}

/// Why registering failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Talking to the node failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The worker's identity could not be had.
    #[error(transparent)]
    Identity(#[from] P2pKeyError),
    /// An address with port 0 cannot be dialled.
    #[error("{0} has port 0; give the fixed port the worker will listen on")]
    Port0(Multiaddr),
    /// No address given.
    #[error("give at least one address with --listen or --public-addr")]
    NoAddress,
    /// The address list is longer or an address larger than the chain takes.
    #[error("the chain takes at most 8 addresses of at most 128 bytes")]
    TooManyAddresses,
    /// The account is a provider already.
    #[error("{0} is registered already; start the worker with `mosaic-worker run`")]
    AlreadyRegistered(String),
    /// The account cannot pay the stake.
    #[error("{account} has {have} free but registering {capacity} bytes stakes {stake} (plus fees); send it tokens or declare less capacity")]
    Balance {
        /// The account.
        account: String,
        /// Its free balance.
        have: String,
        /// The capacity asked for.
        capacity: u64,
        /// The stake needed.
        stake: String,
    },
}

/// Registers the provider and waits until a block includes it.
pub async fn register(config: RegisterConfig) -> Result<Registered, RegisterError> {
    if config.addresses.is_empty() {
        return Err(RegisterError::NoAddress);
    }
    if let Some(addr) = config.addresses.iter().find(|a| has_port_zero(a)) {
        return Err(RegisterError::Port0(addr.clone()));
    }
    let chain = ChainClient::connect(&config.rpc).await?;
    let keypair = identity::load_or_create(&config.base_path)?;
    let peer_id = keypair.public().to_peer_id();
    let me = config.key.account_id();
    let account = config.key.address();
    if chain.provider(&me, None).await?.is_some() {
        return Err(RegisterError::AlreadyRegistered(account));
    }
    let stake = pallet_mosaic_providers::Pallet::<Runtime>::required_stake(config.capacity);
    let have = chain.account(&me).await?.free;
    if have <= stake {
        return Err(RegisterError::Balance {
            account,
            have: amount::format(have),
            capacity: config.capacity,
            stake: amount::format(stake),
        });
    }
    let multiaddrs: Vec<_> = config
        .addresses
        .iter()
        .map(|a| a.to_vec().try_into())
        .collect::<Result<_, _>>()
        .map_err(|_| RegisterError::TooManyAddresses)?;
    let call = RuntimeCall::Providers(pallet_mosaic_providers::Call::register {
        stake,
        capacity: config.capacity,
        price: config.price,
        peer_id: peer_id
            .to_bytes()
            .try_into()
            .expect("an ed25519 peer id is 38 bytes, under the chain's 64; qed"),
        multiaddrs: multiaddrs
            .try_into()
            .map_err(|_| RegisterError::TooManyAddresses)?,
    });
    chain.sign_and_submit(&config.key.pair(), call).await?;
    Ok(Registered {
        account,
        peer_id,
        stake,
    })
}

fn has_port_zero(addr: &Multiaddr) -> bool {
    use mosaic_shard_net::Protocol;
    addr.iter()
        .any(|p| matches!(p, Protocol::Tcp(0) | Protocol::Udp(0)))
}
