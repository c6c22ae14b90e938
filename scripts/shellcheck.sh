#!/usr/bin/env bash
# Runs shellcheck on every shell script of the repository (host scripts, tooling, lab).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v shellcheck >/dev/null 2>&1 || {
    echo "shellcheck is not installed: apt-get install shellcheck" >&2
    exit 1
}
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.sh' .ci/run)
shellcheck -s bash "${files[@]}"
# The lab VMs' own scripts, run by /bin/sh (dash) and busybox sh: named as the VM runs them.
posix=(lab/files/lab-identity lab/files/initrd-init)
shellcheck -s sh "${posix[@]}"
echo "shellcheck: $((${#files[@]} + ${#posix[@]})) files clean"
