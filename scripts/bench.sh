#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench.sh [--quick] [--json FILE]: build a Release build in build-bench/ and
# run the benchmark program (bench/bench.c).  Sections run now:
#   record  SHA-256 ceiling, srm_record_seal/open MB/s from 64 B to 64 KiB,
#           and the keystream routes compared (docs/BENCHMARKS.md)
# --quick takes short rounds (well under a minute); --json FILE also writes
# the results as JSON.  Numbers need a quiet machine: close other work first.
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
        sed -n '3,8p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "error: unknown option $1 (try --help)" >&2
        exit 2
        ;;
    esac
    shift
done

. scripts/deps.sh
srm_install_deps build-essential cmake pkg-config libssl-dev libevent-dev libreadline-dev

cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DSRM_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench --target srm_bench -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
build-bench/srm_bench record "${args[@]}"
