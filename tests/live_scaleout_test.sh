#!/usr/bin/env bash
# Scale-out: three `promowatch run` instances in one consumer group are one
# pipeline. Usage: live_scaleout_test.sh PROMOWATCH [murmur2|consistent]
# (kafka.input_partitioner; default murmur2, the shipped default).
# Events go in with kcat in three phases (bare typed values) as producers
# send them with kcat's own default partitioner (librdkafka's CRC32):
# clicks keyed by user id, orders by order id (an order service's key),
# spend by event id - so with murmur2 nearly every record, and with
# consistent every order, is forwarded to its user's task, often on
# another instance (a hot campaign with 60% of the traffic; douyin's CTR
# collapses in the middle); between phases one
# instance is killed with SIGKILL, a new one joins with an empty state dir
# (its tasks come back from the changelog), and one leaves with SIGTERM;
# one stalls (SIGSTOP) while a phase is produced.
# The product runs with its shipped Kafka settings (offsets committed for
# lag tools) but a short session timeout (the mock's rebalances wait for it).
# Then:
#   - the results topic, upserted by key, equals SQL over the same events row
#     for row (unique visitors exact), each window published identically;
#   - the task counters summed over the instances equal SQL's counts;
#   - /v1/campaigns/c0 is answered by the instance running c0's global task
#     and redirected there by the others;
#   - no record was judged late, and no member lost its partitions;
#   - the one injected anomaly fired one alert scope (low_ctr, c0, douyin)
#     once on the alerts topic and once in Alertmanager (the real Debian
#     server), and no other scope fired, wherever its global task moved.
PARTITIONER=${2:-murmur2}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
cd "$WORK"

use_alertmanager
start_am

PARTITIONS=4
start_mock_kafka --partitions $PARTITIONS
# 15 minutes of event time from T0; douyin's CTR collapses in [T0+4m, T0+9m).
T0=1794326280000
M=60000
"$PROMOWATCH" gen --format json -n 54000 --rate 60 --peak-factor 1 --campaigns 3 --hot-campaign-share 0.6 \
  --seed 61 --start-ms $T0 --late-rate 0 --malformed-rate 0 --duplicate-rate 0.03 \
  --anomaly-channel douyin --anomaly-start-ms $((T0 + 4 * M)) --anomaly-end-ms $((T0 + 9 * M)) \
  -o events.jsonl 2>/dev/null
grep '"click"' events.jsonl > clicks.jsonl
# produce FROM_MS TO_MS: the events with event time in [FROM, TO) to their
# topics as producers send them: bare ClickEvent, OrderEvent and SpendEvent
# values (JSON); clicks keyed by user id, orders by order id, spend by
# event id, placed by kcat's default partitioner.
produce() {
  events_between events.jsonl "$1" "$2" > part.jsonl
  [ -s part.jsonl ] || fail "no events in [$1, $2)"
  # (The topics together, as live producers send: a partition silent for
  # watermark.idle_timeout while its topic's records are still to come
  # would not hold the watermark.)
  local clicks orders
  sed -n 's/^{"click":\(.*\)}$/\1/p' part.jsonl | produce_keyed clickstream &
  clicks=$!
  sed -n 's/^{"order":\(.*\)}$/\1/p' part.jsonl | produce_keyed orders orderId &
  orders=$!
  sed -n 's/^{"spend":\(.*\)}$/\1/p' part.jsonl | produce_keyed spend eventId
  wait $clicks && wait $orders || fail "kcat could not produce"
  PRODUCED=$(( ${PRODUCED:-0} + $(wc -l < part.jsonl) ))
}
PRODUCED=0

# (Its sale is smaller than the Alertmanager tests': a lower min_volume.)
sed 's/min_volume: 300/min_volume: 100/' "$TESTS_DIR/fixtures/rules/low-ctr-c0.yaml" > rules.yaml
cat > live.yaml <<YAML
watermark:
  idle_timeout: 10s
state:
  checkpoint_every_records: 3000
  checkpoint_interval: 2s
api:
  enabled: true
  token: test-token-0123456789
alerts:
  rules_file: rules.yaml
  alertmanager:
    urls: ["$AM"]
    resend_interval: 10s
    timeout: 2s
kafka:
  input_partitioner: $PARTITIONER
  properties:
    # A killed member leaves the group after this, not librdkafka's 45 s.
    session.timeout.ms: "6000"
    heartbeat.interval.ms: "500"
YAML

RUNNING=()
start_instance a
start_instance b
start_instance c
wait_for 60 "three instances to share the $PARTITIONS tasks" all_run_tasks

# Phase 1, then b is killed and d joins with an empty disk.
produce $T0 $((T0 + 5 * M))
wait_for 90 "the three instances to read phase 1 ($PRODUCED records)" read_all
kill -9 "$PID_b"
wait "$PID_b" 2>/dev/null || true
RUNNING=(a c)
start_instance d
wait_for 60 "the tasks of the killed instance to run on the others and the new one" all_run_tasks

# Phase 2 (the anomaly fires), then c leaves. While it is produced, c
# stalls (SIGSTOP: a long GC pause, a starved CPU) after its partitions
# went idle with the pause: the others read their share first, and the
# "idle" c said before must not let their tasks pass what c forwards next.
read_by_others() { echo $(( $(metric a "$READ") + $(metric d "$READ") )); }
READ='promowatch_task_records\{.*outcome="read"'
others_before=$(read_by_others)
kill -STOP "$PID_c"
produce $((T0 + 5 * M)) $((T0 + 10 * M))
others_read() { [ "$(read_by_others)" -gt "$others_before" ]; }
wait_for 30 "a and d to read phase 2 while c is stopped" others_read
kill -CONT "$PID_c"
wait_for 90 "the instances to read phase 2 ($PRODUCED records)" read_all
am_douyin() {
  am_alerts
  jq -e 'any(.[]; .labels.alertname == "low_ctr" and .labels.campaign == "c0" and .labels.channel == "douyin"
             and .status.state == "active")' am_alerts.json >/dev/null
}
wait_for 60 "low_ctr for c0/douyin in Alertmanager" am_douyin
starts=$(jq -r '.[] | select(.labels.channel == "douyin") | .startsAt' am_alerts.json)
stop_instance c
wait_for 60 "the leaving instance's tasks to run on the others" all_run_tasks
# Wherever c0's global task runs now, the page is the same one.
am_douyin || fail "the douyin alert left Alertmanager when instances changed: $(cat am_alerts.json)"
[ "$(jq -r '.[] | select(.labels.channel == "douyin") | .startsAt' am_alerts.json)" = "$starts" ] ||
  fail "the douyin alert was paged anew (startsAt $starts before): $(cat am_alerts.json)"

# Phase 3 (the anomaly is over: the alert resolves).
produce $((T0 + 10 * M)) 9999999999999
wait_for 90 "the instances to read phase 3 ($PRODUCED records)" read_all
target=$(( T0 + 14 * M ))
wait_for 60 "every global task's watermark to pass the input's end less a minute" caught_up

# The query API: c0's windows are answered by the instance running its
# global task; the others redirect there.
owner=
for n in "${RUNNING[@]}"; do
  var="METRICS_$n"
  got=$(curl -s -o api.json -w '%{http_code} %{redirect_url}' -H "Authorization: Bearer test-token-0123456789" \
    "http://${!var}/v1/campaigns/c0")
  case "$got" in
    "200 ") [ -z "$owner" ] || fail "two instances answer for c0: $owner and ${!var}"; owner=${!var} ;;
    "307 "*) redirects+=("${got#307 }") ;;
    *) fail "GET /v1/campaigns/c0 on instance $n: $got $(cat api.json)" ;;
  esac
done
[ -n "$owner" ] || fail "no instance answers for c0"
for r in "${redirects[@]}"; do
  [ "$r" = "http://$owner/v1/campaigns/c0" ] || fail "a redirect to $r, not to c0's instance $owner"
done
[ "${#redirects[@]}" = $(( ${#RUNNING[@]} - 1 )) ] || fail "not every other instance redirects for c0"
# (Profiles are off here: the user routes say so, not "unknown state table".)
got=$(curl -s -o api.json -w '%{http_code}' -H "Authorization: Bearer test-token-0123456789" "http://$owner/v1/users/u1")
[ "$got" = 404 ] && grep -q 'profiles are off' api.json || fail "GET /v1/users with profiles off: $got $(cat api.json)"

# Task counters follow their tasks: summed, every record once.
rm -f db.sqlite
{
  echo "BEGIN; CREATE TABLE raw(seq INTEGER PRIMARY KEY, line TEXT);"
  sql_insert "raw(line)" < events.jsonl
  echo "COMMIT;"
} > load.sql
sqlite3 db.sqlite < load.sql
sqlite3 db.sqlite > check.out <<SQL
.read $TESTS_DIR/sql/reference.sql
SELECT 'accepted', COUNT(*) FROM accepted;
SELECT 'duplicate', (SELECT COUNT(*) FROM on_time) - (SELECT COUNT(*) FROM accepted);
SELECT 'rejected', COUNT(*) FROM judged WHERE reason IS NOT NULL;
SQL
# (On a difference: what each task read, against what its partitions hold.)
per_task() {
  local t n
  for t in $(seq 0 $((PARTITIONS - 1))); do
    n=0
    for topic in clickstream orders spend; do
      n=$(( n + $(kcat -b "$BROKERS" -C -t $topic -p $t -o beginning -e -q -f '%o\n' | wc -l) ))
    done
    echo "task $t: partitions hold $n, read $(over_running "promowatch_task_records\\{.*outcome=\"read\".*task=\"$t\"")"
  done
}
for outcome in accepted duplicate rejected; do
  got=$(over_running "promowatch_task_records\\{.*outcome=\"$outcome\"")
  [ "$got" = "$(val "$outcome")" ] || fail "$outcome: the tasks count $got over the instances, SQL $(val "$outcome") (late: $(over_running 'promowatch_task_records\{.*outcome="late"'), duplicate: $(over_running 'promowatch_task_records\{.*outcome="duplicate"') vs SQL $(val duplicate)); $(per_task)"
done
late=$(over_running 'promowatch_task_records\{.*outcome="late"')
[ "$late" = 0 ] || fail "$late records were judged late; the sale has none"

for n in "${RUNNING[@]}"; do stop_instance "$n"; done
wm=$target
kcat -b "$BROKERS" -C -t promowatch-metrics -e -q > results.jsonl
check_against_sql "$wm" results.jsonl

# One scope paged, once: on the alerts topic and in Alertmanager.
kcat -b "$BROKERS" -C -t promowatch-alerts -e -q > alerts.jsonl
fired=$(jq -c 'select(.state == "firing") | [.rule, .campaign_id, .channel]' alerts.jsonl | sort | uniq -c)
[ "$(echo "$fired" | awk '{ print $2 }')" = '["low_ctr","c0","douyin"]' ] ||
  fail "the alerts topic should have one scope firing (low_ctr c0 douyin), has: $fired"
[ "$(echo "$fired" | awk '{ print $1 }')" = 1 ] || fail "low_ctr c0/douyin fired more than once: $fired"
grep -q '"state":"resolved".*"channel":"douyin"' alerts.jsonl || fail "the douyin alert never resolved: $(cat alerts.jsonl)"
am_alerts
jq -e 'all(.[]; .labels.alertname == "low_ctr" and .labels.campaign == "c0" and .labels.channel == "douyin")' \
  am_alerts.json >/dev/null || fail "Alertmanager has alerts of other scopes: $(cat am_alerts.json)"

lost=$(cat ./*.log | grep -c 'msg="partitions lost' || true)
[ "$lost" = 0 ] || fail "members lost their partitions $lost times (out of the group): $(grep -h 'partitions lost\|OffsetCommit\|ILLEGAL' ./*.log | head -5)"
confwarn=$(cat ./*.log | grep -c 'CONFWARN' || true)
[ "$confwarn" = 0 ] || fail "librdkafka warned about the configuration: $(grep -h CONFWARN ./*.log | head -3)"

pass "input_partitioner $PARTITIONER: three instances (one killed, one new on an empty disk, one left): $(val rows_got) windows equal SQL, $PRODUCED records counted once, one alert scope fired once"
