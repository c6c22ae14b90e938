#!/usr/bin/env bash
# keepalived on a director, in units of our own (so a distribution's keepalived.service and its
# /etc/keepalived stay untouched), as two processes:
#   lvs-dr-keepalived.service  health checks and the IPVS table (the services and real servers of
#                              ipvs-service.sh and ipvs-real.sh), config KA_DIR/keepalived.conf
#   lvs-dr-vrrp.service        a pair's VRRP (the VIPs) and connection sync daemon, KA_DIR/vrrp.conf
# Apart because a reload stops a keepalived's VRRP adverts for as long as it reads its whole config
# again: every service change reloads the checks, and reloaded with them, a busy master fell silent
# long enough for its peer to take the VIPs (CI saw it). VRRP reloads only when the pair changes.
# Parameters: VIPS (held by VRRP; empty on a single director, whose VIPs are static units of
# vip.sh), STATIC_VIPS (the single director's VIPs: keepalived starts before their units at boot, so
# the first packet for a VIP finds its service), PEER (the other director's data address; empty on a
# single director), PRIORITY, ROUTER_ID, VRRP_VERSION (2|3), ADVERT (seconds), AUTH_PASS (VRRPv2
# only; may be empty), SYNC_ID, PORTS (the services' PORT/PROTO: opened in an active firewall, as
# the director that holds a VIP receives its traffic; a pair's directors also admit VRRP and the sync
# daemon's UDP 8848 from each other); with NAT real servers also NAT_NETWORK (their network, where
# the director has an address), NAT_REALS (each ADDRESS:PORT/PROTO: their replies are forwarded) and
# on a pair NAT_GATEWAY (held by VRRP with the VIPs; a single director's is a unit of vip.sh).
NAT_GATEWAY=${NAT_GATEWAY:-} NAT_NETWORK=${NAT_NETWORK:-} NAT_IFACE=""
[ "${NAT_REALS+set}" = set ] || NAT_REALS=()

# NAT_IFACE: the interface that holds a pair's NAT gateway (found before anything is rendered).
nat_iface_find() { [ -z "$NAT_GATEWAY" ] || NAT_IFACE=$(net_iface "$NAT_NETWORK"); }

VRRP_UNIT=lvs-dr-vrrp.service
VRRP_CONF=$KA_DIR/vrrp.conf
NOTRACK_UNIT=lvs-dr-notrack.service
NOTRACK_FILE=/etc/lvs-dr/notrack.nft
lvs_units() {
    printf '%s\n' "$KA_UNIT" "$NOTRACK_UNIT"
    [ -z "$PEER" ] || printf '%s\n' "$VRRP_UNIT"
}

# In DR the director sees only the client's half of a connection: to conntrack the client's ACK after
# its SYN (with no SYN-ACK seen) is INVALID, and a firewall's "ct state invalid drop" (ufw's,
# firewalld's) would drop every packet of a connection but the first. So the VIPs' service traffic
# is not tracked (an nftables table of ours, at the raw priority, before conntrack): a firewall then
# judges it by its port rules alone (fw_sync opens the ports).
#
# A NAT real server's replies pass through the director on their way to the client, and with the
# client's half untracked, conntrack would take each reply for a new connection from ADDRESS:PORT
# (a SYN-ACK: invalid): they are not tracked either. Replies to the director's own address are (the
# health checks' connections, which a firewall admits as established).
render_notrack() {
    local vip v4="" v6="" port proto rules=() real addr
    for vip in "${VIPS[@]}" "${STATIC_VIPS[@]}"; do
        if [[ $vip == *:* ]]; then v6+="$vip, "; else v4+="$vip, "; fi
    done
    for port in "${PORTS[@]}"; do
        proto=${port#*/}
        [ -z "$v4" ] || rules+=("        ip daddr { ${v4%, } } $proto dport ${port%/*} notrack")
        [ -z "$v6" ] || rules+=("        ip6 daddr { ${v6%, } } $proto dport ${port%/*} notrack")
    done
    for real in "${NAT_REALS[@]}"; do
        addr=${real%:*} port=${real#*:}
        rules+=("        ip saddr $addr ${port#*/} sport ${port%/*} fib daddr type != local notrack")
    done
    cat <<NFT
# Managed by lvs-dr ($LVS_RESOURCE): the VIPs' service traffic is not tracked (see keepalived.sh).
table inet lvs_dr_notrack
delete table inet lvs_dr_notrack
table inet lvs_dr_notrack {
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
    local real
    FW_RULES=("${PORTS[@]}")
    [ -z "$PEER" ] || FW_RULES+=("vrrp@$PEER" "8848/udp@$PEER")
    for real in "${NAT_REALS[@]}"; do FW_RULES+=("route:${real#*:}@${real%:*}"); done
}

# The checks' process: the services' and checks' files.
render_main() {
    printf '# Managed by lvs-dr (%s): pulumi destroy stops keepalived and removes %s.\n' "$LVS_RESOURCE" "$KA_DIR"
    printf 'global_defs {\n    router_id %s\n}\n' "$LVS_COMPONENT"
    printf 'include %s/checks/*.conf\ninclude %s/services/*.conf\n' "$KA_DIR" "$KA_DIR"
}

# A pair's VRRP process: the instance that holds the VIPs, and the sync daemon that follows it.
render_vrrp() {
    local iface=$1 vip
    printf '# Managed by lvs-dr (%s): pulumi destroy stops VRRP and removes %s.\n' "$LVS_RESOURCE" "$KA_DIR"
    printf 'global_defs {\n    router_id %s\n    vrrp_version %s\n' "$LVS_COMPONENT" "$VRRP_VERSION"
    # The sync daemon runs as master on the director holding the VIPs, as backup on the other.
    printf '    lvs_sync_daemon %s VI_LVS_DR id %s\n}\n' "$iface" "$SYNC_ID"
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
    # An advert carries the addresses of virtual_ipaddress, and a backup drops adverts whose count is
    # not its own (keepalived 2.2.7: "received an unexpected ip number count"). A service with a new
    # VIP reloads both directors one after the other: in between, the backup would drop the master's
    # adverts and take the VIPs 1.8 s later. So adverts carry one address, the first IPv4 VIP of the
    # config (director.vips: the instance runs over IPv4), and the others, IPv6 VIPs (each a /128)
    # too, are excluded from them (keepalived holds and announces them all alike); and adverts from
    # the master it knows are not checked for addresses at all.
    # The NAT gateway moves with the VIPs, on the director's interface in the real servers' network.
    local first="" others=()
    for vip in "${VIPS[@]}"; do
        if [ -z "$first" ] && [[ $vip != *:* ]]; then first=$vip; else others+=("$vip"); fi
    done
    printf '    skip_check_adv_addr\n'
    printf '    virtual_ipaddress {\n        %s/32 dev %s\n    }\n' "$first" "$iface"
    if [ "${#others[@]}" -gt 0 ] || [ -n "$NAT_GATEWAY" ]; then
        printf '    virtual_ipaddress_excluded {\n'
        for vip in "${others[@]}"; do printf '        %s dev %s\n' "$(host_cidr "$vip")" "$iface"; done
        [ -z "$NAT_GATEWAY" ] || printf '        %s/32 dev %s\n' "$NAT_GATEWAY" "$NAT_IFACE"
        printf '    }\n'
    fi
    printf '}\n'
}

# render_unit check|vrrp IFACE: the unit of one of the two processes.
render_unit() {
    local role=$1 iface=$2 bin order="" vip desc mode run pid
    bin=$(command -v keepalived)
    if [ "$role" = check ]; then
        desc="health checks, IPVS services"
        mode="--check --use-file=$KA_DIR/keepalived.conf"
        run=lvs-dr-keepalived
        pid=--checkers_pid=/run/$run/checkers.pid
        for vip in "${STATIC_VIPS[@]}"; do order+=" lvs-dr-vip-$vip.service"; done
        order=${order:+Before=${order# }}
    else
        desc="VRRP of the director pair, connection sync"
        mode="--vrrp --use-file=$VRRP_CONF"
        run=lvs-dr-vrrp
        pid=--vrrp_pid=/run/$run/vrrp.pid
        # The services are in the table before this director may take the VIPs.
        order="After=$KA_UNIT"
    fi
    cat <<UNIT
# Managed by lvs-dr: pulumi destroy stops and removes this unit.
[Unit]
Description=lvs-dr keepalived ($desc)
Wants=network-online.target
After=network-online.target systemd-modules-load.service systemd-sysctl.service
$order

[Service]
# Not Type=notify: keepalived never reports ready while it has no service yet (a first deploy).
Type=simple
RuntimeDirectory=$run
# At boot the data interface may come up before its address: a VRRP instance that starts then stays
# in FAULT (seen in the lab after a power cut), and the checks bind to the address. So keepalived
# starts once the address is there.
ExecStartPre=/bin/sh -c 'until ip -o -4 addr show dev $iface | grep -qF " $DATA_ADDRESS/"; do sleep 1; done'
ExecStartPre=/bin/mkdir -p $KA_DIR/services $KA_DIR/checks
TimeoutStartSec=120
ExecStart=$bin --dont-fork $mode --pid=/run/$run/keepalived.pid $pid
ExecReload=/bin/kill -HUP \$MAINPID
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
}

# unit_apply UNIT ROLE IFACE CONF_CHANGED: install the unit; restart it when it runs and its unit
# changed (beyond the boot order alone: a single director's VIPs), else reload it when its config
# changed; enable and start it.
unit_apply() {
    local unit=$1 role=$2 iface=$3 conf=$4 file=/etc/systemd/system/$1 old=""
    [ ! -f "$file" ] || old=$(grep -v '^Before=' "$file")
    if render_unit "$role" "$iface" | unit_install "$unit" && [ -n "$old" ] && [ "$old" != "$(grep -v '^Before=' "$file")" ] &&
        systemctl is-active --quiet "$unit"; then
        units_reload
        systemctl restart "$unit"
        changed "restarted $unit (its unit changed)"
    elif [ "$conf" = yes ]; then
        ka_reload "$unit"
    fi
    unit_enable "$unit" start
}

lvs_apply() {
    local iface conf=no
    pkg_ensure keepalived
    if systemctl is-active --quiet keepalived.service 2>/dev/null; then
        fail "keepalived.service (the distribution's own) runs on this host; lvs-dr runs its own keepalived, which must be the only owner of the IPVS table and the VIPs: stop and disable keepalived.service first"
    fi
    iface=$(data_iface)
    nat_iface_find
    fw_rules
    fw_sync director "${FW_RULES[@]}"
    notrack_apply
    ka_dirs
    # A changed unit needs a restart, which empties and refills the IPVS table (and, before lvs-dr
    # ran VRRP apart, on a pair's master handed the VIPs over).
    if render_main | ka_write "$KA_DIR/keepalived.conf"; then conf=yes; fi
    unit_apply "$KA_UNIT" check "$iface" "$conf"
    if [ -n "$PEER" ]; then
        conf=no
        if render_vrrp "$iface" | ka_write "$VRRP_CONF" "$VRRP_CONF"; then conf=yes; fi
        unit_apply "$VRRP_UNIT" vrrp "$iface" "$conf"
    else
        # A pair that became one director: its VIPs go to vip.sh's units.
        unit_remove "$VRRP_UNIT"
        remove_file "$VRRP_CONF"
    fi
}

lvs_check() {
    local iface
    iface=$(data_iface)
    nat_iface_find
    render_main | check_file "$KA_DIR/keepalived.conf"
    render_unit check "$iface" | check_file "/etc/systemd/system/$KA_UNIT"
    check_unit "$KA_UNIT" active
    if [ -n "$PEER" ]; then
        render_vrrp "$iface" | check_file "$VRRP_CONF"
        render_unit vrrp "$iface" | check_file "/etc/systemd/system/$VRRP_UNIT"
        check_unit "$VRRP_UNIT" active
    else
        unit_check_absent "$VRRP_UNIT"
    fi
    fw_rules
    fw_check director "${FW_RULES[@]}"
    if command -v nft >/dev/null 2>&1; then
        render_notrack | nft_table_check lvs_dr_notrack "$NOTRACK_FILE" "$NOTRACK_UNIT" "$NOTRACK_WHAT"
    fi
}

lvs_remove() {
    # Stopping keepalived deletes what it made: the VIPs (VRRP first: the peer takes them at once),
    # then the IPVS services and real servers.
    unit_remove "$VRRP_UNIT"
    unit_remove "$KA_UNIT"
    nft_table_remove lvs_dr_notrack "$NOTRACK_FILE" "$NOTRACK_UNIT"
    fw_revoke director
    if [ -d "$KA_DIR" ]; then
        rm -rf "${KA_DIR:?}"
        changed "removed $KA_DIR"
    fi
}
