#!/usr/bin/env bash
# Runs every libFuzzer target of BUILD_DIR (cmake -DPROMOWATCH_FUZZ=ON, clang)
# for SECONDS each: first its regression inputs (every crash ever found,
# tests/fuzz/regressions/<target>/), then fuzzing from its seeds
# (tests/fuzz/seeds/<target>/) in a scratch corpus. A crash, a leak, a hang
# over 10 s or UB fails the run and leaves the input in the work dir.
# Usage: tests/fuzz/run.sh BUILD_DIR [SECONDS]
set -euo pipefail
build=$(readlink -f "${1:?usage: $0 BUILD_DIR [SECONDS]}")
seconds=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/promowatch-fuzz-XXXXXX")
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1
failed=0
for target in decode_fuzz json_differential_fuzz file_reader_fuzz config_fuzz query_api_fuzz; do
  bin="$build/tests/fuzz/$target"
  [ -x "$bin" ] || { echo "FAIL: $bin is not built (cmake --build $build --target fuzzers)"; exit 1; }
  if [ -d "$here/regressions/$target" ] && [ -n "$(ls -A "$here/regressions/$target")" ]; then
    "$bin" "$here/regressions/$target"/* > "$work/$target.regressions.log" 2>&1 ||
      { echo "FAIL: $target on a regression input: $(grep -m1 -E 'ERROR|runtime error|abort' "$work/$target.regressions.log")"; failed=1; continue; }
  fi
  mkdir -p "$work/$target.corpus"
  if (cd "$work" && "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$work/$target-" \
        -print_final_stats=1 "$work/$target.corpus" "$here/seeds/$target" > "$work/$target.log" 2>&1); then
    runs=$(grep -m1 'stat::number_of_executed_units' "$work/$target.log" | awk '{print $2}')
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$work/$target.log" | tail -1)
    echo "PASS: $target: $runs runs in ${seconds}s, $cov, 0 crashes"
  else
    echo "FAIL: $target: $(grep -m1 -E 'ERROR|runtime error|abort|Timeout' "$work/$target.log") (input: $(ls "$work" | grep -E "^$target-(crash|leak|timeout|oom)-" | head -1); log $work/$target.log)"
    failed=1
  fi
done
[ "$failed" = 0 ] && rm -rf "$work"
exit "$failed"
