//! `author_*`: submitting and watching transactions, and the keystore.

use jsonrpsee::core::{async_trait, SubscriptionResult};
use jsonrpsee::server::{PendingSubscriptionSink, SubscriptionMessage};
use jsonrpsee::types::ErrorObjectOwned;
use mosaic_api::rpc::AuthorRpcServer;
use mosaic_runtime::Hash;
use polkadot_sdk::sp_core::Bytes;

use super::{codes, error, Api, RpcResult, SEND_TIMEOUT};
use polkadot_sdk::sp_core::crypto::KeyTypeId;

use crate::keystore;

fn key_type(name: &str) -> RpcResult<KeyTypeId> {
    keystore::key_type(name).map_err(|e| error(codes::KEYSTORE, e.to_string()))
}

#[async_trait]
impl AuthorRpcServer for Api {
    fn submit_extrinsic(&self, extrinsic: Bytes) -> RpcResult<Hash> {
        Ok(self.pool.submit(&extrinsic)?)
    }

    fn pending_extrinsics(&self) -> RpcResult<Vec<Bytes>> {
        Ok(self.pool.pending().into_iter().map(Bytes).collect())
    }

    fn insert_key(&self, key_type_name: String, suri: String, public: Bytes) -> RpcResult<()> {
        self.check_unsafe()?;
        self.keystore
            .insert(key_type(&key_type_name)?, &suri, Some(&public))
            .map_err(|e| error(codes::KEYSTORE, e.to_string()))?;
        Ok(())
    }

    fn has_key(&self, public: Bytes, key_type_name: String) -> RpcResult<bool> {
        self.check_unsafe()?;
        Ok(self.keystore.has(key_type(&key_type_name)?, &public))
    }

    async fn submit_and_watch_extrinsic(
        &self,
        pending: PendingSubscriptionSink,
        extrinsic: Bytes,
    ) -> SubscriptionResult {
        let pool = self.pool.clone();
        // Validation runs the runtime: keep it off the server's async
        // threads.
        let submitted = tokio::task::block_in_place(|| pool.submit_and_watch(&extrinsic));
        let mut statuses = match submitted {
            Ok((_, statuses)) => statuses,
            Err(e) => {
                pending.reject(ErrorObjectOwned::from(e)).await;
                return Ok(());
            }
        };
        let Ok(sink) = pending.accept().await else {
            return Ok(());
        };
        while let Some(status) = tokio::select! {
            _ = sink.closed() => None,
            status = statuses.recv() => status,
        } {
            let done = status.is_final();
            let message = SubscriptionMessage::from_json(&status).expect("statuses serialize; qed");
            if sink.send_timeout(message, SEND_TIMEOUT).await.is_err() || done {
                break;
            }
        }
        Ok(())
    }
}
