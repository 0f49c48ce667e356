#!/usr/bin/env bash
# Pins the routing of deploy/alertmanager/alertmanager.yml with
# `amtool config routes test`: which receiver each kind of alert reaches.
# Usage: routes_test.sh [alertmanager.yml]
set -euo pipefail
CONFIG=${1:-$(dirname "$0")/alertmanager.yml}
failures=0
route() {  # route EXPECTED_RECEIVER LABEL=VALUE...
  local want=$1; shift
  if ! out=$(amtool config routes test --config.file="$CONFIG" --verify.receivers="$want" "$@" 2>&1); then
    echo "FAIL: {$*} routes to '$out', want '$want'" >&2
    failures=$((failures + 1))
  fi
}
# promowatch's business alerts (labels from alerts.rules) and the PromQL one.
route growth-pager alertname=low_ctr severity=page team=growth campaign=c0 channel=douyin
route growth-pager alertname=PromowatchChannelCtrLow severity=page team=growth campaign=c0 channel=douyin
route growth-channel alertname=gmv_pacing severity=warning team=growth campaign=c0
# A rule without a team: pages go to data-platform's pager, warnings to its channel.
route data-platform-pager alertname=gmv_drop severity=page campaign=c0 channel=jd
route data-platform-channel alertname=campaign_silent severity=warning campaign=c1
# The pipeline's alerts.
route data-platform-pager alertname=PromowatchDown severity=critical team=data-platform instance=pw-0:9464
route data-platform-pager alertname=PromowatchNoEvents severity=page team=data-platform topic=orders
route data-platform-channel alertname=PromowatchConsumerLagGrowing severity=warning team=data-platform topic=clickstream
# promowatch's own "data incomplete" info alert pages nobody.
route null alertname=promowatch_data_incomplete severity=info
[ "$failures" = 0 ] || { echo "$failures routing case(s) failed" >&2; exit 1; }
echo "PASS: alertmanager routes ($CONFIG)"
