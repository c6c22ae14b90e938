#!/usr/bin/env bash
# A steady load on the VIP from the client VM, every request checked, until a stop file appears.
# Usage: load.sh URL WORKERS OUTDIR EXPECTED_BODY... ; touch OUTDIR/stop to end it.
# Each worker runs curl on batches of 20 requests, each on a fresh connection (Connection: close, so
# IPVS schedules every request), at most 5 a second: enough to show a one-second outage as failures,
# while the emulated VMs leave the lab's two cores to the change under test (unpaced, 3 workers ran
# 19-37 requests/s and kept the cores busy), and writes one line per request to OUTDIR/worker-N.log:
# "ok BODY" or "fail WHAT" (a failure with its time and the client's port, to match it against the
# hosts' logs; curl -N writes each reply as it ends, so the time is the request's end, not its batch's).
# A request fails when it is not connected within 3 s (a SYN and its retry a second later both
# lost), when it is not answered whole within 10 s, or with anything but 200 and an expected body. A
# right answer that took over 3 s is not a failure but slow: it is also written to OUTDIR/slow-N.log
# ("slow TIME port PORT SECONDS"). Apache's graceful reload for a new Listen port leaves its accepted
# connections waiting while it reads its config again: up to 1.2 and 2.1 s in two lab runs of day 2's
# first up, and on CI's slower machine one went past the 3 s that used to be the whole request's limit.
# Meanwhile tcpdump writes every SYN-ACK the client receives to OUTDIR/synacks.log, with its source
# MAC: in direct routing the real server answers the SYN itself, so a failed request's port names the
# host that took its connection (a router's MAC for a real server behind it).
set -u
url=$1 workers=$2 out=$3
shift 3
mkdir -p "$out"
rm -f "$out"/stop "$out"/stopped "$out"/worker-*.log "$out"/slow-*.log "$out"/synacks.log
SLOW=3

check_replies() {
    local line body="" expected ok
    while IFS= read -r line; do
        if [[ $line == "|"* ]]; then
            # "|STATUS|LOCAL_PORT|curl's error message": the end of one request. curl's -w text
            # starts on a line of its own (a body cut short has no newline of its own), so the
            # body's own final newline is one line too many.
            body=${body%$'\n'}
            local status port secs err
            IFS='|' read -r _ status port secs err <<<"$line"
            ok=no
            if [ "$status" = 200 ]; then
                for expected in "$@"; do [ "$body" = "$expected" ] && ok=yes; done
            fi
            if [ "$ok" = yes ]; then
                echo "ok $body"
                [ "${secs%.*}" -lt "$SLOW" ] || printf 'slow %(%T)T port %s %s\n' -1 "$port" "$secs" >&3
            else
                printf 'fail %(%T)T port %s status %s, %s: %s\n' -1 "$port" "$status" "$err" "${body//$'\n'/ }"
            fi
            body=""
        else
            body=${body:+$body$'\n'}$line
        fi
    done
}

worker() {
    local urls=() i
    for i in $(seq 20); do urls+=("$url"); done
    while [ ! -e "$out/stop" ]; do
        curl -s -N --rate 5/s --connect-timeout 3 --max-time 10 -H 'Connection: close' \
            -w '\n|%{http_code}|%{local_port}|%{time_total}|%{errormsg}\n' "${urls[@]}"
    done | check_replies "$@"
}

# The URL's port (80 unless it names one).
hostport=${url#*://}
hostport=${hostport%%/*}
port=80
[[ $hostport != *:* ]] || port=${hostport##*:}
tcpdump -i eth1 -l -nn -e -tt "tcp src port $port and tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)" \
    >"$out/synacks.log" 2>/dev/null &
capture=$!

date +%s.%N >"$out/started"
pids=()
for i in $(seq "$workers"); do
    worker "$@" >"$out/worker-$i.log" 3>"$out/slow-$i.log" &
    pids+=("$!")
done
wait "${pids[@]}"
kill "$capture" 2>/dev/null
wait "$capture" 2>/dev/null
date +%s.%N >"$out/stopped"
