#!/usr/bin/env bash
# tests/load/notify-bench.sh — the outbound notification benchmark (issue 9); `make bench` runs it
# after the websocket scenarios (NOTIFY_BENCH=0 skips it there). Alone:
#
#   bash tests/load/notify-bench.sh                   # 10 000 events, phases ok, fail-half, reject-half
#   bash tests/load/notify-bench.sh --events 2000 --phases ok
#
# It starts its own redis-server, build/callrelay and receiver on free loopback ports, stops them
# by PID, and prints one line per phase on stderr and the results as JSON on stdout (and into
# --out FILE). What it measures: tests/load/notify_bench.py. The whole run is bounded by
# NOTIFY_BENCH_TIMEOUT (default 900 s).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CALLRELAY_BIN=${CALLRELAY_BIN:-$ROOT/build/callrelay}
[ -x "$CALLRELAY_BIN" ] || { echo "notify-bench: $CALLRELAY_BIN missing: make" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "notify-bench: redis-server missing" >&2; exit 1; }
if [ "${QUICK:-0}" = 1 ]; then set -- --events 2000 "$@"; fi
exec timeout -k 15 "${NOTIFY_BENCH_TIMEOUT:-900}" /usr/bin/python3 "$ROOT/tests/load/notify_bench.py" \
    --bin "$CALLRELAY_BIN" "$@"
