#!/usr/bin/env bash
# One IPVS virtual service on a director, as a keepalived virtual_server (keepalived.sh): its file
# KA_DIR/services/SERVICE_ID.conf includes the files of its real servers (ipvs-real.sh). keepalived
# adds it to the IPVS table with its first real server, edits it in place on a reload (a new
# scheduler or persistence keeps the real servers and connections), deletes it when its file goes.
# A firewall-mark service (FWMARK set) balances several ports of the VIP as one: its packets to
# PORTS are marked by an nftables table of its own (lvs_dr_fwm_MARK, loaded at boot by
# lvs-dr-fwmark-MARK.service before keepalived), and keepalived holds `virtual_server fwmark MARK`.
# Parameters: SERVICE_ID, PROTOCOL (tcp|udp), VIP, PORT, SCHEDULER, PERSISTENCE (seconds, 0 = off);
# a firewall-mark service also FWMARK and PORTS (an array; PORT is the first).

marks_table() { echo "lvs_dr_fwm_$FWMARK"; }
marks_file() { echo "$LVS_ETC/nft/fwm-$FWMARK.nft"; }
marks_unit() { echo "lvs-dr-fwmark-$FWMARK.service"; }
marks_what() { echo "firewall mark $FWMARK for $(svc_name)"; }
lvs_units() { if [ "${FWMARK:-0}" != 0 ]; then marks_unit; fi; }

render_marks() {
    local table list
    table=$(marks_table)
    list=$(printf '%s, ' "${PORTS[@]}")
    cat <<NFT
# Managed by lvs-dr ($LVS_RESOURCE): packets to $VIP, $PROTOCOL ports ${list%, }, marked $FWMARK for IPVS.
table inet $table
delete table inet $table
table inet $table {
    chain prerouting {
        type filter hook prerouting priority mangle; policy accept;
        $(nft_ip "$VIP") daddr $VIP $PROTOCOL dport { ${list%, } } meta mark set $FWMARK
    }
}
NFT
}

service_file() { printf '%s/services/%s.conf\n' "$KA_DIR" "$SERVICE_ID"; }
reals_dir() { printf '%s/services/%s\n' "$KA_DIR" "$SERVICE_ID"; }
has_reals() { compgen -G "$(reals_dir)/*.conf" >/dev/null; }

# The service as `ipvsadm -S -n` prints it.
desired_args() {
    svc_key
    DESIRED=(-A "${SVC_KEY[@]}" -s "$SCHEDULER")
    [ "$PERSISTENCE" -eq 0 ] || DESIRED+=(-p "$PERSISTENCE")
}
live_line() { svc_key && ipvs_line "-A ${SVC_KEY[*]} "; }
in_table() { desired_args && [ "$(live_line)" = "${DESIRED[*]}" ]; }
not_in_table() { [ -z "$(live_line)" ]; }

# When the scheduler changes, the kernel unbinds the old one, waits for an RCU grace period, then
# binds the new one; a connection that arrives in between finds no scheduler and IPVS answers it with
# ICMP port-unreachable, which a client reports as "connection refused". While keepalived makes the
# edit, a table of ours drops exactly those ICMP errors for the VIP, so such a client retransmits
# its SYN (after about a second) and is served. Without nft the edit runs unguarded, with a warning.
GUARD_TABLE=lvs_dr_scheduler_guard
guard_on() {
    if ! command -v nft >/dev/null 2>&1; then
        say "warning: nft is not installed: a connection arriving during the scheduler switch may be refused"
        return 0
    fi
    local icmp=icmp
    [[ $VIP != *:* ]] || icmp=icmpv6
    nft -f - <<NFT
table inet $GUARD_TABLE {
    chain output {
        type filter hook output priority 0; policy accept;
        $(nft_ip "$VIP") saddr $VIP $icmp type destination-unreachable $icmp code port-unreachable drop
    }
}
NFT
}
guard_off() {
    if command -v nft >/dev/null 2>&1; then nft delete table inet "$GUARD_TABLE" 2>/dev/null || true; fi
}

render() {
    printf '# Managed by lvs-dr (%s): IPVS service %s (%s).\n' "$LVS_RESOURCE" "$(svc_name)" "$PROTOCOL"
    if [ "${FWMARK:-0}" = 0 ]; then
        printf 'virtual_server %s %s {\n    lvs_sched %s\n    lvs_method DR\n    protocol %s\n' "$VIP" "$PORT" "$SCHEDULER" "${PROTOCOL^^}"
    else
        # keepalived ignores a protocol here (the marks are what select the packets).
        ka_fwmark_open "$FWMARK"
        printf '    lvs_sched %s\n    lvs_method DR\n' "$SCHEDULER"
    fi
    [ "$PERSISTENCE" -eq 0 ] || printf '    persistence_timeout %s\n' "$PERSISTENCE"
    printf '    include %s/*.conf\n}\n' "$(reals_dir)"
}

# What an earlier lvs-dr (ipvsadm rules restored by a unit of ours) left for this service.
remove_static() {
    unit_remove "lvs-dr-ipvs-$SERVICE_ID.service"
    if [ -d "$LVS_ETC/ipvs/$SERVICE_ID" ]; then
        rm -rf "${LVS_ETC:?}/ipvs/$SERVICE_ID"
        changed "removed $LVS_ETC/ipvs/$SERVICE_ID (rules of an earlier lvs-dr; keepalived holds them now)"
    fi
}

lvs_apply() {
    ka_running || fail "keepalived ($KA_UNIT) does not run on this director; run pulumi up --refresh"
    remove_static
    if [ "${FWMARK:-0}" != 0 ]; then
        command -v nft >/dev/null 2>&1 || pkg_ensure nftables
        render_marks | nft_table_apply "$(marks_table)" "$(marks_file)" "$(marks_unit)" "$(marks_what)"
    fi
    mkdir -p "$(reals_dir)"
    desired_args
    local have
    have=$(live_line)
    if [ -n "$have" ] && [[ " $have " != *" -s $SCHEDULER "* ]]; then
        LVS_ON_EXIT+=(guard_off)
        guard_on
    fi
    if render | ka_write "$(service_file)"; then
        ka_reload
        if has_reals; then ka_wait "put $(svc_name) in the IPVS table" in_table || true; fi
        guard_off
    elif has_reals && ! in_table; then
        # Changed by hand (keepalived does not see that): put back what keepalived holds.
        if [ -z "$(live_line)" ]; then ipvsadm "${DESIRED[@]}"; else ipvsadm -E "${DESIRED[@]:1}"; fi
        changed "restored IPVS service: ${DESIRED[*]}"
    fi
}

lvs_check() {
    render | check_file "$(service_file)"
    if [ "${FWMARK:-0}" != 0 ]; then
        render_marks | nft_table_check "$(marks_table)" "$(marks_file)" "$(marks_unit)" "$(marks_what)"
    fi
    # With no real server yet keepalived holds no service.
    has_reals || return 0
    ipvs_check "service $(svc_name) ($PROTOCOL)"
}

lvs_remove() {
    remove_static
    remove_file "$(service_file)"
    rmdir "$(reals_dir)" 2>/dev/null || true
    if ka_running; then
        ka_reload
        ka_wait "deleted $(svc_name) from the IPVS table" not_in_table || true
    fi
    # Its connections are gone (its real servers drained first): the marks may go.
    [ "${FWMARK:-0}" = 0 ] || nft_table_remove "$(marks_table)" "$(marks_file)" "$(marks_unit)"
}
