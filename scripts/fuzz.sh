#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuzz.sh SECONDS: build the libFuzzer targets with clang (ASan+UBSan) and run
# each for SECONDS, starting from the committed corpus in tests/fuzz/corpus/.
# New inputs go to build-fuzz/corpus-new/; crashes fail the script.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
case "$secs" in
'' | *[!0-9]*)
    echo "error: usage: scripts/fuzz.sh SECONDS" >&2
    exit 2
    ;;
esac
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DSRM_FUZZ=ON -DSRM_SANITIZE=ON \
    -DSRM_WERROR=ON >/dev/null
cmake --build build-fuzz -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
mkdir -p build-fuzz/artifacts
shopt -s nullglob
status=0
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    corpus=tests/fuzz/corpus/$name
    new=build-fuzz/corpus-new/$name
    mkdir -p "$new"
    log=build-fuzz/$name.log
    if ! build-fuzz/tests/"$name" -max_total_time="$secs" -artifact_prefix=build-fuzz/artifacts/ \
        -print_final_stats=1 "$new" "$corpus" >"$log" 2>&1; then
        echo "error: fuzz target $name failed; see $log" >&2
        tail -40 "$log" >&2
        status=1
        continue
    fi
    execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    cov=$(grep -E '^#[0-9]+.*DONE' "$log" | grep -o 'cov: [0-9]*' | head -1)
    echo "fuzz: $name: ${execs:-?} executions in ${secs}s, ${cov:-cov: ?}, 0 crashes"
done
exit $status
