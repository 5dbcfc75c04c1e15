package pipelines

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/metrics"
	"github.com/flowdiff/flowdiff-go/core/report"
	"github.com/flowdiff/flowdiff-go/registry"
)

// estimateOrder is the order estimates appear in tables.
var estimateOrder = []string{"input", "posterior_mean", "posterior_sample", "dps"}

// runEvaluate scores every estimate of the clean test images with every metric, as
// "<metric>.<estimate>" (for example psnr.input) in metrics.json.
func runEvaluate(ctx context.Context, r *Run) error {
	if r.Data.Test == nil {
		return fmt.Errorf("evaluate needs a data section: there are no clean test images to compare with")
	}
	specs := r.P.Evaluate.Metrics
	if len(specs) == 0 {
		for _, id := range registry.Default.IDs(registry.KindMetric) {
			specs = append(specs, registry.Spec{ID: id})
		}
	}
	if len(r.Data.Estimates) == 0 {
		r.Log.Warn("nothing to evaluate: no estimates of the test images (add corruption, or a train stage)")
	}
	ref := r.Data.Test.Images
	for _, s := range specs {
		m, err := buildMetric(s)
		if errors.Is(err, metrics.ErrUnavailable) {
			r.metrics.Notes[strings.TrimPrefix(s.ID, "metric.")] = "unavailable: " + err.Error()
			r.Log.Warn("metric unavailable; skipped", "metric", s.ID, "reason", err)
			continue
		}
		if err != nil {
			return err
		}
		short := strings.TrimPrefix(s.ID, "metric.")
		for _, est := range orderedEstimates(r.Data.Estimates) {
			img := r.Data.Estimates[est]
			if img.Shape != ref.Shape {
				r.Log.Info("estimate not comparable with clean images; skipped", "estimate", est,
					"shape", img.Shape.String(), "clean", ref.Shape.String())
				continue
			}
			vals, err := m.Compute(ctx, ref, img)
			if err != nil {
				return fmt.Errorf("%s on %s: %w", s.ID, est, err)
			}
			sum := metrics.Summarize(vals)
			r.metrics.Set(short+"."+est, sum.Mean, sum.StdErr, sum.N)
			r.Log.Info("metric", "name", short+"."+est, "mean", sum.Mean, "stderr", sum.StdErr)
		}
	}
	return nil
}

func buildMetric(s registry.Spec) (metrics.Metric, error) {
	if s.Entry.New == nil { // a default spec made above, not decoded from YAML
		return metrics.Build(s.ID)
	}
	v, err := s.Build()
	if err != nil {
		return nil, err
	}
	m, ok := v.(metrics.Metric)
	if !ok {
		return nil, fmt.Errorf("%s: not a metric (%T)", s.ID, v)
	}
	return m, nil
}

func orderedEstimates(m map[string]*batch.Batch) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range estimateOrder {
		if _, ok := m[e]; ok {
			out, seen[e] = append(out, e), true
		}
	}
	for e := range m {
		if !seen[e] {
			out = append(out, e)
		}
	}
	return out
}

// runReport writes report.md and the image grids from what the run produced.
func runReport(ctx context.Context, r *Run) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\nRun folder: `%s` · backend: `%s` · seed: %d\n\n", r.P.Name, r.Dir, r.metrics.Backend, r.P.Seed)
	if len(r.metrics.Metrics) > 0 {
		tab := report.TableFromFlat(r.metrics.Metrics, r.metrics.StdErr, estimateOrder)
		fmt.Fprintf(&b, "## Metrics on the test images\n\nMean ± standard error over %d test images.\n\n%s\n",
			r.Data.Test.Len(), tab.Markdown())
	}
	if r.Data.Test != nil {
		rows := []report.Row{{Label: "truth", Images: r.Data.Test.Images}}
		for _, est := range orderedEstimates(r.Data.Estimates) {
			rows = append(rows, report.Row{Label: est, Images: r.Data.Estimates[est]})
		}
		stdNote := ""
		if sd := r.Data.PosteriorStd; sd != nil {
			scaled, peak := scaleToPeak(sd)
			rows = append(rows, report.Row{Label: "posterior_std", Images: scaled})
			stdNote = fmt.Sprintf(" The posterior_std row is scaled so that white is %.3g.", peak)
		}
		n := min(r.P.Report.Grid, r.Data.Test.Len())
		if err := report.WriteGridPNG(r.Path("grid.png"), rows, n); err != nil {
			return err
		}
		labels := make([]string, len(rows))
		for i, row := range rows {
			labels[i] = row.Label
		}
		fmt.Fprintf(&b, "## Images\n\nRows, top to bottom: %s; the first %d test images.%s\n\n![grid](grid.png)\n\n",
			strings.Join(labels, ", "), n, stdNote)
	}
	if _, err := os.Stat(r.Path(trainDir, "losses.png")); err == nil {
		fmt.Fprintf(&b, "## Training\n\nPer-pixel losses by step (`%s/%s` has every value).\n\n![losses](%s/losses.png)\n\n",
			trainDir, "losses.csv", trainDir)
	}
	fmt.Fprintf(&b, "## Time\n\n| stage | seconds |\n|---|---|\n")
	for _, s := range stageOrder {
		if t, ok := r.metrics.Timings[s]; ok {
			fmt.Fprintf(&b, "| %s | %.1f |\n", s, t)
		}
	}
	if err := atomicfile.WriteFile(r.Path("report.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	r.Log.Info("report written", "path", r.Path("report.md"))
	return ctx.Err()
}

// scaleToPeak returns a copy of b divided by its maximum (for display) and that maximum.
func scaleToPeak(b *batch.Batch) (*batch.Batch, float32) {
	peak := float32(0)
	for _, v := range b.Data {
		peak = max(peak, v)
	}
	out := b.Clone()
	if peak > 0 {
		for i := range out.Data {
			out.Data[i] /= peak
		}
	}
	return out, peak
}
