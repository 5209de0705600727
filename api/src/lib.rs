//! What the node, the worker and the client share to speak JSON-RPC to each
//! other, typed:
//!
//! * [`rpc`]: the methods as jsonrpsee traits (`chain_*`, `state_*`,
//!   `system_*`, `author_*` in Substrate's shapes, and `mosaic_*`), from
//!   which the typed client is generated;
//! * [`codes`]: the JSON-RPC error codes, defined once;
//! * [`TxStatus`]: a transaction's status as `author_extrinsicUpdate`
//!   reports it;
//! * [`chain`]: a connection to a node built on those traits: account
//!   state, signing (the runtime's [`signing`]), submitting and following a
//!   transaction to its events, and the market's and providers' records;
//! * [`amount`]: token amounts as people write them;
//! * [`keys`]: account keys from a key file or a secret URI;
//! * [`metrics`]: the Prometheus endpoint of the node and the worker;
//! * [`secret_file`]: writing secrets (mode 0600, fsynced, atomic);
//! * [`p2p_key`]: a libp2p identity kept in such a file.

pub mod amount;
pub mod chain;
pub mod codes;
pub mod keys;
pub mod metrics;
pub mod p2p_key;
pub mod rpc;
pub mod secret_file;
mod status;

pub use mosaic_runtime::signing;
pub use status::TxStatus;
