#!/usr/bin/env bash
# The NFS server: package installed when missing, nfs-server enabled and started, NFSv4's port
# opened in an active firewall. Remove puts the service and the firewall back as they were.
# Parameters: none beyond the common ones.

lvs_apply() {
    mkdir -p "$LVS_STATE/services"
    if [ ! -f "$LVS_STATE/services/nfs-server" ] && ! pkg_installed "$(pkg_name nfs-server)"; then
        printf 'unit=nfs-server.service\nenabled=absent\nactive=absent\n' >"$LVS_STATE/services/nfs-server"
    fi
    pkg_ensure nfs-server
    mkdir -p /etc/exports.d
    svc_ensure nfs-server nfs-server.service
    fw_allow nfs-server 2049/tcp
}

lvs_check() {
    pkg_installed "$(pkg_name nfs-server)" || drift "package $(pkg_name nfs-server) is not installed"
    check_unit nfs-server.service active
}

lvs_remove() {
    fw_revoke nfs-server
    svc_restore nfs-server
}
