#!/usr/bin/env bash
# Valid data never crash-loops `run` (issue 29, findings 1 and 2), with the
# shipped config: 25,000 campaigns active in one minute (one impression
# each: every task's partials of that minute are megabytes, over Kafka's
# 1 MB record) must be split into records Kafka takes, and the windows
# stay exact; an event whose event_id is 1 MB is rejected as id_too_long;
# a valid record of ~950 kB in the wrong partition cannot be forwarded to
# its user's task (over kafka.max_record_bytes with its headers) and is
# dead-lettered as record_too_large, while its copy in the right partition
# counts. `run` keeps running throughout and stops with exit 0.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
cd "$WORK"

PARTITIONS=4
start_mock_kafka --partitions $PARTITIONS
T0=1794326400000  # a minute boundary
N=25000
awk -v n=$N -v t0=$T0 'BEGIN { for (i = 0; i < n; i++)
  printf "u%d\t{\"eventId\":\"e%d\",\"userId\":\"u%d\",\"campaignId\":\"c%d\",\"channel\":\"app\",\"type\":\"EVENT_TYPE_IMPRESSION\",\"eventTimeMs\":\"%.0f\"}\n", i, i, i, i, t0 + (i * 2) % 60000 }' \
  | kcat -b "$BROKERS" -P -t clickstream -K '\t' -X queue.buffering.max.messages=100000
# A 1 MB event_id, in every partition (three of them not its user's).
long_id=$(head -c 1000000 /dev/zero | tr '\0' 'x')
for p in 0 1 2 3; do
  printf '{"eventId":"%s%d","userId":"big","campaignId":"big","channel":"app","type":"EVENT_TYPE_IMPRESSION","eventTimeMs":"%d"}' \
    "$long_id" "$p" $((T0 + 30000)) > long$p.json
  kcat -b "$BROKERS" -P -t clickstream -p $p -X message.max.bytes=3000000 long$p.json
done
# A valid click of ~950 kB (short ids, a long sessionId), the same event in
# every partition: counted once where its user lives, too large to forward
# from the other three.
session=$(head -c 950000 /dev/zero | tr '\0' 's')
printf '{"eventId":"fat","userId":"fat-user","campaignId":"fat","channel":"app","type":"EVENT_TYPE_IMPRESSION","eventTimeMs":"%d","sessionId":"%s"}' \
  $((T0 + 31000)) "$session" > fat.json
for p in 0 1 2 3; do kcat -b "$BROKERS" -P -t clickstream -p $p -X message.max.bytes=3000000 fat.json; done
# One impression a minute later closes the minute (watermark = newest - 5 s).
printf 'late-user\t{"eventId":"close","userId":"late-user","campaignId":"c0","channel":"app","type":"EVENT_TYPE_IMPRESSION","eventTimeMs":"%d"}\n' \
  $((T0 + 70000)) | kcat -b "$BROKERS" -P -t clickstream -K '\t'
produced=$(( N + 9 ))

METRICS=127.0.0.1:$(free_port)
"$PROMOWATCH" run --brokers "$BROKERS" --group limits --state-dir state --results-format json \
  --metrics-address "$METRICS" 2> run.log &
RUN_PID=$!
PIDS+=($RUN_PID)
alive() { kill -0 $RUN_PID 2>/dev/null || fail "promowatch run exited on valid data: $(grep -m3 'level=error' run.log)"; }
total_row() {
  alive
  kcat -b "$BROKERS" -C -t promowatch-metrics -e -q 2>/dev/null |
    grep '"window":"1m"' | grep '"campaign_id":"\*","channel":"\*"' > total.jsonl || true
  [ -s total.jsonl ]
}
# (Every partition idle after watermark.idle_timeout: the minute closes.)
wait_for 90 "the minute's overall 1m row on promowatch-metrics" total_row
alive
impressions=$(jq -s 'map(select(.window_start_ms == "'$T0'" or .window_start_ms == '$T0')) | .[-1].impressions | tonumber' total.jsonl)
uv=$(jq -s 'map(select(.window_start_ms == "'$T0'" or .window_start_ms == '$T0')) | .[-1].uv | tonumber' total.jsonl)
[ "$impressions" = $((N + 1)) ] || fail "the minute has $impressions impressions, want $((N + 1)) ($N campaigns and the fat record once)"
[ "$uv" = $((N + 1)) ] || fail "the minute has uv $uv, want $((N + 1))"
kcat -b "$BROKERS" -C -t promowatch-metrics -e -q > results.jsonl
campaigns=$(grep '"window":"1m"' results.jsonl | grep '"channel":"\*"' | grep -v '"campaign_id":"\*"' |
  jq -r '.campaign_id' | sort -u | wc -l)
[ "$campaigns" = $((N + 1)) ] || fail "$campaigns campaigns have a 1m row, want $((N + 1))"
kcat -b "$BROKERS" -C -t promowatch-dlq -e -q -f '%h\n' > dlq.txt
[ "$(grep -c 'promowatch.reason=id_too_long' dlq.txt)" = 4 ] || fail "the four 1 MB event ids were not dead-lettered as id_too_long: $(cut -c1-200 dlq.txt)"
[ "$(grep -c 'promowatch.reason=record_too_large' dlq.txt)" = 3 ] || fail "the three misplaced 950 kB records were not dead-lettered as record_too_large: $(cut -c1-200 dlq.txt)"
scrape
[ "$(metric_sum 'promowatch_partials_sent_total')" -gt 0 ] || fail "no partials sent"
grep -q 'promowatch_records_rejected_total{reason="id_too_long",topic="clickstream"} 4' metrics.txt ||
  fail "id_too_long not counted: $(grep rejected_total metrics.txt)"
grep -q 'promowatch_records_rejected_total{reason="record_too_large",topic="clickstream"} 3' metrics.txt ||
  fail "record_too_large not counted: $(grep rejected_total metrics.txt)"
kill -TERM $RUN_PID
wait $RUN_PID || fail "run did not exit 0 on SIGTERM: $(tail -3 run.log)"
pass "$N campaigns in one minute split into partials Kafka takes, every window exact; 1 MB ids rejected (id_too_long), a 950 kB misplaced record dead-lettered (record_too_large); run kept running, exit 0"
