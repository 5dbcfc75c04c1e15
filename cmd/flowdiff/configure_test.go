package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowdiff/flowdiff-go/internal/plugintest"
)

// refusedPipeline names micro.widefield with a parameter its plugin refuses (sigma_px with
// psf: airy): every parameter has a valid type and range, only the plugin's cross-field rule
// fails.
const refusedPipeline = `version: 1
name: refused
plugins_dir: %s
data: {source: mnist, train: 16, test: 4}
corruption:
  - op: micro.widefield
    psf: airy
    sigma_px: 1.5
  - noise.gaussian
evaluate: {metrics: [metric.psnr]}
`

// TestValidateConfiguresPluginParts: `flowdiff validate` starts the plugin and reports its
// refusal with the item's path and line (issue 15: it said valid); --offline does not start it
// and says what was not checked; `flowdiff run` fails before its first stage, saying which
// file to edit; after editing RUN/pipeline.yaml, --resume runs.
func TestValidateConfiguresPluginParts(t *testing.T) {
	micro := plugintest.Folder(t, "micro")
	p := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(p, []byte(strings.Replace(refusedPipeline, "%s", filepath.Dir(micro), 1)), 0o644)

	start := time.Now()
	code, out, errOut := runCLI(t, "validate", p)
	t.Logf("validate answered in %v (plugin start included)", time.Since(start).Round(time.Millisecond))
	if code != exitUsage || !strings.Contains(errOut, "corruption[0]: micro.widefield: sigma_px: applies to psf: gaussian only") ||
		!strings.Contains(errOut, "(line 6)") {
		t.Errorf("validate: code %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "validate", "--offline", p)
	if code != exitOK || !strings.Contains(out, "not checked (--offline: plugins not started): corruption[0] (micro.widefield)") {
		t.Errorf("validate --offline: code %d\n%s%s", code, out, errOut)
	}

	dir := filepath.Join(t.TempDir(), "run")
	start = time.Now()
	code, _, errOut = runCLI(t, "run", p, "--out", dir)
	t.Logf("run refused in %v:\n%s", time.Since(start).Round(time.Millisecond), errOut)
	edit := filepath.Join(dir, "pipeline.yaml")
	if code != exitUsage || !strings.Contains(errOut, "sigma_px: applies to psf: gaussian only") ||
		!strings.Contains(errOut, "edit "+edit) || !strings.Contains(errOut, "flowdiff run --resume "+dir) {
		t.Errorf("run: code %d, want %d, naming %s and --resume:\n%s", code, exitUsage, edit, errOut)
	}
	if log, _ := os.ReadFile(filepath.Join(dir, "run.log")); strings.Contains(string(log), "stage started") {
		t.Errorf("a stage started before the parts were checked:\n%s", log)
	}
	resolved, _ := os.ReadFile(edit)
	os.WriteFile(edit, []byte(strings.Replace(string(resolved), "psf: airy", "psf: gaussian", 1)), 0o644)
	if code, _, errOut := runCLI(t, "run", "--resume", dir); code != exitOK {
		t.Errorf("resume after editing %s: code %d\n%s", edit, code, errOut)
	}
}
