package pipelines

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// TestBM3DMethodRestores runs method: bm3d from a pipeline that differs from a FlowDiff one in
// that field alone (MNIST, noise.gaussian sigma 0.2, a train and a sample section): BM3D's
// estimate is scored as posterior_mean and beats the observations' PSNR (sigma 0.2 on [0,1]
// is 14 dB; BM3D gains several dB on digits, so 2 dB is a wide margin), and the sample stage
// draws neither prior samples nor DPS restorations, since BM3D has no prior.
func TestBM3DMethodRestores(t *testing.T) {
	text := `version: 1
name: bm3d
seed: 3
method: bm3d
data: {source: mnist, train: 8, test: 12}
corruption:
  - op: noise.gaussian
    sigma: 0.2
train:
  batch: 8
  steps: 4
  unet: {channels: 4, multipliers: [1, 2], time_embed: 16}
sample:
  prior: {n: 2, sampler: ddim, steps: 3}
  dps: {images: 2, steps: 3, zeta: 2}
evaluate: {metrics: [metric.psnr, metric.ssim]}
report: {grid: 2}
`
	p, err := Parse("bm3d.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := Execute(context.Background(), p, Options{Out: dir}); err != nil {
		t.Fatal(err)
	}
	m := readMetrics(t, dir)
	in, okIn := m.Metrics["psnr.input"]
	est, okEst := m.Metrics["psnr.posterior_mean"]
	if !okIn || !okEst {
		t.Fatalf("metrics.json lacks psnr.input or psnr.posterior_mean: %v", m.Metrics)
	}
	t.Logf("PSNR: observations %.2f dB, BM3D %.2f dB (SSIM %.3f -> %.3f)", in, est, m.Metrics["ssim.input"], m.Metrics["ssim.posterior_mean"])
	if est < in+2 {
		t.Errorf("BM3D's PSNR %.2f dB does not beat the observations' %.2f dB by 2 dB", est, in)
	}
	for _, k := range []string{"psnr.dps", "fid_mnist_classifier.prior"} {
		if _, ok := m.Metrics[k]; ok {
			t.Errorf("metrics.json has %s, but BM3D has no prior", k)
		}
	}
	for _, f := range []string{"prior.npy", "dps.npy"} {
		if _, err := os.Stat(filepath.Join(dir, sampleDir, f)); err == nil {
			t.Errorf("sample/%s written for a method without a prior", f)
		}
	}
	rep, err := os.ReadFile(filepath.Join(dir, ReportMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rep), "BM3D estimate") {
		t.Error("report does not name BM3D's estimate")
	}
	// flowdiff sample refuses it with the reason.
	if _, err := (bm3dMethod{}).Prior(nil, p, "", 1, nil); err == nil || !strings.Contains(err.Error(), "no prior") {
		t.Errorf("bm3d's prior: err = %v", err)
	}
}

// TestBM3DRefusesUnestimatedSigma checks the train stage's guard: a sigma written auto that
// no data stage estimated is refused with the field's path, before any noise model is built.
func TestBM3DRefusesUnestimatedSigma(t *testing.T) {
	p, err := Parse("p.yaml", []byte(methodPipeline("  - op: noise.gaussian\n    sigma: auto\n", "method: bm3d\n")))
	if err != nil {
		t.Fatal(err)
	}
	r := &Run{P: p, Data: &StageData{TestObs: batch.New(2, 28, 28, 1)}}
	err = (bm3dMethod{}).Train(context.Background(), r)
	if err == nil || !strings.Contains(err.Error(), "corruption[0].sigma is auto and was not estimated") {
		t.Errorf("bm3d with an unestimated sigma: err = %v", err)
	}
}
