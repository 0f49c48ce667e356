#!/usr/bin/env bash
# Kafka misbehaving under a running promowatch, driven through the embedded
# cluster's fault API (`promowatch mock-kafka --control`, commands on a
# FIFO): a broker down for 30 s while a third of the sale is produced,
# the group coordinator down for 8 s, then Fetch, Produce and OffsetCommit errors, 300 ms round trips on a
# broker and a partition leader moving while the last third arrives.
# Nothing may be lost or counted twice: the results equal the SQL reference
# over the whole sale (no record late: the partitions of the broker that was
# down were waited for, not taken as idle), every record is read once, the
# outage is in the metrics, the log and an info alert on promowatch-alerts,
# and the run exits 0 on SIGTERM.
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

# One sale, produced in three parts by its global order (no disorder, no
# duplicates or late records: lateness at the cut would depend on timing).
"$PROMOWATCH" gen --format json -n 16000 --rate 60 --seed 31 --late-rate 0 --malformed-rate 0.005 \
  --duplicate-rate 0 --disorder-rate 0 -o events.jsonl 2>/dev/null
"$PROMOWATCH" gen --format binary -n 16000 --rate 60 --seed 31 --late-rate 0 --malformed-rate 0.005 \
  --duplicate-rate 0 --disorder-rate 0 --split bin 2>/dev/null
grep '"click"' events.jsonl > clicks.jsonl  # (wait_watermark reads its event times)
CUT=6000      # produced before the run starts
OUTAGE=11000  # [CUT, OUTAGE) produced while broker 1 is down; the rest during the errors
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

# Alerts to the real Alertmanager: the outage must show there as the info
# alert promowatch_data_incomplete (rules are held, nobody is paged).
use_alertmanager
start_am
cp "$TESTS_DIR/fixtures/live.yaml" live.yaml
cat >> live.yaml <<YAML
alerts:
  alertmanager:
    urls: ["$AM"]
YAML
METRICS=127.0.0.1:$(free_port)
fault coordinator group faults 2  # (broker 1 goes down first, without the group's coordinator)
start_run live.yaml faults --metrics-address "$METRICS"
wait_read "$FIRST" 60

# A broker down for 30 s while the next part is produced: the partitions
# it leads can be neither fetched nor written (kcat holds their records
# until it is back). They are unreachable, not idle: the watermark waits
# for them, and the data counts as incomplete until they are back.
fault down 1
outage_seen() {
  kill -0 $RUN_PID 2>/dev/null || fail "promowatch run died while a broker was down: $(tail -5 run.log)"
  scrape && [ "$(metric_sum '^promowatch_partitions_unreachable')" -gt 0 ] &&
    grep -q '^promowatch_data_complete 0' metrics.txt
}
wait_for 20 "promowatch_partitions_unreachable > 0 and promowatch_data_complete 0" outage_seen
grep -q 'msg="partition unreachable: its windows wait for it"' run.log ||
  fail "no log line names the unreachable partitions: $(grep -i unreach run.log | head -3)"
am_info() {
  curl -sf "$AM/api/v2/alerts" > am_alerts.json &&
    jq -e 'any(.[]; .labels.alertname == "promowatch_data_incomplete" and .labels.severity == "info"
                    and .annotations.reason == "unreachable")' am_alerts.json >/dev/null
}
wait_for 20 "the info alert promowatch_data_incomplete (reason unreachable) in Alertmanager" am_info
# Producers keep sending (kcat in the background: it holds what it cannot deliver).
produce_part "$CUT" $((OUTAGE - 1)) > produce.log 2>&1 &
PRODUCER_PID=$!
sleep 25  # (the rest of the outage: its length, not a wait for something)
kill -0 $RUN_PID || fail "promowatch run died while a broker was down: $(tail -5 run.log)"
fault up 1
wait $PRODUCER_PID || fail "kcat did not deliver the records held for the broker that was down: $(tail -3 produce.log)"
recovered() {
  scrape && [ "$(metric_sum '^promowatch_partitions_unreachable')" = 0 ] &&
    grep -q '^promowatch_data_complete 1' metrics.txt
}
wait_for 60 "the partitions to be reachable and the data complete again" recovered
grep -q 'msg="partition reachable again"' run.log || fail "no log line says the partitions are back"

# The group's coordinator down for 8 s: past the 6 s session, the member
# loses its partitions, rejoins when the broker is back and resumes from
# its checkpoint.
fault down 2
sleep 8  # (the outage's length, not a wait for something)
fault up 2
grep -q 'Consumer group session timed out' run.log || fail "the member kept its session through an 8 s coordinator outage?"

# Errors on the next requests, slow round trips, a leader moving - while
# the last part arrives.
fault errors Fetch 5 NOT_LEADER_FOR_PARTITION
fault errors OffsetCommit 3 COORDINATOR_LOAD_IN_PROGRESS
fault errors Produce 3 NOT_ENOUGH_REPLICAS
fault rtt 2 300
fault leader clickstream 0 3
produce_part "$OUTAGE" 99999999
fault leader orders 1 2
wait_read "$TOTAL" 120
wait_watermark 60
scrape
# (Records read again after the member lost its partitions count again
# here: the process read them twice; stop_run checks the state's count.)
[ "$(metric_sum '^promowatch_records_total')" -ge "$TOTAL" ] || fail "promowatch_records_total is $(metric_sum '^promowatch_records_total'), want at least $TOTAL"
[ "$(metric_sum '^promowatch_deliveries_failed_total')" = 0 ] || fail "deliveries failed: $(grep deliveries_failed metrics.txt)"
lag_zero() { scrape && [ "$(metric_sum '^promowatch_consumer_lag_records')" = 0 ]; }
wait_for 30 "the consumer lag of every partition to come back to 0" lag_zero
stop_run "$TOTAL"
grep 'msg="stopped"' run.log | grep -q ' late=0 ' ||
  fail "records were late (a partition taken as idle while its broker was down?): $(grep 'msg="stopped"' run.log)"

kcat -b "$BROKERS" -C -t promowatch-metrics -e -q > results.jsonl
check_against_sql "$(final_results_watermark run.log)" results.jsonl
pass "Kafka faults (broker down 30 s while producing, coordinator down 8 s, Fetch/Produce/OffsetCommit errors, 300 ms RTT, leader moves): $(val rows_got) windows from $TOTAL records equal SQL, none late, every record read once; the outage reported as unreachable partitions and data incomplete"
