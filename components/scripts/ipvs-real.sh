#!/usr/bin/env bash
# One real server of an IPVS service, as a keepalived real_server with its health check: keepalived
# takes it out of the table when the check fails and puts it back when it passes again. Removing
# it drains first: weight 0 (no new connections), then deletion once its live connections are gone
# or DRAIN_TIMEOUT passes.
# The check (CHECK_TYPE tcp|http|udp) goes through the VIP when CHECK_MARK is not 0, as client
# traffic does: keepalived connects to VIP:PORT from the director's own address with that firewall
# mark, and an IPVS fwmark service of ours (in KA_DIR/checks/) sends the marked packets to this real
# server alone. So the check fails when the real server would drop the VIP's packets (the VIP off
# its lo, ARP settings lost), not only when its web server is down.
# Parameters: SERVICE_ID, PROTOCOL, VIP, PORT, REAL_ADDRESS, REAL_PORT, WEIGHT, DRAIN_TIMEOUT,
# DRAIN_IDLE, CHECK_TYPE, CHECK_PATH, CHECK_STATUS, CHECK_BODY (http), CHECK_INTERVAL,
# CHECK_TIMEOUT, CHECK_RETRY, CHECK_RETRY_DELAY, CHECK_MARK; of a firewall-mark service also FWMARK and PORTS
# (ipvs-service.sh), with REAL_PORT 0 (in DR each connection keeps the port the client chose); of a
# tunnelled real server METHOD=tun (IP-in-IP, ipvsadm -i), of a NAT one METHOD=nat (masquerading,
# ipvsadm -m: REAL_PORT may differ from PORT, and its check goes to REAL_ADDRESS:REAL_PORT itself,
# CHECK_MARK 0), else direct routing; of a udp check optionally CHECK_PAYLOAD (hex) and
# CHECK_REPLY=yes (only a reply passes); of an IPv6 service CHECK_FROM, the director's IPv6 address
# its checks through the VIP leave from (an IPv4 service's leave from DATA_ADDRESS).
real_file() { printf '%s/services/%s/%s-%s.conf\n' "$KA_DIR" "$SERVICE_ID" "$REAL_ADDRESS" "$REAL_PORT"; }
check_file_path() { printf '%s/checks/%s-%s-%s.conf\n' "$KA_DIR" "$SERVICE_ID" "$REAL_ADDRESS" "$REAL_PORT"; }

# The rules file of this real server that lvs-dr wrote before keepalived held the table.
static_rules() { printf '%s/ipvs/%s/10-real-%s-%s.rules\n' "$LVS_ETC" "$SERVICE_ID" "$REAL_ADDRESS" "$REAL_PORT"; }

# keepalived's lvs_method of this real server.
method_name() {
    case "${METHOD:-dr}" in
        tun) echo TUN ;;
        nat) echo NAT ;;
        *) echo DR ;;
    esac
}

# real_args WEIGHT DEST SERVICE...: REAL_ARGS, a real server of SERVICE (-t VIP:PORT, -f MARK) as
# `ipvsadm -S -n` prints it and ipvsadm takes it: its method before the weight, a tunnel's type
# after it ("-i -w 1 --tun-type ipip"; NAT "-m -w 1"; direct routing "-g -w 1").
real_args() {
    local weight=$1 dest=$2
    shift 2
    case "${METHOD:-dr}" in
        tun) REAL_ARGS=(-a "$@" -r "$dest" -i -w "$weight" --tun-type ipip) ;;
        nat) REAL_ARGS=(-a "$@" -r "$dest" -m -w "$weight") ;;
        *) REAL_ARGS=(-a "$@" -r "$dest" -g -w "$weight") ;;
    esac
}

# The real server as `ipvsadm -S -n` prints it, with weight $1.
desired_args() {
    local dest
    svc_key
    ipvs_addr_to dest "$REAL_ADDRESS" "$REAL_PORT"
    real_args "${1:-$WEIGHT}" "$dest" "${SVC_KEY[@]}"
    DESIRED=("${REAL_ARGS[@]}")
}
live_line() {
    local dest
    svc_key
    ipvs_addr_to dest "$REAL_ADDRESS" "$REAL_PORT"
    ipvs_line "-a ${SVC_KEY[*]} -r $dest "
}
has_weight() { desired_args "$1" && [ "$(live_line)" = "${DESIRED[*]}" ]; }
# check_real_args: REAL_ARGS, the real server of the check's fwmark service (MARK_KEY), at MARK_REAL:
# the real server's address with port 0, as `ipvsadm -S -n` prints it and ipvsadm takes it.
check_real_args() {
    mark_key "$CHECK_MARK"
    ipvs_addr_to MARK_REAL "$REAL_ADDRESS" 0
    real_args 1 "$MARK_REAL" "${MARK_KEY[@]}"
}
check_real_line() {
    check_real_args
    echo "${REAL_ARGS[*]}"
}
# Whether the fwmark service of the check through the VIP is in the table as `ipvsadm -S -n` prints
# it (it has no check of its own: keepalived holds it as long as the config has it).
mark_in_table() {
    [ "$CHECK_MARK" != 0 ] || return 0
    check_real_args
    [ "$(ipvs_line "-A ${MARK_KEY[*]} ")" = "-A ${MARK_KEY[*]} -s rr" ] &&
        [ "$(ipvs_line "-a ${MARK_KEY[*]} -r $MARK_REAL ")" = "${REAL_ARGS[*]}" ]
}
# mark_restore: the fwmark service of the check through the VIP put back as keepalived makes it, after
# it was deleted by hand (ipvsadm -C), so the check can pass. Its real server with port 0, as
# `ipvsadm -S` prints it: ipvsadm refuses an IPv6 address in brackets without a port (a cold run's
# repair failed so: "illegal real server address[:port] specified").
mark_restore() {
    check_real_args
    ipvsadm -D "${MARK_KEY[@]}" 2>/dev/null || true
    ipvsadm -A "${MARK_KEY[@]}" -s rr
    ipvsadm "${REAL_ARGS[@]}"
    changed "restored the fwmark service $CHECK_MARK of the check through the VIP"
}

# Whether keepalived holds this real server's check as failing (it is then out of the table on purpose).
check_fails() { [ "$(ka_alive "$REAL_ADDRESS" "$REAL_PORT")" != yes ]; }
not_in_table() { [ -z "$(live_line)" ]; }

render_real() {
    local checker
    case "$CHECK_TYPE" in
        tcp) checker=TCP_CHECK ;;
        http) checker=HTTP_GET ;;
        udp) checker=UDP_CHECK ;;
        *) fail "unknown CHECK_TYPE '$CHECK_TYPE'" ;;
    esac
    printf '# Managed by lvs-dr (%s): real server %s of %s (%s).\n' "$LVS_RESOURCE" "$(ipvs_addr "$REAL_ADDRESS" "$REAL_PORT")" "$(ipvs_addr "$VIP" "$PORT")" "$PROTOCOL"
    # A firewall-mark service's real servers have no port (0 in the IPVS table).
    if [ "$REAL_PORT" = 0 ]; then
        printf 'real_server %s {\n' "$REAL_ADDRESS"
    else
        printf 'real_server %s %s {\n' "$REAL_ADDRESS" "$REAL_PORT"
    fi
    printf '    weight %s\n' "$1"
    # Only a tunnelled or NAT real server says its method: the service's (DR) holds for the others.
    [ "${METHOD:-dr}" = dr ] || printf '    lvs_method %s\n' "$(method_name)"
    printf '    %s {\n' "$checker"
    if [ "$CHECK_TYPE" = http ]; then
        printf '        url {\n            path "%s"\n            status_code %s\n' "$CHECK_PATH" "$CHECK_STATUS"
        [ -z "$CHECK_BODY" ] || printf '            regex "%s"\n' "$CHECK_BODY"
        printf '        }\n'
    fi
    if [ "$CHECK_MARK" != 0 ]; then
        printf '        connect_ip %s\n        bindto %s\n        fwmark %s\n' "$VIP" "${CHECK_FROM:-$DATA_ADDRESS}" "$CHECK_MARK"
    fi
    # A udp check's datagram (hex) and whether only a reply passes.
    [ -z "${CHECK_PAYLOAD:-}" ] || printf '        payload %s\n' "$CHECK_PAYLOAD"
    [ "${CHECK_REPLY:-no}" != yes ] || printf '        require_reply\n'
    # Through the VIP, the service's port; to the real server itself, its own (a NAT real server's
    # may differ), but a firewall-mark service's real servers have none: its first port.
    local check_port=$PORT
    [ "$CHECK_MARK" != 0 ] || [ "$REAL_PORT" = 0 ] || check_port=$REAL_PORT
    printf '        connect_port %s\n        connect_timeout %s\n        delay_loop %s\n' "$check_port" "$CHECK_TIMEOUT" "$CHECK_INTERVAL"
    printf '        retry %s\n        delay_before_retry %s\n        warmup 0\n    }\n}\n' "$CHECK_RETRY" "$CHECK_RETRY_DELAY"
}

render_mark() {
    printf '# Managed by lvs-dr (%s): the path of the health check of %s through %s.\n' "$LVS_RESOURCE" "$(ipvs_addr "$REAL_ADDRESS" "$REAL_PORT")" "$VIP"
    ka_fwmark_open "$CHECK_MARK"
    cat <<CONF
    lvs_sched rr
    lvs_method $(method_name)
    real_server $REAL_ADDRESS {
        weight 1
    }
}
CONF
}

# IPVS's timeout of an established TCP entry, in seconds ("Timeout (tcp tcpfin udp): 900 120 300").
tcp_timeout() { ipvsadm -L --timeout | awk '{ print $(NF - 2) }'; }

# The established connections to this real server, one "CLIENT SILENT" per line: SILENT is how long
# the director has seen no packet of it. IPVS rearms an entry's timer at every packet, so that is
# TIMEOUT (IPVS's, tcp_timeout) minus the time left (ipvsadm -Lnc prints: protocol, expires as
# [H:]MM:SS, state, source, virtual, destination).
established_connections() {
    local ports=("$PORT")
    [ "${FWMARK:-0}" = 0 ] || ports=("${PORTS[@]}")
    # Of a firewall-mark service: to the VIP on one of its ports, and to the real server on that port.
    ipvsadm -L -n -c | awk -v vip="$VIP" -v rs="$REAL_ADDRESS" -v rport="$REAL_PORT" -v ports="${ports[*]}" -v timeout="$1" '
        BEGIN { n = split(ports, p, " "); for (i = 1; i <= n; i++) want[p[i]] = 1 }
        # ADDRESS:PORT into a[1], a[2] (an IPv6 address in brackets: [fd86::180]:80).
        function hostport(s, a,    i) {
            i = match(s, /:[0-9]+$/)
            if (i == 0) return 0
            a[1] = substr(s, 1, i - 1); a[2] = substr(s, i + 1); gsub(/[][]/, "", a[1])
            return 1
        }
        $3 == "ESTABLISHED" && hostport($5, v) && hostport($6, d) && v[1] == vip && (v[2] in want) &&
            d[1] == rs && d[2] == (rport == 0 ? v[2] : rport) {
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

lvs_apply() {
    local wrote=no
    ka_running || fail "keepalived ($KA_UNIT) does not run on this director; run pulumi up --refresh"
    remove_file "$(static_rules)"
    if [ "$CHECK_MARK" != 0 ]; then
        if render_mark | ka_write "$(check_file_path)"; then wrote=yes; fi
    else
        remove_file "$(check_file_path)"
    fi
    if render_real "$WEIGHT" | ka_write "$(real_file)"; then wrote=yes; fi
    if [ "$wrote" = yes ]; then
        ka_reload
        ka_wait "given $REAL_ADDRESS:$REAL_PORT weight $WEIGHT (its check may be failing)" has_weight "$WEIGHT" || true
        return 0
    fi
    if ! mark_in_table; then
        mark_restore
        ka_wait "seen the check of $REAL_ADDRESS:$REAL_PORT pass again" has_weight "$WEIGHT" || true
    fi
    if ! has_weight "$WEIGHT" && ! check_fails; then
        # Deleted or edited by hand (a reload would not see it: keepalived compares configs, not the
        # table): put back what keepalived holds.
        desired_args "$WEIGHT"
        if [ -z "$(live_line)" ]; then ipvsadm "${DESIRED[@]}"; else ipvsadm -e "${DESIRED[@]:1}"; fi
        changed "restored real server: ${DESIRED[*]}"
    fi
}

lvs_check() {
    [ "$CHECK_MARK" = 0 ] || render_mark | check_file "$(check_file_path)"
    render_real "$WEIGHT" | check_file "$(real_file)"
    mark_in_table || drift "the fwmark service $CHECK_MARK of the check of $REAL_ADDRESS:$REAL_PORT through the VIP is not in the IPVS table as keepalived made it"
    # Out of the table is where keepalived puts a real server whose check fails; otherwise it must
    # be there, with the weight of the config.
    ipvs_check "real server $REAL_ADDRESS:$REAL_PORT of $(svc_name)" check_fails
}

lvs_remove() {
    local live ended timeout waited=0
    remove_file "$(static_rules)"
    if [ -f "$(real_file)" ] && [ -n "$(live_line)" ] && ka_running; then
        render_real 0 | ka_write "$(real_file)" || true
        ka_reload
        ka_wait "set $REAL_ADDRESS:$REAL_PORT to weight 0" has_weight 0 || true
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
    fi
    remove_file "$(real_file)"
    remove_file "$(check_file_path)"
    if ka_running; then
        ka_reload
        ka_wait "deleted real server $REAL_ADDRESS:$REAL_PORT" not_in_table || true
    fi
}
