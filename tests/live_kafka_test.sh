#!/usr/bin/env bash
# The live path against a real Kafka protocol peer: `promowatch mock-kafka`
# as its own process, events produced by kcat (a client nobody here wrote) as
# JSON (clickstream, spend) and as binary protobuf (orders), `promowatch run`
# consuming, and the results read back with kcat and compared with the same
# SQL reference computation as the replay test. Malformed records must land
# in promowatch-dlq with their origin in headers.
source "$(dirname "$0")/lib.sh"
command -v kcat >/dev/null || fail "kcat is not installed (scripts/install-deps.sh installs it)"
cd "$WORK"

start_mock_kafka --partitions 3

# No late events: lateness across partitions would depend on fetch timing.
# Out-of-order arrivals (within 3 s), duplicates and malformed records stay.
GEN=(-n 12000 --rate 60 --seed 21 --late-rate 0 --malformed-rate 0.01 --duplicate-rate 0.03)
"$PROMOWATCH" gen --format json "${GEN[@]}" -o events.jsonl 2>/dev/null
"$PROMOWATCH" gen --format binary "${GEN[@]}" --split bin 2>/dev/null
# The same seed gives the same events in both formats: clicks go as JSON,
# orders as binary protobuf, spend as JSON; malformed JSON and binary too.
grep '"click"' events.jsonl > clicks.jsonl
grep '"spend"' events.jsonl > spend.jsonl
grep -v '"click"' events.jsonl | grep -v '"spend"' | grep -v '"order"' > bad.jsonl || true
kcat -b "$BROKERS" -P -t clickstream -l clicks.jsonl
kcat -b "$BROKERS" -P -t spend -l spend.jsonl
kcat -b "$BROKERS" -P -t clickstream -l bad.jsonl
(cd bin && ls | grep -E '\.(order|bad)\.bin$' | xargs kcat -b "$BROKERS" -P -t orders)
produced=$(( $(wc -l < clicks.jsonl) + $(wc -l < spend.jsonl) + $(wc -l < bad.jsonl) + $(ls bin | grep -cE '\.(order|bad)\.bin$') ))

printf 'watermark:\n  idle_timeout: 3s\nstate:\n  checkpoint_interval: 500ms\n' > live.yaml
"$PROMOWATCH" run -c live.yaml --brokers "$BROKERS" --group itest --state-dir state \
  --results-format json 2> run.log &
RUN_PID=$!
PIDS+=($RUN_PID)

# Bounded wait: everything consumed, and the watermark flushed by idleness.
consumed() { grep -q "read=$produced " run.log 2>/dev/null || { kill -0 $RUN_PID 2>/dev/null || fail "promowatch run died: $(tail -5 run.log)"; return 1; }; }
wait_for 60 "promowatch to report read=$produced" consumed
kill -TERM $RUN_PID
wait_for 30 "promowatch run to stop on SIGTERM" bash -c "! kill -0 $RUN_PID 2>/dev/null"
wait $RUN_PID && rc=0 || rc=$?
[ "$rc" = 0 ] || fail "promowatch run exited $rc on SIGTERM (want 0): $(tail -5 run.log)"
grep -q 'msg="stopped"' run.log || fail "no final report after SIGTERM"

kcat -b "$BROKERS" -C -t promowatch-metrics -e -q > results.jsonl
kcat -b "$BROKERS" -C -t promowatch-dlq -e -q -f '%h\n' > dlq.txt
kcat -b "$BROKERS" -C -t promowatch-dlq -e -q -f '%h\t%s\n' | grep -a 'source.topic=clickstream' > dlq_clicks.txt
[ -s results.jsonl ] || fail "no results on promowatch-metrics"

{
  echo "BEGIN; CREATE TABLE raw(seq INTEGER PRIMARY KEY, line TEXT);"
  sed "s/'/''/g; s/.*/INSERT INTO raw(line) VALUES('&');/" events.jsonl
  echo "CREATE TABLE got_raw(line TEXT);"
  sed "s/'/''/g; s/.*/INSERT INTO got_raw(line) VALUES('&');/" results.jsonl
  echo "COMMIT;"
} > load.sql
sqlite3 db.sqlite < load.sql
watermark=$(grep 'msg="stopped"' run.log | tr ' ' '\n' | sed -n 's/^watermark_ms=//p' | tail -1)
sqlite3 db.sqlite > check.out <<SQL
.read $TESTS_DIR/sql/reference.sql
-- Live windows are emitted once the watermark passes their end.
DELETE FROM expected WHERE wend > $watermark;
.read $TESTS_DIR/sql/compare.sql
SQL
cat check.out
val() { awk -F'|' -v k="$1" '$1 == k { print $2 }' check.out; }
[ "$(val late)" = 0 ] || fail "the test input should have no late events"
[ "$(val rows_expected)" -gt 300 ] || fail "too few expected rows ($(val rows_expected))"
[ "$(val rows_missing)" = 0 ] || fail "$(val rows_missing) rows computed by SQL are missing or differ on promowatch-metrics"
[ "$(val rows_unexpected)" = 0 ] || fail "$(val rows_unexpected) rows on promowatch-metrics are not in the SQL result"
[ "$(val rows_expected)" = "$(val rows_got)" ] || fail "row counts differ: SQL $(val rows_expected), promowatch $(val rows_got)"
[ "$(val bad_ratios)" = 0 ] || fail "ctr/cvr/roi inconsistent with their counts"

# Dead letters: one per rejected record, with origin and reason in headers
# (the SQL input is the JSON stream; the binary garbage sent to orders comes on top).
want_dlq=$(( $(val rejected) + $(ls bin | grep -c '\.bad\.bin$') ))
got_dlq=$(grep -ao 'promowatch.source.topic=' dlq.txt | wc -l)  # details may hold newlines
[ "$got_dlq" = "$want_dlq" ] || fail "promowatch-dlq has $got_dlq records, want $want_dlq"
grep -q 'promowatch.source.topic=orders,promowatch.source.partition=[0-9],promowatch.source.offset=[0-9]*,promowatch.reason=' dlq.txt \
  || fail "dead letters from orders lack their origin headers"
grep -q 'promowatch.reason=decode_error' dlq.txt || fail "no undecodable record in the dead letters"
# The JSON ones carry their original bytes: every rejected click line is there as sent.
cut -f2- dlq_clicks.txt | sort > got_bad_clicks.txt
sqlite3 db.sqlite "SELECT line FROM judged WHERE reason IS NOT NULL AND line IN (SELECT line FROM raw WHERE line LIKE '%\"click\"%')" | sort > want_bad_clicks.txt
[ -s want_bad_clicks.txt ] || fail "the input has no rejected clicks: the check would be empty"
cmp -s got_bad_clicks.txt want_bad_clicks.txt || fail "rejected clicks in promowatch-dlq differ from the records sent ($(wc -l < got_bad_clicks.txt) vs $(wc -l < want_bad_clicks.txt))"
pass "live path: $(val rows_got) windows from $produced records via kcat match SQL; $got_dlq dead letters with headers and original bytes"
