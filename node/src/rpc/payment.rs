//! `payment_*`: what a transaction would pay, from the runtime's
//! `TransactionPaymentApi`.

use jsonrpsee::types::ErrorObject;
use mosaic_api::rpc::{FeeDetails, InclusionFee, PaymentRpcServer};
use mosaic_runtime::{Balance, Hash, UncheckedExtrinsic};
use parity_scale_codec::{Decode, Encode};
use polkadot_sdk::pallet_transaction_payment::{self, RuntimeDispatchInfo};
use polkadot_sdk::sp_core::Bytes;

use super::{codes, Api, RpcResult};

impl Api {
    /// Calls a `TransactionPaymentApi` function on an extrinsic.
    fn payment_call<R: Decode>(&self, api: &str, bytes: &Bytes, at: Option<Hash>) -> RpcResult<R> {
        let xt = UncheckedExtrinsic::decode(&mut &bytes[..]).map_err(|e| {
            ErrorObject::owned(
                codes::BAD_FORMAT,
                "Extrinsic has invalid format",
                Some(e.to_string()),
            )
        })?;
        Ok(self
            .chain
            .call_decoded(self.at(at), api, &(xt, bytes.len() as u32).encode())?)
    }
}

impl PaymentRpcServer for Api {
    fn query_info(
        &self,
        extrinsic: Bytes,
        at: Option<Hash>,
    ) -> RpcResult<RuntimeDispatchInfo<Balance>> {
        self.payment_call("TransactionPaymentApi_query_info", &extrinsic, at)
    }

    fn query_fee_details(&self, extrinsic: Bytes, at: Option<Hash>) -> RpcResult<FeeDetails> {
        let details: pallet_transaction_payment::FeeDetails<Balance> =
            self.payment_call("TransactionPaymentApi_query_fee_details", &extrinsic, at)?;
        Ok(FeeDetails {
            inclusion_fee: details.inclusion_fee.map(|fee| InclusionFee {
                base_fee: fee.base_fee.into(),
                len_fee: fee.len_fee.into(),
                adjusted_weight_fee: fee.adjusted_weight_fee.into(),
            }),
        })
    }
}
