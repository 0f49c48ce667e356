#!/usr/bin/env bash
# What a user meets first: --help everywhere, errors that say what to do,
# malformed config failing fast with the line at fault.
source "$(dirname "$0")/lib.sh"
cd "$WORK"

"$PROMOWATCH" --help | grep -q replay || fail "--help does not list replay"
for cmd in replay gen backtest; do
  "$PROMOWATCH" $cmd --help > help.txt || fail "$cmd --help exited non-zero"
  grep -q -- "--output" help.txt || fail "$cmd --help does not document --output"
done

"$PROMOWATCH" gen --format json -n 2000 --rate 100 -o events.jsonl 2>/dev/null

printf 'watermark:\n  max_out_of_orderness: 5s\nlateness:\n  polcy: drop\n' > bad.yaml
set +e
"$PROMOWATCH" replay -i events.jsonl -o out.jsonl -c bad.yaml 2> err.txt
rc=$?
set -e
[ "$rc" = 2 ] || fail "a bad config should exit 2, got $rc"
grep -q "bad.yaml:4: unknown key 'polcy' in 'lateness'" err.txt || fail "config error does not name the line: $(cat err.txt)"
[ ! -s out.jsonl ] || fail "a bad config must fail before any work is done"

# profiles.memory_budget takes a size; the old max_users_in_memory still
# loads, with a warning naming its line and the budget it stands for.
printf 'profiles:\n  enabled: true\n  memory_budget: 2GB\n' > badmem.yaml
set +e
"$PROMOWATCH" check-config -c badmem.yaml > err.txt 2>&1; rc=$?
set -e
[ "$rc" = 2 ] || fail "check-config with memory_budget: 2GB should exit 2, got $rc"
grep -q "badmem.yaml:3: expected a size like 2GiB or 512MiB" err.txt || fail "memory_budget error: $(cat err.txt)"
printf 'profiles:\n  enabled: true\n  max_users_in_memory: 100000\n' > oldmem.yaml
"$PROMOWATCH" check-config -c oldmem.yaml > cc.txt 2>&1 || fail "max_users_in_memory no longer loads: $(cat cc.txt)"
grep -q 'level=warn.*oldmem.yaml:3: profiles.max_users_in_memory is replaced by profiles.memory_budget.*memory_budget: 24MiB' cc.txt ||
  fail "no warning for max_users_in_memory: $(cat cc.txt)"
pass "config: memory_budget sizes checked; max_users_in_memory loads with a warning"

# A bad plan file: run refuses to start, naming the plan's line; so does
# check-config; a plan CSV the same way.
printf 'plan:\n  file: plan.yaml\n' > planned.yaml
printf 'campaigns:\n  - campaign: c0\n    start: 2026-11-01\n    end: 2026-11-11\n    targets:\n      cvr: 8\n' > plan.yaml
set +e
"$PROMOWATCH" run -c planned.yaml --brokers 127.0.0.1:1 --state-dir run-state 2> err.txt; rc=$?
set -e
[ "$rc" = 2 ] || fail "run with a bad plan should exit 2, got $rc"
grep -q "plan.yaml:6: cvr is a share: write 0.4 for 40% (got 8)" err.txt || fail "plan error does not name the line: $(cat err.txt)"
[ ! -d run-state ] || fail "run with a bad plan must not start"
printf 'plan:\n  file: plan.csv\n' > planned.yaml
printf 'campaign,start,end,time_zone,kpi,channel,target,within\nc0,2026-11-01,2026-11-11,+08:00,gmv,,5000000,\nc0,,,,reactivation_rate,,0.25,\n' > plan.csv
set +e
"$PROMOWATCH" check-config -c planned.yaml > err.txt 2>&1; rc=$?
set -e
[ "$rc" = 2 ] || fail "check-config with a bad plan should exit 2, got $rc"
grep -q "plan.csv:2: reactivation_rate needs reactivation_within" err.txt || fail "plan CSV error: $(cat err.txt)"
"$PROMOWATCH" report --help | grep -q -- "--output-dir" || fail "report --help does not document --output-dir"
# The README's worked plan (with profiles on) is valid, and gives its rules.
awk '/^```yaml$/ { inblock = 1; next } /^```$/ { inblock = 0 } inblock' "$TESTS_DIR/../README.md" |
  awk '/^# plan.yaml$/ { keep = 1; next } /^[a-z_#]/ && !/^(judge|campaigns):/ { keep = 0 } keep' > plan.yaml
printf 'profiles:\n  enabled: true\nplan:\n  file: plan.yaml\n' > planned.yaml
"$PROMOWATCH" check-config -c planned.yaml > cc.txt 2>&1 || fail "the README's plan does not load: $(cat cc.txt)"
grep -q "valid (10 alert rules" cc.txt || fail "the README's plan should give 10 rules (6 KPIs of the campaign, 4 of channels): $(cat cc.txt)"

set +e
"$PROMOWATCH" replay -i missing.jsonl -o out.jsonl 2> err.txt; rc=$?
set -e
[ "$rc" != 0 ] || fail "a missing input should fail"
grep -qi "missing.jsonl" err.txt || fail "missing input error does not name the file"

"$PROMOWATCH" replay -i events.jsonl -o a.jsonl --state-dir st 2>/dev/null || fail "replay failed"
"$PROMOWATCH" gen --format json -n 100 --rate 100 --seed 2 -o other.jsonl 2>/dev/null
set +e
"$PROMOWATCH" replay -i other.jsonl -o b.jsonl --state-dir st 2> err.txt; rc=$?
set -e
[ "$rc" = 2 ] || fail "state of other inputs should be refused with exit 2, got $rc"
grep -q "state belongs to other inputs" err.txt || fail "no hint about the state dir: $(cat err.txt)"

: > empty.jsonl
"$PROMOWATCH" replay -i empty.jsonl -o e.jsonl 2> e.log || fail "an empty input should be fine"
[ ! -s e.jsonl ] || fail "an empty input has no windows"
grep -q 'read=0' e.log || fail "summary of an empty input"

"$PROMOWATCH" replay -i events.jsonl -o c.jsonl 2> c.log
grep -Eq '^ts=[0-9T:.-]+Z level=info msg="replay finished" read=[0-9]+ ' c.log || fail "summary is not a structured log line"
# gen is deterministic for a seed.
"$PROMOWATCH" gen -n 5000 --seed 9 -o s1.bin 2>/dev/null
"$PROMOWATCH" gen -n 5000 --seed 9 -o s2.bin 2>/dev/null
"$PROMOWATCH" gen -n 5000 --seed 10 -o s3.bin 2>/dev/null
cmp -s s1.bin s2.bin || fail "gen with the same seed wrote different files"
cmp -s s1.bin s3.bin && fail "gen with different seeds wrote the same file"

# On a terminal (script(1) gives it one) replay draws a progress bar with a rate.
if command -v script >/dev/null; then
  script -qec "'$PROMOWATCH' replay -i events.jsonl -o t.jsonl" /dev/null > tty.txt 2>&1 || fail "replay on a tty failed"
  grep -q "events/s" tty.txt || fail "no progress bar on a terminal: $(head -c 300 tty.txt)"
  "$PROMOWATCH" replay -i events.jsonl -o t.jsonl 2> notty.txt
  grep -q "events/s" notty.txt && fail "progress bar drawn although stderr is not a terminal"
fi

# backtest: a rules file error names its line; a rule that must fire fires,
# in the table and in the transitions file.
printf 'rules:\n  - name: any_gmv\n    metric: gmv\n    window: 1m\n    scope: overall\n    op: "="\n    threshold: 0\n' > bad_rules.yaml
set +e
"$PROMOWATCH" backtest --rules bad_rules.yaml -i events.jsonl > bt.txt 2> err.txt
rc=$?
set -e
[ "$rc" = 2 ] || fail "a bad rules file should exit 2, got $rc"
grep -q "bad_rules.yaml:6: op '='" err.txt || fail "the rules error does not name the line: $(cat err.txt)"
sed -i 's/op: "="/op: ">="/' bad_rules.yaml
# The README's rule file for a real sale is valid and every rule is judged.
awk '/^```yaml$/ { inblock = 1; next } /^```$/ { inblock = 0 } inblock' "$TESTS_DIR/../README.md" |
  awk '/^rules:$/ { keep = 1; print; next } /^[a-z_#]/ { keep = 0 } keep' > readme_rules.yaml
grep -q '^  - name: gmv_pacing' readme_rules.yaml || fail "could not extract the README's rule file"
printf 'windows:\n  sizes: [1m, 5m, 15m]\n' > w15.yaml
"$PROMOWATCH" backtest -c w15.yaml --rules readme_rules.yaml -i events.jsonl > readme_bt.txt 2> err.txt ||
  fail "the README's rule file does not load: $(tail -2 err.txt)"
for rule in low_ctr low_cvr_douyin gmv_drop gmv_pacing campaign_silent orders_silent; do
  grep -q "^$rule " readme_bt.txt || fail "README rule $rule missing from the backtest table"
done
# Four minutes of events: windows cut short by the end of input are not judged.
"$PROMOWATCH" gen --format json -n 2000 --rate 8 -o bt_events.jsonl 2>/dev/null
"$PROMOWATCH" backtest --rules bad_rules.yaml -i bt_events.jsonl -o transitions.jsonl > bt.txt 2> err.txt ||
  fail "backtest failed: $(tail -3 err.txt)"
[ "$(awk '$1 == "any_gmv" { print $3 }' bt.txt)" = 1 ] || fail "any_gmv should fire once: $(cat bt.txt)"
grep -q '"rule":"any_gmv"' transitions.jsonl && grep -q '"state":"firing"' transitions.jsonl ||
  fail "no firing transition in the output: $(head -2 transitions.jsonl)"

# run: what needs no Kafka is said at once, before connecting (a broker
# that does not answer made these wait for metadata timeouts).
run_unreachable() {  # ARGS...: run against a port nothing listens on
  set +e
  timeout 10 "$PROMOWATCH" run --brokers 127.0.0.1:9 --group g "$@" 2> err.txt; rc=$?
  set -e
}
run_unreachable --state-dir "$WORK/no/such/parent/state" --metrics-address 127.0.0.1:0
[ "$rc" = 1 ] || fail "a state dir under a missing parent should exit 1 at once, got $rc: $(tail -2 err.txt)"
grep -q 'a parent directory is missing' err.txt || fail "the state dir error does not say why: $(cat err.txt)"
if grep -q 'another promowatch' err.txt; then fail "a missing parent was blamed on another instance"; fi
python3 -c 'import signal, socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1); print(s.getsockname()[1], flush=True)
signal.pause()' > held_port.txt &
PIDS+=($!)
wait_for 5 "a port to be held" test -s held_port.txt
run_unreachable --state-dir "$WORK/st-run" --metrics-address "127.0.0.1:$(cat held_port.txt)"
[ "$rc" = 2 ] || fail "a metrics address in use should exit 2 at once, got $rc: $(tail -2 err.txt)"
grep -q 'is the port in use' err.txt || fail "the metrics error does not say what to do: $(cat err.txt)"

pass "help, config and plan errors with line numbers, input and state errors, empty input"
