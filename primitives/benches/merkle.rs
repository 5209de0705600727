//! The Merkle root of one 2 MiB shard (a data shard of the default 8 MiB
//! segment, 4 + 2), as `merkle::root` hashes it: leaves and inner nodes two
//! at a time (`merkle/pair.rs`). The reference beside it is the same tree
//! with every hash computed alone by `sha2`, as the root was before.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mosaic_primitives::merkle::{self, LEAF_SIZE};
use sha2::{Digest, Sha256};

fn one_at_a_time(shard: &[u8]) -> [u8; 32] {
    let tagged = |tag: u8, parts: &[&[u8]]| -> [u8; 32] {
        let mut hasher = Sha256::new().chain_update([tag]);
        parts.iter().for_each(|part| hasher.update(part));
        hasher.finalize().into()
    };
    let mut level: Vec<[u8; 32]> = shard.chunks(LEAF_SIZE).map(|l| tagged(0, &[l])).collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => tagged(1, &[left, right]),
                [only] => *only,
                _ => unreachable!("chunks of two"),
            })
            .collect();
    }
    level[0]
}

fn root(c: &mut Criterion) {
    let shard: Vec<u8> = (0..2u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    assert_eq!(merkle::root(&shard).unwrap().0, one_at_a_time(&shard));
    let mut group = c.benchmark_group("merkle/root-of-2-MiB");
    group.throughput(Throughput::Bytes(shard.len() as u64));
    group.bench_function("two-at-a-time", |b| {
        b.iter(|| merkle::root(&shard).unwrap())
    });
    group.bench_function("reference: one-at-a-time", |b| {
        b.iter(|| one_at_a_time(&shard))
    });
    group.finish();
}

criterion_group!(benches, root);
criterion_main!(benches);
