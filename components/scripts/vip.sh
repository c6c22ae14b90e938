#!/usr/bin/env bash
# A virtual IP as a /32 (an IPv6 one as a /128) on a device (the director's data interface, or lo on
# a real server), held by a systemd unit of ours so that it comes back at boot without rc.local or
# distribution network files. An IPv6 VIP is added without duplicate address detection (nodad): it
# is usable at once, and the real servers that hold it on lo never answer neighbour solicitations
# for it (Linux answers those only for addresses of the interface they arrive on).
# Parameters: VIP, DEVICE ("@IFACE@" for the data-plane interface, "@NET@" for the interface of the
# host's address in NETWORK (a single director's NAT gateway), or lo), HOST_ROUTE (yes: also add
# the host route "VIP dev DEVICE", as the recipe's `route add -host` does), ANNOUNCE (yes: send
# gratuitous ARP whenever the address comes up, as a director must: neighbours may have cached the
# MAC of the host that held the VIP before). On tunl0 (a tunnelled real server: tunnel.sh loads ipip)
# the unit also brings the device up, as it comes down at every boot.

vip_unit() { printf 'lvs-dr-vip-%s.service\n' "$VIP"; }
vip_device() {
    case "$DEVICE" in
        @IFACE@) data_iface ;;
        @NET@) net_iface "$NETWORK" ;;
        *) printf '%s\n' "$DEVICE" ;;
    esac
}
# vip_init: VIP_CIDR (the VIP with its prefix length), VIP_FLAGS (what `ip address` adds it with:
# nodad for IPv6) and FAM (its family, as `ip` takes it).
vip_init() {
    VIP_CIDR=$(host_cidr "$VIP")
    if [[ $VIP == *:* ]]; then VIP_FLAGS=" nodad" FAM=-6; else VIP_FLAGS="" FAM=-4; fi
}
has_vip() { ip -o "$FAM" addr show dev "$1" | awk '{ print $4 }' | grep -qxF "$VIP_CIDR"; }

lvs_units() { vip_unit; }

lvs_apply() {
    vip_init
    local dev unit ip_bin garp=()
    dev=$(vip_device)
    unit=$(vip_unit)
    ip_bin=$(command -v ip)
    local route_start="" route_stop="" garp_line="" link_up=""
    # (A line of its own only on tunl0: the other units' text stays as it was.)
    [ "$dev" != tunl0 ] || link_up=$'\n'"ExecStartPre=$ip_bin link set dev tunl0 up"
    if [ "$HOST_ROUTE" = yes ]; then
        route_start="ExecStartPost=$ip_bin route replace $VIP/32 dev $dev"
        route_stop="ExecStopPost=-$ip_bin route del $VIP/32 dev $dev"
    fi
    # An IPv6 VIP is not announced: a neighbour that cached another MAC for it (a replaced director)
    # finds the new one by neighbour unreachability detection within seconds, which IPv6 always runs.
    if [ "$ANNOUNCE" = yes ] && [ "$FAM" = -4 ]; then
        mapfile -t garp < <(garp_command "$dev" "$VIP")
        if [ "${#garp[@]}" -gt 0 ]; then
            garp_line="ExecStartPost=-${garp[*]}"
        else
            say "warning: no arping installed: neighbours learn the VIP's new MAC only when their ARP entry expires"
        fi
    fi
    # A device other than lo appears only once udev has seen it (its driver may be a module): at boot
    # the address waits for it, or `ip` finds no device and the VIP stays off (seen in the lab, once
    # the VMs booted faster). The device's unit also stops this one if the device goes away.
    local device_unit=""
    [ "$dev" = lo ] || device_unit=$(systemd-escape --path --suffix=device "/sys/subsystem/net/devices/$dev")
    local old=/etc/systemd/system/$unit
    if [ -f "$old" ] && ! grep -q "dev $dev\$" "$old" && systemctl is-active --quiet "$unit"; then
        # The device changed (a real server going from direct routing to a tunnel, or back): the
        # address goes on the new device first (a host may hold one address on two), then the old
        # unit takes it off the old one, so that the host never stops accepting the VIP's packets.
        [ "$dev" != tunl0 ] || "$ip_bin" link set dev tunl0 up
        # shellcheck disable=SC2086 # VIP_FLAGS: nothing, or nodad
        "$ip_bin" address replace "$VIP_CIDR" dev "$dev"$VIP_FLAGS
        systemctl stop "$unit"
        changed "moved $VIP to $dev"
    fi
    cat <<UNIT | unit_install "$unit" || true
# Managed by lvs-dr: pulumi destroy stops and removes this unit.
[Unit]
Description=lvs-dr virtual IP $VIP on $dev
Wants=network-online.target
${device_unit:+BindsTo=$device_unit}
After=network-online.target systemd-sysctl.service${device_unit:+ $device_unit}

[Service]
Type=oneshot
RemainAfterExit=yes${link_up}
ExecStart=$ip_bin address replace $VIP_CIDR dev $dev$VIP_FLAGS
${route_start}
${garp_line}
ExecStop=-$ip_bin address del $VIP_CIDR dev $dev
${route_stop}

[Install]
WantedBy=multi-user.target
UNIT
    unit_enable "$unit" start
    if ! has_vip "$dev"; then
        # shellcheck disable=SC2086 # VIP_FLAGS: nothing, or nodad
        "$ip_bin" address replace "$VIP_CIDR" dev "$dev"$VIP_FLAGS
        changed "re-added $VIP_CIDR on $dev (it had been removed)"
        if [ "${#garp[@]}" -gt 0 ]; then "${garp[@]}" >/dev/null 2>&1 || true; fi
    fi
    if [ "$HOST_ROUTE" = yes ] && ! ip route show "$VIP/32" dev "$dev" | grep -q .; then
        "$ip_bin" route replace "$VIP/32" dev "$dev"
        changed "added host route $VIP dev $dev"
    fi
}

lvs_check() {
    vip_init
    local dev
    dev=$(vip_device)
    check_unit "$(vip_unit)"
    has_vip "$dev" || drift "$VIP_CIDR is not on $dev"
    if [ "$HOST_ROUTE" = yes ] && ! ip route show "$VIP/32" dev "$dev" | grep -q .; then
        drift "no host route $VIP dev $dev"
    fi
}

lvs_remove() {
    vip_init
    local dev
    unit_remove "$(vip_unit)"
    # Whatever the unit did not take away (it was not running) goes too, on every device.
    for dev in $(ip -o "$FAM" addr show | awk -v a="$VIP_CIDR" '$4 == a { print $2 }'); do
        ip address del "$VIP_CIDR" dev "$dev"
        changed "removed $VIP_CIDR from $dev"
    done
    if [ "$HOST_ROUTE" = yes ] && ip route show "$VIP/32" | grep -q .; then
        ip route del "$VIP/32" || true
        changed "removed host route to $VIP"
    fi
}
