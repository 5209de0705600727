//! Proof verification on arbitrary input never panics, and never accepts a
//! proof for a leaf other than the shard's real one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mosaic_primitives::merkle::{self, FuzzProofInput as Input, ShardRoot, LEAF_SIZE};
use parity_scale_codec::Decode;

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
