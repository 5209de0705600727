//! `mosaic_*`: the runtime's `MosaicApi`, answered as SCALE bytes.

use mosaic_api::rpc::MosaicRpcServer;
use mosaic_runtime::mosaic_api::{CodingParams, Quote};
use mosaic_runtime::{AccountId, Balance, Hash};
use parity_scale_codec::Encode;
use polkadot_sdk::sp_core::Bytes;
use polkadot_sdk::sp_runtime::DispatchError;

use super::{codes, error, invalid_params, parse_account, Api, RpcResult};

impl Api {
    /// Calls a `MosaicApi` function; its SCALE answer as is.
    fn mosaic_call(&self, at: Option<Hash>, function: &str, args: impl Encode) -> RpcResult<Bytes> {
        Ok(Bytes(self.chain.call(
            self.at(at),
            &format!("MosaicApi_{function}"),
            &args.encode(),
        )?))
    }
}

impl MosaicRpcServer for Api {
    fn quote(
        &self,
        size: u64,
        data_shards: u8,
        parity_shards: u8,
        segment_size: u32,
        recipients: u32,
        periods: u32,
        max_price: String,
        at: Option<Hash>,
    ) -> RpcResult<Bytes> {
        let max_price: Balance = max_price
            .parse()
            .map_err(|_| invalid_params("max price must be a decimal integer string"))?;
        let coding = CodingParams {
            data_shards,
            parity_shards,
            segment_size,
        };
        let answer: Result<Quote<AccountId, Balance>, DispatchError> = self.chain.call_decoded(
            self.at(at),
            "MosaicApi_quote",
            &(size, coding, recipients, periods, max_price).encode(),
        )?;
        answer
            .map(|quote| Bytes(quote.encode()))
            .map_err(|e| error(codes::STATE, mosaic_api::chain::describe(e)))
    }

    fn order(&self, id: u64, at: Option<Hash>) -> RpcResult<Bytes> {
        self.mosaic_call(at, "order", id)
    }

    fn orders_of(
        &self,
        owner: String,
        after: Option<u64>,
        limit: u32,
        at: Option<Hash>,
    ) -> RpcResult<Bytes> {
        let owner = parse_account(&owner)?;
        self.mosaic_call(at, "orders_of", (owner, after, limit))
    }

    fn orders_by_cid(
        &self,
        cid: Bytes,
        after: Option<u64>,
        limit: u32,
        at: Option<Hash>,
    ) -> RpcResult<Bytes> {
        self.mosaic_call(at, "orders_by_cid", (cid.0, after, limit))
    }

    fn pieces_of(
        &self,
        provider: String,
        from: u32,
        limit: u32,
        at: Option<Hash>,
    ) -> RpcResult<Bytes> {
        let provider = parse_account(&provider)?;
        self.mosaic_call(at, "pieces_of", (provider, from, limit))
    }

    fn provider(&self, who: String, at: Option<Hash>) -> RpcResult<Bytes> {
        self.mosaic_call(at, "provider", parse_account(&who)?)
    }

    fn challenges(&self, who: String, at: Option<Hash>) -> RpcResult<Bytes> {
        self.mosaic_call(at, "challenges", parse_account(&who)?)
    }

    fn resolve(&self, name: String, version: Option<u32>, at: Option<Hash>) -> RpcResult<Bytes> {
        self.mosaic_call(at, "resolve", (name.into_bytes(), version))
    }

    fn name_history(
        &self,
        name: String,
        before: Option<u32>,
        limit: u32,
        at: Option<Hash>,
    ) -> RpcResult<Bytes> {
        self.mosaic_call(at, "name_history", (name.into_bytes(), before, limit))
    }

    fn names_of(&self, owner: String, at: Option<Hash>) -> RpcResult<Bytes> {
        self.mosaic_call(at, "names_of", parse_account(&owner)?)
    }
}
