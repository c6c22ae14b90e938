package main

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	rpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/bcrypt"
)

// vrrpPassword is shaped like lvs-dr's VRRP auth pass: length 8, no special characters, keepers.
func vrrpPassword(keepers map[string]any) resource.PropertyMap {
	return props(map[string]any{"length": 8, "special": false, "keepers": keepers})
}

func TestPasswordLifecycle(t *testing.T) {
	ts := newServer(t)
	news := vrrpPassword(map[string]any{"a": "1"})
	inputs, failures := ts.check(tokPassword, "pw", news)
	if len(failures) > 0 {
		t.Fatal(failures)
	}
	// Check applies upstream's plan defaults.
	for k, want := range map[string]any{"special": false, "upper": true, "lower": true, "number": true,
		"numeric": true, "minUpper": 0.0, "minLower": 0.0, "minNumeric": 0.0, "minSpecial": 0.0, "length": 8.0} {
		equal(t, "checked "+k, inputs[resource.PropertyKey(k)].V, want)
	}

	// Preview of the create: the generated outputs are unknown (and secret), the inputs known.
	id, preview, err := ts.create(tokPassword, "pw", inputs, true)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "preview id", id, "")
	for _, k := range []resource.PropertyKey{"result", "bcryptHash"} {
		if v := preview[k]; !v.ContainsUnknowns() {
			t.Errorf("preview %s = %v, want unknown", k, v)
		}
	}
	if v := preview["length"]; v.ContainsUnknowns() || v.NumberValue() != 8 {
		t.Errorf("preview length = %v, want 8", v)
	}

	id, state, err := ts.create(tokPassword, "pw", inputs, false)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "id", id, "none")
	for _, k := range []resource.PropertyKey{"result", "bcryptHash"} {
		if !state[k].IsSecret() {
			t.Errorf("%s is not returned as a secret: %v", k, state[k])
		}
	}
	if state["length"].IsSecret() || state["keepers"].IsSecret() {
		t.Errorf("inputs came back secret: %v", state)
	}
	result := state["result"].SecretValue().Element.StringValue()
	hash := state["bcryptHash"].SecretValue().Element.StringValue()
	if len(result) != 8 || strings.ContainsAny(result, defaultSpecial) {
		t.Errorf("result %q: want 8 characters without specials", result)
	}
	if !strings.HasPrefix(hash, "$2a$10$") || bcrypt.CompareHashAndPassword([]byte(hash), []byte(result)) != nil {
		t.Errorf("bcryptHash %q is not a cost-10 bcrypt of the result", hash)
	}

	// Same inputs: no diff.
	d := ts.diff(tokPassword, "pw", id, state, inputs, inputs)
	equal(t, "unchanged: changes", d.GetChanges(), rpc.DiffResponse_DIFF_NONE)
	equal(t, "unchanged: replaces", d.GetReplaces(), []string(nil))

	// Keepers: a changed value, an added key, a removed key, all keepers removed.
	for _, tc := range []struct {
		what    string
		keepers map[string]any
		want    map[string]string
	}{
		{"changed", map[string]any{"a": "2"}, map[string]string{"keepers.a": "UPDATE_REPLACE"}},
		{"added", map[string]any{"a": "1", "b": "x"}, map[string]string{"keepers.b": "ADD_REPLACE"}},
		{"removed", map[string]any{}, map[string]string{"keepers.a": "DELETE_REPLACE"}},
		{"odd key", map[string]any{"a": "1", "host-ip": "x"}, map[string]string{`keepers["host-ip"]`: "ADD_REPLACE"}},
	} {
		newInputs, _ := ts.check(tokPassword, "pw", vrrpPassword(tc.keepers))
		d := ts.diff(tokPassword, "pw", id, state, inputs, newInputs)
		equal(t, tc.what+": changes", d.GetChanges(), rpc.DiffResponse_DIFF_SOME)
		equal(t, tc.what+": replaces", d.GetReplaces(), []string{"keepers"})
		equal(t, tc.what+": detailed", detailed(d), tc.want)
		equal(t, tc.what+": delete before replace", d.GetDeleteBeforeReplace(), false)
	}
	noKeepers, _ := ts.check(tokPassword, "pw", props(map[string]any{"length": 8, "special": false}))
	equal(t, "keepers removed", detailed(ts.diff(tokPassword, "pw", id, state, inputs, noKeepers)),
		map[string]string{"keepers": "DELETE_REPLACE"})

	// Any other input replaces too.
	longer, _ := ts.check(tokPassword, "pw", props(map[string]any{"length": 10, "special": false, "keepers": map[string]any{"a": "1"}}))
	d = ts.diff(tokPassword, "pw", id, state, inputs, longer)
	equal(t, "length: replaces", d.GetReplaces(), []string{"length"})
	equal(t, "length: detailed", detailed(d), map[string]string{"length": "UPDATE_REPLACE"})

	// Unknown keepers (a preview with a keeper from a resource not created yet): a replace.
	unknown := inputs.Copy()
	unknown["keepers"] = resource.NewObjectProperty(resource.PropertyMap{"a": resource.MakeComputed(resource.NewStringProperty(""))})
	equal(t, "unknown keeper", detailed(ts.diff(tokPassword, "pw", id, state, inputs, unknown)),
		map[string]string{"keepers.a": "UPDATE_REPLACE"})

	// Read (refresh) returns the state unchanged; Delete does nothing.
	read, err := ts.s.Read(context.Background(), &rpc.ReadRequest{
		Id: id, Urn: urn(tokPassword, "pw"), Properties: ts.marshal(state), Inputs: ts.marshal(inputs),
	})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "read id", read.GetId(), id)
	if got := ts.unmarshal(read.GetProperties()); !got.DeepEquals(state) {
		t.Errorf("read changed the state:\n got  %v\n want %v", got, state)
	}
	if _, err := ts.s.Delete(context.Background(), &rpc.DeleteRequest{
		Id: id, Urn: urn(tokPassword, "pw"), Properties: ts.marshal(state), OldInputs: ts.marshal(inputs),
	}); err != nil {
		t.Fatal(err)
	}
}

// A stack created by the real (bridged) provider: its state holds the defaults plus id, __meta
// and the raw state delta, and its stored inputs are the program's without defaults. The same
// program must show no change, and refresh must keep the state.
func TestNoChurnOnStateOfTheRealProvider(t *testing.T) {
	ts := newServer(t)
	upstreamInputs := vrrpPassword(map[string]any{"a": "1"})
	state := props(map[string]any{
		"id": "none", "keepers": map[string]any{"a": "1"}, "length": 8, "special": false, "upper": true,
		"lower": true, "number": true, "numeric": true, "minUpper": 0, "minLower": 0, "minNumeric": 0,
		"minSpecial": 0, "__meta": `{"schema_version":"3"}`, "__pulumi_raw_state_delta": map[string]any{"obj": map[string]any{}},
	})
	state["result"] = resource.MakeSecret(resource.NewStringProperty("Ab3dEf7h"))
	state["bcryptHash"] = resource.MakeSecret(resource.NewStringProperty("$2a$10$x"))

	news, _ := ts.check(tokPassword, "pw", vrrpPassword(map[string]any{"a": "1"}))
	d := ts.diff(tokPassword, "pw", "none", state, upstreamInputs, news)
	equal(t, "changes", d.GetChanges(), rpc.DiffResponse_DIFF_NONE)
	equal(t, "detailed", detailed(d), map[string]string{})

	// number: true → numeric: true is no change either (upstream synchronises them).
	numeric, _ := ts.check(tokPassword, "pw", props(map[string]any{"length": 8, "special": false, "numeric": true,
		"keepers": map[string]any{"a": "1"}}))
	equal(t, "numeric instead of number", detailed(ts.diff(tokPassword, "pw", "none", state, upstreamInputs, numeric)),
		map[string]string{})

	read, err := ts.s.Read(context.Background(), &rpc.ReadRequest{
		Id: "none", Urn: urn(tokPassword, "pw"), Properties: ts.marshal(state), Inputs: ts.marshal(upstreamInputs),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := ts.unmarshal(read.GetProperties()); !got.DeepEquals(state) {
		t.Errorf("read changed the state:\n got  %v\n want %v", got, state)
	}

	// An integer state of the real provider, with a seed.
	istate := props(map[string]any{"id": "83", "min": 1, "max": 255, "seed": "s", "result": 83, "keepers": map[string]any{"k": "v"}})
	inews, _ := ts.check(tokInteger, "vrid", props(map[string]any{"min": 1, "max": 255, "seed": "s", "keepers": map[string]any{"k": "v"}}))
	equal(t, "integer unchanged", detailed(ts.diff(tokInteger, "vrid", "83", istate, nil, inews)), map[string]string{})
	inews, _ = ts.check(tokInteger, "vrid", props(map[string]any{"min": 1, "max": 255, "keepers": map[string]any{"k": "v"}}))
	d = ts.diff(tokInteger, "vrid", "83", istate, nil, inews)
	equal(t, "seed removed", detailed(d), map[string]string{"seed": "DELETE_REPLACE"})
	equal(t, "seed removed: replaces", d.GetReplaces(), []string{"seed"})
}

func TestIntegerLifecycle(t *testing.T) {
	ts := newServer(t)
	news := props(map[string]any{"min": 1, "max": 255, "keepers": map[string]any{"peer": "10.0.0.2"}})
	inputs, failures := ts.check(tokInteger, "vrid", news)
	if len(failures) > 0 {
		t.Fatal(failures)
	}
	id, preview, err := ts.create(tokInteger, "vrid", inputs, true)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "preview id", id, "")
	if !preview["result"].ContainsUnknowns() {
		t.Errorf("preview result = %v, want unknown", preview["result"])
	}
	if preview["min"].ContainsUnknowns() || preview["keepers"].ContainsUnknowns() {
		t.Errorf("preview inputs unknown: %v", preview)
	}
	for range 50 {
		id, state, err := ts.create(tokInteger, "vrid", inputs, false)
		if err != nil {
			t.Fatal(err)
		}
		n := state["result"].NumberValue()
		if n < 1 || n > 255 || n != float64(int(n)) {
			t.Fatalf("result %v not an integer in 1..255", n)
		}
		if state["result"].IsSecret() {
			t.Fatalf("result is secret")
		}
		equal(t, "id is the result", id, strconv.Itoa(int(n)))
	}
	_, state, _ := ts.create(tokInteger, "vrid", inputs, false)
	moved, _ := ts.check(tokInteger, "vrid", props(map[string]any{"min": 1, "max": 255, "keepers": map[string]any{"peer": "10.0.0.3"}}))
	d := ts.diff(tokInteger, "vrid", "x", state, inputs, moved)
	equal(t, "keepers change", detailed(d), map[string]string{"keepers.peer": "UPDATE_REPLACE"})
	equal(t, "keepers change: replaces", d.GetReplaces(), []string{"keepers"})
	equal(t, "no change", ts.diff(tokInteger, "vrid", "x", state, inputs, inputs).GetChanges(), rpc.DiffResponse_DIFF_NONE)
	added, _ := ts.check(tokInteger, "vrid", props(map[string]any{"min": 1, "max": 255}))
	delete(state, "keepers")
	equal(t, "keepers added", detailed(ts.diff(tokInteger, "vrid", "x", state, added, inputs)),
		map[string]string{"keepers": "ADD_REPLACE"})

	// A range 0..255 (the IPVS sync daemon id) and min == max.
	_, id0, st := ts.up(tokInteger, "syncid", props(map[string]any{"min": 0, "max": 255}))
	if n := st["result"].NumberValue(); n < 0 || n > 255 {
		t.Errorf("syncid %v out of range (id %s)", n, id0)
	}
	_, id7, _ := ts.up(tokInteger, "seven", props(map[string]any{"min": 7, "max": 7}))
	equal(t, "min == max", id7, "7")
}

// Upstream's test vectors for a seeded integer (terraform-provider-random resource_integer_test).
func TestIntegerSeedVectors(t *testing.T) {
	ts := newServer(t)
	for seed, want := range map[string]string{"12345": "3", "123456": "2"} {
		_, id, st := ts.up(tokInteger, "seeded", props(map[string]any{"min": 1, "max": 3, "seed": seed}))
		equal(t, "seed "+seed+" id", id, want)
		equal(t, "seed "+seed+" seed output", st["seed"].StringValue(), seed)
		_, again, _ := ts.up(tokInteger, "seeded", props(map[string]any{"min": 1, "max": 3, "seed": seed}))
		equal(t, "seed "+seed+" again", again, want)
	}
}

// Upstream validates max >= min only at create: the check and the preview pass.
func TestIntegerMaxBelowMinFailsAtCreate(t *testing.T) {
	ts := newServer(t)
	inputs, failures := ts.check(tokInteger, "bad", props(map[string]any{"min": 10, "max": 1}))
	equal(t, "check failures", failures, []string(nil))
	if _, _, err := ts.create(tokInteger, "bad", inputs, true); err != nil {
		t.Fatalf("preview failed: %v", err)
	}
	_, _, err := ts.create(tokInteger, "bad", inputs, false)
	if err == nil || !strings.Contains(err.Error(), "Create Random Integer Error: The minimum (minVal) value needs "+
		"to be smaller than or equal to maximum (maxVal) value.") {
		t.Fatalf("create error = %v", err)
	}
}

func TestPasswordCheckFailures(t *testing.T) {
	ts := newServer(t)
	for _, tc := range []struct {
		what string
		news map[string]any
		want []string
	}{
		{"length 0", map[string]any{"length": 0},
			[]string{"Invalid Attribute Value. Attribute length value must be at least 1, got: 0. Examine values at 'pw.length'."}},
		{"length below the mins", map[string]any{"length": 3, "minUpper": 2, "minLower": 2},
			[]string{"Invalid Attribute Value. Attribute length value must be at least sum of min_upper + min_lower + " +
				"min_numeric + min_special, got: 3. Examine values at 'pw.length'."}},
		{"all classes false", map[string]any{"length": 8, "special": false, "upper": false, "lower": false, "numeric": false},
			[]string{"Invalid Attribute Combination. At least one attribute out of [special,upper,lower,numeric] " +
				"must be specified as true. Examine values at 'pw.numeric'."}},
		{"all classes false (number)", map[string]any{"length": 8, "special": false, "upper": false, "lower": false, "number": false},
			[]string{"Invalid Attribute Combination. At least one attribute out of [special,upper,lower,number] " +
				"must be specified as true. Examine values at 'pw.number'."}},
		{"numeric unset defaults true", map[string]any{"length": 8, "special": false, "upper": false, "lower": false}, nil},
		{"length equals the mins", map[string]any{"length": 4, "minUpper": 2, "minLower": 2}, nil},
	} {
		_, failures := ts.check(tokPassword, "pw", props(tc.news))
		equal(t, tc.what, failures, tc.want)
	}
	// An unknown min skips the sum, an unknown length both checks.
	news := props(map[string]any{"length": 3, "minUpper": 2})
	news["minLower"] = resource.MakeComputed(resource.NewNumberProperty(0))
	_, failures := ts.check(tokPassword, "pw", news)
	equal(t, "unknown min", failures, []string(nil))
	news = props(map[string]any{"minUpper": 2})
	news["length"] = resource.MakeComputed(resource.NewNumberProperty(0))
	_, failures = ts.check(tokString, "s", news)
	equal(t, "unknown length", failures, []string(nil))
}

// number and numeric configured differently fail the preview, as upstream's plan does.
func TestNumberNumericConflict(t *testing.T) {
	ts := newServer(t)
	inputs, failures := ts.check(tokPassword, "pw", props(map[string]any{"length": 8, "number": true, "numeric": false}))
	equal(t, "check failures", failures, []string(nil))
	_, _, err := ts.create(tokPassword, "pw", inputs, true)
	if err == nil || !strings.Contains(err.Error(), "Number and numeric are both configured with different values") {
		t.Fatalf("preview error = %v", err)
	}
	// numeric: false alone sets number: false too.
	inputs, _ = ts.check(tokPassword, "pw", props(map[string]any{"length": 8, "numeric": false}))
	equal(t, "number follows numeric", inputs["number"].V, any(false))
}

func TestStringAndID(t *testing.T) {
	ts := newServer(t)
	_, id, st := ts.up(tokString, "s", props(map[string]any{"length": 12, "overrideSpecial": "_", "minSpecial": 3, "upper": false}))
	result := st["result"]
	if result.IsSecret() {
		t.Errorf("RandomString result is secret")
	}
	equal(t, "string id is the result", id, result.StringValue())
	if r := result.StringValue(); len(r) != 12 || strings.Count(r, "_") < 3 || strings.ToLower(r) != r {
		t.Errorf("result %q: want 12 characters, >= 3 '_', no upper case", r)
	}

	_, id, st = ts.up(tokID, "rid", props(map[string]any{"byteLength": 8, "prefix": "lvs-"}))
	equal(t, "id length", len(id), 11)
	equal(t, "b64Url", st["b64Url"].StringValue(), "lvs-"+id)
	if h := st["hex"].StringValue(); len(h) != 4+16 || !strings.HasPrefix(h, "lvs-") {
		t.Errorf("hex %q", h)
	}
	if !strings.HasPrefix(st["b64Std"].StringValue(), "lvs-") || !strings.HasSuffix(st["b64Std"].StringValue(), "=") {
		t.Errorf("b64Std %q", st["b64Std"].StringValue())
	}
	// Preview: every generated output unknown.
	inputs, _ := ts.check(tokID, "rid", props(map[string]any{"byteLength": 8}))
	_, preview, err := ts.create(tokID, "rid", inputs, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []resource.PropertyKey{"b64Url", "b64Std", "hex", "dec"} {
		if !preview[k].ContainsUnknowns() {
			t.Errorf("preview %s = %v, want unknown", k, preview[k])
		}
	}
}

func TestImport(t *testing.T) {
	ts := newServer(t)
	read := func(tok, id string) (*rpc.ReadResponse, error) {
		return ts.s.Read(context.Background(), &rpc.ReadRequest{Id: id, Urn: urn(tok, "imp"), Properties: ts.marshal(nil)})
	}
	r, err := read(tokInteger, "83,1,255,s")
	if err != nil {
		t.Fatal(err)
	}
	st := ts.unmarshal(r.GetProperties())
	equal(t, "integer id", r.GetId(), "83")
	equal(t, "integer state", st.Mappable(), map[string]any{"result": 83.0, "min": 1.0, "max": 255.0, "seed": "s"})
	if _, err := read(tokInteger, "83"); err == nil || !strings.Contains(err.Error(), "Invalid import usage") {
		t.Errorf("bad integer import: %v", err)
	}
	r, err = read(tokPassword, "Secret99")
	if err != nil {
		t.Fatal(err)
	}
	st = ts.unmarshal(r.GetProperties())
	equal(t, "password id", r.GetId(), "none")
	if !st["result"].IsSecret() || !st["bcryptHash"].IsSecret() || st["length"].NumberValue() != 8 {
		t.Errorf("password state %v", st)
	}
	r, err = read(tokID, "lvs-,gEtk2V_GVJQ")
	if err != nil {
		t.Fatal(err)
	}
	st = ts.unmarshal(r.GetProperties())
	equal(t, "random id id", r.GetId(), "gEtk2V_GVJQ")
	equal(t, "random id hex", st["hex"].StringValue(), "lvs-804b64d95fc65494")
	equal(t, "random id dec", st["dec"].StringValue(), "lvs-9244593544885589140")
	equal(t, "random id b64Std", st["b64Std"].StringValue(), "lvs-gEtk2V/GVJQ=")
}

// A secret keeper stays secret in the state without making the result secret (the engine and the
// bridge only keep an input's own secretness); a null keeper value is dropped at check (upstream
// never replaces for one).
func TestKeepersSecretAndNull(t *testing.T) {
	ts := newServer(t)
	news := props(map[string]any{"min": 1, "max": 255})
	news["keepers"] = resource.NewObjectProperty(resource.PropertyMap{
		"pass": resource.MakeSecret(resource.NewStringProperty("s3cret")),
		"gone": resource.NewNullProperty(),
	})
	inputs, id, state := ts.up(tokInteger, "vrid", news)
	if _, ok := inputs["keepers"].ObjectValue()["gone"]; ok {
		t.Errorf("null keeper kept: %v", inputs["keepers"])
	}
	if !state["keepers"].ContainsSecrets() {
		t.Errorf("keepers lost their secret: %v", state["keepers"])
	}
	if state["result"].IsSecret() {
		t.Errorf("result became secret")
	}
	plain := props(map[string]any{"min": 1, "max": 255, "keepers": map[string]any{"pass": "s3cret"}})
	equal(t, "secretness alone is no change", detailed(ts.diff(tokInteger, "vrid", id, state, inputs, plain)),
		map[string]string{})

	// An unknown input during a preview (unknown numeric): check and preview still work.
	pw := props(map[string]any{"length": 8})
	pw["numeric"] = resource.MakeComputed(resource.NewBoolProperty(false))
	pin, failures := ts.check(tokPassword, "pw", pw)
	equal(t, "unknown numeric: failures", failures, []string(nil))
	if !pin["numeric"].ContainsUnknowns() {
		t.Errorf("numeric became known: %v", pin["numeric"])
	}
	if _, _, err := ts.create(tokPassword, "pw", pin, true); err != nil {
		t.Errorf("preview with unknown numeric: %v", err)
	}
}
