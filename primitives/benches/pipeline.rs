//! The whole put and get pipelines on 64 MiB in memory, on one thread and on
//! every core, with the default coding (4 + 2, 8 MiB segments, encrypted).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mosaic_primitives::encryption::SecretKey;
use mosaic_primitives::memory::{DiscardShards, MemoryShards};
use mosaic_primitives::pipeline::{self, default_threads, PutOptions};

const SIZE: usize = 64 << 20;

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
            b.iter(|| pipeline::put(&input[..], &options, &mut DiscardShards).unwrap())
        });
        let mut store = MemoryShards::default();
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
