package pipelines

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTableOfMethodsWithoutDPS runs bm3d and ambientflow on the same observations (the same
// pipeline with method: changed, ambientflow's own section added) and tables them: each has
// its amortized row under its own name, neither has a DPS row (the DPS table is absent), and
// the table says why.
func TestTableOfMethodsWithoutDPS(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two tiny flows")
	}
	base := `version: 1
name: tbl
seed: 4
data: {source: mnist, train: 16, test: 4}
corruption:
  - op: noise.gaussian
    sigma: 0.2
sample:
  prior: {n: 2, sampler: ddim, steps: 3}
  dps: {images: 2, steps: 3, zeta: 2}
evaluate: {metrics: [metric.psnr, metric.ssim]}
`
	train := map[string]string{
		"bm3d": "train: {batch: 4, steps: 4, checkpoint_every: 2, posterior_samples: 2, flow: {levels: 2, steps: 1, hidden: 8, cond_hidden: 4}}\n",
		"ambientflow": "train: {batch: 4, steps: 4, checkpoint_every: 2, posterior_samples: 2, flow: {levels: 2, steps: 1, hidden: 8, cond_hidden: 4}, " +
			"ambientflow: {prior: {levels: 2, steps: 1, hidden: 8}}}\n",
	}
	md := tableOf(t, methodRuns(t, func(m string) string { return base + train[m] }, "bm3d", "ambientflow"))
	for _, want := range []string{"| bm3d | BM3D estimate |", "| ambientflow | AmbientFlow posterior mean |", "BM3D's estimate, AmbientFlow's posterior mean"} {
		if !strings.Contains(md, want) {
			t.Errorf("table.md lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "DPS sample") {
		t.Errorf("table.md has a DPS row for a method without DPS:\n%s", md)
	}
}

// tinyMethodBase is a pipeline that trains in about a second: MNIST, 16 training and 4 test
// images, sigma 0.2, 4 steps of tiny networks, every sample-stage output.
const tinyMethodBase = `version: 1
name: tbl
seed: 4
data: {source: mnist, train: 16, test: 4}
corruption:
  - op: noise.gaussian
    sigma: 0.2
train: {batch: 4, steps: 4, checkpoint_every: 2, posterior_samples: 2, flow: {levels: 2, steps: 1, hidden: 8, cond_hidden: 4}, unet: {channels: 4, multipliers: [1], time_embed: 8}}
sample:
  prior: {n: 2, sampler: ddim, steps: 3}
  dps: {images: 2, steps: 3, zeta: 2}
evaluate: {metrics: [metric.psnr, metric.ssim, metric.fid_mnist_classifier, metric.kid_mnist_classifier]}
`

// tableOf writes the table of the run folders dirs and returns its table.md.
func tableOf(t *testing.T, dirs []string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "table")
	if err := WriteTable(context.Background(), dirs, out, nil); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(out, TableMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	return string(md)
}

// tinyMethodRuns runs tinyMethodBase once per method (only method: changed) into folders of
// one temporary folder, named after the methods, and returns them.
func tinyMethodRuns(t *testing.T, methods ...string) []string {
	t.Helper()
	return methodRuns(t, func(string) string { return tinyMethodBase }, methods...)
}

// methodRuns runs the pipeline pipeline(m) + "method: m" once per method m into folders of
// one temporary folder, named after the methods, and returns them.
func methodRuns(t *testing.T, pipeline func(method string) string, methods ...string) []string {
	t.Helper()
	tmp := t.TempDir()
	var dirs []string
	for _, m := range methods {
		p, err := Parse(m+".yaml", []byte(pipeline(m)+"method: "+m+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(tmp, m)
		if _, err := Execute(context.Background(), p, Options{Out: dir}); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		dirs = append(dirs, dir)
	}
	return dirs
}

// TestTableDPSWithBM3DFirst tables bm3d (no DPS) with naive (DPS of the first 2 of 4 test
// images): bm3d comes first in the table's order, and the DPS table still has its observations
// row (from naive's scores of the same images) and naive's row. The prior table compares the
// prior samples with the observations and states the digit shares; the time table states the
// day the runs finished and their peak memory.
func TestTableDPSWithBM3DFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny U-Net")
	}
	md := tableOf(t, tinyMethodRuns(t, "naive", "bm3d"))
	i := strings.Index(md, "## DPS restorations")
	if i < 0 {
		t.Fatalf("table.md has no DPS table:\n%s", md)
	}
	dps := md[i+1:]
	dps = dps[:strings.Index(dps, "\n## ")]
	for _, want := range []string{"| observations | y |", "| naive | DPS sample |"} {
		if !strings.Contains(dps, want) {
			t.Errorf("the DPS table lacks %q:\n%s", want, dps)
		}
	}
	if strings.Contains(dps, "| bm3d |") {
		t.Errorf("the DPS table has a row for bm3d, which has no DPS:\n%s", dps)
	}
	for _, want := range []string{"| method | FID ↓ | KID ↓ | samples | digits ↑ |", "| observations | ", "| clean test images | – | – | 4 | ",
		"| method | train stage | peak memory | finished | machine | run folder |", time.Now().UTC().Format(time.DateOnly),
		"Methods without a run in this comparison (not measured here): ambient_diffusion, ambientflow, clean_prior, flowdiff, sure_score."} {
		if !strings.Contains(md, want) {
			t.Errorf("table.md lacks %q:\n%s", want, md)
		}
	}
}

// TestResultsIncludeKeptBaselines keeps two finished runs with scripts/keep-run.sh (no
// checkpoints, no training data) and writes the results page with them as --baselines: the
// kept folders suffice for the table, which is written next to the page and included in it
// with its image links re-rooted.
func TestResultsIncludeKeptBaselines(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny U-Net")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	dirs := tinyMethodRuns(t, "naive", "bm3d")
	kept := filepath.Join(t.TempDir(), "kept")
	for _, d := range dirs {
		cmd := exec.Command("sh", filepath.Join("..", "scripts", "keep-run.sh"), d, filepath.Join(kept, filepath.Base(d)))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("keep-run.sh %s: %v\n%s", d, err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(kept, "naive", "train", "checkpoints")); !os.IsNotExist(err) {
		t.Errorf("the kept run has checkpoints (err %v)", err)
	}
	if _, err := os.Stat(filepath.Join(kept, "naive", "corrupted", "train")); !os.IsNotExist(err) {
		t.Errorf("the kept run has the training data (err %v)", err)
	}
	// A run whose evaluate stage has not run (metrics.json is written from the first stages on)
	// is refused, or left with --if-finished.
	unfinished := t.TempDir()
	for _, f := range []string{PipelineFileName, MetricsFileName} {
		if err := os.WriteFile(filepath.Join(unfinished, f), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(unfinished, StateFileName), []byte(`{"stages": {"data": {"done": true}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sh", filepath.Join("..", "scripts", "keep-run.sh"), unfinished, filepath.Join(kept, "x")).CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "not a finished run folder") {
		t.Errorf("keep-run.sh of an unfinished run: err %v, output %s", err, out)
	}
	if out, err := exec.Command("sh", filepath.Join("..", "scripts", "keep-run.sh"), "--if-finished", unfinished, filepath.Join(kept, "x")).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "not kept") {
		t.Errorf("keep-run.sh --if-finished of an unfinished run: err %v, output %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(kept, "x")); !os.IsNotExist(err) {
		t.Errorf("an unfinished run was kept (err %v)", err)
	}
	suite := filepath.Join(t.TempDir(), "paper-cpu")
	if err := os.MkdirAll(suite, 0o755); err != nil {
		t.Fatal(err)
	}
	docs := t.TempDir()
	out := filepath.Join(docs, "results.md")
	if err := WriteResults(context.Background(), []string{suite}, kept, out); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	page := string(data)
	for _, want := range []string{"## Methods compared: mnist, noise.gaussian sigma=0.2", "### DPS restorations", "| naive | DPS sample |",
		"| bm3d | BM3D estimate |", "](baselines-tbl/restorations.png)"} {
		if !strings.Contains(page, want) {
			t.Errorf("results.md lacks %q:\n%s", want, page)
		}
	}
	for _, f := range []string{TableMarkdown, TableCSV, TableHTML, TableGrid} {
		if _, err := os.Stat(filepath.Join(docs, "baselines-tbl", f)); err != nil {
			t.Errorf("the table folder next to results.md: %v", err)
		}
	}
	if err := WriteResults(context.Background(), []string{suite}, t.TempDir(), out); err == nil || !strings.Contains(err.Error(), "holds no run folder") {
		t.Errorf("--baselines of an empty folder: %v", err)
	}
}
