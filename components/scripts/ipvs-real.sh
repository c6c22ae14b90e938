#!/usr/bin/env bash
# One real server of an IPVS service, reconciled against the live table: added when missing, edited
# in place (ipvsadm -e) when its weight or method differs. Removing it drains first: weight 0 (no
# new connections), then deletion once its active connections are gone or DRAIN_TIMEOUT passes.
# Parameters: SERVICE_ID, PROTOCOL, VIP, PORT, REAL_ADDRESS, REAL_PORT, WEIGHT, DRAIN_TIMEOUT.

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

active_connections() {
    ipvsadm -L -n "$(service_flag)" "$VIP:$PORT" 2>/dev/null |
        awk -v r="$REAL_ADDRESS:$REAL_PORT" '$1 == "->" && $2 == r { print $5; exit }'
}

# The established connections to this real server, one "CLIENT EXPIRES" per line (ipvsadm -Lnc
# prints: protocol, expires, state, source, virtual, destination).
established_connections() {
    ipvsadm -L -n -c | awk -v v="$VIP:$PORT" -v r="$REAL_ADDRESS:$REAL_PORT" \
        '$3 == "ESTABLISHED" && $5 == v && $6 == r { print $4, $2 }'
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
    local active waited=0
    remove_file "$(rules_file)"
    [ -n "$(live_line)" ] || return 0
    ipvsadm -e "$(service_flag)" "$VIP:$PORT" -r "$REAL_ADDRESS:$REAL_PORT" -g -w 0
    changed "set $REAL_ADDRESS:$REAL_PORT to weight 0 (draining)"
    while active=$(active_connections) && [ "${active:-0}" -gt 0 ] && [ "$waited" -lt "$DRAIN_TIMEOUT" ]; do
        sleep 1
        waited=$((waited + 1))
    done
    say "drained $REAL_ADDRESS:$REAL_PORT after ${waited}s (active connections left: ${active:-0}, timeout ${DRAIN_TIMEOUT}s)"
    [ "${active:-0}" -eq 0 ] || say "connections cut by the drain timeout: $(established_connections | tr '\n' ' ')"
    ipvsadm -d "$(service_flag)" "$VIP:$PORT" -r "$REAL_ADDRESS:$REAL_PORT"
    changed "deleted real server $REAL_ADDRESS:$REAL_PORT"
}
