#!/usr/bin/env bash
# A real server that the director reaches by IP-in-IP (IPVS's tunnel method, ipvsadm -i): the ipip
# module (now and at every boot), its tunl0 device up (the VIPs go on it: vip.sh with DEVICE=tunl0),
# and the MSS of the TCP connections it accepts on those VIPs clamped to what fits in the tunnel:
# the director adds a 20-byte IP header to every packet a client sends, so a client must not send
# segments that fill the path's MTU. Clamped on the real server's SYN-ACKs, by an nftables table of
# ours (loaded at boot by a unit of ours). The kernel settings tunl0 needs (its reverse-path filter)
# are sysctl.sh's. On remove: the table, its unit and file go; tunl0 goes back down, and ipip is
# unloaded, when lvs-dr brought it up or loaded it.
# Parameters: VIPS (array: the VIPs held on tunl0).

TUN_TABLE=lvs_dr_tunnel_mss
tun_file() { echo "$LVS_ETC/nft/tunnel-mss.nft"; }
tun_unit() { echo "lvs-dr-tunnel-mss.service"; }
TUN_MODULES_FILE=/etc/modules-load.d/lvs-dr-tunnel.conf
lvs_units() { tun_unit; }

# The MSS a client may send: the data interface's MTU less the tunnel's IP header and the inner IP
# and TCP headers (1500 - 20 - 20 - 20 = 1440).
tun_mss() {
    local mtu
    IFS= read -r mtu <"/sys/class/net/$(data_iface)/mtu"
    echo $((mtu - 60))
}

render_mss() {
    local list mss
    list=$(printf '%s, ' "${VIPS[@]}")
    mss=$(tun_mss)
    cat <<NFT
# Managed by lvs-dr ($LVS_RESOURCE): TCP connections to ${list%, } arrive through an IP-in-IP tunnel;
# their SYN-ACKs announce an MSS of at most $mss, so that clients' segments still fit once tunnelled.
table inet $TUN_TABLE
delete table inet $TUN_TABLE
table inet $TUN_TABLE {
    chain output {
        type filter hook output priority mangle; policy accept;
        ip saddr { ${list%, } } tcp flags & (syn | rst) == syn tcp option maxseg size > $mss tcp option maxseg size set $mss
    }
}
NFT
}

modules_text() {
    echo "# Managed by lvs-dr: IP-in-IP for a tunnelled real server. pulumi destroy removes this file."
    echo ipip
}

tun_is_up() { ip -o link show dev tunl0 2>/dev/null | grep -q '[<,]UP[,>]'; }

lvs_apply() {
    command -v nft >/dev/null 2>&1 || pkg_ensure nftables
    mkdir -p "$LVS_STATE/tunnel"
    if [ ! -d /sys/module/ipip ]; then
        modprobe ipip || fail "cannot load kernel module ipip (does this kernel have IP-in-IP tunnels?)"
        : >"$LVS_STATE/tunnel/loaded-ipip"
        changed "loaded kernel module ipip"
    fi
    modules_text | write_file "$TUN_MODULES_FILE" 0644 || true
    if ! tun_is_up; then
        ip link set dev tunl0 up
        [ -e "$LVS_STATE/tunnel/loaded-ipip" ] || : >"$LVS_STATE/tunnel/raised-tunl0"
        changed "brought tunl0 up"
    fi
    render_mss | nft_table_apply "$TUN_TABLE" "$(tun_file)" "$(tun_unit)" "MSS of tunnelled TCP connections"
}

lvs_check() {
    [ -d /sys/module/ipip ] || drift "kernel module ipip is not loaded"
    modules_text | check_file "$TUN_MODULES_FILE"
    tun_is_up || drift "tunl0 is not up"
    render_mss | nft_table_check "$TUN_TABLE" "$(tun_file)" "$(tun_unit)" "MSS of tunnelled TCP connections"
}

lvs_remove() {
    nft_table_remove "$TUN_TABLE" "$(tun_file)" "$(tun_unit)"
    remove_file "$TUN_MODULES_FILE"
    if [ -e "$LVS_STATE/tunnel/raised-tunl0" ]; then
        ip link set dev tunl0 down 2>/dev/null || true
        changed "put tunl0 back down"
    fi
    if [ -e "$LVS_STATE/tunnel/loaded-ipip" ]; then
        # Loaded by lvs-dr: unloaded again (tunl0 and its kernel settings go with it), unless
        # something else holds it now.
        if modprobe -r ipip 2>/dev/null; then changed "unloaded kernel module ipip"; else say "warning: ipip is in use: left loaded"; fi
    fi
    rm -rf "$LVS_STATE/tunnel"
}
