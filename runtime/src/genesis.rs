//! Genesis presets.
//!
//! * `dev`: one validator, //Alice (Aura and GRANDPA keys from her ed25519
//!   dev seed), who is also the sudo key.
//! * `local`: validators //Alice, //Bob, //Charlie and //Dave.
//! * `production`: the `local` validators with production chain
//!   parameters (see [`crate::parameters`]); `dev` and `local` use short
//!   development ones (one-minute audit periods).
//!
//! Each validator's block VRF key (see `pallet_mosaic_audit`) is the sr25519
//! key of its dev seed.
//!
//! In both, the twelve well-known Substrate development accounts (//Alice …
//! //Ferdie and their //stash accounts, sr25519) hold [`DEV_ENDOWMENT`] each,
//! so that standard tooling can sign with them.
//!
//! A preset is a JSON patch over the default genesis config, as the
//! `GenesisBuilder` runtime API defines.

use alloc::{string::String, vec, vec::Vec};

use polkadot_sdk::frame_support::build_struct_json_patch;
use polkadot_sdk::sp_keyring::{Ed25519Keyring, Sr25519Keyring};
use polkadot_sdk::{pallet_grandpa, sp_genesis_builder::PresetId};

use crate::parameters::ChainParameters;
use crate::{
    AccountId, AuditConfig, AuraConfig, AuraId, Balance, BalancesConfig, GrandpaConfig,
    ParametersConfig, RuntimeGenesisConfig, SudoConfig, UNIT,
};

/// Name of the single-validator development preset.
pub const DEV: &str = "dev";
/// Name of the four-validator local testnet preset.
pub const LOCAL: &str = "local";
/// Name of the four-validator preset with production parameters.
pub const PRODUCTION: &str = "production";
/// What each development account starts with.
pub const DEV_ENDOWMENT: Balance = 1_000_000 * UNIT;

/// The well-known development accounts.
pub fn dev_accounts() -> Vec<AccountId> {
    Sr25519Keyring::well_known()
        .map(|k| k.to_account_id())
        .collect()
}

/// The sr25519 VRF key of a development validator: the sr25519 key of its
/// dev seed (`//Alice` …).
pub fn dev_vrf_key(validator: Ed25519Keyring) -> polkadot_sdk::sp_core::sr25519::Public {
    use polkadot_sdk::sp_core::Pair;
    polkadot_sdk::sp_core::sr25519::Pair::from_string(&validator.to_seed(), None)
        .expect("dev seeds are valid; qed")
        .public()
}

fn patch(validators: &[Ed25519Keyring], parameters: ChainParameters) -> serde_json::Value {
    let aura: Vec<AuraId> = validators.iter().map(|v| v.public().into()).collect();
    let grandpa: Vec<(pallet_grandpa::AuthorityId, u64)> =
        validators.iter().map(|v| (v.public().into(), 1)).collect();
    build_struct_json_patch!(RuntimeGenesisConfig {
        balances: BalancesConfig {
            balances: dev_accounts()
                .into_iter()
                .map(|account| (account, DEV_ENDOWMENT))
                .collect(),
        },
        aura: AuraConfig { authorities: aura },
        grandpa: GrandpaConfig {
            authorities: grandpa
        },
        sudo: SudoConfig {
            key: Some(Sr25519Keyring::Alice.to_account_id()),
        },
        audit: AuditConfig {
            vrf_authorities: validators.iter().map(|v| dev_vrf_key(*v)).collect(),
        },
        parameters: ParametersConfig { parameters },
    })
}

const LOCAL_VALIDATORS: [Ed25519Keyring; 4] = [
    Ed25519Keyring::Alice,
    Ed25519Keyring::Bob,
    Ed25519Keyring::Charlie,
    Ed25519Keyring::Dave,
];

/// The JSON patch of a preset, if it exists.
pub fn preset(id: &PresetId) -> Option<Vec<u8>> {
    let patch = match id.as_str() {
        DEV => patch(&[Ed25519Keyring::Alice], ChainParameters::DEVELOPMENT),
        LOCAL => patch(&LOCAL_VALIDATORS, ChainParameters::DEVELOPMENT),
        PRODUCTION => patch(&LOCAL_VALIDATORS, ChainParameters::PRODUCTION),
        _ => return None,
    };
    Some(
        serde_json::to_string(&patch)
            .expect("a JSON value serializes; qed")
            .into_bytes(),
    )
}

/// The presets this runtime offers.
pub fn preset_names() -> Vec<PresetId> {
    vec![
        String::from(DEV),
        String::from(LOCAL),
        String::from(PRODUCTION),
    ]
}

/// Merges a JSON patch into `base`: objects key by key, anything else
/// replaced (the rule `GenesisBuilder` presets follow).
pub fn merge_json(base: &mut serde_json::Value, patch: serde_json::Value) {
    match (base, patch) {
        (serde_json::Value::Object(base), serde_json::Value::Object(patch)) => {
            for (key, value) in patch {
                merge_json(base.entry(key).or_insert(serde_json::Value::Null), value);
            }
        }
        (base, patch) => *base = patch,
    }
}

/// The full genesis config of a preset: its patch over the defaults.
pub fn preset_config(id: &str) -> Option<serde_json::Value> {
    let patch: serde_json::Value =
        serde_json::from_slice(&preset(&id.into())?).expect("presets are JSON made above; qed");
    let mut config = serde_json::to_value(RuntimeGenesisConfig::default())
        .expect("the default config serializes; qed");
    merge_json(&mut config, patch);
    Some(config)
}

/// Why a genesis config cannot run a chain, if it cannot: block `n`'s VRF
/// signature is checked against VRF key `slot % keys` and its seal against
/// Aura authority `slot % authorities`, so the lists must be alike, and not
/// empty (without keys the challenge randomness never changes).
pub fn check(config: &RuntimeGenesisConfig) -> Result<(), String> {
    let (aura, vrf) = (
        config.aura.authorities.len(),
        config.audit.vrf_authorities.len(),
    );
    if vrf == 0 || vrf != aura {
        return Err(format!(
            "the genesis has {aura} Aura authorities and {vrf} VRF keys: each validator needs one of each, in the same order"
        ));
    }
    Ok(())
}

/// The genesis storage of a full genesis config.
pub fn build_storage(
    config: serde_json::Value,
) -> Result<polkadot_sdk::sp_core::storage::Storage, String> {
    use polkadot_sdk::sp_runtime::BuildStorage;
    let config: RuntimeGenesisConfig =
        serde_json::from_value(config).map_err(|e| format!("invalid genesis config: {e}"))?;
    check(&config)?;
    config.build_storage()
}
