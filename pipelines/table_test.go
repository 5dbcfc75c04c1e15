package pipelines

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCorruptionKey checks the one-line description of a corruption list that keys the
// paper's figures: items in order with every parameter, defaults filled in.
func TestCorruptionKey(t *testing.T) {
	p, err := Parse("p.yaml", []byte("version: 1\ncorruption:\n  - op: blur.gaussian\n    sigma: 1.5\n  - op: noise.gaussian\n    sigma: 0.2\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := corruptionKey(p.Corruption)
	if got != "blur.gaussian size=33 sigma=1.5 -> noise.gaussian sigma=0.2" { // the kernel size 33 is blur.gaussian's default
		t.Errorf("corruptionKey = %q", got)
	}
	p, _ = Parse("p.yaml", []byte("version: 1\ncorruption:\n  - op: noise.gaussian\n    sigma: 0.2\n"))
	if got := corruptionKey(p.Corruption); got != "noise.gaussian sigma=0.2" {
		t.Errorf("corruptionKey = %q, want the key of the paper's MNIST figures", got)
	}
	if f, ok := lookupPaper("mnist", "noise.gaussian sigma=0.2", "amortized", DefaultMethod, "psnr"); !ok || f.Value != 20.73 {
		t.Errorf("the paper's MNIST figure: %+v, %v", f, ok)
	}
}

// TestFairnessNamesDifferences checks that the table says which settings break its fairness
// rule, and in which runs, and says nothing for runs that meet it.
func TestFairnessNamesDifferences(t *testing.T) {
	parse := func(steps, method string) *Pipeline {
		text := methodPipeline(gaussianItem, "method: "+method+"\n")
		if steps != "" {
			text = strings.Replace(text, "steps: 2", "steps: "+steps, 1)
		}
		p, err := Parse("p.yaml", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	same := []*tableRun{{Name: "a", P: parse("", "flowdiff")}, {Name: "b", P: parse("", "naive")}}
	if _, differ := fairness(same); len(differ) != 0 {
		t.Errorf("runs that differ only in method: %v", differ)
	}
	other := []*tableRun{{Name: "a", P: parse("", "flowdiff")}, {Name: "b", P: parse("30", "naive")}}
	_, differ := fairness(other)
	if len(differ) != 1 || !strings.Contains(differ[0], "train.steps differs: 2 in a; 30 in b") {
		t.Errorf("train.steps 2 vs 30: %v", differ)
	}
}

// TestTableNeedsTheSameObservations runs the small pipeline (no training) with two seeds: the
// table of two runs of one seed is written (markdown, CSV, HTML), and runs of different seeds,
// hence different observations, are refused with a message saying why.
func TestTableNeedsTheSameObservations(t *testing.T) {
	run := func(seed string) string {
		p, err := Parse("small.yaml", []byte(strings.Replace(smallPipeline, "seed: 3", "seed: "+seed, 1)))
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "run")
		if _, err := Execute(context.Background(), p, Options{Out: dir}); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	a, b, c := run("3"), run("3"), run("4")
	out := filepath.Join(t.TempDir(), "table")
	if err := WriteTable(context.Background(), []string{a, b}, out, nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{TableMarkdown, TableCSV, TableHTML} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("table output lacks %s", f)
		}
	}
	err := WriteTable(context.Background(), []string{a, c}, filepath.Join(t.TempDir(), "t2"), nil)
	if err == nil || !strings.Contains(err.Error(), "same test observations") {
		t.Errorf("runs of other observations: err = %v", err)
	}
	if err := WriteTable(context.Background(), []string{t.TempDir()}, out, nil); err == nil || !strings.Contains(err.Error(), "not a run folder") {
		t.Errorf("a folder that is not a run: err = %v", err)
	}
}
