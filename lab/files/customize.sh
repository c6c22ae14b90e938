#!/bin/sh
# mmdebstrap --customize-hook for the lvs-dr lab image (called by lab/image.sh as: customize.sh ROOTDIR).
# Runs on the build host, as root, after every package is installed; ROOTDIR is the new root filesystem.
set -eu
root=$1
files=$(cd "$(dirname "$0")" && pwd)

# Identity from /proc/cmdline and the per-VM seed disk (see lab-identity).
install -m 0755 "$files/lab-identity" "$root/usr/local/sbin/lab-identity"
install -m 0644 "$files/lab-identity.service" "$root/etc/systemd/system/lab-identity.service"
chroot "$root" systemctl enable lab-identity.service

# SSH: key-only root login; no host keys in the image (each VM gets its own from its seed disk).
install -m 0644 "$files/sshd-lab.conf" "$root/etc/ssh/sshd_config.d/lab.conf"
rm -f "$root"/etc/ssh/ssh_host_*
# No password for anyone: root's is locked ('*' is never a valid hash).
chroot "$root" usermod -p '*' root

# Do not load drivers for emulated hardware no VM uses.
install -m 0644 "$files/modprobe-lab.conf" "$root/etc/modprobe.d/lab.conf"

# Root filesystem and names. No DNS: nothing in the lab may leave the machine.
printf '/dev/vda\t/\text4\terrors=remount-ro\t0\t1\n' >"$root/etc/fstab"
: >"$root/etc/resolv.conf"
echo lab >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
# Each VM makes its own machine-id at first boot.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"

# Timers that would try the network or churn the disk in a throw-away VM; gettys on virtual terminals
# that no one can see (the VMs have no display; the serial console keeps its getty).
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
	getty-static.service getty@tty1.service; do
	chroot "$root" systemctl mask "$unit"
done

# A small initrd (MODULES=list, set by setup.sh): the VMs boot a virtio disk holding ext4, nothing
# else is needed before the root is mounted.
printf '%s\n' virtio_pci virtio_blk ext4 >>"$root/etc/initramfs-tools/modules"
chroot "$root" update-initramfs -u -k all

# What is in the image, for the record (copied next to the image by image.sh).
# shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' >"$root/root/lab-packages.txt"
