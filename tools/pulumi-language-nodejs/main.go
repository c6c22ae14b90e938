// Command pulumi-language-nodejs is the lvs-dr stand-in for Pulumi's Node.js language host.
//
// Why it exists: the upstream module github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
// is not served by the Go module proxy that this project's machines reach. For the pseudo-version
// of the v3.248.0 commit it answers:
//
//	reading https://proxy.golang.org/github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3/@v/v3.0.0-20260624120734-a88168d865b7.info:
//	403 Forbidden
//	server response: This module version is not available.
//
// scripts/ensure-pulumi.sh still tries the upstream module first and builds this stand-in only
// when the proxy refuses it.
//
// What it implements, on the libraries of github.com/pulumi/pulumi/sdk/v3 v3.248.0: what
// `pulumi preview/up/destroy/refresh/about/install` and policy packs need. Run starts
// `node @pulumi/pulumi/cmd/run` with the arguments and environment that script reads (runtime
// options typescript, tsconfig, nodeargs and packagemanager of Pulumi.yaml; PULUMI_CONFIG,
// PULUMI_CONFIG_SECRET_KEYS); RunPlugin starts cmd/run-plugin or cmd/run-policy-pack;
// InstallDependencies, About and GetProgramDependencies use the SDK's npm package.
//
// Not implemented: code generation (pulumi convert, package gen-sdk, GeneratePackage and friends),
// runtime option prompts for `pulumi new`, and plugin discovery (GetRequiredPlugins and
// GetRequiredPackages return nothing: with automatic plugin acquisition disabled, the engine loads
// the providers the program registers).
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

// runArgs are the arguments of node for @pulumi/pulumi's run script (runPath): node options first,
// then the script, its flags, the entry point and the program's own arguments.
func runArgs(opts options, runPath, engine, tracing string, req *pulumirpc.RunRequest) []string {
	info := req.GetInfo()
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
	add("tracing", tracing)
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	return append(args, req.GetArgs()...)
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

	args := runArgs(opts, runPath, engine, h.tracing, req)
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
