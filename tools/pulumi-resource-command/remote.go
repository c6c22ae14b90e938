package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
)

// RemoteCommand is command:remote:Command.
type RemoteCommand struct{}

// Annotate sets the token and description.
func (r *RemoteCommand) Annotate(a infer.Annotator) {
	a.SetToken("remote", "Command")
	a.Describe(r, "A command to run on a remote host over SSH (lvs-dr stand-in for command 1.2.1).")
}

// RemoteCommandInputs are the inputs of command:remote:Command.
type RemoteCommandInputs struct {
	Lifecycle
	Stdin                  *string           `pulumi:"stdin,optional"`
	Logging                *Logging          `pulumi:"logging,optional"`
	Connection             *Connection       `pulumi:"connection" provider:"secret"`
	Environment            map[string]string `pulumi:"environment,optional"`
	AddPreviousOutputInEnv *bool             `pulumi:"addPreviousOutputInEnv,optional"`
}

// RemoteCommandOutputs are its state: the inputs and the outputs of the last run.
type RemoteCommandOutputs struct {
	RemoteCommandInputs
	Outputs
}

// run runs cmd on the host with the inputs of st (stdin, environment, ...) and, on success, sets
// st.Outputs. The previous outputs of st go to the environment unless addPreviousOutputInEnv is
// false.
func (st *RemoteCommandOutputs) run(ctx context.Context, cmd string) error {
	if st.Connection == nil {
		return fmt.Errorf("connection is required")
	}
	client, err := st.Connection.dial(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("opening an SSH session on %s: %w", st.Connection.endpoint(), err)
	}
	defer session.Close()
	names := make([]string, 0, len(st.Environment))
	for k := range st.Environment {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if err := session.Setenv(k, st.Environment[k]); err != nil {
			p.GetLogger(ctx).Errorf("Unable to set '%s': the SSH server must accept it (AcceptEnv).", k)
			return fmt.Errorf("could not set environment variable %q: %w", k, err)
		}
	}
	if st.AddPreviousOutputInEnv == nil || *st.AddPreviousOutputInEnv {
		for _, kv := range [][2]string{{envPrevStdout, st.Stdout}, {envPrevStderr, st.Stderr}} {
			if kv[1] == "" {
				continue
			}
			if err := session.Setenv(kv[0], kv[1]); err != nil {
				p.GetLogger(ctx).Warningf("Unable to set '%s': the SSH server must accept it (AcceptEnv).", kv[0])
			}
		}
	}
	if st.Stdin != nil && *st.Stdin != "" {
		session.Stdin = strings.NewReader(*st.Stdin)
	}
	capt := newCapture(ctx)
	session.Stdout, session.Stderr = capt.writers(st.Logging)
	err = session.Run(cmd)
	out := capt.outputs()
	if err != nil {
		return fmt.Errorf("%w: running %q on %s:\n%s", err, cmd, st.Connection.endpoint(), capt.both.String())
	}
	st.Outputs = out
	return nil
}

// Create runs create (nothing during a preview).
func (*RemoteCommand) Create(ctx context.Context, req infer.CreateRequest[RemoteCommandInputs],
) (infer.CreateResponse[RemoteCommandOutputs], error) {
	state := RemoteCommandOutputs{RemoteCommandInputs: req.Inputs}
	id, err := newID(req.Name)
	if err != nil || req.DryRun || req.Inputs.Create == nil {
		return infer.CreateResponse[RemoteCommandOutputs]{ID: id, Output: state}, err
	}
	err = state.run(ctx, *req.Inputs.Create)
	return infer.CreateResponse[RemoteCommandOutputs]{ID: id, Output: state}, err
}

// Update runs update, or create when update is unset (nothing during a preview).
func (*RemoteCommand) Update(ctx context.Context, req infer.UpdateRequest[RemoteCommandInputs, RemoteCommandOutputs],
) (infer.UpdateResponse[RemoteCommandOutputs], error) {
	state := RemoteCommandOutputs{RemoteCommandInputs: req.Inputs, Outputs: req.State.Outputs}
	if req.DryRun {
		return infer.UpdateResponse[RemoteCommandOutputs]{Output: state}, nil
	}
	var err error
	if req.Inputs.Update != nil {
		err = state.run(ctx, *req.Inputs.Update)
	} else if req.Inputs.Create != nil {
		err = state.run(ctx, *req.Inputs.Create)
	}
	return infer.UpdateResponse[RemoteCommandOutputs]{Output: state}, err
}

// Delete runs delete with the state: its connection, stdin and environment.
func (*RemoteCommand) Delete(ctx context.Context, req infer.DeleteRequest[RemoteCommandOutputs]) (infer.DeleteResponse, error) {
	st := req.State
	if st.Delete == nil {
		return infer.DeleteResponse{}, nil
	}
	return infer.DeleteResponse{}, st.run(ctx, *st.Delete)
}
