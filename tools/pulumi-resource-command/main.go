// Command pulumi-resource-command is the lvs-dr stand-in for the Pulumi Command provider 1.2.1.
//
// Why it exists: the upstream provider, github.com/pulumi/pulumi-command/provider, is not served by
// the Go module proxy that this project's machines reach. For the pseudo-version of the v1.2.1
// commit it answers:
//
//	reading https://proxy.golang.org/github.com/pulumi/pulumi-command/provider/@v/v0.0.0-20260303235922-7f3eb6f3b77c.info:
//	403 Forbidden
//	server response: This module version is not available.
//
// scripts/ensure-pulumi.sh still tries the upstream module first and builds this stand-in only
// when the proxy refuses it.
//
// What it implements: the tokens, inputs and outputs of the command package 1.2.1 that the
// @pulumi/command SDK sends, with the documented lifecycle, on pulumi-go-provider v1.3.0:
//   - command:remote:Command: create/update/delete over SSH (connection: user root, port 22,
//     dialErrorLimit 10, perDialTimeout 15 s, password/privateKey/agent auth, hostKey pinning,
//     one proxy hop), stdin, environment (SSH setenv), logging, addPreviousOutputInEnv. A change
//     of triggers replaces the resource; any other change runs update (or create when update is
//     unset); delete runs delete with the same stdin and the connection stored in state.
//   - command:local:Command: the same, run locally with an interpreter (default /bin/sh -c) and dir.
//   - command:local:run: an invoke that runs a local command on every preview and up.
//
// Where upstream behaves in a way a program could notice, this does the same: output lines are
// ephemeral status messages; a pinned host key offers exactly its own algorithm (ssh-rsa for RSA);
// a blank hostKey is a parse error; an SSH_AUTH_SOCK no agent answers fails the connection; every
// dial error, a host key mismatch included, is retried dialErrorLimit times with the SDK's backoff.
// Its error messages say more than upstream's. Not implemented: command:remote:CopyToRemote,
// command:remote:CopyFile, and the assetPaths and archivePaths of local commands (accepted;
// nothing is collected).
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
var Version = "1.2.1"

func newProvider() p.Provider {
	return infer.Provider(infer.Options{
		Metadata: schema.Metadata{
			DisplayName: "Command",
			Description: "lvs-dr stand-in for the Pulumi Command provider " + Version,
		},
		Resources: []infer.InferredResource{
			infer.Resource(&LocalCommand{}),
			infer.Resource(&RemoteCommand{}),
		},
		Functions: []infer.InferredFunction{
			infer.Function(&Run{}),
		},
	})
}

func main() {
	if err := p.RunProvider(context.Background(), "command", Version, newProvider()); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}
