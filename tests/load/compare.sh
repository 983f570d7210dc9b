#!/usr/bin/env bash
# tests/load/compare.sh — `make bench-compare`: scenario A against callrelay with our crbench and
# with the independent ../shared/bench/wsbench, back to back, each on a fresh callrelay + redis.
# Reports both tools' publish rate (acked events/s) and whether they agree within 10 %.
#
#   make bench-compare                       # 1 pair: crbench, then wsbench
#   COMPARE_RUNS=2 make bench-compare        # crbench, wsbench, wsbench, crbench (ABBA); medians
#   A_EVENTS=20000 make bench-compare        # smaller
#   COMPARE_SCENARIOS="A B C D E" make bench-compare   # the other scenarios too, for information
# wsbench runs each scenario as ../shared/bench/scenarios.sh defines it.
# Writes the JSON to $COMPARE_OUT (default bench-results/compare-<date>.json).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -z "${BENCH_BOUNDED:-}" ]; then
    BENCH_BOUNDED=1 exec timeout -k 30 "${BENCH_TIMEOUT:-900}" bash "$0" "$@"
fi
: "${COMPARE_RUNS:=1}" "${COMPARE_SCENARIOS:=A}"
WORK=$(mktemp -d /tmp/callrelay-compare.XXXXXX)
# shellcheck source=bench-lib.sh
source "$ROOT/tests/load/bench-lib.sh"
WSBENCH=${WSBENCH:-$SHARED_BENCH/wsbench}
[ -x "$CRBENCH" ] || bdie "$CRBENCH missing: make build/crbench"
[ -x "$CALLRELAY_BIN" ] || bdie "$CALLRELAY_BIN missing: make"
if [ ! -x "$WSBENCH" ] || [ "$SHARED_BENCH/wsbench.c" -nt "$WSBENCH" ]; then
    WSBENCH=$WORK/wsbench   # ../shared is read-only: build a private copy
    gcc -std=gnu11 -O2 -g -Wall -Wextra -o "$WSBENCH" "$SHARED_BENCH/wsbench.c"
fi
CHILD=""
cleanup() { [ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null; stop_all; blog "raw files in $WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# wsbench's side: ../shared/bench/scenarios.sh with the templates of tests/load/wsbench-callrelay.sh
server_pids() { echo "$SERVER_PIDS"; }
aux_pids() { echo "$AUX_PIDS"; }
# shellcheck source=/dev/null
source "$SHARED_BENCH/scenarios.sh"

run_tool() { # run_tool crbench|wsbench SCENARIO N
    local tool=$1 s=$2 tag=$1-$2-$3
    start_system callrelay "$tag" "$(scenario_users "$s")" || bdie "callrelay could not be started"
    blog "$tool $s run $3 (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    if [ "$tool" = crbench ]; then
        crb_scenario "$s" >"$WORK/$tag.json" 2>"$WORK/$tag.err" &
    else
        USER_PREFIX=ext
        SUB_URL="ws://127.0.0.1:$CR_PORT/v1/ws?token=$CR_TOKEN&extension={user}"; REPLAY_SUB_URL=$SUB_URL
        PUB_URL="http://127.0.0.1:$CR_PORT/v1/hooks/bench/native"
        BODY='{"kind":"call","user":"{user}","call_id":"r{run}-{gseq}","call":{"state":"appeared","direction":"inbound","from":{"number":"+15550100200"},"to":{"extension":"{user}"},"line":"bench","crm_contact_id":"bench_seq:{seq} bench_ts:{ts} bench_user:{user}","campaign":"{pad}"}}'
        FIRST_FRAME='{"op":"register","limit":100}'
        WSB_EXTRA=(--page-reply '"op":"register"' --page-end '"code":109' --pub-header "Authorization: Bearer $CR_TOKEN")
        "scenario_$s" "$3" >"$WORK/$tag.json" 2>"$WORK/$tag.err" &
    fi
    CHILD=$!; wait "$CHILD" || true; CHILD=""
    stop_system
    local out; out=$(tail -n 1 "$WORK/$tag.json")
    [ -n "$out" ] || bdie "$tool printed nothing: $(tail -n 3 "$WORK/$tag.err")"
    "$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(tool=sys.argv[2], scenario=sys.argv[3], loadavg=open("/proc/loadavg").read().split()[:3]); print(json.dumps(d))' \
        "$out" "$tool" "$s" >>"$WORK/runs.jsonl"
}

: >"$WORK/runs.jsonl"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for s in $COMPARE_SCENARIOS; do
    for r in $(seq 1 "$COMPARE_RUNS"); do
        if [ $((r % 2)) = 1 ]; then run_tool crbench "$s" "$r"; run_tool wsbench "$s" "$r"
        else run_tool wsbench "$s" "$r"; run_tool crbench "$s" "$r"; fi
    done
done

mkdir -p "$ROOT/bench-results"
OUT=${COMPARE_OUT:-$ROOT/bench-results/compare-$(date +%Y-%m-%d-%H%M%S).json}
"$PY" - "$WORK/runs.jsonl" "$OUT" "$load0" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
res = {"load_average_start": sys.argv[3].split(), "load_average_end": open("/proc/loadavg").read().split()[:3],
       "runs": runs, "scenarios": {}}
def med(scen, tool, key):
    v = [r.get(key) for r in runs if r["tool"] == tool and r["scenario"] == scen and isinstance(r.get(key), (int, float))]
    return statistics.median(v) if v else None
print("| scen | tool | publish/s (acked) | deliveries/s | lat p50 / p99 / p99.9 ms | replay ms | KiB/conn | lost | dup | errors | tool CPU µs/event | broker CPU | redis CPU |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in runs:
    if r.get("mode") == "idle":
        print(f"| {r['scenario']} | {r['tool']} | | | | | {r.get('kib_per_conn_rss', 0):.2f} ({r.get('established')}/{r.get('target')}) | | | | | | |")
        continue
    cpu_ev = r.get("tool_cpu_us_per_event") or (r["tool_cpu_s"] * 1e6 / r["acked"] if r.get("acked") else 0)
    print(f"| {r['scenario']} | {r['tool']} | {r['publish_per_s']:,.0f} | {r['delivery_per_s']:,.0f} | "
          f"{r['lat_p50_us']/1000:.2f} / {r['lat_p99_us']/1000:.2f} / {r['lat_p999_us']/1000:.2f} | "
          f"{r.get('replay_all_ms', '')} | | {r['lost']} | {r['duplicates']} | {r['errors']} | "
          f"{cpu_ev:.1f} | {r.get('server_cpu_pct', 0):.0f}% | {r.get('aux_cpu_pct', 0):.0f}% |")
KEYS = {"A": ["publish_per_s", "delivery_per_s"], "B": ["lat_p50_us", "lat_p99_us", "lat_p999_us"],
        "C": ["delivery_per_s"], "D": ["kib_per_conn_rss"], "E": ["replay_all_ms"]}
for scen in dict.fromkeys(r["scenario"] for r in runs):
    res["scenarios"][scen] = {}
    for key in KEYS.get(scen, []):
        c, w = med(scen, "crbench", key), med(scen, "wsbench", key)
        if c and w:
            diff = abs(c - w) / max(c, w)
            res["scenarios"][scen][key] = {"crbench": c, "wsbench": w, "crbench_over_wsbench": c / w, "diff": diff,
                                           "agree_10pct": diff <= 0.10}
            print(f"{scen} {key}: crbench {c:,.1f}, wsbench {w:,.1f}, ratio {c / w:.3f}: "
                  f"{'agree within 10 %' if diff <= 0.10 else 'DO NOT agree within 10 %'} ({diff * 100:.1f} % apart)")
if "A" in res["scenarios"] and "publish_per_s" in res["scenarios"]["A"]:
    res["publish_per_s"] = res["scenarios"]["A"]["publish_per_s"]
clean = all(r.get("lost", 0) == 0 and r.get("duplicates", 0) == 0 and r.get("errors", 0) == 0 for r in runs)
res["all_clean"] = clean
print("lost/duplicates/errors: " + ("0 in every run" if clean else "NOT zero, see the table"))
print(f"load average: {sys.argv[3]} at start, {' '.join(res['load_average_end'])} at the end")
json.dump(res, open(sys.argv[2], "w"), indent=1)
EOF
blog "results: $OUT"
