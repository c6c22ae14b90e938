#!/bin/sh
# mmdebstrap --setup-hook for the lvs-dr lab image (called by lab/image.sh as: setup.sh ROOTDIR).
# Runs before any package is installed: the kernel package's first initrd is already a small one
# (MODULES=list; customize.sh lists the modules and makes the final initrd), not one with every
# module of the kernel, which takes a minute to build and is thrown away.
set -eu
root=$1
mkdir -p "$root/etc/initramfs-tools/conf.d"
printf 'MODULES=list\n' >"$root/etc/initramfs-tools/conf.d/lab.conf"
