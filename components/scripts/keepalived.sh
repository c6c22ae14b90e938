#!/usr/bin/env bash
# keepalived on a director: our own unit (lvs-dr-keepalived.service, so a distribution's
# keepalived.service and its /etc/keepalived stay untouched) running our config. It owns the
# director's IPVS table (the services and real servers of ipvs-service.sh and ipvs-real.sh, with
# their health checks) and, on a director pair, the VIPs (VRRP) and the connection sync daemon.
# Parameters: VIPS (held by VRRP; empty on a single director, whose VIPs are static units of
# vip.sh), STATIC_VIPS (the single director's VIPs: keepalived starts before their units at boot, so
# the first packet for a VIP finds its service), PEER (the other director's data address; empty on a
# single director), PRIORITY, ROUTER_ID, VRRP_VERSION (2|3), ADVERT (seconds), AUTH_PASS (VRRPv2
# only; may be empty), SYNC_ID, PORTS (the services' PORT/PROTO: opened in an active firewall, as
# the director that holds a VIP receives its traffic; a pair's directors also admit VRRP and the sync
# daemon's UDP 8848 from each other).

NOTRACK_UNIT=lvs-dr-notrack.service
NOTRACK_FILE=/etc/lvs-dr/notrack.nft
lvs_units() { printf '%s\n' "$KA_UNIT" "$NOTRACK_UNIT"; }

# In DR the director sees only the client's half of a connection: to conntrack the client's ACK after
# its SYN (with no SYN-ACK seen) is INVALID, and a firewall's "ct state invalid drop" (ufw's,
# firewalld's) would drop every packet of a connection but the first. So the VIPs' service traffic
# is not tracked (an nftables table of ours, at the raw priority, before conntrack): a firewall then
# judges it by its port rules alone (fw_sync opens the ports).
render_notrack() {
    local vips=("${VIPS[@]}" "${STATIC_VIPS[@]}") list port proto rules=()
    list=$(printf '%s, ' "${vips[@]}")
    for port in "${PORTS[@]}"; do
        proto=${port#*/}
        rules+=("        ip daddr { ${list%, } } $proto dport ${port%/*} notrack")
    done
    cat <<NFT
# Managed by lvs-dr ($LVS_RESOURCE): the VIPs' service traffic is not tracked (see keepalived.sh).
table ip lvs_dr_notrack
delete table ip lvs_dr_notrack
table ip lvs_dr_notrack {
    chain prerouting {
        type filter hook prerouting priority raw; policy accept;
$(printf '%s\n' "${rules[@]}")
    }
}
NFT
}

NOTRACK_WHAT="no connection tracking for the VIPs' service traffic"

notrack_apply() {
    if ! command -v nft >/dev/null 2>&1; then
        [ "$(fw_backend)" = none ] || say "warning: nft is not installed: with a firewall active, the VIPs' traffic after each connection's first packet may be dropped as invalid"
        return 0
    fi
    render_notrack | nft_table_apply lvs_dr_notrack "$NOTRACK_FILE" "$NOTRACK_UNIT" "$NOTRACK_WHAT"
}

fw_rules() {
    FW_RULES=("${PORTS[@]}")
    [ -z "$PEER" ] || FW_RULES+=("vrrp@$PEER" "8848/udp@$PEER")
}

render_main() {
    local iface=$1 vip
    printf '# Managed by lvs-dr (%s): pulumi destroy stops keepalived and removes %s.\n' "$LVS_RESOURCE" "$KA_DIR"
    printf 'global_defs {\n    router_id %s\n' "$LVS_COMPONENT"
    if [ -n "$PEER" ]; then
        printf '    vrrp_version %s\n' "$VRRP_VERSION"
        # The sync daemon runs as master on the director holding the VIPs, as backup on the other.
        printf '    lvs_sync_daemon %s VI_LVS_DR id %s\n' "$iface" "$SYNC_ID"
    fi
    printf '}\n'
    if [ -n "$PEER" ]; then
        cat <<CONF
vrrp_instance VI_LVS_DR {
    # Both start as backup and never take the VIPs back from a working peer: a director that
    # comes back (with an empty connection table) causes no second failover.
    state BACKUP
    nopreempt
    interface $iface
    virtual_router_id $ROUTER_ID
    priority $PRIORITY
    advert_int $ADVERT
    unicast_src_ip $DATA_ADDRESS
    unicast_peer {
        $PEER
    }
CONF
        if [ -n "$AUTH_PASS" ]; then
            printf '    authentication {\n        auth_type PASS\n        auth_pass %s\n    }\n' "$AUTH_PASS"
        fi
        printf '    virtual_ipaddress {\n'
        for vip in "${VIPS[@]}"; do printf '        %s/32 dev %s\n' "$vip" "$iface"; done
        printf '    }\n}\n'
    fi
    printf 'include %s/checks/*.conf\ninclude %s/services/*.conf\n' "$KA_DIR" "$KA_DIR"
}

render_unit() {
    local iface=$1 bin before="" vip
    bin=$(command -v keepalived)
    for vip in "${STATIC_VIPS[@]}"; do before+=" lvs-dr-vip-$vip.service"; done
    cat <<UNIT
# Managed by lvs-dr: pulumi destroy stops and removes this unit.
[Unit]
Description=lvs-dr keepalived (health checks, IPVS services$([ -z "$PEER" ] || echo ", VRRP"))
Wants=network-online.target
After=network-online.target systemd-modules-load.service systemd-sysctl.service
${before:+Before=${before# }}

[Service]
# Not Type=notify: keepalived never reports ready while it has no service yet (a first deploy).
Type=simple
RuntimeDirectory=lvs-dr-keepalived
# At boot the data interface may come up before its address: a VRRP instance that starts then stays
# in FAULT (seen in the lab after a power cut). So keepalived starts once the address is there.
ExecStartPre=/bin/sh -c 'until ip -o -4 addr show dev $iface | grep -qF " $DATA_ADDRESS/"; do sleep 1; done'
ExecStartPre=/bin/mkdir -p $KA_DIR/services $KA_DIR/checks
TimeoutStartSec=120
ExecStart=$bin --dont-fork --use-file=$KA_DIR/keepalived.conf --pid=/run/lvs-dr-keepalived/keepalived.pid --vrrp_pid=/run/lvs-dr-keepalived/vrrp.pid --checkers_pid=/run/lvs-dr-keepalived/checkers.pid
ExecReload=/bin/kill -HUP \$MAINPID
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
}

lvs_apply() {
    local iface conf=no unit=no
    pkg_ensure keepalived
    if systemctl is-active --quiet keepalived.service 2>/dev/null; then
        fail "keepalived.service (the distribution's own) runs on this host; lvs-dr runs its own keepalived, which must be the only owner of the IPVS table and the VIPs: stop and disable keepalived.service first"
    fi
    iface=$(data_iface)
    fw_rules
    fw_sync director "${FW_RULES[@]}"
    notrack_apply
    ka_dirs
    if render_main "$iface" | ka_write "$KA_DIR/keepalived.conf"; then conf=yes; fi
    # A changed unit needs a restart (which empties and refills the IPVS table, and on a pair's
    # master hands the VIPs over), except for a new boot order alone (Before=: a single director's VIP
    # changed). One director becoming a pair changes it: keepalived started without VRRP has no VRRP
    # process that a reload could give an instance to.
    local unit_file=/etc/systemd/system/$KA_UNIT old=""
    [ ! -f "$unit_file" ] || old=$(grep -v '^Before=' "$unit_file")
    if render_unit "$iface" | unit_install "$KA_UNIT" && [ -n "$old" ] && [ "$old" != "$(grep -v '^Before=' "$unit_file")" ]; then
        unit=yes
    fi
    if [ "$unit" = yes ] && ka_running; then
        units_reload
        systemctl restart "$KA_UNIT"
        changed "restarted keepalived (its unit changed)"
    elif [ "$conf" = yes ]; then
        ka_reload
    fi
    unit_enable "$KA_UNIT" start
}

lvs_check() {
    local iface
    iface=$(data_iface)
    render_main "$iface" | check_file "$KA_DIR/keepalived.conf"
    render_unit "$iface" | check_file "/etc/systemd/system/$KA_UNIT"
    check_unit "$KA_UNIT" active
    fw_rules
    fw_check director "${FW_RULES[@]}"
    if command -v nft >/dev/null 2>&1; then
        render_notrack | nft_table_check lvs_dr_notrack "$NOTRACK_FILE" "$NOTRACK_UNIT" "$NOTRACK_WHAT"
    fi
}

lvs_remove() {
    # Stopping keepalived deletes what it made: its IPVS services and real servers, and the VIPs.
    unit_remove "$KA_UNIT"
    nft_table_remove lvs_dr_notrack "$NOTRACK_FILE" "$NOTRACK_UNIT"
    fw_revoke director
    if [ -d "$KA_DIR" ]; then
        rm -rf "${KA_DIR:?}"
        changed "removed $KA_DIR"
    fi
}
