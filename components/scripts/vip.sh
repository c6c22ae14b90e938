#!/usr/bin/env bash
# A virtual IP as a /32 on a device (the director's data interface, or lo on a real server), held by
# a systemd unit of ours so that it comes back at boot without rc.local or distribution network files.
# Parameters: VIP, DEVICE ("@IFACE@" for the data-plane interface, or lo), HOST_ROUTE (yes: also add
# the host route "VIP dev DEVICE", as the recipe's `route add -host` does).

vip_unit() { printf 'lvs-dr-vip-%s.service\n' "$VIP"; }

lvs_apply() {
    local dev unit ip_bin
    dev=$DEVICE
    [ "$dev" != "@IFACE@" ] || dev=$(data_iface)
    unit=$(vip_unit)
    ip_bin=$(command -v ip)
    local route_start="" route_stop=""
    if [ "$HOST_ROUTE" = yes ]; then
        route_start="ExecStartPost=$ip_bin route replace $VIP/32 dev $dev"
        route_stop="ExecStopPost=-$ip_bin route del $VIP/32 dev $dev"
    fi
    local old=/etc/systemd/system/$unit
    if [ -f "$old" ] && ! grep -q "dev $dev\$" "$old" && systemctl is-active --quiet "$unit"; then
        # The device changed: let the old unit take the address off the old device first.
        systemctl stop "$unit"
        changed "moved $VIP off its old device"
    fi
    cat <<UNIT | unit_install "$unit" || true
# Managed by lvs-dr: pulumi destroy stops and removes this unit.
[Unit]
Description=lvs-dr virtual IP $VIP on $dev
Wants=network-online.target
After=network-online.target systemd-sysctl.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=$ip_bin address replace $VIP/32 dev $dev
${route_start}
ExecStop=-$ip_bin address del $VIP/32 dev $dev
${route_stop}

[Install]
WantedBy=multi-user.target
UNIT
    unit_enable "$unit" start
    if ! ip -o -4 addr show dev "$dev" | awk '{ print $4 }' | grep -qxF "$VIP/32"; then
        "$ip_bin" address replace "$VIP/32" dev "$dev"
        changed "re-added $VIP/32 on $dev (it had been removed)"
    fi
    if [ "$HOST_ROUTE" = yes ] && ! ip route show "$VIP/32" dev "$dev" | grep -q .; then
        "$ip_bin" route replace "$VIP/32" dev "$dev"
        changed "added host route $VIP dev $dev"
    fi
}

lvs_check() {
    local dev
    dev=$DEVICE
    [ "$dev" != "@IFACE@" ] || dev=$(data_iface)
    check_unit "$(vip_unit)"
    ip -o -4 addr show dev "$dev" | awk '{ print $4 }' | grep -qxF "$VIP/32" || drift "$VIP/32 is not on $dev"
    if [ "$HOST_ROUTE" = yes ] && ! ip route show "$VIP/32" dev "$dev" | grep -q .; then
        drift "no host route $VIP dev $dev"
    fi
}

lvs_remove() {
    local unit dev
    unit=$(vip_unit)
    unit_remove "$unit"
    # Whatever the unit did not take away (it was not running) goes too, on every device.
    for dev in $(ip -o -4 addr show | awk -v a="$VIP/32" '$4 == a { print $2 }'); do
        ip address del "$VIP/32" dev "$dev"
        changed "removed $VIP/32 from $dev"
    done
    if [ "$HOST_ROUTE" = yes ] && ip route show "$VIP/32" | grep -q .; then
        ip route del "$VIP/32" || true
        changed "removed host route to $VIP"
    fi
}
