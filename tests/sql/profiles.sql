-- The independent computation of user tags, in SQL, from the contract
-- (README "User tags", DOMAIN.md thresholds), not from the code. Input:
-- raw(line) the JSON events (clean: no duplicates, no late or malformed
-- records), got(line) promowatch's tag changes. Times in ms; a day is a
-- whole UTC day, day(t) = t / 86400000; "the last N days" at T are the days
-- day(T)-N+1 .. day(T). Each user is judged as of T_u = max(W, the user's
-- last event), W the final watermark (max event time - 5 s in replay).
-- Live (W in w_override), events after W are not applied yet: the profile
-- step takes a user's events in event-time order, once the watermark
-- passes them (replay applies the rest at the end of its input).
CREATE TABLE e_all AS
SELECT json_extract(line, '$.click.userId') AS u, CAST(json_extract(line, '$.click.eventTimeMs') AS INTEGER) AS t,
       'click' AS kind, 0 AS amount
FROM raw WHERE json_type(line, '$.click') = 'object'
UNION ALL
SELECT json_extract(line, '$.order.userId'), CAST(json_extract(line, '$.order.eventTimeMs') AS INTEGER),
       json_extract(line, '$.order.status'), CAST(json_extract(line, '$.order.amountCents') AS INTEGER)
FROM raw WHERE json_type(line, '$.order') = 'object';
-- W: the final watermark; the caller may state it in w_override (live).
CREATE TABLE w AS SELECT COALESCE((SELECT MAX(w) FROM w_override), MAX(t) - 5000) AS w FROM e_all;
CREATE TABLE e AS SELECT * FROM e_all
WHERE NOT EXISTS (SELECT 1 FROM w_override) OR t <= (SELECT w FROM w);
CREATE TABLE users AS
SELECT u, MIN(t) AS first_seen, MAX(MAX(t), (SELECT w FROM w)) AS tu,
       MAX(CASE WHEN kind = 'ORDER_STATUS_PAID' THEN t END) AS last_paid,
       MIN(CASE WHEN kind = 'ORDER_STATUS_PAID' THEN t END) AS first_paid
FROM e GROUP BY u;
-- Paid orders count +1 and add their amount; refunds subtract theirs.
CREATE TABLE money AS
SELECT u, t, t / 86400000 AS d, CASE WHEN kind = 'ORDER_STATUS_PAID' THEN 1 ELSE 0 END AS orders,
       CASE WHEN kind = 'ORDER_STATUS_PAID' THEN amount ELSE -amount END AS cents
FROM e WHERE kind IN ('ORDER_STATUS_PAID', 'ORDER_STATUS_REFUNDED');
CREATE INDEX money_by_user ON money(u);
CREATE TABLE sums AS
SELECT users.u,
  COALESCE(SUM(CASE WHEN m.d > users.tu / 86400000 - 30 AND m.d <= users.tu / 86400000 THEN m.orders END), 0) AS o30,
  COALESCE(SUM(CASE WHEN m.d > users.tu / 86400000 - 30 AND m.d <= users.tu / 86400000 THEN m.cents END), 0) AS c30,
  COALESCE(SUM(CASE WHEN m.d > users.tu / 86400000 - 365 AND m.d <= users.tu / 86400000 THEN m.orders END), 0) AS o365,
  COALESCE(SUM(CASE WHEN m.d > users.tu / 86400000 - 365 AND m.d <= users.tu / 86400000 THEN m.cents END), 0) AS c365
FROM users LEFT JOIN money m ON m.u = users.u GROUP BY users.u;
CREATE TABLE expected AS
SELECT users.u,
  CASE WHEN last_paid IS NULL AND tu < first_seen + 7 * 86400000 THEN 'true' ELSE 'false' END AS tag_new,
  CASE WHEN o30 >= 2 AND c30 > 15000 * o30 THEN 'true' ELSE 'false' END AS tag_active,
  CASE WHEN last_paid IS NOT NULL AND tu >= last_paid + 90 * 86400000 THEN 'true' ELSE 'false' END AS tag_dormant,
  CASE WHEN c365 > 500000 OR o365 - 1 >= 5 THEN 'true' ELSE 'false' END AS tag_high_value,
  CASE WHEN last_paid IS NULL THEN '' ELSE
    'R' || (5 - ((tu - last_paid) / 86400000 >= 7) - ((tu - last_paid) / 86400000 >= 30)
              - ((tu - last_paid) / 86400000 >= 90) - ((tu - last_paid) / 86400000 >= 180))
    || 'F' || (1 + (o365 >= 2) + (o365 >= 3) + (o365 >= 5) + (o365 >= 8))
    || 'M' || (1 + (c365 >= 50000) + (c365 >= 200000) + (c365 >= 500000) + (c365 >= 1000000)) END AS tag_rfm,
  CASE WHEN c365 >= 2000000 THEN 'diamond' WHEN c365 >= 500000 THEN 'gold'
       WHEN c365 >= 100000 THEN 'silver' ELSE '' END AS tag_tier
FROM users JOIN sums ON sums.u = users.u;
-- promowatch's final tags: the last change of each (user, tag); tags that
-- never changed keep their initial value (false, or '' for rfm and tier).
CREATE TABLE changes AS
SELECT rowid AS seq, json_extract(line, '$.user_id') AS u, json_extract(line, '$.tag') AS tag,
       json_extract(line, '$.from') AS f, json_extract(line, '$.to') AS tval,
       CAST(json_extract(line, '$.event_time_ms') AS INTEGER) AS t
FROM got;
CREATE INDEX changes_by_user ON changes(u, tag, seq);
CREATE TABLE final AS
SELECT c.u, c.tag, c.tval FROM changes c
WHERE c.seq = (SELECT MAX(seq) FROM changes c2 WHERE c2.u = c.u AND c2.tag = c.tag);
CREATE TABLE got_tags AS
SELECT users.u,
  COALESCE((SELECT tval FROM final WHERE final.u = users.u AND tag = 'new'), 'false') AS tag_new,
  COALESCE((SELECT tval FROM final WHERE final.u = users.u AND tag = 'active'), 'false') AS tag_active,
  COALESCE((SELECT tval FROM final WHERE final.u = users.u AND tag = 'dormant'), 'false') AS tag_dormant,
  COALESCE((SELECT tval FROM final WHERE final.u = users.u AND tag = 'high_value'), 'false') AS tag_high_value,
  COALESCE((SELECT tval FROM final WHERE final.u = users.u AND tag = 'rfm'), '') AS tag_rfm,
  COALESCE((SELECT tval FROM final WHERE final.u = users.u AND tag = 'tier'), '') AS tag_tier
FROM users;
-- Change counts SQL can derive exactly: new (true at first sight; false at
-- the first paid order or 7 days after first sight) and dormant (true 90
-- days after a paid order with no next one by then; false at that next one).
CREATE TABLE paid AS
SELECT u, t, LEAD(t) OVER (PARTITION BY u ORDER BY t) AS next_t FROM e WHERE kind = 'ORDER_STATUS_PAID';
CREATE TABLE expected_counts AS
SELECT 'new_true' AS k, COUNT(*) AS v FROM users
UNION ALL SELECT 'new_false', COUNT(*) FROM users
  WHERE (first_paid IS NOT NULL AND first_paid <= tu) OR first_seen + 7 * 86400000 <= tu
UNION ALL SELECT 'dormant_true', COUNT(*) FROM paid JOIN users USING (u)
  WHERE (next_t IS NULL AND users.tu >= paid.t + 90 * 86400000) OR (next_t IS NOT NULL AND next_t > paid.t + 90 * 86400000)
UNION ALL SELECT 'dormant_false', COUNT(*) FROM paid WHERE next_t IS NOT NULL AND next_t > t + 90 * 86400000;
CREATE TABLE got_counts AS
SELECT tag || '_' || tval AS k, COUNT(*) AS v FROM changes WHERE tag IN ('new', 'dormant') GROUP BY tag, tval;
SELECT 'users|' || COUNT(*) FROM users;
SELECT 'paid_orders|' || COUNT(*) FROM e WHERE kind = 'ORDER_STATUS_PAID';
SELECT 'tag_changes|' || COUNT(*) FROM changes;
SELECT 'tags_differ|' || COUNT(*) FROM expected x JOIN got_tags g USING (u)
  WHERE x.tag_new != g.tag_new OR x.tag_active != g.tag_active OR x.tag_dormant != g.tag_dormant
     OR x.tag_high_value != g.tag_high_value OR x.tag_rfm != g.tag_rfm OR x.tag_tier != g.tag_tier;
SELECT 'differ_example|' || x.u || ' want ' || x.tag_new || x.tag_active || x.tag_dormant || x.tag_high_value || x.tag_rfm || x.tag_tier
       || ' got ' || g.tag_new || g.tag_active || g.tag_dormant || g.tag_high_value || g.tag_rfm || g.tag_tier
  FROM expected x JOIN got_tags g USING (u)
  WHERE x.tag_new != g.tag_new OR x.tag_active != g.tag_active OR x.tag_dormant != g.tag_dormant
     OR x.tag_high_value != g.tag_high_value OR x.tag_rfm != g.tag_rfm OR x.tag_tier != g.tag_tier LIMIT 3;
SELECT 'count_' || x.k || '|' || x.v || '|' || COALESCE(g.v, 0) FROM expected_counts x LEFT JOIN got_counts g USING (k);
SELECT 'with_tag_' || k || '|' || v FROM (
  SELECT 'dormant' AS k, SUM(tag_dormant = 'true') AS v FROM expected
  UNION ALL SELECT 'active', SUM(tag_active = 'true') FROM expected
  UNION ALL SELECT 'high_value', SUM(tag_high_value = 'true') FROM expected
  UNION ALL SELECT 'tier', SUM(tag_tier != '') FROM expected);
-- Every change really changes something, and follows the previous value.
SELECT 'bad_chain|' || COUNT(*) FROM changes c
  WHERE c.f = c.tval OR c.f != COALESCE((SELECT tval FROM changes p WHERE p.u = c.u AND p.tag = c.tag AND p.seq < c.seq
                                           ORDER BY p.seq DESC LIMIT 1),
                                          CASE WHEN c.tag IN ('rfm', 'tier') THEN '' ELSE 'false' END);
