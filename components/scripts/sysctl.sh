#!/usr/bin/env bash
# Kernel settings for one role, applied now and at boot, and put back as they were on remove.
# Parameters: NAME (drop-in name), SETTINGS (array of KEY=VALUE; KEY is a path under /proc/sys in
# which @IFACE@ stands for the data-plane interface).

lvs_apply() {
    local iface kv resolved=()
    iface=$(data_iface)
    for kv in "${SETTINGS[@]}"; do resolved+=("${kv//@IFACE@/$iface}"); done
    sysctl_ensure "$NAME" "${resolved[@]}"
}

lvs_remove() {
    sysctl_restore "$NAME"
}
