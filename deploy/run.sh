#!/bin/sh
# deploy/run.sh — installs what is missing, builds, and runs callrelay on this machine.
#
#   sh deploy/run.sh [callrelay options...]      (also what `make run` calls)
#
# Without CALLRELAY_REDIS_URL it runs its own redis-server: AOF on (appendfsync everysec),
# listening only on a unix socket in the data directory (CALLRELAY_DATA_DIR, default ./var),
# daemonized with its pidfile there, and reused by the next run while it answers PING.
# Stop it with:  redis-cli -s var/redis.sock shutdown
# Its pub/sub output limit is raised to fit what one ingest call publishes (README, Running it).
#
# Without CALLRELAY_ADMIN_TOKEN / CALLRELAY_TICKET_SECRET it generates them once and keeps
# them in the data directory (admin_token, ticket_secret; mode 600), so they survive restarts.
#
# Knobs: CALLRELAY_SKIP_DEPS=1 skips deploy/deps.sh; CALLRELAY_BIN runs another binary
# (default build/callrelay); every CALLRELAY_* setting of the broker is passed through.
set -eu

cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf '%s\n' "run.sh: $*" >&2; }

# 1. Dependencies (only what is missing; a no-op on a machine that has them all).
if [ "${CALLRELAY_SKIP_DEPS:-0}" != 1 ]; then
    sh deploy/deps.sh --runtime >&2
fi

# 2. Build (a no-op when up to date).
bin=${CALLRELAY_BIN:-build/callrelay}
if [ -z "${CALLRELAY_BIN:-}" ]; then
    make -s build/callrelay >&2
fi
[ -x "$bin" ] || { say "no executable at $bin"; exit 1; }

# 3. Data directory: redis data, socket, pidfile, generated secrets.
data=${CALLRELAY_DATA_DIR:-$root/var}
mkdir -p "$data"
data=$(cd "$data" && pwd)
chmod 700 "$data"

# A secret read from FILE, or generated into it (32 random bytes, base64url, 43 chars).
secret_file() {
    if [ ! -s "$1" ]; then
        (
            umask 077
            head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$1.tmp"
            mv "$1.tmp" "$1"
        )
        say "generated $1"
    fi
    chmod 600 "$1"
    cat "$1"
}

# 4. Redis, unless one is given.
if [ -z "${CALLRELAY_REDIS_URL:-}" ]; then
    sock=$data/redis.sock
    pidfile=$data/redis.pid
    # A subscriber may fall this far behind (hard; soft for 60 s) before Redis drops it: one
    # ingest call publishes at most about 17 MB (one event stored for many users).
    pubsub_limit="pubsub 64mb 32mb 60"

    redis_alive() {
        [ -s "$pidfile" ] || return 1
        pid=$(cat "$pidfile")
        case "$pid" in '' | *[!0-9]*) return 1 ;; esac
        kill -0 "$pid" 2>/dev/null || return 1
        [ "$(redis-cli -s "$sock" ping 2>/dev/null)" = PONG ]
    }

    if redis_alive; then
        say "reusing redis-server (pid $(cat "$pidfile")) on $sock"
        redis-cli -s "$sock" config set client-output-buffer-limit "$pubsub_limit" >/dev/null
    else
        # A pidfile whose process is alive but whose socket does not answer: maybe still
        # loading its AOF. Give it a few seconds before starting another one.
        if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            i=0
            while [ $i -lt 30 ] && ! redis_alive; do sleep 1; i=$((i + 1)); done
        fi
        if ! redis_alive; then
            if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
                say "process $(cat "$pidfile") from $pidfile is alive but $sock does not answer"
                say "stop it, or remove $pidfile if that process is not redis-server"
                exit 1
            fi
            rm -f "$pidfile" "$sock"
            command -v redis-server >/dev/null || { say "redis-server is not installed"; exit 1; }
            redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 \
                --dir "$data" --appendonly yes --appendfsync everysec \
                --client-output-buffer-limit "$pubsub_limit" \
                --daemonize yes --pidfile "$pidfile" --logfile "$data/redis.log" \
                --supervised no >&2
            i=0
            while ! redis_alive; do
                i=$((i + 1))
                if [ $i -gt 100 ]; then
                    say "redis-server did not answer on $sock; see $data/redis.log"
                    exit 1
                fi
                sleep 0.1
            done
            say "started redis-server (pid $(cat "$pidfile")) on $sock, AOF in $data"
        fi
    fi
    CALLRELAY_REDIS_URL=unix://$sock
    export CALLRELAY_REDIS_URL
fi

# 5. Secrets.
admin_token_where="the CALLRELAY_ADMIN_TOKEN you set"
if [ -z "${CALLRELAY_ADMIN_TOKEN:-}" ]; then
    CALLRELAY_ADMIN_TOKEN=$(secret_file "$data/admin_token")
    export CALLRELAY_ADMIN_TOKEN
    admin_token_where=$data/admin_token
fi
if [ -z "${CALLRELAY_TICKET_SECRET:-}" ]; then
    CALLRELAY_TICKET_SECRET=$(secret_file "$data/ticket_secret")
    export CALLRELAY_TICKET_SECRET
fi

# 6. How to reach it.
listen=${CALLRELAY_LISTEN:-127.0.0.1:8080}
port=${listen##*:}
host=${listen%:*}
case "$host" in '' | 0.0.0.0 | '[::]' | '::') host=127.0.0.1 ;; esac
base=${CALLRELAY_PUBLIC_URL:-http://$host:$port}
base=${base%/}
case "$base" in https://*) ws_base=wss://${base#https://} ;; *) ws_base=ws://${base#http://} ;; esac
if [ "$admin_token_where" = "$data/admin_token" ]; then
    token_expr="\$(cat $data/admin_token)"
else
    token_expr="\$CALLRELAY_ADMIN_TOKEN"
fi
cat >&2 <<EOF
run.sh: callrelay on $base   (websockets: $ws_base/v1/ws)
run.sh: redis            $CALLRELAY_REDIS_URL
run.sh: admin token      $admin_token_where
run.sh: try              curl -s -H "Authorization: Bearer $token_expr" $base/v1/integration/list
run.sh: health           curl -s $base/healthz ; curl -s $base/readyz
EOF

exec "$bin" "$@"
