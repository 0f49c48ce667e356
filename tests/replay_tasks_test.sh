#!/usr/bin/env bash
# The task model in process (issue 17): `replay --tasks N` splits the
# windows into N tasks by user, as Kafka partitions a topic keyed by user
# id, and merges them (operators/partial_merge.h). Its results and alert
# transitions must equal one task's byte for byte - with late records
# corrected (revisions, day totals), with user profiles and segments, and
# through SIGKILLs and resumes, the merger's state being in the checkpoint.
source "$(dirname "$0")/lib.sh"
cd "$WORK"

"$PROMOWATCH" gen --format json -n 120000 --rate 1500 --seed 5 --late-rate 0.01 -o events.jsonl \
  2>/dev/null
cat > config.yaml <<'YAML'
windows:
  sizes: [1m, 5m, 15m]
lateness:
  policy: correct
  allowed_lateness: 2m
state:
  checkpoint_every_records: 9000
YAML
RULES="$TESTS_DIR/../deploy/compose/rules.yaml"

"$PROMOWATCH" replay -i events.jsonl -o one.jsonl --dead-letter one.dead.jsonl -c config.yaml \
  --rules "$RULES" --alerts-output one.alerts.jsonl 2>one.log || { cat one.log; fail "replay --tasks 1 failed"; }
corrections=$(summary_value one.log corrections)
[ "${corrections:-0}" -gt 0 ] || fail "the sale has no corrections: the test would not cover revisions"

# (7c: seven tasks placed by CRC32, kafka.input_partitioner: consistent.)
for n in 2 7 7c; do
  partitioner=murmur2
  [ "${n%c}" = "$n" ] || partitioner=consistent
  "$PROMOWATCH" replay -i events.jsonl -o "t$n.jsonl" --dead-letter "t$n.dead.jsonl" -c config.yaml \
    --rules "$RULES" --alerts-output "t$n.alerts.jsonl" --tasks "${n%c}" \
    --input-partitioner $partitioner 2>"t$n.log" \
    || { cat "t$n.log"; fail "replay --tasks $n failed"; }
  cmp -s one.jsonl "t$n.jsonl" || fail "--tasks $n: results differ from one task ($(wc -l < one.jsonl) vs $(wc -l < "t$n.jsonl") lines; first difference: $(cmp one.jsonl "t$n.jsonl" | head -1))"
  cmp -s one.alerts.jsonl "t$n.alerts.jsonl" || fail "--tasks $n: alert transitions differ from one task"
  cmp -s one.dead.jsonl "t$n.dead.jsonl" || fail "--tasks $n: dead letters differ from one task"
done

# With user profiles and segments (the profile step is one, ahead of the
# split: each task gets its users' records stamped): results and tag
# changes equal one task's.
printf 'profiles:\n  enabled: true\nsegments:\n  enabled: true\n' | cat config.yaml - > segments.yaml
for n in 1 3; do
  "$PROMOWATCH" replay -i events.jsonl -o "s$n.jsonl" -c segments.yaml --tasks $n --tags-output "s$n.tags.jsonl" \
    2>"s$n.log" || { cat "s$n.log"; fail "replay --tasks $n with segments failed"; }
done
grep -q '"segment":"dormant"\|"segment":"new"' s1.jsonl || fail "no segment rows with segments on"
cmp -s s1.jsonl s3.jsonl || fail "--tasks 3 with segments: results differ from one task: $(cmp s1.jsonl s3.jsonl | head -1)"
cmp -s s1.tags.jsonl s3.tags.jsonl || fail "--tasks 3 with segments: tag changes differ from one task"

# Killed and resumed on the same state directory (its tables per task, and
# the merger's partials, come back from the checkpoint). Late records are
# dropped here: with lateness.policy correct, a resumed replay differs from
# an uninterrupted one by a record or so even with one task (a known bug,
# noted on the hardening issue), which this test is not about.
grep -v 'policy\|allowed_lateness\|^lateness' config.yaml > crash.yaml
"$PROMOWATCH" replay -i events.jsonl -o ref.jsonl -c crash.yaml 2>ref.log \
  || { cat ref.log; fail "replay of the crash config failed"; }
kills=0
for point in records:30000 checkpoint:2 records:70000; do
  set +e
  PROMOWATCH_FAULT_KILL=$point "$PROMOWATCH" replay -i events.jsonl -o crash.jsonl \
    --dead-letter crash.dead.jsonl -c crash.yaml --tasks 4 --state-dir state 2>>crash.log
  rc=$?
  set -e
  if [ "$rc" = 137 ]; then kills=$((kills + 1)); elif [ "$rc" != 0 ]; then cat crash.log; fail "replay --tasks 4 exited $rc at $point"; fi
done
[ "$kills" -ge 2 ] || fail "only $kills of 3 runs were killed"
"$PROMOWATCH" replay -i events.jsonl -o crash.jsonl --dead-letter crash.dead.jsonl -c crash.yaml \
  --tasks 4 --state-dir state 2>>crash.log || { cat crash.log; fail "final restart failed"; }
grep -q 'resuming from checkpoint' crash.log || fail "no run resumed from a checkpoint"
cmp -s ref.jsonl crash.jsonl || fail "--tasks 4 killed $kills times: results differ from one uninterrupted task"

# A state directory of another task count is refused, not misread.
set +e
"$PROMOWATCH" replay -i events.jsonl -o other.jsonl -c crash.yaml --tasks 3 --state-dir state \
  2>other.log
rc=$?
set -e
[ "$rc" != 0 ] || fail "a state directory written with --tasks 4 was resumed with --tasks 3"
grep -q 'belongs to\|another' other.log || { cat other.log; fail "refusing the state dir did not say why"; }

pass "replay --tasks 2 and 7 (murmur2, and 7 by CRC32) equal one task byte for byte ($(wc -l < one.jsonl) windows, $corrections corrections, $(wc -l < one.alerts.jsonl) alert transitions); --tasks 4 killed $kills times and resumed: identical"
