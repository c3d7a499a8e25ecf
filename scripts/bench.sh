#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench.sh [--quick] [--json FILE] [SECTION...]: build a Release build in
# build-bench/ and run the benchmark program (bench/bench.c); with no SECTION
# every section runs.  Sections:
#   record       SHA-256 ceiling, srm_record_seal/open MB/s, keystream routes
#   handshake    registrations/s against a real relay vs RSA ops/s, sessions/s
#   relay        forwarding through the relay: msgs/s, relay CPU/msg, latency
#   connections  relay memory per idle registered client (10,000 clients)
#   cluster      nats-server + relay nodes a, b: relay CPU/msg same-node vs
#                cross-node, nats-server CPU/msg, p50/p99 at 10,000 msgs/s
#                (about 15 s with --quick; SRM_BENCH_NATS_SERVER=PATH picks
#                the nats-server, default: the Debian package's)
# --quick takes short rounds (about 2-3 minutes); --json FILE also writes
# the results as JSON.  The relay runs on CPU 0 and the bench clients on
# CPU 1, with fresh 2048-bit keys in a temporary directory.  Numbers need a
# quiet machine: close other work first.
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."

args=()
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) args+=(--quick) ;;
    --json)
        if [ $# -lt 2 ]; then
            echo "error: --json needs a FILE (try --help)" >&2
            exit 2
        fi
        # The program runs from the repository root; a relative path is the caller's.
        case "$2" in
        /*) args+=(--json "$2") ;;
        *) args+=(--json "$caller/$2") ;;
        esac
        shift
        ;;
    -h | --help)
        sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    -*)
        echo "error: unknown option $1 (try --help)" >&2
        exit 2
        ;;
    *) args+=("$1") ;; # a section name; srm_bench checks it
    esac
    shift
done

. scripts/deps.sh
# The relay links libnats (its --cluster mode); the cluster section runs a nats-server.
srm_install_deps build-essential cmake pkg-config libssl-dev libevent-dev libreadline-dev \
    libnats-dev nats-server

cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DSRM_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench --target srm_bench relay -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

# 2048-bit keys for the relay and the bench clients (the bench links n0.pub,
# n1.pub, ... to bench.pub); the relay's log goes there too.
keys=$(mktemp -d "${TMPDIR:-/tmp}/srm-bench.XXXXXX")
trap 'rm -rf "$keys"' EXIT
scripts/keygen.sh -d "$keys" -b 2048 relay bench >/dev/null 2>&1 || {
    echo "error: cannot make the bench keys in $keys" >&2
    exit 1
}
build-bench/srm_bench "${args[@]}" --relay "$PWD/build-bench/relay" --keys "$keys"
