#!/usr/bin/env bash
# The main job: build the release binaries and run the data path end to end
# on a sample file: a new key, the file's IPFS CID, encrypt + erasure-code +
# hash into shards, lose and corrupt shards, rebuild, compare.
#
# Until the chain exists (issues 3-5) this runs offline; it grows into a local
# network of a validator and storage workers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

size_mib="${MOSAIC_SAMPLE_MIB:-64}"
cargo build --release --locked -p mosaic-client
mosaic="${CARGO_TARGET_DIR:-target}/release/mosaic"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
step() { printf '\n== %s\n' "$*"; }

step "a sample file of $size_mib MiB"
head -c "$((size_mib << 20))" /dev/urandom > "$work/sample.bin"

step "mosaic key generate"
"$mosaic" key generate --out "$work/owner.key"

step "mosaic cid (what 'ipfs add --cid-version=1' would print)"
"$mosaic" cid "$work/sample.bin"

step "mosaic encode: encrypted to the owner, 4 data + 2 parity shards per segment"
manifest_cid="$("$mosaic" encode "$work/sample.bin" --to "$work/object" --key "$work/owner.key")"
echo "manifest CID: $manifest_cid"

step "losing one shard and corrupting another in every segment"
for first in "$work"/object/*-00.shard; do
    segment="$(basename "$first" -00.shard)"
    rm "$work/object/$segment-01.shard"
    printf 'garbage' | dd of="$work/object/$segment-04.shard" bs=1 seek=100 conv=notrunc status=none
done
echo "$(ls "$work/object" | wc -l) files left in the object directory"

step "mosaic decode: any 4 intact shards per segment rebuild it"
"$mosaic" decode "$work/object" --to "$work/restored.bin" --key "$work/owner.key"
cmp "$work/sample.bin" "$work/restored.bin"
echo "restored file is identical to the original"
