-- Compares got_raw(line) (promowatch's JSON results: the rows of all users)
-- with expected.
-- Prints key|value lines that the test scripts check.
-- 5. What promowatch wrote. The columns of `expected` after its key (w,
-- wstart, wend, c, ch) are named as promowatch's JSON names them: `got` and
-- the comparisons take that list from `expected`, so a counter added to
-- reference.sql is compared without a change here (sqlite3 writes the
-- statements with the list filled in to compare_got.sql, then reads them).
.once compare_got.sql
WITH cols AS (SELECT name FROM pragma_table_info('expected') WHERE cid >= 5 ORDER BY cid),
     list AS (SELECT group_concat(name, ', ') AS names,
                     group_concat(printf('json_extract(line, ''$.%s'') AS %s', name, name), ', ') AS got
              FROM cols)
SELECT 'CREATE TABLE got AS SELECT json_extract(line, ''$.window'') AS w, '
    || 'json_extract(line, ''$.window_start_ms'') AS wstart, json_extract(line, ''$.window_end_ms'') AS wend, '
    || 'json_extract(line, ''$.campaign_id'') AS c, json_extract(line, ''$.channel'') AS ch, ' || got
    || ', json_extract(line, ''$.ctr'') AS ctr, json_extract(line, ''$.cvr'') AS cvr, '
    || 'json_extract(line, ''$.roi'') AS roi FROM got_raw '
    || 'WHERE json_extract(line, ''$.segment'') IS NULL AND json_extract(line, ''$.window'') != ''period'';' || char(10)
    || 'CREATE VIEW got_rows AS SELECT w, wstart, wend, c, ch, ' || names || ' FROM got;' || char(10)
    || 'CREATE VIEW expected_rows AS SELECT w, wstart, wend, c, ch, ' || names || ' FROM expected;'
FROM list;
.read compare_got.sql

SELECT 'rows_expected', COUNT(*) FROM expected;
SELECT 'rows_got', COUNT(*) FROM got;
SELECT 'rows_missing', COUNT(*) FROM (SELECT * FROM expected_rows EXCEPT SELECT * FROM got_rows);
SELECT 'rows_unexpected', COUNT(*) FROM (SELECT * FROM got_rows EXCEPT SELECT * FROM expected_rows);
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
SELECT 'missing_example', * FROM (SELECT * FROM expected_rows EXCEPT SELECT * FROM got_rows) LIMIT 3;
