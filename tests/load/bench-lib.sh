# tests/load/bench-lib.sh — sourced by bench.sh, compare.sh and crbench-check.sh.
#
# Starts and stops the systems under test by PID (never by name), each on a free loopback
# port, and runs crbench's scenarios against them:
#   callrelay        build/callrelay + its own redis-server (AOF everysec, unix socket, as deploy/run.sh)
#   nchan-memory     nginx-light + libnginx-mod-nchan, memory storage
#   nchan-redis      the same with nchan_use_redis and redis-server --appendonly yes --appendfsync everysec
# The nginx configuration is ../shared/bench/nchan/nginx-{memory,redis}.conf, filled in here the
# way ../shared/bench/run-nchan.sh fills it in (14-day message timeout, buffer 20000, shm 1024M).
#
# The caller sets ROOT (the project root) and WORK (a scratch directory) before sourcing.

PY=/usr/bin/python3
STOP_RC=0
SHARED_BENCH=${SHARED_BENCH:-$ROOT/../shared/bench}
CRBENCH=${CRBENCH:-$ROOT/build/crbench}
CALLRELAY_BIN=${CALLRELAY_BIN:-$ROOT/build/callrelay}
NCHAN_SO=${NCHAN_SO:-/usr/lib/nginx/modules/ngx_nchan_module.so}
: "${WORKERS:=auto}" "${SHM:=1024M}"

blog() { echo "bench: $*" >&2; }
bdie() { blog "$*"; exit 1; }
START_ERROR=""
bfail() { START_ERROR=$*; blog "$*"; return 1; } # the start functions return 1 through this

# wait_http URL PID WHAT [GREP]: until URL answers 2xx (and its body matches GREP) within
# START_WAIT seconds (default 30), each try bounded to 2 s; on failure, diagnostics go to $WORK.
: "${START_WAIT:=30}"
wait_http() {
    local url=$1 pid=$2 what=$3 pat=${4:-} until=$(( $(date +%s) + START_WAIT )) body
    while :; do
        if body=$(curl -sf --max-time 2 "$url" 2>/dev/null) && { [ -z "$pat" ] || grep -q "$pat" <<<"$body"; }; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        [ "$(date +%s)" -lt "$until" ] || break
        sleep 0.1
    done
    local diag; diag=$WORK/diag-$what-$(date +%s).txt
    { echo "== $url"; curl -sv --max-time 3 "$url" 2>&1; echo "== listeners"; ss -ltnp 2>&1
      echo "== pid $pid"; ps -o pid,stat,pcpu,etime,args -p "$pid" 2>&1; } >"$diag"
    blog "diagnostics in $diag"
    return 1
}

# A free TCP port on 127.0.0.1 (the kernel's pick; nothing else listens there between this and our bind).
free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_gone() { # PID SECONDS
    local pid=$1 n=$(( $2 * 10 ))
    while kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    ! kill -0 "$pid" 2>/dev/null
}

# stop_pid PID [CHILDREN...]: SIGTERM to PID, wait up to 15 s, then SIGKILL to the given children and PID
stop_pid() {
    local pid=$1; shift
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 15; then
        blog "pid $pid did not stop in 15 s; SIGKILL"
        local c; for c in "$@"; do kill -KILL "$c" 2>/dev/null || true; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    STOP_RC=0; wait "$pid" 2>/dev/null || STOP_RC=$?
}

# ------------------------------------------------------------------ redis
REDIS_PID=""; REDIS_DIR=""; REDIS_PORT=""; REDIS_SOCK=""
start_redis() { # start_redis TAG unix|tcp — always AOF everysec, no RDB snapshots
    REDIS_DIR=$WORK/redis-$1
    rm -rf "$REDIS_DIR"; mkdir -p "$REDIS_DIR"
    local args=(--dir "$REDIS_DIR" --save '' --appendonly yes --appendfsync everysec --daemonize no
                --logfile "$REDIS_DIR/redis.log" --maxclients 10000)
    if [ "$2" = unix ]; then
        REDIS_SOCK=$REDIS_DIR/redis.sock; REDIS_PORT=""
        args+=(--port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 700)
    else
        REDIS_PORT=$(free_port); REDIS_SOCK=""
        args+=(--port "$REDIS_PORT" --bind 127.0.0.1)
    fi
    redis-server "${args[@]}" >/dev/null 2>&1 &
    REDIS_PID=$!
    local until=$(( $(date +%s) + START_WAIT ))
    until if [ -n "$REDIS_SOCK" ]; then timeout 2 redis-cli -s "$REDIS_SOCK" ping; else timeout 2 redis-cli -p "$REDIS_PORT" ping; fi >/dev/null 2>&1; do
        { [ "$(date +%s)" -lt "$until" ] && kill -0 "$REDIS_PID" 2>/dev/null; } ||
            { bfail "redis-server did not start: $(tail -n 3 "$REDIS_DIR/redis.log")"; return 1; }
        sleep 0.1
    done
}
stop_redis() {
    stop_pid "$REDIS_PID"; REDIS_PID=""
    if [ -n "$REDIS_DIR" ]; then # keep /tmp small; the log stays
        rm -rf "$REDIS_DIR/appendonlydir" "$REDIS_DIR"/*.rdb
    fi
    REDIS_DIR=""; REDIS_PORT=""; REDIS_SOCK=""
}

# ------------------------------------------------------------------ callrelay
CR_PID=""; CR_PORT=""; CR_TOKEN=""
start_callrelay() { # start_callrelay TAG — its own redis (unix socket, AOF everysec), production settings
    # but the rate limit per integration (1000/s by default): one integration posts all the load
    start_redis "$1" unix || return 1
    CR_PORT=$(free_port)
    CALLRELAY_LISTEN=127.0.0.1:$CR_PORT CALLRELAY_REDIS_URL=unix://$REDIS_SOCK \
    CALLRELAY_RATE_LIMIT=${CALLRELAY_RATE_LIMIT:-100000000} CALLRELAY_ADMIN_TOKEN=bench-admin CALLRELAY_TICKET_SECRET=bench-ticket-secret-0123456789abcdef \
        "$CALLRELAY_BIN" >"$WORK/callrelay-$1.log" 2>"$WORK/callrelay-$1.err" &
    CR_PID=$!
    wait_http "http://127.0.0.1:$CR_PORT/readyz" "$CR_PID" "callrelay-$1" ||
        { bfail "callrelay did not become ready in $START_WAIT s: $(tail -n 3 "$WORK/callrelay-$1.err")"; return 1; }
}
# provision_callrelay PREFIX N: integration "bench" (native adapter) and users PREFIX0..PREFIX(N-1),
# the users over 16 keep-alive connections with crbench itself (--tabs 0: publish only)
provision_callrelay() {
    local out
    out=$(curl -sf --max-time 10 -H 'Authorization: Bearer bench-admin' -H 'Content-Type: application/json' \
          --data '{"name":"bench","adapter":"native","settings":{}}' "http://127.0.0.1:$CR_PORT/v1/integration/create") ||
        { bfail "integration create failed"; return 1; }
    CR_TOKEN=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$out")
    out=$("$CRBENCH" run --label provision --pub-url "http://127.0.0.1:$CR_PORT/v1/users/create" \
          --body '{"extension":"{user}"}' --user-prefix "$1" --users "$2" --events "$2" --tabs 0 --settle 0 \
          --conns $(( $2 < 16 ? $2 : 16 )) \
          --pub-header "Authorization: Bearer $CR_TOKEN" --ack-match '"code":0' --timeout 120) || { bfail "provisioning failed"; return 1; }
    case $out in *'"ok":true'*) ;; *) bfail "provisioning users failed: $out"; return 1 ;; esac
}
cr_pids() { # the broker and, with CALLRELAY_WORKERS > 1, its worker processes (children by parent pid)
    local p=$CR_PID w
    for w in $(pgrep -P "$CR_PID" 2>/dev/null || true); do p="$p,$w"; done
    echo "$p"
}
stop_callrelay() {
    [ -n "$CR_PID" ] || { stop_redis; return 0; }
    local workers; workers=$(pgrep -P "$CR_PID" 2>/dev/null || true)
    # shellcheck disable=SC2086
    stop_pid "$CR_PID" $workers; CR_PID=""
    stop_redis
}

# ------------------------------------------------------------------ nchan
NGINX_PID=""; NGINX_PREFIX=""; NCHAN_PORT=""
nginx_pids() { # master and workers, comma separated (workers are the master's children, by parent pid)
    local p=$NGINX_PID w
    for w in $(pgrep -P "$NGINX_PID" 2>/dev/null || true); do p="$p,$w"; done
    echo "$p"
}
start_nchan() { # start_nchan memory|redis TAG
    [ -f "$NCHAN_SO" ] || bdie "$NCHAN_SO missing: apt-get install nginx-light libnginx-mod-nchan"
    if [ "$1" = redis ]; then start_redis "$2" tcp || return 1; fi
    NGINX_PREFIX=$WORK/nginx-$2
    rm -rf "$NGINX_PREFIX"; mkdir -p "$NGINX_PREFIX/tmp"
    NCHAN_PORT=$(free_port)
    local nofile wconn
    nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=1048576
    [ "$nofile" -gt 1048576 ] && nofile=1048576
    wconn=$(( nofile - 256 ))
    sed -e "s|@PREFIX@|$NGINX_PREFIX|g" -e "s|@NCHAN_SO@|$NCHAN_SO|g" -e "s|@WORKERS@|$WORKERS|g" \
        -e "s|@NOFILE@|$nofile|g" -e "s|@WCONN@|$wconn|g" -e "s|@SHM@|$SHM|g" \
        -e "s|@PORT@|$NCHAN_PORT|g" -e "s|@REDIS_PORT@|${REDIS_PORT:-0}|g" \
        "$SHARED_BENCH/nchan/nginx-$1.conf" >"$NGINX_PREFIX/nginx.conf"
    nginx -p "$NGINX_PREFIX" -c "$NGINX_PREFIX/nginx.conf" 2>>"$NGINX_PREFIX/stderr.log" &
    NGINX_PID=$!
    wait_http "http://127.0.0.1:$NCHAN_PORT/nchan_status" "$NGINX_PID" "nginx-$2" ||
        { bfail "nginx did not start: $(tail -n 3 "$NGINX_PREFIX/stderr.log" "$NGINX_PREFIX/error.log" 2>/dev/null)"; return 1; }
    if [ "$1" = redis ]; then # nchan connects to redis lazily
        wait_http "http://127.0.0.1:$NCHAN_PORT/nchan_status" "$NGINX_PID" "nchan-redis-$2" 'redis connected servers: [1-9]' ||
            { bfail "nchan did not connect to redis"; return 1; }
    fi
}
stop_nchan() {
    [ -n "$NGINX_PID" ] || { stop_redis; return 0; }
    local workers; workers=$(pgrep -P "$NGINX_PID" 2>/dev/null || true)
    # shellcheck disable=SC2086
    stop_pid "$NGINX_PID" $workers; NGINX_PID=""
    stop_redis
}

# ------------------------------------------------------------------ systems
# start_system SYSTEM TAG USERS: starts it, provisions USERS users where needed, and sets the
# crbench templates: SYS_ARGS (array), REPLAY_ARGS (array), SERVER_PIDS, AUX_PIDS.
# Returns 1 (START_ERROR says why) if it could not; the caller then calls stop_system.
SYS_ARGS=(); REPLAY_ARGS=(); SERVER_PIDS=""; AUX_PIDS=""; CUR_SYSTEM=""
: "${PAD:=150}"
start_system() {
    CUR_SYSTEM=$1; START_ERROR=""
    case $1 in
    callrelay)
        start_callrelay "$2" || return 1
        provision_callrelay ext "$3" || return 1
        local base=127.0.0.1:$CR_PORT
        # a native call event; the mark sits in crm_contact_id, so it travels inside the stored
        # event and nowhere else (call_id and line also appear in a register answer's calls)
        SYS_ARGS=(--user-prefix ext
            --sub-url "ws://$base/v1/ws?token=$CR_TOKEN&extension={user}"
            --first-frame '{"op":"register","limit":100}' --ready-on '"op":"register"'
            --page-reply '"op":"register"' --page-end '"code":109'
            --pub-url "http://$base/v1/hooks/bench/native" --pub-header "Authorization: Bearer $CR_TOKEN"
            --ack-match '"accepted":1'
            --body '{"kind":"call","user":"{user}","call_id":"r{run}-{gseq}","call":{"state":"appeared","direction":"inbound","from":{"number":"+15550100200"},"to":{"extension":"{user}"},"line":"bench","crm_contact_id":"{mark}","campaign":"{pad}"}}')
        REPLAY_ARGS=()   # register pages through everything the user missed
        SERVER_PIDS=$(cr_pids); AUX_PIDS=$REDIS_PID ;;
    nchan-memory|nchan-redis)
        start_nchan "${1#nchan-}" "$2" || return 1
        local base=127.0.0.1:$NCHAN_PORT
        SYS_ARGS=(--user-prefix u
            --sub-url "ws://$base/sub/{user}" --pub-url "http://$base/pub/{user}"
            --body '{"crb":"{mark}","kind":"call","call_id":"r{run}-{gseq}","state":"appeared","direction":"in","from":"+15550100200","to":"{user}","line":"bench","pad":"{pad}"}')
        REPLAY_ARGS=(--sub-url "ws://$base/sub/{user}?last_event_id=0:0")   # from the oldest buffered message
        SERVER_PIDS=$(nginx_pids); AUX_PIDS=${REDIS_PID:-} ;;
    *) bdie "unknown system $1" ;;
    esac
}
stop_system() {
    case $CUR_SYSTEM in
    callrelay) stop_callrelay ;;
    nchan-*) stop_nchan ;;
    esac
    CUR_SYSTEM=""
}
stop_all() { stop_callrelay; stop_nchan; }

# ------------------------------------------------------------------ scenarios
# Sizes as in ../shared/bench/scenarios.sh; QUICK=1 is a smoke run of the harness.
: "${QUICK:=0}"
if [ "$QUICK" = 1 ]; then
    : "${A_EVENTS:=10000}" "${B_SECONDS:=5}" "${C_EVENTS:=5000}" "${D_CONNS:=2000}" "${D_HOLD:=2}" "${E_EVENTS:=2000}"
fi
: "${A_USERS:=1000}" "${A_EVENTS:=100000}" "${A_CONNS:=16}"
: "${B_USERS:=1000}" "${B_RATE:=2000}" "${B_SECONDS:=20}" "${B_CONNS:=16}"
: "${C_USERS:=100}" "${C_TABS:=5}" "${C_EVENTS:=50000}" "${C_CONNS:=16}"
: "${D_CONNS:=20000}" "${D_HOLD:=5}"
: "${E_EVENTS:=10000}" "${E_CONNS:=16}"

scenario_users() { # how many users a scenario needs
    case $1 in A) echo "$A_USERS" ;; B) echo "$B_USERS" ;; C) echo "$C_USERS" ;; D) echo "$D_CONNS" ;; E) echo 1 ;; esac
}

# crb_scenario S: one JSON line from crbench for scenario S against the running system
crb_scenario() {
    local common=(--server-pids "$SERVER_PIDS" --pad "$PAD" --label "$1")
    [ -n "$AUX_PIDS" ] && common+=(--aux-pids "$AUX_PIDS")
    case $1 in
    A) "$CRBENCH" run "${SYS_ARGS[@]}" "${common[@]}" --users "$A_USERS" --tabs 1 --events "$A_EVENTS" --conns "$A_CONNS" --timeout 300 ;;
    B) "$CRBENCH" run "${SYS_ARGS[@]}" "${common[@]}" --users "$B_USERS" --tabs 1 --events $(( B_RATE * B_SECONDS )) \
           --rate "$B_RATE" --conns "$B_CONNS" --timeout $(( B_SECONDS + 120 )) ;;
    C) "$CRBENCH" run "${SYS_ARGS[@]}" "${common[@]}" --users "$C_USERS" --tabs "$C_TABS" --events "$C_EVENTS" --conns "$C_CONNS" --timeout 300 ;;
    D) "$CRBENCH" idle "${SYS_ARGS[@]}" "${common[@]}" --users "$D_CONNS" --tabs 1 --hold "$D_HOLD" --connect-timeout 10 --timeout 300 ;;
    E) "$CRBENCH" run "${SYS_ARGS[@]}" "${REPLAY_ARGS[@]}" "${common[@]}" --replay --users 1 --tabs 1 \
           --events "$E_EVENTS" --conns "$E_CONNS" --drain 10 --timeout 300 ;;
    *) bdie "unknown scenario $1" ;;
    esac
}
