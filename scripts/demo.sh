#!/usr/bin/env bash
# Builds promowatch and runs it on the embedded default: a generated
# Double-11 midnight (with duplicates, late and malformed records) replayed
# through the operators, then the war-room view of the result.
# Usage: scripts/demo.sh [RECORDS]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target promowatch

records=${1:-2000000}
out=$(mktemp -d "${TMPDIR:-/tmp}/promowatch-demo-XXXXXX")
echo "== generating $records records of a sale around midnight UTC+8 in $out"
./build/promowatch gen --format binary -n "$records" -o "$out/sale.bin"
echo "== replaying"
./build/promowatch replay -i "$out/sale.bin" -o "$out/results.jsonl" --dead-letter "$out/dead.jsonl"

echo "== top campaigns since midnight UTC+8 (latest cumulative row per campaign)"
{
  echo "BEGIN; CREATE TABLE r(line TEXT);"
  grep '"window":"cumulative"' "$out/results.jsonl" | sed "s/'/''/g; s/.*/INSERT INTO r VALUES('&');/"
  echo "COMMIT;"
} > "$out/load.sql"
sqlite3 -column -header :memory: <<SQL
.read $out/load.sql
SELECT json_extract(line,'$.campaign_id') AS campaign,
       printf('%,.2f', MAX(json_extract(line,'$.gmv_cents')) / 100.0) AS gmv_yuan,
       printf('%.2f%%', 100.0 * json_extract(line,'$.clicks') / json_extract(line,'$.impressions')) AS ctr,
       printf('%.2f%%', 100.0 * json_extract(line,'$.paid_orders') / NULLIF(json_extract(line,'$.clicks'),0)) AS cvr,
       json_extract(line,'$.uv') AS uv
FROM r WHERE json_extract(line,'$.window') = 'cumulative' AND json_extract(line,'$.channel') = '*'
  AND json_extract(line,'$.window_start_ms') = (SELECT MAX(json_extract(line,'$.window_start_ms')) FROM r)
GROUP BY campaign ORDER BY MAX(json_extract(line,'$.gmv_cents')) DESC LIMIT 10;
SQL
echo "== outputs: $out/results.jsonl (window results), $out/dead.jsonl (rejected and late records)"
