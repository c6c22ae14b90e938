#!/usr/bin/env bash
# Kernel settings for one role, applied now and at boot, and put back as they were on remove.
# Parameters: NAME (drop-in name), SETTINGS (array of KEY=VALUE; KEY is a path under /proc/sys in
# which @IFACE@ stands for the data-plane interface).

# RESOLVED: SETTINGS with the data-plane interface in place of @IFACE@.
resolve_settings() {
    local iface kv
    iface=$(data_iface)
    RESOLVED=()
    for kv in "${SETTINGS[@]}"; do RESOLVED+=("${kv//@IFACE@/$iface}"); done
}

lvs_apply() {
    resolve_settings
    sysctl_ensure "$NAME" "${RESOLVED[@]}"
}

lvs_check() {
    local kv key cur
    resolve_settings
    for kv in "${RESOLVED[@]}"; do
        key=${kv%%=*}
        cur=missing
        [ ! -e "$SYSCTL_DIR/$key" ] || IFS= read -r cur <"$SYSCTL_DIR/$key"
        [ "$cur" = "${kv#*=}" ] || drift "$key is $cur (want ${kv#*=})"
    done
    [ -f "/etc/sysctl.d/90-lvs-dr-$NAME.conf" ] || drift "/etc/sysctl.d/90-lvs-dr-$NAME.conf is missing"
}

lvs_remove() {
    sysctl_restore "$NAME"
}
