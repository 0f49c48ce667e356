-- Compares got_raw(line) (promowatch's JSON results) with expected.
-- Prints key|value lines that the test scripts check.
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
SELECT 'missing_example', * FROM (SELECT w, wstart, wend, c, ch, impressions, clicks, orders, paid_orders, gmv_cents, uv FROM expected
  EXCEPT SELECT w, wstart, wend, c, ch, impressions, clicks, orders, paid_orders, gmv_cents, uv FROM got) LIMIT 3;
