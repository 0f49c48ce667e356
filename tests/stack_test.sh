#!/usr/bin/env bash
# The war-room stack for real, on 127.0.0.1: `promowatch mock-kafka`, the
# generator with an injected anomaly (douyin's CTR collapses), `promowatch
# run`, Debian's Prometheus with deploy/'s config and rules, and Debian's
# Alertmanager with deploy/'s config. Through their HTTP APIs: Prometheus
# scrapes promowatch, the recording rules produce values, every PromQL
# expression of the dashboards parses and returns data, and the anomaly's
# alert reaches Alertmanager both from promowatch (low_ctr) and from the
# Prometheus rules (PromowatchChannelCtrLow).
#
# Test-time knobs only: scrape and evaluation every second and rule `for`
# durations of 5 s (the expressions are deploy/'s), and event time running
# 20x faster than the wall clock.
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$TESTS_DIR/.." && pwd)
DEPLOY=$ROOT/deploy
for tool in prometheus prometheus-alertmanager node jq curl; do
  command -v $tool >/dev/null || fail "$tool is not installed (scripts/install-deps.sh installs it)"
done
cd "$WORK"

start_bg() {  # start_bg LOG CMD...: a background process stopped at exit by its id
  local log=$1; shift
  "$@" > "$log" 2>&1 &
  PIDS+=($!)
  disown $!
  LAST_PID=$!
}

AM_PORT=$(free_port)
PROM_PORT=$(free_port)
METRICS=127.0.0.1:$(free_port)
AM=http://127.0.0.1:$AM_PORT
PROM=http://127.0.0.1:$PROM_PORT

# Alertmanager with deploy/'s config.
start_bg am.log prometheus-alertmanager --config.file="$DEPLOY/alertmanager/alertmanager.yml" \
  --storage.path="$WORK/am" --web.listen-address=127.0.0.1:$AM_PORT --cluster.listen-address=
wait_for 30 "Alertmanager to be ready" curl -sf "$AM/-/ready" -o /dev/null

# Prometheus with deploy/'s config and rules, pointed at this test's ports.
mkdir -p prom/rules
sed -e "s/promowatch:9464/$METRICS/; s/alertmanager:9093/127.0.0.1:$AM_PORT/" \
    -e 's/scrape_interval: 15s/scrape_interval: 1s/; s/evaluation_interval: 15s/evaluation_interval: 1s/' \
    "$DEPLOY/prometheus/prometheus.yml" > prom/prometheus.yml
for f in "$DEPLOY"/prometheus/rules/*.yml; do
  sed -E 's/^( +for: )[0-9]+m$/\15s/' "$f" > "prom/rules/$(basename "$f")"
done
grep -q "$METRICS" prom/prometheus.yml || fail "could not point prometheus.yml at $METRICS"
promtool check config prom/prometheus.yml > promtool.out 2>&1 || fail "test copy of prometheus.yml: $(cat promtool.out)"
start_bg prom.log prometheus --config.file=prom/prometheus.yml --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address=127.0.0.1:$PROM_PORT
wait_for 30 "Prometheus to be ready" curl -sf "$PROM/-/ready" -o /dev/null

# Kafka, the pipeline, and a sale whose event time runs 20x the wall clock.
start_mock_kafka --partitions 8
cp "$TESTS_DIR/fixtures/rules/low-ctr-c0.yaml" rules.yaml
# The plan dashboard's data: c0 planned from this minute for a day (its
# rules judge nothing in the first hour).
now_minute=$(( $(date +%s) / 60 * 60 ))
cat > plan.yaml <<YAML
campaigns:
  - campaign: c0
    start: $(date -u -d @$now_minute +%Y-%m-%dT%H:%M:%SZ)
    end: $(date -u -d @$((now_minute + 86400)) +%Y-%m-%dT%H:%M:%SZ)
    targets: {gmv: 5000000, orders: 20000}
    channels:
      douyin: {roi: 0.5}
YAML
cat > live.yaml <<YAML
profiles:
  enabled: true
segments:
  enabled: true  # (the war room's segment row)
watermark:
  idle_timeout: 2s
state:
  checkpoint_interval: 1s
kafka:
  properties:
    session.timeout.ms: "6000"
plan:
  file: plan.yaml
alerts:
  rules_file: rules.yaml
  alertmanager:
    urls: ["$AM"]
    resend_interval: 5s
YAML
start_bg run.log "$PROMOWATCH" run -c live.yaml --brokers "$BROKERS" --group stack --state-dir state \
  --metrics-address "$METRICS"
RUN_PID=$LAST_PID
alive() { kill -0 $RUN_PID 2>/dev/null || fail "promowatch run died: $(tail -5 run.log)"; }
T0=$(( $(date +%s) * 1000 ))
M=60000
start_bg gen.log "$PROMOWATCH" gen --brokers "$BROKERS" -n 400000 --rate 200 --peak-factor 1 --campaigns 2 \
  --rate-limit 4000 --start-ms $T0 --anomaly ctr:douyin:$((T0 + 3 * M)):$((T0 + 40 * M))
GEN_PID=$LAST_PID

# PromQL over the HTTP API: prom_query EXPR -> result count in $WORK/q.json.
prom_query() { curl -sf -G "$PROM/api/v1/query" --data-urlencode "query=$1" > q.json && jq -e '.status == "success"' q.json >/dev/null; }
has_data() { alive; prom_query "$1" && [ "$(jq '.data.result | length' q.json)" -gt 0 ]; }

wait_for 60 "Prometheus to scrape promowatch (up == 1)" has_data 'up{job="promowatch"} == 1'
pass "Prometheus scrapes promowatch"

wait_for 120 "the recording rule campaign_channel:promowatch_ctr:ratio_rate5m for c0/douyin" \
  has_data 'campaign_channel:promowatch_ctr:ratio_rate5m{campaign="c0",channel="douyin"}'
for rule in campaign_channel:promowatch_cvr:ratio_rate5m campaign:promowatch_gmv:per_minute \
            campaign_channel:promowatch_aov:ratio_rate5m campaign:promowatch_new_customer_share:ratio_rate5m \
            topic:promowatch_records:rate1m \
            topic:promowatch_consumer_lag_records:sum promowatch:result_latency_seconds:p99_rate5m; do
  wait_for 30 "recording rule $rule to have a value" has_data "$rule"
done
pass "recording rules produce values"

# The anomaly's alert reaches Alertmanager from both sides.
am_has() {
  alive
  curl -sf "$AM/api/v2/alerts" > am.json &&
    jq -e --arg a "$1" 'any(.[]; .labels.alertname == $a and .labels.channel == "douyin" and .labels.campaign == "c0")' am.json >/dev/null
}
wait_for 120 "low_ctr (promowatch's rule) for c0/douyin in Alertmanager" am_has low_ctr
wait_for 120 "PromowatchChannelCtrLow (Prometheus's rule) for c0/douyin in Alertmanager" am_has PromowatchChannelCtrLow
others=$(jq -r '[.[] | select(.labels.team == "growth" and .labels.channel != "douyin") | .labels.alertname + " " + .labels.channel] | join(", ")' am.json)
[ -z "$others" ] || fail "business alerts outside the anomaly: $others"
pass "the douyin anomaly reached Alertmanager from promowatch and from Prometheus"

# Every dashboard expression parses and returns data, with the variables
# set as a user would: all campaigns and channels, the default target.
(cd "$DEPLOY/grafana/src" && [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error > /dev/null 2>&1) \
  || fail "npm ci of deploy/grafana/src"
(cd "$DEPLOY/grafana/src" && node build.mjs --exprs) > exprs.tsv || fail "could not list the dashboards' expressions"
[ "$(wc -l < exprs.tsv)" -ge 20 ] || fail "too few dashboard expressions: $(wc -l < exprs.tsv)"
n=0
while IFS=$'\t' read -r panel expr; do
  q=$(printf '%s' "$expr" | sed -e 's/\$campaign/.*/g; s/\$channel/.*/g; s/\$target/50000000/g; s/\$__rate_interval/1m/g')
  prom_query "$q" || fail "dashboard panel $panel: Prometheus rejects '$q': $(cat q.json 2>/dev/null)"
  wait_for 60 "dashboard panel $panel to return data for: $q" has_data "$q"
  n=$((n + 1))
done < exprs.tsv
curl -sf "$PROM/api/v1/label/campaign/values" | jq -e '.data | index("c0") != null' >/dev/null \
  || fail "the campaign variable (label_values) has no c0"
pass "all $n dashboard expressions parse and return data"

kill -TERM $GEN_PID 2>/dev/null || true
kill -TERM $RUN_PID
wait_for 60 "promowatch run to stop on SIGTERM" bash -c "! kill -0 $RUN_PID 2>/dev/null"
grep -q 'msg="stopped"' run.log || fail "promowatch did not stop cleanly: $(tail -3 run.log)"
pass "the stack: promowatch, Prometheus and Alertmanager with deploy/'s files"
