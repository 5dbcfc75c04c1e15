// Package host finds, verifies, starts and talks to FlowDiff plugins, and adds their parts to
// the registry, where pipelines and the CLI see them exactly like built-ins.
//
// Discovery. A plugins folder holds one sub-folder per plugin, each with a plugin.yaml
// manifest (Manifest); a folder that itself holds plugin.yaml is one plugin. Folders come
// from --plugins-dir, the pipeline's plugins_dir: and $FLOWDIFF_PLUGINS (a list separated by
// the OS path separator). Loading reads manifests only: the registry learns IDs, kinds,
// summaries and parameter docs from them, without starting anything.
//
// Trust. Before launch the sha256 of the command and of every listed file must match the
// manifest (a mismatch names the expected and actual sums and how to re-seal); go-plugin's
// SecureConfig checks the command again at launch. A plugin runs with its own folder as its
// working folder, and the protocol carries tensors and parameters only, no paths.
//
// Life. A plugin's process starts on first use (the first part built from it), serves every
// part of the plugin, and is killed by Cleanup (plugin.CleanupClients) at exit. Each call has
// a deadline (the caller's, else the manifest's timeout:, else Options.CallTimeout, default
// 2 min). A crash, a timeout or a broken connection stops the process and fails every later
// call with an Error naming the plugin, the operation and the plugin's last stderr lines.
// Answers are checked: shapes as announced, finite values (NaN or Inf is an error).
package host

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/flowdiff/flowdiff-go/registry"
)

// EnvPlugins names plugin folders, separated by os.PathListSeparator.
const EnvPlugins = "FLOWDIFF_PLUGINS"

// Options tune a Host; the zero value means the documented defaults.
type Options struct {
	CallTimeout  time.Duration // per call; default DefaultCallTimeout
	StartTimeout time.Duration // launch to handshake; default DefaultStartTimeout
	Log          *slog.Logger  // default slog.Default()
}

func (o Options) callTimeout() time.Duration {
	if o.CallTimeout > 0 {
		return o.CallTimeout
	}
	return DefaultCallTimeout
}

func (o Options) startTimeout() time.Duration {
	if o.StartTimeout > 0 {
		return o.StartTimeout
	}
	return DefaultStartTimeout
}

func (o Options) logger() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.Default()
}

// Host holds the plugins loaded into one registry.
type Host struct {
	Reg  *registry.Registry
	opts Options

	mu      sync.Mutex
	dirs    map[string]bool    // plugins folders loaded (absolute)
	plugins map[string]*Plugin // by name
	broken  []Broken
}

// Broken is a plugin folder that could not be loaded, and why.
type Broken struct {
	Dir string
	Err error
}

// New returns a host that adds plugin parts to reg.
func New(reg *registry.Registry, opts Options) *Host {
	return &Host{Reg: reg, opts: opts, dirs: map[string]bool{}, plugins: map[string]*Plugin{}}
}

// Default is the host of registry.Default, used by the CLI and pipelines.
var Default = New(registry.Default, Options{})

// SetOptions replaces the options of plugins loaded from now on.
func (h *Host) SetOptions(o Options) {
	h.mu.Lock()
	h.opts = o
	h.mu.Unlock()
}

// LoadEnv loads the folders named by $FLOWDIFF_PLUGINS.
func (h *Host) LoadEnv() error {
	var errs []error
	for _, d := range filepath.SplitList(os.Getenv(EnvPlugins)) {
		if d != "" {
			errs = append(errs, h.LoadDir(d))
		}
	}
	return errors.Join(errs...)
}

// LoadDir loads every plugin in dir (idempotent per folder) and registers their parts. A
// plugin whose manifest is invalid, or whose IDs clash, is recorded as Broken and reported in
// the returned error; the others are loaded.
func (h *Host) LoadDir(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("plugins folder %s: %w", dir, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dirs[abs] {
		return nil
	}
	st, err := os.Stat(abs)
	if err != nil || !st.IsDir() {
		return fmt.Errorf("plugins folder %s does not exist or is not a folder", dir)
	}
	h.dirs[abs] = true
	var folders []string
	if _, err := os.Stat(filepath.Join(abs, ManifestFile)); err == nil {
		folders = []string{abs}
	} else {
		entries, err := os.ReadDir(abs)
		if err != nil {
			return fmt.Errorf("plugins folder %s: %w", dir, err)
		}
		for _, e := range entries {
			// os.Stat follows symbolic links, so a plugins folder may link to plugin folders.
			if _, err := os.Stat(filepath.Join(abs, e.Name(), ManifestFile)); err == nil {
				folders = append(folders, filepath.Join(abs, e.Name()))
			}
		}
	}
	var errs []error
	for _, f := range folders {
		if err := h.load(f); err != nil {
			h.broken = append(h.broken, Broken{Dir: f, Err: err})
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// load reads one plugin folder and registers its parts (h.mu held).
func (h *Host) load(dir string) error {
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	if old, dup := h.plugins[m.Name]; dup {
		return fmt.Errorf("plugin %s in %s: a plugin of that name is already loaded from %s", m.Name, dir, old.Dir)
	}
	if len(m.Provides) == 0 {
		return fmt.Errorf("plugin %s: manifest is not sealed (no provides): run `flowdiff plugins seal %s`", m.Name, dir)
	}
	p := &Plugin{Dir: dir, Manifest: m, opts: h.opts, stderr: newRing(StderrLines)}
	var added []string
	for _, part := range m.Provides {
		e, err := entry(p, part)
		if err == nil {
			err = h.Reg.Add(e)
		}
		if err != nil {
			for _, id := range added {
				h.Reg.Remove(id)
			}
			return fmt.Errorf("plugin %s (%s): %w", m.Name, dir, err)
		}
		added = append(added, part.ID)
	}
	h.plugins[m.Name] = p
	return nil
}

// Plugins returns the loaded plugins sorted by name.
func (h *Host) Plugins() []*Plugin {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*Plugin, 0, len(h.plugins))
	for _, p := range h.plugins {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Broken returns the folders that failed to load.
func (h *Host) Broken() []Broken {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Broken(nil), h.broken...)
}

// PluginOf returns the loaded plugin that provides id.
func (h *Host) PluginOf(id string) (*Plugin, Part, bool) {
	for _, p := range h.Plugins() {
		for _, part := range p.Manifest.Provides {
			if part.ID == id {
				return p, part, true
			}
		}
	}
	return nil, Part{}, false
}

// Close stops every process this host started.
func (h *Host) Close() {
	for _, p := range h.Plugins() {
		p.Stop()
	}
}

// Reset stops every process, removes the plugins' parts from the registry and forgets the
// loaded folders, as if the program had just started (the CLI calls it when a command ends).
func (h *Host) Reset() {
	h.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.plugins {
		for _, part := range p.Manifest.Provides {
			h.Reg.Remove(part.ID)
		}
	}
	h.dirs, h.plugins, h.broken = map[string]bool{}, map[string]*Plugin{}, nil
}

// Cleanup kills every plugin process of this program (go-plugin's CleanupClients); the CLI
// calls it at exit.
func Cleanup() { plugin.CleanupClients() }
