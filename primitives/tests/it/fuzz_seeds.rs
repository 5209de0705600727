//! The fuzzers' seed inputs stay valid as the formats evolve, so that fuzzing
//! starts from real manifests and proofs rather than noise.

use std::path::PathBuf;

use mosaic_primitives::manifest::{Manifest, MANIFEST_VERSION};
use mosaic_primitives::merkle::{self, FuzzProofInput, LEAF_SIZE};
use parity_scale_codec::Decode;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    // Cargo sets this when it runs the test. The compile-time value can name
    // another checkout whose build a shared target directory reused.
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    let dir = root.join("fuzz/seeds").join(target);
    let seeds: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

#[test]
fn manifest_seeds_decode() {
    for (name, bytes) in seeds("manifest_decode") {
        let manifest = Manifest::from_bytes(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Seeds of an older version read as the manifest written anew.
        let written = manifest.to_bytes();
        match bytes[0] == MANIFEST_VERSION {
            true => assert_eq!(written, bytes, "{name}"),
            false => assert_eq!(Manifest::from_bytes(&written).unwrap(), manifest, "{name}"),
        }
    }
}

#[test]
fn proof_seeds_are_real_proofs_of_real_leaves() {
    for (name, bytes) in seeds("proof_verify") {
        let input =
            FuzzProofInput::decode(&mut &bytes[..]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(input.root.is_none(), "{name}: checks against its own shard");
        assert_eq!(input.shard_size, input.shard.len() as u64, "{name}");
        let root = merkle::root(&input.shard).unwrap_or_else(|e| panic!("{name}: {e}"));
        merkle::verify(&root, input.shard_size, input.index, &input.proof)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let start = input.index as usize * LEAF_SIZE;
        let end = input.shard.len().min(start + LEAF_SIZE);
        assert_eq!(input.proof.leaf, input.shard[start..end], "{name}");
    }
}

#[test]
fn unixfs_seeds_are_canonical_blocks() {
    use mosaic_primitives::unixfs::{hamt_lookup, HamtStep, UnixfsNode, UnixfsType};
    let mut shards = 0;
    for (name, bytes) in seeds("unixfs_decode") {
        let node = UnixfsNode::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(node.encode(), bytes, "{name}");
        if node.data.kind == UnixfsType::HamtShard {
            // Slots are the top byte of murmur3's h1: "a" 0x85 (a
            // sub-shard here), "foo" 0xE2 (an entry), "x" 0x6D (unused).
            let lookup =
                |entry| hamt_lookup(&node, entry, 0).unwrap_or_else(|e| panic!("{name}: {e}"));
            let label = |step| match step {
                HamtStep::Entry(link) => format!("entry {:?}", link.name),
                HamtStep::Shard(link) => format!("shard {:?}", link.name),
                HamtStep::Absent => "absent".to_owned(),
            };
            assert_eq!(label(lookup("a")), "shard Some(\"85\")");
            assert_eq!(label(lookup("foo")), "entry Some(\"E2foo\")");
            assert_eq!(label(lookup("x")), "absent");
            shards += 1;
        }
    }
    assert_eq!(shards, 1);
}
