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
echo "shellcheck: ${#files[@]} files clean"
