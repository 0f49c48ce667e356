#!/usr/bin/env bash
# Builds promowatch and runs it on the embedded default: an in-process Kafka
# cluster (librdkafka's mock brokers on 127.0.0.1), a generated sale with an
# injected anomaly (douyin's CTR collapses), the live pipeline with /metrics
# on 127.0.0.1:9464, and a live view in the terminal. Ctrl-C stops it.
# Usage: scripts/demo.sh [promowatch demo options, e.g. --duration 120]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target promowatch
exec ./build/promowatch demo "$@"
