package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/internal/plugintest"
)

// TestPluginPartLifecycle runs pipelines whose corruption, extra prior and metric are the
// faulty example's parts in their recording mode and counts, in the plugin's calls.log, how
// often each was configured and released. A part is built once per run and shared by the
// stages that use it (the operator was configured once per stage before; the prior and the
// metric once to check them at the start and again in their stage), and released when the run
// ends: after a finished run, and after a run that fails in training (the VJP fails on its
// first call).
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
			body = strings.Replace(body, "evaluate: {metrics: [metric.psnr]}",
				"evaluate: {metrics: [metric.psnr, {op: faulty.metric, record: true}]}", 1)
			p := pluginPipeline(t, []string{dir}, body, 4)
			src, _ := os.ReadFile(p)
			y := strings.Replace(string(src), "train:\n", "train:\n  priors:\n    - {op: faulty.prior, record: true, weight: 0.1}\n", 1)
			if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
				t.Fatal(err)
			}
			code, _, errOut := runCLI(t, "run", p, "--out", filepath.Join(t.TempDir(), "run"))
			if code != c.wantCode {
				t.Fatalf("run: code %d, want %d\n%s", code, c.wantCode, errOut)
			}
			data, err := os.ReadFile(filepath.Join(dir, "calls.log"))
			if err != nil {
				t.Fatalf("the plugin recorded nothing: %v", err)
			}
			events := map[string][]string{}
			for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				event, id, _ := strings.Cut(line, " ")
				events[id] = append(events[id], event)
			}
			for _, id := range []string{"faulty.op", "faulty.prior", "faulty.metric"} {
				if got := strings.Join(events[id], ","); got != "configure,release" {
					t.Errorf("%s: events %q, want exactly one configure, then one release (calls.log:\n%s)", id, got, data)
				}
			}
		})
	}
}
