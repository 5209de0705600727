//! Where the providers of an order are: their peer ids and addresses, as
//! they registered them on chain.

use std::time::Duration;

use mosaic_api::chain::{ChainClient, ChainError};
use mosaic_runtime::{AccountId, Hash};
use mosaic_shard_net::{Answer, Multiaddr, PeerId, Refusal, Request, RequestError, ShardClient};
use polkadot_sdk::sp_core::crypto::Ss58Codec;

/// A provider and how to reach its worker.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The provider's account.
    pub account: AccountId,
    /// Its worker's peer id, if the record holds a valid one.
    pub peer: Option<PeerId>,
    /// Its worker's addresses that parse.
    pub addrs: Vec<Multiaddr>,
}

impl Endpoint {
    /// The provider's SS58 address.
    pub fn address(&self) -> String {
        self.account.to_ss58check()
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.address())?;
        if let Some(peer) = self.peer {
            write!(f, " (peer {peer})")?;
        }
        Ok(())
    }
}

/// The endpoints of `providers`, in order, at `at`. A provider without a
/// record or with a malformed one gets an endpoint nobody can reach.
pub async fn endpoints(
    chain: &ChainClient,
    providers: impl IntoIterator<Item = AccountId>,
    at: Option<Hash>,
) -> Result<Vec<Endpoint>, ChainError> {
    let mut endpoints = Vec::new();
    for account in providers {
        let record = chain.provider(&account, at).await?;
        let (peer, addrs) = match record {
            Some(record) => (
                PeerId::from_bytes(&record.peer_id).ok(),
                record
                    .multiaddrs
                    .iter()
                    .filter_map(|a| Multiaddr::try_from(a.to_vec()).ok())
                    .collect(),
            ),
            None => (None, Vec::new()),
        };
        endpoints.push(Endpoint {
            account,
            peer,
            addrs,
        });
    }
    Ok(endpoints)
}

/// Why a provider could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    /// The chain holds no usable peer id or address for it.
    #[error("its record on chain has no valid peer id or address")]
    NoEndpoint,
    /// The request failed or was refused.
    #[error(transparent)]
    Request(#[from] RequestError),
}

impl Endpoint {
    /// Sends `request`, trying again after a network failure or a `busy`
    /// answer, up to `attempts` times in all with growing pauses. A provider
    /// that took the request and did not answer in time has stalled: it is
    /// not asked again.
    pub async fn request(
        &self,
        net: &ShardClient,
        request: Request,
        attempts: u32,
    ) -> Result<Answer, ReachError> {
        let peer = self
            .peer
            .filter(|_| !self.addrs.is_empty())
            .ok_or(ReachError::NoEndpoint)?;
        let mut pause = Duration::from_millis(250);
        let mut attempt = 1;
        loop {
            match net.request(peer, self.addrs.clone(), request.clone()).await {
                Err(RequestError::Network(_) | RequestError::Refused(Refusal::Busy))
                    if attempt < attempts =>
                {
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
                answer => return Ok(answer?),
            }
        }
    }
}
