#!/usr/bin/env bash
# The input contract, live: producers following it - bare typed values in
# JSON and binary, Event envelopes, Confluent Schema Registry frames - get
# every good record counted, and misfits land in promowatch-dlq with a reason
# that says what to fix. Binary values are made by protoc --encode (an
# encoder nobody here wrote), frames by printf; everything goes in with
# kcat; results are read back with kcat and compared with the SQL reference
# over the same events.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
cd "$WORK"
command -v protoc >/dev/null || fail "protoc is not installed (scripts/install-deps.sh installs protobuf-compiler)"
command -v jq >/dev/null || fail "jq is not installed (scripts/install-deps.sh installs it)"
PROTO_DIR="$TESTS_DIR/../proto"

PARTITIONS=2
start_mock_kafka --partitions $PARTITIONS --topic events

# The sale as Event envelopes in JSON: the SQL reference's input. Each
# topic below gets its share in this order, so no record is late.
"$PROMOWATCH" gen --format json -n 2000 --rate 10 --seed 7 --late-rate 0 --malformed-rate 0 \
  --duplicate-rate 0.02 -o events.jsonl 2>/dev/null

# proto3 text format of a bare JSON object (camelCase names to field names;
# enums and int64 strings unquoted), for protoc --encode.
to_text() {
  jq -r 'to_entries | map((.key | gsub("(?<u>[A-Z])"; "_" + (.u | ascii_downcase))) as $k
    | if ($k == "type" or $k == "status" or ($k | test("_ms$|_cents$"))) then "\($k): \(.value)"
      else "\($k): \(.value | tojson)" end) | join(" ")'
}
encode() { protoc -I "$PROTO_DIR" --encode="promowatch.v1.$1" "$PROTO_DIR/promowatch/v1/events.proto"; }
# A Confluent frame header: magic byte 0, schema id as 4 bytes big-endian.
frame_header() { printf '\x00'; printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }

mkdir -p orders spend events
# clickstream: bare ClickEvent JSON keyed by user id; every 7th as an
# envelope ({"click": ...}) instead; jd's clicks go to `events` below.
grep '"click"' events.jsonl | grep -v '"channel":"jd"' |
  awk 'NR % 7 == 0 { print; next } { print "BARE" $0 }' |
  while IFS= read -r line; do
    case $line in BARE*) printf '%s\n' "${line#BARE}" | jq -c '.click' ;; *) printf '%s\n' "$line" ;; esac
  done > clicks.jsonl
# A click from a device whose clock says 2099, in the middle of the stream:
# the records after it on its partition must still count.
half=$(( $(wc -l < clicks.jsonl) / 2 ))
{ head -n $half clicks.jsonl
  echo '{"event_id":"m3","user_id":"u1","campaign_id":"c1","channel":"douyin","type":"EVENT_TYPE_CLICK","event_time_ms":4070908800000}'
  tail -n +$((half + 1)) clicks.jsonl; } > clicks-sent.jsonl
sed -E 's/^(.*"user_?[iI]d":"([^"]*)".*)$/\2\t\1/' clicks-sent.jsonl | kcat -b "$BROKERS" -P -t clickstream -K '\t'
# events (type event): jd's clicks as binary Event envelopes.
n=0
grep '"click"' events.jsonl | grep '"channel":"jd"' | while IFS= read -r line; do
  n=$((n + 1))
  echo "click { $(printf '%s' "$line" | jq -c '.click' | to_text) }" | encode Event > "events/$(printf %06d $n).bin"
done
(cd events && ls | xargs kcat -b "$BROKERS" -P -t events)
# orders: bare binary OrderEvent; every other one in a Confluent frame
# (schema id 42, message indexes [0] as the single byte 0).
n=0
grep '"order"' events.jsonl | while IFS= read -r line; do
  n=$((n + 1))
  f="orders/$(printf %06d $n).bin"
  if [ $((n % 2)) = 0 ]; then { frame_header 42; printf '\x00'; } > "$f"; else : > "$f"; fi
  printf '%s' "$line" | jq -c '.order' | to_text | encode OrderEvent >> "$f"
done
(cd orders && ls | xargs kcat -b "$BROKERS" -P -t orders)
# spend: bare SpendEvent JSON; every other one in a JSON Schema frame (id 7).
n=0
grep '"spend"' events.jsonl | while IFS= read -r line; do
  n=$((n + 1))
  f="spend/$(printf %06d $n).json"
  if [ $((n % 2)) = 0 ]; then frame_header 7 > "$f"; else : > "$f"; fi
  printf '%s' "$line" | jq -c '.spend' >> "$f"
done
(cd spend && ls | xargs kcat -b "$BROKERS" -P -t spend)

# Misfits, with what each must be rejected as (the 2099 click is above):
# an order sent bare to the click topic; a frame of only its header.
echo '{"event_id":"m1","order_id":"o-m1","user_id":"u1","campaign_id":"c1","channel":"jd","status":"ORDER_STATUS_PAID","amount_cents":100,"event_time_ms":1794326300000}' |
  kcat -b "$BROKERS" -P -t clickstream -p 0
frame_header 99 > header-only.bin
kcat -b "$BROKERS" -P -t spend -p 0 header-only.bin
misfits=3
produced=$(( $(wc -l < clicks.jsonl) + $(ls events orders spend | grep -c '\.') + misfits ))
assert_all_retained

cp "$TESTS_DIR/fixtures/live-typed-inputs.yaml" live.yaml
METRICS=127.0.0.1:$(free_port)
start_run live.yaml contract --metrics-address "$METRICS"
wait_read "$produced" 90
scraped() { scrape && grep -q 'promowatch_window_ctr_ratio{' metrics.txt; }
wait_for 30 "/metrics to show window gauges" scraped
stop_run "$produced"
watermark=$(final_watermark run.log)
[ "$watermark" -lt 1900000000000 ] || fail "the 2099 record moved the watermark to $watermark"

kcat -b "$BROKERS" -C -t promowatch-metrics -e -q > results.jsonl
kcat -b "$BROKERS" -C -t promowatch-dlq -e -q -f '%h\n' > dlq.txt
check_against_sql "$(final_results_watermark run.log)" results.jsonl
cat check.out
[ "$(val rejected)" = 0 ] || fail "the SQL input should have no rejected records"

# Every misfit in the DLQ with a reason and a detail that says what to do.
dlq_count=$(grep -c 'promowatch.reason=' dlq.txt || true)
[ "$dlq_count" = "$misfits" ] || fail "promowatch-dlq has $dlq_count records, want $misfits: $(cat dlq.txt)"
grep 'promowatch.source.topic=clickstream' dlq.txt | grep 'promowatch.reason=unspecified_type' |
  grep -q 'topic clickstream expects ClickEvent (or an Event envelope); got an object with fields event_id, order_id' ||
  fail "the order on the click topic is not dead-lettered with what the topic expects: $(cat dlq.txt)"
grep 'promowatch.source.topic=spend' dlq.txt | grep 'promowatch.reason=bad_framing' | grep -q 'schema id 99' ||
  fail "the header-only frame is not dead-lettered as bad_framing naming schema id 99: $(cat dlq.txt)"
grep 'promowatch.reason=future_event_time' dlq.txt | grep -q 'ahead of the wall clock' ||
  fail "the 2099 record is not dead-lettered as future_event_time: $(cat dlq.txt)"
grep -q '^promowatch_records_rejected_total{reason="future_event_time",topic="clickstream"} 1' metrics.txt ||
  fail "no future_event_time in promowatch_records_rejected_total: $(grep rejected_total metrics.txt)"

# A restart restores the watermark from state: the rejected record is not in it.
start_run live.yaml contract --metrics-address "$METRICS"
wait_for 60 "the restart to restore its checkpoint" grep -q 'msg="restored checkpoint"' run.log
echo '{"event_id":"late1","user_id":"u2","campaign_id":"c1","channel":"douyin","type":"EVENT_TYPE_CLICK","event_time_ms":1794326290000}' |
  kcat -b "$BROKERS" -P -t clickstream -p 0
wait_read $((produced + 1)) 60
stop_run $((produced + 1))
restarted=$(final_watermark run.log)
[ "$restarted" -lt 1900000000000 ] || fail "the restart brought back a watermark of $restarted"

pass "input contract: $produced records as bare JSON, bare binary (protoc), envelopes and Confluent frames; $(val rows_got) windows match SQL; $misfits misfits dead-lettered with their reasons"
