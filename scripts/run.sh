#!/usr/bin/env bash
# The main job: build the release binaries, then on loopback from the
# embedded `dev` spec: the validator (//Alice), six storage workers
# registered with dev accounts, `mosaic put` of a sample file by a new
# account, two workers stopped, `mosaic get` into a new file, `cmp`, and a
# summary. Every process it started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

size_mib="${MOSAIC_SAMPLE_MIB:-64}"
port_base="${MOSAIC_WORKER_PORT_BASE:-30433}"
# MOSAIC_PROFILE=dev reuses a debug build (the tests' binaries).
profile="${MOSAIC_PROFILE:-release}"
cargo build --profile "$profile" --locked -p mosaic-client -p mosaic-node -p mosaic-worker
case "$profile" in dev | test) dir=debug ;; *) dir="$profile" ;; esac
bin="${CARGO_TARGET_DIR:-target}/$dir"
mosaic="$bin/mosaic"

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }
# Waits until file $1 has a line matching $2; prints the line.
wait_for() {
    for _ in $(seq 1200); do
        if line="$(grep -m1 -- "$2" "$1")"; then echo "$line"; return 0; fi
        sleep 0.1
    done
    echo "timed out waiting for '$2' in $1:" >&2; tail -n 30 "$1" >&2; return 1
}

step "mosaic-node --dev: one validator (//Alice), a block every 3 s"
"$bin/mosaic-node" --dev --base-path "$work/node" --rpc-port 0 --port 0 --no-prometheus 2> "$work/node.log" &
pids+=($!)
rpc="ws://$(wait_for "$work/node.log" 'JSON-RPC listening on' | grep -o '[0-9.]*:[0-9]*' | tail -n1)"
echo "JSON-RPC at $rpc"

providers=(//Bob //Charlie //Dave //Eve //Ferdie //Bob//stash)
step "mosaic-worker register: six providers of 1 GiB each"
for i in "${!providers[@]}"; do
    "$bin/mosaic-worker" register --rpc "$rpc" --suri "${providers[$i]}" --base-path "$work/worker$i" \
        --listen "/ip4/127.0.0.1/tcp/$((port_base + i))" --capacity 1GiB &
    pids+=($!)
done
wait "${pids[@]:1}"
pids=("${pids[0]}")

step "mosaic-worker run: six workers"
worker_pids=()
for i in "${!providers[@]}"; do
    "$bin/mosaic-worker" run --rpc "$rpc" --suri "${providers[$i]}" --base-path "$work/worker$i" \
        --listen "/ip4/127.0.0.1/tcp/$((port_base + i))" --prometheus-port 0 2> "$work/worker$i.log" &
    pids+=($!)
    worker_pids+=($!)
done
for i in "${!providers[@]}"; do wait_for "$work/worker$i.log" 'serving on' > /dev/null; done
echo "six workers serving"

step "a new account with 1000 tokens from //Alice, and a sample file of $size_mib MiB"
"$mosaic" key generate --out "$work/owner.key"
owner="$("$mosaic" key inspect "$work/owner.key" | awk '/account address/ {print $3}')"
"$mosaic" transfer --suri //Alice --to "$owner" --amount 1000 --rpc "$rpc"
head -c "$((size_mib << 20))" /dev/urandom > "$work/sample.bin"

step "mosaic put: encrypted to the owner, 4 data + 2 parity pieces"
"$mosaic" put "$work/sample.bin" --key "$work/owner.key" --rpc "$rpc" --json | tee "$work/put.json"
order="$(tail -n1 "$work/put.json" | grep -o '"order":[0-9]*' | cut -d: -f2)"
"$mosaic" status "$order" --rpc "$rpc"

step "two workers stopped: those holding pieces 0 and 1"
for piece in 0 1; do
    provider="$("$mosaic" status "$order" --rpc "$rpc" | awk -v p="piece $piece:" '$0 ~ p {print $3}')"
    for i in "${!providers[@]}"; do
        if grep -q "$provider" "$work/worker$i.log"; then
            kill "${worker_pids[$i]}"; echo "stopped worker $i ($provider)"
        fi
    done
done

step "mosaic get: from the four workers left, with only the owner's key"
"$mosaic" get "$order" --to "$work/restored.bin" --key "$work/owner.key" --rpc "$rpc"
cmp "$work/sample.bin" "$work/restored.bin"
echo "the file came back identical"

step "summary"
"$mosaic" status "$order" --rpc "$rpc"
echo "owner $owner: $("$mosaic" balance "$owner" --rpc "$rpc" | tr '\n' ' ')"
