#!/usr/bin/env bash
# The whole test suite (`npm test`, and what .ci/run runs):
#   unit    type check, shellcheck, unit tests under Pulumi mocks (seconds)
#   engine  Go tests of tools/, the Pulumi CLI and plugins built from Go modules (cached), previews
#           with the real engine
#   e2e     a fresh lab of five VMs, `pulumi up`, the seven end-to-end steps, destroy
# `scripts/test.sh unit` or `scripts/test.sh engine` stops after that stage; `scripts/test.sh e2e-only`
# runs just the end-to-end stage.
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

step "lab: five fresh VMs (any running lab of this checkout is replaced)"
bash lab/lab.sh down
bash lab/lab.sh up
bash scripts/lab-stack.sh
step "end-to-end tests on the lab"
if ! jest_project e2e; then
    summary
    echo "the lab is left running for a look: bash lab/lab.sh status; bash lab/lab.sh down when done" >&2
    exit 1
fi
bash lab/lab.sh down
summary
