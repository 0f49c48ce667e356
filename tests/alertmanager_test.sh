#!/usr/bin/env bash
# Alert delivery to the real Alertmanager (Debian's prometheus-alertmanager)
# on 127.0.0.1, from `promowatch run` over `promowatch mock-kafka`, fed with
# generated sales whose anomalies have known times:
#   1. douyin's CTR collapses: low_ctr appears in GET /api/v2/alerts with its
#      labels, annotations and generatorURL; then the anomaly ends and the
#      alert is resolved (by promowatch, well before its endsAt would lapse);
#   2. Alertmanager is stopped, xiaohongshu's CTR collapses: delivery fails
#      and is counted, and the alert arrives once Alertmanager is back;
#   3. kill -9 while it fires: the restart still has it firing, re-sends it
#      and announces no new alert;
#   4. reloads: a broken rules file is rejected with its line and the alert
#      keeps firing; a file without the rule resolves it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
cd "$WORK"

use_alertmanager
start_am
start_mock_kafka --partitions 4

# Event time: T0 = the generator's default start. Sale 1: 12 minutes with
# douyin's CTR collapsing in [T0+2m, T0+8m); sale 2: 6 more minutes (other
# ids) with xiaohongshu's collapsing from T0+13m to its end.
T0=1794326280000
M=60000
"$PROMOWATCH" gen --format json -n 144000 --rate 200 --peak-factor 1 --campaigns 2 --seed 5 \
  --late-rate 0 --malformed-rate 0 --start-ms $T0 --anomaly-channel douyin \
  --anomaly-start-ms $((T0 + 2 * M)) --anomaly-end-ms $((T0 + 8 * M)) -o sale1.jsonl 2>/dev/null
"$PROMOWATCH" gen --format json -n 72000 --rate 200 --peak-factor 1 --campaigns 2 --seed 6 \
  --late-rate 0 --malformed-rate 0 --start-ms $((T0 + 12 * M)) --id-prefix b \
  --anomaly-channel xiaohongshu --anomaly-start-ms $((T0 + 13 * M)) --anomaly-end-ms $((T0 + 30 * M)) \
  -o sale2.jsonl 2>/dev/null
# produce FILE FROM_MS TO_MS: the file's events with event time in [FROM, TO)
# to their topics, clicks keyed by user id.
produce() {
  events_between "$1" "$2" "$3" > part.jsonl
  grep '"click"' part.jsonl | awk '{ k = ""; if (match($0, /"userId":"[^"]*"/)) k = substr($0, RSTART + 10, RLENGTH - 11);
         print k "\t" $0 }' | kcat -b "$BROKERS" -P -t clickstream -K '\t'
  grep '"order"' part.jsonl | kcat -b "$BROKERS" -P -t orders
  grep '"spend"' part.jsonl | kcat -b "$BROKERS" -P -t spend
  [ -s part.jsonl ] || fail "no events in [$2, $3) of $1"
  PRODUCED_TOTAL=$(( ${PRODUCED_TOTAL:-0} + $(wc -l < part.jsonl) ))
}

cp "$TESTS_DIR/fixtures/rules/low-ctr-c0.yaml" rules.yaml
cat > live.yaml <<YAML
watermark:
  idle_timeout: 1s
state:
  checkpoint_interval: 500ms
kafka:
  properties:
    session.timeout.ms: "6000"
alerts:
  rules_file: rules.yaml
  alertmanager:
    urls: ["$AM"]
    # endsAt = now + 4 x 10 s: a resolution seen sooner came from promowatch.
    resend_interval: 10s
    timeout: 2s
    generator_url: http://promowatch.example/d/war-room
YAML
METRICS=127.0.0.1:$(free_port)
# start_am_run LOG: `promowatch run` on live.yaml, logging to LOG.
start_am_run() { RUN_LOG=$1; start_run live.yaml amtest --metrics-address "$METRICS"; }
alive() { kill -0 $RUN_PID 2>/dev/null || fail "promowatch run died: $(tail -5 "$RUN_LOG")"; }
# am_has CHANNEL: Alertmanager lists low_ctr for c0 on CHANNEL as active.
am_has() {
  alive; am_alerts
  jq -e --arg ch "$1" 'any(.[]; .labels.alertname == "low_ctr" and .labels.channel == $ch
                           and .labels.campaign == "c0" and .status.state == "active")' am_alerts.json >/dev/null
}
am_lacks() { alive; am_alerts; ! jq -e --arg ch "$1" 'any(.[]; .labels.channel == $ch)' am_alerts.json >/dev/null; }
metric() { scrape; metric_sum "$1"; }

start_am_run run1.log

# 1. The douyin anomaly fires and reaches Alertmanager with its context.
produce sale1.jsonl $T0 $((T0 + 6 * M))
wait_for 60 "low_ctr for c0/douyin in Alertmanager's GET /api/v2/alerts" am_has douyin
jq -e '.[] | select(.labels.channel == "douyin")
       | .labels.severity == "page" and .labels.team == "growth"
         and (.annotations.summary | test("^CTR of c0 on douyin is 0\\.[0-9]+, below 0\\.015$"))
         and .annotations.runbook_url == "https://runbooks.example/low_ctr"
         and (.annotations.value | tonumber) < 0.015
         and .generatorURL == "http://promowatch.example/d/war-room"' am_alerts.json >/dev/null \
  || fail "the douyin alert lacks its labels or annotations: $(cat am_alerts.json)"
others=$(jq '[.[] | select(.labels.channel != "douyin")] | length' am_alerts.json)
[ "$others" = 0 ] || fail "alerts outside the anomaly reached Alertmanager: $(cat am_alerts.json)"
pass "the douyin anomaly reached Alertmanager with labels and annotations"

# The anomaly ends: resolved by promowatch (endsAt is 40 s out, this is 15).
produce sale1.jsonl $((T0 + 6 * M)) $((T0 + 12 * M))
wait_for 60 "promowatch to resolve the douyin alert" grep -q 'msg="alert resolved".*"channel":"douyin"' run1.log
wait_for 15 "the douyin alert to leave Alertmanager's active alerts" am_lacks douyin
pass "the douyin alert resolved in Alertmanager after the anomaly ended"

# 2. Alertmanager is down while xiaohongshu's CTR collapses.
kill -TERM $AM_PID
wait_for 20 "Alertmanager to stop" bash -c "! curl -sf $AM/-/ready -o /dev/null"
produce sale2.jsonl $((T0 + 12 * M)) $((T0 + 18 * M))
wait_for 60 "low_ctr to fire for xiaohongshu" grep -q 'msg="alert firing".*"channel":"xiaohongshu"' run1.log
failed_once() { alive; [ "$(metric '^promowatch_notifications_failed_total')" -gt 0 ]; }
wait_for 30 "promowatch_notifications_failed_total to count the refused delivery" failed_once
grep -q 'msg="alertmanager unreachable"' run1.log || fail "no log line saying Alertmanager is unreachable"
start_am
wait_for 30 "the xiaohongshu alert to arrive once Alertmanager is back" am_has xiaohongshu
grep -q 'msg="alertmanager reachable again"' run1.log || fail "no log line for the recovery"
scrape
grep -q '^promowatch_alerts_firing{rule="low_ctr",severity="page"} 1' metrics.txt \
  || fail "promowatch_alerts_firing{rule=low_ctr,severity=page} is not 1: $(grep alerts_firing metrics.txt)"
[ "$(metric '^promowatch_notifications_sent_total')" -ge 3 ] || fail "fewer than 3 alerts counted as sent"
promtool check metrics < metrics.txt > promtool.out 2>&1 || fail "promtool check metrics: $(cat promtool.out)"
pass "with Alertmanager down the alert was kept, counted as failed, and delivered once it was back"

# 3. kill -9 while firing, after a checkpoint has the firing alert.
# Everything produced is read, and the last checkpoint holds the watermark.
checkpointed() {
  alive; scrape
  [ "$(awk '$1 !~ /^#/ && /^promowatch_records_total/ { s += $NF } END { printf "%d", s }' metrics.txt)" = "$PRODUCED_TOTAL" ] &&
  [ "$(awk '/^promowatch_checkpoint_watermark_timestamp_seconds / {print $NF}' metrics.txt)" = \
    "$(awk '/^promowatch_watermark_timestamp_seconds / {print $NF}' metrics.txt)" ]
}
wait_for 30 "all $PRODUCED_TOTAL records read and checkpointed with the watermark" checkpointed
kill -9 $RUN_PID
wait $RUN_PID 2>/dev/null || true
start_am_run run2.log
still_firing() { alive; grep -q 'msg="alert still firing".*"channel":"xiaohongshu"' run2.log; }
wait_for 60 "the restarted run to report the alert still firing" still_firing
sent_again() { alive; [ "$(metric '^promowatch_notifications_sent_total')" -ge 1 ]; }
wait_for 30 "the restarted run to re-send the firing alert" sent_again
am_has xiaohongshu || fail "the xiaohongshu alert left Alertmanager after the restart"
if grep -q 'msg="alert firing"' run2.log; then
  fail "the restart announced a new alert: $(grep 'msg="alert firing"' run2.log | head -1)"
fi
pass "after kill -9 the alert is still firing, re-sent, and not announced again"

# 4. Reloads: a broken file is rejected with its line, the alert stays.
cp rules.yaml rules.good
sed -i 's/op: "<"/op: "<>"/' rules.yaml
kill -HUP $RUN_PID
wait_for 20 "the broken rules file to be rejected" grep -q 'msg="alert rules rejected.*rules.yaml:[0-9]*: op' run2.log
[ "$(metric '^promowatch_rules_last_reload_successful')" = 0 ] || fail "promowatch_rules_last_reload_successful is not 0 after a rejected reload"
am_has xiaohongshu || fail "a rejected reload dropped the firing alert"
grep -q '^promowatch_alerts_firing{rule="low_ctr",severity="page"} 1' metrics.txt || fail "a rejected reload changed the firing gauge"
# A file without the rule: its firing alert is resolved.
printf 'rules: []\n' > rules.yaml
kill -HUP $RUN_PID
wait_for 20 "the new rules to load" grep -q 'msg="alert rules reloaded".*rules=0' run2.log
wait_for 15 "the removed rule's alert to leave Alertmanager" am_lacks xiaohongshu
pass "reload: a broken file rejected with its line, a removed rule resolved"

kill -TERM $RUN_PID
wait $RUN_PID && rc=0 || rc=$?
[ "$rc" = 0 ] || fail "promowatch run exited $rc on SIGTERM (want 0): $(tail -5 run2.log)"

# 5. Incomplete data: with partitions silent past an 8 s bound, rules are not
# judged, and that is an info alert of its own; data in every partition ends
# it. A no_data rule on the orders topic fires meanwhile (wall time).
sed 's/^alerts:$/alerts:\n  data_incomplete_when: {partition_silent_for: 8s}/' live.yaml > live2.yaml
cat > rules.yaml <<'YAML'
rules:
  - name: orders_silent
    kind: no_data
    topic: orders
    silence: 8s
    severity: page
YAML
grep -q 'partition_silent_for' live2.yaml || fail "could not write live2.yaml"
"$PROMOWATCH" run -c live2.yaml --brokers "$BROKERS" --group amtest --state-dir state \
  --results-format json --metrics-address "$METRICS" 2> run3.log &
RUN_PID=$!; PIDS+=($RUN_PID); RUN_LOG=run3.log
am_info() {
  alive; am_alerts
  jq -e 'any(.[]; .labels.alertname == "promowatch_data_incomplete" and .labels.severity == "info")' am_alerts.json >/dev/null
}
wait_for 40 "the data_incomplete info alert in Alertmanager" am_info
am_topic() { alive; am_alerts; jq -e 'any(.[]; .labels.alertname == "orders_silent" and .labels.topic == "orders")' am_alerts.json >/dev/null; }
wait_for 20 "orders_silent (no_data on the orders topic) in Alertmanager" am_topic
grep -q 'msg="data incomplete: alert rules are not judged" reason=partition_silent' run3.log \
  || fail "no log line for incomplete data"
[ "$(metric '^promowatch_data_complete ')" = 0 ] || fail "promowatch_data_complete is not 0 while partitions are silent"
"$PROMOWATCH" gen --format json -n 40000 --rate 400 --peak-factor 1 --campaigns 2 --seed 7 --id-prefix c \
  --late-rate 0 --malformed-rate 0 --start-ms $((T0 + 18 * M)) -o sale3.jsonl 2>/dev/null
for kind_topic in click:clickstream order:orders spend:spend; do
  for p in 0 1 2 3; do
    grep "\"${kind_topic%%:*}\"" sale3.jsonl | awk -v p=$p 'NR % 4 == p' |
      kcat -b "$BROKERS" -P -t "${kind_topic#*:}" -p $p &
  done
done
wait_jobs() { for j in $(jobs -p); do [ "$j" = "$RUN_PID" ] || wait "$j"; done; }
wait_jobs
wait_for 30 "the pipeline to log complete data again" grep -q 'msg="data complete again' run3.log
am_info_gone() { alive; am_alerts; ! jq -e 'any(.[]; .labels.alertname == "promowatch_data_incomplete")' am_alerts.json >/dev/null; }
# Within the 8 s before the partitions count as silent again.
wait_for 6 "the data_incomplete info alert to resolve" am_info_gone
wait_for 10 "orders_silent to resolve once orders flow" grep -q 'msg="alert resolved".*"rule":"orders_silent"' run3.log
pass "incomplete data: not judged, an info alert of its own, resolved when data flows"

kill -TERM $RUN_PID
wait $RUN_PID && rc=0 || rc=$?
[ "$rc" = 0 ] || fail "promowatch run exited $rc on SIGTERM (want 0): $(tail -5 run3.log)"
pass "alert delivery to Alertmanager"
