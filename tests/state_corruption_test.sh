#!/usr/bin/env bash
# Self-healing state (issue 29, finding 5): 64 flipped bytes in a table
# file of the local state. `run` must find it at start-up (checksums),
# keep the damaged directory aside (<dir>.corrupt-<time>), say so in the log
# and in promowatch_state_moved_aside_total, rebuild every task from its
# changelog and go on: the windows equal SQL and every record counts once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
cd "$WORK"
PARTITIONS=3
start_mock_kafka --partitions $PARTITIONS
produce_sale -n 20000 --rate 100 --seed 8 --late-rate 0 --malformed-rate 0 --duplicate-rate 0.02
printf 'watermark: {idle_timeout: 3s}\nstate: {checkpoint_interval: 500ms}\nkafka: {properties: {session.timeout.ms: "6000"}}\n' > live.yaml
METRICS=127.0.0.1:$(free_port)
run() {
  "$PROMOWATCH" run -c live.yaml --brokers "$BROKERS" --group heal --state-dir state \
    --results-format json --metrics-address "$METRICS" 2>> run.log &
  RUN_PID=$!
  PIDS+=($RUN_PID)
}
read_half() { grep -q "read=$(( PRODUCED ))" run.log 2>/dev/null; }
run
wait_for 90 "the first run to read all $PRODUCED records" read_half
kill -TERM $RUN_PID; wait $RUN_PID || fail "the first run did not exit 0"
# Table files: a clean stop flushes the memtables into them.
sst=$(ls -S state/ | grep '\.sst$' | head -1 || true)
[ -z "$sst" ] || sst=state/$sst
[ -n "$sst" ] || fail "no table file in the state directory to damage: $(ls state)"
python3 - "$sst" <<'PY'
import sys
p = sys.argv[1]
with open(p, "r+b") as f:
    data = bytearray(f.read())
    mid = len(data) // 3
    for i in range(64):
        data[mid + i] ^= 0xFF
    f.seek(0); f.write(data)
PY
run
healed() {
  grep -q 'msg="local state failed its checksums: moved aside' run.log &&
    [ "$(grep -c 'msg="task restored from changelog"' run.log)" -ge $PARTITIONS ] &&
    curl -sf "http://$METRICS/metrics" > metrics.txt &&
    grep -q '^promowatch_state_moved_aside_total 1' metrics.txt
}
wait_for 90 "the damaged state moved aside and every task rebuilt from its changelog" healed
ls -d state.corrupt-* >/dev/null 2>&1 || fail "the damaged directory was not kept"
kill -TERM $RUN_PID; wait $RUN_PID || fail "the healed run did not exit 0: $(tail -3 run.log)"
kcat -b "$BROKERS" -C -t promowatch-metrics -e -q > results.jsonl
check_against_sql "$(final_results_watermark run.log)" results.jsonl
pass "a damaged table file: moved aside, $PARTITIONS tasks rebuilt from their changelog, $(val rows_got) windows equal SQL"
