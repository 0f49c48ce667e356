-- The independent computation of per-segment windows, in SQL, from the
-- contract (operators/segment.h, README "User tags", DOMAIN.md thresholds),
-- not from the code. Run after reference.sql (its `accepted` table: no
-- duplicate, no late record). Each click and order gets its user's
-- segment just before it in event time, whatever order the events arrived
-- in (the same millisecond: clicks before orders, then by event id), from the user's own
-- earlier events: the first of high_value, active, dormant, new that
-- holds, else other; a user never seen before is new. Output:
-- expected_seg(w, wstart, wend, c, ch, seg, counters..., uv, buyers) for the 5m
-- and cumulative windows.
CREATE TABLE ue AS
SELECT seq, user_id AS u, t, kind, code, amount, campaign, channel, event_id FROM accepted
WHERE kind IN ('click', 'order');
CREATE INDEX ue_by_user ON ue(u, t);
-- Paid orders count +1 and add their amount; refunds subtract theirs.
CREATE TABLE money AS
SELECT seq, u, t, kind, event_id, t / 86400000 AS d, CASE WHEN code = 2 THEN 1 ELSE 0 END AS o,
       CASE WHEN code = 2 THEN amount ELSE -amount END AS cents
FROM ue WHERE kind = 'order' AND code IN (2, 3);
CREATE INDEX money_by_user ON money(u, t);
CREATE TABLE before_event AS
SELECT e.seq, e.t,
  (SELECT MIN(p.t) FROM ue p WHERE p.u = e.u AND (p.t < e.t OR (p.t = e.t AND (p.kind < e.kind OR (p.kind = e.kind AND p.event_id < e.event_id))))) AS first_seen,
  (SELECT MAX(m.t) FROM money m WHERE m.u = e.u AND (m.t < e.t OR (m.t = e.t AND (m.kind < e.kind OR (m.kind = e.kind AND m.event_id < e.event_id)))) AND m.o = 1) AS last_paid,
  (SELECT COALESCE(SUM(m.o), 0) FROM money m
     WHERE m.u = e.u AND (m.t < e.t OR (m.t = e.t AND (m.kind < e.kind OR (m.kind = e.kind AND m.event_id < e.event_id)))) AND m.d > e.t / 86400000 - 30) AS o30,
  (SELECT COALESCE(SUM(m.cents), 0) FROM money m
     WHERE m.u = e.u AND (m.t < e.t OR (m.t = e.t AND (m.kind < e.kind OR (m.kind = e.kind AND m.event_id < e.event_id)))) AND m.d > e.t / 86400000 - 30) AS c30,
  (SELECT COALESCE(SUM(m.o), 0) FROM money m
     WHERE m.u = e.u AND (m.t < e.t OR (m.t = e.t AND (m.kind < e.kind OR (m.kind = e.kind AND m.event_id < e.event_id)))) AND m.d > e.t / 86400000 - 365) AS o365,
  (SELECT COALESCE(SUM(m.cents), 0) FROM money m
     WHERE m.u = e.u AND (m.t < e.t OR (m.t = e.t AND (m.kind < e.kind OR (m.kind = e.kind AND m.event_id < e.event_id)))) AND m.d > e.t / 86400000 - 365) AS c365
FROM ue e;
CREATE TABLE seg AS
SELECT seq, CASE
  WHEN first_seen IS NULL THEN 'new'
  WHEN c365 > 500000 OR o365 - 1 >= 5 THEN 'high_value'
  WHEN o30 >= 2 AND c30 > 15000 * o30 THEN 'active'
  WHEN last_paid IS NOT NULL AND t >= last_paid + 90 * 86400000 THEN 'dormant'
  WHEN last_paid IS NULL AND t < first_seen + 7 * 86400000 THEN 'new'
  ELSE 'other' END AS seg
FROM before_event;
CREATE TABLE keyed_seg AS
SELECT a.campaign AS c, a.channel AS ch, s.seg, a.* FROM accepted a JOIN seg s USING (seq)
UNION ALL SELECT a.campaign, '*', s.seg, a.* FROM accepted a JOIN seg s USING (seq)
UNION ALL SELECT '*', '*', s.seg, a.* FROM accepted a JOIN seg s USING (seq);
CREATE TABLE expected_seg AS
WITH ks(k) AS (VALUES (0), (1), (2), (3), (4)),
     assigned AS (SELECT (t / 60000 + 1 + k) * 60000 AS wend, keyed_seg.* FROM keyed_seg, ks)
SELECT '5m' AS w, wend - 300000 AS wstart, wend, c, ch, seg,
  SUM(kind = 'click' AND code = 1) AS impressions, SUM(kind = 'click' AND code = 2) AS clicks,
  SUM(kind = 'click' AND code = 3) AS add_to_carts, SUM(kind = 'click' AND code = 4) AS page_views,
  SUM(kind = 'order' AND code = 1) AS orders, SUM(kind = 'order' AND code = 2) AS paid_orders,
  SUM(kind = 'order' AND code = 4) AS cancelled_orders, SUM(kind = 'order' AND code = 3) AS refunded_orders,
  SUM(CASE WHEN kind = 'order' AND code = 2 THEN amount ELSE 0 END) AS gmv_cents,
  SUM(CASE WHEN kind = 'order' AND code = 3 THEN amount ELSE 0 END) AS refund_cents,
  COUNT(DISTINCT user_id) AS uv,
  COUNT(DISTINCT CASE WHEN kind = 'order' AND code = 2 THEN user_id END) AS buyers
FROM assigned GROUP BY wend, c, ch, seg;
-- Cumulative: for each key and each minute it had events, everything of
-- that key since local midnight (UTC+8) up to the end of that minute.
INSERT INTO expected_seg
SELECT 'cumulative', (m.day * 86400000) - 28800000, m.wend, m.c, m.ch, m.seg,
  SUM(kind = 'click' AND code = 1), SUM(kind = 'click' AND code = 2),
  SUM(kind = 'click' AND code = 3), SUM(kind = 'click' AND code = 4),
  SUM(kind = 'order' AND code = 1), SUM(kind = 'order' AND code = 2),
  SUM(kind = 'order' AND code = 4), SUM(kind = 'order' AND code = 3),
  SUM(CASE WHEN kind = 'order' AND code = 2 THEN amount ELSE 0 END),
  SUM(CASE WHEN kind = 'order' AND code = 3 THEN amount ELSE 0 END),
  COUNT(DISTINCT user_id),
  COUNT(DISTINCT CASE WHEN kind = 'order' AND code = 2 THEN user_id END)
FROM (SELECT DISTINCT c, ch, seg, (t / 60000 + 1) * 60000 AS wend, (t + 28800000) / 86400000 AS day
      FROM keyed_seg) m
JOIN keyed_seg e ON e.c = m.c AND e.ch = m.ch AND e.seg = m.seg
  AND (e.t + 28800000) / 86400000 = m.day AND e.t < m.wend
GROUP BY m.c, m.ch, m.seg, m.wend, m.day;
CREATE TABLE got_seg AS
SELECT json_extract(line, '$.window') AS w, json_extract(line, '$.window_start_ms') AS wstart,
  json_extract(line, '$.window_end_ms') AS wend, json_extract(line, '$.campaign_id') AS c,
  json_extract(line, '$.channel') AS ch, json_extract(line, '$.segment') AS seg,
  json_extract(line, '$.impressions') AS impressions, json_extract(line, '$.clicks') AS clicks,
  json_extract(line, '$.add_to_carts') AS add_to_carts, json_extract(line, '$.page_views') AS page_views,
  json_extract(line, '$.orders') AS orders, json_extract(line, '$.paid_orders') AS paid_orders,
  json_extract(line, '$.cancelled_orders') AS cancelled_orders,
  json_extract(line, '$.refunded_orders') AS refunded_orders, json_extract(line, '$.gmv_cents') AS gmv_cents,
  json_extract(line, '$.refund_cents') AS refund_cents, json_extract(line, '$.uv') AS uv,
  json_extract(line, '$.buyers') AS buyers
FROM got_raw WHERE json_extract(line, '$.segment') IS NOT NULL;
SELECT 'seg_rows_expected', COUNT(*) FROM expected_seg;
SELECT 'seg_rows_got', COUNT(*) FROM got_seg;
SELECT 'seg_rows_missing', COUNT(*) FROM (SELECT * FROM expected_seg EXCEPT SELECT * FROM got_seg);
SELECT 'seg_rows_unexpected', COUNT(*) FROM (SELECT * FROM got_seg EXCEPT SELECT * FROM expected_seg);
SELECT 'seg_windows_other_than_5m', COUNT(*) FROM got_seg WHERE w NOT IN ('5m', 'cumulative');
SELECT 'seg_cumulative_rows', COUNT(*) FROM got_seg WHERE w = 'cumulative';
-- Events that arrived out of order with a paid order or refund of their
-- user (after a newer one, or before an older one).
SELECT 'seg_out_of_order', COUNT(*) FROM ue e
WHERE EXISTS (SELECT 1 FROM money m WHERE m.u = e.u AND m.seq <> e.seq AND (m.seq < e.seq) <> (m.t <= e.t));
SELECT 'seg_events', group_concat(seg || '=' || n, ' ') FROM
  (SELECT seg, COUNT(*) AS n FROM seg GROUP BY seg ORDER BY seg);
SELECT 'seg_missing_example', * FROM (SELECT * FROM expected_seg EXCEPT SELECT * FROM got_seg) LIMIT 3;
SELECT 'seg_unexpected_example', * FROM (SELECT * FROM got_seg EXCEPT SELECT * FROM expected_seg) LIMIT 3;
