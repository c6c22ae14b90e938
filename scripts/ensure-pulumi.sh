#!/usr/bin/env bash
# scripts/ensure-pulumi.sh: make sure a Pulumi engine that this checkout can use offline exists,
# and print the directory that holds it (the only line on stdout):
#
#     bin=$(scripts/ensure-pulumi.sh) && PATH="$bin:$PATH" pulumi version
#
# That directory holds `pulumi` (CLI and engine), `pulumi-language-nodejs` (language host),
# `pulumi-resource-pulumi-nodejs` (the shim for dynamic providers), `pulumi-resource-command` and
# `pulumi-resource-random`. The CLI finds the first two beside itself; a resource plugin such as the
# command or random provider is found on $PATH (with a warning on every run) or in
# $PULUMI_HOME/plugins: scripts/pulumi.sh installs both there
# (`pulumi plugin install resource command 1.2.1 --file ...`, `... resource random 4.21.1 --file ...`),
# so `pulumi up` finds them without a download.
#
# 1. A `pulumi` already on PATH is used when it is 3.248 or newer within major version 3, has its
#    Node.js language host beside it, and a command provider 1.2.1 and a random provider 4.21.1 are
#    installed (a normal install: `pulumi plugin install resource command 1.2.1` and
#    `pulumi plugin install resource random 4.21.1`). Set LVS_DR_IGNORE_AMBIENT_PULUMI=1 to skip it.
# 2. Otherwise everything is built with the machine's Go from the Go module proxy into
#    ${LVS_DR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lvs-dr}/<key>/bin, in a temporary directory
#    that is moved into place only when every required step succeeded. A warm run builds nothing.
#    <key> holds the versions and a hash of what the stand-ins are built from: their sources in
#    tools/ (*.go except tests, go.mod, go.sum; every stand-in, the random one included) and this
#    script, so a change there builds a new directory (the CLI is reused).
#    - CLI: github.com/pulumi/pulumi/pkg/v3/cmd/pulumi v3.248.0 (through a generated wrapper module
#      that repeats the replace directives of pkg/go.mod), built once into <cache>/pulumi-cli-v3.248.0
#      and linked into each <key>/bin.
#    - Language host: the upstream module sdk/nodejs/cmd/pulumi-language-nodejs/v3 at the
#      pseudo-version of the v3.248.0 commit when the proxy serves it; otherwise (the proxy that
#      this project's machines reach answers 403) the stand-in written for this project,
#      tools/pulumi-language-nodejs (on sdk/v3 v3.248.0).
#    - Command provider: the upstream module github.com/pulumi/pulumi-command/provider at the
#      pseudo-version of the v1.2.1 commit when the proxy serves it; otherwise (403 here) the
#      stand-in tools/pulumi-resource-command: command:remote:Command, command:local:Command and
#      command:local:run with the 1.2.1 inputs and outputs, on pulumi-go-provider v1.3.0.
#    - Random provider (used for keepalived's VRRP router id, sync id and VRRPv2 password): always
#      the stand-in tools/pulumi-resource-random: random:index RandomInteger, RandomPassword,
#      RandomString and RandomId with the 4.21.1 inputs and outputs, on pulumi-go-provider v1.3.0.
#      The upstream module github.com/pulumi/pulumi-random/provider/v4 (v4.21.1 = RANDOM_PSEUDO) is
#      not tried: the proxy answers 403 for it here, and even where it is served it does not build
#      as a dependency (its go.mod replaces the module of its bridged Terraform provider with the
#      folder ./shim, and a dependency's replace directives do not apply).
#    The stand-ins are built with their committed go.mod/go.sum (-mod=readonly), without VCS stamps:
#    the same sources give the same binaries.
# Progress and errors go to stderr; build logs stay in <cache>/logs/.
set -euo pipefail

PULUMI_VERSION=3.248.0
COMMAND_VERSION=1.2.1
RANDOM_VERSION=4.21.1
# Pseudo-versions of the release commits (modules that have no tags of their own).
LANGHOST_MODULE=github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
LANGHOST_PSEUDO=v3.0.0-20260624120734-a88168d865b7 # tag v3.248.0 = a88168d865b7
COMMAND_MODULE=github.com/pulumi/pulumi-command/provider
COMMAND_PSEUDO=v0.0.0-20260303235922-7f3eb6f3b77c # tag v1.2.1 = 7f3eb6f3b77c
# Upstream random is not built (see the header); these only name it in messages.
RANDOM_MODULE=github.com/pulumi/pulumi-random/provider/v4
RANDOM_PSEUDO=v4.0.0-20260722185042-f2d8b029d0f7 # tag v4.21.1 = f2d8b029d0f7

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$REPO/tools"
CACHE_ROOT="${LVS_DR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lvs-dr}"
CLI_DIR="$CACHE_ROOT/pulumi-cli-v$PULUMI_VERSION"
LOG_DIR="$CACHE_ROOT/logs"
KEY= # set by main: pulumi-v<version>-command-<version>-random-<version>-tools-<hash>
DEST=

say() { printf 'ensure-pulumi: %s\n' "$*" >&2; }
die() {
	say "ERROR: $*"
	exit 1
}

# ---------------------------------------------------------------------------------------------
# 1. An ambient installation.
# ---------------------------------------------------------------------------------------------
version_ok() { # $1 = "v3.250.1" or "3.250.1": major 3, minor >= 248
	local v=${1#v} major minor
	major=${v%%.*}
	minor=${v#*.}
	minor=${minor%%.*}
	[[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] || return 1
	local want=${PULUMI_VERSION#*.}
	want=${want%%.*}
	((major == 3 && minor >= want))
}

# ambient_plugin NAME VERSION: print the path of resource plugin NAME: the one on PATH, else the
# installed NAME VERSION in ${PULUMI_HOME:-~/.pulumi}/plugins; fail when there is neither.
ambient_plugin() {
	local name=$1 version=$2 path
	path=$(command -v "pulumi-resource-$name" 2>/dev/null) && {
		printf '%s\n' "$path"
		return 0
	}
	path="${PULUMI_HOME:-$HOME/.pulumi}/plugins/resource-$name-v$version/pulumi-resource-$name"
	[[ -x $path ]] || return 1
	printf '%s\n' "$path"
}

try_ambient() {
	[[ -z ${LVS_DR_IGNORE_AMBIENT_PULUMI:-} ]] || return 1
	local cli real dir v cmd rnd
	cli=$(command -v pulumi 2>/dev/null) || return 1
	# A bin directory made by this script is not "ambient".
	case $cli in "$CACHE_ROOT"/*) return 1 ;; esac
	v=$(pulumi version 2>/dev/null) || return 1
	if ! version_ok "$v"; then
		say "ignoring $cli: version $v is not 3.248 or newer within v3"
		return 1
	fi
	real=$(readlink -f "$cli")
	dir=$(dirname "$real")
	if [[ ! -x $dir/pulumi-language-nodejs ]] && ! command -v pulumi-language-nodejs >/dev/null 2>&1; then
		say "ignoring $cli: no pulumi-language-nodejs beside it or on PATH"
		return 1
	fi
	cmd=$(ambient_plugin command "$COMMAND_VERSION") || {
		say "ignoring $cli ($v): command provider $COMMAND_VERSION is not installed" \
			"(pulumi plugin install resource command $COMMAND_VERSION)"
		return 1
	}
	rnd=$(ambient_plugin random "$RANDOM_VERSION") || {
		say "ignoring $cli ($v): random provider $RANDOM_VERSION is not installed" \
			"(pulumi plugin install resource random $RANDOM_VERSION)"
		return 1
	}
	# A directory of links that callers put first on PATH. The CLI finds its language host beside
	# its real path; the resource plugins are found on PATH (scripts/pulumi.sh installs them into
	# its PULUMI_HOME from there).
	local abin="$CACHE_ROOT/ambient/bin" f
	mkdir -p "$abin"
	ln -sfn "$real" "$abin/pulumi"
	ln -sfn "$cmd" "$abin/pulumi-resource-command"
	ln -sfn "$rnd" "$abin/pulumi-resource-random"
	for f in pulumi-language-nodejs pulumi-resource-pulumi-nodejs; do
		if [[ -x $dir/$f ]]; then ln -sfn "$dir/$f" "$abin/$f"; fi
	done
	say "using the installed $cli ($v) with $cmd and $rnd"
	printf '%s\n' "$abin"
}

# ---------------------------------------------------------------------------------------------
# 2. The cached build.
# ---------------------------------------------------------------------------------------------
REQUIRED=(pulumi pulumi-language-nodejs pulumi-resource-pulumi-nodejs pulumi-resource-command
	pulumi-resource-random)
TICKER=

# The files that the stand-ins are built from, relative to the repository: their sources in
# tools/ and this script (the build recipe).
tools_sources() {
	(cd "$REPO" && {
		find tools -type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \)
		echo scripts/ensure-pulumi.sh
	} | LC_ALL=C sort)
}

# A short hash of those files (names and contents): part of the cache key.
tools_hash() {
	local files
	files=$(tools_sources)
	grep -q '^tools/.*/go\.mod$' <<<"$files" ||
		die "no stand-in sources in $TOOLS (go.mod, *.go): is this checkout complete?"
	(cd "$REPO" && tr '\n' '\0' <<<"$files" | xargs -0 sha256sum) | sha256sum | cut -c1-12
}

cache_complete() {
	local f
	[[ -f $DEST/bin/.complete ]] || return 1
	for f in "${REQUIRED[@]}"; do [[ -x $DEST/bin/$f ]] || return 1; done
}

elapsed() { # seconds -> "3m07s"
	printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

# run_step NAME LOG CMD...: runs CMD with its output in LOG, showing progress on stderr.
run_step() {
	local name=$1 log=$2 start ticker rc=0
	shift 2
	start=$SECONDS
	say "[$name] started (log: $log)"
	(
		# $$ is this script: stop when it is gone, even if it was killed without its children.
		while sleep 30 && kill -0 $$ 2>/dev/null; do
			say "[$name] still running after $(elapsed $((SECONDS - start)))"
		done
	) &
	ticker=$!
	TICKER=$ticker
	"$@" >"$log" 2>&1 || rc=$?
	kill "$ticker" 2>/dev/null || true
	wait "$ticker" 2>/dev/null || true
	TICKER=
	if ((rc == 0)); then
		say "[$name] done in $(elapsed $((SECONDS - start)))"
	else
		say "[$name] FAILED after $(elapsed $((SECONDS - start))) (exit $rc); last lines of $log:"
		tail -n 25 "$log" | sed 's/^/    /' >&2
	fi
	return "$rc"
}

# go_build MODDIR OUT LDFLAGS PACKAGE [GO BUILD FLAGS...]: build PACKAGE of the module in MODDIR.
go_build() {
	local dir=$1 out=$2 ldflags=$3 pkg=$4
	shift 4
	(cd "$dir" && go build -p 2 -trimpath "$@" -ldflags "-s -w $ldflags" -o "$out" "$pkg")
}

# module_served MODDIR MODULE@VERSION: does the proxy serve it? (quick, no build). When it does
# not, NOT_SERVED says why ("403 Forbidden", ...).
NOT_SERVED=
module_served() {
	local out
	out=$(cd "$1" && go mod download -json "$2" 2>&1) && return 0
	NOT_SERVED=$(grep -oE '[45][0-9]{2} [A-Z][A-Za-z ]*[a-z]' <<<"$out" | head -n 1 || true)
	NOT_SERVED=${NOT_SERVED:-$(grep -o '"Error": *"[^"]*' <<<"$out" | cut -d'"' -f4 | cut -c1-160 || true)}
	NOT_SERVED=${NOT_SERVED:-go mod download failed}
	return 1
}

# write_module DIR NAME GO_VERSION REQUIRE... : a wrapper go.mod that requires the upstream module.
# The replace directive is the one of pulumi's pkg/go.mod that applies outside its repository.
write_module() {
	local dir=$1 name=$2 gover=$3 r
	shift 3
	mkdir -p "$dir"
	{
		printf 'module lvsdr.local/%s\n\ngo %s\n\nrequire (\n' "$name" "$gover"
		for r in "$@"; do printf '\t%s\n' "$r"; done
		printf ')\n\nreplace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e\n'
	} >"$dir/go.mod"
}

# The shim that runs dynamic providers (pulumi-nodejs:dynamic:Resource): the same as
# sdk/nodejs/dist/pulumi-resource-pulumi-nodejs, which @pulumi/pulumi also ships at its root.
write_dynamic_shim() { # $1 = file
	local src
	src=$(go env GOMODCACHE)/github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION/nodejs/dist/pulumi-resource-pulumi-nodejs
	if [[ -f $src ]]; then
		cp "$src" "$1"
	else
		cat >"$1" <<'EOF_SH'
#!/bin/sh
PULUMI_DYNAMIC_PROVIDER_SCRIPT_PATH=$(node -e "console.log(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))")
if [ ! -z "$PULUMI_DYNAMIC_PROVIDER_SCRIPT_PATH" ]; then
    node "$PULUMI_DYNAMIC_PROVIDER_SCRIPT_PATH" $@
fi
EOF_SH
	fi
	chmod 755 "$1"
}

preflight() {
	if ! command -v go >/dev/null 2>&1; then
		if [[ -x /usr/local/go/bin/go ]]; then
			PATH="/usr/local/go/bin:$PATH"
		else
			die "no 'go' on PATH and no /usr/local/go: install Go 1.25.11 or newer" \
				"(https://go.dev/doc/install, or the golang-go package when it is that new), or install" \
				"the Pulumi CLI $PULUMI_VERSION+ and run 'pulumi plugin install resource command $COMMAND_VERSION'" \
				"and 'pulumi plugin install resource random $RANDOM_VERSION'."
		fi
	fi
	local gv
	gv=$(go env GOVERSION 2>/dev/null) || die "'go env GOVERSION' failed: is the Go installation broken?"
	gv=${gv#go}
	local maj=${gv%%.*} rest=${gv#*.} min
	min=${rest%%.*}
	if ! [[ $maj =~ ^[0-9]+$ && $min =~ ^[0-9]+$ ]] || ((maj < 1 || (maj == 1 && min < 25))); then
		die "Go $gv is too old: Pulumi $PULUMI_VERSION needs Go 1.25.11 or newer" \
			"(install a newer Go, or export GOTOOLCHAIN=go1.27.3 to let go fetch that toolchain)."
	fi
	command -v node >/dev/null 2>&1 ||
		say "warning: no 'node' on PATH; the Node.js language host needs it at run time"
	mkdir -p "$CACHE_ROOT" "$LOG_DIR" || die "cannot create the cache directory $CACHE_ROOT (set LVS_DR_CACHE)"
	# Build settings: modules resolved as needed (the stand-ins: -mod=readonly, pinned by their
	# go.sum), no go.work of a surrounding checkout, static binaries (no C compiler needed), the
	# installed Go unless the caller chose a toolchain. (Setting GOFLAGS hides the GOFLAGS of
	# `go env -w`, such as -buildvcs=false: the stand-ins, built inside this git checkout, pass it.)
	export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
	export GOWORK=off CGO_ENABLED=0
	export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
}

# The CLI does not depend on tools/: it is built once per version into $CLI_DIR.
build_cli() { # $1 = temporary directory
	if [[ -f $CLI_DIR/.complete && -x $CLI_DIR/pulumi ]]; then
		say "[1/5 pulumi CLI v$PULUMI_VERSION] already built in $CLI_DIR"
		return 0
	fi
	local src=$1/src/cli out=$1/cli
	mkdir -p "$out"
	write_module "$src" pulumi-cli 1.25.11 "github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION" \
		"github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION"
	run_step "1/5 pulumi CLI v$PULUMI_VERSION" "$LOG_DIR/cli.log" \
		go_build "$src" "$out/pulumi" \
		"-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
		github.com/pulumi/pulumi/pkg/v3/cmd/pulumi || return 1
	"$out/pulumi" version >/dev/null 2>&1 || {
		say "the built pulumi does not run: $out/pulumi version failed"
		return 1
	}
	echo "v$PULUMI_VERSION" >"$out/.complete"
	rm -rf "$CLI_DIR"
	mv -T "$out" "$CLI_DIR"
}

# build_standin STEP NAME LDFLAGS LOG WHAT: build plugin NAME into $out from the lvs-dr stand-in in
# tools/NAME and record it in $notes. Uses build_all's out, notes and hash.
build_standin() {
	local step=$1 name=$2 ldflags=$3 log=$4 what=$5
	run_step "$step $name (lvs-dr stand-in)" "$LOG_DIR/$log.log" \
		go_build "$TOOLS/$name" "$out/$name" "$ldflags" . -mod=readonly -buildvcs=false || return 1
	echo "$what: lvs-dr stand-in tools/$name ($hash)" >>"$notes"
}

# build_plugin STEP NAME UPSTREAM_DIR MODULE PSEUDO PACKAGE UPSTREAM_LDFLAGS STANDIN_LDFLAGS LOG WHAT:
# build plugin NAME into $out from the upstream MODULE@PSEUDO when the proxy serves it, else from
# the lvs-dr stand-in in tools/NAME; record which in $notes. Uses build_all's out, notes and hash.
build_plugin() {
	local step=$1 name=$2 dir=$3 module=$4 pseudo=$5 package=$6 upstream_ld=$7 standin_ld=$8 log=$9 what=${10}
	if module_served "$dir" "$module@$pseudo"; then
		run_step "$step $name (upstream $pseudo)" "$LOG_DIR/$log.log" \
			go_build "$dir" "$out/$name" "$upstream_ld" "$package" || return 1
		echo "$what: upstream $module $pseudo" >>"$notes"
	else
		say "[$step] the proxy answers $NOT_SERVED for $module@$pseudo: building the lvs-dr stand-in tools/$name"
		build_standin "$step" "$name" "$standin_ld" "$log" "$what" || return 1
	fi
}

build_all() { # $1 = temporary directory
	local tmp=$1 out=$1/$KEY/bin src=$1/src t0=$SECONDS hash=${KEY##*-}
	mkdir -p "$out" "$src"
	local notes=$1/$KEY/BUILDINFO
	{
		echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) with $(go env GOVERSION) by scripts/ensure-pulumi.sh"
		echo "pulumi CLI: github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION"
	} >"$notes"

	# 1. The CLI and engine: a hard link (or copy) of the per-version build.
	build_cli "$tmp" || return 1
	ln -f "$CLI_DIR/pulumi" "$out/pulumi" 2>/dev/null || cp "$CLI_DIR/pulumi" "$out/pulumi" || return 1

	# 2. The Node.js language host.
	write_module "$src/langhost-upstream" pulumi-language-nodejs-upstream 1.25.11 \
		"$LANGHOST_MODULE $LANGHOST_PSEUDO" "github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION" \
		"github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION"
	build_plugin 2/5 pulumi-language-nodejs "$src/langhost-upstream" "$LANGHOST_MODULE" "$LANGHOST_PSEUDO" \
		"$LANGHOST_MODULE" "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
		"-X main.Version=$PULUMI_VERSION+lvsdr.$hash" langhost "language host" || return 1

	# 3. The shim for dynamic providers.
	say "[3/5 pulumi-resource-pulumi-nodejs] writing the dynamic provider shim"
	write_dynamic_shim "$out/pulumi-resource-pulumi-nodejs" || return 1

	# 4. The command provider.
	write_module "$src/command-upstream" pulumi-resource-command-upstream 1.25.0 "$COMMAND_MODULE $COMMAND_PSEUDO"
	build_plugin 4/5 pulumi-resource-command "$src/command-upstream" "$COMMAND_MODULE" "$COMMAND_PSEUDO" \
		"$COMMAND_MODULE/cmd/pulumi-resource-command" \
		"-X github.com/pulumi/pulumi-command/provider/pkg/version.Version=$COMMAND_VERSION" \
		"-X main.Version=$COMMAND_VERSION" command "command provider" || return 1

	# 5. The random provider: the stand-in (upstream does not build as a dependency; see the header).
	say "[5/5] random $RANDOM_VERSION: building the lvs-dr stand-in tools/pulumi-resource-random" \
		"(upstream $RANDOM_MODULE@$RANDOM_PSEUDO does not build as a dependency)"
	build_standin 5/5 pulumi-resource-random "-X main.Version=$RANDOM_VERSION" random \
		"random provider" || return 1

	{
		echo "stand-in hash $hash of:"
		(cd "$REPO" && tools_sources | tr '\n' '\0' | xargs -0 sha256sum | sed 's/^/    /')
	} >>"$notes"
	echo "$KEY" >"$out/.complete"
	say "all built in $(elapsed $((SECONDS - t0)))"
}

main() {
	if try_ambient; then
		return 0
	fi
	[[ -d $TOOLS ]] || die "$TOOLS is missing: the stand-ins' sources are part of the checkout"
	KEY="pulumi-v${PULUMI_VERSION}-command-${COMMAND_VERSION}-random-${RANDOM_VERSION}-tools-$(tools_hash)"
	DEST="$CACHE_ROOT/$KEY"
	if cache_complete; then
		printf '%s\n' "$DEST/bin"
		return 0
	fi

	preflight
	# One build at a time per cache directory.
	exec 9>"$CACHE_ROOT/.lock"
	if command -v flock >/dev/null 2>&1; then
		flock -n 9 || {
			say "another ensure-pulumi.sh is building in $CACHE_ROOT: waiting for it"
			flock 9
		}
	fi
	if cache_complete; then # built by the one we waited for
		printf '%s\n' "$DEST/bin"
		return 0
	fi

	say "building Pulumi $PULUMI_VERSION + command $COMMAND_VERSION + random $RANDOM_VERSION into $DEST"
	[[ -f $CLI_DIR/.complete ]] ||
		say "(first run only: about 5-10 minutes on 2 cores; Go modules go to $(go env GOMODCACHE), up to ~2 GB unpacked, and ~2 GB of Go build cache)"
	local tmp
	tmp=$(mktemp -d "$CACHE_ROOT/.build-XXXXXX")
	# shellcheck disable=SC2064 # expand $tmp now
	trap "rm -rf '$tmp'; [[ -z \$TICKER ]] || kill \$TICKER 2>/dev/null || true" EXIT
	if ! build_all "$tmp"; then
		die "the build failed (logs in $LOG_DIR). Needed: Go >= 1.25.11 and access to the Go module" \
			"proxy (GOPROXY=$(go env GOPROXY)). Or install the Pulumi CLI $PULUMI_VERSION+, run" \
			"'pulumi plugin install resource command $COMMAND_VERSION' and" \
			"'pulumi plugin install resource random $RANDOM_VERSION', and run again."
	fi
	rm -rf "$DEST"
	mv -T "$tmp/$KEY" "$DEST"
	local old
	old=$(cd "$CACHE_ROOT" && find . -maxdepth 1 -name "pulumi-v*-command-*" ! -name "$KEY" -printf '%f ')
	[[ -z $old ]] || say "older builds in $CACHE_ROOT, unused by this checkout (remove them when no checkout needs them): ${old% }"
	printf '%s\n' "$DEST/bin"
}

main "$@"
