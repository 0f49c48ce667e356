-- The independent computation of promowatch's window results, in SQL.
-- Input: raw(seq INTEGER PRIMARY KEY, line TEXT), the JSON events in
-- arrival order. Output: expected(w, wstart, wend, c, ch, counters..., uv),
-- plus judged (every record with its reject reason), on_time and accepted.
-- Written from the contract (README, events.proto), not from the code.
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

