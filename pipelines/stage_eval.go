package pipelines

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/metrics"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/registry"
)

// estimateOrder is the order estimates appear in tables.
var estimateOrder = []string{"input", "posterior_mean", "posterior_sample", "dps", "prior"}

// runEvaluate scores every estimate of the clean test images with every per-image metric, as
// "<metric>.<estimate>" (for example psnr.input) in metrics.json; an estimate of only the first
// n test images (dps) is scored against those n, and the input is then also scored on them as
// "<metric>.input_first<n>" so the two compare on the same images. Set metrics (FID, KID)
// compare each estimate, and the prior samples, as a set with a reference set of clean images
// ("fid_mnist_classifier.prior"): the clean training images (whose observations, never
// themselves, trained the models) rather than the test images, because a restoration paired
// with its own truth biases both distances (KID's cross term then holds the matched pairs that
// its within-set terms leave out, which drives it below 0). With a flow posterior, its calibration is recorded as
// calibration.coverage50/90/95 and calibration.mean_z2.
func runEvaluate(ctx context.Context, r *Run) error {
	specs := r.P.Evaluate.Metrics
	if len(specs) == 0 {
		for _, id := range registry.Default.IDs(registry.KindMetric) {
			specs = append(specs, registry.Spec{ID: id})
		}
	}
	if r.Data.Test == nil && r.Data.observed != nil {
		// Observations without references: nothing clean to compare with. The residual
		// diagnostics need none.
		for _, s := range specs {
			r.metrics.Notes[strings.TrimPrefix(s.ID, "metric.")] = "skipped: no clean references (data.reference_path); the residual diagnostics judge the restorations without them"
		}
		r.Log.Warn("no clean references: metrics that compare with a clean image are skipped; residual diagnostics only")
		return r.recordResiduals(ctx)
	}
	if r.Data.Test == nil {
		return fmt.Errorf("evaluate needs a data section: there are no clean test images to compare with")
	}
	if len(r.Data.Estimates) == 0 {
		r.Log.Warn("nothing to evaluate: no estimates of the test images (add corruption, or a train stage)")
	}
	ref := r.Data.Test.Images
	for i := range specs {
		s := &specs[i] // the pipeline's own item: Run.Part built it when the run started
		v, err := r.buildMetric(ctx, s)
		short := strings.TrimPrefix(s.ID, "metric.")
		if errors.Is(err, metrics.ErrUnavailable) {
			r.metrics.Notes[short] = "unavailable: " + err.Error()
			r.Log.Warn("metric unavailable; skipped", "metric", s.ID, "reason", err)
			continue
		}
		if err != nil {
			return err
		}
		switch m := v.(type) {
		case part.Metric:
			r.metrics.HigherIsBetter[short] = m.HigherIsBetter()
			err = r.scoreImages(ctx, short, m, ref)
		case part.SetMetric:
			r.metrics.HigherIsBetter[short] = m.HigherIsBetter()
			err = r.scoreSets(ctx, short, m, r.setReference())
		}
		if err != nil {
			return err
		}
	}
	if err := r.recordResiduals(ctx); err != nil {
		return err
	}
	r.recordPriorChecks()
	r.recordDigitShares()
	return r.recordCalibration()
}

// scoreImages records a per-image metric for every estimate.
func (r *Run) scoreImages(ctx context.Context, short string, m part.Metric, ref *batch.Batch) error {
	score := func(name string, truth, img *batch.Batch) error {
		vals, err := m.Compute(ctx, truth, img)
		if err != nil {
			return fmt.Errorf("metric.%s on %s: %w", short, name, err)
		}
		sum := metrics.Summarize(vals)
		r.metrics.Set(short+"."+name, sum.Mean, sum.StdErr, sum.N)
		r.Log.Info("metric", "name", short+"."+name, "mean", sum.Mean, "stderr", sum.StdErr, "n", sum.N)
		return nil
	}
	for _, est := range orderedEstimates(r.Data.Estimates) {
		img := r.Data.Estimates[est]
		if img.H != ref.H || img.W != ref.W || img.C != ref.C || img.N > ref.N {
			r.Log.Info("estimate not comparable with clean images; skipped", "estimate", est,
				"shape", img.Shape.String(), "clean", ref.Shape.String())
			continue
		}
		if err := score(est, ref.Slice(0, img.N), img); err != nil {
			return err
		}
		if in := r.Data.Estimates["input"]; img.N < ref.N && in != nil && in.Shape == ref.Shape {
			if err := score(fmt.Sprintf("input_first%d", img.N), ref.Slice(0, img.N), in.Slice(0, img.N)); err != nil {
				return err
			}
		}
	}
	return nil
}

// setReference is the reference set of the set metrics: the clean test images with
// evaluate.set_reference: test; else the clean training images when they have the test
// images' shape, else the clean test images.
func (r *Run) setReference() *batch.Batch {
	if r.P.Evaluate != nil && r.P.Evaluate.SetReference == "test" {
		return r.Data.Test.Images
	}
	if tr := r.Data.Train; tr != nil && tr.Images.ImageSize() == r.Data.Test.Images.ImageSize() {
		return tr.Images
	}
	return r.Data.Test.Images
}

// scoreSets records a set metric for every estimate and the prior samples, each against the
// reference set. A set the metric cannot read is noted as unavailable, not scored.
func (r *Run) scoreSets(ctx context.Context, short string, m part.SetMetric, ref *batch.Batch) error {
	sets := map[string]*batch.Batch{}
	for name, b := range r.Data.Estimates {
		sets[name] = b
	}
	if r.Data.Prior != nil {
		sets["prior"] = r.Data.Prior
	}
	for _, name := range orderedEstimates(sets) {
		v, err := m.CompareSets(ctx, ref, sets[name])
		if errors.Is(err, metrics.ErrUnavailable) {
			r.metrics.Notes[short+"."+name] = "unavailable: " + err.Error()
			r.Log.Info("set metric unavailable", "name", short+"."+name, "reason", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("metric.%s on %s: %w", short, name, err)
		}
		r.metrics.Set(short+"."+name, v, 0, sets[name].N)
		r.Log.Info("metric", "name", short+"."+name, "value", v, "n", sets[name].N)
	}
	return nil
}

// recordDigitShares records, for every image set the MNIST classifier reads (the estimates,
// the prior samples and the clean test images as "clean"), the share it reads as a digit with
// confidence >= 0.9 (metrics.DigitShare) as digit_share_mnist_classifier.<set>. Other images
// record nothing.
func (r *Run) recordDigitShares() {
	const short = "digit_share_mnist_classifier"
	sets := map[string]*batch.Batch{"clean": r.Data.Test.Images}
	for name, b := range r.Data.Estimates {
		sets[name] = b
	}
	if r.Data.Prior != nil {
		sets["prior"] = r.Data.Prior
	}
	for _, name := range orderedEstimates(sets) {
		v, err := metrics.DigitShare(sets[name])
		if err != nil {
			continue // not 28x28 grayscale: the classifier does not apply
		}
		r.metrics.HigherIsBetter[short] = true
		r.metrics.Set(short+"."+name, v, 0, sets[name].N)
	}
}

// recordCalibration records how often the truth lies inside the flow posterior's per-pixel
// Gaussian intervals mean ± z·std (metrics.Calibrate).
func (r *Run) recordCalibration() error {
	mean, std := r.Data.Estimates["posterior_mean"], r.Data.PosteriorStd
	if mean == nil || std == nil || mean.Shape != r.Data.Test.Images.Shape {
		return nil
	}
	c, err := metrics.Calibrate(r.Data.Test.Images, mean, std, nil)
	if err != nil {
		return err
	}
	for i, p := range c.Levels {
		r.metrics.Set(fmt.Sprintf("calibration.coverage%d", int(math.Round(100*p))), c.Coverage[i], 0, c.Pixels)
	}
	r.metrics.Set("calibration.mean_z2", c.MeanZ2, 0, c.Pixels-c.Degenerate)
	r.Log.Info("posterior calibration", "levels", c.Levels, "coverage", c.Coverage, "mean_z2", c.MeanZ2)
	return nil
}

func (r *Run) buildMetric(ctx context.Context, s *registry.Spec) (any, error) {
	if s.Entry.New == nil { // a default spec made above, not decoded from YAML
		v, err := metrics.Open(ctx, s.ID)
		if c, ok := v.(io.Closer); ok && err == nil {
			r.closeAtEnd(s.ID, c.Close)
		}
		return v, err
	}
	v, err := r.Part(ctx, s)
	if err != nil {
		return nil, err
	}
	switch v.(type) {
	case part.Metric, part.SetMetric:
		return v, nil
	}
	return nil, fmt.Errorf("%s: not a metric (%T)", s.ID, v)
}

// orderedEstimates lists m's names in estimateOrder, then the others sorted.
func orderedEstimates[V any](m map[string]V) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range estimateOrder {
		if _, ok := m[e]; ok {
			out, seen[e] = append(out, e), true
		}
	}
	for _, e := range sortedNames(m) {
		if !seen[e] {
			out = append(out, e)
		}
	}
	return out
}

// runReport writes report.md and report.html (see WriteReport).
func runReport(ctx context.Context, r *Run) error {
	if err := r.writeMetrics(); err != nil { // the report reads metrics.json
		return err
	}
	return WriteReport(ctx, r.Dir, r.Log)
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
