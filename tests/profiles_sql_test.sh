#!/usr/bin/env bash
# User profiles and tags over a generated year of 2,000 users, checked
# against an independent computation in SQL (tests/sql/profiles.sql): every
# user's final tags (new, active, dormant, high_value, rfm, tier) and the
# change counts SQL can derive exactly (new, dormant, including the ones
# that timers fire with no event of that user). Then the same replay killed
# (SIGKILL) at several points and resumed gives byte-identical tag changes:
# none missing, none doubled.
source "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 is not installed (scripts/install-deps.sh installs it)"
cd "$WORK"

# A year at 0.01 events/s: ~2,600 paid orders; clean input (no duplicates,
# disorder, lateness or malformed records), so that SQL sees what promowatch saw.
"$PROMOWATCH" gen --format json -n 300000 --rate 0.01 --users 2000 --campaigns 3 --peak-factor 1 --no-spend \
  --late-rate 0 --disorder-rate 0 --duplicate-rate 0 --malformed-rate 0 -o year.jsonl 2>/dev/null
printf 'windows:\n  sizes: [1m]\ncumulative:\n  enabled: false\nstate:\n  checkpoint_every_records: 40000\n' > config.yaml
"$PROMOWATCH" replay -c config.yaml -i year.jsonl -o windows.jsonl --dead-letter dead.jsonl \
  --tags-output tags.jsonl 2> replay.log || fail "replay failed: $(tail -3 replay.log)"
[ -s tags.jsonl ] || fail "no tag changes"
jq -e -s 'all(.[]; (keys_unsorted == ["user_id", "tag", "from", "to", "reason", "event_time_ms"])
               and (.tag | IN("new", "active", "dormant", "high_value", "rfm", "tier")))' tags.jsonl >/dev/null \
  || fail "tag changes break the contract: $(head -2 tags.jsonl)"
jq -e -s 'any(.[]; .tag == "dormant" and .to == "true" and .reason == "time passed")' tags.jsonl >/dev/null \
  || fail "no dormant change fired by a timer (time passing, no event of the user)"

{
  echo "BEGIN; CREATE TABLE raw(line TEXT); CREATE TABLE got(line TEXT); CREATE TABLE w_override(w INTEGER);"
  sql_insert raw < year.jsonl
  sql_insert got < tags.jsonl
  echo "COMMIT;"
} > load.sql
sqlite3 db.sqlite < load.sql
sqlite3 db.sqlite < "$TESTS_DIR/sql/profiles.sql" > check.out
cat check.out
[ "$(val users)" = 2000 ] || fail "SQL sees $(val users) users, want 2000"
[ "$(val paid_orders)" -gt 1000 ] || fail "too few paid orders for a meaningful test: $(val paid_orders)"
[ "$(val tags_differ)" = 0 ] || fail "$(val tags_differ) users' final tags differ from SQL: $(grep differ_example check.out)"
for k in new_true new_false dormant_true dormant_false; do
  line=$(grep "^count_$k|" check.out) || fail "no count for $k"
  want=$(echo "$line" | cut -d'|' -f2); got=$(echo "$line" | cut -d'|' -f3)
  [ "$want" = "$got" ] || fail "$k changes: SQL $want, promowatch $got"
  [ "$want" -gt 0 ] || fail "no $k changes at all: the input does not exercise it"
done
for k in dormant active high_value tier; do
  [ "$(val with_tag_$k)" -gt 0 ] || fail "no user ends $k: the input does not exercise it"
done
[ "$(val bad_chain)" = 0 ] || fail "$(val bad_chain) changes do not follow the previous value"
# The summary's gauges agree with SQL's final tags.
[ "$(summary_value replay.log users_dormant)" = "$(val with_tag_dormant)" ] || fail "users_dormant $(summary_value replay.log users_dormant) != SQL $(val with_tag_dormant)"
[ "$(summary_value replay.log users_active)" = "$(val with_tag_active)" ] || fail "users_active differs from SQL"
pass "profiles: final tags of 2000 users and new/dormant change counts match SQL"

# new_customer_orders in the 1-minute windows: each user's first paid order,
# counted in its campaign, channel and minute (SQL), against the results;
# reactivated_buyers likewise: each paid order of a user dormant before it.
{
  echo "BEGIN; CREATE TABLE win(line TEXT);"
  grep '"window":"1m"' windows.jsonl | grep -v '"campaign_id":"\*"' | grep -v '"channel":"\*"' |
    sql_insert win
  echo "COMMIT;"
} > win.sql
sqlite3 db.sqlite < win.sql
sqlite3 db.sqlite > nc.out <<'SQL'
CREATE TABLE firsts AS
SELECT json_extract(line, '$.order.campaignId') AS c, json_extract(line, '$.order.channel') AS ch,
       CAST(json_extract(line, '$.order.eventTimeMs') AS INTEGER) / 60000 * 60000 + 60000 AS wend,
       json_extract(line, '$.order.userId') AS u, CAST(json_extract(line, '$.order.eventTimeMs') AS INTEGER) AS t,
       rowid AS seq
FROM raw WHERE json_extract(line, '$.order.status') = 'ORDER_STATUS_PAID';
CREATE INDEX firsts_by_user ON firsts(u, seq);
CREATE TABLE want AS
SELECT c, ch, wend, COUNT(*) AS n FROM firsts f
WHERE t = (SELECT MIN(t) FROM firsts f2 WHERE f2.u = f.u) GROUP BY c, ch, wend;
CREATE TABLE have AS
SELECT json_extract(line, '$.campaign_id') AS c, json_extract(line, '$.channel') AS ch,
       json_extract(line, '$.window_end_ms') AS wend, json_extract(line, '$.new_customer_orders') AS n,
       json_extract(line, '$.new_customer_share') AS share, json_extract(line, '$.paid_orders') AS paid
FROM win WHERE json_extract(line, '$.new_customer_orders') > 0;
SELECT 'want|' || COALESCE(SUM(n), 0) FROM want;
SELECT 'have|' || COALESCE(SUM(n), 0) FROM have;
SELECT 'differ|' || COUNT(*) FROM want w LEFT JOIN have h USING (c, ch, wend) WHERE h.n IS NULL OR h.n != w.n;
SELECT 'bad_share|' || COUNT(*) FROM have WHERE abs(share - CAST(n AS REAL) / paid) > 1e-9;
-- Reactivated buyers: a paid order whose user's previous paid order is 90
-- days or more before it (dormant just before it, DOMAIN.md).
CREATE TABLE react_want AS
SELECT c, ch, wend, COUNT(*) AS n FROM firsts f
WHERE (SELECT p.t FROM firsts p WHERE p.u = f.u AND p.seq < f.seq ORDER BY p.seq DESC LIMIT 1)
      <= f.t - 90 * 86400000
GROUP BY c, ch, wend;
CREATE TABLE react_have AS
SELECT json_extract(line, '$.campaign_id') AS c, json_extract(line, '$.channel') AS ch,
       json_extract(line, '$.window_end_ms') AS wend, json_extract(line, '$.reactivated_buyers') AS n
FROM win WHERE json_extract(line, '$.reactivated_buyers') > 0;
SELECT 'react_want|' || COALESCE(SUM(n), 0) FROM react_want;
SELECT 'react_have|' || COALESCE(SUM(n), 0) FROM react_have;
SELECT 'react_differ|' || COUNT(*) FROM react_want w LEFT JOIN react_have h USING (c, ch, wend)
WHERE h.n IS NULL OR h.n != w.n;
SQL
ncval() { awk -F'|' -v k="$1" '$1 == k { print $2 }' nc.out; }
[ "$(ncval want)" -gt 1000 ] || fail "too few first paid orders: $(ncval want)"
[ "$(ncval want)" = "$(ncval have)" ] || fail "new_customer_orders: SQL $(ncval want), windows $(ncval have)"
[ "$(ncval differ)" = 0 ] || fail "$(ncval differ) windows differ on new_customer_orders"
[ "$(ncval bad_share)" = 0 ] || fail "new_customer_share inconsistent with its counts"
pass "new_customer_orders in $(ncval want) first paid orders match SQL by campaign, channel and minute"
[ "$(ncval react_want)" -gt 0 ] || fail "no paid order from a dormant user: the input does not exercise it"
[ "$(ncval react_want)" = "$(ncval react_have)" ] ||
  fail "reactivated_buyers: SQL $(ncval react_want), windows $(ncval react_have)"
[ "$(ncval react_differ)" = 0 ] || fail "$(ncval react_differ) windows differ on reactivated_buyers"
pass "reactivated_buyers: $(ncval react_want) paid orders of dormant users match SQL by campaign, channel and minute"

# Attribution: a month in which every third order event lost its campaign
# and channel; each goes to the user's last click within 24 h (SQL), and the
# 1-minute windows count paid orders there and say how many were attributed.
"$PROMOWATCH" gen --format json -n 100000 --rate 0.2 --users 500 --campaigns 3 --peak-factor 1 --no-spend \
  --late-rate 0 --disorder-rate 0 --duplicate-rate 0 --malformed-rate 0 --seed 4 -o month.jsonl 2>/dev/null
awk '/"order"/ { n++; if (n % 3 == 0) { sub(/"campaignId":"[^"]*",/, ""); sub(/"channel":"[^"]*",/, "") } } { print }' \
  month.jsonl > month_blank.jsonl
"$PROMOWATCH" replay -c config.yaml -i month_blank.jsonl -o mw.jsonl --dead-letter md.jsonl --tags-output mt.jsonl \
  2> month.log || fail "replay of the month failed: $(tail -3 month.log)"
[ "$(summary_value month.log rejected)" = 0 ] || fail "orders without a campaign were rejected with profiles on"
{
  echo "BEGIN; CREATE TABLE mraw(line TEXT); CREATE TABLE mwin(line TEXT);"
  sql_insert mraw < month_blank.jsonl
  grep '"window":"1m"' mw.jsonl | grep -v '"campaign_id":"\*"' | grep -v '"channel":"\*"' |
    sql_insert mwin
  echo "COMMIT;"
} > month.sql
sqlite3 attr.sqlite < month.sql
sqlite3 attr.sqlite > attr.out <<'SQL'
CREATE TABLE clicks AS
SELECT json_extract(line, '$.click.userId') AS u, CAST(json_extract(line, '$.click.eventTimeMs') AS INTEGER) AS t,
       json_extract(line, '$.click.campaignId') AS c, json_extract(line, '$.click.channel') AS ch
FROM mraw WHERE json_extract(line, '$.click.type') = 'EVENT_TYPE_CLICK';
CREATE INDEX clicks_by_user ON clicks(u, t);
CREATE TABLE paid AS
SELECT json_extract(line, '$.order.userId') AS u, CAST(json_extract(line, '$.order.eventTimeMs') AS INTEGER) AS t,
       json_extract(line, '$.order.campaignId') AS c, json_extract(line, '$.order.channel') AS ch
FROM mraw WHERE json_extract(line, '$.order.status') = 'ORDER_STATUS_PAID';
CREATE TABLE attributed AS
SELECT p.t / 60000 * 60000 + 60000 AS wend, p.c IS NULL AS blank,
  COALESCE(p.c, (SELECT c FROM clicks k WHERE k.u = p.u AND k.t <= p.t AND p.t - k.t <= 86400000 ORDER BY k.t DESC LIMIT 1), '(unattributed)') AS c,
  COALESCE(p.ch, (SELECT ch FROM clicks k WHERE k.u = p.u AND k.t <= p.t AND p.t - k.t <= 86400000 ORDER BY k.t DESC LIMIT 1), '(unattributed)') AS ch
FROM paid p;
CREATE TABLE want AS
SELECT c, ch, wend, COUNT(*) AS paid, SUM(blank AND c != '(unattributed)') AS attr FROM attributed GROUP BY c, ch, wend;
CREATE TABLE have AS
SELECT json_extract(line, '$.campaign_id') AS c, json_extract(line, '$.channel') AS ch,
       json_extract(line, '$.window_end_ms') AS wend, json_extract(line, '$.paid_orders') AS paid,
       json_extract(line, '$.attributed_orders') AS attr
FROM mwin WHERE json_extract(line, '$.paid_orders') > 0;
SELECT 'blank_paid|' || SUM(blank) FROM attributed;
SELECT 'want_attr|' || SUM(attr) FROM want;
SELECT 'have_attr|' || SUM(attr) FROM have;
SELECT 'differ|' || COUNT(*) FROM want w LEFT JOIN have h ON h.c = w.c AND h.ch = w.ch AND h.wend = w.wend
  WHERE h.paid IS NULL OR h.paid != w.paid OR h.attr != w.attr;
SELECT 'extra|' || COUNT(*) FROM have h LEFT JOIN want w ON h.c = w.c AND h.ch = w.ch AND h.wend = w.wend WHERE w.paid IS NULL;
SQL
aval() { awk -F'|' -v k="$1" '$1 == k { print $2 }' attr.out; }
[ "$(aval blank_paid)" -gt 100 ] || fail "too few paid orders without a campaign: $(aval blank_paid)"
[ "$(aval want_attr)" = "$(aval have_attr)" ] || fail "attributed paid orders: SQL $(aval want_attr), windows $(aval have_attr)"
[ "$(aval differ)" = 0 ] && [ "$(aval extra)" = 0 ] || fail "$(aval differ) windows differ, $(aval extra) extra, on attributed paid orders"
pass "attribution: $(aval want_attr) paid orders without a campaign counted at the user's last click, as SQL says"

# Memory bound: with 256 KiB for profiles (under half of these users, who
# pay every few days; the rest read back from RocksDB a batch at a time,
# timers from the timer index), the same changes.
printf 'windows:\n  sizes: [1m]\ncumulative:\n  enabled: false\nstate:\n  checkpoint_every_records: 40000\nprofiles:\n  memory_budget: 256KiB\n' > bounded.yaml
"$PROMOWATCH" replay -c bounded.yaml -i year.jsonl -o wb.jsonl --dead-letter db.jsonl --tags-output tags_bounded.jsonl \
  2> bounded.log || fail "bounded replay failed: $(tail -3 bounded.log)"
cmp -s tags.jsonl tags_bounded.jsonl || fail "tag changes with memory_budget 256KiB differ from all in memory ($(wc -l < tags.jsonl) vs $(wc -l < tags_bounded.jsonl) lines)"
cmp -s windows.jsonl wb.jsonl || fail "windows with memory_budget 256KiB differ from all in memory"
[ "$(summary_value bounded.log checkpoints)" -gt "$(summary_value replay.log checkpoints)" ] ||
  fail "the bounded run took no early checkpoints ($(summary_value bounded.log checkpoints))"
[ "$(summary_value bounded.log users_in_memory)" -lt 1000 ] ||
  fail "the bounded run holds $(summary_value bounded.log users_in_memory) users in memory, want under half of 2000"
pass "profiles: $(summary_value bounded.log users_in_memory) of 2000 users in memory, the rest in RocksDB: identical tag changes and windows"

# Crash consistency: kill -9 at several points, resume, same tag changes
# (with the memory bound: evicted profiles and timers come back from state).
kills=0
for point in records:50000 checkpoint:2 records:170000 checkpoint:1 records:260000; do
  set +e
  PROMOWATCH_FAULT_KILL=$point "$PROMOWATCH" replay -c bounded.yaml -i year.jsonl -o w2.jsonl \
    --dead-letter d2.jsonl --tags-output tags2.jsonl --state-dir state 2>>crash.log
  rc=$?
  set -e
  if [ "$rc" = 137 ]; then kills=$((kills + 1)); elif [ "$rc" != 0 ]; then fail "replay exited $rc at $point: $(tail -3 crash.log)"; fi
done
[ "$kills" -ge 4 ] || fail "only $kills runs were killed"
"$PROMOWATCH" replay -c bounded.yaml -i year.jsonl -o w2.jsonl --dead-letter d2.jsonl --tags-output tags2.jsonl \
  --state-dir state 2>>crash.log || fail "final resume failed: $(tail -3 crash.log)"
cmp -s tags.jsonl tags2.jsonl || fail "tag changes after $kills kills differ from the uninterrupted run ($(wc -l < tags.jsonl) vs $(wc -l < tags2.jsonl) lines)"
pass "profiles: killed $kills times and resumed, tag changes identical ($(wc -l < tags.jsonl) changes)"
