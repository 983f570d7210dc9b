#!/usr/bin/env bash
# tests/load/bench.sh — `make bench`: callrelay against Nchan, in one run, on this machine.
#
#   make bench                        # scenarios A–E x 3 systems, about 4 minutes
#   QUICK=1 make bench                # smoke run of the harness, about 2 minutes
#   SCENARIOS="A E" SYSTEMS="nchan-memory callrelay" make bench
#   BENCH_OUT=/tmp/b.json make bench  # where the JSON goes (default bench-results/bench-<date>.json)
#   NOTIFY_BENCH=0 make bench         # without the outbound notification benchmark (notify-bench.sh)
#
# For every scenario and every system it starts a fresh server on free loopback ports, runs
# build/crbench, and stops the server by PID:
#   nchan-memory   nginx + libnginx-mod-nchan, memory storage
#   nchan-redis    the same with Redis storage (redis-server --appendonly yes --appendfsync everysec)
#   callrelay      build/callrelay + its own redis-server (AOF everysec), every event stored and
#                  deduplicated as in production
# Then tests/load/bench_table.py prints the table with the ratios callrelay / Nchan and the goals
# of issue 12, and writes it as JSON. The whole run is bounded by BENCH_TIMEOUT (default 1800 s,
# 600 s with QUICK=1); every crbench run has its own --timeout.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${QUICK:=0}"
: "${BENCH_TIMEOUT:=$([ "$QUICK" = 1 ] && echo 600 || echo 1800)}"
if [ -z "${BENCH_BOUNDED:-}" ]; then # bound the whole run; timeout signals this script by its pid
    BENCH_BOUNDED=1 exec timeout -k 30 "$BENCH_TIMEOUT" bash "$0" "$@"
fi
: "${SYSTEMS:=nchan-memory nchan-redis callrelay}" "${SCENARIOS:=A B C D E}"
export QUICK

[ "$(id -u)" = 0 ] || { echo "bench: run as root (nginx is started with 'user root', as in ../shared/bench)" >&2; exit 1; }
for c in nginx redis-server redis-cli curl; do
    command -v $c >/dev/null || { echo "bench: $c missing (deploy/deps.sh; apt-get install nginx-light libnginx-mod-nchan redis-server)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/callrelay-bench.XXXXXX)
# shellcheck source=bench-lib.sh
source "$ROOT/tests/load/bench-lib.sh"
[ -x "$CRBENCH" ] || bdie "$CRBENCH missing: make build/crbench"
[ -x "$CALLRELAY_BIN" ] || bdie "$CALLRELAY_BIN missing: make"
"$CRBENCH" selftest >/dev/null || bdie "crbench selftest failed"

CHILD=""
cleanup() {
    [ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null && wait "$CHILD" 2>/dev/null
    stop_all
    blog "raw files in $WORK"
}
trap cleanup EXIT
trap 'blog "interrupted"; exit 130' INT TERM

mkdir -p "$ROOT/bench-results"
OUT=${BENCH_OUT:-$ROOT/bench-results/bench-$(date +%Y-%m-%d-%H%M%S).json}
RUNS=$WORK/runs.jsonl; : >"$RUNS"

env_json() {
    "$PY" - "$@" <<'EOF'
import json, os, platform, subprocess, sys
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return ""
model = ""
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        model = line.split(":", 1)[1].strip(); break
mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
print(json.dumps({
    "date": sh("date -u +%Y-%m-%dT%H:%M:%SZ"), "kernel": platform.release(), "cpus": os.cpu_count(),
    "cpu_model": model, "mem_total_kib": mem, "loadavg_start": open("/proc/loadavg").read().split()[:3],
    "nginx": sh("nginx -v 2>&1").split("/")[-1], "nchan": sh("dpkg-query -W -f='${Version}' libnginx-mod-nchan"),
    "redis": sh("redis-server --version").split("v=")[-1].split()[0], "nofile_hard": sh("ulimit -Hn"),
    "callrelay_commit": sh("git -C %s rev-parse --short HEAD" % sys.argv[1]) + (" (dirty)" if sh("git -C %s status --porcelain -- broker adapters" % sys.argv[1]) else ""),
    "callrelay_bin": os.environ.get("CALLRELAY_BIN", ""),
    "callrelay_bin_sha256": sh("sha256sum %s | cut -c1-16" % os.environ.get("CALLRELAY_BIN", "/nonexistent")),
    "quick": os.environ.get("QUICK") == "1", "nginx_workers": os.environ.get("WORKERS", "auto"),
    "callrelay_workers": os.environ.get("CALLRELAY_WORKERS", "(default)"),
}))
EOF
}
env_json "$ROOT" >"$WORK/env.json"

blog "work dir $WORK; systems: $SYSTEMS; scenarios: $SCENARIOS; quick=$QUICK; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for s in $SCENARIOS; do
    for sys in $SYSTEMS; do
        tag=$sys-$s
        blog "$sys / $s"
        if ! start_system "$sys" "$tag" "$(scenario_users "$s")"; then
            "$PY" -c 'import json,sys; print(json.dumps({"mode": "none", "ok": False, "system": sys.argv[1], "scenario": sys.argv[2], "error": sys.argv[3]}))' \
                "$sys" "$s" "start failed: $START_ERROR" >>"$RUNS"
            stop_system
            continue
        fi
        crb_scenario "$s" >"$WORK/crbench-$tag.json" 2>"$WORK/crbench-$tag.err" &
        CHILD=$!
        rc=0; wait "$CHILD" || rc=$?
        CHILD=""
        died=false
        for p in ${SERVER_PIDS//,/ }; do kill -0 "$p" 2>/dev/null || died=true; done
        out=$(tail -n 1 "$WORK/crbench-$tag.json")
        [ -n "$out" ] || { blog "  crbench printed nothing (exit $rc): $(tail -n 3 "$WORK/crbench-$tag.err")"; out='{"mode":"none","ok":false}'; }
        [ "$died" = true ] && blog "  the server died during the run (see $WORK/*$tag*)"
        "$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
d.update(system=sys.argv[2], scenario=sys.argv[3], crbench_exit=int(sys.argv[4]), server_died=sys.argv[5] == "true",
         loadavg=open("/proc/loadavg").read().split()[:3])
print(json.dumps(d))' "$out" "$sys" "$s" "$rc" "$died" >>"$RUNS"
        "$PY" "$ROOT/tests/load/bench_table.py" --one "$(tail -n 1 "$RUNS")" >&2
        stop_system
        if [ "$sys" = callrelay ] && [ "$STOP_RC" != 0 ] && [ "$died" = false ]; then
            blog "  callrelay exited with status $STOP_RC on SIGTERM"
        fi
    done
done

"$PY" "$ROOT/tests/load/bench_table.py" --env "$WORK/env.json" --runs "$RUNS" --out "$OUT"
blog "results: $OUT"

if [ "${NOTIFY_BENCH:-1}" = 1 ]; then # outbound notifications (issue 9): its own servers and figures
    blog "outbound notifications: tests/load/notify-bench.sh"
    bash "$ROOT/tests/load/notify-bench.sh" --out "${OUT%.json}-notify.json" >/dev/null ||
        blog "notify-bench failed (exit $?)"
fi
