#!/usr/bin/env bash
# Hot-path regression check: instructions per event, counted by callgrind
# (repeatable on a noisy shared machine, unlike time), against the budget
# committed in bench/callgrind_budget.txt. The budget is a measured figure
# plus 25% headroom, so a change that makes the hot path more than 25%
# slower fails here. Per-event cost is the difference between two replays
# of the same sale (20k and 80k binary records) divided by the 60k extra
# records, so start-up (RocksDB open, config) cancels out.
#   UPDATE_BUDGET=1 ctest -R perf_budget   rewrites the budget (measured x 1.25)
source "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || fail "valgrind is not installed (scripts/install-deps.sh installs it)"
BUDGET_FILE="$TESTS_DIR/../bench/callgrind_budget.txt"
cd "$WORK"
"$PROMOWATCH" gen -n 20000 --seed 11 --rate 2000 -o small.bin 2>/dev/null
"$PROMOWATCH" gen -n 80000 --seed 11 --rate 2000 -o big.bin 2>/dev/null
# Checkpoints by record count only: with the default 5 s interval, how many
# checkpoints fall in a run depends on how fast the machine runs callgrind,
# and with profiles on they are a large share of the instructions.
printf 'windows:\n  sizes: [1m, 5m]\nstate:\n  checkpoint_interval: 1h\n  checkpoint_every_records: 20000\n' > plain.yaml
printf 'windows:\n  sizes: [1m, 5m]\nstate:\n  checkpoint_interval: 1h\n  checkpoint_every_records: 20000\nprofiles:\n  enabled: true\n' > profiles.yaml
printf 'segments:\n  enabled: true\n' | cat profiles.yaml - > segments.yaml

# instructions CONFIG INPUT: every instruction the replay executed (all threads).
# Its state in a directory of its own making, deleted at its end: a kept
# --state-dir is flushed at the end (table files written), which is no
# part of the per-event cost.
instructions() {
  rm -rf out.jsonl dl.jsonl cg.out
  TMPDIR=$WORK valgrind --tool=callgrind --callgrind-out-file=cg.out "$PROMOWATCH" replay -c "$1" -i "$2" \
    -o out.jsonl --dead-letter dl.jsonl 2> cg.log || fail "replay under callgrind failed: $(tail -3 cg.log)"
  local total
  total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' cg.out)
  [ -n "$total" ] || total=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' cg.out)
  [ -n "$total" ] || fail "no instruction total in callgrind's output"
  echo "$total"
}

updated=()
for path in plain profiles segments; do
  small=$(instructions $path.yaml small.bin)
  big=$(instructions $path.yaml big.bin)
  per_event=$(( (big - small) / 60000 ))
  budget=$(awk -v k="$path" '$1 == k { print $2 }' "$BUDGET_FILE" 2>/dev/null || true)
  if [ -n "${UPDATE_BUDGET:-}" ]; then
    updated+=("$path $(( per_event * 125 / 100 ))")
    echo "$path: $per_event instructions per event, budget set to $(( per_event * 125 / 100 ))"
    continue
  fi
  [ -n "$budget" ] || fail "no budget for '$path' in $BUDGET_FILE (UPDATE_BUDGET=1 writes one)"
  [ "$per_event" -le "$budget" ] || fail "$path: $per_event instructions per event, over the budget of $budget (measured + 25%): the hot path got slower; profile it (BENCHMARKS.md) or, if the cost is intended, raise the budget with UPDATE_BUDGET=1"
  pass "$path: $per_event instructions per event, within the budget of $budget ($(( per_event * 100 / budget ))%)"
  # Much faster than the budget was set for: the headroom no longer catches a 25% slowdown.
  [ $(( per_event * 125 )) -ge $(( budget * 100 * 100 / 125 )) ] ||
    echo "note: $path is now well under its budget; lower it (UPDATE_BUDGET=1) so the check stays tight"
done
if [ -n "${UPDATE_BUDGET:-}" ]; then
  {
    echo "# Instructions per event (callgrind) of the replay hot path, measured + 25% headroom;"
    echo "# checked by tests/perf_budget_test.sh. Rewrite with UPDATE_BUDGET=1 ctest -R perf_budget."
    printf '%s\n' "${updated[@]}"
  } > "$BUDGET_FILE"
fi
