#!/usr/bin/env bash
# A campaign plan's period rows and KPIs against SQL (tests/sql/plan.sql):
# a year of 100 users, then a three-week sale as producers send it (out of
# order, re-sent, some records late and dropped), planned as two
# campaigns: c0 (two weeks, targets on GMV, new customers and per channel)
# and an SMS win-back (a week, 25% of dormant users reached to pay within
# 30 days). Crafted users make the reactivation cohort's edges: pays at
# day 29, at exactly 30 days, 30 days and a minute, 31 days; dormant or
# not at the start; reached after the period; a refund after the
# repurchase; a payment in the reaching millisecond. The period rows are
# checked after the repurchase tail (30 days past the win-back's end).
# Then the plan's own rules: a shortfall of new customers fires and
# resolves, met targets stay silent; and the daily report against SQL.
source "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 is not installed (scripts/install-deps.sh installs it)"
cd "$WORK"

day=86400000
S=1794326400000  # 2026-11-11T00:00:00+08:00
before() { awk -v end="$1" '{ match($0, /"eventTimeMs":"[0-9]+"/); if (substr($0, RSTART + 15, RLENGTH - 16) + 0 < end) print }'; }
"$PROMOWATCH" gen --format json -n 12000 --rate 0.0004 --users 100 --campaigns 3 --peak-factor 1 --no-spend \
  --start-ms $((S - 350 * day)) --late-rate 0.001 --disorder-rate 0.3 --duplicate-rate 0.01 --malformed-rate 0 \
  --seed 41 -o - 2>/dev/null | before $((S - day)) > history.jsonl
# The sale: six days of traffic every five days (a generator's run is a few days).
for k in 0 1 2 3 4 5 6 7; do
  "$PROMOWATCH" gen --format json -n 6000 --rate 0.002 --users 100 --campaigns 3 --peak-factor 1 \
    --start-ms $((S + k * 5 * day)) --id-prefix "sale$k-" --late-rate 0.002 --disorder-rate 0.3 \
    --duplicate-rate 0.02 --malformed-rate 0 --seed $((42 + k)) -o - 2>/dev/null | before $((S + (k + 1) * 5 * day))
done > sale.jsonl

# The crafted users: w<N>, campaign sms_winback on channel sms.
click() { printf '{"click":{"eventId":"%s","userId":"%s","campaignId":"%s","channel":"%s","type":"EVENT_TYPE_%s","eventTimeMs":"%s"}}\n' "$@"; }
paid() { printf '{"order":{"eventId":"%s","orderId":"%s","userId":"%s","campaignId":"c9","channel":"tmall","status":"ORDER_STATUS_%s","amountCents":"20000","currency":"CNY","eventTimeMs":"%s"}}\n' "$1" "$1" "$2" "$3" "$4"; }
h=3600000
by_time() {
  awk '{ match($0, /"eventTimeMs":"[0-9]+"/); print substr($0, RSTART + 15, RLENGTH - 16) "\t" $0 }' |
    sort -s -n -k1,1 | cut -f2-
}
{
  for u in w1 w2 w3 w4 w6 w7; do paid "$u-old" "$u" PAID $((S - 120 * day)); done
  paid w5-old w5 PAID $((S - 60 * day))      # active 60 days before: not dormant
  paid w8-old w8 PAID $((S - 100 * day))
  paid w9-old w9 PAID $((S - 95 * day))
  for i in $(seq 1 40); do paid "r$i-old" "r$i" PAID $((S - 10 * day + i * 60000)); done
} > crafted_history.jsonl
R1=$((S + 1 * h))
{
  click w1-r w1 sms_winback sms IMPRESSION $R1;      paid w1-p w1 PAID $((R1 + 29 * day))
  click w2-r w2 sms_winback sms IMPRESSION $((R1 + 1000)); paid w2-p w2 PAID $((R1 + 1000 + 30 * day))
  click w3-r w3 sms_winback sms CLICK $((R1 + 2000));  paid w3-p w3 PAID $((R1 + 2000 + 30 * day + 60000))
  click w4-r w4 sms_winback sms IMPRESSION $((R1 + 3000)); paid w4-p w4 PAID $((R1 + 3000 + 31 * day))
  click w5-r w5 sms_winback sms IMPRESSION $((S + 2 * h)); paid w5-p w5 PAID $((S + 3 * day))
  click w6-a w6 c0 douyin CLICK $((S + 30 * 60000))   # its first event after the start: still dormant
  click w6-r w6 sms_winback app_push CLICK $((S + 5 * h))
  paid w6-p w6 PAID $((S + 10 * day)); paid w6-p w6 REFUNDED $((S + 11 * day))
  click w7-r w7 sms_winback sms IMPRESSION $((S + day)); click w7-r2 w7 sms_winback sms CLICK $((S + 2 * day))
  click w8-r w8 sms_winback sms IMPRESSION $((S + 8 * day))   # after the win-back's week
  click w9-r w9 sms_winback sms CLICK $((S + 3 * h));  paid w9-p w9 PAID $((S + 3 * h))
  # launch: its buyers are new on day 1 (share 100%, before the plan judges
  # anything: judge.min_elapsed), then 40 returning
  # buyers on day 2 (10 of 50: 20%, under the plan's 40%), then 40 more new
  # ones on day 4 (50 of 90).
  order() { printf '{"order":{"eventId":"%s","orderId":"%s","userId":"%s","campaignId":"launch","channel":"tmall","status":"ORDER_STATUS_PAID","amountCents":"10000","currency":"CNY","eventTimeMs":"%s"}}\n' "$1" "$1" "$2" "$3"; }
  for i in $(seq 1 10); do order "n$i-p" "n$i" $((S + day - 20 * 60000 + i * 60000)); done
  for i in $(seq 1 40); do order "r$i-p" "r$i" $((S + 2 * day + i * 60000)); done
  for i in $(seq 11 50); do order "n$i-p" "n$i" $((S + 4 * day + i * 60000)); done
} | by_time > crafted_sale.jsonl
# Each crafted line goes in before the first generated line that is newer
# (generated lines keep their arrival order, disorder included).
merge() {
  awk -v crafted="$2" '
    function t(line) { match(line, /"eventTimeMs":"[0-9]+"/); return substr(line, RSTART + 15, RLENGTH - 16) + 0 }
    BEGIN { have = (getline next_line < crafted) > 0 }
    { while (have && t(next_line) <= t($0)) { print next_line; have = (getline next_line < crafted) > 0 } print }
    END { while (have) { print next_line; have = (getline next_line < crafted) > 0 } }' "$1"
}
by_time < crafted_history.jsonl > ch.jsonl
{ merge history.jsonl ch.jsonl; merge sale.jsonl crafted_sale.jsonl; } > year.jsonl
[ "$(grep -c '"[wnr][0-9]' year.jsonl)" = "$(cat crafted_history.jsonl crafted_sale.jsonl | wc -l)" ] ||
  fail "the crafted events did not all make it into the input"

cat > plan.yaml <<'YAML'
judge:
  min_volume: 20
  min_elapsed: 1d
campaigns:
  - campaign: c0
    start: 2026-11-11
    end: 2026-11-24
    time_zone: "+08:00"
    targets: {new_customer_share: 0.01, budget: 100000000}
    channels:
      douyin: {cvr: 0.001, budget: 50000000}
  - campaign: sms_winback
    start: 2026-11-11
    end: 2026-11-17
    time_zone: "+08:00"
    targets: {reactivation_rate: 0.25}
    reactivation_within: 30d
  - campaign: launch
    start: 2026-11-11
    end: 2026-11-24
    time_zone: "+08:00"
    targets: {new_customer_share: 0.4, gmv: 5000, orders: 60}
YAML
cat > config.yaml <<'YAML'
windows:
  sizes: [1m]
profiles:
  enabled: true
plan:
  file: plan.yaml
YAML
"$PROMOWATCH" check-config --config config.yaml > check_config.out || fail "check-config refused the plan: $(cat check_config.out)"
"$PROMOWATCH" replay -c config.yaml -i year.jsonl -o windows.jsonl --dead-letter dead.jsonl \
  --alerts-output alerts.jsonl 2> replay.log || fail "replay failed: $(tail -3 replay.log)"

{
  echo "BEGIN; CREATE TABLE raw(seq INTEGER PRIMARY KEY, line TEXT); CREATE TABLE got_raw(line TEXT);"
  echo "CREATE TABLE plan(c TEXT, pstart INTEGER, pend INTEGER, within INTEGER); CREATE TABLE alerts_raw(line TEXT);"
  echo "INSERT INTO plan VALUES('c0', $S, $((S + 14 * day)), 0), ('sms_winback', $S, $((S + 7 * day)), $((30 * day))), ('launch', $S, $((S + 14 * day)), 0);"
  sql_insert "raw(line)" < year.jsonl
  sql_insert "got_raw(line)" < windows.jsonl
  sql_insert "alerts_raw(line)" < alerts.jsonl
  echo "COMMIT;"
} > load.sql
sqlite3 db.sqlite < load.sql
# reference.sql's accepted events (its parts 1-3: validation, lateness,
# dedup), without its windows.
sed '/^-- 4\. Keys/,$d' "$TESTS_DIR/sql/reference.sql" > accepted.sql
sqlite3 db.sqlite > check.out <<SQL
.read accepted.sql
.read $TESTS_DIR/sql/plan.sql
SQL
grep '^period_\|^cohort' check.out || true
[ "$(val period_rows_expected)" -ge 10 ] || fail "too few period rows in SQL: $(val period_rows_expected)"
[ "$(val period_rows_differ)" = 0 ] || fail "$(val period_rows_differ) period rows differ from SQL: $(grep period_diff_example check.out)"
[ "$(val period_unexpected)" = 0 ] || fail "$(val period_unexpected) period rows are not SQL's"
grep -q '^cohort|sms_winback reached=7 repurchased=4$' check.out ||
  fail "the crafted cohort is not what the test means (7 reached, 4 repurchased): $(grep '^cohort|sms' check.out)"
# The plan's rules: the shortfall fires once and resolves; nothing else fires.
jq -c 'select(.state == "firing" or .state == "resolved") | [.rule, .state, .campaign_id, .channel, .event_time_ms]' \
  alerts.jsonl > transitions.txt
# Under 40% from the 16th returning buyer (10 of 26, minute 16 of day 2);
# back from the 17th new one of day 4 (27 of 67, its minute 27).
expected_transitions=$(printf '["plan_new_customer_share","firing","launch","*",%s]\n["plan_new_customer_share","resolved","launch","*",%s]' \
  $((S + 2 * day + 17 * 60000)) $((S + 4 * day + 28 * 60000)))
[ "$(cat transitions.txt)" = "$expected_transitions" ] ||
  fail "the plan's rules: expected only the launch's shortfall to fire and resolve, got: $(head -5 transitions.txt)"
grep -q '"summary":"launch new_customer_share is 0.384615 against a target of 0.4 (11d23h left)"' alerts.jsonl ||
  fail "the firing alert does not say actual and target: $(grep -m1 firing alerts.jsonl)"
# The daily sheet: its CSV, as sqlite's .import reads it, equals SQL's.
"$PROMOWATCH" report --plan plan.yaml --results windows.jsonl --alerts alerts.jsonl --output-dir report \
  2> report.log || fail "report failed: $(cat report.log)"
head -1 report/daily.csv | grep -qx 'date,campaign,channel,orders,gmv,aov,cost,roi,notes' ||
  fail "daily.csv does not have the documented columns: $(head -1 report/daily.csv)"
sqlite3 db.sqlite > daily.out <<SQL
.import --csv report/daily.csv got_daily
SELECT 'daily_rows|' || COUNT(*) FROM expected_daily;
SELECT 'daily_got|' || COUNT(*) FROM got_daily;
SELECT 'daily_missing|' || COUNT(*) FROM (SELECT * FROM expected_daily EXCEPT SELECT * FROM got_daily);
SELECT 'daily_unexpected|' || COUNT(*) FROM (SELECT * FROM got_daily EXCEPT SELECT * FROM expected_daily);
SELECT 'daily_missing_example|' || json_array(date, campaign, channel, orders, gmv, aov, cost, roi, notes) FROM (SELECT * FROM expected_daily EXCEPT SELECT * FROM got_daily) LIMIT 2;
SELECT 'daily_unexpected_example|' || json_array(date, campaign, channel, orders, gmv, aov, cost, roi, notes) FROM (SELECT * FROM got_daily EXCEPT SELECT * FROM expected_daily) LIMIT 2;
SELECT 'daily_notes|' || COUNT(*) FROM got_daily WHERE notes != '';
SQL
cat daily.out >> check.out
[ "$(val daily_rows)" -ge 15 ] || fail "too few rows in SQL's daily sheet: $(val daily_rows)"
[ "$(val daily_missing)" = 0 ] && [ "$(val daily_unexpected)" = 0 ] ||
  fail "the daily sheet differs from SQL: $(grep '_example' daily.out)"
[ "$(val daily_notes)" = 1 ] || fail "the fired alert is not the one note of the sheet: $(val daily_notes)"
grep -q '^launch,\*,new_customer_share,0.4,' report/kpis.csv || fail "kpis.csv lacks the launch's target: $(cat report/kpis.csv)"
pass "plan: $(val daily_rows) rows of the daily sheet equal SQL"
pass "plan: $(val period_rows_got) period rows of 3 planned campaigns equal SQL ($(grep '^cohort|' check.out | tr '\n' ' '))"
