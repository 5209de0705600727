//! `state_*`: storage, runtime calls and their subscriptions.

use jsonrpsee::core::{async_trait, SubscriptionResult};
use jsonrpsee::server::PendingSubscriptionSink;
use mosaic_api::rpc::{StateRpcServer, StorageChangeSet};
use mosaic_runtime::Hash;
use polkadot_sdk::sp_core::{Bytes, OpaqueMetadata};
use polkadot_sdk::sp_runtime::traits::{BlakeTwo256, Hash as _};
use polkadot_sdk::sp_state_machine::{Backend as _, IterArgs};
use polkadot_sdk::sp_version::RuntimeVersion;

use super::{
    codes, error, follow, invalid_params, Api, RpcResult, MAX_KEYS_PAGED, MAX_STORAGE_KEYS,
};
use crate::chain::CallError;

impl Api {
    /// The values of `keys` at `at`, read from one state.
    fn storage_at(&self, at: Hash, keys: &[Bytes]) -> RpcResult<StorageChangeSet> {
        // One state for every key: opening it reads the header.
        let state = self.chain.store().state(at).map_err(CallError::from)?;
        let changes = keys
            .iter()
            .map(|key| {
                let value = state
                    .storage(key)
                    .map_err(|e| error(codes::STATE, e.to_string()))?;
                Ok((key.clone(), value.map(Bytes)))
            })
            .collect::<RpcResult<_>>()?;
        Ok(StorageChangeSet { block: at, changes })
    }

    fn version_at(&self, at: Hash) -> RpcResult<RuntimeVersion> {
        Ok(self.chain.call_decoded(at, "Core_version", &[])?)
    }
}

#[async_trait]
impl StateRpcServer for Api {
    fn storage(&self, key: Bytes, at: Option<Hash>) -> RpcResult<Option<Bytes>> {
        Ok(self.chain.storage(self.at(at), &key)?.map(Bytes))
    }

    fn storage_hash(&self, key: Bytes, at: Option<Hash>) -> RpcResult<Option<Hash>> {
        Ok(self
            .chain
            .storage(self.at(at), &key)?
            .map(|v| BlakeTwo256::hash(&v)))
    }

    fn storage_size(&self, key: Bytes, at: Option<Hash>) -> RpcResult<Option<u64>> {
        Ok(self
            .chain
            .storage(self.at(at), &key)?
            .map(|v| v.len() as u64))
    }

    fn keys_paged(
        &self,
        prefix: Option<Bytes>,
        count: u32,
        start_key: Option<Bytes>,
        at: Option<Hash>,
    ) -> RpcResult<Vec<Bytes>> {
        if count > MAX_KEYS_PAGED {
            return Err(invalid_params(format!(
                "count exceeds maximum value; value: {count}, max: {MAX_KEYS_PAGED}"
            )));
        }
        let state = self
            .chain
            .store()
            .state(self.at(at))
            .map_err(CallError::from)?;
        let mut args = IterArgs::default();
        args.prefix = prefix.as_deref();
        args.start_at = start_key.as_deref();
        args.start_at_exclusive = true;
        state
            .keys(args)
            .map_err(|e| error(codes::STATE, e.to_string()))?
            .take(count as usize)
            .map(|key| key.map(Bytes))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| error(codes::STATE, e.to_string()))
    }

    fn metadata(&self, at: Option<Hash>) -> RpcResult<Bytes> {
        let metadata: OpaqueMetadata =
            self.chain
                .call_decoded(self.at(at), "Metadata_metadata", &[])?;
        Ok(Bytes(metadata.to_vec()))
    }

    fn runtime_version(&self, at: Option<Hash>) -> RpcResult<RuntimeVersion> {
        self.version_at(self.at(at))
    }

    fn call(&self, name: String, data: Bytes, at: Option<Hash>) -> RpcResult<Bytes> {
        Ok(Bytes(self.chain.call(self.at(at), &name, &data)?))
    }

    fn query_storage_at(
        &self,
        keys: Vec<Bytes>,
        at: Option<Hash>,
    ) -> RpcResult<Vec<StorageChangeSet>> {
        if keys.len() > MAX_STORAGE_KEYS {
            return Err(invalid_params(format!("at most {MAX_STORAGE_KEYS} keys")));
        }
        Ok(vec![self.storage_at(self.at(at), &keys)?])
    }

    async fn subscribe_storage(
        &self,
        pending: PendingSubscriptionSink,
        keys: Vec<Bytes>,
    ) -> SubscriptionResult {
        if keys.is_empty() || keys.len() > MAX_STORAGE_KEYS {
            pending
                .reject(invalid_params(format!(
                    "give between 1 and {MAX_STORAGE_KEYS} storage keys"
                )))
                .await;
            return Ok(());
        }
        let events = self.chain.subscribe();
        let best = self.chain.info().best_hash;
        let first = match tokio::task::block_in_place(|| self.storage_at(best, &keys)) {
            Ok(first) => first,
            Err(e) => {
                pending.reject(e).await;
                return Ok(());
            }
        };
        let mut last = first.changes.clone();
        let api = self.clone();
        follow(pending, events, vec![first], move |event| {
            let Some((header, _)) = event.new_best() else {
                return Vec::new();
            };
            let Ok(now) = api.storage_at(header.hash(), &keys) else {
                return Vec::new();
            };
            let changed: Vec<_> = now
                .changes
                .iter()
                .zip(&last)
                .filter(|(new, old)| new != old)
                .map(|(new, _)| new.clone())
                .collect();
            last = now.changes;
            if changed.is_empty() {
                Vec::new()
            } else {
                vec![StorageChangeSet {
                    block: now.block,
                    changes: changed,
                }]
            }
        })
        .await;
        Ok(())
    }

    async fn subscribe_runtime_version(
        &self,
        pending: PendingSubscriptionSink,
    ) -> SubscriptionResult {
        let events = self.chain.subscribe();
        let best = self.chain.info().best_hash;
        let mut last = match tokio::task::block_in_place(|| self.version_at(best)) {
            Ok(version) => version,
            Err(e) => {
                pending.reject(e).await;
                return Ok(());
            }
        };
        let api = self.clone();
        follow(pending, events, vec![last.clone()], move |event| {
            let Some((header, _)) = event.new_best() else {
                return Vec::new();
            };
            match api.version_at(header.hash()) {
                Ok(now) if now != last => {
                    last = now.clone();
                    vec![now]
                }
                _ => Vec::new(),
            }
        })
        .await;
        Ok(())
    }
}
