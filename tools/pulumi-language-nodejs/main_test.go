package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/nodejs/npm"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

func programInfo(t *testing.T, opts map[string]any) *pulumirpc.ProgramInfo {
	t.Helper()
	s, err := structpb.NewStruct(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &pulumirpc.ProgramInfo{
		RootDirectory:    "/p",
		ProgramDirectory: "/p/prog",
		EntryPoint:       ".",
		Options:          s,
	}
}

func TestParseOptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    map[string]any
		want    options
		wantEnv []string
		wantErr string
	}{
		{
			name:    "defaults: TypeScript through ts-node",
			want:    options{typescript: true, packagemanager: npm.AutoPackageManager},
			wantEnv: []string{"PULUMI_NODEJS_TYPESCRIPT=true"},
		},
		{
			name: "all options",
			opts: map[string]any{
				"typescript": false, "tsconfig": "tsconfig.build.json",
				"nodeargs": `--max-old-space-size=4096 --require "./a b.js"`, "packagemanager": "npm",
			},
			want: options{
				tsconfig: "tsconfig.build.json", nodeargs: []string{"--max-old-space-size=4096", "--require", "./a b.js"},
				packagemanager: npm.NpmPackageManager,
			},
			wantEnv: []string{"PULUMI_NODEJS_TSCONFIG_PATH=tsconfig.build.json"},
		},
		{name: "typescript not a boolean", opts: map[string]any{"typescript": "yes"}, wantErr: "typescript must be a boolean"},
		{name: "tsconfig not a string", opts: map[string]any{"tsconfig": true}, wantErr: "tsconfig must be a string"},
		{name: "unknown package manager", opts: map[string]any{"packagemanager": "cargo"}, wantErr: `unknown value "cargo"`},
		{name: "bad nodeargs quoting", opts: map[string]any{"nodeargs": `"unclosed`}, wantErr: "nodeargs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var info *pulumirpc.ProgramInfo
			if tc.opts != nil {
				info = programInfo(t, tc.opts)
			}
			got, err := parseOptions(info)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("options:\n got  %#v\n want %#v", got, tc.want)
			}
			if env := got.env(); !reflect.DeepEqual(env, tc.wantEnv) {
				t.Errorf("env: got %q, want %q", env, tc.wantEnv)
			}
		})
	}
}

func TestJSONConfig(t *testing.T) {
	cfg, secrets, err := jsonConfig(&pulumirpc.RunRequest{Config: map[string]string{
		"lvs-dr:cluster":      `{"name":"c1"}`,
		"command:dialTimeout": "5",
	}})
	if err != nil {
		t.Fatal(err)
	}
	// @pulumi/pulumi reads "<namespace>:config:<name>" keys; encoding/json sorts them.
	want := `{"command:config:dialTimeout":"5","lvs-dr:config:cluster":"{\"name\":\"c1\"}"}`
	if cfg != want {
		t.Errorf("config:\n got  %s\n want %s", cfg, want)
	}
	if secrets != "[]" {
		t.Errorf("secret keys: got %s, want []", secrets)
	}
	_, secrets, err = jsonConfig(&pulumirpc.RunRequest{ConfigSecretKeys: []string{"lvs-dr:sshPrivateKey"}})
	if err != nil || secrets != `["lvs-dr:sshPrivateKey"]` {
		t.Errorf("secret keys: got %s, %v", secrets, err)
	}
	if _, _, err := jsonConfig(&pulumirpc.RunRequest{Config: map[string]string{"no-namespace": "x"}}); err == nil {
		t.Error("a key without a namespace was accepted")
	}
}

func TestRunArgs(t *testing.T) {
	req := &pulumirpc.RunRequest{
		MonitorAddress: "127.0.0.1:1", Project: "lvs-dr", Stack: "dev", Parallel: 8, DryRun: true,
		Args: []string{"extra"},
		Info: &pulumirpc.ProgramInfo{RootDirectory: "/p", ProgramDirectory: "/p/prog"},
	}
	opts := options{nodeargs: []string{"--inspect"}}
	got := runArgs(opts, "/p/node_modules/@pulumi/pulumi/cmd/run/index.js", "127.0.0.1:2", "", req)
	want := []string{
		"--inspect", "/p/node_modules/@pulumi/pulumi/cmd/run/index.js",
		"--monitor", "127.0.0.1:1", "--engine", "127.0.0.1:2", "--project", "lvs-dr",
		"--root-directory", "/p", "--stack", "dev", "--pwd", "/p/prog", "--dry-run", "--parallel", "8",
		".", "extra",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("args:\n got  %q\n want %q", got, want)
	}

	req.DryRun, req.Args, req.Info.EntryPoint, req.Organization = false, nil, "bin/index.js", "org"
	got = runArgs(options{}, "run.js", "", "http://127.0.0.1:9411", req)
	want = []string{
		"run.js", "--monitor", "127.0.0.1:1", "--organization", "org", "--project", "lvs-dr",
		"--root-directory", "/p", "--stack", "dev", "--pwd", "/p/prog", "--parallel", "8",
		"--tracing", "http://127.0.0.1:9411", "bin/index.js",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("args:\n got  %q\n want %q", got, want)
	}
}
