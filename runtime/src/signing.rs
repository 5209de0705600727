//! Signing an extrinsic for this runtime as any Substrate client does: the
//! transaction extension tuple in order, with what each commits to
//! implicitly (versions, genesis, era birth). The one copy the tests, the
//! client and the worker use (through `mosaic-api`).

use parity_scale_codec::Encode;
use polkadot_sdk::sp_core::{sr25519, Pair};
use polkadot_sdk::sp_runtime::generic::Era;
use polkadot_sdk::sp_runtime::{MultiAddress, MultiSignature};
use polkadot_sdk::{frame_system, pallet_transaction_payment};

use crate::{AccountId, Hash, Nonce, RuntimeCall, SignedPayload, TxExtension, UncheckedExtrinsic};

/// What a signature commits to besides the call.
#[derive(Clone, Copy, Debug)]
pub struct SigningParams {
    /// The chain's genesis hash.
    pub genesis: Hash,
    /// The runtime's `spec_version`.
    pub spec_version: u32,
    /// The runtime's `transaction_version`.
    pub transaction_version: u32,
    /// The sender's nonce.
    pub nonce: Nonce,
    /// How long the transaction stays valid.
    pub era: Era,
    /// The hash of the block the era starts at (the genesis hash for an
    /// immortal era).
    pub era_birth: Hash,
}

/// The transaction extensions of a transaction with `nonce` valid for `era`,
/// without tip.
pub fn tx_extension(nonce: Nonce, era: Era) -> TxExtension {
    (
        frame_system::AuthorizeCall::new(),
        frame_system::CheckNonZeroSender::new(),
        frame_system::CheckSpecVersion::new(),
        frame_system::CheckTxVersion::new(),
        frame_system::CheckGenesis::new(),
        frame_system::CheckEra::from(era),
        frame_system::CheckNonce::from(nonce),
        frame_system::CheckWeight::new(),
        pallet_transaction_payment::ChargeTransactionPayment::from(0),
        frame_system::WeightReclaim::new(),
    )
}

/// Signs `call` as `signer`.
pub fn sign_extrinsic(
    signer: &sr25519::Pair,
    call: RuntimeCall,
    params: &SigningParams,
) -> UncheckedExtrinsic {
    let extension = tx_extension(params.nonce, params.era);
    let implicit = (
        (),
        (),
        params.spec_version,
        params.transaction_version,
        params.genesis,
        params.era_birth,
        (),
        (),
        (),
        (),
    );
    let payload = SignedPayload::from_raw(call.clone(), extension.clone(), implicit);
    let signature = payload.using_encoded(|bytes| signer.sign(bytes));
    UncheckedExtrinsic::new_signed(
        call,
        MultiAddress::Id(AccountId::from(signer.public())),
        MultiSignature::Sr25519(signature).into(),
        extension,
    )
}
