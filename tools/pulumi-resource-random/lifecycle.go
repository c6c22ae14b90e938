package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// Diff and Read work on the raw property maps rather than through infer's decoding, for two
// reasons: upstream's diff compares the new inputs with the prior *state* and reports unknown
// inputs as changes (infer's default compares old and new inputs, and decoding loses unknowns),
// and a state written by the real (bridged) provider holds keys infer would reject (id, __meta,
// __pulumi_raw_state_delta), which Diff ignores and Read passes through.

// resourceSpec is what Diff, Read and import need to know about a resource.
type resourceSpec struct {
	inputs  []string // the input properties, all of which replace the resource when changed
	strings bool     // RandomPassword/RandomString: defaults and number/numeric synchronisation
	imp     func(id string) (string, property.Map, error)
}

var stringInputs = []string{
	"keepers", "length", "special", "upper", "lower", "numeric", "number",
	"minUpper", "minLower", "minNumeric", "minSpecial", "overrideSpecial",
}

var resourceSpecs = map[tokens.Type]resourceSpec{
	"random:index/randomInteger:RandomInteger": {
		inputs: []string{"keepers", "min", "max", "seed"}, imp: importInteger,
	},
	"random:index/randomPassword:RandomPassword": {
		inputs: stringInputs, strings: true, imp: func(id string) (string, property.Map, error) {
			return importString(id, true)
		},
	},
	"random:index/randomString:RandomString": {
		inputs: stringInputs, strings: true, imp: func(id string) (string, property.Map, error) {
			return importString(id, false)
		},
	},
	"random:index/randomId:RandomId": {
		inputs: []string{"keepers", "byteLength", "prefix"}, imp: importID,
	},
}

// withStateDiffAndRead replaces infer's Diff and Read of the four resources.
func withStateDiffAndRead(prov p.Provider) p.Provider {
	innerDiff, innerRead := prov.Diff, prov.Read
	prov.Diff = func(ctx context.Context, req p.DiffRequest) (p.DiffResponse, error) {
		spec, ok := resourceSpecs[req.Urn.Type()]
		if !ok {
			return innerDiff(ctx, req)
		}
		return diffAgainstState(spec, req)
	}
	prov.Read = func(ctx context.Context, req p.ReadRequest) (p.ReadResponse, error) {
		spec, ok := resourceSpecs[req.Urn.Type()]
		if !ok {
			return innerRead(ctx, req)
		}
		if req.Properties.Len() == 0 { // pulumi import: only the ID is known
			id, state, err := spec.imp(req.ID)
			if err != nil {
				return p.ReadResponse{}, err
			}
			return p.ReadResponse{ID: id, Properties: state, Inputs: pick(state, spec.inputs)}, nil
		}
		// Refresh: upstream's Read does nothing.
		inputs := req.Inputs
		if inputs.Len() == 0 {
			inputs = pick(req.Properties, spec.inputs)
		}
		return p.ReadResponse{ID: req.ID, Properties: req.Properties, Inputs: inputs}, nil
	}
	return prov
}

// dropNullKeepers removes keepers entries whose value is null: upstream never replaces the
// resource for them (they only reach the state through an in-place update).
func dropNullKeepers(m property.Map) property.Map {
	k := m.Get("keepers")
	if !k.IsMap() {
		return m
	}
	kept := map[string]property.Value{}
	dropped := false
	for key, v := range k.AsMap().All {
		if v.IsNull() {
			dropped = true
			continue
		}
		kept[key] = v
	}
	if !dropped {
		return m
	}
	return m.Set("keepers", property.New(property.NewMap(kept)).WithSecret(k.Secret()))
}

// withStringDefaults applies upstream's plan defaults to a RandomPassword/RandomString map:
// special, upper and lower true, min* 0, number and numeric synchronised.
func withStringDefaults(m property.Map) property.Map {
	for _, k := range []string{"special", "upper", "lower"} {
		if m.Get(k).IsNull() {
			m = m.Set(k, property.New(true))
		}
	}
	for _, k := range []string{"minUpper", "minLower", "minNumeric", "minSpecial"} {
		if m.Get(k).IsNull() {
			m = m.Set(k, property.New(0.0))
		}
	}
	number, numeric := m.Get("number"), m.Get("numeric")
	switch {
	case number.IsComputed() || numeric.IsComputed():
	case number.IsNull() && numeric.IsNull():
		m = m.Set("number", property.New(true)).Set("numeric", property.New(true))
	case number.IsNull():
		m = m.Set("number", numeric)
	case numeric.IsNull():
		m = m.Set("numeric", number)
	}
	return m
}

// diffAgainstState is upstream's plan as the bridge reports it: the new inputs (with defaults)
// against the prior state; every change replaces the resource (create before delete).
func diffAgainstState(spec resourceSpec, req p.DiffRequest) (p.DiffResponse, error) {
	news, olds := req.Inputs, req.State
	for _, ignored := range req.IgnoreChanges {
		if v, ok := olds.GetOk(ignored); ok {
			news = news.Set(ignored, v)
		}
	}
	news = dropNullKeepers(news)
	if spec.strings {
		news, olds = withStringDefaults(news), withStringDefaults(olds)
		if n, nc := news.Get("number"), news.Get("numeric"); n.IsBool() && nc.IsBool() && n.AsBool() != nc.AsBool() {
			return p.DiffResponse{}, numberNumericConflict(StringArgs{Number: ptr(n.AsBool()), Numeric: ptr(nc.AsBool())})
		}
	}
	detailed := map[string]p.PropertyDiff{}
	for _, k := range spec.inputs {
		o, n := olds.Get(k), news.Get(k)
		switch {
		case k == "keepers":
			diffKeepers(o, n, detailed)
		case k == "overrideSpecial" && o.IsString() && o.AsString() == "" && n.IsNull():
			// upstream updates this in place (RequiresReplaceUnlessEmptyStringToNull) without
			// regenerating anything: no visible change.
		case !same(o, n):
			detailed[k] = replaceKind(o, n)
		}
	}
	return p.DiffResponse{HasChanges: len(detailed) > 0, DetailedDiff: detailed}, nil
}

// diffKeepers is upstream's RequiresReplaceIfValuesNotNull, with the bridge's detailed paths.
func diffKeepers(o, n property.Value, detailed map[string]p.PropertyDiff) {
	oMap, nMap := asMap(o), asMap(n)
	switch {
	case n.IsComputed():
		detailed["keepers"] = replaceKind(o, n)
	case o.IsNull() || !o.IsMap():
		if nMap.Len() > 0 {
			detailed["keepers"] = p.PropertyDiff{Kind: p.AddReplace}
		}
	case n.IsNull():
		if oMap.Len() > 0 {
			detailed["keepers"] = p.PropertyDiff{Kind: p.DeleteReplace}
		}
	default:
		path := func(k string) string { return resource.PropertyPath{"keepers", k}.String() }
		for k, nv := range nMap.All {
			ov, ok := oMap.GetOk(k)
			switch {
			case !ok || ov.IsNull():
				detailed[path(k)] = p.PropertyDiff{Kind: p.AddReplace}
			case !same(ov, nv):
				detailed[path(k)] = p.PropertyDiff{Kind: p.UpdateReplace}
			}
		}
		for k, ov := range oMap.All {
			if _, ok := nMap.GetOk(k); !ok && !ov.IsNull() {
				detailed[path(k)] = p.PropertyDiff{Kind: p.DeleteReplace}
			}
		}
	}
}

func asMap(v property.Value) property.Map {
	if v.IsMap() {
		return v.AsMap()
	}
	return property.Map{}
}

func replaceKind(o, n property.Value) p.PropertyDiff {
	switch {
	case o.IsNull():
		return p.PropertyDiff{Kind: p.AddReplace}
	case n.IsNull():
		return p.PropertyDiff{Kind: p.DeleteReplace}
	}
	return p.PropertyDiff{Kind: p.UpdateReplace}
}

// same compares two values as Terraform does: secretness does not count, unknown is a change.
func same(a, b property.Value) bool {
	switch {
	case a.IsComputed() || b.IsComputed():
		return false
	case a.IsNull() || b.IsNull():
		return a.IsNull() && b.IsNull()
	case a.IsBool() && b.IsBool():
		return a.AsBool() == b.AsBool()
	case a.IsNumber() && b.IsNumber():
		return a.AsNumber() == b.AsNumber()
	case a.IsString() && b.IsString():
		return a.AsString() == b.AsString()
	case a.IsMap() && b.IsMap():
		am, bm := a.AsMap(), b.AsMap()
		if am.Len() != bm.Len() {
			return false
		}
		for k, av := range am.All {
			bv, ok := bm.GetOk(k)
			if !ok || !same(av, bv) {
				return false
			}
		}
		return true
	}
	return false
}

func pick(m property.Map, keys []string) property.Map {
	out := map[string]property.Value{}
	for _, k := range keys {
		if v, ok := m.GetOk(k); ok {
			out[k] = v
		}
	}
	return property.NewMap(out)
}

func ptr[T any](v T) *T { return &v }

// importInteger parses upstream's import ID {result},{min},{max}[,{seed}].
func importInteger(id string) (string, property.Map, error) {
	const summary = "Import Random Integer Error: "
	parts := strings.Split(id, ",")
	if len(parts) != 3 && len(parts) != 4 {
		return "", property.Map{}, errors.New(summary +
			"Invalid import usage: expecting {result},{min},{max} or {result},{min},{max},{seed}")
	}
	var nums [3]int64
	for i, what := range []string{"The value", "The min value", "The max value"} {
		n, err := strconv.ParseInt(parts[i], 10, 64)
		if err != nil {
			return "", property.Map{}, fmt.Errorf("%s%s supplied could not be parsed as an integer.\n\nOriginal Error: %w",
				summary, what, err)
		}
		nums[i] = n
	}
	state := map[string]property.Value{
		"result": property.New(float64(nums[0])),
		"min":    property.New(float64(nums[1])),
		"max":    property.New(float64(nums[2])),
	}
	if len(parts) == 4 {
		state["seed"] = property.New(parts[3])
	}
	return parts[0], property.NewMap(state), nil
}

// importString builds upstream's imported RandomPassword (secret, ID "none") or RandomString.
func importString(id string, password bool) (string, property.Map, error) {
	state := map[string]property.Value{
		"result":     property.New(id).WithSecret(password),
		"length":     property.New(float64(len(id))),
		"special":    property.New(true),
		"upper":      property.New(true),
		"lower":      property.New(true),
		"number":     property.New(true),
		"numeric":    property.New(true),
		"minUpper":   property.New(0.0),
		"minLower":   property.New(0.0),
		"minNumeric": property.New(0.0),
		"minSpecial": property.New(0.0),
	}
	if !password {
		return id, property.NewMap(state), nil
	}
	hash, err := bcryptHash(id)
	if err != nil {
		return "", property.Map{}, err
	}
	state["bcryptHash"] = property.New(hash).WithSecret(true)
	return "none", property.NewMap(state), nil
}

// importID parses upstream's import ID {b64url} or {prefix},{b64url}.
func importID(id string) (string, property.Map, error) {
	prefix := ""
	if sep := strings.LastIndex(id, ","); sep != -1 {
		prefix, id = id[:sep], id[sep+1:]
	}
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return "", property.Map{}, fmt.Errorf("Import Random ID Error: While attempting to import a random id "+
			"there was a decoding error.\n\nOriginal Error: %w", err)
	}
	var st RandomIdState
	idState(&st, b, prefix)
	state := map[string]property.Value{
		"byteLength": property.New(float64(len(b))),
		"b64Url":     property.New(st.B64Url),
		"b64Std":     property.New(st.B64Std),
		"hex":        property.New(st.Hex),
		"dec":        property.New(st.Dec),
	}
	if prefix != "" {
		state["prefix"] = property.New(prefix)
	}
	return id, property.NewMap(state), nil
}
