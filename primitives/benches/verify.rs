//! What the chain spends on a storage proof: verifying one challenged leaf
//! at full depth (the last leaf of the last shard of the largest object:
//! 2^20 segments of one 64 MiB data shard each, so both paths are as long as
//! they get), against the audit's goal of 50 µs a leaf. The reference beside
//! it is one leaf at the shallowest depth (a one-segment, one-leaf piece):
//! the fixed cost of a verification.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mosaic_primitives::erasure::{CodingParams, MAX_SEGMENT_SIZE};
use mosaic_primitives::merkle::{self, ShardRoot, LEAF_SIZE};
use mosaic_primitives::piece::{self, Layout, MAX_SEGMENTS};

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("piece/verify-a-leaf");
    group.throughput(Throughput::Elements(1));

    let coding = CodingParams::with_segment_size(1, 1, MAX_SEGMENT_SIZE).unwrap();
    let layout = Layout::new(coding, Layout::max_stored_size(&coding)).unwrap();
    let shard = vec![7u8; layout.shard_size(0)];
    let shard_roots = vec![merkle::root(&shard).unwrap(); MAX_SEGMENTS as usize];
    let root = piece::piece_root(&shard_roots);
    let leaf = layout.piece_leaves() - 1;
    let proof = piece::prove_leaves(&layout, &shard_roots, &[leaf], |_| {
        Ok::<_, merkle::ProofError>(shard.clone())
    })
    .unwrap()
    .remove(0);
    group.bench_function("full-depth", |b| {
        b.iter(|| piece::verify(&root, &layout, leaf, &proof).unwrap())
    });

    let small = Layout::new(coding, LEAF_SIZE as u64).unwrap();
    let one = vec![3u8; small.shard_size(0)];
    let one_roots: Vec<ShardRoot> = vec![merkle::root(&one).unwrap()];
    let one_root = piece::piece_root(&one_roots);
    let one_proof = piece::prove(&one, &one_roots, 0, 0).unwrap();
    group.bench_function("shallowest", |b| {
        b.iter(|| piece::verify(&one_root, &small, 0, &one_proof).unwrap())
    });
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
