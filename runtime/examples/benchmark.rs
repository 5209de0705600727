//! Measures every Mosaic pallet call (a benchmark binary, not a test): runs
//! each `frame-benchmarking` benchmark natively on the benchmarking state,
//! sweeping each component over its range (the others at their maximum),
//! and prints the least-squares fit of time, reads and writes, and the
//! medians at both ends of each sweep. The weights in `pallets/*/src/
//! weights.rs` bound both.
//!
//! `cargo run --release -p mosaic-runtime --features runtime-benchmarks --example benchmark -- [steps] [repeats] [pallet]`

use mosaic_runtime::bench_state::BenchState;
use mosaic_runtime::genesis::DEV;
use mosaic_runtime::native::{call_decoded, genesis_storage, Overlay};
use parity_scale_codec::Encode;
use polkadot_sdk::frame_benchmarking::{
    Analysis, BenchmarkConfig, BenchmarkList, BenchmarkResult, BenchmarkSelector,
};
use polkadot_sdk::frame_support::traits::StorageInfo;

/// The pallets measured (balances is polkadot-sdk's, with its own weights).
const PALLETS: [&str; 5] = [
    "pallet_mosaic_providers",
    "pallet_mosaic_market",
    "pallet_mosaic_audit",
    "pallet_mosaic_names",
    "validators",
];

fn run(
    state: &BenchState,
    list: &BenchmarkList,
    name: &[u8],
    components: Vec<(polkadot_sdk::frame_benchmarking::BenchmarkParameter, u32)>,
    repeats: u32,
) -> Vec<BenchmarkResult> {
    let config = BenchmarkConfig {
        pallet: list.pallet.clone(),
        instance: list.instance.clone(),
        benchmark: name.to_vec(),
        selected_components: components,
        verify: false,
        internal_repeats: repeats,
    };
    state
        .dispatch(&config)
        .expect("the benchmark runs")
        .into_iter()
        .flat_map(|b| b.results)
        .collect()
}

fn fit(results: &Vec<BenchmarkResult>, selector: BenchmarkSelector) -> String {
    match Analysis::min_squares_iqr(results, selector) {
        Ok(analysis) => {
            let mut text = analysis.base.to_string();
            for (name, slope) in analysis.names.iter().zip(&analysis.slopes) {
                text += &format!(" + {slope}·{name}");
            }
            text
        }
        Err(e) => format!("no fit: {e}"),
    }
}

/// Median time (ns), reads and writes of the results with `component` at
/// `value`.
fn median_at(results: &[BenchmarkResult], component: usize, value: u32) -> String {
    let at: Vec<_> = results
        .iter()
        .filter(|r| r.components[component].1 == value)
        .collect();
    let median = |f: fn(&BenchmarkResult) -> u128| {
        let mut values: Vec<u128> = at.iter().map(|r| f(r)).collect();
        values.sort_unstable();
        values[values.len() / 2]
    };
    format!(
        "{} ns | {} | {}",
        median(|r| r.extrinsic_time),
        median(|r| r.reads.into()),
        median(|r| r.writes.into()),
    )
}

/// Chain state per order: the record of a 4 + 2 order (the same at any
/// size), what each wrapped key adds, and the largest record.
fn state_per_order() {
    use pallet_mosaic_market::{
        Access, CodingParams, Layout, Order, OrderOf, OrderState, Piece, PieceRoot, WrappedKey,
    };
    use parity_scale_codec::MaxEncodedLen;
    use polkadot_sdk::frame_support::BoundedVec;
    let coding = CodingParams::default();
    let largest = Layout::max_stored_size(&coding);
    for size in [1 << 20, 1 << 40, largest] {
        let layout = Layout::new(coding, size).expect("within bounds");
        let piece = Piece {
            root: PieceRoot([1; 32]),
            provider: mosaic_runtime::AccountId::from([2; 32]),
            price: 1,
            confirmed: true,
            slot: 0,
            paid_until: 0,
            failures: 0,
        };
        let order: OrderOf<mosaic_runtime::Runtime> = Order {
            owner: mosaic_runtime::AccountId::from([3; 32]),
            // A CIDv1 of SHA-256: 36 bytes.
            cid: BoundedVec::truncate_from(vec![1; 36]),
            size,
            coding,
            piece_size: layout.piece_size(),
            access: Access::Public { dag_index: 0 },
            periods: 1,
            state: OrderState::Live { start: 1, end: 2 },
            due: 0,
            pieces: BoundedVec::truncate_from(vec![piece; coding.total_shards()]),
            confirmed: 6,
            rounds: 0,
            bond: 0,
            escrow: 0,
            deposit: 0,
        };
        println!(
            "order of {size} bytes, 4 + 2, public: a {} byte record, {} pieces of {} bytes",
            order.encoded_size(),
            coding.total_shards(),
            layout.piece_size()
        );
    }
    println!(
        "each wrapped key adds {} bytes; the largest record (128 pieces, 16 keys) is {} bytes; \
         the largest object at default coding is {} TiB",
        WrappedKey::max_encoded_len(),
        OrderOf::<mosaic_runtime::Runtime>::max_encoded_len(),
        largest >> 40
    );
}

fn main() {
    state_per_order();
    let mut args = std::env::args().skip(1);
    let steps: u32 = args.next().map_or(10, |s| s.parse().expect("steps"));
    let repeats: u32 = args.next().map_or(5, |s| s.parse().expect("repeats"));
    // Optionally only the pallets whose name contains this.
    let only = args.next().unwrap_or_default();
    let state = BenchState::new(genesis_storage(DEV).expect("the dev genesis builds"));
    let (lists, _): (Vec<BenchmarkList>, Vec<StorageInfo>) = call_decoded(
        &state,
        &mut Overlay::default(),
        &Default::default(),
        "Benchmark_benchmark_metadata",
        &false.encode(),
    )
    .expect("the benchmark API lists");
    println!(
        "call: time (ps) | distinct reads | distinct writes; slopes per unit of each component"
    );
    for list in lists.iter().filter(|l| {
        let pallet = String::from_utf8_lossy(&l.pallet);
        PALLETS.contains(&pallet.as_ref()) && pallet.contains(&only)
    }) {
        for benchmark in &list.benchmarks {
            let mut results = Vec::new();
            let highest: Vec<_> = benchmark
                .components
                .iter()
                .map(|(p, _, high)| (*p, *high))
                .collect();
            if highest.is_empty() {
                results.extend(run(&state, list, &benchmark.name, Vec::new(), repeats));
            }
            let mut ends = Vec::new();
            for (i, (name, low, high)) in benchmark.components.iter().enumerate() {
                let mut sweep = Vec::new();
                for step in 0..steps.max(2) {
                    let value = low + (high - low) * step / (steps.max(2) - 1);
                    let mut components = highest.clone();
                    components[i].1 = value;
                    sweep.extend(run(&state, list, &benchmark.name, components, repeats));
                }
                for value in [low, high] {
                    ends.push(format!(
                        "  {name:?} = {value}: {}",
                        median_at(&sweep, i, *value)
                    ));
                }
                results.extend(sweep);
            }
            println!(
                "{}::{}: {} ps | {} | {}",
                String::from_utf8_lossy(&list.pallet),
                String::from_utf8_lossy(&benchmark.name),
                fit(&results, BenchmarkSelector::ExtrinsicTime),
                fit(&results, BenchmarkSelector::Reads),
                fit(&results, BenchmarkSelector::Writes),
            );
            for end in ends {
                println!("{end}");
            }
        }
    }
}
