package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// methodsPipeline is a tiny MNIST denoising pipeline: every method runs it with method:
// appended and nothing else changed.
const methodsPipeline = `version: 1
name: methods
seed: 5
data: {source: mnist, train: 64, test: 8}
corruption:
  - op: noise.gaussian
    sigma: 0.2
train:
  batch: 8
  steps: 12
  checkpoint_every: 6
  prior_warmup: 4
  warmup: 4
  posterior_samples: 2
  flow: {levels: 2, steps: 1, hidden: 8, cond_hidden: 4}
  unet: {channels: 4, multipliers: [1, 2], time_embed: 16}
sample:
  prior: {n: 4, sampler: ddim, steps: 4}
  dps: {images: 4, steps: 4, zeta: 2}
evaluate: {metrics: [metric.psnr, metric.ssim, metric.fid_mnist_classifier]}
report: {grid: 4}
`

// TestEveryMethodRunsAndTables runs the tiny pipeline once per method through `flowdiff run`
// with only method: changed, checks that each leaves the outputs evaluate and report expect
// (DPS restorations and prior samples for all, the amortized posterior_mean for the methods
// that have one, the machine record) and labels itself in its report (the oracle as using
// clean data), then collects the runs with `flowdiff table` into table.md, table.csv and
// table.html, and samples the Ambient Diffusion run's prior with `flowdiff sample` (its x0
// network samples through its mask). About a minute on 2 cores: the checks are of the
// machinery, the models are untrained.
func TestEveryMethodRunsAndTables(t *testing.T) {
	if testing.Short() {
		t.Skip("trains five tiny models")
	}
	tmp := t.TempDir()
	amortized := map[string]bool{"flowdiff": true, "clean_prior": true, "sure_score": true, "ambient_diffusion": true, "naive": false}
	var dirs []string
	for _, m := range []string{"flowdiff", "naive", "clean_prior", "sure_score", "ambient_diffusion"} {
		p := filepath.Join(tmp, m+".yaml")
		if err := os.WriteFile(p, []byte(methodsPipeline+"method: "+m+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(tmp, "run-"+m)
		code, _, errOut := runCLI(t, "run", p, "--out", dir)
		if code != exitOK {
			t.Fatalf("method %s: exit %d\n%s", m, code, errOut)
		}
		dirs = append(dirs, dir)
		var mf struct {
			Metrics map[string]float64 `json:"metrics"`
		}
		data, _ := os.ReadFile(filepath.Join(dir, "metrics.json"))
		if err := json.Unmarshal(data, &mf); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"psnr.input", "psnr.dps", "ssim.dps", "fid_mnist_classifier.prior"} {
			if _, ok := mf.Metrics[k]; !ok {
				t.Errorf("method %s: metrics.json lacks %s", m, k)
			}
		}
		if _, ok := mf.Metrics["psnr.posterior_mean"]; ok != amortized[m] {
			t.Errorf("method %s: psnr.posterior_mean present %v, want %v", m, ok, amortized[m])
		}
		for _, f := range []string{"train/machine.json", "train/losses.csv", "sample/dps.npy", "sample/prior.npy", "report.html"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("method %s: run folder lacks %s", m, f)
			}
		}
		md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
		if !strings.Contains(string(md), "Method: `"+m+"`") {
			t.Errorf("method %s: report.md does not name the method", m)
		}
		if oracle := strings.Contains(string(md), "trains on the clean images"); oracle != (m == "clean_prior") {
			t.Errorf("method %s: report labels it as using clean data: %v", m, oracle)
		}
	}

	out := filepath.Join(tmp, "table")
	code, _, errOut := runCLI(t, append(append([]string{"table"}, dirs...), "--out", out)...)
	if code != exitOK {
		t.Fatalf("table: exit %d\n%s", code, errOut)
	}
	md, err := os.ReadFile(filepath.Join(out, "table.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Table 1", "Table 2", "Fairness rule", "These runs meet it", "clean_prior (oracle: clean images)",
		"| naive | DPS sample", "SURE-Score denoiser D(y)", "20.73", "restorations.png"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("table.md lacks %q", want)
		}
	}
	f, err := os.Open(filepath.Join(out, "table.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// amortized: the observations and 4 methods; dps: the observations and 5; prior: 5.
	if len(rows) != 1+5+6+5 {
		t.Errorf("table.csv has %d rows, want a header and 16", len(rows))
	}
	h, _ := os.ReadFile(filepath.Join(out, "table.html"))
	if !strings.Contains(string(h), "data:image/png;base64,") || !strings.Contains(string(h), "<td>sure_score</td>") {
		t.Error("table.html lacks the restorations or the table")
	}

	code, stdout, errOut := runCLI(t, "sample", dirs[4], "--sampler", "dps", "--n", "2", "--steps", "3", "--out", filepath.Join(tmp, "amb-dps"))
	if code != exitOK || !strings.Contains(stdout, "psnr.dps") {
		t.Errorf("flowdiff sample on the ambient_diffusion run: exit %d, out %q\n%s", code, stdout, errOut)
	}
}
