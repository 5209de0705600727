//! Chain specs: which chain a node runs and what its genesis holds.
//!
//! The embedded `dev` and `local` specs come from the runtime's genesis
//! presets; `--chain PATH` loads a JSON spec and `build-spec` writes one, in
//! the layout Substrate tools know (`name`, `id`, `chainType`, `bootNodes`,
//! `properties`, `genesis`). The genesis is one of:
//!
//! * `runtimeGenesis.patch`: a JSON patch over the runtime's default genesis
//!   config (what the presets are);
//! * `runtimeGenesis.config`: a full genesis config;
//! * `raw.top`: the genesis storage itself, hex keys to hex values
//!   (`build-spec --raw`).
//!
//! There is no `code` field: the runtime is compiled into the node. Every
//! form yields the same [`genesis storage`](ChainSpec::genesis_storage), and
//! from it the genesis header ([`ChainSpec::genesis_header`]).

use std::collections::BTreeMap;
use std::path::Path;

use mosaic_runtime::genesis::{self, merge_json};
use mosaic_runtime::Header;
use polkadot_sdk::sp_core::storage::{StateVersion, Storage};
use polkadot_sdk::sp_runtime::traits::{BlakeTwo256, Hash as _, Header as _};
use serde::{Deserialize, Serialize};

/// Why a chain spec could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ChainSpecError {
    /// The file could not be read or written.
    #[error("chain spec {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The JSON does not describe a chain spec.
    #[error("chain spec is not valid JSON of the expected shape: {0}")]
    Json(#[from] serde_json::Error),
    /// No embedded spec has this name.
    #[error("unknown chain {0:?}: use dev, local or the path of a JSON chain spec")]
    Unknown(String),
    /// The genesis config was rejected by the runtime.
    #[error("invalid genesis: {0}")]
    Genesis(String),
    /// A raw storage key or value is not `0x`-prefixed hex.
    #[error("raw genesis holds an entry that is not 0x-prefixed hex: {0:?}")]
    Hex(String),
    /// Child tries in genesis are not supported.
    #[error("raw genesis with child storage is not supported")]
    ChildStorage,
}

/// What kind of chain this is (`system_chainType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChainType {
    /// One node, for development.
    Development,
    /// Several nodes on one machine or network, for testing.
    Local,
    /// A public test network.
    Live,
}

/// The genesis of a chain spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Genesis {
    /// A patch or full config for the runtime's `GenesisBuilder`.
    RuntimeGenesis(RuntimeGenesis),
    /// Genesis storage.
    Raw(RawGenesis),
}

/// A genesis config for the runtime to build.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum RuntimeGenesis {
    /// Merged over the runtime's default genesis config.
    Patch(serde_json::Value),
    /// The whole genesis config.
    Config(serde_json::Value),
}

/// Genesis storage as hex.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawGenesis {
    /// Top-trie entries.
    pub top: BTreeMap<String, String>,
    /// Child tries (always empty here).
    #[serde(default)]
    pub children_default: BTreeMap<String, BTreeMap<String, String>>,
}

/// A chain spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainSpec {
    /// Human-readable name (`system_chain`).
    pub name: String,
    /// Short identifier; the base path's chain directory.
    pub id: String,
    /// Kind of chain (`system_chainType`).
    pub chain_type: ChainType,
    /// Multiaddrs with `/p2p/<peer id>` to connect to first.
    #[serde(default)]
    pub boot_nodes: Vec<String>,
    /// Token properties (`system_properties`).
    #[serde(default)]
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// The genesis state.
    pub genesis: Genesis,
}

fn properties() -> serde_json::Map<String, serde_json::Value> {
    let mut properties = serde_json::Map::new();
    properties.insert("tokenSymbol".into(), "MOS".into());
    properties.insert("tokenDecimals".into(), 12.into());
    properties.insert("ss58Format".into(), 42.into());
    properties
}

fn preset_patch(preset: &str) -> serde_json::Value {
    let bytes = genesis::preset(&preset.into()).expect("the runtime has this preset; qed");
    serde_json::from_slice(&bytes).expect("presets are JSON; qed")
}

impl ChainSpec {
    /// The single-validator development chain (//Alice).
    pub fn dev() -> Self {
        ChainSpec {
            name: "Development".into(),
            id: "dev".into(),
            chain_type: ChainType::Development,
            boot_nodes: Vec::new(),
            properties: properties(),
            genesis: Genesis::RuntimeGenesis(RuntimeGenesis::Patch(preset_patch(genesis::DEV))),
        }
    }

    /// The four-validator local testnet (//Alice, //Bob, //Charlie, //Dave).
    pub fn local() -> Self {
        ChainSpec {
            name: "Local Testnet".into(),
            id: "local_testnet".into(),
            chain_type: ChainType::Local,
            boot_nodes: Vec::new(),
            properties: properties(),
            genesis: Genesis::RuntimeGenesis(RuntimeGenesis::Patch(preset_patch(genesis::LOCAL))),
        }
    }

    /// An embedded spec by name (`dev`, `local`), or a JSON file at `chain`.
    pub fn resolve(chain: &str) -> Result<Self, ChainSpecError> {
        match chain {
            "dev" => Ok(Self::dev()),
            "local" => Ok(Self::local()),
            path if Path::new(path).is_file() => Self::load(Path::new(path)),
            other => Err(ChainSpecError::Unknown(other.into())),
        }
    }

    /// Reads a JSON chain spec.
    pub fn load(path: &Path) -> Result<Self, ChainSpecError> {
        let bytes = std::fs::read(path).map_err(|source| ChainSpecError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&bytes)
    }

    /// Parses a JSON chain spec.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ChainSpecError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// The spec as pretty JSON; `raw` replaces the genesis by its storage.
    pub fn to_json(&self, raw: bool) -> Result<String, ChainSpecError> {
        let spec = match raw {
            true => self.to_raw()?,
            false => self.clone(),
        };
        Ok(serde_json::to_string_pretty(&spec)?)
    }

    /// The same spec with raw genesis storage.
    pub fn to_raw(&self) -> Result<Self, ChainSpecError> {
        let storage = self.genesis_storage()?;
        let top = storage
            .top
            .into_iter()
            .map(|(k, v)| {
                (
                    format!("0x{}", hex::encode(k)),
                    format!("0x{}", hex::encode(v)),
                )
            })
            .collect();
        Ok(ChainSpec {
            genesis: Genesis::Raw(RawGenesis {
                top,
                children_default: BTreeMap::new(),
            }),
            ..self.clone()
        })
    }

    /// The genesis storage.
    pub fn genesis_storage(&self) -> Result<Storage, ChainSpecError> {
        match &self.genesis {
            Genesis::RuntimeGenesis(RuntimeGenesis::Patch(patch)) => {
                let mut config =
                    serde_json::to_value(mosaic_runtime::RuntimeGenesisConfig::default())?;
                merge_json(&mut config, patch.clone());
                genesis::build_storage(config).map_err(ChainSpecError::Genesis)
            }
            Genesis::RuntimeGenesis(RuntimeGenesis::Config(config)) => {
                genesis::build_storage(config.clone()).map_err(ChainSpecError::Genesis)
            }
            Genesis::Raw(raw) => {
                if !raw.children_default.is_empty() {
                    return Err(ChainSpecError::ChildStorage);
                }
                let decode = |s: &String| {
                    s.strip_prefix("0x")
                        .and_then(|h| hex::decode(h).ok())
                        .ok_or_else(|| ChainSpecError::Hex(s.clone()))
                };
                let top = raw
                    .top
                    .iter()
                    .map(|(k, v)| Ok((decode(k)?, decode(v)?)))
                    .collect::<Result<_, ChainSpecError>>()?;
                Ok(Storage {
                    top,
                    children_default: Default::default(),
                })
            }
        }
    }

    /// The genesis header: number 0, the genesis state root, no extrinsics.
    pub fn genesis_header(&self) -> Result<Header, ChainSpecError> {
        let storage = self.genesis_storage()?;
        let state_root =
            BlakeTwo256::trie_root(storage.top.into_iter().collect(), StateVersion::V1);
        Ok(Header::new(
            0,
            BlakeTwo256::trie_root(Vec::new(), StateVersion::V1),
            state_root,
            Default::default(),
            Default::default(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_patch_specs_have_the_same_genesis() {
        for spec in [ChainSpec::dev(), ChainSpec::local()] {
            let raw = ChainSpec::from_json(spec.to_json(true).unwrap().as_bytes()).unwrap();
            assert!(matches!(raw.genesis, Genesis::Raw(_)));
            assert_eq!(
                raw.genesis_header().unwrap().hash(),
                spec.genesis_header().unwrap().hash()
            );
            let again = ChainSpec::from_json(spec.to_json(false).unwrap().as_bytes()).unwrap();
            assert_eq!(again, spec);
        }
        assert_ne!(
            ChainSpec::dev().genesis_header().unwrap().hash(),
            ChainSpec::local().genesis_header().unwrap().hash()
        );
    }

    #[test]
    fn the_genesis_root_is_the_state_backends_root() {
        use polkadot_sdk::sp_state_machine::InMemoryBackend;
        let spec = ChainSpec::local();
        let backend = InMemoryBackend::<BlakeTwo256>::from((
            spec.genesis_storage().unwrap(),
            StateVersion::V1,
        ));
        assert_eq!(
            *backend.root(),
            *spec.genesis_header().unwrap().state_root()
        );
    }

    #[test]
    fn the_spec_uses_substrate_field_names() {
        let json: serde_json::Value =
            serde_json::from_str(&ChainSpec::dev().to_json(false).unwrap()).unwrap();
        assert_eq!(json["id"], "dev");
        assert_eq!(json["chainType"], "Development");
        assert_eq!(json["properties"]["tokenDecimals"], 12);
        assert!(json["genesis"]["runtimeGenesis"]["patch"]["balances"].is_object());
        let raw: serde_json::Value =
            serde_json::from_str(&ChainSpec::dev().to_json(true).unwrap()).unwrap();
        let top = raw["genesis"]["raw"]["top"].as_object().unwrap();
        assert!(top.keys().all(|k| k.starts_with("0x")));
    }

    #[test]
    fn specs_resolve_by_name_or_path() {
        assert_eq!(ChainSpec::resolve("dev").unwrap().id, "dev");
        assert_eq!(ChainSpec::resolve("local").unwrap().id, "local_testnet");
        assert!(matches!(
            ChainSpec::resolve("nope"),
            Err(ChainSpecError::Unknown(_))
        ));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spec.json");
        std::fs::write(&path, ChainSpec::local().to_json(true).unwrap()).unwrap();
        let loaded = ChainSpec::resolve(path.to_str().unwrap()).unwrap();
        assert_eq!(
            loaded.genesis_header().unwrap().hash(),
            ChainSpec::local().genesis_header().unwrap().hash()
        );
    }

    #[test]
    fn bad_specs_are_named_errors() {
        assert!(matches!(
            ChainSpec::from_json(b"{"),
            Err(ChainSpecError::Json(_))
        ));
        let mut spec = ChainSpec::dev().to_raw().unwrap();
        if let Genesis::Raw(raw) = &mut spec.genesis {
            raw.top.insert("0xzz".into(), "0x00".into());
        }
        assert!(matches!(
            spec.genesis_storage(),
            Err(ChainSpecError::Hex(_))
        ));

        let mut spec = ChainSpec::dev();
        spec.genesis = Genesis::RuntimeGenesis(RuntimeGenesis::Patch(
            serde_json::json!({"balances": {"balances": "lots"}}),
        ));
        assert!(matches!(
            spec.genesis_storage(),
            Err(ChainSpecError::Genesis(_))
        ));
        spec.genesis = Genesis::RuntimeGenesis(RuntimeGenesis::Patch(
            serde_json::json!({"nosuchpallet": {}}),
        ));
        assert!(matches!(
            spec.genesis_storage(),
            Err(ChainSpecError::Genesis(_))
        ));
        assert!(matches!(
            ChainSpec::load(Path::new("/nonexistent/spec.json")),
            Err(ChainSpecError::Io { .. })
        ));
    }
}
