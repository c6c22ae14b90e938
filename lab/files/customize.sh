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
install -D -m 0644 "$files/ssh-service-lab.conf" "$root/etc/systemd/system/ssh.service.d/lab.conf"
rm -f "$root"/etc/ssh/ssh_host_*
# No password for anyone: root's is locked ('*' is never a valid hash).
chroot "$root" usermod -p '*' root
# No message of the day: Debian's sshd PAM stack runs /etc/update-motd.d (run-parts, a shell, uname) at
# every session, commands included, and an emulated VM pays for each program started.
sed -i '/pam_motd\.so/d' "$root/etc/pam.d/sshd"
grep -q pam_motd "$root/etc/pam.d/sshd" && { echo "customize.sh: pam_motd still in /etc/pam.d/sshd" >&2; exit 1; }

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

# The VMs' initrd: a static busybox, the root disk's modules and initrd-init, which mounts the root and
# hands over to systemd (Debian's initrd took about 11 s of an emulated boot). It replaces the one the
# kernel package made, so /boot holds what the VMs boot.
kernel=$(find "$root/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
initrd=$root/tmp/lab-initrd
mkdir -p "$initrd/bin" "$initrd/lib/modules" "$initrd/dev" "$initrd/proc" "$initrd/root"
cp "$root/bin/busybox" "$initrd/bin/busybox"
for applet in sh mount umount insmod sleep switch_root; do ln -s busybox "$initrd/bin/$applet"; done
# The root disk's modules, each after those it needs (modinfo -F depends); initrd-init loads them in
# the order of lib/modules/order.
for module in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk \
	crc16 mbcache jbd2 crc32c_generic ext4; do
	path=$(find "$root/lib/modules/$kernel/kernel" -name "$module.ko")
	[ -n "$path" ] || { echo "customize.sh: module $module not found" >&2; exit 1; }
	cp "$path" "$initrd/lib/modules/"
	echo "$module" >>"$initrd/lib/modules/order"
done
install -m 0755 "$files/initrd-init" "$initrd/init"
# The kernel opens /dev/console for init before anything is mounted.
mknod -m 0600 "$initrd/dev/console" c 5 1
# Uncompressed: unpacking costs the emulated VM less than decompressing would.
chroot "$root" sh -c 'cd /tmp/lab-initrd && find . | cpio --quiet -o -H newc' >"$root/boot/initrd.img-$kernel"
rm -rf "$initrd"

# What is in the image, for the record (copied next to the image by image.sh).
# shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' >"$root/root/lab-packages.txt"
