package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"sort"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"golang.org/x/crypto/bcrypt"
)

const keepersDescription = "Arbitrary map of values that, when changed, will trigger recreation of resource."

// The character classes of upstream's random.CreateString.
const (
	numChars       = "0123456789"
	lowerChars     = "abcdefghijklmnopqrstuvwxyz"
	upperChars     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	defaultSpecial = "!@#$%&*()-_=+[]{}<>:?"
)

// StringArgs are the inputs of RandomPassword and RandomString (the same in upstream).
type StringArgs struct {
	Keepers         map[string]string `pulumi:"keepers,optional"`
	Length          int               `pulumi:"length"`
	Special         *bool             `pulumi:"special,optional"`
	Upper           *bool             `pulumi:"upper,optional"`
	Lower           *bool             `pulumi:"lower,optional"`
	Numeric         *bool             `pulumi:"numeric,optional"`
	Number          *bool             `pulumi:"number,optional"`
	MinUpper        *int              `pulumi:"minUpper,optional"`
	MinLower        *int              `pulumi:"minLower,optional"`
	MinNumeric      *int              `pulumi:"minNumeric,optional"`
	MinSpecial      *int              `pulumi:"minSpecial,optional"`
	OverrideSpecial *string           `pulumi:"overrideSpecial,optional"`
}

// Annotate sets the defaults (applied at check) and describes the inputs. number and numeric
// have no static default: Check synchronises them as upstream's plan modifier does.
func (a *StringArgs) Annotate(an infer.Annotator) {
	an.Describe(&a.Keepers, keepersDescription)
	an.Describe(&a.Length, "The length of the string desired. The minimum value for length is 1 and, length "+
		"must also be >= (minUpper + minLower + minNumeric + minSpecial).")
	an.Describe(&a.Special, "Include special characters in the result. These are !@#$%&*()-_=+[]{}<>:?. Default value is true.")
	an.Describe(&a.Upper, "Include uppercase alphabet characters in the result. Default value is true.")
	an.Describe(&a.Lower, "Include lowercase alphabet characters in the result. Default value is true.")
	an.Describe(&a.Numeric, "Include numeric characters in the result. Default value is true.")
	an.Describe(&a.Number, "Include numeric characters in the result. Default value is true.")
	an.Deprecate(&a.Number, "**NOTE**: This is deprecated, use `numeric` instead.")
	an.Describe(&a.MinUpper, "Minimum number of uppercase alphabet characters in the result. Default value is 0.")
	an.Describe(&a.MinLower, "Minimum number of lowercase alphabet characters in the result. Default value is 0.")
	an.Describe(&a.MinNumeric, "Minimum number of numeric characters in the result. Default value is 0.")
	an.Describe(&a.MinSpecial, "Minimum number of special characters in the result. Default value is 0.")
	an.Describe(&a.OverrideSpecial, "Supply your own list of special characters to use for string generation.")
	an.SetDefault(&a.Special, true)
	an.SetDefault(&a.Upper, true)
	an.SetDefault(&a.Lower, true)
	an.SetDefault(&a.MinUpper, 0)
	an.SetDefault(&a.MinLower, 0)
	an.SetDefault(&a.MinNumeric, 0)
	an.SetDefault(&a.MinSpecial, 0)
}

// RandomPassword is random:index/randomPassword:RandomPassword.
type RandomPassword struct{}

// Annotate sets the token and description.
func (r *RandomPassword) Annotate(a infer.Annotator) {
	a.SetToken("index/randomPassword", "RandomPassword")
	a.Describe(r, "Identical to RandomString with the exception that the result is treated as sensitive "+
		"(lvs-dr stand-in for random 4.21.1).")
}

// RandomPasswordState is the state of RandomPassword.
type RandomPasswordState struct {
	StringArgs
	Result     string `pulumi:"result" provider:"secret"`
	BcryptHash string `pulumi:"bcryptHash" provider:"secret"`
}

// Annotate describes the outputs.
func (s *RandomPasswordState) Annotate(an infer.Annotator) {
	an.Describe(&s.Result, "The generated random string.")
	an.Describe(&s.BcryptHash, "A bcrypt hash of the generated random string. If the generated random "+
		"string is greater than 72 bytes in length, bcryptHash will contain a hash of the first 72 bytes.")
}

// WireDependencies makes result and bcryptHash secret, as the bridge returns them (infer's
// provider:"secret" tag only marks the schema). The other flows stay infer's defaults.
func (*RandomPassword) WireDependencies(f infer.FieldSelector, _ *StringArgs, state *RandomPasswordState) {
	f.OutputField(&state.Result).AlwaysSecret()
	f.OutputField(&state.BcryptHash).AlwaysSecret()
}

// Check applies the defaults and upstream's validation.
func (*RandomPassword) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[StringArgs], error) {
	return checkStringArgs(ctx, req)
}

// Create generates the password (nothing during a preview: result and bcryptHash are unknown).
func (*RandomPassword) Create(_ context.Context, req infer.CreateRequest[StringArgs],
) (infer.CreateResponse[RandomPasswordState], error) {
	state := RandomPasswordState{StringArgs: req.Inputs}
	if err := numberNumericConflict(req.Inputs); err != nil {
		return infer.CreateResponse[RandomPasswordState]{}, err
	}
	if req.DryRun {
		return infer.CreateResponse[RandomPasswordState]{Output: state}, nil
	}
	result, err := generateString(stringParams(req.Inputs))
	if err != nil {
		return infer.CreateResponse[RandomPasswordState]{}, err
	}
	hash, err := bcryptHash(result)
	if err != nil {
		return infer.CreateResponse[RandomPasswordState]{}, err
	}
	state.Result, state.BcryptHash = result, hash
	return infer.CreateResponse[RandomPasswordState]{ID: "none", Output: state}, nil
}

// RandomString is random:index/randomString:RandomString.
type RandomString struct{}

// Annotate sets the token and description.
func (r *RandomString) Annotate(a infer.Annotator) {
	a.SetToken("index/randomString", "RandomString")
	a.Describe(r, "Generates a random permutation of alphanumeric characters and optionally special characters "+
		"(lvs-dr stand-in for random 4.21.1).")
}

// RandomStringState is the state of RandomString.
type RandomStringState struct {
	StringArgs
	Result string `pulumi:"result"`
}

// Annotate describes the outputs.
func (s *RandomStringState) Annotate(an infer.Annotator) {
	an.Describe(&s.Result, "The generated random string.")
}

// Check applies the defaults and upstream's validation.
func (*RandomString) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[StringArgs], error) {
	return checkStringArgs(ctx, req)
}

// Create generates the string; its ID is the string itself.
func (*RandomString) Create(_ context.Context, req infer.CreateRequest[StringArgs],
) (infer.CreateResponse[RandomStringState], error) {
	state := RandomStringState{StringArgs: req.Inputs}
	if err := numberNumericConflict(req.Inputs); err != nil {
		return infer.CreateResponse[RandomStringState]{}, err
	}
	if req.DryRun {
		return infer.CreateResponse[RandomStringState]{Output: state}, nil
	}
	result, err := generateString(stringParams(req.Inputs))
	if err != nil {
		return infer.CreateResponse[RandomStringState]{}, err
	}
	state.Result = result
	return infer.CreateResponse[RandomStringState]{ID: result, Output: state}, nil
}

// checkStringArgs is the Check of RandomPassword and RandomString: decode, defaults, upstream's
// validators (on the inputs as configured, before defaults) and the number/numeric sync.
func checkStringArgs(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[StringArgs], error) {
	news := dropNullKeepers(req.NewInputs)
	args, failures, err := infer.DefaultCheck[StringArgs](ctx, news)
	if err != nil || len(failures) > 0 {
		return infer.CheckResponse[StringArgs]{Inputs: args, Failures: failures}, err
	}
	failures = validateStringInputs(req.Name, news)
	if !news.Get("number").IsComputed() && !news.Get("numeric").IsComputed() {
		args.Number, args.Numeric = syncNumberNumeric(args.Number, args.Numeric)
	}
	return infer.CheckResponse[StringArgs]{Inputs: args, Failures: failures}, nil
}

// syncNumberNumeric is upstream's NumberNumericAttributePlanModifier: both unset → both true,
// one set → the other takes its value; both set (equal or not) → unchanged.
func syncNumberNumeric(number, numeric *bool) (*bool, *bool) {
	switch {
	case number == nil && numeric == nil:
		t1, t2 := true, true
		return &t1, &t2
	case number == nil:
		v := *numeric
		return &v, numeric
	case numeric == nil:
		v := *number
		return number, &v
	}
	return number, numeric
}

// numberNumericConflict is the error of upstream's plan when number and numeric differ.
func numberNumericConflict(a StringArgs) error {
	if a.Number != nil && a.Numeric != nil && *a.Number != *a.Numeric {
		return errors.New("Number and numeric are both configured with different values: " +
			"Number is deprecated, use numeric instead")
	}
	return nil
}

// checkFailure renders a Terraform diagnostic the way the bridge does (no Property, so the engine
// prints "resource 'name' has a problem: ...").
func checkFailure(name, summary, detail, prop string) p.CheckFailure {
	return p.CheckFailure{Reason: fmt.Sprintf("%s. %s. Examine values at '%s.%s'.", summary, detail, name, prop)}
}

// validateStringInputs runs upstream's validators on the configured inputs: length AtLeast(1)
// and AtLeastSumOf(min_*), and AtLeastOneOfTrue(special, upper, lower) on number and numeric.
// Null (unset) and unknown values are skipped as the Terraform framework does.
func validateStringInputs(name string, in property.Map) []p.CheckFailure {
	var failures []p.CheckFailure
	if l := in.Get("length"); l.IsNumber() {
		length := int64(l.AsNumber())
		if length < 1 {
			failures = append(failures, checkFailure(name, "Invalid Attribute Value",
				fmt.Sprintf("Attribute length value must be at least 1, got: %d", length), "length"))
		}
		var sum int64
		known := true
		for _, k := range []string{"minUpper", "minLower", "minNumeric", "minSpecial"} {
			v := in.Get(k)
			if v.IsComputed() {
				known = false
				break
			}
			if v.IsNumber() {
				sum += int64(v.AsNumber())
			}
		}
		if known && length < sum {
			failures = append(failures, checkFailure(name, "Invalid Attribute Value",
				fmt.Sprintf("Attribute length value must be at least sum of min_upper + min_lower + "+
					"min_numeric + min_special, got: %d", length), "length"))
		}
	}
	for _, attr := range []string{"number", "numeric"} {
		v := in.Get(attr)
		if !v.IsBool() || v.AsBool() {
			continue
		}
		allFalse := true
		for _, other := range []string{"special", "upper", "lower"} {
			o := in.Get(other)
			if !o.IsBool() || o.AsBool() { // unknown, unset or true: no error
				allFalse = false
				break
			}
		}
		if allFalse {
			failures = append(failures, checkFailure(name, "Invalid Attribute Combination",
				fmt.Sprintf("At least one attribute out of [special,upper,lower,%s] must be specified as true", attr),
				attr))
		}
	}
	return failures
}

// stringParamsT are the parameters of upstream's random.CreateString.
type stringParamsT struct {
	length                                   int
	upper, lower, numeric, special           bool
	minUpper, minLower, minNumeric, minSpecl int
	overrideSpecial                          string
}

func deref[T any](v *T, def T) T {
	if v == nil {
		return def
	}
	return *v
}

func stringParams(a StringArgs) stringParamsT {
	numeric := deref(a.Numeric, deref(a.Number, true))
	return stringParamsT{
		length:          a.Length,
		upper:           deref(a.Upper, true),
		lower:           deref(a.Lower, true),
		numeric:         numeric,
		special:         deref(a.Special, true),
		minUpper:        deref(a.MinUpper, 0),
		minLower:        deref(a.MinLower, 0),
		minNumeric:      deref(a.MinNumeric, 0),
		minSpecl:        deref(a.MinSpecial, 0),
		overrideSpecial: deref(a.OverrideSpecial, ""),
	}
}

// generateString is upstream's random.CreateString: minNumeric, minLower, minUpper and minSpecial
// characters from their classes (whether or not the class is enabled), the rest from the enabled
// classes, each drawn with crypto/rand over runes, then shuffled.
func generateString(in stringParamsT) (string, error) {
	special := defaultSpecial
	if in.overrideSpecial != "" {
		special = in.overrideSpecial
	}
	chars := ""
	if in.upper {
		chars += upperChars
	}
	if in.lower {
		chars += lowerChars
	}
	if in.numeric {
		chars += numChars
	}
	if in.special {
		chars += special
	}
	if chars == "" {
		return "", errors.New("the character set specified is empty")
	}
	if in.length < 0 || in.minUpper < 0 || in.minLower < 0 || in.minNumeric < 0 || in.minSpecl < 0 {
		return "", errors.New("length and the min* inputs must not be negative")
	}
	result := make([]rune, 0, in.length)
	for _, m := range []struct {
		set string
		n   int
	}{{numChars, in.minNumeric}, {lowerChars, in.minLower}, {upperChars, in.minUpper}, {special, in.minSpecl}} {
		s, err := randomRunes(m.set, m.n)
		if err != nil {
			return "", err
		}
		result = append(result, s...)
	}
	rest := max(in.length-len(result), 0)
	s, err := randomRunes(chars, rest)
	if err != nil {
		return "", err
	}
	result = append(result, s...)

	order := make([]byte, len(result))
	if _, err := rand.Read(order); err != nil {
		return "", err
	}
	sort.Slice(result, func(i, j int) bool { return order[i] < order[j] })
	return string(result), nil
}

func randomRunes(set string, n int) ([]rune, error) {
	runes := []rune(set)
	out := make([]rune, n)
	size := big.NewInt(int64(len(runes)))
	for i := range out {
		idx, err := rand.Int(rand.Reader, size)
		if err != nil {
			return nil, err
		}
		out[i] = runes[idx.Int64()]
	}
	return out, nil
}

// bcryptHash is upstream's generateHash: bcrypt (default cost 10) of the first 72 bytes.
func bcryptHash(s string) (string, error) {
	b := []byte(s)
	if len(b) > 72 {
		b = b[:72]
	}
	h, err := bcrypt.GenerateFromPassword(b, bcrypt.DefaultCost)
	return string(h), err
}
