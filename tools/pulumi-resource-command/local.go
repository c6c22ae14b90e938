package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/pulumi/pulumi-go-provider/infer"
)

// LocalCommand is command:local:Command.
type LocalCommand struct{}

// Annotate sets the token and description.
func (r *LocalCommand) Annotate(a infer.Annotator) {
	a.SetToken("local", "Command")
	a.Describe(r, "A command to run on the machine that runs Pulumi (lvs-dr stand-in for command 1.2.1).")
}

// localBase holds the inputs that command:local:Command and command:local:run share.
type localBase struct {
	Interpreter            *[]string         `pulumi:"interpreter,optional"`
	Dir                    *string           `pulumi:"dir,optional"`
	Environment            map[string]string `pulumi:"environment,optional"`
	Stdin                  *string           `pulumi:"stdin,optional"`
	Logging                *Logging          `pulumi:"logging,optional"`
	AddPreviousOutputInEnv *bool             `pulumi:"addPreviousOutputInEnv,optional"`
	// Accepted for compatibility; this stand-in does not collect assets.
	AssetPaths   *[]string `pulumi:"assetPaths,optional"`
	ArchivePaths *[]string `pulumi:"archivePaths,optional"`
}

// LocalCommandInputs are the inputs of command:local:Command.
type LocalCommandInputs struct {
	Lifecycle
	localBase
}

// LocalCommandOutputs are its state: the inputs and the outputs of the last run.
type LocalCommandOutputs struct {
	LocalCommandInputs
	Outputs
}

// runLocal runs command with the interpreter of b; prev is returned unchanged on failure.
func runLocal(ctx context.Context, b localBase, command string, prev Outputs) (Outputs, error) {
	argv := []string{"/bin/sh", "-c"}
	if b.Interpreter != nil && len(*b.Interpreter) > 0 {
		argv = *b.Interpreter
	}
	cmd := exec.CommandContext(ctx, argv[0], append(append([]string{}, argv[1:]...), command)...)
	if b.Dir != nil {
		cmd.Dir = *b.Dir
	} else if wd, err := os.Getwd(); err == nil {
		cmd.Dir = wd
	}
	cmd.Env = os.Environ()
	for k, v := range b.Environment {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if b.AddPreviousOutputInEnv == nil || *b.AddPreviousOutputInEnv {
		if prev.Stdout != "" {
			cmd.Env = append(cmd.Env, envPrevStdout+"="+prev.Stdout)
		}
		if prev.Stderr != "" {
			cmd.Env = append(cmd.Env, envPrevStderr+"="+prev.Stderr)
		}
	}
	if b.Stdin != nil && *b.Stdin != "" {
		cmd.Stdin = strings.NewReader(*b.Stdin)
	}
	capt := newCapture(ctx)
	cmd.Stdout, cmd.Stderr = capt.writers(b.Logging)
	err := cmd.Run()
	out := capt.outputs()
	if err != nil {
		return prev, fmt.Errorf("%w: running %q:\n%s", err, command, capt.both.String())
	}
	return out, nil
}

// Create runs create (nothing during a preview).
func (*LocalCommand) Create(ctx context.Context, req infer.CreateRequest[LocalCommandInputs],
) (infer.CreateResponse[LocalCommandOutputs], error) {
	state := LocalCommandOutputs{LocalCommandInputs: req.Inputs}
	id, err := newID(req.Name)
	if err != nil || req.DryRun || req.Inputs.Create == nil {
		return infer.CreateResponse[LocalCommandOutputs]{ID: id, Output: state}, err
	}
	state.Outputs, err = runLocal(ctx, req.Inputs.localBase, *req.Inputs.Create, Outputs{})
	return infer.CreateResponse[LocalCommandOutputs]{ID: id, Output: state}, err
}

// Update runs update, or create when update is unset (nothing during a preview).
func (*LocalCommand) Update(ctx context.Context, req infer.UpdateRequest[LocalCommandInputs, LocalCommandOutputs],
) (infer.UpdateResponse[LocalCommandOutputs], error) {
	state := LocalCommandOutputs{LocalCommandInputs: req.Inputs, Outputs: req.State.Outputs}
	if req.DryRun {
		return infer.UpdateResponse[LocalCommandOutputs]{Output: state}, nil
	}
	var err error
	if req.Inputs.Update != nil {
		state.Outputs, err = runLocal(ctx, req.Inputs.localBase, *req.Inputs.Update, req.State.Outputs)
	} else if req.Inputs.Create != nil {
		state.Outputs, err = runLocal(ctx, req.Inputs.localBase, *req.Inputs.Create, req.State.Outputs)
	}
	return infer.UpdateResponse[LocalCommandOutputs]{Output: state}, err
}

// Delete runs delete with the state.
func (*LocalCommand) Delete(ctx context.Context, req infer.DeleteRequest[LocalCommandOutputs]) (infer.DeleteResponse, error) {
	st := req.State
	if st.Delete == nil {
		return infer.DeleteResponse{}, nil
	}
	_, err := runLocal(ctx, st.localBase, *st.Delete, st.Outputs)
	return infer.DeleteResponse{}, err
}

// Run is the invoke command:local:run.
type Run struct{}

// Annotate sets the token and description.
func (r *Run) Annotate(a infer.Annotator) {
	a.SetToken("local", "run")
	a.Describe(r, "Runs a local command on every preview and update (lvs-dr stand-in for command 1.2.1).")
}

// RunInputs are the inputs of command:local:run.
type RunInputs struct {
	Command string `pulumi:"command"`
	localBase
}

// RunOutputs are its result.
type RunOutputs struct {
	RunInputs
	Outputs
}

// Invoke runs the command, during previews too.
func (*Run) Invoke(ctx context.Context, req infer.FunctionRequest[RunInputs]) (infer.FunctionResponse[RunOutputs], error) {
	out, err := runLocal(ctx, req.Input.localBase, req.Input.Command, Outputs{})
	return infer.FunctionResponse[RunOutputs]{Output: RunOutputs{RunInputs: req.Input, Outputs: out}}, err
}
