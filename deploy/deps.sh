#!/bin/sh
# deploy/deps.sh — installs, on Debian 12, only the packages callrelay needs that are missing.
#
#   sh deploy/deps.sh             everything: build, run, test, fuzz, load balancer
#   sh deploy/deps.sh --runtime   what `sh deploy/run.sh` needs: build tools, libraries, redis
#   sh deploy/deps.sh --test      --runtime plus what `make test` needs; then `npm ci` in tests/
#                                 when tests/package-lock.json exists
#   sh deploy/deps.sh --docker    what `make test-docker` needs (docker.io, debootstrap,
#                                 docker-compose); no daemon is started or enabled
#   add --dry-run to print what is missing and install nothing (no root needed)
#
# Idempotent: a second run finds nothing missing and changes nothing. Installing
# never starts a service (redis-server, haproxy): a policy-rc.d that refuses every start is in
# place while apt runs, and removed afterwards. deploy/run.sh starts its own redis-server.
set -eu

RUNTIME_PKGS="build-essential pkg-config libwebsockets-dev libwebsockets-evlib-uv libhiredis-dev
 libjansson-dev libcurl4-openssl-dev libuv1-dev libssl-dev libjemalloc-dev redis-server redis-tools curl
 ca-certificates"
TEST_PKGS="libcmocka-dev python3-pytest python3-pytest-xdist python3-websockets python3-requests python3-redis
 python3-jsonschema python3-yaml haproxy clang libclang-rt-14-dev clang-format kamailio
 kamailio-utils-modules kamailio-extra-modules sip-tester chromium"
DOCKER_PKGS="docker.io debootstrap docker-compose"
EXTRA_PKGS=""

mode=all
dry_run=0
for arg in "$@"; do
    case "$arg" in
    --runtime) mode=runtime ;;
    --test) mode="test" ;;
    --docker) mode=docker ;;
    --dry-run) dry_run=1 ;;
    -h | --help)
        sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "deps.sh: unknown option '$arg' (use --runtime, --test, --dry-run)" >&2
        exit 2
        ;;
    esac
done

case "$mode" in
runtime) wanted="$RUNTIME_PKGS" ;;
test) wanted="$RUNTIME_PKGS $TEST_PKGS" ;;
docker) wanted="$DOCKER_PKGS" ;;
all) wanted="$RUNTIME_PKGS $TEST_PKGS $EXTRA_PKGS" ;;
esac
# Node.js only for the browser tests, and only when no node is on PATH (one may come from
# elsewhere; Debian's npm would then conflict with it).
if { [ "$mode" = test ] || [ "$mode" = all ]; } && ! command -v node >/dev/null 2>&1; then
    wanted="$wanted nodejs npm"
fi

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=""
for p in $wanted; do
    installed "$p" || missing="$missing $p"
done
missing=${missing# }

here=$(cd "$(dirname "$0")/.." && pwd)

if [ -z "$missing" ]; then
    echo "deps.sh: nothing missing ($mode)"
elif [ "$dry_run" = 1 ]; then
    echo "deps.sh: missing ($mode): $missing"
else
    if [ "$(id -u)" != 0 ]; then
        echo "deps.sh: missing packages: $missing" >&2
        echo "deps.sh: run as root (e.g. sudo sh deploy/deps.sh${1:+ $*}) to install them" >&2
        exit 1
    fi
    echo "deps.sh: installing ($mode): $missing"
    # Refuse service starts while apt runs (Debian's postinst scripts ask invoke-rc.d first).
    policy=/usr/sbin/policy-rc.d
    made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        made_policy=1
    fi
    cleanup() { if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi; }
    trap cleanup EXIT
    trap 'cleanup; exit 130' INT TERM
    export DEBIAN_FRONTEND=noninteractive
    # A fresh image has no package lists; an old list may lack a security update's version.
    apt-get update -qq
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    apt-get install -y -qq --no-install-recommends $missing
    cleanup
    made_policy=0
    trap - EXIT INT TERM
fi

if [ "$mode" = test ] && [ -f "$here/tests/package-lock.json" ]; then
    if [ "$dry_run" = 1 ]; then
        echo "deps.sh: would run npm ci in tests/"
    else
        echo "deps.sh: npm ci in tests/"
        (cd "$here/tests" && npm ci --no-audit --no-fund)
    fi
fi
