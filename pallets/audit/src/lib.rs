//! Audit pallet.
//!
//! Each period draws (provider, shard, leaf) challenges from randomness no one
//! can choose or foresee; providers answer with the leaf and its Merkle path,
//! which the runtime checks with [`mosaic_primitives::merkle::verify`]. Passing
//! earns the period's payment; missing slashes stake and, repeated, ejects.
//!
//! Status: placeholder; the FRAME pallet is built under issue 3.
