#!/usr/bin/env bash
# Installs every build and test dependency of promowatch from Debian 12's
# archive. Idempotent: packages already present are skipped by apt-get, and
# `apt-get update` only runs when something is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  protobuf-compiler libprotobuf-dev       # event contract (proto/)
  librocksdb-dev                          # operator state
  librdkafka-dev kcat                     # live path (Kafka) and its tests
  prometheus-cpp-dev                      # /metrics
  libabsl-dev libxxhash-dev xxhash        # flat hash maps, status, base64; id hashing (xxhsum: tests)
  libyaml-cpp-dev libcli11-dev            # config file, command line
  libspdlog-dev libfmt-dev nlohmann-json3-dev libsimdjson-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  sqlite3                                 # independent computation in tests
  libcpp-httplib-dev                      # Alertmanager delivery (HTTP client), the metrics port
  libssl-dev openssl                      # the metrics port over TLS (metrics.tls); test certificates
  prometheus curl                         # promtool check metrics, scraping in tests
  prometheus-alertmanager jq              # the real Alertmanager in delivery tests; its JSON
  python3-yaml                            # deploy/: compose and Kubernetes files parsed in tests
  valgrind                                # callgrind: the hot path's instructions-per-event budget
  clang-14 libclang-rt-14-dev             # libFuzzer, ASan/UBSan over the unit tests (tests/fuzz/)
  clang-format-14                         # the C++ style, checked first by scripts/test.sh
  chromium                                # the status page in a headless browser (tests/browser/)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm (Grafana's dashboard builders in deploy/grafana/src): any
# install will do; Debian's packages only when the commands are missing, so
# a machine's own Node.js (e.g. from NodeSource) is not replaced.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
