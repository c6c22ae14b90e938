#!/usr/bin/env bash
# Director: ipvsadm installed; ip_vs and the scheduler modules loaded now and at every boot.
# Parameters: MODULES (array of kernel module names, e.g. ip_vs ip_vs_rr).

MODULES_FILE=/etc/modules-load.d/lvs-dr.conf

lvs_apply() {
    local m
    pkg_ensure ipvsadm
    for m in "${MODULES[@]}"; do
        if [ ! -d "/sys/module/$m" ]; then
            modprobe "$m" || fail "cannot load kernel module $m (does this kernel have IPVS?)"
            changed "loaded kernel module $m"
        fi
    done
    {
        echo "# Managed by lvs-dr: IPVS modules for the director. pulumi destroy removes this file."
        printf '%s\n' "${MODULES[@]}"
    } | write_file "$MODULES_FILE" 0644 || true
}

lvs_remove() {
    # Modules stay loaded (other IPVS users may need them); they are no longer loaded at boot.
    remove_file "$MODULES_FILE"
}
