#!/usr/bin/env bash
# The whole test suite (`npm test`): type check, shellcheck, unit tests under Pulumi mocks, then the
# real-engine tests. `scripts/test.sh unit` runs only the fast part.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}

step() { printf '\n==> %s\n' "$*" >&2; }

step "host tools"
bash scripts/ensure-tools.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    step "npm ci"
    npm ci --no-audit --no-fund
fi
step "type check"
npx tsc --noEmit
step "shellcheck"
bash scripts/shellcheck.sh
step "unit tests"
npx jest --selectProjects unit
[ "$what" = unit ] && exit 0
