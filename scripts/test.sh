#!/usr/bin/env bash
# Builds promowatch and runs every test: unit tests (also under
# AddressSanitizer + UndefinedBehaviorSanitizer) and the end-to-end checks.
# Installs missing Debian packages first. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROMOWATCH_BUILD_BENCH=ON >/dev/null
cmake --build build -j"$jobs"

# Sanitizers over the unit tests: memory errors and UB fail the run.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPROMOWATCH_SANITIZE=ON \
  -DPROMOWATCH_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs" --target unit_tests
echo "== unit tests under ASan/UBSan"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ./build-asan/tests/unit_tests --gtest_brief=1

echo "== all tests"
cd build
ctest --output-on-failure -j"$jobs"
