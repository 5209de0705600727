//! Provider registry pallet.
//!
//! Storage providers `register` with a stake (reserved balance that scales with
//! the capacity they declare), a price per byte per block, and the libp2p peer
//! id and multiaddrs their worker listens on; they `update`, `unbond` (shards
//! assigned to them still bind during the unbonding period) and `withdraw`.
//!
//! Status: placeholder; the FRAME pallet is built under issue 3.
