//! Proof verification on arbitrary input never panics, and never accepts a
//! proof for a leaf other than the shard's real one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mosaic_primitives::merkle::{self, MerkleProof, ShardRoot, LEAF_SIZE};
use parity_scale_codec::{Decode, Encode};

#[derive(Debug, Decode, Encode)]
struct Input {
    /// Shard bytes the root is built from (kept small by the fuzzer).
    shard: Vec<u8>,
    /// Claimed shard size.
    shard_size: u64,
    index: u32,
    proof: MerkleProof,
    /// A root to check against instead of the shard's.
    root: Option<[u8; 32]>,
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::decode(&mut &data[..]) else {
        return;
    };
    let root = match (input.root, merkle::root(&input.shard)) {
        (Some(root), _) => ShardRoot(root),
        (None, Ok(root)) => root,
        (None, Err(_)) => return,
    };
    if merkle::verify(&root, input.shard_size, input.index, &input.proof).is_ok()
        && input.root.is_none()
        && input.shard_size == input.shard.len() as u64
    {
        // Accepted against the real root: the leaf must be the real one.
        let start = input.index as usize * LEAF_SIZE;
        let end = input.shard.len().min(start + LEAF_SIZE);
        assert_eq!(input.proof.leaf, input.shard[start..end]);
    }
});
