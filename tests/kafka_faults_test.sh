#!/usr/bin/env bash
# Kafka misbehaving under a running promowatch, driven through the embedded
# cluster's fault API (`promowatch mock-kafka --control`, commands on a
# FIFO): a broker down for 10 s mid-stream, then Fetch, Produce and
# OffsetCommit errors, 300 ms round trips on a broker and a partition
# leader moving while the second half of the sale arrives. Nothing may be
# lost or counted twice: the results equal the SQL reference over the whole
# sale, every record is read once, and the run exits 0 on SIGTERM.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
cd "$WORK"

PARTITIONS=3
mkfifo control
"$PROMOWATCH" mock-kafka --brokers 3 --partitions $PARTITIONS --control < control > mock.out 2> mock.log &
MOCK_PID=$!
PIDS+=($MOCK_PID)
disown $MOCK_PID
exec 3> control  # (held open: mock-kafka reads commands until the test ends)
wait_for 20 "mock-kafka to print its bootstrap address" test -s mock.out
BROKERS=$(head -n 1 mock.out)
# fault COMMAND...: applied, and acknowledged by mock-kafka.
fault() {
  local before
  before=$(grep -c '^ok ' mock.out || true)
  echo "$*" >&3
  applied() { [ "$(grep -c '^ok ' mock.out)" -gt "$before" ] || { grep -q '^error ' mock.out && fail "mock-kafka refused '$*': $(grep '^error ' mock.out)"; return 1; }; }
  wait_for 10 "mock-kafka to apply '$*'" applied
}

# One sale, produced in two halves by its global order (no disorder, no
# duplicates or late records: lateness at the cut would depend on timing).
"$PROMOWATCH" gen --format json -n 16000 --rate 60 --seed 31 --late-rate 0 --malformed-rate 0.005 \
  --duplicate-rate 0 --disorder-rate 0 -o events.jsonl 2>/dev/null
"$PROMOWATCH" gen --format binary -n 16000 --rate 60 --seed 31 --late-rate 0 --malformed-rate 0.005 \
  --duplicate-rate 0 --disorder-rate 0 --split bin 2>/dev/null
grep '"click"' events.jsonl > clicks.jsonl  # (wait_watermark reads its event times)
CUT=8000
produce_part() {  # FIRST_SEQ LAST_SEQ (0-based, inclusive): that part of every topic
  awk -v a="$1" -v b="$2" 'NR - 1 >= a && NR - 1 <= b && /"click"/' events.jsonl | produce_keyed clickstream
  awk -v a="$1" -v b="$2" 'NR - 1 >= a && NR - 1 <= b && /"spend"/' events.jsonl > part.jsonl
  [ -s part.jsonl ] && kcat -b "$BROKERS" -P -t spend -l part.jsonl
  (cd bin && ls | grep -E '\.(order|bad)\.bin$' | awk -F. -v a="$1" -v b="$2" '$1 + 0 >= a && $1 + 0 <= b' |
    xargs -r kcat -b "$BROKERS" -P -t orders)
}
count_part() {
  echo $(( $(awk -v a="$1" -v b="$2" 'NR - 1 >= a && NR - 1 <= b && (/"click"/ || /"spend"/)' events.jsonl | wc -l) +
           $(ls bin | grep -E '\.(order|bad)\.bin$' | awk -F. -v a="$1" -v b="$2" '$1 + 0 >= a && $1 + 0 <= b' | wc -l) ))
}
FIRST=$(count_part 0 $((CUT - 1)))
TOTAL=$(count_part 0 99999999)
produce_part 0 $((CUT - 1))

cp "$TESTS_DIR/fixtures/live.yaml" live.yaml
METRICS=127.0.0.1:$(free_port)
start_run live.yaml faults --metrics-address "$METRICS"
wait_read "$FIRST" 60

# A broker down for 10 s (the outage's length, not a wait for something):
# its partitions cannot be fetched; promowatch keeps running.
fault down 1
sleep 10
kill -0 $RUN_PID || fail "promowatch run died while a broker was down: $(tail -5 run.log)"
fault up 1

# Errors on the next requests, slow round trips, a leader moving - while
# the second half arrives.
fault errors Fetch 5 NOT_LEADER_FOR_PARTITION
fault errors OffsetCommit 3 COORDINATOR_LOAD_IN_PROGRESS
fault errors Produce 3 NOT_ENOUGH_REPLICAS
fault rtt 2 300
fault leader clickstream 0 3
produce_part "$CUT" 99999999
fault leader orders 1 2
wait_read "$TOTAL" 120
wait_watermark 60
scrape
[ "$(metric_sum '^promowatch_records_total')" = "$TOTAL" ] || fail "promowatch_records_total is $(metric_sum '^promowatch_records_total'), want $TOTAL"
[ "$(metric_sum '^promowatch_deliveries_failed_total')" = 0 ] || fail "deliveries failed: $(grep deliveries_failed metrics.txt)"
lag_zero() { scrape && [ "$(metric_sum '^promowatch_consumer_lag_records')" = 0 ]; }
wait_for 30 "the consumer lag of every partition to come back to 0" lag_zero
stop_run "$TOTAL"

kcat -b "$BROKERS" -C -t promowatch-metrics -e -q > results.jsonl
check_against_sql "$(final_results_watermark run.log)" results.jsonl
pass "Kafka faults (broker down 10 s, Fetch/Produce/OffsetCommit errors, 300 ms RTT, leader moves): $(val rows_got) windows from $TOTAL records equal SQL, every record read once"
