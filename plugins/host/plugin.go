package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"

	"github.com/flowdiff/flowdiff-go/plugins/protocol"
)

// Defaults of Options.
const (
	// DefaultCallTimeout bounds one call into a plugin when neither the caller's context, the
	// manifest nor Options set a shorter deadline.
	DefaultCallTimeout = 2 * time.Minute
	// DefaultStartTimeout bounds a plugin's start-up (process launch to handshake).
	DefaultStartTimeout = 20 * time.Second
)

// Plugin is one plugin folder: its manifest and, once started, its process. A Plugin starts
// its process on first use (Start), verifying the checksums first; a process that crashes or
// times out is stopped and the Plugin stays failed, every later call returning the first
// failure.
type Plugin struct {
	Dir      string // absolute plugin folder; the process's working folder
	Manifest *Manifest

	opts   Options
	stderr *ring

	mu     sync.Mutex
	client *plugin.Client
	rpc    *protocol.Client
	gen    uint64 // counts process starts: a handle is valid only in the process that made it
	failed error  // set once the process failed; later calls return it
}

// Name is the manifest's name.
func (p *Plugin) Name() string { return p.Manifest.Name }

// Origin is the registry Origin of the plugin's parts.
func (p *Plugin) Origin() string {
	return fmt.Sprintf("plugin %s %s (%s)", p.Name(), p.Manifest.Version, p.Dir)
}

// Stderr returns the plugin's last stderr lines.
func (p *Plugin) Stderr() []string { return p.stderr.Lines() }

// callTimeout is the per-call deadline: the manifest's, else the options'.
func (p *Plugin) callTimeout() time.Duration {
	if d, err := time.ParseDuration(p.Manifest.Timeout); err == nil && d > 0 {
		return d
	}
	return p.opts.callTimeout()
}

// Start launches the process if it is not running: checksums are verified (by Verify, for a
// clear message, and again by go-plugin's SecureConfig at launch), the handshake negotiates
// protocol version 1, and Describe must agree with the manifest.
func (p *Plugin) Start(ctx context.Context) (*protocol.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed != nil {
		return nil, p.failed
	}
	if p.rpc != nil {
		return p.rpc, nil
	}
	if err := p.Manifest.VerifyFiles(p.Dir); err != nil {
		return nil, err
	}
	sum, _ := hex.DecodeString(p.Manifest.SHA256)
	cmd := exec.Command(filepath.Join(p.Dir, p.Manifest.Command), p.Manifest.Args...)
	cmd.Dir = p.Dir
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  protocol.Handshake,
		VersionedPlugins: protocol.VersionedPlugins(nil),
		Cmd:              cmd,
		SecureConfig:     &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Stderr:           p.stderr,
		SyncStderr:       p.stderr, // what a plugin writes to go-plugin's forwarded os.Stderr
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin." + p.Name(), Level: hclog.Off}),
		GRPCDialOptions:  protocol.DialOptions(),
		StartTimeout:     p.opts.startTimeout(),
		Managed:          true,
	})
	fail := func(what string, err error) (*protocol.Client, error) {
		client.Kill()
		return nil, p.errorf(what, err)
	}
	conn, err := client.Client()
	if err != nil {
		return fail("start", err)
	}
	raw, err := conn.Dispense(protocol.PluginName)
	if err != nil {
		return fail("start", err)
	}
	rpc := raw.(*protocol.Client)
	dctx, cancel := context.WithTimeout(ctx, p.callTimeout())
	defer cancel()
	d, err := rpc.Describe(dctx)
	if err != nil {
		return fail("start", err)
	}
	if err := p.agrees(d); err != nil {
		return fail("start", err)
	}
	p.client, p.rpc = client, rpc
	p.gen++
	p.opts.logger().Debug("plugin started", "plugin", p.Name(), "dir", p.Dir)
	return rpc, nil
}

// agrees checks a plugin's Describe against its manifest.
func (p *Plugin) agrees(d protocol.Description) error {
	if d.Name != p.Manifest.Name {
		return fmt.Errorf("the process calls itself %q, the manifest %q", d.Name, p.Manifest.Name)
	}
	live := partsFromDescription(d)
	byID := map[string]Part{}
	for _, q := range live {
		byID[q.ID] = q
	}
	for _, want := range p.Manifest.Provides {
		got, ok := byID[want.ID]
		switch {
		case !ok:
			return fmt.Errorf("the manifest lists %s but the process does not provide it; run `flowdiff plugins seal %s`", want.ID, p.Dir)
		case got.Kind != want.Kind || got.Linear != want.Linear || !sameParams(got.Params, want.Params):
			return fmt.Errorf("the manifest's entry for %s differs from what the process describes (kind, linearity or parameters); run `flowdiff plugins seal %s`", want.ID, p.Dir)
		}
	}
	return nil
}

func sameParams(a, b []Param) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Describe starts the plugin if needed and returns its live description.
func (p *Plugin) Describe(ctx context.Context) (protocol.Description, error) {
	rpc, err := p.Start(ctx)
	if err != nil {
		return protocol.Description{}, err
	}
	var d protocol.Description
	err = p.call(ctx, "Describe", func(ctx context.Context) (err error) {
		d, err = rpc.Describe(ctx)
		return err
	})
	return d, err
}

// call runs f with the per-call deadline and turns a failure into an Error. A timeout or a
// broken connection stops the process and marks the plugin failed.
func (p *Plugin) call(ctx context.Context, method string, f func(ctx context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, p.callTimeout())
	defer cancel()
	err := f(cctx)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("plugin %s: %s: %w", p.Name(), method, ctx.Err()) // the caller gave up
	}
	var re *protocol.RemoteError
	if errors.As(err, &re) {
		switch re.Code {
		case codes.DeadlineExceeded:
			err = fmt.Errorf("no answer within %s (the per-call timeout: set timeout: in %s or --plugin-timeout); the plugin was stopped",
				p.callTimeout(), filepath.Join(p.Dir, ManifestFile))
			return p.fatal(method, err)
		case codes.Unavailable, codes.Canceled:
			return p.fatal(method, fmt.Errorf("the plugin process exited or closed the connection (%s)", re.Msg))
		case codes.InvalidArgument:
			return &Error{Plugin: p.Name(), Dir: p.Dir, Op: method, Err: errors.New(re.Msg), Refused: true}
		}
		err = errors.New(re.Msg)
	}
	return p.errorf(method, err)
}

// fatal stops the process, remembers err as the plugin's failure and returns it.
func (p *Plugin) fatal(method string, err error) error {
	p.mu.Lock()
	client := p.client
	p.client, p.rpc = nil, nil
	p.mu.Unlock()
	if client != nil {
		client.Kill()
	}
	e := p.errorf(method, err)
	p.mu.Lock()
	if p.failed == nil {
		p.failed = e
	}
	p.mu.Unlock()
	return e
}

// An error waits for the plugin's stderr to fall quiet for stderrQuiet (at most stderrMaxWait)
// before quoting its last lines, so that what the failing call wrote is among them.
const (
	stderrQuiet   = 200 * time.Millisecond
	stderrMaxWait = 2 * time.Second
)

// errorf wraps err with the plugin's name and last stderr lines.
func (p *Plugin) errorf(op string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	var ce *ChecksumError
	if errors.As(err, &ce) {
		return err
	}
	if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
		err = fmt.Errorf("%w (the command changed after verification; run `flowdiff plugins seal %s` if you trust it)", err, p.Dir)
	}
	p.stderr.settle(stderrQuiet, stderrMaxWait)
	return &Error{Plugin: p.Name(), Dir: p.Dir, Op: op, Err: err, Stderr: p.stderr.Lines()}
}

// running returns the client of the running process and its generation, or nil when none runs;
// it never starts one.
func (p *Plugin) running() (*protocol.Client, uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rpc, p.gen
}

// Stop kills the process if it runs; the plugin can be started again.
func (p *Plugin) Stop() {
	p.mu.Lock()
	client := p.client
	p.client, p.rpc = nil, nil
	p.mu.Unlock()
	if client != nil {
		client.Kill()
	}
}

// Error is a failure in or of a plugin: which plugin, which operation, why, and its last
// stderr lines.
type Error struct {
	Plugin string
	Dir    string
	Op     string
	Err    error
	Stderr []string
	// Refused is set when the plugin refused the request itself (its parameters, its shapes:
	// InvalidArgument); the plugin works, the pipeline needs changing.
	Refused bool
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plugin %s (%s): %s: %v", e.Plugin, e.Dir, e.Op, e.Err)
	if len(e.Stderr) > 0 {
		fmt.Fprintf(&b, "\n  last %d stderr line(s) of the plugin:", len(e.Stderr))
		for _, l := range e.Stderr {
			b.WriteString("\n    | " + l)
		}
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }
