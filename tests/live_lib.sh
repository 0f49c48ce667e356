# Helpers of the live-path tests (sourced after lib.sh, in $WORK).

# produce_sale GEN_ARGS...: one generated sale, sent with kcat: clicks and
# spend as JSON lines, orders (and binary garbage) as binary protobuf, one
# message per file. Sets PRODUCED (messages sent). events.jsonl is the whole
# sale as JSON, the input of the SQL reference.
produce_sale() {
  "$PROMOWATCH" gen --format json "$@" -o events.jsonl 2>/dev/null
  "$PROMOWATCH" gen --format binary "$@" --split bin 2>/dev/null
  grep '"click"' events.jsonl > clicks.jsonl
  grep '"spend"' events.jsonl > spend.jsonl
  produce_keyed clickstream < clicks.jsonl
  kcat -b "$BROKERS" -P -t spend -l spend.jsonl
  (cd bin && ls | grep -E '\.(order|bad)\.bin$' | xargs kcat -b "$BROKERS" -P -t orders)
  PRODUCED=$(( $(wc -l < clicks.jsonl) + $(wc -l < spend.jsonl) + $(ls bin | grep -cE '\.(order|bad)\.bin$') ))
  assert_all_retained
}

# produce_keyed TOPIC < JSON_LINES: each line to TOPIC keyed by its userId,
# as upstream producers do (partitions fill evenly; a user's events stay in order).
produce_keyed() {
  awk '{ k = ""; if (match($0, /"userId":"[^"]*"/)) k = substr($0, RSTART + 10, RLENGTH - 11);
         print k "\t" $0 }' | kcat -b "$BROKERS" -P -t "$1" -K '\t'
}

# The embedded cluster keeps the newest 5 MiB of each partition (librdkafka's
# mock limit) and deletes older records, as Kafka retention would: a test
# whose input outgrows that would lose records before anyone reads them.
assert_all_retained() {
  local topic p first
  for topic in clickstream orders spend; do
    for p in $(seq 0 $((${PARTITIONS:-3} - 1))); do
      first=$(kcat -C -b "$BROKERS" -t "$topic" -p "$p" -o beginning -c 1 -e -q -f '%o\n')
      [ -z "$first" ] || [ "$first" = 0 ] ||
        fail "$topic/$p starts at offset $first: the embedded cluster deleted records (5 MiB per partition); produce fewer or use more partitions"
    done
  done
}

# check_against_sql WATERMARK RESULTS_FILE: the distinct results against the
# SQL reference over events.jsonl, limited to windows final at WATERMARK.
# Fails on any difference; leaves check.out for val().
check_against_sql() {
  local watermark=$1 results=$2
  rm -f db.sqlite
  {
    echo "BEGIN; CREATE TABLE raw(seq INTEGER PRIMARY KEY, line TEXT);"
    sed "s/'/''/g; s/.*/INSERT INTO raw(line) VALUES('&');/" events.jsonl
    echo "CREATE TABLE got_raw(line TEXT);"
    sort -u "$results" | sed "s/'/''/g; s/.*/INSERT INTO got_raw(line) VALUES('&');/"
    echo "COMMIT;"
  } > load.sql
  sqlite3 db.sqlite < load.sql
  sqlite3 db.sqlite > check.out <<SQL
.read $TESTS_DIR/sql/reference.sql
-- Live windows are emitted once the watermark passes their end.
DELETE FROM expected WHERE wend > $watermark;
.read $TESTS_DIR/sql/compare.sql
SQL
  [ "$(val late)" = 0 ] || fail "the test input should have no late events"
  [ "$(val rows_expected)" -gt 300 ] || fail "too few expected rows ($(val rows_expected))"
  [ "$(val rows_missing)" = 0 ] || fail "$(val rows_missing) rows computed by SQL are missing or differ on promowatch-metrics"
  [ "$(val rows_unexpected)" = 0 ] || fail "$(val rows_unexpected) rows on promowatch-metrics are not in the SQL result"
  # Distinct lines = expected rows: a result published twice was published identically.
  [ "$(val rows_expected)" = "$(val rows_got)" ] || fail "row counts differ: SQL $(val rows_expected), promowatch $(val rows_got) distinct"
  [ "$(val bad_ratios)" = 0 ] || fail "ctr/cvr/roi inconsistent with their counts"
}
val() { awk -F'|' -v k="$1" '$1 == k { print $2 }' check.out; }

# The watermark in the last "stopped" report of a run log.
final_watermark() { grep 'msg="stopped"' "$1" | tr ' ' '\n' | sed -n 's/^watermark_ms=//p' | tail -1; }
