-- The 1m window counters per (campaign, channel), computed by sqlite3 from
-- the JSON events (no dedup, lateness or rollups: a lower bound on the work).
SELECT json_extract(line, '$.click.campaignId') AS c, json_extract(line, '$.click.channel') AS ch,
       CAST(json_extract(line, '$.click.eventTimeMs') AS INTEGER) / 60000 AS m,
       SUM(json_extract(line, '$.click.type') = 'EVENT_TYPE_IMPRESSION') AS impressions,
       SUM(json_extract(line, '$.click.type') = 'EVENT_TYPE_CLICK') AS clicks,
       COUNT(DISTINCT json_extract(line, '$.click.userId')) AS uv
FROM raw WHERE json_valid(line) AND json_type(line, '$.click') = 'object'
GROUP BY c, ch, m;
