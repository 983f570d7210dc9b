#!/usr/bin/env bash
# tests/load/crbench-check.sh — `make crbench-check`: crbench against cases with a known answer.
#
#   1. crbench selftest (SHA-1, accept key, frame coding, marks, HTTP parsing, loopback-only URLs)
#   2. tests/load/stub_broker.py with injected faults: every counter must come out exactly
#   3. callrelay (build/callrelay + its own redis), and Nchan with memory storage when installed
# About 15 s. Prints one line per case and exits non-zero if any case fails.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -z "${BENCH_BOUNDED:-}" ]; then
    BENCH_BOUNDED=1 exec timeout -k 20 300 bash "$0" "$@"
fi
WORK=$(mktemp -d /tmp/crbench-check.XXXXXX)
# shellcheck source=bench-lib.sh
source "$ROOT/tests/load/bench-lib.sh"
[ -x "$CRBENCH" ] || bdie "$CRBENCH missing: make build/crbench"
STUB_PID=""; FAILS=0; CASES=0
cleanup() { stop_pid "$STUB_PID"; stop_all; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# expect NAME JSON 'python expression over d' ...: every expression must be true
expect() {
    local name=$1 json=$2; shift 2
    CASES=$((CASES + 1))
    if "$PY" - "$json" "$@" <<'EOF'
import json, sys
try:
    d = json.loads(sys.argv[1])
except ValueError:
    print("    no JSON: %r" % sys.argv[1][:300]); sys.exit(1)
bad = [e for e in sys.argv[2:] if not eval(e, {}, {"d": d})]
for e in bad:
    print("    failed: %s" % e)
if bad:
    print("    got: " + json.dumps({k: v for k, v in d.items() if not isinstance(v, float) or k.endswith("_ms")}))
sys.exit(1 if bad else 0)
EOF
    then echo "ok   $name"; else echo "FAIL $name"; FAILS=$((FAILS + 1)); fi
}

stub() { # stub ARGS...: (re)start the stub broker on a free port
    stop_pid "$STUB_PID"
    STUB_PORT=$(free_port)
    "$PY" "$ROOT/tests/load/stub_broker.py" "$STUB_PORT" "$@" 2>>"$WORK/stub.err" &
    STUB_PID=$!
    local n=50
    until curl -sf --max-time 2 "http://127.0.0.1:$STUB_PORT/stats" >/dev/null 2>&1; do
        n=$((n - 1)); [ $n -gt 0 ] || bdie "stub broker did not start"; sleep 0.1
    done
}
stub_stats() { curl -sf --max-time 5 "http://127.0.0.1:$STUB_PORT/stats"; }
SBODY='{"e":"{mark}","u":"{user}","pad":"{pad}"}'
srun() { # crbench against the stub
    "$CRBENCH" run --sub-url "ws://127.0.0.1:$STUB_PORT/sub/{user}" --pub-url "http://127.0.0.1:$STUB_PORT/pub/{user}" \
        --body "$SBODY" --pad 20 --settle 0.2 --drain 1 --close-wait 0.5 --timeout 60 "$@" 2>>"$WORK/crbench.err"
}

echo "== crbench selftest"
CASES=$((CASES + 1))
if "$CRBENCH" selftest >"$WORK/selftest.out"; then echo "ok   selftest ($(grep -c ' ok$' "$WORK/selftest.out") checks)"
else cat "$WORK/selftest.out"; echo "FAIL selftest"; FAILS=$((FAILS + 1)); fi

CASES=$((CASES + 1))
if out=$("$CRBENCH" run --pub-url http://10.0.0.1:80/pub --body '{mark}' --tabs 0 2>&1); then
    echo "FAIL non-loopback target accepted"; FAILS=$((FAILS + 1))
else case $out in *refusing*) echo "ok   non-loopback target refused: ${out#crbench: }" ;;
     *) echo "FAIL non-loopback: $out"; FAILS=$((FAILS + 1)) ;; esac; fi

echo "== stub broker with injected faults"
stub
expect "stub: 10 users x 2 tabs, 1000 events: all delivered once" "$(srun --users 10 --tabs 2 --events 1000 --conns 4)" \
    'd["ok"]' 'd["acked"] == 1000' 'd["expected"] == 2000' 'd["delivered"] == 2000' 'd["lost"] == 0' 'd["duplicates"] == 0' \
    'd["close_ok"] == 20'
expect "stub: 1 user, 100 events: 0 lost" "$(srun --users 1 --tabs 1 --events 100 --conns 2)" \
    'd["ok"]' 'd["delivered"] == 100' 'd["lost"] == 0'
expect "stub: every subscriber on the wrong user: misrouted = lost = 100" \
    "$(srun --users 2 --tabs 1 --events 100 --conns 2 --user-shift 1)" \
    'not d["ok"]' 'd["misrouted"] == 100' 'd["lost"] == 100' 'd["delivered"] == 0' 'd["expected"] == 100'
stub --dup-every 10
expect "stub: every 10th event delivered twice to 3 tabs: 3 x 30 = 90 duplicates" \
    "$(srun --users 5 --tabs 3 --events 300 --conns 4)" 'd["duplicates"] == 90' 'd["lost"] == 0' 'd["delivered"] == 900'
stub --drop-every 7
expect "stub: every 7th event acked but dropped, 2 tabs: 2 x 42 = 84 lost" \
    "$(srun --users 3 --tabs 2 --events 300 --conns 4)" 'd["lost"] == 84' 'd["duplicates"] == 0' 'd["delivered"] == 516'
stub --reject-every 5
expect "stub: every 5th publish answered 500: 60 errors, not expected, 0 lost" \
    "$(srun --users 4 --tabs 1 --events 300 --conns 4)" 'd["rejected"] == 60' 'd["acked"] == 240' 'd["expected"] == 240' \
    'd["lost"] == 0' 'd["unacked_delivered"] == 0'
stub --frag 17 --ping --chunked --close-every 50
expect "stub: fragmented frames, a ping before each, chunked answers, Connection: close every 50th" \
    "$(srun --users 5 --tabs 2 --events 500 --conns 4)" 'd["ok"]' 'd["delivered"] == 1000' 'd["pings"] == 1000' \
    'd["pub_reconnects"] == 10' 'd["errors"] == 0'
expect "stub: ... and the stub saw masked frames only, one pong per ping with its payload" "$(stub_stats)" \
    'd["pongs"] == 1000' 'd["pong_mismatch"] == 0' 'd["unmasked"] == 0' 'd["client_closes"] == 10'
stub
expect "stub: paged replay, 1 user, 250 missed events, limit 100, fragmented register frames" \
    "$(srun --replay --users 1 --tabs 1 --events 250 --conns 4 --first-frame '{"op":"register","limit":100}' \
        --ready-on '"op":"register"' --page-reply '"op":"register"' --page-end '"code":109' --send-frag 5)" \
    'd["ok"]' 'd["delivered"] == 250' 'd["pages"] == 4' 'd["pages_done"] == 1' 'd["replay_all_ms"] > 0'
expect "stub: ... the register frames arrived fragmented (4 frames x 6 fragments)" "$(stub_stats)" \
    'd["registers"] == 4' 'd["client_fragments"] == 24'
expect "stub: idle: 300 websockets over 2 processes" \
    "$("$CRBENCH" idle --sub-url "ws://127.0.0.1:$STUB_PORT/sub/{user}" --users 300 --procs 2 --hold 0.5 --idle-settle 0.2 --server-pids "$STUB_PID" 2>>"$WORK/crbench.err")" \
    'd["ok"]' 'd["established"] == 300' 'd["procs"] == 2' 'd["kib_per_conn_rss"] > 0'
stub --stall
t0=$(date +%s)
expect "stub: a broker that never answers: the hard --timeout ends the run" \
    "$(srun --users 1 --tabs 1 --events 10 --conns 2 --timeout 2)" 'd["timed_out"]' 'd["acked"] == 0' 'not d["ok"]'
[ $(( $(date +%s) - t0 )) -le 5 ] || { echo "FAIL the timed-out run took $(( $(date +%s) - t0 )) s"; FAILS=$((FAILS + 1)); }
stop_pid "$STUB_PID"; STUB_PID=""

if [ -x "$CALLRELAY_BIN" ]; then
    echo "== callrelay ($CALLRELAY_BIN)"
    start_system callrelay check 40 || bdie "callrelay could not be started"
    expect "callrelay: 1 user, 100 events: 0 lost, 0 duplicates" \
        "$("$CRBENCH" run "${SYS_ARGS[@]}" --users 1 --tabs 1 --events 100 --conns 4 --settle 0.2 --timeout 60)" \
        'd["ok"]' 'd["delivered"] == 100' 'd["lost"] == 0' 'd["duplicates"] == 0'
    expect "callrelay: 2 users, each subscriber on the other user: misrouted = lost = 100" \
        "$("$CRBENCH" run "${SYS_ARGS[@]}" --users 2 --tabs 1 --events 100 --conns 4 --user-shift 1 --settle 0.2 --drain 1 --timeout 60)" \
        'd["misrouted"] == 100' 'd["lost"] == 100' 'd["delivered"] == 0'
    expect "callrelay: paged replay of 250 missed events (user ext30), limit 100: 3 pages + code 109" \
        "$("$CRBENCH" run "${SYS_ARGS[@]}" --replay --users 1 --tabs 1 --events 250 --conns 4 --user-prefix ext3 --timeout 60)" \
        'd["ok"]' 'd["delivered"] == 250' 'd["pages"] == 4' 'd["pages_done"] == 1' 'd["foreign"] == 0' 'd["replay_all_ms"] > 0'
    WRONG=()
    for a in "${SYS_ARGS[@]}"; do case $a in "Authorization: Bearer "*) WRONG+=("Authorization: Bearer wrong") ;; *) WRONG+=("$a") ;; esac; done
    expect "callrelay: a wrong publish token: 50 events refused (401), none expected" \
        "$("$CRBENCH" run "${WRONG[@]}" --users 1 --tabs 1 --events 50 --conns 2 --settle 0.2 --drain 0.5 --timeout 60 2>>"$WORK/crbench.err")" \
        'd["rejected"] == 50' 'd["expected"] == 0' 'd["lost"] == 0' 'd["unacked_delivered"] == 0'
    stop_system
else
    echo "== callrelay: $CALLRELAY_BIN missing, skipped"
fi

if [ "$(id -u)" = 0 ] && command -v nginx >/dev/null && [ -f "$NCHAN_SO" ]; then
    echo "== Nchan, memory storage"
    start_system nchan-memory check 1 || bdie "nginx could not be started"
    expect "nchan: 1 user, 100 events: 0 lost" \
        "$("$CRBENCH" run "${SYS_ARGS[@]}" --users 1 --tabs 1 --events 100 --conns 4 --settle 0.2 --timeout 60)" \
        'd["ok"]' 'd["delivered"] == 100'
    expect "nchan: replay of 250 missed events with last_event_id=0:0" \
        "$("$CRBENCH" run "${SYS_ARGS[@]}" "${REPLAY_ARGS[@]}" --replay --users 1 --tabs 1 --events 250 --conns 4 --user-prefix r --timeout 60)" \
        'd["ok"]' 'd["delivered"] == 250' 'd["replay_all_ms"] > 0'
    stop_system
else
    echo "== Nchan: not installed or not root, skipped"
fi

echo "$((CASES - FAILS))/$CASES cases passed"
[ "$FAILS" = 0 ]
