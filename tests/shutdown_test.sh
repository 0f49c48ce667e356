#!/usr/bin/env bash
# SIGTERM in every state of a join (issue 29, finding 4): a member stopped
# before, during and after the rebalance that lets it in exits 0 - also in
# the window between the group's JoinGroup answer and its first assignment,
# where librdkafka 2.0.2's sticky assignor aborts a consumer being destroyed
# (KafkaSource::Close) - and so does a member already in the group that is
# stopped while another joins. The moments are spread over the join (the
# embedded cluster's join takes about 3 s) plus a random jitter each run.
source "$(dirname "$0")/lib.sh"
cd "$WORK"
start_mock_kafka --partitions 4
cat > c.yaml <<'YAML'
kafka:
  properties:
    session.timeout.ms: "6000"
    heartbeat.interval.ms: "500"
YAML
member() {  # NAME: a `run` in group g, its pid in PID
  "$PROMOWATCH" run -c c.yaml --brokers "$BROKERS" --group g --state-dir "state-$1" \
    --metrics-address "127.0.0.1:$(free_port)" 2> "$1.log" &
  PID=$!
  PIDS+=($PID)
}
stop() {  # PID NAME WHEN
  kill -TERM "$1"
  local rc=0
  wait "$1" || rc=$?
  [ "$rc" = 0 ] || fail "$2 stopped $3 exited $rc (134: the assignor abort): $(tail -3 "$2.log")"
}
member first
FIRST=$PID
wait_for 30 "the first member's assignment" grep -qs 'msg="task assigned"' first.log
stops=0 unassigned=0
for tenths in 2 5 8 11 14 17 20 23 26 29 32 36; do
  member joiner
  sleep "$(( tenths / 10 )).$(( tenths % 10 ))$(( RANDOM % 10 ))"
  stop "$PID" joiner "$tenths/10 s into its join"
  stops=$((stops + 1))
  grep -q 'before its first assignment' joiner.log && unassigned=$((unassigned + 1))
  rm -f joiner.log
done
[ "$unassigned" -ge 2 ] || fail "only $unassigned of $stops stops fell before the first assignment: the test missed the window"
# The member already in the group, stopped while another joins; then the
# joiner (now alone) after its rebalance.
member second
SECOND=$PID
sleep 1.5
stop "$FIRST" first "while another member joined"
wait_for 30 "the second member to take every task" sh -c "[ \$(grep -c 'msg=\"task assigned\"' second.log) -ge 4 ]"
stop "$SECOND" second "after its rebalance"
pass "$stops members stopped at moments spread over their join ($unassigned before their first assignment), one stopped while another joined, one after: every one exited 0"
