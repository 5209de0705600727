//! Running the runtime natively: what the node's block import and authoring
//! are made of.
//!
//! Every call runs [`apis::api::dispatch`](crate::apis::api::dispatch) inside
//! externalities over a state backend (the parent block's state) and an
//! overlay of pending changes. A panic in the runtime (an invalid block, bad
//! argument bytes) is caught and reported, and the overlay's open runtime
//! transactions are rolled back, so callers can discard the overlay and
//! nothing is half-applied. [`execute_block`] imports a block;
//! [`BlockBuilder`] authors one. Each call is given the node's
//! [`SignatureCache`], so that a signature verified once (in the pool, in a
//! block built or imported) is not verified again.

use std::panic::AssertUnwindSafe;

use parity_scale_codec::{Decode, Encode};
use polkadot_sdk::sp_externalities::{set_and_run_with_externalities, Extensions};
use polkadot_sdk::sp_inherents::InherentData;
use polkadot_sdk::sp_runtime::traits::{BlakeTwo256, Header as _};
use polkadot_sdk::sp_runtime::transaction_validity::TransactionValidityError;
use polkadot_sdk::sp_runtime::{ApplyExtrinsicResult, Digest, DispatchOutcome};
use polkadot_sdk::sp_state_machine::{Backend, Ext, OverlayedChanges, StorageChanges};

use crate::verified::{SignatureCache, SignatureCacheExt};
use crate::{Block, BlockNumber, Hash, Header, UncheckedExtrinsic, VERSION};

/// The state hasher.
pub type Hashing = BlakeTwo256;
/// Pending state changes.
pub type Overlay = OverlayedChanges<Hashing>;

/// Why a native runtime call failed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExecutionError {
    /// The runtime panicked: an invalid block or bad argument bytes.
    #[error("{method} failed: {message}")]
    Panicked {
        /// The runtime API method.
        method: String,
        /// The panic message.
        message: String,
    },
    /// No runtime API has this method.
    #[error("the runtime has no method {0}")]
    UnknownMethod(String),
    /// The runtime's answer did not decode as the expected type.
    #[error("{0} returned bytes that do not decode")]
    Decode(String),
    /// The state backend failed.
    #[error("state backend: {0}")]
    State(String),
    /// An inherent's call failed; the block cannot be built.
    #[error("an inherent failed: {0:?}")]
    Inherent(polkadot_sdk::sp_runtime::DispatchError),
    /// An extrinsic was invalid and left out of the block.
    #[error("invalid extrinsic: {0:?}")]
    Invalid(TransactionValidityError),
    /// The computed state root differs from the one the header claims.
    #[error("state root mismatch: header claims {claimed:?}, execution gives {computed:?}")]
    StateRoot {
        /// In the header.
        claimed: Hash,
        /// Computed.
        computed: Hash,
    },
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// Runs one runtime API method natively; `args` are its SCALE-encoded
/// parameters one after another; the result is its SCALE-encoded return.
/// Signatures are verified through `signatures`.
pub fn call<B: Backend<Hashing>>(
    backend: &B,
    overlay: &mut Overlay,
    signatures: &SignatureCache,
    method: &str,
    args: &[u8],
) -> Result<Vec<u8>, ExecutionError> {
    let mut extensions = Extensions::default();
    extensions.register(SignatureCacheExt(signatures.clone()));
    overlay
        .enter_runtime()
        .expect("calls are never nested, each exits below; qed");
    let result = {
        let mut ext = Ext::new(overlay, backend, Some(&mut extensions));
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            set_and_run_with_externalities(&mut ext, || crate::apis::api::dispatch(method, args))
        }))
    };
    overlay.exit_runtime().expect("entered above; qed");
    match result {
        Ok(Some(output)) => Ok(output),
        Ok(None) => Err(ExecutionError::UnknownMethod(method.into())),
        Err(payload) => Err(ExecutionError::Panicked {
            method: method.into(),
            message: panic_message(payload),
        }),
    }
}

/// [`call`], decoding the result as `R`.
pub fn call_decoded<R: Decode, B: Backend<Hashing>>(
    backend: &B,
    overlay: &mut Overlay,
    signatures: &SignatureCache,
    method: &str,
    args: &[u8],
) -> Result<R, ExecutionError> {
    let output = call(backend, overlay, signatures, method, args)?;
    R::decode(&mut &output[..]).map_err(|_| ExecutionError::Decode(method.into()))
}

fn drain<B: Backend<Hashing>>(
    backend: &B,
    overlay: &mut Overlay,
) -> Result<StorageChanges<Hashing>, ExecutionError> {
    overlay
        .drain_storage_changes(backend, VERSION.state_version())
        .map_err(|e| ExecutionError::State(e.to_string()))
}

/// Executes `block` on its parent's state: the runtime checks the header
/// (parent, extrinsics root, digest, state root) and every extrinsic. Returns
/// the changes to commit.
pub fn execute_block<B: Backend<Hashing>>(
    backend: &B,
    signatures: &SignatureCache,
    block: &Block,
) -> Result<StorageChanges<Hashing>, ExecutionError> {
    let mut overlay = Overlay::default();
    call(
        backend,
        &mut overlay,
        signatures,
        "Core_execute_block",
        &block.encode(),
    )?;
    let changes = drain(backend, &mut overlay)?;
    let claimed = *block.header.state_root();
    if changes.transaction_storage_root != claimed {
        return Err(ExecutionError::StateRoot {
            claimed,
            computed: changes.transaction_storage_root,
        });
    }
    Ok(changes)
}

/// Builds a block on a parent's state.
pub struct BlockBuilder<'a, B> {
    backend: &'a B,
    signatures: &'a SignatureCache,
    overlay: Overlay,
    extrinsics: Vec<UncheckedExtrinsic>,
}

impl<'a, B: Backend<Hashing>> BlockBuilder<'a, B> {
    /// Starts block `number` on `parent_hash`, whose state is `backend`, with
    /// the pre-runtime `digest` (Aura slot, VRF).
    pub fn new(
        backend: &'a B,
        signatures: &'a SignatureCache,
        parent_hash: Hash,
        number: BlockNumber,
        digest: Digest,
    ) -> Result<Self, ExecutionError> {
        let header = Header::new(
            number,
            Default::default(),
            Default::default(),
            parent_hash,
            digest,
        );
        let mut overlay = Overlay::default();
        call(
            backend,
            &mut overlay,
            signatures,
            "Core_initialize_block",
            &header.encode(),
        )?;
        Ok(BlockBuilder {
            backend,
            signatures,
            overlay,
            extrinsics: Vec::new(),
        })
    }

    /// Creates and applies the inherents (the timestamp) from `data`.
    pub fn push_inherents(&mut self, data: &InherentData) -> Result<(), ExecutionError> {
        let inherents: Vec<UncheckedExtrinsic> = call_decoded(
            self.backend,
            &mut self.overlay,
            self.signatures,
            "BlockBuilder_inherent_extrinsics",
            &data.encode(),
        )?;
        for inherent in inherents {
            self.push(inherent)?.map_err(ExecutionError::Inherent)?;
        }
        Ok(())
    }

    /// Applies an extrinsic. A valid one is included, even when its call
    /// fails (its fee was paid; the outcome says how it went); an invalid
    /// one leaves no trace and is an error.
    pub fn push(
        &mut self,
        extrinsic: UncheckedExtrinsic,
    ) -> Result<DispatchOutcome, ExecutionError> {
        self.overlay.start_transaction();
        let applied: Result<ApplyExtrinsicResult, _> = call_decoded(
            self.backend,
            &mut self.overlay,
            self.signatures,
            "BlockBuilder_apply_extrinsic",
            &extrinsic.encode(),
        );
        match applied {
            Ok(Ok(outcome)) => {
                self.overlay
                    .commit_transaction()
                    .expect("started above; qed");
                self.extrinsics.push(extrinsic);
                Ok(outcome)
            }
            Ok(Err(invalid)) => {
                self.overlay
                    .rollback_transaction()
                    .expect("started above; qed");
                Err(ExecutionError::Invalid(invalid))
            }
            Err(error) => {
                self.overlay
                    .rollback_transaction()
                    .expect("started above; qed");
                Err(error)
            }
        }
    }

    /// Finalizes the block: the header gets its extrinsics and state roots.
    pub fn build(mut self) -> Result<(Block, StorageChanges<Hashing>), ExecutionError> {
        let header: Header = call_decoded(
            self.backend,
            &mut self.overlay,
            self.signatures,
            "BlockBuilder_finalize_block",
            &[],
        )?;
        let changes = drain(self.backend, &mut self.overlay)?;
        Ok((
            Block {
                header,
                extrinsics: self.extrinsics,
            },
            changes,
        ))
    }
}

/// The genesis storage of a preset (`dev`, `local`), built through the
/// `GenesisBuilder` API as a chain spec builder does: the default config,
/// patched with the preset, then `build_state`.
pub fn genesis_storage(preset: &str) -> Result<polkadot_sdk::sp_core::storage::Storage, String> {
    use crate::apis::api::dispatch;
    let call = |method: &str, args: Vec<u8>| -> Result<Vec<u8>, String> {
        dispatch(method, &args).ok_or_else(|| format!("no runtime method {method}"))
    };
    let decode = |bytes: Vec<u8>| -> Result<Option<Vec<u8>>, String> {
        Option::<Vec<u8>>::decode(&mut &bytes[..]).map_err(|e| e.to_string())
    };
    let mut ext = polkadot_sdk::sp_state_machine::BasicExternalities::new_empty();
    ext.execute_with(|| -> Result<(), String> {
        let defaults = decode(call("GenesisBuilder_get_preset", None::<String>.encode())?)?
            .ok_or("no default genesis config")?;
        let patch = decode(call(
            "GenesisBuilder_get_preset",
            Some(preset.to_owned()).encode(),
        )?)?
        .ok_or_else(|| format!("no preset {preset}"))?;
        let mut config: serde_json::Value =
            serde_json::from_slice(&defaults).map_err(|e| e.to_string())?;
        crate::genesis::merge_json(
            &mut config,
            serde_json::from_slice(&patch).map_err(|e| e.to_string())?,
        );
        let config = serde_json::to_vec(&config).map_err(|e| e.to_string())?;
        let built = call("GenesisBuilder_build_state", config.encode())?;
        Result::<(), String>::decode(&mut &built[..]).map_err(|e| e.to_string())?
    })?;
    Ok(ext.into_storages())
}
