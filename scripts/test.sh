#!/usr/bin/env bash
# The whole test suite (`npm test`, and what .ci/run runs), in three stages:
#   unit    type check, shellcheck, unit tests under Pulumi mocks (seconds)
#   engine  the Pulumi CLI and plugins built from Go modules (cached), previews with the real engine,
#           and the Go tests of tools/ (in the background, reported at the end)
#   e2e     five fresh lab VMs, `pulumi up`, the end-to-end steps, `pulumi destroy`
# `scripts/test.sh STAGE...` runs only those stages (e.g. `scripts/test.sh unit`); no argument runs all.
set -euo pipefail
cd "$(dirname "$0")/.."
stages=("$@")
[ "${#stages[@]}" -gt 0 ] || stages=(unit engine e2e)
results=$(mktemp -d)

step() { printf '\n==> %s [%s, +%ss]\n' "$*" "$(date +%T)" "$SECONDS" >&2; }
jest_project() { npx jest --selectProjects "$1" --json --outputFile="$results/jest/$1.json" "${@:2}"; }
summary() { node scripts/jest-summary.js "$results/jest" || true; }
mkdir -p "$results/jest"
# Slow builds that later stages need start at once and overlap the fast stages: the Pulumi CLI
# (engine, e2e) and the lab image (e2e). A later stage calls the same script, which waits for the
# running build (both take a lock) and then finds it done; a failed build fails there, with its output.
# The lab's VMs boot only once nothing else runs: a boot under software emulation is CPU-bound, and
# booted beside the CLI build (tried) it took 254 s instead of about 160 and Apache timed out on web1.
prefetch=()
cleanup() {
    [ "${#prefetch[@]}" -eq 0 ] || kill "${prefetch[@]}" 2>/dev/null || true
    summary
    rm -rf "$results"
}
# The closing line comes last whatever happens: "N passed, N failed".
trap cleanup EXIT
wants() { [[ " ${stages[*]} " == *" $1 "* ]]; }

stage_unit() {
    step "type check"
    npx tsc --noEmit
    step "shellcheck"
    bash scripts/shellcheck.sh
    step "unit tests"
    jest_project unit
}

stage_engine() {
    # The CLI first: the stand-ins' tests then find nearly every package they need compiled (their
    # modules are the CLI's versions, built with the same flags), instead of compiling them again
    # at the same time on the same cores.
    step "Pulumi CLI and plugins (built from Go modules on first use, then cached)"
    bash scripts/ensure-pulumi.sh >/dev/null
    # The stand-ins' Go tests (about 2.5 min cold) run beside the later stages, at the lowest CPU
    # priority, and report at the end (tools_result): the lab suites wait on emulated VMs more
    # than on the cores.
    step "Go tests of the stand-ins (tools/), in the background"
    nice -n 19 bash scripts/test-tools.sh >"$results/tools.log" 2>&1 &
    tools_pid=$!
    step "real-engine tests"
    jest_project engine
}

tools_pid=""
tools_result() {
    [ -n "$tools_pid" ] || return 0
    step "Go tests of the stand-ins (tools/): result"
    if wait "$tools_pid"; then
        tail -n 1 "$results/tools.log" >&2
    else
        cat "$results/tools.log" >&2
        echo "the Go tests of tools/ failed" >&2
        return 1
    fi
}

stage_e2e() {
    step "Pulumi CLI and plugins"
    bash scripts/ensure-pulumi.sh >/dev/null
    step "lab: five fresh VMs (any running lab of this checkout is replaced; web3, director2, router and web4 boot during the cluster suite)"
    bash lab/lab.sh down
    bash lab/lab.sh up
    bash scripts/lab-stack.sh
    step "end-to-end tests on the lab"
    echo "(if a step fails, the lab is left running for a look: bash lab/lab.sh status; bash lab/lab.sh down)" >&2
    jest_project e2e --runInBand
    bash lab/lab.sh down
}

step "host tools"
bash scripts/ensure-tools.sh
if wants engine || wants e2e; then
    bash scripts/ensure-pulumi.sh >"$results/pulumi-build.log" 2>&1 &
    prefetch+=("$!")
fi
if wants e2e; then
    bash lab/image.sh build >"$results/image-build.log" 2>&1 &
    prefetch+=("$!")
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    step "npm ci"
    npm ci --no-audit --no-fund
fi
for stage in "${stages[@]}"; do
    case "$stage" in
        unit) stage_unit ;;
        engine) stage_engine ;;
        e2e) stage_e2e ;;
        *)
            echo "unknown stage '$stage' (stages: unit engine e2e)" >&2
            exit 2
            ;;
    esac
done
tools_result
