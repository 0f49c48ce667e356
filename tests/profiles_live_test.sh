#!/usr/bin/env bash
# User tags on the live path: `promowatch run` with profiles on, a generated
# year produced with kcat into the embedded cluster, the changes read back
# from promowatch-user-tags (keyed by user id) and checked against the same
# SQL computation as the replay test; /metrics has the users per tag gauges
# and no user id. Orders are keyed by order id, as an order service keys
# them: most land away from their user's task and are repartitioned to it
# (profiles are task state: all of a user's events must reach one task).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
cd "$WORK"
PARTITIONS=16
start_mock_kafka --partitions $PARTITIONS
ORDERS_KEY=orderId produce_year 150000 0.005 1500
produced=$PRODUCED
cp "$TESTS_DIR/fixtures/profiles-live.yaml" live.yaml
METRICS=127.0.0.1:$(free_port)
start_run live.yaml tags --metrics-address "$METRICS"
wait_read "$produced" 120
gauged() { scrape && grep -q '^promowatch_users_tagged{tag="dormant"} [1-9]' metrics.txt; }
wait_for 30 "/metrics to count dormant users" gauged
# All partitions idle: the watermark reaches the newest event (Flink's valve).
newest=$(tail -n 1 year.jsonl | sed 's/.*"eventTimeMs":"\([0-9]*\)".*/\1/')
at_end() {
  curl -sf "http://$METRICS/metrics" > m1.txt &&
  awk -v want=$(( (newest - 5000) / 1000 )) '/^promowatch_watermark_timestamp_seconds / { ok = $NF >= want }
    /^promowatch_global_watermark_timestamp_seconds / { global = $NF >= want - 60 } END { exit !(ok && global) }' m1.txt
}
wait_for 60 "the watermark to reach the end of the input (and the windows before its last minute to be published)" at_end

# The query API (reads the last checkpoint): wait until it holds everything.
checkpointed() {
  curl -sf "http://$METRICS/metrics" > m2.txt &&
  [ "$(awk '/^promowatch_checkpoint_watermark_timestamp_seconds / {print $NF}' m2.txt)" = \
    "$(awk '/^promowatch_watermark_timestamp_seconds / {print $NF}' m2.txt)" ]
}
wait_for 30 "the last checkpoint to hold all input" checkpointed
API=http://$METRICS/v1
AUTH="Authorization: Bearer test-token-0123456789"
code() { curl -s -o body.json -w '%{http_code}' "$@"; }
user=$(grep -m1 '"ORDER_STATUS_PAID"' year.jsonl | sed 's/.*"userId":"\([^"]*\)".*/\1/')
[ "$(code "$API/users/$user")" = 401 ] || fail "no token should be 401"
[ "$(code -H 'Authorization: Bearer wrong-token-0123456789' "$API/users/$user")" = 401 ] || fail "a wrong token should be 401"
[ "$(code -H "$AUTH" "$API/users/nobody-here")" = 404 ] || fail "an unknown user should be 404: $(cat body.json)"
[ "$(code -H "$AUTH" "$API/users/bad%20id")" = 400 ] || fail "a malformed id should be 400: $(cat body.json)"
[ "$(code -H "$AUTH" "$API/users/$user")" = 200 ] || fail "GET /v1/users/$user: $(cat body.json)"
cp body.json user.json
paid=$(grep "\"userId\":\"$user\"" year.jsonl | grep -c '"ORDER_STATUS_PAID"')
[ "$(jq -r '.profile.lifetime_paid_orders | tonumber' user.json)" = "$paid" ] \
  || fail "profile of $user has $(jq .profile.lifetime_paid_orders user.json) paid orders, the events $paid"
jq -e '.tags | has("dormant") and has("rfm") and has("tier")' user.json >/dev/null || fail "no tags in $(cat user.json)"
[ "$(code -H "$AUTH" "$API/tags/dormant/count")" = 200 ] || fail "tag count: $(cat body.json)"
cp body.json dormant_count.json
[ "$(code -H "$AUTH" "$API/tags/bogus/count")" = 400 ] || fail "an unknown tag should be 400"
[ "$(code -H "$AUTH" "$API/campaigns/c0")" = 200 ] || fail "GET /v1/campaigns/c0: $(cat body.json)"
jq -e '.windows | length > 0 and all(.[]; .campaign_id == "c0")' body.json >/dev/null || fail "campaign windows: $(head -c 300 body.json)"
[ "$(code -H "$AUTH" "$API/campaigns/no-such-campaign")" = 404 ] || fail "an unknown campaign should be 404"
rescrape() { scrape; }
wait_for 10 "a final scrape of /metrics" rescrape
kill -TERM $RUN_PID
wait $RUN_PID || fail "promowatch run did not exit 0 on SIGTERM"
repartitioned=$(grep 'msg="stopped"' run.log | tr ' ' '\n' | sed -n 's/^repartitioned=//p')
[ "${repartitioned:-0}" -gt 0 ] || fail "no order was repartitioned (keyed by order id, most are not in their user's partition)"
grep 'msg="stopped"' run.log | grep -q ' late=0 ' || fail "records were late (a partition judged idle while it still had data): $(grep 'msg="stopped"' run.log)"
promtool check metrics < metrics.txt > promtool.out 2>&1 || fail "promtool check metrics: $(cat promtool.out)"
grep -Eq '="u[0-9]+"' metrics.txt && fail "a user id leaked into metric labels"
grep -q '^promowatch_user_profiles 1500' metrics.txt || fail "promowatch_user_profiles is not 1500: $(grep user_profiles metrics.txt)"

kcat -b "$BROKERS" -C -t promowatch-user-tags -e -q -f '%k\t%s\n' > tags_keyed.tsv
[ -s tags_keyed.tsv ] || fail "nothing on promowatch-user-tags"
awk -F'\t' '{ if (index($2, "\"user_id\":\"" $1 "\"") == 0) bad++ } END { exit bad > 0 }' tags_keyed.tsv \
  || fail "user-tag records are not keyed by their user id"
cut -f2- tags_keyed.tsv > tags.jsonl
check_tags_against_sql tags.jsonl run.log
[ "$(val tags_differ)" = 0 ] || fail "$(val tags_differ) users' final tags from the topic differ from SQL: $(grep differ_example check.out)"
[ "$(val bad_chain)" = 0 ] || fail "$(val bad_chain) changes on the topic do not follow the previous value"
grep "^promowatch_users_tagged{tag=\"dormant\"} $(val with_tag_dormant)\$" metrics.txt >/dev/null \
  || fail "dormant gauge $(grep 'tag="dormant"' metrics.txt) != SQL $(val with_tag_dormant)"
[ "$(jq .users dormant_count.json)" = "$(val with_tag_dormant)" ] || fail "GET /v1/tags/dormant/count says $(jq .users dormant_count.json), SQL $(val with_tag_dormant)"
pass "query API: 401 without or with a wrong token, 404 unknown, 400 malformed; profile, campaign windows and tag counts agree"
pass "live tags: $(wc -l < tags.jsonl) changes on promowatch-user-tags, final tags of $(val users) users match SQL ($repartitioned orders keyed by order id repartitioned to their user's task)"
