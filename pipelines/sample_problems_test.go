package pipelines

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const problemsPipeline = `version: 1
name: problems
seed: 3
data: {source: mnist, train: 16, test: 4}
corruption: [{op: noise.gaussian, sigma: 0.2}]
train:
  batch: 4
  steps: 2
  warmup: 1
  prior_warmup: 1
  posterior_samples: 2
  flow: {levels: 2, steps: 1, hidden: 8, cond_hidden: 4}
  unet: {channels: 4, multipliers: [1, 2], time_embed: 16}
sample:
  prior: {n: 0}
  dps: {images: 3, steps: 2}
  problems:
    - name: noisy
      corruption: [{op: noise.gaussian, sigma: 0.5}]
    - name: masked
      corruption: [{op: mask.random, fraction: 0.5}, {op: noise.gaussian, sigma: 0.01}]
      zeta: 0.5
evaluate: {metrics: [metric.psnr]}
`

// TestProblemsScoredAndResumed runs sample.problems end to end on MNIST at toy size: each
// problem's observations and DPS restorations are scored (psnr.input.<name>, psnr.dps.<name>,
// over dps.images images), their input PSNR follows the noise (sigma 0.5 alone: about
// -20 log10 0.5 = 6.0 dB, tolerance 0.5 dB over 3 images, no clipping), and a resumed run that
// evaluates again reads the same restorations and redraws the same observations: equal figures.
func TestProblemsScoredAndResumed(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 2 steps and samples")
	}
	p, err := Parse("problems.yaml", []byte(problemsPipeline))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := Execute(context.Background(), p, Options{Out: dir}); err != nil {
		t.Fatal(err)
	}
	first := readMetrics(t, dir)
	keys := []string{"psnr.input.noisy", "psnr.dps.noisy", "psnr.input.masked", "psnr.dps.masked"}
	for _, k := range keys {
		if _, ok := first.Metrics[k]; !ok || first.Count[k] != 3 {
			t.Errorf("%s: present %v over %d images, want 3", k, ok, first.Count[k])
		}
	}
	if v := first.Metrics["psnr.input.noisy"]; v < 5.5 || v > 6.5 {
		t.Errorf("psnr.input.noisy %.2f dB, want about 6.0", v)
	}
	for _, f := range []string{"dps_noisy.npy", "dps_masked.png"} {
		if _, err := os.Stat(filepath.Join(dir, sampleDir, f)); err != nil {
			t.Error(err)
		}
	}

	// Evaluate again after a restart, from scratch: sample is restored, not run.
	for _, f := range []string{MetricsFileName, MetricsFileName + ".sha256"} {
		os.Remove(filepath.Join(dir, f))
	}
	statePath := filepath.Join(dir, StateFileName)
	var st map[string]any
	data, _ := os.ReadFile(statePath)
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	delete(st["stages"].(map[string]any), "evaluate")
	data, _ = json.Marshal(st)
	if err := os.WriteFile(statePath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Execute(context.Background(), nil, Options{Out: dir, Resume: true}); err != nil {
		t.Fatal(err)
	}
	again := readMetrics(t, dir)
	for _, k := range keys {
		if _, ok := again.Metrics[k]; !ok {
			t.Errorf("%s missing after resume", k)
		} else if again.Metrics[k] != first.Metrics[k] {
			t.Errorf("%s after resume %v, before %v", k, again.Metrics[k], first.Metrics[k])
		}
	}

	// `flowdiff sample --sampler dps --problem masked` on the finished run draws the run's own
	// observations of the problem and, with the run's seed stream and settings, the same
	// restorations: the same figures (to float rounding of the mean).
	res, err := SampleFromRun(context.Background(), SampleRequest{RunDir: dir, Sampler: "dps", Problem: "masked",
		Out: filepath.Join(t.TempDir(), "masked")})
	if err != nil {
		t.Fatal(err)
	}
	for est, key := range map[string]string{"psnr.input": "psnr.input.masked", "psnr.dps": "psnr.dps.masked"} {
		if got, want := res.Scores[est], first.Metrics[key]; math.Abs(got-want) > 1e-9 {
			t.Errorf("sample --problem masked: %s = %v, the run's %s = %v", est, got, key, want)
		}
	}
	_, err = SampleFromRun(context.Background(), SampleRequest{RunDir: dir, Sampler: "dps", Problem: "deblur"})
	if err == nil || !strings.Contains(err.Error(), "noisy, masked") {
		t.Errorf("an unknown problem: err = %v, want one listing the run's problems", err)
	}
}
