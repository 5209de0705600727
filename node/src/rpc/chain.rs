//! `chain_*`: blocks, hashes and head subscriptions.

use jsonrpsee::core::{async_trait, SubscriptionResult};
use jsonrpsee::server::PendingSubscriptionSink;
use mosaic_api::rpc::{Block, ChainRpcServer, ListOrValue, NumberOrHex, SignedBlock};
use mosaic_runtime::{Hash, Header};
use parity_scale_codec::Encode;
use polkadot_sdk::sp_core::Bytes;

use super::{chain_error, follow, invalid_params, Api, RpcResult};
use crate::chain::{CallError, ChainEvent};
use crate::store::StoreError;

/// Which heads a subscription reports.
#[derive(Clone, Copy)]
enum Heads {
    Best,
    All,
    Finalized,
}

impl Api {
    fn hash_of(&self, number: NumberOrHex) -> RpcResult<Option<Hash>> {
        let number = number.block_number().map_err(invalid_params)?;
        Ok(self
            .chain
            .store()
            .canonical_hash(number)
            .map_err(CallError::from)?)
    }

    /// Sends the current head of `kind` (none for `All`), then each new one.
    async fn heads(&self, pending: PendingSubscriptionSink, kind: Heads) {
        let events = self.chain.subscribe();
        let info = self.chain.info();
        let first = match kind {
            Heads::Best => Some(info.best_hash),
            Heads::Finalized => Some(info.finalized_hash),
            Heads::All => None,
        };
        let first = tokio::task::block_in_place(|| {
            first
                .and_then(|hash| self.chain.store().expect_header(hash).ok())
                .into_iter()
                .collect()
        });
        follow(pending, events, first, move |event| match (kind, event) {
            (Heads::Best, event) => event
                .new_best()
                .map(|(h, _)| h.clone())
                .into_iter()
                .collect(),
            (Heads::All, ChainEvent::Imported { header, .. }) => vec![header.clone()],
            (Heads::Finalized, ChainEvent::Finalized(headers)) => headers.clone(),
            _ => Vec::new(),
        })
        .await;
    }
}

#[async_trait]
impl ChainRpcServer for Api {
    fn block_hash(
        &self,
        number: Option<ListOrValue<NumberOrHex>>,
    ) -> RpcResult<ListOrValue<Option<Hash>>> {
        Ok(match number {
            None => ListOrValue::Value(Some(self.chain.info().best_hash)),
            Some(ListOrValue::Value(n)) => ListOrValue::Value(self.hash_of(n)?),
            Some(ListOrValue::List(list)) => ListOrValue::List(
                list.into_iter()
                    .map(|n| self.hash_of(n))
                    .collect::<RpcResult<_>>()?,
            ),
        })
    }

    fn header(&self, hash: Option<Hash>) -> RpcResult<Option<Header>> {
        let header = self
            .chain
            .store()
            .expect_header(self.at(hash))
            .map_err(chain_error)?;
        Ok(Some(header))
    }

    fn block(&self, hash: Option<Hash>) -> RpcResult<Option<SignedBlock>> {
        let hash = self.at(hash);
        let store = self.chain.store();
        let header = store.expect_header(hash).map_err(chain_error)?;
        let body = store
            .body(hash)
            .map_err(chain_error)?
            .ok_or_else(|| chain_error(StoreError::UnknownBlock(hash)))?;
        let justifications = store.justifications(hash).map_err(chain_error)?;
        Ok(Some(SignedBlock {
            block: Block {
                header,
                extrinsics: body.iter().map(|xt| Bytes(xt.encode())).collect(),
            },
            justifications,
        }))
    }

    fn finalized_head(&self) -> RpcResult<Hash> {
        Ok(self.chain.info().finalized_hash)
    }

    async fn subscribe_new_heads(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        self.heads(pending, Heads::Best).await;
        Ok(())
    }

    async fn subscribe_all_heads(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        self.heads(pending, Heads::All).await;
        Ok(())
    }

    async fn subscribe_finalized_heads(
        &self,
        pending: PendingSubscriptionSink,
    ) -> SubscriptionResult {
        self.heads(pending, Heads::Finalized).await;
        Ok(())
    }
}
