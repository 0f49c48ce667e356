#!/usr/bin/env bash
# Campaign windows by user segment, live, at three instances: a year of 500
# users' orders, then a 10-minute sale of the same users, produced with kcat
# as producers send them (bare typed values; clicks keyed by user id,
# orders by order id, so most orders are repartitioned to their user's task;
# kcat's default partitioner; re-sent records; the sale out of order within
# seconds). In the middle of the sale the users dormant at its start stop
# paying on douyin for five minutes: the win-back offer broke, while douyin
# as a whole converts as usual. Between phases one instance is killed
# (SIGKILL), a new one joins on an empty disk (its tasks, profiles and the
# records they held back for event-time order come from the changelog), and
# one leaves (SIGTERM). Then:
#   - every 5m and cumulative row by (campaign, channel, segment) final at
#     the end equals tests/sql/segments.sql over the same events, and so do
#     the rows of all users (tests/sql/compare.sql): no event stamped with
#     another segment than the user's just before it in event time,
#     whichever topic or instance delivered it first;
#   - the rule `segment: dormant` (CVR below 3% on c0's channels) fired once,
#     for douyin, and the same rule over all users fired nowhere;
#   - GET /v1/campaigns/c0/segments answers with segment rows, and /metrics
#     has c0's segment series (promtool checks them);
#   - c0 is planned (README "The plan"): its period rows - running totals
#     from the sale's start, with new users and the reactivation cohort of
#     the users dormant at the start, kept in profiles that moved between
#     instances - equal tests/sql/plan.sql; GET /v1/campaigns/c0/kpis and
#     promowatch_campaign_kpi report its targets, and `report --brokers`
#     writes the daily sheet from the topics.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 is not installed (scripts/install-deps.sh installs it)"
cd "$WORK"

PARTITIONS=4
start_mock_kafka --partitions $PARTITIONS
M=60000
# The history: a year of the users' orders (what makes them dormant).
"$PROMOWATCH" gen --format json -n 30000 --rate 0.001 --users 500 --campaigns 2 --peak-factor 1 --no-spend \
  --start-ms 1735689600000 --late-rate 0 --disorder-rate 0 --duplicate-rate 0 --malformed-rate 0 --seed 41 \
  -o year.jsonl 2>/dev/null
grep '"order"' year.jsonl > history.jsonl
last=$(tail -n 1 history.jsonl | sed 's/.*"eventTimeMs":"\([0-9]*\)".*/\1/')
S=$(( (last / 86400000 + 2) * 86400000 ))  # the sale: a day after the history, at midnight UTC
"$PROMOWATCH" gen --format json -n 45000 --rate 75 --users 500 --campaigns 2 --hot-campaign-share 0.7 \
  --peak-factor 1 --no-spend --start-ms $S --id-prefix s- --late-rate 0 --malformed-rate 0 \
  --duplicate-rate 0.02 --seed 42 -o sale.jsonl 2>/dev/null
# The users dormant at the sale's start (a paid order, none in the 90 days
# before it), from the history alone; their paid orders on douyin in
# [S+4m, S+9m) are never sent.
grep '"ORDER_STATUS_PAID"' history.jsonl | sed 's/.*"userId":"\([^"]*\)".*"eventTimeMs":"\([0-9]*\)".*/\1 \2/' |
  awk -v s=$S '{ if ($2 > last[$1]) last[$1] = $2 } END { for (u in last) if (last[u] <= s - 90 * 86400000) print u }' \
  > dormant.txt
[ "$(wc -l < dormant.txt)" -gt 50 ] || fail "too few dormant users in the history: $(wc -l < dormant.txt)"
awk -v from=$((S + 4 * M)) -v to=$((S + 9 * M)) 'NR == FNR { d[$1] = 1; next }
  index($0, "ORDER_STATUS_PAID") && index($0, "\"channel\":\"douyin\"") {
    match($0, /"userId":"[^"]*"/); u = substr($0, RSTART + 10, RLENGTH - 11)
    match($0, /"eventTimeMs":"[0-9]*"/); t = substr($0, RSTART + 15, RLENGTH - 16) + 0
    if ((u in d) && t >= from && t < to) next
  }
  { print }' dormant.txt sale.jsonl > sale-sent.jsonl
[ "$(( $(wc -l < sale.jsonl) - $(wc -l < sale-sent.jsonl) ))" -ge 3 ] || fail "the anomaly removed too few paid orders"
cat history.jsonl sale-sent.jsonl > events.jsonl

# produce FILE: its records to their topics as producers send them.
produce() {
  local clicks
  sed -n 's/^{"click":\(.*\)}$/\1/p' "$1" | produce_keyed clickstream &
  clicks=$!
  sed -n 's/^{"order":\(.*\)}$/\1/p' "$1" | produce_keyed orders orderId
  wait $clicks || fail "kcat could not produce"
  PRODUCED=$(( PRODUCED + $(wc -l < "$1") ))
}
PRODUCED=0

cat > rules.yaml <<'YAML'
rules:
  # The win-back offer: dormant users' CVR on c0, per channel.
  - name: dormant_cvr_low
    metric: cvr
    op: "<"
    threshold: 0.03
    min_volume: 15
    window: 5m
    segment: dormant
    campaigns: [c0]
  # The same line over all users: douyin as a whole never crosses it.
  - name: cvr_low
    metric: cvr
    op: "<"
    threshold: 0.03
    min_volume: 15
    window: 5m
    campaigns: [c0]
YAML
cat > live.yaml <<YAML
watermark:
  idle_timeout: 10s
state:
  checkpoint_every_records: 3000
  checkpoint_interval: 2s
profiles:
  enabled: true
segments:
  enabled: true
api:
  enabled: true
  token: test-token-0123456789
alerts:
  rules_file: rules.yaml
plan:
  file: plan.yaml
kafka:
  properties:
    session.timeout.ms: "6000"
    heartbeat.interval.ms: "500"
YAML
# c0's targets are met (its rules never fire: judged after an hour).
cat > plan.yaml <<YAML
campaigns:
  - campaign: c0
    start: $(date -u -d @$((S / 1000)) +%Y-%m-%dT%H:%M:%SZ)
    end: $(date -u -d @$((S / 1000 + 86400)) +%Y-%m-%dT%H:%M:%SZ)
    targets: {gmv: 1, reactivation_rate: 0}
    reactivation_within: 30d
YAML
GROUP=segments

RUNNING=()
start_instance a
start_instance b
start_instance c
wait_for 60 "three instances to share the $PARTITIONS tasks" all_run_tasks

# Phase 1: the history and the sale's first 3 minutes; then b is killed
# and d joins with an empty disk.
events_between sale-sent.jsonl $S $((S + 3 * M)) | cat history.jsonl - > phase1.jsonl
produce phase1.jsonl
wait_for 120 "the three instances to read phase 1 ($PRODUCED records)" read_all
kill -9 "$PID_b"
wait "$PID_b" 2>/dev/null || true
RUNNING=(a c)
start_instance d
wait_for 60 "the tasks of the killed instance to run on the others and the new one" all_run_tasks

# Phase 2 (the anomaly), then c leaves.
events_between sale-sent.jsonl $((S + 3 * M)) $((S + 7 * M)) > phase2.jsonl
produce phase2.jsonl
wait_for 90 "the instances to read phase 2 ($PRODUCED records)" read_all
stop_instance c
wait_for 60 "the leaving instance's tasks to run on the others" all_run_tasks

# Phase 3: the rest.
events_between sale-sent.jsonl $((S + 7 * M)) 9999999999999 > phase3.jsonl
produce phase3.jsonl
wait_for 90 "the instances to read phase 3 ($PRODUCED records)" read_all
target=$(( S + 10 * M ))
wait_for 60 "every global task's watermark to pass the sale's tenth minute" caught_up

# The query API: c0's segment rows, where c0's global task runs.
got=
for n in "${RUNNING[@]}"; do
  var="METRICS_$n"
  code=$(curl -s -o reply.json -w '%{http_code}' -H "Authorization: Bearer test-token-0123456789" \
    "http://${!var}/v1/campaigns/c0/segments")
  if [ "$code" = 200 ]; then got=$n; mv reply.json api.json; fi
done
[ -n "$got" ] || fail "no instance answers GET /v1/campaigns/c0/segments: $(cat reply.json)"
jq -e '.windows | length > 0 and all(.[]; .segment != null and .campaign_id == "c0")' api.json >/dev/null ||
  fail "/v1/campaigns/c0/segments: $(head -c 300 api.json)"
# ... and its segment series on /metrics, valid for promtool.
var="METRICS_$got"
curl -sf "http://${!var}/metrics" > metrics.txt || fail "no /metrics from $got"
promtool check metrics < metrics.txt > promtool.out 2>&1 || fail "promtool check metrics: $(cat promtool.out)"
grep -q '^promowatch_segment_window_cvr_ratio{campaign="c0",channel="\*",segment="dormant",window="5m"}' metrics.txt ||
  fail "no dormant CVR series of c0: $(grep -m3 '^promowatch_segment' metrics.txt)"
grep -q '^promowatch_campaign_kpi_target{campaign="c0",channel="\*",kpi="gmv"} 1$' metrics.txt ||
  fail "no KPI series of the plan: $(grep -m3 '^promowatch_campaign_kpi' metrics.txt)"
curl -sf -H "Authorization: Bearer test-token-0123456789" "http://${!var}/v1/campaigns/c0/kpis" > kpis.json ||
  fail "GET /v1/campaigns/c0/kpis failed"
jq -e '[.kpis[] | .status] == ["met", "met"] and .kpis[1].kpi == "reactivation_rate"' kpis.json >/dev/null ||
  fail "/v1/campaigns/c0/kpis: $(cat kpis.json)"

for n in "${RUNNING[@]}"; do stop_instance "$n"; done
wm=$(for n in a b c d; do final_results_watermark "$n.log"; done | sort -n | tail -1)
[ "$wm" -ge "$target" ] || fail "the global watermark ($wm) did not pass the sale's tenth minute"
kcat -b "$BROKERS" -C -t promowatch-metrics -e -q > results.jsonl

# Every row of the sale final at wm against SQL: the rows of all users,
# then by segment (the history's rows may have left the results topic:
# the embedded cluster keeps 5 MiB per partition).
check_against_sql "$wm" results.jsonl "$S"
all_rows=$(val rows_got)
sqlite3 db.sqlite > seg.out <<SQL
DELETE FROM accepted WHERE t >= $wm;
.read $TESTS_DIR/sql/segments.sql
SQL
segval() { grep "^$1|" seg.out | head -1 | cut -d'|' -f2-; }
grep '^seg_' seg.out | grep -v example
# (The sale's windows, final at wm.)
sqlite3 db.sqlite "DELETE FROM expected_seg WHERE wend > $wm OR wend <= $S;
  DELETE FROM got_seg WHERE wend > $wm OR wend <= $S;
  SELECT 'missing|' || COUNT(*) FROM (SELECT * FROM expected_seg EXCEPT SELECT * FROM got_seg);
  SELECT 'unexpected|' || COUNT(*) FROM (SELECT * FROM got_seg EXCEPT SELECT * FROM expected_seg);
  SELECT 'rows|' || COUNT(*) FROM (SELECT DISTINCT * FROM got_seg);
  SELECT 'example|', * FROM (SELECT * FROM expected_seg EXCEPT SELECT * FROM got_seg) LIMIT 2;
  SELECT 'example_got|', * FROM (SELECT * FROM got_seg EXCEPT SELECT * FROM expected_seg) LIMIT 2;" > segcmp.out
cmpval() { grep "^$1|" segcmp.out | head -1 | cut -d'|' -f2; }
[ "$(cmpval rows)" -gt 500 ] || fail "too few segment rows final at $wm: $(cmpval rows)"
[ "$(cmpval missing)" = 0 ] || fail "$(cmpval missing) segment rows of SQL are missing or differ: $(grep example segcmp.out)"
[ "$(cmpval unexpected)" = 0 ] || fail "$(cmpval unexpected) segment rows are not SQL's: $(grep example segcmp.out)"
grep -q '^seg_events|.*dormant=' seg.out || fail "no event of a dormant user"

# c0's period rows final at wm (their events: before wm's minute) against SQL.
sqlite3 db.sqlite > plan.out <<SQL
DELETE FROM accepted WHERE t >= $(( wm / M * M ));
CREATE TABLE plan(c TEXT, pstart INTEGER, pend INTEGER, within INTEGER);
INSERT INTO plan VALUES('c0', $S, $((S + 86400000)), $((30 * 86400000)));
CREATE TABLE alerts_raw(line TEXT);
.read $TESTS_DIR/sql/plan.sql
SQL
planval() { grep "^$1|" plan.out | head -1 | cut -d'|' -f2-; }
[ "$(planval period_rows_expected)" -ge 5 ] || fail "too few period rows in SQL: $(planval period_rows_expected)"
[ "$(planval period_rows_differ)" = 0 ] || fail "$(planval period_rows_differ) period rows differ from SQL: $(grep period_diff_example plan.out)"
[ "$(planval period_unexpected)" = 0 ] || fail "period rows that SQL does not have: $(planval period_unexpected)"
reached=$(planval cohort | sed -n 's/.*reached=\([0-9]*\).*/\1/p')
[ "${reached:-0}" -gt 10 ] || fail "too few dormant users reached by c0 to test the cohort: $(planval cohort)"

# One scope fired: the dormant users' CVR on c0/douyin; none over all users.
kcat -b "$BROKERS" -C -t promowatch-alerts -e -q > alerts.jsonl
fired=$(jq -c 'select(.state == "firing") | [.rule, .campaign_id, .channel, .labels.segment]' alerts.jsonl | sort | uniq -c)
[ "$(echo "$fired" | awk '{ print $2 }')" = '["dormant_cvr_low","c0","douyin","dormant"]' ] ||
  fail "the alerts topic should have one scope firing (dormant_cvr_low c0 douyin), has: $fired"
[ "$(echo "$fired" | awk '{ print $1 }')" = 1 ] || fail "dormant_cvr_low fired more than once: $fired"

# The daily sheet read from the topics themselves equals the one from
# their copies in files (whose report tests/plan_sql_test.sh checks
# against SQL); the alert that fired is the note of c0/douyin's day.
"$PROMOWATCH" report --plan plan.yaml --brokers "$BROKERS" --output-dir kreport 2> kreport.log ||
  fail "report --brokers failed: $(cat kreport.log)"
"$PROMOWATCH" report --plan plan.yaml --results results.jsonl --alerts alerts.jsonl --output-dir freport \
  2> freport.log || fail "report from files failed: $(cat freport.log)"
cmp -s kreport/daily.csv freport/daily.csv && cmp -s kreport/kpis.csv freport/kpis.csv ||
  fail "report from Kafka differs from report from files: $(diff kreport/daily.csv freport/daily.csv | head -3)"
grep -q '^[0-9-]*,c0,douyin,.*,dormant_cvr_low [0-9:]*$' kreport/daily.csv ||
  fail "the daily sheet lacks the fired alert on c0/douyin: $(cat kreport/daily.csv)"

lost=$(cat ./*.log | grep -c 'msg="partitions lost' || true)
[ "$lost" = 0 ] || fail "members lost their partitions $lost times: $(grep -h 'partitions lost' ./*.log | head -3)"

pass "segments live at three instances (one killed, one new on an empty disk, one left): $(cmpval rows) segment rows and $all_rows rows of all users equal SQL ($(segval seg_events)); dormant_cvr_low fired once for c0/douyin, the rule over all users never"
pass "plan live: c0's $(planval period_rows_got) period rows equal SQL (cohort: $(planval cohort | cut -d' ' -f2-))"
