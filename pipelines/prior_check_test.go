package pipelines

import (
	"context"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/backend"
)

// priorCheckPipeline trains tiny models for a few steps: enough for a prior to check, not
// for a good one (the values are not judged here, only their plumbing).
const priorCheckPipeline = `version: 1
name: prior-check
seed: 5
data: {source: mnist, train: 32, test: 8}
corruption: [{op: noise.gaussian, sigma: 0.2}]
train:
  steps: 20
  batch: 4
  warmup: 0
  diffusion_lr: 0.01
  checkpoint_every: 20
  posterior_samples: 2
  flow: {levels: 1, steps: 1, hidden: 8, cond_hidden: 4}
  unet: {channels: 4, multipliers: [1, 2], time_embed: 8}
sample:
  prior: {n: 0}
  dps: {images: 0}
  prior_check: {images: 8, sigmas: [0.02, 0.1]}
evaluate: {metrics: [metric.psnr]}
`

// TestPriorCheck runs a pipeline with sample.prior_check and checks that the gains reach
// metrics.json and sample/prior_check.json; that `flowdiff prior-check` on the finished folder
// (CheckRunPrior, same images and noise stream) gives the same values and a table row per run;
// that a resumed evaluation reads the stored results back, and recomputes the same values when
// the file is gone; and that a method without a diffusion prior is refused with a reason.
func TestPriorCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model (about 20 s)")
	}
	ctx := context.Background()
	p, err := Parse("prior-check.yaml", []byte(priorCheckPipeline))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := Execute(ctx, p, Options{Out: dir}); err != nil {
		t.Fatal(err)
	}
	m := readMetrics(t, dir)
	names := []string{"prior_denoise_gain_db.sigma_0.02", "prior_denoise_gain_db.sigma_0.1"}
	for _, n := range names {
		v, ok := m.Metrics[n]
		if !ok || math.IsNaN(v) {
			t.Fatalf("metrics.json lacks %s (metrics: %v)", n, m.Metrics)
		}
		if m.Count[n] != 8 {
			t.Errorf("%s over %d images, want 8", n, m.Count[n])
		}
	}
	// The evaluate stage's digit share (metrics.DigitShare) on 28x28 sets, clean images included.
	for _, n := range []string{"digit_share_mnist_classifier.clean", "digit_share_mnist_classifier.input", "digit_share_mnist_classifier.posterior_mean"} {
		if v, ok := m.Metrics[n]; !ok || v < 0 || v > 1 || m.Count[n] != 8 {
			t.Errorf("%s = %v (present %v, n %d), want a share of 8 images", n, v, ok, m.Count[n])
		}
	}
	if !m.HigherIsBetter["prior_denoise_gain_db"] {
		t.Error("prior_denoise_gain_db is not marked higher-is-better")
	}
	if _, err := os.Stat(filepath.Join(dir, sampleDir, priorCheckFile)); err != nil {
		t.Fatal(err)
	}

	row, err := CheckRunPrior(ctx, dir, "go", 8, []float64{0.02, 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if row.Step != 20 || row.Method != "flowdiff" || row.CleanData || len(row.Checks) != 2 {
		t.Errorf("row %+v, want step 20, method flowdiff, not clean data, 2 checks", row)
	}
	for i, n := range names {
		if got, want := row.Checks[i].GainDB, m.Metrics[n]; math.Abs(got-want) > 1e-9 || math.Abs(got) < 1e-4 {
			t.Errorf("prior-check %s = %v, the run recorded %v (want equal, and not 0: the zero-initialized output layer must have trained)", n, got, want)
		}
	}
	var b strings.Builder
	if err := WritePriorChecks(&b, []*PriorCheckRow{row, row}, "go"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(b.String(), "| run | method |"); got != 1 || strings.Count(b.String(), "| run | flowdiff | observations | 4 ch x [1 2], patch 2 | 20 | ") != 2 {
		t.Errorf("table:\n%s", b.String())
	}

	// Resume: the stored results are read back; without the file the check runs again.
	for _, remove := range []bool{false, true} {
		if remove {
			if err := os.Remove(filepath.Join(dir, sampleDir, priorCheckFile)); err != nil {
				t.Fatal(err)
			}
		}
		r := &Run{Dir: dir, P: p, Log: slog.New(slog.DiscardHandler), Data: &StageData{}}
		if err := runData(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := restorePriorCheck(ctx, r, func() (*priorSampler, error) {
			if !remove {
				t.Error("the check ran again although its results were stored")
			}
			be, err := backend.New(ctx, backend.Resolve("go", ""))
			if err != nil {
				return nil, err
			}
			return methodPrior(be, p, r.Path(trainDir), 4, r.Log)
		}); err != nil {
			t.Fatal(err)
		}
		if len(r.Data.PriorChecks) != 2 || math.Abs(r.Data.PriorChecks[1].GainDB-m.Metrics[names[1]]) > 1e-9 {
			t.Errorf("restored (file removed: %v): %+v, want the recorded gains", remove, r.Data.PriorChecks)
		}
	}

	bm, err := Parse("bm3d.yaml", []byte(strings.Replace(priorCheckPipeline, "name: prior-check", "name: prior-check\nmethod: bm3d", 1)))
	if err != nil {
		t.Fatal(err)
	}
	bdir := filepath.Join(t.TempDir(), "bm3d")
	if _, err := Execute(ctx, bm, Options{Out: bdir}); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckRunPrior(ctx, bdir, "go", 8, []float64{0.1}); err == nil || !strings.Contains(err.Error(), "no diffusion prior") {
		t.Errorf("bm3d run: err %v, want one saying it has no diffusion prior", err)
	}
}
