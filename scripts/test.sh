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

# ---------------------------------------------------------------------------
# Static checks and valgrind (issue 5).  Skip with SRM_NO_STATIC=1 /
# SRM_NO_VALGRIND=1 for a quick local run; CI runs both.
# ---------------------------------------------------------------------------
if [ "${SRM_NO_STATIC:-0}" != 1 ]; then
    srm_install_deps cppcheck clang-tidy
    echo "srm: cppcheck" >&2
    # Suppressions, each with its reason, are in .cppcheck-suppressions.
    cppcheck --enable=warning,style,performance,portability --error-exitcode=1 --std=c11 -q \
        -j"$jobs" --inline-suppr --suppressions-list=.cppcheck-suppressions \
        -I include -I src/util -I src/lib -D_GNU_SOURCE src tests/unit tests/fuzz tests/hostile
    echo "srm: clang-tidy (checks in .clang-tidy)" >&2
    # One file per process: clang-tidy 14 carries analyzer state between the
    # files of one run and then reports false va_list errors.
    find src -name '*.c' -print0 | sort -z |
        xargs -0 -P"$jobs" -n1 clang-tidy -p build-test --quiet 2>/dev/null
fi

if [ "${SRM_NO_VALGRIND:-0}" != 1 ]; then
    srm_install_deps valgrind
    # A separate build without sanitizers (valgrind and ASan cannot share a process).
    cmake -S . -B build-valgrind -DCMAKE_BUILD_TYPE=Debug -DSRM_WERROR=ON >/dev/null
    cmake --build build-valgrind -j"$jobs"
    vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect"
    export SRM_VECTORS_DIR="$PWD/tests/vectors" SRM_WYCHEPROOF_DIR="$PWD/tests/vectors/wycheproof"
    export SRM_BUILD_DIR="$PWD/build-valgrind" SRM_SOURCE_DIR="$PWD"
    echo "srm: valgrind: unit tests" >&2
    # Every unit test but three: test_reg, test_sess and test_wire_flip redo
    # whole RSA handshakes for every byte or bit they alter (thousands of
    # private-key operations), which takes over ten minutes each under
    # valgrind.  Their code (reg.c, sess.c, link.c, frame.c) runs under
    # valgrind in the integration tests below, in real relay and client
    # processes, and in full under ASan+LSan above.  xargs fails if any run does.
    find build-valgrind/tests -maxdepth 1 -name 'test_*' -type f -perm -u+x \
        ! -name test_reg ! -name test_sess ! -name test_wire_flip -print0 | sort -z |
        xargs -0 -P"$jobs" -I{} sh -c "$vg {} >{}.valgrind.log 2>&1 || { cat {}.valgrind.log; exit 1; }"
    echo "srm: valgrind: integration tests" >&2
    # Under valgrind every process starts ~20x slower, so only the tests that
    # walk the relay's and the client's main paths run here: a whole honest
    # conversation ending in clean exits (so leaks are checked at exit), and
    # the hostile relay's tamper and replay cases (the session-failure and
    # recovery paths).  The rest run under ASan+LSan above.
    SRM_TEST_WRAPPER="$vg" SRM_TEST_TIMEOUT=120 python3 tests/integration/test_e2e_two.py
    SRM_TEST_WRAPPER="$vg" SRM_TEST_TIMEOUT=120 \
        python3 tests/integration/test_hostile_relay.py none tamper-ct replay
fi
echo "srm: all tests passed"
