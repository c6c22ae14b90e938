#!/usr/bin/env bash
# Prints what lvs-dr may change on a host, one fact per line, so that two runs can be compared:
# before the first `pulumi up` and after `pulumi destroy` they must be equal (data placed in
# exports and loaded kernel modules excepted: lvs-dr keeps both on purpose).
# Run as root on a lab VM: bash -s < fingerprint.sh
set -uo pipefail
export LC_ALL=C
section() { printf '## %s\n' "$1"; }

section "files: path mode owner type sha256 link (units and whether they are enabled, drop-ins, sysctl, modules, exports, web server, lvs-dr's own)"
dirs=()
for dir in /etc/systemd/system /etc/sysctl.d /etc/modules-load.d /etc/exports.d /etc/exports /etc/fstab \
    /etc/lvs-dr /var/lib/lvs-dr /usr/local/lib/lvs-dr /etc/apache2 /etc/httpd /etc/ufw /etc/firewalld; do
    [ -e "$dir" ] && dirs+=("$dir")
done
# One sha256sum for all files (a process per file is slow under emulation), joined to the metadata.
sums=$(find "${dirs[@]}" -xdev -type f -print0 | xargs -0 -r sha256sum)
# Symlinks with their targets: enabling a unit is a link in /etc/systemd/system/*.wants.
find "${dirs[@]}" -xdev -printf '%p %m %u:%g %y %l\n' | awk -v sums="$sums" '
    BEGIN { n = split(sums, l, "\n"); for (i = 1; i <= n; i++) { h = substr(l[i], 1, 16); p = substr(l[i], 67); sum[p] = h } }
    { s = ($4 == "f" && ($1 in sum)) ? sum[$1] : "-"; print $1, $2, $3, $4, s, $5 }' | sort
# The web root's own folder (a mount point lvs-dr may have created) and the mount points in use.
for dir in /var/www /srv/www /srv/content; do [ -e "$dir" ] && find "$dir" -maxdepth 1 -xdev -type d -printf '%p %m %u:%g\n'; done

section "units running: web and NFS servers, lvs-dr's"
# Running or not: a unit that failed before (Apache timing out in a slow boot) is as not running as
# one that was stopped, and lvs-dr's restore leaves it stopped (no one can put a unit back in "failed").
for u in apache2.service httpd.service nfs-server.service; do
    state=$(systemctl is-active "$u" 2>/dev/null)
    printf '%s %s\n' "$u" "${state/#failed/inactive}"
done
systemctl list-units --all --no-legend --plain --no-pager 'lvs-dr-*' '*.mount' | awk '$1 ~ /^lvs-dr-|^var-www|^srv-/ { print $1, $3, $4 }' | sort

section "addresses and routes"
ip -o addr show | awk '{ print $2, $3, $4 }' | sort
ip route show table main | sort
ip route show table local | grep -v ' 127\.' | sort
ip -6 route show table local | grep -Ev '^(local|anycast|multicast) (::1|fe80:|ff00:)' | sort
# Routing rules and the routes of every table but main and local (a NAT real server's of lvs-dr).
ip -4 rule show
ip -4 route show table all | grep -Ev ' table (main|local)\b|^(local|broadcast) ' | grep ' table ' | sort

section "kernel settings (net.ipv4.vs.* excepted: they exist only while ip_vs, which stays loaded, is)"
sysctl -a 2>/dev/null | grep -E '^net\.ipv4\.(ip_forward|conf\.[a-z0-9]+\.(arp_ignore|arp_announce|send_redirects|accept_redirects|accept_local|rp_filter)) |^net\.ipv6\.conf\.[a-z0-9]+\.accept_redirects ' | sort

section "IPVS"
command -v ipvsadm >/dev/null && ipvsadm -S -n

section "NFS: exports and mounts"
command -v exportfs >/dev/null && exportfs -v 2>/dev/null | tr -s ' \t\n' ' '
echo
findmnt -n -t nfs,nfs4 -o TARGET,SOURCE,OPTIONS | sort

section "firewall"
command -v ufw >/dev/null && ufw status verbose
command -v nft >/dev/null && nft -s list ruleset 2>/dev/null | grep -v '^\s*$'

section "SELinux"
command -v getsebool >/dev/null && getsebool httpd_use_nfs
exit 0
