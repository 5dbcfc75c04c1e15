// Package backend chooses and starts the GoMLX backend that runs the models.
//
// Two backends exist in GoMLX v0.26.0:
//   - "go" (SimpleGo): pure Go, always available, the default. Its gaps (slow ConvGeneral,
//     missing gradients, slow DotGeneral gradients) are worked around by core/nn.
//   - "xla" (OpenXLA through a PJRT plugin): "xla:cpu", "xla:cuda". It needs a PJRT plugin
//     library (pjrt_c_api_<name>_plugin.so) on disk. FlowDiff-Go never downloads one: GoMLX's
//     auto-installer is disabled, and a missing plugin fails at once with an install hint.
//
// The choice comes from, in order: the --backend flag, the pipeline's `backend:` field, the
// GOMLX_BACKEND environment variable, and finally "go".
package backend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // registers "go"
	"github.com/gomlx/gomlx/backends/xla"

	"github.com/flowdiff/flowdiff-go/core/nn"
)

// Default is the backend used when nothing else chooses one.
const Default = "go"

// EnvVar is GoMLX's own variable for the backend configuration.
const EnvVar = backends.ConfigEnvVar

// StartTimeout bounds how long starting a backend may take before New gives up: a PJRT
// plugin that hangs while loading must not hang the command.
const StartTimeout = 60 * time.Second

func init() {
	// Never reach out to the internet for PJRT plugins; see the package doc.
	xla.EnableAutoInstall(false)
}

// Choice is a resolved backend configuration and where it came from.
type Choice struct {
	Config string // e.g. "go", "xla:cpu", "xla:cuda"
	Source string // "flag", "pipeline", "env", "default"
}

// Resolve applies the precedence flag > pipeline > $GOMLX_BACKEND > Default.
func Resolve(flag, pipeline string) Choice {
	switch {
	case flag != "":
		return Choice{flag, "flag"}
	case pipeline != "":
		return Choice{pipeline, "pipeline"}
	case os.Getenv(EnvVar) != "":
		return Choice{os.Getenv(EnvVar), "env"}
	}
	return Choice{Default, "default"}
}

// Known lists the accepted configurations, for validation messages.
var Known = []string{"go", "xla", "xla:cpu", "xla:cuda"}

// Validate checks the syntax of a configuration without starting it.
func Validate(config string) error {
	name, _, _ := strings.Cut(config, ":")
	switch name {
	case "go", "xla":
		return nil
	}
	return fmt.Errorf("unknown backend %q: use one of %s", config, strings.Join(Known, ", "))
}

// goDefaultConfig is how a plain "go" starts SimpleGo (nn.PortableBackendConfig, which says
// why): independent ops run at the same time in an unbounded goroutine pool. GoMLX's default,
// a pool of 2·NumCPU, hung on FlowDiff's training graphs here (process idle, every goroutine
// waiting in simplego.(*Executable).executeParallel; GoMLX v0.26.0, 2 cores): ops that split
// their work wait for a slot while holding one. "go:ops_sequential" runs the ops one after the
// other (the setting before 2026-12-03, slower); an explicit "go:ops_parallel" without
// parallelism gets GoMLX's bounded pool and may hang.
const goDefaultConfig = nn.PortableBackendConfig

// ErrNoPlugin is wrapped by New when an XLA backend is asked for but no PJRT plugin is
// installed.
var ErrNoPlugin = errors.New("no PJRT plugin installed")

// New starts the backend for c. An XLA configuration whose plugin is missing fails within
// milliseconds with an install hint; any start is bounded by StartTimeout.
func New(ctx context.Context, c Choice) (backends.Backend, error) {
	if err := Validate(c.Config); err != nil {
		return nil, fmt.Errorf("backend from %s: %w", c.Source, err)
	}
	name, plugin, _ := strings.Cut(c.Config, ":")
	if name == "xla" {
		if err := checkPlugin(plugin); err != nil {
			return nil, fmt.Errorf("backend %q (from %s): %w", c.Config, c.Source, err)
		}
	}
	config := c.Config
	if config == "go" {
		config = goDefaultConfig
	}
	type result struct {
		b   backends.Backend
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{nil, fmt.Errorf("backend %q panicked while starting: %v", c.Config, r)}
			}
		}()
		var b backends.Backend
		err := quietStdout(func() error {
			var err error
			b, err = backends.NewWithConfig(config)
			return err
		})
		done <- result{b, err}
	}()
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("start backend %q (from %s): %w", c.Config, c.Source, r.err)
		}
		return r.b, nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("start backend %q (from %s): gave up after %s: %w", c.Config, c.Source, StartTimeout, ctx.Err())
		}
		return nil, fmt.Errorf("start backend %q: %w", c.Config, ctx.Err())
	}
}

// checkPlugin looks for the PJRT plugin library on disk without loading anything.
func checkPlugin(plugin string) error {
	if strings.HasPrefix(plugin, "/") {
		if _, err := os.Stat(strings.Split(plugin, ",")[0]); err != nil {
			return fmt.Errorf("%w: %v", ErrNoPlugin, err)
		}
		return nil
	}
	available := xla.GetAvailablePlugins()
	want := strings.Split(plugin, ",")[0]
	for _, p := range available {
		if want == "" || p == want {
			return nil
		}
	}
	if want == "" {
		want = "cpu or cuda"
	}
	return fmt.Errorf("%w for %q (found: %v).\n%s", ErrNoPlugin, want, available, InstallHint)
}

// InstallHint tells a user how to get a PJRT plugin onto a machine.
const InstallHint = `To use XLA, install a PJRT plugin and point FlowDiff-Go at it:
  - CUDA: pip install jax-cuda13-pjrt (or jax-cuda12-pjrt), then
      export PJRT_PLUGIN_LIBRARY_PATH=$(python3 -c 'import jax_plugins.xla_cuda13 as p, os; print(os.path.dirname(p.__file__))')
  - CPU or CUDA with internet access: go run github.com/gomlx/go-xla/cmd/pjrt_installer@latest
    (installs into /usr/local/lib/go-xla or ~/.local/lib/go-xla)
  - or pass the plugin's absolute path: --backend xla:/path/to/pjrt_c_api_cuda_plugin.so
Plugins are named pjrt_c_api_<name>_plugin.so. Without one, use --backend go (the pure-Go default).`

// quietStdout runs fn with os.Stdout on the null device: SimpleGo prints its parallelism
// setting to standard output when it starts, which would mix into a command's output (a
// path that scripts read, a CSV). The backend starts before anything else writes there.
func quietStdout(fn func() error) error {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return fn()
	}
	defer null.Close()
	saved := os.Stdout
	os.Stdout = null
	defer func() { os.Stdout = saved }()
	return fn()
}
