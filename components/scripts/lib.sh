#!/usr/bin/env bash
# lvs-dr shared library: rendered ahead of every concern script.
# A concern defines lvs_apply, lvs_remove and lvs_check; lvs_main runs one of them and reports what
# changed (apply, remove) or what differs from the desired state (check, which changes nothing).
# Parameters every script receives: LVS_RESOURCE (the Pulumi resource name), DATA_ADDRESS, DATA_IFACE (may be empty).
# Everything we record about a host's previous state lives under /var/lib/lvs-dr.
set -euo pipefail
umask 022
export LC_ALL=C
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

LVS_STATE=/var/lib/lvs-dr
# shellcheck disable=SC2034 # used by the concern scripts
LVS_ETC=/etc/lvs-dr
# Changes are counted in a file: many are made in subshells (pipelines, command substitutions).
LVS_CHANGES=$(mktemp)
LVS_DRIFT=$(mktemp)
# Functions a concern wants run however the script ends (add with LVS_ON_EXIT+=(function)).
LVS_ON_EXIT=()
lvs_cleanup() {
    local f
    for f in "${LVS_ON_EXIT[@]}"; do "$f" || true; done
    rm -f "$LVS_CHANGES" "$LVS_DRIFT"
}
trap lvs_cleanup EXIT

say() { printf 'lvs-dr %s: %s\n' "$LVS_RESOURCE" "$*"; }
changed() {
    echo >>"$LVS_CHANGES"
    say "changed: $*"
}
drift() {
    echo "$*" >>"$LVS_DRIFT"
    say "drift: $*"
}
fail() {
    printf 'lvs-dr %s: error: %s\n' "$LVS_RESOURCE" "$*" >&2
    exit 1
}

lvs_main() {
    [ "$(id -u)" -eq 0 ] || fail "must run as root (use an SSH user with passwordless sudo)"
    # An audit trail in the system log: journalctl -t lvs-dr shows every run on this host.
    logger -t lvs-dr -- "$LVS_RESOURCE: $1" 2>/dev/null || true
    case "$1" in
        check)
            lvs_check
            if [ -s "$LVS_DRIFT" ]; then
                say "check: $(wc -l <"$LVS_DRIFT") difference(s)"
            else
                say "check: in sync"
            fi
            return
            ;;
        apply) lvs_apply ;;
        remove)
            lvs_remove
            # Our bookkeeping folders go once nothing of ours is left in them.
            find "$LVS_STATE" "$LVS_ETC" -depth -type d -empty -delete 2>/dev/null || true
            ;;
        *) fail "unknown action '$1' (expected apply, remove or check)" ;;
    esac
    local count
    count=$(wc -l <"$LVS_CHANGES")
    if [ "$count" -eq 0 ]; then
        say "$1: no changes"
    else
        say "$1: $count change(s)"
    fi
}

# write_file PATH MODE: write stdin to PATH (atomically) unless it already holds exactly that.
write_file() {
    local path=$1 mode=$2 tmp
    tmp=$(mktemp "${path%/*}/.lvs-dr.XXXXXX")
    cat >"$tmp"
    chmod "$mode" "$tmp"
    if [ -f "$path" ] && cmp -s "$tmp" "$path"; then
        rm -f "$tmp"
        return 1
    fi
    mv -f "$tmp" "$path"
    changed "wrote $path"
}

# check_file PATH: report drift unless PATH holds exactly stdin.
check_file() {
    if [ ! -f "$1" ]; then
        drift "$1 is missing"
    elif ! cmp -s - "$1"; then
        drift "$1 was changed"
    fi
}

# ipvs_check WHAT RULES_FILE: report drift unless the IPVS table's line for this entry (live_line,
# as `ipvsadm -S -n` prints it) and its rules file both say what desired_args wants.
ipvs_check() {
    local have
    desired_args
    have=$(live_line)
    if [ -z "$have" ]; then
        drift "$1 is missing from the IPVS table"
    elif [ "$have" != "${DESIRED[*]}" ]; then
        drift "$1 is '$have' in the IPVS table (want '${DESIRED[*]}')"
    fi
    printf '%s\n' "${DESIRED[*]}" | check_file "$2"
}

# check_unit UNIT [active]: report drift unless UNIT is enabled (and running, with "active").
check_unit() {
    systemctl is-enabled --quiet "$1" 2>/dev/null || drift "$1 is not enabled"
    if [ "${2:-}" = active ] && ! systemctl is-active --quiet "$1"; then drift "$1 is not running"; fi
}

remove_file() {
    if [ -e "$1" ]; then
        rm -f "$1"
        changed "removed $1"
    fi
}

# data_iface: the data-plane interface: DATA_IFACE when given, else the one holding DATA_ADDRESS.
data_iface() {
    local iface
    if [ -n "$DATA_IFACE" ]; then
        ip link show dev "$DATA_IFACE" >/dev/null 2>&1 || fail "interface $DATA_IFACE does not exist"
        printf '%s\n' "$DATA_IFACE"
        return
    fi
    iface=$(ip -o -4 addr show | awk -v a="$DATA_ADDRESS" '{ split($4, p, "/"); if (p[1] == a) { print $2; exit } }')
    [ -n "$iface" ] || fail "no interface holds the data-plane address $DATA_ADDRESS; set the host's 'interface' in the config"
    printf '%s\n' "$iface"
}

# --- packages ----------------------------------------------------------------------------------

os_family() {
    if command -v apt-get >/dev/null 2>&1; then
        echo debian
    elif command -v dnf >/dev/null 2>&1 || command -v yum >/dev/null 2>&1; then
        echo rhel
    else
        fail "unsupported distribution: neither apt-get nor dnf/yum found"
    fi
}

# pkg_name GENERIC: the distribution's package for apache, nfs-server, nfs-client, ipvsadm.
pkg_name() {
    case "$1:$(os_family)" in
        apache:debian) echo apache2 ;;
        apache:rhel) echo httpd ;;
        nfs-server:debian) echo nfs-kernel-server ;;
        nfs-client:debian) echo nfs-common ;;
        nfs-server:rhel | nfs-client:rhel) echo nfs-utils ;;
        ipvsadm:*) echo ipvsadm ;;
        *) fail "no package known for $1" ;;
    esac
}

pkg_installed() {
    if [ "$(os_family)" = debian ]; then
        dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
    else
        rpm -q "$1" >/dev/null 2>&1
    fi
}

# pkg_ensure GENERIC...: install what is missing; installed packages are left as they are.
pkg_ensure() {
    local generic pkg
    for generic in "$@"; do
        pkg=$(pkg_name "$generic")
        if pkg_installed "$pkg"; then
            continue
        fi
        if [ "$(os_family)" = debian ]; then
            export DEBIAN_FRONTEND=noninteractive
            apt-get install -y -q --no-install-recommends "$pkg" >/dev/null ||
                { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "$pkg" >/dev/null; } ||
                fail "could not install $pkg with apt-get"
        elif command -v dnf >/dev/null 2>&1; then
            dnf install -y -q "$pkg" >/dev/null || fail "could not install $pkg with dnf"
        else
            yum install -y -q "$pkg" >/dev/null || fail "could not install $pkg with yum"
        fi
        changed "installed package $pkg"
    done
}

# --- services ----------------------------------------------------------------------------------

# svc_ensure TAG UNIT: enable and start UNIT; the first time, remember whether it was enabled and
# running before (or not installed at all) so that svc_restore TAG puts it back.
svc_ensure() {
    local tag=$1 unit=$2 prev="$LVS_STATE/services/$1"
    mkdir -p "$LVS_STATE/services"
    if [ ! -f "$prev" ]; then
        {
            printf 'unit=%s\n' "$unit"
            printf 'enabled=%s\n' "$(systemctl is-enabled "$unit" 2>/dev/null || true)"
            printf 'active=%s\n' "$(systemctl is-active "$unit" 2>/dev/null || true)"
        } >"$prev"
    fi
    unit_enable "$unit" start
}

# svc_restore TAG: put the unit back to how svc_ensure TAG first found it.
svc_restore() {
    local prev="$LVS_STATE/services/$1" unit enabled active
    [ -f "$prev" ] || return 0
    unit=$(sed -n 's/^unit=//p' "$prev")
    enabled=$(sed -n 's/^enabled=//p' "$prev")
    active=$(sed -n 's/^active=//p' "$prev")
    if [ "$active" != active ] && systemctl is-active --quiet "$unit"; then
        systemctl stop "$unit"
        changed "stopped $unit (it was not running before lvs-dr)"
    fi
    if [ "$enabled" != enabled ] && systemctl is-enabled --quiet "$unit" 2>/dev/null; then
        systemctl disable --quiet "$unit"
        changed "disabled $unit (it was not enabled before lvs-dr)"
    fi
    rm -f "$prev"
}

# unit_enable UNIT [start]: enable UNIT (at boot) unless it is, and with "start" start it unless it runs.
unit_enable() {
    if ! systemctl is-enabled --quiet "$1" 2>/dev/null; then
        systemctl enable --quiet "$1"
        changed "enabled $1"
    fi
    if [ "${2:-}" = start ] && ! systemctl is-active --quiet "$1"; then
        systemctl start "$1"
        changed "started $1"
    fi
}

# unit_install NAME: install stdin as /etc/systemd/system/NAME; returns 0 when it changed.
unit_install() {
    if write_file "/etc/systemd/system/$1" 0644; then
        systemctl daemon-reload
        return 0
    fi
    return 1
}

unit_remove() {
    local name=$1
    if [ -f "/etc/systemd/system/$name" ]; then
        systemctl disable --quiet --now "$name" 2>/dev/null || true
        rm -f "/etc/systemd/system/$name"
        systemctl daemon-reload
        changed "removed unit $name"
    fi
}

# --- kernel settings ---------------------------------------------------------------------------

# sysctl_ensure NAME KEY=VALUE...: KEY is a path under /proc/sys (net/ipv4/conf/all/arp_ignore), so
# interface names with dots need no escaping. Values are applied now and at boot by a drop-in in
# /etc/sysctl.d; the value each key had before lvs-dr first set it is kept for sysctl_restore.
sysctl_ensure() {
    local name=$1 kv key val cur
    shift
    local prev="$LVS_STATE/sysctl/$name.prev" dropin="/etc/sysctl.d/90-lvs-dr-$name.conf"
    mkdir -p "$LVS_STATE/sysctl"
    touch "$prev"
    # Keys set by an earlier run but no longer wanted go back to their old value.
    local recorded=()
    mapfile -t recorded <"$prev"
    for kv in "${recorded[@]}"; do
        key=${kv%%=*}
        val=${kv#*=}
        [ -n "$key" ] || continue
        local wanted=no want
        for want in "$@"; do [ "${want%%=*}" = "$key" ] && wanted=yes; done
        if [ "$wanted" = no ]; then
            if [ -e "/proc/sys/$key" ]; then printf '%s\n' "$val" >"/proc/sys/$key"; fi
            awk -F= -v k="$key" '$1 != k' "$prev" >"$prev.new"
            mv "$prev.new" "$prev"
            changed "restored $key=$val"
        fi
    done
    for kv in "$@"; do
        key=${kv%%=*}
        val=${kv#*=}
        [ -e "/proc/sys/$key" ] || fail "kernel setting $key does not exist"
        cur=$(cat "/proc/sys/$key")
        if ! awk -F= -v k="$key" '$1 == k { found = 1 } END { exit !found }' "$prev"; then
            printf '%s=%s\n' "$key" "$cur" >>"$prev"
        fi
        if [ "$cur" != "$val" ]; then
            printf '%s\n' "$val" >"/proc/sys/$key"
            changed "set $key=$val (was $cur)"
        fi
    done
    {
        printf '# Managed by lvs-dr (%s): pulumi destroy removes this file and restores the old values.\n' "$name"
        for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done
    } | write_file "$dropin" 0644 || true
}

# sysctl_restore NAME: put back every value sysctl_ensure NAME changed, and remove its drop-in.
sysctl_restore() {
    local name=$1 key val cur
    local prev="$LVS_STATE/sysctl/$name.prev"
    remove_file "/etc/sysctl.d/90-lvs-dr-$name.conf"
    [ -f "$prev" ] || return 0
    while IFS='=' read -r key val; do
        if [ -z "$key" ] || [ ! -e "/proc/sys/$key" ]; then continue; fi
        cur=$(cat "/proc/sys/$key")
        if [ "$cur" != "$val" ]; then
            printf '%s\n' "$val" >"/proc/sys/$key"
            changed "restored $key=$val"
        fi
    done <"$prev"
    rm -f "$prev"
}

# --- firewall ----------------------------------------------------------------------------------

fw_backend() {
    if command -v firewall-cmd >/dev/null 2>&1 && systemctl is-active --quiet firewalld 2>/dev/null; then
        echo firewalld
    elif command -v ufw >/dev/null 2>&1 && ufw status 2>/dev/null | grep -q '^Status: active'; then
        echo ufw
    elif systemctl is-active --quiet nftables 2>/dev/null; then
        echo nftables
    else
        echo none
    fi
}

# fw_allow TAG PORT/PROTO...: open just these ports when a firewall is active; remember the rules we
# added (not those that were already there) so that fw_revoke TAG removes exactly them.
fw_allow() {
    local tag=$1 rule backend
    shift
    local added="$LVS_STATE/firewall/$tag"
    backend=$(fw_backend)
    mkdir -p "$LVS_STATE/firewall"
    touch "$added"
    for rule in "$@"; do
        case "$backend" in
            firewalld)
                if ! firewall-cmd --quiet --permanent --query-port="$rule"; then
                    firewall-cmd --quiet --permanent --add-port="$rule"
                    firewall-cmd --quiet --add-port="$rule"
                    printf 'firewalld %s\n' "$rule" >>"$added"
                    changed "opened $rule in firewalld"
                elif ! firewall-cmd --quiet --query-port="$rule"; then
                    firewall-cmd --quiet --add-port="$rule"
                    changed "opened $rule in firewalld's runtime rules"
                fi
                ;;
            ufw)
                if ! ufw show added 2>/dev/null | grep -qxF "ufw allow $rule"; then
                    ufw allow "$rule" >/dev/null
                    printf 'ufw %s\n' "$rule" >>"$added"
                    changed "opened $rule in ufw"
                fi
                ;;
            nftables)
                say "warning: nftables is active without firewalld or ufw; lvs-dr does not edit raw nftables rules: allow $rule yourself"
                ;;
            none) ;;
        esac
    done
}

fw_revoke() {
    local added="$LVS_STATE/firewall/$1" backend rule
    [ -f "$added" ] || return 0
    while read -r backend rule; do
        case "$backend" in
            firewalld)
                firewall-cmd --quiet --permanent --remove-port="$rule" || true
                firewall-cmd --quiet --remove-port="$rule" || true
                changed "closed $rule in firewalld"
                ;;
            ufw)
                ufw delete allow "$rule" >/dev/null || true
                changed "closed $rule in ufw"
                ;;
        esac
    done <"$added"
    rm -f "$added"
}

# --- SELinux -----------------------------------------------------------------------------------

# selinux_bool_on TAG BOOL: turn a boolean on (persistently) on SELinux hosts; remember its old value.
selinux_bool_on() {
    local tag=$1 bool=$2 cur
    command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled || return 0
    cur=$(getsebool "$bool" | awk '{ print $NF }')
    mkdir -p "$LVS_STATE/selinux"
    [ -f "$LVS_STATE/selinux/$tag" ] || printf '%s %s\n' "$bool" "$cur" >"$LVS_STATE/selinux/$tag"
    if [ "$cur" != on ]; then
        setsebool -P "$bool" on
        changed "set SELinux boolean $bool on"
    fi
}

selinux_bool_restore() {
    local prev="$LVS_STATE/selinux/$1" bool val
    [ -f "$prev" ] || return 0
    read -r bool val <"$prev"
    if [ "$val" = off ] && command -v setsebool >/dev/null 2>&1; then
        setsebool -P "$bool" off
        changed "set SELinux boolean $bool back off"
    fi
    rm -f "$prev"
}
