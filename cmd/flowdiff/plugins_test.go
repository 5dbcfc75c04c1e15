package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/internal/plugintest"
)

func TestMain(m *testing.M) { os.Exit(plugintest.Main(m)) }

// TestPluginsCheckCLI is `make plugins && flowdiff plugins check` on the three examples,
// with the plugins built by the test.
func TestPluginsCheckCLI(t *testing.T) {
	dirs := []string{plugintest.Folder(t, "micro"), plugintest.Folder(t, "cryoem"), plugintest.PythonFolder(t)}
	var args []string
	for _, d := range dirs {
		args = append(args, "--plugins-dir", d)
	}
	code, out, errOut := runCLI(t, append(args, "plugins", "check")...)
	if code != exitOK || !strings.Contains(out, "all 6 plugin parts passed") {
		t.Errorf("plugins check: code %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, append(args, "ops", "list")...)
	for _, want := range []string{"micro.widefield", "cryoem.ctf", "pyexample.tv", "plugin micro 1.0.0 (" + dirs[0]} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("ops list lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, append(args, "ops", "describe", "micro.widefield")...)
	if code != exitOK || !strings.Contains(out, "wavelength_nm") || !strings.Contains(out, "emission wavelength, nm") {
		t.Errorf("ops describe: code %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, append(args, "plugins", "list")...)
	if code != exitOK || strings.Count(out, " ok ") != 3 {
		t.Errorf("plugins list: code %d\n%s", code, out)
	}
	if code, _, errOut := runCLI(t, append(args, "plugins", "check", "nosuch")...); code != exitUsage {
		t.Errorf("check of an unknown plugin: code %d %s", code, errOut)
	}
	// $FLOWDIFF_PLUGINS names folders too.
	t.Setenv("FLOWDIFF_PLUGINS", dirs[0]+string(os.PathListSeparator)+dirs[1])
	code, out, _ = runCLI(t, "plugins", "list")
	if code != exitOK || !strings.Contains(out, "micro") || !strings.Contains(out, "cryoem") || strings.Contains(out, "pyexample") {
		t.Errorf("plugins list with $FLOWDIFF_PLUGINS: code %d\n%s", code, out)
	}
}

// TestPipelinePluginsDir corrupts MNIST with the cryo-EM CTF (a per-particle defocus) and the
// microscopy noise model, both out of process, named in a pipeline whose plugins_dir is
// relative to the pipeline file; and shows a mistake in a plugin's parameter located like a
// built-in's.
func TestPipelinePluginsDir(t *testing.T) {
	cryo := plugintest.Folder(t, "cryoem")
	micro := plugintest.Folder(t, "micro")
	work := t.TempDir()
	// plugins_dir is the folder holding both plugin folders.
	plugins := filepath.Join(work, "plugins")
	os.MkdirAll(plugins, 0o755)
	os.Symlink(cryo, filepath.Join(plugins, "cryoem"))
	os.Symlink(micro, filepath.Join(plugins, "micro"))
	p := filepath.Join(work, "p.yaml")
	os.WriteFile(p, []byte(`version: 1
name: plug
plugins_dir: plugins
data: {source: mnist, train: 8, test: 4}
corruption:
  - op: cryoem.ctf
    defocus_um: 1.0
    pixel_a: 2.0
  - op: micro.poisson_gaussian
    photons: 500
`), 0o644)
	out := filepath.Join(t.TempDir(), "run")
	if code, _, errOut := runCLI(t, "corrupt", p, "--out", out); code != exitOK {
		t.Fatalf("corrupt: code %d: %s", code, errOut)
	}
	var params int
	filepath.Walk(filepath.Join(out, "corrupted"), func(path string, info os.FileInfo, err error) error {
		if err == nil && strings.Contains(filepath.Base(path), "defocus") {
			params++
		}
		return nil
	})
	if params == 0 {
		t.Errorf("no per-sample defocus stored in %s", out)
	}
	resolved, _ := os.ReadFile(filepath.Join(out, "pipeline.yaml"))
	if !strings.Contains(string(resolved), "plugins_dir: "+plugins) {
		t.Errorf("resolved pipeline does not hold the absolute plugins folder:\n%s", resolved)
	}

	bad := filepath.Join(work, "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nplugins_dir: plugins\ncorruption:\n  - op: cryoem.ctf\n    defocus_um: -1\n"), 0o644)
	code, _, errOut := runCLI(t, "validate", bad)
	if code != exitUsage || !strings.Contains(errOut, "defocus_um") || !strings.Contains(errOut, "line 5") {
		t.Errorf("validate bad plugin parameter: code %d\n%s", code, errOut)
	}
	missing := filepath.Join(work, "missing.yaml")
	os.WriteFile(missing, []byte("version: 1\nplugins_dir: nowhere\n"), 0o644)
	code, _, errOut = runCLI(t, "validate", missing)
	if code != exitUsage || !strings.Contains(errOut, "plugins_dir") || !strings.Contains(errOut, "line 2") {
		t.Errorf("validate missing plugins_dir: code %d\n%s", code, errOut)
	}
}
