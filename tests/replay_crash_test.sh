#!/usr/bin/env bash
# Exactly-once effect on state, offline: replay is killed (SIGKILL, through
# the PROMOWATCH_FAULT_KILL hook) at several points - between checkpoints and
# in the middle of one - and restarted on the same --state-dir each time.
# Its final outputs must equal an uninterrupted run's, byte for byte: nothing
# lost, nothing counted or written twice.
source "$(dirname "$0")/lib.sh"
cd "$WORK"

"$PROMOWATCH" gen --format binary -n 200000 --rate 1500 --seed 3 --late-rate 0.005 -o events.bin 2>/dev/null
printf 'state:\n  checkpoint_every_records: 8000\n' > config.yaml

"$PROMOWATCH" replay -i events.bin -o ref.jsonl --dead-letter ref.dead.jsonl -c config.yaml 2>ref.log \
  || fail "uninterrupted replay failed"

kills=0
for point in records:20000 checkpoint:3 records:45000 checkpoint:1 records:9000 records:70000; do
  set +e
  PROMOWATCH_FAULT_KILL=$point "$PROMOWATCH" replay -i events.bin -o out.jsonl \
    --dead-letter out.dead.jsonl -c config.yaml --state-dir state 2>>crash.log
  rc=$?
  set -e
  if [ "$rc" = 137 ]; then kills=$((kills + 1)); elif [ "$rc" != 0 ]; then cat crash.log; fail "replay exited $rc at $point"; fi
done
[ "$kills" -ge 5 ] || fail "only $kills of 6 runs were killed: the kill points are past the end of the input"
"$PROMOWATCH" replay -i events.bin -o out.jsonl --dead-letter out.dead.jsonl -c config.yaml \
  --state-dir state 2>>crash.log || { cat crash.log; fail "final restart failed"; }
grep -q 'resuming from checkpoint' crash.log || fail "no run resumed from a checkpoint"
# A finished replay closes its state as `run` does: memtables in table
# files, no write-ahead log left for the next open to replay.
for wal in state/*.log; do
  [ ! -s "$wal" ] || fail "the finished replay left $(stat -c %s "$wal") bytes of log in $wal"
done

[ -s ref.jsonl ] || fail "the reference produced no results"
cmp -s ref.jsonl out.jsonl || fail "results after $kills kills differ from the uninterrupted run ($(wc -l < ref.jsonl) vs $(wc -l < out.jsonl) lines)"
cmp -s ref.dead.jsonl out.dead.jsonl || fail "dead letters after kills differ from the uninterrupted run"
for k in read accepted duplicates late rejected; do
  [ "$(summary_value ref.log $k)" = "$(tail -n 1 crash.log | tr ' ' '\n' | sed -n "s/^$k=//p")" ] \
    || fail "summary $k differs after restarts"
done
pass "replay killed $kills times and resumed: $(wc -l < out.jsonl) results identical to the uninterrupted run"
