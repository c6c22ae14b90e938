package main

import (
	"context"
	"reflect"
	"sort"
	"testing"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	rpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

// The tests drive the provider through its gRPC server (p.RawServer), as the engine does:
// properties go over the wire as structpb with the secret and unknown signatures.

const (
	tokInteger  = "random:index/randomInteger:RandomInteger"
	tokPassword = "random:index/randomPassword:RandomPassword"
	tokString   = "random:index/randomString:RandomString"
	tokID       = "random:index/randomId:RandomId"
)

type testServer struct {
	t *testing.T
	s rpc.ResourceProviderServer
}

func newServer(t *testing.T) *testServer {
	t.Helper()
	s, err := p.RawServer("random", Version, newProvider())(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Configure(context.Background(), &rpc.ConfigureRequest{
		Args: &structpb.Struct{}, AcceptSecrets: true, AcceptResources: true,
	}); err != nil {
		t.Fatal(err)
	}
	return &testServer{t, s}
}

func urn(tok, name string) string {
	return string(resource.NewURN("stack", "lvs-dr", "", tokens.Type(tok), name))
}

var marshalOpts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, SkipNulls: true}

func (ts *testServer) marshal(m resource.PropertyMap) *structpb.Struct {
	ts.t.Helper()
	s, err := plugin.MarshalProperties(m, marshalOpts)
	if err != nil {
		ts.t.Fatal(err)
	}
	return s
}

func (ts *testServer) unmarshal(s *structpb.Struct) resource.PropertyMap {
	ts.t.Helper()
	m, err := plugin.UnmarshalProperties(s, marshalOpts)
	if err != nil {
		ts.t.Fatal(err)
	}
	return m
}

// check returns the checked inputs and the failure reasons.
func (ts *testServer) check(tok, name string, news resource.PropertyMap) (resource.PropertyMap, []string) {
	ts.t.Helper()
	resp, err := ts.s.Check(context.Background(), &rpc.CheckRequest{
		Urn: urn(tok, name), Olds: ts.marshal(nil), News: ts.marshal(news),
	})
	if err != nil {
		ts.t.Fatalf("check %s: %v", name, err)
	}
	var reasons []string
	for _, f := range resp.GetFailures() {
		if f.GetProperty() != "" {
			ts.t.Errorf("check failure %q has property %q; upstream's have none", f.GetReason(), f.GetProperty())
		}
		reasons = append(reasons, f.GetReason())
	}
	return ts.unmarshal(resp.GetInputs()), reasons
}

func (ts *testServer) create(tok, name string, inputs resource.PropertyMap, preview bool,
) (string, resource.PropertyMap, error) {
	ts.t.Helper()
	resp, err := ts.s.Create(context.Background(), &rpc.CreateRequest{
		Urn: urn(tok, name), Properties: ts.marshal(inputs), Preview: preview,
	})
	if err != nil {
		return "", nil, err
	}
	return resp.GetId(), ts.unmarshal(resp.GetProperties()), nil
}

// up checks and creates (the engine's sequence for a new resource), failing the test on error.
func (ts *testServer) up(tok, name string, news resource.PropertyMap) (inputs resource.PropertyMap, id string, state resource.PropertyMap) {
	ts.t.Helper()
	inputs, failures := ts.check(tok, name, news)
	if len(failures) > 0 {
		ts.t.Fatalf("check failures: %v", failures)
	}
	id, state, err := ts.create(tok, name, inputs, false)
	if err != nil {
		ts.t.Fatalf("create: %v", err)
	}
	return inputs, id, state
}

func (ts *testServer) diff(tok, name, id string, state, oldInputs, news resource.PropertyMap) *rpc.DiffResponse {
	ts.t.Helper()
	resp, err := ts.s.Diff(context.Background(), &rpc.DiffRequest{
		Urn: urn(tok, name), Id: id, Olds: ts.marshal(state), OldInputs: ts.marshal(oldInputs), News: ts.marshal(news),
	})
	if err != nil {
		ts.t.Fatalf("diff: %v", err)
	}
	return resp
}

// detailed renders a DiffResponse's detailed diff as path → kind name.
func detailed(d *rpc.DiffResponse) map[string]string {
	out := map[string]string{}
	for k, v := range d.GetDetailedDiff() {
		out[k] = v.GetKind().String()
	}
	return out
}

func props(m map[string]any) resource.PropertyMap { return resource.NewPropertyMapFromMap(m) }

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}
