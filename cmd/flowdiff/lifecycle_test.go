package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/internal/plugintest"
)

// TestPluginPartLifecycle runs pipelines whose corruption is the faulty example's operator in
// its recording mode and counts, in the plugin's calls.log, how often the part was configured
// and released. A part is built once per run and shared by the corrupt, train and sample
// stages (it was configured once per stage before), and released when the run ends: after a
// finished run, and after a run that fails in training (the VJP fails on its first call).
func TestPluginPartLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a few seconds")
	}
	cases := []struct {
		name     string
		mode     string
		wantCode int
	}{
		{"finished run", "ok", exitOK},
		{"run failing in training", "vjp", exitFailure},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := plugintest.Folder(t, "faulty")
			body := "corruption:\n  - {op: faulty.op, mode: " + c.mode + ", record: true}\n  - {op: noise.gaussian, sigma: 0.1}\n" +
				"sample: {prior: {n: 0}, dps: {images: 2, steps: 3, zeta: 1}}\nevaluate: {metrics: [metric.psnr]}\n"
			p := pluginPipeline(t, []string{dir}, body, 4)
			code, _, errOut := runCLI(t, "run", p, "--out", filepath.Join(t.TempDir(), "run"))
			if code != c.wantCode {
				t.Fatalf("run: code %d, want %d\n%s", code, c.wantCode, errOut)
			}
			data, err := os.ReadFile(filepath.Join(dir, "calls.log"))
			if err != nil {
				t.Fatalf("the plugin recorded nothing: %v", err)
			}
			got := strings.TrimSpace(string(data))
			if want := "configure faulty.op\nrelease faulty.op"; got != want {
				t.Errorf("calls.log:\n%s\nwant exactly one configure, then one release:\n%s", got, want)
			}
		})
	}
}
