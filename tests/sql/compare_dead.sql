-- Dead letters of a replay (dead_raw(line): its JSON-lines file) against
-- the records SQL rejected: the same reasons, the original bytes.
SELECT 'dead_reasons', group_concat(reason || '=' || n, ' ') FROM
  (SELECT json_extract(line, '$.reason') AS reason, COUNT(*) AS n FROM dead_raw
   WHERE json_extract(line, '$.reason') != 'late' GROUP BY 1 ORDER BY 1);
-- Every kept record is the original line, byte for byte (JSON text), with its reason.
SELECT 'dead_not_original', COUNT(*) FROM dead_raw d WHERE json_extract(d.line, '$.reason') != 'late'
  AND NOT EXISTS (SELECT 1 FROM judged r WHERE r.line = json_extract(d.line, '$.record')
                  AND r.reason = json_extract(d.line, '$.reason'));
SELECT 'late_kept', COUNT(*) FROM dead_raw WHERE json_extract(line, '$.reason') = 'late';
