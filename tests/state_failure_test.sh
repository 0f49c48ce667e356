#!/usr/bin/env bash
# The state cannot be written (here: a file-size limit, as a full disk
# would): `promowatch run` must stop with exit 1 and say what to do, not
# retry forever or keep processing past state it could not save; after the
# cause is gone, a restart resumes from the last durable checkpoint and
# counts every record once.
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
