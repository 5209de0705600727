//! The runtime APIs the node calls, by name, through [`api::dispatch`].
//!
//! Method names are `{Trait}_{method}`: `Core_execute_block`,
//! `BlockBuilder_apply_extrinsic`, `TaggedTransactionQueue_validate_transaction`,
//! `GenesisBuilder_get_preset`, … Arguments are the SCALE encodings of the
//! method's parameters, one after another; the result is the SCALE encoding
//! of its return value. Bad argument bytes make `dispatch` panic, so callers
//! run it under `catch_unwind` or pass only bytes they encoded themselves.

use alloc::vec::Vec;

use polkadot_sdk::frame_support::{
    genesis_builder_helper::{build_state, get_preset},
    weights::Weight,
};
use polkadot_sdk::pallet_grandpa::{fg_primitives, AuthorityId as GrandpaId};
use polkadot_sdk::pallet_transaction_payment_rpc_runtime_api::{FeeDetails, RuntimeDispatchInfo};
use polkadot_sdk::sp_core::OpaqueMetadata;
use polkadot_sdk::sp_runtime::{
    traits::{Block as BlockT, NumberFor},
    transaction_validity::{TransactionSource, TransactionValidity},
    ApplyExtrinsicResult,
};
use polkadot_sdk::sp_version::RuntimeVersion;
use polkadot_sdk::{
    frame_system_rpc_runtime_api, pallet_aura, pallet_grandpa,
    pallet_transaction_payment_rpc_runtime_api, sp_api, sp_block_builder, sp_consensus_aura,
    sp_core, sp_genesis_builder, sp_inherents, sp_offchain, sp_session, sp_transaction_pool,
};

use super::{
    AccountId, Aura, AuraId, Balance, Block, Executive, Grandpa, InherentDataExt, Nonce, Runtime,
    RuntimeCall, RuntimeGenesisConfig, SessionKeys, System, TransactionPayment, VERSION,
};

sp_api::impl_runtime_apis! {
    impl sp_api::Core<Block> for Runtime {
        fn version() -> RuntimeVersion {
            VERSION
        }

        fn execute_block(block: <Block as BlockT>::LazyBlock) {
            Executive::execute_block(block);
        }

        fn initialize_block(header: &<Block as BlockT>::Header) -> sp_runtime::ExtrinsicInclusionMode {
            Executive::initialize_block(header)
        }
    }

    impl sp_api::Metadata<Block> for Runtime {
        fn metadata() -> OpaqueMetadata {
            OpaqueMetadata::new(Runtime::metadata().into())
        }

        fn metadata_at_version(version: u32) -> Option<OpaqueMetadata> {
            Runtime::metadata_at_version(version)
        }

        fn metadata_versions() -> Vec<u32> {
            Runtime::metadata_versions()
        }
    }

    impl sp_block_builder::BlockBuilder<Block> for Runtime {
        fn apply_extrinsic(extrinsic: <Block as BlockT>::Extrinsic) -> ApplyExtrinsicResult {
            Executive::apply_extrinsic(extrinsic)
        }

        fn finalize_block() -> <Block as BlockT>::Header {
            Executive::finalize_block()
        }

        fn inherent_extrinsics(data: sp_inherents::InherentData) -> Vec<<Block as BlockT>::Extrinsic> {
            data.create_extrinsics()
        }

        fn check_inherents(
            block: <Block as BlockT>::LazyBlock,
            data: sp_inherents::InherentData,
        ) -> sp_inherents::CheckInherentsResult {
            data.check_extrinsics(&block)
        }
    }

    impl sp_transaction_pool::runtime_api::TaggedTransactionQueue<Block> for Runtime {
        fn validate_transaction(
            source: TransactionSource,
            tx: <Block as BlockT>::Extrinsic,
            block_hash: <Block as BlockT>::Hash,
        ) -> TransactionValidity {
            Executive::validate_transaction(source, tx, block_hash)
        }
    }

    impl sp_offchain::OffchainWorkerApi<Block> for Runtime {
        fn offchain_worker(header: &<Block as BlockT>::Header) {
            Executive::offchain_worker(header)
        }
    }

    impl sp_consensus_aura::AuraApi<Block, AuraId> for Runtime {
        fn slot_duration() -> sp_consensus_aura::SlotDuration {
            sp_consensus_aura::SlotDuration::from_millis(Aura::slot_duration())
        }

        fn authorities() -> Vec<AuraId> {
            pallet_aura::Authorities::<Runtime>::get().into_inner()
        }
    }

    impl fg_primitives::GrandpaApi<Block> for Runtime {
        fn grandpa_authorities() -> Vec<(GrandpaId, u64)> {
            Grandpa::grandpa_authorities()
        }

        fn current_set_id() -> fg_primitives::SetId {
            pallet_grandpa::CurrentSetId::<Runtime>::get()
        }

        fn submit_report_equivocation_unsigned_extrinsic(
            _equivocation_proof: fg_primitives::EquivocationProof<
                <Block as BlockT>::Hash,
                NumberFor<Block>,
            >,
            _key_owner_proof: fg_primitives::OpaqueKeyOwnershipProof,
        ) -> Option<()> {
            // No session history to prove key ownership against yet.
            None
        }

        fn generate_key_ownership_proof(
            _set_id: fg_primitives::SetId,
            _authority_id: GrandpaId,
        ) -> Option<fg_primitives::OpaqueKeyOwnershipProof> {
            None
        }
    }

    impl sp_session::SessionKeys<Block> for Runtime {
        fn generate_session_keys(
            owner: Vec<u8>,
            seed: Option<Vec<u8>>,
        ) -> sp_session::OpaqueGeneratedSessionKeys {
            SessionKeys::generate(&owner, seed).into()
        }

        fn decode_session_keys(encoded: Vec<u8>) -> Option<Vec<(Vec<u8>, sp_core::crypto::KeyTypeId)>> {
            SessionKeys::decode_into_raw_public_keys(&encoded)
        }
    }

    impl frame_system_rpc_runtime_api::AccountNonceApi<Block, AccountId, Nonce> for Runtime {
        fn account_nonce(account: AccountId) -> Nonce {
            System::account_nonce(account)
        }
    }

    impl pallet_transaction_payment_rpc_runtime_api::TransactionPaymentApi<Block, Balance> for Runtime {
        fn query_info(uxt: <Block as BlockT>::Extrinsic, len: u32) -> RuntimeDispatchInfo<Balance> {
            TransactionPayment::query_info(uxt, len)
        }

        fn query_fee_details(uxt: <Block as BlockT>::Extrinsic, len: u32) -> FeeDetails<Balance> {
            TransactionPayment::query_fee_details(uxt, len)
        }

        fn query_weight_to_fee(weight: Weight) -> Balance {
            TransactionPayment::weight_to_fee(weight)
        }

        fn query_length_to_fee(length: u32) -> Balance {
            TransactionPayment::length_to_fee(length)
        }
    }

    impl pallet_transaction_payment_rpc_runtime_api::TransactionPaymentCallApi<Block, Balance, RuntimeCall>
        for Runtime
    {
        fn query_call_info(call: RuntimeCall, len: u32) -> RuntimeDispatchInfo<Balance> {
            TransactionPayment::query_call_info(call, len)
        }

        fn query_call_fee_details(call: RuntimeCall, len: u32) -> FeeDetails<Balance> {
            TransactionPayment::query_call_fee_details(call, len)
        }

        fn query_weight_to_fee(weight: Weight) -> Balance {
            TransactionPayment::weight_to_fee(weight)
        }

        fn query_length_to_fee(length: u32) -> Balance {
            TransactionPayment::length_to_fee(length)
        }
    }

    #[api_version(4)]
    impl crate::mosaic_api::MosaicApi<
        Block,
        AccountId,
        Balance,
        pallet_mosaic_market::OrderOf<Runtime>,
        pallet_mosaic_providers::ProviderOf<Runtime>,
    > for Runtime {
        fn quote(
            size: u64,
            coding: pallet_mosaic_market::CodingParams,
            recipients: u32,
            periods: u32,
            max_price: Balance,
        ) -> Result<pallet_mosaic_market::Quote<AccountId, Balance>, sp_runtime::DispatchError> {
            pallet_mosaic_market::Pallet::<Runtime>::quote(size, coding, recipients, periods, max_price)
        }

        fn order(id: pallet_mosaic_market::OrderId) -> Option<pallet_mosaic_market::OrderOf<Runtime>> {
            pallet_mosaic_market::Orders::<Runtime>::get(id)
        }

        fn orders_of(
            owner: AccountId,
            after: Option<pallet_mosaic_market::OrderId>,
            limit: u32,
        ) -> Vec<pallet_mosaic_market::OrderId> {
            pallet_mosaic_market::Pallet::<Runtime>::orders_of(&owner, after, limit)
        }

        fn orders_by_cid(
            cid: Vec<u8>,
            after: Option<pallet_mosaic_market::OrderId>,
            limit: u32,
        ) -> Vec<pallet_mosaic_market::OrderId> {
            // A CID longer than any stored one has no orders.
            pallet_mosaic_market::CidOf::<Runtime>::try_from(cid)
                .map(|cid| pallet_mosaic_market::Pallet::<Runtime>::orders_by_cid(&cid, after, limit))
                .unwrap_or_default()
        }

        fn pieces_of(
            provider: AccountId,
            from: u32,
            limit: u32,
        ) -> Vec<(pallet_mosaic_market::OrderId, u32)> {
            pallet_mosaic_market::Pallet::<Runtime>::pieces_of(&provider, from, limit)
        }

        fn provider(who: AccountId) -> Option<pallet_mosaic_providers::ProviderOf<Runtime>> {
            pallet_mosaic_providers::Providers::<Runtime>::get(who)
        }

        fn challenges(who: AccountId) -> Vec<pallet_mosaic_audit::Challenge> {
            pallet_mosaic_audit::Challenges::<Runtime>::iter_prefix_values(who).collect()
        }

        fn resolve(
            name: Vec<u8>,
            version: Option<u32>,
        ) -> Option<pallet_mosaic_names::Resolution<AccountId, crate::BlockNumber>> {
            pallet_mosaic_names::Pallet::<Runtime>::resolve(&name, version)
        }

        fn name_history(
            name: Vec<u8>,
            before: Option<u32>,
            limit: u32,
        ) -> Vec<pallet_mosaic_names::Entry<crate::BlockNumber>> {
            pallet_mosaic_names::Pallet::<Runtime>::history(&name, before, limit)
        }

        fn names_of(owner: AccountId) -> Vec<Vec<u8>> {
            pallet_mosaic_names::Pallet::<Runtime>::names_of(&owner)
                .into_iter()
                .map(|name| name.into_inner())
                .collect()
        }
    }

    #[cfg(feature = "runtime-benchmarks")]
    impl polkadot_sdk::frame_benchmarking::Benchmark<Block> for Runtime {
        fn benchmark_metadata(
            extra: bool,
        ) -> (
            Vec<polkadot_sdk::frame_benchmarking::BenchmarkList>,
            Vec<polkadot_sdk::frame_support::traits::StorageInfo>,
        ) {
            use polkadot_sdk::frame_support::traits::StorageInfoTrait;
            use polkadot_sdk::frame_benchmarking::BenchmarkList;
            let mut list = Vec::<BenchmarkList>::new();
            list_benchmarks!(list, extra);
            (list, crate::AllPalletsWithSystem::storage_info())
        }

        fn dispatch_benchmark(
            config: polkadot_sdk::frame_benchmarking::BenchmarkConfig,
        ) -> Result<Vec<polkadot_sdk::frame_benchmarking::BenchmarkBatch>, alloc::string::String> {
            use polkadot_sdk::frame_support::traits::WhitelistedStorageKeys;
            use polkadot_sdk::frame_benchmarking::BenchmarkBatch;
            let whitelist = crate::AllPalletsWithSystem::whitelisted_storage_keys();
            let mut batches = Vec::<BenchmarkBatch>::new();
            let params = (&config, &whitelist);
            add_benchmarks!(params, batches);
            Ok(batches)
        }
    }

    impl sp_genesis_builder::GenesisBuilder<Block> for Runtime {
        fn build_state(config: Vec<u8>) -> sp_genesis_builder::Result {
            build_state::<RuntimeGenesisConfig>(config)
        }

        fn get_preset(id: &Option<sp_genesis_builder::PresetId>) -> Option<Vec<u8>> {
            get_preset::<RuntimeGenesisConfig>(id, crate::genesis::preset)
        }

        fn preset_names() -> Vec<sp_genesis_builder::PresetId> {
            crate::genesis::preset_names()
        }
    }
}

use polkadot_sdk::sp_runtime;
