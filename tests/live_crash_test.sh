#!/usr/bin/env bash
# Exactly-once effect on state, live: `promowatch run` is killed with SIGKILL
# at several points (mid-stream and in the middle of checkpoints, through the
# PROMOWATCH_FAULT_KILL hook) and restarted on the same --state-dir each
# time, but once on an empty one (its tasks rebuilt from the changelog). Results published twice must be identical (consumers upsert), and
# the distinct results must equal the SQL reference: nothing lost, nothing
# counted twice.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
cd "$WORK"

# 6 partitions: the input stays well inside the embedded cluster's 5 MiB per
# partition (checked by produce_sale).
PARTITIONS=6
start_mock_kafka --partitions $PARTITIONS
produce_sale -n 60000 --rate 250 --seed 33 --late-rate 0 --malformed-rate 0.005 --duplicate-rate 0.03
cp "$TESTS_DIR/fixtures/live-crash.yaml" live.yaml

# Kill points stay reachable: together they read at most ~45k of the ~60k records.
# Before one restart the state dir is gone (a new disk): every task is
# rebuilt from its changelog partition, offsets and all.
kill_at_points live.yaml crash records:9000 checkpoint:2 records:8000 lose-state checkpoint:1 records:6000 records:7000
kills=$KILLS
rebuilt=$(sed -n '/msg="state dir deleted"/,$p' crash.log | grep -c 'msg="task restored from changelog"' || true)
[ "$rebuilt" -ge "$PARTITIONS" ] || fail "after the state dir was deleted, $rebuilt of $PARTITIONS tasks were rebuilt from the changelog"

METRICS=127.0.0.1:$(free_port)
start_run live.yaml crash --metrics-address "$METRICS"
wait_read "$PRODUCED" 90
wait_watermark 30
stop_run "$PRODUCED"

kcat -b "$BROKERS" -C -t promowatch-metrics -e -q > results.jsonl
published=$(wc -l < results.jsonl)
check_against_sql "$(final_results_watermark run.log)" results.jsonl
pass "run killed $kills times and restarted (once with its state dir deleted, $rebuilt tasks rebuilt from the changelog): $(val rows_got) windows match SQL ($published published, re-publications identical)"
