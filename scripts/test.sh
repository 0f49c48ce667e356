#!/usr/bin/env bash
# Builds promowatch and runs every test: the unit tests under
# AddressSanitizer + UndefinedBehaviorSanitizer and under ThreadSanitizer,
# the fuzzers for a few seconds each, and the end-to-end checks (one of
# them, live_tsan_test, with the ThreadSanitizer build).
# Installs missing Debian packages first. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
echo "== format"
bash scripts/check-format.sh

jobs=$(nproc)
# Unity builds: CMake compiles each target's sources in batches, so the
# heavy headers (protobuf, nlohmann, RocksDB, gtest) are parsed and their
# templates instantiated once per batch, not once per file.
unity=(-DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=4)
clang=(-DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Debug
       -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DPROMOWATCH_BUILD_BENCH=OFF)

# The gcc build: the binary the end-to-end tests run, and the benchmarks.
# (Its unit tests are not built: they run under both sanitizer builds.)
echo "== build (gcc, RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROMOWATCH_BUILD_BENCH=ON "${unity[@]}" \
  -DPROMOWATCH_RELWITHDEBINFO_FLAGS="-O2 -g1 -DNDEBUG" \
  -DPROMOWATCH_UNIT_TESTS_IN_CTEST=OFF -DPROMOWATCH_TSAN_BINARY="$PWD/build-tsan/promowatch" >/dev/null
cmake --build build -j"$jobs" --target promowatch operator_bench

# Sanitizers over the unit tests, and the fuzzers: one clang build with
# ASan + UBSan (and libFuzzer's coverage). Memory errors and UB fail the run.
echo "== build (clang, ASan + UBSan + libFuzzer)"
cmake -S . -B build-asan "${clang[@]}" "${unity[@]}" -DPROMOWATCH_SANITIZE=ON -DPROMOWATCH_FUZZ=ON >/dev/null
cmake --build build-asan -j"$jobs" --target unit_tests fuzzers
# Data races: another clang build with TSan, for the unit tests and the
# binary that tests/live_tsan_test.sh runs (in ctest below).
echo "== build (clang, TSan)"
cmake -S . -B build-tsan "${clang[@]}" "${unity[@]}" -DPROMOWATCH_TSAN=ON >/dev/null
cmake --build build-tsan -j"$jobs" --target unit_tests promowatch

# Both sanitizer runs at once (their tests wait on sockets and Kafka much
# of the time); each one's output after both end.
echo "== unit tests under ASan/UBSan and under TSan"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ./build-asan/tests/unit_tests --gtest_brief=1 \
  > unit-asan.log 2>&1 &
asan_pid=$!
unit_status=0
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
  ./build-tsan/tests/unit_tests --gtest_brief=1 > unit-tsan.log 2>&1 || unit_status=1
wait "$asan_pid" || unit_status=1
if [ "$unit_status" = 0 ]; then
  echo "-- ASan/UBSan:"; tail -n 2 unit-asan.log
  echo "-- TSan:"; tail -n 2 unit-tsan.log
else
  echo "-- ASan/UBSan:"; cat unit-asan.log
  echo "-- TSan:"; cat unit-tsan.log
  exit 1
fi

# Every fuzzer briefly (tests/fuzz/README.md), beside the end-to-end tests
# (those mostly wait on processes; the fuzzers use the spare CPU).
bash tests/fuzz/run.sh build-asan "${FUZZ_SECONDS:-10}" > fuzz.log 2>&1 &
fuzz_pid=$!

echo "== end-to-end tests"
status=0
(cd build && ctest --output-on-failure -j"$jobs") || status=$?
echo "== fuzzers"
wait "$fuzz_pid" || status=1
cat fuzz.log
exit "$status"
