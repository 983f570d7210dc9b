#!/usr/bin/env bash
# tests/load/redis-cost.sh — what Redis spends per event of scenario A (issue 12).
#
#   tests/load/redis-cost.sh            # 3 runs of 30,000 events, 1000 users, one worker
#   RUNS=5 A_EVENTS=100000 tests/load/redis-cost.sh
#
# Each run starts build/callrelay (CALLRELAY_WORKERS=1 unless set) with its own redis-server
# (AOF everysec, unix socket: bench-lib.sh), provisions the users, resets Redis's statistics,
# runs crbench's scenario A and reads the deltas: INFO cpu (used_cpu_user + used_cpu_sys, every
# thread of the server) and INFO commandstats. Prints one JSON line per run and a summary:
#   redis_us_per_event     Redis CPU / events acknowledged
#   evalsha_us_per_event   cmdstat_evalsha usec / events (the scripts and the commands inside)
#   events_per_evalsha     events acknowledged / EVALSHA calls (the batch size)
# The run fails if crbench lost or duplicated an event.
#
# CALLGRIND=1 runs redis-server under valgrind --tool=callgrind instead, zeroes its counts after
# provisioning and dumps them after the scenario: redis_ir_per_event is then the instructions
# Redis executed per event, a figure that other processes on the machine do not move (the CPU
# and usec figures are then meaningless). The batch size (events per EVALSHA) still depends on
# timing: A_CONNS bounds it (one request in flight per connection).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${RUNS:=3}" "${A_EVENTS:=30000}" "${A_USERS:=1000}" "${A_CONNS:=16}"
export CALLRELAY_WORKERS=${CALLRELAY_WORKERS:-1}
# the default limit (1000 requests per second per integration) would answer most of A with 429
export CALLRELAY_RATE_LIMIT=${CALLRELAY_RATE_LIMIT:-100000000}
WORK=$(mktemp -d /tmp/callrelay-redis-cost.XXXXXX)
# shellcheck source=bench-lib.sh
source "$ROOT/tests/load/bench-lib.sh"
[ -x "$CRBENCH" ] || make -s -C "$ROOT" build/crbench
[ -x "$CALLRELAY_BIN" ] || make -s -C "$ROOT" build/callrelay
trap stop_all EXIT
trap 'exit 130' INT TERM

if [ "${CALLGRIND:-}" = 1 ]; then # bench-lib starts "redis-server" from PATH
    mkdir -p "$WORK/bin"
    printf '#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=%s/cg.%%p "%s" "$@"\n' \
        "$WORK" "$(command -v redis-server)" >"$WORK/bin/redis-server"
    chmod +x "$WORK/bin/redis-server"
    PATH=$WORK/bin:$PATH
fi
# instructions since the last zeroing, from a dump (callgrind writes cg.PID.N)
cg_ir() {
    callgrind_control -d "$REDIS_PID" >/dev/null
    local f; f=$(ls -t "$WORK"/cg."$REDIS_PID".* | head -1)
    awk '/^summary:/ {print $2}' "$f"
}
rcli() { redis-cli -s "$REDIS_SOCK" "$@"; }
cpu_s() { rcli INFO cpu | awk -F: '/^used_cpu_(user|sys):/ {s += $2} END {printf "%.6f", s}'; }

for r in $(seq 1 "$RUNS"); do
    start_system callrelay "cost$r" "$A_USERS" || bdie "start: $START_ERROR"
    rcli CONFIG RESETSTAT >/dev/null
    c0=$(cpu_s)
    [ "${CALLGRIND:-}" = 1 ] && callgrind_control -z "$REDIS_PID" >/dev/null
    out=$(crb_scenario A 2>"$WORK/crbench-$r.err") || bdie "crbench failed: $(tail -3 "$WORK/crbench-$r.err")"
    c1=$(cpu_s)
    ir=0; [ "${CALLGRIND:-}" = 1 ] && ir=$(cg_ir)
    rcli INFO commandstats >"$WORK/commandstats-$r.txt"
    stop_system
    "$PY" - "$out" "$c0" "$c1" "$WORK/commandstats-$r.txt" "$r" "$ir" <<'EOF' | tee -a "$WORK/runs.jsonl"
import json, re, sys
d = json.loads(sys.argv[1])
if d.get("lost") or d.get("duplicates"):
    sys.exit("redis-cost: run lost %s, duplicated %s events" % (d.get("lost"), d.get("duplicates")))
ev = d["acked"]
stats = {}
for line in open(sys.argv[4]):
    m = re.match(r"cmdstat_(\w+):calls=(\d+),usec=(\d+)", line)
    if m:
        stats[m.group(1)] = (int(m.group(2)), int(m.group(3)))
calls, usec = stats.get("evalsha", (0, 0))
cpu_us = (float(sys.argv[3]) - float(sys.argv[2])) * 1e6
print(json.dumps({"run": int(sys.argv[5]), "events": ev, "redis_us_per_event": round(cpu_us / ev, 2),
                  "evalsha_us_per_event": round(usec / ev, 2), "events_per_evalsha": round(ev / max(calls, 1), 2),
                  "evalsha_calls": calls, "redis_ir_per_event": int(sys.argv[6]) // ev,
                  "others": {k: v for k, v in stats.items() if k != "evalsha"}}))
EOF
done # not in a pipeline: a failed run must leave through this shell's EXIT trap, which stops it
"$PY" - "$WORK/runs.jsonl" <<'EOF'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
for k in ("redis_ir_per_event", "redis_us_per_event", "evalsha_us_per_event", "events_per_evalsha"):
    v = sorted(r[k] for r in runs)
    if not any(v):  # instructions are counted only with CALLGRIND=1
        continue
    print("%-22s median %.2f  (min %.2f, max %.2f, %d runs)" % (k, v[len(v) // 2], v[0], v[-1], len(v)))
EOF
echo "redis-cost.sh: details in $WORK" >&2
