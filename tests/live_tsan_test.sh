#!/usr/bin/env bash
# The live path under ThreadSanitizer (run by scripts/test.sh with the
# PROMOWATCH_TSAN build): two `promowatch run` members of one group, the
# second joining mid-stream (a rebalance moves tasks while records flow),
# profiles and the query API on, and the HTTP port scraped and queried
# throughout - the threads that meet are the poll loop, the HTTP
# connections, the notifier, librdkafka's callbacks and RocksDB's. A data
# race stops a member at once (halt_on_error) with exit 66 and its report in
# its log; the test then fails with the report. Correctness of the numbers
# is pinned by the other live tests; here every record must be consumed and
# both members must stop cleanly on SIGTERM.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
cd "$WORK"
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$TESTS_DIR/tsan.supp"

PARTITIONS=4
start_mock_kafka --partitions $PARTITIONS
produce_sale -n 4000 --rate 40 --seed 11 --late-rate 0 --malformed-rate 0.01 --duplicate-rate 0.02
cp "$TESTS_DIR/fixtures/profiles-live.yaml" live.yaml
TOKEN=test-token-0123456789

# member N: its own state dir, port and log; sets PID_N and PORT_N.
start_member() {
  local port
  port=$(free_port)
  "$PROMOWATCH" run -c live.yaml --brokers "$BROKERS" --group tsan --state-dir "state$1" \
    --results-format json --metrics-address "127.0.0.1:$port" 2> "run$1.log" &
  PIDS+=($!)
  eval "PID_$1=$! PORT_$1=$port"
}
alive() {
  local pid=$1 log=$2
  kill -0 "$pid" 2>/dev/null && return 0
  local rc=0
  wait "$pid" || rc=$?
  [ "$rc" = 66 ] && fail "ThreadSanitizer stopped $log: $(sed -n '/WARNING: ThreadSanitizer/,/^SUMMARY/p' "$log" | head -60)"
  fail "a member exited $rc before SIGTERM: $(tail -5 "$log")"
}
# Queries every HTTP route of member N once (what a scraper, a probe and a
# dashboard do while it runs); a TSan stop shows up in alive above.
poke() {
  local port=$1
  curl -s -o /dev/null "http://127.0.0.1:$port/metrics" || true
  curl -s -o /dev/null "http://127.0.0.1:$port/healthz" || true
  curl -s -o /dev/null "http://127.0.0.1:$port/readyz" || true
  curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/v1/users/u1" || true
  curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/v1/tags/active" || true
}
# Lag of member N's partitions (the gauge exists once a partition is assigned).
lag_zero() {
  local port=$1
  curl -sf "http://127.0.0.1:$port/metrics" > "m$port.txt" || return 1
  grep -q '^promowatch_consumer_lag_records{' "m$port.txt" &&
    ! grep '^promowatch_consumer_lag_records{' "m$port.txt" | grep -qv ' 0$'
}

start_member 1
read_some() { alive "$PID_1" run1.log; poke "$PORT_1"; grep -q 'read=[1-9][0-9][0-9]' run1.log; }
wait_for 120 "member 1 to read its first records" read_some
start_member 2
both_done() {
  alive "$PID_1" run1.log; alive "$PID_2" run2.log
  poke "$PORT_1"; poke "$PORT_2"
  lag_zero "$PORT_1" && lag_zero "$PORT_2" &&
    [ "$(grep -h '^promowatch_tasks_owned ' "m$PORT_1.txt" "m$PORT_2.txt" | awk '{ s += $2 } END { print s }')" = "$PARTITIONS" ]
}
wait_for 240 "both members to own all $PARTITIONS tasks with every partition's lag at 0" both_done

kill -TERM "$PID_1" "$PID_2"
for n in 1 2; do
  eval "pid=\$PID_$n"
  rc=0
  wait "$pid" || rc=$?
  [ "$rc" = 66 ] && fail "ThreadSanitizer stopped run$n.log: $(sed -n '/WARNING: ThreadSanitizer/,/^SUMMARY/p' "run$n.log" | head -60)"
  [ "$rc" = 0 ] || fail "member $n exited $rc on SIGTERM: $(tail -5 "run$n.log")"
  grep -q 'WARNING: ThreadSanitizer' "run$n.log" && fail "ThreadSanitizer report in run$n.log"
done
read1=$(grep 'msg="stopped"' run1.log | tr ' ' '\n' | sed -n 's/^read=//p')
read2=$(grep 'msg="stopped"' run2.log | tr ' ' '\n' | sed -n 's/^read=//p')
[ $((read1 + read2)) -ge "$PRODUCED" ] || fail "the members read $read1 + $read2 records, fewer than the $PRODUCED produced"
pass "under ThreadSanitizer: two members, a rebalance mid-stream, HTTP queried throughout; $PRODUCED records consumed (read $read1 + $read2), both stopped with exit 0, no race reported"
