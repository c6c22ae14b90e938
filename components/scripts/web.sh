#!/usr/bin/env bash
# The web server of a real server: installed when missing, enabled and started, its service ports
# opened in an active firewall, and on SELinux hosts allowed to serve NFS content. Remove puts the
# service, the firewall and the SELinux boolean back as they were (the package stays installed).
# Parameters: WEB_SERVER (apache), PORTS (array of PORT/PROTO: exactly these are opened; a port no
# longer listed is closed again if lvs-dr opened it), SERVES_NFS (yes|no).

web_unit() {
    case "$(pkg_name "$WEB_SERVER")" in
        apache2) echo apache2.service ;;
        httpd) echo httpd.service ;;
    esac
}

lvs_apply() {
    local unit
    unit=$(web_unit)
    # Record the unit's state before the package's own install scripts enable it.
    svc_absent web "$unit" "$(pkg_name "$WEB_SERVER")"
    pkg_ensure "$WEB_SERVER"
    svc_ensure web "$unit"
    fw_sync web "${PORTS[@]}"
    if [ "$SERVES_NFS" = yes ]; then selinux_bool_on web-nfs httpd_use_nfs; fi
}

lvs_check() {
    pkg_installed "$(pkg_name "$WEB_SERVER")" || drift "package $(pkg_name "$WEB_SERVER") is not installed"
    check_unit "$(web_unit)" active
    fw_check web "${PORTS[@]}"
}

lvs_remove() {
    selinux_bool_restore web-nfs
    fw_revoke web
    svc_restore web
}
