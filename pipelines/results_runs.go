package pipelines

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/metrics"
	"github.com/flowdiff/flowdiff-go/core/report"
)

// priorCheck is the issue #12 test of the learned prior: FID/KID of the prior samples against
// the clean images below those of the observations, and on MNIST the share of prior samples
// the classifier reads with confidence >= 0.9 next to the clean test images' share.
func priorCheck(page *report.Page, all []*suiteRun, base string) {
	page.H2("Is the learned prior clean?")
	page.P("FID and KID of the prior samples and of the observations against the clean images (evaluate's reference set: the " +
		"clean training images), lower is better; a clean prior scores below the observations. MNIST uses the features of " +
		"the project's MNIST classifier (metric.fid_mnist_classifier: a small MLP). CIFAR-10 dogs and tubulin use ImageNet " +
		"features the project already has: the SqueezeNet-1.1 trunk inside the LPIPS weights (metric.fid_squeezenet, the " +
		"spatial mean of its last tap, 512 features). Inception-v3, the network of the published FIDs, is not used: its " +
		"weights are not part of the project and nothing is fetched at run time. Either way the values compare only with " +
		"each other, at equal set sizes, never with published FIDs.")
	var rows [][]string
	for _, s := range all {
		if s.R == nil {
			rows = append(rows, []string{s.Exp, s.Suite, "pending (" + s.Why + ")", "", "", "", "", "", "", ""})
			continue
		}
		m := s.R.M
		feat, label := "fid_mnist_classifier", "MNIST classifier"
		if _, ok := m.Metrics[feat+".prior"]; !ok {
			feat, label = "fid_squeezenet", "SqueezeNet-1.1 (LPIPS trunk)"
		}
		kid := "kid" + strings.TrimPrefix(feat, "fid")
		if _, ok := m.Metrics[feat+".prior"]; !ok {
			if s.R.P.Sample != nil && s.R.P.Sample.Prior.N > 0 {
				rows = append(rows, []string{s.Exp, s.Suite, "–", "not computed (evaluate lists no FID of these images)", "", "", "", "",
					link(base, s.R.Dir, sampleDir, "prior.png"), ""})
			}
			continue
		}
		if feat == "fid_squeezenet" {
			rows = append(rows, []string{s.Exp, s.Suite, label, cell(m, feat+".prior"), cell(m, feat+".input"), cell(m, kid+".prior"),
				cell(m, kid+".input"), strconv.Itoa(m.Count[feat+".prior"]), link(base, s.R.Dir, sampleDir, "prior.png"), "–"})
			continue
		}
		frac, n, ok := confidentFraction(filepath.Join(s.R.Dir, sampleDir, "prior.npy"), false)
		cfrac, cn, cok := confidentFraction(filepath.Join(s.R.Dir, testStore), true)
		share := func(f float64, n int, ok bool) string {
			if !ok {
				return "–"
			}
			return fmt.Sprintf("%.1f%% of %d", 100*f, n)
		}
		rows = append(rows, []string{s.Exp, s.Suite, label, cell(m, feat+".prior"), cell(m, feat+".input"),
			cell(m, kid+".prior"), cell(m, kid+".input"), strconv.Itoa(m.Count[feat+".prior"]),
			link(base, s.R.Dir, sampleDir, "prior.png"), share(frac, n, ok) + " (clean test: " + share(cfrac, cn, cok) + ")"})
	}
	page.Table([]string{"experiment", "suite", "features", "FID prior", "FID observations", "KID prior", "KID observations", "samples", "grid",
		fmt.Sprintf("confidence >= %.1f", metrics.DigitConfidence)}, rows)
}

// runsTable lists where and how long each run trained, and its image grids.
func runsTable(page *report.Page, all []*suiteRun, base string) {
	page.H2("Runs")
	page.P("Machine and backend from train/machine.json; date of the last finished stage; wall time summed over the stages of " +
		"every call (state.json); steps: joint plus model-reset steps; calls: `flowdiff run` invocations (calls.tsv).")
	var rows [][]string
	for _, s := range all {
		if s.R == nil {
			rows = append(rows, []string{s.Exp, s.Suite, "pending (" + s.Why + ")", "", "", "", "", "", ""})
			continue
		}
		r := s.R
		st, _ := loadState(filepath.Join(r.Dir, StateFileName))
		var secs float64
		date := "–"
		if st != nil {
			var last string
			for _, stg := range st.Stages {
				secs += stg.Seconds
				if f := stg.Finished.UTC().Format("2006-01-02 15:04"); f > last {
					last = f
				}
			}
			date = last + " UTC"
		}
		steps := "–"
		if t := r.P.Train; t != nil {
			steps = strconv.Itoa(t.Steps + t.Reset.FlowSteps + t.Reset.DiffusionSteps)
		}
		grids := []string{link(base, r.Dir, "grid.png")}
		for _, g := range []string{"prior.png", "dps.png"} {
			grids = append(grids, link(base, r.Dir, sampleDir, g))
		}
		rows = append(rows, []string{s.Exp, s.Suite, r.P.Name, r.machineText(), date, formatSeconds(secs), steps, strconv.Itoa(s.Calls), strings.Join(grids, " ")})
	}
	page.Table([]string{"experiment", "suite", "pipeline", "machine, backend", "date", "wall time", "steps", "calls", "grids"}, rows)
}

// link is a Markdown link to a file of a run, relative to the page's folder base.
func link(base string, elem ...string) string {
	path := filepath.Join(elem...)
	rel, err := filepath.Rel(base, path)
	if err != nil {
		rel = path
	}
	return fmt.Sprintf("[%s](%s)", filepath.Base(path), filepath.ToSlash(rel))
}
