#!/usr/bin/env bash
# The whole test suite: formatting, lints, every test, and a short fuzz run of
# each fuzz target. `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test

fuzz_seconds="${MOSAIC_FUZZ_SECONDS:-30}"

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
benchmarked=(-p pallet-mosaic-providers -p pallet-mosaic-market -p pallet-mosaic-audit -p pallet-mosaic-names -p mosaic-runtime)
echo "== cargo clippy: benchmark code"
cargo clippy --all-targets --locked --features runtime-benchmarks "${benchmarked[@]}" -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
echo "== cargo test: pallet benchmarks, each run once as a test"
cargo test --locked --features runtime-benchmarks "${benchmarked[@]}" benchmark

# cargo-fuzz needs nightly-only rustc flags (sanitizers, coverage); the
# machine has stable Rust, which RUSTC_BOOTSTRAP lets use them.
for target in manifest_decode proof_verify unixfs_decode; do
    echo "== cargo fuzz run $target (${fuzz_seconds}s)"
    mkdir -p "primitives/fuzz/corpus/$target"
    (cd primitives/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$fuzz_seconds" -max_len=65536 -print_final_stats=1 2>&1 | tail -n 5)
done
