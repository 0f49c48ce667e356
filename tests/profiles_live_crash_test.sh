#!/usr/bin/env bash
# User tags on the live path survive crashes with an exactly-once effect on
# state: `promowatch run` with profiles on (and fewer profiles allowed in
# memory than there are users, so evicted profiles and timers come back
# from RocksDB) is killed with SIGKILL mid-stream and inside checkpoints,
# restarted on the same --state-dir each time, and at the end every user's
# tags in the state (read back through the query API), the users-per-tag
# gauges and the profile count equal the SQL computation over the events:
# no order counted twice, none lost. The topic promowatch-user-tags is
# at-least-once: changes made after the last checkpoint before a kill are
# published again when the records are read again - but in the order the
# restarted run reads a task's partitions, which can differ, and a change
# the killed run published may then never be taken back (the issue notes).
# So the topic is compared too, and its stale users are reported. (Orders keyed by
# order id, repartitioned: profiles_live_test; with kills, see the issue
# notes on replayed tag changes.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 is not installed (scripts/install-deps.sh installs it)"
cd "$WORK"
PARTITIONS=16
start_mock_kafka --partitions $PARTITIONS
produce_year 100000 0.004 1500
produced=$PRODUCED
cp "$TESTS_DIR/fixtures/profiles-live-crash.yaml" live.yaml

# Together the kill points read at most ~50k of the 100k records.
kill_at_points live.yaml tags records:12000 checkpoint:2 records:9000 checkpoint:1 records:7000
kills=$KILLS

METRICS=127.0.0.1:$(free_port)
start_run live.yaml tags --metrics-address "$METRICS"
wait_read "$produced" 120
newest=$(tail -n 1 year.jsonl | sed 's/.*"eventTimeMs":"\([0-9]*\)".*/\1/')
at_end() {
  curl -sf "http://$METRICS/metrics" > metrics.txt &&
  awk -v want=$(( (newest - 5000) / 1000 )) '/^promowatch_watermark_timestamp_seconds / { exit !($NF >= want) }' metrics.txt
}
wait_for 60 "the watermark to reach the end of the input" at_end
stop_run "$produced"
grep 'msg="stopped"' run.log | grep -q ' late=0 ' || fail "records were late: $(grep 'msg="stopped"' run.log)"

kcat -b "$BROKERS" -C -t promowatch-user-tags -e -q > tags.jsonl
[ -s tags.jsonl ] || fail "nothing on promowatch-user-tags"
check_tags_against_sql tags.jsonl run.log
stale=$(val tags_differ)

# The state: restarted on it (nothing left to read), the query API answers
# from its last checkpoint - the one SIGTERM took - for every user.
RUN_LOG=api.log start_run live.yaml tags --metrics-address "$METRICS"
grep -o '"userId":"[^"]*"' year.jsonl | sort -u | cut -d'"' -f4 > users.txt
# Up once every task is back (a user whose task is still being assigned
# gets 503 "moving": tasks come back one at a time, slower on a busy host).
api_up() {
  scrape && [ "$(metric_sum '^promowatch_tasks_owned')" = "$PARTITIONS" ] &&
    curl -sf -o /dev/null -H "Authorization: Bearer test-token-0123456789" "http://$METRICS/v1/users/$(head -1 users.txt)"
}
wait_for 60 "the query API of the restarted run, with all $PARTITIONS tasks" api_up
# (Each user's segment is the first of its tags in the default precedence.)
while read -r u; do
  curl -sf -H "Authorization: Bearer test-token-0123456789" "http://$METRICS/v1/users/$u" > user.json ||
    fail "GET /v1/users/$u failed"
  jq -e '.segment == (first(("high_value", "active", "dormant", "new") as $t | select(.tags[$t]) | $t) // "other")' \
    user.json > /dev/null || fail "GET /v1/users/$u: segment against its tags: $(cat user.json)"
  jq -c --arg u "$u" '.tags | to_entries[] | {user_id: $u, tag: .key, from: "", to: (.value | tostring)}' user.json
done < users.txt > state.jsonl
check_tags_against_sql state.jsonl run.log
[ "$(val tags_differ)" = 0 ] || fail "after $kills kills, $(val tags_differ) users' tags in the state differ from SQL: $(grep differ_example check.out)"
# The gauges of the restarted run (set as each task loads; up to 10 s for
# the last one's), then each checked with what it should be.
gauges_match() {
  scrape || return 1
  for tag in dormant active high_value; do
    grep -q "^promowatch_users_tagged{tag=\"$tag\"} $(val with_tag_$tag)\$" metrics.txt || return 1
  done
  grep -q "^promowatch_user_profiles $(val users)\$" metrics.txt
}
for _ in $(seq 50); do gauges_match && break; sleep 0.2; done
kill -TERM $RUN_PID
wait $RUN_PID || fail "the restarted run did not exit 0 on SIGTERM"
for tag in dormant active high_value; do
  grep -q "^promowatch_users_tagged{tag=\"$tag\"} $(val with_tag_$tag)\$" metrics.txt \
    || fail "$tag gauge $(grep "tag=\"$tag\"" metrics.txt) != SQL $(val with_tag_$tag) after $kills kills"
done
grep -q "^promowatch_user_profiles $(val users)\$" metrics.txt \
  || fail "promowatch_user_profiles $(grep '^promowatch_user_profiles ' metrics.txt) != SQL $(val users) users"
pass "live tags killed $kills times and restarted: the tags of $(val users) users in the state, tag gauges and profile count match SQL ($(wc -l < tags.jsonl) changes published; the topic's last change is stale for $stale users)"
