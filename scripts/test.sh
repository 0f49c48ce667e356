#!/usr/bin/env bash
# Builds promowatch and runs every test: unit tests (also under
# AddressSanitizer + UndefinedBehaviorSanitizer), the fuzzers for a few
# seconds each, and the end-to-end checks.
# Installs missing Debian packages first. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROMOWATCH_BUILD_BENCH=ON >/dev/null
cmake --build build -j"$jobs"

# Sanitizers over the unit tests, and the fuzzers: one clang build with
# ASan + UBSan (and libFuzzer's coverage). Memory errors and UB fail the run.
CC=clang-14 CXX=clang++-14 cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DPROMOWATCH_SANITIZE=ON -DPROMOWATCH_FUZZ=ON \
  -DPROMOWATCH_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs" --target unit_tests fuzzers
echo "== unit tests under ASan/UBSan"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ./build-asan/tests/unit_tests --gtest_brief=1

# Every fuzzer briefly (tests/fuzz/README.md), beside the end-to-end tests
# (those mostly wait on processes; the fuzzers use the spare CPU).
bash tests/fuzz/run.sh build-asan "${FUZZ_SECONDS:-10}" > fuzz.log 2>&1 &
fuzz_pid=$!

echo "== all tests"
status=0
(cd build && ctest --output-on-failure -j"$jobs") || status=$?
echo "== fuzzers"
wait "$fuzz_pid" || status=1
cat fuzz.log
exit "$status"
