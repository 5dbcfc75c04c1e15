package pipelines

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/corrupt"
	"github.com/flowdiff/flowdiff-go/core/report"
)

// Report files in the run folder.
const (
	ReportMarkdown = "report.md"
	ReportHTML     = "report.html"
)

// estimateLabels name the estimates in report tables, in the paper's words.
var estimateLabels = map[string]string{
	"input":            "observations",
	"posterior_mean":   "flow posterior mean",
	"posterior_sample": "flow posterior sample",
	"dps":              "DPS (diffusion prior)",
	"prior":            "prior samples",
}

// tableMetrics are the metric columns of the main table, in order; others follow sorted.
var tableMetrics = []string{"psnr", "ssim", "lpips", "fid_mnist_classifier", "kid_mnist_classifier"}

// lowerIsBetter marks the built-in metric columns where lower values are better, for
// metrics.json files written before they recorded each metric's direction.
var lowerIsBetter = map[string]bool{"lpips": true, "fid_mnist_classifier": true, "kid_mnist_classifier": true}

// WriteReport writes report.md and report.html into the run folder dir from what the run left
// there: metrics.json, the test images (corrupted/test), the flow posterior (train/*.npy), the
// samples (sample/*.npy) and the training curve (train/losses.png). It draws grid.png and
// prior.png. It reads files only, so `flowdiff report RUN_DIR` can rebuild the report of any
// finished or interrupted run; parts whose files are missing are left out.
func WriteReport(ctx context.Context, dir string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p, err := Load(filepath.Join(dir, PipelineFileName))
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	m, err := loadMetrics(filepath.Join(dir, MetricsFileName), p, "")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	grid := 8
	if p.Report != nil {
		grid = p.Report.Grid
	}
	var page report.Page
	page.Title = p.Name
	page.P("Run folder: `%s` · backend: `%s` · seed: %d", dir, m.Backend, p.Seed)
	labels := estimateLabels
	if meth, err := LookupMethod(p.Method); err == nil {
		page.P("Method: `%s`: %s.", meth.Name(), meth.Summary())
		if meth.UsesCleanData() {
			page.P("**This method trains on the clean images**: an oracle to compare with, not a method for corrupted data.")
		}
		labels = methodLabels(meth)
	}
	metricsSection(&page, m, labels)
	calibrationSection(&page, m)
	residualSection(&page, m)
	if err := imageSections(&page, dir, grid, labels, log); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, trainDir, "losses.png")); err == nil {
		page.H2("Training")
		page.P("Per-pixel losses by step (`%s/losses.csv` has every value).", trainDir)
		page.Image(trainDir+"/losses.png", "training losses")
	}
	page.H2("Time")
	var rows [][]string
	for _, s := range stageOrder {
		if t, ok := m.Timings[s]; ok {
			rows = append(rows, []string{s, fmt.Sprintf("%.1f", t)})
		}
	}
	page.Table([]string{"stage", "seconds"}, rows)
	if len(m.Notes) > 0 {
		page.H2("Notes")
		var notes [][]string
		for _, k := range sortedNames(m.Notes) {
			notes = append(notes, []string{k, m.Notes[k]})
		}
		page.Table([]string{"figure", "note"}, notes)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ReportMarkdown), []byte(page.Markdown()), 0o644); err != nil {
		return err
	}
	h, err := page.HTML(dir)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ReportHTML), []byte(h), 0o644); err != nil {
		return err
	}
	log.Info("report written", "markdown", filepath.Join(dir, ReportMarkdown), "html", filepath.Join(dir, ReportHTML))
	return ctx.Err()
}

// methodLabels is estimateLabels with the method's name for its amortized restoration.
func methodLabels(meth Method) map[string]string {
	out := make(map[string]string, len(estimateLabels))
	for k, v := range estimateLabels {
		out[k] = v
	}
	if a := meth.Amortized(); a != "" {
		out["posterior_mean"] = a
	}
	return out
}

// metricsSection is the paper-style table: one row per estimate, one column per metric, rows
// named by labels.
func metricsSection(page *report.Page, m *MetricsFile, labels map[string]string) {
	rows, cols := map[string]bool{}, map[string]bool{}
	for name := range m.Metrics {
		// Estimates have no dots; metric names may (a plugin's "pyexample.mae").
		i := strings.LastIndex(name, ".")
		metric, est, ok := name[:max(i, 0)], name[i+1:], i > 0
		if !ok || metric == "calibration" {
			continue
		}
		rows[est], cols[metric] = true, true
	}
	if len(rows) == 0 {
		return
	}
	var colOrder []string
	for _, c := range tableMetrics {
		if cols[c] {
			colOrder = append(colOrder, c)
			delete(cols, c)
		}
	}
	colOrder = append(colOrder, sortedNames(cols)...)
	header := []string{"estimate"}
	for _, c := range colOrder {
		arrow := "↑"
		if hib, ok := m.HigherIsBetter[c]; (ok && !hib) || (!ok && lowerIsBetter[c]) {
			arrow = "↓"
		}
		header = append(header, c+" "+arrow)
	}
	var table [][]string
	for _, est := range reportRowOrder(orderedEstimates(rows)) {
		label := labels[est]
		if label == "" {
			label = est
			if n, ok := strings.CutPrefix(est, "input_first"); ok {
				label = "observations, first " + n
			}
		}
		row := []string{label}
		for _, c := range colOrder {
			name := c + "." + est
			v, ok := m.Metrics[name]
			switch {
			case !ok:
				row = append(row, "–")
			case m.StdErr[name] == 0: // a set metric, or one image
				row = append(row, fmt.Sprintf("%.4g", v))
			default:
				row = append(row, fmt.Sprintf("%.4g ± %.2g", v, m.StdErr[name]))
			}
		}
		table = append(table, append(row, countNote(m, est, colOrder)))
	}
	page.H2("Metrics on the test images")
	page.P("Mean ± standard error over the test images for per-image metrics; FID and KID compare each set with the clean " +
		"training images (one value per set, on the project's MNIST classifier features: not comparable with Inception FIDs; " +
		"their small-set bias differs with set size, so compare rows of equal image counts). " +
		"↑ higher is better, ↓ lower is better. `metrics.json` holds every figure.")
	page.Table(append(header, "images"), table)
}

// reportRowOrder moves the "input_first<n>" rows (the observations scored on the images DPS
// restored) just before the dps row they are to be compared with.
func reportRowOrder(names []string) []string {
	var subset, rest []string
	for _, n := range names {
		if strings.HasPrefix(n, "input_first") {
			subset = append(subset, n)
		} else {
			rest = append(rest, n)
		}
	}
	out := make([]string, 0, len(names))
	for _, n := range rest {
		if n == "dps" {
			out = append(out, subset...)
			subset = nil
		}
		out = append(out, n)
	}
	return append(out, subset...)
}

// countNote is the number of images behind a row's per-image figures.
func countNote(m *MetricsFile, est string, cols []string) string {
	for _, c := range cols {
		if n, ok := m.Count[c+"."+est]; ok && m.StdErr[c+"."+est] != 0 {
			return fmt.Sprint(n)
		}
	}
	for _, c := range cols {
		if n, ok := m.Count[c+"."+est]; ok {
			return fmt.Sprint(n)
		}
	}
	return "–"
}

// calibrationSection reports the coverage of the flow posterior's per-pixel intervals.
func calibrationSection(page *report.Page, m *MetricsFile) {
	var rows [][]string
	for _, name := range sortedNames(m.Metrics) {
		if lvl, ok := strings.CutPrefix(name, "calibration.coverage"); ok {
			rows = append(rows, []string{lvl + "%", fmt.Sprintf("%.3f", m.Metrics[name])})
		}
	}
	if len(rows) == 0 {
		return
	}
	sort.Slice(rows, func(i, j int) bool {
		return len(rows[i][0]) < len(rows[j][0]) || (len(rows[i][0]) == len(rows[j][0]) && rows[i][0] < rows[j][0])
	})
	page.H2("Calibration of the flow posterior")
	z2 := "–"
	if v, ok := m.Metrics["calibration.mean_z2"]; ok {
		z2 = fmt.Sprintf("%.3g", v)
	}
	page.P("How often the true pixel lies inside the flow posterior's central interval mean ± z·std (Gaussian, from the "+
		"posterior samples per observation), over every pixel of the test images. A calibrated posterior covers the nominal "+
		"fraction; less means overconfident. Mean squared z-score: %s (1 when calibrated).", z2)
	page.Table([]string{"nominal", "empirical coverage"}, rows)
}

// imageSections draws grid.png (truth, observation, posterior mean, std, sample, DPS) and
// prior.png from the run folder's arrays and adds them to the page. Without clean test images
// (observations without references) the grid starts with the observations.
func imageSections(page *report.Page, dir string, n int, names map[string]string, log *slog.Logger) error {
	var rows []report.Row
	var labels []string
	truth, err := corrupt.ReadClean(filepath.Join(dir, testStore))
	set, serr := corrupt.Read(filepath.Join(dir, testStore))
	switch {
	case err == nil:
		n = min(n, truth.N)
		rows, labels = append(rows, report.Row{Label: "truth", Images: truth.Slice(0, n)}), append(labels, "truth")
		if serr == nil && set.Observations.ImageSize() == truth.ImageSize() {
			rows, labels = append(rows, report.Row{Label: "observation", Images: set.Observations.Slice(0, n)}), append(labels, "observation")
		}
	case serr == nil:
		n = min(n, set.Observations.N)
		rows, labels = append(rows, report.Row{Label: "observation", Images: set.Observations.Slice(0, n)}), append(labels, "observation")
	default:
		log.Info("report: no test images; image grid left out", "reason", err)
	}
	if len(rows) > 0 {
		size := rows[0].Images.ImageSize()
		peak := float32(0)
		for _, f := range []struct{ file, label string }{
			{trainDir + "/posterior_mean.npy", names["posterior_mean"]},
			{trainDir + "/posterior_std.npy", "flow posterior std"},
			{trainDir + "/posterior_sample.npy", "flow posterior sample"},
			{sampleDir + "/dps.npy", "DPS sample"},
		} {
			b, err := readBatch(filepath.Join(dir, f.file))
			if err != nil || b.ImageSize() != size {
				continue
			}
			b = b.Slice(0, min(n, b.N))
			if strings.HasSuffix(f.label, "std") {
				b, peak = scaleToPeak(b)
			}
			rows, labels = append(rows, report.Row{Label: f.label, Images: b}), append(labels, f.label)
		}
		if err := report.WriteGridPNG(filepath.Join(dir, "grid.png"), rows, n); err != nil {
			return err
		}
		page.H2("Images")
		note := ""
		if peak > 0 {
			note = fmt.Sprintf(" The std row is scaled so that white is %.3g.", peak)
		}
		page.P("Rows, top to bottom: %s; the first %d test images.%s", strings.Join(labels, ", "), n, note)
		page.Image("grid.png", "truth, observation and restorations")
	}
	prior, err := readBatch(filepath.Join(dir, sampleDir, "prior.npy"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var priorRows []report.Row
	for from := 0; from < prior.N; from += 8 {
		priorRows = append(priorRows, report.Row{Label: "prior", Images: prior.Slice(from, min(prior.N, from+8))})
	}
	if err := report.WriteGridPNG(filepath.Join(dir, "prior.png"), priorRows, min(8, prior.N)); err != nil {
		return err
	}
	page.H2("Samples from the learned prior")
	page.P("%d unconditional samples of the diffusion model (EMA weights); settings in `pipeline.yaml` (sample.prior).", prior.N)
	page.Image("prior.png", "prior samples")
	return nil
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// residualSection reports the whitened residuals' statistics per restoration.
func residualSection(page *report.Page, m *MetricsFile) {
	if len(m.Residual) == 0 {
		return
	}
	var rows [][]string
	for _, est := range orderedEstimates(m.Residual) {
		s := m.Residual[est]
		rows = append(rows, []string{est, fmt.Sprintf("%.3f", s.Mean), fmt.Sprintf("%.3f", s.Variance),
			fmt.Sprintf("%.3f", s.Lag1), fmt.Sprintf("%.3f", s.Flatness)})
	}
	page.H2("Residuals (no reference needed)")
	page.P("The whitened residual r = (y − A(x̂)) / σ of each restoration x̂, σ² the noise model's variance at A(x̂), " +
		"averaged over the test images. A restoration that explains the data and no more leaves white noise: mean 0, " +
		"variance 1, lag-1 correlation 0 and a flat spectrum (flatness near 1; below 1 by sampling spread alone on small " +
		"images: about 0.8-0.96 at 28x28). Variance above 1 or structure in r (correlation, low flatness) means signal was " +
		"removed; variance below 1 means the noise was fitted.")
	page.Table([]string{"estimate", "mean", "variance", "lag-1", "flatness"}, rows)
}
