#!/usr/bin/env bash
# Director: ipvsadm installed; ip_vs and the scheduler modules loaded now and at every boot.
# Parameters: MODULES (array of kernel module names, e.g. ip_vs ip_vs_rr).

MODULES_FILE=/etc/modules-load.d/lvs-dr.conf

modules_text() {
    echo "# Managed by lvs-dr: IPVS modules for the director. pulumi destroy removes this file."
    printf '%s\n' "${MODULES[@]}"
}

lvs_apply() {
    local m
    pkg_ensure ipvsadm
    for m in "${MODULES[@]}"; do
        if [ ! -d "/sys/module/$m" ]; then
            modprobe "$m" || fail "cannot load kernel module $m (does this kernel have IPVS?)"
            changed "loaded kernel module $m"
        fi
    done
    modules_text | write_file "$MODULES_FILE" 0644 || true
}

lvs_check() {
    local m
    command -v ipvsadm >/dev/null 2>&1 || drift "ipvsadm is not installed"
    for m in "${MODULES[@]}"; do [ -d "/sys/module/$m" ] || drift "kernel module $m is not loaded"; done
    modules_text | check_file "$MODULES_FILE"
}

lvs_remove() {
    # Modules stay loaded (other IPVS users may need them); they are no longer loaded at boot.
    remove_file "$MODULES_FILE"
}
