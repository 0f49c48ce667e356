#!/usr/bin/env bash
# The README's first command in miniature: `promowatch demo` runs the
# embedded cluster, generator and pipeline, shows the live view, fires the
# alert for the injected anomaly (douyin's CTR collapsing) and stops cleanly
# at --duration with exit 0.
source "$(dirname "$0")/lib.sh"
cd "$WORK"
timeout 150 "$PROMOWATCH" demo --duration 40 --speed 20 --rate 6000 --anomaly-after 4 \
  --metrics-address "127.0.0.1:$(free_port)" > demo.out 2> demo.err \
  || fail "demo exited non-zero: $(tail -5 demo.err)"
grep -q 'promowatch demo  produced=' demo.out || fail "no live view on stdout"
grep -q 'GMV since 0:00' demo.out || fail "the live view has no campaign table"
grep -q 'msg="alert firing".*"rule":"low_ctr".*"channel":"douyin"' demo.err \
  || fail "the injected anomaly did not fire low_ctr on douyin: $(grep -c 'alert firing' demo.err) other alerts"
if grep 'msg="alert firing"' demo.err | grep -v '"channel":"douyin"' | grep -q .; then
  fail "alerts fired outside the anomaly: $(grep 'msg="alert firing"' demo.err | grep -v douyin | head -2)"
fi
grep -q 'msg="stopped"' demo.err || fail "no clean stop"
pass "demo: live view, low_ctr fired for douyin only, clean stop"
