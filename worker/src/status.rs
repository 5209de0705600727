//! `mosaic-worker status`: what the chain records about a provider: stake,
//! capacity declared and used, pieces held (confirmed) and pending, its open
//! challenges and the nearest deadline, challenges proven and failed, stake
//! slashed, what it earned so far, balance. With the worker's base path,
//! also what the worker found ([`HealthReport`]): pieces being rebuilt,
//! lost and damaged pieces, the scrub's progress.

use mosaic_api::chain::{ChainClient, ChainError, Tally};
use mosaic_runtime::{AccountId, Balance};
use pallet_mosaic_providers::ProviderStatus;

pub use crate::health::HealthReport;

/// A provider's state on chain.
#[derive(Debug)]
pub struct ProviderStatusReport {
    /// Stake held.
    pub stake: Balance,
    /// Capacity declared.
    pub capacity: u64,
    /// Bytes assigned.
    pub used: u64,
    /// Price per byte per block.
    pub price: Balance,
    /// `active`, `unbonding` or `ejected`.
    pub state: &'static str,
    /// Pieces confirmed, and their bytes.
    pub held: (u32, u64),
    /// Pieces assigned but not confirmed yet, and their bytes.
    pub pending: (u32, u64),
    /// Challenges open now (one per challenged piece).
    pub challenges: u32,
    /// The block by which the nearest open challenge must be answered.
    pub next_deadline: Option<u64>,
    /// Challenges proven and failed, stake slashed.
    pub audits: Tally<Balance>,
    /// Paid so far for proven pieces, out of escrow.
    pub earned: Balance,
    /// Free balance.
    pub free: Balance,
}

/// Why the status could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// Talking to the node failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The account is no provider.
    #[error("{0} is not a registered provider; register it with `mosaic-worker register`")]
    NotRegistered(String),
}

/// Reads `who`'s status at the best block.
pub async fn status(
    chain: &ChainClient,
    who: &AccountId,
) -> Result<ProviderStatusReport, StatusError> {
    use polkadot_sdk::sp_core::crypto::Ss58Codec;
    let record = chain
        .provider(who, None)
        .await?
        .ok_or_else(|| StatusError::NotRegistered(who.to_ss58check()))?;
    let mut held = (0, 0);
    let mut pending = (0, 0);
    for (order, piece) in chain.pieces_of(who, None).await? {
        let Some(order) = chain.order(order, None).await? else {
            continue;
        };
        let Some(entry) = order.pieces.get(piece as usize) else {
            continue;
        };
        let count = if entry.confirmed {
            &mut held
        } else {
            &mut pending
        };
        count.0 += 1;
        count.1 += order.piece_size;
    }
    let challenges = chain.challenges(who, None).await?;
    Ok(ProviderStatusReport {
        stake: record.stake,
        capacity: record.capacity,
        used: record.used,
        price: record.price,
        state: match record.status {
            ProviderStatus::Active => "active",
            ProviderStatus::Unbonding { .. } => "unbonding",
            ProviderStatus::Ejected { .. } => "ejected",
        },
        held,
        pending,
        next_deadline: challenges.iter().map(|c| c.deadline).min(),
        challenges: challenges.len() as u32,
        audits: chain.audit_tally(who).await?,
        earned: chain.earned(who).await?,
        free: chain.account(who).await?.free,
    })
}
