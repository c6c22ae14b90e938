#!/bin/sh
# mmdebstrap --setup-hook for the lvs-dr lab image (called by lab/image.sh as: setup.sh ROOTDIR).
# Runs before any package is installed: the initrd the kernel package makes is a small one
# (MODULES=list), not one with every module of the kernel, which takes a minute to build; customize.sh
# replaces it with the lab's own anyway.
set -eu
root=$1
mkdir -p "$root/etc/initramfs-tools/conf.d"
printf 'MODULES=list\n' >"$root/etc/initramfs-tools/conf.d/lab.conf"
