package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// The variables that carry the previous stdout/stderr to the next run (addPreviousOutputInEnv).
const (
	envPrevStdout = "PULUMI_COMMAND_STDOUT"
	envPrevStderr = "PULUMI_COMMAND_STDERR"
)

// Logging says which output streams are sent to the engine as log messages.
type Logging string

// The values of Logging.
const (
	LogStdout          Logging = "stdout"
	LogStderr          Logging = "stderr"
	LogStdoutAndStderr Logging = "stdoutAndStderr"
	NoLogging          Logging = "none"
)

// Values lists the enum values for the schema.
func (Logging) Values() []infer.EnumValue[Logging] {
	return []infer.EnumValue[Logging]{
		{Name: string(LogStdout), Value: LogStdout, Description: "Log stdout only"},
		{Name: string(LogStderr), Value: LogStderr, Description: "Log stderr only"},
		{Name: string(LogStdoutAndStderr), Value: LogStdoutAndStderr, Description: "Log stdout and stderr"},
		{Name: string(NoLogging), Value: NoLogging, Description: "Log nothing"},
	}
}

func (l *Logging) stdout() bool { return l == nil || *l == LogStdout || *l == LogStdoutAndStderr }
func (l *Logging) stderr() bool { return l == nil || *l == LogStderr || *l == LogStdoutAndStderr }

// Lifecycle holds the commands common to local and remote commands.
type Lifecycle struct {
	Triggers *[]any  `pulumi:"triggers,optional" provider:"replaceOnChanges"`
	Create   *string `pulumi:"create,optional"`
	Update   *string `pulumi:"update,optional"`
	Delete   *string `pulumi:"delete,optional"`
}

// Outputs are the outputs of the last command that ran.
type Outputs struct {
	Stdout string `pulumi:"stdout"`
	Stderr string `pulumi:"stderr"`
}

// lineLogger sends each complete line written to it to the engine as an ephemeral info status, as
// upstream does: it shows while the resource runs and is not kept in the update's output.
type lineLogger struct {
	ctx  context.Context
	mu   sync.Mutex
	part []byte
}

func (l *lineLogger) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, b...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		p.GetLogger(l.ctx).InfoStatus(string(l.part[:i]))
		l.part = l.part[i+1:]
	}
	return len(b), nil
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.part) > 0 {
		p.GetLogger(l.ctx).InfoStatus(string(l.part))
		l.part = nil
	}
}

// capture wires stdout/stderr writers that keep the output and optionally log it.
type capture struct {
	stdout, stderr, both bytes.Buffer
	log                  *lineLogger
}

func newCapture(ctx context.Context) *capture { return &capture{log: &lineLogger{ctx: ctx}} }

func (c *capture) writers(logging *Logging) (io.Writer, io.Writer) {
	out := []io.Writer{&c.stdout, &c.both}
	errw := []io.Writer{&c.stderr, &c.both}
	if logging.stdout() {
		out = append(out, c.log)
	}
	if logging.stderr() {
		errw = append(errw, c.log)
	}
	var mu sync.Mutex
	return lockedWriter{&mu, io.MultiWriter(out...)}, lockedWriter{&mu, io.MultiWriter(errw...)}
}

// outputs returns stdout and stderr without their final newline, as command 1.2.1 does.
func (c *capture) outputs() Outputs {
	c.log.flush()
	return Outputs{
		Stdout: strings.TrimSuffix(c.stdout.String(), "\n"),
		Stderr: strings.TrimSuffix(c.stderr.String(), "\n"),
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func newID(name string) (string, error) {
	return resource.NewUniqueHex(name, 8, 0)
}
