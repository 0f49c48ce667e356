# Shared by the end-to-end test scripts: a work dir removed on exit, and
# failures that say what was expected.
set -euo pipefail
PROMOWATCH=${1:?usage: $0 path/to/promowatch}
PROMOWATCH=$(readlink -f "$PROMOWATCH")
TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/promowatch-e2e-XXXXXX")
PIDS=()
MOUNTS=()  # filesystems a test mounted under $WORK, unmounted at exit
cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for m in "${MOUNTS[@]}"; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
[ -n "${KEEP_WORK:-}" ] && trap 'for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; echo "kept $WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }
# The value of key $1 in check.out, the key|value lines the SQL checks print.
val() { awk -F'|' -v k="$1" '$1 == k { print $2 }' check.out; }
# sql_insert TABLE: each line of stdin as an INSERT of one text column
# (JSON lines into SQLite, where the checks compute their reference).
sql_insert() { sed "s/'/''/g; s/.*/INSERT INTO $1 VALUES('&');/"; }
# Alertmanager's current alerts (at $AM) into am_alerts.json ([] when down).
am_alerts() { curl -sf "$AM/api/v2/alerts" > am_alerts.json || echo '[]' > am_alerts.json; }

# The value of key=... in the "replay finished" log line of file $1.
summary_value() { grep 'msg="replay finished"' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.2 s until it
# succeeds; fails the test with DESCRIPTION when SECONDS pass.
wait_for() {
  local limit=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + limit ))
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "timed out after ${limit}s waiting for: $what"
    sleep 0.2
  done
}

# Starts `promowatch mock-kafka` and sets BROKERS to its bootstrap address.
start_mock_kafka() {
  "$PROMOWATCH" mock-kafka "$@" > "$WORK/mock.out" 2> "$WORK/mock.log" &
  MOCK_PID=$!
  PIDS+=($MOCK_PID)
  disown $MOCK_PID  # no "Killed" notice from the shell at cleanup
  wait_for 20 "mock-kafka to print its bootstrap address" test -s "$WORK/mock.out"
  BROKERS=$(head -n 1 "$WORK/mock.out")
}

# A TCP port on 127.0.0.1 that nothing listens on now, below the kernel's
# ephemeral range: a port that an outgoing connection (Kafka clients open
# many) happens to use cannot be bound, and the server would fail to start.
free_port() {
  local port low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$low" -gt 12000 ] || low=32768
  for _ in $(seq 50); do
    port=$(( 10000 + RANDOM % (low - 10000) ))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
  fail "no free port found"
}
