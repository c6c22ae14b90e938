# shellcheck shell=bash
# lab/lib.sh: helpers shared by lab/lab.sh and lab/image.sh (sourced, not run).

# The cache outside the repository that holds images and, by default, the lab's state.
export LVS_DR_CACHE_DIR=${LVS_DR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lvs-dr}

die() {
	echo "${LAB_PROG:-lab}: error: $*" >&2
	exit 1
}
log() { echo "${LAB_PROG:-lab}: $*" >&2; }

# install_host_packages COMMAND:PACKAGE... - apt-get install the packages whose command is missing.
# CI starts on a bare machine: the lab installs what it runs, and says so; it needs root for that.
install_host_packages() {
	local want=() pair
	for pair in "$@"; do
		if ! command -v "${pair%%:*}" >/dev/null 2>&1 && [[ " ${want[*]} " != *" ${pair#*:} "* ]]; then
			want+=("${pair#*:}")
		fi
	done
	[ "${#want[@]}" -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		die "missing host packages: ${want[*]}; run as root so the lab can install them, or: apt-get install ${want[*]}"
	fi
	command -v apt-get >/dev/null 2>&1 ||
		die "missing host packages: ${want[*]}, and this host has no apt-get (a Debian or Ubuntu host is expected)"
	log "installing host packages: ${want[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${want[@]}" >&2 ||
		die "apt-get install ${want[*]} failed"
}
