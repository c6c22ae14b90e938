#!/usr/bin/env bash
# One real server of an IPVS service, reconciled against the live table: added when missing, edited
# in place (ipvsadm -e) when its weight or method differs. Removing it drains first: weight 0 (no
# new connections), then deletion once its live connections are gone or DRAIN_TIMEOUT passes.
# Parameters: SERVICE_ID, PROTOCOL, VIP, PORT, REAL_ADDRESS, REAL_PORT, WEIGHT, DRAIN_TIMEOUT,
# DRAIN_IDLE.

service_flag() { if [ "$PROTOCOL" = udp ]; then echo -u; else echo -t; fi; }

# The real server's ipvsadm arguments, in the order `ipvsadm -S -n` prints them.
desired_args() {
    DESIRED=(-a "$(service_flag)" "$VIP:$PORT" -r "$REAL_ADDRESS:$REAL_PORT" -g -w "$WEIGHT")
}

live_line() {
    local prefix
    prefix="-a $(service_flag) $VIP:$PORT -r $REAL_ADDRESS:$REAL_PORT "
    ipvsadm -S -n | awk -v p="$prefix" 'index($0, p) == 1 { print; exit }'
}

service_exists() {
    ipvsadm -S -n | awk -v p="-A $(service_flag) $VIP:$PORT " 'index($0 " ", p) == 1 { found = 1 } END { exit !found }'
}

# IPVS's timeout of an established TCP entry, in seconds ("Timeout (tcp tcpfin udp): 900 120 300").
tcp_timeout() { ipvsadm -L --timeout | awk '{ print $(NF - 2) }'; }

# The established connections to this real server, one "CLIENT SILENT" per line: SILENT is how long
# the director has seen no packet of it. IPVS rearms an entry's timer at every packet, so that is
# TIMEOUT (IPVS's, tcp_timeout) minus the time left (ipvsadm -Lnc prints: protocol, expires as
# [H:]MM:SS, state, source, virtual, destination).
established_connections() {
    ipvsadm -L -n -c | awk -v v="$VIP:$PORT" -v r="$REAL_ADDRESS:$REAL_PORT" -v timeout="$1" '
        $3 == "ESTABLISHED" && $5 == v && $6 == r {
            n = split($2, part, ":"); left = 0
            for (i = 1; i <= n; i++) left = left * 60 + part[i]
            print $4, timeout - left
        }'
}

# connections live|ended TIMEOUT: the established connections the drain waits for, or not. In DR
# the director sees only the client's half of a connection. When the real server ends one (its FIN
# goes straight to the client, whose last ACK it answers with a reset, also straight to the client)
# the director never sees an end, and the entry stays ESTABLISHED for the whole TCP timeout (900 s
# by default). So a connection counts as live while the director has seen a packet of it in the
# last DRAIN_IDLE seconds.
connections() {
    established_connections "$2" | awk -v idle="$DRAIN_IDLE" -v want="$1" '($2 < idle) == (want == "live")'
}

rules_file() { printf '%s/ipvs/%s/10-real-%s-%s.rules\n' "$LVS_ETC" "$SERVICE_ID" "$REAL_ADDRESS" "$REAL_PORT"; }

lvs_apply() {
    local want have
    service_exists || fail "IPVS service $VIP:$PORT ($PROTOCOL) does not exist on the director; run pulumi up --refresh"
    desired_args
    want="${DESIRED[*]}"
    have=$(live_line)
    if [ -z "$have" ]; then
        ipvsadm "${DESIRED[@]}"
        changed "added real server: $want"
    elif [ "$have" != "$want" ]; then
        ipvsadm -e "${DESIRED[@]:1}"
        changed "edited real server in place: $have -> $want"
    fi
    mkdir -p "${LVS_ETC}/ipvs/$SERVICE_ID"
    printf '%s\n' "$want" | write_file "$(rules_file)" 0644 || true
}

lvs_check() {
    ipvs_check "real server $REAL_ADDRESS:$REAL_PORT of $VIP:$PORT" "$(rules_file)"
}

lvs_remove() {
    local live ended timeout waited=0
    remove_file "$(rules_file)"
    [ -n "$(live_line)" ] || return 0
    ipvsadm -e "$(service_flag)" "$VIP:$PORT" -r "$REAL_ADDRESS:$REAL_PORT" -g -w 0
    changed "set $REAL_ADDRESS:$REAL_PORT to weight 0 (draining)"
    timeout=$(tcp_timeout)
    while live=$(connections live "$timeout") && [ -n "$live" ] && [ "$waited" -lt "$DRAIN_TIMEOUT" ]; do
        sleep 1
        waited=$((waited + 1))
    done
    ended=$(connections ended "$timeout")
    say "drained $REAL_ADDRESS:$REAL_PORT after ${waited}s (active connections left: $(grep -c . <<<"$live"), timeout ${DRAIN_TIMEOUT}s)"
    [ -z "$ended" ] || say "connections counted as ended, silent for ${DRAIN_IDLE}s or more (CLIENT SECONDS): $(tr '\n' ' ' <<<"$ended")"
    [ -z "$live" ] || say "connections cut by the drain timeout (CLIENT SECONDS): $(tr '\n' ' ' <<<"$live")"
    ipvsadm -d "$(service_flag)" "$VIP:$PORT" -r "$REAL_ADDRESS:$REAL_PORT"
    changed "deleted real server $REAL_ADDRESS:$REAL_PORT"
}
