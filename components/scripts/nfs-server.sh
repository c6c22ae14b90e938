#!/usr/bin/env bash
# The NFS server: package installed when missing, nfs-server enabled and started, NFSv4's port
# opened in an active firewall. Remove puts the service and the firewall back as they were.
# Parameters: none beyond the common ones.

lvs_apply() {
    svc_absent nfs-server nfs-server.service "$(pkg_name nfs-server)"
    pkg_ensure nfs-server
    dir_ensure /etc/exports.d
    svc_ensure nfs-server nfs-server.service
    fw_sync nfs-server 2049/tcp
}

lvs_check() {
    pkg_installed "$(pkg_name nfs-server)" || drift "package $(pkg_name nfs-server) is not installed"
    check_unit nfs-server.service active
    fw_check nfs-server 2049/tcp
}

lvs_remove() {
    fw_revoke nfs-server
    svc_restore nfs-server
    dir_release /etc/exports.d
}
