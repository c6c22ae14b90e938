package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

type connectionBase struct {
	User               *string  `pulumi:"user,optional"`
	Password           *string  `pulumi:"password,optional" provider:"secret"`
	Host               *string  `pulumi:"host"`
	Port               *float64 `pulumi:"port,optional"`
	PrivateKey         *string  `pulumi:"privateKey,optional" provider:"secret"`
	PrivateKeyPassword *string  `pulumi:"privateKeyPassword,optional" provider:"secret"`
	AgentSocketPath    *string  `pulumi:"agentSocketPath,optional"`
	DialErrorLimit     *int     `pulumi:"dialErrorLimit,optional"`
	PerDialTimeout     *int     `pulumi:"perDialTimeout,optional"`
	HostKey            *string  `pulumi:"hostKey,optional"`
}

func annotateConnection(a infer.Annotator, c *connectionBase) {
	a.Describe(&c.Host, "The address of the resource to connect to.")
	a.Describe(&c.HostKey, "The expected host key (an authorized_keys line). Without it any host key is accepted.")
	a.SetDefault(&c.User, "root")
	a.SetDefault(&c.Port, 22)
	a.SetDefault(&c.DialErrorLimit, 10)
	a.SetDefault(&c.PerDialTimeout, 15)
}

// ProxyConnection is the jump host of a Connection (it has no proxy of its own).
type ProxyConnection struct {
	connectionBase
}

// Annotate sets the token and defaults.
func (c *ProxyConnection) Annotate(a infer.Annotator) {
	a.SetToken("remote", "ProxyConnection")
	annotateConnection(a, &c.connectionBase)
}

// Connection says how to reach a remote host over SSH.
type Connection struct {
	connectionBase
	Proxy *ProxyConnection `pulumi:"proxy,optional"`
}

// Annotate sets the token and defaults.
func (c *Connection) Annotate(a infer.Annotator) {
	a.SetToken("remote", "Connection")
	annotateConnection(a, &c.connectionBase)
}

func strOr(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

func (c *connectionBase) endpoint() string {
	port := 22
	if c.Port != nil {
		port = int(*c.Port)
	}
	return net.JoinHostPort(strOr(c.Host, ""), strconv.Itoa(port))
}

func (c *connectionBase) dialLimit() int {
	if c.DialErrorLimit == nil {
		return 10
	}
	return *c.DialErrorLimit
}

// hostKeyMismatchError is returned when the server's host key is not the pinned one. Like upstream,
// it is retried as any dial error (dialErrorLimit times).
type hostKeyMismatchError struct {
	addr      string
	want, got ssh.PublicKey
}

func (e *hostKeyMismatchError) Error() string {
	return fmt.Sprintf("host key mismatch for %s: the server presented %s %s but connection.hostKey is %s %s;"+
		" refusing to connect (nothing was run)",
		e.addr, e.got.Type(), ssh.FingerprintSHA256(e.got), e.want.Type(), ssh.FingerprintSHA256(e.want))
}

// pinnedHostKey accepts only want.
func pinnedHostKey(want ssh.PublicKey) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, got ssh.PublicKey) error {
		if !bytes.Equal(got.Marshal(), want.Marshal()) {
			addr := hostname
			if remote != nil {
				addr = remote.String()
			}
			return &hostKeyMismatchError{addr: addr, want: want, got: got}
		}
		return nil
	}
}

// hostKeyAlgorithms are the host key algorithms offered for a pinned key of type t: exactly its type,
// as upstream 1.2.1 does. For an RSA key that is the SHA-1 "ssh-rsa", which OpenSSH 8.8 and later
// refuse: such a pin cannot connect to them (lvs-dr refuses RSA pins in its config for that reason).
func hostKeyAlgorithms(t string) []string {
	return []string{t}
}

func (c *connectionBase) clientConfig() (*ssh.ClientConfig, error) {
	cfg := &ssh.ClientConfig{User: strOr(c.User, "root")}
	timeout := 15
	if c.PerDialTimeout != nil {
		timeout = *c.PerDialTimeout
	}
	cfg.Timeout = time.Duration(timeout) * time.Second
	// As upstream: a hostKey that is set is parsed, so a blank one is an error, never "no pinning".
	if c.HostKey != nil {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*c.HostKey))
		if err != nil {
			return nil, fmt.Errorf("failed to parse host key (connection.hostKey %q): %w", *c.HostKey, err)
		}
		cfg.HostKeyCallback = pinnedHostKey(key)
		cfg.HostKeyAlgorithms = hostKeyAlgorithms(key.Type())
	} else {
		cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey() //nolint:gosec // documented behaviour of command 1.2.1
	}
	if c.PrivateKey != nil {
		var signer ssh.Signer
		var err error
		if c.PrivateKeyPassword != nil {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(*c.PrivateKey), []byte(*c.PrivateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(*c.PrivateKey))
		}
		if err != nil {
			return nil, fmt.Errorf("failed to parse private key: %w", err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if c.Password != nil {
		pw := *c.Password
		cfg.Auth = append(cfg.Auth, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
				answers := make([]string, len(qs))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	// As upstream: agentSocketPath, else SSH_AUTH_SOCK when set; an agent that cannot be reached
	// fails the connection (even when a private key is given).
	sock := strOr(c.AgentSocketPath, os.Getenv("SSH_AUTH_SOCK"))
	if sock != "" {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return nil, err
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
	}
	return cfg, nil
}

// retry calls f until it succeeds, the context ends, or limit failures happened (-1: no limit),
// waiting as upstream does (the SDK's retry.Until defaults: 100 ms, backoff 1.5, at most 5 s). Every
// error is retried, a host key mismatch included.
func retry[T any](ctx context.Context, what string, limit int, f func() (T, error)) (T, error) {
	var zero T
	delay := retryDelay
	for attempt := 1; ; attempt++ {
		v, err := f()
		if err == nil {
			return v, nil
		}
		if limit >= 0 && attempt > limit {
			return zero, fmt.Errorf("%s: after %d failed attempts: %w", what, attempt, err)
		}
		of := "inf"
		if limit >= 0 {
			of = strconv.Itoa(limit)
		}
		p.GetLogger(ctx).InfoStatusf("%s %d/%s failed: retrying", what, attempt, of)
		select {
		case <-ctx.Done():
			return zero, ctx.Err()
		case <-time.After(delay):
		}
		delay = time.Duration(float64(delay) * 1.5)
		if delay > 5*time.Second {
			delay = 5 * time.Second
		}
	}
}

// retryDelay is the first wait between dial attempts (a variable for tests).
var retryDelay = 100 * time.Millisecond

func (c *Connection) dial(ctx context.Context) (*ssh.Client, error) {
	if c.Host == nil || *c.Host == "" {
		return nil, errors.New("connection.host is required")
	}
	cfg, err := c.clientConfig()
	if err != nil {
		return nil, err
	}
	target := c.endpoint()
	if c.Proxy == nil {
		return retry(ctx, "dial "+target, c.dialLimit(), func() (*ssh.Client, error) {
			return ssh.Dial("tcp", target, cfg)
		})
	}
	pcfg, err := c.Proxy.clientConfig()
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	jump, err := retry(ctx, "dial proxy "+c.Proxy.endpoint(), c.Proxy.dialLimit(), func() (*ssh.Client, error) {
		return ssh.Dial("tcp", c.Proxy.endpoint(), pcfg)
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	client, err := retry(ctx, "dial "+target+" from the proxy", c.dialLimit(), func() (*ssh.Client, error) {
		conn, err := jump.Dial("tcp", target)
		if err != nil {
			return nil, err
		}
		cc, chans, reqs, err := ssh.NewClientConn(conn, target, cfg)
		if err != nil {
			conn.Close()
			return nil, err
		}
		return ssh.NewClient(cc, chans, reqs), nil
	})
	if err != nil {
		jump.Close()
		return nil, err
	}
	// Close the jump connection with the target's.
	go func() {
		_ = client.Wait()
		jump.Close()
	}()
	return client, nil
}
