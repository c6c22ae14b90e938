#!/usr/bin/env bash
# lvs-dr shared library, installed on each host (in LVS_LIB, by the component's LiveState) and
# sourced by every resource's script. A resource's script is a few lines Pulumi renders: its
# parameters as quoted assignments, then `. "$LVS_LIB/lib.sh" && lvs_main ACTION`. lvs_main sources
# the concern (LVS_LIB/LVS_CONCERN.sh), which defines lvs_apply, lvs_remove and lvs_check (and
# lvs_units when it owns systemd units), runs one of them and reports what changed (apply, remove)
# or what differs from the desired state (check, which changes nothing).
#
# Parameters every resource's script has: LVS_RESOURCE (the Pulumi resource name), LVS_COMPONENT
# (its component), LVS_CONCERN, LVS_LIB, LVS_OBJECT (what it manages on the host, like
# vip-10.86.0.180; empty when it manages nothing of its own), LVS_PARAMS (the names of all its
# parameters), DATA_ADDRESS, DATA_IFACE (may be empty), and the concern's own.
#
# Everything we record about a host lives under /var/lib/lvs-dr:
#   resources/NAME.def  the parameters of resource NAME as last applied (what `check` compares with)
#   owners/OBJECT       the resource that manages OBJECT now; a remove by any other resource leaves
#                       OBJECT alone (a renamed host or service is created before the old one goes)
#   sysctl/ services/ firewall/ selinux/ exports/: what a host had before we changed it
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
# Functions a concern wants run however the script ends (add with LVS_ON_EXIT+=(function)); systemd
# reads the unit files this run wrote or removed even when it fails half-way.
LVS_ON_EXIT=(units_reload)
lvs_cleanup() {
    local f
    for f in "${LVS_ON_EXIT[@]}"; do "$f" || true; done
    rm -f "$LVS_CHANGES" "$LVS_DRIFT"
}
trap lvs_cleanup EXIT

# Everything a script says goes to its output (the Pulumi command's stdout) and to the system log,
# so `journalctl -t lvs-dr` on a host shows every run and every change, whatever the client kept.
# A check run (live.sh's, on a refresh) collects its lines in LVS_JOURNAL_BUFFER and hands them to
# logger once at its end (journal_flush): every program started costs an emulated or busy host, and a
# refresh checks every resource.
journal() {
    if [ -n "${LVS_JOURNAL_BUFFER:-}" ]; then
        printf '%s\n' "$*" >>"$LVS_JOURNAL_BUFFER"
    else
        logger -t lvs-dr -- "$*" 2>/dev/null || true
    fi
}
journal_flush() {
    [ -n "${LVS_JOURNAL_BUFFER:-}" ] || return 0
    [ ! -s "$LVS_JOURNAL_BUFFER" ] || logger -t lvs-dr -f "$LVS_JOURNAL_BUFFER" 2>/dev/null || true
    rm -f "$LVS_JOURNAL_BUFFER"
}
say() {
    printf 'lvs-dr %s: %s\n' "$LVS_RESOURCE" "$*"
    journal "$LVS_RESOURCE: $*"
}
changed() {
    echo >>"$LVS_CHANGES"
    say "changed: $*"
}
drift() {
    echo "$*" >>"$LVS_DRIFT"
    printf 'lvs-dr %s: drift: %s\n' "$LVS_RESOURCE" "$*"
}
fail() {
    printf 'lvs-dr %s: error: %s\n' "$LVS_RESOURCE" "$*" >&2
    journal "$LVS_RESOURCE: error: $*"
    exit 1
}

lvs_main() {
    [ "$EUID" -eq 0 ] || fail "must run as root (use an SSH user with passwordless sudo)"
    # One line per run: `journalctl -t lvs-dr -g '^run '` counts the host scripts that ran.
    journal "run $LVS_RESOURCE $1"
    [ -r "$LVS_LIB/$LVS_CONCERN.sh" ] || fail "$LVS_LIB/$LVS_CONCERN.sh is missing; pulumi up --refresh reinstalls it"
    # shellcheck disable=SC1090 # the concern, installed beside this library
    . "$LVS_LIB/$LVS_CONCERN.sh"
    case "$1" in
        check)
            if [ -n "$LVS_OBJECT" ]; then
                owner_read "$LVS_OBJECT"
                [ "$LVS_RECORDED_OWNER" = "$LVS_RESOURCE" ] || drift "$LVS_OBJECT is not recorded as managed by this resource (owner: $LVS_RECORDED_OWNER)"
            fi
            lvs_check
            if [ -s "$LVS_DRIFT" ]; then
                say "check: $(wc -l <"$LVS_DRIFT") difference(s)"
            else
                say "check: in sync"
            fi
            return
            ;;
        apply)
            lvs_apply
            if [ -n "$LVS_OBJECT" ]; then
                owner_take
                def_save
            fi
            ;;
        remove)
            LVS_RECORDED_OWNER=""
            [ -z "$LVS_OBJECT" ] || owner_read "$LVS_OBJECT"
            if [ -n "$LVS_RECORDED_OWNER" ] && [ "$LVS_RECORDED_OWNER" != "$LVS_RESOURCE" ]; then
                say "$LVS_OBJECT is managed by $LVS_RECORDED_OWNER now: left in place"
            else
                lvs_remove
                [ -z "$LVS_OBJECT" ] || rm -f "$LVS_STATE/owners/$LVS_OBJECT"
            fi
            rm -f "$LVS_STATE/resources/$LVS_RESOURCE.def"
            # Our bookkeeping folders go once nothing of ours is left in them.
            find "$LVS_STATE" "$LVS_ETC" -depth -type d -empty -delete 2>/dev/null || true
            ;;
        *) fail "unknown action '$1' (expected apply, remove or check)" ;;
    esac
    local made=()
    mapfile -t made <"$LVS_CHANGES"
    if [ "${#made[@]}" -eq 0 ]; then
        say "$1: no changes"
    else
        say "$1: ${#made[@]} change(s)"
    fi
}

# owner_read OBJECT: LVS_RECORDED_OWNER, the resource recorded as managing OBJECT (empty when none
# is); read in this shell (a check runs it for every resource of a refresh). The name is lib.sh's
# own (LVS_): a concern's parameters (nfs-export.sh's OWNER) must stay as the resource gave them.
owner_read() {
    LVS_RECORDED_OWNER=""
    [ ! -f "$LVS_STATE/owners/$1" ] || IFS= read -r LVS_RECORDED_OWNER <"$LVS_STATE/owners/$1" || true
}

owner_take() {
    local was
    owner_read "$LVS_OBJECT"
    was=$LVS_RECORDED_OWNER
    [ "$was" = "$LVS_RESOURCE" ] && return 0
    mkdir -p "$LVS_STATE/owners"
    printf '%s\n' "$LVS_RESOURCE" | write_file "$LVS_STATE/owners/$LVS_OBJECT" 0644 quiet
    [ -z "$was" ] || say "took over $LVS_OBJECT from $was"
}

# def_save: record this resource's parameters as applied (what its check compares the host with).
# (Compared in the shell first: most runs change nothing, and each program started costs.)
def_save() {
    local file="$LVS_STATE/resources/$LVS_RESOURCE.def" text old=""
    text=$(
        echo "# lvs-dr: the parameters of $LVS_RESOURCE as last applied (written by its apply)"
        declare -p "${LVS_PARAMS[@]}"
    )
    [ ! -f "$file" ] || old=$(<"$file")
    [ "$text" != "$old" ] || return 0
    [ -d "${file%/*}" ] || mkdir -p "${file%/*}"
    printf '%s\n' "$text" | write_file "$file" 0600 quiet || true
}

# write_file PATH MODE [quiet] [owner=USER:GROUP]: write stdin to PATH unless it already holds exactly
# that (content, mode and owner); returns 0 when it wrote. The text goes to a temporary file beside
# PATH, gets its mode and owner, and is renamed over PATH, so a reader (a web server, systemd, an NFS
# client) sees the old file or the new one, never a part of either.
# "quiet": our own bookkeeping, not a change to report.
write_file() {
    local path=$1 mode=$2 quiet=no owner="" opt tmp
    shift 2
    for opt in "$@"; do
        case "$opt" in
            quiet) quiet=yes ;;
            owner=*) owner=${opt#owner=} ;;
        esac
    done
    tmp=$(mktemp "${path%/*}/.lvs-dr.XXXXXX")
    if ! cat >"$tmp" || ! chmod "$mode" "$tmp" || { [ -n "$owner" ] && ! chown "$owner" "$tmp"; }; then
        rm -f "$tmp"
        fail "could not write $path"
    fi
    local modes=()
    [ ! -f "$path" ] || mapfile -t modes < <(stat -c '%a %U:%G' "$path" "$tmp")
    if [ "${#modes[@]}" -eq 2 ] && [ "${modes[0]}" = "${modes[1]}" ] && cmp -s "$tmp" "$path"; then
        rm -f "$tmp"
        return 1
    fi
    mv -f "$tmp" "$path"
    [ "$quiet" = yes ] || changed "wrote $path"
}

# record PATH: our own bookkeeping under $LVS_STATE, written atomically from stdin (never reported).
record() {
    mkdir -p "${1%/*}"
    write_file "$1" 0600 quiet || true
}

# record_add PATH LINE: append LINE to a bookkeeping file (atomically: the whole file is rewritten).
record_add() {
    { cat "$1" 2>/dev/null || true; printf '%s\n' "$2"; } | record "$1"
}

# check_file PATH: report drift unless PATH holds exactly stdin.
check_file() {
    if [ ! -f "$1" ]; then
        drift "$1 is missing"
    elif ! cmp -s - "$1"; then
        drift "$1 was changed"
    fi
}

# ipvs_check WHAT [ABSENT_OK...]: report drift unless the IPVS table's line for this entry
# (live_line, as `ipvsadm -S -n` prints it) is what desired_args wants. An absent entry is drift
# unless the command ABSENT_OK (if given) says keepalived left it out on purpose.
ipvs_check() {
    local what=$1 have
    shift
    desired_args
    have=$(live_line)
    if [ -n "$have" ] && [ "$have" != "${DESIRED[*]}" ]; then
        drift "$what is '$have' in the IPVS table (want '${DESIRED[*]}')"
    elif [ -z "$have" ] && ! { [ "$#" -gt 0 ] && "$@"; }; then
        drift "$what is missing from the IPVS table"
    fi
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

# dir_ensure PATH: create PATH when it is missing, marking every folder it creates as ours, so that
# dir_release takes away exactly the folders we made, once they are empty (never a file, never a
# folder another mount of ours still uses: /srv/www made for two mount points stays until both go).
dir_ensure() {
    [ -d "$1" ] && return 0
    local dir=$1
    mkdir -p "$LVS_STATE/dirs"
    while [ ! -d "$dir" ]; do
        : >"$LVS_STATE/dirs/$(systemd-escape --path "$dir")"
        dir=${dir%/*}
    done
    mkdir -p "$1"
    changed "created $1"
}

# dir_release PATH: remove PATH and then each parent, as long as lvs-dr made it and it is empty.
dir_release() {
    local dir=$1 mark
    while [ -n "$dir" ]; do
        mark="$LVS_STATE/dirs/$(systemd-escape --path "$dir")"
        [ -f "$mark" ] || return 0
        if [ -d "$dir" ]; then
            rmdir -- "$dir" 2>/dev/null || return 0
            changed "removed $dir (lvs-dr created it)"
        fi
        rm -f -- "$mark"
        dir=${dir%/*}
    done
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

# net_iface NETWORK: the interface of the host's own address in NETWORK (like 10.86.2.0/24), by the
# kernel's route to that network (the one the address brought).
net_iface() {
    local iface
    iface=$(ip -o -4 route show exact "$1" table main proto kernel | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
    [ -n "$iface" ] || fail "no interface of this host has an address in $1 (see lvs-dr:hosts.NAME.otherAddresses)"
    printf '%s\n' "$iface"
}

# garp_command DEV ADDRESS: the command line (one word per line) that announces ADDRESS on DEV with
# gratuitous ARP, so neighbours that cached another MAC for it (a replaced director) update at once;
# nothing when no arping is installed. Debian's and RHEL's two arpings take different options.
garp_command() {
    local bin
    bin=$(command -v arping 2>/dev/null) || return 0
    if "$bin" -h 2>&1 | grep -q -- '-I <device>\|-I device'; then
        printf '%s\n' "$bin" -q -U -c 2 -I "$1" "$2"   # iputils arping
    else
        printf '%s\n' "$bin" -q -U -c 2 -i "$1" -S "$2" "$2"   # Thomas Habets' arping
    fi
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
        keepalived:*) echo keepalived ;;
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
    local unit=$2 prev="$LVS_STATE/services/$1"
    if [ ! -f "$prev" ]; then
        {
            printf 'unit=%s\n' "$unit"
            printf 'enabled=%s\n' "$(systemctl is-enabled "$unit" 2>/dev/null || true)"
            printf 'active=%s\n' "$(systemctl is-active "$unit" 2>/dev/null || true)"
        } | record "$prev"
    fi
    unit_enable "$unit" start
}

# svc_absent TAG UNIT PACKAGE: before PACKAGE is installed (whose own scripts may enable and start
# UNIT), record that UNIT did not exist, so svc_restore TAG stops and disables it again.
svc_absent() {
    if [ ! -f "$LVS_STATE/services/$1" ] && ! pkg_installed "$3"; then
        printf 'unit=%s\nenabled=absent\nactive=absent\n' "$2" | record "$LVS_STATE/services/$1"
    fi
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

# Unit files are written, enabled and removed with no reload of systemd each time (a daemon-reload
# takes seconds on a small host): the first thing that needs systemd to see them (units_reload),
# or the end of the run, reloads once for all of them.
# (A file marks it: unit files are mostly written in pipelines, that is in subshells.)
units_changed() { : >"$LVS_CHANGES.units"; }
units_reload() {
    [ -e "$LVS_CHANGES.units" ] || return 0
    systemctl daemon-reload
    rm -f "$LVS_CHANGES.units"
}

# unit_enable UNIT [start]: enable UNIT (at boot) unless it is, and with "start" start it unless it
# runs. Systemd has read every unit file written so far when it returns.
unit_enable() {
    if ! systemctl is-enabled --quiet "$1" 2>/dev/null; then
        systemctl enable --quiet --no-reload "$1"
        units_changed
        changed "enabled $1"
    fi
    units_reload
    if [ "${2:-}" = start ] && ! systemctl is-active --quiet "$1"; then
        systemctl start "$1"
        changed "started $1"
    fi
}

# unit_install NAME: install stdin as /etc/systemd/system/NAME; returns 0 when it changed.
unit_install() {
    write_file "/etc/systemd/system/$1" 0644 || return 1
    units_changed
}

# unit_remove NAME: stop and disable our unit NAME, then delete it (and its drop-in folder).
unit_remove() {
    local name=$1
    if [ -f "/etc/systemd/system/$name" ]; then
        systemctl disable --quiet --no-reload --now "$name" 2>/dev/null || true
        rm -f "/etc/systemd/system/$name"
        rm -rf "/etc/systemd/system/$name.d"
        units_changed
        systemctl reset-failed "$name" 2>/dev/null || true
        changed "removed unit $name"
    fi
}

# unit_check_absent NAME: report drift if our unit NAME exists or runs (for what must be gone).
unit_check_absent() {
    [ ! -e "/etc/systemd/system/$1" ] || drift "unit $1 exists"
}

# --- kernel settings ---------------------------------------------------------------------------

# The kernel settings' tree (a test points it elsewhere).
SYSCTL_DIR=/proc/sys

# sysctl_ensure NAME KEY=VALUE...: KEY is a path under /proc/sys (net/ipv4/conf/all/arp_ignore), so
# interface names with dots need no escaping. Values are applied now and at boot by a drop-in in
# /etc/sysctl.d; the value each key had before lvs-dr first set it is kept for sysctl_restore. The
# record is written once, before any value changes (settings are read and written by the shell
# itself: a host under load spends seconds on each program started).
sysctl_ensure() {
    local name=$1 kv key val cur
    shift
    local prev="$LVS_STATE/sysctl/$name.prev" dropin="/etc/sysctl.d/90-lvs-dr-$name.conf"
    # now: each wanted key's current value, read once; known: the keys whose old value is recorded.
    local -A now=() known=()
    local recorded=() keep=()
    for kv in "$@"; do
        key=${kv%%=*}
        [ -e "$SYSCTL_DIR/$key" ] || fail "kernel setting $key does not exist"
        IFS= read -r "now[$key]" <"$SYSCTL_DIR/$key"
    done
    [ ! -f "$prev" ] || mapfile -t recorded <"$prev"
    for kv in "${recorded[@]}"; do
        key=${kv%%=*}
        val=${kv#*=}
        [ -n "$key" ] || continue
        if [ -n "${now[$key]+set}" ]; then
            keep+=("$kv")
            known[$key]=1
        else
            # Set by an earlier run, no longer wanted: back to the value it had before.
            if [ -e "$SYSCTL_DIR/$key" ]; then printf '%s\n' "$val" >"$SYSCTL_DIR/$key"; fi
            changed "restored $key=$val"
        fi
    done
    for kv in "$@"; do
        key=${kv%%=*}
        if [ -z "${known[$key]:-}" ]; then
            keep+=("$key=${now[$key]}")
            known[$key]=1
        fi
    done
    if [ "${#keep[@]}" -gt 0 ]; then printf '%s\n' "${keep[@]}" | record "$prev"; else rm -f "$prev"; fi
    for kv in "$@"; do
        key=${kv%%=*}
        val=${kv#*=}
        cur=${now[$key]}
        if [ "$cur" != "$val" ]; then
            printf '%s\n' "$val" >"$SYSCTL_DIR/$key"
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
        if [ -z "$key" ] || [ ! -e "$SYSCTL_DIR/$key" ]; then continue; fi
        IFS= read -r cur <"$SYSCTL_DIR/$key"
        if [ "$cur" != "$val" ]; then
            printf '%s\n' "$val" >"$SYSCTL_DIR/$key"
            changed "restored $key=$val"
        fi
    done <"$prev"
    rm -f "$prev"
}

# --- firewall ----------------------------------------------------------------------------------

fw_backend() {
    if command -v firewall-cmd >/dev/null 2>&1 && systemctl is-active --quiet firewalld 2>/dev/null; then
        echo firewalld
    elif command -v ufw >/dev/null 2>&1 && iptables -n -L ufw-user-input >/dev/null 2>&1; then
        # What `ufw status` asks before it says "Status: active" (ufw 0.36: its rules are loaded),
        # without starting ufw's Python.
        echo ufw
    elif systemctl is-active --quiet nftables 2>/dev/null; then
        echo nftables
    else
        echo none
    fi
}

# A firewall rule is one word: PORT/PROTO (from anywhere: a service port), PROTO@ADDRESS (an IP
# protocol from one host: vrrp@10.86.0.45), PORT/PROTO@ADDRESS (a port from one host:
# 8848/udp@10.86.0.45) or route:PORT/PROTO@ADDRESS (forwarded traffic from one host's port: a NAT
# real server's replies, route:80/tcp@10.86.2.55). Addresses, ports and protocols come from the
# checked config.
fw_is_route() { [[ $1 == route:* ]]; }

# fw_ufw_words RULE: the ufw rule, as `ufw show added` prints it after "ufw ".
fw_ufw_words() {
    local what=${1%@*} from=""
    [[ $1 != *@* ]] || from=${1#*@}
    if fw_is_route "$1"; then
        what=${what#route:}
        printf 'route allow from %s port %s proto %s\n' "$from" "${what%/*}" "${what#*/}"
    elif [ -z "$from" ]; then
        printf 'allow %s\n' "$what"
    elif [[ $what == */* ]]; then
        printf 'allow from %s to any port %s proto %s\n' "$from" "${what%/*}" "${what#*/}"
    else
        printf 'allow from %s proto %s\n' "$from" "$what"
    fi
}

# fw_rich RULE: firewalld's rich rule for a rule from one host.
fw_rich() {
    local what=${1%@*} from=${1#*@}
    if [[ $what == */* ]]; then
        printf 'rule family="ipv4" source address="%s" port port="%s" protocol="%s" accept\n' "$from" "${what%/*}" "${what#*/}"
    else
        printf 'rule family="ipv4" source address="%s" protocol value="%s" accept\n' "$from" "$what"
    fi
}

# fw_firewalld add|remove|query RULE [--permanent]: the firewall-cmd call for RULE.
fw_firewalld() {
    local op=$1 rule=$2
    shift 2
    if [[ $rule == *@* ]]; then
        firewall-cmd --quiet "$@" "--$op-rich-rule=$(fw_rich "$rule")"
    else
        firewall-cmd --quiet "$@" "--$op-port=$rule"
    fi
}

# ufw is a Python program that takes seconds to start on a busy host (15-20 s per rule added on a
# lab VM during an up): its added rules are read once per run into UFW_ADDED, which fw_sync and
# fw_close keep up to date with what they add and delete.
UFW_ADDED="" UFW_ADDED_READ=no
ufw_added_load() {
    [ "$UFW_ADDED_READ" = yes ] && return 0
    UFW_ADDED=$(ufw show added 2>/dev/null) || true
    UFW_ADDED_READ=yes
}

# fw_open BACKEND RULE: whether RULE is open in the permanent rules of BACKEND (what fw_backend
# said: asked once per run).
fw_open() {
    case "$1" in
        firewalld) fw_is_route "$2" || fw_firewalld query "$2" --permanent ;;
        ufw)
            ufw_added_load
            grep -qxF "ufw $(fw_ufw_words "$2")" <<<"$UFW_ADDED"
            ;;
        *) return 0 ;;
    esac
}

# fw_sync TAG PORT/PROTO...: open exactly these ports for TAG when a firewall is active. Rules we
# added earlier (recorded under TAG, never those that were there before us) that are no longer
# wanted are closed again, so a changed service port leaves no old rule behind.
fw_sync() {
    local tag=$1 rule backend b r
    shift
    local added="$LVS_STATE/firewall/$tag"
    if [ -f "$added" ]; then
        while read -r b r; do
            [[ " $* " == *" $r "* ]] || fw_close "$b" "$r"
        done <"$added"
        awk -v want=" $* " 'index(want, " " $2 " ") > 0' "$added" | record "$added"
    fi
    backend=$(fw_backend)
    for rule in "$@"; do
        case "$backend" in
            firewalld)
                if fw_is_route "$rule"; then
                    say "warning: firewalld is active: lvs-dr does not edit its forwarding policies; let the director forward ${rule#route:} (a NAT real server's replies) yourself"
                elif ! fw_firewalld query "$rule" --permanent; then
                    fw_firewalld add "$rule" --permanent
                    fw_firewalld add "$rule"
                    record_add "$added" "firewalld $rule"
                    changed "opened $rule in firewalld"
                elif ! fw_firewalld query "$rule"; then
                    fw_firewalld add "$rule"
                    changed "opened $rule in firewalld's runtime rules"
                fi
                ;;
            ufw)
                if ! fw_open ufw "$rule"; then
                    # shellcheck disable=SC2046 # the rule's words, from checked values
                    ufw $(fw_ufw_words "$rule") >/dev/null
                    UFW_ADDED+=$'\n'"ufw $(fw_ufw_words "$rule")"
                    record_add "$added" "ufw $rule"
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

# fw_check TAG PORT/PROTO...: report drift when a wanted port is not open in the active firewall, or
# a rule lvs-dr added for TAG is no longer wanted.
fw_check() {
    local tag=$1 rule b r backend
    shift
    backend=$(fw_backend)
    for rule in "$@"; do fw_open "$backend" "$rule" || drift "$rule is not open in $backend"; done
    if [ -f "$LVS_STATE/firewall/$tag" ]; then
        while read -r b r; do
            [[ " $* " == *" $r "* ]] || drift "$r is still open in $b (added by lvs-dr, no longer wanted)"
        done <"$LVS_STATE/firewall/$tag"
    fi
}

fw_close() {
    case "$1" in
        firewalld)
            fw_firewalld remove "$2" --permanent || true
            fw_firewalld remove "$2" || true
            ;;
        ufw)
            local words
            words=$(fw_ufw_words "$2")
            # A route rule is deleted as `ufw route delete allow ...` (ufw 0.36's parser).
            # shellcheck disable=SC2046,SC2086 # the rule's words, from checked values
            if fw_is_route "$2"; then ufw route delete ${words#route } >/dev/null || true; else ufw delete $words >/dev/null || true; fi
            UFW_ADDED=$(grep -vxF "ufw $words" <<<"$UFW_ADDED") || true
            ;;
    esac
    changed "closed $2 in $1"
}

# fw_revoke TAG: close every rule lvs-dr added for TAG.
fw_revoke() {
    local added="$LVS_STATE/firewall/$1" backend rule
    [ -f "$added" ] || return 0
    while read -r backend rule; do fw_close "$backend" "$rule"; done <"$added"
    rm -f "$added"
}

# --- nftables tables of ours ------------------------------------------------------------------
# A host's nftables table of lvs-dr's (the notrack table of keepalived.sh, a firewall-mark service's
# marks of ipvs-service.sh, a tunnelled real server's MSS clamp of tunnel.sh): its ruleset in a file
# of ours (the caller renders it, with a "delete table" first so that loading it replaces the table
# whole), loaded at boot by a unit of ours before keepalived, and at once when the file changed or
# the table is gone. Each is of the inet family (IPv4 and IPv6 alike: `ip daddr` rules match IPv4
# packets only, `ip6 daddr` ones IPv6); an ip-family table of the same name, which lvs-dr made
# before it served IPv6, is deleted once the inet one is loaded.

# nft_ip ADDRESS: the nftables protocol whose address fields ADDRESS is matched in: ip or ip6.
nft_ip() { if [[ $1 == *:* ]]; then echo ip6; else echo ip; fi; }

# nft_unit TABLE FILE DESCRIPTION: the unit that loads FILE at boot and deletes TABLE when stopped.
nft_unit() {
    local nft
    nft=$(command -v nft)
    cat <<UNIT
# Managed by lvs-dr: pulumi destroy stops and removes this unit.
[Unit]
Description=lvs-dr: $3
Before=network-pre.target $KA_UNIT
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=$nft -f $2
ExecStop=-$nft delete table inet $1

[Install]
WantedBy=multi-user.target
UNIT
}

# nft_loaded TABLE [FAMILY]: whether our table (inet, or FAMILY) is loaded.
nft_loaded() { nft list table "${2:-inet}" "$1" >/dev/null 2>&1; }

# nft_old_remove TABLE: delete the ip-family table an earlier lvs-dr loaded under this name.
nft_old_remove() {
    if nft_loaded "$1" ip; then
        nft delete table ip "$1"
        changed "deleted the nftables table ip $1 (an earlier lvs-dr's; its rules are in table inet $1 now)"
    fi
}

# nft_table_apply TABLE FILE UNIT DESCRIPTION <RULESET
nft_table_apply() {
    local table=$1 file=$2 unit=$3 wrote=no active=yes
    mkdir -p "${file%/*}"
    if write_file "$file" 0644; then wrote=yes; fi
    nft_unit "$table" "$file" "$4" | unit_install "$unit" || true
    systemctl is-active --quiet "$unit" || active=no
    # Started, the unit loads the table; running, it has loaded an older file (or someone deleted it).
    unit_enable "$unit" start
    if [ "$active" = yes ] && { [ "$wrote" = yes ] || ! nft_loaded "$table"; }; then
        nft -f "$file"
        changed "loaded the nftables table $table"
    fi
    nft_old_remove "$table"
}

# nft_table_check TABLE FILE UNIT DESCRIPTION <RULESET
nft_table_check() {
    check_file "$2"
    nft_unit "$1" "$2" "$4" | check_file "/etc/systemd/system/$3"
    check_unit "$3"
    nft_loaded "$1" || drift "the nftables table $1 is not loaded"
    ! nft_loaded "$1" ip || drift "the nftables table ip $1 of an earlier lvs-dr is still loaded"
}

# nft_table_remove TABLE FILE UNIT
nft_table_remove() {
    unit_remove "$3"
    if command -v nft >/dev/null 2>&1 && nft_loaded "$1"; then
        nft delete table inet "$1"
        changed "deleted the nftables table $1"
    fi
    ! command -v nft >/dev/null 2>&1 || nft_old_remove "$1"
    remove_file "$2"
}

# --- SELinux -----------------------------------------------------------------------------------

# selinux_bool_on TAG BOOL: turn a boolean on (persistently) on SELinux hosts; remember its old value.
selinux_bool_on() {
    local tag=$1 bool=$2 cur
    command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled || return 0
    cur=$(getsebool "$bool" | awk '{ print $NF }')
    [ -f "$LVS_STATE/selinux/$tag" ] || printf '%s %s\n' "$bool" "$cur" | record "$LVS_STATE/selinux/$tag"
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

# --- keepalived (the director's health checks, IPVS table and VRRP) ----------------------------

# keepalived owns the director's IPVS table: lvs-dr writes its config, one file per service and per
# real server, checks the whole config with `keepalived -t` before keepalived reads it, and reloads
# (SIGHUP: keepalived compares the old config with the new one and edits only what changed). That is
# the checks' keepalived (KA_UNIT); a pair's VRRP runs apart (keepalived.sh).
#   KA_DIR/keepalived.conf          global_defs and the includes below
#   KA_DIR/vrrp.conf                a pair's VRRP instance and sync daemon (its own process)
#   KA_DIR/services/ID.conf         a virtual_server, which includes KA_DIR/services/ID/*.conf
#   KA_DIR/services/ID/ADDR-PORT.conf   a real_server of that service with its health check
#   KA_DIR/checks/ID-ADDR-PORT.conf     the fwmark service its check goes through (via the VIP)
KA_DIR=/etc/lvs-dr/keepalived
KA_UNIT=lvs-dr-keepalived.service
# Its runtime folder (the unit's RuntimeDirectory: gone when it stops): its pid files, our lock.
KA_RUN=/run/lvs-dr-keepalived

# ka_running [UNIT]: whether keepalived (the checks', or UNIT: a pair's VRRP) runs.
ka_running() { systemctl is-active --quiet "${1:-$KA_UNIT}"; }

# The folders keepalived.conf includes from: an include that matches no file is fine, one whose
# folder is gone is an error (a remove takes away our empty folders).
ka_dirs() { mkdir -p "$KA_DIR/services" "$KA_DIR/checks"; }

# ka_validate [ROOT]: `keepalived -t` on a whole config as it is on disk now (the checks' config, or
# ROOT); prints what it said and fails on anything but what a service says on its way in or out: no
# real server yet (its real servers apply after it), or every real server at weight 0 (a whole
# service draining on destroy: keepalived then lowers the quorum and the hysteresis to fit, and runs).
KA_BENIGN=(
    -e 'has no real servers - ignoring$'
    -e '^Warning - quorum [0-9]+ for .* exceeds total weight of real servers 0, reducing quorum to 0$'
    -e ': hysteresis [0-9]+ >= quorum 0; setting hysteresis to [0-9]+$'
)
ka_validate() {
    local root=${1:-$KA_DIR/keepalived.conf} out
    [ -f "$root" ] || return 0
    ka_dirs
    if out=$(keepalived -t -f "$root" 2>&1); then return 0; fi
    if [ -n "$out" ] && ! grep -Ev "${KA_BENIGN[@]}" <<<"$out" | grep -q .; then return 0; fi
    printf '%s\n' "$out"
    return 1
}

# ka_write PATH [ROOT]: write stdin to PATH (a keepalived config file, ROOT or included from it; ROOT
# is the checks' config unless given) when it differs; if keepalived -t then rejects ROOT, the old
# file is put back and the run fails with keepalived's words. Returns 0 when it wrote.
ka_write() {
    local path=$1 root=${2:-} saved="" msg
    mkdir -p "${path%/*}"
    if [ -f "$path" ]; then
        saved=$(mktemp)
        cp -p "$path" "$saved"
    fi
    if ! write_file "$path" 0644; then
        rm -f "$saved"
        return 1
    fi
    if ! msg=$(ka_validate "$root"); then
        if [ -n "$saved" ]; then mv -f "$saved" "$path"; else rm -f "$path"; fi
        fail "keepalived rejects the new $path (the old config stays in place): $msg"
    fi
    rm -f "$saved"
}

# ka_reload [UNIT]: keepalived (the checks', or UNIT: a pair's VRRP) reads its config again, when it
# runs (at start it reads it anyway).
ka_reload() {
    local unit=${1:-$KA_UNIT}
    if ka_running "$unit"; then
        ka_dirs
        systemctl reload "$unit"
        changed "reloaded $unit"
    fi
}

# ka_wait DESCRIPTION COMMAND...: wait up to 10 s for COMMAND to succeed after a reload (keepalived
# applies a reload asynchronously); says so when it did not.
ka_wait() {
    local what=$1
    shift
    for _ in $(seq 1 40); do
        "$@" && return 0
        sleep 0.25
    done
    say "warning: keepalived has not $what after 10 s"
    return 1
}

# svc_key: SVC_KEY, the words that name the IPVS service of an ipvs-service or ipvs-real resource as
# ipvsadm takes and prints them: "-t VIP:PORT" or "-u VIP:PORT", or for a firewall-mark service
# (PORTS) its mark_key.
# shellcheck disable=SC2034 # SVC_KEY and MARK_KEY are the concern scripts'
svc_key() {
    if [ "${FWMARK:-0}" != 0 ]; then
        mark_key "$FWMARK"
        SVC_KEY=("${MARK_KEY[@]}")
    else
        local addr
        ipvs_addr_to addr "$VIP" "$PORT"
        if [ "$PROTOCOL" = udp ]; then SVC_KEY=(-u "$addr"); else SVC_KEY=(-t "$addr"); fi
    fi
}
# host_cidr ADDRESS: the address as a host's own prefix, as `ip address` and keepalived take a VIP:
# ADDRESS/32, an IPv6 one /128.
host_cidr() { if [[ $1 == *:* ]]; then echo "$1/128"; else echo "$1/32"; fi; }

# ka_fwmark_open MARK: the first line of keepalived's `virtual_server fwmark MARK` for this resource's
# VIP, and its family when that is IPv6: without an address keepalived takes the family from the
# first real server, and without one, IPv4.
ka_fwmark_open() {
    printf 'virtual_server fwmark %s {\n' "$1"
    [[ $VIP != *:* ]] || printf '    ip_family inet6\n'
}

# mark_key MARK: MARK_KEY, the words of the fwmark service MARK of this resource's VIP: "-f MARK",
# and "-6" after them for an IPv6 VIP (a fwmark service has no address of its own to say its family).
mark_key() {
    MARK_KEY=(-f "$1")
    [[ $VIP != *:* ]] || MARK_KEY+=(-6)
}
# ipvs_addr ADDRESS [PORT]: ADDRESS (and :PORT) as ipvsadm takes and prints it, an IPv6 one in brackets
# (as mount(8) takes an NFS server's too: mount.sh).
ipvs_addr() {
    local addr
    ipvs_addr_to addr "$@"
    printf '%s\n' "$addr"
}
# ipvs_addr_to VAR ADDRESS [PORT]: the same, into VAR, without a subshell (checks call it per resource).
ipvs_addr_to() {
    local a=$2
    [[ $a != *:* ]] || a="[$a]"
    printf -v "$1" '%s%s' "$a" "${3+:$3}"
}
# What messages call it: "10.86.0.180:80" or "10.86.0.180 ports 8080,8443 (fwmark 1280704052)".
svc_name() {
    if [ "${FWMARK:-0}" != 0 ]; then
        local IFS=,
        echo "$VIP ports ${PORTS[*]} (fwmark $FWMARK)"
    else
        echo "$VIP:$PORT"
    fi
}

# ipvs_line PREFIX: the line of `ipvsadm -S -n` that starts with PREFIX, if any.
# A check run reads the table once (IPVS_SNAPSHOT, set by live.sh): a check changes nothing in it.
ipvs_line() {
    local table line
    if [ -n "${IPVS_SNAPSHOT+set}" ]; then table=$IPVS_SNAPSHOT; else table=$(ipvsadm -S -n 2>/dev/null) || true; fi
    while IFS= read -r line; do
        if [[ "$line " == "$1"* ]]; then
            printf '%s\n' "$line"
            return 0
        fi
    done <<<"$table"
}

# ka_alive ADDRESS RPORT: whether keepalived counts that real server of this resource's service
# (VIP, PORT, FWMARK, PROTOCOL) as alive (its check passes), from keepalived's own state
# dump (SIGUSR1 to its parent writes /tmp/keepalived_check.data): "yes", "no", or "unknown"
# (keepalived does not run or knows no such real server). A real server out of the IPVS table is
# keepalived's doing when it is not alive; when it is alive, someone deleted it by hand.
# A check run takes one dump for all its real servers (KA_DUMP_CACHE: a file live.sh names, empty
# until the first real server asks).
ka_alive() {
    local pid copy
    if [ -n "${KA_DUMP_CACHE:-}" ] && [ -s "$KA_DUMP_CACHE" ]; then
        ka_alive_in "$KA_DUMP_CACHE" "$1" "$2"
        return
    fi
    pid=$(cat "$KA_RUN/keepalived.pid" 2>/dev/null) || { echo unknown; return; }
    copy=${KA_DUMP_CACHE:-$(mktemp)}
    if ka_dump "$pid" "$copy" 9>"$KA_RUN/dump.lock"; then ka_alive_in "$copy" "$1" "$2"; else echo unknown; fi
    [ -n "${KA_DUMP_CACHE:-}" ] || rm -f "$copy"
}

# ka_dump PID COPY (with fd 9 open on the lock file): keepalived's state dump, copied to COPY. One
# dump at a time: on a refresh the services' checks run side by side on a director, and each deletes
# the dump it read; a cold run saw a check read none, answer "unknown", and so miss a real server
# deleted by hand (nat-real-web5 after ipvsadm -C).
ka_dump() {
    local data=/tmp/keepalived_check.data mark
    flock -w 15 9 || return 1
    mark=$(mktemp)
    touch -d '-1 second' "$mark"
    kill -USR1 "$1" 2>/dev/null || { rm -f "$mark"; return 1; }
    for _ in $(seq 1 20); do
        [ "$data" -nt "$mark" ] && break
        sleep 0.1
    done
    rm -f "$mark"
    [ -f "$data" ] || return 1
    sleep 0.1
    cp "$data" "$2"
    # Our signal wrote them: leave nothing of ours behind in /tmp.
    rm -f /tmp/keepalived.data /tmp/keepalived_check.data /tmp/keepalived_parent.data
}

# ka_alive_in DUMP ADDRESS RPORT: ka_alive's answer from a state dump of keepalived's checkers.
ka_alive_in() {
    local vs="VS VIP = $VIP, VPORT = $PORT" proto=${PROTOCOL^^}
    # A fwmark virtual server has no protocol of its own: keepalived says "protocol = none".
    [ "${FWMARK:-0}" = 0 ] || { vs="VS FWMARK = $FWMARK"; proto=none; }
    awk -v proto="$proto" -v vs="$vs" -v rs="RIP = $2, RPORT = $3," '
        /------< Virtual server >------/ { invs = 0; inrs = 0 }
        /------< Health checkers >------/ { invs = 0; inrs = 0 }
        # The whole line: "VPORT = 80" is also the start of "VPORT = 8080".
        { line = $0; sub(/^ +/, "", line) }
        line == vs { invs = 1; p = ""; next }
        invs && /^   protocol = / { p = $3 }
        invs && /------< Real server >------/ { inrs = 0 }
        invs && index($0, rs) && (p == "" || p == proto) { inrs = 1 }
        inrs && /^   alive = / { found = ($3 == 1) ? "yes" : "no"; inrs = 0 }
        END { print (found == "" ? "unknown" : found) }
    ' "$1"
}
