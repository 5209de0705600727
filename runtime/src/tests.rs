//! The runtime executed natively, as the node will: genesis from a preset
//! through the `GenesisBuilder` API, a block authored with inherents and a
//! signed transfer, then imported by `Core_execute_block` on a fresh state.

use parity_scale_codec::{Decode, Encode};
use polkadot_sdk::frame_support::traits::fungible::Inspect;
use polkadot_sdk::sp_core::storage::{StateVersion, Storage};
use polkadot_sdk::sp_externalities::{set_and_run_with_externalities, Extensions};
use polkadot_sdk::sp_inherents::InherentData;
use polkadot_sdk::sp_keyring::Sr25519Keyring;
use polkadot_sdk::sp_runtime::generic::{Digest, Era};
use polkadot_sdk::sp_runtime::traits::{BlakeTwo256, Hash as _, Header as _};
use polkadot_sdk::sp_runtime::MultiAddress;
use polkadot_sdk::sp_state_machine::{Ext, InMemoryBackend, OverlayedChanges};
use polkadot_sdk::{pallet_balances, sp_timestamp};

use crate::genesis::{self, DEV_ENDOWMENT};
use crate::native::{call, execute_block, BlockBuilder, ExecutionError};
use crate::*;

type Backend = InMemoryBackend<BlakeTwo256>;

fn decode<T: Decode>(bytes: Vec<u8>) -> T {
    T::decode(&mut &bytes[..]).expect("the runtime returns valid SCALE")
}

/// Genesis storage of a preset, built through the `GenesisBuilder` API the
/// way a chain spec builder does.
fn genesis_through_api(preset: &str) -> Storage {
    crate::native::genesis_storage(preset).unwrap()
}

/// The pre-runtime digest of block 1 at `slot`: Aura's slot and //Alice's
/// VRF signature over the genesis randomness and the slot.
fn block_digest(slot: u64) -> Digest {
    use polkadot_sdk::sp_core::crypto::Pair as _;
    let alice = polkadot_sdk::sp_core::sr25519::Pair::from_string("//Alice", None).unwrap();
    pallet_mosaic_audit::pre_digest(slot, &[0; 32], Some(&alice))
}

struct Chain {
    backend: Backend,
    genesis_hash: Hash,
    signatures: crate::verified::SignatureCache,
}

impl Chain {
    fn new(storage: Storage) -> Self {
        let backend = Backend::from((storage, StateVersion::V1));
        let genesis = Header::new(
            0,
            BlakeTwo256::trie_root(vec![], StateVersion::V1),
            *backend.root(),
            Default::default(),
            Default::default(),
        );
        Chain {
            backend,
            genesis_hash: genesis.hash(),
            signatures: Default::default(),
        }
    }

    fn transfer(
        &self,
        from: Sr25519Keyring,
        to: Sr25519Keyring,
        amount: Balance,
        nonce: Nonce,
    ) -> UncheckedExtrinsic {
        let call = RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
            dest: MultiAddress::Id(to.to_account_id()),
            value: amount,
        });
        self.signed(from, call, nonce)
    }

    /// `call` signed by `from` the way any Substrate client signs.
    fn signed(&self, from: Sr25519Keyring, call: RuntimeCall, nonce: Nonce) -> UncheckedExtrinsic {
        let params = crate::signing::SigningParams {
            genesis: self.genesis_hash,
            spec_version: VERSION.spec_version,
            transaction_version: VERSION.transaction_version,
            nonce,
            era: Era::Immortal,
            era_birth: self.genesis_hash,
        };
        crate::signing::sign_extrinsic(&from.pair(), call, &params)
    }

    /// A builder of block 1 on genesis at `slot`.
    fn builder(&self, slot: u64) -> BlockBuilder<'_, Backend> {
        BlockBuilder::new(
            &self.backend,
            &self.signatures,
            self.genesis_hash,
            1,
            block_digest(slot),
        )
        .unwrap()
    }

    /// Authors block 1 on genesis with `transactions`; returns the block and
    /// the post-state root the author computed.
    fn author(&self, slot: u64, transactions: Vec<UncheckedExtrinsic>) -> (Block, Hash) {
        let mut builder = self.builder(slot);
        let mut inherent_data = InherentData::new();
        inherent_data
            .put_data(
                sp_timestamp::INHERENT_IDENTIFIER,
                &(slot * SLOT_DURATION_MS),
            )
            .unwrap();
        builder.push_inherents(&inherent_data).unwrap();
        for xt in transactions {
            // Dispatch errors are included (fees were paid); invalid ones are not.
            let _outcome = builder.push(xt).unwrap();
        }
        let (block, changes) = builder.build().unwrap();
        assert_eq!(changes.transaction_storage_root, *block.header.state_root());
        (block, changes.transaction_storage_root)
    }

    /// Imports `block` on genesis; returns the post-state root.
    fn import(&self, block: &Block) -> Result<Hash, ExecutionError> {
        Ok(execute_block(&self.backend, &self.signatures, block)?.transaction_storage_root)
    }

    /// Reads state after importing `block`, once the token accounting and
    /// every Mosaic pallet's invariants are checked there.
    fn after<R>(&self, block: &Block, read: impl FnOnce() -> R) -> R {
        let mut overlay = OverlayedChanges::default();
        call(
            &self.backend,
            &mut overlay,
            &self.signatures,
            "Core_execute_block",
            &block.encode(),
        )
        .unwrap();
        self.read(overlay, || {
            crate::accounting::check().expect("tokens add up");
            crate::Providers::do_try_state().expect("provider invariants hold");
            crate::Market::do_try_state().expect("market invariants hold");
            crate::Audit::do_try_state().expect("audit invariants hold");
            crate::Names::do_try_state().expect("names invariants hold");
            read()
        })
    }

    /// Reads genesis state.
    fn at_genesis<R>(&self, read: impl FnOnce() -> R) -> R {
        self.read(OverlayedChanges::default(), read)
    }

    fn read<R>(&self, mut overlay: OverlayedChanges<BlakeTwo256>, read: impl FnOnce() -> R) -> R {
        let mut extensions = Extensions::default();
        let mut ext = Ext::new(&mut overlay, &self.backend, Some(&mut extensions));
        set_and_run_with_externalities(&mut ext, read)
    }
}

#[test]
fn a_signature_verified_in_the_pool_is_remembered_for_building_and_import() {
    use polkadot_sdk::sp_runtime::transaction_validity::{TransactionSource, TransactionValidity};
    let mut chain = Chain::new(genesis_through_api(genesis::DEV));
    chain.signatures = crate::verified::SignatureCache::new();
    let transfer = chain.transfer(Sr25519Keyring::Alice, Sr25519Keyring::Bob, UNIT, 0);
    let validity: TransactionValidity = decode(
        call(
            &chain.backend,
            &mut OverlayedChanges::default(),
            &chain.signatures,
            "TaggedTransactionQueue_validate_transaction",
            &(TransactionSource::External, &transfer, chain.genesis_hash).encode(),
        )
        .unwrap(),
    );
    assert!(validity.is_ok());
    // The pool's verification is remembered under the signed payload that
    // building and import verify again.
    assert_eq!(chain.signatures.len(), 1);
    let (block, root) = chain.author(3, vec![transfer]);
    assert_eq!(block.extrinsics.len(), 2);
    assert_eq!(chain.import(&block).unwrap(), root);
    assert_eq!(chain.signatures.len(), 1);
    // A node that remembers nothing imports the block to the same state.
    let fresh = Chain::new(genesis_through_api(genesis::DEV));
    assert_eq!(fresh.import(&block).unwrap(), root);
    assert!(fresh.signatures.is_empty());
}

#[test]
fn presets_build_through_the_api_as_natively() {
    for preset in genesis::preset_names() {
        let typed = genesis::build_storage(genesis::preset_config(&preset).unwrap()).unwrap();
        assert_eq!(genesis_through_api(&preset).top, typed.top, "{preset}");
    }
    assert!(genesis::preset_config("nope").is_none());
}

#[test]
fn presets_fund_the_dev_accounts_and_set_validators() {
    let chain = Chain::new(genesis_through_api(genesis::LOCAL));
    let mut overlay = OverlayedChanges::default();
    let authorities: Vec<AuraId> = decode(
        call(
            &chain.backend,
            &mut overlay,
            &chain.signatures,
            "AuraApi_authorities",
            &[],
        )
        .unwrap(),
    );
    assert_eq!(authorities.len(), 4);
    let mut extensions = Extensions::default();
    let mut ext = Ext::new(&mut overlay, &chain.backend, Some(&mut extensions));
    set_and_run_with_externalities(&mut ext, || {
        assert_eq!(genesis::dev_accounts().len(), 12);
        for account in genesis::dev_accounts() {
            assert_eq!(Balances::balance(&account), DEV_ENDOWMENT);
        }
    });
}

#[test]
fn blocks_authored_natively_import_with_the_same_state_root() {
    let chain = Chain::new(genesis_through_api(genesis::DEV));
    let slot = 1_000_000;
    let transfer = chain.transfer(Sr25519Keyring::Alice, Sr25519Keyring::Bob, 5 * UNIT, 0);
    let (block, root) = chain.author(slot, vec![transfer]);
    assert_eq!(
        block.extrinsics.len(),
        2,
        "timestamp inherent and the transfer"
    );

    // Imported twice, on fresh overlays: the same root both times.
    assert_eq!(chain.import(&block), Ok(root));
    assert_eq!(chain.import(&block), Ok(root));
    chain.after(&block, || {
        assert_eq!(
            Balances::balance(&Sr25519Keyring::Bob.to_account_id()),
            DEV_ENDOWMENT + 5 * UNIT
        );
        assert_eq!(
            System::account_nonce(Sr25519Keyring::Alice.to_account_id()),
            1
        );
    });

    // A block whose VRF signature is not the author's is rejected.
    let mut unsigned = block.clone();
    unsigned.header.digest.logs.truncate(1);
    assert!(chain.import(&unsigned).is_err());

    // A block claiming another state root is rejected.
    let mut bad = block.clone();
    bad.header.state_root = Hash::repeat_byte(7);
    assert!(chain.import(&bad).is_err());

    // So is one with a transaction signed by someone else.
    let mut forged = block.clone();
    forged.extrinsics[1] = {
        let mut xt = chain.transfer(Sr25519Keyring::Alice, Sr25519Keyring::Bob, 5 * UNIT, 0);
        let other = chain.transfer(Sr25519Keyring::Charlie, Sr25519Keyring::Bob, 5 * UNIT, 0);
        if let (
            polkadot_sdk::sp_runtime::generic::Preamble::Signed(_, sig, _),
            polkadot_sdk::sp_runtime::generic::Preamble::Signed(_, other_sig, _),
        ) = (&mut xt.preamble, other.preamble)
        {
            *sig = other_sig;
        }
        xt
    };
    assert!(chain.import(&forged).is_err());
}

#[test]
fn transactions_with_a_wrong_nonce_or_genesis_are_refused() {
    let chain = Chain::new(genesis_through_api(genesis::DEV));
    let mut builder = chain.builder(7);
    let stale = chain.transfer(Sr25519Keyring::Alice, Sr25519Keyring::Bob, UNIT, 5);
    assert!(matches!(
        builder.push(stale),
        Err(ExecutionError::Invalid(_))
    ));
    let other_chain = Chain {
        backend: Backend::from((genesis_through_api(genesis::DEV), StateVersion::V1)),
        genesis_hash: Hash::repeat_byte(1),
        signatures: Default::default(),
    };
    let foreign = other_chain.transfer(Sr25519Keyring::Alice, Sr25519Keyring::Bob, UNIT, 0);
    assert!(matches!(
        builder.push(foreign),
        Err(ExecutionError::Invalid(_))
    ));
    // Neither left a trace: the right transaction still applies with nonce 0.
    let good = chain.transfer(Sr25519Keyring::Alice, Sr25519Keyring::Bob, UNIT, 0);
    assert_eq!(builder.push(good), Ok(Ok(())));
    // Garbage arguments are a caught failure, not a crash.
    let mut overlay = Default::default();
    assert!(matches!(
        call(
            &chain.backend,
            &mut overlay,
            &chain.signatures,
            "BlockBuilder_apply_extrinsic",
            &[1, 2, 3]
        ),
        Err(ExecutionError::Panicked { .. })
    ));
    assert_eq!(
        call(
            &chain.backend,
            &mut overlay,
            &chain.signatures,
            "Nope_nothing",
            &[]
        ),
        Err(ExecutionError::UnknownMethod("Nope_nothing".into()))
    );
}

/// Proofs are operational: a block whose room for ordinary transactions
/// is full (here by one sudo call of nearly all of it) still takes them, so
/// spam cannot push an honest provider's proof past its deadline.
#[test]
fn a_proof_fits_in_a_block_that_ordinary_transactions_filled() {
    use polkadot_sdk::frame_support::dispatch::DispatchClass;
    use polkadot_sdk::sp_runtime::transaction_validity::{
        InvalidTransaction, TransactionValidityError,
    };
    let chain = Chain::new(genesis_through_api(genesis::DEV));
    let mut builder = chain.builder(7);
    // Sudo calls of chosen weights fill the ordinary room, halving the
    // weight whenever one no longer fits, down to a microsecond.
    let normal = RuntimeBlockWeights::get()
        .get(DispatchClass::Normal)
        .clone();
    let mut weight = normal
        .max_extrinsic
        .expect("normal transactions are bounded")
        .ref_time();
    let mut nonce = 0;
    while weight >= 1_000_000 {
        let filler = RuntimeCall::Sudo(pallet_sudo::Call::sudo_unchecked_weight {
            call: Box::new(RuntimeCall::System(
                polkadot_sdk::frame_system::Call::remark { remark: vec![] },
            )),
            weight: Weight::from_parts(weight, 0),
        });
        match builder.push(chain.signed(Sr25519Keyring::Alice, filler, nonce)) {
            Ok(Ok(())) => nonce += 1,
            Err(ExecutionError::Invalid(TransactionValidityError::Invalid(
                InvalidTransaction::ExhaustsResources,
            ))) => weight /= 2,
            other => panic!("the filler: {other:?}"),
        }
    }
    assert!(nonce > 0);
    let transfer = chain.transfer(Sr25519Keyring::Bob, Sr25519Keyring::Charlie, UNIT, 0);
    assert_eq!(
        builder.push(transfer),
        Err(ExecutionError::Invalid(TransactionValidityError::Invalid(
            InvalidTransaction::ExhaustsResources
        )))
    );
    // Bob has no challenge: the proof is included and fails in dispatch,
    // which shows it had room.
    let proof = RuntimeCall::Audit(pallet_mosaic_audit::Call::submit_proof {
        order: 0,
        piece: 0,
        proofs: Default::default(),
    });
    assert!(matches!(
        builder.push(chain.signed(Sr25519Keyring::Bob, proof, 0)),
        Ok(Err(_))
    ));
}

/// The block that enacts a scheduled GRANDPA change also raises the set id,
/// so that nodes see the new set there; the blocks before it keep set 0.
#[test]
fn the_block_enacting_a_grandpa_change_raises_the_set_id() {
    use polkadot_sdk::frame_support::traits::Hooks;
    use polkadot_sdk::pallet_grandpa::CurrentSetId;
    use polkadot_sdk::sp_keyring::Ed25519Keyring;
    let storage = genesis_through_api(genesis::LOCAL);
    polkadot_sdk::sp_io::TestExternalities::new(storage).execute_with(|| {
        let keys = |v: Ed25519Keyring| validators::ValidatorKeys {
            aura: v.public().into(),
            grandpa: v.public().into(),
            vrf: genesis::dev_vrf_key(v),
        };
        let set = vec![keys(Ed25519Keyring::Alice), keys(Ed25519Keyring::Bob)];
        let scheduled = 5;
        System::set_block_number(scheduled);
        Validators::set_validators(RuntimeOrigin::root(), set.clone().try_into().unwrap()).unwrap();
        Grandpa::on_finalize(scheduled);
        let enacting = scheduled + MINUTES;
        for number in scheduled + 1..=enacting {
            System::set_block_number(number);
            Validators::on_initialize(number);
            Grandpa::on_finalize(number);
            let expected = u64::from(number == enacting);
            assert_eq!(CurrentSetId::<Runtime>::get(), expected, "at #{number}");
        }
        let grandpa: Vec<_> = set.into_iter().map(|k| (k.grandpa, 1)).collect();
        assert_eq!(Grandpa::grandpa_authorities(), grandpa);
    });
}

#[test]
fn sudo_replaces_the_validator_set() {
    use polkadot_sdk::sp_keyring::Ed25519Keyring;
    let chain = Chain::new(genesis_through_api(genesis::DEV));
    let keys = |v: Ed25519Keyring| validators::ValidatorKeys {
        aura: v.public().into(),
        grandpa: v.public().into(),
        vrf: genesis::dev_vrf_key(v),
    };
    let set = vec![keys(Ed25519Keyring::Bob), keys(Ed25519Keyring::Charlie)];
    let call = RuntimeCall::Sudo(polkadot_sdk::pallet_sudo::Call::sudo {
        call: Box::new(RuntimeCall::Validators(validators::Call::set_validators {
            validators: set.clone().try_into().unwrap(),
        })),
    });
    let (block, _) = chain.author(11, vec![chain.signed(Sr25519Keyring::Alice, call, 0)]);
    chain.after(&block, || {
        let aura: Vec<AuraId> =
            polkadot_sdk::pallet_aura::Authorities::<Runtime>::get().into_inner();
        assert_eq!(aura, vec![set[0].aura.clone(), set[1].aura.clone()]);
        assert_eq!(
            pallet_mosaic_audit::VrfAuthorities::<Runtime>::get().into_inner(),
            vec![set[0].vrf, set[1].vrf]
        );
        assert!(polkadot_sdk::pallet_grandpa::PendingChange::<Runtime>::get().is_some());
    });

    // Anyone but root is refused, and nothing changes.
    let call = RuntimeCall::Validators(validators::Call::set_validators {
        validators: set.try_into().unwrap(),
    });
    let (block, _) = chain.author(11, vec![chain.signed(Sr25519Keyring::Bob, call, 0)]);
    chain.after(&block, || {
        assert_eq!(
            polkadot_sdk::pallet_aura::Authorities::<Runtime>::get().len(),
            1
        );
    });
}

#[test]
fn the_mosaic_api_answers_by_name() {
    let chain = Chain::new(genesis_through_api(genesis::DEV));
    let mut overlay = OverlayedChanges::default();
    let coding = pallet_mosaic_market::CodingParams::new(4, 2).unwrap();
    let args = (1_000_000u64, coding, 1u32, 10u32, UNIT).encode();
    let quote: Result<pallet_mosaic_market::Quote<AccountId, Balance>, sp_runtime::DispatchError> =
        decode(
            call(
                &chain.backend,
                &mut overlay,
                &chain.signatures,
                "MosaicApi_quote",
                &args,
            )
            .unwrap(),
        );
    // No provider has registered on a fresh chain.
    let no_providers: sp_runtime::DispatchError =
        pallet_mosaic_market::Error::<Runtime>::NoProviders.into();
    assert_eq!(quote, Err(no_providers));
    let order: Option<pallet_mosaic_market::OrderOf<Runtime>> = decode(
        call(
            &chain.backend,
            &mut overlay,
            &chain.signatures,
            "MosaicApi_order",
            &0u64.encode(),
        )
        .unwrap(),
    );
    assert!(order.is_none());
    let owner = Sr25519Keyring::Alice.to_account_id();
    let orders: Vec<u64> = decode(
        call(
            &chain.backend,
            &mut overlay,
            &chain.signatures,
            "MosaicApi_orders_of",
            &(owner, Option::<u64>::None, 10u32).encode(),
        )
        .unwrap(),
    );
    assert!(orders.is_empty());
    let challenges: Vec<pallet_mosaic_audit::Challenge> = decode(
        call(
            &chain.backend,
            &mut overlay,
            &chain.signatures,
            "MosaicApi_challenges",
            &Sr25519Keyring::Bob.to_account_id().encode(),
        )
        .unwrap(),
    );
    assert!(challenges.is_empty());
}

/// Names through a block and the API: //Alice registers a name and sets it
/// twice in one block; after import her deposits are held, and the API
/// resolves each version, pages the history and lists her names.
#[test]
fn names_set_in_a_block_resolve_through_the_mosaic_api() {
    use pallet_mosaic_names::{Call, Entry, HoldReason, Name, Resolution};
    use polkadot_sdk::frame_support::traits::fungible::InspectHold;
    use polkadot_sdk::frame_support::BoundedVec;
    let chain = Chain::new(genesis_through_api(genesis::DEV));
    let alice = Sr25519Keyring::Alice;
    let name = Name::truncate_from(b"dataset".to_vec());
    let cid = |n: u8| mosaic_primitives::unixfs::file_cid(&[n]).to_bytes();
    let calls = [
        Call::register { name: name.clone() },
        Call::set {
            name: name.clone(),
            cid: BoundedVec::truncate_from(cid(1)),
        },
        Call::set {
            name: name.clone(),
            cid: BoundedVec::truncate_from(cid(2)),
        },
    ];
    let transactions = calls
        .into_iter()
        .zip(0..)
        .map(|(call, nonce)| chain.signed(alice, RuntimeCall::Names(call), nonce))
        .collect();
    let (block, _) = chain.author(7, transactions);
    chain.after(&block, || {
        let reason = RuntimeHoldReason::Names(HoldReason::Deposit);
        assert_eq!(
            Balances::balance_on_hold(&reason, &alice.to_account_id()),
            NameDeposit::get() + 2 * NameVersionDeposit::get()
        );
    });

    let mut overlay = OverlayedChanges::default();
    let mut api = |function: &str, args: Vec<u8>| {
        call(
            &chain.backend,
            &mut overlay,
            &chain.signatures,
            function,
            &args,
        )
        .unwrap()
    };
    api("Core_execute_block", block.encode());
    let entry = |version: u32| Entry {
        version,
        cid: cid(version as u8),
        set_at: 1,
    };
    for (asked, version) in [(None, 2), (Some(1), 1), (Some(2), 2)] {
        let resolved: Option<Resolution<AccountId, BlockNumber>> = decode(api(
            "MosaicApi_resolve",
            (b"dataset".to_vec(), asked).encode(),
        ));
        assert_eq!(
            resolved,
            Some(Resolution {
                owner: alice.to_account_id(),
                latest: 2,
                oldest: 1,
                entry: Some(entry(version)),
            })
        );
    }
    let unknown: Option<Resolution<AccountId, BlockNumber>> = decode(api(
        "MosaicApi_resolve",
        (b"nothing".to_vec(), Option::<u32>::None).encode(),
    ));
    assert_eq!(unknown, None);
    let page: Vec<Entry<BlockNumber>> = decode(api(
        "MosaicApi_name_history",
        (b"dataset".to_vec(), Option::<u32>::None, 1u32).encode(),
    ));
    assert_eq!(page, vec![entry(2)]);
    let page: Vec<Entry<BlockNumber>> = decode(api(
        "MosaicApi_name_history",
        (b"dataset".to_vec(), Some(2u32), 10u32).encode(),
    ));
    assert_eq!(page, vec![entry(1)]);
    let names: Vec<Vec<u8>> = decode(api("MosaicApi_names_of", alice.to_account_id().encode()));
    assert_eq!(names, vec![b"dataset".to_vec()]);
}

#[test]
fn a_genesis_whose_vrf_keys_do_not_match_its_aura_authorities_is_refused() {
    let good = genesis::preset_config(genesis::LOCAL).expect("the local preset");
    assert!(genesis::build_storage(good.clone()).is_ok());
    // One VRF key short: block `n` would be checked against the wrong
    // key and every block would be invalid.
    let mut short = good.clone();
    short["audit"]["vrfAuthorities"]
        .as_array_mut()
        .expect("a list of VRF keys")
        .pop();
    let error = genesis::build_storage(short).unwrap_err();
    assert!(error.contains("VRF keys"), "{error}");
    // None at all: the challenge randomness would never change.
    let mut none = good;
    none["audit"]["vrfAuthorities"] = serde_json::json!([]);
    none["aura"]["authorities"] = serde_json::json!([]);
    assert!(genesis::build_storage(none).is_err());
}

#[test]
fn presets_set_the_chain_parameters() {
    use crate::parameters::{ChainParameters, Parameters};
    use polkadot_sdk::frame_support::traits::Get;
    for (preset, expected) in [
        (genesis::DEV, ChainParameters::DEVELOPMENT),
        (genesis::LOCAL, ChainParameters::DEVELOPMENT),
        (genesis::PRODUCTION, ChainParameters::PRODUCTION),
    ] {
        let chain = Chain::new(genesis_through_api(preset));
        chain.at_genesis(|| {
            assert_eq!(Parameters::<Runtime>::get(), expected, "{preset}");
            assert_eq!(
                <Runtime as pallet_mosaic_market::Config>::PeriodLength::get(),
                expected.period_length
            );
        });
    }
}

#[cfg(feature = "runtime-benchmarks")]
#[test]
fn the_benchmark_api_lists_every_mosaic_pallet() {
    use polkadot_sdk::frame_benchmarking::BenchmarkList;
    use polkadot_sdk::frame_support::traits::StorageInfo;
    let chain = Chain::new(genesis_through_api(genesis::DEV));
    let mut overlay = Default::default();
    let (list, _): (Vec<BenchmarkList>, Vec<StorageInfo>) = decode(
        call(
            &chain.backend,
            &mut overlay,
            &chain.signatures,
            "Benchmark_benchmark_metadata",
            &false.encode(),
        )
        .unwrap(),
    );
    let pallets: Vec<String> = list
        .iter()
        .map(|l| String::from_utf8(l.pallet.clone()).unwrap())
        .collect();
    for pallet in [
        "pallet_mosaic_providers",
        "pallet_mosaic_market",
        "pallet_mosaic_audit",
        "pallet_mosaic_names",
        "validators",
    ] {
        assert!(
            pallets.iter().any(|p| p == pallet),
            "{pallet} missing from {pallets:?}"
        );
    }
}

/// Runs `benchmark` of `pallet` with `components` natively on a fresh
/// benchmarking state with its checks on, and returns its results after
/// checking that the run left the state at genesis.
#[cfg(feature = "runtime-benchmarks")]
fn run_benchmark(
    pallet: &str,
    instance: &str,
    benchmark: &str,
    components: &[(polkadot_sdk::frame_benchmarking::BenchmarkParameter, u32)],
) -> Vec<polkadot_sdk::frame_benchmarking::BenchmarkResult> {
    use polkadot_sdk::frame_benchmarking::BenchmarkConfig;
    let state = crate::bench_state::BenchState::new(genesis_through_api(genesis::DEV));
    let genesis_root = state.root();
    let config = BenchmarkConfig {
        pallet: pallet.as_bytes().to_vec(),
        instance: instance.as_bytes().to_vec(),
        benchmark: benchmark.as_bytes().to_vec(),
        selected_components: components.to_vec(),
        verify: true,
        internal_repeats: 3,
    };
    let batches = state.dispatch(&config);
    assert_eq!(state.root(), genesis_root, "the run did not wipe its state");
    let results = batches.unwrap().remove(0).results;
    assert!(!results.is_empty());
    results
}

/// A benchmark run natively on the benchmarking state: its storage
/// accesses are counted, it takes time, and the state is back at genesis
/// after it.
#[cfg(feature = "runtime-benchmarks")]
#[test]
fn a_benchmark_runs_natively_with_counted_reads_and_writes() {
    for result in run_benchmark(
        "pallet_mosaic_providers",
        "crate::Providers",
        "register",
        &[],
    ) {
        // Registering reads the provider's account and the provider map,
        // reserves stake, stores the provider and its slot, and adds its
        // weight along a full Fenwick path: the counts its weight uses.
        assert!(result.reads >= 2, "{result:?}");
        assert!(result.writes >= 2, "{result:?}");
        assert_eq!((result.reads, result.writes), (17, 18), "{result:?}");
        assert!(result.extrinsic_time > 0, "{result:?}");
    }
}

/// The names pallet's benchmarks run on the runtime's state with their
/// checks on, at the runtime's bounds (64 names an owner, 64 versions).
#[cfg(feature = "runtime-benchmarks")]
#[test]
fn the_names_benchmarks_run_on_the_runtime() {
    use polkadot_sdk::frame_benchmarking::BenchmarkParameter::v;
    for (benchmark, components) in [
        ("register", vec![]),
        ("set", vec![]),
        ("transfer", vec![]),
        ("release", vec![(v, 0)]),
        ("release", vec![(v, 64)]),
    ] {
        for result in run_benchmark(
            "pallet_mosaic_names",
            "crate::Names",
            benchmark,
            &components,
        ) {
            assert!(
                result.reads >= 2 && result.writes >= 2,
                "{benchmark}: {result:?}"
            );
            assert!(result.extrinsic_time > 0, "{benchmark}: {result:?}");
        }
    }
}

/// The runtime's own pallet is benchmarked like the others: a new set of
/// one or of the most validators writes the Aura, VRF and pending GRANDPA
/// sets (the benchmark checks them).
#[cfg(feature = "runtime-benchmarks")]
#[test]
fn the_validator_set_change_is_benchmarked() {
    use polkadot_sdk::frame_benchmarking::BenchmarkParameter::v;
    for count in [1, 32] {
        let results = run_benchmark(
            "validators",
            "crate::Validators",
            "set_validators",
            &[(v, count)],
        );
        for result in results {
            assert!(result.writes >= 3, "{result:?}");
            assert_eq!((result.reads, result.writes), (1, 3), "{result:?}");
            assert!(result.extrinsic_time > 0, "{result:?}");
        }
    }
}

mod bad_input {
    //! Damaged blocks and garbage extrinsics are refused with an error,
    //! never a crash and never a changed state.

    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn any_damaged_byte_of_a_block_makes_import_fail(
            at in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let chain = Chain::new(genesis_through_api(genesis::DEV));
            let transfer = chain.transfer(Sr25519Keyring::Alice, Sr25519Keyring::Bob, UNIT, 0);
            let (block, root) = chain.author(3, vec![transfer]);
            let mut bytes = block.encode();
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
            match Block::decode(&mut &bytes[..]) {
                // Bytes that no longer decode never reach the runtime.
                Err(_) => {}
                Ok(damaged) => prop_assert!(chain.import(&damaged).is_err(), "byte {i} bit {bit} accepted"),
            }
            // The intact block still imports to the same root.
            prop_assert_eq!(chain.import(&block), Ok(root));
        }

        #[test]
        fn garbage_extrinsics_are_refused(garbage in proptest::collection::vec(any::<u8>(), 0..200)) {
            let chain = Chain::new(genesis_through_api(genesis::DEV));
            let mut builder = chain.builder(5);
            if let Ok(xt) = UncheckedExtrinsic::decode(&mut &garbage[..]) {
                prop_assert!(builder.push(xt).is_err());
            }
            let mut overlay = Default::default();
            prop_assert!(call(&chain.backend, &mut overlay, &chain.signatures, "BlockBuilder_apply_extrinsic", &garbage).is_err());
        }
    }
}

/// `store` reads as many distinct keys among 10,000 providers as among 100,
/// give or take the draws placement may reject: the sampling tree's depth
/// is fixed by `MaxProviders`, so no part of the call grows with the
/// registry. Counted on the benchmarking state, which sees every read that
/// reaches the stored state (the registrations are committed first).
#[test]
fn store_reads_do_not_grow_with_the_provider_count() {
    use crate::bench_state::BenchState;
    use mosaic_primitives::erasure::CodingParams;
    use polkadot_sdk::frame_support::traits::fungible::Mutate;
    use polkadot_sdk::sp_state_machine::Backend as _;

    fn run(state: &BenchState, work: impl FnOnce()) {
        let mut overlay = OverlayedChanges::default();
        let mut extensions = Extensions::default();
        let mut ext = Ext::new(&mut overlay, state, Some(&mut extensions));
        set_and_run_with_externalities(&mut ext, work);
        let changes = overlay
            .drain_storage_changes(state, StateVersion::V1)
            .unwrap();
        state
            .commit(
                changes.transaction_storage_root,
                changes.transaction,
                changes.main_storage_changes,
                changes.child_storage_changes,
            )
            .unwrap();
    }

    let coding = CodingParams::default();
    let pieces = coding.total_shards() as u64;
    let reads_of_store = |providers: u32| -> u32 {
        let state = BenchState::new(genesis_through_api("dev"));
        run(&state, || {
            frame_system::Pallet::<Runtime>::set_block_number(1);
            let capacity = 1 << 40;
            let stake = pallet_mosaic_providers::Pallet::<Runtime>::required_stake(capacity);
            for i in 0..providers {
                let mut raw = [7u8; 32];
                raw[..4].copy_from_slice(&i.to_le_bytes());
                let who = AccountId::from(raw);
                Balances::mint_into(&who, stake * 2).unwrap();
                Providers::register(
                    RuntimeOrigin::signed(who),
                    stake,
                    capacity,
                    1,
                    vec![1; 38].try_into().unwrap(),
                    vec![vec![4; 10].try_into().unwrap()].try_into().unwrap(),
                )
                .unwrap();
            }
        });
        state.reset_read_write_count();
        run(&state, || {
            let roots: Vec<_> = (0..pieces as u8)
                .map(|i| pallet_mosaic_market::PieceRoot([i; 32]))
                .collect();
            let cid = mosaic_primitives::manifest::roots_cid(&roots).to_bytes();
            Market::store(
                RuntimeOrigin::signed(Sr25519Keyring::Alice.to_account_id()),
                cid.try_into().unwrap(),
                1 << 30,
                coding,
                roots.try_into().unwrap(),
                pallet_mosaic_market::Access::Public { dag_index: 0 },
                1,
                u128::MAX,
            )
            .unwrap();
        });
        state.read_write_count().0
    };
    let few = reads_of_store(100);
    let many = reads_of_store(10_000);
    // Each draw placement makes reads the tree's cells down to a leaf and a
    // record: 16 keys; it makes at most 2n + 8 draws.
    let draws = 16 * (2 * pieces + 8);
    assert!(
        u64::from(many.abs_diff(few)) <= draws,
        "{few} reads among 100 providers, {many} among 10,000"
    );
    // And both stay within what the weight charges.
    let charged = 90 + 10 * pieces;
    assert!(
        u64::from(few.max(many)) <= charged,
        "{few} / {many} > {charged}"
    );
}

#[test]
fn token_accounting_catches_a_token_made_or_lost() {
    let chain = Chain::new(genesis_through_api("dev"));
    chain.at_genesis(|| {
        crate::accounting::check().expect("genesis adds up");
        let alice = Sr25519Keyring::Alice.to_account_id();
        polkadot_sdk::pallet_balances::TotalIssuance::<Runtime>::mutate(|t| *t += 1);
        assert!(
            crate::accounting::check().is_err(),
            "a token made from nothing"
        );
        polkadot_sdk::pallet_balances::TotalIssuance::<Runtime>::mutate(|t| *t -= 1);
        polkadot_sdk::frame_system::Account::<Runtime>::mutate(&alice, |a| {
            a.data.free -= 1;
            a.data.reserved += 1;
        });
        assert!(
            crate::accounting::check().is_err(),
            "a reserve no hold explains"
        );
    });
}

#[test]
fn the_heaviest_hooks_leave_room_for_transactions_and_proofs() {
    use pallet_mosaic_audit::WeightInfo as _;
    use pallet_mosaic_market::WeightInfo as _;
    use polkadot_sdk::frame_support::traits::Get;
    use polkadot_sdk::frame_support::weights::Weight;
    type AuditWeights = <Runtime as pallet_mosaic_audit::Config>::WeightInfo;
    type MarketWeights = <Runtime as pallet_mosaic_market::Config>::WeightInfo;
    let db = <Runtime as polkadot_sdk::frame_system::Config>::DbWeight::get();
    let repairs = <Runtime as pallet_mosaic_market::Config>::RepairsPerBlock::get();
    // A draw block at a period's start: the audit's visits up to their
    // budget; the market's deadlines up to theirs, a full list of repair
    // deadlines and a full repair pass; the validator-set hook.
    let audit = AuditWeights::on_initialize(0, 0, 0)
        .saturating_add(<Runtime as pallet_mosaic_audit::Config>::VisitWeight::get());
    let market = <Runtime as pallet_mosaic_market::Config>::DeadlineWeight::get()
        .saturating_add(db.reads_writes(3, 3))
        .saturating_add(MarketWeights::unconfirmed(1).saturating_mul(u64::from(repairs)))
        .saturating_add(MarketWeights::repair(repairs));
    let hooks = audit
        .saturating_add(market)
        .saturating_add(crate::validators::set_validators_weight(100));
    let block = RuntimeBlockWeights::get().max_block;
    assert!(
        hooks.ref_time() * 100 <= block.ref_time() * 55,
        "the hooks take {} ms of the block's {} ms",
        hooks.ref_time() / 1_000_000_000,
        block.ref_time() / 1_000_000_000
    );
    // Proofs have their budget inside the room only operational calls
    // may use.
    let reserved = RuntimeBlockWeights::get()
        .get(polkadot_sdk::frame_support::dispatch::DispatchClass::Operational)
        .reserved
        .unwrap_or(Weight::zero());
    let proofs = <Runtime as pallet_mosaic_audit::Config>::ProofWeight::get();
    assert!(
        proofs.ref_time() <= reserved.ref_time(),
        "proofs may take {} ms, the operational reserve is {} ms",
        proofs.ref_time() / 1_000_000_000,
        reserved.ref_time() / 1_000_000_000
    );
}
