#!/usr/bin/env bash
# Scale-out, part 1: state follows its partition. Two `promowatch run`
# instances in one group on the embedded cluster while a sale flows in: one
# is killed with SIGKILL and restarted on an empty state dir (its tasks come
# back from the changelog), then the other is paused past its session
# timeout (SIGSTOP: its tasks move) and resumed (SIGCONT: a zombie, which
# must not write). A task's counters are part of its state, so summed over
# the instances (promowatch_task_records) they must equal SQL over the same
# events: every record counted once, wherever and however often its task
# moved. (Results themselves become exact across instances in part 2.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
cd "$WORK"

PARTITIONS=4
start_mock_kafka --partitions $PARTITIONS
SALE=(--format json -n 24000 --rate 250 --seed 51 --late-rate 0 --malformed-rate 0.005 --duplicate-rate 0.03)
"$PROMOWATCH" gen "${SALE[@]}" -o events.jsonl 2>/dev/null
produced=$(wc -l < events.jsonl)
cp "$TESTS_DIR/fixtures/live-crash.yaml" live.yaml

# start_instance NAME: `promowatch run` on state-NAME, log NAME.log, /metrics on METRICS_NAME.
start_instance() {
  local port
  port=127.0.0.1:$(free_port)
  printf -v "METRICS_$1" '%s' "$port"
  "$PROMOWATCH" run -c live.yaml --brokers "$BROKERS" --group scale --state-dir "state-$1" \
    --results-format json --metrics-address "$port" 2>> "$1.log" &
  printf -v "PID_$1" '%s' $!
  PIDS+=($!)
}
# metric NAME REGEX: the sum of the samples matching REGEX on NAME's /metrics (0 when down).
metric() {
  local var="METRICS_$1"
  curl -sf "http://${!var}/metrics" 2>/dev/null | awk -v re="$2" '$0 ~ re && $1 !~ /^#/ { s += $NF } END { printf "%d", s }'
}
owned() { metric "$1" '^promowatch_tasks_owned '; }

start_instance a
start_instance b
# The sale flows in while tasks move: bare typed values keyed by user id
# (spend by event id), ~16 s at 1500 records/s.
"$PROMOWATCH" gen "${SALE[@]}" --brokers "$BROKERS" --rate-limit 1500 2> gen.log &
GEN_PID=$!
PIDS+=($GEN_PID)

both_run_tasks() { [ "$(owned a)" -ge 1 ] && [ "$(owned b)" -ge 1 ] && [ $(( $(owned a) + $(owned b) )) = $PARTITIONS ]; }
wait_for 40 "both instances to run tasks" both_run_tasks

# 1. SIGKILL, and a new disk: the restarted member's tasks come from the
# changelog (once a has checkpointed the tasks it runs).
appended=$(metric a '^promowatch_changelog_records_total ')
checkpointed() { [ "$(metric a '^promowatch_changelog_records_total ')" -gt "$appended" ] && both_run_tasks; }
wait_for 40 "instance a to checkpoint its tasks to the changelog" checkpointed
kill -9 "$PID_a"
wait "$PID_a" 2>/dev/null || true
mv a.log a-killed.log
rm -rf state-a
start_instance a
rebuilt() { grep -q 'msg="task restored from changelog"' a.log && both_run_tasks; }
wait_for 60 "the restarted instance (empty state dir) to run tasks rebuilt from the changelog" rebuilt

# 2. A pause past the session timeout: b's tasks move to a; resumed, b is a
# zombie until it notices, and must not write.
kill -STOP "$PID_b"
a_has_all() { [ "$(owned a)" = $PARTITIONS ]; }
wait_for 40 "the paused instance's tasks to move" a_has_all
kill -CONT "$PID_b"
wait_for 40 "the resumed instance to run tasks again" both_run_tasks

wait "$GEN_PID" || fail "gen --brokers failed: $(tail -3 gen.log)"
counted() { [ $(( $(metric a 'promowatch_task_records\{.*outcome="read"') + $(metric b 'promowatch_task_records\{.*outcome="read"') )) = "$produced" ]; }
wait_for 90 "the tasks' read counters, summed over both instances, to reach $produced" counted

# The same counts by SQL (tests/sql/reference.sql over the same events).
rm -f db.sqlite
{
  echo "BEGIN; CREATE TABLE raw(seq INTEGER PRIMARY KEY, line TEXT);"
  sed "s/'/''/g; s/.*/INSERT INTO raw(line) VALUES('&');/" events.jsonl
  echo "COMMIT;"
} > load.sql
sqlite3 db.sqlite < load.sql
sqlite3 db.sqlite > check.out <<SQL
.read $TESTS_DIR/sql/reference.sql
SELECT 'accepted', COUNT(*) FROM accepted;
SELECT 'duplicate', (SELECT COUNT(*) FROM on_time) - (SELECT COUNT(*) FROM accepted);
SELECT 'rejected', COUNT(*) FROM judged WHERE reason IS NOT NULL;
SQL
for outcome in accepted duplicate rejected; do
  got=$(( $(metric a "promowatch_task_records\\{.*outcome=\"$outcome\"") + $(metric b "promowatch_task_records\\{.*outcome=\"$outcome\"") ))
  [ "$got" = "$(val "$outcome")" ] || fail "$outcome: the tasks count $got over both instances, SQL $(val "$outcome")"
done
# The sale has no late records: a task moved here with older data is judged
# by its own watermark, not by the tasks ahead of it (watermarks.h).
late=$(( $(metric a 'promowatch_task_records\{.*outcome="late"') + $(metric b 'promowatch_task_records\{.*outcome="late"') ))
[ "$late" = 0 ] || fail "$late records were judged late; the sale has none (a task judged by another task's watermark?)"
grep -q 'msg="partitions lost' b.log || fail "the resumed instance never noticed it had been out of the group"

kill -TERM "$PID_a" "$PID_b"
wait "$PID_a" || fail "instance a did not exit 0 on SIGTERM"
wait "$PID_b" || fail "instance b did not exit 0 on SIGTERM"
pass "two instances, one killed and restarted empty, one paused past its session: task counters sum to SQL ($produced read, $(val accepted) accepted, $(val duplicate) duplicates, $(val rejected) rejected)"
