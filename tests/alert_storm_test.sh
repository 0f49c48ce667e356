#!/usr/bin/env bash
# An alert storm (issue 29, finding 3): 10,000 rules that all fire on a
# backlog. Each transition must cost the same however many alerts already
# fire (before, every one re-walked every rule for the firing gauges: the
# storm took minutes and SIGTERM was not honoured within a StatefulSet's
# 60 s grace period). Checked by what the operator sees: every transition
# reaches promowatch-alerts, promowatch_alerts_firing adds up to them, and
# SIGTERM in the middle of the storm exits 0 within 30 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
cd "$WORK"
start_mock_kafka --partitions 4
"$PROMOWATCH" gen --brokers "$BROKERS" -n 120000 --seed 9 --rate 1000 --late-rate 0 --malformed-rate 0 2> gen.log
R=10000
awk -v r=$R 'BEGIN { print "rules:"; for (i = 0; i < r; i++)
  printf "  - name: r%d\n    metric: ctr\n    window: 1m\n    scope: campaign\n    campaigns: [c%d]\n    op: \"<\"\n    threshold: 0.9\n    min_volume: 1\n", i, i % 5 }' > rules.yaml
# (The embedded cluster lets a restarted member in after session.timeout.ms.)
printf 'watermark: {idle_timeout: 2s}\nalerts: {rules_file: rules.yaml}\nkafka: {properties: {session.timeout.ms: "6000"}}\n' > live.yaml
start_run() {
  METRICS=127.0.0.1:$(free_port)
  "$PROMOWATCH" run -c live.yaml --brokers "$BROKERS" --group storm --state-dir state \
    --metrics-address "$METRICS" --results-format json 2>> run.log &
  RUN_PID=$!
  PIDS+=($RUN_PID)
}
# Stopped as the storm begins: out within 30 s, exit 0.
start_run
storming() { grep -qs 'msg="alert firing"' run.log; }
wait_for 60 "the storm to begin" storming
kill -TERM $RUN_PID
exited() { ! kill -0 $RUN_PID 2>/dev/null; }
wait_for 30 "run to exit within 30 s of SIGTERM during the storm" exited
wait $RUN_PID || fail "run exited non-zero on SIGTERM during the storm: $(tail -3 run.log)"
# Restarted on its state: every rule fires, and the gauges add up.
start_run
all_fired() {
  kill -0 $RUN_PID 2>/dev/null || fail "run exited: $(tail -3 run.log)"
  [ "$(kcat -b "$BROKERS" -C -t promowatch-alerts -e -q 2>/dev/null | grep '"state":"firing"' |
       jq -r .rule | sort -u | wc -l)" -ge $R ]
}
wait_for 120 "all $R rules to fire on promowatch-alerts" all_fired
firing() { scrape && [ "$(metric_sum '^promowatch_alerts_firing\{')" -ge $R ]; }
wait_for 40 "promowatch_alerts_firing to add up to $R (after the restart joins the group and restores)" firing
kill -TERM $RUN_PID; wait $RUN_PID || fail "run did not exit 0 after the storm"
pass "SIGTERM as $R firing rules began their storm: exit 0 in time; restarted, every rule fired on the alerts topic and in promowatch_alerts_firing"
