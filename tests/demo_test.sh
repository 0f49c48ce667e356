#!/usr/bin/env bash
# The README's first command in miniature: `promowatch demo` runs the
# embedded cluster, generator and pipeline, shows the live view, fires the
# alert for the injected anomaly (douyin's CTR collapsing) and stops cleanly
# at --duration with exit 0. While it runs, the URL it prints: the status
# page in headless Chromium (tests/browser/status_page.mjs; the screenshot
# is kept in test-artifacts/ beside the binary) and /v1/status against
# /metrics (tests/browser/status_vs_metrics.py). With a 15 s silence bound
# (fixtures/demo.yaml) its inputs stay complete throughout.
source "$(dirname "$0")/lib.sh"
cd "$WORK"
for tool in node npm chromium python3; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps.sh installs it)"
done
# playwright-core, pinned in tests/browser/package-lock.json (npm registry),
# while the demo starts.
cp "$TESTS_DIR/browser/package.json" "$TESTS_DIR/browser/package-lock.json" \
   "$TESTS_DIR/browser/status_page.mjs" .
npm ci --no-audit --no-fund --loglevel=error > npm.log 2>&1 &
npm_pid=$!

# The demo's config with a plan for c0 (the status page's plan section):
# its period from this minute for two days covers the demo's event time
# (its rules judge nothing in the first hour: no alert beside the anomaly's).
now_minute=$(( $(date +%s) / 60 * 60 ))
cat > plan.yaml <<YAML
campaigns:
  - campaign: c0
    start: $(date -u -d @$now_minute +%Y-%m-%dT%H:%M:%SZ)
    end: $(date -u -d @$((now_minute + 2 * 86400)) +%Y-%m-%dT%H:%M:%SZ)
    targets: {gmv: 5000000, new_customer_share: 0.4}
YAML
{ cat "$TESTS_DIR/fixtures/demo.yaml"; printf 'plan:\n  file: plan.yaml\n'; } > demo-plan.yaml
METRICS="127.0.0.1:$(free_port)"
timeout 150 "$PROMOWATCH" demo --duration 40 --speed 10 --rate 6000 --anomaly-after 3 \
  --config demo-plan.yaml --metrics-address "$METRICS" > demo.out 2> demo.err &
demo_pid=$!
PIDS+=($demo_pid)
wait "$npm_pid" || fail "npm ci of tests/browser: $(tail -5 npm.log)"
wait_for 30 "the demo to print its status page URL" grep -q "status page: http://$METRICS/" demo.out
ARTIFACTS="$(dirname "$PROMOWATCH")/test-artifacts"
mkdir -p "$ARTIFACTS"
node status_page.mjs "http://$METRICS/" "$ARTIFACTS/status-page.png" 35 > browser.log 2>&1 \
  || fail "status page in Chromium: $(cat browser.log)"
python3 "$TESTS_DIR/browser/status_vs_metrics.py" "$METRICS" > compare.log 2>&1 \
  || fail "$(cat compare.log)"

wait "$demo_pid" || fail "demo exited non-zero: $(tail -5 demo.err)"
grep -q 'promowatch demo  produced=' demo.out || fail "no live view on stdout"
grep -q 'GMV since 0:00' demo.out || fail "the live view has no campaign table"
grep -q 'msg="alert firing".*"rule":"low_ctr".*"channel":"douyin"' demo.err \
  || fail "the injected anomaly did not fire low_ctr on douyin: $(grep -c 'alert firing' demo.err) other alerts"
if grep 'msg="alert firing"' demo.err | grep -v '"channel":"douyin"' | grep -q .; then
  fail "alerts fired outside the anomaly: $(grep 'msg="alert firing"' demo.err | grep -v douyin | head -2)"
fi
grep -q 'msg="stopped"' demo.err || fail "no clean stop"
if grep -q 'msg="data incomplete' demo.err; then
  fail "inputs judged incomplete (fixtures/demo.yaml: silent for 15 s) although every input" \
    "delivers: $(grep -m1 'msg="data incomplete' demo.err)"
fi

# demo --instances 2: two pipelines of one group over the embedded cluster,
# each with its status page; the view sums the group; the anomaly pages once.
METRICS2="127.0.0.1:$(free_port)"
second="${METRICS2%:*}:$(( ${METRICS2##*:} + 1 ))"
timeout 90 "$PROMOWATCH" demo --instances 2 --duration 25 --speed 10 --rate 3000 --anomaly-after 3 \
  --config "$TESTS_DIR/fixtures/demo.yaml" --metrics-address "$METRICS2" > demo2.out 2> demo2.err &
demo2_pid=$!
PIDS+=($demo2_pid)
both_serve() {
  curl -sf "http://$METRICS2/v1/status" > s0.json && curl -sf "http://$second/v1/status" > s1.json &&
    [ "$(jq '.instance.tasks_here | length' s0.json)" -ge 1 ] &&
    [ "$(jq '.instance.tasks_here | length' s1.json)" -ge 1 ]
}
wait_for 40 "both instances of demo --instances 2 to run tasks (status pages $METRICS2, $second)" both_serve
wait "$demo2_pid" || fail "demo --instances 2 exited non-zero: $(tail -5 demo2.err)"
grep -q "instance 1: .*status page.*http://$second/" demo2.out || fail "the second instance's status page was not printed: $(head -4 demo2.out)"
grep -q 'status pages (2 instances)' demo2.out || fail "the view does not say it sums 2 instances"
consumed=$(grep -o 'consumed=[0-9]*' demo2.out | tail -1 | cut -d= -f2)
produced2=$(grep -o 'produced=[0-9]*' demo2.out | tail -1 | cut -d= -f2)
[ "${consumed:-0}" -gt $(( ${produced2:-0} / 2 )) ] || fail "the view's consumed ($consumed) is not the group's (produced $produced2)"
[ "$(grep -c 'msg="alert firing".*"channel":"douyin"' demo2.err)" = 1 ] ||
  fail "with two instances the douyin alert should fire once: $(grep -c 'msg="alert firing"' demo2.err) firings"
[ "$(grep -c 'msg="stopped"' demo2.err)" = 2 ] || fail "not both instances stopped cleanly"

pass "demo: live view, low_ctr fired for douyin only, clean stop; status page in Chromium" \
  "(screenshot $ARTIFACTS/status-page.png), /v1/status agrees with /metrics; --instances 2:" \
  "both status pages, the view summed ($consumed consumed), one page for the anomaly"
