//! Integration tests of the primitives: against independent implementations,
//! and the data path at scale.

mod fuzz_seeds;
mod ipfs;
mod ipfs_dirs;
mod large_object;
