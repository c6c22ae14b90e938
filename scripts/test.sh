#!/usr/bin/env bash
# The whole test suite (`npm test`, and what .ci/run runs):
#   unit    type check, shellcheck, unit tests under Pulumi mocks (seconds)
#   engine  Go tests of tools/, the Pulumi CLI and plugins built from Go modules (cached), previews
#           with the real engine
#   e2e     a fresh lab of five VMs, `pulumi up`, the seven end-to-end steps, destroy
# `scripts/test.sh unit` or `scripts/test.sh engine` stops after that stage.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

step() { printf '\n==> %s\n' "$*" >&2; }
jest_project() {
    npx jest --selectProjects "$1" --json --outputFile="$results/$1.json"
}
summary() { node scripts/jest-summary.js "$results"; }

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
jest_project unit
if [ "$what" = unit ]; then summary; exit 0; fi

step "Go tests of the stand-in language host and command provider (tools/)"
bash scripts/test-tools.sh
step "Pulumi CLI and plugins (built from Go modules on first use, then cached)"
bash scripts/ensure-pulumi.sh >/dev/null
step "real-engine tests"
jest_project engine
if [ "$what" = engine ]; then summary; exit 0; fi
summary
