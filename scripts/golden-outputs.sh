#!/usr/bin/env bash
# Writes promowatch's outputs for a fixed generated sale into DIR: replay
# with alert rules and user profiles (results, dead letters, late records,
# alert transitions, tag changes), replay --tasks 1/2/7, and backtest. Run
# it with the binary before and after a refactor and `diff -r` the two
# directories: a change that should not change behaviour changes no byte.
#   scripts/golden-outputs.sh build/promowatch /tmp/before
set -euo pipefail
BIN=$(readlink -f "${1:?usage: $0 path/to/promowatch OUTDIR [RECORDS]}")
OUT=${2:?usage: $0 path/to/promowatch OUTDIR [RECORDS]}
N=${3:-300000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"
OUT=$(readlink -f "$OUT")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"  # inputs by relative path: dead letters name their source
T0=1794326280000
M=60000
"$BIN" gen --format binary -n "$N" --rate 300 --peak-factor 3 --campaigns 5 --seed 5 \
  --anomaly ctr:douyin:$((T0 + 20 * M)):$((T0 + 35 * M)) -o sale.bin 2>/dev/null
printf 'windows:\n  sizes: [1m, 5m, 15m]\n' > windows.yaml
printf 'profiles:\n  enabled: true\n' | cat windows.yaml - > profiles.yaml
RULES=$ROOT/tests/fixtures/rules/every-metric.yaml
run() { "$BIN" "$@" > /dev/null 2>> "$WORK/log" || { tail -5 "$WORK/log" >&2; exit 1; }; }
run replay -i sale.bin -c profiles.yaml --rules "$RULES" \
  -o "$OUT/profiles.results.jsonl" --dead-letter "$OUT/profiles.dead.jsonl" \
  --late-output "$OUT/profiles.late.jsonl" --alerts-output "$OUT/profiles.alerts.jsonl" \
  --tags-output "$OUT/profiles.tags.jsonl"
for t in 1 2 7; do
  run replay -i sale.bin -c windows.yaml --rules "$RULES" --tasks $t \
    -o "$OUT/tasks$t.results.jsonl" --dead-letter "$OUT/tasks$t.dead.jsonl" \
    --alerts-output "$OUT/tasks$t.alerts.jsonl"
done
run backtest -c windows.yaml --rules "$RULES" -i sale.bin \
  -o "$OUT/backtest.transitions.jsonl"
run backtest --rules "$ROOT/deploy/compose/rules.yaml" -i sale.bin -o "$OUT/backtest.compose.jsonl"
wc -l "$OUT"/*
