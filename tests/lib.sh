# Shared by the end-to-end test scripts: a work dir removed on exit, and
# failures that say what was expected.
set -euo pipefail
PROMOWATCH=${1:?usage: $0 path/to/promowatch}
PROMOWATCH=$(readlink -f "$PROMOWATCH")
TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/promowatch-e2e-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }
# The value of key=... in the "replay finished" log line of file $1.
summary_value() { grep 'msg="replay finished"' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
