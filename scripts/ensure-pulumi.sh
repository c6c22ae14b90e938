#!/usr/bin/env bash
# scripts/ensure-pulumi.sh: make sure a Pulumi engine that this checkout can use offline exists,
# and print the directory that holds it (the only line on stdout):
#
#     bin=$(scripts/ensure-pulumi.sh) && PATH="$bin:$PATH" pulumi version
#
# That directory holds `pulumi` (CLI and engine), `pulumi-language-nodejs` (language host),
# `pulumi-resource-pulumi-nodejs` (the shim for dynamic providers) and `pulumi-resource-command`.
# The CLI finds the first two beside itself; a resource plugin such as the command provider is
# found on $PATH (with a warning on every run) or in $PULUMI_HOME/plugins: scripts/pulumi.sh
# installs it there (`pulumi plugin install resource command 1.2.1 --file ...`).
#
# 1. A `pulumi` already on PATH is used when it is 3.248 or newer within major version 3, has its
#    Node.js language host beside it, and a command provider 1.2.1 is installed (a normal install:
#    `pulumi plugin install resource command 1.2.1`). Set LVS_DR_IGNORE_AMBIENT_PULUMI=1 to skip it.
# 2. Otherwise everything is built with the machine's Go from the Go module proxy into
#    ${LVS_DR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lvs-dr}/<key>/bin, in a temporary directory
#    that is moved into place only when every required step succeeded. A warm run builds nothing.
#    - CLI: github.com/pulumi/pulumi/pkg/v3/cmd/pulumi v3.248.0 (through a generated wrapper module
#      that repeats the replace directives of pkg/go.mod).
#    - Language host: the upstream module sdk/nodejs/cmd/pulumi-language-nodejs/v3 at the pseudo-version
#      of the v3.248.0 commit when the proxy serves it; otherwise (the proxy that this project's machines
#      reach does not serve it) a small stand-in host, written for this project and embedded below,
#      built against sdk/v3 v3.248.0.
#    - Command provider: the upstream module github.com/pulumi/pulumi-command/provider at the
#      pseudo-version of the v1.2.1 commit when the proxy serves it; otherwise a stand-in (embedded
#      below) implementing command:local:Command, command:remote:Command, command:remote:CopyToRemote
#      and command:local:run with the 1.2.1 inputs and outputs, on pulumi-go-provider v1.3.0.
#    - Optional: pulumi-resource-random 4.21.1 when the proxy serves it (it does not here); a failure
#      there is reported and does not fail the script.
# Progress and errors go to stderr; build logs stay in <cache>/logs/.
set -euo pipefail

PULUMI_VERSION=3.248.0
COMMAND_VERSION=1.2.1
RANDOM_VERSION=4.21.1
# Pseudo-versions of the release commits (modules that have no tags of their own).
LANGHOST_MODULE=github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
LANGHOST_PSEUDO=v3.0.0-20260624120734-a88168d865b7   # tag v3.248.0 = a88168d865b7
COMMAND_MODULE=github.com/pulumi/pulumi-command/provider
COMMAND_PSEUDO=v0.0.0-20260303235922-7f3eb6f3b77c    # tag v1.2.1 = 7f3eb6f3b77c
RANDOM_MODULE=github.com/pulumi/pulumi-random/provider/v4
RANDOM_PSEUDO=v4.0.0-20260722185042-f2d8b029d0f7     # tag v4.21.1 = f2d8b029d0f7
GO_PROVIDER_VERSION=v1.3.0
# Bump when the embedded stand-in sources below change: it is part of the cache key.
STANDIN_REV=1

CACHE_ROOT="${LVS_DR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lvs-dr}"
KEY="pulumi-v${PULUMI_VERSION}-command-${COMMAND_VERSION}-r${STANDIN_REV}"
DEST="$CACHE_ROOT/$KEY"
LOG_DIR="$CACHE_ROOT/logs"

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

try_ambient() {
	[[ -z ${LVS_DR_IGNORE_AMBIENT_PULUMI:-} ]] || return 1
	local cli real dir v cmd plugin_home
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
	plugin_home="${PULUMI_HOME:-$HOME/.pulumi}/plugins"
	cmd=$(command -v pulumi-resource-command 2>/dev/null || true)
	if [[ -z $cmd && -x $plugin_home/resource-command-v$COMMAND_VERSION/pulumi-resource-command ]]; then
		cmd=$plugin_home/resource-command-v$COMMAND_VERSION/pulumi-resource-command
	fi
	if [[ -z $cmd ]]; then
		say "ignoring $cli ($v): command provider $COMMAND_VERSION is not installed" \
			"(pulumi plugin install resource command $COMMAND_VERSION)"
		return 1
	fi
	# A directory of links that callers put first on PATH. The CLI finds its language host beside
	# its real path; the command provider is found on PATH.
	local abin="$CACHE_ROOT/ambient/bin" f
	mkdir -p "$abin"
	ln -sfn "$real" "$abin/pulumi"
	ln -sfn "$cmd" "$abin/pulumi-resource-command"
	for f in pulumi-language-nodejs pulumi-resource-pulumi-nodejs; do
		if [[ -x $dir/$f ]]; then ln -sfn "$dir/$f" "$abin/$f"; fi
	done
	say "using the installed $cli ($v) with $cmd"
	printf '%s\n' "$abin"
}

# ---------------------------------------------------------------------------------------------
# 2. The cached build.
# ---------------------------------------------------------------------------------------------
REQUIRED=(pulumi pulumi-language-nodejs pulumi-resource-pulumi-nodejs pulumi-resource-command)
TICKER=

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

# go_build MODDIR OUT LDFLAGS PACKAGE: build PACKAGE of the module in MODDIR into OUT.
go_build() {
	local dir=$1 out=$2 ldflags=$3 pkg=$4
	(cd "$dir" && go build -p 2 -trimpath -ldflags "-s -w $ldflags" -o "$out" "$pkg")
}

# module_served MODDIR MODULE@VERSION: does the proxy serve it? (quick, no build)
module_served() {
	(cd "$1" && go mod download -json "$2" >/dev/null 2>&1)
}

write_cli_module() { # $1 = dir
	mkdir -p "$1"
	cat >"$1/go.mod" <<EOF_MOD
module lvsdr.local/pulumi-cli

go 1.25.11

require (
	github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION
)

// The replace directive of pkg/go.mod that applies outside the pulumi repository.
replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
EOF_MOD
}

write_upstream_langhost_module() { # $1 = dir
	mkdir -p "$1"
	cat >"$1/go.mod" <<EOF_MOD
module lvsdr.local/pulumi-language-nodejs-upstream

go 1.25.11

require (
	$LANGHOST_MODULE $LANGHOST_PSEUDO
	github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
EOF_MOD
}

write_upstream_command_module() { # $1 = dir
	mkdir -p "$1"
	cat >"$1/go.mod" <<EOF_MOD
module lvsdr.local/pulumi-resource-command-upstream

go 1.25.0

require $COMMAND_MODULE $COMMAND_PSEUDO
EOF_MOD
}

write_random_module() { # $1 = dir
	mkdir -p "$1"
	cat >"$1/go.mod" <<EOF_MOD
module lvsdr.local/pulumi-resource-random

go 1.25.0

require $RANDOM_MODULE $RANDOM_PSEUDO
EOF_MOD
}

write_standin_langhost() { # $1 = dir
	mkdir -p "$1"
	cat >"$1/go.mod" <<EOF_MOD
module lvsdr.local/pulumi-language-nodejs

go 1.25.11

require (
	github.com/google/shlex v0.0.0-20191202100458-e7afc7fbc510
	github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION
)
EOF_MOD
	cat >"$1/main.go" <<'EOF_GO'
// pulumi-language-nodejs (lvs-dr stand-in).
//
// A small Node.js language host for the Pulumi engine, written for the lvs-dr
// project because the upstream module
// github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 is not
// served by the Go module proxy this project can reach. It implements what
// `pulumi preview/up/destroy/refresh/about/install` and policy packs need, on
// top of the libraries of github.com/pulumi/pulumi/sdk/v3:
// it starts `node @pulumi/pulumi/cmd/run` (or cmd/run-plugin,
// cmd/run-policy-pack) with the arguments and environment that script reads.
// Code generation (convert, package gen-sdk) is not implemented.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/shlex"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/nodejs/npm"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Version is set with -ldflags -X main.Version=...
var Version = "3.248.0"

// exit code of @pulumi/pulumi's run script after it already printed an actionable message.
const exitAfterUserMessage = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu            sync.Mutex
	engineAddress string
	tracing       string
	cancelCtx     context.Context
	cancel        context.CancelFunc
}

type options struct {
	typescript     bool
	tsconfig       string
	nodeargs       []string
	packagemanager npm.PackageManagerType
}

func parseOptions(info *pulumirpc.ProgramInfo) (options, error) {
	o := options{typescript: true, packagemanager: npm.AutoPackageManager}
	if info == nil || info.Options == nil {
		return o, nil
	}
	m := info.Options.AsMap()
	if v, ok := m["typescript"]; ok {
		b, ok := v.(bool)
		if !ok {
			return o, errors.New("runtime option typescript must be a boolean")
		}
		o.typescript = b
	}
	if v, ok := m["tsconfig"]; ok {
		s, ok := v.(string)
		if !ok {
			return o, errors.New("runtime option tsconfig must be a string")
		}
		o.tsconfig = s
	}
	if v, ok := m["nodeargs"]; ok {
		s, ok := v.(string)
		if !ok {
			return o, errors.New("runtime option nodeargs must be a string")
		}
		args, err := shlex.Split(s)
		if err != nil {
			return o, fmt.Errorf("runtime option nodeargs: %w", err)
		}
		o.nodeargs = args
	}
	if v, ok := m["packagemanager"]; ok {
		s, ok := v.(string)
		if !ok {
			return o, errors.New("runtime option packagemanager must be a string")
		}
		switch s {
		case "auto":
			o.packagemanager = npm.AutoPackageManager
		case "npm":
			o.packagemanager = npm.NpmPackageManager
		case "yarn":
			o.packagemanager = npm.YarnPackageManager
		case "pnpm":
			o.packagemanager = npm.PnpmPackageManager
		case "bun":
			o.packagemanager = npm.BunPackageManager
		default:
			return o, fmt.Errorf("runtime option packagemanager: unknown value %q", s)
		}
	}
	return o, nil
}

func (o options) env() []string {
	var env []string
	if o.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if o.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+o.tsconfig)
	}
	return env
}

// resolveModule asks node where a module of @pulumi/pulumi is, as seen from dir.
func resolveModule(nodeBin, dir, mod, hint string) (string, error) {
	script := "try { console.log(require.resolve(" + strconv.Quote(mod) + ")); } catch (e) { " +
		"if (e.code === 'MODULE_NOT_FOUND') { console.error(" +
		strconv.Quote("It looks like the Pulumi SDK has not been installed. Have you run "+hint+"?") +
		"); } else { console.error(e.message); } process.exit(1); }"
	cmd := exec.Command(nodeBin, "-e", script)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", errors.New(strings.TrimSpace(string(ee.Stderr)))
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

func (h *host) Handshake(ctx context.Context, req *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	h.engineAddress = req.GetEngineAddress()
	h.mu.Unlock()
	if addr := req.GetEngineAddress(); addr != "" {
		hcCtx, hcCancel := context.WithCancel(context.Background())
		if err := rpcutil.Healthcheck(hcCtx, addr, 5*time.Minute, hcCancel); err != nil {
			hcCancel()
			return nil, fmt.Errorf("could not start health check: %w", err)
		}
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

// The engine loads provider plugins when the program registers resources; with
// automatic plugin acquisition disabled nothing needs to be announced up front.
func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancel()
	return &emptypb.Empty{}, nil
}

func jsonConfig(req *pulumirpc.RunRequest) (string, string, error) {
	// @pulumi/pulumi reads keys in the "<namespace>:config:<name>" form.
	cfg := map[string]string{}
	for k, v := range req.GetConfig() {
		key, err := config.ParseKey(k)
		if err != nil {
			return "", "", err
		}
		cfg[key.Namespace()+":config:"+key.Name()] = v
	}
	c, err := json.Marshal(cfg)
	if err != nil {
		return "", "", err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	s, err := json.Marshal(secretKeys)
	if err != nil {
		return "", "", err
	}
	return string(c), string(s), nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	if info == nil {
		return nil, errors.New("run request without program info")
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "could not find node on the $PATH: " + err.Error()}, nil
	}
	opts, err := parseOptions(info)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	runPath := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH")
	if runPath == "" {
		runPath = "@pulumi/pulumi/cmd/run"
	}
	runPath, err = resolveModule(nodeBin, info.GetProgramDirectory(), runPath, "pulumi install")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	cfg, secretKeys, err := jsonConfig(req)
	if err != nil {
		return &pulumirpc.RunResponse{Error: "failed to serialize configuration: " + err.Error()}, nil
	}

	h.mu.Lock()
	engine := h.engineAddress
	h.mu.Unlock()

	args := append([]string{}, opts.nodeargs...)
	args = append(args, runPath)
	add := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", engine)
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("root-directory", info.GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", info.GetProgramDirectory())
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("tracing", h.tracing)
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	env := append(os.Environ(), "PULUMI_CONFIG="+cfg, "PULUMI_CONFIG_SECRET_KEYS="+secretKeys)
	env = append(env, opts.env()...)

	cmdCtx, cmdCancel := context.WithCancel(h.cancelCtx)
	defer cmdCancel()
	stop := context.AfterFunc(ctx, cmdCancel)
	defer stop()
	cmd := exec.CommandContext(cmdCtx, nodeBin, args...)
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
	cmd.Dir = info.GetProgramDirectory()
	cmd.Env = env
	// node may switch its stdio to non-blocking mode: give it pipes, not our own fds.
	cmd.Stdout = struct{ io.Writer }{os.Stdout}
	cmd.Stderr = struct{ io.Writer }{os.Stderr}

	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			switch code := ee.ExitCode(); code {
			case exitAfterUserMessage:
				return &pulumirpc.RunResponse{Bail: true}, nil
			case 0:
				return &pulumirpc.RunResponse{Error: "Program exited unexpectedly: " + err.Error()}, nil
			default:
				return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", code)}, nil
			}
		}
		return &pulumirpc.RunResponse{Error: "Problem executing program (could not run language executor): " + err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	opts, err := parseOptions(req.GetInfo())
	if err != nil {
		return err
	}
	dir := req.GetInfo().GetProgramDirectory()
	fmt.Fprintf(stdout, "Installing dependencies...\n\n")
	if _, err := npm.Install(server.Context(), opts.packagemanager, dir, false, stdout, stderr); err != nil {
		return fmt.Errorf("installing dependencies in %s: %w", dir, err)
	}
	fmt.Fprintf(stdout, "Finished installing dependencies\n\n")
	return closer.Close()
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("could not find node on the $PATH: %w", err)
	}
	resp := &pulumirpc.AboutResponse{Executable: nodeBin, Metadata: map[string]string{}}
	if out, err := exec.CommandContext(ctx, nodeBin, "--version").Output(); err == nil {
		resp.Version = strings.TrimSpace(string(out))
	}
	if opts, err := parseOptions(req.GetInfo()); err == nil {
		if pm, err := npm.ResolvePackageManager(opts.packagemanager, req.GetInfo().GetProgramDirectory()); err == nil {
			resp.Metadata["packagemanager"] = pm.Name()
			if v, err := pm.Version(); err == nil {
				resp.Metadata["packagemanagerVersion"] = v.String()
			}
		}
	}
	return resp, nil
}

func (h *host) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	opts, err := parseOptions(req.GetInfo())
	if err != nil {
		return nil, err
	}
	dir := req.GetInfo().GetProgramDirectory()
	pm, err := npm.ResolvePackageManager(opts.packagemanager, dir)
	if err != nil {
		return nil, err
	}
	pkgs, err := pm.ListPackages(ctx, dir, req.GetTransitiveDependencies())
	if err != nil {
		return nil, fmt.Errorf("failed to get node dependencies: %w", err)
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, p := range pkgs {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return resp, nil
}

func (h *host) RuntimeOptionsPrompts(context.Context, *pulumirpc.RuntimeOptionsRequest) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

func (h *host) Template(context.Context, *pulumirpc.TemplateRequest) (*pulumirpc.TemplateResponse, error) {
	return &pulumirpc.TemplateResponse{}, nil
}

// RunPlugin runs a plugin written in Node.js: a policy pack (kind analyzer) or a provider.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	ctx := server.Context()
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return err
	}
	opts, err := parseOptions(req.GetInfo())
	if err != nil {
		return err
	}
	dir := req.GetInfo().GetProgramDirectory()
	analyzer := req.GetKind() == string(apitype.AnalyzerPlugin)
	runPath := "@pulumi/pulumi/cmd/run-plugin"
	if analyzer {
		runPath = "@pulumi/pulumi/cmd/run-policy-pack"
	} else if p := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH"); p != "" {
		runPath = p
	}
	runPath, err = resolveModule(nodeBin, dir, runPath, "npm install in "+dir)
	if err != nil {
		return err
	}
	env := append(append([]string{}, req.GetEnv()...), opts.env()...)
	args := append([]string{runPath}, opts.nodeargs...)
	if analyzer {
		args = append(append(args, req.GetArgs()...), dir)
	} else {
		args = append(append(args, dir), req.GetArgs()...)
	}

	var proxy *sdk.PolicyProxy
	if analyzer {
		proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout)
		if err != nil {
			return fmt.Errorf("could not start policy pack proxy: %w", err)
		}
		cfg, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("could not get stack configuration: %w", err)
		}
		if cfg != nil {
			set := func(k, v string) {
				if v != "" {
					env = append(env, k+"="+v)
				}
			}
			set("PULUMI_NODEJS_ORGANIZATION", cfg.GetOrganization())
			set("PULUMI_NODEJS_PROJECT", cfg.GetProject())
			set("PULUMI_NODEJS_STACK", cfg.GetStack())
			set("PULUMI_NODEJS_DRY_RUN", strconv.FormatBool(cfg.GetDryRun()))
			if cfg.GetConfig() != nil {
				b, err := json.Marshal(cfg.GetConfig())
				if err != nil {
					return err
				}
				set("PULUMI_CONFIG", string(b))
			}
		}
	}

	cmd := exec.CommandContext(ctx, nodeBin, args...)
	if analyzer {
		cmd.Dir = dir
	} else {
		cmd.Dir = req.GetPwd()
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("Problem executing plugin program (could not run language executor): %w", err)
	}
	if proxy != nil {
		if err := proxy.Attach(ctx, cmd); err != nil {
			return fmt.Errorf("could not attach policy pack proxy: %w", err)
		}
		return nil
	}
	if err := cmd.Wait(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok {
				return fmt.Errorf("Program exited with non-zero exit code: %d", ws.ExitStatus())
			}
			return fmt.Errorf("Program exited unexpectedly: %w", ee)
		}
		return err
	}
	return closer.Close()
}

func main() {
	tracing := flag.String("tracing", "", "Emit tracing to a Zipkin-compatible tracing endpoint")
	runtimeName := flag.String("runtime", "nodejs", "runtime: only nodejs is supported")
	showVersion := flag.Bool("version", false, "Print the plugin version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(Version)
		return
	}
	if *runtimeName != "nodejs" {
		fmt.Fprintf(os.Stderr, "unsupported runtime: %s\n", *runtimeName)
		os.Exit(1)
	}

	cancelCtx, cancel := context.WithCancel(context.Background())
	h := &host{tracing: *tracing, cancelCtx: cancelCtx, cancel: cancel}
	if args := flag.Args(); len(args) > 0 {
		h.engineAddress = args[0]
	}

	sigCtx, stopSig := signal.NotifyContext(context.Background(), os.Interrupt)
	stopServing := make(chan bool)
	go func() {
		<-sigCtx.Done()
		stopSig()
		close(stopServing)
	}()
	if h.engineAddress != "" {
		if err := rpcutil.Healthcheck(sigCtx, h.engineAddress, 5*time.Minute, stopSig); err != nil {
			fmt.Fprintf(os.Stderr, "could not start health check: %v\n", err)
			os.Exit(1)
		}
	}

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stopServing,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "could not start language host RPC server: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "language host RPC stopped serving: %v\n", err)
		os.Exit(1)
	}
}
EOF_GO
}

write_standin_command() { # $1 = dir
	mkdir -p "$1"
	# pulumi-go-provider v1.3.0 builds against sdk/pkg v3.224.0 (as command 1.2.1 does), not 3.248.
	cat >"$1/go.mod" <<EOF_MOD
module lvsdr.local/pulumi-resource-command

go 1.25.0

require (
	github.com/pulumi/pulumi-go-provider $GO_PROVIDER_VERSION
	github.com/pulumi/pulumi/pkg/v3 v3.224.0
	github.com/pulumi/pulumi/sdk/v3 v3.224.0
	golang.org/x/crypto v0.48.0
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
EOF_MOD
	cat >"$1/main.go" <<'EOF_GO'
// pulumi-resource-command (lvs-dr stand-in).
//
// Written for the lvs-dr project because github.com/pulumi/pulumi-command/provider is not served
// by the Go module proxy this project can reach. It serves the tokens, inputs and outputs of
// the command package 1.2.1 that @pulumi/command's SDK sends, with the documented lifecycle:
//   - command:remote:Command  create/update/delete over SSH (connection: user root, port 22,
//     dialErrorLimit 10, perDialTimeout 15 s, password/privateKey/agent auth, hostKey pinning,
//     one proxy hop), stdin, environment (SSH setenv), logging, addPreviousOutputInEnv;
//     a change of triggers replaces the resource, any other change runs update (or create).
//   - command:local:Command   the same with a local interpreter (default /bin/sh -c) and dir.
//   - command:local:run       invoke: runs a local command on every preview and up.
//
// command:remote:CopyToRemote and command:remote:CopyFile are not implemented.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi-go-provider/middleware/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Version is set with -ldflags -X main.Version=...
var Version = "1.2.1"

const (
	envPrevStdout = "PULUMI_COMMAND_STDOUT"
	envPrevStderr = "PULUMI_COMMAND_STDERR"
)

// ---- shared input types ---------------------------------------------------------------------

type Logging string

const (
	LogStdout          Logging = "stdout"
	LogStderr          Logging = "stderr"
	LogStdoutAndStderr Logging = "stdoutAndStderr"
	NoLogging          Logging = "none"
)

func (Logging) Values() []infer.EnumValue[Logging] {
	return []infer.EnumValue[Logging]{
		{Name: string(LogStdout), Value: LogStdout, Description: "Log stdout only"},
		{Name: string(LogStderr), Value: LogStderr, Description: "Log stderr only"},
		{Name: string(LogStdoutAndStderr), Value: LogStdoutAndStderr, Description: "Log stdout and stderr"},
		{Name: string(NoLogging), Value: NoLogging, Description: "Log nothing"},
	}
}

func (l *Logging) stdout() bool { return l == nil || *l == LogStdout || *l == LogStdoutAndStderr }
func (l *Logging) stderr() bool { return l == nil || *l == LogStderr || *l == LogStdoutAndStderr }

// Lifecycle commands common to local and remote commands.
type Lifecycle struct {
	Triggers *[]any  `pulumi:"triggers,optional" provider:"replaceOnChanges"`
	Create   *string `pulumi:"create,optional"`
	Update   *string `pulumi:"update,optional"`
	Delete   *string `pulumi:"delete,optional"`
}

type Outputs struct {
	Stdout string `pulumi:"stdout"`
	Stderr string `pulumi:"stderr"`
}

// lineLogger sends each complete line written to it to the engine as an info message.
type lineLogger struct {
	ctx  context.Context
	mu   sync.Mutex
	part []byte
}

func (l *lineLogger) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, b...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		p.GetLogger(l.ctx).Info(string(l.part[:i]))
		l.part = l.part[i+1:]
	}
	return len(b), nil
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.part) > 0 {
		p.GetLogger(l.ctx).Info(string(l.part))
		l.part = nil
	}
}

// capture wires stdout/stderr writers that keep the output and optionally log it.
type capture struct {
	stdout, stderr, both bytes.Buffer
	log                  *lineLogger
}

func newCapture(ctx context.Context) *capture { return &capture{log: &lineLogger{ctx: ctx}} }

func (c *capture) writers(logging *Logging) (io.Writer, io.Writer) {
	out := []io.Writer{&c.stdout, &c.both}
	errw := []io.Writer{&c.stderr, &c.both}
	if logging.stdout() {
		out = append(out, c.log)
	}
	if logging.stderr() {
		errw = append(errw, c.log)
	}
	var mu sync.Mutex
	return lockedWriter{&mu, io.MultiWriter(out...)}, lockedWriter{&mu, io.MultiWriter(errw...)}
}

func (c *capture) outputs() Outputs {
	c.log.flush()
	return Outputs{
		Stdout: strings.TrimSuffix(c.stdout.String(), "\n"),
		Stderr: strings.TrimSuffix(c.stderr.String(), "\n"),
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func newID(name string) (string, error) {
	id, err := resource.NewUniqueHex(name, 8, 0)
	return id, err
}

// ---- SSH connection -------------------------------------------------------------------------

type connectionBase struct {
	User               *string  `pulumi:"user,optional"`
	Password           *string  `pulumi:"password,optional" provider:"secret"`
	Host               *string  `pulumi:"host"`
	Port               *float64 `pulumi:"port,optional"`
	PrivateKey         *string  `pulumi:"privateKey,optional" provider:"secret"`
	PrivateKeyPassword *string  `pulumi:"privateKeyPassword,optional" provider:"secret"`
	AgentSocketPath    *string  `pulumi:"agentSocketPath,optional"`
	DialErrorLimit     *int     `pulumi:"dialErrorLimit,optional"`
	PerDialTimeout     *int     `pulumi:"perDialTimeout,optional"`
	HostKey            *string  `pulumi:"hostKey,optional"`
}

func annotateConnection(a infer.Annotator, c *connectionBase) {
	a.Describe(&c.Host, "The address of the resource to connect to.")
	a.Describe(&c.HostKey, "The expected host key (an authorized_keys line). Without it any host key is accepted.")
	a.SetDefault(&c.User, "root")
	a.SetDefault(&c.Port, 22)
	a.SetDefault(&c.DialErrorLimit, 10)
	a.SetDefault(&c.PerDialTimeout, 15)
}

type ProxyConnection struct {
	connectionBase
}

func (c *ProxyConnection) Annotate(a infer.Annotator) {
	a.SetToken("remote", "ProxyConnection")
	annotateConnection(a, &c.connectionBase)
}

type Connection struct {
	connectionBase
	Proxy *ProxyConnection `pulumi:"proxy,optional"`
}

func (c *Connection) Annotate(a infer.Annotator) {
	a.SetToken("remote", "Connection")
	annotateConnection(a, &c.connectionBase)
}

func strOr(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

func (c *connectionBase) endpoint() string {
	port := 22
	if c.Port != nil {
		port = int(*c.Port)
	}
	return net.JoinHostPort(strOr(c.Host, ""), strconv.Itoa(port))
}

func (c *connectionBase) dialLimit() int {
	if c.DialErrorLimit == nil {
		return 10
	}
	return *c.DialErrorLimit
}

func (c *connectionBase) clientConfig() (*ssh.ClientConfig, error) {
	cfg := &ssh.ClientConfig{User: strOr(c.User, "root")}
	timeout := 15
	if c.PerDialTimeout != nil {
		timeout = *c.PerDialTimeout
	}
	cfg.Timeout = time.Duration(timeout) * time.Second
	if c.HostKey != nil && strings.TrimSpace(*c.HostKey) != "" {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*c.HostKey))
		if err != nil {
			return nil, fmt.Errorf("failed to parse host key: %w", err)
		}
		cfg.HostKeyCallback = ssh.FixedHostKey(key)
		cfg.HostKeyAlgorithms = []string{key.Type()}
	} else {
		cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey() //nolint:gosec // documented behaviour of command 1.2.1
	}
	if c.PrivateKey != nil {
		var signer ssh.Signer
		var err error
		if c.PrivateKeyPassword != nil {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(*c.PrivateKey), []byte(*c.PrivateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(*c.PrivateKey))
		}
		if err != nil {
			return nil, fmt.Errorf("failed to parse private key: %w", err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if c.Password != nil {
		pw := *c.Password
		cfg.Auth = append(cfg.Auth, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
				answers := make([]string, len(qs))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	sock := strOr(c.AgentSocketPath, os.Getenv("SSH_AUTH_SOCK"))
	if sock != "" {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			if c.AgentSocketPath != nil {
				return nil, fmt.Errorf("failed to connect to SSH agent at %s: %w", sock, err)
			}
		} else {
			cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
		}
	}
	return cfg, nil
}

// retry calls f until it succeeds, the context ends, or limit failures happened (-1: no limit).
func retry[T any](ctx context.Context, what string, limit int, f func() (T, error)) (T, error) {
	var zero T
	delay := time.Second
	for attempt := 1; ; attempt++ {
		v, err := f()
		if err == nil {
			return v, nil
		}
		if limit >= 0 && attempt > limit {
			return zero, fmt.Errorf("after %d failed attempts: %w", attempt-1, err)
		}
		max := "inf"
		if limit >= 0 {
			max = strconv.Itoa(limit)
		}
		p.GetLogger(ctx).InfoStatusf("%s %d/%s failed: retrying", what, attempt, max)
		select {
		case <-ctx.Done():
			return zero, ctx.Err()
		case <-time.After(delay):
		}
		if delay < 10*time.Second {
			delay *= 2
		}
	}
}

func (c *Connection) dial(ctx context.Context) (*ssh.Client, error) {
	if c.Host == nil || *c.Host == "" {
		return nil, errors.New("connection.host is required")
	}
	cfg, err := c.clientConfig()
	if err != nil {
		return nil, err
	}
	target := c.endpoint()
	if c.Proxy == nil {
		return retry(ctx, "Dial", c.dialLimit(), func() (*ssh.Client, error) {
			return ssh.Dial("tcp", target, cfg)
		})
	}
	pcfg, err := c.Proxy.clientConfig()
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	jump, err := retry(ctx, "Dial proxy", c.Proxy.dialLimit(), func() (*ssh.Client, error) {
		return ssh.Dial("tcp", c.Proxy.endpoint(), pcfg)
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return retry(ctx, "Dial from proxy", c.dialLimit(), func() (*ssh.Client, error) {
		conn, err := jump.Dial("tcp", target)
		if err != nil {
			return nil, err
		}
		cc, chans, reqs, err := ssh.NewClientConn(conn, target, cfg)
		if err != nil {
			conn.Close()
			return nil, err
		}
		return ssh.NewClient(cc, chans, reqs), nil
	})
}

// ---- command:remote:Command -----------------------------------------------------------------

type RemoteCommand struct{}

func (r *RemoteCommand) Annotate(a infer.Annotator) {
	a.SetToken("remote", "Command")
	a.Describe(r, "A command to run on a remote host over SSH (lvs-dr stand-in for command 1.2.1).")
}

type RemoteCommandInputs struct {
	Lifecycle
	Stdin                  *string           `pulumi:"stdin,optional"`
	Logging                *Logging          `pulumi:"logging,optional"`
	Connection             *Connection       `pulumi:"connection" provider:"secret"`
	Environment            map[string]string `pulumi:"environment,optional"`
	AddPreviousOutputInEnv *bool             `pulumi:"addPreviousOutputInEnv,optional"`
}

type RemoteCommandOutputs struct {
	RemoteCommandInputs
	Outputs
}

func (st *RemoteCommandOutputs) run(ctx context.Context, cmd string) error {
	client, err := st.Connection.dial(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return err
	}
	defer session.Close()
	for k, v := range st.Environment {
		if err := session.Setenv(k, v); err != nil {
			p.GetLogger(ctx).Errorf("Unable to set '%s': the SSH server must accept it (AcceptEnv).", k)
			return fmt.Errorf("could not set environment variable %q: %w", k, err)
		}
	}
	if st.AddPreviousOutputInEnv == nil || *st.AddPreviousOutputInEnv {
		for k, v := range map[string]string{envPrevStdout: st.Stdout, envPrevStderr: st.Stderr} {
			if v != "" {
				if err := session.Setenv(k, v); err != nil {
					p.GetLogger(ctx).Warningf("Unable to set '%s': the SSH server must accept it (AcceptEnv).", k)
				}
			}
		}
	}
	if st.Stdin != nil && *st.Stdin != "" {
		session.Stdin = strings.NewReader(*st.Stdin)
	}
	capt := newCapture(ctx)
	session.Stdout, session.Stderr = capt.writers(st.Logging)
	err = session.Run(cmd)
	out := capt.outputs()
	if err != nil {
		return fmt.Errorf("%w: running %q:\n%s", err, cmd, capt.both.String())
	}
	st.Outputs = out
	return nil
}

func (*RemoteCommand) Create(ctx context.Context, req infer.CreateRequest[RemoteCommandInputs],
) (infer.CreateResponse[RemoteCommandOutputs], error) {
	state := RemoteCommandOutputs{RemoteCommandInputs: req.Inputs}
	id, err := newID(req.Name)
	if err != nil || req.DryRun || req.Inputs.Create == nil {
		return infer.CreateResponse[RemoteCommandOutputs]{ID: id, Output: state}, err
	}
	err = state.run(ctx, *req.Inputs.Create)
	return infer.CreateResponse[RemoteCommandOutputs]{ID: id, Output: state}, err
}

func (*RemoteCommand) Update(ctx context.Context, req infer.UpdateRequest[RemoteCommandInputs, RemoteCommandOutputs],
) (infer.UpdateResponse[RemoteCommandOutputs], error) {
	state := RemoteCommandOutputs{RemoteCommandInputs: req.Inputs, Outputs: req.State.Outputs}
	if req.DryRun {
		return infer.UpdateResponse[RemoteCommandOutputs]{Output: state}, nil
	}
	var err error
	if req.Inputs.Update != nil {
		err = state.run(ctx, *req.Inputs.Update)
	} else if req.Inputs.Create != nil {
		err = state.run(ctx, *req.Inputs.Create)
	}
	return infer.UpdateResponse[RemoteCommandOutputs]{Output: state}, err
}

func (*RemoteCommand) Delete(ctx context.Context, req infer.DeleteRequest[RemoteCommandOutputs]) (infer.DeleteResponse, error) {
	st := req.State
	if st.Delete == nil {
		return infer.DeleteResponse{}, nil
	}
	return infer.DeleteResponse{}, st.run(ctx, *st.Delete)
}

// ---- command:local:Command and command:local:run -------------------------------------------

type LocalCommand struct{}

func (r *LocalCommand) Annotate(a infer.Annotator) {
	a.SetToken("local", "Command")
	a.Describe(r, "A command to run on the machine that runs Pulumi (lvs-dr stand-in for command 1.2.1).")
}

type localBase struct {
	Interpreter            *[]string         `pulumi:"interpreter,optional"`
	Dir                    *string           `pulumi:"dir,optional"`
	Environment            map[string]string `pulumi:"environment,optional"`
	Stdin                  *string           `pulumi:"stdin,optional"`
	Logging                *Logging          `pulumi:"logging,optional"`
	AddPreviousOutputInEnv *bool             `pulumi:"addPreviousOutputInEnv,optional"`
	// Accepted for compatibility; this stand-in does not collect assets.
	AssetPaths   *[]string `pulumi:"assetPaths,optional"`
	ArchivePaths *[]string `pulumi:"archivePaths,optional"`
}

type LocalCommandInputs struct {
	Lifecycle
	localBase
}

type LocalCommandOutputs struct {
	LocalCommandInputs
	Outputs
}

func runLocal(ctx context.Context, b localBase, command string, prev Outputs) (Outputs, error) {
	argv := []string{"/bin/sh", "-c"}
	if b.Interpreter != nil && len(*b.Interpreter) > 0 {
		argv = *b.Interpreter
	}
	cmd := exec.CommandContext(ctx, argv[0], append(append([]string{}, argv[1:]...), command)...)
	if b.Dir != nil {
		cmd.Dir = *b.Dir
	} else if wd, err := os.Getwd(); err == nil {
		cmd.Dir = wd
	}
	cmd.Env = os.Environ()
	for k, v := range b.Environment {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if b.AddPreviousOutputInEnv == nil || *b.AddPreviousOutputInEnv {
		if prev.Stdout != "" {
			cmd.Env = append(cmd.Env, envPrevStdout+"="+prev.Stdout)
		}
		if prev.Stderr != "" {
			cmd.Env = append(cmd.Env, envPrevStderr+"="+prev.Stderr)
		}
	}
	if b.Stdin != nil && *b.Stdin != "" {
		cmd.Stdin = strings.NewReader(*b.Stdin)
	}
	capt := newCapture(ctx)
	cmd.Stdout, cmd.Stderr = capt.writers(b.Logging)
	err := cmd.Run()
	out := capt.outputs()
	if err != nil {
		return prev, fmt.Errorf("%w: running %q:\n%s", err, command, capt.both.String())
	}
	return out, nil
}

func (*LocalCommand) Create(ctx context.Context, req infer.CreateRequest[LocalCommandInputs],
) (infer.CreateResponse[LocalCommandOutputs], error) {
	state := LocalCommandOutputs{LocalCommandInputs: req.Inputs}
	id, err := newID(req.Name)
	if err != nil || req.DryRun || req.Inputs.Create == nil {
		return infer.CreateResponse[LocalCommandOutputs]{ID: id, Output: state}, err
	}
	state.Outputs, err = runLocal(ctx, req.Inputs.localBase, *req.Inputs.Create, Outputs{})
	return infer.CreateResponse[LocalCommandOutputs]{ID: id, Output: state}, err
}

func (*LocalCommand) Update(ctx context.Context, req infer.UpdateRequest[LocalCommandInputs, LocalCommandOutputs],
) (infer.UpdateResponse[LocalCommandOutputs], error) {
	state := LocalCommandOutputs{LocalCommandInputs: req.Inputs, Outputs: req.State.Outputs}
	if req.DryRun {
		return infer.UpdateResponse[LocalCommandOutputs]{Output: state}, nil
	}
	var err error
	if req.Inputs.Update != nil {
		state.Outputs, err = runLocal(ctx, req.Inputs.localBase, *req.Inputs.Update, req.State.Outputs)
	} else if req.Inputs.Create != nil {
		state.Outputs, err = runLocal(ctx, req.Inputs.localBase, *req.Inputs.Create, req.State.Outputs)
	}
	return infer.UpdateResponse[LocalCommandOutputs]{Output: state}, err
}

func (*LocalCommand) Delete(ctx context.Context, req infer.DeleteRequest[LocalCommandOutputs]) (infer.DeleteResponse, error) {
	st := req.State
	if st.Delete == nil {
		return infer.DeleteResponse{}, nil
	}
	_, err := runLocal(ctx, st.localBase, *st.Delete, st.Outputs)
	return infer.DeleteResponse{}, err
}

type Run struct{}

func (r *Run) Annotate(a infer.Annotator) {
	a.SetToken("local", "run")
	a.Describe(r, "Runs a local command on every preview and update (lvs-dr stand-in for command 1.2.1).")
}

type RunInputs struct {
	Command string `pulumi:"command"`
	localBase
}

type RunOutputs struct {
	RunInputs
	Outputs
}

func (*Run) Invoke(ctx context.Context, req infer.FunctionRequest[RunInputs]) (infer.FunctionResponse[RunOutputs], error) {
	out, err := runLocal(ctx, req.Input.localBase, req.Input.Command, Outputs{})
	return infer.FunctionResponse[RunOutputs]{Output: RunOutputs{RunInputs: req.Input, Outputs: out}}, err
}

func main() {
	prov := infer.Provider(infer.Options{
		Metadata: schema.Metadata{
			DisplayName: "Command",
			Description: "lvs-dr stand-in for the Pulumi Command provider " + Version,
		},
		Resources: []infer.InferredResource{
			infer.Resource(&LocalCommand{}),
			infer.Resource(&RemoteCommand{}),
		},
		Functions: []infer.InferredFunction{
			infer.Function(&Run{}),
		},
	})
	if err := p.RunProvider(context.Background(), "command", Version, prov); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}
EOF_GO
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
				"the Pulumi CLI $PULUMI_VERSION+ and 'pulumi plugin install resource command $COMMAND_VERSION'."
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
	# Build settings: modules resolved as needed, no go.work of a surrounding checkout, static
	# binaries (no C compiler needed), the installed Go unless the caller chose a toolchain.
	export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
	export GOWORK=off CGO_ENABLED=0
	export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
}

build_all() {
	local tmp=$1 out=$1/$KEY/bin src=$1/src t0=$SECONDS
	mkdir -p "$out" "$src"
	local notes=$1/$KEY/BUILDINFO
	{
		echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) with $(go env GOVERSION) by scripts/ensure-pulumi.sh"
		echo "pulumi CLI: github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION"
	} >"$notes"

	# 1. The CLI and engine.
	write_cli_module "$src/cli"
	run_step "1/4 pulumi CLI v$PULUMI_VERSION" "$LOG_DIR/cli.log" \
		go_build "$src/cli" "$out/pulumi" \
		"-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
		github.com/pulumi/pulumi/pkg/v3/cmd/pulumi || return 1

	# 2. The Node.js language host.
	write_upstream_langhost_module "$src/langhost-upstream"
	if module_served "$src/langhost-upstream" "$LANGHOST_MODULE@$LANGHOST_PSEUDO"; then
		run_step "2/4 pulumi-language-nodejs (upstream $LANGHOST_PSEUDO)" "$LOG_DIR/langhost.log" \
			go_build "$src/langhost-upstream" "$out/pulumi-language-nodejs" \
			"-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
			"$LANGHOST_MODULE" || return 1
		echo "language host: upstream $LANGHOST_MODULE $LANGHOST_PSEUDO" >>"$notes"
	else
		say "[2/4] the proxy does not serve $LANGHOST_MODULE@$LANGHOST_PSEUDO: building the lvs-dr stand-in"
		write_standin_langhost "$src/langhost"
		run_step "2/4 pulumi-language-nodejs (lvs-dr stand-in)" "$LOG_DIR/langhost.log" \
			go_build "$src/langhost" "$out/pulumi-language-nodejs" \
			"-X main.Version=$PULUMI_VERSION+lvsdr.$STANDIN_REV" . || return 1
		echo "language host: lvs-dr stand-in r$STANDIN_REV on sdk/v3 v$PULUMI_VERSION" >>"$notes"
	fi

	# 3. The shim for dynamic providers.
	say "[3/4 pulumi-resource-pulumi-nodejs] writing the dynamic provider shim"
	write_dynamic_shim "$out/pulumi-resource-pulumi-nodejs" || return 1

	# 4. The command provider.
	write_upstream_command_module "$src/command-upstream"
	if module_served "$src/command-upstream" "$COMMAND_MODULE@$COMMAND_PSEUDO"; then
		run_step "4/4 pulumi-resource-command $COMMAND_VERSION (upstream $COMMAND_PSEUDO)" "$LOG_DIR/command.log" \
			go_build "$src/command-upstream" "$out/pulumi-resource-command" \
			"-X github.com/pulumi/pulumi-command/provider/pkg/version.Version=$COMMAND_VERSION" \
			"$COMMAND_MODULE/cmd/pulumi-resource-command" || return 1
		echo "command provider: upstream $COMMAND_MODULE $COMMAND_PSEUDO" >>"$notes"
	else
		say "[4/4] the proxy does not serve $COMMAND_MODULE@$COMMAND_PSEUDO: building the lvs-dr stand-in"
		write_standin_command "$src/command"
		run_step "4/4 pulumi-resource-command $COMMAND_VERSION (lvs-dr stand-in)" "$LOG_DIR/command.log" \
			go_build "$src/command" "$out/pulumi-resource-command" \
			"-X main.Version=$COMMAND_VERSION" . || return 1
		echo "command provider: lvs-dr stand-in r$STANDIN_REV (pulumi-go-provider $GO_PROVIDER_VERSION)" >>"$notes"
	fi

	# Optional: the random provider.
	if [[ -z ${LVS_DR_SKIP_RANDOM:-} ]]; then
		write_random_module "$src/random"
		if ! module_served "$src/random" "$RANDOM_MODULE@$RANDOM_PSEUDO"; then
			say "[optional] pulumi-resource-random $RANDOM_VERSION skipped: the proxy does not serve" \
				"$RANDOM_MODULE@$RANDOM_PSEUDO (not needed by this project)"
			echo "random provider: not built ($RANDOM_MODULE@$RANDOM_PSEUDO not served)" >>"$notes"
		elif run_step "optional pulumi-resource-random $RANDOM_VERSION" "$LOG_DIR/random.log" \
			go_build "$src/random" "$out/pulumi-resource-random" \
			"-X github.com/pulumi/pulumi-random/provider/v4/pkg/version.Version=$RANDOM_VERSION" \
			"$RANDOM_MODULE/cmd/pulumi-resource-random"; then
			echo "random provider: upstream $RANDOM_MODULE $RANDOM_PSEUDO" >>"$notes"
		else
			say "[optional] pulumi-resource-random failed to build; continuing without it"
			rm -f "$out/pulumi-resource-random"
			echo "random provider: build failed (see $LOG_DIR/random.log)" >>"$notes"
		fi
	fi

	"$out/pulumi" version >/dev/null 2>&1 || {
		say "the built pulumi does not run: $out/pulumi version failed"
		return 1
	}
	echo "$KEY" >"$out/.complete"
	say "all built in $(elapsed $((SECONDS - t0)))"
}

main() {
	if try_ambient; then
		return 0
	fi
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

	say "building Pulumi $PULUMI_VERSION + command $COMMAND_VERSION into $DEST"
	say "(first run only: about 5-10 minutes on 2 cores; Go modules go to $(go env GOMODCACHE), up to ~2 GB unpacked, and ~2 GB of Go build cache)"
	local tmp
	tmp=$(mktemp -d "$CACHE_ROOT/.build-XXXXXX")
	# shellcheck disable=SC2064 # expand $tmp now
	trap "rm -rf '$tmp'; [[ -z \$TICKER ]] || kill \$TICKER 2>/dev/null || true" EXIT
	if ! build_all "$tmp"; then
		die "the build failed (logs in $LOG_DIR). Needed: Go >= 1.25.11 and access to the Go module" \
			"proxy (GOPROXY=$(go env GOPROXY)). Or install the Pulumi CLI $PULUMI_VERSION+ and" \
			"'pulumi plugin install resource command $COMMAND_VERSION' and run again."
	fi
	rm -rf "$DEST"
	mv -T "$tmp/$KEY" "$DEST"
	printf '%s\n' "$DEST/bin"
}

main "$@"
