package main

import (
	"context"
	"sort"
	"testing"

	p "github.com/pulumi/pulumi-go-provider"
)

// The schema is what the engine checks the SDK's inputs against: it must have the tokens and
// properties of command 1.2.1 that lvs-dr uses.
func TestSchemaHasTheCommand121Surface(t *testing.T) {
	spec, err := p.GetSchema(context.Background(), "command", Version, newProvider())
	if err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]any) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	has := func(what string, got []string, want ...string) {
		t.Helper()
		set := map[string]bool{}
		for _, g := range got {
			set[g] = true
		}
		for _, w := range want {
			if !set[w] {
				t.Errorf("%s: no %q in %v", what, w, got)
			}
		}
	}
	remote, ok := spec.Resources["command:remote:Command"]
	if !ok {
		t.Fatalf("no command:remote:Command in the schema")
	}
	inputs := map[string]any{}
	for k := range remote.InputProperties {
		inputs[k] = nil
	}
	has("command:remote:Command inputs", keys(inputs),
		"connection", "create", "update", "delete", "triggers", "stdin", "environment", "logging", "addPreviousOutputInEnv")
	outputs := map[string]any{}
	for k := range remote.Properties {
		outputs[k] = nil
	}
	has("command:remote:Command outputs", keys(outputs), "stdout", "stderr", "stdin", "connection")
	has("command:remote:Command replaceOnChanges", func() []string {
		var r []string
		for k, v := range remote.InputProperties {
			if v.ReplaceOnChanges {
				r = append(r, k)
			}
		}
		return r
	}(), "triggers")

	conn, ok := spec.Types["command:remote:Connection"]
	if !ok {
		t.Fatalf("no command:remote:Connection type in the schema")
	}
	props := map[string]any{}
	for k := range conn.Properties {
		props[k] = nil
	}
	has("command:remote:Connection", keys(props),
		"host", "port", "user", "privateKey", "hostKey", "dialErrorLimit", "perDialTimeout", "proxy")
	if d := conn.Properties["user"].Default; d != "root" {
		t.Errorf("connection.user default = %v, want root", d)
	}
	if _, ok := spec.Resources["command:local:Command"]; !ok {
		t.Errorf("no command:local:Command in the schema")
	}
	if _, ok := spec.Functions["command:local:run"]; !ok {
		t.Errorf("no command:local:run in the schema")
	}
}
