#!/usr/bin/env bash
# A probe for `npm run bench -- --pair`, run on the client VM: one request to URL every 0.1 s (each on
# a new connection, at most 0.5 s), one line per request, "START_TIME ok|fail", until STOP_FILE
# appears; then `bench-probe.sh --window LOG` prints the outage the client saw, on its own clock:
# seconds from the first failed request to the start of the first request served after the last
# failure (0 when none failed, -1 when none was served after a failure).
# Usage: bench-probe.sh URL LOG STOP_FILE | bench-probe.sh --window LOG
set -u
if [ "$1" = --window ]; then
    awk '
        $2 == "fail" { if (first == "") first = $1; last = NR; end = "" }
        $2 == "ok" && first != "" && end == "" && NR > last { end = $1 }
        END {
            if (first == "") print 0
            else if (end == "") print -1
            else printf "%.2f\n", end - first
        }' "$2"
    exit 0
fi
url=$1 log=$2 stop=$3
rm -f "$stop"
: >"$log"
while [ ! -e "$stop" ]; do
    start=$(date +%s.%N)
    if curl -s --fail -m 0.5 -o /dev/null -H 'Connection: close' "$url"; then
        echo "$start ok"
    else
        echo "$start fail"
    fi >>"$log"
    sleep 0.1
done
