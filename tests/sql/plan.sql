-- The independent computation of a plan's period rows (operators/plan.h,
-- README "The plan"), in SQL, from the definitions, not from the code. Run
-- after reference.sql (its `accepted` table). Input: plan(c, pstart, pend,
-- within). Output: expected_period(c, ch, counters..., uv, buyers) - a
-- campaign's events in [pstart, pend) per channel and '*' - and the
-- reactivation cohort.
CREATE TABLE pe AS
SELECT a.*, p.pstart, p.pend FROM accepted a JOIN plan p ON a.campaign = p.c
WHERE a.t >= p.pstart AND a.t < p.pend;
-- A user's events in the profile step's order: time, clicks before orders, event id.
CREATE TABLE ordered AS
SELECT seq, user_id AS u, t, kind, code, campaign, channel, event_id,
  ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY t, kind, event_id) AS n
FROM accepted WHERE kind IN ('click', 'order');
CREATE INDEX ordered_by_user ON ordered(u, kind, code, t);
CREATE TABLE first_event AS SELECT seq FROM ordered WHERE n = 1;
CREATE TABLE first_paid AS
SELECT seq FROM (SELECT seq, ROW_NUMBER() OVER (PARTITION BY u ORDER BY t, kind, event_id) AS k
                 FROM ordered WHERE kind = 'order' AND code = 2) WHERE k = 1;
-- The cohort: dormant at the start (a paid order before it, the last at
-- least 90 days before it), reached by the first impression or click of
-- the campaign in its period; repurchased: a paid order at or after the
-- reach and at most `within` after it.
CREATE TABLE reach AS
SELECT c, u, seq AS rseq, t AS reached, channel AS rch, within FROM (
  SELECT p.c, o.u, o.seq, o.t, o.channel, p.within,
    ROW_NUMBER() OVER (PARTITION BY p.c, o.u ORDER BY o.t, o.kind, o.event_id) AS k
  FROM ordered o JOIN plan p ON o.campaign = p.c
  WHERE p.within > 0 AND o.kind = 'click' AND o.code IN (1, 2) AND o.t >= p.pstart AND o.t < p.pend
    AND (SELECT MAX(m.t) FROM ordered m WHERE m.u = o.u AND m.kind = 'order' AND m.code = 2
         AND m.t < p.pstart) <= p.pstart - 90 * 86400000)
WHERE k = 1;
CREATE TABLE repurchase AS
SELECT r.c, r.u, r.rch FROM reach r
WHERE EXISTS (SELECT 1 FROM ordered m WHERE m.u = r.u AND m.kind = 'order' AND m.code = 2
              AND m.t >= r.reached AND m.t - r.reached <= r.within);
CREATE TABLE pkeyed AS
SELECT campaign AS c, channel AS ch, * FROM pe UNION ALL SELECT campaign, '*', * FROM pe;
CREATE TABLE expected_period AS
SELECT c, ch,
  SUM(kind = 'click' AND code = 1) AS impressions, SUM(kind = 'click' AND code = 2) AS clicks,
  SUM(kind = 'click' AND code = 3) AS add_to_carts, SUM(kind = 'click' AND code = 4) AS page_views,
  SUM(kind = 'order' AND code = 1) AS orders, SUM(kind = 'order' AND code = 2) AS paid_orders,
  SUM(kind = 'order' AND code = 4) AS cancelled_orders, SUM(kind = 'order' AND code = 3) AS refunded_orders,
  SUM(CASE WHEN kind = 'order' AND code = 2 THEN amount ELSE 0 END) AS gmv_cents,
  SUM(CASE WHEN kind = 'order' AND code = 3 THEN amount ELSE 0 END) AS refund_cents,
  SUM(CASE WHEN kind = 'spend' THEN amount ELSE 0 END) AS spend_cents,
  COUNT(DISTINCT CASE WHEN kind != 'spend' THEN user_id END) AS uv,
  COUNT(DISTINCT CASE WHEN kind = 'order' AND code = 2 THEN user_id END) AS buyers,
  SUM(seq IN first_paid) AS new_customer_orders,
  SUM(seq IN first_event) AS new_users,
  SUM(seq IN (SELECT rseq FROM reach)) AS dormant_reached
FROM pkeyed GROUP BY c, ch;
-- Repurchases credited to the campaign and the reach's channel (a key
-- may have nothing else in the period).
INSERT INTO expected_period (c, ch, impressions, clicks, add_to_carts, page_views, orders, paid_orders,
  cancelled_orders, refunded_orders, gmv_cents, refund_cents, spend_cents, uv, buyers,
  new_customer_orders, new_users, dormant_reached)
SELECT DISTINCT r.c, k.ch, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
FROM repurchase r JOIN (SELECT c, rch AS ch, u FROM repurchase UNION ALL SELECT c, '*', u FROM repurchase) k
  ON k.c = r.c AND k.u = r.u
WHERE NOT EXISTS (SELECT 1 FROM expected_period e WHERE e.c = r.c AND e.ch = k.ch);
ALTER TABLE expected_period ADD COLUMN dormant_repurchased INTEGER;
UPDATE expected_period SET dormant_repurchased =
  (SELECT COUNT(*) FROM repurchase r WHERE r.c = expected_period.c
     AND (expected_period.ch = '*' OR r.rch = expected_period.ch));
-- promowatch's latest period row per key.
CREATE TABLE got_period AS
SELECT json_extract(line, '$.campaign_id') AS c, json_extract(line, '$.channel') AS ch, line FROM (
  SELECT line, ROW_NUMBER() OVER (PARTITION BY json_extract(line, '$.campaign_id'), json_extract(line, '$.channel')
    ORDER BY json_extract(line, '$.window_end_ms') DESC, json_extract(line, '$.revision') DESC) AS k
  FROM got_raw WHERE json_extract(line, '$.window') = 'period' AND json_extract(line, '$.segment') IS NULL)
WHERE k = 1;
CREATE TABLE period_diff AS
SELECT e.c, e.ch, g.line, e.* FROM expected_period e LEFT JOIN got_period g USING (c, ch)
WHERE g.line IS NULL
  OR json_extract(g.line, '$.impressions') != e.impressions OR json_extract(g.line, '$.clicks') != e.clicks
  OR json_extract(g.line, '$.add_to_carts') != e.add_to_carts OR json_extract(g.line, '$.page_views') != e.page_views
  OR json_extract(g.line, '$.orders') != e.orders OR json_extract(g.line, '$.paid_orders') != e.paid_orders
  OR json_extract(g.line, '$.cancelled_orders') != e.cancelled_orders
  OR json_extract(g.line, '$.refunded_orders') != e.refunded_orders
  OR json_extract(g.line, '$.gmv_cents') != e.gmv_cents OR json_extract(g.line, '$.refund_cents') != e.refund_cents
  OR json_extract(g.line, '$.spend_cents') != e.spend_cents OR json_extract(g.line, '$.uv') != e.uv
  OR json_extract(g.line, '$.buyers') != e.buyers
  OR json_extract(g.line, '$.new_customer_orders') != e.new_customer_orders
  OR json_extract(g.line, '$.new_users') != e.new_users
  OR json_extract(g.line, '$.dormant_reached') != e.dormant_reached
  OR json_extract(g.line, '$.dormant_repurchased') != e.dormant_repurchased;
SELECT 'period_rows_expected|' || COUNT(*) FROM expected_period;
SELECT 'period_rows_got|' || COUNT(*) FROM got_period;
SELECT 'period_rows_differ|' || COUNT(*) FROM period_diff;
SELECT 'period_diff_example|' || c || '/' || ch || ' sql=' || json_object('imp', impressions, 'clk', clicks,
  'paid', paid_orders, 'gmv', gmv_cents, 'uv', uv, 'buyers', buyers, 'ncust', new_customer_orders,
  'new_users', new_users, 'reached', dormant_reached, 'rep', dormant_repurchased) || ' got=' || COALESCE(line, 'none')
FROM period_diff LIMIT 2;
SELECT 'period_unexpected|' || COUNT(*) FROM got_period g
WHERE NOT EXISTS (SELECT 1 FROM expected_period e WHERE e.c = g.c AND e.ch = g.ch);
SELECT 'cohort|' || c || ' reached=' || (SELECT COUNT(*) FROM reach r WHERE r.c = plan.c)
  || ' repurchased=' || (SELECT COUNT(*) FROM repurchase r WHERE r.c = plan.c) FROM plan;
-- The daily sheet (promowatch report): per planned campaign, day of its
-- period (in +08:00, the test plan's zone) and channel (and '*'), with
-- orders or cost that day, or an alert fired on it then.
CREATE TABLE day_rows AS
SELECT date((t + 8 * 3600000) / 1000, 'unixepoch') AS date, c AS campaign, ch AS channel,
  SUM(kind = 'order' AND code = 2) AS orders,
  SUM(CASE WHEN kind = 'order' AND code = 2 THEN amount ELSE 0 END) AS gmv,
  SUM(CASE WHEN kind = 'spend' THEN amount ELSE 0 END) AS cost
FROM pkeyed GROUP BY 1, 2, 3;
CREATE TABLE fired AS
SELECT date((json_extract(line, '$.event_time_ms') + 8 * 3600000) / 1000, 'unixepoch') AS date,
  json_extract(line, '$.campaign_id') AS campaign, json_extract(line, '$.channel') AS channel,
  json_extract(line, '$.rule') || ' ' || strftime('%H:%M', (json_extract(line, '$.event_time_ms') + 8 * 3600000) / 1000, 'unixepoch') AS note
FROM alerts_raw WHERE json_extract(line, '$.state') = 'firing'
  AND json_extract(line, '$.campaign_id') IN (SELECT c FROM plan);
CREATE TABLE expected_daily AS
SELECT k.date, k.campaign, k.channel, CAST(COALESCE(d.orders, 0) AS TEXT) AS orders,
  printf('%.2f', COALESCE(d.gmv, 0) / 100.0) AS gmv,
  CASE WHEN d.orders > 0 THEN printf('%.2f', (d.gmv / d.orders) / 100.0) ELSE '' END AS aov,
  printf('%.2f', COALESCE(d.cost, 0) / 100.0) AS cost,
  CASE WHEN d.cost > 0 THEN printf('%.4f', d.gmv * 1.0 / d.cost) ELSE '' END AS roi,
  COALESCE((SELECT group_concat(note, '; ') FROM fired f WHERE f.date = k.date AND f.campaign = k.campaign AND f.channel = k.channel), '') AS notes
FROM (SELECT date, campaign, channel FROM day_rows WHERE orders > 0 OR cost > 0
      UNION SELECT date, campaign, channel FROM fired) k
LEFT JOIN day_rows d USING (date, campaign, channel);
