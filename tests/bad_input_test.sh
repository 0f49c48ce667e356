#!/usr/bin/env bash
# Hostile input never loses good input. Each bad record below is put among
# good ones; replay must count every good record exactly as a replay of the
# good records alone does (byte-identical results), keep the bad one with
# its reason, and say so in its exit status and summary. Also: bare typed
# JSON lines with --input-type, and a JSON file starting with a byte-order mark.
source "$(dirname "$0")/lib.sh"
cd "$WORK"
command -v jq >/dev/null || fail "jq is not installed (scripts/install-deps.sh installs it)"

"$PROMOWATCH" gen --format json -n 6000 --rate 50 --seed 3 --malformed-rate 0 --late-rate 0 -o good.jsonl 2>/dev/null
head -n 3000 good.jsonl > first.jsonl
tail -n +3001 good.jsonl > second.jsonl
"$PROMOWATCH" replay -i good.jsonl -o want.jsonl 2> want.log || fail "replay of the good records failed"
accepted=$(summary_value want.log accepted)
[ "$accepted" -gt 5000 ] || fail "too few accepted records in the reference run ($accepted)"

# replay_with NAME INPUT EXPECTED_EXIT: replays INPUT; checks the exit status,
# the results against the good-only run and the accepted count.
replay_with() {
  local name=$1 input=$2 want_rc=$3 rc=0
  "$PROMOWATCH" replay -i "$input" -o "$name.out.jsonl" --dead-letter "$name.dead.jsonl" 2> "$name.log" || rc=$?
  [ "$rc" = "$want_rc" ] || fail "$name: replay exited $rc, want $want_rc: $(grep level=error "$name.log")"
  [ "$(summary_value "$name.log" accepted)" = "$accepted" ] ||
    fail "$name: accepted $(summary_value "$name.log" accepted), want every good record ($accepted)"
  cmp -s "$name.out.jsonl" want.jsonl || fail "$name: results differ from a replay of the good records alone"
}
# dead_reason NAME REASON: the dead-letter file holds exactly one record, with REASON.
dead_reason() {
  [ "$(wc -l < "$1.dead.jsonl")" = 1 ] || fail "$1: $(wc -l < "$1.dead.jsonl") dead letters, want 1"
  [ "$(jq -r .reason "$1.dead.jsonl")" = "$2" ] || fail "$1: dead letter reason $(jq -r .reason "$1.dead.jsonl"), want $2"
  [ "$(summary_value "$1.log" "rejected_$2")" = 1 ] || fail "$1: the summary does not count rejected_$2=1"
}

# 1. A JSON line over the reader's 64 MiB limit: skipped to its newline.
{ cat first.jsonl; printf '{"click":{"eventId":"'; head -c $((65 << 20)) /dev/zero | tr '\0' x; printf '"}}\n'; cat second.jsonl; } > huge.jsonl
replay_with huge huge.jsonl 3
dead_reason huge record_too_large
[ "$(summary_value huge.log skipped_bytes)" -gt $((65 << 20)) ] || fail "huge: skipped_bytes does not report the line"
grep -q 'msg="input was skipped unread"' huge.log || fail "huge: no error line saying input was skipped"
[ "$(jq -r .record_base64 huge.dead.jsonl | base64 -d | wc -c)" = $((64 << 10)) ] || fail "huge: the kept prefix is not 64 KiB"

# 2. Out-of-range event times and amounts: near INT64_MAX, two orders of INT64_MAX cents.
{ head -n 1000 good.jsonl
  echo '{"click":{"eventId":"t1","userId":"u1","campaignId":"c1","channel":"jd","type":"EVENT_TYPE_CLICK","eventTimeMs":"9223372036854775800"}}'
  sed -n 1001,2000p good.jsonl
  echo '{"order":{"eventId":"a1","orderId":"o1","userId":"u1","campaignId":"c0","channel":"jd","status":"ORDER_STATUS_PAID","amountCents":"9223372036854775807","eventTimeMs":"1794326300000"}}'
  echo '{"order":{"eventId":"a2","orderId":"o2","userId":"u1","campaignId":"c0","channel":"jd","status":"ORDER_STATUS_PAID","amountCents":"9223372036854775807","eventTimeMs":"1794326300001"}}'
  tail -n +2001 good.jsonl; } > range.jsonl
replay_with range range.jsonl 0
[ "$(jq -r .reason range.dead.jsonl | sort | uniq -c | tr -s ' ' | tr '\n' ';')" = " 2 amount_out_of_range; 1 event_time_out_of_range;" ] ||
  fail "range: dead letters $(jq -r .reason range.dead.jsonl | tr '\n' ' ')"
jq -e 'select(.window_end_ms < 0 or .gmv_cents < 0)' range.out.jsonl > /dev/null && fail "range: a negative window end or GMV"

# 3. A device clock in 2099 between normal records (replay judges against the input).
{ cat first.jsonl
  echo '{"click":{"eventId":"f1","userId":"u1","campaignId":"c1","channel":"jd","type":"EVENT_TYPE_CLICK","eventTimeMs":"4070908800000"}}'
  cat second.jsonl; } > future.jsonl
replay_with future future.jsonl 0
dead_reason future future_event_time

# 4. A UTF-8 byte-order mark before the first JSON line.
{ printf '\xEF\xBB\xBF'; cat good.jsonl; } > bom.jsonl
replay_with bom bom.jsonl 0
grep -q 'format=json' bom.log || fail "bom: a file with a byte-order mark was not read as JSON"

# 5. A binary length prefix claiming 4 GiB: the rest of the file cannot be
#    framed; it is reported skipped and replay exits 3.
"$PROMOWATCH" gen --format binary -n 3000 --rate 50 --seed 3 --malformed-rate 0 --late-rate 0 -o bin-first.bin 2>/dev/null
"$PROMOWATCH" replay -i bin-first.bin -o bin-want.jsonl 2> bin-want.log || fail "replay of the binary head failed"
{ cat bin-first.bin; printf '\x80\x80\x80\x80\x10'; head -c 1000 /dev/urandom; } > bin-bad.bin
rc=0; "$PROMOWATCH" replay -i bin-bad.bin -o bin-bad.out.jsonl --dead-letter bin-bad.dead.jsonl 2> bin-bad.log || rc=$?
[ "$rc" = 3 ] || fail "binary: replay exited $rc, want 3"
cmp -s bin-bad.out.jsonl bin-want.jsonl || fail "binary: the records before the bad prefix were not all counted"
[ "$(summary_value bin-bad.log skipped_bytes)" = 1005 ] || fail "binary: skipped_bytes $(summary_value bin-bad.log skipped_bytes), want 1005"
[ "$(jq -r .reason bin-bad.dead.jsonl)" = record_too_large ] || fail "binary: the bad prefix is not dead-lettered"
jq -r .detail bin-bad.dead.jsonl | grep -q '4294967296' || fail "binary: the detail does not name the length: $(jq -r .detail bin-bad.dead.jsonl)"

# 6. Bare typed JSON lines with --input-type, against the same records as envelopes.
grep '"click"' good.jsonl > clicks-envelope.jsonl
jq -c .click clicks-envelope.jsonl > clicks-bare.jsonl
"$PROMOWATCH" replay -i clicks-envelope.jsonl -o clicks-want.jsonl 2>/dev/null || fail "replay of click envelopes failed"
"$PROMOWATCH" replay -i clicks-bare.jsonl --input-type click -o clicks-got.jsonl 2> clicks.log || fail "replay of bare clicks failed"
cmp -s clicks-got.jsonl clicks-want.jsonl || fail "bare clicks with --input-type click give other results than their envelopes"
"$PROMOWATCH" replay -i clicks-bare.jsonl -o clicks-untyped.jsonl --dead-letter clicks-untyped.dead.jsonl 2>/dev/null || true
[ "$(jq -r .reason clicks-untyped.dead.jsonl | sort -u)" = empty_payload ] || fail "bare clicks without --input-type should be empty_payload"

pass "hostile input: every good record counted around an overlong line, out-of-range times and amounts, a 2099 clock, a BOM and a corrupt binary prefix (exit 3 where input was skipped); bare typed lines replay like envelopes"
