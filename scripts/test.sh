#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test.sh: install what is missing, build with ASan+UBSan and -Werror, run
# the whole ctest suite, then (when clang is there) run every libFuzzer
# target for a bounded time.  Usage: scripts/test.sh [--no-fuzz]
#   SRM_FUZZ_SECONDS  seconds per fuzz target (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

fuzz=1
for a in "$@"; do
    case "$a" in
    --no-fuzz) fuzz=0 ;;
    -h | --help)
        sed -n '3,7p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "error: unknown option $a (try --help)" >&2
        exit 2
        ;;
    esac
done

srm_install_deps "${SRM_BUILD_PKGS[@]}" clang libclang-rt-14-dev

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DSRM_SANITIZE=ON -DSRM_WERROR=ON >/dev/null
cmake --build build-test -j"$jobs"
(cd build-test && ctest --output-on-failure -j"$jobs")

if [ "$fuzz" -eq 1 ]; then
    if command -v clang >/dev/null 2>&1; then
        scripts/fuzz.sh "${SRM_FUZZ_SECONDS:-20}"
    else
        echo "warning: clang not found: fuzz targets skipped (replay of the corpus ran under ctest)" >&2
    fi
fi
echo "srm: all tests passed"
