package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/big"

	"github.com/pulumi/pulumi-go-provider/infer"
)

// RandomId is random:index/randomId:RandomId.
type RandomId struct{}

// Annotate sets the token and description.
func (r *RandomId) Annotate(a infer.Annotator) {
	a.SetToken("index/randomId", "RandomId")
	a.Describe(r, "Generates random bytes intended to be used as unique identifiers (lvs-dr stand-in for random 4.21.1).")
}

// RandomIdArgs are the inputs of RandomId.
type RandomIdArgs struct {
	Keepers    map[string]string `pulumi:"keepers,optional"`
	ByteLength int               `pulumi:"byteLength"`
	Prefix     *string           `pulumi:"prefix,optional"`
}

// Annotate describes the inputs.
func (a *RandomIdArgs) Annotate(an infer.Annotator) {
	an.Describe(&a.Keepers, keepersDescription)
	an.Describe(&a.ByteLength, "The number of random bytes to produce. The minimum value is 1, which produces "+
		"eight bits of randomness.")
	an.Describe(&a.Prefix, "Arbitrary string to prefix the output value with. This string is supplied as-is, "+
		"meaning it is not guaranteed to be URL-safe or base64 encoded.")
}

// RandomIdState is the state of RandomId.
type RandomIdState struct {
	RandomIdArgs
	B64Url string `pulumi:"b64Url"`
	B64Std string `pulumi:"b64Std"`
	Hex    string `pulumi:"hex"`
	Dec    string `pulumi:"dec"`
}

// Annotate describes the outputs.
func (s *RandomIdState) Annotate(an infer.Annotator) {
	an.Describe(&s.B64Url, "The generated id presented in base64, using the URL-friendly character set: "+
		"case-sensitive letters, digits and the characters _ and -.")
	an.Describe(&s.B64Std, "The generated id presented in base64 without additional transformations.")
	an.Describe(&s.Hex, "The generated id presented in padded hexadecimal digits. This result will always "+
		"be twice as long as the requested byte length.")
	an.Describe(&s.Dec, "The generated id presented in non-padded decimal digits.")
}

// Check decodes the inputs (upstream validates nothing).
func (*RandomId) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[RandomIdArgs], error) {
	args, failures, err := infer.DefaultCheck[RandomIdArgs](ctx, dropNullKeepers(req.NewInputs))
	return infer.CheckResponse[RandomIdArgs]{Inputs: args, Failures: failures}, err
}

// Create draws the bytes (nothing during a preview). The ID is the unprefixed URL-safe base64;
// byteLength 0 gives an empty ID, which fails the create as it does upstream.
func (*RandomId) Create(_ context.Context, req infer.CreateRequest[RandomIdArgs],
) (infer.CreateResponse[RandomIdState], error) {
	state := RandomIdState{RandomIdArgs: req.Inputs}
	if req.DryRun {
		return infer.CreateResponse[RandomIdState]{Output: state}, nil
	}
	if req.Inputs.ByteLength < 0 {
		return infer.CreateResponse[RandomIdState]{}, errors.New("byteLength must not be negative")
	}
	b := make([]byte, req.Inputs.ByteLength)
	if _, err := rand.Read(b); err != nil {
		return infer.CreateResponse[RandomIdState]{}, err
	}
	id := idState(&state, b, deref(req.Inputs.Prefix, ""))
	return infer.CreateResponse[RandomIdState]{ID: id, Output: state}, nil
}

// idState fills the outputs of a RandomId of bytes b and returns its ID.
func idState(state *RandomIdState, b []byte, prefix string) string {
	id := base64.RawURLEncoding.EncodeToString(b)
	state.B64Url = prefix + id
	state.B64Std = prefix + base64.StdEncoding.EncodeToString(b)
	state.Hex = prefix + hex.EncodeToString(b)
	state.Dec = prefix + new(big.Int).SetBytes(b).String()
	return id
}
