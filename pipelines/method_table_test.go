package pipelines

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	tmp := t.TempDir()
	var dirs []string
	for _, m := range []string{"bm3d", "ambientflow"} {
		p, err := Parse(m+".yaml", []byte(base+train[m]+"method: "+m+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(tmp, m)
		if _, err := Execute(context.Background(), p, Options{Out: dir}); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		dirs = append(dirs, dir)
	}
	out := filepath.Join(tmp, "table")
	if err := WriteTable(context.Background(), dirs, out, nil); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(out, TableMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| bm3d | BM3D estimate |", "| ambientflow | AmbientFlow posterior mean |", "BM3D's estimate, AmbientFlow's posterior mean"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("table.md lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(string(md), "DPS sample") {
		t.Errorf("table.md has a DPS row for a method without DPS:\n%s", md)
	}
}
