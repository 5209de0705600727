//! The whole put and get pipelines on 64 MiB in memory, on one thread and on
//! every core, with the default coding (4 + 2, 8 MiB segments, encrypted).

use std::collections::HashMap;
use std::convert::Infallible;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mosaic_primitives::encryption::SecretKey;
use mosaic_primitives::manifest::ShardId;
use mosaic_primitives::pipeline::{self, default_threads, PutOptions, ShardSink, ShardSource};

const SIZE: usize = 64 << 20;

#[derive(Default)]
struct Memory(HashMap<ShardId, Vec<u8>>);

impl ShardSink for Memory {
    type Error = Infallible;
    fn put_shard(&mut self, id: ShardId, shard: &[u8]) -> Result<(), Infallible> {
        self.0.insert(id, shard.to_vec());
        Ok(())
    }
}

impl ShardSource for Memory {
    fn shard(&self, id: ShardId) -> Option<Vec<u8>> {
        self.0.get(&id).cloned()
    }
}

/// Discards shards: measures the pipeline, not a store.
struct Discard;

impl ShardSink for Discard {
    type Error = Infallible;
    fn put_shard(&mut self, _: ShardId, shard: &[u8]) -> Result<(), Infallible> {
        std::hint::black_box(shard);
        Ok(())
    }
}

fn pipelines(c: &mut Criterion) {
    let input: Vec<u8> = (0..SIZE as u64)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let owner = SecretKey::from_seed(&[1; 32]);
    let mut group = c.benchmark_group("pipeline/64MiB");
    group.throughput(Throughput::Bytes(SIZE as u64));
    group.sample_size(10);
    for threads in [1, default_threads()] {
        let options = PutOptions {
            threads,
            ..PutOptions::encrypted_to(owner.public())
        };
        group.bench_function(format!("put/{threads}-threads"), |b| {
            b.iter(|| pipeline::put(&input[..], &options, &mut Discard).unwrap())
        });
        let mut store = Memory::default();
        let manifest = pipeline::put(&input[..], &options, &mut store).unwrap();
        group.bench_function(format!("get/{threads}-threads"), |b| {
            b.iter(|| {
                pipeline::get(&manifest, Some(&owner), &store, std::io::sink(), threads).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, pipelines);
criterion_main!(benches);
