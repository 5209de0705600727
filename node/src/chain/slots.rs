//! Aura equivocation: a second block sealed by one author for one slot.
//!
//! The headers of recent slots are kept in memory (a restart forgets them:
//! an equivocation straddling a restart goes unnoticed, as the slot it
//! names is long past by then). Two blocks of one slot are rare (a fork
//! whose authority sets differ, or an equivocation), so a rival is
//! confirmed by checking its seal against the new block's author.

use std::collections::BTreeMap;

use mosaic_runtime::{AuraId, Header};

/// Slots whose headers are kept: about three hours of three-second slots.
const SLOTS_KEPT: u64 = 4096;

/// The headers of recent slots.
#[derive(Default)]
pub(super) struct Claims {
    by_slot: BTreeMap<u64, Vec<Header>>,
}

impl Claims {
    /// A block other than `header` that `author` sealed for `slot`.
    pub fn rival(&self, slot: u64, author: &AuraId, header: &Header) -> Option<Header> {
        let hash = header.hash();
        self.by_slot
            .get(&slot)?
            .iter()
            .find(|h| h.hash() != hash && super::unseal(h, slot, author).is_ok())
            .cloned()
    }

    /// Records `header` as a block of `slot`; forgets slots long past.
    pub fn record(&mut self, slot: u64, header: Header) {
        self.by_slot.entry(slot).or_default().push(header);
        let newest = self.by_slot.keys().next_back().copied().unwrap_or(slot);
        while let Some(oldest) = self.by_slot.first_entry() {
            if *oldest.key() >= newest.saturating_sub(SLOTS_KEPT) {
                break;
            }
            oldest.remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use polkadot_sdk::sp_runtime::traits::Header as _;

    use super::*;

    #[test]
    fn slots_long_past_are_forgotten() {
        let header = Header::new(
            1,
            Default::default(),
            Default::default(),
            Default::default(),
            Default::default(),
        );
        let mut claims = Claims::default();
        claims.record(1, header.clone());
        claims.record(SLOTS_KEPT + 1, header.clone());
        assert!(claims.by_slot.contains_key(&1), "kept: within the window");
        claims.record(SLOTS_KEPT + 2, header);
        assert_eq!(
            claims.by_slot.keys().copied().collect::<Vec<_>>(),
            [SLOTS_KEPT + 1, SLOTS_KEPT + 2]
        );
    }
}
