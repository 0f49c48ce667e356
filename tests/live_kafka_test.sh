#!/usr/bin/env bash
# The live path against a real Kafka protocol peer: `promowatch mock-kafka`
# as its own process, events produced by kcat (a client nobody here wrote) as
# JSON (clickstream, spend) and as binary protobuf (orders), `promowatch run`
# consuming, and the results read back with kcat and compared with the same
# SQL reference computation as the replay test. Malformed records must land
# in promowatch-dlq with their origin in headers.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
cd "$WORK"

PARTITIONS=3
start_mock_kafka --partitions $PARTITIONS

# No late events: lateness across partitions would depend on fetch timing.
# Out-of-order arrivals (within 3 s), duplicates and malformed records stay.
produce_sale -n 12000 --rate 60 --seed 21 --late-rate 0 --malformed-rate 0.01 --duplicate-rate 0.03
# A 2 MB garbage value, more than the dead-letter topic takes: kept truncated.
head -c 2000000 /dev/urandom > huge.bad
kcat -b "$BROKERS" -P -t orders -p 0 -X message.max.bytes=3000000 huge.bad
produced=$(( PRODUCED + 1 ))

cp "$TESTS_DIR/fixtures/live.yaml" live.yaml
METRICS=127.0.0.1:$(free_port)
"$PROMOWATCH" run -c live.yaml --brokers "$BROKERS" --group itest --state-dir state \
  --results-format json --metrics-address "$METRICS" 2> run.log &
RUN_PID=$!
PIDS+=($RUN_PID)

# Bounded wait: everything consumed, and the watermark flushed by idleness.
consumed() { grep -q "read=$produced " run.log 2>/dev/null || { kill -0 $RUN_PID 2>/dev/null || fail "promowatch run died: $(tail -5 run.log)"; return 1; }; }
wait_for 60 "promowatch to report read=$produced" consumed

# /metrics over HTTP: valid exposition format and names (promtool), and the
# counters agree with what was consumed.
scraped() { scrape && grep -q 'promowatch_window_ctr_ratio{' metrics.txt; }
wait_for 30 "/metrics to show window gauges" scraped
promtool check metrics < metrics.txt > promtool.out 2>&1 || fail "promtool check metrics: $(cat promtool.out)"
[ "$(metric_sum '^promowatch_records_total')" = "$produced" ] || fail "promowatch_records_total sums to $(metric_sum '^promowatch_records_total'), want $produced"
grep -q 'promowatch_consumer_lag_records{partition="0",topic="clickstream"} 0' metrics.txt || fail "no lag gauge of 0 for clickstream/0 after consuming everything"
grep -q '^promowatch_build_info{version=' metrics.txt || fail "no build info"
# Probes on the same port (Kubernetes liveness and readiness).
[ "$(curl -s -o probe.txt -w '%{http_code}' "http://$METRICS/healthz")" = 200 ] || fail "/healthz is not 200: $(cat probe.txt)"
[ "$(curl -s -o probe.txt -w '%{http_code}' "http://$METRICS/readyz")" = 200 ] || fail "/readyz is not 200 while consuming: $(cat probe.txt)"
grep -q '^ok: consuming 15 partitions' probe.txt || fail "/readyz does not say what it consumes: $(cat probe.txt)"
grep -Eq '="u[0-9]+"' metrics.txt && fail "a user id leaked into metric labels"
# Freshness histograms: every counted record observed once, from its Kafka
# timestamp (all were produced before promowatch started, within a minute);
# results observed from the watermark passing their window to Kafka's ack.
visible_count=$(metric_sum '^promowatch_record_visible_seconds_count')
[ "$visible_count" = "$produced" ] || fail "promowatch_record_visible_seconds_count is $visible_count, want $produced"
[ "$(metric_sum '^promowatch_record_visible_seconds_bucket\{le="60"\}')" = "$produced" ] ||
  fail "records counted more than 60 s after they were produced: $(grep '^promowatch_record_visible_seconds' metrics.txt)"
published=$(metric_sum '^promowatch_result_publish_seconds_count')
[ "$published" -gt 0 ] || fail "no result publish delay observed"
[ "$(metric_sum '^promowatch_result_publish_seconds_bucket\{le="5"\}')" = "$published" ] ||
  fail "a result took over 5 s from due to acknowledged on loopback: $(grep '^promowatch_result_publish_seconds' metrics.txt)"

kill -TERM $RUN_PID
wait_for 30 "promowatch run to stop on SIGTERM" bash -c "! kill -0 $RUN_PID 2>/dev/null"
wait $RUN_PID && rc=0 || rc=$?
[ "$rc" = 0 ] || fail "promowatch run exited $rc on SIGTERM (want 0): $(tail -5 run.log)"
grep -q 'msg="stopped"' run.log || fail "no final report after SIGTERM"

kcat -b "$BROKERS" -C -t promowatch-metrics -e -q > results.jsonl
kcat -b "$BROKERS" -C -t promowatch-dlq -e -q -f '%h\n' > dlq.txt
kcat -b "$BROKERS" -C -t promowatch-dlq -e -q -f '%h\t%s\n' | grep -a 'source.topic=clickstream' > dlq_clicks.txt
[ -s results.jsonl ] || fail "no results on promowatch-metrics"
[ "$published" -le "$(wc -l < results.jsonl)" ] || fail "$published results observed as published, only $(wc -l < results.jsonl) in promowatch-metrics"

check_against_sql "$(final_results_watermark run.log)" results.jsonl
cat check.out

accepted_metric=$(metric_sum '^promowatch_records_total.*outcome="accepted"')
[ "$accepted_metric" = "$(val accepted)" ] || fail "promowatch_records_total{outcome=accepted} is $accepted_metric, SQL accepts $(val accepted)"

# Dead letters: one per rejected record, with origin and reason in headers
# (the SQL input is the JSON stream; the binary garbage sent to orders comes on top).
want_dlq=$(( $(val rejected) + $(ls bin | grep -c '\.bad\.bin$') + 1 ))
got_dlq=$(grep -ao 'promowatch.source.topic=' dlq.txt | wc -l)  # details may hold newlines
[ "$got_dlq" = "$want_dlq" ] || fail "promowatch-dlq has $got_dlq records, want $want_dlq"
grep -q 'promowatch.source.topic=orders,promowatch.source.partition=[0-9],promowatch.source.offset=[0-9]*,promowatch.reason=' dlq.txt \
  || fail "dead letters from orders lack their origin headers"
grep -q 'promowatch.reason=decode_error' dlq.txt || fail "no undecodable record in the dead letters"
# The 2 MB one: its first 900 kB (kafka.dead_letter_max_bytes), its size and hash.
kcat -b "$BROKERS" -C -t promowatch-dlq -e -q -f '%S %h\n' | grep -a 'promowatch.original.size=' > dlq_huge.txt || true
[ "$(wc -l < dlq_huge.txt)" = 1 ] || fail "want one truncated dead letter, got $(wc -l < dlq_huge.txt)"
want_hash=$(xxhsum -H3 < huge.bad | awk '{ print $NF }')
grep -q "^900000 .*promowatch.original.size=2000000,promowatch.original.xxh3_64=$want_hash" dlq_huge.txt ||
  fail "the truncated dead letter lacks its size or hash ($want_hash): $(cut -c1-300 dlq_huge.txt)"
[ "$(metric_sum '^promowatch_dead_letters_truncated_total')" = 1 ] || fail "promowatch_dead_letters_truncated_total is not 1"
# The JSON ones carry their original bytes: every rejected click line is there as sent.
cut -f2- dlq_clicks.txt | sort > got_bad_clicks.txt
sqlite3 db.sqlite "SELECT line FROM judged WHERE reason IS NOT NULL AND line IN (SELECT line FROM raw WHERE line LIKE '%\"click\"%')" | sort > want_bad_clicks.txt
[ -s want_bad_clicks.txt ] || fail "the input has no rejected clicks: the check would be empty"
cmp -s got_bad_clicks.txt want_bad_clicks.txt || fail "rejected clicks in promowatch-dlq differ from the records sent ($(wc -l < got_bad_clicks.txt) vs $(wc -l < want_bad_clicks.txt))"
# Retention deleted records before promowatch read them: the restart must
# say so (log and counter), not skip them silently. clickstream/0 gets more
# than the embedded cluster's 5 MiB per partition while promowatch is down.
stored_next=$(( $(kcat -C -b "$BROKERS" -t clickstream -p 0 -o -1 -c 1 -e -q -f '%o\n') + 1 ))
for _ in 1 2 3 4 5 6; do cat clicks.jsonl; done | kcat -b "$BROKERS" -P -t clickstream -p 0
log_start=$(kcat -C -b "$BROKERS" -t clickstream -p 0 -o beginning -c 1 -e -q -f '%o\n')
[ "$log_start" -gt "$stored_next" ] || fail "the embedded cluster kept clickstream/0 from $log_start: the retention case was not set up"
# The restart serves its port over TLS (metrics.tls): what follows is read
# through it, checked against the certificate it was given.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout tls.key -out tls.crt 2> openssl.log ||
  fail "openssl could not make a test certificate: $(cat openssl.log)"
{ cat live.yaml; printf 'metrics:\n  tls: {cert_file: %s/tls.crt, key_file: %s/tls.key}\n' "$WORK" "$WORK"; } > live-tls.yaml
"$PROMOWATCH" run -c live-tls.yaml --brokers "$BROKERS" --group itest --state-dir state \
  --results-format json --metrics-address "$METRICS" 2> rerun.log &
RUN_PID=$!
PIDS+=($RUN_PID)
skipped_metric() { curl -sf --cacert tls.crt "https://$METRICS/metrics" | awk '/^promowatch_offsets_skipped_total\{topic="clickstream"\}/ { print $NF }'; }
skip_reported() { grep -q 'msg="offsets skipped" partition=clickstream/0' rerun.log && [ -n "$(skipped_metric)" ]; }
wait_for 60 "the restart to report offsets skipped on clickstream/0" skip_reported
[ "$(skipped_metric)" = "$(( log_start - stored_next ))" ] ||
  fail "promowatch_offsets_skipped_total is $(skipped_metric), want $(( log_start - stored_next )) (from $stored_next to $log_start)"
grep -q "msg=\"offsets skipped\" partition=clickstream/0 from=$stored_next to=$log_start " rerun.log ||
  fail "the skip log line does not name the offsets: $(grep 'offsets skipped' rerun.log)"
grep -q "metrics=https://$METRICS/metrics" rerun.log || fail "run does not log its https URL: $(grep 'msg="running"' rerun.log)"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$METRICS/healthz")" != 200 ] || fail "plain HTTP answered on the TLS port"
kill -TERM $RUN_PID
wait $RUN_PID || fail "the restarted run did not exit 0 on SIGTERM"

pass "live path: $(val rows_got) windows from $produced records via kcat match SQL; $got_dlq dead letters with headers and original bytes; $(( log_start - stored_next )) offsets deleted by retention reported (over TLS)"
