#!/usr/bin/env bash
# tests/load/callgrind.sh — instructions per event (ingest + delivery), counted by
# valgrind --tool=callgrind, so that a change can be judged without a stopwatch.
#
# Runs scenario A (100 users x 1 tab) twice under callgrind with N1 and N2 events and reports
# (Ir(N2) - Ir(N1)) / (N2 - N1): start-up and provisioning cancel out. One worker.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${N1:=2000}" "${N2:=6000}"
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 1; }
OUT=$(mktemp -d /tmp/callrelay-callgrind.XXXXXX)
cat >"$OUT/wrap.sh" <<WRAP
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file=$OUT/cg.\$CG_RUN $ROOT/build/callrelay
WRAP
chmod +x "$OUT/wrap.sh"
make -s -C "$ROOT" build/callrelay
ir() {   # ir RUN EVENTS -> total instructions of the broker
    CG_RUN=$1 CALLRELAY_WORKERS=1 CALLRELAY_BIN=$OUT/wrap.sh SCENARIOS=A USERS=100 A_USERS=100 \
        A_EVENTS=$2 A_CONNS=4 PORT=${PORT:-8095} RESULTS_DIR=$OUT \
        "$ROOT/tests/load/wsbench-callrelay.sh" >"$OUT/wsbench.$1" 2>"$OUT/log.$1"
    grep -o '"lost":[0-9]*' "$OUT/wsbench.$1" | grep -q '"lost":0' || { echo "run $1 lost events" >&2; exit 1; }
    callgrind_annotate "$OUT/cg.$1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
}
export CG_RUN
# The body every figure since the first round was measured with (markers in call_id and line),
# so figures compare across changes; scenario A registers its tabs before posting, so no
# register answer repeats a call's fields. CG_BODY=current uses the bench's present body.
if [ "${CG_BODY:-}" != current ]; then
    export BODY='{"kind":"call","user":"{user}","call_id":"bench_seq:{seq} bench_ts:{ts} r{run}-{gseq}","call":{"state":"appeared","direction":"inbound","from":{"number":"+15550100200"},"to":{"extension":"{user}"},"line":"bench_user:{user}","campaign":"{pad}"}}'
fi
a=$(ir 1 "$N1")
b=$(ir 2 "$N2")
per=$(( (b - a) / (N2 - N1) ))
echo "{\"tool\":\"callgrind\",\"events_1\":$N1,\"ir_1\":$a,\"events_2\":$N2,\"ir_2\":$b,\"instructions_per_event\":$per}"
echo "callgrind.sh: $per instructions per event (ingest + delivery); profiles in $OUT" >&2
