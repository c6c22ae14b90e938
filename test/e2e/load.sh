#!/usr/bin/env bash
# A steady load on the VIP from the client VM, every request checked, until a stop file appears.
# Usage: load.sh URL WORKERS OUTDIR EXPECTED_BODY... ; touch OUTDIR/stop to end it. Each worker sends
# one request at a time on a fresh connection (Connection: close, so IPVS schedules every request)
# and writes one line per request to OUTDIR/worker-N.log: "ok BODY" or "fail WHAT".
set -u
url=$1 workers=$2 out=$3
shift 3
mkdir -p "$out"
rm -f "$out"/stop "$out"/worker-*.log

worker() {
    local log=$1 body expected ok
    while [ ! -e "$out/stop" ]; do
        if body=$(curl -sS --fail --max-time 3 -H 'Connection: close' "$url" 2>&1); then
            ok=no
            for expected in "$@"; do [ "$body" = "$expected" ] && ok=yes; done
            if [ "$ok" = yes ]; then echo "ok $body"; else echo "fail unexpected body: $body"; fi
        else
            echo "fail ${body//$'\n'/ }"
        fi
    done >"$log"
}

date +%s.%N >"$out/started"
for i in $(seq "$workers"); do worker "$out/worker-$i.log" "$@" & done
wait
date +%s.%N >"$out/stopped"
