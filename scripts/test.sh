#!/usr/bin/env bash
# The whole test suite (`npm test`, and what .ci/run runs):
#   unit    type check, shellcheck, unit tests under Pulumi mocks (seconds)
#   engine  the Pulumi CLI and plugins built from Go modules (cached), previews with the real engine
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
summary() {
    node -e '
        const fs = require("fs"); let p = 0, f = 0;
        for (const file of fs.readdirSync(process.argv[1])) {
            const r = JSON.parse(fs.readFileSync(`${process.argv[1]}/${file}`, "utf8"));
            p += r.numPassedTests; f += r.numFailedTests;
        }
        console.log(`${p} passed, ${f} failed`);' "$results"
}

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

step "Pulumi CLI and plugins (built from Go modules on first use, then cached)"
bash scripts/ensure-pulumi.sh >/dev/null
step "real-engine tests"
jest_project engine
if [ "$what" = engine ]; then summary; exit 0; fi
summary
