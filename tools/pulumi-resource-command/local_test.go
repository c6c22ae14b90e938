package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-go-provider/infer"
)

func TestLocalLifecycle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	log := filepath.Join(dir, "ops")
	script := "printf '%s\\n' \"$1\" >>" + shellQuote(log) + "\necho \"op=$1 in $PWD\"\n"
	in := LocalCommandInputs{
		Lifecycle: Lifecycle{Create: ptr("bash -s apply"), Delete: ptr("bash -s remove")},
		localBase: localBase{Stdin: &script, Dir: &dir, AddPreviousOutputInEnv: ptr(false)},
	}
	r := &LocalCommand{}
	created, err := r.Create(ctx, infer.CreateRequest[LocalCommandInputs]{Name: "l", Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "create stdout", created.Output.Stdout, "op=apply in "+dir)
	updated, err := r.Update(ctx, infer.UpdateRequest[LocalCommandInputs, LocalCommandOutputs]{
		ID: created.ID, State: created.Output, Inputs: in,
	})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "update (create again) stdout", updated.Output.Stdout, "op=apply in "+dir)
	if _, err := r.Delete(ctx, infer.DeleteRequest[LocalCommandOutputs]{ID: created.ID, State: updated.Output}); err != nil {
		t.Fatal(err)
	}
	equal(t, "script runs", readLines(t, log), []string{"apply", "apply", "remove"})
}

func TestLocalInterpreterEnvironmentAndPreviousOutput(t *testing.T) {
	in := LocalCommandInputs{
		Lifecycle: Lifecycle{Update: ptr(`echo "$GREETING $PULUMI_COMMAND_STDOUT $X"`)},
		localBase: localBase{
			Interpreter: &[]string{"env", "GREETING=hi", "bash", "-c"},
			Environment: map[string]string{"X": "y"},
		},
	}
	resp, err := (&LocalCommand{}).Update(context.Background(), infer.UpdateRequest[LocalCommandInputs, LocalCommandOutputs]{
		ID: "x", State: LocalCommandOutputs{Outputs: Outputs{Stdout: "before"}}, Inputs: in,
	})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "stdout", resp.Output.Stdout, "hi before y")
}

func TestLocalFailingCommandReportsOutput(t *testing.T) {
	in := LocalCommandInputs{Lifecycle: Lifecycle{Create: ptr("echo out; echo bad >&2; exit 4")}}
	_, err := (&LocalCommand{}).Create(context.Background(), infer.CreateRequest[LocalCommandInputs]{Name: "x", Inputs: in})
	if err == nil {
		t.Fatal("a failing command succeeded")
	}
	for _, want := range []string{"exit status 4", "out", "bad"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestLocalRunInvoke(t *testing.T) {
	resp, err := (&Run{}).Invoke(context.Background(), infer.FunctionRequest[RunInputs]{Input: RunInputs{
		Command:   "tr a-z A-Z",
		localBase: localBase{Stdin: ptr("hello\n")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "stdout", resp.Output.Stdout, "HELLO")
}
