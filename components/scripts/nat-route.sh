#!/usr/bin/env bash
# A real server the director reaches by NAT (ipvsadm -m): its replies to clients must go back through
# the director, which turns their source back into the VIP. So what leaves from the real server's
# data address and is for no network the host has a route to goes to GATEWAY (held by the director
# on this network), by routing rules and a table of lvs-dr's own. The host's main table and its
# default route are never touched, so what it sends from other addresses routes as before, and a
# remove leaves it exactly as it was.
#   rule pref 19540   from DATA_ADDRESS lookup main suppress_prefixlength 0   (main's routes to its
#                     networks, not main's default route)
#   rule pref 19541   from DATA_ADDRESS lookup 19542
#   table 19542       default via GATEWAY dev (the data interface)
# Held at boot by lvs-dr-nat-route.service (rules and tables are not kept across a reboot).
# Parameters: GATEWAY.

NAT_TABLE=19542
NAT_UNIT=lvs-dr-nat-route.service
lvs_units() { echo "$NAT_UNIT"; }

# The rules as `ip -4 rule show` prints them, and the table's route as `ip -4 route show table` does.
nat_rules() {
    printf '19540:\tfrom %s lookup main suppress_prefixlength 0\n' "$DATA_ADDRESS"
    printf '19541:\tfrom %s lookup %s\n' "$DATA_ADDRESS" "$NAT_TABLE"
}
nat_route() { printf 'default via %s dev %s\n' "$GATEWAY" "$1"; }
live_rules() { ip -4 rule show | grep -E '^1954[01]:' || true; }
# (iproute2 ends a route's line with a space.)
live_route() { ip -4 route show table "$NAT_TABLE" 2>/dev/null | sed 's/ *$//' || true; }

render_unit() {
    local iface=$1 ip_bin
    ip_bin=$(command -v ip)
    cat <<UNIT
# Managed by lvs-dr: pulumi destroy stops and removes this unit.
[Unit]
Description=lvs-dr NAT real server: replies from $DATA_ADDRESS go back through the director ($GATEWAY)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
# The gateway is reachable once the address (and its network's route) is on $iface.
ExecStartPre=/bin/sh -c 'until $ip_bin -o -4 addr show dev $iface | grep -qF " $DATA_ADDRESS/"; do sleep 1; done'
ExecStartPre=-$ip_bin -4 rule del pref 19540
ExecStartPre=-$ip_bin -4 rule del pref 19541
ExecStart=$ip_bin -4 route replace default via $GATEWAY dev $iface table $NAT_TABLE
ExecStart=$ip_bin -4 rule add pref 19540 from $DATA_ADDRESS lookup main suppress_prefixlength 0
ExecStart=$ip_bin -4 rule add pref 19541 from $DATA_ADDRESS lookup $NAT_TABLE
ExecStop=-$ip_bin -4 rule del pref 19541
ExecStop=-$ip_bin -4 rule del pref 19540
ExecStop=-$ip_bin -4 route flush table $NAT_TABLE
TimeoutStartSec=120

[Install]
WantedBy=multi-user.target
UNIT
}

lvs_apply() {
    local iface
    iface=$(data_iface)
    if render_unit "$iface" | unit_install "$NAT_UNIT" && systemctl is-active --quiet "$NAT_UNIT"; then
        # A new gateway or address: the unit applies it again.
        units_reload
        systemctl restart "$NAT_UNIT"
        changed "restarted $NAT_UNIT (its unit changed)"
    fi
    unit_enable "$NAT_UNIT" start
    # Deleted by hand while the unit ran: put back.
    if [ "$(live_rules)" != "$(nat_rules)" ] || [ "$(live_route)" != "$(nat_route "$iface")" ]; then
        systemctl restart "$NAT_UNIT"
        changed "put back the routing rules and table $NAT_TABLE of replies through $GATEWAY"
    fi
}

lvs_check() {
    local iface
    iface=$(data_iface)
    render_unit "$iface" | check_file "/etc/systemd/system/$NAT_UNIT"
    check_unit "$NAT_UNIT" active
    [ "$(live_rules)" = "$(nat_rules)" ] || drift "the routing rules 19540 and 19541 are '$(live_rules | tr '\n\t' '; ')' (want '$(nat_rules | tr '\n\t' '; ')')"
    [ "$(live_route)" = "$(nat_route "$iface")" ] || drift "table $NAT_TABLE is '$(live_route)' (want '$(nat_route "$iface")')"
}

lvs_remove() {
    unit_remove "$NAT_UNIT"
    # Whatever the unit did not take away (it was not running).
    local pref
    for pref in 19541 19540; do
        while ip -4 rule show | grep -q "^$pref:"; do
            ip -4 rule del pref "$pref"
            changed "removed routing rule $pref"
        done
    done
    if [ -n "$(live_route)" ]; then
        ip -4 route flush table "$NAT_TABLE"
        changed "emptied routing table $NAT_TABLE"
    fi
}
