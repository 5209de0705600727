//! A transaction's status, as Substrate's `author_extrinsicUpdate` reports
//! it: `"ready"` or `{"inBlock": "0x…"}`.

use mosaic_runtime::Hash;
use serde::{Deserialize, Serialize};

/// Where a submitted transaction stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TxStatus {
    /// Waiting for a transaction it depends on.
    Future,
    /// Can go into the next block.
    Ready,
    /// Sent to these peers.
    Broadcast(Vec<String>),
    /// Included in a block.
    InBlock(Hash),
    /// Its block left the best chain.
    Retracted(Hash),
    /// Its block was not finalized in time.
    FinalityTimeout(Hash),
    /// Its block was finalized.
    Finalized(Hash),
    /// Replaced by this transaction (same sender and nonce, higher tip).
    Usurped(Hash),
    /// Removed: the pool was full or it expired.
    Dropped,
    /// No longer valid.
    Invalid,
}

impl TxStatus {
    /// No further status follows.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            TxStatus::Finalized(_)
                | TxStatus::FinalityTimeout(_)
                | TxStatus::Usurped(_)
                | TxStatus::Dropped
                | TxStatus::Invalid
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_have_substrates_json_shapes() {
        let hash = Hash::repeat_byte(0xab);
        let text = format!("\"0x{}\"", "ab".repeat(32));
        for (status, json) in [
            (TxStatus::Ready, "\"ready\"".to_string()),
            (TxStatus::InBlock(hash), format!("{{\"inBlock\":{text}}}")),
            (
                TxStatus::Finalized(hash),
                format!("{{\"finalized\":{text}}}"),
            ),
            (TxStatus::Dropped, "\"dropped\"".to_string()),
        ] {
            assert_eq!(serde_json::to_string(&status).unwrap(), json);
            assert_eq!(serde_json::from_str::<TxStatus>(&json).unwrap(), status);
        }
        assert!(TxStatus::Invalid.is_final() && !TxStatus::InBlock(hash).is_final());
    }
}
