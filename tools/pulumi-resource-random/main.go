// Command pulumi-resource-random is the lvs-dr stand-in for the Pulumi Random provider 4.21.1.
//
// Why it exists: the upstream provider, github.com/pulumi/pulumi-random/provider/v4, is not served
// by the Go module proxy that this project's machines reach. For the pseudo-version of the v4.21.1
// commit it answers:
//
//	reading https://proxy.golang.org/github.com/pulumi/pulumi-random/provider/v4/@v/v4.0.0-20260722185042-f2d8b029d0f7.info:
//	403 Forbidden
//	server response: This module version is not available.
//
// Nor would it build as a dependency where it is served: its go.mod replaces the module of the
// bridged Terraform provider with its folder ./shim, and a dependency's replace directives do not
// apply. So scripts/ensure-pulumi.sh always builds this stand-in (without trying upstream) and
// scripts/pulumi.sh installs it as resource plugin random 4.21.1, for @pulumi/random 4.21.1.
//
// What it implements: the tokens, inputs and outputs of the random package 4.21.1 (the bridged
// terraform-provider-random v3.9.0) that the @pulumi/random SDK sends, on pulumi-go-provider v1.3.0:
//   - random:index/randomInteger:RandomInteger: math/rand as upstream, seeded with the CRC-64 (ISO)
//     of seed when seed is set, so a seeded integer is the same number upstream gives; the ID is
//     the result in decimal; max < min fails at create (not at check), with upstream's text.
//   - random:index/randomPassword:RandomPassword and random:index/randomString:RandomString:
//     crypto/rand over upper, lower, numeric and special (default !@#$%&*()-_=+[]{}<>:?, or
//     overrideSpecial), min* characters of each class first (even of a disabled class), then
//     shuffled; the defaults (true, 0) and the number/numeric synchronisation are applied at
//     check; the check failures have upstream's texts. A password's result and bcryptHash (cost
//     10, of the first 72 bytes) are secrets and its ID is "none"; a string's ID is its result.
//   - random:index/randomId:RandomId: byteLength bytes from crypto/rand; b64Url, b64Std, hex and
//     dec with the prefix; the ID is the unprefixed URL-safe base64.
//
// Lifecycle as upstream: a preview of a create leaves every generated output unknown; any change
// of an input replaces the resource (create before delete), keepers included (a key added,
// removed or changed); the diff compares the new inputs, with defaults, against the prior
// state, so a stack written by the real provider (whose state holds the defaults and extra keys
// such as id and __meta) shows no change; number and numeric configured with different values
// fail the preview and the diff, as upstream's plan does. Read returns the state (or, for
// `pulumi import`, builds it from upstream's import IDs); Delete does nothing.
//
// What differs from upstream: a change that upstream applies in place without regenerating
// anything (overrideSpecial "" to unset; keepers entries whose value is null, which this drops
// at check) is no change here, so Update is not implemented; the checked inputs and the schema
// carry the defaults (upstream adds them in its plan; the SDK is generated from upstream's
// schema, so programs see no difference); there is no deprecation warning for `number`; a
// diff with an unknown input reports a replace where upstream's preview may report an update.
package main

import (
	"context"
	"fmt"
	"os"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi-go-provider/middleware/schema"
)

// Version is set with -ldflags -X main.Version=...
var Version = "4.21.1"

func newProvider() p.Provider {
	prov := infer.Provider(infer.Options{
		Metadata: schema.Metadata{
			DisplayName: "random",
			Description: "lvs-dr stand-in for the Pulumi Random provider " + Version,
		},
		Resources: []infer.InferredResource{
			infer.Resource(&RandomInteger{}),
			infer.Resource(&RandomPassword{}),
			infer.Resource(&RandomString{}),
			infer.Resource(&RandomId{}),
		},
	})
	return withStateDiffAndRead(prov)
}

func main() {
	if err := p.RunProvider(context.Background(), "random", Version, newProvider()); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}
