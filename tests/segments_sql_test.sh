#!/usr/bin/env bash
# Campaign windows by user segment, checked against an independent
# computation in SQL (tests/sql/segments.sql): each click and order counts
# in the segment its user was in just before it (the first of high_value,
# active, dormant, new that holds, else other), as of the event, so users
# cross segments inside the sale (new -> buyer, dormant -> reactivated).
# A year of 100 users, then a sale of the same users as producers send it:
# out of order (a user's click arriving after the order it led to: its
# segment is still the one before the order), re-sent, some records late;
# the default split (5m and the cumulative day).
source "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 is not installed (scripts/install-deps.sh installs it)"
cd "$WORK"

"$PROMOWATCH" gen --format json -n 12000 --rate 0.0004 --users 100 --campaigns 2 --peak-factor 1 --no-spend \
  --late-rate 0.001 --disorder-rate 0.3 --duplicate-rate 0.01 --malformed-rate 0 --seed 31 -o history.jsonl 2>/dev/null
sale_start=$(( $(tail -n 1 history.jsonl | sed 's/.*"eventTimeMs":"\([0-9]*\)".*/\1/') + 86400000 ))
"$PROMOWATCH" gen --format json -n 20000 --rate 40 --users 100 --campaigns 2 --peak-factor 1 --no-spend \
  --start-ms "$sale_start" --id-prefix sale- --late-rate 0.002 --disorder-rate 0.3 --duplicate-rate 0.02 \
  --malformed-rate 0 --seed 32 -o sale.jsonl 2>/dev/null
cat history.jsonl sale.jsonl > year.jsonl
cat > config.yaml <<'YAML'
windows:
  sizes: [1m, 5m]
profiles:
  enabled: true
segments:
  enabled: true
YAML
"$PROMOWATCH" replay -c config.yaml -i year.jsonl -o windows.jsonl --dead-letter dead.jsonl 2> replay.log ||
  fail "replay failed: $(tail -3 replay.log)"
# With segments off, the rows of all users are the same, byte for byte.
grep -v '"segment":' windows.jsonl > all_users.jsonl
printf 'windows:\n  sizes: [1m, 5m]\nprofiles:\n  enabled: true\n' > off.yaml
"$PROMOWATCH" replay -c off.yaml -i year.jsonl -o off.jsonl 2> off.log || fail "replay without segments failed"
cmp -s off.jsonl all_users.jsonl || fail "segments on changed the rows of all users: $(diff off.jsonl all_users.jsonl | head -3)"

{
  echo "BEGIN; CREATE TABLE raw(seq INTEGER PRIMARY KEY, line TEXT); CREATE TABLE got_raw(line TEXT);"
  sql_insert "raw(line)" < year.jsonl
  sql_insert "got_raw(line)" < windows.jsonl
  echo "COMMIT;"
} > load.sql
sqlite3 db.sqlite < load.sql
sqlite3 db.sqlite > check.out <<SQL
.read $TESTS_DIR/sql/reference.sql
.read $TESTS_DIR/sql/segments.sql
SQL
grep '^seg_' check.out
[ "$(val seg_rows_expected)" -gt 1000 ] || fail "too few segment rows: $(val seg_rows_expected)"
[ "$(val seg_rows_missing)" = 0 ] || fail "$(val seg_rows_missing) segment rows of SQL are missing or differ: $(grep seg_missing_example check.out)"
[ "$(val seg_rows_unexpected)" = 0 ] || fail "$(val seg_rows_unexpected) segment rows are not SQL's: $(grep seg_unexpected_example check.out)"
[ "$(val seg_windows_other_than_5m)" = 0 ] || fail "segment rows of windows not in segments.windows"
[ "$(val seg_cumulative_rows)" -gt 1000 ] || fail "too few cumulative segment rows: $(val seg_cumulative_rows)"
[ "$(val seg_out_of_order)" -gt 30 ] || fail "too few events out of order with a paid order of their user ($(val seg_out_of_order)): the input does not test the order"
for s in new active dormant high_value other; do
  grep -q "^seg_events|.*$s=" check.out || fail "no event in segment $s: the input does not exercise it"
done
pass "segments: $(val seg_rows_got) rows of 5m and cumulative windows by (campaign, channel, segment) equal SQL ($(val seg_events); $(val seg_out_of_order) out of order with a paid order of their user); the rows of all users unchanged"
