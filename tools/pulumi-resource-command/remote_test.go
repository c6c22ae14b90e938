package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-go-provider/infer"
	"golang.org/x/crypto/ssh"
)

func TestMain(m *testing.M) {
	// The connection would also offer the keys of a running ssh-agent: keep the tests hermetic.
	os.Unsetenv("SSH_AUTH_SOCK")
	os.Exit(m.Run())
}

// lvsdrInputs are inputs shaped like lvs-dr's host commands (components/host.ts): create and
// update run `bash -s apply`, delete runs `bash -s remove`, the script comes on stdin, and no
// previous output is sent with setenv. The script appends its operation to log.
func lvsdrInputs(s *testServer, log string) RemoteCommandInputs {
	script := `set -eu
printf '%s\n' "$1" >>` + shellQuote(log) + `
echo "op=$1"
echo "stderr of $1" >&2
`
	return RemoteCommandInputs{
		Lifecycle: Lifecycle{
			Create: ptr("bash -s apply"),
			Update: ptr("bash -s apply"),
			Delete: ptr("bash -s remove"),
		},
		Stdin:                  &script,
		Connection:             s.connection(),
		AddPreviousOutputInEnv: ptr(false),
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

func TestRemoteCreatePipesStdinAndReturnsOutputs(t *testing.T) {
	s := newTestServer(t)
	log := filepath.Join(t.TempDir(), "ops")
	resp, err := (&RemoteCommand{}).Create(context.Background(), infer.CreateRequest[RemoteCommandInputs]{
		Name: "web1-arp", Inputs: lvsdrInputs(s, log),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.ID, "web1-arp") {
		t.Errorf("ID %q does not start with the resource name", resp.ID)
	}
	equal(t, "stdout", resp.Output.Stdout, "op=apply")
	equal(t, "stderr", resp.Output.Stderr, "stderr of apply")
	equal(t, "commands run", s.execLog(), []string{"bash -s apply"})
	equal(t, "script runs", readLines(t, log), []string{"apply"})
	equal(t, "state keeps stdin", resp.Output.Stdin, lvsdrInputs(s, log).Stdin)
}

func TestRemoteCreateStdinVerbatim(t *testing.T) {
	s := newTestServer(t)
	in := RemoteCommandInputs{
		Lifecycle:  Lifecycle{Create: ptr("cat; printf 'no newline' >&2")},
		Stdin:      ptr("line 1\nline 2 with 'quotes' and $DOLLARS\n"),
		Connection: s.connection(),
	}
	resp, err := (&RemoteCommand{}).Create(context.Background(), infer.CreateRequest[RemoteCommandInputs]{Name: "cat", Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	// command 1.2.1 drops one final newline of each stream.
	equal(t, "stdout", resp.Output.Stdout, "line 1\nline 2 with 'quotes' and $DOLLARS")
	equal(t, "stderr", resp.Output.Stderr, "no newline")
}

func TestRemoteCreateDuringPreviewRunsNothing(t *testing.T) {
	s := newTestServer(t)
	_, err := (&RemoteCommand{}).Create(context.Background(), infer.CreateRequest[RemoteCommandInputs]{
		Name: "x", Inputs: lvsdrInputs(s, filepath.Join(t.TempDir(), "ops")), DryRun: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "commands run", s.execLog(), []string(nil))
	equal(t, "SSH logins", s.authCount(), 0)
}

func TestRemoteLifecycleCreateUpdateDelete(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	log := filepath.Join(t.TempDir(), "ops")
	r := &RemoteCommand{}
	in := lvsdrInputs(s, log)

	created, err := r.Create(ctx, infer.CreateRequest[RemoteCommandInputs]{Name: "vip", Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	updated, err := r.Update(ctx, infer.UpdateRequest[RemoteCommandInputs, RemoteCommandOutputs]{
		ID: created.ID, State: created.Output, Inputs: in,
	})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "update stdout", updated.Output.Stdout, "op=apply")

	// Delete gets only the state: it must run `delete` with the same stdin (the script).
	if _, err := r.Delete(ctx, infer.DeleteRequest[RemoteCommandOutputs]{ID: created.ID, State: updated.Output}); err != nil {
		t.Fatal(err)
	}
	equal(t, "commands run", s.execLog(), []string{"bash -s apply", "bash -s apply", "bash -s remove"})
	equal(t, "script runs", readLines(t, log), []string{"apply", "apply", "remove"})
	equal(t, "setenv requests (addPreviousOutputInEnv false)", s.envLog(), []envRequest(nil))
}

func TestRemoteUpdateWithoutUpdateRunsCreate(t *testing.T) {
	s := newTestServer(t)
	log := filepath.Join(t.TempDir(), "ops")
	in := lvsdrInputs(s, log)
	in.Update = nil
	resp, err := (&RemoteCommand{}).Update(context.Background(), infer.UpdateRequest[RemoteCommandInputs, RemoteCommandOutputs]{
		ID: "x", State: RemoteCommandOutputs{RemoteCommandInputs: in}, Inputs: in,
	})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "stdout", resp.Output.Stdout, "op=apply")
	equal(t, "commands run", s.execLog(), []string{"bash -s apply"})
}

func TestRemoteUpdateRunsUpdateNotCreate(t *testing.T) {
	s := newTestServer(t)
	in := RemoteCommandInputs{
		Lifecycle:  Lifecycle{Create: ptr("echo create"), Update: ptr("echo update")},
		Connection: s.connection(),
	}
	resp, err := (&RemoteCommand{}).Update(context.Background(), infer.UpdateRequest[RemoteCommandInputs, RemoteCommandOutputs]{
		ID: "x", State: RemoteCommandOutputs{RemoteCommandInputs: in}, Inputs: in,
	})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "stdout", resp.Output.Stdout, "update")
	equal(t, "commands run", s.execLog(), []string{"echo update"})
}

func TestRemoteDeleteWithoutDeleteRunsNothing(t *testing.T) {
	s := newTestServer(t)
	in := RemoteCommandInputs{Lifecycle: Lifecycle{Create: ptr("true")}, Connection: s.connection()}
	if _, err := (&RemoteCommand{}).Delete(context.Background(), infer.DeleteRequest[RemoteCommandOutputs]{
		ID: "x", State: RemoteCommandOutputs{RemoteCommandInputs: in},
	}); err != nil {
		t.Fatal(err)
	}
	equal(t, "SSH logins", s.authCount(), 0)
}

func TestRemoteWrongHostKeyFailsAndRunsNothing(t *testing.T) {
	s := newTestServer(t)
	other, _ := newKey(t)
	in := lvsdrInputs(s, filepath.Join(t.TempDir(), "ops"))
	in.Connection.HostKey = ptr(authorizedLine(other.PublicKey()))
	in.Connection.DialErrorLimit = ptr(2)

	_, err := (&RemoteCommand{}).Create(context.Background(), infer.CreateRequest[RemoteCommandInputs]{Name: "x", Inputs: in})
	if err == nil {
		t.Fatal("Create succeeded with a wrong host key")
	}
	msg := err.Error()
	// As upstream, a mismatch is retried like any dial error: dialErrorLimit + 1 attempts.
	for _, want := range []string{"after 3 failed attempts", "host key mismatch", s.addr, "SHA256:", "nothing was run"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	equal(t, "commands run", s.execLog(), []string(nil))
	equal(t, "SSH logins", s.authCount(), 0)
}

func TestRemoteBlankHostKeyIsAnErrorNotIgnored(t *testing.T) {
	s := newTestServer(t)
	in := RemoteCommandInputs{Lifecycle: Lifecycle{Create: ptr("true")}, Connection: s.connection()}
	in.Connection.HostKey = ptr("")
	_, err := (&RemoteCommand{}).Create(context.Background(), infer.CreateRequest[RemoteCommandInputs]{Name: "x", Inputs: in})
	if err == nil || !strings.Contains(err.Error(), "failed to parse host key") {
		t.Fatalf("got error %v, want one about parsing the host key", err)
	}
	equal(t, "SSH logins", s.authCount(), 0)
}

func TestRemotePinnedKeyOffersExactlyItsType(t *testing.T) {
	// As upstream: the client offers the pinned key's type, so an RSA pin offers only ssh-rsa
	// (SHA-1), which OpenSSH 8.8+ refuses. lvs-dr's config refuses RSA pins for that reason.
	ed, _ := newKey(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPub, err := ssh.NewPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []ssh.PublicKey{ed.PublicKey(), ecPub} {
		equal(t, key.Type(), hostKeyAlgorithms(key.Type()), []string{key.Type()})
	}
	equal(t, "rsa", hostKeyAlgorithms(ssh.KeyAlgoRSA), []string{"ssh-rsa"})
}

func TestRemoteUnreachableAgentFailsTheConnection(t *testing.T) {
	s := newTestServer(t)
	t.Setenv("SSH_AUTH_SOCK", filepath.Join(t.TempDir(), "no-agent.sock"))
	in := RemoteCommandInputs{Lifecycle: Lifecycle{Create: ptr("true")}, Connection: s.connection()}
	_, err := (&RemoteCommand{}).Create(context.Background(), infer.CreateRequest[RemoteCommandInputs]{Name: "x", Inputs: in})
	if err == nil || !strings.Contains(err.Error(), "no-agent.sock") {
		t.Fatalf("got error %v, want one naming the agent socket", err)
	}
	equal(t, "SSH logins", s.authCount(), 0)
}

func TestRemoteRightHostKeyWorks(t *testing.T) {
	s := newTestServer(t)
	in := RemoteCommandInputs{
		Lifecycle:  Lifecycle{Create: ptr("echo ok")},
		Connection: s.connection(), // pins the server's key
	}
	resp, err := (&RemoteCommand{}).Create(context.Background(), infer.CreateRequest[RemoteCommandInputs]{Name: "x", Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "stdout", resp.Output.Stdout, "ok")
}

func TestRemoteBadHostKeyLineIsAnError(t *testing.T) {
	s := newTestServer(t)
	in := RemoteCommandInputs{Lifecycle: Lifecycle{Create: ptr("true")}, Connection: s.connection()}
	in.Connection.HostKey = ptr("not a key")
	_, err := (&RemoteCommand{}).Create(context.Background(), infer.CreateRequest[RemoteCommandInputs]{Name: "x", Inputs: in})
	if err == nil || !strings.Contains(err.Error(), "connection.hostKey") {
		t.Fatalf("got error %v, want one about connection.hostKey", err)
	}
	equal(t, "SSH logins", s.authCount(), 0)
}

func TestRemoteAddPreviousOutputInEnv(t *testing.T) {
	prev := Outputs{Stdout: "previous out", Stderr: "previous err"}
	cmd := `printf '%s|%s' "${PULUMI_COMMAND_STDOUT-unset}" "${PULUMI_COMMAND_STDERR-unset}"`
	update := func(t *testing.T, s *testServer, add *bool) string {
		t.Helper()
		in := RemoteCommandInputs{Lifecycle: Lifecycle{Create: &cmd}, Connection: s.connection(), AddPreviousOutputInEnv: add}
		resp, err := (&RemoteCommand{}).Update(context.Background(), infer.UpdateRequest[RemoteCommandInputs, RemoteCommandOutputs]{
			ID: "x", State: RemoteCommandOutputs{RemoteCommandInputs: in, Outputs: prev}, Inputs: in,
		})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Output.Stdout
	}
	t.Run("false sends no setenv", func(t *testing.T) {
		s := newTestServer(t)
		equal(t, "stdout", update(t, s, ptr(false)), "unset|unset")
		equal(t, "setenv requests", s.envLog(), []envRequest(nil))
	})
	t.Run("default sends the previous outputs", func(t *testing.T) {
		s := newTestServer(t)
		equal(t, "stdout", update(t, s, nil), "previous out|previous err")
		equal(t, "setenv requests", s.envLog(), []envRequest{
			{envPrevStdout, "previous out"}, {envPrevStderr, "previous err"},
		})
	})
	t.Run("default works when the server refuses setenv", func(t *testing.T) {
		s := newTestServer(t)
		s.setAcceptEnv(false)
		equal(t, "stdout", update(t, s, nil), "unset|unset")
	})
}

func TestRemoteEnvironmentRefusedIsAnError(t *testing.T) {
	s := newTestServer(t)
	s.setAcceptEnv(false)
	in := RemoteCommandInputs{
		Lifecycle:   Lifecycle{Create: ptr("true")},
		Connection:  s.connection(),
		Environment: map[string]string{"LVS_PARAM": "1"},
	}
	_, err := (&RemoteCommand{}).Create(context.Background(), infer.CreateRequest[RemoteCommandInputs]{Name: "x", Inputs: in})
	if err == nil || !strings.Contains(err.Error(), `"LVS_PARAM"`) {
		t.Fatalf("got error %v, want one naming LVS_PARAM", err)
	}
	equal(t, "commands run", s.execLog(), []string(nil))
}

func TestRemoteFailingCommandReportsOutput(t *testing.T) {
	s := newTestServer(t)
	in := RemoteCommandInputs{
		Lifecycle:  Lifecycle{Create: ptr("bash -s apply")},
		Stdin:      ptr("echo 'some stdout'\necho 'ipvsadm: something failed' >&2\nexit 3\n"),
		Connection: s.connection(),
	}
	_, err := (&RemoteCommand{}).Create(context.Background(), infer.CreateRequest[RemoteCommandInputs]{Name: "x", Inputs: in})
	if err == nil {
		t.Fatal("a failing command succeeded")
	}
	for _, want := range []string{"status 3", "bash -s apply", "some stdout", "ipvsadm: something failed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestRemoteFailingDeleteIsAnError(t *testing.T) {
	s := newTestServer(t)
	in := RemoteCommandInputs{
		Lifecycle:  Lifecycle{Delete: ptr("echo cannot remove >&2; exit 1")},
		Connection: s.connection(),
	}
	_, err := (&RemoteCommand{}).Delete(context.Background(), infer.DeleteRequest[RemoteCommandOutputs]{
		ID: "x", State: RemoteCommandOutputs{RemoteCommandInputs: in},
	})
	if err == nil || !strings.Contains(err.Error(), "cannot remove") {
		t.Fatalf("got error %v, want one with the command's stderr", err)
	}
}

func TestRemoteThroughProxy(t *testing.T) {
	jump := newTestServer(t)
	target := newTestServer(t)
	conn := target.connection()
	pc := jump.connection()
	conn.Proxy = &ProxyConnection{connectionBase: pc.connectionBase}
	in := RemoteCommandInputs{Lifecycle: Lifecycle{Create: ptr("cat")}, Stdin: ptr("via proxy\n"), Connection: conn}
	resp, err := (&RemoteCommand{}).Create(context.Background(), infer.CreateRequest[RemoteCommandInputs]{Name: "x", Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "stdout", resp.Output.Stdout, "via proxy")
	equal(t, "proxy forwards", jump.forwardLog(), []string{target.addr})
	equal(t, "commands run on the proxy", jump.execLog(), []string(nil))
	equal(t, "commands run on the target", target.execLog(), []string{"cat"})
}

func TestRemoteDialErrorLimit(t *testing.T) {
	// A port with nothing listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	s := newTestServer(t)
	conn := s.connection()
	conn.Port = ptr(float64(addr.Port))
	conn.DialErrorLimit = ptr(1)
	in := RemoteCommandInputs{Lifecycle: Lifecycle{Create: ptr("true")}, Connection: conn}
	_, err = (&RemoteCommand{}).Create(context.Background(), infer.CreateRequest[RemoteCommandInputs]{Name: "x", Inputs: in})
	if err == nil || !strings.Contains(err.Error(), "after 2 failed attempts") {
		t.Fatalf("got error %v, want one after 2 failed attempts", err)
	}
}
