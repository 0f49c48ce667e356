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
  grep -v '^[[:space:]]*$' events.jsonl | sed "s/'/''/g; s/.*/INSERT INTO raw(line) VALUES('&');/"
  echo "CREATE TABLE got_raw(line TEXT);"
  sed "s/'/''/g; s/.*/INSERT INTO got_raw(line) VALUES('&');/" results.jsonl
  echo "CREATE TABLE dead_raw(line TEXT);"
  sed "s/'/''/g; s/.*/INSERT INTO dead_raw(line) VALUES('&');/" dead.jsonl
  echo "COMMIT;"
} > load.sql
sqlite3 db.sqlite < load.sql

sqlite3 db.sqlite > check.out <<'SQL'
-- 1. Parse and validate, as the contract says (both JSON spellings).
CREATE TABLE parsed AS
SELECT seq, line,
  CASE WHEN NOT json_valid(line) THEN NULL
       WHEN json_type(line, '$.click') = 'object' THEN 'click'
       WHEN json_type(line, '$.order') = 'object' THEN 'order'
       WHEN json_type(line, '$.spend') = 'object' THEN 'spend' END AS kind,
  CASE WHEN json_valid(line) THEN json_extract(line, '$') END AS j
FROM raw;
CREATE TABLE ev AS
SELECT seq, line, kind,
  COALESCE(json_extract(j, '$.'||kind||'.eventId'), json_extract(j, '$.'||kind||'.event_id'), '') AS event_id,
  COALESCE(json_extract(j, '$.'||kind||'.userId'), json_extract(j, '$.'||kind||'.user_id'), '') AS user_id,
  COALESCE(json_extract(j, '$.'||kind||'.campaignId'), json_extract(j, '$.'||kind||'.campaign_id'), '') AS campaign,
  COALESCE(json_extract(j, '$.'||kind||'.channel'), '') AS channel,
  COALESCE(json_extract(j, '$.'||kind||'.orderId'), json_extract(j, '$.'||kind||'.order_id'), '') AS order_id,
  CAST(COALESCE(json_extract(j, '$.'||kind||'.eventTimeMs'), json_extract(j, '$.'||kind||'.event_time_ms'), 0) AS INTEGER) AS t,
  CAST(COALESCE(json_extract(j, '$.'||kind||'.amountCents'), json_extract(j, '$.'||kind||'.amount_cents'),
                json_extract(j, '$.'||kind||'.costCents'), json_extract(j, '$.'||kind||'.cost_cents'), 0) AS INTEGER) AS amount,
  CASE COALESCE(json_extract(j, '$.click.type'), json_extract(j, '$.order.status'), 0)
    WHEN 'EVENT_TYPE_IMPRESSION' THEN 1 WHEN 'EVENT_TYPE_CLICK' THEN 2
    WHEN 'EVENT_TYPE_ADD_TO_CART' THEN 3 WHEN 'EVENT_TYPE_PAGE_VIEW' THEN 4
    WHEN 'ORDER_STATUS_CREATED' THEN 1 WHEN 'ORDER_STATUS_PAID' THEN 2
    WHEN 'ORDER_STATUS_REFUNDED' THEN 3 WHEN 'ORDER_STATUS_CANCELLED' THEN 4
    WHEN 'EVENT_TYPE_UNSPECIFIED' THEN 0 WHEN 'ORDER_STATUS_UNSPECIFIED' THEN 0
    ELSE COALESCE(json_extract(j, '$.click.type'), json_extract(j, '$.order.status'), 0) END AS code
FROM parsed;
CREATE TABLE judged AS
SELECT *, CASE
  WHEN line NOT LIKE '{%' OR json_valid(line) = 0 THEN 'decode_error'
  WHEN kind IS NULL THEN 'empty_payload'
  WHEN event_id = '' THEN 'missing_event_id'
  WHEN kind != 'spend' AND user_id = '' THEN 'missing_user_id'
  WHEN campaign = '' THEN 'missing_campaign_id'
  WHEN channel = '' THEN 'missing_channel'
  WHEN campaign = '*' OR channel = '*' THEN 'reserved_key'
  WHEN t <= 0 THEN 'bad_event_time'
  WHEN kind != 'spend' AND code = 0 THEN 'unspecified_type'
  WHEN kind != 'spend' AND code NOT BETWEEN 1 AND 4 THEN 'unknown_type'
  WHEN kind = 'order' AND order_id = '' THEN 'missing_order_id'
  WHEN kind != 'click' AND amount < 0 THEN 'negative_amount'
  END AS reason
FROM ev;

-- 2. Lateness: the watermark before each record is the newest valid event
--    time before it minus 5 s; a record whose minute has ended is late.
CREATE TABLE timed AS
SELECT *, MAX(t) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) - 5000 AS wm
FROM judged WHERE reason IS NULL;
CREATE TABLE on_time AS
SELECT * FROM timed WHERE wm IS NULL OR (t / 60000 + 1) * 60000 > wm;
-- 3. Dedup: the first on-time copy of an event_id counts.
CREATE TABLE accepted AS
SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY seq) AS copy FROM on_time)
WHERE copy = 1;

-- 4. Keys with rollups, then windows.
CREATE TABLE keyed AS
SELECT campaign AS c, channel AS ch, * FROM accepted
UNION ALL SELECT campaign, '*', * FROM accepted
UNION ALL SELECT '*', '*', * FROM accepted;
CREATE VIEW metrics_of AS SELECT 1;  -- (documentation: the SUMs below are the metric definitions)
CREATE TABLE expected AS
WITH sizes(w, n) AS (VALUES ('1m', 1), ('5m', 5)),
     ks(k) AS (VALUES (0), (1), (2), (3), (4)),
     assigned AS (
       SELECT sizes.w AS w, (t / 60000 + 1 + k) * 60000 AS wend, sizes.n AS n, keyed.*
       FROM keyed, sizes, ks WHERE k < sizes.n)
SELECT w, wend - n * 60000 AS wstart, wend, c, ch,
  SUM(kind = 'click' AND code = 1) AS impressions, SUM(kind = 'click' AND code = 2) AS clicks,
  SUM(kind = 'click' AND code = 3) AS add_to_carts, SUM(kind = 'click' AND code = 4) AS page_views,
  SUM(kind = 'order' AND code = 1) AS orders, SUM(kind = 'order' AND code = 2) AS paid_orders,
  SUM(kind = 'order' AND code = 4) AS cancelled_orders, SUM(kind = 'order' AND code = 3) AS refunded_orders,
  SUM(CASE WHEN kind = 'order' AND code = 2 THEN amount ELSE 0 END) AS gmv_cents,
  SUM(CASE WHEN kind = 'order' AND code = 3 THEN amount ELSE 0 END) AS refund_cents,
  SUM(CASE WHEN kind = 'spend' THEN amount ELSE 0 END) AS spend_cents,
  COUNT(DISTINCT NULLIF(user_id, '')) AS uv
FROM assigned GROUP BY w, wend, c, ch;
-- Cumulative: for each key and each minute it had events, everything of
-- that key since local midnight (UTC+8) up to the end of that minute.
INSERT INTO expected
SELECT 'cumulative', (m.day * 86400000) - 28800000, m.wend, m.c, m.ch,
  SUM(kind = 'click' AND code = 1), SUM(kind = 'click' AND code = 2),
  SUM(kind = 'click' AND code = 3), SUM(kind = 'click' AND code = 4),
  SUM(kind = 'order' AND code = 1), SUM(kind = 'order' AND code = 2),
  SUM(kind = 'order' AND code = 4), SUM(kind = 'order' AND code = 3),
  SUM(CASE WHEN kind = 'order' AND code = 2 THEN amount ELSE 0 END),
  SUM(CASE WHEN kind = 'order' AND code = 3 THEN amount ELSE 0 END),
  SUM(CASE WHEN kind = 'spend' THEN amount ELSE 0 END),
  COUNT(DISTINCT NULLIF(user_id, ''))
FROM (SELECT DISTINCT c, ch, (t / 60000 + 1) * 60000 AS wend, (t + 28800000) / 86400000 AS day FROM keyed) m
JOIN keyed e ON e.c = m.c AND e.ch = m.ch AND (e.t + 28800000) / 86400000 = m.day AND e.t < m.wend
GROUP BY m.c, m.ch, m.wend, m.day;

-- 5. What promowatch wrote.
CREATE TABLE got AS SELECT
  json_extract(line, '$.window') AS w, json_extract(line, '$.window_start_ms') AS wstart,
  json_extract(line, '$.window_end_ms') AS wend, json_extract(line, '$.campaign_id') AS c,
  json_extract(line, '$.channel') AS ch,
  json_extract(line, '$.impressions') AS impressions, json_extract(line, '$.clicks') AS clicks,
  json_extract(line, '$.add_to_carts') AS add_to_carts, json_extract(line, '$.page_views') AS page_views,
  json_extract(line, '$.orders') AS orders, json_extract(line, '$.paid_orders') AS paid_orders,
  json_extract(line, '$.cancelled_orders') AS cancelled_orders,
  json_extract(line, '$.refunded_orders') AS refunded_orders,
  json_extract(line, '$.gmv_cents') AS gmv_cents, json_extract(line, '$.refund_cents') AS refund_cents,
  json_extract(line, '$.spend_cents') AS spend_cents, json_extract(line, '$.uv') AS uv,
  json_extract(line, '$.ctr') AS ctr, json_extract(line, '$.cvr') AS cvr, json_extract(line, '$.roi') AS roi
FROM got_raw;

SELECT 'rows_expected', COUNT(*) FROM expected;
SELECT 'rows_got', COUNT(*) FROM got;
SELECT 'rows_missing', COUNT(*) FROM (SELECT w, wstart, wend, c, ch, impressions, clicks, add_to_carts, page_views, orders, paid_orders, cancelled_orders, refunded_orders, gmv_cents, refund_cents, spend_cents, uv FROM expected
  EXCEPT SELECT w, wstart, wend, c, ch, impressions, clicks, add_to_carts, page_views, orders, paid_orders, cancelled_orders, refunded_orders, gmv_cents, refund_cents, spend_cents, uv FROM got);
SELECT 'rows_unexpected', COUNT(*) FROM (SELECT w, wstart, wend, c, ch, impressions, clicks, add_to_carts, page_views, orders, paid_orders, cancelled_orders, refunded_orders, gmv_cents, refund_cents, spend_cents, uv FROM got
  EXCEPT SELECT w, wstart, wend, c, ch, impressions, clicks, add_to_carts, page_views, orders, paid_orders, cancelled_orders, refunded_orders, gmv_cents, refund_cents, spend_cents, uv FROM expected);
SELECT 'bad_ratios', COUNT(*) FROM got WHERE
  NOT ((impressions = 0 AND ctr IS NULL) OR abs(ctr - clicks * 1.0 / impressions) < 1e-12)
  OR NOT ((clicks = 0 AND cvr IS NULL) OR abs(cvr - paid_orders * 1.0 / clicks) < 1e-12)
  OR NOT ((spend_cents = 0 AND roi IS NULL) OR abs(roi - gmv_cents * 1.0 / spend_cents) < 1e-12);
SELECT 'accepted', COUNT(*) FROM accepted;
SELECT 'duplicates', (SELECT COUNT(*) FROM on_time) - (SELECT COUNT(*) FROM accepted);
SELECT 'late', (SELECT COUNT(*) FROM timed) - (SELECT COUNT(*) FROM on_time);
SELECT 'rejected', COUNT(*) FROM judged WHERE reason IS NOT NULL;
SELECT 'reject_reasons', group_concat(reason || '=' || n, ' ') FROM
  (SELECT reason, COUNT(*) AS n FROM judged WHERE reason IS NOT NULL GROUP BY reason ORDER BY reason);
SELECT 'dead_reasons', group_concat(reason || '=' || n, ' ') FROM
  (SELECT json_extract(line, '$.reason') AS reason, COUNT(*) AS n FROM dead_raw
   WHERE json_extract(line, '$.reason') != 'late' GROUP BY 1 ORDER BY 1);
-- Every kept record is the original line, byte for byte (JSON text), with its reason.
SELECT 'dead_not_original', COUNT(*) FROM dead_raw d WHERE json_extract(d.line, '$.reason') != 'late'
  AND NOT EXISTS (SELECT 1 FROM judged r WHERE r.line = json_extract(d.line, '$.record')
                  AND r.reason = json_extract(d.line, '$.reason'));
SELECT 'late_kept', COUNT(*) FROM dead_raw WHERE json_extract(line, '$.reason') = 'late';
SELECT 'missing_example', * FROM (SELECT w, wstart, wend, c, ch, impressions, clicks, orders, paid_orders, gmv_cents, uv FROM expected
  EXCEPT SELECT w, wstart, wend, c, ch, impressions, clicks, orders, paid_orders, gmv_cents, uv FROM got) LIMIT 3;
SQL

cat check.out
val() { awk -F'|' -v k="$1" '$1 == k { print $2 }' check.out; }
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
