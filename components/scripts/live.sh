#!/usr/bin/env bash
# A component's view of its host, run by its LiveState: `check` (on pulumi refresh) compares every
# resource of the component with the host, from the parameters its last apply recorded, and looks
# for what is ours but no longer wanted; `apply` (on the update after a refresh found some) removes
# those leftovers. It changes nothing else: a drifted resource is repaired by its own command, which
# the LiveState schedules to run again. `remove` (when the LiveState is deleted, after every resource
# of the component) removes the component's toolkit, this script included.
# Parameters: NAMES (the component's resources, in apply order), INVENTORY (none; units: also look
# for lvs-dr systemd units that no resource on this host claims; director: that, and IPVS services
# and real servers on this host's VIPs that no resource claims).

# in_def DEF COMMAND...: run COMMAND in a subshell holding the resource's recorded parameters and its
# concern's functions (each resource in its own, so concerns cannot see each other's definitions).
in_def() {
    local def=$1
    shift
    (
        # shellcheck disable=SC1090 # a definition written by def_save
        . "$def"
        # shellcheck disable=SC1090 # the concern of that resource
        . "$LVS_LIB/$LVS_CONCERN.sh"
        "$@"
    )
}

# def_read DEF: the record's LVS_COMPONENT, LVS_RESOURCE and LVS_CONCERN as DEF_COMPONENT,
# DEF_RESOURCE and DEF_CONCERN (empty when it has none), read without a subshell: the record is
# `declare` lines, which inside a function make locals, so none of its names outlives the call. A
# refresh reads every record on the host for each component it checks (a director holds dozens),
# and on an emulated host each subshell cost about as much as a resource's whole check.
def_read() {
    local LVS_COMPONENT="" LVS_RESOURCE="" LVS_CONCERN=""
    # shellcheck disable=SC1090 # a definition written by def_save
    . "$1"
    DEF_COMPONENT=$LVS_COMPONENT DEF_RESOURCE=$LVS_RESOURCE DEF_CONCERN=$LVS_CONCERN
}

wanted() {
    local n
    for n in "${NAMES[@]}"; do [ "$n" = "$1" ] && return 0; done
    return 1
}

# leftovers: this component's resources that were applied here and are no longer in the stack.
leftovers() {
    local def
    for def in "$LVS_STATE"/resources/*.def; do
        [ -e "$def" ] || continue
        def_read "$def"
        [ "$DEF_COMPONENT" = "$LVS_COMPONENT" ] || continue
        wanted "$DEF_RESOURCE" || printf '%s\n' "$def"
    done
}

# The lvs-dr systemd units and drop-ins on this host (paths under /etc/systemd/system).
our_units() {
    local f
    for f in /etc/systemd/system/lvs-dr-*.service /etc/systemd/system/*.d/lvs-dr-*.conf /etc/systemd/system/*.mount; do
        [ -f "$f" ] || continue
        case "$f" in
            *.mount) grep -q '^# Managed by lvs-dr' "$f" || continue ;;
        esac
        printf '%s\n' "${f#/etc/systemd/system/}"
    done
}

# Units claimed by any resource applied on this host (whatever its component).
claimed_units() {
    local def
    for def in "$LVS_STATE"/resources/*.def; do
        [ -e "$def" ] || continue
        in_def "$def" sh_units 2>/dev/null || true
    done
}
sh_units() { if declare -F lvs_units >/dev/null; then lvs_units; fi; }

unclaimed_units() {
    local claimed u
    claimed=$(claimed_units)
    our_units | while read -r u; do
        grep -qxF "$u" <<<"$claimed" || printf '%s\n' "$u"
    done
}

# IPVS: what the resources on this host want, as `ipvsadm -S -n` names it.
ipvs_wanted() {
    local def
    for def in "$LVS_STATE"/resources/*.def; do
        [ -e "$def" ] || continue
        def_read "$def"
        case "$DEF_CONCERN" in
            ipvs-service) in_def "$def" sh_ipvs_key service ;;
            ipvs-real) in_def "$def" sh_ipvs_key real ;;
            vip) in_def "$def" sh_vip ;;
            keepalived) in_def "$def" sh_vrrp_vips ;;
        esac
    done
}
sh_ipvs_key() {
    if [ "$1" = service ]; then
        svc_key
        printf 'service %s\n' "${SVC_KEY[*]}"
    else
        svc_key
        printf 'real %s %s\n' "${SVC_KEY[*]}" "$(ipvs_addr "$REAL_ADDRESS" "$REAL_PORT")"
        # The fwmark service of its check through the VIP.
        if [ "${CHECK_MARK:-0}" != 0 ]; then
            mark_key "$CHECK_MARK"
            printf 'service %s\nreal %s %s\n' "${MARK_KEY[*]}" "${MARK_KEY[*]}" "$(ipvs_addr "$REAL_ADDRESS" 0)"
        fi
    fi
}
sh_vip() { printf 'vip %s\n' "$VIP"; }
sh_vrrp_vips() { if [ "${#VIPS[@]}" -gt 0 ]; then printf 'vip %s\n' "${VIPS[@]}"; fi; }

# Lines "service KEY" and "real KEY ADDR:PORT" (KEY: -t|-u VIP:PORT, or -f MARK [-6]) in the IPVS table that
# no resource wants: on one of our VIPs, or with a firewall mark of ours (one a resource wants, or one
# in the ranges lvs-dr picks from: 0x4c55xxxx for services, 0x4c56xxxx for checks through the VIP).
ipvs_extras() {
    command -v ipvsadm >/dev/null 2>&1 || return 0
    local wanted
    wanted=$(ipvs_wanted)
    ipvsadm -S -n | awk -v wanted="$wanted" '
        BEGIN {
            n = split(wanted, lines, "\n")
            for (i = 1; i <= n; i++) {
                split(lines[i], w, " ")
                if (w[1] == "vip") vip[w[2]] = 1
                else want[lines[i]] = 1
                if (w[1] == "service" && w[2] == "-f") mark[w[3]] = 1
            }
        }
        {
            # The key: "-t VIP:PORT" (an IPv6 VIP in brackets: [fd86::180]:80), or "-f MARK", with "-6"
            # after it for an IPv6 fwmark service; a real server follows "-r".
            key = $2 " " $3; r = 5
            if ($4 == "-6") { key = key " -6"; r = 6 }
            if ($2 == "-f") {
                if (!($3 in mark) && !($3 >= 1280638976 && $3 <= 1280770047)) next
            } else {
                a = $3; sub(/:[0-9]+$/, "", a); gsub(/[][]/, "", a)
                if (!(a in vip)) next
            }
            if ($1 == "-A" && !(("service " key) in want)) print "service " key
            if ($1 == "-a" && !(("real " key " " $r) in want)) print "real " key " " $r
        }'
}

# check_setup: what one check run shares among its resources' checks, each a program fewer per
# resource (a refresh checks them all, on hosts where every program started costs): two scratch
# files (each check's drift and changes), one read of the IPVS table (a check changes nothing in
# it), one keepalived state dump (taken when a real server first asks), and the journal's lines,
# handed to logger at the end.
check_setup() {
    # shellcheck disable=SC2034 # KA_DUMP_CACHE and LVS_JOURNAL_BUFFER are read by lib.sh
    CHECK_DRIFT=$(mktemp) CHECK_CHANGES=$(mktemp) KA_DUMP_CACHE=$(mktemp) LVS_JOURNAL_BUFFER=$(mktemp)
    LVS_ON_EXIT+=(check_cleanup)
    # shellcheck disable=SC2034 # read by lib.sh's ipvs_line
    if command -v ipvsadm >/dev/null 2>&1; then IPVS_SNAPSHOT=$(ipvsadm -S -n 2>/dev/null) || unset IPVS_SNAPSHOT; fi
}
check_cleanup() {
    journal_flush
    rm -f "$CHECK_DRIFT" "$CHECK_CHANGES" "$KA_DUMP_CACHE"
}

lvs_check() {
    local name def rc
    check_setup
    for name in "${NAMES[@]}"; do
        def=$LVS_STATE/resources/$name.def
        if [ ! -f "$def" ]; then
            printf 'lvs-dr %s: drift: not applied on this host (no record of its last apply)\n' "$name"
            continue
        fi
        rc=0
        in_def "$def" check_one || rc=$?
        [ "$rc" -eq 0 ] || printf 'lvs-dr %s: drift: its check failed (exit %s): journalctl -t lvs-dr\n' "$name" "$rc"
    done
    while read -r def; do
        [ -n "$def" ] || continue
        def_read "$def"
        drift "leftover: $DEF_RESOURCE (applied on this host, no longer in the stack)"
    done < <(leftovers)
    [ "$INVENTORY" != none ] || return 0
    local u
    while read -r u; do
        [ -n "$u" ] && drift "leftover unit: /etc/systemd/system/$u (no resource of this stack claims it)"
    done < <(unclaimed_units)
    [ "$INVENTORY" = director ] || return 0
    local line
    while read -r line; do
        [ -n "$line" ] && drift "extra IPVS $line (not in the stack)"
    done < <(ipvs_extras)
}

# check_one: the check of one resource, with its own drift record (we are in its subshell): the
# run's two scratch files (check_setup), emptied.
check_one() {
    LVS_DRIFT=$CHECK_DRIFT
    LVS_CHANGES=$CHECK_CHANGES
    : >"$LVS_DRIFT"
    : >"$LVS_CHANGES"
    local rc=0
    lvs_main check || rc=$?
    return "$rc"
}

prune_unit() {
    local unit=$1 path=/etc/systemd/system/$1
    case "$unit" in
        *.d/*)
            rm -f "$path"
            rmdir "${path%/*}" 2>/dev/null || true
            units_changed
            changed "removed drop-in $path"
            ;;
        lvs-dr-ipvs-*.service)
            unit_remove "$unit"
            local id=${unit#lvs-dr-ipvs-}
            id=${id%.service}
            if [ -d "$LVS_ETC/ipvs/$id" ]; then
                rm -rf "${LVS_ETC:?}/ipvs/$id"
                changed "removed $LVS_ETC/ipvs/$id"
            fi
            ;;
        *) unit_remove "$unit" ;;
    esac
}

# prune_ipvs: deletes the lines of ipvs_extras ("service KEY...", "real KEY... ADDR:PORT").
prune_ipvs() {
    local words key real
    while read -ra words; do
        [ "${#words[@]}" -ge 3 ] || continue
        case "${words[0]}" in
            service)
                key=("${words[@]:1}")
                ipvsadm -D "${key[@]}"
                changed "deleted extra IPVS service ${key[*]}"
                ;;
            real)
                real=${words[-1]}
                key=("${words[@]:1:${#words[@]}-2}")
                ipvsadm -d "${key[@]}" -r "$real" 2>/dev/null || true
                changed "deleted extra real server $real of ${key[*]}"
                ;;
        esac
    done
}

lvs_apply() {
    local def u
    while read -r def; do
        [ -n "$def" ] || continue
        in_def "$def" lvs_main remove
    done < <(leftovers)
    [ "$INVENTORY" != none ] || return 0
    while read -r u; do
        [ -n "$u" ] && prune_unit "$u"
    done < <(unclaimed_units)
    if [ "$INVENTORY" = director ]; then ipvs_extras | prune_ipvs; fi
}

lvs_remove() {
    local owner
    owner=$(cat "$LVS_LIB/.owner" 2>/dev/null || true)
    if [ -n "$owner" ] && [ "$owner" != "$LVS_COMPONENT" ]; then
        say "$LVS_LIB belongs to $owner now: left in place"
        return 0
    fi
    rm -rf "${LVS_LIB:?}"
    rmdir "${LVS_LIB%/*}" 2>/dev/null || true
    changed "removed $LVS_LIB"
}
