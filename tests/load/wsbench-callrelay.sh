#!/usr/bin/env bash
# tests/load/wsbench-callrelay.sh — runs ../shared/bench/wsbench (the independent load tool)
# against callrelay through the same scenarios as Nchan (../shared/bench/scenarios.sh).
#
#   tests/load/wsbench-callrelay.sh                 # scenarios A B C D E, one run each
#   SCENARIOS=A tests/load/wsbench-callrelay.sh
#
# Starts its own redis-server (AOF everysec, unix socket) and build/callrelay on free ports,
# provisions one integration and users ext0..extN, stops both by PID, and prints one JSON
# line per scenario (also written to $RESULTS_DIR/callrelay-wsbench-<date>.jsonl).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=${BENCH_DIR:-$ROOT/../shared/bench}
: "${SCENARIOS:=A B C D E}" "${RUNS:=1}" "${PORT:=8090}" "${RESULTS_DIR:=/tmp/callrelay-results}"
: "${CALLRELAY_BIN:=$ROOT/build/callrelay}"
PY=/usr/bin/python3
log() { echo "wsbench-callrelay: $*" >&2; }
die() { log "$*"; exit 1; }

[ -x "$CALLRELAY_BIN" ] || make -s -C "$ROOT" build/callrelay
make -s -C "$BENCH" wsbench
WSBENCH=$BENCH/wsbench
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_busy "$PORT" && die "127.0.0.1:$PORT is already in use"

WORK=$(mktemp -d /tmp/callrelay-bench.XXXXXX)
REDIS_PID=""; BROKER_PID=""
stop() { [ -n "$1" ] && kill -TERM "$1" 2>/dev/null && wait "$1" 2>/dev/null || true; }
cleanup() { stop "$BROKER_PID"; stop "$REDIS_PID"; rm -rf "$WORK/redis/appendonlydir"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

start() {
    mkdir -p "$WORK/redis"
    redis-server --port 0 --unixsocket "$WORK/redis/redis.sock" --dir "$WORK/redis" --save '' \
        --appendonly yes --appendfsync everysec --maxclients 10000 \
        --logfile "$WORK/redis/redis.log" &
    REDIS_PID=$!
    local n=50
    until redis-cli -s "$WORK/redis/redis.sock" ping >/dev/null 2>&1; do
        n=$((n - 1)); [ $n -gt 0 ] || die "redis-server did not start"; sleep 0.1
    done
    CALLRELAY_LISTEN=127.0.0.1:$PORT CALLRELAY_REDIS_URL=unix://$WORK/redis/redis.sock \
    CALLRELAY_RATE_LIMIT=${CALLRELAY_RATE_LIMIT:-100000000} CALLRELAY_ADMIN_TOKEN=bench-admin CALLRELAY_TICKET_SECRET=bench-ticket-secret-0123456789 \
        "$CALLRELAY_BIN" >"$WORK/broker.log" 2>"$WORK/broker.err" &
    BROKER_PID=$!
    n=100
    until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do
        n=$((n - 1)); [ $n -gt 0 ] || die "callrelay did not become ready: $(tail -3 "$WORK/broker.err")"
        sleep 0.1
    done
    TOKEN=$("$PY" "$ROOT/tests/load/provision.py" "http://127.0.0.1:$PORT" bench-admin bench ext "${USERS:-20000}")
}

server_pids() {   # the broker and, with CALLRELAY_WORKERS > 1, its workers
    local p=$BROKER_PID w
    for w in $(pgrep -P "$BROKER_PID" || true); do p="$p,$w"; done
    echo "$p"
}
aux_pids() { echo "$REDIS_PID"; }

USER_PREFIX=ext
SUB_TEMPLATE="ws://127.0.0.1:$PORT/v1/ws?token=@TOKEN@&extension={user}"
PUB_URL="http://127.0.0.1:$PORT/v1/hooks/bench/native"
# The markers ride in crm_contact_id: call_id and line also appear in a register answer's calls.
DEFAULT_BODY='{"kind":"call","user":"{user}","call_id":"r{run}-{gseq}","call":{"state":"appeared","direction":"inbound","from":{"number":"+15550100200"},"to":{"extension":"{user}"},"line":"bench","crm_contact_id":"bench_seq:{seq} bench_ts:{ts} bench_user:{user}","campaign":"{pad}"}}'
BODY=${BODY:-$DEFAULT_BODY}
FIRST_FRAME='{"op":"register","limit":100}'
# shellcheck source=/dev/null
source "$BENCH/scenarios.sh"

mkdir -p "$RESULTS_DIR"
OUT=$RESULTS_DIR/callrelay-wsbench-$(date +%Y-%m-%d-%H%M%S).jsonl
for s in $SCENARIOS; do
    for r in $(seq 1 "$RUNS"); do
        start
        SUB_URL=${SUB_TEMPLATE//@TOKEN@/$TOKEN}; REPLAY_SUB_URL=$SUB_URL
        WSB_EXTRA=(--page-reply '"op":"register"' --page-end '"code":109'
                   --pub-header "Authorization: Bearer $TOKEN")
        log "scenario $s run $r"
        out=$(scenario_"$s" "$r$(date +%s)" 2>"$WORK/wsbench-$s$r.err") || log "wsbench failed: $(tail -3 "$WORK/wsbench-$s$r.err")"
        [ -n "$out" ] && echo "$out" | tee -a "$OUT"
        stop "$BROKER_PID"; BROKER_PID=""; stop "$REDIS_PID"; REDIS_PID=""
        rm -rf "$WORK/redis"
    done
done
log "results: $OUT (raw files in $WORK)"
