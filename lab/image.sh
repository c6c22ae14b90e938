#!/usr/bin/env bash
# lab/image.sh: the Debian bookworm disk image every VM of the lvs-dr lab boots (one image, five VMs).
#
#   lab/image.sh [build]   make sure the image is in the cache (build it if not); print its directory
#   lab/image.sh path      print the cached image's directory; exit 1 if it is not built yet
#   lab/image.sh hash      print the content hash that names the image
#
# The image lives outside the repository, keyed by a hash of everything that shapes it (this file,
# which holds the package list, and lab/files/*):
#   ${LVS_DR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lvs-dr}/images/<hash>/{base.img,vmlinuz,initrd.img}
# It is built with mmdebstrap (Debian's default mirror) into a temporary directory, turned into a raw
# ext4 image with `mkfs.ext4 -d` (nothing is mounted), then moved into place with one rename.
# Building needs root (mmdebstrap's root mode, chroot); missing host packages are installed with apt.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LAB_PROG=image.sh
# shellcheck source=lib.sh
. "$LAB_SRC/lib.sh"
IMAGES=$LVS_DR_CACHE_DIR/images
SUITE=bookworm
IMAGE_SIZE=2G

# Everything a lab VM needs, baked in: nothing on a VM ever uses the network to install anything.
PACKAGES=(
	systemd-sysv udev kmod procps iproute2 netbase
	linux-image-amd64 initramfs-tools e2fsprogs busybox-static
	openssh-server
	ipvsadm keepalived nftables ufw
	apache2
	nfs-kernel-server nfs-common
	curl iputils-ping arping tcpdump ndisc6
	socat
)

# The image's name: a hash of this file (which holds the package list) and of lab/files/*.
image_hash() {
	(
		cd "$LAB_SRC"
		for f in image.sh files/*; do
			printf '%s\n' "$f"
			cat "$f"
		done
	) | sha256sum | cut -c1-16
}

build() {
	local hash dir
	hash=$(image_hash)
	dir=$IMAGES/$hash
	if [ -f "$dir/base.img" ]; then
		echo "$dir"
		return 0
	fi
	[ "$(id -u)" -eq 0 ] || die "the lab image $hash is not built yet and building it needs root (mmdebstrap, chroot)"
	install_host_packages mmdebstrap:mmdebstrap mkfs.ext4:e2fsprogs flock:util-linux
	mkdir -p "$IMAGES"
	# One build at a time; a second caller waits and then finds the image.
	exec 8>"$IMAGES/.lock"
	flock 8
	if [ -f "$dir/base.img" ]; then
		echo "$dir"
		return 0
	fi
	local tmp start
	tmp=$(mktemp -d "$IMAGES/.build-$hash.XXXXXX")
	# shellcheck disable=SC2064 # expand $tmp now: it is local
	trap "rm -rf '$tmp'" EXIT
	start=$SECONDS
	log "building image $hash (Debian $SUITE, ${#PACKAGES[@]} packages named); this takes a few minutes"
	local include
	include=$(
		IFS=,
		echo "${PACKAGES[*]}"
	)
	# Faster on two busy cores: dpkg without fsync (mmdebstrap's eatmydata hooks, which take
	# eatmydata from the mirror and remove it again), no documentation, manual pages or
	# translations, and a small initrd from the first time the kernel package makes one (setup.sh).
	# The hook text is single-quoted on purpose: mmdebstrap runs it with "$1" = the new root.
	# shellcheck disable=SC2016
	LAB_FILES=$LAB_SRC/files mmdebstrap --variant=minbase --mode=root --format=directory \
		--include="$include" \
		--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata \
		--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
		--setup-hook='"$LAB_FILES/setup.sh" "$1"' \
		--customize-hook='"$LAB_FILES/customize.sh" "$1"' \
		"$SUITE" "$tmp/root" >&2 || die "mmdebstrap failed (see above)"
	local debootstrap_s=$((SECONDS - start))

	mkdir "$tmp/out"
	local kernel initrd
	kernel=$(find "$tmp/root/boot" -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -n 1)
	initrd=$(find "$tmp/root/boot" -maxdepth 1 -name 'initrd.img-*' | sort -V | tail -n 1)
	if [ -z "$kernel" ] || [ -z "$initrd" ]; then
		die "no kernel or initrd in the new root's /boot"
	fi
	cp "$kernel" "$tmp/out/vmlinuz"
	cp "$initrd" "$tmp/out/initrd.img"
	mv "$tmp/root/root/lab-packages.txt" "$tmp/out/packages.txt"
	mkfs.ext4 -q -F -L labroot -d "$tmp/root" "$tmp/out/base.img" "$IMAGE_SIZE" >/dev/null || die "mkfs.ext4 -d failed"
	rm -rf "$tmp/root"
	chmod 0644 "$tmp/out/base.img" "$tmp/out/vmlinuz" "$tmp/out/initrd.img"
	{
		echo "hash=$hash"
		echo "suite=$SUITE"
		echo "kernel=${kernel##*/vmlinuz-}"
		echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "mmdebstrap_seconds=$debootstrap_s"
		echo "total_seconds=$((SECONDS - start))"
	} >"$tmp/out/info"
	mv -T "$tmp/out" "$dir"
	rm -rf "$tmp"
	trap - EXIT
	log "image $hash built in $((SECONDS - start)) s (mmdebstrap ${debootstrap_s} s): $dir"
	echo "$dir"
}

case ${1:-build} in
build) build ;;
path)
	dir=$IMAGES/$(image_hash)
	[ -f "$dir/base.img" ] || die "image not built yet (run: lab/image.sh build)"
	echo "$dir"
	;;
hash) image_hash ;;
-h | --help | help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' ;;
*) die "unknown command '$1' (commands: build, path, hash)" ;;
esac
