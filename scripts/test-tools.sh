#!/usr/bin/env bash
# scripts/test-tools.sh: `go vet` and `go test` for each Go module in tools/ (the stand-ins that
# scripts/ensure-pulumi.sh builds). Settings as ensure-pulumi.sh: the installed Go
# (GOTOOLCHAIN=local), modules resolved as needed (GOFLAGS=-mod=mod), no go.work, no cgo, and
# -trimpath as its builds use: with the same flags (and the stand-ins' go.mod on the CLI's module
# versions) every package the CLI build compiled is reused from Go's build cache, not compiled again.
# The command provider's tests run an SSH server on 127.0.0.1 and need bash.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if ! command -v go >/dev/null 2>&1; then
	if [[ -x /usr/local/go/bin/go ]]; then
		PATH="/usr/local/go/bin:$PATH"
	else
		echo "test-tools: no 'go' on PATH and no /usr/local/go: install Go 1.25.11 or newer to test tools/" >&2
		exit 1
	fi
fi
export GOTOOLCHAIN=local GOFLAGS='-mod=mod -trimpath' GOWORK=off CGO_ENABLED=0

mapfile -t mods < <(cd "$repo" && find tools -name go.mod -printf '%h\n' | LC_ALL=C sort)
if ((${#mods[@]} == 0)); then
	echo "test-tools: no Go modules under $repo/tools" >&2
	exit 1
fi

failed=()
for mod in "${mods[@]}"; do
	echo "== $mod: go vet" >&2
	if ! (cd "$repo/$mod" && go vet ./...); then
		failed+=("$mod (vet)")
		continue
	fi
	echo "== $mod: go test" >&2
	(cd "$repo/$mod" && go test -p 2 ./...) || failed+=("$mod (test)")
done

if ((${#failed[@]})); then
	echo "test-tools: FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "test-tools: ${#mods[@]} modules vetted and tested"
