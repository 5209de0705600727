//! The shapes of parameters and answers that are not already a runtime or
//! Substrate type, serialized as Substrate writes them.

use mosaic_runtime::{BlockNumber, Hash, Header};
use polkadot_sdk::sp_core::{Bytes, U256};
use polkadot_sdk::sp_runtime::Justifications;
use serde::{Deserialize, Serialize};

/// One value or a list of them (`chain_getBlockHash` takes and answers
/// either).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ListOrValue<T> {
    /// A list.
    List(Vec<T>),
    /// One value.
    Value(T),
}

/// A number as a JSON number when it fits 64 bits, or as 0x-prefixed hex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NumberOrHex {
    /// A JSON number.
    Number(u64),
    /// A hex string.
    Hex(U256),
}

impl NumberOrHex {
    /// The block number this is, if it fits one.
    pub fn block_number(self) -> Result<BlockNumber, String> {
        let value = match self {
            NumberOrHex::Number(n) => U256::from(n),
            NumberOrHex::Hex(n) => n,
        };
        BlockNumber::try_from(value)
            .map_err(|_| format!("{value} > {}, the largest block number", BlockNumber::MAX))
    }
}

impl From<u128> for NumberOrHex {
    fn from(value: u128) -> Self {
        match u64::try_from(value) {
            Ok(small) => NumberOrHex::Number(small),
            Err(_) => NumberOrHex::Hex(U256::from(value)),
        }
    }
}

impl From<BlockNumber> for NumberOrHex {
    fn from(value: BlockNumber) -> Self {
        NumberOrHex::Number(value.into())
    }
}

/// A block's header and extrinsics (SCALE, hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// The extrinsics, each SCALE-encoded.
    pub extrinsics: Vec<Bytes>,
}

/// A block with its finality proofs, as `chain_getBlock` answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedBlock {
    /// The block.
    pub block: Block,
    /// Its justifications, if it has any.
    pub justifications: Option<Justifications>,
}

/// The values of some storage keys at one block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageChangeSet {
    /// The block.
    pub block: Hash,
    /// Each key with its value (`None`: absent).
    pub changes: Vec<(Bytes, Option<Bytes>)>,
}

/// `system_health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// Connected peers.
    pub peers: usize,
    /// Whether a peer is well ahead of this node.
    pub is_syncing: bool,
    /// Whether this node expects peers.
    pub should_have_peers: bool,
}

/// One connected peer, as `system_peers` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerInfo {
    /// Its libp2p peer id.
    pub peer_id: String,
    /// Its roles (`FULL`).
    pub roles: String,
    /// Its best block, once it said.
    pub best_hash: Option<Hash>,
    /// Its best block's number, once it said.
    pub best_number: Option<BlockNumber>,
}

/// `payment_queryFeeDetails`: the inclusion fee's parts (`None` for
/// unsigned transactions).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeDetails {
    /// The parts, if the transaction pays one.
    pub inclusion_fee: Option<InclusionFee>,
}

/// The parts of an inclusion fee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionFee {
    /// The fee every transaction pays.
    pub base_fee: NumberOrHex,
    /// The fee for its length.
    pub len_fee: NumberOrHex,
    /// The fee for its weight, multiplied by the fee adjustment.
    pub adjusted_weight_fee: NumberOrHex,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_substrate_writes_them() {
        let parse = |json: &str| serde_json::from_str::<NumberOrHex>(json).unwrap();
        assert_eq!(parse("7").block_number(), Ok(7));
        assert_eq!(parse("\"0x1f\"").block_number(), Ok(31));
        assert!(parse("\"0x100000000\"").block_number().is_err());
        // Hex without its prefix is hex, as Substrate reads it; not hex is
        // refused.
        assert_eq!(parse("\"12\"").block_number(), Ok(18));
        assert!(serde_json::from_str::<NumberOrHex>("\"zz\"").is_err());
        assert!(serde_json::from_str::<NumberOrHex>("-1").is_err());
        let big = NumberOrHex::from(u128::from(u64::MAX) + 1);
        assert_eq!(
            serde_json::to_string(&big).unwrap(),
            "\"0x10000000000000000\""
        );
        assert_eq!(
            serde_json::to_string(&NumberOrHex::from(5u128)).unwrap(),
            "5"
        );
    }
}
