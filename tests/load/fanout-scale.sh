#!/usr/bin/env bash
# tests/load/fanout-scale.sh — what every instance pays for the events of the others.
#
#   bash tests/load/fanout-scale.sh                  # 1, 2, 4 and 8 brokers, 2000 events/s, 10 s
#   COUNTS="1 4" RATE=1000 SECONDS_=5 bash tests/load/fanout-scale.sh
#
# One redis-server (AOF everysec, unix socket) and N brokers on it (one process each). Every
# tab is on broker 1 and every webhook goes to broker 1 (crbench, open loop at RATE/s); brokers
# 2..N hold no session. Their CPU over the run, per event of the total rate, is what the fan-out
# costs an instance that has nothing to deliver. Prints one JSON line per N.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${COUNTS:=1 2 4 8}" "${RATE:=2000}" "${SECONDS_:=10}" "${USERS:=1000}"
WORK=$(mktemp -d /tmp/callrelay-fanout.XXXXXX)
# shellcheck source=bench-lib.sh
source "$ROOT/tests/load/bench-lib.sh"
[ -x "$CRBENCH" ] || bdie "$CRBENCH missing: make build/crbench"
[ -x "$CALLRELAY_BIN" ] || bdie "$CALLRELAY_BIN missing: make"

EXTRA_PIDS=()
cleanup() {
    local p; for p in "${EXTRA_PIDS[@]}"; do stop_pid "$p"; done
    stop_all
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() { # the sum of utime + stime of the given pids, in clock ticks
    local t=0 p f
    for p in "$@"; do
        read -ra f <"/proc/$p/stat"
        t=$(( t + f[13] + f[14] ))
    done
    echo "$t"
}

start_more() { # start_more N: brokers 2..N on the running redis
    local i port
    for i in $(seq 2 "$1"); do
        port=$(free_port)
        CALLRELAY_WORKERS=1 CALLRELAY_LISTEN=127.0.0.1:$port CALLRELAY_REDIS_URL=unix://$REDIS_SOCK \
        CALLRELAY_RATE_LIMIT=${CALLRELAY_RATE_LIMIT:-100000000} CALLRELAY_ADMIN_TOKEN=bench-admin CALLRELAY_TICKET_SECRET=bench-ticket-secret-0123456789abcdef \
            "$CALLRELAY_BIN" >"$WORK/extra-$i.log" 2>"$WORK/extra-$i.err" &
        EXTRA_PIDS+=($!)
        wait_http "http://127.0.0.1:$port/readyz" "$!" "extra-$i" || bdie "broker $i did not start"
    done
}

HZ=$(getconf CLK_TCK)
events=$(( RATE * SECONDS_ ))
for n in $COUNTS; do
    EXTRA_PIDS=()
    CALLRELAY_WORKERS=1 start_system callrelay "fanout-$n" "$USERS" || bdie "start failed: $START_ERROR"
    start_more "$n"
    before_idle=$(cpu_ticks "${EXTRA_PIDS[@]}" ); before_redis=$(cpu_ticks "$REDIS_PID")
    out=$("$CRBENCH" run "${SYS_ARGS[@]}" --server-pids "$CR_PID" --pad 100 --label "fanout-$n" \
          --users "$USERS" --tabs 1 --events "$events" --rate "$RATE" --conns 16 \
          --timeout $(( SECONDS_ + 120 )) 2>"$WORK/crbench-$n.err")
    after_idle=$(cpu_ticks "${EXTRA_PIDS[@]}"); after_redis=$(cpu_ticks "$REDIS_PID")
    "$PY" - "$out" "$n" "$events" "$HZ" "$before_idle" "$after_idle" "$before_redis" "$after_redis" <<'PYEOF'
import json, sys
d = json.loads(sys.argv[1])
n, events, hz = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
idle_s = (int(sys.argv[6]) - int(sys.argv[5])) / hz
redis_s = (int(sys.argv[8]) - int(sys.argv[7])) / hz
print(json.dumps({
    "brokers": n, "rate": d.get("rate"), "events": events, "lost": d.get("lost"),
    "duplicates": d.get("duplicates"), "ok": d.get("ok"),
    "active_cpu_us_per_event": round(d.get("server_cpu_s", 0) * 1e6 / events, 1),
    "idle_instance_cpu_us_per_event": round(idle_s * 1e6 / events / (n - 1), 1) if n > 1 else None,
    "redis_cpu_us_per_event": round(redis_s * 1e6 / events, 1),
    "lat_p99_ms": round(d.get("lat_p99_us", 0) / 1000, 2)}))
PYEOF
    for p in "${EXTRA_PIDS[@]}"; do stop_pid "$p"; done
    EXTRA_PIDS=()
    stop_system
done
