//! Storage market pallet.
//!
//! A client's `store` creates an order from a file CID, its size, its coding
//! parameters and shard roots (see [`mosaic_primitives::manifest`]) and moves
//! the escrow; the runtime assigns each shard of a segment to a distinct
//! provider, which `confirm`s once it holds the shard. Escrow is paid out per
//! proven period; `extend`, `delete` and repair after a provider leaves.
//!
//! Status: placeholder; the FRAME pallet is built under issue 3.
