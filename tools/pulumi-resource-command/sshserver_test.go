package main

// An in-process SSH server for the tests: it listens on 127.0.0.1:0, accepts one client key, runs
// each exec request with `bash -c` on this machine with the channel as stdin, stdout and stderr,
// records what it was asked to do, and forwards direct-tcpip channels (for the proxy test).

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

type envRequest struct{ Name, Value string }

type testServer struct {
	t         *testing.T
	addr      string
	host      string
	port      float64
	hostKey   string // authorized_keys line of the host key
	clientKey string // PEM private key the server accepts

	mu        sync.Mutex
	acceptEnv bool
	execs     []string
	envs      []envRequest
	auths     int
	forwards  []string

	ln net.Listener
	wg sync.WaitGroup
}

func newKey(t *testing.T) (ssh.Signer, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer, priv
}

func authorizedLine(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// newTestServer starts a server that is stopped when the test ends.
func newTestServer(t *testing.T) *testServer {
	t.Helper()
	hostSigner, _ := newKey(t)
	clientSigner, clientPriv := newKey(t)
	block, err := ssh.MarshalPrivateKey(clientPriv, "lvs-dr test")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{
		t:         t,
		hostKey:   authorizedLine(hostSigner.PublicKey()),
		clientKey: string(pem.EncodeToMemory(block)),
		acceptEnv: true,
	}
	wantClient := clientSigner.PublicKey().Marshal()
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == string(wantClient) {
				s.mu.Lock()
				s.auths++
				s.mu.Unlock()
				return nil, nil
			}
			return nil, errors.New("unknown client key")
		},
	}
	cfg.AddHostKey(hostSigner)

	s.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = s.ln.Addr().String()
	host, port, _ := net.SplitHostPort(s.addr)
	s.host = host
	p, _ := strconv.Atoi(port)
	s.port = float64(p)

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := s.ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serveConn(conn, cfg)
			}()
		}
	}()
	t.Cleanup(func() {
		s.ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *testServer) serveConn(conn net.Conn, cfg *ssh.ServerConfig) {
	defer conn.Close()
	sc, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return // a client that gave up (host key mismatch) or failed to authenticate
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	defer wg.Wait()
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			ch, creqs, err := nc.Accept()
			if err != nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.serveSession(ch, creqs)
			}()
		case "direct-tcpip":
			var target struct {
				Host     string
				Port     uint32
				OrigHost string
				OrigPort uint32
			}
			if err := ssh.Unmarshal(nc.ExtraData(), &target); err != nil {
				_ = nc.Reject(ssh.ConnectionFailed, "bad direct-tcpip request")
				continue
			}
			addr := net.JoinHostPort(target.Host, strconv.Itoa(int(target.Port)))
			up, err := net.Dial("tcp", addr)
			if err != nil {
				_ = nc.Reject(ssh.ConnectionFailed, err.Error())
				continue
			}
			ch, creqs, err := nc.Accept()
			if err != nil {
				up.Close()
				continue
			}
			s.mu.Lock()
			s.forwards = append(s.forwards, addr)
			s.mu.Unlock()
			go ssh.DiscardRequests(creqs)
			wg.Add(1)
			go func() {
				defer wg.Done()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(up, ch); done <- struct{}{} }()
				go func() { _, _ = io.Copy(ch, up); done <- struct{}{} }()
				<-done
				up.Close()
				ch.Close()
			}()
		default:
			_ = nc.Reject(ssh.UnknownChannelType, "not supported by the test server")
		}
	}
}

func (s *testServer) serveSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var env []string
	for req := range reqs {
		switch req.Type {
		case "env":
			var e envRequest
			if err := ssh.Unmarshal(req.Payload, &e); err != nil {
				_ = req.Reply(false, nil)
				continue
			}
			s.mu.Lock()
			s.envs = append(s.envs, e)
			ok := s.acceptEnv
			s.mu.Unlock()
			if ok {
				env = append(env, e.Name+"="+e.Value)
			}
			_ = req.Reply(ok, nil)
		case "exec":
			var e struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &e); err != nil {
				_ = req.Reply(false, nil)
				continue
			}
			_ = req.Reply(true, nil)
			s.mu.Lock()
			s.execs = append(s.execs, e.Command)
			s.mu.Unlock()
			status := runBash(ch, e.Command, env)
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}

// runBash runs command with bash -c, with ch as stdin/stdout and ch.Stderr() as stderr.
func runBash(ch ssh.Channel, command string, env []string) uint32 {
	cmd := exec.Command("bash", "-c", command)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		fmt.Fprintln(ch.Stderr(), err)
		return 255
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(ch.Stderr(), err)
		return 255
	}
	go func() {
		_, _ = io.Copy(stdin, ch)
		stdin.Close()
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return uint32(ee.ExitCode() & 0xff)
	}
	if err != nil {
		return 255
	}
	return 0
}

func (s *testServer) setAcceptEnv(ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acceptEnv = ok
}

func (s *testServer) execLog() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.execs...)
}

func (s *testServer) envLog() []envRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]envRequest(nil), s.envs...)
}

func (s *testServer) authCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths
}

func (s *testServer) forwardLog() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.forwards...)
}

// connection returns a Connection to the server, with its host key pinned, as lvs-dr makes them.
func (s *testServer) connection() *Connection {
	host, key, hostKey := s.host, s.clientKey, s.hostKey
	limit := 0
	port := s.port
	return &Connection{connectionBase: connectionBase{
		Host:           &host,
		Port:           &port,
		PrivateKey:     &key,
		HostKey:        &hostKey,
		DialErrorLimit: &limit,
		User:           ptr("lvs"),
	}}
}

func ptr[T any](v T) *T { return &v }
