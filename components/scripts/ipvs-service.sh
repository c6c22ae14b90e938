#!/usr/bin/env bash
# One IPVS virtual service on the director, reconciled against the live table: added when missing,
# edited in place (ipvsadm -E keeps its real servers and connections) when it differs. Its rules are
# kept in /etc/lvs-dr/ipvs/SERVICE_ID/ and restored at boot by a unit of ours.
# Parameters: SERVICE_ID, PROTOCOL (tcp|udp), VIP, PORT, SCHEDULER, PERSISTENCE (seconds, 0 = off).

service_flag() { if [ "$PROTOCOL" = udp ]; then echo -u; else echo -t; fi; }
service_addr() { printf '%s:%s\n' "$VIP" "$PORT"; }

# The service's ipvsadm arguments, in the order `ipvsadm -S -n` prints them.
desired_args() {
    DESIRED=(-A "$(service_flag)" "$(service_addr)" -s "$SCHEDULER")
    [ "$PERSISTENCE" -eq 0 ] || DESIRED+=(-p "$PERSISTENCE")
}

live_line() {
    ipvsadm -S -n | awk -v p="-A $(service_flag) $(service_addr) " 'index($0 " ", p) == 1 { print; exit }'
}

restore_unit() { printf 'lvs-dr-ipvs-%s.service\n' "$SERVICE_ID"; }
lvs_units() { restore_unit; }

# When the scheduler changes, the kernel unbinds the old one, waits for an RCU grace period, then
# binds the new one; a connection that arrives in between finds no scheduler and IPVS answers it with
# ICMP port-unreachable, which a client reports as "connection refused". While the edit runs, a
# table of ours drops exactly those ICMP errors for the VIP, so such a client retransmits its SYN
# (after about a second) and is served. Without nft the edit runs unguarded, with a warning.
GUARD_TABLE=lvs_dr_scheduler_guard
guard_on() {
    if ! command -v nft >/dev/null 2>&1; then
        say "warning: nft is not installed: a connection arriving during the scheduler switch may be refused"
        return 0
    fi
    nft -f - <<NFT
table ip $GUARD_TABLE {
    chain output {
        type filter hook output priority 0; policy accept;
        ip saddr $VIP icmp type destination-unreachable icmp code port-unreachable drop
    }
}
NFT
}
guard_off() {
    if command -v nft >/dev/null 2>&1; then nft delete table ip "$GUARD_TABLE" 2>/dev/null || true; fi
}

lvs_apply() {
    local want have dir="$LVS_ETC/ipvs/$SERVICE_ID"
    command -v ipvsadm >/dev/null 2>&1 || fail "ipvsadm is not installed (the Director component installs it)"
    desired_args
    want="${DESIRED[*]}"
    have=$(live_line)
    if [ -z "$have" ]; then
        ipvsadm "${DESIRED[@]}"
        changed "added IPVS service: $want"
    elif [ "$have" != "$want" ]; then
        if [[ " $have " != *" -s $SCHEDULER "* ]]; then
            LVS_ON_EXIT+=(guard_off)
            guard_on
        fi
        ipvsadm -E "${DESIRED[@]:1}"
        guard_off
        changed "edited IPVS service in place: $have -> $want"
    fi
    mkdir -p "$dir"
    printf '%s\n' "$want" | write_file "$dir/00-service.rules" 0644 || true
    cat <<UNIT | unit_install "$(restore_unit)" || true
# Managed by lvs-dr: restores IPVS service $(service_addr) ($PROTOCOL) and its real servers at boot,
# before the VIP comes up, so that the first packet for the VIP is balanced, not refused.
[Unit]
Description=lvs-dr IPVS service $SERVICE_ID
After=systemd-modules-load.service
Before=lvs-dr-vip-$VIP.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'cat $dir/*.rules | $(command -v ipvsadm) -R'

[Install]
WantedBy=multi-user.target
UNIT
    # Enabled, not started: it restores the service at boot, when the table is empty.
    unit_enable "$(restore_unit)"
}

lvs_check() {
    ipvs_check "service $(service_addr) ($PROTOCOL)" "$LVS_ETC/ipvs/$SERVICE_ID/00-service.rules"
    check_unit "$(restore_unit)"
}

lvs_remove() {
    unit_remove "$(restore_unit)"
    if [ -n "$(live_line)" ]; then
        ipvsadm -D "$(service_flag)" "$(service_addr)"
        changed "deleted IPVS service $(service_addr) ($PROTOCOL)"
    fi
    if [ -d "$LVS_ETC/ipvs/$SERVICE_ID" ]; then
        rm -rf "${LVS_ETC:?}/ipvs/$SERVICE_ID"
        changed "removed $LVS_ETC/ipvs/$SERVICE_ID"
    fi
}
