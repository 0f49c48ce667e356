# Helpers of the live-path tests (sourced after lib.sh, in $WORK).

# Every helper below talks to the cluster through kcat (a client nobody here wrote).
command -v kcat >/dev/null || fail "kcat is not installed (scripts/install-deps.sh installs it)"

# produce_sale GEN_ARGS...: one generated sale, sent with kcat: clicks and
# spend as JSON lines, orders (and binary garbage) as binary protobuf, one
# message per file. Sets PRODUCED (messages sent). events.jsonl is the whole
# sale as JSON, the input of the SQL reference.
produce_sale() {
  "$PROMOWATCH" gen --format json "$@" -o events.jsonl 2>/dev/null
  "$PROMOWATCH" gen --format binary "$@" --split bin 2>/dev/null
  grep '"click"' events.jsonl > clicks.jsonl
  grep '"spend"' events.jsonl > spend.jsonl
  produce_keyed clickstream < clicks.jsonl
  kcat -b "$BROKERS" -P -t spend -l spend.jsonl
  (cd bin && ls | grep -E '\.(order|bad)\.bin$' | xargs kcat -b "$BROKERS" -P -t orders)
  PRODUCED=$(( $(wc -l < clicks.jsonl) + $(wc -l < spend.jsonl) + $(ls bin | grep -cE '\.(order|bad)\.bin$') ))
  assert_all_retained
}

# produce_keyed TOPIC < JSON_LINES: each line to TOPIC keyed by its userId,
# as upstream producers do (partitions fill evenly; a user's events stay in
# order), placed by kcat's own default partitioner (librdkafka's
# consistent_random: CRC32 of the key), or by $KCAT_PARTITIONER when set
# (murmur2_random: the Java client's). Where that is not the task of the
# user under kafka.input_partitioner, promowatch repartitions the record.
# With a second argument FIELD, keyed by that JSON field instead (an order
# service keys by orderId): records land away from their user's task and
# promowatch repartitions them.
produce_keyed() {
  local field=${2:-userId}
  awk -v f="\"$field\":\"" '{ k = ""; i = index($0, f);
         if (i > 0) { rest = substr($0, i + length(f)); k = substr(rest, 1, index(rest, "\"") - 1) }
         print k "\t" $0 }' | kcat -b "$BROKERS" ${KCAT_PARTITIONER:+-X partitioner=$KCAT_PARTITIONER} -P -t "$1" -K '\t'
}

# events_between FILE FROM_MS TO_MS: the lines of gen's JSON output whose
# event time is in [FROM, TO) (the slice of a sale a test produces next).
events_between() {
  awk -v from="$2" -v to="$3" 'match($0, /"eventTimeMs":"[0-9]+"/) {
      t = substr($0, RSTART + 15, RLENGTH - 16) + 0; if (t >= from && t < to) print }' "$1"
}

# The embedded cluster keeps the newest 5 MiB of each partition (librdkafka's
# mock limit) and deletes older records, as Kafka retention would: a test
# whose input outgrows that would lose records before anyone reads them.
assert_all_retained() {
  local topic p first
  for topic in clickstream orders spend; do
    for p in $(seq 0 $((${PARTITIONS:-3} - 1))); do
      first=$(kcat -C -b "$BROKERS" -t "$topic" -p "$p" -o beginning -c 1 -e -q -f '%o\n')
      [ -z "$first" ] || [ "$first" = 0 ] ||
        fail "$topic/$p starts at offset $first: the embedded cluster deleted records (5 MiB per partition); produce fewer or use more partitions"
    done
  done
}

# check_against_sql WATERMARK RESULTS_FILE [AFTER_MS]: the distinct results
# against the SQL reference over events.jsonl, limited to windows final at
# WATERMARK (and ending after AFTER_MS). Fails on any difference; leaves
# check.out for val() and db.sqlite.
check_against_sql() {
  local watermark=$1 results=$2 after=${3:-0}
  rm -f db.sqlite
  {
    echo "BEGIN; CREATE TABLE raw(seq INTEGER PRIMARY KEY, line TEXT);"
    sql_insert "raw(line)" < events.jsonl
    echo "CREATE TABLE got_raw(line TEXT);"
    sort -u "$results" | sql_insert "got_raw(line)"
    # (Windows past it may be out already, from a global task ahead.)
    echo "DELETE FROM got_raw WHERE json_extract(line, '\$.window_end_ms') > $watermark"
    echo "  OR json_extract(line, '\$.window_end_ms') <= $after;"
    echo "COMMIT;"
  } > load.sql
  sqlite3 db.sqlite < load.sql
  sqlite3 db.sqlite > check.out <<SQL
.read $TESTS_DIR/sql/reference.sql
-- Live windows are emitted once the watermark passes their end.
DELETE FROM expected WHERE wend > $watermark OR wend <= $after;
.read $TESTS_DIR/sql/compare.sql
SQL
  [ "$(val late)" = 0 ] || fail "the test input should have no late events"
  [ "$(val rows_expected)" -gt 300 ] || fail "too few expected rows ($(val rows_expected))"
  [ "$(val rows_missing)" = 0 ] || fail "$(val rows_missing) rows computed by SQL are missing or differ on promowatch-metrics"
  [ "$(val rows_unexpected)" = 0 ] || fail "$(val rows_unexpected) rows on promowatch-metrics are not in the SQL result"
  # Distinct lines = expected rows: a result published twice was published identically.
  [ "$(val rows_expected)" = "$(val rows_got)" ] || fail "row counts differ: SQL $(val rows_expected), promowatch $(val rows_got) distinct"
  [ "$(val bad_ratios)" = 0 ] || fail "ctr/cvr/roi inconsistent with their counts"
}

# The watermark in the last "stopped" report of a run log.
final_watermark() { grep 'msg="stopped"' "$1" | tr ' ' '\n' | sed -n 's/^watermark_ms=//p' | tail -1; }
# The highest watermark of the global tasks a run log reported: windows
# ending at or before it are final on promowatch-metrics. (Not the last
# report's: a rebalance just before the stop - a killed member's session
# expiring - reloads the global tasks, which report none until their source
# tasks speak again, though everything before was published.)
final_results_watermark() {
  grep -E 'msg="(progress|stopped)"' "$1" | tr ' ' '\n' | sed -n 's/^global_watermark_ms=//p' |
    grep -v '^-' | sort -n | tail -1
}

# produce_year N RATE USERS: a clean generated year (no duplicates, disorder,
# lateness or malformed records, so that SQL sees what promowatch sees) in
# year.jsonl, clicks produced keyed by user id, orders by ${ORDERS_KEY:-userId}.
# Sets PRODUCED.
# The year starts 2025-01-01: live, event times ahead of the wall clock are
# rejected (watermark.max_future_skew), so a test year lies in the past.
produce_year() {
  "$PROMOWATCH" gen --format json -n "$1" --rate "$2" --users "$3" --campaigns 3 --peak-factor 1 --no-spend \
    --start-ms 1735689600000 \
    --late-rate 0 --disorder-rate 0 --duplicate-rate 0 --malformed-rate 0 -o year.jsonl 2>/dev/null
  grep '"click"' year.jsonl | produce_keyed clickstream
  grep '"order"' year.jsonl | produce_keyed orders "${ORDERS_KEY:-userId}"
  assert_all_retained
  PRODUCED=$(wc -l < year.jsonl)
}

# check_tags_against_sql TAGS_JSONL RUN_LOG: tests/sql/profiles.sql over
# year.jsonl and the tag changes read from the topic, as of the run's final
# watermark; leaves check.out for val().
check_tags_against_sql() {
  rm -f db.sqlite
  {
    echo "BEGIN; CREATE TABLE raw(line TEXT); CREATE TABLE got(line TEXT); CREATE TABLE w_override(w INTEGER);"
    sql_insert raw < year.jsonl
    sql_insert got < "$1"
    echo "INSERT INTO w_override VALUES($(final_watermark "$2"));"
    echo "COMMIT;"
  } > load.sql
  sqlite3 db.sqlite < load.sql
  sqlite3 db.sqlite < "$TESTS_DIR/sql/profiles.sql" > check.out
}

# kill_at_points CONFIG GROUP POINT...: `promowatch run` killed (SIGKILL, by
# the PROMOWATCH_FAULT_KILL hook) at each point in turn, on the same
# --state-dir state; the point "lose-state" deletes the state dir before the
# next run instead (the tasks are rebuilt from the changelog topic). Fails
# unless every run was killed and a restart restored a checkpoint. Sets KILLS.
kill_at_points() {
  local config=$1 group=$2 point rc
  shift 2
  KILLS=0
  for point in "$@"; do
    if [ "$point" = lose-state ]; then
      rm -rf state
      echo "ts=test msg=\"state dir deleted\"" >> crash.log
      continue
    fi
    set +e
    PROMOWATCH_FAULT_KILL=$point timeout -s KILL 120 "$PROMOWATCH" run -c "$config" --brokers "$BROKERS" \
      --group "$group" --state-dir state --results-format json --metrics-address 127.0.0.1:$(free_port) 2>> crash.log
    rc=$?
    set -e
    [ "$rc" = 137 ] || fail "run at kill point $point exited $rc, expected to be killed: $(grep 'level=error' crash.log | tail -2)"
    KILLS=$((KILLS + 1))
  done
  grep -q 'msg="restored checkpoint"' crash.log || fail "no restart restored a checkpoint"
}

# start_run CONFIG GROUP ARGS...: `promowatch run` on --state-dir state in
# the background (results as JSON, log in $RUN_LOG, default run.log); sets RUN_PID.
start_run() {
  local config=$1 group=$2
  shift 2
  : > "${RUN_LOG:=run.log}"  # (now: the redirection below happens in the background)
  "$PROMOWATCH" run -c "$config" --brokers "$BROKERS" --group "$group" --state-dir state \
    --results-format json "$@" 2> "${RUN_LOG:=run.log}" &
  RUN_PID=$!
  PIDS+=($RUN_PID)
}

# wait_read N SECONDS: until the run's progress reports read=N (fails if it dies).
wait_read() {
  local n=$1
  run_read() { grep -q "read=$n " run.log 2>/dev/null || { kill -0 $RUN_PID 2>/dev/null || fail "promowatch run died: $(tail -5 run.log)"; return 1; }; }
  wait_for "$2" "promowatch run to report read=$n (every record counted once)" run_read
}

# wait_watermark SECONDS: until the global watermark of the run serving on $METRICS
# is within a minute of the end of clicks.jsonl (the 99th percentile of its
# event times: a few malformed ones are far off). Partitions with nothing
# left to read hold it until they count as idle (watermark.idle_timeout).
wait_watermark() {
  local target
  target=$(grep -o '"eventTimeMs":"[0-9]*"' clicks.jsonl | grep -o '[0-9][0-9]*' | sort -n |
    awk '{ a[NR] = $1 } END { printf "%d\n", a[int(NR * 0.99)] - 60000 }')
  at_end() {
    curl -sf "http://$METRICS/metrics" |
      awk -v t="$target" '/^promowatch_global_watermark_timestamp_seconds / { ok = $2 * 1000 >= t } END { exit !ok }'
  }
  wait_for "$1" "the global watermark (windows published) to pass $target (the input's end, less a minute)" at_end
}

# stop_run N: SIGTERM; the run must exit 0 with read=N in its last report.
stop_run() {
  kill -TERM $RUN_PID
  wait $RUN_PID || fail "promowatch run did not exit 0 on SIGTERM"
  grep 'msg="stopped"' run.log | grep -q " read=$1 " || fail "records read != $1: $(grep 'msg="stopped"' run.log)"
}

# scrape: /metrics of the run serving on $METRICS, into metrics.txt.
scrape() { curl -sf "http://$METRICS/metrics" > metrics.txt; }
# metric_sum REGEX: the sum of the samples in metrics.txt on lines matching REGEX.
metric_sum() { awk -v re="$1" '$0 ~ re && $1 !~ /^#/ { s += $NF } END { printf "%d", s }' metrics.txt; }

# Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1 with a null
# receiver, alerts grouped by alertname and campaign: use_alertmanager sets
# AM (its URL) and writes am.yml; start_am starts it (again, after a stop,
# on the same port) and sets AM_PID.
use_alertmanager() {
  AM_BIN=$(command -v prometheus-alertmanager || command -v alertmanager || true)
  [ -n "$AM_BIN" ] || fail "prometheus-alertmanager is not installed (scripts/install-deps.sh installs it)"
  AM_PORT=$(free_port)
  AM=http://127.0.0.1:$AM_PORT
  cat > am.yml <<'YAML'
route:
  receiver: "null"
  group_by: [alertname, campaign]
  group_wait: 1s
receivers:
  - name: "null"
YAML
}
start_am() {
  "$AM_BIN" --config.file=am.yml --storage.path="$WORK/am-data" \
    --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= >> am.log 2>&1 &
  AM_PID=$!
  PIDS+=($AM_PID)
  disown $AM_PID
  wait_for 30 "Alertmanager to be ready on $AM" curl -sf "$AM/-/ready" -o /dev/null
}

# Instances of one group (the scale-out tests): start_instance NAME runs
# `promowatch run` (config ${INSTANCE_CONFIG:-live.yaml}, group
# ${GROUP:-scale}) on state-NAME, log NAME.log, /metrics on METRICS_NAME;
# RUNNING lists the running ones, PARTITIONS the tasks, PRODUCED the records.
# start_instance NAME: `promowatch run` on state-NAME, log NAME.log, /metrics on METRICS_NAME.
start_instance() {
  local port
  port=127.0.0.1:$(free_port)
  printf -v "METRICS_$1" '%s' "$port"
  "$PROMOWATCH" run -c "${INSTANCE_CONFIG:-live.yaml}" --brokers "$BROKERS" --group "${GROUP:-scale}" --state-dir "state-$1" \
    --results-format json --metrics-address "$port" 2>> "$1.log" &
  printf -v "PID_$1" '%s' $!
  PIDS+=($!)
  RUNNING+=("$1")
}
# metric NAME REGEX: the sum of the samples matching REGEX on NAME's /metrics (0 when down).
metric() {
  local var="METRICS_$1"
  curl -sf "http://${!var}/metrics" 2>/dev/null | awk -v re="$2" '$0 ~ re && $1 !~ /^#/ { s += $NF } END { printf "%d", s }'
}
# over_running REGEX: the sum over the running instances.
over_running() {
  local n total=0
  for n in "${RUNNING[@]}"; do total=$(( total + $(metric "$n" "$1") )); done
  echo "$total"
}
# Every running instance runs tasks, every task runs somewhere, each once.
all_run_tasks() {
  local n
  for n in "${RUNNING[@]}"; do [ "$(metric "$n" '^promowatch_tasks_owned ')" -ge 1 ] || return 1; done
  [ "$(over_running '^promowatch_tasks_owned ')" = $PARTITIONS ] &&
    [ "$(over_running '^promowatch_global_tasks_owned ')" = $PARTITIONS ]
}
read_all() { [ "$(over_running 'promowatch_task_records\{.*outcome="read"')" = "$PRODUCED" ]; }
stop_instance() {
  local pid="PID_$1"
  kill -TERM "${!pid}"
  wait "${!pid}" || fail "instance $1 did not exit 0 on SIGTERM: $(tail -3 "$1.log")"
  RUNNING=("${RUNNING[@]/$1}")
  RUNNING=(${RUNNING[@]})
}
# caught_up: every running instance's global watermark has passed $target (ms).
caught_up() {
  local n
  for n in "${RUNNING[@]}"; do
    [ "$(metric "$n" '^promowatch_global_watermark_timestamp_seconds ')" -ge $(( target / 1000 )) ] || return 1
  done
}
