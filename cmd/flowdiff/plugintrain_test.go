package main

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/internal/plugintest"
	"github.com/flowdiff/flowdiff-go/pipelines"
)

// tinyTrain is the training section of the plugin runs: 16x16 MNIST, models a fraction of
// testdata/quick.yaml's, a few dozen joint steps. It checks the machinery, not the quality.
const tinyTrain = `train:
  batch: 8
  steps: %STEPS%
  checkpoint_every: 5
  prior_warmup: 10
  warmup: 5
  posterior_samples: 2
  flow: {levels: 2, steps: 1, hidden: 8, cond_hidden: 4}
  unet: {channels: 4, multipliers: [1, 2], time_embed: 16}
`

// pluginPipeline writes a pipeline into a new folder next to a plugins folder "plugins" that
// links the plugin folders, and returns its path. body holds the corruption (and any other
// sections but train); steps sets train.steps.
func pluginPipeline(t *testing.T, plugins []string, body string, steps int) string {
	t.Helper()
	work := t.TempDir()
	dir := filepath.Join(work, "plugins")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range plugins {
		if err := os.Symlink(p, filepath.Join(dir, filepath.Base(p))); err != nil {
			t.Fatal(err)
		}
	}
	y := "version: 1\nname: plugtrain\nseed: 3\nplugins_dir: plugins\ndata: {source: mnist, train: 64, test: 8, size: 16}\n" +
		body + strings.ReplaceAll(tinyTrain, "%STEPS%", strconv.Itoa(steps)) + "report: {grid: 4}\n"
	p := filepath.Join(work, "p.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTrainWithPluginOperators trains through `flowdiff run` with the microscopy and the
// cryo-EM example operators out of process (gradient injection, docs/training.md), then
// restores 4 test observations by DPS through the same plugin operator: the run must finish
// with metrics.json (psnr.dps included), and every loss of every step must be finite.
func TestTrainWithPluginOperators(t *testing.T) {
	if testing.Short() {
		t.Skip("trains twice for a few seconds")
	}
	cases := []struct {
		name    string
		plugins []string
		body    string
	}{
		{"microscopy", []string{plugintest.Folder(t, "micro")}, `corruption:
  - op: micro.widefield
    psf: gaussian
    sigma_px: 1.0
    radius: 3
  - op: micro.poisson_gaussian
    photons: 300
evaluate: {metrics: [metric.psnr]}
`},
		{"cryo-em", []string{plugintest.Folder(t, "cryoem")}, `corruption:
  - op: cryoem.ctf
    defocus_um: 1.0
    pixel_a: 2.0
  - op: noise.gaussian
    sigma: 0.05
evaluate: {metrics: [metric.psnr]}
`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			const steps = 12
			// DPS through the plugin operator too (gradient injection of the residual norm).
			dps := "sample: {prior: {n: 0}, dps: {images: 4, steps: 5, zeta: 1}}\n"
			p := pluginPipeline(t, c.plugins, c.body+dps, steps)
			out := filepath.Join(t.TempDir(), "run")
			code, _, errOut := runCLI(t, "run", p, "--out", out)
			if code != exitOK {
				t.Fatalf("run: code %d\n%s", code, errOut)
			}
			if log, _ := os.ReadFile(filepath.Join(out, pipelines.LogFileName)); !strings.Contains(string(log), "gradient injection") {
				t.Errorf("run.log does not say the data term was trained by gradient injection through the plugin")
			}
			m := readMetrics(t, out)
			for _, k := range []string{"psnr.input", "psnr.posterior_mean", "psnr.dps"} {
				if v, ok := m.Metrics[k]; !ok || math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("metrics.json: %s = %v (present %v)", k, v, ok)
				}
			}
			rows := finiteCurve(t, out)
			if rows["joint"] != steps {
				t.Errorf("losses.csv has %d joint rows, want %d", rows["joint"], steps)
			}
		})
	}
}

// TestPythonPriorAndMetric uses the Python example's parts where built-ins stand: its
// total-variation prior in train.priors and its MAE metric in evaluate.metrics. The metric
// must land in metrics.json and in report.md's table like metric.psnr does.
func TestPythonPriorAndMetric(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a few seconds")
	}
	const steps = 8
	p := pluginPipeline(t, []string{plugintest.PythonFolder(t)}, `corruption:
  - op: blur.gaussian
    size: 5
    sigma: 1
  - op: noise.gaussian
    sigma: 0.1
evaluate: {metrics: [metric.psnr, pyexample.mae]}
`, steps)
	// The prior joins the train section (the template ends with it).
	data, _ := os.ReadFile(p)
	y := strings.Replace(string(data), "train:\n", "train:\n  priors:\n    - {op: pyexample.tv, weight: 0.05}\n", 1)
	os.WriteFile(p, []byte(y), 0o644)
	out := filepath.Join(t.TempDir(), "run")
	code, _, errOut := runCLI(t, "run", p, "--out", out)
	if code != exitOK {
		t.Fatalf("run: code %d\n%s", code, errOut)
	}
	m := readMetrics(t, out)
	for _, est := range []string{"input", "posterior_mean"} {
		v, ok := m.Metrics["pyexample.mae."+est]
		// Images lie in [0,1]; an MAE of 0 would mean a perfect restoration of a noisy blur.
		if !ok || !(v > 0 && v < 1) {
			t.Errorf("metrics.json: pyexample.mae.%s = %v (present %v): %v", est, v, ok, m.Metrics)
		}
		if m.Count["pyexample.mae."+est] != 8 {
			t.Errorf("pyexample.mae.%s over %d images, want 8", est, m.Count["pyexample.mae."+est])
		}
	}
	report, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The plugin's MAE states lower is better, and the report's column says so.
	if !strings.Contains(string(report), "| estimate | psnr ↑ | pyexample.mae ↓ |") {
		t.Errorf("report.md's metric table lacks the plugin metric's column (with its direction):\n%s", report)
	}
	rows := finiteCurve(t, out)
	if rows["joint"] != steps || rows["extra_prior>0"] != steps {
		t.Errorf("losses.csv: %d joint rows, %d with a positive extra_prior; want %d each", rows["joint"], rows["extra_prior>0"], steps)
	}
}

func readMetrics(t *testing.T, dir string) pipelines.MetricsFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, pipelines.MetricsFileName))
	if err != nil {
		t.Fatalf("no metrics.json: %v", err)
	}
	var m pipelines.MetricsFile
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// finiteCurve checks that every number in the run's train/losses.csv is finite and returns
// the number of rows per phase, and under "extra_prior>0" the rows with a positive
// extra_prior.
func finiteCurve(t *testing.T, dir string) map[string]int {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "train", "losses.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) < 2 {
		t.Fatalf("losses.csv: %v (%d rows)", err, len(recs))
	}
	count := map[string]int{}
	for i, r := range recs[1:] {
		count[r[0]]++
		for j := 1; j < len(r); j++ {
			v, err := strconv.ParseFloat(r[j], 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("losses.csv row %d, %s = %q: not a finite number", i+1, recs[0][j], r[j])
			}
			if recs[0][j] == "extra_prior" && v > 0 {
				count["extra_prior>0"]++
			}
		}
	}
	return count
}
