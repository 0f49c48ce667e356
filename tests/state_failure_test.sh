#!/usr/bin/env bash
# The state cannot be written (here: a file-size limit, as a full disk
# would): `promowatch run` must stop with exit 1 and say what to do, not
# retry forever or keep processing past state it could not save; after the
# cause is gone, a restart resumes from the last durable checkpoint and
# counts every record once. The same when Kafka refuses output.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
cd "$WORK"
PARTITIONS=6
start_mock_kafka --partitions $PARTITIONS
produce_sale -n 60000 --rate 250 --seed 5 --late-rate 0 --malformed-rate 0 --duplicate-rate 0
cp "$TESTS_DIR/fixtures/state-failure.yaml" live.yaml
# 512 KiB per file: the write-ahead log outgrows it within the input.
set +e
( ulimit -f 512; exec timeout -s KILL 60 "$PROMOWATCH" run -c live.yaml --brokers "$BROKERS" --group sf \
    --state-dir state --results-format json --metrics-address 127.0.0.1:$(free_port) ) 2> limited.log
rc=$?
set -e
[ "$rc" = 1 ] || fail "with state writes failing, run exited $rc (expected 1): $(grep 'level=error' limited.log | tail -3)"
grep -q 'msg="state could not be written; stopping without a final checkpoint"' limited.log ||
  fail "no message saying the state could not be written: $(grep 'level=error' limited.log | tail -3)"
grep -q 'hint="fix the state directory' limited.log || fail "the message does not say what to do"
read_before=$(grep 'msg="stopped"' limited.log | tr ' ' '\n' | sed -n 's/^read=//p' | tail -1)
[ "${read_before:-0}" -lt "$PRODUCED" ] || fail "the limited run read everything ($read_before): the limit never bit"

start_run live.yaml sf --metrics-address 127.0.0.1:$(free_port)
wait_read "$PRODUCED" 90
stop_run "$PRODUCED"
pass "state write failure: exit 1 with a hint after $read_before records; the restart counted all $PRODUCED once"

# A disk that is really full: the state dir on a 4 MiB tmpfs (CI runs as
# root). RocksDB gets ENOSPC; the run stops with exit 1 and says so; after
# the filesystem grows, a restart resumes from the last checkpoint.
mkdir -p small
if mount -t tmpfs -o size=4m tmpfs small 2> mount.err; then
  MOUNTS+=("$WORK/small")
  set +e
  timeout -s KILL 60 "$PROMOWATCH" run -c live.yaml --brokers "$BROKERS" --group sf-full \
    --state-dir small/state --results-format json --metrics-address 127.0.0.1:$(free_port) 2> full.log
  rc=$?
  set -e
  # (The last lines too: an abort's own message is not a logfmt line.)
  [ "$rc" = 1 ] || fail "on a full disk, run exited $rc (expected 1): $(grep 'level=error' full.log | tail -3)
last lines of its log: $(tail -n 4 full.log)"
  grep -q 'No space left on device' full.log || fail "the error does not say the disk is full: $(grep 'level=error' full.log | tail -3)"
  grep -q 'msg="state could not be written; stopping without a final checkpoint"' full.log ||
    fail "no message saying the state could not be written: $(grep 'level=error' full.log | tail -3)"
  read_full=$(grep 'msg="stopped"' full.log | tr ' ' '\n' | sed -n 's/^read=//p' | tail -1)
  [ "${read_full:-0}" -lt "$PRODUCED" ] || fail "the full disk run read everything ($read_full): the disk never filled"
  mount -o remount,size=512m small
  : > run.log  # (the old one says read=N; the redirection below happens in the background)
  "$PROMOWATCH" run -c live.yaml --brokers "$BROKERS" --group sf-full --state-dir small/state \
    --results-format json --metrics-address 127.0.0.1:$(free_port) 2> run.log &
  RUN_PID=$!
  PIDS+=($RUN_PID)
  wait_read "$PRODUCED" 90
  stop_run "$PRODUCED"
  umount -l small
  pass "disk full (tmpfs): exit 1 after $read_full records, naming ENOSPC; after it grew, the restart counted all $PRODUCED once"
else
  echo "SKIP: disk full for real: cannot mount a tmpfs here ($(cat mount.err)); needs root with CAP_SYS_ADMIN"
fi

# Kafka refuses output (here a dead letter over the producer's
# message.max.bytes, as dead_letter_max_bytes is set too high): the run
# stops with exit 1 before a checkpoint passes it; a restart that can keep
# it keeps it, once.
rm -rf state
head -c 1500000 /dev/urandom > huge.bad
kcat -b "$BROKERS" -P -t orders -p 0 -X message.max.bytes=3000000 huge.bad
{ cat live.yaml; printf '  dead_letter_max_bytes: 2000000\n'; } > refuse.yaml  # (under kafka:)
set +e
timeout -s KILL 60 "$PROMOWATCH" run -c refuse.yaml --brokers "$BROKERS" --group sf-out --state-dir state \
  --results-format json --metrics-address 127.0.0.1:$(free_port) 2> refused.log
rc=$?
set -e
[ "$rc" = 1 ] || fail "with a dead letter refused, run exited $rc (expected 1): $(grep 'level=error' refused.log | tail -3)"
grep -q 'msg="output was not delivered to Kafka; stopping without a final checkpoint"' refused.log ||
  fail "no message saying output was lost: $(grep 'level=error' refused.log | tail -3)"
grep -q 'msg="dead-letter produce failed".*hint="set kafka.dead_letter_max_bytes' refused.log ||
  fail "the refused dead letter is not named with what to do: $(grep 'level=error' refused.log | tail -3)"
start_run live.yaml sf-out --metrics-address 127.0.0.1:$(free_port)
wait_read "$(( PRODUCED + 1 ))" 90
stop_run "$(( PRODUCED + 1 ))"
kcat -b "$BROKERS" -C -t promowatch-dlq -e -q -f '%S %h\n' | grep -a 'promowatch.original.size=1500000' > kept.txt || true
[ "$(wc -l < kept.txt)" = 1 ] && grep -q '^900000 ' kept.txt ||
  fail "want the refused record kept once, truncated to 900000 bytes: $(cut -c1-200 kept.txt)"
pass "output refused by Kafka: exit 1 without a checkpoint past it; the restart kept it once, truncated"
