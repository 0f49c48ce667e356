#!/usr/bin/env bash
# The same generated sale as JSON lines and as length-delimited binary
# protobuf gives the same window results and the same counts; a binary file
# cut in the middle of a record keeps the tail as a 'truncated' dead letter.
source "$(dirname "$0")/lib.sh"
cd "$WORK"

for f in json binary; do
  "$PROMOWATCH" gen --format $f -n 30000 --rate 200 --seed 5 -o events.$f 2>/dev/null
  "$PROMOWATCH" replay -i events.$f -o results.$f.jsonl 2> replay.$f.log || fail "replay of $f failed"
  grep -q "format=$f" replay.$f.log || fail "format of events.$f was not detected as $f"
done
[ "$(wc -l < results.json.jsonl)" -gt 500 ] || fail "too few results"
cmp -s results.json.jsonl results.binary.jsonl || fail "JSON and binary inputs give different results"
for k in read accepted duplicates late rejected; do
  [ "$(summary_value replay.json.log $k)" = "$(summary_value replay.binary.log $k)" ] \
    || fail "summary $k differs between JSON and binary"
done

# Cut the binary file inside its last record.
size=$(stat -c %s events.binary)
head -c $((size - 7)) events.binary > cut.binary
"$PROMOWATCH" replay -i cut.binary -o cut.jsonl --dead-letter cut.dead.jsonl 2> cut.log || fail "replay of a cut file failed"
grep -q '"reason":"truncated"' cut.dead.jsonl || fail "the cut-off tail is not in the dead letters"
[ "$(summary_value cut.log read)" = "$(summary_value replay.binary.log read)" ] \
  && [ "$(summary_value cut.log rejected_truncated)" = 1 ] \
  && [ "$(summary_value cut.log accepted)" -ge "$(( $(summary_value replay.binary.log accepted) - 1 ))" ] \
  || fail "a cut file should lose exactly its last record, counted as rejected_truncated"

# Two inputs are one stream: the same events split in two files give the same results.
head -n 15000 events.json > part1.jsonl
tail -n +15001 events.json > part2.jsonl
"$PROMOWATCH" replay -i part1.jsonl -i part2.jsonl -o split.jsonl 2>/dev/null || fail "replay of two files failed"
cmp -s results.json.jsonl split.jsonl || fail "splitting the input in two files changed the results"
pass "JSON and binary replay agree ($(wc -l < results.json.jsonl) results); truncation and multi-file input handled"
