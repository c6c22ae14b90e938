package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	rpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// The schema must carry the tokens and the camelCase property names of the npm SDK
// @pulumi/random 4.21.1, which is generated from upstream's schema.
func TestSchemaHasTheRandom4211Surface(t *testing.T) {
	resp, err := newServer(t).s.GetSchema(context.Background(), &rpc.GetSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal([]byte(resp.GetSchema()), &spec); err != nil {
		t.Fatal(err)
	}
	equal(t, "package name", spec.Name, "random")
	equal(t, "package version", spec.Version, "4.21.1")

	stringIn := []string{"keepers", "length", "special", "upper", "lower", "numeric", "number",
		"minUpper", "minLower", "minNumeric", "minSpecial", "overrideSpecial"}
	for _, tc := range []struct {
		token           string
		inputs, outputs []string
		required        []string
		secret          []string
	}{
		{tokInteger, []string{"min", "max", "seed", "keepers"}, []string{"min", "max", "seed", "keepers", "result"},
			[]string{"max", "min"}, nil},
		{tokPassword, stringIn, append(append([]string{}, stringIn...), "result", "bcryptHash"),
			[]string{"length"}, []string{"result", "bcryptHash"}},
		{tokString, stringIn, append(append([]string{}, stringIn...), "result"), []string{"length"}, nil},
		{tokID, []string{"byteLength", "prefix", "keepers"},
			[]string{"byteLength", "prefix", "keepers", "b64Url", "b64Std", "hex", "dec"}, []string{"byteLength"}, nil},
	} {
		res, ok := spec.Resources[tc.token]
		if !ok {
			t.Errorf("no %s in the schema (resources: %v)", tc.token, keys(spec.Resources))
			continue
		}
		equal(t, tc.token+" inputs", sorted(keys(res.InputProperties)), sorted(tc.inputs))
		equal(t, tc.token+" outputs", sorted(keys(res.Properties)), sorted(tc.outputs))
		equal(t, tc.token+" required inputs", sorted(res.RequiredInputs), sorted(tc.required))
		var secret []string
		for k, v := range res.Properties {
			if v.Secret {
				secret = append(secret, k)
			}
		}
		equal(t, tc.token+" secret outputs", sorted(secret), sorted(tc.secret))
		if k, ok := res.InputProperties["keepers"]; !ok || k.Type != "object" || k.AdditionalProperties == nil ||
			k.AdditionalProperties.Type != "string" {
			t.Errorf("%s keepers is not a map of strings: %+v", tc.token, k)
		}
	}
	if d := spec.Resources[tokPassword].InputProperties["number"].DeprecationMessage; d == "" {
		t.Errorf("RandomPassword number is not deprecated")
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
