package main

import (
	"context"
	"errors"
	"hash/crc64"
	"math/rand"
	"strconv"
	"time"

	"github.com/pulumi/pulumi-go-provider/infer"
)

// RandomInteger is random:index/randomInteger:RandomInteger.
type RandomInteger struct{}

// Annotate sets the token and description.
func (r *RandomInteger) Annotate(a infer.Annotator) {
	a.SetToken("index/randomInteger", "RandomInteger")
	a.Describe(r, "Generates a random integer from the range min..max (lvs-dr stand-in for random 4.21.1).")
}

// RandomIntegerArgs are the inputs of RandomInteger.
type RandomIntegerArgs struct {
	Keepers map[string]string `pulumi:"keepers,optional"`
	Min     int               `pulumi:"min"`
	Max     int               `pulumi:"max"`
	Seed    *string           `pulumi:"seed,optional"`
}

// Annotate describes the inputs.
func (a *RandomIntegerArgs) Annotate(an infer.Annotator) {
	an.Describe(&a.Keepers, keepersDescription)
	an.Describe(&a.Min, "The minimum inclusive value of the range.")
	an.Describe(&a.Max, "The maximum inclusive value of the range.")
	an.Describe(&a.Seed, "A custom seed to always produce the same value.")
}

// RandomIntegerState is the state of RandomInteger.
type RandomIntegerState struct {
	RandomIntegerArgs
	Result int `pulumi:"result"`
}

// Annotate describes the outputs.
func (s *RandomIntegerState) Annotate(an infer.Annotator) {
	an.Describe(&s.Result, "The random integer result.")
}

// Check decodes the inputs; upstream validates nothing here (max < min fails at create).
func (*RandomInteger) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[RandomIntegerArgs], error) {
	args, failures, err := infer.DefaultCheck[RandomIntegerArgs](ctx, dropNullKeepers(req.NewInputs))
	return infer.CheckResponse[RandomIntegerArgs]{Inputs: args, Failures: failures}, err
}

// errIntegerRange is the error of upstream's create (sic: "(minVal)", "(maxVal)").
var errIntegerRange = errors.New("Create Random Integer Error: " +
	"The minimum (minVal) value needs to be smaller than or equal to maximum (maxVal) value.")

// Create draws the integer (nothing during a preview: the result is unknown then).
func (*RandomInteger) Create(_ context.Context, req infer.CreateRequest[RandomIntegerArgs],
) (infer.CreateResponse[RandomIntegerState], error) {
	state := RandomIntegerState{RandomIntegerArgs: req.Inputs}
	if req.DryRun {
		return infer.CreateResponse[RandomIntegerState]{Output: state}, nil
	}
	seed := ""
	if req.Inputs.Seed != nil {
		seed = *req.Inputs.Seed
	}
	n, err := randomInteger(req.Inputs.Min, req.Inputs.Max, seed)
	if err != nil {
		return infer.CreateResponse[RandomIntegerState]{}, err
	}
	state.Result = n
	return infer.CreateResponse[RandomIntegerState]{ID: strconv.Itoa(n), Output: state}, nil
}

// randomInteger is upstream's generator: math/rand seeded with the CRC-64 (ISO table) of seed,
// or with the current time when seed is empty. Go 1 compatibility freezes math/rand's seeded
// sequences, so a seeded result is the one upstream gives.
func randomInteger(lo, hi int, seed string) (int, error) {
	if hi < lo {
		return 0, errIntegerRange
	}
	span := (hi + 1) - lo
	if span <= 0 { // the range does not fit in an int (upstream panics)
		return 0, errors.New("Create Random Integer Error: the range min..max is too large")
	}
	var seedInt int64
	if seed != "" {
		seedInt = int64(crc64.Checksum([]byte(seed), crc64.MakeTable(crc64.ISO)))
	} else {
		seedInt = time.Now().UnixNano()
	}
	r := rand.New(rand.NewSource(seedInt))
	return r.Intn(span) + lo, nil
}
