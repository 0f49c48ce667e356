#!/usr/bin/env bash
# promowatch gen + replay checked against an independent computation: the
# same events loaded into sqlite3, with validation, lateness (a watermark
# simulated with a window function), dedup, rollups and every window written
# in SQL. The input has duplicates, out-of-order and late events, refunds,
# cancels, spend, malformed records from the generator, and hand-written
# lines in the other spellings the JSON contract allows.
source "$(dirname "$0")/lib.sh"
cd "$WORK"

# ~5 minutes of event time across midnight UTC+8 (so the cumulative day turns).
"$PROMOWATCH" gen --format json -n 40000 --rate 150 --seed 7 --late-rate 0.01 \
  --duplicate-rate 0.03 --malformed-rate 0.005 -o gen.jsonl 2>gen.log

cat > extra.jsonl <<'LINES'
{"click":{"event_id":"x-snake","user_id":"ux1","campaign_id":"c1","channel":"douyin","type":"EVENT_TYPE_CLICK","event_time_ms":1794326405000}}
{"click":{"eventId":"x-num","userId":"ux2","campaignId":"c1","channel":"douyin","type":1,"eventTimeMs":1794326405001}}
{"order":{"event_id":"x-paid","order_id":"ox","user_id":"ux2","campaign_id":"c1","channel":"douyin","status":"ORDER_STATUS_PAID","amount_cents":"123456","currency":"CNY","event_time_ms":"1794326405002"}}
{"order":{"event_id":"x-noorder","user_id":"ux2","campaign_id":"c1","channel":"douyin","status":2,"amount_cents":5,"event_time_ms":1794326405003}}
{"order":{"event_id":"x-neg","order_id":"o","user_id":"ux2","campaign_id":"c1","channel":"douyin","status":3,"amount_cents":-5,"event_time_ms":1794326405003}}
{"click":{"event_id":"x-star","user_id":"ux3","campaign_id":"*","channel":"douyin","type":1,"event_time_ms":1794326405004}}
{"click":{"event_id":"x-unspec","user_id":"ux3","campaign_id":"c1","channel":"douyin","event_time_ms":1794326405004}}
{"click":{"event_id":"x-nouser","campaign_id":"c1","channel":"douyin","type":1,"event_time_ms":1794326405004}}
{"click":{"event_id":"x-nochannel","user_id":"ux3","campaign_id":"c1","type":1,"event_time_ms":1794326405004}}
{"click":{"user_id":"ux3","campaign_id":"c1","channel":"douyin","type":1,"event_time_ms":1794326405004}}
{"click":{"event_id":"x-zero","user_id":"ux3","campaign_id":"c1","channel":"douyin","type":1,"event_time_ms":0}}
{}
this is not json at all
{"click":{"event_id":"x-cut","user_id":
{"spend":{"event_id":"x-spend","campaign_id":"c1","channel":"douyin","cost_cents":"99900","event_time_ms":1794326405005}}
{"click":{"event_id":"x-snake","user_id":"ux1","campaign_id":"c1","channel":"douyin","type":"EVENT_TYPE_CLICK","event_time_ms":1794326405000}}
LINES
# The hand-written lines go into the middle of the stream, one blank line too.
head -n 20000 gen.jsonl > events.jsonl
cat extra.jsonl >> events.jsonl
echo "" >> events.jsonl
tail -n +20001 gen.jsonl >> events.jsonl

"$PROMOWATCH" replay --input events.jsonl --output results.jsonl --dead-letter dead.jsonl \
  2> replay.log || { cat replay.log; fail "replay exited non-zero"; }

# Load events (one row per non-blank line, in file order) and results.
{
  echo "BEGIN; CREATE TABLE raw(seq INTEGER PRIMARY KEY, line TEXT);"
  grep -v '^[[:space:]]*$' events.jsonl | sql_insert "raw(line)"
  echo "CREATE TABLE got_raw(line TEXT);"
  sql_insert "got_raw(line)" < results.jsonl
  echo "CREATE TABLE dead_raw(line TEXT);"
  sql_insert "dead_raw(line)" < dead.jsonl
  echo "COMMIT;"
} > load.sql
sqlite3 db.sqlite < load.sql

sqlite3 db.sqlite > check.out <<SQL
.read $TESTS_DIR/sql/reference.sql
.read $TESTS_DIR/sql/compare.sql
.read $TESTS_DIR/sql/compare_dead.sql
SQL

cat check.out
[ "$(val rows_expected)" -gt 1000 ] || fail "too few expected rows: the test input is too small"
[ "$(val rows_missing)" = 0 ] || fail "$(val rows_missing) window rows computed by SQL are missing or differ in promowatch's output"
[ "$(val rows_unexpected)" = 0 ] || fail "$(val rows_unexpected) rows in promowatch's output are not in the SQL result"
[ "$(val rows_expected)" = "$(val rows_got)" ] || fail "row counts differ: SQL $(val rows_expected), promowatch $(val rows_got)"
[ "$(val bad_ratios)" = 0 ] || fail "ctr/cvr/roi do not match their counts (or are not null when undefined)"
[ "$(val dead_not_original)" = 0 ] || fail "dead-letter records do not carry the original bytes and reason"
[ "$(val dead_reasons)" = "$(val reject_reasons)" ] || fail "dead-letter reasons $(val dead_reasons) != SQL $(val reject_reasons)"
[ "$(val late_kept)" = "$(val late)" ] || fail "late records kept $(val late_kept) != SQL late $(val late)"
for k in accepted duplicates late rejected; do
  got=$(summary_value replay.log "$k")
  [ "$got" = "$(val $k)" ] || fail "summary $k=$got but SQL says $(val $k)"
  [ "$(val $k)" -gt 0 ] || fail "the input has no $k records: the test would not notice bugs there"
done
grep -q 'snake' dead.jsonl && fail "a valid snake_case event was rejected"
for reason in decode_error empty_payload missing_event_id missing_user_id missing_channel reserved_key \
              bad_event_time unspecified_type unknown_type missing_order_id negative_amount; do
  grep -q "\"reason\":\"$reason\"" dead.jsonl || fail "no dead-letter record with reason $reason"
done
pass "replay matches SQL: $(val rows_got) window rows, accepted=$(val accepted) duplicates=$(val duplicates) late=$(val late) rejected=$(val rejected)"
