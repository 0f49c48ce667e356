#!/usr/bin/env bash
# deploy/ checked with the tools that run here: promtool (config, rules, rule
# unit tests), amtool (config, routing cases), the real Alertmanager
# (inhibition), Grafana's builders (dashboards match their source), YAML
# parsing of compose and Kubernetes files (every mounted file exists, the
# promowatch configs inside them load), and runbook links that land on a
# section of docs/operations.md.
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$TESTS_DIR/.." && pwd)
DEPLOY=$ROOT/deploy
for tool in promtool amtool prometheus-alertmanager node npm python3 jq; do
  command -v $tool >/dev/null || fail "$tool is not installed (scripts/install-deps.sh installs it)"
done
cd "$WORK"

# Prometheus.
promtool check config "$DEPLOY/prometheus/prometheus.yml" > promtool.out 2>&1 || fail "promtool check config: $(cat promtool.out)"
promtool check rules "$DEPLOY"/prometheus/rules/*.yml > promtool.out 2>&1 || fail "promtool check rules: $(cat promtool.out)"
(cd "$DEPLOY/prometheus" && promtool test rules tests/*.yml) > promtool.out 2>&1 || fail "promtool test rules: $(cat promtool.out)"
# Every alerting rule has a unit test that fires it.
for alert in $(awk '/- alert:/ { print $3 }' "$DEPLOY/prometheus/rules/alerts.yml"); do
  grep -q "alertname: $alert$" "$DEPLOY"/prometheus/tests/*.yml || fail "alert $alert has no promtool test"
  awk -v a="$alert" '$0 ~ "alertname: " a "$" { hit = 1; next } hit && /exp_alerts: *$/ { found = 1 } /alertname:/ { hit = 0 } END { exit !found }' \
    "$DEPLOY"/prometheus/tests/*.yml || fail "no promtool test expects $alert to fire"
done
pass "prometheus: config, rules and $(grep -c '  - alert:' "$DEPLOY/prometheus/rules/alerts.yml") alerting rules unit-tested"

# Alertmanager: config, routing cases, inhibition on the real server.
amtool check-config "$DEPLOY/alertmanager/alertmanager.yml" > amtool.out 2>&1 || fail "amtool check-config: $(cat amtool.out)"
bash "$DEPLOY/alertmanager/routes_test.sh" "$DEPLOY/alertmanager/alertmanager.yml" || fail "alertmanager routing cases"
AM_PORT=$(free_port)
prometheus-alertmanager --config.file="$DEPLOY/alertmanager/alertmanager.yml" --storage.path="$WORK/am" \
  --web.listen-address=127.0.0.1:$AM_PORT --cluster.listen-address= > am.log 2>&1 &
PIDS+=($!)
disown $!
wait_for 30 "Alertmanager to start with deploy/'s config" curl -sf "http://127.0.0.1:$AM_PORT/-/ready" -o /dev/null
post() { curl -sf -XPOST -H 'Content-Type: application/json' "http://127.0.0.1:$AM_PORT/api/v2/alerts" -d "$1" >/dev/null; }
post '[{"labels": {"alertname": "low_ctr", "severity": "page", "team": "growth", "campaign": "c0", "channel": "douyin"}}]'
post '[{"labels": {"alertname": "PromowatchDown", "severity": "critical", "team": "data-platform", "instance": "pw-0:9464", "job": "promowatch"}}]'
inhibited() {
  curl -sf "http://127.0.0.1:$AM_PORT/api/v2/alerts?inhibited=true" > alerts.json &&
    jq -e 'any(.[]; .labels.alertname == "low_ctr" and .status.state == "suppressed" and (.status.inhibitedBy | length) > 0)' alerts.json >/dev/null
}
wait_for 20 "PromowatchDown to inhibit the business alert low_ctr" inhibited
jq -e 'any(.[]; .labels.alertname == "PromowatchDown" and .status.state == "active")' alerts.json >/dev/null \
  || fail "PromowatchDown itself should stay active"
pass "alertmanager: config, routes, and pipeline-down inhibits business alerts"

# Grafana: the committed dashboards are what the builders make; uids stable;
# the CTR alert's dashboard link lands on the CTR panel.
SRC=$WORK/grafana-src
cp -r "$DEPLOY/grafana/src" "$SRC" && rm -rf "$SRC/node_modules"
mkdir -p "$WORK/dashboards" && cp "$DEPLOY"/grafana/dashboards/*.json "$WORK/dashboards/"
(cd "$SRC" && npm ci --no-audit --no-fund --loglevel=error > npm.log 2>&1) || fail "npm ci of deploy/grafana/src: $(tail -5 "$SRC/npm.log")"
# build.mjs compares against ../dashboards, the copies made above.
(cd "$SRC" && node build.mjs --check) || fail "dashboards differ from deploy/grafana/src/build.mjs"
[ "$(jq -r .uid "$DEPLOY/grafana/dashboards/war-room.json")" = promowatch-war-room ] || fail "war-room uid changed"
[ "$(jq -r .uid "$DEPLOY/grafana/dashboards/pipeline.json")" = promowatch-pipeline ] || fail "pipeline uid changed"
[ "$(jq -r .uid "$DEPLOY/grafana/dashboards/plan.json")" = promowatch-plan ] || fail "plan uid changed"
panel=$(grep 'promowatch-war-room' "$DEPLOY/prometheus/rules/alerts.yml" | grep -o 'viewPanel=[0-9]*' | sed 's/.*=//')
[ -n "$panel" ] || fail "PromowatchChannelCtrLow has no dashboard link with viewPanel"
[ "$(jq -r --argjson p "$panel" '.panels[] | select(.id == $p) | .title' "$DEPLOY/grafana/dashboards/war-room.json")" = "CTR by channel" ] \
  || fail "PromowatchChannelCtrLow's dashboard link (viewPanel=$panel) does not land on 'CTR by channel'"
for v in campaign channel; do
  jq -e --arg v $v 'any(.templating.list[]; .name == $v)' "$DEPLOY/grafana/dashboards/war-room.json" >/dev/null || fail "war room lacks the $v variable"
done
pass "grafana: dashboards built from one source, stable uids, alert links land on their panel"

# Compose and Kubernetes: they parse; every mounted file exists; the
# promowatch configs inside them load.
python3 - "$DEPLOY" <<'PY' || fail "compose/k8s validation failed"
import os, sys, yaml
deploy = sys.argv[1]
compose_dir = os.path.join(deploy, "compose")
compose = yaml.safe_load(open(os.path.join(compose_dir, "compose.yaml")))
for name in ["kafka", "promowatch", "generator", "prometheus", "alertmanager", "grafana"]:
    assert name in compose["services"], f"compose has no {name} service"
for name, svc in compose["services"].items():
    for vol in svc.get("volumes", []):
        src = vol.split(":")[0]
        if src.startswith(".") or src.startswith("/"):
            path = os.path.normpath(os.path.join(compose_dir, src))
            assert os.path.exists(path), f"compose service {name} mounts {src}, which does not exist ({path})"
    build = svc.get("build")
    if build:
        ctx = os.path.normpath(os.path.join(compose_dir, build["context"]))
        assert os.path.exists(os.path.join(ctx, build["dockerfile"])), f"{name}: no Dockerfile"
kinds = set()
for f in sorted(os.listdir(os.path.join(deploy, "k8s"))):
    for doc in yaml.safe_load_all(open(os.path.join(deploy, "k8s", f))):
        kinds.add(doc["kind"])
        if doc["kind"] == "ConfigMap":
            os.makedirs("k8s-config", exist_ok=True)
            for key, text in doc["data"].items():
                open(os.path.join("k8s-config", key), "w").write(text)
        if doc["kind"] == "StatefulSet":
            spec = doc["spec"]["template"]["spec"]
            c = spec["containers"][0]
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert spec["terminationGracePeriodSeconds"] >= 30, "grace period shorter than a checkpoint"
            assert "requests" in c["resources"], "no resource requests"
            assert doc["spec"]["volumeClaimTemplates"], "no persistent volume per pod"
for k in ["StatefulSet", "ConfigMap", "Service", "PodMonitor", "Kustomization"]:
    assert k in kinds, f"deploy/k8s has no {k}"
print("compose and k8s parse; mounts exist")
PY
"$PROMOWATCH" check-config -c "$DEPLOY/compose/promowatch.yaml" > cc.out 2>&1 || fail "compose's promowatch.yaml: $(cat cc.out)"
"$PROMOWATCH" check-config -c k8s-config/promowatch.yaml > cc.out 2>&1 || fail "the k8s ConfigMap's promowatch.yaml: $(cat cc.out)"
pass "compose and kubernetes: parsed, mounts exist, embedded promowatch configs valid"

# Runbooks: every runbook_url anchor is a section of docs/operations.md.
anchors=$(grep -E '^#+ ' "$ROOT/docs/operations.md" | sed -E 's/^#+ +//' | tr 'A-Z' 'a-z' | sed -E 's/[^a-z0-9 _-]//g; s/ /-/g')
for a in $(grep -rhoE 'operations\.md#[a-z0-9_-]+' "$DEPLOY" | sed 's/.*#//' | sort -u); do
  echo "$anchors" | grep -qx "$a" || fail "runbook_url anchor #$a has no section in docs/operations.md"
done
for alert in $(awk '/- alert:/ { print $3 }' "$DEPLOY/prometheus/rules/alerts.yml"); do
  echo "$anchors" | grep -qx "$(echo "$alert" | tr 'A-Z' 'a-z')" || fail "alert $alert has no runbook section"
done
pass "runbooks: every alert's runbook_url lands on a section of docs/operations.md"
