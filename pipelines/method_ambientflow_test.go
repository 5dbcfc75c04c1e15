package pipelines

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAmbientFlowRuns runs method: ambientflow end to end at toy size (MNIST, sigma 0.2 alone
// and after a Gaussian blur, tiny flows, 4 steps): the flow's posterior mean is scored as the amortized estimate, the Glow's
// prior samples are written, and no DPS restorations are drawn (the method has none).
func TestAmbientFlowRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two tiny flows")
	}
	for _, corruption := range []string{gaussianItem, "  - op: blur.gaussian\n" + gaussianItem} {
		t.Run(strings.Fields(corruption)[2], func(t *testing.T) { ambientFlowRun(t, corruption) })
	}
}

func ambientFlowRun(t *testing.T, corruption string) {
	text := `version: 1
name: af
seed: 2
method: ambientflow
data: {source: mnist, train: 16, test: 4}
corruption:
` + corruption + `train:
  batch: 4
  steps: 4
  checkpoint_every: 2
  posterior_samples: 2
  flow: {levels: 2, steps: 1, hidden: 8, cond_hidden: 4}
  ambientflow: {samples: 2, prior: {levels: 2, steps: 1, hidden: 8}}
sample:
  prior: {n: 2, sampler: ddim, steps: 3}
  dps: {images: 2, steps: 3, zeta: 2}
evaluate: {metrics: [metric.psnr]}
report: {grid: 2}
`
	p, err := Parse("af.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := Execute(context.Background(), p, Options{Out: dir}); err != nil {
		t.Fatal(err)
	}
	m := readMetrics(t, dir)
	for _, k := range []string{"psnr.posterior_mean", "psnr.input"} {
		if _, ok := m.Metrics[k]; !ok {
			t.Errorf("metrics.json lacks %s", k)
		}
	}
	if _, ok := m.Metrics["psnr.dps"]; ok {
		t.Error("metrics.json has psnr.dps, but AmbientFlow has no DPS")
	}
	for f, want := range map[string]bool{"train/posterior_std.npy": true, "train/losses.csv": true, "train/losses.png": true, "sample/prior.npy": true, "sample/dps.npy": false} {
		if _, err := os.Stat(filepath.Join(dir, f)); (err == nil) != want {
			t.Errorf("%s present: %v, want %v", f, err == nil, want)
		}
	}
	rep, _ := os.ReadFile(filepath.Join(dir, ReportMarkdown))
	if !strings.Contains(string(rep), "AmbientFlow posterior mean") {
		t.Error("report does not name AmbientFlow's estimate")
	}
}
