#!/usr/bin/env bash
# An NFS mount on a real server, held by a systemd mount unit of ours (mounted now and at boot, after
# the network), with the web server ordered after it so it never serves an empty mount point.
# Remove unmounts and removes our units only: no file on the NFS share or under the mount point is
# deleted, and the web server keeps running. A change of source or options replaces this resource:
# the real server is drained from its services first (Pulumi deletes its IPVS entries before this
# resource and adds them back after), so no request meets the remount.
# Parameters: SERVER (address), EXPORT, MOUNT_POINT, OPTIONS (comma list), WEB_SERVER.

mount_unit() { systemd-escape --path --suffix=mount "$MOUNT_POINT"; }
wait_unit() { printf 'lvs-dr-nfs-wait-%s.service\n' "$(systemd-escape --path "$MOUNT_POINT")"; }
# The server's NFS port: the mount's port= option, else 2049.
nfs_port() {
    local o port=2049
    for o in ${OPTIONS//,/ }; do
        case "$o" in port=[1-9]*) port=${o#port=} ;; esac
    done
    printf '%s\n' "$port"
}
web_dropin() {
    local unit
    case "$(pkg_name "$WEB_SERVER")" in apache2) unit=apache2.service ;; *) unit=httpd.service ;; esac
    printf '/etc/systemd/system/%s.d/lvs-dr-%s.conf\n' "$unit" "$(mount_unit)"
}

lvs_units() {
    mount_unit
    wait_unit
    web_dropin | sed 's|^/etc/systemd/system/||'
}

# The mount's source as mount(8) takes it and findmnt prints it: SERVER:EXPORT, an IPv6 SERVER in brackets.
mount_source() { echo "$(ipvs_addr "$SERVER"):$EXPORT"; }

lvs_apply() {
    local unit source current dropin wait port
    unit=$(mount_unit)
    wait=$(wait_unit)
    port=$(nfs_port)
    source=$(mount_source)
    pkg_ensure nfs-client
    if grep -v '^[[:space:]]*#' /etc/fstab | awk -v m="$MOUNT_POINT" '$2 == m { found = 1 } END { exit !found }'; then
        fail "/etc/fstab already has an entry for $MOUNT_POINT; remove it or choose another mount point"
    fi
    current=$(findmnt -n -o SOURCE --mountpoint "$MOUNT_POINT" || true)
    if [ -n "$current" ] && [ "$current" != "$source" ] && [ ! -f "/etc/systemd/system/$unit" ]; then
        fail "$MOUNT_POINT is already a mount of $current, not of lvs-dr"
    fi
    dir_ensure "$MOUNT_POINT"
    bash "$LVS_LIB/nfs-wait.sh" "$SERVER" "$port" 60 >/dev/null ||
        fail "the NFS server $SERVER does not accept connections on port $port (waited 60 s)"
    cat <<UNIT | unit_install "$wait" || true
# Managed by lvs-dr: pulumi destroy removes this unit.
# When a whole cluster boots, the NFS server may come up minutes after this host: the mount below
# waits here, however long it takes, rather than time out and leave the web server, which requires
# the mount, never started. (The mount's own timeout stays bounded: it also bounds the unmount at
# shutdown, which hangs for ever on an NFS server that is gone.)
[Unit]
Description=lvs-dr: wait for the NFS server of $MOUNT_POINT
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
TimeoutStartSec=infinity
ExecStart=/bin/bash $LVS_LIB/nfs-wait.sh $SERVER $port
UNIT
    local restart=no
    if cat <<UNIT | unit_install "$unit"; then restart=yes; fi
# Managed by lvs-dr: pulumi destroy unmounts and removes this unit (the files on the share stay).
[Unit]
Description=lvs-dr NFS mount of $source
Wants=network-online.target
Requires=$wait
After=network-online.target $wait

[Mount]
What=$source
Where=$MOUNT_POINT
Type=nfs
Options=$OPTIONS

[Install]
WantedBy=remote-fs.target
UNIT
    dropin=$(web_dropin)
    mkdir -p "${dropin%/*}"
    printf '# Managed by lvs-dr: serve only once the content is mounted.\n[Unit]\nRequiresMountsFor=%s\n' "$MOUNT_POINT" |
        write_file "$dropin" 0644 && units_changed
    unit_enable "$unit"
    current=$(findmnt -n -o SOURCE --mountpoint "$MOUNT_POINT" || true)
    # A mount that is not there is started, never restarted: systemd passes a restart on to every
    # unit that requires the mount, so restarting it would restart the web server, which requires it
    # (the drop-in above), while it serves (a new mount does not drain its real server).
    local job="" what=""
    if [ -z "$current" ]; then
        job=start what="mounted $source on $MOUNT_POINT"
    elif [ "$current" != "$source" ] || [ "$restart" = yes ]; then
        # Repair of drift only (a new source or new options replace this resource, and the old
        # one's remove unmounts first): the web server restarts with the mount.
        job=restart what="mounted $source on $MOUNT_POINT again (the web server restarted with it)"
    fi
    if [ -n "$job" ]; then
        systemctl "$job" "$unit" || fail "cannot mount $source on $MOUNT_POINT: $(systemctl status --no-pager "$unit" 2>&1 | tail -n 5)"
        changed "$what"
    fi
}

lvs_check() {
    local current
    check_unit "$(mount_unit)"
    [ -f "/etc/systemd/system/$(wait_unit)" ] || drift "$(wait_unit) is missing"
    current=$(findmnt -n -o SOURCE --mountpoint "$MOUNT_POINT" || true)
    [ "$current" = "$(mount_source)" ] || drift "$(mount_source) is not mounted on $MOUNT_POINT${current:+ (found $current)}"
}

lvs_remove() {
    local unit dropin
    unit=$(mount_unit)
    dropin=$(web_dropin)
    # The web server no longer requires the mount before the mount stops (systemd would stop it too).
    if [ -e "$dropin" ]; then
        remove_file "$dropin"
        rmdir "${dropin%/*}" 2>/dev/null || true
        units_changed
        units_reload
    fi
    unit_remove "$unit"
    unit_remove "$(wait_unit)"
    if findmnt -n --mountpoint "$MOUNT_POINT" -o SOURCE | grep -qxF "$(mount_source)"; then
        umount "$MOUNT_POINT"
        changed "unmounted $MOUNT_POINT"
    fi
    dir_release "$MOUNT_POINT"
}
